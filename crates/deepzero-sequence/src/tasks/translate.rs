//! The translation task (seed chapter 4.3): an encoder–decoder [`Transformer`] on Multi30k
//! (Elliott et al. 2016), trained into a run folder, scored with sacreBLEU-exact BLEU, and read
//! back by a [`Predictor`] that translates sentences.
//!
//! The path of a run: read `raw/{train,val,test_2016_flickr}.{de,en}.gz` from the data folder
//! (without one, the shipped sample `datasets/multi30k-sample`: the first 2 000 / 200 / 200
//! lines) → one BPE model per language trained on the training side, case kept, saved as
//! `OUT/src_bpe.json` and `OUT/tgt_bpe.json` (the tokenisation is reversible, see
//! [`crate::translation::data`]) → pairs truncated to `max_len` subwords per side (counted and
//! logged; pairs with an empty side are left out of training) → length-bucketed batches of
//! `settings.fit.batch_size` **sentences** (one example of the training source is one whole
//! batch, so the task trains with a batch size of 1 bucket) → [`Transformer`] trained by
//! [`deepzero_train::fit()`] with label-smoothed cross-entropy (ε = 0.1; validation loss is the
//! plain per-token NLL) → `model.bpk`, `run.json`, `metrics.json`, `curves.png`.
//!
//! After training the test set is translated by beam search (beam 4, GNMT length penalty
//! α = 1.0: with α = 0.6 the outputs were too short, brevity penalty 0.82, and BLEU 0.5 lower)
//! and scored with corpus BLEU ([`crate::translation::corpus_bleu`]) on the **detokenised**
//! output against the raw reference lines: `metrics.json` → `test.bleu`; the translations are
//! written to `OUT/test_hypotheses.txt`, one per line, so that
//! `sacrebleu REF < OUT/test_hypotheses.txt` gives the same number.
//!
//! [`Predictor::translate`] truncates sources longer than the model's `max_len` subwords
//! ([`Translation::truncated`] says which). A BPE file that is not the one the model was
//! trained with is refused.
//!
//! ```no_run
//! use deepzero_sequence::tasks::translate::{self, DecodeOptions, Predictor, TranslateSpec};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = TranslateSpec::multi30k("de", "en");
//! // No data folder: the shipped sample datasets/multi30k-sample.
//! let settings = RunSettings::new("multi30k-de-en", "runs/mt");
//! let report = translate::train(&spec, &settings)?;
//! println!("test BLEU {}", report.test["bleu"]);
//! let predictor = Predictor::load("runs/mt".as_ref(), None, &settings.device()?)?;
//! let out = predictor.translate(&["Ein Hund läuft.".into()], &DecodeOptions::default())?;
//! println!("{}", out[0].translation);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_core::LrSchedule;
use deepzero_train::checkpoint::load_model;
use deepzero_train::metrics_file::write_atomic;
use deepzero_train::{
    BatchSource, EvalReport, RunReport, RunSettings, TaskError, evaluate, load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Transformer;
use crate::attention::padding_mask;
use crate::text::Bpe;
use crate::transformer::{PositionalKind, TransformerConfig, TransformerLayerConfig};
use crate::translation::{
    BOS_ID, BeamConfig, BleuScore, EOS_ID, ParallelCorpus, SubwordCodec, TranslationBatches,
    beam_search, corpus_bleu, greedy_decode, read_parallel,
};

/// What a translation run builds.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslateSpec {
    /// Source language code (`de`): the files `SPLIT.de.gz`.
    pub src_lang: String,
    /// Target language code (`en`).
    pub tgt_lang: String,
    /// Source BPE vocabulary (specials included).
    pub src_vocab: usize,
    /// Target BPE vocabulary.
    pub tgt_vocab: usize,
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Encoder layers (and as many decoder layers).
    pub n_layers: usize,
    /// Dropout.
    pub dropout: f64,
    /// Label smoothing ε.
    pub label_smoothing: f64,
    /// Subwords kept per sentence (at least 2).
    pub max_len: usize,
    /// When `Some(n)` and the fit schedule is a warm-up cosine, its warm-up is replaced by
    /// `min(n, all steps / 8)` (at least 1), so that a short run is not all warm-up; `None`
    /// keeps the schedule as given.
    pub warmup_steps: Option<usize>,
}

