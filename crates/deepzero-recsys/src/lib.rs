//! deepzero-recsys
#![warn(missing_docs)]

pub mod data;
mod error;
pub mod eval;
pub mod metrics;
pub mod models;
pub mod tasks;

#[cfg(test)]
mod test_util;

pub use error::{RecsysError, Result};
pub use models::Recommender;
