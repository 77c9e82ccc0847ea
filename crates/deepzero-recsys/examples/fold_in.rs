//! Chapter 5.4's real-time update, measured: users whose ratings arrive after training are
//! folded into a trained MF model (`FunkSvd::fold_in`, one small ridge regression each) and
//! compared with no update and with a full retrain, on the later half of their ratings.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example fold_in -- DATA_DIR [USERS]
//! ```
use std::path::Path;
use std::time::Instant;

use deepzero_recsys::data::{RatingsDataset, user_sequences};
use deepzero_recsys::eval::evaluate_ratings;
use deepzero_recsys::models::{FunkSvd, Recommender};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};
use rand::SeedableRng;
use rand::seq::SliceRandom;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = RatingsDataset::read_dir(Path::new(
        args.first().ok_or("usage: fold_in DATA_DIR [USERS]")?,
    ))?;
    let n_new: usize = args.get(1).map_or(Ok(100), |s| s.parse())?;
    let ModelSpec::Svd(cfg) = TaskSpec::recipe("ml100k-mf")?.model else {
        unreachable!()
    };
    // The "new" users: a seeded sample of those with at least 20 ratings.
    let seqs = user_sequences(&data.ratings);
    let mut new: Vec<usize> = (0..seqs.len()).filter(|&u| seqs[u].len() >= 20).collect();
    new.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0));
    new.truncate(n_new);
    let mut is_new = vec![false; seqs.len()];
    new.iter().for_each(|&u| is_new[u] = true);
    // Each new user's earlier half (in time) arrives; the later half is the test.
    let mut by_time = data.ratings.data.clone();
    by_time.sort_by_key(|x| x.timestamp);
    let (mut seen_count, mut base, mut arrive, mut test) =
        (vec![0; seqs.len()], vec![], vec![], vec![]);
    for x in by_time {
        let u = x.user as usize;
        seen_count[u] += 1;
        match (is_new[u], seen_count[u] <= seqs[u].len() / 2) {
            (false, _) => base.push(x),
            (true, true) => arrive.push(x),
            (true, false) => test.push(x),
        }
    }
    let test = data.ratings.with_data(test);
    let mut model = FunkSvd::new(cfg.clone());
    model.fit(&data.ratings.with_data(base.clone()))?;
    let before = evaluate_ratings(&model, &test).rmse;
    let mut latencies = Vec::new();
    for &u in &new {
        let ratings: Vec<(u32, f32)> = arrive
            .iter()
            .filter(|x| x.user as usize == u)
            .map(|x| (x.item, x.rating))
            .collect();
        let t = Instant::now();
        model.fold_in(u, &ratings)?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let folded = evaluate_ratings(&model, &test).rmse;
    let t = Instant::now();
    let mut full = FunkSvd::new(cfg);
    full.fit(&data.ratings.with_data([base, arrive].concat()))?;
    let retrain_s = t.elapsed().as_secs_f64();
    let retrained = evaluate_ratings(&full, &test).rmse;
    latencies.sort_by(f64::total_cmp);
    println!("{} new users, {} test ratings", new.len(), test.len());
    println!(
        "RMSE on their later ratings: no update {before:.4}, fold-in {folded:.4}, full retrain {retrained:.4}"
    );
    println!(
        "fold-in latency: median {:.3} ms, max {:.3} ms; full retrain {retrain_s:.2} s",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    Ok(())
}
