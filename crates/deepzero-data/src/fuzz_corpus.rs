//! The inputs kept from fuzzing the readers (`fuzz/`, see docs/reliability.md, "Fuzzing"), for
//! the regression tests of this crate, `deepzero-sequence` and `deepzero-vision`.
//!
//! Each crate keeps the inputs of a fuzz target under `tests/fuzz-regressions/<target>/` and
//! runs every file through the reader the target drives. The rules are the same everywhere:
//! none may panic, an error must be one line, and a file named `err-*` (a crasher found by the
//! fuzzer, or a hand-made hostile input) must be refused. These helpers are test support: they
//! panic with the offending file's name instead of returning errors.

use std::path::{Path, PathBuf};

/// The kept inputs of `target` under `crate_dir/tests/fuzz-regressions/`, as `(file name,
/// bytes)` sorted by name.
///
/// # Panics
/// If the folder cannot be read or holds no input (a target without regressions is a mistake).
pub fn kept_inputs(crate_dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(crate_dir)
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, bytes)
        })
        .collect()
}

/// Checks what a reader made of the kept input `name`: an `err-*` file must be refused, and an
/// error must be one line.
///
/// # Panics
/// When either rule is broken, naming the file.
#[track_caller]
pub fn check_outcome<T, E: std::fmt::Display>(name: &str, result: &Result<T, E>) {
    match result {
        Ok(_) => assert!(!is_refused_input(name), "{name}: accepted"),
        Err(e) => check_one_line(name, e),
    }
}

/// Whether the kept input `name` is one every reader must refuse (`err-*`).
pub fn is_refused_input(name: &str) -> bool {
    name.starts_with("err-")
}

/// Checks that the error a reader gave for the kept input `name` is one line.
///
/// # Panics
/// When the message spans several lines, naming the file.
#[track_caller]
pub fn check_one_line<E: std::fmt::Display>(name: &str, error: &E) {
    let message = error.to_string();
    assert!(
        !message.contains('\n'),
        "{name}: multi-line error {message}"
    );
}
