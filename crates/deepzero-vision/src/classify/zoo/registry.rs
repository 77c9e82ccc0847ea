//! The zoo by name: [`ZooModel`] turns `"resnet18"`, `"vgg16-bn"` or `"resnet20"` into a
//! constructor, for the command line (`deepzero summary`, `deepzero import`) and for run
//! folders (`run.json` names the model it holds).
//!
//! | names | models | reference input | torchvision file (`IMAGENET1K_V1`) |
//! |---|---|---|---|
//! | `alexnet` | [`AlexNet`](super::alexnet::AlexNet) | 224 | `alexnet-owt-7be5be79.pth` |
//! | `vgg11` … `vgg19`, `vgg11-bn` … `vgg19-bn` | [`Vgg`](super::vgg::Vgg) | 224 | `vgg16-397923af.pth`, `vgg16_bn-6c64b313.pth`, … |
//! | `resnet18` … `resnet152` | [`ResNet`](super::resnet::ResNet) | 224 | `resnet18-f37072fd.pth`, … |
//! | `googlenet` | [`GoogLeNet`](super::googlenet::GoogLeNet) | 224 | `googlenet-1378be20.pth` |
//! | `resnet20` … `resnet110` | [`CifarResNet`](super::cifar_resnet::CifarResNet) | 32 | (none: see akamaster/pytorch_resnet_cifar10) |
//!
//! Underscores are accepted for dashes, so torchvision's spelling (`vgg16_bn`) works too.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;

use super::alexnet::AlexNetConfig;
use super::cifar_resnet::CifarResNetConfig;
use super::googlenet::GoogLeNetConfig;
use super::resnet::ResNetConfig;
use super::vgg::{VggCfg, VggConfig};
use crate::classify::ImageModel;

/// A model of the zoo, by its torchvision name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZooModel {
    /// AlexNet.
    AlexNet,
    /// VGG-11.
    Vgg11,
    /// VGG-11 with batch norm.
    Vgg11Bn,
    /// VGG-13.
    Vgg13,
    /// VGG-13 with batch norm.
    Vgg13Bn,
    /// VGG-16.
    Vgg16,
    /// VGG-16 with batch norm.
    Vgg16Bn,
    /// VGG-19.
    Vgg19,
    /// VGG-19 with batch norm.
    Vgg19Bn,
    /// ResNet-18.
    ResNet18,
    /// ResNet-34.
    ResNet34,
    /// ResNet-50.
    ResNet50,
    /// ResNet-101.
    ResNet101,
    /// ResNet-152.
    ResNet152,
    /// GoogLeNet (without auxiliary heads).
    GoogLeNet,
    /// CIFAR ResNet-20 (option A).
    ResNet20,
    /// CIFAR ResNet-32.
    ResNet32,
    /// CIFAR ResNet-44.
    ResNet44,
    /// CIFAR ResNet-56.
    ResNet56,
    /// CIFAR ResNet-110.
    ResNet110,
}

/// A name that is not in the zoo.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{name}` (known: {})", ZooModel::names().join(", "))]
pub struct UnknownModel {
    /// The name asked for.
    pub name: String,
}

impl ZooModel {
    /// Every model, ImageNet ones first.
    pub const ALL: [ZooModel; 20] = [
        ZooModel::AlexNet,
        ZooModel::Vgg11,
        ZooModel::Vgg11Bn,
        ZooModel::Vgg13,
        ZooModel::Vgg13Bn,
        ZooModel::Vgg16,
        ZooModel::Vgg16Bn,
        ZooModel::Vgg19,
        ZooModel::Vgg19Bn,
        ZooModel::ResNet18,
        ZooModel::ResNet34,
        ZooModel::ResNet50,
        ZooModel::ResNet101,
        ZooModel::ResNet152,
        ZooModel::GoogLeNet,
        ZooModel::ResNet20,
        ZooModel::ResNet32,
        ZooModel::ResNet44,
        ZooModel::ResNet56,
        ZooModel::ResNet110,
    ];

