//! The segmentation recipes ([`deepzero_vision::segment::task`]): `digits-*`, and
//! `deepzero segment RECIPE --run DIR IMAGE…`.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_vision::segment::task::{self, Predictor, SegmentSpec};

use super::{device, print_items};
use crate::args::{Family, PredictArgs, RunArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

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

    fn predict(&self, recipe: &Recipe, _: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
        segment_images(
            &args.run_args(recipe.name),
            &images,
            args.picture.as_deref(),
        )
    }
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
