//! End-to-end tests of `deepzero coco-eval` and `deepzero detect`.

use std::path::{Path, PathBuf};

use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::tasks::detect::{self, DetectSpec};
use serde_json::Value;

mod common;
use common::{assert_one_line_error, run, stdout};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deepzero-vision/tests/fixtures/detect/coco")
}

#[test]
fn coco_eval_prints_pycocotools_numbers() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let gt = fixtures().join("crowd_gt.json");
    let dt = fixtures().join("crowd_dt.json");
    let out = run(&[
        "coco-eval",
        gt.to_str().unwrap(),
        dt.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let keys = [
        "ap",
        "ap50",
        "ap75",
        "ap_small",
        "ap_medium",
        "ap_large",
        "ar1",
        "ar10",
        "ar100",
        "ar_small",
        "ar_medium",
        "ar_large",
    ];
    for (i, k) in keys.iter().enumerate() {
        let (g, w) = (
            got[k].as_f64().unwrap(),
            expected["crowd"][i].as_f64().unwrap(),
        );
        assert!((g - w).abs() < 1e-4, "{k}: {g} vs pycocotools {w}");
    }
    let text = run(&["coco-eval", gt.to_str().unwrap(), dt.to_str().unwrap()]);
    let lines: Vec<String> = stdout(&text).lines().map(String::from).collect();
    assert_eq!(lines.len(), 12);
    assert!(
        lines[0].starts_with(
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "
        ),
        "{}",
        lines[0]
    );
}

#[test]
fn coco_eval_bad_input_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let gt = fixtures().join("basic_gt.json");
    let missing = dir.path().join("nope.json");
    assert_one_line_error(
        &run(&["coco-eval", gt.to_str().unwrap(), missing.to_str().unwrap()]),
        "nope.json",
    );
    let foreign = dir.path().join("dt.json");
    std::fs::write(
        &foreign,
        r#"[{"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]"#,
    )
    .unwrap();
    assert_one_line_error(
        &run(&["coco-eval", gt.to_str().unwrap(), foreign.to_str().unwrap()]),
        "image 999",
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{").unwrap();
    assert_one_line_error(
        &run(&[
            "coco-eval",
            broken.to_str().unwrap(),
            foreign.to_str().unwrap(),
        ]),
        "broken.json",
    );
}

#[test]
fn detect_prints_boxes_json_and_draws() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    // A tiny detector on the shipped MNIST sample: enough to exercise the run folder and the
    // command, not to detect well.
    let mut spec = DetectSpec::digits();
    spec.train_scenes = 40;
    spec.test_scenes = 8;
    spec.width = 4;
    let settings = RunSettings::new("digits-yolo", &run_dir).with_fit(FitConfig {
        epochs: 1,
        batch_size: 16,
        ..FitConfig::default()
    });
    let settings = RunSettings {
        quiet: true,
        ..settings
    };
    let report = detect::train(&spec, &settings).unwrap();
    assert!(report.test["ap"].as_f64().unwrap() >= 0.0);
    // an image of a different size than the canvas: boxes come back in its own pixels
    let image = dir.path().join("scene.png");
    let pixels: Vec<u8> = (0..96 * 80).map(|i| ((i * 7) % 255) as u8).collect();
    image::GrayImage::from_raw(96, 80, pixels)
        .unwrap()
        .save(&image)
        .unwrap();
    let pictures = dir.path().join("pictures");
    let out = run(&[
        "detect",
        "digits-yolo",
        "--run",
        run_dir.to_str().unwrap(),
        image.to_str().unwrap(),
        "--json",
        "--score-threshold",
        "0.0",
        "--draw",
        pictures.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for r in results.as_array().unwrap() {
        let b: Vec<f64> = r["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            b[0] >= 0.0 && b[0] + b[2] <= 96.0 + 1e-3 && b[1] + b[3] <= 80.0 + 1e-3,
            "{r}"
        );
        assert_eq!(r["image_id"], 1);
    }
    let drawn = image::open(pictures.join("scene.boxes.png")).unwrap();
    assert_eq!((drawn.width(), drawn.height()), (96, 80));
    // bad input: a corrupt image, a run of another recipe
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"not a png").unwrap();
    assert_one_line_error(
        &run(&[
            "detect",
            "digits-yolo",
            "--run",
            run_dir.to_str().unwrap(),
            corrupt.to_str().unwrap(),
        ]),
        "corrupt.png",
    );
    assert_one_line_error(
        &run(&[
            "detect",
            "mnist-lenet",
            "--run",
            run_dir.to_str().unwrap(),
            image.to_str().unwrap(),
        ]),
        "not a detection recipe",
    );
}
