//! A small GPT on the shipped tiny-shakespeare sample: a few training steps, the validation
//! loss, then a continuation of a prompt.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example shakespeare_gpt
//! ```
use deepzero_sequence::tasks::generate::{self, GenerateSpec, Predictor, SampleOptions};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The recipe's GPT (4 blocks of width 128), on windows of 64 characters, 30 steps of 16.
    let spec = GenerateSpec {
        block_size: 64,
        steps_per_epoch: 30,
        ..GenerateSpec::shakespeare_gpt()
    };
    let fit = FitConfig {
        epochs: 1,
        batch_size: 16,
        learning_rate: 2e-3,
        ..FitConfig::default()
    };
    let out = std::env::temp_dir().join("deepzero-example-shakespeare-gpt");
    // No data folder: the shipped sample datasets/tiny-shakespeare-sample/input.txt.
    let mut settings = RunSettings::new("shakespeare-gpt", &out).with_fit(fit);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = generate::train(&spec, &settings)?;
    println!("trained: valid loss {} nats/char", report.valid["loss"]);
    let eval = RunSettings {
        out: out.join("eval"),
        ..settings.clone()
    };
    generate::evaluate_run(&spec, &out, &eval)?;

    let predictor = Predictor::load(&out, Some("shakespeare-gpt"), &settings.device()?)?;
    // 300 characters at temperature 0.8.
    for text in predictor.generate(&["ROMEO:".to_string()], &SampleOptions::default())? {
        println!("ROMEO:{text}");
    }
    Ok(())
}
