//! The image-classification task (seed chapters 1.3.1, 3.1, 7.2): an IDX corpus (MNIST,
//! Fashion-MNIST) or a class-per-folder image tree → a trained classifier in a run folder, its
//! evaluation, and a [`Predictor`] for image files.
//!
//! ```no_run
//! use deepzero_data::IdxCorpus;
//! use deepzero_vision::Architecture;
//! use deepzero_vision::tasks::classify::{self, ImageSpec, PredictOptions, Predictor};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // Without a data folder the shipped sample datasets/mnist-sample is used.
//! let spec = ImageSpec::idx(IdxCorpus::Mnist, Architecture::LeNet5);
//! let report = classify::train(&spec, &RunSettings::new("mnist-lenet", "runs/lenet"))?;
//! println!("test accuracy {}", report.test["accuracy"]);
//! let predictor = Predictor::load("runs/lenet".as_ref(), None, &burn::prelude::Device::flex())?;
//! let predictions = predictor.predict(&["digit.png".into()], &PredictOptions::default())?;
//! println!("{}", predictions[0].top[0].1);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_data::{
    Augmentation, Augmented, IdxCorpus, ImageBatcher, ImageFolder, ImageItem, InMemoryImages,
    Split, Subset, read_image, select_classes, stratified_split,
};
use deepzero_train::checkpoint::{load_model, load_model_bytes, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    BatchSource, DatasetBatches, EvalReport, FitConfig, Recipe, RunReport, RunSettings, TaskError,
    evaluate, load_run_info, model_file, parse_run_info,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::folder::{FolderChoices, FolderOptions};
use crate::{Architecture, ImageClassifier, ImageModel};

/// Where an image classifier's data come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ImageData {
    /// An IDX corpus: the data folder's four files (or its `<corpus>` sub-folder), else the
    /// shipped sample `datasets/<corpus>-sample`.
    Idx {
        /// Which corpus.
        corpus: IdxCorpus,
        /// Training-time augmentation.
        augment: Augmentation,
    },
    /// A folder tree `root/<class>/<image>` (or `root/{train,test}/<class>/<image>`), images
    /// resized to a square, normalised with the training images' own per-channel statistics;
    /// size, channels, augmentation, flips and class balancing are chosen from the data unless
    /// the options say otherwise ([`super::folder`]).
    Folder(FolderOptions),
}

/// What an image-classification run trains.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSpec {
    /// The data.
    pub data: ImageData,
    /// The model.
    pub arch: Architecture,
    /// Keep only these classes, relabelled 0..n in this order, in the training and test split.
    pub classes_subset: Option<Vec<usize>>,
    /// Few-shot training: keep this many training images per class (a seeded choice).
    pub per_class: Option<usize>,
    /// Image folders: leave out files that cannot be read or decoded (counted in
    /// `metrics.json` as `skipped_images`) instead of stopping at the first.
    pub skip_bad_images: bool,
}

impl ImageSpec {
    /// `arch` on an IDX corpus, without augmentation.
    pub fn idx(corpus: IdxCorpus, arch: Architecture) -> Self {
        Self {
            data: ImageData::Idx {
                corpus,
                augment: Augmentation::default(),
            },
            arch,
            classes_subset: None,
            per_class: None,
            skip_bad_images: false,
        }
    }

    /// The small CNN on an image folder, with these options (the default: everything chosen
    /// from the data).
    pub fn folder(options: FolderOptions) -> Self {
        Self {
            data: ImageData::Folder(options),
            arch: Architecture::SmallCnn,
            classes_subset: None,
            per_class: None,
            skip_bad_images: false,
        }
    }

    /// The same spec with training-time augmentation (IDX corpora; folders choose their own).
    pub fn with_augment(mut self, augmentation: Augmentation) -> Self {
        if let ImageData::Idx { augment, .. } = &mut self.data {
            *augment = augmentation;
        }
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if let ImageData::Folder(FolderOptions {
            image_size: Some(image_size),
            ..
        }) = self.data
            && (image_size < 8 || !image_size.is_multiple_of(4))
        {
            return Err(TaskError::invalid(
                "the image size must be a multiple of 4, at least 8",
            ));
        }
        Ok(())
    }
}

/// The largest input height or width a run may record (the ImageNet models take 224).
pub const MAX_INPUT_SIDE: usize = 1024;

/// The current version of [`ImageRunInfo`]'s format.
pub const RUN_VERSION: u32 = 2;

/// How [`Predictor`] turns an image file into the model's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preprocess {
    /// Resize to the input size (the training data's way).
    #[default]
    Resize,
    /// torchvision's evaluation transform: resize the short side, crop the centre (imported
    /// ImageNet weights).
    ResizeCenterCrop,
}

/// What `OUT/run.json` records about a trained image classifier, so that evaluation and
/// prediction can rebuild it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRunInfo {
    /// Format version (1: written before versions were recorded).
    #[serde(default = "deepzero_train::run_folder::version_1")]
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// Model architecture.
    pub arch: Architecture,
    /// Input `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Class names, index = class id.
    pub class_names: Vec<String>,
    /// Per-channel normalisation mean (of pixel/255).
    pub mean: Vec<f32>,
    /// Per-channel normalisation standard deviation.
    pub std: Vec<f32>,
    /// Where the training data came from.
    pub data: String,
    /// How images are prepared for the model (absent from version 1: resize, or centre crop
    /// for the `imagenet` recipe).
    #[serde(default)]
    pub preprocess: Option<Preprocess>,
}

