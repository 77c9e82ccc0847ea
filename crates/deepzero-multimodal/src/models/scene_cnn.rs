//! The image tower of the scene models: a small VGG-style CNN (the blocks of
//! `deepzero_vision::classify::SmallCnn`, one block deeper) that keeps its last feature map,
//! because the joint embedding needs *where* things are and the captioner attends over the map's
//! regions (Xu et al. 2015, "Show, Attend and Tell", uses a CNN's last convolutional map the
//! same way).
//!
//! ```text
//! [B,1,S,S] → conv3·BN·ReLU (w)  → max 2×2 → [B,w,S/2,S/2]
//!           → conv3·BN·ReLU (2w) → max 2×2 → [B,2w,S/4,S/4]
//!           → conv3·BN·ReLU (4w) → max 2×2 → conv3·BN·ReLU (4w) → [B,4w,S/8,S/8]
//! ```
//! At `S = 64`, `w = 16` the map is 8×8 regions of 64 channels (≈12 M multiply-adds per image).

use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use deepzero_vision::classify::small_cnn::ConvBnRelu;

/// Configuration of [`SceneCnn`].
#[derive(Config, Debug)]
pub struct SceneCnnConfig {
    /// Side of the square input (a multiple of 8).
    pub input_size: usize,
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Channels of the first block; then 2·w and 4·w.
    #[config(default = 16)]
    pub width: usize,
}

impl SceneCnnConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> SceneCnn {
        let w = self.width;
        SceneCnn {
            blocks: vec![
                ConvBnRelu::new(self.in_channels, w, device),
                ConvBnRelu::new(w, 2 * w, device),
                ConvBnRelu::new(2 * w, 4 * w, device),
                ConvBnRelu::new(4 * w, 4 * w, device),
            ],
            pool: MaxPool2dConfig::new([2, 2]).init(),
            input_size: self.input_size,
            width: w,
        }
    }

    /// Channels of the feature map (`4·width`).
    pub fn channels(&self) -> usize {
        4 * self.width
    }

    /// Side of the feature map (`input_size / 8`).
    pub fn map_side(&self) -> usize {
        self.input_size / 8
    }
}

/// Four convolution blocks, three of them followed by 2×2 max-pooling.
#[derive(Module, Debug)]
pub struct SceneCnn {
    /// The convolution blocks.
    pub blocks: Vec<ConvBnRelu>,
    pool: MaxPool2d,
    /// Input side.
    pub input_size: usize,
    /// First block's channels.
    pub width: usize,
}

impl SceneCnn {
    /// The last feature map.
    ///
    /// # Shapes
    /// - images: `[B, C, S, S]`
    /// - output: `[B, 4w, S/8, S/8]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = images;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if i < 3 {
                x = self.pool.forward(x);
            }
        }
        x
    }

    /// The feature map as a sequence of region vectors, row by row (what attention reads).
    ///
    /// # Shapes
    /// - images: `[B, C, S, S]`
    /// - output: `[B, (S/8)², 4w]`
    pub fn regions(&self, images: Tensor<4>) -> Tensor<3> {
        let map = self.forward(images); // [B, C, h, w]
        map.flatten::<3>(2, 3).swap_dims(1, 2) // [B, h·w, C]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        let config = SceneCnnConfig::new(64);
        let cnn = config.init(&device);
        let x = Tensor::<4>::ones([2, 1, 64, 64], &device);
        assert_eq!(cnn.forward(x.clone()).dims(), [2, 64, 8, 8]);
        assert_eq!(cnn.regions(x).dims(), [2, 64, 64]);
        // conv weights 9·(1·16 + 16·32 + 32·64 + 64·64), and per BN channel γ, β plus the
        // running mean and variance (burn's `num_params` counts those records too).
        let expected = 9 * (16 + 16 * 32 + 32 * 64 + 64 * 64) + 4 * (16 + 32 + 64 + 64);
        assert_eq!(cnn.num_params(), expected);
        assert_eq!((config.channels(), config.map_side()), (64, 8));
    }

    #[test]
    fn regions_are_the_map_read_row_by_row() {
        let device = Device::flex();
        let cnn = SceneCnnConfig::new(16).with_width(2).init(&device);
        let x = Tensor::<4>::random([1, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let map = cnn.forward(x.clone()); // [1, 8, 2, 2]
        let regions = cnn.regions(x); // [1, 4, 8]
        // Region 1 is row 0, column 1.
        let a = map.slice(s![0, .., 0, 1]).reshape([8]);
        let b = regions.slice(s![0, 1, ..]).reshape([8]);
        a.to_data()
            .assert_approx_eq::<f32>(&b.to_data(), burn::tensor::Tolerance::default());
    }
}
