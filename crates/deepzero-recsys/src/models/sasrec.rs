//! A SASRec-style next-item model (Kang & McAuley 2018): item embeddings scaled by `√d` plus
//! learned position embeddings → pre-norm causal self-attention blocks (burn-nn's transformer
//! encoder with an autoregressive mask) → a final layer norm; the score of item `j` at a
//! position is the dot product of the output with `j`'s (shared) input embedding. Trained
//! with cross-entropy over every item for the next item at every position (the paper uses one
//! sampled negative with binary cross-entropy), Adam, on burn autodiff.
//!
//! Sequences are left-padded to `max_len` with a learned padding row, so the latest item is
//! always at the last position.

use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::sequence::window_model;
use crate::error::{RecsysError, Result};

/// SASRec settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SasRecConfig {
    /// Model width `d`.
    pub d_model: usize,
    /// Self-attention blocks.
    pub blocks: usize,
    /// Attention heads.
    pub heads: usize,
    /// Dropout rate.
    pub dropout: f64,
    /// Longest history read.
    pub max_len: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Passes over the training windows.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the initialisation, dropout and batch order.
    pub seed: u64,
}

impl Default for SasRecConfig {
    fn default() -> Self {
        SasRecConfig {
            d_model: 64,
            blocks: 2,
            heads: 1,
            dropout: 0.2,
            max_len: 50,
            batch_size: 64,
            epochs: 20,
            lr: 0.001,
            seed: 0,
        }
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct SasRecNet {
    /// `[n_items + 1, d]`, item `i` at row `i + 1` (row 0: padding).
    pub items: Embedding,
    /// `[max_len, d]` positions.
    pub positions: Embedding,
    /// The causal self-attention blocks.
    pub encoder: TransformerEncoder,
    /// Final layer norm.
    pub norm: LayerNorm,
}

impl SasRecNet {
    /// Logits of the next item at every position.
    ///
    /// # Shapes
    /// - `input`: `[B, L]` (item + 1, 0 for padding)
    /// - output: `[B · L, n_items]`
    pub fn forward(&self, input: Tensor<2, Int>) -> Tensor<2> {
        let [b, l] = input.dims();
        let device = input.device();
        let [rows, d] = self.items.weight.dims();
        let x = self.items.forward(input) * (d as f64).sqrt(); // [B, L, d]
        let pos = Tensor::<1, Int>::arange(0..l as i64, &device)
            .reshape([1, l])
            .repeat_dim(0, b);
        let x = x + self.positions.forward(pos);
        let mask = generate_autoregressive_mask(b, l, &device);
        let h = self
            .encoder
            .forward(TransformerEncoderInput::new(x).mask_attn(mask));
        let h = self.norm.forward(h).reshape([b * l, d]);
        let w = self.items.weight.val().slice([1..rows, 0..d]); // [n, d]
        h.matmul(w.transpose()) // [B·L, n]
    }
}

window_model!(
    /// A SASRec-style next-item model.
    SasRec(SasRecNet, SasRecConfig, "SASRec", SasRecNet::forward),
    key: "sasrec",
    // Learned positions: the latest item is always at position `max_len - 1`.
    fixed_len: true
);

impl SasRec {
    fn init(&self, n_items: usize, device: &Device) -> SasRecNet {
        let c = &self.config;
        let emb = |n| {
            EmbeddingConfig::new(n, c.d_model)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.05,
                })
                .init(device)
        };
        SasRecNet {
            items: emb(n_items + 1),
            positions: emb(c.max_len),
            encoder: TransformerEncoderConfig::new(c.d_model, c.d_model, c.heads, c.blocks)
                .with_dropout(c.dropout)
                .with_norm_first(true)
                .init(device),
            norm: LayerNormConfig::new(c.d_model).init(device),
        }
    }

    fn check_config(&self) -> Result<()> {
        let c = &self.config;
        if c.d_model == 0
            || c.blocks == 0
            || c.heads == 0
            || !c.d_model.is_multiple_of(c.heads)
            || c.max_len == 0
            || c.batch_size == 0
        {
            return Err(RecsysError::InvalidArgument(
                "SASRec needs d_model, blocks, heads (dividing d_model), max_len and batch_size ≥ 1"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::sequence::NextItem;
    use crate::models::sequence::tests::CycleTask;

    #[test]
    fn sasrec_learns_a_cycle_and_is_causal() {
        let task = CycleTask::new();
        let mut m = SasRec::new(
            SasRecConfig {
                d_model: 16,
                blocks: 1,
                heads: 1,
                dropout: 0.1,
                max_len: 10,
                batch_size: 32,
                epochs: 15,
                lr: 0.01,
                seed: 3,
            },
            Device::flex(),
        );
        m.fit_sequences(&task.split.train, 40).unwrap();
        let (p, s) = (task.popularity(), task.test(&m));
        assert!(s.hr > p.hr + 0.3, "{s:?} vs {p:?}");
        assert!(m.losses.last() < m.losses.first(), "{:?}", m.losses);
        // Causal: the logits at a position do not depend on later items.
        let net = m.net().unwrap();
        let dev = Device::flex();
        let a = net.forward(Tensor::from_data(
            TensorData::new(vec![0, 0, 3, 4, 5, 6, 7, 8, 9, 10], [1, 10]),
            &dev,
        ));
        let b = net.forward(Tensor::from_data(
            TensorData::new(vec![0, 0, 3, 4, 5, 6, 7, 8, 9, 20], [1, 10]),
            &dev,
        ));
        let diff: f32 = (a.slice([0..9, 0..40]) - b.slice([0..9, 0..40]))
            .abs()
            .max()
            .into_scalar();
        assert!(diff < 1e-5, "{diff}");
    }
}
