//! Whole tasks, from source images to a run folder and back: [`clip`] (joint embedding,
//! retrieval, zero-shot); [`recipes`] lists the named configurations.

pub mod clip;
pub mod recipes;
