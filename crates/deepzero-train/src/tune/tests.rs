use std::cell::RefCell;

use serde_json::json;

use super::*;
use crate::FitConfig;

fn grid(text: &str) -> Vec<TrialParams> {
    SearchSpace::parse(text, &FIT_KEYS).unwrap().grid().unwrap()
}

fn base(out: &Path) -> RunSettings {
    let mut settings = RunSettings::new("fake", out).with_fit(FitConfig {
        epochs: 9,
        ..FitConfig::default()
    });
    settings.quiet = true;
    settings
}

/// A trial whose validation accuracy peaks at lr = 1e-2 and whose test accuracy peaks at
/// lr = 1e-1 (so that choosing on the test split would pick another trial).
fn fake_outcome(params: &TrialParams) -> TrialOutcome {
    let lr = params.number("lr").unwrap();
    let valid = 0.9 - 0.05 * (lr.log10() + 2.0).abs();
    let test = 0.9 - 0.05 * (lr.log10() + 1.0).abs();
    TrialOutcome {
        valid,
        epochs: 3,
        model_epoch: 2,
        stopped_early: true,
        curve: vec![valid - 0.1, valid, valid - 0.01],
        test: Some(test),
    }
}

#[test]
fn selection_uses_the_validation_figure_never_the_test_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let mut plan = TunePlan::new(
        grid("lr=1e-3,1e-2,1e-1;batch-size=32,64"),
        Objective::accuracy(),
        "grid",
    );
    plan.trial_epochs = Some(4);
    let seen = RefCell::new(Vec::new());
    let report = tune(&plan, &base(&out), |params, settings| {
        seen.borrow_mut().push((
            settings.out.clone(),
            settings.fit.clone(),
            params.to_string(),
        ));
        Ok(fake_outcome(params))
    })
    .unwrap();
    // lr = 1e-2, the first of equals (batch 32): trial 3.
    assert_eq!(report.best_trial, 3);
    assert_eq!(report.best_record().params.number("lr"), Some(1e-2));
    for t in &report.trials {
        assert_eq!(
            t.outcome().unwrap().test,
            None,
            "trial {} kept a test figure",
            t.trial
        );
        let stored: TrialRecord = read_json(&out.join(&t.dir).join(TRIAL_FILE)).unwrap();
        assert_eq!(stored.outcome().unwrap().test, None);
    }
    // The re-training of the best has its test figure, and trains the full epochs.
    let best = report.best.as_ref().unwrap().outcome().unwrap();
    assert_eq!(best.test, Some(0.85));
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 7);
    for (i, (trial_out, fit, params)) in seen.iter().take(6).enumerate() {
        assert_eq!(*trial_out, out.join(format!("trial-{:03}", i + 1)));
        assert_eq!(fit.epochs, 4, "trials train the trial epochs");
        assert_eq!(fit.early_stopping.as_ref().unwrap().patience, 2);
        assert!(params.starts_with(&format!("lr={}", format_real(fit.learning_rate))));
        assert_eq!(
            params.ends_with("batch-size=64"),
            fit.batch_size == 64,
            "{params}"
        );
    }
    let (best_out, best_fit, _) = &seen[6];
    assert_eq!(*best_out, out.join(BEST_DIR));
    assert_eq!((best_fit.epochs, best_fit.learning_rate), (9, 1e-2));

    // The files: a table row per trial, the best in bold, and the picture.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(
        lines[0],
        "trial,lr,batch-size,status,valid_accuracy,epochs,model_epoch,stopped_early,seconds"
    );
    assert!(
        lines[3].starts_with("3,0.01,32,finished,0.900000,3,2,true,"),
        "{}",
        lines[3]
    );
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| **3** | **0.01** | **32** |"), "{md}");
    assert!(md.contains("test accuracy 0.8500"), "{md}");
    let json: TuneReport = read_json(&out.join("results.json")).unwrap();
    assert_eq!(json, report);
    let png = image::open(out.join("tune.png")).unwrap();
    assert_eq!(png.width(), 1200);
}

#[test]
fn minimising_an_objective_picks_the_smallest_figure() {
    let records: Vec<TrialRecord> = [0.5, 0.2, 0.2, 0.9]
        .iter()
        .enumerate()
        .map(|(i, &v)| TrialRecord {
            trial: i + 1,
            dir: String::new(),
            params: TrialParams::default(),
            status: TrialStatus::Finished(TrialOutcome {
                valid: v,
                epochs: 1,
                model_epoch: 1,
                stopped_early: false,
                curve: vec![],
                test: None,
            }),
            seconds: 0.0,
        })
        .collect();
    assert_eq!(best_of(&records, &Objective::loss()), Some(2));
    assert_eq!(best_of(&records, &Objective::accuracy()), Some(4));
    assert_eq!(best_of(&[], &Objective::loss()), None);
}

