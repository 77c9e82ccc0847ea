//! torchvision's `_SimpleSegmentationModel`: a ResNet backbone whose last stage (and, for the
//! auxiliary head, the stage before) feeds a per-pixel head, upsampled bilinearly to the input
//! size. [`DeepLabV3`](super::DeepLabV3) and [`Fcn`](super::Fcn) are this model with
//! different heads.
//!
//! # torchvision keys
//! `backbone.conv1.weight`, `backbone.layer3.1.conv2.weight`, … (torchvision's
//! `IntermediateLayerGetter` keeps the ResNet's attribute names), `classifier.<i>.…`,
//! `aux_classifier.<i>.…` at the `nn.Sequential` indices of the heads ([`super::heads`]).
//! The backbone is the zoo's [`ResNet`], whose classifier `fc` the segmenter never runs:
//! torchvision's getter drops it, so the weight files have no `backbone.fc.*` (the import
//! accepts exactly that gap) and [`SimpleSegmentationModel::torchvision_params`] leaves it out.

use burn::prelude::*;

use super::heads::{HeadLayer, fcn_head, run_head};
use super::resize_bilinear;
use crate::{ImportError, ImportOptions, ResNet, ResNetConfig, load_torchvision_with};

/// A ResNet backbone with a main and an optional auxiliary segmentation head.
#[derive(Module, Debug)]
pub struct SimpleSegmentationModel {
    /// The (usually dilated) ResNet; its `fc` is unused.
    pub backbone: ResNet,
    /// The head on `layer4`.
    pub classifier: Vec<HeadLayer>,
    /// The auxiliary head on `layer3` (trained with a lower weight in torchvision's recipe).
    pub aux_classifier: Option<Vec<HeadLayer>>,
}

impl SimpleSegmentationModel {
    /// Builds `backbone`, the main head `classifier(channels of layer4)` and, with `aux`,
    /// torchvision's auxiliary `FCNHead` on `layer3`, in that order (the order of the random
    /// initialisation).
    pub(crate) fn with_heads(
        backbone: &ResNetConfig,
        num_classes: usize,
        aux: bool,
        classifier: impl FnOnce(usize) -> Vec<HeadLayer>,
        device: &Device,
    ) -> Self {
        let stage4 = 8 * backbone.base_channels * backbone.block.expansion();
        Self {
            backbone: backbone.init(device),
            classifier: classifier(stage4),
            aux_classifier: aux.then(|| fcn_head(stage4 / 2, num_classes, device)),
        }
    }

    /// # Shapes
    /// - images: `[B, C, H, W]`
    /// - output: `[B, classes, H, W]` (torchvision's `out`)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = images.dims();
        let [_, _, _, c4] = self.backbone.stages(images);
        resize_bilinear(run_head(&self.classifier, c4), [h, w])
    }

    /// The main and (when the model has the head) auxiliary outputs, both `[B, classes, H, W]`
    /// (torchvision's `out` and `aux`).
    pub fn forward_with_aux(&self, images: Tensor<4>) -> (Tensor<4>, Option<Tensor<4>>) {
        let [_, _, h, w] = images.dims();
        let [_, _, c3, c4] = self.backbone.stages(images);
        let out = resize_bilinear(run_head(&self.classifier, c4), [h, w]);
        let aux = self
            .aux_classifier
            .as_ref()
            .map(|head| resize_bilinear(run_head(head, c3), [h, w]));
        (out, aux)
    }

    /// Trainable parameters as torchvision counts them: without the unused `backbone.fc`.
    pub fn torchvision_params(&self) -> usize {
        crate::trainable_params(self) - crate::trainable_params(&self.backbone.fc)
    }
}

/// Loads torchvision's weights of `fcn_resnet50` / `deeplabv3_resnet50` (or any model of this
/// shape: a `.pth`/`.safetensors` state dict with `backbone.*`, `classifier.*` and optionally
/// `aux_classifier.*`) into `model`, strictly as [`crate::load_torchvision`] does, except that
/// the backbone's unused `fc` is not looked for, and the file's `aux_classifier.*` is skipped
/// when the model was built without the auxiliary head (torchvision's checkpoints hold it).
///
/// # Errors
/// [`ImportError::Mismatch`] naming the file and every other missing, unused or wrong-shape
/// key; the other variants when the file cannot be read.
pub fn load_torchvision_segmenter(
    model: SimpleSegmentationModel,
    path: &std::path::Path,
) -> Result<SimpleSegmentationModel, ImportError> {
    let has_aux = model.aux_classifier.is_some();
    let options = ImportOptions {
        allow_partial: true,
    };
    let (model, mut report) = load_torchvision_with(model, path, &options)?;
    report.missing.retain(|k| !k.starts_with("backbone.fc."));
    if !has_aux {
        report.unused.retain(|k| !k.starts_with("aux_classifier."));
    }
    if !report.is_complete() {
        return Err(ImportError::Mismatch {
            path: path.to_path_buf(),
            report: Box::new(report),
        });
    }
    Ok(model)
}
