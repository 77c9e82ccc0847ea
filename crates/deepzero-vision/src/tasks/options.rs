//! What a user may change in an image recipe without writing a new spec: [`ImageOptions`],
//! each `None` (or `false`) keeping the recipe's own value, applied to an [`ImageSpec`].
//!
//! With the `clap` feature it is a group of command-line options (`--classes-subset`,
//! `--image-size` …); the `deepzero` command flattens it into `train`, `eval`, `tune`,
//! `lr-find` and `finetune`.
//!
//! ```
//! use deepzero_vision::tasks::classify::{ImageData, ImageSpec};
//! use deepzero_vision::tasks::folder::FolderOptions;
//! use deepzero_vision::tasks::options::ImageOptions;
//!
//! let options = ImageOptions { image_size: Some(32), ..ImageOptions::default() };
//! options.check("image-folder", true).unwrap();
//! assert!(options.check("mnist-lenet", false).is_err());
//! let spec = options.apply(&ImageSpec::folder(FolderOptions::default()));
//! assert!(matches!(spec.data, ImageData::Folder(f) if f.image_size == Some(32)));
//! ```

use std::path::PathBuf;

use deepzero_train::TaskError;
use deepzero_train::tune::{Hyperparameter, Kind, TrialParams};

use super::classify::{ImageData, ImageSpec};
use super::folder::AugmentLevel;

/// Options of the image recipes; the `image_size` … `from_torchvision` ones apply to the
/// image-folder recipe alone.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Image recipes"))]
pub struct ImageOptions {
    /// Keep only these classes (comma-separated ids, e.g. 5,6,7,8,9), relabelled 0..n in that
    /// order, in the training and the test split.
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ',', value_name = "IDS"))]
    pub classes_subset: Option<Vec<usize>>,
    /// Few-shot training: keep K training images per class (a seeded choice); the test split
    /// keeps all of its images.
    #[cfg_attr(feature = "clap", arg(long, value_name = "K"))]
    pub per_class: Option<usize>,
    /// image-folder: side length images are resized to (default: from the images' sizes).
    #[cfg_attr(feature = "clap", arg(long))]
    pub image_size: Option<usize>,
    /// image-folder: augmentation none, light, standard or strong (default: from the data).
    #[cfg_attr(feature = "clap", arg(long, value_name = "LEVEL"))]
    pub augment: Option<AugmentLevel>,
    /// image-folder: mirror images while training, true or false (default: unless mirroring
    /// turns a class into another).
    #[cfg_attr(feature = "clap", arg(long, value_name = "BOOL"))]
    pub flip: Option<bool>,
    /// image-folder: oversample the smaller classes, true or false (default: when imbalanced).
    #[cfg_attr(feature = "clap", arg(long, value_name = "BOOL"))]
    pub balance: Option<bool>,
    /// image-folder: fine-tune these torchvision ImageNet weights (resnet18.pth …), the new
    /// head alone for the first third of the epochs, then everything.
    #[cfg_attr(feature = "clap", arg(long, value_name = "WEIGHTS"))]
    pub from_torchvision: Option<PathBuf>,
    /// Leave out image files that cannot be read or decoded, report how many, and train on
    /// the rest (image-folder recipe; without it the first such file is an error).
    #[cfg_attr(feature = "clap", arg(long))]
    pub skip_bad_images: bool,
}

impl ImageOptions {
    /// The keys a model search ([`deepzero_train::tune`]) may name among these options.
    pub const TRIAL_KEYS: [Hyperparameter; 1] = [Hyperparameter::new("image-size", Kind::Count)];

    /// These options with the values a trial of a model search gives the
    /// [`TRIAL_KEYS`](Self::TRIAL_KEYS) (a searched image size replaces a given one).
    pub fn with_trial(&self, params: &TrialParams) -> Self {
        Self {
            image_size: params.count("image-size").or(self.image_size),
            ..self.clone()
        }
    }

