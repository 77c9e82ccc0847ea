//! GraphSAGE with uniform neighbour sampling: Hamilton, Ying & Leskovec, *Inductive
//! Representation Learning on Large Graphs*, NeurIPS 2017 — mini-batch training for graphs
//! that do not fit a full batch.
//!
//! # Sampling: blocks (message-flow graphs)
//! For a mini-batch of target nodes, [`sample_blocks`] draws, hop by hop, at most `fanouts[k]`
//! neighbours of every node reached so far (uniformly, without replacement; a node with fewer
//! neighbours takes them all), as PyTorch Geometric's `NeighborLoader(num_neighbors=[25, 10])`
//! does: `fanouts[0]` neighbours of each target, then `fanouts[1]` of each of those, and so on.
//! The result is one bipartite **block** per layer (DGL's "message-flow graph"), its edges
//! re-indexed locally:
//!
//! ```text
//! nodes:   [targets | hop-1 nodes not yet seen | hop-2 nodes not yet seen]   (global ids)
//! block 1 (input layer):  sources = all of them,          destinations = targets + hop-1
//! block 2 (output layer): sources = targets + hop-1,      destinations = targets
//! ```
//!
//! The destinations of every block are the *first* rows of its sources, so a layer finds each
//! destination's own representation `h_v` as row `v` of its input without a lookup.
//!
//! # The model
//! One layer is `h_v' = W · [h_v ; mean_{u ∈ N(v)} h_u] + b`, computed as
//! `W_self h_v + W_neigh mean(h_u) + b` (GraphSAGE-mean; `W = [W_self; W_neigh]`), the mean by the crate's
//! gather/scatter-add ([`crate::sparse::propagate`] over the block's edges weighted `1/deg(v)`).
//! Hidden layers are followed by ReLU and, optionally, L2 normalisation of each row (the
//! paper's line 7). With fan-outs at least the largest degree the sampled blocks hold every
//! neighbour and the mini-batch forward equals the full-graph one (a test checks it).
//!
//! # Training
//! [`train_sage`] shuffles the training nodes into mini-batches every epoch, samples their
//! blocks (seeded), and takes one Adam step per batch on the batch's cross-entropy (plus `λ ·`
//! [`Sage::l2_penalty`]). Validation and test use every neighbour (fan-out unlimited), in
//! batches, and the weights of the epoch with the best validation accuracy are kept.

use std::collections::HashMap;
use std::time::Instant;

use burn::module::Param;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{SeedableRng, seq::index};
use serde::{Deserialize, Serialize};

use crate::data::{Features, Graph, NodeDataset, Split};
use crate::error::GraphError;
use crate::node_train::{argmax, check_training_inputs, mean_loss_and_accuracy};
use crate::sparse::{MessageEdges, NodeInput, SparseMatrix, propagate};

/// One bipartite layer of a sampled computation graph: messages flow from source `src[e]` into
/// destination `dst[e]`, both local indices. Destinations are the first `num_dst` sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Local source index of each edge (`< num_src`).
    pub src: Vec<u32>,
    /// Local destination index of each edge (`< num_dst`).
    pub dst: Vec<u32>,
    /// Number of source nodes (the layer's input rows).
    pub num_src: usize,
    /// Number of destination nodes (the layer's output rows), `≤ num_src`.
    pub num_dst: usize,
}

impl Block {
    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.src.len()
    }

    /// The block's edges on `device`, each weighted `1 / deg(dst)` so that
    /// [`propagate`] computes the mean over each destination's sampled neighbours (0 for a
    /// destination without any).
    pub fn mean_edges(&self, device: &Device) -> MessageEdges {
        let mut deg = vec![0u32; self.num_dst];
        for &d in &self.dst {
            deg[d as usize] += 1;
        }
        let e = self.num_edges();
        let ints = |v: &[u32]| {
            let v: Vec<i64> = v.iter().map(|&i| i64::from(i)).collect();
            Tensor::<1, Int>::from_data(TensorData::new(v, [e]), device)
        };
        let weights: Vec<f32> = self
            .dst
            .iter()
            .map(|&d| 1.0 / deg[d as usize] as f32)
            .collect();
        MessageEdges {
            src: ints(&self.src),
            dst: ints(&self.dst),
            weight: Tensor::from_data(TensorData::new(weights, [e, 1]), device),
            num_nodes: self.num_dst,
        }
    }
}

