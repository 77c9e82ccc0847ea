//! The region proposal network of Faster R-CNN (Ren, He, Girshick & Sun, "Faster R-CNN: towards
//! real-time object detection with region proposal networks", NeurIPS 2015, §3.1), as torchvision
//! builds it (`torchvision.models.detection.rpn`): an [`AnchorGeneratorConfig`] laying anchors over
//! every pyramid level, an [`RpnHead`] scoring and refining each anchor, the proposal filter of
//! `RegionProposalNetwork.filter_proposals`, and the RPN loss.
//!
//! ```text
//! level map [B, C, H, W] → 3×3 conv C + ReLU → 1×1 → objectness [B, A, H, W]
//!                                            → 1×1 → deltas     [B, 4A, H, W]
//! anchors + deltas (BoxCoder 1,1,1,1) → per level top-n by objectness → clip → drop < 1e-3 px
//!   → score ≥ thresh → NMS 0.7 within each level → best post-n: the proposals
//! ```
//! Anchors, scores and deltas of one image are ordered level by level, then cell by cell
//! (row-major), then anchor by anchor (aspect ratio outer, size inner), torchvision's order.
//!
//! # Training loss ([`RegionProposalNetwork::loss`])
//! Anchors are matched to ground truth with IoU ≥ 0.7 positive, < 0.3 negative, every ground
//! truth's best anchors positive too ([`match_anchors`] with `allow_low_quality`); 256 anchors per
//! image are sampled, at most half positive; the objectness loss is the binary cross-entropy with
//! logits over the sampled anchors (mean), the box loss the smooth-L1 (β = 1/9) of the positives'
//! deltas, summed and divided by the number sampled.

use burn::module::Param;
use burn::nn::Initializer;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::Rng;
use rand::seq::SliceRandom;

use super::anchors::{Match, grid_anchors, match_anchors};
use super::boxes::{Bbox, BoxCoder};
use super::nms::batched_nms;
use crate::classify::zoo::conv_config;

/// torchvision's `AnchorGenerator`: the anchor sizes and aspect ratios (`h / w`) of each level.
#[derive(Config, Debug)]
pub struct AnchorGeneratorConfig {
    /// Sizes (√area, pixels) per level; torchvision's FPN models: one per level, 32 … 512.
    #[config(default = "vec![vec![32.0], vec![64.0], vec![128.0], vec![256.0], vec![512.0]]")]
    pub sizes: Vec<Vec<f32>>,
    /// Aspect ratios per level; torchvision: `(0.5, 1, 2)` everywhere.
    #[config(default = "vec![vec![0.5, 1.0, 2.0]; 5]")]
    pub aspect_ratios: Vec<Vec<f32>>,
}

impl AnchorGeneratorConfig {
    /// Anchors per feature-map cell (the same on every level, as torchvision requires).
    pub fn anchors_per_location(&self) -> usize {
        self.sizes[0].len() * self.aspect_ratios[0].len()
    }

    /// The anchors of every level for a padded batch of `image_size = [H, W]` whose level maps
    /// are `grids[i] = [h_i, w_i]`, concatenated level by level, and the count of each level.
    /// The stride of a level is `H / h_i` (integer division), as torchvision computes it.
    pub fn anchors(&self, image_size: [usize; 2], grids: &[[usize; 2]]) -> (Vec<Bbox>, Vec<usize>) {
        let mut all = Vec::new();
        let mut counts = Vec::with_capacity(grids.len());
        for (level, &[h, w]) in grids.iter().enumerate() {
            let stride = (
                (image_size[1] / w.max(1)) as f32,
                (image_size[0] / h.max(1)) as f32,
            );
            let anchors = grid_anchors(
                &self.sizes[level],
                &self.aspect_ratios[level],
                (h, w),
                stride,
            );
            counts.push(anchors.len());
            all.extend(anchors);
        }
        (all, counts)
    }
}

