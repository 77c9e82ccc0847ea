//! What the two fused recurrences ([`super::fused_lstm`], [`super::fused_gru`]) share around
//! their kernels: the burn backend extension's implementations for Flex and for autodiff on
//! Flex ([`fused_backend!`]), the backward registered in the autodiff graph, the inputs as
//! contiguous host slices, and the keep mask and final state of `run_fused`.
//!
//! A recurrence is a [`FusedKernel`] over five tensor inputs: four differentiable ones (the
//! gate pre-activations from the input `projected [B, T, G·H]` first, `weight_hh [H, G·H]`
//! second, then the cell's own two) and a constant keep mask `[B, T]` last. Its one output is
//! the state after every step, `[B, T, S·H]`.

use std::fmt;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::kernels::has_avx2;
use super::kernels::{matmul, rows_per_part};
use super::small_gemm::PackedRhs;

/// Sizes and direction of one recurrence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub batch: usize,
    pub steps: usize,
    pub hidden: usize,
    pub reverse: bool,
}

impl Dims {
    /// The time index of the `s`-th step processed.
    #[inline(always)]
    pub fn step(&self, s: usize) -> usize {
        if self.reverse { self.steps - 1 - s } else { s }
    }

    /// The same recurrence over `n` sequences (a thread's share of the batch).
    pub fn part(self, n: usize) -> Dims {
        Dims { batch: n, ..self }
    }
}

/// The five inputs as host slices, in the operation's order (each kernel names them).
pub(crate) type Slices<'a> = [&'a [f32]; 5];

/// What the forward returns.
pub(crate) struct Forward {
    /// `[B, T, S·H]`: the state after each step.
    pub states: Vec<f32>,
    /// `[B, T, 4H]`: what the backward needs of each step besides the states (the gates).
    pub gates: Vec<f32>,
}

/// What the backward of a share of the batch reads from the forward (rows of that share only).
pub(crate) struct Trace<'a> {
    pub states: &'a [f32],
    pub gates: &'a [f32],
    pub d_states: &'a [f32],
}

/// The forward of a share of `n` sequences: their rows of the inputs `x`, `weight_hh`
/// packed, and where their states `[n, T, S·H]` and gates `[n, T, 4H]` go.
pub(crate) struct ForwardPart<'a> {
    pub x: Slices<'a>,
    pub d: Dims,
    pub w: &'a PackedRhs,
    pub states: &'a mut [f32],
    pub gates: &'a mut [f32],
}

/// The backward of a share of `n` sequences: their rows of the inputs and of the forward's
/// trace, `weight_hhᵀ` packed, and their rows of the buffers of
/// [`FusedKernel::part_widths`].
pub(crate) struct BackwardPart<'a> {
    pub x: Slices<'a>,
    pub trace: Trace<'a>,
    pub d: Dims,
    pub w_t: &'a PackedRhs,
    pub out: [&'a mut [f32]; 4],
}

