//! Object detection on photographs in Ultralytics' layout (`shared/datasets/coco128`): the
//! [`Yolo3`] of [`super::detect`] trained on colour photos, scored with COCO's metrics in each
//! photo's own pixels.
//!
//! ```text
//! coco128/
//!   detection.yaml                  names:  0: person  1: bicycle  …  79: toothbrush
//!   images/train2017/000000000009.jpg
//!   labels/train2017/000000000009.txt   class cx cy w h (normalised), one object a line
//! ```
//!
//! Every photo is resized to one square `side × side` (bilinear; aspect not kept, the boxes
//! scaled with it), which is also how [`super::detect::Predictor`] reads new photos (the run's
//! `model.in_channels` is 3). Detections are scaled back to the photo before scoring, so the
//! COCO figures, the area ranges included, are those of the original pixels.
//!
//! ```no_run
//! use deepzero_train::RunSettings;
//! use deepzero_vision::tasks::detect_photos::{self, PhotoDetectSpec};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let mut settings = RunSettings::new("coco128-yolo", "runs/coco128-yolo");
//! settings.data_dir = Some("../shared/datasets/coco128".into());
//! let report = detect_photos::train(&PhotoDetectSpec::coco128(), &settings)?;
//! println!("val2017 AP50 {}", report.test["ap50"]);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::*;
use deepzero_data::{ImageItem, load_image};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{BatchSource, EvalReport, RunReport, RunSettings, TaskError, TrainError};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::detect::{DetectBatch, DetectRunInfo, RUN_VERSION, coco_decode_options, to_coco};
use super::detect_run::{SceneRun, write_evaluation};
use crate::detect::augment::{Annotated, BoxAugmentation};
use crate::detect::coco::{CocoParams, CocoSummary, evaluate};
use crate::detect::data::{DetectionObject, OrphanLabels, read_yolo_split};
use crate::detect::yolo_loss::YoloTarget;
use crate::detect::yolo3::{Detection, Yolo3, Yolo3Config, anchors_from_sizes};
use crate::segment::ClassTable;

/// The recipe's name.
pub const RECIPE: &str = "coco128-yolo";

/// What a detector trains on: a folder of photos with YOLO labels.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoDetectSpec {
    /// The training split's folder name (`images/<train>`, `labels/<train>`); a share of it
    /// (`valid_fraction`) is held out for the validation loss.
    pub train_split: String,
    /// The test split's folder name (scored with COCO AP).
    pub test_split: String,
    /// Side of the square every photo is resized to (a multiple of 16).
    pub side: usize,
    /// Channels of the detector's stem (see [`Yolo3Config::width`]).
    pub width: usize,
    /// Training-time augmentation (boxes move with the pixels).
    pub augment: BoxAugmentation,
}

