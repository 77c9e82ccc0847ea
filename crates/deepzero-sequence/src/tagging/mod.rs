//! Sequence labelling (seed chapter 4.2): named-entity recognition with a BiLSTM-CRF.
//!
//! | file | what |
//! |---|---|
//! | [`crf`] | linear-chain CRF: forward algorithm, NLL, Viterbi, all masked for padded batches |
//! | [`tagger`] | embedding → bidirectional LSTM → emissions → CRF ([`BiLstmCrf`]) |
//! | [`data`] | People's Daily (character-level BIO from PKU POS tags), CoNLL reader, vocabulary |
//! | [`metrics`] | entity-level precision/recall/F1 exactly as `seqeval` computes them |

pub mod crf;
pub mod data;
pub mod metrics;
pub mod tagger;

pub use crf::{Crf, CrfConfig};
pub use data::{TaggedSentence, Vocab, parse_peoples_daily_line, read_conll, read_peoples_daily};
pub use metrics::{EntityReport, Scores, entity_report, get_entities};
pub use tagger::{BiLstmCrf, BiLstmCrfConfig, TaggingBatch};
