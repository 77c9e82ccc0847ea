//! Biased matrix factorisation by stochastic gradient descent — "FunkSVD", Surprise's `SVD`
//! (Koren, Bell & Volinsky 2009, eq. 5):
//!
//! `r̂_ui = μ + b_u + b_i + p_uᵀ q_i`
//!
//! a **dot product** of the user's and the item's factor vectors (the seed's chapter 5.2 writes
//! `R = U ⊙ Vᵀ`, an element-wise product of an `m×k` and a `k×n` matrix, which is not even
//! defined; `R ≈ U Vᵀ` restricted to the observed entries is meant — see docs/errata.md).
//! It minimises over the observed ratings
//!
//! `Σ (r_ui − r̂_ui)² + λ (b_u² + b_i² + ‖p_u‖² + ‖q_i‖²)`
//!
//! one rating at a time, with `e = r_ui − r̂_ui` (the factor 2 of the gradient folded into γ):
//!
//! `b_u += γ (e − λ b_u)`, `b_i += γ (e − λ b_i)`,
//! `p_u += γ (e q_i − λ p_u)`, `q_i += γ (e p_u − λ q_i)` (both with the old values).
//!
//! Surprise's defaults are 100 factors, 20 epochs, γ = 0.005, λ = 0.02, `N(0, 0.1)` initial
//! factors and zero biases. Unlike Surprise (which visits the ratings in the same order every
//! epoch), the order is reshuffled each epoch from the seed.
//!
//! [`FunkSvd::fold_in`] is chapter 5.4's real-time update: a user's new ratings are folded in
//! by solving for that user's bias and factors with the items held fixed (one ridge
//! regression, the exact minimiser of the same objective restricted to the user), without
//! retraining anything else.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{Recommender, dot, normal_matrix};
use crate::data::{Csr, Interactions};
use crate::error::{RecsysError, Result};

/// Settings of [`FunkSvd`] (field names and defaults as Surprise's `SVD`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SvdConfig {
    /// Latent dimensions.
    pub n_factors: usize,
    /// Passes over the training ratings.
    pub n_epochs: usize,
    /// Learning rate γ of every parameter.
    pub lr: f32,
    /// Regularisation λ of every parameter.
    pub reg: f32,
    /// Mean of the initial factors.
    pub init_mean: f32,
    /// Standard deviation of the initial factors.
    pub init_std: f32,
    /// With user and item biases (`false`: plain `p_uᵀ q_i`, Surprise's `biased=False`).
    pub biased: bool,
    /// Seed of the initial factors and the visiting order.
    pub seed: u64,
}

impl Default for SvdConfig {
    fn default() -> Self {
        Self {
            n_factors: 100,
            n_epochs: 20,
            lr: 0.005,
            reg: 0.02,
            init_mean: 0.0,
            init_std: 0.1,
            biased: true,
            seed: 0,
        }
    }
}

/// A fitted (or unfitted) biased MF model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FunkSvd {
    /// Settings.
    pub config: SvdConfig,
    /// Global mean `μ` (0 when unbiased).
    pub mu: f32,
    /// User biases.
    pub bu: Vec<f32>,
    /// Item biases.
    pub bi: Vec<f32>,
    /// User factors, `n_users × n_factors` row-major.
    pub p: Vec<f32>,
    /// Item factors, `n_items × n_factors` row-major.
    pub q: Vec<f32>,
    #[serde(skip)]
    seen: Csr,
}

