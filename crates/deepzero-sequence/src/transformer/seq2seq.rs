//! The encoder–decoder Transformer (Vaswani et al. 2017, figure 1; seed chapters 1.3.3 and
//! 4.3.1).
//!
//! ```text
//! source ids [B, T_s] → Embedding · √d_model + PE → Dropout → Encoder ──────────► memory [B, T_s, d]
//! target ids [B, T_t] → Embedding · √d_model + PE → Dropout → Decoder(memory) → Linear → logits [B, T_t, V_tgt]
//! ```
//!
//! Training feeds the target shifted right (`<bos> y_1 … y_{n−1}`) and predicts `y_1 … y_n`
//! at every position at once; the causal mask keeps position `t` from seeing `y_{>t}`.
//! Padded source positions are hidden from the encoder's self-attention and the decoder's
//! cross-attention; padded target positions from the decoder's self-attention.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

use super::decoder::{TransformerDecoder, TransformerDecoderConfig};
use super::encoder::{TransformerEncoder, TransformerEncoderConfig, TransformerLayerConfig};
use super::position::{PositionalEncoding, PositionalKind};
use crate::attention::{decoder_self_mask, key_padding_mask};

/// Configuration of a [`Transformer`].
#[derive(Config, Debug)]
pub struct TransformerConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// Hyper-parameters of every layer (width, heads, FFN, dropout, norm placement).
    pub layer: TransformerLayerConfig,
    /// Encoder layers (6 in the paper).
    #[config(default = 6)]
    pub n_encoder_layers: usize,
    /// Decoder layers (6 in the paper).
    #[config(default = 6)]
    pub n_decoder_layers: usize,
    /// Longest sequence (positions encoded).
    #[config(default = 512)]
    pub max_len: usize,
    /// Positional encoding.
    #[config(default = "PositionalKind::Sinusoidal")]
    pub positional: PositionalKind,
}

impl TransformerConfig {
    /// Builds the model.
    ///
    /// # Errors
    /// [`crate::SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init(&self, device: &Device) -> crate::Result<Transformer> {
        let d = self.layer.d_model;
        Ok(Transformer {
            src_embedding: EmbeddingConfig::new(self.src_vocab, d).init(device),
            tgt_embedding: EmbeddingConfig::new(self.tgt_vocab, d).init(device),
            src_position: PositionalEncoding::new(self.positional, d, self.max_len, device),
            tgt_position: PositionalEncoding::new(self.positional, d, self.max_len, device),
            encoder: TransformerEncoderConfig::new(self.layer.clone(), self.n_encoder_layers)
                .init(device)?,
            decoder: TransformerDecoderConfig::new(self.layer.clone(), self.n_decoder_layers)
                .init(device)?,
            generator: LinearConfig::new(d, self.tgt_vocab).init(device),
            dropout: DropoutConfig::new(self.layer.dropout).init(),
            d_model: d,
        })
    }
}

/// Encoder–decoder Transformer for sequence-to-sequence tasks.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Source token embeddings `[V_src, d_model]`.
    pub src_embedding: Embedding,
    /// Target token embeddings `[V_tgt, d_model]`.
    pub tgt_embedding: Embedding,
    /// Source positions.
    pub src_position: PositionalEncoding,
    /// Target positions.
    pub tgt_position: PositionalEncoding,
    /// The encoder stack.
    pub encoder: TransformerEncoder,
    /// The decoder stack.
    pub decoder: TransformerDecoder,
    /// Output projection to target-vocabulary logits, `[d_model, V_tgt]`.
    pub generator: Linear,
    /// Dropout on the embedded inputs.
    pub dropout: Dropout,
    /// Model width.
    pub d_model: usize,
}

impl Transformer {
    fn embed(
        &self,
        embedding: &Embedding,
        position: &PositionalEncoding,
        ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        // Scaling by √d_model (section 3.4) puts the N(0, 1) embeddings and the ±1 sinusoids on
        // comparable scales.
        let x = embedding.forward(ids) * (self.d_model as f64).sqrt();
        self.dropout.forward(position.forward(x))
    }

    /// Runs the encoder.
    ///
    /// # Shapes
    /// - src: `[B, T_s]` token ids, src_padding: `[B, T_s]` (`true` = padded)
    /// - output: memory `[B, T_s, d_model]`
    pub fn encode(&self, src: Tensor<2, Int>, src_padding: Option<Tensor<2, Bool>>) -> Tensor<3> {
        let [_, len] = src.dims();
        let mask = src_padding.map(|p| key_padding_mask(p, len));
        self.encoder.forward(
            self.embed(&self.src_embedding, &self.src_position, src),
            mask,
        )
    }

    /// Runs the decoder on an encoded source and returns the logits.
    ///
    /// # Shapes
    /// - tgt: `[B, T_t]` token ids (the shifted-right target), memory: `[B, T_s, d_model]`
    /// - src_padding: `[B, T_s]`, tgt_padding: `[B, T_t]` (`true` = padded)
    /// - output: logits `[B, T_t, V_tgt]`
    pub fn decode(
        &self,
        tgt: Tensor<2, Int>,
        memory: Tensor<3>,
        src_padding: Option<Tensor<2, Bool>>,
        tgt_padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let [batch, len] = tgt.dims();
        let device = tgt.device();
        let self_mask = decoder_self_mask(tgt_padding, batch, len, &device);
        let memory_mask = src_padding.map(|p| key_padding_mask(p, len));
        let x = self.embed(&self.tgt_embedding, &self.tgt_position, tgt);
        let x = self
            .decoder
            .forward(x, memory, Some(self_mask), memory_mask);
        self.generator.forward(x)
    }

