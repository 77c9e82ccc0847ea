//! Feature pyramid network (Lin, Dollár, Girshick, He, Hariharan & Belongie, "Feature pyramid
//! networks for object detection", CVPR 2017) over a ResNet, as torchvision builds it for Faster
//! R-CNN (`resnet_fpn_backbone`: `BackboneWithFPN` = `IntermediateLayerGetter` over layer1–4 +
//! `FeaturePyramidNetwork` + `LastLevelMaxPool`).
//!
//! ```text
//! C2..C5 = layer1..layer4 (256, 512, 1024, 2048 ch @ /4, /8, /16, /32 for ResNet-50)
//! P5 = 3×3(1×1(C5));  inner_i = 1×1(C_i) + nearest_up(inner_{i+1});  P_i = 3×3(inner_i)
//! pool = P5 subsampled by 2 (max-pool kernel 1, stride 2)
//! ```
//! All five outputs have `out_channels` (torchvision: 256) channels.
//!
//! # Frozen batch norm
//! torchvision's detection backbones use `FrozenBatchNorm2d`: the ImageNet statistics and affine
//! parameters are constants, whatever the mode. [`BackboneWithFpn::freeze_batch_norms`] gives the
//! zoo [`ResNet`]'s `BatchNorm`s the same meaning: frozen, they normalise with the running
//! statistics even on an autodiff device and get no gradient. (On a plain device every
//! `BatchNorm` already runs that way.) torchvision also freezes `conv1` and `layer1` by default
//! (`trainable_backbone_layers = 3`), which [`BackboneWithFpn::freeze_stages`] reproduces.
//!
//! # torchvision keys
//! `backbone.body.*` are the ResNet's own keys (no `fc`: the getter drops it), and
//! `backbone.fpn.inner_blocks.<i>.weight`, `backbone.fpn.layer_blocks.<i>.weight` (torchvision
//! ≥ 0.13 stores them one level deeper, `inner_blocks.<i>.0.weight`, which
//! [`load_torchvision_faster_rcnn`](super::faster_rcnn::load_torchvision_faster_rcnn) maps).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Initializer};
use burn::prelude::*;
use burn::tensor::module::{interpolate, max_pool2d};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, MaxPoolOptions};

use crate::classify::zoo::resnet::ResidualBlock;
use crate::classify::zoo::{conv_config, conv2d};
use crate::{ResNet, ResNetConfig};

/// Configuration of [`FeaturePyramidNetwork`].
#[derive(Config, Debug)]
pub struct FeaturePyramidNetworkConfig {
    /// Channels of each input level, finest first (ResNet-50: `[256, 512, 1024, 2048]`).
    pub in_channels: Vec<usize>,
    /// Channels of every output level (torchvision: 256).
    pub out_channels: usize,
}

impl FeaturePyramidNetworkConfig {
    /// Builds the module, initialised as torchvision: weights Kaiming-uniform with `a = 1`
    /// (`U(±√(3/fan_in))`), biases zero.
    pub fn init(&self, device: &Device) -> FeaturePyramidNetwork {
        let conv = |channels: [usize; 2], kernel: usize| {
            let mut conv = conv_config(channels, kernel, 1, kernel / 2)
                .with_initializer(Initializer::KaimingUniform {
                    gain: 1.0,
                    fan_out_only: false,
                })
                .init(device);
            conv.bias = Some(Param::from_tensor(Tensor::zeros([channels[1]], device)));
            conv
        };
        let out = self.out_channels;
        FeaturePyramidNetwork {
            inner_blocks: self
                .in_channels
                .iter()
                .map(|&c| conv([c, out], 1))
                .collect(),
            layer_blocks: self
                .in_channels
                .iter()
                .map(|_| conv([out, out], 3))
                .collect(),
        }
    }
}

/// torchvision's `FeaturePyramidNetwork` with `LastLevelMaxPool`.
#[derive(Module, Debug)]
pub struct FeaturePyramidNetwork {
    /// Lateral 1×1 convolutions, weight `[out, in_i, 1, 1]`, with bias.
    pub inner_blocks: Vec<Conv2d>,
    /// Output 3×3 convolutions (padding 1), weight `[out, out, 3, 3]`, with bias.
    pub layer_blocks: Vec<Conv2d>,
}

