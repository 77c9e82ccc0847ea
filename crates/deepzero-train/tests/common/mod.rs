//! What the training-loop tests share: two separable clouds of 2-D points, their batcher, a base
//! configuration, and `fit` without validation or progress output.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::prelude::*;
use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{
    DatasetBatches, FitConfig, FitHooks, FitOutcome, Progress, RunDir, Supervised, TrainError,
    fit_with,
};

/// A batch of points and their labels.
#[derive(Clone, Debug)]
pub struct Batch {
    pub x: Tensor<2>,
    pub y: Tensor<1, Int>,
}

/// One labelled point.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: [f32; 2],
    pub label: i32,
}

#[derive(Clone)]
pub struct PointBatcher;

impl Batcher<Point, Batch> for PointBatcher {
    fn batch(&self, items: Vec<Point>, device: &Device) -> Batch {
        let n = items.len();
        let xs: Vec<f32> = items.iter().flat_map(|p| p.x).collect();
        let ys: Vec<i32> = items.iter().map(|p| p.label).collect();
        Batch {
            x: Tensor::from_data(TensorData::new(xs, [n, 2]), device),
            y: Tensor::from_data(TensorData::new(ys, [n]), device),
        }
    }
}

pub type Source = DatasetBatches<Point, InMemDataset<Point>, PointBatcher>;

/// Two separable clouds: label 1 where x0 + x1 > 0; `scale` multiplies the coordinates.
pub fn points(n: usize, scale: f32) -> Vec<Point> {
    (0..n)
        .map(|i| {
            let a = ((i * 37) % 101) as f32 / 50.0 - 1.0;
            let b = ((i * 61) % 103) as f32 / 51.0 - 1.0;
            Point {
                x: [a * scale, b * scale],
                label: (a + b > 0.0) as i32,
            }
        })
        .collect()
}

/// [`points`] as a batch source.
pub fn source(n: usize, scale: f32) -> Source {
    DatasetBatches::new(InMemDataset::new(points(n, scale)), PointBatcher)
}

/// Adam at a constant 0.05, batches of 16, seed 7, no early stopping, the last model kept.
pub fn config(epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        learning_rate: 0.05,
        optimizer: OptimizerKind::Adam,
        weight_decay: 0.0,
        schedule: LrSchedule::Constant,
        seed: 7,
        early_stopping: None,
        restore_best: false,
        keep_checkpoints: 2,
        valid_batch_size: None,
    }
}

/// `fit` on `train` alone (no validation set), quietly.
pub fn fit_quietly<M: Supervised<Batch = Batch>>(
    model: M,
    train: &Source,
    device: &Device,
    config: &FitConfig,
    run: &RunDir,
) -> Result<FitOutcome<M>, TrainError> {
    fit_quietly_with(model, train, device, config, run, FitHooks::default())
}

/// `fit_with` on `train` alone (no validation set), quietly.
pub fn fit_quietly_with<M: Supervised<Batch = Batch>>(
    model: M,
    train: &Source,
    device: &Device,
    config: &FitConfig,
    run: &RunDir,
    hooks: FitHooks<'_, M>,
) -> Result<FitOutcome<M>, TrainError> {
    fit_with(
        model,
        train,
        None::<&Source>,
        device,
        config,
        run,
        &mut Progress::quiet(),
        hooks,
    )
}
