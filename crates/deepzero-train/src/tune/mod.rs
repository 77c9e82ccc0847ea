//! Model selection (seed chapter 7): train one configuration per trial of a [`SearchSpace`]
//! (a grid, or seeded random samples) with early stopping, judge each on the **validation**
//! split only, write a results table and a picture, and re-train the best configuration — as
//! Keras Tuner's `RandomSearch` and Surprise's `GridSearchCV` (with `refit`) do.
//!
//! ```text
//! OUT/
//!   tune.json            the plan: search, objective, trials, training settings
//!   trial-001/ …         one run folder per trial (run.json, model.bpk, metrics.json, …)
//!                        and its trial.json (the values, the validation figure, the epochs)
//!   results.md .csv .json  every trial's validation figure; the best, re-trained
//!   tune.png             validation figure per trial, and per epoch
//!   best/                the best configuration re-trained: a run folder (eval, predict)
//! ```
//!
//! The test split plays no part in the choice: a trial's outcome holds its validation figure,
//! and [`tune`] drops any test figure a trial reports; only the re-trained best configuration's
//! test figure is kept (the trial folders' own `metrics.json` may hold test figures, written
//! by the task, which the tuning never reads). A trial whose loss turns NaN/inf (a learning
//! rate too large) is recorded as diverged and the search goes on.
//!
//! Any task plugs in through a function `(&TrialParams, &RunSettings) -> TrialOutcome`:
//! `RunSettings` arrive with the trial's folder, its [`FIT_KEYS`] applied and early stopping
//! on; the function applies its own keys (dropout, image size), trains, and reads the figure,
//! e.g. with [`TrialOutcome::from_run_folder`].
//!
//! ```no_run
//! use deepzero_train::tune::{self, FIT_KEYS, Objective, SearchSpace, TrialOutcome, TunePlan};
//! use deepzero_train::{RunSettings, TaskError};
//!
//! # fn train_my_task(_: &RunSettings) -> Result<(), TaskError> { Ok(()) }
//! # fn main() -> Result<(), TaskError> {
//! let space = SearchSpace::parse("lr=1e-3,3e-3;batch-size=32,64", &FIT_KEYS)?;
//! let plan = TunePlan::new(space.grid()?, Objective::accuracy(), space.to_string());
//! let base = RunSettings::new("my-task", "runs/my-task-tune");
//! let report = tune::tune(&plan, &base, |_params, settings| {
//!     train_my_task(settings)?; // writes settings.out/metrics.json
//!     TrialOutcome::from_run_folder(&settings.out, &Objective::accuracy())
//! })?;
//! println!("{}", report.summary());
//! # Ok(()) }
//! ```
//!
//! A tuning interrupted and run again with `resume` skips every trial whose folder holds a
//! `trial.json` (a finished trial), and refuses a plan other than the one it started.

mod options;
mod report;
mod space;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use options::TuneOptions;
pub use report::draw_tuning;
pub use space::{
    Domain, FIT_KEYS, Hyperparameter, Kind, MAX_TRIALS, SearchSpace, TrialParams, Value,
    format_real,
};

use crate::metrics_file::{read_json, write_atomic, write_json_atomic};
use crate::{EarlyStop, RunSettings, TaskError, TrainError, guard};

/// The plan's file in the tuning folder.
pub const PLAN_FILE: &str = "tune.json";
/// A finished trial's file in its folder.
pub const TRIAL_FILE: &str = "trial.json";
/// Where the best configuration is re-trained.
pub const BEST_DIR: &str = "best";

/// Whether a larger figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better (accuracy, F1).
    Maximize,
    /// Smaller is better (loss).
    Minimize,
}

/// The validation figure trials are compared on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    /// Its name under `valid` in `metrics.json` (`accuracy`, `loss`).
    pub metric: String,
    /// Which way is better.
    pub goal: Goal,
}

impl Objective {
    /// Validation accuracy, larger is better.
    pub fn accuracy() -> Self {
        Self::new("accuracy", Goal::Maximize)
    }

    /// Validation loss, smaller is better.
    pub fn loss() -> Self {
        Self::new("loss", Goal::Minimize)
    }

    /// `metric`, better as `goal` says.
    pub fn new(metric: impl Into<String>, goal: Goal) -> Self {
        Self {
            metric: metric.into(),
            goal,
        }
    }

