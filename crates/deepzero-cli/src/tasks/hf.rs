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
use deepzero_sequence::tasks::generate::{SampleOptions, escape, unescape};
use deepzero_train::device::Backend;

use super::{TextInput, print_json};
use crate::args::GenerateArgs;
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
    pub generate: GenerateArgs,
}

/// `deepzero import gpt2 DIR --out RUN`.
pub fn import(args: &ImportArgs) -> Result<(), CliError> {
    if args.classes.is_some() || args.allow_partial {
        return Err(CliError::Usage(
            "--classes and --allow-partial are for torchvision models, not gpt2".into(),
        ));
    }
    let device = Backend::resolve(None)?.device()?;
    let summary =
        import_gpt2(&args.weights, &args.out, &device).map_err(|e| CliError::Task(e.into()))?;
    let c = &summary.config;
    println!(
        "gpt2: {} parameters ({} blocks, width {}, {} heads, context {}, vocabulary {}), tokenizer of {} tokens, from {} -> {}",
        summary.parameters,
        c.n_layer,
        c.n_embd,
        c.n_head,
        c.n_positions,
        c.vocab_size,
        summary.tokenizer_size,
        args.weights.display(),
        args.out.display()
    );
    println!(
        "generate with: deepzero generate --checkpoint {} --prompt TEXT",
        args.out.display()
    );
    Ok(())
}

#[derive(serde::Serialize)]
struct Generation<'a> {
    prompt: &'a str,
    continuation: &'a str,
}

/// `deepzero generate`: continues prompts with an imported GPT-2 run.
pub fn generate(args: &GenerateCmdArgs) -> Result<(), CliError> {
    let g = &args.generate;
    let mut given: Vec<String> = g.prompt.iter().cloned().collect();
    given.extend(args.prompts.iter().cloned());
    let per_line = given.is_empty();
    let prompts = if per_line {
        let input = TextInput::from_args(&[], args.input.as_deref())?;
        input.read()?.iter().map(|l| unescape(l)).collect()
    } else if args.input.is_some() {
        return Err(CliError::Usage(
            "give prompts either with --prompt / as arguments or with --input, not both".into(),
        ));
    } else {
        given
    };
    if prompts.is_empty() {
        return Err(CliError::Usage(
            "generate needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)".into(),
        ));
    }
    let device = Backend::resolve(args.backend.as_deref())?.device()?;
    let generator = HfGenerator::load(&args.checkpoint, &device)?;
    let options = SampleOptions {
        max_new_tokens: g.max_new_tokens,
        temperature: g.temperature,
        top_k: g.top_k,
        top_p: g.top_p,
        seed: g.sample_seed,
    };
    let continuations = generator.generate(&prompts, &options).map_err(|e| {
        CliError::Usage(
            e.to_string()
                .replace("top-k", "--top-k")
                .replace("top-p", "--top-p"),
        )
    })?;
    if args.json {
        let generations: Vec<Generation> = prompts
            .iter()
            .zip(&continuations)
            .map(|(prompt, continuation)| Generation {
                prompt,
                continuation,
            })
            .collect();
        print_json(&generations);
        return Ok(());
    }
    for (i, (prompt, continuation)) in prompts.iter().zip(&continuations).enumerate() {
        if per_line {
            println!("{}", escape(continuation));
        } else {
            if i > 0 {
                println!("---------------");
            }
            println!("{prompt}{continuation}");
        }
    }
    Ok(())
}
