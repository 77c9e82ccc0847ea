//! ResNet (He, Zhang, Ren & Sun, "Deep residual learning for image recognition", CVPR 2016) as
//! torchvision builds it: "v1.5", with a bottleneck's stride on its 3×3 convolution rather than
//! on the first 1×1 (as in the paper and Caffe's v1), and projection shortcuts (`downsample` =
//! 1×1 conv + BN, the paper's option B) wherever the shape changes.
//!
//! ```text
//! [B,3,224,224] → conv 7×7/2 p3 → BN → ReLU → 64@112² → max 3/2 p1 → 64@56²
//!               → layer1 (64·e @56²) → layer2 (128·e @28²) → layer3 (256·e @14²)
//!               → layer4 (512·e @7²) → adaptive avg 1×1 → flatten → fc classes
//! ```
//! `e` (expansion) is 1 for [`BasicBlock`] (two 3×3 convolutions) and 4 for [`Bottleneck`]
//! (1×1 reduce → 3×3 → 1×1 expand). Stages 2–4 halve the resolution in their first block.
//!
//! | model | block | blocks per stage | parameters (1000 classes) |
//! |---|---|---|---|
//! | ResNet-18 | basic | 2-2-2-2 | 11 689 512 |
//! | ResNet-34 | basic | 3-4-6-3 | 21 797 672 |
//! | ResNet-50 | bottleneck | 3-4-6-3 | 25 557 032 |
//! | ResNet-101 | bottleneck | 3-4-23-3 | 44 549 160 |
//! | ResNet-152 | bottleneck | 3-8-36-3 | 60 192 808 |
//!
//! # Small-input variant ([`ResNetConfig::small_input`])
//! For 28–32 px images (the common CIFAR adaptation of these ImageNet nets): the stem is a 3×3
//! stride-1 convolution (padding 1) instead of 7×7 stride 2, and the max-pool is left out, so
//! `layer1` works at full resolution and `layer4` at 4×4. Everything else (and every key but
//! `conv1.weight`'s shape) is unchanged. For the ResNets that He et al. designed for CIFAR see
//! [`CifarResNet`](super::cifar_resnet::CifarResNet).
//!
//! # torchvision keys
//! Identical: `conv1`, `bn1`, `layer1.0.conv1`, …, `layer2.0.downsample.0` (conv) and
//! `layer2.0.downsample.1` (BN) — `downsample` is a `(Conv2d, BatchNorm)` tuple, which burn visits
//! under the indices 0 and 1 — and `fc`.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::{conv_config, conv2d, kaiming_normal_fan_out, projection};
use crate::classify::ImageClassifier;

/// Which residual block a [`ResNet`] stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3×3 convolutions (ResNet-18/34); expansion 1.
    Basic,
    /// 1×1 → 3×3 → 1×1 (ResNet-50/101/152); expansion 4.
    Bottleneck,
}

impl BlockKind {
    /// Output channels of a block over its `planes` (torchvision's `expansion`).
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// Configuration of [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// The residual block.
    pub block: BlockKind,
    /// Blocks in each of the four stages.
    pub layers: [usize; 4],
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Kernel size of the stem convolution `conv1` (padding `kernel / 2`).
    #[config(default = 7)]
    pub stem_kernel: usize,
    /// Stride of the stem convolution.
    #[config(default = 2)]
    pub stem_stride: usize,
    /// The 3×3 stride-2 max-pool after the stem.
    #[config(default = true)]
    pub stem_max_pool: bool,
    /// Channels of the stem and of `layer1`'s blocks; `layer2`–`layer4` use 2×, 4× and 8× this
    /// (torchvision: always 64). A smaller value gives the same keys with narrower tensors, as
    /// in the 4-channel ResNet-18 of the weight-import golden test.
    #[config(default = 64)]
    pub base_channels: usize,
    /// For `layer2`–`layer4`: replace the stage's stride 2 by a dilation of its 3×3
    /// convolutions (torchvision's `replace_stride_with_dilation`; bottleneck nets only). The
    /// segmentation backbones use `[false, true, true]`: output stride 8 instead of 32.
    #[config(default = "[false, false, false]")]
    pub replace_stride_with_dilation: [bool; 3],
}

