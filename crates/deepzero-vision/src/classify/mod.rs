//! Image classifiers: each maps `[B, C, H, W]` images to `[B, classes]` logits.

pub mod lenet;
pub mod mlp;
pub mod small_cnn;

use burn::module::Module;
use burn::prelude::*;
use deepzero_data::ImageBatch;
use deepzero_train::{ClassificationStep, Supervised};

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
}

impl ImageClassifier for ImageModel {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            ImageModel::Mlp(m) => m.forward(images),
            ImageModel::LeNet5(m) => m.forward(images),
            ImageModel::SmallCnn(m) => m.forward(images),
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
}

impl Architecture {
    /// Short name used in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Mlp => "mlp",
            Architecture::LeNet5 => "lenet5",
            Architecture::SmallCnn => "small-cnn",
        }
    }

    /// Builds the model for images of `input_shape` `[C, H, W]` (square for the CNNs) and
    /// `num_classes` classes, with default widths, on `device`.
    pub fn build(self, input_shape: [usize; 3], num_classes: usize, device: &Device) -> ImageModel {
        let [channels, height, _] = input_shape;
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_architecture_builds_and_classifies() {
        let device = Device::flex();
        for arch in [
            Architecture::Mlp,
            Architecture::LeNet5,
            Architecture::SmallCnn,
        ] {
            for shape in [[1, 28, 28], [3, 32, 32]] {
                let model = arch.build(shape, 4, &device);
                let logits =
                    model.logits(Tensor::zeros([2, shape[0], shape[1], shape[2]], &device));
                assert_eq!(logits.dims(), [2, 4], "{arch:?} {shape:?}");
            }
        }
    }
}
