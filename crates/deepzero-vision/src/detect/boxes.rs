//! Box maths on `[x_min, y_min, x_max, y_max]` boxes (torchvision's `xyxy`): area, IoU, GIoU,
//! pairwise IoU matrices, and the anchor-delta [`BoxCoder`] of the R-CNN family.
//!
//! Conventions follow `torchvision.ops`: a box's area is `(x_max - x_min) · (y_max - y_min)`
//! (no "+1 pixel"), a box with `x_max ≤ x_min` or `y_max ≤ y_min` has area 0, and the IoU of two
//! boxes whose union is empty is defined here as 0 (torchvision returns NaN there; 0 is what every
//! caller — NMS, matching, metrics — wants).

use burn::prelude::*;

/// A box as `[x_min, y_min, x_max, y_max]`, in pixels, the maximum exclusive.
pub type Bbox = [f32; 4];

/// The area of a box; 0 for a degenerate box (`x_max ≤ x_min` or `y_max ≤ y_min`).
pub fn area(b: &Bbox) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// The area two boxes share.
pub fn intersection(a: &Bbox, b: &Bbox) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    w * h
}

/// Intersection over union; 0 when the union is empty.
pub fn iou(a: &Bbox, b: &Bbox) -> f32 {
    let inter = intersection(a, b);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Generalised IoU (Rezatofighi et al. 2019): `IoU − |C \ (A ∪ B)| / |C|`, with `C` the smallest
/// box enclosing both. In `[-1, 1]`; 0 when the enclosing box is empty too.
pub fn giou(a: &Bbox, b: &Bbox) -> f32 {
    let inter = intersection(a, b);
    let union = area(a) + area(b) - inter;
    let hull =
        (a[2].max(b[2]) - a[0].min(b[0])).max(0.0) * (a[3].max(b[3]) - a[1].min(b[1])).max(0.0);
    let iou = if union > 0.0 { inter / union } else { 0.0 };
    if hull > 0.0 {
        iou - (hull - union) / hull
    } else {
        iou
    }
}

/// The `a.len() × b.len()` IoU matrix, row-major (`torchvision.ops.box_iou`).
pub fn box_iou(a: &[Bbox], b: &[Bbox]) -> Vec<f32> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| iou(x, y)))
        .collect()
}

/// The `a.len() × b.len()` GIoU matrix, row-major (`torchvision.ops.generalized_box_iou`).
pub fn generalized_box_iou(a: &[Bbox], b: &[Bbox]) -> Vec<f32> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| giou(x, y)))
        .collect()
}

