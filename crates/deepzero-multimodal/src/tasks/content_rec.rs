//! The `ml100k-content-neumf` task: recommending films nobody has rated yet from their title
//! and tags ([`ContentNeuMf`]), measured on MovieLens' item cold start against popularity.
//!
//! Protocol ([`item_cold_start_split`]): a seeded `cold_fraction` of the items lose every
//! rating (`known` = 0) or keep only their `known` earliest; each user who rated one of them
//! later has their latest such rating held out, ranked among 99 sampled *new* items they never
//! rated (which new film will they pick) and among 99 sampled items of any kind. Baselines on
//! the same candidates: popularity (every new item ties at 0) and popularity with a
//! genre/decade fallback ([`FeaturePopularity`]).
//!
//! Run folder: `run.json` ([`ContentRunInfo`]), `content.json` (the items' words and tags),
//! `train.json` (the training matrix and raw ids), `model.bpk`, `metrics.json`.
//!
//! ```no_run
//! use deepzero_multimodal::tasks::content_rec::{self, ContentPredictor};
//! use deepzero_multimodal::tasks::recipes;
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let recipe = recipes::content().remove(0); // ml100k-content-neumf
//! let mut settings = RunSettings::new(recipe.name, "runs/content").with_fit(recipe.fit);
//! settings.data_dir = Some("shared/datasets/movielens-100k".into());
//! print!("{}", content_rec::train(&recipe.spec, &settings)?); // HR@10 table
//! let predictor = ContentPredictor::load("runs/content".as_ref(), None, &settings.device()?)?;
//! for film in predictor.recommend(1, 10, true)? {
//!     println!("{:+.3} {}", film.score, film.title); // user 1's best films nobody rated yet
//! }
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use deepzero_recsys::Recommender;
use deepzero_recsys::data::{
    Csr, IdMap, Interaction, Interactions, RatingsDataset, item_cold_start_split,
};
use deepzero_recsys::eval::{
    Candidates, evaluate_sampled, sampled_candidates, sampled_candidates_among,
};
use deepzero_recsys::metrics::RankMetrics;
use deepzero_recsys::models::{FeaturePopularity, Popularity, SideFeatures, top_k};
use deepzero_train::metrics_file::{read_json, write_json_atomic};
use deepzero_train::{RunSettings, Task, TaskError, impl_run_info, load_run_info, run_file};
use serde::{Deserialize, Serialize};

use crate::item_content::ItemContent;
use crate::models::{ContentNeuMf, ContentNeuMfConfig};

/// The `run.json` format version.
pub const RUN_VERSION: u32 = 1;

/// The `task` field of the `run.json` of this task.
pub const TASK: &str = "content-rec";

/// What a content-recommendation run is: the model and the protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentRecSpec {
    /// The model (its epochs, batch, learning rate and seed come from the run's settings).
    pub model: ContentNeuMfConfig,
    /// Title words are kept when in at least this many titles.
    pub min_titles: usize,
    /// Share of the items made new.
    pub cold_fraction: f64,
    /// Ratings each new item keeps.
    pub known: usize,
    /// Sampled negatives per test user.
    pub negatives: usize,
    /// The cut-off K of HR@K and NDCG@K.
    pub k: usize,
}

impl ContentRecSpec {
    /// `ml100k-content-neumf`.
    pub fn ml100k() -> Self {
        Self {
            model: ContentNeuMfConfig::default(),
            min_titles: 2,
            cold_fraction: 0.2,
            known: 0,
            negatives: 99,
            k: 10,
        }
    }

    fn check(&self) -> Result<(), TaskError> {
        if self.negatives == 0 || self.k == 0 || self.min_titles == 0 {
            return Err(TaskError::invalid(
                "content recommendation needs negatives, K and min_titles ≥ 1",
            ));
        }
        self.model
            .check()
            .map_err(|e| TaskError::invalid(e.to_string()))
    }
}

/// `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentRunInfo {
    /// Format version ([`RUN_VERSION`]).
    pub version: u32,
    /// Always [`TASK`] (what other loaders name when refusing the run).
    pub task: String,
    /// The recipe.
    pub recipe: String,
    /// The spec, with the model settings the run trained with.
    pub spec: ContentRecSpec,
    /// The seed of the split, the negatives and the model.
    pub seed: u64,
    /// The data folder read.
    pub data_dir: PathBuf,
}
impl_run_info!(ContentRunInfo, RUN_VERSION);

