//! Train, evaluate and run the translation recipes (seed chapter 4.3): `multi30k-de-en` and
//! `multi30k-en-de`, an encoder–decoder Transformer on Multi30k (Elliott et al. 2016).
//!
//! The path of a run: read `raw/{train,val,test_2016_flickr}.{de,en}.gz` from `--data-dir`
//! (without it, the shipped sample `datasets/multi30k-sample`: the first 2 000 / 200 / 200 lines)
//! → one BPE model per language trained on the training side, case kept, saved as
//! `OUT/src_bpe.json` and `OUT/tgt_bpe.json` (the tokenisation is reversible, see
//! [`deepzero_sequence::translation::data`]) → pairs truncated to `--max-len` subwords per
//! side (counted and logged; pairs with an empty side are left out of training) →
//! length-bucketed batches of `--batch-size` sentences → [`Transformer`] trained by
//! `deepzero_train::fit` with label-smoothed cross-entropy (ε = 0.1; validation loss is the
//! plain per-token NLL) → `model.bpk`, `run.json`, `metrics.json`, `curves.png`.
//!
//! After training the test set is translated by beam search (beam 4, GNMT length penalty
//! α = 1.0: with α = 0.6 the outputs were too short, brevity penalty 0.82, and BLEU 0.5 lower) and scored with sacreBLEU-exact corpus BLEU
//! ([`deepzero_sequence::translation::corpus_bleu`]) on the **detokenised** output against
//! the raw reference lines: `metrics.json` → `test.bleu`; the translations are written to
//! `OUT/test_hypotheses.txt`, one per line, so that `sacrebleu REF < OUT/test_hypotheses.txt`
//! gives the same number.
//!
//! `predict` translates the sentences given as arguments, or one per line of `--input FILE` or
//! standard input, and prints one translation per line (`--beam N`, `--greedy`). Sources longer
//! than the model's `max_len` subwords are truncated, with a warning on stderr. A BPE file
//! that is not the one the checkpoint was trained with is refused.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_core::LrSchedule;
use deepzero_sequence::text::Bpe;
use deepzero_sequence::transformer::{PositionalKind, TransformerConfig, TransformerLayerConfig};
use deepzero_sequence::translation::{
    BOS_ID, BeamConfig, BleuScore, EOS_ID, ParallelCorpus, SubwordCodec, TranslationBatches,
    beam_search, corpus_bleu, greedy_decode, read_parallel,
};
use deepzero_sequence::{Transformer, attention::padding_mask};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::{write_atomic, write_json_atomic};
use deepzero_train::{BatchSource, RunDir, evaluate, fit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::image_task::model_file;
use crate::recipes::{Recipe, RecipeKind};
use crate::text_task::TextInput;
use crate::{Backend, CliError, TrainArgs};

/// What a translation recipe builds (its registry entry).
#[derive(Clone, Debug)]
pub struct TranslationRecipe {
    /// Source language code (`de`).
    pub src_lang: &'static str,
    /// Target language code (`en`).
    pub tgt_lang: &'static str,
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
    /// Default `--max-len`: subwords kept per sentence.
    pub max_len: usize,
    /// Warm-up steps of the default schedule (at most an eighth of all steps).
    pub warmup_steps: usize,
}

/// The defaults of both Multi30k recipes: 3 + 3 layers of width 256 (4 heads, FFN 1024),
/// dropout 0.1, BPE vocabularies of 8 000 (German) and 6 000 (English).
pub fn multi30k(src_lang: &'static str, tgt_lang: &'static str) -> TranslationRecipe {
    let vocab = |lang: &str| if lang == "de" { 8000 } else { 6000 };
    TranslationRecipe {
        src_lang,
        tgt_lang,
        src_vocab: vocab(src_lang),
        tgt_vocab: vocab(tgt_lang),
        d_model: 256,
        n_heads: 4,
        d_ff: 1024,
        n_layers: 3,
        dropout: 0.1,
        label_smoothing: 0.1,
        max_len: 100,
        warmup_steps: 400,
    }
}

/// Decoding options of `deepzero predict` for the translation recipes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TranslateArgs {
    /// Translation recipes: beam size (default 4).
    #[arg(long, value_name = "N")]
    pub beam: Option<usize>,
    /// Translation recipes: greedy decoding instead of beam search.
    #[arg(long)]
    pub greedy: bool,
    /// Translation recipes: GNMT length-penalty exponent α of the beam (default 1.0; 0: none).
    #[arg(long, value_name = "ALPHA")]
    pub length_penalty: Option<f64>,
}

