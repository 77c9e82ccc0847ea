//! The pre-train-then-fine-tune recipes ([`deepzero_sequence::pretrain`]): `en-bert-pretrain`,
//! `zh-bert-pretrain` (train only), the classifiers `bbc-bert`, `chinese-sentiment-bert` and the
//! taggers `peoples-daily-bert-ner`, `wnut17-bert-ner` (`train` from scratch, `finetune --from
//! RUN`, `eval`, `predict`).

use std::path::Path;

use deepzero_sequence::pretrain::finetune::{self, FinetuneMode, FinetuneSpec};
use deepzero_sequence::pretrain::{self, BertNerSpec, PretrainSpec, ner};
use deepzero_sequence::tasks::{some_texts, tag};
use deepzero_train::RunSettings;
use deepzero_vision::tasks::finetune::Strategy;

use super::{device, finetune_settings, print_items};
use crate::args::{Family, FinetuneArgs, PredictArgs, TrainArgs};
use crate::error::CliError;
use crate::recipe::{Recipe, RecipeTask};

/// A masked-language-model pre-training recipe.
pub struct PretrainTask(pub PretrainSpec);

impl RecipeTask for PretrainTask {
    fn family(&self) -> Family {
        Family::Text
    }

    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        pretrain::train(&args.text.pretrain(&self.0), settings)?;
        Ok(())
    }

    fn eval(&self, _: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        Err(CliError::Usage(format!(
            "{} has no test split: its validation MLM loss is in RUN/metrics.json; evaluate a fine-tuned run (bbc-bert, chinese-sentiment-bert)",
            settings.name
        )))
    }

    fn predict(&self, recipe: &Recipe, _: &Path, _: &PredictArgs) -> Result<(), CliError> {
        Err(CliError::Usage(format!(
            "{} pre-trains an encoder; fine-tune it (deepzero finetune bbc-bert --from RUN) to predict",
            recipe.name
        )))
    }
}

/// A classifier on a BERT-style encoder.
pub struct BertClassifyTask(pub FinetuneSpec);

impl RecipeTask for BertClassifyTask {
    fn family(&self) -> Family {
        Family::Text
    }

    /// From scratch: a random encoder of the pre-training shape.
    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        finetune::train(&args.text.finetune(&self.0), settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        finetune::evaluate_run(run, settings)?;
        Ok(())
    }

    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let device = device(args.backend.as_deref())?;
        let predictor = finetune::Predictor::load(run, Some(recipe.name), &device)?;
        let texts = some_texts(&args.inputs, args.input.as_deref(), "text")?;
        print_items(&predictor.predict(&texts)?, args.json);
        Ok(())
    }

    /// `--from RUN`: full fine-tuning, `--freeze backbone` (frozen encoder) or `--lora R`.
    fn finetune(&self, recipe: &Recipe, args: &FinetuneArgs) -> Result<(), CliError> {
        let spec = FinetuneSpec {
            from: Some(args.from.clone()),
            mode: mode(recipe, args, "class")?,
            ..args.train.text.finetune(&self.0)
        };
        // Name the option in what is wrong with the run to start from.
        finetune::check_pretrained(&args.from, &spec, args.train.seed)
            .map_err(|e| CliError::Usage(format!("--from {e}")))?;
        finetune::train(&spec, &finetune_settings(recipe, args)?)?;
        Ok(())
    }
}

/// What `--freeze backbone`, `--lora R` (or neither: full fine-tuning) ask of a BERT recipe,
/// once its options are checked (`--classes` is refused: the head has one output per `each`
/// of the corpus).
fn mode(recipe: &Recipe, args: &FinetuneArgs, each: &str) -> Result<FinetuneMode, CliError> {
    recipe.validate(&args.train)?;
    if args.classes.is_some() {
        return Err(CliError::Usage(format!(
            "--classes does not apply to {}: the head has one output per {each} of the corpus",
            recipe.name
        )));
    }
    Ok(match args.strategy()? {
        Strategy::Full => FinetuneMode::Full,
        Strategy::LinearProbe => FinetuneMode::Frozen,
        Strategy::Lora { rank, alpha } => FinetuneMode::Lora { rank, alpha },
        Strategy::GradualUnfreeze { .. } => {
            return Err(CliError::Usage(format!(
                "--unfreeze-after is not available for {}",
                recipe.name
            )));
        }
    })
}

/// A named-entity tagger on a BERT-style encoder.
pub struct BertTagTask(pub BertNerSpec);

impl RecipeTask for BertTagTask {
    fn family(&self) -> Family {
        Family::Text
    }

    /// From scratch: a random encoder of the pre-training shape.
    fn train(&self, args: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        ner::train(&args.text.bert_ner(&self.0), settings)?;
        Ok(())
    }

    fn eval(&self, run: &Path, _: &TrainArgs, settings: &RunSettings) -> Result<(), CliError> {
        ner::evaluate_run(run, settings)?;
        Ok(())
    }

    /// One line per input line, entities bracketed: `[王伟]PER在[上海]LOC`.
    fn predict(&self, recipe: &Recipe, run: &Path, args: &PredictArgs) -> Result<(), CliError> {
        let device = device(args.backend.as_deref())?;
        let predictor = ner::Predictor::load(run, Some(recipe.name), &device)?;
        let lines = some_texts(&args.inputs, args.input.as_deref(), "sentence")?;
        let tagged: Vec<tag::TaggedLine> = predictor.tag(&lines)?;
        print_items(&tagged, args.json);
        Ok(())
    }

    /// `--from RUN`: full fine-tuning, `--freeze backbone` (frozen encoder) or `--lora R`.
    fn finetune(&self, recipe: &Recipe, args: &FinetuneArgs) -> Result<(), CliError> {
        let spec = BertNerSpec {
            from: Some(args.from.clone()),
            mode: mode(recipe, args, "tag")?,
            ..args.train.text.bert_ner(&self.0)
        };
        // Name the option in what is wrong with the run to start from.
        finetune::check_language(&args.from, spec.language(), recipe.name)
            .map_err(|e| CliError::Usage(format!("--from {e}")))?;
        ner::train(&spec, &finetune_settings(recipe, args)?)?;
        Ok(())
    }
}
