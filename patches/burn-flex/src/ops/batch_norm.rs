//! Batch normalisation with the batch's own statistics, forward and backward, one channel at a
//! time (a deepzero patch; see `patches/burn-flex.diff` in the deepzero repository).
//!
//! burn's default `batch_norm_train` builds the statistics out of tensor operations: a
//! `swap_dims(0, 1)` copy of the input (and another of the centred squares) so that each
//! channel is one row, then means, broadcasts and four element-wise passes; its backward makes
//! two more transposed copies and about ten passes. On ResNet-20 that was a tenth of a training
//! step. Here each channel's values — `N` runs of `S = H·W` contiguous values in NCHW — are read
//! where they lie: two passes forward (mean, then variance and output) and two backward (the
//! two sums, then `∂x`), channels in parallel. Sums are accumulated in f64.
//!
//! With `M = N·S`, `x̂ = (x − μ) / σ`, `σ = √(var + ε)` (biased variance):
//! - forward: `y = γ·x̂ + β`;
//! - backward: `∂β = Σ ∂y`, `∂γ = Σ ∂y·x̂`, `∂x = γ/σ · (∂y − ∂β/M − x̂·∂γ/M)`.

use alloc::vec;
use alloc::vec::Vec;

use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// The element types computed natively (`f16`/`bf16` go through f32).
pub(crate) trait NormScalar:
    burn_backend::Element
    + bytemuck::Pod
    + Send
    + Sync
    + core::ops::Add<Output = Self>
    + core::ops::Mul<Output = Self>
{
    fn to_f64(self) -> f64;
    fn from_f64(value: f64) -> Self;
}

impl NormScalar for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(value: f64) -> Self {
        value as f32
    }
}

impl NormScalar for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(value: f64) -> Self {
        value
    }
}

/// `[N, C, S]` sizes of an input `[N, C, ...]`.
fn sizes(shape: &Shape) -> [usize; 3] {
    assert!(
        shape.num_dims() >= 2,
        "batch_norm: the input needs a channel axis"
    );
    let (batch, channels) = (shape[0], shape[1]);
    let spatial = if batch * channels == 0 {
        0
    } else {
        shape.num_elements() / (batch * channels)
    };
    [batch, channels, spatial]
}

/// Runs `per_channel(c)` for every channel (in parallel when the tensor is large) and collects
/// the results in channel order.
fn map_channels<R: Send>(
    channels: usize,
    elements: usize,
    per_channel: impl Fn(usize) -> R + Send + Sync,
) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if elements >= super::PARALLEL_THRESHOLD && channels > 1 {
        use rayon::prelude::*;
        return (0..channels).into_par_iter().map(per_channel).collect();
    }
    let _ = elements;
    (0..channels).map(per_channel).collect()
}

/// The `N` runs of channel `c`'s values in an `[N, C, S]` buffer.
fn runs<T>(
    values: &[T],
    [batch, channels, spatial]: [usize; 3],
    c: usize,
) -> impl Iterator<Item = &[T]> {
    (0..batch).map(move |n| &values[(n * channels + c) * spatial..][..spatial])
}

/// Writes into disjoint `[S]` runs of one output buffer from several threads.
#[derive(Clone, Copy)]
struct Runs<T>(*mut T);

// SAFETY: each channel's runs are written by the one call that handles that channel.
unsafe impl<T> Send for Runs<T> {}
unsafe impl<T> Sync for Runs<T> {}

impl<T> Runs<T> {
    /// # Safety
    /// The run must lie in the buffer, and no other thread may write channel `c`.
    unsafe fn run<'a>(self, [_, channels, spatial]: [usize; 3], n: usize, c: usize) -> &'a mut [T] {
        unsafe {
            core::slice::from_raw_parts_mut(self.0.add((n * channels + c) * spatial), spatial)
        }
    }
}

fn tensor<T: NormScalar>(values: Vec<T>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        T::dtype(),
    )
}

