//! The [`RecipeTask`](crate::RecipeTask) of each family of recipes: options → library spec →
//! library call → printed result.

mod bert;
pub mod data;
pub mod detect;
pub mod graph;
pub mod hf;
mod image;
pub mod multimodal;
pub mod recsys;
pub mod regression;
pub mod segment;
pub mod serve;
mod text;
pub mod tune;
pub mod zoo;

pub use bert::{BertClassifyTask, BertTagTask, PretrainTask};
pub use graph::GraphTask;
pub use image::{ImageNetTask, ImageTask};
pub use recsys::RecsysTask;
pub use segment::SegmentTask;
pub use text::{GenerateTask, TextTask, TranslateTask, predict_tags};

use crate::error::CliError;

/// What a command's step returns (a `predict` of a family included).
pub type CliResult = Result<(), CliError>;

/// Prints `value` as pretty JSON.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints `items` as a pretty JSON array (`--json`), else one per line as they display.
fn print_items<T: serde::Serialize + std::fmt::Display>(items: &[T], json: bool) {
    if json {
        print_json(&items);
    } else {
        for item in items {
            println!("{item}");
        }
    }
}

/// The device of `--backend` (else `BURN_DEVICE`, else flex).
fn device(backend: Option<&str>) -> Result<burn::prelude::Device, CliError> {
    Ok(deepzero_train::device::Backend::resolve(backend)?.device()?)
}

/// Refuses `--resume` for recipe `name`, which trains in one go (no checkpoints per epoch).
fn in_one_go(name: &str, args: &crate::args::TrainArgs) -> Result<(), CliError> {
    if args.resume {
        return Err(CliError::Usage(format!(
            "{name} trains in one go; --resume does not apply"
        )));
    }
    Ok(())
}

/// Where a fine-tuned run goes: `--out`, else `runs/RECIPE-finetune`.
fn finetune_settings(
    recipe: &crate::recipe::Recipe,
    args: &crate::args::FinetuneArgs,
) -> Result<deepzero_train::RunSettings, CliError> {
    let out = args.train.out_dir(&format!("{}-finetune", recipe.name));
    recipe.settings(&args.train, out)
}
