//! deepzero-core
