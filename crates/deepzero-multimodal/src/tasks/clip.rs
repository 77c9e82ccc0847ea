//! The joint-embedding task (`scenes-clip`): captioned scenes → a CLIP-style two-tower model in a
//! run folder → text→image and image→text Recall@1/5/10, zero-shot accuracy on seen and
//! held-out class pairs, and an embedding index of the test scenes that [`ClipPredictor`]
//! searches with free text.
//!
//! ```no_run
//! use deepzero_multimodal::tasks::clip::{self, ClipPredictor, ClipSpec};
//! use deepzero_train::{FitConfig, RunSettings};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! // No data folder: the shipped MNIST and Fashion-MNIST samples.
//! let settings = RunSettings::new("scenes-clip", "runs/clip")
//!     .with_fit(FitConfig { epochs: 2, batch_size: 64, ..FitConfig::default() });
//! let report = clip::train(&ClipSpec::small(), &settings)?;
//! println!("text→image R@10 {}", report.test["text_to_image"]["r10"]);
//! let predictor = ClipPredictor::load("runs/clip".as_ref(), None, &settings.device()?)?;
//! let found = predictor.search("a small seven left of a sneaker", 9)?;
//! predictor.draw_grid(&found.hits, "grid.png".as_ref())?;
//! # Ok(()) }
//! ```
//!
//! ## Run folder
//! `run.json` ([`ClipRunInfo`]: scene settings, model configuration, pixel statistics),
//! `vocab.json` (the caption words), `model.bpk`, `metrics.json`, `metrics.csv`, `curves.png`, and the index of the
//! test scenes: `index.json` ([`EmbeddingIndex`], tagged with a hash of `model.bpk`) and
//! `gallery.u8` (their pixels, `N·S·S` bytes, for drawing results).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_sequence::tasks::text_classifier::TextBatcher;
use deepzero_sequence::text::Vocab;
use deepzero_train::metrics_file::write_atomic;
use deepzero_train::{BatchSource, RunReport, RunSettings, TaskError, evaluate};
use serde::Serialize;
use serde_json::json;

use crate::captions::{CLASS_WORDS, CaptionedScenes, CaptionedScenesConfig};
use crate::data::{ScenePairs, encode_caption, image_tensor};
use crate::models::{Clip, ClipConfig};
use crate::retrieval::{EmbeddingIndex, Hit, fingerprint, recall_at_k, similarity, zero_shot};
use crate::tasks::scene_run::{
    CAPTIONED_RUN_VERSION, CaptionedRunInfo, SceneRun, fit_captioned, load_test_scenes,
    scene_pixels, start_captioned_run, write_evaluation,
};
// The scene preparation every scene task shares lived here first; kept at this path.
pub use crate::tasks::scene_run::{PreparedScenes, SceneRunInfo, load_scenes, write_run_files};

/// What a joint-embedding run trains.
#[derive(Clone, Debug)]
pub struct ClipSpec {
    /// How the scenes are made.
    pub scenes: CaptionedScenesConfig,
    /// Training scenes (a tenth of them validate, by `RunSettings::valid_fraction`).
    pub train_scenes: usize,
    /// Test scenes; the first [`ClipSpec::candidates`] are the retrieval candidates.
    pub test_scenes: usize,
    /// Candidates of the retrieval test (the issue's 1 000).
    pub candidates: usize,
    /// The model (`image_size` and `vocab_size` are set from the data).
    pub model: ClipConfig,
}

impl ClipSpec {
    /// The `scenes-clip` recipe: 48-pixel scenes, 24 000 training and 3 000 test scenes.
    pub fn scenes_clip() -> Self {
        Self {
            scenes: CaptionedScenesConfig::default(),
            train_scenes: 24_000,
            test_scenes: 3_000,
            candidates: 1_000,
            model: ClipConfig::new(48, 0).with_cnn_width(8),
        }
    }

