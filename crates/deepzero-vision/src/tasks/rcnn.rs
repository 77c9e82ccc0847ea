//! Imported torchvision detectors (seed chapter 3.2): torchvision's `fasterrcnn_resnet50_fpn`
//! weights → a run folder of the [`RECIPE`] (`coco-faster-rcnn`), and a [`Predictor`] that finds
//! objects in image files with it, prints and draws them as the detection task does
//! ([`ImageDetections`]).
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_vision::tasks::rcnn::{self, ImportOptions, Predictor};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth
//! let weights = "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth".as_ref();
//! let out = "runs/faster-rcnn".as_ref();
//! println!("{}", rcnn::import_torchvision(weights, out, &ImportOptions::default())?);
//! let predictor = Predictor::load(out, None, &Device::flex())?;
//! for found in predictor.predict(&["street.jpg".into()], 0.5, 100)? {
//!     println!("{}", found.describe(&predictor.info().class_names));
//! }
//! # Ok(()) }
//! ```
//!
//! # The run folder
//! `model.bpk` (the weights) and `run.json`: an [`RcnnRunInfo`] holding the whole
//! [`FasterRcnnConfig`], so the input size (`model.transform.min_size`/`max_size`, torchvision's
//! 800/1333) and the proposal counts (`model.rpn`) can be changed there. The architecture is read
//! from the file's tensor shapes ([`faster_rcnn_config_of`]): ResNet depth and width, FPN width,
//! box-head width and class count, so a torchvision Faster R-CNN fine-tuned on other classes
//! imports as well as the COCO one.
//!
//! # Classes
//! torchvision's label 0 is the background, which is never detected; a detection's `class` here
//! is torchvision's label − 1, and `class_names` leave the background out, so COCO results
//! ([`super::detect::coco_results`], `category_id` = class + 1) carry COCO's category ids and
//! the 91-class COCO weights are named by [`COCO_CATEGORIES`] (`person`, `bicycle`, …, and `N/A`
//! for the ids COCO left unused).

use std::fmt;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{TaskError, guard, load_run_info, model_file};
use serde::{Deserialize, Serialize};

use super::detect::{Detector, ImageDetections};
use super::digits_rcnn::DigitsRcnnSpec;
use crate::detect::yolo3::Detection;
use crate::detect::{
    BackboneWithFpnConfig, COCO_CATEGORIES, FASTER_RCNN_REMAPS, FasterRcnn, FasterRcnnConfig,
    RcnnTransformConfig, RoiHeadsConfig, RpnConfig, load_torchvision_faster_rcnn,
};
use crate::{BlockKind, ResNetConfig};

/// The recipe of imported Faster R-CNN runs (predict only).
pub const RECIPE: &str = "coco-faster-rcnn";

/// The recipes whose runs are Faster R-CNN run folders ([`RcnnRunInfo`]): imported weights and
/// the model trained on digit scenes ([`super::digits_rcnn`]).
pub const RECIPES: [&str; 2] = [RECIPE, super::digits_rcnn::RECIPE];

/// The model name `deepzero import` takes for torchvision's Faster R-CNN.
pub const IMPORT_NAME: &str = "fasterrcnn_resnet50_fpn";

/// The smallest score reported by default: torchvision's detection demo's 0.5.
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.5;

/// The current version of [`RcnnRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `OUT/run.json` records about an imported Faster R-CNN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RcnnRunInfo {
    /// Format version.
    pub version: u32,
    /// Recipe name ([`RECIPE`]).
    pub recipe: String,
    /// The model's configuration (input transform, proposals and box head included).
    pub model: FasterRcnnConfig,
    /// Class names by detection class (torchvision's label − 1: no background).
    pub class_names: Vec<String>,
    /// Where the weights came from.
    pub data: String,
}

deepzero_train::impl_run_info!(RcnnRunInfo, RUN_VERSION);

impl RcnnRunInfo {
    /// Reads `DIR/run.json` (of `recipe`, by default of one of [`RECIPES`]), checking it can be
    /// used.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a folder that is no such run, or whose settings make no sense.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        if recipe.is_none() && !RECIPES.contains(&info.recipe.as_str()) {
            return Err(TaskError::invalid(format!(
                "run {} was made by recipe `{}`, not by one of {}",
                dir.display(),
                info.recipe,
                RECIPES.join(", ")
            )));
        }
        let t = &info.model.transform;
        if info.model.num_classes < 2
            || info.class_names.len() + 1 != info.model.num_classes
            || t.min_size == 0
            || t.max_size < t.min_size
            || t.size_divisible == 0
        {
            return Err(TaskError::invalid(format!(
                "{}: run.json needs two classes or more, one name per class but the background, \
                 and 0 < transform.min_size ≤ transform.max_size",
                dir.display()
            )));
        }
        Ok(info)
    }

    /// The imported model of the run in `dir`, on `device`.
    ///
    /// # Errors
    /// [`TaskError`] when `model.bpk` is missing or does not fit the configuration.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<FasterRcnn, TaskError> {
        Ok(load_model(self.model.init(device), &model_file(dir)?)?)
    }
}

