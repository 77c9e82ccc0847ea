//! The GRU recurrence (reset after, PyTorch's) as one fused operation with a hand-written
//! backward through time: the GRU counterpart of [`super::fused_lstm`], which explains the
//! design (a burn backend extension on Flex, the input projection outside, one packed product
//! per step, the batch split across threads).
//!
//! Per step, with `a = x W_ih + b_ih` (computed outside for all steps) and
//! `b = h W_hh + b_hh`, blocks `(r, z, n)`:
//!
//! ```text
//! r = σ(a_r + b_r)    z = σ(a_z + b_z)    n = tanh(a_n + r ⊙ b_n)    h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! and backward, for `ḡ = ∂L/∂h'` (the equations of [`super::gru`]'s module doc):
//!
//! ```text
//! δ_n = ḡ (1 − z)(1 − n²)    δ_z = ḡ (h − n) z(1 − z)    δ_r = δ_n ⊙ b_n ⊙ r(1 − r)
//! ∂L/∂a = [δ_r, δ_z, δ_n]    ∂L/∂b = [δ_r, δ_z, δ_n ⊙ r]
//! ∂L/∂h = ḡ ⊙ z + ∂L/∂b W_hhᵀ    ∂L/∂W_hh = Σ_t h_{t−1}ᵀ ∂L/∂b_t    ∂L/∂b_hh = Σ_t ∂L/∂b_t
//! ```
//!
//! The paper's reset-before variant (`GruCellConfig::reset_after = false`) needs a second
//! product per step after the reset gate and stays unrolled.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::prelude::*;

use super::GruCell;
use super::fused::{self, BackwardPart, Dims, ForwardPart, FusedKernel, Slices, fused_backend};

/// The fused GRU recurrence (reset after), one layer and one direction.
#[backend_extension(Flex, Autodiff)]
pub trait GruRecurrenceBackend: Backend {
    /// Runs the recurrence over all steps.
    ///
    /// # Shapes
    /// - projected: `[B, T, 3H]`, the input side `x W_ih + b_ih`
    /// - weight_hh: `[H, 3H]`; bias_hh: `[3H]`; h0: `[B, H]`; keep: `[B, T]` (1.0 = real
    ///   step, 0.0 = pad)
    /// - output: `[B, T, H]`, the state after each step `t` (a padded step repeats the state
    ///   before it)
    fn gru_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        bias_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self>;
}

fused_backend!(GruRecurrenceBackend::gru_recurrence for Gru, (projected, weight_hh, bias_hh, h0, keep));

/// Runs `cell` (reset after) over `x` through the fused recurrence; the same result as
/// [`unroll`](super::unroll) (callers check [`super::fused_lstm::is_fused`] and
/// `reset_after` first).
///
/// # Shapes
/// - x: `[B, T, d_input]` with `T > 0`, state: `[B, H]`, padding: `[B, T]` (`true` = pad)
/// - output: `([B, T, H]` hidden states, zero at padded steps; the final state `[B, H]`)
pub(crate) fn run_fused(
    cell: &GruCell,
    x: Tensor<3>,
    state: Option<Tensor<2>>,
    padding: Option<Tensor<2, Bool>>,
    reverse: bool,
) -> (Tensor<3>, Tensor<2>) {
    debug_assert!(cell.reset_after, "the fused GRU is the reset-after GRU");
    let [batch, steps, _] = x.dims();
    let hidden = cell.d_hidden;
    let device = x.device();
    let projected = cell.project(x);
    let bias_hh = match &cell.bias_hh {
        Some(b) => b.val(),
        None => Tensor::zeros([3 * hidden], &device),
    };
    let h0 = state.unwrap_or_else(|| Tensor::zeros([batch, hidden], &device));
    let keep = fused::keep_mask(padding.as_ref(), [batch, steps], &device);
    let states = Tensor::<3>::from_dispatch(<Dispatch as GruRecurrenceBackend>::gru_recurrence(
        projected.into_dispatch(),
        cell.weight_hh.val().into_dispatch(),
        bias_hh.into_dispatch(),
        h0.into_dispatch(),
        keep.into_dispatch(),
        reverse,
    ));
    fused::outputs_and_final_state(states, hidden, padding, reverse)
}

/// The GRU's kernels in the shared glue of [`fused`]: inputs `[projected, weight_hh, bias_hh,
/// h0, keep]`, states `h_t`, `(r, z, n, b_n)` kept for the backward.
#[derive(Debug, Default)]
struct Gru;

