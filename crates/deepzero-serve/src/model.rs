//! A run folder ready to answer requests: its task's predictor on a [`BatchQueue`] thread.
//!
//! Served kinds are the classifiers that have a `predict` on single inputs: image
//! classification ([`deepzero_vision::tasks::classify`], every `mnist-*`, `fashion-*`,
//! `cifar10-*`, `folder-*` recipe and imported `imagenet` runs) and text classification
//! ([`deepzero_sequence::tasks::classify`], `bbc-*`, `spam-lstm`, `chinese-sentiment*`).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use burn::prelude::Device;
use deepzero_data::ImageItem;
use deepzero_sequence::tasks::classify::{Predictor as TextPredictor, TextRunInfo};
use deepzero_train::TaskError;
use deepzero_vision::tasks::classify::{ImageRunInfo, InvertMode, Predictor as ImagePredictor};
use image::{DynamicImage, ImageError, ImageReader};
use serde::Serialize;

use crate::ServeError;
use crate::batch::{BatchConfig, BatchQueue};

/// What kind of input a served model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// PNG or JPEG images → classes.
    ImageClassifier,
    /// UTF-8 texts → classes.
    TextClassifier,
}

/// What `GET /v1/models` tells about a served model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// The name in the URL (`/v1/models/NAME/predict`): the run folder's name.
    pub name: String,
    /// Its input kind.
    pub kind: ModelKind,
    /// The recipe that made the run.
    pub recipe: String,
    /// Class names, index = class id.
    pub classes: Vec<String>,
    /// `[C, H, W]` the images are prepared to (image models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<[usize; 3]>,
    /// The run folder.
    pub run: PathBuf,
}

/// One class and its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassScore {
    /// Class id.
    pub class: usize,
    /// Class name.
    pub label: String,
    /// Softmax probability.
    pub probability: f32,
}

/// An image prepared for the model and how many classes to report for it.
type ImageJob = (ImageItem, usize);

enum Engine {
    Image {
        info: Box<ImageRunInfo>,
        queue: BatchQueue<ImageJob, Vec<ClassScore>>,
    },
    Text {
        queue: BatchQueue<String, ClassScore>,
    },
}

/// A run folder served by one batch queue.
pub struct ServedModel {
    info: ModelInfo,
    engine: Engine,
}

/// Reads `run.json` as loose JSON to tell the task apart before the task's own loader checks it.
fn run_json(dir: &Path) -> Result<serde_json::Value, ServeError> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(TaskError::io(&path))?;
    serde_json::from_str(&text)
        .map_err(|e| ServeError::Load(TaskError::invalid(format!("{}: {e}", path.display()))))
}

impl ServedModel {
    /// Loads the run in `dir` under `name`: an image or a text classifier, its model on its own
    /// batch thread with `batch` settings, on `device`.
    ///
    /// # Errors
    /// [`ServeError::Load`] when the folder holds no run of a served kind or its weights cannot
    /// be read; [`ServeError::Config`] for a bad `batch`.
    pub fn load(
        dir: &Path,
        name: &str,
        batch: BatchConfig,
        device: &Device,
    ) -> Result<Self, ServeError> {
        let json = run_json(dir)?;
        let has = |key: &str| json.get(key).is_some();
        let recipe = json
            .get("recipe")
            .and_then(|r| r.as_str())
            .unwrap_or("?")
            .to_string();
        let run = dir.to_path_buf();
        let device = device.clone();
        if has("input_shape") {
            let info = ImageRunInfo::load(dir, None)?;
            let model_info = ModelInfo {
                name: name.to_string(),
                kind: ModelKind::ImageClassifier,
                recipe: info.recipe.clone(),
                classes: info.class_names.clone(),
                input_shape: Some(info.input_shape),
                run: run.clone(),
            };
            let queue = BatchQueue::start(batch, move || {
                let predictor = ImagePredictor::load(&run, None, &device)?;
                Ok(move |jobs: Vec<ImageJob>| classify_images(&predictor, jobs))
            })?;
            Ok(Self {
                info: model_info,
                engine: Engine::Image {
                    info: Box::new(info),
                    queue,
                },
            })
        } else if has("encoder") && has("vocab_file") && has("class_names") {
            let info = TextRunInfo::load(dir, None)?;
            let model_info = ModelInfo {
                name: name.to_string(),
                kind: ModelKind::TextClassifier,
                recipe: info.recipe.clone(),
                classes: info.class_names.clone(),
                input_shape: None,
                run: run.clone(),
            };
            let queue = BatchQueue::start(batch, move || {
                let predictor = TextPredictor::load(&run, None, &device)?;
                Ok(move |texts: Vec<String>| classify_texts(&predictor, &texts))
            })?;
            Ok(Self {
                info: model_info,
                engine: Engine::Text { queue },
            })
        } else {
            Err(ServeError::Load(TaskError::invalid(format!(
                "{}: a run of recipe `{recipe}` cannot be served (serving covers the image and \
                 text classifiers)",
                dir.display()
            ))))
        }
    }

