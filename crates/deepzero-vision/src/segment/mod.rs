//! Semantic segmentation (seed chapter 3.3): a class for every pixel.
//!
//! | piece | file |
//! |---|---|
//! | [`ConfusionMatrix`] — pixel accuracy, per-class and mean IoU, Dice, ignore index 255 | `metrics.rs` |
//! | [`MaskedImages`], [`read_mask_png`], [`MaskAugmentation`], [`SegmentBatcher`] — images with class-index masks | `data.rs` |
//! | [`PhotoMasks`], [`ClassTable`] — photographs with masks in coco128's layout (`semantic.yaml`, `images/`, `semantic_masks/`) | `photos.rs` |
//! | [`overlay`], [`class_colour`] — masks drawn in PASCAL VOC's colours | `draw.rs` |
//! | [`UNet`] — Ronneberger et al. 2015, width/depth knobs, transposed or bilinear upsampling | `unet.rs` |
//! | [`DeepLabV3`] — DeepLab v3 (ASPP on a dilated ResNet), torchvision's `deeplabv3_resnet50` | `deeplab.rs`, `heads.rs`, `simple.rs` |
//! | [`DeepLabV3Plus`] — DeepLab v3+ (v3's encoder + a decoder at `layer1`'s resolution) | `deeplab_plus.rs` |
//! | [`PspNet`] — PSPNet (pyramid pooling module on a dilated ResNet; no torchvision weights exist) | `pspnet.rs` |
//! | [`Fcn`] — torchvision's `fcn_resnet50` (FCN head on a dilated ResNet) | `fcn.rs` |
//! | [`FcnVgg`] — the paper's FCN-32s/16s/8s on a VGG trunk, skips fused by bilinear-initialised up-convolutions | `fcn_vgg.rs` |
//! | [`load_torchvision_segmenter`] — torchvision's FCN / DeepLab weights | `simple.rs` |
//! | [`import`] — torchvision's FCN / DeepLab weights → a `voc-segment` run folder | `import.rs` |
//! | [`task`] — digit scenes → trained segmenter in a run folder, evaluation, [`task::Predictor`] | `task.rs` |
//!
//! Every segmenter maps images `[B, C, H, W]` to per-pixel logits `[B, classes, H, W]`
//! ([`Segmenter`]) and trains on a [`SegmentBatch`] with the per-pixel cross-entropy of
//! [`segmentation_step`], pixels labelled [`IGNORE_INDEX`] left out.

pub mod data;
pub mod deeplab;
pub mod deeplab_plus;
pub mod draw;
pub mod fcn;
pub mod fcn_vgg;
pub mod heads;
pub mod import;
pub mod metrics;
pub mod photos;
pub mod pspnet;
pub mod simple;
pub mod task;
pub mod unet;

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use deepzero_train::{ClassificationStep, Supervised};

pub use data::{
    AugmentedMasks, MaskAugmentation, MaskedImage, MaskedImages, SegmentBatcher, read_mask_png,
    write_mask_png,
};
pub use deeplab::{DeepLabV3, DeepLabV3Config};
pub use deeplab_plus::{DeepLabV3Plus, DeepLabV3PlusConfig};
pub use draw::{class_colour, mask_to_rgb, overlay};
pub use fcn::{Fcn, FcnConfig};
pub use fcn_vgg::{FcnStride, FcnVgg, FcnVggConfig};
pub use metrics::{ConfusionMatrix, IGNORE_INDEX, MetricError};
pub use photos::{ClassTable, PhotoMasks};
pub use pspnet::{PspNet, PspNetConfig, PyramidPooling};
pub use simple::{SimpleSegmentationModel, load_torchvision_segmenter};
pub use unet::{UNet, UNetConfig, Upsampling};

/// A model that assigns class logits to every pixel.
pub trait Segmenter: Module {
    /// # Shapes
    /// - images: `[B, C, H, W]`
    /// - output: `[B, num_classes, H, W]` (logits, no softmax)
    fn segment(&self, images: Tensor<4>) -> Tensor<4>;
}

/// Images and their class-index masks.
#[derive(Clone, Debug)]
pub struct SegmentBatch {
    /// Normalised images `[B, C, H, W]`.
    pub images: Tensor<4>,
    /// Class ids `[B, H, W]`; [`IGNORE_INDEX`] where no class counts.
    pub masks: Tensor<3, Int>,
}

