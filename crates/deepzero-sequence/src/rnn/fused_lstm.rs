//! The LSTM recurrence as one fused operation with a hand-written backward-through-time.
//!
//! [`unroll`](super::unroll) builds the recurrence from burn tensor operations: per step a matrix
//! product, four gate slices, eight element-wise operations and a stack, each a node of the
//! autodiff graph with its own allocation. On the CPU that bookkeeping costs more than the
//! arithmetic (the `lstm-train` bench ran at 0.14× PyTorch). Here the whole recurrence of one
//! layer and direction is one operation:
//!
//! - the input projection `x W_ih + (b_ih + b_hh)` for all steps is one matrix product over
//!   the `B·T` rows, outside the operation (burn's autodiff differentiates it);
//! - the operation runs the steps with one GEMM `h W_hh` per step and one loop over the gates,
//!   saving the gate activations;
//! - its backward (the equations of [`super::lstm`]'s module doc, run from the last step to the
//!   first) needs one GEMM per step for `∂L/∂h`, and one GEMM over all steps at the end for
//!   `∂L/∂W_hh = Σ_t h_{t−1}ᵀ ∂L/∂z_t`.
//!
//! It is a burn backend extension ([`LstmRecurrenceBackend`]) implemented for the Flex CPU
//! backend and for autodiff on Flex; every other backend (wgpu, CUDA, ndarray) keeps the unrolled
//! tensor program ([`is_fused`] says which path a device takes). The tests check the fused path
//! against [`unroll`](super::unroll), burn-nn's LSTM and finite differences.
//!
//! Padding: a `keep` mask `[B, T]` (1 = real step, 0 = padding) makes a padded step carry the
//! state through unchanged, as [`unroll`](super::unroll) does, so the final state of a
//! right-padded sequence is the state after its last real token in either direction.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;

use super::fused::{self, BackwardPart, Dims, ForwardPart, FusedKernel, Slices, fused_backend};
use super::{LstmCell, LstmState};

/// The fused LSTM recurrence, one layer and one direction.
#[backend_extension(Flex, Autodiff)]
pub trait LstmRecurrenceBackend: Backend {
    /// Runs the recurrence over all steps.
    ///
    /// # Shapes
    /// - projected: `[B, T, 4H]`, the gate pre-activations from the input, `x W_ih + b_ih + b_hh`
    /// - weight_hh: `[H, 4H]`; h0, c0: `[B, H]`; keep: `[B, T]` (1.0 = real step, 0.0 = pad)
    /// - output: `[B, T, 2H]`, the state `(h_t, c_t)` after each step `t` (a padded step
    ///   repeats the state before it)
    fn lstm_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self>;
}

fused_backend!(LstmRecurrenceBackend::lstm_recurrence for Lstm, (projected, weight_hh, h0, c0, keep));

