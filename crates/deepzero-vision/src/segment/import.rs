//! torchvision's semantic segmenters as run folders of the [`RECIPE`] (`voc-segment`):
//!
//! ```text
//! deepzero import deeplabv3_resnet50 deeplabv3_resnet50_coco-cd0a2569.pth --out runs/deeplab
//! deepzero segment voc-segment --run runs/deeplab street.jpg      # pixels per class + picture
//! ```
//!
//! The architecture is read off the state dict, not off the name: the head (`classifier.0.convs.*`
//! is DeepLab's ASPP, anything else is an `FCNHead`), the backbone's width (`backbone.conv1`) and
//! blocks per stage, ASPP's width, the classes (`classifier.4`, the last convolution of both
//! heads) and whether there is an auxiliary head. What no tensor records is ASPP's dilation rates:
//! torchvision always builds 12, 24, 36 ([`TORCHVISION_RATES`]).
//!
//! torchvision's weights are trained on the subset of COCO with the 20 PASCAL VOC categories,
//! so 21 classes are named as VOC names them ([`VOC_CLASSES`]), and the run's [`Predictor`]
//! applies torchvision's evaluation transform (`SemanticSegmentation(resize_size=520)`): the
//! shorter side resized to 520 pixels, aspect ratio kept, ImageNet normalisation.
//!
//! [`Predictor`]: super::task::Predictor

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_train::checkpoint::save_model;
use deepzero_train::guard;
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{Recipe, TaskError};

use super::SegmentModel;
use super::load_torchvision_segmenter;
use super::task::{RUN_VERSION, SegmentArch, SegmentRunInfo, TorchvisionHead};

/// The recipe of imported torchvision segmenters (predict only).
pub const RECIPE: &str = "voc-segment";

/// The torchvision models `deepzero import` takes for this recipe.
pub const IMPORT_NAMES: [&str; 4] = [
    "fcn_resnet50",
    "fcn_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
];

/// ASPP's dilation rates in every torchvision DeepLab v3.
pub const TORCHVISION_RATES: [usize; 3] = [12, 24, 36];

/// The shorter side torchvision's evaluation transform resizes images to.
pub const RESIZE_SHORTER: usize = 520;

/// PASCAL VOC's classes in torchvision's order (`_VOC_CATEGORIES`), background first.
pub const VOC_CLASSES: [&str; 21] = [
    "__background__",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// ImageNet's per-channel mean and standard deviation (of pixel/255), torchvision's
/// normalisation for every pretrained model.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The spec of the [`RECIPE`]: nothing to train or evaluate, [`import_torchvision`] makes its
/// runs and [`Predictor`] uses them.
#[derive(Clone, Copy, Debug)]
pub struct ImportedSegmenter;

impl deepzero_train::Task for ImportedSegmenter {
    fn train(&self, _: &deepzero_train::RunSettings) -> Result<(), TaskError> {
        Err(predict_only())
    }

    fn evaluate_run(&self, _: &Path, _: &deepzero_train::RunSettings) -> Result<(), TaskError> {
        Err(predict_only())
    }
}

fn predict_only() -> TaskError {
    TaskError::invalid(format!(
        "the `{RECIPE}` recipe holds torchvision weights imported by `deepzero import`; it \
         predicts only (deepzero segment {RECIPE} --run DIR IMAGE...)"
    ))
}

/// The `voc-segment` recipe: nothing to train, [`import_torchvision`] makes its runs.
pub fn recipe() -> Recipe<ImportedSegmenter> {
    use deepzero_core::{LrSchedule, OptimizerKind};
    let fit =
        deepzero_train::FitConfig::recipe(0, 0, 0.0, OptimizerKind::Sgd, LrSchedule::Constant);
    let summary = "torchvision FCN / DeepLab v3 with imported weights: 20 VOC classes in photos \
                   (deepzero import; predict only)";
    Recipe::new(RECIPE, "3.3", summary, ImportedSegmenter, fit)
}

/// How [`import_torchvision`] treats what the file does not say.
#[derive(Clone, Debug)]
pub struct SegmentImportOptions {
    /// Replace a run already in `out` (a folder of other files is always refused).
    pub overwrite: bool,
    /// ASPP's dilation rates (they are not in the file): [`TORCHVISION_RATES`] unless the
    /// weights come from a model built otherwise.
    pub atrous_rates: [usize; 3],
    /// The torchvision name the user gave (one of [`IMPORT_NAMES`]), if any: the file's head
    /// must be that model's (`fcn_*` an FCN, `deeplabv3_*` a DeepLab v3).
    pub model_name: Option<String>,
}

impl Default for SegmentImportOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            atrous_rates: TORCHVISION_RATES,
            model_name: None,
        }
    }
}

/// What [`import_torchvision`] wrote.
#[derive(Clone, Debug)]
pub struct SegmentImport {
    /// The run's `run.json`.
    pub info: SegmentRunInfo,
    /// Trainable parameters as torchvision counts them.
    pub parameters: usize,
    /// The weight file read.
    pub weights: PathBuf,
    /// The run folder written.
    pub out: PathBuf,
}

impl SegmentImport {
    /// The command that segments images with the new run.
    pub fn segment_command(&self) -> String {
        format!(
            "deepzero segment {RECIPE} --run {} IMAGE...",
            self.out.display()
        )
    }
}

impl std::fmt::Display for SegmentImport {
    /// `torchvision deeplab-v3 resnet w64 blocks [3, 4, 6, 3] + aux head, 21 classes:
    /// 42004074 parameters from FILE -> OUT/model.bpk`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {} classes: {} parameters from {} -> {}",
            self.info.arch.name(),
            self.info.class_names.len(),
            self.parameters,
            self.weights.display(),
            self.out.join("model.bpk").display()
        )
    }
}

