//! The OpenAI CLIP architecture (Radford et al. 2021, "Learning Transferable Visual Models
//! From Natural Language Supervision"): a Vision Transformer image tower and a causal
//! Transformer text tower, each projected without bias into one joint space. This is the
//! architecture of the released checkpoints (ViT-B/32, ViT-B/16, ViT-L/14); their weights load
//! with [`crate::hf_clip::load_clip`]. The scene CLIP trained here from scratch is
//! [`super::clip`].
//!
//! ```text
//! image  [B, 3, S, S] → patches (conv, kernel = stride = P, no bias) → [CLS; patches] + positions
//!        → LN_pre → N pre-norm blocks → LN_post(CLS) → W_image            → [B, D]
//! text   [B, T] ids   → tokens + positions → N pre-norm causal blocks → LN_final
//!        → the vector at the end-of-text token → W_text                      → [B, D]
//! logits_per_image = exp(t) · normalise(image) · normalise(text)ᵀ            → [B_img, B_txt]
//! ```
//!
//! The blocks are `deepzero_sequence`'s pre-norm Transformer encoder layers (`x + Attn(LN(x))`,
//! `x + MLP(LN(x))`) with CLIP's `quick_gelu` (`x σ(1.702 x)`). The text tower's causal mask is
//! what makes padding harmless: the end-of-text position never attends to what comes after it,
//! so a batch may be padded with any id.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_sequence::attention::causal_mask;
use deepzero_sequence::transformer::{
    FfnActivation, NormPosition, TransformerEncoder, TransformerEncoderConfig,
    TransformerLayerConfig,
};
use serde::{Deserialize, Serialize};

use super::clip::l2_normalize;
use crate::MultimodalError;

/// The Transformer of one tower.
#[derive(Config, Debug, PartialEq)]
pub struct ClipTowerConfig {
    /// Width `d` (768 for ViT-B/32's image tower, 512 for its text tower).
    pub width: usize,
    /// Blocks (12).
    pub layers: usize,
    /// Attention heads (12 and 8).
    pub heads: usize,
    /// Inner width of the MLP (`4 d`).
    pub mlp_width: usize,
    /// The MLP's activation (`quick_gelu` in the OpenAI checkpoints).
    #[config(default = "FfnActivation::QuickGelu")]
    pub activation: FfnActivation,
    /// Layer-norm `ε`.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl ClipTowerConfig {
    fn encoder(
        &self,
        final_norm: bool,
        device: &Device,
    ) -> Result<TransformerEncoder, MultimodalError> {
        TransformerEncoderConfig::new(
            TransformerLayerConfig::new(self.width, self.heads, self.mlp_width)
                .with_dropout(0.0)
                .with_norm(NormPosition::Pre)
                .with_activation(self.activation)
                .with_layer_norm_eps(self.layer_norm_eps),
            self.layers,
        )
        .with_final_norm(final_norm)
        .init(device)
        .map_err(|e| MultimodalError::Invalid(format!("CLIP tower: {e}")))
    }

    fn layer_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.width)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }
}

/// Where the text tower reads each text's vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EosPooling {
    /// At the first occurrence of the largest id: the end-of-text token is the last id of
    /// CLIP's vocabulary (what `transformers` does when `eos_token_id` is the legacy 2, as in
    /// the released configs).
    LargestId,
    /// At the first occurrence of this id.
    Token(usize),
}

impl EosPooling {
    /// The position each row is pooled at.
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] for an empty row, or a row without the end-of-text token.
    pub fn positions(self, rows: &[Vec<usize>]) -> Result<Vec<usize>, MultimodalError> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let found = match self {
                    Self::LargestId => row
                        .iter()
                        .max()
                        .and_then(|m| row.iter().position(|id| id == m)),
                    Self::Token(eos) => row.iter().position(|&id| id == eos),
                };
                found.ok_or_else(|| {
                    MultimodalError::Invalid(format!("text {i} has no end-of-text token"))
                })
            })
            .collect()
    }
}

