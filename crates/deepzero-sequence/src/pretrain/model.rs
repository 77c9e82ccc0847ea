//! A BERT-style encoder and its masked-language-model head (Devlin et al. 2019; seed chapter
//! 4.3), built from this crate's pre-norm [`TransformerEncoder`].
//!
//! ```text
//! tokens ──► token embedding + learned position embedding ──► dropout
//!        ──► N pre-norm encoder layers (GELU) ──► final LayerNorm ──► h  [B, T, d]
//! MLM head (at the chosen positions only):
//!        h ──► Linear(d, d) ──► GELU ──► LayerNorm ──► · Eᵀ + b  ──► logits over the vocabulary
//! ```
//!
//! The output projection is *tied* to the token embedding `E` (as in BERT and GPT-2): the
//! logit of token `v` is the dot product with `v`'s own input vector, which halves the
//! parameters a small model spends on the vocabulary and trains the input vectors of every
//! token from every masked position.
//!
//! Pre-norm instead of BERT's post-norm: it trains stably without a long warm-up (Xiong et al.
//! 2020), and its final LayerNorm plays the role of BERT's embedding LayerNorm for the head.
//! Logits are computed only at the positions that carry a target (about 15 % of the tokens),
//! which makes the vocabulary-wide matrix product 7× cheaper.

use burn::module::Param;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::activation::gelu;

use crate::attention::key_padding_mask;
use crate::transformer::{
    FfnActivation, NormPosition, TransformerEncoder, TransformerEncoderConfig,
    TransformerLayerConfig,
};

/// Configuration of a [`BertEncoder`] (BERT-base: 768 wide, 12 heads, 3072, 12 layers, 512).
#[derive(Config, Debug, PartialEq)]
pub struct BertConfig {
    /// Token ids, the specials included (rows of the embedding table).
    pub vocab_size: usize,
    /// Model width.
    #[config(default = 128)]
    pub d_model: usize,
    /// Attention heads (must divide `d_model`).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width.
    #[config(default = 512)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 2)]
    pub n_layers: usize,
    /// Longest sequence (rows of the position table), `[CLS]` and `[SEP]` included.
    #[config(default = 128)]
    pub max_len: usize,
    /// Dropout on the embeddings, inside every layer and on the attention weights.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl BertConfig {
    /// The layer configuration of the encoder stack.
    fn layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_dropout(self.dropout)
            .with_norm(NormPosition::Pre)
            .with_activation(FfnActivation::Gelu)
    }

    /// Builds the encoder; embeddings start as `N(0, 0.02)` (BERT's `initializer_range`).
    ///
    /// # Errors
    /// [`crate::SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init(&self, device: &Device) -> crate::Result<BertEncoder> {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Ok(BertEncoder {
            token_embedding: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(init.clone())
                .init(device),
            position_embedding: EmbeddingConfig::new(self.max_len, self.d_model)
                .with_initializer(init)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder: TransformerEncoderConfig::new(self.layer(), self.n_layers).init(device)?,
        })
    }

    /// Builds the encoder with a masked-language-model head.
    ///
    /// # Errors
    /// As [`BertConfig::init`].
    pub fn init_mlm(&self, device: &Device) -> crate::Result<BertForMaskedLm> {
        Ok(BertForMaskedLm {
            bert: self.init(device)?,
            head: MlmHead {
                transform: LinearConfig::new(self.d_model, self.d_model).init(device),
                norm: LayerNormConfig::new(self.d_model).init(device),
                bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
            },
        })
    }
}

/// Token and position embeddings followed by a pre-norm Transformer encoder.
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// Token embeddings `[V, d]` (also the MLM head's output projection).
    pub token_embedding: Embedding,
    /// Learned position embeddings `[max_len, d]`.
    pub position_embedding: Embedding,
    /// Dropout on the summed embeddings.
    pub dropout: Dropout,
    /// The encoder stack (pre-norm, GELU, final LayerNorm).
    pub encoder: TransformerEncoder,
}

