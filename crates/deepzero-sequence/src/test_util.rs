//! Helpers shared by the unit tests: a CPU device, seeded host-side random data, closeness
//! assertions, and a two-way gradient check built on `deepzero_core::gradcheck`.

use burn::prelude::*;
use deepzero_core::gradcheck::{
    GradCheck, check_against_autodiff, check_against_finite_differences,
};
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

fn uniform_vec(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// A `[rows, cols]` tensor of uniform values in `[lo, hi)`.
pub fn uniform2(rng: &mut StdRng, rows: usize, cols: usize, lo: f32, hi: f32) -> Tensor<2> {
    let v = uniform_vec(rng, rows * cols, lo, hi);
    Tensor::from_data(TensorData::new(v, [rows, cols]), &device())
}

/// A rank-3 tensor of uniform values in `[lo, hi)`.
pub fn uniform3(rng: &mut StdRng, shape: [usize; 3], lo: f32, hi: f32) -> Tensor<3> {
    let v = uniform_vec(rng, shape.iter().product(), lo, hi);
    Tensor::from_data(TensorData::new(v, shape), &device())
}

/// Host copy of a float tensor.
pub fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

/// Largest `|a − b|`.
pub fn max_abs_diff<const D: usize>(a: &Tensor<D>, b: &Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    host(a)
        .iter()
        .zip(host(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts `|a − b| <= atol + rtol · |b|` element-wise, naming the worst element on failure.
#[track_caller]
pub fn assert_close<const D: usize>(a: &Tensor<D>, b: &Tensor<D>, rtol: f32, atol: f32) {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let (va, vb) = (host(a), host(b));
    for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
        assert!(
            (x - y).abs() <= atol + rtol * y.abs(),
            "element {i}: {x} vs {y} (rtol {rtol}, atol {atol}); max |a − b| = {}",
            max_abs_diff(a, b)
        );
    }
}

/// Checks a hand-derived gradient of the scalar `f` at `at` against burn's autodiff and against
/// central finite differences (`deepzero_core::gradcheck`, default tolerances).
#[track_caller]
pub fn check_grad<const D: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<1>,
    at: &Tensor<D>,
    analytic: &Tensor<D>,
) {
    let cfg = GradCheck::default();
    let ad = check_against_autodiff(&f, at, analytic, &cfg).unwrap();
    assert!(ad.passed, "autodiff: {ad:?}");
    let fd = check_against_finite_differences(&f, at, analytic, &cfg).unwrap();
    assert!(fd.passed, "finite differences: {fd:?}");
}
