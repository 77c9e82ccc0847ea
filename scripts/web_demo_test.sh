#!/usr/bin/env bash
# The browser demo, end to end: builds deepzero-web for wasm32 (wasm-bindgen), trains one epoch of
# mnist-lenet on the shipped sample (or uses RUN), serves the page and the run on loopback, and
# drives a real headless Chromium through it (playwright-core): loads the run, predicts on test
# digits of the shipped sample dropped as files, draws a digit on the pad, feeds it bad input,
# takes a screenshot, and asserts that the page's top-5 equals `deepzero predict --json` on the
# same files (same labels in the same order, probabilities within 1e-4).
#
#   scripts/web_demo_test.sh [RUN]
#
# Environment: WASM_TARGET_DIR (default CARGO_TARGET_DIR), TOOLS (default ~/.cache/deepzero/web-tools: wasm-bindgen-cli and playwright-core
# are installed there from crates.io and npm when missing), CARGO_TARGET_DIR, PORT (default 8765),
# OUT (default /tmp/deepzero-web-demo: the served folder, logs, screenshot, figures.json),
# SCREENSHOT (also copy the screenshot there, e.g. docs/img/web-demo.png), CHROMIUM (default
# /usr/bin/chromium). Needs a Rust toolchain with rustup, node/npm, python3, curl and Chromium
# (`apt-get install chromium`; installed here when run as root).
# Ends with "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools=${TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/deepzero/web-tools}
target=${CARGO_TARGET_DIR:-$root/target}
# The wasm32 build may live in a target directory of its own (WASM_TARGET_DIR).
wasm_target=${WASM_TARGET_DIR:-$target}
port=${PORT:-8765}
out=${OUT:-/tmp/deepzero-web-demo}
run=${1:-}
www=$root/crates/deepzero-web/www
step() { echo "== $*"; }

# ---- tools ------------------------------------------------------------------------------
step "tools"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
wbg=$tools/bin/wasm-bindgen
if ! [ -x "$wbg" ] || [ "$("$wbg" --version | awk '{print $2}')" != "$wbg_version" ]; then
  cargo install --locked wasm-bindgen-cli --version "$wbg_version" --root "$tools"
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if ! [ -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  else
    echo "no Chromium at $chromium (apt-get install chromium)"; exit 1
  fi
fi
playwright_version=1.65.2
node_dir=$tools/node
if ! [ -f "$node_dir/node_modules/playwright-core/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "playwright-core@$playwright_version"
fi

# ---- build ------------------------------------------------------------------------------
step "build (wasm32 release + wasm-bindgen, and the host CLI)"
start=$(date +%s)
# --crate-type here, not in Cargo.toml: the host build of the workspace links no cdylib.
CARGO_TARGET_DIR=$wasm_target cargo rustc --release --locked -p deepzero-web --lib \
  --target wasm32-unknown-unknown --crate-type cdylib --quiet
rm -rf "$out" && mkdir -p "$out/site"
cp -r "$www"/. "$out/site/"
rm -rf "$out/site/pkg"
"$wbg" --target web --no-typescript --out-dir "$out/site/pkg" "$wasm_target/wasm32-unknown-unknown/release/deepzero_web.wasm"
wasm=$out/site/pkg/deepzero_web_bg.wasm
echo "wasm build: $(( $(date +%s) - start ))s; module $(stat -c %s "$wasm") bytes, gzip -9 $(gzip -9 -c "$wasm" | wc -c) bytes"
cargo build --release --locked -p deepzero-cli --quiet
deepzero=$target/release/deepzero

# ---- the run and the images ---------------------------------------------------------------
if [ -z "$run" ]; then
  step "train mnist-lenet, 1 epoch on the shipped sample"
  run=$out/mnist-lenet
  "$deepzero" train mnist-lenet --epochs 1 --out "$run" --overwrite --quiet
fi
mkdir -p "$out/site/run" "$out/site/bad-run" "$out/site/wrong-run" "$out/site/images"
cp "$run"/run.json "$run"/model.bpk "$out/site/run/"
[ -f "$run/model.bpk.sha256" ] && cp "$run/model.bpk.sha256" "$out/site/run/"
# A damaged model (no checksum beside it: the record itself must be refused) and a run.json of
# another kind of run.
cp "$run"/run.json "$out/site/bad-run/"
head -c 3000 "$run/model.bpk" > "$out/site/bad-run/model.bpk"
echo '{"recipe":"bbc-lstm","version":1,"vocab_file":"vocab.json"}' > "$out/site/wrong-run/run.json"
cp "$run/model.bpk" "$out/site/wrong-run/"

# Test digits of the shipped sample as PNG files (light on dark, as MNIST), one inverted (dark
# on light, as on paper), one RGB JPEG-free colour PNG, a text file, a huge image.
python3 - "$root/datasets/mnist-sample/t10k-images-idx3-ubyte.gz" "$out/site/images" <<'EOF'
import gzip, struct, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
data = gzip.open(src).read()
n, h, w = struct.unpack(">III", data[4:16])
pixels = data[16:]

def png(path, width, height, rows, colour=0, declared=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    dw, dh = declared or (width, height)
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", dw, dh, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

def digit(i):
    return [pixels[i * h * w + y * w : i * h * w + (y + 1) * w] for y in range(h)]

for i in range(4):
    png(f"{dst}/digit{i}.png", w, h, digit(i))
png(f"{dst}/paper.png", w, h, [[255 - p for p in row] for row in digit(4)])
# Colour, larger: digit 5 scaled ×3, tinted.
big = [[v for p in row for v in (p, p // 2, 255 - p) for _ in range(3)] for row in digit(5) for _ in range(3)]
png(f"{dst}/colour.png", w * 3, h * 3, [[c for c in r] for r in big], colour=2)
open(f"{dst}/notes.png", "w").write("this is not an image\n")
# A header announcing 100000×100000 pixels (the limit is 8192 a side).
png(f"{dst}/huge.png", 1, 1, [[0]], declared=(100000, 100000))
EOF
good=(digit0.png digit1.png digit2.png digit3.png paper.png colour.png)

step "deepzero predict --json on the same files"
(cd "$out/site/images" && "$deepzero" predict mnist-lenet --checkpoint "$out/site/run" --json \
  --picture "$out/cli-predictions.png" "${good[@]}") > "$out/cli.json"

# ---- the browser ---------------------------------------------------------------------------
step "serve on 127.0.0.1:$port and drive headless Chromium"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out/site" > "$out/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/index.html" && break
  sleep 0.1
done
NODE_PATH=$node_dir/node_modules node "$root/scripts/web_demo_test.mjs" \
  "http://127.0.0.1:$port" "$out" "$chromium" "$out/cli.json" "${good[@]}"
if [ -n "${SCREENSHOT:-}" ]; then
  cp "$out/web-demo.png" "$SCREENSHOT"
  echo "screenshot: $SCREENSHOT"
fi
