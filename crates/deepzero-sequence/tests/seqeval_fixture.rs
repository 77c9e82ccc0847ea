//! Entity-level scores against golden numbers produced by seqeval 1.2.2 itself
//! (`tests/fixtures/make_seqeval_golden.py` → `tests/fixtures/seqeval_golden.json`).

use deepzero_sequence::tagging::entity_report;
use serde_json::Value;

fn tags(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn close(a: f64, b: &Value) -> bool {
    (a - b.as_f64().unwrap()).abs() < 1e-12
}

#[test]
fn entity_scores_equal_seqeval_golden_numbers() {
    let text = include_str!("fixtures/seqeval_golden.json");
    let cases: Value = serde_json::from_str(text).unwrap();
    for (i, case) in cases.as_array().unwrap().iter().enumerate() {
        let report = entity_report(&tags(&case["gold"]), &tags(&case["pred"]));
        assert!(
            close(report.micro.precision, &case["precision"]),
            "case {i}"
        );
        assert!(close(report.micro.recall, &case["recall"]), "case {i}");
        assert!(close(report.micro.f1, &case["f1"]), "case {i}");
        let expected = case["per_type"].as_object().unwrap();
        assert_eq!(report.per_type.len(), expected.len(), "case {i}");
        for (kind, want) in expected {
            let got = &report.per_type[kind];
            assert!(close(got.precision, &want["precision"]), "case {i} {kind}");
            assert!(close(got.recall, &want["recall"]), "case {i} {kind}");
            assert!(close(got.f1, &want["f1"]), "case {i} {kind}");
            assert_eq!(
                got.support as u64,
                want["support"].as_u64().unwrap(),
                "case {i} {kind}"
            );
        }
    }
}
