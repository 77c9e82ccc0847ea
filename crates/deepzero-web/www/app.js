// The page: loads the WebAssembly module and a run, predicts on a drawing or a dropped photo.
// window.deepzero exposes the state for scripts (scripts/web_demo_test.sh):
//   deepzero.ready   a promise of the run's summary (rejects with the load error)
//   deepzero.last    the last answer {top, input_shape, source, ms}
//   deepzero.timing  {wasm_bytes, wasm_ms, load_ms}
import init, { Classifier } from "./pkg/deepzero_web.js";

const MAX_FILE_BYTES = 32 << 20; // as deepzero_web::MAX_FILE_BYTES
const TOP_K = 5;
const $ = (id) => document.getElementById(id);

const state = { classifier: null, summary: null, last: null, timing: {} };
window.deepzero = state;

function show(el, text, bad = false) {
  el.textContent = text;
  el.classList.toggle("bad", bad);
}

// A Rust error arrives as an Error with its one-line message; a panic (never expected) as a
// RuntimeError, after which the module is unusable.
function message(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    return `internal error (${e.message}); see the console and reload the page`;
  }
  return e && e.message ? e.message : String(e);
}

const wasmReady = (async () => {
  const t0 = performance.now();
  const response = await fetch(new URL("./pkg/deepzero_web_bg.wasm", import.meta.url));
  if (!response.ok) throw new Error(`cannot fetch the WebAssembly module: HTTP ${response.status} (was it built? see docs/serve.md)`);
  const bytes = await response.arrayBuffer();
  await init({ module_or_path: bytes });
  state.timing.wasm_bytes = bytes.byteLength;
  state.timing.wasm_ms = performance.now() - t0;
})();

// ---- loading a run ----------------------------------------------------------------------

async function fetchBytes(url, optional = false) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`cannot fetch ${url}: ${message(e)}`);
  }
  if (!response.ok) {
    if (optional) return null;
    throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function loadRun(getFiles, where) {
  show($("run-status"), `Loading ${where}…`);
  state.classifier = null;
  try {
    await wasmReady;
    const t0 = performance.now();
    const { runJson, model, sha256 } = await getFiles();
    const classifier = new Classifier(runJson, model, sha256 ?? undefined);
    state.timing.load_ms = performance.now() - t0;
    state.classifier = classifier;
    state.summary = JSON.parse(classifier.summary());
    const s = state.summary;
    const classes = s.class_names.length <= 12 ? s.class_names.join(" ") : `${s.class_names.length} classes`;
    show($("run-status"),
      `${s.recipe} (${s.arch}, input ${s.input_shape.join("×")}; ${classes}) from ${where}` +
      ` — module ${(state.timing.wasm_bytes / 1048576).toFixed(1)} MiB in ${state.timing.wasm_ms.toFixed(0)} ms,` +
      ` run loaded in ${state.timing.load_ms.toFixed(0)} ms${sha256 ? ", checksum verified" : ""}`);
    return s;
  } catch (e) {
    show($("run-status"), `Cannot load the run from ${where}: ${message(e)}`, true);
    throw e;
  }
}

function loadRunFromUrl(base) {
  const root = base.endsWith("/") ? base : base + "/";
  return loadRun(async () => {
    const [runJson, model, sha] = await Promise.all([
      fetchBytes(root + "run.json"),
      fetchBytes(root + "model.bpk"),
      fetchBytes(root + "model.bpk.sha256", true),
    ]);
    return { runJson, model, sha256: sha && new TextDecoder().decode(sha) };
  }, root);
}

function loadRunFromFiles(files) {
  const byName = Object.fromEntries([...files].map((f) => [f.name, f]));
  return loadRun(async () => {
    const modelFile = byName["model.bpk"] ?? [...files].find((f) => f.name.endsWith(".bpk"));
    if (!byName["run.json"] || !modelFile) throw new Error("choose the run's run.json and model.bpk together");
    const sha = [...files].find((f) => f.name.endsWith(".sha256"));
    return {
      runJson: new Uint8Array(await byName["run.json"].arrayBuffer()),
      model: new Uint8Array(await modelFile.arrayBuffer()),
      sha256: sha ? await sha.text() : null,
    };
  }, "the chosen files");
}

// ---- predicting -------------------------------------------------------------------------

function predict(source, call) {
  const result = $("result");
  const error = $("error");
  if (!state.classifier) {
    error.hidden = false;
    show(error, "No run is loaded.", true);
    result.dataset.state = "error";
    return;
  }
  try {
    const t0 = performance.now();
    const answer = JSON.parse(call(state.classifier));
    answer.ms = performance.now() - t0;
    answer.source = source;
    state.last = answer;
    error.hidden = true;
    drawBars(answer.top);
    drawPreview(answer.input_shape, state.classifier.lastInput());
    $("timing").textContent = `${source}: ${answer.ms.toFixed(1)} ms`;
    result.dataset.json = JSON.stringify(answer);
    result.dataset.state = "done";
  } catch (e) {
    state.last = { error: message(e), source };
    error.hidden = false;
    show(error, message(e), true);
    $("bars").replaceChildren();
    result.dataset.json = JSON.stringify(state.last);
    result.dataset.state = "error";
  }
}

function drawBars(top) {
  const items = top.map(({ label, probability }) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = label;
    name.title = label;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
    track.append(fill);
    const p = document.createElement("span");
    p.className = "p";
    p.textContent = `${(probability * 100).toFixed(1)}%`;
    li.append(name, track, p);
    return li;
  });
  $("bars").replaceChildren(...items);
}

