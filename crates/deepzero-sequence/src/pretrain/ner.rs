//! Named-entity recognition with a BERT-style encoder: People's Daily (characters) and WNUT-17
//! (words), fine-tuned `--from` a pre-training run or trained from scratch, with or without a
//! CRF on top ([`BertTokenClassifier`]).
//!
//! The path of a run:
//! 1. the corpus is read and split by [`crate::tasks::tag`]'s own reader (People's Daily: its
//!    fixed 80/10/10 sentence split, whose test sentences pre-training keeps out; WNUT-17: the
//!    shipped train/dev/test files), so the test sentences are those of `peoples-daily-ner` and
//!    `wnut17-ner`; `label_fraction` keeps a seeded fraction of the training and validation
//!    sentences. `--data-dir` may be the staged datasets folder (its `peoples-daily-1998-01/`
//!    or `wnut17/` is used) or the corpus folder itself;
//! 2. with `from`: the pre-training run of the corpus's language gives the vocabulary and the
//!    encoder. Each corpus token is one encoder position: its id is the token's own (lower-cased
//!    for the English word vocabulary), else that of the first known piece of it, words first
//!    (`#Obama` → `obama`), else `<unk>` ([`token_id`]). Without `from`: a vocabulary of the
//!    training tokens and a random encoder of the same shape;
//! 3. a new tag head (and CRF with `crf`), then the [`FinetuneMode`] of the classifier: full,
//!    frozen encoder, or LoRA ([`adapt_encoder`]; merged after training);
//! 4. sentences longer than `max_len − 2` tokens are cut into consecutive pieces of at most that
//!    many tokens (each read as `[CLS] piece [SEP]`), in training, evaluation and prediction
//!    alike, so every token is tagged;
//! 5. the epoch with the best validation loss is kept; scores are seqeval's entity-level
//!    precision/recall/F1 ([`crate::tagging::metrics`]), as for the BiLSTM-CRF.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::{
    BatchSource, EvalReport, RunReport, RunSettings, TaskError, TrainError, evaluate,
    load_run_info, model_file,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::corpus::Language;
use super::finetune::{
    FinetuneMode, adapt_encoder, check_language, check_settings, largest_difference,
    load_checked_vocab, require_kind, trainable_values,
};
use super::model::BertConfig;
use super::task::{PretrainRunInfo, Specials};
use super::token_classifier::{BertTokenClassifier, TokenBatch};
use crate::tagging::{EntityReport, TaggedSentence, entity_report};
use crate::tasks::tag::{
    NerCorpus, NerData, TaggedLine, entity_test_line, load_ner_splits, report_json, tag_names,
    write_entity_eval,
};
use crate::tasks::write_run_files;
use crate::text::{UNK_ID, Vocab, VocabConfig};

/// What a BERT NER run reads and builds.
#[derive(Clone, Debug, PartialEq)]
pub struct BertNerSpec {
    /// The corpus.
    pub corpus: NerCorpus,
    /// The pre-training run to start from (`None`: from scratch).
    pub from: Option<PathBuf>,
    /// What trains.
    pub mode: FinetuneMode,
    /// A CRF on the emissions (else an independent softmax per token).
    pub crf: bool,
    /// Fraction of the training (and validation) sentences used, in (0, 1].
    pub label_fraction: f64,
    /// Positions per piece, `[CLS]` and `[SEP]` included (at most the encoder's `max_len`).
    pub max_len: usize,
    /// Dropout before the head (and, from scratch, in the encoder).
    pub dropout: f64,
    /// From scratch: the encoder's shape (its `vocab_size` is replaced by the vocabulary's).
    pub scratch: BertConfig,
    /// From scratch: vocabulary frequency cut-off.
    pub min_freq: usize,
    /// From scratch: vocabulary size limit.
    pub max_vocab: usize,
}