/// Converts `[x, y, w, h]` (COCO's box format) to `[x_min, y_min, x_max, y_max]`.
pub fn xywh_to_xyxy(b: [f32; 4]) -> Bbox {
    [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

/// Converts `[x_min, y_min, x_max, y_max]` to COCO's `[x, y, w, h]`.
pub fn xyxy_to_xywh(b: &Bbox) -> [f32; 4] {
    [b[0], b[1], b[2] - b[0], b[3] - b[1]]
}

/// Clips a box to an image of `width × height` pixels.
pub fn clip(b: &Bbox, width: f32, height: f32) -> Bbox {
    [
        b[0].clamp(0.0, width),
        b[1].clamp(0.0, height),
        b[2].clamp(0.0, width),
        b[3].clamp(0.0, height),
    ]
}

/// Element-wise GIoU of paired boxes as tensors, differentiable: the box-regression term of the
/// YOLOv3-style loss (`1 − GIoU`).
///
/// # Shapes
/// - `a`, `b`: `[N, 4]` in `xyxy`
/// - output: `[N]`
pub fn giou_paired(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let n = a.dims()[0];
    let col = |t: &Tensor<2>, i: usize| t.clone().narrow(1, i, 1).reshape([n]);
    let (ax0, ay0, ax1, ay1) = (col(&a, 0), col(&a, 1), col(&a, 2), col(&a, 3));
    let (bx0, by0, bx1, by1) = (col(&b, 0), col(&b, 1), col(&b, 2), col(&b, 3));
    let area_a =
        (ax1.clone() - ax0.clone()).clamp_min(0.0) * (ay1.clone() - ay0.clone()).clamp_min(0.0);
    let area_b =
        (bx1.clone() - bx0.clone()).clamp_min(0.0) * (by1.clone() - by0.clone()).clamp_min(0.0);
    let iw = (ax1.clone().min_pair(bx1.clone()) - ax0.clone().max_pair(bx0.clone())).clamp_min(0.0);
    let ih = (ay1.clone().min_pair(by1.clone()) - ay0.clone().max_pair(by0.clone())).clamp_min(0.0);
    let inter = iw * ih;
    // The epsilon keeps the gradient finite for degenerate boxes; it moves GIoU by < 1e-6.
    let union = area_a + area_b - inter.clone() + 1e-7;
    let hw = ax1.max_pair(bx1) - ax0.min_pair(bx0);
    let hh = ay1.max_pair(by1) - ay0.min_pair(by0);
    let hull = hw.clamp_min(0.0) * hh.clamp_min(0.0) + 1e-7;
    inter / union.clone() - (hull.clone() - union) / hull
}

/// The anchor-delta coding of the R-CNN family (`torchvision.models.detection._utils.BoxCoder`):
/// a box relative to an anchor becomes `(wx·dx/wₐ, wy·dy/hₐ, ww·ln(w/wₐ), wh·ln(h/hₐ))` with
/// `dx, dy` the centre offsets. Faster R-CNN's RPN uses weights `(1, 1, 1, 1)`, its box head
/// `(10, 10, 5, 5)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxCoder {
    /// `(wx, wy, ww, wh)`.
    pub weights: [f32; 4],
    /// Largest `dw`, `dh` accepted when decoding (torchvision: `ln(1000/16)`), so `exp` cannot
    /// overflow on a wild prediction.
    pub clip: f32,
}

impl BoxCoder {
    /// A coder with these weights and torchvision's clip `ln(1000/16)`.
    pub fn new(weights: [f32; 4]) -> Self {
        Self {
            weights,
            clip: (1000.0f32 / 16.0).ln(),
        }
    }

    /// The deltas that turn `anchor` into `target`. Both must have positive width and height.
    pub fn encode(&self, target: &Bbox, anchor: &Bbox) -> [f32; 4] {
        let [wx, wy, ww, wh] = self.weights;
        let (aw, ah) = (anchor[2] - anchor[0], anchor[3] - anchor[1]);
        let (ax, ay) = (anchor[0] + 0.5 * aw, anchor[1] + 0.5 * ah);
        let (tw, th) = (target[2] - target[0], target[3] - target[1]);
        let (tx, ty) = (target[0] + 0.5 * tw, target[1] + 0.5 * th);
        [
            wx * (tx - ax) / aw,
            wy * (ty - ay) / ah,
            ww * (tw / aw).ln(),
            wh * (th / ah).ln(),
        ]
    }

    /// The box that `deltas` make of `anchor` (the inverse of [`encode`](Self::encode)).
    pub fn decode(&self, deltas: &[f32; 4], anchor: &Bbox) -> Bbox {
        let [wx, wy, ww, wh] = self.weights;
        let (aw, ah) = (anchor[2] - anchor[0], anchor[3] - anchor[1]);
        let (ax, ay) = (anchor[0] + 0.5 * aw, anchor[1] + 0.5 * ah);
        let cx = deltas[0] / wx * aw + ax;
        let cy = deltas[1] / wy * ah + ay;
        let w = (deltas[2] / ww).min(self.clip).exp() * aw;
        let h = (deltas[3] / wh).min(self.clip).exp() * ah;
        [cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h]
    }
}

/// YOLO's grid coding (Redmon & Farhadi 2018, YOLOv3 §2.1): a prediction `(tx, ty, tw, th)` in
/// grid cell `(cx, cy)` of a map with `stride` pixels per cell and a prior (anchor) of
/// `(pw, ph)` pixels decodes to the centre `((σ(tx) + cx)·stride, (σ(ty) + cy)·stride)` and the
/// size `(pw·e^tw, ph·e^th)`.
pub fn yolo_decode(t: [f32; 4], cell: (usize, usize), stride: f32, prior: (f32, f32)) -> Bbox {
    let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
    let cx = (sigmoid(t[0]) + cell.0 as f32) * stride;
    let cy = (sigmoid(t[1]) + cell.1 as f32) * stride;
    let w = prior.0 * t[2].exp();
    let h = prior.1 * t[3].exp();
    [cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h]
}

/// The inverse of [`yolo_decode`] for a box whose centre lies inside `cell`: the grid cell of the
/// box's centre and the `(tx, ty, tw, th)` that decode to it (`tx`, `ty` are logits, so a centre
/// exactly on a cell edge gives ±∞; callers clamp or use the centre offsets directly).
pub fn yolo_encode(b: &Bbox, stride: f32, prior: (f32, f32)) -> ((usize, usize), [f32; 4]) {
    let logit = |p: f32| (p / (1.0 - p)).ln();
    let (cx, cy) = ((b[0] + b[2]) / 2.0 / stride, (b[1] + b[3]) / 2.0 / stride);
    let cell = (cx.floor().max(0.0) as usize, cy.floor().max(0.0) as usize);
    let t = [
        logit(cx - cell.0 as f32),
        logit(cy - cell.1 as f32),
        ((b[2] - b[0]) / prior.0).ln(),
        ((b[3] - b[1]) / prior.1).ln(),
    ];
    (cell, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn hand_computed_iou_and_giou() {
        let a = [0.0, 0.0, 2.0, 2.0];
        let b = [1.0, 1.0, 3.0, 3.0];
        // intersection 1, union 4 + 4 - 1 = 7, hull 9
        assert!(close(iou(&a, &b), 1.0 / 7.0));
        assert!(close(giou(&a, &b), 1.0 / 7.0 - 2.0 / 9.0));
        // disjoint: IoU 0, GIoU = -(hull - union)/hull = -(16 - 2)/16 with unit boxes 3 apart
        let c = [0.0, 0.0, 1.0, 1.0];
        let d = [3.0, 3.0, 4.0, 4.0];
        assert_eq!(iou(&c, &d), 0.0);
        assert!(close(giou(&c, &d), -(16.0 - 2.0) / 16.0));
        // degenerate boxes: no NaN
        let z = [5.0, 5.0, 5.0, 9.0];
        assert_eq!(area(&z), 0.0);
        assert_eq!(iou(&z, &z), 0.0);
        assert!(giou(&z, &z).is_finite());
        assert!(close(iou(&a, &a), 1.0));
    }

    #[test]
    fn giou_tensor_matches_scalar() {
        let dev = Device::flex();
        let a = [
            [0.0, 0.0, 2.0, 2.0],
            [0.0, 0.0, 1.0, 1.0],
            [1.0, 2.0, 5.0, 7.0],
        ];
        let b = [
            [1.0, 1.0, 3.0, 3.0],
            [3.0, 3.0, 4.0, 4.0],
            [1.0, 2.0, 5.0, 7.0],
        ];
        let t = giou_paired(Tensor::from_data(a, &dev), Tensor::from_data(b, &dev));
        let v: Vec<f32> = t.into_data().try_into_vec::<f32>().unwrap();
        for i in 0..3 {
            assert!(
                (v[i] - giou(&a[i], &b[i])).abs() < 1e-5,
                "{i}: {} vs {}",
                v[i],
                giou(&a[i], &b[i])
            );
        }
    }

    #[test]
    fn yolo_coding_round_trips() {
        let b = [10.0, 20.0, 30.0, 34.0];
        let (cell, t) = yolo_encode(&b, 8.0, (16.0, 12.0));
        assert_eq!(cell, (2, 3)); // centre (20, 27) / 8
        let back = yolo_decode(t, cell, 8.0, (16.0, 12.0));
        for i in 0..4 {
            assert!((back[i] - b[i]).abs() < 1e-4);
        }
    }
}
