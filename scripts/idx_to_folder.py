#!/usr/bin/env python3
"""Writes an IDX corpus (MNIST, Fashion-MNIST) as a class-per-folder PNG tree, for
`deepzero data check` and `deepzero train image-folder`:

    python3 scripts/idx_to_folder.py ../shared/datasets/mnist /tmp/mnist-folder --per-split 5000

gives /tmp/mnist-folder/{train,test}/<digit>/<index>.png (the first N images of each split).
"""
import argparse, gzip, os, struct
from pathlib import Path

from PIL import Image


def read_idx(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return shape, data[4 + 4 * dims :]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("idx_dir")
    ap.add_argument("out")
    ap.add_argument("--per-split", type=int, default=5000)
    args = ap.parse_args()
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        (n, h, w), pixels = read_idx(Path(args.idx_dir) / f"{prefix}-images-idx3-ubyte.gz")
        (_,), labels = read_idx(Path(args.idx_dir) / f"{prefix}-labels-idx1-ubyte.gz")
        for i in range(min(n, args.per_split)):
            folder = Path(args.out) / split / str(labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            image = Image.frombytes("L", (w, h), pixels[i * h * w : (i + 1) * h * w])
            image.save(folder / f"{i:05d}.png")


if __name__ == "__main__":
    main()
