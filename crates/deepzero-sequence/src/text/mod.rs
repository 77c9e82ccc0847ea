//! Text to token ids (seed chapters 4.1–4.2: preparing text for a recurrent or Transformer
//! classifier).
//!
//! | piece | file | what it does |
//! |---|---|---|
//! | [`split_words`], [`split_chars`] | `tokenize.rs` | Unicode-aware splitting; CJK text one character per token |
//! | [`Vocab`] | `vocab.rs` | character or word vocabulary: frequency cut-off, maximum size, `<pad>` = 0, `<unk>` = 1, lower-casing; JSON save/load and a checkpoint check |
//! | [`TokenTable`] | `table.rs` | the id ↔ token table of every frequency-built vocabulary (`Vocab`, the tagger's word and tag lists): `<pad>`, `<unk>`, then by frequency |
//! | [`Bpe`] | `bpe.rs` | byte-pair encoding (Sennrich et al. 2016) trained to a target vocabulary size, deterministic merges, encode/decode, JSON save/load |
//!
//! Ids `0` and `1` are the same in both: `<pad>` (what batches are padded with; the padding
//! mask hides it from every model) and `<unk>` (anything the vocabulary has not seen).
//!
//! **The crate's token maps.** Frequency-built vocabularies share one table, [`TokenTable`]:
//! [`Vocab`] is a tokeniser configuration on top of it and the tagger's word and tag lists
//! (`tagging::Vocab`) *are* it. Two maps stay separate because their ids mean something
//! else: `lm::CharVocab` (every character of a corpus, whitespace included, and no
//! `<pad>`/`<unk>`: a language model must be able to emit every id) and
//! `translation::SubwordCodec` (BPE pieces plus `<bos>`/`<eos>`/`<join>`). All of them record a
//! size and a fingerprint with a checkpoint and refuse another vocabulary with the same
//! one-line error.

pub mod bpe;
pub mod table;
pub mod tokenize;
pub mod vocab;

use std::path::{Path, PathBuf};

pub use bpe::Bpe;
pub use table::TokenTable;
pub use tokenize::{is_cjk, split_chars, split_words};
pub use vocab::{TokenLevel, Vocab, VocabConfig};

/// The padding token, id 0.
pub const PAD: &str = "<pad>";
/// The unknown token, id 1.
pub const UNK: &str = "<unk>";
/// Id of [`PAD`].
pub const PAD_ID: usize = 0;
/// Id of [`UNK`].
pub const UNK_ID: usize = 1;

/// Errors of the text tools.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A vocabulary or BPE file that is not valid JSON of the expected form.
    #[error("{}: not a valid {what} file: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// "vocabulary" or "BPE model".
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A vocabulary that is not the one a model was trained with.
    #[error("vocabulary mismatch: {0}")]
    Mismatch(String),
    /// An argument out of range (a zero vocabulary size, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A file refused by the read limits ([`deepzero_data::limits`]) or not UTF-8.
    #[error(transparent)]
    Data(deepzero_data::DataError),
}

pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), TextError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TextError::Format {
        path: path.to_path_buf(),
        what: "JSON",
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|source| TextError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T, TextError> {
    let text = deepzero_data::read_text_file(path).map_err(|e| match e {
        deepzero_data::DataError::Io { path, source } => TextError::Io { path, source },
        e => TextError::Data(e),
    })?;
    parse_json(path, &text, what)
}

/// [`read_json`] on text already in memory; `path` names its source in errors.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    what: &'static str,
) -> Result<T, TextError> {
    serde_json::from_str(text).map_err(|e| TextError::Format {
        path: path.to_path_buf(),
        what,
        // serde quotes an unknown enum variant as it is, newlines included (found by
        // fuzzing): the message is kept to one line.
        message: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// [`TextError::Mismatch`] unless a vocabulary of `len` `units` ("tokens", "characters")
/// with `fingerprint` is the one a checkpoint recorded (`expected_len`, `expected_fingerprint`).
pub(crate) fn check_recorded(
    units: &str,
    (len, fingerprint): (usize, u64),
    (expected_len, expected_fingerprint): (usize, u64),
) -> Result<(), TextError> {
    if len == expected_len && fingerprint == expected_fingerprint {
        return Ok(());
    }
    Err(TextError::Mismatch(format!(
        "the vocabulary has {len} {units} (fingerprint {fingerprint:016x}) but the checkpoint was trained with {expected_len} {units} (fingerprint {expected_fingerprint:016x}); use the vocab.json saved with that run"
    )))
}

/// 64-bit FNV-1a of a token list: a cheap fingerprint that tells two vocabularies apart.
pub(crate) fn fingerprint<'a>(tokens: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in tokens {
        for b in t.bytes().chain(std::iter::once(0xff)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
