//! Next-item models on time-ordered sequences (seed 5.3): a first-order Markov chain and a
//! GRU4Rec-style recurrent model, behind one trait, [`NextItem`], evaluated with the SASRec
//! protocol in [`evaluate_next_item`] (last item test, second-to-last validation, the positive
//! ranked among sampled negatives the user never interacted with).
//!
//! - [`MarkovChain`]: `score(j | history) = count(last → j) + pop(j) / (max pop + 1)`, the
//!   item-to-item transition counts of the training sequences, with popularity as the tie-break
//!   and the fallback for a history whose last item was never followed by anything.
//! - [`SequencePopularity`]: the popularity baseline under the same protocol.
//! - [`Gru4Rec`]: item embedding → GRU → linear scores over every item, trained with
//!   cross-entropy on the next item at every position (Hidasi et al. 2016, with the full
//!   softmax in place of the paper's sampled ranking losses), Adam, on burn autodiff.

use burn::nn::gru::{Gru, GruConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Recommender;
use crate::data::{Csr, Interaction, Interactions, SequenceSplit, user_sequences};
use crate::error::{RecsysError, Result};
use crate::eval::sampled_candidates;
use crate::metrics::{RankMetrics, rank_of};

/// A model that scores every item as the next one after a user's history.
pub trait NextItem {
    /// A short name for tables.
    fn name(&self) -> String;

    /// Learns from each user's training sequence (items in time order) over `n_items` items.
    fn fit_sequences(&mut self, train: &[Vec<u32>], n_items: usize) -> Result<()>;

    /// One row of `n_items` scores per history (higher is more likely next).
    fn next_scores(&self, histories: &[&[u32]]) -> Vec<Vec<f32>>;
}

/// Training items per item.
fn counts(train: &[Vec<u32>], n_items: usize) -> Vec<u32> {
    let mut c = vec![0u32; n_items];
    for &i in train.iter().flatten() {
        if let Some(x) = c.get_mut(i as usize) {
            *x += 1;
        }
    }
    c
}

/// The most popular items, whatever the history.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SequencePopularity {
    /// Training occurrences per item.
    pub counts: Vec<u32>,
}

impl NextItem for SequencePopularity {
    fn name(&self) -> String {
        "popularity".into()
    }

    fn fit_sequences(&mut self, train: &[Vec<u32>], n_items: usize) -> Result<()> {
        self.counts = counts(train, n_items);
        Ok(())
    }

    fn next_scores(&self, histories: &[&[u32]]) -> Vec<Vec<f32>> {
        let row: Vec<f32> = self.counts.iter().map(|&c| c as f32).collect();
        vec![row; histories.len()]
    }
}

/// A first-order Markov chain over items: how often item `j` directly followed item `i` in the
/// training sequences, with popularity below one count as tie-break and fallback.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MarkovChain {
    /// Per item `i`, the `(j, count)` pairs of its successors, sorted by `j`.
    pub transitions: Vec<Vec<(u32, u32)>>,
    /// Training occurrences per item.
    pub counts: Vec<u32>,
}

impl MarkovChain {
    /// An unfitted model.
    pub fn new() -> MarkovChain {
        MarkovChain::default()
    }

    /// How often `j` followed `i` in training.
    pub fn transition(&self, i: u32, j: u32) -> u32 {
        self.transitions
            .get(i as usize)
            .and_then(|row| {
                row.binary_search_by_key(&j, |x| x.0)
                    .ok()
                    .map(|at| row[at].1)
            })
            .unwrap_or(0)
    }
}

impl NextItem for MarkovChain {
    fn name(&self) -> String {
        "markov".into()
    }