/// `train.json`: what scoring needs besides the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainedData {
    user_ids: IdMap,
    item_ids: IdMap,
    titles: Vec<String>,
    train: Csr,
    cold_items: Vec<u32>,
}

/// HR@K and NDCG@K of one model, among the new items and among all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColdStartRow {
    /// The model.
    pub model: String,
    /// Ranked among sampled new items.
    pub among_new: RankMetrics,
    /// Ranked among sampled items of any kind.
    pub among_all: RankMetrics,
}

/// `metrics.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentRecReport {
    /// The recipe.
    pub recipe: String,
    /// New items.
    pub new_items: usize,
    /// Test users ranked among new items (those with enough unrated new items).
    pub test_users_among_new: usize,
    /// Test users ranked among all items.
    pub test_users_among_all: usize,
    /// Training ratings.
    pub train_ratings: usize,
    /// The model, then the baselines.
    pub rows: Vec<ColdStartRow>,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
    /// Seconds fitting the model.
    pub fit_seconds: f64,
}

impl std::fmt::Display for ContentRecReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} new items, {} test users ({} ranked among new items), {} training ratings, fit {:.1} s",
            self.recipe,
            self.new_items,
            self.test_users_among_all,
            self.test_users_among_new,
            self.train_ratings,
            self.fit_seconds
        )?;
        writeln!(f, "| model | among new: HR | NDCG | among all: HR | NDCG |")?;
        for r in &self.rows {
            writeln!(
                f,
                "| {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                r.model, r.among_new.hr, r.among_new.ndcg, r.among_all.hr, r.among_all.ndcg
            )?;
        }
        Ok(())
    }
}

/// The split and the candidates of one seed.
struct Protocol {
    train: Interactions,
    cold_items: Vec<u32>,
    among_new: Vec<Candidates>,
    among_all: Vec<Candidates>,
}

impl Protocol {
    fn new(spec: &ContentRecSpec, data: &RatingsDataset, seed: u64) -> Result<Self, TaskError> {
        let recsys = |e: deepzero_recsys::RecsysError| TaskError::invalid(e.to_string());
        let split = item_cold_start_split(&data.ratings, spec.cold_fraction, spec.known, seed)
            .map_err(recsys)?;
        let known = data.ratings.user_item();
        // Only users with enough new items they never rated can be ranked among new items.
        let testable: Vec<Interaction> = split
            .test
            .iter()
            .filter(|x| {
                let unrated = split.cold_items.iter();
                unrated
                    .filter(|&&i| !known.contains(x.user as usize, i as usize))
                    .count()
                    >= spec.negatives
            })
            .copied()
            .collect();
        let (pool, n) = (&split.cold_items, spec.negatives);
        Ok(Self {
            among_new: sampled_candidates_among(&testable, &data.ratings, pool, n, seed)
                .map_err(recsys)?,
            among_all: sampled_candidates(&split.test, &data.ratings, n, seed).map_err(recsys)?,
            train: split.train,
            cold_items: split.cold_items,
        })
    }

    fn row(&self, model: &dyn Recommender, name: &str, k: usize) -> ColdStartRow {
        ColdStartRow {
            model: name.into(),
            among_new: evaluate_sampled(model, &self.among_new, k),
            among_all: evaluate_sampled(model, &self.among_all, k),
        }
    }

    /// `metrics.json` of `recipe` with these `rows` (a refit: its epoch `losses` and seconds).
    fn report(
        &self,
        recipe: &str,
        rows: Vec<ColdStartRow>,
        losses: Vec<f64>,
        fit_seconds: f64,
    ) -> ContentRecReport {
        ContentRecReport {
            recipe: recipe.into(),
            new_items: self.cold_items.len(),
            test_users_among_new: self.among_new.len(),
            test_users_among_all: self.among_all.len(),
            train_ratings: self.train.len(),
            rows,
            losses,
            fit_seconds,
        }
    }

    /// The model's row, then the baselines'.
    fn rows(&self, model: &ContentNeuMf, data: &RatingsDataset, k: usize) -> Vec<ColdStartRow> {
        let mut popularity = Popularity::new();
        let mut fallback = FeaturePopularity::new(SideFeatures::from_dataset(data).item);
        let mut rows = vec![self.row(model, &model.name(), k)];
        for (m, name) in [
            (&mut popularity as &mut dyn Recommender, "popularity"),
            (&mut fallback, "popularity + genre/decade fallback"),
        ] {
            // Counting fits cannot fail on a non-empty split.
            if m.fit(&self.train).is_ok() {
                rows.push(self.row(m, name, k));
            }
        }
        rows
    }
}

