#!/usr/bin/env python3
"""PyTorch peer of `cargo xtask bench`: the same workloads, the same measurement.

Prints one JSON object: {"workload", "samples_per_second", "torch", "threads"}.
"""
import argparse, json, os, statistics, time

import torch
from torch import nn


def mlp():
    # Same as deepzero_vision::MlpClassifier: 784-512-256-10, ReLU, dropout 0.2 after each hidden layer.
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def lenet():
    # Same as deepzero_vision::LeNet5: conv 5x5 pad 2 (6) - max 2 - conv 5x5 (16) - max 2 - 120 - 84 - 10.
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


WORKLOADS = {"mnist-mlp": (mlp, 128), "mnist-lenet": (lenet, 64)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    build, batch = WORKLOADS[a.workload]
    model = build()
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    # Fixed data on the host; every step copies it into a fresh tensor, as deepzero's side does
    # (a Python list → tensor conversion would cost more than the step itself).
    pixels = torch.tensor([((i * 7919) % 256) / 255.0 for i in range(batch * 784)],
                          dtype=torch.float32).reshape(batch, 1, 28, 28)
    labels = torch.tensor([i % 10 for i in range(batch)], dtype=torch.int64)

    def step():
        x = pixels.clone()
        y = labels.clone()
        optim.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optim.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(max(1, a.repeats)):
        start = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps * batch / (time.perf_counter() - start))
    print(json.dumps({"workload": a.workload, "samples_per_second": statistics.median(rates),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
