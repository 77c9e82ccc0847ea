//! # deepzero-vision
//!
//! Image models of the seed's chapters 1.3.1 and 3.1, written device-generically on burn 0.22
//! (a model takes a `&Device`, never a backend type), one model per file:
//!
//! | model | file | seed chapter |
//! |---|---|---|
//! | [`MlpClassifier`] — fully connected net on flattened pixels | `classify/mlp.rs` | 1.2, 2.1 |
//! | [`LeNet5`] — LeNet-5-style CNN (LeCun et al. 1998, ReLU + max-pool) | `classify/lenet.rs` | 1.3.1, 7.2 |
//! | [`SmallCnn`] — a VGG-style 2-block CNN with batch norm for Fashion-MNIST | `classify/small_cnn.rs` | 1.3.1, 3.1 |
//!
//! Every model implements [`deepzero_train::Supervised`] for [`deepzero_data::ImageBatch`], so the
//! same training loop trains any of them.

pub mod classify;

pub use classify::lenet::{LeNet5, LeNet5Config};
pub use classify::mlp::{MlpClassifier, MlpClassifierConfig};
pub use classify::small_cnn::{SmallCnn, SmallCnnConfig};
pub use classify::{Architecture, ImageClassifier, ImageModel};
