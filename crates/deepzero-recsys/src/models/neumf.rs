//! Neural collaborative filtering (He et al. 2017, "Neural Collaborative Filtering"), on burn
//! tensors with autodiff: GMF, MLP and their fusion NeuMF, trained on implicit feedback with
//! sampled negatives and the log loss.
//!
//! - GMF: `φ = p_u ⊙ q_i` (an element-wise product *is* right here: it is a learned
//!   weighting of the dot product, `ŷ = σ(hᵀ(p_u ⊙ q_i))`, which reduces to MF when `h = 1`);
//! - MLP: `φ = ReLU(… ReLU(W₁ [p'_u ; q'_i] + b₁) …)` with a tower such as 64 → 32 → 16 → 8
//!   (the first width is the concatenated embedding: 32 per side);
//! - NeuMF: `ŷ = σ(hᵀ [φ_GMF ; φ_MLP])`, separate embeddings per branch.
//!
//! Training (NCF §4.1): every training interaction is a positive, each with `negatives`
//! (4) items the user did not interact with, drawn afresh every epoch; binary cross-entropy
//! on the logits; Adam, batch 256, embeddings `N(0, 0.01)`. With `pretrain`, NeuMF first
//! trains GMF and MLP alone and starts from their weights, the output layer being
//! `h = [α h_GMF ; (1 − α) h_MLP]` (α = 0.5), then fine-tunes (the paper with plain SGD;
//! here the optimiser is a setting).

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Recommender;
use crate::data::{Csr, Interactions, NegativeSampler};
use crate::error::{RecsysError, Result};

/// Which network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NeuMfKind {
    /// Generalised matrix factorisation alone.
    Gmf,
    /// The MLP tower alone.
    Mlp,
    /// Both, fused before the output layer.
    NeuMf,
}

/// The optimiser of a training stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NcfOptimizer {
    /// Adam (ε = 1e-8, as Keras and PyTorch).
    Adam,
    /// Plain SGD.
    Sgd,
}

/// Settings of [`NeuMf`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuMfConfig {
    /// GMF, MLP or NeuMF.
    pub kind: NeuMfKind,
    /// GMF embedding width (the paper's "predictive factors").
    pub factors: usize,
    /// MLP widths; `mlp_layers[0]` is the concatenated embedding (half per side), the last the
    /// MLP's output.
    pub mlp_layers: Vec<usize>,
    /// Sampled negatives per positive.
    pub negatives: usize,
    /// Training epochs (of the final model; pre-training uses the same number).
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Learning rate (Adam) of GMF/MLP and of NeuMF without pre-training.
    pub lr: f64,
    /// Pre-train GMF and MLP and start NeuMF from them.
    pub pretrain: bool,
    /// The optimiser of the fine-tuning stage after pre-training.
    pub finetune_optimizer: NcfOptimizer,
    /// Its learning rate.
    pub finetune_lr: f64,
    /// Its epochs (`None`: `epochs`; 0 keeps the fused pre-trained networks as they are).
    #[serde(default)]
    pub finetune_epochs: Option<usize>,
    /// Weight of the GMF half of the pre-trained output layer.
    pub alpha: f32,
    /// L2 penalty on the embeddings looked up in each batch (`l2 · mean_b ‖e_b‖²`).
    #[serde(default)]
    pub l2: f32,
    /// Seed of the initial weights and the negative samples.
    pub seed: u64,
}

impl Default for NeuMfConfig {
    fn default() -> Self {
        Self {
            kind: NeuMfKind::NeuMf,
            factors: 8,
            mlp_layers: vec![64, 32, 16, 8],
            negatives: 4,
            epochs: 20,
            batch_size: 256,
            lr: 0.001,
            pretrain: true,
            finetune_optimizer: NcfOptimizer::Sgd,
            finetune_lr: 0.001,
            finetune_epochs: None,
            alpha: 0.5,
            l2: 0.0,
            seed: 0,
        }
    }
}

/// The network: optional GMF and MLP branches and a linear output to one logit.
#[derive(Module, Debug)]
pub struct NcfNet {
    /// GMF user embeddings `[n_users, factors]`.
    pub gmf_user: Option<Embedding>,
    /// GMF item embeddings `[n_items, factors]`.
    pub gmf_item: Option<Embedding>,
    /// MLP user embeddings `[n_users, mlp_layers[0] / 2]`.
    pub mlp_user: Option<Embedding>,
    /// MLP item embeddings `[n_items, mlp_layers[0] / 2]`.
    pub mlp_item: Option<Embedding>,
    /// The MLP tower.
    pub mlp: Vec<Linear>,
    /// `[d_features, 1]` output layer.
    pub out: Linear,
}

