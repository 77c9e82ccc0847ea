//! Helpers shared by the unit tests: a CPU device, seeded host-side random data, a closeness
//! assertion that prints the worst element, and the two-way gradient check.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::gradcheck::{GradCheck, check_against_autodiff, check_against_finite_differences};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The CPU device every test runs on (Flex, burn's pure-Rust backend).
pub fn device() -> Device {
    Device::flex()
}

/// A seeded RNG, so every test sees the same data on every run.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A `[rows, cols]` tensor of uniform values in `[lo, hi)`.
pub fn uniform2(rng: &mut StdRng, rows: usize, cols: usize, lo: f32, hi: f32) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(lo..hi)).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), &device())
}

/// A `[n]` tensor of uniform values in `[lo, hi)`.
pub fn uniform1(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Tensor<1> {
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
    Tensor::from_data(TensorData::new(v, [n]), &device())
}

/// `n` class labels below `classes`.
pub fn labels(rng: &mut StdRng, n: usize, classes: usize) -> Tensor<1, Int> {
    let v: Vec<i32> = (0..n)
        .map(|_| rng.random_range(0..classes as i32))
        .collect();
    Tensor::from_data(TensorData::new(v, [n]), &device())
}

/// Host copy of a float tensor.
pub fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

/// Asserts `|a - b| <= atol + rtol * |b|` element-wise, naming the worst element on failure.
#[track_caller]
pub fn assert_close<const D: usize>(a: &Tensor<D>, b: &Tensor<D>, rtol: f32, atol: f32) {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let (va, vb) = (host(a), host(b));
    for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
        assert!(
            (x - y).abs() <= atol + rtol * y.abs(),
            "element {i}: {x} vs {y} (rtol {rtol}, atol {atol})\n  a = {va:?}\n  b = {vb:?}"
        );
    }
}

/// Asserts two scalars are close.
#[track_caller]
pub fn assert_close_f64(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
}

/// Checks a hand-derived gradient `analytic` of the scalar `f` at `at` against burn's autodiff
/// and, with `finite_differences`, against central finite differences (default tolerances).
#[track_caller]
pub fn check_grad_with<const D: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<1>,
    at: &Tensor<D>,
    analytic: &Tensor<D>,
    finite_differences: bool,
) {
    let cfg = GradCheck::default();
    let ad = check_against_autodiff(&f, at, analytic, &cfg).unwrap();
    assert!(ad.passed, "autodiff: {ad:?}");
    if finite_differences {
        let fd = check_against_finite_differences(&f, at, analytic, &cfg).unwrap();
        assert!(fd.passed, "finite differences: {fd:?}");
    }
}

/// [`check_grad_with`] against both references.
#[track_caller]
pub fn check_grad<const D: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<1>,
    at: &Tensor<D>,
    analytic: &Tensor<D>,
) {
    check_grad_with(f, at, analytic, true);
}
