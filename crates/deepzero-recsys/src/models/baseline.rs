//! The baseline predictor `r̂_ui = μ + b_u + b_i` (Koren, "Factor in the neighbors", 2008 §2.1),
//! fitted by alternating least squares exactly as Surprise's `BaselineOnly` does: each epoch
//! sets every item bias, then every user bias, to its regularised least-squares value given
//! the other,
//!
//! `b_i = Σ_{u ∈ R(i)} (r_ui − μ − b_u) / (λ_i + |R(i)|)`,
//! `b_u = Σ_{i ∈ R(u)} (r_ui − μ − b_i) / (λ_u + |R(u)|)`,
//!
//! with Surprise's defaults `λ_i = 10`, `λ_u = 15` and 10 epochs. The biases are also the
//! baselines of [`super::Knn`]'s KNNBaseline.

use serde::{Deserialize, Serialize};

use super::Recommender;
use crate::data::{Csr, Interactions};
use crate::error::Result;

/// Settings of the baseline ALS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Regularisation of the user biases (`λ_u`).
    pub reg_u: f32,
    /// Regularisation of the item biases (`λ_i`).
    pub reg_i: f32,
    /// ALS sweeps.
    pub n_epochs: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            reg_u: 15.0,
            reg_i: 10.0,
            n_epochs: 10,
        }
    }
}

/// Global mean and biases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Biases {
    /// Mean training rating `μ`.
    pub mu: f32,
    /// User biases `b_u`.
    pub bu: Vec<f32>,
    /// Item biases `b_i`.
    pub bi: Vec<f32>,
}

impl Biases {
    /// `μ + b_u + b_i`, with 0 for an unknown user or item bias.
    pub fn predict(&self, user: usize, item: usize) -> f32 {
        self.mu
            + self.bu.get(user).copied().unwrap_or(0.0)
            + self.bi.get(item).copied().unwrap_or(0.0)
    }
}

/// Fits the biases by ALS (see the module docs).
pub fn fit_biases(train: &Interactions, cfg: &BaselineConfig) -> Biases {
    let mu = train.global_mean();
    let by_user = train.user_item();
    let by_item = by_user.transpose();
    let mut bu = vec![0f32; train.n_users];
    let mut bi = vec![0f32; train.n_items];
    for _ in 0..cfg.n_epochs {
        for (i, b) in bi.iter_mut().enumerate() {
            let (users, ratings) = by_item.row(i);
            let dev: f32 = users
                .iter()
                .zip(ratings)
                .map(|(&u, &r)| r - mu - bu[u as usize])
                .sum();
            *b = dev / (cfg.reg_i + users.len() as f32);
        }
        for (u, b) in bu.iter_mut().enumerate() {
            let (items, ratings) = by_user.row(u);
            let dev: f32 = items
                .iter()
                .zip(ratings)
                .map(|(&i, &r)| r - mu - bi[i as usize])
                .sum();
            *b = dev / (cfg.reg_u + items.len() as f32);
        }
    }
    Biases { mu, bu, bi }
}

/// Surprise's `BaselineOnly` with ALS.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// Settings.
    pub config: BaselineConfig,
    /// The fitted biases.
    pub biases: Biases,
    #[serde(skip)]
    seen: Csr,
}

impl Baseline {
    /// An unfitted model.
    pub fn new(config: BaselineConfig) -> Baseline {
        Baseline {
            config,
            ..Default::default()
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }
}

impl Recommender for Baseline {
    fn name(&self) -> String {
        "baseline".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        self.biases = fit_biases(train, &self.config);
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        self.biases.predict(user, item)
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
    fn one_epoch_by_hand() {
        // tiny(): μ = 33/10 = 3.3. Item 3 has one rating (5, by u3), so with b_u = 0 after
        // the item sweep b_3 = (5 − 3.3)/(10 + 1); then u3's bias uses the new item biases.
        let data = tiny();
        let cfg = BaselineConfig {
            n_epochs: 1,
            ..Default::default()
        };
        let b = fit_biases(&data, &cfg);
        assert!((b.mu - 3.3).abs() < 1e-6);
        let b3 = (5.0 - 3.3) / 11.0;
        assert!((b.bi[3] - b3).abs() < 1e-6);
        let b0 = (5.0 + 4.0 + 1.0 - 3.0 * 3.3) / 13.0; // item 0: ratings 5, 4, 1
        let b1 = (4.0 + 5.0 + 2.0 - 3.0 * 3.3) / 13.0; // item 1: ratings 4, 5, 2
        let u3 = ((1.0 - 3.3 - b0) + (2.0 - 3.3 - b1) + (5.0 - 3.3 - b3)) / (15.0 + 3.0);
        assert!((b.bu[3] - u3).abs() < 1e-6, "{} vs {u3}", b.bu[3]);
    }

    #[test]
    fn unknown_indices_fall_back_to_the_mean() {
        let mut m = Baseline::new(BaselineConfig::default());
        m.fit(&tiny()).unwrap();
        assert!((m.score(100, 100) - 3.3).abs() < 1e-6);
    }
}