impl PhotoDetectSpec {
    /// coco128: train2017 → val2017 at 256², width 16, zoom 0.75–1.25, mirror and colour
    /// jitter (128 photos are few: without them the detector learns the photos by heart).
    pub fn coco128() -> Self {
        Self {
            train_split: "train2017".into(),
            test_split: "val2017".into(),
            side: 256,
            width: 16,
            augment: BoxAugmentation {
                scale: (0.75, 1.25),
                horizontal_flip: true,
                brightness: 0.3,
                contrast: 0.3,
                ..BoxAugmentation::default()
            },
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.side < 16 || !self.side.is_multiple_of(16) || self.width == 0 {
            return Err(TaskError::invalid(format!(
                "photos need a side that is a multiple of 16 and a width ≥ 1, not {} and {}",
                self.side, self.width
            )));
        }
        Ok(())
    }
}

/// Photos resized to the model's square, with their objects at both scales.
#[derive(Clone, Debug)]
pub struct PhotoSet {
    /// `3 × side × side` images with their boxes in those pixels.
    pub items: Vec<Annotated>,
    /// Each photo's file and its own `(width, height)`.
    pub originals: Vec<(PathBuf, (u32, u32))>,
    /// Label files without a photo, skipped.
    pub orphan_labels: usize,
}

impl PhotoSet {
    /// Reads `root/images/<split>` with `root/labels/<split>` (YOLO text; a photo without a
    /// label file has no objects, a label file without a photo is skipped and counted), each
    /// photo resized to `side × side`.
    ///
    /// # Errors
    /// A one-line [`TaskError`] naming the file at fault (a class id out of range, an
    /// unreadable photo) or the empty folder.
    pub fn read(root: &Path, split: &str, side: usize, classes: usize) -> Result<Self, TaskError> {
        let images = root.join("images").join(split);
        let labels = root.join("labels").join(split);
        let (samples, stats) = read_yolo_split(&images, &labels, classes, OrphanLabels::Skip)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
        if samples.is_empty() {
            return Err(TaskError::invalid(format!(
                "{}: no images",
                images.display()
            )));
        }
        let mut set = Self {
            items: Vec::with_capacity(samples.len()),
            originals: Vec::with_capacity(samples.len()),
            orphan_labels: stats.orphan_labels,
        };
        for sample in samples {
            let (sx, sy) = (
                side as f32 / sample.width as f32,
                side as f32 / sample.height as f32,
            );
            let objects = sample
                .objects
                .iter()
                .map(|o| DetectionObject {
                    bbox: [
                        o.bbox[0] * sx,
                        o.bbox[1] * sy,
                        o.bbox[2] * sx,
                        o.bbox[3] * sy,
                    ],
                    ..o.clone()
                })
                .collect();
            set.items.push(Annotated {
                image: load_image(&sample.image, 3, [side, side])?,
                objects,
                mask: None,
            });
            set.originals
                .push((sample.image, (sample.width, sample.height)));
        }
        Ok(set)
    }

    /// The photos at `indices`.
    fn select(&self, indices: std::ops::Range<usize>) -> Self {
        Self {
            items: self.items[indices.clone()].to_vec(),
            originals: self.originals[indices].to_vec(),
            orphan_labels: 0,
        }
    }
}

/// Photos as a [`BatchSource`] of [`DetectBatch`]es, augmented as the spec says (item `i` of
/// epoch `e` is drawn from a seed of its own, so the same after a resume).
pub struct PhotoSource {
    set: PhotoSet,
    augment: BoxAugmentation,
    seed: u64,
    epoch: AtomicUsize,
}

impl PhotoSource {
    /// `set`, augmented by `augment` (nothing for [`BoxAugmentation::default`]).
    pub fn new(set: PhotoSet, augment: BoxAugmentation, seed: u64) -> Self {
        Self {
            set,
            augment,
            seed,
            epoch: AtomicUsize::new(0),
        }
    }

