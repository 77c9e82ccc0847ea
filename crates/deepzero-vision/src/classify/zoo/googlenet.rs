//! GoogLeNet / Inception v1 (Szegedy et al., "Going deeper with convolutions", CVPR 2015) as
//! torchvision builds it: every convolution is a [`BasicConv2d`] (conv without bias → BN with
//! ε = 0.001 → ReLU; the paper predates batch norm), the "5×5" branch of each Inception block
//! uses a 3×3 convolution (a known slip of the original port that torchvision keeps for its
//! weights), max-pools round up (`ceil_mode`), and the head is a global average pool, dropout
//! 0.2 and a linear layer. The two auxiliary classifiers are optional (off by default).
//!
//! ```text
//! [B,3,224,224] → conv1 7×7/2 → 64@112² → max 3/2 → conv2 1×1 → 64 → conv3 3×3 → 192@56²
//!               → max 3/2 → 3a, 3b → 480@28² → max 3/2 → 4a … 4e → 832@14²
//!               → max 2/2 → 5a, 5b → 1024@7² → adaptive avg 1×1 → dropout → fc classes
//! ```
//! 6 624 904 parameters at 1000 classes without the auxiliary heads (13 004 888 with them).
//!
//! # Small-input variant ([`GoogLeNetConfig::small_input`])
//! For 28–32 px images, a light stem: `conv1` is a 3×3 stride-1 convolution (padding 1) and the
//! max-pool after it is left out; `maxpool2` stays, so the Inception-3 blocks see 16×16 (32 px)
//! or 14×14 (28 px), the Inception-4 blocks 8×8 or 7×7 and the Inception-5 blocks 4×4.
//!
//! # torchvision keys
//! Identical: `conv1.conv`, `conv1.bn`, `inception3a.branch1.conv`, `inception3a.branch2.0.bn`,
//! `inception3a.branch4.1.conv` (index 0 of `branch4` is the max-pool; the two-layer branches are
//! tuples, visited under indices 0 and 1), `aux1.fc1`, `fc`.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, PaddingConfig2d, Relu,
};
use burn::prelude::*;

use super::{conv_config, conv2d, linear, torch_default_bias};
use crate::classify::ImageClassifier;

/// torchvision's GoogLeNet initialisation: `trunc_normal_(std=0.01, a=-2, b=2)`, whose bounds
/// (±200 σ) never bite, so a plain `N(0, 0.01)`.
fn weight_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.01,
    }
}

/// `conv (no bias) → BN (ε = 0.001) → ReLU`.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    /// Weight `[out, in, k, k]`.
    pub conv: Conv2d,
    /// Over `out` channels, ε = 0.001.
    pub bn: BatchNorm,
    relu: Relu,
}

impl BasicConv2d {
    fn new(channels: [usize; 2], kernel: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv: conv_config(channels, kernel, stride, kernel / 2)
                .with_bias(false)
                .with_initializer(weight_init())
                .init(device),
            bn: BatchNormConfig::new(channels[1])
                .with_epsilon(1e-3)
                .init(device),
            relu: Relu::new(),
        }
    }

    /// `[B, in, H, W] → [B, out, H/stride, W/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.relu.forward(self.bn.forward(conv2d(&self.conv, x)))
    }
}

/// The widths of an Inception block, in torchvision's argument order.
#[derive(Clone, Copy, Debug)]
struct Widths {
    ch1x1: usize,
    ch3x3red: usize,
    ch3x3: usize,
    ch5x5red: usize,
    ch5x5: usize,
    pool_proj: usize,
}

impl Widths {
    const fn new(w: [usize; 6]) -> Self {
        Self {
            ch1x1: w[0],
            ch3x3red: w[1],
            ch3x3: w[2],
            ch5x5red: w[3],
            ch5x5: w[4],
            pool_proj: w[5],
        }
    }

    /// Every width divided by `divisor`, rounding up.
    fn divided(w: [usize; 6], divisor: usize) -> Self {
        Self::new(w.map(|c| c.div_ceil(divisor)))
    }

    fn out(self) -> usize {
        self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj
    }
}

