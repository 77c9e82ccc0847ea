//! `deepzero finetune`: adapt a trained run to a new task (seed chapter 3.1, 微调).
//!
//! ```text
//! deepzero finetune fashion-cnn --from runs/pretrain --classes-subset 5,6,7,8,9 --per-class 10 \
//!     --freeze backbone                       # linear probe
//! deepzero finetune fashion-cnn --from runs/pretrain ... --lora 4          # LoRA on fc1 + new head
//! deepzero finetune fashion-cnn --from runs/pretrain ... --freeze backbone \
//!     --unfreeze-after 10 --unfreeze-lr-factor 0.1                          # probe, then everything
//! ```
//! The source run's weights are loaded, the head is replaced for the new classes
//! ([`deepzero_vision::finetune`]), and the shared loop ([`deepzero_train::fit_with`]) trains the
//! result. The output is an ordinary run folder (`run.json`, `model.bpk`, `metrics.json`,
//! `metrics.csv`, `curves.png`, checkpoints), so `deepzero eval` and `deepzero predict` work on
//! it; LoRA adapters are merged into the weights before `model.bpk` is written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use deepzero_data::{Augmented, ImageBatcher, Subset, stratified_split};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::{read_json, write_json_atomic};
use deepzero_train::{BatchSource, DatasetBatches, FitHooks, RunDir, evaluate, fit_with};
use deepzero_vision::finetune::{
    apply_lora, backbone_group, freeze_backbone, head_paths, lora_targets, merge_lora,
    replace_head, trainable_values, unfreeze_backbone,
};
use serde_json::json;

use crate::image_task::{RunInfo, classification_report, model_file, recipe_data};
use crate::recipes::{Recipe, RecipeKind};
use crate::{Backend, CliError, TrainArgs, recipes};

/// Which part of the pre-trained model to freeze.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Freeze {
    /// Everything but the new head (a linear probe).
    Backbone,
    /// Nothing: full fine-tuning.
    #[value(name = "none")]
    Nothing,
}

/// The options of `deepzero finetune`.
#[derive(Clone, Debug, clap::Args)]
pub struct FinetuneArgs {
    /// The trained run to start from: a run folder (run.json + model.bpk), or a checkpoint
    /// folder or .bpk file inside one (e.g. RUN/checkpoints/best).
    #[arg(long, value_name = "WEIGHTS_OR_CHECKPOINT")]
    pub from: PathBuf,
    /// `backbone`: train only the new head (linear probe); `none` (default): train everything.
    #[arg(long, value_enum)]
    pub freeze: Option<Freeze>,
    /// Classes of the new head (default: the classes of the data, which it must match).
    #[arg(long)]
    pub classes: Option<usize>,
    /// LoRA adapters of this rank on the backbone's linear layers (burn 0.22.1 adapts only
    /// linear weights, not convolutions); the rest of the backbone is frozen.
    #[arg(long, value_name = "RANK")]
    pub lora: Option<usize>,
    /// LoRA scale numerator: adapters add (alpha / rank)·A·B (default 2 × rank).
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// With --freeze backbone: unfreeze the backbone after this many epochs.
    #[arg(long, value_name = "EPOCHS")]
    pub unfreeze_after: Option<usize>,
    /// After unfreezing, the backbone trains at this factor × the learning rate (the head
    /// keeps the full rate) [default: 0.1].
    #[arg(long, value_name = "F")]
    pub unfreeze_lr_factor: Option<f64>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// What is trained, as recorded in `metrics.json` and the run's identity.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Everything trains.
    Full,
    /// Only the head trains.
    LinearProbe,
    /// The head for `after` epochs, then everything, the backbone at `factor ×` the rate.
    GradualUnfreeze {
        /// Epochs of head-only training.
        after: usize,
        /// Backbone learning-rate factor once unfrozen.
        factor: f64,
    },
    /// LoRA adapters on the backbone's linear layers, plus the head.
    Lora {
        /// Adapter rank.
        rank: usize,
        /// Scale numerator.
        alpha: f64,
    },
}

