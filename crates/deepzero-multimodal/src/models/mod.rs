//! The models, one a file: the scene CNN image tower, the convolutional auto-encoder, the
//! CLIP-style two-tower model, the captioner and the fusion modules.

pub mod autoencoder;
pub mod captioner;
pub mod clip;
pub mod fusion;
pub mod scene_cnn;

pub use autoencoder::{ConvAutoencoder, ConvAutoencoderConfig};
pub use captioner::{CaptionBatch, CaptionMemory, Captioner, CaptionerConfig};
pub use clip::{Clip, ClipConfig, PairBatch, clip_loss, l2_normalize};
pub use fusion::{
    BilinearFusion, BilinearFusionConfig, ConcatFusion, ConcatFusionConfig, CrossAttentionFusion,
    CrossAttentionFusionConfig, CrossAttentionOutput, GatedFusion, GatedFusionConfig,
};
pub use scene_cnn::{SceneCnn, SceneCnnConfig};
