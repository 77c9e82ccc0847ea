//! Golden tests of the torchvision weight import (seed chapter 3.1).
//!
//! The fixtures in `tests/fixtures/` are written by `make_resnet_fixture.py` with PyTorch (see
//! its docstring): a ResNet-18-topology network at base width 4 as `.pth` and `.safetensors`, a
//! CIFAR ResNet-20 in an akamaster training checkpoint, a deliberately broken state dict, the
//! logits PyTorch computes for a fixed input, every torchvision key and shape of the 15
//! ImageNet models, and torchvision's evaluation transform of one image.

mod common;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use common::{fixed_input, fixture, input_shape, max_difference, read_json};
use deepzero_data::ImageBatcher;
use deepzero_vision::{
    EvalTransform, IMAGENET_MEAN, IMAGENET_STD, ImageModel, ImportError, ImportOptions,
    ResNetConfig, WeightFormat, ZooModel, load_torchvision, load_torchvision_with, resnet20,
};
use serde_json::Value;

fn golden() -> Value {
    read_json("expected_logits.json")
}

/// Largest |ours − PyTorch's| over the logits of `entry`.
fn max_logit_difference(logits: Tensor<2>, entry: &Value) -> f32 {
    max_difference(logits, &entry["logits"])
}

fn tiny_resnet18(device: &Device) -> deepzero_vision::ResNet {
    ResNetConfig::resnet18(10)
        .with_base_channels(4)
        .init(device)
}

