//! What the scene tasks ([`clip`](super::clip), [`caption`](super::caption) and
//! [`vqa`](super::vqa)) share around their own models: the captioned scenes they render and
//! split ([`PreparedScenes`]), the run folder's `vocab.json` and `run.json`, a trained run read
//! back with its checks ([`SceneRun`]), the seeded training device, and the `metrics.json` of an
//! evaluation. Each task keeps only what is its own: its model, batches and figures.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use deepzero_data::Split;
use deepzero_data::scenes::Scene;
use deepzero_sequence::text::Vocab;
use deepzero_train::checkpoint::load_model;
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    BatchSource, FitOutcome, Progress, RunInfo, RunSettings, Supervised, TaskError, load_run_info,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::captions::{CaptionedScenes, CaptionedScenesConfig};
use crate::data::{SceneSources, caption_vocab, image_tensor, pixel_stats};
use crate::models::{Captioner, CaptionerConfig, Clip, ClipConfig};

/// What a scene task's `run.json` records beside its recipe and version: the pixel statistics
/// of the training scenes and the vocabulary its model was built with. Implemented by
/// `impl_scene_run_info!` for a struct with the fields `mean`, `std`, `vocab_fingerprint` and
/// `model.vocab_size`.
pub trait SceneRunInfo: RunInfo {
    /// Mean and standard deviation of pixel/255 over the training scenes.
    fn pixel_stats(&self) -> (f32, f32);

    /// The model's vocabulary size and the fingerprint of `vocab.json`.
    fn vocab_check(&self) -> (usize, u64);

    /// Reads `DIR/run.json` (checking, when `recipe` is given, that it made the run), refusing
    /// a pixel standard deviation that cannot normalise an image.
    ///
    /// # Errors
    /// As [`load_run_info`], and a standard deviation that is not finite and positive.
    fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError>
    where
        Self: Sized,
    {
        let info: Self = load_run_info(dir, recipe)?;
        let std = info.pixel_stats().1;
        if !(std.is_finite() && std > 0.0) {
            return Err(TaskError::invalid(format!(
                "{}: run.json has a pixel standard deviation of {std}",
                dir.display()
            )));
        }
        Ok(info)
    }

    /// Reads `DIR/vocab.json`, checking that it is the vocabulary the run was trained with.
    ///
    /// # Errors
    /// A missing or unreadable file, or another vocabulary.
    fn load_vocab(&self, dir: &Path) -> Result<Vocab, TaskError> {
        let vocab =
            Vocab::load(&dir.join("vocab.json")).map_err(|e| TaskError::invalid(e.to_string()))?;
        let (size, fingerprint) = self.vocab_check();
        vocab
            .check_matches(size, fingerprint)
            .map_err(|e| TaskError::invalid(format!("{}: {e}", dir.display())))?;
        Ok(vocab)
    }
}

/// Implements [`RunInfo`] and [`SceneRunInfo`] for a scene task's `run.json` struct:
/// `impl_scene_run_info!(MyRunInfo, 1)`.
macro_rules! impl_scene_run_info {
    ($ty:ty, $version:expr) => {
        deepzero_train::impl_run_info!($ty, $version);

        impl $crate::tasks::scene_run::SceneRunInfo for $ty {
            fn pixel_stats(&self) -> (f32, f32) {
                (self.mean, self.std)
            }

            fn vocab_check(&self) -> (usize, u64) {
                (self.model.vocab_size, self.vocab_fingerprint)
            }
        }
    };
}
pub(crate) use impl_scene_run_info;

/// The configuration of a model trained on captioned scenes, as far as its run needs it.
/// Implemented by `impl_captioned_model_config!` for configurations with the fields
/// `image_size` and `vocab_size`.
pub trait CaptionedModelConfig: Clone + Serialize + DeserializeOwned {
    /// The model it configures.
    type Model: Supervised;

    /// A freshly initialised model on `device`.
    ///
    /// # Errors
    /// A configuration the model cannot be built from.
    fn init_model(&self, device: &Device) -> Result<Self::Model, TaskError>;

    /// The number of words of its vocabulary (`vocab.json`).
    fn vocab_size(&self) -> usize;

    /// This configuration for square images of side `image_size` and `vocab_size` words.
    fn sized(&self, image_size: usize, vocab_size: usize) -> Self;
}

