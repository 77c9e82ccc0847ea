//! The `image-folder` recipe's choices from the data (chapter 7.2): what a person setting up a
//! classifier for a new class-per-folder tree would decide after looking at it.
//!
//! - **input size**: the median shorter side of the images, rounded to a multiple of 4 and
//!   kept within 8–64 px (the small CNN's budget on a CPU); **channels**: 1 when every image is
//!   stored grey, else 3;
//! - **augmentation** ([`AugmentLevel`]): `light` (small shifts) when the training split has
//!   many images per class, `standard` (rotation, shift and zoom) when it has few;
//! - **flips** only where the classes do not change under a mirror ([`flip_test`]: a
//!   nearest-neighbour classifier of small thumbnails is asked to classify mirrored images; a
//!   class whose mirrored images it no longer recognises — arrows pointing left or right, `b`
//!   and `d` — is orientation-sensitive);
//! - **class-balanced sampling** ([`deepzero_data::balanced_oversample`]) when the largest class
//!   has at least 1.5× the training images of the smallest.
//!
//! Every choice can be forced through [`FolderOptions`]; what was chosen and why is printed and
//! recorded in `metrics.json` (`data.choices`).

use std::fmt;
use std::str::FromStr;

use deepzero_data::{AffineRange, Augmentation, FolderStats, InMemoryImages};
use serde::{Deserialize, Serialize};

/// How much training-time augmentation to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentLevel {
    /// None: every epoch sees the same images.
    None,
    /// Shifts of up to 1/16 of the side (padded random crops), and flips where allowed.
    Light,
    /// Rotations of up to 10°, shifts of up to 10 % and zooms of ±10 %, and flips where allowed.
    Standard,
    /// Rotations of up to 20°, shifts of up to 15 % and zooms of 0.8–1.25, and flips where
    /// allowed.
    Strong,
}

impl AugmentLevel {
    /// Every level, weakest first.
    pub const ALL: [AugmentLevel; 4] = [
        AugmentLevel::None,
        AugmentLevel::Light,
        AugmentLevel::Standard,
        AugmentLevel::Strong,
    ];

    /// `none`, `light`, `standard` or `strong`.
    pub fn name(self) -> &'static str {
        match self {
            AugmentLevel::None => "none",
            AugmentLevel::Light => "light",
            AugmentLevel::Standard => "standard",
            AugmentLevel::Strong => "strong",
        }
    }

    /// The transformations of this level for `side`-pixel images, with or without flips
    /// (`none` never flips).
    pub fn augmentation(self, side: usize, flip: bool) -> Augmentation {
        let affine = |rotation: f32, shift: f32, scale: (f32, f32)| {
            Some(AffineRange {
                max_rotation_deg: rotation,
                max_translate_frac: shift,
                scale,
            })
        };
        match self {
            AugmentLevel::None => Augmentation::default(),
            AugmentLevel::Light => Augmentation {
                crop_padding: Some((side / 16).max(1)),
                horizontal_flip: flip,
                affine: None,
            },
            AugmentLevel::Standard => Augmentation {
                crop_padding: None,
                horizontal_flip: flip,
                affine: affine(10.0, 0.1, (0.9, 1.1)),
            },
            AugmentLevel::Strong => Augmentation {
                crop_padding: None,
                horizontal_flip: flip,
                affine: affine(20.0, 0.15, (0.8, 1.25)),
            },
        }
    }
}

impl fmt::Display for AugmentLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AugmentLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|level| level.name() == s)
            .ok_or_else(|| {
                format!("unknown augmentation level `{s}` (none, light, standard, strong)")
            })
    }
}

/// What the `image-folder` recipe is told; `None` everywhere means "choose from the data".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FolderOptions {
    /// Side length of the resized images (a multiple of 4, at least 8).
    pub image_size: Option<usize>,
    /// Augmentation level.
    pub augment: Option<AugmentLevel>,
    /// Mirror images left–right while training (with a level other than `none`).
    pub flip: Option<bool>,
    /// Oversample the smaller classes of the training split up to the largest.
    pub balance: Option<bool>,
    /// Channels of the model's input, 1 or 3 (fine-tuning sets the pre-trained model's).
    pub channels: Option<usize>,
}

/// The largest input side the recipe chooses by itself (a CPU budget for the small CNN).
pub const MAX_AUTO_SIDE: usize = 64;

