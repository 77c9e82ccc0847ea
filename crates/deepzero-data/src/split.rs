//! Seeded, deterministic index splits and per-epoch batch orders.
//!
//! Everything here works on indices only, so it applies to any dataset, and everything is a
//! pure function of its arguments: the same seed gives the same split on every machine, and a
//! run resumed at epoch `e` sees exactly the batches an uninterrupted run would have seen.

use std::collections::BTreeSet;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::DataError;

/// Mixes several numbers into one well-spread 64-bit seed (SplitMix64 finaliser over each
/// part), so that nearby inputs such as `(seed, epoch)` and `(seed, epoch + 1)` give unrelated
/// random streams.
pub(crate) fn mix_seed(parts: &[u64]) -> u64 {
    fn splitmix64(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    parts
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |h, &p| splitmix64(h ^ splitmix64(p)))
}

/// The number of validation items for `len` items: `round(len × fraction)`, with the fraction
/// clamped to `[0, 1]` (NaN counts as 0).
fn valid_count(len: usize, valid_fraction: f64) -> usize {
    let fraction = if valid_fraction.is_nan() {
        0.0
    } else {
        valid_fraction.clamp(0.0, 1.0)
    };
    // The product is in [0, len], so the cast cannot truncate.
    ((len as f64 * fraction).round() as usize).min(len)
}

/// Splits `0..len` at random into `(train, valid)` with `round(len × valid_fraction)`
/// validation indices. Both lists are sorted; together they cover `0..len` exactly once.
pub fn train_valid_split(len: usize, valid_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(mix_seed(&[seed])));
    let mut valid = order.split_off(len - valid_count(len, valid_fraction));
    order.sort_unstable();
    valid.sort_unstable();
    (order, valid)
}

