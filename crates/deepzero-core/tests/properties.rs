//! Property tests (proptest) of the classification metrics: accuracy, and the confusion
//! matrix's sums and derived scores.

use deepzero_core::ConfusionMatrix;
use deepzero_core::metrics::accuracy;
use proptest::prelude::*;

/// `(predictions, targets, num_classes)` with every label below `num_classes`.
fn labelled() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, usize)> {
    (1..8usize, 1..300usize).prop_flat_map(|(k, n)| {
        (
            proptest::collection::vec(0..k, n),
            proptest::collection::vec(0..k, n),
            Just(k),
        )
    })
}

fn in_unit(v: f64) -> bool {
    (0.0..=1.0).contains(&v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn confusion_matrix_sums((pred, target, k) in labelled()) {
        let m = ConfusionMatrix::from_predictions(&pred, &target, k).unwrap();
        let n = target.len() as u64;
        prop_assert_eq!(m.total(), n);
        let rows: u64 = (0..k).map(|c| m.row(c).iter().sum::<u64>()).sum();
        prop_assert_eq!(rows, n);
        for c in 0..k {
            let support = target.iter().filter(|&&t| t == c).count() as u64;
            let predicted = pred.iter().filter(|&&p| p == c).count() as u64;
            prop_assert_eq!(m.support(c), support);
            prop_assert_eq!(m.true_positives(c) + m.false_positives(c), predicted);
            prop_assert_eq!(m.true_positives(c) + m.false_negatives(c), support);
            let s = m.class_scores(c);
            prop_assert!(in_unit(s.precision) && in_unit(s.recall) && in_unit(s.f1), "{:?}", s);
        }
        let acc = accuracy(&pred, &target).unwrap();
        prop_assert!(in_unit(acc));
        prop_assert!((m.accuracy() - acc).abs() < 1e-12);
        prop_assert_eq!(m.correct(), pred.iter().zip(&target).filter(|(p, t)| p == t).count() as u64);
        // Single-label micro precision = micro recall = accuracy.
        let micro = m.micro_average();
        prop_assert!((micro.precision - acc).abs() < 1e-12 && (micro.recall - acc).abs() < 1e-12);
        for s in [m.macro_average(), m.weighted_average(), micro] {
            prop_assert!(in_unit(s.precision) && in_unit(s.recall) && in_unit(s.f1), "{:?}", s);
        }
    }

    #[test]
    fn perfect_predictions_score_one((_, target, k) in labelled()) {
        let m = ConfusionMatrix::from_predictions(&target, &target, k).unwrap();
        prop_assert_eq!(accuracy(&target, &target).unwrap(), 1.0);
        prop_assert_eq!(m.correct(), m.total());
        for s in [m.macro_average(), m.micro_average(), m.weighted_average()] {
            prop_assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
        }
    }

    /// Merging the matrices of two halves equals the matrix of the whole.
    #[test]
    fn merge_equals_the_whole((pred, target, k) in labelled(), cut in any::<prop::sample::Index>()) {
        let at = cut.index(target.len() + 1);
        let mut a = ConfusionMatrix::from_predictions(&pred[..at], &target[..at], k).unwrap();
        let b = ConfusionMatrix::from_predictions(&pred[at..], &target[at..], k).unwrap();
        a.merge(&b).unwrap();
        let whole = ConfusionMatrix::from_predictions(&pred, &target, k).unwrap();
        for t in 0..k {
            prop_assert_eq!(a.row(t), whole.row(t));
        }
    }

    /// A label out of range is an error, not a panic.
    #[test]
    fn out_of_range_labels_are_errors((pred, mut target, k) in labelled(), at in any::<prop::sample::Index>()) {
        let i = at.index(target.len());
        target[i] = k + i;
        prop_assert!(ConfusionMatrix::from_predictions(&pred, &target, k).is_err());
        prop_assert!(accuracy(&pred, &target[..target.len() - 1]).is_err());
    }
}