    /// `accuracy`, `loss`, or `max:NAME` / `min:NAME` for another figure under `valid`.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for another form.
    pub fn parse(text: &str) -> Result<Self, TaskError> {
        let named = |name: &str, goal| {
            if name.is_empty() {
                Err(TaskError::invalid(format!(
                    "objective `{text}` names no figure"
                )))
            } else {
                Ok(Self::new(name, goal))
            }
        };
        match text.trim() {
            "accuracy" => Ok(Self::accuracy()),
            "loss" => Ok(Self::loss()),
            other => match (other.strip_prefix("max:"), other.strip_prefix("min:")) {
                (Some(name), _) => named(name, Goal::Maximize),
                (_, Some(name)) => named(name, Goal::Minimize),
                _ => Err(TaskError::invalid(format!(
                    "objective `{other}`: say accuracy, loss, max:FIGURE or min:FIGURE"
                ))),
            },
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.goal {
            Goal::Maximize => a > b,
            Goal::Minimize => a < b,
        }
    }
}

impl std::fmt::Display for Objective {
    /// `validation accuracy (max)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let way = match self.goal {
            Goal::Maximize => "max",
            Goal::Minimize => "min",
        };
        write!(f, "validation {} ({way})", self.metric)
    }
}

/// What one trial measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    /// The objective on the validation split, of the model the run kept.
    pub valid: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// The epoch whose weights the run kept.
    pub model_epoch: usize,
    /// Whether early stopping ended it.
    pub stopped_early: bool,
    /// The objective on the validation split after every epoch (empty when the run does not
    /// record it per epoch).
    #[serde(default)]
    pub curve: Vec<f64>,
    /// The objective on the test split. [`tune`] keeps it for the re-trained best
    /// configuration only, and never compares on it.
    #[serde(default)]
    pub test: Option<f64>,
}

impl TrialOutcome {
    /// The outcome of the run whose `metrics.json` ([`crate::RunReport`]) is in `dir`: the
    /// objective under `valid` (else, for `accuracy` and `loss`, the kept epoch's record),
    /// the per-epoch curve from the history, and the test figure under `test`.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] when the run records no such validation figure.
    pub fn from_run_folder(dir: &Path, objective: &Objective) -> Result<Self, TaskError> {
        let report: Json = read_json(&dir.join("metrics.json"))?;
        Self::from_report(&report, objective).ok_or_else(|| {
            TaskError::invalid(format!(
                "{}: metrics.json records no validation `{}`",
                dir.display(),
                objective.metric
            ))
        })
    }

    /// [`TrialOutcome::from_run_folder`] of a parsed `metrics.json`.
    pub fn from_report(report: &Json, objective: &Objective) -> Option<Self> {
        let metric = objective.metric.as_str();
        let model_epoch = report["model_epoch"].as_u64().unwrap_or(0) as usize;
        let history = report["history"].as_array().cloned().unwrap_or_default();
        let per_epoch = format!("valid_{metric}");
        let curve: Vec<f64> = history
            .iter()
            .filter_map(|r| r[per_epoch.as_str()].as_f64())
            .collect();
        let kept_epoch = history
            .iter()
            .find(|r| r["epoch"].as_u64() == Some(model_epoch as u64))
            .and_then(|r| r[per_epoch.as_str()].as_f64());
        let valid = report["valid"][metric].as_f64().or(kept_epoch)?;
        Some(Self {
            valid,
            epochs: report["epochs"]
                .as_u64()
                .map_or(history.len(), |n| n as usize),
            model_epoch,
            stopped_early: report["stopped_early"].as_bool().unwrap_or(false),
            curve: if curve.len() == history.len() {
                curve
            } else {
                Vec::new()
            },
            test: report["test"][metric].as_f64(),
        })
    }
}

/// How a trial ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TrialStatus {
    /// It trained; its outcome.
    Finished(TrialOutcome),
    /// The loss became NaN or infinite.
    Diverged {
        /// What training reported.
        message: String,
    },
}

/// One trial, as `trial.json` and the results tables hold it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 1-based trial number (0 for the re-trained best).
    pub trial: usize,
    /// Its folder, relative to the tuning folder.
    pub dir: String,
    /// Its hyper-parameters.
    pub params: TrialParams,
    /// How it ended.
    #[serde(flatten)]
    pub status: TrialStatus,
    /// Seconds it took (this process or the one that ran it).
    pub seconds: f64,
}

impl TrialRecord {
    /// The validation figure of a finished trial.
    pub fn valid(&self) -> Option<f64> {
        match &self.status {
            TrialStatus::Finished(o) => Some(o.valid),
            TrialStatus::Diverged { .. } => None,
        }
    }

    /// The outcome of a finished trial.
    pub fn outcome(&self) -> Option<&TrialOutcome> {
        match &self.status {
            TrialStatus::Finished(o) => Some(o),
            TrialStatus::Diverged { .. } => None,
        }
    }
}

