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
mod regression;
pub mod segment;
pub mod serve;
mod text;
pub mod tune;
pub mod zoo;

use std::path::{Path, PathBuf};

pub use bert::{BertClassifyTask, BertTagTask, PretrainTask};
pub use detect::DetectTask;
pub use graph::GraphTask;
pub use image::{ImageNetTask, ImageTask};
pub use multimodal::{CaptionTask, ClipTask};
pub use recsys::RecsysTask;
pub use regression::RegressionTask;
pub use segment::SegmentTask;
pub use text::{GenerateTask, TagTask, TextTask, TranslateTask};

use crate::error::CliError;

/// The texts given as arguments, or else the lines of `--input` (`-` or neither: standard
/// input), refusing none at all (`what`: "text", "sentence" …).
fn read_some_texts(
    texts: &[String],
    input: Option<&Path>,
    what: &str,
) -> Result<Vec<String>, CliError> {
    let lines = deepzero_sequence::tasks::given_or_lines(texts, input)?;
    if lines.is_empty() {
        return Err(CliError::Usage(format!(
            "predict needs at least one {what} (as arguments, --input FILE, or lines on standard input)"
        )));
    }
    Ok(lines)
}

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

/// Where a fine-tuned run goes: `--out`, else `runs/RECIPE-finetune`.
fn finetune_settings(
    recipe: &crate::recipe::Recipe,
    args: &crate::args::FinetuneArgs,
) -> Result<deepzero_train::RunSettings, CliError> {
    let out = args.train.out.clone();
    let out =
        out.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-finetune", recipe.name)));
    args.train.settings(recipe.identity(), out)
}
