//! What every task of the domain crates shares: the error type a task returns, and the settings
//! of one run (what to call it, how to train, where to write, which backend).
//!
//! A task (`deepzero_sequence::tasks::classify`, `deepzero_vision::tasks::classify`, …) is a
//! library call `train(&spec, &settings)`: `spec` says what to build from which data, and
//! [`RunSettings`] the rest. The `deepzero` CLI fills both from its flags; a program fills them
//! itself:
//!
//! ```no_run
//! use deepzero_train::{FitConfig, RunSettings};
//!
//! let settings = RunSettings::new("my-run", "runs/my-run").with_fit(FitConfig {
//!     epochs: 3,
//!     ..FitConfig::default()
//! });
//! assert_eq!(settings.seed(), 42);
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::DataError;

use crate::device::{Backend, BackendError};
use crate::fingerprint::{DataFingerprint, data_fingerprint};
use crate::guard;
use crate::{BatchSource, FitConfig, FitOutcome, Progress, RunDir, Supervised, TrainError};

/// Anything that ends a task: one line of text, typed by its cause.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task's settings or inputs make no sense (an option out of range, a run folder of
    /// another task, an input the model cannot read).
    #[error("{0}")]
    Invalid(String),
    /// A dataset could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training, evaluation or a run-folder file failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The backend is unknown or not compiled in.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A failure of a domain crate's own (weights import, a model's configuration).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl TaskError {
    /// `TaskError::Invalid` from anything printable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// Maps an I/O error on `path` (`.map_err(TaskError::io(&path))`).
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TaskError + '_ {
        move |source| TaskError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Implements `From<$error> for TaskError` for a domain crate's error enum that has an
/// `Io { path, source }` and a `Train(TrainError)` variant: an I/O error stays one (naming
/// its file), a training failure stays one, and every other variant becomes
/// [`TaskError::Invalid`] with the error's one-line message.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// pub enum MyError {
///     #[error("{}: {source}", path.display())]
///     Io { path: std::path::PathBuf, source: std::io::Error },
///     #[error("k must be at least 1")]
///     BadK,
///     #[error(transparent)]
///     Train(#[from] deepzero_train::TrainError),
/// }
/// deepzero_train::impl_task_error_from!(MyError);
///
/// let e = deepzero_train::TaskError::from(MyError::BadK);
/// assert!(matches!(e, deepzero_train::TaskError::Invalid(m) if m == "k must be at least 1"));
/// ```
#[macro_export]
macro_rules! impl_task_error_from {
    ($error:ident) => {
        impl From<$error> for $crate::TaskError {
            /// As a task error: an I/O error stays one, a training failure stays one, the rest
            /// is an invalid input with this error's one-line message.
            fn from(e: $error) -> Self {
                match e {
                    $error::Io { path, source } => Self::Io { path, source },
                    $error::Train(t) => Self::Train(t),
                    other => Self::Invalid(other.to_string()),
                }
            }
        }
    };
}

/// A task's spec that trains a run and evaluates one: what lets a front end (the `deepzero`
/// command's recipe registry) train and evaluate every such recipe the same way. Each task
/// module implements it with its own `train` and `evaluate_run`, dropping what they return
/// (the figures are in the run folder's `metrics.json`).
pub trait Task {
    /// Trains a run into `settings.out`.
    ///
    /// # Errors
    /// Those of the task's `train`.
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError>;

    /// Evaluates the run in `run` on the test split, writing the figures into `settings.out`.
    ///
    /// # Errors
    /// Those of the task's `evaluate_run`.
    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError>;
}

/// A named, ready-made configuration of a task, with the training settings it was measured
/// with: what the `deepzero` CLI lists and trains, and a starting point for a program.
#[derive(Clone, Debug)]
pub struct Recipe<S> {
    /// The name (`mnist-lenet`).
    pub name: &'static str,
    /// The seed chapter(s) it implements.
    pub chapter: &'static str,
    /// One line saying what it trains.
    pub summary: &'static str,
    /// What the task builds and reads.
    pub spec: S,
    /// How it trains.
    pub fit: FitConfig,
}

