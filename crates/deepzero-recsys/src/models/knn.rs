//! Neighbourhood collaborative filtering (seed 5.1.1), user- or item-based, with Surprise's
//! similarity measures and prediction rules.
//!
//! Similarities between two rows `a`, `b` (users, or items) over their *common* ratings
//! (`n` of them), as Surprise computes them:
//! - cosine: `Σ r_a r_b / √(Σ r_a² Σ r_b²)`;
//! - Pearson: `(n Σ r_a r_b − Σ r_a Σ r_b) / √((n Σ r_a² − (Σ r_a)²)(n Σ r_b² − (Σ r_b)²))`
//!   (means over the common ratings);
//! - baseline-centred Pearson (`pearson_baseline`, Koren 2010 §3): the same products of the
//!   residuals `r − (μ + b_u + b_i)` (without re-centring), shrunk towards 0 by
//!   `(n − 1) / (n − 1 + shrinkage)` (shrinkage 100 by default).
//!
//! A pair with fewer than `min_support` common ratings, or a zero denominator, has similarity 0.
//!
//! Predictions over the `k` most similar neighbours that rated the target, of which only those
//! with a positive similarity count (`N`):
//! - [`KnnPrediction::Basic`]: `Σ_N s r / Σ_N s`;
//! - [`KnnPrediction::WithMeans`]: `r̄_x + Σ_N s (r − r̄_n) / Σ_N s`;
//! - [`KnnPrediction::Baseline`] (KNNBaseline): `b_ui + Σ_N s (r − b_n) / Σ_N s`.
//!
//! With fewer than `min_k` usable neighbours the correction term is dropped (Basic: the global
//! mean), as in Surprise.

use serde::{Deserialize, Serialize};

use super::Recommender;
use super::baseline::{BaselineConfig, Biases, fit_biases};
use crate::data::{Csr, Interactions};
use crate::error::{RecsysError, Result};

/// How two rows are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Similarity {
    /// Cosine of the common ratings.
    Cosine,
    /// Pearson correlation of the common ratings.
    Pearson,
    /// Shrunk Pearson correlation of the baseline residuals.
    PearsonBaseline,
}

/// How the neighbours' ratings are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnnPrediction {
    /// Similarity-weighted mean of the ratings (Surprise's `KNNBasic`).
    Basic,
    /// Mean-centred (Surprise's `KNNWithMeans`).
    WithMeans,
    /// Baseline-centred (Surprise's `KNNBaseline`).
    Baseline,
}

/// Settings of [`Knn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnnConfig {
    /// Largest number of neighbours.
    pub k: usize,
    /// Fewest usable neighbours for the neighbourhood term.
    pub min_k: usize,
    /// Compare users (`true`) or items (`false`).
    pub user_based: bool,
    /// The similarity.
    pub similarity: Similarity,
    /// Shrinkage of `pearson_baseline`.
    pub shrinkage: f32,
    /// Fewest common ratings for a non-zero similarity.
    pub min_support: usize,
    /// The prediction rule.
    pub prediction: KnnPrediction,
    /// Baselines for `pearson_baseline` and KNNBaseline.
    pub baseline: BaselineConfig,
}

impl Default for KnnConfig {
    /// KNNBaseline, item-based, `pearson_baseline` with shrinkage 100, k = 40.
    fn default() -> Self {
        Self {
            k: 40,
            min_k: 1,
            user_based: false,
            similarity: Similarity::PearsonBaseline,
            shrinkage: 100.0,
            min_support: 1,
            prediction: KnnPrediction::Baseline,
            baseline: BaselineConfig::default(),
        }
    }
}

/// A fitted (or unfitted) k-NN model. Its similarity matrix is not serialised: refit from the
/// training data after loading.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Knn {
    /// Settings.
    pub config: KnnConfig,
    #[serde(skip)]
    biases: Biases,
    /// Mean rating of each row (users when user-based, items otherwise).
    #[serde(skip)]
    means: Vec<f32>,
    /// `n × n` similarities between rows, row-major.
    #[serde(skip)]
    sim: Vec<f32>,
    #[serde(skip)]
    n: usize,
    #[serde(skip)]
    seen: Csr,
    /// Items × users, for user-based prediction.
    #[serde(skip)]
    by_item: Csr,
}

