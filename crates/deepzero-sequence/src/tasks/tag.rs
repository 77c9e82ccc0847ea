//! The named-entity task (seed chapter 4.2): a BiLSTM-CRF over characters of the PKU People's
//! Daily corpus or over words of WNUT-17, trained into a run folder, evaluated with
//! seqeval-exact entity scores, and read back by a [`Predictor`] that tags sentences.
//!
//! * People's Daily ([`TagSpec::peoples_daily`]): the data folder holds `199801.txt` (PKU
//!   `word/POS` lines). Tags are derived per character (BIO over PER/LOC/ORG from nr/ns/nt,
//!   consecutive nr tokens merged into one name, bracketed `[…]nt`/`[…]ns`/`[…]nr` compounds as
//!   one entity), each line is split after `。！？` into sentences (and pieces of over 50
//!   characters further after a `，；：`, which keeps the recurrent steps few), and the sentences
//!   are split 80/10/10 into train/valid/test by a shuffle seeded with
//!   [`PEOPLES_DAILY_SPLIT_SEED`] (fixed, so every run and every evaluation see the same test set
//!   whatever the training seed is; the corpus has no official split).
//! * WNUT-17 ([`TagSpec::wnut17`]): the data folder holds `wnut17train.conll`,
//!   `emerging.dev.conll` (validation) and `emerging.test.annotated` (test). Words are
//!   lower-cased with digits folded ([`normalise_word`]); a word-shape embedding keeps the case.
//! * Sentences longer than the model's `max_len` are truncated to it for training, with a
//!   warning; at evaluation and prediction the tokens beyond it are tagged `O` (and counted
//!   against recall; [`TaggedLine::truncated`] says which inputs were cut).
//!
//! Scores are entity-level precision/recall/F1 exactly as seqeval computes them
//! ([`crate::tagging::metrics`]).
//!
//! ```no_run
//! use deepzero_sequence::tasks::tag::{self, Predictor, TagSpec};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = TagSpec::peoples_daily();
//! let settings = RunSettings::new("peoples-daily-ner", "runs/ner")
//!     .with_data_dir("shared/datasets/peoples-daily");
//! let report = tag::train(&spec, &settings)?;
//! println!("test entity F1 {}", report.test["f1"]);
//! let predictor = Predictor::load("runs/ner".as_ref(), None, &settings.device()?)?;
//! for line in predictor.tag(&["王伟在上海访问新华社。".into()])? {
//!     println!("{}", line.rendered); // [王伟]PER在[上海]LOC访问[新华社]ORG。
//! }
//! # Ok(()) }
//! ```

use std::path::Path;

use burn::prelude::*;
use deepzero_train::checkpoint::load_model;
use deepzero_train::{
    BatchSource, EvalReport, RunReport, RunSettings, TaskError, TrainError, evaluate,
    load_run_info, model_file,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::tagging::data::{
    NUM_SHAPES, normalise_word, read_peoples_daily, split_long, split_sentences, word_shape,
};
use crate::tagging::{
    BiLstmCrf, BiLstmCrfConfig, EntityReport, TaggedSentence, TaggingBatch, Vocab, entity_report,
    get_entities, read_conll,
};

/// People's Daily sentences longer than this many characters are cut after a clause mark
/// (`，；：`) once a piece reaches it (see [`split_long`]).
pub const PEOPLES_DAILY_SOFT_MAX: usize = 50;

/// Seed of the 80/10/10 sentence split of People's Daily.
pub const PEOPLES_DAILY_SPLIT_SEED: u64 = 1998;

/// Which NER corpus a run reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NerCorpus {
    /// PKU People's Daily 1998-01, character level.
    PeoplesDaily,
    /// WNUT-17 emerging entities, word level.
    Wnut17,
}

impl NerCorpus {
    /// Character-level (Chinese) or word-level.
    pub fn char_level(self) -> bool {
        self == NerCorpus::PeoplesDaily
    }

