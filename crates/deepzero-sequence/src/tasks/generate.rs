//! The text-generation task (seed chapters 4.2–4.3): a character language model — an LSTM
//! (embedding → stacked LSTM → linear) or a small decoder-only Transformer (GPT, nanoGPT's
//! `shakespeare_char` set-up) — trained into a run folder, evaluated in nats per character, and
//! read back by a [`Predictor`] that continues prompts.
//!
//! The path of a run: read the corpus ([`corpus_file`]: the data folder holding `input.txt`, or
//! the text file itself; without one the shipped `datasets/tiny-shakespeare-sample/input.txt`)
//! → the sorted character set as vocabulary, saved as `OUT/vocab.json` → the first
//! `1 − valid_fraction` of the text for training, the rest for validation → training on random
//! windows of `block_size + 1` characters, one "epoch" being `steps_per_epoch` steps of
//! `settings.fit.batch_size` windows → `model.bpk`, `run.json` (architecture, vocabulary size
//! and fingerprint), `metrics.json` with `valid.loss` in **nats per character** (also bits per
//! character and perplexity), and `sample.txt` (500 generated characters).
//!
//! [`evaluate_run`] recomputes the validation loss over the validation split (every character
//! once, in consecutive windows). [`Predictor::generate`] continues prompts: an empty prompt
//! starts from a newline, as nanoGPT's sampler does; a prompt character the model never saw is
//! an error naming the character. The GPT sees at most `block_size` characters: longer contexts
//! (prompt plus generated text) are cropped to their last `block_size` characters; the LSTM
//! carries its state and has no limit.
//!
//! ```no_run
//! use deepzero_sequence::tasks::generate::{self, GenerateSpec, Predictor, SampleOptions};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = GenerateSpec::shakespeare_gpt();
//! // No data folder: the shipped sample datasets/tiny-shakespeare-sample.
//! let settings = RunSettings::new("shakespeare-gpt", "runs/gpt");
//! let report = generate::train(&spec, &settings)?;
//! println!("valid loss {} nats/char", report.valid["loss"]);
//! let predictor = Predictor::load("runs/gpt".as_ref(), None, &settings.device()?)?;
//! let text = predictor.generate(&["ROMEO:".into()], &SampleOptions::default())?;
//! println!("ROMEO:{}", text[0]);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use deepzero_data::text::decode_utf8;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::{
    EvalReport, EvalResult, RunReport, RunSettings, Supervised, TaskError, evaluate, fit,
    load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::SequenceError;
use crate::lm::sampling::rng;
use crate::lm::{
    CharCorpus, CharLstmLm, CharLstmLmConfig, CharVocab, ContiguousWindows, Gpt, GptConfig,
    LmBatch, RandomWindows, Sampling,
};

/// Which language model a run trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LmArch {
    /// Embedding → stacked LSTM → linear.
    Lstm,
    /// Decoder-only Transformer.
    Gpt,
}

impl LmArch {
    /// `lstm` or `gpt`, as recorded in run.json.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lstm => "lstm",
            Self::Gpt => "gpt",
        }
    }
}

/// What a generation run builds.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateSpec {
    /// LSTM or GPT.
    pub arch: LmArch,
    /// Characters per training window; the GPT's maximum context.
    pub block_size: usize,
    /// Embedding width (LSTM) or model width `d` (GPT).
    pub d_model: usize,
    /// LSTM hidden width, or the GPT's feed-forward width.
    pub d_hidden: usize,
    /// LSTM layers or Transformer blocks.
    pub n_layers: usize,
    /// Attention heads (GPT).
    pub n_heads: usize,
    /// Dropout.
    pub dropout: f64,
    /// Training steps per "epoch" (an epoch is this many random batches).
    pub steps_per_epoch: usize,
}

impl GenerateSpec {
    /// The character LSTM: embeddings 64, 2 layers of 256, windows of 64 characters, no
    /// dropout, 200 steps per epoch.
    pub fn shakespeare_lstm() -> Self {
        Self {
            arch: LmArch::Lstm,
            block_size: 64,
            d_model: 64,
            d_hidden: 256,
            n_layers: 2,
            n_heads: 0,
            dropout: 0.0,
            steps_per_epoch: 200,
        }
    }

