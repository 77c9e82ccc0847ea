//! The chapter-2 demos as a task: linear and logistic regression trained with hand-derived
//! gradients ([`deepzero_core::LinearRegression`], [`deepzero_core::LogisticRegression`]) on
//! generated data, with a known answer to compare against. The run folder holds `model.json`
//! (weights and the data seed), `metrics.csv`, `curves.png` and `metrics.json`.
//!
//! ```no_run
//! use deepzero_train::RunSettings;
//! use deepzero_train::regression::{self, RegressionKind};
//!
//! let mut settings = RunSettings::new("linear-regression", "runs/linear");
//! settings.fit.epochs = 200;
//! settings.fit.learning_rate = 0.1;
//! let metrics = regression::train(RegressionKind::Linear, &settings)?;
//! println!("{}", metrics["learned"]);
//! # Ok::<(), deepzero_train::TaskError>(())
//! ```

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use deepzero_core::{LinearRegression, LogisticRegression, RegressionModel as _};
use deepzero_data::{Regression, linear_regression_data, logistic_data};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::metrics_file::{read_json, write_json_atomic};
use crate::{EpochRecord, RunSettings, TaskError, draw_curves};

/// The chapter-2 recipes: full-batch gradient descent at a constant rate.
pub fn recipes() -> Vec<crate::Recipe<RegressionKind>> {
    use deepzero_core::{LrSchedule::Constant, OptimizerKind::Sgd};
    let gd = |epochs, lr| crate::FitConfig::recipe(epochs, 0, lr, Sgd, Constant);
    vec![
        crate::Recipe::new(
            "linear-regression",
            "2.1",
            "least squares on generated data, gradients derived by hand",
            RegressionKind::Linear,
            gd(200, 0.1),
        ),
        crate::Recipe::new(
            "logistic-regression",
            "2.1",
            "binary logistic regression on generated data, gradients derived by hand",
            RegressionKind::Logistic,
            gd(300, 0.5),
        ),
    ]
}

/// Which regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegressionKind {
    /// Least squares on `y = 2·x₁ − 3.4·x₂ + 4.2 + noise`.
    Linear,
    /// Binary logistic regression on two generated classes.
    Logistic,
}

/// The true line of the linear demo: y = 2·x₁ − 3.4·x₂ + 4.2 + noise (as in many textbooks).
const TRUE_WEIGHTS: [f32; 2] = [2.0, -3.4];
const TRUE_BIAS: f32 = 4.2;
const NOISE: f32 = 0.1;
const EXAMPLES: usize = 1000;
const FEATURES: usize = 2;

/// What `train` saves as `model.json`.
#[derive(Debug, Serialize, Deserialize)]
struct SavedModel {
    recipe: String,
    seed: u64,
    weights: Vec<f32>,
    bias: f32,
}

fn generate(kind: RegressionKind, seed: u64) -> (Regression, Vec<f32>, f32) {
    match kind {
        RegressionKind::Linear => (
            linear_regression_data(EXAMPLES, &TRUE_WEIGHTS, TRUE_BIAS, NOISE, seed),
            TRUE_WEIGHTS.to_vec(),
            TRUE_BIAS,
        ),
        _ => logistic_data(EXAMPLES, FEATURES, seed),
    }
}

/// Rows `[start, end)` of the data as tensors `x: [n, d]`, `y: [n, 1]`.
fn tensors(data: &Regression, start: usize, end: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let d = data.d;
    let x = Tensor::<2>::from_data(
        TensorData::new(data.x[start * d..end * d].to_vec(), [end - start, d]),
        device,
    );
    let y = Tensor::<2>::from_data(
        TensorData::new(data.y[start..end].to_vec(), [end - start, 1]),
        device,
    );
    (x, y)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap_or_default()
}

/// Test metrics of weights `w`, bias `b` on rows `[start, n)`.
fn test_metrics(
    kind: RegressionKind,
    data: &Regression,
    start: usize,
    w: &[f32],
    b: f32,
    device: &Device,
) -> serde_json::Value {
    let (x, y) = tensors(data, start, data.n, device);
    let weight = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [w.len(), 1]), device);
    let bias = Tensor::<1>::from_data(TensorData::new(vec![b], [1]), device);
    match kind {
        RegressionKind::Linear => {
            let model = LinearRegression { weight, bias };
            let mse = model.loss(x, y.clone()).into_scalar::<f32>() as f64;
            let y = host(y);
            let mean = y.iter().sum::<f32>() / y.len() as f32;
            let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / y.len() as f32;
            json!({ "loss": mse, "mse": mse, "r2": 1.0 - mse / var as f64, "accuracy": null, "examples": y.len() })
        }
        _ => {
            let model = LogisticRegression { weight, bias };
            let loss = model.loss(x.clone(), y.clone()).into_scalar::<f32>() as f64;
            let predicted = model
                .predict(x)
                .try_into_vec_as::<i64>()
                .unwrap_or_default();
            let y = host(y);
            let correct = predicted
                .iter()
                .zip(&y)
                .filter(|(p, t)| **p as f32 == **t)
                .count();
            json!({ "loss": loss, "accuracy": correct as f64 / y.len() as f64, "examples": y.len() })
        }
    }
}

