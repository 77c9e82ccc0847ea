//! Whole tasks, from source images to a run folder and back: [`clip`] (joint embedding,
//! retrieval, zero-shot), [`caption`] (captioning, BLEU-4 and CIDEr-D); [`recipes`] lists the
//! named configurations.

pub mod caption;
pub mod clip;
pub mod recipes;