deepzero_train::impl_run_info!(ImageRunInfo, RUN_VERSION);

impl ImageRunInfo {
    fn batcher(&self) -> ImageBatcher {
        ImageBatcher::new(self.mean.clone(), self.std.clone())
    }

    /// The identity of the run that a resume must match.
    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "arch": self.arch,
            "input_shape": self.input_shape,
            "classes": self.class_names.len(),
        })
    }

    /// How images are prepared (see [`ImageRunInfo::preprocess`]).
    pub fn preprocessing(&self) -> Preprocess {
        self.preprocess.unwrap_or(if self.recipe == "imagenet" {
            Preprocess::ResizeCenterCrop
        } else {
            Preprocess::Resize
        })
    }

    /// Reads `DIR/run.json`, checking its version, that it can be used (no zero standard
    /// deviation) and, when `recipe` is given, that the run was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        info.checked(&dir.display().to_string())
    }

    /// [`ImageRunInfo::load`] on the bytes of a `run.json` already in memory (fetched by a
    /// browser, say), with the same checks.
    pub fn from_json(bytes: &[u8], recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = parse_run_info(bytes, "run.json", recipe)?;
        info.checked("run.json")
    }

    /// `self` if it can be used: an input of 1 or 3 channels and sides of 1 to
    /// [`MAX_INPUT_SIDE`] pixels, a mean and a positive standard deviation per channel, at
    /// least one class. `label` names the run in the error.
    fn checked(self, label: &str) -> Result<Self, TaskError> {
        let [channels, height, width] = self.input_shape;
        if !matches!(channels, 1 | 3)
            || [height, width]
                .iter()
                .any(|side| !(1..=MAX_INPUT_SIDE).contains(side))
        {
            return Err(TaskError::invalid(format!(
                "{label}: run.json's input_shape {:?} is not [1 or 3 channels, height, width] of 1 to {MAX_INPUT_SIDE} pixels",
                self.input_shape
            )));
        }
        if self.mean.len() != channels
            || self.std.len() != channels
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.class_names.is_empty()
        {
            return Err(TaskError::invalid(format!(
                "{label}: run.json needs {channels} means, {channels} positive standard deviations and at least one class"
            )));
        }
        Ok(self)
    }

    /// The trained model of the run in `dir`, on `device`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<ImageModel, TaskError> {
        Ok(load_model(self.build_model(device), &model_file(dir)?)?)
    }

    /// [`ImageRunInfo::load_model`] from the bytes of the run's `model.bpk` already in memory;
    /// `sha256`, the content of `model.bpk.sha256`, is checked when given.
    pub fn load_model_bytes(
        &self,
        bytes: &[u8],
        sha256: Option<&str>,
        device: &Device,
    ) -> Result<ImageModel, TaskError> {
        Ok(load_model_bytes(
            self.build_model(device),
            bytes,
            "model.bpk",
            sha256,
        )?)
    }

    /// The untrained model this run describes.
    fn build_model(&self, device: &Device) -> ImageModel {
        self.arch
            .build(self.input_shape, self.class_names.len(), device)
    }

    /// An image already decoded (an upload, say) as the model sees it: what
    /// [`Predictor::load_image`] does to a file.
    pub fn prepare_image(
        &self,
        image: &image::DynamicImage,
        invert: InvertMode,
    ) -> Result<ImageItem, TaskError> {
        let [c, h, w] = self.input_shape;
        let mut item = match self.preprocessing() {
            Preprocess::ResizeCenterCrop => crate::EvalTransform::for_crop(h).apply(image),
            Preprocess::Resize => deepzero_data::image_item(image, c, [h, w])?,
        };
        maybe_invert(&mut item, invert, self.mean.first().copied().unwrap_or(0.0));
        Ok(item)
    }

    /// Writes `DIR/run.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), TaskError> {
        std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
        Ok(write_json_atomic(&dir.join("run.json"), self)?)
    }
}

/// The training and test images of a run, and what to build and train with.
pub(crate) struct LoadedImages {
    pub train: InMemoryImages,
    pub test: InMemoryImages,
    pub source: String,
    /// The files or folders the images were read from (for the run's data fingerprint).
    pub files: Vec<PathBuf>,
    /// Unreadable files left out (`ImageSpec::skip_bad_images`).
    pub skipped: Vec<PathBuf>,
    pub augment: Augmentation,
    /// Oversample the smaller classes of the training part.
    pub balance: bool,
    /// What was chosen from the data (image folders).
    pub choices: Option<FolderChoices>,
    /// `None`: normalise with the training images' own statistics.
    pub batcher: Option<ImageBatcher>,
}

/// All images of `folder`; with `skip_bad`, unreadable files are left out and added to
/// `skipped` (the first one's error is shown, so that a systematic fault is not hidden).
fn load_folder(
    folder: &ImageFolder,
    skip_bad: bool,
    skipped: &mut Vec<PathBuf>,
) -> Result<InMemoryImages, TaskError> {
    if !skip_bad {
        return Ok(folder.load_all()?);
    }
    let (images, bad) = folder.load_all_skipping_bad()?;
    if let Some((path, error)) = bad.first() {
        deepzero_train::Progress::quiet().message(&format!(
            "skipping {} unreadable image(s) in {}; the first: {} ({error})",
            bad.len(),
            folder.root().display(),
            path.display()
        ));
    }
    skipped.extend(bad.into_iter().map(|(path, _)| path));
    Ok(images)
}

