//! Image classifiers: each maps `[B, C, H, W]` images to `[B, classes]` logits.

pub mod lenet;
pub mod mlp;
pub mod small_cnn;
pub mod zoo;

use burn::module::Module;
use burn::prelude::*;
use deepzero_data::ImageBatch;
use deepzero_train::{ClassificationStep, Supervised};
use zoo::registry::ZooModel;

/// A model that turns a batch of images into class logits.
pub trait ImageClassifier: Module {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, num_classes]` (logits, no softmax)
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}

macro_rules! supervised_image_classifier {
    ($($model:ty),*) => {$(
        impl Supervised for $model {
            type Batch = ImageBatch;
            fn step(&self, batch: ImageBatch) -> ClassificationStep {
                ClassificationStep::from_logits(self.logits(batch.images), batch.targets)
            }
        }
    )*};
}
supervised_image_classifier!(
    mlp::MlpClassifier,
    lenet::LeNet5,
    small_cnn::SmallCnn,
    zoo::alexnet::AlexNet,
    zoo::vgg::Vgg,
    zoo::resnet::ResNet,
    zoo::googlenet::GoogLeNet,
    zoo::cifar_resnet::CifarResNet,
    ImageModel
);

/// Any of the classifiers, chosen at run time (what the recipes train and checkpoint).
// One value per run: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ImageModel {
    /// A multi-layer perceptron.
    Mlp(mlp::MlpClassifier),
    /// LeNet-5.
    LeNet5(lenet::LeNet5),
    /// The small VGG-style CNN.
    SmallCnn(small_cnn::SmallCnn),
    /// AlexNet (either variant).
    AlexNet(zoo::alexnet::AlexNet),
    /// A VGG (any depth, with or without batch norm, either variant).
    Vgg(zoo::vgg::Vgg),
    /// An ImageNet ResNet (any depth, either variant).
    ResNet(zoo::resnet::ResNet),
    /// GoogLeNet (either variant).
    GoogLeNet(zoo::googlenet::GoogLeNet),
    /// A CIFAR ResNet (He et al. 2016, §4.2).
    CifarResNet(zoo::cifar_resnet::CifarResNet),
}

impl ImageClassifier for ImageModel {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            ImageModel::Mlp(m) => m.forward(images),
            ImageModel::LeNet5(m) => m.forward(images),
            ImageModel::SmallCnn(m) => m.forward(images),
            ImageModel::AlexNet(m) => m.forward(images),
            ImageModel::Vgg(m) => m.forward(images),
            ImageModel::ResNet(m) => m.forward(images),
            ImageModel::GoogLeNet(m) => m.forward(images),
            ImageModel::CifarResNet(m) => m.forward(images),
        }
    }
}

/// The classifier architectures the recipes can build, with their input shape and class count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// [`mlp::MlpClassifier`] with hidden layers 512 and 256.
    Mlp,
    /// [`lenet::LeNet5`].
    LeNet5,
    /// [`small_cnn::SmallCnn`].
    SmallCnn,
    /// [`zoo::alexnet::AlexNet`], small-input variant ([`zoo::alexnet::AlexNetConfig::small_input`]).
    #[serde(rename = "alexnet-small")]
    AlexNetSmall,
    /// VGG-11 with batch norm, small-input variant ([`zoo::vgg::VggConfig::small_input`]).
    #[serde(rename = "vgg11-bn-small")]
    Vgg11BnSmall,
    /// ResNet-18, small-input variant ([`zoo::resnet::ResNetConfig::small_input`]).
    #[serde(rename = "resnet18-small")]
    ResNet18Small,
    /// GoogLeNet, small-input variant ([`zoo::googlenet::GoogLeNetConfig::small_input`]).
    #[serde(rename = "googlenet-small")]
    GoogLeNetSmall,
    /// The CIFAR [`zoo::cifar_resnet::resnet20`] (option A shortcuts).
    #[serde(rename = "resnet20")]
    ResNet20,
    /// The CIFAR [`zoo::cifar_resnet::resnet56`] (option A shortcuts).
    #[serde(rename = "resnet56")]
    ResNet56,
    /// Any model of the zoo in its reference configuration ([`zoo::registry::ZooModel`]), as
    /// `deepzero import` writes it; serialised as the bare name (`"resnet18"`, `"vgg16-bn"`).
    /// The input size is the model's own (224 for the ImageNet models).
    #[serde(untagged)]
    Zoo(zoo::registry::ZooModel),
}

impl Architecture {
    /// Short name used in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Mlp => "mlp",
            Architecture::LeNet5 => "lenet5",
            Architecture::SmallCnn => "small-cnn",
            Architecture::AlexNetSmall => "alexnet-small",
            Architecture::Vgg11BnSmall => "vgg11-bn-small",
            Architecture::ResNet18Small => "resnet18-small",
            Architecture::GoogLeNetSmall => "googlenet-small",
            Architecture::ResNet20 => "resnet20",
            Architecture::ResNet56 => "resnet56",
            Architecture::Zoo(model) => model.name(),
        }
    }

    /// Builds the model for images of `input_shape` `[C, H, W]` (square for the CNNs) and
    /// `num_classes` classes, with default widths, on `device`. The zoo models are built for
    /// small (28–32 px) images; their global pools accept larger ones too.
    pub fn build(self, input_shape: [usize; 3], num_classes: usize, device: &Device) -> ImageModel {
        let [channels, height, _] = input_shape;
        // The zoo architectures are the registry's models in their small-input variants (the
        // CIFAR ResNets have only the one).
        let small = |model: ZooModel| model.build(num_classes, channels, true, device);
        match self {
            Architecture::Mlp => ImageModel::Mlp(
                mlp::MlpClassifierConfig::new(input_shape, num_classes).init(device),
            ),
            Architecture::LeNet5 => ImageModel::LeNet5(
                lenet::LeNet5Config::new(num_classes)
                    .with_in_channels(channels)
                    .with_input_size(height)
                    .init(device),
            ),
            Architecture::SmallCnn => ImageModel::SmallCnn(
                small_cnn::SmallCnnConfig::new(num_classes)
                    .with_in_channels(channels)
                    .with_input_size(height)
                    .init(device),
            ),
            Architecture::AlexNetSmall => small(ZooModel::AlexNet),
            Architecture::Vgg11BnSmall => small(ZooModel::Vgg11Bn),
            Architecture::ResNet18Small => small(ZooModel::ResNet18),
            Architecture::GoogLeNetSmall => small(ZooModel::GoogLeNet),
            Architecture::ResNet20 => small(ZooModel::ResNet20),
            Architecture::ResNet56 => small(ZooModel::ResNet56),
            Architecture::Zoo(model) => model.build(num_classes, channels, false, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The architectures built from the zoo's models.
    const ZOO_SMALL: [Architecture; 6] = [
        Architecture::AlexNetSmall,
        Architecture::Vgg11BnSmall,
        Architecture::ResNet18Small,
        Architecture::GoogLeNetSmall,
        Architecture::ResNet20,
        Architecture::ResNet56,
    ];

    #[test]
    fn zoo_architectures_serialise_under_their_short_names() {
        for arch in ZOO_SMALL {
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(json, format!("\"{}\"", arch.name()));
            assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), arch);
        }
        // Imported reference models go by their bare zoo name.
        for model in [
            zoo::registry::ZooModel::ResNet18,
            zoo::registry::ZooModel::Vgg16Bn,
        ] {
            let arch = Architecture::Zoo(model);
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(json, format!("\"{model}\""));
            assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), arch);
        }
    }

    #[test]
    fn every_architecture_builds_and_classifies() {
        let device = Device::flex();
        let own = [
            Architecture::Mlp,
            Architecture::LeNet5,
            Architecture::SmallCnn,
        ];
        for arch in own.into_iter().chain(ZOO_SMALL) {
            for shape in [[1, 28, 28], [3, 32, 32]] {
                let model = arch.build(shape, 4, &device);
                let logits =
                    model.logits(Tensor::zeros([2, shape[0], shape[1], shape[2]], &device));
                assert_eq!(logits.dims(), [2, 4], "{arch:?} {shape:?}");
            }
        }
    }
}
