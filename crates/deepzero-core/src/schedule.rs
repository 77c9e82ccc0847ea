//! Learning-rate schedules (seed 2.3.1: fixed, step-wise decreasing, and — added here —
//! exponential, cosine and warm-up).
//!
//! A schedule is a **pure function** `lr(base_lr, step, total_steps)`: the learning rate for the
//! update with 0-based index `step` out of `total_steps`. Nothing else is stored, so a checkpoint
//! only needs the step counter to resume on the exact same curve. The unit of `step` is whatever
//! the training loop passes (optimizer steps or epochs); `step_size` and `warmup_steps` are in
//! that same unit.
//!
//! | schedule | `lr(step)` |
//! |---|---|
//! | `constant` | `base` |
//! | `step:S:γ` | `base · γ^⌊step / S⌋` |
//! | `exponential:γ` | `base · γ^step` |
//! | `cosine:f` | `min + (base − min)(1 + cos(π·step/T))/2`, `min = f·base`, `T = total_steps` |
//! | `warmup-cosine:W:f` | `base·(step + 1)/W` for `step < W`, then cosine from `base` to `f·base` over the remaining `T − W` steps |
//! | `warmup-linear:W` | `base·(step + 1)/W` for `step < W`, then linear from `base` to 0 at `step = T` |
//!
//! Cosine and exponential equal PyTorch's `CosineAnnealingLR(T_max = T, eta_min = min)` and
//! `ExponentialLR` (and burn's schedulers of the same names, which the tests check). Past `T`
//! the cosine stays at `min` (PyTorch's closed form would rise again). The warm-up starts at
//! `base/W` rather than 0 so that no step is wasted with a zero learning rate.

use core::f64::consts::PI;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// Default `step_size` of `step` (PyTorch's classic ImageNet recipe: every 30 epochs).
pub const DEFAULT_STEP_SIZE: usize = 30;
/// Default `gamma` of `step` (PyTorch's `StepLR` default).
pub const DEFAULT_STEP_GAMMA: f64 = 0.1;
/// Default `gamma` of `exponential`.
pub const DEFAULT_EXPONENTIAL_GAMMA: f64 = 0.95;
/// Default warm-up length of the warm-up schedules.
pub const DEFAULT_WARMUP_STEPS: usize = 100;

/// A learning-rate schedule; see the module docs for the formulas and the string syntax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The same learning rate throughout (the default).
    #[default]
    Constant,
    /// Multiply by `gamma` every `step_size` steps.
    Step {
        /// Steps between two decays (at least 1).
        step_size: usize,
        /// Factor applied at each decay.
        gamma: f64,
    },
    /// Multiply by `gamma` every step.
    Exponential {
        /// Per-step factor.
        gamma: f64,
    },
    /// Half a cosine from `base` down to `min_lr_factor · base` at `total_steps`.
    Cosine {
        /// Final learning rate as a fraction of the base.
        min_lr_factor: f64,
    },
    /// Linear warm-up to `base` over `warmup_steps`, then cosine decay to
    /// `min_lr_factor · base`.
    WarmupCosine {
        /// Length of the warm-up.
        warmup_steps: usize,
        /// Final learning rate as a fraction of the base.
        min_lr_factor: f64,
    },
    /// Linear warm-up to `base` over `warmup_steps`, then linear decay to 0 at `total_steps`.
    WarmupLinear {
        /// Length of the warm-up.
        warmup_steps: usize,
    },
}

/// Linear warm-up factor for 0-based `step < warmup`: `(step + 1) / warmup`.
fn warmup_factor(step: usize, warmup: usize) -> f64 {
    (step + 1) as f64 / warmup as f64
}

/// The factor of 0-based `step` in a schedule that warms up linearly over `warmup` steps, then
/// follows `decay(progress)` with `progress` going from 0 to 1 over the remaining steps (factor 1
/// when no step remains).
fn warmup_then(step: usize, warmup: usize, total: usize, decay: impl Fn(f64) -> f64) -> f64 {
    if step < warmup {
        return warmup_factor(step, warmup);
    }
    let decay_steps = total.saturating_sub(warmup);
    if decay_steps == 0 {
        return 1.0;
    }
    decay((step - warmup) as f64 / decay_steps as f64)
}

/// Cosine interpolation from 1 to `min_factor` as `progress` goes from 0 to 1 (clamped).
fn cosine_factor(progress: f64, min_factor: f64) -> f64 {
    let p = progress.clamp(0.0, 1.0);
    min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (PI * p).cos())
}

