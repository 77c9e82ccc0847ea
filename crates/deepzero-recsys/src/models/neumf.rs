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
//!
//! Knobs beyond the paper, all off by default: dropout in the MLP tower (`mlp_dropout`), a
//! per-epoch learning-rate decay (`lr_decay`), and fine-tuning epochs that train only the
//! fused output layer before everything (`finetune_output_epochs`).

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
    /// Training epochs of GMF or MLP alone, of NeuMF without pre-training, and of each
    /// pre-trained branch unless `gmf_epochs` / `mlp_epochs` say otherwise.
    pub epochs: usize,
    /// Pre-training epochs of NeuMF's GMF branch (`None`: `epochs`).
    #[serde(default)]
    pub gmf_epochs: Option<usize>,
    /// Pre-training epochs of NeuMF's MLP branch (`None`: `epochs`).
    #[serde(default)]
    pub mlp_epochs: Option<usize>,
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
    /// L2 penalty on the embeddings looked up in each batch (`l2 · mean_b ‖e_b‖²`); of the GMF
    /// branch only when `mlp_l2` is set.
    #[serde(default)]
    pub l2: f32,
    /// L2 penalty on the MLP branch's embeddings (`None`: `l2`).
    #[serde(default)]
    pub mlp_l2: Option<f32>,
    /// Dropout probability on the input of every MLP tower layer (the concatenated
    /// embeddings and each hidden activation, as RecBole's NeuMF), in every stage that trains
    /// the tower; 0 (the default) turns it off. Scoring never drops.
    #[serde(default)]
    pub mlp_dropout: f64,
    /// Learning-rate decay per epoch: epoch `e` (from 1) of every stage trains with
    /// `lr · lr_decay^(e − 1)`; 1 (the default) keeps the rate constant.
    #[serde(default = "no_decay")]
    pub lr_decay: f64,
    /// Fine-tuning epochs that update only the output layer `h` (and its bias), before the
    /// `finetune_epochs` that update everything; same optimiser and rate. 0 by default.
    #[serde(default)]
    pub finetune_output_epochs: usize,
    /// Seed of the initial weights and the negative samples.
    pub seed: u64,
}

fn no_decay() -> f64 {
    1.0
}

