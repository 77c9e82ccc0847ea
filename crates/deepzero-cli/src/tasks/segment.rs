//! The segmentation recipes ([`deepzero_vision::segment::task`]): `digits-*`, and
//! `deepzero segment RECIPE --run DIR IMAGE…`.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_train::device::Backend;
use deepzero_vision::segment::task::{self, Predictor, SegmentSpec};

use super::print_json;
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A trainable segmenter.
pub struct SegmentTask(pub SegmentSpec);

impl SegmentTask {
    /// The classification-only image options make no sense here: refuse them.
    fn check(args: &TrainArgs, name: &str) -> Result<(), CliError> {
        if args.image.classes_subset.is_some() || args.image.per_class.is_some() {
            return Err(CliError::Usage(format!(
                "--classes-subset and --per-class apply to image classifiers, not to {name}"
            )));
        }
        Ok(())
    }
}

impl RecipeTask for SegmentTask {
    fn family(&self) -> Family {
        Family::Image
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Self::check(args, &settings.name)?;
        task::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Self::check(args, &settings.name)?;
        task::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
        segment_images(
            recipe.name,
            run,
            &images,
            args.picture.as_deref(),
            args.json,
            args.backend.as_deref(),
        )
    }
}

/// `deepzero segment`: per-class pixel counts of each image and its mask drawn onto it.
#[derive(Clone, Debug, clap::Args)]
pub struct SegmentArgs {
    /// Recipe name (digits-unet, …).
    pub recipe: String,
    /// The run folder written by `deepzero train` (alias --checkpoint).
    #[arg(long, alias = "checkpoint")]
    pub run: PathBuf,
    /// PNG or JPEG images.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Folder for the pictures `<image stem>.mask.png` (default RUN/segmented).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
}

/// Runs `deepzero segment`.
pub fn segment(recipe: &Recipe, args: &SegmentArgs) -> Result<(), CliError> {
    segment_images(
        recipe.name,
        &args.run,
        &args.images,
        args.out.as_deref(),
        args.json,
        args.backend.as_deref(),
    )
}

fn segment_images(
    recipe: &str,
    run: &Path,
    images: &[PathBuf],
    out: Option<&Path>,
    json: bool,
    backend: Option<&str>,
) -> Result<(), CliError> {
    if images.is_empty() {
        return Err(CliError::Usage("segment needs at least one IMAGE".into()));
    }
    let device = Backend::resolve(backend)?.device()?;
    let predictor = Predictor::load(run, Some(recipe), &device)?;
    let predictions = predictor.predict(images)?;
    let out = out.map_or_else(|| run.join("segmented"), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let mut pictures = Vec::with_capacity(predictions.len());
    for (i, p) in predictions.iter().enumerate() {
        let stem = images[i]
            .file_stem()
            .map_or_else(|| format!("image{i}"), |s| s.to_string_lossy().into_owned());
        let picture = out.join(format!("{stem}.mask.png"));
        predictor.draw(p, &picture)?;
        pictures.push(picture);
    }
    if json {
        let values: Vec<serde_json::Value> = predictions
            .iter()
            .zip(&pictures)
            .map(|(p, picture)| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                v["picture"] = picture.display().to_string().into();
                v
            })
            .collect();
        print_json(&values);
        return Ok(());
    }
    for (p, picture) in predictions.iter().zip(&pictures) {
        let counts: Vec<String> = p
            .class_pixels
            .iter()
            .map(|(_, name, n)| format!("{name} {n}"))
            .collect();
        println!(
            "{}: {} -> {}",
            p.image,
            counts.join(", "),
            picture.display()
        );
    }
    Ok(())
}
