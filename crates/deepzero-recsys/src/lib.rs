//! # deepzero-recsys: recommenders from collaborative filtering to neural CF
//!
//! Chapter 5 of the seed textbook (*从零开始大模型开发与微调*) as a library: MovieLens
//! readers and splits, the standard evaluation protocols, and the models the chapter walks
//! through — each written from its equations, with the maths the seed gets wrong corrected
//! (matrix factorisation is a *dot product* of factor vectors; see `docs/errata.md`).
//!
//! | seed | what | module |
//! |---|---|---|
//! | 5.1 | MovieLens ml-100k / ml-1m / ml-latest readers, id maps, CSR matrix, k-fold, leave-one-out, sequences, negative sampling, a latent-factor generator | [`data`] |
//! | 5.1 | RMSE, MAE, HR@K, NDCG@K, MRR@K, Recall@K, coverage, popularity | [`metrics`], [`eval`] |
//! | 5.1 | popularity, baseline predictor (ALS), user/item k-NN (cosine, Pearson, pearson-baseline) | [`models`] |
//! | 5.2 | biased MF (FunkSVD), SVD++, BPR-MF; GMF/MLP/NeuMF on burn autodiff | [`models`] |
//! | 5.3 | next-item on time-ordered sequences: Markov chain, GRU4Rec, SASRec (SASRec's protocol) | [`models::sequence`], [`models::sasrec`] |
//! | 5.3 | cold start: new users and new items from side features (gender, age, occupation; genres, decade) | [`models::coldstart`], [`data::item_cold_start_split`] |
//! | 5.4 | real-time update: fold a user's new ratings into a trained MF model | [`models::FunkSvd::fold_in`] |
//! | — | whole tasks: recipes, run folders, a predictor | [`tasks`] |
//! | — | asking a run for items (a known user, a new user, an item's neighbours) | [`query`] |
//!
//! Plain-Rust models (baseline, k-NN, FunkSVD, SVD++, BPR) are the per-rating SGD / ALS
//! algorithms of Surprise, whose per-example updates no tensor library speeds up; their
//! hand-derived updates are checked against burn's autodiff in the tests. GMF, MLP and NeuMF
//! train on burn tensors on any `Device`.
//!
//! ## Quick start
//! ```
//! use burn::prelude::*;
//! use deepzero_recsys::data::{SyntheticConfig, generate, write_ml100k};
//! use deepzero_recsys::tasks::{Predictor, TaskSpec, train};
//!
//! # fn main() -> Result<(), deepzero_recsys::RecsysError> {
//! let dir = std::env::temp_dir().join(format!("recsys-doc-{}", std::process::id()));
//! // Generated data in MovieLens' ml-100k layout; point `data` at a real ml-100k folder instead.
//! let data = dir.join("data");
//! write_ml100k(&data, &generate(&SyntheticConfig { n_users: 50, n_items: 60, ..Default::default() })?)?;
//!
//! let spec = TaskSpec::recipe("ml100k-baseline")?.with_seed(1); // 5-fold RMSE
//! let report = train(&spec, &data, &dir.join("run"), &Device::flex())?;
//! assert!(report.rating.unwrap().rmse < 1.2);
//!
//! let predictor = Predictor::load(&dir.join("run"), &Device::flex())?;
//! let top = predictor.recommend(1, 5); // user id 1, as in the files
//! assert_eq!(top.items.len(), 5);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//! Or one level down: [`data::RatingsDataset::read_dir`], a model from [`models`] and its
//! [`Recommender`] methods, and the protocols of [`eval`].

#![warn(missing_docs)]

pub mod data;
mod error;
pub mod eval;
pub mod metrics;
pub mod models;
pub mod query;
pub mod tasks;

#[cfg(test)]
mod test_util;

pub use error::{RecsysError, Result};
pub use models::Recommender;