fn embedding(n: usize, d: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.01,
        })
        .init(device)
}

fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device)
}

impl NeuMfConfig {
    fn check(&self) -> Result<()> {
        let bad = self.factors == 0
            || self.batch_size == 0
            || (self.kind != NeuMfKind::Gmf
                && (self.mlp_layers.len() < 2
                    || !self.mlp_layers[0].is_multiple_of(2)
                    || self.mlp_layers.contains(&0)));
        if bad {
            return Err(RecsysError::InvalidArgument(format!(
                "NCF needs factors ≥ 1, batch size ≥ 1 and an MLP of at least two widths with an even first one (got factors {}, batch {}, layers {:?})",
                self.factors, self.batch_size, self.mlp_layers
            )));
        }
        Ok(())
    }

    /// Builds a freshly initialised network for `n_users × n_items`.
    pub fn init(&self, n_users: usize, n_items: usize, device: &Device) -> NcfNet {
        let gmf = self.kind != NeuMfKind::Mlp;
        let mlp = self.kind != NeuMfKind::Gmf;
        let half = self.mlp_layers.first().copied().unwrap_or(0) / 2;
        let d_out = if gmf { self.factors } else { 0 }
            + if mlp {
                self.mlp_layers.last().copied().unwrap_or(0)
            } else {
                0
            };
        NcfNet {
            gmf_user: gmf.then(|| embedding(n_users, self.factors, device)),
            gmf_item: gmf.then(|| embedding(n_items, self.factors, device)),
            mlp_user: mlp.then(|| embedding(n_users, half, device)),
            mlp_item: mlp.then(|| embedding(n_items, half, device)),
            mlp: if mlp {
                self.mlp_layers
                    .windows(2)
                    .map(|w| linear(w[0], w[1], device))
                    .collect()
            } else {
                Vec::new()
            },
            out: linear(d_out, 1, device),
        }
    }
}

impl NcfNet {
    /// Logits of `(user, item)` pairs.
    ///
    /// # Shapes
    /// - `users`, `items`: `[B]`
    /// - output: `[B]`
    pub fn forward(&self, users: Tensor<1, Int>, items: Tensor<1, Int>) -> Tensor<1> {
        self.forward_with_norm(users, items).0
    }

    /// Logits and the batch mean of the squared norm of the embeddings looked up (an L2
    /// penalty that touches only the rows in the batch).
    ///
    /// # Shapes
    /// - `users`, `items`: `[B]`
    /// - output: `([B], [1])`
    pub fn forward_with_norm(
        &self,
        users: Tensor<1, Int>,
        items: Tensor<1, Int>,
    ) -> (Tensor<1>, Tensor<1>) {
        let mut features = Vec::new();
        let mut looked_up = Vec::new();
        if let (Some(pu), Some(qi)) = (&self.gmf_user, &self.gmf_item) {
            let p = pu.weight.val().select(0, users.clone());
            let q = qi.weight.val().select(0, items.clone());
            looked_up.extend([p.clone(), q.clone()]);
            features.push(p * q); // [B, f] ⊙ [B, f]
        }
        if let (Some(pu), Some(qi)) = (&self.mlp_user, &self.mlp_item) {
            let p = pu.weight.val().select(0, users);
            let q = qi.weight.val().select(0, items);
            looked_up.extend([p.clone(), q.clone()]);
            // [B, d/2] ; [B, d/2] → [B, d] → tower → [B, last]
            let mut h = Tensor::cat(vec![p, q], 1);
            for layer in &self.mlp {
                h = relu(layer.forward(h));
            }
            features.push(h);
        }
        let x = Tensor::cat(features, 1); // [B, d_features]
        let [b, _] = x.dims();
        let norm = Tensor::cat(looked_up, 1).powi_scalar(2).sum_dim(1).mean(); // [1]
        (self.out.forward(x).reshape([b]), norm)
    }
}

/// `mean(softplus(z) − y z)`: binary cross-entropy on logits, written stably as
/// `max(z, 0) − y z + ln(1 + e^{−|z|})`.
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let stable = (logits.clone().abs().neg().exp() + 1.0).log();
    (relu(logits.clone()) - logits * labels + stable).mean()
}

/// A GMF, MLP or NeuMF recommender.
#[derive(Debug)]
pub struct NeuMf {
    /// Settings.
    pub config: NeuMfConfig,
    device: Device,
    net: Option<NcfNet>,
    seen: Csr,
    /// Mean training loss of each epoch of the last stage.
    pub losses: Vec<f64>,
}

