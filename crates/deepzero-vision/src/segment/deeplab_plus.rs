//! DeepLab v3+ (Chen, Zhu, Papandreou, Schroff & Adam, "Encoder-decoder with atrous separable
//! convolution for semantic image segmentation", ECCV 2018, §3.1): DeepLab v3's atrous ResNet and
//! ASPP as the encoder, plus a small decoder that brings back the detail of an early stage.
//!
//! DeepLab v3 predicts at the output stride and upsamples the logits bilinearly, so a boundary
//! can only be as sharp as that grid: on the digit scenes (strokes 2–3 px wide, output stride 4)
//! its masks spill over the strokes' edges. The decoder upsamples the ASPP features to
//! `layer1`'s resolution, concatenates them with a 1×1 projection of `layer1` (few channels, so
//! that the low-level features do not outweigh the context), refines with two 3×3 convolutions
//! and only then classifies.
//!
//! ```text
//! [B,C,H,W] → ResNet (dilated) ─ layer4 → ASPP → a ─ bilinear to layer1's size ─┐
//!                              └ layer1 → 1×1 conv, BN, ReLU → low channels ────┴ cat
//!           → [3×3 conv, BN, ReLU] × 2 → 1×1 conv → classes → bilinear → [B, classes, H, W]
//! ```
//!
//! The paper also makes the ResNet's and the decoder's convolutions depthwise-separable
//! (Xception); that saves computation, not accuracy, and is left out: the backbone is the
//! zoo's [`ResNet`], as in DeepLab v3. torchvision has no v3+, so there are no weights to import.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

use super::heads::{Aspp, BranchLayer, conv_bn_relu, run};
use super::resize_bilinear;
use crate::{ResNet, ResNetConfig};

/// Configuration of [`DeepLabV3Plus`].
#[derive(Config, Debug)]
pub struct DeepLabV3PlusConfig {
    /// The backbone, usually [`ResNetConfig::dilated`] (its `num_classes` is irrelevant: `fc`
    /// is not run).
    pub backbone: ResNetConfig,
    /// Output classes.
    pub num_classes: usize,
    /// ASPP's dilation rates (the paper: 6, 12, 18 at output stride 16).
    #[config(default = "vec![6, 12, 18]")]
    pub atrous_rates: Vec<usize>,
    /// Channels of ASPP and of the decoder's 3×3 convolutions (the paper: 256).
    #[config(default = 256)]
    pub aspp_channels: usize,
    /// Channels the 1×1 convolution reduces `layer1` to (the paper: 48).
    #[config(default = 48)]
    pub low_level_channels: usize,
}

impl DeepLabV3PlusConfig {
    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> DeepLabV3Plus {
        let expansion = self.backbone.block.expansion();
        let layer1 = self.backbone.base_channels * expansion;
        let layer4 = 8 * layer1;
        let [aspp, low] = [self.aspp_channels, self.low_level_channels];
        let mut decoder = conv_bn_relu([aspp + low, aspp], 3, 1, device);
        decoder.extend(conv_bn_relu([aspp, aspp], 3, 1, device));
        DeepLabV3Plus {
            backbone: self.backbone.init(device),
            aspp: Aspp::new(layer4, &self.atrous_rates, aspp, device),
            low_level: conv_bn_relu([layer1, low], 1, 1, device),
            decoder,
            classifier: Conv2dConfig::new([aspp, self.num_classes], [1, 1]).init(device),
        }
    }
}

/// DeepLab v3+: atrous ResNet + ASPP encoder, decoder at `layer1`'s resolution.
#[derive(Module, Debug)]
pub struct DeepLabV3Plus {
    /// The (usually dilated) ResNet; its `fc` is unused.
    pub backbone: ResNet,
    /// Atrous spatial pyramid pooling on `layer4`.
    pub aspp: Aspp,
    /// `[1×1 conv layer1 → low, BN, ReLU]`.
    pub low_level: Vec<BranchLayer>,
    /// `[3×3 conv, BN, ReLU] × 2` on the concatenated features.
    pub decoder: Vec<BranchLayer>,
    /// The final 1×1 convolution to class logits.
    pub classifier: Conv2d,
}

impl DeepLabV3Plus {
    /// # Shapes
    /// - images: `[B, C, H, W]`
    /// - output: `[B, classes, H, W]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = images.dims();
        let [layer1, _, _, layer4] = self.backbone.stages(images);
        let [_, _, h1, w1] = layer1.dims();
        let context = resize_bilinear(self.aspp.forward(layer4), [h1, w1]); // [B, aspp, h1, w1]
        let detail = run(&self.low_level, layer1); // [B, low, h1, w1]
        let features = run(&self.decoder, Tensor::cat(vec![context, detail], 1)); // [B, aspp, h1, w1]
        resize_bilinear(self.classifier.forward(features), [h, w])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;
    use burn::tensor::Distribution;

    fn small(device: &Device) -> DeepLabV3Plus {
        let backbone = ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1)
            .with_base_channels(2)
            .with_stem_kernel(3)
            .with_stem_max_pool(false)
            .dilated();
        DeepLabV3PlusConfig::new(backbone, 3)
            .with_aspp_channels(8)
            .with_low_level_channels(4)
            .with_atrous_rates(vec![1, 2, 3])
            .init(device)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        let model = small(&device);
        let out = model.forward(Tensor::zeros([2, 3, 40, 24], &device));
        assert_eq!(out.dims(), [2, 3, 40, 24]);
        // The decoder on top of the ResNet: 1×1 layer1 (8 → 4) + BN, 3×3 (8+4 → 8) + BN,
        // 3×3 (8 → 8) + BN, 1×1 classifier (8 → 3, bias). ASPP on layer4 (64 channels): four
        // conv branches and the pooled one, projection 40 → 8.
        let decoder = (8 * 4 + 2 * 4) + (12 * 8 * 9 + 2 * 8) + (8 * 8 * 9 + 2 * 8) + (8 * 3 + 3);
        let aspp = (64 * 8 + 16) + 3 * (64 * 8 * 9 + 16) + (64 * 8 + 16) + (40 * 8 + 16);
        let backbone = crate::trainable_params(&model.backbone);
        assert_eq!(crate::trainable_params(&model), backbone + aspp + decoder);
    }

    /// The decoder is wired in: the loss reaches the stem, the `layer1` projection that only
    /// the decoder reads, and the classifier.
    #[test]
    fn every_part_gets_a_gradient() {
        let device = Device::flex().autodiff();
        let model = small(&device);
        let images = Tensor::<4>::random([1, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
        let grads = model.forward(images).powi_scalar(2).mean().backward();
        for (name, weight) in [
            ("backbone.conv1", &model.backbone.conv1.weight),
            ("low_level", &low_level_conv(&model).weight),
            ("classifier", &model.classifier.weight),
        ] {
            let grad = weight.val().grad(&grads).expect(name);
            assert!(grad.abs().sum().into_scalar::<f32>() > 0.0, "{name}");
        }
    }

    fn low_level_conv(model: &DeepLabV3Plus) -> &Conv2d {
        match &model.low_level[0] {
            BranchLayer::Conv(conv) => conv,
            other => panic!("layer 0 of low_level is {other:?}"),
        }
    }
}
