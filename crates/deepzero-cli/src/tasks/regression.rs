//! The chapter-2 regression recipes ([`deepzero_train::regression`]).

use std::path::Path;

use deepzero_train::RunSettings;
use deepzero_train::regression::{self, RegressionKind};

use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// `linear-regression`, `logistic-regression`.
pub struct RegressionTask(pub RegressionKind);

impl RecipeTask for RegressionTask {
    fn family(&self) -> Family {
        Family::Regression
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        regression::train(self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        regression::evaluate_run(self.0, run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, _: &Path, _: &PredictArgs) -> Result<(), CliError> {
        Err(CliError::Usage(format!(
            "{} learns from generated data and has nothing to predict (its metrics.json holds the learned and the true weights)",
            recipe.name
        )))
    }
}
