//! Transformer encoder (Vaswani et al. 2017, section 3.1 and figure 1; seed chapter 4.3.1).
//!
//! One layer has two sub-layers, each wrapped in a residual connection and a layer norm:
//!
//! ```text
//! post-norm (the paper):   x ← LN(x + Dropout(SelfAttn(x)))      x ← LN(x + Dropout(FFN(x)))
//! pre-norm  (GPT-2, Xiong et al. 2020):
//!                          x ← x + Dropout(SelfAttn(LN(x)))      x ← x + Dropout(FFN(LN(x)))
//! FFN(x) = act(x W_1 + b_1) W_2 + b_2       act = ReLU in the paper (seed line 926), GELU in BERT/GPT
//! ```
//!
//! Pre-norm keeps an un-normalised residual stream, so a pre-norm stack ends with one more
//! layer norm ([`TransformerEncoderConfig::final_norm`]).
//!
//! **Seed erratum (line 908, and 318).** "The encoder encodes the input sequence into a
//! fixed-length vector" describes the RNN encoder–decoder of Sutskever et al. 2014. A
//! Transformer encoder returns one vector per input position (`[B, T, d_model]`), and the
//! decoder attends to all of them (test `encoder_keeps_one_vector_per_position`).

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, relu, sigmoid};

use crate::attention::{KvCache, MultiHeadAttention, MultiHeadAttentionConfig};
use crate::error::SequenceError;

/// Where the layer norm sits relative to each residual sub-layer.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NormPosition {
    /// After the residual addition (the paper; burn's `norm_first = false`).
    Post,
    /// Before the sub-layer, inside the residual branch (burn's `norm_first = true`).
    Pre,
}

/// The activation between the two linear maps of the feed-forward sub-layer.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum FfnActivation {
    /// `max(0, x)` (the paper).
    Relu,
    /// Exact `x Φ(x)` (BERT, GPT; burn's default).
    Gelu,
    /// The tanh approximation `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))` (GPT-2's `gelu_new`).
    GeluTanh,
    /// The sigmoid approximation `x σ(1.702 x)` (OpenAI CLIP's `quick_gelu`).
    QuickGelu,
}

impl FfnActivation {
    /// Applies the activation element-wise.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => relu(x),
            Self::Gelu => gelu(x),
            Self::GeluTanh => gelu_approximate(x),
            Self::QuickGelu => x.clone() * sigmoid(x * 1.702),
        }
    }
}

/// Hyper-parameters shared by the encoder and decoder layers.
#[derive(Config, Debug)]
pub struct TransformerLayerConfig {
    /// Model width `d_model` (512 in the paper's base model).
    pub d_model: usize,
    /// Attention heads `h` (8).
    pub n_heads: usize,
    /// Inner width of the feed-forward sub-layer `d_ff` (2048).
    pub d_ff: usize,
    /// Residual dropout `P_drop` (0.1), also used on the attention weights and inside the FFN.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Norm placement.
    #[config(default = "NormPosition::Post")]
    pub norm: NormPosition,
    /// Feed-forward activation.
    #[config(default = "FfnActivation::Relu")]
    pub activation: FfnActivation,
    /// Layer-norm `ε`.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl TransformerLayerConfig {
    pub(crate) fn attention(&self, device: &Device) -> crate::Result<MultiHeadAttention> {
        MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
            .with_dropout(self.dropout)
            .try_init(device)
    }

    pub(crate) fn layer_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.d_model)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }

    pub(crate) fn feed_forward(&self, device: &Device) -> FeedForward {
        FeedForward {
            linear_inner: LinearConfig::new(self.d_model, self.d_ff).init(device),
            linear_outer: LinearConfig::new(self.d_ff, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
        }
    }

    /// Builds one encoder layer.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init_encoder_layer(&self, device: &Device) -> crate::Result<TransformerEncoderLayer> {
        Ok(TransformerEncoderLayer {
            self_attn: self.attention(device)?,
            feed_forward: self.feed_forward(device),
            norm_attn: self.layer_norm(device),
            norm_ff: self.layer_norm(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm: self.norm,
        })
    }
}

/// Position-wise feed-forward network `act(x W_1 + b_1) W_2 + b_2`, applied to every position
/// independently (field names as in burn's `PositionWiseFeedForward`).
#[derive(Module, Debug)]
pub struct FeedForward {
    /// `W_1`, `[d_model, d_ff]`.
    pub linear_inner: Linear,
    /// `W_2`, `[d_ff, d_model]`.
    pub linear_outer: Linear,
    /// Dropout after the activation.
    pub dropout: Dropout,
    /// The activation.
    #[module(skip)]
    pub activation: FfnActivation,
}

