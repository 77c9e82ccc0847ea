//! End-to-end test of `deepzero import gpt2 DIR` and `deepzero generate` on the golden GPT-2
//! fixture of deepzero-sequence (a seeded random `GPT2LMHeadModel` saved by `transformers`):
//! the greedy continuation is the one `transformers` generates, and bad folders are one-line
//! errors. And `deepzero zero-shot` on deepzero-multimodal's CLIP fixture folder.

use std::path::PathBuf;

mod common;
use common::{assert_ok, deepzero, stderr_line};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deepzero-sequence/tests/fixtures/hf")
        .join(name)
}

#[test]
fn import_gpt2_then_generate_greedily_as_transformers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("gpt2");
    let out = deepzero()
        .args(["import", "gpt2"])
        .arg(fixture("gpt2-tiny"))
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("52096 parameters"));

    // transformers' greedy ids, decoded by the Python tokenizer, up to its first eos (id 0).
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("gpt2-tiny/golden.json")).unwrap())
            .unwrap();
    let want: Vec<u64> = serde_json::from_value(golden["greedy_new_ids"].clone()).unwrap();
    let out = deepzero()
        .args(["generate", "--checkpoint"])
        .arg(&run)
        .args([
            "--prompt",
            "First Citizen:\nBefore we proceed",
            "--temperature",
            "0",
            "--max-new-tokens",
            &want.len().to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let generations: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let continuation = generations[0]["continuation"].as_str().unwrap();
    assert!(!continuation.is_empty());

    // The same run through the library's tokenizer gives the same text.
    let tok = deepzero_sequence::hf::HfTokenizer::load(&run.join("tokenizer.json")).unwrap();
    let stop = want.iter().position(|&t| t == 0).unwrap_or(want.len());
    let ids: Vec<u32> = want[..stop].iter().map(|&t| t as u32).collect();
    assert_eq!(continuation, tok.decode(&ids).unwrap());

    // Bad inputs: one line, non-zero exit.
    let err = stderr_line(
        &deepzero()
            .args(["generate", "--checkpoint"])
            .arg(&run)
            .args(["--prompt", "x", "--top-p", "0"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("--top-p"), "{err}");
    let err = stderr_line(
        &deepzero()
            .args(["import", "gpt2"])
            .arg(fixture("bert-tiny"))
            .arg("--out")
            .arg(tmp.path().join("bert"))
            .output()
            .unwrap(),
    );
    assert!(err.contains("`bert` model, not gpt2"), "{err}");
    let err = stderr_line(
        &deepzero()
            .args(["import", "gpt2"])
            .arg(tmp.path())
            .arg("--out")
            .arg(tmp.path().join("none"))
            .output()
            .unwrap(),
    );
    assert!(err.contains("config.json: no such file"), "{err}");
}

#[test]
fn zero_shot_ranks_labels_with_a_clip_folder() {
    let clip = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deepzero-multimodal/tests/fixtures/clip");
    let labels = ["a photo of a cat", "First Citizen: speak.", "we know't"];
    let out = deepzero()
        .args(["zero-shot", "--checkpoint"])
        .arg(clip.join("tiny"))
        .arg(clip.join("image.png"))
        .arg("--labels")
        .args(labels)
        .args(["--top", "2", "--json"])
        .output()
        .unwrap();
    assert_ok(&out);
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ranked = results[0]["ranked"].as_array().unwrap();
    assert_eq!(ranked.len(), 2);
    let p = |i: usize| ranked[i][1].as_f64().unwrap();
    assert!(p(0) >= p(1) && p(0) > 1.0 / 3.0 && p(0) < 1.0);
    assert!(labels.contains(&ranked[0][0].as_str().unwrap()));

    // --by-text: one ranking per label, over the images.
    let out = deepzero()
        .args(["zero-shot", "--by-text", "--checkpoint"])
        .arg(clip.join("tiny"))
        .arg(clip.join("image.png"))
        .args(["--labels", "a cat", "a dog"])
        .output()
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("a cat\n  1.0000  ") && text.contains("\na dog\n"),
        "{text}"
    );

    // No labels, and an image that does not decode: one line each.
    let out = deepzero()
        .args(["zero-shot", "--checkpoint"])
        .arg(clip.join("tiny"))
        .arg(clip.join("tiny/config.json"))
        .args(["--labels", "a cat"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("config.json"),
        "{}",
        stderr_line(&out)
    );
    let out = deepzero()
        .args([
            "zero-shot",
            "--checkpoint",
            "/nonexistent",
            "x.png",
            "--labels",
            "a",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).ends_with("/nonexistent/config.json: no such file"),
        "{}",
        stderr_line(&out)
    );
}
