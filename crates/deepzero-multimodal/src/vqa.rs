//! Questions and answers about the captioned scenes ([`crate::captions`]): visual question
//! answering on a task that needs both the image and the question.
//!
//! ## Question kinds (several phrasings each)
//! | kind | example | answer |
//! |---|---|---|
//! | [`QuestionKind::Count`] | "how many digits are there ?" (things, digits or clothes) | `0` … `4` |
//! | [`QuestionKind::CountClass`] | "how many sevens are there ?" | `0` … `4` |
//! | [`QuestionKind::Exists`] | "is there a bag ?" | `yes` / `no` |
//! | [`QuestionKind::Beside`] | "what is left of the sneaker ?" | a class word (`seven`, `bag`, …) |
//!
//! The answers form one closed vocabulary of [`ANSWERS`]: the counts `0`–`4` (numerals, so
//! that the count "1" is not the digit class "one"), `no`, `yes`, then the twenty class words of
//! [`CLASS_WORDS`].
//!
//! **Left of / right of** is read along x only: the answer is the object whose box centre is
//! the nearest one on that side of the reference's centre (the next object in reading order,
//! as the captions list three or four objects). A question is asked only about a reference
//! class that occurs once in the scene and has a neighbour on that side.
//!
//! ## Balance: the question alone says little
//! Every answer depends on the image, and the questions are drawn so that the answer to a given
//! question text is spread out: "how many sevens" is asked about a class chosen by first drawing
//! the answer uniformly among the counts the scene offers (0 and each present class's count);
//! "is there a bag" asks about a present class half of the time and an absent one otherwise;
//! "what is left of the X" has twenty possible answers. The best a model reading only the
//! question can do is the majority answer of each question ([`AnswerPrior`], keyed by
//! [`Question::key`], paraphrases merged): the *question-only prior* that every VQA figure is
//! reported against.
//!
//! ## Held-out pairs
//! The scenes are [`CaptionedScenes`]: training scenes never hold a held-out class pair, test
//! scenes that do are marked [`VqaScene::novel`], so accuracy is reported on seen and novel
//! combinations separately.

use std::collections::BTreeMap;

use deepzero_data::scenes::{Scene, SceneObject};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::MultimodalError;
use crate::captions::{CLASS_WORDS, CaptionedScenes};

/// Highest count answer (scenes hold at most this many objects).
pub const MAX_COUNT: usize = 4;

/// The closed answer vocabulary: counts, `no`/`yes`, class words.
pub const ANSWERS: [&str; 27] = [
    "0", "1", "2", "3", "4", "no", "yes", "zero", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
    "sneaker", "bag", "boot",
];

/// Plural of each class word, as count questions say it.
pub const PLURALS: [&str; 20] = [
    "zeros",
    "ones",
    "twos",
    "threes",
    "fours",
    "fives",
    "sixes",
    "sevens",
    "eights",
    "nines",
    "tops",
    "trousers",
    "pullovers",
    "dresses",
    "coats",
    "sandals",
    "shirts",
    "sneakers",
    "bags",
    "boots",
];

/// Index into [`ANSWERS`] of the count `n`.
pub fn count_answer(n: usize) -> usize {
    n.min(MAX_COUNT)
}

/// Index into [`ANSWERS`] of `no` / `yes`.
pub fn yes_no_answer(yes: bool) -> usize {
    MAX_COUNT + 1 + usize::from(yes)
}

/// Index into [`ANSWERS`] of class `class`'s word.
pub fn class_answer(class: usize) -> usize {
    MAX_COUNT + 3 + class
}

/// What a question asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum QuestionKind {
    /// How many things, digits or clothes.
    Count,
    /// How many of one class.
    CountClass,
    /// Whether a class is present.
    Exists,
    /// Which class is next to the left or right of a reference object.
    Beside,
}

impl QuestionKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 4] = [Self::Count, Self::CountClass, Self::Exists, Self::Beside];

    /// The kind's name in reports (`count`, `count_class`, `exists`, `beside`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::CountClass => "count_class",
            Self::Exists => "exists",
            Self::Beside => "beside",
        }
    }
}

