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
//! The golden test loads `tests/fixtures/clip/tiny`, a seeded random `CLIPModel` written by
//! `tests/fixtures/clip/make_clip_fixture.py`, and compares both towers' states, the
//! embeddings and `logits_per_image` with `transformers`' to 1e-4.

use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use deepzero_sequence::hf::HfError;
use deepzero_sequence::hf::checkpoint::{
    Checkpoint, read_config, set_layer_norm, set_torch_linear,
};
use deepzero_sequence::transformer::{FfnActivation, TransformerEncoder};
use serde::{Deserialize, Serialize};

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
        let tokenizer = HfTokenizer::load(&dir.join("tokenizer.json")).unwrap();
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
            err.contains("has shape [40, 24], but config.json implies [40, 28]"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}
