//! The models, one a file: the scene CNN image tower, the CLIP-style two-tower model and the
//! captioner.

pub mod captioner;
pub mod clip;
pub mod scene_cnn;

pub use captioner::{CaptionBatch, CaptionMemory, Captioner, CaptionerConfig};
pub use clip::{Clip, ClipConfig, PairBatch, clip_loss, l2_normalize};
pub use scene_cnn::{SceneCnn, SceneCnnConfig};