/// Configuration of [`RegionProposalNetwork`]; defaults are `fasterrcnn_resnet50_fpn`'s.
#[derive(Config, Debug)]
pub struct RpnConfig {
    /// The anchors.
    #[config(default = "AnchorGeneratorConfig::new()")]
    pub anchor_generator: AnchorGeneratorConfig,
    /// Proposals kept per level before NMS, training.
    #[config(default = 2000)]
    pub pre_nms_top_n_train: usize,
    /// Proposals kept per level before NMS, inference.
    #[config(default = 1000)]
    pub pre_nms_top_n_test: usize,
    /// Proposals kept per image after NMS, training.
    #[config(default = 2000)]
    pub post_nms_top_n_train: usize,
    /// Proposals kept per image after NMS, inference.
    #[config(default = 1000)]
    pub post_nms_top_n_test: usize,
    /// NMS IoU threshold.
    #[config(default = 0.7)]
    pub nms_thresh: f32,
    /// Proposals need an objectness probability ≥ this.
    #[config(default = 0.0)]
    pub score_thresh: f32,
    /// IoU from which an anchor is positive (training).
    #[config(default = 0.7)]
    pub fg_iou_thresh: f32,
    /// IoU below which an anchor is negative (training).
    #[config(default = 0.3)]
    pub bg_iou_thresh: f32,
    /// Anchors sampled per image for the loss.
    #[config(default = 256)]
    pub batch_size_per_image: usize,
    /// Largest positive share of the sample.
    #[config(default = 0.5)]
    pub positive_fraction: f32,
}

impl RpnConfig {
    /// Builds the network over maps of `in_channels`; its convolutions are drawn from
    /// `N(0, 0.01²)`, biases zero (torchvision's `RPNHead`).
    pub fn init(&self, in_channels: usize, device: &Device) -> RegionProposalNetwork {
        let c = in_channels;
        let a = self.anchor_generator.anchors_per_location();
        let conv = |channels: [usize; 2], kernel: usize| {
            let mut conv = conv_config(channels, kernel, 1, kernel / 2)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.01,
                })
                .init(device);
            conv.bias = Some(Param::from_tensor(Tensor::zeros([channels[1]], device)));
            conv
        };
        RegionProposalNetwork {
            head: RpnHead {
                conv: conv([c, c], 3),
                cls_logits: conv([c, a], 1),
                bbox_pred: conv([c, 4 * a], 1),
            },
            config: self.clone(),
        }
    }
}

/// torchvision's `RPNHead` (one 3×3 convolution, `conv_depth = 1`).
#[derive(Module, Debug)]
pub struct RpnHead {
    /// 3×3 convolution (padding 1) + ReLU, weight `[C, C, 3, 3]`.
    pub conv: Conv2d,
    /// Objectness logits, weight `[A, C, 1, 1]`.
    pub cls_logits: Conv2d,
    /// Box deltas, weight `[4A, C, 1, 1]`, channel `4a + j` for anchor `a`, coordinate `j`.
    pub bbox_pred: Conv2d,
}

impl RpnHead {
    /// # Shapes
    /// - features: maps `[B, C, H_l, W_l]`
    /// - output: objectness `[B, A, H_l, W_l]` and deltas `[B, 4A, H_l, W_l]` per level
    pub fn forward(&self, features: &[Tensor<4>]) -> (Vec<Tensor<4>>, Vec<Tensor<4>>) {
        features
            .iter()
            .map(|f| {
                let t = relu(self.conv.forward(f.clone()));
                (
                    self.cls_logits.forward(t.clone()),
                    self.bbox_pred.forward(t),
                )
            })
            .unzip()
    }
}

/// The proposals of one image, best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proposals {
    /// Boxes in the resized image's pixels, clipped to it.
    pub boxes: Vec<Bbox>,
    /// Objectness probabilities.
    pub scores: Vec<f32>,
}

/// What the RPN computed for a batch.
#[derive(Clone, Debug)]
pub struct RpnOutput {
    /// Objectness logits, `[B, total anchors]`, torchvision's anchor order.
    pub objectness: Tensor<2>,
    /// Deltas, `[B, total anchors, 4]`.
    pub deltas: Tensor<3>,
    /// The anchors (the same for every image of the padded batch).
    pub anchors: Vec<Bbox>,
    /// Anchors per level.
    pub level_counts: Vec<usize>,
    /// Proposals per image.
    pub proposals: Vec<Proposals>,
}

/// torchvision's `RegionProposalNetwork`.
#[derive(Module, Debug)]
pub struct RegionProposalNetwork {
    /// The convolutional head.
    pub head: RpnHead,
    /// Anchors, thresholds and sample sizes.
    #[module(skip)]
    pub config: RpnConfig,
}

