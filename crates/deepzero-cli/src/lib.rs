//! # deepzero-cli
//!
//! The `deepzero` command: argument parsing ([`args`]) and the recipe registry ([`recipes`]),
//! nothing more. Every recipe is a call into a library crate (`deepzero_vision::tasks`,
//! `deepzero_sequence::tasks`, `deepzero_train::regression`), which does the reading,
//! training, evaluation, prediction and run-folder work; [`tasks`] maps the options onto
//! those calls and prints their results.
//!
//! ## Library first
//!
//! The libraries format what they return (`Display` on every task's predictions and scores,
//! `ImageDetections::describe`, `detect::coco_results`, `SearchResult::describe`,
//! `CheckReport::summary`) and own whole steps (`deepzero_sequence::tasks::read_lines`,
//! `generate::Prompts`, `Predictor::predict_and_draw`, `segment_into`, `ImageDetections::draw`,
//! `caption_images`, `predict_nodes`, the evaluation summaries), so a library user gets the
//! command's text. Here: the options, their mapping onto library specs, and shared glue
//! ([`args::RunArgs`]; `print_items`, `device` in [`tasks`]). A spec that trains and
//! evaluates itself (`deepzero_train::Task`) needs only its family's `predict`
//! ([`recipe::SpecTask`]). The option groups belong to their libraries too
//! (`deepzero_train::options::RunOptions`, `tune::TuneOptions`, `lr_find::LrFindOptions`,
//! `deepzero_vision::tasks::options::ImageOptions`, `deepzero_sequence::tasks::TextOptions`,
//! `deepzero_data::check::CheckRequest`), flattened here. Size, by
//! `wc -l crates/deepzero-cli/src/*.rs crates/deepzero-cli/src/*/*.rs | tail -1`: 2 364 lines
//! before the option groups and the task glue moved into the libraries, under 2 000 since.

pub mod args;
pub mod error;
pub mod recipe;
pub mod recipes;
pub mod tasks;

pub use args::{FinetuneArgs, PredictArgs, TrainArgs};
pub use error::CliError;
pub use recipe::{Recipe, RecipeTask};

/// `deepzero train RECIPE ...`
pub fn train(recipe: &str, args: &TrainArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe)?;
    recipe.validate(args)?;
    let settings = recipe.settings(args, args.out_dir(recipe.name))?;
    recipe.task.train(args, &settings)
}

/// `deepzero eval RECIPE --checkpoint DIR ...`
pub fn eval(recipe: &str, run: &std::path::Path, args: &TrainArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe)?;
    recipe.validate(args)?;
    let out = args.out.clone().unwrap_or_else(|| run.join("eval"));
    let settings = recipe.settings(args, out)?;
    recipe.task.eval(run, args, &settings)
}

/// `deepzero predict RECIPE --checkpoint DIR ...`
pub fn predict(recipe: &str, args: &PredictArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe)?;
    recipe.task.predict(&recipe, &args.checkpoint, args)
}

/// `deepzero finetune RECIPE --from RUN ...`
pub fn finetune(recipe: &str, args: &FinetuneArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe)?;
    if recipe.task.family() == args::Family::Image {
        recipe.validate(&args.train)?;
    }
    recipe.task.finetune(&recipe, args)
}

/// The text of `deepzero list`.
pub fn list_text() -> String {
    let all = recipes::all();
    deepzero_train::task::recipe_table(all.iter().map(|r| (r.name, r.chapter, r.summary)))
}