    /// The tokens of `line` as the corpus is tokenised: its non-blank characters
    /// (character-level) or its whitespace-separated words.
    pub fn tokenize(self, line: &str) -> Vec<String> {
        if self.char_level() {
            line.chars()
                .filter(|c| !c.is_whitespace())
                .map(String::from)
                .collect()
        } else {
            line.split_whitespace().map(String::from).collect()
        }
    }

    /// The files the data folder must hold.
    fn files(self) -> &'static str {
        match self {
            NerCorpus::PeoplesDaily => "199801.txt",
            NerCorpus::Wnut17 => "wnut17train.conll, emerging.dev.conll, emerging.test.annotated",
        }
    }
}

/// What a NER run reads and builds.
#[derive(Clone, Debug, PartialEq)]
pub struct TagSpec {
    /// The corpus (decides tokenisation and splits).
    pub corpus: NerCorpus,
    /// Token embedding width.
    pub d_embed: usize,
    /// LSTM hidden width per direction.
    pub d_hidden: usize,
    /// Add a word-shape embedding (case, digits; word-level corpora).
    pub word_shapes: bool,
    /// Dropout on the embeddings and the LSTM outputs.
    pub dropout: f64,
    /// Longest sentence the model sees (tokens).
    pub max_len: usize,
    /// Minimum training count of a vocabulary entry.
    pub min_count: usize,
}

impl TagSpec {
    /// Characters of People's Daily: embeddings 64, hidden 96 per direction, dropout 0.2,
    /// sentences of at most 200 characters (small enough for a shared CPU).
    pub fn peoples_daily() -> Self {
        Self {
            corpus: NerCorpus::PeoplesDaily,
            d_embed: 64,
            d_hidden: 96,
            word_shapes: false,
            dropout: 0.2,
            max_len: 200,
            min_count: 2,
        }
    }

    /// Words of WNUT-17: embeddings 100, hidden 64 per direction, word shapes, dropout 0.5,
    /// sentences of at most 100 words.
    pub fn wnut17() -> Self {
        Self {
            corpus: NerCorpus::Wnut17,
            d_embed: 100,
            d_hidden: 64,
            word_shapes: true,
            dropout: 0.5,
            max_len: 100,
            min_count: 2,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        for (name, v) in [
            ("d_embed", self.d_embed),
            ("d_hidden", self.d_hidden),
            ("max_len", self.max_len),
            ("min_count", self.min_count),
        ] {
            if v == 0 {
                return Err(TaskError::invalid(format!("{name} must be at least 1")));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TaskError::invalid(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// The model for a vocabulary of `vocab` tokens and `tags` tags.
    fn model(&self, vocab: usize, tags: usize) -> BiLstmCrfConfig {
        let config = BiLstmCrfConfig::new(vocab, tags)
            .with_d_embed(self.d_embed)
            .with_d_hidden(self.d_hidden);
        let config = if self.word_shapes {
            config.with_num_shapes(NUM_SHAPES)
        } else {
            config
        };
        config.with_dropout(self.dropout)
    }
}

/// The current version of [`TaggerInfo`]'s format.
pub const RUN_VERSION: u32 = 2;

/// What `OUT/run.json` records about a trained tagger.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaggerInfo {
    /// Format version (1: written before versions were recorded).
    #[serde(default = "deepzero_train::run_folder::version_1")]
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// The corpus (decides tokenisation).
    pub corpus: NerCorpus,
    /// Token vocabulary, by id.
    pub vocab: Vec<String>,
    /// Tag names, by id (`O` first).
    pub tags: Vec<String>,
    /// The model.
    pub model: BiLstmCrfConfig,
    /// Longest sentence the model tags (longer ones are truncated).
    pub max_len: usize,
    /// Where the training data came from.
    pub data: String,
}

deepzero_train::impl_run_info!(TaggerInfo, RUN_VERSION);

impl TaggerInfo {
    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "vocab": self.vocab.len(),
            "tags": self.tags,
            "model": self.model,
        })
    }

    /// Reads `DIR/run.json`, checking its version and, when `recipe` is given, that the run
    /// was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        Ok(info)
    }

