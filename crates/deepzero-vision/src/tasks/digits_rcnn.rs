//! The `digits-faster-rcnn` recipe (seed chapter 3.2): our [`FasterRcnn`] trained from scratch
//! on the digit scenes of the `digits-yolo` recipe ([`super::detect`]), scored with COCO's
//! metrics on the held-out scenes. Its run folder is an [`RcnnRunInfo`] (`run.json`, the whole
//! [`FasterRcnnConfig`]) and `model.bpk`, so [`super::rcnn::Predictor`] and
//! [`super::detect::load_detector`] serve it as they serve an imported torchvision model.
//!
//! ```no_run
//! use deepzero_train::{FitConfig, RunSettings};
//! use deepzero_vision::tasks::digits_rcnn::{self, DigitsRcnnSpec};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // Without a data folder the shipped MNIST sample supplies the digits.
//! let settings = RunSettings::new(digits_rcnn::RECIPE, "runs/rcnn")
//!     .with_fit(FitConfig { epochs: 1, batch_size: 16, ..FitConfig::default() });
//! let report = digits_rcnn::train(&DigitsRcnnSpec::digits(), &settings)?;
//! println!("test AP50 {}", report.test["ap50"]);
//! # Ok(()) }
//! ```
//!
//! # The model
//! [`digits_model`]: ResNet with basic blocks 1-1-1-1 and a 16-channel stem (16/32/64/128
//! channels at strides 4–32), **trainable batch norms** (the torchvision build freezes them for
//! imported weights), every stage trained; FPN 64; anchors of 8–64 px (two sizes per level, tall
//! aspect ratios 1, 2 and 4, since digits are taller than wide); 64 box-head samples per image
//! pooled with one RoIAlign sample per bin (torchvision: 512 and 2, which cost four times the
//! time here for nothing on these small boxes); a 128-wide box head. The images
//! are the scenes' grey pixels in all three channels, at their own 64×64 size (the transform's
//! `min_size` = `max_size` = 64).

use std::path::Path;

use burn::prelude::*;
use deepzero_data::IdxCorpus;
use deepzero_data::scenes::{SceneConfig, Scenes};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    BatchSource, ClassificationStep, EvalReport, RunReport, RunSettings, Supervised, TaskError,
    TrainError,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::detect::{DetectSpec, SceneSource, scenes_of, to_coco};
use super::detect_run::{SceneRun, write_evaluation};
use super::rcnn::{RUN_VERSION, RcnnRunInfo};
use crate::detect::boxes::Bbox;
use crate::detect::coco::{CocoParams, CocoSummary, evaluate};
use crate::detect::yolo3::Detection;
use crate::detect::{
    AnchorGeneratorConfig, BackboneWithFpnConfig, FasterRcnn, FasterRcnnConfig, MultiScaleRoiAlign,
    RcnnTransformConfig, RoiHeadsConfig, RpnConfig,
};
use crate::{BlockKind, ResNetConfig};

/// The recipe's name.
pub const RECIPE: &str = "digits-faster-rcnn";

/// What a `digits-faster-rcnn` run trains on, and the model.
#[derive(Clone, Debug)]
pub struct DigitsRcnnSpec {
    /// Where the pasted digits come from (training split for training scenes, test split for
    /// test scenes).
    pub corpus: IdxCorpus,
    /// How scenes are drawn (the `digits-yolo` recipe's: 64×64, 1–4 digits of 16–32 px);
    /// `seed` is the training scenes', the test scenes use `seed + 1`.
    pub scenes: SceneConfig,
    /// Training scenes (a tenth of them is held out for the validation loss).
    pub train_scenes: usize,
    /// Test scenes (scored with COCO AP).
    pub test_scenes: usize,
    /// The detector; its `num_classes` is set from the data (the classes + the background).
    pub model: FasterRcnnConfig,
}