    fn fit_sequences(&mut self, train: &[Vec<u32>], n_items: usize) -> Result<()> {
        let mut maps: Vec<std::collections::HashMap<u32, u32>> = vec![Default::default(); n_items];
        for seq in train {
            for w in seq.windows(2) {
                if (w[0] as usize) < n_items && (w[1] as usize) < n_items {
                    *maps[w[0] as usize].entry(w[1]).or_default() += 1;
                }
            }
        }
        self.transitions = maps
            .into_iter()
            .map(|m| {
                let mut row: Vec<(u32, u32)> = m.into_iter().collect();
                row.sort_unstable();
                row
            })
            .collect();
        self.counts = counts(train, n_items);
        Ok(())
    }

    fn next_scores(&self, histories: &[&[u32]]) -> Vec<Vec<f32>> {
        let max = self.counts.iter().copied().max().unwrap_or(0) as f32 + 1.0;
        let prior: Vec<f32> = self.counts.iter().map(|&c| c as f32 / max).collect();
        histories
            .iter()
            .map(|h| {
                let mut row = prior.clone();
                if let Some(succ) = h.last().and_then(|&i| self.transitions.get(i as usize)) {
                    for &(j, c) in succ {
                        row[j as usize] += c as f32;
                    }
                }
                row
            })
            .collect()
    }
}

/// GRU4Rec settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gru4RecConfig {
    /// Item embedding width.
    pub embedding: usize,
    /// GRU hidden width.
    pub hidden: usize,
    /// Longest history read (training windows are `max_len + 1` items).
    pub max_len: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Passes over the training windows.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the initialisation and the batch order.
    pub seed: u64,
}

impl Default for Gru4RecConfig {
    fn default() -> Self {
        Gru4RecConfig {
            embedding: 64,
            hidden: 100,
            max_len: 50,
            batch_size: 64,
            epochs: 20,
            lr: 0.002,
            seed: 0,
        }
    }
}

/// The network: item embeddings (row 0 is padding / start), a GRU and the output layer.
#[derive(Module, Debug)]
pub struct Gru4RecNet {
    /// `[n_items + 1, embedding]`, item `i` at row `i + 1`.
    pub items: Embedding,
    /// The recurrent layer.
    pub gru: Gru,
    /// `[hidden, n_items]` scores.
    pub out: Linear,
}

impl Gru4RecNet {
    /// Logits of the next item at every position.
    ///
    /// # Shapes
    /// - `input`: `[B, L]` (item + 1, 0 for padding)
    /// - output: `[B, L, n_items]`
    pub fn forward(&self, input: Tensor<2, Int>) -> Tensor<3> {
        let h = self.gru.forward(self.items.forward(input), None); // [B, L, hidden]
        self.out.forward(h)
    }
}

