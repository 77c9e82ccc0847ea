//! Additive attention (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly
//! Learning to Align and Translate", eq. 5–6 and appendix A.1.2): the attention of the RNN
//! encoder–decoders the seed's chapter 1.3.2 calls "Seq2Seq".
//!
//! ```text
//! e_ij = vᵀ tanh(W s_i + U h_j)        (score of query i against key j; W, U have no shared bias)
//! α_ij = softmax_j(e_ij)               (masked keys get −∞ before the softmax)
//! c_i  = Σ_j α_ij h_j                  (context: a convex combination of the values)
//! ```
//!
//! Unlike the dot product, the score is a small MLP, so queries and keys may have different
//! widths. Cost is `O(T_q · T_k · d_attn)` memory for the `tanh` tensor.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::mask::MASKED_SCORE;

/// Configuration of [`AdditiveAttention`].
#[derive(Config, Debug)]
pub struct AdditiveAttentionConfig {
    /// Query width (the decoder state `s_i`).
    pub d_query: usize,
    /// Key width (the encoder annotations `h_j`).
    pub d_key: usize,
    /// Width of the hidden layer of the score MLP.
    pub d_attention: usize,
}

impl AdditiveAttentionConfig {
    /// Builds the layer.
    pub fn init(&self, device: &Device) -> AdditiveAttention {
        AdditiveAttention {
            query: LinearConfig::new(self.d_query, self.d_attention)
                .with_bias(false)
                .init(device),
            key: LinearConfig::new(self.d_key, self.d_attention).init(device),
            score: LinearConfig::new(self.d_attention, 1)
                .with_bias(false)
                .init(device),
        }
    }
}

/// Bahdanau attention `softmax_j(vᵀ tanh(W s_i + U h_j))`.
#[derive(Module, Debug)]
pub struct AdditiveAttention {
    /// `W`, `[d_query, d_attention]`.
    pub query: Linear,
    /// `U` (with the MLP's bias), `[d_key, d_attention]`.
    pub key: Linear,
    /// `v`, `[d_attention, 1]`.
    pub score: Linear,
}

impl AdditiveAttention {
    /// Returns `(context, weights)`.
    ///
    /// # Shapes
    /// - query: `[B, T_q, d_query]`, keys: `[B, T_k, d_key]`, values: `[B, T_k, d_v]` (in
    ///   Bahdanau's model the values are the keys)
    /// - mask: `[B, T_q, T_k]`, `true` = masked
    /// - context: `[B, T_q, d_v]`, weights: `[B, T_q, T_k]`
    pub fn forward(
        &self,
        query: Tensor<3>,
        keys: Tensor<3>,
        values: Tensor<3>,
        mask: Option<Tensor<3, Bool>>,
    ) -> (Tensor<3>, Tensor<3>) {
        let q = self.query.forward(query).unsqueeze_dim::<4>(2); // [B, T_q, 1, d_a]
        let k = self.key.forward(keys).unsqueeze_dim::<4>(1); // [B, 1, T_k, d_a]
        let scores: Tensor<3> = self.score.forward((q + k).tanh()).squeeze_dim(3); // [B, T_q, T_k]
        let scores = match mask {
            Some(m) => scores.mask_fill(m, MASKED_SCORE),
            None => scores,
        };
        let weights = softmax(scores, 2);
        (weights.clone().matmul(values), weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{key_padding_mask, padding_mask};
    use crate::test_util::*;

    #[test]
    fn weights_are_a_masked_distribution_and_match_the_formula() {
        let dev = device();
        dev.seed(50);
        let att = AdditiveAttentionConfig::new(3, 4, 5).init(&dev);
        let mut r = rng(51);
        let s = uniform3(&mut r, [2, 2, 3], -1.0, 1.0);
        let h = uniform3(&mut r, [2, 4, 4], -1.0, 1.0);
        let mask = key_padding_mask(padding_mask(&[4, 2], 4, &dev).unwrap(), 2);
        let (ctx, w) = att.forward(s.clone(), h.clone(), h.clone(), Some(mask.clone()));
        assert_eq!(ctx.dims(), [2, 2, 4]);
        assert_close(
            &w.clone().sum_dim(2),
            &Tensor::ones([2, 2, 1], &dev),
            0.0,
            1e-6,
        );
        assert!(
            host(&w.clone().mask_fill(mask.bool_not(), 0.0))
                .iter()
                .all(|&x| x == 0.0)
        );

        // e_ij = vᵀ tanh(W s_i + U h_j + b) for batch 1, query 0, written out element by element.
        let wq = host(&att.query.weight.val());
        let uk = host(&att.key.weight.val());
        let b = host(&att.key.bias.as_ref().unwrap().val());
        let v = host(&att.score.weight.val());
        let (sh, hh) = (host(&s), host(&h));
        let e: Vec<f32> = (0..2)
            .map(|j| {
                (0..5)
                    .map(|a| {
                        let ws: f32 = (0..3).map(|d| sh[6 + d] * wq[d * 5 + a]).sum();
                        let uh: f32 = (0..4).map(|d| hh[16 + j * 4 + d] * uk[d * 5 + a]).sum();
                        v[a] * (ws + uh + b[a]).tanh()
                    })
                    .sum()
            })
            .collect();
        let z = e[0].exp() + e[1].exp();
        let expected = [e[0].exp() / z, e[1].exp() / z, 0.0, 0.0];
        let got = host(&w.slice(s![1, 0, ..]));
        for (g, x) in got.iter().zip(expected) {
            assert!((g - x).abs() < 1e-5, "{got:?} vs {expected:?}");
        }
    }
}
