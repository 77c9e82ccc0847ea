"""GAT training-step time on Cora in plain PyTorch, PyTorch-Geometric style (no dense N x N):
gather the edge endpoints (`index_select`, whose gradient is `index_add_`, as PyG does; plain
`t[idx]` indexing would back-propagate through the much slower `index_put_(accumulate=True)`),
softmax per destination with scatter max/sum, scatter-add the messages.
The reference for the speed ratio in docs/graphs.md.

    python3 scripts/gat_speed.py ../shared/datasets/graphs/cora-planetoid [steps] [threads] [dense|sparse]

Same model as deepzero_graph::gat (8 heads x 8, ELU, 1 output head, dropout 0.6 on inputs and
attention, Adam lr 0.005, L2 5e-4). Prints the median and mean milliseconds of one training step
(forward, loss, backward, Adam update) after 20 warm-up steps.

`dense` feeds the 2708 x 1433 feature matrix as PyG's GAT example does (dropout then draws 3.9 M
random numbers per step); `sparse` feeds its 49 216 nonzeros as (row, column, value) lists and
drops out only those, as deepzero does (`deepzero_graph::sparse::NodeInput`).
"""
import gzip
import statistics
import sys
import time

import torch
import torch.nn.functional as F

data_dir = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(0)
sparse_input = (sys.argv[4] if len(sys.argv) > 4 else "dense") == "sparse"

rows, labels = [], []
with gzip.open(f"{data_dir}/cora.content.gz", "rt") as f:
    for line in f:
        p = line.rstrip("\n").split("\t")
        rows.append([float(v) for v in p[1:-1]])
        labels.append(int(p[-1]))
x = torch.tensor(rows)
x = x / x.sum(1, keepdim=True).clamp(min=1)  # row-normalised, as deepzero and the GAT code
y = torch.tensor(labels)
n = x.shape[0]
edges = []
with open(f"{data_dir}/cora.cites") as f:
    for line in f:
        a, b = map(int, line.split())
        if a != b:
            edges += [(a, b), (b, a)]
edges += [(i, i) for i in range(n)]
src, dst = torch.tensor(edges).t()
train = []
with open(f"{data_dir}/cora.split.tsv") as f:
    next(f)
    for line in f:
        node, part = line.split()
        if part == "train":
            train.append(int(node))
train = torch.tensor(train)


class GatLayer(torch.nn.Module):
    def __init__(self, d_in, d_head, heads, concat):
        super().__init__()
        self.h, self.f, self.concat = heads, d_head, concat
        self.lin = torch.nn.Linear(d_in, heads * d_head, bias=False)
        self.att_src = torch.nn.Parameter(torch.empty(heads, d_head))
        self.att_dst = torch.nn.Parameter(torch.empty(heads, d_head))
        self.bias = torch.nn.Parameter(torch.zeros(heads * d_head if concat else d_head))
        for p in (self.lin.weight, self.att_src, self.att_dst):
            torch.nn.init.xavier_uniform_(p)

    def forward(self, x):
        if isinstance(x, tuple):  # sparse input: (rows, cols, values) of the nonzeros
            r, c, v = x
            wx = torch.zeros(n, self.h * self.f).index_add_(0, r, self.lin.weight.t().index_select(0, c) * v[:, None])
        else:
            wx = self.lin(x)
        wx = wx.view(-1, self.h, self.f)                               # [N, H, F]
        s_src = (wx * self.att_src).sum(-1)                            # [N, H]
        s_dst = (wx * self.att_dst).sum(-1)
        e = F.leaky_relu(s_src.index_select(0, src) + s_dst.index_select(0, dst), 0.2)  # [E, H]
        m = torch.full((n, self.h), -1e38).scatter_reduce(0, dst[:, None].expand_as(e), e.detach(), "amax")
        a = (e - m.index_select(0, dst)).exp()
        z = torch.zeros(n, self.h).index_add_(0, dst, a)
        a = F.dropout(a / z.index_select(0, dst), 0.6, self.training)  # [E, H]
        out = torch.zeros(n, self.h, self.f).index_add_(0, dst, wx.index_select(0, src) * a[..., None])
        out = out.reshape(n, -1) if self.concat else out.mean(1)
        return out + self.bias


class Gat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = GatLayer(x.shape[1], 8, 8, True)
        self.l2 = GatLayer(64, 7, 1, False)

    def forward(self, x):
        if isinstance(x, tuple):
            x = (x[0], x[1], F.dropout(x[2], 0.6, self.training))
        else:
            x = F.dropout(x, 0.6, self.training)
        h = F.elu(self.l1(x))
        return self.l2(F.dropout(h, 0.6, self.training))


inputs = x
if sparse_input:
    nz = x.nonzero().t()
    inputs = (nz[0], nz[1], x[nz[0], nz[1]])
model = Gat()
opt = torch.optim.Adam(model.parameters(), lr=0.005)
times = []
for step in range(steps + 20):
    t = time.perf_counter()
    model.train()
    opt.zero_grad()
    loss = F.cross_entropy(model(inputs)[train], y[train])
    l2 = sum((p ** 2).sum() for name, p in model.named_parameters() if "bias" not in name) / 2
    (loss + 5e-4 * l2).backward()
    opt.step()
    if step >= 20:
        times.append(time.perf_counter() - t)
print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads, {'sparse' if sparse_input else 'dense'} input: GAT step on Cora "
      f"median {1000 * statistics.median(times):.2f} ms, mean {1000 * statistics.mean(times):.2f} ms over {steps} steps")