impl LoadedImages {
    /// [`LoadedImages::files`] as the slice [`RunSettings::with_data`] takes.
    pub fn file_refs(&self) -> Vec<&Path> {
        self.files.iter().map(PathBuf::as_path).collect()
    }
}

/// Looks for the shipped sample of `corpus` (`datasets/<name>-sample`) as
/// [`deepzero_data::find_sample`] does.
fn shipped_sample(corpus: IdxCorpus) -> Option<PathBuf> {
    deepzero_data::find_sample(format!("{}-sample", corpus.name())).filter(|p| p.is_dir())
}

/// The folder holding `corpus`'s IDX files: `data_dir` itself, or its `<corpus>` sub-folder.
pub(crate) fn idx_dir(
    corpus: IdxCorpus,
    data_dir: Option<&Path>,
) -> Result<(PathBuf, String), TaskError> {
    match data_dir {
        None => shipped_sample(corpus)
            .map(|p| {
                let label = format!("shipped sample {}", p.display());
                (p, label)
            })
            .ok_or_else(|| {
                TaskError::invalid(format!(
                    "no data folder given and the shipped sample datasets/{}-sample was not found (run from the repository root, or give the data folder)",
                    corpus.name()
                ))
            }),
        Some(dir) => {
            if !dir.is_dir() {
                return Err(TaskError::invalid(format!(
                    "data directory {} does not exist",
                    dir.display()
                )));
            }
            let nested = dir.join(corpus.name());
            let has_files = |d: &Path| {
                std::fs::read_dir(d).is_ok_and(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("train-images"))
                })
            };
            let chosen = if !has_files(dir) && nested.is_dir() {
                nested
            } else {
                dir.to_path_buf()
            };
            let label = chosen.display().to_string();
            Ok((chosen, label))
        }
    }
}

/// The data of `spec`, narrowed to its class subset (relabelled in that order) and, in the
/// training split, to `per_class` images per class (seeded).
pub(crate) fn load_images(
    spec: &ImageSpec,
    settings: &RunSettings,
) -> Result<LoadedImages, TaskError> {
    let mut data = load_all_images(spec, settings)?;
    if spec.classes_subset.is_some() || spec.per_class.is_some() {
        let classes = spec
            .classes_subset
            .clone()
            .unwrap_or_else(|| (0..data.train.num_classes()).collect());
        data.train = select_classes(&data.train, &classes, spec.per_class, Some(settings.seed()))?;
        data.test = select_classes(&data.test, &classes, None, None)?;
        let ids: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
        let per_class = spec
            .per_class
            .map(|k| format!(", {k} training images per class"))
            .unwrap_or_default();
        data.source = format!("{} (classes {}{per_class})", data.source, ids.join(","));
    }
    Ok(data)
}

fn load_all_images(spec: &ImageSpec, settings: &RunSettings) -> Result<LoadedImages, TaskError> {
    match &spec.data {
        ImageData::Idx { corpus, augment } => {
            let (dir, source) = idx_dir(*corpus, settings.data_dir.as_deref())?;
            let train = corpus.load(&dir, Split::Train)?;
            let test = corpus.load(&dir, Split::Test)?;
            let batcher = match corpus {
                IdxCorpus::Mnist => ImageBatcher::mnist(),
                IdxCorpus::FashionMnist => ImageBatcher::fashion_mnist(),
            };
            Ok(LoadedImages {
                train,
                test,
                source,
                files: [Split::Train, Split::Test]
                    .into_iter()
                    .map(|split| corpus.files(&dir, split))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
                skipped: Vec::new(),
                augment: augment.clone(),
                balance: false,
                choices: None,
                batcher: Some(batcher),
            })
        }
        ImageData::Folder(options) => load_folder_tree(options, spec.skip_bad_images, settings),
    }
}

/// The class folders under `dir` (placeholder shape: the real one is chosen from the data),
/// without the images too large to decode (left out with `skip_bad`, else an error).
fn open_folder(
    dir: &Path,
    skip_bad: bool,
    skipped: &mut Vec<PathBuf>,
) -> Result<(ImageFolder, deepzero_data::FolderStats), TaskError> {
    let folder = ImageFolder::open(dir, 3, [8, 8])?;
    let stats = folder.probe();
    let Some((path, width, height)) = stats.oversized.first() else {
        return Ok((folder, stats));
    };
    if !skip_bad {
        return Err(TaskError::invalid(format!(
            "{}: {width}×{height} pixels, over the {} pixel limit on a side (remove it, or pass --skip-bad-images to leave such files out)",
            path.display(),
            deepzero_data::folder::MAX_IMAGE_SIDE
        )));
    }
    let oversized: Vec<PathBuf> = stats.oversized.iter().map(|(p, ..)| p.clone()).collect();
    deepzero_train::Progress::quiet().message(&format!(
        "skipping {} image(s) over {} pixels on a side; the first: {}",
        oversized.len(),
        deepzero_data::folder::MAX_IMAGE_SIDE,
        path.display()
    ));
    skipped.extend(oversized.iter().cloned());
    Ok((folder.without(&oversized), stats))
}