/// How [`import_torchvision`] writes the run: the settings a state dict does not record.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Replace a run already in the output folder (a folder holding other files is refused
    /// anyway).
    pub overwrite: bool,
    /// The input step (default torchvision's: short side 800, long side ≤ 1333).
    pub transform: RcnnTransformConfig,
    /// The region proposal network's settings (default torchvision's).
    pub rpn: RpnConfig,
}

impl ImportOptions {
    /// torchvision's settings, replacing a run already there when `overwrite` is set.
    pub fn new(overwrite: bool) -> Self {
        Self {
            overwrite,
            transform: RcnnTransformConfig::new(),
            rpn: RpnConfig::new(),
        }
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self::new(false)
    }
}

/// What [`import_torchvision`] wrote.
#[derive(Clone, Debug)]
pub struct RcnnImport {
    /// The run's `run.json`.
    pub info: RcnnRunInfo,
    /// Parameters as torchvision counts them ([`FasterRcnn::torchvision_params`]).
    pub parameters: usize,
    /// The weights file read.
    pub weights: PathBuf,
    /// The run folder written.
    pub out: PathBuf,
}

impl fmt::Display for RcnnImport {
    /// `fasterrcnn_resnet50_fpn: ResNet (bottleneck, blocks 3-4-6-3, base 64) + FPN 256,
    /// 91 classes (background included), N parameters (…), from FILE -> OUT/model.bpk`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.info.model;
        let body = &m.backbone.body;
        let kind = match body.block {
            BlockKind::Basic => "basic",
            BlockKind::Bottleneck => "bottleneck",
        };
        let [a, b, c, d] = body.layers;
        write!(
            f,
            "{IMPORT_NAME}: ResNet ({kind}, blocks {a}-{b}-{c}-{d}, base {}) + FPN {}, {} classes \
             (background included), {} parameters (frozen batch-norm γ, β included), from {} \
             -> {}",
            body.base_channels,
            m.backbone.out_channels,
            m.num_classes,
            self.parameters,
            self.weights.display(),
            self.out.join("model.bpk").display()
        )
    }
}

impl RcnnImport {
    /// The command that finds objects with the run written:
    /// `deepzero detect coco-faster-rcnn --run OUT IMAGE...`.
    pub fn detect_command(&self) -> String {
        let out = self.out.display().to_string();
        let out = if out.contains(' ') {
            format!("'{out}'")
        } else {
            out
        };
        format!("deepzero detect {RECIPE} --run {out} IMAGE...")
    }
}

/// The architecture of the torchvision Faster R-CNN state dict in `path`, read from its tensor
/// shapes: the ResNet's block kind, blocks per stage and stem width, the FPN width, the box
/// head's width and the class count; every other setting torchvision's default.
///
/// # Errors
/// [`TaskError::Invalid`] naming the file and the first key a Faster R-CNN needs that it lacks;
/// the import's errors for a file that cannot be read.
pub fn faster_rcnn_config_of(path: &Path) -> Result<FasterRcnnConfig, TaskError> {
    let shapes = crate::import::tensor_shapes(path, &FASTER_RCNN_REMAPS)?;
    let dim = |key: &str| -> Result<usize, TaskError> {
        shapes
            .get(key)
            .and_then(|s| s.first().copied())
            .ok_or_else(|| {
                TaskError::invalid(format!(
                    "{}: not a torchvision Faster R-CNN state dict (no `{key}`)",
                    path.display()
                ))
            })
    };
    let base = dim("backbone.body.conv1.weight")?;
    let block = if shapes.contains_key("backbone.body.layer1.0.conv3.weight") {
        BlockKind::Bottleneck
    } else {
        BlockKind::Basic
    };
    let layers = crate::import::resnet_blocks_per_stage(&shapes, "backbone.body.");
    if let Some(empty) = layers.iter().position(|&n| n == 0) {
        dim(&format!("backbone.body.layer{}.0.conv1.weight", empty + 1))?;
    }
    let fpn = dim("backbone.fpn.layer_blocks.0.weight")?;
    let representation = dim("roi_heads.box_head.fc6.weight")?;
    let classes = dim("roi_heads.box_predictor.cls_score.weight")?;
    let body = ResNetConfig::new(block, layers, 1).with_base_channels(base);
    Ok(FasterRcnnConfig::new(
        BackboneWithFpnConfig::new(body).with_out_channels(fpn),
        classes,
    )
    .with_roi_heads(RoiHeadsConfig::new().with_representation_size(representation)))
}

