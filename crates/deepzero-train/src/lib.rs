//! # deepzero-train
//!
//! The training glue every deepzero model crate reuses: a supervised loop with validation,
//! atomic per-epoch checkpoints and `--resume`, early stopping with restore-best, a hard stop on
//! a NaN/inf loss, a progress display (bar on a terminal, plain lines otherwise), `metrics.csv`
//! per epoch, a final `metrics.json`, and loss/accuracy curves drawn to a PNG.
//!
//! ## Why our own loop and not burn-train's `SupervisedTraining`
//! burn-train 0.22 is a fine general trainer, but four things this project needs are awkward
//! through it: (1) a resumed run must see exactly the batches the uninterrupted run would have
//! seen (our shuffling is a pure function of `(seed, epoch)`, burn's loader advances one RNG);
//! (2) the checkpoint must hold the schedule position, the early-stopping state and the metric
//! history as well as model and optimiser, and be published atomically as one unit; (3) a
//! non-finite loss must end the run with a typed error before the optimiser step corrupts the
//! weights; (4) off a terminal, burn-train prints one line per iteration, while CI logs want a
//! few lines per epoch. The loop itself is short ([`fit`]), so owning it costs little; it uses
//! burn's modules, autodiff, `ModuleOptimizer` and burnpack records for everything else.

pub mod checkpoint;
pub mod error;
pub mod evaluate;
pub mod fit;
pub mod metrics_file;
pub mod plot;
pub mod progress;
pub mod source;
pub mod step;

pub use checkpoint::{Checkpoint, CheckpointState, Checkpoints};
pub use error::TrainError;
pub use evaluate::{EvalResult, evaluate};
pub use fit::{EarlyStop, FitConfig, FitHooks, FitOutcome, RunDir, fit, fit_with};
pub use metrics_file::{EpochRecord, write_json_atomic, write_metrics_csv};
pub use plot::draw_curves;
pub use progress::Progress;
pub use source::{BatchSource, DatasetBatches};
pub use step::{ClassificationStep, Supervised};
