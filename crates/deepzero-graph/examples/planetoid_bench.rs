//! Benchmark: GCN or GAT on Planetoid Cora/CiteSeer over several seeds (mean ± std of the
//! test accuracy, and the mean seconds per training step).
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example planetoid_bench -- DATA_DIR cora gcn 10
//! ```

#[path = "planetoid/mod.rs"]
mod planetoid;

use burn::prelude::Device;
use deepzero_graph::gat::GatConfig;
use deepzero_graph::gcn::GcnConfig;
use deepzero_graph::node_train::{EdgeKind, NodeTensors, NodeTrainConfig, train_node_classifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = planetoid::Planetoid::from_args()?;
    let model = bench.rest.first().map_or("gcn", String::as_str).to_string();
    let seeds: u64 = bench.rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let device = Device::flex();
    let kind = if model == "gcn" {
        EdgeKind::GcnNormalized
    } else {
        EdgeKind::SelfLoops
    };
    let tensors = NodeTensors::new(&bench.data, &bench.features, &bench.split, kind, &device)?;
    let mut accs = Vec::new();
    for seed in 0..seeds {
        device.seed(seed);
        let train_dev = device.clone().autodiff();
        let out = if model == "gcn" {
            let m = GcnConfig::new(bench.features.dim, bench.data.num_classes()).init(&train_dev);
            train_node_classifier(m, &tensors, &NodeTrainConfig::gcn(), |_| {})?.summary()
        } else {
            let m = GatConfig::new(bench.features.dim, bench.data.num_classes()).init(&train_dev);
            train_node_classifier(m, &tensors, &NodeTrainConfig::gat(), |_| {})?.summary()
        };
        println!("seed {seed}: {out}");
        accs.push(out.test_accuracy);
    }
    let (mean, std) = planetoid::mean_and_std(&accs);
    println!(
        "{} {model}: test accuracy {:.2} ± {:.2} % over {seeds} seeds",
        bench.name,
        100.0 * mean,
        100.0 * std
    );
    Ok(())
}
