//! End-to-end test of a translation recipe (`multi30k-de-en`) on a small generated parallel
//! corpus in Multi30k's layout: train, eval, predict from arguments, a file and standard
//! input, and the errors for misaligned data and a BPE file from another run.

use std::path::Path;
use std::process::Command;

mod common;
use common::{
    assert_ok, assert_one_line_error_with, deepzero, path, run_with_stdin, train_command,
};

/// `deepzero predict multi30k-de-en --run RUN`, to add inputs and options to.
fn predict(run: &Path) -> Command {
    let mut cmd = deepzero();
    cmd.args(["predict", "multi30k-de-en", "--run", path(run)]);
    cmd
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// "Ein <animal> läuft." → "A <animal> runs." and variations, in raw/{split}.{de,en} (plain text; the
/// gzip form is read by the same code, see deepzero-sequence's `translation::data` tests).
fn write_corpus(dir: &Path, misaligned: bool) {
    let animals = [
        ("Hund", "dog"),
        ("Mann", "man"),
        ("Junge", "boy"),
        ("Vogel", "bird"),
    ];
    let verbs = [
        ("läuft", "runs"),
        ("springt", "jumps"),
        ("schläft", "sleeps"),
    ];
    let mut de = Vec::new();
    let mut en = Vec::new();
    for i in 0..48 {
        let (a, b) = animals[i % 4];
        let (v, w) = verbs[(i / 4) % 3];
        de.push(format!("Ein {a} {v}."));
        en.push(format!("A {b} {w}."));
    }
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    for split in ["train", "val", "test_2016_flickr"] {
        write_lines(&dir.join(format!("raw/{split}.de")), &de);
        let n = if misaligned && split == "val" { 40 } else { 48 };
        write_lines(&dir.join(format!("raw/{split}.en")), &en[..n]);
    }
}

#[test]
fn multi30k_recipe_trains_scores_bleu_and_translates() {
    let data = tempfile::tempdir().unwrap();
    write_corpus(data.path(), false);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let status = train_command("multi30k-de-en", data.path(), &run)
        .args(["--epochs", "2", "--batch-size", "16", "--quiet"])
        .status()
        .unwrap();
    assert!(status.success());
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let bleu = metrics["test"]["bleu"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&bleu), "{bleu}");
    assert_eq!(metrics["test"]["sentences"], 48);
    let hyps = std::fs::read_to_string(run.join("test_hypotheses.txt")).unwrap();
    assert_eq!(hyps.lines().count(), 48);
    for f in [
        "model.bpk",
        "run.json",
        "src_bpe.json",
        "tgt_bpe.json",
        "curves.png",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }

    // eval recomputes the same test BLEU (same beam, same model).
    let status = deepzero()
        .args(["eval", "multi30k-de-en", "--checkpoint", path(&run)])
        .status()
        .unwrap();
    assert!(status.success());
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval/metrics.json")).unwrap())
            .unwrap();
    assert!((eval["test"]["bleu"].as_f64().unwrap() - bleu).abs() < 1e-9);

    // predict: arguments, --greedy, a file, standard input: one line out per line in.
    let args_out = predict(&run)
        .args(["Ein Hund läuft.", "Ein Vogel schläft."])
        .output()
        .unwrap();
    assert_ok(&args_out);
    assert_eq!(
        String::from_utf8(args_out.stdout).unwrap().lines().count(),
        2
    );
    let file = out.path().join("in.txt");
    std::fs::write(
        &file,
        "Ein Mann springt.\nEin Junge läuft.\nEin Hund schläft.\n",
    )
    .unwrap();
    let file_out = predict(&run)
        .args(["--greedy", "--input", path(&file)])
        .output()
        .unwrap();
    assert!(file_out.status.success());
    assert_eq!(
        String::from_utf8(file_out.stdout).unwrap().lines().count(),
        3
    );
    let piped = run_with_stdin(
        predict(&run).args(["--beam", "2"]),
        "Ein Hund springt.\n".repeat(40).as_bytes(),
    );
    assert!(piped.status.success());
    assert_eq!(String::from_utf8(piped.stdout).unwrap().lines().count(), 40);

    // A long input is truncated with a warning.
    let long = "Ein Hund läuft ".repeat(60);
    let long_out = predict(&run).args(["--greedy", &long]).output().unwrap();
    assert!(long_out.status.success());
    assert!(String::from_utf8_lossy(&long_out.stderr).contains("truncated"));

    // A BPE file from elsewhere is refused with a clear message.
    std::fs::copy(run.join("src_bpe.json"), run.join("tgt_bpe.json")).unwrap();
    let bad = predict(&run).args(["Ein Hund."]).output().unwrap();
    assert_one_line_error_with(
        &bad,
        &["tgt_bpe.json", "is not the one the model was trained with"],
    );
}

#[test]
fn misaligned_sides_are_reported_with_both_files() {
    let data = tempfile::tempdir().unwrap();
    write_corpus(data.path(), true);
    let out = tempfile::tempdir().unwrap();
    let result = train_command("multi30k-de-en", data.path(), out.path().join("r"))
        .output()
        .unwrap();
    assert_one_line_error_with(&result, &["val.de has 48 lines", "val.en has 40"]);
}
