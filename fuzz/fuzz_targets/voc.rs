//! Pascal VOC annotation XML: `Ok` with known classes or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use deepzero_vision::detect::data::{LabelStats, parse_voc_xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let mut stats = LabelStats::default();
    match parse_voc_xml(xml, common::input_path(), &["cat", "dog"], &mut stats) {
        Ok((_, _, objects)) => assert!(objects.iter().all(|o| o.class < 2)),
        Err(e) => common::one_line(e),
    }
});