    /// A quick version for examples and tests: 2 000 training and 400 test scenes, a narrower
    /// model.
    pub fn small() -> Self {
        Self {
            train_scenes: 2_000,
            test_scenes: 400,
            candidates: 200,
            model: ClipConfig::new(48, 0)
                .with_cnn_width(8)
                .with_image_hidden(128)
                .with_text_layers(1),
            ..Self::scenes_clip()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        let c = &self.scenes;
        if c.canvas < 16 || !c.canvas.is_multiple_of(8) {
            return Err(TaskError::invalid(
                "the scene canvas must be a multiple of 8, at least 16",
            ));
        }
        if self.train_scenes < 2 || self.test_scenes == 0 {
            return Err(TaskError::invalid(
                "a joint embedding needs at least 2 training scenes and 1 test scene",
            ));
        }
        if self.candidates == 0 || self.candidates > self.test_scenes {
            return Err(TaskError::invalid(format!(
                "the retrieval candidates ({}) must be between 1 and the test scenes ({})",
                self.candidates, self.test_scenes
            )));
        }
        Ok(())
    }
}

/// The current version of [`ClipRunInfo`]'s format.
pub const RUN_VERSION: u32 = CAPTIONED_RUN_VERSION;

/// What `run.json` records about a joint-embedding run.
pub type ClipRunInfo = CaptionedRunInfo<ClipConfig>;

/// Retrieval and zero-shot figures of a joint embedding on test scenes.
#[derive(Clone, Debug, Serialize)]
pub struct ClipMetrics {
    /// Candidates per query.
    pub candidates: usize,
    /// Text→image Recall@1/5/10 (query: a scene's canonical caption; candidates: images).
    pub text_to_image: Recall,
    /// Image→text Recall@1/5/10 (query: an image; candidates: canonical captions).
    pub image_to_text: Recall,
    /// Text→image Recall on the queries whose scene holds a held-out pair (same candidates).
    pub text_to_image_novel: Recall,
    /// Zero-shot "which pair, in which order" on two-object side-by-side scenes.
    pub zero_shot: ZeroShot,
    /// Caption words the vocabulary did not know (mapped to `<unk>`), over all test captions.
    pub unknown_tokens: usize,
}

impl std::fmt::Display for ClipMetrics {
    /// `N candidates: text→image R@1/5/10 …, image→text …; zero-shot pair accuracy seen … vs
    /// held-out …`, figures to three decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (t, i, z) = (&self.text_to_image, &self.image_to_text, &self.zero_shot);
        write!(
            f,
            "{} candidates: text→image R@1/5/10 {:.3}/{:.3}/{:.3}, image→text {:.3}/{:.3}/{:.3}; zero-shot pair accuracy seen {:.3} ({} scenes) vs held-out {:.3} ({} scenes)",
            self.candidates,
            t.r1,
            t.r5,
            t.r10,
            i.r1,
            i.r5,
            i.r10,
            z.seen_accuracy,
            z.seen_scenes,
            z.novel_accuracy,
            z.novel_scenes,
        )
    }
}

/// Recall@K.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Recall {
    /// R@1.
    pub r1: f64,
    /// R@5.
    pub r5: f64,
    /// R@10.
    pub r10: f64,
    /// Queries.
    pub queries: usize,
}

/// Zero-shot classification of two-object, side-by-side test scenes among the descriptions
/// "a A left of a B" of every ordered class pair (chance = 1 / (C·(C−1))).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ZeroShot {
    /// Number of class descriptions.
    pub classes: usize,
    /// Accuracy on scenes whose pair was seen together in training.
    pub seen_accuracy: f64,
    /// Scenes with a seen pair.
    pub seen_scenes: usize,
    /// Accuracy on scenes whose pair was held out of training.
    pub novel_accuracy: f64,
    /// Scenes with a held-out pair.
    pub novel_scenes: usize,
}

/// A trained joint embedding, loaded with its vocabulary and pixel statistics: embeds captions
/// and images, evaluates, and searches the run's index.
pub struct ClipPredictor {
    info: ClipRunInfo,
    vocab: Vocab,
    model: Clip,
    model_id: String,
    device: Device,
    index: Option<(EmbeddingIndex, Vec<u8>)>,
}

