//! The imported Faster R-CNN as a run folder (`deepzero_vision::tasks::rcnn`), end to end on
//! image files: the golden fixture of `tests/faster_rcnn_import.rs` (torchvision's Faster R-CNN at
//! 1/16 width, 4 classes) is imported with the architecture read from its tensor shapes, the
//! fixture script's two images are written as 16-bit PNG files, and the run's predictor must
//! find in each what torchvision's `model([image])` found in it
//! (`fixtures/faster_rcnn_single.json`, written by `fixtures/make_faster_rcnn_run_fixture.py`
//! from the same 16-bit values), within the golden test's tolerances: boxes 1e-3 px, scores
//! 1e-4.

mod common;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use common::{fixture, json_floats, read_json};
use deepzero_vision::detect::draw::class_colour;
use deepzero_vision::detect::{
    BackboneWithFpnConfig, FasterRcnnConfig, RcnnTransformConfig, RoiHeadsConfig, RpnConfig,
};
use deepzero_vision::tasks::detect::{DetectOptions, ImageDetections, load_detector};
use deepzero_vision::tasks::rcnn::{self, ImportOptions, Predictor};
use deepzero_vision::{BlockKind, ResNetConfig};

/// The fixture's inference settings, which a state dict does not record.
fn fixture_options(overwrite: bool) -> ImportOptions {
    ImportOptions {
        transform: RcnnTransformConfig::new()
            .with_min_size(64)
            .with_max_size(96),
        rpn: RpnConfig::new()
            .with_pre_nms_top_n_test(500)
            .with_post_nms_top_n_test(100),
        ..ImportOptions::new(overwrite)
    }
}

/// A fresh, empty scratch folder for `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepzero-rcnn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The script's images `0.5 + 0.5 sin(0.37 i + phase)` (`[3, h, w]`, flat index i) as 16-bit
/// RGB PNG files in `dir`.
fn write_images(dir: &Path) -> Vec<PathBuf> {
    [([50, 70], 0.0), ([60, 40], 1.0)]
        .into_iter()
        .enumerate()
        .map(|(k, ([h, w], phase)): (usize, ([usize; 2], f64))| {
            let value = |i: usize| (0.5 + 0.5 * (0.37 * i as f64 + phase).sin()) as f32;
            let mut pixels = vec![0u16; 3 * h * w];
            for c in 0..3 {
                for y in 0..h {
                    for x in 0..w {
                        let v = value((c * h + y) * w + x);
                        pixels[(y * w + x) * 3 + c] = (v as f64 * 65535.0).round() as u16;
                    }
                }
            }
            let image =
                image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(w as u32, h as u32, pixels)
                    .unwrap();
            let path = dir.join(format!("image{k}.png"));
            image.save(&path).unwrap();
            path
        })
        .collect()
}

