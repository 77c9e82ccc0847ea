//! End-to-end tests of the `deepzero` binary: the happy path, every kind of bad input the
//! foundation promises a one-line error for, and a kill during training.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use deepzero_data::write_idx_labels;
use tempfile::TempDir;

mod common;
use common::{
    assert_ok, assert_one_line_error, assert_run_metrics, deepzero, f64s, json, path, run, stderr,
    stdout, synthetic_images, write_idx_corpus,
};

/// `deepzero train RECIPE --data-dir DATA EXTRA…`.
fn train(recipe: &str, data: &Path, extra: &[&str]) -> Output {
    let args = ["train", recipe, "--data-dir", path(data)];
    run(&[args.as_slice(), extra].concat())
}

/// `deepzero train mnist-mlp --data-dir DATA --epochs 1 EXTRA…`.
fn train_one_epoch(data: &Path, extra: &[&str]) -> Output {
    train(
        "mnist-mlp",
        data,
        &[["--epochs", "1"].as_slice(), extra].concat(),
    )
}

/// A temporary MNIST-layout folder of `train` (gzipped) and `test` [`synthetic_images`].
fn idx_corpus(train: usize, test: usize) -> TempDir {
    let data = tempfile::tempdir().unwrap();
    write_idx_corpus(data.path(), train, test, true);
    data
}

/// Asserts that one epoch of mnist-mlp on `data` fails with a one-line error naming `file`
/// and saying `why`.
fn assert_training_refuses(data: &Path, file: &str, why: &str) {
    let out = train_one_epoch(data, &[]);
    assert_one_line_error(&out, file);
    assert!(stderr(&out).contains(why), "{}", stderr(&out));
}

/// `deepzero eval RECIPE --checkpoint RUN --data-dir DATA [--out OUT]`.
fn eval(recipe: &str, run_dir: &Path, data: &Path, out: Option<&Path>) -> Output {
    let args = [
        "eval",
        recipe,
        "--checkpoint",
        path(run_dir),
        "--data-dir",
        path(data),
    ];
    let out: Vec<&str> = out.map_or(Vec::new(), |out| vec!["--out", path(out)]);
    run(&[args.as_slice(), &out].concat())
}

/// `deepzero predict RECIPE --checkpoint RUN ARGS…` (the inputs and options).
fn predict(recipe: &str, run_dir: &Path, args: &[&str]) -> Output {
    let command = ["predict", recipe, "--checkpoint", path(run_dir)];
    run(&[command.as_slice(), args].concat())
}

/// `deepzero train image-folder --data-dir ROOT --image-size 16 EXTRA…`.
fn train_image_folder(root: &Path, extra: &[&str]) -> Output {
    let size = ["--image-size", "16"];
    train("image-folder", root, &[size.as_slice(), extra].concat())
}

