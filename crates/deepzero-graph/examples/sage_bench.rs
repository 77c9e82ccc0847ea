//! Benchmark: GraphSAGE-mean with sampled mini-batches (fan-outs 25, 10) on Planetoid
//! Cora/CiteSeer over several seeds (mean ± std of the test accuracy).
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example sage_bench -- DATA_DIR cora 5
//! ```

#[path = "planetoid/mod.rs"]
mod planetoid;

use burn::prelude::Device;
use deepzero_graph::sage::{SageConfig, SageData, SageTrainConfig, train_sage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = planetoid::Planetoid::from_args()?;
    let seeds: u64 = bench.rest.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let normalize = bench.rest.get(1).is_some_and(|s| s == "normalize");
    let device = Device::flex();
    let sage_data = SageData::new(&bench.data, &bench.features, &bench.split)?;
    let mut accs = Vec::new();
    for seed in 0..seeds {
        device.seed(seed);
        let model = SageConfig::new(bench.features.dim, bench.data.num_classes())
            .with_normalize(normalize)
            .init(&device.clone().autodiff());
        let cfg = SageTrainConfig {
            seed,
            ..SageTrainConfig::default()
        };
        let out = train_sage(model, &sage_data, &cfg, &device, |_| {})?;
        let nodes =
            out.history.iter().map(|r| r.mean_batch_nodes).sum::<f64>() / out.history.len() as f64;
        let step: f64 =
            out.history.iter().map(|r| r.seconds).sum::<f64>() / out.history.len() as f64;
        println!(
            "seed {seed}: test {:.2} %, valid {:.2} %, kept epoch {}, {:.0} sampled nodes per batch, {:.0} ms per epoch, {:.1} s",
            100.0 * out.test_accuracy,
            100.0 * out.valid_accuracy,
            out.model_epoch,
            nodes,
            1000.0 * step,
            out.seconds
        );
        accs.push(out.test_accuracy);
    }
    let (mean, sd) = planetoid::mean_and_std(&accs);
    println!(
        "{} graphsage-mean (fan-outs 25, 10): test {:.2} ± {:.2} % over {} seeds",
        bench.name,
        100.0 * mean,
        100.0 * sd,
        accs.len()
    );
    Ok(())
}
