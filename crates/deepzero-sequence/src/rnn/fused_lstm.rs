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

use std::fmt;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;

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
    let keep = match &padding {
        Some(pad) => pad.clone().bool_not().float(),
        None => Tensor::ones([batch, steps], &device),
    };
    let states = Tensor::<3>::from_dispatch(<Dispatch as LstmRecurrenceBackend>::lstm_recurrence(
        projected.into_dispatch(),
        cell.weight_hh.val().into_dispatch(),
        state.hidden.into_dispatch(),
        state.cell.into_dispatch(),
        keep.into_dispatch(),
        reverse,
    ));
    let last = if reverse { 0 } else { steps - 1 };
    let final_state = states.clone().narrow(1, last, 1).squeeze_dim::<2>(1);
    let mut outputs = states.narrow(2, 0, hidden);
    if let Some(pad) = padding {
        outputs = outputs.mask_fill(
            pad.unsqueeze_dim::<3>(2).expand([batch, steps, hidden]),
            0.0,
        );
    }
    let final_state = LstmState {
        hidden: final_state.clone().narrow(1, 0, hidden),
        cell: final_state.narrow(1, hidden, hidden),
    };
    (outputs, final_state)
}

impl LstmRecurrenceBackend for Flex {
    fn lstm_recurrence(
        projected: FlexTensor,
        weight_hh: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
        keep: FlexTensor,
        reverse: bool,
    ) -> FlexTensor {
        let inputs = Inputs::new(&projected, &weight_hh, &h0, &c0, &keep, reverse);
        let forward = kernel::forward(&inputs.slices(), inputs.dims);
        to_flex(
            forward.states,
            [inputs.dims.batch, inputs.dims.steps, 2 * inputs.dims.hidden],
        )
    }
}

impl<C: CheckpointStrategy> LstmRecurrenceBackend for Autodiff<Flex, C> {
    fn lstm_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self> {
        let nodes = [projected.node(), weight_hh.node(), h0.node(), c0.node()];
        // The mask is a constant: no gradient flows into it.
        let (projected, weight_hh, h0, c0, keep) = (
            projected.into_primitive(),
            weight_hh.into_primitive(),
            h0.into_primitive(),
            c0.into_primitive(),
            keep.into_primitive(),
        );
        match LstmRecurrenceBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let inputs = Inputs::new(&projected, &weight_hh, &h0, &c0, &keep, reverse);
                let dims = inputs.dims;
                let forward = kernel::forward(&inputs.slices(), dims);
                let states = to_flex(forward.states, [dims.batch, dims.steps, 2 * dims.hidden]);
                let saved = Saved {
                    states: states.clone(),
                    gates: Arc::new(forward.gates),
                    inputs,
                };
                prep.finish(saved, states)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::lstm_recurrence(
                projected, weight_hh, h0, c0, keep, reverse,
            )),
        }
    }
}

/// The backward step registered in the autodiff graph; parents are
/// `[projected, weight_hh, h0, c0]`.
#[derive(Debug)]
struct LstmRecurrenceBackward;

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

impl Backward<Flex, 4> for LstmRecurrenceBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let d_states = grads.consume::<Flex>(&ops.node).to_contiguous();
        let Saved {
            inputs,
            states,
            gates,
        } = ops.state;
        let dims = inputs.dims;
        let states = states.to_contiguous();
        let d_states = d_states.as_slice::<f32>().expect("f32 state gradients");
        let states = states.as_slice::<f32>().expect("f32 states");
        let g = kernel::backward(&inputs.slices(), states, &gates, d_states, dims);
        let [p, w, h0, c0] = ops.parents;
        let shapes: [&[usize]; 4] = [
            &[dims.batch, dims.steps, 4 * dims.hidden],
            &[dims.hidden, 4 * dims.hidden],
            &[dims.batch, dims.hidden],
            &[dims.batch, dims.hidden],
        ];
        for ((parent, grad), shape) in [p, w, h0, c0]
            .into_iter()
            .zip([g.projected, g.weight_hh, g.h0, g.c0])
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
    h0: FlexTensor,
    c0: FlexTensor,
    keep: FlexTensor,
    dims: kernel::Dims,
}

