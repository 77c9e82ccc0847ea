//! The input step of torchvision's R-CNN detectors (`GeneralizedRCNNTransform`), made explicit:
//! what happens to the pictures before the network sees them, and to the boxes after.
//!
//! 1. **Normalise** each image `[3, h, w]` in `[0, 1]`: `(x − mean) / std` per channel
//!    (ImageNet's mean and std).
//! 2. **Resize** it bilinearly (`align_corners = false`) by
//!    `scale = min(min_size / min(h, w), max_size / max(h, w))` to
//!    `⌊h·scale⌋ × ⌊w·scale⌋`: the short side becomes `min_size` (800) unless the long side would
//!    pass `max_size` (1333).
//! 3. **Pad** the batch with zeros at the bottom and right to the largest height and width,
//!    each rounded up to a multiple of 32 (so every FPN level halves exactly).
//!
//! The network works in the resized images' pixels; [`RcnnBatch::to_original`] maps boxes back
//! (`x · w / w'`, `y · h / h'`, as `transform.postprocess`), and
//! [`RcnnBatch::to_resized`] maps ground-truth boxes forward for training.

use burn::prelude::*;

use super::boxes::Bbox;
use crate::imagenet::{IMAGENET_MEAN, IMAGENET_STD};
use crate::segment::resize_bilinear;

/// Configuration of the transform; defaults are `fasterrcnn_resnet50_fpn`'s.
#[derive(Config, Debug)]
pub struct RcnnTransformConfig {
    /// Target length of the short side.
    #[config(default = 800)]
    pub min_size: usize,
    /// Longest allowed long side.
    #[config(default = 1333)]
    pub max_size: usize,
    /// Per-channel mean subtracted (ImageNet's).
    #[config(default = "IMAGENET_MEAN")]
    pub image_mean: [f32; 3],
    /// Per-channel standard deviation divided by (ImageNet's).
    #[config(default = "IMAGENET_STD")]
    pub image_std: [f32; 3],
    /// The padded batch's sides are multiples of this.
    #[config(default = 32)]
    pub size_divisible: usize,
}

/// A batch ready for the network.
#[derive(Clone, Debug)]
pub struct RcnnBatch {
    /// The normalised, resized, zero-padded images `[B, 3, H, W]`.
    pub images: Tensor<4>,
    /// Each image's `[h, w]` after resizing, before padding.
    pub image_sizes: Vec<[usize; 2]>,
    /// Each image's `[h, w]` as given.
    pub original_sizes: Vec<[usize; 2]>,
}

impl RcnnTransformConfig {
    /// The `[h, w]` an image of `[h, w]` is resized to (`⌊side · scale⌋` in double precision,
    /// as PyTorch's `interpolate(scale_factor=…, recompute_scale_factor=True)`).
    pub fn resized_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let (short, long) = (h.min(w) as f64, h.max(w) as f64);
        let scale = (self.min_size as f64 / short).min(self.max_size as f64 / long);
        [(h as f64 * scale) as usize, (w as f64 * scale) as usize]
    }

    /// Normalises, resizes and pads `images` (each `[3, h, w]`, values in `[0, 1]`, all on one
    /// device).
    ///
    /// # Shapes
    /// - images: `[3, h_i, w_i]`
    /// - output: `[B, 3, H, W]`, `H = ⌈max h'_i / 32⌉·32`, `W` likewise
    pub fn apply(&self, images: &[Tensor<3>]) -> RcnnBatch {
        let device = images[0].device();
        let mean = Tensor::<1>::from_data(self.image_mean, &device).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_data(self.image_std, &device).reshape([1, 3, 1, 1]);
        let mut resized = Vec::with_capacity(images.len());
        let mut image_sizes = Vec::with_capacity(images.len());
        let mut original_sizes = Vec::with_capacity(images.len());
        for image in images {
            let [_, h, w] = image.dims();
            let size = self.resized_size([h, w]);
            let x = (image.clone().unsqueeze::<4>() - mean.clone()) / std.clone();
            resized.push(resize_bilinear(x, size));
            image_sizes.push(size);
            original_sizes.push([h, w]);
        }
        let round_up = |v: usize| v.div_ceil(self.size_divisible) * self.size_divisible;
        let height = round_up(image_sizes.iter().map(|s| s[0]).max().unwrap_or(0));
        let width = round_up(image_sizes.iter().map(|s| s[1]).max().unwrap_or(0));
        let mut batch = Tensor::<4>::zeros([images.len(), 3, height, width], &device);
        for (i, (x, [h, w])) in resized.into_iter().zip(&image_sizes).enumerate() {
            batch = batch.slice_assign([i..i + 1, 0..3, 0..*h, 0..*w], x);
        }
        RcnnBatch {
            images: batch,
            image_sizes,
            original_sizes,
        }
    }
}

