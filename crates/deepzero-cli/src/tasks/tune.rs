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

use deepzero_train::lr_find::LrFindConfig;
use deepzero_train::tune::{
    self, FIT_KEYS, Hyperparameter, Kind, Objective, Search, SearchSpace, TrialOutcome,
    TrialParams, TunePlan,
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
    /// Grid search: every combination of KEY=V1,V2,…, keys separated by `;` (or by the comma
    /// before the next KEY=), e.g. 'lr=1e-3,3e-3;batch-size=32,64'. Keys: lr, batch-size,
    /// weight-decay, epochs, optimizer, schedule; dropout, word-dropout, max-len (text
    /// classifiers); image-size (image-folder).
    #[arg(long, value_name = "SPACE", conflicts_with = "random")]
    pub grid: Option<String>,
    /// Random search: N configurations drawn from --space (seeded by --seed).
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// What --random draws from: lists, ranges LOW..HIGH, log ranges log:LOW..HIGH [default:
    /// lr=log:LR/10..LR*10;batch-size=B/2,B,2B around the recipe's LR and B].
    #[arg(long, value_name = "SPACE", requires = "random")]
    pub space: Option<String>,
    /// What trials are compared on, on the validation split: accuracy, loss, max:FIGURE or
    /// min:FIGURE (a figure under `valid` in metrics.json).
    #[arg(long, default_value = "accuracy")]
    pub objective: String,
    /// Epochs of each trial (default: --epochs, else the recipe's); the best configuration is
    /// re-trained with --epochs. Trials stop early after --patience (default 2) epochs
    /// without a better validation loss.
    #[arg(long, value_name = "N")]
    pub trial_epochs: Option<usize>,
    /// Do not re-train the best configuration into OUT/best.
    #[arg(long)]
    pub no_retrain: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The options of `deepzero lr-find`.
#[derive(Clone, Debug, clap::Args)]
pub struct LrFindArgs {
    /// Recipe name (image classifiers: mnist-*, fashion-*, image-folder; text classifiers).
    pub recipe: String,
    /// The first learning rate.
    #[arg(long, default_value_t = 1e-7)]
    pub start_lr: f64,
    /// The last learning rate (the test stops earlier once the loss blows up).
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f64,
    /// Mini-batches to train, one learning rate each.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
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
    if let Some((key, _)) = given
        .iter()
        .find(|(key, given)| *given && params.get(key).is_some())
    {
        return Err(CliError::Usage(format!(
            "--{key} is given and also searched; drop one"
        )));
    }
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
    let search = match (&args.grid, args.random) {
        (Some(text), _) => Search::Grid(SearchSpace::parse(text, &KEYS)?),
        (None, Some(trials)) => Search::Random {
            space: match &args.space {
                Some(text) => SearchSpace::parse(text, &KEYS)?,
                None => SearchSpace::around(&args.train.fit_config(&recipe.defaults)),
            },
            trials,
            seed: args.train.seed,
        },
        (None, None) => {
            return Err(CliError::Usage(
                "tune needs --grid SPACE or --random N (e.g. --grid 'lr=1e-3,3e-3;batch-size=32,64')"
                    .into(),
            ));
        }
    };
    if args.trial_epochs == Some(0) {
        return Err(CliError::Usage("--trial-epochs must be at least 1".into()));
    }
    // Every trial's options are checked before the first one trains.
    for params in &search.trials()? {
        recipe.validate(&trial_args(&args.train, params)?)?;
    }
    let out = args
        .train
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-tune", recipe.name)));
    let base = args.train.settings(recipe.identity(), out)?;
    let objective = Objective::parse(&args.objective)?;
    let plan = TunePlan {
        trial_epochs: args.trial_epochs,
        retrain_best: !args.no_retrain,
        ..TunePlan::search(&search, objective.clone())?
    };
    let report = tune::tune(&plan, &base, |params, settings: &RunSettings| {
        let task_error = |e: CliError| match e {
            CliError::Task(e) => e,
            other => TaskError::invalid(other.to_string()),
        };
        let args = trial_args(&args.train, params).map_err(task_error)?;
        recipe.task.train(&args, settings).map_err(task_error)?;
        TrialOutcome::from_run_folder(&settings.out, &objective)
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
    let config = LrFindConfig {
        start_lr: args.start_lr,
        end_lr: args.end_lr,
        steps: args.steps,
        ..LrFindConfig::from_fit(&settings.fit)
    };
    recipe
        .task
        .lr_find(&recipe, &args.train, &settings, &config)
}
