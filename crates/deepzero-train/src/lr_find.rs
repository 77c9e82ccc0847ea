//! The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural
//! Networks" §3.3; fastai's `lr_find`): train for about a hundred mini-batches while the
//! learning rate grows exponentially from a tiny to a large value, record the loss, and read
//! off where it falls fastest and where it blows up.
//!
//! * Step `i` of `n` trains at `lr_i = start · (end / start)^(i / (n − 1))`.
//! * The loss is smoothed with a debiased exponential moving average (β = 0.98, as fastai):
//!   `avg_i = β·avg_{i−1} + (1 − β)·loss_i`, `smoothed_i = avg_i / (1 − β^(i+1))`.
//! * The test stops early when the smoothed loss exceeds 4 × the best so far, or turns NaN/inf.
//! * **Suggestion** ([`LrFindResult::suggested_lr`]): the learning rate of the lowest smoothed
//!   loss divided by 10 ("min/10": one order of magnitude before the loss bottoms out, where
//!   it still falls steadily — fastai v1's advice). The steepest descent of the smoothed loss
//!   against log(lr) before that minimum is reported beside it ([`LrFindResult::steepest_lr`]).
//!
//! The model and optimiser are the caller's and are thrown away afterwards: a range test
//! trains a copy and changes no run folder. [`LrFindResult::write`] writes `lr_find.csv`,
//! `lr_find.json` and `lr_find.png` (loss against learning rate on a log axis).

use std::path::Path;

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::GradientsParams;
use burn::prelude::*;
use deepzero_core::OptimizerKind;
use deepzero_data::epoch_batches;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics_file::{write_atomic, write_json_atomic};
use crate::tune::format_real;
use crate::{BatchSource, FitConfig, Progress, RunSettings, Supervised, TaskError, TrainError};

/// How to run a range test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrFindConfig {
    /// The first learning rate.
    pub start_lr: f64,
    /// The last learning rate (reached only if the loss has not blown up before).
    pub end_lr: f64,
    /// Mini-batches (one optimiser step each).
    pub steps: usize,
    /// β of the loss's moving average.
    pub smoothing: f64,
    /// Stop when the smoothed loss exceeds this many times the best.
    pub divergence: f64,
    /// Examples per mini-batch.
    pub batch_size: usize,
    /// The optimiser (its other settings PyTorch's defaults).
    pub optimizer: OptimizerKind,
    /// Its weight decay.
    pub weight_decay: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

/// The range a person may choose for a range test (with the `clap` feature, the options of
/// `deepzero lr-find`); the rest of the [`LrFindConfig`] comes from the run's training settings.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LrFindOptions {
    /// The first learning rate.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-7))]
    pub start_lr: f64,
    /// The last learning rate (the test stops earlier once the loss blows up).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10.0))]
    pub end_lr: f64,
    /// Mini-batches to train, one learning rate each.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 100))]
    pub steps: usize,
}

impl Default for LrFindOptions {
    /// fastai's range: 1e-7 to 10 over 100 steps.
    fn default() -> Self {
        let d = LrFindConfig::default();
        Self {
            start_lr: d.start_lr,
            end_lr: d.end_lr,
            steps: d.steps,
        }
    }
}

impl LrFindOptions {
    /// The range test of this range with the batch size, optimiser, weight decay and seed of
    /// `fit` ([`LrFindConfig::from_fit`]).
    pub fn config(&self, fit: &FitConfig) -> LrFindConfig {
        LrFindConfig {
            start_lr: self.start_lr,
            end_lr: self.end_lr,
            steps: self.steps,
            ..LrFindConfig::from_fit(fit)
        }
    }
}

impl Default for LrFindConfig {
    /// 1e-7 to 10 over 100 steps, β 0.98, stop at 4 × the best: fastai's settings.
    fn default() -> Self {
        Self::from_fit(&FitConfig::default())
    }
}

