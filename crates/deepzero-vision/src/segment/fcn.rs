//! FCN (Long, Shelhamer & Darrell, "Fully convolutional networks for semantic segmentation",
//! CVPR 2015) as torchvision builds it (`fcn_resnet50`): not the paper's VGG-16 with its
//! 32s/16s/8s skip layers, but a ResNet whose `layer3` and `layer4` trade their stride for
//! dilation (output stride 8, the resolution FCN-8s reaches through its skips), a plain
//! `FCNHead` (3×3 conv → 1×1 classifier) on `layer4`, an optional auxiliary one on `layer3`,
//! and a bilinear upsampling to the input.
//!
//! ```text
//! [B,3,H,W] → ResNet-50 (dilated) → layer4 2048@H/8 → FCNHead (512) → classes → bilinear ×8
//! ```

use burn::prelude::*;

use super::heads::fcn_head;
use super::simple::SimpleSegmentationModel;
use crate::ResNetConfig;

/// FCN: a [`SimpleSegmentationModel`] with FCN heads.
pub type Fcn = SimpleSegmentationModel;

/// Configuration of [`Fcn`].
#[derive(Config, Debug)]
pub struct FcnConfig {
    /// The backbone (its `num_classes` is irrelevant: `fc` is not run).
    pub backbone: ResNetConfig,
    /// Output classes (21 for torchvision's COCO-with-VOC-labels weights).
    pub num_classes: usize,
    /// Build the auxiliary `FCNHead` on `layer3`.
    #[config(default = false)]
    pub aux: bool,
}

impl FcnConfig {
    /// torchvision's `fcn_resnet50(num_classes=…, aux_loss=aux)`.
    pub fn resnet50(num_classes: usize, aux: bool) -> Self {
        Self::new(ResNetConfig::resnet50(1).dilated(), num_classes).with_aux(aux)
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Fcn {
        SimpleSegmentationModel::with_heads(
            &self.backbone,
            self.num_classes,
            self.aux,
            |channels| fcn_head(channels, self.num_classes, device),
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_parameter_count() {
        let device = Device::flex();
        // sum(p.numel() for p in fcn_resnet50(num_classes=21, aux_loss=True).parameters())
        let model = FcnConfig::resnet50(21, true).init(&device);
        assert_eq!(model.torchvision_params(), 35_322_218);
        let out = model.forward(Tensor::zeros([1, 3, 32, 32], &device));
        assert_eq!(out.dims(), [1, 21, 32, 32]);
    }
}
