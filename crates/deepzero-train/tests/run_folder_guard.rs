//! A run folder is never destroyed by accident: a fresh run into it is refused without
//! `overwrite`, a resume with other settings is refused before anything changes, a damaged latest
//! checkpoint falls back to the newest intact epoch, and damaged weights are refused at load,
//! from a file or from bytes in memory.

mod common;

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use common::{Batch, fit_quietly, source};
use deepzero_core::OptimizerKind;
use deepzero_train::checkpoint::{load_model, load_model_bytes, save_model};
use deepzero_train::{
    Checkpoints, ClassificationStep, FitConfig, FitOutcome, RunDir, RunSettings, Supervised,
    TrainError,
};
use serde_json::json;

/// A linear classifier behind dropout, so that resumed runs must also restore the randomness.
#[derive(Module, Debug)]
struct Tiny {
    linear: Linear,
    dropout: Dropout,
}

impl Supervised for Tiny {
    type Batch = Batch;
    fn step(&self, batch: Batch) -> ClassificationStep {
        ClassificationStep::from_logits(self.linear.forward(self.dropout.forward(batch.x)), batch.y)
    }
}

/// burn's generator is global to the process and these tests compare weights exactly, so they
/// take turns rather than reseeding it under each other's feet.
static RNG_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    RNG_TURN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The shared configuration, keeping three checkpoints.
fn config(epochs: usize) -> FitConfig {
    FitConfig {
        keep_checkpoints: 3,
        ..common::config(epochs)
    }
}

fn train(
    dir: &std::path::Path,
    cfg: &FitConfig,
    run: RunDir,
) -> Result<FitOutcome<Tiny>, TrainError> {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = Tiny {
        linear: LinearConfig::new(2, 2).init(&device),
        dropout: DropoutConfig::new(0.3).init(),
    };
    let _ = dir;
    fit_quietly(model, &source(64, 1.0), &device, cfg, &run)
}

fn weights(m: &Tiny) -> Vec<f32> {
    m.linear.weight.val().try_into_vec_as::<f32>().unwrap()
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_fresh_run_over_an_existing_one_needs_overwrite() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let run = || RunDir::new(dir.path(), json!({"recipe": "tiny"}));
    train(dir.path(), &config(2), run()).unwrap();
    let before = snapshot(dir.path());
    let err = train(dir.path(), &config(2), run())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(snapshot(dir.path()), before, "nothing changed");
    train(dir.path(), &config(1), run().overwrite(true)).unwrap();
    let latest = Checkpoints::new(dir.path(), 3).latest().unwrap().unwrap();
    assert_eq!(latest.state.epoch, 1);
    assert!(
        !dir.path().join("checkpoints/epoch-0002").exists(),
        "the old run is gone"
    );
}

#[test]
fn a_resume_with_other_settings_is_refused_and_changes_nothing() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let run = || RunDir::new(dir.path(), json!({"recipe": "tiny"}));
    train(dir.path(), &config(2), run()).unwrap();
    let before = snapshot(dir.path());
    for (cfg, field) in [
        (
            FitConfig {
                learning_rate: 0.01,
                ..config(3)
            },
            "learning_rate",
        ),
        (
            FitConfig {
                batch_size: 8,
                ..config(3)
            },
            "batch_size",
        ),
        (
            FitConfig {
                seed: 8,
                ..config(3)
            },
            "seed",
        ),
        (
            FitConfig {
                optimizer: OptimizerKind::Sgd,
                ..config(3)
            },
            "optimizer",
        ),
    ] {
        let err = train(dir.path(), &cfg, run().resume(true))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("trained with {field} = ")), "{err}");
        assert_eq!(snapshot(dir.path()), before, "{field}: nothing changed");
    }
    let err = train(
        dir.path(),
        &config(3),
        run()
            .resume(true)
            .with_settings(json!({"valid_fraction": 0.2})),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("valid_fraction"), "{err}");
}

#[test]
fn more_epochs_may_be_asked_on_resume_and_are_recorded() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let run = || RunDir::new(dir.path(), json!({"recipe": "tiny"}));
    train(dir.path(), &config(2), run()).unwrap();
    let out = train(dir.path(), &config(3), run().resume(true)).unwrap();
    assert_eq!(out.resumed_after, Some(2));
    let latest = Checkpoints::new(dir.path(), 3).latest().unwrap().unwrap();
    assert_eq!(latest.state.changes, ["after epoch 2: epochs 2 → 3"]);
}