/// A next-item model trained on windows ([`WindowTraining`]): the struct, its methods and its
/// [`NextItem`] implementation, which GRU4Rec and SASRec share. The model type provides
/// `init(&self, n_items, device) -> $net` and `check_config(&self) -> Result<()>`; `$logits`
/// maps the network and a `[B, L]` batch to `[B·L, n_items]` logits; `$key` is the
/// [`NextItem::name`]; `$fixed_len` is [`WindowTraining::fixed_len`].
macro_rules! window_model {
    (
        $(#[$doc:meta])*
        $model:ident($net:ty, $config:ty, $name:literal, $logits:expr),
        key: $key:literal,
        fixed_len: $fixed_len:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $model {
            /// Settings.
            pub config: $config,
            device: Device,
            net: Option<$net>,
            n_items: usize,
            /// Mean training cross-entropy of each epoch.
            pub losses: Vec<f64>,
        }

        impl $model {
            /// An unfitted model that trains and scores on `device`.
            pub fn new(config: $config, device: Device) -> $model {
                $model {
                    config,
                    device,
                    net: None,
                    n_items: 0,
                    losses: Vec::new(),
                }
            }

            /// The trained network, if fitted.
            pub fn net(&self) -> Option<&$net> {
                self.net.as_ref()
            }

            /// Saves the weights as a burnpack record.
            pub fn save(&self, path: &std::path::Path) -> Result<()> {
                $crate::models::sequence::save_net(self.net.as_ref(), $name, path)
            }

            /// Rebuilds a fitted model over `n_items` items from saved weights.
            pub fn load(
                config: $config,
                n_items: usize,
                path: &std::path::Path,
                device: Device,
            ) -> Result<$model> {
                let mut m = $model::new(config, device);
                let net = m.init(n_items, &m.device.clone());
                m.net = Some(deepzero_train::checkpoint::load_model(net, path)?);
                m.n_items = n_items;
                Ok(m)
            }

        }

        impl $crate::models::sequence::NextItem for $model {
            fn name(&self) -> String {
                $key.into()
            }

            fn fit_sequences(&mut self, train: &[Vec<u32>], n_items: usize) -> Result<()> {
                self.check_config()?;
                let c = &self.config;
                let schedule = $crate::models::sequence::WindowTraining {
                    name: $name,
                    max_len: c.max_len,
                    fixed_len: $fixed_len,
                    batch_size: c.batch_size,
                    epochs: c.epochs,
                    lr: c.lr,
                    seed: c.seed,
                };
                let device = self.device.clone();
                let (net, losses) =
                    schedule.fit(train, n_items, &device, |d| self.init(n_items, d), $logits)?;
                self.net = Some(net);
                self.losses = losses;
                self.n_items = n_items;
                Ok(())
            }

            /// Batched on the device; an unfitted model scores 0.
            fn next_scores(&self, histories: &[&[u32]]) -> Vec<Vec<f32>> {
                $crate::models::sequence::last_position_scores(
                    self.net.as_ref(),
                    self.n_items,
                    self.config.max_len,
                    &self.device,
                    histories,
                    $logits,
                )
            }
        }
    };
}
pub(crate) use window_model;

window_model!(
    /// A GRU4Rec-style next-item model.
    Gru4Rec(Gru4RecNet, Gru4RecConfig, "GRU4Rec", flat_logits),
    key: "gru4rec",
    // The recurrence needs no fixed length: a batch is as long as its longest window.
    fixed_len: false
);

impl Gru4Rec {
    fn init(&self, n_items: usize, device: &Device) -> Gru4RecNet {
        let c = &self.config;
        Gru4RecNet {
            items: EmbeddingConfig::new(n_items + 1, c.embedding)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.1,
                })
                .init(device),
            gru: GruConfig::new(c.embedding, c.hidden, true).init(device),
            out: LinearConfig::new(c.hidden, n_items).init(device),
        }
    }

    /// Left-padded `[B, L]` input ids (item + 1) of the last `len` items of each history.
    pub(crate) fn padded(histories: &[&[u32]], len: usize) -> Vec<i32> {
        let mut ids = Vec::with_capacity(histories.len() * len);
        for h in histories {
            let h = &h[h.len().saturating_sub(len)..];
            ids.extend(std::iter::repeat_n(0, len - h.len()));
            ids.extend(h.iter().map(|&i| i as i32 + 1));
        }
        ids
    }
}

/// Training windows of at most `len + 1` items, cut from the end of each sequence with one
/// item of overlap, so every transition is a target once.
pub(crate) fn windows(train: &[Vec<u32>], len: usize) -> Vec<&[u32]> {
    let mut out = Vec::new();
    for seq in train {
        let mut end = seq.len();
        while end >= 2 {
            let start = end.saturating_sub(len + 1);
            out.push(&seq[start..end]);
            if start == 0 {
                break;
            }
            end = start + 1;
        }
    }
    out
}

impl Gru4Rec {
    fn check_config(&self) -> Result<()> {
        let c = &self.config;
        if c.embedding == 0 || c.hidden == 0 || c.max_len == 0 || c.batch_size == 0 {
            return Err(RecsysError::InvalidArgument(
                "GRU4Rec needs embedding, hidden, max_len and batch_size ≥ 1".into(),
            ));
        }
        Ok(())
    }
}

/// GRU4Rec's `[B, L, n]` logits as the `[B·L, n]` rows the shared loops take.
fn flat_logits(net: &Gru4RecNet, input: Tensor<2, Int>) -> Tensor<2> {
    let logits = net.forward(input);
    let [b, l, n] = logits.dims();
    logits.reshape([b * l, n])
}

