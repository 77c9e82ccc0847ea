//! deepzero-sequence (work in progress)
#![warn(missing_docs)]

pub mod attention;
mod error;
pub mod rnn;

pub use error::{Result, SequenceError};

#[cfg(test)]
mod test_util;