    /// The trained model of the run in `dir`, on `device`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<BiLstmCrf, TaskError> {
        let model = self.model.init(device);
        Ok(load_model(model, &model_file(dir)?)?)
    }

    /// Turns tokens into (token ids, shape ids), truncated to `max_len`.
    fn encode(&self, vocab: &Vocab, tokens: &[String]) -> (Vec<usize>, Vec<usize>) {
        let n = tokens.len().min(self.max_len);
        let ids = tokens[..n]
            .iter()
            .map(|t| match self.corpus {
                NerCorpus::PeoplesDaily => vocab.id(t),
                NerCorpus::Wnut17 => vocab.id(&normalise_word(t)),
            })
            .collect();
        let shapes = tokens[..n].iter().map(|t| word_shape(t)).collect();
        (ids, shapes)
    }
}

/// The three splits of a NER corpus.
pub(crate) struct NerData {
    pub(crate) train: Vec<TaggedSentence>,
    pub(crate) valid: Vec<TaggedSentence>,
    pub(crate) test: Vec<TaggedSentence>,
    pub(crate) source: String,
}

fn read_text(path: &Path) -> Result<String, TaskError> {
    deepzero_data::read_text_file(path).map_err(|e| match e {
        deepzero_data::DataError::Io { path, source } => TaskError::io(&path)(source),
        e => TaskError::invalid(e.to_string()),
    })
}

/// Reads the splits of `corpus` (pre-training, [`crate::pretrain`], reads them to keep the test
/// sentences out).
pub(crate) fn load_ner_splits(
    corpus: NerCorpus,
    settings: &RunSettings,
) -> Result<NerData, TaskError> {
    load_ner_data(corpus, settings)
}

fn load_ner_data(corpus: NerCorpus, settings: &RunSettings) -> Result<NerData, TaskError> {
    let dir = settings.data_dir.as_deref().ok_or_else(|| {
        TaskError::invalid(format!(
            "{} needs a data folder (holding {})",
            settings.name,
            corpus.files()
        ))
    })?;
    if !dir.is_dir() {
        return Err(TaskError::invalid(format!(
            "data directory {} does not exist",
            dir.display()
        )));
    }
    match corpus {
        NerCorpus::PeoplesDaily => {
            let path = dir.join("199801.txt");
            let text = read_text(&path)?;
            let mut sentences: Vec<TaggedSentence> = read_peoples_daily(&text)
                .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))?
                .iter()
                .flat_map(split_sentences)
                .flat_map(|s| split_long(&s, PEOPLES_DAILY_SOFT_MAX))
                .filter(|s| !s.tokens.is_empty())
                .collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(PEOPLES_DAILY_SPLIT_SEED);
            sentences.shuffle(&mut rng);
            let n = sentences.len();
            let (n_train, n_valid) = (n * 8 / 10, n / 10);
            let test = sentences.split_off(n_train + n_valid);
            let valid = sentences.split_off(n_train);
            Ok(NerData {
                train: sentences,
                valid,
                test,
                source: format!(
                    "{} (sentences split 80/10/10, seed {PEOPLES_DAILY_SPLIT_SEED})",
                    path.display()
                ),
            })
        }
        NerCorpus::Wnut17 => {
            let read = |name: &str| -> Result<Vec<TaggedSentence>, TaskError> {
                let path = dir.join(name);
                read_conll(&read_text(&path)?)
                    .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))
            };
            Ok(NerData {
                train: read("wnut17train.conll")?,
                valid: read("emerging.dev.conll")?,
                test: read("emerging.test.annotated")?,
                source: dir.display().to_string(),
            })
        }
    }
}

/// Encoded sentences as a [`BatchSource`].
struct TaggingSource {
    items: Vec<(Vec<usize>, Vec<usize>, Vec<usize>)>,
    shapes: bool,
}

impl BatchSource<TaggingBatch> for TaggingSource {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<TaggingBatch, TrainError> {
        let items: Vec<_> = indices.iter().map(|&i| self.items[i].clone()).collect();
        Ok(TaggingBatch::new(&items, self.shapes, device))
    }
}