impl Strategy {
    /// Short name (`full`, `linear-probe`, `unfreeze`, `lora`).
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Full => "full",
            Strategy::LinearProbe => "linear-probe",
            Strategy::GradualUnfreeze { .. } => "unfreeze",
            Strategy::Lora { .. } => "lora",
        }
    }

    fn describe(&self) -> String {
        match self {
            Strategy::Full => "full fine-tuning".into(),
            Strategy::LinearProbe => "linear probe (frozen backbone)".into(),
            Strategy::GradualUnfreeze { after, factor } => format!(
                "linear probe for {after} epochs, then full fine-tuning (backbone lr × {factor})"
            ),
            Strategy::Lora { rank, alpha } => format!("LoRA rank {rank}, alpha {alpha}"),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Strategy::GradualUnfreeze { after, factor } => {
                json!({"name": self.name(), "unfreeze_after": after, "unfreeze_lr_factor": factor})
            }
            Strategy::Lora { rank, alpha } => {
                json!({"name": self.name(), "rank": rank, "alpha": alpha})
            }
            _ => json!({"name": self.name()}),
        }
    }
}

impl FinetuneArgs {
    /// Checks the combination of options and returns the strategy they ask for.
    pub fn strategy(&self, epochs: usize) -> Result<Strategy, CliError> {
        let usage = |m: &str| Err(CliError::Usage(m.to_string()));
        if self.lora_alpha.is_some() && self.lora.is_none() {
            return usage("--lora-alpha needs --lora RANK");
        }
        if self.unfreeze_lr_factor.is_some() && self.unfreeze_after.is_none() {
            return usage("--unfreeze-lr-factor needs --unfreeze-after EPOCHS");
        }
        if let Some(rank) = self.lora {
            if rank == 0 {
                return usage("--lora RANK must be at least 1");
            }
            if self.freeze == Some(Freeze::Nothing) {
                return usage("--lora trains adapters on a frozen backbone; drop --freeze none");
            }
            if self.unfreeze_after.is_some() {
                return usage("--unfreeze-after cannot be combined with --lora");
            }
            let alpha = self.lora_alpha.unwrap_or(2.0 * rank as f64);
            if !(alpha.is_finite() && alpha > 0.0) {
                return usage("--lora-alpha must be a positive number");
            }
            return Ok(Strategy::Lora { rank, alpha });
        }
        if let Some(after) = self.unfreeze_after {
            if self.freeze != Some(Freeze::Backbone) {
                return usage("--unfreeze-after needs --freeze backbone");
            }
            if after == 0 || after >= epochs {
                return Err(CliError::Usage(format!(
                    "--unfreeze-after must be between 1 and the number of epochs - 1 ({})",
                    epochs.saturating_sub(1)
                )));
            }
            let factor = self.unfreeze_lr_factor.unwrap_or(0.1);
            if !(factor.is_finite() && factor > 0.0) {
                return usage("--unfreeze-lr-factor must be a positive number");
            }
            return Ok(Strategy::GradualUnfreeze { after, factor });
        }
        Ok(match self.freeze {
            Some(Freeze::Backbone) => Strategy::LinearProbe,
            _ => Strategy::Full,
        })
    }
}

/// A trained run to start from.
#[derive(Clone, Debug)]
pub struct Pretrained {
    /// Its run folder (the one holding `run.json`).
    pub dir: PathBuf,
    /// What `run.json` says about it.
    pub info: RunInfo,
    /// The weights file.
    pub weights: PathBuf,
}

