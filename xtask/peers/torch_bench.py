#!/usr/bin/env python3
"""PyTorch peer of `cargo xtask bench`: the same workloads, the same measurement.

Prints one JSON object: {"workload", "samples_per_second", "params", "torch", "threads", "device"}.
With `--device cuda` the models live on the GPU (torch's default device), host data is copied to
it every step as on the CPU, and each step still ends by reading the loss back (a synchronisation).
PyTorch's CUDA defaults are kept: float32 matrix products in full float32, cuDNN allowed to use TF32
for convolutions (`torch.backends.cudnn.allow_tf32`), as a user would get them.
Every model here is built to be the same architecture as deepzero's (the parameter counts are
compared by `cargo xtask bench`, which fails when they differ).
"""
import argparse, json, os, statistics, time

import torch
import torch.nn.functional as F
from torch import nn

CLASSES = 10
# Where models and per-step data live; `main` sets it from --device.
DEVICE = torch.device("cpu")


def to_device(t):
    """A fresh copy of host tensor `t` on DEVICE: what a data loader hands a training step."""
    return t.clone() if DEVICE.type == "cpu" else t.to(DEVICE)


def mlp():
    # Same as deepzero_vision::MlpClassifier: 784-512-256-10, ReLU, dropout 0.2 after each hidden layer.
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def lenet():
    # Same as deepzero_vision::LeNet5: conv 5x5 pad 2 (6) - max 2 - conv 5x5 (16) - max 2 - 120 - 84 - 10.
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class CifarBlock(nn.Module):
    """He et al. 2016 basic block with the option-A shortcut (deepzero_vision::CifarBlock)."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = (planes - in_planes) // 2 if stride != 1 or in_planes != planes else 0

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.pad:
            # x[:, :, ::2, ::2], then planes/4 zero channels on each side: no parameters.
            shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        else:
            shortcut = x
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) of He et al. 2016 §4.2, as deepzero_vision::CifarResNet (option A)."""

    def __init__(self, n=3, in_channels=1, classes=CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(n):
                blocks.append(CifarBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class LstmClassifier(nn.Module):
    """One-layer LSTM 128 → 256 and a linear head on the final hidden state."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(128, 256, batch_first=True)
        self.head = nn.Linear(256, CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


class GruClassifier(nn.Module):
    """One-layer GRU 128 → 256 and a linear head on the final hidden state."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(128, 256, batch_first=True)
        self.head = nn.Linear(256, CLASSES)

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(h[-1])


def transformer_layer():
    # Post-norm (norm_first=False), ReLU, dropout 0: deepzero's TransformerLayerConfig defaults
    # with dropout 0 and burn-nn's TransformerEncoder with activation ReLU, norm_first false.
    return nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, dropout=0.0, activation="relu",
                                      layer_norm_eps=1e-5, batch_first=True, norm_first=False)


def resnet18():
    import torchvision
    return torchvision.models.resnet18(weights=None, num_classes=1000)


def googlenet_small():
    # torchvision's GoogLeNet without auxiliary heads, with deepzero's small-input stem
    # (GoogLeNetConfig::small_input): conv1 a 3x3 stride-1 BasicConv2d on 1 channel, no maxpool1.
    import torchvision
    from torchvision.models.googlenet import BasicConv2d
    model = torchvision.models.googlenet(weights=None, num_classes=CLASSES, aux_logits=False,
                                         transform_input=False, init_weights=True)
    model.conv1 = BasicConv2d(1, 64, kernel_size=3, stride=1, padding=1)
    model.maxpool1 = nn.Identity()
    return model


# Cora's shape, as deepzero's side (xtask/src/bench/workloads.rs, `CORA`): nodes, feature
# dimension, nonzeros per row, undirected edges, classes, labelled nodes.
CORA = (2708, 1433, 18, 5278, 7, 140)


def synthetic_cora():
    """The same graph as deepzero's `synthetic_cora`: node i's features are columns
    (131 i + 79 k) mod 1433 for k < 18, each 1/18; undirected edge k < 5278 joins a = k mod 2708
    and b = (a + 1 + (7919 k mod 2707)) mod 2708, both ways, then one self-loop per node;
    class i mod 7, nodes 0..140 labelled."""
    nodes, dim, per_row, undirected, classes, labelled = CORA
    i = torch.arange(nodes).repeat_interleave(per_row)
    k = torch.arange(per_row).repeat(nodes)
    features = (i, (131 * i + 79 * k) % dim, torch.full((nodes * per_row,), 1.0 / per_row))
    k = torch.arange(undirected)
    a = k % nodes
    b = (a + 1 + (7919 * k) % (nodes - 1)) % nodes
    loops = torch.arange(nodes)
    src = torch.cat([torch.stack([a, b], 1).reshape(-1), loops])
    dst = torch.cat([torch.stack([b, a], 1).reshape(-1), loops])
    labels = torch.arange(labelled) % classes
    return features, src, dst, labels


class GatLayer(nn.Module):
    """scripts/gat_speed.py's PyG-style layer (scatter edge softmax, no dense N x N), sparse input."""

    def __init__(self, d_in, d_head, heads, concat, edges, n):
        super().__init__()
        self.h, self.f, self.concat, self.n = heads, d_head, concat, n
        self.src, self.dst = edges
        self.lin = nn.Linear(d_in, heads * d_head, bias=False)
        self.att_src = nn.Parameter(torch.empty(heads, d_head))
        self.att_dst = nn.Parameter(torch.empty(heads, d_head))
        self.bias = nn.Parameter(torch.zeros(heads * d_head if concat else d_head))
        for p in (self.lin.weight, self.att_src, self.att_dst):
            nn.init.xavier_uniform_(p)

    def forward(self, x):
        n, src, dst = self.n, self.src, self.dst
        if isinstance(x, tuple):  # sparse input: (rows, cols, values) of the nonzeros
            r, c, v = x
            wx = torch.zeros(n, self.h * self.f).index_add_(
                0, r, self.lin.weight.t().index_select(0, c) * v[:, None])
        else:
            wx = self.lin(x)
        wx = wx.view(-1, self.h, self.f)  # [N, H, F]
        s_src = (wx * self.att_src).sum(-1)  # [N, H]
        s_dst = (wx * self.att_dst).sum(-1)
        e = F.leaky_relu(s_src.index_select(0, src) + s_dst.index_select(0, dst), 0.2)  # [E, H]
        m = torch.full((n, self.h), -1e38).scatter_reduce(
            0, dst[:, None].expand_as(e), e.detach(), "amax")
        a = (e - m.index_select(0, dst)).exp()
        z = torch.zeros(n, self.h).index_add_(0, dst, a)
        a = F.dropout(a / z.index_select(0, dst), 0.6, self.training)  # [E, H]
        out = torch.zeros(n, self.h, self.f).index_add_(0, dst, wx.index_select(0, src) * a[..., None])
        out = out.reshape(n, -1) if self.concat else out.mean(1)
        return out + self.bias


class Gat(nn.Module):
    """deepzero_graph::gat::Gat: dropout, GAT(8 x 8, concat), ELU, dropout, GAT(1 head, mean)."""

    def __init__(self, edges):
        super().__init__()
        nodes, dim, _, _, classes, _ = CORA
        self.l1 = GatLayer(dim, 8, 8, True, edges, nodes)
        self.l2 = GatLayer(64, classes, 1, False, edges, nodes)

    def forward(self, x):
        x = (x[0], x[1], F.dropout(x[2], 0.6, self.training))
        h = F.elu(self.l1(x))
        return self.l2(F.dropout(h, 0.6, self.training))


def gat_step():
    """One full-batch GAT step on the synthetic Cora (graph resident, as deepzero's side):
    cross-entropy on the labelled nodes + 5e-4 * (1/2)||theta||^2 over weights and attention
    vectors, Adam lr 0.005."""
    features, src, dst, labels = synthetic_cora()
    model = Gat((src, dst))
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=0.005, eps=1e-8)
    labelled = labels.shape[0]

    def step():
        optim.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(features)[:labelled], labels)
        l2 = sum((p ** 2).sum() for name, p in model.named_parameters() if "bias" not in name) / 2
        loss = loss + 5e-4 * l2
        value = loss.item()
        loss.backward()
        optim.step()
        return value

    return model, step


