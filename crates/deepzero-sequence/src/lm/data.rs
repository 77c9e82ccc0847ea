//! Character-level language-model data, as nanoGPT's `data/shakespeare_char/prepare.py` does
//! it: the vocabulary is the sorted set of characters of the corpus, the text is encoded
//! once, the first 90 % is the training split and the last 10 % the validation split
//! (contiguous, so no passage is in both), and a batch is `B` windows of `block + 1`
//! characters: inputs are the first `block`, targets the same shifted by one.
//!
//! - Training draws windows at random starting offsets ([`RandomWindows`]). The offset of
//!   window `i` in epoch `e` is a hash of `(seed, e, i)`, so a resumed run sees exactly the
//!   windows the uninterrupted run would have, and an "epoch" is simply a fixed number of
//!   steps (`len() = steps × batch`).
//! - Validation covers the validation split once with consecutive, non-overlapping windows
//!   ([`ContiguousWindows`]), so the validation loss is a fixed number, the mean over every
//!   predicted character (each window starts without context, as nanoGPT's random windows do).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::*;
use deepzero_train::{BatchSource, TrainError};
use serde::{Deserialize, Serialize};

use crate::text::TextError;

/// Characters ↔ ids: the sorted distinct characters of a corpus (every character counts,
/// whitespace and newlines included; no padding or unknown token).
///
/// Not [`crate::text::Vocab`]: that one drops whitespace at character level and reserves
/// `<pad>`/`<unk>`, which suits classifiers; a language model must predict spaces and newlines,
/// and every id should be a character it can emit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharVocab {
    chars: Vec<char>,
}

impl CharVocab {
    /// The sorted set of the characters of `text`.
    pub fn build(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self { chars }
    }

    /// Number of characters `V` (the embedding table's rows and the head's width).
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True for the vocabulary of an empty text.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The id of `c`.
    pub fn id(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// The character of `id`.
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// The ids of `text`.
    ///
    /// # Errors
    /// [`TextError::InvalidArgument`] naming the first character that is not in the
    /// vocabulary and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, TextError> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.id(c).ok_or_else(|| {
                    TextError::InvalidArgument(format!(
                        "character {c:?} (U+{:04X}) at position {} is not in the model's vocabulary of {} characters",
                        c as u32,
                        i + 1,
                        self.len()
                    ))
                })
            })
            .collect()
    }

    /// The text of `ids` (ids outside the vocabulary become U+FFFD).
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&i| self.char(i).unwrap_or('\u{FFFD}'))
            .collect()
    }

    /// A fingerprint of the character list: store it with a checkpoint and compare with
    /// [`CharVocab::check_matches`].
    pub fn fingerprint(&self) -> u64 {
        let strings: Vec<String> = self.chars.iter().map(char::to_string).collect();
        crate::text::fingerprint(
            std::iter::once("char-lm").chain(strings.iter().map(String::as_str)),
        )
    }

    /// Checks that this is the vocabulary a checkpoint was trained with.
    ///
    /// # Errors
    /// [`TextError::Mismatch`] naming both sizes and fingerprints.
    pub fn check_matches(
        &self,
        expected_len: usize,
        expected_fingerprint: u64,
    ) -> Result<(), TextError> {
        crate::text::check_recorded(
            "characters",
            (self.len(), self.fingerprint()),
            (expected_len, expected_fingerprint),
        )
    }

    /// Writes `{"chars": [..]}`.
    ///
    /// # Errors
    /// [`TextError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), TextError> {
        crate::text::write_json(path, self)
    }

    /// Reads a vocabulary written by [`CharVocab::save`].
    ///
    /// # Errors
    /// [`TextError::Io`], or [`TextError::Format`] for a file that is not a character
    /// vocabulary, is empty, or is not sorted and distinct.
    pub fn load(path: &Path) -> Result<Self, TextError> {
        let vocab: CharVocab = crate::text::read_json(path, "character vocabulary")?;
        if vocab.chars.is_empty() || vocab.chars.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TextError::Format {
                path: path.to_path_buf(),
                what: "character vocabulary",
                message: "the characters must be non-empty, sorted and distinct".into(),
            });
        }
        Ok(vocab)
    }
}

/// A corpus encoded once and split into contiguous training and validation parts.
#[derive(Clone, Debug)]
pub struct CharCorpus {
    /// The vocabulary (of the whole text, as nanoGPT's `prepare.py`).
    pub vocab: CharVocab,
    /// Ids of the first `1 − valid_fraction` of the text.
    pub train: Arc<Vec<u32>>,
    /// Ids of the rest.
    pub valid: Arc<Vec<u32>>,
}

