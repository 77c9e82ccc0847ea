//! The run folder every task writes and reads back.
//!
//! ```text
//! OUT/
//!   run.json         what the task needs to rebuild the model (its own struct, with `recipe`)
//!   model.bpk        the trained weights (burnpack), written when training ends
//!   checkpoints/     one folder per kept epoch (model, optimiser, state); `best/`
//!   metrics.csv      one row per epoch          curves.png   loss and accuracy curves
//!   metrics.json     the final figures: a [`RunReport`] (`eval/metrics.json`: an [`EvalReport`])
//! ```
//!
//! `run.json` is each task's own serialisable struct; the helpers here read it with one-line
//! errors for a missing folder, a folder that is not a run, and a run of another task.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::metrics_file::{EpochRecord, read_json, write_json_atomic};
use crate::{EvalResult, FitOutcome, RunSettings, TaskError};

/// Reads `DIR/run.json` as `T`, whatever task made it.
pub fn read_run_json<T: for<'de> Deserialize<'de>>(dir: &Path) -> Result<T, TaskError> {
    if !dir.is_dir() {
        return Err(TaskError::invalid(format!(
            "run folder {} does not exist",
            dir.display()
        )));
    }
    let path = dir.join("run.json");
    if !path.exists() {
        return Err(TaskError::invalid(format!(
            "{} is not a deepzero run folder (no run.json)",
            dir.display()
        )));
    }
    Ok(read_json(&path)?)
}

/// Reads `DIR/run.json` as `T` and checks that the run is called `name` (`name_of` says where
/// a `T` records it).
pub fn load_run_json<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    name: &str,
    name_of: impl Fn(&T) -> &str,
) -> Result<T, TaskError> {
    // The recipe is checked before the whole file is read as a `T`: a run of another task
    // (a BERT tagger's given to the BiLSTM tagger, say) lacks a `T`'s fields, and the error
    // should name the recipe that made it, not the first missing field.
    let any: Value = read_run_json(dir)?;
    if let Some(trained_by) = any.get("recipe").and_then(Value::as_str)
        && trained_by != name
    {
        return Err(TaskError::invalid(format!(
            "run {} was trained by recipe `{trained_by}`, not `{name}`",
            dir.display()
        )));
    }
    let info: T = read_run_json(dir)?;
    let trained_by = name_of(&info);
    if trained_by != name {
        return Err(TaskError::invalid(format!(
            "run {} was trained by recipe `{trained_by}`, not `{name}`",
            dir.display()
        )));
    }
    Ok(info)
}

/// A task's `run.json`: the recipe that made it and the version of its format.
pub trait RunInfo: for<'de> Deserialize<'de> {
    /// The newest format version this library writes and reads.
    const VERSION: u32;
    /// The recipe (run name) that made it.
    fn recipe(&self) -> &str;
    /// Its format version (1 for files written before versions were recorded).
    fn version(&self) -> u32;
}

/// Implements [`RunInfo`] for a struct with the fields `recipe: String` and `version: u32`:
/// `impl_run_info!(MyRunInfo, 2)`.
#[macro_export]
macro_rules! impl_run_info {
    ($ty:ty, $version:expr) => {
        impl $crate::RunInfo for $ty {
            const VERSION: u32 = $version;
            fn recipe(&self) -> &str {
                &self.recipe
            }
            fn version(&self) -> u32 {
                self.version
            }
        }
    };
}

/// The version of a `run.json` written before versions were recorded (a serde default).
pub fn version_1() -> u32 {
    1
}

/// Reads `DIR/run.json` as `T`, checking that this library reads its version and, when
/// `recipe` is given, that the run was made by it.
pub fn load_run_info<T: RunInfo>(dir: &Path, recipe: Option<&str>) -> Result<T, TaskError> {
    let info: T = match recipe {
        Some(recipe) => load_run_json(dir, recipe, T::recipe)?,
        None => read_run_json(dir)?,
    };
    check_version(info, &dir.display().to_string())
}

/// [`load_run_info`] on the bytes of a `run.json` already in memory (fetched by a browser,
/// say): the same checks of the version and, when `recipe` is given, of the recipe. `name`
/// names the run in errors.
///
/// # Errors
/// [`TaskError::Train`] for bytes that are not a `T` in JSON, [`TaskError::Invalid`] for a
/// newer version or another recipe.
pub fn parse_run_info<T: RunInfo>(
    bytes: &[u8],
    name: &str,
    recipe: Option<&str>,
) -> Result<T, TaskError> {
    let info: T = crate::metrics_file::parse_json(Path::new(name), bytes)?;
    if let Some(recipe) = recipe
        && info.recipe() != recipe
    {
        return Err(TaskError::invalid(format!(
            "run {name} was trained by recipe `{}`, not `{recipe}`",
            info.recipe()
        )));
    }
    check_version(info, name)
}

