//! Box- and mask-aware augmentation for detection and segmentation: a random zoom with crop
//! or pad, a horizontal flip and a colour jitter, applied to an image, its boxes and its class
//! mask together, so that every box still encloses its object's pixels and every mask pixel
//! still labels the image pixel under it.
//!
//! The geometry is one map from source to output coordinates, `X = s·x + o` (per axis; a
//! flip then sends `X` to `W − X`), applied to box edges exactly and to pixels by inverse
//! sampling at pixel centres: bilinear for the image, nearest for the mask (class ids must not
//! be blended). Boxes are then clipped to the image, and a box that keeps less than
//! [`BoxAugmentation::min_visibility`] of its area is dropped, as albumentations'
//! `min_visibility` does. The test `boxes_follow_the_pixels_they_enclose` checks the whole
//! contract on random scenes: after any draw, each kept box is, within a pixel, the tight box
//! of its object's mask pixels.

use deepzero_data::ImageItem;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::boxes::{Bbox, area};
use super::data::DetectionObject;

/// Which random transformations to apply, in this order: zoom, flip, colour. The default
/// changes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoxAugmentation {
    /// Zoom factor drawn uniformly in `[scale.0, scale.1]`; the zoomed image is placed at a
    /// uniformly random offset in a canvas of the original size, so a factor above 1 crops a
    /// random window and one below 1 pads with zeros around the image. `(1, 1)`: no zoom.
    pub scale: (f32, f32),
    /// Mirror left–right with probability ½.
    pub horizontal_flip: bool,
    /// Brightness factor drawn in `[1 − b, 1 + b]` (torchvision's `ColorJitter(brightness=b)`).
    pub brightness: f32,
    /// Contrast factor `c` drawn in `[1 − c, 1 + c]`: pixels move to `c·p + (1 − c)·mean`
    /// (torchvision's `adjust_contrast`, the mean taken over all pixels and channels).
    pub contrast: f32,
    /// A box that keeps less than this fraction of its (zoomed) area inside the image is dropped
    /// with its object.
    pub min_visibility: f32,
}

impl Default for BoxAugmentation {
    fn default() -> Self {
        Self {
            scale: (1.0, 1.0),
            horizontal_flip: false,
            brightness: 0.0,
            contrast: 0.0,
            min_visibility: 0.25,
        }
    }
}

/// An image with its objects and, for segmentation, its class mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotated {
    /// `C × H × W` bytes (the label field is not used).
    pub image: ImageItem,
    /// Boxes in pixels of this image.
    pub objects: Vec<DetectionObject>,
    /// `H × W` class ids (0 background), if the sample has one.
    pub mask: Option<Vec<u8>>,
}

/// A draw of the geometric part: output coordinate `X = scale·x + offset` per axis, then
/// `X → W − X` when `flip`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    scale: f32,
    offset: (f32, f32),
    flip: bool,
}

impl BoxAugmentation {
    /// Whether `apply` always returns its input unchanged.
    pub fn is_identity(&self) -> bool {
        self.scale == (1.0, 1.0)
            && !self.horizontal_flip
            && self.brightness == 0.0
            && self.contrast == 0.0
    }

    /// A randomly transformed copy of `sample`: same image size, boxes and mask moved with
    /// the pixels, boxes clipped, mostly hidden boxes dropped.
    pub fn apply(&self, sample: &Annotated, rng: &mut impl Rng) -> Annotated {
        let [_, h, w] = sample.image.shape;
        let scale = uniform(rng, self.scale.0, self.scale.1);
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        // The room the zoomed image has to move in: > 0 pads, < 0 crops.
        let (slack_x, slack_y) = (w as f32 * (1.0 - scale), h as f32 * (1.0 - scale));
        let offset_x = uniform(rng, slack_x.min(0.0), slack_x.max(0.0));
        let offset_y = uniform(rng, slack_y.min(0.0), slack_y.max(0.0));
        let geometry = Geometry {
            scale,
            offset: (offset_x, offset_y),
            flip: self.horizontal_flip && rng.random_bool(0.5),
        };
        let mut out = transform(sample, geometry, self.min_visibility);
        let brightness = uniform(rng, 1.0 - self.brightness, 1.0 + self.brightness).max(0.0);
        let contrast = uniform(rng, 1.0 - self.contrast, 1.0 + self.contrast).max(0.0);
        adjust_colour(&mut out.image.pixels, brightness, contrast);
        out
    }
}

