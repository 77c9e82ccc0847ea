//! COCO ground-truth JSON, then its conversion to detection samples: `Ok` or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use deepzero_vision::detect::coco::CocoGt;
use deepzero_vision::detect::data::read_coco;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match CocoGt::from_json_str(common::input_path(), text) {
        Ok(gt) => {
            let (samples, classes, _) = read_coco(&gt, std::path::Path::new("images"));
            for s in samples {
                assert!(s.objects.iter().all(|o| o.class < classes.len()));
            }
        }
        Err(e) => common::one_line(e),
    }
});
