//! Recurrent networks written from their gate equations (seed chapters 1.3.2, 4.1 and 4.2).
//!
//! | cell | file | equations |
//! |---|---|---|
//! | [`RnnCell`] (Elman) | `vanilla.rs` | `h' = tanh(x W_ih + b_ih + h W_hh + b_hh)` |
//! | [`LstmCell`] | `lstm.rs` | input, forget, output gates, `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')` |
//! | [`GruCell`] | `gru.rs` | reset and update gates, both reset conventions |
//! | [`StackedRnn`] | `stack.rs` | several layers, optionally bidirectional, over padded batches |
//!
//! # Conventions
//!
//! - Tensors are batch-first: a sequence batch is `[B, T, d_input]`, a state `[B, d_hidden]`.
//! - Weights use burn's `Linear` layout `[d_in, d_out]` (the transpose of PyTorch's), with the
//!   gates of one cell fused side by side along the output axis: `weight_ih` is
//!   `[d_input, G·H]`, `weight_hh` is `[H, G·H]` for `G` gates. The seed's form
//!   `W · [h_{t−1}, x_t] + b` is the same thing written with one matrix on the concatenation:
//!   `[h, x] W = h W_hh + x W_ih`.
//! - Two biases per gate (`b_ih`, `b_hh`), as in PyTorch and burn. Their sum is what matters,
//!   except in the GRU's reset-after candidate, where `b_hn` sits inside `r ⊙ (…)`.
//! - Padding: a `[B, T]` boolean mask, `true` = padded (burn's convention, see
//!   [`crate::attention::padding_mask`]). A padded step neither updates the state nor
//!   produces output (its output row is zero), so with right padding the final state of each
//!   sequence is its state at its true last step, and a backward-direction pass starts at that
//!   step.
//!
//! Running a whole sequence goes through [`unroll`], which projects all inputs at once
//! (`x W_ih + b_ih` is one matrix product over `[B·T, d_input]`) and then runs the cheap
//! recurrent part step by step. The projection is cut into steps by [`split_steps`], which
//! halves recursively so that the backward pass does not move O(T²) memory.

mod fused;
pub mod fused_gru;
pub mod fused_lstm;
pub mod gru;
mod kernels;
pub mod lstm;
pub mod memory_task;
mod small_gemm;
pub mod stack;
#[cfg(test)]
mod testing;
pub mod vanilla;

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;

pub use gru::{GruCell, GruCellConfig};
pub use lstm::{LstmCell, LstmCellConfig, LstmState};
pub use stack::{RecurrentCell, RecurrentKind, StackedRnn, StackedRnnConfig, StackedState};
pub use vanilla::{RnnCell, RnnCellConfig};

/// The parts every recurrent cell provides to [`unroll`].
pub trait Recurrence {
    /// The carried state: the hidden state, plus the cell state for an LSTM.
    type State: RecurrentState;

    /// Width `H` of the hidden state.
    fn d_hidden(&self) -> usize;

    /// The input half of every gate for all steps at once: `x W_ih + b_ih`.
    ///
    /// # Shapes
    /// - x: `[B, T, d_input]`
    /// - output: `[B, T, G·H]`
    fn project_inputs(&self, x: Tensor<3>) -> Tensor<3>;

    /// One step from an already projected input `[B, G·H]`.
    fn step_projected(&self, projected: Tensor<2>, state: Self::State) -> Self::State;
}

/// What [`unroll`] does with the state a cell carries between steps.
pub trait RecurrentState: Clone {
    /// The all-zero state of `batch` sequences, `[batch, d_hidden]` tensors.
    fn zeros(batch: usize, d_hidden: usize, device: &Device) -> Self;

    /// The hidden state `[B, H]` (the step's output).
    fn hidden(&self) -> Tensor<2>;

    /// `new` where `keep_old` is false, `old` where it is true (`keep_old` is `[B, H]`).
    fn select(keep_old: Tensor<2, Bool>, new: Self, old: Self) -> Self;
}

/// The hidden state alone: what the RNN and GRU cells carry.
impl RecurrentState for Tensor<2> {
    fn zeros(batch: usize, d_hidden: usize, device: &Device) -> Self {
        Tensor::zeros([batch, d_hidden], device)
    }

    fn hidden(&self) -> Tensor<2> {
        self.clone()
    }

    fn select(keep_old: Tensor<2, Bool>, new: Self, old: Self) -> Self {
        new.mask_where(keep_old, old)
    }
}

