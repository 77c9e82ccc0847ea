//! Train, evaluate and predict with the named-entity recipes (seed chapter 4.2): a BiLSTM-CRF
//! over characters of the PKU People's Daily corpus and over words of WNUT-17.
//!
//! * `peoples-daily-ner`: `--data-dir` holds `199801.txt` (PKU `word/POS` lines). Tags are
//!   derived per character (BIO over PER/LOC/ORG from nr/ns/nt, consecutive nr tokens merged
//!   into one name, bracketed `[…]nt`/`[…]ns`/`[…]nr` compounds as one entity), each line is
//!   split after `。！？` into sentences (and pieces of over 50 characters further after a
//!   `，；：`, which keeps the recurrent steps few), and the sentences are split 80/10/10 into
//!   train/valid/test by a shuffle seeded with [`PEOPLES_DAILY_SPLIT_SEED`] (fixed, so every run
//!   and `eval` see the same test set whatever `--seed` is; the corpus has no official split).
//! * `wnut17-ner`: `--data-dir` holds `wnut17train.conll`, `emerging.dev.conll` (validation)
//!   and `emerging.test.annotated` (test). Words are lower-cased with digits folded
//!   ([`normalise_word`]); a word-shape embedding keeps the case.
//! * Sentences longer than the model's maximum length are truncated to it for training, with a
//!   warning; at evaluation and prediction the tokens beyond it are tagged `O` (and counted
//!   against recall), again with a warning.
//!
//! Scores are entity-level precision/recall/F1 exactly as seqeval computes them
//! ([`deepzero_sequence::tagging::metrics`]).

use std::path::Path;

use burn::prelude::*;
use deepzero_sequence::tagging::data::{
    NUM_SHAPES, normalise_word, parse_peoples_daily_line, split_long, split_sentences, word_shape,
};
use deepzero_sequence::tagging::{
    BiLstmCrf, BiLstmCrfConfig, EntityReport, TaggedSentence, TaggingBatch, Vocab, entity_report,
    read_conll,
};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{BatchSource, RunDir, TrainError, evaluate, fit};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::image_task::model_file;
use crate::recipes::{Recipe, RecipeKind};
use crate::{Backend, CliError, TrainArgs};

/// People's Daily sentences longer than this many characters are cut after a clause mark
/// (`，；：`) once a piece reaches it (see `split_long`).
pub const PEOPLES_DAILY_SOFT_MAX: usize = 50;

/// Seed of the 80/10/10 sentence split of People's Daily.
pub const PEOPLES_DAILY_SPLIT_SEED: u64 = 1998;

/// Which NER corpus a recipe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NerCorpus {
    /// PKU People's Daily 1998-01, character level.
    PeoplesDaily,
    /// WNUT-17 emerging entities, word level.
    Wnut17,
}

impl NerCorpus {
    /// Character-level (Chinese) or word-level.
    fn char_level(self) -> bool {
        self == NerCorpus::PeoplesDaily
    }

    /// The model of the recipe: small enough for a shared CPU.
    fn model(self, vocab: usize, tags: usize) -> BiLstmCrfConfig {
        match self {
            NerCorpus::PeoplesDaily => BiLstmCrfConfig::new(vocab, tags)
                .with_d_embed(64)
                .with_d_hidden(96)
                .with_dropout(0.2),
            NerCorpus::Wnut17 => BiLstmCrfConfig::new(vocab, tags)
                .with_d_embed(100)
                .with_d_hidden(64)
                .with_num_shapes(NUM_SHAPES)
                .with_dropout(0.5),
        }
    }

    /// Longest sentence the model sees (tokens).
    fn max_len(self) -> usize {
        match self {
            NerCorpus::PeoplesDaily => 200,
            NerCorpus::Wnut17 => 100,
        }
    }

    /// Minimum training count of a vocabulary entry.
    fn min_count(self) -> usize {
        2
    }
}

/// What `OUT/run.json` records about a trained tagger.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaggerInfo {
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