/// Normalises `x` (`[N, C, ...]`) with its own per-channel mean and biased variance; returns
/// the output and those statistics (`[C]` each).
pub(crate) fn train<T: NormScalar>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.layout().shape().clone();
    let dims = sizes(&shape);
    let [batch, channels, spatial] = dims;
    let count = (batch * spatial) as f64;
    let (x, gamma, beta) = (
        x.to_contiguous(),
        gamma.to_contiguous(),
        beta.to_contiguous(),
    );
    let (xs, gamma, beta) = (x.storage::<T>(), gamma.storage::<T>(), beta.storage::<T>());
    let mut out = vec![T::from_f64(0.0); shape.num_elements()];
    let writer = Runs(out.as_mut_ptr());
    let stats = map_channels(channels, xs.len(), |c| {
        let sum: f64 = runs(xs, dims, c).flatten().map(|&v| v.to_f64()).sum();
        let mean = sum / count;
        let squares: f64 = runs(xs, dims, c)
            .flatten()
            .map(|&v| (v.to_f64() - mean).powi(2))
            .sum();
        let variance = squares / count;
        let scale = gamma[c].to_f64() / (variance + epsilon).sqrt();
        let shift = beta[c].to_f64() - mean * scale;
        let (scale, shift) = (T::from_f64(scale), T::from_f64(shift));
        for (n, run) in runs(xs, dims, c).enumerate() {
            // SAFETY: channel `c`'s runs, written only here.
            let dst = unsafe { writer.run(dims, n, c) };
            for (d, &v) in dst.iter_mut().zip(run) {
                *d = v * scale + shift;
            }
        }
        (mean, variance)
    });
    let (means, variances): (Vec<T>, Vec<T>) = stats
        .into_iter()
        .map(|(m, v)| (T::from_f64(m), T::from_f64(v)))
        .unzip();
    (
        tensor(out, shape),
        tensor(means, Shape::from(vec![channels])),
        tensor(variances, Shape::from(vec![channels])),
    )
}

/// Gradients of [`train`] for the input, `gamma` and `beta` from the output's gradient.
pub(crate) fn train_backward<T: NormScalar>(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.layout().shape().clone();
    let dims = sizes(&shape);
    let [batch, channels, spatial] = dims;
    let count = (batch * spatial) as f64;
    let (x, dy) = (x.to_contiguous(), output_grad.to_contiguous());
    let (gamma, mean, variance) = (
        gamma.to_contiguous(),
        mean.to_contiguous(),
        variance.to_contiguous(),
    );
    let (xs, dys) = (x.storage::<T>(), dy.storage::<T>());
    let (gamma, mean, variance) = (
        gamma.storage::<T>(),
        mean.storage::<T>(),
        variance.storage::<T>(),
    );
    let mut dx = vec![T::from_f64(0.0); shape.num_elements()];
    let writer = Runs(dx.as_mut_ptr());
    let grads = map_channels(channels, xs.len(), |c| {
        let mu = mean[c].to_f64();
        let inv_std = 1.0 / (variance[c].to_f64() + epsilon).sqrt();
        let (mut beta_grad, mut gamma_grad) = (0.0f64, 0.0f64);
        for (x_run, dy_run) in runs(xs, dims, c).zip(runs(dys, dims, c)) {
            for (&x, &dy) in x_run.iter().zip(dy_run) {
                let dy = dy.to_f64();
                beta_grad += dy;
                gamma_grad += dy * (x.to_f64() - mu) * inv_std;
            }
        }
        // ∂x = a·∂y + b·x + d, with x̂ = (x − μ)·inv_std expanded.
        let scale = gamma[c].to_f64() * inv_std;
        let a = scale;
        let b = -scale * gamma_grad / count * inv_std;
        let d = -scale * beta_grad / count + scale * gamma_grad / count * mu * inv_std;
        let (a, b, d) = (T::from_f64(a), T::from_f64(b), T::from_f64(d));
        for (n, (x_run, dy_run)) in runs(xs, dims, c).zip(runs(dys, dims, c)).enumerate() {
            // SAFETY: channel `c`'s runs, written only here.
            let dst = unsafe { writer.run(dims, n, c) };
            for ((d_out, &x), &dy) in dst.iter_mut().zip(x_run).zip(dy_run) {
                *d_out = a * dy + b * x + d;
            }
        }
        (gamma_grad, beta_grad)
    });
    let (gamma_grads, beta_grads): (Vec<T>, Vec<T>) = grads
        .into_iter()
        .map(|(g, b)| (T::from_f64(g), T::from_f64(b)))
        .unzip();
    (
        tensor(dx, shape),
        tensor(gamma_grads, Shape::from(vec![channels])),
        tensor(beta_grads, Shape::from(vec![channels])),
    )
}

#[cfg(test)]
mod tests {
    //! Against the definition in f64: the statistics and output directly, `∂x` through the full
    //! Jacobian `∂y_j/∂x_i = γ/σ · (δ_ij − 1/M − x̂_i·x̂_j/M)` (not the simplified formula above).
    use super::*;
    use crate::Flex;
    use burn_backend::ops::ModuleOps;
    use burn_backend::{DType, TensorData};

