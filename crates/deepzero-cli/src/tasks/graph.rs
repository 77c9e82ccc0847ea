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
        )?;
        let metrics = settings.out.join("metrics.json");
        println!("{}: {} -> {}", self.0, r.test, metrics.display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        graph::read_run_info_of(run, self.0)?;
        let scores = graph::evaluate(run, settings.data_dir.as_deref(), &settings.device()?)?;
        println!("{}: {scores}", self.0);
        Ok(())
    }

    /// `node<TAB>class<TAB>probability` for every node (or the nodes given as arguments).
    fn predict(&self, _: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let device = device(args.backend.as_deref())?;
        let predictor = Predictor::load_recipe(run, self.0, None, &device)?;
        let wanted = graph::parse_node_ids(&args.inputs)?;
        let predictions = predictor.predict_nodes(&wanted)?;
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
    let device = device(None)?;
    let predictor = Predictor::load_recipe(&args.run, recipe.name, None, &device)?;
    predictor.write_embeddings(&args.out)?;
    println!("{} -> {}", recipe.name, args.out.display());
    Ok(())
}
