//! The CIFAR-10 ResNets of He, Zhang, Ren & Sun, "Deep residual learning for image
//! recognition" (CVPR 2016), §4.2: `6n + 2` weighted layers for 32×32 images.
//!
//! ```text
//! [B,3,32,32] → conv 3×3 → BN → ReLU → 16@32²
//!             → layer1: n basic blocks, 16@32² → layer2: n blocks, 32@16² → layer3: n blocks, 64@8²
//!             → global avg pool → fc classes
//! ```
//! A basic block is `ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) + shortcut(x))`. The first block of
//! `layer2` and `layer3` halves the resolution and doubles the width; the paper's **option A**
//! shortcut (the default here, as in the paper's CIFAR experiments) is parameter-free: the input
//! subsampled by 2 (`x[:, :, ::2, ::2]`) and zero-padded with `planes / 4` channels on each side.
//! **Option B** uses a projection (1×1 conv + BN, torchvision's `downsample`) there instead.
//!
//! | model | n | parameters, option A (10 classes) | option B |
//! |---|---|---|---|
//! | ResNet-20 | 3 | 269 722 | 272 474 |
//! | ResNet-32 | 5 | 464 154 | 466 906 |
//! | ResNet-44 | 7 | 658 586 | 661 338 |
//! | ResNet-56 | 9 | 853 018 | 855 770 |
//! | ResNet-110 | 18 | 1 727 962 | 1 730 714 |
//!
//! The paper's table rounds these to 0.27 M, 0.46 M, 0.66 M, 0.85 M and 1.7 M. Option A's figures
//! are those of the widely used reference implementation (akamaster/pytorch_resnet_cifar10),
//! which names the classifier `linear` where this module says `fc`.
//!
//! Works as is on 28×28 inputs (stages at 28, 14 and 7 px).

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::resnet::shortcut;
use super::{conv_config, projection};
use crate::classify::ImageClassifier;

/// The shortcut of the blocks that change shape (He et al. 2016, §3.3).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CifarShortcut {
    /// Identity on a subsampled input, zero-padded to the new width: no parameters.
    A,
    /// A 1×1 stride-2 convolution and BN (a `downsample` projection).
    B,
}

/// Configuration of [`CifarResNet`].
#[derive(Config, Debug)]
pub struct CifarResNetConfig {
    /// Basic blocks per stage (`n`); the depth is `6n + 2`.
    pub blocks_per_stage: usize,
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Shortcut of the down-sampling blocks.
    #[config(default = "CifarShortcut::A")]
    pub shortcut: CifarShortcut,
}

/// Kaiming-normal (fan-in, ReLU gain), the reference implementation's initialisation for
/// convolutions and the classifier.
fn kaiming_normal_fan_in() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: false,
    }
}

impl CifarResNetConfig {
    /// The configuration of ResNet-`depth` (`depth = 6n + 2`: 20, 32, 44, 56, 110, 1202).
    ///
    /// # Panics
    /// If `depth` is not of the form `6n + 2` with `n ≥ 1`.
    pub fn with_depth(depth: usize, num_classes: usize) -> Self {
        assert!(
            depth >= 8 && (depth - 2).is_multiple_of(6),
            "CIFAR ResNet depth must be 6n + 2, got {depth}"
        );
        Self::new((depth - 2) / 6, num_classes)
    }

    /// Builds the model with its parameters on `device`: convolutions and `fc` weights
    /// Kaiming-normal (fan-in), BN γ = 1, β = 0.
    pub fn init(&self, device: &Device) -> CifarResNet {
        let mut in_planes = 16;
        let mut stage = |planes: usize, stride: usize| -> Vec<CifarBlock> {
            (0..self.blocks_per_stage)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let block = CifarBlock::new(in_planes, planes, stride, self.shortcut, device);
                    in_planes = planes;
                    block
                })
                .collect()
        };
        let layer1 = stage(16, 1);
        let layer2 = stage(32, 2);
        let layer3 = stage(64, 2);
        CifarResNet {
            conv1: conv3x3([self.in_channels, 16], 1, device),
            bn1: BatchNormConfig::new(16).init(device),
            relu: Relu::new(),
            layer1,
            layer2,
            layer3,
            fc: LinearConfig::new(64, self.num_classes)
                .with_initializer(kaiming_normal_fan_in())
                .init(device),
        }
    }
}

fn conv3x3(channels: [usize; 2], stride: usize, device: &Device) -> Conv2d {
    conv_config(channels, 3, stride, 1)
        .with_bias(false)
        .with_initializer(kaiming_normal_fan_in())
        .init(device)
}

/// A basic block with an option A or option B shortcut.
#[derive(Module, Debug)]
pub struct CifarBlock {
    /// Weight `[planes, in_planes, 3, 3]`, stride 1 or 2.
    pub conv1: Conv2d,
    /// Over `planes` channels.
    pub bn1: BatchNorm,
    /// Weight `[planes, planes, 3, 3]`.
    pub conv2: Conv2d,
    /// Over `planes` channels.
    pub bn2: BatchNorm,
    /// Option B projection (conv `[planes, in_planes, 1, 1]`, BN) where the shape changes.
    pub downsample: Option<(Conv2d, BatchNorm)>,
    /// Option A: zero channels added on each side of the subsampled input (0: identity).
    pub pad_channels: usize,
    relu: Relu,
}