/// The spec's model with the run's epochs, batch size, learning rate and seed.
fn model_config(spec: &ContentRecSpec, settings: &RunSettings) -> ContentNeuMfConfig {
    ContentNeuMfConfig {
        epochs: settings.fit.epochs,
        batch_size: settings.fit.batch_size,
        lr: settings.fit.learning_rate,
        seed: settings.seed(),
        ..spec.model.clone()
    }
}

/// Trains `spec` on the MovieLens folder of `settings` into `settings.out`.
///
/// # Errors
/// Bad settings, no or unreadable data folder, a run folder that holds a run (without
/// `overwrite`), files that cannot be written.
pub fn train(spec: &ContentRecSpec, settings: &RunSettings) -> Result<ContentRecReport, TaskError> {
    settings.validate()?;
    if settings.resume {
        return Err(TaskError::invalid(format!(
            "{} trains in one go; --resume does not apply",
            settings.name
        )));
    }
    let spec = ContentRecSpec {
        model: model_config(spec, settings),
        ..spec.clone()
    };
    spec.check()?;
    let data_dir = settings.require_data_dir()?;
    let data = RatingsDataset::read_dir(data_dir).map_err(|e| TaskError::invalid(e.to_string()))?;
    let device = settings.device()?;
    let progress = settings.progress();
    let protocol = Protocol::new(&spec, &data, settings.seed())?;
    let content = ItemContent::from_dataset(&data, spec.min_titles);
    let out = settings.create_out()?;
    let info = ContentRunInfo {
        version: RUN_VERSION,
        task: TASK.into(),
        recipe: settings.name.clone(),
        spec: spec.clone(),
        seed: settings.seed(),
        data_dir: data_dir.to_path_buf(),
    };
    write_json_atomic(&out.join("run.json"), &info)?;
    write_json_atomic(&out.join("content.json"), &content)?;
    progress.message(&format!(
        "{}: {} items ({} new), {} title words, {} tags, {} training ratings, {} epochs",
        settings.name,
        content.len(),
        protocol.cold_items.len(),
        content.words.len(),
        content.tags.len(),
        protocol.train.len(),
        spec.model.epochs
    ));
    let start = Instant::now();
    let mut model = ContentNeuMf::new(spec.model.clone(), content, device);
    model
        .fit(&protocol.train)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let fit_seconds = start.elapsed().as_secs_f64();
    model
        .save(&out.join("model.bpk"))
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let trained = TrainedData {
        user_ids: data.user_ids.clone(),
        item_ids: data.item_ids.clone(),
        titles: titles(&data),
        train: protocol.train.user_item(),
        cold_items: protocol.cold_items.clone(),
    };
    write_json_atomic(&out.join("train.json"), &trained)?;
    let rows = protocol.rows(&model, &data, spec.k);
    let report = protocol.report(&settings.name, rows, model.losses.clone(), fit_seconds);
    write_json_atomic(&out.join("metrics.json"), &report)?;
    progress.message(&format!(
        "{report}-> {}",
        out.join("metrics.json").display()
    ));
    Ok(report)
}

fn titles(data: &RatingsDataset) -> Vec<String> {
    let title = |i: &deepzero_recsys::data::ItemInfo| match i.year {
        Some(y) => format!("{} ({y})", i.title),
        None => i.title.clone(),
    };
    data.items
        .iter()
        .map(|i| i.as_ref().map(title).unwrap_or_default())
        .collect()
}

