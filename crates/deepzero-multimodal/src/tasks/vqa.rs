//! The question answering tasks: `scenes-vqa` (image and question fused by stacked
//! cross-attention over the regions), and its baselines trained identically,
//! `scenes-vqa-text` (the question alone) and `scenes-vqa-image` (the image alone). Captioned
//! scenes → questions ([`crate::vqa`]) → a [`VqaModel`] in a run folder → test accuracy overall,
//! per question kind and on scenes with held-out class pairs, beside the question-only prior
//! (the majority answer of each question in training), and a [`VqaPredictor`] for image files.
//!
//! ```no_run
//! use deepzero_multimodal::tasks::vqa::{self, VqaPredictor, VqaSpec};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let settings = RunSettings::new("scenes-vqa", "runs/vqa");
//! let report = vqa::train(&VqaSpec::small(), &settings)?;
//! println!("accuracy {} (prior {})", report.test["accuracy"], report.test["prior"]["accuracy"]);
//! let predictor = VqaPredictor::load("runs/vqa".as_ref(), None, &settings.device()?)?;
//! for answer in predictor.answer_file("scene.png".as_ref(), &["how many sevens are there ?"])? {
//!     println!("{answer}");
//! }
//! # Ok(()) }
//! ```
//!
//! Questions with words the vocabulary has not seen are answered with those words read as
//! `<unk>` (each answer lists them); an empty question is a one-line error. Run folder:
//! `run.json` ([`VqaRunInfo`]), `vocab.json`, `prior.json` ([`AnswerPrior`]), `model.bpk`,
//! `metrics.json`, `metrics.csv`, `curves.png`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_data::Split;
use deepzero_sequence::tasks::text_classifier::TextBatcher;
use deepzero_sequence::text::{UNK_ID, Vocab, VocabConfig};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{BatchSource, RunReport, RunSettings, TaskError, TrainError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::captions::{CaptionedScenes, CaptionedScenesConfig};
use crate::data::{SceneSources, image_tensor, pixel_stats};
use crate::models::{VqaBatch, VqaInputs, VqaModel, VqaModelConfig};
use crate::tasks::scene_run::{
    SceneRun, fit_count, impl_scene_run_info, scene_pixels, training_devices, write_evaluation,
    write_run_files,
};
use crate::vqa::{ANSWERS, AnswerPrior, QuestionConfig, QuestionKind, VqaScenes};

/// What a question answering run trains.
#[derive(Clone, Debug)]
pub struct VqaSpec {
    /// How the scenes are made.
    pub scenes: CaptionedScenesConfig,
    /// How the questions are drawn.
    pub questions: QuestionConfig,
    /// Training scenes (a `valid_fraction` of them validate).
    pub train_scenes: usize,
    /// Test scenes.
    pub test_scenes: usize,
    /// The model (`image_size`, `vocab_size` and `answers` are set from the data).
    pub model: VqaModelConfig,
}

impl VqaSpec {
    /// `scenes-vqa`: stacked cross-attention (2 hops) of the question over the 6×6 regions of
    /// 48-pixel scenes; 8 000 training scenes (about 56 000 questions), 1 000 test scenes.
    pub fn scenes_vqa() -> Self {
        Self::with_inputs(VqaInputs::Fusion)
    }

    /// `scenes-vqa-text`: the same questions, the question alone.
    pub fn scenes_vqa_text() -> Self {
        Self::with_inputs(VqaInputs::Question)
    }

    /// `scenes-vqa-image`: the same scenes, the image alone.
    pub fn scenes_vqa_image() -> Self {
        Self::with_inputs(VqaInputs::Image)
    }

    /// The recipe spec of a model reading `inputs`.
    pub fn with_inputs(inputs: VqaInputs) -> Self {
        Self {
            scenes: CaptionedScenesConfig::default(),
            questions: QuestionConfig::default(),
            train_scenes: 8_000,
            test_scenes: 1_000,
            model: VqaModelConfig::new(48, 0, ANSWERS.len()).with_inputs(inputs),
        }
    }

    /// A quick version for examples and tests: 600 training and 100 test scenes.
    pub fn small() -> Self {
        Self {
            train_scenes: 600,
            test_scenes: 100,
            ..Self::scenes_vqa()
        }
    }
}

/// The current version of [`VqaRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `run.json` records about a question answering run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VqaRunInfo {
    /// Format version.
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// How the scenes were made.
    pub scenes: CaptionedScenesConfig,
    /// How the questions were drawn.
    pub questions: QuestionConfig,
    /// The model's configuration.
    pub model: VqaModelConfig,
    /// Fingerprint of `vocab.json`.
    pub vocab_fingerprint: u64,
    /// Mean of pixel/255 over the training scenes.
    pub mean: f32,
    /// Its standard deviation.
    pub std: f32,
    /// Where the source images came from.
    pub data: String,
}