/// Checks `found` against torchvision's detections: the same count, each of torchvision's
/// found among ours with its label (our class + 1), box and score, and ours in score order.
fn assert_golden(found: &[ImageDetections]) {
    let golden = read_json("faster_rcnn_single.json");
    let (mut d_box, mut d_score) = (0.0f32, 0.0f32);
    for (i, f) in found.iter().enumerate() {
        let entry = &golden["detections"][i];
        let boxes = json_floats(&entry["boxes"]);
        let scores = json_floats(&entry["scores"]);
        let labels: Vec<usize> = entry["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(f.detections.len(), labels.len(), "image {i}: count");
        for (k, &label) in labels.iter().enumerate() {
            let theirs = &boxes[4 * k..4 * k + 4];
            let best = f
                .detections
                .iter()
                .filter(|d| d.class + 1 == label)
                .map(|d| {
                    let db = (0..4)
                        .map(|j| (d.bbox[j] - theirs[j]).abs())
                        .fold(0.0, f32::max);
                    (db, (d.score - scores[k]).abs())
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .expect("a detection of that class");
            d_box = d_box.max(best.0);
            d_score = d_score.max(best.1);
        }
        for (d, s) in f.detections.iter().zip(&scores) {
            assert!(
                (d.score - s).abs() < 1e-4,
                "image {i}: score order: {:?} vs {scores:?}",
                f.detections.iter().map(|d| d.score).collect::<Vec<_>>()
            );
        }
    }
    assert!(
        d_box < 1e-3 && d_score < 1e-4,
        "boxes {d_box}, scores {d_score}"
    );
    eprintln!("max |ours − torchvision| on PNG files: boxes {d_box:.1e} px, scores {d_score:.1e}");
}

#[test]
fn import_then_predict_on_image_files_equals_torchvision() {
    let dir = scratch("golden");
    let out = dir.join("run");
    let weights = fixture("faster_rcnn_d16.pth");
    let import = rcnn::import_torchvision(&weights, &out, &fixture_options(false)).unwrap();
    // the architecture read from the shapes is the one the golden test builds by hand
    let by_hand = FasterRcnnConfig::new(
        BackboneWithFpnConfig::new(
            ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1], 1).with_base_channels(4),
        )
        .with_out_channels(16),
        4,
    )
    .with_transform(fixture_options(false).transform)
    .with_rpn(fixture_options(false).rpn)
    .with_roi_heads(RoiHeadsConfig::new().with_representation_size(32));
    assert_eq!(
        serde_json::to_value(&import.info.model).unwrap(),
        serde_json::to_value(&by_hand).unwrap()
    );
    assert_eq!(import.info.class_names, ["1", "2", "3"]);
    let line = import.to_string();
    assert!(
        line.starts_with(
            "fasterrcnn_resnet50_fpn: ResNet (bottleneck, blocks 1-1-1-1, base 4) + FPN 16, \
             4 classes (background included),"
        ),
        "{line}"
    );
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["recipe"], rcnn::RECIPE);
    assert_eq!(run_json["version"], rcnn::RUN_VERSION);
    assert!(out.join("model.bpk").is_file());

    let images = write_images(&dir);
    let device = Device::flex();
    let predictor = Predictor::load(&out, None, &device).unwrap();
    let found = predictor.predict(&images, 0.0, 100).unwrap();
    assert_eq!(found[0].size, (70, 50));
    assert_golden(&found);

    // through the front end's trait: the default threshold (0.5), a maximum, pictures
    let detector = load_detector(&out, Some(rcnn::RECIPE), &device).unwrap();
    assert_eq!(detector.class_names(), ["1", "2", "3"]);
    let pictures = dir.join("pictures");
    let options = DetectOptions {
        draw: Some(pictures.clone()),
        ..DetectOptions::new(images.clone())
    };
    let (kept, drawn) = detector.detect(&options).unwrap();
    for (k, f) in kept.iter().zip(&found) {
        let above: Vec<_> = f.detections.iter().filter(|d| d.score >= 0.5).collect();
        assert_eq!(k.detections.len(), above.len());
        assert!(k.detections.iter().all(|d| d.score >= 0.5));
    }
    assert_eq!(
        drawn,
        [
            pictures.join("image0.boxes.png"),
            pictures.join("image1.boxes.png")
        ]
    );
    // 40×60 is enlarged ×6 for the labels
    assert_eq!(image::image_dimensions(&drawn[1]).unwrap(), (240, 360));
    // The best object alone: its label (12 px text, 2 px margins: 16 rows) is a filled box of
    // its class's colour just above its box, or inside its top edge when there is no room.
    let one = DetectOptions {
        max_detections: Some(1),
        score_threshold: Some(0.0),
        draw: Some(pictures.clone()),
        ..DetectOptions::new(images.clone())
    };
    let (best, drawn) = detector.detect(&one).unwrap();
    let d = &best[1].detections[0];
    let picture = image::open(&drawn[1]).unwrap().to_rgb8();
    let colour = image::Rgb(class_colour(d.class));
    let [x0, y0, x1, _] = d.bbox.map(|v| (v * 6.0).floor() as u32);
    let row = if y0 >= 16 { y0 - 8 } else { y0 + 8 };
    let filled = (x0..x1.min(240)).filter(|&x| *picture.get_pixel(x, row) == colour);
    assert!(
        filled.count() >= 10,
        "no label at row {row} of {:?}",
        d.bbox
    );
    let ink = (x0..x1.min(240)).filter(|&x| {
        let p = picture.get_pixel(x, row);
        *p != colour && (p[0] > 200 || p[0] < 60)
    });
    assert!(ink.count() >= 1, "no text in the label of {:?}", d.bbox);
    let two = DetectOptions {
        max_detections: Some(2),
        score_threshold: Some(0.0),
        ..DetectOptions::new(images)
    };
    let (top, _) = detector.detect(&two).unwrap();
    for (t, f) in top.iter().zip(&found) {
        assert_eq!(t.detections, f.detections[..2.min(f.detections.len())]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A SafeTensors file of zero-filled f32 tensors `(name, shape)`.
fn write_safetensors(path: &Path, tensors: &[(&str, &[usize])]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, shape) in tensors {
        let bytes = 4 * shape.iter().product::<usize>();
        header.insert(
            name.to_string(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes] }),
        );
        offset += bytes;
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header);
    file.extend(vec![0u8; offset]);
    std::fs::write(path, file).unwrap();
}

