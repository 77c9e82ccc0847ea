//! Classification metrics: accuracy, top-k accuracy, the confusion matrix and per-class /
//! macro / micro / weighted precision, recall and F1, following scikit-learn's definitions.
//!
//! The functions work on plain label slices; the `*_from_logits` helpers read burn tensors
//! back to the host first (one transfer per call), so the same code scores a batch or a whole
//! evaluation set.
//!
//! Definitions (for class `c`, `TP`, `FP`, `FN` from the confusion matrix):
//! `precision = TP/(TP + FP)`, `recall = TP/(TP + FN)`, `F1 = 2PR/(P + R)`; a `0/0` is 0
//! (scikit-learn's `zero_division = 0`).
//! - **macro**: the unweighted mean over the classes that occur in the targets or the
//!   predictions (scikit-learn's default `labels`), so a class that never appears does not drag
//!   the average down; macro-F1 is the mean of per-class F1s, not the F1 of the mean P and R.
//! - **micro**: computed from the summed counts. For single-label multiclass data every error is
//!   one FP and one FN, so micro precision = micro recall = micro F1 = accuracy.
//! - **weighted**: the mean weighted by support (number of true instances).

use core::fmt;

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

fn check_lengths(predictions: usize, targets: usize) -> Result<()> {
    if predictions != targets {
        return Err(CoreError::Shape(format!(
            "{predictions} predictions but {targets} targets"
        )));
    }
    if targets == 0 {
        return Err(CoreError::InvalidArgument("no samples to score".into()));
    }
    Ok(())
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn f1_of(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Fraction of `predictions` equal to `targets`.
///
/// # Errors
/// [`CoreError::Shape`] if the lengths differ, [`CoreError::InvalidArgument`] if they are empty.
pub fn accuracy(predictions: &[usize], targets: &[usize]) -> Result<f64> {
    check_lengths(predictions.len(), targets.len())?;
    let correct = predictions
        .iter()
        .zip(targets)
        .filter(|(p, t)| p == t)
        .count();
    Ok(correct as f64 / targets.len() as f64)
}

/// Top-k accuracy from row-major `scores` (`[n, num_classes]`, logits or probabilities): a
/// sample counts as correct when fewer than `k` classes score *strictly* higher than its target
/// (so ties are resolved in the target's favour).
///
/// # Errors
/// [`CoreError::InvalidArgument`] if `k == 0`, `num_classes == 0` or there are no samples,
/// [`CoreError::Shape`] if `scores.len() != targets.len() · num_classes`,
/// [`CoreError::LabelOutOfRange`] for a target `≥ num_classes`.
pub fn top_k_accuracy_from_scores(
    scores: &[f32],
    num_classes: usize,
    targets: &[usize],
    k: usize,
) -> Result<f64> {
    if k == 0 || num_classes == 0 {
        return Err(CoreError::InvalidArgument(format!(
            "top-k needs k ≥ 1 and at least one class (k = {k}, classes = {num_classes})"
        )));
    }
    if targets.is_empty() {
        return Err(CoreError::InvalidArgument("no samples to score".into()));
    }
    if scores.len() != targets.len() * num_classes {
        return Err(CoreError::Shape(format!(
            "{} scores is not {} samples × {num_classes} classes",
            scores.len(),
            targets.len()
        )));
    }
    let mut correct = 0usize;
    for (row, &t) in scores.chunks_exact(num_classes).zip(targets) {
        let target_score = *row.get(t).ok_or(CoreError::LabelOutOfRange {
            label: t,
            num_classes,
        })?;
        let higher = row.iter().filter(|&&s| s > target_score).count();
        if higher < k {
            correct += 1;
        }
    }
    Ok(correct as f64 / targets.len() as f64)
}

/// Class indices from an Int tensor `[n]`.
///
/// # Errors
/// [`CoreError::TensorRead`] if it cannot be read, [`CoreError::InvalidArgument`] for a
/// negative label.
pub fn labels_from_tensor(targets: Tensor<1, Int>) -> Result<Vec<usize>> {
    targets
        .try_into_vec_as::<i64>()?
        .into_iter()
        .map(|v| {
            usize::try_from(v)
                .map_err(|_| CoreError::InvalidArgument(format!("negative class label {v}")))
        })
        .collect()
}

/// `argmax` of each row of `logits` `[n, c]`, read back to the host.
///
/// # Errors
/// [`CoreError::TensorRead`] if the result cannot be read.
pub fn predictions_from_logits(logits: Tensor<2>) -> Result<Vec<usize>> {
    let [n, _] = logits.dims();
    labels_from_tensor(logits.argmax(1).reshape([n]))
}

/// Accuracy of `argmax(logits)` against `targets`.
///
/// # Errors
/// As [`accuracy`] and [`labels_from_tensor`].
pub fn accuracy_from_logits(logits: Tensor<2>, targets: Tensor<1, Int>) -> Result<f64> {
    accuracy(
        &predictions_from_logits(logits)?,
        &labels_from_tensor(targets)?,
    )
}

/// Top-k accuracy of `logits` `[n, c]` against `targets` `[n]` (ties as in
/// [`top_k_accuracy_from_scores`]).
///
/// # Errors
/// As [`top_k_accuracy_from_scores`] and [`labels_from_tensor`].
pub fn top_k_accuracy(logits: Tensor<2>, targets: Tensor<1, Int>, k: usize) -> Result<f64> {
    let [_, c] = logits.dims();
    let scores = logits.try_into_vec_as::<f32>()?;
    top_k_accuracy_from_scores(&scores, c, &labels_from_tensor(targets)?, k)
}

/// Precision, recall and F1 of one class, or one kind of average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// `TP / (TP + FP)`.
    pub precision: f64,
    /// `TP / (TP + FN)`.
    pub recall: f64,
    /// Harmonic mean of precision and recall (for averages: as defined per kind).
    pub f1: f64,
}

/// Per-class scores plus the class's support.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Precision, recall and F1 of the class.
    #[serde(flatten)]
    pub scores: Scores,
    /// Number of samples whose target is this class.
    pub support: u64,
}

