//! New items recommended from what they are: content-aware NeuMF against popularity and the
//! side-feature BPR model on MovieLens-100k's item cold start (`item_cold_start_split`: 20 % of
//! the items lose every rating; each user who rated one of them has their latest such rating
//! ranked among 99 sampled new items they never rated, and among 99 sampled items of any kind).
//!
//! ```text
//! cargo run --release -p deepzero-multimodal --example content_cold_start -- DATA_DIR \
//!     [--seeds 0,1,2] [--validate] [--epochs N] [--id-dropout P] [--content-dim D] [--only NAME]
//!     [--min-titles N] [--no-years]
//! ```
//! `--validate` leaves the test items alone: it splits the *training* part again (20 % of the
//! warm items made new, seed + 100) and reports on that, for choosing settings.
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::Device;
use deepzero_multimodal::item_content::ItemContent;
use deepzero_multimodal::models::{ContentNeuMf, ContentNeuMfConfig};
use deepzero_recsys::Recommender;
use deepzero_recsys::data::{Interaction, Interactions, RatingsDataset, item_cold_start_split};
use deepzero_recsys::eval::{evaluate_sampled, sampled_candidates, sampled_candidates_among};
use deepzero_recsys::models::{
    FeatureBpr, FeatureBprConfig, FeaturePopularity, Popularity, SideFeatures,
};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};

type Error = Box<dyn std::error::Error>;

fn value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let k = args.iter().position(|a| a == name)?;
    args.get(k + 1).map(String::as_str)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: content_cold_start DATA_DIR")?);
    let seeds: Vec<u64> = value(&args, "--seeds")
        .unwrap_or("0,1,2")
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let validate = args.iter().any(|a| a == "--validate");
    let only = value(&args, "--only");
    let mut base = ContentNeuMfConfig::default();
    if let Some(e) = value(&args, "--epochs") {
        base.epochs = e.parse()?;
    }
    if let Some(p) = value(&args, "--id-dropout") {
        base.id_dropout = p.parse()?;
    }
    if let Some(d) = value(&args, "--content-dim") {
        base.content_dim = d.parse()?;
    }
    let data = RatingsDataset::read_dir(&dir)?;
    let min_titles = value(&args, "--min-titles").map_or(Ok(2), str::parse)?;
    let mut content = ItemContent::from_dataset(&data, min_titles);
    if args.iter().any(|a| a == "--no-years") {
        content = content.without_tags("year:");
    }
    let features = SideFeatures::from_dataset(&data);
    println!(
        "{} items: {} title words in ≥ {min_titles} titles, {} tags; {}",
        content.len(),
        content.words.len(),
        content.tags.len(),
        if validate {
            "VALIDATION split"
        } else {
            "test split"
        }
    );
    for seed in seeds {
        let outer = item_cold_start_split(&data.ratings, 0.2, 0, seed)?;
        let (train, test, cold, all) = if validate {
            let inner = item_cold_start_split(&outer.train, 0.2, 0, seed + 100)?;
            (
                inner.train,
                inner.test,
                inner.cold_items,
                outer.train.clone(),
            )
        } else {
            (
                outer.train,
                outer.test,
                outer.cold_items,
                data.ratings.clone(),
            )
        };
        let testable = with_enough_new_items(&test, &all, &cold);
        let among_new = sampled_candidates_among(&testable, &all, &cold, 99, seed)?;
        let among_all = sampled_candidates(&test, &all, 99, seed)?;
        println!(
            "\nseed {seed}: {} new items, {} test users ({} with 99 unrated new items), {} training ratings",
            cold.len(),
            test.len(),
            testable.len(),
            train.len()
        );
        println!("| model | among new: HR@10 | NDCG@10 | among all: HR@10 | NDCG@10 | fit |");
        println!("|---|---|---|---|---|---|");
        for (name, mut model) in models(&base, &content, &features, seed) {
            if only.is_some_and(|o| !name.contains(o)) {
                continue;
            }
            let t = Instant::now();
            model.fit(&train)?;
            if let Some(m) = model.as_any_feature_bpr() {
                m.forget_item_factors(&cold);
            }
            let seconds = t.elapsed().as_secs_f64();
            let (n, a) = (
                evaluate_sampled(model.recommender(), &among_new, 10),
                evaluate_sampled(model.recommender(), &among_all, 10),
            );
            println!(
                "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {seconds:.1} s |",
                n.hr, n.ndcg, a.hr, a.ndcg
            );
        }
    }
    Ok(())
}

/// The test ratings whose user has at least 99 new items they never rated.
fn with_enough_new_items(
    test: &[Interaction],
    all: &Interactions,
    cold: &[u32],
) -> Vec<Interaction> {
    let known = all.user_item();
    test.iter()
        .filter(|x| {
            cold.iter()
                .filter(|&&i| !known.contains(x.user as usize, i as usize))
                .count()
                >= 99
        })
        .copied()
        .collect()
}

/// A model of the table: the side-feature BPR model needs its new items' factors zeroed
/// after fitting (they were trained as negatives only), which the others do not.
enum Entry {
    Plain(Box<dyn Recommender>),
    FeatureBpr(Box<FeatureBpr>),
}

impl Entry {
    fn fit(&mut self, train: &Interactions) -> deepzero_recsys::Result<()> {
        match self {
            Entry::Plain(m) => m.fit(train),
            Entry::FeatureBpr(m) => m.fit(train),
        }
    }
    fn recommender(&self) -> &dyn Recommender {
        match self {
            Entry::Plain(m) => m.as_ref(),
            Entry::FeatureBpr(m) => m.as_ref(),
        }
    }
    fn as_any_feature_bpr(&mut self) -> Option<&mut FeatureBpr> {
        match self {
            Entry::FeatureBpr(m) => Some(&mut **m),
            Entry::Plain(_) => None,
        }
    }
}

fn models(
    base: &ContentNeuMfConfig,
    content: &ItemContent,
    features: &SideFeatures,
    seed: u64,
) -> Vec<(String, Entry)> {
    let content_model = |use_title, use_tags| {
        let config = ContentNeuMfConfig {
            use_title,
            use_tags,
            seed,
            ..base.clone()
        };
        Entry::Plain(Box::new(ContentNeuMf::new(
            config,
            content.clone(),
            Device::flex(),
        )))
    };
    let mut out = vec![
        (
            "popularity".to_string(),
            Entry::Plain(Box::new(Popularity::new())),
        ),
        (
            "popularity + genre/decade fallback".into(),
            Entry::Plain(Box::new(FeaturePopularity::new(features.item.clone()))),
        ),
    ];
    if let Ok(TaskSpec {
        model: ModelSpec::FeatureBpr(c),
        ..
    }) = TaskSpec::recipe("ml100k-coldstart").map(|s| s.with_seed(seed))
    {
        let config = FeatureBprConfig {
            first_ratings: 0,
            ..c
        };
        out.push((
            "side features (FeatureBpr)".into(),
            Entry::FeatureBpr(Box::new(FeatureBpr::new(config, features.clone()))),
        ));
    }
    out.push(("content-neumf: tags".into(), content_model(false, true)));
    out.push(("content-neumf: title".into(), content_model(true, false)));
    out.push((
        "content-neumf: title + tags".into(),
        content_model(true, true),
    ));
    out
}
