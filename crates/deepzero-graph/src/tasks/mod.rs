//! Whole graph tasks as library calls: a serialisable [`GraphTaskSpec`] (what becomes
//! `run.json`), [`train`] that writes a run folder, [`evaluate`] and a [`Predictor`] that
//! loads a run folder again.
//!
//! ```no_run
//! use burn::prelude::Device;
//! use deepzero_graph::data::shipped_karate_dir;
//! use deepzero_graph::tasks::{GraphTaskSpec, Predictor, train};
//!
//! let device = Device::flex();
//! let spec = GraphTaskSpec::recipe("karate-node2vec")?.with_seed(1);
//! let report = train(&spec, &shipped_karate_dir(), "runs/karate".as_ref(), &device)?;
//! println!("{report}");
//! let predictor = Predictor::load("runs/karate".as_ref(), None, &device)?;
//! predictor.write_embeddings("karate.vec".as_ref())?;
//! # Ok::<(), deepzero_graph::GraphError>(())
//! ```
//!
//! # The run folder
//! | file | content |
//! |---|---|
//! | `run.json` | [`RunInfo`]: the spec (versioned), the data folder, the dataset's size and classes |
//! | `metrics.json` | [`GraphReport`]: test accuracy and F1, link-prediction AUC, timings, per-epoch history |
//! | `split.json` | the train/valid/test node ids used |
//! | `model.bpk` | GCN/GAT/GraphSAGE weights (burnpack) |
//! | `classifier.json` | DeepWalk/node2vec: the logistic regression fitted on the embeddings |
//! | `embeddings.txt` | word2vec text format: a `num_nodes dim` line, then `node v_1 … v_d` per node (GCN/GAT/GraphSAGE: the hidden layer) |
//! | `embedding.png` | the embeddings' 2-D PCA projection coloured by class |
//! | `curves.png` | GCN/GAT/GraphSAGE: loss and accuracy per epoch |
//!
//! The folder is written as `<run_dir>.partial` and renamed when complete, so a run folder
//! that exists is always whole; an existing `run_dir` is never overwritten.

mod spec;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use deepzero_core::metrics::ConfusionMatrix;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::{read_json, write_atomic, write_json_atomic};
use deepzero_train::{EpochRecord, draw_curves};

use crate::data::{DatasetName, NodeDataset, Split, load_dataset};
use crate::error::{GraphError, Result};
use crate::eval::{
    ClassificationScores, LinkSplit, LogisticRegression, classify_embeddings, pca_2d,
};
use crate::gat::{Gat, GatConfig};
use crate::gcn::{Gcn, GcnConfig};
use crate::node_train::{
    EdgeKind, NodeEpoch, NodeModel, NodeRunSummary, NodeTensors, NodeTrainConfig,
    train_node_classifier,
};
use crate::plot::draw_embedding;
use crate::sage::{Sage, SageConfig, SageData, SageTrainConfig, train_sage};
use crate::skipgram::{Embeddings, SkipGramConfig, SkipGramEpoch, train_skipgram};
use crate::sparse::{MessageEdges, NodeInput};
use crate::walk::{WalkConfig, random_walks};

pub use spec::{
    EmbeddingEval, GatSpec, GcnSpec, GraphTaskSpec, Method, RECIPES, SPEC_VERSION, SageSpec,
    recipe_description, recipes,
};

/// What `run.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The task.
    pub spec: GraphTaskSpec,
    /// The data folder the run was trained from (used by [`Predictor::load`] when it is not
    /// given another).
    pub data_dir: PathBuf,
    /// Nodes of the graph.
    pub num_nodes: usize,
    /// Undirected edges after cleaning.
    pub num_edges: usize,
    /// Feature width the model reads (one-hot ids for graphs without features).
    pub feature_dim: usize,
    /// Class names, in label order.
    pub class_names: Vec<String>,
}

/// What `metrics.json` holds: one run's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphReport {
    /// [`SPEC_VERSION`].
    pub version: u32,
    /// The run's name (recipe).
    pub name: String,
    /// The dataset.
    pub dataset: DatasetName,
    /// `gcn`, `gat`, `sage`, `deepwalk` or `node2vec`.
    pub method: String,
    /// The seed.
    pub seed: u64,
    /// Node classification on the test nodes.
    pub test: ClassificationScores,
    /// DeepWalk/node2vec on a graph with isolated nodes (polblogs has 266 of 1 490): the
    /// same classifier scored on the test nodes that have at least one edge. An isolated
    /// node appears in no walk's context, so its vector stays at its random start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_connected: Option<ClassificationScores>,
    /// Accuracy on the validation nodes (GCN/GAT).
    pub valid_accuracy: Option<f64>,
    /// Link-prediction AUC on held-out edges (DeepWalk/node2vec, when asked for).
    pub link_auc: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// The epoch whose weights were kept (GCN/GAT).
    pub model_epoch: Option<usize>,
    /// Mean seconds of one optimiser step (GCN/GAT: one full-graph step; GraphSAGE: one sampled mini-batch, sampling included).
    pub mean_step_seconds: Option<f64>,
    /// Wall-clock seconds of the whole task.
    pub seconds: f64,
    /// GCN/GAT: every epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_history: Vec<NodeEpoch>,
    /// DeepWalk/node2vec: every skip-gram epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipgram_history: Vec<SkipGramEpoch>,
}

