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
}
