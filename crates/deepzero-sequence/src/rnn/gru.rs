//! Gated recurrent unit (Cho et al. 2014, "Learning Phrase Representations using RNN
//! Encoder–Decoder for Statistical Machine Translation"; seed chapters 1.3.2 and 4.2, which
//! mention the GRU as "a simplified LSTM" without equations).
//!
//! With `a = x W_ih + b_ih` and `b = h W_hh + b_hh`, each split into blocks in PyTorch's gate
//! order `(r, z, n)`:
//!
//! ```text
//! r = σ(a_r + b_r)                         reset gate
//! z = σ(a_z + b_z)                         update gate
//! n = tanh(a_n + r ⊙ (h W_hn + b_hn))      reset after  (PyTorch, cuDNN, burn's default; arXiv v1)
//! n = tanh(a_n + (r ⊙ h) W_hn + b_hn)      reset before (the paper's final version, arXiv v3)
//! h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! Reset-after lets all three recurrent products `h W_hh` be done at once before the reset
//! gate is known; reset-before needs a second product after it. The two are different
//! functions of the same weights (test `reset_conventions_differ`).
//!
//! Backward of one step (reset after), upstream `ḡ = ∂L/∂h'`:
//!
//! ```text
//! ∂L/∂n = ḡ ⊙ (1 − z)      ∂L/∂z = ḡ ⊙ (h − n)      ∂L/∂h ← ḡ ⊙ z  (direct path)
//! δ_n = ∂L/∂n ⊙ (1 − n²)    ∂L/∂r = δ_n ⊙ b_n         δ_r = ∂L/∂r ⊙ r(1 − r)   δ_z = ∂L/∂z ⊙ z(1 − z)
//! input side:      ∂L/∂a = [δ_r, δ_z, δ_n]
//! recurrent side:  ∂L/∂b = [δ_r, δ_z, δ_n ⊙ r]
//! ∂L/∂x = ∂L/∂a W_ihᵀ,  ∂L/∂h += ∂L/∂b W_hhᵀ,  ∂L/∂W_ih = xᵀ ∂L/∂a,  ∂L/∂W_hh = hᵀ ∂L/∂b
//! ```
//!
//! Reset before: `∂L/∂W_hn = (r ⊙ h)ᵀ δ_n`, `∂L/∂(r ⊙ h) = δ_n W_hnᵀ`, which adds
//! `∂L/∂(r ⊙ h) ⊙ r` to `∂L/∂h` and gives `∂L/∂r = ∂L/∂(r ⊙ h) ⊙ h`.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::{
    Direction, FusedParams, Recurrence, StepGrads, affine, batch_sum, fuse_gates, fused_gru,
    fused_lstm, unroll,
};
use crate::error::SequenceError;

/// Configuration of a [`GruCell`].
#[derive(Config, Debug)]
pub struct GruCellConfig {
    /// Input features.
    pub d_input: usize,
    /// Hidden state width `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// `true`: PyTorch's `n = tanh(a_n + r ⊙ (h W_hn + b_hn))`; `false`: the paper's
    /// `n = tanh(a_n + (r ⊙ h) W_hn + b_hn)`.
    #[config(default = true)]
    pub reset_after: bool,
    /// Constant added to the update-gate part of `b_ih` at initialisation. A positive value
    /// pushes `z` towards 1, so that the cell copies its state by default (the GRU analogue of
    /// an LSTM forget-gate bias); 0.0 is PyTorch's.
    #[config(default = 0.0)]
    pub update_bias: f64,
}

impl GruCellConfig {
    /// Builds the cell with PyTorch's initialisation `U(−1/√H, 1/√H)` (plus `update_bias`).
    pub fn init(&self, device: &Device) -> GruCell {
        let h = self.d_hidden;
        let mut p = FusedParams::init(self.d_input, h, 3, self.bias, device);
        if self.update_bias != 0.0 {
            p.bias_ih = p.bias_ih.map(|b| {
                let shift =
                    Tensor::<1>::zeros([3 * h], device).slice_fill(h..2 * h, self.update_bias);
                Param::from_tensor((b.val() + shift).detach())
            });
        }
        GruCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: self.d_hidden,
            reset_after: self.reset_after,
        }
    }
}