/// Re-measures the run in `run` on the data folder of `settings` (the same split and
/// candidates, from the run's seed), writing `metrics.json` into `settings.out`.
///
/// # Errors
/// A folder that is not a run of `settings.name`, data of another shape, unwritable output.
pub fn evaluate_run(run: &Path, settings: &RunSettings) -> Result<ContentRecReport, TaskError> {
    let predictor = ContentPredictor::load(run, Some(&settings.name), &settings.device()?)?;
    let dir = settings
        .data_dir
        .as_deref()
        .unwrap_or(&predictor.info.data_dir);
    let data = RatingsDataset::read_dir(dir).map_err(|e| TaskError::invalid(e.to_string()))?;
    let spec = &predictor.info.spec;
    let protocol = Protocol::new(spec, &data, predictor.info.seed)?;
    if protocol.train.user_item() != predictor.trained.train {
        return Err(TaskError::invalid(format!(
            "{} does not split into the training data of run {}",
            dir.display(),
            run.display()
        )));
    }
    let rows = protocol.rows(&predictor.model, &data, spec.k);
    let report = protocol.report(&settings.name, rows, Vec::new(), 0.0);
    std::fs::create_dir_all(&settings.out).map_err(TaskError::io(&settings.out))?;
    let path = settings.out.join("metrics.json");
    write_json_atomic(&path, &report)?;
    settings
        .progress()
        .message(&format!("{report}-> {}", path.display()));
    Ok(report)
}

/// One recommended film.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentRecommendation {
    /// The item id as in the data files.
    pub item: u64,
    /// Title (year).
    pub title: String,
    /// The model's logit.
    pub score: f32,
    /// Whether the item had no training rating (scored from its content alone).
    pub new: bool,
}

/// A trained run, loaded for recommending.
#[derive(Debug)]
pub struct ContentPredictor {
    /// `run.json`.
    pub info: ContentRunInfo,
    model: ContentNeuMf,
    trained: TrainedData,
}

impl ContentPredictor {
    /// Loads the run in `run_dir` (refusing a run of another recipe than `recipe`, when given).
    ///
    /// # Errors
    /// A folder that is not a run of this task, missing or corrupt files.
    pub fn load(run_dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info: ContentRunInfo = load_run_info(run_dir, recipe)?;
        let content: ItemContent = read_json(&run_file(run_dir, "content.json")?)?;
        let mut trained: TrainedData = read_json(&run_file(run_dir, "train.json")?)?;
        // serde skips the maps' lookup tables.
        trained.user_ids = trained.user_ids.rebuilt();
        trained.item_ids = trained.item_ids.rebuilt();
        let model = ContentNeuMf::load(
            info.spec.model.clone(),
            content,
            trained.train.clone(),
            &run_file(run_dir, "model.bpk")?,
            device.clone(),
        )
        .map_err(|e| TaskError::invalid(format!("{}: {e}", run_dir.display())))?;
        Ok(Self {
            info,
            model,
            trained,
        })
    }

    /// The model.
    pub fn model(&self) -> &ContentNeuMf {
        &self.model
    }

    /// The `k` best films for the user with raw id `user` that they did not rate in training;
    /// with `new_only`, among the items that had no training rating.
    ///
    /// # Errors
    /// A user id the run does not know.
    pub fn recommend(
        &self,
        user: u64,
        k: usize,
        new_only: bool,
    ) -> Result<Vec<ContentRecommendation>, TaskError> {
        let u =
            self.trained.user_ids.index(user).ok_or_else(|| {
                TaskError::invalid(format!("user {user} is not in the run's data"))
            })?;
        let warm = self.model.warm_items();
        let items: Vec<u32> = (0..warm.len() as u32)
            .filter(|&i| !self.trained.train.contains(u, i as usize))
            .filter(|&i| !(new_only && warm[i as usize]))
            .collect();
        let scores = self.model.score_pairs(&vec![u as u32; items.len()], &items);
        Ok(top_k(items.into_iter().zip(scores).collect(), k)
            .into_iter()
            .map(|(i, score)| ContentRecommendation {
                item: self
                    .trained
                    .item_ids
                    .raw(i as usize)
                    .unwrap_or(u64::from(i)),
                title: self.trained.titles[i as usize].clone(),
                score,
                new: !warm[i as usize],
            })
            .collect())
    }
}

/// One user's recommendations: the best unrated films of any kind, and the best new ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserPicks {
    /// The user id as in the data files.
    pub user: u64,
    /// Best films the user did not rate in training.
    pub all: Vec<ContentRecommendation>,
    /// Best films nobody rated in training (scored from their content alone).
    pub new: Vec<ContentRecommendation>,
}

impl std::fmt::Display for UserPicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (label, list) in [("all films", &self.all), ("new films", &self.new)] {
            writeln!(f, "user {} — {label}:", self.user)?;
            for (k, r) in list.iter().enumerate() {
                let new = if r.new { " [new]" } else { "" };
                writeln!(f, "  {:>2}. {:+.3}  {}{new}", k + 1, r.score, r.title)?;
            }
        }
        Ok(())
    }
}