impl FeedForward {
    /// # Shapes
    /// - x: `[..., d_model]` → `[..., d_model]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let h = self.activation.forward(self.linear_inner.forward(x));
        self.linear_outer.forward(self.dropout.forward(h))
    }

    /// Copies burn's `PositionWiseFeedForward` (ReLU or GELU only).
    pub(crate) fn from_burn(
        pwff: &burn::nn::transformer::PositionWiseFeedForward,
    ) -> crate::Result<Self> {
        use burn::nn::activation::Activation;
        let activation = match pwff.activation {
            Activation::Relu(_) => FfnActivation::Relu,
            Activation::Gelu(_) => FfnActivation::Gelu,
            _ => {
                return Err(SequenceError::Unsupported(
                    "feed-forward activation other than ReLU or GELU".into(),
                ));
            }
        };
        Ok(Self {
            linear_inner: pwff.linear_inner.clone(),
            linear_outer: pwff.linear_outer.clone(),
            dropout: DropoutConfig::new(pwff.dropout.prob).init(),
            activation,
        })
    }
}

/// Applies one residual sub-layer with the configured norm placement.
pub(crate) fn residual(
    x: Tensor<3>,
    norm: &LayerNorm,
    position: NormPosition,
    dropout: &Dropout,
    sublayer: impl FnOnce(Tensor<3>) -> Tensor<3>,
) -> Tensor<3> {
    match position {
        NormPosition::Post => norm.forward(x.clone() + dropout.forward(sublayer(x))),
        NormPosition::Pre => x.clone() + dropout.forward(sublayer(norm.forward(x))),
    }
}

/// One encoder layer: self-attention, then the feed-forward network.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayer {
    /// Multi-head self-attention.
    pub self_attn: MultiHeadAttention,
    /// Position-wise feed-forward network.
    pub feed_forward: FeedForward,
    /// The layer norm of the attention sub-layer.
    pub norm_attn: LayerNorm,
    /// The layer norm of the feed-forward sub-layer.
    pub norm_ff: LayerNorm,
    /// Residual dropout.
    pub dropout: Dropout,
    /// Norm placement.
    #[module(skip)]
    pub norm: NormPosition,
}

impl TransformerEncoderLayer {
    /// Copies burn's `TransformerEncoderLayer`.
    ///
    /// burn names its norms by position in the code, not by sub-layer, and the roles swap with
    /// `norm_first`: post-norm uses `norm_1` after attention and `norm_2` after the FFN,
    /// pre-norm uses `norm_2` before attention and `norm_1` before the FFN.
    ///
    /// # Errors
    /// [`SequenceError::Unsupported`] for an activation other than ReLU or GELU.
    pub fn from_burn(
        layer: &burn::nn::transformer::TransformerEncoderLayer,
    ) -> crate::Result<Self> {
        let (norm_attn, norm_ff, norm) = if layer.norm_first {
            (
                layer.norm_2.clone(),
                layer.norm_1.clone(),
                NormPosition::Pre,
            )
        } else {
            (
                layer.norm_1.clone(),
                layer.norm_2.clone(),
                NormPosition::Post,
            )
        };
        Ok(Self {
            self_attn: MultiHeadAttention::from_burn(&layer.mha),
            feed_forward: FeedForward::from_burn(&layer.pwff)?,
            norm_attn,
            norm_ff,
            dropout: DropoutConfig::new(layer.dropout.prob).init(),
            norm,
        })
    }

    /// # Shapes
    /// - x: `[B, T, d_model]`, mask: `[B, T, T]` (`true` = masked)
    /// - output: `[B, T, d_model]`
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3, Bool>>) -> Tensor<3> {
        let x = residual(x, &self.norm_attn, self.norm, &self.dropout, |h| {
            self.self_attn.self_attention(h, mask).context
        });
        residual(x, &self.norm_ff, self.norm, &self.dropout, |h| {
            self.feed_forward.forward(h)
        })
    }

    /// [`forward`](Self::forward) with a causal mask, for new positions after the cached
    /// ones (see [`MultiHeadAttention::causal_self_attention_cached`]).
    ///
    /// # Shapes
    /// - x: `[B, T_new, d_model]` → `[B, T_new, d_model]`; the cache grows by `T_new`
    pub fn forward_cached(&self, x: Tensor<3>, cache: Option<KvCache>) -> (Tensor<3>, KvCache) {
        let mut updated = None;
        let x = residual(x, &self.norm_attn, self.norm, &self.dropout, |h| {
            let (context, cache) = self.self_attn.causal_self_attention_cached(h, cache);
            updated = Some(cache);
            context
        });
        let x = residual(x, &self.norm_ff, self.norm, &self.dropout, |h| {
            self.feed_forward.forward(h)
        });
        (x, updated.expect("the attention sub-layer always runs"))
    }
}