/// A mini-batch's sampled computation graph (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledBatch {
    /// Global id of every node the batch touches; the input layer's rows, in this order. The
    /// first `num_targets` are the targets, in the order given.
    pub nodes: Vec<u32>,
    /// Number of target nodes (the output rows).
    pub num_targets: usize,
    /// One block per layer, input layer first; the last block's destinations are the targets.
    pub blocks: Vec<Block>,
}

/// Samples the `fanouts.len()`-hop computation blocks of `targets`: `fanouts[0]` neighbours of
/// each target, `fanouts[k]` of each node first reached at hop `k` (uniform without
/// replacement; all of them when a node has no more; `usize::MAX` takes every neighbour).
/// Deterministic for a given `rng` state.
///
/// # Errors
/// [`GraphError::Invalid`] for no fan-out, a fan-out of 0, no target, a target that is not a
/// node of `graph`, or a target listed twice.
pub fn sample_blocks(
    graph: &Graph,
    targets: &[usize],
    fanouts: &[usize],
    rng: &mut StdRng,
) -> crate::Result<SampledBatch> {
    if fanouts.is_empty() || fanouts.contains(&0) {
        return Err(GraphError::invalid(format!(
            "fan-outs must be one positive number per layer, got {fanouts:?}"
        )));
    }
    if targets.is_empty() {
        return Err(GraphError::invalid(
            "a mini-batch needs at least one target",
        ));
    }
    let n = graph.num_nodes();
    let mut nodes: Vec<u32> = Vec::with_capacity(targets.len());
    let mut local: HashMap<u32, u32> = HashMap::with_capacity(targets.len() * 4);
    for &t in targets {
        if t >= n {
            return Err(GraphError::invalid(format!(
                "target node {t} is not in the graph of {n} nodes"
            )));
        }
        if local.insert(t as u32, nodes.len() as u32).is_some() {
            return Err(GraphError::invalid(format!(
                "target node {t} is listed twice"
            )));
        }
        nodes.push(t as u32);
    }
    // Blocks from the output side: hop k's destinations are the nodes known before it.
    let mut blocks_out_first = Vec::with_capacity(fanouts.len());
    for &fanout in fanouts {
        let num_dst = nodes.len();
        let (mut src, mut dst) = (Vec::new(), Vec::new());
        for d in 0..num_dst {
            let neighbors = graph.neighbors(nodes[d] as usize);
            let mut add = |u: u32, nodes: &mut Vec<u32>| {
                let next = nodes.len() as u32;
                let s = *local.entry(u).or_insert(next);
                if s == next {
                    nodes.push(u);
                }
                src.push(s);
                dst.push(d as u32);
            };
            if neighbors.len() <= fanout {
                for &u in neighbors {
                    add(u, &mut nodes);
                }
            } else {
                for i in index::sample(rng, neighbors.len(), fanout) {
                    add(neighbors[i], &mut nodes);
                }
            }
        }
        blocks_out_first.push(Block {
            src,
            dst,
            num_src: nodes.len(),
            num_dst,
        });
    }
    blocks_out_first.reverse();
    Ok(SampledBatch {
        nodes,
        num_targets: targets.len(),
        blocks: blocks_out_first,
    })
}

/// The whole graph as one block per layer (every node a source and a destination, every edge
/// in both directions): full-batch GraphSAGE, the reference the sampled forward must equal.
pub fn full_graph_block(graph: &Graph) -> Block {
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    for v in 0..graph.num_nodes() {
        for &u in graph.neighbors(v) {
            src.push(u);
            dst.push(v as u32);
        }
    }
    Block {
        src,
        dst,
        num_src: graph.num_nodes(),
        num_dst: graph.num_nodes(),
    }
}

/// Node features kept on the host as sparse rows, from which each mini-batch's input rows are
/// cut (a batch never moves the whole feature matrix).
#[derive(Clone, Debug)]
pub struct FeatureRows {
    /// Feature width.
    pub dim: usize,
    offsets: Vec<usize>,
    cols: Vec<u32>,
    values: Vec<f32>,
}