/// Configuration of an [`OpenAiClip`].
#[derive(Config, Debug, PartialEq)]
pub struct OpenAiClipConfig {
    /// The image tower's Transformer.
    pub vision: ClipTowerConfig,
    /// Input side `S` (224).
    pub image_size: usize,
    /// Patch side `P` (32 for ViT-B/32); must divide `S`.
    pub patch_size: usize,
    /// Image channels (3).
    #[config(default = 3)]
    pub channels: usize,
    /// The text tower's Transformer.
    pub text: ClipTowerConfig,
    /// Vocabulary size (49 408).
    pub vocab_size: usize,
    /// Context length in tokens (77).
    pub context_length: usize,
    /// Joint embedding width `D` (512).
    pub projection_dim: usize,
    /// Where a text's vector is read.
    #[config(default = "EosPooling::LargestId")]
    pub pooling: EosPooling,
}

impl OpenAiClipConfig {
    /// Patches per image plus the class token.
    pub fn image_tokens(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }

    /// Builds the model with random weights (the import overwrites every tensor).
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] when the patch side does not divide the image side, or a
    /// width is not divisible by its heads.
    pub fn init(&self, device: &Device) -> Result<OpenAiClip, MultimodalError> {
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(MultimodalError::Invalid(format!(
                "CLIP: patch size {} does not divide image size {}",
                self.patch_size, self.image_size
            )));
        }
        let (dv, dt) = (self.vision.width, self.text.width);
        let p = self.patch_size;
        let vision = ClipVisionTower {
            patch_embedding: Conv2dConfig::new([self.channels, dv], [p, p])
                .with_stride([p, p])
                .with_bias(false)
                .init(device),
            class_embedding: Param::from_tensor(Tensor::zeros([dv], device)),
            position_embedding: Param::from_tensor(Tensor::zeros(
                [self.image_tokens(), dv],
                device,
            )),
            pre_norm: self.vision.layer_norm(device),
            encoder: self.vision.encoder(false, device)?,
            post_norm: self.vision.layer_norm(device),
        };
        let text = ClipTextTower {
            token_embedding: EmbeddingConfig::new(self.vocab_size, dt).init(device),
            position_embedding: Param::from_tensor(Tensor::zeros(
                [self.context_length, dt],
                device,
            )),
            encoder: self.text.encoder(true, device)?,
        };
        let projection = |d_in| {
            LinearConfig::new(d_in, self.projection_dim)
                .with_bias(false)
                .init(device)
        };
        Ok(OpenAiClip {
            vision,
            text,
            visual_projection: projection(dv),
            text_projection: projection(dt),
            // ln(1 / 0.07), CLIP's initial temperature.
            logit_scale: Param::from_tensor(Tensor::from_floats([2.6592], device)),
            pooling: self.pooling,
        })
    }
}

/// The Vision Transformer image tower.
#[derive(Module, Debug)]
pub struct ClipVisionTower {
    /// Patch embedding: a convolution with kernel = stride = `P`, no bias.
    pub patch_embedding: Conv2d,
    /// The class token `[d]`, whose final state is the image's vector.
    pub class_embedding: Param<Tensor<1>>,
    /// Learned positions `[1 + (S/P)², d]`, the class token's first.
    pub position_embedding: Param<Tensor<2>>,
    /// Layer norm before the blocks (`pre_layrnorm` in `transformers`).
    pub pre_norm: LayerNorm,
    /// The pre-norm blocks (no final norm: only the class token is normalised).
    pub encoder: TransformerEncoder,
    /// Layer norm of the class token's final state.
    pub post_norm: LayerNorm,
}

impl ClipVisionTower {
    /// # Shapes
    /// - pixels: `[B, C, S, S]`, normalised as CLIP's processor does
    /// - output: every token's final state `[B, 1 + (S/P)², d]` and the pooled (post-norm class
    ///   token) vector `[B, d]`
    pub fn forward(&self, pixels: Tensor<4>) -> (Tensor<3>, Tensor<2>) {
        let patches = self.patch_embedding.forward(pixels); // [B, d, S/P, S/P]
        let [b, d, gh, gw] = patches.dims();
        let patches = patches.reshape([b, d, gh * gw]).swap_dims(1, 2); // [B, N, d]
        let class = self
            .class_embedding
            .val()
            .reshape([1, 1, d])
            .expand([b, 1, d]);
        let x =
            Tensor::cat(vec![class, patches], 1) + self.position_embedding.val().unsqueeze::<3>();
        let hidden = self.encoder.forward(self.pre_norm.forward(x), None);
        let class_state = hidden.clone().slice([0..b, 0..1, 0..d]).reshape([b, d]);
        (hidden, self.post_norm.forward(class_state))
    }
}

