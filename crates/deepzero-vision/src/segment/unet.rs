//! U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional networks for biomedical image
//! segmentation", MICCAI 2015), with a width and a depth knob.
//!
//! ```text
//! [B,C,H,W] → DoubleConv w ──────────────────────────────────────────────┐ skip
//!   → max 2×2 → DoubleConv 2w ─────────────────────────────────┐ skip    │
//!     → …  (depth times)                                        │         │
//!       → bottom 2^depth·w @ H/2^depth                          │         │
//!     ← up ×2 (2w→w channels) ⊕ skip → DoubleConv 2w→w ←───────┘         │
//!   ← …                                                                   │
//! ← up ×2 ⊕ skip → DoubleConv 2w → w ←───────────────────────────────────┘
//! → 1×1 conv → [B, classes, H, W]
//! ```
//! `DoubleConv` is two `3×3 conv → BN → ReLU`. The paper's network is `width = 64, depth = 4`
//! ([`UNetConfig::paper`], 31.0 M parameters with transposed-convolution upsampling for 2
//! classes); the digit recipes use `width = 16`.
//!
//! Two departures from the paper, both as in the widely used PyTorch re-implementations:
//! the convolutions are padded (the output has the input's size, so no crop of the skip
//! connection and no tiling of the input are needed), and each convolution is followed by batch
//! normalisation (the paper predates it). Upsampling is the paper's "up-convolution" (a 2×2
//! stride-2 transposed convolution halving the channels) or, with
//! [`Upsampling::Bilinear`], a bilinear ×2 resize followed by a 1×1 convolution halving them.
//! When a side is not a multiple of `2^depth`, the upsampled map is zero-padded on its bottom
//! and right to the skip connection's size.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::ops::PadMode;

use super::resize_bilinear;
use crate::classify::zoo::kaiming_normal_fan_out;

/// How a U-Net's decoder doubles the resolution.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Upsampling {
    /// The paper's 2×2 stride-2 transposed convolution ("up-convolution"), learned.
    Transposed,
    /// Bilinear ×2 resize then a 1×1 convolution (fewer parameters, no checkerboard).
    Bilinear,
}

/// Configuration of [`UNet`].
#[derive(Config, Debug)]
pub struct UNetConfig {
    /// Input channels (1 for grey digits, 3 for photographs).
    pub in_channels: usize,
    /// Output classes (background included).
    pub num_classes: usize,
    /// Channels of the first level; level `i` has `width · 2^i` (the paper: 64).
    #[config(default = 64)]
    pub width: usize,
    /// Number of 2×2 poolings (the paper: 4).
    #[config(default = 4)]
    pub depth: usize,
    /// The decoder's upsampling.
    #[config(default = "Upsampling::Transposed")]
    pub upsampling: Upsampling,
}

impl UNetConfig {
    /// The paper's network (width 64, depth 4, up-convolutions).
    pub fn paper(in_channels: usize, num_classes: usize) -> Self {
        Self::new(in_channels, num_classes)
    }

    /// Builds the network on `device`: convolutions Kaiming-normal (fan-out), BN γ = 1, β = 0.
    pub fn init(&self, device: &Device) -> UNet {
        let w = self.width;
        let mut down = Vec::with_capacity(self.depth);
        for level in 1..=self.depth {
            down.push(DoubleConv::new(w << (level - 1), w << level, device));
        }
        let up = (1..=self.depth)
            .rev()
            .map(|level| UpBlock::new(w << level, self.upsampling, device))
            .collect();
        UNet {
            inc: DoubleConv::new(self.in_channels, w, device),
            down,
            up,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            head: Conv2dConfig::new([w, self.num_classes], [1, 1]).init(device),
        }
    }
}

fn conv3x3(channels: [usize; 2], device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .with_initializer(kaiming_normal_fan_out())
        .init(device)
}

/// `(3×3 conv → BN → ReLU) × 2`.
#[derive(Module, Debug)]
pub struct DoubleConv {
    /// Weight `[out, in, 3, 3]`, no bias.
    pub conv1: Conv2d,
    /// Over `out` channels.
    pub bn1: BatchNorm,
    /// Weight `[out, out, 3, 3]`, no bias.
    pub conv2: Conv2d,
    /// Over `out` channels.
    pub bn2: BatchNorm,
    relu: Relu,
}

impl DoubleConv {
    fn new(in_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3([in_channels, out_channels], device),
            bn1: BatchNormConfig::new(out_channels).init(device),
            conv2: conv3x3([out_channels, out_channels], device),
            bn2: BatchNormConfig::new(out_channels).init(device),
            relu: Relu::new(),
        }
    }

    /// `[B, in, H, W] → [B, out, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        self.relu.forward(self.bn2.forward(self.conv2.forward(x)))
    }
}

/// One decoder level: upsample `2c → c` channels, concatenate the skip (`c`), `DoubleConv 2c → c`.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// The up-convolution, weight `[2c, c, 2, 2]` (transposed upsampling).
    pub up_transposed: Option<ConvTranspose2d>,
    /// The 1×1 channel-halving convolution after a bilinear resize.
    pub up_reduce: Option<Conv2d>,
    /// After the concatenation.
    pub conv: DoubleConv,
}