impl FusedKernel for Gru {
    const NAME: &'static str = "GRU";
    const GATES: usize = 3;
    const STATE: usize = 1;

    fn input_widths(d: Dims) -> [usize; 5] {
        let (t, h) = (d.steps, d.hidden);
        [t * 3 * h, 0, 0, h, t]
    }

    #[inline(always)]
    fn forward_part(part: ForwardPart<'_>) {
        kernel::forward(part)
    }

    /// `∂L/∂a` (the gradient of `projected`), `∂L/∂b` of every step (the recurrent side),
    /// `h_{t−1}` of every step, `∂L/∂h0`.
    fn part_widths(d: Dims) -> [usize; 4] {
        let (t, h) = (d.steps, d.hidden);
        [t * 3 * h, t * 3 * h, t * h, h]
    }

    #[inline(always)]
    fn backward_part(part: BackwardPart<'_>) {
        kernel::backward(part)
    }

    fn input_grads(_: Slices<'_>, d: Dims, parts: [Vec<f32>; 4]) -> [Vec<f32>; 4] {
        let [d_projected, d_recurrent, h_before, d_h0] = parts;
        let d_weight_hh = fused::weight_hh_grad::<Self>(&h_before, &d_recurrent, d);
        // ∂L/∂b_hh = Σ_{b,t} ∂L/∂b_t.
        let g3 = 3 * d.hidden;
        let mut d_bias_hh = vec![0.0f32; g3];
        for row in d_recurrent.chunks_exact(g3) {
            for (acc, v) in d_bias_hh.iter_mut().zip(row) {
                *acc += v;
            }
        }
        [d_projected, d_weight_hh, d_bias_hh, d_h0]
    }
}

/// The recurrence and its backward for a share of the batch, on host slices.
mod kernel {
    use crate::rnn::fused::{BackwardPart, ForwardPart};
    use crate::rnn::kernels::{sigmoid, tanh};

    /// One step of one sequence: gates from the input side `a` and the recurrent side `b`,
    /// then the state `h` in place (left as it is for a padded step).
    #[inline(always)]
    fn forward_row(a: &[f32], b: &[f32], gates: &mut [f32], h: &mut [f32], keep: bool) {
        let n = h.len();
        let (a_r, a_z, a_n) = (&a[..n], &a[n..2 * n], &a[2 * n..3 * n]);
        let (b_r, b_z, b_n) = (&b[..n], &b[n..2 * n], &b[2 * n..3 * n]);
        let (g_r, rest) = gates.split_at_mut(n);
        let (g_z, rest) = rest.split_at_mut(n);
        let (g_n, g_bn) = rest.split_at_mut(n);
        let g_bn = &mut g_bn[..n];
        for j in 0..n {
            let r = sigmoid(a_r[j] + b_r[j]);
            g_r[j] = r;
            g_z[j] = sigmoid(a_z[j] + b_z[j]);
            g_n[j] = tanh(a_n[j] + r * b_n[j]);
            g_bn[j] = b_n[j];
        }
        if keep {
            for j in 0..n {
                h[j] = (1.0 - g_z[j]) * g_n[j] + g_z[j] * h[j];
            }
        }
    }

    /// The recurrence, saving states and gates `(r, z, n, b_n)`.
    #[inline(always)]
    pub fn forward(part: ForwardPart<'_>) {
        // A share of `n` sequences (the packed weight comes apart).
        let [projected, _, bias_hh, h0, keep] = part.x;
        let (d, w, states, gates) = (part.d, part.w, part.states, part.gates);
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let (g3, g4) = (3 * h, 4 * h);
        let mut h_prev = h0.to_vec();
        let mut b = vec![0.0f32; b_n * g3];
        for s in 0..t_n {
            let t = d.step(s);
            // b = h_{t−1} W_hh + b_hh
            for row in b.chunks_exact_mut(g3) {
                row.copy_from_slice(bias_hh);
            }
            w.multiply_into(b_n, &h_prev, h, &mut b, g3);
            for bi in 0..b_n {
                let bt = bi * t_n + t;
                let hb = &mut h_prev[bi * h..(bi + 1) * h];
                forward_row(
                    &projected[bt * g3..(bt + 1) * g3],
                    &b[bi * g3..(bi + 1) * g3],
                    &mut gates[bt * g4..(bt + 1) * g4],
                    hb,
                    keep[bt] > 0.5,
                );
                states[bt * h..(bt + 1) * h].copy_from_slice(hb);
            }
        }
    }

