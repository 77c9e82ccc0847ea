//! The vanilla (Elman) recurrent cell (seed chapter 4.1.1, lines 820–826).
//!
//! ```text
//! h_t = tanh(x_t W_ih + b_ih + h_{t−1} W_hh + b_hh)          (seed: h_t = σ(W_h · [h_{t−1}, x_t] + b_h))
//! ```
//!
//! The seed leaves the activation open ("usually sigmoid or tanh"); tanh is the standard
//! choice (zero-centred, and what burn's `Rnn` and PyTorch's `nn.RNN` use). The output layer
//! `y_t = W_o h_t + b_o` of the seed is an ordinary `Linear` on top of the hidden states.
//!
//! Backward of one step, with `a = x W_ih + b_ih + h W_hh + b_hh`, `h' = tanh(a)` and the
//! upstream gradient `ḡ = ∂L/∂h'`:
//!
//! ```text
//! ∂L/∂a    = ḡ ⊙ (1 − h'²)
//! ∂L/∂x    = ∂L/∂a · W_ihᵀ          ∂L/∂h    = ∂L/∂a · W_hhᵀ
//! ∂L/∂W_ih = xᵀ · ∂L/∂a             ∂L/∂W_hh = hᵀ · ∂L/∂a
//! ∂L/∂b_ih = ∂L/∂b_hh = Σ_batch ∂L/∂a
//! ```
//!
//! Through time the factor `(1 − h'²) W_hhᵀ` multiplies once per step, which is why the
//! gradient of a long sequence vanishes or explodes (seed 4.1.2).

use burn::module::Param;
use burn::prelude::*;

use super::{Direction, FusedParams, Recurrence, StepGrads, affine, batch_sum, fuse_gates, unroll};

/// Configuration of an [`RnnCell`].
#[derive(Config, Debug)]
pub struct RnnCellConfig {
    /// Input features.
    pub d_input: usize,
    /// Hidden state width `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
}

impl RnnCellConfig {
    /// Builds the cell with PyTorch's initialisation `U(−1/√H, 1/√H)`.
    pub fn init(&self, device: &Device) -> RnnCell {
        let p = FusedParams::init(self.d_input, self.d_hidden, 1, self.bias, device);
        RnnCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: self.d_hidden,
        }
    }
}

/// Elman RNN cell, `h' = tanh(x W_ih + b_ih + h W_hh + b_hh)`.
#[derive(Module, Debug)]
pub struct RnnCell {
    /// Input weights `[d_input, H]`.
    pub weight_ih: Param<Tensor<2>>,
    /// Recurrent weights `[H, H]`.
    pub weight_hh: Param<Tensor<2>>,
    /// Input bias `[H]`.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// Recurrent bias `[H]`.
    pub bias_hh: Option<Param<Tensor<1>>>,
    /// Hidden width `H`.
    pub d_hidden: usize,
}

impl RnnCell {
    /// Copies the weights of burn's [`burn::nn::Rnn`] (one `GateController`).
    ///
    /// burn's `Rnn` must use its default tanh activation and no clipping for the two to agree.
    pub fn from_burn(rnn: &burn::nn::Rnn) -> Self {
        let p = fuse_gates(&[&rnn.gate]);
        Self {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: rnn.d_hidden,
        }
    }

    /// One step.
    ///
    /// # Shapes
    /// - x: `[B, d_input]`, hidden: `[B, H]`
    /// - output: the new hidden state `[B, H]`
    pub fn step(&self, x: Tensor<2>, hidden: Tensor<2>) -> Tensor<2> {
        let projected = affine(
            x,
            self.weight_ih.val(),
            self.bias_ih.as_ref().map(|b| b.val()),
        );
        self.step_projected(projected, hidden)
    }