/// The causal Transformer text tower.
#[derive(Module, Debug)]
pub struct ClipTextTower {
    /// Token embeddings `[V, d]`.
    pub token_embedding: Embedding,
    /// Learned positions `[context, d]`.
    pub position_embedding: Param<Tensor<2>>,
    /// The pre-norm causal blocks and the final layer norm.
    pub encoder: TransformerEncoder,
}

impl ClipTextTower {
    /// # Shapes
    /// - ids: `[B, T]` (`T` ≤ the context length), pool_at: `[B]`, each row's end-of-text
    ///   position ([`EosPooling::positions`])
    /// - output: every position's final state `[B, T, d]` and the pooled vector `[B, d]`
    pub fn forward(&self, ids: Tensor<2, Int>, pool_at: Tensor<1, Int>) -> (Tensor<3>, Tensor<2>) {
        let [b, t] = ids.dims();
        let device = ids.device();
        let positions = self
            .position_embedding
            .val()
            .narrow(0, 0, t)
            .unsqueeze::<3>();
        let x = self.token_embedding.forward(ids) + positions; // [B, T, d]
        let hidden = self.encoder.forward(x, Some(causal_mask(b, t, &device)));
        let d = hidden.dims()[2];
        let index = pool_at.reshape([b, 1, 1]).expand([b, 1, d]);
        let pooled = hidden.clone().gather(1, index).reshape([b, d]);
        (hidden, pooled)
    }
}

/// CLIP: both towers, their projections and the learned temperature.
#[derive(Module, Debug)]
pub struct OpenAiClip {
    /// The image tower.
    pub vision: ClipVisionTower,
    /// The text tower.
    pub text: ClipTextTower,
    /// Image vector → joint space (no bias).
    pub visual_projection: Linear,
    /// Text vector → joint space (no bias).
    pub text_projection: Linear,
    /// `t` in `exp(t)`, the logits' scale (`[1]`).
    pub logit_scale: Param<Tensor<1>>,
    /// Where a text's vector is read.
    #[module(skip)]
    pub pooling: EosPooling,
}

impl OpenAiClip {
    /// Joint-space image embeddings (not normalised).
    ///
    /// # Shapes
    /// - pixels: `[B, C, S, S]` → `[B, D]`
    pub fn image_embeddings(&self, pixels: Tensor<4>) -> Tensor<2> {
        let (_, pooled) = self.vision.forward(pixels);
        self.visual_projection.forward(pooled)
    }

    /// Joint-space text embeddings (not normalised) of a padded batch.
    ///
    /// # Shapes
    /// - ids: `[B, T]`, pool_at: `[B]` → `[B, D]`
    pub fn text_embeddings(&self, ids: Tensor<2, Int>, pool_at: Tensor<1, Int>) -> Tensor<2> {
        let (_, pooled) = self.text.forward(ids, pool_at);
        self.text_projection.forward(pooled)
    }

