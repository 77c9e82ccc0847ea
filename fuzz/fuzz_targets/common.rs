//! Shared by the fuzz targets (included with `#[path]`, not a crate of its own).
#![allow(dead_code)]

use std::path::Path;

/// The path that names the fuzzed input in error messages.
pub const INPUT: &str = "fuzz-input";

/// Read limits for the harness: the defaults allow 4 GiB inflated, far over the
/// `-rss_limit_mb=2048` the campaign runs under, so the targets use 64 MiB.
pub fn limits() -> deepzero_data::ReadLimits {
    deepzero_data::ReadLimits {
        max_read: 64 << 20,
        max_decompressed: 64 << 20,
    }
}

/// Errors are one line (the crate-wide rule): a multi-line message is a finding too.
pub fn one_line(error: impl std::fmt::Display) {
    let message = error.to_string();
    assert!(!message.contains('\n'), "multi-line error: {message:?}");
}

pub fn input_path() -> &'static Path {
    Path::new(INPUT)
}
