//! Digit scenes: real MNIST / Fashion-MNIST images pasted onto a larger canvas, with tight boxes
//! and per-pixel class masks — one seeded generator for detection, segmentation and image–text
//! tasks whose quality targets must be reachable on a CPU.
//!
//! Each scene holds 1–N objects. An object is one source image resized to a random side and
//! pasted (by per-pixel maximum, so ink stays bright on black as in MNIST) at a random place.
//! Its box is tight around its *ink* — the resized pixels at or above [`INK_THRESHOLD`] — not
//! around the pasted square, so a thin "1" gets a thin box as a human annotator would draw it.
//! The same ink pixels carry the object's class in the mask. Optional clutter pastes small crops
//! of other source images outside every box: strokes that look like parts of digits but are
//! background, so a detector must learn whole shapes rather than "any ink".
//!
//! Scenes are deterministic per `(config.seed, scene index)`: the first `k` scenes are the same
//! whatever `count` is. Use a source's training split for training scenes and its test split for
//! test scenes, so that no digit instance appears in both.
//!
//! ```no_run
//! use std::path::Path;
//! use deepzero_data::scenes::{SceneConfig, render_scenes};
//! use deepzero_data::{IdxCorpus, Split};
//!
//! let mnist = IdxCorpus::Mnist.load(Path::new("datasets/mnist-sample"), Split::Train)?;
//! let scenes = render_scenes(&[&mnist], &SceneConfig::default(), 1_000)?;
//! for object in &scenes.scenes[0].objects {
//!     println!("{} at {:?}", scenes.class_names[object.class], object.bbox);
//! }
//! # Ok::<(), deepzero_data::DataError>(())
//! ```

use std::path::Path;

use image::GrayImage;
use image::imageops::{self, FilterType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{DataError, ImageItem, InMemoryImages};

/// A resized source pixel at or above this value is ink: it belongs to the object's box and mask.
pub const INK_THRESHOLD: u8 = 64;

/// Whole-scene restarts before [`render_scenes`] gives up on placing the objects.
const SCENE_ATTEMPTS: usize = 50;
/// Random positions tried for one object (or clutter fragment) before the scene restarts.
const PLACEMENT_ATTEMPTS: usize = 100;
/// Side range of a clutter fragment, cut from a 28×28 source image.
const CLUTTER_SIDES: std::ops::RangeInclusive<usize> = 8..=12;

/// How scenes are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneConfig {
    /// Side of the square grey canvas in pixels.
    pub canvas: usize,
    /// Fewest objects in a scene (0 allows empty scenes).
    pub min_objects: usize,
    /// Most objects in a scene.
    pub max_objects: usize,
    /// Smallest side, in pixels, of a pasted source image (sampled uniformly).
    pub min_side: usize,
    /// Largest side of a pasted source image.
    pub max_side: usize,
    /// Largest IoU allowed between two objects' boxes; 0 means boxes never overlap.
    pub max_iou: f32,
    /// Background fragments (8–12 px crops of other source images) pasted outside every box.
    pub clutter: usize,
    /// Seed of the whole set.
    pub seed: u64,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            canvas: 64,
            min_objects: 1,
            max_objects: 4,
            min_side: 16,
            max_side: 32,
            max_iou: 0.0,
            clutter: 0,
            seed: 0,
        }
    }
}

