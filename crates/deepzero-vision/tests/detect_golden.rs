//! deepzero_vision::detect against torchvision, on the fixtures `scripts/detect_golden.py` writes.

use burn::prelude::*;
use deepzero_vision::detect::{
    Bbox, BoxCoder, Roi, RoiAlignOptions, batched_nms, box_iou, generalized_box_iou, grid_anchors,
    nms, roi_align,
};
use std::collections::BTreeMap;
use std::path::Path;

use deepzero_vision::detect::coco::{CocoGt, CocoParams, evaluate, read_detections, voc_ap};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/detect/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        Value::Bool(b) => vec![f32::from(u8::from(*b))],
        other => panic!("not a number: {other}"),
    }
}

fn boxes(v: &Value) -> Vec<Bbox> {
    floats(v)
        .chunks(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs torchvision {w}"
        );
    }
}

#[test]
fn box_iou_and_giou_equal_torchvision() {
    let f = fixture("box_ops.json");
    let (a, b) = (boxes(&f["a"]), boxes(&f["b"]));
    assert_close(&box_iou(&a, &b), &floats(&f["iou"]), 1e-5, "box_iou");
    assert_close(
        &generalized_box_iou(&a, &b),
        &floats(&f["giou"]),
        1e-5,
        "generalized_box_iou",
    );
}

#[test]
fn box_coder_equals_torchvision() {
    let f = fixture("box_ops.json");
    let (anchors, gts) = (boxes(&f["anchors"]), boxes(&f["gts"]));
    let deltas = boxes(&f["deltas"]);
    for (key_enc, key_dec, coder) in [
        ("encoded", "decoded", BoxCoder::new([10.0, 10.0, 5.0, 5.0])),
        ("encoded_unit", "decoded_unit", BoxCoder::new([1.0; 4])),
    ] {
        let enc: Vec<f32> = gts
            .iter()
            .zip(&anchors)
            .flat_map(|(g, a)| coder.encode(g, a))
            .collect();
        assert_close(&enc, &floats(&f[key_enc]), 1e-4, key_enc);
        let dec: Vec<f32> = deltas
            .iter()
            .zip(&anchors)
            .flat_map(|(d, a)| coder.decode(d, a))
            .collect();
        assert_close(&dec, &floats(&f[key_dec]), 1e-4, key_dec);
    }
}

#[test]
fn grid_anchors_equal_torchvision() {
    let f = fixture("box_ops.json");
    let got: Vec<f32> = grid_anchors(&[32.0, 64.0], &[0.5, 1.0, 2.0], (3, 4), (8.0, 16.0)).concat();
    assert_close(&got, &floats(&f["grid_anchors"]), 0.0, "grid_anchors");
}

#[test]
fn nms_and_batched_nms_equal_torchvision() {
    let f = fixture("nms.json");
    let b = boxes(&f["boxes"]);
    let scores = floats(&f["scores"]);
    let classes: Vec<usize> = floats(&f["classes"]).iter().map(|&c| c as usize).collect();
    for case in f["cases"].as_array().unwrap() {
        let thr = case["iou_threshold"].as_f64().unwrap() as f32;
        let want: Vec<usize> = floats(&case["keep"]).iter().map(|&i| i as usize).collect();
        assert_eq!(nms(&b, &scores, thr), want, "nms at {thr}");
        let want: Vec<usize> = floats(&case["batched_keep"])
            .iter()
            .map(|&i| i as usize)
            .collect();
        assert_eq!(
            batched_nms(&b, &scores, &classes, thr),
            want,
            "batched_nms at {thr}"
        );
    }
}

#[test]
fn roi_align_equals_torchvision() {
    let f = fixture("roi_align.json");
    let dev = Device::flex();
    let shape: Vec<usize> = floats(&f["shape"]).iter().map(|&v| v as usize).collect();
    let feats = Tensor::<4>::from_data(
        TensorData::new(
            floats(&f["features"]),
            [shape[0], shape[1], shape[2], shape[3]],
        ),
        &dev,
    );
    let rois: Vec<Roi> = floats(&f["rois"])
        .chunks(5)
        .map(|r| Roi {
            batch: r[0] as usize,
            bbox: [r[1], r[2], r[3], r[4]],
        })
        .collect();
    for case in f["cases"].as_array().unwrap() {
        let sampling = case["sampling_ratio"].as_i64().unwrap();
        let options = RoiAlignOptions {
            output_size: (3, 4),
            spatial_scale: case["spatial_scale"].as_f64().unwrap() as f32,
            sampling_ratio: (sampling > 0).then_some(sampling as usize),
            aligned: case["aligned"].as_bool().unwrap(),
        };
        let got: Vec<f32> = roi_align(feats.clone(), &rois, &options)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_close(
            &got,
            &floats(&case["output"]),
            1e-5,
            &format!("roi_align {options:?}"),
        );
    }
}

#[test]
fn coco_eval_equals_pycocotools_on_every_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detect/coco");
    let expected = fixture("coco/expected.json");
    let cases = expected.as_object().unwrap();
    assert!(cases.len() >= 5);
    for (name, want) in cases {
        let gt = CocoGt::from_json(&dir.join(format!("{name}_gt.json"))).unwrap();
        let dt = read_detections(&dir.join(format!("{name}_dt.json")), &gt).unwrap();
        let got = evaluate(&gt, &dt, &CocoParams::default()).stats();
        let want: Vec<f64> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < 1e-9,
                "{name} stat {i}: {g} vs pycocotools {w}"
            );
        }
    }
}

#[test]
fn voc_ap_equals_the_devkit_algorithm() {
    let f = fixture("voc.json");
    let mut gts: BTreeMap<i64, Vec<([f64; 4], bool)>> = BTreeMap::new();
    for g in f["gts"].as_array().unwrap() {
        let b: Vec<f64> = g["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        gts.entry(g["image"].as_i64().unwrap())
            .or_default()
            .push(([b[0], b[1], b[2], b[3]], g["difficult"].as_bool().unwrap()));
    }
    for i in 0..8 {
        gts.entry(i).or_default();
    }
    let dets: Vec<(i64, f64, [f64; 4])> = f["dets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let b: Vec<f64> = d["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            (
                d["image"].as_i64().unwrap(),
                d["score"].as_f64().unwrap(),
                [b[0], b[1], b[2], b[3]],
            )
        })
        .collect();
    let ap = voc_ap(&gts, &dets, 0.5);
    let want = f["ap50"].as_f64().unwrap();
    assert!((ap - want).abs() < 1e-12, "{ap} vs {want}");
    assert!(ap > 0.0 && ap < 1.0);
}