/// One fused recurrence: its sizes and its kernels for a share of the batch, on host slices
/// (row-major, batch first). The drivers [`forward`] and [`backward`] split the batch across
/// threads (the sequences are independent) and pick the AVX2 build of the kernels.
pub(crate) trait FusedKernel: fmt::Debug + Default + Send + Sync + 'static {
    /// For messages: "LSTM", "GRU".
    const NAME: &'static str;
    /// `G`: gate blocks of `H` columns in `projected` and `weight_hh`.
    const GATES: usize;
    /// `S`: blocks of `H` in one step's state (2 for the LSTM's `(h, c)`, 1 for the GRU's `h`).
    const STATE: usize;

    /// Values of each sequence in the five inputs (0 for the weights, which all share).
    fn input_widths(d: Dims) -> [usize; 5];

    /// The recurrence for a share of the batch.
    fn forward_part(part: ForwardPart<'_>);

    /// Values of each sequence in the four buffers [`backward_part`](Self::backward_part)
    /// writes.
    fn part_widths(d: Dims) -> [usize; 4];

    /// Backward through time for a share of the batch.
    fn backward_part(part: BackwardPart<'_>);

    /// The gradients of the four differentiable inputs, in their order and shapes, from the
    /// buffers the parts wrote (the weight gradients are products over the whole batch).
    fn input_grads(x: Slices<'_>, d: Dims, parts: [Vec<f32>; 4]) -> [Vec<f32>; 4];
}

/// The recurrence over all steps of the batch.
pub(crate) fn forward<K: FusedKernel>(x: Slices<'_>, d: Dims) -> Forward {
    let (t, h) = (d.steps, d.hidden);
    let widths = [t * K::STATE * h, t * 4 * h];
    let [mut states, mut gates] = widths.map(|w| vec![0.0f32; d.batch * w]);
    if states.is_empty() {
        return Forward { states, gates };
    }
    let g = K::GATES * h;
    let w = PackedRhs::pack(x[1], [h, g], g, 1);
    for_each_part(
        d.batch,
        [&mut states, &mut gates],
        widths,
        |b0, n, [states, gates]| {
            let part = ForwardPart {
                x: rows(x, b0, n, K::input_widths(d)),
                d: d.part(n),
                w: &w,
                states,
                gates,
            };
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { forward_avx2::<K>(part) };
            }
            K::forward_part(part);
        },
    );
    Forward { states, gates }
}

/// Backward through time for the upstream gradient `d_states [B, T, S·H]` of the states: the
/// gradients of the four differentiable inputs.
pub(crate) fn backward<K: FusedKernel>(
    x: Slices<'_>,
    states: &[f32],
    gates: &[f32],
    d_states: &[f32],
    d: Dims,
) -> [Vec<f32>; 4] {
    let (t, h) = (d.steps, d.hidden);
    if d.batch * t * h == 0 {
        return std::array::from_fn(|i| vec![0.0f32; x[i].len()]);
    }
    let widths = K::part_widths(d);
    let mut parts = widths.map(|w| vec![0.0f32; d.batch * w]);
    let g = K::GATES * h;
    let w_t = PackedRhs::pack(x[1], [g, h], 1, g);
    let (state, saved) = (t * K::STATE * h, t * 4 * h);
    for_each_part(
        d.batch,
        parts.each_mut().map(Vec::as_mut_slice),
        widths,
        |b0, n, out| {
            let part = BackwardPart {
                x: rows(x, b0, n, K::input_widths(d)),
                trace: Trace {
                    states: &states[b0 * state..(b0 + n) * state],
                    gates: &gates[b0 * saved..(b0 + n) * saved],
                    d_states: &d_states[b0 * state..(b0 + n) * state],
                },
                d: d.part(n),
                w_t: &w_t,
                out,
            };
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { backward_avx2::<K>(part) };
            }
            K::backward_part(part);
        },
    );
    K::input_grads(x, d, parts)
}

// The kernels compiled for AVX2: their element-wise loops then run 8 lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_avx2<K: FusedKernel>(part: ForwardPart<'_>) {
    K::forward_part(part)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn backward_avx2<K: FusedKernel>(part: BackwardPart<'_>) {
    K::backward_part(part)
}

/// `∂L/∂W_hh = Σ_{b,t} h_{t−1}ᵀ ∂L/∂z_t` `[H, G·H]`: one product over all `B·T` rows of
/// `h_before [B·T, H]` and the gradient `d_gates [B·T, G·H]` of the recurrent side.
pub(crate) fn weight_hh_grad<K: FusedKernel>(
    h_before: &[f32],
    d_gates: &[f32],
    d: Dims,
) -> Vec<f32> {
    let (h, g) = (d.hidden, K::GATES * d.hidden);
    let rows = d.batch * d.steps;
    assert!(h_before.len() >= rows * h && d_gates.len() >= rows * g);
    let mut grad = vec![0.0f32; h * g];
    // SAFETY: h_before is [B·T, H], read transposed; d_gates is [B·T, G·H] (asserted above).
    unsafe {
        matmul(
            [h, g, rows],
            (grad.as_mut_ptr(), g, 1),
            false,
            (h_before.as_ptr(), 1, h),
            (d_gates.as_ptr(), g, 1),
        );
    }
    grad
}

/// The rows `b0..b0 + n` of the batch in each input, which holds `widths[i]` values per
/// sequence (0: shared by all, left whole).
fn rows<'a>(x: Slices<'a>, b0: usize, n: usize, widths: [usize; 5]) -> Slices<'a> {
    std::array::from_fn(|i| match widths[i] {
        0 => x[i],
        w => &x[i][b0 * w..(b0 + n) * w],
    })
}

