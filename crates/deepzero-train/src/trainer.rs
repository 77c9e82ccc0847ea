//! [`Trainer`]: the training loop as a builder, for programs that use deepzero as a library.

use std::path::PathBuf;

use burn::prelude::*;

use crate::fit::fit_loop;
use crate::{
    BatchSource, FitConfig, FitHooks, FitOutcome, Progress, RunDir, Supervised, TrainError,
};

/// Trains a [`Supervised`] model: `Trainer::new(config).run_dir(dir).fit(model, &train, Some(&valid), &device)`.
///
/// Everything but the configuration is optional:
/// * without [`Trainer::run_dir`] nothing is written (the best epoch is kept in memory);
///   with it, every epoch leaves a checkpoint, `metrics.csv` and `curves.png` there, and
///   [`Trainer::resume`] continues from the latest checkpoint exactly as the uninterrupted run
///   would have gone on;
/// * the progress display is [`Progress::auto`] (a bar on a terminal, a few lines per epoch
///   elsewhere) unless [`Trainer::progress`] says otherwise;
/// * [`Trainer::hooks`] changes what trains from one epoch to the next (fine-tuning).
///
/// ```no_run
/// # use burn::prelude::*;
/// # use deepzero_train::{Trainer, FitConfig, Supervised, BatchSource, TrainError};
/// # fn demo<M: Supervised, S: BatchSource<M::Batch>>(model: M, train: S, valid: S) -> Result<(), TrainError> {
/// let device = Device::flex().autodiff();
/// let outcome = Trainer::new(FitConfig { epochs: 5, ..FitConfig::default() })
///     .run_dir("runs/demo")
///     .fit(model, &train, Some(&valid), &device)?;
/// println!("best epoch {}", outcome.model_epoch);
/// # Ok(()) }
/// ```
pub struct Trainer<'a, M> {
    config: FitConfig,
    /// The run folder, when there is one.
    out: Option<PathBuf>,
    /// What the run folder records and how it is opened (identity, resume, overwrite); its
    /// path is `out`'s.
    run: RunDir,
    progress: Progress,
    hooks: FitHooks<'a, M>,
}

impl<'a, M: Supervised> Trainer<'a, M> {
    /// A trainer with `config`, no run folder and the automatic progress display.
    pub fn new(config: FitConfig) -> Self {
        Self {
            config,
            out: None,
            run: RunDir::new(PathBuf::new(), serde_json::Value::Null),
            progress: Progress::auto(),
            hooks: FitHooks::default(),
        }
    }

    /// Writes checkpoints, `metrics.csv` and `curves.png` to `path`.
    pub fn run_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.out = Some(path.into());
        self
    }

    /// What the run is (stored in each checkpoint; a resume refuses a different one), and the
    /// title of its curves when it has a `recipe` field.
    pub fn identity(mut self, identity: serde_json::Value) -> Self {
        self.run.identity = identity;
        self
    }

    /// Continues from the latest checkpoint of the run folder, if there is one.
    pub fn resume(mut self, resume: bool) -> Self {
        self.run = self.run.resume(resume);
        self
    }

    /// Replaces a run already in the run folder (without it, training into a folder that holds
    /// checkpoints is an error).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.run = self.run.overwrite(overwrite);
        self
    }

    /// Uses `progress` to show how training goes.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Changes what trains per epoch and per parameter group.
    pub fn hooks(mut self, hooks: FitHooks<'a, M>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Trains `model` (on `device`, an autodiff device) on `train`, validating on `valid` after
    /// every epoch; see [`crate::fit()`] for the details of the loop.
    pub fn fit<T, V>(
        mut self,
        model: M,
        train: &T,
        valid: Option<&V>,
        device: &Device,
    ) -> Result<FitOutcome<M>, TrainError>
    where
        T: BatchSource<M::Batch> + ?Sized,
        V: BatchSource<M::Batch> + ?Sized,
    {
        let run = self.out.map(|path| RunDir { path, ..self.run });
        fit_loop(
            model,
            train,
            valid,
            device,
            &self.config,
            run.as_ref(),
            &mut self.progress,
            self.hooks,
        )
    }
}