impl ResNetConfig {
    /// ResNet-18: basic blocks 2-2-2-2.
    pub fn resnet18(num_classes: usize) -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2], num_classes)
    }
    /// ResNet-34: basic blocks 3-4-6-3.
    pub fn resnet34(num_classes: usize) -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3], num_classes)
    }
    /// ResNet-50: bottlenecks 3-4-6-3.
    pub fn resnet50(num_classes: usize) -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3], num_classes)
    }
    /// ResNet-101: bottlenecks 3-4-23-3.
    pub fn resnet101(num_classes: usize) -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3], num_classes)
    }
    /// ResNet-152: bottlenecks 3-8-36-3.
    pub fn resnet152(num_classes: usize) -> Self {
        Self::new(BlockKind::Bottleneck, [3, 8, 36, 3], num_classes)
    }

    /// torchvision's segmentation backbone: strides of `layer3` and `layer4` replaced by
    /// dilations 2 and 4 (output stride 8).
    pub fn dilated(self) -> Self {
        self.with_replace_stride_with_dilation([false, true, true])
    }

    /// The small-input variant for 28–32 px images (see the module docs): 3×3 stride-1 stem,
    /// no max-pool.
    pub fn small_input(self) -> Self {
        self.with_stem_kernel(3)
            .with_stem_stride(1)
            .with_stem_max_pool(false)
    }

    /// Builds the model with its parameters on `device`, initialised as torchvision does:
    /// convolutions Kaiming-normal (fan-out, ReLU gain), BN γ = 1, β = 0, `fc` PyTorch's default
    /// `U(±1/√fan_in)` (burn's default too).
    pub fn init(&self, device: &Device) -> ResNet {
        let expansion = self.block.expansion();
        let width = self.base_channels;
        let mut in_planes = width;
        // torchvision's `_make_layer`: a dilated stage keeps stride 1 and multiplies the
        // running dilation by 2; its first block still uses the previous dilation.
        let mut dilation = 1;
        let mut stage = |planes: usize, blocks: usize, stride: usize, dilate: bool| {
            let previous = dilation;
            let stride = if dilate {
                dilation *= stride;
                1
            } else {
                stride
            };
            (0..blocks)
                .map(|i| {
                    let (stride, dilation) = if i == 0 {
                        (stride, previous)
                    } else {
                        (1, dilation)
                    };
                    let block = match self.block {
                        BlockKind::Basic => {
                            ResidualBlock::Basic(BasicBlock::new(in_planes, planes, stride, device))
                        }
                        BlockKind::Bottleneck => ResidualBlock::Bottleneck(Bottleneck::new(
                            in_planes, planes, stride, dilation, device,
                        )),
                    };
                    in_planes = planes * expansion;
                    block
                })
                .collect::<Vec<_>>()
        };
        let [d2, d3, d4] = self.replace_stride_with_dilation;
        let layer1 = stage(width, self.layers[0], 1, false);
        let layer2 = stage(2 * width, self.layers[1], 2, d2);
        let layer3 = stage(4 * width, self.layers[2], 2, d3);
        let layer4 = stage(8 * width, self.layers[3], 2, d4);
        ResNet {
            conv1: conv_config(
                [self.in_channels, width],
                self.stem_kernel,
                self.stem_stride,
                self.stem_kernel / 2,
            )
            .with_bias(false)
            .with_initializer(kaiming_normal_fan_out())
            .init(device),
            bn1: BatchNormConfig::new(width).init(device),
            relu: Relu::new(),
            maxpool: self.stem_max_pool.then(|| {
                MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init()
            }),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(8 * width * expansion, self.num_classes).init(device),
        }
    }
}

/// A 3×3 convolution without bias (a BN follows), Kaiming-normal (fan-out) initialised.
fn conv3x3(channels: [usize; 2], stride: usize, device: &Device) -> Conv2d {
    conv3x3_dilated(channels, stride, 1, device)
}