    fn values(len: usize, seed: u64, scale: f64, shift: f64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale + shift
            })
            .collect()
    }

    fn flex(values: &[f64], shape: &[usize], dtype: DType) -> FlexTensor {
        let t = FlexTensor::from_data(TensorData::new(values.to_vec(), shape.to_vec()));
        match dtype {
            DType::F64 => t,
            DType::F32 => FlexTensor::from_data(TensorData::new(
                values.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                shape.to_vec(),
            )),
            DType::F16 => FlexTensor::from_data(TensorData::new(
                values
                    .iter()
                    .map(|&v| burn_std::f16::from_f64(v))
                    .collect::<Vec<_>>(),
                shape.to_vec(),
            )),
            _ => unreachable!(),
        }
    }

    fn read(t: FlexTensor) -> Vec<f64> {
        let data = t.into_data();
        data.convert::<f64>().try_to_vec::<f64>().unwrap()
    }

    fn check(shape: &[usize], dtype: DType, tol: f64) {
        let (n, c) = (shape[0], shape[1]);
        let s: usize = shape[2..].iter().product();
        let m = (n * s) as f64;
        let len = n * c * s;
        let eps = 1e-5;
        // A large offset makes a one-pass variance (E[x²] − E[x]²) lose digits; two passes do not.
        let x = values(len, 1, 4.0, 3.0);
        let gamma = values(c, 2, 1.0, 1.0);
        let beta = values(c, 3, 1.0, 0.0);
        let dy = values(len, 4, 2.0, 0.1);
        let at = |ni: usize, ci: usize, si: usize| (ni * c + ci) * s + si;
        let trained = Flex::batch_norm_train(
            flex(&x, shape, dtype),
            flex(&gamma, &[c], dtype),
            flex(&beta, &[c], dtype),
            eps,
        );
        let (out, mean, var) = (
            read(trained.output),
            read(trained.mean),
            read(trained.variance),
        );
        let back = Flex::batch_norm_train_backward(
            flex(&x, shape, dtype),
            flex(&gamma, &[c], dtype),
            flex(&mean, &[c], dtype),
            flex(&var, &[c], dtype),
            eps,
            flex(&dy, shape, dtype),
        );
        let (dx, dgamma, dbeta) = (
            read(back.x_grad),
            read(back.gamma_grad),
            read(back.beta_grad),
        );
        let close = |what: &str, got: f64, want: f64| {
            assert!(
                (got - want).abs() <= tol * (1.0 + want.abs()),
                "{what}: {got} vs {want} ({shape:?}, {dtype:?})"
            );
        };
        for ci in 0..c {
            let members: Vec<usize> = (0..n)
                .flat_map(|ni| (0..s).map(move |si| at(ni, ci, si)))
                .collect();
            let mu = members.iter().map(|&i| x[i]).sum::<f64>() / m;
            let variance = members.iter().map(|&i| (x[i] - mu).powi(2)).sum::<f64>() / m;
            let sigma = (variance + eps).sqrt();
            close("mean", mean[ci], mu);
            close("variance", var[ci], variance);
            let xhat = |i: usize| (x[i] - mu) / sigma;
            close("dbeta", dbeta[ci], members.iter().map(|&i| dy[i]).sum());
            close(
                "dgamma",
                dgamma[ci],
                members.iter().map(|&i| dy[i] * xhat(i)).sum(),
            );
            let mean_dy = dbeta[ci] / m;
            let mean_dy_xhat = dgamma[ci] / m;
            for &i in &members {
                close("y", out[i], gamma[ci] * xhat(i) + beta[ci]);
                let grad: f64 = if members.len() <= 2_000 {
                    members
                        .iter()
                        .map(|&j| {
                            let delta = if i == j { 1.0 } else { 0.0 };
                            dy[j] * gamma[ci] / sigma * (delta - 1.0 / m - xhat(i) * xhat(j) / m)
                        })
                        .sum()
                } else {
                    // The Jacobian summed in closed form (too many pairs to sum here).
                    gamma[ci] / sigma * (dy[i] - mean_dy - xhat(i) * mean_dy_xhat)
                };
                close("dx", dx[i], grad);
            }
        }
    }

    #[test]
    fn f64_equals_the_definition() {
        check(&[3, 4, 2, 3], DType::F64, 1e-10);
        check(&[1, 2, 5], DType::F64, 1e-10);
    }

    #[test]
    fn f32_equals_the_definition() {
        check(&[3, 4, 2, 3], DType::F32, 2e-5);
        // Large enough for the channels to run in parallel.
        check(&[4, 3, 150, 150], DType::F32, 1e-4);
    }

    #[test]
    fn f16_goes_through_f32() {
        check(&[2, 3, 4, 4], DType::F16, 3e-2);
    }
}
