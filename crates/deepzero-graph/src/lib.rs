//! deepzero-graph

#![warn(missing_docs)]

pub mod data;
mod error;
pub mod eval;
pub mod gat;
pub mod gcn;
pub mod node_train;
pub mod plot;
pub mod skipgram;
pub mod sparse;
pub mod tasks;
pub mod walk;

pub use error::{GraphError, Result};
