//! The object-detection task (seed chapter 3.2): digit scenes (`deepzero_data::scenes`, real
//! MNIST digits pasted on a canvas) → a trained [`Yolo3`] detector in a run folder, scored with
//! COCO's metrics by [`crate::detect::coco`], and a [`Predictor`] that finds objects in image
//! files and draws them.
//!
//! ```no_run
//! use deepzero_train::{FitConfig, RunSettings};
//! use deepzero_vision::tasks::detect::{self, DetectSpec, Predictor};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // Without a data folder the shipped MNIST sample supplies the digits.
//! let spec = DetectSpec::digits();
//! let settings = RunSettings::new("digits-yolo", "runs/yolo")
//!     .with_fit(FitConfig { epochs: 2, ..FitConfig::default() });
//! let report = detect::train(&spec, &settings)?;
//! println!("test AP50 {}", report.test["ap50"]);
//! let predictor = Predictor::load("runs/yolo".as_ref(), None, &settings.device()?)?;
//! // or, for any detection run (an imported Faster R-CNN too): detect::load_detector
//! for found in predictor.predict(&["scene.png".into()], 0.25)? {
//!     for d in &found.detections {
//!         println!("{} {:.2} {:?}", predictor.class_name(d.class), d.score, d.bbox);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_data::scenes::{SceneConfig, Scenes, render_scenes};
use deepzero_data::{IdxCorpus, Split, load_image};
use deepzero_train::checkpoint::load_model;
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    BatchSource, ClassificationStep, EvalReport, RunReport, RunSettings, Supervised, TaskError,
    TrainError, load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::classify::idx_dir;
use super::detect_run::{SceneRun, write_evaluation};
use crate::detect::coco::{
    CocoAnnotation, CocoCategory, CocoDetection, CocoGt, CocoImage, CocoParams, CocoSummary,
    evaluate,
};
use crate::detect::yolo_loss::{YoloLossConfig, YoloTarget, yolo_loss};
use crate::detect::yolo3::{DecodeOptions, Detection, Yolo3, Yolo3Config, anchors_from_sizes};

/// What a detection run trains on.
#[derive(Clone, Debug)]
pub struct DetectSpec {
    /// Where the pasted objects come from (its training split for training scenes, its test
    /// split for test scenes, so no instance is shared).
    pub corpus: IdxCorpus,
    /// How scenes are drawn; `seed` is the training scenes' seed, the test scenes use `seed + 1`.
    pub scenes: SceneConfig,
    /// Training scenes (a tenth of them is held out for validation loss).
    pub train_scenes: usize,
    /// Test scenes (scored with COCO AP).
    pub test_scenes: usize,
    /// Channels of the detector's stem (see [`Yolo3Config::width`]).
    pub width: usize,
}

impl DetectSpec {
    /// 64×64 canvases with 1–4 non-overlapping MNIST digits of 16–32 pixels.
    pub fn digits() -> Self {
        Self {
            corpus: IdxCorpus::Mnist,
            // The default scenes are these 64×64 canvases of 1–4 digits.
            scenes: SceneConfig {
                seed: 7,
                ..SceneConfig::default()
            },
            train_scenes: 20_000,
            test_scenes: 2_000,
            width: 8,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.scenes.canvas < 16 || !self.scenes.canvas.is_multiple_of(16) {
            return Err(TaskError::invalid(
                "the canvas side must be a multiple of 16",
            ));
        }
        if self.train_scenes < 10 || self.test_scenes == 0 || self.width == 0 {
            return Err(TaskError::invalid(
                "need at least 10 training scenes, one test scene and a width ≥ 1",
            ));
        }
        Ok(())
    }
}

/// The current version of [`DetectRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `OUT/run.json` records about a trained detector.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DetectRunInfo {
    /// Format version.
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// The model's configuration (anchors included).
    pub model: Yolo3Config,
    /// Input side (square, grey, pixel/255).
    pub input_size: usize,
    /// Class names, index = class id.
    pub class_names: Vec<String>,
    /// Where the training data came from.
    pub data: String,
}

