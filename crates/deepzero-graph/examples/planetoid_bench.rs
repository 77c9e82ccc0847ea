//! Benchmark: GCN or GAT on Planetoid Cora/CiteSeer over several seeds (mean ± std of the
//! test accuracy, and the mean seconds per training step).
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example planetoid_bench -- DATA_DIR cora gcn 10
//! ```

use burn::prelude::Device;
use deepzero_graph::data::{DatasetName, load_dataset};
use deepzero_graph::gat::GatConfig;
use deepzero_graph::gcn::GcnConfig;
use deepzero_graph::node_train::{EdgeKind, NodeTensors, NodeTrainConfig, train_node_classifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .map_or("../shared/datasets/graphs", String::as_str);
    let name: DatasetName = args.get(1).map_or("cora", String::as_str).parse()?;
    let model = args.get(2).map_or("gcn", String::as_str).to_string();
    let seeds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let device = Device::flex();
    let data = load_dataset(name, std::path::Path::new(dir))?;
    let features = data.features_or_identity().row_normalized();
    let split = data.split.clone().ok_or("no split")?;
    let kind = if model == "gcn" {
        EdgeKind::GcnNormalized
    } else {
        EdgeKind::SelfLoops
    };
    let tensors = NodeTensors::new(&data, &features, &split, kind, &device)?;
    let mut accs = Vec::new();
    for seed in 0..seeds {
        device.seed(seed);
        let train_dev = device.clone().autodiff();
        let out = if model == "gcn" {
            let m = GcnConfig::new(features.dim, data.num_classes()).init(&train_dev);
            train_node_classifier(m, &tensors, &NodeTrainConfig::gcn(), |_| {})?.summary()
        } else {
            let m = GatConfig::new(features.dim, data.num_classes()).init(&train_dev);
            train_node_classifier(m, &tensors, &NodeTrainConfig::gat(), |_| {})?.summary()
        };
        println!("seed {seed}: {out}");
        accs.push(out.test_accuracy);
    }
    let mean = accs.iter().sum::<f64>() / accs.len() as f64;
    let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / accs.len() as f64).sqrt();
    println!(
        "{name} {model}: test accuracy {:.2} ± {:.2} % over {seeds} seeds",
        100.0 * mean,
        100.0 * std
    );
    Ok(())
}
