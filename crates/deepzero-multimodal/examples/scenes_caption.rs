//! The captioning task end to end on the shipped MNIST and Fashion-MNIST samples: render
//! captioned scenes, train a small captioner (Transformer decoder attending over the CNN's
//! regions) for two epochs, report BLEU-4 and CIDEr-D of greedy and beam-search captions, then
//! caption a scene saved as a PNG file.
//!
//! `cargo run --release -p deepzero-multimodal --example scenes_caption` (under a minute on two
//! cores; the full recipe is `deepzero train scenes-caption --data-dir shared/datasets`).

use deepzero_multimodal::tasks::caption::{self, CaptionPredictor, CaptionSpec};
use deepzero_train::{FitConfig, RunSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join("deepzero-scenes-caption-example");
    let fit = FitConfig {
        epochs: 2,
        batch_size: 64,
        learning_rate: 2e-3,
        ..FitConfig::default()
    };
    let mut settings = RunSettings::new("scenes-caption", &out).with_fit(fit);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = caption::train(&CaptionSpec::small(), &settings)?;
    for sample in report.test["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
    {
        println!(
            "reference {}\n     beam {}",
            sample["reference"], sample["beam"]
        );
    }

    // Caption a file: the first test scene, written as a PNG.
    let predictor = CaptionPredictor::load(&out, Some("scenes-caption"), &settings.device()?)?;
    let sources = deepzero_multimodal::data::SceneSources::load(None, deepzero_data::Split::Test)?;
    let scenes = deepzero_multimodal::captions::CaptionedScenes::generate(
        &sources.refs(),
        &predictor.info().scenes,
        1,
        false,
    )?;
    let png = out.join("scene.png");
    scenes.scenes[0].scene.save_png(&png)?;
    let captions = predictor.caption_files(&[png.as_path()], 4)?;
    println!(
        "{}: {:?} (reference {:?})",
        png.display(),
        captions[0],
        scenes.scenes[0].captions[0]
    );
    Ok(())
}