impl BertNerSpec {
    /// Full fine-tuning without a CRF on `corpus`, 128 positions, all labels; from scratch a
    /// default-shaped encoder over a 6 000-character (People's Daily) or 16 000-word vocabulary
    /// (the sizes of the pre-training runs).
    pub fn new(corpus: NerCorpus) -> Self {
        Self {
            corpus,
            from: None,
            mode: FinetuneMode::Full,
            crf: false,
            label_fraction: 1.0,
            max_len: 128,
            dropout: 0.1,
            scratch: BertConfig::new(0),
            min_freq: 2,
            max_vocab: match corpus {
                NerCorpus::PeoplesDaily => 6_000,
                NerCorpus::Wnut17 => 16_000,
            },
        }
    }

    /// Checks the settings (as [`super::FinetuneSpec::validate`]).
    pub fn validate(&self) -> Result<(), TaskError> {
        check_settings(
            self.label_fraction,
            self.max_len,
            self.dropout,
            self.mode,
            self.from.is_some(),
        )
    }

    /// Chinese characters or English words.
    pub fn language(&self) -> Language {
        language(self.corpus)
    }
}

fn language(corpus: NerCorpus) -> Language {
    match corpus {
        NerCorpus::PeoplesDaily => Language::Zh,
        NerCorpus::Wnut17 => Language::En,
    }
}

fn corpus_name(corpus: NerCorpus) -> &'static str {
    match corpus {
        NerCorpus::PeoplesDaily => "peoples-daily",
        NerCorpus::Wnut17 => "wnut17",
    }
}

/// The corpus's folder among the staged datasets, and a file that marks it.
fn staged_folder(corpus: NerCorpus) -> (&'static str, &'static str) {
    match corpus {
        NerCorpus::PeoplesDaily => ("peoples-daily-1998-01", "199801.txt"),
        NerCorpus::Wnut17 => ("wnut17", "wnut17train.conll"),
    }
}

/// The current version of [`BertTaggerInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `run.json` calls a BERT tagger.
pub const KIND: &str = "bert-tagger";

/// `OUT/run.json` of a BERT NER run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BertTaggerInfo {
    /// Format version.
    pub version: u32,
    /// Always [`KIND`].
    pub kind: String,
    /// Recipe name.
    pub recipe: String,
    /// The corpus (decides tokenisation).
    pub corpus: NerCorpus,
    /// Tag names, by id (`O` first).
    pub tags: Vec<String>,
    /// The vocabulary file, relative to the run folder.
    pub vocab_file: String,
    /// Its number of tokens (without the specials).
    pub vocab_size: usize,
    /// Its fingerprint.
    pub vocab_fingerprint: u64,
    /// The encoder.
    pub bert: BertConfig,
    /// Dropout before the head.
    pub dropout: f64,
    /// A CRF on the emissions.
    pub crf: bool,
    /// Positions per piece, specials included.
    pub max_len: usize,
    /// The pre-training run it started from.
    pub from: Option<String>,
    /// What trained.
    pub mode: FinetuneMode,
    /// Fraction of the training sentences used.
    pub label_fraction: f64,
    /// Seed of the run (the label fraction's draw, shuffling, initialisation).
    pub seed: u64,
    /// Where the data came from.
    pub data: String,
}

deepzero_train::impl_run_info!(BertTaggerInfo, RUN_VERSION);

impl BertTaggerInfo {
    /// Reads `DIR/run.json`, checking its kind and, when given, the recipe.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        require_kind(dir, KIND, "a BERT tagger")?;
        load_run_info(dir, recipe)
    }

    fn load_vocab(&self, dir: &Path) -> Result<Vocab, TaskError> {
        load_checked_vocab(
            dir,
            &self.vocab_file,
            self.vocab_size,
            self.vocab_fingerprint,
        )
    }

    /// The trained (merged) tagger of the run in `dir`.
    pub fn load_model(
        &self,
        dir: &Path,
        device: &Device,
    ) -> Result<BertTokenClassifier, TaskError> {
        let bert = self
            .bert
            .init(device)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
        let model = BertTokenClassifier::new(bert, self.tags.len(), self.crf, self.dropout, device);
        Ok(load_model(model, &model_file(dir)?)?)
    }

    /// Tokens per piece (`max_len` less `[CLS]` and `[SEP]`).
    fn width(&self) -> usize {
        self.max_len - 2
    }
}