    fn item(&self, index: usize) -> Annotated {
        let item = &self.set.items[index];
        if self.augment.is_identity() {
            return item.clone();
        }
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((self.epoch.load(Ordering::Relaxed) as u64) << 32)
            .wrapping_add(index as u64);
        self.augment.apply(item, &mut StdRng::seed_from_u64(seed))
    }
}

/// `[B, C, S, S]` of pixel/255.
fn image_tensor(items: &[ImageItem], device: &Device) -> Tensor<4> {
    let [c, h, w] = items.first().map_or([3, 0, 0], |i| i.shape);
    let data: Vec<f32> = items
        .iter()
        .flat_map(|i| i.pixels.iter().map(|&p| f32::from(p) / 255.0))
        .collect();
    Tensor::from_data(TensorData::new(data, [items.len(), c, h, w]), device)
}

fn targets(objects: &[DetectionObject]) -> Vec<YoloTarget> {
    objects
        .iter()
        .map(|o| YoloTarget {
            class: o.class,
            bbox: o.bbox,
        })
        .collect()
}

impl BatchSource<DetectBatch> for PhotoSource {
    fn len(&self) -> usize {
        self.set.items.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<DetectBatch, TrainError> {
        let items: Vec<Annotated> = indices.iter().map(|&i| self.item(i)).collect();
        let images: Vec<ImageItem> = items.iter().map(|a| a.image.clone()).collect();
        Ok(DetectBatch {
            images: image_tensor(&images, device),
            targets: items.iter().map(|a| targets(&a.objects)).collect(),
        })
    }

    fn start_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }
}

/// The folder holding `detection.yaml`: `data_dir`, or its `coco128` sub-folder.
fn photo_root(data_dir: Option<&Path>) -> Result<PathBuf, TaskError> {
    let dir = data_dir.ok_or_else(|| {
        TaskError::invalid(
            "photographs with boxes need a data folder (--data-dir): the folder with detection.yaml, images/ and labels/, e.g. ../shared/datasets/coco128",
        )
    })?;
    [dir.to_path_buf(), dir.join("coco128")]
        .into_iter()
        .find(|d| d.join("detection.yaml").is_file())
        .ok_or_else(|| TaskError::invalid(format!("{}: no detection.yaml", dir.display())))
}

/// The class names of `detection.yaml` and the root folder.
fn class_names(data_dir: Option<&Path>) -> Result<(PathBuf, Vec<String>), TaskError> {
    let root = photo_root(data_dir)?;
    let table = ClassTable::read(&root.join("detection.yaml"))?;
    Ok((root, table.names))
}

/// COCO scores of `model` on `set`, in each photo's own pixels; also writes `out/test_gt.json`
/// and `out/test_detections.json` for any COCO tool (pycocotools) to score again.
fn score(
    model: &Yolo3,
    set: &PhotoSet,
    side: usize,
    class_names: &[String],
    device: &Device,
    out: &Path,
) -> Result<CocoSummary, TaskError> {
    let options = coco_decode_options();
    let mut detections: Vec<Vec<Detection>> = Vec::with_capacity(set.items.len());
    for chunk in set.items.chunks(16) {
        let images: Vec<ImageItem> = chunk.iter().map(|a| a.image.clone()).collect();
        detections.extend(model.detect(image_tensor(&images, device), &options));
    }
    let back = |b: [f32; 4], (w, h): (u32, u32)| {
        let (sx, sy) = (w as f32 / side as f32, h as f32 / side as f32);
        [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]
    };
    let mut gt_targets = Vec::with_capacity(set.items.len());
    for ((item, (_, size)), found) in set.items.iter().zip(&set.originals).zip(&mut detections) {
        found.iter_mut().for_each(|d| d.bbox = back(d.bbox, *size));
        let mut objects = targets(&item.objects);
        objects
            .iter_mut()
            .for_each(|t| t.bbox = back(t.bbox, *size));
        gt_targets.push(objects);
    }
    let (mut gt, dets) = to_coco(&gt_targets, &detections, class_names, side);
    for (image, (path, (w, h))) in gt.images.iter_mut().zip(&set.originals) {
        image.file_name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        (image.width, image.height) = (*w, *h);
    }
    write_json_atomic(&out.join("test_gt.json"), &gt)?;
    write_json_atomic(&out.join("test_detections.json"), &dets)?;
    Ok(evaluate(&gt, &dets, &CocoParams::default()))
}

/// Trains the detector `spec` describes on the photos of `settings.data_dir` into
/// `settings.out`; returns what it wrote to `metrics.json` (the test figures are COCO's
/// twelve numbers on the test split).
pub fn train(spec: &PhotoDetectSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let (root, names) = class_names(settings.data_dir.as_deref())?;
    let all_train = PhotoSet::read(&root, &spec.train_split, spec.side, names.len())?;
    let test = PhotoSet::read(&root, &spec.test_split, spec.side, names.len())?;
    let orphans = all_train.orphan_labels + test.orphan_labels;
    let data = format!(
        "{} + {} photos ({} classes) from {}, resized to {}²{}",
        all_train.items.len(),
        test.items.len(),
        names.len(),
        root.display(),
        spec.side,
        match orphans {
            0 => String::new(),
            n => format!(" ({n} label files without a photo skipped)"),
        }
    );
    let n = all_train.items.len();
    let n_valid = ((n as f64 * settings.valid_fraction.clamp(0.0, 0.5)) as usize).clamp(1, n - 1);
    let train_set = all_train.select(0..n - n_valid);
    let sizes: Vec<[f32; 2]> = train_set
        .items
        .iter()
        .flat_map(|a| &a.objects)
        .map(|o| [o.bbox[2] - o.bbox[0], o.bbox[3] - o.bbox[1]])
        .collect();
    let model_config = Yolo3Config::new(names.len(), anchors_from_sizes(&sizes))
        .with_in_channels(3)
        .with_width(spec.width);
    let sizes = [n - n_valid, n_valid, test.items.len()];
    let sources = [
        PhotoSource::new(train_set, spec.augment.clone(), settings.seed()),
        PhotoSource::new(
            all_train.select(n - n_valid..n),
            BoxAugmentation::default(),
            0,
        ),
        PhotoSource::new(test.clone(), BoxAugmentation::default(), 0),
    ];
    let mut run = SceneRun::from_sources(settings, sources, sizes, data);
    let info = DetectRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        model: model_config.clone(),
        input_size: spec.side,
        class_names: names,
        data: run.data().to_string(),
    };
    let out = settings.create_out()?;
    write_json_atomic(&out.join("run.json"), &info)?;
    run.announce(&format!("YOLOv3-style (width {}, RGB)", spec.width));
    let identity =
        json!({ "recipe": info.recipe, "model": info.model, "input_size": info.input_size });
    let (device, outcome) = run.fit(|device| model_config.init(device), identity)?;
    let model = outcome.model.clone();
    let summary = score(&model, &test, spec.side, &info.class_names, &device, out)?;
    let described = format!("YOLOv3-style, width {}, RGB", spec.width);
    run.finish(&outcome, (described, model.num_params()), &summary)
}