/// The mean per-pixel softmax cross-entropy of `logits` `[B, K, H, W]` against `masks`
/// `[B, H, W]`, over the pixels whose mask is not [`IGNORE_INDEX`] (PyTorch's
/// `F.cross_entropy(logits, masks, ignore_index=255)`). The returned step's `logits` are
/// `[B·H·W, K]` and its `targets` `[B·H·W]` (ignored pixels keep 255 and never count as
/// correct). Every other mask value must be below `K`.
pub fn segmentation_step(logits: Tensor<4>, masks: Tensor<3, Int>) -> ClassificationStep {
    let [b, k, h, w] = logits.dims();
    let logits = logits.permute([0, 2, 3, 1]).reshape([b * h * w, k]); // [N, K]
    let targets: Tensor<1, Int> = masks.reshape([b * h * w]); // [N]
    let ignored = targets.clone().equal_elem(IGNORE_INDEX as i64);
    let valid = ignored.clone().bool_not().float(); // [N]
    let safe = targets.clone().mask_fill(ignored, 0); // gather needs an index in range
    let picked = log_softmax(logits.clone(), 1)
        .gather(1, safe.unsqueeze_dim(1))
        .squeeze_dim::<1>(1); // [N]
    let counted = valid.clone().sum().clamp_min(1.0);
    let loss = (picked * valid).sum().neg() / counted;
    ClassificationStep {
        loss,
        logits,
        targets,
    }
}

/// Bilinear resize of `[B, C, h, w]` to `[B, C, H, W]` with `align_corners = false`
/// (PyTorch's `F.interpolate(x, size, mode="bilinear", align_corners=False)`, what torchvision's
/// segmentation heads use).
pub fn resize_bilinear(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size(size),
    )
}

macro_rules! supervised_segmenter {
    ($($model:ty),*) => {$(
        impl Supervised for $model {
            type Batch = SegmentBatch;
            fn step(&self, batch: SegmentBatch) -> ClassificationStep {
                segmentation_step(self.segment(batch.images), batch.masks)
            }
        }
    )*};
}
supervised_segmenter!(
    UNet,
    SimpleSegmentationModel,
    DeepLabV3Plus,
    FcnVgg,
    SegmentModel
);

impl Segmenter for UNet {
    fn segment(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward(images)
    }
}

impl Segmenter for SimpleSegmentationModel {
    fn segment(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward(images)
    }
}

impl Segmenter for FcnVgg {
    fn segment(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward(images)
    }
}

impl Segmenter for DeepLabV3Plus {
    fn segment(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward(images)
    }
}

/// Any of the segmenters, chosen at run time (what the recipes train and checkpoint).
// One value per run: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SegmentModel {
    /// A U-Net.
    UNet(UNet),
    /// DeepLab v3 or FCN on a ResNet.
    ResNetHead(SimpleSegmentationModel),
    /// DeepLab v3+.
    DeepLabV3Plus(DeepLabV3Plus),
    /// The paper's FCN on VGG.
    FcnVgg(FcnVgg),
}

impl Segmenter for SegmentModel {
    fn segment(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            SegmentModel::UNet(m) => m.forward(images),
            SegmentModel::ResNetHead(m) => m.forward(images),
            SegmentModel::DeepLabV3Plus(m) => m.forward(images),
            SegmentModel::FcnVgg(m) => m.forward(images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::tensor::Tolerance;

    #[test]
    fn loss_equals_burn_cross_entropy_on_the_counted_pixels() {
        let device = Device::flex();
        // [1, 3, 1, 4]: four pixels, the third ignored.
        let logits = Tensor::<4>::from_data(
            [[
                [[2.0, 0.1, 5.0, -1.0]],
                [[0.5, 0.2, -3.0, 0.0]],
                [[-1.0, 3.0, 0.0, 1.0]],
            ]],
            &device,
        );
        let masks = Tensor::<3, Int>::from_data([[[0, 2, 255, 1]]], &device);
        let step = segmentation_step(logits, masks);
        let kept = Tensor::<2>::from_data(
            [[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [-1.0, 0.0, 1.0]],
            &device,
        );
        let reference = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(kept, Tensor::<1, Int>::from_data([0, 2, 1], &device));
        step.loss
            .to_data()
            .assert_approx_eq::<f32>(&reference.to_data(), Tolerance::rel_abs(1e-5, 1e-6));
        assert_eq!(step.len(), 4);
        // Pixels 0 and 1 are right, 3 is not (argmax 2), 2 is ignored.
        assert_eq!(step.correct(), 2);
    }

    #[test]
    fn all_ignored_gives_zero_loss() {
        let device = Device::flex();
        let step = segmentation_step(
            Tensor::<4>::ones([1, 2, 2, 2], &device),
            Tensor::<3, Int>::full([1, 2, 2], 255, &device),
        );
        assert_eq!(step.loss.into_scalar::<f32>(), 0.0);
    }

    #[test]
    fn bilinear_resize_matches_pytorch() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear",
        //               align_corners=False)
        let device = Device::flex();
        let x = Tensor::<4>::from_data([[[[1.0, 2.0], [3.0, 4.0]]]], &device);
        let y = resize_bilinear(x, [4, 4]);
        let expected = Tensor::<4>::from_data(
            [[[
                [1.0, 1.25, 1.75, 2.0],
                [1.5, 1.75, 2.25, 2.5],
                [2.5, 2.75, 3.25, 3.5],
                [3.0, 3.25, 3.75, 4.0],
            ]]],
            &device,
        );
        y.to_data()
            .assert_approx_eq::<f32>(&expected.to_data(), Tolerance::rel_abs(1e-5, 1e-6));
    }
}
