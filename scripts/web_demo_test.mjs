// Drives headless Chromium through the browser demo (called by scripts/web_demo_test.sh):
//   node web_demo_test.mjs BASE_URL OUT_DIR CHROMIUM CLI_JSON IMAGE...
// Each IMAGE (a file in OUT_DIR/site/images) is dropped on the page through its file input, and
// the page's top-5 is compared with `deepzero predict --json` (CLI_JSON) on the same file.
// Then: a digit drawn on the pad, bad input (no image, a huge image, a damaged model, a run of
// another kind), timings, a screenshot (OUT_DIR/web-demo.png) and a closing "N passed, M failed".
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const [base, out, executable, cliJson, ...images] = process.argv.slice(2);
const cli = JSON.parse(readFileSync(cliJson, "utf8"));
const TOLERANCE = 1e-4;
let passed = 0;
let failed = 0;
function check(ok, what, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? ": " + detail : ""}`);
}

const browser = await chromium.launch({
  executablePath: executable,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1040, height: 760 } });
const panics = [];
page.on("console", (m) => {
  if (m.type() === "error") {
    console.log(`  console: ${m.text()}`);
    if (m.text().includes("deepzero-web:")) panics.push(m.text());
  }
});
page.on("pageerror", (e) => { console.log(`  page error: ${e.message}`); panics.push(e.message); });

// The result element's state after `action`: waits for a new answer.
async function answerAfter(action) {
  const before = await page.getAttribute("#result", "data-json");
  await action();
  await page.waitForFunction(
    (prev) => { const r = document.getElementById("result"); return r.dataset.json && r.dataset.json !== prev; },
    before, { timeout: 60000 });
  return JSON.parse(await page.getAttribute("#result", "data-json"));
}
const drop = (name) => answerAfter(() => page.setInputFiles("#photo", join(out, "site", "images", name)));

try {
  const t0 = Date.now();
  await page.goto(`${base}/index.html?run=run/`);
  const summary = await page.evaluate(() => window.deepzero.ready);
  const timing = await page.evaluate(() => window.deepzero.timing);
  check(summary.recipe === "mnist-lenet" && summary.class_names.length === 10, "the run loads",
    `${summary.recipe} ${summary.arch} in ${Date.now() - t0} ms (page open to ready)`);
  const status = await page.textContent("#run-status");
  check(status.includes("checksum verified"), "the model's checksum is verified", status);

  // The known images: the same top-5 as the CLI.
  let worst = 0;
  for (const name of images) {
    const expected = cli.find((p) => p.image === name);
    const got = await drop(name);
    if (!expected || got.error) {
      check(false, `${name}: a top-5`, got.error ?? "not in the CLI's output");
      continue;
    }
    const labels = got.top.map((s) => s.label);
    const want = expected.top.map(([, label]) => label);
    const diff = Math.max(...got.top.map((s, i) => Math.abs(s.probability - expected.top[i][2])));
    worst = Math.max(worst, diff);
    check(JSON.stringify(labels) === JSON.stringify(want) && diff <= TOLERANCE,
      `${name}: top-5 as deepzero predict`,
      `page ${labels.map((l, i) => `${l} ${got.top[i].probability.toFixed(5)}`).join(", ")}; ` +
      `max |Δp| ${diff.toExponential(2)}`);
  }
  console.log(`largest probability difference page vs CLI: ${worst.toExponential(2)}`);

  // Predict latency in the page: the first image again, 20 times.
  const latency = await page.evaluate(async (url) => {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const c = window.deepzero.classifier;
    const times = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      c.predictFile("x.png", bytes, 5);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { median: times[10], min: times[0], max: times[19] };
  }, `${base}/images/${images[0]}`);

  // A digit drawn on the pad with the mouse: a "1", a vertical stroke.
  const pad = await page.$("#pad");
  const box = await pad.boundingBox();
  const drawn = await answerAfter(async () => {
    await page.mouse.move(box.x + 140, box.y + 40);
    await page.mouse.down();
    for (let y = 40; y <= 240; y += 10) await page.mouse.move(box.x + 142, box.y + y);
    await page.mouse.up();
  });
  check(drawn.top?.length === 5 && drawn.source === "drawing", "a drawn digit gets a top-5",
    drawn.top ? drawn.top.map((s) => `${s.label} ${s.probability.toFixed(3)}`).join(", ") : drawn.error);

  // The screenshot: the drawn digit and the first test digit's photo.
  await drop(images[0]);
  await page.screenshot({ path: join(out, "web-demo.png") });

  // Bad input: readable errors on the page, no panic.
  const notImage = await drop("notes.png");
  check(notImage.error && /notes\.png/.test(notImage.error), "a file that is no image: an error", notImage.error);
  const huge = await drop("huge.png");
  check(huge.error && /larger than the limit/.test(huge.error), "a huge image: an error", huge.error);
  const shown = await page.isVisible("#error");
  check(shown, "errors are shown on the page");
  const after = await drop(images[0]);
  check(after.top?.length === 5, "the page predicts again after an error");

  for (const [folder, pattern, what] of [
    ["bad-run/", /model\.bpk/, "a damaged model.bpk"],
    ["wrong-run/", /run\.json: cannot parse/, "a run.json of another kind of run"],
    ["missing-run/", /HTTP 404/, "a run folder that is not there"],
  ]) {
    await page.fill("#run-url", folder);
    await page.click("#run-form button");
    const error = await page.evaluate(() => window.deepzero.ready.then(() => null, (e) => e.message));
    const text = await page.textContent("#run-status");
    check(error && pattern.test(text) && !text.includes("\n"), `${what}: an error on the page`, text);
  }
  check(panics.length === 0, "no panic", panics.join(" | "));

  const figures = {
    wasm_bytes: timing.wasm_bytes,
    wasm_fetch_and_instantiate_ms: Math.round(timing.wasm_ms),
    run_load_ms: Math.round(timing.load_ms),
    predict_ms_median: +latency.median.toFixed(2),
    predict_ms_min: +latency.min.toFixed(2),
    predict_ms_max: +latency.max.toFixed(2),
    largest_probability_difference: worst,
    chromium: browser.version(),
  };
  writeFileSync(join(out, "figures.json"), JSON.stringify(figures, null, 2) + "\n");
  console.log("figures:", JSON.stringify(figures));
} catch (e) {
  check(false, "the test ran to the end", e.stack ?? String(e));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