/// Whether an LSTM on `device` with values of type `dtype` runs the fused recurrence (Flex, with
/// or without autodiff, in `f32`); elsewhere it is unrolled step by step.
pub fn is_fused(device: &Device, dtype: DType) -> bool {
    dtype == DType::F32
        && matches!(
            device.clone().without_autodiff().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// Runs `cell` over `x` through the fused recurrence; the same result as
/// [`unroll`](super::unroll) (callers check [`is_fused`] first).
///
/// # Shapes
/// - x: `[B, T, d_input]` with `T > 0`, state: `[B, H]` each, padding: `[B, T]` (`true` = pad)
/// - output: `([B, T, H]` hidden states, zero at padded steps; the final state)
pub(crate) fn run_fused(
    cell: &LstmCell,
    x: Tensor<3>,
    state: Option<LstmState>,
    padding: Option<Tensor<2, Bool>>,
    reverse: bool,
) -> (Tensor<3>, LstmState) {
    let [batch, steps, d_input] = x.dims();
    let hidden = cell.d_hidden;
    let device = x.device();
    // Both biases enter every step the same way, so they are added once, as one vector (an
    // element-wise pass over [B, T, 4H] and its backward fewer); the steps are folded into
    // the rows so that the projection and its weight gradient are one plain product each.
    let bias = match (&cell.bias_ih, &cell.bias_hh) {
        (Some(b_ih), Some(b_hh)) => Some(b_ih.val() + b_hh.val()),
        (b_ih, b_hh) => b_ih.as_ref().or(b_hh.as_ref()).map(|b| b.val()),
    };
    let projected = super::affine(
        x.reshape([batch * steps, d_input]),
        cell.weight_ih.val(),
        bias,
    )
    .reshape([batch, steps, 4 * hidden]);
    let state = state.unwrap_or_else(|| {
        let zeros = Tensor::zeros([batch, hidden], &device);
        LstmState {
            hidden: zeros.clone(),
            cell: zeros,
        }
    });
    let keep = fused::keep_mask(padding.as_ref(), [batch, steps], &device);
    let states = Tensor::<3>::from_dispatch(<Dispatch as LstmRecurrenceBackend>::lstm_recurrence(
        projected.into_dispatch(),
        cell.weight_hh.val().into_dispatch(),
        state.hidden.into_dispatch(),
        state.cell.into_dispatch(),
        keep.into_dispatch(),
        reverse,
    ));
    let (outputs, last) = fused::outputs_and_final_state(states, hidden, padding, reverse);
    let final_state = LstmState {
        hidden: last.clone().narrow(1, 0, hidden),
        cell: last.narrow(1, hidden, hidden),
    };
    (outputs, final_state)
}

/// The LSTM's kernels in the shared glue of [`fused`]: inputs `[projected, weight_hh, h0, c0,
/// keep]`, states `(h_t, c_t)`, the gate activations `(i, f, g, o)` kept for the backward.
#[derive(Debug, Default)]
struct Lstm;

impl FusedKernel for Lstm {
    const NAME: &'static str = "LSTM";
    const GATES: usize = 4;
    const STATE: usize = 2;

    fn input_widths(d: Dims) -> [usize; 5] {
        let (t, h) = (d.steps, d.hidden);
        [t * 4 * h, 0, h, h, t]
    }

    #[inline(always)]
    fn forward_part(part: ForwardPart<'_>) {
        kernel::forward(part)
    }

    /// `∂L/∂z` (the gradient of `projected`), `h_{t−1}` of every step, `∂L/∂h0`, `∂L/∂c0`.
    fn part_widths(d: Dims) -> [usize; 4] {
        let (t, h) = (d.steps, d.hidden);
        [t * 4 * h, t * h, h, h]
    }

    #[inline(always)]
    fn backward_part(part: BackwardPart<'_>) {
        kernel::backward(part)
    }

    fn input_grads(_: Slices<'_>, d: Dims, parts: [Vec<f32>; 4]) -> [Vec<f32>; 4] {
        let [d_projected, h_before, d_h0, d_c0] = parts;
        let d_weight_hh = fused::weight_hh_grad::<Self>(&h_before, &d_projected, d);
        [d_projected, d_weight_hh, d_h0, d_c0]
    }
}

/// The recurrence and its backward for a share of the batch, on host slices.
mod kernel {
    use crate::rnn::fused::{BackwardPart, ForwardPart};
    use crate::rnn::kernels::{sigmoid, tanh};

    /// One step of one sequence: gates from `z = [z_i, z_f, z_g, z_o]`, then the state
    /// `(h, c)` in place (left as it is for a padded step).
    #[inline(always)]
    fn forward_row(z: &[f32], gates: &mut [f32], h: &mut [f32], c: &mut [f32], keep: bool) {
        let n = h.len();
        let (zi, zf, zg, zo) = (&z[..n], &z[n..2 * n], &z[2 * n..3 * n], &z[3 * n..4 * n]);
        let (gi, rest) = gates.split_at_mut(n);
        let (gf, rest) = rest.split_at_mut(n);
        let (gg, go) = rest.split_at_mut(n);
        let (go, c) = (&mut go[..n], &mut c[..n]);
        for j in 0..n {
            gi[j] = sigmoid(zi[j]);
            gf[j] = sigmoid(zf[j]);
            gg[j] = tanh(zg[j]);
            go[j] = sigmoid(zo[j]);
        }
        if keep {
            for j in 0..n {
                let cell = gf[j] * c[j] + gi[j] * gg[j];
                c[j] = cell;
                h[j] = go[j] * tanh(cell);
            }
        }
    }

    /// The recurrence, saving states and gate activations.
    #[inline(always)]
    pub fn forward(part: ForwardPart<'_>) {
        // A share of `n` sequences (the packed weight comes apart).
        let [projected, _, h0, c0, keep] = part.x;
        let (d, w, states, gates) = (part.d, part.w, part.states, part.gates);
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let g4 = 4 * h;
        let (mut h_prev, mut c_prev) = (h0.to_vec(), c0.to_vec());
        let mut z = vec![0.0f32; b_n * g4];
        for s in 0..t_n {
            let t = d.step(s);
            for b in 0..b_n {
                let row = (b * t_n + t) * g4;
                z[b * g4..(b + 1) * g4].copy_from_slice(&projected[row..row + g4]);
            }
            // z += h_{t−1} W_hh
            w.multiply_into(b_n, &h_prev, h, &mut z, g4);
            for b in 0..b_n {
                let bt = b * t_n + t;
                let (hb, cb) = (
                    &mut h_prev[b * h..(b + 1) * h],
                    &mut c_prev[b * h..(b + 1) * h],
                );
                forward_row(
                    &z[b * g4..(b + 1) * g4],
                    &mut gates[bt * g4..(bt + 1) * g4],
                    hb,
                    cb,
                    keep[bt] > 0.5,
                );
                let sb = &mut states[bt * 2 * h..(bt + 1) * 2 * h];
                sb[..h].copy_from_slice(hb);
                sb[h..].copy_from_slice(cb);
            }
        }
    }

    /// The backward of one step of one sequence (a step that was not padding): from the
    /// gradients `d_h, d_c` reaching its output state, writes `∂L/∂z` and the part of `∂L/∂c`
    /// that reaches the state before it (in `d_c`).
    #[inline(always)]
    fn backward_row(
        gates: &[f32],
        c_in: &[f32],
        c_out: &[f32],
        d_h: &[f32],
        d_c: &mut [f32],
        dz: &mut [f32],
    ) {
        let n = d_c.len();
        let (i, f, g, o) = (
            &gates[..n],
            &gates[n..2 * n],
            &gates[2 * n..3 * n],
            &gates[3 * n..4 * n],
        );
        let (c_in, c_out, d_h) = (&c_in[..n], &c_out[..n], &d_h[..n]);
        let (dz_i, rest) = dz.split_at_mut(n);
        let (dz_f, rest) = rest.split_at_mut(n);
        let (dz_g, dz_o) = rest.split_at_mut(n);
        let dz_o = &mut dz_o[..n];
        for j in 0..n {
            let tanh_c = tanh(c_out[j]);
            let d_o = d_h[j] * tanh_c;
            let d_cell = d_c[j] + d_h[j] * o[j] * (1.0 - tanh_c * tanh_c);
            dz_i[j] = d_cell * g[j] * i[j] * (1.0 - i[j]);
            dz_f[j] = d_cell * c_in[j] * f[j] * (1.0 - f[j]);
            dz_g[j] = d_cell * i[j] * (1.0 - g[j] * g[j]);
            dz_o[j] = d_o * o[j] * (1.0 - o[j]);
            d_c[j] = d_cell * f[j];
        }
    }

    /// Backward through time for the upstream gradient of the states.
    #[inline(always)]
    pub fn backward(part: BackwardPart<'_>) {
        // A share of `n` sequences (the packed weight comes apart).
        let [_, _, h0, c0, keep] = part.x;
        let (d, w_t, trace) = (part.d, part.w_t, part.trace);
        let (states, gates, d_states) = (trace.states, trace.gates, trace.d_states);
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let g4 = 4 * h;
        let [d_projected, h_before, d_h0, d_c0] = part.out;
        // ∂L/∂h and ∂L/∂c of the state after the step being processed, from the later steps;
        // d_h_prev collects ∂L/∂h of the state before it.
        let (mut d_h, mut d_c) = (vec![0.0f32; b_n * h], vec![0.0f32; b_n * h]);
        let mut d_h_prev = vec![0.0f32; b_n * h];
        for s in (0..t_n).rev() {
            let t = d.step(s);
            let before = (s > 0).then(|| d.step(s - 1));
            for b in 0..b_n {
                let bt = b * t_n + t;
                let (h_in, c_in) = match before {
                    Some(tp) => {
                        let row = (b * t_n + tp) * 2 * h;
                        (&states[row..row + h], &states[row + h..row + 2 * h])
                    }
                    None => (&h0[b * h..(b + 1) * h], &c0[b * h..(b + 1) * h]),
                };
                h_before[bt * h..(bt + 1) * h].copy_from_slice(h_in);
                let (d_hb, d_cb) = (&mut d_h[b * h..(b + 1) * h], &mut d_c[b * h..(b + 1) * h]);
                // The gradient reaching this step's output state: from later steps and from
                // this step's own output.
                let ds = &d_states[bt * 2 * h..(bt + 1) * 2 * h];
                for j in 0..h {
                    d_hb[j] += ds[j];
                    d_cb[j] += ds[h + j];
                }
                let d_h_before = &mut d_h_prev[b * h..(b + 1) * h];
                if keep[bt] > 0.5 {
                    backward_row(
                        &gates[bt * g4..(bt + 1) * g4],
                        c_in,
                        &states[bt * 2 * h + h..(bt + 1) * 2 * h],
                        d_hb,
                        d_cb,
                        &mut d_projected[bt * g4..(bt + 1) * g4],
                    );
                    d_h_before.fill(0.0);
                } else {
                    // A padded step passed the state through: so does its gradient (∂L/∂z
                    // stays zero).
                    d_h_before.copy_from_slice(d_hb);
                }
            }
            // ∂L/∂h_{t−1} += ∂L/∂z_t W_hhᵀ (rows of ∂L/∂z_t are T·4H apart in d_projected).
            w_t.multiply_into(b_n, &d_projected[t * g4..], t_n * g4, &mut d_h_prev, h);
            std::mem::swap(&mut d_h, &mut d_h_prev);
        }
        d_h0.copy_from_slice(&d_h);
        d_c0.copy_from_slice(&d_c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    // The checks against the unrolled cell and finite differences are in `super::fused`.

    #[test]
    fn flex_takes_the_fused_path_in_f32_only() {
        assert!(is_fused(&device(), DType::F32));
        assert!(is_fused(&device().autodiff(), DType::F32));
        assert!(!is_fused(&device(), DType::F64));
    }
}
