//! Splits: seeded random k-fold (rating prediction, as Surprise's `KFold`), leave-one-out by
//! timestamp (top-K, the NCF protocol) and timestamp-ordered sequences with the last two items
//! held out (next-item, the SASRec protocol).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::numpy_rng::NumpyRandomState;
use super::{Interaction, Interactions};
use crate::error::{RecsysError, Result};

/// One fold of a k-fold split.
#[derive(Clone, Debug)]
pub struct Fold {
    /// The other k − 1 parts.
    pub train: Interactions,
    /// This part.
    pub test: Interactions,
}

/// Shuffles the ratings with `seed` and cuts them into `k` parts of sizes differing by at most
/// one (the first `len % k` parts are one longer, as in Surprise and scikit-learn); fold `f`
/// tests on part `f` and trains on the rest.
///
/// The shuffle is NumPy's `RandomState(seed).shuffle` of the rating positions
/// ([`super::numpy_rng`]), so with the ratings in file order the folds are exactly those of
/// Surprise's `KFold(n_splits=k, random_state=seed)` (its benchmark uses `random_state=0`).
///
/// # Errors
/// `k < 2`, fewer ratings than folds (a fold would be empty), or a seed above `2^32 − 1`
/// (NumPy's limit).
pub fn kfold(data: &Interactions, k: usize, seed: u64) -> Result<Vec<Fold>> {
    if k < 2 {
        return Err(RecsysError::InvalidArgument(format!(
            "k-fold needs at least 2 folds, got {k}"
        )));
    }
    if data.len() < k {
        return Err(RecsysError::InvalidArgument(format!(
            "{} ratings cannot fill {k} folds (a fold would be empty)",
            data.len()
        )));
    }
    let seed = u32::try_from(seed).map_err(|_| {
        RecsysError::InvalidArgument(format!(
            "k-fold seed {seed} is above 2^32 - 1 (NumPy's RandomState limit)"
        ))
    })?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    NumpyRandomState::new(seed).shuffle(&mut order);
    let (base, extra) = (data.len() / k, data.len() % k);
    let mut folds = Vec::with_capacity(k);
    let mut start = 0;
    for f in 0..k {
        let stop = start + base + usize::from(f < extra);
        let pick = |range: &mut dyn Iterator<Item = &usize>| -> Vec<Interaction> {
            range.map(|&i| data.data[i]).collect()
        };
        let test = pick(&mut order[start..stop].iter());
        let train = pick(&mut order[..start].iter().chain(&order[stop..]));
        folds.push(Fold {
            train: data.with_data(train),
            test: data.with_data(test),
        });
        start = stop;
    }
    Ok(folds)
}

/// Each user's ratings as `(timestamp, position in the data)` order.
fn by_user_in_time(data: &Interactions) -> Vec<Vec<usize>> {
    grouped_in_time(data, data.n_users, |x| x.user)
}

/// The positions of the ratings grouped by `key` (user or item, below `n`), each group in
/// time order.
fn grouped_in_time(
    data: &Interactions,
    n: usize,
    key: impl Fn(&Interaction) -> u32,
) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (pos, x) in data.data.iter().enumerate() {
        groups[key(x) as usize].push(pos);
    }
    for list in &mut groups {
        // Stable: equal timestamps keep file order, so "latest" is well defined.
        list.sort_by_key(|&pos| data.data[pos].timestamp);
    }
    groups
}

/// A seeded `round(fraction · n)` of the `n` groups with more than `max_known` ratings,
/// ascending (`what`: "user" or "item", for the error).
fn pick_cold(
    groups: &[Vec<usize>],
    fraction: f64,
    max_known: usize,
    seed: u64,
    what: &str,
) -> Result<Vec<u32>> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(RecsysError::InvalidArgument(format!(
            "cold-start fraction must be in (0, 1], got {fraction}"
        )));
    }
    let mut eligible: Vec<u32> = (0..groups.len() as u32)
        .filter(|&g| groups[g as usize].len() > max_known)
        .collect();
    let n_cold = (fraction * eligible.len() as f64).round() as usize;
    if n_cold == 0 {
        return Err(RecsysError::InvalidArgument(format!(
            "cold-start split: no {what} picked ({} {what}s have more than {max_known} ratings, fraction {fraction})",
            eligible.len()
        )));
    }
    eligible.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut cold = eligible[..n_cold].to_vec();
    cold.sort_unstable();
    Ok(cold)
}

