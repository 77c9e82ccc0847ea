//! Hugging Face `tokenizer.json` files: byte-level BPE (GPT-2, RoBERTa, CLIP) and WordPiece
//! (BERT), written here from the `tokenizers` library's pipeline rather than taken from the
//! crate (see `docs/hf.md` for why):
//!
//! ```text
//! text ─► split out added tokens (<|endoftext|>, [MASK], …) ─► normaliser ─► pre-tokeniser
//!      ─► model (BPE merges / WordPiece longest match) per word ─► post-processor ([CLS] … [SEP])
//! ```
//!
//! | stage | implemented | as in `tokenizers` |
//! |---|---|---|
//! | normaliser | none, `BertNormalizer`, `NFC`, `Lowercase`, `Replace` and a `Sequence` of the last three (CLIP) | clean text (drop controls, whitespace → space), spaces around CJK ideographs, strip accents (NFD, drop Mn marks; table from `scripts/strip_accents_table.py`), lower-case; NFC by `unicode-normalization` |
//! | pre-tokeniser | `ByteLevel`, `BertPreTokenizer`, CLIP's `Sequence[Split(pattern, invert, Removed), ByteLevel]` (the pattern's matches are the pieces) | GPT-2's regex `'s\|'t\|'re\|'ve\|'m\|'ll\|'d\| ?\p{L}+\| ?\p{N}+\| ?[^\s\p{L}\p{N}]+\|\s+(?!\S)\|\s+` then bytes → printable characters; BERT: split on whitespace, every punctuation character alone |
//! | model | `BPE` (with or without CLIP's `end_of_word_suffix` `</w>` on each word's last symbol), `WordPiece` | merges by rank (lowest first, leftmost first); greedy longest match with `##` continuations, `[UNK]` for a word that cannot be matched or is over `max_input_chars_per_word` |
//! | post-processor | none, `ByteLevel`, `TemplateProcessing` (single sequence), `BertProcessing`, `RobertaProcessing` | special tokens around one sequence |
//! | decoder | `ByteLevel`, `WordPiece` | bytes back to UTF-8 (lossy; an end-of-word suffix is a space, trimmed at the ends, as `CLIPTokenizerFast` decodes); `##` joins, `cleanup` of ` .`, ` ,`, ` n't`, … |
//!
//! `regex` has no look-ahead, so `\s+(?!\S)` is done by hand: a whitespace run of two or more
//! characters followed by a non-space gives back its last character, which then starts the
//! next piece (so `"a   b"` is `a`, `"  "`, `" b"`). Ids equal the Python library's on the
//! fixture texts (`tests/fixtures/hf/tokenizers.json`, written by `make_hf_fixtures.py`; CLIP's
//! pipeline: `deepzero-multimodal`'s `tests/fixtures/clip/tokenizer_cases.json`).
//!
//! Anything else in a file — another model type (Unigram, WordLevel), another normaliser or
//! pre-tokeniser, BPE dropout or byte fallback — is refused with [`HfError::Unsupported`]
//! when the file is loaded, never silently tokenised differently.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::HfError;
use super::strip_accents_table::STRIPPED;

/// The tokenisation algorithm of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// Byte-level BPE (GPT-2).
    ByteLevelBpe,
    /// WordPiece (BERT).
    WordPiece,
}

/// A loaded `tokenizer.json`.
#[derive(Clone, Debug)]
pub struct HfTokenizer {
    raw: Value,
    kind: TokenizerKind,
    normalizer: Option<Normalizer>,
    add_prefix_space: bool,
    /// A `Split` pre-tokeniser before the byte-level one (CLIP): the pieces are its matches.
    split: Option<Regex>,
    /// Whether the byte-level pre-tokeniser applies GPT-2's regex to each piece.
    byte_level_regex: bool,
    /// Appended to the last symbol of every word before merging (`</w>` in CLIP).
    end_of_word_suffix: String,
    vocab: HashMap<String, u32>,
    id_to_token: HashMap<u32, String>,
    merges: HashMap<(String, String), usize>,
    ignore_merges: bool,
    unk: Option<u32>,
    continuing_prefix: String,
    max_word_chars: usize,
    /// Added tokens, longest first: (content, id, special, lstrip, rstrip).
    added: Vec<AddedToken>,
    /// Ids before and after a single sequence.
    wrap: (Vec<u32>, Vec<u32>),
    decoder_cleanup: bool,
}

