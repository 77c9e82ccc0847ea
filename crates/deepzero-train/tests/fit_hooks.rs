//! The fine-tuning additions to the training loop: a frozen sub-module, per-group learning-rate
//! factors and a per-epoch model change ([`FitHooks`]).

mod common;

use std::cell::RefCell;

use burn::module::ParamGroup;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use common::{Batch, fit_quietly, fit_quietly_with, source};
use deepzero_train::{ClassificationStep, FitConfig, FitHooks, RunDir, Supervised};
use serde_json::json;

/// A "backbone" layer `a` and a "head" `b`.
#[derive(Module, Debug)]
struct Pair {
    a: Linear,
    b: Linear,
}

impl Supervised for Pair {
    type Batch = Batch;
    fn step(&self, batch: Batch) -> ClassificationStep {
        let hidden = relu(self.a.forward(batch.x));
        ClassificationStep::from_logits(self.b.forward(hidden), batch.y)
    }
}

/// The shared configuration, keeping one checkpoint.
fn config(epochs: usize) -> FitConfig {
    FitConfig {
        keep_checkpoints: 1,
        ..common::config(epochs)
    }
}

fn model(device: &Device) -> Pair {
    device.seed(3);
    Pair {
        a: LinearConfig::new(2, 4).init(device),
        b: LinearConfig::new(4, 2).init(device),
    }
}

fn values(layer: &Linear) -> Vec<f32> {
    let mut v = layer.weight.val().try_into_vec_as::<f32>().unwrap();
    v.extend(
        layer
            .bias
            .as_ref()
            .unwrap()
            .val()
            .try_into_vec_as::<f32>()
            .unwrap(),
    );
    v
}

fn run(dir: &std::path::Path) -> RunDir {
    RunDir::new(dir, json!({"recipe": "pair"}))
}

#[test]
fn a_frozen_sub_module_keeps_its_weights_while_the_rest_trains() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let mut start = model(&device);
    start.a = start.a.freeze();
    let (a0, b0) = (values(&start.a), values(&start.b));
    let out = fit_quietly(
        start,
        &source(64, 1.0),
        &device,
        &config(2),
        &run(dir.path()),
    )
    .unwrap();
    assert_eq!(
        values(&out.model.a),
        a0,
        "the frozen layer is bit-identical"
    );
    assert_ne!(values(&out.model.b), b0, "the trainable layer moved");
}

#[test]
fn a_zero_learning_rate_factor_holds_a_group_still() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let start = model(&device);
    let (a0, b0) = (values(&start.a), values(&start.b));
    let hooks = FitHooks::default().lr_factor(ParamGroup::from_predicate("a."), 0.0);
    let out = fit_quietly_with(
        start,
        &source(64, 1.0),
        &device,
        &config(2),
        &run(dir.path()),
        hooks,
    )
    .unwrap();
    assert_eq!(values(&out.model.a), a0);
    assert_ne!(values(&out.model.b), b0);

    let policy = FitHooks::<Pair>::default()
        .lr_factor(ParamGroup::from_predicate("a."), 0.1)
        .learning_rates(0.5);
    let ids = (out.model.a.weight.id, out.model.b.weight.id);
    assert_eq!(policy.lr_from_param(ids.0, Some("a.weight")), 0.05);
    assert_eq!(policy.lr_from_param(ids.1, Some("b.weight")), 0.5);
}

#[test]
fn the_epoch_hook_sees_every_epoch_and_can_unfreeze() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let mut start = model(&device);
    start.a = start.a.freeze();
    let a0 = values(&start.a);
    let seen = RefCell::new(Vec::new());
    let hooks = FitHooks::default().on_epoch_start(|epoch, mut m: Pair| {
        seen.borrow_mut().push(epoch);
        if epoch > 2 {
            m.a = m.a.unfreeze();
        }
        m
    });
    let out = fit_quietly_with(
        start,
        &source(64, 1.0),
        &device,
        &config(3),
        &run(dir.path()),
        hooks,
    )
    .unwrap();
    assert_eq!(*seen.borrow(), [1, 2, 3]);
    assert_ne!(values(&out.model.a), a0, "unfrozen at epoch 3");

    // A resumed run calls the hook from the first epoch it trains.
    seen.borrow_mut().clear();
    let hooks = FitHooks::default().on_epoch_start(|epoch, m: Pair| {
        seen.borrow_mut().push(epoch);
        m
    });
    fit_quietly_with(
        model(&device),
        &source(64, 1.0),
        &device,
        &config(5),
        &run(dir.path()).resume(true),
        hooks,
    )
    .unwrap();
    assert_eq!(*seen.borrow(), [4, 5]);
}

/// Further validation figures: computed from each epoch's validation predictions, kept in the
/// history and in `metrics.csv` as `valid_<name>`.
#[test]
fn valid_metrics_are_computed_every_epoch_and_written() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let valid = source(32, 1.0);
    // Two figures from the predictions: the share predicted as class 1, and the accuracy
    // counted again (which must equal the loop's own).
    let hooks = FitHooks::default().valid_metrics(|r| {
        assert_eq!(r.predictions.len(), 32);
        let ones = r.predictions.iter().filter(|&&p| p == 1).count();
        let right = r
            .predictions
            .iter()
            .zip(&r.targets)
            .filter(|(p, t)| p == t)
            .count();
        vec![
            ("class1_share".into(), ones as f64 / 32.0),
            ("recount".into(), right as f64 / 32.0),
        ]
    });
    let out = deepzero_train::fit_with(
        model(&device),
        &source(64, 1.0),
        Some(&valid),
        &device,
        &config(2),
        &run(dir.path()),
        &mut deepzero_train::Progress::quiet(),
        hooks,
    )
    .unwrap();
    for record in &out.history {
        let names: Vec<&str> = record
            .valid_metrics
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["class1_share", "recount"]);
        // The recount from the predictions is the loop's validation accuracy.
        let recount = record.valid_metrics[1].1;
        assert!((recount - record.valid_accuracy.unwrap()).abs() < 1e-9);
    }
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",valid_class1_share,valid_recount"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
}