/// A uniform draw in `[lo, hi]` that never panics on an empty range.
fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        lo + (hi - lo) * rng.random::<f32>()
    } else {
        lo
    }
}

/// Applies one geometric draw to the image, boxes and mask.
fn transform(sample: &Annotated, g: Geometry, min_visibility: f32) -> Annotated {
    if g == (Geometry {
        scale: 1.0,
        offset: (0.0, 0.0),
        flip: false,
    }) {
        return sample.clone();
    }
    let [c, h, w] = sample.image.shape;
    // The source coordinate of output pixel centre (x + ½, y + ½), in pixel-index units.
    let source = |x: usize, y: usize| {
        let ox = if g.flip { w - 1 - x } else { x };
        let sx = (ox as f32 + 0.5 - g.offset.0) / g.scale - 0.5;
        let sy = (y as f32 + 0.5 - g.offset.1) / g.scale - 0.5;
        (sx, sy)
    };
    let mut pixels = vec![0u8; sample.image.pixels.len()];
    let mut mask = sample.mask.as_ref().map(|m| vec![0u8; m.len()]);
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = source(x, y);
            for ch in 0..c {
                pixels[(ch * h + y) * w + x] = bilinear(&sample.image, ch, sx, sy);
            }
            if let (Some(out), Some(src)) = (mask.as_mut(), sample.mask.as_ref()) {
                let (nx, ny) = ((sx + 0.5).floor(), (sy + 0.5).floor());
                if (0.0..w as f32).contains(&nx) && (0.0..h as f32).contains(&ny) {
                    out[y * w + x] = src[ny as usize * w + nx as usize];
                }
            }
        }
    }
    let objects = sample
        .objects
        .iter()
        .filter_map(|o| {
            let moved = move_box(&o.bbox, g, w as f32);
            let clipped = [
                moved[0].max(0.0),
                moved[1].max(0.0),
                moved[2].min(w as f32),
                moved[3].min(h as f32),
            ];
            let kept = area(&clipped);
            (kept > 0.0 && kept >= min_visibility * area(&moved)).then(|| DetectionObject {
                bbox: clipped,
                ..o.clone()
            })
        })
        .collect();
    Annotated {
        image: ImageItem {
            pixels,
            shape: sample.image.shape,
            label: sample.image.label,
        },
        objects,
        mask,
    }
}

/// The box's edges under `X = s·x + o`, then the flip `X → W − X` (which swaps the x edges).
fn move_box(b: &Bbox, g: Geometry, width: f32) -> Bbox {
    let [x0, y0, x1, y1] = [
        g.scale * b[0] + g.offset.0,
        g.scale * b[1] + g.offset.1,
        g.scale * b[2] + g.offset.0,
        g.scale * b[3] + g.offset.1,
    ];
    if g.flip {
        [width - x1, y0, width - x0, y1]
    } else {
        [x0, y0, x1, y1]
    }
}

