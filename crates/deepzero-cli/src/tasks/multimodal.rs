//! The image–text recipes ([`deepzero_multimodal::tasks`]): `scenes-clip` (train, eval,
//! predict) and `deepzero search`, which finds the indexed test scenes that best match a text
//! and draws them in a grid; `scenes-caption[-global]` (train, eval, predict) and
//! `deepzero caption`, which captions image files.

use std::path::{Path, PathBuf};

use deepzero_multimodal::tasks::caption::{self, CaptionPredictor, CaptionSpec};
use deepzero_multimodal::tasks::clip::{self, ClipPredictor, ClipSpec};
use deepzero_train::RunSettings;
use deepzero_train::device::Backend;

use super::print_json;
use crate::args::{Family, PredictArgs, TrainArgs};
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
        let m = clip::evaluate_run(&self.0, run, settings)?;
        println!(
            "{}: {} candidates: text→image R@1/5/10 {:.3}/{:.3}/{:.3}, image→text {:.3}/{:.3}/{:.3}; zero-shot seen {:.3} vs held-out {:.3} -> {}",
            settings.name,
            m.candidates,
            m.text_to_image.r1,
            m.text_to_image.r5,
            m.text_to_image.r10,
            m.image_to_text.r1,
            m.image_to_text.r5,
            m.image_to_text.r10,
            m.zero_shot.seen_accuracy,
            m.zero_shot.novel_accuracy,
            settings.out.join("metrics.json").display()
        );
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
        let device = Backend::resolve(args.backend.as_deref())?.device()?;
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
            print_result(query, found);
        }
        Ok(())
    }
}

fn print_result(query: &str, found: &clip::SearchResult) {
    println!("{query}");
    if !found.unknown_words.is_empty() {
        println!(
            "  (unknown words read as <unk>: {})",
            found.unknown_words.join(", ")
        );
    }
    for (rank, hit) in found.hits.iter().enumerate() {
        println!(
            "  {:>2}. {:.3}  #{}  {}",
            rank + 1,
            hit.score,
            hit.index,
            hit.label
        );
    }
}

/// The options of `deepzero search`.
#[derive(Clone, Debug, clap::Args)]
pub struct SearchArgs {
    /// Recipe name (scenes-clip).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[arg(long, alias = "checkpoint")]
    pub run: PathBuf,
    /// The text to look for, e.g. "a small seven left of a sneaker".
    pub query: String,
    /// How many images to return.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Where to draw the found images (default RUN/search.png).
    #[arg(long)]
    pub picture: Option<PathBuf>,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
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
    let device = Backend::resolve(args.backend.as_deref())?.device()?;
    let predictor = ClipPredictor::load(&args.run, Some(recipe.name), &device)?;
    let found = predictor.search(&args.query, args.top)?;
    let picture = args
        .picture
        .clone()
        .unwrap_or_else(|| args.run.join("search.png"));
    predictor.draw_grid(&found.hits, &picture)?;
    if args.json {
        print_json(&found);
    } else {
        print_result(&args.query, &found);
        println!("-> {}", picture.display());
    }
    Ok(())
}

/// The captioning recipes (`scenes-caption`, `scenes-caption-global`).
pub struct CaptionTask(pub CaptionSpec);

fn print_caption_scores(name: &str, test: &serde_json::Value) {
    let f = |d: &str, k: &str| test[d][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "{name}: BLEU-4 greedy {:.3} / beam {:.3}, CIDEr-D greedy {:.3} / beam {:.3} on {} scenes",
        f("greedy", "bleu4"),
        f("beam", "bleu4"),
        f("greedy", "cider_d"),
        f("beam", "cider_d"),
        test["scenes"]
    );
}

impl RecipeTask for CaptionTask {
    fn family(&self) -> Family {
        Family::Multimodal
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        caption::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let test = caption::evaluate_run(&self.0, run, settings)?;
        print_caption_scores(&settings.name, &test);
        Ok(())
    }

    /// Captions the image files given as inputs.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        caption_files(
            recipe,
            run,
            &args.inputs,
            self.0.beam_size,
            args.backend.as_deref(),
            args.json,
        )
    }
}

fn caption_files(
    recipe: &Recipe,
    run: &Path,
    images: &[String],
    beam: usize,
    backend: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    if images.is_empty() {
        return Err(CliError::Usage(format!(
            "{} needs at least one image file to caption",
            recipe.name
        )));
    }
    let device = Backend::resolve(backend)?.device()?;
    let predictor = CaptionPredictor::load(run, Some(recipe.name), &device)?;
    let paths: Vec<&Path> = images.iter().map(Path::new).collect();
    let captions = predictor.caption_files(&paths, beam)?;
    if json {
        let rows: Vec<serde_json::Value> = images
            .iter()
            .zip(&captions)
            .map(|(i, c)| serde_json::json!({ "image": i, "caption": c }))
            .collect();
        print_json(&rows);
    } else {
        for (image, text) in images.iter().zip(&captions) {
            println!("{image}\t{text}");
        }
    }
    Ok(())
}

/// The options of `deepzero caption`.
#[derive(Clone, Debug, clap::Args)]
pub struct CaptionArgs {
    /// Recipe name (scenes-caption or scenes-caption-global).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[arg(long, alias = "checkpoint")]
    pub run: PathBuf,
    /// PNG or JPEG images (read as grey, light ink on dark, resized to the scenes' side).
    pub images: Vec<String>,
    /// Beams of the search (1: greedy).
    #[arg(long, default_value_t = 4)]
    pub beam: usize,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
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
    caption_files(
        recipe,
        &args.run,
        &args.images,
        args.beam,
        args.backend.as_deref(),
        args.json,
    )
}
