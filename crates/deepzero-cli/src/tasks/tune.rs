//! `deepzero tune` and `deepzero lr-find`: model selection ([`deepzero_train::tune`]) and the
//! learning-rate range test ([`deepzero_train::lr_find`]) over the recipes' own training.
//!
//! A trial is `deepzero train RECIPE` with the trial's values in place of the options
//! (`--lr`, `--batch-size`, `--dropout` …) into `OUT/trial-NNN`; the tuning reads each
//! trial's validation figure from its `metrics.json`.
//!
//! ```text
//! deepzero tune mnist-lenet --grid 'lr=1e-3,3e-3;batch-size=32,64' --epochs 4
//! deepzero tune fashion-mlp --random 8 --space 'lr=log:1e-4..1e-2;dropout=0.1..0.5'
//! deepzero lr-find mnist-lenet
//! ```

use std::path::PathBuf;

use deepzero_train::lr_find::LrFindOptions;
use deepzero_train::tune::{
    self, FIT_KEYS, Hyperparameter, Kind, TrialOutcome, TrialParams, TuneOptions,
};
use deepzero_train::{RunSettings, TaskError};

use crate::args::{Family, TrainArgs};
use crate::error::CliError;
use crate::recipes;

/// The options of `deepzero tune`.
#[derive(Clone, Debug, clap::Args)]
pub struct TuneArgs {
    /// Recipe name (see `deepzero list`).
    pub recipe: String,
    #[command(flatten)]
    pub tune: TuneOptions,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The options of `deepzero lr-find`.
#[derive(Clone, Debug, clap::Args)]
pub struct LrFindArgs {
    /// Recipe name (image classifiers: mnist-*, fashion-*, image-folder; text classifiers).
    pub recipe: String,
    #[command(flatten)]
    pub range: LrFindOptions,
    /// The recipe's options (--batch-size, --optimizer, --weight-decay, --data-dir …); --out
    /// defaults to runs/RECIPE-lr-find.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The keys a search may name: the training settings, and the recipes' own options.
const KEYS: [Hyperparameter; 10] = [
    FIT_KEYS[0],
    FIT_KEYS[1],
    FIT_KEYS[2],
    FIT_KEYS[3],
    FIT_KEYS[4],
    FIT_KEYS[5],
    Hyperparameter::new("dropout", Kind::Fraction),
    Hyperparameter::new("word-dropout", Kind::Fraction),
    Hyperparameter::new("max-len", Kind::Count),
    Hyperparameter::new("image-size", Kind::Count),
];

/// `args` with the trial's values of the recipes' own options; a usage error when an option
/// given on the command line is also searched.
fn trial_args(args: &TrainArgs, params: &TrialParams) -> Result<TrainArgs, CliError> {
    let given = [
        ("lr", args.lr.is_some()),
        ("batch-size", args.batch_size.is_some()),
        ("weight-decay", args.weight_decay.is_some()),
        ("optimizer", args.optimizer.is_some()),
        ("schedule", args.schedule.is_some()),
        ("dropout", args.text.dropout.is_some()),
        ("word-dropout", args.text.word_dropout.is_some()),
        ("max-len", args.text.max_len.is_some()),
    ];
    params.refuse_given(&given)?;
    let mut args = args.clone();
    args.text.dropout = params.number("dropout").or(args.text.dropout);
    args.text.word_dropout = params.number("word-dropout").or(args.text.word_dropout);
    args.text.max_len = params.count("max-len").or(args.text.max_len);
    if let Some(size) = params.count("image-size") {
        args.image.image_size = Some(size);
    }
    Ok(args)
}

/// `deepzero tune`.
pub fn tune(args: &TuneArgs) -> Result<(), CliError> {
    let recipe = recipes::find(&args.recipe)?;
    if matches!(
        recipe.task.family(),
        Family::Regression | Family::Recsys | Family::Graph
    ) {
        return Err(CliError::Usage(format!(
            "tune searches the recipes trained epoch by epoch with a validation split (image, \
             text, generation, translation, multimodal); not {}",
            recipe.name
        )));
    }
    recipe.validate(&args.train)?;
    let search = args
        .tune
        .search(&KEYS, &args.train.fit_config(&recipe.defaults))?;
    let plan = args.tune.plan(&search)?;
    // Every trial's options are checked before the first one trains.
    for params in &plan.trials {
        recipe.validate(&trial_args(&args.train, params)?)?;
    }
    let out = args
        .train
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-tune", recipe.name)));
    let base = args.train.settings(recipe.identity(), out)?;
    let report = tune::tune(&plan, &base, |params, settings: &RunSettings| {
        let task_error = |e: CliError| match e {
            CliError::Task(e) => e,
            other => TaskError::invalid(other.to_string()),
        };
        let args = trial_args(&args.train, params).map_err(task_error)?;
        recipe.task.train(&args, settings).map_err(task_error)?;
        TrialOutcome::from_run_folder(&settings.out, &plan.objective)
    })?;
    println!(
        "results: {} (table), {} (picture)",
        report.out.join("results.md").display(),
        report.out.join("tune.png").display()
    );
    Ok(())
}

/// `deepzero lr-find`.
pub fn lr_find(args: &LrFindArgs) -> Result<(), CliError> {
    let recipe = recipes::find(&args.recipe)?;
    recipe.validate(&args.train)?;
    let out = args
        .train
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-lr-find", recipe.name)));
    let settings = args.train.settings(recipe.identity(), out)?;
    let config = args.range.config(&settings.fit);
    recipe
        .task
        .lr_find(&recipe, &args.train, &settings, &config)
}
