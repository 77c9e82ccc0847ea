//! What a user may change in a text recipe without writing a new spec: [`TextOptions`], each
//! `None` keeping the recipe's own value, applied to the spec of every text task (classifiers,
//! BERT pre-training and fine-tuning, translation, language models).
//!
//! With the `clap` feature it is a group of command-line options (`--max-len`, `--dropout` …);
//! the `deepzero` command flattens it into `train`, `eval`, `tune` and `lr-find`.
//!
//! ```
//! use deepzero_sequence::tasks::TextOptions;
//! use deepzero_sequence::tasks::recipes;
//!
//! let bbc = recipes::classify().into_iter().find(|r| r.name == "bbc-fasttext").unwrap();
//! let options = TextOptions { max_len: Some(200), ..TextOptions::default() };
//! options.check("bbc-fasttext", true).unwrap();
//! assert_eq!(options.classify(&bbc.spec, "bbc-fasttext").unwrap().max_len, 200);
//! ```

use std::path::PathBuf;

use deepzero_train::TaskError;
use deepzero_train::tune::{Hyperparameter, Kind, TrialParams};

use super::TextEncoderKind;
use super::classify::ClassifySpec;
use super::generate::GenerateSpec;
use super::translate::TranslateSpec;
use crate::pretrain::{BertNerSpec, FinetuneSpec, PretrainSpec};

/// Options of the text recipes (classification; `max_len` also NER, translation, generation).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Text recipes"))]
pub struct TextOptions {
    /// Keep the first N tokens of each document (default: the recipe's, e.g. 400 words; the
    /// number of truncated documents is logged and written to metrics.json). Language models:
    /// the block size (characters per window, the GPT's context).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub max_len: Option<usize>,
    /// Text classifiers: dropout on the embeddings and the pooled features, and inside the
    /// Transformer (default: the recipe's).
    #[cfg_attr(feature = "clap", arg(long, value_name = "P"))]
    pub dropout: Option<f64>,
    /// Text classifiers: probability of dropping a whole token (its embedding) while training.
    #[cfg_attr(feature = "clap", arg(long, value_name = "P"))]
    pub word_dropout: Option<f64>,
    /// Text classifiers: keep in the vocabulary only the tokens seen at least N times in the
    /// training documents; rarer ones read as `<unk>` (default: the recipe's, 2).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub min_freq: Option<usize>,
    /// Bag-of-n-grams classifiers (bbc-fasttext, chinese-sentiment-fasttext): the longest
    /// n-gram added to the plain tokens, 1 for none (default: the recipe's).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub ngrams: Option<usize>,
    /// Text classifiers: start the token embeddings from those of another text run (rows are
    /// copied for the tokens both vocabularies hold). A run of the same corpus must have used
    /// the same split (--seed, duplicates setting).
    #[cfg_attr(feature = "clap", arg(long, value_name = "RUN"))]
    pub embeddings_from: Option<PathBuf>,
    /// Text classifiers: keep repeated documents (by default a text that occurs more than once
    /// is kept once, and dropped when it occurs under two labels, before the split).
    #[cfg_attr(feature = "clap", arg(long))]
    pub keep_duplicates: bool,
    /// spam-lstm: drop every mail header except Subject (default: keep all headers).
    #[cfg_attr(feature = "clap", arg(long))]
    pub strip_headers: bool,
    /// bbc-bert, chinese-sentiment-bert, the BERT taggers: train on this fraction of the training labels
    /// (stratified, seeded; the test split is unchanged), e.g. 0.1.
    #[cfg_attr(feature = "clap", arg(long, value_name = "F"))]
    pub label_fraction: Option<f64>,
    /// peoples-daily-bert-ner, wnut17-bert-ner: a CRF on the tag scores (Viterbi decoding);
    /// `--crf false` for a softmax per token (default: the recipe's, no CRF).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")
    )]
    pub crf: Option<bool>,
    /// shakespeare-lstm, shakespeare-gpt (and BERT pre-training): training steps per epoch
    /// (each a batch of random windows; default: the recipe's). Their block size is --max-len.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "N", help_heading = "Language models")
    )]
    pub steps_per_epoch: Option<usize>,
}

