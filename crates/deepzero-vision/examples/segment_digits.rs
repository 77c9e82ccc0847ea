//! Segment MNIST digit scenes with a U-Net, through the library alone: render scenes from the
//! sample shipped in `datasets/`, train, evaluate (pixel accuracy, mean IoU, Dice), then segment
//! a scene saved as PNG and draw its mask (the recipe `digits-unet`, much shorter: 240 training
//! scenes and 2 epochs by default, far from the recipe's figure; see docs/segmentation.md).
//!
//! `cargo run --release -p deepzero-vision --example segment_digits [TRAIN_SCENES EPOCHS]`

use deepzero_train::RunSettings;
use deepzero_vision::segment::task::{self, Predictor, SegmentData};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let runs = std::env::temp_dir().join("deepzero-segment-example");
    let recipe = task::recipes()
        .into_iter()
        .find(|r| r.name == "digits-unet")
        .ok_or("no digits-unet recipe")?;
    let mut spec = recipe.spec.clone();
    if let SegmentData::Digits(scenes) = &mut spec.data {
        scenes.train_scenes = args.first().copied().unwrap_or(240);
        scenes.test_scenes = 100;
    }
    let mut settings: RunSettings = recipe.settings(runs.join("digits-unet"));
    settings.fit.epochs = args.get(1).copied().unwrap_or(2);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = task::train(&spec, &settings)?;
    println!(
        "test: mIoU {:.4}, pixel accuracy {:.4}, mean Dice {:.4}",
        report.test["mean_iou"], report.test["pixel_accuracy"], report.test["mean_dice"]
    );

    // Segment one test scene from a PNG file and draw the mask onto it.
    let (_, test, _) = spec.data.load(None, settings.seed())?;
    let scene = runs.join("scene.png");
    let [_, side, _] = test.shape();
    let side = side as u32;
    image::GrayImage::from_raw(side, side, test.items[0].image.pixels.clone())
        .ok_or("scene size")?
        .save(&scene)?;
    let predictor = Predictor::load(&settings.out, Some("digits-unet"), &settings.device()?)?;
    // Writes runs/scene.mask.png; prints "scene.png: background N, 7 M, … -> scene.mask.png".
    let prediction = &predictor.segment_into(std::slice::from_ref(&scene), &runs)?[0];
    println!("{prediction}");
    Ok(())
}
