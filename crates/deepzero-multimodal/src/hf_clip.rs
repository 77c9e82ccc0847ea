//! Hugging Face `CLIPModel` checkpoints (`openai/clip-vit-base-patch32` and its siblings, as
//! `huggingface-cli download` or `save_pretrained` leaves them: `config.json`,
//! `model.safetensors`) into [`OpenAiClip`].
//!
//! | `transformers` | here |
//! |---|---|
//! | `vision_model.embeddings.{patch_embedding, class_embedding, position_embedding}` | [`ClipVisionTower`](crate::models::openai_clip::ClipVisionTower) fields |
//! | `vision_model.pre_layrnorm`, `vision_model.post_layernorm` | `pre_norm`, `post_norm` |
//! | `*.encoder.layers.i.self_attn.{q,k,v,out}_proj` (`nn.Linear` `[out, in]`) | `self_attn.{query,key,value,output}` (transposed) |
//! | `*.encoder.layers.i.{layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}` | `norm_attn`, `feed_forward.{linear_inner, linear_outer}`, `norm_ff` |
//! | `text_model.embeddings.{token_embedding, position_embedding}`, `text_model.final_layer_norm` | [`ClipTextTower`](crate::models::openai_clip::ClipTextTower) fields, the stack's final norm |
//! | `visual_projection`, `text_projection` (no bias), `logit_scale` (a scalar) | the same names (`logit_scale` as `[1]`) |
//! | `text_config.eos_token_id` 2 (the released configs): pool at the largest id; another id: pool at it | [`EosPooling`] |
//!
//! [`ClipPipeline`] adds what a checkpoint folder also holds — `tokenizer.json` (CLIP's BPE,
//! read by `deepzero_sequence`'s [`HfTokenizer`]) and `preprocessor_config.json`
//! ([`ClipImageProcessor`]) — for zero-shot classification and embeddings from text and
//! image files:
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_multimodal::hf_clip::ClipPipeline;
//!
//! # fn main() -> Result<(), deepzero_multimodal::MultimodalError> {
//! // `huggingface-cli download openai/clip-vit-base-patch32 --local-dir clip-vit-base-patch32`
//! let clip = ClipPipeline::load("clip-vit-base-patch32".as_ref(), &Device::flex())?;
//! let image = image::open("cat.jpg").map_err(|e| deepzero_multimodal::MultimodalError::Invalid(e.to_string()))?;
//! let probs = clip.zero_shot(&[image], &["a photo of a cat", "a photo of a dog"])?;
//! println!("{:?}", probs[0]);
//! # Ok(()) }
//! ```
//!
//! The golden test loads `tests/fixtures/clip/tiny`, a seeded random `CLIPModel` folder written
//! by `tests/fixtures/clip/make_clip_fixture.py`, and compares both towers' states, the
//! embeddings and `logits_per_image` with `transformers`' to 1e-4, the tokenizer's ids with
//! `CLIPTokenizerFast`'s exactly and the processed pixels with `CLIPImageProcessor`'s (see
//! [`ClipImageProcessor`] for the resampling difference).

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_sequence::hf::checkpoint::{
    Checkpoint, read_config, set_layer_norm, set_torch_linear,
};
use deepzero_sequence::hf::{HfError, HfTokenizer};
use deepzero_sequence::transformer::{FfnActivation, TransformerEncoder};
use image::DynamicImage;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MultimodalError;
use crate::models::openai_clip::{ClipTowerConfig, EosPooling, OpenAiClip, OpenAiClipConfig};

/// The fields of a `CLIPModel` `config.json` the import reads (names as in `transformers`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HfClipConfig {
    /// `model_type`; must be `clip` when present.
    #[serde(default)]
    pub model_type: Option<String>,
    /// The text tower.
    pub text_config: HfClipTextConfig,
    /// The image tower.
    pub vision_config: HfClipVisionConfig,
    /// Joint embedding width (512 for ViT-B/32).
    #[serde(default = "projection_dim")]
    pub projection_dim: usize,
}

/// `text_config` of a `CLIPModel` (defaults as `transformers`' `CLIPTextConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HfClipTextConfig {
    /// Vocabulary (49 408).
    #[serde(default = "text_vocab")]
    pub vocab_size: usize,
    /// Width (512).
    #[serde(default = "text_width")]
    pub hidden_size: usize,
    /// MLP width (2 048).
    #[serde(default = "text_mlp")]
    pub intermediate_size: usize,
    /// Blocks (12).
    #[serde(default = "twelve")]
    pub num_hidden_layers: usize,
    /// Heads (8).
    #[serde(default = "eight")]
    pub num_attention_heads: usize,
    /// Context length (77).
    #[serde(default = "context")]
    pub max_position_embeddings: usize,
    /// `quick_gelu` (the OpenAI checkpoints), `gelu` or `gelu_pytorch_tanh`.
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    /// Layer-norm `ε`.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// End-of-text id; 2 (the legacy value of the released configs) means "the largest id".
    #[serde(default = "legacy_eos")]
    pub eos_token_id: usize,
}

