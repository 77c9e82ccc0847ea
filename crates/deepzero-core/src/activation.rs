//! Activation functions and their hand-written derivatives (seed chapter 1.2.3).
//!
//! Each forward function is written from its formula with the numerically stable rearrangement
//! used in practice, and each has a `*_backward` that maps the upstream gradient `∂L/∂y` to
//! `∂L/∂x` (a vector–Jacobian product). The backward functions take whichever of the input `x`
//! or the output `y` makes the derivative cheapest, as a real framework caches it:
//!
//! | function | forward | derivative used |
//! |---|---|---|
//! | sigmoid | `σ(x) = 1 / (1 + e^{−x})` | `σ' = y (1 − y)` |
//! | tanh | `(e^x − e^{−x}) / (e^x + e^{−x})` | `1 − y²` |
//! | ReLU | `max(0, x)` | `1[x > 0]` (0 at the kink, as in PyTorch) |
//! | leaky ReLU | `x` if `x > 0`, else `αx` | `1` or `α` (`α` at the kink) |
//! | softmax | `e^{x_i − m} / Σ_j e^{x_j − m}`, `m = max_j x_j` | `y ⊙ (g − ⟨g, y⟩)` |
//! | log-softmax | `x_i − m − log Σ_j e^{x_j − m}` | `g − e^{y} Σ_j g_j` |
//!
//! Subtracting the maximum `m` changes nothing mathematically (`softmax(x + c) = softmax(x)`) but
//! keeps every exponent `≤ 0`, so `e^{1001}` never overflows; the seed's formula (line 248)
//! omits this (see `docs/errata.md`).

use burn::tensor::Tensor;

/// Logistic sigmoid `σ(x) = 1 / (1 + e^{−x})`, computed without overflow.
///
/// For `x ≥ 0` it evaluates `1 / (1 + e^{−x})`; for `x < 0` the equal form `e^{x} / (1 + e^{x})`.
/// Both only ever exponentiate `−|x|`, so no intermediate overflows.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let e = x.clone().abs().neg().exp(); // e^{−|x|} ∈ (0, 1]
    let positive = e.clone().add_scalar(1.0).recip(); // 1 / (1 + e^{−|x|}) = σ(|x|)
    let negative = e * positive.clone(); // e^{−|x|} / (1 + e^{−|x|}) = σ(−|x|)
    positive.mask_where(x.lower_scalar(0.0), negative)
}

/// Backward of [`sigmoid`] from its output `y = σ(x)`: `∂L/∂x = ∂L/∂y ⊙ y (1 − y)`.
pub fn sigmoid_backward<const D: usize>(output: Tensor<D>, grad_output: Tensor<D>) -> Tensor<D> {
    let one_minus = output.clone().neg().add_scalar(1.0);
    grad_output * output * one_minus
}

/// Hyperbolic tangent `(e^x − e^{−x}) / (e^x + e^{−x})`, computed as
/// `sign(x) (1 − e^{−2|x|}) / (1 + e^{−2|x|})` so that no exponent is positive.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let e = x.clone().abs().mul_scalar(-2.0).exp();
    let magnitude = e.clone().neg().add_scalar(1.0) / e.add_scalar(1.0);
    magnitude * x.sign()
}

/// Backward of [`tanh`] from its output `y`: `∂L/∂x = ∂L/∂y ⊙ (1 − y²)`.
pub fn tanh_backward<const D: usize>(output: Tensor<D>, grad_output: Tensor<D>) -> Tensor<D> {
    grad_output * output.square().neg().add_scalar(1.0)
}

/// Rectified linear unit `max(0, x)`.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clamp_min(0.0)
}

/// Backward of [`relu`] from its input `x`: `∂L/∂x = ∂L/∂y ⊙ 1[x > 0]`.
///
/// ReLU has no derivative at 0; like PyTorch, we use 0 there (a valid subgradient).
pub fn relu_backward<const D: usize>(input: Tensor<D>, grad_output: Tensor<D>) -> Tensor<D> {
    grad_output * input.greater_scalar(0.0).float()
}

/// Leaky ReLU: `x` for `x > 0`, `negative_slope · x` otherwise.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, negative_slope: f64) -> Tensor<D> {
    let scaled = x.clone().mul_scalar(negative_slope);
    x.clone().mask_where(x.lower_equal_scalar(0.0), scaled)
}

