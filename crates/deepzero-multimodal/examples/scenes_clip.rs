//! The joint-embedding task end to end on the shipped MNIST and Fashion-MNIST samples: render
//! captioned scenes, train a small CLIP-style model for a few epochs, report Recall@K and
//! zero-shot accuracy, then search the test scenes with a free-text query and draw the result.
//!
//! `cargo run --release -p deepzero-multimodal --example scenes_clip` (about a minute on two
//! cores; the full recipe is `deepzero train scenes-clip --data-dir shared/datasets`).

use deepzero_multimodal::tasks::clip::{self, ClipPredictor, ClipSpec};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join("deepzero-scenes-clip-example");
    let fit = FitConfig {
        epochs: 3,
        batch_size: 64,
        learning_rate: 2e-3,
        ..FitConfig::default()
    };
    let mut settings = RunSettings::new("scenes-clip", &out).with_fit(fit);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = clip::train(&ClipSpec::small(), &settings)?;
    let r = &report.test["text_to_image"];
    println!(
        "text→image R@1 {} R@10 {} over {} candidates",
        r["r1"], r["r10"], report.test["candidates"]
    );

    let predictor = ClipPredictor::load(&out, Some("scenes-clip"), &settings.device()?)?;
    let query = "a small seven left of a sneaker";
    let found = predictor.search(query, 5)?;
    for hit in &found.hits {
        println!("{:.3}  {}", hit.score, hit.label);
    }
    let grid = out.join("search.png");
    predictor.draw_grid(&found.hits, &grid)?;
    println!("{query:?}: top-5 drawn to {}", grid.display());
    Ok(())
}
