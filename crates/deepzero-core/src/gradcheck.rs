//! Gradient checking: compare a hand-derived gradient with burn's autodiff and with central
//! finite differences.
//!
//! Every hand-written backward pass in this crate is tested twice:
//!
//! 1. against [`autodiff_gradient`], which runs burn's reverse-mode autodiff on the same forward
//!    code, and
//! 2. against [`numerical_gradient`], which needs no calculus at all:
//!    `∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h`.
//!
//! The central difference has truncation error `h²/6 · f'''` and rounding error of about
//! `ε_mach · |f| / h`. In `f32` (`ε_mach ≈ 1.2e-7`) the sweet spot is `h ≈ 1e-2 … 1e-3`, which
//! gives about four correct digits, so the default tolerances are relative `1e-2` plus absolute
//! `1e-3`. The perturbed inputs are rounded to `f32` before use; the divisor is the difference of
//! the *rounded* inputs (computed in `f64`), which removes one source of error.
//!
//! The finite differences cost `2n` forward passes for an input of `n` elements, so keep the
//! checked tensors small (a few dozen elements).

use burn::tensor::{Tensor, TensorData};

use crate::error::{CoreError, Result};

/// Step size and tolerances for a gradient check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradCheck {
    /// Finite-difference step `h`.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Default for GradCheck {
    /// `h = 1e-2`, `rtol = 1e-2`, `atol = 1e-3`: suited to `f32` and smooth functions of values
    /// of order one.
    fn default() -> Self {
        Self {
            eps: 1e-2,
            rtol: 1e-2,
            atol: 1e-3,
        }
    }
}

/// How far two gradients are apart.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckReport {
    /// Largest `|a_i - b_i|`.
    pub max_abs_error: f64,
    /// Largest `|a_i - b_i| / max(|b_i|, 1e-12)`.
    pub max_rel_error: f64,
    /// Index of the element with the worst `|a_i - b_i| - rtol·|b_i|` excess, if any failed.
    pub worst_index: Option<usize>,
    /// Whether every element satisfied `|a_i - b_i| <= atol + rtol·|b_i|`.
    pub passed: bool,
}

/// Central finite-difference gradient of the scalar function `f` at `x`.
///
/// `f` must return a one-element tensor (a loss). `x` can live on any device; the perturbed
/// copies are created on the same one.
///
/// # Errors
/// [`CoreError::TensorRead`] if `x` or a loss value cannot be read back,
/// [`CoreError::InvalidArgument`] if `eps` is not positive.
pub fn numerical_gradient<const D: usize, F>(mut f: F, x: &Tensor<D>, eps: f64) -> Result<Tensor<D>>
where
    F: FnMut(Tensor<D>) -> Tensor<1>,
{
    if eps.is_nan() || eps <= 0.0 {
        return Err(CoreError::InvalidArgument(format!(
            "finite-difference step must be positive, got {eps}"
        )));
    }
    let device = x.device();
    let shape = x.shape();
    let base: Vec<f32> = x.try_to_vec_as::<f32>()?;
    let mut grad = Vec::with_capacity(base.len());
    let mut probe = base.clone();
    for i in 0..base.len() {
        // Round the perturbed inputs to f32 first, then divide by their true distance.
        let plus = (f64::from(base[i]) + eps) as f32;
        let minus = (f64::from(base[i]) - eps) as f32;

        probe[i] = plus;
        let f_plus: f64 = f(Tensor::from_data(
            TensorData::new(probe.clone(), shape.clone()),
            &device,
        ))
        .try_into_scalar::<f64>()?;
        probe[i] = minus;
        let f_minus: f64 = f(Tensor::from_data(
            TensorData::new(probe.clone(), shape.clone()),
            &device,
        ))
        .try_into_scalar::<f64>()?;
        probe[i] = base[i];

        grad.push(((f_plus - f_minus) / (f64::from(plus) - f64::from(minus))) as f32);
    }
    Ok(Tensor::from_data(TensorData::new(grad, shape), &device))
}

/// Gradient of the scalar function `f` at `x`, computed by burn's reverse-mode autodiff.
///
/// `x` is copied onto the autodiff version of its device and marked as a leaf that requires a
/// gradient; `f` is then traced and differentiated. The gradient comes back without autodiff.
///
/// # Errors
/// [`CoreError::NoGradient`] if the backward pass recorded nothing for `x` (for instance when `f`
/// detaches its input).
pub fn autodiff_gradient<const D: usize, F>(f: F, x: &Tensor<D>) -> Result<Tensor<D>>
where
    F: FnOnce(Tensor<D>) -> Tensor<1>,
{
    let leaf = x.clone().autodiff().detach().require_grad();
    let loss = f(leaf.clone());
    let grads = loss.backward();
    leaf.grad(&grads)
        .map(Tensor::without_autodiff)
        .ok_or(CoreError::NoGradient)
}

