//! Long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers,
//! Schmidhuber & Cummins 2000; seed chapter 4.2.1, lines 852–879).
//!
//! With `z = x W_ih + b_ih + h W_hh + b_hh` split into four `[B, H]` blocks in PyTorch's gate
//! order `(i, f, g, o)`:
//!
//! ```text
//! i = σ(z_i)   input gate            f = σ(z_f)   forget gate
//! g = tanh(z_g) candidate cell       o = σ(z_o)   output gate
//! c' = f ⊙ c + i ⊙ g
//! h' = o ⊙ tanh(c')
//! ```
//!
//! **Seed erratum (lines 875, 879).** The seed writes `c_t = f ⊙ c_{t−1} + i ⊙ σ(W_c[h, x] + b_c)`
//! and `h_t = o ⊙ σ(c_t)`. Both non-linearities must be `tanh`: with a sigmoid the candidate
//! is always positive, so the cell can only add to its memory, never subtract, and `h` is
//! confined to `(0, 1)` instead of `(−1, 1)`. The tests
//! `seed_sigmoid_lstm_differs_from_burn_and_cannot_go_negative` and
//! `equals_burn_lstm_outputs_and_final_state` prove which version burn (and PyTorch) compute.
//! The forget gate scales the previous **cell** state `c_{t−1}` (line 858 says hidden state).
//!
//! Backward of one step, for upstream gradients `ḡ_h = ∂L/∂h'` and `ḡ_c = ∂L/∂c'`:
//!
//! ```text
//! ∂L/∂o  = ḡ_h ⊙ tanh(c')
//! ∂L/∂c' ← ḡ_c + ḡ_h ⊙ o ⊙ (1 − tanh²(c'))        (total gradient reaching c')
//! ∂L/∂i  = ∂L/∂c' ⊙ g      ∂L/∂f = ∂L/∂c' ⊙ c      ∂L/∂g = ∂L/∂c' ⊙ i
//! ∂L/∂c  = ∂L/∂c' ⊙ f                               (the "constant error carousel")
//! ∂L/∂z_{i,f,o} = ∂L/∂{i,f,o} ⊙ σ(1 − σ)             ∂L/∂z_g = ∂L/∂g ⊙ (1 − g²)
//! ∂L/∂x = ∂L/∂z W_ihᵀ,  ∂L/∂h = ∂L/∂z W_hhᵀ,  ∂L/∂W_ih = xᵀ ∂L/∂z,  ∂L/∂W_hh = hᵀ ∂L/∂z
//! ```
//!
//! The path `∂L/∂c = ∂L/∂c' ⊙ f` has no weight matrix and no squashing derivative in it, so
//! with `f ≈ 1` a gradient survives many steps: the reason LSTMs learn long dependencies.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::{
    Direction, FusedParams, Recurrence, RecurrentState, StepGrads, affine, batch_sum, fuse_gates,
    fused_lstm, unroll,
};
use crate::error::SequenceError;

/// Configuration of an [`LstmCell`].
#[derive(Config, Debug)]
pub struct LstmCellConfig {
    /// Input features.
    pub d_input: usize,
    /// Hidden (and cell) state width `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Constant added to the forget-gate part of `b_ih` at initialisation. 1.0 (Gers et al.
    /// 2000; Jozefowicz et al. 2015) makes the cell remember by default; 0.0 is PyTorch's.
    #[config(default = 0.0)]
    pub forget_bias: f64,
    /// Constant added to the input-gate part of `b_ih` at initialisation. `−forget_bias`
    /// gives the "chrono" initialisation of Tallec & Ollivier (2018): a leaky integrator that
    /// writes little and forgets little; 0.0 is PyTorch's.
    #[config(default = 0.0)]
    pub input_bias: f64,
}

impl LstmCellConfig {
    /// Builds the cell with PyTorch's initialisation `U(−1/√H, 1/√H)` (plus the gate biases).
    pub fn init(&self, device: &Device) -> LstmCell {
        let h = self.d_hidden;
        let mut p = FusedParams::init(self.d_input, h, 4, self.bias, device);
        if self.forget_bias != 0.0 || self.input_bias != 0.0 {
            p.bias_ih = p.bias_ih.map(|b| {
                let shift = Tensor::<1>::zeros([4 * h], device)
                    .slice_fill(0..h, self.input_bias)
                    .slice_fill(h..2 * h, self.forget_bias);
                Param::from_tensor((b.val() + shift).detach())
            });
        }
        LstmCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: h,
        }
    }
}