/// An image-folder tree: its images at the size and channels chosen from their headers (or
/// given), and the training choices made from the training split.
fn load_folder_tree(
    options: &FolderOptions,
    skip_bad: bool,
    settings: &RunSettings,
) -> Result<LoadedImages, TaskError> {
    let root = settings.data_dir.as_deref().ok_or_else(|| {
        TaskError::invalid(format!(
            "{} needs a data folder ROOT (one sub-folder per class)",
            settings.name
        ))
    })?;
    if !root.is_dir() {
        return Err(TaskError::invalid(format!(
            "data directory {} does not exist",
            root.display()
        )));
    }
    let mut skipped = Vec::new();
    let (train_dir, test_dir) = (root.join("train"), root.join("test"));
    let split = train_dir.is_dir() && test_dir.is_dir();
    let (train_folder, stats) = open_folder(
        if split { &train_dir } else { root },
        skip_bad,
        &mut skipped,
    )?;
    if let [only] = train_folder.class_names() {
        return Err(TaskError::invalid(format!(
            "{}: only one class folder (`{only}`); a classifier needs at least two",
            train_folder.root().display()
        )));
    }
    let shape = FolderChoices::shape(options, &stats);
    let size = [shape.image_size, shape.image_size];
    let train_folder = train_folder.with_shape(shape.channels, size)?;
    let (train, test) = if split {
        let (test_folder, _) = open_folder(&test_dir, skip_bad, &mut skipped)?;
        if train_folder.class_names() != test_folder.class_names() {
            return Err(TaskError::invalid(format!(
                "{} and {} have different class folders",
                train_dir.display(),
                test_dir.display()
            )));
        }
        let test_folder = test_folder.with_shape(shape.channels, size)?;
        (
            load_folder(&train_folder, skip_bad, &mut skipped)?,
            load_folder(&test_folder, skip_bad, &mut skipped)?,
        )
    } else {
        // One tree: hold out a stratified 20 % as the test set.
        let all = load_folder(&train_folder, skip_bad, &mut skipped)?;
        let labels: Vec<usize> = all.labels().to_vec();
        let (train_idx, test_idx) = stratified_split(&labels, 0.2, settings.seed() ^ 0x7e57);
        (all.subset(&train_idx), all.subset(&test_idx))
    };
    let choices = shape.training(options, &train, settings.seed());
    Ok(LoadedImages {
        train,
        test,
        source: root.display().to_string(),
        files: vec![root.to_path_buf()],
        skipped,
        augment: choices.augmentation(),
        balance: choices.balance,
        choices: Some(choices),
        batcher: None,
    })
}

/// Refuses an empty training set or a test set that is empty or holds one class
/// ([`deepzero_data::check_split`]); the fine-tuning task calls it too.
pub(crate) fn check_image_splits(data: &LoadedImages) -> Result<(), TaskError> {
    deepzero_data::check_split("training", data.train.labels(), 1)?;
    deepzero_data::check_split("test", data.test.labels(), 2)?;
    Ok(())
}

/// Per-channel mean and standard deviation of pixel/255 over `images`.
pub fn channel_stats(images: &InMemoryImages) -> (Vec<f32>, Vec<f32>) {
    let [c, h, w] = images.shape();
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    let n = images.len();
    for i in 0..n {
        let Some(px) = images.image(i) else { continue };
        for ch in 0..c {
            for &p in &px[ch * h * w..(ch + 1) * h * w] {
                let v = p as f64 / 255.0;
                sum[ch] += v;
                sq[ch] += v * v;
            }
        }
    }
    let count = (n * h * w).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| ((q / count - (m as f64).powi(2)).max(1e-6)).sqrt() as f32)
        .collect();
    (mean, std)
}

/// Training, validation and test batches of `train`/`test`: a stratified validation split of
/// the training images, augmentation of the rest re-seeded every epoch.
pub(crate) type Batches =
    DatasetBatches<ImageItem, Arc<Augmented<Subset<InMemoryImages>>>, ImageBatcher>;

pub(crate) type ValidBatches = DatasetBatches<ImageItem, Subset<InMemoryImages>, ImageBatcher>;
pub(crate) type TestBatches = DatasetBatches<ImageItem, InMemoryImages, ImageBatcher>;

impl LoadedImages {
    /// The training images split (stratified, seeded as `settings` say) into training batches
    /// (augmented, and oversampled to balance the classes when asked) and validation batches,
    /// and the test batches; all made by `batcher`.
    pub(crate) fn into_batches(
        self,
        batcher: &ImageBatcher,
        settings: &RunSettings,
    ) -> (Batches, ValidBatches, TestBatches) {
        split_batches(
            self.train,
            self.test,
            (self.augment, self.balance),
            batcher,
            settings,
        )
    }
}

/// `(N train / N valid / N test), backend B, FIT, out DIR`: the end of the line that says what
/// an image task trains.
pub(crate) fn run_line(settings: &RunSettings, sizes: [usize; 3], out: &Path) -> String {
    let [train, valid, test] = sizes;
    format!(
        "({train} train / {valid} valid / {test} test), backend {}, {}, out {}",
        settings.backend,
        settings.fit.describe(),
        out.display()
    )
}

