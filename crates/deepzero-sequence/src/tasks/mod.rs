//! Trainable models for whole tasks, built from the layers of this crate.
//!
//! | seed | task | file |
//! |---|---|---|
//! | 4.1, 4.2 | text classification: embedding → BiLSTM or Transformer encoder → masked pooling → linear | `text_classifier.rs` ([`TextClassifier`]) |

pub mod text_classifier;

pub use text_classifier::{
    TextBatch, TextBatcher, TextClassifier, TextClassifierConfig, TextEncoderKind, TextItem,
    masked_max, masked_mean,
};
