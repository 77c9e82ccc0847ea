//! Inputs kept from fuzzing the readers (`fuzz/`, see docs/reliability.md, "Fuzzing"): every
//! file under `tests/fuzz-regressions/<target>/` goes through the reader its fuzz target
//! drives. None may panic; an error must be one line; a file named `err-*` (a crasher found by
//! the fuzzer, or a hand-made hostile input) must be refused.

use std::path::Path;

use deepzero_data::fuzz_corpus::{check_one_line, check_outcome, is_refused_input, kept_inputs};

use crate::detect::coco::CocoGt;
use crate::detect::data::{LabelStats, parse_voc_xml, parse_yolo_labels, read_coco};

/// The kept inputs of `target` in this crate, sorted by name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    kept_inputs(env!("CARGO_MANIFEST_DIR"), target)
}

#[test]
fn yolo() {
    for (name, bytes) in inputs("yolo") {
        // As the fuzz target: the image size in the first four bytes, then the label text.
        let width = u32::from(u16::from_le_bytes([bytes[0], bytes[1]]));
        let height = u32::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        let text = std::str::from_utf8(&bytes[4..]).unwrap();
        let mut stats = LabelStats::default();
        let result = parse_yolo_labels(text, Path::new(&name), width, height, 3, &mut stats);
        check_outcome(&name, &result);
        for o in result.unwrap_or_default() {
            assert!(
                o.bbox[0] <= o.bbox[2] && o.bbox[1] <= o.bbox[3],
                "{name}: {:?}",
                o.bbox
            );
        }
    }
}

#[test]
fn coco() {
    for (name, bytes) in inputs("coco") {
        let text = String::from_utf8(bytes).unwrap();
        let result = CocoGt::from_json_str(Path::new(&name), &text);
        check_outcome(&name, &result);
        if let Ok(gt) = result {
            let (samples, classes, _) = read_coco(&gt, Path::new("images"));
            assert!(
                samples
                    .iter()
                    .flat_map(|s| &s.objects)
                    .all(|o| o.class < classes.len())
            );
        }
    }
}

#[test]
fn voc() {
    for (name, bytes) in inputs("voc") {
        let xml = String::from_utf8(bytes).unwrap();
        let mut stats = LabelStats::default();
        let result = parse_voc_xml(&xml, Path::new(&name), &["cat", "dog"], &mut stats);
        check_outcome(&name, &result);
    }
}

#[test]
fn run_json() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in inputs("run_json") {
        std::fs::write(dir.path().join("run.json"), &bytes).unwrap();
        let image =
            deepzero_train::load_run_info::<crate::tasks::classify::ImageRunInfo>(dir.path(), None);
        let detect =
            deepzero_train::load_run_info::<crate::tasks::detect::DetectRunInfo>(dir.path(), None);
        if is_refused_input(&name) {
            assert!(image.is_err() && detect.is_err(), "{name}: accepted");
        }
        for e in [image.err(), detect.err()].into_iter().flatten() {
            check_one_line(&name, &e);
        }
    }
}