/// Encodes sentences (truncated to the model's length); returns them and how many were cut.
fn encode_all(
    info: &TaggerInfo,
    vocab: &Vocab,
    tags: &Vocab,
    sentences: &[TaggedSentence],
) -> (TaggingSource, usize) {
    let mut truncated = 0;
    let items = sentences
        .iter()
        .map(|s| {
            if s.tokens.len() > info.max_len {
                truncated += 1;
            }
            let (ids, shapes) = info.encode(vocab, &s.tokens);
            let tag_ids = s.tags[..ids.len()]
                .iter()
                .map(|t| tags.get(t).unwrap_or(0))
                .collect();
            (ids, shapes, tag_ids)
        })
        .collect();
    let source = TaggingSource {
        items,
        shapes: info.model.num_shapes > 0,
    };
    (source, truncated)
}

/// The warning line for `truncated` sentences of the `what` split.
fn truncation_warning(truncated: usize, what: &str, max_len: usize) -> Option<String> {
    (truncated > 0).then(|| {
        format!(
            "warning: {truncated} {what} sentence(s) longer than {max_len} tokens were truncated"
        )
    })
}

/// Tags sentences with a trained model: tag names per token (`O` beyond `max_len`).
fn tag_sentences(
    model: &BiLstmCrf,
    info: &TaggerInfo,
    vocab: &Vocab,
    sentences: &[Vec<String>],
    device: &Device,
) -> Vec<Vec<String>> {
    let mut out = Vec::with_capacity(sentences.len());
    for chunk in sentences.chunks(64) {
        let items: Vec<_> = chunk
            .iter()
            .map(|s| {
                let (ids, shapes) = info.encode(vocab, s);
                // An empty sentence still needs one step; its tag is dropped below.
                if ids.is_empty() {
                    (vec![0], vec![0], vec![0])
                } else {
                    (ids, shapes, Vec::new())
                }
            })
            .collect();
        let batch = TaggingBatch::new(&items, info.model.num_shapes > 0, device);
        for (path, s) in model.decode(&batch).into_iter().zip(chunk) {
            let mut tags: Vec<String> = path
                .into_iter()
                .take(s.len())
                .map(|t| info.tags.get(t).cloned().unwrap_or_else(|| "O".into()))
                .collect();
            tags.resize(s.len(), "O".into());
            out.push(tags);
        }
    }
    out
}

pub(crate) fn report_json(report: &EntityReport) -> serde_json::Value {
    json!({
        "f1": report.micro.f1,
        "precision": report.micro.precision,
        "recall": report.micro.recall,
        "entities": report.micro.support,
        "predicted_entities": report.micro.predicted,
        "correct_entities": report.micro.correct,
        "per_type": report.per_type,
    })
}

/// seqeval scores of `model` on `sentences`.
fn score(
    model: &BiLstmCrf,
    info: &TaggerInfo,
    vocab: &Vocab,
    sentences: &[TaggedSentence],
    device: &Device,
) -> EntityReport {
    let tokens: Vec<Vec<String>> = sentences.iter().map(|s| s.tokens.clone()).collect();
    let gold: Vec<Vec<String>> = sentences.iter().map(|s| s.tags.clone()).collect();
    let predicted = tag_sentences(model, info, vocab, &tokens, device);
    entity_report(&gold, &predicted)
}

