//! A small VGG-style CNN (Simonyan & Zisserman 2015 in miniature; seed chapter 3.1.2): two
//! blocks of `3×3 conv → batch norm → ReLU` layers and 2×2 max-pooling, then a
//! dropout-regularised classifier. It is the `fashion-cnn` recipe's model: the Fashion-MNIST
//! benchmark lists 2–3-convolution CNNs at ≈92 %.
//!
//! ```text
//! [B,C,S,S] → [conv3 → BN → ReLU] ×n (w)  → max 2×2 → [B,w,S/2,S/2]
//!           → [conv3 → BN → ReLU] ×n (2w) → max 2×2 → [B,2w,S/4,S/4]
//!           → flatten → dropout → fc 256 → ReLU → dropout → fc classes
//! ```
//! The default is `n = 1` (4.6 M multiply-adds per 28×28 image, ≈1 000 training images/s on two
//! CPU cores); `n = 2` is the deeper VGG pattern at four times the cost.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::prelude::*;

use super::ImageClassifier;

/// Configuration of [`SmallCnn`].
#[derive(Config, Debug)]
pub struct SmallCnnConfig {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Input side length (divisible by 4).
    #[config(default = 28)]
    pub input_size: usize,
    /// Channels of the first block; the second block has twice as many.
    #[config(default = 32)]
    pub width: usize,
    /// Convolutions per block (VGG stacks two or more).
    #[config(default = 1)]
    pub convs_per_block: usize,
    /// Width of the hidden fully connected layer.
    #[config(default = 256)]
    pub hidden: usize,
    /// Dropout probability in the classifier.
    #[config(default = 0.3)]
    pub dropout: f64,
}

/// `3×3 conv (same padding, no bias: the batch norm has one) → batch norm → ReLU`.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    /// Weight `[out, in, 3, 3]`.
    pub conv: Conv2d,
    /// Per-channel normalisation.
    pub bn: BatchNorm,
    activation: Relu,
}

impl ConvBnRelu {
    /// A block from `channels_in` to `channels_out` channels, with burn's default initialisation.
    pub fn new(channels_in: usize, channels_out: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels_out).init(device),
            activation: Relu::new(),
        }
    }

    /// `[B, in, H, W] → [B, out, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.activation
            .forward(self.bn.forward(self.conv.forward(x)))
    }
}

impl SmallCnnConfig {
    /// Builds the model with its parameters on `device`.
    pub fn init(&self, device: &Device) -> SmallCnn {
        let w = self.width;
        let side = self.input_size / 4;
        let n = self.convs_per_block.max(1);
        let block = |c_in: usize, c_out: usize| -> Vec<ConvBnRelu> {
            (0..n)
                .map(|i| ConvBnRelu::new(if i == 0 { c_in } else { c_out }, c_out, device))
                .collect()
        };
        SmallCnn {
            block1: block(self.in_channels, w),
            block2: block(w, 2 * w),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(2 * w * side * side, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }
}

/// Two convolution blocks and a two-layer classifier.
#[derive(Module, Debug)]
pub struct SmallCnn {
    /// First block, `width` channels at full resolution.
    pub block1: Vec<ConvBnRelu>,
    /// Second block, `2·width` channels at half resolution.
    pub block2: Vec<ConvBnRelu>,
    /// Hidden classifier layer.
    pub fc1: Linear,
    /// Output layer.
    pub fc2: Linear,
    pool: MaxPool2d,
    dropout: Dropout,
    activation: Relu,
}

impl SmallCnn {
    /// # Shapes
    /// - images: `[B, C, S, S]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for layer in &self.block1 {
            x = layer.forward(x);
        }
        x = self.pool.forward(x); // [B, w, S/2, S/2]
        for layer in &self.block2 {
            x = layer.forward(x);
        }
        x = self.pool.forward(x); // [B, 2w, S/4, S/4]
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self
            .activation
            .forward(self.fc1.forward(self.dropout.forward(x)));
        self.fc2.forward(self.dropout.forward(x))
    }
}

impl ImageClassifier for SmallCnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_parameter_count() {
        let device = Device::flex();
        let model = SmallCnnConfig::new(10)
            .with_width(4)
            .with_hidden(8)
            .with_convs_per_block(2)
            .init(&device);
        let y = model.forward(Tensor::zeros([2, 1, 28, 28], &device));
        assert_eq!(y.dims(), [2, 10]);
        let convs = 9 * 4 + 9 * 4 * 4 + 9 * 4 * 8 + 9 * 8 * 8; // no conv biases
        // gamma, beta and burn's running mean and variance (num_params counts the running state too)
        let norms = 4 * (4 + 4 + 8 + 8);
        let fc = 8 * 7 * 7 * 8 + 8 + 8 * 10 + 10;
        assert_eq!(model.num_params(), convs + norms + fc);

        let single = SmallCnnConfig::new(10)
            .with_width(4)
            .with_hidden(8)
            .init(&device);
        let convs = 9 * 4 + 9 * 4 * 8;
        let norms = 4 * (4 + 8);
        assert_eq!(single.num_params(), convs + norms + fc);
        assert_eq!(
            single
                .forward(Tensor::zeros([1, 1, 28, 28], &device))
                .dims(),
            [1, 10]
        );
    }
}
