//! Trains a vanilla RNN, an LSTM and a GRU on the "remember the first token" task
//! (`deepzero_sequence::rnn::memory_task`) for the same fixed budget and prints a table.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example memory_task -- [steps] [iterations] [seed...]
//! ```
//!
//! Defaults: 100 steps, 300 iterations of batch 32, seed 1. Environment overrides:
//! `GATE_BIAS`, `LR`, `HIDDEN`, `NOISE`.

use burn::prelude::Device;
use deepzero_sequence::rnn::RecurrentKind;
use deepzero_sequence::rnn::memory_task::{
    MemoryTaskConfig, first_token_gradient_ratio, train_memory_task,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let defaults = MemoryTaskConfig::new();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let seeds: Vec<u64> = if args.len() > 2 {
        args[2..].iter().filter_map(|a| a.parse().ok()).collect()
    } else {
        vec![defaults.seed]
    };
    let base = defaults
        .clone()
        .with_steps(arg(0, defaults.steps))
        .with_iterations(arg(1, defaults.iterations))
        .with_gate_bias(env("GATE_BIAS", defaults.gate_bias))
        .with_learning_rate(env("LR", defaults.learning_rate))
        .with_d_hidden(env("HIDDEN", defaults.d_hidden as f64) as usize)
        .with_noise_std(env("NOISE", defaults.noise_std));
    println!(
        "remember the first of {} tokens: {} classes (chance {:.2}), {} distractors, hidden {}, \
         {} iterations × batch {}, gate bias {}",
        base.steps,
        base.classes,
        1.0 / base.classes as f64,
        base.distractors,
        base.d_hidden,
        base.iterations,
        base.batch,
        base.gate_bias
    );
    println!("| seed | cell | ‖∂L/∂x₀‖/‖∂L/∂x_T−1‖ at init | accuracy | final loss | seconds |");
    println!("|---|---|---|---|---|---|");
    let device = Device::flex();
    for seed in seeds {
        let cfg = base.clone().with_seed(seed);
        for kind in [RecurrentKind::Rnn, RecurrentKind::Lstm, RecurrentKind::Gru] {
            let ratio = first_token_gradient_ratio(kind, &cfg, &device);
            let r = train_memory_task(kind, &cfg, &device);
            println!(
                "| {seed} | {:?} | {ratio:.2e} | {:.3} | {:.3} | {:.1} |",
                r.kind, r.accuracy, r.final_loss, r.seconds
            );
        }
    }
}