impl TextOptions {
    /// The keys a model search ([`deepzero_train::tune`]) may name among these options.
    pub const TRIAL_KEYS: [Hyperparameter; 3] = [
        Hyperparameter::new("dropout", Kind::Fraction),
        Hyperparameter::new("word-dropout", Kind::Fraction),
        Hyperparameter::new("max-len", Kind::Count),
    ];

    /// These options with the values a trial of a model search gives the
    /// [`TRIAL_KEYS`](Self::TRIAL_KEYS).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] when the trial searches an option given here too.
    pub fn with_trial(&self, params: &TrialParams) -> Result<Self, TaskError> {
        params.refuse_given(&[
            ("dropout", self.dropout.is_some()),
            ("word-dropout", self.word_dropout.is_some()),
            ("max-len", self.max_len.is_some()),
        ])?;
        Ok(Self {
            dropout: params.number("dropout").or(self.dropout),
            word_dropout: params.number("word-dropout").or(self.word_dropout),
            max_len: params.count("max-len").or(self.max_len),
            ..self.clone()
        })
    }

    /// The options that only the document classifiers read, with whether each is given.
    fn classifier_only(&self) -> [(&'static str, bool); 6] {
        [
            ("--dropout", self.dropout.is_some()),
            ("--word-dropout", self.word_dropout.is_some()),
            ("--min-freq", self.min_freq.is_some()),
            ("--ngrams", self.ngrams.is_some()),
            ("--embeddings-from", self.embeddings_from.is_some()),
            ("--keep-duplicates", self.keep_duplicates),
        ]
    }

    /// Checks the values, and refuses the classifiers' options for `recipe` unless it is a
    /// text classifier (`classifier`).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the option.
    pub fn check(&self, recipe: &str, classifier: bool) -> Result<(), TaskError> {
        let given = self.classifier_only().into_iter().find(|(_, given)| *given);
        if let Some((flag, _)) = given.filter(|_| !classifier) {
            return Err(TaskError::invalid(format!(
                "{flag} applies to the text-classification recipes, not to {recipe}"
            )));
        }
        let tagger = || {
            crate::pretrain::recipes::ner()
                .iter()
                .any(|r| r.name == recipe)
        };
        if self.crf.is_some() && !tagger() {
            return Err(TaskError::invalid(format!(
                "--crf applies to the BERT taggers (peoples-daily-bert-ner, wnut17-bert-ner), not to {recipe}"
            )));
        }
        let counts = [
            ("--min-freq", self.min_freq),
            ("--ngrams", self.ngrams),
            ("--max-len", self.max_len),
            ("--steps-per-epoch", self.steps_per_epoch),
        ];
        if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == Some(0)) {
            return Err(TaskError::invalid(format!("{flag} must be at least 1")));
        }
        for (flag, p) in [
            ("--dropout", self.dropout),
            ("--word-dropout", self.word_dropout),
        ] {
            if let Some(p) = p.filter(|p| !(0.0..1.0).contains(p)) {
                return Err(TaskError::invalid(format!(
                    "{flag} must be in [0, 1), got {p}"
                )));
            }
        }
        Ok(())
    }

    /// The classifier spec `d` of recipe `recipe` with these options.
    ///
    /// # Errors
    /// `ngrams` above 1 for an encoder that reads tokens in order.
    pub fn classify(&self, d: &ClassifySpec, recipe: &str) -> Result<ClassifySpec, TaskError> {
        if self.ngrams.is_some_and(|n| n > 1) && d.encoder != TextEncoderKind::Bag {
            return Err(TaskError::invalid(format!(
                "--ngrams applies to the bag-of-n-grams recipes (bbc-fasttext, chinese-sentiment-fasttext), not to {recipe}, which reads tokens in order"
            )));
        }
        Ok(ClassifySpec {
            max_len: self.max_len.unwrap_or(d.max_len),
            dropout: self.dropout.unwrap_or(d.dropout),
            word_dropout: self.word_dropout.unwrap_or(d.word_dropout),
            min_freq: self.min_freq.unwrap_or(d.min_freq),
            ngrams: self.ngrams.unwrap_or(d.ngrams),
            embeddings_from: self.embeddings_from.clone(),
            keep_duplicates: self.keep_duplicates,
            strip_headers: self.strip_headers,
            ..d.clone()
        })
    }