impl FeatureRows {
    /// The nonzero entries of `features`, row by row.
    pub fn new(features: &Features) -> Self {
        let d = features.dim.max(1);
        let mut offsets = vec![0];
        let (mut cols, mut values) = (Vec::new(), Vec::new());
        for row in features.values.chunks(d) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    cols.push(j as u32);
                    values.push(v);
                }
            }
            offsets.push(cols.len());
        }
        Self {
            dim: features.dim,
            offsets,
            cols,
            values,
        }
    }

    /// Number of rows (nodes).
    pub fn num_rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The rows of `nodes`, in that order, as a sparse matrix on `device`.
    pub fn gather(&self, nodes: &[u32], device: &Device) -> NodeInput {
        let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (r, &v) in nodes.iter().enumerate() {
            let (a, b) = (self.offsets[v as usize], self.offsets[v as usize + 1]);
            for k in a..b {
                rows.push(r as i64);
                cols.push(i64::from(self.cols[k]));
                values.push(self.values[k]);
            }
        }
        let len = values.len();
        NodeInput::Sparse(SparseMatrix {
            rows: Tensor::from_data(TensorData::new(rows, [len]), device),
            cols: Tensor::from_data(TensorData::new(cols, [len]), device),
            values: Tensor::from_data(TensorData::new(values, [len, 1]), device),
            num_rows: nodes.len(),
            num_cols: self.dim,
        })
    }
}

/// A sampled batch on a device: its input rows and one edge list per layer.
#[derive(Clone, Debug)]
pub struct BatchTensors {
    /// Features of the batch's nodes (`[nodes, D]`, sparse).
    pub x: NodeInput,
    /// Each block's edges, mean-weighted, input layer first.
    pub blocks: Vec<MessageEdges>,
}

impl BatchTensors {
    /// Moves `batch` and its nodes' features to `device`.
    pub fn new(batch: &SampledBatch, features: &FeatureRows, device: &Device) -> Self {
        Self {
            x: features.gather(&batch.nodes, device),
            blocks: batch.blocks.iter().map(|b| b.mean_edges(device)).collect(),
        }
    }
}

/// Configuration of one [`SageLayer`].
#[derive(Config, Debug)]
pub struct SageLayerConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output features per node.
    pub d_output: usize,
}

impl SageLayerConfig {
    /// Builds the layer: Glorot-uniform `W_self` and `W_neigh`, zero bias.
    pub fn init(&self, device: &Device) -> SageLayer {
        let linear = |bias| {
            LinearConfig::new(self.d_input, self.d_output)
                .with_bias(bias)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device)
        };
        let mut self_linear = linear(true);
        self_linear.bias = Some(Param::from_tensor(Tensor::zeros([self.d_output], device)));
        SageLayer {
            self_linear,
            neigh_linear: linear(false),
        }
    }
}

/// `W_self h_v + W_neigh mean_{u ∈ N(v)} h_u + b` over a block.
#[derive(Module, Debug)]
pub struct SageLayer {
    /// `W_self` `[d_input, d_output]` and the bias `b`.
    pub self_linear: Linear,
    /// `W_neigh` `[d_input, d_output]`.
    pub neigh_linear: Linear,
}

impl SageLayer {
    /// One layer over `block` (its sources are `x`'s rows, its destinations the first
    /// `block.num_nodes` of them). The mean is taken after the product (`mean(h_u) W =
    /// mean(h_u W)`), so sparse input is multiplied before it travels along the edges.
    ///
    /// # Shapes
    /// - x: `[num_src, d_input]`
    /// - output: `[num_dst, d_output]`
    pub fn forward_input(&self, x: &NodeInput, block: &MessageEdges) -> Tensor<2> {
        let num_dst = block.num_nodes;
        let own = x
            .matmul(self.self_linear.weight.val())
            .narrow(0, 0, num_dst); // [num_dst, F]
        let neigh = propagate(block, x.matmul(self.neigh_linear.weight.val())); // [num_dst, F]
        let out = own + neigh;
        match &self.self_linear.bias {
            Some(b) => out + b.val().unsqueeze_dim(0),
            None => out,
        }
    }
}

/// Configuration of a [`Sage`] model.
#[derive(Config, Debug)]
pub struct SageConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Hidden units of every hidden layer.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Number of layers (= hops = fan-outs).
    #[config(default = 2)]
    pub num_layers: usize,
    /// Dropout on each layer's input.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// L2-normalise the rows of every hidden layer's output (Hamilton et al., Algorithm 1).
    #[config(default = false)]
    pub normalize: bool,
}

