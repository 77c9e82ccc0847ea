//! Rating data: MovieLens readers, id maps, the sparse user × item matrix, splits, negative
//! sampling and a latent-factor generator that writes the same file formats.
//!
//! Raw ids (as written in the files) are mapped to dense indices `0..n` by an [`IdMap`]; every
//! model and metric works on dense indices, and only the task layer turns them back into the
//! user's ids. The maps are built from the *whole* data set before any split, so a fold's test
//! set can hold a user that has no training rating: models then fall back to what they know
//! (global mean, popularity), as Surprise does.

pub mod csr;
pub mod movielens;
pub mod negative;
pub mod numpy_rng;
pub mod split;
pub mod synthetic;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use csr::Csr;
pub use movielens::{ItemInfo, RatingsDataset, RawRating, UserInfo, read_u_folds};
pub use negative::NegativeSampler;
pub use split::{
    ColdStartSplit, Fold, ItemColdStartSplit, LeaveOneOut, SequenceSplit, cold_start_split,
    item_cold_start_split, kfold, leave_one_out, sequence_split, user_sequences,
};
pub use synthetic::{SyntheticConfig, generate, write_ml100k};

/// One rating in dense indices.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating (explicit feedback); implicit models only use its presence.
    pub rating: f32,
    /// Unix seconds.
    pub timestamp: i64,
}

/// The range ratings must lie in (ml-100k and ml-1m: 1–5; ml-latest: 0.5–5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingScale {
    /// Lowest valid rating.
    pub min: f32,
    /// Highest valid rating.
    pub max: f32,
}

impl RatingScale {
    /// 1 to 5 stars (ml-100k, ml-1m).
    pub const STARS: RatingScale = RatingScale { min: 1.0, max: 5.0 };
    /// 0.5 to 5 in half stars (ml-latest).
    pub const HALF_STARS: RatingScale = RatingScale { min: 0.5, max: 5.0 };

    /// Whether `r` lies on the scale.
    pub fn contains(&self, r: f32) -> bool {
        r.is_finite() && r >= self.min && r <= self.max
    }

    /// `r` clipped to the scale (Surprise clips every estimate the same way).
    pub fn clip(&self, r: f32) -> f32 {
        r.clamp(self.min, self.max)
    }
}

/// A set of ratings over fixed index spaces (`n_users`, `n_items`): the whole data set, or one
/// side of a split (which keeps the full index spaces).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interactions {
    /// Size of the user index space.
    pub n_users: usize,
    /// Size of the item index space.
    pub n_items: usize,
    /// The ratings, in file order unless a split reordered them.
    pub data: Vec<Interaction>,
    /// The scale the ratings were checked against.
    pub scale: RatingScale,
}

impl Interactions {
    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no ratings.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A set with the same index spaces and scale holding `data`.
    pub fn with_data(&self, data: Vec<Interaction>) -> Interactions {
        Interactions {
            n_users: self.n_users,
            n_items: self.n_items,
            data,
            scale: self.scale,
        }
    }

    /// Mean rating (0 when empty).
    pub fn global_mean(&self) -> f32 {
        if self.data.is_empty() {
            return 0.0;
        }
        (self.data.iter().map(|x| x.rating as f64).sum::<f64>() / self.data.len() as f64) as f32
    }

    /// The user × item matrix (a duplicate pair keeps its last rating).
    pub fn user_item(&self) -> Csr {
        Csr::from_triplets(
            self.n_users,
            self.n_items,
            self.data.iter().map(|x| (x.user, x.item, x.rating)),
        )
    }

    /// Ratings per item (popularity).
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_items];
        for x in &self.data {
            counts[x.item as usize] += 1;
        }
        counts
    }
}

/// A two-way map between raw ids (as in the files) and dense indices `0..len`, sorted by raw id
/// so that the same data always gets the same indices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdMap {
    raw: Vec<u64>,
    #[serde(skip)]
    index: HashMap<u64, u32>,
}

impl IdMap {
    /// The map of the distinct ids in `ids`.
    pub fn from_ids(ids: impl IntoIterator<Item = u64>) -> IdMap {
        let mut raw: Vec<u64> = ids.into_iter().collect();
        raw.sort_unstable();
        raw.dedup();
        IdMap::from_sorted(raw)
    }

    fn from_sorted(raw: Vec<u64>) -> IdMap {
        let index = raw
            .iter()
            .enumerate()
            .map(|(i, &r)| (r, i as u32))
            .collect();
        IdMap { raw, index }
    }

    /// Rebuilds the lookup table after deserialising (serde skips it).
    pub fn rebuilt(self) -> IdMap {
        IdMap::from_sorted(self.raw)
    }

    /// Dense index of a raw id.
    pub fn index(&self, raw: u64) -> Option<usize> {
        self.index.get(&raw).map(|&i| i as usize)
    }

    /// Raw id of a dense index.
    pub fn raw(&self, index: usize) -> Option<u64> {
        self.raw.get(index).copied()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_is_sorted_and_round_trips() {
        let m = IdMap::from_ids([30, 10, 20, 10]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.index(10), Some(0));
        assert_eq!(m.index(30), Some(2));
        assert_eq!(m.index(99), None);
        assert_eq!(m.raw(1), Some(20));
        let back: IdMap = serde_json::from_str::<IdMap>(&serde_json::to_string(&m).unwrap())
            .unwrap()
            .rebuilt();
        assert_eq!(back.index(20), Some(1));
    }

    #[test]
    fn scale_checks_and_clips() {
        assert!(RatingScale::STARS.contains(5.0));
        assert!(!RatingScale::STARS.contains(0.5));
        assert!(!RatingScale::STARS.contains(f32::NAN));
        assert_eq!(RatingScale::STARS.clip(6.2), 5.0);
        assert!(RatingScale::HALF_STARS.contains(0.5));
    }
}