    /// The BERT pre-training spec `d` with these options.
    pub fn pretrain(&self, d: &PretrainSpec) -> PretrainSpec {
        PretrainSpec {
            max_len: self.max_len.unwrap_or(d.max_len),
            dropout: self.dropout.unwrap_or(d.dropout),
            min_freq: self.min_freq.unwrap_or(d.min_freq),
            steps_per_epoch: self.steps_per_epoch.unwrap_or(d.steps_per_epoch),
            ..d.clone()
        }
    }

    /// The BERT classifier spec `d` with these options.
    pub fn finetune(&self, d: &FinetuneSpec) -> FinetuneSpec {
        FinetuneSpec {
            max_len: self.max_len.unwrap_or(d.max_len),
            dropout: self.dropout.unwrap_or(d.dropout),
            min_freq: self.min_freq.unwrap_or(d.min_freq),
            label_fraction: self.label_fraction.unwrap_or(d.label_fraction),
            ..d.clone()
        }
    }

    /// The BERT tagger spec `d` with these options.
    pub fn bert_ner(&self, d: &BertNerSpec) -> BertNerSpec {
        BertNerSpec {
            max_len: self.max_len.unwrap_or(d.max_len),
            dropout: self.dropout.unwrap_or(d.dropout),
            min_freq: self.min_freq.unwrap_or(d.min_freq),
            label_fraction: self.label_fraction.unwrap_or(d.label_fraction),
            crf: self.crf.unwrap_or(d.crf),
            ..d.clone()
        }
    }

    /// The translation spec `d` with these options; `own_schedule`: the learning-rate
    /// schedule is chosen elsewhere, so the recipe's warm-up is dropped.
    pub fn translate(&self, d: &TranslateSpec, own_schedule: bool) -> TranslateSpec {
        TranslateSpec {
            max_len: self.max_len.unwrap_or(d.max_len),
            warmup_steps: d.warmup_steps.filter(|_| !own_schedule),
            ..d.clone()
        }
    }

