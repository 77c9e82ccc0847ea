//! Captioned digit scenes: [`deepzero_data::scenes`] canvases of real MNIST and Fashion-MNIST
//! images, each with several captions that say what is where and how large
//! ("a small seven left of a sneaker"), split so that some pairs of classes never appear
//! together in training (compositional generalisation).
//!
//! ## How a caption is composed
//! Every word comes from the objects' classes, boxes and pasted sizes:
//! - the **noun** of a class is one word: `zero` … `nine` for MNIST digits, then `top trouser
//!   pullover dress coat sandal shirt sneaker bag boot` for Fashion-MNIST ([`CLASS_WORDS`]);
//! - the **size** word comes from the side the 28×28 source image was resized to: `small` in the
//!   lowest third of the configured side range, `large` in the highest, none in between;
//! - **one object**: its place on a 3×3 grid of the canvas ("a large seven at the top left");
//! - **two objects**: the relation along the axis where their box centres differ most
//!   ("a small seven left of a sneaker", "a bag above a two");
//! - **three or four**: the objects in reading order along x ("a two , a coat and a small
//!   nine from left to right").
//!
//! Every scene gets [`PARAPHRASES`] captions: the canonical one first (used as *the* caption
//! in retrieval tests), then the same facts said in other words or from the other object's
//! side ("a sneaker right of a small seven"). Training draws one of them per epoch.
//!
//! ## Held-out combinations
//! [`CaptionedScenesConfig::held_out_pairs`] unordered class pairs are drawn (seeded) and
//! removed from the training split: no training scene holds both classes of such a pair. The test
//! split keeps them, and [`CaptionedScene::novel`] marks the test scenes that hold one, so every
//! metric can be reported on seen and on novel combinations separately.

use std::collections::BTreeSet;

use deepzero_data::InMemoryImages;
use deepzero_data::scenes::{Scene, SceneConfig, SceneObject, render_scenes};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::MultimodalError;

/// Captions per scene: the canonical caption and three paraphrases.
pub const PARAPHRASES: usize = 4;

/// The one-word noun of each global scene class: MNIST's ten digits, then Fashion-MNIST's ten
/// classes (`T-shirt/top` → `top`, `Ankle boot` → `boot`).
pub const CLASS_WORDS: [&str; 20] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "top",
    "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot",
];

/// The nine places of a single object, row by row of a 3×3 grid.
pub const PLACES: [&str; 9] = [
    "top left",
    "top",
    "top right",
    "left",
    "middle",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
];

/// How the captioned scenes of a run are made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptionedScenesConfig {
    /// Side of the square canvas in pixels.
    pub canvas: usize,
    /// Fewest objects per scene.
    pub min_objects: usize,
    /// Most objects per scene.
    pub max_objects: usize,
    /// Smallest side a 28×28 source image is resized to.
    pub min_side: usize,
    /// Largest side.
    pub max_side: usize,
    /// Unordered class pairs that never occur together in a training scene.
    pub held_out_pairs: usize,
    /// Seed of the scenes and of the held-out pairs.
    pub seed: u64,
}

impl Default for CaptionedScenesConfig {
    /// 48-pixel canvases of 1–4 objects of 12–22 pixels, 16 of the 190 class pairs held out
    /// (48 pixels keep a CPU epoch short; MNIST strokes stay legible at 12 pixels).
    fn default() -> Self {
        Self {
            canvas: 48,
            min_objects: 1,
            max_objects: 4,
            min_side: 12,
            max_side: 22,
            held_out_pairs: 16,
            seed: 7,
        }
    }
}

