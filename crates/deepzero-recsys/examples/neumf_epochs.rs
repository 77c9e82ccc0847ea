//! NeuMF's pre-training length on the validation split of `neumf_alpha.rs` (the leave-one-out
//! training part with each user's latest remaining interaction held out again): GMF and MLP
//! (the recipes' settings) trained for E epochs each, then fused with the recipe's α, for
//! several E; HR@10 / NDCG@10 among 99 sampled negatives, before fine-tuning.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example neumf_epochs -- DATA_DIR
//! ```
use std::path::PathBuf;

use burn::prelude::*;
use deepzero_recsys::data::{RatingsDataset, leave_one_out};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates};
use deepzero_recsys::models::neumf::fuse_pretrained;
use deepzero_recsys::models::{NeuMf, NeuMfConfig, Recommender};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};

fn ncf(recipe: &str) -> Result<NeuMfConfig, Box<dyn std::error::Error>> {
    match TaskSpec::recipe(recipe)?.model {
        ModelSpec::Ncf(c) => Ok(c),
        _ => Err(format!("{recipe} is not an NCF recipe").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: neumf_epochs DATA_DIR")?,
    );
    let data = RatingsDataset::read_dir(&dir)?;
    let outer = leave_one_out(&data.ratings)?;
    let inner = leave_one_out(&outer.train)?;
    let cands = sampled_candidates(&inner.test, &data.ratings, 99, 0)?;
    let device = Device::flex();
    let neumf = ncf("ml100k-neumf")?;
    println!("| epochs | GMF HR@10 | MLP HR@10 | fused HR@10 | fused NDCG@10 |");
    for epochs in [10, 15, 20, 30] {
        let mut gmf = NeuMf::new(
            NeuMfConfig {
                epochs,
                ..ncf("ml100k-gmf")?
            },
            device.clone(),
        );
        gmf.fit(&inner.train)?;
        let mut mlp = NeuMf::new(
            NeuMfConfig {
                epochs,
                ..ncf("ml100k-mlp")?
            },
            device.clone(),
        );
        mlp.fit(&inner.train)?;
        let (Some(g), Some(p)) = (gmf.net(), mlp.net()) else {
            return Err("unfitted branch".into());
        };
        let fused = fuse_pretrained(g.clone(), p.clone(), neumf.alpha);
        let m = NeuMf::from_net(
            neumf.clone(),
            fused,
            inner.train.user_item(),
            device.clone(),
        );
        let (rg, rm, rf) = (
            evaluate_sampled(&gmf, &cands, 10),
            evaluate_sampled(&mlp, &cands, 10),
            evaluate_sampled(&m, &cands, 10),
        );
        println!(
            "| {epochs} | {:.4} | {:.4} | {:.4} | {:.4} |",
            rg.hr, rm.hr, rf.hr, rf.ndcg
        );
    }
    Ok(())
}
