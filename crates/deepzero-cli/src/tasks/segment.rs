//! The segmentation recipes ([`deepzero_vision::segment::task`]): `digits-*`, `voc-segment`
//! (torchvision's FCN / DeepLab v3 weights, [`deepzero_vision::segment::import`]), and
//! `deepzero segment RECIPE --run DIR IMAGE…`.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_vision::segment::import::{SegmentImportOptions, import_torchvision};
use deepzero_vision::segment::task::{self, Predictor, SegmentSpec};

use super::{CliResult, device, print_items};
use crate::args::{Family, PredictArgs, RunArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};
use crate::tasks::zoo::ImportArgs;

/// A trainable segmenter.
pub struct SegmentTask(pub SegmentSpec);

impl RecipeTask for SegmentTask {
    fn family(&self) -> Family {
        Family::Image
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        args.image.check_not_classifier(&settings.name)?;
        task::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        args.image.check_not_classifier(&settings.name)?;
        task::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        predict(&self.0, recipe, run, args)
    }
}

/// `deepzero predict RECIPE --run DIR IMAGE…` of a segmentation recipe (trained or imported).
pub fn predict<S>(_: &S, recipe: &Recipe, _: &Path, args: &PredictArgs) -> CliResult {
    let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    segment_images(
        &args.run_args(recipe.name),
        &images,
        args.picture.as_deref(),
    )
}

/// `deepzero import fcn_resnet50|fcn_resnet101|deeplabv3_resnet50|deeplabv3_resnet101 FILE
/// --out DIR`: a `voc-segment` run (the architecture read from FILE).
pub fn import(args: &ImportArgs) -> CliResult {
    if args.classes.is_some() || args.allow_partial {
        return Err(CliError::Usage(
            "--classes, --allow-partial: classifiers only".into(),
        ));
    }
    let options = SegmentImportOptions {
        overwrite: args.overwrite,
        model_name: Some(args.model.clone()),
        ..SegmentImportOptions::default()
    };
    let import = import_torchvision(&args.weights, &args.out, &options)?;
    println!(
        "{import}\nsegment images with: {}",
        import.segment_command()
    );
    Ok(())
}

/// `deepzero segment`: per-class pixel counts of each image and its mask drawn onto it.
#[derive(Clone, Debug, clap::Args)]
pub struct SegmentArgs {
    /// The recipe (digits-unet, …) and its run.
    #[command(flatten)]
    pub run: RunArgs,
    /// PNG or JPEG images.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Folder for the pictures `<image stem>.mask.png` (default RUN/segmented).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `deepzero segment` (`args.run.recipe` names a known recipe).
pub fn segment(args: &SegmentArgs) -> Result<(), CliError> {
    segment_images(&args.run, &args.images, args.out.as_deref())
}

/// Segments `images` with the run, draws them into `out` (default RUN/segmented) and prints
/// the per-class pixel counts.
fn segment_images(run: &RunArgs, images: &[PathBuf], out: Option<&Path>) -> Result<(), CliError> {
    if images.is_empty() {
        return Err(CliError::Usage("segment needs at least one IMAGE".into()));
    }
    let device = device(run.backend.as_deref())?;
    let predictor = Predictor::load(&run.run, Some(&run.recipe), &device)?;
    let out = out.map_or_else(|| run.run.join("segmented"), Path::to_path_buf);
    print_items(&predictor.segment_into(images, &out)?, run.json);
    Ok(())
}
