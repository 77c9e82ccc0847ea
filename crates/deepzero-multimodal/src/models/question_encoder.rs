//! The question tower of the VQA models: word embeddings scaled by `√d`, sinusoidal positions
//! and a small pre-norm Transformer encoder ([`deepzero_sequence::transformer`]), whose keys
//! ignore padding. It keeps one vector per token, because the fusion lets every word attend
//! over the image regions; [`QuestionEncoder::pooled`] gives the masked mean for the models that
//! need one vector.
//!
//! ```text
//! ids [Q,T] → Embedding·√d + sinusoids → TransformerEncoder (pre-norm, GELU) → tokens [Q,T,d]
//!                                                                             → masked mean [Q,d]
//! ```
//! A Transformer rather than a bag of words: "what is left of the bag" and "what is right of the
//! bag" differ by one word, but "is there a bag" must not be read as "how many bags".

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig};
use burn::prelude::*;
use deepzero_sequence::attention::key_padding_mask;
use deepzero_sequence::tasks::text_classifier::masked_mean;
use deepzero_sequence::transformer::{
    FfnActivation, NormPosition, PositionalEncoding, PositionalKind, TransformerEncoder,
    TransformerEncoderConfig, TransformerLayerConfig,
};

/// Configuration of [`QuestionEncoder`].
#[derive(Config, Debug)]
pub struct QuestionEncoderConfig {
    /// Vocabulary size (id 0 is padding, 1 is `<unk>`).
    pub vocab_size: usize,
    /// Width `d` of the embeddings and the encoder.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads (must divide `d_model`).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width.
    #[config(default = 128)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 1)]
    pub n_layers: usize,
    /// Longest question in tokens (the length of the position table).
    #[config(default = 24)]
    pub max_len: usize,
    /// Dropout on the embeddings and inside the encoder.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl QuestionEncoderConfig {
    /// Builds the tower.
    ///
    /// # Errors
    /// The encoder's error when the heads do not divide `d_model`.
    pub fn init(
        &self,
        device: &Device,
    ) -> Result<QuestionEncoder, deepzero_sequence::SequenceError> {
        let layer = TransformerLayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_dropout(self.dropout)
            .with_norm(NormPosition::Pre)
            .with_activation(FfnActivation::Gelu);
        Ok(QuestionEncoder {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            position: PositionalEncoding::new(
                PositionalKind::Sinusoidal,
                self.d_model,
                self.max_len,
                device,
            ),
            encoder: TransformerEncoderConfig::new(layer, self.n_layers).init(device)?,
            dropout: DropoutConfig::new(self.dropout).init(),
        })
    }
}

/// Embedding, positions, Transformer encoder.
#[derive(Module, Debug)]
pub struct QuestionEncoder {
    /// Word embeddings `[V, d]`.
    pub embedding: Embedding,
    /// Sinusoidal positions.
    pub position: PositionalEncoding,
    /// The encoder stack.
    pub encoder: TransformerEncoder,
    dropout: Dropout,
}

impl QuestionEncoder {
    /// One vector per token.
    ///
    /// # Shapes
    /// - ids: `[Q, T]`, padding: `[Q, T]` (`true` = padded)
    /// - output: `[Q, T, d]`
    pub fn tokens(&self, ids: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<3> {
        let steps = ids.dims()[1];
        let x = self.embedding.forward(ids);
        let d = x.dims()[2] as f64;
        let x = self.dropout.forward(self.position.forward(x * d.sqrt()));
        self.encoder
            .forward(x, Some(key_padding_mask(padding, steps)))
    }

    /// The masked mean of [`QuestionEncoder::tokens`] over the real tokens.
    ///
    /// # Shapes
    /// - tokens: `[Q, T, d]`, padding: `[Q, T]` → `[Q, d]`
    pub fn pooled(tokens: Tensor<3>, padding: Tensor<2, Bool>) -> Tensor<2> {
        masked_mean(tokens, padding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_padding_does_not_leak() {
        let device = Device::flex();
        let encoder = QuestionEncoderConfig::new(12)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .init(&device)
            .unwrap();
        let short = Tensor::<2, Int>::from_data([[3, 4, 5]], &device);
        let long = Tensor::<2, Int>::from_data([[3, 4, 5, 0, 0]], &device);
        let pad_short = short.clone().equal_elem(0);
        let pad_long = long.clone().equal_elem(0);
        let a = encoder.tokens(short, pad_short.clone());
        let b = encoder.tokens(long, pad_long.clone());
        assert_eq!(a.dims(), [1, 3, 8]);
        assert_eq!(b.dims(), [1, 5, 8]);
        b.clone()
            .slice(s![.., 0..3, ..])
            .to_data()
            .assert_approx_eq::<f32>(&a.clone().to_data(), burn::tensor::Tolerance::default());
        let pa = QuestionEncoder::pooled(a, pad_short);
        let pb = QuestionEncoder::pooled(b, pad_long);
        assert_eq!(pa.dims(), [1, 8]);
        pa.to_data()
            .assert_approx_eq::<f32>(&pb.to_data(), burn::tensor::Tolerance::default());
        assert!(
            QuestionEncoderConfig::new(12)
                .with_d_model(8)
                .with_n_heads(3)
                .init(&device)
                .is_err()
        );
    }
}
