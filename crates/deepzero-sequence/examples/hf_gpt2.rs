//! A Hugging Face GPT-2 folder end to end: import it into a run folder, continue a prompt
//! greedily and with top-p sampling, and tokenise text with its `tokenizer.json`. Uses the
//! small random GPT-2 of the golden fixtures; point it at a real `gpt2` folder (config.json,
//! model.safetensors, tokenizer.json) to get real text.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example hf_gpt2              # the fixture
//! cargo run --release -p deepzero-sequence --example hf_gpt2 -- ~/models/gpt2
//! ```
use std::path::PathBuf;

use burn::prelude::*;
use deepzero_sequence::hf::{HfGenerator, import_gpt2};
use deepzero_sequence::tasks::generate::SampleOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf/gpt2-tiny"),
    };
    let device = Device::flex();
    let out = std::env::temp_dir().join("deepzero-example-hf-gpt2");
    let summary = import_gpt2(&src, &out, &device)?;
    println!(
        "imported {} parameters, {} blocks, context {}, tokenizer of {} tokens",
        summary.parameters,
        summary.config.n_layer,
        summary.config.n_positions,
        summary.tokenizer_size
    );
    let generator = HfGenerator::load(&out, &device)?;
    let prompt = "First Citizen:\nBefore we proceed".to_string();
    let ids = generator.tokenizer().encode(&prompt, false)?;
    println!("{prompt:?} -> ids {ids:?}");
    let greedy = SampleOptions {
        max_new_tokens: 12,
        temperature: 0.0,
        ..SampleOptions::default()
    };
    let top_p = SampleOptions {
        max_new_tokens: 12,
        temperature: 1.0,
        top_p: Some(0.9),
        ..SampleOptions::default()
    };
    let prompts = [prompt];
    println!("greedy: {:?}", generator.generate(&prompts, &greedy)?[0]);
    println!("top-p 0.9: {:?}", generator.generate(&prompts, &top_p)?[0]);
    Ok(())
}