/// The names of `num_classes` classes (background included) but the background: COCO's for
/// torchvision's 91 COCO classes, else `1`, `2`, … (torchvision's labels).
pub fn class_names(num_classes: usize) -> Vec<String> {
    if num_classes == COCO_CATEGORIES.len() {
        COCO_CATEGORIES[1..].iter().map(|s| s.to_string()).collect()
    } else {
        (1..num_classes).map(|c| c.to_string()).collect()
    }
}

/// Converts torchvision's Faster R-CNN weights (a `fasterrcnn_resnet50_fpn` state dict of any
/// width and class count, `.pth` or `.safetensors`) into a run folder at `out`: `model.bpk` and
/// a `run.json` of the [`RECIPE`]. Nothing is written unless the whole file loads strictly
/// (every parameter with its shape, every key used).
///
/// # Errors
/// [`TaskError::Invalid`] for a missing file, a file that is not such a state dict, or an `out`
/// that already holds something (a run: unless `options.overwrite`); the import's one-line
/// [`crate::ImportError`] for a key that is missing, unused or of another shape.
pub fn import_torchvision(
    weights: &Path,
    out: &Path,
    options: &ImportOptions,
) -> Result<RcnnImport, TaskError> {
    if !weights.is_file() {
        return Err(TaskError::invalid(format!(
            "weights file {} does not exist",
            weights.display()
        )));
    }
    super::prepare_import_out(out, options.overwrite)?;
    let config = faster_rcnn_config_of(weights)?
        .with_transform(options.transform.clone())
        .with_rpn(options.rpn.clone());
    let model = load_torchvision_faster_rcnn(config.init(&Device::flex()), weights)?;
    if guard::holds_run(out) {
        guard::clear_run(out)?;
    }
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    save_model(&model, &out.join("model.bpk"))?;
    let info = RcnnRunInfo {
        version: RUN_VERSION,
        recipe: RECIPE.into(),
        class_names: class_names(config.num_classes),
        model: config,
        data: format!("torchvision weights {}", weights.display()),
    };
    write_json_atomic(&out.join("run.json"), &info)?;
    Ok(RcnnImport {
        info,
        parameters: model.torchvision_params(),
        weights: weights.to_path_buf(),
        out: out.to_path_buf(),
    })
}

/// An imported Faster R-CNN loaded from its run folder.
pub struct Predictor {
    info: RcnnRunInfo,
    model: FasterRcnn,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking it was made by `recipe`, by default [`RECIPE`]) onto
    /// `device`.
    ///
    /// # Errors
    /// [`TaskError`] for a folder that is no such run or whose weights do not load.
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = RcnnRunInfo::load(dir, recipe)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            model,
            device: device.clone(),
        })
    }

    /// The run's description.
    pub fn info(&self) -> &RcnnRunInfo {
        &self.info
    }

    /// The image in `path` as torchvision reads it: RGB, `[3, h, w]`, pixel/255 (`u16`
    /// images: pixel/65535).
    fn read(&self, path: &Path) -> Result<(Tensor<3>, (u32, u32)), TaskError> {
        let image = deepzero_data::read_image(path)?.to_rgb32f();
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Err(TaskError::invalid(format!(
                "{}: the image is empty",
                path.display()
            )));
        }
        // Channels first, as torchvision's `to_tensor` lays them out, rearranged here on the
        // CPU in one pass rather than as a permuted view for the backend to copy.
        let hwc = image.into_raw();
        let plane = (w * h) as usize;
        let mut chw = vec![0.0; 3 * plane];
        for (i, px) in hwc.chunks_exact(3).enumerate() {
            for c in 0..3 {
                chw[c * plane + i] = px[c];
            }
        }
        let data = TensorData::new(chw, [3, h as usize, w as usize]);
        Ok((Tensor::<3>::from_data(data, &self.device), (w, h)))
    }

    /// The objects in each image scoring at least `score_threshold`, at most `max_detections`
    /// of them, best first, in the image's own pixels. The model's own limits apply first
    /// (`run.json`'s `model.roi_heads`: a score above 0.05, at most 100 per image, as
    /// torchvision).
    ///
    /// # Errors
    /// [`TaskError`] naming an image that cannot be read.
    pub fn predict(
        &self,
        paths: &[PathBuf],
        score_threshold: f32,
        max_detections: usize,
    ) -> Result<Vec<ImageDetections>, TaskError> {
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let (image, size) = self.read(path)?;
            // One image at a time: each is resized on its own (800 px short side by default),
            // and a batch would pad every image to the largest.
            let detections = self
                .model
                .detect(&[image])
                .pop()
                .unwrap_or_default()
                .into_iter()
                .filter(|d| d.score >= score_threshold && d.class >= 1)
                .take(max_detections)
                .map(|d| Detection {
                    class: d.class - 1,
                    ..d
                })
                .collect();
            out.push(ImageDetections {
                path: path.clone(),
                size,
                detections,
            });
        }
        Ok(out)
    }
}

