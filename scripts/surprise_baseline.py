#!/usr/bin/env python3
"""Cross-check of `ml100k-baseline`: Surprise's BaselineOnly (ALS, reg_i 10, reg_u 15,
10 epochs) and Surprise's KFold(n_splits=5, random_state=0) transcribed in NumPy (float64),
without Surprise itself. Prints each fold's RMSE and the means (docs/recsys.md).

    python3 scripts/surprise_baseline.py ../shared/datasets/movielens-100k
"""
import sys

import numpy as np

d = np.loadtxt(sys.argv[1] + "/u.data", dtype=np.int64)
n = len(d)
# Surprise: indices = arange(n); RandomState(0).shuffle(indices); folds of n // 5 (+1 for the
# first n % 5).
idx = np.arange(n)
np.random.RandomState(0).shuffle(idx)
nu, ni = d[:, 0].max() + 1, d[:, 1].max() + 1
rmses, maes, stop = [], [], 0
for f in range(5):
    start = stop
    stop += n // 5 + (1 if f < n % 5 else 0)
    train = d[np.concatenate([idx[:start], idx[stop:]])]
    test = d[idx[start:stop]]
    u, i, r = train[:, 0], train[:, 1], train[:, 2].astype(np.float64)
    mu = r.mean()
    cu, ci = np.bincount(u, minlength=nu), np.bincount(i, minlength=ni)
    bu, bi = np.zeros(nu), np.zeros(ni)
    for _ in range(10):  # baseline_als: all items, then all users
        bi = np.bincount(i, r - mu - bu[u], minlength=ni) / (10 + ci)
        bu = np.bincount(u, r - mu - bi[i], minlength=nu) / (15 + cu)
    # Unknown users/items have no ratings, so their bias stays 0 (Surprise adds nothing).
    est = np.clip(mu + bu[test[:, 0]] + bi[test[:, 1]], 1, 5)
    err = est - test[:, 2]
    rmses.append(np.sqrt((err**2).mean()))
    maes.append(np.abs(err).mean())
print("fold RMSE", " ".join("%.4f" % x for x in rmses))
print("RMSE %.5f  MAE %.5f" % (np.mean(rmses), np.mean(maes)))