# MovieLens-100k's users and items; NeuMF's GMF factors (as deepzero's `NEUMF`).
NEUMF = (943, 1682, 16)


class NeuMf(nn.Module):
    """deepzero_recsys::models::neumf::NcfNet: GMF (p_u * q_i) and an MLP tower on [p_u ; q_i]
    (128-64-32-16, ReLU), concatenated into one linear logit."""

    def __init__(self, users, items, factors, layers=(128, 64, 32, 16)):
        super().__init__()
        self.gmf_user, self.gmf_item = nn.Embedding(users, factors), nn.Embedding(items, factors)
        self.mlp_user = nn.Embedding(users, layers[0] // 2)
        self.mlp_item = nn.Embedding(items, layers[0] // 2)
        for e in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(e.weight, std=0.01)
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layers, layers[1:]))
        self.out = nn.Linear(factors + layers[-1], 1)
        for m in list(self.mlp) + [self.out]:
            nn.init.xavier_uniform_(m.weight)

    def forward(self, users, items):
        gmf = self.gmf_user(users) * self.gmf_item(items)
        h = torch.cat([self.mlp_user(users), self.mlp_item(items)], 1)
        for layer in self.mlp:
            h = F.relu(layer(h))
        return self.out(torch.cat([gmf, h], 1)).reshape(-1)


