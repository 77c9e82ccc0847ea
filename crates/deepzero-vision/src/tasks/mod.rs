//! Whole tasks, from data on disk to a trained model in a run folder and back. Each has a spec
//! (what to train on what), a `train` taking it with [`deepzero_train::RunSettings`], an
//! `evaluate_run`, and a `Predictor` that loads the run folder.
//!
//! | seed | task | module |
//! |---|---|---|
//! | 1.3.1, 3.1, 7.2 | image classification of MNIST, Fashion-MNIST or any class-per-folder tree; torchvision weight import | [`classify`] |
//! | 3.2 | object detection: a YOLOv3-style detector on digit scenes, COCO AP | [`detect`] |
//! | 3.2 | torchvision's Faster R-CNN ResNet-50-FPN weights as a run folder, and detection with it | [`rcnn`] |
//! | 3.1 (微调) | fine-tuning a trained classifier: linear probe, full, gradual unfreezing, LoRA | [`finetune`] |
//! | 7.2 | the `image-folder` recipe's choices from the data: input size, channels, augmentation, flips, class balance | [`folder`] |
//! | 7.2 | the learning-rate range test of an image classifier | [`lr_find`] |
//! | — | what a user may change in an image recipe (`--classes-subset`, `--image-size` …) | [`options`] |

pub mod classify;
pub mod detect;
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