/// Training images per class from which `light` augmentation is enough.
pub const MANY_PER_CLASS: usize = 500;

/// Imbalance (largest class over smallest) from which the training split is oversampled.
pub const IMBALANCE: f64 = 1.5;

/// The median shorter side rounded to a multiple of 4, within 8 ..= [`MAX_AUTO_SIDE`].
pub fn auto_image_size(stats: &FolderStats) -> usize {
    let median = stats.median_short_side().unwrap_or(MAX_AUTO_SIDE as u32) as usize;
    (median.div_ceil(4) * 4).clamp(8, MAX_AUTO_SIDE)
}

/// `standard` for fewer than [`MANY_PER_CLASS`] training images in the smallest class, else
/// `light`.
pub fn auto_augment(smallest_class: usize) -> AugmentLevel {
    if smallest_class < MANY_PER_CLASS {
        AugmentLevel::Standard
    } else {
        AugmentLevel::Light
    }
}

/// What [`flip_test`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct FlipTest {
    /// Per class: how many of its sampled images the nearest-neighbour classifier recognised.
    pub recognised: Vec<f64>,
    /// Per class: the same for the mirrored images.
    pub recognised_mirrored: Vec<f64>,
    /// The classes whose mirrored images are recognised at most half as often (among those
    /// recognised at least half the time unmirrored).
    pub sensitive: Vec<usize>,
}

/// Side of the thumbnails the flip test compares.
const THUMB: usize = 16;

/// Images per class the flip test samples at most.
const FLIP_SAMPLE: usize = 200;

/// Whether mirroring changes the class: each sampled image and its mirror image are classified
/// by their nearest neighbour (Euclidean, on 16×16 grey thumbnails with their mean removed)
/// among the other sampled images. A class is orientation-sensitive when its images are
/// recognised at least half the time but their mirror images at most half as often (and by at
/// least 25 points less): mirroring turns them into another class.
pub fn flip_test(images: &InMemoryImages, seed: u64) -> FlipTest {
    let classes = images.num_classes();
    let mut sample = Vec::new();
    for class in 0..classes {
        let members: Vec<usize> = (0..images.len())
            .filter(|&i| images.labels()[i] == class)
            .collect();
        // Deterministic spread over the class, seed-shifted.
        let step = (members.len() / FLIP_SAMPLE).max(1);
        let offset = (seed as usize) % step;
        sample.extend(members.iter().skip(offset).step_by(step).take(FLIP_SAMPLE));
    }
    let thumbs: Vec<Vec<f32>> = sample.iter().map(|&i| thumbnail(images, i)).collect();
    let labels: Vec<usize> = sample.iter().map(|&i| images.labels()[i]).collect();
    let mut hits = vec![[0usize; 3]; classes]; // [count, recognised, recognised mirrored]
    for (q, thumb) in thumbs.iter().enumerate() {
        let label = labels[q];
        let mirrored = mirror(thumb);
        hits[label][0] += 1;
        hits[label][1] += usize::from(nearest(&thumbs, thumb, q).map(|n| labels[n]) == Some(label));
        hits[label][2] +=
            usize::from(nearest(&thumbs, &mirrored, q).map(|n| labels[n]) == Some(label));
    }
    let rate = |k: usize| -> Vec<f64> {
        hits.iter()
            .map(|h| h[k] as f64 / h[0].max(1) as f64)
            .collect()
    };
    let (recognised, recognised_mirrored) = (rate(1), rate(2));
    let sensitive = (0..classes)
        .filter(|&c| {
            let (plain, mirrored) = (recognised[c], recognised_mirrored[c]);
            hits[c][0] >= 5 && plain >= 0.5 && mirrored <= plain / 2.0 && plain - mirrored >= 0.25
        })
        .collect();
    FlipTest {
        recognised,
        recognised_mirrored,
        sensitive,
    }
}

