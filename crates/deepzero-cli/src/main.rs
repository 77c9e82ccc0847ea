//! `deepzero`: train, evaluate and run every recipe of the book.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use deepzero_cli::recipes::find;
use deepzero_cli::tasks::data::DataArgs;
use deepzero_cli::tasks::detect::{CocoEvalArgs, DetectArgs};
use deepzero_cli::tasks::hf::GenerateCmdArgs;
use deepzero_cli::tasks::multimodal::{CaptionArgs, SearchArgs, ZeroShotArgs};
use deepzero_cli::tasks::recsys::{self, RecommendArgs};
use deepzero_cli::tasks::segment::SegmentArgs;
use deepzero_cli::tasks::serve::ServeArgs;
use deepzero_cli::tasks::tune::{LrFindArgs, TuneArgs};
use deepzero_cli::tasks::zoo::ImportArgs;
use deepzero_cli::{CliError, FinetuneArgs, PredictArgs, TrainArgs, tasks};
use deepzero_graph::tasks::EmbedRequest;
use deepzero_vision::SummaryOptions;
use deepzero_vision::segment::import as segment_import;
use deepzero_vision::tasks::rcnn;

/// mimalloc, told by `main` to keep freed tensor buffers instead of returning them to the
/// kernel, which would page-fault each new tensor in again ([`deepzero_train::allocator`]).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Choose hyper-parameters: train each configuration of a grid or a random search with
    /// early stopping, compare on the validation split, re-train the best into OUT/best;
    /// writes results.md/.csv/.json and tune.png (default OUT: runs/RECIPE-tune).
    Tune(TuneArgs),
    /// The learning-rate range test: loss against an exponentially growing learning rate over
    /// 100 batches, a suggested rate, lr_find.png/.csv (default OUT: runs/RECIPE-lr-find).
    LrFind(LrFindArgs),
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
    /// translate sentences (multi30k-*), continue prompts (shakespeare-*) or recommend films to
    /// user ids (ml100k-content-neumf). Text recipes take
    /// their texts as arguments or one per line of --input / standard input, and write one
    /// result per line (generated newlines escaped as \n).
    Predict {
        /// Recipe name.
        recipe: String,
        #[command(flatten)]
        args: PredictArgs,
    },
    /// Segment images with a trained segmenter (digits-*): per-class pixel counts, and each
    /// image with its coloured mask drawn onto it (`OUT/<image>.mask.png`).
    Segment(SegmentArgs),
    /// Recommend items to a user with a trained recommender run (ml100k-*).
    Recommend(RecommendArgs),
    /// The items most like an item, from a trained recommender run (ml100k-*).
    SimilarItems(RecommendArgs),
    /// Write the node vectors of a trained graph run (word2vec text format).
    Embed(EmbedRequest),
    /// Find the indexed images that best match a text with a joint-embedding run (scenes-clip),
    /// and draw them in a grid.
    Search(SearchArgs),
    /// Caption PNG/JPEG images with a captioning run (scenes-caption, scenes-caption-global).
    Caption(CaptionArgs),
    /// Classify images by text labels with a Hugging Face CLIP checkpoint folder.
    ZeroShot(ZeroShotArgs),
    /// Print a zoo model's layers (path, type, output shape, parameters) and parameter count.
    Summary(SummaryOptions),
    /// Find objects with a detection run (digits-yolo, digits-faster-rcnn, coco-faster-rcnn):
    /// prints boxes, classes, scores (--json: COCO results); --draw DIR: boxes with labels.
    Detect(DetectArgs),
    /// Score COCO-format detections against COCO-format ground truth (bbox): the twelve numbers
    /// of pycocotools' COCOeval.summarize().
    CocoEval(CocoEvalArgs),
    /// Convert torchvision weights (.pth, .safetensors) into a run folder of `imagenet` (predict),
    /// `coco-faster-rcnn` (detect) or `voc-segment` (segment); or a Hugging Face GPT-2 folder
    /// (`import gpt2 DIR`).
    Import(ImportArgs),
    /// Serve trained image and text classifiers over HTTP (JSON, multipart or raw image
    /// bodies; dynamic batching; GET /health); Ctrl-C stops after answering open requests.
    Serve(ServeArgs),
    /// Prepare data: `data check DIR` reports class balance, corrupt files, duplicates and
    /// train/test leakage (report.md + report.png); `--fix` quarantines what it finds.
    Data(DataArgs),
    /// Continue prompts with a GPT-2 imported by `deepzero import gpt2` (KV-cached; greedy,
    /// temperature, top-k, top-p).
    Generate(GenerateCmdArgs),
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::List => {
            print!("{}", deepzero_cli::list_text());
            Ok(())
        }
        Command::Train { recipe, args } => deepzero_cli::train(&recipe, &args),
        Command::Finetune { recipe, args } => deepzero_cli::finetune(&recipe, &args),
        Command::Tune(args) => tasks::tune::tune(&args),
        Command::LrFind(args) => tasks::tune::lr_find(&args),
        Command::Eval {
            recipe,
            checkpoint,
            args,
        } => deepzero_cli::eval(&recipe, &checkpoint, &args),
        Command::Predict { recipe, args } => deepzero_cli::predict(&recipe, &args),
        Command::Segment(args) => {
            find(&args.run.recipe).and_then(|_| tasks::segment::segment(&args))
        }
        Command::Recommend(args) => recsys::recommend(&find(&args.request.recipe)?, &args, false),
        Command::SimilarItems(args) => recsys::recommend(&find(&args.request.recipe)?, &args, true),
        Command::Embed(args) => tasks::graph::embed(&find(&args.recipe)?, &args),
        Command::Search(args) => tasks::multimodal::search(&find(&args.run.recipe)?, &args),
        Command::Caption(args) => tasks::multimodal::caption(&find(&args.run.recipe)?, &args),
        Command::ZeroShot(args) => tasks::multimodal::zero_shot(&args),
        Command::Summary(args) => tasks::zoo::summary(&args),
        Command::Import(args) if args.model == "gpt2" => tasks::hf::import(&args),
        Command::Import(args) if args.model == rcnn::IMPORT_NAME => tasks::detect::import(&args),
        Command::Import(args) if segment_import::IMPORT_NAMES.contains(&args.model.as_str()) => {
            tasks::segment::import(&args)
        }
        Command::Import(args) => tasks::zoo::import(&args),
        Command::Serve(args) => tasks::serve::serve(&args),
        Command::Data(args) => tasks::data::data(&args),
        Command::Generate(args) => tasks::hf::generate(&args),
        Command::Detect(args) => tasks::detect::detect(&find(&args.run.recipe)?, &args),
        Command::CocoEval(args) => tasks::detect::coco_eval(&args),
    }
}

fn main() -> ExitCode {
    deepzero_train::allocator::keep_freed_memory();
    // A panic anywhere (a backend included) ends with one line, not a backtrace.
    deepzero_train::panic::one_line_panics();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
