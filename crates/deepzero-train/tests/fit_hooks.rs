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