impl_scene_run_info!(VqaRunInfo, RUN_VERSION);

/// The training and test scenes with their questions, rendered from `data_dir` (or the
/// shipped samples): the test scenes from the sources' test split with another seed, as the
/// other scene tasks do.
///
/// # Errors
/// Missing sources, or scenes the questions cannot describe.
pub fn load_vqa_scenes(
    scenes: &CaptionedScenesConfig,
    questions: &QuestionConfig,
    train_count: usize,
    test_count: usize,
    data_dir: Option<&Path>,
) -> Result<(VqaScenes, VqaScenes, String), TaskError> {
    let render = |split: Split, config: &CaptionedScenesConfig, count: usize, training: bool| {
        if count == 0 {
            return Ok::<_, TaskError>((VqaScenes { scenes: vec![] }, String::new()));
        }
        let sources = SceneSources::load(data_dir, split)?;
        let captioned = CaptionedScenes::generate(&sources.refs(), config, count, training)?;
        let questions = QuestionConfig {
            seed: questions.seed ^ if training { 0 } else { 0x7e57 },
            ..questions.clone()
        };
        Ok((
            VqaScenes::from_captioned(captioned, &questions)?,
            sources.label,
        ))
    };
    let (train, label) = render(Split::Train, scenes, train_count, true)?;
    let test_config = CaptionedScenesConfig {
        seed: scenes.seed ^ 0x7e57,
        ..scenes.clone()
    };
    let (test, test_label) = render(Split::Test, &test_config, test_count, false)?;
    Ok((
        train,
        test,
        if label.is_empty() { test_label } else { label },
    ))
}

/// The vocabulary of the training questions (lower-cased words and punctuation).
pub fn question_vocab(scenes: &VqaScenes) -> Vocab {
    let texts = scenes
        .scenes
        .iter()
        .flat_map(|s| s.questions.iter().map(|q| q.text.as_str()));
    Vocab::build(texts, VocabConfig::words())
}

/// Scenes and their questions as a [`BatchSource`] of [`VqaBatch`]es: an example is a scene
/// with all its questions, so the CNN runs once per scene.
pub struct VqaExamples {
    size: usize,
    pixels: Vec<u8>,
    /// Per scene: (token ids, answer) of each question.
    questions: Vec<Vec<(Vec<usize>, usize)>>,
    stats: (f32, f32),
}

impl VqaExamples {
    /// The examples of `scenes[indices]`, questions cut to `max_len` tokens.
    pub fn new(
        scenes: &VqaScenes,
        indices: &[usize],
        vocab: &Vocab,
        max_len: usize,
        stats: (f32, f32),
    ) -> Self {
        let size = scenes.scenes.first().map_or(0, |s| s.scene.size);
        let mut pixels = Vec::with_capacity(indices.len() * size * size);
        let mut questions = Vec::with_capacity(indices.len());
        for &i in indices {
            let s = &scenes.scenes[i];
            pixels.extend_from_slice(&s.scene.pixels);
            questions.push(
                s.questions
                    .iter()
                    .map(|q| (vocab.encode_truncated(&q.text, max_len).0, q.answer))
                    .collect(),
            );
        }
        Self {
            size,
            pixels,
            questions,
            stats,
        }
    }

    /// Number of questions over all scenes.
    pub fn num_questions(&self) -> usize {
        self.questions.iter().map(Vec::len).sum()
    }
}