#[derive(Clone, Debug)]
struct AddedToken {
    content: String,
    id: u32,
    special: bool,
    lstrip: bool,
    rstrip: bool,
}

#[derive(Clone, Debug)]
enum Normalizer {
    Bert(BertNormalizer),
    /// A `Sequence` of simple steps (or one of them alone).
    Steps(Vec<NormStep>),
}

#[derive(Clone, Debug)]
enum NormStep {
    Nfc,
    Lowercase,
    Replace { pattern: Regex, content: String },
}

#[derive(Clone, Copy, Debug)]
struct BertNormalizer {
    clean_text: bool,
    handle_chinese_chars: bool,
    strip_accents: bool,
    lowercase: bool,
}

fn unsupported(what: impl Into<String>) -> HfError {
    HfError::Unsupported(what.into())
}

/// `value[key]` as a string, `None` when absent or null.
fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn bool_field(value: &Value, key: &str, default: bool) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(default)
}

impl HfTokenizer {
    /// Reads a `tokenizer.json`.
    ///
    /// # Errors
    /// [`HfError::Missing`]/[`HfError::Format`] for a missing or malformed file,
    /// [`HfError::Unsupported`] for a pipeline this module does not implement.
    pub fn load(path: &Path) -> Result<Self, HfError> {
        let text = std::fs::read_to_string(path).map_err(|e| HfError::reading(path, e))?;
        let raw: Value = serde_json::from_str(&text).map_err(|e| HfError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_json(raw).map_err(|e| match e {
            HfError::Invalid(message) => HfError::Format {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Builds the tokenizer from the parsed JSON of a `tokenizer.json`.
    ///
    /// # Errors
    /// As [`load`](Self::load) ([`HfError::Invalid`] for a malformed document).
    pub fn from_json(raw: Value) -> Result<Self, HfError> {
        let invalid = |m: &str| HfError::Invalid(format!("not a tokenizer.json: {m}"));
        let model = raw.get("model").ok_or_else(|| invalid("no `model`"))?;
        let model_type = str_field(model, "type").ok_or_else(|| invalid("no `model.type`"))?;
        let mut pre = raw.get("pre_tokenizer").filter(|v| !v.is_null());
        // CLIP: Sequence[Split(pattern, invert, Removed), ByteLevel]; the Split is read here
        // and the ByteLevel goes on as the pre-tokeniser.
        let split = match pre {
            Some(p) if str_field(p, "type") == Some("Sequence") => {
                let (split, byte_level) = clip_pre_tokenizer(p)?;
                pre = Some(byte_level);
                Some(split)
            }
            _ => None,
        };
        let pre_type = pre.and_then(|p| str_field(p, "type"));
        let kind = match (model_type, pre_type) {
            ("BPE", Some("ByteLevel")) => TokenizerKind::ByteLevelBpe,
            ("WordPiece", Some("BertPreTokenizer")) => TokenizerKind::WordPiece,
            (m, p) => {
                return Err(unsupported(format!(
                    "tokenizer model {m} with pre-tokenizer {} (byte-level BPE and BERT WordPiece are implemented)",
                    p.unwrap_or("none")
                )));
            }
        };
        let vocab: HashMap<String, u32> = serde_json::from_value(
            model
                .get("vocab")
                .cloned()
                .ok_or_else(|| invalid("no `model.vocab`"))?,
        )
        .map_err(|e| invalid(&format!("model.vocab: {e}")))?;
        let mut add_prefix_space = false;
        let mut byte_level_regex = true;
        if let Some(pre) = pre
            && kind == TokenizerKind::ByteLevelBpe
        {
            add_prefix_space = bool_field(pre, "add_prefix_space", false);
            byte_level_regex = bool_field(pre, "use_regex", true);
            if !byte_level_regex && split.is_none() {
                return Err(unsupported(
                    "ByteLevel pre-tokenizer with use_regex = false",
                ));
            }
        }
        let normalizer = match raw.get("normalizer").filter(|v| !v.is_null()) {
            None => None,
            Some(n) => Some(Normalizer::from_json(n)?),
        };

        let mut merges = HashMap::new();
        let mut ignore_merges = false;
        let mut continuing_prefix = String::new();
        let mut max_word_chars = usize::MAX;
        let mut end_of_word_suffix = String::new();
        let unk_token = str_field(model, "unk_token");
        match kind {
            TokenizerKind::ByteLevelBpe => {
                if model.get("dropout").is_some_and(|d| !d.is_null()) {
                    return Err(unsupported("BPE dropout"));
                }
                if bool_field(model, "byte_fallback", false) {
                    return Err(unsupported("BPE byte_fallback"));
                }
                if str_field(model, "continuing_subword_prefix").is_some_and(|s| !s.is_empty()) {
                    return Err(unsupported("BPE continuing_subword_prefix"));
                }
                end_of_word_suffix = str_field(model, "end_of_word_suffix")
                    .unwrap_or("")
                    .to_string();
                ignore_merges = bool_field(model, "ignore_merges", false);
                let list = model
                    .get("merges")
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid("no `model.merges`"))?;
                for (rank, merge) in list.iter().enumerate() {
                    // "a b" (files before tokenizers 0.20) or ["a", "b"].
                    let pair = match merge {
                        Value::String(s) => s
                            .split_once(' ')
                            .map(|(a, b)| (a.to_string(), b.to_string())),
                        Value::Array(a) if a.len() == 2 => a[0]
                            .as_str()
                            .zip(a[1].as_str())
                            .map(|(a, b)| (a.to_string(), b.to_string())),
                        _ => None,
                    }
                    .ok_or_else(|| invalid(&format!("merge {rank} is not a pair")))?;
                    merges.entry(pair).or_insert(rank);
                }
            }
            TokenizerKind::WordPiece => {
                continuing_prefix = str_field(model, "continuing_subword_prefix")
                    .unwrap_or("##")
                    .to_string();
                max_word_chars = model
                    .get("max_input_chars_per_word")
                    .and_then(Value::as_u64)
                    .unwrap_or(100) as usize;
            }
        }
        let unk = match unk_token {
            Some(t) => Some(
                *vocab
                    .get(t)
                    .ok_or_else(|| invalid(&format!("unk_token {t} is not in the vocabulary")))?,
            ),
            None => None,
        };

        let mut added = Vec::new();
        for token in raw
            .get("added_tokens")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let content = str_field(token, "content")
                .ok_or_else(|| invalid("added token without content"))?;
            let id = token
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid("added token without id"))? as u32;
            if bool_field(token, "single_word", false) {
                return Err(unsupported(format!(
                    "added token {content} with single_word"
                )));
            }
            added.push(AddedToken {
                content: content.to_string(),
                id,
                special: bool_field(token, "special", false),
                lstrip: bool_field(token, "lstrip", false),
                rstrip: bool_field(token, "rstrip", false),
            });
        }
        added.sort_by_key(|a| std::cmp::Reverse(a.content.len()));

        let mut id_to_token: HashMap<u32, String> =
            vocab.iter().map(|(t, &i)| (i, t.clone())).collect();
        for a in &added {
            id_to_token.insert(a.id, a.content.clone());
        }
        let lookup = |token: &str| -> Result<u32, HfError> {
            vocab
                .get(token)
                .copied()
                .or_else(|| added.iter().find(|a| a.content == token).map(|a| a.id))
                .ok_or_else(|| invalid(&format!("special token {token} is not in the vocabulary")))
        };
        let wrap = match raw.get("post_processor").filter(|v| !v.is_null()) {
            None => (vec![], vec![]),
            Some(p) => match str_field(p, "type") {
                Some("ByteLevel") => (vec![], vec![]),
                Some("BertProcessing") | Some("RobertaProcessing") => {
                    let token = |key: &str| {
                        p.get(key)
                            .and_then(|v| v.get(0))
                            .and_then(Value::as_str)
                            .ok_or_else(|| invalid(&format!("post_processor without {key}")))
                    };
                    (vec![lookup(token("cls")?)?], vec![lookup(token("sep")?)?])
                }
                Some("TemplateProcessing") => template_wrap(p, &lookup)?,
                other => {
                    return Err(unsupported(format!(
                        "post-processor {}",
                        other.unwrap_or("?")
                    )));
                }
            },
        };
        let decoder_cleanup = raw
            .get("decoder")
            .is_some_and(|d| bool_field(d, "cleanup", true));
        Ok(Self {
            raw,
            kind,
            normalizer,
            add_prefix_space,
            split,
            byte_level_regex,
            end_of_word_suffix,
            vocab,
            id_to_token,
            merges,
            ignore_merges,
            unk,
            continuing_prefix,
            max_word_chars,
            added,
            wrap,
            decoder_cleanup,
        })
    }

    /// Writes the file back (the document as it was read), atomically.
    ///
    /// # Errors
    /// [`HfError::Io`] if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), HfError> {
        let text = serde_json::to_string(&self.raw).expect("a JSON value serialises");
        deepzero_train::metrics_file::write_atomic(path, text.as_bytes()).map_err(|e| HfError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Byte-level BPE or WordPiece.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// One more than the largest id (the embedding rows a model needs).
    pub fn vocab_size(&self) -> usize {
        self.id_to_token.keys().max().map_or(0, |&m| m as usize + 1)
    }

    /// The id of a token (vocabulary or added token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab
            .get(token)
            .copied()
            .or_else(|| self.added.iter().find(|a| a.content == token).map(|a| a.id))
    }

    /// The token of an id.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(&id).map(String::as_str)
    }

    /// The ids of `text`, with the post-processor's special tokens when `add_special_tokens`
    /// (Python's `tokenizer.encode(text).ids` adds them).
    ///
    /// # Errors
    /// [`HfError::Invalid`] for a piece the vocabulary cannot express and no `unk_token`.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, HfError> {
        let mut ids = Vec::new();
        if add_special_tokens {
            ids.extend(&self.wrap.0);
        }
        for segment in self.split_added(text) {
            match segment {
                Segment::Added(id) => ids.push(id),
                Segment::Text(t) => self.encode_text(t, &mut ids)?,
            }
        }
        if add_special_tokens {
            ids.extend(&self.wrap.1);
        }
        Ok(ids)
    }

