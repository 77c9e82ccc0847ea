//! Segmentation metrics from a confusion matrix, as torchvision's segmentation references
//! (`references/segmentation/utils.py::ConfusionMatrix`) and torchmetrics compute them.
//!
//! Every metric is a function of one `K × K` matrix `M` of pixel counts, `M[t][p]` = pixels of
//! true class `t` predicted as `p`, accumulated over a whole dataset (not averaged per image):
//!
//! - pixel accuracy `Σ_k M[k][k] / Σ M`;
//! - per-class IoU (Jaccard) `M[k][k] / (Σ_p M[k][p] + Σ_t M[t][k] − M[k][k])`
//!   (true positives over the union of the true and the predicted region);
//! - per-class Dice (F1) `2·M[k][k] / (Σ_p M[k][p] + Σ_t M[t][k])`;
//! - mean IoU / mean Dice: the mean over the classes **present**, those whose union is not
//!   empty (in the targets or the predictions). torchvision's reference divides 0 by 0 for an
//!   absent class and reports `nan`; averaging the others is `torch.nanmean` of its `iu`.
//!
//! The counts are deepzero-core's [`deepzero_core::ConfusionMatrix`], the one the classifiers
//! report. Pixels whose target is the ignore index (255 by default, the VOC/COCO "void" border) are
//! left out of the matrix, whatever the prediction there.

use serde::Serialize;
use serde_json::{Value, json};

/// The target value of pixels that no metric or loss counts (VOC's and COCO's "void").
pub const IGNORE_INDEX: usize = 255;

/// A class id outside `0..num_classes` (and not the ignore index) in a mask or a prediction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// A target class out of range.
    #[error(
        "target class {class} at pixel {pixel} is outside 0..{num_classes} (and not the ignore index {IGNORE_INDEX})"
    )]
    TargetOutOfRange {
        /// The value found.
        class: usize,
        /// Its position in the slice.
        pixel: usize,
        /// The number of classes.
        num_classes: usize,
    },
    /// A predicted class out of range.
    #[error("predicted class {class} at pixel {pixel} is outside 0..{num_classes}")]
    PredictionOutOfRange {
        /// The value found.
        class: usize,
        /// Its position in the slice.
        pixel: usize,
        /// The number of classes.
        num_classes: usize,
    },
    /// Targets and predictions of different lengths.
    #[error("{targets} target pixels but {predictions} predicted pixels")]
    LengthMismatch {
        /// Target pixels.
        targets: usize,
        /// Predicted pixels.
        predictions: usize,
    },
    /// Two matrices of different class counts merged.
    #[error("cannot merge a {0}-class confusion matrix into a {1}-class one")]
    ClassMismatch(usize, usize),
}

/// Pixel counts of (true class, predicted class) over a dataset: deepzero-core's
/// [`deepzero_core::ConfusionMatrix`] (the classifiers' matrix) fed only the pixels whose target
/// is not the ignore index, with the segmentation metrics on top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    ignore_index: Option<usize>,
    counts: deepzero_core::ConfusionMatrix,
}

impl ConfusionMatrix {
    /// An empty matrix over `num_classes` classes that skips targets equal to [`IGNORE_INDEX`].
    pub fn new(num_classes: usize) -> Self {
        Self {
            ignore_index: Some(IGNORE_INDEX),
            counts: deepzero_core::ConfusionMatrix::new(num_classes),
        }
    }

    /// The same matrix skipping targets equal to `ignore` instead (`None`: count every pixel).
    pub fn with_ignore_index(mut self, ignore: Option<usize>) -> Self {
        self.ignore_index = ignore;
        self
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.counts.num_classes()
    }

    /// `M[target][prediction]`.
    pub fn count(&self, target: usize, prediction: usize) -> u64 {
        self.counts.count(target, prediction)
    }

    /// The matrix as rows (one per true class).
    pub fn rows(&self) -> Vec<Vec<u64>> {
        (0..self.num_classes())
            .map(|t| self.counts.row(t).to_vec())
            .collect()
    }

    /// Adds the pixels of one or more masks: `targets[i]` is the true class of pixel `i`,
    /// `predictions[i]` the predicted one. Checks everything before counting anything, so a
    /// failed update leaves the matrix as it was.
    pub fn update(&mut self, targets: &[usize], predictions: &[usize]) -> Result<(), MetricError> {
        if targets.len() != predictions.len() {
            return Err(MetricError::LengthMismatch {
                targets: targets.len(),
                predictions: predictions.len(),
            });
        }
        let k = self.num_classes();
        let (mut kept_targets, mut kept_predictions) = (Vec::new(), Vec::new());
        for (pixel, (&t, &p)) in targets.iter().zip(predictions).enumerate() {
            if Some(t) == self.ignore_index {
                continue;
            }
            if t >= k {
                return Err(MetricError::TargetOutOfRange {
                    class: t,
                    pixel,
                    num_classes: k,
                });
            }
            if p >= k {
                return Err(MetricError::PredictionOutOfRange {
                    class: p,
                    pixel,
                    num_classes: k,
                });
            }
            kept_targets.push(t);
            kept_predictions.push(p);
        }
        // Every id was checked above, so the core matrix cannot refuse them.
        self.counts
            .add_batch(&kept_predictions, &kept_targets)
            .map_err(|_| MetricError::ClassMismatch(k, k))
    }

