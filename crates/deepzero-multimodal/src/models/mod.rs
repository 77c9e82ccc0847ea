//! The models, one a file: the scene CNN image tower and the CLIP-style two-tower model.

pub mod clip;
pub mod scene_cnn;

pub use clip::{Clip, ClipConfig, PairBatch, clip_loss, l2_normalize};
pub use scene_cnn::{SceneCnn, SceneCnnConfig};
