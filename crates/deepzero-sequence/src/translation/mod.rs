//! Machine translation with the encoder–decoder [`Transformer`](crate::Transformer) (seed
//! chapter 4.3; the Multi30k task).
//!
//! | piece | file |
//! |---|---|
//! | corpus and sentence BLEU, sacreBLEU-exact (13a tokenizer, `exp` smoothing) | `bleu.rs` |
//! | greedy and beam-search decoding (length penalty, EOS, maximum length) | `decode.rs` |
//! | Multi30k reading, reversible subword tokenisation, length-bucketed batches, label-smoothed loss | `data.rs` |

pub mod bleu;
pub mod data;
pub mod decode;

pub use bleu::{BleuScore, corpus_bleu, sentence_bleu, tokenize_13a};
pub use data::{
    BOS_ID, EOS_ID, JOIN_ID, PAD_ID, ParallelCorpus, SubwordCodec, TranslationBatch,
    TranslationBatches, UNK_ID, label_smoothed_loss, read_lines, read_parallel,
};
pub use decode::{
    BeamConfig, Hypothesis, beam_search, beam_search_with, greedy_decode, sequence_log_prob,
};
