//! Full-batch, masked training of a node classifier (GCN, GAT) on one graph.
//!
//! Every epoch is one optimiser step on the whole graph: the forward pass computes logits for
//! all nodes (message passing needs the neighbours anyway) and the loss is the cross-entropy
//! over the **training nodes only**, plus `λ ·` the model's L2 penalty. Validation runs the
//! model in inference mode (no dropout) on the validation nodes. The two papers stop
//! differently, so both rules are here ([`Stopping`]).

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Features, NodeDataset, Split};
use crate::error::{GraphError, Result};
use crate::gat::Gat;
use crate::gcn::Gcn;
use crate::sage::Sage;
use crate::sparse::{MessageEdges, NodeInput};

/// A model the trainer can fit: logits for every node, and an L2 penalty.
pub trait NodeModel: Module + Clone {
    /// Class logits `[N, classes]`.
    fn logits(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2>;
    /// `½ Σ ‖θ‖²` over the parameters the model's paper decays.
    fn l2_penalty(&self) -> Tensor<1>;
}

impl NodeModel for Gcn {
    fn logits(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        self.forward(x, edges)
    }
    fn l2_penalty(&self) -> Tensor<1> {
        Gcn::l2_penalty(self)
    }
}

/// GraphSAGE on the whole graph: `edges` must be [`EdgeKind::NeighborMean`]'s, used by every
/// layer (what [`crate::sage::train_sage`]'s sampled blocks become with unlimited fan-outs).
impl NodeModel for Sage {
    fn logits(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        self.forward(x, &vec![edges.clone(); self.num_layers()])
    }
    fn l2_penalty(&self) -> Tensor<1> {
        Sage::l2_penalty(self)
    }
}

impl NodeModel for Gat {
    fn logits(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        self.forward(x, edges)
    }
    fn l2_penalty(&self) -> Tensor<1> {
        Gat::l2_penalty(self)
    }
}

/// When to stop, and which weights to keep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Stopping {
    /// Train every epoch; keep the last weights.
    None,
    /// tkipf/gcn: stop once the validation loss exceeds the mean of the previous `window`
    /// epochs' (after at least `window` epochs); keep the last weights.
    LossWindow {
        /// Window size (GCN: 10).
        window: usize,
    },
    /// PetarV-/GAT: stop after `patience` epochs in which neither the validation accuracy
    /// rose to its best nor the validation loss fell to its best; keep the weights of the last
    /// epoch that reached both bests at once.
    Patience {
        /// Epochs without improvement (GAT: 100).
        patience: usize,
    },
}

/// How to train a node classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeTrainConfig {
    /// Maximum number of epochs (= optimiser steps).
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// L2 coefficient `λ` on the model's [`NodeModel::l2_penalty`].
    pub weight_decay: f64,
    /// Stopping rule.
    pub stopping: Stopping,
}

impl NodeTrainConfig {
    /// Kipf & Welling: 200 epochs, lr 0.01, `λ = 5e-4`, window 10.
    pub fn gcn() -> Self {
        Self {
            epochs: 200,
            learning_rate: 0.01,
            weight_decay: 5e-4,
            stopping: Stopping::LossWindow { window: 10 },
        }
    }

    /// Veličković et al. (Cora, CiteSeer): lr 0.005, `λ = 5e-4`, patience 100, at most
    /// 1 000 epochs (the reference code's limit of 100 000 is never reached).
    pub fn gat() -> Self {
        Self {
            epochs: 1000,
            learning_rate: 0.005,
            weight_decay: 5e-4,
            stopping: Stopping::Patience { patience: 100 },
        }
    }
}

/// A graph's training inputs on a device: features, edges, labels and the split.
#[derive(Clone, Debug)]
pub struct NodeTensors {
    /// Node features `[N, D]` (sparse when mostly zero).
    pub x: NodeInput,
    /// Message-passing edges (GCN-normalised or plain with self-loops).
    pub edges: MessageEdges,
    /// Class of every node `[N]` (unlabelled nodes hold 0 and are in no split).
    pub labels: Tensor<1, Int>,
    /// Class of every node, on the host.
    pub host_labels: Vec<Option<usize>>,
    /// The split, on the host.
    pub split: Split,
    /// Training node indices `[n_train]`.
    pub train: Tensor<1, Int>,
    /// Number of classes.
    pub num_classes: usize,
}

