//! deepzero-data