/// The splits of `corpus` as [`crate::tasks::tag`] reads them, from `settings.data_dir` or its
/// staged sub-folder; and the folder they came from.
fn load_data(corpus: NerCorpus, settings: &RunSettings) -> Result<(NerData, PathBuf), TaskError> {
    let dir = settings.require_data_dir()?;
    let (folder, marker) = staged_folder(corpus);
    let folder = if dir.join(marker).is_file() || !dir.join(folder).is_dir() {
        dir.to_path_buf()
    } else {
        dir.join(folder)
    };
    let mut own = settings.clone();
    own.data_dir = Some(folder.clone());
    let data = load_ner_splits(corpus, &own)?;
    if data.train.is_empty() || data.test.is_empty() {
        return Err(TaskError::invalid(format!(
            "{}: no sentences to train on or test with (the corpus is empty)",
            data.source
        )));
    }
    Ok((data, folder))
}

/// The id of one corpus token in `vocab`: the token itself (lower-cased when the vocabulary
/// lower-cases), else the first piece of it the vocabulary knows — a word before punctuation
/// (`#Obama` → `obama`) — else `<unk>`.
pub fn token_id(vocab: &Vocab, token: &str) -> usize {
    let whole = if vocab.config.lowercase {
        token.to_lowercase()
    } else {
        token.to_string()
    };
    if let Some(id) = vocab.id(&whole) {
        return id;
    }
    let pieces = vocab.tokenize(token);
    let known = |words_only: bool| {
        pieces
            .iter()
            .filter(|p| !words_only || p.chars().any(char::is_alphanumeric))
            .find_map(|p| vocab.id(p))
    };
    known(true).or_else(|| known(false)).unwrap_or(UNK_ID)
}

/// Consecutive pieces of at most `width` of `n` tokens (none for an empty sentence).
fn pieces(n: usize, width: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n).step_by(width).map(move |s| s..(s + width).min(n))
}

/// `(token ids, tag ids)` pieces of tagged sentences; a tag not seen in training reads as `O`.
fn encode(
    sentences: &[TaggedSentence],
    vocab: &Vocab,
    tag_ids: &HashMap<&str, usize>,
    width: usize,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut items = Vec::new();
    for s in sentences {
        for r in pieces(s.tokens.len(), width) {
            let ids = s.tokens[r.clone()]
                .iter()
                .map(|t| token_id(vocab, t))
                .collect();
            let tags = s.tags[r]
                .iter()
                .map(|t| tag_ids.get(t.as_str()).copied().unwrap_or(0))
                .collect();
            items.push((ids, tags));
        }
    }
    items
}

/// Encoded pieces as a [`BatchSource`].
struct PieceSource {
    items: Vec<(Vec<usize>, Vec<usize>)>,
    specials: Specials,
}

impl BatchSource<TokenBatch> for PieceSource {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<TokenBatch, TrainError> {
        let items: Vec<_> = indices.iter().map(|&i| self.items[i].clone()).collect();
        Ok(TokenBatch::new(&items, &self.specials, device))
    }
}

/// A trained model with what it needs to tag text.
struct Tagger<'a> {
    model: &'a BertTokenClassifier,
    vocab: &'a Vocab,
    tags: &'a [String],
    width: usize,
    device: &'a Device,
}

impl Tagger<'_> {
    /// Tag names of every token of every sentence (long sentences tagged piece by piece).
    fn tag(&self, sentences: &[Vec<String>]) -> Vec<Vec<String>> {
        let specials = Specials::after(self.vocab.len());
        let mut items = Vec::new();
        let mut owners = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            for r in pieces(s.len(), self.width) {
                let ids = s[r].iter().map(|t| token_id(self.vocab, t)).collect();
                items.push((ids, Vec::new()));
                owners.push(i);
            }
        }
        let mut out: Vec<Vec<String>> = sentences
            .iter()
            .map(|s| Vec::with_capacity(s.len()))
            .collect();
        for (chunk, owner) in items.chunks(64).zip(owners.chunks(64)) {
            let batch = TokenBatch::new(chunk, &specials, self.device);
            for (path, &i) in self.model.decode(&batch).into_iter().zip(owner) {
                out[i].extend(path.into_iter().map(|k| self.tags[k].clone()));
            }
        }
        out
    }

    /// seqeval scores on `sentences`.
    fn score(&self, sentences: &[TaggedSentence]) -> EntityReport {
        let tokens: Vec<Vec<String>> = sentences.iter().map(|s| s.tokens.clone()).collect();
        let gold: Vec<Vec<String>> = sentences.iter().map(|s| s.tags.clone()).collect();
        entity_report(&gold, &self.tag(&tokens))
    }
}

