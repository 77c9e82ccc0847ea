//! # deepzero-vision
//!
//! Image models of the seed's chapters 1.3.1 and 3.1, written device-generically on burn 0.22
//! (a model takes a `&Device`, never a backend type), one model per file:
//!
//! | model | file | seed chapter |
//! |---|---|---|
//! | [`MlpClassifier`] — fully connected net on flattened pixels | `classify/mlp.rs` | 1.2, 2.1 |
//! | [`LeNet5`] — LeNet-5-style CNN (LeCun et al. 1998, ReLU + max-pool) | `classify/lenet.rs` | 1.3.1, 7.2 |
//! | [`SmallCnn`] — a VGG-style 2-block CNN with batch norm for Fashion-MNIST | `classify/small_cnn.rs` | 1.3.1, 3.1 |
//! | [`AlexNet`] — torchvision's AlexNet ([`alexnet`]) | `classify/zoo/alexnet.rs` | 3.1 |
//! | [`Vgg`] — VGG-11/13/16/19, with or without BN ([`vgg11`] … [`vgg19_bn`]) | `classify/zoo/vgg.rs` | 3.1 |
//! | [`ResNet`] — ResNet-18/34/50/101/152, torchvision v1.5 ([`resnet18`] … [`resnet152`]) | `classify/zoo/resnet.rs` | 3.1 |
//! | [`GoogLeNet`] — Inception v1 as torchvision ([`googlenet`]) | `classify/zoo/googlenet.rs` | 3.1 |
//! | [`CifarResNet`] — He et al.'s CIFAR ResNet-20/32/44/56/110 ([`resnet20`] …) | `classify/zoo/cifar_resnet.rs` | 3.1 |
//!
//! The zoo models (`classify/zoo/`) mirror torchvision's parameter names and counts
//! ([`trainable_params`]), and each ImageNet model has a small-input variant for 28–32 px images
//! (`small_input()` on its config). [`ZooModel`] names them all; [`load_torchvision`]
//! (`import.rs`) loads torchvision's `.pth` / `.safetensors` weights into them, and
//! [`EvalTransform`] with [`imagenet_classes`] (`imagenet.rs`) is what their ImageNet weights
//! expect around them.
//!
//! Every model implements [`deepzero_train::Supervised`] for [`deepzero_data::ImageBatch`], so the
//! same training loop trains any of them. [`tasks`] turns them into whole tasks — data, training,
//! evaluation, prediction, fine-tuning, torchvision import — callable from a program:
//!
//! ## Quick start
//! ```no_run
//! use deepzero_data::IdxCorpus;
//! use deepzero_train::{FitConfig, RunSettings};
//! use deepzero_vision::Architecture;
//! use deepzero_vision::tasks::classify::{self, ImageSpec, PredictOptions, Predictor};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = ImageSpec::idx(IdxCorpus::Mnist, Architecture::LeNet5); // the shipped MNIST sample
//! let settings = RunSettings::new("mnist-lenet", "runs/lenet")
//!     .with_fit(FitConfig { epochs: 2, ..FitConfig::default() });
//! let report = classify::train(&spec, &settings)?;
//! println!("test accuracy {}", report.test["accuracy"]);
//! let predictor = Predictor::load("runs/lenet".as_ref(), None, &settings.device()?)?;
//! let top = predictor.predict(&["digit.png".into()], &PredictOptions::default())?;
//! println!("{} ({:.2})", top[0].top[0].1, top[0].top[0].2);
//! # Ok(()) }
//! ```
//! Object detection (chapter 3.2) is [`detect`]: box maths, NMS, RoIAlign, COCO/VOC metrics,
//! detection data readers, a trainable YOLOv3-style detector and torchvision's Faster R-CNN
//! (`fasterrcnn_resnet50_fpn`, weights importable), with the YOLO task in
//! [`tasks::detect`] (`examples/detect_digits.rs`).
//!
//! `examples/finetune_fashion.rs` pre-trains and fine-tunes on the shipped Fashion-MNIST sample.

pub mod classify;
pub mod detect;
pub mod finetune;
#[cfg(test)]
mod fuzz_regressions;
pub mod imagenet;
pub mod import;
pub mod segment;
pub mod tasks;

pub use classify::lenet::{LeNet5, LeNet5Config};
pub use classify::mlp::{MlpClassifier, MlpClassifierConfig};
pub use classify::small_cnn::{SmallCnn, SmallCnnConfig};
pub use classify::zoo::alexnet::{AlexNet, AlexNetConfig, alexnet};
pub use classify::zoo::cifar_resnet::{
    CifarResNet, CifarResNetConfig, CifarShortcut, resnet20, resnet32, resnet44, resnet56,
    resnet110,
};
pub use classify::zoo::googlenet::{GoogLeNet, GoogLeNetConfig, GoogLeNetOutput, googlenet};
pub use classify::zoo::registry::{UnknownModel, ZooModel};
pub use classify::zoo::resnet::{
    BlockKind, ResNet, ResNetConfig, resnet18, resnet34, resnet50, resnet101, resnet152,
};
pub use classify::zoo::summary::{
    LayerSummary, ModelSummary, SummaryOptions, summarize, zoo_summary,
};
pub use classify::zoo::trainable_params;
pub use classify::zoo::vgg::{
    Vgg, VggCfg, VggConfig, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
};
pub use classify::{Architecture, ImageClassifier, ImageModel};
pub use imagenet::{EvalTransform, IMAGENET_MEAN, IMAGENET_STD, imagenet_classes};
pub use import::{
    ImportError, ImportOptions, ImportReport, WeightFormat, load_torchvision,
    load_torchvision_remapped, load_torchvision_with,
};
