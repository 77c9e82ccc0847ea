//! The detection recipes ([`deepzero_vision::tasks::detect`]), `deepzero detect` and
//! `deepzero coco-eval`.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_vision::detect::coco::{CocoGt, CocoParams, evaluate, read_detections};
use deepzero_vision::tasks::detect::{self as detect, DetectOptions, DetectSpec, Predictor};

use super::{device, print_json};
use crate::args::{Family, PredictArgs, RunArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A detection recipe with its library spec.
pub struct DetectTask(pub DetectSpec);

impl RecipeTask for DetectTask {
    fn family(&self) -> Family {
        Family::Detection
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        detect::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        detect::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, _: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let images = args.inputs.iter().map(PathBuf::from).collect();
        let options = DetectOptions {
            draw: args.picture.clone(),
            ..DetectOptions::new(images)
        };
        detect_images(&args.run_args(recipe.name), &options)
    }
}

/// The options of `deepzero detect`.
#[derive(Clone, Debug, clap::Args)]
pub struct DetectArgs {
    /// The recipe (a detection recipe, e.g. digits-yolo) and its run; `--json` prints COCO
    /// result-format JSON (`image_id` = position in the list, from 1; `category_id` =
    /// class + 1) instead of lines.
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub options: DetectOptions,
}

/// `deepzero detect RECIPE --run DIR IMAGE…` with a run of `recipe`.
pub fn detect(recipe: &Recipe, args: &DetectArgs) -> Result<(), CliError> {
    if recipe.task.family() != Family::Detection {
        return Err(CliError::Usage(format!(
            "`{}` is not a detection recipe",
            recipe.name
        )));
    }
    args.options.check()?;
    detect_images(&args.run, &args.options)
}

/// Finds and draws the objects `options` ask for and prints them (with `--json`: as COCO
/// results).
fn detect_images(run: &RunArgs, options: &DetectOptions) -> Result<(), CliError> {
    let device = device(run.backend.as_deref())?;
    let predictor = Predictor::load(&run.run, Some(&run.recipe), &device)?;
    let (found, pictures) = predictor.detect(options)?;
    if run.json {
        print_json(&detect::coco_results(&found));
        return Ok(());
    }
    for picture in pictures {
        eprintln!("drew {}", picture.display());
    }
    for f in &found {
        println!("{}", f.describe(&predictor.info().class_names));
    }
    Ok(())
}

/// The options of `deepzero coco-eval`.
#[derive(Clone, Debug, clap::Args)]
pub struct CocoEvalArgs {
    /// COCO ground-truth JSON (images, categories, annotations with bbox).
    pub gt: PathBuf,
    /// COCO results JSON (a list of image_id, category_id, bbox, score).
    pub dt: PathBuf,
    /// Print the twelve numbers as a JSON object instead of pycocotools' lines.
    #[arg(long)]
    pub json: bool,
}

/// `deepzero coco-eval GT.json DT.json`: the twelve numbers of pycocotools' `summarize()`.
pub fn coco_eval(args: &CocoEvalArgs) -> Result<(), CliError> {
    let usage = |e: deepzero_vision::detect::coco::CocoError| CliError::Usage(e.to_string());
    let gt = CocoGt::from_json(&args.gt).map_err(usage)?;
    let dt = read_detections(&args.dt, &gt).map_err(usage)?;
    if gt.zero_ids() > 0 {
        eprintln!(
            "warning: {}: {} annotation(s) have id 0, which pycocotools (and so this command) never counts as matched",
            args.gt.display(),
            gt.zero_ids()
        );
    }
    let summary = evaluate(&gt, &dt, &CocoParams::default());
    if args.json {
        print_json(&summary);
    } else {
        for line in summary.lines() {
            println!("{line}");
        }
    }
    Ok(())
}
