//! # deepzero-cli
//!
//! The library behind the `deepzero` binary: the recipe registry, run-time backend selection,
//! the train / eval / predict commands, and `summary` / `import` for the model zoo
//! ([`zoo_cmds`]). `cargo xtask bench` uses it too.

pub mod allocator;
pub mod backend;
pub mod error;
pub mod finetune_task;
pub mod generation_task;
pub mod image_task;
pub mod recipes;
pub mod regression_task;
pub mod tagging_task;
pub mod text_corpus;
pub mod text_task;
pub mod translation_task;
pub mod zoo_cmds;

use std::path::PathBuf;

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{EarlyStop, FitConfig};

pub use backend::Backend;
pub use error::CliError;
pub use recipes::{Recipe, RecipeKind};

/// The options of `deepzero train` (and the data options `eval` shares).
#[derive(Clone, Debug, clap::Args)]
pub struct TrainArgs {
    /// Dataset folder (for MNIST: the four IDX files, or a folder with an `mnist/` sub-folder).
    /// Without it, MNIST and Fashion-MNIST recipes use the small sample shipped in `datasets/`.
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
    /// Text recipes: keep the first N tokens of each document (default: the recipe's, e.g.
    /// 400 words; the number of truncated documents is logged and written to metrics.json).
    #[arg(long, value_name = "N")]
    pub max_len: Option<usize>,
    /// Text classifiers (bbc-lstm, bbc-transformer, spam-lstm, chinese-sentiment): dropout on
    /// the embeddings and the pooled features, and inside the Transformer (default: the
    /// recipe's). Other recipes refuse it.
    #[arg(long, value_name = "P")]
    pub dropout: Option<f64>,
    /// Text classifiers: probability of dropping a whole token (its embedding) while
    /// training (default: the recipe's). Other recipes refuse it.
    #[arg(long, value_name = "P")]
    pub word_dropout: Option<f64>,
    /// Text classifiers: keep in the vocabulary only the tokens seen at least N times in the
    /// training documents; rarer ones read as `<unk>` (default: the recipe's, 2). Other
    /// recipes refuse it.
    #[arg(long, value_name = "N")]
    pub min_freq: Option<usize>,
    /// Bag-of-n-grams text classifiers (bbc-fasttext, chinese-sentiment-fasttext): the
    /// longest n-gram added to the plain tokens, 1 for none (default: the recipe's). Other
    /// recipes refuse it.
    #[arg(long, value_name = "N")]
    pub ngrams: Option<usize>,
    /// Text classifiers: start the token embeddings from those of another text run (a
    /// folder with run.json, vocab.json and model.bpk): rows are copied for the tokens both
    /// vocabularies hold; the rest keep their random start. A run of the same corpus must
    /// have used the same split (`--seed`, duplicates setting), so that its embeddings have
    /// not seen this run's test documents. Other recipes refuse it.
    #[arg(long, value_name = "RUN")]
    pub embeddings_from: Option<std::path::PathBuf>,
    /// Text classifiers: keep repeated documents. By default a text that occurs more than
    /// once is kept once (and dropped when it occurs under two labels) before the train/test
    /// split, so that no test document is a copy of a training one. Other recipes refuse it.
    #[arg(long)]
    pub keep_duplicates: bool,
    /// spam-lstm: drop every mail header except Subject (default: keep all headers).
    #[arg(long)]
    pub strip_headers: bool,
    /// shakespeare-lstm, shakespeare-gpt: training steps per epoch (each a batch of random
    /// windows; default: the recipe's). Their block size (characters per window, the GPT's
    /// context) is --max-len.
    #[arg(long, value_name = "N")]
    pub steps_per_epoch: Option<usize>,
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
    #[arg(long)]
    pub resume: bool,
    /// Print only one line per epoch.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The output folder of a run of `recipe`.
    pub fn out_dir(&self, recipe: &Recipe) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(recipe.name))
    }

    /// The recipe's defaults overridden by the command line.
    pub fn fit_config(&self, recipe: &Recipe) -> FitConfig {
        let d = &recipe.defaults;
        FitConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.lr.unwrap_or(d.lr),
            optimizer: self.optimizer.unwrap_or(d.optimizer),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            schedule: self.schedule.unwrap_or(d.schedule),
            seed: self.seed,
            early_stopping: self.patience.map(|patience| EarlyStop {
                patience,
                min_delta: 0.0,
            }),
            restore_best: true,
            keep_checkpoints: 2,
            valid_batch_size: None,
        }
    }

    /// The progress display these options ask for: epoch lines only with `--quiet`, otherwise a
    /// bar on a terminal and plain lines elsewhere.
    pub fn progress(&self) -> deepzero_train::Progress {
        if self.quiet {
            deepzero_train::Progress::quiet()
        } else {
            deepzero_train::Progress::auto()
        }
    }

    fn validate(&self) -> Result<(), CliError> {
        if self.batch_size == Some(0) {
            return Err(CliError::Usage("--batch-size must be at least 1".into()));
        }
        if self.epochs == Some(0) {
            return Err(CliError::Usage("--epochs must be at least 1".into()));
        }
        if let Some(lr) = self.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(CliError::Usage(format!(
                "--lr must be a positive number, not {lr}"
            )));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(CliError::Usage("--valid-fraction must be in [0, 1)".into()));
        }
        if self.image_size < 8 || !self.image_size.is_multiple_of(4) {
            return Err(CliError::Usage(
                "--image-size must be a multiple of 4, at least 8".into(),
            ));
        }
        Ok(())
    }
}

