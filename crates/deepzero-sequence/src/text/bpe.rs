//! Byte-pair encoding (Sennrich, Haddow & Birch 2016, *Neural Machine Translation of Rare
//! Words with Subword Units*), written from the paper's algorithm.
//!
//! Training: split the corpus into words ([`split_words`]), write each word as its characters
//! followed by the end-of-word symbol `</w>`, then repeatedly merge the most frequent adjacent
//! pair of symbols (counted over all word occurrences) into a new symbol, until the vocabulary
//! (`<pad>`, `<unk>`, the characters, `</w>` and the merged symbols) reaches the target size or
//! no pair is left. Ties go to the pair that sorts first as a pair of strings, so the merges
//! are the same on every run and platform.
//!
//! Encoding a word replays the learned merges in the order they were learned (lowest rank
//! first); decoding concatenates the symbols and turns `</w>` back into a space.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PAD, TextError, UNK, UNK_ID, split_words};

/// The end-of-word marker.
pub const END_OF_WORD: &str = "</w>";

/// A trained BPE model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bpe {
    /// Lower-case text before splitting.
    pub lowercase: bool,
    /// Learned merges, in order (rank = index).
    merges: Vec<(String, String)>,
    /// Id → symbol: `<pad>`, `<unk>`, the base symbols (sorted), then one per merge.
    vocab: Vec<String>,
    #[serde(skip)]
    ranks: HashMap<(String, String), usize>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl PartialEq for Bpe {
    fn eq(&self, other: &Self) -> bool {
        self.lowercase == other.lowercase
            && self.merges == other.merges
            && self.vocab == other.vocab
    }
}

impl Bpe {
    /// Learns merges from `texts` until the vocabulary has `vocab_size` symbols (or no pair
    /// of symbols is left to merge).
    ///
    /// # Errors
    /// [`TextError::InvalidArgument`] if `vocab_size` cannot even hold `<pad>`, `<unk>` and
    /// the base characters.
    pub fn train<'a>(
        texts: impl IntoIterator<Item = &'a str>,
        vocab_size: usize,
        lowercase: bool,
    ) -> Result<Self, TextError> {
        // Word frequencies; a BTreeMap so that everything below runs in a fixed order.
        let mut freqs: BTreeMap<String, usize> = BTreeMap::new();
        for text in texts {
            let text = if lowercase {
                text.to_lowercase()
            } else {
                text.to_string()
            };
            for w in split_words(&text) {
                *freqs.entry(w.to_string()).or_insert(0) += 1;
            }
        }
        let mut words: Vec<(Vec<String>, usize)> = freqs
            .into_iter()
            .map(|(w, c)| (symbols_of(&w), c))
            .collect();
        let mut base: Vec<String> = words
            .iter()
            .flat_map(|(s, _)| s.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        base.retain(|s| s != END_OF_WORD);
        let mut vocab = vec![PAD.to_string(), UNK.to_string(), END_OF_WORD.to_string()];
        vocab.extend(base);
        if vocab_size < vocab.len() {
            return Err(TextError::InvalidArgument(format!(
                "a BPE vocabulary of {vocab_size} cannot hold <pad>, <unk>, </w> and the {} base characters",
                vocab.len() - 3
            )));
        }
        let mut merges = Vec::new();
        while vocab.len() < vocab_size {
            let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
            for (symbols, count) in &words {
                for p in symbols.windows(2) {
                    *pairs.entry((p[0].as_str(), p[1].as_str())).or_insert(0) += count;
                }
            }
            // Most frequent; ties: the smallest pair of strings.
            let Some(((a, b), _)) = pairs
                .into_iter()
                .max_by(|x, y| x.1.cmp(&y.1).then_with(|| y.0.cmp(&x.0)))
            else {
                break;
            };
            let (a, b) = (a.to_string(), b.to_string());
            for (symbols, _) in &mut words {
                merge_pair(symbols, &a, &b);
            }
            let merged = format!("{a}{b}");
            if !vocab.contains(&merged) {
                vocab.push(merged);
            }
            merges.push((a, b));
        }
        Ok(Self::from_parts(lowercase, merges, vocab))
    }

    fn from_parts(lowercase: bool, merges: Vec<(String, String)>, vocab: Vec<String>) -> Self {
        let ranks = merges
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        let index = vocab
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        Self {
            lowercase,
            merges,
            vocab,
            ranks,
            index,
        }
    }

    /// The learned merges, in order.
    pub fn merges(&self) -> &[(String, String)] {
        &self.merges
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Always false (`<pad>`, `<unk>` and `</w>` are always there).
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// The symbol of `id`.
    pub fn symbol(&self, id: usize) -> Option<&str> {
        self.vocab.get(id).map(String::as_str)
    }

    /// The id of a symbol, if it is in the vocabulary.
    pub fn id(&self, symbol: &str) -> Option<usize> {
        self.index.get(symbol).copied()
    }

    /// The subword symbols of one word (merges replayed by rank).
    pub fn segment_word(&self, word: &str) -> Vec<String> {
        let mut symbols = symbols_of(word);
        loop {
            let best = symbols
                .windows(2)
                .filter_map(|p| self.ranks.get(&(p[0].clone(), p[1].clone())))
                .min()
                .copied();
            let Some(rank) = best else { break };
            let (a, b) = &self.merges[rank];
            merge_pair(&mut symbols, a, b);
        }
        symbols
    }

    /// The subword symbols of a text.
    pub fn segment(&self, text: &str) -> Vec<String> {
        let text = if self.lowercase {
            text.to_lowercase()
        } else {
            text.to_string()
        };
        split_words(&text)
            .into_iter()
            .flat_map(|w| self.segment_word(w))
            .collect()
    }

    /// The ids of a text; a character never seen in training becomes `<unk>`.
    pub fn encode(&self, text: &str) -> Vec<usize> {
        self.segment(text)
            .iter()
            .map(|s| self.index.get(s).copied().unwrap_or(UNK_ID))
            .collect()
    }

    /// The text of `ids`: symbols concatenated, `</w>` read as a space (words come back
    /// separated by single spaces, lower-cased if the model lower-cases).
    pub fn decode(&self, ids: &[usize]) -> String {
        let joined: String = ids
            .iter()
            .filter(|&&i| i != super::PAD_ID)
            .map(|&i| self.symbol(i).unwrap_or(UNK))
            .collect();
        joined.replace(END_OF_WORD, " ").trim_end().to_string()
    }

    /// Writes the model as JSON (`{"lowercase", "merges", "vocab"}`).
    ///
    /// # Errors
    /// [`TextError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), TextError> {
        super::write_json(path, self)
    }

    /// Reads a model written by [`Bpe::save`].
    ///
    /// # Errors
    /// [`TextError::Io`], or [`TextError::Format`] if the file is not a BPE model or a merge
    /// produces a symbol missing from its vocabulary.
    pub fn load(path: &Path) -> Result<Self, TextError> {
        let raw: Bpe = super::read_json(path, "BPE model")?;
        let bpe = Self::from_parts(raw.lowercase, raw.merges, raw.vocab);
        if let Some((a, b)) = bpe
            .merges
            .iter()
            .find(|(a, b)| !bpe.index.contains_key(&format!("{a}{b}")))
        {
            return Err(TextError::Format {
                path: path.to_path_buf(),
                what: "BPE model",
                message: format!("merge ({a}, {b}) makes a symbol that is not in the vocabulary"),
            });
        }
        Ok(bpe)
    }
}

