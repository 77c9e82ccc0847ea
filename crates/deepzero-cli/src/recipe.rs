//! What a recipe is: a library task wrapped in a [`RecipeTask`], the one place where
//! command-line options meet a library call, with its name, chapter and training settings;
//! [`SpecTask`] wraps the specs that train and evaluate themselves.

use std::path::{Path, PathBuf};

use deepzero_train::lr_find::LrFindConfig;
use deepzero_train::{FitConfig, Recipe as LibRecipe, RunSettings, Task};

use crate::args::{Family, FinetuneArgs, PredictArgs, TrainArgs};
use crate::error::CliError;

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

    /// `deepzero lr-find` into `settings.out`.
    fn lr_find(
        &self,
        recipe: &Recipe,
        args: &TrainArgs,
        settings: &RunSettings,
        config: &LrFindConfig,
    ) -> Result<(), CliError> {
        let _ = (args, settings, config);
        Err(CliError::Usage(format!(
            "lr-find runs the image and text classifiers' training; not {}",
            recipe.name
        )))
    }
}

/// How a family of recipes predicts with a run of one of them.
pub type Predict<S> = fn(&S, &Recipe, &Path, &PredictArgs) -> Result<(), CliError>;

/// A recipe whose library spec trains and evaluates itself ([`Task`]); only `predict` is its
/// family's own.
pub struct SpecTask<S> {
    spec: S,
    family: Family,
    predict: Predict<S>,
}

impl<S> SpecTask<S> {
    /// What wraps each spec of `family`, predicting with `predict` (for `recipe::wrap`).
    pub fn of(family: Family, predict: Predict<S>) -> impl Fn(S) -> Self {
        move |spec| Self {
            spec,
            family,
            predict,
        }
    }
}

impl<S: Task + Send + Sync> RecipeTask for SpecTask<S> {
    fn family(&self) -> Family {
        self.family
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Ok(self.spec.train(settings)?)
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Ok(self.spec.evaluate_run(run, settings)?)
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        (self.predict)(&self.spec, recipe, run, args)
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

/// The library recipes `recipes`, each spec wrapped by `task`.
pub(crate) fn wrap<S, T: RecipeTask + 'static>(
    recipes: Vec<LibRecipe<S>>,
    task: impl Fn(S) -> T,
) -> impl Iterator<Item = Recipe> {
    recipes.into_iter().map(move |r| Recipe {
        name: r.name,
        chapter: r.chapter,
        summary: r.summary,
        task: Box::new(task(r.spec)),
        defaults: r.fit,
    })
}

/// The library recipes `recipes` of `family`, whose specs train and evaluate themselves
/// ([`SpecTask`]).
pub(crate) fn specs<S: Task + Send + Sync + 'static>(
    recipes: Vec<LibRecipe<S>>,
    family: Family,
    predict: Predict<S>,
) -> impl Iterator<Item = Recipe> {
    wrap(recipes, SpecTask::of(family, predict))
}

impl Recipe {
    /// What the libraries need to run this recipe with `args` (each option given replacing
    /// the recipe's setting) into `out`.
    pub fn settings(&self, args: &TrainArgs, out: PathBuf) -> Result<RunSettings, CliError> {
        let (name, chapter, defaults) = (self.name, self.chapter, &self.defaults);
        Ok(args.run.run_settings(name, chapter, defaults, out)?)
    }

    /// Refuses this recipe for a command that takes the recipes of `family` alone (`what`
    /// names them: "a graph recipe").
    pub fn require(&self, family: Family, what: &str) -> Result<(), CliError> {
        if self.task.family() != family {
            return Err(CliError::Usage(format!("`{}` is not {what}", self.name)));
        }
        Ok(())
    }

    /// Checks the options every recipe shares, and refuses those of another family of
    /// recipes than this one's.
    pub fn validate(&self, args: &TrainArgs) -> Result<(), CliError> {
        let (name, family) = (self.name, self.task.family());
        args.text.check(name, family == Family::Text)?;
        args.run.check(name, self.task.needs_data_dir())?;
        // The image-folder recipe is the image recipe that reads a --data-dir tree.
        let folder = family == Family::Image && self.task.needs_data_dir();
        Ok(args.image.check(name, folder)?)
    }
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipe")
            .field("name", &self.name)
            .field("family", &self.task.family())
            .finish()
    }
}
