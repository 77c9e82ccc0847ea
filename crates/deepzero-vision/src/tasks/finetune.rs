//! Fine-tuning (seed chapter 3.1, 微调): adapt a trained image classifier to a new task.
//!
//! The source run's weights are loaded, the head is replaced for the new classes
//! ([`crate::finetune`]), and the shared loop ([`deepzero_train::fit_with`]) trains the result
//! with one of four [`Strategy`]s. The output is an ordinary run folder (`run.json`,
//! `model.bpk`, `metrics.json`, `metrics.csv`, `curves.png`, checkpoints), so
//! [`super::classify::evaluate_run`] and [`super::classify::Predictor`] work on it; LoRA
//! adapters are merged into the weights before `model.bpk` is written.
//!
//! ```no_run
//! use deepzero_data::IdxCorpus;
//! use deepzero_vision::Architecture;
//! use deepzero_vision::tasks::classify::ImageSpec;
//! use deepzero_vision::tasks::finetune::{self, FinetuneSpec, Strategy};
//! use deepzero_train::RunSettings;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let mut data = ImageSpec::idx(IdxCorpus::FashionMnist, Architecture::SmallCnn);
//! data.classes_subset = Some(vec![5, 6, 7, 8, 9]);
//! data.per_class = Some(10);
//! let spec = FinetuneSpec::new(data, "runs/pretrained", Strategy::LinearProbe);
//! finetune::finetune(&spec, &RunSettings::new("fashion-cnn", "runs/probe"))?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_data::ImageBatcher;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::read_json;
use deepzero_train::{
    BatchSource, FitHooks, RunReport, RunSettings, TaskError, evaluate, fit_with, model_file,
};
use serde_json::json;

use super::classify::{
    ImageData, ImageRunInfo, ImageSpec, Preprocess, RUN_VERSION, load_images, run_line,
};
use crate::finetune::{
    apply_lora, backbone_group, freeze_backbone, head_paths, lora_targets, merge_lora,
    replace_head, trainable_values, unfreeze_backbone,
};

/// What is trained.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Everything trains.
    Full,
    /// Only the head trains.
    LinearProbe,
    /// The head for `after` epochs, then everything, the backbone at `factor ×` the rate.
    GradualUnfreeze {
        /// Epochs of head-only training (1 ..= epochs − 1).
        after: usize,
        /// Backbone learning-rate factor once unfrozen.
        factor: f64,
    },
    /// LoRA adapters on the backbone's linear layers (burn 0.22.1 adapts only linear weights,
    /// not convolutions), plus the head; the rest of the backbone is frozen.
    Lora {
        /// Adapter rank.
        rank: usize,
        /// Scale numerator: adapters add (alpha / rank)·A·B.
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

    /// Checks the strategy against a run of `epochs` epochs.
    pub fn validate(&self, epochs: usize) -> Result<(), TaskError> {
        match *self {
            Strategy::Lora { rank, alpha } => {
                if rank == 0 {
                    return Err(TaskError::invalid("the LoRA rank must be at least 1"));
                }
                if !(alpha.is_finite() && alpha > 0.0) {
                    return Err(TaskError::invalid(
                        "the LoRA alpha must be a positive number",
                    ));
                }
            }
            Strategy::GradualUnfreeze { after, factor } => {
                if after == 0 || after >= epochs {
                    return Err(TaskError::invalid(format!(
                        "the backbone must unfreeze after between 1 and the number of epochs - 1 ({}) epochs",
                        epochs.saturating_sub(1)
                    )));
                }
                if !(factor.is_finite() && factor > 0.0) {
                    return Err(TaskError::invalid(
                        "the unfrozen backbone's learning-rate factor must be a positive number",
                    ));
                }
            }
            Strategy::Full | Strategy::LinearProbe => {}
        }
        Ok(())
    }
}

/// Which part of the pre-trained model to freeze.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Freeze {
    /// Everything but the new head (a linear probe).
    Backbone,
    /// Nothing: full fine-tuning.
    #[cfg_attr(feature = "clap", value(name = "none"))]
    Nothing,
}

