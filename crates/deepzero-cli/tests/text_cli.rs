//! End-to-end test of a text-classification recipe on a generated corpus: train, eval,
//! predict (arguments, --input, standard input), and the vocabulary-mismatch error.

use std::path::Path;
use std::process::Output;

mod common;
use common::{
    assert_ok, assert_one_line_error, assert_run_metrics, deepzero, json, path, run,
    run_with_stdin, stdout, train_command,
};

/// `deepzero train bbc-lstm --data-dir DATA --embeddings-from BAG_RUN --out OUT EXTRA…`.
fn lstm_from_bag(data: &str, bag_run: &str, out: &Path, extra: &[&str]) -> Output {
    train_command("bbc-lstm", data, out)
        .args(["--embeddings-from", bag_run])
        .args(extra)
        .output()
        .unwrap()
}

/// The labels of `predict`'s `label<TAB>probability` lines.
fn predicted_labels(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// `eval` of the `recipe` run in `run` on `data`, into `eval_out`, gives the test accuracy
/// training recorded in `metrics`.
fn assert_eval_reproduces(
    recipe: &str,
    run: &str,
    data: &str,
    eval_out: &Path,
    metrics: &serde_json::Value,
) {
    let args = ["eval", recipe, "--checkpoint", run, "--data-dir", data];
    let out = deepzero().args(args).arg("--out").arg(eval_out).output();
    assert_ok(&out.unwrap());
    let eval = json(&eval_out.join("metrics.json"));
    assert_eq!(eval["test"]["accuracy"], metrics["test"]["accuracy"]);
}

/// `predict` of a sport and a tech document with the `recipe` run in `run`, succeeded.
fn predict_two_topics(recipe: &str, run: &str) -> Output {
    let documents = [
        "goal match team coach score",
        "chip software robot code phone",
    ];
    let args = ["predict", recipe, "--checkpoint", run];
    let out = deepzero().args(args).args(documents).output().unwrap();
    assert_ok(&out);
    out
}

/// Two "topics" of generated sentences, 40 distinct documents each, in
/// `root/bbc/<class>/NNN.txt`, plus one empty document, one Latin-1 document and one copy of
/// `sport/000.txt` with other line breaks.
fn write_corpus(root: &Path) {
    let sport = ["goal", "match", "team", "coach", "league", "score"];
    let tech = ["chip", "software", "phone", "network", "robot", "code"];
    let filler = ["the", "a", "today", "new", "said", "very"];
    for (class, words) in [("sport", sport), ("tech", tech)] {
        let dir = root.join("bbc").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..40 {
            let text: Vec<&str> = (0..12)
                .map(|j| {
                    if (i + j) % 3 == 0 {
                        filler[(i * 7 + j) % filler.len()]
                    } else {
                        words[(i * 5 + j * 3) % words.len()]
                    }
                })
                .collect();
            // The word patterns repeat every 6 documents; a serial number keeps them distinct.
            let text = format!("{} n{i}", text.join(" "));
            std::fs::write(dir.join(format!("{i:03}.txt")), text).unwrap();
        }
    }
    std::fs::write(root.join("bbc/sport/900.txt"), "  \n").unwrap();
    std::fs::write(root.join("bbc/sport/901.txt"), b"goal \xa3 team match").unwrap();
    let copy = std::fs::read_to_string(root.join("bbc/sport/000.txt")).unwrap();
    std::fs::write(root.join("bbc/sport/902.txt"), copy.replace(' ', "\n")).unwrap();
}

#[test]
fn bbc_lstm_trains_evaluates_and_predicts_on_a_generated_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_corpus(&data);
    let out = tmp.path().join("run");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());

    let train = deepzero()
        .args(["train", "bbc-lstm", "--data-dir", data_s, "--out", out_s])
        .args([
            "--epochs",
            "8",
            "--batch-size",
            "8",
            "--lr",
            "0.01",
            "--max-len",
            "8",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_ok(&train);
    let log = String::from_utf8_lossy(&train.stdout);
    assert!(log.contains("skipped 1 empty documents"), "{log}");
    assert!(log.contains("read as Latin-1"), "{log}");
    assert!(log.contains("truncated to 8 tokens"), "{log}");
    assert!(
        log.contains("dropped 1 repeated documents and 0 whose text occurs under two labels"),
        "{log}"
    );
    let metrics = json(&out.join("metrics.json"));
    for key in ["accuracy", "loss", "macro_f1"] {
        assert!(metrics["test"][key].is_number(), "{key}: {metrics}");
    }
    assert_run_metrics(&metrics);
    assert!(
        metrics["test"]["accuracy"].as_f64().unwrap() >= 0.9,
        "{}",
        metrics["test"]
    );
    assert_eq!(metrics["data"]["truncated_documents"], 80);
    assert_eq!(
        metrics["dropout"], 0.2,
        "the recipe's default dropout is recorded"
    );
    assert_eq!(metrics["min_freq"], 2, "the recipe's vocabulary cut-off");
    assert_eq!(metrics["data"]["duplicate_copies_removed"], 1);
    assert!(out.join("vocab.json").exists() && out.join("run.json").exists());

    // eval rebuilds the same test split.
    assert_eval_reproduces(
        "bbc-lstm",
        out_s,
        data_s,
        &tmp.path().join("eval"),
        &metrics,
    );

    // predict: arguments, a file, standard input; one `label<TAB>probability` line each.
    let predict = predict_two_topics("bbc-lstm", out_s);
    let lines: Vec<String> = String::from_utf8_lossy(&predict.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("sport\t") && lines[1].starts_with("tech\t"),
        "{lines:?}"
    );
    let p: f64 = lines[0].split('\t').nth(1).unwrap().parse().unwrap();
    assert!(p > 0.5 && p <= 1.0);

    let input = tmp.path().join("input.txt");
    std::fs::write(&input, "league score goal\nnetwork phone chip\n\n").unwrap();
    let from_file = deepzero()
        .args(["predict", "bbc-lstm", "--checkpoint", out_s, "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_ok(&from_file);
    assert_eq!(
        String::from_utf8_lossy(&from_file.stdout).lines().count(),
        3
    );
    // Texts as arguments and --input at once: a usage error, not one of them silently dropped.
    let both = deepzero()
        .args([
            "predict",
            "bbc-lstm",
            "--checkpoint",
            out_s,
            "goal",
            "--input",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert_one_line_error(&both, "not both");

    let from_stdin = run_with_stdin(
        deepzero().args(["predict", "bbc-lstm", "--checkpoint", out_s]),
        b"team coach\nsoftware code\n",
    );
    assert_ok(&from_stdin);
    assert_eq!(predicted_labels(&from_stdin), ["sport", "tech"]);

    // A vocabulary that is not the run's: one clear error line.
    let vocab = json(&out.join("vocab.json"));
    let mut other = vocab.clone();
    other["tokens"].as_array_mut().unwrap().pop();
    std::fs::write(out.join("vocab.json"), other.to_string()).unwrap();
    let bad = deepzero()
        .args(["predict", "bbc-lstm", "--checkpoint", out_s, "goal"])
        .output()
        .unwrap();
    assert_one_line_error(&bad, "vocabulary mismatch");
}

/// The bag-of-n-grams recipe: words and word pairs in the vocabulary, trains, evaluates to
/// the same figure, predicts; `--ngrams` is refused where tokens are read in order.
#[test]
fn bbc_fasttext_learns_from_word_pairs_and_ngrams_are_refused_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_corpus(&data);
    let out = tmp.path().join("run");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());

    let train = train_command("bbc-fasttext", data_s, out_s)
        .args(["--epochs", "10", "--batch-size", "8", "--quiet"])
        .output()
        .unwrap();
    assert_ok(&train);
    let log = String::from_utf8_lossy(&train.stdout);
    assert!(log.contains("n-grams up to 2"), "{log}");
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["ngrams"], 2);
    assert!(
        metrics["test"]["accuracy"].as_f64().unwrap() >= 0.9,
        "{}",
        metrics["test"]
    );
    assert_eq!(json(&out.join("run.json"))["encoder"], "bag");
    let vocab = json(&out.join("vocab.json"));
    let tokens: Vec<&str> = vocab["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tokens.iter().any(|t| t.contains(' ')),
        "word pairs in the vocabulary: {tokens:?}"
    );

    let eval_out = tmp.path().join("eval");
    assert_eval_reproduces("bbc-fasttext", out_s, data_s, &eval_out, &metrics);
    let predict = predict_two_topics("bbc-fasttext", out_s);
    assert_eq!(predicted_labels(&predict), ["sport", "tech"]);

    // The BiLSTM can start from the bag model's word vectors (same split: same seed).
    let lstm_out = tmp.path().join("lstm");
    let from_bag = lstm_from_bag(data_s, out_s, &lstm_out, &["--epochs", "1", "--quiet"]);
    assert_ok(&from_bag);
    let log = String::from_utf8_lossy(&from_bag.stdout);
    assert!(log.contains("token embeddings start from"), "{log}");
    let lstm_metrics = json(&lstm_out.join("metrics.json"));
    assert!(lstm_metrics["embeddings_copied"].as_u64().unwrap() > 10);
    assert_eq!(
        json(&lstm_out.join("run.json"))["embeddings_from"],
        out_s,
        "recorded in run.json"
    );
    // Another split of the same corpus would have trained on this run's test documents.
    let leak_out = tmp.path().join("leak");
    let leak = lstm_from_bag(data_s, out_s, &leak_out, &["--seed", "7"]);
    assert_one_line_error(&leak, "split the same corpus differently");
    assert!(!leak_out.exists(), "a refused source leaves no run folder");

    for (recipe, expected) in [
        ("bbc-lstm", "reads tokens in order"),
        ("mnist-mlp", "applies to the text-classification recipes"),
    ] {
        let refused = deepzero()
            .args(["train", recipe, "--data-dir", data_s, "--ngrams", "2"])
            .args(["--out", tmp.path().join("refused").to_str().unwrap()])
            .output()
            .unwrap();
        assert_one_line_error(&refused, expected);
    }
}

#[test]
fn text_classifiers_tune_their_dropout_and_find_their_learning_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_corpus(&data);
    let tune = tmp.path().join("tune");
    let common = ["--data-dir", path(&data), "--batch-size", "8", "--quiet"];
    let mut args = vec![
        "tune",
        "bbc-fasttext",
        "--grid",
        "dropout=0,0.3",
        "--epochs",
        "2",
    ];
    args.extend(["--no-retrain", "--out", path(&tune)]);
    args.extend(common);
    assert_ok(&run(&args));
    // Each trial trained with its own dropout (recorded by the task in metrics.json).
    for (trial, dropout) in [("trial-001", 0.0), ("trial-002", 0.3)] {
        assert_eq!(
            json(&tune.join(trial).join("metrics.json"))["dropout"],
            dropout
        );
    }

    let lr = tmp.path().join("lr");
    let mut args = vec![
        "lr-find",
        "bbc-fasttext",
        "--steps",
        "30",
        "--out",
        path(&lr),
    ];
    args.extend(common);
    let out = run(&args);
    assert_ok(&out);
    assert!(stdout(&out).contains("suggested lr"), "{}", stdout(&out));
    assert!(lr.join("lr_find.png").is_file());
    assert!(
        !lr.join("vocab.json").exists(),
        "the range test writes no run folder"
    );
}
