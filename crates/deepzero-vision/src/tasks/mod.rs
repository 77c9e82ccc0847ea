//! Whole tasks, from data on disk to a trained model in a run folder and back. Each has a spec
//! (what to train on what), a `train` taking it with [`deepzero_train::RunSettings`], an
//! `evaluate_run`, and a `Predictor` that loads the run folder.
//!
//! | seed | task | module |
//! |---|---|---|
//! | 1.3.1, 3.1, 7.2 | image classification of MNIST, Fashion-MNIST or any class-per-folder tree; torchvision weight import | [`classify`] |
//! | 3.2 | object detection: a YOLOv3-style detector on digit scenes, COCO AP | [`detect`] |
//! | 3.2 | torchvision's Faster R-CNN ResNet-50-FPN weights as a run folder, and detection with it | [`rcnn`] |
//! | 3.2 | our Faster R-CNN trained on digit scenes (`digits-faster-rcnn`), COCO AP | [`digits_rcnn`] |
//! | 3.1 (微调) | fine-tuning a trained classifier: linear probe, full, gradual unfreezing, LoRA | [`finetune`] |
//! | 7.2 | the `image-folder` recipe's choices from the data: input size, channels, augmentation, flips, class balance | [`folder`] |
//! | 7.2 | the learning-rate range test of an image classifier | [`lr_find`] |
//! | — | what a user may change in an image recipe (`--classes-subset`, `--image-size` …) | [`options`] |

pub mod classify;
pub mod detect;
pub mod detect_photos;
mod detect_run;
pub mod digits_rcnn;
pub mod finetune;
pub mod folder;
pub mod lr_find;
pub mod options;
pub mod rcnn;
pub mod recipes;

impl From<crate::ImportError> for deepzero_train::TaskError {
    fn from(e: crate::ImportError) -> Self {
        deepzero_train::TaskError::Other(Box::new(e))
    }
}

/// Refuses an import's output folder that holds anything, unless it holds a run and
/// `overwrite` is set (the import then replaces that run): a folder of other files is never
/// cleared, and nothing is touched before the import has checked its input.
pub(crate) fn prepare_import_out(
    out: &std::path::Path,
    overwrite: bool,
) -> Result<(), deepzero_train::TaskError> {
    let non_empty = std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some());
    if non_empty {
        if !deepzero_train::guard::holds_run(out) {
            return Err(deepzero_train::TaskError::invalid(format!(
                "{} is not empty and holds no run; choose an empty or new --out",
                out.display()
            )));
        }
        if !overwrite {
            return Err(deepzero_train::TaskError::invalid(format!(
                "{} already holds a run; pass --overwrite to replace it, or choose another --out",
                out.display()
            )));
        }
    }
    if out.exists() && !out.is_dir() {
        return Err(deepzero_train::TaskError::invalid(format!(
            "{} is a file, not a folder",
            out.display()
        )));
    }
    Ok(())
}