/// GRU cell. The three gates are fused in PyTorch's order `(r, z, n)`.
#[derive(Module, Debug)]
pub struct GruCell {
    /// Input weights `[d_input, 3H]`, gate blocks `r, z, n`.
    pub weight_ih: Param<Tensor<2>>,
    /// Recurrent weights `[H, 3H]`.
    pub weight_hh: Param<Tensor<2>>,
    /// Input bias `[3H]`.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// Recurrent bias `[3H]`.
    pub bias_hh: Option<Param<Tensor<1>>>,
    /// Hidden width `H`.
    pub d_hidden: usize,
    /// Which candidate formula (see the module documentation).
    pub reset_after: bool,
}

/// Everything one step computes, kept for the backward pass.
struct Trace {
    reset: Tensor<2>,
    update: Tensor<2>,
    candidate: Tensor<2>,
    /// `h W_hn + b_hn` (reset after) or `(r ⊙ h) W_hn + b_hn` (reset before).
    recurrent_n: Tensor<2>,
    next: Tensor<2>,
}

impl GruCell {
    /// Copies the weights of burn's [`burn::nn::Gru`]: its `reset_gate`, `update_gate` and
    /// `new_gate` controllers become the blocks `r, z, n`; `reset_after` is taken over.
    ///
    /// # Errors
    /// [`SequenceError::Unsupported`] for a clipped GRU or non-default activations.
    pub fn from_burn(gru: &burn::nn::Gru) -> crate::Result<Self> {
        use burn::nn::activation::Activation;
        if gru.clip.is_some() {
            return Err(SequenceError::Unsupported(
                "burn Gru with a hidden clip".into(),
            ));
        }
        if !(matches!(gru.gate_activation, Activation::Sigmoid(_))
            && matches!(gru.hidden_activation, Activation::Tanh(_)))
        {
            return Err(SequenceError::Unsupported(
                "burn Gru with non-default activations".into(),
            ));
        }
        let p = fuse_gates(&[&gru.reset_gate, &gru.update_gate, &gru.new_gate]);
        Ok(Self {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: gru.d_hidden,
            reset_after: gru.reset_after,
        })
    }

