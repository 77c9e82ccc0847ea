//! CoNLL reader (with its People's Daily sniffing): one tag per token, or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match deepzero_sequence::tagging::read_conll(text) {
        Ok(sentences) => {
            for s in sentences {
                assert_eq!(s.tokens.len(), s.tags.len());
                assert!(!s.tokens.is_empty());
            }
        }
        Err(e) => common::one_line(e),
    }
});