impl ContentPredictor {
    /// [`ContentPredictor::recommend`] for each user id in `inputs` (text), `k` of each kind.
    ///
    /// # Errors
    /// No input, an input that is not a number, a user the run does not know.
    pub fn recommend_inputs(
        &self,
        inputs: &[String],
        k: usize,
    ) -> Result<Vec<UserPicks>, TaskError> {
        if inputs.is_empty() {
            return Err(TaskError::invalid("give user ids to recommend for"));
        }
        inputs
            .iter()
            .map(|text| {
                let user: u64 = text.trim().parse().map_err(|_| {
                    TaskError::invalid(format!("`{text}` is not a user id (a whole number)"))
                })?;
                Ok(UserPicks {
                    user,
                    all: self.recommend(user, k, false)?,
                    new: self.recommend(user, k, true)?,
                })
            })
            .collect()
    }
}

impl Task for ContentRecSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(run, settings).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_recsys::data::{SyntheticConfig, generate, write_ml100k};
    use deepzero_train::FitConfig;

    fn tiny_settings(data: &Path, out: &Path) -> RunSettings {
        let mut s = RunSettings::new("ml100k-content-neumf", out).with_fit(FitConfig {
            epochs: 2,
            batch_size: 128,
            learning_rate: 1e-3,
            ..FitConfig::default()
        });
        s.data_dir = Some(data.to_path_buf());
        s.quiet = true;
        s
    }

    #[test]
    fn trains_evaluates_and_recommends_on_a_generated_movielens_folder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ml");
        write_ml100k(&data, &generate(&SyntheticConfig::default()).unwrap()).unwrap();
        let run = dir.path().join("run");
        let settings = tiny_settings(&data, &run);
        let mut spec = ContentRecSpec::ml100k();
        spec.negatives = 20;
        let report = train(&spec, &settings).unwrap();
        assert_eq!(report.rows.len(), 3);
        assert_eq!(report.rows[1].model, "popularity");
        // Every new item ties at zero ratings: popularity can only lose ties.
        assert_eq!(report.rows[1].among_new.hr, 0.0);
        assert!(report.new_items > 0 && report.test_users_among_all > 0);
        assert_eq!(report.losses.len(), 2);
        // A second training into the same folder is refused.
        let again = train(&spec, &settings).unwrap_err().to_string();
        assert!(again.contains("already holds a run"), "{again}");
        // Re-evaluating the saved run gives the same figures.
        let eval_settings = tiny_settings(&data, &dir.path().join("eval"));
        let back = evaluate_run(&run, &eval_settings).unwrap();
        assert_eq!(back.rows, report.rows);
        // Recommendations: unrated films, new ones flagged and scored from content.
        let p =
            ContentPredictor::load(&run, Some("ml100k-content-neumf"), &Device::flex()).unwrap();
        let user = p.trained.user_ids.raw(0).unwrap();
        let new = p.recommend(user, 5, true).unwrap();
        assert_eq!(new.len(), 5);
        assert!(new.iter().all(|r| r.new));
        assert!(new.windows(2).all(|w| w[0].score >= w[1].score));
        let err = p.recommend(u64::MAX, 5, false).unwrap_err().to_string();
        assert!(err.contains("not in the run's data"), "{err}");
        let picks = p.recommend_inputs(&[user.to_string()], 3).unwrap();
        assert_eq!((picks[0].all.len(), picks[0].new.len()), (3, 3));
        assert!(picks[0].to_string().contains("new films:"));
        for bad in [vec![], vec!["x1".to_string()]] {
            let err = p.recommend_inputs(&bad, 3).unwrap_err().to_string();
            assert!(err.contains("user id"), "{err}");
        }
        let other = ContentPredictor::load(&run, Some("scenes-clip"), &Device::flex());
        assert!(other.unwrap_err().to_string().contains("not `scenes-clip`"));
    }

    #[test]
    fn a_missing_data_folder_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = tiny_settings(dir.path(), &dir.path().join("run"));
        s.data_dir = None;
        let err = train(&ContentRecSpec::ml100k(), &s)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a data folder"), "{err}");
        assert!(!err.contains('\n'));
    }
}
