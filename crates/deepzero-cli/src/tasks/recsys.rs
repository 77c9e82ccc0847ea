//! The recommender recipes ([`deepzero_recsys::tasks`]): `ml100k-*`, and `deepzero recommend` /
//! `deepzero similar-items`.

use std::path::{Path, PathBuf};

use deepzero_recsys::models::UserProfile;
use deepzero_recsys::tasks::{self as recsys, Predictor, TaskReport, TaskSpec};
use deepzero_train::RunSettings;
use deepzero_train::device::Backend;

use super::print_json;
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// One `ml100k-*` recipe, by its library name.
pub struct RecsysTask(pub &'static str);

fn report(name: &str, r: &TaskReport) {
    if let Some(cv) = &r.rating {
        println!(
            "{name}: {}-fold RMSE {:.4} ± {:.4}, MAE {:.4}",
            cv.folds.len(),
            cv.rmse,
            cv.rmse_std,
            cv.mae
        );
    }
    if let Some(on_data) = &r.rating_on_data {
        println!(
            "{name}: RMSE {:.4}, MAE {:.4} over the {} ratings of the data folder (the saved model was fitted on every rating of its training data; 5-fold figures are in its metrics.json)",
            on_data.rmse, on_data.mae, on_data.n
        );
    }
    if let Some(rank) = &r.ranking {
        let s = &rank.sampled;
        println!(
            "{name}: held-out item among 1 + {} negatives: {}",
            rank.negatives,
            serde_json::to_string(s).unwrap_or_default()
        );
    }
}

fn cli_error(e: deepzero_recsys::RecsysError) -> CliError {
    CliError::Usage(e.to_string())
}

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
        let mut spec = TaskSpec::recipe(self.0)
            .map_err(cli_error)?
            .with_seed(settings.seed());
        if let Some(epochs) = args.epochs {
            spec = spec.with_epochs(epochs);
        }
        let data = settings.require_data_dir()?;
        let r =
            recsys::train(&spec, data, &settings.out, &settings.device()?).map_err(cli_error)?;
        report(self.0, &r);
        println!("-> {}", settings.out.join("metrics.json").display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let data = settings.require_data_dir()?;
        let device = settings.device()?;
        // Refuses a run of another recipe before evaluating it.
        Predictor::load_recipe(run, self.0, &device).map_err(cli_error)?;
        let r = recsys::evaluate(run, data, &device).map_err(cli_error)?;
        report(self.0, &r);
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
    /// The user to recommend for (`recommend`; an unknown user gets the most popular items).
    #[arg(long)]
    pub user: Option<u64>,
    /// A new user's gender, F or M (instead of --user; ml100k-coldstart runs).
    #[arg(long)]
    pub gender: Option<String>,
    /// A new user's age in years.
    #[arg(long)]
    pub age: Option<String>,
    /// A new user's occupation (as in the data set's u.user: student, writer, …).
    #[arg(long)]
    pub occupation: Option<String>,
    /// Items a new user rated, comma-separated item ids, oldest first.
    #[arg(long)]
    pub rated: Option<String>,
    /// The item to find neighbours of (`similar-items`).
    #[arg(long)]
    pub item: Option<u64>,
    /// How many items.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Print JSON (for programs).
    #[arg(long)]
    pub json: bool,
}

/// A new user's profile and rated items, when any of their flags is given.
fn new_user(args: &RecommendArgs) -> Result<Option<(UserProfile, Vec<u64>)>, CliError> {
    let profile = UserProfile::parse(
        args.gender.as_deref(),
        args.age.as_deref(),
        args.occupation.as_deref(),
    )
    .map_err(cli_error)?;
    let rated = match &args.rated {
        Some(list) => recsys::parse_item_ids(list).map_err(cli_error)?,
        None => Vec::new(),
    };
    if profile.is_empty() && args.rated.is_none() {
        return Ok(None);
    }
    if args.user.is_some() {
        return Err(CliError::Usage(
            "--user is a known user; a new user's --gender/--age/--occupation/--rated go without it".into(),
        ));
    }
    Ok(Some((profile, rated)))
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
    let predictor = Predictor::load_recipe(&args.run, recipe.name, &device).map_err(cli_error)?;
    let items = if similar {
        let item = args
            .item
            .ok_or_else(|| CliError::Usage("similar-items needs --item ID".into()))?;
        predictor.similar_items(item, args.k).map_err(cli_error)?
    } else if let Some((profile, rated)) = new_user(args)? {
        predictor
            .recommend_new_user(&profile, &rated, args.k)
            .map_err(cli_error)?
    } else {
        let user = args.user.ok_or_else(|| {
            CliError::Usage(
                "recommend needs --user ID or a new user's --gender/--age/--occupation/--rated"
                    .into(),
            )
        })?;
        let list = predictor.recommend(user, args.k);
        if list.cold_start {
            eprintln!("user {user} is not in the run's data: the most popular items instead");
        }
        list.items
    };
    if args.json {
        print_json(&items);
        return Ok(());
    }
    for r in &items {
        println!(
            "{}\t{:.4}\t{}",
            r.item,
            r.score,
            r.title.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
