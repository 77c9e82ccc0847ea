//! Linear and logistic regression trained by full-batch gradient descent on hand-derived
//! gradients (seed: the "线性模型" and "逻辑回归" formulas, lines 121–137).
//!
//! # Linear regression
//! Prediction `Ŷ = XW + b` with `X: [n, d]`, `W: [d, k]`, `b: [k]`. The loss is the mean squared
//! error over all `n·k` entries, `J = (1/nk) Σ (Ŷ − Y)²`, so with the residual `R = Ŷ − Y`:
//!
//! ```text
//! ∂J/∂W = (2/nk) Xᵀ R        ∂J/∂b = (2/nk) Σ_rows R
//! ```
//!
//! (The seed writes `∂J/∂w = x − y`, which is not a derivative of its loss at all.)
//!
//! # Logistic regression
//! Probability `p = σ(Xw + b)` with `w: [d, 1]`, `b: [1]`, labels `y ∈ {0, 1}`, loss the mean
//! binary cross-entropy `J = −(1/n) Σ [y log p + (1 − y) log(1 − p)]`. Because `σ' = σ(1 − σ)`
//! cancels against the `1/p` and `1/(1 − p)` of the log-loss,
//!
//! ```text
//! ∂J/∂w = (1/n) Xᵀ (σ(Xw + b) − y)        ∂J/∂b = (1/n) Σ (σ(Xw + b) − y)
//! ```
//!
//! (The seed writes `∂J/∂w = x − y p(1 − p)`; see `docs/errata.md`.)

use burn::tensor::{Device, Int, Tensor};

use crate::activation::sigmoid;
use crate::error::Result;
use crate::loss::{binary_cross_entropy_with_logits, mse};

/// Gradients of a regression loss with respect to its weight and bias.
#[derive(Debug, Clone)]
pub struct RegressionGradients {
    /// `∂J/∂W`, shape `[d, k]`.
    pub weight: Tensor<2>,
    /// `∂J/∂b`, shape `[k]`.
    pub bias: Tensor<1>,
}

/// What linear and logistic regression share: a weight and a bias, a loss with hand-derived
/// gradients, and full-batch gradient descent on them.
pub trait RegressionModel {
    /// The loss on the examples `x` with targets `y`.
    fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1>;

    /// The hand-derived gradients of [`loss`](Self::loss) with respect to the weight and the bias.
    fn gradients(&self, x: Tensor<2>, y: Tensor<2>) -> RegressionGradients;

    /// The weight and the bias, for an update in place.
    fn parameters_mut(&mut self) -> (&mut Tensor<2>, &mut Tensor<1>);

    /// One gradient-descent step `θ ← θ − lr · ∂J/∂θ`.
    fn apply_gradients(&mut self, grads: RegressionGradients, lr: f64) {
        let (weight, bias) = self.parameters_mut();
        *weight = weight.clone() - grads.weight.mul_scalar(lr);
        *bias = bias.clone() - grads.bias.mul_scalar(lr);
    }

    /// Full-batch gradient descent for `epochs` steps; returns the loss before each step.
    ///
    /// # Errors
    /// [`CoreError::TensorRead`](crate::CoreError::TensorRead) if a loss cannot be read back.
    fn fit(&mut self, x: Tensor<2>, y: Tensor<2>, lr: f64, epochs: usize) -> Result<Vec<f64>> {
        let mut history = Vec::with_capacity(epochs);
        for _ in 0..epochs {
            history.push(self.loss(x.clone(), y.clone()).try_into_scalar::<f64>()?);
            let grads = self.gradients(x.clone(), y.clone());
            self.apply_gradients(grads, lr);
        }
        Ok(history)
    }
}

/// Adds a `[k]` bias to every row of an `[n, k]` matrix.
fn add_bias(xw: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    xw + bias.unsqueeze::<2>()
}

/// Sums the rows of `[n, k]` into `[k]`.
fn sum_rows(t: Tensor<2>) -> Tensor<1> {
    let [_, k] = t.dims();
    t.sum_dim(0).reshape([k])
}

/// Multi-output linear regression `Ŷ = XW + b` with an MSE loss.
#[derive(Debug, Clone)]
pub struct LinearRegression {
    /// Weight matrix, shape `[d_in, d_out]`.
    pub weight: Tensor<2>,
    /// Bias, shape `[d_out]`.
    pub bias: Tensor<1>,
}

impl LinearRegression {
    /// A model with all parameters zero (the loss is convex, so no symmetry to break).
    pub fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        Self {
            weight: Tensor::zeros([d_in, d_out], device),
            bias: Tensor::zeros([d_out], device),
        }
    }

    /// Predictions `XW + b`, shape `[n, d_out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        add_bias(x.matmul(self.weight.clone()), self.bias.clone())
    }
}