/// The `n × n` similarity matrix of the rows of `x_by_y`'s transpose: `by_y` holds, for every
/// `y`, the `(x, value)` pairs (values already baseline residuals for `pearson_baseline`).
pub fn similarities(
    by_y: &Csr,
    n: usize,
    kind: Similarity,
    shrinkage: f32,
    min_support: usize,
) -> Vec<f32> {
    let by_x = by_y.transpose();
    let mut sim = vec![0f32; n * n];
    // Per-row accumulators against every other row, reused for each `a`.
    let (mut freq, mut prods) = (vec![0u32; n], vec![0f64; n]);
    let (mut sqa, mut sqb, mut sa, mut sb) =
        (vec![0f64; n], vec![0f64; n], vec![0f64; n], vec![0f64; n]);
    let mut touched = Vec::new();
    for a in 0..n {
        let (ys, ra) = by_x.row(a);
        for (&y, &ra) in ys.iter().zip(ra) {
            let (xs, rb) = by_y.row(y as usize);
            for (&b, &rb) in xs.iter().zip(rb) {
                let b = b as usize;
                if freq[b] == 0 {
                    touched.push(b);
                }
                let (ra, rb) = (ra as f64, rb as f64);
                freq[b] += 1;
                prods[b] += ra * rb;
                sqa[b] += ra * ra;
                sqb[b] += rb * rb;
                sa[b] += ra;
                sb[b] += rb;
            }
        }
        for &b in &touched {
            let nf = freq[b] as f64;
            let s = if b == a {
                1.0
            } else if (freq[b] as usize) < min_support {
                0.0
            } else {
                match kind {
                    Similarity::Cosine => ratio(prods[b], sqa[b] * sqb[b]),
                    Similarity::Pearson => ratio(
                        nf * prods[b] - sa[b] * sb[b],
                        (nf * sqa[b] - sa[b] * sa[b]) * (nf * sqb[b] - sb[b] * sb[b]),
                    ),
                    Similarity::PearsonBaseline => {
                        ratio(prods[b], sqa[b] * sqb[b]) * (nf - 1.0)
                            / (nf - 1.0 + shrinkage as f64)
                    }
                }
            };
            sim[a * n + b] = s as f32;
            freq[b] = 0;
            prods[b] = 0.0;
            sqa[b] = 0.0;
            sqb[b] = 0.0;
            sa[b] = 0.0;
            sb[b] = 0.0;
        }
        touched.clear();
    }
    sim
}

/// `num / √den`, 0 when the denominator is not positive.
fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den.sqrt() } else { 0.0 }
}

impl Knn {
    /// An unfitted model.
    pub fn new(config: KnnConfig) -> Knn {
        Knn {
            config,
            ..Default::default()
        }
    }

    /// The similarity of rows `a` and `b` (users or items), 0 out of range.
    pub fn similarity(&self, a: usize, b: usize) -> f32 {
        if a < self.n && b < self.n {
            self.sim[a * self.n + b]
        } else {
            0.0
        }
    }

    /// The `k` rows most similar to `x` (excluding itself), best first.
    pub fn neighbours(&self, x: usize, k: usize) -> Vec<(u32, f32)> {
        if x >= self.n {
            return Vec::new();
        }
        let row = &self.sim[x * self.n..(x + 1) * self.n];
        let scored = row
            .iter()
            .enumerate()
            .filter(|&(b, _)| b != x)
            .map(|(b, &s)| (b as u32, s))
            .collect();
        super::top_k(scored, k)
    }

    fn baseline(&self, u: usize, i: usize) -> f32 {
        self.biases.predict(u, i)
    }
}