fn split_batches(
    train: InMemoryImages,
    test: InMemoryImages,
    (augment, balance): (Augmentation, bool),
    batcher: &ImageBatcher,
    settings: &RunSettings,
) -> (Batches, ValidBatches, TestBatches) {
    let labels: Vec<usize> = train.labels().to_vec();
    let (mut train_idx, valid_idx) =
        stratified_split(&labels, settings.valid_fraction, settings.seed());
    if balance {
        train_idx = deepzero_data::balanced_oversample(&labels, &train_idx, settings.seed());
    }
    let full = Arc::new(train);
    let train_set = Arc::new(Augmented::new(
        Subset::new(full.clone(), train_idx),
        augment,
        settings.seed(),
    ));
    let valid_set = Subset::new(full, valid_idx);
    let hook_set = train_set.clone();
    let train_source = DatasetBatches::new(train_set, batcher.clone())
        .with_epoch_hook(move |epoch| hook_set.set_epoch(epoch));
    let valid_source = DatasetBatches::new(valid_set, batcher.clone());
    let test_source = DatasetBatches::new(test, batcher.clone());
    (train_source, valid_source, test_source)
}

/// Trains an image classifier as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json`.
pub fn train(spec: &ImageSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let data = load_images(spec, settings)?;
    check_image_splits(&data)?;
    let settings = &settings.with_data(&data.file_refs())?;
    let batcher = data.batcher.clone().unwrap_or_else(|| {
        let (mean, std) = channel_stats(&data.train);
        ImageBatcher::new(mean, std)
    });
    let info = ImageRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        arch: spec.arch,
        input_shape: data.train.shape(),
        class_names: data.train.class_names().to_vec(),
        mean: batcher.mean.clone(),
        std: batcher.std.clone(),
        data: data.source.clone(),
        preprocess: Some(Preprocess::Resize),
    };
    let out = settings.create_out()?;
    settings.write_run_json("run.json", &info)?;

    let skipped = data.skipped.len();
    let source = data.source.clone();
    let choices = data.choices.clone();
    let (train_source, valid_source, test_source) = data.into_batches(&batcher, settings);
    let mut progress = settings.progress();
    if let Some(choices) = &choices {
        progress.message(&format!(
            "{}: chosen from the data: {}",
            settings.name,
            choices.reasons.join("; ")
        ));
    }
    let sizes = [train_source.len(), valid_source.len(), test_source.len()];
    progress.message(&format!(
        "{}: {} on {source} {}",
        settings.name,
        spec.arch.name(),
        run_line(settings, sizes, out)
    ));

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    let model = spec
        .arch
        .build(info.input_shape, info.class_names.len(), &train_device);
    let outcome = settings.fit_and_save(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        info.fingerprint(),
        &mut progress,
    )?;
    let model = outcome.model.clone();
    let valid = evaluate(&model, &valid_source, 256, &device)?;
    let test = evaluate(&model, &test_source, 256, &device)?;
    let report = RunReport::new(settings, &outcome, spec.arch.name(), model.num_params());
    let report = RunReport {
        data: json!({
            "source": source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
            "skipped_images": skipped,
            "choices": choices,
        }),
        valid: json!({ "accuracy": valid.accuracy, "loss": valid.loss }),
        test: test.classification_report(info.class_names.len()),
        ..report
    };
    let path = report.write(out)?;
    progress.message(&report.classification_line(&path));
    Ok(report)
}

/// A run trained on some classes of a corpus is evaluated on those classes (found by name)
/// when the spec names no subset.
fn narrow_to_run_classes(
    mut data: LoadedImages,
    info: &ImageRunInfo,
    spec: &ImageSpec,
) -> Result<LoadedImages, TaskError> {
    if spec.classes_subset.is_some() || data.test.class_names() == info.class_names.as_slice() {
        return Ok(data);
    }
    let ids: Option<Vec<usize>> = info
        .class_names
        .iter()
        .map(|name| data.test.class_names().iter().position(|c| c == name))
        .collect();
    if let Some(ids) = ids {
        data.test = select_classes(&data.test, &ids, None, None)?;
        let list: Vec<String> = ids.iter().map(|c| c.to_string()).collect();
        data.source = format!("{} (classes {})", data.source, list.join(","));
    }
    Ok(data)
}

/// The test-split accuracy and loss of the run in `run` (the data as `spec` and
/// `settings.data_dir` say); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &ImageSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = ImageRunInfo::load(run, Some(&settings.name))?;
    // An image folder is read as the run read it (its size and channels were chosen from the
    // training data, or were a pre-trained model's).
    let mut spec = spec.clone();
    if let ImageData::Folder(options) = &mut spec.data {
        let [channels, size, _] = info.input_shape;
        options.image_size.get_or_insert(size);
        options.channels.get_or_insert(channels);
    }
    let spec = &spec;
    let data = narrow_to_run_classes(load_images(spec, settings)?, &info, spec)?;
    if data.test.shape() != info.input_shape || data.test.num_classes() != info.class_names.len() {
        return Err(TaskError::invalid(format!(
            "the data in {} ({:?}, {} classes) does not match the run ({:?}, {} classes)",
            data.source,
            data.test.shape(),
            data.test.num_classes(),
            info.input_shape,
            info.class_names.len()
        )));
    }
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let source = DatasetBatches::new(data.test, info.batcher());
    let start = std::time::Instant::now();
    let test = evaluate(
        &model,
        &source,
        settings.eval_batch_size.unwrap_or(256),
        &device,
    )?;
    let report = EvalReport::classification(
        settings,
        run,
        &data.source,
        &test,
        info.class_names.len(),
        start,
    );
    if !test.loss.is_finite() {
        return Err(TaskError::invalid(format!(
            "{}: the model's loss on the test split is {} (its weights are not finite numbers)",
            run.display(),
            test.loss
        )));
    }
    let path = report.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: test accuracy {:.2}% loss {:.4} on {} images ({}) -> {}",
        settings.name,
        test.accuracy * 100.0,
        test.loss,
        test.examples,
        data.source,
        path.display()
    ));
    Ok(report)
}

