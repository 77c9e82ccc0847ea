//! A multi-layer perceptron classifier on flattened pixels (seed chapters 1.2 and 2.1).
//!
//! The default 784-512-256-10 layout with dropout is the classic MNIST baseline (≈98 % test
//! accuracy); it is also the `mnist-mlp` workload that `cargo xtask bench` compares with PyTorch.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::ImageClassifier;

/// Configuration of [`MlpClassifier`].
#[derive(Config, Debug)]
pub struct MlpClassifierConfig {
    /// Input image shape `[channels, height, width]`; it is flattened to `c·h·w` features.
    pub input_shape: [usize; 3],
    /// Number of output classes.
    pub num_classes: usize,
    /// Width of each hidden layer, in order.
    #[config(default = "vec![512, 256]")]
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden activation.
    #[config(default = 0.2)]
    pub dropout: f64,
}

impl MlpClassifierConfig {
    /// Builds the model with its parameters on `device`.
    pub fn init(&self, device: &Device) -> MlpClassifier {
        let [c, h, w] = self.input_shape;
        let mut width = c * h * w;
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for &next in &self.hidden {
            hidden.push(LinearConfig::new(width, next).init(device));
            width = next;
        }
        MlpClassifier {
            hidden,
            output: LinearConfig::new(width, self.num_classes).init(device),
            activation: Relu::new(),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// Fully connected classifier: `flatten → (Linear → ReLU → Dropout)* → Linear`.
#[derive(Module, Debug)]
pub struct MlpClassifier {
    /// Hidden layers; weight of layer `i` has shape `[d_in_i, d_out_i]`.
    pub hidden: Vec<Linear>,
    /// Output layer, `[d_last, num_classes]`.
    pub output: Linear,
    activation: Relu,
    dropout: Dropout,
}

impl MlpClassifier {
    /// # Shapes
    /// - images: `[B, C, H, W]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = images.flatten(1, 3); // [B, C·H·W]
        for layer in &self.hidden {
            x = self
                .dropout
                .forward(self.activation.forward(layer.forward(x)));
        }
        self.output.forward(x)
    }
}

impl ImageClassifier for MlpClassifier {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shape_and_parameter_count() {
        let device = Device::flex();
        let model = MlpClassifierConfig::new([1, 28, 28], 10).init(&device);
        let logits = model.forward(Tensor::zeros([3, 1, 28, 28], &device));
        assert_eq!(logits.dims(), [3, 10]);
        // 784·512+512 + 512·256+256 + 256·10+10
        assert_eq!(
            model.num_params(),
            784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
        );
    }

    #[test]
    fn no_hidden_layer_is_softmax_regression() {
        let device = Device::flex();
        let model = MlpClassifierConfig::new([1, 2, 2], 3)
            .with_hidden(vec![])
            .init(&device);
        assert_eq!(model.num_params(), 4 * 3 + 3);
        assert_eq!(
            model.forward(Tensor::ones([2, 1, 2, 2], &device)).dims(),
            [2, 3]
        );
    }
}
