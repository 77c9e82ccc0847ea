//! The paper's FCN (Long, Shelhamer & Darrell, "Fully convolutional networks for semantic
//! segmentation", CVPR 2015): VGG-16 made fully convolutional, its classifier turned into
//! `fc6` (7×7 convolution) and `fc7` (1×1), class scores at stride 32, and skips from `pool4`
//! (FCN-16s) and `pool3` (FCN-8s) fused by learned ×2 up-convolutions initialised to bilinear
//! interpolation.
//!
//! ```text
//! [B,C,H,W] → VGG blocks 1–3 → pool3 (H/8) ──────────────── score_pool3 ──┐
//!           → block 4        → pool4 (H/16) ─ score_pool4 ──┐             │
//!           → block 5        → pool5 (H/32) → fc6 → fc7 → score_fr        │
//!   FCN-32s: score_fr ─────────────────────── ×32 ─────────────────────── → [B,K,H,W]
//!   FCN-16s: score_fr ×2 + score_pool4 ────── ×16 ───────────────────────
//!   FCN-8s:  (score_fr ×2 + score_pool4) ×2 + score_pool3 ── ×8 ─────────
//! ```
//!
//! Two departures from the Caffe models, both for inputs of any size without the crops: the
//! paper pads `conv1_1` by 100 pixels and crops every fused map back into place; here `fc6`
//! is padded by 3 instead (every map keeps its stride-aligned size), and where a side is not a
//! multiple of 32 the upsampled map is resized bilinearly to its skip's size. The final
//! upsampling is the paper's fixed bilinear one (an interpolation, not a learned layer). The
//! trunk keeps torchvision's `features.N` indices, so ImageNet VGG weights load into it.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::resize_bilinear;
use crate::classify::zoo::FeatureLayer;
use crate::{VggCfg, VggConfig};

/// How many skips the decoder fuses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum FcnStride {
    /// Class scores of `pool5` only, upsampled ×32.
    S32,
    /// Plus `pool4`, upsampled ×16.
    S16,
    /// Plus `pool3`, upsampled ×8 (the paper's best).
    S8,
}

/// Configuration of [`FcnVgg`].
#[derive(Config, Debug)]
pub struct FcnVggConfig {
    /// The VGG trunk (its classifier settings are unused; `hidden` is `fc6`/`fc7`'s width).
    pub vgg: VggConfig,
    /// Output classes (21 for PASCAL VOC).
    pub num_classes: usize,
    /// FCN-32s, 16s or 8s.
    #[config(default = "FcnStride::S8")]
    pub stride: FcnStride,
}

impl FcnVggConfig {
    /// The paper's FCN on VGG-16: `fc6`/`fc7` 4096 wide, dropout 0.5.
    pub fn vgg16(num_classes: usize, stride: FcnStride) -> Self {
        Self::new(VggConfig::new(VggCfg::D, num_classes), num_classes).with_stride(stride)
    }

    /// Builds the model on `device`: the trunk initialised as [`VggConfig::init`], the score
    /// layers at zero (as the paper's solver files do), the ×2 up-convolutions at bilinear
    /// interpolation.
    pub fn init(&self, device: &Device) -> FcnVgg {
        // The decoder taps all five pools: the small-input variant's missing fifth is restored.
        let vgg = self.vgg.clone().with_last_max_pool(true).init(device);
        let pools: Vec<usize> = vgg
            .features
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, FeatureLayer::MaxPool(_)))
            .map(|(i, _)| i + 1)
            .collect();
        let trunk_channels = 8 * self.vgg.base_channels;
        let hidden = self.vgg.hidden;
        let k = self.num_classes;
        let conv = |c_in, c_out, kernel: usize| {
            Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        // The score layers start at zero, as in the paper's solver files (weight and bias: burn
        // draws the bias with the weight's initialiser).
        let score = |c_in| {
            Conv2dConfig::new([c_in, k], [1, 1])
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        let up2 = || bilinear_up2(k, device);
        let fuses = match self.stride {
            FcnStride::S32 => 0,
            FcnStride::S16 => 1,
            FcnStride::S8 => 2,
        };
        FcnVgg {
            features: vgg.features,
            pool_ends: [pools[2], pools[3], pools[4]],
            fc6: conv(trunk_channels, hidden, 7),
            fc7: conv(hidden, hidden, 1),
            relu: Relu::new(),
            dropout: DropoutConfig::new(self.vgg.dropout).init(),
            score_fr: score(hidden),
            score_pool4: (fuses >= 1).then(|| score(8 * self.vgg.base_channels)),
            score_pool3: (fuses >= 2).then(|| score(4 * self.vgg.base_channels)),
            upscore2: (fuses >= 1).then(up2),
            upscore_pool4: (fuses >= 2).then(up2),
        }
    }
}

