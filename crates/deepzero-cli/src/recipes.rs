//! The recipe registry: every trainable thing `deepzero` knows, with the seed chapter it
//! implements, its default hyper-parameters, and the library task that runs it.
//!
//! A recipe is a library spec (`deepzero_vision::tasks::classify::ImageSpec`,
//! `deepzero_sequence::tasks::classify::ClassifySpec`, …) wrapped in a [`RecipeTask`]: the one
//! place where command-line options meet a library call.

use std::path::Path;

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::regression;
use deepzero_train::{FitConfig, Recipe as LibRecipe, RunSettings};
use deepzero_vision::tasks::recipes as vision;

use crate::args::TrainArgs;
use crate::tasks::{
    GenerateTask, GraphTask, ImageNetTask, ImageTask, RecsysTask, RegressionTask, TagTask,
    TextTask, TranslateTask,
};
use crate::{CliError, FinetuneArgs, PredictArgs};

/// Which options a recipe accepts beyond the common ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Linear and logistic regression.
    Regression,
    /// Image classifiers (and imported ImageNet models).
    Image,
    /// Document classifiers.
    Text,
    /// Named-entity taggers.
    Tagging,
    /// Character language models.
    Generation,
    /// Translation models.
    Translation,
    /// Recommenders (MovieLens).
    Recsys,
    /// Graph node classifiers and embeddings.
    Graph,
}

/// What a recipe does with the command's options: each family of recipes implements it once.
pub trait RecipeTask: Send + Sync {
    /// The family (which options apply).
    fn family(&self) -> Family;
    /// Whether it reads a `--data-dir` that it cannot do without (no shipped sample).
    fn needs_data_dir(&self) -> bool {
        matches!(
            self.family(),
            Family::Text | Family::Tagging | Family::Recsys
        )
    }
    /// `deepzero train`.
    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError>;
    /// `deepzero eval` of the run in `run` (`settings.out`: where its metrics go).
    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError>;
    /// `deepzero predict` with the run in `run`.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError>;
    /// `deepzero finetune`.
    fn finetune(&self, recipe: &Recipe, args: &FinetuneArgs) -> Result<(), CliError> {
        let _ = args;
        Err(CliError::Usage(format!(
            "finetune adapts image classifiers; `{}` is not an image recipe",
            recipe.name
        )))
    }
}

/// One entry of `deepzero list`.
pub struct Recipe {
    /// The name used on the command line.
    pub name: &'static str,
    /// The seed chapter(s) it implements.
    pub chapter: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// What runs it.
    pub task: Box<dyn RecipeTask>,
    /// The recipe's training settings (each overridable on the command line).
    pub defaults: FitConfig,
}

/// A library recipe whose spec `task` wraps.
fn entry<S, T: RecipeTask + 'static>(r: LibRecipe<S>, task: impl Fn(S) -> T) -> Recipe {
    Recipe {
        name: r.name,
        chapter: r.chapter,
        summary: r.summary,
        task: Box::new(task(r.spec)),
        defaults: r.fit,
    }
}

/// Every recipe, in the order of the seed's chapters: the libraries' own, plus the imported
/// ImageNet models, the recommenders and the graphs.
pub fn all() -> Vec<Recipe> {
    use deepzero_sequence::tasks::recipes as text;
    let mut all: Vec<Recipe> = regression::recipes()
        .into_iter()
        .map(|r| entry(r, RegressionTask))
        .collect();
    all.extend(vision::recipes().into_iter().map(|r| entry(r, ImageTask)));
    let (none, constant) = (0usize, LrSchedule::Constant);
    let plain = |name, chapter, summary, task| Recipe {
        name,
        chapter,
        summary,
        task,
        defaults: FitConfig::recipe(none, none, 0.0, OptimizerKind::Sgd, constant),
    };
    all.push(plain(
        "imagenet",
        "3.1",
        "torchvision ImageNet model with imported weights (deepzero import; predict only)",
        Box::new(ImageNetTask),
    ));
    all.extend(text::tag().into_iter().map(|r| entry(r, TagTask)));
    all.extend(text::classify().into_iter().map(|r| entry(r, TextTask)));
    all.extend(text::generate().into_iter().map(|r| entry(r, GenerateTask)));
    all.extend(
        text::translate()
            .into_iter()
            .map(|r| entry(r, TranslateTask)),
    );
    // Recommenders (chapter 5) and graphs (1.3.4): the libraries hold their recipes' settings.
    for (name, summary) in [
        (
            "ml100k-popularity",
            "most-rated items first (the baseline of every top-K table) on MovieLens-100k",
        ),
        (
            "ml100k-baseline",
            "global mean + user and item biases by ALS (Surprise's BaselineOnly), 5-fold RMSE",
        ),
        (
            "ml100k-knn",
            "item k-NN with baseline-centred Pearson similarity (Surprise's KNNBaseline), 5-fold RMSE",
        ),
        (
            "ml100k-mf",
            "biased matrix factorisation by SGD (FunkSVD), 5-fold RMSE",
        ),
        (
            "ml100k-svdpp",
            "SVD++ (implicit feedback of what was rated), 5-fold RMSE",
        ),
        (
            "ml100k-bpr",
            "BPR matrix factorisation, leave-one-out HR@10 / NDCG@10",
        ),
        (
            "ml100k-gmf",
            "generalised matrix factorisation (NCF), leave-one-out HR@10 / NDCG@10",
        ),
        (
            "ml100k-mlp",
            "MLP over user and item embeddings (NCF), leave-one-out HR@10 / NDCG@10",
        ),
        (
            "ml100k-neumf",
            "NeuMF = GMF + MLP with pre-trained branches (He et al. 2017), HR@10 / NDCG@10",
        ),
    ] {
        all.push(plain(name, "5.1-5.4", summary, Box::new(RecsysTask(name))));
    }
    for name in deepzero_graph::tasks::RECIPES {
        let summary = deepzero_graph::tasks::recipe_description(name).unwrap_or("graph recipe");
        all.push(plain(name, "1.3.4", summary, Box::new(GraphTask(name))));
    }
    all
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipe")
            .field("name", &self.name)
            .field("family", &self.task.family())
            .finish()
    }
}

/// Looks a recipe up by name.
pub fn find(name: &str) -> Result<Recipe, CliError> {
    all().into_iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|r| r.name).collect();
        CliError::Usage(format!(
            "unknown recipe `{name}` (run `deepzero list`; known: {})",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        let all = all();
        for r in &all {
            assert_eq!(find(r.name).unwrap().name, r.name);
            assert_eq!(all.iter().filter(|o| o.name == r.name).count(), 1);
        }
        let err = find("mnist-transformer").unwrap_err().to_string();
        assert!(err.contains("unknown recipe `mnist-transformer`"), "{err}");
        assert!(err.contains("mnist-lenet"));
    }
}