impl GraphReport {
    /// The report of the run `spec` describes with the test scores `test`: what every method
    /// records; the figures only some methods have (validation accuracy, link AUC, epochs,
    /// timings, history) are left empty for the method to fill.
    pub fn new(spec: &GraphTaskSpec, test: ClassificationScores) -> Self {
        Self {
            version: SPEC_VERSION,
            name: spec.name.clone(),
            dataset: spec.dataset,
            method: spec.method_name().to_string(),
            seed: spec.seed,
            test,
            test_connected: None,
            valid_accuracy: None,
            link_auc: None,
            epochs: 0,
            model_epoch: None,
            mean_step_seconds: None,
            seconds: 0.0,
            node_history: Vec::new(),
            skipgram_history: Vec::new(),
        }
    }
}

impl std::fmt::Display for GraphReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} on {}, seed {}): test accuracy {:.2} %, micro-F1 {:.4}, macro-F1 {:.4}",
            self.name,
            self.method,
            self.dataset,
            self.seed,
            100.0 * self.test.accuracy,
            self.test.micro_f1,
            self.test.macro_f1
        )?;
        if let Some(c) = &self.test_connected {
            write!(
                f,
                " ({:.2} % on the {} test nodes with edges)",
                100.0 * c.accuracy,
                c.support
            )?;
        }
        if let Some(v) = self.valid_accuracy {
            write!(f, ", valid {:.2} %", 100.0 * v)?;
        }
        if let Some(auc) = self.link_auc {
            write!(f, ", link AUC {auc:.4}")?;
        }
        write!(f, ", {} epochs, {:.1} s", self.epochs, self.seconds)
    }
}

/// Trains `spec` on the data in `data_dir` and writes the run folder `run_dir`; returns the
/// report also written as `metrics.json`. Silent; see [`train_with_log`] for progress lines.
///
/// # Errors
/// [`GraphError`] for bad data or settings, an existing `run_dir`, or a failed write.
pub fn train(
    spec: &GraphTaskSpec,
    data_dir: &Path,
    run_dir: &Path,
    device: &Device,
) -> Result<GraphReport> {
    train_with_log(spec, data_dir, run_dir, device, &mut |_| {})
}

/// The data folder of recipe `name`: `data_dir` when given, else the karate club shipped in
/// `datasets/karate` for the `karate-*` recipes; `None` for the others, which need one.
pub fn recipe_data_dir(name: &str, data_dir: Option<&Path>) -> Option<PathBuf> {
    match data_dir {
        Some(dir) => Some(dir.to_path_buf()),
        None => name
            .starts_with("karate")
            .then(crate::data::shipped_karate_dir),
    }
}

