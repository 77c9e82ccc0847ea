#!/usr/bin/env bash
# Kill -9 soak of the run folder: trains RECIPE once without interruption, then again while
# killing the process at random moments (during training, checkpoint writes and resumes) and
# resuming each time with --resume, and checks that the interrupted run ends with the same
# weights as the uninterrupted one (same test metrics to the last digit, same epoch history).
#
#   scripts/kill_soak.sh [KILLS] [RECIPE] [EPOCHS]      (defaults: 50 mnist-mlp 40)
#
# Uses target/release/deepzero (or $DEEPZERO) and the shipped samples; writes under
# ${SOAK_DIR:-/tmp/deepzero-soak}.
set -euo pipefail
kills=${1:-50}
recipe=${2:-mnist-mlp}
epochs=${3:-40}
bin=${DEEPZERO:-target/release/deepzero}
dir=${SOAK_DIR:-/tmp/deepzero-soak}/$recipe
rm -rf "$dir" && mkdir -p "$dir"
train() { "$bin" train "$recipe" --epochs "$epochs" --quiet "$@"; }

start=$(date +%s.%N)
train --out "$dir/straight" > "$dir/straight.log" 2>&1
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "uninterrupted run: ${took}s"

done_kills=0
fallbacks=0
attempt=0
first=1
while true; do
  attempt=$((attempt + 1))
  if [ "$first" = 1 ]; then args=(--out "$dir/killed"); else args=(--out "$dir/killed" --resume); fi
  if [ "$done_kills" -lt "$kills" ]; then
    # Kill after 0.3–3 s: during start-up, an epoch, a checkpoint write or a resume.
    delay=$(python3 -c "import random; print(round(random.uniform(0.3, 3.0), 3))")
    # The binary itself in the background (not a shell function), so that $! is its pid.
    "$bin" train "$recipe" --epochs "$epochs" --quiet "${args[@]}" >> "$dir/killed.log" 2>&1 &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      done_kills=$((done_kills + 1))
      first=0
      continue
    fi
    wait "$pid" || { echo "run failed after $done_kills kills:"; tail -5 "$dir/killed.log"; exit 1; }
    break
  fi
  train "${args[@]}" >> "$dir/killed.log" 2>&1 || { echo "final resume failed:"; tail -5 "$dir/killed.log"; exit 1; }
  break
done
fallbacks=$(grep -c "damaged" "$dir/killed.log" || true)
resumes=$(grep -c "resuming after epoch" "$dir/killed.log" || true)
echo "kills: $done_kills, runs started: $attempt, resumes from a checkpoint: $resumes, fallbacks to an older epoch: $fallbacks"
# model.bpk files differ in their parameter ids (burn draws them at random), so the weights are
# compared through what they compute: the test metrics recomputed from the final model must be
# equal to the last digit, and every epoch's losses equal up to the one-ulp JSON round trip of
# the history kept in state.json.
python3 - "$dir/straight/metrics.json" "$dir/killed/metrics.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if a["test"] != b["test"]:
    sys.exit(f"FAIL: test metrics differ: {a['test'].get('loss')} vs {b['test'].get('loss')}")
close = lambda x, y: x == y or abs(x - y) <= 1e-12 * max(abs(x), abs(y))
for x, y in zip(a["history"], b["history"], strict=True):
    for key in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "lr"):
        if x.get(key) is not None and not close(x[key], y[key]):
            sys.exit(f"FAIL: epoch {x['epoch']} {key}: {x[key]} vs {y[key]}")
print(f"PASS: same test metrics (loss {a['test']['loss']!r}) and the same {len(a['history'])} epochs of losses")
PY