/// One question about a scene, with its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// What it asks.
    pub kind: QuestionKind,
    /// The question as words (punctuation spaced out, as the captions write it).
    pub text: String,
    /// Index into [`ANSWERS`].
    pub answer: usize,
    /// The question without its phrasing (`count:digits`, `exists:bag`, `left:sneaker`):
    /// what a model reading only the question can know.
    pub key: String,
}

/// How questions are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuestionConfig {
    /// Questions of each kind per scene (drawn independently; repeats of the same key dropped).
    pub per_kind: usize,
    /// Seed of the draws (mixed with each scene's index).
    pub seed: u64,
}

impl Default for QuestionConfig {
    /// Two questions of each kind per scene.
    fn default() -> Self {
        Self {
            per_kind: 2,
            seed: 11,
        }
    }
}

/// A scene with its questions.
#[derive(Clone, Debug, PartialEq)]
pub struct VqaScene {
    /// The canvas and its objects.
    pub scene: Scene,
    /// Its questions (at least one).
    pub questions: Vec<Question>,
    /// True when the scene holds a held-out class pair (never in training).
    pub novel: bool,
}

/// A split of scenes with questions.
#[derive(Clone, Debug, PartialEq)]
pub struct VqaScenes {
    /// The scenes.
    pub scenes: Vec<VqaScene>,
}

impl VqaScenes {
    /// The questions of `scenes` (the `i`-th scene's draws seeded by `config.seed` and `i`).
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] if the scenes may hold more than [`MAX_COUNT`] objects or
    /// more classes than [`CLASS_WORDS`] names, or `per_kind` is 0.
    pub fn from_captioned(
        scenes: CaptionedScenes,
        config: &QuestionConfig,
    ) -> Result<Self, MultimodalError> {
        if scenes.config.max_objects > MAX_COUNT {
            return Err(MultimodalError::Invalid(format!(
                "question scenes hold at most {MAX_COUNT} objects, not {}",
                scenes.config.max_objects
            )));
        }
        if config.per_kind == 0 {
            return Err(MultimodalError::Invalid(
                "at least one question per kind and scene".into(),
            ));
        }
        let mut out = Vec::with_capacity(scenes.len());
        for (i, s) in scenes.scenes.into_iter().enumerate() {
            if s.scene.objects.iter().any(|o| o.class >= CLASS_WORDS.len()) {
                return Err(MultimodalError::Invalid(format!(
                    "scene {i} holds a class beyond the {} that questions name",
                    CLASS_WORDS.len()
                )));
            }
            let questions = questions(&s.scene, config, i as u64);
            out.push(VqaScene {
                scene: s.scene,
                questions,
                novel: s.novel,
            });
        }
        Ok(Self { scenes: out })
    }

    /// Number of scenes.
    pub fn len(&self) -> usize {
        self.scenes.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.scenes.is_empty()
    }

    /// Every question of the scenes at `indices`, with its scene's index.
    pub fn questions<'a>(
        &'a self,
        indices: &'a [usize],
    ) -> impl Iterator<Item = (usize, &'a Question)> + 'a {
        indices
            .iter()
            .flat_map(move |&i| self.scenes[i].questions.iter().map(move |q| (i, q)))
    }
}

fn centre_x(object: &SceneObject) -> f32 {
    (object.bbox[0] + object.bbox[2]) / 2.0
}

fn article(class: usize) -> &'static str {
    if CLASS_WORDS[class].starts_with('e') {
        "an"
    } else {
        "a"
    }
}

/// The object next to `objects[reference]` on its left (`left`) or right: the nearest centre
/// along x on that side; `None` if there is none or two tie.
pub fn beside(objects: &[SceneObject], reference: usize, left: bool) -> Option<usize> {
    let x = centre_x(&objects[reference]);
    let mut best: Option<(f32, usize)> = None;
    let mut tie = false;
    for (i, o) in objects.iter().enumerate() {
        let d = if left {
            x - centre_x(o)
        } else {
            centre_x(o) - x
        };
        if i == reference || d <= 0.0 {
            continue;
        }
        match best {
            Some((b, _)) if d == b => tie = true,
            Some((b, _)) if d > b => {}
            _ => {
                best = Some((d, i));
                tie = false;
            }
        }
    }
    if tie { None } else { best.map(|(_, i)| i) }
}