impl RegressionModel for LinearRegression {
    /// Mean squared error over all `n·d_out` entries.
    fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        mse(self.forward(x), y)
    }

    /// Hand-derived gradients `(2/nk) Xᵀ R` and `(2/nk) Σ_rows R` with `R = XW + b − Y`.
    fn gradients(&self, x: Tensor<2>, y: Tensor<2>) -> RegressionGradients {
        let [n, k] = y.dims();
        let residual = (self.forward(x.clone()) - y).mul_scalar(2.0 / (n * k) as f64);
        RegressionGradients {
            weight: x.transpose().matmul(residual.clone()),
            bias: sum_rows(residual),
        }
    }

    fn parameters_mut(&mut self) -> (&mut Tensor<2>, &mut Tensor<1>) {
        (&mut self.weight, &mut self.bias)
    }
}

/// Binary logistic regression `p = σ(Xw + b)` with a mean binary cross-entropy loss.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    /// Weight column, shape `[d_in, 1]`.
    pub weight: Tensor<2>,
    /// Bias, shape `[1]`.
    pub bias: Tensor<1>,
}

impl LogisticRegression {
    /// A model with all parameters zero (the loss is convex).
    pub fn new(d_in: usize, device: &Device) -> Self {
        Self {
            weight: Tensor::zeros([d_in, 1], device),
            bias: Tensor::zeros([1], device),
        }
    }

    /// Logits `Xw + b`, shape `[n, 1]`.
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        add_bias(x.matmul(self.weight.clone()), self.bias.clone())
    }

    /// Probabilities `σ(Xw + b)`, shape `[n, 1]`.
    pub fn predict_proba(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.logits(x))
    }

    /// Hard labels `1[p ≥ 0.5]` (equivalently `1[logit ≥ 0]`), shape `[n]`.
    pub fn predict(&self, x: Tensor<2>) -> Tensor<1, Int> {
        let [n, _] = x.dims();
        self.logits(x).greater_equal_scalar(0.0).int().reshape([n])
    }
}

