//! End-to-end tests of `deepzero import fcn_resnet50|deeplabv3_resnet50 …` and `deepzero segment
//! voc-segment`: torchvision's segmentation weights (the small seeded fixtures of
//! `deepzero-vision/tests/fixtures/make_segment_import_fixture.py`) into a run folder, then photos
//! segmented with it.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_ok, assert_one_line_error, path, run, stdout};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deepzero-vision/tests/fixtures")
        .join(name)
}

#[test]
fn import_deeplab_then_segment_photos() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("deeplab");
    let weights = fixture("deeplabv3_resnet50_d16.pth");
    let import = |name: &str, extra: &[&str]| {
        let mut args = vec!["import", name, path(&weights), "--out", path(&run_dir)];
        args.extend(extra);
        run(&args)
    };
    let out = import("deeplabv3_resnet50", &[]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("torchvision deeplab-v3 (aspp 16 rates [12, 24, 36]) resnet w4 blocks [1, 1, 2, 2] + aux head, 3 classes")
            && text.contains("segment images with: deepzero segment voc-segment --run"),
        "{text}"
    );

    // A wide photo: every pixel gets a class, the picture is drawn.
    let photo = dir.path().join("street.png");
    image::RgbImage::from_fn(36, 24, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 10) as u8, 60])
    })
    .save(&photo)
    .unwrap();
    let out = run(&[
        "segment",
        "voc-segment",
        "--run",
        path(&run_dir),
        "--json",
        path(&photo),
    ]);
    assert_ok(&out);
    let found: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(found[0]["size"], serde_json::json!([24, 36]));
    let pixels: u64 = found[0]["class_pixels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[2].as_u64().unwrap())
        .sum();
    assert_eq!(pixels, 24 * 36);
    assert!(run_dir.join("segmented/street.mask.png").is_file());

    // Refusals, one line each: the same --out without --overwrite, a name that is not the
    // file's model, training an import-only recipe.
    assert_one_line_error(&import("deeplabv3_resnet50", &[]), "--overwrite");
    let other = dir.path().join("other");
    let out = run(&[
        "import",
        "fcn_resnet50",
        path(&weights),
        "--out",
        path(&other),
    ]);
    assert_one_line_error(&out, "holds a DeepLab v3, not a torchvision fcn_resnet50");
    assert!(!other.exists());
    let out = run(&["train", "voc-segment", "--out", path(&other)]);
    assert_one_line_error(&out, "predicts only");
    assert_ok(&import("deeplabv3_resnet50", &["--overwrite"]));
}