impl<S> Recipe<S> {
    /// A recipe of `spec` trained as `fit` says.
    pub fn new(
        name: &'static str,
        chapter: &'static str,
        summary: &'static str,
        spec: S,
        fit: FitConfig,
    ) -> Self {
        Self {
            name,
            chapter,
            summary,
            spec,
            fit,
        }
    }

    /// [`RunSettings`] for this recipe into `out`.
    pub fn settings(&self, out: impl Into<PathBuf>) -> RunSettings {
        RunSettings {
            chapter: self.chapter.into(),
            ..RunSettings::new(self.name, out).with_fit(self.fit.clone())
        }
    }
}

impl Recipe<&'static str> {
    /// Recipes whose training settings live in their task's spec (a recommender's or a graph
    /// model's epochs and rates are its own): each spec is the recipe's name, each
    /// [`FitConfig`] empty (no epochs, no batches), `summary` gives each one's line.
    pub fn with_own_settings(
        names: &[&'static str],
        chapter: &'static str,
        summary: impl Fn(&str) -> &'static str,
    ) -> Vec<Self> {
        let own = FitConfig::recipe(0, 0, 0.0, OptimizerKind::Sgd, LrSchedule::Constant);
        names
            .iter()
            .map(|&name| Recipe::new(name, chapter, summary(name), name, own.clone()))
            .collect()
    }
}

/// How one run of a task is trained and where it goes; the task's own spec says what is trained.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// What the run is called (a recipe name): recorded in `run.json` and `metrics.json`, and
    /// checked when the run is loaded again.
    pub name: String,
    /// The seed chapter the task implements, for `metrics.json` (empty if none).
    pub chapter: String,
    /// Epochs, batch size, optimiser, schedule, seed …
    pub fit: FitConfig,
    /// The run folder.
    pub out: PathBuf,
    /// Continue from the latest checkpoint in `out`.
    pub resume: bool,
    /// Replace a run already in `out` (without it, training into a folder that holds a run is
    /// an error, so that a finished run is never destroyed by accident).
    pub overwrite: bool,
    /// Epoch lines only, no progress bar or per-step lines.
    pub quiet: bool,
    /// Where the tensors live.
    pub backend: Backend,
    /// The data folder (tasks with a shipped sample use it when this is `None`).
    pub data_dir: Option<PathBuf>,
    /// Fraction of the training split held out for validation.
    pub valid_fraction: f64,
    /// Examples per batch when evaluating a trained run (default: the task's).
    pub eval_batch_size: Option<usize>,
    /// The fingerprint of the data the task reads ([`RunSettings::with_data`]): recorded with
    /// the checkpoints, so that a `--resume` on other data is refused.
    pub data_fingerprint: Option<DataFingerprint>,
}

