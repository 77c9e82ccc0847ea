//! Train, evaluate and predict with the text-classification recipes (seed chapters 4.1–4.2):
//! `bbc-lstm`, `bbc-transformer`, `spam-lstm`, `chinese-sentiment`, and the bag-of-n-grams
//! baselines `bbc-fasttext`, `chinese-sentiment-fasttext`.
//!
//! The path of a run: read the corpus ([`crate::text_corpus`]) → drop repeated documents
//! ([`LoadedCorpus::drop_duplicates`]; `--keep-duplicates` keeps them) → seeded stratified 80/20
//! train/test split, then 10 % of train (`--valid-fraction`) held out for validation → a
//! vocabulary built from the training part only (words lower-cased, or characters for Chinese),
//! saved as `OUT/vocab.json` → every document encoded and **truncated to its first `--max-len`
//! tokens** (how many were cut is logged and recorded in metrics.json) → a
//! [`TextClassifier`] trained by `deepzero_train::fit` → `model.bpk`, `run.json` (the
//! architecture, the vocabulary's size and fingerprint, the split seed) and `metrics.json`.
//!
//! `eval` rebuilds the same test split from the seed in run.json; `predict` classifies the
//! sentences given as arguments, or one per line from `--input FILE` or standard input, and
//! prints `label<TAB>probability` per line. Both refuse a vocab.json that is not the one the
//! checkpoint was trained with.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use burn::data::dataset::InMemDataset;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_data::stratified_split;
use deepzero_sequence::tasks::{
    TextBatcher, TextClassifier, TextClassifierConfig, TextEncoderKind, TextItem,
};
use deepzero_sequence::text::{TokenLevel, Vocab, VocabConfig};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{BatchSource, DatasetBatches, RunDir, evaluate, fit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::image_task::{classification_report, model_file};
use crate::recipes::{Recipe, RecipeKind};
use crate::text_corpus::{CorpusOptions, Duplicates, LoadedCorpus, TextCorpus};
use crate::{Backend, CliError, TrainArgs};

/// What a text recipe reads and builds (its registry entry).
#[derive(Clone, Debug)]
pub struct TextRecipe {
    /// The corpus.
    pub corpus: TextCorpus,
    /// BiLSTM or Transformer.
    pub encoder: TextEncoderKind,
    /// Words or characters.
    pub level: TokenLevel,
    /// Default `--max-len` (tokens kept per document).
    pub max_len: usize,
    /// Vocabulary frequency cut-off.
    pub min_freq: usize,
    /// Longest n-gram added to the plain tokens (1: none; bag encoders only).
    pub ngrams: usize,
    /// Vocabulary size limit (`<pad>`, `<unk>` included).
    pub max_vocab: usize,
    /// Embedding width.
    pub d_embed: usize,
    /// LSTM hidden width per direction / Transformer feed-forward width.
    pub d_hidden: usize,
    /// Layers.
    pub n_layers: usize,
    /// Attention heads (Transformer).
    pub n_heads: usize,
    /// Dropout on the embeddings and the pooled features (and inside the Transformer).
    pub dropout: f64,
    /// Probability of dropping a whole token while training.
    pub word_dropout: f64,
}

/// `OUT/run.json` of a text run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TextRunInfo {
    /// Recipe name.
    pub recipe: String,
    /// `bilstm` or `transformer`.
    pub encoder: String,
    /// Class names, index = class id.
    pub class_names: Vec<String>,
    /// The vocabulary file, relative to the run folder.
    pub vocab_file: String,
    /// Its number of tokens.
    pub vocab_size: usize,
    /// Its fingerprint ([`Vocab::fingerprint`]).
    pub vocab_fingerprint: u64,
    /// Tokens kept per document.
    pub max_len: usize,
    /// Mail headers stripped (spam recipe).
    pub strip_headers: bool,
    /// Repeated documents removed before the split ([`LoadedCorpus::drop_duplicates`]); false
    /// in runs written before it existed, so that `eval` rebuilds their split.
    #[serde(default)]
    pub drop_duplicates: bool,
    /// Embedding width.
    pub d_embed: usize,
    /// Hidden width.
    pub d_hidden: usize,
    /// Layers.
    pub n_layers: usize,
    /// Heads.
    pub n_heads: usize,
    /// Dropout while training (runs written before it was recorded used 0.2).
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// Word dropout while training (0 in runs written before it was recorded).
    #[serde(default)]
    pub word_dropout: f64,
    /// The run whose token embeddings started this one's (`--embeddings-from`), if any.
    #[serde(default)]
    pub embeddings_from: Option<String>,
    /// Seed of the train/test split (eval rebuilds the same test split).
    pub seed: u64,
    /// Where the training data came from.
    pub data: String,
}

