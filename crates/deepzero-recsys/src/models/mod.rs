//! Recommenders behind one trait, [`Recommender`]: `fit` on interactions, `score` a
//! `(user, item)` pair, `recommend` the top K.
//!
//! | seed | model | file |
//! |---|---|---|
//! | 5.1 | most popular items (the baseline every top-K model must beat) | `popularity.rs` ([`Popularity`]) |
//! | 5.1 | global mean + regularised user and item biases, by ALS (Surprise's `BaselineOnly`) | `baseline.rs` ([`Baseline`]) |
//! | 5.1.1 | user- and item-based k-NN: cosine, Pearson, baseline-centred Pearson with shrinkage | `knn.rs` ([`Knn`]) |
//! | 5.2.1 | biased matrix factorisation by SGD (FunkSVD, Surprise's `SVD`) and user fold-in | `mf.rs` ([`FunkSvd`]) |
//! | 5.2.1 | SVD++ (implicit feedback of *which* items a user rated) | `svdpp.rs` ([`SvdPp`]) |
//! | 5.2.1 | BPR-MF (pairwise ranking from implicit feedback) | `bpr.rs` ([`Bpr`]) |
//! | 5.2.1 | ALS for implicit feedback (Hu, Koren, Volinsky 2008: confidence `1 + α r`) | `ials.rs` ([`Ials`]) |
//! | 5.4 | cold start from side features (and ≤ 5 ratings): a LightFM-style hybrid trained by BPR | `coldstart.rs` ([`FeatureBpr`]) |
//! | 5.2.1, 5.3.1 | GMF, MLP and NeuMF on burn tensors, with NCF's pre-training | `neumf.rs` ([`NeuMf`]) |
//! | 5.3 | next-item: first-order Markov chain, GRU4Rec (behind [`NextItem`], SASRec's protocol) | `sequence.rs` ([`MarkovChain`], [`Gru4Rec`]) |
//! | 5.3 | next-item: SASRec (causal self-attention, learned positions) | `sasrec.rs` ([`SasRec`]) |
//!
//! Indices are dense (`0..n_users`, `0..n_items`, see [`crate::data::IdMap`]). A user or item
//! index the model has no parameters for (out of range) is scored with what the model knows
//! without it (global mean, item popularity, the item's bias), never a panic.

pub mod baseline;
pub mod bpr;
pub mod coldstart;
pub mod ials;
pub mod knn;
pub mod mf;
pub mod neumf;
pub mod popularity;
pub mod sasrec;
pub mod sequence;
pub mod svdpp;

pub use baseline::{Baseline, BaselineConfig};
pub use bpr::{Bpr, BprConfig};
pub use coldstart::{FeatureBpr, FeatureBprConfig, SideFeatures, UserProfile};
pub use ials::{Ials, IalsConfig};
pub use knn::{Knn, KnnConfig, KnnPrediction, Similarity};
pub use mf::{FunkSvd, SvdConfig};
pub use neumf::{NcfStage, NeuMf, NeuMfConfig, NeuMfKind};
pub use popularity::{FeaturePopularity, Popularity};
pub use sasrec::{SasRec, SasRecConfig};
pub use sequence::{
    Gru4Rec, Gru4RecConfig, MarkovChain, NextItem, NextTarget, SequencePopularity,
    SequenceRecommender, evaluate_next_item,
};
pub use svdpp::{SvdPp, SvdppConfig};

use crate::data::{Csr, Interactions};
use crate::error::Result;

/// A model that scores `(user, item)` pairs and recommends the best-scoring items.
pub trait Recommender {
    /// A short name for tables (`"svd"`, `"knn-baseline"`, …).
    fn name(&self) -> String;

    /// Learns from `train` (replacing anything learnt before).
    fn fit(&mut self, train: &Interactions) -> Result<()>;

    /// The model's score of `item` for `user`: a predicted rating for rating models, a
    /// ranking score for implicit ones. Indices the model does not know fall back (see the
    /// module docs).
    fn score(&self, user: usize, item: usize) -> f32;