impl RunSettings {
    /// Settings with [`FitConfig::default`], Flex, 10 % validation and no data folder.
    pub fn new(name: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            chapter: String::new(),
            fit: FitConfig::default(),
            out: out.into(),
            resume: false,
            overwrite: false,
            quiet: false,
            backend: Backend::Flex,
            data_dir: None,
            valid_fraction: 0.1,
            eval_batch_size: None,
            data_fingerprint: None,
        }
    }

    /// Trains with `fit`.
    pub fn with_fit(mut self, fit: FitConfig) -> Self {
        self.fit = fit;
        self
    }

    /// Reads the data from `dir`.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Computes on `backend`.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The seed of weights, shuffling, augmentation and splits.
    pub fn seed(&self) -> u64 {
        self.fit.seed
    }

    /// The (non-autodiff) device of [`RunSettings::backend`].
    pub fn device(&self) -> Result<Device, TaskError> {
        Ok(self.backend.device()?)
    }

    /// The progress display: epoch lines only when quiet, else a bar on a terminal and plain
    /// lines elsewhere.
    pub fn progress(&self) -> Progress {
        if self.quiet {
            Progress::quiet()
        } else {
            Progress::auto()
        }
    }

    /// The data folder, or an error saying that `self.name` needs one.
    pub fn require_data_dir(&self) -> Result<&Path, TaskError> {
        self.data_dir.as_deref().ok_or_else(|| {
            TaskError::invalid(format!(
                "{} needs a data folder (the staged datasets, e.g. shared/datasets)",
                self.name
            ))
        })
    }

    /// These settings with the fingerprint of the data at `paths` (the files or folders the
    /// task reads), which [`RunSettings::run_dir`] records so that a resume on other data is
    /// refused, naming `data`.
    ///
    /// # Errors
    /// [`TaskError::Train`] if a path cannot be read.
    pub fn with_data(&self, paths: &[&Path]) -> Result<Self, TaskError> {
        Ok(Self {
            data_fingerprint: Some(data_fingerprint(paths)?),
            ..self.clone()
        })
    }

    /// The run folder for [`crate::fit()`], checkpoints tagged with `identity`. A resume also
    /// checks the validation fraction and the data's fingerprint (when the task recorded one
    /// with [`RunSettings::with_data`]), besides the training settings `fit` compares.
    pub fn run_dir(&self, identity: serde_json::Value) -> RunDir {
        let mut settings = serde_json::json!({ "valid_fraction": self.valid_fraction });
        if let Some(data) = &self.data_fingerprint {
            settings["data"] = serde_json::to_value(data).unwrap_or_default();
        }
        RunDir::new(&self.out, identity)
            .resume(self.resume)
            .overwrite(self.overwrite)
            .with_settings(settings)
    }

    /// Checks the settings every task shares.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.fit.batch_size == 0 {
            return Err(TaskError::invalid("the batch size must be at least 1"));
        }
        if self.fit.epochs == 0 {
            return Err(TaskError::invalid(
                "the number of epochs must be at least 1",
            ));
        }
        let lr = self.fit.learning_rate;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TaskError::invalid(format!(
                "the learning rate must be a positive number, not {lr}"
            )));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(TaskError::invalid(
                "the validation fraction must be in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Trains `model` with [`crate::fit()`] into the run folder (checkpoints tagged with
    /// `identity`), then saves the kept model, in inference mode, as `out/model.bpk`; the
    /// returned outcome holds that model.
    pub fn fit_and_save<M, T, V>(
        &self,
        model: M,
        train: &T,
        valid: Option<&V>,
        device: &Device,
        identity: serde_json::Value,
        progress: &mut Progress,
    ) -> Result<FitOutcome<M>, TaskError>
    where
        M: Supervised,
        T: BatchSource<M::Batch> + ?Sized,
        V: BatchSource<M::Batch> + ?Sized,
    {
        self.fit_and_save_with(
            model,
            train,
            valid,
            device,
            identity,
            progress,
            crate::FitHooks::default(),
        )
    }

    /// [`Self::fit_and_save`] with [`FitHooks`](crate::FitHooks) (per-group learning rates,
    /// a hook per epoch, further validation figures).
    #[allow(clippy::too_many_arguments)]
    pub fn fit_and_save_with<M, T, V>(
        &self,
        model: M,
        train: &T,
        valid: Option<&V>,
        device: &Device,
        identity: serde_json::Value,
        progress: &mut Progress,
        hooks: crate::FitHooks<'_, M>,
    ) -> Result<FitOutcome<M>, TaskError>
    where
        M: Supervised,
        T: BatchSource<M::Batch> + ?Sized,
        V: BatchSource<M::Batch> + ?Sized,
    {
        let run = self.run_dir(identity);
        let config = &self.fit;
        let mut outcome =
            crate::fit_with(model, train, valid, device, config, &run, progress, hooks)?;
        outcome.model = outcome.model.valid();
        crate::checkpoint::save_model(&outcome.model, &self.out.join("model.bpk"))?;
        Ok(outcome)
    }

    /// Creates and locks the run folder, and checks that this command may write into it:
    /// a folder that already holds a run is refused unless the run is resumed (`resume`) or
    /// replaced (`overwrite`, which empties it first). Call it after the inputs have been read
    /// and checked, before the first file is written.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a folder that holds a run, [`TaskError::Train`] if another
    /// process is writing it, [`TaskError::Io`] if it cannot be created or cleared.
    pub fn create_out(&self) -> Result<&Path, TaskError> {
        // A backend that is not compiled in fails here, before the folder is touched.
        self.device()?;
        std::fs::create_dir_all(&self.out).map_err(TaskError::io(&self.out))?;
        guard::lock_run_folder(&self.out)?;
        if !self.resume && guard::holds_run(&self.out) {
            if !self.overwrite {
                return Err(TaskError::invalid(format!(
                    "{} already holds a run; pass --resume to continue it, --overwrite to \
                     replace it, or choose another --out",
                    self.out.display()
                )));
            }
            guard::clear_run(&self.out)?;
        }
        Ok(&self.out)
    }

    /// Writes `name` (e.g. `run.json`) into the run folder atomically — or, when resuming,
    /// checks that the file already there holds the same JSON and leaves it untouched, so that a
    /// resume with other data or settings is refused before anything changes.
    ///
    /// # Errors
    /// [`TaskError::Train`] naming the first field that differs, or a write error.
    pub fn write_run_json(
        &self,
        name: &str,
        value: &impl serde::Serialize,
    ) -> Result<(), TaskError> {
        let text = serde_json::to_vec_pretty(value)
            .map_err(|e| TaskError::invalid(format!("{name}: cannot serialise: {e}")))?;
        self.write_run_file(name, &text)
    }

    /// [`RunSettings::write_run_json`] for any file (vocabularies, merges): written atomically,
    /// or compared byte for byte (JSON as JSON) when resuming.
    ///
    /// # Errors
    /// As [`RunSettings::write_run_json`].
    pub fn write_run_file(&self, name: &str, bytes: &[u8]) -> Result<(), TaskError> {
        let path = self.out.join(name);
        if self.resume && path.exists() {
            return Ok(guard::check_unchanged(&path, bytes)?);
        }
        Ok(crate::metrics_file::write_atomic(&path, bytes)?)
    }
}

/// The table `deepzero list` prints: a header, one `name chapter summary` row per recipe (the
/// names padded to the longest), then the compute backends compiled into this build.
pub fn recipe_table<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> String {
    let rows: Vec<(&str, &str, &str)> = rows.into_iter().collect();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mut text = format!(
        "{:<width$} {:<14} {}\n",
        "RECIPE", "SEED CHAPTER", "WHAT IT TRAINS"
    );
    for (name, chapter, summary) in rows {
        text.push_str(&format!("{name:<width$} {chapter:<14} {summary}\n"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum DomainError {
        #[error("{}: {source}", path.display())]
        Io {
            path: PathBuf,
            source: std::io::Error,
        },
        #[error("k must be at least 1")]
        BadK,
        #[error(transparent)]
        Train(#[from] TrainError),
    }
    crate::impl_task_error_from!(DomainError);

    #[test]
    fn domain_errors_keep_the_message_and_the_io_error() {
        let invalid = DomainError::BadK;
        let message = invalid.to_string();
        assert_eq!(TaskError::from(invalid).to_string(), message);
        let io = DomainError::Io {
            path: PathBuf::from("u.data"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(
            matches!(TaskError::from(io), TaskError::Io { path, .. } if path == Path::new("u.data"))
        );
        let train = DomainError::from(TrainError::Data("bad batch".into()));
        assert!(matches!(TaskError::from(train), TaskError::Train(_)));
    }

    #[test]
    fn validation_names_the_setting() {
        let mut s = RunSettings::new("t", "out");
        assert!(s.validate().is_ok());
        s.fit.batch_size = 0;
        assert!(s.validate().unwrap_err().to_string().contains("batch size"));
        s.fit.batch_size = 1;
        s.fit.learning_rate = f64::NAN;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("learning rate")
        );
        s.fit.learning_rate = 0.1;
        s.valid_fraction = 1.0;
        assert!(s.validate().unwrap_err().to_string().contains("validation"));
    }

    #[test]
    fn io_errors_keep_their_path_and_kind() {
        let err = std::fs::read("/no/such/file").map_err(TaskError::io(Path::new("/no/such/file")));
        let err = err.unwrap_err();
        assert!(matches!(err, TaskError::Io { .. }));
        assert!(err.to_string().starts_with("/no/such/file: "), "{err}");
    }

    #[test]
    fn recipe_table_pads_names_and_lists_the_backends() {
        let text = recipe_table([("a", "2.1", "first"), ("longer", "3.1.2", "second")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "RECIPE SEED CHAPTER   WHAT IT TRAINS");
        assert_eq!(lines[1], "a      2.1            first");
        assert_eq!(lines[2], "longer 3.1.2          second");
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("backends compiled in: ") && lines[4].contains("flex"));
    }
}
