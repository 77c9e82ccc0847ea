//! How a person asks for one run: [`RunOptions`], every training setting optional (`None`
//! keeps the recipe's), turned into the [`RunSettings`] a task takes.
//!
//! With the `clap` feature it is the option group every `deepzero` command that trains shares
//! (`--epochs`, `--lr`, `--out`, `--resume` …).
//!
//! ```
//! use deepzero_train::FitConfig;
//! use deepzero_train::options::RunOptions;
//!
//! let options = RunOptions { epochs: Some(2), ..RunOptions::default() };
//! options.check("mnist-mlp", false).unwrap();
//! let settings = options
//!     .run_settings("mnist-mlp", "2.1", &FitConfig::default(), "runs/mlp".into())
//!     .unwrap();
//! assert_eq!(settings.fit.epochs, 2);
//! ```

use std::path::PathBuf;

use deepzero_core::{LrSchedule, OptimizerKind};

use crate::device::Backend;
use crate::tune::TrialParams;
use crate::{EarlyStop, FitConfig, RunSettings, TaskError};

/// The settings of one training run that a person may give, each overriding the recipe's.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RunOptions {
    /// Dataset folder (for MNIST: the four IDX files, or a folder with an `mnist/` sub-folder).
    /// Without it, recipes with a sample shipped in `datasets/` use the sample.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Epochs (default: the recipe's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub epochs: Option<usize>,
    /// Examples per step (default: the recipe's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<usize>,
    /// Base learning rate (default: the recipe's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr: Option<f64>,
    /// Optimiser: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw.
    #[cfg_attr(feature = "clap", arg(long))]
    pub optimizer: Option<OptimizerKind>,
    /// Learning-rate schedule: constant, step, exponential, cosine, warmup-cosine, warmup-linear.
    #[cfg_attr(feature = "clap", arg(long))]
    pub schedule: Option<LrSchedule>,
    /// Weight decay (L2 for SGD-family and Adam, decoupled for AdamW).
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f64>,
    /// Stop after this many epochs without a better validation loss.
    #[cfg_attr(feature = "clap", arg(long))]
    pub patience: Option<usize>,
    /// Fraction of the training split held out for validation.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub valid_fraction: f64,
    /// Seed of weights, shuffling, augmentation and splits.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 42))]
    pub seed: u64,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[cfg_attr(feature = "clap", arg(long))]
    pub backend: Option<String>,
    /// Output folder (default: runs/RECIPE).
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: Option<PathBuf>,
    /// Continue from the latest checkpoint in the output folder.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "overwrite"))]
    pub resume: bool,
    /// Replace a run already in the output folder (without it, that is an error).
    #[cfg_attr(feature = "clap", arg(long))]
    pub overwrite: bool,
    /// Print only one line per epoch.
    #[cfg_attr(feature = "clap", arg(long))]
    pub quiet: bool,
}

impl Default for RunOptions {
    /// Nothing given: the recipe's settings, 10 % validation, seed 42, `runs/RECIPE`.
    fn default() -> Self {
        Self {
            data_dir: None,
            epochs: None,
            batch_size: None,
            lr: None,
            optimizer: None,
            schedule: None,
            weight_decay: None,
            patience: None,
            valid_fraction: 0.1,
            seed: 42,
            backend: None,
            out: None,
            resume: false,
            overwrite: false,
            quiet: false,
        }
    }
}

