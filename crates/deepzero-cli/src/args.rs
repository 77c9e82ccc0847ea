//! The command-line options, grouped by the recipes they concern, and how they become the
//! libraries' [`RunSettings`].

use std::path::PathBuf;

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_sequence::tasks::generate::SampleOptions;
use deepzero_sequence::tasks::translate::DecodeOptions;
use deepzero_train::device::Backend;
use deepzero_train::{EarlyStop, FitConfig, RunSettings};
use deepzero_vision::tasks::finetune::Strategy;

use crate::error::CliError;

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
    /// Recommenders (MovieLens).
    Recsys,
    /// Graph node classifiers and embeddings.
    Graph,
    /// Image–text models (joint embeddings, captioning).
    Multimodal,
    /// Object detectors.
    Detection,
}

/// The options of `deepzero train` (and the data options `eval` shares).
#[derive(Clone, Debug, clap::Args)]
pub struct TrainArgs {
    /// Dataset folder (for MNIST: the four IDX files, or a folder with an `mnist/` sub-folder).
    /// Without it, recipes with a sample shipped in `datasets/` use the sample.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Epochs (default: the recipe's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step (default: the recipe's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Base learning rate (default: the recipe's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimiser: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning-rate schedule: constant, step, exponential, cosine, warmup-cosine, warmup-linear.
    #[arg(long)]
    pub schedule: Option<LrSchedule>,
    /// Weight decay (L2 for SGD-family and Adam, decoupled for AdamW).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Fraction of the training split held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Seed of weights, shuffling, augmentation and splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[arg(long)]
    pub backend: Option<String>,
    /// Output folder (default: runs/RECIPE).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the latest checkpoint in the output folder.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace a run already in the output folder (without it, that is an error).
    #[arg(long)]
    pub overwrite: bool,
    /// Print only one line per epoch.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub text: TextArgs,
    #[command(flatten)]
    pub lm: LmArgs,
}

/// Options of the image recipes.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Image recipes")]
pub struct ImageArgs {
    /// Keep only these classes (comma-separated ids, e.g. 5,6,7,8,9), relabelled 0..n in that
    /// order, in the training and the test split.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub classes_subset: Option<Vec<usize>>,
    /// Few-shot training: keep K training images per class (a seeded choice); the test split
    /// keeps all of its images.
    #[arg(long, value_name = "K")]
    pub per_class: Option<usize>,
    /// Side length images are resized to (image-folder recipe).
    #[arg(long, default_value_t = 64)]
    pub image_size: usize,
    /// Leave out image files that cannot be read or decoded, report how many, and train on
    /// the rest (image-folder recipe; without it the first such file is an error).
    #[arg(long)]
    pub skip_bad_images: bool,
}

/// Options of the text recipes (classification; --max-len also NER, translation, generation).
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Text recipes")]
pub struct TextArgs {
    /// Keep the first N tokens of each document (default: the recipe's, e.g. 400 words; the
    /// number of truncated documents is logged and written to metrics.json). Language models:
    /// the block size (characters per window, the GPT's context).
    #[arg(long, value_name = "N")]
    pub max_len: Option<usize>,
    /// Text classifiers: dropout on the embeddings and the pooled features, and inside the
    /// Transformer (default: the recipe's).
    #[arg(long, value_name = "P")]
    pub dropout: Option<f64>,
    /// Text classifiers: probability of dropping a whole token (its embedding) while training.
    #[arg(long, value_name = "P")]
    pub word_dropout: Option<f64>,
    /// Text classifiers: keep in the vocabulary only the tokens seen at least N times in the
    /// training documents; rarer ones read as `<unk>` (default: the recipe's, 2).
    #[arg(long, value_name = "N")]
    pub min_freq: Option<usize>,
    /// Bag-of-n-grams classifiers (bbc-fasttext, chinese-sentiment-fasttext): the longest
    /// n-gram added to the plain tokens, 1 for none (default: the recipe's).
    #[arg(long, value_name = "N")]
    pub ngrams: Option<usize>,
    /// Text classifiers: start the token embeddings from those of another text run (rows are
    /// copied for the tokens both vocabularies hold). A run of the same corpus must have used
    /// the same split (--seed, duplicates setting).
    #[arg(long, value_name = "RUN")]
    pub embeddings_from: Option<PathBuf>,
    /// Text classifiers: keep repeated documents (by default a text that occurs more than once
    /// is kept once, and dropped when it occurs under two labels, before the split).
    #[arg(long)]
    pub keep_duplicates: bool,
    /// spam-lstm: drop every mail header except Subject (default: keep all headers).
    #[arg(long)]
    pub strip_headers: bool,
    /// bbc-bert, chinese-sentiment-bert: train on this fraction of the training labels
    /// (stratified, seeded; the test split is unchanged), e.g. 0.1.
    #[arg(long, value_name = "F")]
    pub label_fraction: Option<f64>,
}