    /// Adds another matrix's counts (e.g. of another batch or worker).
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<(), MetricError> {
        self.counts
            .merge(&other.counts)
            .map_err(|_| MetricError::ClassMismatch(other.num_classes(), self.num_classes()))
    }

    /// Pixels counted (ignored ones excluded).
    pub fn total(&self) -> u64 {
        self.counts.total()
    }

    fn diagonal(&self, k: usize) -> u64 {
        self.counts.true_positives(k)
    }

    /// Pixels whose true class is `k` (row sum).
    pub fn target_pixels(&self, k: usize) -> u64 {
        self.counts.support(k)
    }

    /// Pixels predicted as `k` (column sum).
    pub fn predicted_pixels(&self, k: usize) -> u64 {
        self.counts.false_positives(k) + self.counts.true_positives(k)
    }

    /// Fraction of counted pixels predicted right (0 for an empty matrix).
    pub fn pixel_accuracy(&self) -> f64 {
        ratio(self.counts.correct(), self.total()).unwrap_or(0.0)
    }

    /// Per-class recall (torchvision's `acc`): `None` where the class has no true pixel.
    pub fn class_accuracy(&self) -> Vec<Option<f64>> {
        (0..self.num_classes())
            .map(|k| ratio(self.diagonal(k), self.target_pixels(k)))
            .collect()
    }

    /// Per-class IoU: `None` for a class absent from both targets and predictions.
    pub fn class_iou(&self) -> Vec<Option<f64>> {
        (0..self.num_classes())
            .map(|k| {
                let tp = self.diagonal(k);
                ratio(tp, self.target_pixels(k) + self.predicted_pixels(k) - tp)
            })
            .collect()
    }

    /// Per-class Dice: `None` for a class absent from both targets and predictions.
    pub fn class_dice(&self) -> Vec<Option<f64>> {
        (0..self.num_classes())
            .map(|k| {
                ratio(
                    2 * self.diagonal(k),
                    self.target_pixels(k) + self.predicted_pixels(k),
                )
            })
            .collect()
    }

    /// Mean IoU over the classes present (0 for an empty matrix).
    pub fn mean_iou(&self) -> f64 {
        mean_present(&self.class_iou())
    }

    /// Mean Dice over the classes present (0 for an empty matrix).
    pub fn mean_dice(&self) -> f64 {
        mean_present(&self.class_dice())
    }