/// Everything derived from a confusion matrix, ready to print or save as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Scores of each class, indexed by class.
    pub per_class: Vec<ClassScores>,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Unweighted mean over the classes present in targets or predictions.
    pub macro_avg: Scores,
    /// From the summed counts (equals accuracy for single-label data).
    pub micro_avg: Scores,
    /// Mean weighted by support.
    pub weighted_avg: Scores,
    /// Number of samples.
    pub total: u64,
}

impl fmt::Display for ClassificationReport {
    /// A table in the layout of scikit-learn's `classification_report`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>12} {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        for (c, s) in self.per_class.iter().enumerate() {
            writeln!(
                f,
                "{c:>12} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                s.scores.precision, s.scores.recall, s.scores.f1, s.support
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:>12} {:>9} {:>9} {:>9.4} {:>9}",
            "accuracy", "", "", self.accuracy, self.total
        )?;
        for (name, s) in [
            ("macro avg", self.macro_avg),
            ("micro avg", self.micro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            writeln!(
                f,
                "{name:>12} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                s.precision, s.recall, s.f1, self.total
            )?;
        }
        Ok(())
    }
}

/// Counts `m[target][prediction]` over a labelled set (rows: true class, columns: predicted
/// class, as in scikit-learn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    num_classes: usize,
    /// Row-major `[num_classes × num_classes]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    /// Counts one sample.
    ///
    /// # Errors
    /// [`CoreError::LabelOutOfRange`] if either label is `≥ num_classes`.
    pub fn add(&mut self, prediction: usize, target: usize) -> Result<()> {
        for label in [prediction, target] {
            if label >= self.num_classes {
                return Err(CoreError::LabelOutOfRange {
                    label,
                    num_classes: self.num_classes,
                });
            }
        }
        self.counts[target * self.num_classes + prediction] += 1;
        Ok(())
    }

    /// Counts a batch of samples (all or nothing: on error nothing is added).
    ///
    /// # Errors
    /// [`CoreError::Shape`] if the lengths differ, [`CoreError::LabelOutOfRange`] for a label
    /// `≥ num_classes`.
    pub fn add_batch(&mut self, predictions: &[usize], targets: &[usize]) -> Result<()> {
        if predictions.len() != targets.len() {
            return Err(CoreError::Shape(format!(
                "{} predictions but {} targets",
                predictions.len(),
                targets.len()
            )));
        }
        let mut next = self.clone();
        for (&p, &t) in predictions.iter().zip(targets) {
            next.add(p, t)?;
        }
        *self = next;
        Ok(())
    }

    /// A matrix filled from label slices.
    ///
    /// # Errors
    /// As [`add_batch`](Self::add_batch).
    pub fn from_predictions(
        predictions: &[usize],
        targets: &[usize],
        num_classes: usize,
    ) -> Result<Self> {
        let mut m = Self::new(num_classes);
        m.add_batch(predictions, targets)?;
        Ok(m)
    }

    /// A matrix from `argmax(logits)` (`[n, c]`, `c` classes) against `targets` (`[n]`).
    ///
    /// # Errors
    /// As [`add_batch`](Self::add_batch) and [`labels_from_tensor`].
    pub fn from_logits(logits: Tensor<2>, targets: Tensor<1, Int>) -> Result<Self> {
        let [_, c] = logits.dims();
        Self::from_predictions(
            &predictions_from_logits(logits)?,
            &labels_from_tensor(targets)?,
            c,
        )
    }

    /// Adds another matrix's counts (e.g. from another batch or worker).
    ///
    /// # Errors
    /// [`CoreError::Shape`] if the class counts differ.
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        if other.num_classes != self.num_classes {
            return Err(CoreError::Shape(format!(
                "cannot merge {} classes into {}",
                other.num_classes, self.num_classes
            )));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Samples of class `target` predicted as `prediction` (0 when out of range).
    pub fn count(&self, target: usize, prediction: usize) -> u64 {
        if target < self.num_classes && prediction < self.num_classes {
            self.counts[target * self.num_classes + prediction]
        } else {
            0
        }
    }

    /// Row `target` (counts per predicted class).
    ///
    /// # Panics
    /// If `target >= num_classes`.
    pub fn row(&self, target: usize) -> &[u64] {
        &self.counts[target * self.num_classes..(target + 1) * self.num_classes]
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of correct predictions (the trace).
    pub fn correct(&self) -> u64 {
        (0..self.num_classes).map(|c| self.count(c, c)).sum()
    }

    /// `TP` of class `c`.
    pub fn true_positives(&self, c: usize) -> u64 {
        self.count(c, c)
    }

    /// `FP` of class `c`: predicted `c`, true class something else (column sum minus `TP`).
    pub fn false_positives(&self, c: usize) -> u64 {
        (0..self.num_classes).map(|t| self.count(t, c)).sum::<u64>() - self.true_positives(c)
    }

    /// `FN` of class `c`: true class `c`, predicted something else (row sum minus `TP`).
    pub fn false_negatives(&self, c: usize) -> u64 {
        self.support(c) - self.true_positives(c)
    }

    /// Number of samples whose true class is `c`.
    pub fn support(&self, c: usize) -> u64 {
        (0..self.num_classes).map(|p| self.count(c, p)).sum()
    }

    /// Fraction correct (0 for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Precision, recall and F1 of class `c`.
    pub fn class_scores(&self, c: usize) -> Scores {
        let tp = self.true_positives(c);
        let precision = ratio(tp, tp + self.false_positives(c));
        let recall = ratio(tp, tp + self.false_negatives(c));
        Scores {
            precision,
            recall,
            f1: f1_of(precision, recall),
        }
    }

    /// Classes that occur among the targets or the predictions.
    fn active_classes(&self) -> Vec<usize> {
        (0..self.num_classes)
            .filter(|&c| self.support(c) + self.false_positives(c) > 0)
            .collect()
    }

    /// Unweighted mean of the per-class scores over the classes present (see module docs).
    pub fn macro_average(&self) -> Scores {
        let active = self.active_classes();
        if active.is_empty() {
            return Scores {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
            };
        }
        let n = active.len() as f64;
        let sum = active.iter().fold((0.0, 0.0, 0.0), |acc, &c| {
            let s = self.class_scores(c);
            (acc.0 + s.precision, acc.1 + s.recall, acc.2 + s.f1)
        });
        Scores {
            precision: sum.0 / n,
            recall: sum.1 / n,
            f1: sum.2 / n,
        }
    }

    /// Scores from the summed `TP`, `FP`, `FN` over all classes.
    pub fn micro_average(&self) -> Scores {
        let tp = self.correct();
        let fp: u64 = (0..self.num_classes).map(|c| self.false_positives(c)).sum();
        let fne: u64 = (0..self.num_classes).map(|c| self.false_negatives(c)).sum();
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fne);
        Scores {
            precision,
            recall,
            f1: f1_of(precision, recall),
        }
    }

    /// Per-class scores averaged with the supports as weights.
    pub fn weighted_average(&self) -> Scores {
        let total = self.total();
        if total == 0 {
            return Scores {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
            };
        }
        let sum = (0..self.num_classes).fold((0.0, 0.0, 0.0), |acc, c| {
            let s = self.class_scores(c);
            let w = self.support(c) as f64;
            (
                acc.0 + w * s.precision,
                acc.1 + w * s.recall,
                acc.2 + w * s.f1,
            )
        });
        let t = total as f64;
        Scores {
            precision: sum.0 / t,
            recall: sum.1 / t,
            f1: sum.2 / t,
        }
    }

    /// Macro-averaged precision.
    pub fn macro_precision(&self) -> f64 {
        self.macro_average().precision
    }

    /// Macro-averaged recall.
    pub fn macro_recall(&self) -> f64 {
        self.macro_average().recall
    }

    /// Macro-averaged F1 (mean of per-class F1).
    pub fn macro_f1(&self) -> f64 {
        self.macro_average().f1
    }

    /// Micro-averaged precision.
    pub fn micro_precision(&self) -> f64 {
        self.micro_average().precision
    }

    /// Micro-averaged recall.
    pub fn micro_recall(&self) -> f64 {
        self.micro_average().recall
    }

    /// Micro-averaged F1.
    pub fn micro_f1(&self) -> f64 {
        self.micro_average().f1
    }

    /// The full report.
    pub fn report(&self) -> ClassificationReport {
        ClassificationReport {
            per_class: (0..self.num_classes)
                .map(|c| ClassScores {
                    scores: self.class_scores(c),
                    support: self.support(c),
                })
                .collect(),
            accuracy: self.accuracy(),
            macro_avg: self.macro_average(),
            micro_avg: self.micro_average(),
            weighted_avg: self.weighted_average(),
            total: self.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    // y_true = [0, 1, 2, 2, 2, 1, 0, 0, 3], y_pred = [0, 2, 2, 2, 1, 1, 0, 1, 0].
    // Confusion (rows true, columns predicted):
    //   [[2, 1, 0, 0],
    //    [0, 1, 1, 0],
    //    [0, 1, 2, 0],
    //    [1, 0, 0, 0]]
    // class 0: TP 2, FP 1, FN 1 → P = R = F1 = 2/3
    // class 1: TP 1, FP 2, FN 1 → P = 1/3, R = 1/2, F1 = 2/5
    // class 2: TP 2, FP 1, FN 1 → 2/3 each
    // class 3: TP 0, FP 0, FN 1 → 0 (0/0 → 0), support 1
    // macro: P = (2/3 + 1/3 + 2/3 + 0)/4 = 5/12, R = 11/24, F1 = 13/30
    // weighted (supports 3, 2, 3, 1): P = 14/27, R = 5/9, F1 = 8/15; accuracy = 5/9.
    // These are the values of sklearn.metrics.classification_report(y_true, y_pred).
    const Y_TRUE: [usize; 9] = [0, 1, 2, 2, 2, 1, 0, 0, 3];
    const Y_PRED: [usize; 9] = [0, 2, 2, 2, 1, 1, 0, 1, 0];

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn confusion_matrix_counts() {
        let m = ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 4).unwrap();
        assert_eq!(m.row(0), &[2, 1, 0, 0]);
        assert_eq!(m.row(1), &[0, 1, 1, 0]);
        assert_eq!(m.row(2), &[0, 1, 2, 0]);
        assert_eq!(m.row(3), &[1, 0, 0, 0]);
        assert_eq!((m.total(), m.correct()), (9, 5));
        assert_eq!(
            (
                m.true_positives(1),
                m.false_positives(1),
                m.false_negatives(1)
            ),
            (1, 2, 1)
        );
    }

    #[test]
    fn per_class_and_averages_match_hand_computation() {
        let m = ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 4).unwrap();
        let c1 = m.class_scores(1);
        close(c1.precision, 1.0 / 3.0);
        close(c1.recall, 0.5);
        close(c1.f1, 0.4);
        assert_eq!(m.class_scores(3).f1, 0.0);
        close(m.macro_precision(), 5.0 / 12.0);
        close(m.macro_recall(), 11.0 / 24.0);
        close(m.macro_f1(), 13.0 / 30.0);
        let w = m.weighted_average();
        close(w.precision, 14.0 / 27.0);
        close(w.recall, 5.0 / 9.0);
        close(w.f1, 8.0 / 15.0);
        close(m.accuracy(), 5.0 / 9.0);
    }

    #[test]
    fn micro_f1_equals_accuracy_for_single_label_data() {
        let m = ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 4).unwrap();
        close(m.micro_precision(), m.accuracy());
        close(m.micro_recall(), m.accuracy());
        close(m.micro_f1(), m.accuracy());
        close(accuracy(&Y_PRED, &Y_TRUE).unwrap(), 5.0 / 9.0);
    }

    #[test]
    fn absent_classes_do_not_change_the_macro_average() {
        // A fifth class that never occurs is left out, like sklearn's default `labels`.
        let m5 = ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 5).unwrap();
        close(m5.macro_f1(), 13.0 / 30.0);
        assert_eq!(m5.report().per_class.len(), 5);
    }

    #[test]
    fn errors_for_bad_input() {
        let mut m = ConfusionMatrix::new(3);
        assert!(matches!(
            m.add(3, 0),
            Err(CoreError::LabelOutOfRange { label: 3, .. })
        ));
        assert!(m.add_batch(&[0, 1], &[0]).is_err());
        // All or nothing.
        assert!(m.add_batch(&[0, 1, 5], &[0, 1, 2]).is_err());
        assert_eq!(m.total(), 0);
        assert!(accuracy(&[], &[]).is_err());
        assert!(m.merge(&ConfusionMatrix::new(2)).is_err());
        assert_eq!(m.accuracy(), 0.0);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = ConfusionMatrix::from_predictions(&Y_PRED[..4], &Y_TRUE[..4], 4).unwrap();
        let b = ConfusionMatrix::from_predictions(&Y_PRED[4..], &Y_TRUE[4..], 4).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(
            a,
            ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 4).unwrap()
        );
    }

    #[test]
    fn tensor_helpers() {
        let logits = Tensor::<2>::from_floats(
            [
                [2.0, 1.0, 0.1], // pred 0, target 0 ✓          top-2 ✓
                [0.5, 0.2, 0.9], // pred 2, target 1 ✗ (rank 3) top-2 ✗
                [0.3, 0.4, 0.1], // pred 1, target 0 ✗ (rank 2) top-2 ✓
                [0.0, 0.0, 5.0], // pred 2, target 2 ✓          top-2 ✓
            ],
            &device(),
        );
        let targets = Tensor::<1, Int>::from_ints([0, 1, 0, 2], &device());
        close(
            accuracy_from_logits(logits.clone(), targets.clone()).unwrap(),
            0.5,
        );
        close(
            top_k_accuracy(logits.clone(), targets.clone(), 1).unwrap(),
            0.5,
        );
        close(
            top_k_accuracy(logits.clone(), targets.clone(), 2).unwrap(),
            0.75,
        );
        close(
            top_k_accuracy(logits.clone(), targets.clone(), 3).unwrap(),
            1.0,
        );
        assert!(top_k_accuracy(logits.clone(), targets.clone(), 0).is_err());
        let m = ConfusionMatrix::from_logits(logits, targets).unwrap();
        assert_eq!(m.row(0), &[1, 1, 0]);
        assert_eq!(m.row(1), &[0, 0, 1]);
    }

    #[test]
    fn top_k_ties_count_for_the_target() {
        // Target 1 ties with class 0 at the top: neither is strictly higher, so top-1 hit.
        let s = [1.0f32, 1.0, 0.0];
        close(top_k_accuracy_from_scores(&s, 3, &[1], 1).unwrap(), 1.0);
        assert!(top_k_accuracy_from_scores(&s, 3, &[3], 1).is_err());
        assert!(top_k_accuracy_from_scores(&s[..2], 3, &[0], 1).is_err());
    }

    #[test]
    fn report_serializes_and_prints() {
        let m = ConfusionMatrix::from_predictions(&Y_PRED, &Y_TRUE, 4).unwrap();
        let report = m.report();
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"support\":3"), "{json}");
        let back: ClassificationReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        let mj = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ConfusionMatrix>(&mj).unwrap(), m);
        let text = report.to_string();
        assert!(
            text.contains("macro avg") && text.contains("0.4333"),
            "{text}"
        );
    }
}
