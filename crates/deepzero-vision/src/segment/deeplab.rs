//! DeepLab v3 (Chen, Papandreou, Schroff & Adam, "Rethinking atrous convolution for semantic
//! image segmentation", 2017) as torchvision builds it (`deeplabv3_resnet50`): a ResNet whose
//! `layer3` and `layer4` trade their stride for dilation (output stride 8), atrous spatial
//! pyramid pooling over `layer4` ([`Aspp`](super::heads::Aspp), rates 12, 24, 36), and an
//! optional `FCNHead` on `layer3`, both upsampled bilinearly to the input.
//!
//! ```text
//! [B,3,H,W] → ResNet-50 (dilated) → layer4 2048@H/8 → ASPP 256 → 3×3 conv 256 → 1×1 → classes
//!                                 → layer3 1024@H/8 → FCNHead → classes (aux)
//!           → bilinear ×8 → [B, classes, H, W]
//! ```

use burn::prelude::*;

use super::heads::deeplab_head;
use super::simple::SimpleSegmentationModel;
use crate::ResNetConfig;

/// DeepLab v3: a [`SimpleSegmentationModel`] with a DeepLab head.
pub type DeepLabV3 = SimpleSegmentationModel;

/// Configuration of [`DeepLabV3`].
#[derive(Config, Debug)]
pub struct DeepLabV3Config {
    /// The backbone (its `num_classes` is irrelevant: `fc` is not run).
    pub backbone: ResNetConfig,
    /// Output classes (21 for torchvision's COCO-with-VOC-labels weights).
    pub num_classes: usize,
    /// ASPP's dilation rates (torchvision: 12, 24, 36).
    #[config(default = "vec![12, 24, 36]")]
    pub atrous_rates: Vec<usize>,
    /// Channels of ASPP and of the head's 3×3 convolution (torchvision: 256).
    #[config(default = 256)]
    pub aspp_channels: usize,
    /// Build the auxiliary `FCNHead` on `layer3`.
    #[config(default = false)]
    pub aux: bool,
}

impl DeepLabV3Config {
    /// torchvision's `deeplabv3_resnet50(num_classes=…, aux_loss=aux)`.
    pub fn resnet50(num_classes: usize, aux: bool) -> Self {
        Self::new(ResNetConfig::resnet50(1).dilated(), num_classes).with_aux(aux)
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> DeepLabV3 {
        SimpleSegmentationModel::with_heads(
            &self.backbone,
            self.num_classes,
            self.aux,
            |channels| {
                deeplab_head(
                    channels,
                    self.num_classes,
                    &self.atrous_rates,
                    self.aspp_channels,
                    device,
                )
            },
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;

    #[test]
    fn torchvision_parameter_count_and_shapes() {
        let device = Device::flex();
        // sum(p.numel() for p in deeplabv3_resnet50(num_classes=21, aux_loss=True).parameters())
        let model = DeepLabV3Config::resnet50(21, true).init(&device);
        assert_eq!(model.torchvision_params(), 42_004_074);
        let small = DeepLabV3Config::new(
            ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1)
                .with_base_channels(4)
                .dilated(),
            3,
        )
        .with_aspp_channels(8)
        .with_atrous_rates(vec![1, 2, 3])
        .with_aux(true)
        .init(&device);
        let (out, aux) = small.forward_with_aux(Tensor::zeros([2, 3, 40, 24], &device));
        assert_eq!(out.dims(), [2, 3, 40, 24]);
        assert_eq!(aux.unwrap().dims(), [2, 3, 40, 24]);
    }
}
