//! Evaluation metrics: rating error (RMSE, MAE), top-K accuracy with one held-out item per
//! user (HR@K, NDCG@K, MRR@K; sampled or full ranking), Recall@K and NDCG@K with several
//! relevant items, catalogue coverage and the popularity of what is recommended.
//!
//! Conventions (the formulas of Surprise, NCF and RecBole):
//! - a *rank* is 0-based: rank 0 is the top of the list;
//! - with one relevant item at rank `r`: `HR@K = [r < K]`, `NDCG@K = [r < K] / log₂(r + 2)`,
//!   `MRR@K = [r < K] / (r + 1)`; the reported figure is the mean over users;
//! - with a relevant set `R` and a top-K list `L`: `Recall@K = |L ∩ R| / |R|`,
//!   `NDCG@K = DCG / IDCG` with `DCG = Σ_{k: L_k ∈ R} 1/log₂(k + 2)` and IDCG the DCG of
//!   `min(|R|, K)` hits at the top;
//! - ties are counted *against* the model: the held-out item's rank is the number of
//!   candidates scoring **at least** as high as it (a model that scores everything equal ranks
//!   the positive last, not first).

use std::collections::HashSet;

/// Root mean squared error of `(prediction, truth)` pairs (0 for none).
pub fn rmse(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let se: f64 = pairs.iter().map(|&(p, t)| ((p - t) as f64).powi(2)).sum();
    (se / pairs.len() as f64).sqrt()
}

/// Mean absolute error of `(prediction, truth)` pairs (0 for none).
pub fn mae(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    pairs
        .iter()
        .map(|&(p, t)| (p - t).abs() as f64)
        .sum::<f64>()
        / pairs.len() as f64
}

/// The 0-based rank of a positive scoring `positive` among candidates scoring `others`:
/// the number of others with a score `>=` it (ties count against the model; NaN scores too).
pub fn rank_of(positive: f32, others: &[f32]) -> usize {
    others
        .iter()
        .filter(|&&s| s.partial_cmp(&positive) != Some(std::cmp::Ordering::Less))
        .count()
}

/// HR@K of one ranked positive.
pub fn hit_at(rank: usize, k: usize) -> f64 {
    if rank < k { 1.0 } else { 0.0 }
}

/// NDCG@K of one ranked positive: `1 / log₂(rank + 2)` inside the top K.
pub fn ndcg_at(rank: usize, k: usize) -> f64 {
    if rank < k {
        1.0 / ((rank + 2) as f64).log2()
    } else {
        0.0
    }
}

/// MRR@K of one ranked positive: `1 / (rank + 1)` inside the top K.
pub fn mrr_at(rank: usize, k: usize) -> f64 {
    if rank < k {
        1.0 / (rank + 1) as f64
    } else {
        0.0
    }
}

/// Means of HR, NDCG and MRR at one K over many users' ranks.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankMetrics {
    /// Cut-off.
    pub k: usize,
    /// Hit rate at K.
    pub hr: f64,
    /// NDCG at K.
    pub ndcg: f64,
    /// MRR at K.
    pub mrr: f64,
    /// Number of users averaged.
    pub users: usize,
}

impl RankMetrics {
    /// Averages the per-rank metrics of `ranks` at cut-off `k`.
    pub fn from_ranks(ranks: &[usize], k: usize) -> RankMetrics {
        let n = ranks.len().max(1) as f64;
        RankMetrics {
            k,
            hr: ranks.iter().map(|&r| hit_at(r, k)).sum::<f64>() / n,
            ndcg: ranks.iter().map(|&r| ndcg_at(r, k)).sum::<f64>() / n,
            mrr: ranks.iter().map(|&r| mrr_at(r, k)).sum::<f64>() / n,
            users: ranks.len(),
        }
    }
}

/// Recall@K of a top-K list against a relevant set (0 when the set is empty).
pub fn recall_at(top: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let hits = top.iter().take(k).filter(|i| relevant.contains(i)).count();
    hits as f64 / relevant.len() as f64
}

