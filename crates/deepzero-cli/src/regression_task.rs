//! The chapter-2 demos: linear and logistic regression trained with hand-derived gradients
//! (deepzero-core) on generated data, with a known answer to compare against.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use deepzero_core::{LinearRegression, LogisticRegression};
use deepzero_data::{Regression, linear_regression_data, logistic_data};
use deepzero_train::metrics_file::{read_json, write_json_atomic};
use deepzero_train::{EpochRecord, draw_curves};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::recipes::{Recipe, RecipeKind};
use crate::{Backend, CliError, TrainArgs};

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

fn generate(recipe: &Recipe, seed: u64) -> (Regression, Vec<f32>, f32) {
    match recipe.kind {
        RecipeKind::LinearRegression => (
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
    kind: &RecipeKind,
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
        RecipeKind::LinearRegression => {
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

/// `deepzero train linear-regression|logistic-regression`.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let epochs = args.epochs.unwrap_or(recipe.defaults.epochs);
    let lr = args.lr.unwrap_or(recipe.defaults.lr);
    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let (data, true_w, true_b) = generate(recipe, args.seed);
    let split = data.n * 4 / 5;
    let (x, y) = tensors(&data, 0, split, device);
    println!(
        "{}: {} generated examples ({split} train / {} test), full-batch gradient descent, lr {lr}, {epochs} epochs, backend {backend}",
        recipe.name,
        data.n,
        data.n - split
    );
    let start = Instant::now();
    let (history, weights, bias) = match recipe.kind {
        RecipeKind::LinearRegression => {
            let mut model = LinearRegression::new(data.d, 1, device);
            let history = model
                .fit(x, y, lr, epochs)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            (history, host(model.weight), host(model.bias.unsqueeze()))
        }
        _ => {
            let mut model = LogisticRegression::new(data.d, device);
            let history = model
                .fit(x, y, lr, epochs)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            (history, host(model.weight), host(model.bias.unsqueeze()))
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bad) = history.iter().position(|l| !l.is_finite()) {
        return Err(CliError::Usage(format!(
            "loss became {} at epoch {}: the learning rate {lr} is too large",
            history[bad],
            bad + 1
        )));
    }
    let bias = bias.first().copied().unwrap_or(0.0);
    write_json_atomic(
        &out.join("model.json"),
        &SavedModel {
            recipe: recipe.name.into(),
            seed: args.seed,
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
        })
        .collect();
    deepzero_train::write_metrics_csv(&out.join("metrics.csv"), &records)?;
    draw_curves(&out.join("curves.png"), recipe.name, &records)?;
    let test = test_metrics(&recipe.kind, &data, split, &weights, bias, device);
    println!(
        "learned w = {weights:.3?}, b = {bias:.3} (true w = {true_w:.3?}, b = {true_b:.3}); final train loss {:.5}; test {}",
        history.last().copied().unwrap_or(f64::NAN),
        test
    );
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "backend": backend.name(),
        "epochs": epochs,
        "learning_rate": lr,
        "optimizer": "gradient descent (hand-derived gradients)",
        "seed": args.seed,
        "train_seconds": seconds,
        "train_samples_per_second": (split * epochs) as f64 / seconds.max(1e-9),
        "learned": { "weights": weights, "bias": bias },
        "true": { "weights": true_w, "bias": true_b },
        "final_train_loss": history.last(),
        "test": test,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

/// `deepzero eval linear-regression|logistic-regression --checkpoint DIR`.
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
) -> Result<(), CliError> {
    let path = checkpoint.join("model.json");
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "{} holds no model.json",
            checkpoint.display()
        )));
    }
    let saved: SavedModel = read_json(&path)?;
    if saved.recipe != recipe.name {
        return Err(CliError::Usage(format!(
            "checkpoint {} was trained by recipe `{}`, not `{}`",
            checkpoint.display(),
            saved.recipe,
            recipe.name
        )));
    }
    let device = backend.device()?;
    let (data, _, _) = generate(recipe, saved.seed);
    let test = test_metrics(
        &recipe.kind,
        &data,
        data.n * 4 / 5,
        &saved.weights,
        saved.bias,
        &device,
    );
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    println!("{}: test {}", recipe.name, test);
    write_json_atomic(
        &out.join("metrics.json"),
        &json!({
            "recipe": recipe.name, "backend": backend.name(), "checkpoint": checkpoint.display().to_string(),
            "epochs": 0, "train_seconds": 0.0, "train_samples_per_second": 0.0, "test": test,
        }),
    )?;
    Ok(())
}
