//! Whole recommender tasks, callable with plain arguments: a serialisable, versioned
//! [`TaskSpec`] (what becomes `run.json`), [`train`] (read the data, run the evaluation
//! protocol, write a run folder), [`evaluate`] (a saved model on a data folder) and
//! [`Predictor`] (load a run folder, recommend, find similar items).
//!
//! A run folder holds:
//! ```text
//! run.json      the spec, the data summary and this crate's version (format version 1)
//! metrics.json  the protocol's figures (a [`TaskReport`])
//! data.json     id maps, item titles and the training matrix (what `exclude_seen` leaves out)
//! model.json    the parameters of the models written in plain Rust (and the Markov chain), or
//! model.bpk     the weights of GMF/MLP/NeuMF/GRU4Rec/SASRec (burnpack)
//! histories.json  GRU4Rec and SASRec: each user's training items in time order
//! ```
//! It is written into a temporary sibling folder and renamed into place at the end, so a
//! failed or interrupted run leaves nothing half-written, and an existing run folder is never
//! overwritten. MovieLens may not be redistributed: `data.json` holds the training matrix,
//! so do not publish run folders trained on it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use deepzero_train::metrics_file::read_json;
use deepzero_train::write_json_atomic;
use serde::{Deserialize, Serialize};

use crate::data::{
    Csr, IdMap, Interaction, Interactions, ItemInfo, RatingsDataset, cold_start_split,
    leave_one_out,
};
use crate::error::{RecsysError, Result};
use crate::eval::{
    CvReport, ListReport, cross_validate, evaluate_full, evaluate_lists, evaluate_ratings,
    evaluate_sampled, sampled_candidates,
};
use crate::metrics::RankMetrics;
use crate::models::{
    Baseline, BaselineConfig, Bpr, BprConfig, FeatureBpr, FeatureBprConfig, FunkSvd, Gru4Rec,
    Gru4RecConfig, Ials, IalsConfig, Knn, KnnConfig, MarkovChain, NeuMf, NeuMfConfig, NeuMfKind,
    NextItem, Popularity, Recommender, SasRec, SasRecConfig, SequenceRecommender, SideFeatures,
    SvdConfig, SvdPp, SvdppConfig, UserProfile, top_k,
};

/// The `run.json` format version this crate writes and reads.
pub const SPEC_VERSION: u32 = 1;

/// The `task` field of every recommender `run.json`.
pub const TASK: &str = "recsys";

/// Which model, with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum ModelSpec {
    /// Most popular items.
    Popularity,
    /// Global mean + biases (ALS).
    Baseline(BaselineConfig),
    /// Biased MF by SGD.
    Svd(SvdConfig),
    /// SVD++.
    Svdpp(SvdppConfig),
    /// User- or item-based k-NN.
    Knn(KnnConfig),
    /// BPR-MF.
    Bpr(BprConfig),
    /// ALS for implicit feedback (Hu, Koren, Volinsky 2008).
    Ials(IalsConfig),
    /// Cold start: user side features (and a few rated items) × item factors and features,
    /// by BPR; the side features come from the data folder.
    FeatureBpr(FeatureBprConfig),
    /// GMF, MLP or NeuMF.
    Ncf(NeuMfConfig),
    /// First-order Markov chain over items (next-item).
    Markov,
    /// GRU4Rec-style next-item model.
    Gru4rec(Gru4RecConfig),
    /// SASRec-style next-item model.
    Sasrec(SasRecConfig),
}

impl ModelSpec {
    /// Sets the number of training epochs (a no-op for popularity and k-NN, whose baselines
    /// keep their ALS sweeps; for NeuMF, of each pre-trained branch, the fine-tuning keeping
    /// its own).
    pub fn set_epochs(&mut self, epochs: usize) {
        match self {
            ModelSpec::Popularity | ModelSpec::Knn(_) | ModelSpec::Markov => {}
            ModelSpec::Gru4rec(c) => c.epochs = epochs,
            ModelSpec::Sasrec(c) => c.epochs = epochs,
            ModelSpec::Baseline(c) => c.n_epochs = epochs,
            ModelSpec::Svd(c) => c.n_epochs = epochs,
            ModelSpec::Svdpp(c) => c.n_epochs = epochs,
            ModelSpec::Bpr(c) => c.n_epochs = epochs,
            ModelSpec::Ials(c) => c.n_iters = epochs,
            ModelSpec::FeatureBpr(c) => c.n_epochs = epochs,
            ModelSpec::Ncf(c) => {
                c.epochs = epochs;
                (c.gmf_epochs, c.mlp_epochs) = (None, None);
            }
        }
    }

    /// Sets the seed of the models that draw random numbers.
    pub fn set_seed(&mut self, seed: u64) {
        match self {
            ModelSpec::Popularity
            | ModelSpec::Baseline(_)
            | ModelSpec::Knn(_)
            | ModelSpec::Markov => {}
            ModelSpec::Gru4rec(c) => c.seed = seed,
            ModelSpec::Sasrec(c) => c.seed = seed,
            ModelSpec::Svd(c) => c.seed = seed,
            ModelSpec::Svdpp(c) => c.seed = seed,
            ModelSpec::Bpr(c) => c.seed = seed,
            ModelSpec::Ials(c) => c.seed = seed,
            ModelSpec::FeatureBpr(c) => c.seed = seed,
            ModelSpec::Ncf(c) => c.seed = seed,
        }
    }

    /// A fresh, unfitted model.
    pub fn build(&self, device: &Device) -> Box<dyn Recommender> {
        Fitted::new(self, device).into_boxed()
    }
}

/// How a model is evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Protocol {
    /// Seeded k-fold cross-validation of RMSE and MAE; the saved model is then fitted on all
    /// ratings.
    RatingKfold {
        /// Number of folds.
        folds: usize,
    },
    /// Each user's latest interaction held out; HR/NDCG/MRR@K of it among `negatives` sampled
    /// unseen items (and, with `full_ranking`, among every unseen item); the saved model is the
    /// one fitted on the training part.
    LeaveOneOut {
        /// Sampled negatives per user (NCF: 99).
        negatives: usize,
        /// The cut-off K.
        k: usize,
        /// Also rank against the whole catalogue.
        full_ranking: bool,
    },
    /// User cold start ([`crate::data::cold_start_split`]): a `fraction` of the users keep
    /// only their `max_known` earliest ratings; the next one is ranked among `negatives`
    /// sampled items they never rated (HR/NDCG@`k`).
    ColdStart {
        /// Share of the users made new.
        fraction: f64,
        /// Ratings each new user keeps.
        max_known: usize,
        /// Sampled negatives per user.
        negatives: usize,
        /// The cut-off K.
        k: usize,
    },
}