/// Runs `f(b0, n, rows)` for each thread's share `b0..b0 + n` of a batch of `batch`
/// sequences, `rows` being that share of each buffer (`widths[i]` values per sequence, > 0).
fn for_each_part<const N: usize>(
    batch: usize,
    buffers: [&mut [f32]; N],
    widths: [usize; N],
    f: impl Fn(usize, usize, [&mut [f32]; N]) + Sync,
) {
    let rows = rows_per_part(batch);
    let mut chunks = buffers
        .into_iter()
        .zip(widths)
        .map(|(b, w)| b.chunks_mut(rows * w));
    let mut chunks: [_; N] = std::array::from_fn(|_| chunks.next().expect("N buffers"));
    let parts: Vec<[&mut [f32]; N]> = (0..batch.div_ceil(rows))
        .map(|_| {
            chunks
                .each_mut()
                .map(|c| c.next().expect("a share of every buffer"))
        })
        .collect();
    parts
        .into_par_iter()
        .enumerate()
        .for_each(|(k, part)| f(k * rows, rows.min(batch - k * rows), part));
}

/// Implements a fused recurrence's backend extension trait for Flex and for autodiff on Flex
/// with the kernel `$kernel`; the `$arg`s name the operation's five tensor inputs in order.
macro_rules! fused_backend {
    ($backend:ident :: $method:ident for $kernel:ty, ($($arg:ident),+)) => {
        impl $backend for burn::backend::Flex {
            fn $method(
                $($arg: burn::backend::flex::FlexTensor,)+
                reverse: bool,
            ) -> burn::backend::flex::FlexTensor {
                $crate::rnn::fused::flex_forward::<$kernel>([$($arg),+], reverse)
            }
        }

        impl<C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> $backend
            for burn::backend::Autodiff<burn::backend::Flex, C>
        {
            fn $method(
                $($arg: burn::backend::tensor::FloatTensor<Self>,)+
                reverse: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::rnn::fused::autodiff_forward::<$kernel, C>([$($arg),+], reverse)
            }
        }
    };
}
pub(crate) use fused_backend;

/// The operation on Flex: the forward kernel alone.
pub(crate) fn flex_forward<K: FusedKernel>(tensors: [FlexTensor; 5], reverse: bool) -> FlexTensor {
    let inputs = Inputs::new::<K>(&tensors, reverse);
    let forward = forward::<K>(inputs.slices(), inputs.dims);
    to_flex(forward.states, states_shape::<K>(inputs.dims))
}

/// The operation on autodiff over Flex: the forward kernel, keeping what the backward needs
/// when a gradient is wanted.
pub(crate) fn autodiff_forward<K: FusedKernel, C: CheckpointStrategy>(
    tensors: [FloatTensor<Autodiff<Flex, C>>; 5],
    reverse: bool,
) -> FloatTensor<Autodiff<Flex, C>> {
    // The mask is a constant: no gradient flows into it.
    let nodes = [0, 1, 2, 3].map(|i| tensors[i].node());
    let tensors = tensors.map(|t| t.into_primitive());
    match FusedBackward::<K>::default()
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let inputs = Inputs::new::<K>(&tensors, reverse);
            let forward = forward::<K>(inputs.slices(), inputs.dims);
            let states = to_flex(forward.states, states_shape::<K>(inputs.dims));
            let record = Record {
                states: states.clone(),
                gates: Arc::new(forward.gates),
                inputs,
            };
            prep.finish(record, states)
        }
        OpsKind::UnTracked(prep) => prep.finish(flex_forward::<K>(tensors, reverse)),
    }
}

fn states_shape<K: FusedKernel>(d: Dims) -> [usize; 3] {
    [d.batch, d.steps, K::STATE * d.hidden]
}

/// The backward step registered in the autodiff graph; its parents are the four
/// differentiable inputs.
#[derive(Debug, Default)]
struct FusedBackward<K>(K);

/// What the backward pass needs from the forward: the inputs, the states and the gates.
#[derive(Clone)]
struct Record {
    inputs: Inputs,
    states: FlexTensor,
    gates: Arc<Vec<f32>>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Record({:?})", self.inputs.dims)
    }
}

impl<K: FusedKernel> Backward<Flex, 4> for FusedBackward<K> {
    type State = Record;

