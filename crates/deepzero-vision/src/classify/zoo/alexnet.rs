//! AlexNet as torchvision builds it: the single-GPU variant of Krizhevsky, "One weird trick for
//! parallelizing convolutional neural networks" (2014), not the two-tower net of Krizhevsky,
//! Sutskever & Hinton (2012). Features 64-192-384-256-256, no local response normalisation, an
//! adaptive average pool to 6×6 and a dropout-regularised 4096-4096 classifier.
//!
//! ```text
//! [B,3,224,224] → conv 11×11/4 p2 → 64@55² → ReLU → max 3/2 → 64@27²
//!               → conv 5×5 p2 → 192@27² → ReLU → max 3/2 → 192@13²
//!               → conv 3×3 → 384 → ReLU → conv 3×3 → 256 → ReLU → conv 3×3 → 256 → ReLU
//!               → max 3/2 → 256@6² → adaptive avg 6×6 → flatten 9216
//!               → dropout → fc 4096 → ReLU → dropout → fc 4096 → ReLU → fc classes
//! ```
//! 61 100 840 parameters with 1000 classes.
//!
//! # Small-input variant ([`AlexNetConfig::small_input`])
//! For 28–32 px images: the stem is a 3×3 stride-1 convolution (padding 1) instead of 11×11
//! stride 4, the adaptive pool gives 2×2 instead of 6×6 (32 px reaches it at 3×3, 28 px at 2×2
//! after the three max-pools), and the hidden layers have 1024 units instead of 4096.
//!
//! # torchvision keys
//! `features` and `classifier` are `Vec`s whose indices are torchvision's `nn.Sequential`
//! indices: convolutions at `features.{0,3,6,8,10}`, linear layers at `classifier.{1,4,6}`.

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{DropoutConfig, LinearConfig, Relu};
use burn::prelude::*;

use super::{ClassifierLayer, FeatureLayer, conv_config, run_classifier, run_features};
use crate::classify::ImageClassifier;

/// Configuration of [`AlexNet`].
#[derive(Config, Debug)]
pub struct AlexNetConfig {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Kernel size of the first convolution.
    #[config(default = 11)]
    pub stem_kernel: usize,
    /// Stride of the first convolution.
    #[config(default = 4)]
    pub stem_stride: usize,
    /// Padding of the first convolution.
    #[config(default = 2)]
    pub stem_padding: usize,
    /// Side of the adaptive average pool's output.
    #[config(default = 6)]
    pub pool_size: usize,
    /// Width of the two hidden fully connected layers.
    #[config(default = 4096)]
    pub hidden: usize,
    /// Dropout probability before each hidden layer.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Divides the five convolutions' widths (64-192-384-256-256), rounding up; torchvision:
    /// always 1. A larger value gives the same keys with narrower tensors, as in the reduced
    /// AlexNet of the logits golden test (the hidden layers have their own knob, `hidden`).
    #[config(default = 1)]
    pub width_divisor: usize,
}

impl AlexNetConfig {
    /// The small-input variant for 28–32 px images (see the module docs): 3×3 stride-1 stem,
    /// 2×2 adaptive pool, 1024-unit hidden layers.
    pub fn small_input(self) -> Self {
        self.with_stem_kernel(3)
            .with_stem_stride(1)
            .with_stem_padding(1)
            .with_pool_size(2)
            .with_hidden(1024)
    }