    /// Encoder then decoder (teacher forcing).
    ///
    /// # Shapes
    /// - src: `[B, T_s]`, tgt: `[B, T_t]`, paddings as in [`decode`](Self::decode)
    /// - output: logits `[B, T_t, V_tgt]`
    pub fn forward(
        &self,
        src: Tensor<2, Int>,
        tgt: Tensor<2, Int>,
        src_padding: Option<Tensor<2, Bool>>,
        tgt_padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let memory = self.encode(src, src_padding.clone());
        self.decode(tgt, memory, src_padding, tgt_padding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::padding_mask;
    use crate::test_util::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    use rand::Rng;

    fn tiny(positional: PositionalKind, device: &Device) -> Transformer {
        let layer = TransformerLayerConfig::new(16, 2, 32).with_dropout(0.0);
        TransformerConfig::new(10, 12, layer)
            .with_n_encoder_layers(1)
            .with_n_decoder_layers(1)
            .with_max_len(16)
            .with_positional(positional)
            .init(device)
            .unwrap()
    }

    fn ids(rows: &[&[i32]], device: &Device) -> Tensor<2, Int> {
        let (b, t) = (rows.len(), rows[0].len());
        let flat: Vec<i32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [b, t]), device)
    }

    #[test]
    fn logits_shape_and_causality_at_token_level() {
        let dev = device();
        dev.seed(100);
        let model = tiny(PositionalKind::Sinusoidal, &dev);
        let src = ids(&[&[1, 2, 3, 4], &[5, 6, 0, 0]], &dev);
        let src_pad = padding_mask(&[4, 2], 4, &dev).unwrap();
        let tgt = ids(&[&[1, 7, 8, 9, 3], &[1, 2, 2, 2, 2]], &dev);
        let logits = model.forward(src.clone(), tgt.clone(), Some(src_pad.clone()), None);
        assert_eq!(logits.dims(), [2, 5, 12]);

        // Changing the target token at position 3 changes no logits before position 3.
        let changed = ids(&[&[1, 7, 8, 4, 3], &[1, 2, 2, 9, 2]], &dev);
        let other = model.forward(src.clone(), changed, Some(src_pad.clone()), None);
        let before = |l: Tensor<3>| l.slice(s![.., 0..3, ..]);
        assert_eq!(
            max_abs_diff(&before(logits.clone()), &before(other.clone())),
            0.0
        );
        assert!(
            max_abs_diff(
                &logits.clone().slice(s![.., 3.., ..]),
                &other.slice(s![.., 3.., ..])
            ) > 1e-4
        );

        // Changing padded source tokens changes nothing at all.
        let src2 = ids(&[&[1, 2, 3, 4], &[5, 6, 9, 8]], &dev);
        let again = model.forward(src2, tgt, Some(src_pad), None);
        assert_eq!(max_abs_diff(&logits, &again), 0.0);
    }

    /// End to end: a one-layer model with learned positions learns to copy random 5-token
    /// sequences within a small fixed budget.
    #[test]
    fn learns_to_copy_a_sequence() {
        let dev = device().autodiff();
        dev.seed(101);
        let mut model = tiny(PositionalKind::Learned, &dev);
        let mut optim = AdamConfig::new().init();
        let loss_fn = CrossEntropyLossConfig::new().init(&dev);
        let mut r = rng(102);
        let (bos, batch, len) = (1, 32, 5);
        let sample = |r: &mut rand::rngs::StdRng| {
            let src: Vec<i32> = (0..batch * len).map(|_| r.random_range(2..10)).collect();
            let mut tgt_in = Vec::with_capacity(batch * len);
            for b in 0..batch {
                tgt_in.push(bos);
                tgt_in.extend_from_slice(&src[b * len..b * len + len - 1]);
            }
            let t =
                |v: Vec<i32>| Tensor::<2, Int>::from_data(TensorData::new(v, [batch, len]), &dev);
            (
                t(src.clone()),
                t(tgt_in),
                Tensor::<1, Int>::from_data(TensorData::new(src, [batch * len]), &dev),
            )
        };
        let mut last = f64::INFINITY;
        for _ in 0..400 {
            let (src, tgt_in, gold) = sample(&mut r);
            let logits = model
                .forward(src, tgt_in, None, None)
                .reshape([batch * len, 12]);
            let loss = loss_fn.forward(logits, gold);
            last = loss.clone().into_scalar::<f64>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        let model = model.valid();
        let (src, tgt_in, gold) = sample(&mut r);
        let predicted = model
            .forward(
                src.without_autodiff(),
                tgt_in.without_autodiff(),
                None,
                None,
            )
            .argmax(2)
            .reshape([batch * len]);
        let accuracy = predicted
            .equal(gold.without_autodiff())
            .int()
            .sum()
            .into_scalar::<i64>() as f64
            / (batch * len) as f64;
        assert!(
            accuracy > 0.9 && last < 0.5,
            "copy accuracy {accuracy}, last loss {last}"
        );
    }
}