/// Backward of [`leaky_relu`] from its input `x`: `∂L/∂x = ∂L/∂y ⊙ (1 if x > 0 else α)`.
pub fn leaky_relu_backward<const D: usize>(
    input: Tensor<D>,
    grad_output: Tensor<D>,
    negative_slope: f64,
) -> Tensor<D> {
    let scaled = grad_output.clone().mul_scalar(negative_slope);
    grad_output.mask_where(input.lower_equal_scalar(0.0), scaled)
}

/// Softmax along `dim`: `y_i = e^{x_i − m} / Σ_j e^{x_j − m}` with `m = max_j x_j`.
///
/// The maximum is detached: softmax is invariant to the shift, so its gradient through `m` is
/// exactly zero and need not be traced.
///
/// # Panics
/// If `dim >= D`.
pub fn softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    let e = (x - m).exp();
    let sum = e.clone().sum_dim(dim);
    e / sum
}

/// Backward of [`softmax`] from its output `y`.
///
/// The Jacobian is `∂y_i/∂x_j = y_i (δ_ij − y_j)`, so the vector–Jacobian product is
/// `∂L/∂x_j = Σ_i g_i y_i (δ_ij − y_j) = y_j (g_j − Σ_i g_i y_i)`.
///
/// # Panics
/// If `dim >= D`.
pub fn softmax_backward<const D: usize>(
    output: Tensor<D>,
    grad_output: Tensor<D>,
    dim: usize,
) -> Tensor<D> {
    let inner = (grad_output.clone() * output.clone()).sum_dim(dim);
    output * (grad_output - inner)
}

/// Log-softmax along `dim`: `x_i − m − log Σ_j e^{x_j − m}` (the log-sum-exp trick).
///
/// Computing `log(softmax(x))` instead would underflow to `log 0 = −∞` for very negative
/// logits; this form stays finite.
///
/// # Panics
/// If `dim >= D`.
pub fn log_softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    let shifted = x - m;
    let lse = shifted.clone().exp().sum_dim(dim).log();
    shifted - lse
}

