//! Fusion of an image and a text representation (seed chapter 6.2), one module per family:
//!
//! | module | formula | family |
//! |---|---|---|
//! | [`ConcatFusion`] | `ReLU(W [v; t] + b)` | early fusion by concatenation |
//! | [`GatedFusion`] | `z ⊙ tanh(W_v v) + (1 − z) ⊙ tanh(W_t t)`, `z = σ(W_z [v; t])` | gated multimodal unit (Arevalo et al. 2017) |
//! | [`BilinearFusion`] | `Pᵀ (tanh(Uᵀ v) ⊙ tanh(Vᵀ t)) + b` | low-rank bilinear pooling (MLB, Kim et al. 2017) |
//! | [`CrossAttentionFusion`] | `LN(t + MHA(t, regions, regions))`, mean over tokens | multimodal attention: text attends over image regions |
//!
//! The first three take one vector per modality, `v: [B, d_v]`, `t: [B, d_t]`, and return
//! `[B, d]`. Cross-attention takes the text tokens `[B, T, d]` (with their padding) and the image
//! regions `[B, R, d]` (a CNN feature map's cells) and returns one vector per pair.
//! Concatenation lets a following layer add the two modalities; the bilinear form is built from
//! their products only, so with either input at zero it outputs its bias alone (test
//! `bilinear_fusion_is_an_interaction_only`); the gate chooses per unit how much of each
//! modality passes. The test `every_fusion_learns_a_label_that_needs_both_modalities` trains
//! each on `label = a XOR b` with `a` in the image vector and `b` in the text vector, which
//! neither modality alone predicts better than chance.

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use deepzero_sequence::attention::{MultiHeadAttention, MultiHeadAttentionConfig};

/// Configuration of [`ConcatFusion`].
#[derive(Config, Debug)]
pub struct ConcatFusionConfig {
    /// Image vector width `d_v`.
    pub d_image: usize,
    /// Text vector width `d_t`.
    pub d_text: usize,
    /// Output width `d`.
    pub d_out: usize,
}

impl ConcatFusionConfig {
    /// Builds the module.
    pub fn init(&self, device: &Device) -> ConcatFusion {
        ConcatFusion {
            linear: LinearConfig::new(self.d_image + self.d_text, self.d_out).init(device),
        }
    }
}

/// `ReLU(W [v; t] + b)`.
#[derive(Module, Debug)]
pub struct ConcatFusion {
    linear: Linear,
}

impl ConcatFusion {
    /// # Shapes
    /// - `image`: `[B, d_v]`, `text`: `[B, d_t]` → `[B, d]`
    pub fn forward(&self, image: Tensor<2>, text: Tensor<2>) -> Tensor<2> {
        relu(self.linear.forward(Tensor::cat(vec![image, text], 1)))
    }
}

/// Configuration of [`GatedFusion`].
#[derive(Config, Debug)]
pub struct GatedFusionConfig {
    /// Image vector width `d_v`.
    pub d_image: usize,
    /// Text vector width `d_t`.
    pub d_text: usize,
    /// Output width `d`.
    pub d_out: usize,
}

impl GatedFusionConfig {
    /// Builds the module.
    pub fn init(&self, device: &Device) -> GatedFusion {
        GatedFusion {
            image: LinearConfig::new(self.d_image, self.d_out)
                .with_bias(false)
                .init(device),
            text: LinearConfig::new(self.d_text, self.d_out)
                .with_bias(false)
                .init(device),
            gate: LinearConfig::new(self.d_image + self.d_text, self.d_out).init(device),
        }
    }
}

/// The gated multimodal unit: `h = z ⊙ tanh(W_v v) + (1 − z) ⊙ tanh(W_t t)`,
/// `z = σ(W_z [v; t] + b_z)`.
#[derive(Module, Debug)]
pub struct GatedFusion {
    image: Linear,
    text: Linear,
    gate: Linear,
}

impl GatedFusion {
    /// # Shapes
    /// - `image`: `[B, d_v]`, `text`: `[B, d_t]` → `[B, d]`
    pub fn forward(&self, image: Tensor<2>, text: Tensor<2>) -> Tensor<2> {
        let z = self.gate_values(image.clone(), text.clone());
        let h_image = self.image.forward(image).tanh();
        let h_text = self.text.forward(text).tanh();
        z.clone() * h_image + (z.neg() + 1.0) * h_text
    }

