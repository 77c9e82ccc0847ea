//! Parallel text for translation: reading Multi30k, a reversible subword tokenisation, and
//! length-bucketed batches with a label-smoothed loss.
//!
//! **Reading.** [`read_parallel`] reads `SPLIT.LANG` files (gzip when the name ends in `.gz`)
//! from `DIR/raw/` or `DIR/`, as Multi30k ships them (`raw/{train,val,test_2016_flickr}.{de,en}.gz`),
//! one sentence per line, and checks that the two sides have the same number of lines (the
//! error names both files). A line that is not UTF-8 is an error naming the file and line.
//!
//! **Tokenisation** ([`SubwordCodec`]). Each language has its own BPE model ([`Bpe`],
//! Sennrich et al. 2016), trained on the training side, case kept. A sentence is cut at
//! whitespace into chunks, each chunk into words and punctuation ([`split_words`]), each of
//! those into subwords (the last one carrying `</w>`). A piece written *without* a space before
//! it (the `.` of `bike.`, the `-` and `shirt` of `T-shirt`) is preceded by the token
//! `<join>`, so decoding gives back the exact text (`decode(encode(s)) == s` up to runs of
//! whitespace): the hypotheses are detokenised, real text, scored against the raw references
//! as sacreBLEU expects. Ids: `<pad>` 0, `<unk>` 1, `<bos>` 2, `<eos>` 3, `<join>` 4, then
//! the BPE symbols.
//!
//! **Batches** ([`TranslationBatches`]). Sentences of similar length are batched together, so
//! little of a batch is padding: every epoch the pairs are shuffled (seeded by the seed and the
//! epoch), sorted by length inside pools of 50 batches, cut into batches of `batch_size`
//! sentences, and the batches are shuffled. One *example* of this source is one whole batch
//! (train it with `FitConfig::batch_size = 1`).
//!
//! **Loss.** Label-smoothed cross-entropy (Szegedy et al. 2016; ε = 0.1 in Vaswani et al.
//! 2017): `(1 − ε)·(−log p_y) + ε·mean_v(−log p_v)` per real target token, averaged over the
//! tokens of the batch. A batch carries its own ε, so the validation source reports the plain
//! negative log-likelihood per token (ε = 0).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use deepzero_train::{BatchSource, ClassificationStep, Supervised, TrainError};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::Transformer;
use crate::error::SequenceError;
use crate::text::bpe::END_OF_WORD;
use crate::text::{Bpe, PAD, UNK, split_words};

/// Padding and unknown-symbol ids: the same in every vocabulary of the crate.
pub use crate::text::{PAD_ID, UNK_ID};
/// Beginning-of-sentence id (the decoder's first input).
pub const BOS_ID: usize = 2;
/// End-of-sentence id.
pub const EOS_ID: usize = 3;
/// "No space before the next piece" id.
pub const JOIN_ID: usize = 4;
/// Ids before the first BPE symbol.
const SPECIALS: [&str; 5] = [PAD, UNK, "<bos>", "<eos>", "<join>"];

/// Sentence pairs of one split.
#[derive(Clone, Debug, Default)]
pub struct ParallelCorpus {
    /// Source sentences.
    pub src: Vec<String>,
    /// Target sentences, aligned with `src`.
    pub tgt: Vec<String>,
    /// The two files read.
    pub files: [PathBuf; 2],
}

impl ParallelCorpus {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.src.len()
    }

    /// True without pairs.
    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// The first `n` pairs.
    pub fn truncate(&mut self, n: usize) {
        self.src.truncate(n);
        self.tgt.truncate(n);
    }
}