/// A 3×3 convolution with `dilation` (and as much padding: the size is kept at stride 1).
fn conv3x3_dilated(
    channels: [usize; 2],
    stride: usize,
    dilation: usize,
    device: &Device,
) -> Conv2d {
    conv_config(channels, 3, stride, dilation)
        .with_dilation([dilation, dilation])
        .with_bias(false)
        .with_initializer(kaiming_normal_fan_out())
        .init(device)
}

/// A 1×1 convolution without bias.
fn conv1x1(channels: [usize; 2], device: &Device) -> Conv2d {
    conv_config(channels, 1, 1, 0)
        .with_bias(false)
        .with_initializer(kaiming_normal_fan_out())
        .init(device)
}

/// The shortcut a block needs: a projection when the shape changes, else `None` (identity).
fn downsample(
    in_planes: usize,
    out_planes: usize,
    stride: usize,
    device: &Device,
) -> Option<(Conv2d, BatchNorm)> {
    (stride != 1 || in_planes != out_planes).then(|| {
        projection(
            [in_planes, out_planes],
            stride,
            kaiming_normal_fan_out(),
            device,
        )
    })
}

/// Applies the shortcut: identity or `BN(conv1×1(x))`.
pub(crate) fn shortcut(downsample: &Option<(Conv2d, BatchNorm)>, x: Tensor<4>) -> Tensor<4> {
    match downsample {
        Some((conv, bn)) => bn.forward(conv.forward(x)),
        None => x,
    }
}

/// The basic residual block: `ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) + shortcut(x))`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// Weight `[planes, in_planes, 3, 3]`, stride 1 or 2.
    pub conv1: Conv2d,
    /// Over `planes` channels.
    pub bn1: BatchNorm,
    /// Weight `[planes, planes, 3, 3]`.
    pub conv2: Conv2d,
    /// Over `planes` channels.
    pub bn2: BatchNorm,
    /// Projection shortcut: conv `[planes, in_planes, 1, 1]` (`downsample.0`) and BN
    /// (`downsample.1`), where stride or width change.
    pub downsample: Option<(Conv2d, BatchNorm)>,
    relu: Relu,
}

impl BasicBlock {
    fn new(in_planes: usize, planes: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3([in_planes, planes], stride, device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv3x3([planes, planes], 1, device),
            bn2: BatchNormConfig::new(planes).init(device),
            downsample: downsample(in_planes, planes, stride, device),
            relu: Relu::new(),
        }
    }

    /// `[B, in_planes, H, W] → [B, planes, H/stride, W/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, x.clone());
        let out = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        self.relu.forward(out + identity)
    }
}

/// The bottleneck block (v1.5): `1×1 reduce → 3×3 (stride) → 1×1 expand ×4`, each followed by
/// BN, ReLU after the first two and after the residual sum.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// Weight `[planes, in_planes, 1, 1]`.
    pub conv1: Conv2d,
    /// Over `planes` channels.
    pub bn1: BatchNorm,
    /// Weight `[planes, planes, 3, 3]`, stride 1 or 2.
    pub conv2: Conv2d,
    /// Over `planes` channels.
    pub bn2: BatchNorm,
    /// Weight `[4·planes, planes, 1, 1]`.
    pub conv3: Conv2d,
    /// Over `4·planes` channels.
    pub bn3: BatchNorm,
    /// Projection shortcut: conv `[4·planes, in_planes, 1, 1]` (`downsample.0`) and BN
    /// (`downsample.1`), where stride or width change.
    pub downsample: Option<(Conv2d, BatchNorm)>,
    relu: Relu,
}

impl Bottleneck {
    fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        let out = planes * BlockKind::Bottleneck.expansion();
        Self {
            conv1: conv1x1([in_planes, planes], device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv3x3_dilated([planes, planes], stride, dilation, device),
            bn2: BatchNormConfig::new(planes).init(device),
            conv3: conv1x1([planes, out], device),
            bn3: BatchNormConfig::new(out).init(device),
            downsample: downsample(in_planes, out, stride, device),
            relu: Relu::new(),
        }
    }