impl RegionProposalNetwork {
    /// Runs the head on every level and filters the proposals (`training` picks the pre/post-NMS
    /// counts).
    ///
    /// # Shapes
    /// - features: maps `[B, C, H_l, W_l]` of a padded batch `[B, 3, H, W]`
    /// - `batch_size`: `[H, W]`; `image_sizes`: each image's `[h, w]` before padding
    pub fn forward(
        &self,
        features: &[Tensor<4>],
        batch_size: [usize; 2],
        image_sizes: &[[usize; 2]],
        training: bool,
    ) -> RpnOutput {
        let (objectness, deltas) = self.head.forward(features);
        let grids: Vec<[usize; 2]> = features
            .iter()
            .map(|f| {
                let [_, _, h, w] = f.dims();
                [h, w]
            })
            .collect();
        let (anchors, level_counts) = self.config.anchor_generator.anchors(batch_size, &grids);
        let (objectness, deltas) = flatten_levels(&objectness, &deltas);
        let proposals = self.filter_proposals(
            &objectness,
            &deltas,
            &anchors,
            &level_counts,
            image_sizes,
            training,
        );
        RpnOutput {
            objectness,
            deltas,
            anchors,
            level_counts,
            proposals,
        }
    }

    /// `RegionProposalNetwork.filter_proposals`: per image, the `pre_nms_top_n` best anchors of
    /// each level, decoded (weights 1, 1, 1, 1, `dw`, `dh` clamped at `ln(1000/16)`), clipped to
    /// the image, boxes under 1e-3 px and scores under `score_thresh` dropped, NMS within each
    /// level, the `post_nms_top_n` best kept.
    pub fn filter_proposals(
        &self,
        objectness: &Tensor<2>,
        deltas: &Tensor<3>,
        anchors: &[Bbox],
        level_counts: &[usize],
        image_sizes: &[[usize; 2]],
        training: bool,
    ) -> Vec<Proposals> {
        let c = &self.config;
        let (pre_n, post_n) = if training {
            (c.pre_nms_top_n_train, c.post_nms_top_n_train)
        } else {
            (c.pre_nms_top_n_test, c.post_nms_top_n_test)
        };
        let [b, total] = objectness.dims();
        let logits: Vec<f32> = objectness.to_data().try_to_vec::<f32>().unwrap();
        let deltas: Vec<f32> = deltas.to_data().try_to_vec::<f32>().unwrap();
        let coder = BoxCoder::new([1.0; 4]);
        (0..b)
            .map(|i| {
                let logits = &logits[i * total..(i + 1) * total];
                let mut candidates = Vec::new(); // (anchor index, level)
                let mut start = 0;
                for (level, &count) in level_counts.iter().enumerate() {
                    let mut order: Vec<usize> = (start..start + count).collect();
                    order.sort_by(|&x, &y| logits[y].total_cmp(&logits[x]));
                    candidates.extend(order.into_iter().take(pre_n).map(|a| (a, level)));
                    start += count;
                }
                let [h, w] = image_sizes[i];
                let (mut boxes, mut scores, mut levels) = (Vec::new(), Vec::new(), Vec::new());
                for (a, level) in candidates {
                    let d = &deltas[(i * total + a) * 4..(i * total + a) * 4 + 4];
                    let bx = super::boxes::clip(
                        &coder.decode(&[d[0], d[1], d[2], d[3]], &anchors[a]),
                        w as f32,
                        h as f32,
                    );
                    let score = sigmoid(logits[a]);
                    let big_enough = bx[2] - bx[0] >= 1e-3 && bx[3] - bx[1] >= 1e-3;
                    if big_enough && score >= c.score_thresh {
                        boxes.push(bx);
                        scores.push(score);
                        levels.push(level);
                    }
                }
                let keep = batched_nms(&boxes, &scores, &levels, c.nms_thresh);
                let keep = &keep[..keep.len().min(post_n)];
                Proposals {
                    boxes: keep.iter().map(|&k| boxes[k]).collect(),
                    scores: keep.iter().map(|&k| scores[k]).collect(),
                }
            })
            .collect()
    }

