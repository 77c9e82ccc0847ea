//! Image decoding (PNG, JPEG; the format sniffed from the bytes) and the conversion to a
//! grey or RGB item of a fixed size: `Ok` of the right shape or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match deepzero_data::decode_image(std::path::Path::new("fuzz-input.png"), data) {
        Ok(image) => {
            let grey = deepzero_data::image_item(&image, 1, [28, 28]).unwrap();
            assert_eq!(grey.pixels.len(), 28 * 28);
            let rgb = deepzero_data::image_item(&image, 3, [7, 5]).unwrap();
            assert_eq!(rgb.pixels.len(), 3 * 7 * 5);
        }
        Err(e) => common::one_line(e),
    }
});
