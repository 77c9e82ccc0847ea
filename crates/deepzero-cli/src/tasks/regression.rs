//! The chapter-2 regression recipes ([`deepzero_train::regression`]).

use std::path::Path;

use deepzero_train::regression::RegressionKind;

use super::CliResult;
use crate::args::PredictArgs;
use crate::error::CliError;
use crate::recipe::Recipe;

/// `predict` of `linear-regression` and `logistic-regression`, which have nothing to predict.
pub fn predict(_: &RegressionKind, recipe: &Recipe, _: &Path, _: &PredictArgs) -> CliResult {
    Err(CliError::Usage(format!(
        "{} learns from generated data and has nothing to predict (its metrics.json holds the learned and the true weights)",
        recipe.name
    )))
}
