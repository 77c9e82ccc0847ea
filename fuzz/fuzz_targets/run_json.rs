//! `run.json` of a run folder, read as the image, text, tagging and detection tasks read it
//! (`deepzero_train::load_run_info`): `Ok` or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One run folder per fuzzing process, rewritten for every input.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("deepzero-fuzz-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    std::fs::write(dir.join("run.json"), data).unwrap();
    let load = |e: Option<deepzero_train::TaskError>| {
        if let Some(e) = e {
            common::one_line(e);
        }
    };
    load(
        deepzero_train::load_run_info::<deepzero_vision::tasks::classify::ImageRunInfo>(dir, None)
            .err(),
    );
    load(
        deepzero_train::load_run_info::<deepzero_vision::tasks::detect::DetectRunInfo>(dir, None)
            .err(),
    );
    load(
        deepzero_train::load_run_info::<deepzero_sequence::tasks::classify::TextRunInfo>(dir, None)
            .err(),
    );
    load(
        deepzero_train::load_run_info::<deepzero_sequence::tasks::tag::TaggerInfo>(
            dir,
            Some("ner"),
        )
        .err(),
    );
});