/// Text embeddings with the words the vocabulary did not know.
#[derive(Clone, Debug)]
pub struct TextEmbeddings {
    /// Row-major `[N, d]`, normalised.
    pub vectors: Vec<f32>,
    /// Unknown words (mapped to `<unk>`), per text.
    pub unknown: Vec<Vec<String>>,
}

/// The answer to a text query.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    /// The best matches, best first.
    pub hits: Vec<Hit>,
    /// Query words the model does not know (they were read as `<unk>`).
    pub unknown_words: Vec<String>,
}

impl SearchResult {
    /// The query, the unknown words if any, then one `rank. score  #index  label` line per hit.
    pub fn describe(&self, query: &str) -> String {
        let mut text = query.to_string();
        if !self.unknown_words.is_empty() {
            let unknown = self.unknown_words.join(", ");
            text.push_str(&format!("\n  (unknown words read as <unk>: {unknown})"));
        }
        for (rank, hit) in self.hits.iter().enumerate() {
            let (score, index, label) = (hit.score, hit.index, &hit.label);
            text.push_str(&format!(
                "\n  {:>2}. {score:.3}  #{index}  {label}",
                rank + 1
            ));
        }
        text
    }
}

/// A query with what [`ClipPredictor::search`] found for it: displays as
/// [`SearchResult::describe`], serialises as `[query, result]`.
#[derive(Clone, Debug, Serialize)]
pub struct QueryResult(pub String, pub SearchResult);

impl std::fmt::Display for QueryResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1.describe(&self.0))
    }
}

/// A text query of a run's index, and where to draw what it finds (with the `clap` feature,
/// the options of `deepzero search`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SearchOptions {
    /// The text to look for, e.g. "a small seven left of a sneaker".
    pub query: String,
    /// How many images to return.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub top: usize,
    /// Where to draw the found images (default RUN/search.png).
    #[cfg_attr(feature = "clap", arg(long))]
    pub picture: Option<PathBuf>,
}

impl SearchOptions {
    /// Refuses a search for no image at all, naming the option.
    pub fn check(&self) -> Result<(), TaskError> {
        if self.top == 0 {
            return Err(TaskError::invalid("--top must be at least 1"));
        }
        Ok(())
    }

    /// Where the found images are drawn for the run in `run`: `picture`, else `RUN/search.png`.
    pub fn picture_in(&self, run: &Path) -> PathBuf {
        self.picture
            .clone()
            .unwrap_or_else(|| run.join("search.png"))
    }
}

fn tensor_values(t: Tensor<2>) -> Result<Vec<f32>, TaskError> {
    let values = t
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(TaskError::invalid(
            "the model's embeddings are not finite numbers (are its weights?)",
        ));
    }
    Ok(values)
}

