//! The `image-folder` recipe through the library on tiny generated trees: choices made from the
//! data, bad trees refused in one line, and transfer learning from torchvision-format weights.

use std::path::Path;

use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::tasks::classify::{self, ImageSpec, PredictOptions, Predictor};
use deepzero_vision::tasks::finetune;
use deepzero_vision::tasks::folder::{AugmentLevel, FolderOptions};

/// `count` grey `side`×`side + 4` PNGs of class `class`: a bright bar on the left (`left`) or
/// the right half of a dark, noisy background.
fn write_bars(root: &Path, class: &str, count: u32, side: u32, left: bool) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..count {
        let img = image::GrayImage::from_fn(side + 4, side, |x, y| {
            let on = if left {
                x < side / 2
            } else {
                x >= side / 2 + 4
            };
            let noise = ((x * 31 + y * 17 + i * 13) % 30) as u8;
            image::Luma([if on && y > 2 { 180 + noise } else { noise }])
        });
        img.save(dir.join(format!("{i}.png"))).unwrap();
    }
}

fn settings(out: &Path, data: &Path, epochs: usize) -> RunSettings {
    let mut settings = RunSettings::new("image-folder", out)
        .with_data_dir(data)
        .with_fit(FitConfig {
            epochs,
            batch_size: 8,
            learning_rate: 3e-3,
            ..FitConfig::default()
        });
    settings.quiet = true;
    settings
}

fn error(spec: &ImageSpec, settings: &RunSettings) -> String {
    let err = classify::train(spec, settings).unwrap_err().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn choices_come_from_the_data() {
    let root = tempfile::tempdir().unwrap();
    // Mirror-image classes, imbalanced (24 vs 12), grey, 20 px high.
    write_bars(root.path(), "left", 24, 20, true);
    write_bars(root.path(), "right", 12, 20, false);
    std::fs::write(root.path().join("left/notes.txt"), "not an image").unwrap();
    let out = tempfile::tempdir().unwrap();
    let spec = ImageSpec::folder(FolderOptions::default());
    let report = classify::train(&spec, &settings(out.path(), root.path(), 6)).unwrap();
    let choices = &report.data["choices"];
    assert_eq!(choices["image_size"], 20, "{choices}");
    assert_eq!(choices["channels"], 1, "{choices}");
    assert_eq!(choices["augment"], "standard", "{choices}");
    assert_eq!(
        choices["flip"], false,
        "mirrored bars change class: {choices}"
    );
    assert_eq!(choices["balance"], true, "{choices}");
    assert!(
        report.test["accuracy"].as_f64().unwrap() >= 0.75,
        "{}",
        report.test
    );

    // The run predicts grey files; a light image is not inverted (the training data were dark).
    let device = Device::flex();
    let predictor = Predictor::load(out.path(), Some("image-folder"), &device).unwrap();
    assert_eq!(predictor.info().input_shape, [1, 20, 20]);
    let top = predictor
        .predict(
            &[root.path().join("left/0.png")],
            &PredictOptions::default(),
        )
        .unwrap();
    assert_eq!(top[0].top[0].1, "left");
    // Evaluating the run reads the folder at the run's chosen size.
    let eval =
        classify::evaluate_run(&spec, out.path(), &settings(out.path(), root.path(), 6)).unwrap();
    assert_eq!(
        eval.test["accuracy"], report.test["accuracy"],
        "{}",
        eval.test
    );

    // Options override the data's choices.
    let told = ImageSpec::folder(FolderOptions {
        image_size: Some(12),
        augment: Some(AugmentLevel::None),
        flip: None,
        balance: Some(false),
        channels: None,
    });
    let mut again = settings(out.path(), root.path(), 1);
    again.overwrite = true;
    let report = classify::train(&told, &again).unwrap();
    let choices = &report.data["choices"];
    assert_eq!(choices["image_size"], 12, "{choices}");
    assert_eq!(choices["augment"], "none", "{choices}");
    assert_eq!(choices["flip"], false, "{choices}");
    assert_eq!(choices["balance"], false, "{choices}");
}

#[test]
fn bad_trees_are_one_line_errors() {
    let spec = ImageSpec::folder(FolderOptions::default());
    let out = tempfile::tempdir().unwrap();

    let single = tempfile::tempdir().unwrap();
    write_bars(single.path(), "only", 4, 12, true);
    let err = error(&spec, &settings(out.path(), single.path(), 1));
    assert!(err.contains("only one class folder (`only`)"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    write_bars(empty.path(), "a", 4, 12, true);
    std::fs::create_dir(empty.path().join("b")).unwrap();
    let err = error(&spec, &settings(out.path(), empty.path(), 1));
    assert!(err.contains("class folder has no .png"), "{err}");

    // A header announcing 20000 × 1 pixels: refused by name, or left out when asked.
    let huge = tempfile::tempdir().unwrap();
    write_bars(huge.path(), "a", 6, 12, true);
    write_bars(huge.path(), "b", 6, 12, false);
    image::GrayImage::new(20000, 1)
        .save(huge.path().join("a/huge.png"))
        .unwrap();
    let err = error(&spec, &settings(out.path(), huge.path(), 1));
    assert!(err.contains("huge.png: 20000×1 pixels"), "{err}");
    let skipping = ImageSpec {
        skip_bad_images: true,
        ..spec.clone()
    };
    let report = classify::train(&skipping, &settings(out.path(), huge.path(), 1)).unwrap();
    assert_eq!(report.data["skipped_images"], 1);
    // Mixed channels and sizes: a colour image among grey ones makes the input colour.
    image::RgbImage::from_pixel(30, 17, image::Rgb([200, 10, 10]))
        .save(huge.path().join("b/colour.png"))
        .unwrap();
    let mut again = settings(out.path(), huge.path(), 1);
    again.overwrite = true;
    let report = classify::train(&skipping, &again).unwrap();
    assert_eq!(report.data["choices"]["channels"], 3);
    assert_eq!(report.data["choices"]["image_size"], 12);
}

#[test]
fn torchvision_weights_are_fine_tuned_head_first() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    device.seed(3);
    let weights = dir.path().join("resnet18-test.safetensors");
    let mut store = SafetensorsStore::from_file(&weights)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    deepzero_vision::resnet18(1000, &device)
        .save_into(&mut store)
        .unwrap();
    let root = dir.path().join("data");
    write_bars(&root, "left", 5, 16, true);
    write_bars(&root, "right", 5, 16, false);
    let out = dir.path().join("run");
    let mut settings = settings(&out, &root, 2);
    settings.valid_fraction = 0.0;
    let report = finetune::from_torchvision(
        &ImageSpec::folder(FolderOptions::default()),
        &weights,
        &settings,
    )
    .unwrap();
    let tuned = &report.extra["finetune"];
    assert_eq!(tuned["strategy"]["name"], "unfreeze", "{tuned}");
    assert_eq!(tuned["strategy"]["unfreeze_after"], 1, "{tuned}");
    assert!(
        tuned["from"]
            .as_str()
            .unwrap()
            .ends_with("resnet18-test.safetensors")
    );
    let info = classify::ImageRunInfo::load(&out, Some("image-folder")).unwrap();
    assert_eq!(
        info.input_shape,
        [3, 224, 224],
        "read at the model's size, in colour"
    );
    assert_eq!(info.preprocessing(), classify::Preprocess::Resize);
    assert_eq!(info.class_names, ["left", "right"]);

    let err = finetune::from_torchvision(
        &ImageSpec::folder(FolderOptions::default()),
        &dir.path().join("weights.pth"),
        &settings,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot tell the model"), "{err}");
}
