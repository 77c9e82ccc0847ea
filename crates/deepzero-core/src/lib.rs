//! # deepzero-core: the maths of deep learning, from zero, checked against burn
//!
//! This crate implements chapters 1.2 and 2.1–2.3 of the seed textbook (*从零开始大模型开发与
//! 微调*) on burn 0.22 tensors: every formula is written out by hand, and every hand-written
//! derivative is tested against burn's autodiff **and** against central finite differences;
//! every optimiser is stepped side by side with burn's built-in one. Where the seed's maths is
//! wrong, the code follows the correct version and `docs/errata.md` names the test that proves it.
//!
//! | module | contents |
//! |---|---|
//! | [`activation`] | sigmoid, tanh, ReLU, leaky ReLU, stable softmax / log-softmax, each with its `*_backward` |
//! | [`loss`] | MSE, binary cross-entropy from logits, cross-entropy from logits, with gradients |
//! | [`gradcheck`] | finite-difference and autodiff gradient checks |
//! | [`regression`] | linear and logistic regression trained on hand-derived gradients |
//! | [`mlp`] | a two-layer perceptron with hand-written forward and backward passes |
//! | [`optim`] | SGD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW as `burn::optim::Optimizer`s; [`OptimizerKind`] |
//! | [`params`] | a module's float parameters as a list (path, id, rank, size), to pick parameter groups by rule |
//! | [`schedule`] | learning-rate schedules as pure functions of the step ([`LrSchedule`]) |
//! | [`early_stopping`] | patience-based early stopping ([`EarlyStopping`]) |
//! | [`metrics`] | accuracy, top-k, confusion matrix, precision / recall / F1 |
//!
//! Everything is device-generic: functions take burn `Tensor`s (whose device decides the
//! backend) and nothing names a backend.
//!
//! A training loop typically needs:
//!
//! ```no_run
//! use deepzero_core::{EarlyStopping, LrSchedule, Mode, OptimizerKind, Decision};
//!
//! let kind: OptimizerKind = "adamw".parse().unwrap();
//! let mut optim = kind.build(0.01); // a burn::optim::ModuleOptimizer
//! let schedule: LrSchedule = "warmup-cosine:100:0.01".parse().unwrap();
//! let mut stopper = EarlyStopping::new(5, 1e-4, Mode::Minimize);
//! # let (total_steps, base_lr) = (1000, 1e-3);
//! for step in 0..total_steps {
//!     let lr = schedule.lr(base_lr, step, total_steps);
//!     // model = optim.step(lr, model, grads);
//! #   let _ = lr;
//! }
//! // after each epoch: if stopper.update(epoch, val_loss) == Decision::Stop { break }
//! # let _ = (&mut optim, &mut stopper);
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod early_stopping;
mod error;
pub mod gradcheck;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod optim;
pub mod params;
pub mod regression;
pub mod schedule;

#[cfg(test)]
mod test_util;

/// burn itself, so that one dependency line gives a program the tensors, modules and optimisers.
pub use burn;

/// What most programs built on deepzero use: burn's prelude (tensors, `Device`, `Module`,
/// `Config`) and this crate's optimisers, schedules and metrics.
pub mod prelude {
    pub use crate::{ConfusionMatrix, Decision, EarlyStopping, LrSchedule, Mode, OptimizerKind};
    pub use burn::prelude::*;
}

pub use early_stopping::{Decision, EarlyStopping, Mode};
pub use error::{CoreError, Result};
pub use metrics::{ClassificationReport, ConfusionMatrix};
pub use mlp::{HiddenActivation, Mlp};
pub use optim::{OptimizerKind, ParseOptimizerError};
pub use regression::{LinearRegression, LogisticRegression, RegressionModel};
pub use schedule::{LrSchedule, ParseScheduleError};
