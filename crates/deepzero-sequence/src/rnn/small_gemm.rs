//! A matrix product for the recurrent step: a few rows of state times a weight matrix that is
//! the same at every step.
//!
//! The fused recurrences multiply `[B, H]` by `W_hh [H, G·H]` once per step, with `B` small
//! (the rows one thread owns). A general GEMM packs both operands on every call; for these
//! shapes packing the 1 MB weight matrix took a third of the training step (`lstm-train`,
//! perf). Here the weight matrix is packed once per sequence into column panels of
//! [`PANEL`] that a register tile walks straight through, and each step only multiplies.

/// Columns per panel: two AVX2 registers, or four SSE registers, of `f32`.
pub const PANEL: usize = 16;

/// Rows per register tile: `ROWS × PANEL` accumulators are 12 of the 16 AVX2 registers,
/// enough independent chains to keep both FMA units busy (as gemm's 6×16 kernel); a 4-row
/// and a 1-row tile take what is left of the rows.
const ROWS: usize = 6;

/// A `[k, n]` right-hand side packed into column panels: panel `p` holds columns
/// `p·PANEL..(p+1)·PANEL` as `k` contiguous rows of `PANEL` (the last one zero-padded).
pub struct PackedRhs {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedRhs {
    /// Packs the `[k, n]` matrix whose element `(r, c)` is `w[r · row_stride + c · col_stride]`.
    pub fn pack(w: &[f32], [k, n]: [usize; 2], row_stride: usize, col_stride: usize) -> Self {
        let panels = n.div_ceil(PANEL);
        let mut data = vec![0.0f32; panels * k * PANEL];
        for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
            let cols = PANEL.min(n - p * PANEL);
            for (r, row) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (c, v) in row[..cols].iter_mut().enumerate() {
                    *v = w[r * row_stride + (p * PANEL + c) * col_stride];
                }
            }
        }
        Self { data, k, n }
    }

    /// `out[m, n] += lhs[m, k] · self`, rows of `lhs` `lhs_stride` apart, rows of `out`
    /// `out_stride` apart.
    ///
    /// # Panics
    /// If `lhs` or `out` is too short for `m` rows.
    pub fn multiply_into(
        &self,
        m: usize,
        lhs: &[f32],
        lhs_stride: usize,
        out: &mut [f32],
        out_stride: usize,
    ) {
        let k = self.k;
        if m == 0 || self.n == 0 {
            return;
        }
        assert!(lhs.len() >= (m - 1) * lhs_stride + k, "lhs too short");
        assert!(out.len() >= (m - 1) * out_stride + self.n, "out too short");
        let avx2 = super::kernels::has_avx2();
        for (p, panel) in self.data.chunks_exact(k * PANEL).enumerate() {
            let at = Tile {
                lhs,
                lhs_stride,
                row: 0,
                k,
                panel,
                col: p * PANEL,
                cols: PANEL.min(self.n - p * PANEL),
            };
            let mut row = 0;
            while row < m {
                let tile = Tile { row, ..at };
                let rows = [ROWS, 4, 1]
                    .into_iter()
                    .find(|&r| row + r <= m)
                    .unwrap_or(1);
                match (avx2, rows) {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: the CPU has AVX2 and FMA; the asserts above bound every access.
                    (true, ROWS) => unsafe { tile.add_avx2::<ROWS>(out, out_stride) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    (true, 4) => unsafe { tile.add_avx2::<4>(out, out_stride) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    (true, _) => unsafe { tile.add_avx2::<1>(out, out_stride) },
                    (_, ROWS) => tile.add::<ROWS>(out, out_stride),
                    (_, 4) => tile.add::<4>(out, out_stride),
                    _ => tile.add::<1>(out, out_stride),
                }
                row += rows;
            }
        }
    }
}

/// One register tile: rows `row..row + R` of `lhs` times one panel, added to the columns
/// `col..col + cols` of `out`.
#[derive(Clone, Copy)]
struct Tile<'a> {
    lhs: &'a [f32],
    lhs_stride: usize,
    row: usize,
    k: usize,
    panel: &'a [f32],
    col: usize,
    cols: usize,
}

