#!/usr/bin/env bash
# Reproduces the tables of docs/finetuning.md (seed chapter 3.1, 微调).
#
# Pre-trains a recipe's model (by default the fashion-cnn SmallCnn) on five classes of its IDX
# corpus (by default 0-4, all of their training images), then adapts it to the five others
# (5-9) with k = 10, 50 and 500 labelled training images per class in five ways (from scratch,
# linear probe, full fine-tuning, LoRA, linear probe then unfreezing), and evaluates every run on
# all test images of the target classes. For a given seed every method sees the same k images,
# so the table also gives each method's gain over training from scratch seed by seed.
#
#   scripts/finetune_table.sh [DATA_DIR] [OUT_DIR]
#
#   DATA_DIR  folder with the four IDX files of the recipe's corpus (default: datasets/fashion-mnist)
#   OUT_DIR   where the runs, results.tsv and table.md go   (default: runs/finetune-table)
#   env RECIPE        an MNIST or Fashion-MNIST recipe (default: fashion-cnn; the MNIST table
#                     uses RECIPE=mnist-lenet with DATA_DIR = the MNIST files)
#   env BIN           the deepzero binary (default: target/release/deepzero, built if missing)
#   env KS            the values of k to run (default: "10 50 500")
#   env SOURCE, TARGET  the pre-training and the adaptation classes (default: 0,1,2,3,4 and
#                     5,6,7,8,9; five each)
#   env SEEDS_SMALL   seeds for k = 10 and 50 (default: "1 2 3 4 5")
#   env SEEDS_LARGE   seeds for k = 500 (default: "1")
#   env PRETRAIN_EPOCHS (default: 3)
#
# Needs jq and awk. Every command it runs is written to OUT_DIR/results.tsv with its test
# accuracy, the training seconds the run reported and the wall-clock seconds of the process.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${1:-datasets/fashion-mnist}
OUT=${2:-runs/finetune-table}
BIN=${BIN:-target/release/deepzero}
RECIPE=${RECIPE:-fashion-cnn}
KS=${KS:-"10 50 500"}
SOURCE=${SOURCE:-0,1,2,3,4}
TARGET=${TARGET:-5,6,7,8,9}
SEEDS_SMALL=${SEEDS_SMALL:-"1 2 3 4 5"}
SEEDS_LARGE=${SEEDS_LARGE:-"1"}
PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-3}

if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    echo "error: no IDX files in $DATA (pass the folder as the first argument)" >&2
    exit 1
fi
command -v jq > /dev/null || { echo "error: this script needs jq" >&2; exit 1; }
if [ ! -x "$BIN" ]; then
    cargo build --release -p deepzero-cli
fi
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
printf 'k\tmethod\tseed\ttest_accuracy\ttrain_seconds\twall_seconds\tcommand\n' > "$RESULTS"

# run K METHOD SEED DIR COMMAND...: runs COMMAND --out DIR, appends a line to results.tsv.
run() {
    local k=$1 method=$2 seed=$3 dir=$4
    shift 4
    mkdir -p "$(dirname "$dir")"
    local start end
    start=$(date +%s.%N)
    "$@" --out "$dir" --quiet > "$dir.log" 2>&1 || { echo "failed: $* (see $dir.log)" >&2; exit 1; }
    end=$(date +%s.%N)
    local acc train wall
    acc=$(jq -r '.test.accuracy' "$dir/metrics.json")
    train=$(jq -r '.train_seconds' "$dir/metrics.json")
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\t%s\t%.1f\t%s\t%s --out %s\n' "$k" "$method" "$seed" "$acc" "$train" "$wall" "$*" "$dir" >> "$RESULTS"
    printf '%-4s %-9s seed %s: test accuracy %s  (%ss wall)\n' "$k" "$method" "$seed" "$acc" "$wall"
}

T0=$(date +%s)
PRE="$OUT/pretrain"
run pre pretrain 1 "$PRE" "$BIN" train "$RECIPE" --data-dir "$DATA" \
    --classes-subset "$SOURCE" --epochs "$PRETRAIN_EPOCHS" --seed 1