/// Like [`train_valid_split`], but draws `round(n_k × valid_fraction)` validation indices
/// from each class `k` separately, so that both parts keep the class proportions of `labels`.
pub fn stratified_split(
    labels: &[usize],
    valid_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let num_classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        by_class[label].push(i);
    }
    let mut rng = StdRng::seed_from_u64(mix_seed(&[seed]));
    let mut train = Vec::with_capacity(labels.len());
    let mut valid = Vec::new();
    for mut members in by_class {
        members.shuffle(&mut rng);
        let n_valid = valid_count(members.len(), valid_fraction);
        valid.extend_from_slice(&members[..n_valid]);
        train.extend_from_slice(&members[n_valid..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

/// Class-balanced sampling by oversampling: `indices` (into `labels`) with the members of
/// every class but the largest repeated until each class has about as many as the largest —
/// whole copies, then a seeded choice for the remainder. The result is sorted; a class absent
/// from `indices` stays absent. With already balanced classes it is `indices`, sorted.
pub fn balanced_oversample(labels: &[usize], indices: &[usize], seed: u64) -> Vec<usize> {
    let num_classes = indices
        .iter()
        .filter_map(|&i| labels.get(i))
        .max()
        .map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for &i in indices {
        if let Some(&label) = labels.get(i) {
            by_class[label].push(i);
        }
    }
    let target = by_class.iter().map(Vec::len).max().unwrap_or(0);
    let mut rng = StdRng::seed_from_u64(mix_seed(&[seed, 0x0ba1_a4ce]));
    let mut out = Vec::with_capacity(target * num_classes);
    for members in by_class.iter().filter(|m| !m.is_empty()) {
        for _ in 0..target / members.len() {
            out.extend_from_slice(members);
        }
        let mut rest = members.clone();
        rest.shuffle(&mut rng);
        out.extend_from_slice(&rest[..target % members.len()]);
    }
    out.sort_unstable();
    out
}

/// Checks that a split is big enough for its use: at least one item when `min_classes >= 1`,
/// and at least `min_classes` distinct labels among `labels`. Call it where splits are made:
/// with 2 for a split a classifier is evaluated on (an accuracy over no items, or over one
/// class, is a number that means nothing), 1 for a training or validation split, 0 for a split
/// that may be empty (a validation fraction of 0).
///
/// # Errors
/// [`DataError::SplitTooSmall`] naming the split, its size and what it lacks.
pub fn check_split(split: &str, labels: &[usize], min_classes: usize) -> Result<(), DataError> {
    let too_small = |reason: String| DataError::SplitTooSmall {
        split: split.to_string(),
        size: labels.len(),
        reason,
    };
    if min_classes == 0 {
        return Ok(());
    }
    if labels.is_empty() {
        return Err(too_small(
            "it is empty; the corpus is too small for this split (add data or change the split fractions)"
                .into(),
        ));
    }
    let classes: BTreeSet<usize> = labels.iter().copied().collect();
    if classes.len() < min_classes {
        let list: Vec<String> = classes.iter().map(usize::to_string).collect();
        return Err(too_small(format!(
            "it holds {} class{} ({}); at least {min_classes} are needed to evaluate a classifier",
            classes.len(),
            if classes.len() == 1 { "" } else { "es" },
            list.join(", ")
        )));
    }
    Ok(())
}

/// The batches of one epoch over `0..len`, each of `batch_size` indices except possibly the
/// last (kept, not dropped). With `shuffle_seed = Some(s)` the order is a permutation seeded by
/// `(s, epoch)`, so it is the same every time that epoch is replayed (a resumed run) and
/// differs between epochs; with `None` it is `0..len` in order. A `batch_size` of 0 is
/// treated as 1.
pub fn epoch_batches(
    len: usize,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..len).collect();
    if let Some(seed) = shuffle_seed {
        order.shuffle(&mut StdRng::seed_from_u64(mix_seed(&[seed, epoch as u64])));
    }
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_one_class_splits_are_named_errors() {
        // One document per class, split 80/20 per class: round(0.2) = 0 → an empty test split,
        // the case that used to train and report 0.00 %.
        let labels = [0, 1, 2];
        let (_, test) = stratified_split(&labels, 0.2, 7);
        assert!(test.is_empty());
        let test_labels: Vec<usize> = test.iter().map(|&i| labels[i]).collect();
        let err = check_split("test", &test_labels, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "test split of 0 items: it is empty; the corpus is too small for this split (add data \
             or change the split fractions)"
        );

        let err = check_split("test", &[1, 1, 1], 2).unwrap_err().to_string();
        assert_eq!(
            err,
            "test split of 3 items: it holds 1 class (1); at least 2 are needed to evaluate a \
             classifier"
        );
        assert!(check_split("test", &[1, 0, 1], 2).is_ok());
        // A training or validation split needs items, not classes; 0 accepts anything.
        assert!(check_split("validation", &[3], 1).is_ok());
        assert!(check_split("validation", &[], 1).is_err());
        assert!(check_split("validation", &[], 0).is_ok());
    }

    fn assert_partition(train: &[usize], valid: &[usize], len: usize) {
        let mut all: Vec<usize> = train.iter().chain(valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..len).collect::<Vec<_>>(), "disjoint and covering");
    }

    #[test]
    fn split_is_disjoint_covering_deterministic() {
        let (train, valid) = train_valid_split(100, 0.2, 7);
        assert_eq!((train.len(), valid.len()), (80, 20));
        assert_partition(&train, &valid, 100);
        assert_eq!(
            train_valid_split(100, 0.2, 7),
            (train.clone(), valid.clone())
        );
        assert_ne!(train_valid_split(100, 0.2, 8).1, valid);
        assert!(valid.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn split_edge_fractions() {
        assert_eq!(train_valid_split(10, 0.0, 1).1.len(), 0);
        assert_eq!(train_valid_split(10, 1.0, 1).0.len(), 0);
        assert_eq!(train_valid_split(10, 7.0, 1).1.len(), 10);
        assert_eq!(train_valid_split(10, f64::NAN, 1).1.len(), 0);
        assert_eq!(train_valid_split(0, 0.5, 1), (vec![], vec![]));
    }

    #[test]
    fn stratified_keeps_class_ratios() {
        // 60 of class 0, 30 of class 1, 10 of class 2, interleaved.
        let labels: Vec<usize> = (0..100)
            .map(|i| match i % 10 {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            })
            .collect();
        let (train, valid) = stratified_split(&labels, 0.2, 3);
        assert_partition(&train, &valid, 100);
        let count = |idx: &[usize], k: usize| idx.iter().filter(|&&i| labels[i] == k).count();
        assert_eq!(
            [count(&valid, 0), count(&valid, 1), count(&valid, 2)],
            [12, 6, 2]
        );
        assert_eq!(
            [count(&train, 0), count(&train, 1), count(&train, 2)],
            [48, 24, 8]
        );
        assert_eq!(stratified_split(&labels, 0.2, 3), (train, valid));
        assert_eq!(stratified_split(&[], 0.5, 0), (vec![], vec![]));
    }

    #[test]
    fn epoch_batches_per_epoch() {
        let e0 = epoch_batches(10, 4, Some(1), 0);
        assert_eq!(e0.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut flat: Vec<usize> = e0.concat();
        flat.sort_unstable();
        assert_eq!(flat, (0..10).collect::<Vec<_>>());
        assert_eq!(
            epoch_batches(10, 4, Some(1), 0),
            e0,
            "same epoch, same order"
        );
        assert_ne!(
            epoch_batches(10, 4, Some(1), 1),
            e0,
            "next epoch reshuffles"
        );
        assert_ne!(epoch_batches(10, 4, Some(2), 0), e0, "seed matters");
        assert_eq!(
            epoch_batches(5, 2, None, 3),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        assert_eq!(epoch_batches(3, 0, None, 0).len(), 3);
        assert!(epoch_batches(0, 4, Some(1), 0).is_empty());
    }

    #[test]
    fn mixed_seeds_differ() {
        assert_ne!(mix_seed(&[1, 0]), mix_seed(&[1, 1]));
        assert_ne!(mix_seed(&[1, 2]), mix_seed(&[2, 1]));
        assert_eq!(mix_seed(&[5, 6, 7]), mix_seed(&[5, 6, 7]));
    }

    #[test]
    fn oversampling_balances_the_classes() {
        // Class 0: 6 items, class 1: 2, class 2: 4 (one left out of `indices`).
        let labels = [0, 0, 1, 0, 2, 0, 2, 1, 0, 2, 0, 2, 2];
        let indices: Vec<usize> = (0..12).collect();
        let out = balanced_oversample(&labels, &indices, 7);
        let count = |c: usize| out.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (6, 6, 6));
        // Class 1 is repeated three times exactly; class 2 (4 items: 4, 6, 9, 11) once and then
        // two of them again; nothing outside `indices` appears.
        assert_eq!(out.iter().filter(|&&i| i == 2).count(), 3);
        assert!(!out.contains(&12));
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(out, balanced_oversample(&labels, &indices, 7));
        // Balanced classes are left as they are.
        let even = [0, 1, 0, 1];
        assert_eq!(
            balanced_oversample(&even, &[3, 0, 1, 2], 1),
            vec![0, 1, 2, 3]
        );
        assert!(balanced_oversample(&even, &[], 1).is_empty());
    }
}