    /// The small GPT: 4 blocks of width 128 (4 heads, FFN 512), block 128, no dropout, 250
    /// steps per epoch.
    pub fn shakespeare_gpt() -> Self {
        Self {
            arch: LmArch::Gpt,
            block_size: 128,
            d_model: 128,
            d_hidden: 512,
            n_layers: 4,
            n_heads: 4,
            dropout: 0.0,
            steps_per_epoch: 250,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.block_size == 0 || self.steps_per_epoch == 0 {
            return Err(TaskError::invalid(
                "block_size and steps_per_epoch must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TaskError::invalid(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }
}

/// How [`Predictor::generate`] samples (with the `clap` feature, the command-line options of
/// the generation recipes; their defaults are [`SampleOptions::default`]'s). Top-p sampling is
/// [`Sampling::with_top_p`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Generation recipes"))]
pub struct SampleOptions {
    /// Characters to generate per prompt.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 300))]
    pub max_new_tokens: usize,
    /// Softmax temperature (0 = greedy, 1 = the model's distribution).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.8))]
    pub temperature: f64,
    /// Sample among the K most likely characters only.
    #[cfg_attr(feature = "clap", arg(long, value_name = "K"))]
    pub top_k: Option<usize>,
    /// Sample within the smallest set of most likely tokens whose probability reaches P
    /// (nucleus sampling; applied after --top-k).
    #[cfg_attr(feature = "clap", arg(long, value_name = "P"))]
    pub top_p: Option<f64>,
    /// Seed of the sampler (prompt i of a file uses SEED + i).
    #[cfg_attr(feature = "clap", arg(long = "seed", default_value_t = 1))]
    pub seed: u64,
}

impl Default for SampleOptions {
    /// 300 characters at temperature 0.8, no top-k or top-p, seed 1.
    fn default() -> Self {
        Self {
            max_new_tokens: 300,
            temperature: 0.8,
            top_k: None,
            top_p: None,
            seed: 1,
        }
    }
}

impl SampleOptions {
    /// The [`Sampling`] these options ask for.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a negative or non-finite temperature, `--top-k 0`, or a
    /// `--top-p` outside `(0, 1]` (named by their options).
    pub fn sampling(&self) -> Result<Sampling, TaskError> {
        if self.top_k == Some(0) {
            return Err(TaskError::invalid("--top-k must be at least 1"));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(TaskError::invalid(format!(
                "--top-p must be in (0, 1], not {p}"
            )));
        }
        Sampling::new(self.temperature, self.top_k)
            .and_then(|s| s.with_top_p(self.top_p))
            .map_err(model_error)
    }
}

/// What to continue and how (with the `clap` feature, the options of `deepzero generate` and
/// of `deepzero predict` for the generation recipes): `--prompt`, and the sampling.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PromptOptions {
    /// The text to continue (see also --input).
    #[cfg_attr(feature = "clap", arg(long, help_heading = "Generation recipes"))]
    pub prompt: Option<String>,
    /// How to sample the continuations.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sample: SampleOptions,
}

impl PromptOptions {
    /// `--prompt` and the prompts given as `arguments`, or else one per line of `input`
    /// ([`Prompts::gather`]; may be none at all).
    ///
    /// # Errors
    /// As [`Prompts::gather`].
    pub fn prompts(
        &self,
        arguments: &[String],
        input: Option<&Path>,
    ) -> Result<Prompts, TaskError> {
        let given = self.prompt.iter().chain(arguments).cloned().collect();
        Prompts::gather(given, input)
    }

    /// [`prompts`](Self::prompts), refusing none at all; `command` names what needs them in
    /// the error (`"predict"`, `"generate"`).
    ///
    /// # Errors
    /// As [`prompts`](Self::prompts), and [`TaskError::Invalid`] for no prompt.
    pub fn some_prompts(
        &self,
        command: &str,
        arguments: &[String],
        input: Option<&Path>,
    ) -> Result<Prompts, TaskError> {
        let prompts = self.prompts(arguments, input)?;
        if prompts.texts.is_empty() {
            return Err(TaskError::invalid(format!(
                "{command} needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)"
            )));
        }
        Ok(prompts)
    }
}

/// The current version of [`LmRunInfo`]'s format.
pub const RUN_VERSION: u32 = 2;

/// `OUT/run.json` of a generation run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LmRunInfo {
    /// Format version (1: written before versions were recorded).
    #[serde(default = "deepzero_train::run_folder::version_1")]
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// `lstm` or `gpt`.
    pub model: String,
    /// The vocabulary file, relative to the run folder.
    pub vocab_file: String,
    /// Its number of characters.
    pub vocab_size: usize,
    /// Its fingerprint ([`CharVocab::fingerprint`]).
    pub vocab_fingerprint: u64,
    /// Characters per window / maximum context.
    pub block_size: usize,
    /// Embedding or model width.
    pub d_model: usize,
    /// LSTM hidden width or GPT feed-forward width.
    pub d_hidden: usize,
    /// Layers.
    pub n_layers: usize,
    /// Heads (GPT).
    pub n_heads: usize,
    /// Dropout.
    pub dropout: f64,
    /// Training steps per epoch.
    pub steps_per_epoch: usize,
    /// Fraction of the text (its end) used for validation.
    pub valid_fraction: f64,
    /// Seed of the weights and the training windows.
    pub seed: u64,
    /// Where the training data came from.
    pub data: String,
}

deepzero_train::impl_run_info!(LmRunInfo, RUN_VERSION);

impl LmRunInfo {
    fn arch(&self) -> Result<LmArch, TaskError> {
        match self.model.as_str() {
            "lstm" => Ok(LmArch::Lstm),
            "gpt" => Ok(LmArch::Gpt),
            other => Err(TaskError::invalid(format!(
                "run.json: unknown model `{other}`"
            ))),
        }
    }

    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "model": self.model,
            "vocab_size": self.vocab_size,
            "vocab_fingerprint": self.vocab_fingerprint,
            "dims": [self.block_size, self.d_model, self.d_hidden, self.n_layers, self.n_heads],
            "steps_per_epoch": self.steps_per_epoch,
        })
    }

