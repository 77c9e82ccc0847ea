//! Evaluation protocols: rating prediction on a test set and by k-fold cross-validation
//! (Surprise's `cross_validate`), top-K with one held-out item among sampled negatives (NCF's
//! 1 + 99) or among every unseen item (full ranking), and the coverage/popularity of top-K
//! lists.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::{Fold, Interaction, Interactions, NegativeSampler, kfold};
use crate::error::{RecsysError, Result};
use crate::metrics::{RankMetrics, coverage, mae, mean_popularity, rank_of, rmse};
use crate::models::Recommender;

/// RMSE and MAE of one test set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RatingReport {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Test ratings.
    pub n: usize,
    /// Seconds spent in `fit`.
    pub fit_seconds: f64,
}

/// Scores every test rating (clipped to the scale, as Surprise does) against the truth.
pub fn evaluate_ratings(model: &dyn Recommender, test: &Interactions) -> RatingReport {
    let users: Vec<u32> = test.data.iter().map(|x| x.user).collect();
    let items: Vec<u32> = test.data.iter().map(|x| x.item).collect();
    let pairs: Vec<(f32, f32)> = model
        .score_pairs(&users, &items)
        .into_iter()
        .zip(&test.data)
        .map(|(s, x)| (test.scale.clip(s), x.rating))
        .collect();
    RatingReport {
        rmse: rmse(&pairs),
        mae: mae(&pairs),
        n: pairs.len(),
        fit_seconds: 0.0,
    }
}

/// A k-fold cross-validation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// Each fold's result.
    pub folds: Vec<RatingReport>,
    /// Mean RMSE over the folds.
    pub rmse: f64,
    /// Standard deviation of the folds' RMSE.
    pub rmse_std: f64,
    /// Mean MAE over the folds.
    pub mae: f64,
    /// Wall-clock seconds of the whole run (fits and predictions).
    pub seconds: f64,
}

