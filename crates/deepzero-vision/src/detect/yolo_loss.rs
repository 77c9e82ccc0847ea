//! The YOLOv3-style loss, written out, and the target assignment behind it.
//!
//! **Assignment.** Each ground-truth box goes to the grid cell holding its centre on the scale of
//! its best-fitting anchor (the anchor whose `(w, h)`, placed at the same corner, has the highest
//! IoU with the box's `(w, h)`), and also to every other anchor whose shape-IoU reaches
//! [`YoloLossConfig::match_iou`] (YOLOv4's multi-anchor rule: more positives, faster learning).
//! When two boxes claim one anchor slot the first keeps it.
//!
//! **Loss**, over a batch with `P` positive anchors:
//! ```text
//! L = λ_box · mean_pos(1 − GIoU(b̂, b))
//!   + λ_obj · [ Σ_pos BCE(ô, 1) + λ_noobj · Σ_neg BCE(ô, 0) ] / max(P, 1)
//!   + λ_cls · mean_pos(CE(ĉ, c))
//! b̂ = ((σ(tx) + cx)·stride, (σ(ty) + cy)·stride, pw·e^tw, ph·e^th)   (tw, th clamped to ±4)
//! ```
//! Negatives whose predicted box already overlaps some ground-truth box with IoU above
//! [`YoloLossConfig::ignore_iou`] are left out of the objectness term (YOLOv3's "ignore"), so a
//! good second guess is not punished. The classes are exclusive (digits), so the class term is a
//! softmax cross-entropy rather than YOLOv3's independent logistic outputs.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, sigmoid};

use super::boxes::{Bbox, giou_paired, iou};
use super::yolo3::{ANCHORS_PER_SCALE, STRIDES, WH_CLAMP, for_each_row, row_layout};

