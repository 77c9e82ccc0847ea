//! The graph recipes ([`deepzero_graph::tasks`]): GCN and GAT node classifiers, DeepWalk and
//! node2vec embeddings, and `deepzero embed`.

use std::path::{Path, PathBuf};

use deepzero_graph::tasks::{self as graph, Predictor};
use deepzero_train::RunSettings;

use super::{device, print_items};
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// One graph recipe, by its library name.
pub struct GraphTask(pub &'static str);

fn cli_error(e: deepzero_graph::GraphError) -> CliError {
    CliError::Usage(e.to_string())
}

/// Refuses a run folder that another recipe trained.
fn check_run(run: &Path, recipe: &str) -> Result<(), CliError> {
    graph::read_run_info_of(run, recipe).map_err(cli_error)?;
    Ok(())
}

impl RecipeTask for GraphTask {
    fn family(&self) -> Family {
        Family::Graph
    }

    fn needs_data_dir(&self) -> bool {
        !self.0.starts_with("karate")
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        if args.resume {
            return Err(CliError::Usage(format!(
                "{} trains in one go; --resume does not apply",
                self.0
            )));
        }
        let data = match graph::recipe_data_dir(self.0, settings.data_dir.as_deref()) {
            Some(dir) => dir,
            None => settings.require_data_dir()?.to_path_buf(),
        };
        let mut log = |line: &str| println!("{line}");
        let r = graph::train_recipe(
            self.0,
            &data,
            &settings.out,
            settings.seed(),
            args.epochs,
            &settings.device()?,
            &mut log,
        )
        .map_err(cli_error)?;
        let metrics = settings.out.join("metrics.json");
        println!("{}: {} -> {}", self.0, r.test, metrics.display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        check_run(run, self.0)?;
        let scores = graph::evaluate(run, settings.data_dir.as_deref(), &settings.device()?)
            .map_err(cli_error)?;
        println!("{}: {scores}", self.0);
        Ok(())
    }

    /// `node<TAB>class<TAB>probability` for every node (or the nodes given as arguments).
    fn predict(&self, _: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        check_run(run, self.0)?;
        let device = device(args.backend.as_deref())?;
        let predictor = Predictor::load(run, None, &device).map_err(cli_error)?;
        let wanted: Vec<usize> = args
            .inputs
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|_| CliError::Usage(format!("`{n}` is not a node id")))
            })
            .collect::<Result<_, _>>()?;
        let predictions = predictor.predict_nodes(&wanted).map_err(cli_error)?;
        print_items(&predictions, args.json);
        Ok(())
    }
}

/// The options of `deepzero embed`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmbedArgs {
    /// Recipe name (a graph recipe).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Where to write the vectors (word2vec text format: `N d`, then `node v1 … vd` per node).
    #[arg(long)]
    pub out: PathBuf,
}

/// `deepzero embed RECIPE --run DIR --out FILE` with a run of `recipe`.
pub fn embed(recipe: &Recipe, args: &EmbedArgs) -> Result<(), CliError> {
    if recipe.task.family() != Family::Graph {
        return Err(CliError::Usage(format!(
            "`{}` is not a graph recipe",
            recipe.name
        )));
    }
    check_run(&args.run, recipe.name)?;
    let predictor = Predictor::load(&args.run, None, &device(None)?).map_err(cli_error)?;
    predictor.write_embeddings(&args.out).map_err(cli_error)?;
    println!("{} -> {}", recipe.name, args.out.display());
    Ok(())
}