impl UpBlock {
    fn new(in_channels: usize, upsampling: Upsampling, device: &Device) -> Self {
        let half = in_channels / 2;
        let (up_transposed, up_reduce) = match upsampling {
            Upsampling::Transposed => (
                Some(
                    ConvTranspose2dConfig::new([in_channels, half], [2, 2])
                        .with_stride([2, 2])
                        .init(device),
                ),
                None,
            ),
            Upsampling::Bilinear => (
                None,
                Some(Conv2dConfig::new([in_channels, half], [1, 1]).init(device)),
            ),
        };
        Self {
            up_transposed,
            up_reduce,
            conv: DoubleConv::new(in_channels, half, device),
        }
    }

    /// # Shapes
    /// - x: `[B, 2c, h, w]`, skip: `[B, c, H, W]` with `H ∈ {2h, 2h+1}` (likewise W)
    /// - output: `[B, c, H, W]`
    pub fn forward(&self, x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = skip.dims();
        let x = match (&self.up_transposed, &self.up_reduce) {
            (Some(up), _) => up.forward(x), // [B, c, 2h, 2w]
            (None, Some(reduce)) => {
                let [_, _, xh, xw] = x.dims();
                reduce.forward(resize_bilinear(x, [2 * xh, 2 * xw]))
            }
            (None, None) => unreachable!("an UpBlock has one upsampling layer"),
        };
        let [_, _, uh, uw] = x.dims();
        // Odd sizes: the pooling floored, so the upsampled map is one row/column short.
        let x = if (uh, uw) != (h, w) {
            x.pad(
                [(0, h.saturating_sub(uh)), (0, w.saturating_sub(uw))],
                PadMode::Constant(0.0),
            )
        } else {
            x
        };
        self.conv.forward(Tensor::cat(vec![skip, x], 1))
    }
}

/// U-Net: a contracting path of `depth` poolings, an expanding path with skip connections, and a
/// 1×1 classifier per pixel.
#[derive(Module, Debug)]
pub struct UNet {
    /// The first level, `in_channels → width`.
    pub inc: DoubleConv,
    /// Encoder levels 1..=depth, each after a 2×2 max-pool: `width·2^(i−1) → width·2^i`.
    pub down: Vec<DoubleConv>,
    /// Decoder levels, deepest first.
    pub up: Vec<UpBlock>,
    pool: MaxPool2d,
    /// Per-pixel classifier, weight `[classes, width, 1, 1]`.
    pub head: Conv2d,
}

impl UNet {
    /// # Shapes
    /// - images: `[B, C, H, W]`, any `H, W ≥ 2^depth`
    /// - output: `[B, num_classes, H, W]` (logits)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = self.inc.forward(images); // [B, w, H, W]
        let mut skips = Vec::with_capacity(self.down.len());
        for level in &self.down {
            skips.push(x.clone());
            x = level.forward(self.pool.forward(x)); // [B, 2c, h/2, w/2]
        }
        for (block, skip) in self.up.iter().zip(skips.into_iter().rev()) {
            x = block.forward(x, skip);
        } // [B, w, H, W]
        self.head.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainable_params;

    #[test]
    fn output_has_the_input_size_with_either_upsampling() {
        let device = Device::flex();
        for upsampling in [Upsampling::Transposed, Upsampling::Bilinear] {
            let model = UNetConfig::new(1, 11)
                .with_width(4)
                .with_depth(3)
                .with_upsampling(upsampling)
                .init(&device);
            // 30 is not a multiple of 8 (30 → 15 → 7 → 3): the decoder pads 6 → 7 and 14 → 15.
            for side in [32, 30] {
                let y = model.forward(Tensor::zeros([2, 1, side, side + 2], &device));
                assert_eq!(y.dims(), [2, 11, side, side + 2], "{upsampling:?} {side}");
            }
        }
    }

    #[test]
    fn paper_parameter_count() {
        // The PyTorch re-implementation with the same layers (padded 3×3 convs without bias +
        // BN, ConvTranspose2d(2c, c, 2, stride 2) with bias, 1×1 head) has
        // sum(p.numel()) = 31 036 546 for (1 channel, 2 classes): levels 64…1024
        // (28 947 586 with the bilinear + 1×1 upsampling).
        let device = Device::flex();
        let model = UNetConfig::paper(1, 2).init(&device);
        assert_eq!(trainable_params(&model), 31_036_546);
        let bilinear = UNetConfig::paper(1, 2)
            .with_upsampling(Upsampling::Bilinear)
            .init(&device);
        assert_eq!(trainable_params(&bilinear), 28_947_586);
        assert_eq!(model.down.len(), 4);
    }

    #[test]
    fn width_and_depth_knobs() {
        let device = Device::flex();
        let model = UNetConfig::new(3, 5)
            .with_width(8)
            .with_depth(2)
            .init(&device);
        assert_eq!(model.down.len(), 2);
        assert_eq!(model.down[1].conv2.weight.dims(), [32, 32, 3, 3]);
        assert_eq!(model.head.weight.dims(), [5, 8, 1, 1]);
    }
}