impl Inputs {
    fn new(
        projected: &FlexTensor,
        weight_hh: &FlexTensor,
        h0: &FlexTensor,
        c0: &FlexTensor,
        keep: &FlexTensor,
        reverse: bool,
    ) -> Self {
        let [batch, steps, gates] = projected.layout().shape().dims::<3>();
        let hidden = gates / 4;
        assert_eq!(
            weight_hh.layout().shape().dims::<2>(),
            [hidden, gates],
            "weight_hh is [H, 4H]"
        );
        Self {
            projected: projected.to_contiguous(),
            weight_hh: weight_hh.to_contiguous(),
            h0: h0.to_contiguous(),
            c0: c0.to_contiguous(),
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
                .expect("the fused LSTM runs in f32 (see is_fused)")
        }
        kernel::Inputs {
            projected: f32s(&self.projected),
            weight_hh: f32s(&self.weight_hh),
            h0: f32s(&self.h0),
            c0: f32s(&self.c0),
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

    /// `projected [B,T,4H]`, `weight_hh [H,4H]`, `h0, c0 [B,H]`, `keep [B,T]`.
    pub struct Inputs<'a> {
        pub projected: &'a [f32],
        pub weight_hh: &'a [f32],
        pub h0: &'a [f32],
        pub c0: &'a [f32],
        pub keep: &'a [f32],
    }

    impl Inputs<'_> {
        /// The sequences `b0..b0 + n` of the batch (the weights are shared).
        fn rows(&self, b0: usize, n: usize, d: Dims) -> Inputs<'_> {
            let (t, h) = (d.steps, d.hidden);
            Inputs {
                projected: &self.projected[b0 * t * 4 * h..(b0 + n) * t * 4 * h],
                weight_hh: self.weight_hh,
                h0: &self.h0[b0 * h..(b0 + n) * h],
                c0: &self.c0[b0 * h..(b0 + n) * h],
                keep: &self.keep[b0 * t..(b0 + n) * t],
            }
        }
    }

    pub struct Forward {
        /// `[B, T, 2H]`: `(h_t, c_t)` after each step.
        pub states: Vec<f32>,
        /// `[B, T, 4H]`: the activations `(i, f, g, o)` of each step.
        pub gates: Vec<f32>,
    }

    pub struct Grads {
        pub projected: Vec<f32>,
        pub weight_hh: Vec<f32>,
        pub h0: Vec<f32>,
        pub c0: Vec<f32>,
    }

    /// The recurrence, saving states and gate activations.
    pub fn forward(x: &Inputs<'_>, d: Dims) -> Forward {
        let (t, h) = (d.steps, d.hidden);
        let mut states = vec![0.0f32; d.batch * t * 2 * h];
        let mut gates = vec![0.0f32; d.batch * t * 4 * h];
        if states.is_empty() {
            return Forward { states, gates };
        }
        let rows = rows_per_part(d.batch);
        let w = PackedRhs::pack(x.weight_hh, [h, 4 * h], 4 * h, 1);
        states
            .par_chunks_mut(rows * t * 2 * h)
            .zip(gates.par_chunks_mut(rows * t * 4 * h))
            .enumerate()
            .for_each(|(k, (states, gates))| {
                let n = states.len() / (t * 2 * h);
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

    /// Backward through time for the upstream gradient `d_states [B, T, 2H]` of the states.
    pub fn backward(
        x: &Inputs<'_>,
        states: &[f32],
        gates: &[f32],
        d_states: &[f32],
        d: Dims,
    ) -> Grads {
        let (b_n, t, h) = (d.batch, d.steps, d.hidden);
        let g4 = 4 * h;
        let mut g = Grads {
            projected: vec![0.0f32; b_n * t * g4],
            weight_hh: vec![0.0f32; h * g4],
            h0: vec![0.0f32; b_n * h],
            c0: vec![0.0f32; b_n * h],
        };
        if g.projected.is_empty() {
            return g;
        }
        // h_{t−1} of every step, the left factor of ∂L/∂W_hh.
        let mut h_before = vec![0.0f32; b_n * t * h];
        let rows = rows_per_part(b_n);
        let w_t = PackedRhs::pack(x.weight_hh, [g4, h], 1, g4);
        g.projected
            .par_chunks_mut(rows * t * g4)
            .zip(h_before.par_chunks_mut(rows * t * h))
            .zip(g.h0.par_chunks_mut(rows * h))
            .zip(g.c0.par_chunks_mut(rows * h))
            .enumerate()
            .for_each(|(k, (((d_projected, h_before), d_h0), d_c0))| {
                let (b0, n) = (k * rows, d_h0.len() / h);
                let (x, part) = (x.rows(b0, n, d), Dims { batch: n, ..d });
                let saved = Saved {
                    states: &states[b0 * t * 2 * h..(b0 + n) * t * 2 * h],
                    gates: &gates[b0 * t * g4..(b0 + n) * t * g4],
                    d_states: &d_states[b0 * t * 2 * h..(b0 + n) * t * 2 * h],
                };
                let out = PartGrads {
                    d_projected,
                    h_before,
                    d_h0,
                    d_c0,
                };
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { backward_avx2(&x, saved, part, &w_t, out) };
                }
                backward_generic(&x, saved, part, &w_t, out);
            });
        // ∂L/∂W_hh = Σ_{b,t} h_{t−1}ᵀ ∂L/∂z_t: one product over all B·T rows.
        // SAFETY: h_before is [B·T, H], read transposed; d_projected is [B·T, 4H].
        unsafe {
            matmul(
                [h, g4, b_n * t],
                (g.weight_hh.as_mut_ptr(), g4, 1),
                false,
                (h_before.as_ptr(), 1, h),
                (g.projected.as_ptr(), g4, 1),
            );
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
        h_before: &'a mut [f32],
        d_h0: &'a mut [f32],
        d_c0: &'a mut [f32],
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

    #[inline(always)]
    fn forward_generic(
        x: &Inputs<'_>,
        d: Dims,
        w: &PackedRhs,
        states: &mut [f32],
        gates: &mut [f32],
    ) {
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let g4 = 4 * h;
        let (mut h_prev, mut c_prev) = (x.h0.to_vec(), x.c0.to_vec());
        let mut z = vec![0.0f32; b_n * g4];
        for s in 0..t_n {
            let t = d.step(s);
            for b in 0..b_n {
                let row = (b * t_n + t) * g4;
                z[b * g4..(b + 1) * g4].copy_from_slice(&x.projected[row..row + g4]);
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
                    x.keep[bt] > 0.5,
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

    #[inline(always)]
    fn backward_generic(
        x: &Inputs<'_>,
        saved: Saved<'_>,
        d: Dims,
        w_t: &PackedRhs,
        out: PartGrads<'_>,
    ) {
        let (b_n, t_n, h) = (d.batch, d.steps, d.hidden);
        let g4 = 4 * h;
        let Saved {
            states,
            gates,
            d_states,
        } = saved;
        let PartGrads {
            d_projected,
            h_before,
            d_h0,
            d_c0,
        } = out;
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
                    None => (&x.h0[b * h..(b + 1) * h], &x.c0[b * h..(b + 1) * h]),
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
                if x.keep[bt] > 0.5 {
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
    use crate::rnn::{Direction, LstmCellConfig, unroll};
    use crate::test_util::*;
    use burn::module::Param;
    use deepzero_core::gradcheck::{GradCheck, check_against_finite_differences};

    fn cell(seed: u64, d_input: usize, hidden: usize, device: &Device) -> LstmCell {
        device.seed(seed);
        LstmCellConfig::new(d_input, hidden).init(device)
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

    fn state(seed: u64, batch: usize, hidden: usize) -> LstmState {
        let mut r = rng(seed);
        LstmState {
            hidden: uniform2(&mut r, batch, hidden, -0.5, 0.5),
            cell: uniform2(&mut r, batch, hidden, -1.0, 1.0),
        }
    }

    fn direction(reverse: bool) -> Direction {
        if reverse {
            Direction::Backward
        } else {
            Direction::Forward
        }
    }

    #[test]
    fn flex_takes_the_fused_path_in_f32_only() {
        assert!(is_fused(&device(), DType::F32));
        assert!(is_fused(&device().autodiff(), DType::F32));
        assert!(!is_fused(&device(), DType::F64));
    }

    #[test]
    fn forward_equals_the_unrolled_cell() {
        // H = 16 fills whole register tiles (see small_gemm); H = 6 leaves ragged panels.
        for hidden in [6, 16] {
            forward_equals_the_unrolled_cell_with(hidden);
        }
    }

    fn forward_equals_the_unrolled_cell_with(hidden: usize) {
        let lstm = cell(1, 5, hidden, &device());
        let x = uniform3(&mut rng(2), [3, 7, 5], -1.0, 1.0);
        for reverse in [false, true] {
            for pad in [None, Some(padding(7))] {
                for init in [None, Some(state(3, 3, hidden))] {
                    let (ours, s) = run_fused(&lstm, x.clone(), init.clone(), pad.clone(), reverse);
                    let (theirs, t) =
                        unroll(&lstm, x.clone(), init, pad.clone(), direction(reverse));
                    assert_close(&ours, &theirs, 0.0, 1e-5);
                    assert_close(&s.hidden, &t.hidden, 0.0, 1e-5);
                    assert_close(&s.cell, &t.cell, 0.0, 1e-5);
                }
            }
        }
    }

    /// `L = Σ P ⊙ outputs + Σ q ⊙ h_T + Σ r ⊙ c_T` reaches every output of the operation.
    fn loss(outputs: Tensor<3>, last: LstmState, seed: u64) -> Tensor<1> {
        let [b, t, h] = outputs.dims();
        let mut r = rng(seed);
        let dev = outputs.device();
        let p = uniform3(&mut r, [b, t, h], -1.0, 1.0).to_device(&dev);
        let q = uniform2(&mut r, b, h, -1.0, 1.0).to_device(&dev);
        let c = uniform2(&mut r, b, h, -1.0, 1.0).to_device(&dev);
        (outputs * p).sum() + (last.hidden * q).sum() + (last.cell * c).sum()
    }

    /// Gradients of [`loss`] with respect to x, h0, c0 and the four parameters (of a cell on an
    /// autodiff device).
    fn gradients(
        lstm: &LstmCell,
        x: &Tensor<3>,
        init: &LstmState,
        pad: Option<Tensor<2, Bool>>,
        reverse: bool,
        fused: bool,
    ) -> Vec<Tensor<2>> {
        let ad = device().autodiff();
        let x = x.clone().autodiff().require_grad();
        let init = LstmState {
            hidden: init.hidden.clone().autodiff().require_grad(),
            cell: init.cell.clone().autodiff().require_grad(),
        };
        let pad = pad.map(|p| p.to_device(&ad));
        let (out, last) = if fused {
            run_fused(lstm, x.clone(), Some(init.clone()), pad, reverse)
        } else {
            unroll(lstm, x.clone(), Some(init.clone()), pad, direction(reverse))
        };
        let grads = loss(out, last, 9).backward();
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
            init.hidden.grad(&grads).unwrap(),
            init.cell.grad(&grads).unwrap(),
            lstm.weight_ih.val().grad(&grads).unwrap(),
            lstm.weight_hh.val().grad(&grads).unwrap(),
            bias(&lstm.bias_ih),
            bias(&lstm.bias_hh),
        ]
    }

    #[test]
    fn backward_equals_autodiff_through_the_unrolled_cell() {
        let lstm = cell(4, 4, 5, &device().autodiff());
        let x = uniform3(&mut rng(5), [3, 6, 4], -1.0, 1.0);
        let init = state(6, 3, 5);
        for reverse in [false, true] {
            for pad in [None, Some(padding(6))] {
                let ours = gradients(&lstm, &x, &init, pad.clone(), reverse, true);
                let theirs = gradients(&lstm, &x, &init, pad, reverse, false);
                for (a, b) in ours.iter().zip(&theirs) {
                    assert_close(a, b, 1e-4, 1e-5);
                }
            }
        }
    }

    #[test]
    fn weight_gradient_matches_finite_differences() {
        let lstm = cell(7, 3, 4, &device().autodiff());
        let x = uniform3(&mut rng(8), [3, 5, 3], -1.0, 1.0);
        let init = state(10, 3, 4);
        let pad = Some(padding(5));
        let analytic = gradients(&lstm, &x, &init, pad.clone(), false, true)[4].clone();
        let f = |w: Tensor<2>| {
            let mut c = lstm.clone();
            c.weight_hh = Param::from_tensor(w);
            let (out, last) = run_fused(&c, x.clone(), Some(init.clone()), pad.clone(), false);
            loss(out, last, 9)
        };
        let report = check_against_finite_differences(
            f,
            &lstm.weight_hh.val(),
            &analytic,
            &GradCheck::default(),
        )
        .unwrap();
        assert!(report.passed, "{report:?}");
    }
}