    /// The interactions the model was fitted on, as a user × item matrix (what
    /// `exclude_seen` leaves out).
    fn seen(&self) -> &Csr;

    /// Scores many pairs at once; models that batch on a device override it.
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        users
            .iter()
            .zip(items)
            .map(|(&u, &i)| self.score(u as usize, i as usize))
            .collect()
    }

    /// The `k` best items for `user` as `(item, score)`, best first (ties by lower index);
    /// with `exclude_seen`, items the user interacted with in training are left out.
    fn recommend(&self, user: usize, k: usize, exclude_seen: bool) -> Vec<(u32, f32)> {
        let n_items = self.seen().n_cols as u32;
        let items: Vec<u32> = (0..n_items)
            .filter(|&i| !(exclude_seen && self.seen().contains(user, i as usize)))
            .collect();
        let users = vec![user as u32; items.len()];
        let scores = self.score_pairs(&users, &items);
        top_k(items.into_iter().zip(scores).collect(), k)
    }
}

/// Scores `(user, item)` pairs in device-sized chunks for models that batch on a device:
/// `score(users, items)` gets each chunk's indices as `i32` (pairs outside `n_users × n_items`
/// replaced by `(0, 0)`) and returns one score per pair, or `None` if the device's answer could
/// not be read; out-of-range pairs and unreadable chunks score `f32::MIN`.
pub fn score_in_chunks(
    users: &[u32],
    items: &[u32],
    [n_users, n_items]: [usize; 2],
    mut score: impl FnMut(Vec<i32>, Vec<i32>) -> Option<Vec<f32>>,
) -> Vec<f32> {
    let pairs: Vec<(u32, u32)> = users.iter().copied().zip(items.iter().copied()).collect();
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(16_384) {
        let ok: Vec<bool> = chunk
            .iter()
            .map(|&(u, i)| (u as usize) < n_users && (i as usize) < n_items)
            .collect();
        let (us, is): (Vec<i32>, Vec<i32>) = chunk
            .iter()
            .zip(&ok)
            .map(|(&(u, i), &k)| if k { (u as i32, i as i32) } else { (0, 0) })
            .unzip();
        let scores = score(us, is).unwrap_or_else(|| vec![f32::MIN; chunk.len()]);
        out.extend(
            scores
                .into_iter()
                .zip(&ok)
                .map(|(z, &k)| if k { z } else { f32::MIN }),
        );
    }
    out
}

/// The `k` highest-scoring `(item, score)` pairs, best first; equal scores by lower item.
pub fn top_k(mut scored: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, cmp);
        scored.truncate(k);
    }
    scored.sort_by(cmp);
    scored.truncate(k);
    scored
}

/// A dot product.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `n` rows of `dim` values drawn from `N(mean, std)` (row-major).
pub(crate) fn normal_matrix(
    n: usize,
    dim: usize,
    mean: f32,
    std: f32,
    rng: &mut impl rand::Rng,
) -> Vec<f32> {
    (0..n * dim)
        .map(|_| mean + std * crate::data::synthetic::normal(rng))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_scores_mark_out_of_range_pairs_and_unreadable_chunks() {
        let sum = |us: Vec<i32>, is: Vec<i32>| {
            Some(
                us.iter()
                    .zip(&is)
                    .map(|(u, i)| (u * 10 + i) as f32)
                    .collect(),
            )
        };
        let s = score_in_chunks(&[1, 2, 9], &[3, 0, 1], [3, 4], sum);
        assert_eq!(s, [13.0, 20.0, f32::MIN]);
        let s = score_in_chunks(&[1], &[1], [3, 4], |_, _| None);
        assert_eq!(s, [f32::MIN]);
    }

    #[test]
    fn top_k_orders_by_score_then_index() {
        let scored = vec![(0, 0.5), (1, 0.9), (2, 0.5), (3, 0.1), (4, 0.9)];
        assert_eq!(top_k(scored.clone(), 3), vec![(1, 0.9), (4, 0.9), (0, 0.5)]);
        assert_eq!(top_k(scored.clone(), 10).len(), 5);
        assert!(top_k(scored, 0).is_empty());
    }
}