impl BatchSource<VqaBatch> for VqaExamples {
    fn len(&self) -> usize {
        self.questions.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<VqaBatch, TrainError> {
        let area = self.size * self.size;
        let mut pixels = Vec::with_capacity(indices.len() * area);
        let (mut docs, mut scene, mut answers) = (Vec::new(), Vec::new(), Vec::new());
        for (row, &i) in indices.iter().enumerate() {
            let questions = self
                .questions
                .get(i)
                .ok_or_else(|| TrainError::Data(format!("no scene {i}")))?;
            pixels.extend_from_slice(&self.pixels[i * area..(i + 1) * area]);
            for (ids, answer) in questions {
                docs.push(ids.as_slice());
                scene.push(row as i64);
                answers.push(*answer as i64);
            }
        }
        let (tokens, padding) = TextBatcher::tokens_tensor(&docs, device);
        let q = scene.len();
        Ok(VqaBatch {
            images: image_tensor(&pixels, self.size, self.stats.0, self.stats.1, device),
            tokens,
            padding,
            scene: Tensor::from_data(TensorData::new(scene, [q]), device),
            answers: Tensor::from_data(TensorData::new(answers, [q]), device),
        })
    }
}

/// An answer to one question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VqaAnswer {
    /// The question, as given.
    pub question: String,
    /// The answer word ([`ANSWERS`]).
    pub answer: String,
    /// Its probability under the model.
    pub probability: f32,
    /// Words of the question the vocabulary did not know (read as `<unk>`).
    pub unknown_words: Vec<String>,
}

impl std::fmt::Display for VqaAnswer {
    /// `question<TAB>answer<TAB>probability`, then the unknown words if any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\t{}\t{:.3}",
            self.question, self.answer, self.probability
        )?;
        if !self.unknown_words.is_empty() {
            write!(
                f,
                "\t(unknown words read as <unk>: {})",
                self.unknown_words.join(" ")
            )?;
        }
        Ok(())
    }
}

/// A trained VQA model loaded with its vocabulary and pixel statistics.
pub struct VqaPredictor {
    run: SceneRun<VqaRunInfo, VqaModel>,
}