impl LrFindConfig {
    /// fastai's range (1e-7 to 10, 100 steps, β 0.98, stop at 4 × the best) with the batch
    /// size, optimiser, weight decay and seed of `fit`.
    pub fn from_fit(fit: &FitConfig) -> Self {
        Self {
            start_lr: 1e-7,
            end_lr: 10.0,
            steps: 100,
            smoothing: 0.98,
            divergence: 4.0,
            batch_size: fit.batch_size,
            optimizer: fit.optimizer,
            weight_decay: fit.weight_decay,
            seed: fit.seed,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the setting.
    pub fn validate(&self) -> Result<(), TaskError> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !(positive(self.start_lr) && positive(self.end_lr) && self.start_lr < self.end_lr) {
            return Err(TaskError::invalid(format!(
                "the range test needs 0 < start lr < end lr, not {} .. {}",
                self.start_lr, self.end_lr
            )));
        }
        if self.steps < 5 {
            return Err(TaskError::invalid("the range test needs at least 5 steps"));
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(TaskError::invalid("the smoothing β must be in [0, 1)"));
        }
        if self.divergence.is_nan() || self.divergence <= 1.0 {
            return Err(TaskError::invalid("the divergence factor must be above 1"));
        }
        if self.batch_size == 0 {
            return Err(TaskError::invalid("the batch size must be at least 1"));
        }
        Ok(())
    }

    /// The learning rate of step `i` (0-based).
    pub fn lr_at(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps - 1) as f64;
        self.start_lr * (self.end_lr / self.start_lr).powf(t)
    }
}

/// One step of the test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrPoint {
    /// The learning rate of the step.
    pub lr: f64,
    /// The mini-batch's loss (before the step).
    pub loss: f64,
    /// The debiased moving average of the losses so far.
    pub smoothed: f64,
}

/// The curve and what it suggests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrFindResult {
    /// The settings.
    pub config: LrFindConfig,
    /// Every step taken.
    pub points: Vec<LrPoint>,
    /// Whether the loss blew up before the last learning rate (the usual end).
    pub diverged: bool,
    /// The learning rate of the lowest smoothed loss.
    pub min_loss_lr: f64,
    /// The suggestion: [`LrFindResult::min_loss_lr`] / 10.
    pub suggested_lr: f64,
    /// Where the smoothed loss falls fastest against log(lr), before its minimum (none when
    /// the minimum comes too early to tell).
    pub steepest_lr: Option<f64>,
}