/// How the trials are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Search {
    /// Every combination of the values.
    Grid(SearchSpace),
    /// `trials` configurations drawn with `seed`.
    Random {
        /// What to draw from.
        space: SearchSpace,
        /// How many.
        trials: usize,
        /// The generator's seed.
        seed: u64,
    },
}

impl Search {
    /// The configurations to try, in order.
    ///
    /// # Errors
    /// [`SearchSpace::grid`]'s and [`SearchSpace::sample`]'s.
    pub fn trials(&self) -> Result<Vec<TrialParams>, TaskError> {
        match self {
            Self::Grid(space) => space.grid(),
            Self::Random {
                space,
                trials,
                seed,
            } => space.sample(*trials, *seed),
        }
    }
}

impl std::fmt::Display for Search {
    /// `grid lr=…;batch-size=…` or `random 8 of lr=…;… (seed 42)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Grid(space) => write!(f, "grid {space}"),
            Self::Random {
                space,
                trials,
                seed,
            } => write!(f, "random {trials} of {space} (seed {seed})"),
        }
    }
}

/// What to try, and how to judge it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunePlan {
    /// The configurations, in the order they are tried.
    pub trials: Vec<TrialParams>,
    /// What they are compared on.
    pub objective: Objective,
    /// How they were chosen (`grid lr=…;batch-size=…`, `random 8 of …`), for the report.
    pub search: String,
    /// Epochs of each trial (default: the settings' epochs); the re-trained best trains the
    /// settings' epochs (unless the search sets `epochs`).
    pub trial_epochs: Option<usize>,
    /// Early stopping of every trial and of the re-training, when the settings have none:
    /// stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Re-train the best configuration into `OUT/best`.
    pub retrain_best: bool,
}

impl TunePlan {
    /// The plan of `search` compared on `objective` ([`TunePlan::new`]'s settings).
    ///
    /// # Errors
    /// [`Search::trials`]'.
    pub fn search(search: &Search, objective: Objective) -> Result<Self, TaskError> {
        Ok(Self::new(search.trials()?, objective, search.to_string()))
    }

    /// A plan over `trials` compared on `objective`, with patience 2 and a re-training of the
    /// best configuration.
    pub fn new(trials: Vec<TrialParams>, objective: Objective, search: impl Into<String>) -> Self {
        Self {
            trials,
            objective,
            search: search.into(),
            trial_epochs: None,
            patience: 2,
            retrain_best: true,
        }
    }
}

/// The tuning's results: every trial, the one chosen, and its re-training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneReport {
    /// The run's name (recipe).
    pub recipe: String,
    /// How the trials were chosen.
    pub search: String,
    /// What they were compared on.
    pub objective: Objective,
    /// Every trial, in order.
    pub trials: Vec<TrialRecord>,
    /// The number of the best trial (1-based).
    pub best_trial: usize,
    /// The best configuration re-trained into `OUT/best` (with its test figure).
    pub best: Option<TrialRecord>,
    /// The tuning folder.
    pub out: PathBuf,
}

impl TuneReport {
    /// The best trial.
    pub fn best_record(&self) -> &TrialRecord {
        &self.trials[self.best_trial - 1]
    }

    /// Two lines: the best trial and its validation figure; the re-training's validation and
    /// test figures.
    pub fn summary(&self) -> String {
        let best = self.best_record();
        let figure = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.4}"));
        let mut text = format!(
            "best: trial {} ({}), {} {} of {} trials",
            best.trial,
            best.params,
            self.objective,
            figure(best.valid()),
            self.trials.len()
        );
        if let Some(outcome) = self.best.as_ref().and_then(TrialRecord::outcome) {
            text.push_str(&format!(
                "\nre-trained into {}: validation {} {}, test {} {} (epoch {} of {})",
                self.out.join(BEST_DIR).display(),
                self.objective.metric,
                figure(Some(outcome.valid)),
                self.objective.metric,
                figure(outcome.test),
                outcome.model_epoch,
                outcome.epochs
            ));
        }
        text
    }
}

/// A trial that ended with an error other than a diverging loss.
#[derive(Debug, thiserror::Error)]
#[error("trial {trial} ({params}): {source}")]
pub struct TrialError {
    /// 1-based trial number (0: the re-training of the best).
    pub trial: usize,
    /// Its hyper-parameters.
    pub params: String,
    /// What ended it.
    pub source: TaskError,
}