/// Trains a BiLSTM-CRF tagger as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json`.
pub fn train(spec: &TagSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let corpus = spec.corpus;
    let data = load_ner_data(corpus, settings)?;
    let settings = &settings.with_data(&[settings.require_data_dir()?])?;
    if data.train.is_empty() || data.test.is_empty() {
        return Err(TaskError::invalid(format!(
            "{}: no sentences found",
            data.source
        )));
    }
    let normalised: Vec<String> = data
        .train
        .iter()
        .flat_map(|s| s.tokens.iter())
        .map(|t| {
            if corpus.char_level() {
                t.clone()
            } else {
                normalise_word(t)
            }
        })
        .collect();
    let vocab = Vocab::build(normalised.iter().map(String::as_str), spec.min_count);
    let tag_names = tag_names(&data.train);
    let tags = Vocab::from_tokens(tag_names.clone());
    let info = TaggerInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        corpus,
        vocab: vocab.tokens().to_vec(),
        tags: tag_names,
        model: spec.model(vocab.len(), tags.len()),
        max_len: spec.max_len,
        data: data.source.clone(),
    };
    let out = settings.create_out()?;
    settings.write_run_json("run.json", &info)?;

    let mut progress = settings.progress();
    let (train_source, cut_train) = encode_all(&info, &vocab, &tags, &data.train);
    let (valid_source, cut_valid) = encode_all(&info, &vocab, &tags, &data.valid);
    for (cut, what) in [(cut_train, "training"), (cut_valid, "validation")] {
        if let Some(line) = truncation_warning(cut, what, info.max_len) {
            progress.message(&line);
        }
    }
    let config = &settings.fit;
    progress.message(&format!(
        "{}: BiLSTM-CRF (embed {}, hidden {}×2, {} tags, vocab {}) on {} ({} train / {} valid / {} test sentences), backend {}, {} epochs, batch {}, {} lr {}, out {}",
        settings.name,
        info.model.d_embed,
        info.model.d_hidden,
        info.tags.len(),
        vocab.len(),
        data.source,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        settings.backend,
        config.epochs,
        config.batch_size,
        config.optimizer,
        config.learning_rate,
        out.display()
    ));
    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    let model = info.model.init(&train_device);
    let valid_ref = (!valid_source.is_empty()).then_some(&valid_source);
    let outcome = settings.fit_and_save(
        model,
        &train_source,
        valid_ref,
        &train_device,
        info.fingerprint(),
        &mut progress,
    )?;
    let model = outcome.model.clone();

    let (test_source, cut_test) = encode_all(&info, &vocab, &tags, &data.test);
    if let Some(line) = truncation_warning(cut_test, "test", info.max_len) {
        progress.message(&line);
    }
    let test_eval = evaluate(&model, &test_source, 64, &device)?;
    let valid_report = score(&model, &info, &vocab, &data.valid, &device);
    let test_report = score(&model, &info, &vocab, &data.test, &device);
    let mut test_json = report_json(&test_report);
    test_json["loss"] = json!(test_eval.loss);
    test_json["emission_token_accuracy"] = json!(test_eval.accuracy);
    test_json["sentences"] = json!(data.test.len());
    let report = RunReport::new(settings, &outcome, "bilstm-crf", model.num_params());
    let report = RunReport {
        data: json!({
            "source": data.source,
            "train_sentences": data.train.len(),
            "valid_sentences": data.valid.len(),
            "test_sentences": data.test.len(),
        }),
        valid: report_json(&valid_report),
        test: test_json,
        ..report
    }
    .with("model_config", &info.model)
    .with("max_len", info.max_len);
    let path = report.write(out)?;
    progress.message(&entity_test_line(
        &test_report,
        "token NLL",
        test_eval.loss,
        outcome.model_epoch,
        &path,
    ));
    Ok(report)
}

/// The tag set of `sentences`: `O` (id 0), then the others in sorted order.
pub(crate) fn tag_names(sentences: &[TaggedSentence]) -> Vec<String> {
    let others: std::collections::BTreeSet<&String> = sentences
        .iter()
        .flat_map(|s| &s.tags)
        .filter(|t| *t != "O")
        .collect();
    std::iter::once("O".to_string())
        .chain(others.into_iter().cloned())
        .collect()
}

/// The line a tagger's training ends with: the kept model's seqeval scores on the test split,
/// its per-token `loss` (named `loss_name`), and where the figures went.
pub(crate) fn entity_test_line(
    report: &EntityReport,
    loss_name: &str,
    loss: f64,
    model_epoch: usize,
    path: &Path,
) -> String {
    format!(
        "test: entity F1 {:.4} (precision {:.4}, recall {:.4}) on {} entities, {loss_name} {loss:.4} (model of epoch {model_epoch}) -> {}",
        report.micro.f1,
        report.micro.precision,
        report.micro.recall,
        report.micro.support,
        path.display()
    )
}