impl SageConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Sage {
        let layers = (0..self.num_layers.max(1))
            .map(|k| {
                let d_in = if k == 0 { self.d_input } else { self.d_hidden };
                let d_out = if k + 1 == self.num_layers.max(1) {
                    self.num_classes
                } else {
                    self.d_hidden
                };
                SageLayerConfig::new(d_in, d_out).init(device)
            })
            .collect();
        Sage {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            normalize: self.normalize,
        }
    }
}

/// GraphSAGE-mean: (dropout → SAGE → ReLU [→ L2 norm]) × (layers − 1) → dropout → SAGE.
#[derive(Module, Debug)]
pub struct Sage {
    /// The layers, input first.
    pub layers: Vec<SageLayer>,
    /// Dropout (active only on an autodiff device in training mode).
    pub dropout: Dropout,
    /// L2-normalise hidden rows.
    #[module(skip)]
    pub normalize: bool,
}

impl Sage {
    /// Number of layers (the number of blocks a forward pass needs).
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Class logits of the last block's destinations (a batch's targets, or every node for
    /// [`full_graph_block`] repeated once per layer).
    ///
    /// # Shapes
    /// - x: `[blocks[0] sources, d_input]`
    /// - output: `[last block's destinations, num_classes]`
    ///
    /// # Panics
    /// If `blocks.len()` differs from the number of layers.
    pub fn forward(&self, x: &NodeInput, blocks: &[MessageEdges]) -> Tensor<2> {
        assert_eq!(blocks.len(), self.layers.len(), "one block per layer");
        let mut h = self.layers[0].forward_input(&x.dropout(&self.dropout), &blocks[0]);
        for (layer, block) in self.layers.iter().zip(blocks).skip(1) {
            h = self.hidden_activation(h);
            h = layer.forward_input(&NodeInput::Dense(self.dropout.forward(h)), block);
        }
        h
    }

    /// The last hidden layer's output (after ReLU and normalisation, without dropout) of every
    /// node of the graph whose neighbour-mean edges ([`full_graph_block`]) are `edges`: the
    /// model's node embedding. A one-layer model returns the logits.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, d_hidden]`
    pub fn hidden(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = self.layers[0].forward_input(x, edges);
        for layer in self.layers.iter().take(last).skip(1) {
            h = layer.forward_input(&NodeInput::Dense(self.hidden_activation(h)), edges);
        }
        if last == 0 {
            h
        } else {
            self.hidden_activation(h)
        }
    }

    fn hidden_activation(&self, h: Tensor<2>) -> Tensor<2> {
        let h = relu(h);
        if self.normalize {
            let norm = h.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12); // [N, 1]
            h / norm
        } else {
            h
        }
    }

    /// `½ Σ ‖W‖²` over every weight matrix (biases excluded).
    pub fn l2_penalty(&self) -> Tensor<1> {
        let sq = |t: Tensor<2>| t.powi_scalar(2).sum();
        let mut terms = self
            .layers
            .iter()
            .map(|l| sq(l.self_linear.weight.val()) + sq(l.neigh_linear.weight.val()));
        let first = terms.next().expect("a model has at least one layer");
        terms.fold(first, |a, b| a + b) * 0.5
    }
}

/// How to train GraphSAGE with sampled mini-batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SageTrainConfig {
    /// Passes over the training nodes.
    pub epochs: usize,
    /// Target nodes per mini-batch.
    pub batch_size: usize,
    /// Neighbours sampled per node, hop 1 first (one per layer; Hamilton et al.: 25, 10).
    pub fanouts: Vec<usize>,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// L2 coefficient `λ` on [`Sage::l2_penalty`].
    pub weight_decay: f64,
    /// Target nodes per batch when evaluating (every neighbour is used).
    pub eval_batch_size: usize,
    /// Seed of the batch order and the sampling (dropout and weights follow the device seed).
    pub seed: u64,
}

impl Default for SageTrainConfig {
    /// Fan-outs 25, 10 (the paper), batches of 32 of Cora's 140 training nodes, Adam lr 0.01,
    /// `λ = 5e-4`, 50 epochs.
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 32,
            fanouts: vec![25, 10],
            learning_rate: 0.01,
            weight_decay: 5e-4,
            eval_batch_size: 512,
            seed: 0,
        }
    }
}

