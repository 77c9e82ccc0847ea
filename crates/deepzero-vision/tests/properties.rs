//! Property tests (proptest) of the detection box maths: IoU and GIoU bounds and symmetry, the
//! R-CNN `BoxCoder` and YOLO grid coding round trips, and NMS (a subset, sorted by score, no
//! two kept boxes overlapping above the threshold, every dropped box explained by a kept one).

use deepzero_vision::detect::boxes::{
    Bbox, BoxCoder, area, clip, giou, intersection, iou, xywh_to_xyxy, xyxy_to_xywh, yolo_decode,
    yolo_encode,
};
use deepzero_vision::detect::{batched_nms, nms};
use proptest::prelude::*;

/// Any box with finite coordinates, degenerate ones (zero or negative size) included.
fn any_box() -> impl Strategy<Value = Bbox> {
    [
        -100.0..100.0f32,
        -100.0..100.0f32,
        -100.0..100.0f32,
        -100.0..100.0f32,
    ]
}

/// A box of positive width and height.
fn proper_box(min_size: f32, max_size: f32) -> impl Strategy<Value = Bbox> {
    (
        -100.0..100.0f32,
        -100.0..100.0f32,
        min_size..max_size,
        min_size..max_size,
    )
        .prop_map(|(x, y, w, h)| [x, y, x + w, y + h])
}

/// Boxes on a small grid (so that exact overlaps and equal scores happen) with scores.
fn scored_boxes() -> impl Strategy<Value = Vec<(Bbox, f32, usize)>> {
    proptest::collection::vec(
        (
            (0..8u8, 0..8u8, 1..6u8, 1..6u8)
                .prop_map(|(x, y, w, h)| xywh_to_xyxy([x as f32, y as f32, w as f32, h as f32])),
            prop_oneof![4 => (0..10u8).prop_map(|s| s as f32 / 10.0), 1 => any::<f32>()],
            0..3usize,
        ),
        0..40,
    )
}