    /// Hand-derived backward of [`step`](Self::step) for the upstream gradient
    /// `grad_hidden = ∂L/∂h'` (`[B, H]`).
    pub fn step_backward(
        &self,
        x: Tensor<2>,
        hidden: Tensor<2>,
        grad_hidden: Tensor<2>,
    ) -> StepGrads {
        let next = self.step(x.clone(), hidden.clone());
        // ∂L/∂a = ḡ ⊙ (1 − h'²)
        let grad_pre = grad_hidden * next.square().neg().add_scalar(1.0);
        StepGrads {
            x: grad_pre.clone().matmul(self.weight_ih.val().transpose()),
            hidden: grad_pre.clone().matmul(self.weight_hh.val().transpose()),
            cell: None,
            weight_ih: x.transpose().matmul(grad_pre.clone()),
            weight_hh: hidden.transpose().matmul(grad_pre.clone()),
            bias_ih: self.bias_ih.as_ref().map(|_| batch_sum(grad_pre.clone())),
            bias_hh: self.bias_hh.as_ref().map(|_| batch_sum(grad_pre)),
        }
    }

    /// Runs the cell left to right over a (padded) batch.
    ///
    /// # Shapes
    /// - x: `[B, T, d_input]`, hidden: `[B, H]` (zeros if `None`), padding: `[B, T]` (`true` = pad)
    /// - output: `([B, T, H]` hidden states, final hidden state `[B, H])`
    pub fn forward(
        &self,
        x: Tensor<3>,
        hidden: Option<Tensor<2>>,
        padding: Option<Tensor<2, Bool>>,
    ) -> (Tensor<3>, Tensor<2>) {
        unroll(self, x, hidden, padding, Direction::Forward)
    }
}

impl Recurrence for RnnCell {
    type State = Tensor<2>;

    fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    fn project_inputs(&self, x: Tensor<3>) -> Tensor<3> {
        affine(
            x,
            self.weight_ih.val(),
            self.bias_ih.as_ref().map(|b| b.val()),
        )
    }

    fn step_projected(&self, projected: Tensor<2>, hidden: Tensor<2>) -> Tensor<2> {
        let recurrent = affine(
            hidden,
            self.weight_hh.val(),
            self.bias_hh.as_ref().map(|b| b.val()),
        );
        (projected + recurrent).tanh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::testing::check_param_grads;
    use crate::test_util::*;
    use burn::nn::RnnConfig;

    #[test]
    fn shapes_and_parameter_count() {
        let cell = RnnCellConfig::new(3, 5).init(&device());
        // W_ih 3·5 + W_hh 5·5 + two biases 5 + 5.
        assert_eq!(cell.num_params(), 15 + 25 + 10);
        let (out, h) = cell.forward(Tensor::zeros([2, 4, 3], &device()), None, None);
        assert_eq!(out.dims(), [2, 4, 5]);
        assert_eq!(h.dims(), [2, 5]);
    }

    #[test]
    fn one_step_backward_matches_autodiff_and_finite_differences() {
        let mut r = rng(1);
        let cell = RnnCellConfig::new(3, 4).init(&device());
        let x = uniform2(&mut r, 2, 3, -1.0, 1.0);
        let h = uniform2(&mut r, 2, 4, -1.0, 1.0);
        let probe = uniform2(&mut r, 2, 4, -1.0, 1.0); // L = Σ probe ⊙ h'
        let grads = cell.step_backward(x.clone(), h.clone(), probe.clone());
        let loss = |c: &RnnCell, x: Tensor<2>, h: Tensor<2>| (c.step(x, h) * probe.clone()).sum();

        check_grad(|x| loss(&cell, x, h.clone()), &x, &grads.x);
        check_grad(|h| loss(&cell, x.clone(), h), &h, &grads.hidden);
        check_param_grads(&cell, |c| loss(c, x.clone(), h.clone()), &grads);
    }

    #[test]
    fn equals_burn_rnn() {
        let dev = device();
        dev.seed(3);
        let burn_rnn = RnnConfig::new(3, 5, true).init(&dev);
        let cell = RnnCell::from_burn(&burn_rnn);
        let mut r = rng(4);
        let x = uniform3(&mut r, [4, 6, 3], -1.0, 1.0);
        let h0 = uniform2(&mut r, 4, 5, -0.5, 0.5);
        let (ours, h) = cell.forward(x.clone(), Some(h0.clone()), None);
        let (theirs, state) = burn_rnn.forward(x, Some(burn::nn::RnnState::new(h0)));
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(&h, &state.hidden, 0.0, 1e-5);
    }
}