/// Options of the language models.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Language models")]
pub struct LmArgs {
    /// shakespeare-lstm, shakespeare-gpt: training steps per epoch (each a batch of random
    /// windows; default: the recipe's). Their block size is --max-len.
    #[arg(long, value_name = "N")]
    pub steps_per_epoch: Option<usize>,
}

impl TrainArgs {
    /// The output folder of a run of recipe `name`.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name))
    }

    /// The recipe's defaults overridden by the command line.
    pub fn fit_config(&self, d: &FitConfig) -> FitConfig {
        FitConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.lr.unwrap_or(d.learning_rate),
            optimizer: self.optimizer.unwrap_or(d.optimizer),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            schedule: self.schedule.unwrap_or(d.schedule),
            seed: self.seed,
            early_stopping: self.patience.map(|patience| EarlyStop {
                patience,
                min_delta: 0.0,
            }),
            ..d.clone()
        }
    }

    /// What the libraries need to run recipe `name` (of `chapter`, trained as `defaults` says
    /// unless an option says otherwise) into `out`.
    pub fn settings(
        &self,
        (name, chapter, defaults): (&str, &str, &FitConfig),
        out: PathBuf,
    ) -> Result<RunSettings, CliError> {
        Ok(RunSettings {
            name: name.into(),
            chapter: chapter.into(),
            fit: self.fit_config(defaults),
            out,
            resume: self.resume,
            overwrite: self.overwrite,
            quiet: self.quiet,
            backend: Backend::resolve(self.backend.as_deref())?,
            data_dir: self.data_dir.clone(),
            valid_fraction: self.valid_fraction,
            eval_batch_size: self.batch_size,
            data_fingerprint: None,
        })
    }

    /// Checks the options every recipe shares, and refuses those of another family of recipes
    /// than `family`, the family of recipe `name` (which `needs_data` a `--data-dir`).
    pub fn validate(&self, name: &str, family: Family, needs_data: bool) -> Result<(), CliError> {
        let usage = |message: String| Err(CliError::Usage(message));
        let text = &self.text;
        let text_only = [
            ("--dropout", text.dropout.is_some()),
            ("--word-dropout", text.word_dropout.is_some()),
            ("--min-freq", text.min_freq.is_some()),
            ("--ngrams", text.ngrams.is_some()),
            ("--embeddings-from", text.embeddings_from.is_some()),
            ("--keep-duplicates", text.keep_duplicates),
        ];
        if let Some((flag, _)) = text_only.iter().find(|(_, given)| *given)
            && family != Family::Text
        {
            return usage(format!(
                "{flag} applies to the text-classification recipes, not to {name}"
            ));
        }
        let counts = [
            ("--batch-size", self.batch_size),
            ("--epochs", self.epochs),
            ("--min-freq", text.min_freq),
            ("--ngrams", text.ngrams),
            ("--max-len", text.max_len),
            ("--steps-per-epoch", self.lm.steps_per_epoch),
        ];
        if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == Some(0)) {
            return usage(format!("{flag} must be at least 1"));
        }
        for (flag, p) in [
            ("--dropout", text.dropout),
            ("--word-dropout", text.word_dropout),
        ] {
            if let Some(p) = p.filter(|p| !(0.0..1.0).contains(p)) {
                return usage(format!("{flag} must be in [0, 1), got {p}"));
            }
        }
        if let Some(lr) = self.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
            return usage(format!("--lr must be a positive number, not {lr}"));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return usage("--valid-fraction must be in [0, 1)".into());
        }
        if self.image.image_size < 8 || !self.image.image_size.is_multiple_of(4) {
            return usage("--image-size must be a multiple of 4, at least 8".into());
        }
        if self.data_dir.is_none() && needs_data {
            return usage(format!(
                "{name} needs --data-dir DIR (see `deepzero list`; e.g. shared/datasets)"
            ));
        }
        Ok(())
    }
}