/// `vision_config` of a `CLIPModel` (defaults as `transformers`' `CLIPVisionConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HfClipVisionConfig {
    /// Width (768).
    #[serde(default = "vision_width")]
    pub hidden_size: usize,
    /// MLP width (3 072).
    #[serde(default = "vision_mlp")]
    pub intermediate_size: usize,
    /// Blocks (12).
    #[serde(default = "twelve")]
    pub num_hidden_layers: usize,
    /// Heads (12).
    #[serde(default = "twelve")]
    pub num_attention_heads: usize,
    /// Input side (224).
    #[serde(default = "image_size")]
    pub image_size: usize,
    /// Patch side (32).
    #[serde(default = "patch_size")]
    pub patch_size: usize,
    /// Channels (3).
    #[serde(default = "three")]
    pub num_channels: usize,
    /// As the text tower's.
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    /// Layer-norm `ε`.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

fn projection_dim() -> usize {
    512
}
fn text_vocab() -> usize {
    49408
}
fn text_width() -> usize {
    512
}
fn text_mlp() -> usize {
    2048
}
fn vision_width() -> usize {
    768
}
fn vision_mlp() -> usize {
    3072
}
fn twelve() -> usize {
    12
}
fn eight() -> usize {
    8
}
fn three() -> usize {
    3
}
fn context() -> usize {
    77
}
fn image_size() -> usize {
    224
}
fn patch_size() -> usize {
    32
}
fn quick_gelu() -> String {
    "quick_gelu".into()
}
fn eps() -> f64 {
    1e-5
}
fn legacy_eos() -> usize {
    2
}

fn activation(name: &str) -> Result<FfnActivation, HfError> {
    match name {
        "quick_gelu" => Ok(FfnActivation::QuickGelu),
        "gelu" => Ok(FfnActivation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" => Ok(FfnActivation::GeluTanh),
        other => Err(HfError::Unsupported(format!("CLIP hidden_act `{other}`"))),
    }
}

impl HfClipConfig {
    /// Reads `DIR/config.json`.
    ///
    /// # Errors
    /// [`HfError`] for a missing or malformed file, or another model type.
    pub fn load(dir: &Path) -> Result<Self, HfError> {
        let config: Self = read_config(dir)?;
        match config.model_type.as_deref() {
            None | Some("clip") => Ok(config),
            Some(other) => Err(HfError::Unsupported(format!(
                "{}: model_type `{other}` is not a CLIPModel",
                dir.display()
            ))),
        }
    }

    /// The architecture this configuration describes.
    ///
    /// # Errors
    /// [`HfError::Unsupported`] for an activation other than the GELU family.
    pub fn model_config(&self) -> Result<OpenAiClipConfig, HfError> {
        let (t, v) = (&self.text_config, &self.vision_config);
        let text = ClipTowerConfig::new(
            t.hidden_size,
            t.num_hidden_layers,
            t.num_attention_heads,
            t.intermediate_size,
        )
        .with_activation(activation(&t.hidden_act)?)
        .with_layer_norm_eps(t.layer_norm_eps);
        let vision = ClipTowerConfig::new(
            v.hidden_size,
            v.num_hidden_layers,
            v.num_attention_heads,
            v.intermediate_size,
        )
        .with_activation(activation(&v.hidden_act)?)
        .with_layer_norm_eps(v.layer_norm_eps);
        let pooling = match t.eos_token_id {
            2 => EosPooling::LargestId,
            id => EosPooling::Token(id),
        };
        Ok(OpenAiClipConfig::new(
            vision,
            v.image_size,
            v.patch_size,
            text,
            t.vocab_size,
            t.max_position_embeddings,
            self.projection_dim,
        )
        .with_channels(v.num_channels)
        .with_pooling(pooling))
    }
}

/// Loads a Hugging Face `CLIPModel` folder.
///
/// # Errors
/// [`HfError`] for a missing file or tensor, a shape other than the config implies, or an
/// unsupported setting.
pub fn load_clip(dir: &Path, device: &Device) -> Result<(OpenAiClip, HfClipConfig), HfError> {
    let hf = HfClipConfig::load(dir)?;
    let config = hf.model_config()?;
    let mut clip = config
        .init(device)
        .map_err(|e| HfError::Invalid(format!("{}: {e}", dir.display())))?;
    let ckpt = Checkpoint::open(dir, &[""])?;
    let (dv, dt, dp) = (
        config.vision.width,
        config.text.width,
        config.projection_dim,
    );

    let vision = &mut clip.vision;
    let p = config.patch_size;
    vision.patch_embedding.weight = Param::from_tensor(ckpt.tensor(
        "vision_model.embeddings.patch_embedding.weight",
        [dv, config.channels, p, p],
        device,
    )?);
    vision.class_embedding =
        Param::from_tensor(ckpt.tensor("vision_model.embeddings.class_embedding", [dv], device)?);
    vision.position_embedding = Param::from_tensor(ckpt.tensor(
        "vision_model.embeddings.position_embedding.weight",
        [config.image_tokens(), dv],
        device,
    )?);
    set_layer_norm(
        &mut vision.pre_norm,
        &ckpt,
        "vision_model.pre_layrnorm",
        dv,
        device,
    )?;
    fill_encoder(
        &mut vision.encoder,
        &ckpt,
        "vision_model",
        &config.vision,
        device,
    )?;
    set_layer_norm(
        &mut vision.post_norm,
        &ckpt,
        "vision_model.post_layernorm",
        dv,
        device,
    )?;

    let text = &mut clip.text;
    text.token_embedding.weight = Param::from_tensor(ckpt.tensor(
        "text_model.embeddings.token_embedding.weight",
        [config.vocab_size, dt],
        device,
    )?);
    text.position_embedding = Param::from_tensor(ckpt.tensor(
        "text_model.embeddings.position_embedding.weight",
        [config.context_length, dt],
        device,
    )?);
    fill_encoder(&mut text.encoder, &ckpt, "text_model", &config.text, device)?;
    let final_norm = text
        .encoder
        .norm
        .as_mut()
        .expect("the text tower's stack ends with a layer norm");
    set_layer_norm(final_norm, &ckpt, "text_model.final_layer_norm", dt, device)?;

    set_torch_linear(
        &mut clip.visual_projection,
        &ckpt,
        "visual_projection",
        dv,
        dp,
        device,
    )?;
    set_torch_linear(
        &mut clip.text_projection,
        &ckpt,
        "text_projection",
        dt,
        dp,
        device,
    )?;
    clip.logit_scale =
        Param::from_tensor(Tensor::from_floats([ckpt.scalar("logit_scale")?], device));
    Ok((clip, hf))
}

/// CLIP's image preprocessing, as `transformers`' `CLIPImageProcessor` does it: RGB, resize
/// so the shorter side is `shortest_edge` (the longer side `⌊edge · long / short⌋`), centre
/// crop, scale to [0, 1], normalise per channel.
///
/// Resizing is `image`'s filter for the processor's `resample` (3, bicubic: Catmull-Rom, the
/// same `a = −0.5` cubic PIL uses, widened when shrinking as PIL's is). PIL resamples in
/// fixed point, so a pixel may differ from `transformers`' by a grey level: on the fixture
/// (45×38 → 37×32 → 32×32) at most 1 of 255, 0.0075 on average, which moves the image
/// embedding by < 1e-4.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipImageProcessor {
    /// Target of the shorter side.
    pub shortest_edge: usize,
    /// Crop `[height, width]`.
    pub crop: [usize; 2],
    /// Per-channel mean (after scaling to [0, 1]).
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
    /// Resampling filter.
    pub filter: FilterType,
}

