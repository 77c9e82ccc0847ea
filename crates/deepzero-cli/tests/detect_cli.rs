//! End-to-end tests of `deepzero coco-eval` and `deepzero detect`.

use std::path::{Path, PathBuf};

use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::tasks::detect::{self, DetectSpec};
use serde_json::Value;

mod common;
use common::{assert_ok, assert_one_line_error, f64s, run, stdout};

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
    assert_ok(&out);
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
    assert_ok(&out);
    let results: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for r in results.as_array().unwrap() {
        let b = f64s(&r["bbox"]);
        assert!(
            b[0] >= 0.0 && b[0] + b[2] <= 96.0 + 1e-3 && b[1] + b[3] <= 80.0 + 1e-3,
            "{r}"
        );
        assert_eq!(r["image_id"], 1);
    }
    let drawn = image::open(pictures.join("scene.boxes.png")).unwrap();
    // enlarged ×4 for its labels (a picture under 320 px)
    assert_eq!((drawn.width(), drawn.height()), (384, 320));
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

/// The Faster R-CNN fixture's two images (`make_faster_rcnn_fixture.py`'s
/// `0.5 + 0.5 sin(0.37 i + phase)` over `[3, h, w]`) as 16-bit RGB PNG files in `dir`.
fn write_rcnn_images(dir: &Path) -> Vec<PathBuf> {
    let shapes: [([usize; 2], f64); 2] = [([50, 70], 0.0), ([60, 40], 1.0)];
    shapes
        .into_iter()
        .enumerate()
        .map(|(k, ([h, w], phase))| {
            let mut pixels = vec![0u16; 3 * h * w];
            for (i, p) in pixels.iter_mut().enumerate() {
                let (y, x, c) = (i / (3 * w), i / 3 % w, i % 3);
                let v = (0.5 + 0.5 * (0.37 * ((c * h + y) * w + x) as f64 + phase).sin()) as f32;
                *p = (v as f64 * 65535.0).round() as u16;
            }
            let path = dir.join(format!("image{k}.png"));
            image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(w as u32, h as u32, pixels)
                .unwrap()
                .save(&path)
                .unwrap();
            path
        })
        .collect()
}

#[test]
fn import_fasterrcnn_then_detect_equals_torchvision() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("frcnn");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deepzero-vision/tests/fixtures");
    let weights = fixtures.join("faster_rcnn_d16.pth");
    let (weights, run_s) = (weights.to_str().unwrap(), run_dir.to_str().unwrap());
    let import = |extra: &[&str]| {
        let mut args = vec!["import", "fasterrcnn_resnet50_fpn", weights, "--out", run_s];
        args.extend(extra);
        run(&args)
    };
    let out = import(&[]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("ResNet (bottleneck, blocks 1-1-1-1, base 4) + FPN 16, 4 classes")
            && text.contains("find objects with: deepzero detect coco-faster-rcnn --run"),
        "{text}"
    );
    // The fixture's input size and proposal counts, which the state dict does not hold, set
    // in run.json as a user would.
    let path = run_dir.join("run.json");
    let mut info: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    info["model"]["transform"]["min_size"] = 64.into();
    info["model"]["transform"]["max_size"] = 96.into();
    info["model"]["rpn"]["pre_nms_top_n_test"] = 500.into();
    info["model"]["rpn"]["post_nms_top_n_test"] = 100.into();
    std::fs::write(&path, serde_json::to_string(&info).unwrap()).unwrap();

    let images = write_rcnn_images(dir.path());
    let (a, b) = (images[0].to_str().unwrap(), images[1].to_str().unwrap());
    let detect = ["detect", "coco-faster-rcnn", "--run", run_s];
    let out = run(&[&detect[..], &["--json", "--score-threshold", "0", a, b]].concat());
    assert_ok(&out);
    let results: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let results = results.as_array().unwrap();
    // torchvision's model([image]) on each image: every box found with its label, box, score
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("faster_rcnn_single.json")).unwrap(),
    )
    .unwrap();
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mut above_half = Vec::new();
    for (i, g) in golden["detections"].as_array().unwrap().iter().enumerate() {
        let (boxes, scores) = (floats(&g["boxes"]), floats(&g["scores"]));
        let ours: Vec<&Value> = results.iter().filter(|r| r["image_id"] == i + 1).collect();
        assert_eq!(ours.len(), scores.len(), "image {i}");
        for (k, label) in g["labels"].as_array().unwrap().iter().enumerate() {
            let found = ours.iter().any(|r| {
                let bb = floats(&r["bbox"]);
                let xyxy = [bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]];
                r["category_id"] == *label
                    && (0..4).all(|j| (xyxy[j] - boxes[4 * k + j]).abs() < 1e-3)
                    && (r["score"].as_f64().unwrap() - scores[k]).abs() < 1e-4
            });
            assert!(found, "image {i}: torchvision's detection {k} not found");
        }
        above_half.push(scores.iter().filter(|&&s| s >= 0.5).count());
    }
    // predict: lines at torchvision's demo threshold 0.5, and the picture
    let pictures = dir.path().join("pictures");
    let pictures_s = pictures.to_str().unwrap();
    let out = run(&[
        "predict",
        "coco-faster-rcnn",
        "--checkpoint",
        run_s,
        a,
        "--picture",
        pictures_s,
    ]);
    assert_ok(&out);
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert_eq!(first, format!("{a} (70x50): {} objects", above_half[0]));
    assert_eq!(text.lines().count(), 1 + above_half[0]);
    assert!(pictures.join("image0.boxes.png").is_file());
    let out = run(&[&detect[..], &["--max-detections", "3", b]].concat());
    assert_eq!(stdout(&out).lines().count(), 1 + above_half[1].min(3));

    // bad input: an existing run, classifier options, another model's weights, an image that
    // is not one
    assert_one_line_error(&import(&[]), "already holds a run; pass --overwrite");
    assert!(import(&["--overwrite"]).status.success());
    assert_one_line_error(&import(&["--classes", "3"]), "--classes");
    let other = dir.path().join("other");
    let resnet = fixtures.join("resnet18_w4.pth");
    assert_one_line_error(
        &run(&[
            "import",
            "fasterrcnn_resnet50_fpn",
            resnet.to_str().unwrap(),
            "--out",
            other.to_str().unwrap(),
        ]),
        "not a torchvision Faster R-CNN state dict",
    );
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"not a png").unwrap();
    assert_one_line_error(
        &run(&[&detect[..], &[corrupt.to_str().unwrap()]].concat()),
        "corrupt.png",
    );
    assert_one_line_error(
        &run(&[
            "train",
            "coco-faster-rcnn",
            "--out",
            other.to_str().unwrap(),
        ]),
        "predicts only",
    );
}
