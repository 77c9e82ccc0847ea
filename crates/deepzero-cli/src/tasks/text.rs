//! The text recipes ([`deepzero_sequence::tasks`]): document classification, named-entity
//! tagging, translation and character language models.

use std::path::Path;

use deepzero_sequence::tasks::classify::{self, ClassifySpec};
use deepzero_sequence::tasks::generate::{self, GenerateSpec, Prompts};
use deepzero_sequence::tasks::tag::{self, TagSpec};
use deepzero_sequence::tasks::translate::{self, TranslateSpec};
use deepzero_sequence::tasks::{given_or_lines, some_texts};
use deepzero_train::RunSettings;
use deepzero_train::lr_find::LrFindConfig;

use super::{CliResult, device, print_items, print_json};
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A document classifier.
pub struct TextTask(pub ClassifySpec);

impl TextTask {
    /// The recipe's spec with the text options of the command line.
    fn spec(&self, args: &TrainArgs, name: &str) -> Result<ClassifySpec, CliError> {
        Ok(args.text.classify(&self.0, name)?)
    }
}

impl RecipeTask for TextTask {
    fn family(&self) -> Family {
        Family::Text
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        classify::train(&self.spec(args, &settings.name)?, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        classify::evaluate_run(&self.spec(args, &settings.name)?, run, settings)?;
        Ok(())
    }

    fn lr_find(
        &self,
        _: &Recipe,
        args: &TrainArgs,
        settings: &RunSettings,
        config: &LrFindConfig,
    ) -> Result<(), CliError> {
        classify::lr_find(&self.spec(args, &settings.name)?, settings, config)?;
        Ok(())
    }

    /// One `label<TAB>probability` line per text (or a JSON array with `--json`).
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let device = device(args.backend.as_deref())?;
        let predictor = classify::Predictor::load(run, Some(recipe.name), &device)?;
        let texts = some_texts(&args.inputs, args.input.as_deref(), "text")?;
        print_items(&predictor.predict(&texts)?, args.json);
        Ok(())
    }
}

/// `predict` of the named-entity taggers: one line per input line, entities bracketed
/// (`[王伟]PER在[上海]LOC`).
pub fn predict_tags(_: &TagSpec, recipe: &Recipe, run: &Path, args: &PredictArgs) -> CliResult {
    let device = device(args.backend.as_deref())?;
    let predictor = tag::Predictor::load(run, Some(recipe.name), &device)?;
    let tagged = predictor.tag(&given_or_lines(&args.inputs, args.input.as_deref())?)?;
    if let Some(warning) = tag::long_lines_warning(&tagged, predictor.max_len()) {
        eprintln!("warning: {warning}");
    }
    print_items(&tagged, args.json);
    Ok(())
}

/// A translation model.
pub struct TranslateTask(pub TranslateSpec);

impl RecipeTask for TranslateTask {
    fn family(&self) -> Family {
        Family::Translation
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        // A schedule given on the command line is taken as it is.
        let spec = args.text.translate(&self.0, args.schedule.is_some());
        translate::train(&spec, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        translate::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// One translation per input line.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let lines = some_texts(&args.inputs, args.input.as_deref(), "sentence")?;
        let options = &args.translate;
        let device = device(args.backend.as_deref())?;
        let predictor = translate::Predictor::load(run, Some(recipe.name), &device)?;
        let translations = predictor.translate(&lines, options)?;
        if let Some(warning) = translate::long_lines_warning(&translations, predictor.max_len()) {
            eprintln!("warning: {warning}");
        }
        print_items(&translations, args.json);
        Ok(())
    }
}

/// A character language model.
pub struct GenerateTask(pub GenerateSpec);

impl RecipeTask for GenerateTask {
    fn family(&self) -> Family {
        Family::Generation
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        generate::train(&args.text.generate(&self.0), settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        generate::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// Prompts from `--prompt` and the arguments (printed with their continuation), or one per
    /// line of `--input` / standard input (the continuation only, newlines escaped as `\n`).
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let input = args.input.as_deref();
        let prompts = args.generate.some_prompts("predict", &args.inputs, input)?;
        let device = device(args.backend.as_deref())?;
        let predictor = generate::Predictor::load(run, Some(recipe.name), &device)?;
        let continuations = predictor.generate(&prompts.texts, &args.generate.sample)?;
        print_continuations(prompts, continuations, args.json);
        Ok(())
    }
}

/// Prints the continuations of `prompts` (JSON with `json`).
pub(crate) fn print_continuations(prompts: Prompts, continuations: Vec<String>, json: bool) {
    let generations = prompts.with_continuations(continuations);
    if json {
        print_json(&generations);
    } else {
        print!("{generations}");
    }
}
