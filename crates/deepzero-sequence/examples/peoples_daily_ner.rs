//! The character BiLSTM-CRF named-entity tagger of People's Daily: train, evaluate, tag.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example peoples_daily_ner -- [DIR]
//! ```
//! DIR holds the corpus `199801.txt` (the full corpus takes minutes an epoch); without it, 60
//! generated lines in its format.
use std::path::{Path, PathBuf};

use deepzero_sequence::tasks::tag::{self, Predictor, TagSpec};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = std::env::temp_dir();
    let data = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => write_sample(&tmp.join("deepzero-example-ner-data"))?,
    };
    let (spec, out) = (TagSpec::peoples_daily(), tmp.join("deepzero-example-ner"));
    let fit = FitConfig {
        epochs: 3,
        batch_size: 8,
        learning_rate: 0.01,
        ..FitConfig::default()
    };
    let mut settings = RunSettings::new("peoples-daily-ner", &out)
        .with_fit(fit)
        .with_data_dir(data);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = tag::train(&spec, &settings)?;
    println!("trained: test entity F1 {}", report.test["f1"]);
    let eval = RunSettings {
        out: out.join("eval"),
        ..settings.clone()
    };
    tag::evaluate_run(&spec, &out, &eval)?;

    let predictor = Predictor::load(&out, Some("peoples-daily-ner"), &settings.device()?)?;
    for line in predictor.tag(&["王芳在上海访问新华社。".to_string()])? {
        println!("{}", line.rendered);
    }
    Ok(())
}

/// 60 lines like `张/nr  伟/nr  在/p  北京/ns  访问/v  新华社/nt  。/w`.
fn write_sample(dir: &Path) -> std::io::Result<PathBuf> {
    let names: Vec<&str> = "张/nr  伟/nr,王/nr  芳/nr,李/nr  明华/nr,赵/nr  小平/nr"
        .split(',')
        .collect();
    let places: Vec<&str> = "北京,上海,广州,西安,南京".split(',').collect();
    let orgs: Vec<&str> = "新华社/nt,外交部/nt,[北京/ns  大学/n]nt"
        .split(',')
        .collect();
    let line = |i: usize| {
        format!(
            "{}  在/p  {}/ns  访问/v  {}  。/w\n",
            names[i % 4],
            places[i % 5],
            orgs[i % 3]
        )
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("199801.txt"),
        (0..60).map(line).collect::<String>(),
    )?;
    Ok(dir.to_path_buf())
}
