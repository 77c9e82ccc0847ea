//! SVD++ (Koren 2008, eq. 15), Surprise's `SVDpp`: biased MF whose user vector is augmented by
//! the implicit feedback of *which* items the user rated,
//!
//! `r̂_ui = μ + b_u + b_i + q_iᵀ (p_u + |N(u)|^{-1/2} Σ_{j ∈ N(u)} y_j)`,
//!
//! with `N(u)` the user's training items. SGD per rating with `e = r_ui − r̂_ui`,
//! `z = |N(u)|^{-1/2} Σ y_j`:
//!
//! `b_u += γ(e − λ b_u)`, `b_i += γ(e − λ b_i)`, `p_u += γ(e q_i − λ p_u)`,
//! `q_i += γ(e (p_u + z) − λ q_i)`, and for every `j ∈ N(u)`: `y_j += γ(e |N(u)|^{-1/2} q_i − λ y_j)`.
//!
//! Surprise's defaults: 20 factors, 20 epochs, γ = 0.007, λ = 0.02, `N(0, 0.1)` initial factors.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{Recommender, dot, normal_matrix};
use crate::data::{Csr, Interactions};
use crate::error::{RecsysError, Result};

/// Settings of [`SvdPp`] (defaults as Surprise's `SVDpp`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SvdppConfig {
    /// Latent dimensions.
    pub n_factors: usize,
    /// Passes over the training ratings.
    pub n_epochs: usize,
    /// Learning rate γ.
    pub lr: f32,
    /// Regularisation λ.
    pub reg: f32,
    /// Standard deviation of the initial factors (mean 0).
    pub init_std: f32,
    /// Seed of the initial factors and the visiting order.
    pub seed: u64,
}

impl Default for SvdppConfig {
    fn default() -> Self {
        Self {
            n_factors: 20,
            n_epochs: 20,
            lr: 0.007,
            reg: 0.02,
            init_std: 0.1,
            seed: 0,
        }
    }
}

/// A fitted (or unfitted) SVD++ model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SvdPp {
    /// Settings.
    pub config: SvdppConfig,
    /// Global mean.
    pub mu: f32,
    /// User biases.
    pub bu: Vec<f32>,
    /// Item biases.
    pub bi: Vec<f32>,
    /// Explicit user factors `p_u`, row-major.
    pub p: Vec<f32>,
    /// Item factors `q_i`, row-major.
    pub q: Vec<f32>,
    /// Implicit item factors `y_j`, row-major.
    pub y: Vec<f32>,
    /// Cached `p_u + |N(u)|^{-1/2} Σ y_j` of every user, for scoring.
    #[serde(skip)]
    user_vec: Vec<f32>,
    #[serde(skip)]
    seen: Csr,
}

impl SvdPp {
    /// An unfitted model.
    pub fn new(config: SvdppConfig) -> SvdPp {
        SvdPp {
            config,
            ..Default::default()
        }
    }

    /// Sets the training matrix (whose rows are each user's `N(u)`) after loading parameters
    /// from a run folder, and recomputes the cached user vectors.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
        self.cache_user_vectors();
    }

    fn implicit(&self, u: usize, out: &mut [f32]) {
        let f = self.config.n_factors;
        let (items, _) = self.seen.row(u);
        out.fill(0.0);
        if items.is_empty() {
            return;
        }
        for &j in items {
            for (o, y) in out
                .iter_mut()
                .zip(&self.y[j as usize * f..(j as usize + 1) * f])
            {
                *o += y;
            }
        }
        let norm = 1.0 / (items.len() as f32).sqrt();
        out.iter_mut().for_each(|o| *o *= norm);
    }

    fn cache_user_vectors(&mut self) {
        let f = self.config.n_factors;
        let n_users = self.bu.len();
        let mut vecs = vec![0f32; n_users * f];
        let mut z = vec![0f32; f];
        for u in 0..n_users {
            self.implicit(u, &mut z);
            for k in 0..f {
                vecs[u * f + k] = self.p[u * f + k] + z[k];
            }
        }
        self.user_vec = vecs;
    }
}