/// Everything that defines a run: it is written as `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Format version ([`SPEC_VERSION`]).
    pub version: u32,
    /// Always [`TASK`].
    pub task: String,
    /// The recipe name (`ml100k-mf`, …) or a caller's label.
    pub recipe: String,
    /// The model.
    pub model: ModelSpec,
    /// The evaluation protocol.
    pub protocol: Protocol,
    /// Seed of the splits, the negatives and the model.
    pub seed: u64,
}

/// Fine-tuning epochs of the pre-trained NeuMF recipe.
const FINETUNE_EPOCHS: usize = 3;

/// The built-in recipes, tuned on ml-100k (see docs/recsys.md).
pub const RECIPES: &[&str] = &[
    "ml100k-popularity",
    "ml100k-baseline",
    "ml100k-knn",
    "ml100k-mf",
    "ml100k-svdpp",
    "ml100k-bpr",
    "ml100k-ials",
    "ml100k-coldstart",
    "ml100k-gmf",
    "ml100k-mlp",
    "ml100k-neumf",
    "ml100k-markov",
    "ml100k-gru4rec",
    "ml100k-sasrec",
];

/// One line about a recipe of [`RECIPES`] (for a command line's list), `None` for others.
pub fn recipe_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "ml100k-popularity" => {
            "most-rated items first (the baseline of every top-K table) on MovieLens-100k"
        }
        "ml100k-baseline" => {
            "global mean + user and item biases by ALS (Surprise's BaselineOnly), 5-fold RMSE"
        }
        "ml100k-knn" => {
            "item k-NN with baseline-centred Pearson similarity (Surprise's KNNBaseline), 5-fold RMSE"
        }
        "ml100k-mf" => "biased matrix factorisation by SGD (FunkSVD), 5-fold RMSE",
        "ml100k-svdpp" => "SVD++ (implicit feedback of what was rated), 5-fold RMSE",
        "ml100k-bpr" => "BPR matrix factorisation, leave-one-out HR@10 / NDCG@10",
        "ml100k-ials" => {
            "ALS for implicit feedback (Hu, Koren, Volinsky 2008), leave-one-out HR@10 / NDCG@10"
        }
        "ml100k-coldstart" => {
            "cold start: new users (5 ratings) from side features, HR@10 against popularity"
        }
        "ml100k-gmf" => "generalised matrix factorisation (NCF), leave-one-out HR@10 / NDCG@10",
        "ml100k-mlp" => "MLP over user and item embeddings (NCF), leave-one-out HR@10 / NDCG@10",
        "ml100k-neumf" => {
            "NeuMF = GMF + MLP with pre-trained branches (He et al. 2017), HR@10 / NDCG@10"
        }
        "ml100k-markov" => {
            "first-order Markov chain of the next item (popularity fallback), SASRec protocol"
        }
        "ml100k-gru4rec" => {
            "GRU4Rec-style next-item model (GRU over the history, softmax over items)"
        }
        "ml100k-sasrec" => "SASRec-style next-item model (causal self-attention over the history)",
        _ => return None,
    })
}

/// The built-in recipes as a front end lists them (seed chapters 5.1–5.4), each spec being the
/// recipe's name ([`TaskSpec::recipe`]). Their training settings are their own, so the
/// [`FitConfig`](deepzero_train::FitConfig) of each is empty (no epochs, no batches).
pub fn recipes() -> Vec<deepzero_train::Recipe<&'static str>> {
    deepzero_train::Recipe::with_own_settings(RECIPES, "5.1-5.4", |name| {
        recipe_description(name).unwrap_or("recommender on MovieLens-100k (docs/recsys.md)")
    })
}

impl TaskSpec {
    /// A spec from its parts (version and task filled in).
    pub fn new(recipe: &str, model: ModelSpec, protocol: Protocol, seed: u64) -> TaskSpec {
        let mut spec = TaskSpec {
            version: SPEC_VERSION,
            task: TASK.into(),
            recipe: recipe.into(),
            model,
            protocol,
            seed,
        };
        spec.model.set_seed(seed);
        spec
    }

