//! `deepzero import gpt2 DIR` and `deepzero generate`: a Hugging Face GPT-2 folder
//! (`config.json`, `model.safetensors`, `tokenizer.json`) as a run folder, and continuations of
//! prompts from it, through [`deepzero_sequence::hf`].
//!
//! ```text
//! deepzero import gpt2 ~/models/gpt2 --out runs/gpt2
//! deepzero generate --checkpoint runs/gpt2 --prompt "Hello, I'm a language model," --top-p 0.9
//! ```

use std::path::PathBuf;

use deepzero_sequence::hf::{HfGenerator, import_gpt2};
use deepzero_sequence::tasks::generate::PromptOptions;

use super::device;
use super::text::print_continuations;
use crate::error::CliError;
use crate::tasks::zoo::ImportArgs;

/// The options of `deepzero generate`.
#[derive(Clone, Debug, clap::Args)]
pub struct GenerateCmdArgs {
    /// The run folder written by `deepzero import gpt2`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Prompts (see also --prompt and --input).
    pub prompts: Vec<String>,
    /// One prompt per line of this file (`-`: standard input, the default when no prompt is
    /// given); the continuations are printed one per line, newlines escaped as \n.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<String>,
    #[command(flatten)]
    pub generate: PromptOptions,
}

/// `deepzero import gpt2 DIR --out RUN`.
pub fn import(args: &ImportArgs) -> Result<(), CliError> {
    if args.classes.is_some() || args.allow_partial {
        return Err(CliError::Usage(
            "--classes and --allow-partial are for torchvision models, not gpt2".into(),
        ));
    }
    let summary = import_gpt2(&args.weights, &args.out, &device(None)?)
        .map_err(|e| CliError::Task(e.into()))?;
    let (from, to) = (args.weights.display(), args.out.display());
    println!("gpt2: {summary}, from {from} -> {to}");
    println!(
        "generate with: deepzero generate --checkpoint {} --prompt TEXT",
        args.out.display()
    );
    Ok(())
}

/// `deepzero generate`: continues prompts with an imported GPT-2 run.
pub fn generate(args: &GenerateCmdArgs) -> Result<(), CliError> {
    let input = args.input.as_deref();
    let prompts = args
        .generate
        .some_prompts("generate", &args.prompts, input)?;
    let generator = HfGenerator::load(&args.checkpoint, &device(args.backend.as_deref())?)?;
    let continuations = generator.generate(&prompts.texts, &args.generate.sample)?;
    print_continuations(prompts, continuations, args.json);
    Ok(())
}