#[test]
fn list_names_every_recipe_and_its_chapter() {
    let out = run(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for (recipe, chapter) in [
        ("linear-regression", "2.1"),
        ("logistic-regression", "2.1"),
        ("mnist-mlp", "1.2"),
        ("mnist-lenet", "1.3.1"),
        ("fashion-mlp", "1.2"),
        ("fashion-cnn", "3.1"),
        ("image-folder", "7.2"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(recipe))
            .unwrap_or_else(|| panic!("{recipe} missing:\n{text}"));
        assert!(line.contains(chapter), "{line}");
    }
    assert!(text.contains("backends compiled in: flex"));
}

#[test]
fn train_eval_predict_on_idx_data() {
    let data = idx_corpus(300, 100);
    let out_dir = tempfile::tempdir().unwrap();
    let run_dir = out_dir.path().join("run");
    let out = train(
        "mnist-mlp",
        data.path(),
        &[
            "--epochs",
            "3",
            "--batch-size",
            "32",
            "--out",
            path(&run_dir),
            "--quiet",
        ],
    );
    assert_ok(&out);
    let metrics = json(&run_dir.join("metrics.json"));
    assert_run_metrics(&metrics);
    assert_eq!(metrics["recipe"], "mnist-mlp");
    assert_eq!(metrics["backend"], "flex");
    assert_eq!(metrics["epochs"], 3);
    let accuracy = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.9, "the synthetic task is easy: {accuracy}");
    assert!(metrics["test"]["loss"].as_f64().unwrap().is_finite());
    assert!(run_dir.join("curves.png").is_file());
    assert_eq!(
        std::fs::read_to_string(run_dir.join("metrics.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );

    // eval writes its own metrics.json with the same test accuracy.
    let eval_dir = out_dir.path().join("eval");
    let out = eval("mnist-mlp", &run_dir, data.path(), Some(&eval_dir));
    assert_ok(&out);
    let eval = json(&eval_dir.join("metrics.json"));
    assert!((eval["test"]["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-9);

    // predict: a white-on-black "class 4" image, and the same drawn dark-on-light (auto-inverted).
    let (images, labels) = synthetic_images(10, 0);
    let four = labels.iter().position(|&l| l == 4).unwrap();
    let px = &images.pixels[four * 784..(four + 1) * 784];
    let light = image::GrayImage::from_raw(28, 28, px.to_vec()).unwrap();
    let dark = image::GrayImage::from_raw(28, 28, px.iter().map(|p| 255 - p).collect()).unwrap();
    let (a, b) = (
        out_dir.path().join("four.png"),
        out_dir.path().join("four-on-paper.png"),
    );
    light.save(&a).unwrap();
    dark.save(&b).unwrap();
    let picture = out_dir.path().join("pred.png");
    let out = predict(
        "mnist-mlp",
        &run_dir,
        &[path(&a), path(&b), "--json", "--picture", path(&picture)],
    );
    assert_ok(&out);
    let predictions: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for p in predictions.as_array().unwrap() {
        assert_eq!(p["top"][0][1], "4", "{p}");
        assert!(p["top"][0][2].as_f64().unwrap() > 0.5);
    }
    assert!(picture.is_file());
}

#[test]
fn regression_demos_recover_the_true_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["train", "linear-regression", "--out", path(dir.path())]);
    assert_ok(&out);
    let m = json(&dir.path().join("metrics.json"));
    let w = f64s(&m["learned"]["weights"]);
    assert!(
        (w[0] - 2.0).abs() < 0.05 && (w[1] + 3.4).abs() < 0.05,
        "{w:?}"
    );
    assert!((m["learned"]["bias"].as_f64().unwrap() - 4.2).abs() < 0.05);
    assert!(m["test"]["r2"].as_f64().unwrap() > 0.99);

    let dir = tempfile::tempdir().unwrap();
    let out = run(&["train", "logistic-regression", "--out", path(dir.path())]);
    assert_ok(&out);
    let m = json(&dir.path().join("metrics.json"));
    assert!(m["test"]["accuracy"].as_f64().unwrap() > 0.75, "{m}");
    let out = run(&[
        "eval",
        "logistic-regression",
        "--checkpoint",
        path(dir.path()),
    ]);
    assert_ok(&out);
}

#[test]
fn unknown_recipe_and_backend_are_one_line_errors() {
    assert_one_line_error(
        &run(&["train", "mnist-transformer"]),
        "unknown recipe `mnist-transformer`",
    );
    assert_one_line_error(
        &run(&["train", "mnist-mlp", "--backend", "tpu"]),
        "unknown backend `tpu`",
    );
    let out = deepzero()
        .args(["train", "mnist-mlp"])
        .env("BURN_DEVICE", "quantum")
        .output()
        .unwrap();
    assert_one_line_error(&out, "BURN_DEVICE: unknown backend `quantum`");
    if !cfg!(feature = "cuda") {
        assert_one_line_error(
            &run(&["train", "mnist-mlp", "--backend", "cuda"]),
            "--features cuda",
        );
    }
    let bad_options: [(&[&str], &str); 9] = [
        (&["train", "mnist-mlp", "--batch-size", "0"], "--batch-size"),
        (
            &["finetune", "peoples-daily-ner", "--from", "/tmp"],
            "not an image recipe",
        ),
        (
            &["train", "mnist-mlp", "--dropout", "0.5"],
            "--dropout applies to the text-classification recipes",
        ),
        (
            &["train", "bbc-lstm", "--dropout", "1.5"],
            "--dropout must be in [0, 1)",
        ),
        (
            &["train", "mnist-mlp", "--min-freq", "3"],
            "--min-freq applies to the text-classification recipes",
        ),
        (
            &["train", "bbc-lstm", "--min-freq", "0"],
            "--min-freq must be at least 1",
        ),
        (
            &["train", "mnist-mlp", "--keep-duplicates"],
            "--keep-duplicates applies to the text-classification recipes",
        ),
        (
            &["train", "mnist-mlp", "--augment", "strong"],
            "--augment applies to image-folder, not to mnist-mlp",
        ),
        (
            &["train", "mnist-lenet", "--from-torchvision", "resnet18.pth"],
            "--from-torchvision applies to image-folder",
        ),
    ];
    for (args, needle) in bad_options {
        assert_one_line_error(&run(args), needle);
    }
}

#[test]
fn missing_data_directory_is_a_one_line_error() {
    assert_one_line_error(
        &run(&["train", "mnist-mlp", "--data-dir", "/no/such/folder"]),
        "/no/such/folder does not exist",
    );
    let empty = tempfile::tempdir().unwrap();
    let out = run(&["train", "mnist-mlp", "--data-dir", path(empty.path())]);
    assert_one_line_error(&out, "train-images");
    assert_one_line_error(&run(&["train", "image-folder"]), "--data-dir");
}

#[test]
fn truncated_idx_file_is_a_one_line_error_naming_the_file() {
    let data = idx_corpus(50, 20);
    let file = data.path().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert_training_refuses(data.path(), "t10k-images-idx3-ubyte", "truncated");
}

#[test]
fn label_out_of_range_is_a_one_line_error() {
    let data = idx_corpus(50, 20);
    let (_, mut labels) = synthetic_images(50, 0);
    labels[7] = 12;
    write_idx_labels(
        &data.path().join("train-labels-idx1-ubyte.gz"),
        &labels,
        true,
    )
    .unwrap();
    assert_training_refuses(data.path(), "train-labels-idx1-ubyte.gz", "12");
}

#[test]
fn undecodable_image_and_foreign_checkpoint_are_one_line_errors() {
    let data = idx_corpus(100, 20);
    let run_dir = tempfile::tempdir().unwrap();
    let out = train_one_epoch(data.path(), &["--out", path(run_dir.path()), "--quiet"]);
    assert_ok(&out);

    let bad = run_dir.path().join("broken.png");
    std::fs::write(&bad, b"this is not a png").unwrap();
    assert_one_line_error(
        &predict("mnist-mlp", run_dir.path(), &[path(&bad)]),
        "broken.png",
    );

    let out = eval("mnist-lenet", run_dir.path(), data.path(), None);
    assert_one_line_error(&out, "was trained by recipe `mnist-mlp`, not `mnist-lenet`");
    let out = predict("fashion-cnn", run_dir.path(), &[path(&bad)]);
    assert_one_line_error(&out, "was trained by recipe `mnist-mlp`");
    assert_one_line_error(
        &run(&["eval", "mnist-mlp", "--checkpoint", "/no/such/run"]),
        "does not exist",
    );
}

/// Kills training at several moments (between and during checkpoint writes): every time the
/// last complete checkpoint stays loadable, and `--resume` carries on from it.
#[test]
fn killing_training_keeps_the_last_good_checkpoint_and_resume_continues() {
    let data = idx_corpus(600, 50);
    let out_dir = tempfile::tempdir().unwrap();
    let run_dir: PathBuf = out_dir.path().join("run");
    let latest = run_dir.join("checkpoints/latest.json");
    let start_training = |resume: bool| {
        let mut cmd = deepzero();
        cmd.args([
            "train",
            "mnist-mlp",
            "--data-dir",
            path(data.path()),
            "--epochs",
            "1000",
            "--batch-size",
            "64",
            "--out",
            path(&run_dir),
            "--quiet",
        ]);
        if resume {
            cmd.arg("--resume");
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    let mut last_epoch = 0u64;
    for (attempt, extra_ms) in [0u64, 37, 91].into_iter().enumerate() {
        let mut child = start_training(attempt > 0);
        // Wait until at least one more epoch has been checkpointed, then a little more.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let epoch = std::fs::read_to_string(&latest)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["epoch"].as_u64())
                .unwrap_or(0);
            if epoch > last_epoch {
                break;
            }
            assert!(Instant::now() < deadline, "no checkpoint appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(extra_ms));
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();

        // The checkpoint latest.json names is complete: eval loads it (there is no model.bpk yet).
        assert!(!run_dir.join("model.bpk").exists());
        let pointer = json(&latest);
        let epoch = pointer["epoch"].as_u64().unwrap();
        assert!(
            epoch > last_epoch,
            "attempt {attempt}: epoch {epoch} after {last_epoch}"
        );
        last_epoch = epoch;
        let eval_dir = out_dir.path().join("eval");
        let out = eval("mnist-mlp", &run_dir, data.path(), Some(&eval_dir));
        assert!(out.status.success(), "attempt {attempt}: {}", stderr(&out));
    }

    // A final resume with a reachable epoch count finishes and reports where it resumed.
    let total = (last_epoch + 2).to_string();
    let out = train(
        "mnist-mlp",
        data.path(),
        &[
            "--epochs",
            &total,
            "--batch-size",
            "64",
            "--out",
            path(&run_dir),
            "--resume",
        ],
    );
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("resuming after epoch"), "{text}");
    let metrics = json(&run_dir.join("metrics.json"));
    assert_eq!(metrics["epochs"].as_u64().unwrap(), last_epoch + 2);
    assert!(run_dir.join("model.bpk").is_file());
}

/// The seed's chapter 7.2 example in miniature: a class-per-folder tree of PNG and JPEG files.
#[test]
fn image_folder_trains_on_a_class_per_folder_tree() {
    let root = tempfile::tempdir().unwrap();
    for (class, colour) in [("cats", [200u8, 60, 40]), ("dogs", [40u8, 60, 200])] {
        let dir = root.path().join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..30u32 {
            let img = image::RgbImage::from_fn(20, 24, |x, y| {
                let noise = ((x * 31 + y * 17 + i * 13) % 40) as u8;
                image::Rgb([
                    colour[0].saturating_add(noise),
                    colour[1],
                    colour[2].saturating_sub(noise),
                ])
            });
            let ext = if i % 2 == 0 { "png" } else { "jpg" };
            img.save(dir.join(format!("{class}-{i}.{ext}"))).unwrap();
        }
    }
    let run_dir = tempfile::tempdir().unwrap();
    let out = train_image_folder(
        root.path(),
        &[
            "--epochs",
            "10",
            "--batch-size",
            "8",
            "--lr",
            "0.003",
            "--out",
            path(run_dir.path()),
            "--quiet",
        ],
    );
    assert_ok(&out);
    let m = json(&run_dir.path().join("metrics.json"));
    assert_eq!(m["data"]["test_examples"], 12, "20 % of 60 held out: {m}");
    assert!(m["test"]["accuracy"].as_f64().unwrap() >= 0.9, "{m}");
    let info = json(&run_dir.path().join("run.json"));
    assert_eq!(info["class_names"], serde_json::json!(["cats", "dogs"]));
    assert_eq!(info["input_shape"], serde_json::json!([3, 16, 16]));

    let cat = root.path().join("cats/cats-0.png");
    let out = predict("image-folder", run_dir.path(), &[path(&cat)]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("cats-0.png: cats"),
        "{}",
        stdout(&out)
    );

    // A corrupt file in the tree is named in a one-line error.
    std::fs::write(root.path().join("dogs/broken.jpg"), b"garbage").unwrap();
    let out = train_image_folder(
        root.path(),
        &["--epochs", "1", "--out", path(run_dir.path())],
    );
    assert_one_line_error(&out, "broken.jpg");

    // --skip-bad-images trains on the rest and counts what it left out.
    let out = train_image_folder(
        root.path(),
        &[
            "--epochs",
            "1",
            "--skip-bad-images",
            "--overwrite",
            "--quiet",
            "--out",
            path(run_dir.path()),
        ],
    );
    assert_ok(&out);
    assert!(
        stdout(&out).contains("skipping 1 unreadable image(s)"),
        "{}",
        stdout(&out)
    );
    let m = json(&run_dir.path().join("metrics.json"));
    assert_eq!(m["data"]["skipped_images"], 1, "{m}");
    assert_eq!(m["data"]["test_examples"], 12, "{m}");
}

#[test]
fn recipe_names_are_unique_and_findable() {
    use deepzero_cli::recipes::{all, find};
    let all = all();
    for r in &all {
        assert_eq!(find(r.name).unwrap().name, r.name);
        assert_eq!(all.iter().filter(|o| o.name == r.name).count(), 1);
    }
    let err = find("mnist-transformer").unwrap_err().to_string();
    assert!(err.contains("unknown recipe `mnist-transformer`"), "{err}");
    assert!(err.contains("mnist-lenet"));
}