impl CharCorpus {
    /// Encodes `text` and splits it at `⌊(1 − valid_fraction) · N⌋` characters (nanoGPT:
    /// `valid_fraction = 0.1`).
    ///
    /// # Errors
    /// [`TextError::InvalidArgument`] for an empty text or a fraction outside `[0, 1)`.
    pub fn new(text: &str, valid_fraction: f64) -> Result<Self, TextError> {
        if !(0.0..1.0).contains(&valid_fraction) {
            return Err(TextError::InvalidArgument(format!(
                "the validation fraction must be in [0, 1), not {valid_fraction}"
            )));
        }
        if text.is_empty() {
            return Err(TextError::InvalidArgument("the corpus is empty".into()));
        }
        let vocab = CharVocab::build(text);
        let ids: Vec<u32> = text
            .chars()
            .map(|c| vocab.id(c).expect("built from this text") as u32)
            .collect();
        let cut = ((1.0 - valid_fraction) * ids.len() as f64).floor() as usize;
        Ok(Self {
            vocab,
            train: Arc::new(ids[..cut].to_vec()),
            valid: Arc::new(ids[cut..].to_vec()),
        })
    }
}

/// A batch of windows: `targets[b, t] = inputs[b, t + 1]` in the corpus.
#[derive(Clone, Debug)]
pub struct LmBatch {
    /// `[B, T]` token ids.
    pub inputs: Tensor<2, Int>,
    /// `[B, T]` the next token of each position.
    pub targets: Tensor<2, Int>,
}

impl LmBatch {
    /// The batch of the windows `ids[s .. s + len + 1]` for every start `s`.
    ///
    /// # Panics
    /// If a window runs past the end of `ids`.
    pub fn from_windows(ids: &[u32], starts: &[usize], len: usize, device: &Device) -> Self {
        let mut inputs = Vec::with_capacity(starts.len() * len);
        let mut targets = Vec::with_capacity(starts.len() * len);
        for &s in starts {
            inputs.extend(ids[s..s + len].iter().map(|&i| i as i64));
            targets.extend(ids[s + 1..s + len + 1].iter().map(|&i| i as i64));
        }
        let shape = [starts.len(), len];
        Self {
            inputs: Tensor::from_data(TensorData::new(inputs, shape), device),
            targets: Tensor::from_data(TensorData::new(targets, shape), device),
        }
    }
}

/// SplitMix64: a well-mixed 64-bit hash of a 64-bit input.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Training batches of random windows of `block + 1` characters (see the module docs).
pub struct RandomWindows {
    ids: Arc<Vec<u32>>,
    block: usize,
    examples: usize,
    seed: u64,
    epoch: AtomicUsize,
}

impl RandomWindows {
    /// `steps × batch` windows per epoch from `ids`.
    ///
    /// # Errors
    /// [`TextError::InvalidArgument`] if `ids` has fewer than `block + 1` tokens or a size
    /// is zero.
    pub fn new(
        ids: Arc<Vec<u32>>,
        block: usize,
        steps: usize,
        batch: usize,
        seed: u64,
    ) -> Result<Self, TextError> {
        if block == 0 || steps == 0 || batch == 0 {
            return Err(TextError::InvalidArgument(
                "block size, steps and batch size must be at least 1".into(),
            ));
        }
        if ids.len() < block + 1 {
            return Err(TextError::InvalidArgument(format!(
                "the training text has {} characters, fewer than one window of block size {} + 1",
                ids.len(),
                block
            )));
        }
        Ok(Self {
            ids,
            block,
            examples: steps * batch,
            seed,
            epoch: AtomicUsize::new(1),
        })
    }

    /// The start of window `index` in `epoch`: uniform over `0 ..= N − block − 1`.
    pub fn start(&self, epoch: usize, index: usize) -> usize {
        let starts = (self.ids.len() - self.block) as u64;
        let h = splitmix64(self.seed ^ splitmix64((epoch as u64) << 32 ^ index as u64));
        (h % starts) as usize
    }
}

impl BatchSource<LmBatch> for RandomWindows {
    fn len(&self) -> usize {
        self.examples
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<LmBatch, TrainError> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let starts: Vec<usize> = indices.iter().map(|&i| self.start(epoch, i)).collect();
        Ok(LmBatch::from_windows(
            &self.ids, &starts, self.block, device,
        ))
    }

    fn start_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }
}

/// Consecutive non-overlapping windows covering a text once (the validation batches).
pub struct ContiguousWindows {
    ids: Arc<Vec<u32>>,
    block: usize,
}

impl ContiguousWindows {
    /// Windows of `block` predicted tokens; a text shorter than `block + 1` gives one
    /// shorter window, and the last `< block` tokens that do not fill a window are left out.
    ///
    /// # Errors
    /// [`TextError::InvalidArgument`] if `ids` has fewer than 2 tokens or `block` is 0.
    pub fn new(ids: Arc<Vec<u32>>, block: usize) -> Result<Self, TextError> {
        if ids.len() < 2 || block == 0 {
            return Err(TextError::InvalidArgument(format!(
                "the validation text has {} characters; it needs at least 2",
                ids.len()
            )));
        }
        let block = block.min(ids.len() - 1);
        Ok(Self { ids, block })
    }