/// An Inception block: four parallel branches concatenated along the channels.
#[derive(Module, Debug)]
pub struct Inception {
    /// 1×1 convolution.
    pub branch1: BasicConv2d,
    /// 1×1 reduction → 3×3.
    pub branch2: (BasicConv2d, BasicConv2d),
    /// 1×1 reduction → 3×3 (5×5 in the paper; 3×3 in torchvision).
    pub branch3: (BasicConv2d, BasicConv2d),
    /// 3×3 stride-1 max-pool (`branch4.0`) → 1×1 projection (`branch4.1`).
    pub branch4: (MaxPool2d, BasicConv2d),
}

impl Inception {
    fn new(in_channels: usize, w: Widths, device: &Device) -> Self {
        Self {
            branch1: BasicConv2d::new([in_channels, w.ch1x1], 1, 1, device),
            branch2: (
                BasicConv2d::new([in_channels, w.ch3x3red], 1, 1, device),
                BasicConv2d::new([w.ch3x3red, w.ch3x3], 3, 1, device),
            ),
            branch3: (
                BasicConv2d::new([in_channels, w.ch5x5red], 1, 1, device),
                BasicConv2d::new([w.ch5x5red, w.ch5x5], 3, 1, device),
            ),
            branch4: (
                MaxPool2dConfig::new([3, 3])
                    .with_strides([1, 1])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_ceil_mode(true)
                    .init(),
                BasicConv2d::new([in_channels, w.pool_proj], 1, 1, device),
            ),
        }
    }

    /// `[B, in, H, W] → [B, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1.forward(x.clone());
        let b2 = self.branch2.1.forward(self.branch2.0.forward(x.clone()));
        let b3 = self.branch3.1.forward(self.branch3.0.forward(x.clone()));
        let b4 = self.branch4.1.forward(self.branch4.0.forward(x));
        Tensor::cat(vec![b1, b2, b3, b4], 1)
    }
}

/// An auxiliary classifier (after `inception4a` and `inception4d`), used only in training.
#[derive(Module, Debug)]
pub struct InceptionAux {
    /// 1×1 convolution to 128 channels.
    pub conv: BasicConv2d,
    /// `[2048, 1024]`.
    pub fc1: Linear,
    /// `[1024, num_classes]`.
    pub fc2: Linear,
    pool: AdaptiveAvgPool2d,
    dropout: Dropout,
    relu: Relu,
}

impl InceptionAux {
    /// `conv` has `128 / width_divisor` channels and `fc1` `1024 / width_divisor` units (both
    /// rounded up; torchvision: 128 and 1024).
    fn new(
        in_channels: usize,
        num_classes: usize,
        dropout: f64,
        width_divisor: usize,
        device: &Device,
    ) -> Self {
        let conv = 128usize.div_ceil(width_divisor);
        let flat = conv * 4 * 4;
        let hidden = 1024usize.div_ceil(width_divisor);
        Self {
            conv: BasicConv2d::new([in_channels, conv], 1, 1, device),
            fc1: linear(
                flat,
                hidden,
                weight_init(),
                torch_default_bias(flat),
                device,
            ),
            fc2: linear(
                hidden,
                num_classes,
                weight_init(),
                torch_default_bias(hidden),
                device,
            ),
            pool: AdaptiveAvgPool2dConfig::new([4, 4]).init(),
            dropout: DropoutConfig::new(dropout).init(),
            relu: Relu::new(),
        }
    }

    /// `[B, in, H, W] → [B, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.conv.forward(self.pool.forward(x)); // [B, 128, 4, 4]
        let x: Tensor<2> = x.flatten(1, 3); // [B, 2048]
        let x = self.dropout.forward(self.relu.forward(self.fc1.forward(x)));
        self.fc2.forward(x)
    }
}