/// OpenAI CLIP's normalisation statistics.
const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

impl ClipImageProcessor {
    /// The released checkpoints' processing for a model whose input side is `image_size`.
    pub fn for_image_size(image_size: usize) -> Self {
        Self {
            shortest_edge: image_size,
            crop: [image_size, image_size],
            mean: CLIP_MEAN,
            std: CLIP_STD,
            filter: FilterType::CatmullRom,
        }
    }

    /// Reads `DIR/preprocessor_config.json`; without the file, [`for_image_size`](Self::for_image_size).
    /// `size` and `crop_size` may be numbers (older files) or objects.
    ///
    /// # Errors
    /// [`HfError`] for a malformed file, a resampling filter other than nearest (0), bilinear (2)
    /// or bicubic (3), or a step switched off (`do_resize`, `do_center_crop`, `do_rescale`,
    /// `do_normalize` false).
    pub fn load(dir: &Path, image_size: usize) -> Result<Self, HfError> {
        let path = dir.join("preprocessor_config.json");
        if !path.exists() {
            return Ok(Self::for_image_size(image_size));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| HfError::reading(&path, e))?;
        let raw: Value = serde_json::from_str(&text).map_err(|e| HfError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let bad = |message: String| HfError::Format {
            path: path.clone(),
            message,
        };
        for step in ["do_resize", "do_center_crop", "do_rescale", "do_normalize"] {
            if raw.get(step).and_then(Value::as_bool) == Some(false) {
                return Err(HfError::Unsupported(format!(
                    "{}: {step} = false",
                    path.display()
                )));
            }
        }
        let number = |v: Option<&Value>| v.and_then(Value::as_u64).map(|n| n as usize);
        let shortest_edge = match raw.get("size") {
            None => image_size,
            Some(v) => number(Some(v))
                .or_else(|| number(v.get("shortest_edge")))
                .ok_or_else(|| {
                    bad(format!(
                        "size {v} is neither a number nor {{\"shortest_edge\": n}}"
                    ))
                })?,
        };
        let crop = match raw.get("crop_size") {
            None => [image_size, image_size],
            Some(v) => match (
                number(Some(v)),
                number(v.get("height")),
                number(v.get("width")),
            ) {
                (Some(n), _, _) => [n, n],
                (None, Some(h), Some(w)) => [h, w],
                _ => {
                    return Err(bad(format!(
                        "crop_size {v} is neither a number nor {{\"height\", \"width\"}}"
                    )));
                }
            },
        };
        let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3], HfError> {
            match raw.get(key) {
                None => Ok(default),
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|_| bad(format!("{key} is not three numbers"))),
            }
        };
        let filter = match raw.get("resample").and_then(Value::as_u64).unwrap_or(3) {
            0 => FilterType::Nearest,
            2 => FilterType::Triangle,
            3 => FilterType::CatmullRom,
            other => {
                return Err(HfError::Unsupported(format!(
                    "{}: resample {other}",
                    path.display()
                )));
            }
        };
        if shortest_edge == 0 || crop.contains(&0) {
            return Err(bad("a size of 0".into()));
        }
        Ok(Self {
            shortest_edge,
            crop,
            mean: triple("image_mean", CLIP_MEAN)?,
            std: triple("image_std", CLIP_STD)?,
            filter,
        })
    }

    /// The model input of one image.
    ///
    /// # Shapes
    /// - output: `[3, crop height, crop width]`
    pub fn pixels(&self, image: &DynamicImage, device: &Device) -> Tensor<3> {
        let rgb = image.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let (short, long) = (w.min(h), w.max(h));
        let scaled_long = (self.shortest_edge * long / short).max(1);
        let (new_w, new_h) = if w <= h {
            (self.shortest_edge, scaled_long)
        } else {
            (scaled_long, self.shortest_edge)
        };
        let resized = image::imageops::resize(&rgb, new_w as u32, new_h as u32, self.filter);
        let [crop_h, crop_w] = self.crop;
        // transformers pads with zeros when the crop is larger than the image.
        let top = new_h as isize - crop_h as isize;
        let left = new_w as isize - crop_w as isize;
        let (top, left) = (top.div_euclid(2), left.div_euclid(2));
        let mut values = vec![0.0f32; 3 * crop_h * crop_w];
        for y in 0..crop_h {
            for x in 0..crop_w {
                let (sy, sx) = (y as isize + top, x as isize + left);
                let inside = sy >= 0 && sx >= 0 && (sy as usize) < new_h && (sx as usize) < new_w;
                for c in 0..3 {
                    let level = if inside {
                        resized.get_pixel(sx as u32, sy as u32)[c] as f32 / 255.0
                    } else {
                        0.0
                    };
                    values[(c * crop_h + y) * crop_w + x] = (level - self.mean[c]) / self.std[c];
                }
            }
        }
        Tensor::from_data(TensorData::new(values, [3, crop_h, crop_w]), device)
    }
}

