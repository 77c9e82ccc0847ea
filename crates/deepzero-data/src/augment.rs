//! Seeded data augmentation on [`ImageItem`]s (any number of channels).
//!
//! [`Augmentation`] is a serialisable description (it lives in recipe configs);
//! [`Augmented`] wraps a dataset and applies it with an RNG seeded from
//! `(seed, epoch, index)`. Item `i` of epoch `e` is therefore the same whichever data-loader
//! worker fetches it and in whichever order, and a resumed run reproduces the original one.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataset::{Dataset, DatasetError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::ImageItem;
use crate::split::mix_seed;

/// Which random transformations to apply, in this order: affine, padded crop, flip.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augmentation {
    /// Pad every side with `p` zero pixels, then crop a random window of the original size
    /// (the CIFAR recipe, `p = 4`). `None` or `Some(0)` leaves the image alone.
    pub crop_padding: Option<usize>,
    /// Mirror left–right with probability ½.
    pub horizontal_flip: bool,
    /// A random rotation, translation and scaling about the image centre.
    pub affine: Option<AffineRange>,
}

/// The ranges a random affine transform is drawn from, uniformly. Pixels are sampled
/// bilinearly; pixels that come from outside the image are 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffineRange {
    /// Rotation angle in `[-max, max]` degrees.
    pub max_rotation_deg: f32,
    /// Shift in `[-max × W, max × W]` horizontally and `[-max × H, max × H]` vertically.
    pub max_translate_frac: f32,
    /// Zoom factor in `[scale.0, scale.1]`; `(1.0, 1.0)` for none. A non-positive or
    /// non-finite draw is replaced by 1.
    pub scale: (f32, f32),
}

impl AffineRange {
    /// Whether every transform in the range is the identity.
    pub fn is_identity(&self) -> bool {
        self.max_rotation_deg == 0.0 && self.max_translate_frac == 0.0 && self.scale == (1.0, 1.0)
    }
}

/// A uniform draw in `[lo, hi]` that never panics (unlike `random_range` on an empty range).
fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

impl Augmentation {
    /// Whether `apply` always returns its input unchanged.
    pub fn is_identity(&self) -> bool {
        self.crop_padding.unwrap_or(0) == 0
            && !self.horizontal_flip
            && self.affine.as_ref().is_none_or(AffineRange::is_identity)
    }

    /// Returns a randomly transformed copy of `item` (same shape and label).
    pub fn apply(&self, item: &ImageItem, rng: &mut impl Rng) -> ImageItem {
        let mut out = item.clone();
        if let Some(range) = self.affine.as_ref().filter(|r| !r.is_identity()) {
            out = affine(&out, range, rng);
        }
        if let Some(padding) = self.crop_padding.filter(|&p| p > 0) {
            out = padded_crop(&out, padding, rng);
        }
        if self.horizontal_flip && rng.random_bool(0.5) {
            flip_horizontal(&mut out);
        }
        out
    }
}

/// Mirrors every row of every channel in place.
fn flip_horizontal(item: &mut ImageItem) {
    let w = item.shape[2];
    if w == 0 {
        return;
    }
    for row in item.pixels.chunks_exact_mut(w) {
        row.reverse();
    }
}

/// Shifts the image by a random `(dy, dx)` in `[-p, p]²`, filling uncovered pixels with 0:
/// the same as padding with `p` zeros and cropping a random window of the original size.
fn padded_crop(item: &ImageItem, padding: usize, rng: &mut impl Rng) -> ImageItem {
    let [c, h, w] = item.shape;
    // Offsets of the crop window in the padded image, in 0..=2p; the source pixel of output
    // (y, x) is (y + oy - p, x + ox - p).
    let oy = rng.random_range(0..=2 * padding);
    let ox = rng.random_range(0..=2 * padding);
    let mut pixels = vec![0u8; item.pixels.len()];
    for y in 0..h {
        let Some(sy) = (y + oy).checked_sub(padding).filter(|&sy| sy < h) else {
            continue;
        };
        for x in 0..w {
            let Some(sx) = (x + ox).checked_sub(padding).filter(|&sx| sx < w) else {
                continue;
            };
            for ch in 0..c {
                pixels[(ch * h + y) * w + x] = item.pixels[(ch * h + sy) * w + sx];
            }
        }
    }
    ImageItem {
        pixels,
        shape: item.shape,
        label: item.label,
    }
}