impl TaggerInfo {
    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "vocab": self.vocab.len(),
            "tags": self.tags,
            "model": self.model,
        })
    }

    fn load(dir: &Path, recipe: &str) -> Result<Self, CliError> {
        crate::load_run_json(dir, recipe, |info: &TaggerInfo| info.recipe.as_str())
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
struct NerData {
    train: Vec<TaggedSentence>,
    valid: Vec<TaggedSentence>,
    test: Vec<TaggedSentence>,
    source: String,
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(CliError::io(path))
}

fn load_ner_data(corpus: NerCorpus, data_dir: Option<&Path>) -> Result<NerData, CliError> {
    let dir = data_dir.ok_or_else(|| {
        CliError::Usage(match corpus {
            NerCorpus::PeoplesDaily => "peoples-daily-ner needs --data-dir DIR (holding 199801.txt)".into(),
            NerCorpus::Wnut17 => {
                "wnut17-ner needs --data-dir DIR (holding wnut17train.conll, emerging.dev.conll, emerging.test.annotated)".into()
            }
        })
    })?;
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "data directory {} does not exist",
            dir.display()
        )));
    }
    match corpus {
        NerCorpus::PeoplesDaily => {
            let path = dir.join("199801.txt");
            let text = read_text(&path)?;
            let mut sentences: Vec<TaggedSentence> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .flat_map(|l| split_sentences(&parse_peoples_daily_line(l)))
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
            let read = |name: &str| -> Result<Vec<TaggedSentence>, CliError> {
                let path = dir.join(name);
                read_conll(&read_text(&path)?)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
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

/// Encodes sentences (truncated to the model's length; `what` names the split in the warning).
fn encode_all(
    info: &TaggerInfo,
    vocab: &Vocab,
    tags: &Vocab,
    sentences: &[TaggedSentence],
    what: &str,
) -> TaggingSource {
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
    if truncated > 0 {
        eprintln!(
            "warning: {truncated} {what} sentence(s) longer than {} tokens were truncated",
            info.max_len
        );
    }
    TaggingSource {
        items,
        shapes: info.model.num_shapes > 0,
    }
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

fn report_json(report: &EntityReport) -> serde_json::Value {
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

fn corpus_of(recipe: &Recipe) -> NerCorpus {
    match recipe.kind {
        RecipeKind::Tagging { corpus } => corpus,
        _ => unreachable!("not a tagging recipe"),
    }
}

/// `deepzero train` for a NER recipe.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let corpus = corpus_of(recipe);
    let data = load_ner_data(corpus, args.data_dir.as_deref())?;
    if data.train.is_empty() || data.test.is_empty() {
        return Err(CliError::Usage(format!(
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
    let vocab = Vocab::build(normalised.iter().map(String::as_str), corpus.min_count());
    let mut tag_names: Vec<String> = data
        .train
        .iter()
        .flat_map(|s| s.tags.iter().cloned())
        .filter(|t| t != "O")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    tag_names.insert(0, "O".into());
    let tags = Vocab::from_tokens(tag_names.clone());
    let info = TaggerInfo {
        recipe: recipe.name.to_string(),
        corpus,
        vocab: vocab.tokens.clone(),
        tags: tag_names,
        model: corpus.model(vocab.len(), tags.len()),
        max_len: corpus.max_len(),
        data: data.source.clone(),
    };
    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    write_json_atomic(&out.join("run.json"), &info)?;

    let train_source = encode_all(&info, &vocab, &tags, &data.train, "training");
    let valid_source = encode_all(&info, &vocab, &tags, &data.valid, "validation");
    let config = args.fit_config(recipe);
    println!(
        "{}: BiLSTM-CRF (embed {}, hidden {}×2, {} tags, vocab {}) on {} ({} train / {} valid / {} test sentences), backend {backend}, {} epochs, batch {}, {} lr {}, out {}",
        recipe.name,
        info.model.d_embed,
        info.model.d_hidden,
        info.tags.len(),
        vocab.len(),
        data.source,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        config.epochs,
        config.batch_size,
        config.optimizer,
        config.learning_rate,
        out.display()
    );
    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let model = info.model.init(&train_device);
    let mut progress = args.progress();
    let valid_ref = (!valid_source.is_empty()).then_some(&valid_source);
    let outcome = fit(
        model,
        &train_source,
        valid_ref,
        &train_device,
        &config,
        &RunDir::new(&out, info.fingerprint()).resume(args.resume),
        &mut progress,
    )?;
    let model = outcome.model.valid();
    save_model(&model, &out.join("model.bpk"))?;

    let test_source = encode_all(&info, &vocab, &tags, &data.test, "test");
    let test_eval = evaluate(&model, &test_source, 64, device)?;
    let valid_report = score(&model, &info, &vocab, &data.valid, device);
    let test_report = score(&model, &info, &vocab, &data.test, device);
    println!(
        "test: entity F1 {:.4} (precision {:.4}, recall {:.4}) on {} entities, token NLL {:.4} (model of epoch {}) -> {}",
        test_report.micro.f1,
        test_report.micro.precision,
        test_report.micro.recall,
        test_report.micro.support,
        test_eval.loss,
        outcome.model_epoch,
        out.join("metrics.json").display()
    );
    let mut test_json = report_json(&test_report);
    test_json["loss"] = json!(test_eval.loss);
    test_json["emission_token_accuracy"] = json!(test_eval.accuracy);
    test_json["sentences"] = json!(data.test.len());
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "backend": backend.name(),
        "model": "bilstm-crf",
        "model_config": info.model,
        "parameters": model.num_params(),
        "epochs": outcome.history.len(),
        "model_epoch": outcome.model_epoch,
        "stopped_early": outcome.stopped_early,
        "resumed_after": outcome.resumed_after,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "optimizer": config.optimizer.to_string(),
        "schedule": config.schedule.to_string(),
        "seed": args.seed,
        "max_len": info.max_len,
        "data": {
            "source": data.source,
            "train_sentences": data.train.len(),
            "valid_sentences": data.valid.len(),
            "test_sentences": data.test.len(),
        },
        "train_seconds": outcome.train_seconds,
        "train_samples_per_second": outcome.samples_per_second(),
        "valid": report_json(&valid_report),
        "test": test_json,
        "history": outcome.history,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

fn load_trained(info: &TaggerInfo, dir: &Path, device: &Device) -> Result<BiLstmCrf, CliError> {
    let model = info.model.init(device);
    Ok(load_model(model, &model_file(dir)?)?)
}

/// `deepzero eval` for a NER recipe: seqeval scores on the test split.
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let info = TaggerInfo::load(checkpoint, recipe.name)?;
    let data = load_ner_data(info.corpus, args.data_dir.as_deref())?;
    let vocab = Vocab::from_tokens(info.vocab.clone());
    let model = load_trained(&info, checkpoint, device)?;
    let start = std::time::Instant::now();
    let report = score(&model, &info, &vocab, &data.test, device);
    let seconds = start.elapsed().as_secs_f64();
    let mut test_json = report_json(&report);
    test_json["sentences"] = json!(data.test.len());
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let metrics = json!({
        "recipe": recipe.name,
        "backend": backend.name(),
        "checkpoint": checkpoint.display().to_string(),
        "data": data.source,
        "epochs": 0,
        "train_seconds": 0.0,
        "train_samples_per_second": 0.0,
        "eval_seconds": seconds,
        "eval_samples_per_second": data.test.len() as f64 / seconds.max(1e-9),
        "test": test_json,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    println!(
        "{}: test entity F1 {:.4} (precision {:.4}, recall {:.4}) on {} sentences ({}) -> {}",
        recipe.name,
        report.micro.f1,
        report.micro.precision,
        report.micro.recall,
        data.test.len(),
        data.source,
        out.join("metrics.json").display()
    );
    Ok(())
}

/// Renders a tagged sentence: entities as `[text]TYPE` (the PKU bracket style), other tokens
/// as they are; characters are joined without spaces, words with one.
pub fn render(tokens: &[String], tags: &[String], char_level: bool) -> String {
    let sep = if char_level { "" } else { " " };
    let entities = deepzero_sequence::tagging::get_entities(&[tags.to_vec()]);
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

/// `deepzero predict` for a NER recipe: tags each sentence of `input` and prints one tagged
/// line per input line.
pub fn predict(
    recipe: &Recipe,
    checkpoint: &Path,
    input: &crate::text_task::TextInput,
    device: &Device,
) -> Result<Vec<String>, CliError> {
    let info = TaggerInfo::load(checkpoint, recipe.name)?;
    let lines = crate::text_task::read_lines(input)?;
    let char_level = info.corpus.char_level();
    let tokens: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            if char_level {
                l.chars()
                    .filter(|c| !c.is_whitespace())
                    .map(String::from)
                    .collect()
            } else {
                l.split_whitespace().map(String::from).collect()
            }
        })
        .collect();
    let long = tokens.iter().filter(|t| t.len() > info.max_len).count();
    if long > 0 {
        eprintln!(
            "warning: {long} input line(s) longer than {} tokens: the rest is tagged O",
            info.max_len
        );
    }
    let vocab = Vocab::from_tokens(info.vocab.clone());
    let model = load_trained(&info, checkpoint, device)?;
    let tags = tag_sentences(&model, &info, &vocab, &tokens, device);
    let rendered: Vec<String> = tokens
        .iter()
        .zip(&tags)
        .map(|(t, g)| render(t, g, char_level))
        .collect();
    for line in &rendered {
        println!("{line}");
    }
    Ok(rendered)
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
}
