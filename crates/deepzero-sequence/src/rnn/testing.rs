//! Test support shared by the three cells: the gradient check of their fused parameters, and
//! the checks of the fused recurrences (LSTM, GRU) against the unrolled cells and finite
//! differences.

use burn::module::Param;
use burn::prelude::*;

use deepzero_core::gradcheck::{GradCheck, check_against_finite_differences};

use super::{
    Direction, GruCell, GruCellConfig, LstmCell, LstmCellConfig, LstmState, Recurrence,
    RecurrentState, RnnCell, StepGrads, fused_gru, fused_lstm, unroll,
};
use crate::test_util::{assert_close, check_grad, device, rng, uniform2, uniform3};

/// A cell with the fused parameters `W_ih, W_hh, b_ih, b_hh`, which a gradient check perturbs
/// one at a time.
pub(crate) trait FusedCell: Clone {
    /// `[W_ih, W_hh]`.
    fn weights_mut(&mut self) -> [&mut Param<Tensor<2>>; 2];
    /// `[b_ih, b_hh]`.
    fn biases_mut(&mut self) -> [&mut Option<Param<Tensor<1>>>; 2];
}

macro_rules! fused_cell {
    ($cell:ty) => {
        impl FusedCell for $cell {
            fn weights_mut(&mut self) -> [&mut Param<Tensor<2>>; 2] {
                [&mut self.weight_ih, &mut self.weight_hh]
            }
            fn biases_mut(&mut self) -> [&mut Option<Param<Tensor<1>>>; 2] {
                [&mut self.bias_ih, &mut self.bias_hh]
            }
        }
    };
}
fused_cell!(RnnCell);
fused_cell!(GruCell);
fused_cell!(LstmCell);

/// Checks the hand-derived parameter gradients `grads` of one step against burn's autodiff and
/// finite differences of `loss`, replacing each of the cell's four parameters in turn (the cell
/// must have biases).
#[track_caller]
pub(crate) fn check_param_grads<C: FusedCell>(
    cell: &C,
    loss: impl Fn(&C) -> Tensor<1>,
    grads: &StepGrads,
) {
    for (i, analytic) in [&grads.weight_ih, &grads.weight_hh].into_iter().enumerate() {
        let at = cell.clone().weights_mut()[i].val();
        let with_weight = |w| {
            let mut c = cell.clone();
            *c.weights_mut()[i] = Param::from_tensor(w);
            loss(&c)
        };
        check_grad(with_weight, &at, analytic);
    }
    for (i, analytic) in [&grads.bias_ih, &grads.bias_hh].into_iter().enumerate() {
        let at = cell.clone().biases_mut()[i]
            .as_ref()
            .expect("a cell with biases")
            .val();
        let with_bias = |b| {
            let mut c = cell.clone();
            *c.biases_mut()[i] = Some(Param::from_tensor(b));
            loss(&c)
        };
        check_grad(with_bias, &at, analytic.as_ref().expect("bias gradients"));
    }
}

/// A cell with a fused recurrence ([`super::fused`]), as its checks see it.
pub(crate) trait FusedUnderTest: FusedCell + Recurrence {
    /// A cell initialised from `seed`.
    fn seeded(seed: u64, d_input: usize, hidden: usize, device: &Device) -> Self;

    /// The fused recurrence (`run_fused`).
    fn fused(
        &self,
        x: Tensor<3>,
        state: Option<Self::State>,
        padding: Option<Tensor<2, Bool>>,
        reverse: bool,
    ) -> (Tensor<3>, Self::State);

    /// The state's tensors: `[h]`, or `[h, c]`.
    fn parts(state: &Self::State) -> Vec<Tensor<2>>;

    /// The state of these tensors.
    fn from_parts(parts: Vec<Tensor<2>>) -> Self::State;
}

impl FusedUnderTest for LstmCell {
    fn seeded(seed: u64, d_input: usize, hidden: usize, device: &Device) -> Self {
        device.seed(seed);
        LstmCellConfig::new(d_input, hidden).init(device)
    }

    fn fused(
        &self,
        x: Tensor<3>,
        state: Option<LstmState>,
        padding: Option<Tensor<2, Bool>>,
        reverse: bool,
    ) -> (Tensor<3>, LstmState) {
        fused_lstm::run_fused(self, x, state, padding, reverse)
    }

