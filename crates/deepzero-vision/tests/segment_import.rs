//! Golden tests of the torchvision segmentation imports: FCN-ResNet50 and DeepLabV3-ResNet50.
//!
//! `tests/fixtures/make_segment_import_fixture.py` (see its docstring) builds torchvision's own
//! classes (`ResNet` with `replace_stride_with_dilation=[False, True, True]`,
//! `IntermediateLayerGetter`, `FCNHead`, `ASPP`, `FCN`, `DeepLabV3`) at 1/16 of the width
//! (blocks 1-1-2-2, ASPP 16 channels at rates 2-3-4, 3 classes, auxiliary heads), draws seeded
//! random weights and BN statistics, saves the state dicts as `.pth` and the `out` and `aux`
//! outputs PyTorch computes in eval mode for `x.flatten()[i] = float32(sin(0.37 i))` of shape
//! [2, 3, 32, 48]. Here the same configurations are built with `FcnConfig` / `DeepLabV3Config`,
//! loaded with `load_torchvision_segmenter` and compared within 1e-4 (outputs of order 1; a
//! misplaced weight, a wrong dilation or align_corners moves them by 1e-2 or more).

mod common;

use burn::prelude::*;
use common::{fixed_input, fixture, golden_entry, max_difference};
use deepzero_vision::segment::{
    DeepLabV3Config, FcnConfig, SimpleSegmentationModel, load_torchvision_segmenter,
};
use deepzero_vision::{BlockKind, ResNetConfig};
use serde_json::Value;

fn golden(name: &str) -> Value {
    golden_entry("segment_logits.json", name)
}

fn backbone() -> ResNetConfig {
    ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 2, 2], 1)
        .with_base_channels(4)
        .dilated()
}

fn check(name: &str, model: SimpleSegmentationModel) {
    let device = Device::flex();
    let model = load_torchvision_segmenter(model, &fixture(&format!("{name}.pth")))
        .unwrap_or_else(|e| panic!("{e}"));
    let x = fixed_input([2, 3, 32, 48], &device);
    let (out, aux) = model.forward_with_aux(x);
    let entry = golden(name);
    assert_eq!(out.dims(), [2, 3, 32, 48]);
    let d_out = max_difference(out, &entry["out"]);
    let d_aux = max_difference(aux.unwrap(), &entry["aux"]);
    assert!(
        d_out < 1e-4 && d_aux < 1e-4,
        "{name}: out {d_out}, aux {d_aux}"
    );
}

#[test]
fn fcn_resnet50_equals_torchvision() {
    let device = Device::flex();
    check(
        "fcn_resnet50_d16",
        FcnConfig::new(backbone(), 3).with_aux(true).init(&device),
    );
}

#[test]
fn deeplabv3_resnet50_equals_torchvision() {
    let device = Device::flex();
    check(
        "deeplabv3_resnet50_d16",
        DeepLabV3Config::new(backbone(), 3)
            .with_aspp_channels(16)
            .with_atrous_rates(vec![2, 3, 4])
            .with_aux(true)
            .init(&device),
    );
}

#[test]
fn a_model_without_the_aux_head_ignores_it_and_wrong_files_are_refused() {
    let device = Device::flex();
    let path = fixture("deeplabv3_resnet50_d16.pth");
    let no_aux = DeepLabV3Config::new(backbone(), 3)
        .with_aspp_channels(16)
        .with_atrous_rates(vec![2, 3, 4])
        .init(&device);
    assert!(load_torchvision_segmenter(no_aux, &path).is_ok());
    // An FCN is not a DeepLab: one error naming the file and the keys.
    let fcn = FcnConfig::new(backbone(), 3).with_aux(true).init(&device);
    let err = load_torchvision_segmenter(fcn, &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("deeplabv3_resnet50_d16.pth") && err.contains("classifier"),
        "{err}"
    );
}