/// Which edges a model passes messages over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// `D̃^{-1/2}(A + I)D̃^{-1/2}` (GCN).
    GcnNormalized,
    /// `A + I` with weights 1 (GAT).
    SelfLoops,
    /// `D^{-1} A`, the neighbour mean without self-loops (GraphSAGE's full-graph inference).
    NeighborMean,
}

impl NodeTensors {
    /// Moves a dataset onto `device`.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if the split names unknown or unlabelled nodes, has no training
    /// node, or the features have a different number of rows than the graph has nodes.
    pub fn new(
        dataset: &NodeDataset,
        features: &Features,
        split: &Split,
        edges: EdgeKind,
        device: &Device,
    ) -> Result<Self> {
        check_training_inputs(dataset, features, split)?;
        let ints = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&i| i as i64).collect();
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), device)
        };
        let labels: Vec<usize> = dataset.labels.iter().map(|l| l.unwrap_or(0)).collect();
        Ok(Self {
            x: NodeInput::from_features(features, device),
            edges: match edges {
                EdgeKind::GcnNormalized => MessageEdges::gcn(&dataset.graph, device),
                EdgeKind::SelfLoops => MessageEdges::with_self_loops(&dataset.graph, device),
                EdgeKind::NeighborMean => {
                    crate::sage::full_graph_block(&dataset.graph).mean_edges(device)
                }
            },
            labels: ints(&labels),
            host_labels: dataset.labels.clone(),
            split: split.clone(),
            train: ints(&split.train),
            num_classes: dataset.num_classes(),
        })
    }
}

/// One epoch's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss (cross-entropy, with dropout, without the L2 term).
    pub train_loss: f64,
    /// Training accuracy of the same (dropout) forward pass.
    pub train_accuracy: f64,
    /// Validation loss in inference mode (NaN without validation nodes).
    pub valid_loss: f64,
    /// Validation accuracy in inference mode.
    pub valid_accuracy: f64,
    /// Seconds of the training step (forward, backward, update).
    pub step_seconds: f64,
}