fn default_dropout() -> f64 {
    0.2
}

impl TextRunInfo {
    fn encoder_kind(&self) -> Result<TextEncoderKind, CliError> {
        match self.encoder.as_str() {
            "bag" => Ok(TextEncoderKind::Bag),
            "bilstm" => Ok(TextEncoderKind::BiLstm),
            "transformer" => Ok(TextEncoderKind::Transformer),
            other => Err(CliError::Usage(format!(
                "run.json: unknown encoder `{other}`"
            ))),
        }
    }

    fn model_config(&self) -> Result<TextClassifierConfig, CliError> {
        Ok(TextClassifierConfig::new(
            self.vocab_size,
            self.class_names.len(),
            self.encoder_kind()?,
        )
        .with_d_embed(self.d_embed)
        .with_d_hidden(self.d_hidden)
        .with_n_layers(self.n_layers)
        .with_n_heads(self.n_heads)
        .with_dropout(self.dropout)
        .with_word_dropout(self.word_dropout)
        .with_max_len(self.max_len.max(1)))
    }

    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "encoder": self.encoder,
            "classes": self.class_names.len(),
            "vocab_size": self.vocab_size,
            "vocab_fingerprint": self.vocab_fingerprint,
            "dims": [self.d_embed, self.d_hidden, self.n_layers, self.n_heads],
        })
    }

    /// Reads `DIR/run.json` and checks that it belongs to `recipe`.
    pub fn load(dir: &Path, recipe: &str) -> Result<Self, CliError> {
        crate::load_run_json(dir, recipe, |info: &TextRunInfo| info.recipe.as_str())
    }

    /// Loads the run's vocabulary and checks it is the one the model was trained with.
    pub fn load_vocab(&self, dir: &Path) -> Result<Vocab, CliError> {
        let path = dir.join(&self.vocab_file);
        let vocab = Vocab::load(&path).map_err(|e| CliError::Usage(e.to_string()))?;
        vocab
            .check_matches(self.vocab_size, self.vocab_fingerprint)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        Ok(vocab)
    }
}

fn text_recipe(recipe: &Recipe) -> &TextRecipe {
    match &recipe.kind {
        RecipeKind::Text(t) => t,
        _ => unreachable!("text_task handles text recipes only"),
    }
}

fn load_corpus(
    recipe: &Recipe,
    args: &TrainArgs,
    strip_headers: bool,
    drop_duplicates: bool,
) -> Result<(LoadedCorpus, Duplicates), CliError> {
    let spec = text_recipe(recipe);
    let dir = args.data_dir.as_deref().ok_or_else(|| {
        CliError::Usage(format!(
            "{} needs --data-dir (see `deepzero list`; e.g. shared/datasets)",
            recipe.name
        ))
    })?;
    let mut corpus = spec.corpus.load(dir, CorpusOptions { strip_headers })?;
    if corpus.skipped_empty > 0 {
        println!(
            "{}: skipped {} empty documents",
            recipe.name, corpus.skipped_empty
        );
    }
    if !corpus.latin1_files.is_empty() {
        println!(
            "{}: {} files were not UTF-8 and were read as Latin-1 (first: {})",
            recipe.name,
            corpus.latin1_files.len(),
            corpus.latin1_files[0]
        );
    }
    let mut removed = Duplicates::default();
    if drop_duplicates {
        removed = corpus.drop_duplicates();
        if removed != Duplicates::default() {
            println!(
                "{}: dropped {} repeated documents and {} whose text occurs under two labels, {} left (--keep-duplicates keeps them)",
                recipe.name,
                removed.copies,
                removed.conflicting,
                corpus.docs.len()
            );
        }
    }
    Ok((corpus, removed))
}

