//! deepzero-recsys
