//! An image captioner: the scene CNN encodes the image, a Transformer decoder
//! ([`deepzero_sequence::transformer::TransformerDecoder`]) writes the caption word by word,
//! attending over the image through cross-attention — the Transformer form of "Show, Attend and
//! Tell" (Xu et al. 2015), whose decoder attends over the regions of the CNN's last map.
//!
//! ```text
//! images [B,1,S,S] → SceneCnn → regions [B,R,C] → Linear + learned region positions → memory [B,R,d]
//! <bos> y₁ … y_{n}  → embedding·√d + sinusoids → decoder (causal self-attn, cross-attn on memory) → logits
//! ```
//! Two memories, to measure what attention over regions buys ([`CaptionMemory`]):
//! - `Regions`: one memory slot per region of the map (R = (S/8)²): each word attends where it
//!   needs to look;
//! - `Global`: a single slot, a linear map of the *whole flattened* feature map ("Show and
//!   Tell", Vinyals et al. 2015): the same information, position included, but nothing to
//!   attend over.
//!
//! Token ids: the caption vocabulary's (`<pad>` 0, `<unk>` 1, words), then `<bos>` = `V` and
//! `<eos>` = `V + 1`, so the output layer has `V + 2` classes.

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_sequence::attention::decoder_self_mask;
use deepzero_sequence::transformer::{
    FfnActivation, NormPosition, PositionalEncoding, PositionalKind, TransformerDecoder,
    TransformerDecoderConfig, TransformerLayerConfig,
};
use deepzero_train::{ClassificationStep, Supervised};

use super::scene_cnn::{SceneCnn, SceneCnnConfig};

/// What the decoder's cross-attention reads.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CaptionMemory {
    /// One slot per region of the feature map (attention over the image).
    Regions,
    /// One slot: the whole flattened map (no attention over regions).
    Global,
}

/// Configuration of [`Captioner`].
#[derive(Config, Debug)]
pub struct CaptionerConfig {
    /// Side of the square images (a multiple of 8).
    pub image_size: usize,
    /// Caption vocabulary size `V` (`<pad>`, `<unk>` and the words); the model adds `<bos>`, `<eos>`.
    pub vocab_size: usize,
    /// Regions or a single global slot.
    #[config(default = "CaptionMemory::Regions")]
    pub memory: CaptionMemory,
    /// First block's channels of the image CNN.
    #[config(default = 8)]
    pub cnn_width: usize,
    /// Decoder width.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width.
    #[config(default = 128)]
    pub d_ff: usize,
    /// Decoder layers.
    #[config(default = 2)]
    pub n_layers: usize,
    /// Longest caption in tokens (`<bos>`/`<eos>` included).
    #[config(default = 32)]
    pub max_len: usize,
    /// Dropout in the decoder.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl CaptionerConfig {
    /// The id of `<bos>`.
    pub fn bos(&self) -> usize {
        self.vocab_size
    }

    /// The id of `<eos>`.
    pub fn eos(&self) -> usize {
        self.vocab_size + 1
    }

    /// Builds the model.
    ///
    /// # Errors
    /// The decoder's error when the heads do not divide `d_model`.
    pub fn init(&self, device: &Device) -> Result<Captioner, deepzero_sequence::SequenceError> {
        let cnn = SceneCnnConfig::new(self.image_size).with_width(self.cnn_width);
        let regions = cnn.map_side() * cnn.map_side();
        let (region_proj, global_proj, slots) = match self.memory {
            CaptionMemory::Regions => (
                Some(LinearConfig::new(cnn.channels(), self.d_model).init(device)),
                None,
                regions,
            ),
            CaptionMemory::Global => (
                None,
                Some(LinearConfig::new(cnn.channels() * regions, self.d_model).init(device)),
                1,
            ),
        };
        let layer = TransformerLayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_dropout(self.dropout)
            .with_norm(NormPosition::Pre)
            .with_activation(FfnActivation::Gelu);
        Ok(Captioner {
            image: cnn.init(device),
            region_proj,
            global_proj,
            memory_position: Param::from_tensor(Tensor::random(
                [1, slots, self.d_model],
                burn::tensor::Distribution::Normal(0.0, 0.02),
                device,
            )),
            embedding: EmbeddingConfig::new(self.vocab_size + 2, self.d_model).init(device),
            position: PositionalEncoding::new(
                PositionalKind::Sinusoidal,
                self.d_model,
                self.max_len,
                device,
            ),
            decoder: TransformerDecoderConfig::new(layer, self.n_layers).init(device)?,
            generator: LinearConfig::new(self.d_model, self.vocab_size + 2).init(device),
        })
    }
}

/// Scene CNN, memory projection, Transformer decoder, output layer.
#[derive(Module, Debug)]
pub struct Captioner {
    /// Image CNN.
    pub image: SceneCnn,
    /// Region vector → `d` (regions memory).
    pub region_proj: Option<Linear>,
    /// Flattened map → `d` (global memory).
    pub global_proj: Option<Linear>,
    /// Learned position of each memory slot `[1, slots, d]`.
    pub memory_position: Param<Tensor<3>>,
    /// Token embeddings `[V + 2, d]`.
    pub embedding: Embedding,
    /// Sinusoidal positions of the words.
    pub position: PositionalEncoding,
    /// The decoder stack.
    pub decoder: TransformerDecoder,
    /// `d` → `V + 2` logits.
    pub generator: Linear,
}

