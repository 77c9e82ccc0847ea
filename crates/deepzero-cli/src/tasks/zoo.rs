//! `deepzero summary` and `deepzero import`: look inside the model zoo, and turn torchvision's
//! pretrained weights into a run folder (seed chapter 3.1) with
//! [`deepzero_vision::tasks::classify::import_torchvision`].
//!
//! ```text
//! deepzero summary resnet18                      # layer table at 224×224, 11,689,512 parameters
//! deepzero summary vgg16-bn --small              # the small-input variant at 32×32, 10 classes
//! deepzero import resnet18 resnet18-f37072fd.pth --out runs/resnet18-imagenet
//! deepzero predict imagenet --checkpoint runs/resnet18-imagenet cat.jpg   # top-5 classes
//! ```
//! `import` reads a torchvision `.pth` or `.safetensors` file, writes the weights as `model.bpk` and a `run.json` of the `imagenet` recipe, whose `predict`
//! applies torchvision's evaluation transform (resize 256, centre crop 224, ImageNet
//! normalisation) and names the 1000 ImageNet classes.

use std::path::{Path, PathBuf};

use deepzero_vision::tasks::classify::{IMAGENET_RECIPE, import_torchvision};
use deepzero_vision::{SummaryOptions, ZooModel, zoo_summary};

use crate::error::CliError;

/// The options of `deepzero import`.
#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// ImageNet model of the zoo: alexnet, vgg11 … vgg19-bn, resnet18 … resnet152, googlenet;
    /// fasterrcnn_resnet50_fpn (COCO detector); fcn_resnet50, fcn_resnet101, deeplabv3_resnet50,
    /// deeplabv3_resnet101 (VOC segmenters); gpt2 (a Hugging Face GPT-2 folder, for generate).
    pub model: String,
    /// torchvision weights: a PyTorch .pth/.pt file or a .safetensors file; for gpt2 the
    /// folder with config.json, model.safetensors and tokenizer.json.
    pub weights: PathBuf,
    /// Run folder to write (model.bpk and run.json).
    #[arg(long, value_name = "CHECKPOINT_DIR")]
    pub out: PathBuf,
    /// Classes of the model's classifier (default 1000, ImageNet's; other counts are named
    /// 0, 1, …).
    #[arg(long, value_name = "N")]
    pub classes: Option<usize>,
    /// Import even when keys are missing, unused or of another shape, keeping the model's own
    /// initial values there (e.g. a new classifier for --classes 10); they are listed.
    #[arg(long)]
    pub allow_partial: bool,
    /// Replace the run already in --out (a folder of other files is never cleared).
    #[arg(long)]
    pub overwrite: bool,
}

fn zoo_model(name: &str) -> Result<ZooModel, CliError> {
    name.parse()
        .map_err(|e: deepzero_vision::UnknownModel| CliError::Usage(e.to_string()))
}

/// `deepzero summary MODEL`: prints the layer table and the parameter count.
pub fn summary(options: &SummaryOptions) -> Result<(), CliError> {
    let (title, summary) = zoo_summary(options)?;
    println!("{title}\n");
    print!("{}", summary.table());
    Ok(())
}

/// `deepzero import MODEL WEIGHTS --out DIR` of a torchvision model: writes `DIR/model.bpk`
/// and `DIR/run.json` (gpt2 is [`crate::tasks::hf::import`]).
pub fn import(args: &ImportArgs) -> Result<(), CliError> {
    let (model, classes) = (zoo_model(&args.model)?, args.classes.unwrap_or(1000));
    let (weights, out) = (&args.weights, &args.out);
    let (partial, overwrite) = (args.allow_partial, args.overwrite);
    let (_, report) = import_torchvision(model, weights, out, classes, partial, overwrite)?;
    let (from, to) = (args.weights.display(), args.out.join("model.bpk"));
    println!("{model}: {report} from {from} -> {}", to.display());
    if !report.is_complete() {
        println!(
            "warning: kept the model's initial values where the file did not fit: {}",
            report.problems(8)
        );
    }
    println!(
        "classify images with: deepzero predict {IMAGENET_RECIPE} --checkpoint {} IMAGE...",
        shell_path(&args.out)
    );
    Ok(())
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.contains(' ') { format!("'{s}'") } else { s }
}