impl FeaturePyramidNetwork {
    /// # Shapes
    /// - features: `L` maps `[B, in_i, H_i, W_i]`, finest first, each level half the previous
    /// - output: `L + 1` maps `[B, out, H_i, W_i]`, the last (`pool`) `[B, out, ⌈H_L/2⌉, ⌈W_L/2⌉]`
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Vec<Tensor<4>> {
        let levels = features.len();
        let mut results = Vec::with_capacity(levels + 1);
        let mut last_inner = conv2d(&self.inner_blocks[levels - 1], features[levels - 1].clone());
        results.push(self.layer_blocks[levels - 1].forward(last_inner.clone()));
        for idx in (0..levels - 1).rev() {
            let lateral = conv2d(&self.inner_blocks[idx], features[idx].clone());
            let [_, _, h, w] = lateral.dims();
            // F.interpolate(mode="nearest"): exact 2× here, since the transform pads to 32
            let top_down = interpolate(
                last_inner,
                InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]),
            );
            last_inner = lateral + top_down;
            results.push(self.layer_blocks[idx].forward(last_inner.clone()));
        }
        results.reverse();
        let coarsest = results[levels - 1].clone();
        results.push(max_pool2d(
            coarsest,
            MaxPoolOptions::new([1, 1]).with_stride([2, 2]),
        ));
        results
    }
}

/// Configuration of [`BackboneWithFpn`].
#[derive(Config, Debug)]
pub struct BackboneWithFpnConfig {
    /// The ResNet (its `num_classes` is irrelevant: `fc` is not run).
    pub body: ResNetConfig,
    /// FPN width (torchvision: 256).
    #[config(default = 256)]
    pub out_channels: usize,
    /// `Some(true)`: the ResNet's batch norms are ordinary `BatchNorm`s, which learn and use
    /// the batch's statistics in training (for a backbone trained from scratch, as the
    /// `digits-faster-rcnn` recipe does); `None` (what configurations written before this
    /// setting read as) or `Some(false)`: frozen, as torchvision's `FrozenBatchNorm2d` for
    /// imported weights.
    pub trainable_batch_norm: Option<bool>,
}

impl BackboneWithFpnConfig {
    /// Channels of layer1..layer4.
    pub fn stage_channels(&self) -> Vec<usize> {
        let first = self.body.base_channels * self.body.block.expansion();
        (0..4).map(|i| first << i).collect()
    }

    /// Builds the backbone; the ResNet's batch norms are frozen (see the module docs) unless
    /// `trainable_batch_norm` is `Some(true)`.
    pub fn init(&self, device: &Device) -> BackboneWithFpn {
        let backbone = BackboneWithFpn {
            body: self.body.init(device),
            fpn: FeaturePyramidNetworkConfig::new(self.stage_channels(), self.out_channels)
                .init(device),
        };
        if self.trainable_batch_norm == Some(true) {
            backbone
        } else {
            backbone.freeze_batch_norms()
        }
    }
}

/// torchvision's `BackboneWithFPN` over a ResNet: layer1–4 → FPN → five maps `'0'..'3', 'pool'`.
#[derive(Module, Debug)]
pub struct BackboneWithFpn {
    /// The ResNet; its `fc` is never run (torchvision's files have no `backbone.body.fc`).
    pub body: ResNet,
    /// The pyramid.
    pub fpn: FeaturePyramidNetwork,
}

impl BackboneWithFpn {
    /// # Shapes
    /// - images: `[B, 3, H, W]`, `H` and `W` multiples of 32
    /// - output: 5 maps `[B, out, H/s, W/s]`, `s = 4, 8, 16, 32, 64`
    pub fn forward(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        self.fpn.forward(self.body.stages(images).to_vec())
    }

    /// Every `BatchNorm` of the ResNet frozen: running statistics in every mode, no gradients
    /// (torchvision's `FrozenBatchNorm2d`).
    pub fn freeze_batch_norms(mut self) -> Self {
        self.body.bn1 = self.body.bn1.freeze();
        for stage in [
            &mut self.body.layer1,
            &mut self.body.layer2,
            &mut self.body.layer3,
            &mut self.body.layer4,
        ] {
            let blocks = std::mem::take(stage);
            *stage = blocks.into_iter().map(freeze_block_norms).collect();
        }
        self
    }

    /// Freezes the stem and the first `5 − trainable` stages, as torchvision's
    /// `trainable_backbone_layers` (0–5; its default 3 trains layer2–layer4 only).
    pub fn freeze_stages(mut self, trainable: usize) -> Self {
        let frozen = 5usize.saturating_sub(trainable);
        if frozen >= 1 {
            self.body.conv1 = self.body.conv1.freeze();
        }
        for (i, stage) in [
            &mut self.body.layer1,
            &mut self.body.layer2,
            &mut self.body.layer3,
            &mut self.body.layer4,
        ]
        .into_iter()
        .enumerate()
        {
            if frozen >= i + 2 {
                let blocks = std::mem::take(stage);
                *stage = blocks.into_iter().map(|b| b.freeze()).collect();
            }
        }
        self
    }
}

