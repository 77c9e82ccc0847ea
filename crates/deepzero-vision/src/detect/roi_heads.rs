//! The second stage of Faster R-CNN (Ren et al. 2015; Girshick, "Fast R-CNN", ICCV 2015) as
//! torchvision builds it (`torchvision.models.detection.roi_heads.RoIHeads` with
//! `MultiScaleRoIAlign`, `TwoMLPHead` and `FastRCNNPredictor`): each proposal's features pooled
//! from the pyramid level that suits its size, two fully connected layers, then class logits and
//! class-specific box deltas.
//!
//! ```text
//! proposals → level k = ⌊4 + log₂(√area / 224) + 1e-6⌋ clamped to 2..5 → RoIAlign 7×7, 2 samples
//!   → [K, C·49] → fc6 + ReLU → fc7 + ReLU → cls_score [K, classes], bbox_pred [K, 4·classes]
//! ```
//! Class 0 is the background. [`RoiHeads::postprocess`] decodes each class's box (BoxCoder
//! weights 10, 10, 5, 5), takes softmax scores, drops the background, scores ≤ 0.05 and boxes
//! under 0.01 px, runs NMS 0.5 within each class and keeps the best 100 (torchvision's
//! `postprocess_detections`). [`RoiHeads::loss`] is `fastrcnn_loss` on torchvision's training
//! sample (ground truth appended to the proposals, IoU ≥ 0.5 positive, 512 per image, at most a
//! quarter positive): the cross-entropy over the sample plus the smooth-L1 (β = 1/9) of the
//! positives' deltas for their own class, summed and divided by the sample size.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu, softmax};
use rand::Rng;

use super::anchors::{Match, match_anchors};
use super::boxes::{Bbox, BoxCoder, clip};
use super::nms::batched_nms;
use super::roi_align::{Roi, RoiAlignOptions, roi_align};
use super::rpn::{index, sample, smooth_l1};
use super::yolo3::Detection;

/// What [`RoiHeads::loss`] computes.
#[derive(Clone, Debug)]
pub struct RoiHeadsLosses {
    /// Cross-entropy over the sample (torchvision's `loss_classifier`).
    pub classifier: Tensor<1>,
    /// Smooth-L1 of the positives' deltas, over the sample size (`loss_box_reg`).
    pub box_reg: Tensor<1>,
    /// The sample's class logits `[n, classes]`, images in order.
    pub class_logits: Tensor<2>,
    /// The sample's labels (0: background), one per row of `class_logits`.
    pub labels: Vec<usize>,
}

/// torchvision's `MultiScaleRoIAlign(featmap_names=['0','1','2','3'], output_size, sampling_ratio)`.
#[derive(Config, Debug)]
pub struct MultiScaleRoiAlign {
    /// Side of the pooled grid (torchvision: 7).
    #[config(default = 7)]
    pub output_size: usize,
    /// Samples per bin side (torchvision: 2).
    #[config(default = 2)]
    pub sampling_ratio: usize,
    /// `canonical_scale` of the level mapper (FPN paper eq. 1: 224).
    #[config(default = 224.0)]
    pub canonical_scale: f32,
    /// `canonical_level`, `k0` (4).
    #[config(default = 4)]
    pub canonical_level: i32,
}

impl MultiScaleRoiAlign {
    /// Each map's scale, `2^round(log₂(h_map / H))` with `H` the tallest image of the batch
    /// (torchvision's `_infer_scale`, which reads the height). torchvision works them out on
    /// the first call and keeps them; here every call does, which gives the same powers of two
    /// for any batch the transform pads to multiples of 32.
    pub fn scales(&self, features: &[Tensor<4>], image_sizes: &[[usize; 2]]) -> Vec<f32> {
        let tallest = image_sizes.iter().map(|s| s[0]).max().unwrap_or(1).max(1);
        features
            .iter()
            .map(|f| {
                let approx = (f.dims()[2] as f64 / tallest as f64) as f32;
                2f32.powf(approx.log2().round_ties_even())
            })
            .collect()
    }

    /// The pyramid level (0-based among `features`) each box is pooled from, torchvision's
    /// `LevelMapper`: `⌊k0 + log₂(√area / s0) + 1e-6⌋` clamped to the levels present.
    pub fn levels(&self, boxes: &[Bbox], scales: &[f32]) -> Vec<usize> {
        let k_min = -scales[0].log2() as i32;
        let k_max = -scales[scales.len() - 1].log2() as i32;
        boxes
            .iter()
            .map(|b| {
                let s = ((b[2] - b[0]) * (b[3] - b[1])).sqrt();
                let k = (self.canonical_level as f32 + (s / self.canonical_scale).log2() + 1e-6)
                    .floor();
                (k.clamp(k_min as f32, k_max as f32) as i32 - k_min) as usize
            })
            .collect()
    }

