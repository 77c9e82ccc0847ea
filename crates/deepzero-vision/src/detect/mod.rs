//! Object detection (seed chapter 3.2): box maths, NMS, RoIAlign, anchors and matching, COCO and
//! VOC metrics, detection data readers, and trainable detectors.
//!
//! | piece | module | reference it is tested against |
//! |---|---|---|
//! | IoU, GIoU, box formats, anchor-delta [`BoxCoder`], YOLO grid coding | [`boxes`] | `torchvision.ops.box_iou`, `generalized_box_iou`, `BoxCoder` |
//! | [`nms()`], [`batched_nms`] (per-class) | [`nms`](mod@nms) | `torchvision.ops.nms`, `batched_nms` |
//! | [`roi_align()`] (differentiable in the features) | [`roi_align`](mod@roi_align) | `torchvision.ops.roi_align` |
//! | [`grid_anchors`], [`match_anchors`] | [`anchors`] | torchvision's `AnchorGenerator`, `Matcher` |
//! | COCO AP/AR ([`coco::evaluate`], the twelve numbers of `COCOeval.summarize()`), VOC AP ([`coco::voc_ap`]) | [`coco`] | pycocotools; py-faster-rcnn's `voc_eval` |
//! | readers: YOLO txt ([`data::read_yolo_dir`]), COCO JSON ([`data::read_coco`]), Pascal VOC XML ([`data::parse_voc_xml`]) | [`data`] | hand cases |
//! | [`Yolo1`]: YOLO v1, the seed's grid detector (`S × S × (5B + C)`), and its sum-of-squares loss ([`yolo1_loss`]) | [`yolo1`] | the paper's equation 3 by hand; overfits two images |
//! | [`FasterRcnn`]: Faster R-CNN with FPN on a zoo ResNet, torchvision's `fasterrcnn_resnet50_fpn` ([`FasterRcnnConfig::resnet50_fpn`], [`load_torchvision_faster_rcnn`]) | [`faster_rcnn`] | torchvision's own classes, stage by stage (`tests/faster_rcnn_import.rs`) |
//! | its input step: normalise, resize short side to `min_size`, pad to 32 ([`RcnnTransformConfig`]) | [`rcnn_transform`] | `GeneralizedRCNNTransform` |
//! | [`BackboneWithFpn`]: ResNet layer1–4 → [`FeaturePyramidNetwork`] + max-pool level, frozen BN | [`fpn`] | `resnet_fpn_backbone`, `FeaturePyramidNetwork` |
//! | [`RegionProposalNetwork`]: anchors ([`AnchorGeneratorConfig`]), [`RpnHead`], proposal filter, RPN loss | [`rpn`] | `AnchorGenerator`, `RegionProposalNetwork` |
//! | [`RoiHeads`]: [`MultiScaleRoiAlign`], [`TwoMlpHead`], [`FastRcnnPredictor`], detections, box-head loss | [`roi_heads`] | `MultiScaleRoIAlign`, `RoIHeads` |
//! | [`Yolo3`]: YOLOv3-style detector, 3 scales, FPN-style neck | [`yolo3`] | shapes, row layout |
//! | its loss ([`yolo_loss()`](yolo_loss::yolo_loss)) and target assignment | [`yolo_loss`] | hand cases |
//! | box- and mask-aware zoom/crop/pad, flip and colour jitter ([`BoxAugmentation`]) | [`augment`] | boxes stay the tight box of their mask pixels; hand cases |
//! | pictures of boxes with "class score" labels ([`draw::draw_labelled_file`]) | [`draw`] | pixel tests |
//!
//! The whole task — digit scenes, training, COCO scoring, prediction — is
//! [`crate::tasks::detect`]; torchvision's Faster R-CNN weights as a run folder, detecting in
//! image files, are [`crate::tasks::rcnn`]; `docs/detection.md` has the measured figures.
//!
//! Boxes are `[x_min, y_min, x_max, y_max]` in pixels ([`Bbox`]) everywhere except in COCO JSON,
//! which stores `[x, y, w, h]`.
//!
//! ```
//! use deepzero_vision::detect::{iou, nms};
//! let boxes = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]];
//! assert!((iou(&boxes[0], &boxes[1]) - 81.0 / 119.0).abs() < 1e-6);
//! assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.5), vec![0, 2]);
//! ```

pub mod anchors;
pub mod augment;
pub mod boxes;
pub mod coco;
pub mod data;
pub mod draw;
pub mod faster_rcnn;
pub mod fpn;
pub mod nms;
pub mod rcnn_transform;
pub mod roi_align;
pub mod roi_heads;
pub mod rpn;
pub mod yolo1;
pub mod yolo3;
pub mod yolo_loss;

pub use anchors::{Match, grid_anchors, match_anchors};
pub use augment::{Annotated, BoxAugmentation};
pub use boxes::{
    Bbox, BoxCoder, area, box_iou, clip, generalized_box_iou, giou, giou_paired, intersection, iou,
    xywh_to_xyxy, xyxy_to_xywh, yolo_decode, yolo_encode,
};
pub use faster_rcnn::{
    COCO_CATEGORIES, FASTER_RCNN_REMAPS, FasterRcnn, FasterRcnnConfig, FasterRcnnLosses,
    FasterRcnnOutput, load_torchvision_faster_rcnn,
};
pub use fpn::{
    BackboneWithFpn, BackboneWithFpnConfig, FeaturePyramidNetwork, FeaturePyramidNetworkConfig,
};
pub use nms::{batched_nms, nms};
pub use rcnn_transform::{RcnnBatch, RcnnTransformConfig};
pub use roi_align::{Roi, RoiAlignOptions, roi_align};
pub use roi_heads::{
    FastRcnnPredictor, MultiScaleRoiAlign, RoiHeads, RoiHeadsConfig, RoiHeadsLosses, TwoMlpHead,
};
pub use rpn::{
    AnchorGeneratorConfig, Proposals, RegionProposalNetwork, RpnConfig, RpnHead, RpnOutput,
};
pub use yolo1::{GridLayout, Yolo1, Yolo1Config, Yolo1LossConfig, yolo1_loss};
pub use yolo3::{DecodeOptions, Detection, Yolo3, Yolo3Config};