/// The questions of one scene: `config.per_kind` draws of each kind (see the module docs),
/// repeats of a key dropped; `index` mixes the scene's place into the seed.
pub fn questions(scene: &Scene, config: &QuestionConfig, index: u64) -> Vec<Question> {
    let mut rng = StdRng::seed_from_u64(
        config
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(index),
    );
    let mut out: Vec<Question> = Vec::new();
    for kind in QuestionKind::ALL {
        for _ in 0..config.per_kind {
            if let Some(q) = draw(scene, kind, &mut rng)
                && !out.iter().any(|o| o.key == q.key)
            {
                out.push(q);
            }
        }
    }
    out
}

/// One of `templates`, `{}` replaced by `word`.
fn phrase(rng: &mut StdRng, templates: &[&str], word: &str) -> String {
    let t = templates.choose(rng).copied().unwrap_or(templates[0]);
    t.replace("{}", word)
}

fn draw(scene: &Scene, kind: QuestionKind, rng: &mut StdRng) -> Option<Question> {
    let objects = &scene.objects;
    let classes = CLASS_WORDS.len();
    let count_of = |c: usize| objects.iter().filter(|o| o.class == c).count();
    match kind {
        QuestionKind::Count => {
            // Things, digits (MNIST classes) or clothes (Fashion-MNIST classes).
            let subject = rng.random_range(0..3);
            let (words, count, name): (&[&str], usize, &str) = match subject {
                0 => (&["things", "objects"], objects.len(), "things"),
                1 => (
                    &["digits", "numbers"],
                    objects.iter().filter(|o| o.class < 10).count(),
                    "digits",
                ),
                _ => (
                    &["clothes", "pieces of clothing"],
                    objects.iter().filter(|o| o.class >= 10).count(),
                    "clothes",
                ),
            };
            let word = words.choose(rng).copied().unwrap_or(words[0]);
            let text = phrase(
                rng,
                &[
                    "how many {} are there ?",
                    "how many {} are in the picture ?",
                    "count the {} .",
                    "what is the number of {} ?",
                ],
                word,
            );
            Some(Question {
                kind,
                text,
                answer: count_answer(count),
                key: format!("count:{name}"),
            })
        }
        QuestionKind::CountClass => {
            // The answer first, uniformly among the counts this scene offers, then a class.
            let mut offered: Vec<usize> = objects.iter().map(|o| count_of(o.class)).collect();
            offered.push(0);
            offered.sort_unstable();
            offered.dedup();
            let answer = *offered.choose(rng)?;
            let candidates: Vec<usize> = (0..classes).filter(|&c| count_of(c) == answer).collect();
            let class = *candidates.choose(rng)?;
            let text = phrase(
                rng,
                &[
                    "how many {} are there ?",
                    "how many {} can you see ?",
                    "count the {} .",
                    "what is the number of {} ?",
                ],
                PLURALS[class],
            );
            Some(Question {
                kind,
                text,
                answer: count_answer(answer),
                key: format!("count:{}", PLURALS[class]),
            })
        }
        QuestionKind::Exists => {
            let present = rng.random_bool(0.5);
            let candidates: Vec<usize> = (0..classes)
                .filter(|&c| (count_of(c) > 0) == present)
                .collect();
            let class = *candidates.choose(rng)?;
            let noun = format!("{} {}", article(class), CLASS_WORDS[class]);
            let text = phrase(
                rng,
                &[
                    "is there {} ?",
                    "is there {} in the picture ?",
                    "do you see {} ?",
                    "does the picture show {} ?",
                ],
                &noun,
            );
            Some(Question {
                kind,
                text,
                answer: yes_no_answer(present),
                key: format!("exists:{}", CLASS_WORDS[class]),
            })
        }
        QuestionKind::Beside => {
            let first_left = rng.random_bool(0.5);
            for left in [first_left, !first_left] {
                let references: Vec<(usize, usize)> = (0..objects.len())
                    .filter(|&r| count_of(objects[r].class) == 1)
                    .filter_map(|r| beside(objects, r, left).map(|b| (r, b)))
                    .collect();
                let Some(&(r, b)) = references.choose(rng) else {
                    continue;
                };
                let side = if left { "left" } else { "right" };
                let templates: [String; 4] = [
                    format!("what is {side} of the {{}} ?"),
                    format!("what is to the {side} of the {{}} ?"),
                    format!("which thing is {side} of the {{}} ?"),
                    format!("what is just {side} of the {{}} ?"),
                ];
                let templates: Vec<&str> = templates.iter().map(String::as_str).collect();
                let word = CLASS_WORDS[objects[r].class];
                return Some(Question {
                    kind,
                    text: phrase(rng, &templates, word),
                    answer: class_answer(objects[b].class),
                    key: format!("{side}:{word}"),
                });
            }
            None
        }
    }
}

