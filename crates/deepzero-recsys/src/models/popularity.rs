//! The most-popular baseline: an item's score is how many training interactions it has, the
//! same for every user. Every personalised top-K model must beat it (and its
//! [`crate::metrics::mean_popularity`] is the ceiling of popularity bias).

use serde::{Deserialize, Serialize};

use super::Recommender;
use crate::data::{Csr, Interactions};
use crate::error::Result;

/// Item popularity.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Popularity {
    /// Training interactions per item.
    pub counts: Vec<u32>,
    #[serde(skip)]
    seen: Csr,
}

impl Popularity {
    /// An unfitted model.
    pub fn new() -> Popularity {
        Popularity::default()
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }
}

impl Recommender for Popularity {
    fn name(&self) -> String {
        "popularity".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        self.counts = train.item_counts();
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, _user: usize, item: usize) -> f32 {
        self.counts.get(item).copied().unwrap_or(0) as f32
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

/// Popularity for catalogues with new items: an item with training interactions scores its
/// count, one without (which plain popularity cannot rank: every new item ties at 0) the
/// count an item of its kind has on average — for each of its features (genres, decade),
/// the mean count of the rated items that share it, averaged over its features.
#[derive(Clone, Debug, Default)]
pub struct FeaturePopularity {
    /// Each item's feature ids ([`super::SideFeatures::item`]).
    pub item_features: Vec<Vec<u32>>,
    /// Training interactions per item.
    pub counts: Vec<u32>,
    /// The score of each item with no interactions.
    pub fallback: Vec<f32>,
    seen: Csr,
}

impl FeaturePopularity {
    /// An unfitted model over the items' features.
    pub fn new(item_features: Vec<Vec<u32>>) -> FeaturePopularity {
        FeaturePopularity {
            item_features,
            ..Default::default()
        }
    }
}

impl Recommender for FeaturePopularity {
    fn name(&self) -> String {
        "popularity+features".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let counts = train.item_counts();
        let n_features = self
            .item_features
            .iter()
            .flatten()
            .max()
            .map_or(0, |&g| g as usize + 1);
        // Per feature: (sum of counts, number) over the rated items that have it.
        let mut per_feature = vec![(0f64, 0usize); n_features];
        for (item, feats) in self.item_features.iter().enumerate() {
            let c = counts.get(item).copied().unwrap_or(0);
            if c > 0 {
                for &g in feats {
                    per_feature[g as usize].0 += c as f64;
                    per_feature[g as usize].1 += 1;
                }
            }
        }
        self.fallback = (0..train.n_items)
            .map(|item| {
                let means: Vec<f64> = self
                    .item_features
                    .get(item)
                    .map_or(&[][..], |v| v)
                    .iter()
                    .filter_map(|&g| {
                        let (sum, n) = per_feature[g as usize];
                        (n > 0).then(|| sum / n as f64)
                    })
                    .collect();
                if means.is_empty() {
                    0.0
                } else {
                    (means.iter().sum::<f64>() / means.len() as f64) as f32
                }
            })
            .collect();
        self.counts = counts;
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, _user: usize, item: usize) -> f32 {
        match self.counts.get(item) {
            Some(&c) if c > 0 => c as f32,
            _ => self.fallback.get(item).copied().unwrap_or(0.0),
        }
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::tiny;

    #[test]
    fn recommends_the_most_rated_unseen_items() {
        let data = tiny();
        let mut m = Popularity::new();
        m.fit(&data).unwrap();
        // Item counts in `tiny`: item 0: 3, item 1: 3, item 2: 2, item 3: 1, item 4: 1.
        assert_eq!(m.counts, vec![3, 3, 2, 1, 1]);
        let top: Vec<u32> = m.recommend(0, 2, false).iter().map(|x| x.0).collect();
        assert_eq!(top, vec![0, 1]);
        // User 0 rated items 0 and 1, so with exclusion the best unseen are 2, then 3.
        let top: Vec<u32> = m.recommend(0, 2, true).iter().map(|x| x.0).collect();
        assert_eq!(top, vec![2, 3]);
        assert_eq!(m.score(99, 99), 0.0);
    }

    #[test]
    fn an_unrated_item_scores_the_mean_count_of_its_kind() {
        // Counts 3 3 2 1 1 and a sixth item nobody rated. Features: item 0 {0}, 1 {0, 1},
        // 2 {1}, 3 {2}, 4 {}, 5 {0, 1}: feature 0's rated items have counts 3 and 3 (mean 3),
        // feature 1's 3 and 2 (mean 2.5), so item 5 scores (3 + 2.5) / 2 = 2.75.
        let data = Interactions {
            n_items: 6,
            ..tiny()
        };
        let feats = vec![vec![0], vec![0, 1], vec![1], vec![2], vec![], vec![0, 1]];
        let mut m = FeaturePopularity::new(feats);
        m.fit(&data).unwrap();
        assert_eq!(m.score(0, 5), 2.75);
        assert_eq!(
            (m.score(0, 0), m.score(0, 2), m.score(0, 4)),
            (3.0, 2.0, 1.0)
        );
        // Without the features, an unrated item has nothing to go on.
        let mut m = FeaturePopularity::new(vec![Vec::new(); 6]);
        m.fit(&data).unwrap();
        assert_eq!(m.score(0, 5), 0.0);
    }
}
