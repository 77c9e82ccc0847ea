//! End-to-end tests of the training loop on a tiny linear classifier.

mod common;

use burn::data::dataset::InMemDataset;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use common::{Batch, PointBatcher, fit_quietly, points, source};
use deepzero_core::LrSchedule;
use deepzero_train::{
    Checkpoints, ClassificationStep, DatasetBatches, EarlyStop, FitConfig, Progress, RunDir,
    Supervised, TrainError, fit,
};
use serde_json::json;

#[derive(Module, Debug)]
struct Tiny {
    linear: Linear,
}

impl Supervised for Tiny {
    type Batch = Batch;
    fn step(&self, batch: Batch) -> ClassificationStep {
        ClassificationStep::from_logits(self.linear.forward(batch.x), batch.y)
    }
}

/// The shared configuration with a cosine schedule.
fn config(epochs: usize) -> FitConfig {
    FitConfig {
        schedule: LrSchedule::Cosine { min_lr_factor: 0.1 },
        ..common::config(epochs)
    }
}

fn model(device: &Device) -> Tiny {
    device.seed(3);
    Tiny {
        linear: LinearConfig::new(2, 2).init(device),
    }
}

fn weights(m: &Tiny) -> Vec<f32> {
    m.linear.weight.val().try_into_vec_as::<f32>().unwrap()
}

#[test]
fn learns_writes_files_and_keeps_two_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let (train, valid) = (source(200, 1.0), source(50, 1.0));
    let out = fit(
        model(&device),
        &train,
        Some(&valid),
        &device,
        &config(5),
        &RunDir::new(dir.path(), json!({"recipe": "tiny"})).resume(false),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!(out.history.len(), 5);
    let last = out.history.last().unwrap();
    assert!(
        last.train_loss < out.history[0].train_loss,
        "loss went down"
    );
    assert!(last.valid_accuracy.unwrap() > 0.9, "{last:?}");
    assert_eq!(out.train_samples, 5 * 200);
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    assert!(dir.path().join("curves.png").is_file());
    let ckpt = dir.path().join("checkpoints");
    assert!(ckpt.join("epoch-0005/model.bpk").is_file());
    assert!(ckpt.join("epoch-0004/optim.bpk").is_file());
    assert!(
        !ckpt.join("epoch-0003").exists(),
        "older checkpoints are pruned"
    );
    let latest = Checkpoints::new(dir.path(), 2).latest().unwrap().unwrap();
    assert_eq!(latest.state.epoch, 5);
}

/// Kills a 4-epoch run after epoch 2 (by rolling its checkpoint folder back to what the disk held
/// then) and resumes it: the weights equal, bit for bit, those of the uninterrupted run, because
/// model, optimiser state, schedule position and batch order are all restored.
#[test]
fn resume_continues_exactly_where_it_stopped() {
    let device = Device::flex().autodiff();
    let train = source(96, 1.0);
    let run = json!({"recipe": "tiny"});
    let cfg = FitConfig {
        keep_checkpoints: 10,
        ..config(4)
    };

    let dir = tempfile::tempdir().unwrap();
    let straight = fit_quietly(
        model(&device),
        &train,
        &device,
        &cfg,
        &RunDir::new(dir.path(), run.clone()).resume(false),
    )
    .unwrap();

    // What a kill during epoch 3 leaves: epochs 1–2 complete, a half-written epoch 3 folder,
    // latest.json still naming epoch 2.
    let ckpt = dir.path().join("checkpoints");
    std::fs::remove_dir_all(ckpt.join("epoch-0004")).unwrap();
    std::fs::remove_file(ckpt.join("epoch-0003/optim.bpk")).unwrap();
    std::fs::remove_file(ckpt.join("epoch-0003/state.json")).unwrap();
    std::fs::write(
        ckpt.join("latest.json"),
        r#"{"epoch": 2, "dir": "epoch-0002"}"#,
    )
    .unwrap();

    let resumed = fit_quietly(
        model(&device),
        &train,
        &device,
        &cfg,
        &RunDir::new(dir.path(), run).resume(true),
    )
    .unwrap();
    assert_eq!(resumed.resumed_after, Some(2));
    assert_eq!(resumed.history.len(), 4);
    assert_eq!(
        resumed.train_samples,
        2 * 96,
        "only epochs 3 and 4 ran again"
    );
    assert_eq!(weights(&resumed.model), weights(&straight.model));
    // Epochs 1–2 of the resumed history come back from state.json, and serde_json's default
    // float parser may land one ulp off the printed value (0.9658162593841553 read back as
    // …552), so the history is compared to 1e-12; the weights above are compared exactly.
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
    for (a, b) in resumed.history.iter().zip(&straight.history) {
        assert_eq!(a.epoch, b.epoch);
        for (x, y) in [
            (a.train_loss, b.train_loss),
            (a.train_accuracy, b.train_accuracy),
            (a.lr, b.lr),
        ] {
            assert!(close(x, y), "epoch {}: {x} vs {y}", a.epoch);
        }
    }
}