    /// Pools every box of every image.
    ///
    /// # Shapes
    /// - features: the maps `[B, C, H_l, W_l]` to pool from (FPN levels '0'–'3', not 'pool')
    /// - boxes: per image, in the resized image's pixels; `image_sizes`: each `[h, w]`
    /// - output: `[K, C, S, S]`, `K` the total box count, images in order
    pub fn forward(
        &self,
        features: &[Tensor<4>],
        boxes: &[Vec<Bbox>],
        image_sizes: &[[usize; 2]],
    ) -> Tensor<4> {
        let scales = self.scales(features, image_sizes);
        let rois: Vec<Roi> = boxes
            .iter()
            .enumerate()
            .flat_map(|(batch, bs)| bs.iter().map(move |&bbox| Roi { batch, bbox }))
            .collect();
        let flat: Vec<Bbox> = rois.iter().map(|r| r.bbox).collect();
        let levels = self.levels(&flat, &scales);
        let mut pooled = Vec::new();
        let mut order = Vec::with_capacity(rois.len());
        for (level, (map, &scale)) in features.iter().zip(&scales).enumerate() {
            let picked: Vec<usize> = (0..rois.len()).filter(|&r| levels[r] == level).collect();
            if picked.is_empty() {
                continue;
            }
            let level_rois: Vec<Roi> = picked.iter().map(|&r| rois[r]).collect();
            let options = RoiAlignOptions {
                output_size: (self.output_size, self.output_size),
                spatial_scale: scale,
                sampling_ratio: Some(self.sampling_ratio),
                aligned: false,
            };
            pooled.push(roi_align(map.clone(), &level_rois, &options));
            order.extend(picked);
        }
        let [_, c, _, _] = features[0].dims();
        if pooled.is_empty() {
            let s = self.output_size;
            return Tensor::zeros([0, c, s, s], &features[0].device());
        }
        // rows are grouped by level; put them back in box order
        let mut inverse = vec![0; order.len()];
        for (row, &r) in order.iter().enumerate() {
            inverse[r] = row;
        }
        let device = features[0].device();
        Tensor::cat(pooled, 0).select(0, index(&inverse, &device))
    }
}

/// Configuration of [`RoiHeads`]; defaults are `fasterrcnn_resnet50_fpn`'s.
#[derive(Config, Debug)]
pub struct RoiHeadsConfig {
    /// Width of `TwoMLPHead` (torchvision: 1024).
    #[config(default = 1024)]
    pub representation_size: usize,
    /// The pooling.
    #[config(default = "MultiScaleRoiAlign::new()")]
    pub pooler: MultiScaleRoiAlign,
    /// The box coder's `(wx, wy, ww, wh)`.
    #[config(default = "[10.0, 10.0, 5.0, 5.0]")]
    pub bbox_reg_weights: [f32; 4],
    /// Detections need a class probability above this.
    #[config(default = 0.05)]
    pub score_thresh: f32,
    /// Per-class NMS IoU threshold.
    #[config(default = 0.5)]
    pub nms_thresh: f32,
    /// Detections kept per image.
    #[config(default = 100)]
    pub detections_per_img: usize,
    /// IoU from which a proposal is positive (training).
    #[config(default = 0.5)]
    pub fg_iou_thresh: f32,
    /// IoU below which a proposal is background (training).
    #[config(default = 0.5)]
    pub bg_iou_thresh: f32,
    /// Proposals sampled per image for the loss.
    #[config(default = 512)]
    pub batch_size_per_image: usize,
    /// Largest positive share of the sample.
    #[config(default = 0.25)]
    pub positive_fraction: f32,
}

impl RoiHeadsConfig {
    /// Builds the heads for pooled maps of `in_channels` (the FPN width) and `num_classes`
    /// classes including the background (COCO: 91); every `Linear` PyTorch's default
    /// `U(±1/√fan_in)`, as torchvision.
    pub fn init(&self, in_channels: usize, num_classes: usize, device: &Device) -> RoiHeads {
        let s = self.pooler.output_size;
        let r = self.representation_size;
        let k = num_classes;
        RoiHeads {
            box_head: TwoMlpHead {
                fc6: LinearConfig::new(in_channels * s * s, r).init(device),
                fc7: LinearConfig::new(r, r).init(device),
            },
            box_predictor: FastRcnnPredictor {
                cls_score: LinearConfig::new(r, k).init(device),
                bbox_pred: LinearConfig::new(r, 4 * k).init(device),
            },
            config: self.clone(),
        }
    }
}

