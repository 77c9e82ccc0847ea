//! IDX labels (raw or gzip): `Ok` with every label below 10, or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match deepzero_data::parse_idx_labels(
        common::input_path(),
        data.to_vec(),
        10,
        &common::limits(),
    ) {
        Ok(labels) => assert!(labels.iter().all(|&l| l < 10)),
        Err(e) => common::one_line(e),
    }
});
