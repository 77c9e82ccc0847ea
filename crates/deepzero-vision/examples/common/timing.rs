//! The timer shared by the convolution experiments.
use std::time::Instant;

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