    /// The input side of every gate, `x W_ih + b_ih`.
    pub(crate) fn project<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        affine(
            x,
            self.weight_ih.val(),
            self.bias_ih.as_ref().map(|b| b.val()),
        )
    }

    /// Columns `range` of `W_hh` and `b_hh` applied to `h`.
    fn recurrent(&self, h: Tensor<2>, range: std::ops::Range<usize>) -> Tensor<2> {
        let w = self.weight_hh.val().slice(s![.., range.clone()]);
        let b = self.bias_hh.as_ref().map(|b| b.val().slice(range));
        affine(h, w, b)
    }

    fn trace(&self, projected: Tensor<2>, hidden: Tensor<2>) -> Trace {
        let h = self.d_hidden;
        let [a_r, a_z, a_n]: [Tensor<2>; 3] =
            projected.chunk(3, 1).try_into().expect("three gate blocks");
        let (reset, update, recurrent_n) = if self.reset_after {
            let [b_r, b_z, b_n]: [Tensor<2>; 3] = self
                .recurrent(hidden.clone(), 0..3 * h)
                .chunk(3, 1)
                .try_into()
                .expect("three gate blocks");
            (sigmoid(a_r + b_r), sigmoid(a_z + b_z), b_n)
        } else {
            let [b_r, b_z]: [Tensor<2>; 2] = self
                .recurrent(hidden.clone(), 0..2 * h)
                .chunk(2, 1)
                .try_into()
                .expect("two gate blocks");
            let reset = sigmoid(a_r + b_r);
            let b_n = self.recurrent(reset.clone() * hidden.clone(), 2 * h..3 * h);
            (reset, sigmoid(a_z + b_z), b_n)
        };
        let candidate = if self.reset_after {
            (a_n + reset.clone() * recurrent_n.clone()).tanh()
        } else {
            (a_n + recurrent_n.clone()).tanh()
        };
        // h' = (1 − z) ⊙ n + z ⊙ h
        let next =
            update.clone().neg().add_scalar(1.0) * candidate.clone() + update.clone() * hidden;
        Trace {
            reset,
            update,
            candidate,
            recurrent_n,
            next,
        }
    }

    /// One step.
    ///
    /// # Shapes
    /// - x: `[B, d_input]`, hidden: `[B, H]`
    /// - output: the new hidden state `[B, H]`
    pub fn step(&self, x: Tensor<2>, hidden: Tensor<2>) -> Tensor<2> {
        self.trace(self.project(x), hidden).next
    }

    /// Hand-derived backward of [`step`](Self::step) for the upstream gradient
    /// `grad_hidden = ∂L/∂h'` (`[B, H]`), for either reset convention.
    pub fn step_backward(
        &self,
        x: Tensor<2>,
        hidden: Tensor<2>,
        grad_hidden: Tensor<2>,
    ) -> StepGrads {
        let h = self.d_hidden;
        let Trace {
            reset,
            update,
            candidate,
            recurrent_n,
            ..
        } = self.trace(self.project(x.clone()), hidden.clone());
        let sigmoid_grad = |s: Tensor<2>| s.clone() * s.neg().add_scalar(1.0);

        let d_candidate = grad_hidden.clone() * update.clone().neg().add_scalar(1.0);
        let d_update = grad_hidden.clone() * (hidden.clone() - candidate.clone());
        let mut d_hidden = grad_hidden * update.clone();
        let delta_n = d_candidate * candidate.square().neg().add_scalar(1.0);
        let delta_z = d_update * sigmoid_grad(update);

        let w_hh = self.weight_hh.val();
        let (delta_r, d_recurrent, weight_hh) = if self.reset_after {
            let delta_r = delta_n.clone() * recurrent_n * sigmoid_grad(reset.clone());
            // Gradient of b = h W_hh + b_hh, block by block.
            let d_b = Tensor::cat(
                vec![delta_r.clone(), delta_z.clone(), delta_n.clone() * reset],
                1,
            );
            d_hidden = d_hidden + d_b.clone().matmul(w_hh.transpose());
            let weight_hh = hidden.transpose().matmul(d_b.clone());
            (delta_r, d_b, weight_hh)
        } else {
            let w_hn = w_hh.clone().slice(s![.., 2 * h..3 * h]);
            let reset_hidden = reset.clone() * hidden.clone();
            let d_reset_hidden = delta_n.clone().matmul(w_hn.transpose()); // ∂L/∂(r ⊙ h)
            let delta_r = d_reset_hidden.clone() * hidden.clone() * sigmoid_grad(reset.clone());
            let d_rz = Tensor::cat(vec![delta_r.clone(), delta_z.clone()], 1);
            let w_rz = w_hh.slice(s![.., 0..2 * h]);
            d_hidden = d_hidden + d_reset_hidden * reset + d_rz.clone().matmul(w_rz.transpose());
            let weight_hh = Tensor::cat(
                vec![
                    hidden.transpose().matmul(d_rz.clone()),
                    reset_hidden.transpose().matmul(delta_n.clone()),
                ],
                1,
            );
            (
                delta_r,
                Tensor::cat(vec![d_rz, delta_n.clone()], 1),
                weight_hh,
            )
        };
        let d_a = Tensor::cat(vec![delta_r, delta_z, delta_n], 1); // input side [B, 3H]
        StepGrads {
            x: d_a.clone().matmul(self.weight_ih.val().transpose()),
            hidden: d_hidden,
            cell: None,
            weight_ih: x.transpose().matmul(d_a.clone()),
            weight_hh,
            bias_ih: self.bias_ih.as_ref().map(|_| batch_sum(d_a)),
            bias_hh: self.bias_hh.as_ref().map(|_| batch_sum(d_recurrent)),
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
        self.run(x, hidden, padding, Direction::Forward)
    }

    /// Runs the cell over a (padded) batch in either direction: as one fused operation where
    /// the device has it and the cell resets after ([`fused_lstm::is_fused`]: Flex in `f32`),
    /// else unrolled step by step. Both give the same values and gradients.
    ///
    /// # Shapes
    /// As [`forward`](Self::forward).
    pub fn run(
        &self,
        x: Tensor<3>,
        hidden: Option<Tensor<2>>,
        padding: Option<Tensor<2, Bool>>,
        direction: Direction,
    ) -> (Tensor<3>, Tensor<2>) {
        let steps = x.dims()[1];
        if self.reset_after && steps > 0 && fused_lstm::is_fused(&x.device(), x.dtype()) {
            let reverse = matches!(direction, Direction::Backward);
            fused_gru::run_fused(self, x, hidden, padding, reverse)
        } else {
            unroll(self, x, hidden, padding, direction)
        }
    }
}