/// The largest `|a_i − b_i|` of two lists of values: how the golden tests compare an output
/// with a reference implementation's (PyTorch, `transformers`). Lists of different lengths
/// are infinitely far apart.
pub fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Compares a candidate gradient `a` with a reference `b` under `cfg`'s tolerances.
///
/// # Errors
/// [`CoreError::Shape`] if the shapes differ, [`CoreError::TensorRead`] if either cannot be read.
pub fn compare<const D: usize>(
    a: &Tensor<D>,
    b: &Tensor<D>,
    cfg: &GradCheck,
) -> Result<GradCheckReport> {
    if a.dims() != b.dims() {
        return Err(CoreError::Shape(format!(
            "gradient shapes differ: {:?} vs {:?}",
            a.dims(),
            b.dims()
        )));
    }
    let va = a.try_to_vec_as::<f64>()?;
    let vb = b.try_to_vec_as::<f64>()?;
    let mut report = GradCheckReport {
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        worst_index: None,
        passed: true,
    };
    let mut worst_excess = 0.0;
    for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
        let err = (x - y).abs();
        report.max_abs_error = report.max_abs_error.max(err);
        report.max_rel_error = report.max_rel_error.max(err / y.abs().max(1e-12));
        let excess = err - (cfg.atol + cfg.rtol * y.abs());
        // A NaN excess (a NaN gradient) fails as well.
        if excess > 0.0 || excess.is_nan() {
            report.passed = false;
            if report.worst_index.is_none() || excess > worst_excess || excess.is_nan() {
                worst_excess = excess;
                report.worst_index = Some(i);
            }
        }
    }
    Ok(report)
}

/// Checks the hand-derived gradient `analytic` of `f` at `x` against central finite
/// differences.
///
/// # Errors
/// As [`numerical_gradient`] and [`compare`].
pub fn check_against_finite_differences<const D: usize, F>(
    f: F,
    x: &Tensor<D>,
    analytic: &Tensor<D>,
    cfg: &GradCheck,
) -> Result<GradCheckReport>
where
    F: FnMut(Tensor<D>) -> Tensor<1>,
{
    let numeric = numerical_gradient(f, x, cfg.eps)?;
    compare(analytic, &numeric, cfg)
}

/// Checks the hand-derived gradient `analytic` of `f` at `x` against burn's autodiff.
///
/// # Errors
/// As [`autodiff_gradient`] and [`compare`].
pub fn check_against_autodiff<const D: usize, F>(
    f: F,
    x: &Tensor<D>,
    analytic: &Tensor<D>,
    cfg: &GradCheck,
) -> Result<GradCheckReport>
where
    F: FnOnce(Tensor<D>) -> Tensor<1>,
{
    let reference = autodiff_gradient(f, x)?;
    compare(analytic, &reference, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn finite_differences_of_a_cubic() {
        // f(x) = Σ x³  ⇒  ∂f/∂x = 3x².
        let x = Tensor::<1>::from_floats([-1.5, -0.2, 0.0, 0.7, 2.0], &device());
        let numeric = numerical_gradient(|t| t.powi_scalar(3).sum(), &x, 1e-2).unwrap();
        let exact = x.clone().square() * 3.0;
        // Truncation error h²·f'''/6 = 1e-4 exactly for a cubic.
        assert_close(&numeric, &exact, 1e-3, 2e-4);
    }

    #[test]
    fn autodiff_of_a_cubic() {
        let x = Tensor::<2>::from_floats([[-1.5, 0.5], [0.7, 2.0]], &device());
        let g = autodiff_gradient(|t| t.powi_scalar(3).sum(), &x).unwrap();
        assert_close(&g, &(x.square() * 3.0), 1e-6, 1e-6);
    }

    #[test]
    fn compare_flags_a_wrong_gradient() {
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device());
        let right = x.clone() * 2.0;
        let wrong = x.clone() * 2.5;
        let cfg = GradCheck::default();
        let ok = check_against_finite_differences(|t| t.square().sum(), &x, &right, &cfg).unwrap();
        assert!(ok.passed, "{ok:?}");
        let bad = check_against_autodiff(|t| t.square().sum(), &x, &wrong, &cfg).unwrap();
        assert!(!bad.passed);
        assert_eq!(bad.worst_index, Some(2));
        assert_close_f64(bad.max_abs_error, 1.5, 1e-5);
    }

    #[test]
    fn rejects_bad_step_and_mismatched_shapes() {
        let x = Tensor::<1>::from_floats([1.0], &device());
        assert!(numerical_gradient(|t| t.sum(), &x, 0.0).is_err());
        let y = Tensor::<1>::from_floats([1.0, 2.0], &device());
        assert!(compare(&x, &y, &GradCheck::default()).is_err());
    }
}
