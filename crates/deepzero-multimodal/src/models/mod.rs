//! The models, one a file: the scene CNN image tower, the convolutional auto-encoder, the
//! CLIP-style two-tower model, the OpenAI CLIP architecture (for imported checkpoints), the
//! captioner, the fusion modules, the VQA model with its question tower, and the
//! content-aware NeuMF recommender.

pub mod autoencoder;
pub mod captioner;
pub mod clip;
pub mod content_neumf;
pub mod fusion;
pub mod openai_clip;
pub mod question_encoder;
pub mod scene_cnn;
pub mod vqa;

pub use autoencoder::{ConvAutoencoder, ConvAutoencoderConfig};
pub use captioner::{CaptionBatch, CaptionMemory, Captioner, CaptionerConfig};
pub use clip::{Clip, ClipConfig, PairBatch, clip_loss, l2_normalize};
pub use content_neumf::{ContentNcfNet, ContentNeuMf, ContentNeuMfConfig, ItemBatch};
pub use fusion::{
    BilinearFusion, BilinearFusionConfig, ConcatFusion, ConcatFusionConfig, CrossAttentionFusion,
    CrossAttentionFusionConfig, CrossAttentionOutput, GatedFusion, GatedFusionConfig,
};
pub use openai_clip::{ClipTowerConfig, EosPooling, OpenAiClip, OpenAiClipConfig};
pub use question_encoder::{QuestionEncoder, QuestionEncoderConfig};
pub use scene_cnn::{SceneCnn, SceneCnnConfig};
pub use vqa::{VqaBatch, VqaInputs, VqaModel, VqaModelConfig};
