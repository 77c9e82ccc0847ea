//! Transformer decoder (Vaswani et al. 2017, section 3.1; seed chapter 4.3.1, lines 929–943).
//!
//! Three residual sub-layers per layer:
//!
//! ```text
//! x ← Sub(x, SelfAttn(·, causal mask))           the target attends to its own past only
//! x ← Sub(x, CrossAttn(·, memory, memory mask))  queries from the target, keys/values from the encoder
//! x ← Sub(x, FFN(·))
//! Sub(x, f) = LN(x + Dropout(f(x)))  (post-norm)   or   x + Dropout(f(LN(x)))  (pre-norm)
//! ```
//!
//! The causal mask makes position `t` depend on target positions `≤ t` only, so one forward
//! pass trains all positions at once ("teacher forcing") and generation can proceed left to
//! right (test `decoder_output_never_depends_on_later_targets`).

use burn::nn::{Dropout, DropoutConfig, LayerNorm};
use burn::prelude::*;

use super::encoder::{FeedForward, NormPosition, TransformerLayerConfig, residual};
use crate::attention::MultiHeadAttention;

impl TransformerLayerConfig {
    /// Builds one decoder layer.
    ///
    /// # Errors
    /// [`crate::SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init_decoder_layer(&self, device: &Device) -> crate::Result<TransformerDecoderLayer> {
        Ok(TransformerDecoderLayer {
            self_attn: self.attention(device)?,
            cross_attn: self.attention(device)?,
            feed_forward: self.feed_forward(device),
            norm_self: self.layer_norm(device),
            norm_cross: self.layer_norm(device),
            norm_ff: self.layer_norm(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm: self.norm,
        })
    }
}

/// One decoder layer: masked self-attention, cross-attention, feed-forward.
#[derive(Module, Debug)]
pub struct TransformerDecoderLayer {
    /// Masked multi-head self-attention.
    pub self_attn: MultiHeadAttention,
    /// Multi-head attention over the encoder output.
    pub cross_attn: MultiHeadAttention,
    /// Position-wise feed-forward network.
    pub feed_forward: FeedForward,
    /// Layer norm of the self-attention sub-layer.
    pub norm_self: LayerNorm,
    /// Layer norm of the cross-attention sub-layer.
    pub norm_cross: LayerNorm,
    /// Layer norm of the feed-forward sub-layer.
    pub norm_ff: LayerNorm,
    /// Residual dropout.
    pub dropout: Dropout,
    /// Norm placement.
    #[module(skip)]
    pub norm: NormPosition,
}

impl TransformerDecoderLayer {
    /// Copies burn's `TransformerDecoderLayer`. Its norms rotate roles with `norm_first`:
    /// post-norm applies `norm_1, norm_2, norm_3` after self-attention, cross-attention and
    /// the FFN; pre-norm applies `norm_3, norm_1, norm_2` before them.
    ///
    /// # Errors
    /// [`crate::SequenceError::Unsupported`] for an activation other than ReLU or GELU.
    pub fn from_burn(
        layer: &burn::nn::transformer::TransformerDecoderLayer,
    ) -> crate::Result<Self> {
        let (norm_self, norm_cross, norm_ff, norm) = if layer.norm_first {
            (
                layer.norm_3.clone(),
                layer.norm_1.clone(),
                layer.norm_2.clone(),
                NormPosition::Pre,
            )
        } else {
            (
                layer.norm_1.clone(),
                layer.norm_2.clone(),
                layer.norm_3.clone(),
                NormPosition::Post,
            )
        };
        Ok(Self {
            self_attn: MultiHeadAttention::from_burn(&layer.self_attn),
            cross_attn: MultiHeadAttention::from_burn(&layer.cross_attn),
            feed_forward: FeedForward::from_burn(&layer.pwff)?,
            norm_self,
            norm_cross,
            norm_ff,
            dropout: DropoutConfig::new(layer.dropout.prob).init(),
            norm,
        })
    }

    /// # Shapes
    /// - x: `[B, T_t, d_model]` (target), memory: `[B, T_s, d_model]` (encoder output)
    /// - self_mask: `[B, T_t, T_t]` (normally [`crate::attention::decoder_self_mask`])
    /// - memory_mask: `[B, T_t, T_s]` (padded source positions)
    /// - output: `[B, T_t, d_model]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Option<Tensor<3, Bool>>,
        memory_mask: Option<Tensor<3, Bool>>,
    ) -> Tensor<3> {
        let x = residual(x, &self.norm_self, self.norm, &self.dropout, |h| {
            self.self_attn.self_attention(h, self_mask).context
        });
        let x = residual(x, &self.norm_cross, self.norm, &self.dropout, |h| {
            self.cross_attn
                .forward(h, memory.clone(), memory, memory_mask)
                .context
        });
        residual(x, &self.norm_ff, self.norm, &self.dropout, |h| {
            self.feed_forward.forward(h)
        })
    }
}

/// Configuration of a [`TransformerDecoder`].
#[derive(Config, Debug)]
pub struct TransformerDecoderConfig {
    /// Every layer's hyper-parameters.
    pub layer: TransformerLayerConfig,
    /// Number of layers `N` (6 in the paper).
    pub n_layers: usize,
    /// Whether a pre-norm stack ends with a layer norm (ignored for post-norm).
    #[config(default = true)]
    pub final_norm: bool,
}