deepzero_train::impl_run_info!(DetectRunInfo, RUN_VERSION);

impl DetectRunInfo {
    /// Reads `DIR/run.json`, checking it can be used.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        if info.model.anchors.len() != 9
            || info.class_names.len() != info.model.num_classes
            || !info.input_size.is_multiple_of(16)
            || info.input_size == 0
            || ![1, 3].contains(&info.model.in_channels)
        {
            return Err(TaskError::invalid(format!(
                "{}: run.json needs nine anchors, one name per class, 1 or 3 input channels and an input size that is a multiple of 16",
                dir.display()
            )));
        }
        Ok(info)
    }

    /// The trained model of the run in `dir`, on `device`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<Yolo3, TaskError> {
        Ok(load_model(self.model.init(device), &model_file(dir)?)?)
    }
}

/// A batch of scenes: images `[B, 1, S, S]` (pixel/255) and each image's objects.
#[derive(Clone, Debug)]
pub struct DetectBatch {
    /// The images.
    pub images: Tensor<4>,
    /// Their objects.
    pub targets: Vec<Vec<YoloTarget>>,
}

impl Supervised for Yolo3 {
    type Batch = DetectBatch;

    /// The YOLOv3 loss; the "logits" and "targets" are the class logits and classes of the
    /// positive anchors, so the training loop's accuracy is the class accuracy at objects.
    fn step(&self, batch: DetectBatch) -> ClassificationStep {
        let size = batch.images.dims()[2];
        let rows = self.forward_rows(batch.images);
        let loss = yolo_loss(
            rows,
            &batch.targets,
            self.anchors(),
            size,
            &YoloLossConfig::default(),
        );
        ClassificationStep {
            loss: loss.total,
            logits: loss.class_logits,
            targets: loss.classes,
        }
    }
}

/// Scenes as a [`BatchSource`] of [`DetectBatch`]es.
pub struct SceneSource {
    /// Side of the square scenes.
    pub(crate) size: usize,
    /// Their grey pixels, row-major.
    pub(crate) pixels: Vec<Vec<u8>>,
    /// Their objects.
    pub(crate) targets: Vec<Vec<YoloTarget>>,
}

impl SceneSource {
    /// The scenes of `scenes` at `indices`.
    pub fn new(scenes: &Scenes, indices: impl IntoIterator<Item = usize>) -> Self {
        let mut source = Self {
            size: 0,
            pixels: Vec::new(),
            targets: Vec::new(),
        };
        for i in indices {
            let s = &scenes.scenes[i];
            source.size = s.size;
            source.pixels.push(s.pixels.clone());
            source.targets.push(
                s.objects
                    .iter()
                    .map(|o| YoloTarget {
                        class: o.class,
                        bbox: o.bbox,
                    })
                    .collect(),
            );
        }
        source
    }

    fn images(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let s = self.size;
        let data: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.pixels[i].iter().map(|&p| p as f32 / 255.0))
            .collect();
        Tensor::from_data(TensorData::new(data, [indices.len(), 1, s, s]), device)
    }
}

