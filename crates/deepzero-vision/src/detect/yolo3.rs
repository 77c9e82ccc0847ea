//! A YOLOv3-style detector (Redmon & Farhadi 2018) sized for small canvases: a Darknet-like
//! convolutional backbone, an FPN-style top-down neck and three detection heads at strides 4, 8
//! and 16, each predicting three anchors per cell.
//!
//! ```text
//! [B,C,S,S] → stem conv3 (w) → stage conv3/2 (2w) → stage (4w) = C3 ─────────────┐ stride 4
//!                                                 → stage (8w) = C4 ───────┐      │ stride 8
//!                                                 → stage (16w) = C5       │      │ stride 16
//! C5 → conv1 (8w) = N5 ─────────────────────────────→ head → [B, 3(5+K), S/16, S/16]
//!      N5 → conv1 (4w) → 2× up ⊕ C4 → conv3 (4w) = N4 → head → [B, 3(5+K), S/8, S/8]
//!      N4 → conv1 (2w) → 2× up ⊕ C3 → conv3 (2w) = N3 → head → [B, 3(5+K), S/4, S/4]
//! ```
//! Every conv is `conv → batch norm → leaky ReLU(0.1)`, as in Darknet; a stage is a stride-2
//! 3×3 conv followed by a 3×3 conv. The 5 + K numbers of an anchor are `tx, ty, tw, th`
//! (decoded by [`super::boxes::yolo_decode`]), the objectness logit, and K class
//! logits. The loss is in [`super::yolo_loss`].

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use super::boxes::{Bbox, clip, yolo_decode};
use super::nms::batched_nms;

/// Anchors per cell of each scale.
pub const ANCHORS_PER_SCALE: usize = 3;
/// The strides of the three scales, finest first.
pub const STRIDES: [usize; 3] = [4, 8, 16];

/// Configuration of [`Yolo3`].
#[derive(Config, Debug)]
pub struct Yolo3Config {
    /// Number of object classes.
    pub num_classes: usize,
    /// The nine anchors `(w, h)` in pixels, ascending in area: three per scale, finest first.
    pub anchors: Vec<[f32; 2]>,
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Channels of the stem; each stage doubles them.
    #[config(default = 16)]
    pub width: usize,
}

/// `k×k conv (no bias) → batch norm → leaky ReLU(0.1)`.
#[derive(Module, Debug)]
pub struct ConvBnLeaky {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnLeaky {
    pub(crate) fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        let p = kernel / 2;
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        }
    }

    /// `[B, in, H, W] → [B, out, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.bn.forward(self.conv.forward(x)), 0.1)
    }
}

/// A detection head: `conv3 → 1×1 conv` to `3·(5 + K)` channels.
#[derive(Module, Debug)]
pub struct YoloHead {
    conv: ConvBnLeaky,
    out: Conv2d,
}

impl YoloHead {
    fn new(channels: usize, num_classes: usize, device: &Device) -> Self {
        let per_anchor = 5 + num_classes;
        let mut out =
            Conv2dConfig::new([channels, ANCHORS_PER_SCALE * per_anchor], [1, 1]).init(device);
        // Objectness starts at p ≈ 0.01 (logit −4.6), as YOLOv5 initialises it: otherwise the
        // thousands of background anchors swamp the first steps with a large loss.
        let mut bias = vec![0.0f32; ANCHORS_PER_SCALE * per_anchor];
        for a in 0..ANCHORS_PER_SCALE {
            bias[a * per_anchor + 4] = -4.6;
        }
        out.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [ANCHORS_PER_SCALE * per_anchor]),
            device,
        )));
        Self {
            conv: ConvBnLeaky::new(channels, channels, 3, 1, device),
            out,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.out.forward(self.conv.forward(x))
    }
}

