//! End-to-end test of the generation recipes on a small generated text: train, eval, predict
//! (--prompt, --input, standard input, JSON), and the bad-input errors (empty and non-UTF-8
//! corpus, unknown prompt character, vocabulary that does not match the checkpoint).

use std::path::Path;
use std::process::Output;

mod common;
use common::{assert_ok, deepzero, json, run_with_stdin, stderr_line, train_command};

fn train(recipe: &str, data: &Path, out: &Path) -> Output {
    train_command(recipe, data, out)
        .args([
            "--epochs",
            "2",
            "--steps-per-epoch",
            "25",
            "--batch-size",
            "8",
            "--max-len",
            "16",
            "--lr",
            "0.01",
            "--quiet",
        ])
        .output()
        .unwrap()
}

#[test]
fn gpt_and_lstm_train_evaluate_and_generate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("corpus");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("input.txt"),
        "ROMEO:\nI love thee.\n\nJULIET:\nI love thee too.\n\n".repeat(30),
    )
    .unwrap();
    for recipe in ["shakespeare-gpt", "shakespeare-lstm"] {
        let out = tmp.path().join(recipe);
        let log = train(recipe, &data, &out);
        assert_ok(&log);
        let metrics = json(&out.join("metrics.json"));
        let loss = metrics["valid"]["loss"].as_f64().unwrap();
        let v = metrics["vocab_size"].as_u64().unwrap() as f64;
        assert!(
            loss < 0.7 * v.ln(),
            "{recipe}: valid loss {loss} vs ln V {}",
            v.ln()
        );
        assert_eq!(metrics["steps"], 50);
        assert!(metrics["seconds_per_step"].as_f64().unwrap() > 0.0);
        for file in [
            "model.bpk",
            "vocab.json",
            "run.json",
            "sample.txt",
            "curves.png",
        ] {
            assert!(out.join(file).exists(), "{recipe}: {file}");
        }

        // eval recomputes the same validation loss.
        let eval = deepzero()
            .args(["eval", recipe, "--checkpoint"])
            .arg(&out)
            .arg("--data-dir")
            .arg(data.join("input.txt"))
            .output()
            .unwrap();
        assert_ok(&eval);
        let again = json(&out.join("eval/metrics.json"))["valid"]["loss"]
            .as_f64()
            .unwrap();
        assert!((again - loss).abs() < 1e-4, "{again} vs {loss}");

        // --prompt: plain text, the prompt then its continuation; seeded.
        let predict = |extra: &[&str]| {
            deepzero()
                .args(["predict", recipe, "--run"])
                .arg(&out)
                .args([
                    "--max-new-tokens",
                    "20",
                    "--temperature",
                    "0.8",
                    "--top-k",
                    "5",
                ])
                .args(extra)
                .output()
                .unwrap()
        };
        let a = predict(&["--prompt", "ROMEO:", "--seed", "3"]);
        assert_ok(&a);
        let text = String::from_utf8_lossy(&a.stdout).to_string();
        assert!(text.starts_with("ROMEO:"), "{text}");
        assert_eq!(
            text.trim_end_matches('\n').chars().count(),
            6 + 20,
            "{text:?}"
        );
        assert_eq!(
            a.stdout,
            predict(&["--prompt", "ROMEO:", "--seed", "3"]).stdout
        );

        // --input FILE: one escaped continuation per line.
        let prompts = tmp.path().join("prompts.txt");
        std::fs::write(&prompts, "ROMEO:\\n\nJULIET:\n\n").unwrap();
        let lines = predict(&["--input", prompts.to_str().unwrap()]);
        assert_ok(&lines);
        let out_text = String::from_utf8_lossy(&lines.stdout).to_string();
        assert_eq!(out_text.lines().count(), 3, "{out_text}");

        // Standard input, and JSON.
        let piped = run_with_stdin(
            deepzero()
                .args(["predict", recipe, "--checkpoint"])
                .arg(&out)
                .args(["--max-new-tokens", "5", "--temperature", "0", "--json"]),
            b"I love\n",
        );
        assert_ok(&piped);
        let generated: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
        assert_eq!(generated[0]["prompt"], "I love");
        assert_eq!(
            generated[0]["continuation"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            5
        );

        // A character the model never saw.
        let err = stderr_line(&predict(&["--prompt", "ROMEO: zebra"]));
        assert!(
            err.contains("'z'") && err.contains("not in the model's vocabulary"),
            "{err}"
        );
    }

    // A vocabulary that does not match the checkpoint.
    let out = tmp.path().join("shakespeare-gpt");
    std::fs::write(out.join("vocab.json"), "{\"chars\": [\"a\", \"b\"]}").unwrap();
    let err = stderr_line(
        &deepzero()
            .args(["predict", "shakespeare-gpt", "--run"])
            .arg(&out)
            .args(["--prompt", "a"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("vocabulary mismatch"), "{err}");
}

#[test]
fn empty_and_non_utf8_corpora_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let err = stderr_line(&train("shakespeare-gpt", &empty, &tmp.path().join("a")));
    assert!(err.contains("empty.txt") && err.contains("empty"), "{err}");

    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("input.txt"), b"To be,\nor not \xff to be\n").unwrap();
    let err = stderr_line(&train("shakespeare-lstm", &bad, &tmp.path().join("b")));
    assert!(
        err.contains("input.txt:2:") && err.contains("offset 14"),
        "{err}"
    );

    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "abc").unwrap();
    let err = stderr_line(&train("shakespeare-gpt", &short, &tmp.path().join("c")));
    assert!(err.contains("fewer than one window"), "{err}");
}