/// Channel `ch` of `image` sampled bilinearly at `(x, y)` (pixel-index units); pixels outside
/// the image count as 0.
fn bilinear(image: &ImageItem, ch: usize, x: f32, y: f32) -> u8 {
    let [_, h, w] = image.shape;
    if !(x > -1.0 && x < w as f32 && y > -1.0 && y < h as f32) {
        return 0; // every neighbour is outside (also catches NaN)
    }
    let at = |xi: f32, yi: f32| -> f32 {
        if xi >= 0.0 && yi >= 0.0 && (xi as usize) < w && (yi as usize) < h {
            f32::from(image.pixels[(ch * h + yi as usize) * w + xi as usize])
        } else {
            0.0
        }
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

/// Brightness `p → b·p`, then contrast `p → c·p + (1 − c)·mean`, each clamped to `[0, 255]`
/// as torchvision's `adjust_brightness` / `adjust_contrast` clamp.
fn adjust_colour(pixels: &mut [u8], brightness: f32, contrast: f32) {
    if brightness == 1.0 && contrast == 1.0 || pixels.is_empty() {
        return;
    }
    let bright: Vec<f32> = pixels
        .iter()
        .map(|&p| (f32::from(p) * brightness).clamp(0.0, 255.0))
        .collect();
    let mean = bright.iter().sum::<f32>() / bright.len() as f32;
    for (p, v) in pixels.iter_mut().zip(bright) {
        *p = (contrast * v + (1.0 - contrast) * mean)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn object(class: usize, bbox: Bbox) -> DetectionObject {
        DetectionObject {
            class,
            bbox,
            difficult: false,
        }
    }

    /// A `side × side` grey scene with filled rectangles (ink 200 + class) and their mask.
    fn scene(side: usize, rects: &[(usize, [usize; 4])]) -> Annotated {
        let mut pixels = vec![0u8; side * side];
        let mut mask = vec![0u8; side * side];
        for &(class, [x0, y0, x1, y1]) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    pixels[y * side + x] = 200 + class as u8;
                    mask[y * side + x] = class as u8 + 1;
                }
            }
        }
        Annotated {
            image: ImageItem {
                pixels,
                shape: [1, side, side],
                label: 0,
            },
            objects: rects
                .iter()
                .map(|&(c, b)| object(c, b.map(|v| v as f32)))
                .collect(),
            mask: Some(mask),
        }
    }

    /// The tight box of the mask pixels of `class`, or `None` when it has none.
    fn mask_box(sample: &Annotated, class: usize) -> Option<Bbox> {
        let [_, h, w] = sample.image.shape;
        let mask = sample.mask.as_ref().unwrap();
        let mut b: Option<Bbox> = None;
        for y in 0..h {
            for x in 0..w {
                if mask[y * w + x] == class as u8 + 1 {
                    let (xf, yf) = (x as f32, y as f32);
                    b = Some(match b {
                        None => [xf, yf, xf + 1.0, yf + 1.0],
                        Some(b) => [
                            b[0].min(xf),
                            b[1].min(yf),
                            b[2].max(xf + 1.0),
                            b[3].max(yf + 1.0),
                        ],
                    });
                }
            }
        }
        b
    }

    #[test]
    fn the_default_changes_nothing() {
        let s = scene(12, &[(0, [2, 3, 6, 9])]);
        let aug = BoxAugmentation::default();
        assert!(aug.is_identity());
        assert_eq!(aug.apply(&s, &mut StdRng::seed_from_u64(1)), s);
    }

    #[test]
    fn a_flip_mirrors_pixels_boxes_and_mask() {
        let s = scene(10, &[(1, [2, 1, 5, 4])]);
        let flip = Geometry {
            scale: 1.0,
            offset: (0.0, 0.0),
            flip: true,
        };
        let out = transform(&s, flip, 0.25);
        assert_eq!(out.objects[0].bbox, [5.0, 1.0, 8.0, 4.0]);
        // Pixel (x = 2, y = 1) is at x = 10 − 1 − 2 = 7.
        assert_eq!(out.image.pixels[10 + 7], 201);
        assert_eq!(out.image.pixels[10 + 4], 0);
        assert_eq!(mask_box(&out, 1), Some([5.0, 1.0, 8.0, 4.0]));
        assert_eq!(transform(&out, flip, 0.25), s);
    }

    #[test]
    fn a_zoom_scales_the_box_and_drops_what_leaves_the_frame() {
        // Zoom ×2 about the origin: [2, 2, 4, 4] → [4, 4, 8, 8]; [6, 1, 9, 3] → [12, 2, 18, 6],
        // wholly right of the 10-pixel frame, is dropped.
        let s = scene(10, &[(0, [2, 2, 4, 4]), (1, [6, 1, 9, 3])]);
        let zoom = Geometry {
            scale: 2.0,
            offset: (0.0, 0.0),
            flip: false,
        };
        let out = transform(&s, zoom, 0.25);
        assert_eq!(out.objects.len(), 1);
        assert_eq!(out.objects[0].bbox, [4.0, 4.0, 8.0, 8.0]);
        assert_eq!(mask_box(&out, 0), Some([4.0, 4.0, 8.0, 8.0]));
        assert_eq!(mask_box(&out, 1), None);
        // Shift left by 4.5 px: [4, 4, 8, 8] → [-0.5, ..., 3.5]: 4/4.5 of it visible, kept
        // and clipped; with min_visibility 0.95 it is dropped.
        let shifted = Geometry {
            offset: (-4.5, 0.0),
            ..zoom
        };
        assert_eq!(
            transform(&s, shifted, 0.25).objects[0].bbox,
            [0.0, 4.0, 3.5, 8.0]
        );
        assert!(transform(&s, shifted, 0.95).objects.is_empty());
        // Zoom ×½ into the middle pads with zeros around.
        let small = Geometry {
            scale: 0.5,
            offset: (2.5, 2.5),
            flip: false,
        };
        let out = transform(&s, small, 0.25);
        assert_eq!(out.objects[0].bbox, [3.5, 3.5, 4.5, 4.5]);
        assert_eq!(out.image.pixels[0], 0);
    }

    #[test]
    fn boxes_follow_the_pixels_they_enclose() {
        let s = scene(
            40,
            &[
                (0, [3, 4, 12, 15]),
                (1, [20, 2, 37, 9]),
                (2, [14, 22, 30, 38]),
            ],
        );
        let aug = BoxAugmentation {
            scale: (0.5, 1.8),
            horizontal_flip: true,
            brightness: 0.3,
            contrast: 0.3,
            min_visibility: 0.3,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let mut kept = 0;
        for draw in 0..200 {
            let out = aug.apply(&s, &mut rng);
            for o in &out.objects {
                let b = o.bbox;
                assert!(
                    b[0] >= 0.0 && b[1] >= 0.0 && b[2] <= 40.0 && b[3] <= 40.0,
                    "{b:?}"
                );
                let ink = mask_box(&out, o.class).expect("a kept box has mask pixels");
                for k in 0..4 {
                    assert!(
                        (ink[k] - b[k]).abs() <= 1.0,
                        "draw {draw}: box {b:?}, ink {ink:?}"
                    );
                }
                kept += 1;
            }
        }
        // Most draws keep most boxes (and the property was checked on them).
        assert!(kept > 300, "{kept} boxes kept of 600");
    }

    #[test]
    fn colour_jitter_matches_the_formulas_and_clamps() {
        let mut p = vec![10u8, 20, 30, 200];
        adjust_colour(&mut p, 1.0, 1.0);
        assert_eq!(p, [10, 20, 30, 200]);
        adjust_colour(&mut p, 2.0, 1.0);
        assert_eq!(p, [20, 40, 60, 255]);
        // Contrast 0 collapses every pixel to the mean (20 + 40 + 60 + 255) / 4 = 93.75.
        adjust_colour(&mut p, 1.0, 0.0);
        assert_eq!(p, [94, 94, 94, 94]);
        // Contrast ½ halves the distance to the mean: 10 → ½·10 + ½·27.5 = 18.75.
        let mut q = vec![10u8, 45];
        adjust_colour(&mut q, 1.0, 0.5);
        assert_eq!(q, [19, 36]);
    }
}
