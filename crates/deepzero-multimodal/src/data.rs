//! From files to batches: the MNIST and Fashion-MNIST splits the scenes are cut from, caption
//! tokenisation, and [`ScenePairs`], the image–caption batch source of the joint embedding.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::*;
use deepzero_data::{IdxCorpus, InMemoryImages, Split};
use deepzero_sequence::tasks::text_classifier::TextBatcher;
use deepzero_sequence::text::{UNK_ID, Vocab, VocabConfig};
use deepzero_train::{BatchSource, TrainError};

use crate::MultimodalError;
use crate::captions::CaptionedScenes;
use crate::models::PairBatch;

/// MNIST and Fashion-MNIST, one split each: the sources of the scenes, in that order.
pub struct SceneSources {
    /// `[mnist, fashion]`.
    pub images: [InMemoryImages; 2],
    /// Where they came from, for reports.
    pub label: String,
}

impl SceneSources {
    /// The `split` of both corpora: `data_dir/{mnist,fashion-mnist}`, or without a folder the
    /// shipped samples `datasets/{mnist,fashion-mnist}-sample` (found from the working directory
    /// or from this crate's source tree).
    ///
    /// # Errors
    /// A folder or file is missing or unreadable.
    pub fn load(data_dir: Option<&Path>, split: Split) -> Result<Self, MultimodalError> {
        let folder = |corpus: IdxCorpus| -> Result<PathBuf, MultimodalError> {
            match data_dir {
                Some(dir) => {
                    let nested = dir.join(corpus.name());
                    if nested.is_dir() {
                        Ok(nested)
                    } else {
                        Err(MultimodalError::Invalid(format!(
                            "{} has no {}/ folder (the scenes need both mnist/ and fashion-mnist/)",
                            dir.display(),
                            corpus.name()
                        )))
                    }
                }
                None => {
                    let name = format!("{}-sample", corpus.name());
                    [
                        PathBuf::from("datasets").join(&name),
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets").join(&name),
                    ]
                    .into_iter()
                    .find(|p| p.is_dir())
                    .ok_or_else(|| {
                        MultimodalError::Invalid(format!(
                            "no data folder given and the shipped sample datasets/{name} was not found (run from the repository root, or give the data folder)"
                        ))
                    })
                }
            }
        };
        let (mnist_dir, fashion_dir) =
            (folder(IdxCorpus::Mnist)?, folder(IdxCorpus::FashionMnist)?);
        let mnist = IdxCorpus::Mnist.load(&mnist_dir, split)?;
        let fashion = IdxCorpus::FashionMnist.load(&fashion_dir, split)?;
        let label = match data_dir {
            Some(dir) => dir.display().to_string(),
            None => "shipped samples datasets/{mnist,fashion-mnist}-sample".into(),
        };
        Ok(Self {
            images: [mnist, fashion],
            label,
        })
    }

    /// `[&mnist, &fashion]`, as [`CaptionedScenes::generate`] takes them.
    pub fn refs(&self) -> [&InMemoryImages; 2] {
        [&self.images[0], &self.images[1]]
    }
}

/// The word vocabulary of captions (lower-cased, every word of the training captions kept).
pub fn caption_vocab<'a>(captions: impl IntoIterator<Item = &'a str>) -> Vocab {
    Vocab::build(captions, VocabConfig::words())
}

/// Token ids of `text` cut to `max_len`, and how many of them are `<unk>`.
pub fn encode_caption(vocab: &Vocab, text: &str, max_len: usize) -> (Vec<usize>, usize) {
    let (ids, _) = vocab.encode_truncated(text, max_len);
    let unknown = ids.iter().filter(|&&i| i == UNK_ID).count();
    (ids, unknown)
}

/// Grey `S×S` pixel rows → normalised `[N, 1, S, S]` (`(p/255 − mean) / std`).
pub fn image_tensor(pixels: &[u8], size: usize, mean: f32, std: f32, device: &Device) -> Tensor<4> {
    let n = pixels.len() / (size * size);
    let values: Vec<f32> = pixels
        .iter()
        .map(|&p| (p as f32 / 255.0 - mean) / std)
        .collect();
    Tensor::from_data(TensorData::new(values, [n, 1, size, size]), device)
}

/// Mean and standard deviation of pixel/255 over grey images.
pub fn pixel_stats(pixels: &[u8]) -> (f32, f32) {
    let n = pixels.len().max(1) as f64;
    let sum: f64 = pixels.iter().map(|&p| p as f64 / 255.0).sum();
    let sq: f64 = pixels.iter().map(|&p| (p as f64 / 255.0).powi(2)).sum();
    let mean = sum / n;
    (mean as f32, (sq / n - mean * mean).max(1e-6).sqrt() as f32)
}

/// Image–caption pairs as a [`BatchSource`] of [`PairBatch`]es. While training, each scene shows
/// one of its paraphrases per epoch (a pure function of seed, epoch and scene, so a resumed run
/// sees the same); otherwise always the canonical caption.
pub struct ScenePairs {
    size: usize,
    pixels: Vec<u8>,
    captions: Vec<Vec<Vec<usize>>>,
    mean: f32,
    std: f32,
    paraphrase: Option<u64>,
    epoch: AtomicUsize,
}

impl ScenePairs {
    /// The pairs of `scenes[indices]`; `paraphrase_seed: Some(seed)` draws a paraphrase per epoch.
    pub fn new(
        scenes: &CaptionedScenes,
        indices: &[usize],
        vocab: &Vocab,
        max_len: usize,
        (mean, std): (f32, f32),
        paraphrase_seed: Option<u64>,
    ) -> Self {
        let size = scenes.config.canvas;
        let mut pixels = Vec::with_capacity(indices.len() * size * size);
        let mut captions = Vec::with_capacity(indices.len());
        for &i in indices {
            let s = &scenes.scenes[i];
            pixels.extend_from_slice(&s.scene.pixels);
            captions.push(
                s.captions
                    .iter()
                    .map(|c| encode_caption(vocab, c, max_len).0)
                    .collect(),
            );
        }
        Self {
            size,
            pixels,
            captions,
            mean,
            std,
            paraphrase: paraphrase_seed,
            epoch: AtomicUsize::new(0),
        }
    }

    fn caption_choice(&self, index: usize) -> usize {
        let n = self.captions[index].len().max(1);
        match self.paraphrase {
            None => 0,
            Some(seed) => {
                let epoch = self.epoch.load(Ordering::Relaxed) as u64;
                let mut h = seed ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index as u64;
                h ^= h >> 33;
                h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
                h ^= h >> 33;
                (h % n as u64) as usize
            }
        }
    }
}

impl BatchSource<PairBatch> for ScenePairs {
    fn len(&self) -> usize {
        self.captions.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<PairBatch, TrainError> {
        let area = self.size * self.size;
        let mut pixels = Vec::with_capacity(indices.len() * area);
        let mut docs: Vec<&[usize]> = Vec::with_capacity(indices.len());
        for &i in indices {
            let caption = self
                .captions
                .get(i)
                .ok_or_else(|| TrainError::Data(format!("no scene {i}")))?;
            pixels.extend_from_slice(&self.pixels[i * area..(i + 1) * area]);
            docs.push(&caption[self.caption_choice(i)]);
        }
        let (tokens, padding) = TextBatcher::tokens_tensor(&docs, device);
        Ok(PairBatch {
            images: image_tensor(&pixels, self.size, self.mean, self.std, device),
            tokens,
            padding,
        })
    }

    fn start_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }
}
