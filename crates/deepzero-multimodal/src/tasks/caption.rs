//! The captioning task (`scenes-caption`, and `scenes-caption-global` without attention over
//! regions): captioned scenes → a [`Captioner`] in a run folder → BLEU-4 (sacreBLEU) and
//! CIDEr-D of greedy and beam-search captions against the four captions of each test scene, and
//! a [`CaptionPredictor`] for image files.
//!
//! ```no_run
//! use deepzero_multimodal::tasks::caption::{self, CaptionPredictor, CaptionSpec};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let settings = RunSettings::new("scenes-caption", "runs/caption");
//! let report = caption::train(&CaptionSpec::small(), &settings)?;
//! println!("BLEU-4 {}", report.test["beam"]["bleu4"]);
//! let predictor = CaptionPredictor::load("runs/caption".as_ref(), None, &settings.device()?)?;
//! println!("{}", predictor.caption_files(&["scene.png".as_ref()], 4)?[0]);
//! # Ok(()) }
//! ```
//!
//! Decoding reuses the translation search ([`beam_search_with`]): beam size 1 without length
//! penalty is greedy decoding. Run folder: `run.json` ([`CaptionRunInfo`]), `vocab.json`,
//! `model.bpk`, `metrics.json` (with sample captions), `metrics.csv`, `curves.png`.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use deepzero_sequence::tasks::text_classifier::TextBatcher;
use deepzero_sequence::text::Vocab;
use deepzero_sequence::translation::bleu::corpus_bleu;
use deepzero_sequence::translation::decode::{BeamConfig, beam_search_with};
use deepzero_train::{BatchSource, RunReport, RunSettings, TaskError, TrainError};
use serde::Serialize;
use serde_json::json;

use crate::captions::{CaptionedScenes, CaptionedScenesConfig};
use crate::data::{encode_caption, image_tensor};
use crate::metrics::cider_d;
use crate::models::{CaptionBatch, CaptionMemory, Captioner, CaptionerConfig};
use crate::tasks::scene_run::{
    CAPTIONED_RUN_VERSION, CaptionedRunInfo, PreparedScenes, SceneRun, fit_captioned,
    load_test_scenes, scene_pixels, start_captioned_run, write_evaluation,
};

/// What a captioning run trains.
#[derive(Clone, Debug)]
pub struct CaptionSpec {
    /// How the scenes are made.
    pub scenes: CaptionedScenesConfig,
    /// Training scenes (a `valid_fraction` of them validate).
    pub train_scenes: usize,
    /// Test scenes captioned for BLEU and CIDEr-D.
    pub test_scenes: usize,
    /// Beam size of the beam-search figures.
    pub beam_size: usize,
    /// The model (`image_size` and `vocab_size` are set from the data).
    pub model: CaptionerConfig,
}

impl CaptionSpec {
    /// `scenes-caption`: attention over the 6×6 regions of 48-pixel scenes; 8 000 training
    /// scenes (32 000 captions) and 1 000 test scenes.
    pub fn scenes_caption() -> Self {
        Self {
            scenes: CaptionedScenesConfig::default(),
            train_scenes: 8_000,
            test_scenes: 1_000,
            beam_size: 4,
            model: CaptionerConfig::new(48, 0),
        }
    }

    /// `scenes-caption-global`: the same without attention over regions (one memory slot).
    pub fn scenes_caption_global() -> Self {
        let mut spec = Self::scenes_caption();
        spec.model = spec.model.with_memory(CaptionMemory::Global);
        spec
    }

    /// A quick version for examples and tests: 1 000 training and 100 test scenes, one layer.
    pub fn small() -> Self {
        Self {
            train_scenes: 1_000,
            test_scenes: 100,
            model: CaptionerConfig::new(48, 0).with_n_layers(1),
            ..Self::scenes_caption()
        }
    }
}

/// The current version of [`CaptionRunInfo`]'s format.
pub const RUN_VERSION: u32 = CAPTIONED_RUN_VERSION;

/// What `run.json` records about a captioning run.
pub type CaptionRunInfo = CaptionedRunInfo<CaptionerConfig>;

/// Image–caption pairs for teacher forcing: every paraphrase of every scene is one example.
pub struct CaptionPairs {
    size: usize,
    pixels: Vec<u8>,
    /// (scene, token ids of one caption).
    examples: Vec<(usize, Vec<usize>)>,
    stats: (f32, f32),
    bos: usize,
    eos: usize,
}