impl CifarBlock {
    fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        shortcut: CifarShortcut,
        device: &Device,
    ) -> Self {
        let reshapes = stride != 1 || in_planes != planes;
        let (downsample, pad_channels) = match shortcut {
            _ if !reshapes => (None, 0),
            CifarShortcut::A => (None, (planes - in_planes) / 2),
            CifarShortcut::B => (
                Some(projection(
                    [in_planes, planes],
                    stride,
                    kaiming_normal_fan_in(),
                    device,
                )),
                0,
            ),
        };
        Self {
            conv1: conv3x3([in_planes, planes], stride, device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv3x3([planes, planes], 1, device),
            bn2: BatchNormConfig::new(planes).init(device),
            downsample,
            pad_channels,
            relu: Relu::new(),
        }
    }

    /// `[B, in_planes, H, W] → [B, planes, H/stride, W/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = if self.pad_channels > 0 {
            // Option A: x[:, :, ::2, ::2], then `planes / 4` zero channels on each side.
            let x = x.clone().slice(s![.., .., ..;2, ..;2]);
            let [b, _, h, w] = x.dims();
            let zeros = Tensor::<4>::zeros([b, self.pad_channels, h, w], &x.device());
            Tensor::cat(vec![zeros.clone(), x, zeros], 1)
        } else {
            shortcut(&self.downsample, x.clone())
        };
        let out = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        self.relu.forward(out + identity)
    }
}

/// A CIFAR ResNet: 3×3 stem, three stages of basic blocks (16, 32, 64 channels), global average
/// pool and a linear classifier.
#[derive(Module, Debug)]
pub struct CifarResNet {
    /// Stem, weight `[16, C, 3, 3]`.
    pub conv1: Conv2d,
    /// Over 16 channels.
    pub bn1: BatchNorm,
    relu: Relu,
    /// Stage 1: 16 channels at full resolution.
    pub layer1: Vec<CifarBlock>,
    /// Stage 2: 32 channels at half resolution.
    pub layer2: Vec<CifarBlock>,
    /// Stage 3: 64 channels at quarter resolution.
    pub layer3: Vec<CifarBlock>,
    /// Classifier, weight `[64, num_classes]`.
    pub fc: Linear,
}

impl CifarResNet {
    /// # Shapes
    /// - images: `[B, C, H, W]` (32×32 for CIFAR, 28×28 works too)
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self
            .relu
            .forward(self.bn1.forward(self.conv1.forward(images))); // [B, 16, H, W]
        for block in [&self.layer1, &self.layer2, &self.layer3]
            .into_iter()
            .flatten()
        {
            x = block.forward(x);
        } // [B, 64, H/4, W/4]
        let x: Tensor<2> = x.mean_dim(3).mean_dim(2).flatten(1, 3); // [B, 64]
        self.fc.forward(x)
    }
}

impl ImageClassifier for CifarResNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// ResNet-20 (n = 3, option A), 0.27 M parameters at 10 classes.
pub fn resnet20(num_classes: usize, device: &Device) -> CifarResNet {
    CifarResNetConfig::with_depth(20, num_classes).init(device)
}

/// ResNet-32 (n = 5, option A), 0.46 M parameters at 10 classes.
pub fn resnet32(num_classes: usize, device: &Device) -> CifarResNet {
    CifarResNetConfig::with_depth(32, num_classes).init(device)
}

/// ResNet-44 (n = 7, option A), 0.66 M parameters at 10 classes.
pub fn resnet44(num_classes: usize, device: &Device) -> CifarResNet {
    CifarResNetConfig::with_depth(44, num_classes).init(device)
}

/// ResNet-56 (n = 9, option A), 0.85 M parameters at 10 classes.
pub fn resnet56(num_classes: usize, device: &Device) -> CifarResNet {
    CifarResNetConfig::with_depth(56, num_classes).init(device)
}

/// ResNet-110 (n = 18, option A), 1.7 M parameters at 10 classes.
pub fn resnet110(num_classes: usize, device: &Device) -> CifarResNet {
    CifarResNetConfig::with_depth(110, num_classes).init(device)
}

#[cfg(test)]
mod tests {
    use super::super::trainable_params;
    use super::*;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    #[test]
    fn option_a_shortcut_subsamples_and_pads() {
        let device = Device::flex();
        let block = CifarBlock::new(16, 32, 2, CifarShortcut::A, &device);
        assert_eq!(block.pad_channels, 8);
        // With zeroed residual-branch BNs the block is ReLU(shortcut(x)).
        let mut block = block;
        block.bn2.gamma = block.bn2.gamma.map(|g| g.zeros_like());
        let x = Tensor::<4>::random([1, 16, 4, 4], Distribution::Default, &device);
        let y = block.forward(x.clone());
        assert_eq!(y.dims(), [1, 32, 2, 2]);
        let zeros = TensorData::zeros::<f32, _>([1, 8, 2, 2]);
        let tol = Tolerance::<f32>::default();
        y.clone()
            .slice(s![.., 0..8])
            .into_data()
            .assert_approx_eq(&zeros, tol);
        y.clone()
            .slice(s![.., 24..32])
            .into_data()
            .assert_approx_eq(&zeros, tol);
        y.slice(s![.., 8..24])
            .into_data()
            .assert_approx_eq(&x.slice(s![.., .., ..;2, ..;2]).into_data(), tol);
    }

    #[test]
    fn option_b_adds_two_projections() {
        let device = Device::flex();
        let a = trainable_params(&resnet20(10, &device));
        let b = trainable_params(
            &CifarResNetConfig::with_depth(20, 10)
                .with_shortcut(CifarShortcut::B)
                .init(&device),
        );
        // 1×1 convs 16→32 and 32→64, each with a BN (γ, β).
        assert_eq!(b - a, 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64);
        assert_eq!(b, 272_474);
    }

    #[test]
    #[should_panic(expected = "6n + 2")]
    fn rejects_other_depths() {
        CifarResNetConfig::with_depth(18, 10);
    }
}
