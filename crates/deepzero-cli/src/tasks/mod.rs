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
pub mod zoo;

use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use bert::{BertClassifyTask, PretrainTask};
pub use detect::DetectTask;
pub use graph::GraphTask;
pub use image::{ImageNetTask, ImageTask};
pub use multimodal::{CaptionTask, ClipTask};
pub use recsys::RecsysTask;
pub use regression::RegressionTask;
pub use segment::SegmentTask;
pub use text::{GenerateTask, TagTask, TextTask, TranslateTask};

use crate::error::CliError;

/// Where a text recipe's `predict` reads its inputs from.
#[derive(Clone, Debug)]
pub enum TextInput {
    /// Texts given on the command line.
    Args(Vec<String>),
    /// One text per line of a file (`-` is standard input).
    File(PathBuf),
    /// One text per line of standard input.
    Stdin,
}

impl TextInput {
    /// The texts given as arguments, or else the lines of `--input` (`-` or neither: standard
    /// input). Both at once is a usage error.
    pub fn from_args(texts: &[String], input: Option<&Path>) -> Result<Self, CliError> {
        match (input, texts.is_empty()) {
            (Some(path), true) => Ok(Self::File(path.to_path_buf())),
            (Some(_), false) => Err(CliError::Usage(
                "give texts either as arguments or with --input, not both".into(),
            )),
            (None, true) => Ok(Self::Stdin),
            (None, false) => Ok(Self::Args(texts.to_vec())),
        }
    }

    /// The texts, one per line of a file or standard input (UTF-8, else a one-line error
    /// naming the line).
    pub fn read(&self) -> Result<Vec<String>, CliError> {
        match self {
            TextInput::Args(texts) => Ok(texts.clone()),
            TextInput::File(path) if path.as_os_str() == "-" => TextInput::Stdin.read(),
            TextInput::File(path) => {
                let bytes = std::fs::read(path).map_err(CliError::io(path))?;
                let text = deepzero_data::text::decode_utf8(&bytes, path)?;
                Ok(text.lines().map(str::to_string).collect())
            }
            TextInput::Stdin => {
                let stdin = std::io::stdin();
                let mut lines = Vec::new();
                for (n, line) in stdin.lock().split(b'\n').enumerate() {
                    let line = line.map_err(CliError::io(Path::new("<stdin>")))?;
                    let text = String::from_utf8(line).map_err(|_| {
                        CliError::Usage(format!("<stdin>:{}: not valid UTF-8", n + 1))
                    })?;
                    lines.push(text.trim_end_matches('\r').to_string());
                }
                Ok(lines)
            }
        }
    }

    /// [`TextInput::read`], refusing an empty list (`what`: "text", "sentence" …).
    pub fn read_some(&self, what: &str) -> Result<Vec<String>, CliError> {
        let lines = self.read()?;
        if lines.is_empty() {
            return Err(CliError::Usage(format!(
                "predict needs at least one {what} (as arguments, --input FILE, or lines on standard input)"
            )));
        }
        Ok(lines)
    }
}

/// Prints `value` as pretty JSON.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
