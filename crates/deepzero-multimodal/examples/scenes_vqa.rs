//! The question answering recipes end to end: render scenes with questions, train one of
//! `scenes-vqa` (attention fusion), `scenes-vqa-text` or `scenes-vqa-image` with a given number
//! of training scenes and epochs, report test accuracy per question kind beside the
//! question-only prior, then answer questions about a test scene saved as a PNG file.
//!
//! ```sh
//! cargo run --release -p deepzero-multimodal --example scenes_vqa            # shipped samples, under a minute
//! cargo run --release -p deepzero-multimodal --example scenes_vqa -- \
//!     --recipe scenes-vqa-text --train-scenes 3000 --test-scenes 1000 --epochs 4 \
//!     --data-dir shared/datasets --out runs/vqa-text
//! ```
//! The full recipes are `deepzero train scenes-vqa --data-dir shared/datasets` (8 000 scenes).

use std::path::PathBuf;

use deepzero_multimodal::tasks::recipes;
use deepzero_multimodal::tasks::vqa::{self, VqaPredictor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut recipe_name = "scenes-vqa".to_string();
    let (mut train_scenes, mut test_scenes, mut epochs) = (None, None, None);
    let mut data_dir: Option<PathBuf> = None;
    let mut out = std::env::temp_dir().join("deepzero-scenes-vqa-example");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--recipe" => recipe_name = value()?,
            "--train-scenes" => train_scenes = Some(value()?.parse::<usize>()?),
            "--test-scenes" => test_scenes = Some(value()?.parse::<usize>()?),
            "--epochs" => epochs = Some(value()?.parse::<usize>()?),
            "--data-dir" => data_dir = Some(value()?.into()),
            "--out" => out = value()?.into(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let recipe = recipes::vqa()
        .into_iter()
        .find(|r| r.name == recipe_name)
        .ok_or(format!("unknown recipe {recipe_name}"))?;
    let mut spec = recipe.spec.clone();
    // Without a data folder, the shipped samples: a small run.
    let small = data_dir.is_none();
    spec.train_scenes = train_scenes.unwrap_or(if small { 600 } else { spec.train_scenes });
    spec.test_scenes = test_scenes.unwrap_or(if small { 100 } else { spec.test_scenes });
    let mut settings = recipe.settings(&out);
    settings.fit.epochs = epochs.unwrap_or(if small { 2 } else { settings.fit.epochs });
    settings.data_dir = data_dir.clone();
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = vqa::train(&spec, &settings)?;
    println!("{}", serde_json::to_string_pretty(&report.test)?);

    // Answer questions about the first test scene, written as a PNG.
    let predictor = VqaPredictor::load(&out, Some(recipe.name), &settings.device()?)?;
    let info = predictor.info();
    let (_, test, _) =
        vqa::load_vqa_scenes(&info.scenes, &info.questions, 0, 1, data_dir.as_deref())?;
    let scene = &test.scenes[0];
    let png = out.join("scene.png");
    scene.scene.save_png(&png)?;
    let questions: Vec<&str> = scene.questions.iter().map(|q| q.text.as_str()).collect();
    for (answer, q) in predictor
        .answer_file(&png, &questions)?
        .iter()
        .zip(&scene.questions)
    {
        println!(
            "{answer}\t(truth {})",
            deepzero_multimodal::vqa::ANSWERS[q.answer]
        );
    }
    Ok(())
}
