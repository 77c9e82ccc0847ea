//! The command-line options, grouped by the recipes they concern (each group a library's:
//! [`RunOptions`], [`ImageOptions`], [`TextOptions`] …).

use std::path::PathBuf;

use deepzero_sequence::tasks::TextOptions;
use deepzero_sequence::tasks::generate::PromptOptions;
use deepzero_sequence::tasks::translate::DecodeOptions;
use deepzero_train::options::RunOptions;
use deepzero_vision::tasks::classify::InvertMode;
use deepzero_vision::tasks::finetune::{Strategy, StrategyOptions};
use deepzero_vision::tasks::options::ImageOptions;

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

/// The options of `deepzero train` (and the data options `eval` shares): the common ones
/// ([`RunOptions`], which a `TrainArgs` reads as: `args.lr`, `args.out` …) and those of each
/// family of recipes.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub image: ImageOptions,
    #[command(flatten)]
    pub text: TextOptions,
}

impl std::ops::Deref for TrainArgs {
    type Target = RunOptions;

    fn deref(&self) -> &RunOptions {
        &self.run
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
    #[arg(long, value_enum, default_value_t = InvertMode::Auto)]
    pub invert: InvertMode,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
    #[command(flatten)]
    pub generate: PromptOptions,
    #[command(flatten)]
    pub translate: DecodeOptions,
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

/// The options of `deepzero finetune`.
#[derive(Clone, Debug, clap::Args)]
pub struct FinetuneArgs {
    /// The trained run to start from: a run folder (run.json + model.bpk), or a checkpoint
    /// folder or .bpk file inside one (e.g. RUN/checkpoints/best).
    #[arg(long, value_name = "WEIGHTS_OR_CHECKPOINT")]
    pub from: PathBuf,
    /// Classes of the new head (default: the classes of the data, which it must match).
    #[arg(long)]
    pub classes: Option<usize>,
    // Freezing, LoRA, gradual unfreezing.
    #[command(flatten)]
    pub tuning: StrategyOptions,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl FinetuneArgs {
    /// The strategy these options ask for ([`StrategyOptions::strategy`]).
    pub fn strategy(&self) -> Result<Strategy, CliError> {
        Ok(self.tuning.strategy()?)
    }
}