impl TranslateSpec {
    /// The Multi30k model: 3 + 3 layers of width 256 (4 heads, FFN 1024), dropout 0.1, label
    /// smoothing 0.1, BPE vocabularies of 8 000 (German) and 6 000 (English, any other), 100
    /// subwords per sentence, a warm-up of at most 400 steps.
    pub fn multi30k(src_lang: &str, tgt_lang: &str) -> Self {
        let vocab = |lang: &str| if lang == "de" { 8000 } else { 6000 };
        Self {
            src_lang: src_lang.into(),
            tgt_lang: tgt_lang.into(),
            src_vocab: vocab(src_lang),
            tgt_vocab: vocab(tgt_lang),
            d_model: 256,
            n_heads: 4,
            d_ff: 1024,
            n_layers: 3,
            dropout: 0.1,
            label_smoothing: 0.1,
            max_len: 100,
            warmup_steps: Some(400),
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.max_len < 2 {
            return Err(TaskError::invalid("max_len must be at least 2"));
        }
        for (name, v) in [
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("n_layers", self.n_layers),
        ] {
            if v == 0 {
                return Err(TaskError::invalid(format!("{name} must be at least 1")));
            }
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("label_smoothing", self.label_smoothing),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(TaskError::invalid(format!(
                    "{name} must be in [0, 1), got {p}"
                )));
            }
        }
        Ok(())
    }
}

/// How to decode (with the `clap` feature, the command-line options of the translation
/// recipes; their defaults are [`DecodeOptions::default`]'s).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Translation recipes"))]
pub struct DecodeOptions {
    /// Beam size (at least 1; unused with --greedy).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N", default_value_t = 4))]
    pub beam: usize,
    /// Greedy decoding instead of beam search.
    #[cfg_attr(feature = "clap", arg(long))]
    pub greedy: bool,
    /// GNMT length-penalty exponent α of the beam (0: none).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "ALPHA", default_value_t = 1.0)
    )]
    pub length_penalty: f64,
}

impl Default for DecodeOptions {
    /// Beam 4, α = 1.0 (what training scores the test set with).
    fn default() -> Self {
        Self {
            beam: 4,
            greedy: false,
            length_penalty: 1.0,
        }
    }
}

impl DecodeOptions {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.beam == 0 {
            return Err(TaskError::invalid("the beam size must be at least 1"));
        }
        if !self.length_penalty.is_finite() {
            return Err(TaskError::invalid(format!(
                "the length penalty must be a finite number, not {}",
                self.length_penalty
            )));
        }
        Ok(())
    }
}

/// The current version of [`TranslationRunInfo`]'s format.
pub const RUN_VERSION: u32 = 2;

/// `OUT/run.json` of a translation run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TranslationRunInfo {
    /// Format version (1: written before versions were recorded).
    #[serde(default = "deepzero_train::run_folder::version_1")]
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// Source language.
    pub src_lang: String,
    /// Target language.
    pub tgt_lang: String,
    /// The model.
    pub model: TransformerConfig,
    /// Source BPE file, relative to the run folder.
    pub src_bpe_file: String,
    /// Target BPE file.
    pub tgt_bpe_file: String,
    /// Fingerprint of the source codec.
    pub src_fingerprint: u64,
    /// Fingerprint of the target codec.
    pub tgt_fingerprint: u64,
    /// Subwords kept per sentence.
    pub max_len: usize,
    /// Where the training data came from.
    pub data: String,
    /// The data folder ([`evaluate_run`] reads its test split when no data folder is given).
    pub data_dir: PathBuf,
}

deepzero_train::impl_run_info!(TranslationRunInfo, RUN_VERSION);

