//! LeNet-5-style convolutional network (LeCun, Bottou, Bengio & Haffner, 1998,
//! "Gradient-based learning applied to document recognition"; seed chapters 1.3.1 and 7.2).
//!
//! Differences from the 1998 paper, as in most modern re-implementations: ReLU instead of the
//! scaled tanh, max-pooling instead of trainable sub-sampling, full C3 connectivity instead of
//! the hand-picked connection table, and a plain linear output instead of RBF units.
//!
//! ```text
//! [B,1,28,28] → conv 5×5 pad 2 → 6@28×28 → ReLU → max 2×2 → 6@14×14
//!             → conv 5×5       → 16@10×10 → ReLU → max 2×2 → 16@5×5
//!             → flatten 400 → fc 120 → ReLU → fc 84 → ReLU → fc classes
//! ```

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::ImageClassifier;

/// Configuration of [`LeNet5`].
#[derive(Config, Debug)]
pub struct LeNet5Config {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels (1 for MNIST).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Input side length; 28 pads the first convolution by 2 (as the 32×32 original sees it),
    /// 32 uses no padding.
    #[config(default = 28)]
    pub input_size: usize,
}

impl LeNet5Config {
    /// Builds the model with its parameters on `device`.
    pub fn init(&self, device: &Device) -> LeNet5 {
        // Padding keeps the C1 output at 28×28 whatever the input (28 → pad 2, 32 → pad 0).
        let pad = 28usize.saturating_sub(self.input_size.saturating_sub(4)) / 2;
        let c1_out = self.input_size + 2 * pad - 4;
        let s4 = (c1_out / 2 - 4) / 2; // side after the second pooling
        LeNet5 {
            conv1: Conv2dConfig::new([self.in_channels, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            fc1: LinearConfig::new(16 * s4 * s4, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, self.num_classes).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            activation: Relu::new(),
        }
    }
}

/// LeNet-5: two convolution + pooling stages, then three fully connected layers.
#[derive(Module, Debug)]
pub struct LeNet5 {
    /// C1, weight `[6, in_channels, 5, 5]`.
    pub conv1: Conv2d,
    /// C3, weight `[16, 6, 5, 5]`.
    pub conv2: Conv2d,
    /// C5 (as a linear layer on the flattened 16×5×5 map), `[400, 120]`.
    pub fc1: Linear,
    /// F6, `[120, 84]`.
    pub fc2: Linear,
    /// Output, `[84, num_classes]`.
    pub fc3: Linear,
    pool: MaxPool2d,
    activation: Relu,
}

impl LeNet5 {
    /// # Shapes
    /// - images: `[B, C, H, W]` with the configured channels and size
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(images))); // [B,6,14,14]
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x))); // [B,16,5,5]
        let x: Tensor<2> = x.flatten(1, 3); // [B,400]
        let x = self.activation.forward(self.fc1.forward(x));
        let x = self.activation.forward(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

impl ImageClassifier for LeNet5 {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_parameter_count_and_shape() {
        let device = Device::flex();
        let model = LeNet5Config::new(10).init(&device);
        // C1 156, C3 2 416, C5 48 120, F6 10 164, output 850 = 61 706 (the well-known figure
        // for LeNet-5 with full C3 connectivity and a linear output layer).
        assert_eq!(model.num_params(), 61_706);
        let y = model.forward(Tensor::zeros([2, 1, 28, 28], &device));
        assert_eq!(y.dims(), [2, 10]);
    }

    #[test]
    fn accepts_32_pixel_rgb_input() {
        let device = Device::flex();
        let model = LeNet5Config::new(2)
            .with_in_channels(3)
            .with_input_size(32)
            .init(&device);
        assert_eq!(
            model.forward(Tensor::zeros([1, 3, 32, 32], &device)).dims(),
            [1, 2]
        );
    }
}