/// The YOLOv3-style detector; see the module documentation for its layout.
#[derive(Module, Debug)]
pub struct Yolo3 {
    stem: ConvBnLeaky,
    stages: Vec<(ConvBnLeaky, ConvBnLeaky)>,
    reduce5: ConvBnLeaky,
    lateral4: ConvBnLeaky,
    merge4: ConvBnLeaky,
    lateral3: ConvBnLeaky,
    merge3: ConvBnLeaky,
    heads: Vec<YoloHead>,
    #[module(skip)]
    num_classes: usize,
    #[module(skip)]
    anchors: Vec<[f32; 2]>,
}

impl Yolo3Config {
    /// Builds the model with its parameters on `device`.
    ///
    /// # Panics
    /// When `anchors` does not hold nine entries (a programming error: the task checks it).
    pub fn init(&self, device: &Device) -> Yolo3 {
        assert_eq!(
            self.anchors.len(),
            3 * ANCHORS_PER_SCALE,
            "YOLOv3 takes nine anchors"
        );
        let w = self.width;
        let stage = |c_in: usize, c_out: usize| {
            (
                ConvBnLeaky::new(c_in, c_out, 3, 2, device),
                ConvBnLeaky::new(c_out, c_out, 3, 1, device),
            )
        };
        Yolo3 {
            stem: ConvBnLeaky::new(self.in_channels, w, 3, 1, device),
            stages: vec![
                stage(w, 2 * w),
                stage(2 * w, 4 * w),
                stage(4 * w, 8 * w),
                stage(8 * w, 16 * w),
            ],
            reduce5: ConvBnLeaky::new(16 * w, 8 * w, 1, 1, device),
            lateral4: ConvBnLeaky::new(8 * w, 4 * w, 1, 1, device),
            merge4: ConvBnLeaky::new(4 * w + 8 * w, 4 * w, 3, 1, device),
            lateral3: ConvBnLeaky::new(4 * w, 2 * w, 1, 1, device),
            merge3: ConvBnLeaky::new(2 * w + 4 * w, 2 * w, 3, 1, device),
            heads: vec![
                YoloHead::new(2 * w, self.num_classes, device),
                YoloHead::new(4 * w, self.num_classes, device),
                YoloHead::new(8 * w, self.num_classes, device),
            ],
            num_classes: self.num_classes,
            anchors: self.anchors.clone(),
        }
    }
}

/// Nearest-neighbour 2× upsampling: `[B, C, H, W] → [B, C, 2H, 2W]`.
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}

impl Yolo3 {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The nine anchors `(w, h)`, three per scale, finest first.
    pub fn anchors(&self) -> &[[f32; 2]] {
        &self.anchors
    }

    /// Detections for a batch of `[B, C, S, S]` images (in input pixels).
    pub fn detect(&self, images: Tensor<4>, options: &DecodeOptions) -> Vec<Vec<Detection>> {
        let [batch, _, size, _] = images.dims();
        let rows: Vec<f32> = self
            .forward_rows(images)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        decode_rows(&rows, self.num_classes, batch, size, &self.anchors, options)
    }

    /// The raw head outputs, finest scale first.
    ///
    /// # Shapes
    /// - `images`: `[B, C, S, S]` with `S` a multiple of 16
    /// - output `i`: `[B, 3·(5 + K), S / STRIDES[i], S / STRIDES[i]]`
    pub fn forward(&self, images: Tensor<4>) -> [Tensor<4>; 3] {
        let mut x = self.stem.forward(images);
        let mut features = Vec::with_capacity(4);
        for (down, conv) in &self.stages {
            x = conv.forward(down.forward(x));
            features.push(x.clone());
        }
        let (c3, c4, c5) = (
            features[1].clone(),
            features[2].clone(),
            features[3].clone(),
        );
        let n5 = self.reduce5.forward(c5);
        let n4 = self.merge4.forward(Tensor::cat(
            vec![upsample2(self.lateral4.forward(n5.clone())), c4],
            1,
        ));
        let n3 = self.merge3.forward(Tensor::cat(
            vec![upsample2(self.lateral3.forward(n4.clone())), c3],
            1,
        ));
        [
            self.heads[0].forward(n3),
            self.heads[1].forward(n4),
            self.heads[2].forward(n5),
        ]
    }