    /// Builds the model with its parameters on `device`. Initialisation is PyTorch's default
    /// (which torchvision keeps for AlexNet) and burn's: `U(±1/√fan_in)` for weights and biases.
    pub fn init(&self, device: &Device) -> AlexNet {
        use ClassifierLayer as C;
        use FeatureLayer as F;
        let w = |channels: usize| channels.div_ceil(self.width_divisor);
        let conv = |c_in, c_out, k, stride, pad| {
            F::Conv(conv_config([c_in, c_out], k, stride, pad).init(device))
        };
        let pool = || F::MaxPool(MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init());
        let features = vec![
            conv(
                self.in_channels,
                w(64),
                self.stem_kernel,
                self.stem_stride,
                self.stem_padding,
            ), // 0
            F::Relu(Relu::new()),
            pool(),
            conv(w(64), w(192), 5, 1, 2), // 3
            F::Relu(Relu::new()),
            pool(),
            conv(w(192), w(384), 3, 1, 1), // 6
            F::Relu(Relu::new()),
            conv(w(384), w(256), 3, 1, 1), // 8
            F::Relu(Relu::new()),
            conv(w(256), w(256), 3, 1, 1), // 10
            F::Relu(Relu::new()),
            pool(),
        ];
        let flat = w(256) * self.pool_size * self.pool_size;
        let linear = |d_in, d_out| C::Linear(LinearConfig::new(d_in, d_out).init(device));
        let dropout = || C::Dropout(DropoutConfig::new(self.dropout).init());
        let classifier = vec![
            dropout(),
            linear(flat, self.hidden), // 1
            C::Relu(Relu::new()),
            dropout(),
            linear(self.hidden, self.hidden), // 4
            C::Relu(Relu::new()),
            linear(self.hidden, self.num_classes), // 6
        ];
        AlexNet {
            features,
            avgpool: AdaptiveAvgPool2dConfig::new([self.pool_size, self.pool_size]).init(),
            classifier,
        }
    }
}

/// AlexNet: five convolutions, three max-pools and a three-layer classifier.
#[derive(Module, Debug)]
pub struct AlexNet {
    /// Convolutional trunk; weights `features.0` `[64, C, 11, 11]`, `features.3`
    /// `[192, 64, 5, 5]`, `features.6` `[384, 192, 3, 3]`, `features.8` `[256, 384, 3, 3]`,
    /// `features.10` `[256, 256, 3, 3]`, each with a bias.
    pub features: Vec<FeatureLayer>,
    /// Adaptive average pool to `pool_size × pool_size` (6×6).
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier; weights (burn's `[in, out]` layout) `classifier.1` `[9216, 4096]`,
    /// `classifier.4` `[4096, 4096]`, `classifier.6` `[4096, num_classes]`.
    pub classifier: Vec<ClassifierLayer>,
}

impl AlexNet {
    /// # Shapes
    /// - images: `[B, C, H, W]` (224×224 for the reference model, 28–32 for the small one)
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = run_features(&self.features, images); // [B, 256, h, w]
        let x = self.avgpool.forward(x); // [B, 256, 6, 6]
        let x: Tensor<2> = x.flatten(1, 3); // [B, 9216]
        run_classifier(&self.classifier, x)
    }
}

impl ImageClassifier for AlexNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// AlexNet for 224×224 RGB images (torchvision's `alexnet`), 61.1 M parameters at 1000 classes.
pub fn alexnet(num_classes: usize, device: &Device) -> AlexNet {
    AlexNetConfig::new(num_classes).init(device)
}

#[cfg(test)]
mod tests {
    use super::super::tests::param_keys;
    use super::super::trainable_params;
    use super::*;

    #[test]
    fn keys_follow_torchvision_indices() {
        let device = Device::flex();
        let keys = param_keys(&alexnet(1000, &device));
        let expected: Vec<String> = ["features.0", "features.3", "features.6", "features.8"]
            .iter()
            .chain(&[
                "features.10",
                "classifier.1",
                "classifier.4",
                "classifier.6",
            ])
            .flat_map(|l| [format!("{l}.weight"), format!("{l}.bias")])
            .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn small_input_variant() {
        let device = Device::flex();
        let model = AlexNetConfig::new(10)
            .with_in_channels(1)
            .small_input()
            .init(&device);
        // The trunk is the reference one with a 3×3 single-channel stem; the classifier sees
        // 256·2·2 = 1024 features.
        let trunk = 64 * 9 + 64 + 307_392 + 663_936 + 884_992 + 590_080;
        let head = 1024 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10;
        assert_eq!(trainable_params(&model), trunk + head);
        for side in [28, 32] {
            let y = model.forward(Tensor::zeros([1, 1, side, side], &device));
            assert_eq!(y.dims(), [1, 10]);
        }
    }
}
