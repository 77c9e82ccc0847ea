//! Next-item models on a MovieLens folder with the SASRec protocol (timestamp-ordered
//! sequences, last item test, second-to-last validation, the positive among sampled
//! negatives the user never rated) and one Markdown row per model (docs/recsys.md).
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example next_item -- DATA_DIR [--seed N] [--epochs N] [--negatives N]
//! ```
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use deepzero_recsys::data::{RatingsDataset, sequence_split};
use deepzero_recsys::models::{
    Gru4Rec, Gru4RecConfig, MarkovChain, NextItem, NextTarget, SasRec, SasRecConfig,
    SequencePopularity, evaluate_next_item,
};

fn flag(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|a| a == name) {
        Some(k) => {
            let v = args
                .get(k + 1)
                .ok_or(format!("{name} needs a value"))?
                .clone();
            args.drain(k..k + 2);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = flag(&mut args, "--seed")?.map_or(Ok(0), |s| s.parse())?;
    let negatives: usize = flag(&mut args, "--negatives")?.map_or(Ok(99), |s| s.parse())?;
    let epochs: Option<usize> = flag(&mut args, "--epochs")?
        .map(|s| s.parse())
        .transpose()?;
    let data_dir = PathBuf::from(
        args.first()
            .ok_or("usage: next_item DATA_DIR [--seed N] [--epochs N] [--negatives N]")?,
    );
    let data = RatingsDataset::read_dir(&data_dir)?;
    let split = sequence_split(&data.ratings);
    let n_items = data.ratings.n_items;
    let mut gru_cfg = Gru4RecConfig {
        seed,
        ..Gru4RecConfig::default()
    };
    let mut sas_cfg = SasRecConfig {
        seed,
        ..SasRecConfig::default()
    };
    if let Some(e) = epochs {
        gru_cfg.epochs = e;
        sas_cfg.epochs = e;
    }
    let models: Vec<Box<dyn NextItem>> = vec![
        Box::new(SequencePopularity::default()),
        Box::new(MarkovChain::new()),
        Box::new(Gru4Rec::new(gru_cfg, Device::flex())),
        Box::new(SasRec::new(sas_cfg, Device::flex())),
    ];
    println!(
        "| model | valid HR@10 | valid NDCG@10 | test HR@10 | test NDCG@10 | test MRR@10 | fit |"
    );
    println!("|---|---|---|---|---|---|---|");
    for mut m in models {
        let t = Instant::now();
        m.fit_sequences(&split.train, n_items)?;
        let fit = t.elapsed().as_secs_f64();
        let v = evaluate_next_item(
            m.as_ref(),
            &split,
            &data.ratings,
            NextTarget::Valid,
            negatives,
            10,
            seed,
        )?;
        let r = evaluate_next_item(
            m.as_ref(),
            &split,
            &data.ratings,
            NextTarget::Test,
            negatives,
            10,
            seed,
        )?;
        println!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {fit:.1} s |",
            m.name(),
            v.hr,
            v.ndcg,
            r.hr,
            r.ndcg,
            r.mrr
        );
    }
    Ok(())
}
