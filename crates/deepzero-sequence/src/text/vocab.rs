//! Character and word vocabularies.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PAD_ID, TextError, TokenTable, UNK, split_chars, split_words};

/// What one token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLevel {
    /// One visible character (whitespace dropped).
    Char,
    /// One word of [`split_words`] (CJK: one character).
    Word,
}

/// How a [`Vocab`] is built and how it tokenises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VocabConfig {
    /// Characters or words.
    pub level: TokenLevel,
    /// Lower-case text before splitting (building and encoding alike).
    pub lowercase: bool,
    /// Keep only tokens seen at least this often.
    pub min_freq: usize,
    /// At most this many ids, `<pad>` and `<unk>` included (`None`: no limit).
    pub max_size: Option<usize>,
    /// Longest n-gram: 1 keeps the plain tokens; `n` > 1 appends every run of 2..=n adjacent
    /// tokens as one more token (words joined by a space, "new york"; characters joined
    /// directly, "很好"), the features of a bag-of-n-grams classifier (fastText). Absent in
    /// vocabularies saved before it existed, which read as 1.
    #[serde(default = "one")]
    pub ngrams: usize,
}

fn one() -> usize {
    1
}

impl VocabConfig {
    /// A word vocabulary: lower-cased, tokens seen at least twice, no size limit.
    pub fn words() -> Self {
        Self {
            level: TokenLevel::Word,
            lowercase: true,
            min_freq: 2,
            max_size: None,
            ngrams: 1,
        }
    }

    /// A character vocabulary: case kept, characters seen at least twice, no size limit.
    pub fn chars() -> Self {
        Self {
            level: TokenLevel::Char,
            lowercase: false,
            min_freq: 2,
            max_size: None,
            ngrams: 1,
        }
    }

    /// Sets the frequency cut-off.
    pub fn with_min_freq(mut self, min_freq: usize) -> Self {
        self.min_freq = min_freq;
        self
    }

    /// Sets the maximum size (`<pad>` and `<unk>` included).
    pub fn with_max_size(mut self, max_size: Option<usize>) -> Self {
        self.max_size = max_size;
        self
    }

    /// Sets the longest n-gram (1: plain tokens; see [`VocabConfig::ngrams`]).
    pub fn with_ngrams(mut self, ngrams: usize) -> Self {
        self.ngrams = ngrams.max(1);
        self
    }

    /// Sets lower-casing.
    pub fn with_lowercase(mut self, lowercase: bool) -> Self {
        self.lowercase = lowercase;
        self
    }
}

/// A token ↔ id table. Id 0 is `<pad>`, id 1 `<unk>`; the others follow by decreasing
/// frequency in the training texts (ties: the token's string order), so building twice from
/// the same texts gives the same ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vocab {
    /// How it was built and how it tokenises.
    pub config: VocabConfig,
    #[serde(flatten)]
    table: TokenTable,
}

