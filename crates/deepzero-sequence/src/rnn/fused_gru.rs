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

use std::fmt;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;

use super::GruCell;

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
    let keep = match &padding {
        Some(pad) => pad.clone().bool_not().float(),
        None => Tensor::ones([batch, steps], &device),
    };
    let states = Tensor::<3>::from_dispatch(<Dispatch as GruRecurrenceBackend>::gru_recurrence(
        projected.into_dispatch(),
        cell.weight_hh.val().into_dispatch(),
        bias_hh.into_dispatch(),
        h0.into_dispatch(),
        keep.into_dispatch(),
        reverse,
    ));
    let last = if reverse { 0 } else { steps - 1 };
    let final_state = states.clone().narrow(1, last, 1).squeeze_dim::<2>(1);
    let outputs = match padding {
        Some(pad) => states.mask_fill(
            pad.unsqueeze_dim::<3>(2).expand([batch, steps, hidden]),
            0.0,
        ),
        None => states,
    };
    (outputs, final_state)
}

impl GruRecurrenceBackend for Flex {
    fn gru_recurrence(
        projected: FlexTensor,
        weight_hh: FlexTensor,
        bias_hh: FlexTensor,
        h0: FlexTensor,
        keep: FlexTensor,
        reverse: bool,
    ) -> FlexTensor {
        let inputs = Inputs::new(&projected, &weight_hh, &bias_hh, &h0, &keep, reverse);
        let d = inputs.dims;
        let forward = kernel::forward(&inputs.slices(), d);
        to_flex(forward.states, [d.batch, d.steps, d.hidden])
    }
}

impl<C: CheckpointStrategy> GruRecurrenceBackend for Autodiff<Flex, C> {
    fn gru_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        bias_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self> {
        let nodes = [
            projected.node(),
            weight_hh.node(),
            bias_hh.node(),
            h0.node(),
        ];
        // The mask is a constant: no gradient flows into it.
        let (projected, weight_hh, bias_hh, h0, keep) = (
            projected.into_primitive(),
            weight_hh.into_primitive(),
            bias_hh.into_primitive(),
            h0.into_primitive(),
            keep.into_primitive(),
        );
        match GruRecurrenceBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let inputs = Inputs::new(&projected, &weight_hh, &bias_hh, &h0, &keep, reverse);
                let d = inputs.dims;
                let forward = kernel::forward(&inputs.slices(), d);
                let states = to_flex(forward.states, [d.batch, d.steps, d.hidden]);
                let saved = Saved {
                    states: states.clone(),
                    gates: Arc::new(forward.gates),
                    inputs,
                };
                prep.finish(saved, states)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gru_recurrence(
                projected, weight_hh, bias_hh, h0, keep, reverse,
            )),
        }
    }
}

/// The backward step registered in the autodiff graph; parents are
/// `[projected, weight_hh, bias_hh, h0]`.
#[derive(Debug)]
struct GruRecurrenceBackward;

/// What the backward pass needs from the forward: the inputs, the states and the gates.
#[derive(Clone)]
struct Saved {
    inputs: Inputs,
    states: FlexTensor,
    gates: Arc<Vec<f32>>,
}

impl fmt::Debug for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Saved({:?})", self.inputs.dims)
    }
}

impl Backward<Flex, 4> for GruRecurrenceBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let d_states = grads.consume::<Flex>(&ops.node).to_contiguous();
        let Saved {
            inputs,
            states,
            gates,
        } = ops.state;
        let d = inputs.dims;
        let states = states.to_contiguous();
        let d_states = d_states.as_slice::<f32>().expect("f32 state gradients");
        let states = states.as_slice::<f32>().expect("f32 states");
        let g = kernel::backward(&inputs.slices(), states, &gates, d_states, d);
        let shapes: [&[usize]; 4] = [
            &[d.batch, d.steps, 3 * d.hidden],
            &[d.hidden, 3 * d.hidden],
            &[3 * d.hidden],
            &[d.batch, d.hidden],
        ];
        for ((parent, grad), shape) in ops
            .parents
            .into_iter()
            .zip([g.projected, g.weight_hh, g.bias_hh, g.h0])
            .zip(shapes)
        {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, to_flex(grad, shape));
            }
        }
    }
}

