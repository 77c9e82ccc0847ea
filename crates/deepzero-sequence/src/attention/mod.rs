//! Attention (seed chapters 1.3.3 and 4.3.1).
//!
//! | piece | file | formula |
//! |---|---|---|
//! | [`scaled_dot_product_attention`] | `scaled_dot.rs` | `softmax(QKᵀ/√d_k + M) V` |
//! | [`AdditiveAttention`] (Bahdanau) | `additive.rs` | `softmax_j(vᵀ tanh(W s_i + U h_j))` |
//! | [`MultiHeadAttention`] | `multi_head.rs` | `Concat(head_1 … head_h) W^O` |
//! | masks | `mask.rs` | padding `[B, T]`, attention `[B, T_q, T_k]`; `true` = masked |
//!
//! The seed's formula `QKᵀ/√d_k ⊙ V` (no softmax, element-wise product) is wrong; see
//! [`scaled_dot`] and `docs/errata.md`.

pub mod additive;
pub mod mask;
pub mod multi_head;
pub mod scaled_dot;

pub use additive::{AdditiveAttention, AdditiveAttentionConfig};
pub use mask::{
    MASKED_SCORE, causal_mask, combine, decoder_self_mask, key_padding_mask, padding_mask,
};
pub use multi_head::{KvCache, MhaOutput, MultiHeadAttention, MultiHeadAttentionConfig};
pub use scaled_dot::{attention_weights, scaled_dot_product_attention};
