//! A bag-of-n-grams (fastText) topic classifier for BBC News: train, evaluate, classify.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example bbc_classifier -- [DIR]
//! ```
//! DIR holds `bbc/<topic>/*.txt` (the BBC News corpus); without it, 60 generated articles.
use std::path::{Path, PathBuf};

use deepzero_data::text::TextCorpus;
use deepzero_sequence::tasks::TextEncoderKind;
use deepzero_sequence::tasks::classify::{self, ClassifySpec, Predictor};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = std::env::temp_dir();
    let data = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => write_sample(&tmp.join("deepzero-example-bbc-data"))?,
    };
    // The bbc-fasttext recipe: words and word pairs, averaged, then one linear layer.
    let spec = ClassifySpec {
        ngrams: 2,
        max_vocab: 400_000,
        dropout: 0.0,
        max_len: 1000,
        ..ClassifySpec::new(TextCorpus::BbcNews, TextEncoderKind::Bag)
    };
    let fit = FitConfig {
        epochs: 5,
        batch_size: 32,
        learning_rate: 1e-2,
        ..FitConfig::default()
    };
    let out = tmp.join("deepzero-example-bbc");
    let mut settings = RunSettings::new("bbc-fasttext", &out)
        .with_fit(fit)
        .with_data_dir(data);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = classify::train(&spec, &settings)?;
    println!("trained: test accuracy {}", report.test["accuracy"]);
    let eval = RunSettings {
        out: out.join("eval"),
        ..settings.clone()
    };
    classify::evaluate_run(&spec, &out, &eval)?;

    let predictor = Predictor::load(&out, Some("bbc-fasttext"), &settings.device()?)?;
    for p in predictor.predict(&["Bank shares rose on the market".to_string()])? {
        println!("{} ({:.2})", p.label, p.probability);
    }
    Ok(())
}

/// Twenty short articles per topic.
fn write_sample(dir: &Path) -> std::io::Result<PathBuf> {
    let topics = [
        ("business", "shares bank profit market economy"),
        ("sport", "match goal team coach season"),
        ("tech", "software phone internet chip users"),
    ];
    for (topic, words) in topics {
        let words: Vec<&str> = words.split(' ').collect();
        std::fs::create_dir_all(dir.join("bbc").join(topic))?;
        for i in 0..20 {
            // Twelve topic words and a word of its own, so that no two articles are equal.
            let text: Vec<&str> = (0..12).map(|j| words[(i + j * 3) % 5]).collect();
            let file = dir.join("bbc").join(topic).join(format!("{i:03}.txt"));
            std::fs::write(file, format!("{} the year story{i}", text.join(" ")))?;
        }
    }
    Ok(dir.to_path_buf())
}
