//! BPE model and vocabulary JSON (`bpe.json`, `vocab.json` of a run folder): `Ok` models that
//! encode and decode without panicking, or a one-line `Err`.
#![no_main]

#[path = "common.rs"]
mod common;

use deepzero_sequence::text::{Bpe, Vocab};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = common::input_path();
    match Bpe::from_json(path, text) {
        Ok(bpe) => {
            let ids = bpe.encode("the lowest newer 新年 x");
            let _ = bpe.decode(&ids);
            let _ = bpe.decode(&[0, 1, 2, usize::MAX]);
        }
        Err(e) => common::one_line(e),
    }
    match Vocab::from_json(path, text) {
        Ok(vocab) => {
            let ids = vocab.encode("the lowest newer 新年 x");
            assert!(ids.iter().all(|&i| i < vocab.len()));
            let _ = vocab.decode(&ids);
            let _ = vocab.decode(&[0, 1, 2, usize::MAX]);
        }
        Err(e) => common::one_line(e),
    }
});