/// LSTM cell. The four gates are fused in PyTorch's order `(i, f, g, o)`.
#[derive(Module, Debug)]
pub struct LstmCell {
    /// Input weights `[d_input, 4H]`, gate blocks `i, f, g, o`.
    pub weight_ih: Param<Tensor<2>>,
    /// Recurrent weights `[H, 4H]`.
    pub weight_hh: Param<Tensor<2>>,
    /// Input bias `[4H]`.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// Recurrent bias `[4H]`.
    pub bias_hh: Option<Param<Tensor<1>>>,
    /// Hidden width `H`.
    pub d_hidden: usize,
}

/// The state an LSTM carries between steps.
#[derive(Debug, Clone)]
pub struct LstmState {
    /// Hidden state `h`, `[B, H]` (the step's output).
    pub hidden: Tensor<2>,
    /// Cell state `c`, `[B, H]`.
    pub cell: Tensor<2>,
}

impl RecurrentState for LstmState {
    fn zeros(batch: usize, d_hidden: usize, device: &Device) -> Self {
        let zeros = Tensor::zeros([batch, d_hidden], device);
        LstmState {
            hidden: zeros.clone(),
            cell: zeros,
        }
    }

    fn hidden(&self) -> Tensor<2> {
        self.hidden.clone()
    }

    fn select(keep_old: Tensor<2, Bool>, new: Self, old: Self) -> Self {
        LstmState {
            hidden: new.hidden.mask_where(keep_old.clone(), old.hidden),
            cell: new.cell.mask_where(keep_old, old.cell),
        }
    }
}

/// The gate activations of one step, kept for the backward pass.
struct Gates {
    input: Tensor<2>,
    forget: Tensor<2>,
    candidate: Tensor<2>,
    output: Tensor<2>,
}

impl LstmCell {
    /// Copies the weights of burn's [`burn::nn::Lstm`], whose four `GateController`s
    /// (`input_gate`, `forget_gate`, `cell_gate`, `output_gate`, each an input and a hidden
    /// `Linear` of shape `[d, H]`) become the column blocks `i, f, g, o` of the fused matrices.
    ///
    /// # Errors
    /// [`SequenceError::Unsupported`] for an `Lstm` built with `input_forget` (coupled gates),
    /// a cell-state clip, or non-default activations, which this cell does not model.
    pub fn from_burn(lstm: &burn::nn::Lstm) -> crate::Result<Self> {
        use burn::nn::activation::Activation;
        let forget = lstm.forget_gate.as_ref().ok_or_else(|| {
            SequenceError::Unsupported("burn Lstm with input_forget (coupled gates)".into())
        })?;
        if lstm.clip.is_some() {
            return Err(SequenceError::Unsupported(
                "burn Lstm with a cell clip".into(),
            ));
        }
        let standard = matches!(lstm.gate_activation, Activation::Sigmoid(_))
            && matches!(lstm.cell_activation, Activation::Tanh(_))
            && matches!(lstm.hidden_activation, Activation::Tanh(_));
        if !standard {
            return Err(SequenceError::Unsupported(
                "burn Lstm with non-default activations".into(),
            ));
        }
        let p = fuse_gates(&[&lstm.input_gate, forget, &lstm.cell_gate, &lstm.output_gate]);
        Ok(Self {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            d_hidden: lstm.d_hidden,
        })
    }

    /// One step.
    ///
    /// # Shapes
    /// - x: `[B, d_input]`, state: `[B, H]` each
    /// - output: the new state
    pub fn step(&self, x: Tensor<2>, state: LstmState) -> LstmState {
        self.step_projected(self.project(x), state)
    }