/// Configuration of a [`TransformerEncoder`].
#[derive(Config, Debug)]
pub struct TransformerEncoderConfig {
    /// Every layer's hyper-parameters.
    pub layer: TransformerLayerConfig,
    /// Number of layers `N` (6 in the paper).
    pub n_layers: usize,
    /// Whether a pre-norm stack ends with a layer norm (ignored for post-norm, whose output
    /// is already normalised).
    #[config(default = true)]
    pub final_norm: bool,
}

impl TransformerEncoderConfig {
    /// Builds the stack.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if `n_heads` does not divide `d_model`.
    pub fn init(&self, device: &Device) -> crate::Result<TransformerEncoder> {
        Ok(TransformerEncoder {
            layers: (0..self.n_layers)
                .map(|_| self.layer.init_encoder_layer(device))
                .collect::<crate::Result<_>>()?,
            norm: (self.final_norm && self.layer.norm == NormPosition::Pre)
                .then(|| self.layer.layer_norm(device)),
        })
    }
}

/// A stack of encoder layers.
#[derive(Module, Debug)]
pub struct TransformerEncoder {
    /// The layers, input first.
    pub layers: Vec<TransformerEncoderLayer>,
    /// Final layer norm of a pre-norm stack.
    pub norm: Option<LayerNorm>,
}

impl TransformerEncoder {
    /// Copies burn's `TransformerEncoder` (which has no final norm, also in pre-norm mode).
    ///
    /// # Errors
    /// As [`TransformerEncoderLayer::from_burn`].
    pub fn from_burn(encoder: &burn::nn::transformer::TransformerEncoder) -> crate::Result<Self> {
        Ok(Self {
            layers: encoder
                .layers
                .iter()
                .map(TransformerEncoderLayer::from_burn)
                .collect::<crate::Result<_>>()?,
            norm: None,
        })
    }

