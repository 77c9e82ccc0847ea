//! Draws the few-label picture from finished classification runs: test accuracy against the
//! fraction of the training labels, one line per way of training.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example few_label_curve -- OUT.svg TITLE \
//!     "pre-trained + fine-tuned=runs/ft-1,runs/ft-10,runs/ft-100" \
//!     "from scratch=runs/scratch-1,runs/scratch-10,runs/scratch-100"
//! ```
//! Each run folder's metrics.json gives its `data.label_fraction` and `test.accuracy`.
use std::path::Path;

use deepzero_sequence::pretrain::curve::{Series, write_few_label_svg};

fn point(run: &Path) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let path = run.join("metrics.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let fraction = json["data"]["label_fraction"].as_f64().unwrap_or(1.0);
    let accuracy = json["test"]["accuracy"]
        .as_f64()
        .ok_or_else(|| format!("{}: no test.accuracy", path.display()))?;
    Ok((fraction, accuracy))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: few_label_curve OUT.svg TITLE NAME=RUN,RUN,... [NAME=RUN,...]".into());
    }
    let mut series = Vec::new();
    for group in &args[2..] {
        let (name, runs) = group
            .split_once('=')
            .ok_or_else(|| format!("`{group}`: expected NAME=RUN,RUN,..."))?;
        let points = runs
            .split(',')
            .map(|r| point(Path::new(r)))
            .collect::<Result<Vec<_>, _>>()?;
        for (f, a) in &points {
            println!(
                "{name}: {:.0}% of the labels -> {:.2}%",
                f * 100.0,
                a * 100.0
            );
        }
        series.push(Series {
            name: name.to_string(),
            points,
        });
    }
    write_few_label_svg(Path::new(&args[0]), &args[1], &series)?;
    println!("-> {}", args[0]);
    Ok(())
}