fn find_file(dir: &Path, split: &str, lang: &str) -> crate::Result<PathBuf> {
    let names = [format!("{split}.{lang}.gz"), format!("{split}.{lang}")];
    for sub in [dir.join("raw"), dir.to_path_buf()] {
        for name in &names {
            let p = sub.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(SequenceError::InvalidArgument(format!(
        "{}: no {split}.{lang}.gz or {split}.{lang} (looked in {} and {})",
        dir.display(),
        dir.join("raw").display(),
        dir.display()
    )))
}

/// Reads one file of sentences (gzip if it ends in `.gz`), one per line, `\r` dropped.
///
/// # Errors
/// [`SequenceError::InvalidArgument`] naming the file (and line) for an unreadable file, a
/// broken gzip stream, or a line that is not UTF-8.
pub fn read_lines(path: &Path) -> crate::Result<Vec<String>> {
    let err = |m: String| SequenceError::InvalidArgument(format!("{}: {m}", path.display()));
    let limits = deepzero_data::ReadLimits::from_env()
        .map_err(|e| SequenceError::InvalidArgument(e.to_string()))?;
    let raw = deepzero_data::read_file_limited(path, limits.max_read)
        .map_err(|e| SequenceError::InvalidArgument(e.to_string()))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let decoder = flate2::read::MultiGzDecoder::new(raw.as_slice());
        deepzero_data::limits::read_decompressed(decoder, path, limits.max_decompressed).map_err(
            |e| match e {
                deepzero_data::DataError::Io { source, .. } => {
                    err(format!("not a valid gzip file: {source}"))
                }
                e => SequenceError::InvalidArgument(e.to_string()),
            },
        )?
    } else {
        raw
    };
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8(line.to_vec())
                .map_err(|_| err(format!("line {}: not valid UTF-8", i + 1)))
        })
        .collect::<crate::Result<Vec<_>>>()
        .map(|mut lines| {
            // A final newline ends the last line; it does not start an empty one.
            if bytes.ends_with(b"\n") || bytes.is_empty() {
                lines.pop();
            }
            lines
        })
}

/// Reads the `split` of a parallel corpus in `dir` (`raw/SPLIT.LANG.gz`, `SPLIT.LANG.gz`,
/// `raw/SPLIT.LANG` or `SPLIT.LANG`).
///
/// # Errors
/// A missing or unreadable file, or sides with different numbers of lines (naming both files).
pub fn read_parallel(
    dir: &Path,
    split: &str,
    src_lang: &str,
    tgt_lang: &str,
) -> crate::Result<ParallelCorpus> {
    let (sp, tp) = (
        find_file(dir, split, src_lang)?,
        find_file(dir, split, tgt_lang)?,
    );
    let (src, tgt) = (read_lines(&sp)?, read_lines(&tp)?);
    if src.len() != tgt.len() {
        return Err(SequenceError::InvalidArgument(format!(
            "{} has {} lines but {} has {}: the sides of a parallel corpus must align line by line",
            sp.display(),
            src.len(),
            tp.display(),
            tgt.len()
        )));
    }
    Ok(ParallelCorpus {
        src,
        tgt,
        files: [sp, tp],
    })
}

/// A reversible subword tokenisation of one language (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct SubwordCodec {
    bpe: Bpe,
}

