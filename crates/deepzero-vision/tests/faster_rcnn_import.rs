//! Golden tests of the Faster R-CNN import (torchvision's `fasterrcnn_resnet50_fpn` topology).
//!
//! `tests/fixtures/make_faster_rcnn_fixture.py` (see its docstring) builds torchvision's own
//! classes (`ResNet` with `FrozenBatchNorm2d` at 1/16 width, blocks 1-1-1-1, `BackboneWithFPN`
//! with 16 channels, `FasterRCNN` with its default anchors, `TwoMLPHead(784, 32)`,
//! `FastRCNNPredictor(32, 4)`, min/max size 64/96, 500/100 proposals before/after NMS), draws
//! seeded random weights and BN statistics, and writes the state dict and, for one batch of two
//! images of different sizes, every intermediate result in eval mode. Here the same model is
//! built with `FasterRcnnConfig`, loaded with `load_torchvision_faster_rcnn`, and each stage is
//! compared — on torchvision's own inputs to that stage where they exist, so that a failure
//! names the stage: the transform, the FPN maps, the RPN head, the anchors, the proposals, the
//! box head's outputs and the final detections.

mod common;

use std::time::Instant;

use burn::prelude::*;
use common::{fixture, json_floats, max_difference, read_json};
use deepzero_core::gradcheck::max_abs_difference;
use deepzero_vision::detect::{
    BackboneWithFpnConfig, Bbox, FasterRcnn, FasterRcnnConfig, RcnnTransformConfig, RoiHeadsConfig,
    RpnConfig, load_torchvision_faster_rcnn,
};
use deepzero_vision::{BlockKind, ImportError, ResNetConfig};
use serde_json::Value;

fn config(num_classes: usize) -> FasterRcnnConfig {
    FasterRcnnConfig::new(
        BackboneWithFpnConfig::new(
            ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1).with_base_channels(4),
        )
        .with_out_channels(16),
        num_classes,
    )
    .with_transform(
        RcnnTransformConfig::new()
            .with_min_size(64)
            .with_max_size(96),
    )
    .with_rpn(
        RpnConfig::new()
            .with_pre_nms_top_n_test(500)
            .with_post_nms_top_n_test(100),
    )
    .with_roi_heads(RoiHeadsConfig::new().with_representation_size(32))
}