/// Keeps a seeded `fraction` of `sentences` (at least one; all of them for 1), in their order.
fn keep_fraction(sentences: &[TaggedSentence], fraction: f64, seed: u64) -> Vec<TaggedSentence> {
    if fraction >= 1.0 || sentences.is_empty() {
        return sentences.to_vec();
    }
    let mut order: Vec<usize> = (0..sentences.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ 0x4e52));
    let keep = ((sentences.len() as f64 * fraction).ceil() as usize).max(1);
    let mut kept = order[..keep].to_vec();
    kept.sort_unstable();
    kept.into_iter().map(|i| sentences[i].clone()).collect()
}

/// The tagger a run starts from: the encoder of the pre-training run `pretrained` (its weights
/// copied exactly), else a random encoder of `config`; a new head of `num_tags` (and a CRF).
///
/// # Errors
/// An unreadable pre-training model, or a bad `config`.
pub fn initial_model(
    spec: &BertNerSpec,
    pretrained: Option<(&Path, &PretrainRunInfo)>,
    config: &BertConfig,
    num_tags: usize,
    device: &Device,
) -> Result<BertTokenClassifier, TaskError> {
    Ok(match pretrained {
        Some((dir, info)) => {
            let bert = info.load_model(dir, device)?.bert;
            BertTokenClassifier::new(bert, num_tags, spec.crf, spec.dropout, device)
        }
        None => BertTokenClassifier::init(config, num_tags, spec.crf, device)
            .map_err(|e| TaskError::invalid(e.to_string()))?,
    })
}