impl RcnnBatch {
    /// `[H, W]` of the padded batch.
    pub fn padded_size(&self) -> [usize; 2] {
        let [_, _, h, w] = self.images.dims();
        [h, w]
    }

    /// A box of image `i` in resized pixels → the original image's pixels
    /// (torchvision's `resize_boxes(boxes, image_size, original_size)`).
    pub fn to_original(&self, i: usize, b: &Bbox) -> Bbox {
        scale_box(b, self.image_sizes[i], self.original_sizes[i])
    }

    /// A box of image `i` in original pixels → resized pixels (what the training targets need).
    pub fn to_resized(&self, i: usize, b: &Bbox) -> Bbox {
        scale_box(b, self.original_sizes[i], self.image_sizes[i])
    }
}

fn scale_box(b: &Bbox, from: [usize; 2], to: [usize; 2]) -> Bbox {
    // torchvision: torch.tensor(to, float32) / torch.tensor(from, float32), then products
    let ry = to[0] as f32 / from[0] as f32;
    let rx = to[1] as f32 / from[1] as f32;
    [b[0] * rx, b[1] * ry, b[2] * rx, b[3] * ry]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_torchvision() {
        let t = RcnnTransformConfig::new();
        // COCO-like 480×640: 800/480 = 1.667 < 1333/640 → 800×1066
        assert_eq!(t.resized_size([480, 640]), [800, 1066]);
        // very wide 300×1200: capped by the long side, 1333/1200 → 333×1333
        assert_eq!(t.resized_size([300, 1200]), [333, 1333]);
        let small = RcnnTransformConfig::new()
            .with_min_size(64)
            .with_max_size(96);
        assert_eq!(small.resized_size([50, 70]), [64, 89]);
        assert_eq!(small.resized_size([60, 40]), [96, 64]);
    }

    #[test]
    fn pads_to_multiples_of_32_and_maps_boxes_back() {
        let device = Device::flex();
        let t = RcnnTransformConfig::new()
            .with_min_size(64)
            .with_max_size(96);
        let batch = t.apply(&[
            Tensor::ones([3, 50, 70], &device),
            Tensor::ones([3, 60, 40], &device),
        ]);
        assert_eq!(batch.images.dims(), [2, 3, 96, 96]);
        assert_eq!(batch.image_sizes, [[64, 89], [96, 64]]);
        // the padding stays zero; inside, (1 − mean) / std
        let v: Vec<f32> = batch.images.into_data().try_into_vec().unwrap();
        assert_eq!(v[95 * 96 + 95], 0.0);
        assert!((v[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        let b = [0.0, 32.0, 89.0, 64.0];
        let back = RcnnBatch {
            images: Tensor::zeros([1, 3, 32, 32], &device),
            image_sizes: vec![[64, 89]],
            original_sizes: vec![[50, 70]],
        }
        .to_original(0, &b);
        assert_eq!(back, [0.0, 25.0, 70.0, 50.0]);
    }
}