impl NeuMf {
    /// An unfitted model that will train and score on `device` (a plain device: training
    /// takes its autodiff form).
    pub fn new(config: NeuMfConfig, device: Device) -> NeuMf {
        NeuMf {
            config,
            device,
            net: None,
            seen: Csr::default(),
            losses: Vec::new(),
        }
    }

    /// The trained network, if fitted.
    pub fn net(&self) -> Option<&NcfNet> {
        self.net.as_ref()
    }

    /// A fitted model from a network built elsewhere (e.g. [`fuse_pretrained`] of two fitted
    /// branches) and the training matrix it was fitted on.
    pub fn from_net(config: NeuMfConfig, net: NcfNet, seen: Csr, device: Device) -> NeuMf {
        NeuMf {
            config,
            device,
            net: Some(net),
            seen,
            losses: Vec::new(),
        }
    }

    /// Saves the weights as a burnpack record.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| RecsysError::InvalidArgument("NeuMF is not fitted".into()))?;
        deepzero_train::checkpoint::save_model(net, path)?;
        Ok(())
    }

    /// Rebuilds a fitted model from saved weights and the training matrix.
    pub fn load(
        config: NeuMfConfig,
        seen: Csr,
        path: &std::path::Path,
        device: Device,
    ) -> Result<NeuMf> {
        config.check()?;
        let net = config.init(seen.n_rows, seen.n_cols, &device);
        let net = deepzero_train::checkpoint::load_model(net, path)?;
        Ok(NeuMf {
            config,
            device,
            net: Some(net),
            seen,
            losses: Vec::new(),
        })
    }

    /// Trains `net` (on the autodiff device) for `epochs`; returns it and the epoch losses.
    fn train_stage(
        &self,
        mut net: NcfNet,
        train: &Interactions,
        optimizer: NcfOptimizer,
        lr: f64,
        seed: u64,
        epochs: usize,
    ) -> (NcfNet, Vec<f64>) {
        let cfg = &self.config;
        let device = self.device.clone().autodiff();
        let sampler = NegativeSampler::new(train);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut optim = match optimizer {
            NcfOptimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
            NcfOptimizer::Sgd => SgdConfig::new().init(),
        };
        let mut losses = Vec::new();
        for _ in 0..epochs {
            // (user, item, label) instances: each positive and `negatives` fresh negatives.
            let mut inst: Vec<(i32, i32, f32)> =
                Vec::with_capacity(train.len() * (1 + cfg.negatives));
            for x in &train.data {
                inst.push((x.user as i32, x.item as i32, 1.0));
                for _ in 0..cfg.negatives {
                    if let Some(j) = sampler.one(x.user as usize, &mut rng) {
                        inst.push((x.user as i32, j as i32, 0.0));
                    }
                }
            }
            inst.shuffle(&mut rng);
            let (mut sum, mut n) = (0.0, 0usize);
            for batch in inst.chunks(cfg.batch_size) {
                let b = batch.len();
                let users = Tensor::<1, Int>::from_data(
                    TensorData::new(batch.iter().map(|x| x.0).collect::<Vec<_>>(), [b]),
                    &device,
                );
                let items = Tensor::<1, Int>::from_data(
                    TensorData::new(batch.iter().map(|x| x.1).collect::<Vec<_>>(), [b]),
                    &device,
                );
                let labels = Tensor::<1>::from_data(
                    TensorData::new(batch.iter().map(|x| x.2).collect::<Vec<_>>(), [b]),
                    &device,
                );
                let (logits, norm) = net.forward_with_norm(users, items);
                let bce = bce_with_logits(logits, labels);
                let value: f32 = bce.clone().into_scalar();
                let loss = if cfg.l2 > 0.0 {
                    bce + norm * cfg.l2
                } else {
                    bce
                };
                sum += value as f64 * b as f64;
                n += b;
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(lr, net, grads);
            }
            losses.push(sum / n.max(1) as f64);
        }
        (net, losses)
    }
}

/// Joins pre-trained GMF and MLP networks into a NeuMF network with the output layer
/// `h = [α h_GMF ; (1 − α) h_MLP]` and bias `α b_GMF + (1 − α) b_MLP`.
pub fn fuse_pretrained(gmf: NcfNet, mlp: NcfNet, alpha: f32) -> NcfNet {
    let w = Tensor::cat(
        vec![
            gmf.out.weight.val() * alpha,
            mlp.out.weight.val() * (1.0 - alpha),
        ],
        0,
    );
    let bias = match (gmf.out.bias, mlp.out.bias) {
        (Some(a), Some(b)) => Some(Param::from_tensor(
            // A new leaf: the computed tensor must not stay in the old graph.
            (a.val() * alpha + b.val() * (1.0 - alpha)).detach(),
        )),
        _ => None,
    };
    NcfNet {
        gmf_user: gmf.gmf_user,
        gmf_item: gmf.gmf_item,
        mlp_user: mlp.mlp_user,
        mlp_item: mlp.mlp_item,
        mlp: mlp.mlp,
        out: Linear {
            weight: Param::from_tensor(w.detach()),
            bias,
        },
    }
}

