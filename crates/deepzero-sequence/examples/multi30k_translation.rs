//! A tiny German→English Transformer on the shipped Multi30k sample (2 000 training pairs):
//! three epochs, BLEU on the 200 test sentences, then a translation.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example multi30k_translation
//! ```
use deepzero_sequence::tasks::translate::{self, DecodeOptions, Predictor, TranslateSpec};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The recipe's shape, shrunk: 1 + 1 layers of width 64, BPE vocabularies of 1 000.
    let spec = TranslateSpec {
        src_vocab: 1000,
        tgt_vocab: 1000,
        d_model: 64,
        n_heads: 2,
        d_ff: 128,
        n_layers: 1,
        max_len: 40,
        ..TranslateSpec::multi30k("de", "en")
    };
    // The batch size counts sentences: an epoch is 20 length-bucketed batches.
    let fit = FitConfig {
        epochs: 3,
        batch_size: 100,
        learning_rate: 3e-3,
        ..FitConfig::default()
    };
    let out = std::env::temp_dir().join("deepzero-example-multi30k");
    // No data folder: the shipped sample datasets/multi30k-sample.
    let mut settings = RunSettings::new("multi30k-de-en", &out).with_fit(fit);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = translate::train(&spec, &settings)?;
    println!("trained: test BLEU {}", report.test["bleu"]);
    let eval = RunSettings {
        out: out.join("eval"),
        ..settings.clone()
    };
    translate::evaluate_run(&spec, &out, &eval)?;

    let predictor = Predictor::load(&out, Some("multi30k-de-en"), &settings.device()?)?;
    let sentences = ["Ein Hund läuft über die Wiese.".to_string()];
    for t in predictor.translate(&sentences, &DecodeOptions::default())? {
        println!("{} -> {}", t.source, t.translation);
    }
    Ok(())
}
