//! Item cold start on a MovieLens folder: 20 % of the items (seeded) become new items, with
//! only their `K` earliest ratings kept (`--known`, 0 and 5 by default); each user who rated a
//! new item later has their latest such rating held out and ranked among 99 sampled items
//! they never rated (HR@10, NDCG@10) — once among the *new* items only (which new film will
//! they pick) and once among all items.
//!
//! Models: popularity (training counts: every new item with no rating ties at 0, and ties
//! count against the model), popularity with a feature fallback (an unrated item scores the
//! mean count of the rated items of its genres and decade), BPR-MF (no features) and the
//! side-feature model (`ml100k-coldstart`'s settings, trained on whole histories since the
//! users are not new; with no known rating, the new items' own factors are zeroed so they
//! are scored from genres and decade alone).
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example item_cold_start -- DATA_DIR [--seed N] [--known K]
//! ```
use std::path::PathBuf;
use std::time::Instant;

use deepzero_recsys::data::{Interaction, RatingsDataset, item_cold_start_split};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates, sampled_candidates_among};
use deepzero_recsys::models::{
    Bpr, FeatureBpr, FeatureBprConfig, FeaturePopularity, Popularity, Recommender, SideFeatures,
};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};

type Error = Box<dyn std::error::Error>;

fn flag(args: &[String], name: &str) -> Result<Option<u64>, Error> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(k) => Ok(Some(
            args.get(k + 1)
                .ok_or(format!("{name} needs a number"))?
                .parse()?,
        )),
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: item_cold_start DATA_DIR")?);
    let seed = flag(&args, "--seed")?.unwrap_or(0);
    let knowns: Vec<usize> = match flag(&args, "--known")? {
        Some(k) => vec![k as usize],
        None => vec![0, 5],
    };
    let data = RatingsDataset::read_dir(&dir)?;
    let features = SideFeatures::from_dataset(&data);
    let (ModelSpec::Bpr(bpr), ModelSpec::FeatureBpr(hybrid)) = (
        TaskSpec::recipe("ml100k-bpr")?.with_seed(seed).model,
        TaskSpec::recipe("ml100k-coldstart")?.with_seed(seed).model,
    ) else {
        return Err("unexpected recipe models".into());
    };
    for known in knowns {
        let split = item_cold_start_split(&data.ratings, 0.2, known, seed)?;
        // Among the new items, only users with 99 new items they never rated can be tested.
        let all = data.ratings.user_item();
        let testable: Vec<Interaction> = split
            .test
            .iter()
            .filter(|x| {
                let unseen = split
                    .cold_items
                    .iter()
                    .filter(|&&i| !all.contains(x.user as usize, i as usize))
                    .count();
                unseen >= 99
            })
            .copied()
            .collect();
        let among_new =
            sampled_candidates_among(&testable, &data.ratings, &split.cold_items, 99, seed)?;
        let among_all = sampled_candidates(&split.test, &data.ratings, 99, seed)?;
        println!(
            "\n{} new items (≤ {known} ratings each), {} test users ({} with 99 unrated new items), {} training ratings",
            split.cold_items.len(),
            split.test.len(),
            testable.len(),
            split.train.len()
        );
        println!("| model | among new: HR@10 | NDCG@10 | among all: HR@10 | NDCG@10 | fit |");
        let mut hybrid_model = FeatureBpr::new(
            FeatureBprConfig {
                first_ratings: 0,
                ..hybrid.clone()
            },
            features.clone(),
        );
        let mut models: Vec<Box<dyn Recommender>> = vec![
            Box::new(Popularity::new()),
            Box::new(FeaturePopularity::new(features.item.clone())),
            Box::new(Bpr::new(bpr.clone())),
        ];
        let t = Instant::now();
        hybrid_model.fit(&split.train)?;
        if known == 0 {
            hybrid_model.forget_item_factors(&split.cold_items);
        }
        let hybrid_seconds = t.elapsed().as_secs_f64();
        for m in &mut models {
            let t = Instant::now();
            m.fit(&split.train)?;
            report(
                m.as_ref(),
                &among_new,
                &among_all,
                t.elapsed().as_secs_f64(),
            );
        }
        report(&hybrid_model, &among_new, &among_all, hybrid_seconds);
    }
    Ok(())
}

fn report(
    m: &dyn Recommender,
    among_new: &[deepzero_recsys::eval::Candidates],
    among_all: &[deepzero_recsys::eval::Candidates],
    seconds: f64,
) {
    let (n, a) = (
        evaluate_sampled(m, among_new, 10),
        evaluate_sampled(m, among_all, 10),
    );
    println!(
        "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {seconds:.1} s |",
        m.name(),
        n.hr,
        n.ndcg,
        a.hr,
        a.ndcg
    );
}
