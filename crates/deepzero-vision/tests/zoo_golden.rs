//! Logits golden tests of VGG, AlexNet and GoogLeNet against PyTorch (torchvision's classes),
//! the counterpart of `torchvision_import.rs`'s ResNet tests.
//!
//! The fixtures in `tests/fixtures/` are written by `make_zoo_fixture.py` (see its docstring):
//! torchvision's own `VGG`, `AlexNet` and `GoogLeNet` classes with narrower layers (the same
//! keys, smaller tensors), seeded random weights and BN statistics, saved as `.pth` state
//! dicts, and the logits PyTorch computes in eval mode for the fixed input
//! `x.flatten()[i] = float32(sin(0.37 i))` of shape [2, 3, 160, 160]. Here the same reduced
//! configurations are built with the zoo's configs (`base_channels`, `width_divisor`,
//! `hidden`), loaded with `load_torchvision` and compared.
//!
//! Tolerance: 1e-4 on logits of order 1 (the script's He-normal weights keep them so; standard
//! deviations 0.9–2.4). Both sides compute in f32 with different summation orders, a few 1e-6
//! apart; a weight in the wrong slot, a transposed kernel or a different pooling window moves
//! logits by 1e-2 or more.

mod common;

use burn::prelude::*;
use common::{fixed_input, fixture, golden_entry, input_shape, max_difference};
use deepzero_vision::{
    AlexNetConfig, GoogLeNetConfig, IMAGENET_MEAN, IMAGENET_STD, ImportOptions, VggCfg, VggConfig,
    ZooModel, load_torchvision_with,
};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn golden(name: &str) -> Value {
    golden_entry("zoo_logits.json", name)
}

/// The scripts' fixed input of the entry's shape.
fn entry_input(entry: &Value, device: &Device) -> Tensor<4> {
    fixed_input(input_shape(entry), device)
}

/// Largest |ours − PyTorch's| over `entry[key]` (a `[B, classes]` list of lists).
fn logit_difference(logits: Tensor<2>, entry: &Value, key: &str) -> f32 {
    let theirs = &entry[key];
    assert!(theirs.is_array(), "{key} not in the fixture");
    max_difference(logits, theirs)
}

fn assert_close(name: &str, logits: Tensor<2>, entry: &Value, key: &str) {
    let diff = logit_difference(logits, entry, key);
    eprintln!("{name} {key}: max |logit - PyTorch| = {diff:.2e}");
    assert!(
        diff <= TOLERANCE,
        "{name} {key}: logits differ from PyTorch's by {diff}"
    );
}

/// VGG-11 at base width 4 (blocks 4-8-16-32-32), 16 hidden units, torchvision's 7×7 pool.
fn vgg11_w4(batch_norm: bool) -> VggConfig {
    VggConfig::new(VggCfg::A, 10)
        .with_batch_norm(batch_norm)
        .with_base_channels(4)
        .with_hidden(16)
}

#[test]
fn vgg11_and_vgg11_bn_match_pytorch() {
    let device = Device::flex();
    // VGG-11: 8 convolutions and 3 linear layers, a weight and a bias each. VGG-11-BN: 8 BNs
    // more with 4 values each, and 8 `num_batches_tracked` ignored.
    for (name, batch_norm, counts) in [
        ("vgg11_w4", false, (22, 0)),
        ("vgg11_bn_w4", true, (22 + 8 * 4, 8)),
    ] {
        let entry = golden(name);
        let path = fixture(&format!("{name}.pth"));
        let (model, report) = load_torchvision_with(
            vgg11_w4(batch_norm).init(&device),
            &path,
            &ImportOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((report.applied, report.ignored), counts, "{name}");
        assert!(report.is_complete());
        assert_close(
            name,
            model.forward(entry_input(&entry, &device)),
            &entry,
            "logits",
        );
    }
}

#[test]
fn alexnet_matches_pytorch() {
    let device = Device::flex();
    let entry = golden("alexnet_d16");
    // Convolutions 4-12-24-16-16 (torchvision's / 16), 16 hidden units, torchvision's 6×6 pool.
    let config = AlexNetConfig::new(10)
        .with_width_divisor(16)
        .with_hidden(16);
    let (model, report) = load_torchvision_with(
        config.init(&device),
        &fixture("alexnet_d16.pth"),
        &ImportOptions::default(),
    )
    .unwrap();
    // 5 convolutions and 3 linear layers, a weight and a bias each.
    assert_eq!((report.applied, report.ignored), (16, 0));
    assert_close(
        "alexnet_d16",
        model.forward(entry_input(&entry, &device)),
        &entry,
        "logits",
    );
}

/// torchvision's `transform_input`, which its pretrained GoogLeNet applies to ImageNet-normalised
/// input `x`, done the way the zoo does it: back to pixels `x·std + mean`, then normalised with
/// [`ZooModel::input_normalisation`] (mean 0.5, std 0.5 for GoogLeNet).
fn as_googlenet_input(x: Tensor<4>, device: &Device) -> Tensor<4> {
    let (mean, std) = ZooModel::GoogLeNet.input_normalisation();
    let column = |v: [f32; 3]| Tensor::<1>::from_floats(v, device).reshape([1, 3, 1, 1]);
    let pixels = x * column(IMAGENET_STD) + column(IMAGENET_MEAN);
    (pixels - column(mean)) / column(std)
}

#[test]
fn googlenet_matches_pytorch_with_and_without_transform_input() {
    let device = Device::flex();
    let entry = golden("googlenet_d16");
    let path = fixture("googlenet_d16.pth");
    let x = entry_input(&entry, &device);
    // Every width / 16, rounded up; the auxiliary heads built, as in the checkpoint.
    let config = GoogLeNetConfig::new(10).with_width_divisor(16);
    let (model, report) = load_torchvision_with(
        config.clone().with_aux_logits(true).init(&device),
        &path,
        &ImportOptions::default(),
    )
    .unwrap();
    // 59 BasicConv2d (57 in the trunk, one per auxiliary head): a convolution weight and 4 BN
    // values each, plus `fc` and each head's `fc1` and `fc2`; 59 `num_batches_tracked`.
    assert_eq!((report.applied, report.ignored), (59 * 5 + 2 + 2 * 4, 59));
    assert!(report.is_complete());
    assert_close("googlenet_d16", model.forward(x.clone()), &entry, "logits");
    // torchvision's eval path for its pretrained weights (`transform_input=True`), and the
    // auxiliary heads on the same input (eval mode: no dropout).
    let out = model.forward_with_aux(as_googlenet_input(x.clone(), &device));
    assert_close(
        "googlenet_d16",
        out.logits,
        &entry,
        "logits_transform_input",
    );
    assert_close(
        "googlenet_d16",
        out.aux1.unwrap(),
        &entry,
        "aux1_transform_input",
    );
    assert_close(
        "googlenet_d16",
        out.aux2.unwrap(),
        &entry,
        "aux2_transform_input",
    );

    // Without the auxiliary heads (as `ZooModel::GoogLeNet` builds it): their 20 keys are
    // ignored, the main logits are the same.
    let (model, report) =
        load_torchvision_with(config.init(&device), &path, &ImportOptions::default()).unwrap();
    assert_eq!((report.applied, report.ignored), (57 * 5 + 2, 57 + 2 * 10));
    assert_close(
        "googlenet_d16 (no aux heads)",
        model.forward(as_googlenet_input(x, &device)),
        &entry,
        "logits_transform_input",
    );
}