    fn lstm_config(&self) -> CharLstmLmConfig {
        CharLstmLmConfig::new(self.vocab_size)
            .with_d_embed(self.d_model)
            .with_d_hidden(self.d_hidden)
            .with_n_layers(self.n_layers)
            .with_dropout(self.dropout)
    }

    fn gpt_config(&self) -> GptConfig {
        GptConfig::new(self.vocab_size, self.block_size)
            .with_d_model(self.d_model)
            .with_d_ff(Some(self.d_hidden))
            .with_n_layers(self.n_layers)
            .with_n_heads(self.n_heads)
            .with_dropout(self.dropout)
    }

    /// Reads `DIR/run.json`, checking its version and, when `recipe` is given, that the run
    /// was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        Ok(info)
    }

    /// Loads the run's vocabulary and checks it is the one the model was trained with.
    pub fn load_vocab(&self, dir: &Path) -> Result<CharVocab, TaskError> {
        let path = deepzero_train::run_file(dir, &self.vocab_file)?;
        let vocab = CharVocab::load(&path).map_err(|e| TaskError::invalid(e.to_string()))?;
        vocab
            .check_matches(self.vocab_size, self.vocab_fingerprint)
            .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))?;
        Ok(vocab)
    }
}

/// A language model this task can train and sample.
trait LanguageModel: Supervised<Batch = LmBatch> {
    fn generate_ids(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        seed: u64,
        device: &Device,
    ) -> Result<Vec<usize>, SequenceError>;
}

impl LanguageModel for Gpt {
    fn generate_ids(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        seed: u64,
        device: &Device,
    ) -> Result<Vec<usize>, SequenceError> {
        self.generate(prompt, max_new, sampling, &mut rng(seed), device)
    }
}

impl LanguageModel for CharLstmLm {
    fn generate_ids(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        seed: u64,
        device: &Device,
    ) -> Result<Vec<usize>, SequenceError> {
        self.generate(prompt, max_new, sampling, &mut rng(seed), device)
    }
}

/// The shipped sample, found as [`deepzero_data::find_sample`] does.
pub fn shipped_sample() -> Option<PathBuf> {
    deepzero_data::find_sample("tiny-shakespeare-sample/input.txt").filter(|p| p.is_file())
}

/// The corpus file: `data_dir` itself if it is a file, else its `input.txt` (or
/// `tiny-shakespeare/input.txt`); without `data_dir`, the shipped sample.
pub fn corpus_file(data_dir: Option<&Path>) -> Result<PathBuf, TaskError> {
    let Some(dir) = data_dir else {
        return shipped_sample().ok_or_else(|| {
            TaskError::invalid(
                "no data folder given and the shipped sample datasets/tiny-shakespeare-sample/input.txt was not found (run from the repository root, or give a data folder)",
            )
        });
    };
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(TaskError::invalid(format!(
            "data directory {} does not exist",
            dir.display()
        )));
    }
    [
        dir.join("input.txt"),
        dir.join("tiny-shakespeare").join("input.txt"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        TaskError::invalid(format!(
            "{} holds no input.txt (give the folder of tiny-shakespeare's input.txt, or the text file itself)",
            dir.display()
        ))
    })
}