/// Trains `kind` by full-batch gradient descent (`settings.fit`: epochs and learning rate;
/// the data seed is `settings.seed()`); returns what it wrote to `metrics.json`.
pub fn train(kind: RegressionKind, settings: &RunSettings) -> Result<serde_json::Value, TaskError> {
    let epochs = settings.fit.epochs;
    let lr = settings.fit.learning_rate;
    if epochs == 0 || !(lr.is_finite() && lr > 0.0) {
        return Err(TaskError::invalid(
            "regression needs at least one epoch and a positive learning rate",
        ));
    }
    let device = &settings.device()?;
    let out = settings.create_out()?;
    let (data, true_w, true_b) = generate(kind, settings.seed());
    let split = data.n * 4 / 5;
    let (x, y) = tensors(&data, 0, split, device);
    let progress = settings.progress();
    progress.message(&format!(
        "{}: {} generated examples ({split} train / {} test), full-batch gradient descent, lr {lr}, {epochs} epochs, backend {}",
        settings.name,
        data.n,
        data.n - split,
        settings.backend
    ));
    let start = Instant::now();
    let (history, weights, bias) = match kind {
        RegressionKind::Linear => {
            let mut model = LinearRegression::new(data.d, 1, device);
            let history = model
                .fit(x, y, lr, epochs)
                .map_err(|e| TaskError::invalid(e.to_string()))?;
            (history, host(model.weight), host(model.bias.unsqueeze()))
        }
        _ => {
            let mut model = LogisticRegression::new(data.d, device);
            let history = model
                .fit(x, y, lr, epochs)
                .map_err(|e| TaskError::invalid(e.to_string()))?;
            (history, host(model.weight), host(model.bias.unsqueeze()))
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bad) = history.iter().position(|l| !l.is_finite()) {
        return Err(TaskError::invalid(format!(
            "loss became {} at epoch {}: the learning rate {lr} is too large",
            history[bad],
            bad + 1
        )));
    }
    let bias = bias.first().copied().unwrap_or(0.0);
    write_json_atomic(
        &out.join("model.json"),
        &SavedModel {
            recipe: settings.name.clone(),
            seed: settings.seed(),
            weights: weights.clone(),
            bias,
        },
    )?;
    let records: Vec<EpochRecord> = history
        .iter()
        .enumerate()
        .map(|(i, &loss)| EpochRecord {
            epoch: i + 1,
            lr,
            train_loss: loss,
            train_accuracy: f64::NAN,
            valid_loss: None,
            valid_accuracy: None,
            train_seconds: seconds / epochs as f64,
            samples_per_second: (split * epochs) as f64 / seconds.max(1e-9),
            valid_metrics: Vec::new(),
        })
        .collect();
    crate::write_metrics_csv(&out.join("metrics.csv"), &records)?;
    draw_curves(&out.join("curves.png"), &settings.name, &records)?;
    let test = test_metrics(kind, &data, split, &weights, bias, device);
    progress.message(&format!(
        "learned w = {weights:.3?}, b = {bias:.3} (true w = {true_w:.3?}, b = {true_b:.3}); final train loss {:.5}; test {}",
        history.last().copied().unwrap_or(f64::NAN),
        test
    ));
    let metrics = json!({
        "recipe": settings.name,
        "chapter": settings.chapter,
        "backend": settings.backend.name(),
        "epochs": epochs,
        "learning_rate": lr,
        "optimizer": "gradient descent (hand-derived gradients)",
        "seed": settings.seed(),
        "train_seconds": seconds,
        "train_samples_per_second": (split * epochs) as f64 / seconds.max(1e-9),
        "learned": { "weights": weights, "bias": bias },
        "true": { "weights": true_w, "bias": true_b },
        "final_train_loss": history.last(),
        "test": test,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

/// Evaluates the run in `run` on the test part of its data (regenerated from the seed it
/// recorded); writes `settings.out/metrics.json` and returns it.
pub fn evaluate_run(
    kind: RegressionKind,
    run: &Path,
    settings: &RunSettings,
) -> Result<serde_json::Value, TaskError> {
    let path = run.join("model.json");
    if !path.exists() {
        return Err(TaskError::invalid(format!(
            "{} holds no model.json",
            run.display()
        )));
    }
    let saved: SavedModel = read_json(&path)?;
    if saved.recipe != settings.name {
        return Err(TaskError::invalid(format!(
            "run {} was trained by recipe `{}`, not `{}`",
            run.display(),
            saved.recipe,
            settings.name
        )));
    }
    let device = settings.device()?;
    let (data, _, _) = generate(kind, saved.seed);
    let test = test_metrics(
        kind,
        &data,
        data.n * 4 / 5,
        &saved.weights,
        saved.bias,
        &device,
    );
    let out = &settings.out;
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    settings
        .progress()
        .message(&format!("{}: test {}", settings.name, test));
    let metrics = json!({
        "recipe": settings.name, "backend": settings.backend.name(), "checkpoint": run.display().to_string(),
        "epochs": 0, "train_seconds": 0.0, "train_samples_per_second": 0.0, "test": test,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

impl crate::Task for RegressionKind {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(*self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(*self, run, settings).map(drop)
    }
}
