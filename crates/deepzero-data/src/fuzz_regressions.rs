//! Inputs kept from fuzzing the readers (`fuzz/`, see docs/reliability.md, "Fuzzing"): every
//! file under `tests/fuzz-regressions/<target>/` goes through the reader its fuzz target
//! drives. None may panic; an error must be one line; a file named `err-*` (a crasher found by
//! the fuzzer, or a hand-made hostile input) must be refused.

use std::path::Path;

use crate::fuzz_corpus::{check_outcome, kept_inputs};
use crate::limits::ReadLimits;

/// The kept inputs of `target` in this crate.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    kept_inputs(env!("CARGO_MANIFEST_DIR"), target)
}

/// The harness limits of the fuzz targets (64 MiB).
fn limits() -> ReadLimits {
    ReadLimits {
        max_read: 64 << 20,
        max_decompressed: 64 << 20,
    }
}

#[test]
fn idx_images() {
    for (name, bytes) in inputs("idx_images") {
        check_outcome(
            &name,
            &crate::parse_idx_images(Path::new(&name), bytes, &limits()),
        );
    }
}

#[test]
fn idx_labels() {
    for (name, bytes) in inputs("idx_labels") {
        check_outcome(
            &name,
            &crate::parse_idx_labels(Path::new(&name), bytes, 10, &limits()),
        );
    }
}

#[test]
fn image() {
    for (name, bytes) in inputs("image") {
        let decoded = crate::decode_image(Path::new("fuzz-input.png"), &bytes);
        if let Ok(image) = &decoded {
            assert_eq!(
                crate::image_item(image, 3, [7, 5]).unwrap().pixels.len(),
                105
            );
        }
        check_outcome(&name, &decoded);
    }
}

#[cfg(feature = "mail")]
#[test]
fn mime() {
    for (_, bytes) in inputs("mime") {
        let (raw, _) = crate::text::decode_utf8_or_latin1(&bytes);
        let mail = crate::text::parse_mail(&raw);
        let _ = mail.header("content-type");
        let _ = crate::text::mail_text(&raw, true);
        let _ = crate::text::mail_text(&raw, false);
        let _ = crate::text::decode_quoted_printable(&raw);
        let _ = crate::text::decode_base64(&raw);
        let _ = crate::text::strip_html(&raw);
    }
}
