//! Train, evaluate and predict with the image-classifier recipes (MNIST, Fashion-MNIST and
//! image folders).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use deepzero_core::ConfusionMatrix;
use deepzero_data::{
    Augmentation, Augmented, IdxCorpus, ImageBatcher, ImageFolder, ImageItem, InMemoryImages,
    Split, Subset, load_image, select_classes, stratified_split,
};
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{BatchSource, DatasetBatches, RunDir, evaluate, fit};
use deepzero_vision::{Architecture, ImageClassifier, ImageModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::recipes::{Recipe, RecipeKind};
use crate::{Backend, CliError, TrainArgs};

/// What `OUT/run.json` records about a trained image classifier, so that `eval` and `predict`
/// can rebuild it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// Recipe name.
    pub recipe: String,
    /// Model architecture.
    pub arch: Architecture,
    /// Input `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Class names, index = class id.
    pub class_names: Vec<String>,
    /// Per-channel normalisation mean (of pixel/255).
    pub mean: Vec<f32>,
    /// Per-channel normalisation standard deviation.
    pub std: Vec<f32>,
    /// Where the training data came from.
    pub data: String,
}

impl RunInfo {
    fn batcher(&self) -> ImageBatcher {
        ImageBatcher::new(self.mean.clone(), self.std.clone())
    }

    /// The identity of the run that a `--resume` must match.
    fn fingerprint(&self) -> serde_json::Value {
        json!({
            "recipe": self.recipe,
            "arch": self.arch,
            "input_shape": self.input_shape,
            "classes": self.class_names.len(),
        })
    }

    /// Reads `DIR/run.json` and checks it belongs to `recipe`.
    pub fn load(dir: &Path, recipe: &str) -> Result<RunInfo, CliError> {
        crate::load_run_json(dir, recipe, |info: &RunInfo| info.recipe.as_str())
    }
}

/// The training, validation and test data of a recipe.
struct Data {
    train: InMemoryImages,
    test: InMemoryImages,
    source: String,
}

/// Looks for the shipped sample of `corpus` (`datasets/<name>-sample`), from the working
/// directory first, then from the source tree this binary was built from.
fn shipped_sample(corpus: IdxCorpus) -> Option<PathBuf> {
    let name = format!("{}-sample", corpus.name());
    let candidates = [
        PathBuf::from("datasets").join(&name),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets")
            .join(&name),
    ];
    candidates.into_iter().find(|p| p.is_dir())
}

/// The folder holding `corpus`'s IDX files: `--data-dir` itself, or its `<corpus>` sub-folder.
fn idx_dir(corpus: IdxCorpus, data_dir: Option<&Path>) -> Result<(PathBuf, String), CliError> {
    match data_dir {
        None => shipped_sample(corpus)
            .map(|p| {
                let label = format!("shipped sample {}", p.display());
                (p, label)
            })
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "no --data-dir given and the shipped sample datasets/{}-sample was not found (run from the repository root, or pass --data-dir)",
                    corpus.name()
                ))
            }),
        Some(dir) => {
            if !dir.is_dir() {
                return Err(CliError::Usage(format!(
                    "data directory {} does not exist",
                    dir.display()
                )));
            }
            let nested = dir.join(corpus.name());
            let has_files = |d: &Path| {
                std::fs::read_dir(d).is_ok_and(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("train-images"))
                })
            };
            let chosen = if !has_files(dir) && nested.is_dir() { nested } else { dir.to_path_buf() };
            let label = chosen.display().to_string();
            Ok((chosen, label))
        }
    }
}

/// The data of an image recipe, narrowed to `--classes-subset` (relabelled in that order) and,
/// in the training split, to `--per-class` images per class (seeded by `--seed`).
fn load_data(
    recipe: &Recipe,
    args: &TrainArgs,
) -> Result<(Data, Architecture, Augmentation, ImageBatcherChoice), CliError> {
    let (mut data, arch, augment, batcher) = load_all_data(recipe, args)?;
    if args.classes_subset.is_some() || args.per_class.is_some() {
        let classes = args
            .classes_subset
            .clone()
            .unwrap_or_else(|| (0..data.train.num_classes()).collect());
        data.train = select_classes(&data.train, &classes, args.per_class, Some(args.seed))?;
        data.test = select_classes(&data.test, &classes, None, None)?;
        let ids: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
        let per_class = args
            .per_class
            .map(|k| format!(", {k} training images per class"))
            .unwrap_or_default();
        data.source = format!("{} (classes {}{per_class})", data.source, ids.join(","));
    }
    Ok((data, arch, augment, batcher))
}

