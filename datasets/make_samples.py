#!/usr/bin/env python3
"""Cut the shipped samples (first 6 000 training and first 1 000 test images) out of the full
IDX files. Usage: python3 datasets/make_samples.py ../shared/datasets  (run from the repo root).
The output is deterministic (gzip level 9, no file name, mtime 0)."""
import gzip, struct, sys, pathlib

TRAIN, TEST = 6000, 1000

def read(path):
    data = gzip.open(path).read()
    magic, count = struct.unpack(">II", data[:8])
    return magic, count, data

def cut(src, dst, keep):
    magic, count, data = read(src)
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        body = data[16:16 + keep * rows * cols]
        header = struct.pack(">IIII", magic, keep, rows, cols)
    elif magic == 2049:
        body = data[8:8 + keep]
        header = struct.pack(">II", magic, keep)
    else:
        raise SystemExit(f"{src}: unexpected magic {magic}")
    with open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as out:
            out.write(header + body)

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets")
here = pathlib.Path(__file__).resolve().parent
for corpus in ["mnist", "fashion-mnist"]:
    out = here / f"{corpus}-sample"
    out.mkdir(exist_ok=True)
    for split, keep in [("train", TRAIN), ("t10k", TEST)]:
        for kind in ["images-idx3", "labels-idx1"]:
            name = f"{split}-{kind}-ubyte.gz"
            cut(root / corpus / name, out / name, keep)
            print(out / name)