impl ClipPredictor {
    /// Loads the run in `dir` and, if there is one, its index.
    ///
    /// # Errors
    /// The run folder is missing, of another recipe (when `recipe` is given), or inconsistent.
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let run = SceneRun::load_captioned(dir, recipe, device)?;
        let model_path = deepzero_train::model_file(dir)?;
        let bytes = std::fs::read(&model_path).map_err(TaskError::io(&model_path))?;
        let mut predictor =
            Self::from_model(run.info, run.vocab, run.model, fingerprint(&bytes), device);
        let index_path = dir.join("index.json");
        if index_path.exists() {
            let index = EmbeddingIndex::load(&index_path)?;
            let gallery_path = dir.join("gallery.u8");
            let gallery = std::fs::read(&gallery_path).map_err(TaskError::io(&gallery_path))?;
            let area = predictor.image_size().pow(2);
            if gallery.len() != index.len() * area {
                return Err(TaskError::invalid(format!(
                    "{}: {} bytes are not the {} images of {}",
                    gallery_path.display(),
                    gallery.len(),
                    index.len(),
                    index_path.display()
                )));
            }
            predictor.index = Some((index, gallery));
        }
        Ok(predictor)
    }

    /// A predictor of a model in memory (no index until [`ClipPredictor::set_index`]).
    pub fn from_model(
        info: ClipRunInfo,
        vocab: Vocab,
        model: Clip,
        model_id: String,
        device: &Device,
    ) -> Self {
        Self {
            info,
            vocab,
            model,
            model_id,
            device: device.clone(),
            index: None,
        }
    }

    /// What run.json says.
    pub fn info(&self) -> &ClipRunInfo {
        &self.info
    }

    /// The identity of the weights (a hash of `model.bpk`), as indexes record it.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Side of the square images the model reads.
    pub fn image_size(&self) -> usize {
        self.info.scenes.canvas
    }

    /// The index searched by [`ClipPredictor::search`], with the gallery's pixels.
    pub fn set_index(&mut self, index: EmbeddingIndex, gallery: Vec<u8>) {
        self.index = Some((index, gallery));
    }

    /// Normalised embeddings of `texts` and the words each contained that the vocabulary did not
    /// know.
    ///
    /// # Errors
    /// An empty (or all-blank) text.
    pub fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<TextEmbeddings, TaskError> {
        let mut vectors = Vec::new();
        let mut unknown = Vec::new();
        for chunk in texts.chunks(256) {
            let mut ids = Vec::with_capacity(chunk.len());
            for text in chunk {
                let text = text.as_ref();
                if text.trim().is_empty() {
                    return Err(TaskError::invalid("an empty query cannot be embedded"));
                }
                let (encoded, _) = encode_caption(&self.vocab, text, self.info.model.max_len);
                unknown.push(
                    self.vocab
                        .tokenize(text)
                        .into_iter()
                        .filter(|w| self.vocab.id(w).is_none())
                        .collect(),
                );
                ids.push(encoded);
            }
            let docs: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
            let (tokens, padding) = TextBatcher::tokens_tensor(&docs, &self.device);
            vectors.extend(tensor_values(self.model.embed_texts(tokens, padding))?);
        }
        Ok(TextEmbeddings { vectors, unknown })
    }

    /// Normalised embeddings of grey `S×S` images (row-major bytes, `N·S·S` of them).
    ///
    /// # Errors
    /// The byte count is not a whole number of images.
    pub fn embed_images(&self, pixels: &[u8]) -> Result<Vec<f32>, TaskError> {
        let area = self.image_size().pow(2);
        if !pixels.len().is_multiple_of(area) {
            return Err(TaskError::invalid(format!(
                "{} bytes are not a whole number of {s}×{s} images",
                pixels.len(),
                s = self.image_size()
            )));
        }
        let mut out = Vec::new();
        for chunk in pixels.chunks(area * 256) {
            let images = image_tensor(
                chunk,
                self.image_size(),
                self.info.mean,
                self.info.std,
                &self.device,
            );
            out.extend(tensor_values(self.model.embed_images(images))?);
        }
        Ok(out)
    }

    /// Reads PNG/JPEG files as grey `S×S` images (light ink on dark, as the scenes).
    ///
    /// # Errors
    /// A file that is missing or does not decode.
    pub fn read_images(&self, paths: &[&Path]) -> Result<Vec<u8>, TaskError> {
        let s = self.image_size();
        let mut pixels = Vec::with_capacity(paths.len() * s * s);
        for path in paths {
            pixels.extend(deepzero_data::load_image(path, 1, [s, s])?.pixels);
        }
        Ok(pixels)
    }

    /// [`search`](Self::search) for each of `queries`, in order.
    ///
    /// # Errors
    /// No query at all, and those of [`search`](Self::search).
    pub fn search_each(&self, queries: &[String], k: usize) -> Result<Vec<QueryResult>, TaskError> {
        if queries.is_empty() {
            return Err(TaskError::invalid(format!(
                "{} needs at least one text query",
                self.info.recipe
            )));
        }
        queries
            .iter()
            .map(|q| Ok(QueryResult(q.clone(), self.search(q, k)?)))
            .collect()
    }

    /// The `k` indexed images that best match `query`.
    ///
    /// # Errors
    /// No index in the run, an empty query, or an index built by another model.
    pub fn search(&self, query: &str, k: usize) -> Result<SearchResult, TaskError> {
        let (index, _) = self.index.as_ref().ok_or_else(|| {
            TaskError::invalid("this run has no index.json (train it to completion first)")
        })?;
        let embedded = self.embed_texts(&[query])?;
        let hits = index.search(&self.model_id, &embedded.vectors, k)?;
        Ok(SearchResult {
            hits,
            unknown_words: embedded.unknown.into_iter().next().unwrap_or_default(),
        })
    }

    /// Draws the indexed images of `hits` in a grid (up to five a row, best first, each
    /// doubled in size, a grey frame around each) to a PNG file.
    ///
    /// # Errors
    /// No index, a hit outside it, or the file cannot be written.
    pub fn draw_grid(&self, hits: &[Hit], path: &Path) -> Result<(), TaskError> {
        let (_, gallery) = self
            .index
            .as_ref()
            .ok_or_else(|| TaskError::invalid("this run has no index to draw from"))?;
        let s = self.image_size();
        let tiles: Vec<&[u8]> = hits
            .iter()
            .map(|h| {
                gallery
                    .get(h.index * s * s..(h.index + 1) * s * s)
                    .ok_or_else(|| {
                        TaskError::invalid(format!("hit {} is not in the gallery", h.index))
                    })
            })
            .collect::<Result<_, _>>()?;
        draw_tiles(&tiles, s, path)
    }

    /// [`ClipPredictor::search`] as `options` ask, the hits drawn in a grid
    /// ([`ClipPredictor::draw_grid`]) to `picture`.
    ///
    /// # Errors
    /// As [`SearchOptions::check`], [`ClipPredictor::search`] and [`ClipPredictor::draw_grid`].
    pub fn search_and_draw(
        &self,
        options: &SearchOptions,
        picture: &Path,
    ) -> Result<SearchResult, TaskError> {
        options.check()?;
        let found = self.search(&options.query, options.top)?;
        self.draw_grid(&found.hits, picture)?;
        Ok(found)
    }

    /// Retrieval and zero-shot figures on `test` (the first `candidates` scenes are the
    /// retrieval candidates; zero-shot reads all of them).
    ///
    /// # Errors
    /// Fewer test scenes than candidates, or non-finite embeddings.
    pub fn evaluate(
        &self,
        test: &CaptionedScenes,
        candidates: usize,
    ) -> Result<ClipMetrics, TaskError> {
        if candidates == 0 || candidates > test.len() {
            return Err(TaskError::invalid(format!(
                "{candidates} candidates asked of {} test scenes",
                test.len()
            )));
        }
        let dim = self.info.model.embed_dim;
        let images = self.embed_images(&scene_pixels(test.scenes.iter().map(|s| &s.scene)))?;
        let canonical: Vec<&str> = test.scenes.iter().map(|s| s.captions[0].as_str()).collect();
        let texts = self.embed_texts(&canonical)?;
        let unknown_tokens = test
            .scenes
            .iter()
            .flat_map(|s| &s.captions)
            .map(|c| encode_caption(&self.vocab, c, self.info.model.max_len).1)
            .sum();

        let (img, txt) = (
            &images[..candidates * dim],
            &texts.vectors[..candidates * dim],
        );
        let truth: Vec<usize> = (0..candidates).collect();
        let recall = |sim: &[f32], truth: &[usize]| -> Result<Recall, TaskError> {
            let r = recall_at_k(sim, candidates, truth, &[1, 5, 10])?;
            Ok(Recall {
                r1: r[0],
                r5: r[1],
                r10: r[2],
                queries: truth.len(),
            })
        };
        let t2i = similarity(txt, img, dim);
        let i2t = similarity(img, txt, dim);
        let novel: Vec<usize> = (0..candidates).filter(|&i| test.scenes[i].novel).collect();
        let novel_sim: Vec<f32> = novel
            .iter()
            .flat_map(|&q| t2i[q * candidates..(q + 1) * candidates].iter().copied())
            .collect();
        let text_to_image_novel = if novel.is_empty() {
            Recall {
                r1: f64::NAN,
                r5: f64::NAN,
                r10: f64::NAN,
                queries: 0,
            }
        } else {
            recall(&novel_sim, &novel)?
        };
        Ok(ClipMetrics {
            candidates,
            text_to_image: recall(&t2i, &truth)?,
            image_to_text: recall(&i2t, &truth)?,
            text_to_image_novel,
            zero_shot: self.zero_shot_pairs(test, &images)?,
            unknown_tokens,
        })
    }

    /// Zero-shot pair-and-order accuracy (see [`ZeroShot`]) of `test`, whose image embeddings
    /// are `images`.
    fn zero_shot_pairs(
        &self,
        test: &CaptionedScenes,
        images: &[f32],
    ) -> Result<ZeroShot, TaskError> {
        let dim = self.info.model.embed_dim;
        let classes = CLASS_WORDS.len().min(20);
        let pairs: Vec<(usize, usize)> = (0..classes)
            .flat_map(|a| (0..classes).filter(move |&b| b != a).map(move |b| (a, b)))
            .collect();
        let prompts: Vec<String> = pairs
            .iter()
            .map(|&(a, b)| format!("a {} left of a {}", CLASS_WORDS[a], CLASS_WORDS[b]))
            .collect();
        let prompt_vectors = self.embed_texts(&prompts)?.vectors;
        let mut items = Vec::new();
        let mut labels = Vec::new();
        let mut novel = Vec::new();
        for (i, s) in test.scenes.iter().enumerate() {
            let o = &s.scene.objects;
            if o.len() != 2 || !s.captions[0].contains(" left of ") {
                continue;
            }
            let cx = |k: usize| o[k].bbox[0] + o[k].bbox[2];
            let (left, right) = if cx(0) <= cx(1) { (0, 1) } else { (1, 0) };
            let Some(label) = pairs
                .iter()
                .position(|&p| p == (o[left].class, o[right].class))
            else {
                continue;
            };
            items.extend_from_slice(&images[i * dim..(i + 1) * dim]);
            labels.push(label);
            novel.push(s.novel);
        }
        let predicted = zero_shot(&items, &prompt_vectors, dim);
        let accuracy = |want_novel: bool| {
            let (mut hit, mut n) = (0usize, 0usize);
            for ((p, l), &nv) in predicted.iter().zip(&labels).zip(&novel) {
                if nv == want_novel {
                    n += 1;
                    hit += usize::from(p == l);
                }
            }
            (
                if n == 0 {
                    f64::NAN
                } else {
                    hit as f64 / n as f64
                },
                n,
            )
        };
        let (seen_accuracy, seen_scenes) = accuracy(false);
        let (novel_accuracy, novel_scenes) = accuracy(true);
        Ok(ZeroShot {
            classes: pairs.len(),
            seen_accuracy,
            seen_scenes,
            novel_accuracy,
            novel_scenes,
        })
    }
}