    /// Refuses the options that only classifiers read (`--classes-subset`, `--per-class`) for
    /// `recipe`, which is not one (a segmenter).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the options.
    pub fn check_not_classifier(&self, recipe: &str) -> Result<(), TaskError> {
        if self.classes_subset.is_some() || self.per_class.is_some() {
            return Err(TaskError::invalid(format!(
                "--classes-subset and --per-class apply to image classifiers, not to {recipe}"
            )));
        }
        Ok(())
    }

    /// The first image-folder option given, if any.
    fn folder_flag(&self) -> Option<&'static str> {
        [
            ("--image-size", self.image_size.is_some()),
            ("--augment", self.augment.is_some()),
            ("--flip", self.flip.is_some()),
            ("--balance", self.balance.is_some()),
            ("--from-torchvision", self.from_torchvision.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }

    /// Checks the values, and refuses the image-folder options for `recipe` unless it reads an
    /// image folder (`folder`).
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the option.
    pub fn check(&self, recipe: &str, folder: bool) -> Result<(), TaskError> {
        if let Some(flag) = self.folder_flag().filter(|_| !folder) {
            return Err(TaskError::invalid(format!(
                "{flag} applies to image-folder, not to {recipe}"
            )));
        }
        if let Some(size) = self.image_size
            && (size < 8 || !size.is_multiple_of(4))
        {
            return Err(TaskError::invalid(
                "--image-size must be a multiple of 4, at least 8",
            ));
        }
        Ok(())
    }

    /// The recipe's spec `spec` with these options (the image-folder ones only where it reads
    /// an image folder; `from_torchvision` is the caller's choice of training call).
    pub fn apply(&self, spec: &ImageSpec) -> ImageSpec {
        let mut spec = spec.clone();
        spec.classes_subset = self.classes_subset.clone();
        spec.per_class = self.per_class;
        spec.skip_bad_images = self.skip_bad_images;
        if let ImageData::Folder(options) = &mut spec.data {
            options.image_size = self.image_size;
            options.augment = self.augment;
            options.flip = self.flip;
            options.balance = self.balance;
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::folder::FolderOptions;

    #[test]
    fn folder_options_are_refused_elsewhere() {
        let options = ImageOptions {
            flip: Some(true),
            ..ImageOptions::default()
        };
        let e = options.check("mnist-lenet", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--flip applies to image-folder, not to mnist-lenet"
        );
        options.check("image-folder", true).unwrap();
    }

    #[test]
    fn a_trial_sets_the_image_size_and_segmenters_refuse_classifier_options() {
        use deepzero_train::tune::SearchSpace;
        let trials = SearchSpace::parse("image-size=16,32", &ImageOptions::TRIAL_KEYS)
            .unwrap()
            .grid()
            .unwrap();
        let options = ImageOptions {
            image_size: Some(8),
            per_class: Some(3),
            ..ImageOptions::default()
        };
        let trial = options.with_trial(&trials[1]);
        assert_eq!((trial.image_size, trial.per_class), (Some(32), Some(3)));
        let err = options.check_not_classifier("digits-unet").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--classes-subset and --per-class apply to image classifiers, not to digits-unet"
        );
        ImageOptions::default()
            .check_not_classifier("digits-unet")
            .unwrap();
    }

    #[test]
    fn image_size_must_be_a_multiple_of_4() {
        for (size, ok) in [(4, false), (10, false), (8, true), (32, true)] {
            let options = ImageOptions {
                image_size: Some(size),
                ..ImageOptions::default()
            };
            assert_eq!(options.check("image-folder", true).is_ok(), ok, "{size}");
        }
    }

    #[test]
    fn apply_sets_the_spec() {
        let options = ImageOptions {
            classes_subset: Some(vec![3, 1]),
            per_class: Some(5),
            augment: Some(AugmentLevel::Strong),
            skip_bad_images: true,
            ..ImageOptions::default()
        };
        let spec = options.apply(&ImageSpec::folder(FolderOptions::default()));
        assert_eq!(spec.classes_subset, Some(vec![3, 1]));
        assert_eq!(spec.per_class, Some(5));
        assert!(spec.skip_bad_images);
        match spec.data {
            ImageData::Folder(folder) => assert_eq!(folder.augment, Some(AugmentLevel::Strong)),
            other => panic!("not a folder: {other:?}"),
        }
    }
}