impl Recommender for NeuMf {
    fn name(&self) -> String {
        match self.config.kind {
            NeuMfKind::Gmf => "gmf",
            NeuMfKind::Mlp => "mlp",
            NeuMfKind::NeuMf if self.config.pretrain => "neumf-pretrained",
            NeuMfKind::NeuMf => "neumf",
        }
        .into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        self.config.check()?;
        let cfg = self.config.clone();
        let ad = self.device.clone().autodiff();
        ad.seed(cfg.seed);
        let (n_u, n_i) = (train.n_users, train.n_items);
        let net = if cfg.kind == NeuMfKind::NeuMf && cfg.pretrain {
            let gmf_cfg = NeuMfConfig {
                kind: NeuMfKind::Gmf,
                ..cfg.clone()
            };
            let mlp_cfg = NeuMfConfig {
                kind: NeuMfKind::Mlp,
                ..cfg.clone()
            };
            let (gmf, _) = self.train_stage(
                gmf_cfg.init(n_u, n_i, &ad),
                train,
                NcfOptimizer::Adam,
                cfg.lr,
                cfg.seed + 1,
                cfg.epochs,
            );
            let (mlp, _) = self.train_stage(
                mlp_cfg.init(n_u, n_i, &ad),
                train,
                NcfOptimizer::Adam,
                cfg.lr,
                cfg.seed + 2,
                cfg.epochs,
            );
            let fused = fuse_pretrained(gmf, mlp, cfg.alpha);
            let (net, losses) = self.train_stage(
                fused,
                train,
                cfg.finetune_optimizer,
                cfg.finetune_lr,
                cfg.seed + 3,
                cfg.finetune_epochs.unwrap_or(cfg.epochs),
            );
            self.losses = losses;
            net
        } else {
            let (net, losses) = self.train_stage(
                cfg.init(n_u, n_i, &ad),
                train,
                NcfOptimizer::Adam,
                cfg.lr,
                cfg.seed,
                cfg.epochs,
            );
            self.losses = losses;
            net
        };
        self.net = Some(net.valid());
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        self.score_pairs(&[user as u32], &[item as u32])[0]
    }

    /// The logits `hᵀφ` (σ of one is the predicted probability), batched on the device; a
    /// pair with an index out of range scores `f32::MIN`. Ranking on logits, not on
    /// probabilities: in f32, σ rounds every logit above ~17 to exactly 1 and squeezes those
    /// above ~8 onto a few representable values, and the evaluation counts ties against the
    /// model.
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let Some(net) = &self.net else {
            return vec![0.0; users.len()];
        };
        let (n_u, n_i) = (self.seen.n_rows as u32, self.seen.n_cols as u32);
        let mut out = Vec::with_capacity(users.len());
        let pairs: Vec<(u32, u32)> = users.iter().copied().zip(items.iter().copied()).collect();
        for chunk in pairs.chunks(16_384) {
            let ok: Vec<bool> = chunk.iter().map(|&(u, i)| u < n_u && i < n_i).collect();
            let b = chunk.len();
            let us: Vec<i32> = chunk
                .iter()
                .zip(&ok)
                .map(|(p, &k)| if k { p.0 as i32 } else { 0 })
                .collect();
            let is: Vec<i32> = chunk
                .iter()
                .zip(&ok)
                .map(|(p, &k)| if k { p.1 as i32 } else { 0 })
                .collect();
            let logits = net.forward(
                Tensor::from_data(TensorData::new(us, [b]), &self.device),
                Tensor::from_data(TensorData::new(is, [b]), &self.device),
            );
            let logits: Vec<f32> = logits
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_else(|_| vec![f32::MIN; b]);
            out.extend(
                logits
                    .into_iter()
                    .zip(&ok)
                    .map(|(z, &k)| if k { z } else { f32::MIN }),
            );
        }
        out
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::leave_one_out;
    use crate::eval::{evaluate_sampled, sampled_candidates};
    use crate::models::Popularity;
    use crate::test_util::synthetic;

