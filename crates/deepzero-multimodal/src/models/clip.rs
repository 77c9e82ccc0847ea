//! A CLIP-style two-tower model (Radford et al. 2021, "Learning Transferable Visual Models From
//! Natural Language Supervision"; reference: openai/CLIP `model.py`): an image tower and a text
//! tower, each followed by a projection into one `d`-wide space, L2-normalised, compared by a
//! scaled cosine similarity and trained with the symmetric InfoNCE loss over in-batch negatives.
//!
//! ```text
//! images [B,1,S,S] → SceneCnn → flatten → Linear·ReLU → Linear → ‖·‖ → I [B,d]
//! tokens [B,T]     → TextClassifier (Transformer, masked mean, head = projection) → ‖·‖ → T [B,d]
//! logits = exp(t) · I Tᵀ      loss = ½ (CE(logits, diag) + CE(logitsᵀ, diag))
//! ```
//! `t` is the learnable log inverse temperature, initialised to `ln(1/0.07)` and clamped at
//! `ln 100` as in CLIP. The image projection reads the *flattened* map rather than a pooled one:
//! the captions are about where things are, and flattening keeps the position of every region.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use deepzero_sequence::tasks::text_classifier::{
    TextClassifier, TextClassifierConfig, TextEncoderKind,
};
use deepzero_train::{ClassificationStep, Supervised};

use super::scene_cnn::{SceneCnn, SceneCnnConfig};

/// CLIP's largest logit scale: `exp(t)` is clamped at 100.
pub const MAX_LOG_SCALE: f32 = 4.605_170_2; // ln 100

/// Configuration of [`Clip`].
#[derive(Config, Debug)]
pub struct ClipConfig {
    /// Side of the square images (a multiple of 8).
    pub image_size: usize,
    /// Rows of the token embedding table.
    pub vocab_size: usize,
    /// Width of the joint embedding.
    #[config(default = 64)]
    pub embed_dim: usize,
    /// First block's channels of the image CNN.
    #[config(default = 16)]
    pub cnn_width: usize,
    /// Hidden width of the image projection.
    #[config(default = 256)]
    pub image_hidden: usize,
    /// The text encoder.
    #[config(default = "TextEncoderKind::Transformer")]
    pub text_encoder: TextEncoderKind,
    /// Token embedding width (the Transformer's `d_model`).
    #[config(default = 64)]
    pub text_width: usize,
    /// Transformer feed-forward width (or LSTM hidden width).
    #[config(default = 128)]
    pub text_hidden: usize,
    /// Transformer (or LSTM) layers.
    #[config(default = 2)]
    pub text_layers: usize,
    /// Longest caption in tokens.
    #[config(default = 32)]
    pub max_len: usize,
    /// Dropout in the text tower.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Initial temperature (CLIP: 0.07).
    #[config(default = 0.07)]
    pub temperature: f64,
}

impl ClipConfig {
    /// Builds the model.
    ///
    /// # Errors
    /// The text tower's error when its heads do not divide its width.
    pub fn init(&self, device: &Device) -> Result<Clip, deepzero_sequence::SequenceError> {
        let cnn = SceneCnnConfig::new(self.image_size).with_width(self.cnn_width);
        let flat = cnn.channels() * cnn.map_side() * cnn.map_side();
        let text = TextClassifierConfig::new(self.vocab_size, self.embed_dim, self.text_encoder)
            .with_d_embed(self.text_width)
            .with_d_hidden(self.text_hidden)
            .with_n_layers(self.text_layers)
            .with_max_len(self.max_len)
            .with_dropout(self.dropout)
            .init(device)?;
        let scale = (1.0 / self.temperature).ln() as f32;
        Ok(Clip {
            image: cnn.init(device),
            image_hidden: LinearConfig::new(flat, self.image_hidden).init(device),
            image_proj: LinearConfig::new(self.image_hidden, self.embed_dim).init(device),
            text,
            log_scale: Param::from_tensor(Tensor::from_data([scale], device)),
            activation: Relu::new(),
        })
    }
}

