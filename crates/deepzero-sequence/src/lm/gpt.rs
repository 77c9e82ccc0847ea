//! A small decoder-only Transformer language model (GPT; Radford et al. 2018/2019), laid out
//! as nanoGPT's `model.py`, the reference for its structure:
//!
//! ```text
//! ids [B, T] ─► wte(ids) + wpe(0..T) ─► dropout ─► N × block ─► ln_f ─► lm_head ─► logits [B, T, V]
//! block:  x ← x + Attn(LN(x), causal mask)       x ← x + MLP(LN(x))       (pre-norm, GELU, d_ff = 4d)
//! ```
//!
//! The blocks are this crate's pre-norm [`TransformerEncoder`] layers given a causal mask
//! ([`causal_mask`]): a GPT block *is* an encoder layer whose queries may not see later keys,
//! and the pre-norm stack ends with the final layer norm (`ln_f`). Position `t`'s logits
//! depend on tokens `0..=t` only (tests `future_tokens_do_not_change_past_logits` and
//! `future_tokens_get_exactly_zero_gradient`).
//!
//! Differences from nanoGPT, all small: the output head is not tied to the token embedding
//! (nanoGPT ties them), the linear layers keep burn's default initialisation (nanoGPT draws
//! `N(0, 0.02)` and scales the residual projections by `1/√(2N)`), and the attention is this
//! crate's explicit `softmax(QKᵀ/√d + M) V` rather than a fused kernel.
//!
//! **Context length.** Positions are learned for `0..block_size` only. [`Gpt::forward`]
//! refuses longer inputs (panics); [`Gpt::generate`] crops the context to its **last**
//! `block_size` tokens before every step, as nanoGPT's `generate` does, so a prompt of any
//! length works and only its last `block_size` characters condition the continuation.
//!
//! **KV cache.** [`Gpt::generate`] keeps every block's keys and values ([`GptCache`],
//! [`Gpt::forward_cached`]): the prompt is run once, then each step runs the model on the one
//! new token only, attending to the cached keys. A step costs `O(T d)` attention plus `O(d²)`
//! projections instead of a whole forward pass over `T` tokens. While the context fits in
//! `block_size` the cached logits equal the recomputed ones (tests
//! `cached_logits_equal_a_full_forward`, `cached_generation_equals_recomputation`); once it
//! no longer fits, every position shifts under the cropped window, the cache is useless, and
//! generation falls back to recomputing the last `block_size` tokens each step, exactly as
//! [`Gpt::generate_recompute`] (the reference) does.

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};
use rand::rngs::StdRng;

use super::{LmBatch, Sampling, ids_tensor, last_logits, lm_step};
use crate::attention::{KvCache, causal_mask};
use crate::error::SequenceError;
use crate::transformer::{
    FfnActivation, LearnedPositionalEncoding, LearnedPositionalEncodingConfig, NormPosition,
    TransformerEncoder, TransformerEncoderConfig, TransformerLayerConfig,
};