    /// The RPN loss of a batch: `(objectness, box)` as torchvision's `compute_loss`, for the
    /// ground-truth boxes `targets[i]` of each image (in the resized image's pixels). The sample
    /// of anchors is drawn with `rng`.
    ///
    /// # Shapes
    /// - `output.objectness`: `[B, N]`, `output.deltas`: `[B, N, 4]` (differentiable)
    /// - returns two scalars `[1]`
    pub fn loss(
        &self,
        output: &RpnOutput,
        targets: &[Vec<Bbox>],
        rng: &mut impl Rng,
    ) -> (Tensor<1>, Tensor<1>) {
        let c = &self.config;
        let [b, n] = output.objectness.dims();
        let coder = BoxCoder::new([1.0; 4]);
        let mut sampled = Vec::new(); // flat index into [B·N]
        let mut labels = Vec::new();
        let mut positives = Vec::new();
        let mut regression = Vec::new();
        for (i, gt) in targets.iter().enumerate().take(b) {
            let matches =
                match_anchors(&output.anchors, gt, c.fg_iou_thresh, c.bg_iou_thresh, true);
            let (pos, neg) = sample(&matches, c.batch_size_per_image, c.positive_fraction, rng);
            for &a in &pos {
                let Match::Object(t) = matches[a] else {
                    unreachable!("sampled positives are matched")
                };
                positives.push(i * n + a);
                regression.extend(coder.encode(&gt[t], &output.anchors[a]));
            }
            sampled.extend(pos.iter().map(|&a| i * n + a));
            labels.extend(pos.iter().map(|_| 1.0f32));
            sampled.extend(neg.iter().map(|&a| i * n + a));
            labels.extend(neg.iter().map(|_| 0.0f32));
        }
        let device = output.objectness.device();
        let count = sampled.len().max(1);
        let logits = output
            .objectness
            .clone()
            .reshape([b * n])
            .select(0, index(&sampled, &device));
        let labels = Tensor::<1>::from_data(TensorData::new(labels, [sampled.len()]), &device);
        let objectness_loss = bce_with_logits(logits, labels);
        let box_loss = if positives.is_empty() {
            output.deltas.clone().sum() * 0.0
        } else {
            let p = positives.len();
            let pred = output
                .deltas
                .clone()
                .reshape([b * n, 4])
                .select(0, index(&positives, &device));
            let target = Tensor::<2>::from_data(TensorData::new(regression, [p, 4]), &device);
            smooth_l1(pred - target, 1.0 / 9.0).sum()
        } / count as f32;
        (objectness_loss, box_loss)
    }
}

/// Objectness `[B, A, H, W]` and deltas `[B, 4A, H, W]` of every level → `[B, N]` and
/// `[B, N, 4]` in torchvision's order (`concat_box_prediction_layers`).
pub fn flatten_levels(objectness: &[Tensor<4>], deltas: &[Tensor<4>]) -> (Tensor<2>, Tensor<3>) {
    let (mut obj, mut del) = (Vec::new(), Vec::new());
    for (o, d) in objectness.iter().zip(deltas) {
        let [b, a, h, w] = o.dims();
        obj.push(o.clone().permute([0, 2, 3, 1]).reshape([b, h * w * a]));
        del.push(
            d.clone()
                .reshape([b, a, 4, h, w])
                .permute([0, 3, 4, 1, 2])
                .reshape([b, h * w * a, 4]),
        );
    }
    (Tensor::cat(obj, 1), Tensor::cat(del, 1))
}

/// torchvision's `BalancedPositiveNegativeSampler` for one image: at most
/// `batch · positive_fraction` positives, the rest of `batch` negatives, each drawn at random
/// without replacement; returns `(positive, negative)` indices.
pub fn sample(
    matches: &[Match],
    batch: usize,
    positive_fraction: f32,
    rng: &mut impl Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut positive: Vec<usize> = (0..matches.len())
        .filter(|&i| matches!(matches[i], Match::Object(_)))
        .collect();
    let mut negative: Vec<usize> = (0..matches.len())
        .filter(|&i| matches[i] == Match::Background)
        .collect();
    let num_pos = ((batch as f32 * positive_fraction) as usize).min(positive.len());
    let num_neg = (batch - num_pos).min(negative.len());
    positive.shuffle(rng);
    negative.shuffle(rng);
    positive.truncate(num_pos);
    negative.truncate(num_neg);
    (positive, negative)
}

/// `F.smooth_l1_loss(reduction="none")`: `0.5 x² / β` where `|x| < β`, else `|x| − β / 2`.
pub fn smooth_l1<const D: usize>(diff: Tensor<D>, beta: f32) -> Tensor<D> {
    let a = diff.abs();
    let small = a.clone().lower_elem(beta);
    let quadratic = a.clone().powi_scalar(2) * (0.5 / beta);
    (a - 0.5 * beta).mask_where(small, quadratic)
}