    #[test]
    fn shapes_and_parameter_counts() {
        let dev = Device::flex();
        let cfg = NeuMfConfig::default();
        let net = cfg.init(10, 20, &dev);
        // GMF 8 × (10 + 20); MLP 32 × (10 + 20); tower 64·32+32, 32·16+16, 16·8+8; out (8+8)+1.
        let want = 8 * 30 + 32 * 30 + (64 * 32 + 32) + (32 * 16 + 16) + (16 * 8 + 8) + 17;
        assert_eq!(net.num_params(), want);
        let y = net.forward(
            Tensor::from_data([0, 9, 3], &dev),
            Tensor::from_data([19, 0, 5], &dev),
        );
        assert_eq!(y.dims(), [3]);
        let gmf = NeuMfConfig {
            kind: NeuMfKind::Gmf,
            ..cfg.clone()
        }
        .init(10, 20, &dev);
        assert_eq!(gmf.num_params(), 8 * 30 + 9);
        assert!(
            NeuMfConfig {
                mlp_layers: vec![63, 8],
                ..cfg
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn bce_matches_the_definition() {
        let dev = Device::flex();
        let z = Tensor::<1>::from_data([2.0, -1.0, 0.5], &dev);
        let y = Tensor::<1>::from_data([1.0, 0.0, 0.0], &dev);
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let want = -((s(2.0)).ln() + (1.0 - s(-1.0)).ln() + (1.0 - s(0.5)).ln()) / 3.0;
        let got: f32 = bce_with_logits(z, y).into_scalar();
        assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn fused_network_starts_from_the_weighted_branches() {
        let dev = Device::flex();
        let cfg = NeuMfConfig::default();
        let gmf = NeuMfConfig {
            kind: NeuMfKind::Gmf,
            ..cfg.clone()
        }
        .init(4, 5, &dev);
        let mlp = NeuMfConfig {
            kind: NeuMfKind::Mlp,
            ..cfg.clone()
        }
        .init(4, 5, &dev);
        let (u, i) = (
            Tensor::<1, Int>::from_data([1, 3], &dev),
            Tensor::<1, Int>::from_data([4, 0], &dev),
        );
        let want =
            gmf.forward(u.clone(), i.clone()) * 0.3 + mlp.forward(u.clone(), i.clone()) * 0.7;
        let fused = fuse_pretrained(gmf, mlp, 0.3);
        let got = fused.forward(u, i);
        got.to_data().assert_approx_eq::<f32>(
            &want.to_data(),
            burn::tensor::Tolerance::rel_abs(1e-5, 1e-6),
        );
        // As a recommender (scores are the logits): the same numbers, by user and item index.
        let seen = Csr::from_triplets(4, 5, [(0u32, 0u32, 1.0f32)]);
        let m = NeuMf::from_net(cfg, fused, seen, dev);
        let want: Vec<f32> = want.into_data().try_to_vec::<f32>().unwrap();
        let scores = m.score_pairs(&[1, 3, 4], &[4, 0, 0]);
        assert!((scores[0] - want[0]).abs() < 1e-5 && (scores[1] - want[1]).abs() < 1e-5);
        assert_eq!(scores[2], f32::MIN); // user 4 is out of range
    }

    #[test]
    fn learns_to_rank_above_popularity_on_latent_factor_data() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cands = sampled_candidates(&loo.test, &data.ratings, 49, 1).unwrap();
        let mut pop = Popularity::new();
        pop.fit(&loo.train).unwrap();
        let cfg = NeuMfConfig {
            kind: NeuMfKind::Gmf,
            epochs: 8,
            batch_size: 128,
            lr: 0.01,
            ..Default::default()
        };
        let mut m = NeuMf::new(cfg, Device::flex());
        m.fit(&loo.train).unwrap();
        assert!(m.losses[7] < m.losses[0], "{:?}", m.losses);
        let (p, g) = (
            evaluate_sampled(&pop, &cands, 10),
            evaluate_sampled(&m, &cands, 10),
        );
        assert!(g.hr > p.hr, "gmf {g:?} vs popularity {p:?}");
        // Out-of-range indices score lowest instead of panicking.
        assert_eq!(m.score(10_000, 0), f32::MIN);
        // Scores are logits: σ(score) is the predicted probability, and ranking on the
        // logits keeps apart what σ in f32 would round to the same value.
        let z = m.score(0, 1);
        let net = m.net().unwrap();
        let dev = Device::flex();
        let direct: f32 = net
            .forward(Tensor::from_data([0], &dev), Tensor::from_data([1], &dev))
            .into_scalar();
        assert!((z - direct).abs() < 1e-6, "{z} vs {direct}");
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        assert_eq!(s(17.0f32), s(18.0f32));
    }
}