impl TranslationRunInfo {
    /// Reads `DIR/run.json`, checking its version and, when `recipe` is given, that the run
    /// was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        Ok(info)
    }

    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "model": self.model,
            "src": self.src_fingerprint,
            "tgt": self.tgt_fingerprint,
            "max_len": self.max_len,
        })
    }

    /// Loads both codecs and checks them against the run and the model.
    pub fn load_codecs(&self, dir: &Path) -> Result<(SubwordCodec, SubwordCodec), TaskError> {
        let load = |file: &str, fingerprint: u64, size: usize, side: &str| {
            let path = deepzero_train::run_file(dir, file)?;
            let bpe = Bpe::load(&path).map_err(|e| TaskError::invalid(e.to_string()))?;
            let codec = SubwordCodec::from_bpe(bpe);
            if codec.len() != size || codec.fingerprint() != fingerprint {
                return Err(TaskError::invalid(format!(
                    "{}: this {side} BPE model ({} ids, fingerprint {:016x}) is not the one the model was trained with ({size} ids, fingerprint {fingerprint:016x})",
                    path.display(),
                    codec.len(),
                    codec.fingerprint()
                )));
            }
            Ok(codec)
        };
        Ok((
            load(
                &self.src_bpe_file,
                self.src_fingerprint,
                self.model.src_vocab,
                "source",
            )?,
            load(
                &self.tgt_bpe_file,
                self.tgt_fingerprint,
                self.model.tgt_vocab,
                "target",
            )?,
        ))
    }

    /// The trained model of the run in `dir`, on `device`, in inference mode.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<Transformer, TaskError> {
        let model = self
            .model
            .init(device)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
        Ok(load_model(model, &model_file(dir)?)?.valid())
    }
}

/// Looks for the shipped sample `datasets/multi30k-sample` as [`deepzero_data::find_sample`]
/// does.
pub fn shipped_sample() -> Option<PathBuf> {
    deepzero_data::find_sample("multi30k-sample").filter(|p| p.is_dir())
}

/// The data folder and how to name it: `dir`, or else the shipped sample.
fn data_dir(dir: Option<&Path>) -> Result<(PathBuf, String), TaskError> {
    match dir {
        Some(d) if !d.is_dir() => Err(TaskError::invalid(format!(
            "data directory {} does not exist",
            d.display()
        ))),
        Some(d) => Ok((d.to_path_buf(), d.display().to_string())),
        None => shipped_sample()
            .map(|p| {
                let label = format!("shipped sample {}", p.display());
                (p, label)
            })
            .ok_or_else(|| {
                TaskError::invalid(
                    "no data folder given and the shipped sample datasets/multi30k-sample was not found (run from the repository root, or give a data folder)",
                )
            }),
    }
}

fn read_split(dir: &Path, split: &str, src: &str, tgt: &str) -> Result<ParallelCorpus, TaskError> {
    read_parallel(dir, split, src, tgt).map_err(|e| TaskError::invalid(e.to_string()))
}

/// A sentence pair as ids: (source, target without `<bos>`/`<eos>`).
type IdPair = (Vec<usize>, Vec<usize>);

/// Encodes pairs, truncating each side to `max_len` subwords (the target to `max_len − 1`,
/// leaving room for `<eos>`); returns the pairs and how many were cut. With `skip_empty`,
/// pairs with an empty side are dropped.
fn encode_pairs(
    corpus: &ParallelCorpus,
    src: &SubwordCodec,
    tgt: &SubwordCodec,
    max_len: usize,
    skip_empty: bool,
) -> (Vec<IdPair>, usize) {
    let mut cut = 0;
    let mut pairs = Vec::with_capacity(corpus.len());
    for (s, t) in corpus.src.iter().zip(&corpus.tgt) {
        let (mut s, mut t) = (src.encode(s), tgt.encode(t));
        if s.len() > max_len || t.len() + 1 > max_len {
            cut += 1;
            s.truncate(max_len);
            t.truncate(max_len - 1);
        }
        if skip_empty && (s.is_empty() || t.is_empty()) {
            continue;
        }
        pairs.push((s, t));
    }
    (pairs, cut)
}

/// Translates source token sequences (already truncated) into target texts, in input order.
/// Sentences are decoded in batches of similar length.
pub fn translate_ids(
    model: &Transformer,
    sources: &[Vec<usize>],
    tgt: &SubwordCodec,
    options: &DecodeOptions,
    max_len: usize,
    device: &Device,
) -> Vec<String> {
    let config = BeamConfig::new()
        .with_beam_size(if options.greedy {
            1
        } else {
            options.beam.max(1)
        })
        .with_length_penalty(options.length_penalty)
        .with_max_len(max_len.saturating_sub(1).max(1));
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].len());
    let per_batch = if options.greedy { 128 } else { 32 };
    let mut out = vec![String::new(); sources.len()];
    for chunk in order.chunks(per_batch) {
        // An empty source is decoded from a lone <eos> (what training batches do).
        let rows: Vec<Vec<usize>> = chunk
            .iter()
            .map(|&i| {
                if sources[i].is_empty() {
                    vec![EOS_ID]
                } else {
                    sources[i].clone()
                }
            })
            .collect();
        let lens: Vec<usize> = rows.iter().map(Vec::len).collect();
        let t = lens.iter().copied().max().unwrap_or(1);
        let mut flat = vec![0i64; rows.len() * t];
        for (b, r) in rows.iter().enumerate() {
            for (j, &id) in r.iter().enumerate() {
                flat[b * t + j] = id as i64;
            }
        }
        let src = Tensor::<2, Int>::from_data(TensorData::new(flat, [rows.len(), t]), device);
        let pad = padding_mask(&lens, t, device).expect("lengths fit the padded width");
        let hyps = if options.greedy {
            greedy_decode(model, src, pad, &lens, BOS_ID, EOS_ID, &config)
        } else {
            beam_search(model, src, pad, &lens, BOS_ID, EOS_ID, &config)
        };
        for (&i, h) in chunk.iter().zip(hyps) {
            out[i] = tgt.decode(&h.tokens);
        }
    }
    out
}