def neumf_step(batch=256):
    """One NeuMF step: example i is user 7919 i mod 943, item 104729 i mod 1682, label 1 when
    i mod 5 = 0; BCE on logits, Adam lr 0.001. Data copied from the host every step."""
    users, items, factors = NEUMF
    model = NeuMf(users, items, factors)
    model.train()
    i = torch.arange(batch, device="cpu")
    user_ids, item_ids = (7919 * i) % users, (104729 * i) % items
    labels = (i % 5 == 0).to(torch.float32)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def step():
        optim.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(to_device(user_ids), to_device(item_ids)),
                                                  to_device(labels))
        value = loss.item()
        loss.backward()
        optim.step()
        return value

    return model, step


# The `digits-unet` recipe's U-Net (deepzero_vision::segment::task, `SegmentArch::UNet`): one
# grey channel, background + 10 digits, width 12, depth 4, transposed-convolution up-sampling.
UNET = (1, 11, 12, 4)  # in channels, classes, width, depth


class DoubleConv(nn.Sequential):
    """deepzero_vision::segment::unet::DoubleConv: (3x3 conv pad 1 without bias, BN, ReLU) x 2."""

    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """deepzero's UpBlock: ConvTranspose2d(2c, c, 2, stride 2) with bias, then cat([skip, up])
    on channels and DoubleConv 2c -> c. The sides here are multiples of 16, so the padding
    deepzero applies to odd sides never happens on either side."""

    def __init__(self, c_in):
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c_in // 2, 2, stride=2)
        self.conv = DoubleConv(c_in, c_in // 2)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.up(x)], 1))


class UNet(nn.Module):
    """deepzero_vision::segment::unet::UNet: DoubleConv in -> w, `depth` levels of
    max 2x2 + DoubleConv (doubling), the decoder deepest first, a 1x1 head with bias."""

    def __init__(self, in_channels=UNET[0], classes=UNET[1], width=UNET[2], depth=UNET[3]):
        super().__init__()
        self.inc = DoubleConv(in_channels, width)
        self.down = nn.ModuleList(DoubleConv(width << (i - 1), width << i)
                                  for i in range(1, depth + 1))
        self.up = nn.ModuleList(UpBlock(width << i) for i in range(depth, 0, -1))
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        x = self.inc(x)
        skips = []
        for level in self.down:
            skips.append(x)
            x = level(F.max_pool2d(x, 2))
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        return self.head(x)


def unet_step(batch=8, side=64):
    """One U-Net training step as the `digits-unet` recipe takes it: per-pixel cross-entropy
    (ignore index 255, as deepzero's `segmentation_step`; no pixel is ignored here), Adam lr 2e-3.
    Pixel i of the batch is ((7919 i) mod 256)/255, its mask i mod 11."""
    in_channels, classes, _, _ = UNET
    model = UNet()
    model.train()
    images = host_data((batch, in_channels, side, side), 0.0)
    masks = (torch.arange(batch * side * side, device="cpu") % classes).reshape(batch, side, side)
    optim = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-8)

    def step():
        optim.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(to_device(images)), to_device(masks), ignore_index=255)
        value = loss.item()
        loss.backward()
        optim.step()
        return value

    return model, step


# The `digits-yolo` recipe's detector (deepzero_vision::detect::yolo3 as tasks::detect builds it):
# one grey channel, 10 classes, stem width 8, three anchors per cell at strides 4, 8, 16.
YOLO = (1, 10, 8, 3)  # in channels, classes, width, anchors per scale


class ConvBnLeaky(nn.Sequential):
    """deepzero's ConvBnLeaky: k x k conv (padding k // 2, no bias), BN, leaky ReLU 0.1."""

    def __init__(self, c_in, c_out, k, stride=1):
        super().__init__(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1, inplace=True))


class Yolo3(nn.Module):
    """deepzero_vision::detect::yolo3::Yolo3: stem conv3 (w), four stages (3x3 stride-2 conv,
    3x3 conv) doubling the channels, an FPN-style top-down neck (1x1 lateral, nearest 2x up,
    cat([up, skip]), 3x3 merge), and per scale a head conv3 + 1x1 conv with bias to 3 (5 + K)."""

    def __init__(self, in_channels=YOLO[0], classes=YOLO[1], w=YOLO[2], anchors=YOLO[3]):
        super().__init__()
        self.stem = ConvBnLeaky(in_channels, w, 3)
        self.stages = nn.ModuleList(nn.Sequential(ConvBnLeaky(a, b, 3, 2), ConvBnLeaky(b, b, 3))
                                    for a, b in [(w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w),
                                                 (8 * w, 16 * w)])
        self.reduce5 = ConvBnLeaky(16 * w, 8 * w, 1)
        self.lateral4 = ConvBnLeaky(8 * w, 4 * w, 1)
        self.merge4 = ConvBnLeaky(4 * w + 8 * w, 4 * w, 3)
        self.lateral3 = ConvBnLeaky(4 * w, 2 * w, 1)
        self.merge3 = ConvBnLeaky(2 * w + 4 * w, 2 * w, 3)
        self.heads = nn.ModuleList(nn.Sequential(ConvBnLeaky(c, c, 3),
                                                 nn.Conv2d(c, anchors * (5 + classes), 1))
                                   for c in (2 * w, 4 * w, 8 * w))

    def forward(self, x):
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        c3, c4, c5 = features[1:]
        n5 = self.reduce5(c5)
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")
        n4 = self.merge4(torch.cat([up(self.lateral4(n5)), c4], 1))
        n3 = self.merge3(torch.cat([up(self.lateral3(n4)), c3], 1))
        return [head(n) for head, n in zip(self.heads, (n3, n4, n5))]


