//! The segmentation task: digit scenes (or any set of images with masks) → a trained segmenter in
//! a run folder, its evaluation (pixel accuracy, mean IoU, Dice), and a [`Predictor`] that
//! segments image files and draws the masks onto them.
//!
//! ```no_run
//! use deepzero_train::RunSettings;
//! use deepzero_vision::segment::task::{self, Predictor};
//!
//! # fn main() -> Result<(), deepzero_train::TaskError> {
//! let recipe = task::recipes().into_iter().find(|r| r.name == "digits-unet").unwrap();
//! // Without a data folder the scenes are drawn from the shipped MNIST sample.
//! let report = task::train(&recipe.spec, &recipe.settings("runs/digits-unet"))?;
//! println!("test mIoU {}", report.test["mean_iou"]);
//! let predictor = Predictor::load("runs/digits-unet".as_ref(), None, &burn::prelude::Device::flex())?;
//! let masks = predictor.predict(&["scene.png".into()])?;
//! predictor.draw(&masks[0], "scene.mask.png".as_ref())?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::scenes::{SceneConfig, render_scenes};
use deepzero_data::{IdxCorpus, ImageItem, Split, load_image, train_valid_split};
use deepzero_train::checkpoint::load_model;
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{
    BatchSource, DatasetBatches, EvalReport, FitConfig, FitHooks, Recipe, RunReport, RunSettings,
    TaskError, load_run_info, model_file,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::data::{
    AugmentedMasks, MaskAugmentation, MaskedImage, MaskedImages, SegmentBatcher,
    resize_nearest_exact_u8,
};
use super::photos::PhotoMasks;
use super::{ConfusionMatrix, SegmentModel, Segmenter, UNetConfig, Upsampling};

/// Digit scenes rendered from MNIST ([`deepzero_data::scenes`]): training scenes from the
/// training split's digits, test scenes from the test split's, so no digit is in both. Classes:
/// background, then the ten digits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DigitScenes {
    /// Side of the square canvas.
    pub canvas: usize,
    /// Fewest digits per scene.
    pub min_objects: usize,
    /// Most digits per scene.
    pub max_objects: usize,
    /// Smallest side of a pasted digit.
    pub min_side: usize,
    /// Largest side of a pasted digit.
    pub max_side: usize,
    /// Training scenes (a validation share is held out of them).
    pub train_scenes: usize,
    /// Test scenes.
    pub test_scenes: usize,
    /// Training-time augmentation.
    pub augment: MaskAugmentation,
}

impl Default for DigitScenes {
    fn default() -> Self {
        Self {
            canvas: 64,
            min_objects: 1,
            max_objects: 3,
            min_side: 20,
            max_side: 32,
            train_scenes: 3000,
            test_scenes: 1000,
            // No scaling: a scene's mask is exactly its ink (pixels ≥ 64), and resampling the
            // image moves its brightness off that rule (after a 0.8–1.2 zoom 15 % of the digit
            // pixels disagree with it even with aligned resizes, 32 % with PyTorch's plain
            // nearest mask). Fine-tuning the 2-epoch model one pass on 3 000 scenes: valid mIoU
            // 0.887 unscaled, 0.865 aligned-scaled, 0.713 nearest-scaled. The scenes already
            // vary the digits' size (20–32 px) and place.
            augment: MaskAugmentation {
                scale: None,
                horizontal_flip: false,
                pad_class: 0,
            },
        }
    }
}

/// What a segmenter trains and is tested on.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentData {
    /// Digit scenes rendered from MNIST (the shipped sample without a data folder).
    Digits(DigitScenes),
    /// Photographs with mask files in coco128's layout; needs a data folder.
    Photos(PhotoMasks),
}

impl SegmentData {
    /// The training-time augmentation.
    pub fn augment(&self) -> &MaskAugmentation {
        match self {
            SegmentData::Digits(d) => &d.augment,
            SegmentData::Photos(p) => &p.augment,
        }
    }

    /// The training and test sets (from `data_dir` when given) and a line describing them.
    /// Seeded by `seed` (digit scenes only: photos are read as they are).
    pub fn load(
        &self,
        data_dir: Option<&Path>,
        seed: u64,
    ) -> Result<(MaskedImages, MaskedImages, String), TaskError> {
        match self {
            SegmentData::Digits(d) => load_scenes(d, data_dir, seed),
            SegmentData::Photos(p) => Ok(p.load(&photo_dir(data_dir)?)?),
        }
    }

    fn validate(&self) -> Result<(), TaskError> {
        match self {
            SegmentData::Digits(d) if d.train_scenes < 2 || d.test_scenes == 0 => Err(
                TaskError::invalid("digit scenes need at least 2 training scenes and 1 test scene"),
            ),
            SegmentData::Photos(p) if p.side < 8 => Err(TaskError::invalid(format!(
                "photos need a side of at least 8 pixels, not {}",
                p.side
            ))),
            _ => Ok(()),
        }
    }
}

/// The folder holding `semantic.yaml`: `data_dir`, or its `coco128` sub-folder.
fn photo_dir(data_dir: Option<&Path>) -> Result<PathBuf, TaskError> {
    let dir = data_dir.ok_or_else(|| {
        TaskError::invalid(
            "photographs with masks need a data folder (--data-dir): the folder with semantic.yaml, images/ and semantic_masks/, e.g. ../shared/datasets/coco128",
        )
    })?;
    [dir.to_path_buf(), dir.join("coco128")]
        .into_iter()
        .find(|d| d.join("semantic.yaml").is_file())
        .ok_or_else(|| {
            TaskError::invalid(format!(
                "{}: no semantic.yaml (nor in {}/coco128)",
                dir.display(),
                dir.display()
            ))
        })
}