impl VqaPredictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    ///
    /// # Errors
    /// Missing or inconsistent run-folder files, or a run of another recipe.
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let init = |info: &VqaRunInfo, device: &Device| {
            info.model.init(device).map_err(TaskError::invalid)
        };
        let run = SceneRun::load(dir, recipe, device, init)?;
        Ok(Self { run })
    }

    /// What run.json says.
    pub fn info(&self) -> &VqaRunInfo {
        &self.run.info
    }

    /// Token ids of a question and the words the vocabulary does not know.
    ///
    /// # Errors
    /// A question without any word.
    pub fn encode(&self, question: &str) -> Result<(Vec<usize>, Vec<String>), TaskError> {
        let (ids, _) = self
            .run
            .vocab
            .encode_truncated(question, self.run.info.model.max_len);
        if ids.is_empty() {
            return Err(TaskError::invalid("an empty question cannot be answered"));
        }
        let unknown = self
            .run
            .vocab
            .tokenize(question)
            .into_iter()
            .filter(|w| self.run.vocab.id(w).is_none())
            .collect();
        Ok((ids, unknown))
    }

    /// Answer probabilities of `questions[k]` about the grey `S×S` image `scene[k]` of
    /// `pixels` (`N·S·S` bytes), `[Q, A]` row-major.
    fn probabilities(
        &self,
        pixels: &[u8],
        docs: &[&[usize]],
        scene: &[usize],
    ) -> Result<Vec<f32>, TaskError> {
        let s = self.run.info.scenes.canvas;
        let images = self.run.images(pixels, s);
        let (tokens, padding) = TextBatcher::tokens_tensor(docs, &self.run.device);
        let rows: Vec<i64> = scene.iter().map(|&i| i as i64).collect();
        let scene = Tensor::from_data(TensorData::new(rows, [scene.len()]), &self.run.device);
        let logits = self.run.model.forward(images, tokens, padding, scene);
        softmax(logits, 1)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| TaskError::invalid(format!("answer probabilities: {e:?}")))
    }

    /// Answers `questions` about one grey `S×S` image (`S·S` bytes, light ink on dark).
    ///
    /// # Errors
    /// Not one image's worth of bytes, no question, or an empty question.
    pub fn answer_pixels<S: AsRef<str>>(
        &self,
        pixels: &[u8],
        questions: &[S],
    ) -> Result<Vec<VqaAnswer>, TaskError> {
        let s = self.run.info.scenes.canvas;
        if pixels.len() != s * s {
            return Err(TaskError::invalid(format!(
                "{} bytes are not one {s}×{s} image",
                pixels.len()
            )));
        }
        if questions.is_empty() {
            return Err(TaskError::invalid("no question to answer"));
        }
        let encoded = questions
            .iter()
            .map(|q| self.encode(q.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let docs: Vec<&[usize]> = encoded.iter().map(|(ids, _)| ids.as_slice()).collect();
        let probs = self.probabilities(pixels, &docs, &vec![0; docs.len()])?;
        let answers = ANSWERS.len();
        Ok(questions
            .iter()
            .zip(encoded)
            .zip(probs.chunks(answers))
            .map(|((q, (_, unknown)), p)| {
                let (best, probability) = argmax(p);
                VqaAnswer {
                    question: q.as_ref().to_string(),
                    answer: ANSWERS[best].to_string(),
                    probability,
                    unknown_words: unknown,
                }
            })
            .collect())
    }

    /// Answers `questions` about a PNG/JPEG file (read as grey `S×S`, light ink on dark).
    ///
    /// # Errors
    /// A file that is missing or does not decode, and those of [`VqaPredictor::answer_pixels`].
    pub fn answer_file<S: AsRef<str>>(
        &self,
        image: &Path,
        questions: &[S],
    ) -> Result<Vec<VqaAnswer>, TaskError> {
        let s = self.run.info.scenes.canvas;
        let pixels = deepzero_data::load_image(image, 1, [s, s])?.pixels;
        self.answer_pixels(&pixels, questions)
    }

    /// `IMAGE QUESTION…` as the command line gives them: the first input is the image file,
    /// the others the questions about it.
    ///
    /// # Errors
    /// No image or no question, and those of [`VqaPredictor::answer_file`].
    pub fn answer_inputs(&self, inputs: &[String]) -> Result<Vec<VqaAnswer>, TaskError> {
        match inputs.split_first() {
            Some((image, questions)) if !questions.is_empty() => {
                self.answer_file(Path::new(image), questions)
            }
            _ => Err(TaskError::invalid(format!(
                "{} answers questions about an image: give IMAGE then one or more QUESTIONs",
                self.run.info.recipe
            ))),
        }
    }

    /// Predicted answers (indices into [`ANSWERS`]) of every question of `scenes`, scene by
    /// scene in order.
    ///
    /// # Errors
    /// The model's output cannot be read back.
    pub fn predict(&self, scenes: &VqaScenes) -> Result<Vec<usize>, TaskError> {
        let mut out = Vec::new();
        let area = self.run.info.scenes.canvas.pow(2);
        for chunk in scenes.scenes.chunks(64) {
            let mut pixels = Vec::with_capacity(chunk.len() * area);
            let (mut ids, mut scene) = (Vec::new(), Vec::new());
            for (row, s) in chunk.iter().enumerate() {
                pixels.extend_from_slice(&s.scene.pixels);
                for q in &s.questions {
                    ids.push(
                        self.run
                            .vocab
                            .encode_truncated(&q.text, self.run.info.model.max_len)
                            .0,
                    );
                    scene.push(row);
                }
            }
            if ids.is_empty() {
                continue;
            }
            let docs: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
            let probs = self.probabilities(&pixels, &docs, &scene)?;
            out.extend(probs.chunks(ANSWERS.len()).map(|p| argmax(p).0));
        }
        Ok(out)
    }

    /// Accuracy on `test`: overall, per question kind, on scenes with and without a held-out
    /// class pair, beside the question-only `prior` (when given) and the majority answer of
    /// each kind; a few sample answers; how many question words are `<unk>`.
    ///
    /// # Errors
    /// As [`VqaPredictor::predict`].
    pub fn evaluate(
        &self,
        test: &VqaScenes,
        prior: Option<&AnswerPrior>,
    ) -> Result<serde_json::Value, TaskError> {
        let predicted = self.predict(test)?;
        let mut model = Tally::default();
        let mut by_prior = Tally::default();
        let mut by_kind_majority = Tally::default();
        let mut unknown = 0usize;
        let mut samples = Vec::new();
        let questions = test
            .scenes
            .iter()
            .flat_map(|s| s.questions.iter().map(move |q| (s.novel, q)));
        for ((novel, q), &p) in questions.zip(&predicted) {
            model.add(q.kind, novel, p == q.answer);
            if let Some(prior) = prior {
                by_prior.add(q.kind, novel, prior.answer(q) == Some(q.answer));
                by_kind_majority.add(q.kind, novel, prior.kind_answer(q.kind) == Some(q.answer));
            }
            let (ids, _) = self.run.vocab.encode_truncated(&q.text, usize::MAX);
            unknown += ids.iter().filter(|&&i| i == UNK_ID).count();
            if samples.len() < 12 {
                samples.push(json!({
                    "question": q.text, "answer": ANSWERS[q.answer], "predicted": ANSWERS[p],
                }));
            }
        }
        let mut out = model.json();
        out["scenes"] = json!(test.len());
        out["novel_scenes"] = json!(test.scenes.iter().filter(|s| s.novel).count());
        if prior.is_some() {
            out["prior"] = by_prior.json();
            out["kind_majority"] = by_kind_majority.json();
        }
        out["unknown_question_words"] = json!(unknown);
        out["samples"] = json!(samples);
        Ok(out)
    }
}

fn argmax(p: &[f32]) -> (usize, f32) {
    p.iter().copied().enumerate().fold(
        (0, f32::NEG_INFINITY),
        |b, (i, v)| if v > b.1 { (i, v) } else { b },
    )
}

/// Hits and counts overall, per kind, and on novel / seen scenes.
#[derive(Default)]
struct Tally {
    all: (usize, usize),
    kinds: BTreeMap<QuestionKind, (usize, usize)>,
    novel: (usize, usize),
    seen: (usize, usize),
}

impl Tally {
    fn add(&mut self, kind: QuestionKind, novel: bool, hit: bool) {
        let bump = |t: &mut (usize, usize)| {
            t.0 += usize::from(hit);
            t.1 += 1;
        };
        bump(&mut self.all);
        bump(self.kinds.entry(kind).or_default());
        bump(if novel {
            &mut self.novel
        } else {
            &mut self.seen
        });
    }

    fn json(&self) -> serde_json::Value {
        let rate = |(hit, n): (usize, usize)| {
            if n == 0 {
                serde_json::Value::Null
            } else {
                json!(hit as f64 / n as f64)
            }
        };
        let kinds: serde_json::Map<String, serde_json::Value> = self
            .kinds
            .iter()
            .map(|(k, &t)| {
                (
                    k.name().to_string(),
                    json!({ "accuracy": rate(t), "questions": t.1 }),
                )
            })
            .collect();
        json!({
            "accuracy": rate(self.all),
            "questions": self.all.1,
            "per_kind": kinds,
            "novel": { "accuracy": rate(self.novel), "questions": self.novel.1 },
            "seen": { "accuracy": rate(self.seen), "questions": self.seen.1 },
        })
    }
}

/// Trains the VQA model of `spec` into `settings.out`, then writes its test accuracy (with the
/// question-only prior beside it) to `metrics.json`.
pub fn train(spec: &VqaSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    settings.validate()?;
    if spec.train_scenes < 2 || spec.test_scenes == 0 {
        return Err(TaskError::invalid(
            "question answering needs at least 2 training scenes and 1 test scene",
        ));
    }
    let mut progress = settings.progress();
    let (train_scenes, test_scenes, source) = load_vqa_scenes(
        &spec.scenes,
        &spec.questions,
        spec.train_scenes,
        spec.test_scenes,
        settings.data_dir.as_deref(),
    )?;
    let fit_count = fit_count(train_scenes.len(), settings.valid_fraction);
    let (fit_idx, valid_idx): (Vec<usize>, Vec<usize>) = (
        (0..fit_count).collect(),
        (fit_count..train_scenes.len()).collect(),
    );
    let vocab = question_vocab(&train_scenes);
    let stats = pixel_stats(&scene_pixels(
        train_scenes.scenes[..fit_count].iter().map(|s| &s.scene),
    ));
    let prior = AnswerPrior::fit(train_scenes.questions(&fit_idx).map(|(_, q)| q));
    let model_config = VqaModelConfig {
        image_size: spec.scenes.canvas,
        vocab_size: vocab.len(),
        answers: ANSWERS.len(),
        ..spec.model.clone()
    };
    let info = VqaRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        scenes: spec.scenes.clone(),
        questions: spec.questions.clone(),
        model: model_config.clone(),
        vocab_fingerprint: vocab.fingerprint(),
        mean: stats.0,
        std: stats.1,
        data: source.clone(),
    };
    let (device, train_device) = training_devices(settings)?;
    let model = model_config
        .init(&train_device)
        .map_err(TaskError::invalid)?;
    let out = write_run_files(settings, &vocab, &info)?;
    write_json_atomic(&out.join("prior.json"), &prior)?;
    let max_len = model_config.max_len;
    let train_examples = VqaExamples::new(&train_scenes, &fit_idx, &vocab, max_len, stats);
    let valid_examples = VqaExamples::new(&train_scenes, &valid_idx, &vocab, max_len, stats);
    drop(train_scenes);
    progress.message(&format!(
        "{}: VQA model ({:?}) on scenes from {source} ({} train scenes / {} questions, {} valid scenes, {} test scenes, {} words), backend {}, {}, out {}",
        settings.name,
        model_config.inputs,
        train_examples.len(),
        train_examples.num_questions(),
        valid_examples.len(),
        test_scenes.len(),
        vocab.len(),
        settings.backend,
        settings.fit.describe(),
        out.display()
    ));
    let identity = json!({ "recipe": settings.name, "model": model_config, "scenes": spec.scenes, "questions": spec.questions });
    let valid = (!valid_idx.is_empty()).then_some(&valid_examples);
    let outcome = settings.fit_and_save(
        model,
        &train_examples,
        valid,
        &train_device,
        identity,
        &mut progress,
    )?;
    let model = outcome.model.clone();
    let predictor = VqaPredictor {
        run: SceneRun {
            info,
            vocab,
            model: model.clone(),
            device,
        },
    };
    let test = predictor.evaluate(&test_scenes, Some(&prior))?;
    let last = outcome.history.last();
    let report = RunReport::new(
        settings,
        &outcome,
        format!("scene-cnn-vqa-{:?}", model_config.inputs).to_lowercase(),
        model.num_params(),
    );
    let report = RunReport {
        data: json!({
            "source": source,
            "train_scenes": train_examples.len(),
            "train_questions": train_examples.num_questions(),
            "valid_scenes": valid_examples.len(),
            "test_scenes": test_scenes.len(),
        }),
        valid: json!({
            "loss": last.and_then(|r| r.valid_loss),
            "accuracy": last.and_then(|r| r.valid_accuracy),
        }),
        test: test.clone(),
        ..report
    };
    let path = report.write(out)?;
    progress.message(&summary_line(&settings.name, &test, &path));
    Ok(report)
}