/// Backward of [`log_softmax`] from its output `y = log softmax(x)`.
///
/// `∂y_i/∂x_j = δ_ij − softmax_j`, so `∂L/∂x_j = g_j − softmax_j Σ_i g_i` with
/// `softmax = e^{y}`.
///
/// # Panics
/// If `dim >= D`.
pub fn log_softmax_backward<const D: usize>(
    output: Tensor<D>,
    grad_output: Tensor<D>,
    dim: usize,
) -> Tensor<D> {
    let total = grad_output.clone().sum_dim(dim);
    grad_output - output.exp() * total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use burn::tensor::activation as burn_act;

    /// Inputs away from ReLU's kink so finite differences are meaningful.
    fn input() -> Tensor<2> {
        Tensor::from_floats(
            [
                [-2.1, -0.7, 0.3, 1.4],
                [0.9, -1.3, 2.6, -0.4],
                [0.15, 3.0, -3.2, 0.6],
            ],
            &device(),
        )
    }

    /// A fixed upstream gradient, so the checked scalar is `L = Σ g ⊙ f(x)` and `∂L/∂x` is
    /// exactly the vector–Jacobian product the backward function computes.
    fn upstream() -> Tensor<2> {
        Tensor::from_floats(
            [
                [0.5, -1.0, 0.25, 2.0],
                [-0.3, 0.8, 1.1, -0.6],
                [1.0, 0.1, -0.9, 0.4],
            ],
            &device(),
        )
    }

    /// Runs both checks of `backward(x, g)` against `L(x) = Σ g ⊙ forward(x)`.
    fn check_vjp(forward: impl Fn(Tensor<2>) -> Tensor<2> + Copy, analytic: Tensor<2>) {
        let x = input();
        let g = upstream();
        let loss = |t: Tensor<2>| (forward(t) * g.clone()).sum();
        check_grad(loss, &x, &analytic);
    }

    #[test]
    fn sigmoid_matches_burn_and_gradients() {
        let x = input();
        assert_close(
            &sigmoid(x.clone()),
            &burn_act::sigmoid(x.clone()),
            1e-6,
            1e-7,
        );
        let grad = sigmoid_backward(sigmoid(x.clone()), upstream());
        check_vjp(sigmoid, grad);
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        let x = Tensor::<1>::from_floats([-1000.0, -80.0, 0.0, 100.0, 1000.0], &device());
        let y = host(&sigmoid(x));
        assert_eq!(y[0], 0.0);
        assert!(y[1] > 0.0 && y[1] < 1e-30); // e^{-80} ≈ 1.8e-35, still representable
        assert_eq!(y[2], 0.5);
        assert_eq!(y[3], 1.0);
        assert_eq!(y[4], 1.0);
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn tanh_matches_burn_and_gradients() {
        let x = input();
        assert_close(&tanh(x.clone()), &burn_act::tanh(x.clone()), 1e-5, 1e-6);
        let grad = tanh_backward(tanh(x.clone()), upstream());
        check_vjp(tanh, grad);
        let big = Tensor::<1>::from_floats([-500.0, 500.0], &device());
        assert_eq!(host(&tanh(big)), vec![-1.0, 1.0]);
    }

    #[test]
    fn relu_matches_burn_and_gradients() {
        let x = input();
        assert_close(&relu(x.clone()), &burn_act::relu(x.clone()), 0.0, 0.0);
        let grad = relu_backward(x.clone(), upstream());
        check_vjp(relu, grad);
        // The kink: derivative 0 at exactly 0, like PyTorch.
        let zero = Tensor::<1>::from_floats([0.0], &device());
        let g = relu_backward(zero, Tensor::<1>::from_floats([1.0], &device()));
        assert_eq!(host(&g), vec![0.0]);
    }

    #[test]
    fn leaky_relu_matches_burn_and_gradients() {
        let x = input();
        let slope = 0.1;
        assert_close(
            &leaky_relu(x.clone(), slope),
            &burn_act::leaky_relu(x.clone(), slope),
            1e-6,
            1e-7,
        );
        let grad = leaky_relu_backward(x.clone(), upstream(), slope);
        check_vjp(|t| leaky_relu(t, slope), grad);
    }

    #[test]
    fn softmax_matches_burn_and_gradients() {
        let x = input();
        for dim in [0, 1] {
            assert_close(
                &softmax(x.clone(), dim),
                &burn_act::softmax(x.clone(), dim),
                1e-5,
                1e-7,
            );
            let grad = softmax_backward(softmax(x.clone(), dim), upstream(), dim);
            check_vjp(|t| softmax(t, dim), grad);
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let y = softmax(input(), 1);
        let sums = host(&y.sum_dim(1));
        for s in sums {
            assert!((s - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn softmax_is_stable_for_large_logits() {
        // The naive e^1000 / (e^1000 + e^1001) is inf/inf = NaN in f32 (and f64).
        let x = Tensor::<2>::from_floats([[1000.0, 1001.0], [-1000.0, -1001.0]], &device());
        let y = host(&softmax(x.clone(), 1));
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        // softmax([0, 1]) = [1/(1+e), e/(1+e)].
        let e = std::f32::consts::E;
        assert_close_f64(f64::from(y[0]), f64::from(1.0 / (1.0 + e)), 1e-6);
        assert_close_f64(f64::from(y[1]), f64::from(e / (1.0 + e)), 1e-6);
        let naive = host(&(x.clone().exp() / x.exp().sum_dim(1)));
        assert!(
            naive[0].is_nan(),
            "the unstable formula overflows: {naive:?}"
        );
    }

    #[test]
    fn log_softmax_matches_burn_and_gradients() {
        let x = input();
        for dim in [0, 1] {
            assert_close(
                &log_softmax(x.clone(), dim),
                &burn_act::log_softmax(x.clone(), dim),
                1e-5,
                1e-6,
            );
            let grad = log_softmax_backward(log_softmax(x.clone(), dim), upstream(), dim);
            check_vjp(|t| log_softmax(t, dim), grad);
        }
        // Finite where log(softmax(x)) would be log(0) = −inf.
        let x = Tensor::<2>::from_floats([[0.0, 200.0]], &device());
        let y = host(&log_softmax(x, 1));
        assert_close_f64(f64::from(y[0]), -200.0, 1e-3);
        assert!(y[1].abs() < 1e-6);
    }
}