    /// `[B, in_planes, H, W] → [B, 4·planes, H/stride, W/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, x.clone());
        let out = self.relu.forward(self.bn1.forward(conv2d(&self.conv1, x)));
        let out = self.relu.forward(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(conv2d(&self.conv3, out));
        self.relu.forward(out + identity)
    }
}

/// One block of a stage. burn-store skips the variant name, so the keys are
/// `layer1.0.conv1.weight` as in torchvision.
// A net stacks one kind only, so the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// ResNet-18/34.
    Basic(BasicBlock),
    /// ResNet-50/101/152.
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    /// `[B, C, H, W] → [B, C', H/stride, W/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            ResidualBlock::Basic(b) => b.forward(x),
            ResidualBlock::Bottleneck(b) => b.forward(x),
        }
    }
}

/// ResNet: stem, four stages of residual blocks, global average pool and a linear classifier.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution, weight `[64, C, 7, 7]` (`[64, C, 3, 3]` small-input), no bias.
    pub conv1: Conv2d,
    /// Over 64 channels.
    pub bn1: BatchNorm,
    relu: Relu,
    /// 3×3 stride-2 max-pool (absent in the small-input variant).
    pub maxpool: Option<MaxPool2d>,
    /// Stage 1: 64·e channels, stride 1.
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2: 128·e channels, first block stride 2.
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3: 256·e channels, first block stride 2.
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4: 512·e channels, first block stride 2.
    pub layer4: Vec<ResidualBlock>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier, weight `[512·e, num_classes]` (burn's `[in, out]` layout).
    pub fc: Linear,
}

impl ResNet {
    /// # Shapes
    /// - images: `[B, C, H, W]` (224×224 for the reference models, 28–32 for the small ones)
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self
            .relu
            .forward(self.bn1.forward(self.conv1.forward(images))); // [B, 64, H/2, W/2]
        if let Some(pool) = &self.maxpool {
            x = pool.forward(x); // [B, 64, H/4, W/4]
        }
        for block in [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
        {
            x = block.forward(x);
        } // [B, 512·e, H/32, W/32]
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3); // [B, 512·e]
        self.fc.forward(x)
    }
}

impl ResNet {
    /// The outputs of the four stages (no pooling, no classifier): what segmentation and
    /// detection heads read (torchvision's `IntermediateLayerGetter`).
    ///
    /// # Shapes
    /// - images: `[B, C, H, W]`
    /// - output: `[layer1, layer2, layer3, layer4]`, `[B, 64·e·2^i, H/s_i, W/s_i]` with
    ///   `s = 4, 8, 16, 32` (`4, 8, 8, 8` with [`ResNetConfig::dilated`])
    pub fn stages(&self, images: Tensor<4>) -> [Tensor<4>; 4] {
        let mut x = self
            .relu
            .forward(self.bn1.forward(self.conv1.forward(images)));
        if let Some(pool) = &self.maxpool {
            x = pool.forward(x);
        }
        let run = |x: Tensor<4>, stage: &[ResidualBlock]| stage.iter().fold(x, |x, b| b.forward(x));
        let c1 = run(x, &self.layer1);
        let c2 = run(c1.clone(), &self.layer2);
        let c3 = run(c2.clone(), &self.layer3);
        let c4 = run(c3.clone(), &self.layer4);
        [c1, c2, c3, c4]
    }
}

impl ImageClassifier for ResNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// ResNet-18 for 224×224 RGB images (torchvision's `resnet18`), 11.7 M parameters.
pub fn resnet18(num_classes: usize, device: &Device) -> ResNet {
    ResNetConfig::resnet18(num_classes).init(device)
}

/// ResNet-34 for 224×224 RGB images (torchvision's `resnet34`), 21.8 M parameters.
pub fn resnet34(num_classes: usize, device: &Device) -> ResNet {
    ResNetConfig::resnet34(num_classes).init(device)
}

