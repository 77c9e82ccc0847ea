//! Zero-shot image classification with a Hugging Face CLIP checkpoint.
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

use burn::prelude::*;
use deepzero_multimodal::MultimodalError;
use deepzero_multimodal::hf_clip::ClipPipeline;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), MultimodalError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, images, labels) = if args.is_empty() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip");
        let labels = [
            "a photo of a cat",
            "a photo of a dog",
            "a drawing of a disc",
        ];
        (
            fixtures.join("tiny"),
            vec![fixtures.join("image.png")],
            labels.map(String::from).to_vec(),
        )
    } else {
        let split = args.iter().position(|a| a == "--labels").ok_or_else(|| {
            MultimodalError::Invalid("usage: clip_zero_shot DIR IMAGE... --labels LABEL...".into())
        })?;
        let (paths, labels) = (&args[..split], &args[split + 1..]);
        if paths.len() < 2 || labels.is_empty() {
            return Err(MultimodalError::Invalid(
                "usage: clip_zero_shot DIR IMAGE... --labels LABEL...".into(),
            ));
        }
        let images = paths[1..].iter().map(PathBuf::from).collect();
        (PathBuf::from(&paths[0]), images, labels.to_vec())
    };

    let clip = ClipPipeline::load(&dir, &Device::flex())?;
    let pictures = images
        .iter()
        .map(|path| {
            image::open(path)
                .map_err(|e| MultimodalError::Invalid(format!("{}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let probs = clip.zero_shot(&pictures, &labels)?;
    for (path, probs) in images.iter().zip(probs) {
        println!("{}", path.display());
        let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (label, p) in ranked.into_iter().take(5) {
            println!("  {p:.4}  {}", labels[label]);
        }
    }
    Ok(())
}