/// What [`train_node_classifier`] returns.
#[derive(Debug)]
pub struct NodeTrainOutcome<M> {
    /// The kept weights, in inference mode (`valid()`).
    pub model: M,
    /// Every epoch.
    pub history: Vec<NodeEpoch>,
    /// The epoch whose weights `model` holds.
    pub model_epoch: usize,
    /// Accuracy of `model` on the validation nodes.
    pub valid_accuracy: f64,
    /// Accuracy of `model` on the test nodes.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// Trains `model` (built on the autodiff version of `data`'s device) with Adam on the
/// training nodes, validating every epoch; `on_epoch` sees each epoch's numbers.
///
/// # Errors
/// [`GraphError::Invalid`] if the loss becomes NaN or infinite (a too-high learning rate);
/// [`GraphError::Tensor`] if logits cannot be read back.
pub fn train_node_classifier<M: NodeModel>(
    mut model: M,
    data: &NodeTensors,
    cfg: &NodeTrainConfig,
    mut on_epoch: impl FnMut(&NodeEpoch),
) -> Result<NodeTrainOutcome<M>> {
    let start = Instant::now();
    let device = data.labels.device();
    let train_x = data.x.autodiff();
    let train_labels = data.labels.clone().select(0, data.train.clone()).autodiff();
    let train_index = data.train.clone().autodiff();
    let loss_fn = CrossEntropyLossConfig::new().init(&device.clone().autodiff());
    // ε = 1e-8 as TensorFlow's and PyTorch's Adam (burn's default is 1e-5).
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();

    let mut history = Vec::new();
    let mut best: Option<(M, usize)> = None;
    let (mut best_acc, mut best_loss, mut waited) = (f64::MIN, f64::MAX, 0usize);
    for epoch in 1..=cfg.epochs {
        let t = Instant::now();
        let logits = model
            .logits(&train_x, &data.edges)
            .select(0, train_index.clone()); // [n_train, C]
        let ce = loss_fn.forward(logits.clone(), train_labels.clone());
        let loss = ce.clone() + model.l2_penalty() * cfg.weight_decay;
        let train_loss: f64 = ce.into_scalar::<f64>();
        if !train_loss.is_finite() {
            return Err(GraphError::invalid(format!(
                "loss is {train_loss} at epoch {epoch}: training stopped (try a lower learning rate)"
            )));
        }
        let train_accuracy = accuracy_of(&logits.without_autodiff(), &train_labels_host(data))?;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
        let step_seconds = t.elapsed().as_secs_f64();

        let eval = evaluate_nodes(&model.clone().valid(), data)?;
        let record = NodeEpoch {
            epoch,
            train_loss,
            train_accuracy,
            valid_loss: eval.valid_loss,
            valid_accuracy: eval.valid_accuracy,
            step_seconds,
        };
        on_epoch(&record);
        history.push(record);

        match cfg.stopping {
            Stopping::None => {}
            Stopping::LossWindow { window } => {
                if epoch > window {
                    let past = &history[history.len() - 1 - window..history.len() - 1];
                    let mean = past.iter().map(|r| r.valid_loss).sum::<f64>() / window as f64;
                    if eval.valid_loss > mean {
                        break;
                    }
                }
            }
            Stopping::Patience { patience } => {
                let (acc, loss) = (eval.valid_accuracy, eval.valid_loss);
                if acc >= best_acc || loss <= best_loss {
                    if acc >= best_acc && loss <= best_loss {
                        best = Some((model.clone(), epoch));
                    }
                    best_acc = best_acc.max(acc);
                    best_loss = best_loss.min(loss);
                    waited = 0;
                } else {
                    waited += 1;
                    if waited >= patience {
                        break;
                    }
                }
            }
        }
    }
    let last_epoch = history.last().map_or(0, |r| r.epoch);
    let (model, model_epoch) = best.unwrap_or((model, last_epoch));
    let model = model.valid();
    let eval = evaluate_nodes(&model, data)?;
    Ok(NodeTrainOutcome {
        model,
        history,
        model_epoch,
        valid_accuracy: eval.valid_accuracy,
        test_accuracy: eval.test_accuracy,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl<M> NodeTrainOutcome<M> {
    /// The run in numbers, without the model.
    pub fn summary(&self) -> NodeRunSummary {
        let steps = self.history.len().max(1) as f64;
        NodeRunSummary {
            epochs: self.history.len(),
            model_epoch: self.model_epoch,
            valid_accuracy: self.valid_accuracy,
            test_accuracy: self.test_accuracy,
            seconds: self.seconds,
            mean_step_seconds: self.history.iter().map(|r| r.step_seconds).sum::<f64>() / steps,
        }
    }
}

/// The numbers of one node-classification run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRunSummary {
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub model_epoch: usize,
    /// Validation accuracy of the kept weights.
    pub valid_accuracy: f64,
    /// Test accuracy of the kept weights.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Mean seconds of one training step (forward, backward, Adam update).
    pub mean_step_seconds: f64,
}

impl std::fmt::Display for NodeRunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "test {:.2} %, valid {:.2} %, {} epochs (kept {}), {:.1} s, {:.1} ms/step",
            100.0 * self.test_accuracy,
            100.0 * self.valid_accuracy,
            self.epochs,
            self.model_epoch,
            self.seconds,
            1000.0 * self.mean_step_seconds
        )
    }
}

fn train_labels_host(data: &NodeTensors) -> Vec<usize> {
    data.split
        .train
        .iter()
        .map(|&i| data.host_labels[i].unwrap_or(0))
        .collect()
}

/// Loss and accuracy of a model on the validation and test nodes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEval {
    /// Mean cross-entropy on the validation nodes (NaN if there are none).
    pub valid_loss: f64,
    /// Accuracy on the validation nodes.
    pub valid_accuracy: f64,
    /// Mean cross-entropy on the test nodes.
    pub test_loss: f64,
    /// Accuracy on the test nodes.
    pub test_accuracy: f64,
}