/// Which segmenter to build, as `run.json` records it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum SegmentArch {
    /// [`super::UNet`].
    UNet {
        /// Channels of the first level.
        width: usize,
        /// Number of poolings.
        depth: usize,
        /// Bilinear + 1×1 upsampling instead of transposed convolutions.
        bilinear: bool,
    },
    /// [`super::DeepLabV3`] on a bottleneck ResNet whose `layer3`/`layer4` are dilated, with a
    /// 3×3 stride-2 stem and no max-pool (output stride 4: digit strokes are 2–3 px wide).
    DeepLabV3 {
        /// The ResNet's base width (torchvision: 64).
        width: usize,
        /// Bottleneck blocks per stage (ResNet-50: 3-4-6-3).
        blocks: [usize; 4],
        /// ASPP's channels (torchvision: 256).
        aspp_channels: usize,
        /// ASPP's dilation rates (torchvision: 12, 24, 36 at output stride 8 on 520 px).
        rates: [usize; 3],
    },
    /// [`super::DeepLabV3Plus`]: the encoder of `DeepLabV3` (same backbone, same knobs) and a
    /// decoder at `layer1`'s resolution (stride 2 with this stem) that sharpens the boundaries.
    DeepLabV3Plus {
        /// The ResNet's base width.
        width: usize,
        /// Bottleneck blocks per stage.
        blocks: [usize; 4],
        /// ASPP's channels, also the decoder's.
        aspp_channels: usize,
        /// ASPP's dilation rates.
        rates: [usize; 3],
        /// Channels `layer1` is projected to before the decoder (the paper: 48).
        low_level_channels: usize,
    },
    /// [`super::PspNet`] (Zhao et al. 2017) on the same digit backbone as `DeepLabV3`: the
    /// pyramid pooling module over `layer4`, a 3×3 convolution, the classifier.
    PspNet {
        /// The ResNet's base width.
        width: usize,
        /// Bottleneck blocks per stage.
        blocks: [usize; 4],
        /// Channels of the 3×3 convolution after the pyramid (the paper: 512).
        head_channels: usize,
        /// The pooled grids' sides (the paper: 1, 2, 3, 6).
        bins: [usize; 4],
    },
    /// [`super::FcnVgg`]: the paper's FCN-32s/16s/8s on VGG-16's configuration, its channels
    /// `width / 64` of the paper's (64-128-256-512-512 at 64).
    FcnVgg {
        /// How many skips the decoder fuses.
        stride: super::FcnStride,
        /// Channels of the first block (the paper: 64).
        width: usize,
        /// Channels of `fc6` and `fc7` (the paper: 4096).
        hidden: usize,
    },
    /// torchvision's `fcn_resnet50/101` or `deeplabv3_resnet50/101`, imported by
    /// [`super::import::import_torchvision`]: a bottleneck ResNet with the 7×7 stem and max-pool,
    /// `layer3`/`layer4` dilated (output stride 8), and its head.
    Torchvision {
        /// FCN or DeepLab v3.
        head: TorchvisionHead,
        /// The ResNet's base width (64 in torchvision's models).
        width: usize,
        /// Bottleneck blocks per stage (3-4-6-3 for ResNet-50, 3-4-23-3 for ResNet-101).
        blocks: [usize; 4],
        /// Whether the weights hold the auxiliary `FCNHead` on `layer3` (built so that every
        /// key of the file loads; prediction reads only the main head).
        aux: bool,
    },
}

/// The head of a [`SegmentArch::Torchvision`] model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TorchvisionHead {
    /// `FCNHead`.
    Fcn,
    /// `DeepLabHead`: ASPP, 3×3 convolution, classifier.
    DeepLabV3 {
        /// ASPP's channels (256 in torchvision's models).
        aspp_channels: usize,
        /// ASPP's dilation rates (12, 24, 36 in torchvision's models).
        rates: [usize; 3],
    },
}

impl SegmentArch {
    /// A short description (`u-net w16 d3`).
    pub fn name(&self) -> String {
        match self {
            SegmentArch::UNet {
                width,
                depth,
                bilinear,
            } => format!(
                "u-net w{width} d{depth}{}",
                if *bilinear { " bilinear" } else { "" }
            ),
            SegmentArch::DeepLabV3 {
                width,
                blocks,
                aspp_channels,
                rates,
            } => format!(
                "deeplab-v3 resnet w{width} blocks {blocks:?}, aspp {aspp_channels} rates {rates:?}"
            ),
            SegmentArch::DeepLabV3Plus {
                width,
                blocks,
                aspp_channels,
                rates,
                low_level_channels,
            } => format!(
                "deeplab-v3+ resnet w{width} blocks {blocks:?}, aspp {aspp_channels} rates {rates:?}, low-level {low_level_channels}"
            ),
            SegmentArch::PspNet {
                width,
                blocks,
                head_channels,
                bins,
            } => format!(
                "pspnet resnet w{width} blocks {blocks:?}, head {head_channels} bins {bins:?}"
            ),
            SegmentArch::FcnVgg {
                stride,
                width,
                hidden,
            } => {
                let stride = match stride {
                    super::FcnStride::S32 => 32,
                    super::FcnStride::S16 => 16,
                    super::FcnStride::S8 => 8,
                };
                format!("fcn-{stride}s vgg16 w{width} fc{hidden}")
            }
            SegmentArch::Torchvision {
                head,
                width,
                blocks,
                aux,
            } => {
                let head = match head {
                    TorchvisionHead::Fcn => "fcn".to_string(),
                    TorchvisionHead::DeepLabV3 {
                        aspp_channels,
                        rates,
                    } => format!("deeplab-v3 (aspp {aspp_channels} rates {rates:?})"),
                };
                let aux = if *aux { " + aux head" } else { "" };
                format!("torchvision {head} resnet w{width} blocks {blocks:?}{aux}")
            }
        }
    }