/// The options of `deepzero predict`.
#[derive(Clone, Debug, clap::Args)]
pub struct PredictArgs {
    /// The run folder written by `deepzero train` (alias --run).
    #[arg(long, alias = "run")]
    pub checkpoint: PathBuf,
    /// Images to classify (text recipes: the texts, sentences or prompts).
    pub inputs: Vec<String>,
    /// Text recipes: one input per line of this file (`-`: standard input, the default when
    /// no text is given).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Classes to report per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Where to draw the images with their predicted labels (default CHECKPOINT/predictions.png).
    #[arg(long)]
    pub picture: Option<PathBuf>,
    /// Invert grayscale images: auto (when the background is light), always, never.
    #[arg(long, value_enum, default_value_t = Invert::Auto)]
    pub invert: Invert,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
    #[command(flatten)]
    pub generate: GenerateArgs,
    #[command(flatten)]
    pub translate: TranslateArgs,
}

/// The options every command that runs a trained recipe shares (`segment`, `detect`,
/// `search`, `caption`).
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Recipe name (see `deepzero list`).
    pub recipe: String,
    /// The run folder written by `deepzero train` (alias --checkpoint).
    #[arg(long, alias = "checkpoint")]
    pub run: PathBuf,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[arg(long)]
    pub backend: Option<String>,
}

impl PredictArgs {
    /// The run options of `predict` with the run of `recipe`.
    pub fn run_args(&self, recipe: &str) -> RunArgs {
        RunArgs {
            recipe: recipe.into(),
            run: self.checkpoint.clone(),
            json: self.json,
            backend: self.backend.clone(),
        }
    }
}

/// When to invert a grayscale input image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Invert {
    /// When the border is mostly light (a dark digit on white paper).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `predict` options of the generation recipes.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Generation recipes")]
pub struct GenerateArgs {
    /// The text to continue (see also --input).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Characters to generate per prompt.
    #[arg(long, default_value_t = 300)]
    pub max_new_tokens: usize,
    /// Softmax temperature (0 = greedy, 1 = the model's distribution).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Sample among the K most likely characters only.
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Sample within the smallest set of most likely tokens whose probability reaches P
    /// (nucleus sampling; applied after --top-k).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Seed of the sampler (prompt i of a file uses SEED + i).
    #[arg(long = "seed", default_value_t = 1)]
    pub sample_seed: u64,
}

/// `predict` options of the translation recipes.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Translation recipes")]
pub struct TranslateArgs {
    /// Beam size (default 4).
    #[arg(long, value_name = "N")]
    pub beam: Option<usize>,
    /// Greedy decoding instead of beam search.
    #[arg(long)]
    pub greedy: bool,
    /// GNMT length-penalty exponent α of the beam (default 1.0; 0: none).
    #[arg(long, value_name = "ALPHA")]
    pub length_penalty: Option<f64>,
}

impl GenerateArgs {
    /// The library's sampling options.
    pub fn sample_options(&self) -> SampleOptions {
        SampleOptions {
            max_new_tokens: self.max_new_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.sample_seed,
        }
    }
}