/// Implements [`CaptionedModelConfig`] for configurations with the fields `image_size` and
/// `vocab_size` and a fallible `init`: `impl_captioned_model_config!(ClipConfig => Clip)`.
macro_rules! impl_captioned_model_config {
    ($($ty:ty => $model:ty),+) => {$(
        impl $crate::tasks::scene_run::CaptionedModelConfig for $ty {
            type Model = $model;

            fn init_model(&self, device: &Device) -> Result<$model, TaskError> {
                self.init(device).map_err(|e| TaskError::invalid(e.to_string()))
            }

            fn vocab_size(&self) -> usize {
                self.vocab_size
            }

            fn sized(&self, image_size: usize, vocab_size: usize) -> Self {
                Self {
                    image_size,
                    vocab_size,
                    ..self.clone()
                }
            }
        }
    )+};
}

impl_captioned_model_config!(ClipConfig => Clip, CaptionerConfig => Captioner);

/// The version of the [`CaptionedRunInfo`] format.
pub const CAPTIONED_RUN_VERSION: u32 = 1;

/// What `run.json` records about a run trained on [`PreparedScenes`] (the joint embedding's
/// [`ClipRunInfo`](super::clip::ClipRunInfo), the captioner's
/// [`CaptionRunInfo`](super::caption::CaptionRunInfo)): the scenes, the model, the vocabulary
/// and the pixel statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaptionedRunInfo<M> {
    /// Format version.
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// How the scenes were made (canvas, sizes, held-out pairs).
    pub scenes: CaptionedScenesConfig,
    /// The model's configuration.
    pub model: M,
    /// Fingerprint of the caption vocabulary in `vocab.json` ([`Vocab::fingerprint`]).
    pub vocab_fingerprint: u64,
    /// Mean of pixel/255 over the training scenes.
    pub mean: f32,
    /// Its standard deviation.
    pub std: f32,
    /// Where the source images came from.
    pub data: String,
}

impl<M: CaptionedModelConfig> CaptionedRunInfo<M> {
    /// What identifies the run to a resumed training: recipe, model and scenes.
    pub fn identity(&self) -> serde_json::Value {
        json!({ "recipe": self.recipe, "model": self.model, "scenes": self.scenes })
    }
}

impl<M: CaptionedModelConfig> RunInfo for CaptionedRunInfo<M> {
    const VERSION: u32 = CAPTIONED_RUN_VERSION;

    fn recipe(&self) -> &str {
        &self.recipe
    }

    fn version(&self) -> u32 {
        self.version
    }
}

impl<M: CaptionedModelConfig> SceneRunInfo for CaptionedRunInfo<M> {
    fn pixel_stats(&self) -> (f32, f32) {
        (self.mean, self.std)
    }

    fn vocab_check(&self) -> (usize, u64) {
        (self.model.vocab_size(), self.vocab_fingerprint)
    }
}

/// A trained scene model read back from its run folder, with what it needs to read inputs:
/// its `run.json`, the vocabulary and the device it runs on.
pub struct SceneRun<I, M> {
    /// What `run.json` says.
    pub info: I,
    /// The words the model reads.
    pub vocab: Vocab,
    /// The trained model.
    pub model: M,
    /// Where it runs.
    pub device: Device,
}

impl<I: SceneRunInfo, M: Module> SceneRun<I, M> {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run): its
    /// `run.json`, `vocab.json`, and the weights into the model `init` builds from `run.json`.
    ///
    /// # Errors
    /// Missing or inconsistent run-folder files, or a run of another recipe.
    pub fn load(
        dir: &Path,
        recipe: Option<&str>,
        device: &Device,
        init: impl FnOnce(&I, &Device) -> Result<M, TaskError>,
    ) -> Result<Self, TaskError> {
        let info = I::load(dir, recipe)?;
        let vocab = info.load_vocab(dir)?;
        let model = load_model(init(&info, device)?, &deepzero_train::model_file(dir)?)?;
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// Grey `size×size` pixel rows (`N·S·S` bytes) as the model's input: normalised with the
    /// run's pixel statistics, on its device.
    pub fn images(&self, pixels: &[u8], size: usize) -> Tensor<4> {
        let (mean, std) = self.info.pixel_stats();
        image_tensor(pixels, size, mean, std, &self.device)
    }
}