impl Recurrence for GruCell {
    type State = Tensor<2>;

    fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    fn project_inputs(&self, x: Tensor<3>) -> Tensor<3> {
        self.project(x)
    }

    fn step_projected(&self, projected: Tensor<2>, hidden: Tensor<2>) -> Tensor<2> {
        self.trace(projected, hidden).next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::testing::check_param_grads;
    use crate::test_util::*;
    use burn::nn::GruConfig;

    fn check_step_backward(reset_after: bool) {
        let mut r = rng(20);
        let cell = GruCellConfig::new(3, 4)
            .with_reset_after(reset_after)
            .init(&device());
        let x = uniform2(&mut r, 2, 3, -1.0, 1.0);
        let h = uniform2(&mut r, 2, 4, -1.0, 1.0);
        let probe = uniform2(&mut r, 2, 4, -1.0, 1.0);
        let grads = cell.step_backward(x.clone(), h.clone(), probe.clone());
        let loss = |c: &GruCell, x: Tensor<2>, h: Tensor<2>| (c.step(x, h) * probe.clone()).sum();

        check_grad(|x| loss(&cell, x, h.clone()), &x, &grads.x);
        check_grad(|h| loss(&cell, x.clone(), h), &h, &grads.hidden);
        check_param_grads(&cell, |c| loss(c, x.clone(), h.clone()), &grads);
    }

    #[test]
    fn one_step_backward_matches_autodiff_and_finite_differences_reset_after() {
        check_step_backward(true);
    }

    #[test]
    fn one_step_backward_matches_autodiff_and_finite_differences_reset_before() {
        check_step_backward(false);
    }

    #[test]
    fn equals_burn_gru_both_conventions() {
        let dev = device();
        dev.seed(21);
        for (reset_after, bias) in [(true, true), (false, true), (true, false)] {
            let burn_gru = GruConfig::new(3, 5, bias)
                .with_reset_after(reset_after)
                .init(&dev);
            let cell = GruCell::from_burn(&burn_gru).unwrap();
            assert_eq!(cell.reset_after, reset_after);
            let mut r = rng(22);
            let x = uniform3(&mut r, [4, 7, 3], -1.0, 1.0);
            let h0 = uniform2(&mut r, 4, 5, -0.5, 0.5);
            let (ours, last) = cell.forward(x.clone(), Some(h0.clone()), None);
            let theirs = burn_gru.forward(x, Some(h0));
            assert_close(&ours, &theirs, 0.0, 1e-5);
            // burn's Gru::forward returns only the sequence; its final state is the last step.
            assert_close(
                &last,
                &theirs.slice(s![.., 6, ..]).squeeze_dim(1),
                0.0,
                1e-5,
            );
        }
    }

    #[test]
    fn reset_conventions_differ() {
        let mut r = rng(23);
        let after = GruCellConfig::new(3, 4).init(&device());
        let before = GruCell {
            reset_after: false,
            ..after.clone()
        };
        let x = uniform2(&mut r, 5, 3, -1.0, 1.0);
        let h = uniform2(&mut r, 5, 4, -1.0, 1.0);
        let d = max_abs_diff(&after.step(x.clone(), h.clone()), &before.step(x, h));
        assert!(
            d > 1e-3,
            "the two candidate formulas should differ, max diff {d}"
        );
    }
}
