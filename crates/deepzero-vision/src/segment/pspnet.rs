//! PSPNet (Zhao, Shi, Qi, Wang & Jia, "Pyramid scene parsing network", CVPR 2017): a dilated
//! ResNet (output stride 8) whose last stage feeds a *pyramid pooling module* — the feature map
//! average-pooled to `1×1`, `2×2`, `3×3` and `6×6` bins, each reduced by a `1×1` conv to
//! `in / 4` channels, upsampled back and concatenated with the map — then a `3×3` conv, dropout
//! 0.1 and a `1×1` classifier, upsampled bilinearly to the input.
//!
//! ```text
//! [B,3,H,W] → ResNet (dilated) → layer4 c@H/8 ─┬──────────────────────────────┐
//!                                              ├ pool 1×1 → 1×1 conv c/4 → up ┤
//!                                              ├ pool 2×2 → 1×1 conv c/4 → up ┤ concat 2c
//!                                              ├ pool 3×3 → 1×1 conv c/4 → up ┤
//!                                              └ pool 6×6 → 1×1 conv c/4 → up ┘
//!           → 3×3 conv 512 → BN → ReLU → dropout 0.1 → 1×1 → classes → bilinear ×8
//! ```
//! torchvision has no PSPNet, so there are no weights to import; the model is the same
//! [`SimpleSegmentationModel`] as [`super::DeepLabV3`] with [`psp_head`] as its classifier
//! (and the optional `FCNHead` on `layer3`: the paper's deep supervision, weight 0.4).

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::prelude::*;

use super::heads::{BranchLayer, HeadLayer, conv_bn_relu, fcn_head, run};
use super::resize_bilinear;
use super::simple::SimpleSegmentationModel;
use crate::ResNetConfig;

/// PSPNet: a [`SimpleSegmentationModel`] with a pyramid-pooling head.
pub type PspNet = SimpleSegmentationModel;

/// Configuration of [`PspNet`].
#[derive(Config, Debug)]
pub struct PspNetConfig {
    /// The backbone (its `num_classes` is irrelevant: `fc` is not run). Use
    /// [`ResNetConfig::dilated`] for the paper's output stride 8.
    pub backbone: ResNetConfig,
    /// Output classes.
    pub num_classes: usize,
    /// The pooled grids' sides (the paper: 1, 2, 3, 6).
    #[config(default = "vec![1, 2, 3, 6]")]
    pub bins: Vec<usize>,
    /// Channels of the `3×3` conv after the pyramid (the paper: 512).
    #[config(default = 512)]
    pub head_channels: usize,
    /// Build the auxiliary `FCNHead` on `layer3`.
    #[config(default = false)]
    pub aux: bool,
}

impl PspNetConfig {
    /// The paper's PSPNet on a dilated ResNet-50.
    pub fn resnet50(num_classes: usize, aux: bool) -> Self {
        Self::new(ResNetConfig::resnet50(1).dilated(), num_classes).with_aux(aux)
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> PspNet {
        let stage4 = 8 * self.backbone.base_channels * self.backbone.block.expansion();
        SimpleSegmentationModel {
            backbone: self.backbone.init(device),
            classifier: psp_head(
                stage4,
                self.num_classes,
                &self.bins,
                self.head_channels,
                device,
            ),
            aux_classifier: self
                .aux
                .then(|| fcn_head(stage4 / 2, self.num_classes, device)),
        }
    }
}

/// The pyramid pooling module: `[B, c, h, w] → [B, c + bins · c/bins, h, w]`.
#[derive(Module, Debug)]
pub struct PyramidPooling {
    /// One branch per bin size: `[adaptive average pool to b×b, 1×1 conv c → c/bins, BN, ReLU]`.
    pub branches: Vec<Vec<BranchLayer>>,
    #[module(skip)]
    pools: Vec<usize>,
}

impl PyramidPooling {
    /// The module for `in_channels` channels and pooled grids `bins` (each branch gets
    /// `in_channels / bins.len()` channels, the paper's `1/N`).
    pub fn new(in_channels: usize, bins: &[usize], device: &Device) -> Self {
        let reduced = in_channels / bins.len().max(1);
        let branches = bins
            .iter()
            .map(|&bin| {
                let mut branch = vec![BranchLayer::Pool(adaptive_pool(bin))];
                branch.extend(conv_bn_relu([in_channels, reduced], 1, 1, device));
                branch
            })
            .collect();
        Self {
            branches,
            pools: bins.to_vec(),
        }
    }

    /// Output channels for `in_channels` input channels.
    pub fn out_channels(in_channels: usize, bins: &[usize]) -> usize {
        in_channels + bins.len() * (in_channels / bins.len().max(1))
    }

    /// # Shapes
    /// - `x`: `[B, c, h, w]` → `[B, c + bins · c/bins, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let mut maps = vec![x.clone()];
        maps.extend(
            self.branches
                .iter()
                .map(|branch| resize_bilinear(run(branch, x.clone()), [h, w])),
        );
        Tensor::cat(maps, 1)
    }