    /// The text of `ids`, skipping special tokens (Python's `tokenizer.decode(ids)`).
    ///
    /// # Errors
    /// [`HfError::Invalid`] for an id outside the vocabulary.
    pub fn decode(&self, ids: &[u32]) -> Result<String, HfError> {
        let mut tokens = Vec::with_capacity(ids.len());
        for &id in ids {
            if self.added.iter().any(|a| a.id == id && a.special) {
                continue;
            }
            tokens.push(self.id_to_token(id).ok_or_else(|| {
                HfError::Invalid(format!("token id {id} is not in the vocabulary"))
            })?);
        }
        Ok(match self.kind {
            TokenizerKind::ByteLevelBpe => {
                let decoder = byte_decoder();
                let mut bytes = Vec::new();
                for token in tokens {
                    // CLIP's end-of-word suffix decodes as a space (as CLIPTokenizerFast does).
                    let (body, word_end) =
                        match token.strip_suffix(self.end_of_word_suffix.as_str()) {
                            Some(body) if !self.end_of_word_suffix.is_empty() => (body, true),
                            _ => (token, false),
                        };
                    bytes.extend(
                        body.chars()
                            .map(|c| decoder.get(&c).copied().unwrap_or(b'?')),
                    );
                    if word_end {
                        bytes.push(b' ');
                    }
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if self.end_of_word_suffix.is_empty() {
                    text
                } else {
                    text.trim().to_string()
                }
            }
            TokenizerKind::WordPiece => {
                let mut out = String::new();
                for (i, token) in tokens.iter().enumerate() {
                    let piece = match token.strip_prefix(&self.continuing_prefix) {
                        Some(rest) if i > 0 => rest.to_string(),
                        _ if i > 0 => format!(" {token}"),
                        _ => token.to_string(),
                    };
                    out.push_str(&if self.decoder_cleanup {
                        cleanup(&piece)
                    } else {
                        piece
                    });
                }
                out
            }
        })
    }

    fn split_added<'t>(&self, text: &'t str) -> Vec<Segment<'t>> {
        let mut segments = Vec::new();
        let mut start = 0; // start of the pending text
        let mut pos = 0;
        while pos < text.len() {
            if let Some(a) = self
                .added
                .iter()
                .find(|a| !a.content.is_empty() && text[pos..].starts_with(&a.content))
            {
                let mut text_end = pos;
                if a.lstrip {
                    text_end = text[start..pos].trim_end().len() + start;
                }
                if text_end > start {
                    segments.push(Segment::Text(&text[start..text_end]));
                }
                segments.push(Segment::Added(a.id));
                pos += a.content.len();
                if a.rstrip {
                    pos += text[pos..].len() - text[pos..].trim_start().len();
                }
                start = pos;
            } else {
                pos += text[pos..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if start < text.len() {
            segments.push(Segment::Text(&text[start..]));
        }
        segments
    }

    fn encode_text(&self, text: &str, ids: &mut Vec<u32>) -> Result<(), HfError> {
        let normalized = match &self.normalizer {
            Some(Normalizer::Bert(n)) => n.normalize(text),
            Some(Normalizer::Steps(steps)) => steps
                .iter()
                .fold(text.to_string(), |t, step| step.apply(&t)),
            None => text.to_string(),
        };
        match self.kind {
            TokenizerKind::ByteLevelBpe => {
                let text = if self.add_prefix_space && !normalized.starts_with(' ') {
                    format!(" {normalized}")
                } else {
                    normalized
                };
                let encoder = byte_encoder();
                let split: Vec<&str> = match &self.split {
                    Some(pattern) => pattern.find_iter(&text).map(|m| m.as_str()).collect(),
                    None => vec![text.as_str()],
                };
                for part in split {
                    let pieces = if self.byte_level_regex {
                        gpt2_pieces(part)
                    } else {
                        vec![part]
                    };
                    for piece in pieces {
                        let word: String = piece.bytes().map(|b| encoder[b as usize]).collect();
                        self.bpe(&word, ids)?;
                    }
                }
            }
            TokenizerKind::WordPiece => {
                for word in bert_pieces(&normalized) {
                    self.wordpiece(word, ids)?;
                }
            }
        }
        Ok(())
    }

    /// Merges a byte-level word by rank and appends the ids of its symbols.
    fn bpe(&self, word: &str, ids: &mut Vec<u32>) -> Result<(), HfError> {
        if self.ignore_merges
            && let Some(&id) = self.vocab.get(word)
        {
            ids.push(id);
            return Ok(());
        }
        let mut symbols: Vec<String> = word.chars().map(String::from).collect();
        if let Some(last) = symbols.last_mut() {
            last.push_str(&self.end_of_word_suffix);
        }
        loop {
            // The lowest-ranked adjacent pair, leftmost on ties.
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.merges
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|&r| (r, i))
                })
                .min();
            let Some((rank, _)) = best else { break };
            // Merge every occurrence of that pair, left to right.
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len()
                    && self
                        .merges
                        .get(&(symbols[i].clone(), symbols[i + 1].clone()))
                        == Some(&rank)
                {
                    merged.push(format!("{}{}", symbols[i], symbols[i + 1]));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut symbols[i]));
                    i += 1;
                }
            }
            symbols = merged;
        }
        for s in &symbols {
            match self.vocab.get(s).copied().or(self.unk) {
                Some(id) => ids.push(id),
                None => {
                    return Err(HfError::Invalid(format!(
                        "symbol {s:?} is not in the vocabulary and the tokenizer has no unk_token"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Greedy longest-match-first WordPiece of one word.
    fn wordpiece(&self, word: &str, ids: &mut Vec<u32>) -> Result<(), HfError> {
        let unk = || {
            self.unk.ok_or_else(|| {
                HfError::Invalid(format!(
                    "word {word:?} is not in the vocabulary and the tokenizer has no unk_token"
                ))
            })
        };
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(i, _)| i)
            .chain([word.len()])
            .collect();
        if bounds.len() - 1 > self.max_word_chars {
            ids.push(unk()?);
            return Ok(());
        }
        let mut pieces = Vec::new();
        let mut start = 0; // index into bounds
        while start < bounds.len() - 1 {
            let found = (start + 1..bounds.len()).rev().find_map(|end| {
                let sub = &word[bounds[start]..bounds[end]];
                let key = if start > 0 {
                    format!("{}{sub}", self.continuing_prefix)
                } else {
                    sub.to_string()
                };
                self.vocab.get(&key).map(|&id| (id, end))
            });
            match found {
                Some((id, end)) => {
                    pieces.push(id);
                    start = end;
                }
                None => {
                    ids.push(unk()?);
                    return Ok(());
                }
            }
        }
        ids.extend(pieces);
        Ok(())
    }
}

enum Segment<'t> {
    Text(&'t str),
    Added(u32),
}

/// `[CLS] $A [SEP]` of a `TemplateProcessing` post-processor.
fn template_wrap(
    p: &Value,
    lookup: &dyn Fn(&str) -> Result<u32, HfError>,
) -> Result<(Vec<u32>, Vec<u32>), HfError> {
    let invalid = |m: &str| HfError::Invalid(format!("not a tokenizer.json: {m}"));
    let single = p
        .get("single")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("TemplateProcessing without `single`"))?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut seen_sequence = false;
    for item in single {
        if item.get("Sequence").is_some() {
            seen_sequence = true;
        } else if let Some(id) = item.get("SpecialToken").and_then(|s| str_field(s, "id")) {
            // The template names a special token; its ids are listed under special_tokens.
            let ids: Vec<u32> = match p.get("special_tokens").and_then(|s| s.get(id)) {
                Some(entry) => {
                    serde_json::from_value(entry.get("ids").cloned().unwrap_or_default())
                        .map_err(|e| invalid(&format!("special token {id}: {e}")))?
                }
                None => vec![lookup(id)?],
            };
            if seen_sequence {
                after.extend(ids);
            } else {
                before.extend(ids);
            }
        } else {
            return Err(invalid("TemplateProcessing item"));
        }
    }
    Ok((before, after))
}

/// GPT-2's byte → printable character table (`bytes_to_unicode` of its `encoder.py`): the
/// printable Latin-1 bytes map to themselves, the other 68 to `U+0100…U+0143` in order.
fn byte_encoder() -> &'static [char; 256] {
    static TABLE: LazyLock<[char; 256]> = LazyLock::new(|| {
        let printable =
            |b: u8| (b'!'..=b'~').contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
        let mut table = ['\0'; 256];
        let mut next = 0u32;
        for b in 0..=255u8 {
            table[b as usize] = if printable(b) {
                char::from(b)
            } else {
                next += 1;
                char::from_u32(255 + next).expect("U+0100…U+0143 are characters")
            };
        }
        table
    });
    &TABLE
}

fn byte_decoder() -> &'static HashMap<char, u8> {
    static TABLE: LazyLock<HashMap<char, u8>> = LazyLock::new(|| {
        byte_encoder()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect()
    });
    &TABLE
}

/// GPT-2's pre-tokenisation (see the [module docs](self) for the look-ahead).
fn gpt2_pieces(text: &str) -> Vec<&str> {
    static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
            .expect("a valid pattern")
    });
    let mut pieces = Vec::new();
    let mut pos = 0;
    while let Some(m) = PATTERN.find_at(text, pos) {
        let mut end = m.end();
        let piece = m.as_str();
        // `\s+(?!\S)`: a whitespace run followed by a non-space leaves its last character
        // to the next piece (a run of one is matched by the plain `\s+` instead).
        if piece.chars().all(char::is_whitespace) && end < text.len() && piece.chars().count() > 1 {
            end -= piece.chars().last().map_or(0, char::len_utf8);
        }
        pieces.push(&text[m.start()..end]);
        pos = end;
    }
    pieces
}