/// One ground-truth object of a training image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct YoloTarget {
    /// Class index.
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]` in input pixels.
    pub bbox: Bbox,
}

/// The weights and thresholds of the loss.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct YoloLossConfig {
    /// λ_box.
    pub box_weight: f32,
    /// λ_obj.
    pub obj_weight: f32,
    /// λ_noobj: background anchors' share of the objectness term (YOLOv1's 0.5).
    pub noobj_weight: f32,
    /// λ_cls.
    pub cls_weight: f32,
    /// Background anchors predicting a box with IoU above this with an object are ignored.
    pub ignore_iou: f32,
    /// Extra anchors whose shape-IoU with a box reaches this are positives too.
    pub match_iou: f32,
}

impl Default for YoloLossConfig {
    fn default() -> Self {
        Self {
            box_weight: 5.0,
            obj_weight: 1.0,
            noobj_weight: 0.5,
            cls_weight: 1.0,
            ignore_iou: 0.6,
            match_iou: 0.5,
        }
    }
}

/// The positive anchors of a batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assignment {
    /// Row of each positive in the batch's rows (see [`super::yolo3::row_layout`]).
    pub rows: Vec<usize>,
    /// Its cell `(x, y)`.
    pub cells: Vec<[f32; 2]>,
    /// Its anchor `(w, h)`.
    pub anchors: Vec<[f32; 2]>,
    /// Its scale's stride.
    pub strides: Vec<f32>,
    /// The ground-truth box it must predict.
    pub boxes: Vec<Bbox>,
    /// And its class.
    pub classes: Vec<usize>,
}

fn shape_iou(a: [f32; 2], b: [f32; 2]) -> f32 {
    let inter = a[0].min(b[0]) * a[1].min(b[1]);
    inter / (a[0] * a[1] + b[0] * b[1] - inter)
}

/// Assigns the `targets` of each image of a batch of `size`² inputs to anchors.
pub fn assign(
    targets: &[Vec<YoloTarget>],
    anchors: &[[f32; 2]],
    size: usize,
    match_iou: f32,
) -> Assignment {
    let batch = targets.len();
    let layout = row_layout(batch, size);
    let mut out = Assignment::default();
    let mut taken = std::collections::HashSet::new();
    for (b, objects) in targets.iter().enumerate() {
        for t in objects {
            let (w, h) = (t.bbox[2] - t.bbox[0], t.bbox[3] - t.bbox[1]);
            if w <= 0.0 || h <= 0.0 {
                continue; // degenerate boxes carry no shape to learn
            }
            let ious: Vec<f32> = anchors.iter().map(|&a| shape_iou(a, [w, h])).collect();
            let best = ious
                .iter()
                .enumerate()
                .fold(0, |acc, (i, &v)| if v > ious[acc] { i } else { acc });
            for (i, &v) in ious.iter().enumerate() {
                if i != best && v < match_iou {
                    continue;
                }
                let (s, a) = (i / ANCHORS_PER_SCALE, i % ANCHORS_PER_SCALE);
                let (offset, side) = layout[s];
                let stride = STRIDES[s] as f32;
                let cx = ((t.bbox[0] + t.bbox[2]) / 2.0 / stride).clamp(0.0, side as f32 - 1e-3);
                let cy = ((t.bbox[1] + t.bbox[3]) / 2.0 / stride).clamp(0.0, side as f32 - 1e-3);
                let (gx, gy) = (cx as usize, cy as usize);
                let row = offset + ((b * ANCHORS_PER_SCALE + a) * side + gy) * side + gx;
                if !taken.insert(row) {
                    continue;
                }
                out.rows.push(row);
                out.cells.push([gx as f32, gy as f32]);
                out.anchors.push(anchors[i]);
                out.strides.push(stride);
                out.boxes.push(t.bbox);
                out.classes.push(t.class);
            }
        }
    }
    out
}

/// The loss of a batch and its parts.
#[derive(Debug, Clone)]
pub struct YoloLoss {
    /// The total, `[1]`.
    pub total: Tensor<1>,
    /// The class logits of the positive anchors, `[P, K]`.
    pub class_logits: Tensor<2>,
    /// Their target classes, `[P]`.
    pub classes: Tensor<1, Int>,
}

/// `BCE(x, t)` from logits: `max(x, 0) − x·t + ln(1 + e^−|x|)`, never overflowing.
fn bce_with_logits(x: Tensor<1>, t: Tensor<1>) -> Tensor<1> {
    x.clone().clamp_min(0.0) - x.clone() * t + x.abs().neg().exp().log1p()
}

/// The loss of `rows` (`[N, 5 + K]`, from [`super::Yolo3::forward_rows`]) for a batch of `size`²
/// images with these `targets`.
pub fn yolo_loss(
    rows: Tensor<2>,
    targets: &[Vec<YoloTarget>],
    anchors: &[[f32; 2]],
    size: usize,
    config: &YoloLossConfig,
) -> YoloLoss {
    let [n, k] = rows.dims();
    let num_classes = k - 5;
    let device = rows.device();
    let batch = targets.len();
    let assignment = assign(targets, anchors, size, config.match_iou);
    let p = assignment.rows.len();

    // Objectness targets and weights, with YOLOv3's ignore rule on the current predictions.
    let raw: Vec<f32> = rows
        .clone()
        .detach()
        .narrow(1, 0, 4)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let mut obj_target = vec![0.0f32; n];
    let mut obj_weight = vec![config.noobj_weight; n];
    if raw.len() == n * 4 {
        for_each_row(batch, size, anchors, |row, b, anchor, cell, stride| {
            if targets[b].is_empty() {
                return;
            }
            let t = &raw[row * 4..row * 4 + 4];
            let t = [
                t[0],
                t[1],
                t[2].clamp(-WH_CLAMP, WH_CLAMP),
                t[3].clamp(-WH_CLAMP, WH_CLAMP),
            ];
            let predicted = super::boxes::yolo_decode(t, cell, stride, (anchor[0], anchor[1]));
            if targets[b]
                .iter()
                .any(|g| iou(&predicted, &g.bbox) > config.ignore_iou)
            {
                obj_weight[row] = 0.0;
            }
        });
    }
    for &row in &assignment.rows {
        obj_target[row] = 1.0;
        obj_weight[row] = 1.0;
    }
    let norm = p.max(1) as f32;
    let objectness = rows.clone().narrow(1, 4, 1).reshape([n]);
    let obj_target = Tensor::<1>::from_data(TensorData::new(obj_target, [n]), &device);
    let obj_weight = Tensor::<1>::from_data(TensorData::new(obj_weight, [n]), &device);
    let obj_loss = (bce_with_logits(objectness, obj_target) * obj_weight).sum() / norm;
    let mut total = obj_loss * config.obj_weight;

    let class_logits;
    let classes = Tensor::<1, Int>::from_data(
        TensorData::new(
            assignment
                .classes
                .iter()
                .map(|&c| c as i64)
                .collect::<Vec<_>>(),
            [p],
        ),
        &device,
    );
    if p > 0 {
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(
                assignment
                    .rows
                    .iter()
                    .map(|&r| r as i64)
                    .collect::<Vec<_>>(),
                [p],
            ),
            &device,
        );
        let pos = rows.select(0, index);
        let pair =
            |v: &[[f32; 2]]| Tensor::<2>::from_data(TensorData::new(v.concat(), [p, 2]), &device);
        let strides =
            Tensor::<2>::from_data(TensorData::new(assignment.strides.clone(), [p, 1]), &device);
        let centre = (sigmoid(pos.clone().narrow(1, 0, 2)) + pair(&assignment.cells)) * strides;
        let half = pos.clone().narrow(1, 2, 2).clamp(-WH_CLAMP, WH_CLAMP).exp()
            * pair(&assignment.anchors)
            / 2.0;
        let predicted = Tensor::cat(vec![centre.clone() - half.clone(), centre + half], 1);
        let truth =
            Tensor::<2>::from_data(TensorData::new(assignment.boxes.concat(), [p, 4]), &device);
        let box_loss = (giou_paired(predicted, truth).neg() + 1.0).mean();
        class_logits = pos.narrow(1, 5, num_classes);
        let log_probs = log_softmax(class_logits.clone(), 1);
        let cls_loss = log_probs
            .gather(1, classes.clone().unsqueeze_dim(1))
            .mean()
            .neg();
        total = total + box_loss * config.box_weight + cls_loss * config.cls_weight;
    } else {
        class_logits = Tensor::zeros([0, num_classes], &device);
    }
    YoloLoss {
        total,
        class_logits,
        classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors() -> Vec<[f32; 2]> {
        super::super::yolo3::anchors_from_sizes(&[])
    }

    #[test]
    fn a_box_goes_to_its_centre_cell_on_its_best_anchor_scale() {
        // 20×23 box centred at (30, 21.5): best anchor is #8 (22×23: shape-IoU 460/506 = 0.91, against
        // 0.85 for 17×23), scale 2 (stride 16), anchor 2 there → cell (1, 1)
        let t = YoloTarget {
            class: 3,
            bbox: [20.0, 10.0, 40.0, 33.0],
        };
        let a = assign(&[vec![], vec![t]], &anchors(), 64, 1.1); // 1.1: best anchor only
        assert_eq!(a.rows.len(), 1);
        let (offset, side) = row_layout(2, 64)[2];
        assert_eq!(a.rows[0], offset + ((3 + 2) * side + 1) * side + 1);
        assert_eq!(
            (a.cells[0], a.anchors[0], a.strides[0], a.classes[0]),
            ([1.0, 1.0], [22.0, 23.0], 16.0, 3)
        );
        // with the multi-anchor rule, anchors of shape-IoU ≥ 0.5 join
        assert!(assign(&[vec![t]], &anchors(), 64, 0.5).rows.len() > 1);
    }

    #[test]
    fn loss_is_finite_and_falls_when_the_prediction_is_right() {
        let dev = Device::flex();
        let size = 32;
        let t = YoloTarget {
            class: 1,
            bbox: [4.0, 4.0, 16.0, 20.0],
        };
        let n = row_layout(1, size)
            .iter()
            .map(|&(_, s)| 3 * s * s)
            .sum::<usize>();
        let k = 5 + 2;
        let cfg = YoloLossConfig {
            match_iou: 1.1,
            ..YoloLossConfig::default()
        };
        let blank = vec![0.0f32; n * k];
        let mut good = blank.clone();
        for r in 0..n {
            good[r * k + 4] = -12.0; // confident background everywhere
        }
        let a = assign(&[vec![t]], &anchors(), size, cfg.match_iou);
        let (row, anchor, cell, stride) = (a.rows[0], a.anchors[0], a.cells[0], a.strides[0]);
        let logit = |p: f32| (p / (1.0 - p)).ln();
        let (cx, cy) = (10.0 / stride - cell[0], 12.0 / stride - cell[1]);
        good[row * k..row * k + k].copy_from_slice(&[
            logit(cx),
            logit(cy),
            (12.0 / anchor[0]).ln(),
            (16.0 / anchor[1]).ln(),
            12.0,
            -6.0,
            6.0,
        ]);
        let loss = |v: Vec<f32>| {
            let rows = Tensor::<2>::from_data(TensorData::new(v, [n, k]), &dev);
            yolo_loss(rows, &[vec![t]], &anchors(), size, &cfg)
                .total
                .into_scalar::<f32>()
        };
        let (bad, ok) = (loss(blank), loss(good));
        assert!(bad.is_finite() && ok.is_finite());
        assert!(ok < 0.01, "a right prediction should cost ~0, got {ok}");
        assert!(bad > 1.0, "{bad}");
    }
}