    fn parts(state: &LstmState) -> Vec<Tensor<2>> {
        vec![state.hidden.clone(), state.cell.clone()]
    }

    fn from_parts(parts: Vec<Tensor<2>>) -> LstmState {
        let [hidden, cell] = <[Tensor<2>; 2]>::try_from(parts).expect("h and c");
        LstmState { hidden, cell }
    }
}

impl FusedUnderTest for GruCell {
    fn seeded(seed: u64, d_input: usize, hidden: usize, device: &Device) -> Self {
        device.seed(seed);
        GruCellConfig::new(d_input, hidden).init(device)
    }

    fn fused(
        &self,
        x: Tensor<3>,
        state: Option<Tensor<2>>,
        padding: Option<Tensor<2, Bool>>,
        reverse: bool,
    ) -> (Tensor<3>, Tensor<2>) {
        fused_gru::run_fused(self, x, state, padding, reverse)
    }

    fn parts(state: &Tensor<2>) -> Vec<Tensor<2>> {
        vec![state.clone()]
    }

    fn from_parts(mut parts: Vec<Tensor<2>>) -> Tensor<2> {
        parts.pop().expect("h")
    }
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

/// The direction a fused recurrence runs `reverse` in.
fn direction(reverse: bool) -> Direction {
    if reverse {
        Direction::Backward
    } else {
        Direction::Forward
    }
}

/// A random state of `batch` sequences: `h` in ±0.5, `c` in ±1.
fn random_state<C: FusedUnderTest>(seed: u64, batch: usize, hidden: usize) -> C::State {
    let mut r = rng(seed);
    let width = C::parts(&C::State::zeros(1, 1, &device())).len();
    let parts = (0..width)
        .map(|k| {
            let bound = if k == 0 { 0.5 } else { 1.0 };
            uniform2(&mut r, batch, hidden, -bound, bound)
        })
        .collect();
    C::from_parts(parts)
}

/// The fused recurrence equals [`unroll`] in both directions, with and without padding and
/// an initial state, for each hidden width (a multiple of 16 fills whole register tiles of
/// the small products; others leave ragged panels).
pub(crate) fn check_forward_equals_unrolled<C: FusedUnderTest>(hiddens: &[usize]) {
    for &hidden in hiddens {
        let cell = C::seeded(1, 5, hidden, &device());
        let x = uniform3(&mut rng(2), [3, 7, 5], -1.0, 1.0);
        for reverse in [false, true] {
            for pad in [None, Some(padding(7))] {
                for init in [None, Some(random_state::<C>(3, 3, hidden))] {
                    let (ours, s) = cell.fused(x.clone(), init.clone(), pad.clone(), reverse);
                    let (theirs, t) =
                        unroll(&cell, x.clone(), init, pad.clone(), direction(reverse));
                    assert_close(&ours, &theirs, 0.0, 1e-5);
                    for (a, b) in C::parts(&s).iter().zip(&C::parts(&t)) {
                        assert_close(a, b, 0.0, 1e-5);
                    }
                }
            }
        }
    }
}

/// `L = Σ P ⊙ outputs + Σ_k Q_k ⊙ (final state)_k` reaches every output of the operation.
fn loss<C: FusedUnderTest>(outputs: Tensor<3>, last: &C::State) -> Tensor<1> {
    let [b, t, h] = outputs.dims();
    let mut r = rng(9);
    let dev = outputs.device();
    let p = uniform3(&mut r, [b, t, h], -1.0, 1.0).to_device(&dev);
    C::parts(last)
        .into_iter()
        .fold((outputs * p).sum(), |l, part| {
            l + (part * uniform2(&mut r, b, h, -1.0, 1.0).to_device(&dev)).sum()
        })
}

/// The cell's `[W_ih, W_hh]` and `[b_ih, b_hh]` as tensors.
fn params<C: FusedUnderTest>(cell: &C) -> (Vec<Tensor<2>>, Vec<Tensor<1>>) {
    let mut c = cell.clone();
    let weights = c.weights_mut().map(|w| w.val()).to_vec();
    let biases = c
        .biases_mut()
        .map(|b| b.as_ref().expect("a cell with biases").val())
        .to_vec();
    (weights, biases)
}

/// Gradients of [`loss`] with respect to x, the initial state and the four parameters (of a
/// cell on an autodiff device), through the fused recurrence or [`unroll`].
fn gradients<C: FusedUnderTest>(
    cell: &C,
    x: &Tensor<3>,
    init: &C::State,
    pad: Option<Tensor<2, Bool>>,
    reverse: bool,
    fused: bool,
) -> Vec<Tensor<2>> {
    let ad = device().autodiff();
    let x = x.clone().autodiff().require_grad();
    let init: Vec<Tensor<2>> = C::parts(init)
        .into_iter()
        .map(|p| p.autodiff().require_grad())
        .collect();
    let state = Some(C::from_parts(init.clone()));
    let pad = pad.map(|p| p.to_device(&ad));
    let (out, last) = if fused {
        cell.fused(x.clone(), state, pad, reverse)
    } else {
        unroll(cell, x.clone(), state, pad, direction(reverse))
    };
    let grads = loss::<C>(out, &last).backward();
    let (weights, biases) = params(cell);
    let mut all = vec![x.grad(&grads).unwrap().flatten(0, 1)];
    all.extend(init.iter().map(|s| s.grad(&grads).unwrap()));
    all.extend(weights.iter().map(|w| w.grad(&grads).unwrap()));
    all.extend(
        biases
            .iter()
            .map(|b| b.grad(&grads).unwrap().unsqueeze::<2>()),
    );
    all
}

/// The fused backward gives the gradients autodiff gives through the unrolled cell.
pub(crate) fn check_backward_equals_unrolled<C: FusedUnderTest>() {
    let cell = C::seeded(4, 4, 5, &device().autodiff());
    let x = uniform3(&mut rng(5), [3, 6, 4], -1.0, 1.0);
    let init = random_state::<C>(6, 3, 5);
    for reverse in [false, true] {
        for pad in [None, Some(padding(6))] {
            let ours = gradients(&cell, &x, &init, pad.clone(), reverse, true);
            let theirs = gradients(&cell, &x, &init, pad, reverse, false);
            for (a, b) in ours.iter().zip(&theirs) {
                assert_close(a, b, 1e-4, 1e-5);
            }
        }
    }
}

/// The fused gradients of `W_hh` and `b_hh` (the operation's own parameters) agree with
/// finite differences of the loss, over a padded batch.
pub(crate) fn check_recurrent_grads_by_finite_differences<C: FusedUnderTest>(reverse: bool) {
    let cell = C::seeded(7, 3, 4, &device().autodiff());
    let x = uniform3(&mut rng(8), [3, 5, 3], -1.0, 1.0);
    let init = random_state::<C>(10, 3, 4);
    let pad = Some(padding(5));
    let grads = gradients(&cell, &x, &init, pad.clone(), reverse, true);
    let n = grads.len();
    // [.., W_ih, W_hh, b_ih, b_hh]: the recurrent ones are the second of each pair.
    let (d_weight_hh, d_bias_hh) = (&grads[n - 3], grads[n - 1].clone().squeeze_dim::<1>(0));
    let loss_with = |c: &C| {
        let (out, last) = c.fused(x.clone(), Some(init.clone()), pad.clone(), reverse);
        loss::<C>(out, &last)
    };
    let cfg = GradCheck::default();
    let (weights, biases) = params(&cell);
    let with_weight = |w| {
        let mut c = cell.clone();
        *c.weights_mut()[1] = Param::from_tensor(w);
        loss_with(&c)
    };
    let w = check_against_finite_differences(with_weight, &weights[1], d_weight_hh, &cfg).unwrap();
    assert!(w.passed, "W_hh: {w:?}");
    let with_bias = |b| {
        let mut c = cell.clone();
        *c.biases_mut()[1] = Some(Param::from_tensor(b));
        loss_with(&c)
    };
    let b = check_against_finite_differences(with_bias, &biases[1], &d_bias_hh, &cfg).unwrap();
    assert!(b.passed, "b_hh: {b:?}");
}