/// A leave-one-out split.
#[derive(Clone, Debug)]
pub struct LeaveOneOut {
    /// Everything but each user's latest rating.
    pub train: Interactions,
    /// Each user's latest rating (users with a single rating keep it in `train` and have none).
    pub test: Vec<Interaction>,
}

/// Holds out each user's latest interaction (ties: the one later in the file), as NCF (He et
/// al. 2017) does. Users with only one interaction stay entirely in training.
///
/// # Errors
/// When no user has two interactions (the test set would be empty).
pub fn leave_one_out(data: &Interactions) -> Result<LeaveOneOut> {
    let mut held = vec![false; data.len()];
    let mut test = Vec::new();
    for list in by_user_in_time(data) {
        if list.len() >= 2 {
            let last = list[list.len() - 1];
            held[last] = true;
            test.push(data.data[last]);
        }
    }
    if test.is_empty() {
        return Err(RecsysError::InvalidArgument(
            "leave-one-out: no user has two interactions, the test set would be empty".into(),
        ));
    }
    let train = data
        .data
        .iter()
        .zip(&held)
        .filter(|(_, h)| !**h)
        .map(|(x, _)| *x)
        .collect();
    Ok(LeaveOneOut {
        train: data.with_data(train),
        test,
    })
}

/// A user cold-start split: some users are new, with only their first few ratings known.
#[derive(Clone, Debug)]
pub struct ColdStartSplit {
    /// Every rating of the warm users and the first `max_known` (by time) of each cold user.
    pub train: Interactions,
    /// For each cold user, the rating that came next (in time) after the known ones.
    pub test: Vec<Interaction>,
    /// The cold users' indices, ascending.
    pub cold_users: Vec<u32>,
}

/// Picks `round(fraction · n)` of the `n` users with more than `max_known` ratings (seeded)
/// as new users: only their `max_known` earliest ratings (ties in file order) stay in the
/// training data, and the one right after them is the test target. All other ratings of the
/// cold users are dropped; warm users keep everything.
///
/// # Errors
/// A fraction outside `(0, 1]` or no cold user picked (too few users with more than
/// `max_known` ratings).
pub fn cold_start_split(
    data: &Interactions,
    fraction: f64,
    max_known: usize,
    seed: u64,
) -> Result<ColdStartSplit> {
    let per_user = by_user_in_time(data);
    let cold_users = pick_cold(&per_user, fraction, max_known, seed, "user")?;
    let n_cold = cold_users.len();
    // 0: warm, 1: known, 2: target, 3: dropped.
    let mut role = vec![0u8; data.len()];
    let mut test = Vec::with_capacity(n_cold);
    for &u in &cold_users {
        let list = &per_user[u as usize];
        for (k, &pos) in list.iter().enumerate() {
            role[pos] = match k.cmp(&max_known) {
                std::cmp::Ordering::Less => 1,
                std::cmp::Ordering::Equal => 2,
                std::cmp::Ordering::Greater => 3,
            };
        }
        test.push(data.data[list[max_known]]);
    }
    let train = data
        .data
        .iter()
        .zip(&role)
        .filter(|(_, r)| **r <= 1)
        .map(|(x, _)| *x)
        .collect();
    Ok(ColdStartSplit {
        train: data.with_data(train),
        test,
        cold_users,
    })
}

/// An item cold-start split: some items are new, with only their first few ratings known.
#[derive(Clone, Debug)]
pub struct ItemColdStartSplit {
    /// Every rating of the warm items and the first `max_known` (by time) of each new item.
    pub train: Interactions,
    /// For each user who rated a new item later on, the latest such rating.
    pub test: Vec<Interaction>,
    /// The new items' indices, ascending.
    pub cold_items: Vec<u32>,
}

/// Picks `round(fraction · n)` of the `n` items with more than `max_known` ratings (seeded)
/// as new items: only their `max_known` earliest ratings (ties in file order) stay in the
/// training data. Each user who rated a new item after that has their latest such rating as
/// the test target; the new items' other ratings are dropped. Warm items keep everything.
///
/// # Errors
/// A fraction outside `(0, 1]` or no new item picked.
pub fn item_cold_start_split(
    data: &Interactions,
    fraction: f64,
    max_known: usize,
    seed: u64,
) -> Result<ItemColdStartSplit> {
    let per_item = grouped_in_time(data, data.n_items, |x| x.item);
    let cold_items = pick_cold(&per_item, fraction, max_known, seed, "item")?;
    let mut kept = vec![true; data.len()];
    // Per user, the latest held-out rating of a new item (position in the data).
    let mut latest: Vec<Option<usize>> = vec![None; data.n_users];
    for &i in &cold_items {
        for &pos in &per_item[i as usize][max_known..] {
            kept[pos] = false;
            let user = data.data[pos].user as usize;
            let later = |p: usize| (data.data[p].timestamp, p);
            if latest[user].is_none_or(|q| later(pos) > later(q)) {
                latest[user] = Some(pos);
            }
        }
    }
    let train = data
        .data
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(x, _)| *x)
        .collect();
    Ok(ItemColdStartSplit {
        train: data.with_data(train),
        test: latest.into_iter().flatten().map(|p| data.data[p]).collect(),
        cold_items,
    })
}