for k in $KS; do
    case $k in
        10) epochs=40; batch=16; seeds=$SEEDS_SMALL ;;
        50) epochs=30; batch=32; seeds=$SEEDS_SMALL ;;
        500) epochs=12; batch=64; seeds=$SEEDS_LARGE ;;
    esac
    for seed in $seeds; do
        # The same k images per class (chosen by the seed) for every method of a seed.
        common=(--data-dir "$DATA" --classes-subset "$TARGET" --per-class "$k" --valid-fraction 0
            --epochs "$epochs" --batch-size "$batch" --seed "$seed")
        dir="$OUT/k$k"
        run "$k" scratch "$seed" "$dir/scratch-s$seed" \
            "$BIN" train "$RECIPE" "${common[@]}" --lr 2e-3
        run "$k" probe "$seed" "$dir/probe-s$seed" \
            "$BIN" finetune "$RECIPE" --from "$PRE" --freeze backbone "${common[@]}" --lr 1e-2
        run "$k" full "$seed" "$dir/full-s$seed" \
            "$BIN" finetune "$RECIPE" --from "$PRE" "${common[@]}" --lr 2e-3
        run "$k" lora "$seed" "$dir/lora-s$seed" \
            "$BIN" finetune "$RECIPE" --from "$PRE" --lora 8 "${common[@]}" --lr 1e-2
        run "$k" unfreeze "$seed" "$dir/unfreeze-s$seed" \
            "$BIN" finetune "$RECIPE" --from "$PRE" --freeze backbone \
            --unfreeze-after $((epochs / 2)) --unfreeze-lr-factor 0.2 "${common[@]}" --lr 1e-2
    done
done
T1=$(date +%s)

# Mean test accuracy (and its spread over seeds) per k and method, as a Markdown table.
awk -F'\t' -v total=$((T1 - T0)) -v source="$SOURCE" '
NR > 1 && $1 != "pre" {
    key = $1 SUBSEP $2
    n[key]++; s[key] += $4; ss[key] += $4 * $4; w[key] += $6
    if (!(key in lo) || $4 < lo[key]) lo[key] = $4
    if (!(key in hi) || $4 > hi[key]) hi[key] = $4
    acc[$1, $2, $3] = $4; seeds[$1, $3] = 1
}
NR > 1 && $1 == "pre" { pre = sprintf("pre-training: test accuracy (classes %s) %.2f %%, %s s wall", source, $4 * 100, $6) }
END {
    split("scratch probe full lora unfreeze", m, " ")
    split("10 50 500", ks, " ")
    print "| k | from scratch | linear probe | full fine-tuning | LoRA + head | probe, then unfreeze |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= 3; i++) {
        line = "| " ks[i]
        for (j = 1; j <= 5; j++) {
            key = ks[i] SUBSEP m[j]
            if (!(key in n)) { line = line " | –"; continue }
            mean = s[key] / n[key] * 100
            if (n[key] > 1) cell = sprintf("%.1f %% (%.1f–%.1f, n=%d)", mean, lo[key] * 100, hi[key] * 100, n[key])
            else cell = sprintf("%.1f %%", mean)
            line = line " | " cell
        }
        print line " |"
    }
    print ""
    print "gain over training from scratch on the same k images (mean over seeds, points; wins/seeds):"
    for (i = 1; i <= 3; i++) {
        line = "k=" ks[i] ":"; any = 0
        for (j = 2; j <= 5; j++) {
            d = 0; c = 0; wins = 0
            for (sk in seeds) {
                split(sk, parts, SUBSEP)
                if (parts[1] != ks[i]) continue
                sd = parts[2]
                if (!((ks[i], m[j], sd) in acc) || !((ks[i], "scratch", sd) in acc)) continue
                diff = (acc[ks[i], m[j], sd] - acc[ks[i], "scratch", sd]) * 100
                d += diff; c++; if (diff > 0) wins++
            }
            if (c > 0) { line = line sprintf(" %s %+.1f (%d/%d);", m[j], d / c, wins, c); any = 1 }
        }
        if (any) print line
    }
    print ""
    print "mean wall-clock seconds per run:"
    for (i = 1; i <= 3; i++) {
        line = "k=" ks[i] ":"
        for (j = 1; j <= 5; j++) {
            key = ks[i] SUBSEP m[j]
            if (key in n) line = line sprintf(" %s %.0f s;", m[j], w[key] / n[key])
        }
        print line
    }
    print pre
    printf "whole script: %d s wall\n", total
}' "$RESULTS" | tee "$OUT/table.md"