impl LrFindResult {
    /// The result of a recorded curve (at least one point).
    pub fn from_points(config: LrFindConfig, points: Vec<LrPoint>, diverged: bool) -> Self {
        let min_index = points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.smoothed.is_finite())
            .min_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed))
            .map_or(0, |(i, _)| i);
        let min_loss_lr = points.get(min_index).map_or(config.start_lr, |p| p.lr);
        let steepest_lr = steepest(&points[..=min_index.min(points.len().saturating_sub(1))]);
        Self {
            config,
            points,
            diverged,
            min_loss_lr,
            suggested_lr: min_loss_lr / 10.0,
            steepest_lr,
        }
    }

    /// `suggested lr 3e-3 (min/10 of the lowest loss at 3e-2; steepest descent at 1e-3)`.
    pub fn summary(&self) -> String {
        format!(
            "suggested lr {} (the lr of the lowest smoothed loss, {}, divided by 10; steepest \
             descent at {}); {} steps{}",
            short(self.suggested_lr),
            short(self.min_loss_lr),
            self.steepest_lr.map_or("-".into(), short),
            self.points.len(),
            if self.diverged {
                format!(
                    ", stopped when the loss passed {}× its best",
                    self.config.divergence
                )
            } else {
                format!(
                    ", the smoothed loss stayed below {}× its best up to the end lr",
                    self.config.divergence
                )
            }
        )
    }

    /// Writes `lr_find.csv` (step, lr, loss, smoothed), `lr_find.json` (this result) and
    /// `lr_find.png` (the curve) into `dir`, atomically; `title` heads the picture.
    ///
    /// # Errors
    /// [`TaskError::Train`] if a file cannot be written or drawn.
    pub fn write(&self, dir: &Path, title: &str) -> Result<(), TaskError> {
        let mut csv = String::from("step,lr,loss,smoothed_loss\n");
        for (i, p) in self.points.iter().enumerate() {
            csv.push_str(&format!(
                "{},{:.6e},{:.6},{:.6}\n",
                i + 1,
                p.lr,
                p.loss,
                p.smoothed
            ));
        }
        write_atomic(&dir.join("lr_find.csv"), csv.as_bytes())?;
        write_json_atomic(&dir.join("lr_find.json"), self)?;
        self.draw(&dir.join("lr_find.png"), title)?;
        Ok(())
    }

    /// Draws the raw and smoothed loss against the learning rate (log axis), with the
    /// suggestion and the steepest point marked.
    ///
    /// # Errors
    /// [`TrainError::Plot`] if the picture cannot be drawn or written.
    pub fn draw(&self, path: &Path, title: &str) -> Result<(), TrainError> {
        crate::plot::register_font();
        let err = |e: String| TrainError::Plot {
            path: path.to_path_buf(),
            message: format!("cannot draw the range test: {e}"),
        };
        let finite: Vec<&LrPoint> = self
            .points
            .iter()
            .filter(|p| p.loss.is_finite() && p.smoothed.is_finite())
            .collect();
        let (x0, x1) = (
            self.config.start_lr,
            self.points.last().map_or(self.config.end_lr, |p| p.lr),
        );
        let x1 = if x1 > x0 { x1 } else { x0 * 10.0 };
        // The smoothed curve sets the scale; raw losses far above it are clipped.
        let (lo, hi) = finite.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.smoothed).min(p.loss), hi.max(p.smoothed))
        });
        let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
        let pad = ((hi - lo) * 0.08).max(1e-3);
        let (y0, y1) = (lo - pad, hi + pad);
        let root = crate::plot::png_area(path, (900, 520))?;
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("training loss")
            .x_label_formatter(&|x| short(*x))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let clip = |v: f64| v.clamp(y0, y1);
        chart
            .draw_series(LineSeries::new(
                finite.iter().map(|p| (p.lr, clip(p.loss))),
                BLUE.mix(0.35).stroke_width(1),
            ))
            .map_err(|e| err(e.to_string()))?
            .label("loss of the batch")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.mix(0.35)));
        chart
            .draw_series(LineSeries::new(
                finite.iter().map(|p| (p.lr, p.smoothed)),
                BLUE.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?
            .label("smoothed (β = 0.98)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE));
        let marks = [
            (
                Some(self.suggested_lr),
                RED,
                format!("suggested {} (min/10)", short(self.suggested_lr)),
            ),
            (
                Some(self.min_loss_lr),
                BLACK,
                format!("lowest loss at {}", short(self.min_loss_lr)),
            ),
            (
                self.steepest_lr,
                GREEN,
                format!("steepest at {}", self.steepest_lr.map_or("-".into(), short)),
            ),
        ];
        for (lr, color, label) in marks {
            let Some(lr) = lr.filter(|lr| (x0..=x1).contains(lr)) else {
                continue;
            };
            chart
                .draw_series(LineSeries::new([(lr, y0), (lr, y1)], color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))
    }
}

/// `3e-3`, `0.1`, `10`: a learning rate to two significant digits.
fn short(lr: f64) -> String {
    let rounded: f64 = format!("{lr:.1e}").parse().unwrap_or(lr);
    format_real(rounded)
}

/// The learning rate where the smoothed loss falls fastest against log(lr): the most negative
/// central difference (`numpy.gradient`), skipping the first tenth of the steps, where the
/// average is still settling.
fn steepest(points: &[LrPoint]) -> Option<f64> {
    let skip = (points.len() / 10).max(1);
    (skip..points.len().saturating_sub(1))
        .map(|i| {
            let (a, b) = (&points[i - 1], &points[i + 1]);
            let slope = (b.smoothed - a.smoothed) / (b.lr.ln() - a.lr.ln());
            (i, slope)
        })
        .filter(|(_, s)| s.is_finite() && *s < 0.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| points[i].lr)
}

/// Runs the range test: trains `model` (on `device`, an autodiff device) on batches of `train`
/// at exponentially growing learning rates, and returns the curve. The model is consumed; the
/// caller's run folders are untouched.
///
/// # Errors
/// [`TrainError::Config`] for an empty training set; batch errors.
pub fn lr_find<M, T>(
    mut model: M,
    train: &T,
    device: &Device,
    config: &LrFindConfig,
    progress: &mut Progress,
) -> Result<LrFindResult, TrainError>
where
    M: Supervised,
    T: BatchSource<M::Batch> + ?Sized,
{
    if train.is_empty() {
        return Err(TrainError::Config("the training set is empty".into()));
    }
    if config.steps < 2 || config.batch_size == 0 {
        return Err(TrainError::Config(
            "the range test needs at least 2 steps and a batch size of at least 1".into(),
        ));
    }
    let mut optim = config.optimizer.build(config.weight_decay);
    let mut points = Vec::with_capacity(config.steps);
    let (mut average, mut best) = (0.0f64, f64::INFINITY);
    let mut diverged = false;
    let (mut epoch, mut batches) = (0usize, Vec::new().into_iter());
    for i in 0..config.steps {
        // Go round the training set as often as the steps need.
        let indices = match batches.next() {
            Some(b) => b,
            None => {
                epoch += 1;
                train.start_epoch(epoch);
                batches = epoch_batches(train.len(), config.batch_size, Some(config.seed), epoch)
                    .into_iter();
                batches.next().unwrap_or_default()
            }
        };
        let lr = config.lr_at(i);
        let out = model.step(train.batch(&indices, device)?);
        let loss = out.loss.clone().into_scalar::<f32>() as f64;
        average = config.smoothing * average + (1.0 - config.smoothing) * loss;
        let smoothed = average / (1.0 - config.smoothing.powi(i as i32 + 1));
        points.push(LrPoint { lr, loss, smoothed });
        if !smoothed.is_finite() || (i > 0 && smoothed > config.divergence * best) {
            diverged = true;
            break;
        }
        best = best.min(smoothed);
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(ModuleLearningRate::from(lr), model, grads);
        if (i + 1) % (config.steps / 4).max(1) == 0 {
            progress.message(&format!(
                "  lr-find step {}/{}: lr {} loss {loss:.4} (smoothed {smoothed:.4})",
                i + 1,
                config.steps,
                short(lr)
            ));
        }
    }
    Ok(LrFindResult::from_points(config.clone(), points, diverged))
}

/// The range test of a task: checks `config`, makes `settings.out` (refusing a folder that
/// holds a training run, so that no run folder is changed), runs [`lr_find`], writes its files
/// there and prints the summary. `model` and `train` are the task's, built as its training
/// would build them.
///
/// # Errors
/// [`TaskError::Invalid`] for bad settings or a run folder as the output; training and file
/// errors.
pub fn run<M, T>(
    settings: &RunSettings,
    config: &LrFindConfig,
    model: M,
    train: &T,
    device: &Device,
) -> Result<LrFindResult, TaskError>
where
    M: Supervised,
    T: BatchSource<M::Batch> + ?Sized,
{
    config.validate()?;
    let out = prepare_out(&settings.out)?;
    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: learning-rate range test, {} {} → {} over {} batches of {} ({}), into {}",
        settings.name,
        config.optimizer,
        short(config.start_lr),
        short(config.end_lr),
        config.steps,
        config.batch_size,
        settings.backend,
        out.display()
    ));
    let result = lr_find(model, train, device, config, &mut progress)?;
    result.write(out, &format!("{}: learning-rate range test", settings.name))?;
    progress.message(&format!(
        "{} -> {}",
        result.summary(),
        out.join("lr_find.png").display()
    ));
    Ok(result)
}