fn bleu_json(score: &BleuScore) -> serde_json::Value {
    json!({
        "bleu": score.score,
        "bleu_counts": score.counts,
        "bleu_totals": score.totals,
        "bleu_precisions": score.precisions,
        "bleu_bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
    })
}

/// sacreBLEU's one-line summary: `BLEU = 35.12 66.1/41.5/27.6/18.8 (BP = … ref_len = …)`.
pub fn bleu_line(score: &BleuScore) -> String {
    format!(
        "BLEU = {:.2} {:.1}/{:.1}/{:.1}/{:.1} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
        score.score,
        score.precisions[0],
        score.precisions[1],
        score.precisions[2],
        score.precisions[3],
        score.bp,
        score.sys_len as f64 / score.ref_len.max(1) as f64,
        score.sys_len,
        score.ref_len
    )
}

/// Encodes sources truncated to `max_len` subwords; returns them and which were cut.
fn encode_sources(src: &SubwordCodec, lines: &[String], max_len: usize) -> Vec<(Vec<usize>, bool)> {
    lines
        .iter()
        .map(|s| {
            let mut ids = src.encode(s);
            let cut = ids.len() > max_len;
            ids.truncate(max_len);
            (ids, cut)
        })
        .collect()
}

/// Translates a whole split and scores it against its raw references.
fn score_split(
    model: &Transformer,
    corpus: &ParallelCorpus,
    src: &SubwordCodec,
    tgt: &SubwordCodec,
    max_len: usize,
    options: &DecodeOptions,
    device: &Device,
) -> (Vec<String>, BleuScore, usize) {
    let encoded = encode_sources(src, &corpus.src, max_len);
    let cut = encoded.iter().filter(|(_, c)| *c).count();
    let sources: Vec<Vec<usize>> = encoded.into_iter().map(|(ids, _)| ids).collect();
    let hyps = translate_ids(model, &sources, tgt, options, max_len, device);
    let score = corpus_bleu(&hyps, std::slice::from_ref(&corpus.tgt));
    (hyps, score, cut)
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), TaskError> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    Ok(write_atomic(path, text.as_bytes())?)
}