impl BatchSource<DetectBatch> for SceneSource {
    fn len(&self) -> usize {
        self.pixels.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<DetectBatch, TrainError> {
        Ok(DetectBatch {
            images: self.images(indices, device),
            targets: indices.iter().map(|&i| self.targets[i].clone()).collect(),
        })
    }
}

/// The training and test scenes of `spec`, and a description of their source.
fn load_scenes(
    spec: &DetectSpec,
    settings: &RunSettings,
) -> Result<(Scenes, Scenes, String), TaskError> {
    let counts = (spec.train_scenes, spec.test_scenes);
    scenes_of(spec.corpus, &spec.scenes, counts, settings)
}

/// `counts` = (training, test) scenes drawn as `scenes` says from `corpus` (its training split
/// for training scenes, its test split with seed + 1 for test scenes; the data as
/// `settings.data_dir` says), and a description of their source.
pub(crate) fn scenes_of(
    corpus: IdxCorpus,
    scenes: &SceneConfig,
    (train_count, test_count): (usize, usize),
    settings: &RunSettings,
) -> Result<(Scenes, Scenes, String), TaskError> {
    let (dir, source) = idx_dir(corpus, settings.data_dir.as_deref())?;
    let train = corpus.load(&dir, Split::Train)?;
    let test = corpus.load(&dir, Split::Test)?;
    let train_scenes = render_scenes(&[&train], scenes, train_count)?;
    let test_config = SceneConfig {
        seed: scenes.seed.wrapping_add(1),
        ..scenes.clone()
    };
    let test_scenes = render_scenes(&[&test], &test_config, test_count)?;
    Ok((train_scenes, test_scenes, source))
}

/// Detections of `model` on every scene of `source`, in batches.
fn detect_all(
    model: &Yolo3,
    source: &SceneSource,
    options: &DecodeOptions,
    device: &Device,
) -> Vec<Vec<Detection>> {
    let mut out = Vec::with_capacity(source.len());
    let all: Vec<usize> = (0..source.len()).collect();
    for chunk in all.chunks(256) {
        out.extend(model.detect(source.images(chunk, device), options));
    }
    out
}

/// COCO ground truth and detections for scenes and a model's detections on them; image ids
/// are 1-based scene positions, category ids class + 1, annotation ids 1, 2, ….
pub fn to_coco(
    targets: &[Vec<YoloTarget>],
    detections: &[Vec<Detection>],
    class_names: &[String],
    size: usize,
) -> (CocoGt, Vec<CocoDetection>) {
    let xywh = |b: &[f32; 4]| {
        [
            b[0] as f64,
            b[1] as f64,
            (b[2] - b[0]) as f64,
            (b[3] - b[1]) as f64,
        ]
    };
    let mut gt = CocoGt {
        images: (0..targets.len())
            .map(|i| CocoImage {
                id: i as u64 + 1,
                file_name: format!("scene-{i}.png"),
                width: size as u32,
                height: size as u32,
            })
            .collect(),
        categories: class_names
            .iter()
            .enumerate()
            .map(|(c, n)| CocoCategory {
                id: c as u64 + 1,
                name: n.clone(),
            })
            .collect(),
        annotations: Vec::new(),
    };
    for (i, objects) in targets.iter().enumerate() {
        for t in objects {
            let bbox = xywh(&t.bbox);
            gt.annotations.push(CocoAnnotation {
                id: gt.annotations.len() as u64 + 1,
                image_id: i as u64 + 1,
                category_id: t.class as u64 + 1,
                bbox,
                area: Some(bbox[2] * bbox[3]),
                iscrowd: 0,
            });
        }
    }
    let dets = detections
        .iter()
        .enumerate()
        .flat_map(|(i, ds)| {
            ds.iter().map(move |d| CocoDetection {
                image_id: i as u64 + 1,
                category_id: d.class as u64 + 1,
                bbox: xywh(&d.bbox),
                score: d.score as f64,
            })
        })
        .collect();
    (gt, dets)
}

/// The detection options of COCO scoring: every candidate above 0.001, at most 100 per image.
pub fn coco_decode_options() -> DecodeOptions {
    DecodeOptions {
        score_threshold: 0.001,
        iou_threshold: 0.5,
        max_detections: 100,
    }
}

/// COCO scores of `model` on `source`; also writes `out/test_gt.json` and
/// `out/test_detections.json`, so any COCO tool (pycocotools) can score them again.
fn score(
    model: &Yolo3,
    source: &SceneSource,
    class_names: &[String],
    device: &Device,
    out: &Path,
) -> Result<CocoSummary, TaskError> {
    let detections = detect_all(model, source, &coco_decode_options(), device);
    let (gt, dets) = to_coco(&source.targets, &detections, class_names, source.size);
    write_json_atomic(&out.join("test_gt.json"), &gt)?;
    write_json_atomic(&out.join("test_detections.json"), &dets)?;
    Ok(evaluate(&gt, &dets, &CocoParams::default()))
}

pub(crate) fn summary_json(s: &CocoSummary) -> serde_json::Value {
    json!({
        "ap": s.ap, "ap50": s.ap50, "ap75": s.ap75,
        "ap_small": s.ap_small, "ap_medium": s.ap_medium, "ap_large": s.ap_large,
        "ar1": s.ar1, "ar10": s.ar10, "ar100": s.ar100,
        "ar_small": s.ar_small, "ar_medium": s.ar_medium, "ar_large": s.ar_large,
    })
}

/// Trains a detector as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json` (the test figures are COCO's twelve numbers).
pub fn train(spec: &DetectSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let (train_scenes, test_scenes, source) = load_scenes(spec, settings)?;
    let data = format!("{} digit scenes from {source}", spec.corpus.name());
    let scenes = (&train_scenes, &test_scenes);
    let mut run = SceneRun::new(settings, scenes, data, SceneSource::new);
    let sizes: Vec<[f32; 2]> = run
        .train
        .targets
        .iter()
        .flatten()
        .map(|t| [t.bbox[2] - t.bbox[0], t.bbox[3] - t.bbox[1]])
        .collect();
    let model_config = Yolo3Config::new(train_scenes.class_names.len(), anchors_from_sizes(&sizes))
        .with_width(spec.width);
    let info = DetectRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        model: model_config.clone(),
        input_size: spec.scenes.canvas,
        class_names: train_scenes.class_names.clone(),
        data: run.data().to_string(),
    };
    let out = settings.create_out()?;
    write_json_atomic(&out.join("run.json"), &info)?;
    run.announce(&format!("YOLOv3-style (width {})", spec.width));
    let identity =
        json!({ "recipe": info.recipe, "model": info.model, "input_size": info.input_size });
    let (device, outcome) = run.fit(|device| model_config.init(device), identity)?;
    let model = outcome.model.clone();
    let test = score(&model, &run.test, &info.class_names, &device, out)?;
    let described = format!("YOLOv3-style, width {}", spec.width);
    run.finish(&outcome, (described, model.num_params()), &test)
}

