//! Images with class-index masks: the in-memory set, PNG mask files, mask-aware augmentation and
//! the batcher.
//!
//! A mask is `H × W` bytes, row-major, one class id per pixel (`0` background, `255` =
//! [`IGNORE_INDEX`]: not counted). Augmentation moves image and mask together: a random scale
//! (bilinear for the image, nearest for the mask, so no new class ids appear; both with
//! half-pixel centres, so they stay aligned), a random crop or pad back to the original size,
//! and a mirror.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use deepzero_data::{DataError, ImageBatcher, ImageItem, read_image};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{IGNORE_INDEX, SegmentBatch};

/// One image and its mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskedImage {
    /// The image (`label` unused).
    pub image: ImageItem,
    /// `H × W` class ids, row-major.
    pub mask: Vec<u8>,
}

impl MaskedImage {
    /// Pairs an image with its mask, checking that the mask has one byte per pixel.
    pub fn new(image: ImageItem, mask: Vec<u8>) -> Result<Self, DataError> {
        let [_, h, w] = image.shape;
        if mask.len() != h * w {
            return Err(DataError::Invalid(format!(
                "a mask of {} pixels for a {h}×{w} image",
                mask.len()
            )));
        }
        Ok(Self { image, mask })
    }
}

/// Images and masks in memory, all of one shape, with the names of their classes.
#[derive(Clone, Debug)]
pub struct MaskedImages {
    /// The examples.
    pub items: Vec<MaskedImage>,
    /// Class names, index = class id (background first).
    pub class_names: Vec<String>,
}

impl MaskedImages {
    /// Checks that every item has the same image shape and that every mask value is a class id
    /// (below `class_names.len()`) or [`IGNORE_INDEX`].
    pub fn new(items: Vec<MaskedImage>, class_names: Vec<String>) -> Result<Self, DataError> {
        let k = class_names.len();
        if k == 0 || k > IGNORE_INDEX {
            return Err(DataError::Invalid(format!(
                "{k} classes: a segmentation set needs 1 to {IGNORE_INDEX}"
            )));
        }
        if let Some(first) = items.first() {
            for (i, item) in items.iter().enumerate() {
                if item.image.shape != first.image.shape {
                    return Err(DataError::Invalid(format!(
                        "image {i} is {:?}, image 0 {:?}: a set has one shape",
                        item.image.shape, first.image.shape
                    )));
                }
                check_mask_ids(&item.mask, k)
                    .map_err(|e| DataError::Invalid(format!("mask {i}: {e}")))?;
            }
        }
        Ok(Self { items, class_names })
    }

    /// `[C, H, W]` of the images (zeros when empty).
    pub fn shape(&self) -> [usize; 3] {
        self.items.first().map(|i| i.image.shape).unwrap_or([0; 3])
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Splits off the items at `indices` (in that order) as a new set with the same classes.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            items: indices.iter().map(|&i| self.items[i].clone()).collect(),
            class_names: self.class_names.clone(),
        }
    }
}