/// A graph's host-side inputs for sampled training.
#[derive(Clone, Debug)]
pub struct SageData {
    /// The graph the sampler walks.
    pub graph: Graph,
    /// Node features as sparse rows.
    pub features: FeatureRows,
    /// Class of every node.
    pub labels: Vec<Option<usize>>,
    /// The split.
    pub split: Split,
    /// Number of classes.
    pub num_classes: usize,
}

impl SageData {
    /// Checks and keeps a dataset's graph, features, labels and split.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if the features do not fit the graph, or the split names
    /// unknown or unlabelled nodes or has no training node.
    pub fn new(dataset: &NodeDataset, features: &Features, split: &Split) -> crate::Result<Self> {
        check_training_inputs(dataset, features, split)?;
        Ok(Self {
            graph: dataset.graph.clone(),
            features: FeatureRows::new(features),
            labels: dataset.labels.clone(),
            split: split.clone(),
            num_classes: dataset.num_classes(),
        })
    }
}

/// One epoch of [`train_sage`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SageEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training cross-entropy over the epoch's batches (with dropout).
    pub train_loss: f64,
    /// Training accuracy of the same (dropout, sampled) forward passes.
    pub train_accuracy: f64,
    /// Validation cross-entropy (every neighbour, no dropout; NaN without validation nodes).
    pub valid_loss: f64,
    /// Validation accuracy (every neighbour, no dropout).
    pub valid_accuracy: f64,
    /// Mean sampled nodes per batch (the input layer's rows).
    pub mean_batch_nodes: f64,
    /// Seconds of the epoch's training steps (sampling included).
    pub seconds: f64,
}

/// What [`train_sage`] returns.
#[derive(Debug)]
pub struct SageOutcome {
    /// The kept weights (best validation accuracy), in inference mode.
    pub model: Sage,
    /// Every epoch.
    pub history: Vec<SageEpoch>,
    /// The epoch whose weights `model` holds.
    pub model_epoch: usize,
    /// Validation accuracy of `model`.
    pub valid_accuracy: f64,
    /// Test accuracy of `model`.
    pub test_accuracy: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Class logits of `nodes` (row-major `[nodes, classes]` on the host), in batches of
/// `batch_size` with every neighbour in every hop.
///
/// # Errors
/// [`GraphError`] for bad nodes or unreadable logits.
pub fn predict_logits(
    model: &Sage,
    data: &SageData,
    nodes: &[usize],
    batch_size: usize,
    device: &Device,
) -> crate::Result<Vec<f32>> {
    let fanouts = vec![usize::MAX; model.num_layers()];
    let mut rng = StdRng::seed_from_u64(0); // unused: full neighbourhoods draw nothing
    let mut out = Vec::with_capacity(nodes.len() * data.num_classes);
    for chunk in nodes.chunks(batch_size.max(1)) {
        let batch = sample_blocks(&data.graph, chunk, &fanouts, &mut rng)?;
        let t = BatchTensors::new(&batch, &data.features, device);
        let logits = model.forward(&t.x, &t.blocks);
        out.extend(
            logits
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| GraphError::Tensor(format!("{e:?}")))?,
        );
    }
    Ok(out)
}

/// Mean cross-entropy and accuracy of `model` on `nodes` (every neighbour used); NaN for no
/// node.
///
/// # Errors
/// As [`predict_logits`].
pub fn sage_scores(
    model: &Sage,
    data: &SageData,
    nodes: &[usize],
    batch_size: usize,
    device: &Device,
) -> crate::Result<(f64, f64)> {
    if nodes.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let logits = predict_logits(model, data, nodes, batch_size, device)?;
    let rows = logits.chunks(data.num_classes);
    Ok(mean_loss_and_accuracy(
        nodes
            .iter()
            .zip(rows)
            .map(|(&i, row)| (row, data.labels[i].unwrap_or(0))),
    ))
}