/// Image `index` as a `THUMB`² grey thumbnail (box-averaged), its mean removed.
fn thumbnail(images: &InMemoryImages, index: usize) -> Vec<f32> {
    let [c, h, w] = images.shape();
    let pixels = images.image(index).unwrap_or(&[]);
    let mut sum = vec![0f32; THUMB * THUMB];
    let mut count = vec![0f32; THUMB * THUMB];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let cell = (y * THUMB / h) * THUMB + x * THUMB / w;
                sum[cell] += f32::from(pixels.get((ch * h + y) * w + x).copied().unwrap_or(0));
                count[cell] += 1.0;
            }
        }
    }
    let mut thumb: Vec<f32> = sum
        .iter()
        .zip(&count)
        .map(|(s, n)| s / n.max(1.0))
        .collect();
    let mean = thumb.iter().sum::<f32>() / thumb.len() as f32;
    thumb.iter_mut().for_each(|v| *v -= mean);
    thumb
}

fn mirror(thumb: &[f32]) -> Vec<f32> {
    thumb
        .chunks_exact(THUMB)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// The index of the thumbnail nearest to `query` other than `skip`.
fn nearest(thumbs: &[Vec<f32>], query: &[f32], skip: usize) -> Option<usize> {
    thumbs
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != skip)
        .map(|(i, t)| {
            let d: f32 = t.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
            (i, d)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// What the recipe decided for one data set, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FolderChoices {
    /// Side of the resized images.
    pub image_size: usize,
    /// 1 (grey) or 3.
    pub channels: usize,
    /// The augmentation level.
    pub augment: AugmentLevel,
    /// Whether images are mirrored while training.
    pub flip: bool,
    /// Whether the training split is oversampled to balance the classes.
    pub balance: bool,
    /// One line per choice made from the data.
    pub reasons: Vec<String>,
}

impl FolderChoices {
    /// The input size and channels: given, or from the images' headers.
    pub fn shape(options: &FolderOptions, stats: &FolderStats) -> Self {
        let mut reasons = Vec::new();
        let image_size = options.image_size.unwrap_or_else(|| {
            let size = auto_image_size(stats);
            reasons.push(format!(
                "image size {size} (median shorter side {} px, at most {MAX_AUTO_SIDE})",
                stats.median_short_side().unwrap_or(0)
            ));
            size
        });
        let channels = match options.channels {
            Some(channels) => channels,
            None if stats.all_grey() => 1,
            None => 3,
        };
        reasons.push(if options.channels.is_some() {
            format!("{channels} channels (given)")
        } else if channels == 1 {
            "1 channel (every image is grey)".to_string()
        } else {
            format!(
                "3 channels ({} of {} images in colour)",
                stats.short_sides.len() - stats.grey,
                stats.short_sides.len()
            )
        });
        Self {
            image_size,
            channels,
            augment: AugmentLevel::None,
            flip: false,
            balance: false,
            reasons,
        }
    }

    /// The augmentation, flips and balancing for the training images `train`.
    pub fn training(mut self, options: &FolderOptions, train: &InMemoryImages, seed: u64) -> Self {
        let mut counts = vec![0usize; train.num_classes()];
        for &label in train.labels() {
            counts[label] += 1;
        }
        let smallest = counts.iter().copied().min().unwrap_or(0);
        let largest = counts.iter().copied().max().unwrap_or(0);
        self.augment = options.augment.unwrap_or_else(|| {
            let level = auto_augment(smallest);
            self.reasons.push(format!(
                "augmentation {level} (smallest class: {smallest} training images; light from {MANY_PER_CLASS})"
            ));
            level
        });
        self.flip = match options.flip {
            Some(flip) => flip,
            None if self.augment == AugmentLevel::None => false,
            None => {
                let test = flip_test(train, seed);
                let names: Vec<&str> = test
                    .sensitive
                    .iter()
                    .map(|&c| train.class_names()[c].as_str())
                    .collect();
                self.reasons.push(if names.is_empty() {
                    "horizontal flips (no class changes under a mirror)".into()
                } else {
                    format!(
                        "no flips: mirrored images of {} look like another class",
                        names.join(", ")
                    )
                });
                names.is_empty()
            }
        };
        let ratio = largest as f64 / smallest.max(1) as f64;
        self.balance = options.balance.unwrap_or_else(|| {
            let balance = ratio >= IMBALANCE;
            if balance {
                self.reasons.push(format!(
                    "class-balanced sampling (largest class {ratio:.1}× the smallest)"
                ));
            }
            balance
        });
        self
    }

    /// The training-time transformations.
    pub fn augmentation(&self) -> Augmentation {
        self.augment.augmentation(self.image_size, self.flip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` 16×16 images per class: class 0 a bar at the left edge region pointing right
    /// (asymmetric), class 1 its mirror image, class 2 a centred symmetric blob; positions
    /// jitter vertically.
    fn arrows(n: usize, symmetric_only: bool) -> InMemoryImages {
        let (s, mut pixels, mut labels) = (16usize, Vec::new(), Vec::new());
        let classes: &[usize] = if symmetric_only { &[2, 3] } else { &[0, 1, 2] };
        for (label, &kind) in classes.iter().enumerate() {
            for i in 0..n {
                let dy = i % 6;
                let mut img = vec![0u8; s * s];
                for y in 0..s {
                    for x in 0..s {
                        let on = match kind {
                            // A wedge whose thick end is on the left.
                            0 => {
                                x < 12
                                    && (y as isize - 5 - dy as isize).unsigned_abs()
                                        < (12 - x) / 3 + 1
                            }
                            1 => {
                                x >= 4
                                    && (y as isize - 5 - dy as isize).unsigned_abs()
                                        < (x - 3) / 3 + 1
                            }
                            2 => (x as isize - 8).abs() + (y as isize - 5 - dy as isize).abs() < 4,
                            _ => {
                                (x as isize - 8).abs() < 5
                                    && (y as isize - 5 - dy as isize).abs() < 2
                            }
                        };
                        img[y * s + x] = if on {
                            200 + (i % 50) as u8
                        } else {
                            (i * 7 % 20) as u8
                        };
                    }
                }
                pixels.extend(img);
                labels.push(label);
            }
        }
        let names: Vec<String> = classes.iter().map(|k| format!("k{k}")).collect();
        InMemoryImages::new(pixels, labels, [1, s, s], names).unwrap()
    }

    #[test]
    fn mirrored_classes_are_found_and_symmetric_ones_are_not() {
        let test = flip_test(&arrows(30, false), 1);
        assert_eq!(test.sensitive, vec![0, 1], "{test:?}");
        assert!(test.recognised.iter().all(|&r| r > 0.9), "{test:?}");
        assert!(test.recognised_mirrored[2] > 0.9, "{test:?}");

        let test = flip_test(&arrows(30, true), 1);
        assert!(test.sensitive.is_empty(), "{test:?}");
    }

    #[test]
    fn choices_follow_the_data_unless_told() {
        let stats = FolderStats {
            class_counts: vec![3, 1],
            short_sides: vec![20, 26, 300, 500],
            grey: 4,
            unreadable: 0,
            largest: None,
            oversized: vec![],
        };
        assert_eq!(auto_image_size(&stats), 64);
        let small = FolderStats {
            short_sides: vec![9, 10, 10],
            grey: 3,
            ..stats.clone()
        };
        assert_eq!(auto_image_size(&small), 12);
        let options = FolderOptions::default();
        let shape = FolderChoices::shape(&options, &small);
        assert_eq!((shape.image_size, shape.channels), (12, 1));

        // Few, imbalanced images with mirrored classes: standard, no flips, balanced.
        let train = arrows(30, false);
        let train = train.subset(&(0..80).collect::<Vec<_>>()); // 30, 30, 20
        let chosen = shape.clone().training(&options, &train, 3);
        assert_eq!(chosen.augment, AugmentLevel::Standard);
        assert!(!chosen.flip && chosen.balance, "{chosen:?}");
        assert!(chosen.augmentation().affine.is_some());

        let told = FolderOptions {
            image_size: Some(32),
            augment: Some(AugmentLevel::Light),
            flip: Some(true),
            balance: Some(false),
            channels: Some(3),
        };
        let chosen = FolderChoices::shape(&told, &small).training(&told, &train, 3);
        assert_eq!((chosen.image_size, chosen.channels), (32, 3));
        assert_eq!(chosen.augment, AugmentLevel::Light);
        assert!(chosen.flip && !chosen.balance);
        assert_eq!(chosen.augmentation().crop_padding, Some(2));
        assert!(AugmentLevel::None.augmentation(32, true).is_identity());
    }

    #[test]
    fn levels_parse_and_print() {
        for level in AugmentLevel::ALL {
            assert_eq!(level.name().parse::<AugmentLevel>(), Ok(level));
        }
        let err = "heavy".parse::<AugmentLevel>().unwrap_err();
        assert!(err.contains("none, light, standard, strong"), "{err}");
    }
}
