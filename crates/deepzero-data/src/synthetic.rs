//! Seeded synthetic data for the chapter-2 demos (linear and logistic regression) and tests.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::split::mix_seed;

/// `n` examples of `d` features with one target each.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// `n × d` features, row-major.
    pub x: Vec<f32>,
    /// `n` targets.
    pub y: Vec<f32>,
    /// Number of examples.
    pub n: usize,
    /// Number of features.
    pub d: usize,
}

impl Regression {
    /// The features of example `i`, or `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        (i < self.n).then(|| &self.x[i * self.d..(i + 1) * self.d])
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1], so ln is finite
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `n` examples of `y = x · weights + bias + ε` with `x ~ N(0, I)` of dimension
/// `weights.len()` and `ε ~ N(0, noise_std²)`.
pub fn linear_regression_data(
    n: usize,
    weights: &[f32],
    bias: f32,
    noise_std: f32,
    seed: u64,
) -> Regression {
    let d = weights.len();
    let mut rng = StdRng::seed_from_u64(mix_seed(&[seed, 1]));
    let x: Vec<f32> = (0..n * d).map(|_| standard_normal(&mut rng)).collect();
    let y = (0..n)
        .map(|i| {
            let row = &x[i * d..(i + 1) * d];
            dot(row, weights) + bias + noise_std * standard_normal(&mut rng)
        })
        .collect();
    Regression { x, y, n, d }
}

/// `n` examples of binary classification drawn from a true logistic model.
///
/// Features are `x ~ N(0, I_d)`. The true weights are a random direction scaled to norm 4, and
/// the bias is uniform in `[-0.5, 0.5]`; each label is `1` with probability
/// `σ(x · w + b)`, so the classes overlap a little (even the true model is right on only about
/// 87 % of the examples). Returns the data (targets `0.0` or `1.0`), the true weights and the
/// true bias, so that a demo can compare what it learns against them.
pub fn logistic_data(n: usize, d: usize, seed: u64) -> (Regression, Vec<f32>, f32) {
    let mut rng = StdRng::seed_from_u64(mix_seed(&[seed, 2]));
    let mut weights: Vec<f32> = (0..d).map(|_| standard_normal(&mut rng)).collect();
    let norm = dot(&weights, &weights).sqrt();
    if norm > 0.0 {
        weights.iter_mut().for_each(|w| *w *= 4.0 / norm);
    }
    let bias = rng.random::<f32>() - 0.5;
    let x: Vec<f32> = (0..n * d).map(|_| standard_normal(&mut rng)).collect();
    let y = (0..n)
        .map(|i| {
            let logit = dot(&x[i * d..(i + 1) * d], &weights) + bias;
            let p = 1.0 / (1.0 + (-logit).exp());
            if rng.random::<f32>() < p { 1.0 } else { 0.0 }
        })
        .collect();
    (Regression { x, y, n, d }, weights, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_without_noise_is_exact() {
        let data = linear_regression_data(50, &[2.0, -3.0], 0.5, 0.0, 1);
        assert_eq!(
            (data.n, data.d, data.x.len(), data.y.len()),
            (50, 2, 100, 50)
        );
        for i in 0..data.n {
            let row = data.row(i).unwrap();
            assert!((data.y[i] - (2.0 * row[0] - 3.0 * row[1] + 0.5)).abs() < 1e-5);
        }
        assert!(data.row(50).is_none());
        assert_eq!(linear_regression_data(50, &[2.0, -3.0], 0.5, 0.0, 1), data);
        assert_ne!(linear_regression_data(50, &[2.0, -3.0], 0.5, 0.0, 2), data);
    }

    #[test]
    fn linear_noise_and_features_have_the_right_spread() {
        let data = linear_regression_data(4000, &[0.0], 1.0, 0.5, 9);
        let mean = data.y.iter().sum::<f32>() / 4000.0;
        let var = data.y.iter().map(|y| (y - mean).powi(2)).sum::<f32>() / 4000.0;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.05, "{var}");
        let xvar = data.x.iter().map(|x| x * x).sum::<f32>() / 4000.0;
        assert!((xvar - 1.0).abs() < 0.1, "{xvar}");
        let empty = linear_regression_data(3, &[], 2.0, 0.0, 0);
        assert_eq!(empty.y, vec![2.0; 3]);
    }

    #[test]
    fn logistic_labels_follow_the_true_model() {
        let (data, w, b) = logistic_data(2000, 3, 4);
        assert_eq!((data.x.len(), data.y.len(), w.len()), (6000, 2000, 3));
        assert!((dot(&w, &w).sqrt() - 4.0).abs() < 1e-4);
        assert!((-0.5..=0.5).contains(&b));
        assert!(data.y.iter().all(|&y| y == 0.0 || y == 1.0));
        let agree = (0..data.n)
            .filter(|&i| {
                let logit = dot(data.row(i).unwrap(), &w) + b;
                (logit > 0.0) == (data.y[i] == 1.0)
            })
            .count();
        let acc = agree as f32 / data.n as f32;
        assert!((0.84..0.90).contains(&acc), "Bayes accuracy {acc}");
        assert_eq!(logistic_data(2000, 3, 4).0, data);
    }
}