impl Vocab {
    /// Builds a vocabulary from training texts.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>, config: VocabConfig) -> Self {
        let tokens = texts
            .into_iter()
            .flat_map(|text| tokenize_with(&config, text));
        let table = TokenTable::build_capped(tokens, config.min_freq, config.max_size);
        Self { config, table }
    }

    /// The id ↔ token table.
    pub fn table(&self) -> &TokenTable {
        &self.table
    }

    /// Number of ids (`<pad>` and `<unk>` included): the embedding table's row count.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Always false: `<pad>` and `<unk>` are always there.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.table.get(token)
    }

    /// The token of `id`.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.table.token(id)
    }

    /// The tokens of `text` (lower-cased if so configured), n-grams appended if so configured.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        tokenize_with(&self.config, text)
    }

    fn ids(&self, tokens: &[String]) -> Vec<usize> {
        tokens.iter().map(|t| self.table.id(t)).collect()
    }

    /// The ids of `text`; unknown tokens become `<unk>` (1).
    pub fn encode(&self, text: &str) -> Vec<usize> {
        self.ids(&self.tokenize(text))
    }

    /// The ids of the first `max_len` tokens of `text`, and whether the text was longer
    /// (truncated). With n-grams, `max_len` counts the plain tokens: the n-grams of the kept
    /// tokens follow them.
    pub fn encode_truncated(&self, text: &str, max_len: usize) -> (Vec<usize>, bool) {
        let mut pieces = split_with(&self.config, text);
        let truncated = pieces.len() > max_len;
        pieces.truncate(max_len);
        (self.ids(&append_ngrams(pieces, &self.config)), truncated)
    }

    /// Text of `ids`: words joined by spaces, characters joined directly; `<pad>` skipped.
    pub fn decode(&self, ids: &[usize]) -> String {
        let pieces: Vec<&str> = ids
            .iter()
            .filter(|&&i| i != PAD_ID)
            .map(|&i| self.token(i).unwrap_or(UNK))
            .collect();
        match self.config.level {
            TokenLevel::Word => pieces.join(" "),
            TokenLevel::Char => pieces.concat(),
        }
    }

    /// A fingerprint of the token list and configuration: store it with a checkpoint and
    /// compare with [`Vocab::check_matches`].
    pub fn fingerprint(&self) -> u64 {
        let level = match self.config.level {
            TokenLevel::Char => "char",
            TokenLevel::Word => "word",
        };
        let case = if self.config.lowercase {
            "lower"
        } else {
            "cased"
        };
        // Plain vocabularies keep the fingerprint they had before n-grams existed.
        let ngrams = format!("ngrams{}", self.config.ngrams);
        let extra = (self.config.ngrams > 1).then_some(ngrams.as_str());
        super::fingerprint(
            [level, case]
                .into_iter()
                .chain(extra)
                .chain(self.table.tokens().iter().map(String::as_str)),
        )
    }

    /// Checks that this is the vocabulary a checkpoint was trained with (its size and
    /// fingerprint, as recorded at training time).
    ///
    /// # Errors
    /// [`TextError::Mismatch`] naming both sizes and fingerprints.
    pub fn check_matches(
        &self,
        expected_len: usize,
        expected_fingerprint: u64,
    ) -> Result<(), TextError> {
        super::check_recorded(
            "tokens",
            (self.len(), self.fingerprint()),
            (expected_len, expected_fingerprint),
        )
    }

    /// Writes the vocabulary as JSON (`{"config": .., "tokens": [..]}`).
    ///
    /// # Errors
    /// [`TextError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), TextError> {
        super::write_json(path, self)
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    ///
    /// # Errors
    /// [`TextError::Io`], or [`TextError::Format`] for a file that is not a vocabulary (or
    /// whose first two tokens are not `<pad>`, `<unk>`, or that repeats a token).
    pub fn load(path: &Path) -> Result<Self, TextError> {
        Self::check_loaded(path, super::read_json(path, "vocabulary")?)
    }

    /// [`Vocab::load`] on the JSON text of a vocabulary already in memory; `path` names its
    /// source in errors.
    ///
    /// # Errors
    /// [`TextError::Format`] as [`Vocab::load`].
    pub fn from_json(path: &Path, text: &str) -> Result<Self, TextError> {
        Self::check_loaded(path, super::parse_json(path, text, "vocabulary")?)
    }

    fn check_loaded(path: &Path, vocab: Vocab) -> Result<Self, TextError> {
        let bad = |message: &str| TextError::Format {
            path: path.to_path_buf(),
            what: "vocabulary",
            message: message.into(),
        };
        if !vocab.table.starts_with_specials() {
            return Err(bad("the first two tokens must be <pad> and <unk>"));
        }
        if vocab.table.has_duplicates() {
            return Err(bad("a token appears twice"));
        }
        Ok(vocab)
    }
}

fn tokenize_with(config: &VocabConfig, text: &str) -> Vec<String> {
    append_ngrams(split_with(config, text), config)
}

/// The plain tokens of `text`.
fn split_with(config: &VocabConfig, text: &str) -> Vec<String> {
    let lowered;
    let text = if config.lowercase {
        lowered = text.to_lowercase();
        lowered.as_str()
    } else {
        text
    };
    let pieces = match config.level {
        TokenLevel::Char => split_chars(text),
        TokenLevel::Word => split_words(text),
    };
    pieces.into_iter().map(str::to_string).collect()
}