impl LrSchedule {
    /// Every schedule name accepted by [`FromStr`].
    pub const NAMES: [&'static str; 6] = [
        "constant",
        "step",
        "exponential",
        "cosine",
        "warmup-cosine",
        "warmup-linear",
    ];

    /// The learning rate for the update with 0-based index `step` out of `total_steps`.
    ///
    /// `total_steps = 0` (unknown length) makes the cosine and linear decays stay at `base`
    /// after the warm-up.
    pub fn lr(&self, base_lr: f64, step: usize, total_steps: usize) -> f64 {
        match *self {
            Self::Constant => base_lr,
            Self::Step { step_size, gamma } => {
                let decays = step / step_size.max(1);
                base_lr * gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
            Self::Exponential { gamma } => {
                base_lr * gamma.powi(i32::try_from(step).unwrap_or(i32::MAX))
            }
            Self::Cosine { min_lr_factor } => {
                if total_steps == 0 {
                    return base_lr;
                }
                base_lr * cosine_factor(step as f64 / total_steps as f64, min_lr_factor)
            }
            Self::WarmupCosine {
                warmup_steps,
                min_lr_factor,
            } => {
                base_lr
                    * warmup_then(step, warmup_steps, total_steps, |progress| {
                        cosine_factor(progress, min_lr_factor)
                    })
            }
            Self::WarmupLinear { warmup_steps } => {
                base_lr
                    * warmup_then(step, warmup_steps, total_steps, |progress| {
                        (1.0 - progress).max(0.0)
                    })
            }
        }
    }

    /// The schedule's name (the part before the first `:`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Step { .. } => "step",
            Self::Exponential { .. } => "exponential",
            Self::Cosine { .. } => "cosine",
            Self::WarmupCosine { .. } => "warmup-cosine",
            Self::WarmupLinear { .. } => "warmup-linear",
        }
    }
}

impl fmt::Display for LrSchedule {
    /// The full `name:param:…` form, which [`FromStr`] parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Constant => f.write_str("constant"),
            Self::Step { step_size, gamma } => write!(f, "step:{step_size}:{gamma}"),
            Self::Exponential { gamma } => write!(f, "exponential:{gamma}"),
            Self::Cosine { min_lr_factor } => write!(f, "cosine:{min_lr_factor}"),
            Self::WarmupCosine {
                warmup_steps,
                min_lr_factor,
            } => write!(f, "warmup-cosine:{warmup_steps}:{min_lr_factor}"),
            Self::WarmupLinear { warmup_steps } => write!(f, "warmup-linear:{warmup_steps}"),
        }
    }
}

/// A schedule string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid learning-rate schedule `{given}`: {reason}; valid forms: constant, \
     step[:STEP_SIZE[:GAMMA]], exponential[:GAMMA], cosine[:MIN_LR_FACTOR], \
     warmup-cosine[:WARMUP_STEPS[:MIN_LR_FACTOR]], warmup-linear[:WARMUP_STEPS]"
)]
pub struct ParseScheduleError {
    /// What was given.
    pub given: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for LrSchedule {
    type Err = ParseScheduleError;

    /// Parses `name[:p1[:p2]]`, e.g. `cosine`, `step:10:0.5`, `warmup-cosine:500:0.01`.
    /// Missing parameters take the defaults: `step:30:0.1`, `exponential:0.95`, `cosine:0`,
    /// `warmup-cosine:100:0`, `warmup-linear:100`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ParseScheduleError {
            given: s.to_string(),
            reason,
        };
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: Vec<&str> = parts.collect();

