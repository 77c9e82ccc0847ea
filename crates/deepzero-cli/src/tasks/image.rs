//! The image recipes ([`deepzero_vision::tasks`]): MNIST/Fashion-MNIST classifiers, image
//! folders, imported ImageNet models, and fine-tuning.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_vision::tasks::classify::{
    self, ImageData, ImageSpec, InvertMode, Prediction, Predictor,
};
use deepzero_vision::tasks::finetune::{self, FinetuneSpec};

use super::print_json;
use crate::args::{Family, FinetuneArgs, Invert, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A trainable image classifier.
pub struct ImageTask(pub ImageSpec);

impl ImageTask {
    /// The recipe's spec with `--classes-subset`, `--per-class` and `--image-size`.
    fn spec(&self, args: &TrainArgs) -> ImageSpec {
        let mut spec = self.0.clone();
        spec.classes_subset = args.image.classes_subset.clone();
        spec.per_class = args.image.per_class;
        spec.skip_bad_images = args.image.skip_bad_images;
        if let ImageData::Folder { image_size } = &mut spec.data {
            *image_size = args.image.image_size;
        }
        spec
    }
}

impl RecipeTask for ImageTask {
    fn family(&self) -> Family {
        Family::Image
    }

    fn needs_data_dir(&self) -> bool {
        matches!(self.0.data, ImageData::Folder { .. })
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        classify::train(&self.spec(args), settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        classify::evaluate_run(&self.spec(args), run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        predict_images(recipe, run, args)
    }

    fn finetune(&self, recipe: &Recipe, args: &FinetuneArgs) -> Result<(), CliError> {
        let strategy = args.strategy()?;
        // Name the option in what is wrong with the run to start from.
        finetune::locate(&args.from).map_err(|e| CliError::Usage(format!("--from {e}")))?;
        let spec = FinetuneSpec {
            data: self.spec(&args.train),
            from: args.from.clone(),
            strategy,
            classes: args.classes,
        };
        let out = args
            .train
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-finetune", recipe.name)));
        let settings = args.train.settings(recipe.identity(), out)?;
        finetune::finetune(&spec, &settings)?;
        Ok(())
    }
}

/// The `imagenet` recipe: weights imported by `deepzero import`, predict only.
pub struct ImageNetTask;

impl ImageNetTask {
    fn predict_only(name: &str) -> CliError {
        CliError::Usage(format!(
            "the `{name}` recipe holds weights imported by `deepzero import`; it predicts only \
             (deepzero predict {name} --checkpoint DIR IMAGE...)"
        ))
    }
}

impl RecipeTask for ImageNetTask {
    fn family(&self) -> Family {
        Family::Image
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Err(Self::predict_only(&settings.name))
    }

    fn eval(&self, _: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Err(Self::predict_only(&settings.name))
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        predict_images(recipe, run, args)
    }
}

/// Classifies the image files of `args`, prints the top classes and draws a picture of them.
fn predict_images(recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
    if args.inputs.is_empty() {
        return Err(CliError::Usage("predict needs at least one IMAGE".into()));
    }
    let device = deepzero_train::device::Backend::resolve(args.backend.as_deref())?.device()?;
    let predictor = Predictor::load(run, Some(recipe.name), &device)?;
    let invert = match args.invert {
        Invert::Auto => InvertMode::Auto,
        Invert::Always => InvertMode::Always,
        Invert::Never => InvertMode::Never,
    };
    let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    let items = images
        .iter()
        .map(|p| predictor.load_image(p, invert))
        .collect::<Result<Vec<_>, _>>()?;
    let predictions: Vec<Prediction> = predictor.predict_items(&images, &items, args.top)?;

    let picture = args
        .picture
        .clone()
        .unwrap_or_else(|| run.join("predictions.png"));
    let captions: Vec<String> = predictions
        .iter()
        .map(|p| format!("{} {:.0}%", p.top[0].1, p.top[0].2 * 100.0))
        .collect();
    deepzero_train::plot::draw_image_grid(&picture, &items, &captions)?;
    if args.json {
        print_json(&predictions);
        return Ok(());
    }
    for p in &predictions {
        let rest: Vec<String> = p
            .top
            .iter()
            .map(|(_, name, prob)| format!("{name} {prob:.3}"))
            .collect();
        println!("{}: {}", p.image, rest.join(", "));
    }
    println!("picture: {}", picture.display());
    Ok(())
}