/// COCO scores of the run in `run` on the test scenes of `spec` (the data as
/// `settings.data_dir` says); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &DetectSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = DetectRunInfo::load(run, Some(&settings.name))?;
    let (_, test_scenes, _) = load_scenes(
        &DetectSpec {
            train_scenes: 10,
            ..spec.clone()
        },
        settings,
    )?;
    if test_scenes.class_names.len() != info.class_names.len()
        || spec.scenes.canvas != info.input_size
    {
        return Err(TaskError::invalid(format!(
            "the scenes ({} classes, {} px) do not match the run ({} classes, {} px)",
            test_scenes.class_names.len(),
            spec.scenes.canvas,
            info.class_names.len(),
            info.input_size
        )));
    }
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let source = SceneSource::new(&test_scenes, 0..test_scenes.scenes.len());
    let score = |out: &Path| score(&model, &source, &info.class_names, &device, out);
    write_evaluation(settings, run, &info.data, source.len(), score)
}

impl deepzero_train::Task for DetectSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// The detections in one image file, in its own pixel coordinates.
#[derive(Clone, Debug, Serialize)]
pub struct ImageDetections {
    /// The image.
    pub path: PathBuf,
    /// Its width and height.
    pub size: (u32, u32),
    /// What was found, best first.
    pub detections: Vec<Detection>,
}

impl ImageDetections {
    /// `path (WxH): N objects`, then one `  class<TAB>score<TAB>[x0, y0, x1, y1]` line per
    /// object (`class_names[class]`, `?` for a class without a name).
    pub fn describe(&self, class_names: &[String]) -> String {
        let (w, h) = self.size;
        let found = self.detections.len();
        let mut text = format!("{} ({w}x{h}): {found} objects", self.path.display());
        for d in &self.detections {
            let name = class_names.get(d.class).map_or("?", String::as_str);
            let [x0, y0, x1, y1] = d.bbox;
            text.push_str(&format!(
                "\n  {name}\t{:.3}\t[{x0:.1}, {y0:.1}, {x1:.1}, {y1:.1}]",
                d.score
            ));
        }
        text
    }

