//! Early stopping on a validation metric (seed 2.3.3: "dynamically adjust the number of
//! iterations").
//!
//! After every epoch the training loop calls [`EarlyStopping::update`] with the validation
//! value. A value *improves* when it beats the best so far by more than `min_delta`
//! (`value < best − min_delta` when minimising, `value > best + min_delta` when maximising).
//! After `patience` consecutive epochs without improvement, `update` answers
//! [`Decision::Stop`] (and keeps answering it).
//!
//! **Restoring the best model is the training loop's job**: on [`Decision::Improved`] it saves
//! (or keeps a copy of) the model, and when it stops it reloads that copy;
//! [`EarlyStopping::best_epoch`] says which one. The struct is `Serialize`/`Deserialize` so it
//! goes into checkpoints and a resumed run keeps its patience counter and best value.
//!
//! Non-finite values (NaN, ±∞, e.g. a diverged loss) never count as improvements.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether smaller or larger values of the monitored metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better (losses, error rates).
    Minimize,
    /// Higher is better (accuracy, F1).
    Maximize,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Minimize => "min",
            Self::Maximize => "max",
        })
    }
}

/// A mode string that is neither `min`/`minimize` nor `max`/`maximize`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode `{0}`; valid: min, max (or minimize, maximize)")]
pub struct ParseModeError(pub String);

impl FromStr for Mode {
    type Err = ParseModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "min" | "minimize" | "minimise" => Ok(Self::Minimize),
            "max" | "maximize" | "maximise" => Ok(Self::Maximize),
            _ => Err(ParseModeError(s.to_string())),
        }
    }
}

/// What the training loop should do after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// A new best value: keep (save) this model.
    Improved,
    /// No improvement, but patience is not exhausted: keep training.
    NoImprovement,
    /// Patience exhausted: stop and restore the best model.
    Stop,
}

/// Early-stopping state; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    patience: usize,
    min_delta: f64,
    mode: Mode,
    best_value: Option<f64>,
    best_epoch: Option<usize>,
    epochs_without_improvement: usize,
    stopped: bool,
}

impl EarlyStopping {
    /// Stops after `patience` consecutive epochs that fail to beat the best value by more than
    /// `min_delta` (its absolute value is used), as Keras' and Lightning's `EarlyStopping` do;
    /// `patience` 0 and 1 both stop at the first such epoch.
    pub fn new(patience: usize, min_delta: f64, mode: Mode) -> Self {
        Self {
            patience,
            min_delta: if min_delta.is_finite() {
                min_delta.abs()
            } else {
                0.0
            },
            mode,
            best_value: None,
            best_epoch: None,
            epochs_without_improvement: 0,
            stopped: false,
        }
    }

    /// Records the validation `value` of `epoch` and decides.
    pub fn update(&mut self, epoch: usize, value: f64) -> Decision {
        if self.stopped {
            return Decision::Stop;
        }
        if self.is_improvement(value) {
            self.best_value = Some(value);
            self.best_epoch = Some(epoch);
            self.epochs_without_improvement = 0;
            return Decision::Improved;
        }
        self.epochs_without_improvement += 1;
        // Keras / Lightning convention: `patience` non-improving epochs in a row stop the run.
        if self.epochs_without_improvement >= self.patience {
            self.stopped = true;
            Decision::Stop
        } else {
            Decision::NoImprovement
        }
    }

    fn is_improvement(&self, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        match (self.best_value, self.mode) {
            (None, _) => true,
            (Some(best), Mode::Minimize) => value < best - self.min_delta,
            (Some(best), Mode::Maximize) => value > best + self.min_delta,
        }
    }

    /// The epoch of the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The best value so far.
    pub fn best_value(&self) -> Option<f64> {
        self.best_value
    }

    /// Consecutive epochs since the last improvement.
    pub fn epochs_without_improvement(&self) -> usize {
        self.epochs_without_improvement
    }