impl TranslateArgs {
    /// The library's decoding options (its defaults where none is given).
    pub fn decode_options(&self) -> Result<DecodeOptions, CliError> {
        if self.beam == Some(0) {
            return Err(CliError::Usage("--beam must be at least 1".into()));
        }
        let defaults = DecodeOptions::default();
        Ok(DecodeOptions {
            beam: self.beam.unwrap_or(defaults.beam),
            greedy: self.greedy,
            length_penalty: self.length_penalty.unwrap_or(defaults.length_penalty),
        })
    }
}

/// Which part of the pre-trained model to freeze.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Freeze {
    /// Everything but the new head (a linear probe).
    Backbone,
    /// Nothing: full fine-tuning.
    #[value(name = "none")]
    Nothing,
}

/// The options of `deepzero finetune`.
#[derive(Clone, Debug, clap::Args)]
pub struct FinetuneArgs {
    /// The trained run to start from: a run folder (run.json + model.bpk), or a checkpoint
    /// folder or .bpk file inside one (e.g. RUN/checkpoints/best).
    #[arg(long, value_name = "WEIGHTS_OR_CHECKPOINT")]
    pub from: PathBuf,
    /// `backbone`: train only the new head (linear probe); `none` (default): train everything.
    #[arg(long, value_enum)]
    pub freeze: Option<Freeze>,
    /// Classes of the new head (default: the classes of the data, which it must match).
    #[arg(long)]
    pub classes: Option<usize>,
    /// LoRA adapters of this rank on the backbone's linear layers (burn 0.22.1 adapts only
    /// linear weights, not convolutions); the rest of the backbone is frozen.
    #[arg(long, value_name = "RANK")]
    pub lora: Option<usize>,
    /// LoRA scale numerator: adapters add (alpha / rank)·A·B (default 2 × rank).
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// With --freeze backbone: unfreeze the backbone after this many epochs.
    #[arg(long, value_name = "EPOCHS")]
    pub unfreeze_after: Option<usize>,
    /// After unfreezing, the backbone trains at this factor × the learning rate (the head
    /// keeps the full rate) [default: 0.1].
    #[arg(long, value_name = "F")]
    pub unfreeze_lr_factor: Option<f64>,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl FinetuneArgs {
    /// The strategy these options ask for; combinations that make no sense are usage errors
    /// (the numbers themselves are checked by the library).
    pub fn strategy(&self) -> Result<Strategy, CliError> {
        let usage = |m: &str| Err(CliError::Usage(m.to_string()));
        if self.lora_alpha.is_some() && self.lora.is_none() {
            return usage("--lora-alpha needs --lora RANK");
        }
        if self.unfreeze_lr_factor.is_some() && self.unfreeze_after.is_none() {
            return usage("--unfreeze-lr-factor needs --unfreeze-after EPOCHS");
        }
        if let Some(rank) = self.lora {
            if rank == 0 {
                return usage("--lora RANK must be at least 1");
            }
            if self.freeze == Some(Freeze::Nothing) {
                return usage("--lora trains adapters on a frozen backbone; drop --freeze none");
            }
            if self.unfreeze_after.is_some() {
                return usage("--unfreeze-after cannot be combined with --lora");
            }
            let alpha = self.lora_alpha.unwrap_or(2.0 * rank as f64);
            return Ok(Strategy::Lora { rank, alpha });
        }
        if let Some(after) = self.unfreeze_after {
            if self.freeze != Some(Freeze::Backbone) {
                return usage("--unfreeze-after needs --freeze backbone");
            }
            let factor = self.unfreeze_lr_factor.unwrap_or(0.1);
            return Ok(Strategy::GradualUnfreeze { after, factor });
        }
        Ok(match self.freeze {
            Some(Freeze::Backbone) => Strategy::LinearProbe,
            _ => Strategy::Full,
        })
    }
}