/// A word's characters followed by `</w>`.
fn symbols_of(word: &str) -> Vec<String> {
    word.chars()
        .map(String::from)
        .chain(std::iter::once(END_OF_WORD.to_string()))
        .collect()
}

/// Replaces every adjacent `a b` in `symbols` (left to right) by `ab`.
fn merge_pair(symbols: &mut Vec<String>, a: &str, b: &str) {
    let mut i = 0;
    while i + 1 < symbols.len() {
        if symbols[i] == a && symbols[i + 1] == b {
            symbols[i].push_str(b);
            symbols.remove(i + 1);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sennrich et al.'s toy corpus: low ×5, lower ×2, newest ×6, widest ×3.
    fn toy() -> String {
        let mut s = String::new();
        for (w, n) in [("low", 5), ("lower", 2), ("newest", 6), ("widest", 3)] {
            for _ in 0..n {
                s.push_str(w);
                s.push(' ');
            }
        }
        s
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn classic_toy_corpus_merges() {
        let corpus = toy();
        // 3 specials + 10 characters (d e i l n o r s t w) + 5 merges.
        let bpe = Bpe::train([corpus.as_str()], 18, false).unwrap();
        // Counts: e-s, s-t, t-</w> all 9 (newest 6 + widest 3): ties break in string order.
        // Then est-</w> 9, then l-o 7 and lo-w 7 (low 5 + lower 2).
        assert_eq!(
            bpe.merges(),
            [
                pair("e", "s"),
                pair("es", "t"),
                pair("est", "</w>"),
                pair("l", "o"),
                pair("lo", "w"),
            ]
        );
        assert_eq!(bpe.len(), 18);
        assert_eq!(bpe.segment("lowest"), ["low", "est</w>"]);
        assert_eq!(bpe.segment("newer"), ["n", "e", "w", "e", "r", "</w>"]);
    }

    #[test]
    fn round_trip_determinism_and_unknowns() {
        let corpus = toy();
        let a = Bpe::train([corpus.as_str()], 30, false).unwrap();
        let b = Bpe::train([corpus.as_str()], 30, false).unwrap();
        assert_eq!(a, b);
        for text in ["lower newest", "widest low", "slow lowest newer"] {
            assert_eq!(a.decode(&a.encode(text)), text);
        }
        // 'x' was never seen: <unk>; decoding shows it.
        let ids = a.encode("lox");
        assert!(ids.contains(&UNK_ID));
        assert_eq!(a.decode(&ids), "lo<unk>");
        assert!(Bpe::train([corpus.as_str()], 5, false).is_err());
    }

    #[test]
    fn save_load_round_trip() {
        let corpus = toy();
        let bpe = Bpe::train([corpus.as_str(), "Ünïcode 你好"], 40, true).unwrap();
        let path = std::env::temp_dir().join(format!("dz-bpe-{}.json", std::process::id()));
        bpe.save(&path).unwrap();
        let back = Bpe::load(&path).unwrap();
        assert_eq!(back, bpe);
        assert_eq!(
            back.encode("Lowest ünïcode 你好"),
            bpe.encode("lowest ünïcode 你好")
        );
        assert_eq!(back.decode(&back.encode("Lowest 你好")), "lowest 你 好");
        std::fs::write(&path, "[1, 2]").unwrap();
        assert!(
            Bpe::load(&path)
                .unwrap_err()
                .to_string()
                .contains("not a valid BPE model")
        );
        std::fs::remove_file(&path).ok();
    }
}