fn load(device: &Device) -> FasterRcnn {
    load_torchvision_faster_rcnn(config(4).init(device), &fixture("faster_rcnn_d16.pth"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The script's images: `0.5 + 0.5 sin(0.37 i + phase)`.
fn images(device: &Device) -> Vec<Tensor<3>> {
    [([3, 50, 70], 0.0), ([3, 60, 40], 1.0)]
        .into_iter()
        .map(|(shape, phase): ([usize; 3], f64)| {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n)
                .map(|i| (0.5 + 0.5 * (0.37 * i as f64 + phase).sin()) as f32)
                .collect();
            Tensor::from_data(TensorData::new(data, shape), device)
        })
        .collect()
}

fn boxes(value: &Value) -> Vec<Bbox> {
    json_floats(value)
        .chunks(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

#[test]
fn faster_rcnn_equals_torchvision_stage_by_stage() {
    let start = Instant::now();
    let device = Device::flex();
    let golden = read_json("faster_rcnn_outputs.json");
    let model = load(&device);
    let mut report = Vec::new();

    // 1. transform: sizes, padding and the resized pixels
    let batch = model.transform.apply(&images(&device));
    assert_eq!(
        batch.images.dims().to_vec(),
        json_floats(&golden["batch_shape"])
            .iter()
            .map(|&v| v as usize)
            .collect::<Vec<_>>()
    );
    let sizes: Vec<[usize; 2]> = golden["image_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            [
                s[0].as_u64().unwrap() as usize,
                s[1].as_u64().unwrap() as usize,
            ]
        })
        .collect();
    assert_eq!(batch.image_sizes, sizes);
    let mut d_batch: f32 = 0.0;
    for (i, &[h, w]) in sizes.iter().enumerate() {
        let ours = batch.images.clone().slice([i..i + 1, 0..3, 0..h, 0..w]);
        d_batch = d_batch.max(max_difference(ours, &golden["batch"][i]));
    }
    assert!(d_batch < 1e-4, "transform: {d_batch}");
    report.push(format!("transform {d_batch:.1e}"));

    // 2. FPN, on torchvision's batch (ours equals it to the rounding above)
    let features = model.backbone.forward(batch.images.clone());
    let mut d_fpn: f32 = 0.0;
    for (map, name) in features.iter().zip(["0", "1", "2", "3", "pool"]) {
        let entry = &golden["features"][name];
        assert_eq!(
            map.dims().to_vec(),
            json_floats(&entry["shape"])
                .iter()
                .map(|&v| v as usize)
                .collect::<Vec<_>>(),
            "{name}"
        );
        d_fpn = d_fpn.max(max_difference(map.clone(), &entry["values"]));
    }
    assert!(d_fpn < 1e-4, "FPN: {d_fpn}");
    report.push(format!("FPN {d_fpn:.1e}"));

    // 3. RPN head and anchors
    let (objectness, deltas) = model.rpn.head.forward(&features);
    let mut d_rpn: f32 = 0.0;
    for l in 0..5 {
        d_rpn = d_rpn.max(max_difference(
            objectness[l].clone(),
            &golden["objectness"][l],
        ));
        d_rpn = d_rpn.max(max_difference(deltas[l].clone(), &golden["rpn_deltas"][l]));
    }
    assert!(d_rpn < 1e-4, "RPN head: {d_rpn}");
    report.push(format!("RPN head {d_rpn:.1e}"));
    let rpn = model
        .rpn
        .forward(&features, batch.padded_size(), &batch.image_sizes, false);
    let anchors: Vec<f32> = rpn.anchors.iter().flatten().copied().collect();
    assert_eq!(anchors, json_floats(&golden["anchors"]), "anchors");

    // 4. proposals: same boxes in the same order, same scores
    let (mut d_prop, mut d_score) = (0.0f32, 0.0f32);
    for (i, p) in rpn.proposals.iter().enumerate() {
        let theirs = boxes(&golden["proposals"][i]);
        assert_eq!(p.boxes.len(), theirs.len(), "image {i}: proposal count");
        let ours: Vec<f32> = p.boxes.iter().flatten().copied().collect();
        d_prop = d_prop.max(max_abs_difference(
            &ours,
            &json_floats(&golden["proposals"][i]),
        ));
        d_score = d_score.max(max_abs_difference(
            &p.scores,
            &json_floats(&golden["proposal_scores"][i]),
        ));
    }
    assert!(
        d_prop < 1e-3 && d_score < 1e-4,
        "proposals: boxes {d_prop}, scores {d_score}"
    );
    report.push(format!("proposals {d_prop:.1e} px, scores {d_score:.1e}"));

    // 5. box head on torchvision's proposals
    let theirs: Vec<Vec<Bbox>> = (0..2).map(|i| boxes(&golden["proposals"][i])).collect();
    let levels = &features[..4];
    let (logits, regression) = model.roi_heads.forward(levels, &theirs, &batch.image_sizes);
    let d_logits = max_difference(logits.clone(), &golden["class_logits"]);
    let d_reg = max_difference(regression.clone(), &golden["box_regression"]);
    assert!(
        d_logits < 1e-4 && d_reg < 1e-4,
        "box head: logits {d_logits}, regression {d_reg}"
    );
    report.push(format!(
        "box head logits {d_logits:.1e}, regression {d_reg:.1e}"
    ));

    // 6. final detections, end to end, in the original pixels: same count, and each of
    // torchvision's found among ours with its class, score and box
    let detections = model.detect(&images(&device));
    let (mut d_box, mut d_det_score) = (0.0f32, 0.0f32);
    for (i, ours) in detections.iter().enumerate() {
        let entry = &golden["detections"][i];
        let tb = boxes(&entry["boxes"]);
        let ts = json_floats(&entry["scores"]);
        let tl: Vec<usize> = entry["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(ours.len(), tb.len(), "image {i}: detection count");
        for k in 0..tb.len() {
            let best = ours
                .iter()
                .filter(|d| d.class == tl[k])
                .map(|d| {
                    let db = (0..4)
                        .map(|j| (d.bbox[j] - tb[k][j]).abs())
                        .fold(0.0, f32::max);
                    (db, (d.score - ts[k]).abs())
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .expect("a detection of that class");
            d_box = d_box.max(best.0);
            d_det_score = d_det_score.max(best.1);
        }
        // in order, too: torchvision's scores are sorted, so are ours
        let ours_scores: Vec<f32> = ours.iter().map(|d| d.score).collect();
        assert!(
            max_abs_difference(&ours_scores, &ts) < 1e-4,
            "image {i}: score order"
        );
    }
    assert!(
        d_box < 1e-3 && d_det_score < 1e-4,
        "detections: boxes {d_box}, scores {d_det_score}"
    );
    report.push(format!(
        "detections {d_box:.1e} px, scores {d_det_score:.1e}"
    ));
    eprintln!(
        "max |ours − torchvision|: {} ({:.1} s)",
        report.join("; "),
        start.elapsed().as_secs_f32()
    );
}

#[test]
fn wrong_files_give_one_line_errors() {
    let device = Device::flex();
    let path = fixture("faster_rcnn_d16.pth");
    // 5 classes instead of 4: the predictor's shapes differ
    let err = load_torchvision_faster_rcnn(config(5).init(&device), &path).unwrap_err();
    let line = err.to_string();
    assert!(matches!(err, ImportError::Mismatch { .. }));
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.contains("faster_rcnn_d16.pth")
            && line.contains("wrong shape")
            && line.contains("roi_heads.box_predictor.cls_score"),
        "{line}"
    );
    // two blocks in layer4: the file lacks the second
    let mut deeper = config(4);
    deeper.backbone.body.layers = [1, 1, 1, 2];
    let line = load_torchvision_faster_rcnn(deeper.init(&device), &path)
        .unwrap_err()
        .to_string();
    assert!(
        line.contains("missing in the file") && line.contains("backbone.body.layer4.1."),
        "{line}"
    );
    // not a weight file at all
    let line = load_torchvision_faster_rcnn(
        config(4).init(&device),
        &fixture("faster_rcnn_outputs.json"),
    )
    .unwrap_err()
    .to_string();
    assert!(line.contains("faster_rcnn_outputs.json"), "{line}");
}