/// Reads a corpus: strict UTF-8 (an error names the file, line and byte offset), not empty.
pub fn read_corpus(path: &Path) -> Result<String, TaskError> {
    // Within the read limit of `deepzero_data::limits` (a `DataError` converts to `TaskError`).
    let bytes = deepzero_data::read_file(path)?;
    if bytes.is_empty() {
        return Err(TaskError::invalid(format!(
            "{}: the corpus file is empty",
            path.display()
        )));
    }
    Ok(decode_utf8(&bytes, path)?)
}

fn windows_error(e: crate::text::TextError, path: &Path) -> TaskError {
    TaskError::invalid(format!("{}: {e}", path.display()))
}

fn model_error(e: SequenceError) -> TaskError {
    TaskError::invalid(e.to_string())
}

/// Trains a character language model as `spec` says into `settings.out` (data from
/// `settings.data_dir`, or the shipped sample; the last `settings.valid_fraction` of the text
/// validates); returns what it wrote to `metrics.json`.
pub fn train(spec: &GenerateSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    if settings.valid_fraction <= 0.0 {
        return Err(TaskError::invalid(format!(
            "{} needs a validation split: the validation fraction must be in (0, 1)",
            settings.name
        )));
    }
    let seed = settings.seed();
    let path = corpus_file(settings.data_dir.as_deref())?;
    let text = read_corpus(&path)?;
    let settings = &settings.with_data(&[&path])?;
    let corpus =
        CharCorpus::new(&text, settings.valid_fraction).map_err(|e| windows_error(e, &path))?;
    let vocab = &corpus.vocab;
    let train_source = RandomWindows::new(
        corpus.train.clone(),
        spec.block_size,
        spec.steps_per_epoch,
        settings.fit.batch_size,
        seed,
    )
    .map_err(|e| windows_error(e, &path))?;
    let valid_source = ContiguousWindows::new(corpus.valid.clone(), spec.block_size)
        .map_err(|e| windows_error(e, &path))?;

    let out = settings.create_out()?;
    settings.write_run_json("vocab.json", &vocab)?;
    let info = LmRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        model: spec.arch.name().into(),
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        block_size: spec.block_size,
        d_model: spec.d_model,
        d_hidden: spec.d_hidden,
        n_layers: spec.n_layers,
        n_heads: spec.n_heads,
        dropout: spec.dropout,
        steps_per_epoch: spec.steps_per_epoch,
        valid_fraction: settings.valid_fraction,
        seed,
        data: path.display().to_string(),
    };
    settings.write_run_json("run.json", &info)?;

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let context = TrainContext {
        settings,
        device: &device,
        info: &info,
        corpus: &corpus,
        train: &train_source,
        valid: &valid_source,
        out,
        chars: text.chars().count(),
    };
    match spec.arch {
        LmArch::Lstm => context.run(
            info.lstm_config()
                .init(&train_device)
                .map_err(model_error)?,
        ),
        LmArch::Gpt => context.run(info.gpt_config().init(&train_device).map_err(model_error)?),
    }
}

struct TrainContext<'a> {
    settings: &'a RunSettings,
    device: &'a Device,
    info: &'a LmRunInfo,
    corpus: &'a CharCorpus,
    train: &'a RandomWindows,
    valid: &'a ContiguousWindows,
    out: &'a Path,
    chars: usize,
}