const TOL: f32 = 1e-5;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn iou_is_symmetric_and_bounded(a in any_box(), b in any_box()) {
        let v = iou(&a, &b);
        prop_assert_eq!(v, iou(&b, &a));
        prop_assert!((0.0..=1.0).contains(&v), "{}", v);
        prop_assert_eq!(intersection(&a, &b), intersection(&b, &a));
        prop_assert!(intersection(&a, &b) <= area(&a).min(area(&b)) + TOL);
        let g = giou(&a, &b);
        prop_assert!((g - giou(&b, &a)).abs() <= TOL, "{} {}", g, giou(&b, &a));
        prop_assert!(g <= v + TOL, "giou {} > iou {}", g, v);
        prop_assert!(g >= -1.0 - TOL, "giou {}", g);
    }

    #[test]
    fn a_box_overlaps_itself_fully(b in proper_box(0.01, 50.0), far in 200.0..1000.0f32) {
        prop_assert!((iou(&b, &b) - 1.0).abs() <= TOL);
        prop_assert!((giou(&b, &b) - 1.0).abs() <= TOL);
        // Far apart: IoU 0 and GIoU negative.
        let moved = [b[0] + far, b[1] + far, b[2] + far, b[3] + far];
        prop_assert_eq!(iou(&b, &moved), 0.0);
        prop_assert!(giou(&b, &moved) < 0.0);
    }

    #[test]
    fn box_formats_and_clip(b in proper_box(0.01, 50.0), w in 1.0..200.0f32, h in 1.0..200.0f32) {
        let back = xywh_to_xyxy(xyxy_to_xywh(&b));
        for i in 0..4 {
            prop_assert!((back[i] - b[i]).abs() <= 1e-4, "{:?} {:?}", back, b);
        }
        let c = clip(&b, w, h);
        prop_assert!(c[0] >= 0.0 && c[2] <= w && c[1] >= 0.0 && c[3] <= h);
        prop_assert!(area(&c) <= area(&b) + 1e-3);
    }

    #[test]
    fn box_coder_round_trip(
        target in proper_box(2.0, 100.0),
        anchor in proper_box(2.0, 100.0),
        weights in prop_oneof![Just([1.0f32, 1.0, 1.0, 1.0]), Just([10.0, 10.0, 5.0, 5.0]), Just([0.5, 2.0, 3.0, 0.25])],
    ) {
        let coder = BoxCoder::new(weights);
        let deltas = coder.encode(&target, &anchor);
        prop_assert!(deltas.iter().all(|d| d.is_finite()));
        let back = coder.decode(&deltas, &anchor);
        for i in 0..4 {
            prop_assert!((back[i] - target[i]).abs() <= 1e-3, "{:?} -> {:?} -> {:?}", target, deltas, back);
        }
        // The anchor itself encodes to zero deltas.
        let zero = coder.encode(&anchor, &anchor);
        prop_assert!(zero.iter().all(|d| d.abs() <= 1e-5), "{:?}", zero);
    }

    /// Decoding never overflows, however wild the deltas: the size deltas are clipped.
    #[test]
    fn box_coder_decode_is_finite(deltas in [-1e4..1e4f32, -1e4..1e4f32, -1e4..1e4f32, -1e4..1e4f32], anchor in proper_box(1.0, 100.0)) {
        let b = BoxCoder::new([1.0, 1.0, 1.0, 1.0]).decode(&deltas, &anchor);
        prop_assert!(b.iter().all(|v| v.is_finite()), "{:?}", b);
        prop_assert!(b[2] >= b[0] && b[3] >= b[1]);
    }

    #[test]
    fn yolo_coding_round_trip(
        cell in (0..20usize, 0..20usize),
        offset in (0.05..0.95f32, 0.05..0.95f32),
        size in (2.0..200.0f32, 2.0..200.0f32),
        stride in prop_oneof![Just(8.0f32), Just(16.0), Just(32.0)],
        prior in (4.0..100.0f32, 4.0..100.0f32),
    ) {
        let (cx, cy) = ((cell.0 as f32 + offset.0) * stride, (cell.1 as f32 + offset.1) * stride);
        let b = [cx - size.0 / 2.0, cy - size.1 / 2.0, cx + size.0 / 2.0, cy + size.1 / 2.0];
        let (got_cell, t) = yolo_encode(&b, stride, prior);
        prop_assert_eq!(got_cell, cell);
        let back = yolo_decode(t, got_cell, stride, prior);
        for i in 0..4 {
            prop_assert!((back[i] - b[i]).abs() <= 1e-2, "{:?} -> {:?}", b, back);
        }
    }

    #[test]
    fn nms_keeps_a_sorted_non_overlapping_subset(items in scored_boxes(), threshold in 0.0..1.0f32) {
        let boxes: Vec<Bbox> = items.iter().map(|i| i.0).collect();
        let scores: Vec<f32> = items.iter().map(|i| i.1).collect();
        let keep = nms(&boxes, &scores, threshold);
        // A subset without repeats, no NaN score kept.
        let mut seen = vec![false; boxes.len()];
        for &i in &keep {
            prop_assert!(i < boxes.len() && !seen[i]);
            seen[i] = true;
            prop_assert!(!scores[i].is_nan());
        }
        // Sorted by score, highest first.
        prop_assert!(keep.windows(2).all(|w| scores[w[0]] >= scores[w[1]]), "{:?}", keep);
        // No two kept boxes overlap above the threshold.
        for (a, &i) in keep.iter().enumerate() {
            for &j in &keep[a + 1..] {
                prop_assert!(iou(&boxes[i], &boxes[j]) <= threshold, "{} {}", i, j);
            }
        }
        // Every dropped box (with a score) overlaps a kept box of at least its score.
        for j in (0..boxes.len()).filter(|&j| !seen[j] && !scores[j].is_nan()) {
            prop_assert!(
                keep.iter().any(|&i| scores[i] >= scores[j] && iou(&boxes[i], &boxes[j]) > threshold),
                "box {} dropped without cause", j
            );
        }
        // The highest-scoring box is always kept.
        if let Some(best) = (0..boxes.len()).filter(|&i| !scores[i].is_nan()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a))) {
            prop_assert_eq!(keep.first(), Some(&best));
        }
    }

    #[test]
    fn batched_nms_is_nms_per_class(items in scored_boxes(), threshold in 0.0..1.0f32) {
        let boxes: Vec<Bbox> = items.iter().map(|i| i.0).collect();
        let scores: Vec<f32> = items.iter().map(|i| i.1).collect();
        let classes: Vec<usize> = items.iter().map(|i| i.2).collect();
        let keep = batched_nms(&boxes, &scores, &classes, threshold);
        prop_assert!(keep.windows(2).all(|w| scores[w[0]] >= scores[w[1]]));
        for class in 0..3 {
            let members: Vec<usize> = (0..boxes.len()).filter(|&i| classes[i] == class).collect();
            let sub_boxes: Vec<Bbox> = members.iter().map(|&i| boxes[i]).collect();
            let sub_scores: Vec<f32> = members.iter().map(|&i| scores[i]).collect();
            let want: Vec<usize> = nms(&sub_boxes, &sub_scores, threshold).into_iter().map(|i| members[i]).collect();
            let got: Vec<usize> = keep.iter().copied().filter(|&i| classes[i] == class).collect();
            prop_assert_eq!(got, want, "class {}", class);
        }
    }
}