/// A [`Strategy`] as a front end asks for it, one option at a time (with the `clap` feature,
/// the options of `deepzero finetune`); [`StrategyOptions::strategy`] refuses the
/// combinations that make no sense.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StrategyOptions {
    /// `backbone`: train only the new head (linear probe); `none` (default): train everything.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub freeze: Option<Freeze>,
    /// LoRA adapters of this rank on the backbone's linear layers (burn 0.22.1 adapts only
    /// linear weights, not convolutions); the rest of the backbone is frozen.
    #[cfg_attr(feature = "clap", arg(long, value_name = "RANK"))]
    pub lora: Option<usize>,
    /// LoRA scale numerator: adapters add (alpha / rank)·A·B (default 2 × rank).
    #[cfg_attr(feature = "clap", arg(long))]
    pub lora_alpha: Option<f64>,
    /// With --freeze backbone: unfreeze the backbone after this many epochs.
    #[cfg_attr(feature = "clap", arg(long, value_name = "EPOCHS"))]
    pub unfreeze_after: Option<usize>,
    /// After unfreezing, the backbone trains at this factor × the learning rate (the head
    /// keeps the full rate) [default: 0.1].
    #[cfg_attr(feature = "clap", arg(long, value_name = "F"))]
    pub unfreeze_lr_factor: Option<f64>,
}

impl StrategyOptions {
    /// The strategy these options ask for (the numbers themselves are checked by
    /// [`Strategy::validate`]).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a combination that makes no sense, naming the options.
    pub fn strategy(&self) -> Result<Strategy, TaskError> {
        let invalid = |m: &str| Err(TaskError::invalid(m));
        if self.lora_alpha.is_some() && self.lora.is_none() {
            return invalid("--lora-alpha needs --lora RANK");
        }
        if self.unfreeze_lr_factor.is_some() && self.unfreeze_after.is_none() {
            return invalid("--unfreeze-lr-factor needs --unfreeze-after EPOCHS");
        }
        if let Some(rank) = self.lora {
            if rank == 0 {
                return invalid("--lora RANK must be at least 1");
            }
            if self.freeze == Some(Freeze::Nothing) {
                return invalid("--lora trains adapters on a frozen backbone; drop --freeze none");
            }
            if self.unfreeze_after.is_some() {
                return invalid("--unfreeze-after cannot be combined with --lora");
            }
            let alpha = self.lora_alpha.unwrap_or(2.0 * rank as f64);
            return Ok(Strategy::Lora { rank, alpha });
        }
        if let Some(after) = self.unfreeze_after {
            if self.freeze != Some(Freeze::Backbone) {
                return invalid("--unfreeze-after needs --freeze backbone");
            }
            let factor = self.unfreeze_lr_factor.unwrap_or(0.1);
            return Ok(Strategy::GradualUnfreeze { after, factor });
        }
        Ok(match self.freeze {
            Some(Freeze::Backbone) => Strategy::LinearProbe,
            _ => Strategy::Full,
        })
    }
}

/// A fine-tuning run: the new data, the run to start from, and what trains.
#[derive(Clone, Debug)]
pub struct FinetuneSpec {
    /// The new task's data (and, except for image folders, the architecture the source must have).
    pub data: ImageSpec,
    /// The trained run to start from: a run folder, or a checkpoint folder or `.bpk` file in one.
    pub from: PathBuf,
    /// What trains.
    pub strategy: Strategy,
    /// Classes of the new head, when given: must match the data.
    pub classes: Option<usize>,
    /// What to call the source in messages, `metrics.json` and the run's identity when `from`
    /// is a temporary import ([`from_torchvision`]); `None`: `from`'s weights file.
    pub from_label: Option<String>,
}

impl FinetuneSpec {
    /// Fine-tunes the run in `from` on `data` with `strategy`.
    pub fn new(data: ImageSpec, from: impl Into<PathBuf>, strategy: Strategy) -> Self {
        Self {
            data,
            from: from.into(),
            strategy,
            classes: None,
            from_label: None,
        }
    }
}