/// The 1-D weights of a bilinear up-sampling kernel of `size` taps (Caffe's / the paper's
/// `upsample_filt`): factor `f = ⌈size/2⌉`, `1 − |i − c| / f` with `c = (2f − 1 − f mod 2) / (2f)·f`.
pub fn bilinear_taps(size: usize) -> Vec<f32> {
    let factor = size.div_ceil(2) as f32;
    let center = if size % 2 == 1 {
        factor - 1.0
    } else {
        factor - 0.5
    };
    (0..size)
        .map(|i| 1.0 - (i as f32 - center).abs() / factor)
        .collect()
}

/// A ×2 up-convolution (kernel 4, stride 2, padding 1, no bias) over `channels` maps, each
/// channel interpolating only itself bilinearly: exactly ×2 in size, and `[1, 2] → [1, 1.25,
/// 1.75, 2]`-like values inside the map.
fn bilinear_up2(channels: usize, device: &Device) -> ConvTranspose2d {
    let mut up = ConvTranspose2dConfig::new([channels, channels], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_bias(false)
        .init(device);
    let taps = bilinear_taps(4);
    let mut weight = vec![0f32; channels * channels * 16];
    for c in 0..channels {
        for (y, ty) in taps.iter().enumerate() {
            for (x, tx) in taps.iter().enumerate() {
                weight[((c * channels + c) * 4 + y) * 4 + x] = ty * tx;
            }
        }
    }
    let shape = [channels, channels, 4, 4];
    up.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weight, shape), device));
    up
}

/// FCN-32s/16s/8s on a VGG trunk.
#[derive(Module, Debug)]
pub struct FcnVgg {
    /// VGG's convolutional trunk, at torchvision's indices.
    pub features: Vec<FeatureLayer>,
    /// The layer counts of `features` up to and including `pool3`, `pool4` and `pool5`.
    pool_ends: [usize; 3],
    /// `fc6` as a 7×7 convolution.
    pub fc6: Conv2d,
    /// `fc7` as a 1×1 convolution.
    pub fc7: Conv2d,
    relu: Relu,
    dropout: Dropout,
    /// Class scores of `fc7`.
    pub score_fr: Conv2d,
    /// Class scores of `pool4` (FCN-16s and 8s).
    pub score_pool4: Option<Conv2d>,
    /// Class scores of `pool3` (FCN-8s).
    pub score_pool3: Option<Conv2d>,
    /// ×2 up-convolution of the `fc7` scores (FCN-16s and 8s).
    pub upscore2: Option<ConvTranspose2d>,
    /// ×2 up-convolution of the fused `pool4` scores (FCN-8s).
    pub upscore_pool4: Option<ConvTranspose2d>,
}

impl FcnVgg {
    /// # Shapes
    /// - images: `[B, C, H, W]` (any size of at least 32 × 32)
    /// - output: `[B, num_classes, H, W]` logits
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = images.dims();
        let [p3, p4, p5] = self.pool_ends;
        let run = |layers: &[FeatureLayer], x| crate::classify::zoo::run_features(layers, x);
        let pool3 = run(&self.features[..p3], images); // [B, 4w, H/8, W/8]
        let pool4 = run(&self.features[p3..p4], pool3.clone()); // [B, 8w, H/16, W/16]
        let pool5 = run(&self.features[p4..p5], pool4.clone()); // [B, 8w, H/32, W/32]
        let x = self
            .dropout
            .forward(self.relu.forward(self.fc6.forward(pool5)));
        let x = self.dropout.forward(self.relu.forward(self.fc7.forward(x)));
        let mut scores = self.score_fr.forward(x); // [B, K, H/32, W/32]
        let skips = [
            (&self.upscore2, &self.score_pool4, pool4),
            (&self.upscore_pool4, &self.score_pool3, pool3),
        ];
        for (up, score, skip) in skips {
            let (Some(up), Some(score)) = (up, score) else {
                break;
            };
            let skip = score.forward(skip); // [B, K, h, w] of the skip
            let [_, _, sh, sw] = skip.dims();
            scores = resize_bilinear(up.forward(scores), [sh, sw]) + skip;
        }
        resize_bilinear(scores, [h, w])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    #[test]
    fn bilinear_taps_are_caffes() {
        // upsample_filt(4) = [0.25, 0.75, 0.75, 0.25]; upsample_filt(3) = [0.5, 1, 0.5].
        assert_eq!(bilinear_taps(4), [0.25, 0.75, 0.75, 0.25]);
        assert_eq!(bilinear_taps(3), [0.5, 1.0, 0.5]);
        assert_eq!(bilinear_taps(16)[7], 1.0 - 0.5 / 8.0);
    }

