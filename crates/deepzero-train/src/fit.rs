//! The supervised training loop.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::ParamGroup;
use burn::optim::GradientsParams;
use burn::prelude::*;
use deepzero_core::{EarlyStopping, LrSchedule, OptimizerKind};
use deepzero_data::epoch_batches;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointState, Checkpoints};
use crate::metrics_file::{EpochRecord, write_metrics_csv};
use crate::progress::eta_text;
use crate::{BatchSource, EvalResult, Progress, Supervised, TrainError, evaluate};

/// Early stopping on the validation loss.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f64,
}

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FitConfig {
    /// Number of epochs (the total, also when resuming).
    pub epochs: usize,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Base learning rate; the schedule scales it.
    pub learning_rate: f64,
    /// Which of deepzero-core's optimisers.
    pub optimizer: OptimizerKind,
    /// L2 (SGD family, Adam) or decoupled (AdamW) weight decay.
    pub weight_decay: f64,
    /// Learning-rate schedule over all steps of the run.
    pub schedule: LrSchedule,
    /// Seed of the shuffling (weights are seeded by the caller, before `init`).
    pub seed: u64,
    /// Stop when the validation loss stops improving (needs a validation set).
    pub early_stopping: Option<EarlyStop>,
    /// Return (and save as `model.bpk`) the epoch with the best validation loss rather than the last.
    pub restore_best: bool,
    /// Epoch checkpoints to keep.
    pub keep_checkpoints: usize,
    /// Examples per validation batch (default: `batch_size`, at least 256). Sources whose
    /// examples are themselves whole batches (translation's length buckets) set it to 1.
    #[serde(default)]
    pub valid_batch_size: Option<usize>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            learning_rate: 1e-3,
            optimizer: OptimizerKind::Adam,
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
            seed: 42,
            early_stopping: None,
            restore_best: true,
            keep_checkpoints: 2,
            valid_batch_size: None,
        }
    }
}

impl FitConfig {
    /// [`FitConfig::default`] with these five settings (no weight decay).
    pub fn recipe(
        epochs: usize,
        batch_size: usize,
        learning_rate: f64,
        optimizer: OptimizerKind,
        schedule: LrSchedule,
    ) -> Self {
        Self {
            epochs,
            batch_size,
            learning_rate,
            optimizer,
            schedule,
            ..Self::default()
        }
    }

    /// The same with `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// `10 epochs, batch 64, adam lr 0.001 (cosine)`: how a run trains, for its first line.
    pub fn describe(&self) -> String {
        format!(
            "{} epochs, batch {}, {} lr {} ({})",
            self.epochs, self.batch_size, self.optimizer, self.learning_rate, self.schedule
        )
    }
}

/// Where a run lives and what it is: the folder for checkpoints and metrics, the identity a
/// `--resume` must match (recipe, model configuration), and whether to resume or overwrite.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Output folder (checkpoints, `metrics.csv`, `curves.png`).
    pub path: PathBuf,
    /// Description of the run stored in every checkpoint; a resume refuses a different one.
    pub identity: serde_json::Value,
    /// Continue from the latest checkpoint in `path`, if there is one.
    pub resume: bool,
    /// Replace checkpoints already in `path` (without it a fresh run there is an error).
    pub overwrite: bool,
    /// Settings outside [`FitConfig`] that a resume must not change (e.g. the validation
    /// fraction), stored beside the training settings in every checkpoint.
    pub settings: serde_json::Value,
}

impl RunDir {
    /// A fresh run (no resume) in `path`.
    pub fn new(path: impl Into<PathBuf>, identity: serde_json::Value) -> Self {
        Self {
            path: path.into(),
            identity,
            resume: false,
            overwrite: false,
            settings: serde_json::Value::Null,
        }
    }

    /// Resumes from the latest checkpoint when `resume` is true.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Replaces existing checkpoints when `overwrite` is true.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Records `settings` (a JSON object) as part of what a resume must match.
    pub fn with_settings(mut self, settings: serde_json::Value) -> Self {
        self.settings = settings;
        self
    }
}

/// The generator seed of one epoch: SplitMix64 of the run's seed and the epoch number.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Training settings that may change when a run is resumed: they decide how long to train and
/// what to keep, not what one epoch computes. A change is recorded in the run's history.
pub const RESUMABLE_CHANGES: [&str; 5] = [
    "epochs",
    "keep_checkpoints",
    "valid_batch_size",
    "early_stopping",
    "restore_best",
];