impl TrainContext<'_> {
    fn run<M: LanguageModel>(&self, model: M) -> Result<RunReport, TaskError> {
        let (settings, info, out) = (self.settings, self.info, self.out);
        let fit_config = &settings.fit;
        let mut progress = settings.progress();
        progress.message(&format!(
            "{}: {} ({} parameters) on {} ({} characters: {} train / {} valid), vocabulary {} characters, block {}, backend {}, {} epochs × {} steps, batch {}, {} lr {} ({}), out {}",
            settings.name,
            info.model,
            model.num_params(),
            info.data,
            self.chars,
            self.corpus.train.len(),
            self.corpus.valid.len(),
            info.vocab_size,
            info.block_size,
            settings.backend,
            fit_config.epochs,
            info.steps_per_epoch,
            fit_config.batch_size,
            fit_config.optimizer,
            fit_config.learning_rate,
            fit_config.schedule,
            out.display()
        ));
        let train_device = self.device.clone().autodiff();
        let outcome = fit(
            model,
            self.train,
            Some(self.valid),
            &train_device,
            fit_config,
            &settings.run_dir(info.fingerprint()),
            &mut progress,
        )?;
        let model = outcome.model.valid();
        save_model(&model, &out.join("model.bpk"))?;
        let valid = evaluate(&model, self.valid, 64, self.device)?;

        let vocab = &self.corpus.vocab;
        let start = vocab.encode("\n").unwrap_or_else(|_| vec![0]);
        let sampling = Sampling::new(0.8, None).expect("valid settings");
        let sample = model
            .generate_ids(&start, 500, &sampling, settings.seed(), self.device)
            .map_err(model_error)?;
        let sample = vocab.decode(&sample);
        let sample_path = out.join("sample.txt");
        std::fs::write(&sample_path, &sample).map_err(TaskError::io(&sample_path))?;

        // fit counts targets (characters) as samples; steps are epochs × steps per epoch.
        let steps = outcome.history.len() * info.steps_per_epoch;
        let this_process_steps = (outcome.history.len()
            - outcome
                .resumed_after
                .unwrap_or(0)
                .min(outcome.history.len()))
            * info.steps_per_epoch;
        let seconds_per_step = outcome.train_seconds / this_process_steps.max(1) as f64;
        let report = RunReport::new(
            settings,
            &outcome,
            format!("character language model ({})", info.model),
            model.num_params(),
        );
        let report = RunReport {
            data: json!({
                "source": info.data,
                "characters": self.chars,
                "train_characters": self.corpus.train.len(),
                "valid_characters": self.corpus.valid.len(),
                "valid_fraction": info.valid_fraction,
            }),
            // Windows per second (fit counts each predicted character as a sample).
            train_samples_per_second: outcome.samples_per_second() / info.block_size as f64,
            valid: valid_json(&valid, self.valid.predicted_tokens()),
            ..report
        }
        .with("steps_per_epoch", info.steps_per_epoch)
        .with("steps", steps)
        .with("block_size", info.block_size)
        .with("vocab_size", info.vocab_size)
        .with("seconds_per_step", seconds_per_step)
        .with("train_characters_per_second", outcome.samples_per_second())
        .with("sample_file", "sample.txt");
        let path = report.write(out)?;
        progress.message(&format!(
            "valid: loss {:.4} nats/char ({:.3} bits/char, perplexity {:.2}, next-char accuracy {:.2}%) after {steps} steps (model of epoch {}), {:.3} s/step -> {}",
            valid.loss,
            valid.loss / std::f64::consts::LN_2,
            valid.loss.exp(),
            valid.accuracy * 100.0,
            outcome.model_epoch,
            seconds_per_step,
            path.display()
        ));
        Ok(report)
    }
}

fn valid_json(valid: &EvalResult, predicted: usize) -> serde_json::Value {
    json!({
        "loss": valid.loss,
        "loss_unit": "nats per character",
        "bits_per_char": valid.loss / std::f64::consts::LN_2,
        "perplexity": valid.loss.exp(),
        "accuracy": valid.accuracy,
        "windows": valid.examples,
        "predicted_characters": predicted,
    })
}

/// A trained model of either kind, loaded from a run folder.
enum Loaded {
    Lstm(CharLstmLm),
    Gpt(Gpt),
}

impl Loaded {
    fn load(info: &LmRunInfo, dir: &Path, device: &Device) -> Result<Self, TaskError> {
        let file = model_file(dir)?;
        Ok(match info.arch()? {
            LmArch::Lstm => Loaded::Lstm(
                load_model(info.lstm_config().init(device).map_err(model_error)?, &file)?.valid(),
            ),
            LmArch::Gpt => Loaded::Gpt(
                load_model(info.gpt_config().init(device).map_err(model_error)?, &file)?.valid(),
            ),
        })
    }
}