impl CaptionPairs {
    /// The examples of `scenes[indices]`, all paraphrases (`all_captions`) or the canonical one.
    pub fn new(
        scenes: &CaptionedScenes,
        indices: &[usize],
        vocab: &Vocab,
        config: &CaptionerConfig,
        stats: (f32, f32),
        all_captions: bool,
    ) -> Self {
        let size = scenes.config.canvas;
        let mut pixels = Vec::with_capacity(indices.len() * size * size);
        let mut examples = Vec::new();
        for (k, &i) in indices.iter().enumerate() {
            let s = &scenes.scenes[i];
            pixels.extend_from_slice(&s.scene.pixels);
            let take = if all_captions { s.captions.len() } else { 1 };
            for c in &s.captions[..take] {
                let (ids, _) = encode_caption(vocab, c, config.max_len - 1);
                examples.push((k, ids));
            }
        }
        Self {
            size,
            pixels,
            examples,
            stats,
            bos: config.bos(),
            eos: config.eos(),
        }
    }
}

impl BatchSource<CaptionBatch> for CaptionPairs {
    fn len(&self) -> usize {
        self.examples.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<CaptionBatch, TrainError> {
        let area = self.size * self.size;
        let mut pixels = Vec::with_capacity(indices.len() * area);
        let mut inputs: Vec<Vec<usize>> = Vec::with_capacity(indices.len());
        for &i in indices {
            let (scene, ids) = self
                .examples
                .get(i)
                .ok_or_else(|| TrainError::Data(format!("no caption example {i}")))?;
            pixels.extend_from_slice(&self.pixels[scene * area..(scene + 1) * area]);
            inputs.push(
                std::iter::once(self.bos)
                    .chain(ids.iter().copied())
                    .collect(),
            );
        }
        let docs: Vec<&[usize]> = inputs.iter().map(Vec::as_slice).collect();
        let (input, padding) = TextBatcher::tokens_tensor(&docs, device);
        let steps = input.dims()[1];
        let (mut positions, mut targets) = (Vec::new(), Vec::new());
        for (b, seq) in inputs.iter().enumerate() {
            for t in 0..seq.len() {
                positions.push((b * steps + t) as i64);
                // The next word, or <eos> after the last one.
                targets.push(seq.get(t + 1).copied().unwrap_or(self.eos) as i64);
            }
        }
        let n = positions.len();
        Ok(CaptionBatch {
            images: image_tensor(&pixels, self.size, self.stats.0, self.stats.1, device),
            input,
            padding,
            positions: Tensor::from_data(TensorData::new(positions, [n]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
        })
    }
}

/// BLEU-4 and CIDEr-D of one decoding.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CaptionScores {
    /// Corpus BLEU-4 (sacreBLEU, 13a tokenisation) / 100, against the four captions.
    pub bleu4: f64,
    /// CIDEr-D (coco-caption).
    pub cider_d: f64,
    /// Fraction of generated captions equal to one of the scene's four captions.
    pub exact: f64,
}

/// An image file and its caption.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageCaption {
    /// The file, as given.
    pub image: String,
    /// The caption.
    pub caption: String,
}

impl std::fmt::Display for ImageCaption {
    /// `image<TAB>caption`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\t{}", self.image, self.caption)
    }
}

/// Image files to caption, and how wide the search is (with the `clap` feature, the options
/// of `deepzero caption`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CaptionOptions {
    /// PNG or JPEG images (read as grey, light ink on dark, resized to the scenes' side).
    pub images: Vec<PathBuf>,
    /// Beams of the search (1: greedy).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 4))]
    pub beam: usize,
}

impl CaptionOptions {
    /// Refuses a search without beams, naming the option.
    pub fn check(&self) -> Result<(), TaskError> {
        if self.beam == 0 {
            return Err(TaskError::invalid("--beam must be at least 1"));
        }
        Ok(())
    }
}

/// A trained captioner loaded with its vocabulary and pixel statistics.
pub struct CaptionPredictor {
    run: SceneRun<CaptionRunInfo, Captioner>,
}

