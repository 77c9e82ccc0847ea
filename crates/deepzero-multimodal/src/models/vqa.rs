//! A visual question answering model over the scene CNN's regions, with the inputs chosen by
//! [`VqaInputs`] so that the fusion and its single-modality baselines are one model trained
//! identically:
//!
//! ```text
//! Fusion (scenes-vqa): stacked cross-attention, text over image regions
//!   images [B,1,S,S] → SceneCnn → regions [B,R,C] → Linear + learned region positions → [B,R,d] → per question [Q,R,d]
//!   question ids [Q,T] → QuestionEncoder → tokens [Q,T,d]
//!   hop 1: u = mean over tokens of LN(t + MHA(t, regions))          (CrossAttentionFusion)
//!   hop k: u = LN(u + MHA(u, regions))                              (the same module, one query)
//!   answer logits = W₂ ReLU(W₁ u)                                   [Q, A]
//! Question (scenes-vqa-text): u = masked mean of the question tokens
//! Image (scenes-vqa-image):   u = ReLU(W · flatten(map))         (one vector per scene, no question)
//! Concat:                     u = ConcatFusion(image vector, question mean)
//! ```
//! The hops follow the stacked attention networks of Yang et al. 2016 ("Stacked Attention
//! Networks for Image Question Answering"): the first finds what the question names ("the
//! sneaker"), the second can look again from there ("left of it"). Learned region positions are
//! added because left/right and counting depend on *where* things are.
//!
//! A batch holds `B` scenes and the `Q` questions asked about them (`scene[q]` says which):
//! the CNN, the costly part, runs once per scene however many questions it has.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use deepzero_train::{ClassificationStep, Supervised};

use super::fusion::{
    ConcatFusion, ConcatFusionConfig, CrossAttentionFusion, CrossAttentionFusionConfig,
};
use super::question_encoder::{QuestionEncoder, QuestionEncoderConfig};
use super::scene_cnn::{SceneCnn, SceneCnnConfig};

/// What a [`VqaModel`] reads.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum VqaInputs {
    /// Image and question, fused by stacked cross-attention over the regions.
    Fusion,
    /// The question alone (the text baseline).
    Question,
    /// The image alone (the image baseline: one answer distribution per scene).
    Image,
    /// Image vector and question vector, fused by concatenation.
    Concat,
}

/// Configuration of [`VqaModel`].
#[derive(Config, Debug)]
pub struct VqaModelConfig {
    /// Side of the square images (a multiple of 8).
    pub image_size: usize,
    /// Question vocabulary size.
    pub vocab_size: usize,
    /// Number of answers.
    pub answers: usize,
    /// Which inputs the model reads.
    #[config(default = "VqaInputs::Fusion")]
    pub inputs: VqaInputs,
    /// First block's channels of the image CNN.
    #[config(default = 8)]
    pub cnn_width: usize,
    /// Width of tokens, regions and the fused vector.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads of the question encoder and the hops.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width of the question encoder.
    #[config(default = 128)]
    pub d_ff: usize,
    /// Question encoder layers.
    #[config(default = 1)]
    pub text_layers: usize,
    /// Cross-attention hops of the fusion.
    #[config(default = 2)]
    pub hops: usize,
    /// Longest question in tokens.
    #[config(default = 24)]
    pub max_len: usize,
    /// Dropout in the question encoder and before the answer layer.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl VqaModelConfig {
    fn reads_image(&self) -> bool {
        self.inputs != VqaInputs::Question
    }

    fn reads_question(&self) -> bool {
        self.inputs != VqaInputs::Image
    }

