//! Inputs kept from fuzzing the readers (`fuzz/`, see docs/reliability.md, "Fuzzing"): every
//! file under `tests/fuzz-regressions/<target>/` goes through the reader its fuzz target
//! drives. None may panic; an error must be one line; a file named `err-*` (a crasher found by
//! the fuzzer, or a hand-made hostile input) must be refused.

use std::path::{Path, PathBuf};

use crate::limits::ReadLimits;

/// The kept inputs of `target`, sorted by name; there is at least one.
pub(crate) fn inputs(manifest_dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(manifest_dir)
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Checks one reader result: a one-line error, and an error for `err-*` files.
pub(crate) fn check<T, E: std::fmt::Display>(name: &str, result: Result<T, E>) {
    match result {
        Ok(_) => assert!(!name.starts_with("err-"), "{name}: accepted"),
        Err(e) => assert!(
            !e.to_string().contains('\n'),
            "{name}: multi-line error {e}"
        ),
    }
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
    for (name, bytes) in inputs(env!("CARGO_MANIFEST_DIR"), "idx_images") {
        check(
            &name,
            crate::parse_idx_images(Path::new(&name), bytes, &limits()),
        );
    }
}

#[test]
fn idx_labels() {
    for (name, bytes) in inputs(env!("CARGO_MANIFEST_DIR"), "idx_labels") {
        check(
            &name,
            crate::parse_idx_labels(Path::new(&name), bytes, 10, &limits()),
        );
    }
}

#[test]
fn image() {
    for (name, bytes) in inputs(env!("CARGO_MANIFEST_DIR"), "image") {
        let decoded = crate::decode_image(Path::new("fuzz-input.png"), &bytes);
        if let Ok(image) = &decoded {
            assert_eq!(
                crate::image_item(image, 3, [7, 5]).unwrap().pixels.len(),
                105
            );
        }
        check(&name, decoded);
    }
}

#[cfg(feature = "mail")]
#[test]
fn mime() {
    for (_, bytes) in inputs(env!("CARGO_MANIFEST_DIR"), "mime") {
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