/// The operation's inputs as contiguous Flex tensors, with their sizes.
#[derive(Clone)]
struct Inputs {
    projected: FlexTensor,
    weight_hh: FlexTensor,
    bias_hh: FlexTensor,
    h0: FlexTensor,
    keep: FlexTensor,
    dims: kernel::Dims,
}

impl Inputs {
    fn new(
        projected: &FlexTensor,
        weight_hh: &FlexTensor,
        bias_hh: &FlexTensor,
        h0: &FlexTensor,
        keep: &FlexTensor,
        reverse: bool,
    ) -> Self {
        let [batch, steps, gates] = projected.layout().shape().dims::<3>();
        let hidden = gates / 3;
        assert_eq!(
            weight_hh.layout().shape().dims::<2>(),
            [hidden, gates],
            "weight_hh is [H, 3H]"
        );
        Self {
            projected: projected.to_contiguous(),
            weight_hh: weight_hh.to_contiguous(),
            bias_hh: bias_hh.to_contiguous(),
            h0: h0.to_contiguous(),
            keep: keep.to_contiguous(),
            dims: kernel::Dims {
                batch,
                steps,
                hidden,
                reverse,
            },
        }
    }

    fn slices(&self) -> kernel::Inputs<'_> {
        fn f32s(t: &FlexTensor) -> &[f32] {
            t.as_slice::<f32>()
                .expect("the fused GRU runs in f32 (see is_fused)")
        }
        kernel::Inputs {
            projected: f32s(&self.projected),
            weight_hh: f32s(&self.weight_hh),
            bias_hh: f32s(&self.bias_hh),
            h0: f32s(&self.h0),
            keep: f32s(&self.keep),
        }
    }
}

