//! Trains a whole graph task and reads the run folder back.
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example graph_task                 # karate-node2vec on datasets/karate
//! cargo run --release -p deepzero-graph --example graph_task -- cora-gcn ../shared/datasets/graphs
//! ```
//! Recipes: cora-gcn, cora-gat, citeseer-gcn, citeseer-gat, cora-deepwalk, cora-node2vec,
//! karate-node2vec, karate-gcn, polblogs-node2vec.

use std::path::PathBuf;

use burn::prelude::Device;
use deepzero_graph::data::shipped_karate_dir;
use deepzero_graph::tasks::{GraphTaskSpec, Predictor, train_with_log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let recipe = args.first().map_or("karate-node2vec", String::as_str);
    let data_dir = args.get(1).map_or_else(shipped_karate_dir, PathBuf::from);
    let run_dir = std::env::temp_dir().join(format!("deepzero-{recipe}-{}", std::process::id()));

    let device = Device::flex();
    let spec = GraphTaskSpec::recipe(recipe)?.with_seed(0);
    let report = train_with_log(&spec, &data_dir, &run_dir, &device, &mut |line| {
        println!("{line}")
    })?;
    println!("run folder: {}", run_dir.display());

    // Inference from the run folder alone (GCN/GAT read the graph again from the data folder).
    let predictor = Predictor::load(&run_dir, Some(&data_dir), &device)?;
    assert_eq!(predictor.evaluate()?, report.test);
    for p in predictor.predict()?.iter().take(5) {
        println!(
            "node {}: {} (p = {:.2})",
            p.node, p.class_name, p.probability
        );
    }
    predictor.write_embeddings(&run_dir.join("vectors.txt"))?;
    Ok(())
}