/// Trains a Transformer translator as `spec` says into `settings.out` (data from
/// `settings.data_dir`, or the shipped sample); returns what it wrote to `metrics.json`.
///
/// `settings.fit.batch_size` is the number of **sentences** per length-bucketed batch.
pub fn train(spec: &TranslateSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let max_len = spec.max_len;
    let seed = settings.seed();
    let (dir, source) = data_dir(settings.data_dir.as_deref())?;
    let read = |split: &str| read_split(&dir, split, &spec.src_lang, &spec.tgt_lang);
    let (train_c, valid_c, test_c) = (read("train")?, read("val")?, read("test_2016_flickr")?);
    let settings = &settings.with_data(&[&dir])?;
    if train_c.is_empty() || test_c.is_empty() {
        return Err(TaskError::invalid(format!(
            "{source}: no training or test sentences"
        )));
    }
    let start = std::time::Instant::now();
    let src_codec = SubwordCodec::train(train_c.src.iter().map(String::as_str), spec.src_vocab)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let tgt_codec = SubwordCodec::train(train_c.tgt.iter().map(String::as_str), spec.tgt_vocab)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let bpe_seconds = start.elapsed().as_secs_f64();

    let out = settings.create_out()?;
    for (codec, file) in [(&src_codec, "src_bpe.json"), (&tgt_codec, "tgt_bpe.json")] {
        settings.write_run_json(file, codec.bpe())?;
    }
    let layer = TransformerLayerConfig::new(spec.d_model, spec.n_heads, spec.d_ff)
        .with_dropout(spec.dropout);
    let info = TranslationRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        src_lang: spec.src_lang.clone(),
        tgt_lang: spec.tgt_lang.clone(),
        model: TransformerConfig::new(src_codec.len(), tgt_codec.len(), layer)
            .with_n_encoder_layers(spec.n_layers)
            .with_n_decoder_layers(spec.n_layers)
            .with_max_len(max_len + 1)
            .with_positional(PositionalKind::Sinusoidal),
        src_bpe_file: "src_bpe.json".into(),
        tgt_bpe_file: "tgt_bpe.json".into(),
        src_fingerprint: src_codec.fingerprint(),
        tgt_fingerprint: tgt_codec.fingerprint(),
        max_len,
        data: source.clone(),
        data_dir: dir.clone(),
    };
    settings.write_run_json("run.json", &info)?;

    let mut progress = settings.progress();
    let (train_pairs, cut_train) = encode_pairs(&train_c, &src_codec, &tgt_codec, max_len, true);
    let (valid_pairs, cut_valid) = encode_pairs(&valid_c, &src_codec, &tgt_codec, max_len, true);
    if cut_train + cut_valid > 0 {
        progress.message(&format!(
            "warning: {cut_train} training and {cut_valid} validation pair(s) longer than {max_len} subwords were truncated"
        ));
    }
    let skipped = train_c.len() - train_pairs.len();
    let mut fit_config = settings.fit.clone();
    let sentences_per_batch = fit_config.batch_size;
    let train_source = TranslationBatches::new(
        train_pairs,
        sentences_per_batch,
        Some(seed),
        spec.label_smoothing,
    );
    let valid_source = TranslationBatches::new(valid_pairs, sentences_per_batch, None, 0.0);
    // One example of these sources is a whole length-bucketed batch.
    fit_config.batch_size = 1;
    // Validate one length bucket at a time, not 256 of them (the whole set) in one forward.
    fit_config.valid_batch_size = Some(1);
    if let Some(warmup) = spec.warmup_steps
        && let LrSchedule::WarmupCosine { min_lr_factor, .. } = fit_config.schedule
    {
        let total = train_source.len() * fit_config.epochs;
        fit_config.schedule = LrSchedule::WarmupCosine {
            warmup_steps: warmup.min(total / 8).max(1),
            min_lr_factor,
        };
    }
    progress.message(&format!(
        "{}: Transformer {}+{} layers (d_model {}, {} heads, FFN {}, dropout {}) on {} ({} train pairs, {} skipped as empty / {} valid / {} test), BPE {} {} + {} {} ids ({bpe_seconds:.0} s), {} target tokens per epoch, backend {}, {} epochs of {} batches of {} sentences, {} lr {} ({}), label smoothing {}, out {}",
        settings.name,
        spec.n_layers,
        spec.n_layers,
        spec.d_model,
        spec.n_heads,
        spec.d_ff,
        spec.dropout,
        source,
        train_c.len() - skipped,
        skipped,
        valid_c.len(),
        test_c.len(),
        spec.src_lang,
        src_codec.len(),
        spec.tgt_lang,
        tgt_codec.len(),
        train_source.target_tokens(),
        settings.backend,
        fit_config.epochs,
        train_source.len(),
        sentences_per_batch,
        fit_config.optimizer,
        fit_config.learning_rate,
        fit_config.schedule,
        spec.label_smoothing,
        out.display()
    ));

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let model = info
        .model
        .init(&train_device)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    // Trained with the batch-per-example settings above; reported with the user's.
    let trained_as = RunSettings {
        fit: fit_config.clone(),
        ..settings.clone()
    };
    let outcome = trained_as.fit_and_save(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        info.fingerprint(),
        &mut progress,
    )?;
    let model = outcome.model.clone();

    let valid_eval = evaluate(&model, &valid_source, 1, &device)?;
    let options = DecodeOptions::default();
    let start = std::time::Instant::now();
    let (hyps, test_bleu, cut_test) = score_split(
        &model, &test_c, &src_codec, &tgt_codec, max_len, &options, &device,
    );
    let decode_seconds = start.elapsed().as_secs_f64();
    write_lines(&out.join("test_hypotheses.txt"), &hyps)?;
    let greedy = DecodeOptions {
        greedy: true,
        ..DecodeOptions::default()
    };
    let (_, test_greedy, _) = score_split(
        &model, &test_c, &src_codec, &tgt_codec, max_len, &greedy, &device,
    );
    let mut test_json = bleu_json(&test_bleu);
    test_json["bleu_greedy"] = json!(test_greedy.score);
    test_json["sentences"] = json!(test_c.len());
    test_json["truncated_sources"] = json!(cut_test);
    test_json["decode_seconds"] = json!(decode_seconds);
    test_json["beam"] = json!(options.beam);
    test_json["length_penalty"] = json!(options.length_penalty);
    test_json["hypotheses"] = json!("test_hypotheses.txt");
    test_json["tokenize"] = json!("13a");
    let report = RunReport::new(
        settings,
        &outcome,
        "transformer seq2seq",
        model.num_params(),
    );
    let report = RunReport {
        // The schedule as trained (its warm-up capped above); the batch size stays in
        // sentences, as given.
        schedule: fit_config.schedule.to_string(),
        data: json!({
            "source": source,
            "train_pairs": train_source.pairs(),
            "skipped_empty_pairs": skipped,
            "valid_pairs": valid_source.pairs(),
            "test_pairs": test_c.len(),
            "truncated_pairs": cut_train + cut_valid,
            "train_target_tokens": train_source.target_tokens(),
        }),
        valid: json!({ "loss": valid_eval.loss, "token_accuracy": valid_eval.accuracy }),
        test: test_json,
        ..report
    }
    .with("model_config", &info.model)
    .with("label_smoothing", spec.label_smoothing)
    .with("max_len", max_len)
    .with("src_vocab", src_codec.len())
    .with("tgt_vocab", tgt_codec.len())
    .with("bpe_seconds", bpe_seconds)
    .with("train_samples_unit", "target tokens")
    .with(
        "seconds_per_epoch",
        outcome.train_seconds / outcome.history.len().max(1) as f64,
    );
    let path = report.write(out)?;
    progress.message(&format!(
        "test ({} sentences, beam {}, α {}): {} | greedy BLEU {:.2} | valid NLL {:.4}/token (model of epoch {}) -> {}",
        test_c.len(),
        options.beam,
        options.length_penalty,
        bleu_line(&test_bleu),
        test_greedy.score,
        valid_eval.loss,
        outcome.model_epoch,
        path.display()
    ));
    Ok(report)
}