fn to_flex(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The recurrence and its backward on host slices, row-major, batch first.
mod kernel {
    use rayon::prelude::*;

    use crate::rnn::kernels::{has_avx2, matmul, rows_per_part, sigmoid, tanh};
    use crate::rnn::small_gemm::PackedRhs;

    /// Sizes and direction of one recurrence.
    #[derive(Debug, Clone, Copy)]
    pub struct Dims {
        pub batch: usize,
        pub steps: usize,
        pub hidden: usize,
        pub reverse: bool,
    }

    impl Dims {
        /// The time index of the `s`-th step processed.
        fn step(&self, s: usize) -> usize {
            if self.reverse { self.steps - 1 - s } else { s }
        }
    }

    /// `projected [B,T,3H]`, `weight_hh [H,3H]`, `bias_hh [3H]`, `h0 [B,H]`, `keep [B,T]`.
    pub struct Inputs<'a> {
        pub projected: &'a [f32],
        pub weight_hh: &'a [f32],
        pub bias_hh: &'a [f32],
        pub h0: &'a [f32],
        pub keep: &'a [f32],
    }

    impl Inputs<'_> {
        /// The sequences `b0..b0 + n` of the batch (the weights are shared).
        fn rows(&self, b0: usize, n: usize, d: Dims) -> Inputs<'_> {
            let (t, h) = (d.steps, d.hidden);
            Inputs {
                projected: &self.projected[b0 * t * 3 * h..(b0 + n) * t * 3 * h],
                weight_hh: self.weight_hh,
                bias_hh: self.bias_hh,
                h0: &self.h0[b0 * h..(b0 + n) * h],
                keep: &self.keep[b0 * t..(b0 + n) * t],
            }
        }
    }

    pub struct Forward {
        /// `[B, T, H]`: `h_t` after each step.
        pub states: Vec<f32>,
        /// `[B, T, 4H]`: `(r, z, n, b_n)` of each step.
        pub gates: Vec<f32>,
    }

    pub struct Grads {
        pub projected: Vec<f32>,
        pub weight_hh: Vec<f32>,
        pub bias_hh: Vec<f32>,
        pub h0: Vec<f32>,
    }

    /// The recurrence, saving states and gates.
    pub fn forward(x: &Inputs<'_>, d: Dims) -> Forward {
        let (t, h) = (d.steps, d.hidden);
        let mut states = vec![0.0f32; d.batch * t * h];
        let mut gates = vec![0.0f32; d.batch * t * 4 * h];
        if states.is_empty() {
            return Forward { states, gates };
        }
        let rows = rows_per_part(d.batch);
        let w = PackedRhs::pack(x.weight_hh, [h, 3 * h], 3 * h, 1);
        states
            .par_chunks_mut(rows * t * h)
            .zip(gates.par_chunks_mut(rows * t * 4 * h))
            .enumerate()
            .for_each(|(k, (states, gates))| {
                let n = states.len() / (t * h);
                let (x, part) = (x.rows(k * rows, n, d), Dims { batch: n, ..d });
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { forward_avx2(&x, part, &w, states, gates) };
                }
                forward_generic(&x, part, &w, states, gates);
            });
        Forward { states, gates }
    }

    /// Backward through time for the upstream gradient `d_states [B, T, H]` of the states.
    pub fn backward(
        x: &Inputs<'_>,
        states: &[f32],
        gates: &[f32],
        d_states: &[f32],
        d: Dims,
    ) -> Grads {
        let (b_n, t, h) = (d.batch, d.steps, d.hidden);
        let g3 = 3 * h;
        let mut g = Grads {
            projected: vec![0.0f32; b_n * t * g3],
            weight_hh: vec![0.0f32; h * g3],
            bias_hh: vec![0.0f32; g3],
            h0: vec![0.0f32; b_n * h],
        };
        if g.projected.is_empty() {
            return g;
        }
        // ∂L/∂b_t of every step (the recurrent side), and h_{t−1}: the factors of ∂L/∂W_hh.
        let mut d_recurrent = vec![0.0f32; b_n * t * g3];
        let mut h_before = vec![0.0f32; b_n * t * h];
        let rows = rows_per_part(b_n);
        let w_t = PackedRhs::pack(x.weight_hh, [g3, h], 1, g3);
        g.projected
            .par_chunks_mut(rows * t * g3)
            .zip(d_recurrent.par_chunks_mut(rows * t * g3))
            .zip(h_before.par_chunks_mut(rows * t * h))
            .zip(g.h0.par_chunks_mut(rows * h))
            .enumerate()
            .for_each(|(k, (((d_projected, d_recurrent), h_before), d_h0))| {
                let (b0, n) = (k * rows, d_h0.len() / h);
                let (x, part) = (x.rows(b0, n, d), Dims { batch: n, ..d });
                let saved = Saved {
                    states: &states[b0 * t * h..(b0 + n) * t * h],
                    gates: &gates[b0 * t * 4 * h..(b0 + n) * t * 4 * h],
                    d_states: &d_states[b0 * t * h..(b0 + n) * t * h],
                };
                let out = PartGrads {
                    d_projected,
                    d_recurrent,
                    h_before,
                    d_h0,
                };
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { backward_avx2(&x, saved, part, &w_t, out) };
                }
                backward_generic(&x, saved, part, &w_t, out);
            });
        // ∂L/∂W_hh = Σ_{b,t} h_{t−1}ᵀ ∂L/∂b_t: one product over all B·T rows.
        // SAFETY: h_before is [B·T, H], read transposed; d_recurrent is [B·T, 3H].
        unsafe {
            matmul(
                [h, g3, b_n * t],
                (g.weight_hh.as_mut_ptr(), g3, 1),
                false,
                (h_before.as_ptr(), 1, h),
                (d_recurrent.as_ptr(), g3, 1),
            );
        }
        // ∂L/∂b_hh = Σ_{b,t} ∂L/∂b_t.
        for row in d_recurrent.chunks_exact(g3) {
            for (acc, v) in g.bias_hh.iter_mut().zip(row) {
                *acc += v;
            }
        }
        g
    }

    /// What the backward of a share of the batch reads from the forward.
    struct Saved<'a> {
        states: &'a [f32],
        gates: &'a [f32],
        d_states: &'a [f32],
    }

    /// What the backward of a share of the batch writes.
    struct PartGrads<'a> {
        d_projected: &'a mut [f32],
        d_recurrent: &'a mut [f32],
        h_before: &'a mut [f32],
        d_h0: &'a mut [f32],
    }

    // The same code compiled for AVX2: the element-wise loops then run 8 lanes wide.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_avx2(x: &Inputs<'_>, d: Dims, w: &PackedRhs, states: &mut [f32], gates: &mut [f32]) {
        forward_generic(x, d, w, states, gates)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn backward_avx2(
        x: &Inputs<'_>,
        saved: Saved<'_>,
        d: Dims,
        w_t: &PackedRhs,
        out: PartGrads<'_>,
    ) {
        backward_generic(x, saved, d, w_t, out)
    }

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

    #[inline(always)]
    fn forward_generic(
        x: &Inputs<'_>,
        d: Dims,
        w: &PackedRhs,
        states: &mut [f32],
        gates: &mut [f32],
    ) {
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let (g3, g4) = (3 * h, 4 * h);
        let mut h_prev = x.h0.to_vec();
        let mut b = vec![0.0f32; b_n * g3];
        for s in 0..t_n {
            let t = d.step(s);
            // b = h_{t−1} W_hh + b_hh
            for row in b.chunks_exact_mut(g3) {
                row.copy_from_slice(x.bias_hh);
            }
            w.multiply_into(b_n, &h_prev, h, &mut b, g3);
            for bi in 0..b_n {
                let bt = bi * t_n + t;
                let hb = &mut h_prev[bi * h..(bi + 1) * h];
                forward_row(
                    &x.projected[bt * g3..(bt + 1) * g3],
                    &b[bi * g3..(bi + 1) * g3],
                    &mut gates[bt * g4..(bt + 1) * g4],
                    hb,
                    x.keep[bt] > 0.5,
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

    #[inline(always)]
    fn backward_generic(
        x: &Inputs<'_>,
        saved: Saved<'_>,
        d: Dims,
        w_t: &PackedRhs,
        out: PartGrads<'_>,
    ) {
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let (g3, g4) = (3 * h, 4 * h);
        let Saved {
            states,
            gates,
            d_states,
        } = saved;
        let PartGrads {
            d_projected,
            d_recurrent,
            h_before,
            d_h0,
        } = out;
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
                    None => &x.h0[b * h..(b + 1) * h],
                };
                h_before[bt * h..(bt + 1) * h].copy_from_slice(h_in);
                let d_hb = &mut d_h[b * h..(b + 1) * h];
                for (acc, v) in d_hb.iter_mut().zip(&d_states[bt * h..(bt + 1) * h]) {
                    *acc += v;
                }
                let d_h_before = &mut d_h_prev[b * h..(b + 1) * h];
                if x.keep[bt] > 0.5 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::{Direction, GruCellConfig, unroll};
    use crate::test_util::*;
    use burn::module::Param;
    use deepzero_core::gradcheck::{GradCheck, check_against_finite_differences};

    fn cell(seed: u64, d_input: usize, hidden: usize, device: &Device) -> GruCell {
        device.seed(seed);
        GruCellConfig::new(d_input, hidden).init(device)
    }

    /// Right padding of lengths `[T, T−2, 1]` for a batch of three.
    fn padding(steps: usize) -> Tensor<2, Bool> {
        let lengths = [steps, steps - 2, 1];
        let pad: Vec<bool> = lengths
            .iter()
            .flat_map(|&len| (0..steps).map(move |t| t >= len))
            .collect();
        Tensor::from_data(TensorData::new(pad, [3, steps]), &device())
    }

    fn direction(reverse: bool) -> Direction {
        if reverse {
            Direction::Backward
        } else {
            Direction::Forward
        }
    }

    #[test]
    fn forward_equals_the_unrolled_cell() {
        for hidden in [5, 16] {
            let gru = cell(1, 4, hidden, &device());
            let x = uniform3(&mut rng(2), [3, 7, 4], -1.0, 1.0);
            let h0 = uniform2(&mut rng(3), 3, hidden, -0.5, 0.5);
            for reverse in [false, true] {
                for pad in [None, Some(padding(7))] {
                    for init in [None, Some(h0.clone())] {
                        let (ours, s) =
                            run_fused(&gru, x.clone(), init.clone(), pad.clone(), reverse);
                        let (theirs, t) =
                            unroll(&gru, x.clone(), init, pad.clone(), direction(reverse));
                        assert_close(&ours, &theirs, 0.0, 1e-5);
                        assert_close(&s, &t, 0.0, 1e-5);
                    }
                }
            }
        }
    }

    /// `L = Σ P ⊙ outputs + Σ q ⊙ h_T` reaches every output of the operation.
    fn loss(outputs: Tensor<3>, last: Tensor<2>) -> Tensor<1> {
        let [b, t, h] = outputs.dims();
        let mut r = rng(9);
        let dev = outputs.device();
        let p = uniform3(&mut r, [b, t, h], -1.0, 1.0).to_device(&dev);
        let q = uniform2(&mut r, b, h, -1.0, 1.0).to_device(&dev);
        (outputs * p).sum() + (last * q).sum()
    }

    /// Gradients of [`loss`] with respect to x, h0 and the four parameters (of a cell on an
    /// autodiff device).
    fn gradients(
        gru: &GruCell,
        x: &Tensor<3>,
        h0: &Tensor<2>,
        pad: Option<Tensor<2, Bool>>,
        reverse: bool,
        fused: bool,
    ) -> Vec<Tensor<2>> {
        let ad = device().autodiff();
        let x = x.clone().autodiff().require_grad();
        let h0 = h0.clone().autodiff().require_grad();
        let pad = pad.map(|p| p.to_device(&ad));
        let (out, last) = if fused {
            run_fused(gru, x.clone(), Some(h0.clone()), pad, reverse)
        } else {
            unroll(gru, x.clone(), Some(h0.clone()), pad, direction(reverse))
        };
        let grads = loss(out, last).backward();
        let bias = |p: &Option<Param<Tensor<1>>>| {
            p.as_ref()
                .unwrap()
                .val()
                .grad(&grads)
                .unwrap()
                .unsqueeze::<2>()
        };
        vec![
            x.grad(&grads).unwrap().flatten(0, 1),
            h0.grad(&grads).unwrap(),
            gru.weight_ih.val().grad(&grads).unwrap(),
            gru.weight_hh.val().grad(&grads).unwrap(),
            bias(&gru.bias_ih),
            bias(&gru.bias_hh),
        ]
    }

    #[test]
    fn backward_equals_autodiff_through_the_unrolled_cell() {
        let gru = cell(4, 4, 5, &device().autodiff());
        let x = uniform3(&mut rng(5), [3, 6, 4], -1.0, 1.0);
        let h0 = uniform2(&mut rng(6), 3, 5, -0.5, 0.5);
        for reverse in [false, true] {
            for pad in [None, Some(padding(6))] {
                let ours = gradients(&gru, &x, &h0, pad.clone(), reverse, true);
                let theirs = gradients(&gru, &x, &h0, pad, reverse, false);
                for (a, b) in ours.iter().zip(&theirs) {
                    assert_close(a, b, 1e-4, 1e-5);
                }
            }
        }
    }

    #[test]
    fn recurrent_gradients_match_finite_differences() {
        let gru = cell(7, 3, 4, &device().autodiff());
        let x = uniform3(&mut rng(8), [3, 5, 3], -1.0, 1.0);
        let h0 = uniform2(&mut rng(10), 3, 4, -0.5, 0.5);
        let pad = Some(padding(5));
        let grads = gradients(&gru, &x, &h0, pad.clone(), true, true);
        let with = |w: Option<Tensor<2>>, b: Option<Tensor<1>>| {
            let mut c = gru.clone();
            if let Some(w) = w {
                c.weight_hh = Param::from_tensor(w);
            }
            if let Some(b) = b {
                c.bias_hh = Some(Param::from_tensor(b));
            }
            let (out, last) = run_fused(&c, x.clone(), Some(h0.clone()), pad.clone(), true);
            loss(out, last)
        };
        let cfg = GradCheck::default();
        let w = check_against_finite_differences(
            |w| with(Some(w), None),
            &gru.weight_hh.val(),
            &grads[3],
            &cfg,
        )
        .unwrap();
        assert!(w.passed, "W_hh: {w:?}");
        let b_at = gru.bias_hh.as_ref().unwrap().val();
        let b = check_against_finite_differences(
            |b| with(None, Some(b)),
            &b_at,
            &grads[5].clone().squeeze_dim::<1>(0),
            &cfg,
        )
        .unwrap();
        assert!(b.passed, "b_hh: {b:?}");
    }
}