/// `F.binary_cross_entropy_with_logits` (mean): `max(x, 0) − x·y + ln(1 + e^{−|x|})`.
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let softplus = (logits.clone().abs().neg().exp() + 1.0).log();
    (logits.clone().clamp_min(0.0) - logits * labels + softplus).mean()
}

pub(crate) fn index(indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [indices.len()]), device)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn flatten_puts_anchors_innermost() {
        let device = Device::flex();
        // A = 2 on a 1×2 map: objectness[b, a, 0, x] = 10x + a → order x0a0, x0a1, x1a0, x1a1
        let o = Tensor::<4>::from_data([[[[0.0, 10.0]], [[1.0, 11.0]]]], &device);
        let d = Tensor::<4>::from_data(
            TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [1, 8, 1, 2]),
            &device,
        );
        let (o, d) = flatten_levels(&[o], &[d]);
        let o: Vec<f32> = o.into_data().try_into_vec().unwrap();
        assert_eq!(o, [0.0, 1.0, 10.0, 11.0]);
        // channel 4a + j at x: value (4a + j)·2 + x
        let d: Vec<f32> = d.into_data().try_into_vec().unwrap();
        assert_eq!(&d[..4], &[0.0, 2.0, 4.0, 6.0]); // x0, a0
        assert_eq!(&d[4..8], &[8.0, 10.0, 12.0, 14.0]); // x0, a1
        assert_eq!(&d[8..12], &[1.0, 3.0, 5.0, 7.0]); // x1, a0
    }

    #[test]
    fn smooth_l1_and_bce_hand_values() {
        let device = Device::flex();
        let x = Tensor::<1>::from_data([0.05, -0.5, 2.0], &device);
        let v: Vec<f32> = smooth_l1(x, 0.1).into_data().try_into_vec().unwrap();
        // 0.5·0.0025/0.1 = 0.0125; 0.5 − 0.05; 2 − 0.05
        for (a, b) in v.iter().zip([0.0125, 0.45, 1.95]) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
        let logits = Tensor::<1>::from_data([0.0, 2.0, -3.0], &device);
        let labels = Tensor::<1>::from_data([1.0, 0.0, 0.0], &device);
        let l: f32 = bce_with_logits(logits, labels).into_scalar();
        // (ln 2 + (2 + ln(1 + e⁻²)) + ln(1 + e⁻³)) / 3
        let expected =
            (2f32.ln() + 2.0 + (1.0 + (-2f32).exp()).ln() + (1.0 + (-3f32).exp()).ln()) / 3.0;
        assert!((l - expected).abs() < 1e-6, "{l} {expected}");
    }

    #[test]
    fn sampler_caps_positives_and_fills_with_negatives() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut matches = vec![Match::Background; 20];
        for m in matches.iter_mut().take(8) {
            *m = Match::Object(0);
        }
        matches[19] = Match::Ignore;
        let (pos, neg) = sample(&matches, 10, 0.25, &mut rng);
        assert_eq!((pos.len(), neg.len()), (2, 8));
        assert!(pos.iter().all(|&i| i < 8) && neg.iter().all(|&i| (8..19).contains(&i)));
        // fewer negatives than wanted: all of them
        let (pos, neg) = sample(&matches, 40, 0.5, &mut rng);
        assert_eq!((pos.len(), neg.len()), (8, 11));
    }

    #[test]
    fn default_anchors_follow_torchvision() {
        // AnchorGenerator()(…) on a 64×64 batch with a 2×2 level-0 map (stride 32): the first
        // cell's three 32-px anchors, torch.round'ed: [-23, -11, 23, 11], [-16, -16, 16, 16],
        // [-11, -23, 11, 23]
        let generator = AnchorGeneratorConfig::new();
        let (anchors, counts) = generator.anchors([64, 64], &[[2, 2], [1, 1]]);
        assert_eq!(counts, [12, 3]);
        assert_eq!(anchors[0], [-23.0, -11.0, 23.0, 11.0]);
        assert_eq!(anchors[1], [-16.0, -16.0, 16.0, 16.0]);
        assert_eq!(anchors[2], [-11.0, -23.0, 11.0, 23.0]);
        assert_eq!(anchors[3], [9.0, -11.0, 55.0, 11.0]); // next cell: +32 in x
        assert_eq!(anchors[13], [-32.0, -32.0, 32.0, 32.0]); // level 1: 64 px
    }
}
