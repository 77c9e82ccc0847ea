//! The image-classification recipes of chapters 1.2–3.1 and 7.2, with the settings their
//! results in docs/book-map.md were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::{Augmentation, IdxCorpus};
use deepzero_train::{EarlyStop, FitConfig, Recipe};

use super::classify::ImageSpec;
use super::folder::FolderOptions;
use crate::Architecture;

fn crop(padding: usize, flip: bool) -> Augmentation {
    Augmentation {
        crop_padding: Some(padding),
        horizontal_flip: flip,
        affine: None,
    }
}

/// A chapter-3.1 recipe: `arch` on the corpus its name starts with, with the usual
/// small-image settings (SGD with momentum and weight decay for the batch-normalised nets,
/// Adam for AlexNet, which has no normalisation; cosine decay; padded random crops, plus flips
/// for Fashion-MNIST).
fn zoo(
    name: &'static str,
    chapter: &'static str,
    summary: &'static str,
    arch: Architecture,
) -> Recipe<ImageSpec> {
    use OptimizerKind::{Adam, Momentum};
    let fashion = name.starts_with("fashion");
    let corpus = if fashion {
        IdxCorpus::FashionMnist
    } else {
        IdxCorpus::Mnist
    };
    let cosine = LrSchedule::Cosine { min_lr_factor: 0.0 };
    let fit = match arch {
        Architecture::AlexNetSmall => FitConfig::recipe(15, 128, 1e-3, Adam, cosine),
        Architecture::ResNet20 | Architecture::ResNet56 => {
            FitConfig::recipe(15, 128, 0.1, Momentum, cosine).with_weight_decay(5e-4)
        }
        // 10 epochs: 93.65 % test accuracy on Fashion-MNIST (docs/book-map.md), at ≈28 min an
        // epoch on two CPU cores.
        Architecture::GoogLeNetSmall => {
            FitConfig::recipe(10, 128, 0.05, Momentum, cosine).with_weight_decay(5e-4)
        }
        _ => FitConfig::recipe(15, 128, 0.05, Momentum, cosine).with_weight_decay(5e-4),
    };
    let spec = ImageSpec::idx(corpus, arch).with_augment(crop(2, fashion));
    Recipe::new(name, chapter, summary, spec, fit)
}

/// Every image-classification recipe, in the order of the seed's chapters.
pub fn recipes() -> Vec<Recipe<ImageSpec>> {
    use Architecture::*;
    use IdxCorpus::{FashionMnist, Mnist};
    use OptimizerKind::Adam;
    let cosine = LrSchedule::Cosine { min_lr_factor: 0.0 };
    let plain = |corpus, arch| ImageSpec::idx(corpus, arch);
    vec![
        Recipe::new(
            "mnist-mlp",
            "1.2, 2.1-2.3",
            "784-512-256-10 perceptron with dropout on MNIST",
            plain(Mnist, Mlp),
            FitConfig::recipe(12, 128, 1e-3, Adam, cosine),
        ),
        Recipe::new(
            "mnist-lenet",
            "1.3.1, 7.2",
            "LeNet-5-style CNN on MNIST",
            plain(Mnist, LeNet5).with_augment(crop(2, false)),
            FitConfig::recipe(15, 64, 2e-3, Adam, cosine),
        ),
        Recipe::new(
            "fashion-mlp",
            "1.2, 2.1-2.3",
            "784-512-256-10 perceptron with dropout on Fashion-MNIST",
            plain(FashionMnist, Mlp),
            FitConfig::recipe(12, 128, 1e-3, Adam, cosine),
        ),
        // Flips only: with padded crops as well, 12–15 epochs under-fit this small net.
        Recipe::new(
            "fashion-cnn",
            "1.3.1, 3.1",
            "VGG-style CNN (2 conv blocks, batch norm) on Fashion-MNIST",
            plain(FashionMnist, SmallCnn).with_augment(Augmentation {
                horizontal_flip: true,
                ..Augmentation::default()
            }),
            FitConfig::recipe(15, 128, 2e-3, Adam, cosine),
        ),
        // The classic architectures of chapter 3.1 in their small-input variants.
        zoo(
            "mnist-resnet20",
            "3.1.3",
            "CIFAR-style ResNet-20 (He et al. 2016 §4.2) on MNIST",
            ResNet20,
        ),
        zoo(
            "fashion-resnet20",
            "3.1.3",
            "CIFAR-style ResNet-20 (He et al. 2016 §4.2) on Fashion-MNIST",
            ResNet20,
        ),
        zoo(
            "mnist-vgg11",
            "3.1.2",
            "VGG-11 with batch norm, small-input variant, on MNIST",
            Vgg11BnSmall,
        ),
        zoo(
            "fashion-vgg11",
            "3.1.2",
            "VGG-11 with batch norm, small-input variant, on Fashion-MNIST",
            Vgg11BnSmall,
        ),
        zoo(
            "mnist-googlenet",
            "3.1.4",
            "GoogLeNet (Inception v1), small-input variant, on MNIST",
            GoogLeNetSmall,
        ),
        zoo(
            "fashion-googlenet",
            "3.1.4",
            "GoogLeNet (Inception v1), small-input variant, on Fashion-MNIST",
            GoogLeNetSmall,
        ),
        zoo(
            "mnist-alexnet",
            "3.1.1",
            "AlexNet, small-input variant, on MNIST",
            AlexNetSmall,
        ),
        zoo(
            "fashion-alexnet",
            "3.1.1",
            "AlexNet, small-input variant, on Fashion-MNIST",
            AlexNetSmall,
        ),
        Recipe::new(
            "image-folder",
            "7.2",
            "CNN classifier of any class-per-folder image tree (cats vs dogs)",
            ImageSpec::folder(FolderOptions::default()),
            // Up to 30 epochs, stopped 6 epochs after the best validation loss, whose weights
            // are kept (restore-best).
            FitConfig {
                early_stopping: Some(EarlyStop {
                    patience: 6,
                    min_delta: 0.0,
                }),
                ..FitConfig::recipe(30, 32, 1e-3, Adam, cosine)
            },
        ),
    ]
}
