//! People's Daily (PKU `word/POS`) reader with its CoNLL sniffing, and the sentence splitters
//! the tagging task applies after it.
#![no_main]

#[path = "common.rs"]
mod common;

use deepzero_sequence::tagging::data::{split_long, split_sentences};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match deepzero_sequence::tagging::read_peoples_daily(text) {
        Ok(paragraphs) => {
            for p in &paragraphs {
                assert_eq!(p.tokens.len(), p.tags.len());
                for s in split_sentences(p) {
                    for piece in split_long(&s, 8) {
                        assert_eq!(piece.tokens.len(), piece.tags.len());
                    }
                }
            }
        }
        Err(e) => common::one_line(e),
    }
});
