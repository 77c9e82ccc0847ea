//! End-to-end tests of `deepzero summary` and `deepzero import` → `deepzero predict imagenet`.
//!
//! The import test exports a randomly initialised ResNet-18 in torchvision's key layout
//! (SafeTensors, through burn-store's `BurnToPyTorchAdapter`), imports it with the binary and
//! checks that `predict` gives the top-5 the original model gives on the same image.

use std::path::Path;

use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::softmax;
use deepzero_data::ImageBatcher;
use deepzero_vision::{EvalTransform, IMAGENET_MEAN, IMAGENET_STD, imagenet_classes, resnet18};
use serde_json::Value;

mod common;
use common::{assert_ok, assert_one_line_error_with, run, stdout};

#[test]
fn summary_prints_layers_and_torchvision_counts() {
    let out = run(&["summary", "resnet18"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("Total params: 11,689,512"), "{text}");
    assert!(text.contains("Non-trainable buffers: 9,600"), "{text}");
    let row = |path: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or_else(|| panic!("no {path} row:\n{text}"))
            .to_string()
    };
    assert!(row("conv1").contains("[1, 64, 112, 112]"));
    assert!(row("layer4.1").contains("[1, 512, 7, 7]"));
    assert!(row("fc").contains("[1, 1000]") && row("fc").ends_with("513,000"));

    let out = run(&["summary", "vgg11-bn", "--small", "--classes", "7"]);
    let text = stdout(&out);
    assert!(
        text.contains("small-input variant, input 3×32×32, 7 classes"),
        "{text}"
    );
    assert!(text.contains("[1, 7]"), "{text}");

    let out = run(&["summary", "resnet20"]);
    assert!(stdout(&out).contains("Total params: 269,722"));

    assert_one_line_error_with(
        &run(&["summary", "resnet19"]),
        &["unknown model `resnet19`", "resnet18", "vgg16-bn"],
    );
    assert_one_line_error_with(
        &run(&["summary", "alexnet", "--input-size", "16"]),
        &["too small for alexnet"],
    );
}

/// A 300×200 RGB test picture with some structure.
fn write_image(path: &Path) {
    let img = image::RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([
            (x * 255 / 300) as u8,
            (y * 255 / 200) as u8,
            (((x / 20 + y / 20) % 2) * 200) as u8,
        ])
    });
    img.save(path).unwrap();
}

#[test]
fn import_then_predict_gives_the_original_models_top5() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    device.seed(7);
    let original = resnet18(1000, &device);
    // torchvision's layout: no enum variants, BN weight/bias, Linear [out, in].
    let weights = dir.path().join("resnet18-test.safetensors");
    let mut store = SafetensorsStore::from_file(&weights)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    original.save_into(&mut store).unwrap();

    let run_dir = dir.path().join("run");
    let out = run(&[
        "import",
        "resnet18",
        weights.to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("102 tensors imported"),
        "{}",
        stdout(&out)
    );
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["recipe"], "imagenet");
    assert_eq!(info["arch"], "resnet18");
    assert_eq!(info["input_shape"], serde_json::json!([3, 224, 224]));
    assert_eq!(info["class_names"][1], "goldfish");

    let picture = dir.path().join("test.png");
    write_image(&picture);
    let out = run(&[
        "predict",
        "imagenet",
        "--checkpoint",
        run_dir.to_str().unwrap(),
        picture.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&out);
    let predictions: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let top = predictions[0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);

    // The same image through the original model.
    let item = EvalTransform::IMAGENET.load(&picture).unwrap();
    let batcher = ImageBatcher::new(IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec());
    let probs = softmax(original.forward(batcher.images_tensor(&[item], &device)), 1);
    let (values, indices) = probs.topk_with_indices(5, 1);
    let values: Vec<f32> = values.try_into_vec_as::<f32>().unwrap();
    let indices: Vec<i64> = indices.try_into_vec_as::<i64>().unwrap();
    let classes = imagenet_classes();
    for (j, entry) in top.iter().enumerate() {
        assert_eq!(entry[0].as_i64().unwrap(), indices[j], "rank {j}");
        assert_eq!(entry[1], classes[indices[j] as usize]);
        let p = entry[2].as_f64().unwrap() as f32;
        assert!(
            (p - values[j]).abs() < 1e-5,
            "rank {j}: {p} vs {}",
            values[j]
        );
    }

    // The recipe cannot train.
    assert_one_line_error_with(
        &run(&[
            "train",
            "imagenet",
            "--out",
            dir.path().join("t").to_str().unwrap(),
        ]),
        &["deepzero import", "predicts only"],
    );
}

#[test]
fn importing_weights_that_do_not_fit_is_one_line_listing_them() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deepzero-vision/tests/fixtures");
    // A 4-channel ResNet-18 into the real one: every tensor has the wrong shape.
    let out = run(&[
        "import",
        "resnet18",
        fixtures.join("resnet18_w4.pth").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_one_line_error_with(
        &out,
        &[
            "resnet18_w4.pth does not fit the model",
            "102 with the wrong shape",
            "conv1.weight (model [64, 3, 7, 7], file [4, 3, 7, 7])",
        ],
    );
    assert!(!dir.path().join("run.json").exists());

    // The broken one with --allow-partial: imported, with a warning naming the three.
    let out = run(&[
        "import",
        "resnet18",
        fixtures.join("resnet18_w4_broken.pth").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--allow-partial",
        "--classes",
        "10",
    ]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("warning: kept the model's initial values"),
        "{text}"
    );
    assert!(
        text.contains("fc.bias") && text.contains("extra.weight"),
        "{text}"
    );

    assert_one_line_error_with(
        &run(&["import", "resnet20", "x.pth", "--out", "y"]),
        &["CIFAR ResNet"],
    );
    assert_one_line_error_with(
        &run(&["import", "resnet18", "/nonexistent/w.pth", "--out", "y"]),
        &["does not exist"],
    );
}
