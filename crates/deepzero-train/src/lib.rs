//! # deepzero-train
//!
//! The training glue every deepzero task reuses: a supervised loop with validation
//! ([`Trainer`], or the function [`fit()`]), atomic per-epoch checkpoints and exact resume, early
//! stopping with restore-best, a hard stop on a NaN/inf loss, a progress display (bar on a
//! terminal, plain lines otherwise), `metrics.csv` per epoch, a typed `metrics.json`
//! ([`RunReport`]), loss/accuracy curves drawn to a PNG, the run folder's helpers
//! ([`run_folder`]), the settings and error type that every task shares ([`RunSettings`],
//! [`TaskError`]), and the run-time choice of backend ([`device`]). For model selection
//! (chapter 7): [`tune`] (grid and seeded random search over any task, trials judged on the
//! validation split, the best re-trained) and [`lr_find`] (the learning-rate range test).
//!
//! ## Quick start
//! A model is trainable when it turns a batch into a [`ClassificationStep`] ([`Supervised`]);
//! data are anything that yields batches by index ([`BatchSource`], e.g. [`DatasetBatches`] over
//! a burn dataset and batcher). Then:
//! ```
//! use burn::data::{dataloader::batcher::Batcher, dataset::InMemDataset};
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//! use deepzero_train::{ClassificationStep, DatasetBatches, FitConfig, Supervised, Trainer};
//!
//! #[derive(Module, Debug)]
//! struct Classifier { linear: Linear }
//!
//! impl Supervised for Classifier {
//!     type Batch = (Tensor<2>, Tensor<1, Int>);
//!     fn step(&self, (x, y): Self::Batch) -> ClassificationStep {
//!         ClassificationStep::from_logits(self.linear.forward(x), y)
//!     }
//! }
//!
//! #[derive(Clone)]
//! struct Points;
//! impl Batcher<([f32; 2], i32), (Tensor<2>, Tensor<1, Int>)> for Points {
//!     fn batch(&self, items: Vec<([f32; 2], i32)>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
//!         let x: Vec<f32> = items.iter().flat_map(|(x, _)| *x).collect();
//!         let y: Vec<i32> = items.iter().map(|(_, y)| *y).collect();
//!         let n = items.len();
//!         (Tensor::from_data(TensorData::new(x, [n, 2]), device), Tensor::from_data(TensorData::new(y, [n]), device))
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Label 1 where x0 + x1 > 0.
//! let points: Vec<([f32; 2], i32)> = (0..200)
//!     .map(|i| { let (a, b) = ((i % 20) as f32 - 9.5, (i / 10) as f32 - 9.5); ([a, b], (a + b > 0.0) as i32) })
//!     .collect();
//! let data = DatasetBatches::new(InMemDataset::new(points), Points);
//! let device = deepzero_train::device::from_env()?.autodiff(); // Flex unless BURN_DEVICE says otherwise
//! let model = Classifier { linear: LinearConfig::new(2, 2).init(&device) };
//! let config = FitConfig { epochs: 5, batch_size: 20, learning_rate: 0.05, ..FitConfig::default() };
//! let outcome = Trainer::new(config)
//!     .progress(deepzero_train::Progress::quiet())
//!     // .run_dir("runs/points") would write checkpoints, metrics.csv and curves.png there
//!     .fit(model, &data, Some(&data), &device)?;
//! assert!(outcome.history.last().unwrap().train_accuracy > 0.9);
//! # Ok(()) }
//! ```
//!
//! Every task of the domain crates (`deepzero_vision::tasks`, `deepzero_sequence::tasks`, …) is
//! built on this: it takes [`RunSettings`], trains with it, and writes a run folder
//! ([`run_folder`]) that its `Predictor` loads again.
//!
//! ## Why our own loop and not burn-train's `SupervisedTraining`
//! burn-train 0.22 is a fine general trainer, but four things this project needs are awkward
//! through it: (1) a resumed run must see exactly the batches the uninterrupted run would have
//! seen (our shuffling is a pure function of `(seed, epoch)`, burn's loader advances one RNG);
//! (2) the checkpoint must hold the schedule position, the early-stopping state and the metric
//! history as well as model and optimiser, and be published atomically as one unit; (3) a
//! non-finite loss must end the run with a typed error before the optimiser step corrupts the
//! weights; (4) off a terminal, burn-train prints one line per iteration, while CI logs want a
//! few lines per epoch. The loop itself is short ([`fit()`]), so owning it costs little; it uses
//! burn's modules, autodiff, `ModuleOptimizer` and burnpack records for everything else.

#[cfg(feature = "mimalloc")]
pub mod allocator;
pub mod checkpoint;
pub mod device;
pub mod error;
pub mod evaluate;
pub mod fingerprint;
pub mod fit;
pub mod guard;
pub mod lr_find;
pub mod metrics_file;
pub mod options;
pub mod panic;
pub mod plot;
pub mod progress;
pub mod regression;
pub mod run_folder;
pub mod source;
pub mod step;
pub mod task;
pub mod trainer;
pub mod tune;

/// burn itself, so that one dependency line gives a program the tensors too.
pub use burn;
pub use checkpoint::{Checkpoint, CheckpointState, Checkpoints};
pub use error::TrainError;
pub use evaluate::{EvalResult, evaluate};
pub use fingerprint::{DataFingerprint, data_fingerprint};
pub use fit::{EarlyStop, FitConfig, FitHooks, FitOutcome, RunDir, fit, fit_with};
pub use metrics_file::{EpochRecord, write_json_atomic, write_metrics_csv};
pub use plot::draw_curves;
pub use progress::Progress;
pub use run_folder::{
    EvalReport, RunInfo, RunReport, load_run_info, load_run_json, model_file, parse_run_info,
    read_run_json, run_file,
};
pub use source::{BatchSource, DatasetBatches};
pub use step::{ClassificationStep, Supervised};
pub use task::{Recipe, RunSettings, Task, TaskError};
pub use trainer::Trainer;
