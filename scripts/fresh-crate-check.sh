#!/usr/bin/env bash
# Issue 13's check "a new user can copy an example into a fresh crate with path dependencies and
# it builds": copies each named example into its own crate outside the repository, with a path
# dependency on every deepzero crate the example names and none of the workspace's settings (no
# `[patch]` of burn-flex, no workspace features, no Cargo.lock), builds it with
# `cargo build --release`, then runs it from outside the checkout with DEEPZERO_DATASETS pointing
# at the shipped samples (which is what a user does, see the README).
#
#   scripts/fresh-crate-check.sh [--no-run] [CRATE:EXAMPLE ...]
#
# Default examples: deepzero-sequence:bbc_classifier deepzero-vision:finetune_fashion.
# FRESH_DIR: where the crates go (default: a new temporary folder, removed afterwards).
# CARGO_TARGET_DIR: default ~/.cache/deepzero/fresh-target, kept between runs. Cold, it builds
# burn from crates.io without the workspace lock file (about 15 minutes on 2 cores); that is why
# this is not part of .ci/run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=1
if [ "${1:-}" = --no-run ]; then
    run=0
    shift
fi
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(deepzero-sequence:bbc_classifier deepzero-vision:finetune_fashion)

if [ -n "${FRESH_DIR:-}" ]; then
    root=$FRESH_DIR
    mkdir -p "$root"
else
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
fi
case "$root/" in
"$repo"/*)
    echo "FRESH_DIR must lie outside the repository (cargo would take the crate for a member)"
    exit 1
    ;;
esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/deepzero/fresh-target}"

for spec in "${examples[@]}"; do
    crate=${spec%%:*}
    example=${spec#*:}
    src="$repo/crates/$crate/examples/$example.rs"
    [ -f "$src" ] || { echo "no example $src"; exit 1; }
    dir="$root/$example"
    rm -rf "$dir"
    mkdir -p "$dir/src"
    cp "$src" "$dir/src/main.rs"
    # Examples that share helpers (`mod common;`) bring the folder along, as a user would.
    if grep -q '^mod common' "$src"; then
        cp -r "$repo/crates/$crate/examples/common" "$dir/src/common"
    fi
    # Every deepzero crate the example names, plus its own crate.
    deps=$( (echo "$crate"; grep -o 'deepzero_[a-z]*' "$src" | tr _ -) | sort -u)
    {
        echo "[package]"
        echo "name = \"$example\""
        echo "version = \"0.1.0\""
        echo "edition = \"2024\""
        echo
        echo "[dependencies]"
        for dep in $deps; do
            [ -d "$repo/crates/$dep" ] || { echo "unknown crate $dep named by $src" >&2; exit 1; }
            echo "$dep = { path = \"$repo/crates/$dep\" }"
        done
        echo
        echo "# A crate of its own, even if FRESH_DIR lies inside some other workspace."
        echo "[workspace]"
    } > "$dir/Cargo.toml"
    echo "== $example: $(echo $deps | tr ' ' ,)"
    start=$(date +%s)
    (cd "$dir" && cargo build --release --quiet)
    echo "build: $(( $(date +%s) - start ))s"
    if [ "$run" = 1 ]; then
        start=$(date +%s)
        (cd "$dir" && DEEPZERO_DATASETS="$repo/datasets" "$CARGO_TARGET_DIR/release/$example") \
            > "$dir/run.log" 2>&1 || { tail -20 "$dir/run.log"; exit 1; }
        tail -3 "$dir/run.log"
        echo "run: $(( $(date +%s) - start ))s"
    fi
done
echo "fresh-crate check passed: ${examples[*]}"