/// The validation loss (nats per character) of the run in `run` over the validation split of
/// the corpus (`settings.data_dir`, or the shipped sample), split as in training; writes
/// `settings.out/metrics.json` with the figures under `valid` (`test` is null: the corpus has
/// no test split).
pub fn evaluate_run(
    spec: &GenerateSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = LmRunInfo::load(run, Some(&settings.name))?;
    if info.arch()? != spec.arch {
        return Err(TaskError::invalid(format!(
            "run {} holds a {} model, not a {} one",
            run.display(),
            info.model,
            spec.arch.name()
        )));
    }
    let vocab = info.load_vocab(run)?;
    let device = settings.device()?;
    let model = Loaded::load(&info, run, &device)?;
    let path = corpus_file(settings.data_dir.as_deref())?;
    let text = read_corpus(&path)?;
    let ids: Vec<u32> = vocab
        .encode(&text)
        .map_err(|e| windows_error(e, &path))?
        .into_iter()
        .map(|i| i as u32)
        .collect();
    let cut = ((1.0 - info.valid_fraction) * ids.len() as f64).floor() as usize;
    let valid_source = ContiguousWindows::new(Arc::new(ids[cut..].to_vec()), info.block_size)
        .map_err(|e| windows_error(e, &path))?;
    let start = std::time::Instant::now();
    let batch = settings.eval_batch_size.unwrap_or(64);
    let valid = match &model {
        Loaded::Lstm(m) => evaluate(m, &valid_source, batch, &device)?,
        Loaded::Gpt(m) => evaluate(m, &valid_source, batch, &device)?,
    };
    let report = EvalReport::new(
        settings,
        run,
        path.display().to_string(),
        valid.examples,
        start.elapsed().as_secs_f64(),
        serde_json::Value::Null,
    )
    .with("block_size", info.block_size)
    .with("valid", valid_json(&valid, valid_source.predicted_tokens()));
    let metrics = report.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: valid loss {:.4} nats/char ({:.3} bits/char) over {} characters of {} -> {}",
        settings.name,
        valid.loss,
        valid.loss / std::f64::consts::LN_2,
        valid_source.predicted_tokens(),
        path.display(),
        metrics.display()
    ));
    Ok(report)
}

/// `\n`, `\r`, `\t` and `\\` for newline, carriage return, tab and backslash: a continuation
/// (which usually holds newlines) as one line, for line-oriented front ends.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape`]; any other backslash is kept as it is.
pub fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// Prompts and how a line-oriented front end received them.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompts {
    /// The prompts.
    pub texts: Vec<String>,
    /// Read one per line (escaped as [`escape`] writes them): the continuations are printed one
    /// per line too, escaped; otherwise each is printed after its prompt.
    pub one_per_line: bool,
}

impl Prompts {
    /// Prompts given one by one (e.g. as command-line arguments).
    pub fn given(texts: Vec<String>) -> Self {
        Self {
            texts,
            one_per_line: false,
        }
    }

    /// One prompt per line, each [`unescape`]d.
    pub fn from_lines(lines: &[String]) -> Self {
        Self {
            texts: lines.iter().map(|line| unescape(line)).collect(),
            one_per_line: true,
        }
    }

    /// The prompts `given` one by one, or else, when none is, one per line of `input`
    /// (standard input when `None` or `-`; [`super::read_lines`]).
    ///
    /// # Errors
    /// Prompts given both ways, or `input` unreadable.
    pub fn gather(given: Vec<String>, input: Option<&Path>) -> Result<Self, TaskError> {
        match (input, given.is_empty()) {
            (Some(_), false) => Err(TaskError::invalid(
                "give prompts either with --prompt / as arguments or with --input, not both",
            )),
            (input, true) => Ok(Self::from_lines(&super::read_lines(input)?)),
            (None, false) => Ok(Self::given(given)),
        }
    }

    /// Pairs the prompts with their continuations, for printing.
    pub fn with_continuations(self, continuations: Vec<String>) -> Generations {
        let items = self
            .texts
            .into_iter()
            .zip(continuations)
            .map(|(prompt, continuation)| Generation {
                prompt,
                continuation,
            })
            .collect();
        Generations {
            items,
            one_per_line: self.one_per_line,
        }
    }
}

/// One prompt and its continuation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generation {
    /// The prompt.
    pub prompt: String,
    /// What the model wrote after it.
    pub continuation: String,
}