/// `OUT/run.json` of a translation run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TranslationRunInfo {
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
    /// The data folder (eval reads its test split when no --data-dir is given).
    pub data_dir: PathBuf,
}

impl TranslationRunInfo {
    fn load(dir: &Path, recipe: &str) -> Result<Self, CliError> {
        crate::load_run_json(dir, recipe, |i: &TranslationRunInfo| i.recipe.as_str())
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
    fn load_codecs(&self, dir: &Path) -> Result<(SubwordCodec, SubwordCodec), CliError> {
        let load = |file: &str, fingerprint: u64, size: usize, side: &str| {
            let path = dir.join(file);
            let bpe = Bpe::load(&path).map_err(|e| CliError::Usage(e.to_string()))?;
            let codec = SubwordCodec::from_bpe(bpe);
            if codec.len() != size || codec.fingerprint() != fingerprint {
                return Err(CliError::Usage(format!(
                    "{}: this {side} BPE model ({} ids, fingerprint {:016x}) is not the one the checkpoint was trained with ({size} ids, fingerprint {fingerprint:016x})",
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
}

fn spec_of(recipe: &Recipe) -> &TranslationRecipe {
    match &recipe.kind {
        RecipeKind::Translation(t) => t,
        _ => unreachable!("translation_task handles translation recipes only"),
    }
}

/// Looks for the shipped sample `datasets/multi30k-sample`, from the working directory first,
/// then from the source tree this binary was built from.
fn shipped_sample() -> Option<PathBuf> {
    [
        PathBuf::from("datasets/multi30k-sample"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/multi30k-sample"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

fn data_dir(args_dir: Option<&Path>) -> Result<(PathBuf, String), CliError> {
    match args_dir {
        Some(d) if !d.is_dir() => Err(CliError::Usage(format!(
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
                CliError::Usage(
                    "no --data-dir given and the shipped sample datasets/multi30k-sample was not found (run from the repository root, or pass --data-dir)".into(),
                )
            }),
    }
}

fn read_split(
    dir: &Path,
    split: &str,
    spec_src: &str,
    spec_tgt: &str,
) -> Result<ParallelCorpus, CliError> {
    read_parallel(dir, split, spec_src, spec_tgt).map_err(|e| CliError::Usage(e.to_string()))
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

/// How to decode.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Beam size; `1` with `greedy`.
    pub beam: usize,
    /// Greedy search.
    pub greedy: bool,
    /// Length-penalty exponent α.
    pub length_penalty: f64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            beam: 4,
            greedy: false,
            length_penalty: 1.0,
        }
    }
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

fn bleu_line(score: &BleuScore) -> String {
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
    let mut cut = 0;
    let sources: Vec<Vec<usize>> = corpus
        .src
        .iter()
        .map(|s| {
            let mut ids = src.encode(s);
            if ids.len() > max_len {
                cut += 1;
                ids.truncate(max_len);
            }
            ids
        })
        .collect();
    let hyps = translate_ids(model, &sources, tgt, options, max_len, device);
    let score = corpus_bleu(&hyps, std::slice::from_ref(&corpus.tgt));
    (hyps, score, cut)
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), CliError> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    Ok(write_atomic(path, text.as_bytes())?)
}

/// `deepzero train` for a translation recipe.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let spec = spec_of(recipe);
    let max_len = args.max_len.unwrap_or(spec.max_len);
    if max_len < 2 {
        return Err(CliError::Usage("--max-len must be at least 2".into()));
    }
    let (dir, source) = data_dir(args.data_dir.as_deref())?;
    let read = |split: &str| read_split(&dir, split, spec.src_lang, spec.tgt_lang);
    let (train_c, valid_c, test_c) = (read("train")?, read("val")?, read("test_2016_flickr")?);
    if train_c.is_empty() || test_c.is_empty() {
        return Err(CliError::Usage(format!(
            "{source}: no training or test sentences"
        )));
    }
    let start = std::time::Instant::now();
    let src_codec = SubwordCodec::train(train_c.src.iter().map(String::as_str), spec.src_vocab)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let tgt_codec = SubwordCodec::train(train_c.tgt.iter().map(String::as_str), spec.tgt_vocab)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let bpe_seconds = start.elapsed().as_secs_f64();

    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    for (codec, file) in [(&src_codec, "src_bpe.json"), (&tgt_codec, "tgt_bpe.json")] {
        codec
            .bpe()
            .save(&out.join(file))
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let layer = TransformerLayerConfig::new(spec.d_model, spec.n_heads, spec.d_ff)
        .with_dropout(spec.dropout);
    let info = TranslationRunInfo {
        recipe: recipe.name.to_string(),
        src_lang: spec.src_lang.into(),
        tgt_lang: spec.tgt_lang.into(),
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
    write_json_atomic(&out.join("run.json"), &info)?;

    let (train_pairs, cut_train) = encode_pairs(&train_c, &src_codec, &tgt_codec, max_len, true);
    let (valid_pairs, cut_valid) = encode_pairs(&valid_c, &src_codec, &tgt_codec, max_len, true);
    if cut_train + cut_valid > 0 {
        eprintln!(
            "warning: {cut_train} training and {cut_valid} validation pair(s) longer than {max_len} subwords were truncated"
        );
    }
    let skipped = train_c.len() - train_pairs.len();
    let mut fit_config = args.fit_config(recipe);
    let sentences_per_batch = fit_config.batch_size;
    let train_source = TranslationBatches::new(
        train_pairs,
        sentences_per_batch,
        Some(args.seed),
        spec.label_smoothing,
    );
    let valid_source = TranslationBatches::new(valid_pairs, sentences_per_batch, None, 0.0);
    // One example of these sources is a whole length-bucketed batch.
    fit_config.batch_size = 1;
    // Validate one length bucket at a time, not 256 of them (the whole set) in one forward.
    fit_config.valid_batch_size = Some(1);
    if args.schedule.is_none()
        && let LrSchedule::WarmupCosine { min_lr_factor, .. } = fit_config.schedule
    {
        let total = train_source.len() * fit_config.epochs;
        fit_config.schedule = LrSchedule::WarmupCosine {
            warmup_steps: spec.warmup_steps.min(total / 8).max(1),
            min_lr_factor,
        };
    }
    let src_tokens: usize = train_c.src.len();
    println!(
        "{}: Transformer {}+{} layers (d_model {}, {} heads, FFN {}, dropout {}) on {} ({} train pairs, {} skipped as empty / {} valid / {} test), BPE {} {} + {} {} ids ({bpe_seconds:.0} s), {} target tokens per epoch, backend {backend}, {} epochs of {} batches of {} sentences, {} lr {} ({}), label smoothing {}, out {}",
        recipe.name,
        spec.n_layers,
        spec.n_layers,
        spec.d_model,
        spec.n_heads,
        spec.d_ff,
        spec.dropout,
        source,
        src_tokens - skipped,
        skipped,
        valid_c.len(),
        test_c.len(),
        spec.src_lang,
        src_codec.len(),
        spec.tgt_lang,
        tgt_codec.len(),
        train_source.target_tokens(),
        fit_config.epochs,
        train_source.len(),
        sentences_per_batch,
        fit_config.optimizer,
        fit_config.learning_rate,
        fit_config.schedule,
        spec.label_smoothing,
        out.display()
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let model = info
        .model
        .init(&train_device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut progress = args.progress();
    let outcome = fit(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        &fit_config,
        &RunDir::new(&out, info.fingerprint()).resume(args.resume),
        &mut progress,
    )?;
    let model = outcome.model.valid();
    save_model(&model, &out.join("model.bpk"))?;

    let valid_eval = evaluate(&model, &valid_source, 1, device)?;
    let options = DecodeOptions::default();
    let start = std::time::Instant::now();
    let (hyps, test_bleu, cut_test) = score_split(
        &model, &test_c, &src_codec, &tgt_codec, max_len, &options, device,
    );
    let decode_seconds = start.elapsed().as_secs_f64();
    write_lines(&out.join("test_hypotheses.txt"), &hyps)?;
    let greedy = DecodeOptions {
        greedy: true,
        ..DecodeOptions::default()
    };
    let (_, test_greedy, _) = score_split(
        &model, &test_c, &src_codec, &tgt_codec, max_len, &greedy, device,
    );
    println!(
        "test ({} sentences, beam {}, α {}): {} | greedy BLEU {:.2} | valid NLL {:.4}/token (model of epoch {}) -> {}",
        test_c.len(),
        options.beam,
        options.length_penalty,
        bleu_line(&test_bleu),
        test_greedy.score,
        valid_eval.loss,
        outcome.model_epoch,
        out.join("metrics.json").display()
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
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "backend": backend.name(),
        "model": "transformer seq2seq",
        "model_config": info.model,
        "parameters": model.num_params(),
        "epochs": outcome.history.len(),
        "model_epoch": outcome.model_epoch,
        "stopped_early": outcome.stopped_early,
        "resumed_after": outcome.resumed_after,
        "batch_size": sentences_per_batch,
        "learning_rate": fit_config.learning_rate,
        "optimizer": fit_config.optimizer.to_string(),
        "schedule": fit_config.schedule.to_string(),
        "label_smoothing": spec.label_smoothing,
        "seed": args.seed,
        "max_len": max_len,
        "src_vocab": src_codec.len(),
        "tgt_vocab": tgt_codec.len(),
        "bpe_seconds": bpe_seconds,
        "data": {
            "source": source,
            "train_pairs": train_source.pairs(),
            "skipped_empty_pairs": skipped,
            "valid_pairs": valid_source.pairs(),
            "test_pairs": test_c.len(),
            "truncated_pairs": cut_train + cut_valid,
            "train_target_tokens": train_source.target_tokens(),
        },
        "train_seconds": outcome.train_seconds,
        "train_samples_per_second": outcome.samples_per_second(),
        "train_samples_unit": "target tokens",
        "seconds_per_epoch": outcome.train_seconds / outcome.history.len().max(1) as f64,
        "valid": { "loss": valid_eval.loss, "token_accuracy": valid_eval.accuracy },
        "test": test_json,
        "history": outcome.history,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

fn load_trained(
    info: &TranslationRunInfo,
    dir: &Path,
    device: &Device,
) -> Result<Transformer, CliError> {
    let model = info
        .model
        .init(device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(load_model(model, &model_file(dir)?)?.valid())
}

/// `deepzero eval` for a translation recipe: beam-search BLEU on the test split of
/// `--data-dir` (default: the data folder recorded in run.json).
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let info = TranslationRunInfo::load(checkpoint, recipe.name)?;
    let (src, tgt) = info.load_codecs(checkpoint)?;
    let model = load_trained(&info, checkpoint, device)?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| info.data_dir.clone());
    let test = read_split(&dir, "test_2016_flickr", &info.src_lang, &info.tgt_lang)?;
    let options = DecodeOptions::default();
    let start = std::time::Instant::now();
    let (hyps, score, cut) = score_split(&model, &test, &src, &tgt, info.max_len, &options, device);
    let seconds = start.elapsed().as_secs_f64();
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    write_lines(&out.join("test_hypotheses.txt"), &hyps)?;
    let mut test_json = bleu_json(&score);
    test_json["sentences"] = json!(test.len());
    test_json["truncated_sources"] = json!(cut);
    test_json["beam"] = json!(options.beam);
    test_json["length_penalty"] = json!(options.length_penalty);
    let metrics = json!({
        "recipe": recipe.name,
        "backend": backend.name(),
        "checkpoint": checkpoint.display().to_string(),
        "data": dir.display().to_string(),
        "epochs": 0,
        "train_seconds": 0.0,
        "train_samples_per_second": 0.0,
        "eval_seconds": seconds,
        "eval_samples_per_second": test.len() as f64 / seconds.max(1e-9),
        "test": test_json,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    println!(
        "{}: test {} on {} sentences ({}) -> {}",
        recipe.name,
        bleu_line(&score),
        test.len(),
        dir.display(),
        out.join("metrics.json").display()
    );
    Ok(())
}

/// `deepzero predict` for a translation recipe: one translation per input line.
pub fn predict(
    recipe: &Recipe,
    checkpoint: &Path,
    input: &TextInput,
    decode: &TranslateArgs,
    device: &Device,
) -> Result<Vec<String>, CliError> {
    let info = TranslationRunInfo::load(checkpoint, recipe.name)?;
    let (src, tgt) = info.load_codecs(checkpoint)?;
    let lines = crate::text_task::read_lines(input)?;
    if lines.is_empty() {
        return Err(CliError::Usage(
            "predict needs at least one sentence (as arguments, --input FILE, or lines on standard input)".into(),
        ));
    }
    if decode.beam == Some(0) {
        return Err(CliError::Usage("--beam must be at least 1".into()));
    }
    let model = load_trained(&info, checkpoint, device)?;
    let mut long = 0;
    let sources: Vec<Vec<usize>> = lines
        .iter()
        .map(|l| {
            let mut ids = src.encode(l);
            if ids.len() > info.max_len {
                long += 1;
                ids.truncate(info.max_len);
            }
            ids
        })
        .collect();
    if long > 0 {
        eprintln!(
            "warning: {long} input line(s) longer than the model's {} subwords were truncated",
            info.max_len
        );
    }
    let defaults = DecodeOptions::default();
    let options = DecodeOptions {
        beam: decode.beam.unwrap_or(defaults.beam),
        greedy: decode.greedy,
        length_penalty: decode.length_penalty.unwrap_or(defaults.length_penalty),
    };
    let out = translate_ids(&model, &sources, &tgt, &options, info.max_len, device);
    for line in &out {
        println!("{line}");
    }
    Ok(out)
}
