//! The detection recipes ([`deepzero_vision::tasks::detect`]), `deepzero detect` and
//! `deepzero coco-eval`.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_train::device::Backend;
use deepzero_vision::detect::coco::{CocoGt, CocoParams, evaluate, read_detections};
use deepzero_vision::detect::draw::draw_boxes_file;
use deepzero_vision::tasks::detect::{self as detect, DetectSpec, Predictor};

use super::print_json;
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A detection recipe with its library spec.
pub struct DetectTask(pub DetectSpec);

impl RecipeTask for DetectTask {
    fn family(&self) -> Family {
        Family::Detection
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let report = detect::train(&self.0, settings)?;
        println!(
            "{}: test AP {:.4}, AP50 {:.4} (COCO) -> {}",
            settings.name,
            report.test["ap"].as_f64().unwrap_or(f64::NAN),
            report.test["ap50"].as_f64().unwrap_or(f64::NAN),
            settings.out.join("metrics.json").display()
        );
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let report = detect::evaluate_run(&self.0, run, settings)?;
        println!(
            "{}: test AP {:.4}, AP50 {:.4}, AP75 {:.4} (COCO, {} scenes) -> {}",
            settings.name,
            report.test["ap"].as_f64().unwrap_or(f64::NAN),
            report.test["ap50"].as_f64().unwrap_or(f64::NAN),
            report.test["ap75"].as_f64().unwrap_or(f64::NAN),
            report.data["test_scenes"],
            settings.out.join("metrics.json").display()
        );
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
        detect_images(
            recipe.name,
            run,
            &images,
            &DrawOptions {
                json: args.json,
                draw: args.picture.clone(),
                score_threshold: 0.25,
            },
            args.backend.as_deref(),
        )
    }
}

/// The options of `deepzero detect`.
#[derive(Clone, Debug, clap::Args)]
pub struct DetectArgs {
    /// Recipe name (a detection recipe, e.g. digits-yolo).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[arg(long)]
    pub run: PathBuf,
    /// PNG or JPEG images.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Print COCO result-format JSON (`image_id` = position in the list, from 1;
    /// `category_id` = class + 1) instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Folder to write each image with its boxes drawn (`NAME.boxes.png`); default: beside
    /// nothing (no pictures).
    #[arg(long, value_name = "DIR")]
    pub draw: Option<PathBuf>,
    /// Smallest score reported.
    #[arg(long, default_value_t = 0.25)]
    pub score_threshold: f32,
    /// Compute backend (default: flex).
    #[arg(long)]
    pub backend: Option<String>,
}

struct DrawOptions {
    json: bool,
    draw: Option<PathBuf>,
    score_threshold: f32,
}

/// `deepzero detect RECIPE --run DIR IMAGE…`.
pub fn detect(args: &DetectArgs) -> Result<(), CliError> {
    let recipe = crate::recipes::find(&args.recipe)?;
    if recipe.task.family() != Family::Detection {
        return Err(CliError::Usage(format!(
            "`{}` is not a detection recipe",
            args.recipe
        )));
    }
    if !(0.0..=1.0).contains(&args.score_threshold) {
        return Err(CliError::Usage(
            "--score-threshold must lie in [0, 1]".into(),
        ));
    }
    let options = DrawOptions {
        json: args.json,
        draw: args.draw.clone(),
        score_threshold: args.score_threshold,
    };
    detect_images(
        recipe.name,
        &args.run,
        &args.images,
        &options,
        args.backend.as_deref(),
    )
}

fn detect_images(
    recipe: &str,
    run: &Path,
    images: &[PathBuf],
    options: &DrawOptions,
    backend: Option<&str>,
) -> Result<(), CliError> {
    let device = Backend::resolve(backend)?.device()?;
    let predictor = Predictor::load(run, Some(recipe), &device)?;
    let found = predictor.predict(images, options.score_threshold)?;
    if let Some(dir) = &options.draw {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        for f in &found {
            let stem = f
                .path
                .file_stem()
                .map_or("image".into(), |s| s.to_string_lossy().to_string());
            let out = dir.join(format!("{stem}.boxes.png"));
            let boxes: Vec<_> = f.detections.iter().map(|d| (d.class, d.bbox)).collect();
            draw_boxes_file(&f.path, &boxes, &out)
                .map_err(|e| CliError::Usage(format!("{}: {e}", out.display())))?;
            if !options.json {
                eprintln!("drew {}", out.display());
            }
        }
    }
    if options.json {
        let results: Vec<serde_json::Value> = found
            .iter()
            .enumerate()
            .flat_map(|(i, f)| {
                f.detections.iter().map(move |d| {
                    serde_json::json!({
                        "image_id": i + 1,
                        "file_name": f.path.display().to_string(),
                        "category_id": d.class + 1,
                        "bbox": [d.bbox[0], d.bbox[1], d.bbox[2] - d.bbox[0], d.bbox[3] - d.bbox[1]],
                        "score": d.score,
                    })
                })
            })
            .collect();
        print_json(&results);
        return Ok(());
    }
    for f in &found {
        println!(
            "{} ({}x{}): {} objects",
            f.path.display(),
            f.size.0,
            f.size.1,
            f.detections.len()
        );
        for d in &f.detections {
            println!(
                "  {}\t{:.3}\t[{:.1}, {:.1}, {:.1}, {:.1}]",
                predictor.class_name(d.class),
                d.score,
                d.bbox[0],
                d.bbox[1],
                d.bbox[2],
                d.bbox[3]
            );
        }
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