    /// What the model is.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// How many batches and inputs its queue has run: `(batches, inputs, largest batch)`.
    pub fn batch_stats(&self) -> (u64, u64, u64) {
        let stats = match &self.engine {
            Engine::Image { queue, .. } => queue.stats(),
            Engine::Text { queue } => queue.stats(),
        };
        (stats.batches(), stats.items(), stats.largest_batch())
    }

    /// Prepares a decoded image as the model's training data looked ([`ImageRunInfo::prepare_image`]).
    ///
    /// # Errors
    /// [`ServeError::BadRequest`] for a text model.
    pub fn prepare_image(
        &self,
        image: &DynamicImage,
        invert: InvertMode,
    ) -> Result<ImageItem, ServeError> {
        match &self.engine {
            Engine::Image { info, .. } => Ok(info.prepare_image(image, invert)?),
            Engine::Text { .. } => Err(self.wrong_kind()),
        }
    }

    /// The `top_k` most probable classes of each prepared image. Each image is queued on its
    /// own, so it shares forward passes with concurrent requests.
    pub async fn classify_images(
        &self,
        items: Vec<ImageItem>,
        top_k: usize,
    ) -> Result<Vec<Vec<ClassScore>>, ServeError> {
        let Engine::Image { queue, .. } = &self.engine else {
            return Err(self.wrong_kind());
        };
        let answers = items
            .into_iter()
            .map(|item| queue.submit((item, top_k.max(1))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            out.push(answer.await.unwrap_or(Err(ServeError::ShuttingDown))?);
        }
        Ok(out)
    }

    /// The most probable class of each text, batched with concurrent requests.
    pub async fn classify_texts(&self, texts: Vec<String>) -> Result<Vec<ClassScore>, ServeError> {
        let Engine::Text { queue } = &self.engine else {
            return Err(self.wrong_kind());
        };
        let answers = texts
            .into_iter()
            .map(|text| queue.submit(text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            out.push(answer.await.unwrap_or(Err(ServeError::ShuttingDown))?);
        }
        Ok(out)
    }

    fn wrong_kind(&self) -> ServeError {
        let wants = match self.info.kind {
            ModelKind::ImageClassifier => "images",
            ModelKind::TextClassifier => "texts",
        };
        ServeError::BadRequest(format!("model `{}` takes {wants}", self.info.name))
    }

    /// Answers what is queued and stops the batch thread.
    pub fn shutdown(&self) {
        match &self.engine {
            Engine::Image { queue, .. } => queue.shutdown(),
            Engine::Text { queue } => queue.shutdown(),
        }
    }
}

/// One forward pass over a batch of prepared images; each keeps its own `top_k`.
fn classify_images(
    predictor: &ImagePredictor,
    jobs: Vec<ImageJob>,
) -> Result<Vec<Vec<ClassScore>>, TaskError> {
    let k = jobs.iter().map(|(_, k)| *k).max().unwrap_or(1);
    let (items, ks): (Vec<ImageItem>, Vec<usize>) = jobs.into_iter().unzip();
    let names = vec![PathBuf::new(); items.len()];
    let predictions = predictor.predict_items(&names, &items, k)?;
    Ok(predictions
        .into_iter()
        .zip(ks)
        .map(|(p, k)| {
            p.top
                .into_iter()
                .take(k)
                .map(|(class, label, probability)| ClassScore {
                    class,
                    label,
                    probability,
                })
                .collect()
        })
        .collect())
}

fn classify_texts(
    predictor: &TextPredictor,
    texts: &[String],
) -> Result<Vec<ClassScore>, TaskError> {
    let classes = predictor.class_names();
    Ok(predictor
        .predict(texts)?
        .into_iter()
        .map(|p| ClassScore {
            class: classes.iter().position(|c| *c == p.label).unwrap_or(0),
            label: p.label,
            probability: p.probability,
        })
        .collect())
}

/// Decodes PNG or JPEG bytes (format sniffed from the content), refusing images wider or taller
/// than `max_side` before their pixels are allocated.
///
/// # Errors
/// [`ServeError::UnsupportedMediaType`] for bytes of no known image format,
/// [`ServeError::TooLarge`] for an image over the limit, [`ServeError::BadRequest`] for a
/// corrupt one.
pub fn decode_image(bytes: &[u8], max_side: u32) -> Result<DynamicImage, ServeError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ServeError::BadRequest(format!("cannot read the image: {e}")))?;
    if reader.format().is_none() {
        return Err(ServeError::UnsupportedMediaType(
            "the upload is not a PNG or JPEG image".into(),
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => ServeError::TooLarge(format!(
            "the image is larger than the server's limit of {max_side}×{max_side} pixels"
        )),
        ImageError::Unsupported(e) => {
            ServeError::UnsupportedMediaType(format!("unsupported image: {e}"))
        }
        other => ServeError::BadRequest(format!("cannot decode the image: {other}")),
    })
}