/// Writes grey `size×size` tiles as a PNG grid: five a row, each doubled, 2-pixel grey frames.
pub fn draw_tiles(tiles: &[&[u8]], size: usize, path: &Path) -> Result<(), TaskError> {
    if tiles.is_empty() {
        return Err(TaskError::invalid("nothing to draw"));
    }
    let (cols, scale, frame) = (tiles.len().min(5), 2usize, 2usize);
    let rows = tiles.len().div_ceil(cols);
    let cell = size * scale + 2 * frame;
    let (w, h) = (cols * cell, rows * cell);
    let mut canvas = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([128]));
    for (t, tile) in tiles.iter().enumerate() {
        let (x0, y0) = ((t % cols) * cell + frame, (t / cols) * cell + frame);
        for y in 0..size * scale {
            for x in 0..size * scale {
                let p = tile[(y / scale) * size + x / scale];
                canvas.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Luma([p]));
            }
        }
    }
    let mut bytes = Vec::new();
    canvas
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| TaskError::invalid(format!("{}: {e}", path.display())))?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// Trains the joint embedding of `spec` into `settings.out`: run folder, Recall@K and zero-shot
/// figures in `metrics.json`, and the index of the first `candidates` test scenes.
pub fn train(spec: &ClipSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let mut progress = settings.progress();
    let counts = (spec.train_scenes, spec.test_scenes);
    let (prepared, info, out) = start_captioned_run(settings, &spec.scenes, counts, &spec.model)?;
    let (fit_idx, valid_idx) = prepared.split();
    let PreparedScenes {
        train: train_scenes,
        test: test_scenes,
        source,
        vocab,
        stats,
        ..
    } = prepared;
    let model_config = info.model.clone();

    let max_len = model_config.max_len;
    let train_pairs = ScenePairs::new(
        &train_scenes,
        &fit_idx,
        &vocab,
        max_len,
        stats,
        Some(settings.seed()),
    );
    let valid_pairs = ScenePairs::new(&train_scenes, &valid_idx, &vocab, max_len, stats, None);
    let held_out: BTreeSet<String> = train_scenes
        .held_out
        .iter()
        .map(|&(a, b)| format!("{}+{}", CLASS_WORDS[a], CLASS_WORDS[b]))
        .collect();
    drop(train_scenes);
    progress.message(&format!(
        "{}: CLIP-style two towers on captioned scenes from {source} ({} train / {} valid / {} test scenes, {} words, {} held-out pairs), backend {}, {}, out {}",
        settings.name,
        train_pairs.len(),
        valid_pairs.len(),
        test_scenes.len(),
        vocab.len(),
        held_out.len(),
        settings.backend,
        settings.fit.describe(),
        out.display()
    ));

    let valid_source = Some(&valid_pairs);
    let (device, outcome) =
        fit_captioned(settings, &info, &train_pairs, valid_source, &mut progress)?;
    let model = outcome.model.clone();
    let valid = evaluate(&model, &valid_pairs, 256, &device)?;
    let model_path = out.join("model.bpk");
    let bytes = std::fs::read(&model_path).map_err(TaskError::io(&model_path))?;
    let mut predictor = ClipPredictor::from_model(
        info.clone(),
        vocab.clone(),
        model.clone(),
        fingerprint(&bytes),
        &device,
    );
    let metrics = predictor.evaluate(&test_scenes, spec.candidates)?;
    let index = build_index(&predictor, &test_scenes, spec.candidates, out)?;
    predictor.set_index(index.0, index.1);

    let report = RunReport::new(
        settings,
        &outcome,
        "clip-scene-cnn-transformer",
        model.num_params(),
    );
    let report = RunReport {
        data: json!({
            "source": source,
            "train_scenes": train_pairs.len(),
            "valid_scenes": valid_pairs.len(),
            "test_scenes": test_scenes.len(),
            "held_out_pairs": held_out,
            "vocabulary": vocab.len(),
        }),
        valid: json!({ "infonce_loss": valid.loss, "in_batch_image_to_text_accuracy": valid.accuracy }),
        test: serde_json::to_value(&metrics).unwrap_or_default(),
        ..report
    }
    .with("logit_scale", model.logit_scale());
    let path = report.write(out)?;
    progress.message(&format!(
        "{}: {metrics} -> {}",
        settings.name,
        path.display()
    ));
    Ok(report)
}

