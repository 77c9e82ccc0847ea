//! Runs recipes on a MovieLens folder and prints one Markdown row each (the tables of
//! docs/recsys.md). Run folders go to a temporary folder and are removed.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example benchmark -- DATA_DIR [RECIPE ...] [--seed N]
//! ```
use std::path::PathBuf;

use burn::prelude::*;
use deepzero_recsys::tasks::{RECIPES, TaskSpec, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let seed = match args.iter().position(|a| a == "--seed") {
        Some(k) => {
            let s = args.get(k + 1).ok_or("--seed needs a number")?.parse()?;
            args.drain(k..k + 2);
            s
        }
        None => 0,
    };
    let data_dir = PathBuf::from(
        args.first()
            .ok_or("usage: benchmark DATA_DIR [RECIPE ...]")?,
    );
    let recipes: Vec<&str> = match args.len() {
        1 => RECIPES.to_vec(),
        _ => args[1..].iter().map(String::as_str).collect(),
    };
    let out = std::env::temp_dir().join(format!("deepzero-recsys-bench-{}", std::process::id()));
    let device = Device::flex();
    for recipe in recipes {
        let spec = TaskSpec::recipe(recipe)?.with_seed(seed);
        let r = train(&spec, &data_dir, &out.join(recipe), &device)?;
        if let Some(cv) = &r.rating {
            let folds: Vec<String> = cv.folds.iter().map(|f| format!("{:.4}", f.rmse)).collect();
            println!(
                "| {recipe} | {:.4} ± {:.4} | {:.4} | {} | {:.1} s |",
                cv.rmse,
                cv.rmse_std,
                cv.mae,
                folds.join(" "),
                cv.seconds
            );
        }
        if let Some(k) = &r.ranking {
            let full = k
                .full
                .map_or(String::new(), |f| format!("{:.4} / {:.4}", f.hr, f.ndcg));
            println!(
                "| {recipe} | {:.4} | {:.4} | {full} | {:.3} | {:.1} | {:.1} s |",
                k.sampled.hr,
                k.sampled.ndcg,
                k.lists.coverage,
                k.lists.mean_popularity,
                r.fit_seconds
            );
        }
    }
    std::fs::remove_dir_all(&out).ok();
    Ok(())
}
