//! Non-maximum suppression, exactly as `torchvision.ops.nms` / `batched_nms` order and break ties.
//!
//! Boxes are visited in descending score order (a stable sort, so equal scores keep their input
//! order, as torchvision's CPU kernel does); a box is dropped when its IoU with an already kept box
//! is **strictly greater** than the threshold. The kept indices come back in that visiting order.
//!
//! burn-vision 0.22 has an `nms` op too, but only behind burn's `vision` feature, which would
//! rebuild burn with a file downloader for the whole workspace; this plain greedy version is
//! O(n²) on `n` boxes, which the few thousand candidates a detector produces keep cheap.

use super::boxes::{Bbox, area, intersection};

/// The indices of the boxes that survive NMS, highest score first (`torchvision.ops.nms`).
/// Boxes with a NaN score are dropped (they cannot be ordered).
pub fn nms(boxes: &[Bbox], scores: &[f32], iou_threshold: f32) -> Vec<usize> {
    greedy(boxes, scores, iou_threshold, |_, _| true)
}

/// NMS within each class only (`torchvision.ops.batched_nms`): boxes of different `classes`
/// never suppress each other. Indices come back highest score first, over all classes.
pub fn batched_nms(
    boxes: &[Bbox],
    scores: &[f32],
    classes: &[usize],
    iou_threshold: f32,
) -> Vec<usize> {
    greedy(boxes, scores, iou_threshold, |i, j| {
        classes[i] == classes[j]
    })
}

fn greedy(
    boxes: &[Bbox],
    scores: &[f32],
    iou_threshold: f32,
    competes: impl Fn(usize, usize) -> bool,
) -> Vec<usize> {
    let n = boxes.len().min(scores.len());
    let mut order: Vec<usize> = (0..n).filter(|&i| !scores[i].is_nan()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let areas: Vec<f32> = boxes.iter().map(area).collect();
    let mut suppressed = vec![false; n];
    let mut keep = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[pos + 1..] {
            if suppressed[j] || !competes(i, j) {
                continue;
            }
            let inter = intersection(&boxes[i], &boxes[j]);
            let union = areas[i] + areas[j] - inter;
            if union > 0.0 && inter / union > iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_suppression() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0], // IoU with 0: 81 / 119 = 0.68
            [20.0, 20.0, 30.0, 30.0],
            [0.0, 0.0, 10.0, 5.0], // IoU with 0: 0.5 exactly: kept at threshold 0.5 (strict >)
        ];
        let scores = [0.9, 0.8, 0.7, 0.6];
        assert_eq!(nms(&boxes, &scores, 0.5), vec![0, 2, 3]);
        assert_eq!(nms(&boxes, &scores, 0.7), vec![0, 1, 2, 3]);
        assert_eq!(nms(&boxes, &scores, 0.4), vec![0, 2]);
        // per class: box 1 in another class survives
        assert_eq!(
            batched_nms(&boxes, &scores, &[0, 1, 0, 0], 0.5),
            vec![0, 1, 2, 3]
        );
        assert_eq!(nms(&[], &[], 0.5), Vec::<usize>::new());
    }
}
