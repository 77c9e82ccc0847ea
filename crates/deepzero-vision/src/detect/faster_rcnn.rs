//! Faster R-CNN (Ren, He, Girshick & Sun, "Faster R-CNN: towards real-time object detection with
//! region proposal networks", NeurIPS 2015) with a feature pyramid (Lin et al. 2017), as
//! torchvision's `fasterrcnn_resnet50_fpn` builds it, and the import of its weights.
//!
//! ```text
//! images → RcnnTransform (normalise, resize short side 800 ≤ long 1333, pad to 32)
//!        → ResNet-50 layer1..4 → FPN (256 ch, 5 levels '0' '1' '2' '3' 'pool')
//!        → RPN (3 anchors per cell and level) → ≤ 1000 proposals per image
//!        → MultiScaleRoIAlign 7×7 on '0'–'3' → TwoMLPHead 1024 → FastRCNNPredictor (91 classes)
//!        → per-class NMS → ≤ 100 detections, boxes mapped back to the original pixels
//! ```
//!
//! | step | module | torchvision |
//! |---|---|---|
//! | input transform | [`RcnnTransformConfig`](super::rcnn_transform) | `GeneralizedRCNNTransform` |
//! | backbone + pyramid | [`BackboneWithFpn`](super::fpn) | `resnet_fpn_backbone`, `FeaturePyramidNetwork`, `LastLevelMaxPool` |
//! | proposals | [`RegionProposalNetwork`](super::rpn) | `AnchorGenerator`, `RPNHead`, `RegionProposalNetwork` |
//! | box head | [`RoiHeads`](super::roi_heads) | `MultiScaleRoIAlign`, `TwoMLPHead`, `FastRCNNPredictor`, `RoIHeads` |
//!
//! Everything runs in eval mode exactly as torchvision's (`tests/faster_rcnn_import.rs` compares
//! every intermediate result with torchvision's own classes); training uses the same losses
//! ([`FasterRcnn::loss`]), with the backbone's batch norms frozen.
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_vision::detect::{FasterRcnnConfig, load_torchvision_faster_rcnn};
//!
//! let device = Device::flex();
//! let model = FasterRcnnConfig::resnet50_fpn(91).init(&device);
//! // https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth
//! let model = load_torchvision_faster_rcnn(model, "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth".as_ref())?;
//! let image = Tensor::<3>::zeros([3, 480, 640], &device); // RGB in [0, 1]
//! for d in &model.detect(&[image])[0] {
//!     println!("class {} score {:.2} box {:?}", d.class, d.score, d.bbox);
//! }
//! # Ok::<(), deepzero_vision::ImportError>(())
//! ```

use std::path::Path;

use burn::prelude::*;
use rand::Rng;

use super::boxes::Bbox;
use super::fpn::{BackboneWithFpn, BackboneWithFpnConfig};
use super::rcnn_transform::{RcnnBatch, RcnnTransformConfig};
use super::roi_heads::{RoiHeads, RoiHeadsConfig};
use super::rpn::{RegionProposalNetwork, RpnConfig, RpnOutput};
use super::yolo3::Detection;
use crate::{ImportError, ImportOptions, ResNetConfig, load_torchvision_remapped};

/// Configuration of [`FasterRcnn`]; every default is `fasterrcnn_resnet50_fpn`'s.
#[derive(Config, Debug)]
pub struct FasterRcnnConfig {
    /// The ResNet and the FPN width.
    pub backbone: BackboneWithFpnConfig,
    /// Classes including the background (COCO: 91, of which 80 are used).
    pub num_classes: usize,
    /// The input step.
    #[config(default = "RcnnTransformConfig::new()")]
    pub transform: RcnnTransformConfig,
    /// The region proposal network.
    #[config(default = "RpnConfig::new()")]
    pub rpn: RpnConfig,
    /// The box head.
    #[config(default = "RoiHeadsConfig::new()")]
    pub roi_heads: RoiHeadsConfig,
    /// ResNet stages trained, counted from layer4 (torchvision's `trainable_backbone_layers`,
    /// 0–5; 3 trains layer2–layer4, 5 everything but the frozen batch norms).
    #[config(default = 3)]
    pub trainable_backbone_layers: usize,
}