    /// The gate `z` (1: all image, 0: all text), `[B, d]`.
    pub fn gate_values(&self, image: Tensor<2>, text: Tensor<2>) -> Tensor<2> {
        sigmoid(self.gate.forward(Tensor::cat(vec![image, text], 1)))
    }
}

/// Configuration of [`BilinearFusion`].
#[derive(Config, Debug)]
pub struct BilinearFusionConfig {
    /// Image vector width `d_v`.
    pub d_image: usize,
    /// Text vector width `d_t`.
    pub d_text: usize,
    /// Rank `r` of the factorised bilinear form (MLB: 1 200).
    pub rank: usize,
    /// Output width `d`.
    pub d_out: usize,
}

impl BilinearFusionConfig {
    /// Builds the module.
    pub fn init(&self, device: &Device) -> BilinearFusion {
        BilinearFusion {
            image: LinearConfig::new(self.d_image, self.rank)
                .with_bias(false)
                .init(device),
            text: LinearConfig::new(self.d_text, self.rank)
                .with_bias(false)
                .init(device),
            output: LinearConfig::new(self.rank, self.d_out).init(device),
        }
    }
}

/// Low-rank bilinear pooling: `Pᵀ (tanh(Uᵀ v) ⊙ tanh(Vᵀ t)) + b`, a rank-`r` factorisation of
/// the full bilinear form `vᵀ W_k t` for every output unit `k`.
#[derive(Module, Debug)]
pub struct BilinearFusion {
    image: Linear,
    text: Linear,
    output: Linear,
}

impl BilinearFusion {
    /// # Shapes
    /// - `image`: `[B, d_v]`, `text`: `[B, d_t]` → `[B, d]`
    pub fn forward(&self, image: Tensor<2>, text: Tensor<2>) -> Tensor<2> {
        let joint = self.image.forward(image).tanh() * self.text.forward(text).tanh();
        self.output.forward(joint)
    }
}

/// Configuration of [`CrossAttentionFusion`].
#[derive(Config, Debug)]
pub struct CrossAttentionFusionConfig {
    /// Width `d` of the text tokens and the image regions.
    pub d_model: usize,
    /// Attention heads (must divide `d_model`).
    #[config(default = 1)]
    pub n_heads: usize,
}

impl CrossAttentionFusionConfig {
    /// Builds the module.
    ///
    /// # Errors
    /// [`deepzero_sequence::SequenceError`] when `n_heads` does not divide `d_model`.
    pub fn init(
        &self,
        device: &Device,
    ) -> Result<CrossAttentionFusion, deepzero_sequence::SequenceError> {
        Ok(CrossAttentionFusion {
            attention: MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
                .try_init(device)?,
            norm: LayerNormConfig::new(self.d_model).init(device),
        })
    }
}

/// Text attends over image regions: each token's query picks the regions it needs, the result
/// is added to the token (residual) and normalised, and the tokens are averaged into one vector.
#[derive(Module, Debug)]
pub struct CrossAttentionFusion {
    attention: MultiHeadAttention,
    norm: LayerNorm,
}

/// What [`CrossAttentionFusion::forward`] returns.
#[derive(Debug, Clone)]
pub struct CrossAttentionOutput {
    /// The fused vector of each pair, `[B, d]`.
    pub fused: Tensor<2>,
    /// Attention of each head and token over the regions, `[B, h, T, R]` (rows sum to 1).
    pub weights: Tensor<4>,
}

impl CrossAttentionFusion {
    /// # Shapes
    /// - `tokens`: `[B, T, d]`; `token_padding`: `[B, T]`, `true` = padding (left out of the
    ///   mean); `regions`: `[B, R, d]`
    /// - output: fused `[B, d]`, weights `[B, h, T, R]`
    pub fn forward(
        &self,
        tokens: Tensor<3>,
        token_padding: Option<Tensor<2, Bool>>,
        regions: Tensor<3>,
    ) -> CrossAttentionOutput {
        let [batch, len, _] = tokens.dims();
        let out = self
            .attention
            .forward(tokens.clone(), regions.clone(), regions, None);
        let attended = self.norm.forward(tokens + out.context); // [B, T, d]
        let keep = match token_padding {
            Some(padding) => padding.bool_not().float(),
            None => Tensor::ones([batch, len], &attended.device()),
        }; // [B, T]
        let counts = keep.clone().sum_dim(1).clamp_min(1.0); // [B, 1]
        let summed = (attended * keep.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1);
        CrossAttentionOutput {
            fused: summed / counts,
            weights: out.weights,
        }
    }
}