/// Configuration of [`GoogLeNet`].
#[derive(Config, Debug)]
pub struct GoogLeNetConfig {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Build the two auxiliary classifiers (`aux1`, `aux2`).
    #[config(default = false)]
    pub aux_logits: bool,
    /// Dropout before `fc`.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Dropout inside the auxiliary classifiers.
    #[config(default = 0.7)]
    pub aux_dropout: f64,
    /// Kernel size of `conv1` (padding `kernel / 2`).
    #[config(default = 7)]
    pub stem_kernel: usize,
    /// Stride of `conv1`.
    #[config(default = 2)]
    pub stem_stride: usize,
    /// The max-pool after `conv1` (`maxpool1`).
    #[config(default = true)]
    pub stem_max_pool: bool,
    /// Divides every convolution's width (stem 64-64-192, each Inception branch) and the
    /// auxiliary heads' 128 channels and 1024 hidden units, rounding up; torchvision: always 1.
    /// A larger value gives the same keys with narrower tensors, as in the reduced GoogLeNet of
    /// the logits golden test.
    #[config(default = 1)]
    pub width_divisor: usize,
}

impl GoogLeNetConfig {
    /// The small-input variant for 28–32 px images (see the module docs): 3×3 stride-1 `conv1`,
    /// no `maxpool1`.
    pub fn small_input(self) -> Self {
        self.with_stem_kernel(3)
            .with_stem_stride(1)
            .with_stem_max_pool(false)
    }

    /// Builds the model with its parameters on `device`, initialised as torchvision does:
    /// convolution and linear weights `N(0, 0.01)`, linear biases PyTorch's default, BN γ = 1,
    /// β = 0.
    pub fn init(&self, device: &Device) -> GoogLeNet {
        let pool = |kernel: usize| {
            MaxPool2dConfig::new([kernel, kernel])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .init()
        };
        let d = self.width_divisor;
        let w = |channels: usize| channels.div_ceil(d);
        // Each block takes the previous one's concatenated output (maxpools keep the width).
        let mut channels = w(192);
        let mut block = |widths| {
            let widths = Widths::divided(widths, d);
            let block = Inception::new(channels, widths, device);
            channels = widths.out();
            block
        };
        let aux = |in_channels| {
            self.aux_logits.then(|| {
                InceptionAux::new(in_channels, self.num_classes, self.aux_dropout, d, device)
            })
        };
        GoogLeNet {
            conv1: BasicConv2d::new(
                [self.in_channels, w(64)],
                self.stem_kernel,
                self.stem_stride,
                device,
            ),
            maxpool1: self.stem_max_pool.then(|| pool(3)),
            conv2: BasicConv2d::new([w(64), w(64)], 1, 1, device),
            conv3: BasicConv2d::new([w(64), w(192)], 3, 1, device),
            maxpool2: pool(3),
            inception3a: block([64, 96, 128, 16, 32, 32]), // 192 → 256
            inception3b: block([128, 128, 192, 32, 96, 64]), // 256 → 480
            maxpool3: pool(3),
            inception4a: block([192, 96, 208, 16, 48, 64]), // 480 → 512
            inception4b: block([160, 112, 224, 24, 64, 64]), // 512 → 512
            inception4c: block([128, 128, 256, 24, 64, 64]), // 512 → 512
            inception4d: block([112, 144, 288, 32, 64, 64]), // 512 → 528
            inception4e: block([256, 160, 320, 32, 128, 128]), // 528 → 832
            maxpool4: pool(2),
            inception5a: block([256, 160, 320, 32, 128, 128]), // 832 → 832
            inception5b: block([384, 192, 384, 48, 128, 128]), // 832 → 1024
            aux1: aux(Widths::divided([192, 96, 208, 16, 48, 64], d).out()),
            aux2: aux(Widths::divided([112, 144, 288, 32, 64, 64], d).out()),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: linear(
                channels,
                self.num_classes,
                weight_init(),
                torch_default_bias(channels),
                device,
            ),
        }
    }
}

/// The logits of [`GoogLeNet::forward_with_aux`].
#[derive(Debug, Clone)]
pub struct GoogLeNetOutput {
    /// Main classifier, `[B, num_classes]`.
    pub logits: Tensor<2>,
    /// Auxiliary classifier after `inception4d` (when built), `[B, num_classes]`.
    pub aux2: Option<Tensor<2>>,
    /// Auxiliary classifier after `inception4a` (when built), `[B, num_classes]`.
    pub aux1: Option<Tensor<2>>,
}

