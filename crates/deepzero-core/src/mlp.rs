//! A two-layer perceptron with hand-written forward and backward passes: the seed's
//! `forward_propagation` / `backward_propagation` (lines 358–406), done right.
//!
//! ```text
//! x ─▶ z1 = x W1 + b1 ─▶ a1 = f(z1) ─▶ z2 = a1 W2 + b2 ─▶ softmax cross-entropy with labels y
//!      [N, H]              [N, H]         [N, C]
//! ```
//!
//! Backward, with `L = (1/N) Σ_i −log softmax(z2_i)[y_i]`:
//!
//! ```text
//! dZ2 = (softmax(z2) − onehot(y)) / N          [N, C]
//! dW2 = a1ᵀ dZ2                                 [H, C]
//! db2 = Σ_rows dZ2                              [C]
//! dA1 = dZ2 W2ᵀ                                 [N, H]
//! dZ1 = dA1 ⊙ f'(z1)                            [N, H]   ← the seed forgets this factor
//! dW1 = xᵀ dZ1                                  [D, H]
//! db1 = Σ_rows dZ1                              [H]
//! ```
//!
//! Unlike the seed, the forward pass returns its intermediate values ([`MlpCache`]) because the
//! backward pass needs `x`, `z1` and `a1`, and the output layer is a softmax (not the hidden
//! activation), which is what makes `dZ2 = a2 − y` true.