/// Refuses a `run.json` newer than this library reads; `label` names the run.
fn check_version<T: RunInfo>(info: T, label: &str) -> Result<T, TaskError> {
    if info.version() > T::VERSION {
        return Err(TaskError::invalid(format!(
            "{label}: run.json is version {}, newer than this library reads ({})",
            info.version(),
            T::VERSION
        )));
    }
    Ok(info)
}

/// The file `name` of the run folder `dir`, for names read from the run's own metadata
/// (`vocab_file` in `run.json`, the epoch folder in `latest.json`): `name` must be a plain
/// relative path inside the folder — no absolute path, no `..` — and, when it exists, must
/// not lead outside the folder through a link. A run folder handed over by someone else can
/// then not make a command read `/etc/passwd` or `/dev/zero`.
///
/// # Errors
/// [`TaskError::Invalid`] naming the metadata's path.
pub fn run_file(dir: &Path, name: &str) -> Result<PathBuf, TaskError> {
    confined_path(dir, name).map_err(|why| {
        TaskError::invalid(format!(
            "{}: the run's metadata names `{name}`, {why}",
            dir.display()
        ))
    })
}

/// `dir/name` if `name` stays inside `dir`, else why not.
pub(crate) fn confined_path(dir: &Path, name: &str) -> Result<PathBuf, &'static str> {
    use std::path::Component;
    let relative = Path::new(name);
    if name.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("which is not a plain file name inside the run folder");
    }
    let path = dir.join(relative);
    if let (Ok(real), Ok(root)) = (path.canonicalize(), dir.canonicalize())
        && !real.starts_with(&root)
    {
        return Err("which links outside the run folder");
    }
    Ok(path)
}

/// Where the weights of a run are: `model.bpk` (written when training finished) or else the
/// latest epoch checkpoint (a run that was interrupted).
pub fn model_file(dir: &Path) -> Result<PathBuf, TaskError> {
    let final_model = dir.join("model.bpk");
    if final_model.exists() {
        return Ok(final_model);
    }
    match crate::Checkpoints::new(dir, 1).latest()? {
        Some(c) => Ok(c.model_path()),
        None => Err(TaskError::invalid(format!(
            "{} holds no model.bpk and no checkpoint",
            dir.display()
        ))),
    }
}

/// `metrics.json` of a training run: the fields every task writes, then the task's own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// The run's name (recipe).
    pub recipe: String,
    /// The seed chapter.
    pub chapter: String,
    /// The backend it trained on.
    pub backend: String,
    /// A description of the model.
    pub model: String,
    /// Its number of parameters.
    pub parameters: usize,
    /// Epochs trained (including those of a resumed run).
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub model_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The epoch this process resumed after.
    pub resumed_after: Option<usize>,
    /// Examples per step.
    pub batch_size: usize,
    /// Base learning rate.
    pub learning_rate: f64,
    /// Optimiser.
    pub optimizer: String,
    /// Schedule.
    pub schedule: String,
    /// Weight decay.
    pub weight_decay: f64,
    /// Seed.
    pub seed: u64,
    /// Where the data came from and how it was split (task-specific).
    pub data: Value,
    /// Seconds of training steps in this process.
    pub train_seconds: f64,
    /// Training examples per second.
    pub train_samples_per_second: f64,
    /// Validation figures of the kept model.
    pub valid: Value,
    /// Test figures of the kept model.
    pub test: Value,
    /// Every epoch's record.
    pub history: Vec<EpochRecord>,
    /// The task's own fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunReport {
    /// The common fields of a run trained with `settings` that ended in `outcome`.
    pub fn new<M>(
        settings: &RunSettings,
        outcome: &FitOutcome<M>,
        model: impl Into<String>,
        parameters: usize,
    ) -> Self {
        let fit = &settings.fit;
        Self {
            recipe: settings.name.clone(),
            chapter: settings.chapter.clone(),
            backend: settings.backend.name().into(),
            model: model.into(),
            parameters,
            epochs: outcome.history.len(),
            model_epoch: outcome.model_epoch,
            stopped_early: outcome.stopped_early,
            resumed_after: outcome.resumed_after,
            batch_size: fit.batch_size,
            learning_rate: fit.learning_rate,
            optimizer: fit.optimizer.to_string(),
            schedule: fit.schedule.to_string(),
            weight_decay: fit.weight_decay,
            seed: fit.seed,
            data: Value::Null,
            train_seconds: outcome.train_seconds,
            train_samples_per_second: outcome.samples_per_second(),
            valid: Value::Null,
            test: Value::Null,
            history: outcome.history.clone(),
            extra: Map::new(),
        }
    }

    /// Adds a task-specific field.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        insert_field(&mut self.extra, key, value);
        self
    }

    /// Writes `DIR/metrics.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, TaskError> {
        write_metrics(dir, self)
    }

    /// The line a classifier prints at the end: test accuracy, loss and macro-F1 of the kept
    /// epoch, and where the figures went.
    pub fn classification_line(&self, path: &Path) -> String {
        let figure = |key: &str| self.test[key].as_f64().unwrap_or(f64::NAN);
        format!(
            "test: accuracy {:.2}% loss {:.4} macro-F1 {:.4} (model of epoch {}) -> {}",
            figure("accuracy") * 100.0,
            figure("loss"),
            figure("macro_f1"),
            self.model_epoch,
            path.display()
        )
    }
}