/// Continuations as a front end prints them: serialised as a list of [`Generation`]s; displayed
/// one escaped continuation per line ([`Prompts::one_per_line`]), or else each prompt followed
/// by its continuation, separated by a line of dashes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Generations {
    /// Prompt and continuation pairs, in the prompts' order.
    pub items: Vec<Generation>,
    #[serde(skip)]
    one_per_line: bool,
}

impl std::fmt::Display for Generations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, g) in self.items.iter().enumerate() {
            if self.one_per_line {
                writeln!(f, "{}", escape(&g.continuation))?;
            } else {
                if i > 0 {
                    writeln!(f, "---------------")?;
                }
                writeln!(f, "{}{}", g.prompt, g.continuation)?;
            }
        }
        Ok(())
    }
}

/// A trained language model loaded from its run folder, ready to continue prompts.
pub struct Predictor {
    info: LmRunInfo,
    vocab: CharVocab,
    model: Loaded,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = LmRunInfo::load(dir, recipe)?;
        let vocab = info.load_vocab(dir)?;
        let model = Loaded::load(&info, dir, device)?;
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// The architecture of the loaded model.
    pub fn arch(&self) -> LmArch {
        match self.model {
            Loaded::Lstm(_) => LmArch::Lstm,
            Loaded::Gpt(_) => LmArch::Gpt,
        }
    }

    /// The GPT's maximum context (the LSTM's training window).
    pub fn block_size(&self) -> usize {
        self.info.block_size
    }

    /// The continuation of each prompt (without the prompt). Prompt `i` (0-based) is sampled
    /// with seed `options.seed + i`; an empty prompt starts from a newline. A character the
    /// model never saw is an error naming the prompt (1-based) and the character.
    pub fn generate(
        &self,
        prompts: &[String],
        options: &SampleOptions,
    ) -> Result<Vec<String>, TaskError> {
        let sampling = options.sampling()?;
        let mut out = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let start = if prompt.is_empty() {
                "\n"
            } else {
                prompt.as_str()
            };
            let ids = self
                .vocab
                .encode(start)
                .map_err(|e| TaskError::invalid(format!("prompt {}: {e}", i + 1)))?;
            let seed = options.seed.wrapping_add(i as u64);
            let (n, device) = (options.max_new_tokens, &self.device);
            let new = match &self.model {
                Loaded::Lstm(m) => m.generate_ids(&ids, n, &sampling, seed, device),
                Loaded::Gpt(m) => m.generate_ids(&ids, n, &sampling, seed, device),
            }
            .map_err(model_error)?;
            out.push(self.vocab.decode(&new));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let text = "ROMEO:\nO, she doth\tteach \\ the torches\r\n";
        let line = escape(text);
        assert!(!line.contains('\n') && !line.contains('\t'));
        assert_eq!(line, "ROMEO:\\nO, she doth\\tteach \\\\ the torches\\r\\n");
        assert_eq!(unescape(&line), text);
        assert_eq!(unescape("a\\qb\\"), "a\\qb\\"); // unknown escapes stay
    }

    #[test]
    fn generations_print_per_prompt_or_per_line() {
        let given = Prompts::given(vec!["To be".into(), "O".into()]);
        let shown = given.with_continuations(vec![", or not".into(), " Romeo\n".into()]);
        assert_eq!(
            shown.to_string(),
            "To be, or not\n---------------\nO Romeo\n\n"
        );
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(
            json,
            json!([
                { "prompt": "To be", "continuation": ", or not" },
                { "prompt": "O", "continuation": " Romeo\n" },
            ])
        );
        let lines = Prompts::from_lines(&["a\\nb".into(), "c".into()]);
        assert_eq!(lines.texts, ["a\nb", "c"]);
        let shown = lines.with_continuations(vec!["x\ny".into(), "z".into()]);
        assert_eq!(shown.to_string(), "x\\ny\nz\n");
    }