    /// The name on the command line and in `run.json` (torchvision's, with `-` for `_`).
    pub fn name(self) -> &'static str {
        match self {
            ZooModel::AlexNet => "alexnet",
            ZooModel::Vgg11 => "vgg11",
            ZooModel::Vgg11Bn => "vgg11-bn",
            ZooModel::Vgg13 => "vgg13",
            ZooModel::Vgg13Bn => "vgg13-bn",
            ZooModel::Vgg16 => "vgg16",
            ZooModel::Vgg16Bn => "vgg16-bn",
            ZooModel::Vgg19 => "vgg19",
            ZooModel::Vgg19Bn => "vgg19-bn",
            ZooModel::ResNet18 => "resnet18",
            ZooModel::ResNet34 => "resnet34",
            ZooModel::ResNet50 => "resnet50",
            ZooModel::ResNet101 => "resnet101",
            ZooModel::ResNet152 => "resnet152",
            ZooModel::GoogLeNet => "googlenet",
            ZooModel::ResNet20 => "resnet20",
            ZooModel::ResNet32 => "resnet32",
            ZooModel::ResNet44 => "resnet44",
            ZooModel::ResNet56 => "resnet56",
            ZooModel::ResNet110 => "resnet110",
        }
    }

    /// Every name, in [`ZooModel::ALL`]'s order.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|m| m.name()).collect()
    }

    /// Whether this is one of torchvision's ImageNet models (not a CIFAR ResNet).
    pub fn is_imagenet(self) -> bool {
        !matches!(
            self,
            ZooModel::ResNet20
                | ZooModel::ResNet32
                | ZooModel::ResNet44
                | ZooModel::ResNet56
                | ZooModel::ResNet110
        )
    }

    /// Side of the images the reference configuration is made for: 224, or 32 for CIFAR.
    pub fn reference_input_size(self) -> usize {
        if self.is_imagenet() { 224 } else { 32 }
    }

    /// Class count of the reference configuration: 1000 (ImageNet), or 10 (CIFAR-10).
    pub fn reference_classes(self) -> usize {
        if self.is_imagenet() { 1000 } else { 10 }
    }

    /// The file name of torchvision's ImageNet weights (`IMAGENET1K_V1`), from
    /// `https://download.pytorch.org/models/`.
    pub fn torchvision_file(self) -> Option<&'static str> {
        Some(match self {
            ZooModel::AlexNet => "alexnet-owt-7be5be79.pth",
            ZooModel::Vgg11 => "vgg11-8a719046.pth",
            ZooModel::Vgg11Bn => "vgg11_bn-6002323d.pth",
            ZooModel::Vgg13 => "vgg13-19584684.pth",
            ZooModel::Vgg13Bn => "vgg13_bn-abd245e5.pth",
            ZooModel::Vgg16 => "vgg16-397923af.pth",
            ZooModel::Vgg16Bn => "vgg16_bn-6c64b313.pth",
            ZooModel::Vgg19 => "vgg19-dcbb9e9d.pth",
            ZooModel::Vgg19Bn => "vgg19_bn-c79401a0.pth",
            ZooModel::ResNet18 => "resnet18-f37072fd.pth",
            ZooModel::ResNet34 => "resnet34-b627a593.pth",
            ZooModel::ResNet50 => "resnet50-0676ba61.pth",
            ZooModel::ResNet101 => "resnet101-63fe2227.pth",
            ZooModel::ResNet152 => "resnet152-394f9c45.pth",
            ZooModel::GoogLeNet => "googlenet-1378be20.pth",
            _ => return None,
        })
    }

    /// The input normalisation (mean, std of pixels / 255) the pretrained weights expect.
    ///
    /// ImageNet's statistics, except for GoogLeNet: torchvision builds its pretrained GoogLeNet
    /// with `transform_input=True`, which turns ImageNet-normalised input back into
    /// `(x − 0.5) / 0.5` inside the model (the normalisation of the original Inception
    /// weights). Normalising with mean 0.5 and std 0.5 directly is the same computation.
    pub fn input_normalisation(self) -> ([f32; 3], [f32; 3]) {
        match self {
            ZooModel::GoogLeNet => ([0.5; 3], [0.5; 3]),
            _ => (
                crate::imagenet::IMAGENET_MEAN,
                crate::imagenet::IMAGENET_STD,
            ),
        }
    }

    /// Builds the model for `num_classes` classes and `in_channels`-channel images, in its
    /// reference configuration or (`small_input`, ImageNet models only) its small-input
    /// variant for 28–32 px images. CIFAR ResNets have one configuration.
    pub fn build(
        self,
        num_classes: usize,
        in_channels: usize,
        small_input: bool,
        device: &Device,
    ) -> ImageModel {
        use ZooModel::*;
        let vgg = |cfg: VggCfg, bn: bool| {
            let config = VggConfig::new(cfg, num_classes)
                .with_batch_norm(bn)
                .with_in_channels(in_channels);
            let config = if small_input {
                config.small_input()
            } else {
                config
            };
            ImageModel::Vgg(config.init(device))
        };
        let resnet = |config: ResNetConfig| {
            let config = config.with_in_channels(in_channels);
            let config = if small_input {
                config.small_input()
            } else {
                config
            };
            ImageModel::ResNet(config.init(device))
        };
        let cifar = |depth: usize| {
            ImageModel::CifarResNet(
                CifarResNetConfig::with_depth(depth, num_classes)
                    .with_in_channels(in_channels)
                    .init(device),
            )
        };
        match self {
            AlexNet => {
                let config = AlexNetConfig::new(num_classes).with_in_channels(in_channels);
                let config = if small_input {
                    config.small_input()
                } else {
                    config
                };
                ImageModel::AlexNet(config.init(device))
            }
            Vgg11 => vgg(VggCfg::A, false),
            Vgg11Bn => vgg(VggCfg::A, true),
            Vgg13 => vgg(VggCfg::B, false),
            Vgg13Bn => vgg(VggCfg::B, true),
            Vgg16 => vgg(VggCfg::D, false),
            Vgg16Bn => vgg(VggCfg::D, true),
            Vgg19 => vgg(VggCfg::E, false),
            Vgg19Bn => vgg(VggCfg::E, true),
            ResNet18 => resnet(ResNetConfig::resnet18(num_classes)),
            ResNet34 => resnet(ResNetConfig::resnet34(num_classes)),
            ResNet50 => resnet(ResNetConfig::resnet50(num_classes)),
            ResNet101 => resnet(ResNetConfig::resnet101(num_classes)),
            ResNet152 => resnet(ResNetConfig::resnet152(num_classes)),
            GoogLeNet => {
                let config = GoogLeNetConfig::new(num_classes).with_in_channels(in_channels);
                let config = if small_input {
                    config.small_input()
                } else {
                    config
                };
                ImageModel::GoogLeNet(config.init(device))
            }
            ResNet20 => cifar(20),
            ResNet32 => cifar(32),
            ResNet44 => cifar(44),
            ResNet56 => cifar(56),
            ResNet110 => cifar(110),
        }
    }
}