/// A CLIP checkpoint folder ready to use: the model, its tokenizer and its image processing.
pub struct ClipPipeline {
    /// The model.
    pub model: OpenAiClip,
    /// `tokenizer.json`.
    pub tokenizer: HfTokenizer,
    /// `preprocessor_config.json` (or the released checkpoints' defaults).
    pub processor: ClipImageProcessor,
    device: Device,
}

impl ClipPipeline {
    /// Loads `DIR/config.json`, `model.safetensors`, `tokenizer.json` and, if present,
    /// `preprocessor_config.json`.
    ///
    /// # Errors
    /// [`MultimodalError::Hf`] for a missing or malformed file; [`MultimodalError::Invalid`]
    /// when the processor's crop is not the model's input size.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, MultimodalError> {
        let (model, hf) = load_clip(dir, device)?;
        let tokenizer = HfTokenizer::load(&dir.join("tokenizer.json"))?;
        let side = hf.vision_config.image_size;
        let processor = ClipImageProcessor::load(dir, side)?;
        if processor.crop != [side, side] {
            return Err(MultimodalError::Invalid(format!(
                "{}: the processor crops to {:?} but the model reads {side}×{side} images",
                dir.display(),
                processor.crop
            )));
        }
        Ok(Self {
            model,
            tokenizer,
            processor,
            device: device.clone(),
        })
    }

    /// Joint-space embeddings of texts (not normalised).
    ///
    /// # Shapes
    /// - output: `[texts, D]`
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] for no texts or a text longer than the context.
    pub fn text_embeddings(&self, texts: &[&str]) -> Result<Tensor<2>, MultimodalError> {
        let ids = texts
            .iter()
            .map(|t| {
                let ids = self.tokenizer.encode(t, true)?;
                Ok(ids.into_iter().map(|id| id as usize).collect())
            })
            .collect::<Result<Vec<Vec<usize>>, HfError>>()?;
        self.model.encode_token_ids(&ids, &self.device)
    }

    /// Joint-space embeddings of images (not normalised).
    ///
    /// # Shapes
    /// - output: `[images, D]`
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] for no images.
    pub fn image_embeddings(&self, images: &[DynamicImage]) -> Result<Tensor<2>, MultimodalError> {
        if images.is_empty() {
            return Err(MultimodalError::Invalid("no image to encode".into()));
        }
        let pixels = images
            .iter()
            .map(|image| self.processor.pixels(image, &self.device))
            .collect();
        Ok(self.model.image_embeddings(Tensor::stack(pixels, 0)))
    }

    /// Zero-shot classification: for each image, the softmax over `labels` (texts such as
    /// "a photo of a cat") of CLIP's scaled cosine similarities.
    ///
    /// # Errors
    /// As [`text_embeddings`](Self::text_embeddings) and [`image_embeddings`](Self::image_embeddings).
    pub fn zero_shot(
        &self,
        images: &[DynamicImage],
        labels: &[&str],
    ) -> Result<Vec<Vec<f32>>, MultimodalError> {
        let logits = self.model.logits_per_image(
            self.image_embeddings(images)?,
            self.text_embeddings(labels)?,
        );
        Ok(rows(softmax(logits, 1)))
    }

    /// Text→image retrieval: for each text, the softmax over `images` of CLIP's scaled cosine
    /// similarities (`logits_per_text`).
    ///
    /// # Errors
    /// As [`zero_shot`](Self::zero_shot).
    pub fn retrieve(
        &self,
        images: &[DynamicImage],
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, MultimodalError> {
        let logits = self
            .model
            .logits_per_image(self.image_embeddings(images)?, self.text_embeddings(texts)?);
        Ok(rows(softmax(logits.transpose(), 1)))
    }
}

