//! End-to-end tests of `deepzero finetune` on a tiny synthetic IDX corpus: pre-train on classes
//! 0–4, adapt to classes 5–9 with 10 images per class, then eval and predict on the result.

use std::path::Path;
use std::process::{Command, Output};

use deepzero_data::{IdxImages, write_idx_images, write_idx_labels};

fn deepzero(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepzero"))
        .env_remove("BURN_DEVICE")
        .args(args)
        .output()
        .expect("deepzero runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// Asserts a failure that printed exactly one `error: ...` line containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected a failure");
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "`{needle}` not in: {err}");
}

/// Class k lights up row band k of a 28×28 image.
fn synthetic(n: usize, offset: usize) -> (IdxImages, Vec<u8>) {
    let mut pixels = vec![0u8; n * 784];
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = ((i + offset) % 10) as u8;
        labels.push(label);
        let row0 = 2 + 2 * label as usize;
        for y in row0..row0 + 3 {
            for x in 4..24 {
                pixels[i * 784 + y * 28 + x] = 200 + ((i * 7 + x) % 50) as u8;
            }
        }
    }
    let images = IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels,
    };
    (images, labels)
}

fn write_corpus(dir: &Path) {
    let (images, labels) = synthetic(300, 0);
    write_idx_images(&dir.join("train-images-idx3-ubyte"), &images, false).unwrap();
    write_idx_labels(&dir.join("train-labels-idx1-ubyte"), &labels, false).unwrap();
    let (images, labels) = synthetic(100, 3);
    write_idx_images(&dir.join("t10k-images-idx3-ubyte"), &images, false).unwrap();
    write_idx_labels(&dir.join("t10k-labels-idx1-ubyte"), &labels, false).unwrap();
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn finetune_a_pretrained_run_then_eval_and_predict_it() {
    let data = tempfile::tempdir().unwrap();
    write_corpus(data.path());
    let runs = tempfile::tempdir().unwrap();
    let pre = runs.path().join("pre");
    let common = ["--data-dir", p(data.path()), "--quiet"];

    let mut args = vec!["train", "mnist-mlp", "--classes-subset", "0,1,2,3,4"];
    args.extend(["--epochs", "2", "--batch-size", "32", "--out", p(&pre)]);
    args.extend(common);
    assert_ok(&deepzero(&args));
    assert_eq!(json(&pre.join("run.json"))["class_names"][4], "4");

    let few_shot = [
        "--classes-subset",
        "5,6,7,8,9",
        "--per-class",
        "10",
        "--valid-fraction",
        "0",
        "--batch-size",
        "16",
    ];
    for (name, strategy, extra) in [
        ("probe", "linear-probe", vec!["--freeze", "backbone"]),
        ("full", "full", vec![]),
        ("lora", "lora", vec!["--lora", "4"]),
        (
            "unfreeze",
            "unfreeze",
            vec!["--freeze", "backbone", "--unfreeze-after", "1"],
        ),
    ] {
        let out_dir = runs.path().join(name);
        let mut args = vec!["finetune", "mnist-mlp", "--from", p(&pre), "--epochs", "2"];
        args.extend(few_shot);
        args.extend(["--out", p(&out_dir)]);
        args.extend(common);
        args.extend(extra);
        assert_ok(&deepzero(&args));
        for file in [
            "run.json",
            "model.bpk",
            "metrics.json",
            "metrics.csv",
            "curves.png",
        ] {
            assert!(out_dir.join(file).is_file(), "{name}: no {file}");
        }
        let metrics = json(&out_dir.join("metrics.json"));
        assert_eq!(metrics["finetune"]["strategy"]["name"], strategy);
        assert_eq!(metrics["data"]["train_examples"], 50, "{name}");
        assert_eq!(
            metrics["test"]["examples"], 50,
            "{name}: classes 5-9 of 100"
        );
        let info = json(&out_dir.join("run.json"));
        assert_eq!(info["class_names"].as_array().unwrap().len(), 5);
        assert_eq!(info["class_names"][0], "5");
        let trainable = metrics["finetune"]["trainable_values"].as_u64().unwrap();
        let all = metrics["finetune"]["pretrained_values"].as_u64().unwrap();
        match strategy {
            "linear-probe" | "unfreeze" => assert_eq!(trainable, 256 * 5 + 5),
            "full" => assert_eq!(trainable, all, "no batch norm: every value trains"),
            _ => assert!(
                trainable > 256 * 5 + 5 && trainable < all / 10,
                "{trainable}"
            ),
        }

        // eval finds the run's classes (5-9) by name, without --classes-subset.
        let eval_dir = out_dir.join("eval");
        let mut args = vec!["eval", "mnist-mlp", "--checkpoint", p(&out_dir)];
        args.extend(["--out", p(&eval_dir)]);
        args.extend(common);
        assert_ok(&deepzero(&args));
        let eval = json(&eval_dir.join("metrics.json"));
        assert_eq!(eval["test"]["examples"], 50);
        assert_eq!(
            eval["test"]["accuracy"], metrics["test"]["accuracy"],
            "{name}"
        );
    }

    // predict on the fine-tuned run: an image of class 7 (row band 7).
    let mut img = image::GrayImage::new(28, 28);
    for y in 16..19 {
        for x in 4..24 {
            img.put_pixel(x, y, image::Luma([230]));
        }
    }
    let png = runs.path().join("seven.png");
    img.save(&png).unwrap();
    let run_dir = runs.path().join("full");
    let out = deepzero(&[
        "predict",
        "mnist-mlp",
        "--checkpoint",
        p(&run_dir),
        "--json",
        "--invert",
        "never",
        p(&png),
    ]);
    assert_ok(&out);
    let predictions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes: Vec<&str> = predictions[0]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[1].as_str().unwrap())
        .collect();
    assert_eq!(classes.len(), 5, "the head has the 5 new classes");
    assert!(
        classes
            .iter()
            .all(|c| ["5", "6", "7", "8", "9"].contains(c))
    );
}

