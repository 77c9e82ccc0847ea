//! Test support shared by the three cells: the gradient check of their fused parameters.

use burn::module::Param;
use burn::prelude::*;

use super::{GruCell, LstmCell, RnnCell, StepGrads};
use crate::test_util::check_grad;

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