/// Each user's items in time order (ties in file order), indexed by user.
pub fn user_sequences(data: &Interactions) -> Vec<Vec<u32>> {
    by_user_in_time(data)
        .into_iter()
        .map(|list| list.into_iter().map(|p| data.data[p].item).collect())
        .collect()
}

/// A next-item split of time-ordered sequences.
#[derive(Clone, Debug)]
pub struct SequenceSplit {
    /// Each user's sequence without the last two items (the whole sequence when it has fewer than 3).
    pub train: Vec<Vec<u32>>,
    /// The second-to-last item, for users with at least 3 items.
    pub valid: Vec<Option<u32>>,
    /// The last item, for users with at least 3 items.
    pub test: Vec<Option<u32>>,
}

/// SASRec's split (Kang & McAuley 2018): per user, the last item is the test target, the one
/// before it the validation target, and the rest is training history.
pub fn sequence_split(data: &Interactions) -> SequenceSplit {
    let mut split = SequenceSplit {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for mut seq in user_sequences(data) {
        if seq.len() >= 3 {
            let test = seq.pop();
            let valid = seq.pop();
            split.test.push(test);
            split.valid.push(valid);
        } else {
            split.test.push(None);
            split.valid.push(None);
        }
        split.train.push(seq);
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::RatingScale;

    fn data(rows: &[(u32, u32, i64)]) -> Interactions {
        Interactions {
            n_users: 3,
            n_items: 5,
            data: rows
                .iter()
                .map(|&(user, item, timestamp)| Interaction {
                    user,
                    item,
                    rating: 3.0,
                    timestamp,
                })
                .collect(),
            scale: RatingScale::STARS,
        }
    }

    #[test]
    fn kfold_partitions_every_rating_once() {
        let d = data(
            &(0..11)
                .map(|k| (k % 3, k % 5, k as i64))
                .collect::<Vec<_>>(),
        );
        let folds = kfold(&d, 3, 7).unwrap();
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert_eq!(sizes, vec![4, 4, 3]);
        let mut seen: Vec<i64> = folds
            .iter()
            .flat_map(|f| f.test.data.iter().map(|x| x.timestamp))
            .collect();
        seen.sort();
        assert_eq!(seen, (0..11).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 11);
        }
        // Same seed, same folds; another seed, other folds.
        assert_eq!(kfold(&d, 3, 7).unwrap()[0].test, folds[0].test);
        assert_ne!(kfold(&d, 3, 8).unwrap()[0].test, folds[0].test);
        assert!(kfold(&d, 1, 7).is_err());
        assert!(kfold(&d, 3, 1 << 32).is_err());
        // Surprise's KFold(n_splits=3, random_state=7) on 11 ratings: NumPy's
        // RandomState(7).shuffle(np.arange(11)) is [8, 5, 0, 2, 1, 10, 7, 3, 6, 9, 4].
        let first: Vec<i64> = folds[0].test.data.iter().map(|x| x.timestamp).collect();
        assert_eq!(first, [8, 5, 0, 2]);
        assert!(
            kfold(&data(&[(0, 0, 0)]), 2, 7)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn cold_start_keeps_the_first_ratings_and_tests_the_next() {
        // User 0: t = 4, 1, 3, 2 (items 0..4) → known items 1 and 3 (t 1, 2), target item 2
        // (t 3), item 0 dropped. Users 1 and 2 have 2 and 3 ratings.
        let d = data(&[
            (0, 0, 4),
            (0, 1, 1),
            (0, 2, 3),
            (0, 3, 2),
            (1, 0, 1),
            (1, 1, 2),
            (2, 2, 1),
            (2, 3, 2),
            (2, 4, 3),
        ]);
        // With max_known 2, users 0 and 2 are eligible; fraction 1 takes both.
        let s = cold_start_split(&d, 1.0, 2, 0).unwrap();
        assert_eq!(s.cold_users, vec![0, 2]);
        let test: Vec<(u32, u32)> = s.test.iter().map(|x| (x.user, x.item)).collect();
        assert_eq!(test, vec![(0, 2), (2, 4)]);
        let mut train: Vec<(u32, u32)> = s.train.data.iter().map(|x| (x.user, x.item)).collect();
        train.sort_unstable();
        assert_eq!(train, vec![(0, 1), (0, 3), (1, 0), (1, 1), (2, 2), (2, 3)]);
        // Half of the two eligible users: one, picked by the seed.
        let s = cold_start_split(&d, 0.5, 2, 0).unwrap();
        assert_eq!(s.cold_users.len(), 1);
        assert_eq!(
            s.train.len() + 1 + usize::from(s.cold_users[0] == 0),
            d.len()
        );
        assert!(cold_start_split(&d, 0.0, 2, 0).is_err());
        // Nobody has more than 4 ratings.
        assert!(
            cold_start_split(&d, 1.0, 4, 0)
                .unwrap_err()
                .to_string()
                .contains("no user")
        );
    }

    #[test]
    fn item_cold_start_keeps_the_first_ratings_and_tests_each_users_latest() {
        // Item 2 is rated by users 1 (t 1), 0 (t 3), 2 (t 5); item 3 by users 0 (t 2), 2 (t 4).
        // Both new with max_known 1: item 2 keeps user 1's rating, item 3 user 0's; held out
        // (0, 2, t 3), (2, 2, t 5), (2, 3, t 4): user 0's target is item 2, user 2's their
        // latest, item 2 (t 5).
        let d = data(&[
            (0, 0, 1),
            (0, 2, 3),
            (1, 2, 1),
            (2, 2, 5),
            (0, 3, 2),
            (2, 3, 4),
            (1, 4, 2),
        ]);
        let s = item_cold_start_split(&d, 1.0, 1, 0).unwrap();
        // Items with more than one rating: 2 and 3.
        assert_eq!(s.cold_items, vec![2, 3]);
        let test: Vec<(u32, u32)> = s.test.iter().map(|x| (x.user, x.item)).collect();
        assert_eq!(test, vec![(0, 2), (2, 2)]);
        let mut train: Vec<(u32, u32)> = s.train.data.iter().map(|x| (x.user, x.item)).collect();
        train.sort_unstable();
        assert_eq!(train, vec![(0, 0), (0, 3), (1, 2), (1, 4)]);
        // With nothing known, every rating of a new item leaves training.
        let s = item_cold_start_split(&d, 0.5, 0, 3).unwrap();
        assert_eq!(s.cold_items.len(), 2); // round(0.5 · 4 items with a rating)
        let n_cold: usize = d
            .data
            .iter()
            .filter(|x| s.cold_items.contains(&x.item))
            .count();
        assert_eq!(s.train.len(), d.len() - n_cold);
        assert!(item_cold_start_split(&d, 1.5, 0, 0).is_err());
        assert!(item_cold_start_split(&d, 1.0, 3, 0).is_err());
    }

    #[test]
    fn leave_one_out_holds_out_the_latest() {
        // User 0: items 1 (t=5), 2 (t=9), 3 (t=9): tie at 9, the later line (item 3) is held out.
        // User 1: one rating, stays in train. User 2: items 4 (t=2), 0 (t=1).
        let d = data(&[
            (0, 1, 5),
            (0, 2, 9),
            (1, 2, 3),
            (0, 3, 9),
            (2, 4, 2),
            (2, 0, 1),
        ]);
        let loo = leave_one_out(&d).unwrap();
        let test: Vec<(u32, u32)> = loo.test.iter().map(|x| (x.user, x.item)).collect();
        assert_eq!(test, vec![(0, 3), (2, 4)]);
        assert_eq!(loo.train.len(), 4);
        assert!(leave_one_out(&data(&[(0, 1, 5), (1, 1, 5)])).is_err());
    }

    #[test]
    fn sequences_are_time_ordered_and_split_last_two() {
        let d = data(&[(0, 1, 5), (0, 2, 1), (0, 3, 9), (0, 4, 7), (1, 2, 3)]);
        assert_eq!(user_sequences(&d)[0], vec![2, 1, 4, 3]);
        let s = sequence_split(&d);
        assert_eq!(
            (s.train[0].clone(), s.valid[0], s.test[0]),
            (vec![2, 1], Some(4), Some(3))
        );
        assert_eq!((s.train[1].clone(), s.test[1]), (vec![2], None));
        assert!(s.train[2].is_empty());
    }
}