/// Trains `model` (built on the autodiff version of `device`) on sampled mini-batches of the
/// training nodes; keeps the weights of the epoch with the best validation accuracy (the last
/// one without validation nodes).
///
/// # Errors
/// [`GraphError::Invalid`] for bad settings (no epoch, batch size 0, a fan-out count that is
/// not the model's layer count) or a non-finite loss.
pub fn train_sage(
    mut model: Sage,
    data: &SageData,
    cfg: &SageTrainConfig,
    device: &Device,
    mut on_epoch: impl FnMut(&SageEpoch),
) -> crate::Result<SageOutcome> {
    if cfg.epochs == 0 || cfg.batch_size == 0 || cfg.eval_batch_size == 0 {
        return Err(GraphError::invalid(
            "epochs, batch size and evaluation batch size must be at least 1",
        ));
    }
    if cfg.fanouts.len() != model.num_layers() {
        return Err(GraphError::invalid(format!(
            "{} fan-outs for a model of {} layers: give one per layer",
            cfg.fanouts.len(),
            model.num_layers()
        )));
    }
    let start = Instant::now();
    let train_device = device.clone().autodiff();
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order = data.split.train.clone();
    let mut history = Vec::new();
    let mut best: Option<(Sage, usize, f64)> = None;
    for epoch in 1..=cfg.epochs {
        let t = Instant::now();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut nodes_sum, mut batches) = (0.0, 0usize, 0usize);
        let mut correct = 0usize;
        for chunk in order.chunks(cfg.batch_size) {
            let batch = sample_blocks(&data.graph, chunk, &cfg.fanouts, &mut rng)?;
            nodes_sum += batch.nodes.len();
            let tensors = BatchTensors::new(&batch, &data.features, &train_device);
            let labels: Vec<i64> = chunk
                .iter()
                .map(|&i| data.labels[i].unwrap_or(0) as i64)
                .collect();
            let labels =
                Tensor::<1, Int>::from_data(TensorData::new(labels, [chunk.len()]), &train_device);
            let logits = model.forward(&tensors.x, &tensors.blocks);
            let ce = loss_fn.forward(logits.clone(), labels);
            let loss = ce.clone() + model.l2_penalty() * cfg.weight_decay;
            let value: f64 = ce.into_scalar::<f64>();
            if !value.is_finite() {
                return Err(GraphError::invalid(format!(
                    "loss is {value} at epoch {epoch}: training stopped (try a lower learning rate)"
                )));
            }
            loss_sum += value;
            batches += 1;
            let rows: Vec<f32> = logits
                .without_autodiff()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
            correct += chunk
                .iter()
                .zip(rows.chunks(data.num_classes))
                .filter(|(i, row)| data.labels[**i] == Some(argmax(row)))
                .count();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cfg.learning_rate, model, grads);
        }
        let seconds = t.elapsed().as_secs_f64();
        let (valid_loss, valid_accuracy) = sage_scores(
            &model.valid(),
            data,
            &data.split.valid,
            cfg.eval_batch_size,
            device,
        )?;
        let record = SageEpoch {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            train_accuracy: correct as f64 / order.len() as f64,
            valid_loss,
            valid_accuracy,
            mean_batch_nodes: nodes_sum as f64 / batches.max(1) as f64,
            seconds,
        };
        on_epoch(&record);
        history.push(record);
        let better = match &best {
            None => true,
            Some((_, _, acc)) => valid_accuracy.is_nan() || valid_accuracy > *acc,
        };
        if better {
            best = Some((model.clone(), epoch, valid_accuracy));
        }
    }
    let (kept, model_epoch, _) = best.unwrap_or((model, cfg.epochs, f64::NAN));
    let kept = kept.valid();
    let (_, valid_accuracy) =
        sage_scores(&kept, data, &data.split.valid, cfg.eval_batch_size, device)?;
    let (_, test_accuracy) =
        sage_scores(&kept, data, &data.split.test, cfg.eval_batch_size, device)?;
    Ok(SageOutcome {
        model: kept,
        history,
        model_epoch,
        valid_accuracy,
        test_accuracy,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    /// A star (0 with 6 leaves), a path 7–8–9 hanging off leaf 6, and an isolated node 10.
    fn graph() -> Graph {
        Graph::from_edges(
            11,
            &[
                (0, 1),
                (0, 2),
                (0, 3),
                (0, 4),
                (0, 5),
                (0, 6),
                (6, 7),
                (7, 8),
                (8, 9),
            ],
        )
        .unwrap()
    }

    #[test]
    fn sampled_edges_exist_and_fanouts_hold() {
        let g = graph();
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let batch = sample_blocks(&g, &[0, 8, 10], &[2, 3], &mut rng).unwrap();
            assert_eq!(batch.num_targets, 3);
            assert_eq!(&batch.nodes[..3], &[0, 8, 10]);
            assert_eq!(batch.blocks.len(), 2);
            // Output block: destinations are the targets.
            let out = &batch.blocks[1];
            assert_eq!(out.num_dst, 3);
            assert_eq!(batch.blocks[0].num_dst, out.num_src);
            assert_eq!(batch.blocks[0].num_src, batch.nodes.len());
            for (k, (block, fanout)) in batch.blocks.iter().rev().zip([2, 3]).enumerate() {
                let mut per_dst = vec![Vec::new(); block.num_dst];
                for (&s, &d) in block.src.iter().zip(&block.dst) {
                    assert!((s as usize) < block.num_src && (d as usize) < block.num_dst);
                    let (u, v) = (batch.nodes[s as usize], batch.nodes[d as usize]);
                    assert!(g.has_edge(u as usize, v as usize), "hop {k}: {u}-{v}");
                    per_dst[d as usize].push(u);
                }
                for (d, got) in per_dst.iter().enumerate() {
                    let v = batch.nodes[d] as usize;
                    let deg = g.degree(v);
                    // Fan-out respected; fewer neighbours: all of them; no repeats.
                    assert_eq!(got.len(), deg.min(fanout), "node {v} at hop {k}");
                    let mut uniq = got.clone();
                    uniq.sort_unstable();
                    uniq.dedup();
                    assert_eq!(uniq.len(), got.len());
                }
            }
            // Every node appears once.
            let mut seen = batch.nodes.clone();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), batch.nodes.len());
        }
    }

    #[test]
    fn sampling_is_deterministic_per_seed_and_uniform() {
        let g = graph();
        let draw =
            |seed| sample_blocks(&g, &[0], &[3, 1], &mut StdRng::seed_from_u64(seed)).unwrap();
        assert_eq!(draw(5), draw(5));
        assert!((0..10).any(|s| draw(s) != draw(5)));
        // Each of the hub's 6 neighbours is drawn about half the time (3 of 6).
        let mut counts = [0usize; 11];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..3000 {
            let b = sample_blocks(&g, &[0], &[3], &mut rng).unwrap();
            for &s in &b.blocks[0].src {
                counts[b.nodes[s as usize] as usize] += 1;
            }
        }
        for c in &counts[1..=6] {
            assert!((1350..1650).contains(c), "{counts:?}");
        }
    }

    #[test]
    fn bad_batches_are_errors() {
        let g = graph();
        let mut rng = StdRng::seed_from_u64(0);
        let err = |t: &[usize], f: &[usize], rng: &mut StdRng| {
            sample_blocks(&g, t, f, rng).unwrap_err().to_string()
        };
        assert!(err(&[11], &[2], &mut rng).contains("node 11"));
        assert!(err(&[1, 1], &[2], &mut rng).contains("twice"));
        assert!(err(&[], &[2], &mut rng).contains("target"));
        assert!(err(&[1], &[], &mut rng).contains("fan-out"));
        assert!(err(&[1], &[2, 0], &mut rng).contains("fan-out"));
    }

    fn features(n: usize, d: usize) -> Features {
        let values = (0..n * d)
            .map(|k| {
                if k % 3 == 0 {
                    ((k * 7 % 13) as f32) / 13.0
                } else {
                    0.0
                }
            })
            .collect();
        Features { dim: d, values }
    }

    #[test]
    fn layer_equals_the_formula() {
        let device = Device::flex();
        let g = graph();
        let f = features(11, 4);
        let layer = SageLayerConfig::new(4, 3).init(&device);
        let rows = FeatureRows::new(&f);
        let all: Vec<u32> = (0..11).collect();
        let got = layer.forward_input(
            &rows.gather(&all, &device),
            &full_graph_block(&g).mean_edges(&device),
        );
        let ws: Vec<f32> = layer
            .self_linear
            .weight
            .val()
            .to_data()
            .try_to_vec()
            .unwrap();
        let wn: Vec<f32> = layer
            .neigh_linear
            .weight
            .val()
            .to_data()
            .try_to_vec()
            .unwrap();
        let mut want = vec![0.0f32; 11 * 3];
        for v in 0..11 {
            let nb = g.neighbors(v);
            for k in 0..4 {
                let mean = if nb.is_empty() {
                    0.0
                } else {
                    nb.iter()
                        .map(|&u| f.values[u as usize * 4 + k])
                        .sum::<f32>()
                        / nb.len() as f32
                };
                for j in 0..3 {
                    want[v * 3 + j] += f.values[v * 4 + k] * ws[k * 3 + j] + mean * wn[k * 3 + j];
                }
            }
        }
        got.to_data().assert_approx_eq::<f32>(
            &TensorData::new(want, [11, 3]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
    }

    #[test]
    fn minibatch_forward_equals_full_graph_with_large_fanouts() {
        let device = Device::flex();
        device.seed(3);
        let g = graph();
        let f = features(11, 5);
        let rows = FeatureRows::new(&f);
        for normalize in [false, true] {
            let model = SageConfig::new(5, 3)
                .with_d_hidden(8)
                .with_normalize(normalize)
                .init(&device);
            let all: Vec<u32> = (0..11).collect();
            let full_block = full_graph_block(&g).mean_edges(&device);
            let full = model.forward(
                &rows.gather(&all, &device),
                &[full_block.clone(), full_block],
            );
            let full: Vec<f32> = full.into_data().try_into_vec().unwrap();
            let targets = [7usize, 0, 10, 3];
            // Max degree is 6: a fan-out of 6 takes every neighbour.
            let batch =
                sample_blocks(&g, &targets, &[6, 6], &mut StdRng::seed_from_u64(9)).unwrap();
            let t = BatchTensors::new(&batch, &rows, &device);
            let got: Vec<f32> = model
                .forward(&t.x, &t.blocks)
                .into_data()
                .try_into_vec()
                .unwrap();
            let want: Vec<f32> = targets
                .iter()
                .flat_map(|&v| full[v * 3..v * 3 + 3].to_vec())
                .collect();
            TensorData::new(got, [4, 3]).assert_approx_eq::<f32>(
                &TensorData::new(want, [4, 3]),
                Tolerance::rel_abs(1e-5, 1e-6),
            );
            // A smaller fan-out samples fewer nodes than the whole graph.
            let small = sample_blocks(&g, &[0], &[2, 2], &mut StdRng::seed_from_u64(9)).unwrap();
            assert!(small.nodes.len() < 11);
        }
    }

    #[test]
    fn training_separates_two_cliques() {
        let device = Device::flex();
        device.seed(4);
        // Two 5-cliques joined by one edge; features: a noisy one-hot of the clique.
        let mut edges = Vec::new();
        for c in [0usize, 5] {
            for i in 0..5 {
                for j in i + 1..5 {
                    edges.push((c + i, c + j));
                }
            }
        }
        edges.push((4, 5));
        let graph = Graph::from_edges(10, &edges).unwrap();
        let values: Vec<f32> = (0..10)
            .flat_map(|v| {
                let c = usize::from(v >= 5);
                [
                    f32::from(c == 0) + 0.1 * (v % 2) as f32,
                    f32::from(c == 1),
                    1.0,
                ]
            })
            .collect();
        let dataset = NodeDataset {
            name: "cliques".into(),
            graph,
            features: None,
            labels: (0..10).map(|v| Some(usize::from(v >= 5))).collect(),
            class_names: vec!["a".into(), "b".into()],
            split: None,
            node_names: Vec::new(),
        };
        let split = Split {
            train: vec![0, 1, 5, 6],
            valid: vec![2, 7],
            test: vec![3, 4, 8, 9],
        };
        let data = SageData::new(&dataset, &Features { dim: 3, values }, &split).unwrap();
        let model = SageConfig::new(3, 2)
            .with_d_hidden(8)
            .with_dropout(0.0)
            .init(&device.clone().autodiff());
        let cfg = SageTrainConfig {
            epochs: 30,
            batch_size: 2,
            fanouts: vec![3, 2],
            learning_rate: 0.05,
            ..SageTrainConfig::default()
        };
        let mut seen = 0;
        let out = train_sage(model, &data, &cfg, &device, |_| seen += 1).unwrap();
        assert_eq!(seen, 30);
        assert!(out.history[29].train_loss < out.history[0].train_loss);
        assert!(out.test_accuracy >= 0.75, "{}", out.test_accuracy);
        let bad = SageTrainConfig {
            fanouts: vec![3],
            ..cfg
        };
        let model = SageConfig::new(3, 2).init(&device.clone().autodiff());
        let err = train_sage(model, &data, &bad, &device, |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("fan-outs"), "{err}");
    }
}