/// Trains a BERT tagger as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json`.
///
/// # Errors
/// One-line [`TaskError`]s: bad settings, a `from` run that is not a pre-training run or is of
/// the other language, an empty or missing corpus.
pub fn train(spec: &BertNerSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let seed = settings.seed();
    let pretrained = match &spec.from {
        Some(dir) => Some((
            dir.clone(),
            check_language(dir, spec.language(), corpus_name(spec.corpus))?,
        )),
        None => None,
    };
    let (data, folder) = load_data(spec.corpus, settings)?;
    let settings = &settings.with_data(&[&folder])?;
    let train_sentences = keep_fraction(&data.train, spec.label_fraction, seed);
    let valid_sentences = keep_fraction(&data.valid, spec.label_fraction, seed ^ 1);

    let tags = tag_names(&train_sentences);
    let (vocab, bert_config) = match &pretrained {
        Some((dir, info)) => (info.load_vocab(dir)?, info.bert.clone()),
        None => {
            let base = match spec.language() {
                Language::En => VocabConfig::words(),
                Language::Zh => VocabConfig::chars(),
            };
            let vocab = Vocab::build(
                train_sentences
                    .iter()
                    .flat_map(|s| s.tokens.iter().map(String::as_str)),
                base.with_min_freq(spec.min_freq)
                    .with_max_size(Some(spec.max_vocab)),
            );
            let config = BertConfig {
                vocab_size: vocab.len() + 3,
                max_len: spec.max_len,
                dropout: spec.dropout,
                ..spec.scratch.clone()
            };
            (vocab, config)
        }
    };
    let info = BertTaggerInfo {
        version: RUN_VERSION,
        kind: KIND.into(),
        recipe: settings.name.clone(),
        corpus: spec.corpus,
        tags,
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        bert: bert_config.clone(),
        dropout: spec.dropout,
        crf: spec.crf,
        max_len: spec.max_len.min(bert_config.max_len),
        from: spec.from.as_ref().map(|p| p.display().to_string()),
        mode: spec.mode,
        label_fraction: spec.label_fraction,
        seed,
        data: data.source.clone(),
    };
    let out = write_run_files(settings, &vocab, &info)?;

    let tag_ids: HashMap<&str, usize> = info
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let specials = Specials::after(vocab.len());
    let source = |sentences: &[TaggedSentence]| PieceSource {
        items: encode(sentences, &vocab, &tag_ids, info.width()),
        specials,
    };
    let (train_source, valid_source) = (source(&train_sentences), source(&valid_sentences));
    let test_source = source(&data.test);

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let pre = pretrained.as_ref().map(|(d, i)| (d.as_path(), i));
    let mut model = initial_model(spec, pre, &bert_config, info.tags.len(), &train_device)?;
    model.bert = adapt_encoder(model.bert, spec.mode);
    let trainable = trainable_values(&model);
    let known = |sentences: &[TaggedSentence]| {
        let all: Vec<&String> = sentences.iter().flat_map(|s| &s.tokens).collect();
        let unknown = all.iter().filter(|t| token_id(&vocab, t) == UNK_ID).count();
        100.0 * (1.0 - unknown as f64 / all.len().max(1) as f64)
    };
    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: {} {}{} on {} ({} tags; {} train / {} valid / {} test sentences, {:.0} % of the labels), vocabulary {} + 3 ({:.1} % of the test tokens known), pieces of ≤ {} tokens, {} of {} values trainable, backend {}, {}, out {}",
        settings.name,
        if pretrained.is_some() { "fine-tuning" } else { "from scratch" },
        spec.mode.name(),
        if spec.crf { " + CRF" } else { "" },
        data.source,
        info.tags.len(),
        train_sentences.len(),
        valid_sentences.len(),
        data.test.len(),
        spec.label_fraction * 100.0,
        vocab.len(),
        known(&data.test),
        info.width(),
        trainable,
        model.num_params(),
        settings.backend,
        settings.fit.describe(),
        out.display()
    ));
    let identity = json!({
        "recipe": settings.name,
        "kind": KIND,
        "from": info.from,
        "mode": spec.mode,
        "crf": spec.crf,
        "label_fraction": spec.label_fraction,
        "vocab_fingerprint": info.vocab_fingerprint,
    });
    let valid_ref = (!valid_source.items.is_empty()).then_some(&valid_source);
    let outcome = deepzero_train::fit(
        model,
        &train_source,
        valid_ref,
        &train_device,
        &settings.fit,
        &settings.run_dir(identity),
        &mut progress,
    )?;
    let adapted = outcome.model.valid();
    // LoRA: fold the adapters into the weights; the saved model is a plain tagger.
    let merged = adapted.clone().materialize();
    let merge_diff = matches!(spec.mode, FinetuneMode::Lora { .. }).then(|| {
        largest_difference(&test_source.items, |chunk| {
            let batch = TokenBatch::new(chunk, &specials, &device);
            let (t, p) = (batch.tokens, batch.padding);
            (
                adapted.emissions(t.clone(), p.clone()),
                merged.emissions(t, p),
            )
        })
    });
    save_model(&merged, &out.join("model.bpk"))?;
    let test_eval = evaluate(&merged, &test_source, 64, &device)?;
    let tagger = Tagger {
        model: &merged,
        vocab: &vocab,
        tags: &info.tags,
        width: info.width(),
        device: &device,
    };
    let valid_report = tagger.score(&valid_sentences);
    let test_report = tagger.score(&data.test);
    let mut test_json = report_json(&test_report);
    test_json["loss"] = json!(test_eval.loss);
    test_json["emission_token_accuracy"] = json!(test_eval.accuracy);
    test_json["sentences"] = json!(data.test.len());
    let kind = format!(
        "BERT-style tagger ({}{})",
        spec.mode.name(),
        if spec.crf { ", CRF" } else { "" }
    );
    let report = RunReport::new(settings, &outcome, kind, merged.num_params());
    let report = RunReport {
        data: json!({
            "source": data.source,
            "train_sentences": train_sentences.len(),
            "valid_sentences": valid_sentences.len(),
            "test_sentences": data.test.len(),
            "label_fraction": spec.label_fraction,
            "test_tokens_known": known(&data.test) / 100.0,
        }),
        valid: report_json(&valid_report),
        test: test_json,
        ..report
    }
    .with("from", &info.from)
    .with("mode", spec.mode)
    .with("crf", spec.crf)
    .with("trainable_values", trainable)
    .with("max_len", info.max_len)
    .with("lora_merge_max_abs_diff", merge_diff);
    let path = report.write(out)?;
    if let Some(diff) = merge_diff {
        progress.message(&format!(
            "LoRA merged into the weights: the test emissions change by at most {diff:.2e}"
        ));
    }
    progress.message(&entity_test_line(
        &test_report,
        "token loss",
        test_eval.loss,
        outcome.model_epoch,
        &path,
    ));
    Ok(report)
}