#[test]
fn a_resumed_tuning_skips_the_finished_trials() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let plan = TunePlan::new(grid("lr=1e-3,1e-2,1e-1,1"), Objective::accuracy(), "grid");
    let calls = RefCell::new(Vec::new());
    let interrupted = tune(&plan, &base(&out), |params, settings| {
        calls.borrow_mut().push(settings.out.clone());
        if params.number("lr") == Some(1e-1) {
            return Err(TaskError::invalid("the machine went down"));
        }
        Ok(fake_outcome(params))
    });
    let err = interrupted.unwrap_err().to_string();
    assert_eq!(err, "trial 3 (lr=0.1): the machine went down");
    assert_eq!(calls.borrow().len(), 3);
    let first = std::fs::read(out.join("trial-001").join(TRIAL_FILE)).unwrap();

    // Without --resume the folder is refused; with it, trials 1 and 2 are not run again.
    let err = tune(&plan, &base(&out), |p, _| Ok(fake_outcome(p))).unwrap_err();
    assert!(err.to_string().contains("already holds a tuning"), "{err}");
    let mut settings = base(&out);
    settings.resume = true;
    calls.borrow_mut().clear();
    let report = tune(&plan, &settings, |params, settings| {
        calls.borrow_mut().push(settings.out.clone());
        Ok(fake_outcome(params))
    })
    .unwrap();
    let calls = calls.into_inner();
    assert_eq!(
        calls,
        vec![
            out.join("trial-003"),
            out.join("trial-004"),
            out.join(BEST_DIR)
        ]
    );
    assert_eq!(report.trials.len(), 4);
    assert_eq!(report.best_trial, 2);
    assert_eq!(
        std::fs::read(out.join("trial-001").join(TRIAL_FILE)).unwrap(),
        first
    );

    // A resume of another plan is refused, naming what changed.
    let other = TunePlan::new(grid("lr=1e-3,1e-2"), Objective::accuracy(), "grid");
    let err = tune(&other, &settings, |p, _| Ok(fake_outcome(p))).unwrap_err();
    assert!(err.to_string().contains("--resume refused"), "{err}");
    // --overwrite starts again.
    let mut fresh = base(&out);
    fresh.overwrite = true;
    let report = tune(&other, &fresh, |p, _| Ok(fake_outcome(p))).unwrap();
    assert_eq!(report.trials.len(), 2);
    assert!(!out.join("trial-003").exists());
}

#[test]
fn a_diverged_trial_is_recorded_and_the_search_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let plan = TunePlan::new(grid("lr=1e-2,10"), Objective::accuracy(), "grid");
    let diverge = |params: &TrialParams| -> Result<TrialOutcome, TaskError> {
        if params.number("lr") == Some(10.0) {
            return Err(TaskError::Train(TrainError::NonFiniteLoss {
                epoch: 1,
                step: 3,
                loss: f64::NAN,
            }));
        }
        Ok(fake_outcome(params))
    };
    let report = tune(&plan, &base(&out), |p, _| diverge(p)).unwrap();
    assert_eq!(report.best_trial, 1);
    assert!(matches!(
        report.trials[1].status,
        TrialStatus::Diverged { .. }
    ));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines().nth(2).unwrap().starts_with("2,10,diverged,,"),
        "{csv}"
    );

    let all_bad = TunePlan::new(grid("lr=10"), Objective::accuracy(), "grid");
    let mut settings = base(&dir.path().join("bad"));
    settings.overwrite = true;
    let err = tune(&all_bad, &settings, |p, _| diverge(p)).unwrap_err();
    assert!(
        err.to_string()
            .contains("every one of the 1 trials diverged"),
        "{err}"
    );
}

#[test]
fn a_run_folder_is_not_taken_for_a_tuning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.json"), "{}").unwrap();
    let plan = TunePlan::new(grid("lr=1e-2"), Objective::accuracy(), "grid");
    let mut settings = base(dir.path());
    settings.resume = true;
    let err = tune(&plan, &settings, |p, _| Ok(fake_outcome(p))).unwrap_err();
    assert!(
        err.to_string().contains("already holds a tuning or a run"),
        "{err}"
    );
    let empty = TunePlan::new(vec![], Objective::accuracy(), "grid");
    assert!(tune(&empty, &base(dir.path()), |p, _| Ok(fake_outcome(p))).is_err());
}

#[test]
fn outcomes_are_read_from_a_run_report() {
    let report = json!({
        "epochs": 3,
        "model_epoch": 2,
        "stopped_early": true,
        "valid": { "accuracy": 0.97, "loss": 0.1 },
        "test": { "accuracy": 0.96 },
        "history": [
            { "epoch": 1, "valid_loss": 0.3, "valid_accuracy": 0.9 },
            { "epoch": 2, "valid_loss": 0.1, "valid_accuracy": 0.97 },
            { "epoch": 3, "valid_loss": 0.2, "valid_accuracy": 0.95 },
        ],
    });
    let o = TrialOutcome::from_report(&report, &Objective::accuracy()).unwrap();
    assert_eq!(o.valid, 0.97);
    assert_eq!(o.curve, vec![0.9, 0.97, 0.95]);
    assert_eq!((o.epochs, o.model_epoch, o.stopped_early), (3, 2, true));
    assert_eq!(o.test, Some(0.96));
    // No `valid` block: the kept epoch's record.
    let mut bare = report.clone();
    bare["valid"] = json!(null);
    let o = TrialOutcome::from_report(&bare, &Objective::loss()).unwrap();
    assert_eq!((o.valid, o.test), (0.1, None));
    assert!(
        TrialOutcome::from_report(&report, &Objective::parse("max:macro_f1").unwrap()).is_none()
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("metrics.json"), report.to_string()).unwrap();
    let err = TrialOutcome::from_run_folder(dir.path(), &Objective::new("bleu", Goal::Maximize))
        .unwrap_err();
    assert!(
        err.to_string().contains("records no validation `bleu`"),
        "{err}"
    );
}

#[test]
fn objectives_parse() {
    assert_eq!(Objective::parse("accuracy").unwrap(), Objective::accuracy());
    assert_eq!(Objective::parse("loss").unwrap().goal, Goal::Minimize);
    let f1 = Objective::parse("max:macro_f1").unwrap();
    assert_eq!((f1.metric.as_str(), f1.goal), ("macro_f1", Goal::Maximize));
    assert!(Objective::parse("bleu").is_err());
    assert!(Objective::parse("min:").is_err());
    assert_eq!(
        Objective::accuracy().to_string(),
        "validation accuracy (max)"
    );
}