/// ResNet-50 for 224×224 RGB images (torchvision's `resnet50`), 25.6 M parameters.
pub fn resnet50(num_classes: usize, device: &Device) -> ResNet {
    ResNetConfig::resnet50(num_classes).init(device)
}

/// ResNet-101 for 224×224 RGB images (torchvision's `resnet101`), 44.5 M parameters.
pub fn resnet101(num_classes: usize, device: &Device) -> ResNet {
    ResNetConfig::resnet101(num_classes).init(device)
}

/// ResNet-152 for 224×224 RGB images (torchvision's `resnet152`), 60.2 M parameters.
pub fn resnet152(num_classes: usize, device: &Device) -> ResNet {
    ResNetConfig::resnet152(num_classes).init(device)
}

#[cfg(test)]
mod tests {
    use super::super::tests::param_keys;
    use super::*;

    #[test]
    fn keys_follow_torchvision() {
        let device = Device::flex();
        let keys = param_keys(&resnet50(1000, &device));
        // torchvision: len(resnet50().state_dict()) is 320, of which 53 num_batches_tracked.
        assert_eq!(keys.len(), 320 - 53);
        for key in [
            "conv1.weight",
            "bn1.running_var",
            "layer1.0.conv3.weight",
            "layer1.0.downsample.0.weight",
            "layer1.0.downsample.1.bias",
            "layer3.5.bn3.running_mean",
            "layer4.2.conv2.weight",
            "fc.bias",
        ] {
            assert!(keys.contains(&key.to_string()), "{key}");
        }
        // ResNet-18's first stage keeps the width: no projection there.
        let keys = param_keys(&resnet18(1000, &device));
        assert!(!keys.iter().any(|k| k.starts_with("layer1.0.downsample")));
        assert!(keys.contains(&"layer2.0.downsample.0.weight".to_string()));
    }

    #[test]
    fn dilation_keeps_the_resolution_as_torchvision() {
        let device = Device::flex();
        let model = ResNetConfig::new(BlockKind::Bottleneck, [1, 2, 2, 2], 3)
            .with_base_channels(4)
            .dilated()
            .init(&device);
        let sides: Vec<usize> = model
            .stages(Tensor::zeros([1, 3, 64, 64], &device))
            .iter()
            .map(|t| t.dims()[2])
            .collect();
        assert_eq!(sides, [16, 8, 8, 8]);
        // torchvision: layer3's first block keeps dilation 1 (with stride 1), the others 2;
        // layer4's first 2, the others 4.
        let conv2 = |b: &ResidualBlock| match b {
            ResidualBlock::Bottleneck(b) => (b.conv2.stride, b.conv2.dilation),
            ResidualBlock::Basic(_) => unreachable!(),
        };
        assert_eq!(conv2(&model.layer2[0]), ([2, 2], [1, 1]));
        assert_eq!(conv2(&model.layer3[0]), ([1, 1], [1, 1]));
        assert_eq!(conv2(&model.layer3[1]), ([1, 1], [2, 2]));
        assert_eq!(conv2(&model.layer4[0]), ([1, 1], [2, 2]));
        assert_eq!(conv2(&model.layer4[1]), ([1, 1], [4, 4]));
    }

    #[test]
    fn stage_resolutions() {
        let device = Device::flex();
        let model = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1], 5)
            .with_in_channels(1)
            .small_input()
            .init(&device);
        let mut x = model.conv1.forward(Tensor::zeros([1, 1, 28, 28], &device));
        let mut sides = vec![];
        for stage in [&model.layer1, &model.layer2, &model.layer3, &model.layer4] {
            x = stage[0].forward(x);
            sides.push(x.dims()[2]);
        }
        assert_eq!(sides, [28, 14, 7, 4]);
        assert_eq!(
            model.forward(Tensor::zeros([2, 1, 28, 28], &device)).dims(),
            [2, 5]
        );
    }
}
