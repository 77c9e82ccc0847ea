//! What a recipe is: a library task wrapped in a [`RecipeTask`], the one place where
//! command-line options meet a library call, with its name, chapter and training settings.

use std::path::Path;

use deepzero_train::lr_find::LrFindConfig;
use deepzero_train::{FitConfig, Recipe as LibRecipe, RunSettings};

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
pub(crate) fn entry<S, T: RecipeTask + 'static>(r: LibRecipe<S>, task: impl Fn(S) -> T) -> Recipe {
    Recipe {
        name: r.name,
        chapter: r.chapter,
        summary: r.summary,
        task: Box::new(task(r.spec)),
        defaults: r.fit,
    }
}

impl Recipe {
    /// The name, chapter and training settings, as [`TrainArgs::settings`] takes them.
    pub fn identity(&self) -> (&str, &str, &FitConfig) {
        (self.name, self.chapter, &self.defaults)
    }

    /// [`TrainArgs::validate`] for this recipe.
    pub fn validate(&self, args: &TrainArgs) -> Result<(), CliError> {
        args.validate(self.name, self.task.family(), self.task.needs_data_dir())
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
