//! Pre-train, then fine-tune (seed chapter 4.3): a BERT-style encoder trained by masked
//! language modelling on unlabelled text, then adapted to a labelled task — fully, with the
//! encoder frozen, or with LoRA adapters.
//!
//! | piece | file | what it does |
//! |---|---|---|
//! | masking | `masking.rs` | [`mask_sequence`]: 15 % of the tokens chosen, 80/10/10 `[MASK]`/random/kept, optional whole-word masking |
//! | model | `model.rs` | [`BertEncoder`] (token + position embeddings, pre-norm Transformer encoder) and [`BertForMaskedLm`] (tied MLM head) |
//! | optimiser | `optim.rs` | AdamW with decay on matrices only ([`adamw_excluding_norms_and_biases`]), global gradient-norm clipping ([`clip_grad_norm`]) |
//! | corpora | `corpus.rs` | the pre-training sources, the fine-tuning tasks' test documents kept out ([`load_documents`]) |
//! | pre-training task | `task.rs` | [`PretrainSpec`] → [`train`]: gradient accumulation, clipping, warm-up + cosine, checkpoints and `--resume` |
//! | classifier | `classifier.rs` | [`BertClassifier`]: the encoder, masked mean pooling, a linear head |
//! | few-label picture | `curve.rs` | [`curve::few_label_svg`]: test accuracy against the fraction of labels, one line per way of training |
//! | token classifier | `token_classifier.rs` | [`BertTokenClassifier`]: one tag per token from the encoder's vectors, a softmax or a CRF on top |
//! | fine-tuning task | `finetune.rs` | [`FinetuneSpec`] → [`finetune::train`]: `--from RUN`, full / frozen / LoRA ([`FinetuneMode`]), label fractions, LoRA merged for inference |
//! | NER task | `ner.rs` | [`BertNerSpec`] → [`ner::train`]: People's Daily and WNUT-17 on the encoder, `--from RUN` or from scratch, the same three modes, CRF or not; seqeval entity F1 |
//!
//! ```no_run
//! use deepzero_sequence::pretrain::{self, PretrainSpec};
//! use deepzero_train::{FitConfig, RunSettings};
//! use deepzero_core::{LrSchedule, OptimizerKind};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let fit = FitConfig::recipe(10, 32, 5e-4, OptimizerKind::AdamW,
//!     LrSchedule::WarmupCosine { warmup_steps: 100, min_lr_factor: 0.1 })
//!     .with_weight_decay(0.01);
//! let settings = RunSettings::new("en-bert-pretrain", "runs/en-bert")
//!     .with_fit(fit)
//!     .with_data_dir("shared/datasets");
//! let report = pretrain::train(&PretrainSpec::english(), &settings)?;
//! println!("valid MLM loss {}", report.valid["mlm_loss"]);
//! # Ok(()) }
//! ```

pub mod classifier;
pub mod corpus;
pub mod curve;
pub mod finetune;
pub mod masking;
pub mod model;
pub mod ner;
pub mod optim;
pub mod recipes;
pub mod task;
pub mod token_classifier;

pub use classifier::BertClassifier;
pub use corpus::{Language, PretrainSource, SourceStats, load_documents};
pub use finetune::{FinetuneMode, FinetuneRunInfo, FinetuneSpec};
pub use masking::{MaskedSequence, MaskingConfig, SpecialTokens, mask_sequence};
pub use model::{BertConfig, BertEncoder, BertForMaskedLm, MlmBatch, MlmHead};
pub use ner::{BertNerSpec, BertTaggerInfo};
pub use optim::{adamw_excluding_norms_and_biases, clip_grad_norm, float_params, grad_norm};
pub use task::{PretrainRunInfo, PretrainSpec, Specials, train};
pub use token_classifier::{BertTokenClassifier, TokenBatch};