/// `deepzero import`'s library path: the architecture is read off each file, the run folder
/// loads back to the model PyTorch ran (same outputs), and predicting reads a photo at
/// torchvision's evaluation size (shorter side 520) and answers at the file's size.
#[test]
fn import_writes_a_run_that_segments_as_torchvision_does() {
    use deepzero_vision::segment::Segmenter;
    use deepzero_vision::segment::import::{
        SegmentImportOptions, architecture_of, import_torchvision,
    };
    use deepzero_vision::segment::task::{Predictor, SegmentArch, SegmentRunInfo, TorchvisionHead};
    let dir = tempfile::tempdir().unwrap();
    let options = SegmentImportOptions {
        atrous_rates: [2, 3, 4],
        ..SegmentImportOptions::default()
    };
    for (name, head) in [
        ("fcn_resnet50_d16", TorchvisionHead::Fcn),
        (
            "deeplabv3_resnet50_d16",
            TorchvisionHead::DeepLabV3 {
                aspp_channels: 16,
                rates: [2, 3, 4],
            },
        ),
    ] {
        let weights = fixture(&format!("{name}.pth"));
        let expected = SegmentArch::Torchvision {
            head,
            width: 4,
            blocks: [1, 1, 2, 2],
            aux: true,
        };
        assert_eq!(architecture_of(&weights, [2, 3, 4]).unwrap(), (expected, 3));

        let out = dir.path().join(name);
        let import = import_torchvision(&weights, &out, &options).unwrap();
        assert!(import.to_string().contains("3 classes"), "{import}");
        let info = SegmentRunInfo::load(&out, Some("voc-segment")).unwrap();
        assert_eq!(info.class_names, ["background", "1", "2"]);
        let model = info.load_model(&out, &Device::flex()).unwrap();
        let logits = model.segment(fixed_input([2, 3, 32, 48], &Device::flex()));
        let d = max_difference(logits, &golden(name)["out"]);
        assert!(d < 1e-4, "{name}: {d}");

        // A 30 × 45 photo is read at 520 × 780 and its mask is 30 × 45.
        let predictor = Predictor::load(&out, Some("voc-segment"), &Device::flex()).unwrap();
        assert_eq!(predictor.model_size([30, 45]), [520, 780]);
        assert_eq!(predictor.model_size([45, 30]), [780, 520]);
        let photo = dir.path().join("photo.png");
        image::RgbImage::from_fn(45, 30, |x, y| image::Rgb([x as u8 * 5, y as u8 * 8, 90]))
            .save(&photo)
            .unwrap();
        let found = predictor.predict(std::slice::from_ref(&photo)).unwrap();
        assert_eq!(found[0].size, [30, 45]);
        assert_eq!(found[0].mask.len(), 30 * 45);
    }

    // The same --out again: refused without overwrite, replaced with it.
    let out = dir.path().join("fcn_resnet50_d16");
    let weights = fixture("fcn_resnet50_d16.pth");
    let err = import_torchvision(&weights, &out, &options).unwrap_err();
    assert!(err.to_string().contains("--overwrite"), "{err}");
    let again = SegmentImportOptions {
        overwrite: true,
        ..options.clone()
    };
    import_torchvision(&weights, &out, &again).unwrap();
    // A classifier's weights are not a segmenter's: one line naming the file.
    let classifier = fixture("resnet18_w4.pth");
    let err = import_torchvision(&classifier, &dir.path().join("x"), &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("resnet18_w4.pth") && err.contains("not a torchvision FCN"),
        "{err}"
    );
    assert!(!dir.path().join("x").exists());
    // The name given must be the file's model.
    let named = SegmentImportOptions {
        model_name: Some("deeplabv3_resnet50".into()),
        ..options
    };
    let err = import_torchvision(&weights, &dir.path().join("y"), &named)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds an FCN, not a torchvision deeplabv3_resnet50"),
        "{err}"
    );
    assert!(!dir.path().join("y").exists());
}
