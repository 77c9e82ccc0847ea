//! Benchmark: GraphSAGE-mean with sampled mini-batches (fan-outs 25, 10) on Planetoid
//! Cora/CiteSeer over several seeds (mean ± std of the test accuracy).
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example sage_bench -- DATA_DIR cora 5
//! ```

use burn::prelude::Device;
use deepzero_graph::data::{DatasetName, load_dataset};
use deepzero_graph::sage::{SageConfig, SageData, SageTrainConfig, train_sage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .map_or("../shared/datasets/graphs", String::as_str);
    let name: DatasetName = args.get(1).map_or("cora", String::as_str).parse()?;
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let normalize = args.get(3).is_some_and(|s| s == "normalize");
    let device = Device::flex();
    let data = load_dataset(name, std::path::Path::new(dir))?;
    let features = data.features_or_identity().row_normalized();
    let split = data.split.clone().ok_or("no split")?;
    let sage_data = SageData::new(&data, &features, &split)?;
    let mut accs = Vec::new();
    for seed in 0..seeds {
        device.seed(seed);
        let model = SageConfig::new(features.dim, data.num_classes())
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
    let n = accs.len() as f64;
    let mean = accs.iter().sum::<f64>() / n;
    let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
    println!(
        "{name} graphsage-mean (fan-outs 25, 10): test {:.2} ± {:.2} % over {} seeds",
        100.0 * mean,
        100.0 * sd,
        accs.len()
    );
    Ok(())
}
