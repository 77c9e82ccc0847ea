//! Train a small YOLOv3-style detector on digit scenes made from the MNIST sample shipped in
//! `datasets/`, score it with COCO's metrics, then find and draw the digits of one new scene —
//! through the library alone (the `digits-yolo` recipe, much shorter; docs/detection.md).
//!
//! `cargo run --release -p deepzero-vision --example detect_digits`

use deepzero_data::scenes::{SceneConfig, render_scenes};
use deepzero_data::{IdxCorpus, Split};
use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::detect::draw::draw_boxes_file;
use deepzero_vision::tasks::detect::{self, DetectSpec, Predictor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join("deepzero-detect-example");
    let spec = DetectSpec {
        train_scenes: 1_500,
        test_scenes: 200,
        width: 8,
        ..DetectSpec::digits()
    };
    let settings = RunSettings {
        quiet: true,
        // The example may be run again; each run replaces the last one's folder.
        overwrite: true,
        ..RunSettings::new("digits-yolo", out.join("run")).with_fit(FitConfig {
            epochs: 3,
            batch_size: 32,
            learning_rate: 2e-3,
            ..FitConfig::default()
        })
    };
    let report = detect::train(&spec, &settings)?;
    println!(
        "COCO on {} test scenes: AP {:.3}, AP50 {:.3}, AR@100 {:.3}",
        spec.test_scenes,
        report.test["ap"].as_f64().unwrap_or(f64::NAN),
        report.test["ap50"].as_f64().unwrap_or(f64::NAN),
        report.test["ar100"].as_f64().unwrap_or(f64::NAN)
    );
    // A scene the detector has not seen (digits of the test split, another seed).
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist-sample");
    let digits = IdxCorpus::Mnist.load(&sample, Split::Test)?;
    let scene = render_scenes(
        &[&digits],
        &SceneConfig {
            seed: 99,
            ..spec.scenes.clone()
        },
        1,
    )?;
    let image = out.join("scene.png");
    scene.scenes[0].save_png(&image)?;
    let predictor = Predictor::load(&out.join("run"), Some("digits-yolo"), &settings.device()?)?;
    let found = predictor.predict(std::slice::from_ref(&image), 0.3)?;
    let truth: Vec<usize> = scene.scenes[0].objects.iter().map(|o| o.class).collect();
    let seen: Vec<&str> = found[0]
        .detections
        .iter()
        .map(|d| predictor.class_name(d.class))
        .collect();
    println!("scene with digits {truth:?}: found {seen:?}");
    let boxes: Vec<_> = found[0]
        .detections
        .iter()
        .map(|d| (d.class, d.bbox))
        .collect();
    draw_boxes_file(&image, &boxes, &out.join("scene.boxes.png"))?;
    println!("drew {}", out.join("scene.boxes.png").display());
    Ok(())
}
