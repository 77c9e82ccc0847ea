//! Inputs kept from fuzzing the readers (`fuzz/`, see docs/reliability.md, "Fuzzing"): every
//! file under `tests/fuzz-regressions/<target>/` goes through the reader its fuzz target
//! drives. None may panic; an error must be one line; a file named `err-*` (a crasher found by
//! the fuzzer, or a hand-made hostile input) must be refused.

use std::path::Path;

use deepzero_data::fuzz_corpus::{check_one_line, check_outcome, is_refused_input, kept_inputs};

use crate::tagging::data::{split_long, split_sentences};
use crate::tagging::{read_conll, read_peoples_daily};
use crate::text::{Bpe, Vocab};

/// The kept inputs of `target` as text (the targets skip non-UTF-8 input), sorted by name.
fn inputs(target: &str) -> Vec<(String, String)> {
    kept_inputs(env!("CARGO_MANIFEST_DIR"), target)
        .into_iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect()
}

#[test]
fn conll() {
    for (name, text) in inputs("conll") {
        let result = read_conll(&text);
        check_outcome(&name, &result);
        for s in result.unwrap_or_default() {
            assert_eq!(s.tokens.len(), s.tags.len(), "{name}");
        }
    }
}

#[test]
fn pku() {
    for (name, text) in inputs("pku") {
        let result = read_peoples_daily(&text);
        check_outcome(&name, &result);
        for p in result.unwrap_or_default() {
            for s in split_sentences(&p) {
                for piece in split_long(&s, 8) {
                    assert_eq!(piece.tokens.len(), piece.tags.len(), "{name}");
                }
            }
        }
    }
}

#[test]
fn bpe_vocab() {
    for (name, text) in inputs("bpe_vocab") {
        let path = Path::new(&name);
        let bpe = Bpe::from_json(path, &text);
        if let Ok(bpe) = &bpe {
            let ids = bpe.encode("the lowest newer 新年 x");
            let _ = bpe.decode(&ids);
            let _ = bpe.decode(&[0, 1, 2, usize::MAX]);
        }
        let vocab = Vocab::from_json(path, &text);
        if let Ok(vocab) = &vocab {
            let ids = vocab.encode("the lowest newer 新年 x");
            assert!(ids.iter().all(|&i| i < vocab.len()), "{name}");
            let _ = vocab.decode(&[0, 1, 2, usize::MAX]);
        }
        // A file is one or the other (or neither): `err-*` means neither may accept it.
        if is_refused_input(&name) {
            assert!(bpe.is_err() && vocab.is_err(), "{name}: accepted");
        }
        if let Err(e) = &bpe {
            check_one_line(&name, e);
        }
        if let Err(e) = &vocab {
            check_one_line(&name, e);
        }
    }
}