#[test]
fn bad_input_is_a_one_line_error_and_writes_nothing() {
    let dir = scratch("bad");
    let out = dir.join("run");
    let one_line = |e: deepzero_train::TaskError| {
        let line = e.to_string();
        assert!(!line.contains('\n'), "{line}");
        line
    };
    let import = |weights: &Path, overwrite| {
        rcnn::import_torchvision(weights, &out, &fixture_options(overwrite))
    };
    // an ImageNet classifier's state dict
    let line = one_line(import(&fixture("resnet18_w4.pth"), false).unwrap_err());
    assert!(
        line.contains("resnet18_w4.pth: not a torchvision Faster R-CNN state dict (no `backbone.body.conv1.weight`)"),
        "{line}"
    );
    // not a weight file; no file
    let line = one_line(import(&fixture("faster_rcnn_outputs.json"), false).unwrap_err());
    assert!(line.contains("faster_rcnn_outputs.json"), "{line}");
    let line = one_line(import(&dir.join("none.pth"), false).unwrap_err());
    assert!(line.contains("none.pth does not exist"), "{line}");
    // the keys the shapes are read from, and nothing else: every other key is missing
    let partial = dir.join("partial.safetensors");
    write_safetensors(
        &partial,
        &[
            ("backbone.body.conv1.weight", &[4, 3, 7, 7]),
            ("backbone.body.layer1.0.conv1.weight", &[4, 4, 1, 1]),
            ("backbone.body.layer1.0.conv3.weight", &[16, 4, 1, 1]),
            ("backbone.body.layer2.0.conv1.weight", &[8, 16, 1, 1]),
            ("backbone.body.layer3.0.conv1.weight", &[16, 32, 1, 1]),
            ("backbone.body.layer4.0.conv1.weight", &[32, 64, 1, 1]),
            ("backbone.fpn.layer_blocks.0.weight", &[16, 16, 3, 3]),
            ("roi_heads.box_head.fc6.weight", &[32, 784]),
            ("roi_heads.box_predictor.cls_score.weight", &[4, 32]),
        ],
    );
    let line = one_line(import(&partial, false).unwrap_err());
    assert!(
        line.contains("partial.safetensors does not fit the model")
            && line.contains("missing in the file (backbone.body.bn1."),
        "{line}"
    );
    assert!(!out.exists(), "a failed import writes nothing");

    // an existing run: refused without overwrite, replaced with it
    let weights = fixture("faster_rcnn_d16.pth");
    import(&weights, false).unwrap();
    let line = one_line(import(&weights, false).unwrap_err());
    assert!(
        line.contains("already holds a run; pass --overwrite"),
        "{line}"
    );
    import(&weights, true).unwrap();

    // an image that is not one; a run of another recipe
    let predictor = Predictor::load(&out, None, &Device::flex()).unwrap();
    let fake = dir.join("fake.png");
    std::fs::write(&fake, b"not a png").unwrap();
    let line = one_line(predictor.predict(&[fake], 0.5, 100).unwrap_err());
    assert!(line.contains("fake.png"), "{line}");
    let line = one_line(
        Predictor::load(&out, Some("digits-yolo"), &Device::flex())
            .err()
            .unwrap(),
    );
    assert!(
        line.contains("`coco-faster-rcnn`, not `digits-yolo`"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