/// A report's task-specific field `key` (JSON null for a value JSON cannot hold).
fn insert_field(extra: &mut Map<String, Value>, key: &str, value: impl Serialize) {
    extra.insert(
        key.into(),
        serde_json::to_value(value).unwrap_or(Value::Null),
    );
}

/// Writes `report` as `DIR/metrics.json` atomically; returns the file's path.
fn write_metrics(dir: &Path, report: &impl Serialize) -> Result<PathBuf, TaskError> {
    let path = dir.join("metrics.json");
    write_json_atomic(&path, report)?;
    Ok(path)
}

/// `metrics.json` of an evaluation of a trained run (`OUT/eval/metrics.json` by default).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    /// The run's name (recipe).
    pub recipe: String,
    /// The backend it ran on.
    pub backend: String,
    /// The run folder evaluated.
    pub checkpoint: String,
    /// Where the data came from.
    pub data: Value,
    /// Seconds of evaluation.
    pub eval_seconds: f64,
    /// Examples (sentences, windows, …) per second.
    pub eval_samples_per_second: f64,
    /// The figures.
    pub test: Value,
    /// The task's own fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EvalReport {
    /// The common fields of an evaluation of `checkpoint` over `examples` in `seconds`.
    pub fn new(
        settings: &RunSettings,
        checkpoint: &Path,
        data: impl Serialize,
        examples: usize,
        seconds: f64,
        test: Value,
    ) -> Self {
        Self {
            recipe: settings.name.clone(),
            backend: settings.backend.name().into(),
            checkpoint: checkpoint.display().to_string(),
            data: serde_json::to_value(data).unwrap_or(Value::Null),
            eval_seconds: seconds,
            eval_samples_per_second: examples as f64 / seconds.max(1e-9),
            test,
            extra: Map::new(),
        }
        // Zero training: a program that reads any metrics.json finds these fields in both kinds.
        .with("epochs", 0)
        .with("train_seconds", 0.0)
        .with("train_samples_per_second", 0.0)
    }

    /// The evaluation of a classifier of `num_classes` classes that began at `start`:
    /// [`EvalReport::new`] with `result`'s
    /// [`classification_report`](EvalResult::classification_report) as `test`.
    pub fn classification(
        settings: &RunSettings,
        checkpoint: &Path,
        data: impl Serialize,
        result: &EvalResult,
        num_classes: usize,
        start: std::time::Instant,
    ) -> Self {
        Self::new(
            settings,
            checkpoint,
            data,
            result.examples,
            start.elapsed().as_secs_f64(),
            result.classification_report(num_classes),
        )
    }

    /// Adds a task-specific field.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        insert_field(&mut self.extra, key, value);
        self
    }

    /// Writes `DIR/metrics.json` atomically (creating `DIR`).
    pub fn write(&self, dir: &Path) -> Result<PathBuf, TaskError> {
        std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
        write_metrics(dir, self)
    }
}

