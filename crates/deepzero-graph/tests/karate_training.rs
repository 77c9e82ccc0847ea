//! The seeded karate trainings of `node_train`, in a test binary of their own and run one
//! after the other in a single test: burn's random generator is global to the process, so a
//! test that seeds it and then initialises a model gets the draws it expects only when no
//! other test draws at the same time. (With seed 2 the GAT test below learns; one
//! initialisation in twelve does not, which is what concurrent tests used to hand it.)

use burn::prelude::*;
use deepzero_graph::data::{DatasetName, Features, Split, load_dataset, shipped_karate_dir};
use deepzero_graph::gat::GatConfig;
use deepzero_graph::gcn::GcnConfig;
use deepzero_graph::node_train::{
    EdgeKind, NodeTensors, NodeTrainConfig, Stopping, train_node_classifier,
};

fn karate(edges: EdgeKind, device: &Device) -> NodeTensors {
    let d = load_dataset(DatasetName::Karate, &shipped_karate_dir()).unwrap();
    // Kipf & Welling's karate setting: one labelled node per club (the two leaders).
    let split = Split {
        train: vec![0, 33],
        valid: (1..33).collect(),
        test: (1..33).collect(),
    };
    NodeTensors::new(&d, &Features::identity(34), &split, edges, device).unwrap()
}

fn gcn_learns_karate_from_two_labels() {
    let device = Device::flex();
    device.seed(1);
    let data = karate(EdgeKind::GcnNormalized, &device);
    let model = GcnConfig::new(34, 2).init(&device.clone().autodiff());
    let cfg = NodeTrainConfig {
        epochs: 100,
        stopping: Stopping::None,
        ..NodeTrainConfig::gcn()
    };
    let mut seen = 0;
    let out = train_node_classifier(model, &data, &cfg, |_| seen += 1).unwrap();
    assert_eq!(seen, 100);
    assert_eq!(out.history.len(), 100);
    // Two labelled leaders spread their club over the friendship graph.
    assert!(out.test_accuracy > 0.8, "accuracy {}", out.test_accuracy);
    assert!(out.history[99].train_loss < out.history[0].train_loss);
}

fn gat_with_patience_keeps_a_best_epoch() {
    let device = Device::flex();
    device.seed(2);
    let data = karate(EdgeKind::SelfLoops, &device);
    let model = GatConfig::new(34, 2)
        .with_n_heads(2)
        .with_d_hidden(4)
        .init(&device.clone().autodiff());
    let cfg = NodeTrainConfig {
        epochs: 60,
        learning_rate: 0.01,
        stopping: Stopping::Patience { patience: 10 },
        ..NodeTrainConfig::gat()
    };
    let out = train_node_classifier(model, &data, &cfg, |_| {}).unwrap();
    assert!(out.model_epoch >= 1 && out.model_epoch <= out.history.len());
    assert!(out.test_accuracy > 0.6, "accuracy {}", out.test_accuracy);
}

#[test]
fn seeded_karate_trainings_learn() {
    gcn_learns_karate_from_two_labels();
    gat_with_patience_keeps_a_best_epoch();
}
