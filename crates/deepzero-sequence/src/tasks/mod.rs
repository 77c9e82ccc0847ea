//! Whole tasks, from data on disk to a trained model in a run folder and back: each module has a
//! serialisable spec, `train`, `evaluate_run` and a `Predictor` that loads a run folder.
//!
//! | seed | task | module |
//! |---|---|---|
//! | 4.1, 4.2 | the model: embedding → bag / BiLSTM / Transformer encoder → masked pooling → linear | [`text_classifier`] ([`TextClassifier`]) |
//! | 4.1, 4.2 | text classification of a labelled corpus (BBC News, SpamAssassin, Chinese reviews) | [`classify`] |
//! | 4.2 | named-entity tagging with a BiLSTM-CRF (People's Daily characters, WNUT-17 words) | [`tag`] |
//! | 4.3 | translation with an encoder–decoder Transformer on Multi30k, beam search, sacreBLEU | [`translate`] |
//! | 4.2, 4.3 | text generation with a character LSTM or a small GPT on tiny-shakespeare | [`generate`] |

pub mod classify;
pub mod generate;
pub mod recipes;
pub mod tag;
pub mod text_classifier;
pub mod translate;

pub use text_classifier::{
    TextBatch, TextBatcher, TextClassifier, TextClassifierConfig, TextEncoderKind, TextItem,
    masked_max, masked_mean,
};