impl Dataset<MaskedImage> for MaskedImages {
    fn get(&self, index: usize) -> Result<MaskedImage, DatasetError> {
        self.items
            .get(index)
            .cloned()
            .ok_or_else(|| DatasetError::new(DataError::Invalid(format!("no example {index}"))))
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// The first mask value that is neither a class id below `num_classes` nor [`IGNORE_INDEX`].
fn check_mask_ids(mask: &[u8], num_classes: usize) -> Result<(), String> {
    match mask
        .iter()
        .position(|&v| usize::from(v) >= num_classes && usize::from(v) != IGNORE_INDEX)
    {
        Some(p) => Err(format!(
            "class id {} at pixel {p} is outside 0..{num_classes} (255 = ignore)",
            mask[p]
        )),
        None => Ok(()),
    }
}

/// Reads an 8-bit single-channel PNG of class ids (0 background, 255 ignored), checking that it
/// is `[H, W]` = `size` when given and that its ids are below `num_classes` (or 255).
///
/// Colour, palette-expanded or 16-bit files are refused rather than guessed at: the `image`
/// decoder turns a palette into colours, so a VOC-style palette mask must be converted to grey
/// class ids first (`Image.open(p).convert("P")` keeps the indices; save as mode `L`).
///
/// # Errors
/// A one-line [`DataError`] naming the file: unreadable or corrupt, not 8-bit grey, of another
/// size, or with an id out of range.
pub fn read_mask_png(
    path: &Path,
    size: Option<[usize; 2]>,
    num_classes: usize,
) -> Result<Vec<u8>, DataError> {
    let decoded = read_image(path)?;
    let image::DynamicImage::ImageLuma8(grey) = decoded else {
        return Err(DataError::Invalid(format!(
            "{}: a mask must be an 8-bit single-channel PNG of class ids, not {:?}",
            path.display(),
            decoded.color()
        )));
    };
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    if let Some([eh, ew]) = size
        && [eh, ew] != [h, w]
    {
        return Err(DataError::Invalid(format!(
            "{}: the mask is {h}×{w} but its image is {eh}×{ew}",
            path.display()
        )));
    }
    let mask = grey.into_raw();
    check_mask_ids(&mask, num_classes)
        .map_err(|e| DataError::Invalid(format!("{}: {e}", path.display())))?;
    Ok(mask)
}

/// Writes a mask as an 8-bit grey PNG of class ids (what [`read_mask_png`] reads).
pub fn write_mask_png(path: &Path, mask: &[u8], [h, w]: [usize; 2]) -> Result<(), DataError> {
    let img = image::GrayImage::from_raw(w as u32, h as u32, mask.to_vec()).ok_or_else(|| {
        DataError::Invalid(format!(
            "{}: {} mask bytes for {h}×{w}",
            path.display(),
            mask.len()
        ))
    })?;
    img.save(path).map_err(|source| DataError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Random transformations applied to an image and its mask together, in this order: scale,
/// crop/pad back to the original size, mirror.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaskAugmentation {
    /// Zoom factor drawn uniformly from `[lo, hi]` (`None`: no scaling). The zoomed image is
    /// cropped (larger) or padded (smaller) at a random place back to the original size.
    pub scale: Option<(f32, f32)>,
    /// Mirror left–right with probability ½ (not for digits: a mirrored 2 is no 2).
    pub horizontal_flip: bool,
    /// The mask value of padded pixels: 0 (background) for scenes on a blank canvas,
    /// [`IGNORE_INDEX`] for photographs, whose surroundings are unknown.
    pub pad_class: u8,
}

impl MaskAugmentation {
    /// Whether `apply` returns its input unchanged.
    pub fn is_identity(&self) -> bool {
        !self.horizontal_flip && self.scale.is_none_or(|(lo, hi)| lo == 1.0 && hi == 1.0)
    }

    /// A randomly transformed copy of `item` (same shape).
    pub fn apply(&self, item: &MaskedImage, rng: &mut impl Rng) -> MaskedImage {
        let mut out = item.clone();
        if let Some((lo, hi)) = self.scale {
            let s = lo + (hi - lo) * rng.random::<f32>();
            if s.is_finite() && s > 0.0 && s != 1.0 {
                out = self.scale_and_crop(&out, s, rng);
            }
        }
        if self.horizontal_flip && rng.random_bool(0.5) {
            flip(&mut out);
        }
        out
    }

    fn scale_and_crop(&self, item: &MaskedImage, s: f32, rng: &mut impl Rng) -> MaskedImage {
        let [c, h, w] = item.image.shape;
        let (sh, sw) = (
            ((h as f32 * s).round() as usize).max(1),
            ((w as f32 * s).round() as usize).max(1),
        );
        let pixels = resize_bilinear_u8(&item.image.pixels, [c, h, w], [sh, sw]);
        // Half-pixel centres as the bilinear image has: PyTorch's plain `nearest` (⌊o·n/on⌋)
        // shifts the mask up to half a source pixel against the image, which on 2–3 px digit
        // strokes relabelled about a third of the digit pixels of the scaled scenes.
        let mask = resize_nearest_exact_u8(&item.mask, [h, w], [sh, sw]);
        // Place the [sh, sw] map in an [h, w] window: offset (oy, ox) of the window in the
        // scaled map when it is larger, of the map in the window when smaller.
        let oy = rng.random_range(0..=sh.abs_diff(h)) as isize;
        let ox = rng.random_range(0..=sw.abs_diff(w)) as isize;
        let (oy, ox) = (
            if sh >= h { oy } else { -oy },
            if sw >= w { ox } else { -ox },
        );
        let mut out_pixels = vec![0u8; c * h * w];
        let mut out_mask = vec![self.pad_class; h * w];
        for y in 0..h {
            let sy = y as isize + oy;
            if sy < 0 || sy >= sh as isize {
                continue;
            }
            for x in 0..w {
                let sx = x as isize + ox;
                if sx < 0 || sx >= sw as isize {
                    continue;
                }
                let (sy, sx) = (sy as usize, sx as usize);
                out_mask[y * w + x] = mask[sy * sw + sx];
                for ch in 0..c {
                    out_pixels[(ch * h + y) * w + x] = pixels[(ch * sh + sy) * sw + sx];
                }
            }
        }
        MaskedImage {
            image: ImageItem {
                pixels: out_pixels,
                shape: [c, h, w],
                label: item.image.label,
            },
            mask: out_mask,
        }
    }
}

fn flip(item: &mut MaskedImage) {
    let [c, h, w] = item.image.shape;
    for row in item.image.pixels.chunks_exact_mut(w).take(c * h) {
        row.reverse();
    }
    for row in item.mask.chunks_exact_mut(w).take(h) {
        row.reverse();
    }
}

/// Bilinear resize with half-pixel centres (`align_corners = false`), per channel.
pub fn resize_bilinear_u8(pixels: &[u8], [c, h, w]: [usize; 3], [oh, ow]: [usize; 2]) -> Vec<u8> {
    let mut out = vec![0u8; c * oh * ow];
    let src = |ch: usize, y: usize, x: usize| f32::from(pixels[(ch * h + y) * w + x]);
    let axis = |o: usize, n: usize, on: usize| {
        let p = ((o as f32 + 0.5) * n as f32 / on as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i0 = p.floor() as usize;
        (i0, (i0 + 1).min(n - 1), p - i0 as f32)
    };
    for y in 0..oh {
        let (y0, y1, fy) = axis(y, h, oh);
        for x in 0..ow {
            let (x0, x1, fx) = axis(x, w, ow);
            for ch in 0..c {
                let top = src(ch, y0, x0) * (1.0 - fx) + src(ch, y0, x1) * fx;
                let bottom = src(ch, y1, x0) * (1.0 - fx) + src(ch, y1, x1) * fx;
                out[(ch * oh + y) * ow + x] = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
    }
    out
}

/// Nearest-neighbour resize of a mask (PyTorch's `nearest`: source index `⌊o · n / on⌋`).
pub fn resize_nearest_u8(mask: &[u8], [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Vec<u8> {
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let sy = (y * h / oh).min(h - 1);
        for x in 0..ow {
            out.push(mask[sy * w + (x * w / ow).min(w - 1)]);
        }
    }
    out
}

/// Nearest-neighbour resize with half-pixel centres (PyTorch's `nearest-exact`: source index
/// `⌊(o + ½) · n / on⌋`), aligned with [`resize_bilinear_u8`].
pub fn resize_nearest_exact_u8(mask: &[u8], [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Vec<u8> {
    // (2o + 1)·n / (2·on) in integers: ⌊(o + ½)·n/on⌋ without rounding error.
    let src = |o: usize, n: usize, on: usize| ((2 * o + 1) * n / (2 * on)).min(n - 1);
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let sy = src(y, h, oh);
        for x in 0..ow {
            out.push(mask[sy * w + src(x, w, ow)]);
        }
    }
    out
}

/// A [`MaskedImages`] whose items are augmented with an RNG seeded from `(seed, epoch, index)`,
/// so that item `i` of epoch `e` is the same in any order and after a resume.
pub struct AugmentedMasks {
    inner: MaskedImages,
    aug: MaskAugmentation,
    seed: u64,
    epoch: AtomicUsize,
}

impl AugmentedMasks {
    /// Wraps `inner`, at epoch 0.
    pub fn new(inner: MaskedImages, aug: MaskAugmentation, seed: u64) -> Self {
        Self {
            inner,
            aug,
            seed,
            epoch: AtomicUsize::new(0),
        }
    }

    /// Sets the epoch the next items are drawn for.
    pub fn set_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }
}

impl Dataset<MaskedImage> for AugmentedMasks {
    fn get(&self, index: usize) -> Result<MaskedImage, DatasetError> {
        let item = self.inner.get(index)?;
        if self.aug.is_identity() {
            return Ok(item);
        }
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((self.epoch.load(Ordering::Relaxed) as u64) << 32)
            .wrapping_add(index as u64);
        Ok(self.aug.apply(&item, &mut StdRng::seed_from_u64(seed)))
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}

/// Normalises images as an [`ImageBatcher`] does and stacks the masks into `[B, H, W]`.
#[derive(Clone, Debug)]
pub struct SegmentBatcher {
    /// The image normalisation.
    pub images: ImageBatcher,
}

impl SegmentBatcher {
    /// Per-channel normalisation `(pixel/255 − mean) / std`.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Self {
        Self {
            images: ImageBatcher::new(mean, std),
        }
    }
}

impl Batcher<MaskedImage, SegmentBatch> for SegmentBatcher {
    fn batch(&self, items: Vec<MaskedImage>, device: &Device) -> SegmentBatch {
        let [_, h, w] = items.first().map(|i| i.image.shape).unwrap_or([0; 3]);
        let masks: Vec<i64> = items
            .iter()
            .flat_map(|i| i.mask.iter().map(|&v| i64::from(v)))
            .collect();
        let images: Vec<ImageItem> = items.into_iter().map(|i| i.image).collect();
        let n = images.len();
        SegmentBatch {
            images: self.images.images_tensor(&images, device),
            masks: Tensor::from_data(TensorData::new(masks, [n, h, w]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `c × h × w` image with its mask (both must have the sizes the shape says).
    fn masked(pixels: Vec<u8>, mask: Vec<u8>, [c, h, w]: [usize; 3]) -> MaskedImage {
        let image = ImageItem {
            pixels,
            shape: [c, h, w],
            label: 0,
        };
        MaskedImage::new(image, mask).unwrap()
    }

    fn item(c: usize, h: usize, w: usize) -> MaskedImage {
        let pixels = (0..c * h * w).map(|i| (i * 7 % 256) as u8).collect();
        let mask = (0..h * w).map(|i| (i % 3) as u8).collect();
        masked(pixels, mask, [c, h, w])
    }

    #[test]
    fn png_masks_round_trip_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.png");
        let mask = vec![0, 1, 2, 255, 1, 0];
        write_mask_png(&path, &mask, [2, 3]).unwrap();
        assert_eq!(read_mask_png(&path, Some([2, 3]), 3).unwrap(), mask);
        let err = read_mask_png(&path, Some([3, 2]), 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.png") && err.contains("2×3"), "{err}");
        let err = read_mask_png(&path, None, 2).unwrap_err().to_string();
        assert!(err.contains("m.png") && err.contains("class id 2"), "{err}");
        // A colour image is not a mask.
        let rgb = dir.path().join("rgb.png");
        image::RgbImage::new(3, 2).save(&rgb).unwrap();
        let err = read_mask_png(&rgb, None, 3).unwrap_err().to_string();
        assert!(err.contains("rgb.png") && err.contains("8-bit"), "{err}");
        // A corrupt file.
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"\x89PNG not really").unwrap();
        let err = read_mask_png(&bad, None, 3).unwrap_err().to_string();
        assert!(err.contains("bad.png"), "{err}");
    }

    #[test]
    fn sets_refuse_ids_out_of_range_and_mixed_shapes() {
        let names: Vec<String> = ["bg", "a", "b"].map(String::from).to_vec();
        assert!(MaskedImages::new(vec![item(1, 4, 4)], names.clone()).is_ok());
        let mut bad = item(1, 4, 4);
        bad.mask[5] = 9;
        let err = MaskedImages::new(vec![item(1, 4, 4), bad], names.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mask 1") && err.contains("class id 9"),
            "{err}"
        );
        let err = MaskedImages::new(vec![item(1, 4, 4), item(1, 4, 5)], names)
            .unwrap_err()
            .to_string();
        assert!(err.contains("one shape"), "{err}");
        assert!(MaskedImage::new(item(1, 2, 2).image, vec![0; 3]).is_err());
    }

    #[test]
    fn flip_moves_image_and_mask_together() {
        let aug = MaskAugmentation {
            horizontal_flip: true,
            ..MaskAugmentation::default()
        };
        let original = item(2, 3, 4);
        // Some seed flips; the mask's column j then equals the original's column 3 - j.
        let flipped = (0..20)
            .map(|s| aug.apply(&original, &mut StdRng::seed_from_u64(s)))
            .find(|o| *o != original)
            .unwrap();
        for y in 0..3 {
            for x in 0..4 {
                assert_eq!(flipped.mask[y * 4 + x], original.mask[y * 4 + 3 - x]);
                for c in 0..2 {
                    assert_eq!(
                        flipped.image.pixel(c, y, x),
                        original.image.pixel(c, y, 3 - x)
                    );
                }
            }
        }
    }

    #[test]
    fn scaling_keeps_shape_ids_and_alignment() {
        // An image whose pixel value encodes its class: after any scale and crop, wherever the
        // mask says class k (and was not padded) the pixel is k's value.
        let (h, w) = (16, 16);
        let mask: Vec<u8> = (0..h * w).map(|i| ((i % w) / 4) as u8).collect(); // 4 stripes
        let pixels: Vec<u8> = mask.iter().map(|&k| k * 60).collect();
        let original = masked(pixels, mask, [1, h, w]);
        let aug = MaskAugmentation {
            scale: Some((0.5, 2.0)),
            horizontal_flip: true,
            pad_class: IGNORE_INDEX as u8,
        };
        for seed in 0..10 {
            let out = aug.apply(&original, &mut StdRng::seed_from_u64(seed));
            assert_eq!(out.image.shape, [1, h, w]);
            for (i, &k) in out.mask.iter().enumerate() {
                assert!(k < 4 || k == 255);
                // Nearest mask and bilinear image agree inside stripes (away from edges).
                if k < 4 && out.image.pixels[i].is_multiple_of(60) {
                    assert_eq!(out.image.pixels[i], k * 60);
                }
            }
        }
    }

    #[test]
    fn bilinear_u8_matches_pytorch() {
        // F.interpolate(torch.tensor([[[[0., 100.], [200., 255.]]]]), size=(4, 4),
        //               mode="bilinear", align_corners=False).round()
        let out = resize_bilinear_u8(&[0, 100, 200, 255], [1, 2, 2], [4, 4]);
        assert_eq!(
            out,
            [
                0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255
            ]
        );
        assert_eq!(
            resize_nearest_u8(&[1, 2, 3, 4], [2, 2], [4, 4]),
            [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]
        );
        // F.interpolate(torch.arange(4.).view(1, 1, 1, 4), size=(1, 3), mode="nearest") is
        // [0, 1, 2]; mode="nearest-exact" is [0, 2, 3]; size 6: [0, 1, 1, 2, 3, 3].
        assert_eq!(resize_nearest_u8(&[0, 1, 2, 3], [1, 4], [1, 3]), [0, 1, 2]);
        assert_eq!(
            resize_nearest_exact_u8(&[0, 1, 2, 3], [1, 4], [1, 3]),
            [0, 2, 3]
        );
        assert_eq!(
            resize_nearest_exact_u8(&[0, 1, 2, 3], [1, 4], [1, 6]),
            [0, 1, 1, 2, 3, 3]
        );
    }

    #[test]
    fn scaled_masks_stay_on_the_scaled_ink() {
        // Thin bright strokes labelled by a brightness threshold, as the digit scenes are: after
        // scaling, a clearly bright pixel is labelled and a clearly dark one is not. PyTorch's
        // plain nearest breaks this at every scale that is not an integer ratio.
        let (h, w) = (32, 32);
        let pixels: Vec<u8> = (0..h * w)
            .map(|i| if (i % w) % 5 < 2 { 220 } else { 0 })
            .collect();
        let mask = pixels.iter().map(|&p| u8::from(p >= 64)).collect();
        let item = masked(pixels, mask, [1, h, w]);
        let aug = MaskAugmentation {
            scale: Some((0.8, 1.2)),
            horizontal_flip: false,
            pad_class: 0,
        };
        for seed in 0..20 {
            let out = aug.apply(&item, &mut StdRng::seed_from_u64(seed));
            for (&p, &m) in out.image.pixels.iter().zip(&out.mask) {
                if p >= 160 {
                    assert_eq!(m, 1, "seed {seed}: bright pixel {p} labelled background");
                } else if p <= 40 {
                    assert_eq!(m, 0, "seed {seed}: dark pixel {p} labelled ink");
                }
            }
        }
    }

    #[test]
    fn batcher_stacks_masks() {
        let device = Device::flex();
        let batch = SegmentBatcher::new(vec![0.0], vec![1.0])
            .batch(vec![item(1, 2, 3), item(1, 2, 3)], &device);
        assert_eq!(batch.images.dims(), [2, 1, 2, 3]);
        assert_eq!(batch.masks.dims(), [2, 2, 3]);
        batch.masks.to_data().assert_eq(
            &TensorData::from([[[0, 1, 2], [0, 1, 2]], [[0, 1, 2], [0, 1, 2]]]),
            false,
        );
    }
}