def yolo_step(batch=32, side=64):
    """One inference step of the detector: the raw head outputs of the three scales read back;
    decoding and NMS are not timed (on neither side). Eval mode (BN on running statistics)."""
    model = Yolo3()
    model.eval()
    images = host_data((batch, YOLO[0], side, side), 0.0)

    def step():
        with torch.inference_mode():
            return sum(m.cpu().numpy().sum() for m in model(to_device(images)))

    return model, step


# name: (builder, batch, input shape without the batch, kind, optimiser)
WORKLOADS = {
    "mnist-mlp": (mlp, 128, (1, 28, 28), "classify", "adam"),
    "mnist-lenet": (lenet, 64, (1, 28, 28), "classify", "adam"),
    "resnet18-infer": (resnet18, 8, (3, 224, 224), "infer", None),
    "resnet20-train": (CifarResNet, 128, (1, 28, 28), "classify", "momentum"),
    "googlenet-train": (googlenet_small, 128, (1, 28, 28), "classify", "momentum"),
    "lstm-train": (LstmClassifier, 32, (64, 128), "classify", "adam"),
    "gru-train": (GruClassifier, 32, (64, 128), "classify", "adam"),
    "transformer-layer-train": (transformer_layer, 32, (128, 256), "regress", "adam"),
    # One step = one whole graph; the model and its step come from `gat_step`.
    "gat-cora-train": (gat_step, 1, None, "step", None),
    "neumf-train": (neumf_step, 256, None, "step", None),
    "unet-training": (unet_step, 8, None, "step", None),
    "yolo-inference": (yolo_step, 32, None, "step", None),
}


def host_data(shape, offset):
    """The same values as deepzero's side: ((i·7919) mod 256)/255 − offset."""
    n = 1
    for d in shape:
        n *= d
    i = torch.arange(n, dtype=torch.int64, device="cpu")
    return (((i * 7919) % 256).to(torch.float32) / 255.0 - offset).reshape(shape)


def make_step(model, batch, shape, kind, optimiser):
    """One step of a batch workload: fixed data on the host; every step copies it into a fresh
    tensor, as deepzero's side does."""
    offset = {"classify": 0.0 if len(shape) == 3 else 0.5, "infer": 0.5, "regress": 0.5}[kind]
    inputs = host_data((batch,) + shape, offset)
    labels = torch.tensor([i % CLASSES for i in range(batch)], dtype=torch.int64, device="cpu")
    targets = host_data((batch,) + shape, 0.25)

    if kind == "infer":
        model.eval()

        def step():
            with torch.inference_mode():
                return model(to_device(inputs)).cpu().numpy().sum()
    else:
        model.train()
        if optimiser == "adam":
            optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
        else:
            optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0,
                                    weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss() if kind == "classify" else nn.MSELoss()

        def step():
            x = to_device(inputs)
            y = to_device(labels) if kind == "classify" else to_device(targets)
            optim.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            value = loss.item()
            loss.backward()
            optim.step()
            return value

    return step


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = p.parse_args()
    global DEVICE
    DEVICE = torch.device(a.device)
    if DEVICE.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_bench.py: --device cuda, but torch.cuda.is_available() is false")
        # Models, graphs and the tensors built inside forward passes go to the GPU; host data
        # is made on "cpu" explicitly and copied each step.
        torch.set_default_device(DEVICE)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, a.threads))
    build, batch, shape, kind, optimiser = WORKLOADS[a.workload]
    if kind == "step":
        model, step = build()
    else:
        model = build()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if kind != "step":
        step = make_step(model, batch, shape, kind, optimiser)

    for _ in range(a.warmup):
        step()
    rates = []
    steps = max(1, a.steps)
    for _ in range(max(1, a.repeats)):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - start))
    print(json.dumps({"workload": a.workload, "samples_per_second": statistics.median(rates),
                      "params": params, "torch": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu"}))


if __name__ == "__main__":
    main()