#[test]
fn resnet18_w4_matches_pytorch_from_pth_and_safetensors() {
    let device = Device::flex();
    let golden = golden();
    let entry = &golden["resnet18_w4"];
    let x = fixed_input(input_shape(entry), &device);
    for (file, format) in [
        ("resnet18_w4.pth", WeightFormat::Pytorch),
        ("resnet18_w4.safetensors", WeightFormat::Safetensors),
    ] {
        let (model, report) = load_torchvision_with(
            tiny_resnet18(&device),
            &fixture(file),
            &ImportOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(report.format, Some(format));
        // 122 torchvision keys: 102 parameters and statistics, 20 num_batches_tracked.
        assert_eq!((report.applied, report.ignored), (102, 20), "{file}");
        assert!(report.is_complete());
        let diff = max_logit_difference(model.forward(x.clone()), entry);
        eprintln!("{file}: max |logit - PyTorch| = {diff:.2e}");
        assert!(
            diff <= 1e-4,
            "{file}: logits differ from PyTorch's by {diff}"
        );
    }
}

#[test]
fn cifar_resnet20_from_an_akamaster_checkpoint() {
    // `{"state_dict": {"module.conv1.weight", …, "module.linear.weight"}}`: all three remaps.
    let device = Device::flex();
    let golden = golden();
    let entry = &golden["cifar_resnet20"];
    let path = fixture("cifar_resnet20_akamaster.pth");
    let (model, report) =
        load_torchvision_with(resnet20(10, &device), &path, &ImportOptions::default()).unwrap();
    // 19 BNs (4 values each), 19 convolutions, fc weight and bias.
    assert_eq!((report.applied, report.ignored), (19 * 4 + 19 + 2, 19));
    let diff = max_logit_difference(
        model.forward(fixed_input(input_shape(entry), &device)),
        entry,
    );
    eprintln!("cifar_resnet20_akamaster.pth: max |logit - PyTorch| = {diff:.2e}");
    assert!(diff <= 1e-4, "logits differ from PyTorch's by {diff}");

    // Through the run-time model enum, as the CLI loads it: enum variants are not in the keys.
    let model = load_torchvision(ZooModel::ResNet20.build(10, 3, false, &device), &path).unwrap();
    assert!(matches!(model, ImageModel::CifarResNet(_)));
}

#[test]
fn a_bad_state_dict_gives_one_error_listing_every_problem() {
    let device = Device::flex();
    let path = fixture("resnet18_w4_broken.pth");
    let err = load_torchvision(tiny_resnet18(&device), &path).unwrap_err();
    let message = err.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    for needle in [
        "1 missing in the file (fc.bias)",
        "1 unused keys of the file (extra.weight)",
        "1 with the wrong shape (layer1.0.conv1.weight (model [4, 4, 3, 3], file [4, 4, 5, 5]))",
    ] {
        assert!(message.contains(needle), "`{needle}` not in: {message}");
    }
    let ImportError::Mismatch { report, .. } = err else {
        panic!("expected a mismatch, got {message}");
    };
    assert_eq!(report.missing, ["fc.bias"]);
    assert_eq!(report.unused, ["extra.weight"]);
    assert_eq!(report.mismatched.len(), 1);
    assert!(report.errors.is_empty());

    // allow_partial: the rest loads, the three keep the model's own values.
    let fresh = tiny_resnet18(&device);
    let initial_bias = fresh.fc.bias.as_ref().unwrap().val();
    let options = ImportOptions {
        allow_partial: true,
    };
    let (model, report) = load_torchvision_with(fresh, &path, &options).unwrap();
    assert_eq!(report.applied, 102 - 2);
    assert_eq!(report.missing, ["fc.bias"]);
    model
        .fc
        .bias
        .as_ref()
        .unwrap()
        .val()
        .to_data()
        .assert_eq(&initial_bias.to_data(), true);
}

#[test]
fn unreadable_files_are_errors_not_panics() {
    let device = Device::flex();
    let err = load_torchvision(tiny_resnet18(&device), &fixture("expected_logits.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a PyTorch checkpoint"), "{err}");
    let err = load_torchvision(tiny_resnet18(&device), &fixture("absent.pth"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.pth"), "{err}");
}

/// `key [shape]` of every parameter as torchvision names and shapes it: enum variants left out,
/// BatchNorm `gamma`/`beta` as `weight`/`bias`, `Linear` weights transposed to `[out, in]`.
fn torchvision_view<M: Module>(module: &M) -> Vec<String> {
    #[derive(Default)]
    struct Keys {
        path: Vec<String>,
        /// Per entered name: whether it is in the path, and its container's type.
        containers: Vec<(bool, String)>,
        keys: Vec<String>,
    }
    impl ModuleVisitor for Keys {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            let keep = !container_type.starts_with("Enum:");
            if keep {
                self.path.push(name.to_string());
            }
            self.containers.push((keep, container_type.to_string()));
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            if let Some((true, _)) = self.containers.pop() {
                self.path.pop();
            }
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let mut shape = param.lazy_shape().to_vec();
            let name = self.path.last().cloned().unwrap_or_default();
            // `enter_module` names a parameter with the type of the module holding it.
            let parent = self
                .containers
                .last()
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let mut key = self.path.join(".");
            if parent == "Struct:BatchNorm" {
                let torch = match name.as_str() {
                    "gamma" => Some("weight"),
                    "beta" => Some("bias"),
                    _ => None,
                };
                if let Some(torch) = torch {
                    key = format!(
                        "{}.{torch}",
                        key.strip_suffix(&name).unwrap().trim_end_matches('.')
                    );
                }
            }
            if parent == "Struct:Linear" && name == "weight" {
                shape.reverse();
            }
            self.keys.push(format!("{key} {shape:?}"));
        }
    }
    let mut keys = Keys::default();
    module.visit(&mut keys);
    keys.keys
}

#[test]
fn every_imagenet_model_has_torchvision_keys_and_shapes() {
    let text = std::fs::read_to_string(fixture("torchvision_keys.json")).unwrap();
    let expected: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let device = Device::flex();
    let mut checked = 0;
    for model in ZooModel::ALL.into_iter().filter(|m| m.is_imagenet()) {
        let torch_name = model.name().replace('-', "_");
        let mut want: Vec<String> = expected[&torch_name]
            .as_array()
            .unwrap_or_else(|| panic!("{torch_name} not in the fixture"))
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        // Built lazily: nothing is allocated. GoogLeNet's checkpoint has the auxiliary heads.
        let built = match model {
            ZooModel::GoogLeNet => ImageModel::GoogLeNet(
                deepzero_vision::GoogLeNetConfig::new(1000)
                    .with_aux_logits(true)
                    .init(&device),
            ),
            _ => model.build(1000, 3, false, &device),
        };
        let mut got = torchvision_view(&built);
        want.sort();
        got.sort();
        assert_eq!(got, want, "{model}");
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn imagenet_eval_transform_matches_torchvision() {
    let text = std::fs::read_to_string(fixture("imagenet_transform.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let device = Device::flex();
    let item = EvalTransform::IMAGENET
        .load(&fixture("imagenet_transform_input.png"))
        .unwrap();
    assert_eq!(item.shape, [3, 224, 224]);
    let batcher = ImageBatcher::new(IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec());
    let x: Tensor<3> = batcher.images_tensor(&[item], &device).squeeze_dim(0);
    let values: Vec<f32> = x.to_data().try_to_vec::<f32>().unwrap();
    // torchvision's t[c, 16 + 32 i, 16 + 32 j].
    let mut worst = 0f32;
    for (c, plane) in golden["samples"].as_array().unwrap().iter().enumerate() {
        for (i, row) in plane.as_array().unwrap().iter().enumerate() {
            for (j, v) in row.as_array().unwrap().iter().enumerate() {
                let ours = values[(c * 224 + 16 + 32 * i) * 224 + 16 + 32 * j];
                worst = worst.max((ours - v.as_f64().unwrap() as f32).abs());
            }
        }
    }
    let mean = |c: usize| {
        values[c * 224 * 224..(c + 1) * 224 * 224]
            .iter()
            .sum::<f32>()
            / 50176.0
    };
    let mean_diff = (0..3)
        .map(|c| (mean(c) - golden["channel_mean"][c].as_f64().unwrap() as f32).abs())
        .fold(0f32, f32::max);
    eprintln!(
        "eval transform vs torchvision: max sample diff {worst:.4}, max channel-mean diff {mean_diff:.5}"
    );
    // One grey level is 1/255/0.224 ≈ 0.0175 after normalisation: PIL's bilinear and the
    // `image` crate's triangle filter agree to about one level.
    assert!(worst <= 3.0 * 0.0175, "sample values differ by {worst}");
    assert!(mean_diff <= 0.0175, "channel means differ by {mean_diff}");
}
