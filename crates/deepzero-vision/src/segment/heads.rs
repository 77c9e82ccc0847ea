//! torchvision's segmentation heads (`torchvision/models/segmentation/{fcn,deeplabv3}.py`):
//! `FCNHead` and `DeepLabHead` with its atrous spatial pyramid pooling (`ASPP`), kept as
//! `Vec`s of layers so that their parameters sit at torchvision's `nn.Sequential` indices
//! (`classifier.0.convs.1.0.weight`, `classifier.4.bias`, …).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::resize_bilinear;

/// One parameter-holding or parameter-free layer of a head's `nn.Sequential`.
#[derive(Module, Debug)]
pub enum BranchLayer {
    /// `nn.Conv2d`.
    Conv(Conv2d),
    /// `nn.BatchNorm2d`.
    BatchNorm(BatchNorm),
    /// `nn.ReLU`.
    Relu(Relu),
    /// `nn.Dropout` (active only while training).
    Dropout(Dropout),
    /// `nn.AdaptiveAvgPool2d(1)`: the image-level branch of ASPP.
    Pool(AdaptiveAvgPool2d),
}

impl BranchLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            BranchLayer::Conv(m) => m.forward(x),
            BranchLayer::BatchNorm(m) => m.forward(x),
            BranchLayer::Relu(m) => m.forward(x),
            BranchLayer::Dropout(m) => m.forward(x),
            BranchLayer::Pool(m) => m.forward(x),
        }
    }
}

/// Runs a sequence of layers.
pub(crate) fn run(layers: &[BranchLayer], x: Tensor<4>) -> Tensor<4> {
    layers.iter().fold(x, |x, l| l.forward(x))
}

/// Atrous spatial pyramid pooling (Chen et al. 2017, "Rethinking atrous convolution for semantic
/// image segmentation", §3.3): parallel `1×1`, three dilated `3×3` and an image-pooling branch,
/// concatenated and projected.
#[derive(Module, Debug)]
pub struct Aspp {
    /// `convs.0`: `[1×1 conv, BN, ReLU]`; `convs.1..=r`: `[3×3 conv dilation d, BN, ReLU]`;
    /// the last: `[global average pool, 1×1 conv, BN, ReLU]`, upsampled back.
    pub convs: Vec<Vec<BranchLayer>>,
    /// `[1×1 conv (branches·out → out), BN, ReLU, Dropout 0.5]`.
    pub project: Vec<BranchLayer>,
}

impl Aspp {
    /// torchvision's `ASPP(in_channels, atrous_rates, out_channels)`.
    pub fn new(in_channels: usize, rates: &[usize], out_channels: usize, device: &Device) -> Self {
        let mut convs = vec![conv_bn_relu([in_channels, out_channels], 1, 1, device)];
        for &rate in rates {
            convs.push(conv_bn_relu([in_channels, out_channels], 3, rate, device));
        }
        let mut pooling = vec![BranchLayer::Pool(
            AdaptiveAvgPool2dConfig::new([1, 1]).init(),
        )];
        pooling.extend(conv_bn_relu([in_channels, out_channels], 1, 1, device));
        convs.push(pooling);
        let branches = convs.len();
        let mut project = conv_bn_relu([branches * out_channels, out_channels], 1, 1, device);
        project.push(BranchLayer::Dropout(DropoutConfig::new(0.5).init()));
        Self { convs, project }
    }

    /// `[B, in, h, w] → [B, out, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let branches = self
            .convs
            .iter()
            .map(|branch| {
                let y = run(branch, x.clone());
                // The pooling branch is 1×1: spread it back over the map.
                resize_bilinear(y, [h, w])
            })
            .collect();
        run(&self.project, Tensor::cat(branches, 1))
    }
}

/// `conv k×k (dilation d, padding d·(k−1)/2, no bias) → BN → ReLU`.
pub(crate) fn conv_bn_relu(
    channels: [usize; 2],
    kernel: usize,
    dilation: usize,
    device: &Device,
) -> Vec<BranchLayer> {
    let pad = dilation * (kernel - 1) / 2;
    vec![
        BranchLayer::Conv(
            Conv2dConfig::new(channels, [kernel, kernel])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device),
        ),
        BranchLayer::BatchNorm(BatchNormConfig::new(channels[1]).init(device)),
        BranchLayer::Relu(Relu::new()),
    ]
}

/// One layer of a segmentation head (`classifier`, `aux_classifier`).
// ASPP is much larger than the other variants, but a head holds one.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum HeadLayer {
    /// DeepLab's ASPP (`classifier.0`).
    Aspp(Aspp),
    /// PSPNet's pyramid pooling module.
    Pyramid(super::pspnet::PyramidPooling),
    /// Any other layer.
    Layer(BranchLayer),
}

/// Runs a head: `[B, in, h, w] → [B, classes, h, w]`.
pub fn run_head(head: &[HeadLayer], x: Tensor<4>) -> Tensor<4> {
    head.iter().fold(x, |x, layer| match layer {
        HeadLayer::Aspp(m) => m.forward(x),
        HeadLayer::Pyramid(m) => m.forward(x),
        HeadLayer::Layer(m) => m.forward(x),
    })
}

fn layers(list: Vec<BranchLayer>) -> impl Iterator<Item = HeadLayer> {
    list.into_iter().map(HeadLayer::Layer)
}

/// torchvision's `FCNHead(in_channels, channels)`:
/// `[3×3 conv in → in/4 (no bias), BN, ReLU, Dropout 0.1, 1×1 conv in/4 → channels]`.
pub fn fcn_head(in_channels: usize, channels: usize, device: &Device) -> Vec<HeadLayer> {
    let inter = in_channels / 4;
    let mut head: Vec<HeadLayer> =
        layers(conv_bn_relu([in_channels, inter], 3, 1, device)).collect();
    head.push(HeadLayer::Layer(BranchLayer::Dropout(
        DropoutConfig::new(0.1).init(),
    )));
    head.push(HeadLayer::Layer(BranchLayer::Conv(
        Conv2dConfig::new([inter, channels], [1, 1]).init(device),
    )));
    head
}

/// torchvision's `DeepLabHead(in_channels, num_classes, atrous_rates)`, with ASPP's width
/// `aspp_channels` (torchvision: 256): `[ASPP, 3×3 conv (no bias), BN, ReLU, 1×1 conv → classes]`.
pub fn deeplab_head(
    in_channels: usize,
    num_classes: usize,
    rates: &[usize],
    aspp_channels: usize,
    device: &Device,
) -> Vec<HeadLayer> {
    let mut head = vec![HeadLayer::Aspp(Aspp::new(
        in_channels,
        rates,
        aspp_channels,
        device,
    ))];
    head.extend(layers(conv_bn_relu(
        [aspp_channels, aspp_channels],
        3,
        1,
        device,
    )));
    head.push(HeadLayer::Layer(BranchLayer::Conv(
        Conv2dConfig::new([aspp_channels, num_classes], [1, 1]).init(device),
    )));
    head
}
