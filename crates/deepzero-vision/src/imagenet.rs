//! What a model trained on ImageNet-1k expects around it: torchvision's evaluation transform
//! and the 1000 class names.
//!
//! # The evaluation transform
//! torchvision's `ResNet18_Weights.IMAGENET1K_V1.transforms()` (and that of every classic
//! ImageNet model of the zoo) is
//!
//! ```text
//! Resize(256, bilinear, antialias)  → the short side becomes 256, the long one ⌊256·long/short⌋
//! CenterCrop(224)                   → the 224×224 middle, offsets round((side − 224) / 2)
//! ToTensor, Normalize(mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225))
//! ```
//! [`EvalTransform::apply`] does the first two on the 8-bit image, as PIL does, and leaves the
//! normalisation to [`deepzero_data::ImageBatcher`] with [`IMAGENET_MEAN`] / [`IMAGENET_STD`].
//! The resize is the `image` crate's triangle filter, which like PIL's bilinear widens its
//! support when it shrinks (antialiasing); the two differ by a few grey levels at most.
//!
//! # Class names
//! `src/imagenet_classes.txt` holds the 1000 names of
//! `torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]` (one a line, line
//! `i` = class `i`), written by `tests/fixtures/make_resnet_fixture.py`.

use std::path::Path;

use deepzero_data::{DataError, ImageItem, read_image};
use image::DynamicImage;
use image::imageops::FilterType;

/// Per-channel mean of ImageNet's training images (RGB, pixels / 255).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// Per-channel standard deviation of ImageNet's training images (RGB, pixels / 255).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

const CLASSES: &str = include_str!("imagenet_classes.txt");

/// The 1000 ImageNet-1k class names in torchvision's order (`"tench"`, `"goldfish"`, …).
pub fn imagenet_classes() -> Vec<&'static str> {
    CLASSES.lines().collect()
}

/// Resize the short side, then crop the centre: torchvision's evaluation geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalTransform {
    /// Length the short side is resized to (256).
    pub resize: usize,
    /// Side of the square centre crop (224).
    pub crop: usize,
}

impl EvalTransform {
    /// `Resize(256)` then `CenterCrop(224)`.
    pub const IMAGENET: EvalTransform = EvalTransform {
        resize: 256,
        crop: 224,
    };

    /// The transform for another crop size with ImageNet's ratio (crop = 87.5 % of the
    /// resized short side): 224 → 256, 32 → 37.
    pub fn for_crop(crop: usize) -> Self {
        EvalTransform {
            resize: (crop as f64 / 0.875).round() as usize,
            crop,
        }
    }

    /// The size `[H, W]` an image of `[h, w]` is resized to (torchvision's
    /// `_compute_resized_output_size`: the long side is truncated, not rounded).
    pub fn resized_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let (short, long) = if w <= h { (w, h) } else { (h, w) };
        let new_long = (self.resize as f64 * long as f64 / short.max(1) as f64) as usize;
        if w <= h {
            [new_long, self.resize]
        } else {
            [self.resize, new_long]
        }
    }

    /// The top-left corner `[top, left]` of the centre crop of an `[h, w]` image
    /// (torchvision's `center_crop`: `round((side − crop) / 2)`, ties to even).
    pub fn crop_origin(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let offset =
            |side: usize| ((side.saturating_sub(self.crop)) as f64 / 2.0).round_ties_even();
        [offset(h) as usize, offset(w) as usize]
    }

    /// Resizes and crops a decoded image to `[3, crop, crop]` RGB bytes (label 0).
    pub fn apply(&self, image: &DynamicImage) -> ImageItem {
        let rgb = image.to_rgb8();
        let (w, h) = rgb.dimensions();
        let [nh, nw] = self.resized_size([h as usize, w as usize]);
        let resized = if [nh, nw] == [h as usize, w as usize] {
            rgb
        } else {
            image::imageops::resize(&rgb, nw as u32, nh as u32, FilterType::Triangle)
        };
        let [top, left] = self.crop_origin([nh, nw]);
        let c = self.crop;
        let hw = c * c;
        let mut planar = vec![0u8; 3 * hw];
        for y in 0..c {
            for x in 0..c {
                // Images smaller than the crop are padded with black, as torchvision does.
                let (sy, sx) = (y + top, x + left);
                if sy < nh && sx < nw {
                    let px = resized.get_pixel(sx as u32, sy as u32).0;
                    for ch in 0..3 {
                        planar[ch * hw + y * c + x] = px[ch];
                    }
                }
            }
        }
        ImageItem {
            pixels: planar,
            shape: [3, c, c],
            label: 0,
        }
    }

    /// Decodes a PNG or JPEG file (format sniffed from the content) and applies the transform.
    ///
    /// # Errors
    /// As [`read_image`]: [`DataError::Io`] if the file cannot be read, [`DataError::Decode`] if
    /// it is not an image.
    pub fn load(&self, path: &Path) -> Result<ImageItem, DataError> {
        let decoded = read_image(path)?;
        Ok(self.apply(&decoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousand_distinct_classes_in_torchvision_order() {
        let classes = imagenet_classes();
        assert_eq!(classes.len(), 1000);
        assert_eq!(classes[..3], ["tench", "goldfish", "great white shark"]);
        assert_eq!(classes[207], "golden retriever");
        assert_eq!(classes[999], "toilet tissue");
        assert!(classes.iter().all(|c| !c.trim().is_empty()));
    }

    #[test]
    fn geometry_follows_torchvision() {
        let t = EvalTransform::IMAGENET;
        // A 240×300 (H×W) image: short side 240 → 256, long ⌊256·300/240⌋ = 320.
        assert_eq!(t.resized_size([240, 300]), [256, 320]);
        assert_eq!(t.resized_size([500, 375]), [341, 256]);
        assert_eq!(t.crop_origin([256, 320]), [16, 48]);
        // (257 − 224) / 2 = 16.5 rounds to even: 16.
        assert_eq!(t.crop_origin([257, 224]), [16, 0]);
        assert_eq!(EvalTransform::for_crop(224), t);
    }
}
