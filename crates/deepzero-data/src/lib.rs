//! Datasets for deepzero.
//!
//! Everything a training loop needs between files on disk and tensors on a device:
//!
//! - [`idx`]: the IDX format of MNIST and Fashion-MNIST (raw or gzip), read with strict checks
//!   and written for fixtures and samples;
//! - [`IdxCorpus`]: MNIST and Fashion-MNIST splits as an [`InMemoryImages`] dataset;
//! - [`ImageFolder`]: a `root/<class>/<image>` tree of PNG/JPEG files (cats vs dogs);
//! - [`Subset`], [`train_valid_split`], [`stratified_split`], [`epoch_batches`]: seeded,
//!   deterministic splits and batch orders;
//! - [`Augmentation`] and [`Augmented`]: padded crops, flips and affine jitter, seeded per
//!   `(seed, epoch, index)` so results do not depend on data-loader workers;
//! - [`ImageBatcher`]: a burn [`Batcher`](burn::data::dataloader::batcher::Batcher) that
//!   normalises images into one `[B, C, H, W]` tensor;
//! - [`scenes`]: seeded canvases of pasted MNIST / Fashion-MNIST images with tight boxes and
//!   class masks, for detection, segmentation and image–text tasks;
//! - [`synthetic`]: linear and logistic regression data for the first chapters;
//! - [`text`]: labelled text corpora (BBC News, SpamAssassin mails, Chinese reviews), their
//!   de-duplication, and the MIME mail parser (feature `mail`);
//! - [`limits`]: size limits on reading and decompressing files (2 GiB / 4 GiB by default);
//! - [`check`]: a dataset folder's health report (class balance, corrupt files, exact and
//!   near duplicates within and across splits, sizes) and a quarantine for what it finds;
//! - [`manifest`](mod@manifest): URLs and checksums used by `cargo xtask download`;
//! - [`fuzz_corpus`]: test support, the inputs kept from fuzzing the readers of the workspace.
//!
//! Nothing in this crate downloads, and nothing panics on a bad file: every failure is a
//! [`DataError`] whose one-line message names the file and the fault.
//!
//! ```no_run
//! use std::path::Path;
//! use deepzero_data::{IdxCorpus, Split, train_valid_split};
//!
//! let train = IdxCorpus::Mnist.load(Path::new("data/mnist"), Split::Train)?;
//! let (train_idx, valid_idx) = train_valid_split(train.len(), 0.1, 42);
//! let (train, valid) = (train.subset(&train_idx), train.subset(&valid_idx));
//! # Ok::<(), deepzero_data::DataError>(())
//! ```

pub mod augment;
pub mod batch;
pub mod check;
pub mod dataset;
pub mod draw;
pub mod error;
pub mod few_shot;
pub mod folder;
pub mod fuzz_corpus;
#[cfg(test)]
mod fuzz_regressions;
pub mod idx;
pub mod image;
pub mod limits;
pub mod manifest;
pub mod mnist;
pub mod samples;
pub mod scenes;
pub mod split;
pub mod synthetic;
pub mod text;

pub use augment::{AffineRange, Augmentation, Augmented};
pub use batch::{ImageBatch, ImageBatcher};
pub use dataset::{InMemoryImages, Subset};
pub use error::DataError;
pub use few_shot::select_classes;
pub use folder::{FolderStats, ImageFolder};
pub use idx::{
    IdxImages, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
    write_idx_images, write_idx_labels,
};
pub use image::{ImageItem, decode_image, decode_image_within, image_item, load_image, read_image};
pub use limits::{ReadLimits, read_file, read_file_limited, read_text_file};
pub use manifest::{
    DatasetManifest, MANIFESTS, ManifestFile, manifest, sha256_uncompressed, verify,
};
pub use mnist::{IdxCorpus, Split};
pub use samples::find_sample;
pub use split::{
    balanced_oversample, check_split, epoch_batches, stratified_split, train_valid_split,
};
pub use synthetic::{Regression, linear_regression_data, logistic_data};