impl<M: CaptionedModelConfig> SceneRun<CaptionedRunInfo<M>, M::Model> {
    /// [`SceneRun::load`] of a run trained on captioned scenes ([`start_captioned_run`]).
    ///
    /// # Errors
    /// As [`SceneRun::load`].
    pub fn load_captioned(
        dir: &Path,
        recipe: Option<&str>,
        device: &Device,
    ) -> Result<Self, TaskError> {
        Self::load(dir, recipe, device, |info, device| {
            info.model.init_model(device)
        })
    }
}

/// Trains the model a captioned run describes (`info`, from [`start_captioned_run`]) on
/// `train`, validated on `valid`, on the seeded training device ([`training_devices`]), and
/// saves it into the run folder; returns the device to evaluate on and the outcome.
///
/// # Errors
/// A model that cannot be built, and those of [`RunSettings::fit_and_save`].
pub fn fit_captioned<M, T, V>(
    settings: &RunSettings,
    info: &CaptionedRunInfo<M>,
    train: &T,
    valid: Option<&V>,
    progress: &mut Progress,
) -> Result<(Device, FitOutcome<M::Model>), TaskError>
where
    M: CaptionedModelConfig,
    T: BatchSource<<M::Model as Supervised>::Batch>,
    V: BatchSource<<M::Model as Supervised>::Batch>,
{
    let (device, train_device) = training_devices(settings)?;
    let model = info.model.init_model(&train_device)?;
    let identity = info.identity();
    let outcome = settings.fit_and_save(model, train, valid, &train_device, identity, progress)?;
    Ok((device, outcome))
}

/// The device `settings` name, and its autodiff twin seeded with the run's seed: what a scene
/// task evaluates on, and what it trains on.
///
/// # Errors
/// An unknown backend, or one not compiled in.
pub fn training_devices(settings: &RunSettings) -> Result<(Device, Device), TaskError> {
    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    Ok((device, train_device))
}

/// Writes `settings.out/metrics.json` for an evaluation of the run in `run` on test scenes
/// rendered from `source` (`{recipe, run, data, test}`), and returns its path.
///
/// # Errors
/// The folder or the file cannot be written.
pub fn write_evaluation(
    settings: &RunSettings,
    run: &Path,
    source: &str,
    metrics: &impl Serialize,
) -> Result<PathBuf, TaskError> {
    std::fs::create_dir_all(&settings.out).map_err(TaskError::io(&settings.out))?;
    let path = settings.out.join("metrics.json");
    write_json_atomic(
        &path,
        &json!({ "recipe": settings.name, "run": run.display().to_string(), "data": source, "test": metrics }),
    )?;
    Ok(path)
}

/// The pixels of `scenes` one after the other (`N·S·S` bytes), as the models read them.
pub fn scene_pixels<'a>(scenes: impl IntoIterator<Item = &'a Scene>) -> Vec<u8> {
    scenes
        .into_iter()
        .flat_map(|s| s.pixels.iter().copied())
        .collect()
}

/// How many of `len` training scenes are fitted on when a `valid_fraction` of them validates
/// (at least one is fitted on); they come first, the validating ones after them.
pub fn fit_count(len: usize, valid_fraction: f64) -> usize {
    let valid_count = (len as f64 * valid_fraction).round() as usize;
    len - valid_count.min(len.saturating_sub(1))
}

/// Loads both splits of the sources and renders the captioned training and test scenes.
///
/// # Errors
/// Missing sources, or scenes that cannot be rendered.
pub fn load_scenes(
    scenes: &CaptionedScenesConfig,
    train_count: usize,
    test_count: usize,
    data_dir: Option<&Path>,
) -> Result<(CaptionedScenes, CaptionedScenes, String), TaskError> {
    let train_sources = SceneSources::load(data_dir, Split::Train)?;
    let train = CaptionedScenes::generate(&train_sources.refs(), scenes, train_count, true)?;
    let (test, _) = load_test_scenes(scenes, test_count, data_dir)?;
    Ok((train, test, train_sources.label))
}

/// Loads the test split of the sources and renders `count` captioned test scenes of the
/// settings `scenes`, with another seed than the training scenes; returns them and where the
/// sources came from.
///
/// # Errors
/// Missing sources, or scenes that cannot be rendered.
pub fn load_test_scenes(
    scenes: &CaptionedScenesConfig,
    count: usize,
    data_dir: Option<&Path>,
) -> Result<(CaptionedScenes, String), TaskError> {
    let sources = SceneSources::load(data_dir, Split::Test)?;
    // The test scenes use another seed as well as other source images.
    let test_config = CaptionedScenesConfig {
        seed: scenes.seed ^ 0x7e57,
        ..scenes.clone()
    };
    let mut test = CaptionedScenes::generate(&sources.refs(), &test_config, count, false)?;
    test.config = scenes.clone();
    Ok((test, sources.label))
}