    /// Joint-space embeddings of token-id lists (each with its start and end-of-text tokens;
    /// lengths may differ: the batch is padded here).
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] for no texts, an empty text, a text longer than the
    /// context, an id outside the vocabulary or a text without its end-of-text token.
    pub fn encode_token_ids(
        &self,
        texts: &[Vec<usize>],
        device: &Device,
    ) -> Result<Tensor<2>, MultimodalError> {
        let context = self.text.position_embedding.dims()[0];
        let vocab = self.text.token_embedding.weight.dims()[0];
        let width = texts.iter().map(Vec::len).max().unwrap_or(0);
        if texts.is_empty() || width == 0 {
            return Err(MultimodalError::Invalid("no text to encode".into()));
        }
        if width > context {
            return Err(MultimodalError::Invalid(format!(
                "a text of {width} tokens is longer than CLIP's context of {context}"
            )));
        }
        if let Some(&id) = texts.iter().flatten().find(|&&id| id >= vocab) {
            return Err(MultimodalError::Invalid(format!(
                "token id {id} is outside the vocabulary of {vocab}"
            )));
        }
        let pool_at = self.pooling.positions(texts)?;
        let padded: Vec<i64> = texts
            .iter()
            .flat_map(|t| {
                t.iter()
                    .map(|&id| id as i64)
                    .chain(std::iter::repeat_n(0, width - t.len()))
            })
            .collect();
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(padded, [texts.len(), width]), device);
        let pool_at = Tensor::<1, Int>::from_data(
            TensorData::new(
                pool_at.into_iter().map(|p| p as i64).collect::<Vec<_>>(),
                [texts.len()],
            ),
            device,
        );
        Ok(self.text_embeddings(ids, pool_at))
    }

    /// `exp(t) · normalise(images) · normalise(texts)ᵀ`, CLIP's `logits_per_image` (its
    /// transpose is `logits_per_text`).
    ///
    /// # Shapes
    /// - image_embeddings: `[B_img, D]`, text_embeddings: `[B_txt, D]` → `[B_img, B_txt]`
    pub fn logits_per_image(
        &self,
        image_embeddings: Tensor<2>,
        text_embeddings: Tensor<2>,
    ) -> Tensor<2> {
        let scale = self.logit_scale.val().exp().reshape([1, 1]);
        l2_normalize(image_embeddings).matmul(l2_normalize(text_embeddings).transpose()) * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> OpenAiClipConfig {
        OpenAiClipConfig::new(
            ClipTowerConfig::new(16, 1, 2, 32),
            16,
            4,
            ClipTowerConfig::new(8, 1, 2, 16),
            12,
            6,
            5,
        )
    }

    #[test]
    fn shapes_of_both_towers_and_the_logits() {
        let device = Device::flex();
        let clip = tiny().init(&device).unwrap();
        let pixels = Tensor::<4>::ones([3, 3, 16, 16], &device);
        let (hidden, pooled) = clip.vision.forward(pixels.clone());
        assert_eq!(hidden.dims(), [3, 17, 16]);
        assert_eq!(pooled.dims(), [3, 16]);
        let images = clip.image_embeddings(pixels);
        assert_eq!(images.dims(), [3, 5]);
        let texts = clip
            .encode_token_ids(&[vec![10, 3, 11], vec![10, 11]], &device)
            .unwrap();
        assert_eq!(texts.dims(), [2, 5]);
        assert_eq!(clip.logits_per_image(images, texts).dims(), [3, 2]);
    }

    #[test]
    fn padding_after_the_end_of_text_token_changes_nothing() {
        let device = Device::flex();
        let clip = tiny().init(&device).unwrap();
        let alone = clip.encode_token_ids(&[vec![10, 4, 11]], &device).unwrap();
        let padded = clip
            .encode_token_ids(&[vec![10, 4, 11], vec![10, 1, 2, 3, 5, 11]], &device)
            .unwrap()
            .narrow(0, 0, 1);
        let diff: f32 = (alone - padded).abs().max().into_scalar();
        assert!(diff < 1e-6, "padding moved the embedding by {diff}");
    }

    #[test]
    fn pooling_positions_follow_the_two_rules() {
        let rows = [vec![10, 4, 11, 11], vec![10, 11]];
        assert_eq!(EosPooling::LargestId.positions(&rows).unwrap(), [2, 1]);
        assert_eq!(EosPooling::Token(4).positions(&rows[..1]).unwrap(), [1]);
        let err = EosPooling::Token(4).positions(&rows).unwrap_err();
        assert_eq!(err.to_string(), "text 1 has no end-of-text token");
    }

    #[test]
    fn bad_texts_and_configs_are_one_line_errors() {
        let device = Device::flex();
        let clip = tiny().init(&device).unwrap();
        for (texts, message) in [
            (vec![], "no text to encode"),
            (vec![vec![]], "no text to encode"),
            (
                vec![vec![1; 7]],
                "a text of 7 tokens is longer than CLIP's context of 6",
            ),
            (
                vec![vec![10, 12]],
                "token id 12 is outside the vocabulary of 12",
            ),
        ] {
            let err = clip.encode_token_ids(&texts, &device).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        let mut config = tiny();
        config.patch_size = 5;
        let err = config.init(&device).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLIP: patch size 5 does not divide image size 16"
        );
    }
}