impl BertEncoder {
    /// One vector per position; padded positions are ignored as attention keys.
    ///
    /// # Shapes
    /// - tokens: `[B, T]` ids (`T ≤ max_len`), padding: `[B, T]` (`true` = padded)
    /// - output: `[B, T, d]`
    pub fn forward(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<3> {
        let [batch, steps] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<1, Int>::arange(0..steps as i64, &device)
            .unsqueeze_dim::<2>(0)
            .expand([batch, steps]);
        let x = self.token_embedding.forward(tokens) + self.position_embedding.forward(positions);
        let x = self.dropout.forward(x);
        self.encoder
            .forward(x, Some(key_padding_mask(padding, steps)))
    }

    /// Longest sequence the position table covers.
    pub fn max_len(&self) -> usize {
        self.position_embedding.weight.lazy_shape().dims::<2>()[0]
    }

    /// Rows of the token table.
    pub fn vocab_size(&self) -> usize {
        self.token_embedding.weight.lazy_shape().dims::<2>()[0]
    }
}

/// BERT's MLM transform and the tied output projection.
#[derive(Module, Debug)]
pub struct MlmHead {
    /// `d → d` before the activation.
    pub transform: Linear,
    /// LayerNorm after the activation.
    pub norm: LayerNorm,
    /// Output bias, one per token `[V]`.
    pub bias: Param<Tensor<1>>,
}

/// A [`BertEncoder`] with its masked-language-model head.
#[derive(Module, Debug)]
pub struct BertForMaskedLm {
    /// The encoder (what fine-tuning starts from).
    pub bert: BertEncoder,
    /// The MLM head.
    pub head: MlmHead,
}

/// A batch of masked sequences.
#[derive(Clone, Debug)]
pub struct MlmBatch {
    /// `[B, T]` input ids (after masking), padded.
    pub tokens: Tensor<2, Int>,
    /// `[B, T]`, `true` at padded positions.
    pub padding: Tensor<2, Bool>,
    /// `[M]` flat indices `b·T + t` of the positions with a target.
    pub positions: Tensor<1, Int>,
    /// `[M]` the original token at each of them.
    pub targets: Tensor<1, Int>,
}

impl BertForMaskedLm {
    /// Vocabulary logits at the chosen positions.
    ///
    /// # Shapes
    /// - output: `[M, V]`, one row per entry of `batch.positions`
    pub fn forward(&self, batch: &MlmBatch) -> Tensor<2> {
        let hidden = self
            .bert
            .forward(batch.tokens.clone(), batch.padding.clone()); // [B, T, d]
        let [b, t, d] = hidden.dims();
        let picked = hidden
            .reshape([b * t, d])
            .select(0, batch.positions.clone()); // [M, d]
        let h = self
            .head
            .norm
            .forward(gelu(self.head.transform.forward(picked)));
        let table = self.bert.token_embedding.weight.val(); // [V, d]
        h.matmul(table.transpose()) + self.head.bias.val().unsqueeze_dim(0)
    }

    /// Mean cross-entropy over the chosen positions, with the logits and targets for accuracy.
    pub fn loss(&self, batch: &MlmBatch) -> deepzero_train::ClassificationStep {
        deepzero_train::ClassificationStep::from_logits(self.forward(batch), batch.targets.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    fn tiny() -> BertConfig {
        BertConfig::new(20)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .with_n_layers(2)
            .with_max_len(6)
            .with_dropout(0.0)
    }

    /// The head computes `LN(gelu(h W + c)) Eᵀ + b` at exactly the chosen positions.
    #[test]
    fn logits_are_the_tied_projection_of_the_chosen_positions() {
        let device = Device::flex();
        let model = tiny().init_mlm(&device).unwrap();
        let tokens = Tensor::<2, Int>::from_data([[3, 4, 5, 0], [6, 7, 8, 9]], &device);
        let padding = Tensor::<2, Bool>::from_data(
            [[false, false, false, true], [false, false, false, false]],
            &device,
        );
        let batch = MlmBatch {
            tokens: tokens.clone(),
            padding: padding.clone(),
            positions: Tensor::from_data([1, 6], &device), // (0, 1) and (1, 2)
            targets: Tensor::from_data([4, 8], &device),
        };
        let logits = model.forward(&batch);
        assert_eq!(logits.dims(), [2, 20]);
        let hidden = model.bert.forward(tokens, padding);
        let rows = Tensor::cat(
            vec![
                hidden.clone().slice([0..1, 1..2]).reshape([1, 8]),
                hidden.slice([1..2, 2..3]).reshape([1, 8]),
            ],
            0,
        );
        let h = model
            .head
            .norm
            .forward(gelu(model.head.transform.forward(rows)));
        let expected = h.matmul(model.bert.token_embedding.weight.val().transpose());
        logits
            .to_data()
            .assert_approx_eq::<f32>(&expected.to_data(), Tolerance::default());
        let step = model.loss(&batch);
        assert!(step.loss.into_scalar::<f32>() > 0.0);
    }

    /// Padding never changes the vectors of the real positions.
    #[test]
    fn padding_does_not_leak() {
        let device = Device::flex();
        let bert = tiny().init(&device).unwrap();
        let short = bert.forward(
            Tensor::from_data([[3, 4, 5]], &device),
            Tensor::from_data([[false, false, false]], &device),
        );
        let padded = bert.forward(
            Tensor::from_data([[3, 4, 5, 0, 0]], &device),
            Tensor::from_data([[false, false, false, true, true]], &device),
        );
        padded
            .slice([0..1, 0..3])
            .to_data()
            .assert_approx_eq::<f32>(&short.to_data(), Tolerance::default());
        assert_eq!(bert.max_len(), 6);
        assert_eq!(bert.vocab_size(), 20);
    }
}