impl SubwordCodec {
    /// Trains the BPE model on `texts` to `vocab_size` ids in all (specials included).
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if `vocab_size` is too small for the characters.
    pub fn train<'a>(
        texts: impl IntoIterator<Item = &'a str>,
        vocab_size: usize,
    ) -> crate::Result<Self> {
        let extra = SPECIALS.len() - 2;
        let bpe = Bpe::train(texts, vocab_size.saturating_sub(extra), false)
            .map_err(|e| SequenceError::InvalidArgument(e.to_string()))?;
        Ok(Self { bpe })
    }

    /// Wraps a trained BPE model.
    pub fn from_bpe(bpe: Bpe) -> Self {
        Self { bpe }
    }

    /// The BPE model (saved with [`Bpe::save`]).
    pub fn bpe(&self) -> &Bpe {
        &self.bpe
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.bpe.len() + SPECIALS.len() - 2
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// 64-bit fingerprint of the symbols and merges (tells two codecs apart).
    pub fn fingerprint(&self) -> u64 {
        let symbols = (0..self.bpe.len()).filter_map(|i| self.bpe.symbol(i));
        let merges = self
            .bpe
            .merges()
            .iter()
            .flat_map(|(a, b)| [a.as_str(), b.as_str()]);
        crate::text::fingerprint(symbols.chain(merges))
    }

    fn id_of(&self, symbol: &str) -> usize {
        // BPE ids: 0 <pad>, 1 <unk>, 2.. symbols; ours shift the symbols by 3.
        match self.bpe.id(symbol) {
            Some(id) if id >= 2 => id + SPECIALS.len() - 2,
            _ => UNK_ID,
        }
    }

    /// Ids of a sentence (no `<bos>`/`<eos>`).
    pub fn encode(&self, text: &str) -> Vec<usize> {
        let mut ids = Vec::new();
        for chunk in text.split_whitespace() {
            for (i, piece) in split_words(chunk).into_iter().enumerate() {
                if i > 0 {
                    ids.push(JOIN_ID);
                }
                for s in self.bpe.segment_word(piece) {
                    let id = self.id_of(&s);
                    ids.push(id);
                    // An unseen character at the end of a word: keep the word end.
                    if id == UNK_ID && s.ends_with(END_OF_WORD) {
                        ids.push(self.id_of(END_OF_WORD));
                    }
                }
            }
        }
        ids
    }

    /// The symbol of an id.
    pub fn symbol(&self, id: usize) -> &str {
        match id {
            i if i < SPECIALS.len() => SPECIALS[i],
            i => self
                .bpe
                .symbol(i + 2 - SPECIALS.len())
                .unwrap_or(SPECIALS[UNK_ID]),
        }
    }

    /// Text of ids: stops at `<eos>`, skips `<pad>`/`<bos>`, joins pieces with one space
    /// unless `<join>` says otherwise.
    pub fn decode(&self, ids: &[usize]) -> String {
        let mut out = String::new();
        let (mut in_piece, mut join) = (false, false);
        for &id in ids {
            match id {
                EOS_ID => break,
                PAD_ID | BOS_ID => {}
                JOIN_ID => join = true,
                _ => {
                    let s = self.symbol(id);
                    if !in_piece && !out.is_empty() && !join {
                        out.push(' ');
                    }
                    join = false;
                    match s.strip_suffix(END_OF_WORD) {
                        Some(stem) => {
                            out.push_str(stem);
                            in_piece = false;
                        }
                        None => {
                            out.push_str(s);
                            in_piece = true;
                        }
                    }
                }
            }
        }
        out
    }
}

/// A batch of right-padded sentence pairs.
#[derive(Clone, Debug)]
pub struct TranslationBatch {
    /// Source ids `[B, T_s]`.
    pub src: Tensor<2, Int>,
    /// `[B, T_s]`, `true` = padded.
    pub src_padding: Tensor<2, Bool>,
    /// Decoder input `<bos> y₁ … y_{n}` `[B, T_t]` (the target shifted right).
    pub tgt_in: Tensor<2, Int>,
    /// `[B, T_t]`, `true` = padded.
    pub tgt_padding: Tensor<2, Bool>,
    /// Flat indices `b·T_t + t` of the real target positions `[N]`.
    pub real: Tensor<1, Int>,
    /// Gold next tokens `y₁ … y_n <eos>` at those positions `[N]`.
    pub gold: Tensor<1, Int>,
    /// Label smoothing ε of the loss.
    pub label_smoothing: f64,
}