/// Scores the run in `run` on the test split of its corpus (data from `settings.data_dir`);
/// writes `settings.out/metrics.json`.
pub fn evaluate_run(run: &Path, settings: &RunSettings) -> Result<EvalReport, TaskError> {
    let info = BertTaggerInfo::load(run, Some(&settings.name))?;
    let vocab = info.load_vocab(run)?;
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let (data, _) = load_data(info.corpus, settings)?;
    let start = std::time::Instant::now();
    let tagger = Tagger {
        model: &model,
        vocab: &vocab,
        tags: &info.tags,
        width: info.width(),
        device: &device,
    };
    let report = tagger.score(&data.test);
    write_entity_eval(settings, run, &data, &report, start)
}

/// A trained BERT tagger loaded from its run folder, ready to tag lines.
pub struct Predictor {
    info: BertTaggerInfo,
    vocab: Vocab,
    model: BertTokenClassifier,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = BertTaggerInfo::load(dir, recipe)?;
        let vocab = info.load_vocab(dir)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// The tag names, `O` first.
    pub fn tag_names(&self) -> &[String] {
        &self.info.tags
    }

    /// The tokens of `line`: its non-blank characters (People's Daily) or its
    /// whitespace-separated words (WNUT-17), as the corpus is tokenised
    /// ([`NerCorpus::tokenize`]).
    pub fn tokenize(&self, line: &str) -> Vec<String> {
        self.info.corpus.tokenize(line)
    }

    /// Tags each line; every token is tagged (long lines piece by piece).
    pub fn tag(&self, lines: &[String]) -> Result<Vec<TaggedLine>, TaskError> {
        let tokens: Vec<Vec<String>> = lines.iter().map(|l| self.tokenize(l)).collect();
        let tagger = Tagger {
            model: &self.model,
            vocab: &self.vocab,
            tags: &self.info.tags,
            width: self.info.width(),
            device: &self.device,
        };
        let tags = tagger.tag(&tokens);
        // Long lines are tagged piece by piece: none is truncated.
        Ok(TaggedLine::all(tokens, tags, self.info.corpus, None))
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{ModuleVisitor, Param};

    use super::*;
    use crate::pretrain::model::BertEncoder;
    use crate::pretrain::task::tests::{tiny_corpus, tiny_settings, tiny_spec};
    use crate::pretrain::{PretrainSource, PretrainSpec};

    #[test]
    fn tokens_map_through_the_vocabulary_and_long_sentences_are_cut_into_pieces() {
        let words = Vocab::build(
            ["obama met the press , # ok"],
            VocabConfig::words().with_min_freq(1),
        );
        assert_eq!(token_id(&words, "Obama"), words.id("obama").unwrap());
        assert_eq!(token_id(&words, "#Obama"), words.id("obama").unwrap());
        assert_eq!(token_id(&words, "#zzz"), words.id("#").unwrap());
        assert_eq!(token_id(&words, "zzz"), UNK_ID);
        let chars = Vocab::build(["北京A"], VocabConfig::chars().with_min_freq(1));
        assert_eq!(token_id(&chars, "京"), chars.id("京").unwrap());
        assert_eq!(token_id(&chars, "a"), UNK_ID); // characters keep their case
        assert_eq!(pieces(5, 2).collect::<Vec<_>>(), [0..2, 2..4, 4..5]);
        assert_eq!(pieces(4, 4).collect::<Vec<_>>(), vec![0..4]);
        assert_eq!(pieces(0, 4).count(), 0);
        let s = |n: usize| TaggedSentence {
            tokens: vec!["a".into(); n],
            tags: vec!["O".into(); n],
        };
        let all: Vec<_> = (1..=10).map(s).collect();
        let kept = keep_fraction(&all, 0.25, 1);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept, keep_fraction(&all, 0.25, 1));
        assert!(
            kept.windows(2)
                .all(|w| w[0].tokens.len() < w[1].tokens.len())
        );
    }