impl fmt::Display for ZooModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ZooModel {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, UnknownModel> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|m| m.name() == wanted)
            .ok_or_else(|| UnknownModel {
                name: s.to_string(),
            })
    }
}

impl serde::Serialize for ZooModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ZooModel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::super::trainable_params;
    use super::*;

    #[test]
    fn names_round_trip_and_torchvision_spellings_parse() {
        for m in ZooModel::ALL {
            assert_eq!(m.name().parse::<ZooModel>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!("vgg16_bn".parse::<ZooModel>().unwrap(), ZooModel::Vgg16Bn);
        assert_eq!("ResNet50".parse::<ZooModel>().unwrap(), ZooModel::ResNet50);
        let err = "resnet19".parse::<ZooModel>().unwrap_err().to_string();
        assert!(
            err.starts_with("unknown model `resnet19` (known: alexnet, vgg11"),
            "{err}"
        );
        assert!(
            err.contains("googlenet") && err.contains("resnet110"),
            "{err}"
        );
    }

    #[test]
    fn builds_the_torchvision_parameter_counts() {
        // Lazily built: counting allocates nothing.
        let device = Device::flex();
        for (model, expected) in [
            (ZooModel::AlexNet, 61_100_840),
            (ZooModel::Vgg16Bn, 138_365_992),
            (ZooModel::ResNet50, 25_557_032),
            (ZooModel::GoogLeNet, 6_624_904),
            (ZooModel::ResNet20, 269_722),
        ] {
            let built = model.build(model.reference_classes(), 3, false, &device);
            assert_eq!(trainable_params(&built), expected, "{model}");
        }
        assert_eq!(ZooModel::ALL.iter().filter(|m| m.is_imagenet()).count(), 15);
        assert!(
            ZooModel::ALL
                .iter()
                .all(|m| m.is_imagenet() == m.torchvision_file().is_some())
        );
    }
}