    /// The pooled grids' sides.
    pub fn bins(&self) -> &[usize] {
        &self.pools
    }
}

fn adaptive_pool(bin: usize) -> AdaptiveAvgPool2d {
    AdaptiveAvgPool2dConfig::new([bin, bin]).init()
}

/// PSPNet's head: `[PPM, 3×3 conv (no bias) → head_channels, BN, ReLU, Dropout 0.1, 1×1 conv →
/// classes]`.
pub fn psp_head(
    in_channels: usize,
    num_classes: usize,
    bins: &[usize],
    head_channels: usize,
    device: &Device,
) -> Vec<HeadLayer> {
    let pyramid = PyramidPooling::out_channels(in_channels, bins);
    let mut head = vec![HeadLayer::Pyramid(PyramidPooling::new(
        in_channels,
        bins,
        device,
    ))];
    head.extend(
        conv_bn_relu([pyramid, head_channels], 3, 1, device)
            .into_iter()
            .map(HeadLayer::Layer),
    );
    head.push(HeadLayer::Layer(BranchLayer::Dropout(
        burn::nn::DropoutConfig::new(0.1).init(),
    )));
    head.push(HeadLayer::Layer(BranchLayer::Conv(
        burn::nn::conv::Conv2dConfig::new([head_channels, num_classes], [1, 1]).init(device),
    )));
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;

    fn small(aux: bool) -> PspNetConfig {
        PspNetConfig::new(
            ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1)
                .with_base_channels(4)
                .dilated(),
            3,
        )
        .with_head_channels(8)
        .with_aux(aux)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        let model = small(true).init(&device);
        let (out, aux) = model.forward_with_aux(Tensor::zeros([2, 3, 40, 24], &device));
        assert_eq!(out.dims(), [2, 3, 40, 24]);
        assert_eq!(aux.unwrap().dims(), [2, 3, 40, 24]);
        // layer4 has c = 8 · 4 · 4 = 128 channels; the pyramid adds 4 branches of 32.
        assert_eq!(PyramidPooling::out_channels(128, &[1, 2, 3, 6]), 256);
        let ppm = PyramidPooling::new(128, &[1, 2, 3, 6], &device);
        // Each branch: 1×1 conv 128 → 32 (no bias) + BN (γ, β).
        assert_eq!(crate::trainable_params(&ppm), 4 * (128 * 32 + 2 * 32));
        assert_eq!(ppm.bins(), [1, 2, 3, 6]);
    }

    /// PyTorch's adaptive average pooling: bin `i` of `b` over a side of `n` covers
    /// `⌊i·n/b⌋ .. ⌈(i+1)·n/b⌉` (the windows overlap when `b` does not divide `n`).
    fn torch_adaptive_avg(x: &[f32], n: usize, b: usize) -> Vec<f32> {
        let range = |i: usize| (i * n / b, ((i + 1) * n).div_ceil(b));
        let mut out = Vec::new();
        for i in 0..b {
            for j in 0..b {
                let ((y0, y1), (x0, x1)) = (range(i), range(j));
                let mut sum = 0.0;
                for y in y0..y1 {
                    for xx in x0..x1 {
                        sum += x[y * n + xx];
                    }
                }
                out.push(sum / ((y1 - y0) * (x1 - x0)) as f32);
            }
        }
        out
    }

    #[test]
    fn pyramid_bins_pool_as_pytorch_does_on_sides_they_do_not_divide() {
        let device = Device::flex();
        let n = 7;
        let values: Vec<f32> = (0..n * n).map(|i| ((i * 37) % 11) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 1, n, n]), &device);
        for bin in [1, 2, 3, 6] {
            let got: Vec<f32> = adaptive_pool(bin)
                .forward(x.clone())
                .into_data()
                .try_into_vec()
                .unwrap();
            let want = torch_adaptive_avg(&values, n, bin);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "bin {bin}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn the_global_branch_is_constant_and_the_input_passes_through() {
        let device = Device::flex();
        let ppm = PyramidPooling::new(8, &[1, 2], &device);
        let x = Tensor::<4>::random([1, 8, 6, 6], burn::tensor::Distribution::Default, &device);
        let y = ppm.forward(x.clone());
        assert_eq!(y.dims(), [1, 16, 6, 6]);
        let passed: Vec<f32> = y
            .clone()
            .narrow(1, 0, 8)
            .into_data()
            .try_into_vec()
            .unwrap();
        let input: Vec<f32> = x.into_data().try_into_vec().unwrap();
        assert_eq!(passed, input);
        // The 1×1 bin's channels (8..12) hold one value per channel over the whole map.
        let global: Vec<f32> = y.narrow(1, 8, 4).into_data().try_into_vec().unwrap();
        for channel in global.chunks(36) {
            assert!(channel.iter().all(|v| (v - channel[0]).abs() < 1e-6));
        }
    }
}
