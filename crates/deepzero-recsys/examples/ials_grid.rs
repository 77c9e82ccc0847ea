//! How `ml100k-ials` got its settings: a small grid of implicit-ALS settings scored on a
//! validation split — the leave-one-out training part with each user's latest remaining
//! interaction held out again (so the test items are never looked at), 99 sampled
//! negatives, HR@10 / NDCG@10.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example ials_grid -- DATA_DIR
//! ```
use std::path::PathBuf;
use std::time::Instant;

use deepzero_recsys::data::{RatingsDataset, leave_one_out};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates};
use deepzero_recsys::models::{Ials, IalsConfig, Recommender};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: ials_grid DATA_DIR")?);
    let data = RatingsDataset::read_dir(&dir)?;
    let outer = leave_one_out(&data.ratings)?;
    let inner = leave_one_out(&outer.train)?;
    // Negatives avoid every known interaction, the test items included.
    let cands = sampled_candidates(&inner.test, &data.ratings, 99, 0)?;
    println!("| factors | α | λ | valid HR@10 | valid NDCG@10 | fit |");
    for n_factors in [32, 64] {
        for alpha in [2.0, 10.0, 40.0] {
            for reg in [1.0, 10.0, 50.0] {
                let mut m = Ials::new(IalsConfig {
                    n_factors,
                    alpha,
                    reg,
                    ..IalsConfig::default()
                });
                let t = Instant::now();
                m.fit(&inner.train)?;
                let r = evaluate_sampled(&m, &cands, 10);
                println!(
                    "| {n_factors} | {alpha} | {reg} | {:.4} | {:.4} | {:.1} s |",
                    r.hr,
                    r.ndcg,
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(())
}
