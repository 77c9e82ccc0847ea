#!/usr/bin/env python3
"""Writes the sacreBLEU fixture that `crates/deepzero-sequence/tests/bleu_fixture.rs` checks.

    python3 scripts/bleu_fixture.py        # sacrebleu 2.x (2.6.0 made the committed files)

Output: crates/deepzero-sequence/tests/fixtures/bleu/
  ref.txt, ref2.txt     two reference streams (one segment per line)
  hyp_<name>.txt        hypothesis sets
  expected.json         for every set: sacrebleu.corpus_bleu(hyps, [ref]) and, for the
                        multi-reference case, (hyps, [ref, ref2]); plus sentence_bleu of
                        every line of the `mixed` set, with score, counts, totals, precisions,
                        bp, sys_len, ref_len.
"""
import json
import os

import sacrebleu

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "deepzero-sequence",
                   "tests", "fixtures", "bleu")

REF = [
    "Two young, White males are outside near many bushes.",
    "Several men in hard hats are operating a giant pulley system.",
    "A little girl climbing into a wooden playhouse.",
    "A man in a blue T-shirt is standing on a ladder cleaning a window.",
    "The 3 dogs ran 1,500.5 meters in 1990-1991 (approx.)!",
    "She said \"don't\" & left; the girls' bags weren't there.",
    "",
    "A Boston Terrier is running on lush green grass in front of a white fence.",
]
REF2 = [
    "Two young white men are outdoors near a lot of bushes.",
    "Many men wearing hard hats operate a huge pulley system.",
    "A small girl climbs into a playhouse made of wood.",
    "A man in a blue shirt stands on a ladder and cleans a window.",
    "Three dogs ran 1,500.5 meters between 1990-1991.",
    "She said \"don't\" and left.",
    "Nothing.",
    "A terrier runs on green grass before a white fence.",
]
HYPS = {
    "perfect": REF,
    "mixed": [
        "Two young white males are outside near bushes.",
        "Several men in hard hats operate a giant pulley system.",
        "A little girl climbs into a wooden playhouse .",
        "A man in a blue shirt is standing on a ladder to clean a window.",
        "The three dogs ran 1,500.5 meters in 1990 - 1991!",
        "She said &quot;don't&quot; &amp; left; the girls' bags were not there.",
        "",
        "A dog runs on the grass.",
    ],
    "short": ["Two men.", "Men in hats.", "A girl.", "A man on a ladder.", "Dogs ran.",
              "She left.", "", "A dog."],
    "zero_match": ["xylophone quartz", "zebra", "qwerty uiop", "lorem ipsum dolor", "vvv",
                   "www", "", "yyy zzz"],
    "no_4grams": ["Two young", "Several men", "A little girl", "A man", "The 3",
                  "She said", "", "A Boston"],
    "empty": ["", "", "", "", "", "", "", ""],
}


def stats(score):
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
    }


def main():
    os.makedirs(OUT, exist_ok=True)

    def write(name, lines):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))

    write("ref.txt", REF)
    write("ref2.txt", REF2)
    expected = {"sacrebleu_version": sacrebleu.__version__, "corpus": {}, "corpus_two_refs": {},
                "sentence_mixed": []}
    for name, hyps in HYPS.items():
        write(f"hyp_{name}.txt", hyps)
        expected["corpus"][name] = stats(sacrebleu.corpus_bleu(hyps, [REF]))
        expected["corpus_two_refs"][name] = stats(sacrebleu.corpus_bleu(hyps, [REF, REF2]))
    for hyp, r1, r2 in zip(HYPS["mixed"], REF, REF2):
        expected["sentence_mixed"].append(stats(sacrebleu.sentence_bleu(hyp, [r1, r2])))
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