/// The two towers and the learnable temperature.
#[derive(Module, Debug)]
pub struct Clip {
    /// Image CNN.
    pub image: SceneCnn,
    /// Flattened map → hidden.
    pub image_hidden: Linear,
    /// Hidden → joint space.
    pub image_proj: Linear,
    /// Text tower; its head is the text projection into the joint space.
    pub text: TextClassifier,
    /// `t`, the log of the logit scale, shape `[1]`.
    pub log_scale: Param<Tensor<1>>,
    activation: Relu,
}

/// One batch of image–caption pairs (pair `i` is image `i` with caption `i`).
#[derive(Clone, Debug)]
pub struct PairBatch {
    /// Normalised images `[B, 1, S, S]`.
    pub images: Tensor<4>,
    /// Caption token ids `[B, T]`.
    pub tokens: Tensor<2, Int>,
    /// Padding mask `[B, T]`, `true` = padded.
    pub padding: Tensor<2, Bool>,
}

/// Rows divided by their L2 norm (`ε = 1e-8` keeps a zero row finite).
///
/// # Shapes
/// - x: `[N, D]` → `[N, D]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8); // [N, 1]
    x / norm
}

/// The symmetric InfoNCE loss of CLIP over in-batch negatives and its logits.
///
/// `image` and `text` are L2-normalised `[B, D]` embeddings where row `i` of each belongs to
/// the same pair; `log_scale` is `t` (`[1]`), clamped at [`MAX_LOG_SCALE`]. Returns the mean of
/// the image→text and text→image cross-entropies (`[1]`) and the logits `exp(t)·I Tᵀ` `[B, B]`.
pub fn clip_loss(
    image: Tensor<2>,
    text: Tensor<2>,
    log_scale: Tensor<1>,
) -> (Tensor<1>, Tensor<2>) {
    let [batch, _] = image.dims();
    let scale = log_scale
        .clamp_max(MAX_LOG_SCALE)
        .exp()
        .unsqueeze_dim::<2>(1); // [1, 1]
    let logits = image.matmul(text.transpose()) * scale; // [B, B]
    let diagonal = |logits: Tensor<2>| {
        let eye = Tensor::<2>::eye(batch, &logits.device());
        // −mean_i log softmax(row i)[i]
        (log_softmax(logits, 1) * eye).sum().neg() / batch as f64
    };
    let loss = (diagonal(logits.clone()) + diagonal(logits.clone().transpose())) / 2.0;
    (loss, logits)
}

impl Clip {
    /// Normalised image embeddings.
    ///
    /// # Shapes
    /// - images: `[B, 1, S, S]` → `[B, d]`
    pub fn embed_images(&self, images: Tensor<4>) -> Tensor<2> {
        let map = self.image.forward(images); // [B, C, h, w]
        let flat = map.flatten::<2>(1, 3); // [B, C·h·w]
        let hidden = self.activation.forward(self.image_hidden.forward(flat));
        l2_normalize(self.image_proj.forward(hidden))
    }

    /// Normalised text embeddings.
    ///
    /// # Shapes
    /// - tokens, padding: `[B, T]` → `[B, d]`
    pub fn embed_texts(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
        l2_normalize(self.text.forward(tokens, padding))
    }

    /// The logit scale `exp(t)` (clamped at 100).
    pub fn logit_scale(&self) -> f32 {
        self.log_scale
            .val()
            .clamp_max(MAX_LOG_SCALE)
            .exp()
            .into_scalar::<f32>()
    }
}

impl Supervised for Clip {
    type Batch = PairBatch;

