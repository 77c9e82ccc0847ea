//! How `ml100k-coldstart` got its settings: the cold-start split of the recipe (20 % of the
//! users, seed 0) is set aside, and among the remaining (warm) users another 25 % (seed 1) are
//! made new the same way — 5 earliest ratings kept, the next one ranked among 99 items they
//! never rated — as a validation set. Settings of the side-feature model are compared there,
//! with popularity as the bar; the test users are never looked at.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example coldstart_grid -- DATA_DIR
//! ```
use std::path::PathBuf;

use deepzero_recsys::data::{RatingsDataset, cold_start_split};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates};
use deepzero_recsys::models::{
    FeatureBpr, FeatureBprConfig, Popularity, Recommender, SideFeatures,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: coldstart_grid DATA_DIR")?,
    );
    let data = RatingsDataset::read_dir(&dir)?;
    let outer = cold_start_split(&data.ratings, 0.2, 5, 0)?;
    let inner = cold_start_split(&outer.train, 0.25, 5, 1)?;
    let cands = sampled_candidates(&inner.test, &data.ratings, 99, 1)?;
    let mut pop = Popularity::new();
    pop.fit(&inner.train)?;
    let p = evaluate_sampled(&pop, &cands, 10);
    println!(
        "{} validation users; popularity HR@10 {:.4} NDCG@10 {:.4}",
        inner.cold_users.len(),
        p.hr,
        p.ndcg
    );
    println!("| history | first ratings | factors | valid HR@10 | valid NDCG@10 |");
    let features = SideFeatures::from_dataset(&data);
    for max_history in [0, 5] {
        for first_ratings in [0, 10, 20, 50] {
            for n_factors in [16, 32] {
                let mut m = FeatureBpr::new(
                    FeatureBprConfig {
                        max_history,
                        first_ratings,
                        n_factors,
                        ..FeatureBprConfig::default()
                    },
                    features.clone(),
                );
                m.fit(&inner.train)?;
                let r = evaluate_sampled(&m, &cands, 10);
                println!(
                    "| {max_history} | {first_ratings} | {n_factors} | {:.4} | {:.4} |",
                    r.hr, r.ndcg
                );
            }
        }
    }
    Ok(())
}