/// GoogLeNet: a convolutional stem, nine Inception blocks in three stages, global average pool
/// and a linear classifier.
#[derive(Module, Debug)]
pub struct GoogLeNet {
    /// 7×7 stride-2 stem (3×3 stride 1 small-input), 64 channels.
    pub conv1: BasicConv2d,
    /// 3×3 stride-2 max-pool (absent in the small-input variant).
    pub maxpool1: Option<MaxPool2d>,
    /// 1×1, 64 → 64.
    pub conv2: BasicConv2d,
    /// 3×3, 64 → 192.
    pub conv3: BasicConv2d,
    /// 3×3 stride-2 max-pool.
    pub maxpool2: MaxPool2d,
    /// 192 → 256.
    pub inception3a: Inception,
    /// 256 → 480.
    pub inception3b: Inception,
    /// 3×3 stride-2 max-pool.
    pub maxpool3: MaxPool2d,
    /// 480 → 512.
    pub inception4a: Inception,
    /// 512 → 512.
    pub inception4b: Inception,
    /// 512 → 512.
    pub inception4c: Inception,
    /// 512 → 528.
    pub inception4d: Inception,
    /// 528 → 832.
    pub inception4e: Inception,
    /// 2×2 stride-2 max-pool.
    pub maxpool4: MaxPool2d,
    /// 832 → 832.
    pub inception5a: Inception,
    /// 832 → 1024.
    pub inception5b: Inception,
    /// Auxiliary classifier on `inception4a`'s output (with `aux_logits`).
    pub aux1: Option<InceptionAux>,
    /// Auxiliary classifier on `inception4d`'s output (with `aux_logits`).
    pub aux2: Option<InceptionAux>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    dropout: Dropout,
    /// Classifier, weight `[1024, num_classes]` (burn's `[in, out]` layout).
    pub fc: Linear,
}

impl GoogLeNet {
    /// The main logits.
    ///
    /// # Shapes
    /// - images: `[B, C, H, W]` (224×224 for the reference model, 28–32 for the small one)
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.run(images, false).logits
    }

    /// The main logits and, when the model has them, the auxiliary ones. torchvision returns
    /// the auxiliary logits only in training mode; here the caller decides (the paper adds
    /// them to the training loss with weight 0.3).
    pub fn forward_with_aux(&self, images: Tensor<4>) -> GoogLeNetOutput {
        self.run(images, true)
    }

    fn run(&self, images: Tensor<4>, with_aux: bool) -> GoogLeNetOutput {
        let mut x = self.conv1.forward(images); // [B, 64, 112, 112]
        if let Some(pool) = &self.maxpool1 {
            x = pool.forward(x); // [B, 64, 56, 56]
        }
        let x = self.conv3.forward(self.conv2.forward(x)); // [B, 192, 56, 56]
        let x = self.maxpool2.forward(x); // [B, 192, 28, 28]
        let x = self.inception3b.forward(self.inception3a.forward(x)); // [B, 480, 28, 28]
        let x = self.maxpool3.forward(x); // [B, 480, 14, 14]
        let x = self.inception4a.forward(x); // [B, 512, 14, 14]
        let aux = |head: &Option<InceptionAux>, x: &Tensor<4>| match head {
            Some(head) if with_aux => Some(head.forward(x.clone())),
            _ => None,
        };
        let aux1 = aux(&self.aux1, &x);
        let x = self.inception4b.forward(x);
        let x = self.inception4c.forward(x);
        let x = self.inception4d.forward(x); // [B, 528, 14, 14]
        let aux2 = aux(&self.aux2, &x);
        let x = self.inception4e.forward(x); // [B, 832, 14, 14]
        let x = self.maxpool4.forward(x); // [B, 832, 7, 7]
        let x = self.inception5b.forward(self.inception5a.forward(x)); // [B, 1024, 7, 7]
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3); // [B, 1024]
        let logits = self.fc.forward(self.dropout.forward(x));
        GoogLeNetOutput { logits, aux2, aux1 }
    }
}