/// The rows of a `[R, C]` tensor.
fn rows(x: Tensor<2>) -> Vec<Vec<f32>> {
    let columns = x.dims()[1];
    let values: Vec<f32> = x
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("f32 data");
    values.chunks(columns).map(<[f32]>::to_vec).collect()
}

/// Zero-shot classification of image files with a CLIP checkpoint folder (with the `clap`
/// feature, the options of `deepzero zero-shot`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ZeroShotOptions {
    /// The Hugging Face CLIP folder (config.json, model.safetensors, tokenizer.json,
    /// preprocessor_config.json), e.g. a download of openai/clip-vit-base-patch32.
    #[cfg_attr(feature = "clap", arg(long))]
    pub checkpoint: PathBuf,
    /// PNG or JPEG images.
    pub images: Vec<PathBuf>,
    /// The classes as texts, e.g. --labels "a photo of a cat" "a photo of a dog".
    #[cfg_attr(feature = "clap", arg(long, num_args = 1.., required = true))]
    pub labels: Vec<String>,
    /// How many of the best labels to print per image (with --by-text: images per label).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub top: usize,
    /// Rank the images for each label instead: text→image retrieval, a softmax over the
    /// images (CLIP's `logits_per_text`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub by_text: bool,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[cfg_attr(feature = "clap", arg(long))]
    pub backend: Option<String>,
}

impl ZeroShotOptions {
    /// The device of `backend` (else `BURN_DEVICE`, else flex).
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] for a backend that is unknown or not compiled in.
    pub fn device(&self) -> Result<Device, MultimodalError> {
        let backend = deepzero_train::device::Backend::resolve(self.backend.as_deref());
        backend
            .and_then(|b| b.device())
            .map_err(|e| MultimodalError::Invalid(e.to_string()))
    }
}

/// One query's best matches, most probable first: an image's labels, or (`by_text`) a label's
/// images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ranking {
    /// The image file, or the label.
    pub query: String,
    /// `(label or image, probability)` pairs.
    pub ranked: Vec<(String, f32)>,
}

impl std::fmt::Display for Ranking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.query)?;
        for (label, p) in &self.ranked {
            write!(f, "\n  {p:.4}  {label}")?;
        }
        Ok(())
    }
}

