//! Class subsets and few-shot training sets: keep some classes of a labelled image set,
//! relabel them `0..n`, and optionally only `k` images per class.
//!
//! This is how the fine-tuning chapter builds its "new task" from one corpus: pre-train on
//! Fashion-MNIST classes 0–4, then adapt to classes 5–9 with `k = 10` labelled images each.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::split::mix_seed;
use crate::{DataError, InMemoryImages};

/// The images of `classes` (old label ids) from `images`, relabelled so that `classes[i]`
/// becomes label `i` (and class name `i` is the old name of `classes[i]`).
///
/// With `per_class = Some(k)`, only `k` images of each class are kept: the first `k` in
/// dataset order when `seed` is `None`, a seeded random choice of `k` otherwise (the same seed
/// always picks the same images). The result keeps the dataset order of the chosen images.
///
/// # Errors
/// [`DataError::Invalid`] when `classes` is empty, repeats a class or names one that does not
/// exist, when `k` is 0, or when a class has fewer than `k` images.
pub fn select_classes(
    images: &InMemoryImages,
    classes: &[usize],
    per_class: Option<usize>,
    seed: Option<u64>,
) -> Result<InMemoryImages, DataError> {
    let num_classes = images.num_classes();
    if classes.is_empty() {
        return Err(DataError::Invalid("no classes selected".into()));
    }
    let mut new_label = vec![None; num_classes];
    for (i, &c) in classes.iter().enumerate() {
        if c >= num_classes {
            return Err(DataError::Invalid(format!(
                "class {c} does not exist (the data has classes 0..{num_classes})"
            )));
        }
        if new_label[c].replace(i).is_some() {
            return Err(DataError::Invalid(format!("class {c} is selected twice")));
        }
    }
    if per_class == Some(0) {
        return Err(DataError::Invalid(
            "images per class must be at least 1".into(),
        ));
    }

    // Indices of each selected class, in dataset order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for (index, &label) in images.labels().iter().enumerate() {
        if let Some(new) = new_label[label] {
            members[new].push(index);
        }
    }
    let mut chosen = Vec::new();
    for (new, mut list) in members.into_iter().enumerate() {
        if let Some(k) = per_class {
            if list.len() < k {
                return Err(DataError::Invalid(format!(
                    "class {} ({}) has {} images, fewer than the {k} per class asked for",
                    classes[new],
                    images.class_names()[classes[new]],
                    list.len()
                )));
            }
            if let Some(seed) = seed {
                // One stream per class, so that k images of class c do not depend on the others.
                let mut rng = StdRng::seed_from_u64(mix_seed(&[seed, classes[new] as u64]));
                list.shuffle(&mut rng);
            }
            list.truncate(k);
        }
        chosen.extend(list);
    }
    chosen.sort_unstable();

    let n = images.image_len();
    let mut pixels = Vec::with_capacity(chosen.len() * n);
    let mut labels = Vec::with_capacity(chosen.len());
    for &i in &chosen {
        pixels.extend_from_slice(&images.pixels()[i * n..(i + 1) * n]);
        labels.push(new_label[images.labels()[i]].unwrap_or_default());
    }
    let names: Vec<String> = classes
        .iter()
        .map(|&c| images.class_names()[c].clone())
        .collect();
    InMemoryImages::new(pixels, labels, images.shape(), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 one-pixel images, label `i % 5`, pixel value `i`.
    fn corpus() -> InMemoryImages {
        let labels: Vec<usize> = (0..30).map(|i| i % 5).collect();
        InMemoryImages::new(
            (0..30u8).collect(),
            labels,
            [1, 1, 1],
            ["a", "b", "c", "d", "e"],
        )
        .unwrap()
    }

    #[test]
    fn relabels_in_the_given_order_and_keeps_all_without_k() {
        let out = select_classes(&corpus(), &[3, 1], None, None).unwrap();
        assert_eq!(out.class_names(), ["d", "b"]);
        assert_eq!(out.len(), 12);
        // Dataset order is kept: pixels 1, 3, 6, 8, ... with labels b→1, d→0.
        assert_eq!(&out.pixels()[..4], &[1, 3, 6, 8]);
        assert_eq!(&out.labels()[..4], &[1, 0, 1, 0]);
    }

    #[test]
    fn first_k_or_seeded_k_per_class() {
        let first = select_classes(&corpus(), &[0, 2], Some(2), None).unwrap();
        assert_eq!(first.pixels(), &[0, 2, 5, 7]);
        assert_eq!(first.labels(), &[0, 1, 0, 1]);

        let a = select_classes(&corpus(), &[0, 2], Some(3), Some(9)).unwrap();
        let b = select_classes(&corpus(), &[0, 2], Some(3), Some(9)).unwrap();
        assert_eq!(a, b, "the same seed picks the same images");
        for class in 0..2 {
            assert_eq!(a.labels().iter().filter(|&&l| l == class).count(), 3);
        }
        let others: Vec<_> = (0..20)
            .map(|s| select_classes(&corpus(), &[0, 2], Some(3), Some(s)).unwrap())
            .collect();
        assert!(
            others.iter().any(|o| o != &a),
            "seeds choose different images"
        );
    }

    #[test]
    fn bad_selections_are_errors() {
        let c = corpus();
        for (classes, k, needle) in [
            (vec![], None, "no classes"),
            (vec![1, 1], None, "twice"),
            (vec![5], None, "does not exist"),
            (vec![0], Some(0), "at least 1"),
            (vec![0], Some(7), "has 6 images, fewer than the 7"),
        ] {
            let err = select_classes(&c, &classes, k, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