/// The settings a checkpoint records: the [`FitConfig`] and the run folder's extra settings.
/// Settings that checkpoints of older versions do not record: a resume of such a checkpoint
/// skips them instead of refusing.
const RECORDED_LATER: [&str; 3] = ["train_examples", "valid_examples", "data"];

fn recorded_settings(
    config: &FitConfig,
    run: Option<&RunDir>,
    examples: (usize, Option<usize>),
) -> serde_json::Value {
    let mut value = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        // The sizes of the training and validation sets: the cheapest sign that a resume was
        // handed other data (tasks add a content fingerprint with `RunSettings::with_data`).
        object.insert("train_examples".into(), examples.0.into());
        object.insert("valid_examples".into(), examples.1.into());
        if let Some(serde_json::Value::Object(extra)) = run.map(|r| &r.settings) {
            object.extend(extra.clone());
        }
    }
    value
}

/// Compares the settings of a checkpoint with this command's: an error naming the first
/// setting that may not change, else the list of allowed changes (`"epochs 10 → 15"`).
fn compare_settings(
    recorded: &serde_json::Value,
    now: &serde_json::Value,
    path: &std::path::Path,
) -> Result<Vec<String>, TrainError> {
    let (Some(recorded), Some(now)) = (recorded.as_object(), now.as_object()) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<&String> = recorded.keys().chain(now.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changes = Vec::new();
    for key in keys {
        let null = serde_json::Value::Null;
        let (was, is) = (
            recorded.get(key).unwrap_or(&null),
            now.get(key).unwrap_or(&null),
        );
        // Checkpoints written before the data was recorded cannot be compared on it.
        if was == is || (!recorded.contains_key(key) && RECORDED_LATER.contains(&key.as_str())) {
            continue;
        }
        if RESUMABLE_CHANGES.contains(&key.as_str()) {
            changes.push(format!("{key} {was} → {is}"));
        } else {
            return Err(TrainError::Config(format!(
                "{}: --resume refused: the run was trained with {key} = {was}, this command asks \
                 for {is} (only {} may change when resuming)",
                path.display(),
                RESUMABLE_CHANGES.join(", ")
            )));
        }
    }
    Ok(changes)
}

/// What [`fit`] returns.
#[derive(Debug)]
pub struct FitOutcome<M> {
    /// The trained model (the best epoch's when `restore_best` and validation were used), on
    /// the training (autodiff) device; call `.valid()` before inference.
    pub model: M,
    /// Every epoch's metrics, including those of a run this one resumed.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights `model` holds.
    pub model_epoch: usize,
    /// Seconds spent in training steps in this process (validation excluded).
    pub train_seconds: f64,
    /// Training examples processed in this process.
    pub train_samples: usize,
    /// The epoch this process resumed after, if it did.
    pub resumed_after: Option<usize>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
}

impl<M> FitOutcome<M> {
    /// Training examples per second over this process's training steps.
    pub fn samples_per_second(&self) -> f64 {
        if self.train_seconds > 0.0 {
            self.train_samples as f64 / self.train_seconds
        } else {
            0.0
        }
    }
}

/// Trains `model` on `train`, validating on `valid` after every epoch.
///
/// * `device` must be an autodiff device (`Device::flex().autodiff()`), and `model` must live on it;
///   validation runs on `device.clone().without_autodiff()` with `model.valid()`.
/// * Each epoch ends with a checkpoint in `run.path/checkpoints` and an updated
///   `run.path/metrics.csv` and `run.path/curves.png`.
/// * With `run.resume`, the latest checkpoint is loaded (model, optimiser, schedule position,
///   early-stopping state, history) and training continues with the next epoch;
///   `run.identity` must equal the one stored in the checkpoint.
pub fn fit<M, T, V>(
    model: M,
    train: &T,
    valid: Option<&V>,
    device: &Device,
    config: &FitConfig,
    run: &RunDir,
    progress: &mut Progress,
) -> Result<FitOutcome<M>, TrainError>
where
    M: Supervised,
    T: BatchSource<M::Batch> + ?Sized,
    V: BatchSource<M::Batch> + ?Sized,
{
    fit_with(
        model,
        train,
        valid,
        device,
        config,
        run,
        progress,
        FitHooks::default(),
    )
}

/// Optional changes to what [`fit_with`] trains, for fine-tuning.
///
/// * [`FitHooks::on_epoch_start`]: a function `(epoch, model) -> model` called before every
///   epoch's first step (also the first epoch of a resumed run), e.g. to unfreeze a backbone
///   from epoch `e` on. It should depend on the epoch number only, so that a resumed run trains
///   what the uninterrupted run would have.
/// * [`FitHooks::lr_factor`]: the parameters of a group train at `factor ×` the scheduled
///   learning rate (discriminative learning rates: a pre-trained backbone slower than a new
///   head). Groups added later win where they overlap. Use path-based groups
///   (`ParamGroup::from_paths`, `from_regex`): parameter ids change when a checkpoint is loaded.
///
/// Frozen parameters (`Module::freeze`, `freeze_group`, `no_grad`) need no hook: they get no
/// gradient, so the optimiser leaves them (and their batch-norm statistics, when frozen) as
/// they are.
pub struct FitHooks<'a, M> {
    on_epoch_start: Option<Box<dyn FnMut(usize, M) -> M + 'a>>,
    lr_factors: Vec<(ParamGroup, f64)>,
    valid_metrics: Option<ValidMetrics<'a>>,
}