/// Configuration of a [`Gpt`].
#[derive(Config, Debug)]
pub struct GptConfig {
    /// Vocabulary size `V`.
    pub vocab_size: usize,
    /// Maximum context `T_max` (nanoGPT's `block_size`).
    pub block_size: usize,
    /// Model width `d` (`n_embd`).
    #[config(default = 128)]
    pub d_model: usize,
    /// Number of blocks `N` (`n_layer`).
    #[config(default = 4)]
    pub n_layers: usize,
    /// Attention heads (`n_head`; must divide `d_model`).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width (`None`: `4 d`, as GPT).
    #[config(default = "None")]
    pub d_ff: Option<usize>,
    /// Dropout on the embeddings, the attention weights, the residual branches and inside
    /// the MLP (nanoGPT's `dropout`).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Feed-forward activation: exact GELU (nanoGPT) or its tanh approximation (GPT-2).
    #[config(default = "FfnActivation::Gelu")]
    pub activation: FfnActivation,
    /// Layer-norm `ε` (`1e-5` in nanoGPT and GPT-2).
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl GptConfig {
    /// Builds the model.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] for a zero size or heads that do not divide `d_model`.
    pub fn init(&self, device: &Device) -> crate::Result<Gpt> {
        if self.vocab_size == 0 || self.block_size == 0 || self.n_layers == 0 {
            return Err(SequenceError::InvalidArgument(
                "vocabulary size, block size and layers must be at least 1".into(),
            ));
        }
        let layer = TransformerLayerConfig::new(
            self.d_model,
            self.n_heads,
            self.d_ff.unwrap_or(4 * self.d_model),
        )
        .with_dropout(self.dropout)
        .with_norm(NormPosition::Pre)
        .with_activation(self.activation)
        .with_layer_norm_eps(self.layer_norm_eps);
        Ok(Gpt {
            token_embedding: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            position_embedding: LearnedPositionalEncodingConfig::new(self.d_model, self.block_size)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            blocks: TransformerEncoderConfig::new(layer, self.n_layers)
                .with_final_norm(true)
                .init(device)?,
            head: LinearConfig::new(self.d_model, self.vocab_size)
                .with_bias(false)
                .init(device),
            block_size: self.block_size,
        })
    }
}

/// Decoder-only Transformer language model.
#[derive(Module, Debug)]
pub struct Gpt {
    /// Token embeddings `wte`, `[V, d]`.
    pub token_embedding: Embedding,
    /// Learned positions `wpe`, `[block_size, d]`.
    pub position_embedding: LearnedPositionalEncoding,
    /// Dropout on the summed embeddings.
    pub dropout: Dropout,
    /// The `N` pre-norm causal blocks and the final layer norm `ln_f`.
    pub blocks: TransformerEncoder,
    /// `lm_head`, `[d, V]`, no bias.
    pub head: Linear,
    /// Maximum context.
    pub block_size: usize,
}

impl Gpt {
    /// # Shapes
    /// - tokens: `[B, T]` with `1 ≤ T ≤ block_size`
    /// - output: logits `[B, T, V]`; position `t` sees tokens `0..=t` only
    ///
    /// # Panics
    /// If `T > block_size` (crop first, as [`Gpt::generate`] does).
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, steps] = tokens.dims();
        assert!(
            steps <= self.block_size,
            "sequence of {steps} tokens is longer than the model's block size {}",
            self.block_size
        );
        let device = tokens.device();
        let x = self.token_embedding.forward(tokens); // [B, T, d]
        let x = self.dropout.forward(self.position_embedding.forward(x));
        let mask = causal_mask(batch, steps, &device); // [B, T, T], true above the diagonal
        let x = self.blocks.forward(x, Some(mask)); // [B, T, d], ln_f applied
        self.head.forward(x) // [B, T, V]
    }

    /// Logits of `tokens` placed after the `cache.len()` tokens already in `cache`, which
    /// then holds them too: `forward_cached` over a sequence in pieces equals
    /// [`forward`](Self::forward) over the whole of it (up to rounding).
    ///
    /// # Shapes
    /// - tokens: `[B, T_new]` with `cache.len() + T_new ≤ block_size`
    /// - output: logits `[B, T_new, V]`
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if the cached and new tokens exceed `block_size`.
    pub fn forward_cached(
        &self,
        tokens: Tensor<2, Int>,
        cache: &mut GptCache,
    ) -> crate::Result<Tensor<3>> {
        let [_, steps] = tokens.dims();
        let past = cache.len;
        if past + steps > self.block_size {
            return Err(SequenceError::InvalidArgument(format!(
                "{past} cached + {steps} new tokens are more than the model's context of {}",
                self.block_size
            )));
        }
        let x = self.token_embedding.forward(tokens); // [B, T_new, d]
        let positions = self
            .position_embedding
            .table
            .val()
            .slice(past..past + steps);
        let x = self.dropout.forward(x + positions.unsqueeze_dim::<3>(0));
        let x = self.blocks.forward_cached(x, &mut cache.layers);
        cache.len = past + steps;
        Ok(self.head.forward(x))
    }

    /// Continues `prompt` by `max_new` tokens and returns the new ids, with a key/value cache
    /// (see the [module docs](self)). Each step draws from the last position's logits given
    /// the last `block_size` tokens of the context (longer contexts are cropped). The result
    /// equals [`generate_recompute`](Self::generate_recompute)'s for the same `rng` state.
    /// Call on `model.valid()` (no dropout).
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] for an empty prompt (give at least one token, e.g. a
    /// newline, as nanoGPT's `sample.py` does).
    pub fn generate(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        rng: &mut StdRng,
        device: &Device,
    ) -> crate::Result<Vec<usize>> {
        check_prompt(prompt)?;
        let mut context = prompt.to_vec();
        let mut cache = GptCache::default();
        for _ in 0..max_new {
            let logits = if context.len() <= self.block_size {
                // The cache holds context[..cache.len]; run the rest (the prompt, then one token).
                self.forward_cached(ids_tensor(&context[cache.len..], device), &mut cache)?
            } else {
                let start = context.len() - self.block_size;
                self.forward(ids_tensor(&context[start..], device))
            };
            context.push(sampling.sample(&last_logits(logits), rng));
        }
        Ok(context.split_off(prompt.len()))
    }

    /// [`generate`](Self::generate) without a cache: every step runs the whole (cropped)
    /// context again, as nanoGPT's `generate` does. The reference the cache is tested and
    /// timed against.
    ///
    /// # Errors
    /// As [`generate`](Self::generate).
    pub fn generate_recompute(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        rng: &mut StdRng,
        device: &Device,
    ) -> crate::Result<Vec<usize>> {
        check_prompt(prompt)?;
        let mut context = prompt.to_vec();
        for _ in 0..max_new {
            let start = context.len().saturating_sub(self.block_size);
            let logits = self.forward(ids_tensor(&context[start..], device));
            context.push(sampling.sample(&last_logits(logits), rng));
        }
        Ok(context.split_off(prompt.len()))
    }
}