impl TransformerDecoderConfig {
    /// Builds the stack.
    ///
    /// # Errors
    /// [`crate::SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init(&self, device: &Device) -> crate::Result<TransformerDecoder> {
        Ok(TransformerDecoder {
            layers: (0..self.n_layers)
                .map(|_| self.layer.init_decoder_layer(device))
                .collect::<crate::Result<_>>()?,
            norm: (self.final_norm && self.layer.norm == NormPosition::Pre)
                .then(|| self.layer.layer_norm(device)),
        })
    }
}

/// A stack of decoder layers.
#[derive(Module, Debug)]
pub struct TransformerDecoder {
    /// The layers, input first.
    pub layers: Vec<TransformerDecoderLayer>,
    /// Final layer norm of a pre-norm stack.
    pub norm: Option<LayerNorm>,
}

impl TransformerDecoder {
    /// Copies burn's `TransformerDecoder` (no final norm).
    ///
    /// # Errors
    /// As [`TransformerDecoderLayer::from_burn`].
    pub fn from_burn(decoder: &burn::nn::transformer::TransformerDecoder) -> crate::Result<Self> {
        Ok(Self {
            layers: decoder
                .layers
                .iter()
                .map(TransformerDecoderLayer::from_burn)
                .collect::<crate::Result<_>>()?,
            norm: None,
        })
    }

    /// # Shapes
    /// As [`TransformerDecoderLayer::forward`].
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Option<Tensor<3, Bool>>,
        memory_mask: Option<Tensor<3, Bool>>,
    ) -> Tensor<3> {
        let x = self.layers.iter().fold(x, |x, layer| {
            layer.forward(x, memory.clone(), self_mask.clone(), memory_mask.clone())
        });
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{causal_mask, decoder_self_mask, key_padding_mask, padding_mask};
    use crate::test_util::*;
    use burn::nn::transformer::{
        TransformerDecoderConfig as BurnDecoderConfig, TransformerDecoderInput,
    };

    #[test]
    fn equals_burn_decoder_post_and_pre_norm() {
        let dev = device();
        dev.seed(90);
        let mut r = rng(91);
        let target = uniform3(&mut r, [2, 5, 8], -1.0, 1.0);
        let memory = uniform3(&mut r, [2, 4, 8], -1.0, 1.0);
        let mem_pad = padding_mask(&[4, 2], 4, &dev).unwrap();
        for norm_first in [false, true] {
            let mut theirs = BurnDecoderConfig::new(8, 16, 2, 2)
                .with_dropout(0.0)
                .with_norm_first(norm_first)
                .init(&dev);
            // Distinguishable norms, so that a wrong mapping fails.
            for layer in &mut theirs.layers {
                layer.norm_1.gamma =
                    burn::module::Param::from_tensor(layer.norm_1.gamma.val() * 2.0);
                layer.norm_3.gamma =
                    burn::module::Param::from_tensor(layer.norm_3.gamma.val() * 0.5);
            }
            let ours = TransformerDecoder::from_burn(&theirs).unwrap();
            let a = ours.forward(
                target.clone(),
                memory.clone(),
                Some(causal_mask(2, 5, &dev)),
                Some(key_padding_mask(mem_pad.clone(), 5)),
            );
            let b = theirs.forward(
                TransformerDecoderInput::new(target.clone(), memory.clone())
                    .target_mask_attn(causal_mask(2, 5, &dev))
                    .memory_mask_pad(mem_pad.clone()),
            );
            assert_close(&a, &b, 0.0, 1e-4);
        }
    }

    #[test]
    fn decoder_output_never_depends_on_later_targets() {
        let dev = device();
        dev.seed(92);
        for norm in [NormPosition::Post, NormPosition::Pre] {
            let cfg = TransformerLayerConfig::new(8, 2, 16)
                .with_dropout(0.0)
                .with_norm(norm);
            let dec = TransformerDecoderConfig::new(cfg, 2)
                .init(&dev.clone().autodiff())
                .unwrap();
            let mut r = rng(93);
            let target = uniform3(&mut r, [2, 5, 8], -1.0, 1.0);
            let memory = uniform3(&mut r, [2, 3, 8], -1.0, 1.0);
            let tgt_pad = padding_mask(&[5, 4], 5, &dev).unwrap();
            // A random read-out: the plain sum of a post-norm output is constant (a layer norm
            // with unit gain returns rows that sum to zero), so its gradient would be zero.
            let probe = uniform3(&mut r, [2, 1, 8], -1.0, 1.0).autodiff();
            for t in 0..5 {
                let leaf = target.clone().autodiff().require_grad();
                let mem = memory.clone().autodiff().require_grad();
                let out = dec.forward(
                    leaf.clone(),
                    mem.clone(),
                    Some(decoder_self_mask(Some(tgt_pad.clone()), 2, 5, &dev)),
                    None,
                );
                let grads = (out.slice(s![.., t..t + 1, ..]) * probe.clone())
                    .sum()
                    .backward();
                let g = leaf.grad(&grads).unwrap();
                if t + 1 < 5 {
                    let future = host(&g.clone().slice(s![.., t + 1.., ..]));
                    assert!(
                        future.iter().all(|&v| v == 0.0),
                        "output {t} saw a later target"
                    );
                }
                assert!(host(&g.slice(s![.., ..=t, ..])).iter().any(|&v| v != 0.0));
                // Every output position sees the whole memory.
                assert!(host(&mem.grad(&grads).unwrap()).iter().any(|&v| v != 0.0));
            }
        }
    }
}