    /// Tokens predicted by all windows together (`len() × window`).
    pub fn predicted_tokens(&self) -> usize {
        self.len() * self.block
    }
}

impl BatchSource<LmBatch> for ContiguousWindows {
    fn len(&self) -> usize {
        (self.ids.len() - 1) / self.block
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<LmBatch, TrainError> {
        let starts: Vec<usize> = indices.iter().map(|&i| i * self.block).collect();
        Ok(LmBatch::from_windows(
            &self.ids, &starts, self.block, device,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    #[test]
    fn vocabulary_is_the_sorted_character_set() {
        let v = CharVocab::build("hello, world\n");
        assert_eq!(v.len(), 10); // \n, space, ',', d e h l o r w
        let ids = v.encode("hello").unwrap();
        assert_eq!(v.decode(&ids), "hello");
        assert_eq!(v.id('\n'), Some(0));
        assert_eq!(v.id(' '), Some(1));
        let err = v.encode("help").unwrap_err().to_string();
        assert!(err.contains("'p'") && err.contains("position 4"), "{err}");
    }

    #[test]
    fn save_load_and_mismatch() {
        let dir = std::env::temp_dir().join(format!("dz-charvocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vocab.json");
        let v = CharVocab::build("To be, or not to be:\n that is the question.");
        v.save(&path).unwrap();
        let back = CharVocab::load(&path).unwrap();
        assert_eq!(back, v);
        back.check_matches(v.len(), v.fingerprint()).unwrap();
        let other = CharVocab::build("abc");
        let err = other
            .check_matches(v.len(), v.fingerprint())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vocabulary mismatch") && err.contains("3 characters"),
            "{err}"
        );
        std::fs::write(&path, "{\"chars\": [\"b\", \"a\"]}").unwrap();
        assert!(CharVocab::load(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn contiguous_ninety_ten_split() {
        let text: String = (0..100).map(|i| (b'a' + (i % 7) as u8) as char).collect();
        let c = CharCorpus::new(&text, 0.1).unwrap();
        assert_eq!((c.train.len(), c.valid.len()), (90, 10));
        let all: Vec<usize> = c
            .train
            .iter()
            .chain(c.valid.iter())
            .map(|&i| i as usize)
            .collect();
        assert_eq!(c.vocab.decode(&all), text);
        assert!(CharCorpus::new("", 0.1).is_err());
        assert!(CharCorpus::new("abc", 1.0).is_err());
    }

    #[test]
    fn windows_shift_targets_by_one_and_are_seeded() {
        let ids: Arc<Vec<u32>> = Arc::new((0..50).collect());
        let w = RandomWindows::new(ids.clone(), 8, 3, 4, 9).unwrap();
        assert_eq!(w.len(), 12);
        let b = w.batch(&[0, 5], &device()).unwrap();
        assert_eq!(b.inputs.dims(), [2, 8]);
        let x: Vec<i64> = b.inputs.try_into_vec_as::<i64>().unwrap();
        let y: Vec<i64> = b.targets.try_into_vec_as::<i64>().unwrap();
        for (a, t) in x.iter().zip(&y) {
            assert_eq!(a + 1, *t); // ids are 0, 1, 2, …: the target is the next one
        }
        // Deterministic in (seed, epoch, index); different across epochs; always in range.
        let w2 = RandomWindows::new(ids.clone(), 8, 3, 4, 9).unwrap();
        assert_eq!(w.start(1, 5), w2.start(1, 5));
        let starts: Vec<usize> = (0..200).map(|i| w.start(2, i)).collect();
        assert!(starts.iter().all(|&s| s + 8 < 50));
        assert!(starts.contains(&0) && starts.contains(&41));
        assert_ne!(
            (0..12).map(|i| w.start(1, i)).collect::<Vec<_>>(),
            (0..12).map(|i| w.start(2, i)).collect::<Vec<_>>()
        );
        assert!(RandomWindows::new(Arc::new(vec![1; 8]), 8, 1, 1, 0).is_err());
    }

    #[test]
    fn contiguous_windows_cover_the_text_once() {
        let ids: Arc<Vec<u32>> = Arc::new((0..23).collect());
        let w = ContiguousWindows::new(ids, 5).unwrap();
        assert_eq!(w.len(), 4); // 22 predictions → 4 full windows of 5
        assert_eq!(w.predicted_tokens(), 20);
        let b = w.batch(&[0, 1, 2, 3], &device()).unwrap();
        let x: Vec<i64> = b.inputs.try_into_vec_as::<i64>().unwrap();
        assert_eq!(x, (0..20).collect::<Vec<i64>>());
        // Shorter than a block: one shorter window.
        let short = ContiguousWindows::new(Arc::new(vec![3, 1, 2]), 5).unwrap();
        assert_eq!((short.len(), short.predicted_tokens()), (1, 2));
    }
}