    /// One of [`RECIPES`].
    ///
    /// # Errors
    /// An unknown name (the message lists the known ones).
    pub fn recipe(name: &str) -> Result<TaskSpec> {
        let kfold = Protocol::RatingKfold { folds: 5 };
        let loo = Protocol::LeaveOneOut {
            negatives: 99,
            k: 10,
            full_ranking: true,
        };
        // Tuned on a validation split (each user's second-latest interaction held out of
        // the training part) with examples/ncf_validation.rs, see docs/recsys.md.
        let ncf = |kind| NeuMfConfig {
            kind,
            factors: 16,
            mlp_layers: vec![128, 64, 32, 16],
            l2: 0.03,
            finetune_epochs: Some(FINETUNE_EPOCHS),
            ..NeuMfConfig::default()
        };
        let (model, protocol) = match name {
            "ml100k-popularity" => (ModelSpec::Popularity, loo),
            "ml100k-baseline" => (ModelSpec::Baseline(BaselineConfig::default()), kfold),
            "ml100k-knn" => (ModelSpec::Knn(KnnConfig::default()), kfold),
            "ml100k-mf" => (
                ModelSpec::Svd(SvdConfig {
                    n_factors: 100,
                    n_epochs: 40,
                    lr: 0.01,
                    reg: 0.1,
                    ..SvdConfig::default()
                }),
                kfold,
            ),
            "ml100k-svdpp" => (
                ModelSpec::Svdpp(SvdppConfig {
                    n_factors: 50,
                    n_epochs: 40,
                    lr: 0.007,
                    reg: 0.1,
                    ..SvdppConfig::default()
                }),
                kfold,
            ),
            "ml100k-bpr" => (
                ModelSpec::Bpr(BprConfig {
                    n_factors: 64,
                    n_epochs: 60,
                    lr: 0.05,
                    reg: 0.01,
                    ..BprConfig::default()
                }),
                loo,
            ),
            // Chosen on the validation split of examples/ials_grid.rs.
            "ml100k-ials" => (
                ModelSpec::Ials(IalsConfig {
                    n_factors: 64,
                    alpha: 10.0,
                    reg: 50.0,
                    ..IalsConfig::default()
                }),
                loo,
            ),
            // Chosen on the validation users of examples/coldstart_grid.rs.
            "ml100k-coldstart" => (
                ModelSpec::FeatureBpr(FeatureBprConfig {
                    n_factors: 32,
                    max_history: 5,
                    first_ratings: 50,
                    ..FeatureBprConfig::default()
                }),
                Protocol::ColdStart {
                    fraction: 0.2,
                    max_known: 5,
                    negatives: 99,
                    k: 10,
                },
            ),
            "ml100k-gmf" => (ModelSpec::Ncf(ncf(NeuMfKind::Gmf)), loo),
            // Early-stopped at the best validation epoch, with a stronger embedding L2.
            "ml100k-mlp" => (
                ModelSpec::Ncf(NeuMfConfig {
                    epochs: 17,
                    l2: 0.1,
                    ..ncf(NeuMfKind::Mlp)
                }),
                loo,
            ),
            // Chosen on the validation split over seeds 0, 1, 2 (docs/recsys.md): the GMF branch
            // trains as `ml100k-gmf`; the MLP branch is wider (256-128-64-32) with dropout 0.2
            // on the input of every tower layer, which stops the decline the MLP shows after
            // ~16 epochs, so it trains 26; α (the weight of the GMF half of the fused output
            // layer; the paper fixes 0.5) 0.7. Validation HR@10 0.7006, NDCG@10 0.4135 (mean of
            // the three seeds) against 0.6978 / 0.4130 for the former recipe (MLP 128-64-32-16
            // without dropout, 20 epochs, α 0.9): a small gain, never worse on a seed.
            "ml100k-neumf" => (
                ModelSpec::Ncf(NeuMfConfig {
                    alpha: 0.7,
                    mlp_layers: vec![256, 128, 64, 32],
                    mlp_dropout: 0.2,
                    mlp_epochs: Some(26),
                    ..ncf(NeuMfKind::NeuMf)
                }),
                loo,
            ),
            // Next-item models: each user's latest interaction is the target, the history is
            // the rest in time order (the SASRec test; see docs/recsys.md).
            "ml100k-markov" => (ModelSpec::Markov, loo),
            "ml100k-gru4rec" => (ModelSpec::Gru4rec(Gru4RecConfig::default()), loo),
            "ml100k-sasrec" => (ModelSpec::Sasrec(SasRecConfig::default()), loo),
            other => {
                return Err(RecsysError::InvalidArgument(format!(
                    "unknown recipe {other:?} (known: {})",
                    RECIPES.join(", ")
                )));
            }
        };
        Ok(TaskSpec::new(name, model, protocol, 0))
    }

    /// The same spec with another seed (splits, negatives and model).
    pub fn with_seed(mut self, seed: u64) -> TaskSpec {
        self.seed = seed;
        self.model.set_seed(seed);
        self
    }

    /// The same spec with another number of epochs (see [`ModelSpec::set_epochs`]).
    pub fn with_epochs(mut self, epochs: usize) -> TaskSpec {
        self.model.set_epochs(epochs);
        self
    }
}

/// What a data folder held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Layout name (`ml-100k`, …).
    pub name: String,
    /// The folder read.
    pub dir: PathBuf,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Ratings.
    pub ratings: usize,
}

/// `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The spec.
    pub spec: TaskSpec,
    /// The data it was trained on.
    pub data: DataSummary,
    /// This crate's version.
    pub crate_version: String,
}

/// Top-K figures of a leave-one-out run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankingReport {
    /// With sampled negatives.
    pub sampled: RankMetrics,
    /// Negatives per user.
    pub negatives: usize,
    /// Against every unseen item, when asked for.
    pub full: Option<RankMetrics>,
    /// Coverage and popularity of everyone's top-K.
    pub lists: ListReport,
}

/// `metrics.json`: what a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// The recipe.
    pub recipe: String,
    /// The model's short name.
    pub model: String,
    /// k-fold RMSE/MAE, for the rating protocol.
    pub rating: Option<CvReport>,
    /// RMSE/MAE of a saved model on a data folder ([`evaluate`] with the rating protocol).
    pub rating_on_data: Option<crate::eval::RatingReport>,
    /// Top-K figures, for leave-one-out.
    pub ranking: Option<RankingReport>,
    /// Seconds fitting the saved model.
    pub fit_seconds: f64,
    /// Wall-clock seconds of the whole call.
    pub seconds: f64,
}

/// What `data.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunData {
    user_ids: IdMap,
    item_ids: IdMap,
    items: Vec<Option<ItemInfo>>,
    train: Csr,
    scale: crate::data::RatingScale,
}

/// A fitted model of any kind (the concrete type, for saving and item similarities).
// One lives per predictor, so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Fitted {
    Popularity(Popularity),
    Baseline(Baseline),
    Svd(FunkSvd),
    Svdpp(SvdPp),
    Knn(Knn),
    Bpr(Bpr),
    Ials(Ials),
    FeatureBpr(FeatureBpr),
    Ncf(NeuMf),
    Markov(SequenceRecommender<MarkovChain>),
    Gru4rec(SequenceRecommender<Gru4Rec>),
    Sasrec(SequenceRecommender<SasRec>),
}

/// `match` over every [`Fitted`] variant with `$m` bound to the model: the one list of the
/// variants for the code that treats every model alike (through [`Recommender`]).
macro_rules! each_model {
    ($fitted:expr, $m:ident => $body:expr) => {
        match $fitted {
            Fitted::Popularity($m) => $body,
            Fitted::Baseline($m) => $body,
            Fitted::Svd($m) => $body,
            Fitted::Svdpp($m) => $body,
            Fitted::Knn($m) => $body,
            Fitted::Bpr($m) => $body,
            Fitted::Ials($m) => $body,
            Fitted::FeatureBpr($m) => $body,
            Fitted::Ncf($m) => $body,
            Fitted::Markov($m) => $body,
            Fitted::Gru4rec($m) => $body,
            Fitted::Sasrec($m) => $body,
        }
    };
}

