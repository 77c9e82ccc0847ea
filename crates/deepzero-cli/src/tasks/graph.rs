//! The graph recipes ([`deepzero_graph::tasks`]): GCN and GAT node classifiers, DeepWalk and
//! node2vec embeddings, and `deepzero embed`.

use std::path::Path;

use deepzero_graph::tasks::{self as graph, EmbedRequest, Predictor};
use deepzero_train::RunSettings;

use super::{device, in_one_go, print_items};
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
        in_one_go(self.0, args)?;
        let r = graph::train_run(self.0, settings, args.epochs, &mut |l| println!("{l}"))?;
        let metrics = settings.out.join("metrics.json");
        println!("{}: {} -> {}", self.0, r.test, metrics.display());
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        let scores = graph::evaluate_run(self.0, run, settings)?;
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

/// `deepzero embed RECIPE --run DIR --out FILE` with a run of `recipe`.
pub fn embed(recipe: &Recipe, request: &EmbedRequest) -> Result<(), CliError> {
    recipe.require(Family::Graph, "a graph recipe")?;
    request.write(&device(None)?)?;
    println!("{} -> {}", recipe.name, request.out.display());
    Ok(())
}
