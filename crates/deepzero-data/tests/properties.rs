//! Property tests (proptest) of the seeded index splits: `train_valid_split`,
//! `stratified_split` and `epoch_batches` partition their indices exactly, give the sizes their
//! fractions ask for (rounded), and are pure functions of their arguments.

use deepzero_data::{epoch_batches, stratified_split, train_valid_split};
use proptest::prelude::*;

/// Sorted concatenation equals `0..len`: disjoint, and covering everything.
fn is_partition(parts: &[&[usize]], len: usize) -> bool {
    let mut all: Vec<usize> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    all.sort_unstable();
    all == (0..len).collect::<Vec<_>>()
}

fn expected_valid(len: usize, fraction: f64) -> usize {
    let f = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    ((len as f64 * f).round() as usize).min(len)
}

fn fraction() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0..=1.0f64,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => -2.0..3.0f64,
        1 => Just(f64::NAN),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn train_valid_split_partitions(len in 0..2000usize, f in fraction(), seed in any::<u64>()) {
        let (train, valid) = train_valid_split(len, f, seed);
        prop_assert!(is_partition(&[&train, &valid], len));
        prop_assert_eq!(valid.len(), expected_valid(len, f));
        // Within rounding of the asked fraction.
        if (0.0..=1.0).contains(&f) {
            prop_assert!((valid.len() as f64 - len as f64 * f).abs() <= 0.5 + 1e-9);
        }
        prop_assert!(train.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(valid.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(train_valid_split(len, f, seed), (train, valid));
    }

    #[test]
    fn stratified_split_partitions_each_class(
        labels in proptest::collection::vec(0..6usize, 0..600),
        f in fraction(),
        seed in any::<u64>(),
    ) {
        let (train, valid) = stratified_split(&labels, f, seed);
        prop_assert!(is_partition(&[&train, &valid], labels.len()));
        for class in 0..6 {
            let n = labels.iter().filter(|&&l| l == class).count();
            let in_valid = valid.iter().filter(|&&i| labels[i] == class).count();
            prop_assert_eq!(in_valid, expected_valid(n, f), "class {}", class);
        }
        prop_assert!(valid.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(stratified_split(&labels, f, seed), (train, valid));
    }

    #[test]
    fn epoch_batches_partition_each_epoch(
        len in 0..1000usize,
        batch in 0..70usize,
        seed in proptest::option::of(any::<u64>()),
        epoch in 0..1000usize,
    ) {
        let batches = epoch_batches(len, batch, seed, epoch);
        let parts: Vec<&[usize]> = batches.iter().map(Vec::as_slice).collect();
        prop_assert!(is_partition(&parts, len));
        let size = batch.max(1);
        prop_assert_eq!(batches.len(), len.div_ceil(size));
        if let Some((last, full)) = batches.split_last() {
            prop_assert!(full.iter().all(|b| b.len() == size));
            prop_assert!(!last.is_empty() && last.len() <= size);
        }
        prop_assert_eq!(&epoch_batches(len, batch, seed, epoch), &batches);
        if seed.is_none() {
            prop_assert_eq!(batches.concat(), (0..len).collect::<Vec<_>>());
        }
    }
}