impl FasterRcnnConfig {
    /// torchvision's `fasterrcnn_resnet50_fpn(num_classes=…)`: ResNet-50, FPN 256, every other
    /// setting at its default: 41 755 286 trained parameters for 91 classes, and 53 120 frozen
    /// batch-norm γ, β.
    pub fn resnet50_fpn(num_classes: usize) -> Self {
        Self::new(
            BackboneWithFpnConfig::new(ResNetConfig::resnet50(1)),
            num_classes,
        )
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> FasterRcnn {
        let channels = self.backbone.out_channels;
        FasterRcnn {
            backbone: self
                .backbone
                .init(device)
                .freeze_stages(self.trainable_backbone_layers),
            rpn: self.rpn.init(channels, device),
            roi_heads: self.roi_heads.init(channels, self.num_classes, device),
            transform: self.transform.clone(),
        }
    }
}

/// Everything one inference pass computed, for inspection and tests.
#[derive(Clone, Debug)]
pub struct FasterRcnnOutput {
    /// The five FPN maps `[B, C, H/s, W/s]`, `s = 4 … 64`.
    pub features: Vec<Tensor<4>>,
    /// Objectness, deltas, anchors and proposals.
    pub rpn: RpnOutput,
    /// Class logits of every proposal `[K, classes]` (images in order).
    pub class_logits: Tensor<2>,
    /// Box deltas of every proposal `[K, 4·classes]`.
    pub box_regression: Tensor<2>,
    /// Detections per image, in the **resized** image's pixels.
    pub detections: Vec<Vec<Detection>>,
}

/// The four training losses (torchvision's `loss_objectness`, `loss_rpn_box_reg`,
/// `loss_classifier`, `loss_box_reg`); their sum is what torchvision's recipe minimises.
#[derive(Clone, Debug)]
pub struct FasterRcnnLosses {
    /// RPN binary cross-entropy.
    pub objectness: Tensor<1>,
    /// RPN smooth-L1.
    pub rpn_box: Tensor<1>,
    /// Box-head cross-entropy.
    pub classifier: Tensor<1>,
    /// Box-head smooth-L1.
    pub box_reg: Tensor<1>,
    /// The box head's class logits `[n, classes]` on its training sample (images in order).
    pub class_logits: Tensor<2>,
    /// The sample's labels (0: background), one per row of `class_logits`.
    pub class_labels: Vec<usize>,
}

impl FasterRcnnLosses {
    /// The sum of the four.
    pub fn total(&self) -> Tensor<1> {
        self.objectness.clone()
            + self.rpn_box.clone()
            + self.classifier.clone()
            + self.box_reg.clone()
    }
}

/// Faster R-CNN with a ResNet-FPN backbone (torchvision's `FasterRCNN`).
///
/// # torchvision keys
/// `backbone.body.*`, `backbone.fpn.*`, `rpn.head.{conv,cls_logits,bbox_pred}.*`,
/// `roi_heads.box_head.{fc6,fc7}.*`, `roi_heads.box_predictor.{cls_score,bbox_pred}.*`; see
/// [`load_torchvision_faster_rcnn`].
#[derive(Module, Debug)]
pub struct FasterRcnn {
    /// ResNet + FPN.
    pub backbone: BackboneWithFpn,
    /// Proposals.
    pub rpn: RegionProposalNetwork,
    /// Box classification and refinement.
    pub roi_heads: RoiHeads,
    /// The input step.
    #[module(skip)]
    pub transform: RcnnTransformConfig,
}

impl FasterRcnn {
    /// Detections of each image, in its own pixels, best first; `class` is the 1-based class
    /// index of the weights (COCO category ids for torchvision's: 1 = person, 3 = car, …).
    ///
    /// # Shapes
    /// - images: `[3, h_i, w_i]`, RGB in `[0, 1]`
    pub fn detect(&self, images: &[Tensor<3>]) -> Vec<Vec<Detection>> {
        let batch = self.transform.apply(images);
        let out = self.forward_batch(&batch);
        out.detections
            .into_iter()
            .enumerate()
            .map(|(i, dets)| {
                dets.into_iter()
                    .map(|d| Detection {
                        bbox: batch.to_original(i, &d.bbox),
                        ..d
                    })
                    .collect()
            })
            .collect()
    }