/// Evaluates `model` (in inference mode) on the split's validation and test nodes.
///
/// # Errors
/// [`GraphError::Tensor`] if the logits cannot be read back.
pub fn evaluate_nodes<M: NodeModel>(model: &M, data: &NodeTensors) -> Result<NodeEval> {
    let logits = model.logits(&data.x, &data.edges);
    let [_, c] = logits.dims();
    let values: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
    let score = |nodes: &[usize]| {
        mean_loss_and_accuracy(nodes.iter().map(|&i| {
            let row = &values[i * c..(i + 1) * c];
            (row, data.host_labels[i].unwrap_or(0))
        }))
    };
    let (valid_loss, valid_accuracy) = score(&data.split.valid);
    let (test_loss, test_accuracy) = score(&data.split.test);
    Ok(NodeEval {
        valid_loss,
        valid_accuracy,
        test_loss,
        test_accuracy,
    })
}

/// Checks that `features` fit the graph of `dataset` (one row per node) and that `split` names
/// known, labelled nodes with at least one for training.
///
/// # Errors
/// [`GraphError::Invalid`] naming the first fault.
pub(crate) fn check_training_inputs(
    dataset: &NodeDataset,
    features: &Features,
    split: &Split,
) -> Result<()> {
    let n = dataset.num_nodes();
    if features.dim == 0 || features.values.len() != n * features.dim {
        return Err(GraphError::invalid(format!(
            "{} feature values of width {} do not fit a graph of {n} nodes",
            features.values.len(),
            features.dim
        )));
    }
    split.check(&dataset.labels)?;
    if split.train.is_empty() {
        return Err(GraphError::invalid("the split has no training node"));
    }
    Ok(())
}

/// The mean cross-entropy and the accuracy of `(logits row, target class)` pairs, computed on
/// the host in f64 (`logsumexp` shifted by the row's maximum); NaN for no rows.
pub(crate) fn mean_loss_and_accuracy<'a>(
    rows: impl Iterator<Item = (&'a [f32], usize)>,
) -> (f64, f64) {
    let (mut loss, mut correct, mut n) = (0.0, 0usize, 0usize);
    for (row, target) in rows {
        let max = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let lse = max
            + row
                .iter()
                .map(|&v| (v as f64 - max).exp())
                .sum::<f64>()
                .ln();
        loss += lse - row[target] as f64;
        correct += usize::from(argmax(row) == target);
        n += 1;
    }
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    (loss / n as f64, correct as f64 / n as f64)
}

/// Index of the largest entry (the first on ties).
pub(crate) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn accuracy_of(logits: &Tensor<2>, targets: &[usize]) -> Result<f64> {
    let [_, c] = logits.dims();
    let values: Vec<f32> = logits
        .to_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
    let correct = values
        .chunks(c)
        .zip(targets)
        .filter(|(row, t)| argmax(row) == **t)
        .count();
    Ok(correct as f64 / targets.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetName, load_dataset, shipped_karate_dir};

    // The two seeded karate trainings are in `tests/karate_training.rs`, a test binary of
    // their own: burn's generator is global to the process, and the other tests here reseed
    // and draw from it concurrently (one GAT initialisation in twelve does not learn).

    #[test]
    fn bad_split_and_features_are_errors() {
        let device = Device::flex();
        let d = load_dataset(DatasetName::Karate, &shipped_karate_dir()).unwrap();
        let error = |features: Features, split: Split| {
            NodeTensors::new(&d, &features, &split, EdgeKind::SelfLoops, &device)
                .unwrap_err()
                .to_string()
        };
        let unknown_node = Split {
            train: vec![40],
            ..Split::default()
        };
        let err = error(Features::identity(34), unknown_node);
        assert!(err.contains("node 40"), "{err}");
        let err = error(Features::identity(30), Split::default());
        assert!(err.contains("34 nodes"), "{err}");
        let err = error(Features::identity(34), Split::default());
        assert!(err.contains("no training node"), "{err}");
    }
}