/// One image's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The image file.
    pub image: String,
    /// The most probable classes, best first: (class id, class name, probability).
    pub top: Vec<(usize, String, f32)>,
}

impl std::fmt::Display for Prediction {
    /// `image: name probability, name probability, …`, probabilities to three decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.image)?;
        for (i, (_, name, probability)) in self.top.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{name} {probability:.3}")?;
        }
        Ok(())
    }
}

/// When to invert a grayscale input image (with the `clap` feature, the values of
/// `deepzero predict --invert`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum InvertMode {
    /// When the border is mostly light (a dark digit on white paper).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How [`Predictor::predict`] reads and reports.
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// How many classes to report per image.
    pub top_k: usize,
    /// Whether to invert gray images with a light background (MNIST digits are light on dark).
    pub invert: InvertMode,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            top_k: 5,
            invert: InvertMode::Auto,
        }
    }
}

/// Dark-on-light images are inverted so that they look like training data that are light on
/// dark (MNIST); `Auto` leaves them alone when the training images were light on average
/// (`train_mean`, of pixel/255), as grey photographs and drawings on paper are.
fn maybe_invert(item: &mut ImageItem, mode: InvertMode, train_mean: f32) {
    let [c, h, w] = item.shape;
    if c != 1 {
        return;
    }
    let invert = match mode {
        InvertMode::Always => true,
        InvertMode::Never => false,
        InvertMode::Auto if train_mean >= 0.5 => false,
        InvertMode::Auto => {
            let border: Vec<u8> = (0..h)
                .flat_map(|y| (0..w).map(move |x| (y, x)))
                .filter(|&(y, x)| y == 0 || x == 0 || y == h - 1 || x == w - 1)
                .map(|(y, x)| item.pixels[y * w + x])
                .collect();
            let mean = border.iter().map(|&p| p as f32).sum::<f32>() / border.len().max(1) as f32;
            mean > 127.0
        }
    };
    if invert {
        item.pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
}

/// A trained image classifier loaded from its run folder.
pub struct Predictor {
    info: ImageRunInfo,
    model: ImageModel,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = ImageRunInfo::load(dir, recipe)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            model,
            device: device.clone(),
        })
    }

    /// [`Predictor::load`] from the bytes of a run's `run.json` and `model.bpk` already in
    /// memory (fetched by a browser, say); `sha256`, the content of `model.bpk.sha256`, is
    /// checked when given. It predicts exactly as the predictor loaded from the folder.
    ///
    /// # Errors
    /// [`TaskError`] for a `run.json` that is not an image classifier's (or is newer than
    /// this library), and model bytes that are damaged or do not fit the run.
    pub fn from_bytes(
        run_json: &[u8],
        model: &[u8],
        sha256: Option<&str>,
        device: &Device,
    ) -> Result<Self, TaskError> {
        let info = ImageRunInfo::from_json(run_json, None)?;
        let model = info.load_model_bytes(model, sha256, device)?;
        Ok(Self {
            info,
            model,
            device: device.clone(),
        })
    }

    /// What run.json says about the model.
    pub fn info(&self) -> &ImageRunInfo {
        &self.info
    }

    /// Reads an image file as the model sees it (resized or cropped, inverted as asked).
    /// Files and images in memory go through the same [`ImageRunInfo::prepare_image`].
    pub fn load_image(&self, path: &Path, invert: InvertMode) -> Result<ImageItem, TaskError> {
        self.info.prepare_image(&read_image(path)?, invert)
    }

    /// The `top_k` most probable classes of an image already decoded (an upload, a canvas's
    /// pixels), prepared as [`Predictor::load_image`] prepares a file: the same image gives
    /// the same prediction either way. `name` names it in the prediction.
    pub fn predict_image(
        &self,
        name: &str,
        image: &image::DynamicImage,
        options: &PredictOptions,
    ) -> Result<Prediction, TaskError> {
        let item = self.info.prepare_image(image, options.invert)?;
        let mut predictions = self.predict_items(&[PathBuf::from(name)], &[item], options.top_k)?;
        Ok(predictions.remove(0))
    }

    /// The `top_k` most probable classes of each image.
    pub fn predict(
        &self,
        images: &[PathBuf],
        options: &PredictOptions,
    ) -> Result<Vec<Prediction>, TaskError> {
        let items = self.load_images(images, options.invert)?;
        self.predict_items(images, &items, options.top_k)
    }

    /// [`Predictor::load_image`] of each image.
    fn load_images(
        &self,
        images: &[PathBuf],
        invert: InvertMode,
    ) -> Result<Vec<ImageItem>, TaskError> {
        images.iter().map(|p| self.load_image(p, invert)).collect()
    }

    /// [`Predictor::predict`], and a picture of the images, each captioned with its best class
    /// and that class's probability, written to `picture` (PNG).
    pub fn predict_and_draw(
        &self,
        images: &[PathBuf],
        options: &PredictOptions,
        picture: &Path,
    ) -> Result<Vec<Prediction>, TaskError> {
        let items = self.load_images(images, options.invert)?;
        let predictions = self.predict_items(images, &items, options.top_k)?;
        let captions: Vec<String> = predictions
            .iter()
            .map(|p| format!("{} {:.0}%", p.top[0].1, p.top[0].2 * 100.0))
            .collect();
        deepzero_train::plot::draw_image_grid(picture, &items, &captions)?;
        Ok(predictions)
    }

    /// [`Predictor::predict`] on images already read ([`Predictor::load_image`]).
    pub fn predict_items(
        &self,
        images: &[PathBuf],
        items: &[ImageItem],
        top_k: usize,
    ) -> Result<Vec<Prediction>, TaskError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.info.batcher().images_tensor(items, &self.device);
        let probs = softmax(self.model.logits(batch), 1);
        let k = top_k.clamp(1, self.info.class_names.len());
        let (values, indices) = probs.topk_with_indices(k, 1);
        let values: Vec<f32> = values
            .try_into_vec_as::<f32>()
            .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
        let indices: Vec<i64> = indices
            .try_into_vec_as::<i64>()
            .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(TaskError::invalid(
                "the model's probabilities are not finite numbers (are its weights?)",
            ));
        }
        Ok(images
            .iter()
            .enumerate()
            .map(|(i, path)| Prediction {
                image: path.display().to_string(),
                top: (0..k)
                    .map(|j| {
                        let class = indices[i * k + j] as usize;
                        (
                            class,
                            self.info.class_names[class].clone(),
                            values[i * k + j],
                        )
                    })
                    .collect(),
            })
            .collect())
    }
}

