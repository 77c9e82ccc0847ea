#!/usr/bin/env bash
# The GPU checks in one go, for a machine with an NVIDIA GPU (a lent one, or your own):
#   1. `xtask bench --backend BACKEND`: every workload on the GPU beside PyTorch on CUDA;
#   2. `xtask backend-check --backend BACKEND`: every zoo and sequence model forward on Flex
#      and on the GPU with the same weights, within the stated tolerance.
#
# Usage: scripts/gpu_check.sh XTASK_BINARY [BACKEND=wgpu] [OUT_DIR=target/gpu-check]
#
# XTASK_BINARY is `target/release/xtask` built with `--features wgpu` (or `cuda`), which may have
# been built on another machine: the bench finds its PyTorch peer under ./xtask/peers when run
# from the workspace root. Each step has its own time limit so that one slow step still leaves
# the others' results; everything is logged under OUT_DIR. On an H200 each bench workload took
# about 45 s (PyTorch's start and first-use kernel compilation included): all nine need ~7 min.
set -uo pipefail
xtask=${1:?usage: scripts/gpu_check.sh XTASK_BINARY [BACKEND] [OUT_DIR]}
backend=${2:-wgpu}
out=${3:-target/gpu-check}
mkdir -p "$out"

# wgpu needs a Vulkan loader and the NVIDIA ICD; name the driver's ICD file where the machine
# keeps it outside the loader's search path.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ "$backend" = wgpu ] && [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
    export VK_DRIVER_FILES=$icd
fi

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
    nproc
} 2>&1 | tee "$out/machine.txt"

echo "== bench on $backend beside PyTorch CUDA"
timeout "${BENCH_LIMIT:-480}" "$xtask" bench --backend "$backend" --out "$out/bench" 2>&1 |
    tee "$out/bench.log"

echo "== forward outputs, flex against $backend"
timeout "${CHECK_LIMIT:-150}" "$xtask" backend-check --backend "$backend" 2>&1 |
    tee "$out/backend-check.log"
