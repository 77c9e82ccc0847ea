//! End-to-end tests of `deepzero tune` and `deepzero lr-find` on the shipped MNIST sample,
//! narrowed to a few images per class so that each training takes a second.

mod common;
use common::{assert_ok, assert_one_line_error, json, path, run, stdout};

/// The shipped sample, 30 training images per class, quiet.
const SMALL: [&str; 5] = ["--per-class", "30", "--batch-size", "32", "--quiet"];

#[test]
fn a_grid_search_selects_on_validation_retrains_the_best_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let mut args = vec![
        "tune",
        "mnist-mlp",
        "--grid",
        "lr=1e-4,1e-3;weight-decay=0,1e-4",
    ];
    args.extend(["--epochs", "2", "--out", path(&out)]);
    args.extend(SMALL);
    let first = run(&args);
    assert_ok(&first);
    let text = stdout(&first);
    assert!(text.contains("best: trial "), "{text}");
    assert!(text.contains("test accuracy"), "{text}");

    // Four trial folders, each a run folder with its trial.json (no test figure there).
    let results = json(&out.join("results.json"));
    let trials = results["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4);
    let mut valid = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        let trial_dir = out.join(format!("trial-{:03}", i + 1));
        let record = json(&trial_dir.join("trial.json"));
        assert_eq!(record["status"], "finished");
        assert!(record["test"].is_null(), "{record}");
        assert_eq!(record["params"], t["params"]);
        // The figure compared is the run's own validation accuracy.
        let run_valid = json(&trial_dir.join("metrics.json"))["valid"]["accuracy"]
            .as_f64()
            .unwrap();
        assert_eq!(record["valid"].as_f64().unwrap(), run_valid);
        valid.push(run_valid);
    }
    // The best is the first trial of the highest validation accuracy.
    let top = valid.iter().cloned().fold(f64::MIN, f64::max);
    let expected = valid.iter().position(|&v| v == top).unwrap() + 1;
    assert_eq!(results["best_trial"].as_u64().unwrap() as usize, expected);
    // The re-trained best is a run folder with its test figure.
    let best = out.join("best");
    assert!(best.join("model.bpk").is_file());
    assert!(json(&best.join("metrics.json"))["test"]["accuracy"].is_f64());
    assert!(json(&best.join("trial.json"))["test"].is_f64());
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("trial,lr,weight-decay,status,valid_accuracy,"));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains(&format!("| **{expected}** |")), "{md}");
    assert!(out.join("tune.png").is_file());
    // eval accepts the best run like any other.
    assert_ok(&run(&[
        "eval",
        "mnist-mlp",
        "--checkpoint",
        path(&best),
        "--per-class",
        "30",
    ]));

    // Again without --resume: refused; with it: nothing is trained again.
    assert_one_line_error(&run(&args), "already holds a tuning");
    let model = out.join("trial-002").join("model.bpk");
    let before = std::fs::metadata(&model).unwrap().modified().unwrap();
    args.push("--resume");
    let again = run(&args);
    assert_ok(&again);
    assert_eq!(stdout(&again).matches("finished before").count(), 4);
    assert!(!stdout(&again).contains("epoch 1/2"), "{}", stdout(&again));
    assert_eq!(
        std::fs::metadata(&model).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(
        json(&out.join("results.json"))["best_trial"],
        results["best_trial"]
    );
}

#[test]
fn a_random_search_draws_the_trials_it_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let mut args = vec!["tune", "mnist-mlp", "--random", "2", "--no-retrain"];
    args.extend([
        "--space",
        "lr=log:1e-4..1e-2",
        "--epochs",
        "1",
        "--out",
        path(&out),
    ]);
    args.extend(SMALL);
    assert_ok(&run(&args));
    let results = json(&out.join("results.json"));
    assert_eq!(results["trials"].as_array().unwrap().len(), 2);
    assert!(results["best"].is_null());
    assert!(!out.join("best").exists());
    assert!(
        results["search"]
            .as_str()
            .unwrap()
            .starts_with("random 2 of lr=log:1e-4..0.01 (seed 42)")
    );
    for t in results["trials"].as_array().unwrap() {
        let lr = t["params"][0][1].as_f64().unwrap();
        assert!((1e-4..=1e-2).contains(&lr), "{t}");
    }
}

#[test]
fn bad_searches_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let o = path(&out);
    for (args, needle) in [
        (
            vec!["tune", "mnist-mlp", "--out", o],
            "tune needs --grid SPACE or --random N",
        ),
        (
            vec!["tune", "mnist-mlp", "--grid", "lrate=1", "--out", o],
            "unknown key `lrate`",
        ),
        (
            vec!["tune", "mnist-mlp", "--grid", "lr=abc", "--out", o],
            "lr=abc: not a number",
        ),
        (
            vec![
                "tune",
                "mnist-mlp",
                "--grid",
                "lr=1e-3",
                "--lr",
                "0.1",
                "--out",
                o,
            ],
            "--lr is given and also searched",
        ),
        (
            vec!["tune", "mnist-mlp", "--grid", "dropout=0.1,0.2", "--out", o],
            "--dropout applies to the text-classification recipes",
        ),
        (
            vec![
                "tune",
                "mnist-mlp",
                "--random",
                "2",
                "--space",
                "lr=1e-3..1e-2;lr=1",
                "--out",
                o,
            ],
            "`lr` is given twice",
        ),
        (
            vec![
                "tune",
                "mnist-mlp",
                "--grid",
                "lr=log:1e-4..1e-2",
                "--out",
                o,
            ],
            "a grid needs a list of values",
        ),
        (
            vec![
                "tune",
                "mnist-mlp",
                "--grid",
                "lr=1e-3",
                "--objective",
                "bleu",
                "--out",
                o,
            ],
            "objective `bleu`",
        ),
        (
            vec!["tune", "karate-gcn", "--grid", "lr=1e-3", "--out", o],
            "not karate-gcn",
        ),
        (
            vec!["lr-find", "linear-regression", "--out", o],
            "not linear-regression",
        ),
        (
            vec![
                "lr-find",
                "mnist-mlp",
                "--start-lr",
                "1",
                "--end-lr",
                "0.1",
                "--out",
                o,
            ],
            "start lr < end lr",
        ),
    ] {
        assert_one_line_error(&run(&args), needle);
    }
    assert!(!out.join("tune.json").exists());
}

#[test]
fn lr_find_draws_the_curve_and_leaves_run_folders_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let args = [
        "lr-find",
        "mnist-lenet",
        "--steps",
        "40",
        "--per-class",
        "30",
        "--out",
        path(&out),
    ];
    let result = run(&args);
    assert_ok(&result);
    assert!(
        stdout(&result).contains("suggested lr"),
        "{}",
        stdout(&result)
    );
    let csv = std::fs::read_to_string(out.join("lr_find.csv")).unwrap();
    let rows = csv.lines().count() - 1;
    assert!((5..=40).contains(&rows), "{rows} steps");
    let found = json(&out.join("lr_find.json"));
    let suggested = found["suggested_lr"].as_f64().unwrap();
    assert!((1e-8..10.0).contains(&suggested), "{found}");
    assert!(out.join("lr_find.png").is_file());
    assert!(!out.join("run.json").exists());

    // A training run's folder is refused and left as it was.
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("run.json"), "{}").unwrap();
    let mut into_run = args.to_vec();
    *into_run.last_mut().unwrap() = path(&run_dir);
    assert_one_line_error(&run(&into_run), "holds a training run");
    let entries: Vec<_> = std::fs::read_dir(&run_dir).unwrap().collect();
    assert_eq!(entries.len(), 1);
}