    /// The input side of every gate, `x W_ih + b_ih`.
    pub(crate) fn project<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        affine(
            x,
            self.weight_ih.val(),
            self.bias_ih.as_ref().map(|b| b.val()),
        )
    }

    /// The gate pre-activations `[z_i, z_f, z_g, z_o]`, each `[B, H]`.
    fn pre_activations(&self, projected: Tensor<2>, hidden: Tensor<2>) -> [Tensor<2>; 4] {
        let z = projected
            + affine(
                hidden,
                self.weight_hh.val(),
                self.bias_hh.as_ref().map(|b| b.val()),
            );
        let [i, f, g, o]: [Tensor<2>; 4] = z.chunk(4, 1).try_into().expect("four gate blocks");
        [i, f, g, o]
    }

    fn gates(&self, projected: Tensor<2>, hidden: Tensor<2>) -> Gates {
        let [i, f, g, o] = self.pre_activations(projected, hidden);
        Gates {
            input: sigmoid(i),
            forget: sigmoid(f),
            candidate: g.tanh(),
            output: sigmoid(o),
        }
    }

    /// Hand-derived backward of [`step`](Self::step) for the upstream gradients
    /// `grad_hidden = ∂L/∂h'` and `grad_cell = ∂L/∂c'` (`[B, H]` each).
    pub fn step_backward(
        &self,
        x: Tensor<2>,
        state: LstmState,
        grad_hidden: Tensor<2>,
        grad_cell: Tensor<2>,
    ) -> StepGrads {
        let LstmState { hidden, cell } = state;
        let Gates {
            input,
            forget,
            candidate,
            output,
        } = self.gates(self.project(x.clone()), hidden.clone());
        let next_cell = forget.clone() * cell.clone() + input.clone() * candidate.clone();
        let tanh_c = next_cell.tanh();

        let sigmoid_grad = |s: Tensor<2>| s.clone() * s.neg().add_scalar(1.0); // σ(1 − σ)
        let d_output = grad_hidden.clone() * tanh_c.clone();
        let d_cell_next =
            grad_cell + grad_hidden * output.clone() * tanh_c.square().neg().add_scalar(1.0);
        let d_input = d_cell_next.clone() * candidate.clone();
        let d_forget = d_cell_next.clone() * cell;
        let d_candidate = d_cell_next.clone() * input.clone();
        let d_cell = d_cell_next * forget.clone();

        let d_z = Tensor::cat(
            vec![
                d_input * sigmoid_grad(input),
                d_forget * sigmoid_grad(forget),
                d_candidate * candidate.square().neg().add_scalar(1.0),
                d_output * sigmoid_grad(output),
            ],
            1,
        ); // [B, 4H]
        StepGrads {
            x: d_z.clone().matmul(self.weight_ih.val().transpose()),
            hidden: d_z.clone().matmul(self.weight_hh.val().transpose()),
            cell: Some(d_cell),
            weight_ih: x.transpose().matmul(d_z.clone()),
            weight_hh: hidden.transpose().matmul(d_z.clone()),
            bias_ih: self.bias_ih.as_ref().map(|_| batch_sum(d_z.clone())),
            bias_hh: self.bias_hh.as_ref().map(|_| batch_sum(d_z)),
        }
    }

    /// Runs the cell left to right over a (padded) batch.
    ///
    /// # Shapes
    /// - x: `[B, T, d_input]`, state: `[B, H]` each (zeros if `None`), padding: `[B, T]`
    ///   (`true` = pad)
    /// - output: `([B, T, H]` hidden states, final state)
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<LstmState>,
        padding: Option<Tensor<2, Bool>>,
    ) -> (Tensor<3>, LstmState) {
        self.run(x, state, padding, Direction::Forward)
    }

    /// Runs the cell over a (padded) batch in either direction: as one fused operation where
    /// the device has it ([`fused_lstm::is_fused`]: Flex in `f32`), else unrolled step by step.
    /// Both give the same values and gradients.
    ///
    /// # Shapes
    /// As [`forward`](Self::forward).
    pub fn run(
        &self,
        x: Tensor<3>,
        state: Option<LstmState>,
        padding: Option<Tensor<2, Bool>>,
        direction: Direction,
    ) -> (Tensor<3>, LstmState) {
        let steps = x.dims()[1];
        if steps > 0 && fused_lstm::is_fused(&x.device(), x.dtype()) {
            let reverse = matches!(direction, Direction::Backward);
            fused_lstm::run_fused(self, x, state, padding, reverse)
        } else {
            unroll(self, x, state, padding, direction)
        }
    }
}

impl Recurrence for LstmCell {
    type State = LstmState;

    fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    fn project_inputs(&self, x: Tensor<3>) -> Tensor<3> {
        self.project(x)
    }