    /// Draws the boxes onto the image, each with a label `"class score"` (`class_names[class]`,
    /// `?` for a class without a name) in a filled box above it, and writes it to
    /// `dir/STEM.boxes.png` (the path returned); small images are enlarged first
    /// ([`crate::detect::draw::draw_labelled_file`]).
    pub fn draw(&self, dir: &Path, class_names: &[String]) -> Result<PathBuf, TaskError> {
        use crate::detect::draw::{LabelledBox, draw_labelled_file, label_text};
        let stem = self
            .path
            .file_stem()
            .map_or("image".into(), |s| s.to_string_lossy());
        let out = dir.join(format!("{stem}.boxes.png"));
        let boxes: Vec<LabelledBox> = self
            .detections
            .iter()
            .map(|d| LabelledBox {
                class: d.class,
                bbox: d.bbox,
                label: label_text(
                    class_names.get(d.class).map_or("?", String::as_str),
                    d.score,
                ),
            })
            .collect();
        draw_labelled_file(&self.path, &boxes, &out)
            .map_err(|e| TaskError::invalid(format!("{}: {e}", out.display())))?;
        Ok(out)
    }
}

/// `found` in COCO's result format, as pycocotools' `loadRes` reads it: `image_id` is the
/// position in `found` (from 1), `category_id` the class + 1, `bbox` `[x, y, width, height]`;
/// each result also names its `file_name`.
pub fn coco_results(found: &[ImageDetections]) -> Vec<serde_json::Value> {
    let results = found.iter().enumerate().flat_map(|(i, f)| {
        f.detections.iter().map(move |d| {
            let [x0, y0, x1, y1] = d.bbox;
            json!({
                "image_id": i + 1,
                "file_name": f.path.display().to_string(),
                "category_id": d.class + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "score": d.score,
            })
        })
    });
    results.collect()
}

/// Image files to find objects in, and what to do with what is found (with the `clap`
/// feature, the options of `deepzero detect`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DetectOptions {
    /// PNG or JPEG images.
    #[cfg_attr(feature = "clap", arg(required = true))]
    pub images: Vec<PathBuf>,
    /// Folder to write each image with its boxes and labels ("class score") drawn
    /// (`NAME.boxes.png`; images under 320 px are enlarged); default: no pictures.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub draw: Option<PathBuf>,
    /// Smallest score reported (default: the detector's, 0.25 for a trained YOLO run, 0.5 for
    /// an imported Faster R-CNN as torchvision's demo).
    #[cfg_attr(feature = "clap", arg(long, value_name = "SCORE"))]
    pub score_threshold: Option<f32>,
    /// Most objects reported per image, best first (default: the detector's limit, 100).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub max_detections: Option<usize>,
}

/// The smallest score a trained YOLO run reports by default.
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.25;

impl DetectOptions {
    /// The objects in `images` at the detector's default threshold, not drawn.
    pub fn new(images: Vec<PathBuf>) -> Self {
        Self {
            images,
            draw: None,
            score_threshold: None,
            max_detections: None,
        }
    }

    /// Refuses a score threshold outside `[0, 1]` and a maximum of 0, naming the option.
    pub fn check(&self) -> Result<(), TaskError> {
        if let Some(t) = self.score_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(TaskError::invalid("--score-threshold must lie in [0, 1]"));
        }
        if self.max_detections == Some(0) {
            return Err(TaskError::invalid("--max-detections must be at least 1"));
        }
        Ok(())
    }
}

/// A detector loaded from its run folder — a trained YOLO run ([`Predictor`]) or a Faster
/// R-CNN, imported or trained on digit scenes ([`super::rcnn::Predictor`]) — as a front end
/// uses it.
pub trait Detector {
    /// Class names, index = [`Detection::class`].
    fn class_names(&self) -> &[String];

