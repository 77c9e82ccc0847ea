"""Golden values for deepzero-graph's GAT and GCN layers, computed by PyTorch in the way PyTorch
Geometric's GATConv / GCNConv do (gather, scatter softmax, scatter-add; D^-1/2 (A+I) D^-1/2).

    python3 scripts/graph_golden.py > crates/deepzero-graph/tests/golden/layers.json

Inputs are closed-form (no random numbers), so the file is reproducible byte for byte.
"""
import json
import math

import torch

torch.set_default_dtype(torch.float64)
n, d_in, heads, f = 6, 4, 2, 3
edges = [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)]  # nodes 4 and 5 are isolated
x = torch.tensor([[math.sin(3 * i + k) for k in range(d_in)] for i in range(n)])
w = torch.tensor([[math.cos(0.7 * r + 0.3 * c) / 2 for c in range(heads * f)] for r in range(d_in)])
att_src = torch.tensor([[0.1 * (h + 1) * (c - 1) for c in range(f)] for h in range(heads)])
att_dst = torch.tensor([[0.2 - 0.15 * h * c for c in range(f)] for h in range(heads)])
bias = torch.tensor([0.01 * c for c in range(heads * f)])

# Both directions plus one self-loop per node (GATConv's add_self_loops).
pairs = [(a, b) for a, b in edges] + [(b, a) for a, b in edges] + [(i, i) for i in range(n)]
src = torch.tensor([p[0] for p in pairs])
dst = torch.tensor([p[1] for p in pairs])

# GAT layer (concat heads): out = bias + sum_j alpha_ij W x_j
wx = (x @ w).view(n, heads, f)
e = torch.nn.functional.leaky_relu((wx * att_src).sum(-1)[src] + (wx * att_dst).sum(-1)[dst], 0.2)
e = e - torch.zeros(n, heads).scatter_reduce(0, dst[:, None].expand_as(e), e, "amax", include_self=False)[dst]
a = e.exp()
a = a / torch.zeros(n, heads).index_add_(0, dst, a)[dst]
gat = torch.zeros(n, heads, f).index_add_(0, dst, wx[src] * a[..., None]).reshape(n, -1) + bias

# GCN layer: D^-1/2 (A + I) D^-1/2 X W
deg = torch.zeros(n).index_add_(0, dst, torch.ones(len(pairs)))
norm = deg[src].rsqrt() * deg[dst].rsqrt()
gcn = torch.zeros(n, heads * f).index_add_(0, dst, (x @ w)[src] * norm[:, None])

out = {
    "generated_by": f"scripts/graph_golden.py, torch {torch.__version__}",
    "num_nodes": n, "edges": edges, "heads": heads, "d_head": f,
    "x": x.tolist(), "weight": w.tolist(), "att_src": att_src.tolist(), "att_dst": att_dst.tolist(),
    "bias": bias.tolist(), "gat": gat.tolist(), "gcn": gcn.tolist(),
}
print(json.dumps(out, indent=1))