impl RegressionModel for LogisticRegression {
    /// Mean binary cross-entropy; `y` holds 0/1 (or soft) labels, shape `[n, 1]`.
    fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        binary_cross_entropy_with_logits(self.logits(x), y)
    }

    /// Hand-derived gradients `Xᵀ(σ(Xw + b) − y)/n` and `Σ(σ(Xw + b) − y)/n`.
    fn gradients(&self, x: Tensor<2>, y: Tensor<2>) -> RegressionGradients {
        let [n, _] = y.dims();
        let error = (self.predict_proba(x.clone()) - y).mul_scalar(1.0 / n as f64);
        RegressionGradients {
            weight: x.transpose().matmul(error.clone()),
            bias: sum_rows(error),
        }
    }

    fn parameters_mut(&mut self) -> (&mut Tensor<2>, &mut Tensor<1>) {
        (&mut self.weight, &mut self.bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use burn::tensor::TensorData;
    use rand::Rng;

    /// Checks both hand-derived gradients of the model `make(weight, bias)` on `(x, y)`.
    fn check_both_gradients<M: RegressionModel>(
        weight: &Tensor<2>,
        bias: &Tensor<1>,
        make: impl Fn(Tensor<2>, Tensor<1>) -> M + Copy,
        x: &Tensor<2>,
        y: &Tensor<2>,
    ) {
        let grads = make(weight.clone(), bias.clone()).gradients(x.clone(), y.clone());
        let loss_at_weight = |w| make(w, bias.clone()).loss(x.clone(), y.clone());
        check_grad(loss_at_weight, weight, &grads.weight);
        let loss_at_bias = |b| make(weight.clone(), b).loss(x.clone(), y.clone());
        check_grad(loss_at_bias, bias, &grads.bias);
    }

    #[test]
    fn linear_gradients_match_autodiff_and_finite_differences() {
        let mut r = rng(10);
        let x = uniform2(&mut r, 6, 3, -1.0, 1.0);
        let y = uniform2(&mut r, 6, 2, -1.0, 1.0);
        let weight = uniform2(&mut r, 3, 2, -1.0, 1.0);
        let bias = uniform1(&mut r, 2, -1.0, 1.0);
        check_both_gradients(
            &weight,
            &bias,
            |weight, bias| LinearRegression { weight, bias },
            &x,
            &y,
        );
    }

    #[test]
    fn linear_regression_recovers_known_weights() {
        let mut r = rng(11);
        let n = 64;
        let x = uniform2(&mut r, n, 3, -1.0, 1.0);
        let w_true = Tensor::<2>::from_floats([[2.0], [-3.0], [0.5]], &device());
        let noise: Vec<f32> = (0..n).map(|_| r.random_range(-0.01..0.01)).collect();
        let y = x.clone().matmul(w_true.clone()).add_scalar(1.5)
            + Tensor::from_data(TensorData::new(noise, [n, 1]), &device());

        let mut model = LinearRegression::new(3, 1, &device());
        let history = model.fit(x, y, 0.5, 300).unwrap();
        assert!(history.last().unwrap() < &1e-3, "{:?}", history.last());
        assert_close(&model.weight, &w_true, 0.0, 0.02);
        assert_close_f64(model.bias.into_scalar::<f64>(), 1.5, 0.02);
    }

    #[test]
    fn seed_linear_gradient_is_wrong() {
        // Seed lines 125/127: J = ½ Σ (w x_i + b − y_i)², "∂J/∂w = x − y". With scalars x_i the
        // only reading is Σ (x_i − y_i); the true derivative is Σ (w x_i + b − y_i) x_i.
        let xs = [0.5f64, -1.0, 2.0];
        let ys = [1.0f64, 0.0, 3.0];
        let (w, b) = (0.7f64, -0.2f64);
        let j = |w: f64| {
            0.5 * xs
                .iter()
                .zip(&ys)
                .map(|(x, y)| (w * x + b - y).powi(2))
                .sum::<f64>()
        };
        let h = 1e-6;
        let numeric = (j(w + h) - j(w - h)) / (2.0 * h);
        let correct: f64 = xs.iter().zip(&ys).map(|(x, y)| (w * x + b - y) * x).sum();
        let seed: f64 = xs.iter().zip(&ys).map(|(x, y)| x - y).sum();
        assert_close_f64(correct, numeric, 1e-6);
        assert!(
            (seed - numeric).abs() > 0.5,
            "seed {seed} vs true {numeric}"
        );
    }

    #[test]
    fn logistic_gradients_match_autodiff_and_finite_differences() {
        let mut r = rng(12);
        let x = uniform2(&mut r, 8, 3, -2.0, 2.0);
        let y = labels(&mut r, 8, 2).float().reshape([8, 1]);
        let weight = uniform2(&mut r, 3, 1, -1.0, 1.0);
        let bias = uniform1(&mut r, 1, -1.0, 1.0);
        check_both_gradients(
            &weight,
            &bias,
            |weight, bias| LogisticRegression { weight, bias },
            &x,
            &y,
        );
    }

    #[test]
    fn seed_logistic_gradient_is_wrong() {
        // Seed line 137: "∂J/∂w = x − y p(1 − p)". Read with scalars, Σ (x_i − y_i p_i(1 − p_i)).
        // The true gradient of the (correctly parenthesised) log-loss is Σ (p_i − y_i) x_i. The
        // other common confusion, Σ (p_i − y_i) p_i (1 − p_i) x_i (the MSE-on-sigmoid gradient),
        // is wrong as well.
        let xs = [0.5f64, -1.0, 2.0, 1.5];
        let ys = [1.0f64, 0.0, 1.0, 0.0];
        let (w, b) = (0.3f64, 0.1f64);
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        let j = |w: f64| -> f64 {
            xs.iter()
                .zip(&ys)
                .map(|(x, y)| {
                    let p = sig(w * x + b);
                    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
                })
                .sum()
        };
        let h = 1e-6;
        let numeric = (j(w + h) - j(w - h)) / (2.0 * h);
        let p: Vec<f64> = xs.iter().map(|x| sig(w * x + b)).collect();
        let correct: f64 = (0..4).map(|i| (p[i] - ys[i]) * xs[i]).sum();
        let seed: f64 = (0..4).map(|i| xs[i] - ys[i] * p[i] * (1.0 - p[i])).sum();
        let mse_style: f64 = (0..4)
            .map(|i| (p[i] - ys[i]) * p[i] * (1.0 - p[i]) * xs[i])
            .sum();
        assert_close_f64(correct, numeric, 1e-6);
        assert!(
            (seed - numeric).abs() > 0.5,
            "seed {seed} vs true {numeric}"
        );
        assert!(
            (mse_style - numeric).abs() > 0.1,
            "{mse_style} vs {numeric}"
        );
    }

    #[test]
    fn logistic_regression_separates_a_separable_set() {
        // Label 1 iff x0 + 2 x1 > 0.1; points within 0.2 of the boundary are dropped so the set
        // has a margin.
        let mut r = rng(13);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        while ys.len() < 60 {
            let (a, b): (f32, f32) = (r.random_range(-1.0..1.0), r.random_range(-1.0..1.0));
            let s = a + 2.0 * b - 0.1;
            if s.abs() < 0.2 {
                continue;
            }
            xs.extend([a, b]);
            ys.push(if s > 0.0 { 1.0f32 } else { 0.0 });
        }
        let n = ys.len();
        let x = Tensor::<2>::from_data(TensorData::new(xs, [n, 2]), &device());
        let y = Tensor::<2>::from_data(TensorData::new(ys.clone(), [n, 1]), &device());

        let mut model = LogisticRegression::new(2, &device());
        let history = model.fit(x.clone(), y, 2.0, 400).unwrap();
        assert!(history.last().unwrap() < &history[0]);
        let predicted: Vec<i64> = model.predict(x).try_into_vec_as::<i64>().unwrap();
        let expected: Vec<i64> = ys.iter().map(|&v| v as i64).collect();
        assert_eq!(predicted, expected);
        // The learnt boundary is parallel to x0 + 2 x1: w1 / w0 ≈ 2.
        let w = host(&model.weight);
        assert!((w[1] / w[0] - 2.0).abs() < 0.5, "{w:?}");
    }
}