/// The recipe name of run folders made by [`import_torchvision`].
pub const IMAGENET_RECIPE: &str = "imagenet";

/// The [`IMAGENET_RECIPE`] as a front end lists it: weights imported by
/// [`import_torchvision`], nothing to train (an empty [`FitConfig`]).
pub fn imagenet_recipe() -> Recipe<()> {
    use deepzero_core::{LrSchedule, OptimizerKind};
    let fit = FitConfig::recipe(0, 0, 0.0, OptimizerKind::Sgd, LrSchedule::Constant);
    let summary =
        "torchvision ImageNet model with imported weights (deepzero import; predict only)";
    Recipe::new(IMAGENET_RECIPE, "3.1", summary, (), fit)
}

/// Converts torchvision's ImageNet weights (`.pth` or `.safetensors`) for `model` into a run
/// folder at `out` (`model.bpk` and a `run.json` of the [`IMAGENET_RECIPE`] whose
/// [`Predictor`] applies torchvision's evaluation transform). With `classes` other than 1000
/// the classes are named `0, 1, …`; `allow_partial` keeps the model's own initial values where
/// the file does not fit (listed in the returned report). An `out` that already holds a run is
/// refused unless `overwrite`; one that holds other files is always refused.
pub fn import_torchvision(
    model: crate::ZooModel,
    weights: &Path,
    out: &Path,
    classes: usize,
    allow_partial: bool,
    overwrite: bool,
) -> Result<(ImageRunInfo, crate::ImportReport), TaskError> {
    if !model.is_imagenet() {
        return Err(TaskError::invalid(format!(
            "torchvision import is for the ImageNet models; {model} is a CIFAR ResNet \
             (load its weights with deepzero_vision::load_torchvision)"
        )));
    }
    if classes == 0 {
        return Err(TaskError::invalid(
            "the number of classes must be at least 1",
        ));
    }
    if !weights.is_file() {
        return Err(TaskError::invalid(format!(
            "weights file {} does not exist",
            weights.display()
        )));
    }
    super::prepare_import_out(out, overwrite)?;
    let device = Device::flex();
    let options = crate::ImportOptions { allow_partial };
    let (built, report) =
        crate::load_torchvision_with(model.build(classes, 3, false, &device), weights, &options)?;
    if deepzero_train::guard::holds_run(out) {
        deepzero_train::guard::clear_run(out)?;
    }
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    save_model(&built, &out.join("model.bpk"))?;

    let size = model.reference_input_size();
    let (mean, std) = model.input_normalisation();
    let class_names: Vec<String> = if classes == 1000 {
        crate::imagenet_classes()
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        (0..classes).map(|c| c.to_string()).collect()
    };
    let info = ImageRunInfo {
        version: RUN_VERSION,
        recipe: IMAGENET_RECIPE.to_string(),
        arch: Architecture::Zoo(model),
        input_shape: [3, size, size],
        class_names,
        mean: mean.to_vec(),
        std: std.to_vec(),
        data: format!("torchvision weights {}", weights.display()),
        preprocess: Some(Preprocess::ResizeCenterCrop),
    };
    info.save(out)?;
    Ok((info, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_display_their_best_classes() {
        let p = Prediction {
            image: "seven.png".into(),
            top: vec![(7, "7".into(), 0.9123), (1, "1".into(), 0.05)],
        };
        assert_eq!(p.to_string(), "seven.png: 7 0.912, 1 0.050");
    }

    #[test]
    fn version_1_imagenet_runs_crop_the_centre() {
        let json = r#"{"recipe":"imagenet","arch":"resnet18","input_shape":[3,224,224],"class_names":["a"],"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2],"data":"d"}"#;
        let info: ImageRunInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.preprocessing(), Preprocess::ResizeCenterCrop);
    }

    #[test]
    fn zero_std_and_newer_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write = |v: serde_json::Value| {
            std::fs::write(dir.path().join("run.json"), v.to_string()).unwrap()
        };
        let mut run = json!({"recipe":"r","arch":"mlp","input_shape":[1,28,28],"class_names":["a","b"],"mean":[0.1],"std":[0.0],"data":"d"});
        write(run.clone());
        let err = ImageRunInfo::load(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("positive standard deviations"), "{err}");
        run["std"] = json!([0.3]);
        run["version"] = json!(99);
        write(run);
        let err = ImageRunInfo::load(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("version 99"), "{err}");
    }

    /// A run folder of `arch` with untrained weights, as `deepzero train` lays it out.
    fn untrained_run(
        dir: &Path,
        arch: Architecture,
        input_shape: [usize; 3],
        preprocess: Preprocess,
    ) -> ImageRunInfo {
        let model = arch.build(input_shape, 10, &Device::flex());
        save_model(&model, &dir.join("model.bpk")).unwrap();
        let info = ImageRunInfo {
            version: RUN_VERSION,
            recipe: "r".into(),
            arch,
            input_shape,
            class_names: (0..10).map(|c| format!("class {c}")).collect(),
            mean: vec![0.3; input_shape[0]],
            std: vec![0.2; input_shape[0]],
            data: "untrained".into(),
            preprocess: Some(preprocess),
        };
        info.save(dir).unwrap();
        info
    }

    /// A dark stroke on a light background, `w × h`, with some colour: it exercises the resize,
    /// the grey conversion and the inversion.
    fn drawing(w: u32, h: u32) -> image::DynamicImage {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            if x.abs_diff(w / 2) < w / 8 && y > h / 5 && y < 4 * h / 5 {
                image::Rgb([20, 30, (x * 7 % 255) as u8])
            } else {
                image::Rgb([240, 235, 250 - (y % 10) as u8])
            }
        }))
    }

    #[test]
    fn predictors_from_bytes_predict_as_from_the_folder() {
        let options = PredictOptions::default();
        for (arch, shape, preprocess) in [
            (Architecture::LeNet5, [1, 28, 28], Preprocess::Resize),
            (
                Architecture::SmallCnn,
                [3, 32, 32],
                Preprocess::ResizeCenterCrop,
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            untrained_run(dir.path(), arch, shape, preprocess);
            let file = dir.path().join("drawing.png");
            drawing(97, 61).save(&file).unwrap();
            let device = Device::flex();
            let from_folder = Predictor::load(dir.path(), Some("r"), &device).unwrap();
            let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
            let sha256 = String::from_utf8(read("model.bpk.sha256")).unwrap();
            let from_bytes = Predictor::from_bytes(
                &read("run.json"),
                &read("model.bpk"),
                Some(&sha256),
                &device,
            )
            .unwrap();
            let expected = from_folder
                .predict(std::slice::from_ref(&file), &options)
                .unwrap();
            let decoded =
                deepzero_data::decode_image(&file, &std::fs::read(&file).unwrap()).unwrap();
            let got = from_bytes
                .predict_image(&file.display().to_string(), &decoded, &options)
                .unwrap();
            // Bit for bit: the same preprocessing, the same weights, the same backend.
            assert_eq!(got.top, expected[0].top, "{arch:?}");
            assert_eq!(got.image, expected[0].image);
            assert_eq!(got.top.len(), 5);
        }
    }

    #[test]
    fn bad_run_bytes_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        untrained_run(
            dir.path(),
            Architecture::LeNet5,
            [1, 28, 28],
            Preprocess::Resize,
        );
        let run_json = std::fs::read(dir.path().join("run.json")).unwrap();
        let model = std::fs::read(dir.path().join("model.bpk")).unwrap();
        let device = Device::flex();
        let err = |run_json: &[u8], model: &[u8], sha256: Option<&str>| {
            let e = Predictor::from_bytes(run_json, model, sha256, &device)
                .err()
                .expect("an error")
                .to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        };
        let e = err(&run_json, b"garbage", None);
        assert!(
            e.contains("model.bpk") && e.contains("not a burnpack"),
            "{e}"
        );
        let e = err(&run_json, &model[..model.len() - 100], None);
        assert!(e.starts_with("model.bpk: "), "{e}");
        let e = err(&run_json, &model, Some("0000  model.bpk"));
        assert!(e.contains("checksum mismatch"), "{e}");
        // A text classifier's run.json, a run.json for another model, nonsense shapes.
        let e = err(
            br#"{"recipe":"bbc-lstm","version":1,"vocab_file":"vocab.json"}"#,
            &model,
            None,
        );
        assert!(e.starts_with("run.json: cannot parse"), "{e}");
        let original: serde_json::Value = serde_json::from_slice(&run_json).unwrap();
        let mut other = original.clone();
        other["arch"] = json!("small-cnn");
        let e = err(other.to_string().as_bytes(), &model, None);
        assert!(e.contains("cannot load into this model"), "{e}");
        for shape in [
            json!([2, 28, 28]),
            json!([1, 0, 28]),
            json!([1, 100000, 100000]),
        ] {
            other["arch"] = original["arch"].clone();
            other["input_shape"] = shape;
            let e = err(other.to_string().as_bytes(), &model, None);
            assert!(e.contains("input_shape"), "{e}");
        }
        assert!(err(b"", &model, None).starts_with("run.json: cannot parse"));
    }

    #[test]
    fn folder_sizes_are_checked() {
        let sized = |size| {
            ImageSpec::folder(FolderOptions {
                image_size: Some(size),
                ..FolderOptions::default()
            })
        };
        assert!(sized(64).validate().is_ok());
        assert!(
            ImageSpec::folder(FolderOptions::default())
                .validate()
                .is_ok()
        );
        let err = sized(30).validate().unwrap_err().to_string();
        assert!(err.contains("multiple of 4"), "{err}");
    }
}