impl Default for NeuMfConfig {
    fn default() -> Self {
        Self {
            kind: NeuMfKind::NeuMf,
            factors: 8,
            mlp_layers: vec![64, 32, 16, 8],
            negatives: 4,
            epochs: 20,
            gmf_epochs: None,
            mlp_epochs: None,
            batch_size: 256,
            lr: 0.001,
            pretrain: true,
            finetune_optimizer: NcfOptimizer::Sgd,
            finetune_lr: 0.001,
            finetune_epochs: None,
            alpha: 0.5,
            l2: 0.0,
            mlp_l2: None,
            mlp_dropout: 0.0,
            lr_decay: 1.0,
            finetune_output_epochs: 0,
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

/// An embedding table initialised `N(0, 0.01)`, as NeuMF's (He et al. 2017); shared with the
/// content-aware NeuMF of `deepzero-multimodal`.
pub fn embedding(n: usize, d: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.01,
        })
        .init(device)
}

/// A linear layer with Xavier-uniform weights, as NeuMF's towers and output layer.
pub fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
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
        if !(0.0..1.0).contains(&self.mlp_dropout) {
            return Err(RecsysError::InvalidArgument(format!(
                "NCF MLP dropout must be in [0, 1) (got {})",
                self.mlp_dropout
            )));
        }
        if !(self.lr_decay.is_finite() && self.lr_decay > 0.0) {
            return Err(RecsysError::InvalidArgument(format!(
                "NCF learning-rate decay must be a positive number (got {})",
                self.lr_decay
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
        self.forward_with_norms(users, items).logits
    }

    /// Logits and, per branch, the batch mean of the squared norm of the embeddings looked
    /// up (an L2 penalty that touches only the rows in the batch).
    ///
    /// # Shapes
    /// - `users`, `items`: `[B]`
    /// - output: logits `[B]`, each norm `[1]`
    pub fn forward_with_norms(&self, users: Tensor<1, Int>, items: Tensor<1, Int>) -> NcfOutput {
        self.forward_dropout(users, items, 0.0)
    }

    /// [`NcfNet::forward_with_norms`] with inverted dropout of probability `dropout` on the
    /// input of every MLP tower layer: each value is zeroed with that probability and the
    /// rest scaled by `1 / (1 − dropout)`, so the expected input is unchanged and scoring
    /// (no dropout) needs no rescaling. Training only: 0 is the plain forward.
    ///
    /// # Shapes
    /// - `users`, `items`: `[B]`
    /// - output: logits `[B]`, each norm `[1]`
    pub fn forward_dropout(
        &self,
        users: Tensor<1, Int>,
        items: Tensor<1, Int>,
        dropout: f64,
    ) -> NcfOutput {
        let drop = |h: Tensor<2>| inverted_dropout(h, dropout);
        let squared_norm = |p: &Tensor<2>, q: &Tensor<2>| {
            Tensor::cat(vec![p.clone(), q.clone()], 1)
                .powi_scalar(2)
                .sum_dim(1)
                .mean()
        };
        let mut features = Vec::new();
        let (mut gmf_norm, mut mlp_norm) = (None, None);
        if let (Some(pu), Some(qi)) = (&self.gmf_user, &self.gmf_item) {
            let p = pu.weight.val().select(0, users.clone());
            let q = qi.weight.val().select(0, items.clone());
            gmf_norm = Some(squared_norm(&p, &q));
            features.push(p * q); // [B, f] ⊙ [B, f]
        }
        if let (Some(pu), Some(qi)) = (&self.mlp_user, &self.mlp_item) {
            let p = pu.weight.val().select(0, users);
            let q = qi.weight.val().select(0, items);
            mlp_norm = Some(squared_norm(&p, &q));
            // [B, d/2] ; [B, d/2] → [B, d] → tower → [B, last]
            let mut h = Tensor::cat(vec![p, q], 1);
            for layer in &self.mlp {
                h = relu(layer.forward(drop(h)));
            }
            features.push(h);
        }
        let x = Tensor::cat(features, 1); // [B, d_features]
        let [b, _] = x.dims();
        NcfOutput {
            logits: self.out.forward(x).reshape([b]),
            gmf_norm,
            mlp_norm,
        }
    }
}

/// Inverted dropout: each value zeroed with probability `p`, the others divided by `1 − p`
/// (burn's global generator draws the mask); `p = 0` returns `h` itself.
pub fn inverted_dropout<const D: usize>(h: Tensor<D>, p: f64) -> Tensor<D> {
    if p > 0.0 {
        let keep = 1.0 - p;
        let mask = h.random_like(burn::tensor::Distribution::Bernoulli(keep));
        h * mask / keep
    } else {
        h
    }
}

/// What [`NcfNet::forward_with_norms`] returns.
#[derive(Debug)]
pub struct NcfOutput {
    /// `[B]` logits.
    pub logits: Tensor<1>,
    /// `[1]`: batch mean of `‖p_u‖² + ‖q_i‖²` over the GMF embeddings looked up.
    pub gmf_norm: Option<Tensor<1>>,
    /// `[1]`: the same over the MLP embeddings.
    pub mlp_norm: Option<Tensor<1>>,
}

/// A training stage, as [`NeuMf::fit_observed`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NcfStage {
    /// GMF alone, or NeuMF's GMF branch in pre-training.
    Gmf,
    /// The MLP alone, or NeuMF's MLP branch in pre-training.
    Mlp,
    /// NeuMF: from scratch, or fine-tuning the fused branches (epoch 0 is the fused network
    /// before any fine-tuning).
    NeuMf,
}

/// One call of the training loop: which stage, how long, how.
struct StagePlan {
    stage: NcfStage,
    epochs: usize,
    /// The number the observer gets for the first epoch.
    first_epoch: usize,
    optimizer: NcfOptimizer,
    /// The rate of the first epoch (decayed by `lr_decay` after each).
    lr: f64,
    seed: u64,
    /// Step only the output layer.
    only_output: bool,
}

impl StagePlan {
    /// Every parameter by Adam, epochs numbered from 1.
    fn adam(stage: NcfStage, epochs: usize, lr: f64, seed: u64) -> StagePlan {
        StagePlan {
            stage,
            epochs,
            first_epoch: 1,
            optimizer: NcfOptimizer::Adam,
            lr,
            seed,
            only_output: false,
        }
    }
}

/// Called after each epoch with the stage, the epoch (from 1) and the network so far as a
/// fitted model (its scores are what the trained model's would be).
pub type EpochObserver<'a> = dyn FnMut(NcfStage, usize, &NeuMf) + 'a;

/// Saves a fitted network as a burnpack record at `path`; `None` (the model `name` is not
/// fitted yet) is an error.
pub fn save_fitted<M: Module>(net: Option<&M>, name: &str, path: &std::path::Path) -> Result<()> {
    let net = net.ok_or_else(|| RecsysError::InvalidArgument(format!("{name} is not fitted")))?;
    deepzero_train::checkpoint::save_model(net, path)?;
    Ok(())
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
        save_fitted(self.net.as_ref(), "NeuMF", path)
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

    /// Trains `net` (on the autodiff device) for `plan.epochs`; returns it and the epoch
    /// losses. `observe`, when given, sees the network after every epoch.
    fn train_stage(
        &self,
        mut net: NcfNet,
        train: &Interactions,
        plan: StagePlan,
        mut observe: Option<&mut EpochObserver>,
    ) -> (NcfNet, Vec<f64>) {
        let cfg = &self.config;
        let StagePlan {
            stage,
            epochs,
            first_epoch,
            optimizer,
            lr,
            seed,
            only_output,
        } = plan;
        let seen = observe.as_ref().map(|_| train.user_item());
        let device = self.device.clone().autodiff();
        let sampler = NegativeSampler::new(train);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut optim = match optimizer {
            NcfOptimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
            NcfOptimizer::Sgd => SgdConfig::new().init(),
        };
        let mut losses = Vec::new();
        for e in 0..epochs {
            let epoch = first_epoch + e;
            let lr = lr * cfg.lr_decay.powi(e as i32);
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
                let out = net.forward_dropout(users, items, cfg.mlp_dropout);
                let bce = bce_with_logits(out.logits, labels);
                let value: f32 = bce.clone().into_scalar();
                let mut loss = bce;
                for (norm, l2) in [
                    (out.gmf_norm, cfg.l2),
                    (out.mlp_norm, cfg.mlp_l2.unwrap_or(cfg.l2)),
                ] {
                    if let Some(norm) = norm.filter(|_| l2 > 0.0) {
                        loss = loss + norm * l2;
                    }
                }
                sum += value as f64 * b as f64;
                n += b;
                let mut grads = loss.backward();
                // Output-only epochs: the gradients of everything else are dropped, so the
                // optimiser steps only `h` and its bias.
                let grads = if only_output {
                    GradientsParams::from_module(&mut grads, &net.out)
                } else {
                    GradientsParams::from_grads(grads, &net)
                };
                net = optim.step(lr, net, grads);
            }
            losses.push(sum / n.max(1) as f64);
            if let (Some(observe), Some(seen)) = (observe.as_mut(), &seen) {
                let model =
                    NeuMf::from_net(cfg.clone(), net.valid(), seen.clone(), self.device.clone());
                observe(stage, epoch, &model);
            }
        }
        (net, losses)
    }

    /// [`Recommender::fit`], calling `observe` after every epoch of every stage (and once on
    /// the fused network before fine-tuning): how a validation harness follows the learning
    /// curves without training twice.
    ///
    /// # Errors
    /// Invalid settings.
    pub fn fit_observed(
        &mut self,
        train: &Interactions,
        observe: &mut EpochObserver,
    ) -> Result<()> {
        self.fit_inner(train, Some(observe))
    }

    /// Fine-tunes an already built network (e.g. [`fuse_pretrained`] of two fitted branches)
    /// as NeuMF's last stage does: `finetune_output_epochs` of the output layer alone, then
    /// `finetune_epochs` of everything, by the fine-tuning optimiser, observed after each
    /// epoch (numbered on from the output-only ones, and once before the first, as epoch 0).
    ///
    /// # Errors
    /// Invalid settings.
    pub fn fine_tune(
        &mut self,
        net: NcfNet,
        train: &Interactions,
        observe: Option<&mut EpochObserver>,
    ) -> Result<()> {
        self.config.check()?;
        let ad = self.device.clone().autodiff();
        let net = self.fine_tune_stage(net.train().fork(&ad), train, observe);
        self.net = Some(net.valid());
        self.seen = train.user_item();
        Ok(())
    }

    fn fine_tune_stage(
        &mut self,
        net: NcfNet,
        train: &Interactions,
        mut observe: Option<&mut EpochObserver>,
    ) -> NcfNet {
        let cfg = self.config.clone();
        if let Some(observe) = observe.as_mut() {
            let model = NeuMf::from_net(
                cfg.clone(),
                net.valid(),
                train.user_item(),
                self.device.clone(),
            );
            observe(NcfStage::NeuMf, 0, &model);
        }
        let plan = |epochs, first_epoch, seed, only_output| StagePlan {
            stage: NcfStage::NeuMf,
            epochs,
            first_epoch,
            optimizer: cfg.finetune_optimizer,
            lr: cfg.finetune_lr,
            seed,
            only_output,
        };
        let k = cfg.finetune_output_epochs;
        let (net, mut losses) = if k > 0 {
            self.train_stage(
                net,
                train,
                plan(k, 1, cfg.seed + 4, true),
                observe.as_deref_mut(),
            )
        } else {
            (net, Vec::new())
        };
        let (net, full) = self.train_stage(
            net,
            train,
            plan(
                cfg.finetune_epochs.unwrap_or(cfg.epochs),
                k + 1,
                cfg.seed + 3,
                false,
            ),
            observe,
        );
        losses.extend(full);
        self.losses = losses;
        net
    }

    fn fit_inner(
        &mut self,
        train: &Interactions,
        mut observe: Option<&mut EpochObserver>,
    ) -> Result<()> {
        self.config.check()?;
        let cfg = self.config.clone();
        let ad = self.device.clone().autodiff();
        ad.seed(cfg.seed);
        let (n_u, n_i) = (train.n_users, train.n_items);
        let net = if cfg.kind == NeuMfKind::NeuMf && cfg.pretrain {
            let branch = |kind| NeuMfConfig {
                kind,
                ..cfg.clone()
            };
            let (gmf, _) = self.train_stage(
                branch(NeuMfKind::Gmf).init(n_u, n_i, &ad),
                train,
                StagePlan::adam(
                    NcfStage::Gmf,
                    cfg.gmf_epochs.unwrap_or(cfg.epochs),
                    cfg.lr,
                    cfg.seed + 1,
                ),
                observe.as_deref_mut(),
            );
            let (mlp, _) = self.train_stage(
                branch(NeuMfKind::Mlp).init(n_u, n_i, &ad),
                train,
                StagePlan::adam(
                    NcfStage::Mlp,
                    cfg.mlp_epochs.unwrap_or(cfg.epochs),
                    cfg.lr,
                    cfg.seed + 2,
                ),
                observe.as_deref_mut(),
            );
            self.fine_tune_stage(fuse_pretrained(gmf, mlp, cfg.alpha), train, observe)
        } else {
            let stage = match cfg.kind {
                NeuMfKind::Gmf => NcfStage::Gmf,
                NeuMfKind::Mlp => NcfStage::Mlp,
                NeuMfKind::NeuMf => NcfStage::NeuMf,
            };
            let (net, losses) = self.train_stage(
                cfg.init(n_u, n_i, &ad),
                train,
                StagePlan::adam(stage, cfg.epochs, cfg.lr, cfg.seed),
                observe,
            );
            self.losses = losses;
            net
        };
        self.net = Some(net.valid());
        self.seen = train.user_item();
        Ok(())
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
        self.fit_inner(train, None)
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
        let shape = [self.seen.n_rows, self.seen.n_cols];
        super::score_in_chunks(users, items, shape, |us, is| {
            let b = us.len();
            let logits = net.forward(
                Tensor::from_data(TensorData::new(us, [b]), &self.device),
                Tensor::from_data(TensorData::new(is, [b]), &self.device),
            );
            logits.into_data().try_to_vec::<f32>().ok()
        })
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
    fn branch_norms_are_the_squared_embeddings_looked_up() {
        let dev = Device::flex();
        let net = NeuMfConfig {
            factors: 2,
            mlp_layers: vec![4, 2],
            ..Default::default()
        }
        .init(3, 4, &dev);
        let rows = |e: &Option<Embedding>, idx: &[usize]| -> f32 {
            let w: Vec<f32> = e
                .as_ref()
                .unwrap()
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let d = w.len() / if idx == [0, 2] { 3 } else { 4 };
            idx.iter()
                .map(|&r| w[r * d..(r + 1) * d].iter().map(|x| x * x).sum::<f32>())
                .sum()
        };
        // Users 0 and 2 with items 3 and 1: the batch mean of ‖p_u‖² + ‖q_i‖², per branch.
        let out = net.forward_with_norms(
            Tensor::from_data([0, 2], &dev),
            Tensor::from_data([3, 1], &dev),
        );
        let want_gmf = (rows(&net.gmf_user, &[0, 2]) + rows(&net.gmf_item, &[3, 1])) / 2.0;
        let want_mlp = (rows(&net.mlp_user, &[0, 2]) + rows(&net.mlp_item, &[3, 1])) / 2.0;
        let got_gmf: f32 = out.gmf_norm.unwrap().into_scalar();
        let got_mlp: f32 = out.mlp_norm.unwrap().into_scalar();
        assert!(
            (got_gmf - want_gmf).abs() < 1e-7 * want_gmf.max(1.0),
            "{got_gmf} vs {want_gmf}"
        );
        assert!(
            (got_mlp - want_mlp).abs() < 1e-7 * want_mlp.max(1.0),
            "{got_mlp} vs {want_mlp}"
        );
        assert_eq!(out.logits.dims(), [2]);
    }

    #[test]
    fn observed_fit_reports_every_stage_and_epoch() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cfg = NeuMfConfig {
            factors: 4,
            mlp_layers: vec![8, 4],
            epochs: 5,
            gmf_epochs: Some(2),
            mlp_epochs: Some(1),
            finetune_epochs: Some(2),
            batch_size: 512,
            alpha: 0.7,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut last = Vec::new();
        let probe = ([0u32, 1, 2], [5u32, 6, 7]);
        let mut m = NeuMf::new(cfg, Device::flex());
        m.fit_observed(&loo.train, &mut |stage, epoch, model: &NeuMf| {
            seen.push((stage, epoch));
            last = model.score_pairs(&probe.0, &probe.1);
        })
        .unwrap();
        let (g, p, n) = (NcfStage::Gmf, NcfStage::Mlp, NcfStage::NeuMf);
        assert_eq!(seen, [(g, 1), (g, 2), (p, 1), (n, 0), (n, 1), (n, 2)]);
        // The last observation is the fitted model. (Whether an unobserved fit gives the same
        // weights is not checked here: burn's generator is global, and concurrent tests
        // reseed it.)
        assert_eq!(m.score_pairs(&probe.0, &probe.1), last);
        assert_eq!(m.losses.len(), 2);
    }

    #[test]
    fn fine_tuning_zero_epochs_keeps_the_network() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cfg = NeuMfConfig {
            factors: 4,
            mlp_layers: vec![8, 4],
            finetune_epochs: Some(0),
            ..Default::default()
        };
        let dev = Device::flex();
        let net = cfg.init(loo.train.n_users, loo.train.n_items, &dev);
        let before = NeuMf::from_net(cfg.clone(), net.clone(), loo.train.user_item(), dev.clone())
            .score_pairs(&[0, 3], &[1, 2]);
        let mut m = NeuMf::new(cfg.clone(), dev.clone());
        m.fine_tune(net.clone(), &loo.train, None).unwrap();
        assert_eq!(m.score_pairs(&[0, 3], &[1, 2]), before);
        // One epoch moves it.
        let mut m = NeuMf::new(
            NeuMfConfig {
                finetune_epochs: Some(1),
                finetune_lr: 0.1,
                ..cfg
            },
            dev,
        );
        m.fine_tune(net, &loo.train, None).unwrap();
        assert_ne!(m.score_pairs(&[0, 3], &[1, 2]), before);
        assert_eq!(m.losses.len(), 1);
    }

    /// The flat values of a tensor.
    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn inverted_dropout_zeroes_a_fraction_and_rescales_the_rest() {
        let dev = Device::flex();
        let x = Tensor::<2>::ones([100, 100], &dev) * 3.0;
        assert_eq!(values(inverted_dropout(x.clone(), 0.0)), vec![3.0; 10_000]);
        let y = values(inverted_dropout(x, 0.25));
        // Every value is 0 or 3 / 0.75 = 4; about a quarter are 0 (sd of the fraction 0.004).
        assert!(y.iter().all(|&v| v == 0.0 || (v - 4.0).abs() < 1e-6));
        let zeroed = y.iter().filter(|&&v| v == 0.0).count() as f64 / 1e4;
        assert!((zeroed - 0.25).abs() < 0.02, "{zeroed}");
    }

    #[test]
    fn tower_dropout_is_training_only_and_checked() {
        let dev = Device::flex();
        let cfg = NeuMfConfig {
            factors: 2,
            mlp_layers: vec![8, 4],
            ..Default::default()
        };
        let net = cfg.init(3, 4, &dev);
        let (u, i) = (
            Tensor::<1, Int>::from_data([0, 2, 1], &dev),
            Tensor::<1, Int>::from_data([3, 1, 0], &dev),
        );
        let plain = values(net.forward(u.clone(), i.clone()));
        assert_eq!(
            values(net.forward_dropout(u.clone(), i.clone(), 0.0).logits),
            plain
        );
        // Dropping almost everything: the tower sees (nearly) zero input, so the logits move.
        let dropped = values(net.forward_dropout(u, i, 0.999).logits);
        assert_ne!(dropped, plain);
        for bad in [1.0, -0.1, f64::NAN] {
            let err = NeuMfConfig {
                mlp_dropout: bad,
                ..cfg.clone()
            }
            .check()
            .unwrap_err()
            .to_string();
            assert!(err.contains("dropout must be in [0, 1)"), "{err}");
        }
        // A model trained with dropout scores deterministically (no dropout when scoring).
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let mut m = NeuMf::new(
            NeuMfConfig {
                kind: NeuMfKind::Mlp,
                epochs: 1,
                mlp_dropout: 0.5,
                ..cfg
            },
            dev,
        );
        m.fit(&loo.train).unwrap();
        let a = m.score_pairs(&[0, 1, 2], &[3, 4, 5]);
        assert_eq!(a, m.score_pairs(&[0, 1, 2], &[3, 4, 5]));
    }

    /// A small fine-tuning setup on the synthetic data: its leave-one-out training set, the
    /// config `tuning` makes of a 4-factor network with an 8-4 MLP fine-tuned at rate 0.1,
    /// a fresh network of that config, and the device.
    fn fine_tuning(
        tuning: impl FnOnce(NeuMfConfig) -> NeuMfConfig,
    ) -> (Interactions, NeuMfConfig, NcfNet, Device) {
        let train = leave_one_out(&synthetic().ratings).unwrap().train;
        let cfg = tuning(NeuMfConfig {
            factors: 4,
            mlp_layers: vec![8, 4],
            finetune_lr: 0.1,
            ..Default::default()
        });
        let dev = Device::flex();
        let net = cfg.init(train.n_users, train.n_items, &dev);
        (train, cfg, net, dev)
    }

    #[test]
    fn learning_rate_decay_scales_later_epochs() {
        let (train, cfg, net, dev) = fine_tuning(|small| NeuMfConfig {
            finetune_epochs: Some(1),
            ..small
        });
        let tuned = |cfg: NeuMfConfig| {
            let mut m = NeuMf::new(cfg, dev.clone());
            m.fine_tune(net.clone(), &train, None).unwrap();
            m.score_pairs(&[0, 3, 5], &[1, 2, 7])
        };
        let one = tuned(cfg.clone());
        // Epochs 2 and 3 at 1e-13 and 1e-26 of the rate change nothing an f32 can hold;
        // without the decay they move the network.
        let decayed = tuned(NeuMfConfig {
            finetune_epochs: Some(3),
            lr_decay: 1e-13,
            ..cfg.clone()
        });
        for (a, b) in one.iter().zip(&decayed) {
            assert!((a - b).abs() < 1e-6, "{one:?} vs {decayed:?}");
        }
        let constant = tuned(NeuMfConfig {
            finetune_epochs: Some(3),
            ..cfg.clone()
        });
        assert!(
            one.iter().zip(&constant).any(|(a, b)| (a - b).abs() > 1e-4),
            "{one:?} vs {constant:?}"
        );
        for bad in [0.0, -1.0, f64::INFINITY] {
            let err = NeuMfConfig {
                lr_decay: bad,
                ..cfg.clone()
            }
            .check()
            .unwrap_err()
            .to_string();
            assert!(err.contains("decay must be a positive number"), "{err}");
        }
    }

    #[test]
    fn output_only_fine_tuning_moves_only_the_output_layer() {
        let (train, cfg, net, dev) = fine_tuning(|small| NeuMfConfig {
            finetune_output_epochs: 2,
            finetune_epochs: Some(0),
            ..small
        });
        let mut epochs = Vec::new();
        let mut m = NeuMf::new(cfg.clone(), dev.clone());
        m.fine_tune(
            net.clone(),
            &train,
            Some(&mut |stage, epoch, _: &NeuMf| epochs.push((stage, epoch))),
        )
        .unwrap();
        let n = NcfStage::NeuMf;
        assert_eq!(epochs, [(n, 0), (n, 1), (n, 2)]);
        assert_eq!(m.losses.len(), 2);
        let after = m.net().unwrap();
        let emb = |e: &Option<Embedding>| values(e.as_ref().unwrap().weight.val());
        assert_eq!(emb(&after.gmf_user), emb(&net.gmf_user));
        assert_eq!(emb(&after.mlp_item), emb(&net.mlp_item));
        assert_eq!(
            values(after.mlp[0].weight.val()),
            values(net.mlp[0].weight.val())
        );
        assert_ne!(values(after.out.weight.val()), values(net.out.weight.val()));
        // Then the full epochs, numbered on, move the rest too.
        let mut epochs = Vec::new();
        let mut m = NeuMf::new(
            NeuMfConfig {
                finetune_epochs: Some(1),
                ..cfg
            },
            dev,
        );
        m.fine_tune(
            net.clone(),
            &train,
            Some(&mut |stage, epoch, _: &NeuMf| epochs.push((stage, epoch))),
        )
        .unwrap();
        assert_eq!(epochs, [(n, 0), (n, 1), (n, 2), (n, 3)]);
        assert_eq!(m.losses.len(), 3);
        assert_ne!(emb(&m.net().unwrap().gmf_user), emb(&net.gmf_user));
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
