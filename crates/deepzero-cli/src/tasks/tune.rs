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

use deepzero_sequence::tasks::TextOptions;
use deepzero_train::lr_find::LrFindOptions;
use deepzero_train::tune::{self, FIT_KEYS, TrialOutcome, TrialParams, TuneOptions};
use deepzero_train::{RunSettings, TaskError};
use deepzero_vision::tasks::options::ImageOptions;

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

/// `args` with the trial's values of the recipes' own options; a usage error when an option
/// given on the command line is also searched.
fn trial_args(args: &TrainArgs, params: &TrialParams) -> Result<TrainArgs, CliError> {
    args.run.refuse_searched(params)?;
    Ok(TrainArgs {
        run: args.run.clone(),
        text: args.text.with_trial(params)?,
        image: args.image.with_trial(params),
    })
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
    // The training settings, and the recipes' own options.
    let keys = [
        &FIT_KEYS[..],
        &TextOptions::TRIAL_KEYS,
        &ImageOptions::TRIAL_KEYS,
    ]
    .concat();
    let search = args
        .tune
        .search(&keys, &args.train.fit_config(&recipe.defaults))?;
    let plan = args.tune.plan(&search)?;
    // Every trial's options are checked before the first one trains.
    for params in &plan.trials {
        recipe.validate(&trial_args(&args.train, params)?)?;
    }
    let out = args.train.out_dir(&format!("{}-tune", recipe.name));
    let base = recipe.settings(&args.train, out)?;
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
    let out = args.train.out_dir(&format!("{}-lr-find", recipe.name));
    let settings = recipe.settings(&args.train, out)?;
    let config = args.range.config(&settings.fit);
    recipe
        .task
        .lr_find(&recipe, &args.train, &settings, &config)
}
