//! Train, evaluate and sample the character language models (seed chapters 4.2–4.3):
//! `shakespeare-lstm` (embedding → 2-layer LSTM → linear) and `shakespeare-gpt` (a small
//! decoder-only Transformer, nanoGPT's `shakespeare_char` set-up).
//!
//! The path of a run: read the corpus (`--data-dir` is a folder holding `input.txt`, e.g.
//! `../shared/datasets/tiny-shakespeare`, or the text file itself; without it the shipped
//! `datasets/tiny-shakespeare-sample/input.txt`) → the sorted character set as vocabulary,
//! saved as `OUT/vocab.json` → the first 90 % of the text for training, the last 10 %
//! (`--valid-fraction`) for validation → training on random windows of `block + 1`
//! characters (`--max-len` sets the block size), one "epoch" being `--steps-per-epoch` steps
//! of `--batch-size` windows → `model.bpk`, `run.json` (architecture, vocabulary size and
//! fingerprint), `metrics.json` with `valid.loss` in **nats per character** (also bits per
//! character and perplexity), and `sample.txt` (500 generated characters).
//!
//! `eval` recomputes the validation loss over the validation split (every character once, in
//! consecutive windows). `predict` generates:
//!
//! - `--prompt TEXT` (or prompts as arguments): prints each prompt followed by its
//!   continuation as plain text, samples separated by a line of dashes (as nanoGPT's
//!   `sample.py`);
//! - `--input FILE` (`-`: standard input; also the default when no prompt is given): one
//!   prompt per line, one continuation per output line. Since a continuation usually holds
//!   newlines, output lines are **escaped**: `\n` newline, `\r` carriage return, `\t` tab,
//!   `\\` backslash; input lines may use the same escapes (so `ROMEO:\n` is a prompt ending
//!   in a newline).
//!
//! An empty prompt starts from a newline, as nanoGPT's sampler does. A prompt character the
//! model never saw is an error naming the character. The GPT sees at most `block` characters:
//! longer contexts (prompt plus generated text) are cropped to their last `block` characters;
//! the LSTM carries its state and has no limit.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use deepzero_sequence::SequenceError;
use deepzero_sequence::lm::sampling::rng;
use deepzero_sequence::lm::{
    CharCorpus, CharLstmLm, CharLstmLmConfig, CharVocab, ContiguousWindows, Gpt, GptConfig,
    LmBatch, RandomWindows, Sampling,
};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{RunDir, Supervised, evaluate, fit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::image_task::model_file;
use crate::recipes::{Recipe, RecipeKind};
use crate::{Backend, CliError, TrainArgs};

/// Which language model a recipe trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LmArch {
    /// Embedding → stacked LSTM → linear.
    Lstm,
    /// Decoder-only Transformer.
    Gpt,
}

impl LmArch {
    fn name(self) -> &'static str {
        match self {
            Self::Lstm => "lstm",
            Self::Gpt => "gpt",
        }
    }
}

/// What a generation recipe builds (its registry entry).
#[derive(Clone, Debug)]
pub struct LmRecipe {
    /// LSTM or GPT.
    pub arch: LmArch,
    /// Default block size (characters per training window; the GPT's maximum context).
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
    /// Default `--steps-per-epoch`.
    pub steps_per_epoch: usize,
}

/// `OUT/run.json` of a generation run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LmRunInfo {
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

