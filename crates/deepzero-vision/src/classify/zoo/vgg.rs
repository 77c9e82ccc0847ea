//! VGG (Simonyan & Zisserman, "Very deep convolutional networks for large-scale image
//! recognition", ICLR 2015) as torchvision builds it: configurations A, B, D and E (VGG-11, -13,
//! -16, -19), each with or without batch normalisation after every convolution (Ioffe & Szegedy
//! 2015; not in the paper), an adaptive average pool to 7×7 and a 4096-4096 classifier with
//! dropout.
//!
//! ```text
//! [B,3,224,224] → blocks of [conv 3×3 p1 → (BN) → ReLU] ×n, each closed by max 2×2
//!                 (64 → 128 → 256 → 512 → 512 channels; 224 → 112 → 56 → 28 → 14 → 7)
//!               → adaptive avg 7×7 → flatten 25088
//!               → fc 4096 → ReLU → dropout → fc 4096 → ReLU → dropout → fc classes
//! ```
//! | model | convolutions per block | parameters (1000 classes) | with BN |
//! |---|---|---|---|
//! | VGG-11 (A) | 1-1-2-2-2 | 132 863 336 | 132 868 840 |
//! | VGG-13 (B) | 2-2-2-2-2 | 133 047 848 | 133 053 736 |
//! | VGG-16 (D) | 2-2-3-3-3 | 138 357 544 | 138 365 992 |
//! | VGG-19 (E) | 2-2-4-4-4 | 143 667 240 | 143 678 248 |
//!
//! # Small-input variant ([`VggConfig::small_input`])
//! For 28–32 px images: the fifth max-pool is left out (32 px ends the trunk at 2×2, 28 px at
//! 1×1 after four pools; a fifth would shrink 28 px to nothing), the adaptive pool gives 1×1 and
//! the hidden layers have 512 units, the usual CIFAR VGG head (≈ 0.5 M instead of 120 M
//! classifier parameters).
//!
//! # torchvision keys
//! `features` and `classifier` are `Vec`s with torchvision's `nn.Sequential` indices: each `M`
//! of the configuration is one max-pool slot, each number a convolution, (a BN) and a ReLU slot;
//! `classifier.{0,3,6}` are the linear layers.

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{BatchNormConfig, DropoutConfig, Initializer, Relu};
use burn::prelude::*;

use super::{
    ClassifierLayer, FeatureLayer, conv_config, init_bias, kaiming_normal_fan_out, linear,
    run_classifier, run_features,
};
use crate::classify::ImageClassifier;

/// The layer configurations of the paper's Table 1, as torchvision's `cfgs`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum VggCfg {
    /// VGG-11: 8 convolutions.
    A,
    /// VGG-13: 10 convolutions.
    B,
    /// VGG-16: 13 convolutions.
    D,
    /// VGG-19: 16 convolutions.
    E,
}

/// One entry of a configuration: a 3×3 convolution to this many channels, or a max-pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VggItem {
    /// `conv 3×3 p1 → (BN) → ReLU` to this many channels.
    Conv(usize),
    /// `max 2×2 / 2` (torchvision's `"M"`).
    Pool,
}

impl VggCfg {
    /// The configuration, as torchvision's `cfgs["A" | "B" | "D" | "E"]`.
    pub fn items(self) -> Vec<VggItem> {
        use VggItem::{Conv, Pool};
        let per_block: [usize; 5] = match self {
            VggCfg::A => [1, 1, 2, 2, 2],
            VggCfg::B => [2, 2, 2, 2, 2],
            VggCfg::D => [2, 2, 3, 3, 3],
            VggCfg::E => [2, 2, 4, 4, 4],
        };
        let mut items = Vec::new();
        for (n, width) in per_block.into_iter().zip([64, 128, 256, 512, 512]) {
            items.extend(std::iter::repeat_n(Conv(width), n));
            items.push(Pool);
        }
        items
    }

    /// Number of weight layers (convolutions + 3 fully connected): 11, 13, 16 or 19.
    pub fn depth(self) -> usize {
        3 + self
            .items()
            .iter()
            .filter(|i| matches!(i, VggItem::Conv(_)))
            .count()
    }
}

