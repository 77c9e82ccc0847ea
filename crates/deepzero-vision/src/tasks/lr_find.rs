//! The learning-rate range test of an image classifier ([`deepzero_train::lr_find`]): the
//! model, data and augmentation that [`classify::train`](super::classify::train) would use
//! for `spec`, trained for a hundred batches at exponentially growing learning rates on the
//! training part (the validation and test splits are not read). Writes `lr_find.csv`,
//! `lr_find.json` and `lr_find.png` into `settings.out`, a folder of its own (a run folder
//! is refused, so that no run changes).
//!
//! ```no_run
//! use deepzero_data::IdxCorpus;
//! use deepzero_train::RunSettings;
//! use deepzero_train::lr_find::LrFindConfig;
//! use deepzero_vision::Architecture;
//! use deepzero_vision::tasks::classify::ImageSpec;
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let spec = ImageSpec::idx(IdxCorpus::Mnist, Architecture::LeNet5);
//! let settings = RunSettings::new("mnist-lenet", "runs/mnist-lenet-lr-find");
//! let result = deepzero_vision::tasks::lr_find::lr_find(
//!     &spec,
//!     &settings,
//!     &LrFindConfig::from_fit(&settings.fit),
//! )?;
//! println!("{}", result.summary());
//! # Ok(()) }
//! ```

use deepzero_data::ImageBatcher;
use deepzero_train::lr_find::{self, LrFindConfig, LrFindResult};
use deepzero_train::{RunSettings, TaskError};

use super::classify::{ImageSpec, channel_stats, check_image_splits, load_images};

/// Runs the range test of the classifier `spec` describes (see the module documentation).
///
/// # Errors
/// [`TaskError`] for bad settings, unreadable data, or a run folder as the output.
pub fn lr_find(
    spec: &ImageSpec,
    settings: &RunSettings,
    config: &LrFindConfig,
) -> Result<LrFindResult, TaskError> {
    spec.validate()?;
    settings.validate()?;
    config.validate()?;
    // Refuse a run folder before reading the data.
    lr_find::prepare_out(&settings.out)?;
    let data = load_images(spec, settings)?;
    check_image_splits(&data)?;
    let batcher = data.batcher.clone().unwrap_or_else(|| {
        let (mean, std) = channel_stats(&data.train);
        ImageBatcher::new(mean, std)
    });
    let (shape, classes) = (data.train.shape(), data.train.class_names().len());
    let (train, _, _) = data.into_batches(&batcher, settings);
    let device = settings.device()?.autodiff();
    device.seed(settings.seed());
    let model = spec.arch.build(shape, classes, &device);
    lr_find::run(settings, config, model, &train, &device)
}

#[cfg(test)]
mod tests {
    use deepzero_data::IdxCorpus;

    use super::*;
    use crate::Architecture;

    #[test]
    fn the_mnist_mlp_range_test_suggests_a_learning_rate_that_trains() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lr-find");
        let mut settings = RunSettings::new("mnist-mlp", &out);
        settings.quiet = true;
        let spec = ImageSpec::idx(IdxCorpus::Mnist, Architecture::Mlp);
        let config = LrFindConfig {
            steps: 60,
            ..LrFindConfig::from_fit(&settings.fit)
        };
        let result = lr_find(&spec, &settings, &config).unwrap();
        // Adam on MNIST: the loss bottoms out somewhere around 1e-3..1e-1 and blows up
        // before lr 10; the suggestion is a tenth of that.
        assert!(result.diverged, "{}", result.summary());
        assert!(
            (1e-5..3e-2).contains(&result.suggested_lr),
            "{}",
            result.summary()
        );
        for file in ["lr_find.csv", "lr_find.json", "lr_find.png"] {
            assert!(out.join(file).is_file(), "{file}");
        }
        assert!(!out.join("run.json").exists());
    }
}
