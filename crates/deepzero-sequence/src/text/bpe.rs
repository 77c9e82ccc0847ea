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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
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
        let words: Vec<(Vec<String>, usize)> = freqs
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
        if vocab.len() < vocab_size {
            merges = PairCounts::new(&words).learn_merges(|merged| {
                // A merge can rebuild a symbol that exists already: then the vocabulary does
                // not grow and training goes on.
                if !vocab.iter().any(|v| v == merged) {
                    vocab.push(merged.to_string());
                }
                vocab.len() < vocab_size
            });
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
        Self::check_loaded(path, super::read_json(path, "BPE model")?)
    }

    /// [`Bpe::load`] on the JSON text of a model already in memory; `path` names its source in
    /// errors.
    ///
    /// # Errors
    /// [`TextError::Format`] as [`Bpe::load`].
    pub fn from_json(path: &Path, text: &str) -> Result<Self, TextError> {
        Self::check_loaded(path, super::parse_json(path, text, "BPE model")?)
    }

    fn check_loaded(path: &Path, raw: Bpe) -> Result<Self, TextError> {
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

/// The state of BPE training: every distinct word as a list of interned symbol ids, and the
/// count of every adjacent pair of symbols over all word occurrences.
///
/// Rescanning the whole corpus for every merge costs O(merges × corpus) (minutes for Multi30k's
/// 8 000 merges); here a merge only revisits the words that contain the merged pair, and the
/// most frequent pair comes from a max-heap whose stale entries are skipped when popped. The
/// merges are exactly those of the rescanning algorithm (tested against it below).
struct PairCounts {
    /// Symbol id → symbol.
    symbols: Vec<String>,
    /// Symbol → id.
    ids: HashMap<String, u32>,
    /// Each distinct word's symbol ids, and how often the word occurs.
    words: Vec<(Vec<u32>, usize)>,
    /// Occurrences of each adjacent pair.
    counts: HashMap<(u32, u32), usize>,
    /// The words in which each pair has occurred (a superset: entries may be stale).
    seen_in: HashMap<(u32, u32), Vec<usize>>,
    /// Candidates: (count, the pair's strings reversed for "smallest wins ties", the pair).
    heap: BinaryHeap<Candidate>,
}

/// A heap entry: a pair's count when pushed, its strings (reversed, so that the smallest pair
/// wins ties in a max-heap) and its ids.
type Candidate = (usize, Reverse<(String, String)>, (u32, u32));

impl PairCounts {
    fn new(words: &[(Vec<String>, usize)]) -> Self {
        let mut state = Self {
            symbols: Vec::new(),
            ids: HashMap::new(),
            words: Vec::with_capacity(words.len()),
            counts: HashMap::new(),
            seen_in: HashMap::new(),
            heap: BinaryHeap::new(),
        };
        for (w, (symbols, count)) in words.iter().enumerate() {
            let ids: Vec<u32> = symbols.iter().map(|s| state.intern(s)).collect();
            for p in ids.windows(2) {
                *state.counts.entry((p[0], p[1])).or_insert(0) += count;
                state.seen_in.entry((p[0], p[1])).or_default().push(w);
            }
            state.words.push((ids, *count));
        }
        let pairs: Vec<(u32, u32)> = state.counts.keys().copied().collect();
        for pair in pairs {
            state.push_candidate(pair);
        }
        state
    }

    fn intern(&mut self, symbol: &str) -> u32 {
        if let Some(&id) = self.ids.get(symbol) {
            return id;
        }
        let id = self.symbols.len() as u32;
        self.symbols.push(symbol.to_string());
        self.ids.insert(symbol.to_string(), id);
        id
    }

    fn push_candidate(&mut self, pair: (u32, u32)) {
        let count = self.counts.get(&pair).copied().unwrap_or(0);
        if count > 0 {
            let names = (
                self.symbols[pair.0 as usize].clone(),
                self.symbols[pair.1 as usize].clone(),
            );
            self.heap.push((count, Reverse(names), pair));
        }
    }

    /// The most frequent pair (ties: the smallest pair of strings), or `None` when no word
    /// has two symbols left.
    fn best(&mut self) -> Option<(u32, u32)> {
        while let Some((count, _, pair)) = self.heap.pop() {
            if self.counts.get(&pair) == Some(&count) {
                return Some(pair);
            }
        }
        None
    }

    /// Learns merges until `on_merge(merged_symbol)`, called after each one, says stop or no
    /// pair is left.
    fn learn_merges(mut self, mut on_merge: impl FnMut(&str) -> bool) -> Vec<(String, String)> {
        let mut merges = Vec::new();
        while let Some((a, b)) = self.best() {
            let (sa, sb) = (
                self.symbols[a as usize].clone(),
                self.symbols[b as usize].clone(),
            );
            let merged = self.intern(&format!("{sa}{sb}"));
            let mut touched = HashSet::new();
            let mut visited = HashSet::new();
            for w in self.seen_in.remove(&(a, b)).unwrap_or_default() {
                if !visited.insert(w) {
                    continue;
                }
                let (symbols, count) = &mut self.words[w];
                if !symbols.windows(2).any(|p| p[0] == a && p[1] == b) {
                    continue;
                }
                let count = *count;
                for p in symbols.windows(2) {
                    let c = self.counts.get_mut(&(p[0], p[1])).expect("counted pair");
                    *c -= count;
                    touched.insert((p[0], p[1]));
                }
                merge_ids(symbols, a, b, merged);
                for p in symbols.windows(2) {
                    *self.counts.entry((p[0], p[1])).or_insert(0) += count;
                    self.seen_in.entry((p[0], p[1])).or_default().push(w);
                    touched.insert((p[0], p[1]));
                }
            }
            for pair in touched {
                self.push_candidate(pair);
            }
            merges.push((sa, sb));
            if !on_merge(&self.symbols[merged as usize]) {
                break;
            }
        }
        merges
    }
}

/// Replaces every adjacent `a b` in `symbols` (left to right) by `ab`.
fn merge_ids(symbols: &mut Vec<u32>, a: u32, b: u32, ab: u32) {
    let mut out = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        if i + 1 < symbols.len() && symbols[i] == a && symbols[i + 1] == b {
            out.push(ab);
            i += 2;
        } else {
            out.push(symbols[i]);
            i += 1;
        }
    }
    *symbols = out;
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

    /// The textbook algorithm: recount every pair over the whole corpus for each merge.
    fn reference_merges(text: &str, vocab_size: usize) -> Vec<(String, String)> {
        let mut freqs: BTreeMap<String, usize> = BTreeMap::new();
        for w in split_words(text) {
            *freqs.entry(w.to_string()).or_insert(0) += 1;
        }
        let mut words: Vec<(Vec<String>, usize)> = freqs
            .into_iter()
            .map(|(w, c)| (symbols_of(&w), c))
            .collect();
        let mut vocab: Vec<String> = words
            .iter()
            .flat_map(|(s, _)| s.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        vocab.extend([PAD.to_string(), UNK.to_string()]);
        let mut merges = Vec::new();
        while vocab.len() < vocab_size {
            let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
            for (symbols, count) in &words {
                for p in symbols.windows(2) {
                    *pairs.entry((p[0].as_str(), p[1].as_str())).or_insert(0) += count;
                }
            }
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
            if !vocab.contains(&format!("{a}{b}")) {
                vocab.push(format!("{a}{b}"));
            }
            merges.push((a, b));
        }
        merges
    }

    /// The incremental trainer learns exactly the merges of the textbook algorithm, on a
    /// pseudo-random corpus full of ties and runs of one letter (`aaaa`: overlapping pairs).
    #[test]
    fn incremental_training_equals_the_rescanning_algorithm() {
        let mut state = 12_345u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let mut text = String::new();
        for _ in 0..600 {
            let len = 1 + next(7);
            for _ in 0..len {
                text.push(['a', 'a', 'b', 'c', 'd', 'e'][next(6) as usize]);
            }
            text.push(' ');
        }
        text.push_str("aaaa aaaaa abab ababab baaab ");
        for size in [10, 40, 120, 400] {
            let bpe = Bpe::train([text.as_str()], size, false).unwrap();
            assert_eq!(bpe.merges(), reference_merges(&text, size), "size {size}");
        }
        // Running out of pairs stops training early, as the textbook algorithm does.
        let bpe = Bpe::train(["ab ab"], 100, false).unwrap();
        assert_eq!(bpe.merges(), reference_merges("ab ab", 100));
        assert_eq!(bpe.merges().len(), 2);
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
