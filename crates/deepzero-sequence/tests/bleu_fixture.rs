//! Corpus and sentence BLEU against sacreBLEU 2.6.0 itself (`scripts/bleu_fixture.py` →
//! `tests/fixtures/bleu/`): punctuation, numbers, HTML entities, an empty line, a perfect
//! match, no match at all, hypotheses too short for 4-grams, and two reference streams.

use deepzero_sequence::translation::{BleuScore, corpus_bleu, sentence_bleu};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bleu");

fn lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap();
    // One segment per line; every line (the last included) ends with '\n'.
    text.split_terminator('\n').map(str::to_string).collect()
}

fn check(what: &str, got: &BleuScore, want: &Value) {
    let f = |k: &str| want[k].as_f64().unwrap();
    let u = |k: &str| -> Vec<u64> {
        want[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    assert!(
        (got.score - f("score")).abs() < 1e-9,
        "{what}: score {} vs sacreBLEU {}",
        got.score,
        f("score")
    );
    assert_eq!(got.counts.to_vec(), u("counts"), "{what}: counts");
    assert_eq!(got.totals.to_vec(), u("totals"), "{what}: totals");
    for (p, q) in got
        .precisions
        .iter()
        .zip(want["precisions"].as_array().unwrap())
    {
        assert!(
            (p - q.as_f64().unwrap()).abs() < 1e-9,
            "{what}: precisions {:?}",
            got.precisions
        );
    }
    assert!((got.bp - f("bp")).abs() < 1e-12, "{what}: bp");
    assert_eq!(
        got.sys_len,
        want["sys_len"].as_u64().unwrap(),
        "{what}: sys_len"
    );
    assert_eq!(
        got.ref_len,
        want["ref_len"].as_u64().unwrap(),
        "{what}: ref_len"
    );
}

#[test]
fn corpus_and_sentence_bleu_equal_sacrebleu() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap())
            .unwrap();
    let (r1, r2) = (lines("ref.txt"), lines("ref2.txt"));
    let sets = expected["corpus"].as_object().unwrap();
    assert!(sets.len() >= 6);
    for (name, want) in sets {
        let hyps = lines(&format!("hyp_{name}.txt"));
        assert_eq!(hyps.len(), r1.len(), "{name}");
        check(name, &corpus_bleu(&hyps, std::slice::from_ref(&r1)), want);
        check(
            &format!("{name} (two references)"),
            &corpus_bleu(&hyps, &[r1.clone(), r2.clone()]),
            &expected["corpus_two_refs"][name],
        );
    }
    let mixed = lines("hyp_mixed.txt");
    for (i, want) in expected["sentence_mixed"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let got = sentence_bleu(&mixed[i], &[&r1[i], &r2[i]]);
        check(&format!("sentence {i}"), &got, want);
    }
}