impl DigitsRcnnSpec {
    /// The `digits-yolo` recipe's scenes (64×64, 1–4 MNIST digits of 16–32 px) and
    /// [`digits_model`].
    pub fn digits() -> Self {
        let yolo = DetectSpec::digits();
        Self {
            corpus: yolo.corpus,
            scenes: yolo.scenes,
            train_scenes: 12_000,
            test_scenes: yolo.test_scenes,
            model: digits_model(11),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), TaskError> {
        let t = &self.model.transform;
        if self.scenes.canvas < 32 || t.min_size == 0 || t.max_size < t.min_size {
            return Err(TaskError::invalid(
                "the canvas side must be at least 32 and 0 < min_size ≤ max_size",
            ));
        }
        if self.train_scenes < 10 || self.test_scenes == 0 {
            return Err(TaskError::invalid(
                "need at least 10 training scenes and one test scene",
            ));
        }
        Ok(())
    }
}

/// The recipe's Faster R-CNN for 64×64 digit scenes and `num_classes` classes (background
/// included); see the module documentation.
pub fn digits_model(num_classes: usize) -> FasterRcnnConfig {
    let body = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1], 1).with_base_channels(16);
    let anchors = AnchorGeneratorConfig::new()
        .with_sizes(vec![
            vec![8.0, 12.0],
            vec![16.0, 20.0],
            vec![24.0, 32.0],
            vec![40.0, 48.0],
            vec![56.0, 64.0],
        ])
        .with_aspect_ratios(vec![vec![1.0, 2.0, 4.0]; 5]);
    FasterRcnnConfig::new(
        BackboneWithFpnConfig::new(body)
            .with_out_channels(64)
            .with_trainable_batch_norm(Some(true)),
        num_classes,
    )
    .with_transform(
        RcnnTransformConfig::new()
            .with_min_size(64)
            .with_max_size(64),
    )
    .with_rpn(
        RpnConfig::new()
            .with_anchor_generator(anchors)
            .with_pre_nms_top_n_train(600)
            .with_post_nms_top_n_train(300)
            .with_pre_nms_top_n_test(300)
            .with_post_nms_top_n_test(100),
    )
    .with_roi_heads(
        RoiHeadsConfig::new()
            .with_representation_size(128)
            .with_batch_size_per_image(64)
            .with_pooler(MultiScaleRoiAlign::new().with_sampling_ratio(1)),
    )
    .with_trainable_backbone_layers(5)
}

/// A batch of scenes as [`FasterRcnn::loss`] takes them: images `[3, S, S]` (the grey pixels /
/// 255 in each channel), their boxes and 1-based classes, and the seed of the anchor and
/// proposal samples.
#[derive(Clone, Debug)]
pub struct SceneBatch {
    /// The images.
    pub images: Vec<Tensor<3>>,
    /// Each image's boxes (pixels) and classes (1-based: 0 is the background).
    pub targets: Vec<(Vec<Bbox>, Vec<usize>)>,
    /// Seeds the samples [`FasterRcnn::loss`] draws.
    pub seed: u64,
}

impl Supervised for FasterRcnn {
    type Batch = SceneBatch;

    /// The sum of the four losses; the "logits" and "targets" are the box head's class logits
    /// and labels at its positive samples, so the training loop's accuracy is the class
    /// accuracy at objects (as the YOLO task's).
    fn step(&self, batch: SceneBatch) -> ClassificationStep {
        let mut rng = StdRng::seed_from_u64(batch.seed);
        let losses = self.loss(&batch.images, &batch.targets, &mut rng);
        let labels = &losses.class_labels;
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&k| labels[k] > 0).collect();
        if rows.is_empty() {
            rows = (0..labels.len()).collect();
        }
        let device = losses.class_logits.device();
        let index =
            |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [rows.len()]), &device);
        let logits = losses
            .class_logits
            .clone()
            .select(0, index(rows.iter().map(|&k| k as i64).collect()));
        let targets = index(rows.iter().map(|&k| labels[k] as i64).collect());
        ClassificationStep {
            loss: losses.total(),
            logits,
            targets,
        }
    }
}

/// Scenes as a [`BatchSource`] of [`SceneBatch`]es.
pub struct RcnnSceneSource(SceneSource);