    fn step_projected(&self, projected: Tensor<2>, state: LstmState) -> LstmState {
        let g = self.gates(projected, state.hidden);
        let cell = g.forget * state.cell + g.input * g.candidate;
        let hidden = g.output * cell.clone().tanh();
        LstmState { hidden, cell }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::testing::check_param_grads;
    use crate::test_util::*;
    use burn::nn::LstmConfig;

    fn tiny() -> (LstmCell, Tensor<2>, LstmState) {
        let mut r = rng(10);
        let cell = LstmCellConfig::new(3, 4).init(&device());
        let x = uniform2(&mut r, 2, 3, -1.0, 1.0);
        let state = LstmState {
            hidden: uniform2(&mut r, 2, 4, -1.0, 1.0),
            cell: uniform2(&mut r, 2, 4, -1.5, 1.5),
        };
        (cell, x, state)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let cell = LstmCellConfig::new(3, 5).init(&device());
        assert_eq!(cell.num_params(), 4 * (3 * 5 + 5 * 5 + 5 + 5));
        let (out, s) = cell.forward(Tensor::zeros([2, 4, 3], &device()), None, None);
        assert_eq!(out.dims(), [2, 4, 5]);
        assert_eq!(s.cell.dims(), [2, 5]);
    }

    #[test]
    fn one_step_backward_matches_autodiff_and_finite_differences() {
        let (cell, x, state) = tiny();
        let mut r = rng(11);
        // L = Σ p_h ⊙ h' + Σ p_c ⊙ c' exercises both upstream gradients.
        let (p_h, p_c) = (
            uniform2(&mut r, 2, 4, -1.0, 1.0),
            uniform2(&mut r, 2, 4, -1.0, 1.0),
        );
        let grads = cell.step_backward(x.clone(), state.clone(), p_h.clone(), p_c.clone());
        let loss = |c: &LstmCell, x: Tensor<2>, s: LstmState| {
            let n = c.step(x, s);
            (n.hidden * p_h.clone()).sum() + (n.cell * p_c.clone()).sum()
        };
        let with_h = |h| LstmState {
            hidden: h,
            cell: state.cell.clone(),
        };
        let with_c = |c| LstmState {
            hidden: state.hidden.clone(),
            cell: c,
        };

        check_grad(|x| loss(&cell, x, state.clone()), &x, &grads.x);
        check_grad(
            |h| loss(&cell, x.clone(), with_h(h)),
            &state.hidden,
            &grads.hidden,
        );
        check_grad(
            |c| loss(&cell, x.clone(), with_c(c)),
            &state.cell,
            grads.cell.as_ref().unwrap(),
        );
        check_param_grads(&cell, |c| loss(c, x.clone(), state.clone()), &grads);
    }

    #[test]
    fn equals_burn_lstm_outputs_and_final_state() {
        let dev = device();
        dev.seed(12);
        for bias in [true, false] {
            let burn_lstm = LstmConfig::new(3, 5, bias).init(&dev);
            let cell = LstmCell::from_burn(&burn_lstm).unwrap();
            let mut r = rng(13);
            let x = uniform3(&mut r, [4, 7, 3], -1.0, 1.0);
            let (h0, c0) = (
                uniform2(&mut r, 4, 5, -0.5, 0.5),
                uniform2(&mut r, 4, 5, -0.5, 0.5),
            );
            let (ours, s) = cell.forward(
                x.clone(),
                Some(LstmState {
                    hidden: h0.clone(),
                    cell: c0.clone(),
                }),
                None,
            );
            let (theirs, t) = burn_lstm.forward(x, Some(burn::nn::LstmState::new(c0, h0)));
            assert_close(&ours, &theirs, 0.0, 1e-5);
            assert_close(&s.hidden, &t.hidden, 0.0, 1e-5);
            assert_close(&s.cell, &t.cell, 0.0, 1e-5);
        }
    }

    #[test]
    fn from_burn_rejects_coupled_gates() {
        let burn_lstm = LstmConfig::new(2, 3, true)
            .with_input_forget(true)
            .init(&device());
        assert!(LstmCell::from_burn(&burn_lstm).is_err());
    }

    /// The seed's LSTM (lines 875, 879): σ for the candidate and for the output non-linearity.
    fn seed_step(cell: &LstmCell, x: Tensor<2>, s: LstmState) -> LstmState {
        let [i, f, g, o] = cell.pre_activations(cell.project(x), s.hidden);
        let cell_state = sigmoid(f) * s.cell + sigmoid(i) * sigmoid(g);
        let hidden = sigmoid(o) * sigmoid(cell_state.clone());
        LstmState {
            hidden,
            cell: cell_state,
        }
    }

    #[test]
    fn seed_sigmoid_lstm_differs_from_burn_and_cannot_go_negative() {
        let dev = device();
        dev.seed(14);
        let burn_lstm = LstmConfig::new(3, 5, true).init(&dev);
        let cell = LstmCell::from_burn(&burn_lstm).unwrap();
        let mut r = rng(15);
        let x = uniform3(&mut r, [8, 10, 3], -2.0, 2.0);
        let (theirs, _) = burn_lstm.forward(x.clone(), None);

        let mut state = LstmState::zeros(8, cell.d_hidden, &dev);
        let mut seed_hidden = Vec::new();
        for x_t in x.iter_dim(1) {
            state = seed_step(&cell, x_t.squeeze_dim(1), state);
            seed_hidden.push(state.hidden.clone());
        }
        let seed_out: Tensor<3> = Tensor::stack(seed_hidden, 1);
        // The seed's equations are not what burn computes...
        assert!(max_abs_diff(&seed_out, &theirs) > 0.05);
        // ...its hidden state never goes negative and its cell only ever grows from zero,
        let min_h = host(&seed_out).into_iter().fold(f32::INFINITY, f32::min);
        assert!(
            min_h > 0.0,
            "seed h_t = o ⊙ σ(c_t) is always positive, got {min_h}"
        );
        assert!(host(&state.cell).into_iter().all(|c| c > 0.0));
        // ...while the real LSTM's hidden state takes both signs.
        assert!(host(&theirs).into_iter().any(|h| h < 0.0));
    }
}