/// A random rotation + scaling about the centre followed by a translation, by inverse mapping
/// with bilinear sampling.
fn affine(item: &ImageItem, range: &AffineRange, rng: &mut impl Rng) -> ImageItem {
    let [c, h, w] = item.shape;
    let max_rot = range.max_rotation_deg.abs();
    let angle = uniform(rng, -max_rot, max_rot).to_radians();
    let max_t = range.max_translate_frac.abs();
    let tx = uniform(rng, -max_t, max_t) * w as f32;
    let ty = uniform(rng, -max_t, max_t) * h as f32;
    let scale = uniform(rng, range.scale.0, range.scale.1);
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);

    // The pixel of channel `ch` at integer (y, x), 0 outside the image.
    let at = |ch: usize, y: isize, x: isize| -> f32 {
        if (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
            f32::from(item.pixels[(ch * h + y as usize) * w + x as usize])
        } else {
            0.0
        }
    };
    let mut pixels = vec![0u8; item.pixels.len()];
    for y in 0..h {
        for x in 0..w {
            // Inverse map: source = c + R(-θ)·(out − c − t) / s.
            let (dx, dy) = (x as f32 - cx - tx, y as f32 - cy - ty);
            let sx = cx + (cos * dx + sin * dy) / scale;
            let sy = cy + (-sin * dx + cos * dy) / scale;
            if !(sx > -1.0 && sx < w as f32 && sy > -1.0 && sy < h as f32) {
                continue; // all four neighbours are outside (also catches NaN)
            }
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for ch in 0..c {
                let top = at(ch, y0, x0) * (1.0 - fx) + at(ch, y0, x0 + 1) * fx;
                let bottom = at(ch, y0 + 1, x0) * (1.0 - fx) + at(ch, y0 + 1, x0 + 1) * fx;
                let v = top * (1.0 - fy) + bottom * fy;
                pixels[(ch * h + y) * w + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    ImageItem {
        pixels,
        shape: item.shape,
        label: item.label,
    }
}

/// A dataset whose items are augmented with an RNG seeded from `(seed, epoch, index)`.
///
/// Call [`Augmented::set_epoch`] at the start of every epoch (through an `Arc` shared with the
/// data loader) to draw new transforms; within an epoch, `get(i)` is deterministic.
#[derive(Debug)]
pub struct Augmented<D> {
    inner: D,
    aug: Augmentation,
    seed: u64,
    epoch: AtomicUsize,
}

impl<D> Augmented<D> {
    /// Wraps `inner`, starting at epoch 0.
    pub fn new(inner: D, aug: Augmentation, seed: u64) -> Self {
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

    /// The current epoch.
    pub fn epoch(&self) -> usize {
        self.epoch.load(Ordering::Relaxed)
    }

    /// The augmentation applied.
    pub fn augmentation(&self) -> &Augmentation {
        &self.aug
    }

    /// The wrapped dataset.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: Dataset<ImageItem>> Dataset<ImageItem> for Augmented<D> {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let item = self.inner.get(index)?;
        if self.aug.is_identity() {
            return Ok(item);
        }
        let mut rng =
            StdRng::seed_from_u64(mix_seed(&[self.seed, self.epoch() as u64, index as u64]));
        Ok(self.aug.apply(&item, &mut rng))
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryImages;

    /// A 1×2×3 image: rows [1 2 3] and [4 5 6].
    fn small() -> ImageItem {
        ImageItem {
            pixels: vec![1, 2, 3, 4, 5, 6],
            shape: [1, 2, 3],
            label: 4,
        }
    }

    /// A 3×8×8 image with distinct pixel values.
    fn textured() -> ImageItem {
        ImageItem {
            pixels: (0..192).map(|i| (i * 7 % 251) as u8).collect(),
            shape: [3, 8, 8],
            label: 1,
        }
    }

    fn full() -> Augmentation {
        Augmentation {
            crop_padding: Some(2),
            horizontal_flip: true,
            affine: Some(AffineRange {
                max_rotation_deg: 15.0,
                max_translate_frac: 0.1,
                scale: (0.9, 1.1),
            }),
        }
    }

    #[test]
    fn flip_mirrors_rows() {
        let mut item = small();
        flip_horizontal(&mut item);
        assert_eq!(item.pixels, vec![3, 2, 1, 6, 5, 4]);
        // Through `apply`: over a few draws both outcomes occur and nothing else.
        let aug = Augmentation {
            horizontal_flip: true,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(0);
        let outs: Vec<Vec<u8>> = (0..32)
            .map(|_| aug.apply(&small(), &mut rng).pixels)
            .collect();
        assert!(outs.contains(&vec![3, 2, 1, 6, 5, 4]));
        assert!(outs.contains(&vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(outs.iter().filter(|o| o[0] == 1 || o[0] == 3).count(), 32);
    }

    #[test]
    fn crop_padding_zero_is_identity() {
        let aug = Augmentation {
            crop_padding: Some(0),
            ..Default::default()
        };
        assert!(aug.is_identity());
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(aug.apply(&textured(), &mut rng), textured());
        // The identity affine range too.
        let aug = Augmentation {
            affine: Some(AffineRange {
                max_rotation_deg: 0.0,
                max_translate_frac: 0.0,
                scale: (1.0, 1.0),
            }),
            ..Default::default()
        };
        assert!(aug.is_identity());
        assert_eq!(aug.apply(&textured(), &mut rng), textured());
        assert!(!full().is_identity());
    }

    #[test]
    fn crop_shifts_with_zero_fill() {
        let item = small();
        let aug = Augmentation {
            crop_padding: Some(1),
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..20 {
            let out = aug.apply(&item, &mut rng);
            // Every output is the input shifted by some (dy, dx) in [-1, 1]², zeros elsewhere.
            let ok = (-1..=1isize).any(|dy| {
                (-1..=1isize).any(|dx| {
                    (0..2).all(|y| {
                        (0..3).all(|x| {
                            let (sy, sx) = (y as isize + dy, x as isize + dx);
                            let expected = if (0..2).contains(&sy) && (0..3).contains(&sx) {
                                item.pixels[sy as usize * 3 + sx as usize]
                            } else {
                                0
                            };
                            out.pixels[y * 3 + x] == expected
                        })
                    })
                })
            });
            assert!(ok, "{:?}", out.pixels);
        }
    }

    #[test]
    fn affine_keeps_shape_and_moves_pixels() {
        let aug = Augmentation {
            affine: full().affine,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(5);
        let out = aug.apply(&textured(), &mut rng);
        assert_eq!(out.shape, [3, 8, 8]);
        assert_eq!(out.label, 1);
        assert_ne!(out, textured());
        // Nonsense ranges do not panic.
        let weird = Augmentation {
            affine: Some(AffineRange {
                max_rotation_deg: f32::NAN,
                max_translate_frac: 1e30,
                scale: (0.0, -1.0),
            }),
            ..Default::default()
        };
        assert_eq!(weird.apply(&textured(), &mut rng).pixels.len(), 192);
    }

    #[test]
    fn augmented_is_deterministic_per_seed_epoch_index() {
        let items = [textured(), textured()];
        let pixels: Vec<u8> = items.iter().flat_map(|i| i.pixels.clone()).collect();
        let ds = InMemoryImages::new(pixels, [1usize, 1], [3, 8, 8], ["a", "b"]).unwrap();
        let a = Augmented::new(ds.clone(), full(), 42);
        let b = Augmented::new(ds, full(), 42);
        assert_eq!(a.len(), 2);
        // Same (seed, epoch, index): same output, whatever the order of calls.
        let a1 = a.get(1).unwrap();
        let _ = b.get(0).unwrap();
        assert_eq!(b.get(1).unwrap(), a1);
        assert_eq!(a.get(1).unwrap(), a1);
        // Same input at another index differs.
        assert_ne!(a.get(0).unwrap(), a1);
        // Another epoch differs, and going back reproduces.
        a.set_epoch(1);
        assert_eq!(a.epoch(), 1);
        assert_ne!(a.get(1).unwrap(), a1);
        a.set_epoch(0);
        assert_eq!(a.get(1).unwrap(), a1);
        assert!(a.get(2).is_err());
    }

    #[test]
    fn config_round_trips_through_json() {
        let json = serde_json::to_string(&full()).unwrap();
        let back: Augmentation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, full());
        // Missing fields take their defaults.
        let empty: Augmentation = serde_json::from_str(r#"{"crop_padding":null}"#).unwrap();
        assert!(empty.is_identity());
    }
}