impl Detector for Predictor {
    fn class_names(&self) -> &[String] {
        &self.info.class_names
    }

    /// [`DEFAULT_SCORE_THRESHOLD`], the 0.5 of torchvision's detection demo.
    fn default_score_threshold(&self) -> f32 {
        DEFAULT_SCORE_THRESHOLD
    }

    fn find(
        &self,
        images: &[PathBuf],
        score_threshold: f32,
        max_detections: usize,
    ) -> Result<Vec<ImageDetections>, TaskError> {
        self.predict(images, score_threshold, max_detections)
    }
}

/// The spec of a Faster R-CNN recipe: imported weights ([`RECIPE`]), which neither train nor
/// evaluate, or the digit scenes of [`super::digits_rcnn`].
#[derive(Clone, Debug)]
pub enum RcnnSpec {
    /// `coco-faster-rcnn`: weights imported by `deepzero import`; predicts only.
    Imported,
    /// `digits-faster-rcnn`: trained on digit scenes.
    Digits(Box<DigitsRcnnSpec>),
}

fn predict_only() -> TaskError {
    TaskError::invalid(format!(
        "the `{RECIPE}` recipe holds weights imported by `deepzero import {IMPORT_NAME}`; it \
         predicts only (deepzero detect {RECIPE} --run DIR IMAGE...)"
    ))
}

impl deepzero_train::Task for RcnnSpec {
    fn train(&self, settings: &deepzero_train::RunSettings) -> Result<(), TaskError> {
        match self {
            Self::Imported => Err(predict_only()),
            Self::Digits(spec) => super::digits_rcnn::train(spec, settings).map(drop),
        }
    }

    fn evaluate_run(
        &self,
        run: &Path,
        settings: &deepzero_train::RunSettings,
    ) -> Result<(), TaskError> {
        match self {
            Self::Imported => Err(predict_only()),
            Self::Digits(spec) => super::digits_rcnn::evaluate_run(spec, run, settings).map(drop),
        }
    }
}

/// The Faster R-CNN recipes, for a front end's registry: imported weights, and the model
/// trained on digit scenes (with the settings its figures in docs/detection.md were measured
/// with).
pub fn recipes() -> Vec<deepzero_train::Recipe<RcnnSpec>> {
    use deepzero_core::{LrSchedule, OptimizerKind};
    let fit =
        deepzero_train::FitConfig::recipe(0, 0, 0.0, OptimizerKind::Sgd, LrSchedule::Constant);
    let summary = "torchvision Faster R-CNN ResNet-50-FPN with imported COCO weights \
                   (deepzero import; predict only)";
    let digits_fit = deepzero_train::FitConfig {
        valid_batch_size: Some(64),
        ..deepzero_train::FitConfig::recipe(
            DIGITS_EPOCHS,
            16,
            1e-3,
            OptimizerKind::Adam,
            LrSchedule::Cosine {
                min_lr_factor: 0.05,
            },
        )
    };
    vec![
        deepzero_train::Recipe::new(RECIPE, "3.2", summary, RcnnSpec::Imported, fit),
        deepzero_train::Recipe::new(
            super::digits_rcnn::RECIPE,
            "3.2",
            "Faster R-CNN (small ResNet-FPN, RPN, RoIAlign head) trained on 64×64 MNIST digit \
             scenes; COCO AP",
            RcnnSpec::Digits(Box::new(DigitsRcnnSpec::digits())),
            digits_fit,
        ),
    ]
}

/// Epochs of the `digits-faster-rcnn` recipe.
const DIGITS_EPOCHS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_drop_the_background() {
        let coco = class_names(91);
        assert_eq!(coco.len(), 90);
        assert_eq!(coco[0], "person");
        assert_eq!(coco[2], "car");
        assert_eq!(coco[89], "toothbrush");
        assert_eq!(class_names(4), ["1", "2", "3"]);
    }

    #[test]
    fn an_output_folder_of_other_files_is_refused_even_with_overwrite() {
        let dir = std::env::temp_dir().join(format!("deepzero-rcnn-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        for overwrite in [false, true] {
            let err = crate::tasks::prepare_import_out(&dir, overwrite)
                .unwrap_err()
                .to_string();
            assert!(err.contains("is not empty and holds no run"), "{err}");
        }
        std::fs::write(dir.join("run.json"), "{}").unwrap();
        let err = crate::tasks::prepare_import_out(&dir, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("already holds a run; pass --overwrite"),
            "{err}"
        );
        assert!(crate::tasks::prepare_import_out(&dir, true).is_ok());
        assert!(crate::tasks::prepare_import_out(&dir.join("new"), false).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
