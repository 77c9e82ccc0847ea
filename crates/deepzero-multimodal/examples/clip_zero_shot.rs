//! Zero-shot image classification with a Hugging Face CLIP checkpoint, from the library (the
//! command-line version is `deepzero zero-shot`).
//!
//! ```text
//! cargo run --release -p deepzero-multimodal --example clip_zero_shot -- \
//!     clip-vit-base-patch32 cat.jpg dog.png --labels "a photo of a cat" "a photo of a dog"
//! ```
//!
//! The folder is what `huggingface-cli download openai/clip-vit-base-patch32 --local-dir
//! clip-vit-base-patch32` leaves (`config.json`, `model.safetensors`, `tokenizer.json`,
//! `preprocessor_config.json`). Without arguments it runs on the test fixture, a tiny CLIP
//! with random weights: the probabilities are meaningless, the plumbing is the real one.

use std::path::{Path, PathBuf};

use deepzero_multimodal::MultimodalError;
use deepzero_multimodal::hf_clip::{ZeroShotOptions, zero_shot_files};

const USAGE: &str = "usage: clip_zero_shot DIR IMAGE... --labels LABEL...";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), MultimodalError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = if args.is_empty() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip");
        let labels = [
            "a photo of a cat",
            "a photo of a dog",
            "a drawing of a disc",
        ];
        ZeroShotOptions {
            checkpoint: fixtures.join("tiny"),
            images: vec![fixtures.join("image.png")],
            labels: labels.map(String::from).to_vec(),
            top: 5,
            by_text: false,
            backend: None,
        }
    } else {
        let split = args.iter().position(|a| a == "--labels");
        let split = split.ok_or_else(|| MultimodalError::Invalid(USAGE.into()))?;
        let (paths, labels) = (&args[..split], &args[split + 1..]);
        let [checkpoint, images @ ..] = paths else {
            return Err(MultimodalError::Invalid(USAGE.into()));
        };
        ZeroShotOptions {
            checkpoint: PathBuf::from(checkpoint),
            images: images.iter().map(PathBuf::from).collect(),
            labels: labels.to_vec(),
            top: 5,
            by_text: false,
            backend: None,
        }
    };
    for result in zero_shot_files(&options, &options.device()?)? {
        println!("{result}");
    }
    Ok(())
}
