//! End-to-end tests of `deepzero finetune` on a tiny synthetic IDX corpus: pre-train on classes
//! 0–4, adapt to classes 5–9 with 10 images per class, then eval and predict on the result.

mod common;
use common::{assert_ok, assert_one_line_error, json, path, run, write_idx_corpus};

#[test]
fn finetune_a_pretrained_run_then_eval_and_predict_it() {
    let data = tempfile::tempdir().unwrap();
    write_idx_corpus(data.path(), 300, 100, false);
    let runs = tempfile::tempdir().unwrap();
    let pre = runs.path().join("pre");
    let common = ["--data-dir", path(data.path()), "--quiet"];

    let mut args = vec!["train", "mnist-mlp", "--classes-subset", "0,1,2,3,4"];
    args.extend(["--epochs", "2", "--batch-size", "32", "--out", path(&pre)]);
    args.extend(common);
    assert_ok(&run(&args));
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
        let mut args = vec![
            "finetune",
            "mnist-mlp",
            "--from",
            path(&pre),
            "--epochs",
            "2",
        ];
        args.extend(few_shot);
        args.extend(["--out", path(&out_dir)]);
        args.extend(common);
        args.extend(extra);
        assert_ok(&run(&args));
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
        let mut args = vec!["eval", "mnist-mlp", "--checkpoint", path(&out_dir)];
        args.extend(["--out", path(&eval_dir)]);
        args.extend(common);
        assert_ok(&run(&args));
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
    let out = run(&[
        "predict",
        "mnist-mlp",
        "--checkpoint",
        path(&run_dir),
        "--json",
        "--invert",
        "never",
        path(&png),
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
    write_idx_corpus(data.path(), 300, 100, false);
    let runs = tempfile::tempdir().unwrap();
    let base = [
        "--data-dir",
        path(data.path()),
        "--epochs",
        "1",
        "--quiet",
        "--classes-subset",
        "5,6,7,8,9",
    ];

    let missing = runs.path().join("missing");
    let mut args = vec!["finetune", "mnist-mlp", "--from", path(&missing)];
    args.extend(base);
    assert_one_line_error(&run(&args), "no such run folder");

    let mut args = vec!["finetune", "mnist-mlp", "--from", path(runs.path())];
    args.extend(base);
    assert_one_line_error(&run(&args), "not a deepzero run folder");

    // An MLP run offered to a LeNet recipe.
    let pre = runs.path().join("pre");
    let mut args = vec!["train", "mnist-mlp", "--out", path(&pre)];
    args.extend(base);
    assert_ok(&run(&args));
    let mut args = vec!["finetune", "mnist-lenet", "--from", path(&pre)];
    args.extend(base);
    assert_one_line_error(
        &run(&args),
        "holds a mlp model, but recipe `mnist-lenet` trains lenet5",
    );

    // run.json that lies about the weights (a LeNet-5 run.json over MLP weights).
    let mut info = json(&pre.join("run.json"));
    info["arch"] = "lenet5".into();
    info["recipe"] = "mnist-lenet".into();
    std::fs::write(pre.join("run.json"), info.to_string()).unwrap();
    let mut args = vec!["finetune", "mnist-lenet", "--from", path(&pre)];
    args.extend(base);
    assert_one_line_error(&run(&args), "--from");

    // Option errors come before any work.
    let mut args = vec!["finetune", "mnist-mlp", "--from", path(&pre), "--lora", "0"];
    args.extend(base);
    assert_one_line_error(&run(&args), "--lora RANK must be at least 1");
}
