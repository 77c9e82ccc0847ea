//! The recommender recipes ([`deepzero_recsys::tasks`]): `ml100k-*`, and `deepzero recommend` /
//! `deepzero similar-items`.

use std::path::{Path, PathBuf};

use deepzero_recsys::query::RecommendQuery;
use deepzero_recsys::tasks::{self as recsys, Predictor, TaskSpec};
use deepzero_train::RunSettings;
use deepzero_train::device::Backend;

use super::print_items;
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
        if args.resume {
            return Err(CliError::Usage(format!(
                "{} trains in one go; --resume does not apply",
                self.0
            )));
        }
        let mut spec = TaskSpec::recipe(self.0)?.with_seed(settings.seed());
        if let Some(epochs) = args.epochs {
            spec = spec.with_epochs(epochs);
        }
        let data = settings.require_data_dir()?;
        let r = recsys::train(&spec, data, &settings.out, &settings.device()?)?;
        print!("{r}");
        println!("-> {}", settings.out.join("metrics.json").display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let data = settings.require_data_dir()?;
        let device = settings.device()?;
        // Refuses a run of another recipe before evaluating it.
        Predictor::load_recipe(run, self.0, &device)?;
        print!("{}", recsys::evaluate(run, data, &device)?);
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
    /// Recipe name (ml100k-*).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[arg(long)]
    pub run: PathBuf,
    #[command(flatten)]
    pub query: RecommendQuery,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
}

/// `deepzero recommend` (`similar` false) or `deepzero similar-items` (`similar` true) with
/// a run of `recipe`.
pub fn recommend(recipe: &Recipe, args: &RecommendArgs, similar: bool) -> Result<(), CliError> {
    if recipe.task.family() != Family::Recsys {
        return Err(CliError::Usage(format!(
            "`{}` is not a recommender recipe",
            recipe.name
        )));
    }
    let device = Backend::resolve(None)?.device()?;
    let predictor = Predictor::load_recipe(&args.run, recipe.name, &device)?;
    let answer = predictor.answer(&args.query, similar)?;
    if let Some(note) = &answer.note {
        eprintln!("{note}");
    }
    print_items(&answer.items, args.json);
    Ok(())
}