/// Fits a fresh model (from `make`) on each of `k` seeded folds and evaluates it on the
/// held-out part.
pub fn cross_validate(
    make: &dyn Fn() -> Box<dyn Recommender>,
    data: &Interactions,
    k: usize,
    seed: u64,
) -> Result<CvReport> {
    let start = Instant::now();
    let mut report = cross_validate_folds(make, &kfold(data, k, seed)?)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Fits a fresh model (from `make`) on each given fold's training part and evaluates it on
/// its test part: the predefined folds of ml-100k (`u1.base`/`u1.test` … `u5`, read by
/// [`crate::data::read_u_folds`]) or any other split.
///
/// # Errors
/// No folds, a fold with an empty side, or a model that fails to fit.
pub fn cross_validate_folds(
    make: &dyn Fn() -> Box<dyn Recommender>,
    folds: &[Fold],
) -> Result<CvReport> {
    if folds.is_empty() {
        return Err(RecsysError::InvalidArgument(
            "cross-validation needs at least one fold".into(),
        ));
    }
    let start = Instant::now();
    let mut reports = Vec::with_capacity(folds.len());
    for (f, fold) in folds.iter().enumerate() {
        if fold.train.is_empty() || fold.test.is_empty() {
            return Err(RecsysError::InvalidArgument(format!(
                "fold {} has an empty {} set",
                f + 1,
                if fold.train.is_empty() {
                    "training"
                } else {
                    "test"
                }
            )));
        }
        let mut model = make();
        let t = Instant::now();
        model.fit(&fold.train)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        reports.push(RatingReport {
            fit_seconds,
            ..evaluate_ratings(model.as_ref(), &fold.test)
        });
    }
    let n = reports.len() as f64;
    let mean = reports.iter().map(|f| f.rmse).sum::<f64>() / n;
    let var = reports.iter().map(|f| (f.rmse - mean).powi(2)).sum::<f64>() / n;
    Ok(CvReport {
        rmse: mean,
        rmse_std: var.sqrt(),
        mae: reports.iter().map(|f| f.mae).sum::<f64>() / n,
        folds: reports,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One user's held-out positive and its sampled negatives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidates {
    /// Dense user index.
    pub user: u32,
    /// The held-out item.
    pub positive: u32,
    /// Items the user never interacted with (in the whole data set).
    pub negatives: Vec<u32>,
}

/// Draws `n_negatives` distinct negatives per test interaction from the items the user never
/// interacted with anywhere in `all` (NCF: 99). Seeded, so every model sees the same lists.
pub fn sampled_candidates(
    test: &[Interaction],
    all: &Interactions,
    n_negatives: usize,
    seed: u64,
) -> Result<Vec<Candidates>> {
    let sampler = NegativeSampler::new(all);
    let mut rng = StdRng::seed_from_u64(seed);
    test.iter()
        .map(|x| {
            Ok(Candidates {
                user: x.user,
                positive: x.item,
                negatives: sampler.distinct(x.user as usize, n_negatives, &mut rng)?,
            })
        })
        .collect()
}

/// As [`sampled_candidates`], but the negatives come from `pool` only (e.g. the new items of
/// an item cold-start split): `n_negatives` distinct items of `pool` the user never
/// interacted with anywhere in `all`.
///
/// # Errors
/// A user with fewer than `n_negatives` such items.
pub fn sampled_candidates_among(
    test: &[Interaction],
    all: &Interactions,
    pool: &[u32],
    n_negatives: usize,
    seed: u64,
) -> Result<Vec<Candidates>> {
    let known = all.user_item();
    let mut rng = StdRng::seed_from_u64(seed);
    test.iter()
        .map(|x| {
            let mut unseen: Vec<u32> = pool
                .iter()
                .copied()
                .filter(|&i| !known.contains(x.user as usize, i as usize))
                .collect();
            if unseen.len() < n_negatives {
                return Err(RecsysError::InvalidArgument(format!(
                    "user index {} has only {} unseen items in the pool, cannot sample {n_negatives} negatives",
                    x.user,
                    unseen.len()
                )));
            }
            let (negatives, _) = unseen.partial_shuffle(&mut rng, n_negatives);
            Ok(Candidates {
                user: x.user,
                positive: x.item,
                negatives: negatives.to_vec(),
            })
        })
        .collect()
}

/// HR, NDCG and MRR at `k` of the positive ranked among its negatives (ties count against
/// the model). All pairs are scored in one [`Recommender::score_pairs`] call.
pub fn evaluate_sampled(model: &dyn Recommender, cands: &[Candidates], k: usize) -> RankMetrics {
    RankMetrics::from_ranks(&sampled_ranks(model, cands), k)
}

/// The 0-based rank of each user's positive among its negatives.
pub fn sampled_ranks(model: &dyn Recommender, cands: &[Candidates]) -> Vec<usize> {
    let (mut users, mut items) = (Vec::new(), Vec::new());
    for c in cands {
        for &i in std::iter::once(&c.positive).chain(&c.negatives) {
            users.push(c.user);
            items.push(i);
        }
    }
    let scores = model.score_pairs(&users, &items);
    let mut ranks = Vec::with_capacity(cands.len());
    let mut at = 0;
    for c in cands {
        let n = 1 + c.negatives.len();
        let s = &scores[at..at + n];
        ranks.push(rank_of(s[0], &s[1..]));
        at += n;
    }
    ranks
}

/// HR, NDCG and MRR at `k` of each held-out item ranked among *all* items the user did not
/// interact with in training (full ranking, as RecBole).
pub fn evaluate_full(model: &dyn Recommender, test: &[Interaction], k: usize) -> RankMetrics {
    let n_items = model.seen().n_cols as u32;
    let ranks: Vec<usize> = test
        .iter()
        .map(|x| {
            let others: Vec<u32> = (0..n_items)
                .filter(|&i| i != x.item && !model.seen().contains(x.user as usize, i as usize))
                .collect();
            let mut items = vec![x.item];
            items.extend(&others);
            let users = vec![x.user; items.len()];
            let s = model.score_pairs(&users, &items);
            rank_of(s[0], &s[1..])
        })
        .collect();
    RankMetrics::from_ranks(&ranks, k)
}

/// Catalogue coverage and mean popularity of every user's top-`k` (unseen) list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListReport {
    /// Cut-off.
    pub k: usize,
    /// Share of the catalogue recommended to someone.
    pub coverage: f64,
    /// Mean training count of the recommended items.
    pub mean_popularity: f64,
}

/// Builds every user's top-`k` list (excluding seen items) and measures it.
pub fn evaluate_lists(model: &dyn Recommender, train: &Interactions, k: usize) -> ListReport {
    let lists: Vec<Vec<u32>> = (0..train.n_users)
        .map(|u| {
            model
                .recommend(u, k, true)
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    ListReport {
        k,
        coverage: coverage(&lists, train.n_items),
        mean_popularity: mean_popularity(&lists, &train.item_counts()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::leave_one_out;
    use crate::models::{Baseline, BaselineConfig, Popularity};
    use crate::test_util::{synthetic, tiny};

    #[test]
    fn sampled_protocol_ranks_by_hand() {
        let data = tiny();
        let mut pop = Popularity::new();
        pop.fit(&data).unwrap();
        // Counts 3 3 2 1 1. Positive item 2 (count 2) against negatives 3 and 0 → rank 1.
        let c = vec![Candidates {
            user: 2,
            positive: 2,
            negatives: vec![3, 0],
        }];
        assert_eq!(sampled_ranks(&pop, &c), vec![1]);
        let m = evaluate_sampled(&pop, &c, 1);
        assert_eq!((m.hr, m.users), (0.0, 1));
        let m = evaluate_sampled(&pop, &c, 2);
        assert!((m.ndcg - 1.0 / 3f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn candidates_avoid_every_known_item() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cands = sampled_candidates(&loo.test, &data.ratings, 20, 3).unwrap();
        let all = data.ratings.user_item();
        for c in &cands {
            assert_eq!(c.negatives.len(), 20);
            assert!(
                c.negatives
                    .iter()
                    .all(|&j| !all.contains(c.user as usize, j as usize))
            );
        }
        assert_eq!(
            cands,
            sampled_candidates(&loo.test, &data.ratings, 20, 3).unwrap()
        );
    }

    #[test]
    fn pooled_candidates_come_from_the_pool_and_avoid_known_items() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let pool: Vec<u32> = (0..60).collect();
        let cands = sampled_candidates_among(&loo.test, &data.ratings, &pool, 15, 3).unwrap();
        let all = data.ratings.user_item();
        for c in &cands {
            let mut n = c.negatives.clone();
            n.sort_unstable();
            n.dedup();
            assert_eq!(n.len(), 15);
            assert!(
                n.iter()
                    .all(|&j| j < 60 && !all.contains(c.user as usize, j as usize))
            );
        }
        assert_eq!(
            cands,
            sampled_candidates_among(&loo.test, &data.ratings, &pool, 15, 3).unwrap()
        );
        let err = sampled_candidates_among(&loo.test, &data.ratings, &pool[..5], 15, 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unseen items in the pool"), "{err}");
    }

    #[test]
    fn cross_validation_reports_each_fold() {
        let data = synthetic();
        let make = || Box::new(Baseline::new(BaselineConfig::default())) as Box<dyn Recommender>;
        let cv = cross_validate(&make, &data.ratings, 3, 0).unwrap();
        assert_eq!(cv.folds.len(), 3);
        assert!(cv.rmse > 0.3 && cv.rmse < 1.5, "{cv:?}");
        let mut pop = Popularity::new();
        pop.fit(&data.ratings).unwrap();
        let lists = evaluate_lists(&pop, &data.ratings, 5);
        assert!(lists.coverage > 0.0 && lists.coverage < 0.5);
        let loo = leave_one_out(&data.ratings).unwrap();
        let full = evaluate_full(&pop, &loo.test[..10], 10);
        assert_eq!(full.users, 10);
    }
}