impl Recommender for SvdPp {
    fn name(&self) -> String {
        "svdpp".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let cfg = self.config.clone();
        if cfg.n_factors == 0 {
            return Err(RecsysError::InvalidArgument(
                "SVD++ needs at least one factor".into(),
            ));
        }
        let f = cfg.n_factors;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        self.mu = train.global_mean();
        self.bu = vec![0.0; train.n_users];
        self.bi = vec![0.0; train.n_items];
        self.p = normal_matrix(train.n_users, f, 0.0, cfg.init_std, &mut rng);
        self.q = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        self.y = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        self.seen = train.user_item();
        let (lr, reg) = (cfg.lr, cfg.reg);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut z = vec![0f32; f];
        for _ in 0..cfg.n_epochs {
            order.shuffle(&mut rng);
            for &k in &order {
                let x = train.data[k];
                let (u, i) = (x.user as usize, x.item as usize);
                self.implicit(u, &mut z);
                let n_u = self.seen.row_len(u).max(1);
                let norm = 1.0 / (n_u as f32).sqrt();
                let pu = &mut self.p[u * f..(u + 1) * f];
                let qi = &mut self.q[i * f..(i + 1) * f];
                let est = self.mu
                    + self.bu[u]
                    + self.bi[i]
                    + qi.iter()
                        .zip(pu.iter())
                        .zip(&z)
                        .map(|((q, p), z)| q * (p + z))
                        .sum::<f32>();
                let err = x.rating - est;
                self.bu[u] += lr * (err - reg * self.bu[u]);
                self.bi[i] += lr * (err - reg * self.bi[i]);
                let (items, _) = self.seen.row(u);
                for k in 0..f {
                    let (puf, qif) = (pu[k], qi[k]);
                    pu[k] += lr * (err * qif - reg * puf);
                    qi[k] += lr * (err * (puf + z[k]) - reg * qif);
                    let step = err * qif * norm;
                    for &j in items {
                        let yj = &mut self.y[j as usize * f + k];
                        *yj += lr * (step - reg * *yj);
                    }
                }
            }
        }
        self.cache_user_vectors();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        let f = self.config.n_factors;
        let mut est = self.mu
            + self.bu.get(user).copied().unwrap_or(0.0)
            + self.bi.get(item).copied().unwrap_or(0.0);
        if let (Some(z), Some(qi)) = (
            self.user_vec.get(user * f..(user + 1) * f),
            self.q.get(item * f..(item + 1) * f),
        ) {
            est += dot(z, qi);
        }
        est
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::kfold;
    use crate::eval::evaluate_ratings;
    use crate::models::{Baseline, BaselineConfig};
    use crate::test_util::synthetic;

    #[test]
    fn scores_use_the_implicit_term_and_beat_the_baseline() {
        let data = synthetic();
        let folds = kfold(&data.ratings, 5, 2).unwrap();
        let cfg = SvdppConfig {
            n_factors: 6,
            n_epochs: 25,
            ..Default::default()
        };
        let mut m = SvdPp::new(cfg.clone());
        m.fit(&folds[0].train).unwrap();
        // The cached vector is p_u + |N(u)|^{-1/2} Σ y_j.
        let f = 6;
        let mut z = vec![0f32; f];
        m.implicit(3, &mut z);
        let by_hand = m.mu
            + m.bu[3]
            + m.bi[5]
            + (0..f)
                .map(|k| m.q[5 * f + k] * (m.p[3 * f + k] + z[k]))
                .sum::<f32>();
        assert!((m.score(3, 5) - by_hand).abs() < 1e-5);
        // On every fold of the 5-fold split, SVD++ predicts better than the biases alone.
        let eval = |m: &dyn Recommender, test: &Interactions| evaluate_ratings(m, test).rmse;
        for fold in &folds {
            let mut m = SvdPp::new(cfg.clone());
            m.fit(&fold.train).unwrap();
            let mut base = Baseline::new(BaselineConfig::default());
            base.fit(&fold.train).unwrap();
            let (s, b) = (eval(&m, &fold.test), eval(&base, &fold.test));
            assert!(s < b, "svd++ {s} vs baseline {b}");
        }
    }
}
