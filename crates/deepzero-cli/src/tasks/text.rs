//! The text recipes ([`deepzero_sequence::tasks`]): document classification, named-entity
//! tagging, translation and character language models.

use std::path::Path;

use deepzero_sequence::tasks::TextEncoderKind;
use deepzero_sequence::tasks::classify::{self, ClassifySpec};
use deepzero_sequence::tasks::generate::{self, GenerateSpec, SampleOptions, escape, unescape};
use deepzero_sequence::tasks::tag::{self, TagSpec, truncated_lines};
use deepzero_sequence::tasks::translate::{self, DecodeOptions, TranslateSpec};
use deepzero_train::RunSettings;
use deepzero_train::device::Backend;
use serde::Serialize;

use super::{TextInput, print_json};
use crate::args::{Family, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

fn device(args: &PredictArgs) -> Result<burn::prelude::Device, CliError> {
    Ok(Backend::resolve(args.backend.as_deref())?.device()?)
}

fn text_input(args: &PredictArgs) -> Result<TextInput, CliError> {
    TextInput::from_args(&args.inputs, args.input.as_deref())
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

    /// One `label<TAB>probability` line per text (or a JSON array with `--json`).
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let predictor = classify::Predictor::load(run, Some(recipe.name), &device(args)?)?;
        let texts = text_input(args)?.read_some("text")?;
        let predictions = predictor.predict(&texts)?;
        if args.json {
            print_json(&predictions);
        } else {
            for p in &predictions {
                println!("{}\t{:.4}", p.label, p.probability);
            }
        }
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
        let predictor = tag::Predictor::load(run, Some(recipe.name), &device(args)?)?;
        let lines = text_input(args)?.read()?;
        let tagged = predictor.tag(&lines)?;
        let long = truncated_lines(&tagged);
        if long > 0 {
            eprintln!(
                "warning: {long} input line(s) longer than {} tokens: the rest is tagged O",
                predictor.max_len()
            );
        }
        if args.json {
            print_json(&tagged);
        } else {
            for line in &tagged {
                println!("{}", line.rendered);
            }
        }
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
        let lines = text_input(args)?.read_some("sentence")?;
        let t = &args.translate;
        if t.beam == Some(0) {
            return Err(CliError::Usage("--beam must be at least 1".into()));
        }
        let defaults = DecodeOptions::default();
        let options = DecodeOptions {
            beam: t.beam.unwrap_or(defaults.beam),
            greedy: t.greedy,
            length_penalty: t.length_penalty.unwrap_or(defaults.length_penalty),
        };
        let predictor = translate::Predictor::load(run, Some(recipe.name), &device(args)?)?;
        let translations = predictor.translate(&lines, &options)?;
        let long = translations.iter().filter(|t| t.truncated).count();
        if long > 0 {
            eprintln!(
                "warning: {long} input line(s) longer than the model's {} subwords were truncated",
                predictor.max_len()
            );
        }
        if args.json {
            print_json(&translations);
        } else {
            for t in &translations {
                println!("{}", t.translation);
            }
        }
        Ok(())
    }
}

/// A character language model.
pub struct GenerateTask(pub GenerateSpec);

/// One generated continuation (`--json`).
#[derive(Serialize)]
struct Generation<'a> {
    prompt: &'a str,
    continuation: &'a str,
}

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
        let g = &args.generate;
        let mut given: Vec<String> = g.prompt.iter().cloned().collect();
        given.extend(args.inputs.iter().cloned());
        let (prompts, per_line) = match (&args.input, given.is_empty()) {
            (Some(path), true) => (TextInput::File(path.clone()).read()?, true),
            (Some(_), false) => {
                return Err(CliError::Usage(
                    "give prompts either with --prompt / as arguments or with --input, not both"
                        .into(),
                ));
            }
            (None, true) => (TextInput::Stdin.read()?, true),
            (None, false) => (given, false),
        };
        let prompts: Vec<String> = if per_line {
            prompts.iter().map(|l| unescape(l)).collect()
        } else {
            prompts
        };
        if prompts.is_empty() {
            return Err(CliError::Usage(
                "predict needs at least one prompt (--prompt TEXT, --input FILE, or lines on standard input)".into(),
            ));
        }
        let options = SampleOptions {
            max_new_tokens: g.max_new_tokens,
            temperature: g.temperature,
            top_k: g.top_k,
            top_p: g.top_p,
            seed: g.sample_seed,
        };
        let predictor = generate::Predictor::load(run, Some(recipe.name), &device(args)?)?;
        let continuations = predictor.generate(&prompts, &options).map_err(|e| {
            CliError::Usage(
                e.to_string()
                    .replace("top-k", "--top-k")
                    .replace("top-p", "--top-p"),
            )
        })?;
        if args.json {
            let generations: Vec<Generation> = prompts
                .iter()
                .zip(&continuations)
                .map(|(prompt, continuation)| Generation {
                    prompt,
                    continuation,
                })
                .collect();
            print_json(&generations);
            return Ok(());
        }
        for (i, (prompt, continuation)) in prompts.iter().zip(&continuations).enumerate() {
            if per_line {
                println!("{}", escape(continuation));
            } else {
                if i > 0 {
                    println!("---------------");
                }
                println!("{prompt}{continuation}");
            }
        }
        Ok(())
    }
}