    /// The language-model spec `d` with these options (`max_len` is the block size).
    pub fn generate(&self, d: &GenerateSpec) -> GenerateSpec {
        GenerateSpec {
            block_size: self.max_len.unwrap_or(d.block_size),
            steps_per_epoch: self.steps_per_epoch.unwrap_or(d.steps_per_epoch),
            ..d.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::recipes;

    fn classifier(name: &str) -> ClassifySpec {
        let all = recipes::classify();
        all.into_iter().find(|r| r.name == name).unwrap().spec
    }

    #[test]
    fn given_options_replace_the_recipes_values_and_the_rest_stays() {
        let d = classifier("bbc-fasttext");
        let options = TextOptions {
            max_len: Some(7),
            dropout: Some(0.3),
            ngrams: Some(3),
            keep_duplicates: true,
            ..TextOptions::default()
        };
        let spec = options.classify(&d, "bbc-fasttext").unwrap();
        assert_eq!((spec.max_len, spec.dropout, spec.ngrams), (7, 0.3, 3));
        assert!(spec.keep_duplicates);
        assert_eq!(
            (spec.min_freq, spec.word_dropout, spec.d_embed),
            (d.min_freq, d.word_dropout, d.d_embed)
        );
        assert_eq!(TextOptions::default().classify(&d, "x").unwrap(), d);

        let lm = recipes::generate().into_iter().next().unwrap().spec;
        let lm_options = TextOptions {
            max_len: Some(16),
            steps_per_epoch: Some(3),
            ..TextOptions::default()
        };
        let spec = lm_options.generate(&lm);
        assert_eq!((spec.block_size, spec.steps_per_epoch), (16, 3));
        assert_eq!(spec.d_model, lm.d_model);

        let ner = crate::pretrain::recipes::ner()
            .into_iter()
            .next()
            .unwrap()
            .spec;
        assert!(!ner.crf);
        let with_crf = TextOptions {
            crf: Some(true),
            label_fraction: Some(0.1),
            ..TextOptions::default()
        };
        let spec = with_crf.bert_ner(&ner);
        assert!(spec.crf);
        assert_eq!((spec.label_fraction, spec.max_len), (0.1, ner.max_len));

        let tr = recipes::translate().into_iter().next().unwrap().spec;
        assert_eq!(
            TextOptions::default().translate(&tr, true).warmup_steps,
            None
        );
        assert_eq!(
            TextOptions::default().translate(&tr, false).warmup_steps,
            tr.warmup_steps
        );
    }

    #[test]
    fn a_trial_sets_its_keys_and_refuses_those_given() {
        use deepzero_train::tune::SearchSpace;
        let keys = TextOptions::TRIAL_KEYS;
        let trials = SearchSpace::parse("dropout=0.2;max-len=64", &keys)
            .unwrap()
            .grid()
            .unwrap();
        let options = TextOptions {
            word_dropout: Some(0.1),
            ..TextOptions::default()
        };
        let trial = options.with_trial(&trials[0]).unwrap();
        assert_eq!(
            (trial.dropout, trial.word_dropout, trial.max_len),
            (Some(0.2), Some(0.1), Some(64))
        );
        let given = TextOptions {
            max_len: Some(32),
            ..TextOptions::default()
        };
        let err = given.with_trial(&trials[0]).unwrap_err().to_string();
        assert_eq!(err, "--max-len is given and also searched; drop one");
    }

    #[test]
    fn ngrams_are_refused_for_encoders_that_read_tokens_in_order() {
        let lstm = recipes::classify()
            .into_iter()
            .find(|r| r.spec.encoder != TextEncoderKind::Bag)
            .unwrap();
        let options = TextOptions {
            ngrams: Some(2),
            ..TextOptions::default()
        };
        let err = options.classify(&lstm.spec, lstm.name).unwrap_err();
        assert!(err.to_string().contains("reads tokens in order"), "{err}");
        // One n-gram (the plain tokens) is what they read anyway.
        let one = TextOptions {
            ngrams: Some(1),
            ..TextOptions::default()
        };
        assert!(one.classify(&lstm.spec, lstm.name).is_ok());
    }

    #[test]
    fn bad_values_and_classifier_options_elsewhere_are_refused() {
        let cases = [
            (
                TextOptions {
                    dropout: Some(0.5),
                    ..TextOptions::default()
                },
                false,
                "--dropout applies to the text-classification recipes, not to r",
            ),
            (
                TextOptions {
                    min_freq: Some(0),
                    ..TextOptions::default()
                },
                true,
                "--min-freq must be at least 1",
            ),
            (
                TextOptions {
                    steps_per_epoch: Some(0),
                    ..TextOptions::default()
                },
                false,
                "--steps-per-epoch must be at least 1",
            ),
            (
                TextOptions {
                    word_dropout: Some(1.0),
                    ..TextOptions::default()
                },
                true,
                "--word-dropout must be in [0, 1), got 1",
            ),
        ];
        for (options, classifier, message) in cases {
            let err = options.check("r", classifier).unwrap_err().to_string();
            assert_eq!(err, message);
        }
        let fine = TextOptions {
            max_len: Some(3),
            dropout: Some(0.0),
            ..TextOptions::default()
        };
        assert!(fine.check("r", true).is_ok());
        // Options every text recipe reads are not the classifiers' own.
        let shared = TextOptions {
            max_len: Some(3),
            steps_per_epoch: Some(2),
            ..TextOptions::default()
        };
        assert!(shared.check("r", false).is_ok());
        let crf = TextOptions {
            crf: Some(true),
            ..TextOptions::default()
        };
        assert!(crf.check("wnut17-bert-ner", true).is_ok());
        let err = crf.check("bbc-bert", true).unwrap_err().to_string();
        assert!(
            err.starts_with("--crf applies to the BERT taggers"),
            "{err}"
        );
    }
}