    /// Builds the model for `in_channels`-channel images and `num_classes` classes.
    pub fn build(&self, in_channels: usize, num_classes: usize, device: &Device) -> SegmentModel {
        match *self {
            SegmentArch::UNet {
                width,
                depth,
                bilinear,
            } => SegmentModel::UNet(
                UNetConfig::new(in_channels, num_classes)
                    .with_width(width)
                    .with_depth(depth)
                    .with_upsampling(if bilinear {
                        Upsampling::Bilinear
                    } else {
                        Upsampling::Transposed
                    })
                    .init(device),
            ),
            SegmentArch::DeepLabV3 {
                width,
                blocks,
                aspp_channels,
                rates,
            } => SegmentModel::ResNetHead(
                super::DeepLabV3Config::new(digit_resnet(in_channels, width, blocks), num_classes)
                    .with_aspp_channels(aspp_channels)
                    .with_atrous_rates(rates.to_vec())
                    .init(device),
            ),
            SegmentArch::DeepLabV3Plus {
                width,
                blocks,
                aspp_channels,
                rates,
                low_level_channels,
            } => SegmentModel::DeepLabV3Plus(
                super::DeepLabV3PlusConfig::new(
                    digit_resnet(in_channels, width, blocks),
                    num_classes,
                )
                .with_aspp_channels(aspp_channels)
                .with_atrous_rates(rates.to_vec())
                .with_low_level_channels(low_level_channels)
                .init(device),
            ),
            SegmentArch::PspNet {
                width,
                blocks,
                head_channels,
                bins,
            } => SegmentModel::ResNetHead(
                super::PspNetConfig::new(digit_resnet(in_channels, width, blocks), num_classes)
                    .with_head_channels(head_channels)
                    .with_bins(bins.to_vec())
                    .init(device),
            ),
            SegmentArch::FcnVgg {
                stride,
                width,
                hidden,
            } => {
                let vgg = crate::VggConfig::new(crate::VggCfg::D, num_classes)
                    .with_in_channels(in_channels)
                    .with_base_channels(width)
                    .with_hidden(hidden);
                SegmentModel::FcnVgg(
                    super::FcnVggConfig::new(vgg, num_classes)
                        .with_stride(stride)
                        .init(device),
                )
            }
            SegmentArch::Torchvision {
                head,
                width,
                blocks,
                aux,
            } => {
                let backbone = crate::ResNetConfig::new(crate::BlockKind::Bottleneck, blocks, 1)
                    .with_in_channels(in_channels)
                    .with_base_channels(width)
                    .dilated();
                SegmentModel::ResNetHead(match head {
                    TorchvisionHead::Fcn => super::FcnConfig::new(backbone, num_classes)
                        .with_aux(aux)
                        .init(device),
                    TorchvisionHead::DeepLabV3 {
                        aspp_channels,
                        rates,
                    } => super::DeepLabV3Config::new(backbone, num_classes)
                        .with_aux(aux)
                        .with_aspp_channels(aspp_channels)
                        .with_atrous_rates(rates.to_vec())
                        .init(device),
                })
            }
        }
    }

