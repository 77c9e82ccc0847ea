//! How NeuMF's fusion weight α was chosen: GMF and MLP (the `ml100k-gmf` / `ml100k-mlp`
//! settings) are trained on a validation split — the leave-one-out training part with each
//! user's latest remaining interaction held out again, so the test items are never looked at —
//! and fused with output layer `[α h_GMF ; (1 − α) h_MLP]` for several α (NCF §3.4.1 calls α
//! the trade-off between the two pre-trained models and uses 0.5). HR@10 / NDCG@10 among 99
//! sampled negatives, before fine-tuning.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example neumf_alpha -- DATA_DIR
//! ```
use std::path::PathBuf;

use burn::prelude::*;
use deepzero_recsys::data::{RatingsDataset, leave_one_out};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates};
use deepzero_recsys::models::neumf::fuse_pretrained;
use deepzero_recsys::models::{NeuMf, Recommender};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};

fn ncf(recipe: &str) -> Result<deepzero_recsys::models::NeuMfConfig, Box<dyn std::error::Error>> {
    match TaskSpec::recipe(recipe)?.model {
        ModelSpec::Ncf(c) => Ok(c),
        _ => Err(format!("{recipe} is not an NCF recipe").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: neumf_alpha DATA_DIR")?,
    );
    let data = RatingsDataset::read_dir(&dir)?;
    let outer = leave_one_out(&data.ratings)?;
    let inner = leave_one_out(&outer.train)?;
    let cands = sampled_candidates(&inner.test, &data.ratings, 99, 0)?;
    let device = Device::flex();
    let mut gmf = NeuMf::new(ncf("ml100k-gmf")?, device.clone());
    gmf.fit(&inner.train)?;
    let mut mlp = NeuMf::new(ncf("ml100k-mlp")?, device.clone());
    mlp.fit(&inner.train)?;
    for (name, m) in [("gmf", &gmf), ("mlp", &mlp)] {
        let r = evaluate_sampled(m, &cands, 10);
        println!("| {name} | | {:.4} | {:.4} |", r.hr, r.ndcg);
    }
    let (Some(g), Some(p)) = (gmf.net(), mlp.net()) else {
        return Err("unfitted branch".into());
    };
    for alpha in [0.3f32, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
        let fused = fuse_pretrained(g.clone(), p.clone(), alpha);
        let m = NeuMf::from_net(
            ncf("ml100k-neumf")?,
            fused,
            inner.train.user_item(),
            device.clone(),
        );
        let r = evaluate_sampled(&m, &cands, 10);
        println!("| neumf (fused) | {alpha} | {:.4} | {:.4} |", r.hr, r.ndcg);
    }
    Ok(())
}
