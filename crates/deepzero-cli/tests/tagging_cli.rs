//! End-to-end test of a NER recipe (`peoples-daily-ner`) on a generated corpus in the PKU
//! People's Daily format: train, eval, and predict from arguments, a file and standard input.

use std::path::Path;

mod common;
use common::{assert_ok, assert_run_metrics, deepzero, path, run_with_stdin, train_command};

/// 60 generated lines: "<name> 在 <place> 访问 <organisation> 。".
fn write_corpus(dir: &Path) {
    let family = ["张", "王", "李", "赵"];
    let given = ["伟", "芳", "明华", "小平"];
    let places = ["北京", "上海", "广州", "西安", "南京"];
    let orgs = ["新华社", "外交部", "[北京/ns  大学/n]nt"];
    let mut text = String::new();
    for i in 0..60 {
        let org = orgs[i % orgs.len()];
        let org = if org.starts_with('[') {
            org.to_string()
        } else {
            format!("{org}/nt")
        };
        text.push_str(&format!(
            "{}/nr  {}/nr  在/p  {}/ns  访问/v  {org}  。/w\n",
            family[i % 4],
            given[(i / 4) % 4],
            places[i % 5]
        ));
    }
    std::fs::write(dir.join("199801.txt"), text).unwrap();
}

#[test]
fn peoples_daily_ner_trains_evaluates_and_tags_sentences() {
    let data = tempfile::tempdir().unwrap();
    write_corpus(data.path());
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let status = train_command("peoples-daily-ner", data.path(), &run)
        .args([
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--lr",
            "0.01",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_ok(&status);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_run_metrics(&metrics);
    let f1 = metrics["test"]["f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f1));
    assert!(metrics["test"]["precision"].is_f64() && metrics["test"]["recall"].is_f64());
    assert!(metrics["test"]["per_type"].is_object());

    let eval = deepzero()
        .args(["eval", "peoples-daily-ner", "--checkpoint", path(&run)])
        .args(["--data-dir", path(data.path())])
        .output()
        .unwrap();
    assert_ok(&eval);
    let eval_metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval/metrics.json")).unwrap())
            .unwrap();
    // The same model on the same seeded test split gives the same F1.
    assert!((eval_metrics["test"]["f1"].as_f64().unwrap() - f1).abs() < 1e-9);

    // Sentences as arguments: one tagged line each.
    let predict = deepzero()
        .args(["predict", "peoples-daily-ner", "--checkpoint", path(&run)])
        .args(["王伟在上海访问新华社。", "李明华在西安"])
        .output()
        .unwrap();
    assert_ok(&predict);
    let text = String::from_utf8(predict.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    // Removing the brackets and type names gives the input back.
    let plain = |l: &str| {
        l.replace(['[', ']'], "")
            .replace("PER", "")
            .replace("LOC", "")
            .replace("ORG", "")
    };
    assert_eq!(plain(lines[0]), "王伟在上海访问新华社。");

    // One sentence per line of a file, and of standard input.
    let input = out.path().join("input.txt");
    std::fs::write(&input, "张芳在北京\n\n赵小平访问外交部\n").unwrap();
    let from_file = deepzero()
        .args(["predict", "peoples-daily-ner", "--checkpoint", path(&run)])
        .args(["--input", path(&input)])
        .output()
        .unwrap();
    assert!(from_file.status.success());
    assert_eq!(
        String::from_utf8(from_file.stdout.clone())
            .unwrap()
            .lines()
            .count(),
        3
    );
    let from_stdin = run_with_stdin(
        deepzero().args(["predict", "peoples-daily-ner", "--checkpoint", path(&run)]),
        "张芳在北京\n\n赵小平访问外交部\n".as_bytes(),
    );
    assert!(from_stdin.status.success());
    assert_eq!(from_stdin.stdout, from_file.stdout);
}