    /// The objects in each of `images` scoring at least `score_threshold`, at most
    /// `max_detections` of them per image, best first, in the image's own pixels.
    ///
    /// # Errors
    /// [`TaskError`] naming an image that cannot be read.
    fn find(
        &self,
        images: &[PathBuf],
        score_threshold: f32,
        max_detections: usize,
    ) -> Result<Vec<ImageDetections>, TaskError>;

    /// The score threshold when the options name none.
    fn default_score_threshold(&self) -> f32;

    /// What `options` ask for: the detections in its images (at its threshold, else the
    /// detector's default), and the pictures drawn into `options.draw` (none without it).
    ///
    /// # Errors
    /// [`TaskError`] for options out of range or an image that cannot be read or drawn.
    fn detect(
        &self,
        options: &DetectOptions,
    ) -> Result<(Vec<ImageDetections>, Vec<PathBuf>), TaskError> {
        options.check()?;
        let threshold = options
            .score_threshold
            .unwrap_or(self.default_score_threshold());
        let max = options.max_detections.unwrap_or(usize::MAX);
        let found = self.find(&options.images, threshold, max)?;
        let pictures = draw_all(&found, options, self.class_names())?;
        Ok((found, pictures))
    }
}

/// The detector of the run in `dir`, whichever kind its `run.json` records (checking it was
/// made by `recipe`, when given), on `device`.
///
/// # Errors
/// [`TaskError`] for a folder that is no detection run or whose weights do not load.
pub fn load_detector(
    dir: &Path,
    recipe: Option<&str>,
    device: &Device,
) -> Result<Box<dyn Detector>, TaskError> {
    let any: serde_json::Value = deepzero_train::read_run_json(dir)?;
    let made_by = any.get("recipe").and_then(serde_json::Value::as_str);
    if made_by.is_some_and(|r| super::rcnn::RECIPES.contains(&r)) {
        return Ok(Box::new(super::rcnn::Predictor::load(dir, recipe, device)?));
    }
    Ok(Box::new(Predictor::load(dir, recipe, device)?))
}

/// Draws each of `found` into `options.draw` (nothing without it), labelled with
/// `class_names`; the pictures' paths.
pub(crate) fn draw_all(
    found: &[ImageDetections],
    options: &DetectOptions,
    class_names: &[String],
) -> Result<Vec<PathBuf>, TaskError> {
    let mut pictures = Vec::new();
    if let Some(dir) = &options.draw {
        std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
        for f in found {
            pictures.push(f.draw(dir, class_names)?);
        }
    }
    Ok(pictures)
}