impl RcnnSceneSource {
    /// The scenes of `scenes` at `indices`.
    pub fn new(scenes: &Scenes, indices: impl IntoIterator<Item = usize>) -> Self {
        Self(SceneSource::new(scenes, indices))
    }

    /// Scene `i` as an RGB image `[3, S, S]` in `[0, 1]`.
    fn image(&self, i: usize, device: &Device) -> Tensor<3> {
        let s = self.0.size;
        let grey = self.0.pixels[i].iter().map(|&p| p as f32 / 255.0);
        let data: Vec<f32> = grey.clone().chain(grey.clone()).chain(grey).collect();
        Tensor::from_data(TensorData::new(data, [3, s, s]), device)
    }
}

impl BatchSource<SceneBatch> for RcnnSceneSource {
    fn len(&self) -> usize {
        self.0.pixels.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<SceneBatch, TrainError> {
        // FNV-1a over the indices: another order (another epoch) draws other samples.
        let seed = indices.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &i| {
            (h ^ i as u64).wrapping_mul(0x0100_0000_01b3)
        });
        Ok(SceneBatch {
            images: indices.iter().map(|&i| self.image(i, device)).collect(),
            targets: indices
                .iter()
                .map(|&i| {
                    let t = &self.0.targets[i];
                    (
                        t.iter().map(|o| o.bbox).collect(),
                        t.iter().map(|o| o.class + 1).collect(),
                    )
                })
                .collect(),
            seed,
        })
    }
}

/// COCO scores of `model` on `source` (every detection scoring above 0.001, at most 100 per
/// image, as the YOLO task scores); also writes `out/test_gt.json` and
/// `out/test_detections.json`, so any COCO tool (pycocotools) can score them again.
fn score(
    model: &FasterRcnn,
    source: &RcnnSceneSource,
    class_names: &[String],
    device: &Device,
    out: &Path,
) -> Result<CocoSummary, TaskError> {
    let mut model = model.clone();
    model.roi_heads.config.score_thresh = 0.001;
    let mut detections: Vec<Vec<Detection>> = Vec::with_capacity(source.len());
    let all: Vec<usize> = (0..source.len()).collect();
    for chunk in all.chunks(64) {
        let images: Vec<Tensor<3>> = chunk.iter().map(|&i| source.image(i, device)).collect();
        for found in model.detect(&images) {
            let found = found.into_iter().filter(|d| d.class >= 1);
            detections.push(
                found
                    .map(|d| Detection {
                        class: d.class - 1,
                        ..d
                    })
                    .collect(),
            );
        }
    }
    let (gt, dets) = to_coco(&source.0.targets, &detections, class_names, source.0.size);
    write_json_atomic(&out.join("test_gt.json"), &gt)?;
    write_json_atomic(&out.join("test_detections.json"), &dets)?;
    Ok(evaluate(&gt, &dets, &CocoParams::default()))
}

/// The scenes of `spec`, checked against its model's input size.
fn load(
    spec: &DigitsRcnnSpec,
    settings: &RunSettings,
    train: usize,
) -> Result<(Scenes, Scenes, String), TaskError> {
    spec.validate()?;
    scenes_of(
        spec.corpus,
        &spec.scenes,
        (train, spec.test_scenes),
        settings,
    )
}