    /// The symmetric InfoNCE loss; "accuracy" is the image→text in-batch top-1.
    fn step(&self, batch: PairBatch) -> ClassificationStep {
        let image = self.embed_images(batch.images);
        let text = self.embed_texts(batch.tokens, batch.padding);
        let [b, _] = image.dims();
        let (loss, logits) = clip_loss(image, text, self.log_scale.val());
        let targets = Tensor::<1, Int>::arange(0..b as i64, &logits.device());
        ClassificationStep {
            loss,
            logits,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    /// The golden values come from `tests/fixtures/clip_loss.py` (PyTorch 2.x):
    /// `F.cross_entropy(s*I@T.T, arange) / 2 + F.cross_entropy(s*T@I.T, arange) / 2` and its
    /// gradient with respect to `t` through `s = exp(t)`.
    #[test]
    fn clip_loss_matches_pytorch() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/clip_loss.json")).unwrap();
        let read = |key: &str| -> Vec<f32> {
            fixture[key]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|row| {
                    row.as_array()
                        .map(|r| r.iter().map(|v| v.as_f64().unwrap() as f32).collect())
                        .unwrap_or_else(|| vec![row.as_f64().unwrap() as f32])
                })
                .collect()
        };
        let device = Device::flex().autodiff();
        let (image, text) = (read("image"), read("text"));
        let (b, d) = (4, image.len() / 4);
        let image = Tensor::<2>::from_data(TensorData::new(image, [b, d]), &device);
        let text = Tensor::<2>::from_data(TensorData::new(text, [b, d]), &device);
        let t = Tensor::<1>::from_data([fixture["log_scale"].as_f64().unwrap() as f32], &device)
            .require_grad();
        let (loss, logits) = clip_loss(l2_normalize(image), l2_normalize(text), t.clone());
        assert_eq!(logits.dims(), [4, 4]);
        let expected = fixture["loss"].as_f64().unwrap() as f32;
        loss.to_data().assert_approx_eq::<f32>(
            &TensorData::from([expected]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
        let grads = loss.backward();
        let grad = t.grad(&grads).unwrap();
        grad.to_data().assert_approx_eq::<f32>(
            &TensorData::from([fixture["grad_log_scale"].as_f64().unwrap() as f32]),
            Tolerance::rel_abs(1e-4, 1e-6),
        );
    }

    #[test]
    fn clip_loss_by_hand_on_orthonormal_pairs() {
        // I = T = identity (2×2), scale 1: logits = I; each row's CE = ln(1 + e^{-1})… i.e.
        // −log(e / (e + 1)).
        let device = Device::flex();
        let eye = Tensor::<2>::eye(2, &device);
        let (loss, _) = clip_loss(eye.clone(), eye, Tensor::from_data([0.0], &device));
        let expected = -(1f32.exp() / (1f32.exp() + 1.0)).ln();
        loss.to_data()
            .assert_approx_eq::<f32>(&TensorData::from([expected]), Tolerance::default());
        // The scale is clamped at 100.
        let (_, logits) = clip_loss(
            Tensor::<2>::eye(2, &device),
            Tensor::<2>::eye(2, &device),
            Tensor::from_data([10.0], &device),
        );
        let top: f32 = logits.max().into_scalar();
        assert!((top - 100.0).abs() < 1e-3, "{top}");
    }

    #[test]
    fn towers_embed_to_unit_vectors_and_the_step_is_symmetric_infonce() {
        let device = Device::flex();
        let model = ClipConfig::new(16, 12)
            .with_embed_dim(8)
            .with_cnn_width(2)
            .with_image_hidden(16)
            .with_text_width(8)
            .with_text_hidden(16)
            .with_text_layers(1)
            .init(&device)
            .unwrap();
        let images =
            Tensor::<4>::random([3, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let tokens = Tensor::<2, Int>::from_data([[2, 3, 4], [5, 6, 0], [7, 0, 0]], &device);
        let padding = tokens.clone().equal_elem(0);
        let i = model.embed_images(images.clone());
        let norms = i.clone().powi_scalar(2).sum_dim(1).sqrt();
        norms.to_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.0f32], [1.0], [1.0]]),
            Tolerance::default(),
        );
        let t = model.embed_texts(tokens.clone(), padding.clone());
        let step = model.step(PairBatch {
            images,
            tokens,
            padding,
        });
        let (loss, _) = clip_loss(i, t, model.log_scale.val());
        step.loss
            .to_data()
            .assert_approx_eq::<f32>(&loss.to_data(), Tolerance::default());
        assert!((model.logit_scale() - 1.0 / 0.07).abs() < 1e-3);
    }
}
