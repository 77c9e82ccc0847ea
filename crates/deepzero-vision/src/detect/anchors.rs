//! Anchor generation and anchor-to-ground-truth matching for anchor-based detectors.

use super::boxes::{Bbox, iou};

/// Anchors of one feature map, as `torchvision.models.detection.anchor_utils.AnchorGenerator`
/// lays them out: for each cell (row-major, `y` outer) and each `(ratio, size)` pair (ratios
/// outer), a box of area `size²` and aspect `h/w = ratio`, centred on `(x·stride_x, y·stride_y)`
/// (the cell's top-left corner, as torchvision does), its half-sides rounded to whole pixels.
pub fn grid_anchors(
    sizes: &[f32],
    aspect_ratios: &[f32],
    grid: (usize, usize),
    stride: (f32, f32),
) -> Vec<Bbox> {
    let mut base = Vec::with_capacity(sizes.len() * aspect_ratios.len());
    for &ratio in aspect_ratios {
        let h_ratio = ratio.sqrt();
        let w_ratio = 1.0 / h_ratio;
        for &size in sizes {
            let (w, h) = (w_ratio * size, h_ratio * size);
            // torch.round rounds half to even, as f32::round_ties_even does.
            base.push([
                (-w / 2.0).round_ties_even(),
                (-h / 2.0).round_ties_even(),
                (w / 2.0).round_ties_even(),
                (h / 2.0).round_ties_even(),
            ]);
        }
    }
    let (gh, gw) = grid;
    let mut anchors = Vec::with_capacity(gh * gw * base.len());
    for y in 0..gh {
        for x in 0..gw {
            let (sx, sy) = (x as f32 * stride.0, y as f32 * stride.1);
            anchors.extend(
                base.iter()
                    .map(|b| [b[0] + sx, b[1] + sy, b[2] + sx, b[3] + sy]),
            );
        }
    }
    anchors
}

/// What an anchor was matched to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The index of the ground-truth box this anchor must predict.
    Object(usize),
    /// Background: best IoU below the low threshold.
    Background,
    /// Between the thresholds: ignored by the loss.
    Ignore,
}

/// torchvision's `Matcher`: each anchor takes the ground-truth box it overlaps most; IoU ≥ `high`
/// makes it a positive, IoU < `low` background, anything between is ignored. With
/// `allow_low_quality`, every ground-truth box also claims the anchors that overlap it most (ties
/// included), even below `high`, so no object is left without an anchor (Faster R-CNN's RPN).
pub fn match_anchors(
    anchors: &[Bbox],
    targets: &[Bbox],
    high: f32,
    low: f32,
    allow_low_quality: bool,
) -> Vec<Match> {
    if targets.is_empty() {
        return vec![Match::Background; anchors.len()];
    }
    let ious: Vec<Vec<f32>> = anchors
        .iter()
        .map(|a| targets.iter().map(|t| iou(a, t)).collect())
        .collect();
    let mut matches: Vec<Match> = ious
        .iter()
        .map(|row| {
            // first maximum, as torch.max returns it
            let (best, v) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                );
            if v >= high {
                Match::Object(best)
            } else if v < low {
                Match::Background
            } else {
                Match::Ignore
            }
        })
        .collect();
    if allow_low_quality {
        for t in 0..targets.len() {
            let best = ious
                .iter()
                .map(|row| row[t])
                .fold(f32::NEG_INFINITY, f32::max);
            for (a, row) in ious.iter().enumerate() {
                if row[t] == best {
                    // the anchor keeps its own best target, as torchvision's set_low_quality_matches_
                    let own =
                        row.iter()
                            .enumerate()
                            .fold(
                                (0, f32::NEG_INFINITY),
                                |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                            );
                    matches[a] = Match::Object(own.0);
                }
            }
        }
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_hand_cases() {
        let anchors = [
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 5.0],
            [50.0, 50.0, 60.0, 60.0],
            [0.0, 0.0, 10.0, 7.0],
        ];
        let targets = [[0.0, 0.0, 10.0, 10.0], [52.0, 52.0, 70.0, 70.0]];
        let m = match_anchors(&anchors, &targets, 0.7, 0.3, false);
        // IoUs: a0-t0 1.0; a1-t0 0.5; a2-t1 64/424 = 0.15; a3-t0 0.7
        assert_eq!(
            m,
            vec![
                Match::Object(0),
                Match::Ignore,
                Match::Background,
                Match::Object(0)
            ]
        );
        let m = match_anchors(&anchors, &targets, 0.7, 0.3, true);
        assert_eq!(m[2], Match::Object(1)); // t1's best anchor is claimed despite IoU 0.15
        assert_eq!(
            match_anchors(&anchors, &[], 0.7, 0.3, true),
            vec![Match::Background; 4]
        );
    }
}
