//! ALS for implicit feedback (Hu, Koren and Volinsky 2008, "Collaborative Filtering for
//! Implicit Feedback Datasets").
//!
//! Every `(user, item)` cell counts: the preference is `p_ui = 1` where the user interacted
//! and 0 elsewhere, weighted by the confidence `c_ui = 1 + α r_ui` (`r_ui` the rating, or 1
//! per interaction with [`IalsConfig::binary`]; `c_ui = 1` on the empty cells). The loss
//!
//! `L = Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)`
//!
//! is minimised by alternating exact solves (paper eq. 4),
//!
//! `x_u = (YᵀY + Yᵀ(C^u − I)Y + λI)⁻¹ Yᵀ C^u p(u)`,
//!
//! where `YᵀY` is computed once per sweep and `Yᵀ(C^u − I)Y = Σ_{i ∈ R(u)} (c_ui − 1) y_i y_iᵀ`
//! and `Yᵀ C^u p(u) = Σ_{i ∈ R(u)} c_ui y_i` touch only the user's items; the `f × f` system is
//! solved by Cholesky. Items are solved the same way with the roles swapped. Scores are
//! `x_uᵀ y_i` (ranking only).

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::{Recommender, dot, normal_matrix};
use crate::data::{Csr, Interactions};
use crate::error::{RecsysError, Result};

/// Settings of [`Ials`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IalsConfig {
    /// Latent dimensions `f`.
    pub n_factors: usize,
    /// Alternating sweeps (users then items).
    pub n_iters: usize,
    /// Confidence slope `α` in `c_ui = 1 + α r_ui` (the paper: 40).
    pub alpha: f32,
    /// Regularisation `λ`.
    pub reg: f32,
    /// `r_ui = 1` for every interaction (ignore the rating value).
    pub binary: bool,
    /// Standard deviation of the initial factors.
    pub init_std: f32,
    /// Seed of the initial factors.
    pub seed: u64,
}

impl Default for IalsConfig {
    fn default() -> Self {
        Self {
            n_factors: 32,
            n_iters: 15,
            alpha: 40.0,
            reg: 1.0,
            binary: true,
            init_std: 0.01,
            seed: 0,
        }
    }
}

/// A fitted (or unfitted) implicit-feedback ALS model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ials {
    /// Settings.
    pub config: IalsConfig,
    /// User factors `x_u`, row-major `[n_users, f]`.
    pub x: Vec<f32>,
    /// Item factors `y_i`, row-major `[n_items, f]`.
    pub y: Vec<f32>,
    #[serde(skip)]
    seen: Csr,
}

/// `Σ_r v_r v_rᵀ` over the rows of `m` (`[n, f]`), as a dense `f × f` matrix.
pub fn gram(m: &[f32], f: usize) -> Vec<f64> {
    let mut g = vec![0f64; f * f];
    for row in m.chunks_exact(f) {
        for a in 0..f {
            let ra = row[a] as f64;
            for b in a..f {
                g[a * f + b] += ra * row[b] as f64;
            }
        }
    }
    for a in 0..f {
        for b in 0..a {
            g[a * f + b] = g[b * f + a];
        }
    }
    g
}