/// COCO scores of the run in `run` on the test split of `settings.data_dir`; writes
/// `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &PhotoDetectSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = DetectRunInfo::load(run, Some(&settings.name))?;
    let (root, names) = class_names(settings.data_dir.as_deref())?;
    if names != info.class_names || info.model.in_channels != 3 {
        return Err(TaskError::invalid(format!(
            "{}: the run's classes or channels do not match detection.yaml's {} colour classes",
            run.display(),
            names.len()
        )));
    }
    let test = PhotoSet::read(&root, &spec.test_split, info.input_size, names.len())?;
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let side = info.input_size;
    let score = |out: &Path| score(&model, &test, side, &info.class_names, &device, out);
    write_evaluation(settings, run, &info.data, test.items.len(), score)
}

impl deepzero_train::Task for PhotoDetectSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// The recipe, with the settings its figures in docs/detection.md were measured with.
pub fn recipes() -> Vec<deepzero_train::Recipe<PhotoDetectSpec>> {
    use deepzero_core::{LrSchedule, OptimizerKind};
    vec![deepzero_train::Recipe::new(
        RECIPE,
        "3.2",
        "YOLOv3-style detector from scratch on coco128's photographs (80 COCO classes, 256²): trained on train2017, COCO AP on val2017 (--data-dir required)",
        PhotoDetectSpec::coco128(),
        deepzero_train::FitConfig::recipe(
            60,
            8,
            2e-3,
            OptimizerKind::Adam,
            LrSchedule::Cosine {
                min_lr_factor: 0.05,
            },
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder in Ultralytics' layout: `n` 48×32 photos per split, each with a bright square
    /// of class 1 on black at a place of its own, its label in YOLO text.
    fn write_folder(root: &Path, n: usize) {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(
            root.join("detection.yaml"),
            "names:\n  0: cat\n  1: square\n",
        )
        .unwrap();
        for split in ["a", "b"] {
            let (images, labels) = (
                root.join("images").join(split),
                root.join("labels").join(split),
            );
            std::fs::create_dir_all(&images).unwrap();
            std::fs::create_dir_all(&labels).unwrap();
            for i in 0..n {
                let x0 = 4 + 3 * i as u32;
                let img = image::RgbImage::from_fn(48, 32, |x, y| {
                    let inside = (x0..x0 + 16).contains(&x) && (8..24).contains(&y);
                    image::Rgb(if inside { [250, 240, 20] } else { [0, 0, 0] })
                });
                img.save(images.join(format!("{i}.png"))).unwrap();
                let (cx, w) = ((x0 as f32 + 8.0) / 48.0, 16.0 / 48.0);
                std::fs::write(
                    labels.join(format!("{i}.txt")),
                    format!("1 {cx} 0.5 {w} 0.5\n"),
                )
                .unwrap();
            }
        }
    }

    fn spec() -> PhotoDetectSpec {
        PhotoDetectSpec {
            train_split: "a".into(),
            test_split: "b".into(),
            side: 32,
            width: 2,
            augment: BoxAugmentation {
                horizontal_flip: true,
                ..BoxAugmentation::default()
            },
        }
    }

    #[test]
    fn photos_resize_with_their_boxes() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), 2);
        std::fs::write(dir.path().join("labels/a/lost.txt"), "1 0.5 0.5 0.1 0.1\n").unwrap();
        let set = PhotoSet::read(dir.path(), "a", 32, 2).unwrap();
        assert_eq!((set.items.len(), set.orphan_labels), (2, 1));
        assert_eq!(set.items[1].image.shape, [3, 32, 32]);
        assert_eq!(set.originals[1].1, (48, 32));
        // x 7–23 of 48 → 4.67–15.33 of 32; y 8–24 of 32 unchanged.
        let b = set.items[1].objects[0].bbox;
        let want = [7.0 * 32.0 / 48.0, 8.0, 23.0 * 32.0 / 48.0, 24.0];
        assert!(
            b.iter().zip(want).all(|(a, w)| (a - w).abs() < 1e-3),
            "{b:?}"
        );

        let source = PhotoSource::new(set, spec().augment, 3);
        let batch = source.batch(&[0, 1], &Device::flex()).unwrap();
        assert_eq!(batch.images.dims(), [2, 3, 32, 32]);
        assert_eq!(batch.targets[0].len(), 1);
    }

    #[test]
    fn train_scores_in_the_photos_pixels_and_predicts_colour() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        write_folder(&data, 6);
        let mut settings = RunSettings::new(RECIPE, dir.path().join("run"));
        settings.fit = deepzero_train::FitConfig::recipe(
            2,
            4,
            1e-3,
            deepzero_core::OptimizerKind::Adam,
            deepzero_core::LrSchedule::Constant,
        );
        settings.quiet = true;
        let err = train(&spec(), &settings).unwrap_err().to_string();
        assert!(err.contains("--data-dir"), "{err}");
        settings.data_dir = Some(data.clone());
        let report = train(&spec(), &settings).unwrap();
        let ap = report.test["ap"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&ap), "{ap}");
        // Ground truth in the photos' own pixels: 48×32, the square of photo 0 at x 4–20.
        let gt: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(settings.out.join("test_gt.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(gt["images"][0]["width"], 48);
        assert_eq!(gt["images"][0]["file_name"], "0.png");
        let bbox = &gt["annotations"][0]["bbox"];
        assert!((bbox[0].as_f64().unwrap() - 4.0).abs() < 1e-3, "{bbox}");
        assert!((bbox[2].as_f64().unwrap() - 16.0).abs() < 1e-3, "{bbox}");

        let eval_settings = RunSettings {
            out: dir.path().join("eval"),
            ..settings.clone()
        };
        let eval = evaluate_run(&spec(), &settings.out, &eval_settings).unwrap();
        assert_eq!(eval.test["ap"], report.test["ap"]);

        let predictor =
            super::super::detect::Predictor::load(&settings.out, Some(RECIPE), &Device::flex())
                .unwrap();
        let found = predictor
            .predict(&[data.join("images/b/0.png")], 0.0)
            .unwrap();
        assert_eq!(found[0].size, (48, 32));
        assert!(
            found[0]
                .detections
                .iter()
                .all(|d| d.bbox[2] <= 48.0 + 1e-3 && d.bbox[3] <= 32.0 + 1e-3)
        );
    }

    #[test]
    fn a_side_not_a_multiple_of_16_is_refused() {
        let bad = PhotoDetectSpec { side: 40, ..spec() };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("multiple of 16"), "{err}");
    }
}