/// Configuration of [`Vgg`].
#[derive(Config, Debug)]
pub struct VggConfig {
    /// Which of the paper's configurations.
    pub cfg: VggCfg,
    /// Number of output classes.
    pub num_classes: usize,
    /// Batch normalisation after every convolution (`vgg*_bn`).
    #[config(default = false)]
    pub batch_norm: bool,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Keep the fifth (last) max-pool.
    #[config(default = true)]
    pub last_max_pool: bool,
    /// Side of the adaptive average pool's output.
    #[config(default = 7)]
    pub pool_size: usize,
    /// Width of the two hidden fully connected layers.
    #[config(default = 4096)]
    pub hidden: usize,
    /// Dropout probability after each hidden layer.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Channels of the first block; the five blocks use 1×, 2×, 4×, 8× and 8× this (the
    /// paper and torchvision: always 64, i.e. 64-128-256-512-512). A smaller value gives the
    /// same keys with narrower tensors, as in the reduced VGG-11 of the logits golden test.
    #[config(default = 64)]
    pub base_channels: usize,
}

impl VggConfig {
    /// The small-input variant for 28–32 px images (see the module docs): no fifth max-pool,
    /// 1×1 adaptive pool, 512-unit hidden layers.
    pub fn small_input(self) -> Self {
        self.with_last_max_pool(false)
            .with_pool_size(1)
            .with_hidden(512)
    }

    /// Builds the model with its parameters on `device`, initialised as torchvision does:
    /// convolutions Kaiming-normal (fan-out, ReLU gain) with zero bias, linear layers
    /// `N(0, 0.01)` with zero bias, BN γ = 1, β = 0.
    pub fn init(&self, device: &Device) -> Vgg {
        use ClassifierLayer as C;
        use FeatureLayer as F;
        let mut items = self.cfg.items();
        if !self.last_max_pool {
            items.pop();
        }
        let mut features = Vec::new();
        let mut channels = self.in_channels;
        for item in items {
            match item {
                VggItem::Pool => {
                    features.push(F::MaxPool(MaxPool2dConfig::new([2, 2]).init()));
                }
                VggItem::Conv(width) => {
                    let width = width * self.base_channels / 64;
                    let mut conv = conv_config([channels, width], 3, 1, 1)
                        .with_initializer(kaiming_normal_fan_out())
                        .init(device);
                    conv.bias = init_bias(conv.bias, Initializer::Zeros, device);
                    features.push(F::Conv(conv));
                    if self.batch_norm {
                        features.push(F::BatchNorm(BatchNormConfig::new(width).init(device)));
                    }
                    features.push(F::Relu(Relu::new()));
                    channels = width;
                }
            }
        }
        let flat = channels * self.pool_size * self.pool_size;
        let fc = |d_in, d_out| {
            let weight = Initializer::Normal {
                mean: 0.0,
                std: 0.01,
            };
            C::Linear(linear(d_in, d_out, weight, Initializer::Zeros, device))
        };
        let dropout = || C::Dropout(DropoutConfig::new(self.dropout).init());
        let classifier = vec![
            fc(flat, self.hidden), // 0
            C::Relu(Relu::new()),
            dropout(),
            fc(self.hidden, self.hidden), // 3
            C::Relu(Relu::new()),
            dropout(),
            fc(self.hidden, self.num_classes), // 6
        ];
        Vgg {
            features,
            avgpool: AdaptiveAvgPool2dConfig::new([self.pool_size, self.pool_size]).init(),
            classifier,
        }
    }
}