/// `deepzero train RECIPE ...`
pub fn train(recipe_name: &str, args: &TrainArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe_name)?;
    args.validate()?;
    if !matches!(recipe.kind, RecipeKind::Text(_)) {
        for (flag, given) in [
            ("--dropout", args.dropout.is_some()),
            ("--word-dropout", args.word_dropout.is_some()),
            ("--min-freq", args.min_freq.is_some()),
            ("--ngrams", args.ngrams.is_some()),
            ("--embeddings-from", args.embeddings_from.is_some()),
            ("--keep-duplicates", args.keep_duplicates),
        ] {
            if given {
                return Err(CliError::Usage(format!(
                    "{flag} applies to the text-classification recipes, not to {}",
                    recipe.name
                )));
            }
        }
    }
    let backend = Backend::resolve(args.backend.as_deref())?;
    let device = backend.device()?;
    match recipe.kind {
        RecipeKind::LinearRegression | RecipeKind::LogisticRegression => {
            regression_task::train(&recipe, args, backend, &device)
        }
        RecipeKind::Tagging { .. } => tagging_task::train(&recipe, args, backend, &device),
        RecipeKind::Text(_) => text_task::train(&recipe, args, backend, &device),
        RecipeKind::Generation(_) => generation_task::train(&recipe, args, backend, &device),
        RecipeKind::Translation(_) => translation_task::train(&recipe, args, backend, &device),
        _ => image_task::train(&recipe, args, backend, &device),
    }
}

/// `deepzero eval RECIPE --checkpoint DIR ...`
pub fn eval(
    recipe_name: &str,
    checkpoint: &std::path::Path,
    args: &TrainArgs,
) -> Result<(), CliError> {
    let recipe = recipes::find(recipe_name)?;
    let backend = Backend::resolve(args.backend.as_deref())?;
    let device = backend.device()?;
    match recipe.kind {
        RecipeKind::LinearRegression | RecipeKind::LogisticRegression => {
            regression_task::eval(&recipe, checkpoint, args, backend)
        }
        RecipeKind::Tagging { .. } => {
            tagging_task::eval(&recipe, checkpoint, args, backend, &device)
        }
        RecipeKind::Text(_) => text_task::eval(&recipe, checkpoint, args, backend, &device),
        RecipeKind::Generation(_) => {
            generation_task::eval(&recipe, checkpoint, args, backend, &device)
        }
        RecipeKind::Translation(_) => {
            translation_task::eval(&recipe, checkpoint, args, backend, &device)
        }
        _ => image_task::eval(&recipe, checkpoint, args, backend, &device),
    }
}

/// The text of `deepzero list`.
pub fn list_text() -> String {
    let all = recipes::all();
    let width = all.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut text = format!(
        "{:<width$} {:<14} {}\n",
        "RECIPE", "SEED CHAPTER", "WHAT IT TRAINS"
    );
    for r in all {
        text.push_str(&format!(
            "{:<width$} {:<14} {}\n",
            r.name, r.chapter, r.summary
        ));
    }
    let backends: Vec<&str> = Backend::compiled_backends()
        .iter()
        .map(|b| b.name())
        .collect();
    text.push_str(&format!(
        "\nbackends compiled in: {}\n",
        backends.join(", ")
    ));
    text
}

/// Reads `DIR/run.json` as `T` and checks that the run was made by `recipe` (`recipe_of` says
/// which recipe a `T` records): one-line errors for a missing folder, a folder that is not a
/// run, and a run of another recipe.
pub(crate) fn load_run_json<T: for<'de> serde::Deserialize<'de>>(
    dir: &std::path::Path,
    recipe: &str,
    recipe_of: impl Fn(&T) -> &str,
) -> Result<T, CliError> {
    let info: T = read_run_json(dir)?;
    let trained_by = recipe_of(&info);
    if trained_by != recipe {
        return Err(CliError::Usage(format!(
            "checkpoint {} was trained by recipe `{trained_by}`, not `{recipe}`",
            dir.display()
        )));
    }
    Ok(info)
}

/// Reads `DIR/run.json` as `T`, whatever recipe made it: one-line errors for a missing folder
/// and a folder that is not a run.
pub(crate) fn read_run_json<T: for<'de> serde::Deserialize<'de>>(
    dir: &std::path::Path,
) -> Result<T, CliError> {
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "checkpoint folder {} does not exist",
            dir.display()
        )));
    }
    let path = dir.join("run.json");
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "{} is not a deepzero run folder (no run.json)",
            dir.display()
        )));
    }
    Ok(deepzero_train::metrics_file::read_json(&path)?)
}