/// Runs the trials of `plan` with `train`, each into its own folder under `base.out`, picks the
/// best on the validation figure, re-trains it into `base.out/best`, and writes the results
/// (module documentation). `base` holds the settings every trial shares; `base.resume` skips
/// finished trials, `base.overwrite` replaces an earlier tuning in the folder.
///
/// # Errors
/// [`TaskError::Invalid`] for an empty plan, a folder that holds something else, a resume of
/// another plan, or when every trial diverged; a trial's error other than a diverging loss ends
/// the tuning as a [`TrialError`] (in [`TaskError::Other`]).
pub fn tune<F>(plan: &TunePlan, base: &RunSettings, train: F) -> Result<TuneReport, TaskError>
where
    F: Fn(&TrialParams, &RunSettings) -> Result<TrialOutcome, TaskError>,
{
    if plan.trials.is_empty() {
        return Err(TaskError::invalid("the search has no trials"));
    }
    if plan.patience == 0 {
        return Err(TaskError::invalid("the patience must be at least 1"));
    }
    let out = base.out.as_path();
    prepare_folder(plan, base)?;
    let progress = base.progress();
    progress.message(&format!(
        "tuning {}: {} trials ({}), compared on {}, into {}",
        base.name,
        plan.trials.len(),
        plan.search,
        plan.objective,
        out.display()
    ));

    let mut records: Vec<TrialRecord> = Vec::new();
    for (i, params) in plan.trials.iter().enumerate() {
        let number = i + 1;
        let dir_name = format!("trial-{number:03}");
        let dir = out.join(&dir_name);
        let record = match finished_trial(&dir, params)? {
            Some(record) => {
                progress.message(&format!(
                    "trial {number}/{}: {params}: finished before, {}",
                    plan.trials.len(),
                    describe(&record, &plan.objective)
                ));
                record
            }
            None => {
                let mut settings = trial_settings(base, params, &dir, plan);
                if let Some(epochs) = plan.trial_epochs.filter(|_| params.get("epochs").is_none()) {
                    settings.fit.epochs = epochs;
                }
                progress.message(&format!(
                    "trial {number}/{}: {params} ({})",
                    plan.trials.len(),
                    settings.fit.describe()
                ));
                let mut record = run_trial(number, &dir_name, params, &settings, &train)?;
                // Selection never sees a test figure.
                if let TrialStatus::Finished(outcome) = &mut record.status {
                    outcome.test = None;
                }
                write_record(&dir, &record)?;
                progress.message(&format!(
                    "trial {number}/{}: {params}: {}",
                    plan.trials.len(),
                    describe(&record, &plan.objective)
                ));
                record
            }
        };
        records.push(record);
        // Partial results stay readable while the search goes on.
        let partial = report_of(plan, base, records.clone(), None);
        report::write_results(&partial)?;
    }

    let best_trial = best_of(&records, &plan.objective).ok_or_else(|| {
        TaskError::invalid(format!(
            "every one of the {} trials diverged (loss NaN or infinite); search smaller learning rates",
            records.len()
        ))
    })?;
    let mut best = None;
    if plan.retrain_best {
        let params = &records[best_trial - 1].params;
        let dir = out.join(BEST_DIR);
        let record = match finished_trial(&dir, params)? {
            Some(record) => record,
            None => {
                progress.message(&format!(
                    "re-training the best configuration (trial {best_trial}: {params}) into {}",
                    dir.display()
                ));
                let settings = trial_settings(base, params, &dir, plan);
                let record = run_trial(0, BEST_DIR, params, &settings, &train)?;
                write_record(&dir, &record)?;
                record
            }
        };
        best = Some(record);
    }
    let report = report_of(plan, base, records, Some((best_trial, best)));
    report::write_results(&report)?;
    progress.message(&report.summary());
    Ok(report)
}

fn report_of(
    plan: &TunePlan,
    base: &RunSettings,
    trials: Vec<TrialRecord>,
    best: Option<(usize, Option<TrialRecord>)>,
) -> TuneReport {
    let (best_trial, best) =
        best.unwrap_or_else(|| (best_of(&trials, &plan.objective).unwrap_or(0), None));
    TuneReport {
        recipe: base.name.clone(),
        search: plan.search.clone(),
        objective: plan.objective.clone(),
        trials,
        best_trial,
        best,
        out: base.out.clone(),
    }
}

/// The number of the best finished trial (the first of equals), if any finished.
pub fn best_of(records: &[TrialRecord], objective: &Objective) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for r in records {
        if let Some(v) = r.valid().filter(|v| v.is_finite())
            && best.is_none_or(|(_, b)| objective.better(v, b))
        {
            best = Some((r.trial, v));
        }
    }
    best.map(|(trial, _)| trial)
}