impl CaptionPredictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    ///
    /// # Errors
    /// Missing or inconsistent run-folder files, or a run of another recipe.
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let run = SceneRun::load_captioned(dir, recipe, device)?;
        Ok(Self { run })
    }

    /// What run.json says.
    pub fn info(&self) -> &CaptionRunInfo {
        &self.run.info
    }

    /// Captions of grey `S×S` images (`N·S·S` bytes): beam search with `beam_size` beams
    /// (1: greedy).
    ///
    /// # Errors
    /// The byte count is not a whole number of images.
    pub fn caption_pixels(
        &self,
        pixels: &[u8],
        beam_size: usize,
    ) -> Result<Vec<String>, TaskError> {
        let s = self.run.info.scenes.canvas;
        if !pixels.len().is_multiple_of(s * s) {
            return Err(TaskError::invalid(format!(
                "{} bytes are not a whole number of {s}×{s} images",
                pixels.len()
            )));
        }
        let config = &self.run.info.model;
        let beam = BeamConfig::new()
            .with_beam_size(beam_size.max(1))
            .with_length_penalty(if beam_size > 1 { 0.6 } else { 0.0 })
            .with_max_len(config.max_len - 1);
        let mut out = Vec::new();
        for chunk in pixels.chunks(s * s * 100) {
            let images = self.run.images(chunk, s);
            let memory = self.run.model.memory(images);
            let n = chunk.len() / (s * s);
            let limits = vec![config.max_len - 1; n];
            let hyps = beam_search_with(
                |sentences, prefixes| self.next_log_probs(&memory, sentences, prefixes),
                &limits,
                config.bos(),
                config.eos(),
                &beam,
            );
            out.extend(hyps.iter().map(|h| {
                let words: Vec<usize> = h
                    .tokens
                    .iter()
                    .copied()
                    .filter(|&t| t < config.vocab_size)
                    .collect();
                self.run.vocab.decode(&words)
            }));
        }
        Ok(out)
    }

    fn next_log_probs(
        &self,
        memory: &Tensor<3>,
        sentences: &[usize],
        prefixes: &[Vec<usize>],
    ) -> Vec<Vec<f32>> {
        let rows = prefixes.len();
        let len = prefixes[0].len();
        let idx: Vec<i64> = sentences.iter().map(|&s| s as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows]), &self.run.device);
        let mem = memory.clone().select(0, idx); // [R, M, d]
        let flat: Vec<i64> = prefixes.iter().flatten().map(|&t| t as i64).collect();
        let input =
            Tensor::<2, Int>::from_data(TensorData::new(flat, [rows, len]), &self.run.device);
        let logits = self.run.model.decode(mem, input, None); // [R, len, V]
        let vocab = logits.dims()[2];
        let last = log_softmax(
            logits.slice(s![.., len - 1.., ..]).reshape([rows, vocab]),
            1,
        );
        let values: Vec<f32> = last
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_else(|_| vec![f32::NEG_INFINITY; rows * vocab]);
        values.chunks(vocab).map(<[f32]>::to_vec).collect()
    }

    /// Captions of PNG/JPEG files (read as grey `S×S`, light ink on dark).
    ///
    /// # Errors
    /// A file that is missing or does not decode.
    pub fn caption_files(
        &self,
        paths: &[&Path],
        beam_size: usize,
    ) -> Result<Vec<String>, TaskError> {
        let s = self.run.info.scenes.canvas;
        let mut pixels = Vec::with_capacity(paths.len() * s * s);
        for path in paths {
            pixels.extend(deepzero_data::load_image(path, 1, [s, s])?.pixels);
        }
        self.caption_pixels(&pixels, beam_size)
    }

    /// [`CaptionPredictor::caption_files`], each caption with its file.
    ///
    /// # Errors
    /// As [`CaptionPredictor::caption_files`].
    pub fn caption_images(
        &self,
        paths: &[&Path],
        beam_size: usize,
    ) -> Result<Vec<ImageCaption>, TaskError> {
        let captions = self.caption_files(paths, beam_size)?;
        let pairs = paths.iter().zip(captions);
        let captioned = pairs.map(|(path, caption)| ImageCaption {
            image: path.display().to_string(),
            caption,
        });
        Ok(captioned.collect())
    }

    /// [`CaptionPredictor::caption_images`] of the images `options` name, with its beams.
    ///
    /// # Errors
    /// As [`CaptionOptions::check`] and [`CaptionPredictor::caption_files`].
    pub fn caption(&self, options: &CaptionOptions) -> Result<Vec<ImageCaption>, TaskError> {
        options.check()?;
        let paths: Vec<&Path> = options.images.iter().map(PathBuf::as_path).collect();
        self.caption_images(&paths, options.beam)
    }

    /// BLEU-4 and CIDEr-D of the captions of `test` (greedy, then `beam_size` beams), the first
    /// few captions as samples, and how many reference words are `<unk>` to the model.
    pub fn evaluate(
        &self,
        test: &CaptionedScenes,
        beam_size: usize,
    ) -> Result<serde_json::Value, TaskError> {
        let pixels = scene_pixels(test.scenes.iter().map(|s| &s.scene));
        let references: Vec<Vec<String>> = test.scenes.iter().map(|s| s.captions.clone()).collect();
        let unknown: usize = references
            .iter()
            .flatten()
            .map(|c| encode_caption(&self.run.vocab, c, usize::MAX).1)
            .sum();
        let score = |hyps: &[String]| {
            let streams: Vec<Vec<&str>> = (0..references[0].len())
                .map(|k| references.iter().map(|r| r[k].as_str()).collect())
                .collect();
            let exact = hyps
                .iter()
                .zip(&references)
                .filter(|(h, r)| r.contains(h))
                .count() as f64
                / hyps.len().max(1) as f64;
            CaptionScores {
                bleu4: corpus_bleu(hyps, &streams).score / 100.0,
                cider_d: cider_d(hyps, &references).score,
                exact,
            }
        };
        let greedy = self.caption_pixels(&pixels, 1)?;
        let beam = self.caption_pixels(&pixels, beam_size)?;
        let samples: Vec<serde_json::Value> = (0..test.len().min(8))
            .map(|i| json!({ "reference": references[i][0], "greedy": greedy[i], "beam": beam[i] }))
            .collect();
        Ok(json!({
            "scenes": test.len(),
            "greedy": score(&greedy),
            "beam": score(&beam),
            "beam_size": beam_size,
            "unknown_reference_words": unknown,
            "samples": samples,
        }))
    }
}