/// Figures computed from an epoch's validation predictions ([`FitHooks::valid_metrics`]).
type ValidMetrics<'a> = Box<dyn FnMut(&EvalResult) -> Vec<(String, f64)> + 'a>;

impl<M> Default for FitHooks<'_, M> {
    fn default() -> Self {
        Self {
            on_epoch_start: None,
            lr_factors: Vec::new(),
            valid_metrics: None,
        }
    }
}

impl<'a, M> FitHooks<'a, M> {
    /// Calls `hook(epoch, model)` before each epoch and trains the model it returns.
    pub fn on_epoch_start(mut self, hook: impl FnMut(usize, M) -> M + 'a) -> Self {
        self.on_epoch_start = Some(Box::new(hook));
        self
    }

    /// After each epoch's validation, computes further named figures from its predictions and
    /// targets (a segmenter's mean IoU, a tagger's entity F1): they are printed on the epoch line
    /// (`valid mean_iou 0.9355`) and kept in the epoch's [`EpochRecord::valid_metrics`], so
    /// `metrics.csv` gets a `valid_<name>` column. Early stopping still follows the loss.
    pub fn valid_metrics(
        mut self,
        metrics: impl FnMut(&EvalResult) -> Vec<(String, f64)> + 'a,
    ) -> Self {
        self.valid_metrics = Some(Box::new(metrics));
        self
    }

    /// Trains the parameters of `group` at `factor ×` the scheduled learning rate.
    pub fn lr_factor(mut self, group: ParamGroup, factor: f64) -> Self {
        self.lr_factors.push((group, factor));
        self
    }

    /// The learning rate of every parameter when the schedule says `lr`.
    pub fn learning_rates(&self, lr: f64) -> ModuleLearningRate {
        if self.lr_factors.is_empty() {
            return lr.into();
        }
        let mut policy = ModuleLrScheduler::new(lr);
        for (group, factor) in &self.lr_factors {
            policy = policy.with_group(group.clone(), lr * factor);
        }
        policy.step()
    }
}

/// [`fit`] with [`FitHooks`]: the same loop, checkpoints and files.
#[allow(clippy::too_many_arguments)]
pub fn fit_with<M, T, V>(
    model: M,
    train: &T,
    valid: Option<&V>,
    device: &Device,
    config: &FitConfig,
    run: &RunDir,
    progress: &mut Progress,
    hooks: FitHooks<'_, M>,
) -> Result<FitOutcome<M>, TrainError>
where
    M: Supervised,
    T: BatchSource<M::Batch> + ?Sized,
    V: BatchSource<M::Batch> + ?Sized,
{
    fit_loop(
        model,
        train,
        valid,
        device,
        config,
        Some(run),
        progress,
        hooks,
    )
}