#[test]
fn bad_from_gives_a_one_line_error() {
    let data = tempfile::tempdir().unwrap();
    write_corpus(data.path());
    let runs = tempfile::tempdir().unwrap();
    let base = [
        "--data-dir",
        p(data.path()),
        "--epochs",
        "1",
        "--quiet",
        "--classes-subset",
        "5,6,7,8,9",
    ];

    let missing = runs.path().join("missing");
    let mut args = vec!["finetune", "mnist-mlp", "--from", p(&missing)];
    args.extend(base);
    assert_one_line_error(&deepzero(&args), "no such run folder");

    let mut args = vec!["finetune", "mnist-mlp", "--from", p(runs.path())];
    args.extend(base);
    assert_one_line_error(&deepzero(&args), "not a deepzero run folder");

    // An MLP run offered to a LeNet recipe.
    let pre = runs.path().join("pre");
    let mut args = vec!["train", "mnist-mlp", "--out", p(&pre)];
    args.extend(base);
    assert_ok(&deepzero(&args));
    let mut args = vec!["finetune", "mnist-lenet", "--from", p(&pre)];
    args.extend(base);
    assert_one_line_error(
        &deepzero(&args),
        "holds a mlp model, but recipe `mnist-lenet` trains lenet5",
    );

    // run.json that lies about the weights (a LeNet-5 run.json over MLP weights).
    let mut info = json(&pre.join("run.json"));
    info["arch"] = "lenet5".into();
    info["recipe"] = "mnist-lenet".into();
    std::fs::write(pre.join("run.json"), info.to_string()).unwrap();
    let mut args = vec!["finetune", "mnist-lenet", "--from", p(&pre)];
    args.extend(base);
    assert_one_line_error(&deepzero(&args), "--from");

    // Option errors come before any work.
    let mut args = vec!["finetune", "mnist-mlp", "--from", p(&pre), "--lora", "0"];
    args.extend(base);
    assert_one_line_error(&deepzero(&args), "--lora RANK must be at least 1");
}
