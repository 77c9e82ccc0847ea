//! What the two detectors trained on digit scenes ([`super::detect`]'s YOLO and
//! [`super::digits_rcnn`]'s Faster R-CNN) share around their own models: the scenes as
//! training, validation and test sources, fitting on the seeded device, and the `metrics.json`
//! of a training run or an evaluation, with its line on the console.

use std::ops::Range;
use std::path::Path;

use burn::prelude::*;
use deepzero_data::scenes::Scenes;
use deepzero_train::{
    BatchSource, EvalReport, FitOutcome, Progress, RunReport, RunSettings, Supervised, TaskError,
};
use serde_json::json;

use super::detect::summary_json;
use crate::detect::coco::CocoSummary;

/// A detection run on digit scenes while it trains: its settings, the scenes as batch sources
/// (the last `valid_fraction` of the training scenes, at most half and at least one, validate;
/// every test scene tests), where they came from, and the console.
pub(crate) struct SceneRun<'a, S> {
    settings: &'a RunSettings,
    /// The training scenes that train.
    pub train: S,
    /// The training scenes that validate.
    pub valid: S,
    /// The test scenes.
    pub test: S,
    /// How many scenes each of them holds: training, validation, test.
    pub sizes: [usize; 3],
    /// Where the scenes came from, as `metrics.json` records it.
    data: String,
    progress: Progress,
}

impl<'a, S> SceneRun<'a, S> {
    /// The run `settings` describe on `train` and `test` (scenes from `data`), each part of
    /// them made a batch source by `source`.
    pub fn new(
        settings: &'a RunSettings,
        (train, test): (&Scenes, &Scenes),
        data: String,
        source: impl Fn(&Scenes, Range<usize>) -> S,
    ) -> Self {
        let n = train.scenes.len();
        let fraction = settings.valid_fraction.clamp(0.0, 0.5);
        let n_valid = ((n as f64 * fraction) as usize).max(1);
        Self {
            settings,
            train: source(train, 0..n - n_valid),
            valid: source(train, n - n_valid..n),
            test: source(test, 0..test.scenes.len()),
            sizes: [n - n_valid, n_valid, test.scenes.len()],
            data,
            progress: settings.progress(),
        }
    }

    /// The run `settings` describe on sources already split into training, validation and
    /// test (holding `sizes` examples), from `data`.
    pub fn from_sources(
        settings: &'a RunSettings,
        [train, valid, test]: [S; 3],
        sizes: [usize; 3],
        data: String,
    ) -> Self {
        Self {
            settings,
            train,
            valid,
            test,
            sizes,
            data,
            progress: settings.progress(),
        }
    }

    /// Where the scenes came from.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Says what trains (`detector`, e.g. `YOLOv3-style (width 8)`) on which scenes, where,
    /// and how.
    pub fn announce(&mut self, detector: &str) {
        let [train, valid, test] = self.sizes;
        let s = self.settings;
        self.progress.message(&format!(
            "{}: {detector} on {} ({train} train / {valid} valid / {test} test scenes), backend {}, {}, out {}",
            s.name,
            self.data,
            s.backend,
            s.fit.describe(),
            s.out.display()
        ));
    }

    /// Fits the model `init` builds (on the autodiff device seeded with the run's seed) on the
    /// training source, validated on the validation one, and saves it into the run folder;
    /// returns the device to evaluate on and the outcome.
    ///
    /// # Errors
    /// As [`RunSettings::fit_and_save`].
    pub fn fit<M>(
        &mut self,
        init: impl FnOnce(&Device) -> M,
        identity: serde_json::Value,
    ) -> Result<(Device, FitOutcome<M>), TaskError>
    where
        M: Supervised,
        S: BatchSource<M::Batch>,
    {
        let settings = self.settings;
        let device = settings.device()?;
        let train_device = device.clone().autodiff();
        train_device.seed(settings.seed());
        let model = init(&train_device);
        let (train, valid) = (&self.train, Some(&self.valid));
        let progress = &mut self.progress;
        let outcome =
            settings.fit_and_save(model, train, valid, &train_device, identity, progress)?;
        Ok((device, outcome))
    }

    /// Writes the `metrics.json` of the detector trained as `outcome` says (`model`: its
    /// description and parameter count) and scored `test` on the test scenes into the run
    /// folder, says so, and returns the report.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn finish<M>(
        self,
        outcome: &FitOutcome<M>,
        model: (String, usize),
        test: &CocoSummary,
    ) -> Result<RunReport, TaskError> {
        let [train, valid, scenes] = self.sizes;
        let last = outcome.history.last();
        let report = RunReport {
            data: json!({ "source": self.data, "train_examples": train, "valid_examples": valid, "test_examples": scenes }),
            valid: json!({ "class_accuracy_at_objects": last.map(|h| h.valid_accuracy) }),
            test: summary_json(test),
            ..RunReport::new(self.settings, outcome, model.0, model.1)
        };
        let path = report.write(&self.settings.out)?;
        self.progress.message(&format!(
            "test AP {:.4}, AP50 {:.4}, AP75 {:.4} (COCO, {scenes} scenes); {}",
            test.ap,
            test.ap50,
            test.ap75,
            path.display()
        ));
        Ok(report)
    }
}

/// Evaluates the detection run in `run` on `scenes` test scenes of `data`: `score` writes its
/// files into the report folder `settings.out` and returns COCO's figures, written to its
/// `metrics.json` and said on the console. The report folder (by default RUN/eval) may hold an
/// earlier evaluation: it is replaced, so the run-folder guard of training does not apply.
///
/// # Errors
/// The folder or a file cannot be written, and those of `score`.
pub(crate) fn write_evaluation(
    settings: &RunSettings,
    run: &Path,
    data: &str,
    scenes: usize,
    score: impl FnOnce(&Path) -> Result<CocoSummary, TaskError>,
) -> Result<EvalReport, TaskError> {
    std::fs::create_dir_all(&settings.out).map_err(TaskError::io(&settings.out))?;
    let out = settings.out.as_path();
    let start = std::time::Instant::now();
    let test = score(out)?;
    let report = EvalReport::new(
        settings,
        run,
        json!({ "source": data, "test_scenes": scenes }),
        scenes,
        start.elapsed().as_secs_f64(),
        summary_json(&test),
    );
    report.write(out)?;
    settings.progress().message(&format!(
        "{}: test AP {:.4}, AP50 {:.4}, AP75 {:.4} (COCO, {scenes} scenes) -> {}",
        settings.name,
        test.ap,
        test.ap50,
        test.ap75,
        out.join("metrics.json").display()
    ));
    Ok(report)
}