    /// The head outputs as one row per anchor.
    ///
    /// # Shapes
    /// - output: `[N, 5 + K]`, `N = Σ_scales B·3·H·W`; the row of scale `s`, image `b`, anchor `a`,
    ///   cell `(y, x)` is `offset_s + ((b·3 + a)·H + y)·W + x` (see [`row_layout`]).
    pub fn forward_rows(&self, images: Tensor<4>) -> Tensor<2> {
        let k = 5 + self.num_classes;
        let rows = self.forward(images).into_iter().map(|map| {
            let [b, _, h, w] = map.dims();
            // [B, 3(5+K), H, W] → [B, 3, 5+K, H, W] → [B, 3, H, W, 5+K] → rows
            map.reshape([b, ANCHORS_PER_SCALE, k, h, w])
                .permute([0, 1, 3, 4, 2])
                .reshape([b * ANCHORS_PER_SCALE * h * w, k])
        });
        Tensor::cat(rows.collect(), 0)
    }
}

/// The row offset and grid side of each scale in [`Yolo3::forward_rows`] for a batch of `batch`
/// images of side `size`.
pub fn row_layout(batch: usize, size: usize) -> [(usize, usize); 3] {
    let mut offset = 0;
    STRIDES.map(|s| {
        let side = size / s;
        let this = (offset, side);
        offset += batch * ANCHORS_PER_SCALE * side * side;
        this
    })
}

/// Nine anchors for a set of box sizes `(w, h)`: the boxes sorted by area and cut into nine
/// equal groups, each group's mean size an anchor (a quantile stand-in for YOLOv3's k-means that
/// gives the same kind of spread). Fewer than nine boxes: the defaults for digits.
pub fn anchors_from_sizes(sizes: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let n = 3 * ANCHORS_PER_SCALE;
    if sizes.len() < n {
        return vec![
            [6.0, 12.0],
            [10.0, 13.0],
            [13.0, 14.0],
            [8.0, 18.0],
            [13.0, 18.0],
            [17.0, 17.0],
            [10.0, 24.0],
            [17.0, 23.0],
            [22.0, 23.0],
        ];
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_by(|a, b| (a[0] * a[1]).total_cmp(&(b[0] * b[1])));
    (0..n)
        .map(|g| {
            let chunk = &sorted[g * sorted.len() / n..(g + 1) * sorted.len() / n];
            let (sw, sh) = chunk
                .iter()
                .fold((0.0, 0.0), |(w, h), s| (w + s[0], h + s[1]));
            [sw / chunk.len() as f32, sh / chunk.len() as f32]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_row_layout() {
        let dev = Device::flex();
        let model = Yolo3Config::new(10, anchors_from_sizes(&[]))
            .with_width(4)
            .init(&dev);
        let x = Tensor::<4>::random([2, 1, 32, 32], burn::tensor::Distribution::Default, &dev);
        let maps = model.forward(x.clone());
        assert_eq!(maps[0].dims(), [2, 45, 8, 8]);
        assert_eq!(maps[1].dims(), [2, 45, 4, 4]);
        assert_eq!(maps[2].dims(), [2, 45, 2, 2]);
        let rows = model.forward_rows(x);
        assert_eq!(rows.dims(), [2 * 3 * (64 + 16 + 4), 15]);
        // row of (scale 1, image 1, anchor 2, y 3, x 0) holds that map's channels 2·15..3·15
        let layout = row_layout(2, 32);
        assert_eq!(layout, [(0, 8), (384, 4), (480, 2)]);
        let r = layout[1].0 + ((3 + 2) * 4 + 3) * 4;
        let got: Vec<f32> = rows
            .narrow(0, r, 1)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let want: Vec<f32> = maps[1]
            .clone()
            .narrow(0, 1, 1)
            .narrow(1, 30, 15)
            .narrow(2, 3, 1)
            .narrow(3, 0, 1)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(got, want);
    }
}

/// One detected object.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// Class index.
    pub class: usize,
    /// `σ(objectness) · softmax(class logits)[class]`.
    pub score: f32,
    /// `[x_min, y_min, x_max, y_max]` in input pixels, clipped to the input.
    pub bbox: Bbox,
}

/// How raw predictions become detections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeOptions {
    /// Drop candidates scoring below this (COCO evaluation wants a low value, e.g. 0.001).
    pub score_threshold: f32,
    /// Per-class NMS IoU threshold.
    pub iou_threshold: f32,
    /// Detections kept per image, best first.
    pub max_detections: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            score_threshold: 0.25,
            iou_threshold: 0.5,
            max_detections: 100,
        }
    }
}