impl ImageClassifier for GoogLeNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// GoogLeNet for 224×224 RGB images (torchvision's `googlenet` without auxiliary heads),
/// 6.6 M parameters at 1000 classes.
pub fn googlenet(num_classes: usize, device: &Device) -> GoogLeNet {
    GoogLeNetConfig::new(num_classes).init(device)
}

#[cfg(test)]
mod tests {
    use super::super::tests::param_keys;
    use super::super::trainable_params;
    use super::*;

    #[test]
    fn inception_widths_chain() {
        // Each block's input is the previous block's output (torchvision's channel arithmetic).
        let w = |a| Widths::new(a).out();
        assert_eq!(w([64, 96, 128, 16, 32, 32]), 256);
        assert_eq!(w([128, 128, 192, 32, 96, 64]), 480);
        assert_eq!(w([112, 144, 288, 32, 64, 64]), 528);
        assert_eq!(w([256, 160, 320, 32, 128, 128]), 832);
        assert_eq!(w([384, 192, 384, 48, 128, 128]), 1024);
    }

    #[test]
    fn ceil_mode_pools_give_torchvision_sizes() {
        let device = Device::flex();
        let side = |pool: &MaxPool2d, s: usize| {
            pool.forward(Tensor::zeros([1, 1, s, s], &device)).dims()[2]
        };
        let model = googlenet(10, &device);
        // 224 px: conv1 → 112, then 56, 28, 14, 7 (floor mode would give 55, 27, 13, 6).
        let maxpool1 = model.maxpool1.as_ref().unwrap();
        assert_eq!(side(maxpool1, 112), 56);
        assert_eq!(side(&model.maxpool2, 56), 28);
        assert_eq!(side(&model.maxpool3, 28), 14);
        assert_eq!(side(&model.maxpool4, 14), 7);
        // The pooling branch keeps the size.
        assert_eq!(side(&model.inception3a.branch4.0, 28), 28);
        // Small input, 28 px: Inception-3 at 14, Inception-4 at 7, Inception-5 at 4.
        assert_eq!(side(&model.maxpool2, 28), 14);
        assert_eq!(side(&model.maxpool3, 14), 7);
        assert_eq!(side(&model.maxpool4, 7), 4);
    }

    #[test]
    fn keys_follow_torchvision() {
        let device = Device::flex();
        let keys = param_keys(
            &GoogLeNetConfig::new(1000)
                .with_aux_logits(true)
                .init(&device),
        );
        for key in [
            "conv1.conv.weight",
            "conv1.bn.running_mean",
            "inception3a.branch1.conv.weight",
            "inception3a.branch2.0.bn.weight",
            "inception3a.branch3.1.conv.weight",
            "inception4e.branch4.1.conv.weight",
            "aux1.conv.conv.weight",
            "aux2.fc2.bias",
            "fc.weight",
        ] {
            assert!(keys.contains(&key.to_string()), "{key}");
        }
        assert!(!keys.iter().any(|k| k.starts_with("inception3a.branch4.0")));
    }

    #[test]
    fn auxiliary_heads() {
        let device = Device::flex();
        let model = GoogLeNetConfig::new(1000)
            .with_aux_logits(true)
            .init(&device);
        // Each head: conv 1×1 512|528 → 128 + BN, fc 2048 → 1024, fc 1024 → 1000.
        let head = |c: usize| c * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000;
        assert_eq!(trainable_params(&model), 6_624_904 + head(512) + head(528));
        assert_eq!(trainable_params(&model), 13_004_888);

        let small = GoogLeNetConfig::new(7)
            .with_aux_logits(true)
            .small_input()
            .init(&device);
        let out = small.forward_with_aux(Tensor::zeros([1, 3, 32, 32], &device));
        assert_eq!(out.logits.dims(), [1, 7]);
        assert_eq!(out.aux1.map(|t| t.dims()), Some([1, 7]));
        assert_eq!(out.aux2.map(|t| t.dims()), Some([1, 7]));
    }
}
