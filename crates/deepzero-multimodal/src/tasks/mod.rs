//! Whole tasks, from source images to a run folder and back: [`clip`] (joint embedding,
//! retrieval, zero-shot), [`caption`] (captioning, BLEU-4 and CIDEr-D),
//! [`vqa`] (question answering by attention fusion, and its single-modality baselines),
//! [`content_rec`] (recommending new films from their title and tags); [`recipes`] lists the
//! named configurations.

pub mod caption;
pub mod clip;
pub mod content_rec;
pub mod recipes;
pub mod scene_run;
pub mod vqa;
