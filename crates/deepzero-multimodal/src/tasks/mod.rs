//! Whole tasks, from source images to a run folder and back: [`clip`] (joint embedding,
//! retrieval, zero-shot), [`caption`] (captioning, BLEU-4 and CIDEr-D),
//! [`vqa`] (question answering by attention fusion, and its single-modality baselines); [`recipes`] lists the
//! named configurations.

pub mod caption;
pub mod clip;
pub mod recipes;
pub mod scene_run;
pub mod vqa;