/// Where row `r` of a batch's rows is: `(scale, image, anchor, y, x)`; calls `f` for each row in
/// order, with the anchor `(w, h)` in pixels and the scale's stride.
pub fn for_each_row(
    batch: usize,
    size: usize,
    anchors: &[[f32; 2]],
    mut f: impl FnMut(usize, usize, [f32; 2], (usize, usize), f32),
) {
    for (s, &(offset, side)) in row_layout(batch, size).iter().enumerate() {
        let stride = STRIDES[s] as f32;
        for b in 0..batch {
            for a in 0..ANCHORS_PER_SCALE {
                for y in 0..side {
                    for x in 0..side {
                        let row = offset + ((b * ANCHORS_PER_SCALE + a) * side + y) * side + x;
                        f(row, b, anchors[s * ANCHORS_PER_SCALE + a], (x, y), stride);
                    }
                }
            }
        }
    }
}

/// Turns the rows of [`Yolo3::forward_rows`] (as plain numbers) into detections per image:
/// decode, score, threshold, per-class NMS, keep the best `max_detections`.
pub fn decode_rows(
    rows: &[f32],
    num_classes: usize,
    batch: usize,
    size: usize,
    anchors: &[[f32; 2]],
    options: &DecodeOptions,
) -> Vec<Vec<Detection>> {
    let k = 5 + num_classes;
    let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
    let mut candidates: Vec<Vec<Detection>> = vec![Vec::new(); batch];
    for_each_row(batch, size, anchors, |row, b, anchor, cell, stride| {
        let r = &rows[row * k..(row + 1) * k];
        let objectness = sigmoid(r[4]);
        if objectness < options.score_threshold {
            return; // the class probability is ≤ 1, so the score cannot reach the threshold
        }
        let logits = &r[5..];
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = logits.iter().map(|v| (v - max).exp()).sum();
        let (class, best) =
            logits
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
                );
        let score = objectness * (best - max).exp() / sum;
        if score < options.score_threshold || !score.is_finite() {
            return;
        }
        let t = [
            r[0],
            r[1],
            r[2].clamp(-WH_CLAMP, WH_CLAMP),
            r[3].clamp(-WH_CLAMP, WH_CLAMP),
        ];
        let bbox = clip(
            &yolo_decode(t, cell, stride, (anchor[0], anchor[1])),
            size as f32,
            size as f32,
        );
        candidates[b].push(Detection { class, score, bbox });
    });
    candidates
        .into_iter()
        .map(|c| keep_best(c, options))
        .collect()
}

/// One image's candidates after per-class NMS, best first, at most `max_detections`.
pub fn keep_best(candidates: Vec<Detection>, options: &DecodeOptions) -> Vec<Detection> {
    let boxes: Vec<Bbox> = candidates.iter().map(|d| d.bbox).collect();
    let scores: Vec<f32> = candidates.iter().map(|d| d.score).collect();
    let classes: Vec<usize> = candidates.iter().map(|d| d.class).collect();
    batched_nms(&boxes, &scores, &classes, options.iou_threshold)
        .into_iter()
        .take(options.max_detections)
        .map(|i| candidates[i].clone())
        .collect()
}

/// `tw`, `th` are clamped to ±4 before `exp` (a box at most e⁴ ≈ 55× its anchor), so an untrained
/// head cannot overflow.
pub const WH_CLAMP: f32 = 4.0;