    /// Every float parameter of an encoder, in visiting order.
    fn values(bert: &BertEncoder) -> Vec<Vec<f32>> {
        struct Collect(Vec<Vec<f32>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.push(param.val().into_data().iter::<f32>().collect());
            }
        }
        let mut c = Collect(Vec::new());
        bert.visit(&mut c);
        c.0
    }

    /// WNUT-17-like CoNLL files over the words of [`tiny_corpus`]: `w3` is a person, `w3 w4`
    /// one of two words; `w7` a location.
    fn tiny_wnut(dir: &Path) {
        use rand::Rng;
        let folder = dir.join("wnut17");
        std::fs::create_dir_all(&folder).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for (file, n) in [
            ("wnut17train.conll", 40),
            ("emerging.dev.conll", 8),
            ("emerging.test.annotated", 8),
        ] {
            let mut text = String::new();
            for _ in 0..n {
                let words: Vec<usize> = (0..8).map(|_| rng.random_range(0..12)).collect();
                for (i, &w) in words.iter().enumerate() {
                    let tag = match w {
                        3 => "B-person",
                        4 if i > 0 && words[i - 1] == 3 => "I-person",
                        7 => "B-location",
                        _ => "O",
                    };
                    // Capitalised as tweets are: the vocabulary lower-cases.
                    text.push_str(&format!("W{w}\t{tag}\n"));
                }
                text.push('\n');
            }
            std::fs::write(folder.join(file), text).unwrap();
        }
    }

    /// Pre-train on a tiny English corpus, fine-tune WNUT-17 from it (LoRA, CRF): the encoder
    /// is copied exactly, the run evaluates and predicts; a `--from` of another kind or
    /// language and an empty corpus are one-line errors.
    #[test]
    fn ner_starts_from_a_pretraining_run_and_refuses_others() {
        let data = tempfile::tempdir().unwrap();
        tiny_corpus(data.path());
        tiny_wnut(data.path());
        let out = tempfile::tempdir().unwrap();
        let pre = out.path().join("pre");
        let pre_spec = PretrainSpec {
            sources: vec![PretrainSource::ShakespeareGutenberg],
            ..tiny_spec()
        };
        crate::pretrain::train(&pre_spec, &tiny_settings(data.path(), &pre, 1)).unwrap();
        let pre_info = PretrainRunInfo::load(&pre, None).unwrap();

        // The encoder of the new tagger is the pre-trained one, value for value.
        let device = Device::flex();
        let spec = BertNerSpec {
            from: Some(pre.clone()),
            crf: true,
            max_len: 6, // pieces of 4 words: every sentence is cut in two
            ..BertNerSpec::new(NerCorpus::Wnut17)
        };
        let model =
            initial_model(&spec, Some((&pre, &pre_info)), &pre_info.bert, 5, &device).unwrap();
        let pretrained = pre_info.load_model(&pre, &device).unwrap().bert;
        let copied = values(&model.bert);
        assert!(!copied.is_empty());
        assert_eq!(copied, values(&pretrained));
        assert_ne!(copied, values(&pre_info.bert.init(&device).unwrap()));

        let fine = out.path().join("wnut");
        let mut settings = tiny_settings(data.path(), &fine, 2);
        settings.name = "wnut17-bert-ner".into();
        let lora = BertNerSpec {
            mode: FinetuneMode::Lora {
                rank: 2,
                alpha: 4.0,
            },
            ..spec.clone()
        };
        let report = train(&lora, &settings).unwrap();
        assert_eq!(report.data["test_sentences"], 8);
        assert_eq!(report.data["test_tokens_known"], 1.0);
        let diff = report.extra["lora_merge_max_abs_diff"].as_f64().unwrap();
        assert!(diff < 1e-4, "{diff}");
        assert!(report.test["f1"].as_f64().is_some());
        let info = BertTaggerInfo::load(&fine, Some("wnut17-bert-ner")).unwrap();
        assert_eq!(info.tags, ["O", "B-location", "B-person", "I-person"]);
        assert!(info.crf);
        let predictor = Predictor::load(&fine, Some("wnut17-bert-ner"), &device).unwrap();
        let lines = predictor
            .tag(&["W3 W4 W1 W7 W2 W3".into(), String::new()])
            .unwrap();
        assert_eq!(lines[0].tags.len(), 6); // two pieces, every word tagged
        assert!(lines[1].tags.is_empty());
        let mut eval_settings = settings.clone();
        eval_settings.out = fine.join("eval");
        evaluate_run(&fine, &eval_settings).unwrap();

        // A tagger is no pre-training run.
        let err = train(
            &BertNerSpec {
                from: Some(fine.clone()),
                ..spec.clone()
            },
            &settings,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a BERT pre-training run"), "{err}");
        // An English encoder for People's Daily.
        let err = train(
            &BertNerSpec {
                corpus: NerCorpus::PeoplesDaily,
                ..spec.clone()
            },
            &settings,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("pre-trained on En") && err.contains("peoples-daily is Zh"),
            "{err}"
        );
        // An empty corpus.
        let empty = tempfile::tempdir().unwrap();
        for file in [
            "wnut17train.conll",
            "emerging.dev.conll",
            "emerging.test.annotated",
        ] {
            std::fs::write(empty.path().join(file), "\n").unwrap();
        }
        let mut empty_settings = settings.clone();
        empty_settings.data_dir = Some(empty.path().to_path_buf());
        empty_settings.out = out.path().join("empty");
        let err = train(&spec, &empty_settings).unwrap_err().to_string();
        assert!(
            err.contains("the corpus is empty") && !err.contains('\n'),
            "{err}"
        );
    }

    /// From scratch on People's Daily: the test sentences are exactly `peoples-daily-ner`'s.
    #[test]
    fn peoples_daily_from_scratch_tests_on_the_tag_tasks_split() {
        let data = tempfile::tempdir().unwrap();
        let folder = data.path().join("peoples-daily-1998-01");
        std::fs::create_dir_all(&folder).unwrap();
        let mut text = String::new();
        for i in 0..40 {
            let place = ["北京/ns", "上海/ns", "广州/ns"][i % 3];
            text.push_str(&format!("江/nr 泽民/nr 在/p {place} 会见/v 代表/n 。/w\n"));
        }
        std::fs::write(folder.join("199801.txt"), text).unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut settings = tiny_settings(data.path(), &out.path().join("pd"), 1);
        settings.name = "peoples-daily-bert-ner".into();
        let spec = BertNerSpec {
            scratch: BertConfig::new(0)
                .with_d_model(16)
                .with_n_heads(2)
                .with_d_ff(32)
                .with_n_layers(1),
            max_len: 16,
            ..BertNerSpec::new(NerCorpus::PeoplesDaily)
        };
        let report = train(&spec, &settings).unwrap();
        let mut tag_settings = settings.clone();
        tag_settings.data_dir = Some(folder);
        let splits = load_ner_splits(NerCorpus::PeoplesDaily, &tag_settings).unwrap();
        assert_eq!(report.data["test_sentences"], splits.test.len());
        assert_eq!(report.test["entities"], 2 * splits.test.len());
        // Without a pre-trained encoder there is nothing to freeze or adapt.
        let frozen = BertNerSpec {
            mode: FinetuneMode::Frozen,
            ..spec
        };
        let err = train(&frozen, &settings).unwrap_err().to_string();
        assert!(err.contains("needs a pre-trained one"), "{err}");
    }
}
