//! Trains a recommender recipe and prints a user's top 10 and a movie's neighbours.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example recommend                 # generated sample
//! cargo run --release -p deepzero-recsys --example recommend -- \
//!     --data-dir ../shared/datasets/movielens-100k ml100k-mf                  # real ml-100k
//! ```
use std::path::PathBuf;

use burn::prelude::*;
use deepzero_recsys::data::{SyntheticConfig, generate, write_ml100k};
use deepzero_recsys::tasks::{Predictor, TaskSpec, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::env::temp_dir().join(format!("deepzero-recsys-{}", std::process::id()));
    let data_dir = match args.iter().position(|a| a == "--data-dir") {
        Some(k) => PathBuf::from(args.get(k + 1).ok_or("--data-dir needs a folder")?),
        None => {
            // MovieLens may not be redistributed: generate data in its layout instead.
            write_ml100k(&out.join("data"), &generate(&SyntheticConfig::default())?)?;
            out.join("data")
        }
    };
    let recipe = args
        .iter()
        .find(|a| a.starts_with("ml100k-"))
        .map_or("ml100k-mf", |s| s);
    let device = Device::flex();
    let report = train(
        &TaskSpec::recipe(recipe)?,
        &data_dir,
        &out.join("run"),
        &device,
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);

    let predictor = Predictor::load(&out.join("run"), &device)?;
    for r in predictor.recommend(1, 10).items {
        println!(
            "user 1 ← {:>5} {:.3} {}",
            r.item,
            r.score,
            r.title.unwrap_or_default()
        );
    }
    for r in predictor.similar_items(1, 5)? {
        println!(
            "like item 1: {:>5} {:.3} {}",
            r.item,
            r.score,
            r.title.unwrap_or_default()
        );
    }
    std::fs::remove_dir_all(&out)?;
    Ok(())
}