/// The latest epoch's weights are damaged (one byte flipped): resume notices through the
/// checksum, continues from the epoch before, and ends with the weights of an uninterrupted run
/// (dropout included: each epoch's randomness is seeded from the run's seed and the epoch).
#[test]
fn a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_epoch() {
    let _turn = turn();
    let straight_dir = tempfile::tempdir().unwrap();
    let straight = train(
        straight_dir.path(),
        &config(3),
        RunDir::new(straight_dir.path(), json!({})),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let run = || RunDir::new(dir.path(), json!({}));
    train(dir.path(), &config(2), run()).unwrap();
    let model = dir.path().join("checkpoints/epoch-0002/model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&model, bytes).unwrap();

    let checkpoints = Checkpoints::new(dir.path(), 3);
    let fallback = checkpoints.latest().unwrap().unwrap();
    assert_eq!(fallback.state.epoch, 1);
    let note = fallback.note.unwrap();
    assert!(
        note.contains("checksum mismatch") && note.contains("using epoch 1"),
        "{note}"
    );

    let resumed = train(dir.path(), &config(3), run().resume(true)).unwrap();
    assert_eq!(resumed.resumed_after, Some(1));
    assert_eq!(weights(&resumed.model), weights(&straight.model));
}

#[test]
fn damaged_or_non_finite_weights_are_refused_at_load() {
    let _turn = turn();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bpk");
    let good = Tiny {
        linear: LinearConfig::new(2, 2).init(&device),
        dropout: DropoutConfig::new(0.3).init(),
    };
    save_model(&good, &path).unwrap();
    let sidecar = std::fs::read_to_string(dir.path().join("model.bpk.sha256")).unwrap();
    assert!(sidecar.ends_with("  model.bpk\n"), "{sidecar}");
    load_model(good.clone(), &path).unwrap();

    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = load_model(good.clone(), &path).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");

    let nan = Tiny {
        linear: Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.0f32, f32::NAN, 1.0, 2.0], [2, 2]),
                &device,
            )),
            bias: None,
        },
        dropout: DropoutConfig::new(0.3).init(),
    };
    save_model(&nan, &path).unwrap();
    let err = load_model(nan, &path).unwrap_err().to_string();
    assert!(err.contains("NaN or infinite"), "{err}");
}

#[test]
fn weights_load_from_bytes_as_from_the_file() {
    let _turn = turn();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bpk");
    let fresh = || Tiny {
        linear: LinearConfig::new(2, 2).init(&device),
        dropout: DropoutConfig::new(0.3).init(),
    };
    let saved = fresh();
    save_model(&saved, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let sidecar = std::fs::read_to_string(dir.path().join("model.bpk.sha256")).unwrap();
    let weights = |m: &Tiny| m.linear.weight.val().into_data();
    let from_file = load_model(fresh(), &path).unwrap();
    let from_bytes = load_model_bytes(fresh(), &bytes, "model.bpk", Some(&sidecar)).unwrap();
    assert_eq!(weights(&from_bytes), weights(&saved));
    assert_eq!(weights(&from_bytes), weights(&from_file));
    load_model_bytes(fresh(), &bytes, "model.bpk", None).unwrap();

    // A flipped bit: caught by the checksum when there is one.
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    let err = load_model_bytes(fresh(), &damaged, "model.bpk", Some(&sidecar))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("model.bpk: ") && err.contains("checksum mismatch"),
        "{err}"
    );
    // Bytes that are no record, a truncated record, another model's record: errors, no panic.
    for (bad, why) in [
        (b"not a model".to_vec(), "not a burnpack model record"),
        (bytes[..bytes.len() / 2].to_vec(), "model.bpk"),
        (Vec::new(), "not a burnpack model record"),
    ] {
        let err = load_model_bytes(fresh(), &bad, "model.bpk", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why) && !err.contains('\n'), "{err}");
    }
    let wider = Tiny {
        linear: LinearConfig::new(3, 2).init(&device),
        dropout: DropoutConfig::new(0.3).init(),
    };
    let err = load_model_bytes(wider, &bytes, "model.bpk", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot load into this model"), "{err}");
}

#[test]
fn run_settings_guard_the_folder_and_its_files() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let settings = RunSettings::new("tiny", &out);
    settings.create_out().unwrap();
    settings
        .write_run_json("run.json", &json!({"vocab_size": 10}))
        .unwrap();
    settings.write_run_file("vocab.txt", b"a\nb\n").unwrap();

    let err = settings.create_out().unwrap_err().to_string();
    assert!(err.contains("already holds a run"), "{err}");

    let resume = RunSettings {
        resume: true,
        ..settings.clone()
    };
    resume.create_out().unwrap();
    resume
        .write_run_json("run.json", &json!({"vocab_size": 10}))
        .unwrap();
    let err = resume
        .write_run_json("run.json", &json!({"vocab_size": 12}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`vocab_size` was 10, now 12"), "{err}");
    assert!(resume.write_run_file("vocab.txt", b"a\nc\n").is_err());
    assert_eq!(std::fs::read(out.join("vocab.txt")).unwrap(), b"a\nb\n");

    let overwrite = RunSettings {
        overwrite: true,
        ..settings
    };
    overwrite.create_out().unwrap();
    assert!(!out.join("run.json").exists() && !out.join("vocab.txt").exists());
}

#[test]
fn a_resume_on_other_data_is_refused_naming_it() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    std::fs::write(&corpus, "the data the run was trained on").unwrap();
    let settings = RunSettings::new("tiny", dir.path().join("run"))
        .with_data(&[&corpus])
        .unwrap();
    let run = |s: &RunSettings| s.run_dir(json!({"recipe": "tiny"}));
    train(dir.path(), &config(2), run(&settings)).unwrap();
    let before = snapshot(&dir.path().join("run"));

    // Same data: the resume goes on.
    let resume = RunSettings {
        resume: true,
        ..settings.with_data(&[&corpus]).unwrap()
    };
    let outcome = train(dir.path(), &config(3), run(&resume)).unwrap();
    assert_eq!(outcome.resumed_after, Some(2));

    // Edited data: refused before anything changes, naming `data`.
    let before_edit = snapshot(&dir.path().join("run"));
    assert_ne!(before, before_edit);
    std::fs::write(&corpus, "other data, one that was never trained on").unwrap();
    let edited = RunSettings {
        resume: true,
        ..settings.with_data(&[&corpus]).unwrap()
    };
    let err = train(dir.path(), &config(4), run(&edited))
        .unwrap_err()
        .to_string();
    assert!(err.contains("trained with data = "), "{err}");
    assert_eq!(snapshot(&dir.path().join("run")), before_edit);
}