/// The training schedule GRU4Rec and SASRec share: windows of [`windows`] shuffled each
/// epoch, left-padded batches, Adam, cross-entropy on the next item at every position.
pub(crate) struct WindowTraining {
    /// The model's name in error messages.
    pub name: &'static str,
    /// Longest input read.
    pub max_len: usize,
    /// Pad every batch to `max_len` (learned positions need it) rather than to the batch's
    /// longest window.
    pub fixed_len: bool,
    pub batch_size: usize,
    pub epochs: usize,
    pub lr: f64,
    pub seed: u64,
}

impl WindowTraining {
    /// Trains the network `init` builds on the autodiff version of `device`; `logits` maps a
    /// `[B, L]` batch (item + 1, 0 for padding) to `[B·L, n_items]` logits. Returns the
    /// trained network and the mean training cross-entropy of each epoch.
    pub(crate) fn fit<M: Module>(
        &self,
        train: &[Vec<u32>],
        n_items: usize,
        device: &Device,
        init: impl FnOnce(&Device) -> M,
        logits: impl Fn(&M, Tensor<2, Int>) -> Tensor<2>,
    ) -> Result<(M, Vec<f64>)> {
        if train.iter().flatten().any(|&i| i as usize >= n_items) {
            return Err(RecsysError::InvalidArgument(format!(
                "a training item is out of range (n_items {n_items})"
            )));
        }
        let mut wins = windows(train, self.max_len);
        if wins.is_empty() {
            return Err(RecsysError::InvalidArgument(format!(
                "{}: no training sequence has two items",
                self.name
            )));
        }
        let ad = device.clone().autodiff();
        ad.seed(self.seed);
        let mut net = init(&ad);
        let mut optim = AdamConfig::new().init();
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut losses = Vec::with_capacity(self.epochs);
        for _ in 0..self.epochs {
            wins.shuffle(&mut rng);
            let (mut sum, mut n) = (0.0, 0.0);
            for batch in wins.chunks(self.batch_size) {
                let b = batch.len();
                let l = if self.fixed_len {
                    self.max_len
                } else {
                    batch.iter().map(|w| w.len() - 1).max().unwrap_or(1)
                };
                let inputs: Vec<&[u32]> = batch.iter().map(|w| &w[..w.len() - 1]).collect();
                let x = Gru4Rec::padded(&inputs, l);
                let mut y = Vec::with_capacity(b * l);
                let mut mask = Vec::with_capacity(b * l);
                for w in batch {
                    let t = &w[1..];
                    let pad = l - t.len();
                    y.extend(std::iter::repeat_n(0i32, pad));
                    mask.extend(std::iter::repeat_n(0f32, pad));
                    y.extend(t.iter().map(|&i| i as i32));
                    mask.extend(std::iter::repeat_n(1f32, t.len()));
                }
                let batch_logits = logits(&net, Tensor::from_data(TensorData::new(x, [b, l]), &ad));
                let (loss, valid) = next_item_loss(batch_logits, y, mask, &ad);
                let value: f32 = loss.clone().into_scalar();
                sum += value as f64 * valid as f64;
                n += valid as f64;
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(self.lr, net, grads);
            }
            losses.push(sum / n.max(1.0));
        }
        Ok((net.valid(), losses))
    }
}