impl TranslationBatch {
    /// Pads `(source ids, target ids)` pairs (targets without `<bos>`/`<eos>`) into a batch.
    pub fn new(pairs: &[(&[usize], &[usize])], label_smoothing: f64, device: &Device) -> Self {
        let b = pairs.len();
        let ts = pairs.iter().map(|p| p.0.len()).max().unwrap_or(1).max(1);
        let tt = pairs.iter().map(|p| p.1.len() + 1).max().unwrap_or(1);
        let mut src = vec![PAD_ID as i64; b * ts];
        let mut src_pad = vec![true; b * ts];
        let mut tgt = vec![PAD_ID as i64; b * tt];
        let mut tgt_pad = vec![true; b * tt];
        let (mut real, mut gold) = (Vec::new(), Vec::new());
        for (i, (s, t)) in pairs.iter().enumerate() {
            for (j, &id) in s.iter().enumerate() {
                src[i * ts + j] = id as i64;
                src_pad[i * ts + j] = false;
            }
            if s.is_empty() {
                // An empty source still needs one visible position (attention over nothing is undefined).
                src[i * ts] = EOS_ID as i64;
                src_pad[i * ts] = false;
            }
            for j in 0..=t.len() {
                tgt[i * tt + j] = if j == 0 { BOS_ID } else { t[j - 1] } as i64;
                tgt_pad[i * tt + j] = false;
                real.push((i * tt + j) as i64);
                gold.push(t.get(j).copied().unwrap_or(EOS_ID) as i64);
            }
        }
        let n = real.len();
        let int2 =
            |v: Vec<i64>, t: usize| Tensor::<2, Int>::from_data(TensorData::new(v, [b, t]), device);
        let bool2 = |v: Vec<bool>, t: usize| {
            Tensor::<2, Bool>::from_data(TensorData::new(v, [b, t]), device)
        };
        Self {
            src: int2(src, ts),
            src_padding: bool2(src_pad, ts),
            tgt_in: int2(tgt, tt),
            tgt_padding: bool2(tgt_pad, tt),
            real: Tensor::from_data(TensorData::new(real, [n]), device),
            gold: Tensor::from_data(TensorData::new(gold, [n]), device),
            label_smoothing,
        }
    }
}

/// Label-smoothed cross-entropy `(1 − ε)·NLL + ε·mean_v(−log p_v)`, averaged over rows.
///
/// # Shapes
/// - logits `[N, V]`, targets `[N]` → `[1]`
pub fn label_smoothed_loss(logits: Tensor<2>, targets: Tensor<1, Int>, epsilon: f64) -> Tensor<1> {
    let log_probs = log_softmax(logits, 1);
    let nll = log_probs
        .clone()
        .gather(1, targets.unsqueeze_dim(1))
        .mean()
        .neg();
    if epsilon == 0.0 {
        return nll;
    }
    let smooth = log_probs.mean().neg(); // mean over rows and vocabulary
    nll * (1.0 - epsilon) + smooth * epsilon
}

impl Supervised for Transformer {
    type Batch = TranslationBatch;

    /// Teacher-forced logits at the real target positions, label-smoothed loss; accuracy is
    /// next-token accuracy.
    fn step(&self, batch: TranslationBatch) -> ClassificationStep {
        let logits = self.forward(
            batch.src,
            batch.tgt_in,
            Some(batch.src_padding),
            Some(batch.tgt_padding),
        ); // [B, T_t, V]
        let [b, t, v] = logits.dims();
        let logits = logits.reshape([b * t, v]).select(0, batch.real); // [N, V]
        let loss = label_smoothed_loss(logits.clone(), batch.gold.clone(), batch.label_smoothing);
        ClassificationStep {
            loss,
            logits,
            targets: batch.gold,
        }
    }
}

/// Encoded sentence pairs served as length-bucketed batches (see the module docs): one
/// example of this [`BatchSource`] is one batch of about `batch_size` sentences.
pub struct TranslationBatches {
    pairs: Vec<(Vec<usize>, Vec<usize>)>,
    batch_size: usize,
    seed: u64,
    label_smoothing: f64,
    buckets: Mutex<Vec<Vec<usize>>>,
}