fn is_punctuation(c: char) -> bool {
    static PUNCT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\p{P}$").expect("a valid pattern"));
    c.is_ascii_punctuation() || (!c.is_ascii() && PUNCT.is_match(c.encode_utf8(&mut [0; 4])))
}

/// BERT's pre-tokenisation: split on whitespace, every punctuation character alone.
fn bert_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    for word in text.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        let mut start = 0;
        for (i, c) in word.char_indices() {
            if is_punctuation(c) {
                if i > start {
                    pieces.push(&word[start..i]);
                }
                pieces.push(&word[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < word.len() {
            pieces.push(&word[start..]);
        }
    }
    pieces
}

/// The `Split` and `ByteLevel` of a CLIP pre-tokeniser `Sequence`; any other sequence is
/// unsupported.
fn clip_pre_tokenizer(sequence: &Value) -> Result<(Regex, &Value), HfError> {
    let steps = sequence
        .get("pretokenizers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let types: Vec<&str> = steps
        .iter()
        .map(|s| str_field(s, "type").unwrap_or("?"))
        .collect();
    let [split, byte_level] = steps else {
        return Err(unsupported(format!("pre-tokenizer Sequence {types:?}")));
    };
    if types != ["Split", "ByteLevel"]
        || str_field(split, "behavior") != Some("Removed")
        || !bool_field(split, "invert", false)
    {
        return Err(unsupported(format!(
            "pre-tokenizer Sequence {types:?} (CLIP's Split(invert, Removed) + ByteLevel is implemented)"
        )));
    }
    Ok((pattern(split)?, byte_level))
}

/// The `pattern` of a `Split` or `Replace`: `{"Regex": …}` or `{"String": …}` (literal).
fn pattern(step: &Value) -> Result<Regex, HfError> {
    let p = step.get("pattern");
    let source = match (
        p.and_then(|p| str_field(p, "Regex")),
        p.and_then(|p| str_field(p, "String")),
    ) {
        (Some(re), _) => re.to_string(),
        (None, Some(literal)) => regex::escape(literal),
        _ => {
            return Err(HfError::Invalid(
                "not a tokenizer.json: a pattern without Regex or String".into(),
            ));
        }
    };
    Regex::new(&source).map_err(|e| {
        // `regex` draws the position over several lines; its last line names the problem.
        let message = e.to_string();
        let reason = message
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("invalid");
        unsupported(format!("pattern {source:?}: {}", reason.trim()))
    })
}

impl Normalizer {
    fn from_json(n: &Value) -> Result<Self, HfError> {
        let kind = str_field(n, "type").unwrap_or("?");
        match kind {
            "BertNormalizer" => {
                let lowercase = bool_field(n, "lowercase", true);
                Ok(Self::Bert(BertNormalizer {
                    clean_text: bool_field(n, "clean_text", true),
                    handle_chinese_chars: bool_field(n, "handle_chinese_chars", true),
                    strip_accents: n
                        .get("strip_accents")
                        .and_then(Value::as_bool)
                        .unwrap_or(lowercase),
                    lowercase,
                }))
            }
            "Sequence" => n
                .get("normalizers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(NormStep::from_json)
                .collect::<Result<_, _>>()
                .map(Self::Steps),
            _ => NormStep::from_json(n).map(|step| Self::Steps(vec![step])),
        }
    }
}

impl NormStep {
    fn from_json(n: &Value) -> Result<Self, HfError> {
        match str_field(n, "type").unwrap_or("?") {
            "NFC" => Ok(Self::Nfc),
            "Lowercase" => Ok(Self::Lowercase),
            "Replace" => Ok(Self::Replace {
                pattern: pattern(n)?,
                content: str_field(n, "content").unwrap_or("").to_string(),
            }),
            other => Err(unsupported(format!("normalizer {other}"))),
        }
    }

    fn apply(&self, text: &str) -> String {
        match self {
            Self::Nfc => text.nfc().collect(),
            Self::Lowercase => text.to_lowercase(),
            Self::Replace { pattern, content } => pattern
                .replace_all(text, regex::NoExpand(content))
                .into_owned(),
        }
    }
}

impl BertNormalizer {
    fn normalize(&self, text: &str) -> String {
        static CONTROL: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^\p{C}$").expect("a valid pattern"));
        static NONSPACING_MARK: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^\p{Mn}$").expect("a valid pattern"));
        let is_class = |re: &Regex, c: char| re.is_match(c.encode_utf8(&mut [0; 4]));
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            let mut c = c;
            if self.clean_text {
                let control = !matches!(c, '\t' | '\n' | '\r') && is_class(&CONTROL, c);
                if c == '\0' || c == '\u{fffd}' || control {
                    continue;
                }
                if c.is_whitespace() {
                    c = ' ';
                }
            }
            let mut chunk = String::new();
            if self.handle_chinese_chars && is_chinese_char(c) {
                chunk.push(' ');
                chunk.push(c);
                chunk.push(' ');
            } else {
                chunk.push(c);
            }
            if self.strip_accents {
                chunk = chunk
                    .chars()
                    .flat_map(|c| strip_accent(c).chars().collect::<Vec<_>>())
                    .filter(|&c| !is_class(&NONSPACING_MARK, c))
                    .collect();
            }
            if self.lowercase {
                chunk = chunk.chars().flat_map(char::to_lowercase).collect();
            }
            out.push_str(&chunk);
        }
        out
    }
}

/// The canonical decomposition of `c` without its non-spacing marks (`c` itself when it has
/// none; Hangul syllables decompose into their jamo).
fn strip_accent(c: char) -> String {
    let cp = c as u32;
    if (0xac00..=0xd7a3).contains(&cp) {
        let s = cp - 0xac00;
        let (l, v, t) = (0x1100 + s / 588, 0x1161 + (s % 588) / 28, 0x11a7 + s % 28);
        return [l, v]
            .into_iter()
            .chain((!s.is_multiple_of(28)).then_some(t))
            .filter_map(char::from_u32)
            .collect();
    }
    match STRIPPED.binary_search_by_key(&cp, |&(k, _)| k) {
        Ok(i) => STRIPPED[i].1.to_string(),
        Err(_) => c.to_string(),
    }
}

fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// The WordPiece decoder's clean-up of tokenisation spaces.
fn cleanup(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::test_fixtures::fixture;

    fn cases(name: &str) -> Vec<(String, Vec<u32>, String)> {
        let all: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("tokenizers.json")).unwrap())
                .unwrap();
        all[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["text"].as_str().unwrap().to_string(),
                    serde_json::from_value(c["ids"].clone()).unwrap(),
                    c["decoded"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn check(tok: &HfTokenizer, name: &str) {
        for (text, ids, decoded) in cases(name) {
            assert_eq!(tok.encode(&text, true).unwrap(), ids, "{name}: {text:?}");
            assert_eq!(tok.decode(&ids).unwrap(), decoded, "{name}: {text:?}");
        }
    }

    #[test]
    fn byte_level_bpe_ids_equal_python_tokenizers() {
        let tok = HfTokenizer::load(&fixture("gpt2-tiny/tokenizer.json")).unwrap();
        assert_eq!(tok.kind(), TokenizerKind::ByteLevelBpe);
        assert_eq!(tok.vocab_size(), 400);
        check(&tok, "byte_level_bpe");
        // The added token is split out before the BPE.
        let eot = tok.token_to_id("<|endoftext|>").unwrap();
        let ids = tok.encode("hi<|endoftext|>hi", false).unwrap();
        let hi = tok.encode("hi", false).unwrap();
        assert_eq!(ids, [hi.clone(), vec![eot], hi].concat());
    }

    #[test]
    fn wordpiece_ids_equal_python_tokenizers() {
        let uncased = HfTokenizer::load(&fixture("bert-tiny/tokenizer.json")).unwrap();
        assert_eq!(uncased.kind(), TokenizerKind::WordPiece);
        check(&uncased, "wordpiece_uncased");
        let cased = HfTokenizer::load(&fixture("wordpiece-cased.json")).unwrap();
        check(&cased, "wordpiece_cased");
    }

    #[test]
    fn save_then_load_gives_the_same_ids() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["gpt2-tiny/tokenizer.json", "bert-tiny/tokenizer.json"] {
            let tok = HfTokenizer::load(&fixture(file)).unwrap();
            let path = dir.path().join("tokenizer.json");
            tok.save(&path).unwrap();
            let again = HfTokenizer::load(&path).unwrap();
            let text = "We know't, 今天 hear me speak.";
            assert_eq!(
                tok.encode(text, true).unwrap(),
                again.encode(text, true).unwrap()
            );
        }
    }

    #[test]
    fn gpt2_pre_tokenisation_by_hand() {
        assert_eq!(
            gpt2_pieces("a   b  \n x's 12ab!!"),
            vec!["a", "  ", " b", "  \n", " x", "'s", " 12", "ab", "!!"]
        );
        assert_eq!(gpt2_pieces("end  "), vec!["end", "  "]);
    }

    #[test]
    fn strip_accents_and_hangul() {
        assert_eq!(strip_accent('é'), "e");
        assert_eq!(strip_accent('ñ'), "n");
        assert_eq!(strip_accent('a'), "a");
        assert_eq!(strip_accent('한'), "\u{1112}\u{1161}\u{11ab}");
    }

    #[test]
    fn bad_files_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = HfTokenizer::load(&dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, HfError::Missing(_)));
        let path = dir.path().join("t.json");
        std::fs::write(&path, "{\"model\": {}}").unwrap();
        let e = HfTokenizer::load(&path).unwrap_err().to_string();
        assert!(e.contains("no `model.type`") && !e.contains('\n'), "{e}");
        std::fs::write(
            &path,
            r#"{"model": {"type": "Unigram", "vocab": {}}, "pre_tokenizer": null}"#,
        )
        .unwrap();
        let e = HfTokenizer::load(&path).unwrap_err();
        assert!(matches!(e, HfError::Unsupported(_)), "{e}");
        // Pipelines near CLIP's that are not CLIP's are refused by name.
        let bpe = r#""model": {"type": "BPE", "vocab": {}, "merges": []}"#;
        for (rest, message) in [
            (
                r#""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "ByteLevel"}]}"#,
                r#"unsupported: pre-tokenizer Sequence ["Whitespace", "ByteLevel"] (CLIP's Split(invert, Removed) + ByteLevel is implemented)"#,
            ),
            (
                r#""pre_tokenizer": {"type": "ByteLevel"}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKD"}]}"#,
                "unsupported: normalizer NFKD",
            ),
            (
                r#""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "("}, "behavior": "Removed", "invert": true}, {"type": "ByteLevel"}]}"#,
                "unsupported: pattern \"(\"",
            ),
        ] {
            std::fs::write(&path, format!("{{{bpe}, {rest}}}")).unwrap();
            let e = HfTokenizer::load(&path).unwrap_err().to_string();
            assert!(e.starts_with(message) && !e.contains('\n'), "{e}");
        }
    }
}