/// torchvision's `TwoMLPHead`.
#[derive(Module, Debug)]
pub struct TwoMlpHead {
    /// `[C·S·S, R]` (burn's `[in, out]`).
    pub fc6: Linear,
    /// `[R, R]`.
    pub fc7: Linear,
}

impl TwoMlpHead {
    /// `[K, C, S, S] → [K, R]`
    pub fn forward(&self, pooled: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = pooled.flatten(1, 3);
        relu(self.fc7.forward(relu(self.fc6.forward(x))))
    }
}

/// torchvision's `FastRCNNPredictor`.
#[derive(Module, Debug)]
pub struct FastRcnnPredictor {
    /// `[R, classes]`.
    pub cls_score: Linear,
    /// `[R, 4·classes]`, column `4c + j` for class `c`, coordinate `j`.
    pub bbox_pred: Linear,
}

impl FastRcnnPredictor {
    /// `[K, R] → ([K, classes], [K, 4·classes])`
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.cls_score.forward(x.clone()), self.bbox_pred.forward(x))
    }
}

/// torchvision's `RoIHeads` (boxes only).
#[derive(Module, Debug)]
pub struct RoiHeads {
    /// fc6, fc7.
    pub box_head: TwoMlpHead,
    /// Class logits and box deltas.
    pub box_predictor: FastRcnnPredictor,
    /// Pooling, thresholds and sample sizes.
    #[module(skip)]
    pub config: RoiHeadsConfig,
}

impl RoiHeads {
    /// Class logits and box deltas of every proposal.
    ///
    /// # Shapes
    /// - features: the FPN maps '0'–'3' `[B, C, H_l, W_l]`
    /// - proposals: per image; `image_sizes`: each `[h, w]` before padding
    /// - output: `[K, classes]` and `[K, 4·classes]`, `K` the total proposal count
    pub fn forward(
        &self,
        features: &[Tensor<4>],
        proposals: &[Vec<Bbox>],
        image_sizes: &[[usize; 2]],
    ) -> (Tensor<2>, Tensor<2>) {
        let pooled = self.config.pooler.forward(features, proposals, image_sizes);
        self.box_predictor.forward(self.box_head.forward(pooled))
    }

    /// torchvision's `postprocess_detections`: the detections of each image, best first, in the
    /// resized image's pixels. `class` is the class index (1-based: 0 is the background).
    pub fn postprocess(
        &self,
        class_logits: Tensor<2>,
        box_regression: Tensor<2>,
        proposals: &[Vec<Bbox>],
        image_sizes: &[[usize; 2]],
    ) -> Vec<Vec<Detection>> {
        let c = &self.config;
        let classes = class_logits.dims()[1];
        let scores: Vec<f32> = softmax(class_logits, 1).into_data().try_to_vec().unwrap();
        let deltas: Vec<f32> = box_regression.into_data().try_to_vec().unwrap();
        let coder = BoxCoder::new(c.bbox_reg_weights);
        let mut row = 0;
        proposals
            .iter()
            .zip(image_sizes)
            .map(|(props, &[h, w])| {
                let (mut boxes, mut probs, mut labels) = (Vec::new(), Vec::new(), Vec::new());
                for p in props {
                    for class in 1..classes {
                        let d = &deltas[(row * classes + class) * 4..][..4];
                        let b = clip(
                            &coder.decode(&[d[0], d[1], d[2], d[3]], p),
                            w as f32,
                            h as f32,
                        );
                        let score = scores[row * classes + class];
                        if score > c.score_thresh && b[2] - b[0] >= 1e-2 && b[3] - b[1] >= 1e-2 {
                            boxes.push(b);
                            probs.push(score);
                            labels.push(class);
                        }
                    }
                    row += 1;
                }
                let keep = batched_nms(&boxes, &probs, &labels, c.nms_thresh);
                keep.into_iter()
                    .take(c.detections_per_img)
                    .map(|k| Detection {
                        class: labels[k],
                        score: probs[k],
                        bbox: boxes[k],
                    })
                    .collect()
            })
            .collect()
    }