/// Beam-search BLEU of the run in `run` on the test split of `settings.data_dir` (default: the
/// data folder recorded in its run.json); writes `settings.out/metrics.json` and
/// `settings.out/test_hypotheses.txt`.
pub fn evaluate_run(
    spec: &TranslateSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = TranslationRunInfo::load(run, Some(&settings.name))?;
    if (info.src_lang.as_str(), info.tgt_lang.as_str())
        != (spec.src_lang.as_str(), spec.tgt_lang.as_str())
    {
        return Err(TaskError::invalid(format!(
            "run {} translates {}→{}, not {}→{}",
            run.display(),
            info.src_lang,
            info.tgt_lang,
            spec.src_lang,
            spec.tgt_lang
        )));
    }
    let (src, tgt) = info.load_codecs(run)?;
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let dir = settings
        .data_dir
        .clone()
        .unwrap_or_else(|| info.data_dir.clone());
    let test = read_split(&dir, "test_2016_flickr", &info.src_lang, &info.tgt_lang)?;
    let options = DecodeOptions::default();
    let start = std::time::Instant::now();
    let (hyps, score, cut) =
        score_split(&model, &test, &src, &tgt, info.max_len, &options, &device);
    let seconds = start.elapsed().as_secs_f64();
    let out = &settings.out;
    std::fs::create_dir_all(out).map_err(TaskError::io(out))?;
    write_lines(&out.join("test_hypotheses.txt"), &hyps)?;
    let mut test_json = bleu_json(&score);
    test_json["sentences"] = json!(test.len());
    test_json["truncated_sources"] = json!(cut);
    test_json["beam"] = json!(options.beam);
    test_json["length_penalty"] = json!(options.length_penalty);
    let report = EvalReport::new(
        settings,
        run,
        dir.display().to_string(),
        test.len(),
        seconds,
        test_json,
    );
    let path = report.write(out)?;
    settings.progress().message(&format!(
        "{}: test {} on {} sentences ({}) -> {}",
        settings.name,
        bleu_line(&score),
        test.len(),
        dir.display(),
        path.display()
    ));
    Ok(report)
}

