//! Skip-gram with negative sampling (Mikolov et al. 2013) on burn, trained on random walks:
//! DeepWalk and node2vec are this model fed with their walks.
//!
//! For a centre node `c` and a context node `o` within `window` steps of it on a walk, and `K`
//! negatives `n_k` drawn from the unigram distribution of the walks raised to ¾,
//!
//! ```text
//! loss = −log σ(u_c · v_o) − Σ_k log σ(−u_c · v_{n_k})
//! ```
//!
//! with `u` the input ("embedding") table and `v` the output table. As in word2vec the window
//! is shrunk per centre to a uniform `b ∈ 1..=window`, so near neighbours count more, the input
//! table starts uniform in `±0.5/d` and the output table at zero. The embeddings are `u`.
//!
//! Training runs on minibatches of pairs, with either word2vec's plain SGD (the loss summed
//! over the batch, the rate decaying linearly to `10⁻⁴` of its start; only the rows a batch
//! touches move) or Adam on the batch mean (dense Adam keeps moving every row with its
//! momentum, touched or not).

use std::time::Instant;

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{GraphError, Result};
use crate::walk::AliasTable;

/// Configuration of a [`SkipGram`] model and its training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkipGramConfig {
    /// Embedding width `d` (DeepWalk and node2vec: 128).
    pub dim: usize,
    /// Context window on each side (DeepWalk and node2vec: 10).
    pub window: usize,
    /// Negatives per positive pair.
    pub negatives: usize,
    /// Passes over all pairs.
    pub epochs: usize,
    /// Pairs per optimiser step.
    pub batch_size: usize,
    /// The optimiser.
    #[serde(default)]
    pub optimizer: SkipGramOptimizer,
    /// Learning rate (SGD: the initial one).
    pub learning_rate: f64,
    /// Seed of the initialisation, pair order and negatives.
    pub seed: u64,
}

/// How skip-gram's tables are updated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkipGramOptimizer {
    /// word2vec's SGD on the summed loss, linear decay (lr 0.025 in word2vec). Suits graphs
    /// much larger than a batch; on a tiny graph a batch holds each node many times, the
    /// summed step is too large and the loss diverges (use Adam there).
    #[default]
    Sgd,
    /// Adam on the mean loss (lr about 0.01).
    Adam,
}

impl Default for SkipGramConfig {
    fn default() -> Self {
        Self {
            dim: 128,
            window: 10,
            negatives: 5,
            epochs: 1,
            batch_size: 1024,
            optimizer: SkipGramOptimizer::Sgd,
            learning_rate: 0.025,
            seed: 0,
        }
    }
}

