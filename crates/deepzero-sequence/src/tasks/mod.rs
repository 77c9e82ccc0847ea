//! Whole tasks, from data on disk to a trained model in a run folder and back: each module has a
//! serialisable spec, `train`, `evaluate_run` and a `Predictor` that loads a run folder.
//!
//! | seed | task | module |
//! |---|---|---|
//! | 4.1, 4.2 | the model: embedding → bag / BiLSTM / Transformer encoder → masked pooling → linear | [`text_classifier`] ([`TextClassifier`]) |
//! | 4.1, 4.2 | text classification of a labelled corpus (BBC News, SpamAssassin, Chinese reviews) | [`classify`] |
//! | 4.2 | named-entity tagging with a BiLSTM-CRF (People's Daily characters, WNUT-17 words) | [`tag`] |
//! | 4.3 | translation with an encoder–decoder Transformer on Multi30k, beam search, sacreBLEU | [`translate`] |
//! | 4.2, 4.3 | text generation with a character LSTM or a small GPT on tiny-shakespeare | [`generate`] |
//! | – | what a user may change in any text recipe (`--max-len`, `--dropout` …) | [`options`] ([`TextOptions`]) |

pub mod classify;
pub mod generate;
pub mod options;
pub mod recipes;
pub mod tag;
pub mod text_classifier;
pub mod translate;

use std::io::Read;
use std::path::Path;

use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{RunSettings, TaskError};
use serde::Serialize;

use crate::text::Vocab;

/// Creates the run folder `settings.out` and writes the vocabulary (`vocab.json`) and the run's
/// description `info` (`run.json`) into it; returns the folder. The BERT fine-tuning runs and
/// the scene tasks of `deepzero-multimodal` start this way.
///
/// # Errors
/// As [`RunSettings::create_out`], or a file that cannot be written.
pub fn write_run_files<'a>(
    settings: &'a RunSettings,
    vocab: &Vocab,
    info: &impl Serialize,
) -> Result<&'a Path, TaskError> {
    let out = settings.create_out()?;
    vocab
        .save(&out.join("vocab.json"))
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    write_json_atomic(&out.join("run.json"), info)?;
    Ok(out)
}

/// The lines of a UTF-8 text file, or of standard input when `path` is `None` or `-` (a
/// predictor's inputs, one per line; `\r\n` endings read as `\n`).
///
/// # Errors
/// The file cannot be read, or is not UTF-8 (the error names the line).
pub fn read_lines(path: Option<&Path>) -> Result<Vec<String>, TaskError> {
    let (bytes, name) = match path {
        Some(path) if path.as_os_str() != "-" => {
            (std::fs::read(path).map_err(TaskError::io(path))?, path)
        }
        _ => {
            let stdin = Path::new("<stdin>");
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(TaskError::io(stdin))?;
            (bytes, stdin)
        }
    };
    let text = deepzero_data::text::decode_utf8(&bytes, name)?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The texts `given` one by one (e.g. as command-line arguments), or else, when none is, the
/// lines of `input` ([`read_lines`]: standard input when `None` or `-`).
///
/// # Errors
/// Texts given both ways, or `input` unreadable.
pub fn given_or_lines(given: &[String], input: Option<&Path>) -> Result<Vec<String>, TaskError> {
    match (input, given.is_empty()) {
        (Some(_), false) => Err(TaskError::invalid(
            "give texts either as arguments or with --input, not both",
        )),
        (input, true) => read_lines(input),
        (None, false) => Ok(given.to_vec()),
    }
}

/// [`given_or_lines`], refusing none at all: the inputs of a predictor, `what` naming one of
/// them in the error ("text", "sentence").
///
/// # Errors
/// As [`given_or_lines`], and [`TaskError::Invalid`] for no input.
pub fn some_texts(
    given: &[String],
    input: Option<&Path>,
    what: &str,
) -> Result<Vec<String>, TaskError> {
    let lines = given_or_lines(given, input)?;
    if lines.is_empty() {
        return Err(TaskError::invalid(format!(
            "predict needs at least one {what} (as arguments, --input FILE, or lines on standard input)"
        )));
    }
    Ok(lines)
}

pub use options::TextOptions;
pub use text_classifier::{
    TextBatch, TextBatcher, TextClassifier, TextClassifierConfig, TextEncoderKind, TextItem,
    masked_max, masked_mean,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_a_file_and_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("texts.txt");
        std::fs::write(&path, "first\r\nsecond\n\nfourth").unwrap();
        assert_eq!(
            read_lines(Some(&path)).unwrap(),
            ["first", "second", "", "fourth"]
        );
        std::fs::write(&path, b"ok\nbad \xff\n").unwrap();
        let err = read_lines(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("texts.txt:2:") && !err.contains('\n'), "{err}");
        let missing = dir.path().join("missing.txt");
        let err = read_lines(Some(&missing)).unwrap_err().to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");
    }

    #[test]
    fn texts_are_given_or_read_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("texts.txt");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        assert_eq!(given_or_lines(&[], Some(&path)).unwrap(), ["one", "two"]);
        let given = ["three".to_string()];
        assert_eq!(given_or_lines(&given, None).unwrap(), ["three"]);
        let err = given_or_lines(&given, Some(&path)).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        assert_eq!(some_texts(&given, None, "text").unwrap(), ["three"]);
        std::fs::write(&path, "").unwrap();
        let err = some_texts(&[], Some(&path), "sentence").unwrap_err();
        assert_eq!(
            err.to_string(),
            "predict needs at least one sentence (as arguments, --input FILE, or lines on standard input)"
        );
    }
}
