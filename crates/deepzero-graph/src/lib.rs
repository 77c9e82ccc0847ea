//! deepzero-graph