fn describe(record: &TrialRecord, objective: &Objective) -> String {
    match &record.status {
        TrialStatus::Finished(o) => format!(
            "validation {} {:.4} (epoch {} of {}{}), {:.1}s",
            objective.metric,
            o.valid,
            o.model_epoch,
            o.epochs,
            if o.stopped_early {
                ", stopped early"
            } else {
                ""
            },
            record.seconds
        ),
        TrialStatus::Diverged { message } => format!("diverged ({message})"),
    }
}

/// The settings of a trial (or the re-training) into `dir`: `base` with the trial's fit keys,
/// early stopping and restore-best, and a fresh folder.
fn trial_settings(
    base: &RunSettings,
    params: &TrialParams,
    dir: &Path,
    plan: &TunePlan,
) -> RunSettings {
    let mut settings = base.clone();
    settings.out = dir.to_path_buf();
    settings.resume = false;
    // A folder without trial.json holds an interrupted trial: start it again.
    settings.overwrite = true;
    params.apply_fit(&mut settings.fit);
    settings.fit.restore_best = true;
    if settings.fit.early_stopping.is_none() {
        settings.fit.early_stopping = Some(EarlyStop {
            patience: plan.patience,
            min_delta: 0.0,
        });
    }
    settings
}

fn run_trial<F>(
    number: usize,
    dir_name: &str,
    params: &TrialParams,
    settings: &RunSettings,
    train: &F,
) -> Result<TrialRecord, TaskError>
where
    F: Fn(&TrialParams, &RunSettings) -> Result<TrialOutcome, TaskError>,
{
    let start = Instant::now();
    let status = match train(params, settings) {
        Ok(outcome) => TrialStatus::Finished(outcome),
        Err(TaskError::Train(e @ TrainError::NonFiniteLoss { .. })) => TrialStatus::Diverged {
            message: e.to_string(),
        },
        Err(source) => {
            return Err(TaskError::Other(Box::new(TrialError {
                trial: number,
                params: params.to_string(),
                source,
            })));
        }
    };
    Ok(TrialRecord {
        trial: number,
        dir: dir_name.to_string(),
        params: params.clone(),
        status,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Writes `dir/trial.json` (creating `dir`, which a failed task may not have made).
fn write_record(dir: &Path, record: &TrialRecord) -> Result<(), TaskError> {
    std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
    Ok(write_json_atomic(&dir.join(TRIAL_FILE), record)?)
}

/// The record of a trial that finished in `dir` with `params`, if one did.
fn finished_trial(dir: &Path, params: &TrialParams) -> Result<Option<TrialRecord>, TaskError> {
    let path = dir.join(TRIAL_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let record: TrialRecord = read_json(&path)?;
    Ok((record.params == *params).then_some(record))
}

/// Creates and locks the tuning folder; refuses one that holds a run or another tuning unless
/// resuming (the same plan) or overwriting; writes the plan.
fn prepare_folder(plan: &TunePlan, base: &RunSettings) -> Result<(), TaskError> {
    let out = base.out.as_path();
    // A backend that is not compiled in fails here, before the folder is touched.
    base.device()?;
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    guard::lock_run_folder(out)?;
    let plan_path = out.join(PLAN_FILE);
    let plan_json = plan_file(plan, base)?;
    if base.resume && plan_path.exists() {
        guard::check_unchanged(&plan_path, &plan_json)?;
        return Ok(());
    }
    if plan_path.exists() || guard::holds_run(out) || holds_trials(out)? {
        if !base.overwrite {
            return Err(TaskError::invalid(format!(
                "{} already holds a tuning or a run; pass --resume to continue it, --overwrite \
                 to replace it, or choose another --out",
                out.display()
            )));
        }
        guard::clear_run(out)?;
    }
    Ok(write_atomic(&plan_path, &plan_json)?)
}

fn holds_trials(out: &Path) -> Result<bool, TaskError> {
    let entries = std::fs::read_dir(out).map_err(TaskError::io(out))?;
    Ok(entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("trial-") || name == BEST_DIR
    }))
}

/// `tune.json`: the plan and the training settings every trial shares (what a resume must not
/// change).
fn plan_file(plan: &TunePlan, base: &RunSettings) -> Result<Vec<u8>, TaskError> {
    let value = serde_json::json!({
        "recipe": base.name,
        "plan": plan,
        "fit": base.fit,
        "valid_fraction": base.valid_fraction,
        "data_dir": base.data_dir,
        "backend": base.backend.name(),
    });
    serde_json::to_vec_pretty(&value)
        .map_err(|e| TaskError::invalid(format!("{PLAN_FILE}: cannot serialise: {e}")))
}

#[cfg(test)]
mod tests;
