#!/usr/bin/env python3
"""The NCF reference settings (He et al. 2017; the authors' Keras code) transcribed in PyTorch
and run on the split of `ml100k-gmf/-mlp/-neumf`: each user's latest rating (ties: the later
line) held out, ranked among 99 sampled items the user never rated, ties counted against the
model. GMF (8 factors) and MLP (64-32-16-8) by Adam 1e-3, then NeuMF from both (output layer
0.5·[h_GMF; h_MLP], bias 0.5·(b_GMF + b_MLP)) fine-tuned by plain SGD 1e-3; 4 negatives per
positive re-drawn every epoch, batch 256, embeddings N(0, 0.01), Glorot-uniform layers,
LeCun-uniform output, no regularisation. Prints HR@10 / NDCG@10 after every epoch, the final
epoch's and (as the Keras script reports) the best epoch's on the test items.

    python3 scripts/ncf_reference.py ../shared/datasets/movielens-100k [SEED] [EPOCHS]
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
path = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
factors, layers = 8, [64, 32, 16, 8]
torch.manual_seed(seed)
rng = np.random.RandomState(seed)
d = np.loadtxt(path + "/u.data", dtype=np.int64)
users, items = np.unique(d[:, 0]), np.unique(d[:, 1])
um = {u: k for k, u in enumerate(users)}
im = {i: k for k, i in enumerate(items)}
U = np.array([um[x] for x in d[:, 0]])
I = np.array([im[x] for x in d[:, 1]])
T = d[:, 3]
nu, ni = len(users), len(items)
test = {}
for pos in range(len(d)):
    if U[pos] not in test or T[pos] >= T[test[U[pos]]]:
        test[U[pos]] = pos
held = set(test.values())
train = [(U[p], I[p]) for p in range(len(d)) if p not in held]
train_set = set(train)
all_set = set(zip(U.tolist(), I.tolist()))
cands = []
for u in range(nu):
    negs = set()
    while len(negs) < 99:
        j = rng.randint(ni)
        if (u, j) not in all_set:
            negs.add(j)
    cands.append((u, I[test[u]], list(negs)))
cu = torch.tensor([c[0] for c in cands]).repeat_interleave(100)
ci = torch.tensor([x for c in cands for x in c[2] + [c[1]]])


def evaluate(m):
    m.eval()
    with torch.no_grad():
        s = m(cu, ci).view(nu, 100)
    m.train()
    rank = (s[:, :99] >= s[:, 99:100]).sum(1)
    hit = (rank < 10).float()
    ndcg = hit * (np.log(2) / torch.log(rank.float() + 2))
    return hit.mean().item(), ndcg.mean().item()


def instances():
    us, is_, ls = [], [], []
    for u, i in train:
        us.append(u), is_.append(i), ls.append(1.0)
        for _ in range(4):
            j = rng.randint(ni)
            while (u, j) in train_set:
                j = rng.randint(ni)
            us.append(u), is_.append(j), ls.append(0.0)
    return torch.tensor(us), torch.tensor(is_), torch.tensor(ls)


def emb(n, k):
    e = nn.Embedding(n, k)
    nn.init.normal_(e.weight, 0, 0.01)
    return e


def dense(a, b):
    lin = nn.Linear(a, b)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def prediction(a):
    lin = nn.Linear(a, 1)
    lim = np.sqrt(3.0 / a)
    nn.init.uniform_(lin.weight, -lim, lim)
    nn.init.zeros_(lin.bias)
    return lin


class Net(nn.Module):
    def __init__(self, gmf, mlp):
        super().__init__()
        self.gmf, self.mlp, width = gmf, mlp, 0
        if gmf:
            self.pu, self.qi = emb(nu, factors), emb(ni, factors)
            width += factors
        if mlp:
            self.mu, self.mi = emb(nu, layers[0] // 2), emb(ni, layers[0] // 2)
            self.tower = nn.ModuleList([dense(a, b) for a, b in zip(layers, layers[1:])])
            width += layers[-1]
        self.out = prediction(width)

    def forward(self, u, i):
        f = []
        if self.gmf:
            f.append(self.pu(u) * self.qi(i))
        if self.mlp:
            h = torch.cat([self.mu(u), self.mi(i)], 1)
            for layer in self.tower:
                h = torch.relu(layer(h))
            f.append(h)
        return self.out(torch.cat(f, 1)).squeeze(1)


def fit(m, opt, name):
    loss_fn, best = nn.BCEWithLogitsLoss(), (0.0, 0.0, -1)
    hr, nd = evaluate(m)
    print(f"{name} init HR {hr:.4f} NDCG {nd:.4f}", flush=True)
    for ep in range(epochs):
        t = time.time()
        us, is_, ls = instances()
        perm, total = torch.randperm(len(us)), 0.0
        for k in range(0, len(us), 256):
            b = perm[k : k + 256]
            opt.zero_grad()
            loss = loss_fn(m(us[b], is_[b]), ls[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        hr, nd = evaluate(m)
        if hr > best[0]:
            best = (hr, nd, ep)
        print(f"{name} epoch {ep} loss {total / len(us):.4f} HR {hr:.4f} NDCG {nd:.4f} [{time.time() - t:.0f}s]", flush=True)
    print(f"{name} FINAL HR {hr:.4f} NDCG {nd:.4f}; best epoch on test: HR {best[0]:.4f} NDCG {best[1]:.4f} (epoch {best[2]})", flush=True)
    return m


gmf = Net(True, False)
fit(gmf, torch.optim.Adam(gmf.parameters(), lr=1e-3), "GMF")
mlp = Net(False, True)
fit(mlp, torch.optim.Adam(mlp.parameters(), lr=1e-3), "MLP")
neumf = Net(True, True)
with torch.no_grad():
    neumf.pu.weight.copy_(gmf.pu.weight)
    neumf.qi.weight.copy_(gmf.qi.weight)
    neumf.mu.weight.copy_(mlp.mu.weight)
    neumf.mi.weight.copy_(mlp.mi.weight)
    for a, b in zip(neumf.tower, mlp.tower):
        a.weight.copy_(b.weight)
        a.bias.copy_(b.bias)
    neumf.out.weight.copy_(0.5 * torch.cat([gmf.out.weight, mlp.out.weight], 1))
    neumf.out.bias.copy_(0.5 * (gmf.out.bias + mlp.out.bias))
fit(neumf, torch.optim.SGD(neumf.parameters(), lr=1e-3), "NeuMF")
