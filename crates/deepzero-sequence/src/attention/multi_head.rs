//! Multi-head attention (Vaswani et al. 2017, section 3.2.2; seed chapters 1.3.3 and 4.3.1).
//!
//! ```text
//! head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)          i = 1 … h,  each of width d_k = d_model / h
//! MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O
//! ```
//!
//! The `h` projections of one kind are stored as one `[d_model, d_model]` matrix whose column
//! blocks are the heads, so a single matrix product computes all heads; a reshape
//! `[B, T, d_model] → [B, T, h, d_k] → [B, h, T, d_k]` separates them. Masks are `[B, T_q, T_k]`
//! (`true` = masked) and apply to every head.
//!
//! Field names and layout follow burn's `MultiHeadAttention` (`query`, `key`, `value`,
//! `output`), so weights move between the two with [`MultiHeadAttention::from_burn`].

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;

use super::scaled_dot::attention_weights;
use crate::error::SequenceError;

/// Configuration of [`MultiHeadAttention`].
#[derive(Config, Debug)]
pub struct MultiHeadAttentionConfig {
    /// Model width `d_model` (input and output).
    pub d_model: usize,
    /// Number of heads `h` (must divide `d_model`).
    pub n_heads: usize,
    /// Dropout on the attention weights (as burn and the reference tensor2tensor code do).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the four projections have biases.
    #[config(default = true)]
    pub bias: bool,
}

impl MultiHeadAttentionConfig {
    /// Builds the layer.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if `n_heads` is 0 or does not divide `d_model`.
    pub fn try_init(&self, device: &Device) -> crate::Result<MultiHeadAttention> {
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(SequenceError::InvalidArgument(format!(
                "{} heads do not divide d_model = {}",
                self.n_heads, self.d_model
            )));
        }
        let linear = || {
            LinearConfig::new(self.d_model, self.d_model)
                .with_bias(self.bias)
                .init(device)
        };
        Ok(MultiHeadAttention {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
        })
    }

    /// Builds the layer.
    ///
    /// # Panics
    /// If `n_heads` does not divide `d_model` (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        self.try_init(device)
            .expect("invalid multi-head attention configuration")
    }
}

/// Multi-head scaled dot-product attention.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// `W^Q` of all heads, `[d_model, d_model]` (head `i` = columns `i·d_k … (i+1)·d_k`).
    pub query: Linear,
    /// `W^K` of all heads.
    pub key: Linear,
    /// `W^V` of all heads.
    pub value: Linear,
    /// `W^O`, `[d_model, d_model]`.
    pub output: Linear,
    /// Dropout on the attention weights.
    pub dropout: Dropout,
    /// Number of heads `h`.
    pub n_heads: usize,
}

/// Result of [`MultiHeadAttention::forward`].
#[derive(Debug, Clone)]
pub struct MhaOutput {
    /// `[B, T_q, d_model]`.
    pub context: Tensor<3>,
    /// Attention weights `[B, h, T_q, T_k]` (before dropout; rows sum to 1).
    pub weights: Tensor<4>,
}

impl MultiHeadAttention {
    /// Copies the weights of burn's [`burn::nn::attention::MultiHeadAttention`] (same field
    /// names, same layouts). burn's dropout probability is taken over too.
    pub fn from_burn(mha: &burn::nn::attention::MultiHeadAttention) -> Self {
        Self {
            query: mha.query.clone(),
            key: mha.key.clone(),
            value: mha.value.clone(),
            output: mha.output.clone(),
            dropout: DropoutConfig::new(mha.dropout.prob).init(),
            n_heads: mha.n_heads,
        }
    }