/// Embeds the first `count` test scenes and writes `index.json` and `gallery.u8` into `out`.
fn build_index(
    predictor: &ClipPredictor,
    test: &CaptionedScenes,
    count: usize,
    out: &Path,
) -> Result<(EmbeddingIndex, Vec<u8>), TaskError> {
    let gallery = scene_pixels(test.scenes[..count].iter().map(|s| &s.scene));
    let vectors = predictor.embed_images(&gallery)?;
    let labels = test.scenes[..count]
        .iter()
        .map(|s| s.captions[0].clone())
        .collect();
    let index = EmbeddingIndex::new(
        predictor.model_id(),
        predictor.info.model.embed_dim,
        vectors,
        labels,
    )?;
    write_atomic(&out.join("gallery.u8"), &gallery)?;
    index.save(&out.join("index.json"))?;
    Ok((index, gallery))
}

/// The test figures of the run in `run` on freshly rendered test scenes (the run's own scene
/// settings; `settings.data_dir` for the sources); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &ClipSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<ClipMetrics, TaskError> {
    let device = settings.device()?;
    let predictor = ClipPredictor::load(run, Some(&settings.name), &device)?;
    let data_dir = settings.data_dir.as_deref();
    let (test, source) = load_test_scenes(&predictor.info.scenes, spec.test_scenes, data_dir)?;
    let metrics = predictor.evaluate(&test, spec.candidates.min(test.len()))?;
    let path = write_evaluation(settings, run, &source, &metrics)?;
    settings.progress().message(&format!(
        "{}: {metrics} -> {}",
        settings.name,
        path.display()
    ));
    Ok(metrics)
}