    /// The backward of one step of one sequence (a step that was not padding): from the
    /// gradient `d_h` reaching its output, writes `∂L/∂a`, `∂L/∂b` and the direct part
    /// `ḡ ⊙ z` of the gradient of the state before it.
    #[inline(always)]
    fn backward_row(
        gates: &[f32],
        h_in: &[f32],
        d_h: &[f32],
        d_a: &mut [f32],
        d_b: &mut [f32],
        d_h_before: &mut [f32],
    ) {
        let n = d_h.len();
        let (r, z, cand, b_n) = (
            &gates[..n],
            &gates[n..2 * n],
            &gates[2 * n..3 * n],
            &gates[3 * n..4 * n],
        );
        let (h_in, d_h_before) = (&h_in[..n], &mut d_h_before[..n]);
        let (da_r, rest) = d_a.split_at_mut(n);
        let (da_z, da_n) = rest.split_at_mut(n);
        let da_n = &mut da_n[..n];
        let (db_r, rest) = d_b.split_at_mut(n);
        let (db_z, db_n) = rest.split_at_mut(n);
        let db_n = &mut db_n[..n];
        for j in 0..n {
            let g = d_h[j];
            let delta_n = g * (1.0 - z[j]) * (1.0 - cand[j] * cand[j]);
            let delta_z = g * (h_in[j] - cand[j]) * z[j] * (1.0 - z[j]);
            let delta_r = delta_n * b_n[j] * r[j] * (1.0 - r[j]);
            (da_r[j], da_z[j], da_n[j]) = (delta_r, delta_z, delta_n);
            (db_r[j], db_z[j], db_n[j]) = (delta_r, delta_z, delta_n * r[j]);
            d_h_before[j] = g * z[j];
        }
    }

    /// Backward through time for the upstream gradient of the states.
    #[inline(always)]
    pub fn backward(part: BackwardPart<'_>) {
        // A share of `n` sequences (the packed weight comes apart).
        let [_, _, _, h0, keep] = part.x;
        let (d, w_t, trace) = (part.d, part.w_t, part.trace);
        let (states, gates, d_states) = (trace.states, trace.gates, trace.d_states);
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let (g3, g4) = (3 * h, 4 * h);
        let [d_projected, d_recurrent, h_before, d_h0] = part.out;
        // ∂L/∂h of the state after the step being processed (from the later steps), and
        // of the state before it.
        let mut d_h = vec![0.0f32; b_n * h];
        let mut d_h_prev = vec![0.0f32; b_n * h];
        for s in (0..t_n).rev() {
            let t = d.step(s);
            let before = (s > 0).then(|| d.step(s - 1));
            for b in 0..b_n {
                let bt = b * t_n + t;
                let h_in = match before {
                    Some(tp) => &states[(b * t_n + tp) * h..(b * t_n + tp + 1) * h],
                    None => &h0[b * h..(b + 1) * h],
                };
                h_before[bt * h..(bt + 1) * h].copy_from_slice(h_in);
                let d_hb = &mut d_h[b * h..(b + 1) * h];
                for (acc, v) in d_hb.iter_mut().zip(&d_states[bt * h..(bt + 1) * h]) {
                    *acc += v;
                }
                let d_h_before = &mut d_h_prev[b * h..(b + 1) * h];
                if keep[bt] > 0.5 {
                    backward_row(
                        &gates[bt * g4..(bt + 1) * g4],
                        h_in,
                        d_hb,
                        &mut d_projected[bt * g3..(bt + 1) * g3],
                        &mut d_recurrent[bt * g3..(bt + 1) * g3],
                        d_h_before,
                    );
                } else {
                    // A padded step passed the state through: so does its gradient.
                    d_h_before.copy_from_slice(d_hb);
                }
            }
            // ∂L/∂h_{t−1} += ∂L/∂b_t W_hhᵀ (rows of ∂L/∂b_t are T·3H apart).
            w_t.multiply_into(b_n, &d_recurrent[t * g3..], t_n * g3, &mut d_h_prev, h);
            std::mem::swap(&mut d_h, &mut d_h_prev);
        }
        d_h0.copy_from_slice(&d_h);
    }
}