/// `tokens` followed by their n-grams for n = 2..=`config.ngrams`, in order of n, then of
/// position.
fn append_ngrams(mut tokens: Vec<String>, config: &VocabConfig) -> Vec<String> {
    let glue = match config.level {
        TokenLevel::Word => " ",
        TokenLevel::Char => "",
    };
    let plain = tokens.len();
    for n in 2..=config.ngrams {
        for start in 0..plain.saturating_sub(n - 1) {
            let gram = tokens[start..start + n].join(glue);
            tokens.push(gram);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::UNK_ID;

    const TEXTS: [&str; 3] = ["The cat sat.", "the cat ran", "A dog sat"];

    #[test]
    fn frequency_order_cut_off_and_specials() {
        let v = Vocab::build(TEXTS, VocabConfig::words());
        // the ×2, cat ×2, sat ×2 survive min_freq 2; ties in string order.
        assert_eq!(v.table.tokens(), ["<pad>", "<unk>", "cat", "sat", "the"]);
        assert_eq!(v.encode("The dog sat"), [4, UNK_ID, 3]);
        assert_eq!(v.decode(&[4, 2, 0, 0]), "the cat");
        let capped = Vocab::build(TEXTS, VocabConfig::words().with_max_size(Some(3)));
        assert_eq!(capped.len(), 3);
        let all = Vocab::build(TEXTS, VocabConfig::words().with_min_freq(1));
        assert_eq!(all.len(), 2 + 7); // the cat sat . ran a dog
        let cased = Vocab::build(
            TEXTS,
            VocabConfig::words().with_min_freq(1).with_lowercase(false),
        );
        assert!(cased.id("The").is_some() && cased.id("the").is_some());
    }

    #[test]
    fn chinese_characters_and_truncation() {
        let v = Vocab::build(["很好很好", "不好"], VocabConfig::chars());
        assert_eq!(v.table.tokens(), ["<pad>", "<unk>", "好", "很"]);
        assert_eq!(v.encode("很不好"), [3, UNK_ID, 2]);
        assert_eq!(v.decode(&[3, 2]), "很好");
        assert_eq!(v.encode_truncated("很好很好", 3), (vec![3, 2, 3], true));
        assert_eq!(v.encode_truncated("很好", 3), (vec![3, 2], false));
    }

    #[test]
    fn ngrams_follow_the_plain_tokens() {
        let words = VocabConfig::words().with_min_freq(1).with_ngrams(3);
        let v = Vocab::build(["New York is big"], words);
        assert_eq!(
            v.tokenize("New York is big"),
            [
                "new",
                "york",
                "is",
                "big", // plain
                "new york",
                "york is",
                "is big", // bigrams
                "new york is",
                "york is big", // trigrams
            ]
        );
        // Truncation counts plain tokens; the n-grams come from the kept ones only.
        let (ids, cut) = v.encode_truncated("new york is big", 2);
        assert!(cut);
        assert_eq!(v.decode(&ids), "new york new york");
        // An unseen pair is <unk> even when both its words are known.
        assert_eq!(v.encode("york new")[2], UNK_ID);

        let chars = Vocab::build(["很好很好"], VocabConfig::chars().with_ngrams(2));
        // 很 ×2, 好 ×2, 很好 ×2 survive min_freq 2; 好很 ×1 does not.
        assert_eq!(chars.table.tokens(), ["<pad>", "<unk>", "好", "很", "很好"]);
        assert_eq!(chars.encode("很好"), [3, 2, 4]);
        assert_eq!(chars.encode("好"), [2]); // too short for a bigram
        // The n-gram setting is part of the fingerprint; plain vocabularies keep theirs.
        let plain = Vocab::build(["很好很好"], VocabConfig::chars());
        let mut relabelled = plain.clone();
        relabelled.config.ngrams = 2;
        assert_ne!(plain.fingerprint(), relabelled.fingerprint());
    }

    #[test]
    fn vocabularies_saved_before_ngrams_load_as_plain() {
        let json = r#"{"config":{"level":"word","lowercase":true,"min_freq":2,"max_size":null},"tokens":["<pad>","<unk>","cat"]}"#;
        let v: Vocab = serde_json::from_str(json).unwrap();
        assert_eq!(v.config.ngrams, 1);
    }

    #[test]
    fn save_load_round_trip_and_mismatch() {
        let dir = std::env::temp_dir().join(format!("dz-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vocab.json");
        let v = Vocab::build(TEXTS, VocabConfig::words());
        v.save(&path).unwrap();
        let back = Vocab::load(&path).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.encode("the cat"), v.encode("the cat"));
        back.check_matches(v.len(), v.fingerprint()).unwrap();

        let other = Vocab::build(["dogs and cats", "dogs and cats"], VocabConfig::words());
        let err = other
            .check_matches(v.len(), v.fingerprint())
            .unwrap_err()
            .to_string();
        assert!(err.contains("vocabulary mismatch"), "{err}");
        assert!(err.contains("5 tokens"), "{err}");

        std::fs::write(&path, "{\"tokens\": 3}").unwrap();
        let err = Vocab::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a valid vocabulary file"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