impl LmRunInfo {
    fn arch(&self) -> Result<LmArch, CliError> {
        match self.model.as_str() {
            "lstm" => Ok(LmArch::Lstm),
            "gpt" => Ok(LmArch::Gpt),
            other => Err(CliError::Usage(format!(
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

    /// Reads `DIR/run.json` and checks that it belongs to `recipe`.
    pub fn load(dir: &Path, recipe: &str) -> Result<Self, CliError> {
        crate::load_run_json(dir, recipe, |info: &LmRunInfo| info.recipe.as_str())
    }

    /// Loads the run's vocabulary and checks it is the one the model was trained with.
    pub fn load_vocab(&self, dir: &Path) -> Result<CharVocab, CliError> {
        let path = dir.join(&self.vocab_file);
        let vocab = CharVocab::load(&path).map_err(|e| CliError::Usage(e.to_string()))?;
        vocab
            .check_matches(self.vocab_size, self.vocab_fingerprint)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
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

fn lm_recipe(recipe: &Recipe) -> &LmRecipe {
    match &recipe.kind {
        RecipeKind::Generation(r) => r,
        _ => unreachable!("generation_task handles generation recipes only"),
    }
}

/// The shipped sample, from the working directory first, then from the source tree.
fn shipped_sample() -> Option<PathBuf> {
    let rel = Path::new("datasets")
        .join("tiny-shakespeare-sample")
        .join("input.txt");
    [
        rel.clone(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The corpus file: `--data-dir` itself if it is a file, else its `input.txt` (or
/// `tiny-shakespeare/input.txt`); without `--data-dir`, the shipped sample.
pub fn corpus_file(data_dir: Option<&Path>) -> Result<PathBuf, CliError> {
    let Some(dir) = data_dir else {
        return shipped_sample().ok_or_else(|| {
            CliError::Usage(
                "no --data-dir given and the shipped sample datasets/tiny-shakespeare-sample/input.txt was not found (run from the repository root, or pass --data-dir)".into(),
            )
        });
    };
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "--data-dir {} does not exist",
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
        CliError::Usage(format!(
            "{} holds no input.txt (give the folder of tiny-shakespeare's input.txt, or the text file itself)",
            dir.display()
        ))
    })
}

/// Reads a corpus: strict UTF-8 (an error names the file, line and byte offset), not empty.
pub fn read_corpus(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(CliError::io(path))?;
    if bytes.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: the corpus file is empty",
            path.display()
        )));
    }
    crate::text_corpus::decode_utf8(&bytes, path)
}

fn windows_error(e: deepzero_sequence::text::TextError, path: &Path) -> CliError {
    CliError::Usage(format!("{}: {e}", path.display()))
}

/// `deepzero train` for a generation recipe.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let spec = lm_recipe(recipe);
    let block_size = args.max_len.unwrap_or(spec.block_size);
    let steps_per_epoch = args.steps_per_epoch.unwrap_or(spec.steps_per_epoch);
    if block_size == 0 || steps_per_epoch == 0 {
        return Err(CliError::Usage(
            "--max-len (the block size) and --steps-per-epoch must be at least 1".into(),
        ));
    }
    if args.valid_fraction <= 0.0 {
        return Err(CliError::Usage(format!(
            "{} needs a validation split: --valid-fraction must be in (0, 1)",
            recipe.name
        )));
    }
    let path = corpus_file(args.data_dir.as_deref())?;
    let text = read_corpus(&path)?;
    let corpus =
        CharCorpus::new(&text, args.valid_fraction).map_err(|e| windows_error(e, &path))?;
    let vocab = &corpus.vocab;
    let fit_config = args.fit_config(recipe);
    let train_source = RandomWindows::new(
        corpus.train.clone(),
        block_size,
        steps_per_epoch,
        fit_config.batch_size,
        args.seed,
    )
    .map_err(|e| windows_error(e, &path))?;
    let valid_source = ContiguousWindows::new(corpus.valid.clone(), block_size)
        .map_err(|e| windows_error(e, &path))?;

    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    vocab
        .save(&out.join("vocab.json"))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let info = LmRunInfo {
        recipe: recipe.name.to_string(),
        model: spec.arch.name().into(),
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        block_size,
        d_model: spec.d_model,
        d_hidden: spec.d_hidden,
        n_layers: spec.n_layers,
        n_heads: spec.n_heads,
        dropout: spec.dropout,
        steps_per_epoch,
        valid_fraction: args.valid_fraction,
        seed: args.seed,
        data: path.display().to_string(),
    };
    write_json_atomic(&out.join("run.json"), &info)?;

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let context = TrainContext {
        recipe,
        args,
        backend,
        device,
        info: &info,
        corpus: &corpus,
        train: &train_source,
        valid: &valid_source,
        out: &out,
        chars: text.chars().count(),
    };
    let err = |e: SequenceError| CliError::Usage(e.to_string());
    match spec.arch {
        LmArch::Lstm => context.run(info.lstm_config().init(&train_device).map_err(err)?),
        LmArch::Gpt => context.run(info.gpt_config().init(&train_device).map_err(err)?),
    }
}

struct TrainContext<'a> {
    recipe: &'a Recipe,
    args: &'a TrainArgs,
    backend: Backend,
    device: &'a Device,
    info: &'a LmRunInfo,
    corpus: &'a CharCorpus,
    train: &'a RandomWindows,
    valid: &'a ContiguousWindows,
    out: &'a Path,
    chars: usize,
}

impl TrainContext<'_> {
    fn run<M: LanguageModel>(&self, model: M) -> Result<(), CliError> {
        let (recipe, info, out) = (self.recipe, self.info, self.out);
        let fit_config = self.args.fit_config(recipe);
        println!(
            "{}: {} ({} parameters) on {} ({} characters: {} train / {} valid), vocabulary {} characters, block {}, backend {}, {} epochs × {} steps, batch {}, {} lr {} ({}), out {}",
            recipe.name,
            info.model,
            model.num_params(),
            info.data,
            self.chars,
            self.corpus.train.len(),
            self.corpus.valid.len(),
            info.vocab_size,
            info.block_size,
            self.backend,
            fit_config.epochs,
            info.steps_per_epoch,
            fit_config.batch_size,
            fit_config.optimizer,
            fit_config.learning_rate,
            fit_config.schedule,
            out.display()
        );
        let train_device = self.device.clone().autodiff();
        let mut progress = self.args.progress();
        let outcome = fit(
            model,
            self.train,
            Some(self.valid),
            &train_device,
            &fit_config,
            &RunDir::new(out, info.fingerprint()).resume(self.args.resume),
            &mut progress,
        )?;
        let model = outcome.model.valid();
        save_model(&model, &out.join("model.bpk"))?;
        let valid = evaluate(&model, self.valid, 64, self.device)?;

        let vocab = &self.corpus.vocab;
        let start = vocab.encode("\n").unwrap_or_else(|_| vec![0]);
        let sampling = Sampling::new(0.8, None).expect("valid settings");
        let sample = model
            .generate_ids(&start, 500, &sampling, self.args.seed, self.device)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let sample = vocab.decode(&sample);
        let sample_path = out.join("sample.txt");
        std::fs::write(&sample_path, &sample).map_err(CliError::io(&sample_path))?;

        // fit counts targets (characters) as samples; steps are epochs × steps per epoch.
        let steps = outcome.history.len() * info.steps_per_epoch;
        let this_process_steps = (outcome.history.len()
            - outcome
                .resumed_after
                .unwrap_or(0)
                .min(outcome.history.len()))
            * info.steps_per_epoch;
        let seconds_per_step = outcome.train_seconds / this_process_steps.max(1) as f64;
        println!(
            "valid: loss {:.4} nats/char ({:.3} bits/char, perplexity {:.2}, next-char accuracy {:.2}%) after {steps} steps (model of epoch {}), {:.3} s/step -> {}",
            valid.loss,
            valid.loss / std::f64::consts::LN_2,
            valid.loss.exp(),
            valid.accuracy * 100.0,
            outcome.model_epoch,
            seconds_per_step,
            out.join("metrics.json").display()
        );
        let metrics = json!({
            "recipe": recipe.name,
            "chapter": recipe.chapter,
            "backend": self.backend.name(),
            "model": format!("character language model ({})", info.model),
            "parameters": model.num_params(),
            "epochs": outcome.history.len(),
            "steps_per_epoch": info.steps_per_epoch,
            "steps": steps,
            "model_epoch": outcome.model_epoch,
            "stopped_early": outcome.stopped_early,
            "resumed_after": outcome.resumed_after,
            "block_size": info.block_size,
            "batch_size": fit_config.batch_size,
            "learning_rate": fit_config.learning_rate,
            "optimizer": fit_config.optimizer.to_string(),
            "schedule": fit_config.schedule.to_string(),
            "weight_decay": fit_config.weight_decay,
            "seed": self.args.seed,
            "vocab_size": info.vocab_size,
            "data": {
                "source": info.data,
                "characters": self.chars,
                "train_characters": self.corpus.train.len(),
                "valid_characters": self.corpus.valid.len(),
                "valid_fraction": info.valid_fraction,
            },
            "train_seconds": outcome.train_seconds,
            "seconds_per_step": seconds_per_step,
            "train_samples_per_second": outcome.samples_per_second() / info.block_size as f64,
            "train_characters_per_second": outcome.samples_per_second(),
            "valid": valid_json(&valid, self.valid.predicted_tokens()),
            "sample_file": "sample.txt",
            "history": outcome.history,
        });
        write_json_atomic(&out.join("metrics.json"), &metrics)?;
        Ok(())
    }
}

fn valid_json(valid: &deepzero_train::EvalResult, predicted: usize) -> serde_json::Value {
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

fn load_trained(info: &LmRunInfo, dir: &Path, device: &Device) -> Result<Loaded, CliError> {
    let err = |e: SequenceError| CliError::Usage(e.to_string());
    let file = model_file(dir)?;
    Ok(match info.arch()? {
        LmArch::Lstm => {
            Loaded::Lstm(load_model(info.lstm_config().init(device).map_err(err)?, &file)?.valid())
        }
        LmArch::Gpt => {
            Loaded::Gpt(load_model(info.gpt_config().init(device).map_err(err)?, &file)?.valid())
        }
    })
}

/// `deepzero eval` for a generation recipe: the validation loss (nats per character) over the
/// validation split of the corpus (`--data-dir`, or the shipped sample), split as in training.
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let info = LmRunInfo::load(checkpoint, recipe.name)?;
    let vocab = info.load_vocab(checkpoint)?;
    let model = load_trained(&info, checkpoint, device)?;
    let path = corpus_file(args.data_dir.as_deref())?;
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
    let batch = args.batch_size.unwrap_or(64);
    let valid = match &model {
        Loaded::Lstm(m) => evaluate(m, &valid_source, batch, device)?,
        Loaded::Gpt(m) => evaluate(m, &valid_source, batch, device)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let metrics = json!({
        "recipe": recipe.name,
        "backend": backend.name(),
        "checkpoint": checkpoint.display().to_string(),
        "data": path.display().to_string(),
        "block_size": info.block_size,
        "epochs": 0,
        "train_seconds": 0.0,
        "train_samples_per_second": 0.0,
        "eval_seconds": seconds,
        "valid": valid_json(&valid, valid_source.predicted_tokens()),
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    println!(
        "{}: valid loss {:.4} nats/char ({:.3} bits/char) over {} characters of {} -> {}",
        recipe.name,
        valid.loss,
        valid.loss / std::f64::consts::LN_2,
        valid_source.predicted_tokens(),
        path.display(),
        out.join("metrics.json").display()
    );
    Ok(())
}

/// The sampling options of `deepzero predict` for the generation recipes.
#[derive(Clone, Debug, clap::Args)]
pub struct GenerateArgs {
    /// Generation recipes: the text to continue (see also --input).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Generation recipes: characters to generate per prompt.
    #[arg(long, default_value_t = 300)]
    pub max_new_tokens: usize,
    /// Generation recipes: softmax temperature (0 = greedy, 1 = the model's distribution).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Generation recipes: sample among the K most likely characters only.
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Generation recipes: seed of the sampler (prompt i of a file uses SEED + i).
    #[arg(long = "seed", default_value_t = 1)]
    pub sample_seed: u64,
}

/// One generated continuation.
#[derive(Clone, Debug, Serialize)]
pub struct Generation {
    /// The prompt.
    pub prompt: String,
    /// The generated text (without the prompt).
    pub continuation: String,
}

/// `\n`, `\r`, `\t` and `\\` for newline, carriage return, tab and backslash.
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

fn read_prompt_lines(input: &Path) -> Result<Vec<String>, CliError> {
    let lines: Vec<String> = if input.as_os_str() == "-" {
        let stdin = std::io::stdin();
        let mut lines = Vec::new();
        for (n, line) in stdin.lock().split(b'\n').enumerate() {
            let line = line.map_err(CliError::io(Path::new("<stdin>")))?;
            let text = String::from_utf8(line)
                .map_err(|_| CliError::Usage(format!("<stdin>:{}: not valid UTF-8", n + 1)))?;
            lines.push(text.trim_end_matches('\r').to_string());
        }
        lines
    } else {
        let bytes = std::fs::read(input).map_err(CliError::io(input))?;
        let text = crate::text_corpus::decode_utf8(&bytes, input)?;
        text.lines().map(str::to_string).collect()
    };
    Ok(lines.iter().map(|l| unescape(l)).collect())
}

/// `deepzero predict` for a generation recipe (see the module docs for the input and output
/// formats). Returns the generations.
pub fn predict(
    recipe: &Recipe,
    checkpoint: &Path,
    prompts: &[String],
    input: Option<&Path>,
    options: &GenerateArgs,
    json_output: bool,
    device: &Device,
) -> Result<Vec<Generation>, CliError> {
    let info = LmRunInfo::load(checkpoint, recipe.name)?;
    let vocab = info.load_vocab(checkpoint)?;
    let sampling = Sampling::new(options.temperature, options.top_k)
        .map_err(|e| CliError::Usage(e.to_string().replace("top-k", "--top-k")))?;
    let mut given: Vec<String> = options.prompt.iter().cloned().collect();
    given.extend(prompts.iter().cloned());
    let (prompts, per_line) = match input {
        Some(path) if given.is_empty() => (read_prompt_lines(path)?, true),
        Some(_) => {
            return Err(CliError::Usage(
                "give prompts either with --prompt / as arguments or with --input, not both".into(),
            ));
        }
        None if given.is_empty() => (read_prompt_lines(Path::new("-"))?, true),
        None => (given, false),
    };
    if prompts.is_empty() {
        return Err(CliError::Usage(
            "predict needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)".into(),
        ));
    }
    let model = load_trained(&info, checkpoint, device)?;
    let mut generations = Vec::with_capacity(prompts.len());
    for (i, prompt) in prompts.iter().enumerate() {
        let start = if prompt.is_empty() {
            "\n"
        } else {
            prompt.as_str()
        };
        let ids = vocab.encode(start).map_err(|e| {
            CliError::Usage(format!(
                "prompt {}: {e}",
                if per_line {
                    format!("on line {}", i + 1)
                } else {
                    format!("{}", i + 1)
                }
            ))
        })?;
        let seed = options.sample_seed.wrapping_add(i as u64);
        let new = match &model {
            Loaded::Lstm(m) => {
                m.generate_ids(&ids, options.max_new_tokens, &sampling, seed, device)
            }
            Loaded::Gpt(m) => m.generate_ids(&ids, options.max_new_tokens, &sampling, seed, device),
        }
        .map_err(|e| CliError::Usage(e.to_string()))?;
        let generation = Generation {
            prompt: prompt.clone(),
            continuation: vocab.decode(&new),
        };
        if !json_output {
            if per_line {
                println!("{}", escape(&generation.continuation));
            } else {
                if i > 0 {
                    println!("---------------");
                }
                println!("{}{}", generation.prompt, generation.continuation);
            }
        }
        generations.push(generation);
    }
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(&generations).unwrap_or_default()
        );
    }
    Ok(generations)
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
}
