//! Experiment: time one training step (forward, cross-entropy, backward) of the small-input
//! GoogLeNet on a random batch of 28×28 grey images, as `fashion-googlenet` trains it.
//! `cargo run --release -p deepzero-vision --example googlenet_step [BATCH] [REPEATS]`
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use deepzero_vision::classify::zoo::googlenet::GoogLeNetConfig;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let batch = args.next().unwrap_or(32);
    let repeats = args.next().unwrap_or(5);
    let device = Device::flex().autodiff();
    let model = GoogLeNetConfig::new(10)
        .with_in_channels(1)
        .small_input()
        .init(&device);
    let images = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let labels = Tensor::<1, Int>::from_data(
        TensorData::new((0..batch as i64).map(|i| i % 10).collect(), [batch]),
        &device,
    );
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut times = Vec::new();
    for step in 0..=repeats {
        let start = Instant::now();
        let logits = model.forward(images.clone());
        let loss = loss_fn.forward(logits, labels.clone());
        let grads = loss.backward();
        let weight = &model.conv1.conv.weight;
        let _ = weight.val().grad(&grads).expect("a gradient").into_data();
        let seconds = start.elapsed().as_secs_f64();
        if step > 0 {
            times.push(seconds); // step 0 warms up
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "batch {batch}: median {:.0} ms per step, {:.1} samples/s (steps: {:?} ms)",
        median * 1e3,
        batch as f64 / median,
        times.iter().map(|t| (t * 1e3).round()).collect::<Vec<_>>()
    );
}
