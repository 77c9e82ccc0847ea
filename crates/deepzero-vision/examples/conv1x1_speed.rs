//! Experiment: burn's Conv2d (Flex) against a 1×1 convolution written as one batched matmul,
//! forward + backward, on the 1×1 shapes of the small-input GoogLeNet.
#[path = "common/timing.rs"]
mod timing;

use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use timing::{max_diff_from_burn, time, time_burn_conv};

fn conv1x1(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let o = w.dims()[0];
    let y = w.reshape([1, o, c]).matmul(x.reshape([n, c, h * wd])) + b.reshape([1, o, 1]);
    y.reshape([n, o, h, wd])
}

/// Channels-last: one `[N·H·W, C] × [C, O]` GEMM.
fn conv1x1_cl(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let o = w.dims()[0];
    let rows = x.permute([0, 2, 3, 1]).reshape([n * h * wd, c]);
    let y = rows.matmul(w.reshape([o, c]).transpose()) + b.reshape([1, o]);
    y.reshape([n, h, wd, o]).permute([0, 3, 1, 2])
}

fn main() {
    let device = Device::flex().autodiff();
    for (name, b, c, o, s) in [
        ("stem conv2 64→64 28²", 128, 64, 64, 28),
        ("3a 192→64 14²", 128, 192, 64, 14),
        ("3a 192→16 14²", 128, 192, 16, 14),
        ("4a 480→192 7²", 128, 480, 192, 7),
        ("5a 832→256 4²", 128, 832, 256, 4),
    ] {
        let conv = Conv2dConfig::new([c, o], [1, 1]).init(&device);
        let x = Tensor::<4>::random([b, c, s, s], Distribution::Normal(0.0, 1.0), &device);
        let w = conv.weight.val();
        let bias = conv.bias.as_ref().unwrap().val();
        let ours = conv1x1(x.clone(), w.clone(), bias.clone());
        let diff = max_diff_from_burn(ours, &conv, &x);
        println!("{name}: max |matmul − burn| = {diff:.2e}");
        let burn_ms = time_burn_conv(&conv, &x);
        let wp = w.clone().require_grad();
        let bp = bias.clone().require_grad();
        let mm_ms = time("  matmul fwd+bwd", 10, || {
            let x = x.clone().require_grad();
            let y = conv1x1(x.clone(), wp.clone(), bp.clone());
            let g = y.sum().backward();
            let _ = (x.grad(&g), wp.grad(&g), bp.grad(&g));
        });
        println!("  speed-up {:.2}x", burn_ms / mm_ms);
        let diff = max_diff_from_burn(conv1x1_cl(x.clone(), w.clone(), bias.clone()), &conv, &x);
        let cl_ms = time("  channels-last GEMM fwd+bwd", 10, || {
            let x = x.clone().require_grad();
            let y = conv1x1_cl(x.clone(), wp.clone(), bp.clone());
            let g = y.sum().backward();
            let _ = (x.grad(&g), wp.grad(&g), bp.grad(&g));
        });
        println!("  speed-up {:.2}x (max diff {diff:.1e})", burn_ms / cl_ms);
    }
}