    /// Builds the model.
    ///
    /// # Errors
    /// A message when the heads do not divide `d_model`, the image side is not a positive
    /// multiple of 8, or the fusion has no hop.
    pub fn init(&self, device: &Device) -> Result<VqaModel, String> {
        if self.image_size == 0 || !self.image_size.is_multiple_of(8) {
            return Err(format!(
                "the image side must be a positive multiple of 8, not {}",
                self.image_size
            ));
        }
        if self.inputs == VqaInputs::Fusion && self.hops == 0 {
            return Err("the attention fusion needs at least one hop".into());
        }
        let cnn = SceneCnnConfig::new(self.image_size).with_width(self.cnn_width);
        let regions = cnn.map_side() * cnn.map_side();
        let d = self.d_model;
        let fusion = self.inputs == VqaInputs::Fusion;
        let global = matches!(self.inputs, VqaInputs::Image | VqaInputs::Concat);
        let question = if self.reads_question() {
            let config = QuestionEncoderConfig::new(self.vocab_size)
                .with_d_model(d)
                .with_n_heads(self.n_heads)
                .with_d_ff(self.d_ff)
                .with_n_layers(self.text_layers)
                .with_max_len(self.max_len)
                .with_dropout(self.dropout);
            Some(config.init(device).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let hops = if fusion {
            (0..self.hops)
                .map(|_| {
                    CrossAttentionFusionConfig::new(d)
                        .with_n_heads(self.n_heads)
                        .init(device)
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok(VqaModel {
            image: self.reads_image().then(|| cnn.init(device)),
            region_proj: fusion.then(|| LinearConfig::new(cnn.channels(), d).init(device)),
            region_position: fusion.then(|| {
                Param::from_tensor(Tensor::random(
                    [1, regions, d],
                    burn::tensor::Distribution::Normal(0.0, 0.02),
                    device,
                ))
            }),
            global_proj: global
                .then(|| LinearConfig::new(cnn.channels() * regions, d).init(device)),
            question,
            hops,
            concat: (self.inputs == VqaInputs::Concat)
                .then(|| ConcatFusionConfig::new(d, d, d).init(device)),
            hidden: LinearConfig::new(d, d).init(device),
            output: LinearConfig::new(d, self.answers).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        })
    }
}

/// Scene CNN and question encoder (each when read), fusion, answer classifier.
#[derive(Module, Debug)]
pub struct VqaModel {
    /// Image CNN (not in the question-only model).
    pub image: Option<SceneCnn>,
    /// Region vector → `d` (fusion).
    pub region_proj: Option<Linear>,
    /// Learned position of each region `[1, R, d]` (fusion).
    pub region_position: Option<Param<Tensor<3>>>,
    /// Flattened map → `d` (image-only and concat).
    pub global_proj: Option<Linear>,
    /// Question tower (not in the image-only model).
    pub question: Option<QuestionEncoder>,
    /// Cross-attention hops (fusion).
    pub hops: Vec<CrossAttentionFusion>,
    /// Concatenation fusion (concat).
    pub concat: Option<ConcatFusion>,
    /// First layer of the answer classifier.
    pub hidden: Linear,
    /// `d` → answer logits.
    pub output: Linear,
    dropout: Dropout,
}

/// Scenes and the questions asked about them.
#[derive(Clone, Debug)]
pub struct VqaBatch {
    /// Normalised images `[B, 1, S, S]`.
    pub images: Tensor<4>,
    /// Question token ids, padded `[Q, T]`.
    pub tokens: Tensor<2, Int>,
    /// Padding of `tokens` `[Q, T]` (`true` = padded).
    pub padding: Tensor<2, Bool>,
    /// The scene (row of `images`) of each question `[Q]`.
    pub scene: Tensor<1, Int>,
    /// The answer of each question `[Q]`.
    pub answers: Tensor<1, Int>,
}

impl VqaModel {
    /// Answer logits.
    ///
    /// # Shapes
    /// - images: `[B, 1, S, S]`; tokens, padding: `[Q, T]`; scene: `[Q]` (values in `0..B`)
    /// - output: `[Q, A]`
    pub fn forward(
        &self,
        images: Tensor<4>,
        tokens: Tensor<2, Int>,
        padding: Tensor<2, Bool>,
        scene: Tensor<1, Int>,
    ) -> Tensor<2> {
        let features = self.features(images, tokens, padding, scene).0;
        let hidden = relu(self.hidden.forward(features));
        self.output.forward(self.dropout.forward(hidden))
    }

    /// The fused vector of each question and, for the fusion, the attention of its first hop
    /// over the regions averaged over heads and real tokens.
    ///
    /// # Shapes
    /// - as [`VqaModel::forward`]; output: `[Q, d]` and `[Q, R]`
    pub fn features(
        &self,
        images: Tensor<4>,
        tokens: Tensor<2, Int>,
        padding: Tensor<2, Bool>,
        scene: Tensor<1, Int>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let question = self
            .question
            .as_ref()
            .map(|q| q.tokens(tokens, padding.clone())); // [Q, T, d]
        let cnn = self.image.as_ref();
        match (cnn, question, &self.region_proj) {
            // Fusion: hops of cross-attention over the regions.
            (Some(cnn), Some(tokens), Some(proj)) => {
                let mut regions = proj.forward(cnn.regions(images)); // [B, R, d]
                if let Some(position) = &self.region_position {
                    regions = regions + position.val();
                }
                let regions = regions.select(0, scene); // [Q, R, d]
                let first = self.hops[0].forward(tokens, Some(padding.clone()), regions.clone());
                let keep = padding.bool_not().float(); // [Q, T]
                let [q, _, t, r] = first.weights.dims();
                // Mean attention over heads, then over the real tokens.
                let per_token = first.weights.mean_dim(1).reshape([q, t, r]); // [Q, T, R]
                let counts = keep.clone().sum_dim(1).clamp_min(1.0); // [Q, 1]
                let attention = (per_token * keep.unsqueeze_dim::<3>(2))
                    .sum_dim(1)
                    .reshape([q, r])
                    / counts;
                let mut u = first.fused; // [Q, d]
                for hop in &self.hops[1..] {
                    u = hop
                        .forward(u.unsqueeze_dim::<3>(1), None, regions.clone())
                        .fused;
                }
                (u, Some(attention))
            }
            (cnn, question, _) => {
                let image = cnn.zip(self.global_proj.as_ref()).map(|(cnn, proj)| {
                    let flat = cnn.forward(images).flatten::<2>(1, 3); // [B, C·h·w]
                    relu(proj.forward(flat)).select(0, scene) // [Q, d]
                });
                let text = question.map(|t| QuestionEncoder::pooled(t, padding)); // [Q, d]
                let fused = match (image, text, &self.concat) {
                    (Some(v), Some(t), Some(concat)) => concat.forward(v, t),
                    (Some(v), None, _) => v,
                    (None, Some(t), _) => t,
                    _ => unreachable!("a VQA model reads the image, the question or both"),
                };
                (fused, None)
            }
        }
    }
}

impl Supervised for VqaModel {
    type Batch = VqaBatch;

    /// Cross-entropy of the answer of each question; accuracy per question.
    fn step(&self, batch: VqaBatch) -> ClassificationStep {
        let logits = self.forward(batch.images, batch.tokens, batch.padding, batch.scene);
        ClassificationStep::from_logits(logits, batch.answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};

    fn config(inputs: VqaInputs) -> VqaModelConfig {
        VqaModelConfig::new(16, 10, 5)
            .with_inputs(inputs)
            .with_cnn_width(2)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
    }

    fn batch(device: &Device) -> VqaBatch {
        let images = Tensor::<4>::random(
            [2, 1, 16, 16],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        );
        let tokens = Tensor::<2, Int>::from_data([[3, 4, 5], [6, 7, 0], [3, 8, 0]], device);
        VqaBatch {
            images,
            padding: tokens.clone().equal_elem(0),
            tokens,
            scene: Tensor::from_data([0, 0, 1], device),
            answers: Tensor::from_data([1, 2, 4], device),
        }
    }

    #[test]
    fn every_variant_answers_each_question_and_reads_only_its_inputs() {
        let device = Device::flex();
        let b = batch(&device);
        for inputs in [
            VqaInputs::Fusion,
            VqaInputs::Question,
            VqaInputs::Image,
            VqaInputs::Concat,
        ] {
            let model = config(inputs).init(&device).unwrap();
            let logits = model.forward(
                b.images.clone(),
                b.tokens.clone(),
                b.padding.clone(),
                b.scene.clone(),
            );
            assert_eq!(logits.dims(), [3, 5], "{inputs:?}");
            let (_, attention) = model.features(
                b.images.clone(),
                b.tokens.clone(),
                b.padding.clone(),
                b.scene.clone(),
            );
            if let Some(a) = attention {
                assert_eq!(a.dims(), [3, 4]); // 16/8 = 2×2 regions
                let sums: Vec<f32> = a.sum_dim(1).into_data().try_into_vec().unwrap();
                assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
            }
            // Another image changes nothing for the text model; another question nothing for
            // the image model; both change the fusion.
            let other_images = b.images.clone().neg();
            let other_tokens =
                Tensor::<2, Int>::from_data([[9, 4, 5], [6, 9, 0], [9, 8, 0]], &device);
            let host = |x: Tensor<2>| -> Vec<f32> { x.into_data().try_into_vec().unwrap() };
            let base = host(logits);
            let by_image = host(model.forward(
                other_images,
                b.tokens.clone(),
                b.padding.clone(),
                b.scene.clone(),
            ));
            let by_text = host(model.forward(
                b.images.clone(),
                other_tokens,
                b.padding.clone(),
                b.scene.clone(),
            ));
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
            assert_eq!(
                same(&base, &by_image),
                inputs == VqaInputs::Question,
                "{inputs:?}"
            );
            assert_eq!(
                same(&base, &by_text),
                inputs == VqaInputs::Image,
                "{inputs:?}"
            );
        }
        assert!(
            config(VqaInputs::Fusion)
                .with_hops(0)
                .init(&device)
                .is_err()
        );
        assert!(
            config(VqaInputs::Fusion)
                .with_n_heads(3)
                .init(&device)
                .is_err()
        );
        let err = VqaModelConfig::new(20, 10, 5).init(&device).unwrap_err();
        assert!(err.contains("multiple of 8"), "{err}");
    }

    #[test]
    fn questions_of_one_scene_share_its_image() {
        // Question 1 is question 0's scene with other words: with the question tower's words
        // equal, the two rows are equal.
        let device = Device::flex();
        let model = config(VqaInputs::Fusion).init(&device).unwrap();
        let b = batch(&device);
        let tokens = Tensor::<2, Int>::from_data([[3, 4, 5], [3, 4, 5], [3, 4, 5]], &device);
        let padding = tokens.clone().equal_elem(0);
        let logits: Vec<f32> = model
            .forward(b.images, tokens, padding, b.scene)
            .into_data()
            .try_into_vec()
            .unwrap();
        assert!(
            logits[..5]
                .iter()
                .zip(&logits[5..10])
                .all(|(a, c)| (a - c).abs() < 1e-6)
        );
        assert!(
            logits[..5]
                .iter()
                .zip(&logits[10..])
                .any(|(a, c)| (a - c).abs() > 1e-6)
        );
    }

    #[test]
    fn loss_falls_on_a_tiny_set() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let mut model = config(VqaInputs::Fusion)
            .with_dropout(0.0)
            .init(&device)
            .unwrap();
        let b = batch(&device);
        let mut optim = AdamConfig::new().init();
        let first = model.step(b.clone()).loss.into_scalar::<f32>();
        let mut last = first;
        for _ in 0..40 {
            let step = model.step(b.clone());
            last = step.loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(step.loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        assert!(last < first * 0.2, "{first} → {last}");
        assert_eq!(model.step(b).correct(), 3);
    }
}