/// Accuracy of the run in `run` on freshly rendered test scenes (the run's own scene and
/// question settings, `settings.data_dir` for the sources), beside its saved prior; writes
/// `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &VqaSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<serde_json::Value, TaskError> {
    let device = settings.device()?;
    let predictor = VqaPredictor::load(run, Some(&settings.name), &device)?;
    let info = predictor.info();
    let (_, test, source) = load_vqa_scenes(
        &info.scenes,
        &info.questions,
        0,
        spec.test_scenes,
        settings.data_dir.as_deref(),
    )?;
    let prior_path = run.join("prior.json");
    let prior: Option<AnswerPrior> = match std::fs::read_to_string(&prior_path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| TaskError::invalid(format!("{}: {e}", prior_path.display())))?,
        ),
        Err(_) => None,
    };
    let metrics = predictor.evaluate(&test, prior.as_ref())?;
    let path = write_evaluation(settings, run, &source, &metrics)?;
    settings
        .progress()
        .message(&summary_line(&settings.name, &metrics, &path));
    Ok(metrics)
}

impl deepzero_train::Task for VqaSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// `NAME: test accuracy … (prior …), count … / class count … / exists … / beside …, held-out pairs … -> PATH`.
fn summary_line(name: &str, test: &serde_json::Value, path: &Path) -> String {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let kinds: Vec<String> = QuestionKind::ALL
        .iter()
        .map(|k| {
            format!(
                "{} {:.3}",
                k.name(),
                f(&test["per_kind"][k.name()]["accuracy"])
            )
        })
        .collect();
    format!(
        "{name}: test accuracy {:.3} (question-only prior {:.3}) on {} questions; {}; held-out pairs {:.3} -> {}",
        f(&test["accuracy"]),
        f(&test["prior"]["accuracy"]),
        test["questions"],
        kinds.join(", "),
        f(&test["novel"]["accuracy"]),
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_train::FitConfig;

    #[test]
    fn trains_a_run_folder_that_answers_files_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let spec = VqaSpec {
            train_scenes: 48,
            test_scenes: 12,
            model: VqaModelConfig::new(48, 0, ANSWERS.len())
                .with_cnn_width(2)
                .with_d_model(16)
                .with_d_ff(16),
            ..VqaSpec::scenes_vqa()
        };
        let mut settings = RunSettings::new("scenes-vqa", &out).with_fit(FitConfig {
            epochs: 1,
            batch_size: 16,
            ..FitConfig::default()
        });
        settings.quiet = true;
        let report = train(&spec, &settings).unwrap();
        let test = &report.test;
        let accuracy = test["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{test}");
        let questions = test["questions"].as_u64().unwrap();
        assert!(questions >= 12 * 3, "{test}");
        let per_kind: u64 = QuestionKind::ALL
            .iter()
            .filter_map(|k| test["per_kind"][k.name()]["questions"].as_u64())
            .sum();
        assert_eq!(per_kind, questions);
        assert_eq!(
            test["novel"]["questions"].as_u64().unwrap()
                + test["seen"]["questions"].as_u64().unwrap(),
            questions
        );
        assert!(test["prior"]["accuracy"].as_f64().is_some(), "{test}");
        // 43 training scenes need not use every word of the test questions: counted, not failed.
        assert!(test["unknown_question_words"].as_u64().is_some(), "{test}");
        assert!(out.join("prior.json").is_file());

        let device = Device::flex();
        let predictor = VqaPredictor::load(&out, Some("scenes-vqa"), &device).unwrap();
        let png = dir.path().join("scene.png");
        image::GrayImage::from_pixel(48, 48, image::Luma([0u8]))
            .save(&png)
            .unwrap();
        let answers = predictor
            .answer_file(&png, &["how many sevens are there ?", "is there a zebra ?"])
            .unwrap();
        assert_eq!(answers.len(), 2);
        assert!(ANSWERS.contains(&answers[0].answer.as_str()));
        assert!(answers[0].unknown_words.is_empty());
        assert_eq!(answers[1].unknown_words, vec!["zebra".to_string()]);
        assert!(
            answers[1]
                .to_string()
                .ends_with("(unknown words read as <unk>: zebra)")
        );
        let inputs = vec![
            png.display().to_string(),
            "how many sevens are there ?".into(),
        ];
        assert_eq!(predictor.answer_inputs(&inputs).unwrap()[0], answers[0]);

        // Bad input: one-line errors.
        let err = predictor
            .answer_file(&png, &["  "])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "an empty question cannot be answered");
        let none: [&str; 0] = [];
        assert!(predictor.answer_file(&png, &none).is_err());
        let err = predictor
            .answer_inputs(&inputs[..1])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("give IMAGE then one or more QUESTIONs"),
            "{err}"
        );
        assert!(
            predictor
                .answer_pixels(&[1, 2, 3], &["is there a bag ?"])
                .is_err()
        );
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not an image").unwrap();
        assert!(predictor.answer_file(&bad, &["is there a bag ?"]).is_err());
        let err = VqaPredictor::load(&out, Some("scenes-caption"), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("scenes-vqa"), "{err}");

        // Evaluation of the saved run reproduces the test figures.
        let eval = RunSettings {
            out: dir.path().join("eval"),
            quiet: true,
            ..settings.clone()
        };
        let again = evaluate_run(&spec, &out, &eval).unwrap();
        assert_eq!(again["accuracy"], test["accuracy"]);
        assert_eq!(again["prior"], test["prior"]);
    }
}