impl Recommender for Knn {
    fn name(&self) -> String {
        let rule = match self.config.prediction {
            KnnPrediction::Basic => "knn",
            KnnPrediction::WithMeans => "knn-means",
            KnnPrediction::Baseline => "knn-baseline",
        };
        let side = if self.config.user_based {
            "user"
        } else {
            "item"
        };
        format!("{rule}-{side}")
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        if self.config.k == 0 {
            return Err(RecsysError::InvalidArgument("k-NN needs k ≥ 1".into()));
        }
        let cfg = self.config.clone();
        self.biases = fit_biases(train, &cfg.baseline);
        self.seen = train.user_item();
        self.by_item = self.seen.transpose();
        // x = the compared rows; y = the other side.
        let (n, by_y) = if cfg.user_based {
            (train.n_users, self.by_item.clone())
        } else {
            (train.n_items, self.seen.clone())
        };
        let values = if cfg.similarity == Similarity::PearsonBaseline {
            let mut residual = by_y.clone();
            for y in 0..by_y.n_rows {
                for k in by_y.indptr[y]..by_y.indptr[y + 1] {
                    let x = by_y.indices[k] as usize;
                    let (u, i) = if cfg.user_based { (x, y) } else { (y, x) };
                    residual.values[k] -= self.biases.predict(u, i);
                }
            }
            residual
        } else {
            by_y
        };
        self.sim = similarities(&values, n, cfg.similarity, cfg.shrinkage, cfg.min_support);
        self.n = n;
        let by_x = if cfg.user_based {
            &self.seen
        } else {
            &self.by_item
        };
        self.means = (0..n)
            .map(|x| {
                let (_, r) = by_x.row(x);
                if r.is_empty() {
                    self.biases.mu
                } else {
                    r.iter().sum::<f32>() / r.len() as f32
                }
            })
            .collect();
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        let cfg = &self.config;
        let (x, y, candidates) = if cfg.user_based {
            (user, item, self.by_item.row(item))
        } else {
            (item, user, self.seen.row(user))
        };
        let _ = y;
        let base = match cfg.prediction {
            KnnPrediction::Basic => 0.0,
            KnnPrediction::WithMeans => self.means.get(x).copied().unwrap_or(self.biases.mu),
            KnnPrediction::Baseline => self.baseline(user, item),
        };
        let fallback = match cfg.prediction {
            KnnPrediction::Basic => self.biases.mu,
            _ => base,
        };
        if x >= self.n {
            return fallback;
        }
        let mut neigh: Vec<(u32, f32, f32)> = candidates
            .0
            .iter()
            .zip(candidates.1)
            .map(|(&nb, &r)| (nb, self.sim[x * self.n + nb as usize], r))
            .collect();
        if neigh.len() > cfg.k {
            neigh.select_nth_unstable_by(cfg.k - 1, |a, b| b.1.total_cmp(&a.1));
            neigh.truncate(cfg.k);
        }
        let (mut sum_sim, mut sum, mut used) = (0f32, 0f32, 0usize);
        for &(nb, s, r) in &neigh {
            if s <= 0.0 {
                continue;
            }
            let nb = nb as usize;
            let centre = match cfg.prediction {
                KnnPrediction::Basic => 0.0,
                KnnPrediction::WithMeans => self.means[nb],
                KnnPrediction::Baseline => {
                    if cfg.user_based {
                        self.baseline(nb, item)
                    } else {
                        self.baseline(user, nb)
                    }
                }
            };
            sum_sim += s;
            sum += s * (r - centre);
            used += 1;
        }
        if used < cfg.min_k || sum_sim <= 0.0 {
            return fallback;
        }
        base + sum / sum_sim
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
    use crate::models::Baseline;
    use crate::test_util::{synthetic, tiny};

    fn knn(similarity: Similarity, prediction: KnnPrediction, user_based: bool) -> Knn {
        let mut m = Knn::new(KnnConfig {
            similarity,
            prediction,
            user_based,
            ..Default::default()
        });
        m.fit(&tiny()).unwrap();
        m
    }

    #[test]
    fn similarities_by_hand() {
        // Items 0 and 1 share users 0 (5, 4) and 3 (1, 2).
        // cosine = (5·4 + 1·2) / √((25 + 1)(16 + 4)) = 22 / √520.
        let m = knn(Similarity::Cosine, KnnPrediction::Basic, false);
        assert!((m.similarity(0, 1) - 22.0 / 520f32.sqrt()).abs() < 1e-6);
        assert_eq!(m.similarity(0, 0), 1.0);
        // Items 0 and 3 share only u3 (1 and 5): 5 / √(1 · 25) = 1.
        assert!((m.similarity(0, 3) - 1.0).abs() < 1e-6);
        // Pearson over two points is ±1: (5, 1) vs (4, 2) rise together.
        let m = knn(Similarity::Pearson, KnnPrediction::Basic, false);
        assert!((m.similarity(0, 1) - 1.0).abs() < 1e-6);
        // Pearson-baseline with two common ratings is shrunk by (2 − 1)/(2 − 1 + 100).
        let m = knn(Similarity::PearsonBaseline, KnnPrediction::Baseline, false);
        let b = &m.biases;
        let d = |u: usize, i: usize, r: f32| (r - b.predict(u, i)) as f64;
        let (a0, a3) = (d(0, 0, 5.0), d(3, 0, 1.0));
        let (b0, b3) = (d(0, 1, 4.0), d(3, 1, 2.0));
        let pearson = (a0 * b0 + a3 * b3) / ((a0 * a0 + a3 * a3) * (b0 * b0 + b3 * b3)).sqrt();
        assert!((m.similarity(0, 1) as f64 - pearson / 101.0).abs() < 1e-6);
        // Symmetric.
        assert_eq!(m.similarity(1, 0), m.similarity(0, 1));
    }

    #[test]
    fn basic_prediction_is_the_weighted_mean_of_neighbours() {
        // User 2 rated items 1 (5) and 2 (4); predict item 0 with cosine item similarities.
        let m = knn(Similarity::Cosine, KnnPrediction::Basic, false);
        let (s1, s2) = (m.similarity(0, 1), m.similarity(0, 2));
        let want = (s1 * 5.0 + s2 * 4.0) / (s1 + s2);
        assert!((m.score(2, 0) - want).abs() < 1e-5);
        // User-based: item 3 was rated only by u3.
        let m = knn(Similarity::Cosine, KnnPrediction::Basic, true);
        assert!((m.score(0, 3) - 5.0).abs() < 1e-5);
        // An unknown item falls back to the global mean.
        assert!((m.score(0, 77) - 3.3).abs() < 1e-5);
    }

    #[test]
    fn knn_baseline_beats_the_baseline_on_latent_factor_data() {
        let data = synthetic();
        let fold = &kfold(&data.ratings, 5, 3).unwrap()[0];
        let eval = |m: &dyn Recommender| evaluate_ratings(m, &fold.test).rmse;
        let mut base = Baseline::new(BaselineConfig::default());
        base.fit(&fold.train).unwrap();
        let mut m = Knn::new(KnnConfig {
            shrinkage: 10.0,
            ..Default::default()
        });
        m.fit(&fold.train).unwrap();
        let (k, b) = (eval(&m), eval(&base));
        assert!(k < b - 0.01, "knn-baseline {k} vs baseline {b}");
        assert_eq!(m.neighbours(0, 3).len(), 3);
    }
}