/// Trains the detector of `spec` into `settings.out`; returns what it wrote to `metrics.json`
/// (the test figures are COCO's twelve numbers). `settings.resume` continues a run from its
/// last epoch checkpoint.
///
/// # Errors
/// [`TaskError`] for settings out of range, data that cannot be read, or a run folder that
/// cannot be written.
pub fn train(spec: &DigitsRcnnSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    settings.validate()?;
    let (train_scenes, test_scenes, source) = load(spec, settings, spec.train_scenes)?;
    let data = format!("{} digit scenes from {source}", spec.corpus.name());
    let scenes = (&train_scenes, &test_scenes);
    let mut run = SceneRun::new(settings, scenes, data, RcnnSceneSource::new);
    let class_names = train_scenes.class_names.clone();
    let info = RcnnRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        model: FasterRcnnConfig {
            num_classes: class_names.len() + 1,
            ..spec.model.clone()
        },
        class_names,
        data: run.data().to_string(),
    };
    let out = settings.create_out()?;
    write_json_atomic(&out.join("run.json"), &info)?;
    let width = info.model.backbone.out_channels;
    run.announce(&format!("Faster R-CNN (ResNet-FPN {width})"));
    let identity = json!({ "recipe": info.recipe, "model": info.model });
    let (device, outcome) = run.fit(|device| info.model.init(device), identity)?;
    let model = outcome.model.clone();
    let test = score(&model, &run.test, &info.class_names, &device, out)?;
    let described = "Faster R-CNN, ResNet (basic 1-1-1-1, base 16) + FPN 64".to_string();
    run.finish(&outcome, (described, model.torchvision_params()), &test)
}