impl FunkSvd {
    /// An unfitted model.
    pub fn new(config: SvdConfig) -> FunkSvd {
        FunkSvd {
            config,
            ..Default::default()
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }

    fn user_row(&self, u: usize) -> Option<&[f32]> {
        let f = self.config.n_factors;
        self.p.get(u * f..(u + 1) * f)
    }

    fn item_row(&self, i: usize) -> Option<&[f32]> {
        let f = self.config.n_factors;
        self.q.get(i * f..(i + 1) * f)
    }

    /// One SGD epoch over `order` (indices into `train.data`); returns the mean squared error
    /// seen during the epoch.
    fn epoch(&mut self, train: &Interactions, order: &[usize]) -> f64 {
        let f = self.config.n_factors;
        let (lr, reg, biased) = (self.config.lr, self.config.reg, self.config.biased);
        let mut se = 0f64;
        for &k in order {
            let x = train.data[k];
            let (u, i) = (x.user as usize, x.item as usize);
            let pu = &mut self.p[u * f..(u + 1) * f];
            let qi = &mut self.q[i * f..(i + 1) * f];
            let mut est = dot(pu, qi);
            if biased {
                est += self.mu + self.bu[u] + self.bi[i];
            }
            let err = x.rating - est;
            se += (err as f64).powi(2);
            if biased {
                self.bu[u] += lr * (err - reg * self.bu[u]);
                self.bi[i] += lr * (err - reg * self.bi[i]);
            }
            for (puf, qif) in pu.iter_mut().zip(qi.iter_mut()) {
                let (a, b) = (*puf, *qif);
                *puf += lr * (err * b - reg * a);
                *qif += lr * (err * a - reg * b);
            }
        }
        se / order.len().max(1) as f64
    }

    /// Replaces user `user`'s bias and factors by the minimiser of
    /// `Σ_{(i, r) ∈ ratings} (r − μ − b_u − b_i − p_uᵀ q_i)² + λ n (b_u² + ‖p_u‖²)` with the
    /// items fixed (`n = ratings.len()`, the weight the per-rating SGD gives λ), and adds the
    /// ratings to the seen matrix. Pass all the ratings the user should be fitted to (the
    /// objective covers only `ratings`); the user index must be one the model has parameters for.
    ///
    /// # Errors
    /// An unknown user or item index, or no ratings.
    pub fn fold_in(&mut self, user: usize, ratings: &[(u32, f32)]) -> Result<()> {
        let f = self.config.n_factors;
        if user >= self.bu.len() {
            return Err(RecsysError::InvalidArgument(format!(
                "fold-in: user index {user} is not in the model ({} users)",
                self.bu.len()
            )));
        }
        if ratings.is_empty() {
            return Err(RecsysError::InvalidArgument(
                "fold-in needs at least one rating".into(),
            ));
        }
        let biased = self.config.biased;
        // Unknowns x = [b_u, p_u] (b_u only when biased), features z_i = [1, q_i].
        let d = f + usize::from(biased);
        let mut a = vec![0f64; d * d];
        let mut rhs = vec![0f64; d];
        for &(i, r) in ratings {
            let qi = self.item_row(i as usize).ok_or_else(|| {
                RecsysError::InvalidArgument(format!("fold-in: item index {i} is not in the model"))
            })?;
            let z: Vec<f64> = biased
                .then_some(1.0)
                .into_iter()
                .chain(qi.iter().map(|&v| v as f64))
                .collect();
            let target = r as f64
                - if biased {
                    (self.mu + self.bi[i as usize]) as f64
                } else {
                    0.0
                };
            for row in 0..d {
                rhs[row] += z[row] * target;
                for col in 0..d {
                    a[row * d + col] += z[row] * z[col];
                }
            }
        }
        let lambda = self.config.reg as f64 * ratings.len() as f64;
        for k in 0..d {
            a[k * d + k] += lambda.max(1e-9);
        }
        let x = solve_spd(&mut a, &mut rhs, d);
        let offset = usize::from(biased);
        if biased {
            self.bu[user] = x[0] as f32;
        }
        for k in 0..f {
            self.p[user * f + k] = x[offset + k] as f32;
        }
        // Record the new ratings as seen.
        self.seen.merge_row(user, ratings);
        Ok(())
    }
}

/// Solves `A x = b` for a symmetric positive-definite `A` (`d × d`, row-major) by Cholesky.
pub(crate) fn solve_spd(a: &mut [f64], b: &mut [f64], d: usize) -> Vec<f64> {
    // A = L Lᵀ, L stored in the lower triangle of `a`.
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        let ljj = s.max(1e-12).sqrt();
        a[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / ljj;
        }
    }
    // L y = b, then Lᵀ x = y.
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = b[i];
        for k in i + 1..d {
            s -= a[k * d + i] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    b.to_vec()
}

impl Recommender for FunkSvd {
    fn name(&self) -> String {
        if self.config.biased { "svd" } else { "pmf" }.into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let cfg = self.config.clone();
        if cfg.n_factors == 0 {
            return Err(RecsysError::InvalidArgument(
                "SVD needs at least one factor".into(),
            ));
        }
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        self.mu = if cfg.biased { train.global_mean() } else { 0.0 };
        self.bu = vec![0.0; train.n_users];
        self.bi = vec![0.0; train.n_items];
        self.p = normal_matrix(
            train.n_users,
            cfg.n_factors,
            cfg.init_mean,
            cfg.init_std,
            &mut rng,
        );
        self.q = normal_matrix(
            train.n_items,
            cfg.n_factors,
            cfg.init_mean,
            cfg.init_std,
            &mut rng,
        );
        let mut order: Vec<usize> = (0..train.len()).collect();
        for _ in 0..cfg.n_epochs {
            order.shuffle(&mut rng);
            self.epoch(train, &order);
        }
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        let mut est = if self.config.biased {
            self.mu
                + self.bu.get(user).copied().unwrap_or(0.0)
                + self.bi.get(item).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        if let (Some(pu), Some(qi)) = (self.user_row(user), self.item_row(item)) {
            est += dot(pu, qi);
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
    use crate::test_util::{synthetic, tiny};
    use burn::prelude::*;

    /// The per-rating update equals a step of −γ/2 along burn autodiff's gradient of
    /// `(r − r̂)² + λ(b_u² + b_i² + ‖p_u‖² + ‖q_i‖²)` (the factor 2 folded into γ).
    #[test]
    fn sgd_update_is_the_autodiff_gradient_step() {
        let data = tiny();
        let mut m = FunkSvd::new(SvdConfig {
            n_factors: 3,
            n_epochs: 0,
            seed: 5,
            ..Default::default()
        });
        m.fit(&data).unwrap();
        let (u, i, r) = (2usize, 1usize, 5.0f32);
        let f = 3;
        let before = m.clone();
        let one = data.with_data(vec![crate::data::Interaction {
            user: u as u32,
            item: i as u32,
            rating: r,
            timestamp: 0,
        }]);
        m.epoch(&one, &[0]);

        let dev = Device::flex().autodiff();
        let t = |v: &[f32]| {
            Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &dev).require_grad()
        };
        let (pu, qi) = (
            t(&before.p[u * f..(u + 1) * f]),
            t(&before.q[i * f..(i + 1) * f]),
        );
        let (bu, bi) = (t(&[before.bu[u]]), t(&[before.bi[i]]));
        let est = (pu.clone() * qi.clone()).sum() + bu.clone() + bi.clone() + before.mu;
        let lam = before.config.reg;
        let loss = (est.neg() + r).powi_scalar(2)
            + (pu.clone().powi_scalar(2).sum()
                + qi.clone().powi_scalar(2).sum()
                + bu.clone().powi_scalar(2)
                + bi.clone().powi_scalar(2))
                * lam;
        let g = loss.backward();
        let lr = before.config.lr;
        let step = |x: &Tensor<1>, old: &[f32]| -> Vec<f32> {
            let gx: Vec<f32> = x.grad(&g).unwrap().to_data().try_to_vec::<f32>().unwrap();
            old.iter()
                .zip(gx)
                .map(|(o, gx)| o - lr / 2.0 * gx)
                .collect()
        };
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(
            &step(&pu, &before.p[u * f..(u + 1) * f]),
            &m.p[u * f..(u + 1) * f]
        ));
        assert!(close(
            &step(&qi, &before.q[i * f..(i + 1) * f]),
            &m.q[i * f..(i + 1) * f]
        ));
        assert!(close(&step(&bu, &[before.bu[u]]), &[m.bu[u]]));
        assert!(close(&step(&bi, &[before.bi[i]]), &[m.bi[i]]));
    }

    #[test]
    fn beats_the_baseline_on_latent_factor_data() {
        let data = synthetic();
        let fold = &kfold(&data.ratings, 5, 1).unwrap()[0];
        let eval = |m: &dyn Recommender| evaluate_ratings(m, &fold.test).rmse;
        let mut base = Baseline::new(BaselineConfig::default());
        base.fit(&fold.train).unwrap();
        let mut svd = FunkSvd::new(SvdConfig {
            n_factors: 8,
            n_epochs: 40,
            lr: 0.01,
            reg: 0.05,
            ..Default::default()
        });
        svd.fit(&fold.train).unwrap();
        let (b, s) = (eval(&base), eval(&svd));
        assert!(s < b - 0.02, "svd {s} vs baseline {b}");
    }

    #[test]
    fn fold_in_solves_the_user_ridge_problem() {
        let data = synthetic();
        let mut svd = FunkSvd::new(SvdConfig {
            n_factors: 4,
            n_epochs: 10,
            ..Default::default()
        });
        svd.fit(&data.ratings).unwrap();
        let ratings: Vec<(u32, f32)> = vec![(0, 5.0), (3, 1.0), (7, 4.0), (9, 2.0), (11, 5.0)];
        svd.fold_in(0, &ratings).unwrap();
        // At the minimiser the gradient of the user objective vanishes.
        let f = 4;
        let lam = svd.config.reg * ratings.len() as f32;
        let mut g_bu = lam * svd.bu[0];
        let mut g_p: Vec<f32> = svd.p[0..f].iter().map(|v| lam * v).collect();
        for &(i, r) in &ratings {
            let e = svd.score(0, i as usize) - r;
            g_bu += e;
            for (g, q) in g_p.iter_mut().zip(&svd.q[i as usize * f..]) {
                *g += e * q;
            }
        }
        assert!(
            g_bu.abs() < 1e-3 && g_p.iter().all(|g| g.abs() < 1e-3),
            "{g_bu} {g_p:?}"
        );
        assert!(svd.seen().contains(0, 11));
        assert!(svd.fold_in(10_000, &ratings).is_err());
        assert!(svd.fold_in(0, &[(10_000, 1.0)]).is_err());
    }
}
