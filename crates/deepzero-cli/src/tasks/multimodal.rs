//! The image–text recipes ([`deepzero_multimodal::tasks`]): `scenes-clip` (train, eval,
//! predict) and `deepzero search`, which finds the indexed test scenes that best match a text
//! and draws them in a grid; `scenes-caption[-global]` (train, eval, predict) and
//! `deepzero caption`, which captions image files; `scenes-vqa*` (train, eval, predict);
//! `deepzero zero-shot` with a Hugging Face CLIP checkpoint folder; `ml100k-content-neumf`.

use std::path::{Path, PathBuf};

use deepzero_multimodal::hf_clip::{ZeroShotOptions, zero_shot_files};
use deepzero_multimodal::tasks::caption::{CaptionOptions, CaptionPredictor, CaptionSpec};
use deepzero_multimodal::tasks::clip::{ClipPredictor, ClipSpec, SearchOptions};
use deepzero_multimodal::tasks::content_rec::{ContentPredictor, ContentRecSpec};
use deepzero_multimodal::tasks::vqa::{VqaPredictor, VqaSpec};

use super::{CliResult, device, print_items, print_json};
use crate::args::{PredictArgs, RunArgs};
use crate::error::CliError;
use crate::recipe::Recipe;

/// `predict` of the joint-embedding recipe (`scenes-clip`): each text is a query, answered
/// by its best matches among the indexed test scenes.
pub fn predict_clip(_: &ClipSpec, recipe: &Recipe, run: &Path, args: &PredictArgs) -> CliResult {
    let device = device(args.backend.as_deref())?;
    let predictor = ClipPredictor::load(run, Some(recipe.name), &device)?;
    let results = predictor.search_each(&args.inputs, args.top.max(1))?;
    print_items(&results, args.json);
    Ok(())
}

/// `predict` of `scenes-vqa*`: IMAGE, then questions about it (answer, probability each).
pub fn predict_vqa(_: &VqaSpec, recipe: &Recipe, run: &Path, args: &PredictArgs) -> CliResult {
    let device = device(args.backend.as_deref())?;
    let predictor = VqaPredictor::load(run, Some(recipe.name), &device)?;
    print_items(&predictor.answer_inputs(&args.inputs)?, args.json);
    Ok(())
}

/// `predict` of `ml100k-content-neumf`: user ids, each with their best films and best new films.
pub fn predict_content(
    _: &ContentRecSpec,
    recipe: &Recipe,
    run: &Path,
    args: &PredictArgs,
) -> CliResult {
    let predictor =
        ContentPredictor::load(run, Some(recipe.name), &device(args.backend.as_deref())?)?;
    print_items(
        &predictor.recommend_inputs(&args.inputs, args.top.max(1))?,
        args.json,
    );
    Ok(())
}

/// The options of `deepzero search`.
#[derive(Clone, Debug, clap::Args)]
pub struct SearchArgs {
    /// The recipe (scenes-clip) and its run.
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub options: SearchOptions,
}

/// `deepzero search RECIPE --run DIR "QUERY"`: the top-K indexed images, printed and drawn.
pub fn search(recipe: &Recipe, args: &SearchArgs) -> Result<(), CliError> {
    if recipe.name != "scenes-clip" {
        return Err(CliError::Usage(format!(
            "`{}` is not an image–text recipe (search takes scenes-clip)",
            recipe.name
        )));
    }
    args.options.check()?;
    let (run, device) = (&args.run.run, device(args.run.backend.as_deref())?);
    let predictor = ClipPredictor::load(run, Some(recipe.name), &device)?;
    let picture = args.options.picture_in(run);
    let found = predictor.search_and_draw(&args.options, &picture)?;
    if args.run.json {
        print_json(&found);
    } else {
        println!("{}", found.describe(&args.options.query));
        println!("-> {}", picture.display());
    }
    Ok(())
}

/// `predict` of the captioning recipes (`scenes-caption`, `scenes-caption-global`): captions
/// the image files given as inputs.
pub fn predict_caption(
    spec: &CaptionSpec,
    recipe: &Recipe,
    _: &Path,
    args: &PredictArgs,
) -> CliResult {
    let options = CaptionOptions {
        images: args.inputs.iter().map(PathBuf::from).collect(),
        beam: spec.beam_size,
    };
    caption_files(&args.run_args(recipe.name), &options)
}

/// Captions the images of `options` with the run and prints one `image<TAB>caption` line each.
fn caption_files(run: &RunArgs, options: &CaptionOptions) -> Result<(), CliError> {
    if options.images.is_empty() {
        return Err(CliError::Usage(format!(
            "{} needs at least one image file to caption",
            run.recipe
        )));
    }
    let device = device(run.backend.as_deref())?;
    let predictor = CaptionPredictor::load(&run.run, Some(&run.recipe), &device)?;
    print_items(&predictor.caption(options)?, run.json);
    Ok(())
}

/// The options of `deepzero caption`.
#[derive(Clone, Debug, clap::Args)]
pub struct CaptionArgs {
    /// The recipe (scenes-caption or scenes-caption-global) and its run.
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub options: CaptionOptions,
}

/// `deepzero caption RECIPE --run DIR IMAGE…`: one caption per image, tab-separated.
pub fn caption(recipe: &Recipe, args: &CaptionArgs) -> Result<(), CliError> {
    if !recipe.name.starts_with("scenes-caption") {
        return Err(CliError::Usage(format!(
            "`{}` is not a captioning recipe (caption takes scenes-caption or scenes-caption-global)",
            recipe.name
        )));
    }
    args.options.check()?;
    caption_files(&args.run, &args.options)
}

/// The options of `deepzero zero-shot`.
#[derive(Clone, Debug, clap::Args)]
pub struct ZeroShotArgs {
    #[command(flatten)]
    pub options: ZeroShotOptions,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
}

/// `deepzero zero-shot --checkpoint DIR IMAGE… --labels TEXT…`: each image's best labels.
pub fn zero_shot(args: &ZeroShotArgs) -> CliResult {
    let results = zero_shot_files(&args.options, &args.options.device()?)?;
    print_items(&results, args.json);
    Ok(())
}