impl Tile<'_> {
    fn add<const R: usize>(&self, out: &mut [f32], out_stride: usize) {
        let rows: [&[f32]; R] =
            std::array::from_fn(|r| &self.lhs[(self.row + r) * self.lhs_stride..][..self.k]);
        let mut acc = [[0.0f32; PANEL]; R];
        for (kk, w) in self.panel.chunks_exact(PANEL).enumerate() {
            for r in 0..R {
                let a = rows[r][kk];
                for (acc, w) in acc[r].iter_mut().zip(w) {
                    *acc += a * w;
                }
            }
        }
        self.store(&acc, out, out_stride);
    }

    /// [`add`](Self::add) with the accumulators in AVX2 registers (two per row).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA, and `lhs` must hold `k` values from each of the rows.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add_avx2<const R: usize>(&self, out: &mut [f32], out_stride: usize) {
        use std::arch::x86_64::*;
        let rows: [*const f32; R] = std::array::from_fn(|r| {
            self.lhs[(self.row + r) * self.lhs_stride..][..self.k].as_ptr()
        });
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for (kk, w) in self.panel.chunks_exact(PANEL).enumerate() {
            // SAFETY: w holds PANEL = 16 values; kk < k, the length of every row.
            unsafe {
                let (w0, w1) = (
                    _mm256_loadu_ps(w.as_ptr()),
                    _mm256_loadu_ps(w.as_ptr().add(8)),
                );
                for r in 0..R {
                    let a = _mm256_broadcast_ss(&*rows[r].add(kk));
                    acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
                }
            }
        }
        let mut host = [[0.0f32; PANEL]; R];
        for r in 0..R {
            // SAFETY: host[r] holds 16 values.
            unsafe {
                _mm256_storeu_ps(host[r].as_mut_ptr(), acc[r][0]);
                _mm256_storeu_ps(host[r].as_mut_ptr().add(8), acc[r][1]);
            }
        }
        self.store(&host, out, out_stride);
    }

    fn store<const R: usize>(&self, acc: &[[f32; PANEL]; R], out: &mut [f32], out_stride: usize) {
        for (r, acc) in acc.iter().enumerate() {
            let o = &mut out[(self.row + r) * out_stride + self.col..][..self.cols];
            for (o, a) in o.iter_mut().zip(acc) {
                *o += a;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: &[f32], w: &[f32], [m, k, n]: [usize; 3]) -> Vec<f32> {
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|kk| lhs[i * k + kk] * w[kk * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn equals_the_naive_product_for_ragged_sizes_and_transposed_packing() {
        for [m, k, n] in [[1, 1, 1], [5, 7, 33], [4, 16, 16], [9, 3, 20], [13, 32, 48]] {
            let lhs: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 13) as f32 - 6.0) / 8.0)
                .collect();
            let expected = naive(&lhs, &w, [m, k, n]);
            // Rows of `out` wider than n: the product only touches the first n of each.
            let mut out = vec![1.0f32; m * (n + 2)];
            PackedRhs::pack(&w, [k, n], n, 1).multiply_into(m, &lhs, k, &mut out, n + 2);
            for i in 0..m {
                for j in 0..n + 2 {
                    let want = if j < n {
                        1.0 + expected[i * n + j]
                    } else {
                        1.0
                    };
                    assert!(
                        (out[i * (n + 2) + j] - want).abs() < 1e-4,
                        "[{m},{k},{n}] at {i},{j}"
                    );
                }
            }
            // The same matrix stored transposed ([n, k]) and packed through its strides.
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let mut out_t = vec![0.0f32; m * n];
            PackedRhs::pack(&wt, [k, n], 1, k).multiply_into(m, &lhs, k, &mut out_t, n);
            for (a, b) in out_t.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-4);
            }
        }
    }
}
