//! The image–text recipes ([`deepzero_multimodal::tasks`]): `scenes-clip` (train, eval,
//! predict) and `deepzero search`, which finds the indexed test scenes that best match a text
//! and draws them in a grid; `scenes-caption[-global]` (train, eval, predict) and
//! `deepzero caption`, which captions image files.

use std::path::{Path, PathBuf};

use deepzero_multimodal::tasks::caption::{self, CaptionPredictor, CaptionSpec};
use deepzero_multimodal::tasks::clip::{self, ClipPredictor, ClipSpec};
use deepzero_train::RunSettings;

use super::{device, print_items, print_json};
use crate::args::{Family, PredictArgs, RunArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// The joint-embedding recipe (`scenes-clip`).
pub struct ClipTask(pub ClipSpec);

impl RecipeTask for ClipTask {
    fn family(&self) -> Family {
        Family::Multimodal
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        clip::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        clip::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// Each text is a query: its best matches among the indexed test scenes.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        if args.inputs.is_empty() {
            return Err(CliError::Usage(format!(
                "predict {} needs at least one text query",
                recipe.name
            )));
        }
        let device = device(args.backend.as_deref())?;
        let predictor = ClipPredictor::load(run, Some(recipe.name), &device)?;
        let mut results = Vec::new();
        for query in &args.inputs {
            results.push((query, predictor.search(query, args.top.max(1))?));
        }
        if args.json {
            print_json(&results);
            return Ok(());
        }
        for (query, found) in &results {
            println!("{}", found.describe(query));
        }
        Ok(())
    }
}

/// The options of `deepzero search`.
#[derive(Clone, Debug, clap::Args)]
pub struct SearchArgs {
    /// The recipe (scenes-clip) and its run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The text to look for, e.g. "a small seven left of a sneaker".
    pub query: String,
    /// How many images to return.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Where to draw the found images (default RUN/search.png).
    #[arg(long)]
    pub picture: Option<PathBuf>,
}

/// `deepzero search RECIPE --run DIR "QUERY"`: the top-K indexed images, printed and drawn.
pub fn search(recipe: &Recipe, args: &SearchArgs) -> Result<(), CliError> {
    if recipe.name != "scenes-clip" {
        return Err(CliError::Usage(format!(
            "`{}` is not an image–text recipe (search takes scenes-clip)",
            recipe.name
        )));
    }
    if args.top == 0 {
        return Err(CliError::Usage("--top must be at least 1".into()));
    }
    let (run, device) = (&args.run.run, device(args.run.backend.as_deref())?);
    let predictor = ClipPredictor::load(run, Some(recipe.name), &device)?;
    let found = predictor.search(&args.query, args.top)?;
    let picture = args
        .picture
        .clone()
        .unwrap_or_else(|| run.join("search.png"));
    predictor.draw_grid(&found.hits, &picture)?;
    if args.run.json {
        print_json(&found);
    } else {
        println!("{}", found.describe(&args.query));
        println!("-> {}", picture.display());
    }
    Ok(())
}

/// The captioning recipes (`scenes-caption`, `scenes-caption-global`).
pub struct CaptionTask(pub CaptionSpec);

impl RecipeTask for CaptionTask {
    fn family(&self) -> Family {
        Family::Multimodal
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        caption::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        caption::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// Captions the image files given as inputs.
    fn predict(&self, recipe: &Recipe, _: &Path, args: &PredictArgs) -> Result<(), CliError> {
        caption_files(&args.run_args(recipe.name), &args.inputs, self.0.beam_size)
    }
}

/// Captions `images` with the run and prints one `image<TAB>caption` line each.
fn caption_files(run: &RunArgs, images: &[String], beam: usize) -> Result<(), CliError> {
    if images.is_empty() {
        return Err(CliError::Usage(format!(
            "{} needs at least one image file to caption",
            run.recipe
        )));
    }
    let device = device(run.backend.as_deref())?;
    let predictor = CaptionPredictor::load(&run.run, Some(&run.recipe), &device)?;
    let paths: Vec<&Path> = images.iter().map(Path::new).collect();
    print_items(&predictor.caption_images(&paths, beam)?, run.json);
    Ok(())
}

/// The options of `deepzero caption`.
#[derive(Clone, Debug, clap::Args)]
pub struct CaptionArgs {
    /// The recipe (scenes-caption or scenes-caption-global) and its run.
    #[command(flatten)]
    pub run: RunArgs,
    /// PNG or JPEG images (read as grey, light ink on dark, resized to the scenes' side).
    pub images: Vec<String>,
    /// Beams of the search (1: greedy).
    #[arg(long, default_value_t = 4)]
    pub beam: usize,
}

/// `deepzero caption RECIPE --run DIR IMAGE…`: one caption per image, tab-separated.
pub fn caption(recipe: &Recipe, args: &CaptionArgs) -> Result<(), CliError> {
    if !recipe.name.starts_with("scenes-caption") {
        return Err(CliError::Usage(format!(
            "`{}` is not a captioning recipe (caption takes scenes-caption or scenes-caption-global)",
            recipe.name
        )));
    }
    if args.beam == 0 {
        return Err(CliError::Usage("--beam must be at least 1".into()));
    }
    caption_files(&args.run, &args.images, args.beam)
}