    #[test]
    fn prompts_are_given_or_read_one_per_line_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prompts.txt");
        std::fs::write(&file, "a\\nb\nc\n").unwrap();
        let read = Prompts::gather(Vec::new(), Some(&file)).unwrap();
        assert_eq!(read, Prompts::from_lines(&["a\\nb".into(), "c".into()]));
        let given = Prompts::gather(vec!["x".into()], None).unwrap();
        assert_eq!(given, Prompts::given(vec!["x".into()]));
        let err = Prompts::gather(vec!["x".into()], Some(&file)).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let missing = dir.path().join("missing.txt");
        assert!(Prompts::gather(Vec::new(), Some(&missing)).is_err());
    }

    #[test]
    fn prompt_option_comes_before_the_arguments() {
        let options = PromptOptions {
            prompt: Some("first".into()),
            ..PromptOptions::default()
        };
        let prompts = options.prompts(&["second".into()], None).unwrap();
        assert_eq!(
            prompts,
            Prompts::given(vec!["first".into(), "second".into()])
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prompts.txt");
        std::fs::write(&file, "a\n").unwrap();
        let err = options.prompts(&[], Some(&file)).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let read = PromptOptions::default().prompts(&[], Some(&file)).unwrap();
        assert_eq!(read.texts, ["a"]);
        std::fs::write(&file, "").unwrap();
        let none = PromptOptions::default().some_prompts("generate", &[], Some(&file));
        assert_eq!(
            none.unwrap_err().to_string(),
            "generate needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)"
        );
    }

    #[test]
    fn sample_options_name_the_option_out_of_range() {
        let ok = SampleOptions {
            top_k: Some(5),
            top_p: Some(0.9),
            ..SampleOptions::default()
        };
        assert_eq!(
            ok.sampling().unwrap(),
            Sampling::new(0.8, Some(5))
                .unwrap()
                .with_top_p(Some(0.9))
                .unwrap()
        );
        let message = |options: SampleOptions| options.sampling().unwrap_err().to_string();
        let top_k = message(SampleOptions {
            top_k: Some(0),
            ..ok.clone()
        });
        assert_eq!(top_k, "--top-k must be at least 1");
        let top_p = message(SampleOptions {
            top_p: Some(0.0),
            ..ok.clone()
        });
        assert_eq!(top_p, "--top-p must be in (0, 1], not 0");
        let temperature = message(SampleOptions {
            temperature: -1.0,
            ..ok
        });
        assert!(temperature.contains("temperature"), "{temperature}");
    }

    #[test]
    fn corpus_errors_are_one_line_and_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        let err = read_corpus(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.txt") && err.contains("empty"), "{err}");
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"first line\nsecond caf\xe9\n").unwrap();
        let err = read_corpus(&latin1).unwrap_err().to_string();
        assert!(
            err.contains("latin1.txt:2:") && err.contains("offset 21"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        // A folder without input.txt, and a folder with one.
        let err = corpus_file(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("no input.txt"), "{err}");
        std::fs::write(dir.path().join("input.txt"), "abc").unwrap();
        assert_eq!(
            corpus_file(Some(dir.path())).unwrap(),
            dir.path().join("input.txt")
        );
        assert_eq!(corpus_file(Some(&latin1)).unwrap(), latin1);
    }

    #[test]
    fn run_json_versions_are_checked() {
        let mut info = json!({
            "recipe": "shakespeare-gpt", "model": "gpt", "vocab_file": "vocab.json",
            "vocab_size": 65, "vocab_fingerprint": 1, "block_size": 128, "d_model": 128,
            "d_hidden": 512, "n_layers": 4, "n_heads": 4, "dropout": 0.0,
            "steps_per_epoch": 250, "valid_fraction": 0.1, "seed": 42, "data": "d",
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.json"), info.to_string()).unwrap();
        let loaded = LmRunInfo::load(dir.path(), Some("shakespeare-gpt")).unwrap();
        assert_eq!(loaded.version, 1);
        assert_eq!(loaded.arch().unwrap(), LmArch::Gpt);
        info["version"] = json!(RUN_VERSION + 1);
        std::fs::write(dir.path().join("run.json"), info.to_string()).unwrap();
        let err = LmRunInfo::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("version 3") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn recipes_keep_their_hyper_parameters() {
        let gpt = GenerateSpec::shakespeare_gpt();
        assert_eq!(
            (
                gpt.block_size,
                gpt.d_model,
                gpt.d_hidden,
                gpt.n_layers,
                gpt.n_heads
            ),
            (128, 128, 512, 4, 4)
        );
        assert_eq!((gpt.dropout, gpt.steps_per_epoch), (0.0, 250));
        let lstm = GenerateSpec::shakespeare_lstm();
        assert_eq!(
            (lstm.block_size, lstm.d_model, lstm.d_hidden, lstm.n_layers),
            (64, 64, 256, 2)
        );
        assert_eq!((lstm.dropout, lstm.steps_per_epoch), (0.0, 200));
        let mut bad = gpt;
        bad.block_size = 0;
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("block_size")
        );
    }
}
