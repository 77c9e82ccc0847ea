//! Run folders with untrained weights, for tests, examples and load tests: they have the shape
//! and the run-folder format of a trained run, so serving them costs what serving the real one
//! does (`mnist-lenet` after `deepzero train`, `resnet18` after `deepzero import`).

use std::path::Path;

use burn::prelude::Device;
use deepzero_train::TaskError;
use deepzero_train::checkpoint::save_model;
use deepzero_vision::tasks::classify::{IMAGENET_RECIPE, ImageRunInfo, Preprocess, RUN_VERSION};
use deepzero_vision::{Architecture, ZooModel};

/// Writes a run folder of an image classifier `arch` for `[C, H, W]` images and `classes`
/// classes with freshly initialised weights (`model.bpk` and `run.json`).
///
/// # Errors
/// The folder or its files cannot be written.
pub fn write_untrained_image_run(
    dir: &Path,
    recipe: &str,
    arch: Architecture,
    input_shape: [usize; 3],
    classes: usize,
    preprocess: Preprocess,
) -> Result<ImageRunInfo, TaskError> {
    let device = Device::flex();
    let model = arch.build(input_shape, classes, &device);
    std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
    save_model(&model, &dir.join("model.bpk"))?;
    let channels = input_shape[0];
    let info = ImageRunInfo {
        version: RUN_VERSION,
        recipe: recipe.to_string(),
        arch,
        input_shape,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        mean: vec![0.5; channels],
        std: vec![0.25; channels],
        data: "untrained weights (deepzero_serve::fixtures)".into(),
        preprocess: Some(preprocess),
    };
    info.save(dir)?;
    Ok(info)
}

/// An untrained `mnist-lenet` run: LeNet-5, 1×28×28, 10 classes.
pub fn write_lenet_run(dir: &Path) -> Result<ImageRunInfo, TaskError> {
    write_untrained_image_run(
        dir,
        "mnist-lenet",
        Architecture::LeNet5,
        [1, 28, 28],
        10,
        Preprocess::Resize,
    )
}

/// An untrained ImageNet ResNet-18 run as `deepzero import resnet18` writes it: 3×224×224,
/// 1000 classes, resize 256 + centre crop 224.
pub fn write_resnet18_run(dir: &Path) -> Result<ImageRunInfo, TaskError> {
    write_untrained_image_run(
        dir,
        IMAGENET_RECIPE,
        Architecture::Zoo(ZooModel::ResNet18),
        [3, 224, 224],
        1000,
        Preprocess::ResizeCenterCrop,
    )
}