/// Sets a linear layer's bias to `value` everywhere (tests and hand-built models).
pub fn fill_bias(linear: &mut Linear, value: f32) {
    if let Some(bias) = linear.bias.as_mut() {
        let shape = bias.val().shape();
        *bias = Param::from_tensor(Tensor::full(shape, value, &bias.val().device()));
    }
}

impl GatedFusion {
    /// The gate's linear layer (to inspect or pin it).
    pub fn gate_mut(&mut self) -> &mut Linear {
        &mut self.gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::Distribution;

    fn device() -> Device {
        Device::flex()
    }

    fn host(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_into_vec().unwrap()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn shapes() {
        let dev = device();
        let (v, t) = (
            Tensor::<2>::ones([3, 4], &dev),
            Tensor::<2>::ones([3, 5], &dev),
        );
        let concat = ConcatFusionConfig::new(4, 5, 6).init(&dev);
        let gated = GatedFusionConfig::new(4, 5, 6).init(&dev);
        let bilinear = BilinearFusionConfig::new(4, 5, 7, 6).init(&dev);
        assert_eq!(concat.forward(v.clone(), t.clone()).dims(), [3, 6]);
        assert_eq!(gated.forward(v.clone(), t.clone()).dims(), [3, 6]);
        assert_eq!(bilinear.forward(v, t).dims(), [3, 6]);
        let cross = CrossAttentionFusionConfig::new(8)
            .with_n_heads(2)
            .init(&dev)
            .unwrap();
        let out = cross.forward(
            Tensor::zeros([3, 4, 8], &dev),
            None,
            Tensor::zeros([3, 9, 8], &dev),
        );
        assert_eq!(out.fused.dims(), [3, 8]);
        assert_eq!(out.weights.dims(), [3, 2, 4, 9]);
        assert!(
            CrossAttentionFusionConfig::new(8)
                .with_n_heads(3)
                .init(&dev)
                .is_err()
        );
    }

    #[test]
    fn the_gate_mixes_as_its_formula_says_and_saturates_to_one_modality() {
        let dev = device();
        let v = Tensor::<2>::random([2, 4], Distribution::Normal(0.0, 1.0), &dev);
        let t = Tensor::<2>::random([2, 5], Distribution::Normal(0.0, 1.0), &dev);
        let mut gated = GatedFusionConfig::new(4, 5, 3).init(&dev);
        let h_v = host(gated.image.forward(v.clone()).tanh());
        let h_t = host(gated.text.forward(t.clone()).tanh());
        let z = host(gated.gate_values(v.clone(), t.clone()));
        let expected: Vec<f32> = (0..6)
            .map(|i| z[i] * h_v[i] + (1.0 - z[i]) * h_t[i])
            .collect();
        assert!(close(&host(gated.forward(v.clone(), t.clone())), &expected));
        // A gate bias of +50 passes the image only, −50 the text only.
        fill_bias(gated.gate_mut(), 50.0);
        assert!(close(&host(gated.forward(v.clone(), t.clone())), &h_v));
        fill_bias(gated.gate_mut(), -50.0);
        assert!(close(&host(gated.forward(v, t)), &h_t));
    }

    #[test]
    fn bilinear_fusion_is_an_interaction_only() {
        let dev = device();
        let bilinear = BilinearFusionConfig::new(4, 5, 8, 3).init(&dev);
        let bias = host(
            bilinear
                .output
                .bias
                .as_ref()
                .unwrap()
                .val()
                .unsqueeze_dim(0),
        );
        let v = Tensor::<2>::random([1, 4], Distribution::Normal(0.0, 1.0), &dev);
        let t = Tensor::<2>::random([1, 5], Distribution::Normal(0.0, 1.0), &dev);
        // Either modality at zero leaves the bias alone, whatever the other one says.
        assert!(close(
            &host(bilinear.forward(v.clone(), Tensor::zeros([1, 5], &dev))),
            &bias
        ));
        assert!(close(
            &host(bilinear.forward(Tensor::zeros([1, 4], &dev), t.clone())),
            &bias
        ));
        // Flipping both signs leaves the product tanh(a)·tanh(b) (tanh is odd), so the output.
        assert!(close(
            &host(bilinear.forward(v.clone().neg(), t.clone().neg())),
            &host(bilinear.forward(v, t))
        ));
    }

    #[test]
    fn cross_attention_ignores_padded_tokens_and_its_weights_sum_to_one() {
        let dev = device();
        let cross = CrossAttentionFusionConfig::new(6)
            .with_n_heads(2)
            .init(&dev)
            .unwrap();
        let regions = Tensor::<3>::random([1, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        let tokens = Tensor::<3>::random([1, 3, 6], Distribution::Normal(0.0, 1.0), &dev);
        let padding = Tensor::<2, Bool>::from_data([[false, false, true]], &dev);
        let a = cross.forward(tokens.clone(), Some(padding.clone()), regions.clone());
        // Changing the padded token changes nothing; the first two tokens alone give the same.
        let other = tokens
            .clone()
            .slice_assign(s![.., 2..3, ..], Tensor::<3>::full([1, 1, 6], 9.0, &dev));
        let b = cross.forward(other, Some(padding), regions.clone());
        let two = cross.forward(tokens.slice(s![.., 0..2, ..]), None, regions);
        assert!(close(&host(a.fused.clone()), &host(b.fused)));
        assert!(close(&host(a.fused), &host(two.fused)));
        let sums = host(a.weights.sum_dim(3).reshape([1, 6]));
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    }

    /// `label = a XOR b`: bit `a` is in the image vector, `b` in the text vector (each with a
    /// distractor dimension), so neither alone says anything about the label.
    fn xor_data(dev: &Device) -> (Tensor<2>, Tensor<2>, Tensor<1, Int>) {
        let mut image = Vec::new();
        let mut text = Vec::new();
        let mut labels = Vec::new();
        for i in 0..32usize {
            let (a, b) = (i % 2, (i / 2) % 2);
            let noise = ((i * 7) % 5) as f32 / 5.0;
            image.extend([a as f32 * 2.0 - 1.0, noise]);
            text.extend([b as f32 * 2.0 - 1.0, 1.0 - noise]);
            labels.push((a ^ b) as i64);
        }
        (
            Tensor::from_data(TensorData::new(image, [32, 2]), dev),
            Tensor::from_data(TensorData::new(text, [32, 2]), dev),
            Tensor::from_data(TensorData::new(labels, [32]), dev),
        )
    }

    /// Trains `fusion` + a linear classifier on the XOR data; returns the training accuracy.
    fn train_xor<F: Module + burn::module::ModuleDisplay + Clone>(
        fusion: F,
        forward: impl Fn(&F, Tensor<2>, Tensor<2>) -> Tensor<2>,
        width: usize,
        dev: &Device,
    ) -> f32 {
        #[derive(Module, Debug)]
        struct Probe<F: Module + burn::module::ModuleDisplay> {
            fusion: F,
            head: Linear,
        }
        let (image, text, labels) = xor_data(dev);
        let mut model = Probe {
            fusion,
            head: LinearConfig::new(width, 2).init(dev),
        };
        let mut optim = AdamConfig::new().init();
        let logits = |m: &Probe<F>| {
            m.head
                .forward(forward(&m.fusion, image.clone(), text.clone()))
        };
        for _ in 0..300 {
            let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                .init(dev)
                .forward(logits(&model), labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-2, model, grads);
        }
        let predicted = logits(&model).argmax(1).squeeze_dim::<1>(1);
        let correct = predicted.equal(labels).int().sum().into_scalar::<i64>();
        correct as f32 / 32.0
    }

    #[test]
    fn every_fusion_learns_a_label_that_needs_both_modalities() {
        let dev = device().autodiff();
        dev.seed(4);
        let concat = ConcatFusionConfig::new(2, 2, 8).init(&dev);
        let gated = GatedFusionConfig::new(2, 2, 8).init(&dev);
        let bilinear = BilinearFusionConfig::new(2, 2, 8, 8).init(&dev);
        let accuracy = [
            train_xor(concat, |f, v, t| f.forward(v, t), 8, &dev),
            train_xor(gated, |f, v, t| f.forward(v, t), 8, &dev),
            train_xor(bilinear, |f, v, t| f.forward(v, t), 8, &dev),
        ];
        assert!(accuracy.iter().all(|&a| a == 1.0), "{accuracy:?}");
    }
}
