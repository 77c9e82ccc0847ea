//! BPR-MF (Rendle et al. 2009, "BPR: Bayesian Personalized Ranking from Implicit Feedback"):
//! matrix factorisation trained to rank a user's items above items they did not interact with.
//!
//! `x̂_ui = b_i + p_uᵀ q_i`; for a sampled triple `(u, i, j)` with `i` seen and `j` unseen,
//! `x̂_uij = x̂_ui − x̂_uj`, and LearnBPR ascends `ln σ(x̂_uij) − λ ‖Θ‖²` by SGD:
//! with `g = σ(−x̂_uij)`,
//!
//! `p_u += γ (g (q_i − q_j) − λ p_u)`, `q_i += γ (g p_u − λ q_i)`, `q_j += γ (−g p_u − λ q_j)`,
//! `b_i += γ (g − λ b_i)`, `b_j += γ (−g − λ b_j)`.
//!
//! One epoch draws as many triples as there are training interactions (user and positive
//! uniformly over the interactions, negative uniformly over the user's unseen items).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Recommender, dot, normal_matrix};
use crate::data::{Csr, Interactions, NegativeSampler};
use crate::error::{RecsysError, Result};

/// Settings of [`Bpr`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BprConfig {
    /// Latent dimensions.
    pub n_factors: usize,
    /// Epochs (each as many triples as training interactions).
    pub n_epochs: usize,
    /// Learning rate γ.
    pub lr: f32,
    /// Regularisation λ.
    pub reg: f32,
    /// Standard deviation of the initial factors.
    pub init_std: f32,
    /// Seed.
    pub seed: u64,
}

impl Default for BprConfig {
    fn default() -> Self {
        Self {
            n_factors: 32,
            n_epochs: 60,
            lr: 0.05,
            reg: 0.005,
            init_std: 0.1,
            seed: 0,
        }
    }
}

/// A fitted (or unfitted) BPR-MF model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bpr {
    /// Settings.
    pub config: BprConfig,
    /// Item biases.
    pub bi: Vec<f32>,
    /// User factors, row-major.
    pub p: Vec<f32>,
    /// Item factors, row-major.
    pub q: Vec<f32>,
    #[serde(skip)]
    seen: Csr,
}

impl Bpr {
    /// An unfitted model.
    pub fn new(config: BprConfig) -> Bpr {
        Bpr {
            config,
            ..Default::default()
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Recommender for Bpr {
    fn name(&self) -> String {
        "bpr".into()
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let cfg = self.config.clone();
        if cfg.n_factors == 0 || train.is_empty() {
            return Err(RecsysError::InvalidArgument(
                "BPR needs at least one factor and one interaction".into(),
            ));
        }
        let f = cfg.n_factors;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        self.bi = vec![0.0; train.n_items];
        self.p = normal_matrix(train.n_users, f, 0.0, cfg.init_std, &mut rng);
        self.q = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        let sampler = NegativeSampler::new(train);
        let (lr, reg) = (cfg.lr, cfg.reg);
        for _ in 0..cfg.n_epochs {
            for _ in 0..train.len() {
                let x = train.data[rng.random_range(0..train.len())];
                let (u, i) = (x.user as usize, x.item as usize);
                let Some(j) = sampler.one(u, &mut rng) else {
                    continue;
                };
                let j = j as usize;
                let (pu, qi, qj) = (
                    &self.p[u * f..(u + 1) * f],
                    &self.q[i * f..(i + 1) * f],
                    &self.q[j * f..(j + 1) * f],
                );
                let x_uij = self.bi[i] - self.bi[j] + dot(pu, qi) - dot(pu, qj);
                let g = sigmoid(-x_uij);
                for k in 0..f {
                    let (a, b, c) = (self.p[u * f + k], self.q[i * f + k], self.q[j * f + k]);
                    self.p[u * f + k] += lr * (g * (b - c) - reg * a);
                    self.q[i * f + k] += lr * (g * a - reg * b);
                    self.q[j * f + k] += lr * (-g * a - reg * c);
                }
                self.bi[i] += lr * (g - reg * self.bi[i]);
                self.bi[j] += lr * (-g - reg * self.bi[j]);
            }
        }
        self.seen = train.user_item();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        let f = self.config.n_factors;
        let mut s = self.bi.get(item).copied().unwrap_or(0.0);
        if let (Some(pu), Some(qi)) = (
            self.p.get(user * f..(user + 1) * f),
            self.q.get(item * f..(item + 1) * f),
        ) {
            s += dot(pu, qi);
        }
        s
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
    use crate::test_util::synthetic;

    #[test]
    fn ranks_held_out_items_better_than_popularity() {
        let data = synthetic();
        let loo = leave_one_out(&data.ratings).unwrap();
        let cands = sampled_candidates(&loo.test, &data.ratings, 49, 1).unwrap();
        let mut pop = Popularity::new();
        pop.fit(&loo.train).unwrap();
        let mut bpr = Bpr::new(BprConfig {
            n_factors: 8,
            n_epochs: 40,
            ..Default::default()
        });
        bpr.fit(&loo.train).unwrap();
        let (p, b) = (
            evaluate_sampled(&pop, &cands, 10),
            evaluate_sampled(&bpr, &cands, 10),
        );
        assert!(b.ndcg > p.ndcg, "bpr {b:?} vs popularity {p:?}");
    }
}