/// The majority answer of each question key in a training set: what the best model that reads
/// only the question can answer.
/// It is saved with a run (`prior.json`) so that evaluation can report it beside the model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerPrior {
    /// Answer counts of each question key.
    counts: BTreeMap<String, BTreeMap<usize, usize>>,
    /// Answer counts of each kind (by [`QuestionKind::name`]).
    by_kind: BTreeMap<String, BTreeMap<usize, usize>>,
}

impl AnswerPrior {
    /// The answer counts of `questions`.
    pub fn fit<'a>(questions: impl IntoIterator<Item = &'a Question>) -> Self {
        let mut prior = Self::default();
        for q in questions {
            let keyed = prior.counts.entry(q.key.clone()).or_default();
            *keyed.entry(q.answer).or_default() += 1;
            *prior
                .by_kind
                .entry(q.kind.name().to_string())
                .or_default()
                .entry(q.answer)
                .or_default() += 1;
        }
        prior
    }

    fn majority(counts: &BTreeMap<usize, usize>) -> Option<usize> {
        // Most frequent; ties go to the lowest answer index (BTreeMap order, first max kept).
        let mut best: Option<(usize, usize)> = None;
        for (&a, &n) in counts {
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((a, n));
            }
        }
        best.map(|(a, _)| a)
    }

    /// The prior's answer to `question`: the majority answer of its key, or of its kind when
    /// the key was never seen.
    pub fn answer(&self, question: &Question) -> Option<usize> {
        self.counts
            .get(&question.key)
            .and_then(Self::majority)
            .or_else(|| self.kind_answer(question.kind))
    }

    /// The majority answer of a kind, whatever the question says.
    pub fn kind_answer(&self, kind: QuestionKind) -> Option<usize> {
        self.by_kind.get(kind.name()).and_then(Self::majority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captions::{CaptionedScene, CaptionedScenesConfig};
    use deepzero_data::InMemoryImages;

    fn object(class: usize, x0: f32, y0: f32) -> SceneObject {
        SceneObject {
            class,
            bbox: [x0, y0, x0 + 10.0, y0 + 10.0],
            side: 10,
            source: (0, 0),
        }
    }

    fn scene(objects: Vec<SceneObject>) -> Scene {
        Scene {
            size: 48,
            pixels: vec![0; 48 * 48],
            mask: vec![0; 48 * 48],
            objects,
        }
    }

    /// Answers a question from its words alone and the scene's objects: an independent reading
    /// of the templates, to check the generator's answers.
    fn read_answer(scene: &Scene, text: &str) -> usize {
        let words: Vec<&str> = text.split(' ').collect();
        let objects = &scene.objects;
        let class_of = |w: &str| CLASS_WORDS.iter().position(|c| *c == w);
        let plural_of = |w: &str| PLURALS.iter().position(|c| *c == w);
        if let Some(c) = words.iter().find_map(|w| plural_of(w)) {
            return count_answer(objects.iter().filter(|o| o.class == c).count());
        }
        if text.contains("things") || text.contains("objects") {
            return count_answer(objects.len());
        }
        if text.contains("digits") || text.contains("numbers") {
            return count_answer(objects.iter().filter(|o| o.class < 10).count());
        }
        if text.contains("cloth") {
            return count_answer(objects.iter().filter(|o| o.class >= 10).count());
        }
        let c = words.iter().rev().find_map(|w| class_of(w)).unwrap();
        if words[0] == "is" || words[0] == "do" || words[0] == "does" {
            return yes_no_answer(objects.iter().any(|o| o.class == c));
        }
        let left = words.contains(&"left");
        let r = objects.iter().position(|o| o.class == c).unwrap();
        let x = centre_x(&objects[r]);
        // The nearest centre on that side, by sorting.
        let mut side: Vec<&SceneObject> = objects
            .iter()
            .filter(|o| {
                if left {
                    centre_x(o) < x
                } else {
                    centre_x(o) > x
                }
            })
            .collect();
        side.sort_by(|a, b| (centre_x(a) - x).abs().total_cmp(&(centre_x(b) - x).abs()));
        class_answer(side[0].class)
    }

    #[test]
    fn answer_indices_name_the_right_words() {
        assert_eq!(ANSWERS[count_answer(3)], "3");
        assert_eq!(ANSWERS[yes_no_answer(true)], "yes");
        assert_eq!(ANSWERS[yes_no_answer(false)], "no");
        for (c, word) in CLASS_WORDS.iter().enumerate() {
            assert_eq!(ANSWERS[class_answer(c)], *word);
            assert!(PLURALS[c].starts_with(&word[..3]));
        }
    }

    #[test]
    fn hand_built_scene_answers() {
        // seven (x 5), sneaker (x 25), seven (x 40), bag (x 60).
        let s = scene(vec![
            object(7, 0.0, 0.0),
            object(17, 20.0, 30.0),
            object(7, 35.0, 10.0),
            object(18, 55.0, 0.0),
        ]);
        assert_eq!(beside(&s.objects, 1, true), Some(0));
        assert_eq!(beside(&s.objects, 1, false), Some(2));
        assert_eq!(beside(&s.objects, 3, false), None);
        assert_eq!(beside(&s.objects, 0, true), None);
        let config = QuestionConfig {
            per_kind: 30,
            seed: 3,
        };
        let qs = questions(&s, &config, 0);
        let keys: Vec<&str> = qs.iter().map(|q| q.key.as_str()).collect();
        for key in [
            "count:things",
            "count:digits",
            "count:clothes",
            "count:sevens",
            "left:sneaker",
            "right:sneaker",
            "left:bag",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        // Sevens occur twice: never a reference of left/right.
        assert!(
            !keys
                .iter()
                .any(|k| (k.starts_with("left:") || k.starts_with("right:"))
                    && k.ends_with(":seven"))
        );
        let find = |key: &str| qs.iter().find(|q| q.key == key).unwrap();
        assert_eq!(find("count:things").answer, count_answer(4));
        assert_eq!(find("count:digits").answer, count_answer(2));
        assert_eq!(find("count:clothes").answer, count_answer(2));
        assert_eq!(find("count:sevens").answer, count_answer(2));
        assert_eq!(ANSWERS[find("left:sneaker").answer], "seven");
        assert_eq!(ANSWERS[find("right:sneaker").answer], "seven");
        assert_eq!(ANSWERS[find("left:bag").answer], "seven");
        for q in &qs {
            assert_eq!(q.answer, read_answer(&s, &q.text), "{}", q.text);
            assert!(
                q.text.ends_with(" ?") || q.text.ends_with(" ."),
                "{}",
                q.text
            );
        }
        let an_eight = questions(&scene(vec![object(8, 0.0, 0.0)]), &config, 1);
        assert!(an_eight.iter().any(|q| q.text.contains("an eight")));
    }

    fn generated(count: usize, training: bool) -> (CaptionedScenes, VqaScenes) {
        let images = |label_offset: usize| {
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
        let captioned =
            CaptionedScenes::generate(&[&digits, &fashion], &config, count, training).unwrap();
        let vqa = VqaScenes::from_captioned(captioned.clone(), &QuestionConfig::default()).unwrap();
        (captioned, vqa)
    }

    #[test]
    fn generated_answers_are_right_and_held_out_pairs_stay_out_of_training() {
        let (captioned, train) = generated(400, true);
        assert_eq!(train.len(), 400);
        assert!(train.scenes.iter().all(|s| !s.novel));
        let mut kinds = BTreeMap::new();
        for s in &train.scenes {
            assert!(!s.questions.is_empty());
            assert!(!crate::captions::holds_pair(
                &s.scene.objects,
                &captioned.held_out
            ));
            for q in &s.questions {
                assert_eq!(q.answer, read_answer(&s.scene, &q.text), "{}", q.text);
                *kinds.entry(q.kind).or_insert(0usize) += 1;
            }
        }
        // Every scene gets count, class-count and existence questions; beside needs two objects.
        assert!(kinds[&QuestionKind::Count] >= 400);
        assert!(kinds[&QuestionKind::Exists] >= 400);
        assert!(kinds[&QuestionKind::Beside] > 200);
        // Same seeds, same questions.
        let (_, again) = generated(400, true);
        assert_eq!(again, train);
        let (_, test) = generated(200, false);
        assert!(test.scenes.iter().any(|s| s.novel));
    }

    #[test]
    fn answers_are_balanced_so_the_question_alone_scores_low() {
        let (_, train) = generated(1500, true);
        let all: Vec<usize> = (0..train.len()).collect();
        let questions: Vec<&Question> = train.questions(&all).map(|(_, q)| q).collect();
        let prior = AnswerPrior::fit(questions.iter().copied());
        let mut per_kind: BTreeMap<QuestionKind, (usize, usize)> = BTreeMap::new();
        for q in &questions {
            let e = per_kind.entry(q.kind).or_default();
            e.0 += usize::from(prior.answer(q) == Some(q.answer));
            e.1 += 1;
        }
        let accuracy = |k| {
            let (hit, n) = per_kind[&k];
            hit as f64 / n as f64
        };
        // yes/no exactly balanced in expectation; class counts mostly 0 or 1 half and half;
        // twenty answers to left/right.
        assert!(accuracy(QuestionKind::Exists) < 0.60, "{per_kind:?}");
        assert!(accuracy(QuestionKind::CountClass) < 0.65, "{per_kind:?}");
        assert!(accuracy(QuestionKind::Count) < 0.50, "{per_kind:?}");
        assert!(accuracy(QuestionKind::Beside) < 0.30, "{per_kind:?}");
        let yes = questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Exists && q.answer == yes_no_answer(true))
            .count();
        let n = per_kind[&QuestionKind::Exists].1;
        assert!((yes as f64 / n as f64 - 0.5).abs() < 0.05, "{yes} of {n}");
    }

    #[test]
    fn refuses_scenes_with_too_many_objects_and_no_questions() {
        let config = CaptionedScenesConfig {
            max_objects: 5,
            ..CaptionedScenesConfig::default()
        };
        let scenes = CaptionedScenes {
            scenes: vec![CaptionedScene {
                scene: scene(vec![object(1, 0.0, 0.0)]),
                captions: vec![],
                novel: false,
            }],
            held_out: Default::default(),
            config,
        };
        let err = VqaScenes::from_captioned(scenes.clone(), &QuestionConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 4 objects"), "{err}");
        let ok = CaptionedScenes {
            config: CaptionedScenesConfig::default(),
            ..scenes
        };
        let none = QuestionConfig {
            per_kind: 0,
            seed: 1,
        };
        assert!(VqaScenes::from_captioned(ok, &none).is_err());
    }
}