    /// Inference on a transformed batch, keeping every intermediate result.
    pub fn forward_batch(&self, batch: &RcnnBatch) -> FasterRcnnOutput {
        let features = self.backbone.forward(batch.images.clone());
        let rpn = self
            .rpn
            .forward(&features, batch.padded_size(), &batch.image_sizes, false);
        let proposals: Vec<Vec<Bbox>> = rpn.proposals.iter().map(|p| p.boxes.clone()).collect();
        let levels = &features[..features.len() - 1]; // 'pool' is for the RPN only
        let (class_logits, box_regression) =
            self.roi_heads
                .forward(levels, &proposals, &batch.image_sizes);
        let detections = self.roi_heads.postprocess(
            class_logits.clone(),
            box_regression.clone(),
            &proposals,
            &batch.image_sizes,
        );
        FasterRcnnOutput {
            features,
            rpn,
            class_logits,
            box_regression,
            detections,
        }
    }

    /// The training losses for `images` (`[3, h, w]` in `[0, 1]`) and their ground truth
    /// (`boxes` in the images' own pixels, 1-based `classes`), with the samples of anchors and
    /// proposals drawn from `rng`. Run it on an autodiff device to train.
    pub fn loss(
        &self,
        images: &[Tensor<3>],
        targets: &[(Vec<Bbox>, Vec<usize>)],
        rng: &mut impl Rng,
    ) -> FasterRcnnLosses {
        let batch = self.transform.apply(images);
        let targets: Vec<(Vec<Bbox>, Vec<usize>)> = targets
            .iter()
            .enumerate()
            .map(|(i, (boxes, classes))| {
                let boxes = boxes.iter().map(|b| batch.to_resized(i, b)).collect();
                (boxes, classes.clone())
            })
            .collect();
        let features = self.backbone.forward(batch.images.clone());
        let rpn = self
            .rpn
            .forward(&features, batch.padded_size(), &batch.image_sizes, true);
        let gt_boxes: Vec<Vec<Bbox>> = targets.iter().map(|(b, _)| b.clone()).collect();
        let (objectness, rpn_box) = self.rpn.loss(&rpn, &gt_boxes, rng);
        let proposals: Vec<Vec<Bbox>> = rpn.proposals.iter().map(|p| p.boxes.clone()).collect();
        let levels = &features[..features.len() - 1];
        let heads = self
            .roi_heads
            .loss(levels, &proposals, &targets, &batch.image_sizes, rng);
        FasterRcnnLosses {
            objectness,
            rpn_box,
            classifier: heads.classifier,
            box_reg: heads.box_reg,
            class_logits: heads.class_logits,
            class_labels: heads.labels,
        }
    }