/// Writes the evaluation of the tagger of `run` on the test split of `data` (its seqeval
/// `report`, begun at `start`) to `settings.out/metrics.json`, and says so.
pub(crate) fn write_entity_eval(
    settings: &RunSettings,
    run: &Path,
    data: &NerData,
    report: &EntityReport,
    start: std::time::Instant,
) -> Result<EvalReport, TaskError> {
    let seconds = start.elapsed().as_secs_f64();
    let (source, sentences) = (&data.source, data.test.len());
    let mut test_json = report_json(report);
    test_json["sentences"] = json!(sentences);
    let eval = EvalReport::new(settings, run, source, sentences, seconds, test_json);
    let path = eval.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: test entity F1 {:.4} (precision {:.4}, recall {:.4}) on {sentences} sentences ({source}) -> {}",
        settings.name,
        report.micro.f1,
        report.micro.precision,
        report.micro.recall,
        path.display()
    ));
    Ok(eval)
}

/// Scores the run in `run` on the test split of the corpus in `settings.data_dir` (seqeval
/// entity F1); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &TagSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = TaggerInfo::load(run, Some(&settings.name))?;
    if info.corpus != spec.corpus {
        return Err(TaskError::invalid(format!(
            "run {} was trained on {:?}, not {:?}",
            run.display(),
            info.corpus,
            spec.corpus
        )));
    }
    let data = load_ner_data(info.corpus, settings)?;
    let vocab = Vocab::from_tokens(info.vocab.clone());
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let start = std::time::Instant::now();
    let report = score(&model, &info, &vocab, &data.test, &device);
    write_entity_eval(settings, run, &data, &report, start)
}

impl deepzero_train::Task for TagSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// Renders a tagged sentence: entities as `[text]TYPE` (the PKU bracket style), other tokens
/// as they are; characters are joined without spaces, words with one.
pub fn render(tokens: &[String], tags: &[String], char_level: bool) -> String {
    let sep = if char_level { "" } else { " " };
    let entities = get_entities(&[tags.to_vec()]);
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    let mut next = entities.iter().peekable();
    while i < tokens.len() {
        match next.peek() {
            Some((kind, first, last)) if *first == i => {
                parts.push(format!("[{}]{kind}", tokens[*first..=*last].join(sep)));
                i = last + 1;
                next.next();
            }
            _ => {
                parts.push(tokens[i].clone());
                i += 1;
            }
        }
    }
    parts.join(sep)
}

/// One tagged input line.
#[derive(Clone, Debug, Serialize)]
pub struct TaggedLine {
    /// The tokens: the line's non-blank characters (character-level runs) or its
    /// whitespace-separated words.
    pub tokens: Vec<String>,
    /// One tag per token (`O` beyond the model's `max_len`).
    pub tags: Vec<String>,
    /// The line with its entities bracketed ([`render`]): `[王伟]PER在[上海]LOC`.
    pub rendered: String,
    /// The line was longer than the model's `max_len` tokens; the rest is tagged `O`.
    pub truncated: bool,
}

impl TaggedLine {
    /// Each sentence's `tokens` with its `tags`, rendered as `corpus` joins tokens;
    /// `truncated` when longer than `max_len` tokens (`None`: the model tags any length).
    pub(crate) fn all(
        tokens: Vec<Vec<String>>,
        tags: Vec<Vec<String>>,
        corpus: NerCorpus,
        max_len: Option<usize>,
    ) -> Vec<TaggedLine> {
        tokens
            .into_iter()
            .zip(tags)
            .map(|(tokens, tags)| TaggedLine {
                rendered: render(&tokens, &tags, corpus.char_level()),
                truncated: max_len.is_some_and(|max| tokens.len() > max),
                tokens,
                tags,
            })
            .collect()
    }
}