impl Fitted {
    fn new(spec: &ModelSpec, device: &Device) -> Fitted {
        match spec.clone() {
            ModelSpec::Popularity => Fitted::Popularity(Popularity::new()),
            ModelSpec::Baseline(c) => Fitted::Baseline(Baseline::new(c)),
            ModelSpec::Svd(c) => Fitted::Svd(FunkSvd::new(c)),
            ModelSpec::Svdpp(c) => Fitted::Svdpp(SvdPp::new(c)),
            ModelSpec::Knn(c) => Fitted::Knn(Knn::new(c)),
            ModelSpec::Bpr(c) => Fitted::Bpr(Bpr::new(c)),
            ModelSpec::Ials(c) => Fitted::Ials(Ials::new(c)),
            ModelSpec::FeatureBpr(c) => {
                Fitted::FeatureBpr(FeatureBpr::new(c, SideFeatures::default()))
            }
            ModelSpec::Ncf(c) => Fitted::Ncf(NeuMf::new(c, device.clone())),
            ModelSpec::Markov => Fitted::Markov(SequenceRecommender::new(MarkovChain::new())),
            ModelSpec::Gru4rec(c) => {
                Fitted::Gru4rec(SequenceRecommender::new(Gru4Rec::new(c, device.clone())))
            }
            ModelSpec::Sasrec(c) => {
                Fitted::Sasrec(SequenceRecommender::new(SasRec::new(c, device.clone())))
            }
        }
    }

    fn model(&self) -> &dyn Recommender {
        each_model!(self, m => m)
    }

    fn into_boxed(self) -> Box<dyn Recommender> {
        each_model!(self, m => Box::new(m))
    }

    fn model_mut(&mut self) -> &mut dyn Recommender {
        each_model!(self, m => m)
    }

    /// Writes `model.json` or `model.bpk` into `dir`.
    fn save(&self, dir: &Path) -> Result<()> {
        let json = dir.join("model.json");
        match self {
            Fitted::Popularity(m) => write_json_atomic(&json, m)?,
            Fitted::Baseline(m) => write_json_atomic(&json, m)?,
            Fitted::Svd(m) => write_json_atomic(&json, m)?,
            Fitted::Svdpp(m) => write_json_atomic(&json, m)?,
            Fitted::Knn(m) => write_json_atomic(&json, m)?,
            Fitted::Bpr(m) => write_json_atomic(&json, m)?,
            Fitted::Ials(m) => write_json_atomic(&json, m)?,
            Fitted::FeatureBpr(m) => write_json_atomic(&json, m)?,
            Fitted::Ncf(m) => m.save(&dir.join("model.bpk"))?,
            Fitted::Markov(m) => write_json_atomic(&json, m)?,
            Fitted::Gru4rec(m) => {
                m.model.save(&dir.join("model.bpk"))?;
                write_json_atomic(&dir.join("histories.json"), &m.histories)?;
            }
            Fitted::Sasrec(m) => {
                m.model.save(&dir.join("model.bpk"))?;
                write_json_atomic(&dir.join("histories.json"), &m.histories)?;
            }
        }
        Ok(())
    }

    /// Reads what [`Fitted::save`] wrote; `train` is the training matrix from `data.json`.
    fn load(
        spec: &ModelSpec,
        dir: &Path,
        train: &Csr,
        scale: crate::data::RatingScale,
        device: &Device,
    ) -> Result<Fitted> {
        let (json, bpk) = (dir.join("model.json"), dir.join("model.bpk"));
        Ok(match spec {
            ModelSpec::Popularity => {
                Fitted::Popularity(read_seen(&json, train, Popularity::set_seen)?)
            }
            ModelSpec::Baseline(_) => {
                Fitted::Baseline(read_seen(&json, train, Baseline::set_seen)?)
            }
            ModelSpec::Svd(_) => Fitted::Svd(read_seen(&json, train, FunkSvd::set_seen)?),
            ModelSpec::Svdpp(_) => Fitted::Svdpp(read_seen(&json, train, SvdPp::set_seen)?),
            ModelSpec::Knn(_) => {
                // The similarity matrix is not stored: refit from the training matrix (fast).
                let mut m: Knn = read_json(&json)?;
                m.fit(&interactions_of(train, scale))?;
                Fitted::Knn(m)
            }
            ModelSpec::Bpr(_) => Fitted::Bpr(read_seen(&json, train, Bpr::set_seen)?),
            ModelSpec::Ials(_) => Fitted::Ials(read_seen(&json, train, Ials::set_seen)?),
            ModelSpec::FeatureBpr(_) => {
                Fitted::FeatureBpr(read_seen(&json, train, FeatureBpr::set_seen)?)
            }
            ModelSpec::Ncf(c) => {
                Fitted::Ncf(NeuMf::load(c.clone(), train.clone(), &bpk, device.clone())?)
            }
            ModelSpec::Markov => Fitted::Markov(read_seen(
                &json,
                train,
                SequenceRecommender::<MarkovChain>::set_seen,
            )?),
            ModelSpec::Gru4rec(c) => Fitted::Gru4rec(with_histories(
                Gru4Rec::load(c.clone(), train.n_cols, &bpk, device.clone())?,
                dir,
                train,
            )?),
            ModelSpec::Sasrec(c) => Fitted::Sasrec(with_histories(
                SasRec::load(c.clone(), train.n_cols, &bpk, device.clone())?,
                dir,
                train,
            )?),
        })
    }

    /// Gives a side-feature model the features of `data` (other models need none).
    fn attach_features(&mut self, data: &RatingsDataset) {
        if let Fitted::FeatureBpr(m) = self {
            m.features = SideFeatures::from_dataset(data);
        }
    }

    /// Row-major item vectors for similar-item search, where the model has them.
    fn item_vectors(&self) -> Option<(&[f32], usize)> {
        match self {
            Fitted::Svd(m) => Some((&m.q, m.config.n_factors)),
            Fitted::Svdpp(m) => Some((&m.q, m.config.n_factors)),
            Fitted::Bpr(m) => Some((&m.q, m.config.n_factors)),
            Fitted::Ials(m) => Some((&m.y, m.config.n_factors)),
            Fitted::FeatureBpr(m) => Some((&m.q, m.config.n_factors)),
            _ => None,
        }
    }
}

/// A model saved as JSON, given back the training matrix it filters seen items with (not
/// saved: `data.json` holds it once for every model).
fn read_seen<M: serde::de::DeserializeOwned>(
    json: &Path,
    train: &Csr,
    set_seen: fn(&mut M, Csr),
) -> Result<M> {
    let mut m: M = read_json(json)?;
    set_seen(&mut m, train.clone());
    Ok(m)
}

/// A next-item network loaded from `model.bpk`, with the users' histories of `histories.json`.
fn with_histories<M: NextItem>(
    model: M,
    dir: &Path,
    train: &Csr,
) -> Result<SequenceRecommender<M>> {
    let histories: Vec<Vec<u32>> = read_json(&dir.join("histories.json"))?;
    Ok(SequenceRecommender::from_parts(
        model,
        histories,
        train.clone(),
    ))
}