/// A trained run to start from.
#[derive(Clone, Debug)]
pub struct Pretrained {
    /// Its run folder (the one holding `run.json`).
    pub dir: PathBuf,
    /// What `run.json` says about it.
    pub info: ImageRunInfo,
    /// The weights file.
    pub weights: PathBuf,
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Finds the run behind `from`: a run folder, a checkpoint folder inside one
/// (`RUN/checkpoints/epoch-0003`, `RUN/checkpoints/best`) or a `.bpk` file inside one.
pub fn locate(from: &Path) -> Result<Pretrained, TaskError> {
    if !from.exists() {
        return Err(TaskError::invalid(format!(
            "{}: no such run folder or weights file",
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
        return Err(TaskError::invalid(format!(
            "{} is not a deepzero run folder (no run.json, no model.bpk)",
            from.display()
        )));
    };
    // run.json sits in the run folder: up to two levels above a checkpoint's model.bpk.
    let dir = start
        .ancestors()
        .take(3)
        .find(|d| d.join("run.json").is_file())
        .ok_or_else(|| {
            TaskError::invalid(format!(
                "{}: no run.json in it or its run folder, so its architecture is unknown",
                from.display()
            ))
        })?
        .to_path_buf();
    let info: ImageRunInfo = read_json(&dir.join("run.json")).map_err(|e| {
        TaskError::invalid(format!(
            "{}: unreadable run.json: {}",
            from.display(),
            first_line(&e.to_string())
        ))
    })?;
    Ok(Pretrained { dir, info, weights })
}

/// Whether two paths name the same folder (when both exist).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Fine-tunes as `spec` says into `settings.out`; returns what it wrote to `metrics.json`.
pub fn finetune(spec: &FinetuneSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.data.validate()?;
    settings.validate()?;
    spec.strategy.validate(settings.fit.epochs)?;
    let source = locate(&spec.from)?;
    let from_label = spec
        .from_label
        .clone()
        .unwrap_or_else(|| source.weights.display().to_string());
    // An image folder is read at the pre-trained model's input size and channels unless told.
    let mut data_spec = spec.data.clone();
    if let ImageData::Folder(options) = &mut data_spec.data {
        let [channels, size, _] = source.info.input_shape;
        options.image_size.get_or_insert(size);
        options.channels.get_or_insert(channels);
    }
    let data = load_images(&data_spec, settings)?;
    super::classify::check_image_splits(&data)?;
    let settings = &settings.with_data(&data.file_refs())?;
    let arch = source.info.arch;
    let from = spec.from.display();
    // An image folder is classified with any architecture; the corpora name theirs.
    if !matches!(spec.data.data, ImageData::Folder(_)) && arch != spec.data.arch {
        return Err(TaskError::invalid(format!(
            "{from} holds a {} model, but recipe `{}` trains {}",
            arch.name(),
            settings.name,
            spec.data.arch.name()
        )));
    }
    if data.train.shape() != source.info.input_shape {
        return Err(TaskError::invalid(format!(
            "{from} was trained on {:?} images, the data in {} are {:?}",
            source.info.input_shape,
            data.source,
            data.train.shape()
        )));
    }
    let classes = data.train.num_classes();
    if let Some(n) = spec.classes
        && n != classes
    {
        return Err(TaskError::invalid(format!(
            "a head of {n} classes does not match the data, which has {classes} classes (choose them with a class subset)"
        )));
    }
    if same_folder(&settings.out, &source.dir) {
        return Err(TaskError::invalid(format!(
            "the output folder {} is the run being fine-tuned; choose another folder",
            settings.out.display()
        )));
    }

    // The backbone was trained on images normalised with the source run's statistics.
    let batcher = ImageBatcher::new(source.info.mean.clone(), source.info.std.clone());
    // The training images were resized (not centre-cropped), and so are those predicted.
    let info = ImageRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        class_names: data.train.class_names().to_vec(),
        data: data.source.clone(),
        preprocess: Some(Preprocess::Resize),
        ..source.info.clone()
    };

    // The pre-trained model with a new head, prepared for the strategy.
    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    let pretrained = arch.build(
        source.info.input_shape,
        source.info.class_names.len(),
        &train_device,
    );
    let pretrained = load_model(pretrained, &source.weights)
        .map_err(|e| TaskError::invalid(format!("{from}: {}", first_line(&e.to_string()))))?;
    let total_values = pretrained.num_params();
    let model = replace_head(pretrained, classes, &train_device)
        .map_err(|e| TaskError::invalid(e.to_string()))?;
    let head = head_paths(&model);
    let strategy = &spec.strategy;
    let lora_layers = if matches!(strategy, Strategy::Lora { .. }) {
        lora_targets(&model)
    } else {
        Vec::new()
    };
    let model = match strategy {
        Strategy::Full => model,
        Strategy::LinearProbe | Strategy::GradualUnfreeze { .. } => freeze_backbone(model),
        Strategy::Lora { rank, alpha } => {
            apply_lora(model, *rank, *alpha).map_err(|e| TaskError::invalid(e.to_string()))?
        }
    };
    let trainable = trainable_values(&model);

    let identity = json!({
        "recipe": settings.name,
        "arch": arch,
        "input_shape": info.input_shape,
        "classes": classes,
        "finetune": {
            "from": from_label,
            "strategy": strategy.to_json(),
        },
    });
    let out = settings.create_out()?;
    settings.write_run_json("run.json", &info)?;

    let data_source = data.source.clone();
    let choices = data.choices.clone();
    let (train_source, valid_source, test_source) = data.into_batches(&batcher, settings);
    let mut progress = settings.progress();
    let sizes = [train_source.len(), valid_source.len(), test_source.len()];
    progress.message(&format!(
        "{}: fine-tuning {} from {} with {}: {} of {} values train; {} classes on {} {}",
        settings.name,
        arch.name(),
        from_label,
        strategy.describe(),
        trainable,
        total_values,
        classes,
        data_source,
        run_line(settings, sizes, out)
    ));

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
    let valid = (!valid_source.is_empty()).then_some(&valid_source);
    let outcome = fit_with(
        model,
        &train_source,
        valid,
        &train_device,
        &settings.fit,
        &settings.run_dir(identity),
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
            let r = evaluate(&model, v, 256, &device)?;
            json!({ "accuracy": r.accuracy, "loss": r.loss })
        }
        None => serde_json::Value::Null,
    };
    let test = evaluate(&model, &test_source, 256, &device)?;
    let report = RunReport::new(settings, &outcome, arch.name(), model.num_params());
    let report = RunReport {
        chapter: "3.1".into(),
        data: json!({
            "source": data_source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
            "choices": choices,
        }),
        valid,
        test: test.classification_report(classes),
        ..report
    }
    .with(
        "finetune",
        json!({
            "from": from_label,
            "from_recipe": source.info.recipe,
            "from_classes": source.info.class_names,
            "strategy": strategy.to_json(),
            "head": head,
            "lora_layers": lora_layers,
            "trainable_values": trainable,
            "pretrained_values": total_values,
        }),
    );
    let path = report.write(out)?;
    progress.message(&report.classification_line(&path));
    Ok(report)
}

/// The zoo model a torchvision weights file is named after: `resnet18.pth`,
/// `resnet18-f37072fd.pth`, `vgg16_bn-6c64b313.pth` (the longest `-`-separated prefix of the
/// file's stem, `_` read as `-`, that names an ImageNet model).
pub fn model_of_weights_file(weights: &Path) -> Result<crate::ZooModel, TaskError> {
    let stem = weights
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase().replace('_', "-"))
        .unwrap_or_default();
    let parts: Vec<&str> = stem.split('-').collect();
    (1..=parts.len())
        .rev()
        .find_map(|n| parts[..n].join("-").parse::<crate::ZooModel>().ok())
        .filter(|model| model.is_imagenet())
        .ok_or_else(|| {
            TaskError::invalid(format!(
                "{}: cannot tell the model from the file name; name the file after an ImageNet model of the zoo (resnet18.pth, vgg16_bn.pth; see `deepzero zoo`)",
                weights.display()
            ))
        })
}

/// Probe-then-unfreeze for a run of `epochs` epochs: the new head alone for the first third
/// (at least one epoch), then everything, the backbone at a tenth of the learning rate; a
/// one-epoch run is a linear probe.
pub fn probe_then_unfreeze(epochs: usize) -> Strategy {
    if epochs < 2 {
        Strategy::LinearProbe
    } else {
        Strategy::GradualUnfreeze {
            after: (epochs / 3).clamp(1, epochs - 1),
            factor: 0.1,
        }
    }
}

/// Transfer learning from torchvision ImageNet weights (`resnet18.pth`, or `.safetensors`):
/// the weights are imported ([`super::classify::import_torchvision`], into a temporary folder),
/// given a new head for `data`'s classes and fine-tuned with [`probe_then_unfreeze`] into
/// `settings.out`. The images are read at the model's input size, in colour, and normalised
/// as ImageNet's were.
pub fn from_torchvision(
    data: &ImageSpec,
    weights: &Path,
    settings: &RunSettings,
) -> Result<RunReport, TaskError> {
    let model = model_of_weights_file(weights)?;
    let temp = tempfile::tempdir().map_err(TaskError::io(Path::new("temporary folder")))?;
    let imported = temp.path().join("imported");
    super::classify::import_torchvision(model, weights, &imported, 1000, false, false)?;
    let spec = FinetuneSpec {
        from_label: Some(weights.display().to_string()),
        ..FinetuneSpec::new(
            data.clone(),
            imported,
            probe_then_unfreeze(settings.fit.epochs),
        )
    };
    finetune(&spec, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(
        freeze: Option<Freeze>,
        lora: Option<usize>,
        after: Option<usize>,
    ) -> StrategyOptions {
        StrategyOptions {
            freeze,
            lora,
            unfreeze_after: after,
            ..StrategyOptions::default()
        }
    }

    #[test]
    fn options_map_to_strategies() {
        let cases = [
            (options(None, None, None), Strategy::Full),
            (options(Some(Freeze::Nothing), None, None), Strategy::Full),
            (
                options(Some(Freeze::Backbone), None, None),
                Strategy::LinearProbe,
            ),
            (
                options(None, Some(4), None),
                Strategy::Lora {
                    rank: 4,
                    alpha: 8.0,
                },
            ),
            (
                options(Some(Freeze::Backbone), None, Some(3)),
                Strategy::GradualUnfreeze {
                    after: 3,
                    factor: 0.1,
                },
            ),
        ];
        for (options, strategy) in cases {
            assert_eq!(options.strategy().unwrap(), strategy, "{options:?}");
        }
        let explicit = StrategyOptions {
            lora_alpha: Some(3.0),
            ..options(Some(Freeze::Backbone), Some(2), None)
        };
        assert_eq!(
            explicit.strategy().unwrap(),
            Strategy::Lora {
                rank: 2,
                alpha: 3.0
            }
        );
    }

    #[test]
    fn impossible_option_combinations_are_refused() {
        let cases = [
            (
                options(None, Some(0), None),
                "--lora RANK must be at least 1",
            ),
            (
                options(Some(Freeze::Nothing), Some(2), None),
                "frozen backbone",
            ),
            (
                options(Some(Freeze::Backbone), Some(2), Some(1)),
                "cannot be combined with --lora",
            ),
            (
                StrategyOptions {
                    lora_alpha: Some(2.0),
                    ..StrategyOptions::default()
                },
                "needs --lora",
            ),
            (options(None, None, Some(2)), "needs --freeze backbone"),
            (
                StrategyOptions {
                    unfreeze_lr_factor: Some(0.5),
                    ..StrategyOptions::default()
                },
                "needs --unfreeze-after",
            ),
        ];
        for (options, needle) in cases {
            let err = options.strategy().unwrap_err().to_string();
            assert!(err.contains(needle), "{options:?}: {err}");
        }
    }
    use deepzero_train::write_json_atomic;

    #[test]
    fn impossible_strategies_are_refused() {
        for (strategy, needle) in [
            (
                Strategy::Lora {
                    rank: 0,
                    alpha: 1.0,
                },
                "at least 1",
            ),
            (
                Strategy::Lora {
                    rank: 2,
                    alpha: 0.0,
                },
                "positive",
            ),
            (
                Strategy::GradualUnfreeze {
                    after: 10,
                    factor: 0.1,
                },
                "between 1 and",
            ),
            (
                Strategy::GradualUnfreeze {
                    after: 2,
                    factor: 0.0,
                },
                "positive",
            ),
        ] {
            let err = strategy.validate(10).unwrap_err().to_string();
            assert!(err.contains(needle), "{strategy:?}: {err}");
        }
        assert!(Strategy::LinearProbe.validate(1).is_ok());
    }

    #[test]
    fn weights_files_name_their_model() {
        use crate::ZooModel;
        for (file, model) in [
            ("resnet18.pth", ZooModel::ResNet18),
            ("dir/resnet18-f37072fd.pth", ZooModel::ResNet18),
            ("vgg16_bn-6c64b313.pth", ZooModel::Vgg16Bn),
            ("ResNet50.safetensors", ZooModel::ResNet50),
        ] {
            assert_eq!(
                model_of_weights_file(Path::new(file)).unwrap(),
                model,
                "{file}"
            );
        }
        for file in ["weights.pth", "resnet20.pth", ""] {
            let err = model_of_weights_file(Path::new(file))
                .unwrap_err()
                .to_string();
            assert!(err.contains("cannot tell the model"), "{file}: {err}");
        }
        assert_eq!(probe_then_unfreeze(1), Strategy::LinearProbe);
        assert_eq!(
            probe_then_unfreeze(9),
            Strategy::GradualUnfreeze {
                after: 3,
                factor: 0.1
            }
        );
        assert!(probe_then_unfreeze(2).validate(2).is_ok());
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