impl RunOptions {
    /// The output folder of a run of recipe `name`: `out`, else `runs/NAME`.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name))
    }

    /// The recipe's training settings `d` with the options given.
    pub fn fit_config(&self, d: &FitConfig) -> FitConfig {
        FitConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.lr.unwrap_or(d.learning_rate),
            optimizer: self.optimizer.unwrap_or(d.optimizer),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            schedule: self.schedule.unwrap_or(d.schedule),
            seed: self.seed,
            early_stopping: self
                .patience
                .map(|patience| EarlyStop {
                    patience,
                    min_delta: 0.0,
                })
                .or_else(|| d.early_stopping.clone()),
            ..d.clone()
        }
    }

    /// What a task needs to run recipe `name` (of `chapter`, trained as `defaults` says
    /// unless an option says otherwise) into `out`.
    ///
    /// # Errors
    /// The backend is unknown or not compiled in.
    pub fn run_settings(
        &self,
        name: &str,
        chapter: &str,
        defaults: &FitConfig,
        out: PathBuf,
    ) -> Result<RunSettings, TaskError> {
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

    /// Refuses a trial of a model search that searches a training setting also given here
    /// (`--lr`, `--batch-size`, `--weight-decay`, `--optimizer`, `--schedule`).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the first such option.
    pub fn refuse_searched(&self, params: &TrialParams) -> Result<(), TaskError> {
        params.refuse_given(&[
            ("lr", self.lr.is_some()),
            ("batch-size", self.batch_size.is_some()),
            ("weight-decay", self.weight_decay.is_some()),
            ("optimizer", self.optimizer.is_some()),
            ("schedule", self.schedule.is_some()),
        ])
    }

    /// Checks the values for recipe `name`, which `needs_data` a data folder.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the option.
    pub fn check(&self, name: &str, needs_data: bool) -> Result<(), TaskError> {
        let counts = [("--batch-size", self.batch_size), ("--epochs", self.epochs)];
        if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == Some(0)) {
            return Err(TaskError::invalid(format!("{flag} must be at least 1")));
        }
        if let Some(lr) = self.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
            return Err(TaskError::invalid(format!(
                "--lr must be a positive number, not {lr}"
            )));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(TaskError::invalid("--valid-fraction must be in [0, 1)"));
        }
        if self.data_dir.is_none() && needs_data {
            return Err(TaskError::invalid(format!(
                "{name} needs --data-dir DIR (see `deepzero list`; e.g. shared/datasets)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_options_override_the_recipes_settings_and_the_rest_stays() {
        let d = FitConfig {
            epochs: 5,
            batch_size: 32,
            ..FitConfig::default()
        };
        let options = RunOptions {
            epochs: Some(2),
            lr: Some(0.5),
            patience: Some(3),
            seed: 7,
            ..RunOptions::default()
        };
        let fit = options.fit_config(&d);
        assert_eq!((fit.epochs, fit.batch_size, fit.seed), (2, 32, 7));
        assert_eq!(fit.learning_rate, 0.5);
        assert_eq!(fit.early_stopping.map(|e| e.patience), Some(3));
        assert_eq!(fit.optimizer, d.optimizer);
        let settings = options
            .run_settings("r", "1.1", &d, PathBuf::from("o"))
            .unwrap();
        assert_eq!(
            (settings.name.as_str(), settings.chapter.as_str()),
            ("r", "1.1")
        );
        assert_eq!(
            (settings.valid_fraction, settings.eval_batch_size),
            (0.1, None)
        );
        assert_eq!(options.out_dir("r"), PathBuf::from("runs/r"));
        let bad_backend = RunOptions {
            backend: Some("abacus".into()),
            ..RunOptions::default()
        };
        assert!(bad_backend.run_settings("r", "", &d, "o".into()).is_err());
    }

    #[test]
    fn values_out_of_range_and_a_missing_data_folder_are_refused() {
        let cases = [
            (
                RunOptions {
                    epochs: Some(0),
                    ..RunOptions::default()
                },
                "--epochs must be at least 1",
            ),
            (
                RunOptions {
                    lr: Some(-1.0),
                    ..RunOptions::default()
                },
                "--lr must be a positive number, not -1",
            ),
            (
                RunOptions {
                    valid_fraction: 1.0,
                    ..RunOptions::default()
                },
                "--valid-fraction must be in [0, 1)",
            ),
        ];
        for (options, message) in cases {
            assert_eq!(options.check("r", false).unwrap_err().to_string(), message);
        }
        let err = RunOptions::default().check("bbc", true).unwrap_err();
        assert!(
            err.to_string().starts_with("bbc needs --data-dir DIR"),
            "{err}"
        );
        assert!(RunOptions::default().check("bbc", false).is_ok());
    }
}