/// The (train, test, source, architecture, augmentation) of an image recipe, after
/// `--classes-subset` and `--per-class`: what `deepzero finetune` trains on.
pub(crate) fn recipe_data(
    recipe: &Recipe,
    args: &TrainArgs,
) -> Result<
    (
        InMemoryImages,
        InMemoryImages,
        String,
        Architecture,
        Augmentation,
    ),
    CliError,
> {
    let (data, arch, augment, _) = load_data(recipe, args)?;
    Ok((data.train, data.test, data.source, arch, augment))
}

/// A run trained on some classes of a corpus is evaluated on those classes (found by name)
/// when `--classes-subset` is not given again.
fn narrow_to_run_classes(
    mut data: Data,
    info: &RunInfo,
    args: &TrainArgs,
) -> Result<Data, CliError> {
    if args.classes_subset.is_some() || data.test.class_names() == info.class_names.as_slice() {
        return Ok(data);
    }
    let ids: Option<Vec<usize>> = info
        .class_names
        .iter()
        .map(|name| data.test.class_names().iter().position(|c| c == name))
        .collect();
    if let Some(ids) = ids {
        data.test = select_classes(&data.test, &ids, None, None)?;
        let list: Vec<String> = ids.iter().map(|c| c.to_string()).collect();
        data.source = format!("{} (classes {})", data.source, list.join(","));
    }
    Ok(data)
}

fn load_all_data(
    recipe: &Recipe,
    args: &TrainArgs,
) -> Result<(Data, Architecture, Augmentation, ImageBatcherChoice), CliError> {
    match &recipe.kind {
        RecipeKind::Idx {
            corpus,
            arch,
            augment,
        } => {
            let (dir, source) = idx_dir(*corpus, args.data_dir.as_deref())?;
            let train = corpus.load(&dir, Split::Train)?;
            let test = corpus.load(&dir, Split::Test)?;
            let batcher = match corpus {
                IdxCorpus::Mnist => ImageBatcherChoice::Fixed(ImageBatcher::mnist()),
                IdxCorpus::FashionMnist => ImageBatcherChoice::Fixed(ImageBatcher::fashion_mnist()),
            };
            Ok((
                Data {
                    train,
                    test,
                    source,
                },
                *arch,
                augment.clone(),
                batcher,
            ))
        }
        RecipeKind::ImageFolder => {
            let root = args.data_dir.as_deref().ok_or_else(|| {
                CliError::Usage(
                    "image-folder needs --data-dir ROOT (one sub-folder per class)".into(),
                )
            })?;
            if !root.is_dir() {
                return Err(CliError::Usage(format!(
                    "data directory {} does not exist",
                    root.display()
                )));
            }
            let size = [args.image_size, args.image_size];
            let (train_dir, test_dir) = (root.join("train"), root.join("test"));
            let (train, test) = if train_dir.is_dir() && test_dir.is_dir() {
                let train = ImageFolder::open(&train_dir, 3, size)?;
                let test = ImageFolder::open(&test_dir, 3, size)?;
                if train.class_names() != test.class_names() {
                    return Err(CliError::Usage(format!(
                        "{} and {} have different class folders",
                        train_dir.display(),
                        test_dir.display()
                    )));
                }
                (train.load_all()?, test.load_all()?)
            } else {
                // One tree: hold out a stratified 20 % as the test set.
                let all = ImageFolder::open(root, 3, size)?.load_all()?;
                let labels: Vec<usize> = all.labels().to_vec();
                let (train_idx, test_idx) = stratified_split(&labels, 0.2, args.seed ^ 0x7e57);
                (all.subset(&train_idx), all.subset(&test_idx))
            };
            let augment = Augmentation {
                crop_padding: Some(args.image_size / 8),
                horizontal_flip: true,
                affine: None,
            };
            Ok((
                Data {
                    train,
                    test,
                    source: root.display().to_string(),
                },
                Architecture::SmallCnn,
                augment,
                ImageBatcherChoice::FromTrainingSet,
            ))
        }
        RecipeKind::ImageNet => Err(CliError::Usage(format!(
            "the `{}` recipe holds weights imported by `deepzero import`; it predicts only \
             (deepzero predict {} --checkpoint DIR IMAGE...)",
            recipe.name, recipe.name
        ))),
        _ => Err(CliError::Usage(format!(
            "`{}` is not an image recipe",
            recipe.name
        ))),
    }
}