/// The architecture and class count of a torchvision segmentation state dict (`.pth` or
/// `.safetensors`), read from its keys and shapes; ASPP's rates are `atrous_rates`.
///
/// # Errors
/// [`TaskError::Invalid`] naming the file when it is not such a state dict; the import's
/// [`crate::ImportError`] when it cannot be read.
pub fn architecture_of(
    path: &Path,
    atrous_rates: [usize; 3],
) -> Result<(SegmentArch, usize), TaskError> {
    let shapes = crate::import::tensor_shapes(path, &[])?;
    let not_one = |missing: &str| {
        TaskError::invalid(format!(
            "{}: not a torchvision FCN / DeepLab v3 state dict (no `{missing}`)",
            path.display()
        ))
    };
    let dim = |key: &str| -> Result<usize, TaskError> {
        shapes
            .get(key)
            .and_then(|s| s.first().copied())
            .ok_or_else(|| not_one(key))
    };
    let width = dim("backbone.conv1.weight")?;
    dim("backbone.layer1.0.conv3.weight")?; // bottleneck blocks: torchvision dilates no others
    let blocks = crate::import::resnet_blocks_per_stage(&shapes, "backbone.");
    if let Some(empty) = blocks.iter().position(|&n| n == 0) {
        return Err(not_one(&format!(
            "backbone.layer{}.0.conv1.weight",
            empty + 1
        )));
    }
    let head = if shapes.contains_key("classifier.0.convs.0.0.weight") {
        TorchvisionHead::DeepLabV3 {
            aspp_channels: dim("classifier.0.convs.0.0.weight")?,
            rates: atrous_rates,
        }
    } else {
        dim("classifier.0.weight")?;
        TorchvisionHead::Fcn
    };
    let classes = dim("classifier.4.weight")?;
    let aux = shapes.keys().any(|k| k.starts_with("aux_classifier."));
    let arch = SegmentArch::Torchvision {
        head,
        width,
        blocks,
        aux,
    };
    arch.validate()?;
    Ok((arch, classes))
}

/// Converts torchvision's `fcn_resnet50/101` or `deeplabv3_resnet50/101` weights (any state dict
/// of that shape) into a run folder at `out` of the [`RECIPE`]: `model.bpk` and a `run.json`
/// whose [`Predictor`](super::task::Predictor) applies torchvision's evaluation transform.
/// An `out` that already holds a run is refused unless `options.overwrite`; one that holds
/// other files is always refused. Nothing is written until the weights have loaded.
///
/// # Errors
/// [`TaskError::Invalid`] for a missing file, a file that is not such a state dict, or an
/// `out` that may not be written; the import's one-line [`crate::ImportError`] for a key that
/// is missing, unused or of another shape.
pub fn import_torchvision(
    weights: &Path,
    out: &Path,
    options: &SegmentImportOptions,
) -> Result<SegmentImport, TaskError> {
    if !weights.is_file() {
        return Err(TaskError::invalid(format!(
            "weights file {} does not exist",
            weights.display()
        )));
    }
    crate::tasks::prepare_import_out(out, options.overwrite)?;
    let (arch, classes) = architecture_of(weights, options.atrous_rates)?;
    if let (Some(name), SegmentArch::Torchvision { head, .. }) = (&options.model_name, &arch) {
        let is_fcn = matches!(head, TorchvisionHead::Fcn);
        if !IMPORT_NAMES.contains(&name.as_str()) || name.starts_with("fcn") != is_fcn {
            let holds = if is_fcn { "an FCN" } else { "a DeepLab v3" };
            return Err(TaskError::invalid(format!(
                "{} holds {holds}, not a torchvision {name} (known: {})",
                weights.display(),
                IMPORT_NAMES.join(", ")
            )));
        }
    }
    let SegmentModel::ResNetHead(model) = arch.build(3, classes, &Device::flex()) else {
        unreachable!("a torchvision segmenter is a ResNet with a head");
    };
    let model = load_torchvision_segmenter(model, weights)?;
    if guard::holds_run(out) {
        guard::clear_run(out)?;
    }
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    let parameters = model.torchvision_params();
    // Saved as the run's model type, the enum `SegmentRunInfo::load_model` builds.
    save_model(&SegmentModel::ResNetHead(model), &out.join("model.bpk"))?;
    let info = SegmentRunInfo {
        version: RUN_VERSION,
        recipe: RECIPE.into(),
        arch,
        input_shape: [3, RESIZE_SHORTER, RESIZE_SHORTER],
        class_names: class_names(classes),
        mean: IMAGENET_MEAN.to_vec(),
        std: IMAGENET_STD.to_vec(),
        data: format!("torchvision weights {}", weights.display()),
        resize_shorter: Some(RESIZE_SHORTER),
    };
    write_json_atomic(&out.join("run.json"), &info)?;
    Ok(SegmentImport {
        info,
        parameters,
        weights: weights.to_path_buf(),
        out: out.to_path_buf(),
    })
}

/// VOC's names for 21 classes; otherwise `background, 1, 2, …`.
pub fn class_names(classes: usize) -> Vec<String> {
    if classes == VOC_CLASSES.len() {
        VOC_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        std::iter::once("background".to_string())
            .chain((1..classes).map(|c| c.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_voc_for_21_classes() {
        let voc = class_names(21);
        assert_eq!(voc[0], "__background__");
        assert_eq!(voc[15], "person");
        assert_eq!(voc[20], "tvmonitor");
        assert_eq!(class_names(3), ["background", "1", "2"]);
    }
}
