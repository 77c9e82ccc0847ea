//! Experiment: burn's Conv2d (Flex) against an im2col + matmul convolution built from tensor
//! ops, forward + backward, on the shapes of LeNet-5 and ResNet-20.
#[path = "common/timing.rs"]
mod timing;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use timing::{max_diff_from_burn, time, time_burn_conv};

/// im2col by k² shifted slices of the padded input, then one batched matmul.
fn conv_im2col(x: Tensor<4>, w: Tensor<4>, pad: usize) -> Tensor<4> {
    let [b, c, h, wd] = x.dims();
    let [o, _, k, _] = w.dims();
    let x = if pad > 0 {
        x.pad(
            (pad, pad, pad, pad),
            burn::tensor::ops::PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let (ho, wo) = (h + 2 * pad - k + 1, wd + 2 * pad - k + 1);
    let mut cols = Vec::with_capacity(k * k);
    for dy in 0..k {
        for dx in 0..k {
            cols.push(x.clone().slice([0..b, 0..c, dy..dy + ho, dx..dx + wo]));
        }
    }
    // [B, C, k², Ho, Wo] → [B, C·k², Ho·Wo]
    let cols = Tensor::stack::<5>(cols, 2).reshape([b, c * k * k, ho * wo]);
    let w = w.reshape([1, o, c * k * k]); // weight index order (c, dy, dx) matches
    w.matmul(cols).reshape([b, o, ho, wo])
}

fn main() {
    let device = Device::flex().autodiff();
    for (name, b, c, o, k, s, pad) in [
        ("lenet conv1 b64 1→6 k5 28", 64, 1, 6, 5, 28, 2),
        ("lenet conv2 b64 6→16 k5 14", 64, 6, 16, 5, 14, 0),
        ("resnet20 s1 b128 16→16 k3 28", 128, 16, 16, 3, 28, 1),
        ("resnet20 s3 b128 64→64 k3 7", 128, 64, 64, 3, 7, 1),
        ("small-cnn b128 32→64 k3 14", 128, 32, 64, 3, 14, 1),
    ] {
        let conv = Conv2dConfig::new([c, o], [k, k])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(&device);
        let x = Tensor::<4>::random([b, c, s, s], Distribution::Normal(0.0, 1.0), &device);
        let w = conv.weight.val();
        let ours = conv_im2col(x.clone(), w.clone(), pad);
        let diff = max_diff_from_burn(ours, &conv, &x);
        println!("{name}: max |im2col − burn| = {diff:.2e}");
        let burn_ms = time_burn_conv(&conv, &x);
        let wp = w.clone().require_grad();
        let im_ms = time("  im2col+matmul fwd+bwd", 10, || {
            let x = x.clone().require_grad();
            let y = conv_im2col(x.clone(), wp.clone(), pad);
            let g = y.sum().backward();
            let _ = (x.grad(&g), wp.grad(&g));
        });
        println!("  speed-up {:.2}x", burn_ms / im_ms);
    }
}