/// The loop behind [`fit`], [`fit_with`] and [`crate::Trainer`]; without a run folder nothing
/// is written and the best epoch is kept in memory.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_loop<M, T, V>(
    mut model: M,
    train: &T,
    valid: Option<&V>,
    device: &Device,
    config: &FitConfig,
    run: Option<&RunDir>,
    progress: &mut Progress,
    mut hooks: FitHooks<'_, M>,
) -> Result<FitOutcome<M>, TrainError>
where
    M: Supervised,
    T: BatchSource<M::Batch> + ?Sized,
    V: BatchSource<M::Batch> + ?Sized,
{
    if config.batch_size == 0 {
        return Err(TrainError::Config("batch size must be at least 1".into()));
    }
    if train.is_empty() {
        return Err(TrainError::Config("the training set is empty".into()));
    }
    let checkpoints = match run {
        Some(run) => {
            let dir = run.path.as_path();
            std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
            crate::guard::lock_run_folder(dir)?;
            let checkpoints = Checkpoints::new(dir, config.keep_checkpoints);
            if !run.resume && checkpoints.root().exists() {
                if !run.overwrite {
                    return Err(TrainError::Config(format!(
                        "{} already holds the checkpoints of a run; pass --resume to continue \
                         it, --overwrite to replace it, or choose another --out",
                        dir.display()
                    )));
                }
                let root = checkpoints.root();
                std::fs::remove_dir_all(root).map_err(TrainError::io(root))?;
            }
            Some(checkpoints)
        }
        None => None,
    };
    let identity = run.map_or(serde_json::Value::Null, |r| r.identity.clone());
    let resume = run.is_some_and(|r| r.resume);
    let mut optim = config.optimizer.build(config.weight_decay);
    let eval_device = device.clone().without_autodiff();

    let mut state = CheckpointState {
        epoch: 0,
        global_step: 0,
        seed: config.seed,
        history: Vec::new(),
        early_stopping: config.early_stopping.as_ref().map(|e| {
            EarlyStopping::new(
                e.patience,
                e.min_delta,
                deepzero_core::early_stopping::Mode::Minimize,
            )
        }),
        run: identity.clone(),
        settings: recorded_settings(config, run, (train.len(), valid.map(|v| v.len()))),
        changes: Vec::new(),
    };
    let mut resumed_after = None;
    if let (true, Some(checkpoints)) = (resume, &checkpoints) {
        match checkpoints.latest()? {
            Some(checkpoint) => {
                if checkpoint.state.run != identity {
                    return Err(TrainError::Checkpoint {
                        path: checkpoint.dir.clone(),
                        message: format!(
                            "was written by a different run ({}), not {}",
                            checkpoint.state.run, identity
                        ),
                    });
                }
                let changes =
                    compare_settings(&checkpoint.state.settings, &state.settings, &checkpoint.dir)?;
                model = checkpoint.load_model(model)?;
                optim = checkpoint.load_optimizer(optim)?;
                if let Some(note) = &checkpoint.note {
                    progress.message(note);
                }
                let settings = state.settings.clone();
                state = checkpoint.state.clone();
                for change in changes {
                    progress.message(&format!("resume: {change}"));
                    state
                        .changes
                        .push(format!("after epoch {}: {change}", state.epoch));
                }
                state.settings = settings;
                resumed_after = Some(state.epoch);
                progress.message(&format!(
                    "resuming after epoch {} from {}",
                    state.epoch,
                    checkpoint.dir.display()
                ));
            }
            None => progress.message(&format!(
                "resume: no checkpoint in {}, starting from scratch",
                checkpoints.root().display()
            )),
        }
    }

    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut best_model: Option<(M, usize)> = None;
    if let Some(checkpoints) = &checkpoints
        && resumed_after.is_some()
        && config.restore_best
        && let Some(best) = checkpoints.best()?
    {
        best_model = Some((best.load_model(model.clone())?, best.state.epoch));
    }
    let (mut train_seconds, mut train_samples) = (0.0f64, 0usize);
    let mut stopped_early = false;
    let run_start = Instant::now();
    let first_epoch = state.epoch + 1;

    for epoch in first_epoch..=config.epochs {
        if state
            .early_stopping
            .as_ref()
            .is_some_and(|e| e.should_stop())
        {
            stopped_early = true;
            break;
        }
        if let Some(hook) = hooks.on_epoch_start.as_mut() {
            model = hook(epoch, model);
        }
        train.start_epoch(epoch);
        // Random ops (dropout) draw from the device's generator: seeding it at the start of
        // every epoch after the first makes an epoch's randomness depend on (seed, epoch) only,
        // so a resumed run — which restarts at an epoch boundary — draws exactly what the
        // uninterrupted run drew. Epoch 1 keeps the caller's seeding: burn initialises
        // parameters lazily, at their first use in that epoch.
        if epoch > 1 {
            device.seed(epoch_seed(config.seed, epoch));
        }
        progress.start_epoch(epoch, config.epochs, steps_per_epoch);
        let batches = epoch_batches(train.len(), config.batch_size, Some(config.seed), epoch);
        let epoch_start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = config.learning_rate;
        for (i, indices) in batches.iter().enumerate() {
            lr = config
                .schedule
                .lr(config.learning_rate, state.global_step, total_steps);
            let batch = train.batch(indices, device)?;
            let out = model.step(batch);
            let loss = out.loss.clone().into_scalar::<f32>() as f64;
            if !loss.is_finite() {
                progress.end_epoch("");
                return Err(TrainError::NonFiniteLoss {
                    epoch,
                    step: i + 1,
                    loss,
                });
            }
            correct += out.correct();
            let len = out.len();
            loss_sum += loss * len as f64;
            seen += len;
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(hooks.learning_rates(lr), model, grads);
            state.global_step += 1;

            let elapsed = epoch_start.elapsed().as_secs_f64();
            let per_step = elapsed / (i + 1) as f64;
            let remaining_steps = total_steps.saturating_sub(state.global_step);
            progress.step(
                epoch,
                i + 1,
                loss_sum / seen as f64,
                correct as f64 / seen as f64,
                seen as f64 / elapsed.max(1e-9),
                Duration::from_secs_f64(per_step * remaining_steps as f64),
            );
        }
        let epoch_seconds = epoch_start.elapsed().as_secs_f64();
        train_seconds += epoch_seconds;
        train_samples += seen;

        let (valid_loss, valid_accuracy, valid_metrics) = match valid {
            Some(v) if !v.is_empty() => {
                let r = evaluate(
                    &model.valid(),
                    v,
                    config
                        .valid_batch_size
                        .unwrap_or(config.batch_size.max(256)),
                    &eval_device,
                )?;
                let extra = hooks
                    .valid_metrics
                    .as_mut()
                    .map_or_else(Vec::new, |f| f(&r));
                (Some(r.loss), Some(r.accuracy), extra)
            }
            _ => (None, None, Vec::new()),
        };
        let record = EpochRecord {
            epoch,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
            train_seconds: epoch_seconds,
            samples_per_second: seen as f64 / epoch_seconds.max(1e-9),
            valid_metrics: valid_metrics.clone(),
        };
        state.history.push(record.clone());
        state.epoch = epoch;

        let mut improved = false;
        if let Some(v) = valid_loss {
            match state.early_stopping.as_mut() {
                Some(es) => {
                    improved = matches!(
                        es.update(epoch, v),
                        deepzero_core::early_stopping::Decision::Improved
                    )
                }
                None => {
                    let best_so_far = state.history[..state.history.len() - 1]
                        .iter()
                        .filter_map(|r| r.valid_loss)
                        .fold(f64::INFINITY, f64::min);
                    improved = v < best_so_far;
                }
            }
        }
        if improved && config.restore_best {
            if let Some(checkpoints) = &checkpoints {
                checkpoints.save_best(&model, &state)?;
            }
            best_model = Some((model.clone(), epoch));
        }
        if let (Some(run), Some(checkpoints)) = (run, &checkpoints) {
            let run_dir = run.path.as_path();
            checkpoints.save(&model, &optim, &state)?;
            write_metrics_csv(&run_dir.join("metrics.csv"), &state.history)?;
            // A drawing failure must not lose a training run: report it and go on.
            if let Err(e) = crate::draw_curves(
                &run_dir.join("curves.png"),
                &run_title(&identity),
                &state.history,
            ) {
                progress.message(&format!("warning: {e}"));
            }
        }

        let mut valid_text = match (valid_loss, valid_accuracy) {
            (Some(l), Some(a)) => format!(" | valid loss {l:.4} acc {:.2}%", a * 100.0),
            _ => String::new(),
        };
        for (name, value) in &record.valid_metrics {
            valid_text.push_str(&format!(" {name} {value:.4}"));
        }
        progress.end_epoch(&format!(
            "epoch {epoch}/{} | lr {lr:.2e} | train loss {:.4} acc {:.2}%{valid_text} | {:.0} samples/s | {:.1}s{}{}",
            config.epochs,
            record.train_loss,
            record.train_accuracy * 100.0,
            record.samples_per_second,
            epoch_seconds,
            if improved { " | best" } else { "" },
            eta_text(run_start, first_epoch, epoch, config.epochs),
        ));
        if state
            .early_stopping
            .as_ref()
            .is_some_and(|e| e.should_stop())
        {
            progress.message(&format!(
                "early stopping: no improvement of the validation loss for {} epochs",
                config.early_stopping.as_ref().map_or(0, |e| e.patience)
            ));
            stopped_early = true;
            break;
        }
    }

    let (model, model_epoch) = match best_model {
        Some((best, epoch)) if config.restore_best => (best, epoch),
        _ => (model, state.epoch),
    };
    Ok(FitOutcome {
        model,
        history: state.history,
        model_epoch,
        train_seconds,
        train_samples,
        resumed_after,
        stopped_early,
    })
}

fn run_title(run: &serde_json::Value) -> String {
    run.get("recipe")
        .and_then(|r| r.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| "training".to_owned())
}