/// One pasted object.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneObject {
    /// Global class id: the first source's classes come first, then the second's, and so on.
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]` in pixels, tight around the ink, maxima exclusive.
    pub bbox: [f32; 4],
    /// Side of the pasted (resized) source image.
    pub side: usize,
    /// `(index into the sources, image index in that source)`.
    pub source: (usize, usize),
}

/// One canvas with its objects and class mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// Canvas side `S`.
    pub size: usize,
    /// `S × S` grey pixels, row-major.
    pub pixels: Vec<u8>,
    /// `S × S` class mask: 0 is background, `class + 1` where that object's ink is (a later
    /// object wins where two overlap).
    pub mask: Vec<u8>,
    /// The objects in pasting order.
    pub objects: Vec<SceneObject>,
}

impl Scene {
    /// The canvas as a `1 × S × S` [`ImageItem`] whose label is the number of objects.
    pub fn to_image_item(&self) -> ImageItem {
        ImageItem {
            pixels: self.pixels.clone(),
            shape: [1, self.size, self.size],
            label: self.objects.len(),
        }
    }

    /// Writes the canvas as a grey PNG.
    ///
    /// # Errors
    /// [`DataError::Io`] if the file cannot be written.
    pub fn save_png(&self, path: &Path) -> Result<(), DataError> {
        let side = u32::try_from(self.size)
            .map_err(|_| DataError::Invalid(format!("canvas side {} too large", self.size)))?;
        let image = GrayImage::from_raw(side, side, self.pixels.clone())
            .ok_or_else(|| DataError::Invalid("scene pixels do not fill the canvas".into()))?;
        image
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| DataError::io(path, std::io::Error::other(e)))
    }
}

/// Rendered scenes and the names of their classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenes {
    /// The scenes, in index order.
    pub scenes: Vec<Scene>,
    /// Class names, indexed by [`SceneObject::class`] (the sources' names concatenated).
    pub class_names: Vec<String>,
}

/// Renders `count` scenes from grey `sources` (for example `&[&mnist]` or `&[&mnist, &fashion]`).
///
/// # Errors
/// [`DataError::Invalid`] for no or an empty source, a source that is not one-channel, a canvas
/// smaller than `max_side`, a minimum above its maximum, a side below 4, `max_iou` outside
/// `[0, 1]`, or objects that cannot be placed within `max_iou` after many tries.
pub fn render_scenes(
    sources: &[&InMemoryImages],
    config: &SceneConfig,
    count: usize,
) -> Result<Scenes, DataError> {
    check_config(sources, config)?;
    let class_offsets: Vec<usize> = sources
        .iter()
        .scan(0, |offset, source| {
            let this = *offset;
            *offset += source.num_classes();
            Some(this)
        })
        .collect();
    let class_names = sources
        .iter()
        .flat_map(|source| source.class_names().iter().cloned())
        .collect();
    let renderer = Renderer {
        sources,
        class_offsets,
        config,
    };
    let scenes = (0..count)
        .map(|index| renderer.scene(index))
        .collect::<Result<_, _>>()?;
    Ok(Scenes {
        scenes,
        class_names,
    })
}

fn check_config(sources: &[&InMemoryImages], config: &SceneConfig) -> Result<(), DataError> {
    let invalid = |message: String| Err(DataError::Invalid(message));
    if sources.is_empty() {
        return invalid("scenes need at least one source image set".into());
    }
    if let Some(source) = sources.iter().find(|s| s.is_empty() || s.shape()[0] != 1) {
        return invalid(format!(
            "scene sources must be non-empty one-channel image sets (got {} images of shape {:?})",
            source.len(),
            source.shape()
        ));
    }
    if config.min_side < 4 || config.min_side > config.max_side {
        return invalid(format!(
            "object sides {}..={} must be at least 4 and ordered",
            config.min_side, config.max_side
        ));
    }
    if config.canvas < config.max_side {
        return invalid(format!(
            "canvas {} is smaller than the largest object side {}",
            config.canvas, config.max_side
        ));
    }
    if config.min_objects > config.max_objects {
        return invalid(format!(
            "min_objects {} is above max_objects {}",
            config.min_objects, config.max_objects
        ));
    }
    if !(0.0..=1.0).contains(&config.max_iou) {
        return invalid(format!("max_iou {} is outside [0, 1]", config.max_iou));
    }
    Ok(())
}

/// A resized source image ready to paste: its pixels and its ink box within the patch.
struct Patch {
    pixels: Vec<u8>,
    side: usize,
    /// `[x0, y0, x1, y1]` of the ink inside the patch, maxima exclusive.
    ink: [usize; 4],
}

struct Renderer<'a> {
    sources: &'a [&'a InMemoryImages],
    class_offsets: Vec<usize>,
    config: &'a SceneConfig,
}

impl Renderer<'_> {
    fn scene(&self, index: usize) -> Result<Scene, DataError> {
        for attempt in 0..SCENE_ATTEMPTS {
            let mut rng =
                StdRng::seed_from_u64(mix(&[self.config.seed, index as u64, attempt as u64]));
            if let Some(scene) = self.try_scene(&mut rng) {
                return Ok(scene);
            }
        }
        Err(DataError::Invalid(format!(
            "could not place {} objects of side {}..={} on a {}-pixel canvas within IoU {} \
             (scene {index}); use a larger canvas, fewer or smaller objects, or a larger max_iou",
            self.config.max_objects,
            self.config.min_side,
            self.config.max_side,
            self.config.canvas,
            self.config.max_iou
        )))
    }

    /// One scene, or `None` when an object found no place (the caller retries with a new seed).
    fn try_scene(&self, rng: &mut StdRng) -> Option<Scene> {
        let size = self.config.canvas;
        let mut scene = Scene {
            size,
            pixels: vec![0; size * size],
            mask: vec![0; size * size],
            objects: Vec::new(),
        };
        let count = rng.random_range(self.config.min_objects..=self.config.max_objects);
        for _ in 0..count {
            let (source, image) = self.pick_image(rng);
            let side = rng.random_range(self.config.min_side..=self.config.max_side);
            let patch = self.resize(source, image, side)?;
            let (x, y) = self.place(&patch, &scene.objects, rng)?;
            let class = self.class_offsets[source] + self.sources[source].labels()[image];
            paste(&mut scene, &patch, x, y, Some(class));
            scene.objects.push(SceneObject {
                class,
                bbox: [
                    (x + patch.ink[0]) as f32,
                    (y + patch.ink[1]) as f32,
                    (x + patch.ink[2]) as f32,
                    (y + patch.ink[3]) as f32,
                ],
                side,
                source: (source, image),
            });
        }
        for _ in 0..self.config.clutter {
            self.add_clutter(&mut scene, rng);
        }
        Some(scene)
    }

    fn pick_image(&self, rng: &mut StdRng) -> (usize, usize) {
        let source = rng.random_range(0..self.sources.len());
        (source, rng.random_range(0..self.sources[source].len()))
    }

    /// The source image resized to `side × side`, or `None` if it has no ink (a blank image).
    fn resize(&self, source: usize, image: usize, side: usize) -> Option<Patch> {
        let set = self.sources[source];
        let [_, h, w] = set.shape();
        let raw = GrayImage::from_raw(w as u32, h as u32, set.image(image)?.to_vec())?;
        let pixels =
            imageops::resize(&raw, side as u32, side as u32, FilterType::Triangle).into_raw();
        let ink = ink_box(&pixels, side, side)?;
        Some(Patch { pixels, side, ink })
    }

    /// A top-left corner where the patch's ink box keeps every IoU with earlier boxes within
    /// `max_iou` (and does not touch them at all when `max_iou` is 0).
    fn place(
        &self,
        patch: &Patch,
        placed: &[SceneObject],
        rng: &mut StdRng,
    ) -> Option<(usize, usize)> {
        let room = self.config.canvas - patch.side;
        (0..PLACEMENT_ATTEMPTS).find_map(|_| {
            let (x, y) = (rng.random_range(0..=room), rng.random_range(0..=room));
            let bbox = [
                (x + patch.ink[0]) as f32,
                (y + patch.ink[1]) as f32,
                (x + patch.ink[2]) as f32,
                (y + patch.ink[3]) as f32,
            ];
            let fits = placed.iter().all(|other| {
                if self.config.max_iou == 0.0 {
                    intersection(&bbox, &other.bbox) == 0.0
                } else {
                    iou(&bbox, &other.bbox) <= self.config.max_iou
                }
            });
            fits.then_some((x, y))
        })
    }

    /// Pastes a small crop of a random source image where it touches no object's box.
    fn add_clutter(&self, scene: &mut Scene, rng: &mut StdRng) {
        let (source, image) = self.pick_image(rng);
        let set = self.sources[source];
        let [_, h, w] = set.shape();
        let side = rng
            .random_range(CLUTTER_SIDES)
            .min(h)
            .min(w)
            .min(scene.size);
        let (cx, cy) = (
            rng.random_range(0..=w - side),
            rng.random_range(0..=h - side),
        );
        let Some(full) = set.image(image) else { return };
        let pixels: Vec<u8> = (0..side)
            .flat_map(|y| {
                full[(cy + y) * w + cx..(cy + y) * w + cx + side]
                    .iter()
                    .copied()
            })
            .collect();
        let patch = Patch {
            pixels,
            side,
            ink: [0, 0, side, side],
        };
        if let Some((x, y)) = self.place(&patch, &scene.objects, rng) {
            paste(scene, &patch, x, y, None);
        }
    }
}

/// Pastes by per-pixel maximum; writes `class + 1` into the mask under the ink when given.
fn paste(scene: &mut Scene, patch: &Patch, x: usize, y: usize, class: Option<usize>) {
    for py in 0..patch.side {
        for px in 0..patch.side {
            let value = patch.pixels[py * patch.side + px];
            let at = (y + py) * scene.size + x + px;
            scene.pixels[at] = scene.pixels[at].max(value);
            if let Some(class) = class
                && value >= INK_THRESHOLD
            {
                scene.mask[at] = u8::try_from(class + 1).unwrap_or(u8::MAX);
            }
        }
    }
}

/// The tight `[x0, y0, x1, y1]` (maxima exclusive) of the pixels at or above the ink threshold.
fn ink_box(pixels: &[u8], width: usize, height: usize) -> Option<[usize; 4]> {
    let mut bbox = [usize::MAX, usize::MAX, 0, 0];
    for y in 0..height {
        for x in 0..width {
            if pixels[y * width + x] >= INK_THRESHOLD {
                bbox = [
                    bbox[0].min(x),
                    bbox[1].min(y),
                    bbox[2].max(x + 1),
                    bbox[3].max(y + 1),
                ];
            }
        }
    }
    (bbox[0] != usize::MAX).then_some(bbox)
}

fn intersection(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    w * h
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    let inter = intersection(a, b);
    inter / (area(a) + area(b) - inter)
}

/// SplitMix64 over the parts: independent streams per `(seed, scene, attempt)`.
fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x9E37_79B9_7F4A_7C15, |acc, &part| {
        let mut z = acc ^ part.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten 28×28 "digits": a filled square of side 8 + 2·label, centred, with a faint rim.
    fn squares() -> InMemoryImages {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for label in 0..10usize {
            let half = 4 + label;
            for y in 0..28usize {
                for x in 0..28usize {
                    let d = y.abs_diff(14).max(x.abs_diff(14));
                    pixels.push(if d < half {
                        255
                    } else if d == half {
                        30
                    } else {
                        0
                    });
                }
            }
            labels.push(label);
        }
        InMemoryImages::new(pixels, labels, [1, 28, 28], (0..10).map(|c| c.to_string())).unwrap()
    }

    #[test]
    fn boxes_are_tight_around_the_ink_and_the_mask_matches() {
        let source = squares();
        let config = SceneConfig {
            min_side: 28,
            max_side: 28,
            ..SceneConfig::default()
        };
        let scenes = render_scenes(&[&source], &config, 20).unwrap();
        for scene in &scenes.scenes {
            assert!((1..=4).contains(&scene.objects.len()));
            for object in &scene.objects {
                // At side 28 there is no resampling: the square of label L has side 2·(4+L)-1.
                let [x0, y0, x1, y1] = object.bbox;
                let expected = (2 * (4 + object.class) - 1) as f32;
                assert_eq!((x1 - x0, y1 - y0), (expected, expected));
                for y in y0 as usize..y1 as usize {
                    for x in x0 as usize..x1 as usize {
                        assert_eq!(scene.mask[y * scene.size + x] as usize, object.class + 1);
                        assert_eq!(scene.pixels[y * scene.size + x], 255);
                    }
                }
            }
            let labelled = scene.mask.iter().filter(|&&m| m > 0).count() as f32;
            let boxed: f32 = scene
                .objects
                .iter()
                .map(|o| (o.bbox[2] - o.bbox[0]) * (o.bbox[3] - o.bbox[1]))
                .sum();
            assert_eq!(labelled, boxed, "boxes never overlap by default");
        }
    }

    #[test]
    fn scenes_are_deterministic_and_prefix_stable() {
        let source = squares();
        let config = SceneConfig {
            clutter: 3,
            seed: 7,
            ..SceneConfig::default()
        };
        let five = render_scenes(&[&source], &config, 5).unwrap();
        let ten = render_scenes(&[&source], &config, 10).unwrap();
        assert_eq!(five.scenes[..], ten.scenes[..5]);
        let other = render_scenes(&[&source], &SceneConfig { seed: 8, ..config }, 5).unwrap();
        assert_ne!(five.scenes, other.scenes);
    }

    #[test]
    fn clutter_stays_outside_every_box() {
        let source = squares();
        let config = SceneConfig {
            clutter: 6,
            min_objects: 2,
            max_objects: 2,
            ..SceneConfig::default()
        };
        for scene in render_scenes(&[&source], &config, 10).unwrap().scenes {
            for (at, &value) in scene.pixels.iter().enumerate() {
                let (x, y) = (
                    (at % scene.size) as f32 + 0.5,
                    (at / scene.size) as f32 + 0.5,
                );
                let inside = scene
                    .objects
                    .iter()
                    .any(|o| x > o.bbox[0] && x < o.bbox[2] && y > o.bbox[1] && y < o.bbox[3]);
                if !inside && value >= INK_THRESHOLD {
                    assert_eq!(scene.mask[at], 0, "clutter is background");
                }
            }
        }
    }

    #[test]
    fn two_sources_get_consecutive_class_ids() {
        let (a, b) = (squares(), squares());
        let scenes = render_scenes(&[&a, &b], &SceneConfig::default(), 30).unwrap();
        assert_eq!(scenes.class_names.len(), 20);
        let sources: std::collections::HashSet<usize> = scenes
            .scenes
            .iter()
            .flat_map(|s| s.objects.iter().map(|o| o.source.0))
            .collect();
        assert_eq!(sources.len(), 2);
        for object in scenes.scenes.iter().flat_map(|s| &s.objects) {
            assert_eq!(object.class, object.source.0 * 10 + object.source.1);
        }
    }

    #[test]
    fn impossible_or_invalid_configs_are_errors() {
        let source = squares();
        let crowded = SceneConfig {
            canvas: 32,
            min_objects: 4,
            max_objects: 4,
            min_side: 32,
            max_side: 32,
            ..SceneConfig::default()
        };
        let message = render_scenes(&[&source], &crowded, 1)
            .unwrap_err()
            .to_string();
        assert!(message.contains("could not place"), "{message}");
        for bad in [
            SceneConfig {
                canvas: 16,
                ..SceneConfig::default()
            },
            SceneConfig {
                min_side: 40,
                ..SceneConfig::default()
            },
            SceneConfig {
                min_objects: 5,
                ..SceneConfig::default()
            },
            SceneConfig {
                max_iou: 1.5,
                ..SceneConfig::default()
            },
        ] {
            assert!(render_scenes(&[&source], &bad, 1).is_err(), "{bad:?}");
        }
        assert!(render_scenes(&[], &SceneConfig::default(), 1).is_err());
    }

    #[test]
    fn a_scene_round_trips_through_png() {
        let source = squares();
        let scene = render_scenes(&[&source], &SceneConfig::default(), 1)
            .unwrap()
            .scenes
            .remove(0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scene.png");
        scene.save_png(&path).unwrap();
        let item = crate::load_image(&path, 1, [64, 64]).unwrap();
        assert_eq!(item.pixels, scene.pixels);
        assert_eq!(scene.to_image_item().label, scene.objects.len());
    }
}
