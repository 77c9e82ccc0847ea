//! The Transformer (Vaswani et al. 2017; seed chapters 1.3.3 and 4.3).
//!
//! | piece | file |
//! |---|---|
//! | sinusoidal and learned positional encodings | `position.rs` |
//! | feed-forward sub-layer, encoder layer and stack, pre-/post-norm | `encoder.rs` |
//! | decoder layer (self-attention + cross-attention) and stack | `decoder.rs` |
//! | encoder–decoder model with embeddings and generator | `seq2seq.rs` |

pub mod decoder;
pub mod encoder;
pub mod position;
pub mod seq2seq;

pub use decoder::{TransformerDecoder, TransformerDecoderConfig, TransformerDecoderLayer};
pub use encoder::{
    FeedForward, FfnActivation, NormPosition, TransformerEncoder, TransformerEncoderConfig,
    TransformerEncoderLayer, TransformerLayerConfig,
};
pub use position::{
    LearnedPositionalEncoding, LearnedPositionalEncodingConfig, PositionalEncoding, PositionalKind,
    SinusoidalEncoding, SinusoidalEncodingConfig, sinusoidal_table,
};
pub use seq2seq::{Transformer, TransformerConfig};
