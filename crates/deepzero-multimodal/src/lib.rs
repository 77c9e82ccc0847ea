//! # deepzero-multimodal: images and text together (seed chapter 6)
//!
//! Captioned digit scenes ([`captions`]) built on [`deepzero_data::scenes`], and the models
//! and tasks that read them.
//!
//! | topic | module |
//! |---|---|
//! | captioned scenes with paraphrases and held-out class pairs | [`captions`] |
//! | image tower (scene CNN keeping its feature map) | [`models::scene_cnn`] |
//! | CLIP-style two towers, symmetric InfoNCE with a learnable temperature | [`models::clip`] |
//! | Recall@K, zero-shot, cosine top-K index | [`retrieval`] |
//! | the `scenes-clip` task: train, evaluate, search | [`tasks::clip`] |
//! | captioner: scene CNN + Transformer decoder, cross-attention over regions or one global slot | [`models::captioner`] |
//! | CIDEr-D (coco-caption exact); BLEU-4 from `deepzero_sequence` | [`metrics`] |
//! | the `scenes-caption` task: greedy and beam captions, BLEU-4, CIDEr-D | [`tasks::caption`] |
//! | questions and answers about the scenes (counts, presence, left/right), the question-only prior | [`vqa`] |
//! | VQA model: question Transformer, stacked cross-attention over regions; text-only, image-only, concat baselines | [`models::vqa`] |
//! | the `scenes-vqa` tasks: accuracy per question kind and on held-out pairs | [`tasks::vqa`] |
//! | the OpenAI CLIP architecture (ViT image tower, causal text tower) | [`models::openai_clip`] |
//! | Hugging Face `CLIPModel` checkpoints into it (equal to `transformers` to 1e-4) | [`hf_clip`] |
//! | items as title words and tags (genres, year) | [`item_content`] |
//! | content-aware NeuMF: new items recommended from their title and tags | [`models::content_neumf`] |
//!
//! ## Quick start
//! ```no_run
//! use deepzero_multimodal::tasks::clip::{self, ClipPredictor, ClipSpec};
//! use deepzero_train::{FitConfig, RunSettings};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let settings = RunSettings::new("scenes-clip", "runs/clip")
//!     .with_fit(FitConfig { epochs: 2, batch_size: 64, ..FitConfig::default() });
//! let report = clip::train(&ClipSpec::small(), &settings)?; // shipped MNIST/Fashion samples
//! println!("{}", report.test["text_to_image"]);
//! let predictor = ClipPredictor::load("runs/clip".as_ref(), None, &settings.device()?)?;
//! for hit in predictor.search("a large two above a bag", 5)?.hits {
//!     println!("{:.3} {}", hit.score, hit.label);
//! }
//! # Ok(()) }
//! ```
//! A runnable version: `cargo run --release -p deepzero-multimodal --example scenes_clip`.

pub mod captions;
pub mod data;
pub mod error;
pub mod hf_clip;
pub mod item_content;
pub mod metrics;
pub mod models;
pub mod retrieval;
pub mod tasks;
pub mod vqa;

pub use error::MultimodalError;