/// Finds the run behind `--from`: a run folder, a checkpoint folder inside one
/// (`RUN/checkpoints/epoch-0003`, `RUN/checkpoints/best`) or a `.bpk` file inside one.
pub fn locate(from: &Path) -> Result<Pretrained, CliError> {
    if !from.exists() {
        return Err(CliError::Usage(format!(
            "--from {}: no such run folder or weights file",
            from.display()
        )));
    }
    let (weights, start) = if from.is_file() {
        (from.to_path_buf(), from.parent().unwrap_or(Path::new(".")))
    } else if from.join("run.json").is_file() {
        (model_file(from)?, from)
    } else if from.join("model.bpk").is_file() {
        (from.join("model.bpk"), from)
    } else {
        return Err(CliError::Usage(format!(
            "--from {} is not a deepzero run folder (no run.json, no model.bpk)",
            from.display()
        )));
    };
    // run.json sits in the run folder: up to two levels above a checkpoint's model.bpk.
    let dir = start
        .ancestors()
        .take(3)
        .find(|d| d.join("run.json").is_file())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--from {}: no run.json in it or its run folder, so its architecture is unknown",
                from.display()
            ))
        })?
        .to_path_buf();
    let info: RunInfo = read_json(&dir.join("run.json")).map_err(|e| {
        CliError::Usage(format!(
            "--from {}: unreadable run.json: {}",
            from.display(),
            first_line(&e.to_string())
        ))
    })?;
    Ok(Pretrained { dir, info, weights })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// `deepzero finetune RECIPE --from RUN ...`
pub fn finetune(recipe_name: &str, args: &FinetuneArgs) -> Result<(), CliError> {
    let recipe = recipes::find(recipe_name)?;
    args.train.validate()?;
    if !matches!(
        recipe.kind,
        RecipeKind::Idx { .. } | RecipeKind::ImageFolder | RecipeKind::ImageNet
    ) {
        return Err(CliError::Usage(format!(
            "finetune adapts image classifiers; `{}` is not an image recipe",
            recipe.name
        )));
    }
    let config = args.train.fit_config(&recipe);
    let strategy = args.strategy(config.epochs)?;
    let backend = Backend::resolve(args.train.backend.as_deref())?;
    let device = backend.device()?;
    let source = locate(&args.from)?;
    run(&recipe, args, &strategy, &source, backend, &device)
}