/// The order in which [`unroll`] visits the time steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `t = 0, 1, …, T−1`.
    Forward,
    /// `t = T−1, …, 1, 0` (the second half of a bidirectional layer). The output at position
    /// `t` is still written at index `t`.
    Backward,
}

/// Runs `cell` over a batch of sequences.
///
/// Padded steps (`padding[b, t] = true`) keep the previous state and output zeros, so nothing
/// about them reaches the outputs, the final state or the gradients of the real steps.
///
/// # Shapes
/// - x: `[B, T, d_input]`
/// - padding: `[B, T]`, `true` = padded
/// - output: `[B, T, H]`, and the final state (`[B, H]` tensors)
pub fn unroll<C: Recurrence>(
    cell: &C,
    x: Tensor<3>,
    state: Option<C::State>,
    padding: Option<Tensor<2, Bool>>,
    direction: Direction,
) -> (Tensor<3>, C::State) {
    let [batch, steps, _] = x.dims();
    let hidden = cell.d_hidden();
    let device = x.device();
    let mut state = state.unwrap_or_else(|| C::State::zeros(batch, hidden, &device));
    let projected = split_steps(cell.project_inputs(x)); // T × [B, G·H]
    let padded: Option<Vec<Tensor<2, Bool>>> = padding.map(|p| {
        p.iter_dim(1)
            .map(|col| col.expand([batch, hidden])) // [B, 1] → [B, H]
            .collect()
    });

    let order: Vec<usize> = match direction {
        Direction::Forward => (0..steps).collect(),
        Direction::Backward => (0..steps).rev().collect(),
    };
    let mut outputs: Vec<Option<Tensor<2>>> = vec![None; steps];
    for t in order {
        let next = cell.step_projected(projected[t].clone(), state.clone());
        match &padded {
            Some(pads) => {
                let pad = pads[t].clone();
                outputs[t] = Some(next.hidden().mask_fill(pad.clone(), 0.0));
                state = C::State::select(pad, next, state);
            }
            None => {
                outputs[t] = Some(next.hidden());
                state = next;
            }
        }
    }
    let outputs: Vec<Tensor<2>> = outputs.into_iter().flatten().collect();
    (Tensor::stack(outputs, 1), state)
}

/// Splits `[B, T, F]` into its `T` steps `[B, F]` by halving it recursively.
///
/// Why not `iter_dim(1)`: in burn's autodiff the backward pass of every slice allocates a zero
/// tensor the size of the sliced tensor and writes its gradient into it. Taking `T` slices of
/// the whole `[B, T, F]` projection therefore moves `T` full-size tensors (O(T²) memory traffic;
/// on the LSTM bench workload, T = 64, memset and memmove took more time than the matrix
/// products). Halving takes `2 log₂ T` full-size tensors instead, and the forward pass is the
/// same views.
pub fn split_steps(x: Tensor<3>) -> Vec<Tensor<2>> {
    fn split_into(x: Tensor<3>, out: &mut Vec<Tensor<2>>) {
        let steps = x.dims()[1];
        if steps == 1 {
            out.push(x.squeeze_dim(1));
            return;
        }
        let half = steps / 2;
        split_into(x.clone().narrow(1, 0, half), out);
        split_into(x.narrow(1, half, steps - half), out);
    }
    let mut out = Vec::with_capacity(x.dims()[1]);
    if x.dims()[1] > 0 {
        split_into(x, &mut out);
    }
    out
}

/// Gradients of one cell step, from the hand-derived backward pass (`step_backward` of each
/// cell). Parameter gradients are summed over the batch.
#[derive(Debug, Clone)]
pub struct StepGrads {
    /// `∂L/∂x`, `[B, d_input]`.
    pub x: Tensor<2>,
    /// `∂L/∂h` of the previous hidden state, `[B, H]`.
    pub hidden: Tensor<2>,
    /// `∂L/∂c` of the previous cell state (LSTM only), `[B, H]`.
    pub cell: Option<Tensor<2>>,
    /// `∂L/∂W_ih`, `[d_input, G·H]`.
    pub weight_ih: Tensor<2>,
    /// `∂L/∂W_hh`, `[H, G·H]`.
    pub weight_hh: Tensor<2>,
    /// `∂L/∂b_ih`, `[G·H]` (when the cell has biases).
    pub bias_ih: Option<Tensor<1>>,
    /// `∂L/∂b_hh`, `[G·H]` (when the cell has biases).
    pub bias_hh: Option<Tensor<1>>,
}