/// Trains the captioner of `spec` into `settings.out`, then writes its BLEU-4 and CIDEr-D on
/// the test scenes to `metrics.json`.
pub fn train(spec: &CaptionSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    settings.validate()?;
    if spec.train_scenes < 2 || spec.test_scenes == 0 {
        return Err(TaskError::invalid(
            "captioning needs at least 2 training scenes and 1 test scene",
        ));
    }
    let mut progress = settings.progress();
    let counts = (spec.train_scenes, spec.test_scenes);
    let (prepared, info, out) = start_captioned_run(settings, &spec.scenes, counts, &spec.model)?;
    let model_config = info.model.clone();
    // Every caption of a training scene teaches; validation reads the canonical one.
    let pairs = |indices: &[usize], all_captions: bool| {
        let (vocab, stats) = (&prepared.vocab, prepared.stats);
        CaptionPairs::new(
            &prepared.train,
            indices,
            vocab,
            &model_config,
            stats,
            all_captions,
        )
    };
    let (fit_idx, valid_idx) = prepared.split();
    let (train_pairs, valid_pairs) = (pairs(&fit_idx, true), pairs(&valid_idx, false));
    drop(prepared.train);
    let PreparedScenes {
        test: test_scenes,
        source,
        vocab,
        ..
    } = prepared;
    progress.message(&format!(
        "{}: captioner ({:?} memory) on scenes from {source} ({} train captions / {} valid / {} test scenes, {} words), backend {}, {}, out {}",
        settings.name,
        model_config.memory,
        train_pairs.len(),
        valid_pairs.len(),
        test_scenes.len(),
        vocab.len(),
        settings.backend,
        settings.fit.describe(),
        out.display()
    ));
    let valid = Some(&valid_pairs);
    let (device, outcome) = fit_captioned(settings, &info, &train_pairs, valid, &mut progress)?;
    let model = outcome.model.clone();
    let predictor = CaptionPredictor {
        run: SceneRun {
            info,
            vocab,
            model: model.clone(),
            device,
        },
    };
    let test = predictor.evaluate(&test_scenes, spec.beam_size)?;
    let last = outcome.history.last();
    let report = RunReport::new(
        settings,
        &outcome,
        format!("scene-cnn-transformer-captioner-{:?}", model_config.memory).to_lowercase(),
        model.num_params(),
    );
    let report = RunReport {
        data: json!({
            "source": source,
            "train_captions": train_pairs.len(),
            "valid_scenes": valid_pairs.len(),
            "test_scenes": test_scenes.len(),
        }),
        valid: json!({
            "loss": last.and_then(|r| r.valid_loss),
            "token_accuracy": last.and_then(|r| r.valid_accuracy),
        }),
        test: test.clone(),
        ..report
    };
    let path = report.write(out)?;
    progress.message(&summary_line(
        &settings.name,
        &test,
        test_scenes.len(),
        &path,
    ));
    Ok(report)
}