enum ImageBatcherChoice {
    Fixed(ImageBatcher),
    /// Per-channel mean and standard deviation measured on the training images.
    FromTrainingSet,
}

fn channel_stats(images: &InMemoryImages) -> (Vec<f32>, Vec<f32>) {
    let [c, h, w] = images.shape();
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    let n = images.len();
    for i in 0..n {
        let Some(px) = images.image(i) else { continue };
        for ch in 0..c {
            for &p in &px[ch * h * w..(ch + 1) * h * w] {
                let v = p as f64 / 255.0;
                sum[ch] += v;
                sq[ch] += v * v;
            }
        }
    }
    let count = (n * h * w).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| ((q / count - (m as f64).powi(2)).max(1e-6)).sqrt() as f32)
        .collect();
    (mean, std)
}

/// `deepzero train` for an image recipe.
pub fn train(
    recipe: &Recipe,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let (data, arch, augment, batcher_choice) = load_data(recipe, args)?;
    let batcher = match batcher_choice {
        ImageBatcherChoice::Fixed(b) => b,
        ImageBatcherChoice::FromTrainingSet => {
            let (mean, std) = channel_stats(&data.train);
            ImageBatcher::new(mean, std)
        }
    };
    let info = RunInfo {
        recipe: recipe.name.to_string(),
        arch,
        input_shape: data.train.shape(),
        class_names: data.train.class_names().to_vec(),
        mean: batcher.mean.clone(),
        std: batcher.std.clone(),
        data: data.source.clone(),
    };
    let out = args.out_dir(recipe);
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    write_json_atomic(&out.join("run.json"), &info)?;

    // Hold out a stratified validation set from the training split.
    let labels: Vec<usize> = data.train.labels().to_vec();
    let (train_idx, valid_idx) = stratified_split(&labels, args.valid_fraction, args.seed);
    let full = Arc::new(data.train);
    let train_set = Arc::new(Augmented::new(
        Subset::new(full.clone(), train_idx),
        augment,
        args.seed,
    ));
    let valid_set = Subset::new(full, valid_idx);
    let hook_set = train_set.clone();
    let train_source = DatasetBatches::new(train_set, batcher.clone())
        .with_epoch_hook(move |epoch| hook_set.set_epoch(epoch));
    let valid_source = DatasetBatches::new(valid_set, batcher.clone());
    let test_source = DatasetBatches::new(data.test, batcher.clone());

    let config = args.fit_config(recipe);
    println!(
        "{}: {} on {} ({} train / {} valid / {} test), backend {backend}, {} epochs, batch {}, {} lr {} ({}), out {}",
        recipe.name,
        arch.name(),
        data.source,
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

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let model = arch.build(info.input_shape, info.class_names.len(), &train_device);
    let mut progress = args.progress();
    let outcome = fit(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        &config,
        &RunDir::new(&out, info.fingerprint()).resume(args.resume),
        &mut progress,
    )?;

    let model = outcome.model.valid();
    save_model(&model, &out.join("model.bpk"))?;
    let eval_device = device.clone();
    let valid = evaluate(&model, &valid_source, 256, &eval_device)?;
    let test = evaluate(&model, &test_source, 256, &eval_device)?;
    let report = classification_report(&test, info.class_names.len());
    println!(
        "test: accuracy {:.2}% loss {:.4} macro-F1 {:.4} (model of epoch {}) -> {}",
        test.accuracy * 100.0,
        test.loss,
        report["macro_f1"].as_f64().unwrap_or(0.0),
        outcome.model_epoch,
        out.join("metrics.json").display()
    );
    let mut test_json = report;
    test_json["accuracy"] = json!(test.accuracy);
    test_json["loss"] = json!(test.loss);
    test_json["examples"] = json!(test.examples);
    let metrics = json!({
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "backend": backend.name(),
        "model": arch.name(),
        "parameters": model.num_params(),
        "epochs": outcome.history.len(),
        "model_epoch": outcome.model_epoch,
        "stopped_early": outcome.stopped_early,
        "resumed_after": outcome.resumed_after,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "optimizer": config.optimizer.to_string(),
        "schedule": config.schedule.to_string(),
        "weight_decay": config.weight_decay,
        "seed": args.seed,
        "data": {
            "source": data.source,
            "train_examples": train_source.len(),
            "valid_examples": valid_source.len(),
            "test_examples": test_source.len(),
        },
        "train_seconds": outcome.train_seconds,
        "train_samples_per_second": outcome.samples_per_second(),
        "valid": { "accuracy": valid.accuracy, "loss": valid.loss },
        "test": test_json,
        "history": outcome.history,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    Ok(())
}

/// Per-class and averaged precision/recall/F1 of an evaluation.
pub(crate) fn classification_report(
    result: &deepzero_train::EvalResult,
    num_classes: usize,
) -> serde_json::Value {
    let mut cm = ConfusionMatrix::new(num_classes);
    // Predictions and targets come from the model's own logits and the dataset's validated
    // labels, so they are in range; a failure here would be a bug, reported rather than hidden.
    if let Err(e) = cm.add_batch(&result.predictions, &result.targets) {
        return json!({ "error": e.to_string() });
    }
    json!({
        "macro_precision": cm.macro_precision(),
        "macro_recall": cm.macro_recall(),
        "macro_f1": cm.macro_f1(),
        "micro_f1": cm.micro_f1(),
        "confusion_matrix": (0..num_classes).map(|c| cm.row(c).to_vec()).collect::<Vec<_>>(),
    })
}

/// Where `eval` and `predict` find the weights in a run folder: `model.bpk` (written when
/// training finished) or else the latest epoch checkpoint (a run that was interrupted).
pub(crate) fn model_file(dir: &Path) -> Result<PathBuf, CliError> {
    let final_model = dir.join("model.bpk");
    if final_model.exists() {
        return Ok(final_model);
    }
    let checkpoints = deepzero_train::Checkpoints::new(dir, 1);
    match checkpoints.latest()? {
        Some(c) => Ok(c.model_path()),
        None => Err(CliError::Usage(format!(
            "{} holds no model.bpk and no checkpoint",
            dir.display()
        ))),
    }
}

fn load_trained(info: &RunInfo, dir: &Path, device: &Device) -> Result<ImageModel, CliError> {
    let model = info
        .arch
        .build(info.input_shape, info.class_names.len(), device);
    Ok(load_model(model, &model_file(dir)?)?)
}

/// `deepzero eval`: the test-split accuracy and loss of a trained run.
pub fn eval(
    recipe: &Recipe,
    checkpoint: &Path,
    args: &TrainArgs,
    backend: Backend,
    device: &Device,
) -> Result<(), CliError> {
    let info = RunInfo::load(checkpoint, recipe.name)?;
    let (data, _, _, _) = load_data(recipe, args)?;
    let data = narrow_to_run_classes(data, &info, args)?;
    if data.test.shape() != info.input_shape || data.test.num_classes() != info.class_names.len() {
        return Err(CliError::Usage(format!(
            "the data in {} ({:?}, {} classes) does not match the checkpoint ({:?}, {} classes)",
            data.source,
            data.test.shape(),
            data.test.num_classes(),
            info.input_shape,
            info.class_names.len()
        )));
    }
    let model = load_trained(&info, checkpoint, device)?;
    let source = DatasetBatches::new(data.test, info.batcher());
    let start = std::time::Instant::now();
    let test = evaluate(&model, &source, args.batch_size.unwrap_or(256), device)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut test_json = classification_report(&test, info.class_names.len());
    test_json["accuracy"] = json!(test.accuracy);
    test_json["loss"] = json!(test.loss);
    test_json["examples"] = json!(test.examples);
    let out = args.out.clone().unwrap_or_else(|| checkpoint.join("eval"));
    std::fs::create_dir_all(&out).map_err(CliError::io(&out))?;
    let metrics = json!({
        "recipe": recipe.name,
        "backend": backend.name(),
        "checkpoint": checkpoint.display().to_string(),
        "data": data.source,
        "epochs": 0,
        "train_seconds": 0.0,
        "train_samples_per_second": 0.0,
        "eval_seconds": seconds,
        "eval_samples_per_second": test.examples as f64 / seconds.max(1e-9),
        "test": test_json,
    });
    write_json_atomic(&out.join("metrics.json"), &metrics)?;
    println!(
        "{}: test accuracy {:.2}% loss {:.4} on {} images ({}) -> {}",
        recipe.name,
        test.accuracy * 100.0,
        test.loss,
        test.examples,
        data.source,
        out.join("metrics.json").display()
    );
    Ok(())
}

/// One image's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The image file.
    pub image: String,
    /// The most probable classes, best first: (class id, class name, probability).
    pub top: Vec<(usize, String, f32)>,
}

/// Options of `deepzero predict`.
pub struct PredictOptions {
    /// How many classes to report per image.
    pub top_k: usize,
    /// Print JSON instead of text.
    pub json: bool,
    /// Where to draw the picture of the predictions.
    pub picture: Option<PathBuf>,
    /// Whether to invert gray images with a light background (MNIST digits are light on dark).
    pub invert: InvertMode,
}

/// When to invert a grayscale input image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InvertMode {
    /// When the border is mostly light (a dark digit on white paper).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Dark-on-light images are inverted so that they look like the training data (light on dark).
fn maybe_invert(item: &mut ImageItem, mode: InvertMode) {
    let [c, h, w] = item.shape;
    if c != 1 {
        return;
    }
    let invert = match mode {
        InvertMode::Always => true,
        InvertMode::Never => false,
        InvertMode::Auto => {
            let border: Vec<u8> = (0..h)
                .flat_map(|y| (0..w).map(move |x| (y, x)))
                .filter(|&(y, x)| y == 0 || x == 0 || y == h - 1 || x == w - 1)
                .map(|(y, x)| item.pixels[y * w + x])
                .collect();
            let mean = border.iter().map(|&p| p as f32).sum::<f32>() / border.len().max(1) as f32;
            mean > 127.0
        }
    };
    if invert {
        item.pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
}

/// `deepzero predict`: classifies image files with a trained run.
pub fn predict(
    recipe: &Recipe,
    checkpoint: &Path,
    images: &[PathBuf],
    options: &PredictOptions,
    device: &Device,
) -> Result<Vec<Prediction>, CliError> {
    if images.is_empty() {
        return Err(CliError::Usage("predict needs at least one IMAGE".into()));
    }
    let info = RunInfo::load(checkpoint, recipe.name)?;
    let model = load_trained(&info, checkpoint, device)?;
    let [c, h, w] = info.input_shape;
    let mut items = Vec::with_capacity(images.len());
    for path in images {
        let mut item = match recipe.kind {
            // torchvision's evaluation transform: resize the short side, crop the centre.
            RecipeKind::ImageNet => deepzero_vision::EvalTransform::for_crop(h).load(path)?,
            _ => load_image(path, c, [h, w])?,
        };
        maybe_invert(&mut item, options.invert);
        items.push(item);
    }
    let batch = info.batcher().images_tensor(&items, device);
    let probs = softmax(model.logits(batch), 1);
    let k = options.top_k.clamp(1, info.class_names.len());
    let (values, indices) = probs.topk_with_indices(k, 1);
    let values: Vec<f32> = values
        .try_into_vec_as::<f32>()
        .map_err(|e| CliError::Usage(format!("{e:?}")))?;
    let indices: Vec<i64> = indices
        .try_into_vec_as::<i64>()
        .map_err(|e| CliError::Usage(format!("{e:?}")))?;
    let predictions: Vec<Prediction> = images
        .iter()
        .enumerate()
        .map(|(i, path)| Prediction {
            image: path.display().to_string(),
            top: (0..k)
                .map(|j| {
                    let class = indices[i * k + j] as usize;
                    (class, info.class_names[class].clone(), values[i * k + j])
                })
                .collect(),
        })
        .collect();

    let picture = options
        .picture
        .clone()
        .unwrap_or_else(|| checkpoint.join("predictions.png"));
    let captions: Vec<String> = predictions
        .iter()
        .map(|p| format!("{} {:.0}%", p.top[0].1, p.top[0].2 * 100.0))
        .collect();
    deepzero_train::plot::draw_image_grid(&picture, &items, &captions)?;
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&predictions).unwrap_or_default()
        );
    } else {
        for p in &predictions {
            let rest: Vec<String> = p
                .top
                .iter()
                .map(|(_, name, prob)| format!("{name} {prob:.3}"))
                .collect();
            println!("{}: {}", p.image, rest.join(", "));
        }
        println!("picture: {}", picture.display());
    }
    Ok(predictions)
}