impl CaptionedScenesConfig {
    /// The size word of an object pasted at `side` pixels: `Some("small")`, `Some("large")` or
    /// `None` (the middle third of `min_side..=max_side`).
    pub fn size_word(&self, side: usize) -> Option<&'static str> {
        let span = (self.max_side - self.min_side + 1) as f64;
        let position = (side.saturating_sub(self.min_side)) as f64 / span;
        if position < 1.0 / 3.0 {
            Some("small")
        } else if position >= 2.0 / 3.0 {
            Some("large")
        } else {
            None
        }
    }

    fn scene_config(&self, seed: u64) -> SceneConfig {
        SceneConfig {
            canvas: self.canvas,
            min_objects: self.min_objects,
            max_objects: self.max_objects,
            min_side: self.min_side,
            max_side: self.max_side,
            max_iou: 0.0,
            clutter: 0,
            seed,
        }
    }

    /// The held-out unordered class pairs `(a, b)`, `a < b`, of `classes` classes: a seeded
    /// choice, so that the training and the test split agree on it.
    pub fn held_out(&self, classes: usize) -> BTreeSet<(usize, usize)> {
        let mut pairs: Vec<(usize, usize)> = (0..classes)
            .flat_map(|a| (a + 1..classes).map(move |b| (a, b)))
            .collect();
        pairs.shuffle(&mut StdRng::seed_from_u64(self.seed ^ 0x9e37_79b9));
        pairs.into_iter().take(self.held_out_pairs).collect()
    }
}

/// One scene with its captions.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionedScene {
    /// The canvas, its objects and their boxes.
    pub scene: Scene,
    /// [`PARAPHRASES`] captions, the canonical one first.
    pub captions: Vec<String>,
    /// True when the scene holds a held-out class pair (never true in training).
    pub novel: bool,
}

/// A split of captioned scenes.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionedScenes {
    /// The scenes.
    pub scenes: Vec<CaptionedScene>,
    /// The held-out class pairs.
    pub held_out: BTreeSet<(usize, usize)>,
    /// How they were made.
    pub config: CaptionedScenesConfig,
}

impl CaptionedScenes {
    /// `count` captioned scenes from `sources` (`&[&mnist, &fashion]`, the training or test
    /// split of each). With `training`, scenes that hold a held-out pair are skipped (and more
    /// are rendered in their place); otherwise they are kept and marked [`CaptionedScene::novel`].
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] if the sources have more classes than [`CLASS_WORDS`]
    /// names, and any error of [`render_scenes`].
    pub fn generate(
        sources: &[&InMemoryImages],
        config: &CaptionedScenesConfig,
        count: usize,
        training: bool,
    ) -> Result<Self, MultimodalError> {
        let classes: usize = sources.iter().map(|s| s.num_classes()).sum();
        if classes > CLASS_WORDS.len() {
            return Err(MultimodalError::Invalid(format!(
                "captioned scenes name at most {} classes (MNIST then Fashion-MNIST); the sources have {classes}",
                CLASS_WORDS.len()
            )));
        }
        let held_out = config.held_out(classes);
        let mut scenes = Vec::with_capacity(count);
        // Each round renders a fresh seeded batch; training rounds drop held-out pairs.
        let mut round = 0u64;
        while scenes.len() < count {
            if round > 64 {
                return Err(MultimodalError::Invalid(format!(
                    "could not render {count} training scenes without the {} held-out pairs",
                    held_out.len()
                )));
            }
            let seed = config.seed.wrapping_add(round.wrapping_mul(0x5851_f42d));
            let want = (count - scenes.len()) * if training { 5 } else { 4 } / 4 + 1;
            let rendered = render_scenes(sources, &config.scene_config(seed), want)?;
            for scene in rendered.scenes {
                let novel = holds_pair(&scene.objects, &held_out);
                if training && novel {
                    continue;
                }
                if scenes.len() == count {
                    break;
                }
                let captions = captions(&scene, config);
                scenes.push(CaptionedScene {
                    scene,
                    captions,
                    novel,
                });
            }
            round += 1;
        }
        Ok(Self {
            scenes,
            held_out,
            config: config.clone(),
        })
    }

    /// Number of scenes.
    pub fn len(&self) -> usize {
        self.scenes.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.scenes.is_empty()
    }
}

/// Whether two of `objects` form one of the `pairs` (unordered).
pub fn holds_pair(objects: &[SceneObject], pairs: &BTreeSet<(usize, usize)>) -> bool {
    objects.iter().enumerate().any(|(i, a)| {
        objects[i + 1..].iter().any(|b| {
            let key = (a.class.min(b.class), a.class.max(b.class));
            pairs.contains(&key)
        })
    })
}