use burn::tensor::{Device, Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::activation::{
    relu, relu_backward, sigmoid, sigmoid_backward, softmax, tanh, tanh_backward,
};
use crate::error::Result;
use crate::loss::{cross_entropy, cross_entropy_backward};

/// Non-linearity of the hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenActivation {
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^{−x})`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl HiddenActivation {
    /// Applies the activation.
    pub fn forward<const D: usize>(self, z: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => relu(z),
            Self::Sigmoid => sigmoid(z),
            Self::Tanh => tanh(z),
        }
    }

    /// `∂L/∂z` from `∂L/∂a`, given the pre-activation `z` and the activation `a = f(z)`.
    pub fn backward<const D: usize>(
        self,
        z: Tensor<D>,
        a: Tensor<D>,
        grad: Tensor<D>,
    ) -> Tensor<D> {
        match self {
            Self::Relu => relu_backward(z, grad),
            Self::Sigmoid => sigmoid_backward(a, grad),
            Self::Tanh => tanh_backward(a, grad),
        }
    }
}

/// Everything the forward pass computed that the backward pass needs.
#[derive(Debug, Clone)]
pub struct MlpCache {
    /// Input `x`, `[N, D]`.
    pub x: Tensor<2>,
    /// Hidden pre-activation `z1 = x W1 + b1`, `[N, H]`.
    pub z1: Tensor<2>,
    /// Hidden activation `a1 = f(z1)`, `[N, H]`.
    pub a1: Tensor<2>,
    /// Output logits `z2 = a1 W2 + b2`, `[N, C]`.
    pub logits: Tensor<2>,
}

impl MlpCache {
    /// Class probabilities `softmax(z2)`, `[N, C]`.
    pub fn probabilities(&self) -> Tensor<2> {
        softmax(self.logits.clone(), 1)
    }
}

/// Gradients of the mean cross-entropy with respect to the four parameters.
#[derive(Debug, Clone)]
pub struct MlpGradients {
    /// `∂L/∂W1`, `[D, H]`.
    pub w1: Tensor<2>,
    /// `∂L/∂b1`, `[H]`.
    pub b1: Tensor<1>,
    /// `∂L/∂W2`, `[H, C]`.
    pub w2: Tensor<2>,
    /// `∂L/∂b2`, `[C]`.
    pub b2: Tensor<1>,
}

/// Two-layer perceptron `softmax(f(x W1 + b1) W2 + b2)` with explicit parameters.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// First-layer weight, `[D, H]` (burn's `Linear` layout: input × output).
    pub w1: Tensor<2>,
    /// First-layer bias, `[H]`.
    pub b1: Tensor<1>,
    /// Second-layer weight, `[H, C]`.
    pub w2: Tensor<2>,
    /// Second-layer bias, `[C]`.
    pub b2: Tensor<1>,
    /// Hidden non-linearity.
    pub activation: HiddenActivation,
}

fn add_bias(xw: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    xw + bias.unsqueeze::<2>()
}

fn sum_rows(t: Tensor<2>) -> Tensor<1> {
    let [_, k] = t.dims();
    t.sum_dim(0).reshape([k])
}

impl Mlp {
    /// Random initialisation like PyTorch's `nn.Linear`: weights and biases uniform in
    /// `±1/√fan_in`. Uses the device's RNG (seed it with `device.seed(..)` for repeatability).
    pub fn new(
        d_in: usize,
        hidden: usize,
        classes: usize,
        activation: HiddenActivation,
        device: &Device,
    ) -> Self {
        let k1 = 1.0 / (d_in.max(1) as f64).sqrt();
        let k2 = 1.0 / (hidden.max(1) as f64).sqrt();
        Self {
            w1: Tensor::random([d_in, hidden], Distribution::Uniform(-k1, k1), device),
            b1: Tensor::random([hidden], Distribution::Uniform(-k1, k1), device),
            w2: Tensor::random([hidden, classes], Distribution::Uniform(-k2, k2), device),
            b2: Tensor::random([classes], Distribution::Uniform(-k2, k2), device),
            activation,
        }
    }

    /// Forward pass, keeping the intermediate values for [`backward`](Self::backward).
    pub fn forward(&self, x: Tensor<2>) -> MlpCache {
        let z1 = add_bias(x.clone().matmul(self.w1.clone()), self.b1.clone()); // [N, H]
        let a1 = self.activation.forward(z1.clone()); // [N, H]
        let logits = add_bias(a1.clone().matmul(self.w2.clone()), self.b2.clone()); // [N, C]
        MlpCache { x, z1, a1, logits }
    }

    /// Mean cross-entropy of the cached logits against `targets` (`[N]` class indices).
    pub fn loss(&self, cache: &MlpCache, targets: Tensor<1, Int>) -> Tensor<1> {
        cross_entropy(cache.logits.clone(), targets)
    }

    /// Backward pass: all four gradients of the mean cross-entropy (see the module docs).
    pub fn backward(&self, cache: &MlpCache, targets: Tensor<1, Int>) -> MlpGradients {
        let dz2 = cross_entropy_backward(cache.logits.clone(), targets); // [N, C]
        let dw2 = cache.a1.clone().transpose().matmul(dz2.clone()); // [H, C]
        let db2 = sum_rows(dz2.clone()); // [C]
        let da1 = dz2.matmul(self.w2.clone().transpose()); // [N, H]
        let dz1 = self
            .activation
            .backward(cache.z1.clone(), cache.a1.clone(), da1); // [N, H]
        let dw1 = cache.x.clone().transpose().matmul(dz1.clone()); // [D, H]
        let db1 = sum_rows(dz1); // [H]
        MlpGradients {
            w1: dw1,
            b1: db1,
            w2: dw2,
            b2: db2,
        }
    }

    /// Plain gradient descent `θ ← θ − lr · ∂L/∂θ` (the seed's `gradient_descent`).
    pub fn apply_gradients(&mut self, grads: MlpGradients, lr: f64) {
        self.w1 = self.w1.clone() - grads.w1.mul_scalar(lr);
        self.b1 = self.b1.clone() - grads.b1.mul_scalar(lr);
        self.w2 = self.w2.clone() - grads.w2.mul_scalar(lr);
        self.b2 = self.b2.clone() - grads.b2.mul_scalar(lr);
    }

    /// One forward + backward + update on a batch; returns the loss before the update.
    ///
    /// # Errors
    /// [`CoreError::TensorRead`](crate::CoreError::TensorRead) if the loss cannot be read back.
    pub fn train_step(&mut self, x: Tensor<2>, targets: Tensor<1, Int>, lr: f64) -> Result<f64> {
        let cache = self.forward(x);
        let loss = self
            .loss(&cache, targets.clone())
            .try_into_scalar::<f64>()?;
        let grads = self.backward(&cache, targets);
        self.apply_gradients(grads, lr);
        Ok(loss)
    }

    /// Predicted classes `argmax_c z2`, shape `[N]`.
    pub fn predict(&self, x: Tensor<2>) -> Tensor<1, Int> {
        let [n, _] = x.dims();
        self.forward(x).logits.argmax(1).reshape([n])
    }

    /// Number of scalar parameters `DH + H + HC + C`.
    pub fn num_params(&self) -> usize {
        let [d, h] = self.w1.dims();
        let [_, c] = self.w2.dims();
        d * h + h + h * c + c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheck, check_against_autodiff};
    use crate::test_util::*;
    use burn::tensor::TensorData;
    use rand::Rng;

    fn model(activation: HiddenActivation) -> Mlp {
        let mut r = rng(20);
        Mlp {
            w1: uniform2(&mut r, 3, 5, -1.0, 1.0),
            b1: uniform1(&mut r, 5, -0.5, 0.5),
            w2: uniform2(&mut r, 5, 4, -1.0, 1.0),
            b2: uniform1(&mut r, 4, -0.5, 0.5),
            activation,
        }
    }

    fn batch() -> (Tensor<2>, Tensor<1, Int>) {
        let mut r = rng(21);
        (uniform2(&mut r, 6, 3, -1.5, 1.5), labels(&mut r, 6, 4))
    }

    /// Checks all four gradients of `m` against autodiff and (where smooth) finite differences.
    fn check_all(m: &Mlp, finite_differences: bool) {
        let (x, y) = batch();
        let grads = m.backward(&m.forward(x.clone()), y.clone());
        let loss_of = |m: Mlp| m.loss(&m.forward(x.clone()), y.clone());
        check_grad_with(
            |w| loss_of(Mlp { w1: w, ..m.clone() }),
            &m.w1,
            &grads.w1,
            finite_differences,
        );
        check_grad_with(
            |b| loss_of(Mlp { b1: b, ..m.clone() }),
            &m.b1,
            &grads.b1,
            finite_differences,
        );
        check_grad_with(
            |w| loss_of(Mlp { w2: w, ..m.clone() }),
            &m.w2,
            &grads.w2,
            finite_differences,
        );
        check_grad_with(
            |b| loss_of(Mlp { b2: b, ..m.clone() }),
            &m.b2,
            &grads.b2,
            finite_differences,
        );
    }

    #[test]
    fn sigmoid_mlp_gradients_match_autodiff_and_finite_differences() {
        check_all(&model(HiddenActivation::Sigmoid), true);
    }

    #[test]
    fn tanh_mlp_gradients_match_autodiff_and_finite_differences() {
        check_all(&model(HiddenActivation::Tanh), true);
    }

    #[test]
    fn relu_mlp_gradients_match_autodiff_and_finite_differences() {
        let m = model(HiddenActivation::Relu);
        // Finite differences are only valid if no hidden pre-activation sits within h of the
        // kink; assert that for this fixed batch, then check both ways.
        let (x, _) = batch();
        let z1 = host(&m.forward(x).z1);
        assert!(z1.iter().all(|z| z.abs() > 0.05), "{z1:?}");
        check_all(&m, true);
    }

    #[test]
    fn seed_backprop_without_activation_derivative_is_wrong() {
        // Seed line 401: dZ1 = dZ2 · W2ᵀ, with no ⊙ f'(z1).
        let m = model(HiddenActivation::Sigmoid);
        let (x, y) = batch();
        let cache = m.forward(x.clone());
        let dz2 = cross_entropy_backward(cache.logits.clone(), y.clone());
        let seed_dw1 = x
            .clone()
            .transpose()
            .matmul(dz2.matmul(m.w2.clone().transpose()));
        let loss_of_w1 = |w| {
            let mm = Mlp { w1: w, ..m.clone() };
            mm.loss(&mm.forward(x.clone()), y.clone())
        };
        let report =
            check_against_autodiff(loss_of_w1, &m.w1, &seed_dw1, &GradCheck::default()).unwrap();
        assert!(
            !report.passed,
            "the seed's dW1 should not match: {report:?}"
        );
    }

    #[test]
    fn training_decreases_the_loss() {
        // Three Gaussian blobs in 2-D; a 2-16-3 ReLU MLP should fit them quickly.
        let mut r = rng(22);
        let centres = [(-1.0f32, -1.0f32), (1.0, -1.0), (0.0, 1.2)];
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..90 {
            let c = i % 3;
            let (cx, cy) = centres[c];
            xs.extend([
                cx + r.random_range(-0.4..0.4),
                cy + r.random_range(-0.4..0.4),
            ]);
            ys.push(c as i32);
        }
        let x = Tensor::<2>::from_data(TensorData::new(xs, [90, 2]), &device());
        let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [90]), &device());

        let mut m = Mlp {
            w1: uniform2(&mut r, 2, 16, -0.7, 0.7),
            b1: uniform1(&mut r, 16, -0.7, 0.7),
            w2: uniform2(&mut r, 16, 3, -0.25, 0.25),
            b2: uniform1(&mut r, 3, -0.25, 0.25),
            activation: HiddenActivation::Relu,
        };
        assert_eq!(m.num_params(), 2 * 16 + 16 + 16 * 3 + 3);
        let losses: Vec<f64> = (0..150)
            .map(|_| m.train_step(x.clone(), y.clone(), 0.5).unwrap())
            .collect();
        let (first, last) = (losses[0], losses[losses.len() - 1]);
        assert!(last < 0.3 * first, "loss {first} -> {last}");
        let correct = m.predict(x).equal(y).int().sum().into_scalar::<i64>();
        assert!(correct >= 85, "{correct}/90 correct");
    }

    #[test]
    fn new_respects_shapes_and_bounds() {
        let m = Mlp::new(4, 8, 3, HiddenActivation::Tanh, &device());
        assert_eq!(m.w1.dims(), [4, 8]);
        assert_eq!(m.b2.dims(), [3]);
        assert!(host(&m.w1).iter().all(|v| v.abs() <= 0.5));
        assert!(host(&m.w2).iter().all(|v| v.abs() <= 1.0 / 8f32.sqrt()));
        assert_eq!(m.predict(Tensor::zeros([2, 4], &device())).dims(), [2]);
    }
}