/// The fused parameters shared by all three cells.
pub(crate) struct FusedParams {
    pub weight_ih: Param<Tensor<2>>,
    pub weight_hh: Param<Tensor<2>>,
    pub bias_ih: Option<Param<Tensor<1>>>,
    pub bias_hh: Option<Param<Tensor<1>>>,
}

impl FusedParams {
    /// PyTorch's initialisation: every weight and bias `U(−1/√H, 1/√H)`.
    pub fn init(
        d_input: usize,
        d_hidden: usize,
        gates: usize,
        bias: bool,
        device: &Device,
    ) -> Self {
        let k = 1.0 / (d_hidden as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        let width = gates * d_hidden;
        Self {
            weight_ih: init.init([d_input, width], device),
            weight_hh: init.init([d_hidden, width], device),
            bias_ih: bias.then(|| init.init([width], device)),
            bias_hh: bias.then(|| init.init([width], device)),
        }
    }
}

/// `x W + b` for a rank-`D` input (the bias broadcasts over the leading axes).
pub(crate) fn affine<const D: usize>(
    x: Tensor<D>,
    w: Tensor<2>,
    b: Option<Tensor<1>>,
) -> Tensor<D> {
    burn::tensor::module::linear(x, w, b)
}

/// Sum over the batch axis of a `[B, N]` gradient: the bias gradient `[N]`.
pub(crate) fn batch_sum(g: Tensor<2>) -> Tensor<1> {
    g.sum_dim(0).squeeze_dim(0)
}

/// Concatenates the `[d, H]` per-gate matrices of burn's `GateController`s along the output axis.
pub(crate) fn fuse_linears(linears: &[&burn::nn::Linear]) -> (Tensor<2>, Option<Tensor<1>>) {
    let w = Tensor::cat(linears.iter().map(|l| l.weight.val()).collect(), 1);
    let b = linears
        .iter()
        .map(|l| l.bias.as_ref().map(|b| b.val()))
        .collect::<Option<Vec<_>>>()
        .map(|bs| Tensor::cat(bs, 0));
    (w, b)
}

/// Builds fused parameters from burn's gate controllers, in the given gate order.
pub(crate) fn fuse_gates(gates: &[&burn::nn::GateController]) -> FusedParams {
    let inputs: Vec<&burn::nn::Linear> = gates.iter().map(|g| &g.input_transform).collect();
    let hiddens: Vec<&burn::nn::Linear> = gates.iter().map(|g| &g.hidden_transform).collect();
    let (w_ih, b_ih) = fuse_linears(&inputs);
    let (w_hh, b_hh) = fuse_linears(&hiddens);
    // `detach`: on an autodiff device the concatenation is not a leaf, and a parameter must be.
    FusedParams {
        weight_ih: Param::from_tensor(w_ih.detach()),
        weight_hh: Param::from_tensor(w_hh.detach()),
        bias_ih: b_ih.map(|b| Param::from_tensor(b.detach())),
        bias_hh: b_hh.map(|b| Param::from_tensor(b.detach())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{host, rng, uniform3};

    #[test]
    fn split_steps_equals_slicing_step_by_step_in_values_and_gradients() {
        for steps in [1, 2, 3, 5, 8, 13] {
            let x = uniform3(&mut rng(steps as u64), [2, steps, 3], -1.0, 1.0);
            let split = split_steps(x.clone());
            assert_eq!(split.len(), steps);
            for (t, step) in split.iter().enumerate() {
                let expected = x.clone().narrow(1, t, 1).squeeze_dim::<2>(1);
                assert_eq!(host(step), host(&expected), "T = {steps}, t = {t}");
            }

            // L = Σ_t (t + 1) · Σ x_t², so ∂L/∂x[b, t, f] = 2 (t + 1) x[b, t, f].
            let leaf = x.clone().autodiff().require_grad();
            let loss = split_steps(leaf.clone())
                .into_iter()
                .enumerate()
                .map(|(t, s)| s.powi_scalar(2).sum().mul_scalar((t + 1) as f64))
                .reduce(|a, b| a + b)
                .unwrap();
            let grad = leaf.grad(&loss.backward()).unwrap();
            let weights = Tensor::<1, Int>::arange(1..steps as i64 + 1, &x.device())
                .float()
                .reshape([1, steps, 1]);
            let expected = x.clone().mul(weights).mul_scalar(2.0);
            assert_eq!(host(&grad), host(&expected), "T = {steps}");
        }
    }
}