/// Solves `A z = b` for a symmetric positive definite `A` (`n × n`, row-major) by Cholesky;
/// `None` if `A` is not positive definite.
pub fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // L w = b, then Lᵀ z = w.
    let mut w = vec![0f64; n];
    for i in 0..n {
        w[i] = (b[i] - (0..i).map(|k| l[i * n + k] * w[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut z = vec![0f64; n];
    for i in (0..n).rev() {
        z[i] = (w[i] - (i + 1..n).map(|k| l[k * n + i] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    Some(z)
}

/// One row's exact solve: `(G + Σ_j (c_j − 1) y_j y_jᵀ + λI)⁻¹ Σ_j c_j y_j`, with `G = YᵀY`,
/// `others` the fixed side's factors (`[n, f]`) and `entries` the row's `(index, c_j)`.
pub fn solve_row(
    gram: &[f64],
    others: &[f32],
    f: usize,
    entries: &[(usize, f32)],
    reg: f32,
) -> Vec<f32> {
    let mut a = gram.to_vec();
    let mut b = vec![0f64; f];
    for &(j, c) in entries {
        let y = &others[j * f..(j + 1) * f];
        let c = c as f64;
        for p in 0..f {
            let yp = y[p] as f64;
            b[p] += c * yp;
            for q in 0..f {
                a[p * f + q] += (c - 1.0) * yp * y[q] as f64;
            }
        }
    }
    for p in 0..f {
        a[p * f + p] += reg as f64;
    }
    // λ > 0 makes A positive definite; with λ = 0 and too few items it may not be.
    cholesky_solve(&a, &b, f)
        .map(|z| z.into_iter().map(|v| v as f32).collect())
        .unwrap_or_else(|| vec![0.0; f])
}

impl Ials {
    /// An unfitted model.
    pub fn new(config: IalsConfig) -> Ials {
        Ials {
            config,
            ..Default::default()
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }

    /// The confidence of an observed cell.
    fn confidence(&self, rating: f32) -> f32 {
        let r = if self.config.binary { 1.0 } else { rating };
        1.0 + self.config.alpha * r
    }

    /// Solves every row of `target` given the fixed `others`, from the rows of `m`.
    fn sweep(&self, m: &Csr, others: &[f32], target: &mut [f32]) {
        let f = self.config.n_factors;
        let g = gram(others, f);
        for (r, out) in target.chunks_exact_mut(f).enumerate() {
            let (cols, vals) = m.row(r);
            let entries: Vec<(usize, f32)> = cols
                .iter()
                .zip(vals)
                .map(|(&j, &v)| (j as usize, self.confidence(v)))
                .collect();
            out.copy_from_slice(&solve_row(&g, others, f, &entries, self.config.reg));
        }
    }

    /// The loss `L` of the module docs on `train` (every cell of the matrix; for tests and
    /// monitoring, `O(n_users · n_items · f)`).
    pub fn objective(&self, train: &Interactions) -> f64 {
        let f = self.config.n_factors;
        let m = train.user_item();
        let mut loss = 0f64;
        for u in 0..train.n_users {
            let xu = &self.x[u * f..(u + 1) * f];
            for i in 0..train.n_items {
                let s = dot(xu, &self.y[i * f..(i + 1) * f]) as f64;
                loss += match m.get(u, i) {
                    Some(r) => self.confidence(r) as f64 * (1.0 - s).powi(2),
                    None => s * s,
                };
            }
        }
        let norm = |v: &[f32]| v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>();
        loss + self.config.reg as f64 * (norm(&self.x) + norm(&self.y))
    }
}

impl Recommender for Ials {
    fn name(&self) -> String {
        "ials".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let cfg = self.config.clone();
        let valid = cfg.n_factors > 0 && !train.is_empty() && cfg.reg > 0.0 && cfg.alpha >= 0.0;
        if !valid {
            return Err(RecsysError::InvalidArgument(format!(
                "implicit ALS needs factors ≥ 1, λ > 0, α ≥ 0 and one interaction (got factors {}, λ {}, α {}, {} interactions)",
                cfg.n_factors,
                cfg.reg,
                cfg.alpha,
                train.len()
            )));
        }
        let f = cfg.n_factors;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        self.x = normal_matrix(train.n_users, f, 0.0, cfg.init_std, &mut rng);
        self.y = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        let by_user = train.user_item();
        let by_item = by_user.transpose();
        for _ in 0..cfg.n_iters {
            let mut x = std::mem::take(&mut self.x);
            self.sweep(&by_user, &self.y, &mut x);
            self.x = x;
            let mut y = std::mem::take(&mut self.y);
            self.sweep(&by_item, &self.x, &mut y);
            self.y = y;
        }
        self.seen = by_user;
        Ok(())
    }

    /// `x_uᵀ y_i`; 0 for an index the model has no factors for.
    fn score(&self, user: usize, item: usize) -> f32 {
        let f = self.config.n_factors;
        match (
            self.x.get(user * f..(user + 1) * f),
            self.y.get(item * f..(item + 1) * f),
        ) {
            (Some(xu), Some(yi)) if f > 0 => dot(xu, yi),
            _ => 0.0,
        }
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::leave_one_out;
    use crate::eval::{evaluate_sampled, sampled_candidates};
    use crate::models::Popularity;
    use crate::test_util::{synthetic, tiny};

    #[test]
    fn one_solve_by_hand() {
        // Items y0 = (1, 0), y1 = (1, 1), y2 = (0, 2); the user interacted with item 1 only,
        // c = 1 + 2·1 = 3, λ = 0.5.
        // YᵀY = [[2, 1], [1, 5]]; + (c − 1) y1 y1ᵀ = [[4, 3], [3, 7]]; + λI = [[4.5, 3], [3, 7.5]]
        // (det 24.75); Yᵀ C p = 3 y1 = (3, 3); x = [[7.5, −3], [−3, 4.5]] (3, 3) / 24.75
        // = (13.5, 4.5) / 24.75 = (6/11, 2/11).
        let y = [1.0, 0.0, 1.0, 1.0, 0.0, 2.0];
        let g = gram(&y, 2);
        assert_eq!(g, vec![2.0, 1.0, 1.0, 5.0]);
        let x = solve_row(&g, &y, 2, &[(1, 3.0)], 0.5);
        assert!((x[0] - 6.0 / 11.0).abs() < 1e-6, "{x:?}");
        assert!((x[1] - 2.0 / 11.0).abs() < 1e-6, "{x:?}");
        // A user with no items gets (YᵀY + λI)⁻¹ 0 = 0.
        assert_eq!(solve_row(&g, &y, 2, &[], 0.5), vec![0.0, 0.0]);
        // Not positive definite → None.
        assert!(cholesky_solve(&[0.0, 1.0, 1.0, 0.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn each_sweep_lowers_the_loss() {
        // Every half-sweep is an exact minimisation, so the loss never goes up.
        let data = tiny();
        let mut last = f64::INFINITY;
        for iters in 1..6 {
            let mut m = Ials::new(IalsConfig {
                n_factors: 3,
                n_iters: iters,
                alpha: 5.0,
                reg: 0.1,
                init_std: 0.5,
                ..Default::default()
            });
            m.fit(&data).unwrap();
            let loss = m.objective(&data);
            assert!(loss <= last + 1e-6, "{iters} sweeps: {loss} > {last}");
            last = loss;
        }
        // A perfect fit is impossible with λ > 0, but the observed cells score near 1 and
        // above the empty ones of the same user.
        let mut m = Ials::new(IalsConfig {
            n_factors: 4,
            reg: 0.01,
            ..Default::default()
        });
        m.fit(&data).unwrap();
        assert!(m.score(0, 0) > 0.8 && m.score(0, 0) > m.score(0, 3));
        assert_eq!(m.score(99, 0), 0.0);
    }

    #[test]
    fn ranks_above_popularity_on_latent_factor_data() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cands = sampled_candidates(&loo.test, &data.ratings, 49, 1).unwrap();
        let mut pop = Popularity::new();
        pop.fit(&loo.train).unwrap();
        let mut m = Ials::new(IalsConfig {
            n_factors: 8,
            n_iters: 8,
            ..Default::default()
        });
        m.fit(&loo.train).unwrap();
        let (p, a) = (
            evaluate_sampled(&pop, &cands, 10),
            evaluate_sampled(&m, &cands, 10),
        );
        assert!(a.hr > p.hr, "ials {a:?} vs popularity {p:?}");
        assert!(
            Ials::new(IalsConfig {
                reg: 0.0,
                ..Default::default()
            })
            .fit(&loo.train)
            .is_err()
        );
    }
}