/// NDCG@K of a top-K list against a relevant set with binary relevance.
pub fn ndcg_set_at(top: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    let dcg: f64 = top
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(r, _)| 1.0 / ((r + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|r| 1.0 / ((r + 2) as f64).log2())
        .sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Catalogue coverage: the share of the `n_items` catalogue that appears in at least one list.
pub fn coverage(lists: &[Vec<u32>], n_items: usize) -> f64 {
    if n_items == 0 {
        return 0.0;
    }
    let distinct: HashSet<u32> = lists.iter().flatten().copied().collect();
    distinct.len() as f64 / n_items as f64
}

/// Mean popularity of the recommended items: the mean of `counts[item]` (training interactions
/// per item) over every recommended slot. Popularity bias shows as a high value.
pub fn mean_popularity(lists: &[Vec<u32>], counts: &[u32]) -> f64 {
    let (sum, n) = lists.iter().flatten().fold((0.0, 0usize), |(s, n), &i| {
        (
            s + counts.get(i as usize).copied().unwrap_or(0) as f64,
            n + 1,
        )
    });
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn rating_errors_by_hand() {
        // Errors 1, −2, 0.5: MSE = (1 + 4 + 0.25)/3 = 1.75, RMSE = √1.75; MAE = 3.5/3.
        let pairs = [(4.0, 3.0), (1.0, 3.0), (3.5, 3.0)];
        close(rmse(&pairs), 1.75f64.sqrt());
        close(mae(&pairs), 3.5 / 3.0);
        close(rmse(&[]), 0.0);
    }

    #[test]
    fn ranks_count_ties_against_the_model() {
        assert_eq!(rank_of(0.9, &[0.1, 0.5, 0.2]), 0);
        assert_eq!(rank_of(0.5, &[0.1, 0.5, 0.7]), 2);
        assert_eq!(rank_of(1.0, &[1.0, 1.0, 1.0]), 3);
        assert_eq!(rank_of(1.0, &[f32::NAN]), 1);
    }

    #[test]
    fn one_positive_metrics_by_hand() {
        // Ranks 0, 2, 9, 10 at K = 10:
        // HR = 3/4; NDCG = (1 + 1/log2(4) + 1/log2(11))/4 = (1 + 0.5 + 0.289064826)/4;
        // MRR = (1 + 1/3 + 1/10)/4.
        let m = RankMetrics::from_ranks(&[0, 2, 9, 10], 10);
        close(m.hr, 0.75);
        close(m.ndcg, (1.0 + 0.5 + 1.0 / 11f64.log2()) / 4.0);
        close(1.0 / 11f64.log2(), 0.289_064_826_317_887_9);
        close(m.mrr, (1.0 + 1.0 / 3.0 + 0.1) / 4.0);
        assert_eq!(m.users, 4);
    }

    #[test]
    fn set_metrics_by_hand() {
        // Relevant {1, 4, 7}; list [4, 2, 1, 9, 7] at K = 3 hits ranks 0 and 2.
        let rel: HashSet<u32> = [1, 4, 7].into();
        let top = [4, 2, 1, 9, 7];
        close(recall_at(&top, &rel, 3), 2.0 / 3.0);
        close(recall_at(&top, &rel, 5), 1.0);
        // DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2.
        close(ndcg_set_at(&top, &rel, 3), 1.5 / (1.5 + 1.0 / 3f64.log2()));
        close(ndcg_set_at(&[4, 1, 7], &rel, 3), 1.0);
        close(ndcg_set_at(&top, &HashSet::new(), 3), 0.0);
    }

    #[test]
    fn coverage_and_popularity_by_hand() {
        let lists = vec![vec![0, 1], vec![1, 2]];
        close(coverage(&lists, 10), 0.3);
        // counts 10, 4, 1: slots 10 + 4 + 4 + 1 = 19 over 4.
        close(mean_popularity(&lists, &[10, 4, 1]), 19.0 / 4.0);
    }
}