    fn backward(self, ops: Ops<Record, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let d_states = grads.consume::<Flex>(&ops.node).to_contiguous();
        let Record {
            inputs,
            states,
            gates,
        } = ops.state;
        let states = states.to_contiguous();
        let d_states = d_states.as_slice::<f32>().expect("f32 state gradients");
        let states = states.as_slice::<f32>().expect("f32 states");
        let input_grads = backward::<K>(inputs.slices(), states, &gates, d_states, inputs.dims);
        for ((parent, grad), input) in ops
            .parents
            .into_iter()
            .zip(input_grads)
            .zip(&inputs.tensors)
        {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, to_flex(grad, input.layout().shape().clone()));
            }
        }
    }
}

/// The operation's inputs as contiguous Flex tensors, with their sizes.
#[derive(Clone)]
struct Inputs {
    tensors: [FlexTensor; 5],
    dims: Dims,
}

impl Inputs {
    fn new<K: FusedKernel>(tensors: &[FlexTensor; 5], reverse: bool) -> Self {
        let [batch, steps, gates] = tensors[0].layout().shape().dims::<3>();
        let hidden = gates / K::GATES;
        assert_eq!(
            tensors[1].layout().shape().dims::<2>(),
            [hidden, gates],
            "the {} weight_hh is [H, {}H]",
            K::NAME,
            K::GATES
        );
        Self {
            tensors: tensors.each_ref().map(FlexTensor::to_contiguous),
            dims: Dims {
                batch,
                steps,
                hidden,
                reverse,
            },
        }
    }

    fn slices(&self) -> Slices<'_> {
        self.tensors.each_ref().map(|t| {
            t.as_slice::<f32>()
                .expect("the fused recurrences run in f32 (see fused_lstm::is_fused)")
        })
    }
}

fn to_flex(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The keep mask `[B, T]` of the operation (1.0 = real step, 0.0 = padding) for a padding
/// mask (`true` = pad).
pub(crate) fn keep_mask(
    padding: Option<&Tensor<2, Bool>>,
    [batch, steps]: [usize; 2],
    device: &Device,
) -> Tensor<2> {
    match padding {
        Some(pad) => pad.clone().bool_not().float(),
        None => Tensor::ones([batch, steps], device),
    }
}

/// Splits the operation's output `[B, T, S·H]`: the hidden states `[B, T, H]` (zero at padded
/// steps) and the state after the last step processed, `[B, S·H]` (step 0 when `reverse`).
pub(crate) fn outputs_and_final_state(
    states: Tensor<3>,
    hidden: usize,
    padding: Option<Tensor<2, Bool>>,
    reverse: bool,
) -> (Tensor<3>, Tensor<2>) {
    let [batch, steps, width] = states.dims();
    let last = if reverse { 0 } else { steps - 1 };
    let final_state = states.clone().narrow(1, last, 1).squeeze_dim::<2>(1);
    let mut outputs = if width > hidden {
        states.narrow(2, 0, hidden)
    } else {
        states
    };
    if let Some(pad) = padding {
        outputs = outputs.mask_fill(
            pad.unsqueeze_dim::<3>(2).expand([batch, steps, hidden]),
            0.0,
        );
    }
    (outputs, final_state)
}

/// The fused LSTM and GRU against their unrolled cells (burn's autodiff through the step
/// functions) and finite differences.
#[cfg(test)]
mod tests {
    use crate::rnn::testing::{
        check_backward_equals_unrolled, check_forward_equals_unrolled,
        check_recurrent_grads_by_finite_differences,
    };
    use crate::rnn::{GruCell, LstmCell};

    #[test]
    fn forward_equals_the_unrolled_cell() {
        check_forward_equals_unrolled::<LstmCell>(&[6, 16]);
        check_forward_equals_unrolled::<GruCell>(&[5, 16]);
    }

    #[test]
    fn backward_equals_autodiff_through_the_unrolled_cell() {
        check_backward_equals_unrolled::<LstmCell>();
        check_backward_equals_unrolled::<GruCell>();
    }

    #[test]
    fn recurrent_gradients_match_finite_differences() {
        check_recurrent_grads_by_finite_differences::<LstmCell>(false);
        check_recurrent_grads_by_finite_differences::<GruCell>(true);
    }
}