fn centre(object: &SceneObject) -> (f32, f32) {
    let [x0, y0, x1, y1] = object.bbox;
    ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
}

/// "a small seven", "a sneaker": the noun phrase of one object.
pub fn noun_phrase(object: &SceneObject, config: &CaptionedScenesConfig) -> String {
    let noun = CLASS_WORDS.get(object.class).copied().unwrap_or("thing");
    match config.size_word(object.side) {
        Some(size) => format!("a {size} {noun}"),
        None => format!("a {noun}"),
    }
}

/// The place (index into [`PLACES`]) of a box centre on a 3×3 grid of a `canvas`-pixel square.
pub fn place(object: &SceneObject, canvas: usize) -> usize {
    let (x, y) = centre(object);
    let third = |v: f32| ((v * 3.0 / canvas as f32) as usize).min(2);
    third(y) * 3 + third(x)
}

/// The [`PARAPHRASES`] captions of `scene`, canonical first (see the module docs).
pub fn captions(scene: &Scene, config: &CaptionedScenesConfig) -> Vec<String> {
    let objects = &scene.objects;
    let np = |o: &SceneObject| noun_phrase(o, config);
    match objects.len() {
        0 => vec!["an empty picture".to_string(); PARAPHRASES],
        1 => {
            let (a, at) = (np(&objects[0]), PLACES[place(&objects[0], scene.size)]);
            vec![
                format!("{a} at the {at}"),
                format!("at the {at} there is {a}"),
                format!("{a} , {at}"),
                format!("a picture of {a} at the {at}"),
            ]
        }
        2 => {
            let (c0, c1) = (centre(&objects[0]), centre(&objects[1]));
            let horizontal = (c1.0 - c0.0).abs() >= (c1.1 - c0.1).abs();
            // `first` is left of (or above) `second`.
            let (first, second) = if (horizontal && c0.0 <= c1.0) || (!horizontal && c0.1 <= c1.1) {
                (np(&objects[0]), np(&objects[1]))
            } else {
                (np(&objects[1]), np(&objects[0]))
            };
            if horizontal {
                vec![
                    format!("{first} left of {second}"),
                    format!("{second} right of {first}"),
                    format!("{first} to the left of {second}"),
                    format!("there is {second} to the right of {first}"),
                ]
            } else {
                vec![
                    format!("{first} above {second}"),
                    format!("{second} below {first}"),
                    format!("{first} on top of {second}"),
                    format!("there is {second} under {first}"),
                ]
            }
        }
        _ => {
            let mut order: Vec<&SceneObject> = objects.iter().collect();
            order.sort_by(|a, b| centre(a).0.total_cmp(&centre(b).0));
            let phrases: Vec<String> = order.iter().map(|o| np(o)).collect();
            let list = |phrases: &[String]| {
                let (last, rest) = phrases.split_last().expect("three or more objects");
                format!("{} and {last}", rest.join(" , "))
            };
            let reversed: Vec<String> = phrases.iter().rev().cloned().collect();
            vec![
                format!("{} from left to right", list(&phrases)),
                format!("from left to right : {}", list(&phrases)),
                format!("{} from right to left", list(&reversed)),
                format!("from right to left : {}", list(&reversed)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: usize, bbox: [f32; 4], side: usize) -> SceneObject {
        SceneObject {
            class,
            bbox,
            side,
            source: (0, 0),
        }
    }

    fn scene(objects: Vec<SceneObject>) -> Scene {
        Scene {
            size: 64,
            pixels: vec![0; 64 * 64],
            mask: vec![0; 64 * 64],
            objects,
        }
    }

    #[test]
    fn size_words_split_the_side_range_in_thirds() {
        let config = CaptionedScenesConfig {
            min_side: 14,
            max_side: 28,
            ..CaptionedScenesConfig::default()
        }; // 15 sides, 5 per third
        let words: Vec<Option<&str>> = (14..=28).map(|s| config.size_word(s)).collect();
        assert_eq!(words[..5], [Some("small"); 5]);
        assert_eq!(words[5..10], [None; 5]);
        assert_eq!(words[10..], [Some("large"); 5]);
    }

    #[test]
    fn captions_state_what_is_where_and_how_large() {
        let config = CaptionedScenesConfig {
            canvas: 64,
            min_side: 14,
            max_side: 28,
            ..CaptionedScenesConfig::default()
        };
        // A small seven (class 7, side 15) left of a medium sneaker (class 17, side 21).
        let two = scene(vec![
            object(17, [40.0, 20.0, 60.0, 40.0], 21),
            object(7, [2.0, 25.0, 16.0, 39.0], 15),
        ]);
        let c = captions(&two, &config);
        assert_eq!(c[0], "a small seven left of a sneaker");
        assert_eq!(c[1], "a sneaker right of a small seven");
        assert_eq!(c.len(), PARAPHRASES);

        // Vertical: dy dominates.
        let stacked = scene(vec![
            object(2, [20.0, 40.0, 40.0, 60.0], 27),
            object(18, [22.0, 2.0, 40.0, 20.0], 20),
        ]);
        assert_eq!(captions(&stacked, &config)[0], "a bag above a large two");

        let single = scene(vec![object(7, [44.0, 2.0, 62.0, 20.0], 28)]);
        assert_eq!(
            captions(&single, &config)[0],
            "a large seven at the top right"
        );

        let three = scene(vec![
            object(3, [44.0, 2.0, 62.0, 20.0], 14),
            object(10, [2.0, 40.0, 20.0, 60.0], 20),
            object(19, [24.0, 24.0, 40.0, 40.0], 28),
        ]);
        let c = captions(&three, &config);
        assert_eq!(
            c[0],
            "a top , a large boot and a small three from left to right"
        );
        assert_eq!(
            c[2],
            "a small three , a large boot and a top from right to left"
        );
    }

    #[test]
    fn held_out_pairs_are_seeded_and_detected() {
        let config = CaptionedScenesConfig::default();
        let pairs = config.held_out(20);
        assert_eq!(pairs.len(), 16);
        assert_eq!(pairs, config.held_out(20));
        assert!(pairs.iter().all(|&(a, b)| a < b && b < 20));
        let &(a, b) = pairs.iter().next().unwrap();
        let c = (0..20)
            .find(|&c| c != a && c != b && !pairs.contains(&(b.min(c), b.max(c))))
            .unwrap();
        let objects = [
            object(b, [0.0; 4], 20),
            object(c, [0.0; 4], 20),
            object(a, [0.0; 4], 20),
        ];
        assert!(holds_pair(&objects, &pairs));
        assert!(!holds_pair(&objects[..2], &pairs));
    }

    #[test]
    fn training_split_never_holds_a_held_out_pair_and_test_marks_them() {
        let images = |label_offset: usize| {
            // 40 tiny "images": a filled square, labels 0..9.
            let pixels: Vec<u8> = (0..40).flat_map(|_| vec![200u8; 28 * 28]).collect();
            let labels: Vec<usize> = (0..40).map(|i| (i + label_offset) % 10).collect();
            let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
            InMemoryImages::new(pixels, labels, [1, 28, 28], names).unwrap()
        };
        let (digits, fashion) = (images(0), images(3));
        let config = CaptionedScenesConfig {
            held_out_pairs: 40,
            ..CaptionedScenesConfig::default()
        };
        let train = CaptionedScenes::generate(&[&digits, &fashion], &config, 60, true).unwrap();
        assert_eq!(train.len(), 60);
        assert!(train.scenes.iter().all(|s| !s.novel));
        assert!(
            train
                .scenes
                .iter()
                .all(|s| !holds_pair(&s.scene.objects, &train.held_out))
        );
        let test = CaptionedScenes::generate(&[&digits, &fashion], &config, 60, false).unwrap();
        assert!(
            test.scenes.iter().any(|s| s.novel),
            "some test scenes hold held-out pairs"
        );
        for s in &test.scenes {
            assert_eq!(s.novel, holds_pair(&s.scene.objects, &test.held_out));
            assert_eq!(s.captions.len(), PARAPHRASES);
            assert_eq!(s.captions, captions(&s.scene, &config));
        }
    }
}