    /// `[B, T, d_model] → [B, h, T, d_k]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, d_model] = x.dims();
        x.reshape([batch, len, self.n_heads, d_model / self.n_heads])
            .swap_dims(1, 2)
    }

    /// # Shapes
    /// - query: `[B, T_q, d_model]`, key and value: `[B, T_k, d_model]`
    /// - mask: `[B, T_q, T_k]`, `true` = masked (see [`crate::attention::mask`])
    /// - output: context `[B, T_q, d_model]`, weights `[B, h, T_q, T_k]`
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: Option<Tensor<3, Bool>>,
    ) -> MhaOutput {
        let [batch, len_q, d_model] = query.dims();
        let q = self.split_heads(self.query.forward(query)); // [B, h, T_q, d_k]
        let k = self.split_heads(self.key.forward(key)); // [B, h, T_k, d_k]
        let v = self.split_heads(self.value.forward(value)); // [B, h, T_k, d_k]
        let mask = mask.map(|m| m.unsqueeze_dim::<4>(1)); // [B, 1, T_q, T_k]: every head
        let weights = attention_weights(q, k, mask);
        let context = self.dropout.forward(weights.clone()).matmul(v); // [B, h, T_q, d_k]
        let context = context.swap_dims(1, 2).reshape([batch, len_q, d_model]); // concat heads
        MhaOutput {
            context: self.output.forward(context),
            weights,
        }
    }

    /// Self-attention: `forward(x, x, x, mask)`.
    pub fn self_attention(&self, x: Tensor<3>, mask: Option<Tensor<3, Bool>>) -> MhaOutput {
        self.forward(x.clone(), x.clone(), x, mask)
    }

    /// Causal self-attention of new positions over a cache of earlier ones (autoregressive
    /// decoding with a key/value cache). The new positions' keys and values are appended to
    /// the cache; each new position attends to every cached position and to the new ones up
    /// to itself, so feeding a sequence in pieces gives the same context vectors as one
    /// [`self_attention`](Self::self_attention) call with a [`crate::attention::causal_mask`]
    /// (test `cached_pieces_equal_one_causal_pass`).
    ///
    /// # Shapes
    /// - x: `[B, T_new, d_model]`; cache: keys and values `[B, h, T_past, d_k]` (or `None`)
    /// - output: context `[B, T_new, d_model]` and the cache `[B, h, T_past + T_new, d_k]`
    pub fn causal_self_attention_cached(
        &self,
        x: Tensor<3>,
        cache: Option<KvCache>,
    ) -> (Tensor<3>, KvCache) {
        let [batch, len_new, d_model] = x.dims();
        let q = self.split_heads(self.query.forward(x.clone())); // [B, h, T_new, d_k]
        let k_new = self.split_heads(self.key.forward(x.clone()));
        let v_new = self.split_heads(self.value.forward(x));
        let (k, v) = match cache {
            Some(c) => (
                Tensor::cat(vec![c.key, k_new], 2),
                Tensor::cat(vec![c.value, v_new], 2),
            ),
            None => (k_new, v_new),
        };
        let len_total = k.dims()[2];
        // New position i sits at len_total − len_new + i and may not see later keys. One new
        // position (the decoding step) sees everything: no mask needed.
        let mask = (len_new > 1).then(|| {
            Tensor::<2, Bool>::tril_mask(
                [len_new, len_total],
                (len_total - len_new) as i64,
                &q.device(),
            )
            .unsqueeze_dims::<4>(&[0, 1])
        });
        let weights = attention_weights(q, k.clone(), mask);
        let context = self.dropout.forward(weights).matmul(v.clone());
        let context = context.swap_dims(1, 2).reshape([batch, len_new, d_model]);
        (self.output.forward(context), KvCache { key: k, value: v })
    }
}

/// The keys and values of the positions one attention layer has already seen (see
/// [`MultiHeadAttention::causal_self_attention_cached`]).
#[derive(Clone, Debug)]
pub struct KvCache {
    /// Keys, `[B, h, T_past, d_k]`.
    pub key: Tensor<4>,
    /// Values, `[B, h, T_past, d_k]`.
    pub value: Tensor<4>,
}