/// The training matrix back as interactions (timestamps are not kept).
fn interactions_of(train: &Csr, scale: crate::data::RatingScale) -> Interactions {
    let mut data = Vec::with_capacity(train.nnz());
    for u in 0..train.n_rows {
        let (items, ratings) = train.row(u);
        for (&item, &rating) in items.iter().zip(ratings) {
            data.push(Interaction {
                user: u as u32,
                item,
                rating,
                timestamp: 0,
            });
        }
    }
    Interactions {
        n_users: train.n_rows,
        n_items: train.n_cols,
        data,
        scale,
    }
}

/// A temporary sibling of `run_dir`, removed on drop unless published.
struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staging {
    fn new(run_dir: &Path) -> Result<Staging> {
        if run_dir.exists()
            && std::fs::read_dir(run_dir)
                .map_err(RecsysError::io(run_dir))?
                .next()
                .is_some()
        {
            return Err(RecsysError::Run {
                path: run_dir.to_path_buf(),
                message: "run folder already exists and is not empty (choose another --out)".into(),
            });
        }
        let name = run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let parent = run_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(RecsysError::io(parent))?;
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(RecsysError::io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(RecsysError::io(&tmp))?;
        Ok(Staging {
            tmp,
            target: run_dir.to_path_buf(),
            published: false,
        })
    }

    fn publish(mut self) -> Result<()> {
        if self.target.exists() {
            // An empty folder (checked in `new`) is replaced.
            std::fs::remove_dir(&self.target).map_err(RecsysError::io(&self.target))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(RecsysError::io(&self.target))?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// [`train`] of recipe `name` ([`TaskSpec::recipe`]) with the settings of a run: its seed,
/// data folder (required), run folder and device; `epochs`, when given, replaces the recipe's.
///
/// # Errors
/// As [`TaskSpec::recipe`] and [`train`], and no data folder or device.
pub fn train_run(
    name: &str,
    settings: &deepzero_train::RunSettings,
    epochs: Option<usize>,
) -> std::result::Result<TaskReport, deepzero_train::TaskError> {
    let mut spec = TaskSpec::recipe(name)?.with_seed(settings.seed());
    if let Some(epochs) = epochs {
        spec = spec.with_epochs(epochs);
    }
    let data = settings.require_data_dir()?;
    Ok(train(&spec, data, &settings.out, &settings.device()?)?)
}

/// [`evaluate`] of the run in `run_dir`, refusing a run of another recipe than `name`, on the
/// data folder (required) and device of `settings`.
///
/// # Errors
/// As [`Predictor::load_recipe`] and [`evaluate`], and no data folder or device.
pub fn evaluate_run(
    name: &str,
    run_dir: &Path,
    settings: &deepzero_train::RunSettings,
) -> std::result::Result<TaskReport, deepzero_train::TaskError> {
    let data = settings.require_data_dir()?;
    let device = settings.device()?;
    Predictor::load_recipe(run_dir, name, &device)?;
    Ok(evaluate(run_dir, data, &device)?)
}

/// Runs `spec` on the MovieLens-layout folder `data_dir` and writes the run folder
/// `run_dir` (see the module docs). `device` is where GMF/MLP/NeuMF train; the other models
/// run on the CPU in plain Rust.
///
/// # Errors
/// Unreadable or malformed data, an existing non-empty `run_dir`, an empty split, a
/// spec from another version.
pub fn train(
    spec: &TaskSpec,
    data_dir: &Path,
    run_dir: &Path,
    device: &Device,
) -> Result<TaskReport> {
    check_spec(spec, run_dir)?;
    let staging = Staging::new(run_dir)?;
    let start = Instant::now();
    let data = RatingsDataset::read_dir(data_dir)?;
    // A fresh model fitted on `train` (with the side features where the protocol hands them
    // out), and its fitting time in seconds.
    let fit = |train: &Interactions, features: bool| -> Result<(Fitted, f64)> {
        let mut fitted = Fitted::new(&spec.model, device);
        if features {
            fitted.attach_features(&data);
        }
        let t = Instant::now();
        fitted.model_mut().fit(train)?;
        Ok((fitted, t.elapsed().as_secs_f64()))
    };
    // The ranking protocols: the held-out `test` items against `negatives` sampled ones.
    let rank = |fitted: &Fitted,
                train: &Interactions,
                test: &[Interaction],
                negatives: usize,
                k: usize,
                full_ranking: bool| {
        let all = &data.ratings;
        rank_report(
            fitted.model(),
            train,
            test,
            all,
            negatives,
            k,
            full_ranking,
            spec.seed,
        )
    };
    let (mut fitted, rating, ranking, fit_seconds, train_set) = match &spec.protocol {
        Protocol::RatingKfold { folds } => {
            let make = || spec.model.build(device);
            let cv = cross_validate(&make, &data.ratings, *folds, spec.seed)?;
            let (fitted, fit_seconds) = fit(&data.ratings, false)?;
            let train = data.ratings.clone();
            (fitted, Some(cv), None, fit_seconds, train)
        }
        Protocol::LeaveOneOut {
            negatives,
            k,
            full_ranking,
        } => {
            let loo = leave_one_out(&data.ratings)?;
            let (fitted, fit_seconds) = fit(&loo.train, false)?;
            let ranking = rank(
                &fitted,
                &loo.train,
                &loo.test,
                *negatives,
                *k,
                *full_ranking,
            )?;
            (fitted, None, Some(ranking), fit_seconds, loo.train)
        }
        Protocol::ColdStart {
            fraction,
            max_known,
            negatives,
            k,
        } => {
            let split = cold_start_split(&data.ratings, *fraction, *max_known, spec.seed)?;
            let (fitted, fit_seconds) = fit(&split.train, true)?;
            let ranking = rank(&fitted, &split.train, &split.test, *negatives, *k, false)?;
            (fitted, None, Some(ranking), fit_seconds, split.train)
        }
    };
    let report = TaskReport {
        recipe: spec.recipe.clone(),
        model: fitted.model().name(),
        rating,
        rating_on_data: None,
        ranking,
        fit_seconds,
        seconds: start.elapsed().as_secs_f64(),
    };
    let info = RunInfo {
        spec: spec.clone(),
        data: DataSummary {
            name: data.name.clone(),
            dir: data_dir.to_path_buf(),
            users: data.ratings.n_users,
            items: data.ratings.n_items,
            ratings: data.ratings.len(),
        },
        crate_version: env!("CARGO_PKG_VERSION").into(),
    };
    let run_data = RunData {
        user_ids: data.user_ids.clone(),
        item_ids: data.item_ids.clone(),
        items: data.items.clone(),
        train: train_set.user_item(),
        scale: data.ratings.scale,
    };
    fitted.save(&staging.tmp)?;
    write_json_atomic(&staging.tmp.join("data.json"), &run_data)?;
    write_json_atomic(&staging.tmp.join("metrics.json"), &report)?;
    write_json_atomic(&staging.tmp.join("run.json"), &info)?;
    let _ = &mut fitted;
    staging.publish()?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn rank_report(
    model: &dyn Recommender,
    train: &Interactions,
    test: &[Interaction],
    all: &Interactions,
    negatives: usize,
    k: usize,
    full_ranking: bool,
    seed: u64,
) -> Result<RankingReport> {
    if k == 0 {
        return Err(RecsysError::InvalidArgument(
            "the cut-off K must be at least 1".into(),
        ));
    }
    let cands = sampled_candidates(test, all, negatives, seed)?;
    Ok(RankingReport {
        sampled: evaluate_sampled(model, &cands, k),
        negatives,
        full: full_ranking.then(|| evaluate_full(model, test, k)),
        lists: evaluate_lists(model, train, k),
    })
}

fn check_spec(spec: &TaskSpec, path: &Path) -> Result<()> {
    if spec.task != TASK || spec.version != SPEC_VERSION {
        return Err(RecsysError::Run {
            path: path.to_path_buf(),
            message: format!(
                "this is a {:?} run of format version {}, this program reads {TASK:?} version {SPEC_VERSION}",
                spec.task, spec.version
            ),
        });
    }
    Ok(())
}

/// Evaluates the model saved in `run_dir` on the folder `data_dir`: with a leave-one-out
/// spec, the same split and negatives as training (so it reproduces `metrics.json`); with the
/// rating protocol, the RMSE/MAE of the saved model on every rating in `data_dir` (point it
/// at a held-out file such as a folder holding ml-100k's `u1.test` as `u.data`).
pub fn evaluate(run_dir: &Path, data_dir: &Path, device: &Device) -> Result<TaskReport> {
    let start = Instant::now();
    let predictor = Predictor::load(run_dir, device)?;
    let data = RatingsDataset::read_dir(data_dir)?;
    // Re-index the data with the run's id maps; unknown ids are left out.
    let remap = |x: &Interaction| -> Option<Interaction> {
        let u = predictor
            .data
            .user_ids
            .index(data.user_ids.raw(x.user as usize)?)?;
        let i = predictor
            .data
            .item_ids
            .index(data.item_ids.raw(x.item as usize)?)?;
        Some(Interaction {
            user: u as u32,
            item: i as u32,
            ..*x
        })
    };
    let mapped = Interactions {
        n_users: predictor.data.user_ids.len(),
        n_items: predictor.data.item_ids.len(),
        data: data.ratings.data.iter().filter_map(remap).collect(),
        scale: data.ratings.scale,
    };
    if mapped.is_empty() {
        return Err(RecsysError::InvalidArgument(format!(
            "{}: no rating of a user and item the run knows",
            data_dir.display()
        )));
    }
    let spec = &predictor.info.spec;
    let model = predictor.fitted.model();
    let (rating_on_data, ranking) = match &spec.protocol {
        Protocol::RatingKfold { .. } => (Some(evaluate_ratings(model, &mapped)), None),
        Protocol::LeaveOneOut {
            negatives,
            k,
            full_ranking,
        } => {
            let loo = leave_one_out(&mapped)?;
            let r = rank_report(
                model,
                &loo.train,
                &loo.test,
                &mapped,
                *negatives,
                *k,
                *full_ranking,
                spec.seed,
            )?;
            (None, Some(r))
        }
        Protocol::ColdStart {
            fraction,
            max_known,
            negatives,
            k,
        } => {
            let split = cold_start_split(&mapped, *fraction, *max_known, spec.seed)?;
            let r = rank_report(
                model,
                &split.train,
                &split.test,
                &mapped,
                *negatives,
                *k,
                false,
                spec.seed,
            )?;
            (None, Some(r))
        }
    };
    Ok(TaskReport {
        recipe: spec.recipe.clone(),
        model: model.name(),
        rating: None,
        rating_on_data,
        ranking,
        fit_seconds: 0.0,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One recommended item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The item's raw id.
    pub item: u64,
    /// Its title, when the data had one.
    pub title: Option<String>,
    /// The model's score (a predicted rating, a logit, a similarity, a count).
    pub score: f32,
}

/// A user's recommendations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendations {
    /// The user's raw id.
    pub user: u64,
    /// `true` when the run did not know the user and the list is the most popular items
    /// (the cold-start fallback).
    pub cold_start: bool,
    /// Best first.
    pub items: Vec<Recommendation>,
}

/// Raw item ids from comma-separated text (`"50,181"`).
///
/// # Errors
/// An empty list or a part that is not a whole number.
pub fn parse_item_ids(text: &str) -> Result<Vec<u64>> {
    let ids = text
        .split(',')
        .map(|part| {
            part.trim().parse::<u64>().map_err(|_| {
                RecsysError::InvalidArgument(format!(
                    "item id {:?} in {text:?} is not a whole number",
                    part.trim()
                ))
            })
        })
        .collect::<Result<Vec<u64>>>()?;
    Ok(ids)
}

/// A trained run, loaded for inference.
pub struct Predictor {
    info: RunInfo,
    data: RunData,
    fitted: Fitted,
    popularity: Vec<u32>,
}

impl Predictor {
    /// Loads a run folder written by [`train`].
    ///
    /// # Errors
    /// A missing or unreadable file, a run of another task or format version.
    pub fn load(run_dir: &Path, device: &Device) -> Result<Predictor> {
        let run_json = run_dir.join("run.json");
        if !run_json.exists() {
            return Err(RecsysError::Run {
                path: run_dir.to_path_buf(),
                message: "not a run folder (no run.json)".into(),
            });
        }
        let value: serde_json::Value = read_json(&run_json)?;
        // Ours keep them in the spec; other tasks' runs (content-rec, …) at the top.
        let field = |name: &str| {
            let in_spec = value.get("spec").and_then(|s| s.get(name));
            in_spec.or_else(|| value.get(name)).cloned()
        };
        let (task, version) = (
            field("task").and_then(|t| t.as_str().map(String::from)),
            field("version").and_then(|v| v.as_u64()).unwrap_or(0),
        );
        let task = task.unwrap_or_default();
        if task != TASK || version != SPEC_VERSION as u64 {
            return Err(RecsysError::Run {
                path: run_json,
                message: format!(
                    "a {task:?} run of format version {version}, not a {TASK:?} run of version {SPEC_VERSION}"
                ),
            });
        }
        let info: RunInfo = serde_json::from_value(value).map_err(|e| RecsysError::Run {
            path: run_json.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let mut data: RunData = read_json(&run_dir.join("data.json"))?;
        data.user_ids = data.user_ids.rebuilt();
        data.item_ids = data.item_ids.rebuilt();
        let fitted = Fitted::load(&info.spec.model, run_dir, &data.train, data.scale, device)?;
        let mut popularity = vec![0u32; data.train.n_cols];
        for &i in &data.train.indices {
            popularity[i as usize] += 1;
        }
        Ok(Predictor {
            info,
            data,
            fitted,
            popularity,
        })
    }

    /// Loads a run folder and checks it was trained by `recipe`.
    ///
    /// # Errors
    /// As [`Predictor::load`], and a run of another recipe.
    pub fn load_recipe(run_dir: &Path, recipe: &str, device: &Device) -> Result<Predictor> {
        let p = Predictor::load(run_dir, device)?;
        if p.info.spec.recipe != recipe {
            return Err(RecsysError::Run {
                path: run_dir.to_path_buf(),
                message: format!("trained by recipe {:?}, not {recipe:?}", p.info.spec.recipe),
            });
        }
        Ok(p)
    }

    /// `run.json`.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The model.
    pub fn model(&self) -> &dyn Recommender {
        self.fitted.model()
    }

    fn item(&self, index: u32, score: f32) -> Recommendation {
        Recommendation {
            item: self.data.item_ids.raw(index as usize).unwrap_or_default(),
            title: self
                .data
                .items
                .get(index as usize)
                .and_then(|i| i.as_ref())
                .map(|i| i.title.clone()),
            score,
        }
    }

    /// The `k` best items for the raw user id `user`, excluding what they rated in training.
    /// An unknown user gets the `k` most popular items (`cold_start: true`).
    pub fn recommend(&self, user: u64, k: usize) -> Recommendations {
        match self.data.user_ids.index(user) {
            Some(u) => Recommendations {
                user,
                cold_start: false,
                items: self
                    .model()
                    .recommend(u, k, true)
                    .into_iter()
                    .map(|(i, s)| self.item(i, s))
                    .collect(),
            },
            None => {
                let scored = self
                    .popularity
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (i as u32, c as f32))
                    .collect();
                Recommendations {
                    user,
                    cold_start: true,
                    items: top_k(scored, k)
                        .into_iter()
                        .map(|(i, s)| self.item(i, s))
                        .collect(),
                }
            }
        }
    }

    /// The `k` best items for a user the run never saw, from what they declare (`profile`)
    /// and the raw ids of items they rated, oldest first (left out of the list). Only a
    /// side-feature run (`ml100k-coldstart`) has this path.
    ///
    /// # Errors
    /// Another kind of run, an empty profile with no rated item, a feature value or an item
    /// id the run does not know.
    pub fn recommend_new_user(
        &self,
        profile: &UserProfile,
        rated: &[u64],
        k: usize,
    ) -> Result<Vec<Recommendation>> {
        let Fitted::FeatureBpr(model) = &self.fitted else {
            return Err(RecsysError::InvalidArgument(format!(
                "recipe {} has no side-feature model; a new user's features need an ml100k-coldstart run",
                self.info.spec.recipe
            )));
        };
        if profile.is_empty() && rated.is_empty() {
            return Err(RecsysError::InvalidArgument(
                "a new user needs a gender, an age, an occupation or rated items".into(),
            ));
        }
        let feats = model.features.user_feature_ids(profile)?;
        let rated = rated
            .iter()
            .map(|&raw| {
                self.data
                    .item_ids
                    .index(raw)
                    .map(|i| i as u32)
                    .ok_or(RecsysError::UnknownItem(raw))
            })
            .collect::<Result<Vec<u32>>>()?;
        Ok(model
            .recommend_new_user(&feats, &rated, k)
            .into_iter()
            .map(|(i, s)| self.item(i, s))
            .collect())
    }

    /// The model's score of a raw `(user, item)` pair.
    ///
    /// # Errors
    /// An unknown user or item id.
    pub fn score(&self, user: u64, item: u64) -> Result<f32> {
        let u = self
            .data
            .user_ids
            .index(user)
            .ok_or(RecsysError::UnknownUser(user))?;
        let i = self
            .data
            .item_ids
            .index(item)
            .ok_or(RecsysError::UnknownItem(item))?;
        Ok(self.model().score(u, i))
    }

    /// The `k` items most similar to the raw item id `item`: cosine of the item factors for
    /// the factor models (MF, SVD++, BPR), the model's similarity for item-based k-NN, and
    /// otherwise the cosine of the items' columns of the binary training matrix (who
    /// interacted with both).
    ///
    /// # Errors
    /// An unknown item id.
    pub fn similar_items(&self, item: u64, k: usize) -> Result<Vec<Recommendation>> {
        let i = self
            .data
            .item_ids
            .index(item)
            .ok_or(RecsysError::UnknownItem(item))?;
        let n = self.data.train.n_cols;
        let scored: Vec<(u32, f32)> = match (&self.fitted, self.fitted.item_vectors()) {
            (_, Some((q, f))) => {
                let qi = &q[i * f..(i + 1) * f];
                let ni = crate::models::dot(qi, qi).sqrt();
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let qj = &q[j * f..(j + 1) * f];
                        let d = ni * crate::models::dot(qj, qj).sqrt();
                        (
                            j as u32,
                            if d > 0.0 {
                                crate::models::dot(qi, qj) / d
                            } else {
                                0.0
                            },
                        )
                    })
                    .collect()
            }
            (Fitted::Knn(m), None) if !m.config.user_based => {
                return Ok(m
                    .neighbours(i, k)
                    .into_iter()
                    .map(|(j, s)| self.item(j, s))
                    .collect());
            }
            _ => {
                let by_item = self.data.train.transpose();
                let (ui, _) = by_item.row(i);
                let mut common = vec![0u32; n];
                for &u in ui {
                    for &j in self.data.train.row(u as usize).0 {
                        common[j as usize] += 1;
                    }
                }
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let d = ((ui.len() * by_item.row_len(j)) as f32).sqrt();
                        (j as u32, if d > 0.0 { common[j] as f32 / d } else { 0.0 })
                    })
                    .collect()
            }
        };
        Ok(top_k(scored, k)
            .into_iter()
            .map(|(j, s)| self.item(j, s))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SyntheticConfig, generate, write_ml100k};

    #[test]
    fn every_recipe_has_a_description() {
        for name in RECIPES {
            assert!(recipe_description(name).is_some(), "{name}");
        }
        assert_eq!(recipe_description("ml100k-unknown"), None);
    }

    fn sample(dir: &Path) {
        let data = generate(&SyntheticConfig {
            n_users: 60,
            n_items: 50,
            ratings_per_user: 15,
            ..Default::default()
        })
        .unwrap();
        write_ml100k(dir, &data).unwrap();
    }

    #[test]
    fn every_recipe_trains_saves_and_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        sample(&data_dir);
        let device = Device::flex();
        for name in RECIPES {
            let mut spec = TaskSpec::recipe(name).unwrap().with_epochs(2).with_seed(3);
            match &mut spec.protocol {
                Protocol::RatingKfold { folds } => *folds = 2,
                Protocol::LeaveOneOut { negatives, .. } => *negatives = 20,
                Protocol::ColdStart { negatives, .. } => *negatives = 20,
            }
            let run = tmp.path().join(name);
            let report = train(&spec, &data_dir, &run, &device).unwrap();
            assert_eq!(report.recipe, *name);
            assert!(report.rating.is_some() || report.ranking.is_some());
            for f in ["run.json", "metrics.json", "data.json"] {
                assert!(run.join(f).exists(), "{name}: {f}");
            }
            let p = Predictor::load_recipe(&run, name, &device).unwrap();
            let recs = p.recommend(1, 5);
            assert_eq!((recs.items.len(), recs.cold_start), (5, false));
            assert!(recs.items[0].title.as_deref().unwrap().starts_with("Movie"));
            assert!(p.recommend(999_999, 3).cold_start);
            new_user_path(&p, name);
            assert_eq!(p.similar_items(1, 4).unwrap().len(), 4);
            // The loaded model scores as the trained one did (metrics reproduce).
            let again = evaluate(&run, &data_dir, &device).unwrap();
            if let (Some(a), Some(b)) = (&report.ranking, &again.ranking) {
                assert_eq!(a.sampled, b.sampled, "{name}");
            }
            // Refusals.
            assert!(
                train(&spec, &data_dir, &run, &device)
                    .unwrap_err()
                    .to_string()
                    .contains("already exists")
            );
            assert!(
                Predictor::load_recipe(&run, "ml100k-other", &device)
                    .err()
                    .unwrap()
                    .to_string()
                    .contains("trained by recipe")
            );
        }
    }

    /// A side-feature run serves a new user from features and rated items; other runs refuse.
    fn new_user_path(p: &Predictor, name: &str) {
        let profile = UserProfile::parse(Some("F"), Some("25"), None).unwrap();
        // Two items the run knows.
        let rated: Vec<u64> = p.recommend(1, 2).items.iter().map(|r| r.item).collect();
        let got = p.recommend_new_user(&profile, &rated, 4);
        if name != "ml100k-coldstart" {
            let err = got.unwrap_err().to_string();
            assert!(err.contains("has no side-feature model"), "{name}: {err}");
            return;
        }
        let items = got.unwrap();
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(|r| !rated.contains(&r.item)));
        assert!(items.windows(2).all(|w| w[0].score >= w[1].score));
        let Fitted::FeatureBpr(m) = &p.fitted else {
            unreachable!()
        };
        // The same scores as the model's own call on the looked-up features and items.
        let feats = m.features.user_feature_ids(&profile).unwrap();
        let indices: Vec<u32> = rated
            .iter()
            .map(|&r| p.data.item_ids.index(r).unwrap() as u32)
            .collect();
        let want = m.recommend_new_user(&feats, &indices, 4);
        assert_eq!(
            items.iter().map(|r| r.score).collect::<Vec<_>>(),
            want.iter().map(|w| w.1).collect::<Vec<_>>()
        );
        let err = |profile: &UserProfile, rated: &[u64]| {
            p.recommend_new_user(profile, rated, 4)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&UserProfile::default(), &[]).contains("needs a gender"));
        assert_eq!(
            err(&UserProfile::default(), &[rated[0], 999_999]),
            "unknown item id 999999"
        );
        let astronaut = UserProfile::parse(None, None, Some("astronaut")).unwrap();
        assert!(err(&astronaut, &[]).contains("occupation \"astronaut\" is not one"));
    }

    #[test]
    fn with_epochs_sets_every_ncf_pretraining_stage() {
        let mut cfg = NeuMfConfig {
            gmf_epochs: Some(24),
            mlp_epochs: Some(17),
            finetune_epochs: Some(1),
            ..NeuMfConfig::default()
        };
        let mut spec = ModelSpec::Ncf(cfg.clone());
        spec.set_epochs(2);
        (cfg.epochs, cfg.gmf_epochs, cfg.mlp_epochs) = (2, None, None);
        assert_eq!(spec, ModelSpec::Ncf(cfg));
    }

    #[test]
    fn item_id_lists() {
        assert_eq!(parse_item_ids("50,181, 7").unwrap(), [50, 181, 7]);
        for bad in ["", "50,,181", "50;181", "-1", "x"] {
            let err = parse_item_ids(bad).unwrap_err().to_string();
            assert!(err.contains("is not a whole number"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn bad_inputs_are_one_line_errors_and_leave_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let spec = TaskSpec::recipe("ml100k-baseline").unwrap();
        let run = tmp.path().join("run");
        let err = train(&spec, &tmp.path().join("nowhere"), &run, &device).unwrap_err();
        assert!(err.to_string().contains("no such data folder"), "{err}");
        assert!(!run.exists());
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "no partial folder left"
        );
        assert!(
            TaskSpec::recipe("ml100k-nope")
                .unwrap_err()
                .to_string()
                .contains("known: ml100k-popularity")
        );
        let bad = tmp.path().join("bad");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("u.data"), "1\t1\t9\t0\n").unwrap();
        let err = train(&spec, &bad, &run, &device).unwrap_err().to_string();
        assert!(err.contains("u.data:1: rating 9 is outside"), "{err}");
        let err = Predictor::load(tmp.path(), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no run.json"), "{err}");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("run.json"),
            r#"{"spec": {"task": "classify", "version": 1}}"#,
        )
        .unwrap();
        let err = Predictor::load(&run, &device).err().unwrap().to_string();
        assert!(
            err.contains("\"classify\" run of format version 1"),
            "{err}"
        );
    }
}