    #[test]
    fn the_up_convolution_starts_as_bilinear_interpolation() {
        let device = Device::flex();
        // Two channels, each its own ramp: the up-convolution must not mix them.
        let x = Tensor::<4>::from_data(
            [[[[1.0, 2.0, 3.0, 4.0]], [[-4.0, -3.0, -2.0, -1.0]]]],
            &device,
        )
        .repeat_dim(2, 4); // [1, 2, 4, 4]
        let y = bilinear_up2(2, &device).forward(x.clone());
        assert_eq!(y.dims(), [1, 2, 8, 8]);
        // Inside the map (away from the zero-padded border) it equals align_corners=false
        // bilinear interpolation.
        let reference = resize_bilinear(x, [8, 8]);
        y.slice([0..1, 0..2, 2..6, 1..7])
            .to_data()
            .assert_approx_eq::<f32>(
                &reference.slice([0..1, 0..2, 2..6, 1..7]).to_data(),
                Tolerance::rel_abs(1e-5, 1e-6),
            );
    }

    /// Parameters of the paper's VGG-16 FCNs at 21 classes, by the layer sizes: the VGG-16
    /// trunk (14 714 688), fc6 512·49·4096 + 4096, fc7 4096² + 4096, score_fr 4096·21 + 21,
    /// score_pool4 512·21 + 21, score_pool3 256·21 + 21, two 21·21·16 up-convolutions.
    #[test]
    fn paper_parameter_counts() {
        let device = Device::flex();
        let count =
            |stride| crate::trainable_params(&FcnVggConfig::vgg16(21, stride).init(&device));
        let fc32 = 14_714_688 + (512 * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 21 + 21);
        assert_eq!(count(FcnStride::S32), fc32);
        let fc16 = fc32 + (512 * 21 + 21) + 21 * 21 * 16;
        assert_eq!(count(FcnStride::S16), fc16);
        assert_eq!(count(FcnStride::S8), fc16 + (256 * 21 + 21) + 21 * 21 * 16);
    }

    fn small(stride: FcnStride, device: &Device) -> FcnVgg {
        let vgg = VggConfig::new(VggCfg::A, 5)
            .with_in_channels(1)
            .with_base_channels(4)
            .with_hidden(8);
        FcnVggConfig::new(vgg, 5).with_stride(stride).init(device)
    }

    #[test]
    fn any_input_size_gives_logits_at_that_size() {
        let device = Device::flex();
        for stride in [FcnStride::S32, FcnStride::S16, FcnStride::S8] {
            let model = small(stride, &device);
            for [h, w] in [[64, 64], [48, 80], [37, 50]] {
                let out = model.forward(Tensor::zeros([2, 1, h, w], &device));
                assert_eq!(out.dims(), [2, 5, h, w], "{stride:?} {h}×{w}");
            }
        }
    }

    #[test]
    fn the_gradient_reaches_every_skip_and_the_trunk() {
        let device = Device::flex().autodiff();
        let model = small(FcnStride::S8, &device);
        let x = Tensor::<4>::random(
            [2, 1, 64, 64],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        // The score layers start at zero (the paper's solver files): at the first step only
        // they get a gradient, and nothing flows back into the trunk or the up-convolutions.
        let loss = (model.forward(x) - 1.0).powf_scalar(2.0).mean();
        let grads = loss.backward();
        let norm = |p: &Param<Tensor<4>>| {
            p.grad(&grads)
                .map_or(0.0, |g| g.abs().sum().into_scalar::<f32>())
        };
        assert!(norm(&model.score_pool3.as_ref().unwrap().weight) > 0.0);
        assert!(norm(&model.score_pool4.as_ref().unwrap().weight) > 0.0);
        assert!(norm(&model.score_fr.weight) > 0.0);
        assert_eq!(norm(&model.fc6.weight), 0.0);
        assert_eq!(norm(&model.upscore2.as_ref().unwrap().weight), 0.0);
    }
}