/// Train and test indices: a stratified 80/20 split seeded by `seed`.
fn split(corpus: &LoadedCorpus, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let labels: Vec<usize> = corpus.docs.iter().map(|d| d.label).collect();
    stratified_split(&labels, 0.2, seed ^ 0x7e57)
}

/// Encodes documents, truncated to `max_len`; returns the items and how many were cut.
fn encode(
    corpus: &LoadedCorpus,
    indices: &[usize],
    vocab: &Vocab,
    max_len: usize,
) -> (Vec<TextItem>, usize) {
    let mut truncated = 0;
    let items = indices
        .iter()
        .map(|&i| {
            let doc = &corpus.docs[i];
            let (tokens, cut) = vocab.encode_truncated(&doc.text, max_len);
            truncated += cut as usize;
            TextItem {
                tokens,
                label: doc.label,
            }
        })
        .collect();
    (items, truncated)
}

type Source = DatasetBatches<TextItem, InMemDataset<TextItem>, TextBatcher>;

fn source(items: Vec<TextItem>) -> Source {
    DatasetBatches::new(InMemDataset::new(items), TextBatcher)
}

/// `deepzero train` for a text recipe.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let spec = text_recipe(recipe);
    let max_len = args.max_len.unwrap_or(spec.max_len);
    if max_len == 0 {
        return Err(CliError::Usage("--max-len must be at least 1".into()));
    }
    let dropout = args.dropout.unwrap_or(spec.dropout);
    let word_dropout = args.word_dropout.unwrap_or(spec.word_dropout);
    for (flag, p) in [("--dropout", dropout), ("--word-dropout", word_dropout)] {
        if !(0.0..1.0).contains(&p) {
            return Err(CliError::Usage(format!(
                "{flag} must be in [0, 1), got {p}"
            )));
        }
    }
    let min_freq = args.min_freq.unwrap_or(spec.min_freq);
    if min_freq == 0 {
        return Err(CliError::Usage("--min-freq must be at least 1".into()));
    }
    let ngrams = args.ngrams.unwrap_or(spec.ngrams);
    if ngrams == 0 {
        return Err(CliError::Usage("--ngrams must be at least 1".into()));
    }
    if ngrams > 1 && spec.encoder != TextEncoderKind::Bag {
        return Err(CliError::Usage(format!(
            "--ngrams applies to the bag-of-n-grams recipes (bbc-fasttext, chinese-sentiment-fasttext), not to {}, which reads tokens in order",
            recipe.name
        )));
    }
    let drop_duplicates = !args.keep_duplicates;
    let (corpus, duplicates) = load_corpus(recipe, args, args.strip_headers, drop_duplicates)?;
    let (train_all, test_idx) = split(&corpus, args.seed);
    let train_labels: Vec<usize> = train_all.iter().map(|&i| corpus.docs[i].label).collect();
    let (train_pos, valid_pos) = stratified_split(&train_labels, args.valid_fraction, args.seed);
    let train_idx: Vec<usize> = train_pos.iter().map(|&p| train_all[p]).collect();
    let valid_idx: Vec<usize> = valid_pos.iter().map(|&p| train_all[p]).collect();

    // The vocabulary sees the training part only.
    let config = match spec.level {
        TokenLevel::Word => VocabConfig::words(),
        TokenLevel::Char => VocabConfig::chars(),
    }
    .with_min_freq(min_freq)
    .with_ngrams(ngrams)
    .with_max_size(Some(spec.max_vocab));
    let vocab = Vocab::build(
        train_idx.iter().map(|&i| corpus.docs[i].text.as_str()),
        config,
    );

    let info = TextRunInfo {
        recipe: recipe.name.to_string(),
        encoder: match spec.encoder {
            TextEncoderKind::Bag => "bag",
            TextEncoderKind::BiLstm => "bilstm",
            TextEncoderKind::Transformer => "transformer",
        }
        .into(),
        class_names: corpus.class_names.clone(),
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        max_len,
        strip_headers: args.strip_headers,
        drop_duplicates,
        d_embed: spec.d_embed,
        d_hidden: spec.d_hidden,
        n_layers: spec.n_layers,
        n_heads: spec.n_heads,
        dropout,
        word_dropout,
        embeddings_from: args
            .embeddings_from
            .as_ref()
            .map(|p| p.display().to_string()),
        seed: args.seed,
        data: corpus.source.clone(),
    };
    // Check the embedding source before anything is written, so that a bad one leaves no
    // half-made run folder.
    let embedding_source = match &args.embeddings_from {
        Some(dir) => Some((dir, embedding_source(dir, recipe, &info)?)),
        None => None,
    };
    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    vocab
        .save(&out.join("vocab.json"))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    write_json_atomic(&out.join("run.json"), &info)?;

    let (train_items, cut_train) = encode(&corpus, &train_idx, &vocab, max_len);
    let (valid_items, cut_valid) = encode(&corpus, &valid_idx, &vocab, max_len);
    let (test_items, cut_test) = encode(&corpus, &test_idx, &vocab, max_len);
    let truncated = cut_train + cut_valid + cut_test;
    let mean_len = train_items.iter().map(|i| i.tokens.len()).sum::<usize>() as f64
        / train_items.len().max(1) as f64;
    let train_source = source(train_items);
    let valid_source = source(valid_items);
    let test_source = source(test_items);

    let fit_config = args.fit_config(recipe);
    println!(
        "{}: {} on {} ({} classes; {} train / {} valid / {} test), vocabulary {} tokens (min freq {min_freq}, n-grams up to {ngrams}), {} of {} documents truncated to --max-len {} (mean train length {:.0} tokens), dropout {dropout}, word dropout {word_dropout}, backend {backend}, {} epochs, batch {}, {} lr {} ({}), out {}",
        recipe.name,
        info.encoder,
        corpus.source,
        info.class_names.len(),
        train_source.len(),
        valid_source.len(),
        test_source.len(),
        vocab.len(),
        truncated,
        corpus.docs.len(),
        max_len,
        mean_len,
        fit_config.epochs,
        fit_config.batch_size,
        fit_config.optimizer,
        fit_config.learning_rate,
        fit_config.schedule,
        out.display()
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let mut model = info
        .model_config()?
        .init(&train_device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut embeddings_copied = 0;
    if let Some((source, from)) = &embedding_source {
        let copied = embeddings_from(source, from, &vocab, model, &train_device)?;
        (model, embeddings_copied) = copied;
        println!(
            "{}: {embeddings_copied} of {} token embeddings start from {}",
            recipe.name,
            vocab.len(),
            source.display()
        );
    }
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
    let valid = evaluate(&model, &valid_source, 64, device)?;
    let test = evaluate(&model, &test_source, 64, device)?;
    let mut test_json = classification_report(&test, info.class_names.len());
    println!(
        "test: accuracy {:.2}% loss {:.4} macro-F1 {:.4} (model of epoch {}) -> {}",
        test.accuracy * 100.0,
        test.loss,
        test_json["macro_f1"].as_f64().unwrap_or(0.0),
        outcome.model_epoch,
        out.join("metrics.json").display()
    );
    test_json["accuracy"] = json!(test.accuracy);
    test_json["loss"] = json!(test.loss);
    test_json["examples"] = json!(test.examples);
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "backend": backend.name(),
        "model": format!("text classifier ({})", info.encoder),
        "parameters": model.num_params(),
        "epochs": outcome.history.len(),
        "model_epoch": outcome.model_epoch,
        "stopped_early": outcome.stopped_early,
        "resumed_after": outcome.resumed_after,
        "batch_size": fit_config.batch_size,
        "learning_rate": fit_config.learning_rate,
        "optimizer": fit_config.optimizer.to_string(),
        "schedule": fit_config.schedule.to_string(),
        "weight_decay": fit_config.weight_decay,
        "seed": args.seed,
        "vocab_size": vocab.len(),
        "max_len": max_len,
        "dropout": dropout,
        "word_dropout": word_dropout,
        "min_freq": min_freq,
        "ngrams": ngrams,
        "embeddings_from": info.embeddings_from,
        "embeddings_copied": embeddings_copied,
        "strip_headers": args.strip_headers,
        "data": {
            "source": corpus.source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
            "skipped_empty": corpus.skipped_empty,
            "drop_duplicates": drop_duplicates,
            "duplicate_copies_removed": duplicates.copies,
            "conflicting_removed": duplicates.conflicting,
            "latin1_files": corpus.latin1_files.len(),
            "truncated_documents": truncated,
            "mean_train_tokens": mean_len,
        },
        "train_seconds": outcome.train_seconds,
        "train_samples_per_second": outcome.samples_per_second(),
        "valid": { "accuracy": valid.accuracy, "loss": valid.loss },
        "test": test_json,
        "history": outcome.history,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

/// Reads the run.json of `--embeddings-from`'s `source` and checks that its embeddings may
/// start this run's: the same width, and, on the same corpus, the same split (otherwise they
/// have seen this run's test documents).
fn embedding_source(
    source: &Path,
    recipe: &Recipe,
    info: &TextRunInfo,
) -> Result<TextRunInfo, CliError> {
    let from: TextRunInfo = crate::read_run_json(source)?;
    let same_corpus = crate::recipes::find(&from.recipe)
        .ok()
        .and_then(|r| match r.kind {
            RecipeKind::Text(t) => Some(t.corpus == text_recipe(recipe).corpus),
            _ => None,
        })
        .unwrap_or(false);
    if same_corpus && (from.seed != info.seed || from.drop_duplicates != info.drop_duplicates) {
        return Err(CliError::Usage(format!(
            "--embeddings-from {}: that run split the same corpus differently (seed {}, duplicates {}; this run: seed {}, duplicates {}), so its embeddings have seen this run's test documents",
            source.display(),
            from.seed,
            if from.drop_duplicates {
                "dropped"
            } else {
                "kept"
            },
            info.seed,
            if info.drop_duplicates {
                "dropped"
            } else {
                "kept"
            },
        )));
    }
    if from.d_embed != info.d_embed {
        return Err(CliError::Usage(format!(
            "--embeddings-from {}: its embeddings are {} wide, this recipe's {}",
            source.display(),
            from.d_embed,
            info.d_embed
        )));
    }
    Ok(from)
}

/// Starts `model`'s token embeddings from those of the text run `from` in `source` (checked
/// by [`embedding_source`]): the row of every token both vocabularies hold is copied, the
/// others keep their random start. Returns the model and the number of rows copied.
fn embeddings_from(
    source: &Path,
    from: &TextRunInfo,
    vocab: &Vocab,
    mut model: TextClassifier,
    device: &Device,
) -> Result<(TextClassifier, usize), CliError> {
    let from_vocab = from.load_vocab(source)?;
    let trained = load_trained(from, source, &Device::flex())?;
    let table = embedding_table(&trained)?;
    let mut rows = embedding_table(&model)?;
    let d = from.d_embed; // equal to this run's (checked by embedding_source)
    let copied = copy_shared_rows(&from_vocab, &table, vocab, &mut rows, d);
    model.embedding.weight =
        burn::module::Param::from_data(TensorData::new(rows, [vocab.len(), d]), device);
    Ok((model, copied))
}

/// The token-embedding table of `model`, row-major `[vocab, d]`.
fn embedding_table(model: &TextClassifier) -> Result<Vec<f32>, CliError> {
    model
        .embedding
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| CliError::Usage(format!("embedding table: {e:?}")))
}

/// Copies into `to_table` (`[to.len(), d]`, row-major) the row of `from_table` of every
/// token that both vocabularies hold; returns how many rows were copied. Ids 0 and 1 are
/// `<pad>` and `<unk>` in every vocabulary and are not carried over.
fn copy_shared_rows(
    from: &Vocab,
    from_table: &[f32],
    to: &Vocab,
    to_table: &mut [f32],
    d: usize,
) -> usize {
    let mut copied = 0;
    for id in 2..to.len() {
        let token = to.token(id).unwrap_or_default();
        if let Some(from_id) = from.id(token).filter(|&i| i >= 2) {
            to_table[id * d..(id + 1) * d]
                .copy_from_slice(&from_table[from_id * d..(from_id + 1) * d]);
            copied += 1;
        }
    }
    copied
}

fn load_trained(
    info: &TextRunInfo,
    dir: &Path,
    device: &Device,
) -> Result<TextClassifier, CliError> {
    let model = info
        .model_config()?
        .init(device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(load_model(model, &model_file(dir)?)?)
}

/// `deepzero eval` for a text recipe: the test split of the seed recorded in run.json.
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let info = TextRunInfo::load(checkpoint, recipe.name)?;
    let vocab = info.load_vocab(checkpoint)?;
    let model = load_trained(&info, checkpoint, device)?;
    let (corpus, _) = load_corpus(recipe, args, info.strip_headers, info.drop_duplicates)?;
    if corpus.class_names != info.class_names {
        return Err(CliError::Usage(format!(
            "the classes of {} ({}) are not those of the checkpoint ({})",
            corpus.source,
            corpus.class_names.join(", "),
            info.class_names.join(", ")
        )));
    }
    let (_, test_idx) = split(&corpus, info.seed);
    let (items, truncated) = encode(&corpus, &test_idx, &vocab, info.max_len);
    let test_source = source(items);
    let start = std::time::Instant::now();
    let test = evaluate(&model, &test_source, args.batch_size.unwrap_or(64), device)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut test_json = classification_report(&test, info.class_names.len());
    test_json["accuracy"] = json!(test.accuracy);
    test_json["loss"] = json!(test.loss);
    test_json["examples"] = json!(test.examples);
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let metrics = json!({
        "recipe": recipe.name,
        "backend": backend.name(),
        "checkpoint": checkpoint.display().to_string(),
        "data": corpus.source,
        "max_len": info.max_len,
        "truncated_documents": truncated,
        "epochs": 0,
        "train_seconds": 0.0,
        "train_samples_per_second": 0.0,
        "eval_seconds": seconds,
        "eval_samples_per_second": test.examples as f64 / seconds.max(1e-9),
        "test": test_json,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    println!(
        "{}: test accuracy {:.2}% loss {:.4} macro-F1 {:.4} on {} documents ({}) -> {}",
        recipe.name,
        test.accuracy * 100.0,
        test.loss,
        metrics["test"]["macro_f1"].as_f64().unwrap_or(0.0),
        test.examples,
        corpus.source,
        out.join("metrics.json").display()
    );
    Ok(())
}

/// One text's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct TextPrediction {
    /// The input text.
    pub text: String,
    /// The most probable class.
    pub label: String,
    /// Its probability.
    pub probability: f32,
}

/// Where `predict` reads its texts from.
#[derive(Clone, Debug)]
pub enum TextInput {
    /// Texts given on the command line.
    Args(Vec<String>),
    /// One text per line of a file (`-` is standard input).
    File(PathBuf),
    /// One text per line of standard input.
    Stdin,
}

impl TextInput {
    /// Where `predict` reads from: the texts given as arguments, or else the lines of `--input`
    /// (`-` or neither: standard input). Both at once is a usage error.
    pub fn from_args(texts: Vec<String>, input: Option<PathBuf>) -> Result<Self, CliError> {
        match (input, texts.is_empty()) {
            (Some(path), true) => Ok(Self::File(path)),
            (Some(_), false) => Err(CliError::Usage(
                "give texts either as arguments or with --input, not both".into(),
            )),
            (None, true) => Ok(Self::Stdin),
            (None, false) => Ok(Self::Args(texts)),
        }
    }
}

pub(crate) fn read_lines(input: &TextInput) -> Result<Vec<String>, CliError> {
    match input {
        TextInput::Args(texts) => Ok(texts.clone()),
        TextInput::File(path) if path.as_os_str() == "-" => read_lines(&TextInput::Stdin),
        TextInput::File(path) => {
            let bytes = std::fs::read(path).map_err(CliError::io(path))?;
            let text = crate::text_corpus::decode_utf8(&bytes, path)?;
            Ok(text.lines().map(str::to_string).collect())
        }
        TextInput::Stdin => {
            let stdin = std::io::stdin();
            let mut lines = Vec::new();
            for (n, line) in stdin.lock().split(b'\n').enumerate() {
                let line = line.map_err(CliError::io(Path::new("<stdin>")))?;
                let text = String::from_utf8(line)
                    .map_err(|_| CliError::Usage(format!("<stdin>:{}: not valid UTF-8", n + 1)))?;
                lines.push(text.trim_end_matches('\r').to_string());
            }
            Ok(lines)
        }
    }
}

/// `deepzero predict` for a text recipe: one `label<TAB>probability` line per input text
/// (or a JSON array with `json`).
pub fn predict(
    recipe: &Recipe,
    checkpoint: &Path,
    input: &TextInput,
    json_output: bool,
    device: &Device,
) -> Result<Vec<TextPrediction>, CliError> {
    let info = TextRunInfo::load(checkpoint, recipe.name)?;
    let vocab = info.load_vocab(checkpoint)?;
    let model = load_trained(&info, checkpoint, device)?.valid();
    let texts = read_lines(input)?;
    if texts.is_empty() {
        return Err(CliError::Usage(
            "predict needs at least one text (as arguments, --input FILE, or lines on standard input)".into(),
        ));
    }
    let mut predictions = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        let ids: Vec<Vec<usize>> = chunk
            .iter()
            .map(|t| vocab.encode_truncated(t, info.max_len).0)
            .collect();
        let docs: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
        let (tokens, padding) = TextBatcher::tokens_tensor(&docs, device);
        let probs = softmax(model.forward(tokens, padding), 1);
        let (values, indices) = probs.max_dim_with_indices(1);
        let values: Vec<f32> = values
            .try_into_vec_as::<f32>()
            .map_err(|e| CliError::Usage(format!("{e:?}")))?;
        let indices: Vec<i64> = indices
            .try_into_vec_as::<i64>()
            .map_err(|e| CliError::Usage(format!("{e:?}")))?;
        for ((text, p), c) in chunk.iter().zip(values).zip(indices) {
            predictions.push(TextPrediction {
                text: text.clone(),
                label: info.class_names[c as usize].clone(),
                probability: p,
            });
        }
    }
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(&predictions).unwrap_or_default()
        );
    } else {
        for p in &predictions {
            println!("{}\t{:.4}", p.label, p.probability);
        }
    }
    Ok(predictions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_tokens_take_their_rows_the_rest_keep_theirs() {
        // from: <pad> <unk> cat sat the "cat sat" (words and pairs); to: <pad> <unk> the dog cat
        let from = Vocab::build(
            ["the cat sat", "the cat sat"],
            VocabConfig::words().with_ngrams(2),
        );
        let to = Vocab::build(["the dog cat", "the dog cat"], VocabConfig::words());
        let d = 2;
        let from_table: Vec<f32> = (0..from.len() * d).map(|v| v as f32).collect();
        let mut to_table = vec![-1.0; to.len() * d];
        let copied = copy_shared_rows(&from, &from_table, &to, &mut to_table, d);
        assert_eq!(copied, 2); // "the" and "cat"
        for token in ["the", "cat"] {
            let (t, f) = (to.id(token).unwrap(), from.id(token).unwrap());
            assert_eq!(to_table[t * d..(t + 1) * d], from_table[f * d..(f + 1) * d]);
        }
        let dog = to.id("dog").unwrap();
        assert_eq!(to_table[dog * d..(dog + 1) * d], [-1.0, -1.0]);
        assert_eq!(
            to_table[..2 * d],
            [-1.0; 4],
            "<pad> and <unk> are not carried over"
        );
    }
}