impl TranslationBatches {
    /// Pairs of (source ids, target ids without `<bos>`/`<eos>`), `batch_size` sentences per
    /// batch, shuffled by `seed` (`None`: a fixed order sorted by length, for evaluation).
    pub fn new(
        pairs: Vec<(Vec<usize>, Vec<usize>)>,
        batch_size: usize,
        seed: Option<u64>,
        label_smoothing: f64,
    ) -> Self {
        let source = Self {
            pairs,
            batch_size: batch_size.max(1),
            seed: seed.unwrap_or(0),
            label_smoothing,
            buckets: Mutex::new(Vec::new()),
        };
        let buckets = source.make_buckets(seed.map(|_| 0));
        *source.buckets.lock().expect("bucket lock") = buckets;
        source
    }

    /// Number of sentence pairs.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Number of real target tokens (`<eos>` included), i.e. loss terms per epoch.
    pub fn target_tokens(&self) -> usize {
        self.pairs.iter().map(|p| p.1.len() + 1).sum()
    }

    fn make_buckets(&self, epoch: Option<usize>) -> Vec<Vec<usize>> {
        let key = |i: &usize| (self.pairs[*i].1.len(), self.pairs[*i].0.len());
        let mut order: Vec<usize> = (0..self.pairs.len()).collect();
        let Some(epoch) = epoch else {
            order.sort_by_key(key);
            return order
                .chunks(self.batch_size)
                .map(<[usize]>::to_vec)
                .collect();
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ epoch as u64,
        );
        order.shuffle(&mut rng);
        for pool in order.chunks_mut(self.batch_size * 50) {
            pool.sort_by_key(key);
        }
        let mut buckets: Vec<Vec<usize>> = order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        buckets.shuffle(&mut rng);
        buckets
    }
}

impl BatchSource<TranslationBatch> for TranslationBatches {
    fn len(&self) -> usize {
        self.pairs.len().div_ceil(self.batch_size)
    }

