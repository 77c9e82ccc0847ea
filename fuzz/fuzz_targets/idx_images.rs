//! IDX images (raw or gzip): `Ok` with consistent sizes or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match deepzero_data::parse_idx_images(common::input_path(), data.to_vec(), &common::limits()) {
        Ok(images) => assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        ),
        Err(e) => common::one_line(e),
    }
});
