//! Seeded negative sampling: items a user has not interacted with.

use std::collections::HashSet;

use rand::Rng;

use super::{Csr, Interactions};
use crate::error::{RecsysError, Result};

/// Draws items uniformly from those a user never interacted with in `known` (for evaluation,
/// pass *all* interactions, so a sampled negative is never a held-out positive).
#[derive(Clone, Debug)]
pub struct NegativeSampler {
    known: Csr,
}

impl NegativeSampler {
    /// A sampler that avoids every `(user, item)` pair of `known`.
    pub fn new(known: &Interactions) -> NegativeSampler {
        NegativeSampler {
            known: known.user_item(),
        }
    }

    /// The matrix of known pairs.
    pub fn known(&self) -> &Csr {
        &self.known
    }

    /// One item `user` has not interacted with (rejection sampling; `None` if there is none).
    pub fn one(&self, user: usize, rng: &mut impl Rng) -> Option<u32> {
        let n = self.known.n_cols;
        let seen = self.known.row_len(user);
        if seen >= n {
            return None;
        }
        if seen * 2 < n {
            loop {
                let j = rng.random_range(0..n);
                if !self.known.contains(user, j) {
                    return Some(j as u32);
                }
            }
        }
        // Dense user: draw among the unseen items directly.
        let unseen: Vec<usize> = (0..n).filter(|&j| !self.known.contains(user, j)).collect();
        Some(unseen[rng.random_range(0..unseen.len())] as u32)
    }

    /// `count` distinct items `user` has not interacted with.
    ///
    /// # Errors
    /// When the user has fewer than `count` unseen items.
    pub fn distinct(&self, user: usize, count: usize, rng: &mut impl Rng) -> Result<Vec<u32>> {
        let n = self.known.n_cols;
        let unseen = n - self.known.row_len(user).min(n);
        if unseen < count {
            return Err(RecsysError::InvalidArgument(format!(
                "user index {user} has only {unseen} unseen items, cannot sample {count} negatives"
            )));
        }
        let mut picked = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let j = self.one(user, rng).unwrap_or_default();
            if picked.insert(j) {
                out.push(j);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Interaction, RatingScale};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn never_returns_a_known_item_and_is_seeded() {
        let data = Interactions {
            n_users: 2,
            n_items: 10,
            data: [1u32, 3, 5, 7, 9, 0, 2]
                .iter()
                .map(|&item| Interaction {
                    user: 0,
                    item,
                    rating: 1.0,
                    timestamp: 0,
                })
                .collect(),
            scale: RatingScale::STARS,
        };
        let s = NegativeSampler::new(&data);
        let mut rng = StdRng::seed_from_u64(1);
        let neg = s.distinct(0, 3, &mut rng).unwrap();
        let mut sorted = neg.clone();
        sorted.sort();
        assert_eq!(sorted, vec![4, 6, 8]);
        let again = s.distinct(0, 3, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(neg, again);
        assert!(s.distinct(0, 4, &mut rng).is_err());
        assert_eq!(s.distinct(1, 10, &mut rng).unwrap().len(), 10);
    }
}