/// One sentence's translation.
#[derive(Clone, Debug, Serialize)]
pub struct Translation {
    /// The source sentence.
    pub source: String,
    /// Its translation (detokenised).
    pub translation: String,
    /// The source was longer than the model's `max_len` subwords and was truncated.
    pub truncated: bool,
}

impl std::fmt::Display for Translation {
    /// The translation alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.translation)
    }
}

/// The warning a front end shows when some sources were longer than `max_len` subwords.
pub fn long_lines_warning(translations: &[Translation], max_len: usize) -> Option<String> {
    let long = translations.iter().filter(|t| t.truncated).count();
    (long > 0).then(|| {
        format!("{long} input line(s) longer than the model's {max_len} subwords were truncated")
    })
}

/// A trained translator loaded from its run folder, ready to translate sentences.
pub struct Predictor {
    info: TranslationRunInfo,
    src: SubwordCodec,
    tgt: SubwordCodec,
    model: Transformer,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = TranslationRunInfo::load(dir, recipe)?;
        let (src, tgt) = info.load_codecs(dir)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            src,
            tgt,
            model,
            device: device.clone(),
        })
    }

    /// Source and target language codes.
    pub fn languages(&self) -> (&str, &str) {
        (&self.info.src_lang, &self.info.tgt_lang)
    }

    /// Subwords of a source the model reads; the rest is cut.
    pub fn max_len(&self) -> usize {
        self.info.max_len
    }

    /// Translates each sentence, in input order (decoded in batches of similar length).
    pub fn translate(
        &self,
        sentences: &[String],
        options: &DecodeOptions,
    ) -> Result<Vec<Translation>, TaskError> {
        options.validate()?;
        let encoded = encode_sources(&self.src, sentences, self.info.max_len);
        let sources: Vec<Vec<usize>> = encoded.iter().map(|(ids, _)| ids.clone()).collect();
        let out = translate_ids(
            &self.model,
            &sources,
            &self.tgt,
            options,
            self.info.max_len,
            &self.device,
        );
        Ok(sentences
            .iter()
            .zip(out)
            .zip(encoded)
            .map(|((source, translation), (_, truncated))| Translation {
                source: source.clone(),
                translation,
                truncated,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi30k_keeps_the_recipe_hyper_parameters() {
        let de_en = TranslateSpec::multi30k("de", "en");
        assert_eq!((de_en.src_vocab, de_en.tgt_vocab), (8000, 6000));
        let en_de = TranslateSpec::multi30k("en", "de");
        assert_eq!((en_de.src_vocab, en_de.tgt_vocab), (6000, 8000));
        assert_eq!(
            (de_en.d_model, de_en.n_heads, de_en.d_ff, de_en.n_layers),
            (256, 4, 1024, 3)
        );
        assert_eq!((de_en.dropout, de_en.label_smoothing), (0.1, 0.1));
        assert_eq!((de_en.max_len, de_en.warmup_steps), (100, Some(400)));
        let mut bad = de_en.clone();
        bad.max_len = 1;
        assert!(bad.validate().unwrap_err().to_string().contains("max_len"));
        let beam0 = DecodeOptions {
            beam: 0,
            ..DecodeOptions::default()
        };
        assert!(beam0.validate().is_err());
    }

    #[test]
    fn run_json_versions_are_checked() {
        let layer = TransformerLayerConfig::new(8, 2, 16);
        let mut info = json!({
            "recipe": "multi30k-de-en",
            "src_lang": "de",
            "tgt_lang": "en",
            "model": TransformerConfig::new(10, 10, layer),
            "src_bpe_file": "src_bpe.json",
            "tgt_bpe_file": "tgt_bpe.json",
            "src_fingerprint": 1,
            "tgt_fingerprint": 2,
            "max_len": 100,
            "data": "d",
            "data_dir": "d",
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.json"), info.to_string()).unwrap();
        let loaded = TranslationRunInfo::load(dir.path(), Some("multi30k-de-en")).unwrap();
        assert_eq!(loaded.version, 1);
        info["version"] = json!(RUN_VERSION + 1);
        std::fs::write(dir.path().join("run.json"), info.to_string()).unwrap();
        let err = TranslationRunInfo::load(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("version 3") && !err.contains('\n'), "{err}");
    }
}