/// Loads the checkpoint of `options` and ranks its labels for each image (or, `by_text`, the
/// images for each label).
///
/// # Errors
/// [`MultimodalError`] for a folder that is not a CLIP checkpoint, no image, an image that does
/// not decode (naming the file), an empty label list or a label longer than the context.
pub fn zero_shot_files(
    options: &ZeroShotOptions,
    device: &Device,
) -> Result<Vec<Ranking>, MultimodalError> {
    if options.images.is_empty() || options.labels.is_empty() {
        return Err(MultimodalError::Invalid(
            "zero-shot needs at least one image and one label".into(),
        ));
    }
    let clip = ClipPipeline::load(&options.checkpoint, device)?;
    let images = options
        .images
        .iter()
        .map(|path| {
            image::open(path)
                .map_err(|e| MultimodalError::Invalid(format!("{}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let labels: Vec<&str> = options.labels.iter().map(String::as_str).collect();
    let names: Vec<String> = options
        .images
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let texts: Vec<String> = options.labels.clone();
    let (queries, candidates, probs) = if options.by_text {
        (texts, names, clip.retrieve(&images, &labels)?)
    } else {
        (names, texts, clip.zero_shot(&images, &labels)?)
    };
    Ok(queries
        .into_iter()
        .zip(probs)
        .map(|(query, probs)| {
            let mut ranked: Vec<(String, f32)> = candidates.iter().cloned().zip(probs).collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            ranked.truncate(options.top.max(1));
            Ranking { query, ranked }
        })
        .collect())
}

/// Copies `TOWER.encoder.layers.i.*` into the blocks of `encoder`.
fn fill_encoder(
    encoder: &mut TransformerEncoder,
    ckpt: &Checkpoint,
    tower: &str,
    config: &ClipTowerConfig,
    device: &Device,
) -> Result<(), HfError> {
    let (d, ff) = (config.width, config.mlp_width);
    for (i, layer) in encoder.layers.iter_mut().enumerate() {
        let key = |name: &str| format!("{tower}.encoder.layers.{i}.{name}");
        let attn = &mut layer.self_attn;
        for (linear, name) in [
            (&mut attn.query, "self_attn.q_proj"),
            (&mut attn.key, "self_attn.k_proj"),
            (&mut attn.value, "self_attn.v_proj"),
            (&mut attn.output, "self_attn.out_proj"),
        ] {
            set_torch_linear(linear, ckpt, &key(name), d, d, device)?;
        }
        set_layer_norm(&mut layer.norm_attn, ckpt, &key("layer_norm1"), d, device)?;
        let mlp = &mut layer.feed_forward;
        set_torch_linear(&mut mlp.linear_inner, ckpt, &key("mlp.fc1"), d, ff, device)?;
        set_torch_linear(&mut mlp.linear_outer, ckpt, &key("mlp.fc2"), ff, d, device)?;
        set_layer_norm(&mut layer.norm_ff, ckpt, &key("layer_norm2"), d, device)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use deepzero_core::gradcheck::max_abs_difference;
    use deepzero_sequence::hf::HfTokenizer;

    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip/tiny")
    }

    fn golden() -> serde_json::Value {
        let text = std::fs::read_to_string(fixture().join("golden.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn floats(value: &serde_json::Value) -> Vec<f32> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    }

    fn assert_equal<const D: usize>(name: &str, ours: Tensor<D>, theirs: &serde_json::Value) {
        let ours: Vec<f32> = ours.into_data().try_to_vec().unwrap();
        let theirs = floats(theirs);
        assert_eq!(ours.len(), theirs.len(), "{name}: sizes differ");
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{name}: differs from transformers by {worst}");
    }

    #[test]
    fn states_embeddings_and_logits_equal_transformers() {
        let device = Device::flex();
        let (clip, hf) = load_clip(&fixture(), &device).unwrap();
        assert_eq!(clip.pooling, EosPooling::LargestId);
        assert_eq!(hf.projection_dim, 16);
        let golden = golden();

        let shape: Vec<usize> = serde_json::from_value(golden["pixel_shape"].clone()).unwrap();
        let pixels = Tensor::<4>::from_data(
            TensorData::new(
                floats(&golden["pixel_values"]),
                [shape[0], shape[1], shape[2], shape[3]],
            ),
            &device,
        );
        let (hidden, pooled) = clip.vision.forward(pixels.clone());
        assert_equal(
            "vision last_hidden_state",
            hidden,
            &golden["vision_last_hidden_state"],
        );
        assert_equal("vision pooler_output", pooled, &golden["vision_pooled"]);

        let rows: Vec<Vec<usize>> = serde_json::from_value(golden["input_ids"].clone()).unwrap();
        let (b, t) = (rows.len(), rows[0].len());
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(
                rows.iter()
                    .flatten()
                    .map(|&id| id as i64)
                    .collect::<Vec<_>>(),
                [b, t],
            ),
            &device,
        );
        let pool_at: Vec<i64> = clip
            .pooling
            .positions(&rows)
            .unwrap()
            .into_iter()
            .map(|p| p as i64)
            .collect();
        let pool_at = Tensor::<1, Int>::from_data(TensorData::new(pool_at, [b]), &device);
        let (hidden, pooled) = clip.text.forward(ids, pool_at);
        assert_equal(
            "text last_hidden_state",
            hidden,
            &golden["text_last_hidden_state"],
        );
        assert_equal("text pooler_output", pooled, &golden["text_pooled"]);

        // The rows are padded with the end-of-text id; the import's own padding (zeros after
        // the first end-of-text token) must give the same embeddings.
        let images = clip.image_embeddings(pixels);
        let texts = clip.encode_token_ids(&rows, &device).unwrap();
        assert_equal(
            "image_embeds",
            crate::models::l2_normalize(images.clone()),
            &golden["image_embeds"],
        );
        assert_equal(
            "text_embeds",
            crate::models::l2_normalize(texts.clone()),
            &golden["text_embeds"],
        );
        assert_equal(
            "logits_per_image",
            clip.logits_per_image(images, texts),
            &golden["logits_per_image"],
        );
    }

    #[test]
    fn clip_tokenizer_ids_equal_transformers() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip");
        let tokenizer = HfTokenizer::load(&fixture().join("tokenizer.json")).unwrap();
        let cases: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(dir.join("tokenizer_cases.json")).unwrap(),
        )
        .unwrap();
        assert!(cases.len() >= 8);
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
            assert_eq!(tokenizer.encode(text, true).unwrap(), want, "{text:?}");
        }
        // Decoding joins the words at their end-of-word suffixes.
        let ids = tokenizer.encode("a photo of a cat", true).unwrap();
        assert_eq!(tokenizer.decode(&ids).unwrap(), "a photo of a cat");
    }

    #[test]
    fn processed_pixels_are_within_one_grey_level_of_transformers() {
        let device = Device::flex();
        let processor = ClipImageProcessor::load(&fixture(), 32).unwrap();
        assert_eq!((processor.shortest_edge, processor.crop), (32, [32, 32]));
        let image = image::open(fixture().join("../image.png")).unwrap();
        let ours: Vec<f32> = processor
            .pixels(&image, &device)
            .into_data()
            .try_to_vec()
            .unwrap();
        let theirs = &floats(&golden()["pixel_values"])[..ours.len()]; // the first image
        // Compare in grey levels: undo the normalisation channel by channel.
        let levels = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .enumerate()
                .map(|(i, x)| {
                    let c = i / (32 * 32);
                    (x * processor.std[c] + processor.mean[c]) * 255.0
                })
                .collect()
        };
        let (ours, theirs) = (levels(&ours), levels(theirs));
        let diff = max_abs_difference(&ours, &theirs);
        let mean = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / ours.len() as f32;
        assert!(
            diff <= 1.01 && mean < 0.05,
            "worst {diff} grey levels, mean {mean}"
        );
    }

    #[test]
    fn the_pipeline_tokenizes_embeds_and_classifies_like_transformers() {
        let device = Device::flex();
        let clip = ClipPipeline::load(&fixture(), &device).unwrap();
        let golden = golden();
        let captions: Vec<String> = serde_json::from_value(golden["captions"].clone()).unwrap();
        let captions: Vec<&str> = captions.iter().map(String::as_str).collect();
        // Text: tokenizer + model end to end, as exact as the model alone.
        let texts = clip.text_embeddings(&captions).unwrap();
        assert_equal(
            "text_embeds",
            crate::models::l2_normalize(texts),
            &golden["text_embeds"],
        );
        // Image: through the processor, so within the resampling difference.
        let image = image::open(fixture().join("../image.png")).unwrap();
        let ours: Vec<f32> = crate::models::l2_normalize(
            clip.image_embeddings(std::slice::from_ref(&image)).unwrap(),
        )
        .into_data()
        .try_to_vec()
        .unwrap();
        let theirs = &floats(&golden["image_embeds"])[..ours.len()];
        assert!(
            max_abs_difference(&ours, theirs) < 1e-3,
            "image embedding off by {}",
            max_abs_difference(&ours, theirs)
        );
        // Zero-shot: the softmax of transformers' logits for the first image.
        let probs = clip.zero_shot(&[image], &captions).unwrap();
        let logits = &floats(&golden["logits_per_image"])[..captions.len()];
        let top = logits.iter().cloned().fold(f32::MIN, f32::max);
        let total: f32 = logits.iter().map(|l| (l - top).exp()).sum();
        let want: Vec<f32> = logits.iter().map(|l| (l - top).exp() / total).collect();
        assert_eq!(probs.len(), 1);
        assert!((probs[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(
            max_abs_difference(&probs[0], &want) < 1e-3,
            "{:?} vs {want:?}",
            probs[0]
        );
        assert!(clip.image_embeddings(&[]).is_err());
        assert!(clip.text_embeddings(&[]).is_err());
    }

    #[test]
    fn zero_shot_files_rank_the_labels_and_name_bad_files() {
        let device = Device::flex();
        let labels = ["a photo of a cat", "First Citizen: speak.", "we know't"];
        let mut options = ZeroShotOptions {
            checkpoint: fixture(),
            images: vec![fixture().join("../image.png")],
            labels: labels.map(String::from).to_vec(),
            top: 2,
            by_text: false,
            backend: None,
        };
        let results = zero_shot_files(&options, &device).unwrap();
        assert_eq!(results.len(), 1);
        let ranked = &results[0].ranked;
        assert_eq!(ranked.len(), 2);
        assert!(ranked[0].1 >= ranked[1].1);
        // The same probabilities as the pipeline gives.
        let clip = ClipPipeline::load(&fixture(), &device).unwrap();
        let image = image::open(fixture().join("../image.png")).unwrap();
        let probs = &clip.zero_shot(&[image], &labels).unwrap()[0];
        let best = labels.iter().position(|l| *l == ranked[0].0).unwrap();
        assert_eq!(probs[best], ranked[0].1);
        assert!(probs.iter().all(|&p| p <= ranked[0].1));
        let text = results[0].to_string();
        assert!(
            text.ends_with(&format!("  {:.4}  {}", ranked[1].1, ranked[1].0)),
            "{text}"
        );
        // By text: one ranking per label, over the images (the picture and its mirror image),
        // ordered as the label's column of logits_per_image.
        let dir = tempfile::tempdir().unwrap();
        let mirrored = dir.path().join("mirrored.png");
        image::open(fixture().join("../image.png"))
            .unwrap()
            .fliph()
            .save(&mirrored)
            .unwrap();
        options.by_text = true;
        options.images = vec![fixture().join("../image.png"), mirrored];
        let by_text = zero_shot_files(&options, &device).unwrap();
        assert_eq!(by_text.len(), labels.len());
        let pictures: Vec<_> = options
            .images
            .iter()
            .map(|p| image::open(p).unwrap())
            .collect();
        let logits = clip.model.logits_per_image(
            clip.image_embeddings(&pictures).unwrap(),
            clip.text_embeddings(&labels).unwrap(),
        );
        let logits: Vec<f32> = logits.into_data().try_to_vec().unwrap(); // [2, 3]
        for (j, ranking) in by_text.iter().enumerate() {
            assert_eq!(ranking.query, labels[j]);
            let first_wins = logits[j] >= logits[3 + j];
            let want_first = options.images[if first_wins { 0 } else { 1 }]
                .display()
                .to_string();
            assert_eq!(ranking.ranked[0].0, want_first);
            let total: f32 = ranking.ranked.iter().map(|r| r.1).sum();
            assert!((total - 1.0).abs() < 1e-5, "{ranking}");
        }
        options.by_text = false;

        options.images = vec![fixture().join("config.json")];
        let err = zero_shot_files(&options, &device).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.lines().count() == 1,
            "{err}"
        );
        options.labels.clear();
        let err = zero_shot_files(&options, &device).unwrap_err().to_string();
        assert_eq!(err, "zero-shot needs at least one image and one label");
    }

    #[test]
    fn processor_configs_old_and_new_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |text: &str| std::fs::write(dir.path().join("preprocessor_config.json"), text).unwrap();
        // No file: the released checkpoints' processing for the model's size.
        assert_eq!(
            ClipImageProcessor::load(dir.path(), 224).unwrap(),
            ClipImageProcessor::for_image_size(224)
        );
        // Older files give sizes as numbers.
        write(r#"{"size": 224, "crop_size": 224, "resample": 3}"#);
        let p = ClipImageProcessor::load(dir.path(), 224).unwrap();
        assert_eq!(
            (p.shortest_edge, p.crop, p.mean),
            (224, [224, 224], CLIP_MEAN)
        );
        for (text, message) in [
            (r#"{"resample": 1}"#, "resample 1"),
            (r#"{"do_normalize": false}"#, "do_normalize = false"),
            (r#"{"size": {"height": 3}}"#, "is neither a number nor"),
            (
                r#"{"image_mean": [0.5]}"#,
                "image_mean is not three numbers",
            ),
            ("{", "preprocessor_config.json: EOF"),
        ] {
            write(text);
            let err = ClipImageProcessor::load(dir.path(), 224)
                .unwrap_err()
                .to_string();
            assert!(err.contains(message) && err.lines().count() == 1, "{err}");
        }
        // A crop other than the model's input is refused when the pipeline loads.
        for name in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(fixture().join(name), dir.path().join(name)).unwrap();
        }
        write(r#"{"crop_size": 30}"#);
        let err = ClipPipeline::load(dir.path(), &Device::flex())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("the processor crops to [30, 30] but the model reads 32×32 images"),
            "{err}"
        );
    }

    #[test]
    fn default_config_is_vit_b_32_with_its_parameter_count() {
        use burn::module::Module;
        // transformers' CLIPConfig() defaults are openai/clip-vit-base-patch32's architecture;
        // `sum(p.numel() for p in CLIPModel(CLIPConfig()).parameters())` is 151 277 313.
        let hf: HfClipConfig =
            serde_json::from_str(r#"{"text_config": {}, "vision_config": {}}"#).unwrap();
        let config = hf.model_config().unwrap();
        assert_eq!((config.image_tokens(), config.context_length), (50, 77));
        let model = config.init(&Device::flex()).unwrap();
        assert_eq!(model.num_params(), 151_277_313);
    }

    #[test]
    fn folders_that_are_not_clip_are_one_line_errors() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let err = load_clip(dir.path(), &device).unwrap_err().to_string();
        assert!(err.ends_with("config.json: no such file"), "{err}");

        std::fs::write(
            dir.path().join("config.json"),
            r#"{"model_type": "gpt2", "text_config": {}, "vision_config": {}}"#,
        )
        .unwrap();
        let err = load_clip(dir.path(), &device).unwrap_err().to_string();
        assert!(
            err.contains("model_type `gpt2` is not a CLIPModel"),
            "{err}"
        );

        // The fixture's config with a wider text tower than its weights.
        let config = std::fs::read_to_string(fixture().join("config.json")).unwrap();
        let config = config.replace("\"hidden_size\": 24", "\"hidden_size\": 28");
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        std::fs::copy(
            fixture().join("model.safetensors"),
            dir.path().join("model.safetensors"),
        )
        .unwrap();
        let err = load_clip(dir.path(), &device).unwrap_err().to_string();
        assert!(
            err.contains("has shape [602, 24], but config.json implies [602, 28]"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}