/// What the clip and caption tasks train on: the captioned scenes ([`load_scenes`]), the
/// vocabulary of the training captions, and the pixel statistics of the training scenes fitted on.
pub struct PreparedScenes {
    /// Training scenes: the first [`PreparedScenes::split`] fit, the rest validate.
    pub train: CaptionedScenes,
    /// Test scenes.
    pub test: CaptionedScenes,
    /// Where the source images came from.
    pub source: String,
    /// The words of the training captions.
    pub vocab: Vocab,
    /// Mean and standard deviation of the fitted scenes' pixels.
    pub stats: (f32, f32),
    /// How many training scenes are fitted on.
    fit_count: usize,
}

impl PreparedScenes {
    /// Renders the scenes from `settings.data_dir` (or the shipped samples) and keeps a
    /// `settings.valid_fraction` of the training scenes for validation (at least one fits).
    ///
    /// # Errors
    /// As [`load_scenes`].
    pub fn load(
        scenes: &CaptionedScenesConfig,
        train_count: usize,
        test_count: usize,
        settings: &RunSettings,
    ) -> Result<Self, TaskError> {
        let data_dir = settings.data_dir.as_deref();
        let (train, test, source) = load_scenes(scenes, train_count, test_count, data_dir)?;
        let captions = train.scenes.iter().flat_map(|s| &s.captions);
        let vocab = caption_vocab(captions.map(String::as_str));
        let fit_count = fit_count(train.len(), settings.valid_fraction);
        let stats = pixel_stats(&scene_pixels(
            train.scenes[..fit_count].iter().map(|s| &s.scene),
        ));
        Ok(Self {
            train,
            test,
            source,
            vocab,
            stats,
            fit_count,
        })
    }

    /// The indices of the training scenes fitted on, and of those that validate.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        let fit = (0..self.fit_count).collect();
        (fit, (self.fit_count..self.train.len()).collect())
    }
}

/// Starts a run on captioned scenes: renders and prepares them ([`PreparedScenes::load`],
/// made as `scenes` says, `counts` training and test scenes), sizes `model` to them, and writes
/// the run's `vocab.json` and `run.json` into the run folder ([`write_run_files`]). Returns the
/// scenes, the run's description and the folder.
///
/// # Errors
/// As [`PreparedScenes::load`] and [`write_run_files`].
pub fn start_captioned_run<'a, M: CaptionedModelConfig>(
    settings: &'a RunSettings,
    scenes: &CaptionedScenesConfig,
    counts: (usize, usize),
    model: &M,
) -> Result<(PreparedScenes, CaptionedRunInfo<M>, &'a Path), TaskError> {
    let prepared = PreparedScenes::load(scenes, counts.0, counts.1, settings)?;
    let info = CaptionedRunInfo {
        version: CAPTIONED_RUN_VERSION,
        recipe: settings.name.clone(),
        scenes: scenes.clone(),
        model: model.sized(scenes.canvas, prepared.vocab.len()),
        vocab_fingerprint: prepared.vocab.fingerprint(),
        mean: prepared.stats.0,
        std: prepared.stats.1,
        data: prepared.source.clone(),
    };
    let out = write_run_files(settings, &prepared.vocab, &info)?;
    Ok((prepared, info, out))
}

pub use deepzero_sequence::tasks::write_run_files;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_count_keeps_the_valid_fraction_and_at_least_one_fitted_scene() {
        assert_eq!(fit_count(100, 0.1), 90);
        assert_eq!(fit_count(10, 0.25), 7); // 2.5 rounds to 3 validating
        assert_eq!(fit_count(2, 0.9), 1);
        assert_eq!(fit_count(5, 0.0), 5);
        assert_eq!(fit_count(0, 0.5), 0);
    }

    #[test]
    fn scene_pixels_are_the_scenes_one_after_the_other() {
        let scene = |p: u8| Scene {
            size: 1,
            pixels: vec![p],
            mask: vec![0],
            objects: vec![],
        };
        let scenes = [scene(3), scene(7)];
        assert_eq!(scene_pixels(&scenes), vec![3, 7]);
    }
}
