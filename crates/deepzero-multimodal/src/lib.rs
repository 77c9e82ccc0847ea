//! deepzero-multimodal