    /// All metrics as JSON: `pixel_accuracy`, `mean_iou`, `mean_dice`, and per class (by name)
    /// `iou`, `dice`, `accuracy` and `pixels` (`null` where a class is absent).
    pub fn report(&self, class_names: &[String]) -> Value {
        let (iou, dice, acc) = (self.class_iou(), self.class_dice(), self.class_accuracy());
        let classes: Vec<Value> = (0..self.num_classes())
            .map(|k| {
                json!({
                    "class": class_names.get(k).cloned().unwrap_or_else(|| k.to_string()),
                    "iou": iou[k],
                    "dice": dice[k],
                    "accuracy": acc[k],
                    "pixels": self.target_pixels(k),
                })
            })
            .collect();
        json!({
            "pixel_accuracy": self.pixel_accuracy(),
            "mean_iou": self.mean_iou(),
            "mean_dice": self.mean_dice(),
            "pixels": self.total(),
            "classes": classes,
        })
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn mean_present(values: &[Option<f64>]) -> f64 {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        0.0
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    /// 3 classes, 8 pixels (one ignored), worked by hand:
    /// ```text
    /// target 0 0 1 1 1 2 255 0
    /// pred   0 1 1 1 0 0  2  0
    /// ```
    /// M = [[2,1,0],[1,2,0],[1,0,0]]; correct 4 of 7.
    /// IoU: 0: 2/(3+4-2)=0.4, 1: 2/(3+3-2)=0.5, 2: 0/(1+0-0)=0 → mean 0.3.
    /// Dice: 0: 4/7, 1: 4/6, 2: 0 → mean (4/7+2/3)/3.
    #[test]
    fn hand_computed_three_classes() {
        let mut m = ConfusionMatrix::new(3);
        m.update(&[0, 0, 1, 1, 1, 2, 255, 0], &[0, 1, 1, 1, 0, 0, 2, 0])
            .unwrap();
        assert_eq!(m.rows(), vec![vec![2, 1, 0], vec![1, 2, 0], vec![1, 0, 0]]);
        assert_eq!(m.total(), 7);
        close(m.pixel_accuracy(), 4.0 / 7.0);
        let iou: Vec<f64> = m.class_iou().into_iter().map(Option::unwrap).collect();
        close(iou[0], 0.4);
        close(iou[1], 0.5);
        close(iou[2], 0.0);
        close(m.mean_iou(), 0.3);
        close(m.mean_dice(), (4.0 / 7.0 + 2.0 / 3.0) / 3.0);
        assert_eq!(m.class_accuracy()[2], Some(0.0));
    }

    #[test]
    fn absent_classes_are_left_out_of_the_means() {
        // Class 2 never occurs: mean over classes 0 and 1 only.
        let mut m = ConfusionMatrix::new(3);
        m.update(&[0, 0, 1, 1], &[0, 0, 1, 0]).unwrap();
        let iou = m.class_iou();
        assert_eq!(iou[2], None);
        close(m.mean_iou(), (2.0 / 3.0 + 1.0 / 2.0) / 2.0);
        // A class only predicted is present (IoU 0), as in torchvision's reference.
        let mut m = ConfusionMatrix::new(3);
        m.update(&[0, 0], &[0, 2]).unwrap();
        assert_eq!(m.class_iou(), vec![Some(0.5), None, Some(0.0)]);
        close(m.mean_iou(), 0.25);
        // Nothing counted at all.
        let m = ConfusionMatrix::new(2);
        assert_eq!(m.mean_iou(), 0.0);
        assert_eq!(m.pixel_accuracy(), 0.0);
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let mut m = ConfusionMatrix::new(4);
        let t = [0, 1, 2, 3, 3, 2];
        m.update(&t, &t).unwrap();
        close(m.pixel_accuracy(), 1.0);
        close(m.mean_iou(), 1.0);
        close(m.mean_dice(), 1.0);
    }

    #[test]
    fn out_of_range_ids_are_errors_and_change_nothing() {
        let mut m = ConfusionMatrix::new(3);
        let err = m.update(&[0, 7], &[0, 1]).unwrap_err();
        assert!(err.to_string().contains("target class 7"), "{err}");
        let err = m.update(&[0, 1], &[0, 3]).unwrap_err();
        assert!(err.to_string().contains("predicted class 3"), "{err}");
        assert!(matches!(
            m.update(&[0], &[0, 1]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(m.total(), 0);
        // Without an ignore index, 255 is an ordinary (out-of-range) class.
        let mut m = ConfusionMatrix::new(3).with_ignore_index(None);
        assert!(m.update(&[255], &[0]).is_err());
    }

    #[test]
    fn merging_equals_one_update() {
        let (t, p) = ([0, 1, 2, 2, 1, 0, 255], [0, 2, 2, 1, 1, 1, 0]);
        let mut whole = ConfusionMatrix::new(3);
        whole.update(&t, &p).unwrap();
        let mut a = ConfusionMatrix::new(3);
        a.update(&t[..3], &p[..3]).unwrap();
        let mut b = ConfusionMatrix::new(3);
        b.update(&t[3..], &p[3..]).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(a, whole);
        assert!(a.merge(&ConfusionMatrix::new(2)).is_err());
    }

    /// `tests/fixtures/make_segment_fixture.py` computes the metrics of seeded random masks
    /// with torchvision's reference `ConfusionMatrix` (in torch) and torchmetrics.
    #[test]
    fn equals_the_torch_reference() {
        let text = include_str!("../../tests/fixtures/segment_metrics.json");
        let cases: Value = serde_json::from_str(text).unwrap();
        let as_usize = |v: &Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        for case in cases.as_array().unwrap() {
            let k = case["num_classes"].as_u64().unwrap() as usize;
            let mut m = ConfusionMatrix::new(k);
            m.update(&as_usize(&case["target"]), &as_usize(&case["pred"]))
                .unwrap();
            let rows: Vec<Vec<u64>> = serde_json::from_value(case["confmat"].clone()).unwrap();
            assert_eq!(m.rows(), rows);
            let tol = |a: f64, b: &Value| {
                let b = b.as_f64().unwrap();
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            };
            tol(m.pixel_accuracy(), &case["pixel_accuracy"]);
            tol(m.mean_iou(), &case["mean_iou"]);
            tol(m.mean_dice(), &case["mean_dice"]);
            for (ours, theirs) in m.class_iou().iter().zip(case["iou"].as_array().unwrap()) {
                match ours {
                    Some(v) => tol(*v, theirs),
                    None => assert!(theirs.is_null()),
                }
            }
        }
    }
}