impl std::fmt::Display for TaggedLine {
    /// The line with its entities bracketed ([`TaggedLine::rendered`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// How many of `lines` were longer than the model's maximum length (a front end warns about
/// them: the tokens beyond it are tagged `O`).
pub fn truncated_lines(lines: &[TaggedLine]) -> usize {
    lines.iter().filter(|l| l.truncated).count()
}

/// The warning a front end shows when some of `lines` were longer than `max_len` tokens.
pub fn long_lines_warning(lines: &[TaggedLine], max_len: usize) -> Option<String> {
    let long = truncated_lines(lines);
    (long > 0)
        .then(|| format!("{long} input line(s) longer than {max_len} tokens: the rest is tagged O"))
}

/// A trained tagger loaded from its run folder, ready to tag sentences.
pub struct Predictor {
    info: TaggerInfo,
    vocab: Vocab,
    model: BiLstmCrf,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = TaggerInfo::load(dir, recipe)?;
        let vocab = Vocab::from_tokens(info.vocab.clone());
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// The corpus the run was trained on (decides how lines are split into tokens).
    pub fn corpus(&self) -> NerCorpus {
        self.info.corpus
    }

    /// The longest sentence the model tags in full (tokens).
    pub fn max_len(&self) -> usize {
        self.info.max_len
    }

    /// The tag names, `O` first.
    pub fn tag_names(&self) -> &[String] {
        &self.info.tags
    }

    /// The tokens of `line` ([`NerCorpus::tokenize`] of the run's corpus).
    pub fn tokenize(&self, line: &str) -> Vec<String> {
        self.info.corpus.tokenize(line)
    }

    /// Tags each line, in batches of 64.
    pub fn tag(&self, lines: &[String]) -> Result<Vec<TaggedLine>, TaskError> {
        let tokens: Vec<Vec<String>> = lines.iter().map(|l| self.tokenize(l)).collect();
        let tags = tag_sentences(&self.model, &self.info, &self.vocab, &tokens, &self.device);
        let max_len = Some(self.info.max_len);
        Ok(TaggedLine::all(tokens, tags, self.info.corpus, max_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_brackets_entities() {
        let t = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            render(
                &t("江 泽 民 在 北 京"),
                &t("B-PER I-PER I-PER O B-LOC I-LOC"),
                true
            ),
            "[江泽民]PER在[北京]LOC"
        );
        assert_eq!(
            render(&t("the London Eye"), &t("O B-location I-location"), false),
            "the [London Eye]location"
        );
    }

    fn run_json(version: Option<u32>) -> String {
        let model = BiLstmCrfConfig::new(3, 2);
        let mut info = json!({
            "recipe": "peoples-daily-ner",
            "corpus": "PeoplesDaily",
            "vocab": ["<pad>", "<unk>", "北"],
            "tags": ["O", "B-LOC"],
            "model": model,
            "max_len": 200,
            "data": "d",
        });
        if let Some(v) = version {
            info["version"] = json!(v);
        }
        info.to_string()
    }

    #[test]
    fn run_json_versions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.json"), run_json(None)).unwrap();
        let info = TaggerInfo::load(dir.path(), Some("peoples-daily-ner")).unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.corpus, NerCorpus::PeoplesDaily);
        std::fs::write(dir.path().join("run.json"), run_json(Some(RUN_VERSION + 1))).unwrap();
        let err = TaggerInfo::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("version 3") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn recipes_keep_their_hyper_parameters() {
        let pd = TagSpec::peoples_daily();
        let m = pd.model(10, 7);
        assert_eq!((m.d_embed, m.d_hidden, m.num_shapes), (64, 96, 0));
        assert_eq!((m.dropout, pd.max_len), (0.2, 200));
        let w = TagSpec::wnut17();
        let m = w.model(10, 13);
        assert_eq!((m.d_embed, m.d_hidden, m.num_shapes), (100, 64, NUM_SHAPES));
        assert_eq!((m.dropout, w.max_len), (0.5, 100));
        let mut bad = TagSpec::peoples_daily();
        bad.max_len = 0;
        assert!(bad.validate().unwrap_err().to_string().contains("max_len"));
    }
}
