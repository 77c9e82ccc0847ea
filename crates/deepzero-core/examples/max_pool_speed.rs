//! Measurement: burn-flex max pooling (forward, with indices, as autodiff records it) on the
//! shapes of LeNet-5 and ResNet-18's stem, with whichever burn-flex the workspace builds (the
//! published crate, or `patches/burn-flex` when the workspace `Cargo.toml` switches it on);
//! docs/benchmarks.md, "The burn-flex patch", compares the two.
//!
//! `cargo run --release -p deepzero-core --example max_pool_speed [-- REPS]`
//! (`REPS` defaults to 200; `valgrind --tool=callgrind` with a small `REPS` counts instructions).
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("REPS must be a whole number"))
        .unwrap_or(200);
    let device = Device::flex();
    let shapes = [
        ("lenet pool1 [32,6,28,28] k2 s2", [32, 6, 28, 28], 2, 2, 0),
        ("lenet pool2 [32,16,10,10] k2 s2", [32, 16, 10, 10], 2, 2, 0),
        (
            "resnet18 stem [8,64,112,112] k3 s2 p1",
            [8, 64, 112, 112],
            3,
            2,
            1,
        ),
    ];
    for (label, dims, kernel, stride, pad) in shapes {
        let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let options = MaxPoolOptions {
            kernel_size: [kernel; 2],
            stride: [stride; 2],
            padding: [(pad, pad); 2],
            dilation: [1; 2],
            ceil_mode: false,
        };
        let run = || {
            let (values, _) = max_pool2d_with_indices(x.clone(), options.clone());
            // Reading one value waits for the (possibly lazy) result.
            values.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>()
        };
        run();
        let start = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(run());
        }
        let per_call = start.elapsed().as_secs_f64() * 1e6 / reps as f64;
        let per_image = per_call / dims[0] as f64;
        println!("{label:<40} {per_call:10.1} µs/call {per_image:8.2} µs/image");
    }
}
