//! Helpers shared by the end-to-end tests of the `deepzero` binary: running it, reading what it
//! printed, the one-line-error check, and a learnable synthetic MNIST-shaped corpus.

// Each test binary uses only some of the helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use deepzero_data::IdxImages;

/// The `deepzero` binary, with `BURN_DEVICE` unset (the tests run on the default backend).
pub fn deepzero() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepzero"));
    cmd.env_remove("BURN_DEVICE");
    cmd
}

/// Runs `deepzero ARGS…` to its end.
pub fn run(args: &[&str]) -> Output {
    deepzero().args(args).output().expect("deepzero runs")
}

/// What the command printed on standard output.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the command printed on standard error.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success, showing both outputs otherwise.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

/// Asserts a failure that printed exactly one `error: …` line containing every needle, and no
/// panic.
pub fn assert_one_line_error_with(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected failure: {}", stdout(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// [`assert_one_line_error_with`] one needle.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    assert_one_line_error_with(out, &[needle]);
}

/// Asserts a failure and returns its error, which must be one line.
pub fn stderr_line(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let err = stderr(out).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one-line error expected: {err}");
    err
}

/// A JSON file the command wrote.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `p` as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `n` learnable synthetic MNIST-shaped images: class k = (i + offset) mod 10 lights up row
/// band k of the 28×28 image.
pub fn synthetic_images(n: usize, offset: usize) -> (IdxImages, Vec<u8>) {
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

/// An MNIST-layout folder in `dir`: `train` [`synthetic_images`] (gzipped with `gzip_train`,
/// to read both forms) and `test` more, starting at another class.
pub fn write_idx_corpus(dir: &Path, train: usize, test: usize, gzip_train: bool) {
    use deepzero_data::{write_idx_images, write_idx_labels};
    let gz = if gzip_train { ".gz" } else { "" };
    let (images, labels) = synthetic_images(train, 0);
    let (train_images, train_labels) = (
        dir.join(format!("train-images-idx3-ubyte{gz}")),
        dir.join(format!("train-labels-idx1-ubyte{gz}")),
    );
    write_idx_images(&train_images, &images, gzip_train).unwrap();
    write_idx_labels(&train_labels, &labels, gzip_train).unwrap();
    let (images, labels) = synthetic_images(test, 3);
    write_idx_images(&dir.join("t10k-images-idx3-ubyte"), &images, false).unwrap();
    write_idx_labels(&dir.join("t10k-labels-idx1-ubyte"), &labels, false).unwrap();
}

/// Runs `cmd` with `input` on its standard input, to its end.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deepzero runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `deepzero train RECIPE --data-dir DATA --out OUT`, to add options to.
pub fn train_command(
    recipe: &str,
    data: impl AsRef<std::ffi::OsStr>,
    out: impl AsRef<std::ffi::OsStr>,
) -> Command {
    let mut cmd = deepzero();
    cmd.args(["train", recipe, "--data-dir"]);
    cmd.arg(data).arg("--out").arg(out);
    cmd
}

/// Asserts that a training run's `metrics.json` holds the fields every task writes.
pub fn assert_run_metrics(metrics: &serde_json::Value) {
    for key in [
        "recipe",
        "backend",
        "epochs",
        "train_seconds",
        "train_samples_per_second",
    ] {
        assert!(
            !metrics[key].is_null(),
            "metrics.json lacks {key}: {metrics}"
        );
    }
}

/// A JSON array of numbers.
pub fn f64s(value: &serde_json::Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}