/// Every item's score as the next one after each history, 256 histories a batch: the logits
/// at the last position of the left-padded `[B, max_len]` input. `logits` is as in
/// [`WindowTraining::fit`]; without a network (unfitted) every score is 0.
pub(crate) fn last_position_scores<M>(
    net: Option<&M>,
    n_items: usize,
    max_len: usize,
    device: &Device,
    histories: &[&[u32]],
    logits: impl Fn(&M, Tensor<2, Int>) -> Tensor<2>,
) -> Vec<Vec<f32>> {
    let Some(net) = net else {
        return vec![vec![0.0; n_items]; histories.len()];
    };
    let (n, l) = (n_items, max_len);
    let mut out = Vec::with_capacity(histories.len());
    for chunk in histories.chunks(256) {
        // Unknown items (out of range) are read as padding.
        let cleaned: Vec<Vec<u32>> = chunk
            .iter()
            .map(|h| h.iter().copied().filter(|&i| (i as usize) < n).collect())
            .collect();
        let refs: Vec<&[u32]> = cleaned.iter().map(|h| h.as_slice()).collect();
        let b = refs.len();
        let x = Gru4Rec::padded(&refs, l);
        let scores = logits(net, Tensor::from_data(TensorData::new(x, [b, l]), device))
            .reshape([b, l, n])
            .slice([0..b, l - 1..l, 0..n])
            .reshape([b, n]);
        let flat = scores
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; b * n]);
        out.extend(flat.chunks(n).map(|r| r.to_vec()));
    }
    out
}

/// Saves a fitted network as a burnpack record; `name` says which model was not fitted.
pub(crate) fn save_net<M: Module>(
    net: Option<&M>,
    name: &str,
    path: &std::path::Path,
) -> Result<()> {
    let net = net.ok_or_else(|| RecsysError::InvalidArgument(format!("{name} is not fitted")))?;
    deepzero_train::checkpoint::save_model(net, path)?;
    Ok(())
}

/// A next-item model as a [`Recommender`]: `fit` reads each user's interactions in time
/// order, and a user's score of an item is the model's score of it as the next one after the
/// user's whole training history.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SequenceRecommender<M> {
    /// The next-item model.
    pub model: M,
    /// Each user's training items in time order.
    pub histories: Vec<Vec<u32>>,
    #[serde(skip)]
    seen: Csr,
}

impl<M: NextItem> SequenceRecommender<M> {
    /// An unfitted recommender around `model`.
    pub fn new(model: M) -> SequenceRecommender<M> {
        SequenceRecommender {
            model,
            histories: Vec::new(),
            seen: Csr::default(),
        }
    }

    /// Rebuilds a fitted recommender from a fitted model, the histories and the training matrix.
    pub fn from_parts(model: M, histories: Vec<Vec<u32>>, seen: Csr) -> SequenceRecommender<M> {
        SequenceRecommender {
            model,
            histories,
            seen,
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }
}

impl<M: NextItem> Recommender for SequenceRecommender<M> {
    fn name(&self) -> String {
        self.model.name()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        self.histories = user_sequences(train);
        self.model.fit_sequences(&self.histories, train.n_items)?;
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        self.score_pairs(&[user as u32], &[item as u32])[0]
    }

