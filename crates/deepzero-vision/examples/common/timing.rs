//! What the convolution experiments share: the timer, the reference they are timed against
//! (burn's `Conv2d`, forward and backward) and how far a result is from it.
use std::time::Instant;

use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// Runs `f` once to warm up, then `iters` times; prints and returns the mean in milliseconds.
pub fn time(label: &str, iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / iters as f64;
    println!("{label:<40} {ms:8.2} ms");
    ms
}

/// Times burn's `Conv2d` forward and backward on `x` (10 runs after a warm-up), the reference
/// of every experiment; prints and returns the mean in milliseconds.
pub fn time_burn_conv(conv: &Conv2d, x: &Tensor<4>) -> f64 {
    time("  burn Conv2d fwd+bwd", 10, || {
        let x = x.clone().require_grad();
        let y = conv.forward(x.clone());
        let g = y.sum().backward();
        let _ = x.grad(&g);
    })
}

/// Largest `|ours − burn's|` over the output of `conv` on `x`.
pub fn max_diff_from_burn(ours: Tensor<4>, conv: &Conv2d, x: &Tensor<4>) -> f32 {
    (ours - conv.forward(x.clone()))
        .abs()
        .max()
        .into_scalar::<f32>()
}