fn run(
    recipe: &Recipe,
    args: &FinetuneArgs,
    strategy: &Strategy,
    source: &Pretrained,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let (train, test, data_source, recipe_arch, augment) = recipe_data(recipe, &args.train)?;
    let arch = source.info.arch;
    // The image-folder recipe classifies any tree with any architecture; the others name theirs.
    if !matches!(recipe.kind, RecipeKind::ImageFolder) && arch != recipe_arch {
        return Err(CliError::Usage(format!(
            "--from {} holds a {} model, but recipe `{}` trains {}",
            args.from.display(),
            arch.name(),
            recipe.name,
            recipe_arch.name()
        )));
    }
    if train.shape() != source.info.input_shape {
        return Err(CliError::Usage(format!(
            "--from {} was trained on {:?} images, the data in {data_source} are {:?}",
            args.from.display(),
            source.info.input_shape,
            train.shape()
        )));
    }
    let classes = train.num_classes();
    if let Some(n) = args.classes
        && n != classes
    {
        return Err(CliError::Usage(format!(
            "--classes {n} does not match the data, which has {classes} classes (choose them with --classes-subset)"
        )));
    }
    let out = args
        .train
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-finetune", recipe.name)));
    if same_folder(&out, &source.dir) {
        return Err(CliError::Usage(format!(
            "--out {} is the run being fine-tuned; choose another folder",
            out.display()
        )));
    }

    // The backbone was trained on images normalised with the source run's statistics.
    let batcher = ImageBatcher::new(source.info.mean.clone(), source.info.std.clone());
    let mut info = source.info.clone();
    info.recipe = recipe.name.to_string();
    info.class_names = train.class_names().to_vec();
    info.data = data_source.clone();

    // The pre-trained model with a new head, prepared for the strategy.
    let train_device = device.clone().autodiff();
    train_device.seed(args.train.seed);
    let pretrained = arch.build(
        source.info.input_shape,
        source.info.class_names.len(),
        &train_device,
    );
    let pretrained = load_model(pretrained, &source.weights).map_err(|e| {
        CliError::Usage(format!(
            "--from {}: {}",
            args.from.display(),
            first_line(&e.to_string())
        ))
    })?;
    let total_values = pretrained.num_params();
    let model = replace_head(pretrained, classes, &train_device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let head = head_paths(&model);
    let lora_layers = if matches!(strategy, Strategy::Lora { .. }) {
        lora_targets(&model)
    } else {
        Vec::new()
    };
    let model = match strategy {
        Strategy::Full => model,
        Strategy::LinearProbe | Strategy::GradualUnfreeze { .. } => freeze_backbone(model),
        Strategy::Lora { rank, alpha } => {
            apply_lora(model, *rank, *alpha).map_err(|e| CliError::Usage(e.to_string()))?
        }
    };
    let trainable = trainable_values(&model);

    let identity = json!({
        "recipe": recipe.name,
        "arch": arch,
        "input_shape": info.input_shape,
        "classes": classes,
        "finetune": {
            "from": source.weights.display().to_string(),
            "strategy": strategy.to_json(),
        },
    });
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    write_json_atomic(&out.join("run.json"), &info)?;

    let labels: Vec<usize> = train.labels().to_vec();
    let (train_idx, valid_idx) =
        stratified_split(&labels, args.train.valid_fraction, args.train.seed);
    let full = Arc::new(train);
    let train_set = Arc::new(Augmented::new(
        Subset::new(full.clone(), train_idx),
        augment,
        args.train.seed,
    ));
    let valid_set = Subset::new(full, valid_idx);
    let hook_set = train_set.clone();
    let train_source = DatasetBatches::new(train_set, batcher.clone())
        .with_epoch_hook(move |epoch| hook_set.set_epoch(epoch));
    let valid_source = DatasetBatches::new(valid_set, batcher.clone());
    let test_source = DatasetBatches::new(test, batcher);

    let config = args.train.fit_config(recipe);
    println!(
        "{}: fine-tuning {} from {} with {}: {} of {} values train; {} classes on {} ({} train / {} valid / {} test), backend {backend}, {} epochs, batch {}, {} lr {} ({}), out {}",
        recipe.name,
        arch.name(),
        source.weights.display(),
        strategy.describe(),
        trainable,
        total_values,
        classes,
        data_source,
        train_source.len(),
        valid_source.len(),
        test_source.len(),
        config.epochs,
        config.batch_size,
        config.optimizer,
        config.learning_rate,
        config.schedule,
        out.display()
    );

    let mut hooks = FitHooks::default();
    if let Strategy::GradualUnfreeze { after, factor } = *strategy {
        hooks = hooks
            .lr_factor(backbone_group(&model), factor)
            .on_epoch_start(move |epoch, model| {
                if epoch > after {
                    unfreeze_backbone(model)
                } else {
                    model
                }
            });
    }
    let mut progress = args.train.progress();
    let valid = (!valid_source.is_empty()).then_some(&valid_source);
    let outcome = fit_with(
        model,
        &train_source,
        valid,
        &train_device,
        &config,
        &RunDir::new(&out, identity).resume(args.train.resume),
        &mut progress,
        hooks,
    )?;

    let model = outcome.model.valid();
    let model = match strategy {
        Strategy::Lora { .. } => merge_lora(model),
        _ => model,
    };
    save_model(&model, &out.join("model.bpk"))?;
    let valid = match valid {
        Some(v) => {
            let r = evaluate(&model, v, 256, device)?;
            json!({ "accuracy": r.accuracy, "loss": r.loss })
        }
        None => serde_json::Value::Null,
    };
    let test = evaluate(&model, &test_source, 256, device)?;
    let mut test_json = classification_report(&test, classes);
    test_json["accuracy"] = json!(test.accuracy);
    test_json["loss"] = json!(test.loss);
    test_json["examples"] = json!(test.examples);
    println!(
        "test: accuracy {:.2}% loss {:.4} macro-F1 {:.4} (model of epoch {}) -> {}",
        test.accuracy * 100.0,
        test.loss,
        test_json["macro_f1"].as_f64().unwrap_or(0.0),
        outcome.model_epoch,
        out.join("metrics.json").display()
    );
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": "3.1",
        "backend": backend.name(),
        "model": arch.name(),
        "parameters": model.num_params(),
        "finetune": {
            "from": source.weights.display().to_string(),
            "from_recipe": source.info.recipe,
            "from_classes": source.info.class_names,
            "strategy": strategy.to_json(),
            "head": head,
            "lora_layers": lora_layers,
            "trainable_values": trainable,
            "pretrained_values": total_values,
        },
        "epochs": outcome.history.len(),
        "model_epoch": outcome.model_epoch,
        "stopped_early": outcome.stopped_early,
        "resumed_after": outcome.resumed_after,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "optimizer": config.optimizer.to_string(),
        "schedule": config.schedule.to_string(),
        "weight_decay": config.weight_decay,
        "seed": args.train.seed,
        "data": {
            "source": data_source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
        },
        "train_seconds": outcome.train_seconds,
        "train_samples_per_second": outcome.samples_per_second(),
        "valid": valid,
        "test": test_json,
        "history": outcome.history,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

/// Whether two paths name the same folder (when both exist).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: FinetuneArgs,
    }

    fn parse(extra: &[&str]) -> FinetuneArgs {
        let mut argv = vec!["deepzero", "--from", "runs/x"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn options_map_to_strategies() {
        assert_eq!(parse(&[]).strategy(10).unwrap(), Strategy::Full);
        assert_eq!(
            parse(&["--freeze", "none"]).strategy(10).unwrap(),
            Strategy::Full
        );
        assert_eq!(
            parse(&["--freeze", "backbone"]).strategy(10).unwrap(),
            Strategy::LinearProbe
        );
        assert_eq!(
            parse(&["--lora", "4"]).strategy(10).unwrap(),
            Strategy::Lora {
                rank: 4,
                alpha: 8.0
            }
        );
        assert_eq!(
            parse(&["--freeze", "backbone", "--unfreeze-after", "3"])
                .strategy(10)
                .unwrap(),
            Strategy::GradualUnfreeze {
                after: 3,
                factor: 0.1
            }
        );
        let args = parse(&["--classes-subset", "5,6,7", "--per-class", "10"]);
        assert_eq!(args.train.classes_subset, Some(vec![5, 6, 7]));
        assert_eq!(args.train.per_class, Some(10));
    }

    #[test]
    fn impossible_combinations_are_usage_errors() {
        for (extra, needle) in [
            (vec!["--lora", "0"], "at least 1"),
            (vec!["--lora", "2", "--freeze", "none"], "frozen backbone"),
            (vec!["--lora-alpha", "2"], "needs --lora"),
            (vec!["--unfreeze-after", "2"], "needs --freeze backbone"),
            (
                vec!["--freeze", "backbone", "--unfreeze-after", "10"],
                "between 1 and",
            ),
            (
                vec!["--unfreeze-lr-factor", "0.5"],
                "needs --unfreeze-after",
            ),
            (
                vec![
                    "--freeze",
                    "backbone",
                    "--unfreeze-after",
                    "2",
                    "--unfreeze-lr-factor",
                    "0",
                ],
                "positive",
            ),
        ] {
            let err = parse(&extra).strategy(10).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra:?}: {err}");
        }
    }

    #[test]
    fn missing_or_foreign_from_folders_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("no such run folder"), "{err}");
        let err = locate(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a deepzero run folder"), "{err}");
        // A checkpoint's model.bpk finds run.json two levels up.
        let ckpt = dir.path().join("checkpoints/epoch-0002");
        std::fs::create_dir_all(&ckpt).unwrap();
        std::fs::write(ckpt.join("model.bpk"), b"").unwrap();
        let err = locate(&ckpt).unwrap_err().to_string();
        assert!(err.contains("no run.json"), "{err}");
        let info = json!({
            "recipe": "fashion-cnn",
            "arch": "small-cnn",
            "input_shape": [1, 28, 28],
            "class_names": ["a", "b"],
            "mean": [0.5],
            "std": [0.25],
            "data": "test",
        });
        write_json_atomic(&dir.path().join("run.json"), &info).unwrap();
        let found = locate(&ckpt).unwrap();
        assert_eq!(found.dir, dir.path());
        assert_eq!(found.weights, ckpt.join("model.bpk"));
        let found = locate(&ckpt.join("model.bpk")).unwrap();
        assert_eq!(found.info.class_names.len(), 2);
        assert_eq!(err.lines().count(), 1);
    }
}