/// Creates and locks `out` for a range test; refuses a folder that holds a training run.
///
/// # Errors
/// [`TaskError::Invalid`] for a run folder; [`TaskError::Io`] and lock errors.
pub fn prepare_out(out: &Path) -> Result<&Path, TaskError> {
    if crate::guard::holds_run(out) {
        return Err(TaskError::invalid(format!(
            "{} holds a training run; the range test writes into a folder of its own (choose \
             another --out)",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    crate::guard::lock_run_folder(out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_set_the_range_and_keep_the_fit() {
        let fit = FitConfig {
            batch_size: 7,
            seed: 3,
            ..FitConfig::default()
        };
        let options = LrFindOptions {
            steps: 20,
            ..LrFindOptions::default()
        };
        let config = options.config(&fit);
        assert_eq!(
            (config.start_lr, config.end_lr, config.steps),
            (1e-7, 10.0, 20)
        );
        assert_eq!((config.batch_size, config.seed), (7, 3));
    }

    use burn::data::dataloader::batcher::Batcher;
    use burn::data::dataset::InMemDataset;
    use burn::nn::{Linear, LinearConfig};

    use super::*;
    use crate::{ClassificationStep, DatasetBatches};

    /// Least squares `y ≈ w·x + b` as a [`Supervised`] model (the loss is the mean squared
    /// error; logits and targets are placeholders).
    #[derive(Module, Debug)]
    struct LinearRegression {
        linear: Linear,
    }

    impl Supervised for LinearRegression {
        type Batch = (Tensor<2>, Tensor<2>);
        fn step(&self, (x, y): Self::Batch) -> ClassificationStep {
            let n = x.dims()[0];
            let error = self.linear.forward(x) - y;
            let loss = (error.clone() * error).mean();
            let device = loss.device();
            ClassificationStep {
                loss,
                logits: Tensor::zeros([n, 1], &device),
                targets: Tensor::zeros([n], &device),
            }
        }
    }

    #[derive(Clone)]
    struct Rows;

    impl Batcher<([f32; 2], f32), (Tensor<2>, Tensor<2>)> for Rows {
        fn batch(&self, items: Vec<([f32; 2], f32)>, device: &Device) -> (Tensor<2>, Tensor<2>) {
            let n = items.len();
            let x: Vec<f32> = items.iter().flat_map(|(x, _)| *x).collect();
            let y: Vec<f32> = items.iter().map(|(_, y)| *y).collect();
            (
                Tensor::from_data(TensorData::new(x, [n, 2]), device),
                Tensor::from_data(TensorData::new(y, [n, 1]), device),
            )
        }
    }

    /// y = 3·x0 − 2·x1 + 1 + noise, x on a centred, unit-variance grid: the mean-squared-error
    /// Hessian is 2·E[x̃x̃ᵀ] ≈ 2·I (x̃ = (x, 1)), so gradient descent converges for lr < 2/λmax
    /// = 1 and blows up beyond it.
    type Row = ([f32; 2], f32);

    fn data() -> DatasetBatches<Row, InMemDataset<Row>, Rows> {
        let mut rows = Vec::new();
        for i in 0..32 {
            for j in 0..32 {
                let (a, b) = ((i as f32 - 15.5) / 9.23, (j as f32 - 15.5) / 9.23);
                let noise = (((i * 31 + j * 17) % 13) as f32 - 6.0) * 0.01;
                rows.push(([a, b], 3.0 * a - 2.0 * b + 1.0 + noise));
            }
        }
        DatasetBatches::new(InMemDataset::new(rows), Rows)
    }

    fn config() -> LrFindConfig {
        LrFindConfig {
            end_lr: 100.0,
            batch_size: 64,
            optimizer: OptimizerKind::Sgd,
            ..LrFindConfig::default()
        }
    }

    #[test]
    fn linear_regression_suggests_a_rate_below_the_divergence_bound() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let model = LinearRegression {
            linear: LinearConfig::new(2, 1).init(&device),
        };
        let result = lr_find(model, &data(), &device, &config(), &mut Progress::quiet()).unwrap();
        // The loss blows up once lr passes 2/λmax = 1, well before the end of the range.
        assert!(result.diverged, "{}", result.summary());
        let last = result.points.last().unwrap();
        assert!(last.lr > 0.5 && last.lr < 10.0, "stopped at lr {}", last.lr);
        let best = result
            .points
            .iter()
            .map(|p| p.smoothed)
            .fold(f64::INFINITY, f64::min);
        assert!(
            !last.smoothed.is_finite() || last.smoothed > 4.0 * best,
            "the last smoothed loss {} is not 4× the best {best}",
            last.smoothed
        );
        // The suggestion learns (well above the 1e-7 start) and is stable (below 1).
        assert!(
            (1e-3..1.0).contains(&result.suggested_lr),
            "{}",
            result.summary()
        );
        let steepest = result.steepest_lr.unwrap();
        assert!((1e-3..1.0).contains(&steepest), "{}", result.summary());
        assert!(result.min_loss_lr > result.suggested_lr);
        // The loss falls: the lowest loss is far below the first. (The smoothed loss lags:
        // β = 0.98 remembers about 50 steps, four decades of lr here, which is why the
        // suggestion is a tenth of its minimum.)
        let lowest = result
            .points
            .iter()
            .map(|p| p.loss)
            .fold(f64::INFINITY, f64::min);
        assert!(
            lowest < 0.01 * result.points[0].loss,
            "{}",
            result.summary()
        );
        // The schedule: exponential from start to end.
        assert_eq!(result.points[0].lr, 1e-7);
        assert!((config().lr_at(99) - 100.0).abs() < 1e-9);
        let ratio = result.points[11].lr / result.points[10].lr;
        assert!((ratio - 1e9f64.powf(1.0 / 99.0)).abs() < 1e-9);
    }

    #[test]
    fn the_smoothed_loss_is_the_debiased_moving_average() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let model = LinearRegression {
            linear: LinearConfig::new(2, 1).init(&device),
        };
        let config = LrFindConfig {
            steps: 5,
            ..config()
        };
        let result = lr_find(model, &data(), &device, &config, &mut Progress::quiet()).unwrap();
        // Step 1's smoothed loss is its loss; step 2's weighs the two as 0.98 : 1
        // ((0.98·0.02·l1 + 0.02·l2) / (1 − 0.98²)).
        let p = &result.points;
        assert_eq!(p.len(), 5);
        assert!((p[0].smoothed - p[0].loss).abs() < 1e-9);
        let expected = (0.98 * p[0].loss + p[1].loss) / 1.98;
        assert!((p[1].smoothed - expected).abs() < 1e-9);
    }

    #[test]
    fn writes_the_curve_and_refuses_run_folders() {
        let dir = tempfile::tempdir().unwrap();
        let points: Vec<LrPoint> = (0..50)
            .map(|i| {
                let lr = 1e-5 * 1.3f64.powi(i);
                let loss = 2.0 - (i as f64 / 30.0).min(1.0) + ((i as f64 - 40.0).max(0.0)).powi(2);
                LrPoint {
                    lr,
                    loss,
                    smoothed: loss,
                }
            })
            .collect();
        let result = LrFindResult::from_points(config(), points, true);
        // The lowest loss is at step 30..40 (a flat bottom: the first of them).
        assert!((result.min_loss_lr / (1e-5 * 1.3f64.powi(30)) - 1.0).abs() < 1e-12);
        assert!((result.suggested_lr - result.min_loss_lr / 10.0).abs() < 1e-15);
        result.write(dir.path(), "test").unwrap();
        let csv = std::fs::read_to_string(dir.path().join("lr_find.csv")).unwrap();
        assert_eq!(csv.lines().count(), 51);
        assert!(csv.starts_with("step,lr,loss,smoothed_loss\n1,1.000000e-5,"));
        let png = image::open(dir.path().join("lr_find.png")).unwrap();
        assert_eq!((png.width(), png.height()), (900, 520));
        let back: LrFindResult =
            crate::metrics_file::read_json(&dir.path().join("lr_find.json")).unwrap();
        assert_eq!(back.suggested_lr, result.suggested_lr);

        std::fs::write(dir.path().join("run.json"), "{}").unwrap();
        let err = prepare_out(dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds a training run"), "{err}");
        let bad = LrFindConfig {
            start_lr: 1.0,
            end_lr: 0.1,
            ..config()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("start lr < end lr")
        );
    }
}
