//! The detection recipes ([`deepzero_vision::tasks::detect`]), `deepzero detect` and
//! `deepzero coco-eval`.

use std::path::{Path, PathBuf};

use deepzero_vision::detect::coco;
use deepzero_vision::tasks::detect::{self as detect, DetectOptions};
use deepzero_vision::tasks::rcnn::{self, ImportOptions};

use super::{CliResult, device, print_json};
use crate::args::{Family, PredictArgs, RunArgs};
use crate::error::CliError;
use crate::recipe::Recipe;
use crate::tasks::zoo::ImportArgs;

/// `predict` of the detection recipes: the objects in the images given (drawn as `--picture`
/// says).
pub fn predict<S>(_: &S, recipe: &Recipe, _: &Path, args: &PredictArgs) -> CliResult {
    let images = args.inputs.iter().map(PathBuf::from).collect();
    let options = DetectOptions {
        draw: args.picture.clone(),
        ..DetectOptions::new(images)
    };
    detect_images(&args.run_args(recipe.name), &options)
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
    recipe.require(Family::Detection, "a detection recipe")?;
    detect_images(&args.run, &args.options)
}

/// Finds and draws the objects `options` ask for and prints them (with `--json`: as COCO
/// results).
fn detect_images(run: &RunArgs, options: &DetectOptions) -> Result<(), CliError> {
    let device = device(run.backend.as_deref())?;
    let predictor = detect::load_detector(&run.run, Some(&run.recipe), &device)?;
    let (found, pictures) = predictor.detect(options)?;
    if run.json {
        print_json(&detect::coco_results(&found));
        return Ok(());
    }
    for picture in pictures {
        eprintln!("drew {}", picture.display());
    }
    for f in &found {
        println!("{}", f.describe(predictor.class_names()));
    }
    Ok(())
}

/// `deepzero import fasterrcnn_resnet50_fpn FILE --out DIR` (the architecture read from FILE).
pub fn import(args: &ImportArgs) -> CliResult {
    if args.classes.is_some() || args.allow_partial {
        return Err(CliError::Usage(
            "--classes, --allow-partial: classifiers only".into(),
        ));
    }
    let options = ImportOptions::new(args.overwrite);
    let import = rcnn::import_torchvision(&args.weights, &args.out, &options)?;
    println!("{import}\nfind objects with: {}", import.detect_command());
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
    let (summary, warning) =
        coco::evaluate_files(&args.gt, &args.dt).map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    if args.json {
        print_json(&summary);
    } else {
        println!("{}", summary.lines().join("\n"));
    }
    Ok(())
}