    /// One history per distinct user; an unknown user has an empty history.
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let mut order: Vec<u32> = users.to_vec();
        order.sort_unstable();
        order.dedup();
        let empty: &[u32] = &[];
        let hist: Vec<&[u32]> = order
            .iter()
            .map(|&u| {
                self.histories
                    .get(u as usize)
                    .map_or(empty, |h| h.as_slice())
            })
            .collect();
        let rows = self.model.next_scores(&hist);
        users
            .iter()
            .zip(items)
            .map(|(u, &i)| {
                let at = order.binary_search(u).unwrap_or(0);
                rows.get(at)
                    .and_then(|r| r.get(i as usize))
                    .copied()
                    .unwrap_or(f32::NEG_INFINITY)
            })
            .collect()
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

/// Which target of a [`SequenceSplit`] to rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextTarget {
    /// The second-to-last item, after the training history.
    Valid,
    /// The last item, after the training history and the validation item.
    Test,
}

/// HR/NDCG/MRR@`k` of each user's held-out item ranked among `negatives` items the user
/// never interacted with in `all` (sampled with the crate's seeded sampler, as the SASRec
/// paper's 1 + 100 protocol; here 1 + `negatives`). Users without a target are skipped.
///
/// # Errors
/// No user has a target, or a user has too few unseen items.
pub fn evaluate_next_item(
    model: &dyn NextItem,
    split: &SequenceSplit,
    all: &Interactions,
    target: NextTarget,
    negatives: usize,
    k: usize,
    seed: u64,
) -> Result<RankMetrics> {
    let mut histories = Vec::new();
    let mut held = Vec::new();
    for (u, seq) in split.train.iter().enumerate() {
        let (Some(v), Some(t)) = (split.valid[u], split.test[u]) else {
            continue;
        };
        let mut h = seq.clone();
        let item = match target {
            NextTarget::Valid => v,
            NextTarget::Test => {
                h.push(v);
                t
            }
        };
        histories.push(h);
        held.push(Interaction {
            user: u as u32,
            item,
            rating: 1.0,
            timestamp: 0,
        });
    }
    if held.is_empty() {
        return Err(RecsysError::InvalidArgument(
            "next-item evaluation: no user has three interactions".into(),
        ));
    }
    let cands = sampled_candidates(&held, all, negatives, seed)?;
    let refs: Vec<&[u32]> = histories.iter().map(|h| h.as_slice()).collect();
    let mut ranks = Vec::with_capacity(cands.len());
    for (chunk, cs) in refs.chunks(256).zip(cands.chunks(256)) {
        for (row, c) in model.next_scores(chunk).iter().zip(cs) {
            let at = |i: u32| row.get(i as usize).copied().unwrap_or(f32::NEG_INFINITY);
            let others: Vec<f32> = c.negatives.iter().map(|&j| at(j)).collect();
            ranks.push(rank_of(at(c.positive), &others));
        }
    }
    Ok(RankMetrics::from_ranks(&ranks, k))
}

/// Mean cross-entropy of the next item over the real (unpadded) positions, the training loss
/// of GRU4Rec and SASRec.
///
/// # Shapes
/// - `logits`: `[P, items]` for `P` positions (batch × window, row-major)
/// - `targets`, `mask`: `P` each (`mask` 1 at real positions, 0 at padding)
///
/// Returns the loss and the number of real positions.
pub(crate) fn next_item_loss(
    logits: Tensor<2>,
    targets: Vec<i32>,
    mask: Vec<f32>,
    device: &Device,
) -> (Tensor<1>, f32) {
    let positions = targets.len();
    let valid: f32 = mask.iter().sum();
    let picked = log_softmax(logits, 1)
        .gather(
            1,
            Tensor::<2, Int>::from_data(TensorData::new(targets, [positions, 1]), device),
        )
        .reshape([positions]);
    let mask = Tensor::<1>::from_data(TensorData::new(mask, [positions]), device);
    ((picked * mask).sum().neg() / valid, valid)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{RatingScale, sequence_split};

    /// Users walk a cycle of items `0 → 1 → … → n-1 → 0` from random starts, with a few
    /// random jumps: the next item is predictable from the last one.
    pub(crate) fn cyclic(n_users: usize, n_items: usize, len: usize) -> Interactions {
        let mut rng = StdRng::seed_from_u64(5);
        let mut data = Vec::new();
        for u in 0..n_users {
            use rand::Rng;
            let mut i = rng.random_range(0..n_items);
            let mut seen = std::collections::HashSet::new();
            let mut t = 0;
            while seen.len() < len {
                if seen.insert(i) {
                    data.push(Interaction {
                        user: u as u32,
                        item: i as u32,
                        rating: 4.0,
                        timestamp: t,
                    });
                    t += 1;
                }
                i = if rng.random_range(0..10) == 0 {
                    rng.random_range(0..n_items)
                } else {
                    (i + 1) % n_items
                };
            }
        }
        Interactions {
            n_users,
            n_items,
            data,
            scale: RatingScale::STARS,
        }
    }

    /// The benchmark the sequence models are tested on: [`cyclic`] over 120 users, 40 items
    /// and 20 steps, split by [`sequence_split`].
    pub(crate) struct CycleTask {
        pub data: Interactions,
        pub split: SequenceSplit,
    }

    impl CycleTask {
        pub fn new() -> Self {
            let data = cyclic(120, 40, 20);
            let split = sequence_split(&data);
            Self { data, split }
        }

        /// Test HR@5 / NDCG@5 of `model` (fitted) against 19 sampled negatives.
        pub fn test(&self, model: &dyn NextItem) -> RankMetrics {
            evaluate_next_item(model, &self.split, &self.data, NextTarget::Test, 19, 5, 1).unwrap()
        }

        /// [`test`](Self::test) of the popularity baseline.
        pub fn popularity(&self) -> RankMetrics {
            let mut pop = SequencePopularity::default();
            pop.fit_sequences(&self.split.train, 40).unwrap();
            self.test(&pop)
        }
    }

    #[test]
    fn markov_counts_transitions_and_falls_back_to_popularity() {
        let train = vec![vec![0, 1, 2], vec![0, 1, 3], vec![2, 1]];
        let mut m = MarkovChain::new();
        m.fit_sequences(&train, 5).unwrap();
        assert_eq!(m.transition(0, 1), 2);
        assert_eq!(m.transition(1, 2), 1);
        assert_eq!(m.transition(2, 1), 1);
        assert_eq!(m.transition(4, 0), 0);
        let rows = m.next_scores(&[&[0], &[3], &[]]);
        // After 0: item 1 (2 transitions) first.
        assert!(rows[0][1] > 2.0 && rows[0][1] < 3.0);
        // Item 3 was never followed: popularity (1: 3, 0/2: 2, 3: 1, 4: 0).
        assert!(rows[1][1] > rows[1][0] && rows[1][0] > rows[1][3] && rows[1][3] > rows[1][4]);
        assert_eq!(rows[1], rows[2]);
        assert!(rows[1].iter().all(|&s| s < 1.0));
    }

    #[test]
    fn windows_cover_every_transition_once() {
        let seq = vec![(0..10).collect::<Vec<u32>>(), vec![7], vec![1, 2]];
        let w = windows(&seq, 4);
        assert_eq!(
            w,
            vec![&[5, 6, 7, 8, 9][..], &[1, 2, 3, 4, 5], &[0, 1], &[1, 2]]
        );
        let transitions: usize = w.iter().map(|w| w.len() - 1).sum();
        assert_eq!(transitions, 9 + 1);
        assert_eq!(
            Gru4Rec::padded(&[&[3, 4][..], &[1, 2, 3, 4]], 3),
            vec![0, 4, 5, 3, 4, 5]
        );
    }

    #[test]
    fn sequence_models_beat_popularity_on_a_cycle() {
        let task = CycleTask::new();
        let (data, split) = (&task.data, &task.split);
        let mut mc = MarkovChain::new();
        mc.fit_sequences(&split.train, 40).unwrap();
        let mut gru = Gru4Rec::new(
            Gru4RecConfig {
                embedding: 16,
                hidden: 32,
                max_len: 10,
                batch_size: 32,
                epochs: 15,
                lr: 0.01,
                seed: 3,
            },
            Device::flex(),
        );
        gru.fit_sequences(&split.train, 40).unwrap();
        let (p, m, g) = (task.popularity(), task.test(&mc), task.test(&gru));
        assert_eq!(p.users, 120);
        assert!(m.hr > 0.8 && m.hr > p.hr + 0.3, "{m:?} vs {p:?}");
        assert!(g.hr > p.hr + 0.3, "{g:?} vs {p:?}");
        assert!(gru.losses.last() < gru.losses.first(), "{:?}", gru.losses);
        // Same seed, same negatives: the validation target is evaluated too.
        let v = evaluate_next_item(&mc, split, data, NextTarget::Valid, 19, 5, 1).unwrap();
        assert_eq!(v.users, 120);
        assert!(
            evaluate_next_item(&mc, split, data, NextTarget::Test, 39, 5, 1).is_err(),
            "too few negatives must be an error"
        );
    }
}
