//! User cold start on a MovieLens folder: 20 % of the users (seeded) keep only their 5
//! earliest ratings; the rating that came next is ranked among 99 items they never rated
//! (HR@10, NDCG@10). Popularity, BPR-MF (which has a vector for each user, learnt from the 5
//! ratings) and the side-feature model of `models::coldstart`, with side features only and
//! with the ≤ 5 ratings as well, all on the same split and negatives.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example cold_start -- DATA_DIR [--seed N] [--known K]
//! ```
use std::path::PathBuf;
use std::time::Instant;

use deepzero_recsys::data::{RatingsDataset, cold_start_split};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates};
use deepzero_recsys::models::{
    Bpr, BprConfig, FeatureBpr, FeatureBprConfig, Popularity, Recommender, SideFeatures,
};

fn flag(
    args: &mut Vec<String>,
    name: &str,
    default: u64,
) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(match args.iter().position(|a| a == name) {
        Some(k) => {
            let v = args
                .get(k + 1)
                .ok_or(format!("{name} needs a number"))?
                .parse()?;
            args.drain(k..k + 2);
            v
        }
        None => default,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let seed = flag(&mut args, "--seed", 0)?;
    let known = flag(&mut args, "--known", 5)? as usize;
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: cold_start DATA_DIR [--seed N]")?,
    );
    let data = RatingsDataset::read_dir(&dir)?;
    let split = cold_start_split(&data.ratings, 0.2, known, seed)?;
    let cands = sampled_candidates(&split.test, &data.ratings, 99, seed)?;
    println!(
        "{} cold users (≤ {known} ratings each), {} training ratings",
        split.cold_users.len(),
        split.train.len()
    );
    let features = SideFeatures::from_dataset(&data);
    let mut models: Vec<Box<dyn Recommender>> = vec![
        Box::new(Popularity::new()),
        Box::new(Bpr::new(BprConfig {
            n_factors: 64,
            n_epochs: 60,
            lr: 0.05,
            reg: 0.01,
            seed,
            ..BprConfig::default()
        })),
        // The settings chosen on validation users (examples/coldstart_grid.rs).
        Box::new(FeatureBpr::new(
            FeatureBprConfig {
                n_factors: 32,
                max_history: 0,
                first_ratings: 20,
                seed,
                ..FeatureBprConfig::default()
            },
            features.clone(),
        )),
        Box::new(FeatureBpr::new(
            FeatureBprConfig {
                n_factors: 32,
                max_history: 5,
                first_ratings: 50,
                seed,
                ..FeatureBprConfig::default()
            },
            features,
        )),
    ];
    for m in &mut models {
        let t = Instant::now();
        m.fit(&split.train)?;
        let r = evaluate_sampled(m.as_ref(), &cands, 10);
        println!(
            "| {} | {:.4} | {:.4} | {:.1} s |",
            m.name(),
            r.hr,
            r.ndcg,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