    fn start_epoch(&self, epoch: usize) {
        let buckets = self.make_buckets(Some(epoch));
        *self.buckets.lock().expect("bucket lock") = buckets;
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<TranslationBatch, TrainError> {
        let buckets = self.buckets.lock().expect("bucket lock");
        let pairs: Vec<(&[usize], &[usize])> = indices
            .iter()
            .flat_map(|&i| buckets[i].iter())
            .map(|&j| (self.pairs[j].0.as_slice(), self.pairs[j].1.as_slice()))
            .collect();
        Ok(TranslationBatch::new(&pairs, self.label_smoothing, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    fn codec() -> SubwordCodec {
        let texts = [
            "A man in a blue T-shirt rides a bike.",
            "Two dogs run on the grass, don't they?",
            "A girl's bike is blue.",
        ];
        SubwordCodec::train(texts.iter().copied(), 80).unwrap()
    }

    #[test]
    fn encoding_round_trips_exactly() {
        let c = codec();
        for s in [
            "A man in a blue T-shirt rides a bike.",
            "Two dogs run on the grass, don't they?",
            "A girl's  bike-dogs ran,they?",
            "",
        ] {
            let ids = c.encode(s);
            assert!(ids.iter().all(|&i| i < c.len()));
            let want = s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(c.decode(&ids), want, "{ids:?}");
        }
        // Unseen characters become <unk>, word boundaries survive.
        assert!(c.encode("Zürich").contains(&UNK_ID));
        assert_eq!(c.decode(&c.encode("a ü bike")), "a <unk> bike");
        assert_eq!(c.decode(&c.encode("a büke")), "a b<unk>ke");
        // <eos> ends decoding.
        let mut ids = c.encode("a bike");
        ids.push(EOS_ID);
        ids.extend(c.encode("blue"));
        assert_eq!(c.decode(&ids), "a bike");
    }

    #[test]
    fn batch_shifts_the_target_and_lists_real_positions() {
        let dev = device();
        let b = TranslationBatch::new(&[(&[5, 6, 7], &[8]), (&[9], &[10, 11])], 0.1, &dev);
        assert_eq!(b.src.dims(), [2, 3]);
        assert_eq!(b.tgt_in.dims(), [2, 3]);
        b.tgt_in
            .to_data()
            .assert_eq(&TensorData::from([[2, 8, 0], [2, 10, 11]]), false);
        b.real
            .to_data()
            .assert_eq(&TensorData::from([0, 1, 3, 4, 5]), false);
        b.gold
            .to_data()
            .assert_eq(&TensorData::from([8, 3, 10, 11, 3]), false);
    }

    #[test]
    fn label_smoothing_matches_its_definition() {
        let dev = device();
        let logits = Tensor::<2>::from_data([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], &dev);
        let targets = Tensor::<1, Int>::from_data([1, 2], &dev);
        let got = label_smoothed_loss(logits.clone(), targets.clone(), 0.1).into_scalar::<f64>();
        let lp: Vec<Vec<f64>> = [[1.0f64, 2.0, 0.5], [0.0, -1.0, 3.0]]
            .iter()
            .map(|r| {
                let z = r.iter().map(|x| x.exp()).sum::<f64>().ln();
                r.iter().map(|x| x - z).collect()
            })
            .collect();
        let want = [(0, 1), (1, 2)]
            .iter()
            .map(|&(r, y)| 0.9 * -lp[r][y] + 0.1 * -lp[r].iter().sum::<f64>() / 3.0)
            .sum::<f64>()
            / 2.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let plain = label_smoothed_loss(logits, targets, 0.0).into_scalar::<f64>();
        assert!((plain - (-lp[0][1] - lp[1][2]) / 2.0).abs() < 1e-5);
    }

    #[test]
    fn buckets_cover_every_pair_once_and_group_lengths() {
        let pairs: Vec<(Vec<usize>, Vec<usize>)> = (0..103)
            .map(|i| (vec![5; 1 + i % 17], vec![6; 1 + (i * 7) % 23]))
            .collect();
        let source = TranslationBatches::new(pairs, 8, Some(3), 0.1);
        assert_eq!(source.len(), 13);
        source.start_epoch(2);
        let mut seen: Vec<usize> = source
            .buckets
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        let first = source.buckets.lock().unwrap().clone();
        source.start_epoch(3);
        assert_ne!(first, *source.buckets.lock().unwrap());
    }

    #[test]
    fn parallel_files_must_align() {
        let dir = std::env::temp_dir().join(format!("dz-par-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("val.de"), "Ein Hund.\nZwei Katzen.\n").unwrap();
        std::fs::write(dir.join("val.en"), "A dog.\n").unwrap();
        let err = read_parallel(&dir, "val", "de", "en")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("val.de has 2 lines") && err.contains("val.en has 1"),
            "{err}"
        );
        std::fs::write(dir.join("val.en"), "A dog.\r\nTwo cats.").unwrap();
        let c = read_parallel(&dir, "val", "de", "en").unwrap();
        assert_eq!(c.tgt, ["A dog.", "Two cats."]);
        std::fs::write(dir.join("test.de"), b"ok\n\xff\n").unwrap();
        std::fs::write(dir.join("test.en"), "a\nb\n").unwrap();
        let err = read_parallel(&dir, "test", "de", "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.de: line 2: not valid UTF-8"), "{err}");
        // Gzip files are read the same way.
        use std::io::Write;
        for (lang, text) in [
            ("de", "Ein Hund.\nZwei Katzen.\n"),
            ("en", "A dog.\nTwo cats.\n"),
        ] {
            let file = std::fs::File::create(dir.join(format!("raw/train.{lang}.gz")))
                .unwrap_or_else(|_| {
                    std::fs::create_dir_all(dir.join("raw")).unwrap();
                    std::fs::File::create(dir.join(format!("raw/train.{lang}.gz"))).unwrap()
                });
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap();
        }
        let c = read_parallel(&dir, "train", "de", "en").unwrap();
        assert_eq!((c.src.len(), c.tgt[1].as_str()), (2, "Two cats."));
        assert!(c.files[0].ends_with("raw/train.de.gz"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