/// BLEU-4 and CIDEr-D of the run in `run` on freshly rendered test scenes (the run's own scene
/// settings, `settings.data_dir` for the sources); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &CaptionSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<serde_json::Value, TaskError> {
    let device = settings.device()?;
    let predictor = CaptionPredictor::load(run, Some(&settings.name), &device)?;
    let data_dir = settings.data_dir.as_deref();
    let (test, source) = load_test_scenes(&predictor.info().scenes, spec.test_scenes, data_dir)?;
    let metrics = predictor.evaluate(&test, spec.beam_size)?;
    let path = write_evaluation(settings, run, &source, &metrics)?;
    let line = summary_line(&settings.name, &metrics, test.len(), &path);
    settings.progress().message(&line);
    Ok(metrics)
}

impl deepzero_train::Task for CaptionSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// `NAME: test BLEU-4 greedy … / beam …, CIDEr-D greedy … / beam … on N scenes -> PATH`.
fn summary_line(name: &str, test: &serde_json::Value, scenes: usize, path: &Path) -> String {
    let score = |decoding: &str, metric: &str| test[decoding][metric].as_f64().unwrap_or(f64::NAN);
    format!(
        "{name}: test BLEU-4 greedy {:.3} / beam {:.3}, CIDEr-D greedy {:.3} / beam {:.3} on {scenes} scenes -> {}",
        score("greedy", "bleu4"),
        score("beam", "bleu4"),
        score("greedy", "cider_d"),
        score("beam", "cider_d"),
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_train::FitConfig;

    #[test]
    fn trains_a_run_folder_that_captions_files_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let spec = CaptionSpec {
            train_scenes: 64,
            test_scenes: 6,
            beam_size: 2,
            model: CaptionerConfig::new(48, 0)
                .with_cnn_width(2)
                .with_d_model(16)
                .with_d_ff(16)
                .with_n_layers(1),
            ..CaptionSpec::scenes_caption()
        };
        let mut settings = RunSettings::new("scenes-caption", &out).with_fit(FitConfig {
            epochs: 1,
            batch_size: 32,
            ..FitConfig::default()
        });
        settings.quiet = true;
        let report = train(&spec, &settings).unwrap();
        for decoding in ["greedy", "beam"] {
            let s = &report.test[decoding];
            let bleu = s["bleu4"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&bleu), "{s}");
            assert!(s["cider_d"].as_f64().unwrap() >= 0.0);
        }
        assert_eq!(report.test["unknown_reference_words"], 0);
        assert_eq!(report.test["samples"].as_array().unwrap().len(), 6);

        let device = Device::flex();
        let predictor = CaptionPredictor::load(&out, Some("scenes-caption"), &device).unwrap();
        let png = dir.path().join("scene.png");
        image::GrayImage::from_pixel(30, 20, image::Luma([0u8]))
            .save(&png)
            .unwrap();
        let captions = predictor.caption_files(&[png.as_path()], 2).unwrap();
        assert_eq!(captions.len(), 1);
        let captioned = predictor.caption_images(&[png.as_path()], 2).unwrap();
        assert_eq!(captioned[0].caption, captions[0]);
        let line = format!("{}\t{}", png.display(), captions[0]);
        assert_eq!(captioned[0].to_string(), line);
        let options = CaptionOptions {
            images: vec![png.clone()],
            beam: 2,
        };
        assert_eq!(predictor.caption(&options).unwrap(), captioned);
        let no_beams = CaptionOptions { beam: 0, ..options };
        let err = predictor.caption(&no_beams).unwrap_err();
        assert_eq!(err.to_string(), "--beam must be at least 1");
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not an image").unwrap();
        assert!(predictor.caption_files(&[bad.as_path()], 1).is_err());
        assert!(predictor.caption_pixels(&[1, 2, 3], 1).is_err());
        let err = CaptionPredictor::load(&out, Some("scenes-clip"), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("scenes-caption"), "{err}");
    }
}