    /// Checks the knobs.
    pub fn validate(&self) -> Result<(), TaskError> {
        match *self {
            SegmentArch::UNet { width, depth, .. } => {
                if width == 0 || depth == 0 || depth > 6 {
                    return Err(TaskError::invalid(format!(
                        "a U-Net needs a width ≥ 1 and a depth of 1 to 6, not {width} and {depth}"
                    )));
                }
            }
            SegmentArch::DeepLabV3 {
                width,
                blocks,
                aspp_channels,
                rates,
            }
            | SegmentArch::DeepLabV3Plus {
                width,
                blocks,
                aspp_channels,
                rates,
                ..
            } => {
                let low_level = match *self {
                    SegmentArch::DeepLabV3Plus {
                        low_level_channels, ..
                    } => low_level_channels,
                    _ => 1,
                };
                if [width, aspp_channels, low_level].contains(&0)
                    || blocks.contains(&0)
                    || rates.contains(&0)
                {
                    return Err(TaskError::invalid(
                        "a DeepLab needs a width, ASPP (and low-level) channels, blocks per stage and rates of at least 1",
                    ));
                }
            }
            SegmentArch::PspNet {
                width,
                blocks,
                head_channels,
                bins,
            } => {
                if [width, head_channels].contains(&0) || blocks.contains(&0) || bins.contains(&0) {
                    return Err(TaskError::invalid(
                        "a PSPNet needs a width, head channels, blocks per stage and bins of at least 1",
                    ));
                }
            }
            SegmentArch::FcnVgg { width, hidden, .. } => {
                if width == 0 || hidden == 0 {
                    return Err(TaskError::invalid(
                        "an FCN needs a width and fc6/fc7 channels of at least 1",
                    ));
                }
            }
            SegmentArch::Torchvision {
                head,
                width,
                blocks,
                ..
            } => {
                let head_ok = match head {
                    TorchvisionHead::Fcn => true,
                    TorchvisionHead::DeepLabV3 {
                        aspp_channels,
                        rates,
                    } => aspp_channels > 0 && !rates.contains(&0),
                };
                if width == 0 || blocks.contains(&0) || !head_ok {
                    return Err(TaskError::invalid(
                        "a torchvision segmenter needs a width, blocks per stage, ASPP channels and rates of at least 1",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The DeepLab backbones of the digit recipes: a bottleneck ResNet with a 3×3 stride-2 stem and
/// no max-pool, `layer3`/`layer4` dilated (output stride 4: digit strokes are 2–3 px wide).
fn digit_resnet(in_channels: usize, width: usize, blocks: [usize; 4]) -> crate::ResNetConfig {
    crate::ResNetConfig::new(crate::BlockKind::Bottleneck, blocks, 1)
        .with_in_channels(in_channels)
        .with_base_channels(width)
        .with_stem_kernel(3)
        .with_stem_max_pool(false)
        .dilated()
}

/// What a segmentation run trains on what.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentSpec {
    /// The data.
    pub data: SegmentData,
    /// The model.
    pub arch: SegmentArch,
}

impl SegmentSpec {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TaskError> {
        self.arch.validate()?;
        self.data.validate()
    }
}

/// The segmentation recipes, with the settings their figures in docs/segmentation.md were
/// measured with.
pub fn recipes() -> Vec<Recipe<SegmentSpec>> {
    let cosine = LrSchedule::Cosine { min_lr_factor: 0.0 };
    vec![
        Recipe::new(
            "digits-unet",
            "3.3",
            "U-Net (width 12, depth 4) segmenting MNIST digit scenes: background + 10 digit classes",
            SegmentSpec {
                // 3 000 scenes reached mIoU 0.61 in 10 epochs; 16 000 (distinct digits rather
                // than more passes over the same ones) reached 0.71 in 2, both with the zoom
                // augmentation that moved labels off the ink (see `DigitScenes::default`).
                data: SegmentData::Digits(DigitScenes {
                    train_scenes: 16_000,
                    ..DigitScenes::default()
                }),
                arch: SegmentArch::UNet {
                    width: 12,
                    depth: 4,
                    bilinear: false,
                },
            },
            // 5 epochs, the measured run of docs/segmentation.md (valid mIoU 0.73 after 1,
            // 0.92 after 2: the later epochs mostly fix which digit a stroke belongs to).
            FitConfig::recipe(5, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
        Recipe::new(
            "digits-deeplab",
            "3.3",
            "DeepLab v3+ (ASPP on a dilated bottleneck ResNet, width 8, decoder at stride 2) segmenting MNIST digit scenes",
            SegmentSpec {
                // 2 430 training scenes already reached test mIoU 0.868 in 6 epochs (5 min),
                // against DeepLab v3's 0.716 on 2 700; docs/segmentation.md.
                data: SegmentData::Digits(DigitScenes {
                    train_scenes: 16_000,
                    ..DigitScenes::default()
                }),
                arch: SegmentArch::DeepLabV3Plus {
                    width: 8,
                    blocks: [1, 1, 1, 1],
                    aspp_channels: 32,
                    rates: [2, 4, 6],
                    low_level_channels: 16,
                },
            },
            FitConfig::recipe(6, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
        Recipe::new(
            "digits-deeplab-v3",
            "3.3",
            "DeepLab v3 (the same encoder, no decoder: logits at stride 4) segmenting MNIST digit scenes",
            SegmentSpec {
                // 2 700 training scenes reached test mIoU 0.716 in 6 epochs (3 min), the
                // U-Net's 16 000 distinct scenes 0.789 (16 min): the masks spill over the
                // strokes' edges (docs/segmentation.md).
                data: SegmentData::Digits(DigitScenes {
                    train_scenes: 16_000,
                    ..DigitScenes::default()
                }),
                arch: SegmentArch::DeepLabV3 {
                    width: 8,
                    blocks: [1, 1, 1, 1],
                    aspp_channels: 32,
                    rates: [2, 4, 6],
                },
            },
            FitConfig::recipe(6, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
        Recipe::new(
            "digits-pspnet",
            "3.3",
            "PSPNet (pyramid pooling 1-2-3-6 on the same dilated ResNet, width 8) segmenting MNIST digit scenes",
            SegmentSpec {
                // Trained as digits-deeplab-v3: the same encoder, PSPNet's head instead of ASPP.
                data: SegmentData::Digits(DigitScenes {
                    train_scenes: 16_000,
                    ..DigitScenes::default()
                }),
                arch: SegmentArch::PspNet {
                    width: 8,
                    blocks: [1, 1, 1, 1],
                    head_channels: 32,
                    bins: [1, 2, 3, 6],
                },
            },
            FitConfig::recipe(6, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
        Recipe::new(
            "digits-fcn8s",
            "3.3",
            "FCN-8s (the paper's VGG-16 FCN with pool3/pool4 skips, width 8, fc6/fc7 128) segmenting MNIST digit scenes",
            SegmentSpec {
                data: SegmentData::Digits(DigitScenes {
                    train_scenes: 16_000,
                    ..DigitScenes::default()
                }),
                arch: SegmentArch::FcnVgg {
                    stride: super::FcnStride::S8,
                    width: 8,
                    hidden: 128,
                },
            },
            FitConfig::recipe(6, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
        Recipe::new(
            "coco128-unet",
            "3.3",
            "U-Net (width 16, depth 4) from scratch on coco128's photographs: 129 COCO panoptic classes (+ unlabeled, ignored) at 160², trained on train2017, tested on val2017 (--data-dir required)",
            SegmentSpec {
                data: SegmentData::Photos(PhotoMasks::coco128(160)),
                arch: SegmentArch::UNet {
                    width: 16,
                    depth: 4,
                    bilinear: false,
                },
            },
            FitConfig::recipe(60, 8, 2e-3, OptimizerKind::Adam, cosine),
        ),
    ]
}

/// The current version of [`SegmentRunInfo`]'s format.
pub const RUN_VERSION: u32 = 1;

/// What `OUT/run.json` records about a trained segmenter.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentRunInfo {
    /// Format version.
    pub version: u32,
    /// Recipe name.
    pub recipe: String,
    /// The model.
    pub arch: SegmentArch,
    /// Input `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Class names, index = class id (0 = background).
    pub class_names: Vec<String>,
    /// Per-channel normalisation mean (of pixel/255).
    pub mean: Vec<f32>,
    /// Per-channel normalisation standard deviation.
    pub std: Vec<f32>,
    /// Where the training data came from.
    pub data: String,
    /// When set, [`Predictor`] resizes each image so that its shorter side has this many pixels,
    /// keeping the aspect ratio (torchvision's evaluation transform for its segmenters), instead
    /// of to `input_shape`'s height and width. Absent in the runs trained here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_shorter: Option<usize>,
}

deepzero_train::impl_run_info!(SegmentRunInfo, RUN_VERSION);

impl SegmentRunInfo {
    fn batcher(&self) -> SegmentBatcher {
        SegmentBatcher::new(self.mean.clone(), self.std.clone())
    }

    /// Reads `DIR/run.json`, checking its version, that it is usable and, when `recipe` is
    /// given, that the run was made by it.
    pub fn load(dir: &Path, recipe: Option<&str>) -> Result<Self, TaskError> {
        let info: Self = load_run_info(dir, recipe)?;
        let channels = info.input_shape[0];
        if info.mean.len() != channels
            || info.std.len() != channels
            || info.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || info.class_names.len() < 2
            || info.input_shape.contains(&0)
            || info.resize_shorter == Some(0)
        {
            return Err(TaskError::invalid(format!(
                "{}: run.json needs a non-empty input shape, {channels} means, {channels} positive standard deviations and at least two classes",
                dir.display()
            )));
        }
        info.arch.validate()?;
        Ok(info)
    }

    /// The trained model of the run in `dir`, on `device`.
    pub fn load_model(&self, dir: &Path, device: &Device) -> Result<SegmentModel, TaskError> {
        let model = self
            .arch
            .build(self.input_shape[0], self.class_names.len(), device);
        Ok(load_model(model, &model_file(dir)?)?)
    }

    /// Writes `DIR/run.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), TaskError> {
        std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
        Ok(write_json_atomic(&dir.join("run.json"), self)?)
    }
}

/// The training and test scenes of `data`, drawn from the MNIST files in `data_dir` (or its
/// `mnist` sub-folder), else from the shipped sample `datasets/mnist-sample`. Seeded by `seed`.
pub fn load_scenes(
    data: &DigitScenes,
    data_dir: Option<&Path>,
    seed: u64,
) -> Result<(MaskedImages, MaskedImages, String), TaskError> {
    let (dir, source) = crate::tasks::classify::idx_dir(IdxCorpus::Mnist, data_dir)?;
    let config = |seed| SceneConfig {
        canvas: data.canvas,
        min_objects: data.min_objects,
        max_objects: data.max_objects,
        min_side: data.min_side,
        max_side: data.max_side,
        max_iou: 0.0,
        clutter: 0,
        seed,
    };
    let to_set = |split: Split, count: usize, seed: u64| -> Result<MaskedImages, TaskError> {
        let digits = IdxCorpus::Mnist.load(&dir, split)?;
        let scenes = render_scenes(&[&digits], &config(seed), count)?;
        let mut class_names = vec!["background".to_string()];
        class_names.extend(scenes.class_names.iter().cloned());
        let items = scenes
            .scenes
            .iter()
            .map(|s| MaskedImage::new(s.to_image_item(), s.mask.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MaskedImages::new(items, class_names)?)
    };
    let train = to_set(Split::Train, data.train_scenes, seed)?;
    // Another seed, and the test split's digits: no scene and no digit is shared.
    let test = to_set(Split::Test, data.test_scenes, seed ^ 0x7e57_5ce7e)?;
    let label = format!(
        "{} digit scenes {}² ({}–{} digits of {}–{} px) from {source}",
        data.train_scenes + data.test_scenes,
        data.canvas,
        data.min_objects,
        data.max_objects,
        data.min_side,
        data.max_side
    );
    Ok((train, test, label))
}

/// Per-channel mean and standard deviation of pixel/255 over the images of `set`.
pub fn channel_stats(set: &MaskedImages) -> (Vec<f32>, Vec<f32>) {
    let [c, h, w] = set.shape();
    let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
    for item in &set.items {
        for (ch, plane) in item.image.pixels.chunks_exact(h * w).enumerate() {
            for &p in plane {
                let v = f64::from(p) / 255.0;
                sum[ch] += v;
                sq[ch] += v * v;
            }
        }
    }
    let n = (set.len() * h * w).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| ((q / n - f64::from(m).powi(2)).max(1e-6)).sqrt() as f32)
        .collect();
    (mean, std)
}

/// The confusion matrix of `model` (in inference mode) over every image of `set`, in batches of
/// `batch_size` on `device`.
pub fn evaluate_segmenter<M: Segmenter>(
    model: &M,
    set: &MaskedImages,
    batcher: &SegmentBatcher,
    batch_size: usize,
    device: &Device,
) -> Result<ConfusionMatrix, TaskError> {
    use burn::data::dataloader::batcher::Batcher;
    let mut matrix = ConfusionMatrix::new(set.class_names.len());
    for chunk in set.items.chunks(batch_size.max(1)) {
        let batch = batcher.batch(chunk.to_vec(), device);
        let predicted = argmax_masks(model.segment(batch.images))?;
        let targets: Vec<usize> = chunk
            .iter()
            .flat_map(|i| i.mask.iter().map(|&v| usize::from(v)))
            .collect();
        matrix
            .update(&targets, &predicted)
            .map_err(|e| TaskError::invalid(e.to_string()))?;
    }
    Ok(matrix)
}

/// The arg-max class of every pixel of logits `[B, K, H, W]`, as `B·H·W` ids.
fn argmax_masks(logits: Tensor<4>) -> Result<Vec<usize>, TaskError> {
    let ids = logits.argmax(1); // [B, 1, H, W]
    let ids: Vec<i64> = ids
        .try_into_vec_as::<i64>()
        .map_err(|e| TaskError::invalid(format!("{e:?}")))?;
    Ok(ids.into_iter().map(|v| v.max(0) as usize).collect())
}

/// The printed summary of a confusion matrix.
fn summary(matrix: &ConfusionMatrix) -> String {
    format!(
        "mIoU {:.4}, pixel accuracy {:.2}%, mean Dice {:.4}",
        matrix.mean_iou(),
        matrix.pixel_accuracy() * 100.0,
        matrix.mean_dice()
    )
}

/// Trains a segmenter as `spec` says into `settings.out`; returns what it wrote to
/// `metrics.json` (`test`: pixel accuracy, mean IoU, mean Dice and per-class figures).
pub fn train(spec: &SegmentSpec, settings: &RunSettings) -> Result<RunReport, TaskError> {
    spec.validate()?;
    settings.validate()?;
    let (all_train, test, source) = spec
        .data
        .load(settings.data_dir.as_deref(), settings.seed())?;
    let (mean, std) = channel_stats(&all_train);
    let info = SegmentRunInfo {
        version: RUN_VERSION,
        recipe: settings.name.clone(),
        arch: spec.arch,
        input_shape: all_train.shape(),
        class_names: all_train.class_names.clone(),
        mean,
        std,
        data: source.clone(),
        resize_shorter: None,
    };
    let out = settings.create_out()?;
    info.save(out)?;

    let (train_idx, valid_idx) = train_valid_split(
        all_train.len(),
        settings.valid_fraction.max(1.0 / all_train.len() as f64),
        settings.seed(),
    );
    let valid = all_train.select(&valid_idx);
    let batcher = info.batcher();
    let augmented = std::sync::Arc::new(AugmentedMasks::new(
        all_train.select(&train_idx),
        spec.data.augment().clone(),
        settings.seed(),
    ));
    let hook = augmented.clone();
    let train_source = DatasetBatches::new(augmented, batcher.clone())
        .with_epoch_hook(move |epoch| hook.set_epoch(epoch));
    let valid_source = DatasetBatches::new(valid.clone(), batcher.clone());

    let mut progress = settings.progress();
    progress.message(&format!(
        "{}: {} on {} ({} train / {} valid / {} test), backend {}, {}, out {}",
        settings.name,
        spec.arch.name(),
        source,
        train_source.len(),
        valid_source.len(),
        test.len(),
        settings.backend,
        settings.fit.describe(),
        out.display()
    ));
    let device = settings.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(settings.seed());
    let model = spec
        .arch
        .build(info.input_shape[0], info.class_names.len(), &train_device);
    let identity = json!({
        "recipe": info.recipe,
        "arch": info.arch,
        "input_shape": info.input_shape,
        "classes": info.class_names.len(),
    });
    // The validation mean IoU of every epoch, on the epoch line and in metrics.csv (the loop's
    // own figures are the loss and the pixel accuracy, which the background dominates).
    let classes = info.class_names.len();
    let hooks = FitHooks::default().valid_metrics(move |r| {
        let mut matrix = ConfusionMatrix::new(classes);
        match matrix.update(&r.targets, &r.predictions) {
            Ok(()) => vec![("mean_iou".into(), matrix.mean_iou())],
            Err(_) => Vec::new(), // a class id out of range: refused by the final evaluation
        }
    });
    let outcome = settings.fit_and_save_with(
        model,
        &train_source,
        Some(&valid_source),
        &train_device,
        identity,
        &mut progress,
        hooks,
    )?;
    let model = outcome.model.clone();
    let eval_batch = settings.eval_batch_size.unwrap_or(64);
    let valid_matrix = evaluate_segmenter(&model, &valid, &batcher, eval_batch, &device)?;
    let test_matrix = evaluate_segmenter(&model, &test, &batcher, eval_batch, &device)?;
    let parameters = crate::trainable_params(&model);
    let report = RunReport {
        data: json!({
            "source": source,
            "train_examples": train_source.len(),
            "valid_examples": valid.len(),
            "test_examples": test.len(),
        }),
        valid: valid_matrix.report(&info.class_names),
        test: test_matrix.report(&info.class_names),
        ..RunReport::new(settings, &outcome, spec.arch.name(), parameters)
    };
    let path = report.write(out)?;
    progress.message(&format!(
        "test: {} (model of epoch {}) -> {}",
        summary(&test_matrix),
        report.model_epoch,
        path.display()
    ));
    Ok(report)
}

/// The test-split figures of the run in `run` (the scenes as `spec` and `settings.data_dir`
/// say); writes `settings.out/metrics.json`.
pub fn evaluate_run(
    spec: &SegmentSpec,
    run: &Path,
    settings: &RunSettings,
) -> Result<EvalReport, TaskError> {
    let info = SegmentRunInfo::load(run, Some(&settings.name))?;
    let (_, test, source) = spec
        .data
        .load(settings.data_dir.as_deref(), settings.seed())?;
    if test.shape() != info.input_shape || test.class_names.len() != info.class_names.len() {
        return Err(TaskError::invalid(format!(
            "the scenes ({:?}, {} classes) do not match the run ({:?}, {} classes)",
            test.shape(),
            test.class_names.len(),
            info.input_shape,
            info.class_names.len()
        )));
    }
    let device = settings.device()?;
    let model = info.load_model(run, &device)?;
    let start = std::time::Instant::now();
    let matrix = evaluate_segmenter(
        &model,
        &test,
        &info.batcher(),
        settings.eval_batch_size.unwrap_or(64),
        &device,
    )?;
    let report = EvalReport::new(
        settings,
        run,
        &source,
        test.len(),
        start.elapsed().as_secs_f64(),
        matrix.report(&info.class_names),
    );
    let path = report.write(&settings.out)?;
    settings.progress().message(&format!(
        "{}: test {} on {} scenes -> {}",
        settings.name,
        summary(&matrix),
        test.len(),
        path.display()
    ));
    Ok(report)
}

impl deepzero_train::Task for SegmentSpec {
    fn train(&self, settings: &RunSettings) -> Result<(), TaskError> {
        train(self, settings).map(drop)
    }

    fn evaluate_run(&self, run: &Path, settings: &RunSettings) -> Result<(), TaskError> {
        evaluate_run(self, run, settings).map(drop)
    }
}

/// One image's segmentation.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentPrediction {
    /// The image file.
    pub image: String,
    /// `[H, W]` of the file (the mask is at this size).
    pub size: [usize; 2],
    /// Pixels per class, for the classes that occur: (class id, name, pixels).
    pub class_pixels: Vec<(usize, String, usize)>,
    /// The class of every pixel, row-major `H × W`.
    #[serde(skip)]
    pub mask: Vec<u8>,
    /// Where [`Predictor::segment_into`] drew the mask onto the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<PathBuf>,
}

impl std::fmt::Display for SegmentPrediction {
    /// `image: class pixels, class pixels, …`, then ` -> picture` once drawn.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.image)?;
        for (i, (_, name, pixels)) in self.class_pixels.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{name} {pixels}")?;
        }
        match &self.picture {
            Some(picture) => write!(f, " -> {}", picture.display()),
            None => Ok(()),
        }
    }
}

/// A trained segmenter loaded from its run folder.
pub struct Predictor {
    info: SegmentRunInfo,
    model: SegmentModel,
    device: Device,
}

impl Predictor {
    /// Loads the run in `dir` (checking, when `recipe` is given, that it made the run).
    pub fn load(dir: &Path, recipe: Option<&str>, device: &Device) -> Result<Self, TaskError> {
        let info = SegmentRunInfo::load(dir, recipe)?;
        let model = info.load_model(dir, device)?;
        Ok(Self {
            info,
            model,
            device: device.clone(),
        })
    }

    /// What run.json says about the model.
    pub fn info(&self) -> &SegmentRunInfo {
        &self.info
    }

    /// The `[H, W]` the model reads an image of `[fh, fw]` at: `input_shape`'s, or with
    /// [`SegmentRunInfo::resize_shorter`] the shorter side at that size and the longer one
    /// scaled alike, truncated as torchvision's `Resize` does (`int(size · long / short)`).
    pub fn model_size(&self, [fh, fw]: [usize; 2]) -> [usize; 2] {
        let [_, h, w] = self.info.input_shape;
        match self.info.resize_shorter {
            None => [h, w],
            Some(side) => {
                let scaled = |long: usize, short: usize| (side * long / short.max(1)).max(1);
                if fh <= fw {
                    [side, scaled(fw, fh)]
                } else {
                    [scaled(fh, fw), side]
                }
            }
        }
    }

    /// The image at its own size and resized as the model reads it ([`Self::model_size`]).
    fn read(&self, path: &Path) -> Result<(ImageItem, ImageItem), TaskError> {
        let c = self.info.input_shape[0];
        if !path.is_file() {
            return Err(TaskError::invalid(format!(
                "{}: no such image file",
                path.display()
            )));
        }
        let (fw, fh) = image::image_dimensions(path).map_err(|source| {
            TaskError::Data(deepzero_data::DataError::Decode {
                path: path.to_path_buf(),
                source,
            })
        })?;
        let original = load_image(path, c, [fh as usize, fw as usize])?;
        let resized = load_image(path, c, self.model_size([fh as usize, fw as usize]))?;
        Ok((original, resized))
    }

    /// Segments each image file: resized to the model's input, then the mask resized back to
    /// the file's size by nearest neighbour with half-pixel centres (as the image was resized),
    /// so it does not shift by up to half a pixel at non-integer ratios.
    pub fn predict(&self, images: &[PathBuf]) -> Result<Vec<SegmentPrediction>, TaskError> {
        use burn::data::dataloader::batcher::Batcher;
        let batcher = self.info.batcher();
        let mut out = Vec::with_capacity(images.len());
        for path in images {
            let (original, resized) = self.read(path)?;
            let [_, h, w] = resized.shape;
            let item = MaskedImage {
                mask: vec![0; h * w],
                image: resized,
            };
            let batch = batcher.batch(vec![item], &self.device);
            let logits = self.model.segment(batch.images);
            let finite: bool = logits.clone().is_finite().all().into_scalar::<bool>();
            if !finite {
                return Err(TaskError::invalid(
                    "the model's logits are not finite numbers (are its weights?)",
                ));
            }
            let small: Vec<u8> = argmax_masks(logits)?.into_iter().map(|k| k as u8).collect();
            let [_, fh, fw] = original.shape;
            let mask = resize_nearest_exact_u8(&small, [h, w], [fh, fw]);
            let mut counts = vec![0usize; self.info.class_names.len()];
            for &k in &mask {
                counts[usize::from(k)] += 1;
            }
            out.push(SegmentPrediction {
                image: path.display().to_string(),
                size: [fh, fw],
                class_pixels: counts
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, &n)| (k, self.info.class_names[k].clone(), n))
                    .collect(),
                mask,
                picture: None,
            });
        }
        Ok(out)
    }

    /// Draws `prediction`'s mask onto its image (class colours blended at 60 %) into `out`
    /// (PNG).
    pub fn draw(&self, prediction: &SegmentPrediction, out: &Path) -> Result<(), TaskError> {
        let (original, _) = self.read(Path::new(&prediction.image))?;
        let picture = super::overlay(&original, &prediction.mask, 0.6);
        Ok(super::draw::save_rgb(out, &picture)?)
    }

    /// [`Predictor::predict`], each mask drawn onto its image into `dir/STEM.mask.png`
    /// ([`SegmentPrediction::picture`]; `dir` is created).
    pub fn segment_into(
        &self,
        images: &[PathBuf],
        dir: &Path,
    ) -> Result<Vec<SegmentPrediction>, TaskError> {
        let mut predictions = self.predict(images)?;
        std::fs::create_dir_all(dir).map_err(TaskError::io(dir))?;
        for (i, (prediction, image)) in predictions.iter_mut().zip(images).enumerate() {
            let stem = image
                .file_stem()
                .map_or_else(|| format!("image{i}"), |s| s.to_string_lossy().into_owned());
            let picture = dir.join(format!("{stem}.mask.png"));
            self.draw(prediction, &picture)?;
            prediction.picture = Some(picture);
        }
        Ok(predictions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trains a tiny U-Net for one epoch on a few scenes of the shipped MNIST sample, then
    /// evaluates, reloads and predicts: the whole run-folder round trip.
    #[test]
    fn train_evaluate_predict_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SegmentSpec {
            data: SegmentData::Digits(DigitScenes {
                canvas: 32,
                max_objects: 2,
                min_side: 12,
                max_side: 16,
                train_scenes: 24,
                test_scenes: 8,
                ..DigitScenes::default()
            }),
            arch: SegmentArch::UNet {
                width: 4,
                depth: 2,
                bilinear: true,
            },
        };
        let mut settings = RunSettings::new("digits-unet", dir.path().join("run"));
        settings.fit = FitConfig::recipe(1, 8, 1e-3, OptimizerKind::Adam, LrSchedule::Constant);
        settings.quiet = true;
        let report = train(&spec, &settings).unwrap();
        let miou = report.test["mean_iou"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&miou), "{miou}");
        assert_eq!(report.test["classes"].as_array().unwrap().len(), 11);
        // Each epoch's validation mean IoU is in metrics.csv; the last epoch's is the final
        // validation figure (the same model, the same scenes).
        let csv = std::fs::read_to_string(settings.out.join("metrics.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = header.iter().position(|h| *h == "valid_mean_iou").unwrap();
        let last = csv.lines().last().unwrap().split(',').nth(column).unwrap();
        let per_epoch: f64 = last.parse().unwrap();
        let final_valid = report.valid["mean_iou"].as_f64().unwrap();
        assert!(
            (per_epoch - final_valid).abs() < 1e-5,
            "{per_epoch} vs {final_valid}"
        );

        let eval_settings = RunSettings {
            out: dir.path().join("eval"),
            ..settings.clone()
        };
        let eval = evaluate_run(&spec, &settings.out, &eval_settings).unwrap();
        assert_eq!(eval.test["mean_iou"], report.test["mean_iou"]);

        let (_, test, _) = spec.data.load(None, 1).unwrap();
        let png = dir.path().join("scene.png");
        image::GrayImage::from_raw(32, 32, test.items[0].image.pixels.clone())
            .unwrap()
            .save(&png)
            .unwrap();
        let predictor =
            Predictor::load(&settings.out, Some("digits-unet"), &Device::flex()).unwrap();
        let p = predictor.predict(std::slice::from_ref(&png)).unwrap();
        assert_eq!(p[0].mask.len(), 32 * 32);
        assert_eq!(
            p[0].class_pixels.iter().map(|c| c.2).sum::<usize>(),
            32 * 32
        );
        let drawn = dir.path().join("drawn");
        let p = predictor
            .segment_into(std::slice::from_ref(&png), &drawn)
            .unwrap();
        let picture = drawn.join("scene.mask.png");
        assert_eq!(p[0].picture.as_deref(), Some(picture.as_path()));
        assert_eq!(image::image_dimensions(&picture).unwrap(), (32, 32));
        let shown = p[0].to_string();
        assert!(
            shown.starts_with(&format!("{}: ", png.display())),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!(" -> {}", picture.display())),
            "{shown}"
        );
        let json = serde_json::to_value(&p[0]).unwrap();
        assert_eq!(json["picture"], picture.display().to_string());

        // The DeepLab recipe builds and segments at the input's size.
        let deeplab = &recipes()[1];
        let model = deeplab.spec.arch.build(1, 11, &Device::flex());
        assert_eq!(
            model
                .segment(Tensor::zeros([1, 1, 32, 32], &Device::flex()))
                .dims(),
            [1, 11, 32, 32]
        );

        // Another recipe's name, a corrupt image: one-line errors.
        assert!(Predictor::load(&settings.out, Some("digits-deeplab"), &Device::flex()).is_err());
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not a png").unwrap();
        let err = predictor.predict(&[bad]).unwrap_err().to_string();
        assert!(err.contains("bad.png"), "{err}");
    }

    /// A photo folder in coco128's layout trains, evaluates and predicts: two classes told apart
    /// by brightness, the unlabeled pixels counted nowhere, new photos answered at their size.
    #[test]
    fn photos_train_evaluate_and_predict() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        super::super::photos::write_test_folder(&data, 4);
        let spec = SegmentSpec {
            data: SegmentData::Photos(PhotoMasks {
                train_split: "a".into(),
                test_split: "b".into(),
                ..PhotoMasks::coco128(8)
            }),
            arch: SegmentArch::UNet {
                width: 4,
                depth: 1,
                bilinear: true,
            },
        };
        let mut settings = RunSettings::new("coco128-unet", dir.path().join("run"));
        settings.fit = FitConfig::recipe(40, 4, 2e-2, OptimizerKind::Adam, LrSchedule::Constant);
        settings.valid_fraction = 0.25;
        settings.quiet = true;
        settings.data_dir = Some(dir.path().to_path_buf());
        // No semantic.yaml in `dir` itself, none in dir/coco128: refused in one line.
        let err = train(&spec, &settings).unwrap_err().to_string();
        assert!(err.contains("semantic.yaml"), "{err}");
        settings.data_dir = Some(data.clone());
        let report = train(&spec, &settings).unwrap();
        // Classes 2 and 3 are the only ones in the masks; the unlabeled class 0 is ignored.
        let classes = report.test["classes"].as_array().unwrap();
        assert_eq!(classes.len(), 4);
        let miou = report.test["mean_iou"].as_f64().unwrap();
        assert!(miou > 0.9, "{}", report.test);
        let info = SegmentRunInfo::load(&settings.out, Some("coco128-unet")).unwrap();
        assert_eq!(info.input_shape, [3, 8, 8]);
        assert_eq!(info.class_names[0], "unlabeled");

        let eval_settings = RunSettings {
            out: dir.path().join("eval"),
            ..settings.clone()
        };
        let eval = evaluate_run(&spec, &settings.out, &eval_settings).unwrap();
        assert_eq!(eval.test["mean_iou"], report.test["mean_iou"]);

        let predictor = Predictor::load(&settings.out, None, &Device::flex()).unwrap();
        let photo = data.join("images/b/000.png");
        let p = predictor.predict(&[photo]).unwrap();
        assert_eq!(p[0].size, [8, 12]);
        let left: Vec<u8> = p[0].mask.chunks(12).map(|row| row[2]).collect();
        let right: Vec<u8> = p[0].mask.chunks(12).map(|row| row[9]).collect();
        assert_eq!((left, right), (vec![2; 8], vec![3; 8]));

        // Without a data folder: a one-line error that says what to give.
        settings.data_dir = None;
        let err = train(&spec, &settings).unwrap_err().to_string();
        assert!(err.contains("--data-dir"), "{err}");
    }

    /// The DeepLab variants, PSPNet and FCN-VGG survive run.json, build at the input's size, and refuse a zero knob.
    #[test]
    fn resnet_architectures_round_trip_and_validate() {
        let v3 = SegmentArch::DeepLabV3 {
            width: 2,
            blocks: [1, 1, 1, 1],
            aspp_channels: 4,
            rates: [1, 2, 3],
        };
        let plus = SegmentArch::DeepLabV3Plus {
            width: 2,
            blocks: [1, 1, 1, 1],
            aspp_channels: 4,
            rates: [1, 2, 3],
            low_level_channels: 3,
        };
        let psp = SegmentArch::PspNet {
            width: 2,
            blocks: [1, 1, 1, 1],
            head_channels: 4,
            bins: [1, 2, 3, 6],
        };
        let fcn = SegmentArch::FcnVgg {
            stride: super::super::FcnStride::S16,
            width: 2,
            hidden: 4,
        };
        for arch in [v3, plus, psp, fcn] {
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(serde_json::from_str::<SegmentArch>(&json).unwrap(), arch);
            arch.validate().unwrap();
            let model = arch.build(1, 5, &Device::flex());
            // FCN's trunk pools five times: at least 32 pixels a side.
            let [h, w] = match arch {
                SegmentArch::FcnVgg { .. } => [32, 48],
                _ => [24, 16],
            };
            let logits = model.segment(Tensor::zeros([2, 1, h, w], &Device::flex()));
            assert_eq!(logits.dims(), [2, 5, h, w]);
        }
        assert!(matches!(
            plus.build(1, 5, &Device::flex()),
            SegmentModel::DeepLabV3Plus(_)
        ));
        let no_decoder = SegmentArch::DeepLabV3Plus {
            width: 2,
            blocks: [1, 1, 1, 1],
            aspp_channels: 4,
            rates: [1, 2, 3],
            low_level_channels: 0,
        };
        let err = no_decoder.validate().unwrap_err().to_string();
        assert!(err.contains("low-level"), "{err}");
    }
}
