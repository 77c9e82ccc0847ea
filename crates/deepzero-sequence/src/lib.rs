//! deepzero-sequence
