//! The recommender recipes ([`deepzero_recsys::tasks`]): `ml100k-*`, and `deepzero recommend` /
//! `deepzero similar-items`.

use std::path::Path;

use deepzero_recsys::query::RecommendRequest;
use deepzero_recsys::tasks as recsys;
use deepzero_train::RunSettings;

use super::{device, in_one_go, print_items};
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// One `ml100k-*` recipe, by its library name.
pub struct RecsysTask(pub &'static str);

impl RecipeTask for RecsysTask {
    fn family(&self) -> Family {
        Family::Recsys
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        in_one_go(self.0, args)?;
        print!("{}", recsys::train_run(self.0, settings, args.epochs)?);
        println!("-> {}", settings.out.join("metrics.json").display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        print!("{}", recsys::evaluate_run(self.0, run, settings)?);
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, _: &Path, _: &PredictArgs) -> Result<(), CliError> {
        Err(CliError::Usage(format!(
            "{0} recommends with `deepzero recommend {0} --run DIR --user ID` and `deepzero similar-items {0} --run DIR --item ID`",
            recipe.name
        )))
    }
}

/// The options of `deepzero recommend` and `deepzero similar-items`.
#[derive(Clone, Debug, clap::Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub request: RecommendRequest,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
}

/// `deepzero recommend` (`similar` false) or `deepzero similar-items` (`similar` true) with
/// a run of `recipe`.
pub fn recommend(recipe: &Recipe, args: &RecommendArgs, similar: bool) -> Result<(), CliError> {
    recipe.require(Family::Recsys, "a recommender recipe")?;
    let answer = args.request.answer(similar, &device(None)?)?;
    if let Some(note) = &answer.note {
        eprintln!("{note}");
    }
    print_items(&answer.items, args.json);
    Ok(())
}