/// A batch of images with their captions, teacher-forced.
#[derive(Clone, Debug)]
pub struct CaptionBatch {
    /// Normalised images `[B, 1, S, S]`.
    pub images: Tensor<4>,
    /// Decoder input `<bos> y₁ … y_n` padded `[B, T]`.
    pub input: Tensor<2, Int>,
    /// Padding of `input` `[B, T]` (`true` = padded).
    pub padding: Tensor<2, Bool>,
    /// Flat positions `b·T + t` of the real (unpadded) input tokens `[N]`.
    pub positions: Tensor<1, Int>,
    /// The next token at each of those positions (`y₁ … y_n <eos>`) `[N]`.
    pub targets: Tensor<1, Int>,
}

impl Captioner {
    /// The memory the decoder attends over.
    ///
    /// # Shapes
    /// - images: `[B, 1, S, S]` → `[B, slots, d]`
    pub fn memory(&self, images: Tensor<4>) -> Tensor<3> {
        let memory = match (&self.region_proj, &self.global_proj) {
            (Some(proj), _) => proj.forward(self.image.regions(images)), // [B, R, d]
            (None, Some(proj)) => {
                let flat = self.image.forward(images).flatten::<2>(1, 3); // [B, C·h·w]
                proj.forward(flat).unsqueeze_dim::<3>(1) // [B, 1, d]
            }
            (None, None) => unreachable!("a captioner always has one memory projection"),
        };
        memory + self.memory_position.val()
    }

    /// Next-token logits after each prefix position.
    ///
    /// # Shapes
    /// - memory: `[B, M, d]`, input: `[B, T]`, padding: `[B, T]` or none
    /// - output: `[B, T, V + 2]`
    pub fn decode(
        &self,
        memory: Tensor<3>,
        input: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let [batch, len] = input.dims();
        let mask = decoder_self_mask(padding, batch, len, &input.device());
        let d = self.generator.weight.dims()[0] as f64;
        let x = self
            .position
            .forward(self.embedding.forward(input) * d.sqrt());
        let x = self.decoder.forward(x, memory, Some(mask), None);
        self.generator.forward(x)
    }
}

impl Supervised for Captioner {
    type Batch = CaptionBatch;

    /// Cross-entropy of the next word over the real positions; accuracy is per token.
    fn step(&self, batch: CaptionBatch) -> ClassificationStep {
        let memory = self.memory(batch.images);
        let logits = self.decode(memory, batch.input, Some(batch.padding)); // [B, T, V]
        let [b, t, v] = logits.dims();
        let flat = logits.reshape([b * t, v]).select(0, batch.positions); // [N, V]
        ClassificationStep::from_logits(flat, batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(memory: CaptionMemory) -> (CaptionerConfig, Captioner) {
        let config = CaptionerConfig::new(16, 10)
            .with_memory(memory)
            .with_cnn_width(2)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .with_n_layers(1);
        let model = config.init(&Device::flex()).unwrap();
        (config, model)
    }

    #[test]
    fn memories_have_one_slot_per_region_or_one() {
        let device = Device::flex();
        let images =
            Tensor::<4>::random([2, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let (_, regions) = tiny(CaptionMemory::Regions);
        assert_eq!(regions.memory(images.clone()).dims(), [2, 4, 8]);
        let (config, global) = tiny(CaptionMemory::Global);
        assert_eq!(global.memory(images).dims(), [2, 1, 8]);
        assert_eq!((config.bos(), config.eos()), (10, 11));
    }

    #[test]
    fn decoding_is_causal_and_padding_does_not_leak() {
        let device = Device::flex();
        let (_, model) = tiny(CaptionMemory::Regions);
        let images =
            Tensor::<4>::random([1, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let memory = model.memory(images);
        let short = Tensor::<2, Int>::from_data([[10, 3, 4]], &device);
        let long = Tensor::<2, Int>::from_data([[10, 3, 4, 7, 0]], &device);
        let pad = Tensor::<2, Bool>::from_data([[false, false, false, false, true]], &device);
        let a = model.decode(memory.clone(), short, None); // [1, 3, 12]
        let b = model
            .decode(memory, long, Some(pad))
            .slice(s![.., 0..3, ..]);
        a.to_data()
            .assert_approx_eq::<f32>(&b.to_data(), burn::tensor::Tolerance::default());
    }

    #[test]
    fn step_loss_is_cross_entropy_over_real_positions() {
        let device = Device::flex();
        let (_, model) = tiny(CaptionMemory::Global);
        let images =
            Tensor::<4>::random([2, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let input = Tensor::<2, Int>::from_data([[10, 3, 4], [10, 5, 0]], &device);
        let padding = input.clone().equal_elem(0);
        let batch = CaptionBatch {
            images: images.clone(),
            input: input.clone(),
            padding: padding.clone(),
            positions: Tensor::from_data([0, 1, 2, 3, 4], &device),
            targets: Tensor::from_data([3, 4, 11, 5, 11], &device),
        };
        let step = model.step(batch);
        assert_eq!(step.len(), 5);
        // By hand: log-softmax of the five real positions' logits.
        let logits = model.decode(model.memory(images), input, Some(padding)); // [2, 3, 12]
        let rows = logits
            .reshape([6, 12])
            .select(0, Tensor::from_data([0, 1, 2, 3, 4], &device));
        let log_probs = burn::tensor::activation::log_softmax(rows, 1);
        let picked = log_probs.gather(
            1,
            Tensor::<2, Int>::from_data([[3], [4], [11], [5], [11]], &device),
        );
        let expected = picked.mean().neg();
        step.loss
            .to_data()
            .assert_approx_eq::<f32>(&expected.to_data(), burn::tensor::Tolerance::default());
    }
}
