//! The text recipes ([`deepzero_sequence::tasks`]): document classification, named-entity
//! tagging, translation and character language models.

use std::path::Path;

use deepzero_sequence::tasks::classify::{self, ClassifySpec};
use deepzero_sequence::tasks::generate::{self, GenerateSpec, Prompts, SampleOptions};
use deepzero_sequence::tasks::tag::{self, TagSpec};
use deepzero_sequence::tasks::translate::{self, TranslateSpec};
use deepzero_sequence::tasks::{TextEncoderKind, read_lines};
use deepzero_train::RunSettings;
use deepzero_train::lr_find::LrFindConfig;

use super::{device, print_items, print_json, read_some_texts, read_texts};
use crate::args::{Family, GenerateArgs, PredictArgs, TrainArgs};
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
        let (t, d) = (&args.text, &self.0);
        if t.ngrams.is_some_and(|n| n > 1) && d.encoder != TextEncoderKind::Bag {
            return Err(CliError::Usage(format!(
                "--ngrams applies to the bag-of-n-grams recipes (bbc-fasttext, chinese-sentiment-fasttext), not to {name}, which reads tokens in order"
            )));
        }
        Ok(ClassifySpec {
            max_len: t.max_len.unwrap_or(d.max_len),
            dropout: t.dropout.unwrap_or(d.dropout),
            word_dropout: t.word_dropout.unwrap_or(d.word_dropout),
            min_freq: t.min_freq.unwrap_or(d.min_freq),
            ngrams: t.ngrams.unwrap_or(d.ngrams),
            embeddings_from: t.embeddings_from.clone(),
            keep_duplicates: t.keep_duplicates,
            strip_headers: t.strip_headers,
            ..d.clone()
        })
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
        let tagged = predictor.tag(&read_texts(&args.inputs, args.input.as_deref())?)?;
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
        let spec = TranslateSpec {
            max_len: args.text.max_len.unwrap_or(self.0.max_len),
            // A schedule given on the command line is taken as it is.
            warmup_steps: self.0.warmup_steps.filter(|_| args.schedule.is_none()),
            ..self.0.clone()
        };
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
        let options = args.translate.decode_options()?;
        let device = device(args.backend.as_deref())?;
        let predictor = translate::Predictor::load(run, Some(recipe.name), &device)?;
        let translations = predictor.translate(&lines, &options)?;
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
        let spec = GenerateSpec {
            block_size: args.text.max_len.unwrap_or(self.0.block_size),
            steps_per_epoch: args.lm.steps_per_epoch.unwrap_or(self.0.steps_per_epoch),
            ..self.0.clone()
        };
        generate::train(&spec, settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        generate::evaluate_run(&self.0, run, settings)?;
        Ok(())
    }

    /// Prompts from `--prompt` and the arguments (printed with their continuation), or one per
    /// line of `--input` / standard input (the continuation only, newlines escaped as `\n`).
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let prompts = gather_prompts(
            "predict",
            &args.generate,
            &args.inputs,
            args.input.as_deref(),
        )?;
        let continue_with = |prompts: &[String], options: &SampleOptions| {
            let device = device(args.backend.as_deref())?;
            let predictor = generate::Predictor::load(run, Some(recipe.name), &device)?;
            Ok(predictor.generate(prompts, options)?)
        };
        print_continuations(prompts, &args.generate, args.json, continue_with)
    }
}

/// The prompts of `--prompt` and the arguments, or else one per line of `--input` (standard
/// input without it); `command` names the command in the error for none at all.
pub(crate) fn gather_prompts(
    command: &str,
    options: &GenerateArgs,
    arguments: &[String],
    input: Option<&Path>,
) -> Result<Prompts, CliError> {
    let given: Vec<String> = options.prompt.iter().chain(arguments).cloned().collect();
    let prompts = match (input, given.is_empty()) {
        (Some(_), false) => {
            return Err(CliError::Usage(
                "give prompts either with --prompt / as arguments or with --input, not both".into(),
            ));
        }
        (input, true) => Prompts::from_lines(&read_lines(input)?),
        (None, false) => Prompts::given(given),
    };
    if prompts.texts.is_empty() {
        return Err(CliError::Usage(format!(
            "{command} needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)"
        )));
    }
    Ok(prompts)
}

/// Continues `prompts` with `continue_with` as `options` say and prints the continuations
/// (JSON with `json`); an error names the sampling options by their flags.
pub(crate) fn print_continuations(
    prompts: Prompts,
    options: &GenerateArgs,
    json: bool,
    continue_with: impl FnOnce(&[String], &SampleOptions) -> Result<Vec<String>, CliError>,
) -> Result<(), CliError> {
    let continuations = continue_with(&prompts.texts, &options.sample_options()).map_err(|e| {
        let message = e.to_string().replace("top-k", "--top-k");
        CliError::Usage(message.replace("top-p", "--top-p"))
    })?;
    let generations = prompts.with_continuations(continuations);
    if json {
        print_json(&generations);
    } else {
        print!("{generations}");
    }
    Ok(())
}