impl deepzero_train::Task for ClipSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_train::FitConfig;

    fn tiny_spec() -> ClipSpec {
        ClipSpec {
            train_scenes: 96,
            test_scenes: 40,
            candidates: 30,
            model: ClipConfig::new(48, 0)
                .with_embed_dim(16)
                .with_cnn_width(4)
                .with_image_hidden(32)
                .with_text_width(16)
                .with_text_hidden(32)
                .with_text_layers(1),
            ..ClipSpec::scenes_clip()
        }
    }

    #[test]
    fn search_results_describe_their_hits() {
        let hit = |index, label: &str, score| Hit {
            index,
            label: label.into(),
            score,
        };
        let found = SearchResult {
            hits: vec![hit(3, "a 7 left of a shoe", 0.91), hit(12, "a 1", 0.5)],
            unknown_words: vec!["sneaker".into()],
        };
        assert_eq!(
            found.describe("a 7 left of a sneaker"),
            "a 7 left of a sneaker\n  (unknown words read as <unk>: sneaker)\n   1. 0.910  #3  a 7 left of a shoe\n   2. 0.500  #12  a 1"
        );
    }

    #[test]
    fn trains_a_run_folder_that_searches_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut settings = RunSettings::new("scenes-clip", &out).with_fit(FitConfig {
            epochs: 1,
            batch_size: 32,
            ..FitConfig::default()
        });
        settings.quiet = true;
        let report = train(&tiny_spec(), &settings).unwrap();
        for key in ["text_to_image", "image_to_text"] {
            let r = &report.test[key];
            let (r1, r10) = (r["r1"].as_f64().unwrap(), r["r10"].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&r1) && r1 <= r10, "{key}: {r}");
            assert_eq!(r["queries"], 30);
        }
        assert_eq!(report.test["zero_shot"]["classes"], 380);
        assert_eq!(report.test["unknown_tokens"], 0);

        let device = Device::flex();
        let predictor = ClipPredictor::load(&out, Some("scenes-clip"), &device).unwrap();
        let options = SearchOptions {
            query: "a small seven left of a zebra".into(),
            top: 4,
            picture: None,
        };
        let grid = options.picture_in(dir.path());
        assert_eq!(grid, dir.path().join("search.png"));
        let found = predictor.search_and_draw(&options, &grid).unwrap();
        assert_eq!(found.hits.len(), 4);
        assert_eq!(found.unknown_words, vec!["zebra".to_string()]);
        assert!(found.hits.windows(2).all(|w| w[0].score >= w[1].score));
        let img = image::open(&grid).unwrap();
        assert_eq!((img.width(), img.height()), (4 * (96 + 4), 96 + 4));
        let none = SearchOptions { top: 0, ..options };
        let err = predictor.search_and_draw(&none, &grid).unwrap_err();
        assert_eq!(err.to_string(), "--top must be at least 1");

        let err = predictor.search("   ", 3).unwrap_err().to_string();
        assert!(err.contains("empty query"), "{err}");
        let err = predictor.search_each(&[], 3).unwrap_err().to_string();
        assert_eq!(err, "scenes-clip needs at least one text query");
        let err = ClipPredictor::load(&out, Some("scenes-caption"), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("scenes-clip"), "{err}");

        // An index built by another model is refused.
        let index_path = out.join("index.json");
        let mut index = EmbeddingIndex::load(&index_path).unwrap();
        index.model = "0000000000000000".into();
        index.save(&index_path).unwrap();
        let predictor = ClipPredictor::load(&out, None, &device).unwrap();
        let err = predictor.search("a two", 3).unwrap_err().to_string();
        assert!(err.contains("built by model 0000000000000000"), "{err}");

        // Images that do not decode.
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not a png").unwrap();
        assert!(predictor.read_images(&[bad.as_path()]).is_err());
        assert!(predictor.embed_images(&[0u8; 5]).is_err());
    }
}
