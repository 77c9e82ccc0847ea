//! `deepzero`: train, evaluate and run every recipe of the book.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: training allocates and frees many tensor-sized buffers per
/// step, and glibc returns each large one to the kernel (mmap/munmap), so every new tensor
/// page-faults its memory in again. mimalloc keeps and reuses them, and `main` tells it never to
/// give them back ([`deepzero_cli::allocator`]; docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use deepzero_cli::finetune_task::FinetuneArgs;
use deepzero_cli::image_task::{InvertMode, PredictOptions};
use deepzero_cli::recipes::RecipeKind as Kind;
use deepzero_cli::text_task::TextInput;
use deepzero_cli::zoo_cmds::{ImportArgs, SummaryArgs};
use deepzero_cli::{Backend, CliError, TrainArgs, recipes};
use deepzero_cli::{generation_task, image_task, tagging_task, text_task, translation_task};

#[derive(Parser)]
#[command(
    name = "deepzero",
    version,
    about = "Deep learning from zero, on burn: train, evaluate and run every recipe of the book"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every recipe with the seed chapter it implements.
    List,
    /// Train a recipe; writes checkpoints, metrics.csv, metrics.json and curves.png to --out.
    Train {
        /// Recipe name (see `deepzero list`).
        recipe: String,
        #[command(flatten)]
        args: TrainArgs,
    },
    /// Fine-tune a trained run on a new task (new head; linear probe, full, LoRA or gradual
    /// unfreezing); writes a run folder that eval and predict accept.
    Finetune {
        /// Recipe name (the data and the architecture).
        recipe: String,
        #[command(flatten)]
        args: FinetuneArgs,
    },
    /// Evaluate a trained run on the test split; writes OUT/metrics.json (default CHECKPOINT/eval).
    Eval {
        /// Recipe name.
        recipe: String,
        /// The run folder written by `deepzero train`.
        #[arg(long)]
        checkpoint: PathBuf,
        #[command(flatten)]
        args: TrainArgs,
    },
    /// Run a trained model: classify PNG/JPEG images (prints the top classes and draws a
    /// picture), classify texts (bbc-*, spam-lstm, chinese-sentiment*), tag sentences (NER),
    /// translate sentences (multi30k-*) or continue prompts (shakespeare-*). Text recipes take
    /// their texts as arguments or one per line of --input / standard input, and write one
    /// result per line (generated newlines escaped as \n).
    Predict {
        /// Recipe name.
        recipe: String,
        /// The run folder written by `deepzero train` (alias --run).
        #[arg(long, alias = "run")]
        checkpoint: PathBuf,
        /// Images to classify (text recipes: the texts, sentences or prompts).
        images: Vec<PathBuf>,
        /// Text recipes: one input per line of this file (`-`: standard input, the default when
        /// no text is given).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Classes to report per image.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Print JSON (for programs).
        #[arg(long)]
        json: bool,
        /// Where to draw the images with their predicted labels (default CHECKPOINT/predictions.png).
        #[arg(long)]
        picture: Option<PathBuf>,
        /// Invert grayscale images: auto (when the background is light), always, never.
        #[arg(long, value_enum, default_value_t = InvertMode::Auto)]
        invert: InvertMode,
        /// Compute backend.
        #[arg(long)]
        backend: Option<String>,
        #[command(flatten)]
        generate: deepzero_cli::generation_task::GenerateArgs,
        #[command(flatten)]
        translate: deepzero_cli::translation_task::TranslateArgs,
    },
    /// Print a zoo model's layers (path, type, output shape, parameters) and parameter count.
    Summary(SummaryArgs),
    /// Convert torchvision weights (.pth or .safetensors) into a run folder of the `imagenet`
    /// recipe, for predict.
    Import(ImportArgs),
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::List => {
            print!("{}", deepzero_cli::list_text());
            Ok(())
        }
        Command::Train { recipe, args } => deepzero_cli::train(&recipe, &args),
        Command::Finetune { recipe, args } => deepzero_cli::finetune_task::finetune(&recipe, &args),
        Command::Eval {
            recipe,
            checkpoint,
            args,
        } => deepzero_cli::eval(&recipe, &checkpoint, &args),
        Command::Predict {
            recipe,
            checkpoint,
            images,
            top,
            json,
            picture,
            invert,
            backend,
            input,
            generate,
            translate,
        } => {
            let recipe = recipes::find(&recipe)?;
            let device = Backend::resolve(backend.as_deref())?.device()?;
            // Text recipes read their positional arguments as texts, not as image paths.
            let texts: Vec<String> = images
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            match recipe.kind {
                Kind::Translation(_) => {
                    let input = TextInput::from_args(texts, input)?;
                    translation_task::predict(&recipe, &checkpoint, &input, &translate, &device)
                        .map(drop)
                }
                Kind::Tagging { .. } => {
                    let input = TextInput::from_args(texts, input)?;
                    tagging_task::predict(&recipe, &checkpoint, &input, &device).map(drop)
                }
                Kind::Text(_) => {
                    let input = TextInput::from_args(texts, input)?;
                    text_task::predict(&recipe, &checkpoint, &input, json, &device).map(drop)
                }
                // Prompts also come from --prompt, so generation sorts out its inputs itself.
                Kind::Generation(_) => generation_task::predict(
                    &recipe,
                    &checkpoint,
                    &texts,
                    input.as_deref(),
                    &generate,
                    json,
                    &device,
                )
                .map(drop),
                _ => {
                    let options = PredictOptions {
                        top_k: top,
                        json,
                        picture,
                        invert,
                    };
                    image_task::predict(&recipe, &checkpoint, &images, &options, &device).map(drop)
                }
            }
        }
        Command::Summary(args) => deepzero_cli::zoo_cmds::summary(&args),
        Command::Import(args) => deepzero_cli::zoo_cmds::import(&args).map(|_| ()),
    }
}

fn main() -> ExitCode {
    deepzero_cli::allocator::keep_freed_memory();
    // A panic anywhere (a backend included) ends with one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error: {}{location}",
            message.lines().next().unwrap_or("")
        );
    }));
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