#[test]
fn resume_refuses_a_checkpoint_of_another_run() {
    let device = Device::flex().autodiff();
    let train = source(32, 1.0);
    let dir = tempfile::tempdir().unwrap();
    fit_quietly(
        model(&device),
        &train,
        &device,
        &config(1),
        &RunDir::new(dir.path(), json!({"recipe": "a"})).resume(false),
    )
    .unwrap();
    let err = fit_quietly(
        model(&device),
        &train,
        &device,
        &config(2),
        &RunDir::new(dir.path(), json!({"recipe": "b"})).resume(true),
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("different run"), "{err}");
}

/// A loss that overflows stops the run with a typed error, and the previous epoch's checkpoint
/// stays intact and loadable.
#[test]
fn non_finite_loss_stops_with_an_error_and_keeps_the_last_checkpoint() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let run = json!({"recipe": "tiny"});
    fit_quietly(
        model(&device),
        &source(64, 1.0),
        &device,
        &config(1),
        &RunDir::new(dir.path(), run.clone()).resume(false),
    )
    .unwrap();
    // Inputs of 1e38 make the logits overflow to infinity.
    let err = fit_quietly(
        model(&device),
        &source(64, 1e38),
        &device,
        &config(3),
        &RunDir::new(dir.path(), run).resume(true),
    )
    .unwrap_err();
    match err {
        TrainError::NonFiniteLoss { epoch, step, loss } => {
            assert_eq!((epoch, step), (2, 1));
            assert!(!loss.is_finite());
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    let latest = Checkpoints::new(dir.path(), 2).latest().unwrap().unwrap();
    assert_eq!(latest.state.epoch, 1);
    latest.load_model(model(&device)).unwrap();
}

#[test]
fn early_stopping_stops_and_restores_the_best_epoch() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    // Validation labels are the opposite of the training rule: the more the model learns, the
    // worse the validation loss, so epoch 1 stays the best and patience 2 stops after epoch 3.
    let mut flipped = points(40, 1.0);
    flipped.iter_mut().for_each(|p| p.label = 1 - p.label);
    let valid = DatasetBatches::new(InMemDataset::new(flipped), PointBatcher);
    let cfg = FitConfig {
        early_stopping: Some(EarlyStop {
            patience: 2,
            min_delta: 0.0,
        }),
        restore_best: true,
        schedule: LrSchedule::Constant,
        ..config(10)
    };
    let out = fit(
        model(&device),
        &source(128, 1.0),
        Some(&valid),
        &device,
        &cfg,
        &RunDir::new(dir.path(), json!({})).resume(false),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert!(out.stopped_early);
    assert_eq!(out.history.len(), 3);
    assert_eq!(out.model_epoch, 1);
    let best = Checkpoints::new(dir.path(), 2).best().unwrap().unwrap();
    assert_eq!(best.state.epoch, 1);
}

#[test]
fn empty_training_set_and_zero_batch_are_config_errors() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let err = fit_quietly(
        model(&device),
        &source(0, 1.0),
        &device,
        &config(1),
        &RunDir::new(dir.path(), json!({})).resume(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let cfg = FitConfig {
        batch_size: 0,
        ..config(1)
    };
    let err = fit_quietly(
        model(&device),
        &source(8, 1.0),
        &device,
        &cfg,
        &RunDir::new(dir.path(), json!({})).resume(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("batch size"), "{err}");
}