impl EvalResult {
    /// Accuracy, loss, example count, per-class averaged precision/recall/F1 and the confusion
    /// matrix, as written under `test` in `metrics.json`.
    pub fn classification_report(&self, num_classes: usize) -> Value {
        let mut cm = deepzero_core::ConfusionMatrix::new(num_classes);
        // Predictions and targets come from the model's own logits and the dataset's validated
        // labels, so they are in range; a failure here would be a bug, reported rather than hidden.
        let mut report = match cm.add_batch(&self.predictions, &self.targets) {
            Err(e) => json!({ "error": e.to_string() }),
            Ok(()) => json!({
                "macro_precision": cm.macro_precision(),
                "macro_recall": cm.macro_recall(),
                "macro_f1": cm.macro_f1(),
                "micro_f1": cm.micro_f1(),
                "confusion_matrix": (0..num_classes).map(|c| cm.row(c).to_vec()).collect::<Vec<_>>(),
            }),
        };
        report["accuracy"] = json!(self.accuracy);
        report["loss"] = json!(self.loss);
        report["examples"] = json!(self.examples);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Info {
        recipe: String,
    }

    #[test]
    fn metadata_paths_stay_inside_the_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vocab.json"), "[]").unwrap();
        assert_eq!(
            run_file(dir.path(), "vocab.json").unwrap(),
            dir.path().join("vocab.json")
        );
        assert!(run_file(dir.path(), "sub/missing.json").is_ok());
        for bad in ["", "/etc/passwd", "../vocab.json", "a/../../b", "/dev/zero"] {
            let err = run_file(dir.path(), bad).unwrap_err().to_string();
            assert!(err.contains("not a plain file name"), "{bad}: {err}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
            let err = run_file(dir.path(), "zero").unwrap_err().to_string();
            assert!(err.contains("links outside"), "{err}");
        }
    }

    #[test]
    fn run_json_errors_name_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = read_run_json::<Info>(&missing).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let err = read_run_json::<Info>(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a deepzero run folder"), "{err}");
        std::fs::write(dir.path().join("run.json"), r#"{"recipe":"a"}"#).unwrap();
        let err = load_run_json(dir.path(), "b", |i: &Info| i.recipe.as_str())
            .unwrap_err()
            .to_string();
        assert!(err.contains("trained by recipe `a`, not `b`"), "{err}");
        assert!(model_file(dir.path()).is_err());
        // A run of another task, whose run.json lacks this task's fields, is named by its
        // recipe rather than by the first missing field.
        #[derive(Debug, Deserialize)]
        struct Tagger {
            #[allow(dead_code)]
            vocab: Vec<String>,
            recipe: String,
        }
        let other = r#"{"recipe":"peoples-daily-bert-ner","vocab_file":"vocab.txt"}"#;
        std::fs::write(dir.path().join("run.json"), other).unwrap();
        let err = load_run_json(dir.path(), "peoples-daily-ner", |i: &Tagger| &i.recipe)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("trained by recipe `peoples-daily-bert-ner`, not `peoples-daily-ner`"),
            "{err}"
        );
        let err = load_run_json(dir.path(), "peoples-daily-bert-ner", |i: &Tagger| &i.recipe)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `vocab`"), "{err}");
    }

    #[derive(Debug, Deserialize)]
    struct Versioned {
        recipe: String,
        #[serde(default = "version_1")]
        version: u32,
    }
    crate::impl_run_info!(Versioned, 2);

    #[test]
    fn run_json_bytes_are_checked_as_the_file() {
        let info: Versioned =
            parse_run_info(br#"{"recipe":"a","version":2}"#, "run.json", Some("a")).unwrap();
        assert_eq!((info.recipe.as_str(), info.version), ("a", 2));
        let err = |bytes: &[u8], recipe| {
            parse_run_info::<Versioned>(bytes, "run.json", recipe)
                .unwrap_err()
                .to_string()
        };
        let e = err(br#"{"recipe":"a"}"#, Some("b"));
        assert!(e.contains("trained by recipe `a`, not `b`"), "{e}");
        let e = err(br#"{"recipe":"a","version":3}"#, None);
        assert!(
            e.contains("version 3, newer than this library reads (2)"),
            "{e}"
        );
        let e = err(b"\xff\xfe", None);
        assert!(
            e.starts_with("run.json: ") && e.contains("not UTF-8"),
            "{e}"
        );
        let e = err(b"{\n\"vocab\": 3\n}", None);
        assert!(e.contains("cannot parse") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn classification_report_counts_every_example() {
        let result = EvalResult {
            loss: 0.5,
            accuracy: 0.75,
            examples: 4,
            predictions: vec![0, 1, 1, 1],
            targets: vec![0, 1, 0, 1],
        };
        let report = result.classification_report(2);
        assert_eq!(report["confusion_matrix"], json!([[1, 1], [0, 2]]));
        assert_eq!(report["accuracy"], json!(0.75));
        assert_eq!(report["examples"], json!(4));
    }
}
