//! What the fused recurrences ([`super::fused_lstm`], [`super::fused_gru`]) share: branch-free
//! gate non-linearities, the split of a batch across threads, and a general matrix product.

/// Whether the CPU has AVX2 and FMA, for which the kernels' loops are compiled a second time.
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How many sequences each thread takes. The sequences of a batch are independent, so each
/// thread runs the whole recurrence for its share with single-threaded products: a threaded
/// product per step spent more time handing work to the other core than it saved.
pub fn rows_per_part(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().clamp(1, batch.max(1)))
}

/// `dst [m×n] = (accumulate ? dst : 0) + lhs [m×k] · rhs [k×n]`, each operand given by its
/// pointer, row stride and column stride (in elements); threaded when large.
///
/// # Safety
/// The pointers must address the whole of each matrix for the given sizes and strides.
pub unsafe fn matmul(
    [m, n, k]: [usize; 3],
    dst: (*mut f32, usize, usize),
    accumulate: bool,
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
) {
    // Small products lose more to thread hand-off than they gain (as burn-flex decides).
    let parallelism = if m * n * k >= 1 << 16 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller's contract; gemm reads `dst` only when `accumulate`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.2 as isize,
            dst.1 as isize,
            accumulate,
            lhs.0,
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0,
            rhs.2 as isize,
            rhs.1 as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `eˣ` within a few ulp for `x` in `[−87, 88]` (clamped outside), Cephes' `expf`:
/// `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`, a polynomial for `eʳ`, and `2ⁿ` written into the
/// exponent bits. No branches and no library call, so that loops calling it vectorise
/// (`f32::exp` is a scalar libm call, and the gates' exponentials dominated the step).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // ln 2 in two parts, so that r = x − n ln 2 keeps its low bits.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    let two_n = f32::from_bits(((t.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    e_r * two_n
}

/// `σ(x) = 1 / (1 + e⁻ˣ)`, on [`exp`].
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = 1 − 2 / (1 + e²ˣ)`, on [`exp`].
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_free_exponential_sigmoid_and_tanh_are_accurate() {
        let (mut exp_rel, mut sig_abs, mut tanh_abs) = ((0.0f32, 0.0f32), 0.0f32, 0.0f32);
        for k in -86_900..=87_900 {
            let x = k as f32 * 1e-3;
            let rel = (exp(x) as f64 / (x as f64).exp() - 1.0).abs() as f32;
            if rel > exp_rel.0 {
                exp_rel = (rel, x);
            }
            sig_abs = sig_abs.max((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs());
            tanh_abs = tanh_abs.max((tanh(x) - x.tanh()).abs());
        }
        assert!(exp_rel.0 < 5e-7, "exp: relative error {exp_rel:?}");
        assert!(sig_abs < 2e-7, "sigmoid: absolute error {sig_abs}");
        assert!(tanh_abs < 3e-7, "tanh: absolute error {tanh_abs}");
        // Saturation instead of overflow or NaN far outside the range.
        assert!((0.0..1e-37).contains(&sigmoid(-1e4)));
        assert_eq!(sigmoid(1e4), 1.0);
        assert_eq!((tanh(-1e4), tanh(1e4)), (-1.0, 1.0));
    }

    #[test]
    fn a_batch_is_split_evenly_and_never_into_empty_parts() {
        let threads = rayon::current_num_threads();
        for batch in 1..40 {
            let rows = rows_per_part(batch);
            assert!(rows >= 1 && batch.div_ceil(rows) <= threads.max(1));
        }
    }
}