        let max_params = match name.as_str() {
            "constant" => 0,
            "exponential" | "cosine" | "warmup-linear" => 1,
            "step" | "warmup-cosine" => 2,
            other => return Err(err(format!("unknown schedule `{other}`"))),
        };
        if params.len() > max_params {
            return Err(err(format!(
                "`{name}` takes at most {max_params} parameter(s), got {}",
                params.len()
            )));
        }
        let count = |i: usize, default: usize, what: &str| -> Result<usize, ParseScheduleError> {
            params.get(i).map_or(Ok(default), |p| {
                p.trim()
                    .parse::<usize>()
                    .map_err(|_| err(format!("{what} must be a non-negative integer, got `{p}`")))
            })
        };
        let real = |i: usize, default: f64, what: &str| -> Result<f64, ParseScheduleError> {
            params.get(i).map_or(Ok(default), |p| {
                p.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| err(format!("{what} must be a finite number, got `{p}`")))
            })
        };
        let factor = |v: f64, what: &str| -> Result<f64, ParseScheduleError> {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(err(format!("{what} must be in [0, 1], got {v}")))
            }
        };
        let positive = |v: f64, what: &str| -> Result<f64, ParseScheduleError> {
            if v > 0.0 {
                Ok(v)
            } else {
                Err(err(format!("{what} must be positive, got {v}")))
            }
        };

        Ok(match name.as_str() {
            "constant" => Self::Constant,
            "step" => {
                let step_size = count(0, DEFAULT_STEP_SIZE, "step size")?;
                if step_size == 0 {
                    return Err(err("step size must be at least 1".into()));
                }
                let gamma = positive(real(1, DEFAULT_STEP_GAMMA, "gamma")?, "gamma")?;
                Self::Step { step_size, gamma }
            }
            "exponential" => Self::Exponential {
                gamma: positive(real(0, DEFAULT_EXPONENTIAL_GAMMA, "gamma")?, "gamma")?,
            },
            "cosine" => Self::Cosine {
                min_lr_factor: factor(real(0, 0.0, "min lr factor")?, "min lr factor")?,
            },
            "warmup-cosine" => Self::WarmupCosine {
                warmup_steps: count(0, DEFAULT_WARMUP_STEPS, "warm-up steps")?,
                min_lr_factor: factor(real(1, 0.0, "min lr factor")?, "min lr factor")?,
            },
            _ => Self::WarmupLinear {
                warmup_steps: count(0, DEFAULT_WARMUP_STEPS, "warm-up steps")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
    use burn::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
    use burn::lr_scheduler::step::StepLrSchedulerConfig;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn constant_and_step() {
        close(LrSchedule::Constant.lr(0.1, 1234, 10), 0.1);
        let s = LrSchedule::Step {
            step_size: 10,
            gamma: 0.5,
        };
        close(s.lr(0.1, 0, 100), 0.1);
        close(s.lr(0.1, 9, 100), 0.1);
        // Halves exactly at the boundary.
        close(s.lr(0.1, 10, 100), 0.05);
        close(s.lr(0.1, 25, 100), 0.025);
    }

    #[test]
    fn exponential() {
        let s = LrSchedule::Exponential { gamma: 0.9 };
        close(s.lr(0.2, 0, 0), 0.2);
        close(s.lr(0.2, 3, 0), 0.2 * 0.729);
    }

    #[test]
    fn cosine_endpoints_and_midpoint() {
        let s = LrSchedule::Cosine { min_lr_factor: 0.1 };
        let (base, min) = (0.4, 0.04);
        close(s.lr(base, 0, 100), base);
        close(s.lr(base, 50, 100), (base + min) / 2.0);
        close(s.lr(base, 100, 100), min);
        // Stays at the floor afterwards.
        close(s.lr(base, 150, 100), min);
        // A quarter of the way: min + (base − min)(1 + cos(π/4))/2.
        close(
            s.lr(base, 25, 100),
            min + (base - min) * (1.0 + (PI / 4.0).cos()) / 2.0,
        );
        // Unknown length: no decay.
        close(s.lr(base, 7, 0), base);
    }

    #[test]
    fn warmup_ramps_linearly_then_decays() {
        let s = LrSchedule::WarmupCosine {
            warmup_steps: 4,
            min_lr_factor: 0.0,
        };
        let base = 1.0;
        let ramp: Vec<f64> = (0..4).map(|k| s.lr(base, k, 24)).collect();
        assert_eq!(ramp, vec![0.25, 0.5, 0.75, 1.0]);
        close(s.lr(base, 4, 24), 1.0);
        // Cosine midpoint of the 20 decay steps.
        close(s.lr(base, 14, 24), 0.5);
        close(s.lr(base, 24, 24), 0.0);

        let l = LrSchedule::WarmupLinear { warmup_steps: 2 };
        assert_eq!(
            (0..2).map(|k| l.lr(0.1, k, 12)).collect::<Vec<_>>(),
            vec![0.05, 0.1]
        );
        close(l.lr(0.1, 2, 12), 0.1);
        close(l.lr(0.1, 7, 12), 0.05);
        close(l.lr(0.1, 12, 12), 0.0);
        close(l.lr(0.1, 20, 12), 0.0);
        // Warm-up longer than the run: just the ramp, then the base rate.
        let long = LrSchedule::WarmupLinear { warmup_steps: 10 };
        close(long.lr(0.1, 4, 5), 0.05);
        close(long.lr(0.1, 12, 5), 0.1);
    }

    #[test]
    fn cosine_matches_burn() {
        let (base, min, total) = (0.1, 0.01, 20);
        let mut burn_sched = CosineAnnealingLrSchedulerConfig::new(base, total)
            .with_min_lr(min)
            .init()
            .unwrap();
        let ours = LrSchedule::Cosine { min_lr_factor: 0.1 };
        for step in 0..=total {
            let theirs = burn_sched.step().base();
            assert!(
                (ours.lr(base, step, total) - theirs).abs() < 1e-12,
                "step {step}"
            );
        }
    }

    #[test]
    fn exponential_and_step_match_burn() {
        let mut exp = ExponentialLrSchedulerConfig::new(0.1, 0.9).init().unwrap();
        let ours = LrSchedule::Exponential { gamma: 0.9 };
        for step in 0..15 {
            let theirs = exp.step().base();
            assert!(
                (ours.lr(0.1, step, 0) - theirs).abs() < 1e-12,
                "step {step}"
            );
        }
        let mut st = StepLrSchedulerConfig::new(0.1, 4)
            .with_gamma(0.5)
            .init()
            .unwrap();
        let ours = LrSchedule::Step {
            step_size: 4,
            gamma: 0.5,
        };
        for step in 0..15 {
            let theirs = st.step().base();
            assert!(
                (ours.lr(0.1, step, 0) - theirs).abs() < 1e-12,
                "step {step}"
            );
        }
    }

    #[test]
    fn parse_defaults_parameters_and_errors() {
        assert_eq!(
            "constant".parse::<LrSchedule>().unwrap(),
            LrSchedule::Constant
        );
        assert_eq!(
            "step".parse::<LrSchedule>().unwrap(),
            LrSchedule::Step {
                step_size: DEFAULT_STEP_SIZE,
                gamma: DEFAULT_STEP_GAMMA
            }
        );
        assert_eq!(
            "step:10:0.5".parse::<LrSchedule>().unwrap(),
            LrSchedule::Step {
                step_size: 10,
                gamma: 0.5
            }
        );
        assert_eq!(
            "step:10".parse::<LrSchedule>().unwrap(),
            LrSchedule::Step {
                step_size: 10,
                gamma: 0.1
            }
        );
        assert_eq!(
            "Exponential:0.9".parse::<LrSchedule>().unwrap(),
            LrSchedule::Exponential { gamma: 0.9 }
        );
        assert_eq!(
            "cosine".parse::<LrSchedule>().unwrap(),
            LrSchedule::Cosine { min_lr_factor: 0.0 }
        );
        assert_eq!(
            "warmup-cosine:500:0.01".parse::<LrSchedule>().unwrap(),
            LrSchedule::WarmupCosine {
                warmup_steps: 500,
                min_lr_factor: 0.01
            }
        );
        assert_eq!(
            "warmup-linear".parse::<LrSchedule>().unwrap(),
            LrSchedule::WarmupLinear {
                warmup_steps: DEFAULT_WARMUP_STEPS
            }
        );
        for bad in [
            "linear",
            "step:0",
            "step:ten",
            "step:1:2:3",
            "cosine:1.5",
            "exponential:-1",
            "exponential:nan",
            "constant:1",
            "",
        ] {
            let e = bad.parse::<LrSchedule>().unwrap_err();
            assert!(e.to_string().contains("warmup-cosine"), "{e}");
        }
    }

    #[test]
    fn display_and_serde_round_trip() {
        let all = [
            LrSchedule::Constant,
            LrSchedule::Step {
                step_size: 7,
                gamma: 0.25,
            },
            LrSchedule::Exponential { gamma: 0.97 },
            LrSchedule::Cosine {
                min_lr_factor: 0.05,
            },
            LrSchedule::WarmupCosine {
                warmup_steps: 12,
                min_lr_factor: 0.0,
            },
            LrSchedule::WarmupLinear { warmup_steps: 3 },
        ];
        for (s, name) in all.iter().zip(LrSchedule::NAMES) {
            assert_eq!(s.name(), name);
            assert_eq!(s.to_string().parse::<LrSchedule>().unwrap(), *s);
            let json = serde_json::to_string(s).unwrap();
            assert!(json.contains(&format!("\"kind\":\"{name}\"")), "{json}");
            assert_eq!(serde_json::from_str::<LrSchedule>(&json).unwrap(), *s);
        }
    }
}