/// A trained detector loaded from its run folder.
pub struct Predictor {
    info: DetectRunInfo,
    model: Yolo3,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking it was made by `recipe`, when given) onto `device`.
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = DetectRunInfo::load(dir, recipe)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            model,
            device: device.clone(),
        })
    }

    /// The run's description.
    pub fn info(&self) -> &DetectRunInfo {
        &self.info
    }

    /// The name of class `class`.
    pub fn class_name(&self, class: usize) -> &str {
        self.info.class_names.get(class).map_or("?", String::as_str)
    }

    /// Finds objects scoring at least `score_threshold` in each image: the image is read with
    /// the model's channels (grey for the digit runs: light objects on dark, as MNIST; use
    /// dark-on-light images inverted), resized to the model's input, and the boxes scaled back
    /// to the image's own pixels.
    pub fn predict(
        &self,
        paths: &[PathBuf],
        score_threshold: f32,
    ) -> Result<Vec<ImageDetections>, TaskError> {
        let s = self.info.input_size;
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let (w, h) = image::image_dimensions(path).map_err(|e| {
                TaskError::invalid(format!("{}: not a readable image: {e}", path.display()))
            })?;
            let c = self.info.model.in_channels;
            let item = load_image(path, c, [s, s])?;
            let data: Vec<f32> = item.pixels.iter().map(|&p| p as f32 / 255.0).collect();
            let images = Tensor::<4>::from_data(TensorData::new(data, [1, c, s, s]), &self.device);
            let options = DecodeOptions {
                score_threshold,
                ..DecodeOptions::default()
            };
            let (sx, sy) = (w as f32 / s as f32, h as f32 / s as f32);
            let detections = self
                .model
                .detect(images, &options)
                .pop()
                .unwrap_or_default()
                .into_iter()
                .map(|d| Detection {
                    bbox: [
                        d.bbox[0] * sx,
                        d.bbox[1] * sy,
                        d.bbox[2] * sx,
                        d.bbox[3] * sy,
                    ],
                    ..d
                })
                .collect();
            out.push(ImageDetections {
                path: path.clone(),
                size: (w, h),
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

    /// [`DEFAULT_SCORE_THRESHOLD`].
    fn default_score_threshold(&self) -> f32 {
        DEFAULT_SCORE_THRESHOLD
    }

    /// [`Predictor::predict`], the first `max_detections` of each image kept.
    fn find(
        &self,
        images: &[PathBuf],
        score_threshold: f32,
        max_detections: usize,
    ) -> Result<Vec<ImageDetections>, TaskError> {
        let mut found = self.predict(images, score_threshold)?;
        found
            .iter_mut()
            .for_each(|f| f.detections.truncate(max_detections));
        Ok(found)
    }
}

/// The detection recipes, with the settings their results in docs/book-map.md were measured
/// with.
pub fn recipes() -> Vec<deepzero_train::Recipe<DetectSpec>> {
    use deepzero_core::{LrSchedule, OptimizerKind};
    vec![deepzero_train::Recipe::new(
        "digits-yolo",
        "3.2",
        "YOLOv3-style detector (3 scales, FPN-style neck, GIoU loss) on 64×64 MNIST digit scenes; COCO AP",
        DetectSpec::digits(),
        deepzero_train::FitConfig::recipe(
            RECIPE_EPOCHS,
            32,
            2e-3,
            OptimizerKind::Adam,
            LrSchedule::Cosine {
                min_lr_factor: 0.05,
            },
        ),
    )]
}

/// Epochs of the `digits-yolo` recipe.
const RECIPE_EPOCHS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Vec<ImageDetections> {
        let detection = |class, score, bbox| Detection { class, score, bbox };
        vec![
            ImageDetections {
                path: "a.png".into(),
                size: (64, 48),
                detections: vec![
                    detection(1, 0.9, [1.0, 2.0, 11.0, 22.0]),
                    detection(7, 0.5, [0.0, 0.0, 4.0, 4.0]),
                ],
            },
            ImageDetections {
                path: "b.png".into(),
                size: (8, 8),
                detections: vec![],
            },
        ]
    }

    #[test]
    fn detections_describe_themselves() {
        let names: Vec<String> = (0..3).map(|c| c.to_string()).collect();
        let text = found()[0].describe(&names);
        assert_eq!(
            text,
            "a.png (64x48): 2 objects\n  1\t0.900\t[1.0, 2.0, 11.0, 22.0]\n  ?\t0.500\t[0.0, 0.0, 4.0, 4.0]"
        );
        assert_eq!(found()[1].describe(&names), "b.png (8x8): 0 objects");
    }

    #[test]
    fn options_refuse_a_score_threshold_outside_zero_to_one() {
        let options = DetectOptions::new(vec!["a.png".into()]);
        assert_eq!(options.score_threshold, None);
        assert!(options.check().is_ok());
        for bad in [-0.1, 1.5, f32::NAN] {
            let options = DetectOptions {
                score_threshold: Some(bad),
                ..options.clone()
            };
            let err = options.check().unwrap_err().to_string();
            assert_eq!(err, "--score-threshold must lie in [0, 1]");
        }
        let none = DetectOptions {
            max_detections: Some(0),
            ..options.clone()
        };
        let err = none.check().unwrap_err().to_string();
        assert_eq!(err, "--max-detections must be at least 1");
    }

    #[test]
    fn coco_results_number_images_from_one_and_give_widths() {
        let results = coco_results(&found());
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0],
            json!({ "image_id": 1, "file_name": "a.png", "category_id": 2,
                    "bbox": [1.0, 2.0, 10.0, 20.0], "score": 0.9f32 })
        );
        assert_eq!(results[1]["category_id"], 8);
    }
}