/// One call for a command line: the recipe `name` (see [`RECIPES`]) with `seed` and, if
/// given, another number of epochs, trained on `data_dir` into `run_dir`, progress lines to
/// `log`.
///
/// # Errors
/// As [`GraphTaskSpec::recipe`] and [`train`].
pub fn train_recipe(
    name: &str,
    data_dir: &Path,
    run_dir: &Path,
    seed: u64,
    epochs: Option<usize>,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<GraphReport> {
    let mut spec = GraphTaskSpec::recipe(name)?.with_seed(seed);
    if let Some(epochs) = epochs {
        spec = spec.with_epochs(epochs);
    }
    train_with_log(&spec, data_dir, run_dir, device, log)
}

/// [`train_recipe`] with the settings of a run: its seed, run folder, device and data folder
/// (the `karate-*` recipes read the shipped club without one); `epochs`, when given, replaces
/// the recipe's.
///
/// # Errors
/// As [`train_recipe`], and no data folder where one is needed, or no device.
pub fn train_run(
    name: &str,
    settings: &deepzero_train::RunSettings,
    epochs: Option<usize>,
    log: &mut dyn FnMut(&str),
) -> std::result::Result<GraphReport, deepzero_train::TaskError> {
    let data = match recipe_data_dir(name, settings.data_dir.as_deref()) {
        Some(dir) => dir,
        None => settings.require_data_dir()?.to_path_buf(),
    };
    let (seed, device) = (settings.seed(), settings.device()?);
    Ok(train_recipe(
        name,
        &data,
        &settings.out,
        seed,
        epochs,
        &device,
        log,
    )?)
}

/// [`evaluate`] of the run in `run_dir`, refusing a run of another recipe than `name`, with
/// the data folder (if any) and device of `settings`.
///
/// # Errors
/// As [`read_run_info_of`] and [`evaluate`], and no device.
pub fn evaluate_run(
    name: &str,
    run_dir: &Path,
    settings: &deepzero_train::RunSettings,
) -> std::result::Result<ClassificationScores, deepzero_train::TaskError> {
    read_run_info_of(run_dir, name)?;
    let data_dir = settings.data_dir.as_deref();
    Ok(evaluate(run_dir, data_dir, &settings.device()?)?)
}

/// [`train`], handing a few progress lines per run to `log`.
///
/// # Errors
/// As [`train`].
pub fn train_with_log(
    spec: &GraphTaskSpec,
    data_dir: &Path,
    run_dir: &Path,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<GraphReport> {
    spec.check()?;
    if run_dir.exists() {
        return Err(GraphError::invalid(format!(
            "run folder {} already exists: choose another or remove it",
            run_dir.display()
        )));
    }
    let dataset = load_dataset(spec.dataset, data_dir)?;
    let partial = partial_dir(run_dir);
    if partial.exists() {
        // Left by an interrupted run of ours; nothing else writes `*.partial`.
        std::fs::remove_dir_all(&partial).map_err(GraphError::io(&partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(GraphError::io(&partial))?;
    let data_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let start = Instant::now();
    let (mut report, feature_dim) = match &spec.method {
        Method::Gcn { .. } | Method::Gat { .. } | Method::Sage { .. } => {
            train_gnn(spec, &dataset, &partial, device, log)?
        }
        Method::Embedding {
            walks,
            skipgram,
            eval,
        } => (
            train_embedding(spec, &dataset, walks, skipgram, eval, &partial, device, log)?,
            0,
        ),
    };
    report.seconds = start.elapsed().as_secs_f64();
    let info = RunInfo {
        spec: spec.clone(),
        data_dir,
        num_nodes: dataset.num_nodes(),
        num_edges: dataset.graph.num_edges(),
        feature_dim,
        class_names: dataset.class_names.clone(),
    };
    write_json_atomic(&partial.join("run.json"), &info)?;
    write_json_atomic(&partial.join("metrics.json"), &report)?;
    if let Some(parent) = run_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(GraphError::io(parent))?;
    }
    std::fs::rename(&partial, run_dir).map_err(GraphError::io(run_dir))?;
    log(&report.to_string());
    Ok(report)
}

fn partial_dir(run_dir: &Path) -> PathBuf {
    let mut name = run_dir.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The split a task uses: the published one, or (graphs without one) a stratified split
/// seeded by the task's seed — 20 % / 20 % / 60 % for GCN/GAT, `train_fraction` / 0 / rest for
/// embeddings.
fn task_split(spec: &GraphTaskSpec, dataset: &NodeDataset) -> Result<Split> {
    if let Some(split) = &dataset.split {
        return Ok(split.clone());
    }
    if dataset.num_classes() == 0 {
        return Err(GraphError::invalid(format!(
            "{} has no node labels: nothing to classify",
            dataset.name
        )));
    }
    match &spec.method {
        Method::Embedding { eval, .. } => {
            Split::stratified(&dataset.labels, eval.train_fraction, 0.0, spec.seed)
        }
        _ => Split::stratified(&dataset.labels, 0.2, 0.2, spec.seed),
    }
}

fn build_gcn(model: &GcnSpec, d_input: usize, classes: usize, device: &Device) -> Gcn {
    GcnConfig::new(d_input, classes)
        .with_d_hidden(model.d_hidden)
        .with_dropout(model.dropout)
        .with_bias(model.bias)
        .init(device)
}

fn build_gat(model: &GatSpec, d_input: usize, classes: usize, device: &Device) -> Gat {
    GatConfig::new(d_input, classes)
        .with_d_hidden(model.d_hidden)
        .with_n_heads(model.n_heads)
        .with_n_output_heads(model.n_output_heads)
        .with_dropout(model.dropout)
        .with_attention_dropout(model.attention_dropout)
        .init(device)
}

fn build_sage(
    model: &SageSpec,
    d_input: usize,
    classes: usize,
    layers: usize,
    device: &Device,
) -> Sage {
    SageConfig::new(d_input, classes)
        .with_d_hidden(model.d_hidden)
        .with_num_layers(layers)
        .with_dropout(model.dropout)
        .with_normalize(model.normalize)
        .init(device)
}

fn gnn_inputs(
    spec: &GraphTaskSpec,
    dataset: &NodeDataset,
    split: &Split,
    device: &Device,
) -> Result<NodeTensors> {
    let features = dataset.features_or_identity().row_normalized();
    let kind = match spec.method {
        Method::Gat { .. } => EdgeKind::SelfLoops,
        Method::Sage { .. } => EdgeKind::NeighborMean,
        _ => EdgeKind::GcnNormalized,
    };
    NodeTensors::new(dataset, &features, split, kind, device)
}

fn train_gnn(
    spec: &GraphTaskSpec,
    dataset: &NodeDataset,
    dir: &Path,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<(GraphReport, usize)> {
    let split = task_split(spec, dataset)?;
    let data = gnn_inputs(spec, dataset, &split, device)?;
    let d_input = dataset
        .features
        .as_ref()
        .map_or(dataset.num_nodes(), |f| f.dim);
    let classes = dataset.num_classes();
    device.seed(spec.seed);
    let train_device = device.clone().autodiff();
    let mut every = |r: &NodeEpoch| {
        if r.epoch.is_multiple_of(50) {
            log(&format!(
                "epoch {}: train loss {:.4}, valid loss {:.4}, valid accuracy {:.2} %",
                r.epoch,
                r.train_loss,
                r.valid_loss,
                100.0 * r.valid_accuracy
            ));
        }
    };
    let (summary, history, test, hidden) = match &spec.method {
        Method::Gcn { model, train } => full_graph_run(
            build_gcn(model, d_input, classes, &train_device),
            Gcn::hidden,
            &data,
            train,
            &mut every,
            dir,
        )?,
        Method::Gat { model, train } => full_graph_run(
            build_gat(model, d_input, classes, &train_device),
            Gat::hidden,
            &data,
            train,
            &mut every,
            dir,
        )?,
        Method::Sage { model, train } => {
            let features = dataset.features_or_identity().row_normalized();
            let sage_data = SageData::new(dataset, &features, &split)?;
            let cfg = SageTrainConfig {
                seed: spec.seed,
                ..train.clone()
            };
            let m = build_sage(model, d_input, classes, cfg.fanouts.len(), &train_device);
            let out = train_sage(m, &sage_data, &cfg, device, |r| {
                if r.epoch.is_multiple_of(10) {
                    log(&format!(
                        "epoch {}: train loss {:.4}, valid loss {:.4}, valid accuracy {:.2} %, {:.0} sampled nodes per batch",
                        r.epoch,
                        r.train_loss,
                        r.valid_loss,
                        100.0 * r.valid_accuracy,
                        r.mean_batch_nodes
                    ));
                }
            })?;
            save_model(&out.model, &dir.join("model.bpk"))?;
            // Full-graph inference: what the sampled blocks give with unlimited fan-outs.
            let test = test_scores(&out.model, &data)?;
            let hidden = out.model.hidden(&data.x, &data.edges);
            let steps_per_epoch = split.train.len().div_ceil(cfg.batch_size).max(1) as f64;
            let history: Vec<NodeEpoch> = out
                .history
                .iter()
                .map(|r| NodeEpoch {
                    epoch: r.epoch,
                    train_loss: r.train_loss,
                    train_accuracy: r.train_accuracy,
                    valid_loss: r.valid_loss,
                    valid_accuracy: r.valid_accuracy,
                    step_seconds: r.seconds,
                })
                .collect();
            let epochs = history.len().max(1) as f64;
            let summary = NodeRunSummary {
                epochs: history.len(),
                model_epoch: out.model_epoch,
                valid_accuracy: out.valid_accuracy,
                test_accuracy: out.test_accuracy,
                seconds: out.seconds,
                mean_step_seconds: history.iter().map(|r| r.step_seconds).sum::<f64>()
                    / epochs
                    / steps_per_epoch,
            };
            (summary, history, test, hidden)
        }
        Method::Embedding { .. } => unreachable_embedding()?,
    };
    write_json_atomic(&dir.join("split.json"), &split)?;
    let embeddings = embeddings_of(hidden)?;
    write_embeddings_file(&dir.join("embeddings.txt"), &embeddings)?;
    draw_embedding(
        &dir.join("embedding.png"),
        &format!("{}: hidden layer, PCA", spec.name),
        &pca_2d(&embeddings),
        &dataset.labels,
        &dataset.class_names,
    )?;
    let n_train = split.train.len() as f64;
    let records: Vec<EpochRecord> = history
        .iter()
        .map(|r| EpochRecord {
            epoch: r.epoch,
            lr: match &spec.method {
                Method::Gcn { train, .. } | Method::Gat { train, .. } => train.learning_rate,
                Method::Sage { train, .. } => train.learning_rate,
                Method::Embedding { .. } => 0.0,
            },
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            valid_loss: Some(r.valid_loss).filter(|v| v.is_finite()),
            valid_accuracy: Some(r.valid_accuracy).filter(|v| v.is_finite()),
            train_seconds: r.step_seconds,
            samples_per_second: n_train / r.step_seconds.max(1e-9),
            valid_metrics: Vec::new(),
        })
        .collect();
    draw_curves(&dir.join("curves.png"), &spec.name, &records)?;
    let report = GraphReport {
        valid_accuracy: Some(summary.valid_accuracy),
        epochs: summary.epochs,
        model_epoch: Some(summary.model_epoch),
        mean_step_seconds: Some(summary.mean_step_seconds),
        node_history: history,
        ..GraphReport::new(spec, test)
    };
    Ok((report, d_input))
}

/// `Method::Embedding` never reaches the GNN path; an error instead of a panic all the same.
fn unreachable_embedding<T>() -> Result<T> {
    Err(GraphError::invalid("an embedding method has no GNN model"))
}

/// A full-graph run (GCN, GAT): trains, saves `model.bpk` into `dir`, scores the test nodes,
/// and gives back the first layer's output (`hidden`) for the embedding plot.
fn full_graph_run<M: NodeModel>(
    model: M,
    hidden: fn(&M, &NodeInput, &MessageEdges) -> Tensor<2>,
    data: &NodeTensors,
    train: &NodeTrainConfig,
    every: impl FnMut(&NodeEpoch),
    dir: &Path,
) -> Result<(
    NodeRunSummary,
    Vec<NodeEpoch>,
    ClassificationScores,
    Tensor<2>,
)> {
    let out = train_node_classifier(model, data, train, every)?;
    save_model(&out.model, &dir.join("model.bpk"))?;
    let test = test_scores(&out.model, data)?;
    let hidden = hidden(&out.model, &data.x, &data.edges);
    Ok((out.summary(), out.history, test, hidden))
}

/// Accuracy and F1 of a node classifier on the split's test nodes.
fn test_scores<M: NodeModel>(model: &M, data: &NodeTensors) -> Result<ClassificationScores> {
    let predicted = predict_classes(model, data)?;
    let labels = &data.host_labels;
    scores_of(data.num_classes, &data.split.test, |i| {
        (predicted[i].0, labels[i].unwrap_or(0))
    })
}

/// Accuracy and F1 over the nodes `test` of `classes` classes; `predicted_and_true(i)` is node
/// `i`'s predicted and true class (an unlabelled node counts as class 0).
fn scores_of(
    classes: usize,
    test: &[usize],
    predicted_and_true: impl Fn(usize) -> (usize, usize),
) -> Result<ClassificationScores> {
    let mut cm = ConfusionMatrix::new(classes);
    for &i in test {
        let (predicted, truth) = predicted_and_true(i);
        cm.add(predicted, truth)
            .map_err(|e| GraphError::invalid(e.to_string()))?;
    }
    Ok(ClassificationScores {
        accuracy: cm.accuracy(),
        micro_f1: cm.micro_f1(),
        macro_f1: cm.macro_f1(),
        support: test.len(),
    })
}

/// `(class, probability)` for every node.
fn predict_classes<M: NodeModel>(model: &M, data: &NodeTensors) -> Result<Vec<(usize, f64)>> {
    let probs = burn::tensor::activation::softmax(model.logits(&data.x, &data.edges), 1);
    let [_, c] = probs.dims();
    let values: Vec<f32> = probs
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
    Ok(values
        .chunks(c)
        .map(|row| {
            let best = crate::node_train::argmax(row);
            (best, f64::from(row[best]))
        })
        .collect())
}

fn embeddings_of(hidden: Tensor<2>) -> Result<Embeddings> {
    let [n, d] = hidden.dims();
    let values = hidden
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
    Ok(Embeddings {
        num_nodes: n,
        dim: d,
        values,
    })
}

#[allow(clippy::too_many_arguments)]
fn train_embedding(
    spec: &GraphTaskSpec,
    dataset: &NodeDataset,
    walks_cfg: &WalkConfig,
    sg: &SkipGramConfig,
    eval: &EmbeddingEval,
    dir: &Path,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<GraphReport> {
    let split = task_split(spec, dataset)?;
    let walks_cfg = WalkConfig {
        seed: spec.seed,
        ..walks_cfg.clone()
    };
    let sg = SkipGramConfig {
        seed: spec.seed,
        ..sg.clone()
    };
    let n = dataset.num_nodes();
    let t = Instant::now();
    let walks = random_walks(&dataset.graph, &walks_cfg)?;
    log(&format!(
        "{} walks in {:.1} s",
        walks.len(),
        t.elapsed().as_secs_f64()
    ));
    let mut on_epoch = |r: &SkipGramEpoch| {
        log(&format!(
            "skip-gram epoch {}: loss {:.4} over {} pairs, {:.1} s",
            r.epoch, r.loss, r.pairs, r.seconds
        ))
    };
    let (model, history) = train_skipgram(&walks, n, &sg, device, &mut on_epoch)?;
    let embeddings = model.embeddings()?;
    let test = classify_embeddings(&embeddings, &dataset.labels, dataset.num_classes(), &split)?;
    let test_connected = if dataset.graph.isolated_nodes().is_empty() {
        None
    } else {
        let connected = Split {
            test: split
                .test
                .iter()
                .copied()
                .filter(|&i| dataset.graph.degree(i) > 0)
                .collect(),
            ..split.clone()
        };
        Some(classify_embeddings(
            &embeddings,
            &dataset.labels,
            dataset.num_classes(),
            &connected,
        )?)
    };
    // The classifier is fitted again here to be saved (fit is deterministic: same numbers).
    let rows: Vec<&[f32]> = split.train.iter().map(|&i| embeddings.row(i)).collect();
    let y: Vec<usize> = split
        .train
        .iter()
        .map(|&i| dataset.labels[i].unwrap_or(0))
        .collect();
    let classifier =
        LogisticRegression::fit(&rows, &y, dataset.num_classes(), 1.0 / rows.len() as f64)?;
    write_json_atomic(&dir.join("classifier.json"), &classifier)?;
    write_json_atomic(&dir.join("split.json"), &split)?;
    write_embeddings_file(&dir.join("embeddings.txt"), &embeddings)?;
    draw_embedding(
        &dir.join("embedding.png"),
        &format!("{}: {} embedding, PCA", spec.name, spec.method_name()),
        &pca_2d(&embeddings),
        &dataset.labels,
        &dataset.class_names,
    )?;
    let link_auc = match eval.link_fraction {
        None => None,
        Some(fraction) => {
            let held = LinkSplit::new(&dataset.graph, fraction, spec.seed)?;
            let walks = random_walks(&held.train_graph, &walks_cfg)?;
            let (model, _) = train_skipgram(&walks, n, &sg, device, |_| {})?;
            let auc = held.auc(&model.embeddings()?);
            log(&format!(
                "link prediction: {} held-out edges, AUC {auc:.4}",
                held.positives.len()
            ));
            Some(auc)
        }
    };
    let steps: usize = history
        .iter()
        .map(|r| r.pairs.div_ceil(sg.batch_size))
        .sum();
    let seconds: f64 = history.iter().map(|r| r.seconds).sum();
    Ok(GraphReport {
        test_connected,
        link_auc,
        epochs: history.len(),
        mean_step_seconds: Some(seconds / steps.max(1) as f64),
        skipgram_history: history,
        ..GraphReport::new(spec, test)
    })
}

/// Where a front end writes the node vectors of a trained run (with the `clap` feature, the
/// arguments of `deepzero embed`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EmbedRequest {
    /// Recipe name (a graph recipe).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub run: PathBuf,
    /// Where to write the vectors (word2vec text format: `N d`, then `node v1 … vd` per node).
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: PathBuf,
}

impl EmbedRequest {
    /// Loads the run onto `device` ([`Predictor::load_recipe`]) and writes its node vectors
    /// to `out` ([`Predictor::write_embeddings`]).
    ///
    /// # Errors
    /// As [`Predictor::load_recipe`] and [`Predictor::write_embeddings`].
    pub fn write(&self, device: &Device) -> Result<()> {
        let predictor = Predictor::load_recipe(&self.run, &self.recipe, None, device)?;
        predictor.write_embeddings(&self.out)
    }
}

/// Writes embeddings in word2vec's text format: a `num_nodes dim` line, then one
/// `node v_1 … v_d` line per node (readable by gensim's `load_word2vec_format`).
///
/// # Errors
/// [`GraphError::Train`] if the file cannot be written.
pub fn write_embeddings_file(path: &Path, embeddings: &Embeddings) -> Result<()> {
    use std::fmt::Write;
    let mut text = format!("{} {}\n", embeddings.num_nodes, embeddings.dim);
    for i in 0..embeddings.num_nodes {
        let _ = write!(text, "{i}");
        for v in embeddings.row(i) {
            let _ = write!(text, " {v:.6}");
        }
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Reads a file written by [`write_embeddings_file`] (nodes must be `0..n` in order).
///
/// # Errors
/// [`GraphError::Parse`] naming the line of a malformed row.
pub fn read_embeddings_file(path: &Path) -> Result<Embeddings> {
    let text = std::fs::read_to_string(path).map_err(GraphError::io(path))?;
    let mut lines = text.lines();
    let header: Vec<usize> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [n, d] = header[..] else {
        return Err(GraphError::parse(
            path,
            1,
            "expected a `num_nodes dim` header",
        ));
    };
    let mut values = Vec::with_capacity(n * d);
    for (i, line) in lines.enumerate() {
        let mut f = line.split_whitespace();
        if f.next().and_then(|v| v.parse::<usize>().ok()) != Some(i) {
            return Err(GraphError::parse(
                path,
                i + 2,
                format!("expected node {i} first"),
            ));
        }
        let row: Vec<f32> = f.filter_map(|v| v.parse().ok()).collect();
        if row.len() != d {
            return Err(GraphError::parse(
                path,
                i + 2,
                format!("expected {d} numbers, found {}", row.len()),
            ));
        }
        values.extend(row);
    }
    if values.len() != n * d {
        return Err(GraphError::parse(path, 0, format!("expected {n} rows")));
    }
    Ok(Embeddings {
        num_nodes: n,
        dim: d,
        values,
    })
}

/// Reads `run.json` of a run folder, checking its version.
///
/// # Errors
/// [`GraphError`] if the file is missing, unreadable, or of another version.
pub fn read_run_info(run_dir: &Path) -> Result<RunInfo> {
    let path = run_dir.join("run.json");
    let info: RunInfo = read_json(&path)?;
    if info.spec.version != SPEC_VERSION {
        return Err(GraphError::invalid(format!(
            "{}: run folder version {} is not supported (this build reads version {SPEC_VERSION})",
            path.display(),
            info.spec.version
        )));
    }
    Ok(info)
}

/// [`read_run_info`], refusing a run folder that another recipe than `recipe` trained.
///
/// # Errors
/// As [`read_run_info`], and [`GraphError::Invalid`] naming both recipes.
pub fn read_run_info_of(run_dir: &Path, recipe: &str) -> Result<RunInfo> {
    let info = read_run_info(run_dir)?;
    if info.spec.name != recipe {
        return Err(GraphError::invalid(format!(
            "run {} was trained by recipe `{}`, not `{recipe}`",
            run_dir.display(),
            info.spec.name
        )));
    }
    Ok(info)
}

/// Node ids from text as a person types them (`"0"`, `"33"`).
///
/// # Errors
/// [`GraphError::Invalid`] naming the first text that is not a node id.
pub fn parse_node_ids(texts: &[String]) -> Result<Vec<usize>> {
    texts
        .iter()
        .map(|n| {
            n.trim()
                .parse()
                .map_err(|_| GraphError::invalid(format!("`{n}` is not a node id")))
        })
        .collect()
}

/// One node's predicted class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodePrediction {
    /// Node id.
    pub node: usize,
    /// Predicted class.
    pub class: usize,
    /// Its name.
    pub class_name: String,
    /// The model's probability of that class.
    pub probability: f64,
}

impl std::fmt::Display for NodePrediction {
    /// `node<TAB>class name<TAB>probability`, the probability to four decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\t{}\t{:.4}",
            self.node, self.class_name, self.probability
        )
    }
}

enum Inner {
    Gcn(Box<Gcn>, Box<NodeTensors>),
    Gat(Box<Gat>, Box<NodeTensors>),
    Sage(Box<Sage>, Box<NodeTensors>),
    Embedding(LogisticRegression),
}

/// A trained run, loaded for inference: node labels and embeddings.
pub struct Predictor {
    info: RunInfo,
    inner: Inner,
    embeddings: Embeddings,
    split: Split,
    labels: Option<Vec<Option<usize>>>,
}

impl Predictor {
    /// Loads the run folder `run_dir`. GCN/GAT runs read their graph and features again from
    /// `data_dir` (default: the folder recorded in `run.json`); DeepWalk/node2vec runs need
    /// the data only for [`Predictor::evaluate`].
    ///
    /// # Errors
    /// [`GraphError`] if a file is missing or of another version, or the data cannot be read.
    pub fn load(run_dir: &Path, data_dir: Option<&Path>, device: &Device) -> Result<Self> {
        let info = read_run_info(run_dir)?;
        let split: Split = read_json(&run_dir.join("split.json"))?;
        let embeddings = read_embeddings_file(&run_dir.join("embeddings.txt"))?;
        let data_dir = data_dir.map_or_else(|| info.data_dir.clone(), Path::to_path_buf);
        let spec = &info.spec;
        let (inner, labels) = match &spec.method {
            Method::Gcn { model, .. } => {
                let dataset = load_dataset(spec.dataset, &data_dir)?;
                let data = gnn_inputs(spec, &dataset, &split, device)?;
                let m = build_gcn(model, info.feature_dim, info.class_names.len(), device);
                let m = load_model(m, &run_dir.join("model.bpk"))?;
                (
                    Inner::Gcn(Box::new(m), Box::new(data)),
                    Some(dataset.labels),
                )
            }
            Method::Gat { model, .. } => {
                let dataset = load_dataset(spec.dataset, &data_dir)?;
                let data = gnn_inputs(spec, &dataset, &split, device)?;
                let m = build_gat(model, info.feature_dim, info.class_names.len(), device);
                let m = load_model(m, &run_dir.join("model.bpk"))?;
                (
                    Inner::Gat(Box::new(m), Box::new(data)),
                    Some(dataset.labels),
                )
            }
            Method::Sage { model, train } => {
                let dataset = load_dataset(spec.dataset, &data_dir)?;
                let data = gnn_inputs(spec, &dataset, &split, device)?;
                let m = build_sage(
                    model,
                    info.feature_dim,
                    info.class_names.len(),
                    train.fanouts.len(),
                    device,
                );
                let m = load_model(m, &run_dir.join("model.bpk"))?;
                (
                    Inner::Sage(Box::new(m), Box::new(data)),
                    Some(dataset.labels),
                )
            }
            Method::Embedding { .. } => {
                let classifier: LogisticRegression = read_json(&run_dir.join("classifier.json"))?;
                let labels = load_dataset(spec.dataset, &data_dir).ok().map(|d| d.labels);
                (Inner::Embedding(classifier), labels)
            }
        };
        Ok(Self {
            info,
            inner,
            embeddings,
            split,
            labels,
        })
    }

    /// The run's `run.json`.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The predicted class of every node.
    ///
    /// # Errors
    /// [`GraphError::Tensor`] if the model's output cannot be read back.
    pub fn predict(&self) -> Result<Vec<NodePrediction>> {
        let classes: Vec<(usize, f64)> = match &self.inner {
            Inner::Gcn(m, data) => predict_classes(m.as_ref(), data)?,
            Inner::Gat(m, data) => predict_classes(m.as_ref(), data)?,
            Inner::Sage(m, data) => predict_classes(m.as_ref(), data)?,
            Inner::Embedding(lr) => (0..self.embeddings.num_nodes)
                .map(|i| {
                    let p = lr.probabilities(self.embeddings.row(i));
                    let c = (0..p.len()).fold(0, |b, c| if p[c] > p[b] { c } else { b });
                    (c, p[c])
                })
                .collect(),
        };
        Ok(classes
            .into_iter()
            .enumerate()
            .map(|(node, (class, probability))| NodePrediction {
                node,
                class,
                class_name: self
                    .info
                    .class_names
                    .get(class)
                    .cloned()
                    .unwrap_or_default(),
                probability,
            })
            .collect())
    }

    /// [`Predictor::load`] of a run that recipe `recipe` trained ([`read_run_info_of`]).
    ///
    /// # Errors
    /// A run of another recipe, and as [`Predictor::load`].
    pub fn load_recipe(
        run_dir: &Path,
        recipe: &str,
        data_dir: Option<&Path>,
        device: &Device,
    ) -> Result<Self> {
        read_run_info_of(run_dir, recipe)?;
        Self::load(run_dir, data_dir, device)
    }

    /// [`Predictor::predict`] for the nodes in `nodes` only (every node when it is empty), in
    /// node order.
    ///
    /// # Errors
    /// As [`Predictor::predict`].
    pub fn predict_nodes(&self, nodes: &[usize]) -> Result<Vec<NodePrediction>> {
        let mut predictions = self.predict()?;
        if !nodes.is_empty() {
            predictions.retain(|p| nodes.contains(&p.node));
        }
        Ok(predictions)
    }

    /// The node embeddings of the run (GCN/GAT: the hidden layer).
    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// Writes the embeddings as `node id, vector` lines (word2vec text format).
    ///
    /// # Errors
    /// [`GraphError::Train`] if the file cannot be written.
    pub fn write_embeddings(&self, path: &Path) -> Result<()> {
        write_embeddings_file(path, &self.embeddings)
    }

    /// Scores the predictions on the run's test nodes.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] when the labels could not be loaded (an embedding run whose
    /// data folder is gone).
    pub fn evaluate(&self) -> Result<ClassificationScores> {
        let labels = self.labels.as_ref().ok_or_else(|| {
            GraphError::invalid(
                "the run's dataset could not be read: no labels to evaluate against",
            )
        })?;
        let predicted = self.predict()?;
        scores_of(self.info.class_names.len(), &self.split.test, |i| {
            (predicted[i].class, labels[i].unwrap_or(0))
        })
    }
}

/// Loads the run folder and scores it on its test nodes again (see [`Predictor::evaluate`]).
///
/// # Errors
/// As [`Predictor::load`] and [`Predictor::evaluate`].
pub fn evaluate(
    run_dir: &Path,
    data_dir: Option<&Path>,
    device: &Device,
) -> Result<ClassificationScores> {
    Predictor::load(run_dir, data_dir, device)?.evaluate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_parse_or_name_the_bad_one() {
        let texts = ["0".to_string(), " 33".to_string()];
        assert_eq!(parse_node_ids(&texts).unwrap(), [0, 33]);
        let bad = ["1".to_string(), "x".to_string()];
        assert_eq!(
            parse_node_ids(&bad).unwrap_err().to_string(),
            "`x` is not a node id"
        );
    }
    use crate::data::shipped_karate_dir;

    #[test]
    fn karate_node2vec_run_folder_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut spec = GraphTaskSpec::recipe("karate-node2vec")
            .unwrap()
            .with_seed(1);
        if let Method::Embedding {
            walks, skipgram, ..
        } = &mut spec.method
        {
            walks.walk_length = 20;
            walks.walks_per_node = 5;
            skipgram.dim = 16;
            skipgram.window = 4;
            skipgram.epochs = 2;
        }
        let device = Device::flex();
        let mut lines = Vec::new();
        let report = train_with_log(&spec, &shipped_karate_dir(), &run, &device, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert!(!lines.is_empty());
        for f in [
            "run.json",
            "metrics.json",
            "split.json",
            "classifier.json",
            "embeddings.txt",
            "embedding.png",
        ] {
            assert!(run.join(f).exists(), "{f}");
        }
        assert!(!partial_dir(&run).exists());
        assert_eq!(report.skipgram_history.len(), 2);
        assert!(report.link_auc.is_some());
        let back: GraphReport = read_json(&run.join("metrics.json")).unwrap();
        assert_eq!(back.test, report.test);

        let predictor = Predictor::load(&run, None, &device).unwrap();
        assert_eq!(predictor.predict().unwrap().len(), 34);
        let some = predictor.predict_nodes(&[33, 0]).unwrap();
        assert_eq!(some.iter().map(|p| p.node).collect::<Vec<_>>(), [0, 33]);
        let line = some[1].to_string();
        assert!(
            line.starts_with("33\t") && line.split('\t').count() == 3,
            "{line}"
        );
        assert_eq!(predictor.evaluate().unwrap(), report.test);
        assert!(read_run_info_of(&run, "karate-node2vec").is_ok());
        let err = read_run_info_of(&run, "karate-gcn")
            .unwrap_err()
            .to_string();
        assert!(err.contains("trained by recipe `karate-node2vec`"), "{err}");
        assert!(Predictor::load_recipe(&run, "karate-gcn", None, &device).is_err());
        let again = Predictor::load_recipe(&run, "karate-node2vec", None, &device).unwrap();
        assert_eq!(again.evaluate().unwrap(), report.test);
        let out = dir.path().join("k.vec");
        predictor.write_embeddings(&out).unwrap();
        let e = read_embeddings_file(&out).unwrap();
        assert_eq!((e.num_nodes, e.dim), (34, 16));
        // An existing run folder is never overwritten.
        let err = train(&spec, &shipped_karate_dir(), &run, &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn karate_recipes_default_to_the_shipped_club() {
        let given = Path::new("elsewhere");
        assert_eq!(recipe_data_dir("cora-gcn", Some(given)).unwrap(), given);
        assert_eq!(recipe_data_dir("cora-gcn", None), None);
        let karate = recipe_data_dir("karate-gcn", None).unwrap();
        assert_eq!(karate, shipped_karate_dir());
    }

    #[test]
    fn karate_gcn_run_folder_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("gcn");
        let spec = GraphTaskSpec::recipe("karate-gcn").unwrap().with_epochs(30);
        let device = Device::flex();
        let report = train(&spec, &shipped_karate_dir(), &run, &device).unwrap();
        for f in ["model.bpk", "curves.png", "embedding.png", "embeddings.txt"] {
            assert!(run.join(f).exists(), "{f}");
        }
        let predictor = Predictor::load(&run, None, &device).unwrap();
        assert_eq!(predictor.evaluate().unwrap(), report.test);
        assert_eq!(predictor.embeddings().dim, 16);
        let info = read_run_info(&run).unwrap();
        assert_eq!(
            (info.num_nodes, info.num_edges, info.feature_dim),
            (34, 78, 34)
        );
    }

    #[test]
    fn sage_run_folder_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("sage");
        let spec = GraphTaskSpec::sage(DatasetName::Karate)
            .with_seed(2)
            .with_epochs(5);
        let device = Device::flex();
        let report = train(&spec, &shipped_karate_dir(), &run, &device).unwrap();
        assert_eq!(report.method, "sage");
        assert_eq!(report.node_history.len(), 5);
        for f in ["model.bpk", "curves.png", "embedding.png", "embeddings.txt"] {
            assert!(run.join(f).exists(), "{f}");
        }
        let back: GraphReport = read_json(&run.join("metrics.json")).unwrap();
        assert_eq!(back.test, report.test);
        let predictor = Predictor::load(&run, None, &device).unwrap();
        assert_eq!(predictor.predict().unwrap().len(), 34);
        // The loaded weights score as the trained ones.
        assert_eq!(predictor.evaluate().unwrap(), report.test);
        assert_eq!(predictor.embeddings().dim, 64);
    }

    #[test]
    fn other_versions_and_missing_runs_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_run_info(dir.path()).unwrap_err().to_string();
        assert!(err.contains("run.json") && !err.contains('\n'), "{err}");
        let mut info = RunInfo {
            spec: GraphTaskSpec::gcn(DatasetName::Karate),
            data_dir: PathBuf::from("x"),
            num_nodes: 1,
            num_edges: 0,
            feature_dim: 1,
            class_names: vec![],
        };
        info.spec.version = 7;
        write_json_atomic(&dir.path().join("run.json"), &info).unwrap();
        let err = read_run_info(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 7"), "{err}");
        let err = train(
            &GraphTaskSpec::gcn(DatasetName::Cora),
            dir.path(),
            &dir.path().join("r"),
            &Device::flex(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cora.cites"), "{err}");
    }
}
