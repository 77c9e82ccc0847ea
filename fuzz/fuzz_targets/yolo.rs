//! YOLO label text (`class cx cy w h` lines) for an image whose size comes from the first
//! four bytes: boxes inside the image, or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use deepzero_vision::detect::data::{LabelStats, parse_yolo_labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let width = u32::from(u16::from_le_bytes([data[0], data[1]]));
    let height = u32::from(u16::from_le_bytes([data[2], data[3]]));
    let Ok(text) = std::str::from_utf8(&data[4..]) else {
        return;
    };
    let mut stats = LabelStats::default();
    match parse_yolo_labels(text, common::input_path(), width, height, 3, &mut stats) {
        Ok(objects) => {
            for o in objects {
                assert!(o.class < 3);
                let [x0, y0, x1, y1] = o.bbox;
                assert!(x0 <= x1 && y0 <= y1, "{:?}", o.bbox);
            }
        }
        Err(e) => common::one_line(e),
    }
});