function drawPreview([, h, w], rgba) {
  const canvas = $("preview");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
}

async function predictFile(file) {
  if (file.size > MAX_FILE_BYTES) {
    predict(file.name, () => { throw new Error(`${file.name} is ${(file.size / 1048576).toFixed(0)} MiB, over the limit of ${MAX_FILE_BYTES >> 20} MiB`); });
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const view = $("photo-view");
  if (view.src) URL.revokeObjectURL(view.src);
  view.src = URL.createObjectURL(file);
  view.style.display = "block";
  view.onerror = () => { view.style.display = "none"; };
  $("drop-text").textContent = file.name;
  predict(file.name, (c) => c.predictFile(file.name, bytes, TOP_K));
}

// ---- the drawing pad --------------------------------------------------------------------

const pad = $("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
}
clearPad();
let drawing = false;
let drawn = false;
function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * (pad.width / r.width), (e.clientY - r.top) * (pad.height / r.height)];
}
pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  drawn = true;
  pad.setPointerCapture(e.pointerId);
  const [x, y] = point(e);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 20;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  ctx.stroke();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const [x, y] = point(e);
  ctx.lineTo(x, y);
  ctx.stroke();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  predictDrawing();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", () => {
  clearPad();
  drawn = false;
  $("bars").replaceChildren();
});
$("fit").addEventListener("change", () => drawn && predictDrawing());

// The pixels handed to the model: the whole pad, or (as MNIST was made) the drawing's bounding
// box scaled into the middle 20×20 of a 28×28 picture.
function drawingPixels() {
  const { width, height } = pad;
  if (!$("fit").checked) {
    return { data: ctx.getImageData(0, 0, width, height).data, width, height };
  }
  const data = ctx.getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] < 128) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  const out = document.createElement("canvas");
  out.width = out.height = 28;
  const o = out.getContext("2d", { willReadFrequently: true });
  o.fillStyle = "#fff";
  o.fillRect(0, 0, 28, 28);
  if (x1 >= 0) {
    const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
    const scale = 20 / side;
    const [w, h] = [(x1 - x0 + 1) * scale, (y1 - y0 + 1) * scale];
    o.imageSmoothingQuality = "high";
    o.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (28 - w) / 2, (28 - h) / 2, w, h);
  }
  return { data: o.getImageData(0, 0, 28, 28).data, width: 28, height: 28 };
}

function predictDrawing() {
  const { data, width, height } = drawingPixels();
  predict("drawing", (c) => c.predictRgba(new Uint8Array(data.buffer), width, height, TOP_K));
}

// ---- photos -----------------------------------------------------------------------------

$("photo").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) predictFile(file);
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) predictFile(file);
});

// ---- the run ----------------------------------------------------------------------------

$("run-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.ready = loadRunFromUrl($("run-url").value.trim());
  state.ready.catch(() => {});
});
$("run-files").addEventListener("change", (e) => {
  if (e.target.files.length) {
    state.ready = loadRunFromFiles(e.target.files);
    state.ready.catch(() => {});
  }
});
const initial = new URLSearchParams(location.search).get("run");
if (initial) $("run-url").value = initial;
state.ready = loadRunFromUrl($("run-url").value.trim());
state.ready.catch(() => {});