    /// Trainable parameters as torchvision counts them (without the ResNet's unused `fc`;
    /// frozen ones included, as `sum(p.numel() for p in model.parameters())`).
    pub fn torchvision_params(&self) -> usize {
        crate::trainable_params(self) - crate::trainable_params(&self.backbone.body.fc)
    }
}

/// The class names of torchvision's COCO detection weights, by class index (its
/// `_COCO_CATEGORIES`: COCO's category ids, with `N/A` for the ids COCO left unused).
pub const COCO_CATEGORIES: [&str; 91] = [
    "__background__",
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "N/A",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "N/A",
    "backpack",
    "umbrella",
    "N/A",
    "N/A",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "N/A",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "N/A",
    "dining table",
    "N/A",
    "N/A",
    "toilet",
    "N/A",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "N/A",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Key remaps from torchvision's files to [`FasterRcnn`]: torchvision ≥ 0.13 wraps the FPN and
/// RPN-head convolutions in `Conv2dNormActivation` (`inner_blocks.0.0.weight`,
/// `rpn.head.conv.0.0.weight`); the COCO checkpoint of `fasterrcnn_resnet50_fpn` predates that
/// (`inner_blocks.0.weight`, `rpn.head.conv.weight`), as does this model. Both load.
pub const FASTER_RCNN_REMAPS: [(&str, &str); 2] = [
    (
        r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\.",
        "${1}.",
    ),
    (r"^rpn\.head\.conv\.0\.0\.", "rpn.head.conv."),
];

/// Loads torchvision's Faster R-CNN weights (a `fasterrcnn_resnet50_fpn` state dict, `.pth` or
/// `.safetensors`, either key layout of [`FASTER_RCNN_REMAPS`]) into `model`, strictly: every
/// parameter but the ResNet's unused `fc` must be in the file with its shape, and every key of
/// the file must be used.
///
/// # Errors
/// [`ImportError::Mismatch`] naming the file and every missing, unused or wrong-shape key, in one
/// line; the other variants when the file cannot be read.
pub fn load_torchvision_faster_rcnn(
    model: FasterRcnn,
    path: &Path,
) -> Result<FasterRcnn, ImportError> {
    let options = ImportOptions {
        allow_partial: true,
    };
    let (model, mut report) =
        load_torchvision_remapped(model, path, &options, &FASTER_RCNN_REMAPS)?;
    report
        .missing
        .retain(|k| !k.starts_with("backbone.body.fc."));
    if !report.is_complete() {
        return Err(ImportError::Mismatch {
            path: path.to_path_buf(),
            report: Box::new(report),
        });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;

    #[test]
    fn torchvision_parameter_count() {
        let device = Device::flex();
        // sum(p.numel() for p in fasterrcnn_resnet50_fpn(weights=None,
        //     weights_backbone=None).parameters()): that build has plain BatchNorm2d, whose γ, β
        // count (the 41 755 286 of torchvision's docs is with FrozenBatchNorm2d, whose are buffers)
        let model = FasterRcnnConfig::resnet50_fpn(91).init(&device);
        assert_eq!(model.torchvision_params(), 41_808_406);
    }

    #[test]
    fn tiny_model_detects_with_shapes_in_order() {
        let device = Device::flex();
        let config = FasterRcnnConfig::new(
            BackboneWithFpnConfig::new(
                ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1).with_base_channels(4),
            )
            .with_out_channels(8),
            3,
        )
        .with_transform(
            RcnnTransformConfig::new()
                .with_min_size(64)
                .with_max_size(96),
        )
        .with_roi_heads(RoiHeadsConfig::new().with_representation_size(16));
        let model = config.init(&device);
        let images = [
            Tensor::<3>::ones([3, 40, 50], &device) * 0.5,
            Tensor::<3>::ones([3, 30, 30], &device) * 0.2,
        ];
        let batch = model.transform.apply(&images);
        let out = model.forward_batch(&batch);
        let k: usize = out.rpn.proposals.iter().map(|p| p.boxes.len()).sum();
        assert_eq!(out.class_logits.dims(), [k, 3]);
        assert_eq!(out.box_regression.dims(), [k, 12]);
        let dets = model.detect(&images);
        for (d, [h, w]) in dets.iter().zip([[40.0, 50.0], [30.0, 30.0]]) {
            assert!(d.len() <= 100);
            for det in d {
                assert!((1..3).contains(&det.class));
                assert!(det.bbox[2] <= w + 1e-3 && det.bbox[3] <= h + 1e-3);
            }
        }
    }

    #[test]
    fn the_losses_train_a_tiny_model_to_find_two_objects() {
        use super::super::boxes::iou;
        use burn::optim::{AdamConfig, GradientsParams};
        use rand::SeedableRng;
        use rand::rngs::StdRng;
        let device = Device::flex().autodiff();
        device.seed(3);
        let mut rng = StdRng::seed_from_u64(3);
        // Two 64×64 images, one coloured square each: class 1 red, class 2 green.
        let objects: [(Bbox, usize, [f32; 3]); 2] = [
            ([8.0, 10.0, 32.0, 34.0], 1, [1.0, 0.1, 0.1]),
            ([30.0, 24.0, 58.0, 50.0], 2, [0.1, 1.0, 0.1]),
        ];
        let picture = |(b, _, colour): &(Bbox, usize, [f32; 3]), device: &Device| {
            let mut pixels = vec![0.3f32; 3 * 64 * 64];
            for (c, &v) in colour.iter().enumerate() {
                for y in b[1] as usize..b[3] as usize {
                    for x in b[0] as usize..b[2] as usize {
                        pixels[(c * 64 + y) * 64 + x] = v;
                    }
                }
            }
            Tensor::<3>::from_data(TensorData::new(pixels, [3, 64, 64]), device)
        };
        let images: Vec<Tensor<3>> = objects.iter().map(|o| picture(o, &device)).collect();
        let targets: Vec<(Vec<Bbox>, Vec<usize>)> = objects
            .iter()
            .map(|(b, c, _)| (vec![*b], vec![*c]))
            .collect();
        let mut model = tiny_config()
            .with_rpn(
                RpnConfig::new()
                    .with_pre_nms_top_n_train(200)
                    .with_post_nms_top_n_train(100)
                    .with_pre_nms_top_n_test(200)
                    .with_post_nms_top_n_test(50),
            )
            .with_roi_heads(
                RoiHeadsConfig::new()
                    .with_representation_size(32)
                    .with_batch_size_per_image(64),
            )
            .with_trainable_backbone_layers(5)
            .init(&device);
        let mut optim = AdamConfig::new().init();
        let mut totals = Vec::new();
        for _ in 0..STEPS {
            let loss = model.loss(&images, &targets, &mut rng).total();
            totals.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(LEARNING_RATE, model, grads);
        }
        let first = totals[..5].iter().sum::<f32>() / 5.0;
        let last = totals[STEPS - 5..].iter().sum::<f32>() / 5.0;
        eprintln!("total loss, mean of 5 steps: {first:.3} → {last:.3}");
        assert!(last < 0.1 * first, "loss {first} → {last}");
        let inner = device.without_autodiff();
        let model = model.valid();
        let images: Vec<Tensor<3>> = objects.iter().map(|o| picture(o, &inner)).collect();
        for ((b, class, _), found) in objects.iter().zip(model.detect(&images)) {
            let best = &found[0];
            eprintln!(
                "best: class {} score {:.3} IoU {:.3}",
                best.class,
                best.score,
                iou(&best.bbox, b)
            );
            assert_eq!(best.class, *class);
            assert!(iou(&best.bbox, b) > 0.5, "{:?} vs {b:?}", best.bbox);
        }
    }

    const STEPS: usize = 200;
    const LEARNING_RATE: f64 = 3e-3;

    fn tiny_config() -> FasterRcnnConfig {
        FasterRcnnConfig::new(
            BackboneWithFpnConfig::new(
                ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1).with_base_channels(4),
            )
            .with_out_channels(16),
            3,
        )
        .with_transform(
            RcnnTransformConfig::new()
                .with_min_size(64)
                .with_max_size(64),
        )
    }
}