    /// Whether [`Decision::Stop`] has been returned.
    pub fn should_stop(&self) -> bool {
        self.stopped
    }

    /// The configured patience.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// The configured minimum improvement.
    pub fn min_delta(&self) -> f64 {
        self.min_delta
    }

    /// The configured direction.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut es = EarlyStopping::new(2, 0.0, Mode::Minimize);
        let losses = [1.0, 0.8, 0.9, 0.85, 0.95];
        let decisions: Vec<Decision> = losses
            .iter()
            .enumerate()
            .map(|(e, &v)| es.update(e, v))
            .collect();
        use Decision::*;
        assert_eq!(
            decisions,
            vec![Improved, Improved, NoImprovement, Stop, Stop]
        );
        assert_eq!(es.best_epoch(), Some(1));
        assert_eq!(es.best_value(), Some(0.8));
        assert!(es.should_stop());
        // Sticky once stopped, even for a great value.
        assert_eq!(es.update(5, 0.1), Stop);
        assert_eq!(es.best_epoch(), Some(1));
    }

    #[test]
    fn improvement_resets_the_counter() {
        let mut es = EarlyStopping::new(2, 0.0, Mode::Minimize);
        assert_eq!(es.update(0, 1.0), Decision::Improved);
        assert_eq!(es.update(1, 1.0), Decision::NoImprovement); // equal is not better
        assert_eq!(es.update(2, 0.5), Decision::Improved);
        assert_eq!(es.epochs_without_improvement(), 0);
        assert_eq!(es.update(3, 0.6), Decision::NoImprovement);
        assert_eq!(es.update(4, 0.7), Decision::Stop);
    }

    #[test]
    fn min_delta_and_maximize() {
        let mut es = EarlyStopping::new(3, 0.01, Mode::Maximize);
        assert_eq!(es.update(0, 0.90), Decision::Improved);
        // +0.005 is within min_delta: not an improvement.
        assert_eq!(es.update(1, 0.905), Decision::NoImprovement);
        assert_eq!(es.update(2, 0.92), Decision::Improved);
        assert_eq!(es.best_value(), Some(0.92));
        assert_eq!(es.best_epoch(), Some(2));
    }

    #[test]
    fn zero_patience_and_non_finite_values() {
        let mut es = EarlyStopping::new(0, 0.0, Mode::Minimize);
        assert_eq!(es.update(0, f64::NAN), Decision::Stop);
        assert_eq!(es.best_epoch(), None);
        let mut es = EarlyStopping::new(5, 0.0, Mode::Minimize);
        assert_eq!(es.update(0, f64::INFINITY), Decision::NoImprovement);
        assert_eq!(es.update(1, 2.0), Decision::Improved);
        assert_eq!(es.update(2, f64::NEG_INFINITY), Decision::NoImprovement);
        assert_eq!(es.best_value(), Some(2.0));
    }

    #[test]
    fn state_survives_serde_so_resume_continues() {
        let mut es = EarlyStopping::new(3, 0.0, Mode::Minimize);
        es.update(0, 1.0);
        es.update(1, 1.2);
        let json = serde_json::to_string(&es).unwrap();
        let mut resumed: EarlyStopping = serde_json::from_str(&json).unwrap();
        assert_eq!(resumed, es);
        assert_eq!(resumed.update(2, 1.1), Decision::NoImprovement);
        assert_eq!(resumed.update(3, 1.1), Decision::Stop);
    }

    #[test]
    fn mode_parses_and_displays() {
        assert_eq!("min".parse::<Mode>().unwrap(), Mode::Minimize);
        assert_eq!("Maximize".parse::<Mode>().unwrap(), Mode::Maximize);
        assert_eq!(
            Mode::Maximize.to_string().parse::<Mode>().unwrap(),
            Mode::Maximize
        );
        assert!("up".parse::<Mode>().is_err());
    }
}