impl SkipGramConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for a zero width, window, batch size or epoch count, or a
    /// learning rate that is not positive.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("embedding width", self.dim),
            ("window", self.window),
            ("batch size", self.batch_size),
            ("epochs", self.epochs),
        ] {
            if v == 0 {
                return Err(GraphError::invalid(format!(
                    "skip-gram {name} must be at least 1, got 0"
                )));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(GraphError::invalid(format!(
                "skip-gram learning rate must be positive, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }

    /// Builds the tables for `num_nodes` nodes.
    pub fn init(&self, num_nodes: usize, device: &Device) -> SkipGram {
        let bound = 0.5 / self.dim as f64;
        SkipGram {
            input: Param::from_tensor(Tensor::random(
                [num_nodes, self.dim],
                burn::tensor::Distribution::Uniform(-bound, bound),
                device,
            )),
            output: Param::from_tensor(Tensor::zeros([num_nodes, self.dim], device)),
        }
    }
}

/// The two embedding tables of skip-gram.
#[derive(Module, Debug)]
pub struct SkipGram {
    /// Input vectors `u` `[V, d]`: the node embeddings.
    pub input: Param<Tensor<2>>,
    /// Output (context) vectors `v` `[V, d]`.
    pub output: Param<Tensor<2>>,
}

impl SkipGram {
    /// Mean negative-sampling loss of a batch.
    ///
    /// # Shapes
    /// - centres, contexts: `[B]`; negatives: `[B·K]` (row-major `[B, K]`)
    /// - output: `[1]`
    pub fn loss(
        &self,
        centres: Tensor<1, Int>,
        contexts: Tensor<1, Int>,
        negatives: Tensor<1, Int>,
    ) -> Tensor<1> {
        let [b] = centres.dims();
        let k = negatives.dims()[0] / b.max(1);
        let d = self.input.dims()[1];
        let u = self.input.val().select(0, centres); // [B, d]
        let pos = (u.clone() * self.output.val().select(0, contexts)).sum_dim(1); // [B, 1]
        let neg_v = self.output.val().select(0, negatives).reshape([b, k, d]); // [B, K, d]
        let neg = (neg_v * u.unsqueeze_dim::<3>(1)).sum_dim(2).reshape([b, k]); // [B, K]
        let per_pair = log_sigmoid(pos).sum_dim(1) + log_sigmoid(neg.neg()).sum_dim(1); // [B, 1]
        per_pair.mean().neg()
    }

    /// The embeddings `u` as rows of host floats.
    ///
    /// # Errors
    /// [`GraphError::Tensor`] if the table cannot be read back.
    pub fn embeddings(&self) -> Result<Embeddings> {
        let [n, d] = self.input.dims();
        let values = self
            .input
            .val()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| GraphError::Tensor(format!("{e:?}")))?;
        Ok(Embeddings {
            num_nodes: n,
            dim: d,
            values,
        })
    }
}

/// Node vectors on the host, row-major `[num_nodes, dim]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embeddings {
    /// Number of nodes.
    pub num_nodes: usize,
    /// Width of each vector.
    pub dim: usize,
    /// `num_nodes × dim` values.
    pub values: Vec<f32>,
}

impl Embeddings {
    /// The vector of `node`.
    pub fn row(&self, node: usize) -> &[f32] {
        &self.values[node * self.dim..(node + 1) * self.dim]
    }
}

/// `(centre, context)` pairs of all walks with word2vec's shrunk windows.
///
/// # Errors
/// [`GraphError::Invalid`] for a window of 0.
pub fn context_pairs(walks: &[Vec<u32>], window: usize, seed: u64) -> Result<Vec<(u32, u32)>> {
    if window == 0 {
        return Err(GraphError::invalid(
            "context window must be at least 1, got 0",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pairs = Vec::new();
    for walk in walks {
        for (i, &c) in walk.iter().enumerate() {
            let b = rng.random_range(1..=window);
            let lo = i.saturating_sub(b);
            let hi = (i + b).min(walk.len() - 1);
            for (j, &o) in walk.iter().enumerate().take(hi + 1).skip(lo) {
                if j != i {
                    pairs.push((c, o));
                }
            }
        }
    }
    Ok(pairs)
}

/// What [`train_skipgram`] reports per epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkipGramEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean loss over the epoch's batches.
    pub loss: f64,
    /// Pairs trained on.
    pub pairs: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains skip-gram embeddings for `num_nodes` nodes from `walks` on `device` (the autodiff
/// version is used); returns the model in inference mode and the per-epoch losses.
///
/// # Errors
/// As [`SkipGramConfig::check`]; [`GraphError::Invalid`] if the walks name a node
/// `≥ num_nodes`, give no pair at all, or the loss becomes non-finite.
pub fn train_skipgram(
    walks: &[Vec<u32>],
    num_nodes: usize,
    cfg: &SkipGramConfig,
    device: &Device,
    mut on_epoch: impl FnMut(&SkipGramEpoch),
) -> Result<(SkipGram, Vec<SkipGramEpoch>)> {
    cfg.check()?;
    let mut counts = vec![0f64; num_nodes];
    for &v in walks.iter().flatten() {
        let slot = counts.get_mut(v as usize).ok_or_else(|| {
            GraphError::invalid(format!(
                "a walk visits node {v} but the graph has {num_nodes} nodes"
            ))
        })?;
        *slot += 1.0;
    }
    let noise = AliasTable::new(&counts.iter().map(|c| c.powf(0.75)).collect::<Vec<_>>());
    let mut pairs = context_pairs(walks, cfg.window, cfg.seed)?;
    if pairs.is_empty() {
        return Err(GraphError::invalid(
            "the walks give no (centre, context) pair: every walk has a single node",
        ));
    }
    let train_device = device.clone().autodiff();
    train_device.seed(cfg.seed);
    let mut model = cfg.init(num_nodes, &train_device);
    let mut optim = match cfg.optimizer {
        SkipGramOptimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        SkipGramOptimizer::Sgd => SgdConfig::new().init(),
    };
    let total_steps = (cfg.epochs * pairs.len().div_ceil(cfg.batch_size)) as f64;
    let mut step = 0usize;
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0x5EED);
    let ints = |v: Vec<i64>| {
        let len = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &train_device)
    };
    let mut history = Vec::new();
    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        pairs.shuffle(&mut rng);
        let (mut total, mut batches) = (0.0, 0usize);
        for chunk in pairs.chunks(cfg.batch_size) {
            let centres = chunk.iter().map(|p| i64::from(p.0)).collect();
            let contexts = chunk.iter().map(|p| i64::from(p.1)).collect();
            let negatives = (0..chunk.len() * cfg.negatives)
                .map(|_| noise.sample(&mut rng) as i64)
                .collect();
            let loss = model.loss(ints(centres), ints(contexts), ints(negatives));
            let value: f64 = loss.clone().into_scalar::<f64>();
            if !value.is_finite() {
                return Err(GraphError::invalid(format!(
                    "skip-gram loss is {value} at epoch {epoch}: training stopped (try a lower learning rate)"
                )));
            }
            total += value;
            batches += 1;
            let (loss, lr) = match cfg.optimizer {
                SkipGramOptimizer::Adam => (loss, cfg.learning_rate),
                SkipGramOptimizer::Sgd => {
                    let progress = step as f64 / total_steps;
                    let lr = cfg.learning_rate * (1.0 - progress).max(1e-4);
                    (loss * chunk.len() as f64, lr)
                }
            };
            step += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let record = SkipGramEpoch {
            epoch,
            loss: total / batches.max(1) as f64,
            pairs: pairs.len(),
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&record);
        history.push(record);
    }
    Ok((model.valid(), history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    #[test]
    fn loss_equals_the_formula() {
        let device = Device::flex();
        let model = SkipGram {
            input: Param::from_tensor(Tensor::from_data(
                [[0.1, 0.2], [0.3, -0.1], [0.0, 0.5]],
                &device,
            )),
            output: Param::from_tensor(Tensor::from_data(
                [[0.2, 0.1], [-0.4, 0.3], [0.6, 0.2]],
                &device,
            )),
        };
        let ints = |v: Vec<i64>| {
            Tensor::<1, Int>::from_data(TensorData::new(v.clone(), [v.len()]), &device)
        };
        let loss = model.loss(ints(vec![0, 2]), ints(vec![1, 0]), ints(vec![2, 1, 1, 1]));
        let u = [[0.1f64, 0.2], [0.3, -0.1], [0.0, 0.5]];
        let v = [[0.2f64, 0.1], [-0.4, 0.3], [0.6, 0.2]];
        let dot = |a: [f64; 2], b: [f64; 2]| a[0] * b[0] + a[1] * b[1];
        let ls = |x: f64| -(1.0 + (-x).exp()).ln();
        let want = -(ls(dot(u[0], v[1]))
            + ls(-dot(u[0], v[2]))
            + ls(-dot(u[0], v[1]))
            + ls(dot(u[2], v[0]))
            + ls(-dot(u[2], v[1]))
            + ls(-dot(u[2], v[1])))
            / 2.0;
        loss.to_data().assert_approx_eq::<f32>(
            &TensorData::from([want as f32]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
    }

    #[test]
    fn pairs_stay_within_the_window() {
        let walks = vec![vec![0u32, 1, 2, 3, 4, 5], vec![7]];
        let pairs = context_pairs(&walks, 2, 3).unwrap();
        let pos = |v: u32| walks[0].iter().position(|&x| x == v).unwrap() as i64;
        assert!(!pairs.is_empty());
        assert!(
            pairs
                .iter()
                .all(|&(c, o)| c != 7 && (pos(c) - pos(o)).abs() <= 2 && c != o)
        );
        assert!(context_pairs(&walks, 0, 3).is_err());
    }

    #[test]
    fn training_separates_two_cliques() {
        use crate::data::Graph;
        use crate::walk::{WalkConfig, random_walks};
        // Two 5-cliques joined by one edge: nodes of a clique should end up closer together.
        let mut edges = Vec::new();
        for base in [0, 5] {
            for i in 0..5 {
                for j in i + 1..5 {
                    edges.push((base + i, base + j));
                }
            }
        }
        edges.push((4, 5));
        let g = Graph::from_edges(10, &edges).unwrap();
        let walks = random_walks(&g, &WalkConfig::deepwalk(20, 20, 1)).unwrap();
        let cfg = SkipGramConfig {
            dim: 16,
            window: 3,
            epochs: 3,
            batch_size: 256,
            learning_rate: 0.02,
            ..SkipGramConfig::default()
        };
        let (model, history) = train_skipgram(&walks, 10, &cfg, &Device::flex(), |_| {}).unwrap();
        assert!(history[2].loss < history[0].loss);
        let e = model.embeddings().unwrap();
        let cos = |a: usize, b: usize| {
            let (x, y) = (e.row(a), e.row(b));
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (n(x) * n(y))
        };
        let within = (cos(0, 1) + cos(2, 3) + cos(6, 7) + cos(8, 9)) / 4.0;
        let across = (cos(0, 7) + cos(1, 8) + cos(2, 9) + cos(3, 6)) / 4.0;
        assert!(within > across + 0.2, "within {within}, across {across}");
    }
}
