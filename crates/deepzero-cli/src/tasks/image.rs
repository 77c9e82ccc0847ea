//! The image recipes ([`deepzero_vision::tasks`]): MNIST/Fashion-MNIST classifiers, image
//! folders, imported ImageNet models, and fine-tuning.

use std::path::{Path, PathBuf};

use deepzero_train::RunSettings;
use deepzero_train::lr_find::LrFindConfig;
use deepzero_vision::tasks::classify::{self, ImageData, ImageSpec, PredictOptions, Predictor};
use deepzero_vision::tasks::finetune::{self, FinetuneSpec};

use super::{device, finetune_settings, print_items};
use crate::args::{Family, FinetuneArgs, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A trainable image classifier.
pub struct ImageTask(pub ImageSpec);

impl ImageTask {
    /// The recipe's spec with the image options ([`ImageOptions::apply`]).
    ///
    /// [`ImageOptions::apply`]: deepzero_vision::tasks::options::ImageOptions::apply
    fn spec(&self, args: &TrainArgs) -> ImageSpec {
        args.image.apply(&self.0)
    }
}

impl RecipeTask for ImageTask {
    fn family(&self) -> Family {
        Family::Image
    }

    fn needs_data_dir(&self) -> bool {
        matches!(self.0.data, ImageData::Folder(_))
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        match &args.image.from_torchvision {
            Some(weights) => finetune::from_torchvision(&self.spec(args), weights, settings)?,
            None => classify::train(&self.spec(args), settings)?,
        };
        Ok(())
    }

    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        classify::evaluate_run(&self.spec(args), run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        predict_images(recipe, run, args)
    }

    fn lr_find(
        &self,
        _: &Recipe,
        args: &TrainArgs,
        settings: &RunSettings,
        config: &LrFindConfig,
    ) -> Result<(), CliError> {
        deepzero_vision::tasks::lr_find::lr_find(&self.spec(args), settings, config)?;
        Ok(())
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
            from_label: None,
        };
        finetune::finetune(&spec, &finetune_settings(recipe, args)?)?;
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
    let predictor = Predictor::load(run, Some(recipe.name), &device(args.backend.as_deref())?)?;
    let options = PredictOptions {
        top_k: args.top,
        invert: args.invert,
    };
    let images: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    let picture = args
        .picture
        .clone()
        .unwrap_or_else(|| run.join("predictions.png"));
    print_items(
        &predictor.predict_and_draw(&images, &options, &picture)?,
        args.json,
    );
    if !args.json {
        println!("picture: {}", picture.display());
    }
    Ok(())
}