fn check_prompt(prompt: &[usize]) -> crate::Result<()> {
    if prompt.is_empty() {
        return Err(SequenceError::InvalidArgument(
            "generation needs a prompt of at least one token".into(),
        ));
    }
    Ok(())
}

/// The keys and values of every block for the tokens a [`Gpt`] has seen so far
/// ([`Gpt::forward_cached`]). `GptCache::default()` is empty.
#[derive(Clone, Debug, Default)]
pub struct GptCache {
    /// One cache per block, input first (empty before the first call).
    pub layers: Vec<KvCache>,
    /// Tokens cached.
    pub len: usize,
}

impl Supervised for Gpt {
    type Batch = LmBatch;

    fn step(&self, batch: LmBatch) -> ClassificationStep {
        lm_step(self.forward(batch.inputs), batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::sampling;
    use crate::lm::test_support::{greedy_continuation, overfit, repeated_text};
    use crate::test_util::{device, host, max_abs_diff};

    fn tiny(device: &Device) -> Gpt {
        GptConfig::new(10, 8)
            .with_d_model(16)
            .with_n_layers(2)
            .with_n_heads(2)
            .init(device)
            .unwrap()
    }

    fn tokens(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
        let t = rows[0].len();
        let data: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(data, [rows.len(), t]), device)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let dev = device();
        let model = tiny(&dev);
        let logits = model.forward(tokens(&[&[1, 2, 3, 4, 5], &[5, 4, 3, 2, 1]], &dev));
        assert_eq!(logits.dims(), [2, 5, 10]);
        // wte 10·16 + wpe 8·16 + 2 × (attention 4·(16·16+16) + 2 LN 2·2·16 + MLP 16·64+64+64·16+16)
        // + ln_f 2·16 + head 16·10.
        let block = 4 * (16 * 16 + 16) + 4 * 16 + (16 * 64 + 64 + 64 * 16 + 16);
        assert_eq!(model.num_params(), 160 + 128 + 2 * block + 32 + 160);
        assert!(GptConfig::new(10, 8).with_d_model(18).init(&dev).is_err()); // 4 ∤ 18
    }

    #[test]
    fn future_tokens_do_not_change_past_logits() {
        let dev = device();
        let model = tiny(&dev);
        let a = model.forward(tokens(&[&[1, 2, 3, 4, 5, 6, 7, 8]], &dev));
        let b = model.forward(tokens(&[&[1, 2, 3, 4, 9, 0, 9, 0]], &dev));
        let past = |x: Tensor<3>| x.slice(s![.., 0..4, ..]);
        assert!(max_abs_diff(&past(a.clone()), &past(b.clone())) < 1e-6);
        let future = |x: Tensor<3>| x.slice(s![.., 4..8, ..]);
        assert!(max_abs_diff(&future(a), &future(b)) > 1e-3);
    }

    #[test]
    fn future_tokens_get_exactly_zero_gradient() {
        let dev = device().autodiff();
        let model = tiny(&dev);
        // Every token appears once: a gradient on its embedding row means it was seen.
        let logits = model.forward(tokens(&[&[1, 2, 3, 4, 5, 6, 7, 8]], &dev));
        let grads = logits.slice(s![.., 3..4, ..]).sum().backward();
        let wte = host(&model.token_embedding.weight.grad(&grads).unwrap()); // [10, 16]
        let wpe = host(&model.position_embedding.table.grad(&grads).unwrap()); // [8, 16]
        let row_norm =
            |g: &[f32], r: usize| g[r * 16..(r + 1) * 16].iter().map(|v| v.abs()).sum::<f32>();
        for tok in 1..=4 {
            assert!(
                row_norm(&wte, tok) > 0.0,
                "token {tok} is visible to position 3"
            );
        }
        for tok in 5..=8 {
            assert_eq!(
                row_norm(&wte, tok),
                0.0,
                "token {tok} comes after position 3"
            );
        }
        for pos in 4..8 {
            assert_eq!(row_norm(&wpe, pos), 0.0, "position {pos}");
        }
    }

    #[test]
    fn overfits_a_tiny_text() {
        // A repeating 12-character text: V = 9, ln 9 ≈ 2.20 nats; after 150 Adam steps on
        // random windows the loss must be far below that.
        let dev = device().autodiff();
        dev.seed(3);
        let (corpus, windows) = repeated_text("hello world\n", 40, 8, 150, 1);
        let v = corpus.vocab.len();
        let model = GptConfig::new(v, 8)
            .with_d_model(32)
            .with_n_layers(1)
            .with_n_heads(2)
            .init(&dev)
            .unwrap();
        let model = overfit(model, &windows, v, (150, 3e-3), &dev);
        // Greedy generation then reproduces the text.
        let model = model.valid();
        let inner = dev.clone().without_autodiff();
        let text = greedy_continuation(&corpus, "hello ", 6, |p, n, s, r| {
            model.generate(p, n, s, r, &inner)
        });
        assert_eq!(text, "world\n");
    }

    #[test]
    fn cached_logits_equal_a_full_forward() {
        let dev = device();
        let model = tiny(&dev);
        let ids = [3i64, 1, 4, 1, 5, 9, 2, 6];
        let full = model.forward(tokens(&[&ids], &dev)); // [1, 8, 10]
        // Prompt of 3, then one token at a time, then a piece of 2.
        let mut cache = GptCache::default();
        let mut pieces = vec![
            model
                .forward_cached(tokens(&[&ids[..3]], &dev), &mut cache)
                .unwrap(),
        ];
        for t in 3..6 {
            pieces.push(
                model
                    .forward_cached(tokens(&[&ids[t..t + 1]], &dev), &mut cache)
                    .unwrap(),
            );
        }
        pieces.push(
            model
                .forward_cached(tokens(&[&ids[6..]], &dev), &mut cache)
                .unwrap(),
        );
        assert_eq!(cache.len, 8);
        assert_eq!(cache.layers.len(), 2);
        assert_eq!(cache.layers[0].len(), 8);
        let cached = Tensor::cat(pieces, 1);
        assert!(
            max_abs_diff(&full, &cached) < 1e-5,
            "{}",
            max_abs_diff(&full, &cached)
        );
        // The context is full: one more token is an error, not a panic.
        assert!(
            model
                .forward_cached(tokens(&[&[1]], &dev), &mut cache)
                .is_err()
        );
    }

    #[test]
    fn cached_generation_equals_recomputation() {
        let dev = device();
        dev.seed(12);
        let model = GptConfig::new(10, 16)
            .with_d_model(16)
            .with_n_layers(2)
            .with_n_heads(2)
            .with_activation(FfnActivation::GeluTanh)
            .init(&dev)
            .unwrap();
        let prompt = [1usize, 2, 3];
        let top_p = Sampling::new(1.0, None)
            .unwrap()
            .with_top_p(Some(0.9))
            .unwrap();
        // 20 new tokens: the context passes block_size 16, so both paths of `generate` run.
        for s in [
            Sampling::greedy(),
            Sampling::new(1.0, Some(5)).unwrap(),
            top_p,
        ] {
            for seed in 0..3 {
                let cached = model
                    .generate(&prompt, 20, &s, &mut sampling::rng(seed), &dev)
                    .unwrap();
                let recomputed = model
                    .generate_recompute(&prompt, 20, &s, &mut sampling::rng(seed), &dev)
                    .unwrap();
                assert_eq!(cached, recomputed, "{s:?} seed {seed}");
            }
        }
    }

    #[test]
    fn generation_crops_long_contexts_and_is_seeded() {
        let dev = device();
        let model = tiny(&dev);
        let prompt: Vec<usize> = (0..20).map(|i| i % 10).collect(); // longer than block 8
        let s = Sampling::new(1.0, Some(5)).unwrap();
        let a = model
            .generate(&prompt, 12, &s, &mut sampling::rng(4), &dev)
            .unwrap();
        let b = model
            .generate(&prompt, 12, &s, &mut sampling::rng(4), &dev)
            .unwrap();
        assert_eq!(a.len(), 12);
        assert_eq!(a, b);
        assert!(a.iter().all(|&i| i < 10));
        // Only the last 8 tokens matter.
        let c = model
            .generate(&prompt[12..], 12, &s, &mut sampling::rng(4), &dev)
            .unwrap();
        assert_eq!(a, c);
        assert!(
            model
                .generate(&[], 3, &s, &mut sampling::rng(4), &dev)
                .is_err()
        );
    }
}
