//! The text recipes ([`deepzero_sequence::tasks`]): document classification, named-entity
//! tagging, translation and character language models.

use std::path::Path;

use deepzero_sequence::tasks::classify::{self, ClassifySpec};
use deepzero_sequence::tasks::generate::{self, GenerateSpec, PromptOptions, Prompts};
use deepzero_sequence::tasks::given_or_lines;
use deepzero_sequence::tasks::tag::{self, TagSpec};
use deepzero_sequence::tasks::translate::{self, TranslateSpec};
use deepzero_train::RunSettings;
use deepzero_train::lr_find::LrFindConfig;

use super::{device, print_items, print_json, read_some_texts};
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// The texts of `predict`: its arguments, else the lines of `--input` or standard input.
fn texts(args: &PredictArgs, what: &str) -> Result<Vec<String>, CliError> {
    read_some_texts(&args.inputs, args.input.as_deref(), what)
}

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
        let texts = texts(args, "text")?;
        print_items(&predictor.predict(&texts)?, args.json);
        Ok(())
    }
}

/// A named-entity tagger.
pub struct TagTask(pub TagSpec);

impl RecipeTask for TagTask {
    fn family(&self) -> Family {
        Family::Tagging
    }

    fn train(&self, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        tag::train(&self.0, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        tag::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// One line per input line, entities bracketed: `[王伟]PER在[上海]LOC`.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let device = device(args.backend.as_deref())?;
        let predictor = tag::Predictor::load(run, Some(recipe.name), &device)?;
        let tagged = predictor.tag(&given_or_lines(&args.inputs, args.input.as_deref())?)?;
        if let Some(warning) = tag::long_lines_warning(&tagged, predictor.max_len()) {
            eprintln!("warning: {warning}");
        }
        print_items(&tagged, args.json);
        Ok(())
    }
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
        let lines = texts(args, "sentence")?;
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
        let prompts = gather_prompts("predict", &args.generate, &args.inputs, input)?;
        let device = device(args.backend.as_deref())?;
        let predictor = generate::Predictor::load(run, Some(recipe.name), &device)?;
        let continuations = predictor.generate(&prompts.texts, &args.generate.sample)?;
        print_continuations(prompts, continuations, args.json);
        Ok(())
    }
}

/// The prompts of `--prompt` and the arguments, or else one per line of `--input` (standard
/// input without it); `command` names the command in the error for none at all.
pub(crate) fn gather_prompts(
    command: &str,
    options: &PromptOptions,
    arguments: &[String],
    input: Option<&Path>,
) -> Result<Prompts, CliError> {
    let prompts = options.prompts(arguments, input)?;
    if prompts.texts.is_empty() {
        return Err(CliError::Usage(format!(
            "{command} needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)"
        )));
    }
    Ok(prompts)
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