/// VGG: a stack of 3×3 convolutions in five blocks, then a three-layer classifier.
#[derive(Module, Debug)]
pub struct Vgg {
    /// Convolutional trunk: convolutions `[out, in, 3, 3]` with bias `[out]`, optional BNs,
    /// ReLUs and max-pools, at torchvision's indices (VGG-16: convolutions at `features.0`,
    /// `.2`, `.5`, `.7`, `.10`, …; VGG-16-BN: `features.0`, `.3`, `.7`, `.10`, …).
    pub features: Vec<FeatureLayer>,
    /// Adaptive average pool to `pool_size × pool_size` (7×7).
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier; weights (burn's `[in, out]` layout) `classifier.0` `[25088, 4096]`,
    /// `classifier.3` `[4096, 4096]`, `classifier.6` `[4096, num_classes]`.
    pub classifier: Vec<ClassifierLayer>,
}

impl Vgg {
    /// # Shapes
    /// - images: `[B, C, H, W]` (224×224 for the reference models, 28–32 for the small ones)
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = run_features(&self.features, images); // [B, 512, H/32, W/32]
        let x = self.avgpool.forward(x); // [B, 512, 7, 7]
        let x: Tensor<2> = x.flatten(1, 3); // [B, 25088]
        run_classifier(&self.classifier, x)
    }
}

impl ImageClassifier for Vgg {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

macro_rules! vgg_constructors {
    ($($name:ident, $cfg:ident, $bn:literal, $what:literal, $params:literal;)*) => {$(
        #[doc = concat!(
            $what, " (configuration ", stringify!($cfg), ")",
            " for 224×224 RGB images (torchvision's `", stringify!($name), "`), ",
            $params, " parameters at 1000 classes."
        )]
        pub fn $name(num_classes: usize, device: &Device) -> Vgg {
            VggConfig::new(VggCfg::$cfg, num_classes)
                .with_batch_norm($bn)
                .init(device)
        }
    )*};
}

vgg_constructors! {
    vgg11, A, false, "VGG-11", "132 863 336";
    vgg11_bn, A, true, "VGG-11 with batch norm", "132 868 840";
    vgg13, B, false, "VGG-13", "133 047 848";
    vgg13_bn, B, true, "VGG-13 with batch norm", "133 053 736";
    vgg16, D, false, "VGG-16", "138 357 544";
    vgg16_bn, D, true, "VGG-16 with batch norm", "138 365 992";
    vgg19, E, false, "VGG-19", "143 667 240";
    vgg19_bn, E, true, "VGG-19 with batch norm", "143 678 248";
}

#[cfg(test)]
mod tests {
    use super::super::tests::param_keys;
    use super::super::trainable_params;
    use super::*;

    #[test]
    fn depths_match_the_names() {
        let depths: Vec<usize> = [VggCfg::A, VggCfg::B, VggCfg::D, VggCfg::E]
            .into_iter()
            .map(VggCfg::depth)
            .collect();
        assert_eq!(depths, [11, 13, 16, 19]);
    }

    #[test]
    fn keys_follow_torchvision_indices() {
        let device = Device::flex();
        // torchvision: vgg16().state_dict() and vgg16_bn().state_dict() (less num_batches_tracked)
        let keys = param_keys(&vgg16(10, &device));
        assert_eq!(
            keys[..4],
            [
                "features.0.weight",
                "features.0.bias",
                "features.2.weight",
                "features.2.bias"
            ]
        );
        assert!(keys.contains(&"features.28.weight".to_string()));
        assert_eq!(
            keys[26..],
            [
                "classifier.0.weight",
                "classifier.0.bias",
                "classifier.3.weight",
                "classifier.3.bias",
                "classifier.6.weight",
                "classifier.6.bias"
            ]
        );
        let keys = param_keys(&vgg16_bn(10, &device));
        assert_eq!(
            keys[..7],
            [
                "features.0.weight",
                "features.0.bias",
                "features.1.weight",
                "features.1.bias",
                "features.1.running_mean",
                "features.1.running_var",
                "features.3.weight"
            ]
        );
        assert!(keys.contains(&"features.41.running_var".to_string()));
    }

    #[test]
    fn small_input_variant() {
        let device = Device::flex();
        let model = VggConfig::new(VggCfg::A, 10)
            .with_batch_norm(true)
            .small_input()
            .init(&device);
        // Reference trunk (VGG-11-BN less its 512→classifier part) with a 512-512-10 head.
        let trunk = 132_868_840 - (25_088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000);
        let head = 512 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;
        assert_eq!(trainable_params(&model), trunk + head);
        let y = model.forward(Tensor::zeros([1, 3, 28, 28], &device));
        assert_eq!(y.dims(), [1, 10]);
    }
}