    /// # Shapes
    /// - x: `[B, T, d_model]`, mask: `[B, T, T]` (`true` = masked; build one from a padding
    ///   mask with [`crate::attention::key_padding_mask`])
    /// - output: `[B, T, d_model]`, one vector per position
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3, Bool>>) -> Tensor<3> {
        let x = self
            .layers
            .iter()
            .fold(x, |x, layer| layer.forward(x, mask.clone()));
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }

    /// Causal [`forward`](Self::forward) of new positions after cached ones, one
    /// [`KvCache`] per layer (an empty `caches` starts a sequence). Feeding a sequence in
    /// pieces equals one causal pass over all of it.
    ///
    /// # Shapes
    /// - x: `[B, T_new, d_model]` → `[B, T_new, d_model]`
    pub fn forward_cached(&self, x: Tensor<3>, caches: &mut Vec<KvCache>) -> Tensor<3> {
        let mut old = std::mem::take(caches).into_iter();
        let mut x = x;
        for layer in &self.layers {
            let (y, cache) = layer.forward_cached(x, old.next());
            caches.push(cache);
            x = y;
        }
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{key_padding_mask, padding_mask};
    use crate::test_util::*;
    use burn::nn::transformer::{
        TransformerEncoderConfig as BurnEncoderConfig, TransformerEncoderInput,
    };

    fn burn_config(norm_first: bool) -> BurnEncoderConfig {
        BurnEncoderConfig::new(8, 16, 2, 2)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
    }

    #[test]
    fn equals_burn_encoder_layer_and_stack_post_and_pre_norm() {
        let dev = device();
        dev.seed(80);
        let mut r = rng(81);
        let x = uniform3(&mut r, [3, 5, 8], -1.0, 1.0);
        let pad = padding_mask(&[5, 2, 4], 5, &dev).unwrap();
        for norm_first in [false, true] {
            let theirs = burn_config(norm_first).init(&dev);
            // Make the norms distinguishable, so that a swapped mapping would fail.
            let mut theirs = theirs;
            for layer in &mut theirs.layers {
                let g = layer.norm_1.gamma.val() * 1.5;
                layer.norm_1.gamma = burn::module::Param::from_tensor(g.add_scalar(0.1));
            }
            let ours = TransformerEncoder::from_burn(&theirs).unwrap();
            assert_eq!(
                ours.layers[0].norm,
                if norm_first {
                    NormPosition::Pre
                } else {
                    NormPosition::Post
                }
            );
            assert_eq!(ours.layers[0].feed_forward.activation, FfnActivation::Gelu);

            // One layer.
            let a = ours.layers[0].forward(x.clone(), Some(key_padding_mask(pad.clone(), 5)));
            let b = theirs.layers[0].forward(x.clone(), Some(pad.clone()), None);
            assert_close(&a, &b, 0.0, 1e-4);
            // The stack.
            let a = ours.forward(x.clone(), Some(key_padding_mask(pad.clone(), 5)));
            let b = theirs.forward(TransformerEncoderInput::new(x.clone()).mask_pad(pad.clone()));
            assert_close(&a, &b, 0.0, 1e-4);
        }
    }

    #[test]
    fn encoder_keeps_one_vector_per_position() {
        let dev = device();
        let enc = TransformerEncoderConfig::new(
            TransformerLayerConfig::new(8, 2, 16).with_dropout(0.0),
            2,
        )
        .init(&dev)
        .unwrap();
        let mut r = rng(82);
        let x = uniform3(&mut r, [2, 7, 8], -1.0, 1.0);
        let y = enc.forward(x, None);
        // Not a fixed-length vector: the output grows with the input.
        assert_eq!(y.dims(), [2, 7, 8]);
        // And the positions stay distinct.
        let first = y.clone().slice(s![.., 0..1, ..]);
        let last = y.slice(s![.., 6..7, ..]);
        assert!(max_abs_diff(&first, &last) > 1e-2);
    }

    #[test]
    fn pre_norm_stack_ends_with_a_norm() {
        let dev = device();
        let cfg = TransformerLayerConfig::new(8, 2, 16).with_norm(NormPosition::Pre);
        let enc = TransformerEncoderConfig::new(cfg.clone(), 1)
            .init(&dev)
            .unwrap();
        assert!(enc.norm.is_some());
        let enc = TransformerEncoderConfig::new(cfg.with_norm(NormPosition::Post), 1)
            .init(&dev)
            .unwrap();
        assert!(enc.norm.is_none());
        assert!(
            TransformerLayerConfig::new(8, 3, 16)
                .init_encoder_layer(&dev)
                .is_err()
        );
    }

    #[test]
    fn padded_positions_neither_receive_gradient_nor_change_real_outputs() {
        let dev = device();
        dev.seed(83);
        for norm in [NormPosition::Post, NormPosition::Pre] {
            let layer = TransformerLayerConfig::new(8, 2, 16)
                .with_dropout(0.0)
                .with_norm(norm);
            let enc = TransformerEncoderConfig::new(layer, 2)
                .init(&dev.clone().autodiff())
                .unwrap();
            let pad = padding_mask(&[6, 4], 6, &dev).unwrap();
            let mask = key_padding_mask(pad, 6);
            let mut r = rng(84);
            let x = uniform3(&mut r, [2, 6, 8], -1.0, 1.0);
            let leaf = x.clone().autodiff().require_grad();
            let out = enc.forward(leaf.clone(), Some(mask.clone()));
            // A loss on the real positions of the padded sequence.
            let loss = out.clone().slice(s![1..2, 0..4, ..]).powi_scalar(2).sum();
            let g = leaf.grad(&loss.backward()).unwrap();
            assert!(
                host(&g.clone().slice(s![1..2, 4.., ..]))
                    .iter()
                    .all(|&v| v == 0.0)
            );
            assert!(host(&g.slice(s![1..2, 0..4, ..])).iter().any(|&v| v != 0.0));

            let junk = x.slice_assign(s![1..2, 4.., ..], Tensor::full([1, 2, 8], -50.0, &dev));
            let again = enc.forward(junk.autodiff(), Some(mask));
            let a = out.slice(s![1..2, 0..4, ..]).without_autodiff();
            let b = again.slice(s![1..2, 0..4, ..]).without_autodiff();
            assert_eq!(max_abs_diff(&a, &b), 0.0);
        }
    }

    #[test]
    fn quick_gelu_is_x_times_sigmoid_of_1_702_x() {
        let xs = [-3.0f32, -1.0, -0.25, 0.0, 0.5, 2.0];
        let x = Tensor::<1>::from_floats(xs, &device());
        let got = host(&FfnActivation::QuickGelu.forward(x));
        for (&x, &y) in xs.iter().zip(&got) {
            let want = x / (1.0 + (-1.702 * x).exp());
            assert!((y - want).abs() < 1e-6, "quick_gelu({x}) = {y}, not {want}");
        }
        // Known value: 2 σ(3.404) = 1.935 66.
        assert!((got[5] - 1.93566).abs() < 1e-4);
    }
}