impl KvCache {
    /// Cached positions `T_past`.
    pub fn len(&self) -> usize {
        self.key.dims()[2]
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{causal_mask, combine, key_padding_mask, padding_mask};
    use crate::test_util::*;
    use burn::nn::attention::{MhaInput, MultiHeadAttentionConfig as BurnMhaConfig};

    #[test]
    fn rejects_heads_that_do_not_divide_the_width() {
        assert!(
            MultiHeadAttentionConfig::new(6, 4)
                .try_init(&device())
                .is_err()
        );
        let mha = MultiHeadAttentionConfig::new(8, 2).init(&device());
        assert_eq!(mha.num_params(), 4 * (8 * 8 + 8));
    }

    #[test]
    fn equals_burn_multi_head_attention_with_masks() {
        let dev = device();
        dev.seed(60);
        let theirs = BurnMhaConfig::new(8, 2).with_dropout(0.0).init(&dev);
        let ours = MultiHeadAttention::from_burn(&theirs);
        let mut r = rng(61);
        let x = uniform3(&mut r, [3, 5, 8], -1.0, 1.0);
        let memory = uniform3(&mut r, [3, 4, 8], -1.0, 1.0);
        let pad = padding_mask(&[5, 3, 1], 5, &dev).unwrap();

        // Self-attention with a padding mask and a causal mask.
        let mask = combine(
            Some(key_padding_mask(pad.clone(), 5)),
            Some(causal_mask(3, 5, &dev)),
        );
        let a = ours.self_attention(x.clone(), mask);
        let b = theirs.forward(
            MhaInput::self_attn(x.clone())
                .mask_pad(pad)
                .mask_attn(causal_mask(3, 5, &dev)),
        );
        assert_close(&a.context, &b.context, 0.0, 1e-4);
        assert_close(&a.weights, &b.weights, 0.0, 1e-5);

        // Cross-attention onto a padded memory.
        let mem_pad = padding_mask(&[4, 2, 3], 4, &dev).unwrap();
        let a = ours.forward(
            x.clone(),
            memory.clone(),
            memory.clone(),
            Some(key_padding_mask(mem_pad.clone(), 5)),
        );
        let b = theirs.forward(MhaInput::new(x, memory.clone(), memory).mask_pad(mem_pad));
        assert_close(&a.context, &b.context, 0.0, 1e-4);
        assert_close(&a.weights, &b.weights, 0.0, 1e-5);
    }

    #[test]
    fn cached_pieces_equal_one_causal_pass() {
        let dev = device();
        let mha = MultiHeadAttentionConfig::new(8, 2).init(&dev);
        let mut r = rng(63);
        let x = uniform3(&mut r, [2, 6, 8], -1.0, 1.0);
        let full = mha.self_attention(x.clone(), Some(causal_mask(2, 6, &dev)));
        // Pieces of 3, 1 and 2 positions.
        let (a, cache) = mha.causal_self_attention_cached(x.clone().slice(s![.., 0..3, ..]), None);
        let (b, cache) =
            mha.causal_self_attention_cached(x.clone().slice(s![.., 3..4, ..]), Some(cache));
        let (c, cache) = mha.causal_self_attention_cached(x.slice(s![.., 4..6, ..]), Some(cache));
        assert_eq!(cache.key.dims(), [2, 2, 6, 4]);
        assert_eq!(cache.len(), 6);
        assert_close(&full.context, &Tensor::cat(vec![a, b, c], 1), 0.0, 1e-5);
    }

    #[test]
    fn weights_sum_to_one_and_are_zero_where_masked() {
        let dev = device();
        let mha = MultiHeadAttentionConfig::new(8, 4).init(&dev);
        let mut r = rng(62);
        let x = uniform3(&mut r, [2, 6, 8], -1.0, 1.0);
        let pad = padding_mask(&[6, 4], 6, &dev).unwrap();
        let mask = combine(
            Some(key_padding_mask(pad, 6)),
            Some(causal_mask(2, 6, &dev)),
        )
        .unwrap();
        let w = mha.self_attention(x, Some(mask.clone())).weights; // [2, 4, 6, 6]
        assert_close(
            &w.clone().sum_dim(3),
            &Tensor::ones([2, 4, 6, 1], &dev),
            0.0,
            1e-6,
        );
        let hidden = mask.unsqueeze_dim::<4>(1).expand([2, 4, 6, 6]);
        assert!(
            host(&w.mask_fill(hidden.bool_not(), 0.0))
                .iter()
                .all(|&x| x == 0.0)
        );
    }

    #[test]
    fn causal_mask_cuts_every_gradient_from_the_future() {
        let dev = device();
        dev.seed(63);
        let mha = MultiHeadAttentionConfig::new(4, 2).init(&dev.clone().autodiff());
        let mut r = rng(64);
        let x = uniform3(&mut r, [2, 5, 4], -1.0, 1.0);
        for t in 0..5 {
            let leaf = x.clone().autodiff().require_grad();
            let out = mha
                .self_attention(leaf.clone(), Some(causal_mask(2, 5, &dev)))
                .context;
            let g = leaf
                .grad(&out.slice(s![.., t, ..]).sum().backward())
                .unwrap();
            let future = host(&g.clone().slice(s![.., t + 1.., ..]));
            assert!(
                future.iter().all(|&v| v == 0.0),
                "∂out[{t}]/∂x[t' > {t}] must be exactly 0"
            );
            assert!(host(&g.slice(s![.., ..=t, ..])).iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn padded_keys_get_no_gradient_and_do_not_change_real_outputs() {
        let dev = device();
        dev.seed(65);
        let mha = MultiHeadAttentionConfig::new(4, 2).init(&dev.clone().autodiff());
        let lengths = [5, 3];
        let pad = padding_mask(&lengths, 5, &dev).unwrap();
        let mask = key_padding_mask(pad, 5);
        let mut r = rng(66);
        let x = uniform3(&mut r, [2, 5, 4], -1.0, 1.0);

        // Loss over the real (unpadded) query positions only.
        let real = |out: Tensor<3>| {
            out.clone().slice(s![0..1, .., ..]).sum() + out.slice(s![1..2, 0..3, ..]).sum()
        };
        let leaf = x.clone().autodiff().require_grad();
        let out = mha.self_attention(leaf.clone(), Some(mask.clone())).context;
        let g = leaf.grad(&real(out.clone()).backward()).unwrap();
        assert!(
            host(&g.clone().slice(s![1..2, 3.., ..]))
                .iter()
                .all(|&v| v == 0.0)
        );
        assert!(host(&g.slice(s![1..2, 0..3, ..])).iter().any(|&v| v != 0.0));

        // Overwriting the padded positions leaves every real output unchanged.
        let junk = x
            .clone()
            .slice_assign(s![1..2, 3.., ..], Tensor::full([1, 2, 4], 100.0, &dev));
        let again = mha.self_attention(junk.autodiff(), Some(mask)).context;
        let (a, b) = (
            out.slice(s![1..2, 0..3, ..]),
            again.slice(s![1..2, 0..3, ..]),
        );
        assert_eq!(
            max_abs_diff(&a.without_autodiff(), &b.without_autodiff()),
            0.0
        );
    }
}