    /// The box-head loss (classification, box regression) of torchvision's `fastrcnn_loss`,
    /// on a training sample of `proposals` + the ground truth (boxes and 1-based classes of each
    /// image, in the resized image's pixels) drawn with `rng`; also the sample's class logits and
    /// labels.
    pub fn loss(
        &self,
        features: &[Tensor<4>],
        proposals: &[Vec<Bbox>],
        targets: &[(Vec<Bbox>, Vec<usize>)],
        image_sizes: &[[usize; 2]],
        rng: &mut impl Rng,
    ) -> RoiHeadsLosses {
        let c = &self.config;
        let coder = BoxCoder::new(c.bbox_reg_weights);
        let mut sampled_boxes = Vec::new();
        let mut labels = Vec::new();
        let mut regression = Vec::new();
        for (props, (gt, gt_labels)) in proposals.iter().zip(targets) {
            let mut candidates = props.clone();
            candidates.extend(gt.iter().copied());
            let matches: Vec<Match> =
                match_anchors(&candidates, gt, c.fg_iou_thresh, c.bg_iou_thresh, false)
                    .into_iter()
                    .map(|m| match m {
                        Match::Object(t) if gt_labels[t] == 0 => Match::Background,
                        other => other,
                    })
                    .collect();
            let (pos, neg) = sample(&matches, c.batch_size_per_image, c.positive_fraction, rng);
            let mut boxes = Vec::new();
            for &k in &pos {
                let Match::Object(t) = matches[k] else {
                    unreachable!("sampled positives are matched")
                };
                boxes.push(candidates[k]);
                labels.push(gt_labels[t]);
                regression.push(coder.encode(&gt[t], &candidates[k]));
            }
            for &k in &neg {
                boxes.push(candidates[k]);
                labels.push(0);
                regression.push([0.0; 4]);
            }
            sampled_boxes.push(boxes);
        }
        let (logits, deltas) = self.forward(features, &sampled_boxes, image_sizes);
        let [n, classes] = logits.dims();
        let device = logits.device();
        let picked =
            log_softmax(logits.clone(), 1).gather(1, index(&labels, &device).reshape([n, 1])); // [n, 1]
        let classification = picked.mean().neg();
        let positives: Vec<usize> = (0..n).filter(|&k| labels[k] > 0).collect();
        let box_loss = if positives.is_empty() {
            deltas.sum() * 0.0
        } else {
            let rows: Vec<usize> = positives.iter().map(|&k| k * classes + labels[k]).collect();
            let pred = deltas
                .reshape([n * classes, 4])
                .select(0, index(&rows, &device));
            let target: Vec<f32> = positives.iter().flat_map(|&k| regression[k]).collect();
            let target =
                Tensor::<2>::from_data(TensorData::new(target, [positives.len(), 4]), &device);
            smooth_l1(pred - target, 1.0 / 9.0).sum()
        } / n.max(1) as f32;
        RoiHeadsLosses {
            classifier: classification,
            box_reg: box_loss,
            class_logits: logits,
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_mapper_follows_the_fpn_rule() {
        let pooler = MultiScaleRoiAlign::new();
        let scales = [0.25, 0.125, 0.0625, 0.03125];
        // √area 224 → k0 = 4 → index 2; 112 → 3 → 1; 56 and smaller → 2 → 0; 448+ → 5 → 3
        let boxes = [
            [0.0, 0.0, 224.0, 224.0],
            [0.0, 0.0, 112.0, 112.0],
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 800.0, 800.0],
            [5.0, 5.0, 5.0, 5.0], // empty: log₂ 0 = −∞ → the finest level
        ];
        assert_eq!(pooler.levels(&boxes, &scales), [2, 1, 0, 3, 0]);
        let device = Device::flex();
        let maps: Vec<Tensor<4>> = [24, 12, 6, 3]
            .iter()
            .map(|&s| Tensor::zeros([1, 2, s, s], &device))
            .collect();
        // a 96-px-tall batch of images 64 and 90 px tall: heights / 90 round to 2^-2 … 2^-5
        assert_eq!(pooler.scales(&maps, &[[64, 80], [90, 60]]), scales);
    }

    #[test]
    fn pooled_rows_come_back_in_box_order() {
        let device = Device::flex();
        // level l filled with the value l: each box's pooled value names its level
        let maps: Vec<Tensor<4>> = [32, 16, 8, 4]
            .iter()
            .enumerate()
            .map(|(l, &s)| Tensor::full([1, 1, s, s], l as f32, &device))
            .collect();
        let boxes = vec![vec![
            [0.0, 0.0, 60.0, 60.0],   // √area 60 → k = 2 → level 0
            [0.0, 0.0, 64.0, 64.0],   // 64 → ⌊4 + log₂(64/224)⌋ = ⌊2.19⌋ = 2 → 0
            [0.0, 0.0, 120.0, 120.0], // ⌊3.1⌋ = 3 → 1
            [0.0, 0.0, 10.0, 120.0],  // √1200 = 35 → ⌊1.3⌋ clamped to 2 → 0
        ]];
        let pooled =
            MultiScaleRoiAlign::new()
                .with_output_size(1)
                .forward(&maps, &boxes, &[[128, 128]]);
        let v: Vec<f32> = pooled.into_data().try_into_vec().unwrap();
        assert_eq!(v, [0.0, 0.0, 1.0, 0.0]);
    }
}
