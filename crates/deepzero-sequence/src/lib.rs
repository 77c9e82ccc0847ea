//! # deepzero-sequence: recurrent networks, attention and the Transformer, from their equations
//!
//! Chapters 1.3.2–1.3.3 and 4.1–4.3 of the seed textbook (*从零开始大模型开发与微调*) on burn 0.22
//! tensors. Every cell is written from its gate equations, every hand-derived gradient is
//! checked against burn's autodiff and against finite differences (`deepzero_core::gradcheck`),
//! and every layer that burn also has is checked number for number against burn's own
//! (`from_burn` copies burn's weights in). Where the seed's maths is wrong the code follows the
//! correct version and `docs/errata.md` names the proving test.
//!
//! ## Quick start: whole tasks
//! [`tasks`] runs each of the book's sequence tasks end to end, from data on disk to a run folder
//! and back: a spec (the recipe's hyper-parameters), `train(&spec, &settings)` →
//! [`deepzero_train::RunReport`], `evaluate_run` → [`deepzero_train::EvalReport`], and a
//! `Predictor` that loads the run folder for inference.
//!
//! | task | module | spec | predictor returns |
//! |---|---|---|---|
//! | text classification (BBC News, SpamAssassin, Chinese reviews) | [`tasks::classify`] | [`ClassifySpec::bilstm`](tasks::classify::ClassifySpec::bilstm) | labels and probabilities |
//! | named entities (People's Daily, WNUT-17) | [`tasks::tag`] | [`TagSpec::peoples_daily`](tasks::tag::TagSpec::peoples_daily) | tags and `[…]TYPE` lines |
//! | translation (Multi30k) | [`tasks::translate`] | [`TranslateSpec::multi30k`](tasks::translate::TranslateSpec::multi30k) | translations |
//! | generation (tiny-shakespeare) | [`tasks::generate`] | [`GenerateSpec::shakespeare_gpt`](tasks::generate::GenerateSpec::shakespeare_gpt) | continuations |
//! | masked-LM pre-training, then fine-tuning (full / frozen / LoRA) | [`pretrain`] | [`PretrainSpec::english`](pretrain::PretrainSpec::english), [`FinetuneSpec`](pretrain::FinetuneSpec) | labels and probabilities |
//!
//! ```no_run
//! use deepzero_sequence::tasks::generate::{self, GenerateSpec, Predictor, SampleOptions};
//! use deepzero_train::{FitConfig, RunSettings};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // No data folder: the shipped sample datasets/tiny-shakespeare-sample.
//! let fit = FitConfig { epochs: 1, batch_size: 16, ..FitConfig::default() };
//! let settings = RunSettings::new("shakespeare-gpt", "runs/gpt").with_fit(fit);
//! let report = generate::train(&GenerateSpec::shakespeare_gpt(), &settings)?;
//! println!("valid loss {} nats/char", report.valid["loss"]);
//! let predictor = Predictor::load("runs/gpt".as_ref(), None, &settings.device()?)?;
//! println!("{}", predictor.generate(&["ROMEO:".into()], &SampleOptions::default())?[0]);
//! # Ok(()) }
//! ```
//!
//! Runnable versions, each a whole task on a small sample in about 40 lines:
//! `examples/{bbc_classifier, peoples_daily_ner, multi30k_translation, shakespeare_gpt,
//! bert_pretrain_finetune}.rs`
//! (`cargo run --release -p deepzero-sequence --example shakespeare_gpt`).
//!
//! ## Building blocks
//! The layers the tasks are made of, usable on their own:
//!
//! | seed | topic | module / file |
//! |---|---|---|
//! | 1.3.2, 4.1.1 | Elman RNN `h_t = tanh(x W_ih + h W_hh + b)` | [`rnn::vanilla`] ([`RnnCell`]) |
//! | 1.3.2, 4.2.1 | LSTM (input, forget, output gates; `h = o ⊙ tanh(c)`) | [`rnn::lstm`] ([`LstmCell`]) |
//! | 1.3.2 | GRU, both reset conventions | [`rnn::gru`] ([`GruCell`]) |
//! | 4.1.3, 4.2.3 | stacked, bidirectional layers over padded batches | [`rnn::stack`] ([`StackedRnn`]) |
//! | 4.1.2, 4.2.2 | long dependencies: RNN vs LSTM vs GRU | [`rnn::memory_task`], `examples/memory_task.rs` |
//! | 1.3.2 (Seq2Seq) | additive (Bahdanau) attention | [`attention::additive`] |
//! | 1.3.3, 4.3.1 | scaled dot-product attention `softmax(QKᵀ/√d_k + M) V` | [`attention::scaled_dot`] |
//! | 1.3.3, 4.3.1 | multi-head attention, padding and causal masks | [`attention::multi_head`], [`attention::mask`] |
//! | 4.3.1 | sinusoidal and learned positional encodings | [`transformer::position`] |
//! | 4.3.1 | encoder layer and stack (pre-/post-norm), FFN | [`transformer::encoder`] |
//! | 4.3.1 | decoder layer (self- + cross-attention) and stack | [`transformer::decoder`] |
//! | 1.3.3, 4.3 | encoder–decoder Transformer | [`transformer::seq2seq`] ([`Transformer`]) |
//! | 4.2 | sequence labelling: linear-chain CRF, BiLSTM-CRF, seqeval-exact entity F1 | [`tagging`] |
//! | 4.1, 4.2 | tokenisation: word/character vocabularies, trained BPE | [`text`] ([`text::Vocab`], [`text::Bpe`]) |
//! | 4.1, 4.2 | text classification: BiLSTM or Transformer encoder, masked pooling | [`tasks::text_classifier`] |
//! | 4.3 | translation: sacreBLEU-exact BLEU, greedy and beam search, Multi30k batches | [`translation`] |
//! | 4.2, 4.3 | character language models (LSTM, GPT), temperature/top-k/top-p sampling, KV-cached generation | [`lm`] ([`lm::CharLstmLm`], [`lm::Gpt`]) |
//! | 4.3 | Hugging Face: `tokenizer.json` (byte-level BPE, WordPiece), GPT-2 safetensors import, generation | [`hf`] ([`hf::HfTokenizer`], [`hf::load_gpt2`], [`hf::HfGenerator`]) |
//!
//! Conventions: batch-first tensors (`[B, T, d]`); weights in burn's `Linear` layout
//! `[d_in, d_out]`; every mask is boolean with **`true` = masked** (padded or future), padding
//! masks `[B, T]`, attention masks `[B, T_q, T_k]`. Nothing names a backend: a model lives on
//! the `Device` it was built on.
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_sequence::attention::{key_padding_mask, padding_mask};
//! use deepzero_sequence::rnn::{RecurrentKind, StackedRnnConfig};
//! use deepzero_sequence::transformer::{TransformerEncoderConfig, TransformerLayerConfig};
//!
//! let device = Device::flex();
//! let x = Tensor::<3>::zeros([2, 5, 8], &device); // two sequences, padded to 5 steps
//! let pad = padding_mask(&[5, 3], 5, &device).unwrap();
//!
//! let lstm = StackedRnnConfig::new(RecurrentKind::Lstm, 8, 16)
//!     .with_num_layers(2)
//!     .with_bidirectional(true)
//!     .init(&device);
//! let (out, state) = lstm.forward(x.clone(), None, Some(pad.clone())); // [2, 5, 32], [4, 2, 16]
//!
//! let encoder = TransformerEncoderConfig::new(TransformerLayerConfig::new(8, 2, 32), 2)
//!     .init(&device)
//!     .unwrap();
//! let y = encoder.forward(x, Some(key_padding_mask(pad, 5))); // [2, 5, 8]
//! # let _ = (out, state, y);
//! ```

#![warn(missing_docs)]

pub mod attention;
mod error;
#[cfg(test)]
mod fuzz_regressions;
pub mod hf;
pub mod lm;
pub mod pretrain;
pub mod rnn;
pub mod tagging;
pub mod tasks;
pub mod text;
pub mod transformer;
pub mod translation;

#[cfg(test)]
mod test_util;

pub use attention::{AdditiveAttention, MultiHeadAttention, scaled_dot_product_attention};
pub use error::{Result, SequenceError};
pub use rnn::{
    GruCell, LstmCell, LstmState, RecurrentCell, RecurrentKind, RnnCell, StackedRnn,
    StackedRnnConfig, StackedState,
};
pub use transformer::{Transformer, TransformerConfig};