fn freeze_block_norms(block: ResidualBlock) -> ResidualBlock {
    let freeze_projection =
        |d: Option<(Conv2d, BatchNorm)>| d.map(|(conv, bn)| (conv, bn.freeze()));
    match block {
        ResidualBlock::Basic(mut b) => {
            b.bn1 = b.bn1.freeze();
            b.bn2 = b.bn2.freeze();
            b.downsample = freeze_projection(b.downsample);
            ResidualBlock::Basic(b)
        }
        ResidualBlock::Bottleneck(mut b) => {
            b.bn1 = b.bn1.freeze();
            b.bn2 = b.bn2.freeze();
            b.bn3 = b.bn3.freeze();
            b.downsample = freeze_projection(b.downsample);
            ResidualBlock::Bottleneck(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;

    fn tiny() -> BackboneWithFpnConfig {
        BackboneWithFpnConfig::new(
            ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1).with_base_channels(4),
        )
        .with_out_channels(8)
    }

    #[test]
    fn five_levels_at_strides_4_to_64() {
        let device = Device::flex();
        let backbone = tiny().init(&device);
        let maps = backbone.forward(Tensor::zeros([2, 3, 96, 64], &device));
        let dims: Vec<[usize; 4]> = maps.iter().map(|m| m.dims()).collect();
        assert_eq!(
            dims,
            [
                [2, 8, 24, 16],
                [2, 8, 12, 8],
                [2, 8, 6, 4],
                [2, 8, 3, 2],
                [2, 8, 2, 1]
            ]
        );
    }

    #[test]
    fn trainable_batch_norm_learns_and_uses_the_batch_statistics() {
        // Constant images: in training a trainable BN normalises every channel of the stem to
        // its β (0), so the pyramid's output cannot depend on the images' value.
        let device = Device::flex().autodiff();
        let config = tiny().with_trainable_batch_norm(Some(true));
        let backbone = config.init(&device);
        let frozen = tiny().init(&device);
        let change = |backbone: &BackboneWithFpn| {
            let forward = |v: f32| {
                let maps = backbone.forward(Tensor::<4>::ones([2, 3, 64, 64], &device) * v);
                maps[0].clone().into_data().try_to_vec::<f32>().unwrap()
            };
            let (a, b) = (forward(3.0), forward(9.0));
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max)
        };
        // (not exactly 0: BN's ε = 1e-5 in the variance)
        let (trainable, fixed) = (change(&backbone), change(&frozen));
        assert!(
            trainable < 1e-3 && fixed > 100.0 * trainable,
            "{trainable} vs {fixed}"
        );
        // and its γ gets a gradient
        let loss = backbone.forward(Tensor::<4>::random(
            [2, 3, 64, 64],
            burn::tensor::Distribution::Default,
            &device,
        ))[0]
            .clone()
            .powi_scalar(2)
            .mean();
        let grads = loss.backward();
        assert!(backbone.body.bn1.gamma.val().grad(&grads).is_some());
        // frozen (the default, and what an older run.json without the field reads as)
        let json = serde_json::to_string(&tiny()).unwrap();
        let without = json.replace(",\"trainable_batch_norm\":null", "");
        assert!(without.len() < json.len(), "{json}");
        let old: BackboneWithFpnConfig = serde_json::from_str(&without).unwrap();
        assert_eq!(old.trainable_batch_norm, None);
        let frozen = old.init(&device);
        let loss = frozen.forward(Tensor::<4>::ones([1, 3, 64, 64], &device))[0]
            .clone()
            .mean();
        assert!(frozen.body.bn1.gamma.val().grad(&loss.backward()).is_none());
    }

    #[test]
    fn frozen_batch_norm_uses_running_statistics_on_an_autodiff_device() {
        // A batch of constant images: a training-mode BN would normalise every channel to β.
        let device = Device::flex().autodiff();
        let backbone = tiny().init(&device);
        let x = Tensor::<4>::ones([2, 3, 64, 64], &device);
        let train_path = backbone.forward(x.clone())[0].clone();
        let plain = tiny().init(&Device::flex());
        let plain = plain.load_record(backbone.clone().into_record());
        let eval_path = plain.forward(Tensor::ones([2, 3, 64, 64], &Device::flex()))[0].clone();
        let a: Vec<f32> = train_path.into_data().try_into_vec().unwrap();
        let b: Vec<f32> = eval_path.into_data().try_into_vec().unwrap();
        let d = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-6, "{d}");
    }
}