/// COCO scores of the run in `run` on the test scenes of `spec` (the data as
/// `settings.data_dir` says); writes `settings.out/metrics.json`.
///
/// # Errors
/// [`TaskError`] for a folder that is no run of this recipe, scenes whose classes do not match
/// it, or data that cannot be read.
pub fn evaluate_run(
    spec: &DigitsRcnnSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = RcnnRunInfo::load(run, Some(&settings.name))?;
    let (_, test_scenes, _) = load(spec, settings, 10)?;
    if test_scenes.class_names.len() != info.class_names.len() {
        return Err(TaskError::invalid(format!(
            "the scenes have {} classes, the run {}",
            test_scenes.class_names.len(),
            info.class_names.len()
        )));
    }
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let source = RcnnSceneSource::new(&test_scenes, 0..test_scenes.scenes.len());
    let score = |out: &Path| score(&model, &source, &info.class_names, &device, out);
    write_evaluation(settings, run, &info.data, source.len(), score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};
    use deepzero_train::FitConfig;

    /// A few scenes of the shipped MNIST sample.
    fn few_scenes(count: usize) -> Scenes {
        let spec = DigitsRcnnSpec::digits();
        let settings = RunSettings::new(RECIPE, "unused");
        scenes_of(spec.corpus, &spec.scenes, (count, 1), &settings)
            .unwrap()
            .0
    }

    #[test]
    fn a_few_steps_reduce_the_loss_of_the_recipe_model() {
        let device = Device::flex().autodiff();
        device.seed(1);
        let scenes = few_scenes(8);
        let source = RcnnSceneSource::new(&scenes, 0..8);
        let batch = source.batch(&(0..8).collect::<Vec<_>>(), &device).unwrap();
        assert_eq!(batch.images[0].dims(), [3, 64, 64]);
        assert!(
            batch
                .targets
                .iter()
                .all(|(b, c)| !b.is_empty() && b.len() == c.len())
        );
        assert!(
            batch
                .targets
                .iter()
                .flat_map(|(_, c)| c)
                .all(|&c| (1..=10).contains(&c))
        );
        let mut model = digits_model(11).init(&device);
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        let start = std::time::Instant::now();
        for _ in 0..STEPS {
            let step = model.step(batch.clone());
            // the accuracy rows are the positive samples: one target per row, all objects
            assert_eq!(step.logits.dims()[0], step.targets.dims()[0]);
            let targets: Vec<i64> = step
                .targets
                .clone()
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .unwrap();
            assert!(targets.iter().all(|&t| t >= 1), "{targets:?}");
            losses.push(step.loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(step.loss.backward(), &model);
            model = optim.step(2e-3, model, grads);
        }
        eprintln!(
            "{STEPS} steps of 8 scenes in {:.1} s, loss {:?}",
            start.elapsed().as_secs_f64(),
            losses
        );
        let first = losses[..2].iter().sum::<f32>() / 2.0;
        let last = losses[STEPS - 2..].iter().sum::<f32>() / 2.0;
        assert!(last < 0.7 * first, "loss {first} → {last}");
        assert!(losses.iter().all(|l| l.is_finite()));
    }

    const STEPS: usize = 12;

    #[test]
    fn the_same_batch_draws_the_same_samples() {
        let device = Device::flex();
        let scenes = few_scenes(4);
        let source = RcnnSceneSource::new(&scenes, 0..4);
        let model = digits_model(11).init(&device);
        let a = source.batch(&[0, 1, 2], &device).unwrap();
        let b = source.batch(&[0, 1, 2], &device).unwrap();
        let c = source.batch(&[2, 1, 0], &device).unwrap();
        assert_eq!(a.seed, b.seed);
        assert_ne!(a.seed, c.seed);
        let la = model.step(a).loss.into_scalar::<f32>();
        let lb = model.step(b).loss.into_scalar::<f32>();
        assert_eq!(la, lb);
    }

    #[test]
    fn a_tiny_run_round_trips_through_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut spec = DigitsRcnnSpec::digits();
        spec.train_scenes = 24;
        spec.test_scenes = 4;
        let settings = RunSettings {
            quiet: true,
            ..RunSettings::new(RECIPE, &out).with_fit(FitConfig {
                epochs: 1,
                batch_size: 8,
                valid_batch_size: Some(8),
                ..FitConfig::default()
            })
        };
        let report = train(&spec, &settings).unwrap();
        for key in ["ap", "ap50", "ar100"] {
            let v = report.test[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{key} {v}");
        }
        // run.json: the whole configuration, 10 digit classes + the background
        let info = RcnnRunInfo::load(&out, None).unwrap();
        assert_eq!(info.recipe, RECIPE);
        assert_eq!(info.version, RUN_VERSION);
        assert_eq!(info.class_names.len(), 10);
        assert_eq!(info.model.num_classes, 11);
        let expected = FasterRcnnConfig {
            num_classes: 11,
            ..spec.model.clone()
        };
        assert_eq!(
            serde_json::to_value(&info.model).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
        assert_eq!(info.model.backbone.trainable_batch_norm, Some(true));
        // the front end's loader serves it, drawing labelled pictures
        let scene = dir.path().join("scene.png");
        image::GrayImage::new(64, 64).save(&scene).unwrap();
        let device = Device::flex();
        let detector = super::super::detect::load_detector(&out, None, &device).unwrap();
        assert_eq!(detector.class_names()[7], "7");
        let options = super::super::detect::DetectOptions {
            score_threshold: Some(0.0),
            draw: Some(dir.path().join("pictures")),
            ..super::super::detect::DetectOptions::new(vec![scene])
        };
        let (found, pictures) = detector.detect(&options).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(image::image_dimensions(&pictures[0]).unwrap(), (320, 320));
        // evaluation of the run gives the training's test figures
        let eval = RunSettings {
            out: dir.path().join("eval"),
            ..settings.clone()
        };
        let again = evaluate_run(&spec, &out, &eval).unwrap();
        assert_eq!(again.test["ap"], report.test["ap"]);
        // bad input, one line each
        let one_line = |e: TaskError| {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
            text
        };
        let err = one_line(RcnnRunInfo::load(&out, Some("digits-yolo")).unwrap_err());
        assert!(err.contains("not `digits-yolo`"), "{err}");
        let err = one_line(train(&spec, &settings).unwrap_err());
        assert!(err.contains("already holds a run"), "{err}");
        let small = DigitsRcnnSpec {
            train_scenes: 3,
            ..spec.clone()
        };
        let err = one_line(train(&small, &settings).unwrap_err());
        assert!(err.contains("at least 10 training scenes"), "{err}");
        let mut broken = serde_json::to_value(&info).unwrap();
        broken["class_names"] = json!(["0", "1"]);
        write_json_atomic(&out.join("run.json"), &broken).unwrap();
        let err = one_line(RcnnRunInfo::load(&out, None).unwrap_err());
        assert!(err.contains("one name per class"), "{err}");
        let missing =
            super::super::detect::load_detector(&dir.path().join("nothing"), None, &device);
        one_line(missing.err().unwrap());
    }
}
