//! Stacked and bidirectional recurrent layers over padded batches.
//!
//! ```text
//! layer 1:  x ──► cell→ (t = 0 … T−1) ──┐
//!             └─► cell← (t = T−1 … 0) ──┴─ concat [B, T, 2H] ─► dropout ─► layer 2 …
//! ```
//!
//! The state layout follows PyTorch's `nn.LSTM`/`nn.GRU`: `[L·D, B, H]` with index
//! `layer · D + direction` (`D = 2` when bidirectional, direction 0 = left to right).
//!
//! With a padding mask, padded steps neither update the state nor emit output (zeros), so
//! the final state of every sequence is its state at its own last real step and the backward
//! direction starts there: right-padded batches give the same numbers as running each sequence
//! on its own (test `padded_batch_equals_unpadded_runs`).

use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;

use super::{
    Direction, GruCell, GruCellConfig, LstmCell, LstmCellConfig, LstmState, RnnCell, RnnCellConfig,
    unroll,
};
use crate::error::SequenceError;

/// Which cell a [`StackedRnn`] is made of.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum RecurrentKind {
    /// [`RnnCell`] (tanh).
    Rnn,
    /// [`LstmCell`].
    Lstm,
    /// [`GruCell`].
    Gru,
}

/// One cell of any kind (a module enum, so that a stack can hold any of them).
#[derive(Module, Debug)]
pub enum RecurrentCell {
    /// Elman cell.
    Rnn(RnnCell),
    /// LSTM cell.
    Lstm(LstmCell),
    /// GRU cell.
    Gru(GruCell),
}

/// Output of one directional pass: the sequence, the final hidden state and (LSTM) cell state.
type Pass = (Tensor<3>, Tensor<2>, Option<Tensor<2>>);

impl RecurrentCell {
    /// Hidden width `H`.
    pub fn d_hidden(&self) -> usize {
        match self {
            Self::Rnn(c) => c.d_hidden,
            Self::Lstm(c) => c.d_hidden,
            Self::Gru(c) => c.d_hidden,
        }
    }

    /// Input width.
    pub fn d_input(&self) -> usize {
        let w = match self {
            Self::Rnn(c) => &c.weight_ih,
            Self::Lstm(c) => &c.weight_ih,
            Self::Gru(c) => &c.weight_ih,
        };
        w.dims()[0]
    }

    /// Runs the cell over a padded batch in one direction.
    ///
    /// # Shapes
    /// - x: `[B, T, d_input]`, hidden/cell: `[B, H]`, padding: `[B, T]`
    /// - output: `[B, T, H]`, final hidden `[B, H]`, final cell `[B, H]` (LSTM only)
    pub fn run(
        &self,
        x: Tensor<3>,
        hidden: Option<Tensor<2>>,
        cell: Option<Tensor<2>>,
        padding: Option<Tensor<2, Bool>>,
        direction: Direction,
    ) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
        match self {
            Self::Rnn(c) => {
                let (out, h) = unroll(c, x, hidden, padding, direction);
                (out, h, None)
            }
            Self::Gru(c) => {
                let (out, h) = c.run(x, hidden, padding, direction);
                (out, h, None)
            }
            Self::Lstm(c) => {
                let state = match (hidden, cell) {
                    (None, None) => None,
                    (h, cs) => {
                        let like = h.clone().or(cs.clone()).expect("one of them is set");
                        Some(LstmState {
                            hidden: h.unwrap_or_else(|| like.zeros_like()),
                            cell: cs.unwrap_or_else(|| like.zeros_like()),
                        })
                    }
                };
                let (out, s) = c.run(x, state, padding, direction);
                (out, s.hidden, Some(s.cell))
            }
        }
    }
}

/// Configuration of a [`StackedRnn`].
#[derive(Config, Debug)]
pub struct StackedRnnConfig {
    /// Cell type.
    pub kind: RecurrentKind,
    /// Input features of the first layer.
    pub d_input: usize,
    /// Hidden width `H` of every cell.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether every layer also runs right to left (outputs `[B, T, 2H]`).
    #[config(default = false)]
    pub bidirectional: bool,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on the outputs of every layer but the last (PyTorch's `dropout`).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// GRU candidate convention (see [`GruCellConfig::reset_after`]).
    #[config(default = true)]
    pub reset_after: bool,
    /// LSTM forget-gate bias at initialisation (see [`LstmCellConfig::forget_bias`]).
    #[config(default = 0.0)]
    pub forget_bias: f64,
    /// LSTM input-gate bias at initialisation (see [`LstmCellConfig::input_bias`]).
    #[config(default = 0.0)]
    pub input_bias: f64,
    /// GRU update-gate bias at initialisation (see [`GruCellConfig::update_bias`]).
    #[config(default = 0.0)]
    pub update_bias: f64,
}

impl StackedRnnConfig {
    fn cell(&self, d_input: usize, device: &Device) -> RecurrentCell {
        match self.kind {
            RecurrentKind::Rnn => RecurrentCell::Rnn(
                RnnCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .init(device),
            ),
            RecurrentKind::Lstm => RecurrentCell::Lstm(
                LstmCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .with_forget_bias(self.forget_bias)
                    .with_input_bias(self.input_bias)
                    .init(device),
            ),
            RecurrentKind::Gru => RecurrentCell::Gru(
                GruCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .with_reset_after(self.reset_after)
                    .with_update_bias(self.update_bias)
                    .init(device),
            ),
        }
    }

    /// Builds the stack.
    pub fn init(&self, device: &Device) -> StackedRnn {
        let directions = if self.bidirectional { 2 } else { 1 };
        let d_in = |layer: usize| {
            if layer == 0 {
                self.d_input
            } else {
                directions * self.d_hidden
            }
        };
        let forward_cells = (0..self.num_layers)
            .map(|l| self.cell(d_in(l), device))
            .collect();
        let backward_cells = if self.bidirectional {
            (0..self.num_layers)
                .map(|l| self.cell(d_in(l), device))
                .collect()
        } else {
            Vec::new()
        };
        StackedRnn {
            forward_cells,
            backward_cells,
            dropout: DropoutConfig::new(self.dropout).init(),
            d_hidden: self.d_hidden,
        }
    }
}

/// Final states of a [`StackedRnn`], in PyTorch's layout.
#[derive(Debug, Clone)]
pub struct StackedState {
    /// `[L·D, B, H]`, index `layer · D + direction`.
    pub hidden: Tensor<3>,
    /// `[L·D, B, H]` cell states (LSTM only).
    pub cell: Option<Tensor<3>>,
}

/// Several recurrent layers on top of each other, optionally bidirectional.
#[derive(Module, Debug)]
pub struct StackedRnn {
    /// Left-to-right cell of each layer.
    pub forward_cells: Vec<RecurrentCell>,
    /// Right-to-left cell of each layer (empty when unidirectional).
    pub backward_cells: Vec<RecurrentCell>,
    /// Dropout between layers.
    pub dropout: Dropout,
    /// Hidden width `H`.
    pub d_hidden: usize,
}

impl StackedRnn {
    /// Assembles a stack from existing cells (for instance cells copied from burn's layers with
    /// `from_burn`). `backward_cells` is empty for a unidirectional stack.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] if the stack is empty, the two directions have
    /// different depths, the hidden widths differ, or a layer's input width does not match the
    /// previous layer's output.
    pub fn from_cells(
        forward_cells: Vec<RecurrentCell>,
        backward_cells: Vec<RecurrentCell>,
        dropout: f64,
    ) -> crate::Result<Self> {
        let invalid = |m: String| Err(SequenceError::InvalidArgument(m));
        let Some(first) = forward_cells.first() else {
            return invalid("a stack needs at least one layer".into());
        };
        let h = first.d_hidden();
        let bidirectional = !backward_cells.is_empty();
        if bidirectional && backward_cells.len() != forward_cells.len() {
            return invalid("both directions need the same number of layers".into());
        }
        let width = if bidirectional { 2 * h } else { h };
        for (l, cell) in forward_cells.iter().chain(&backward_cells).enumerate() {
            let layer = l % forward_cells.len();
            if cell.d_hidden() != h {
                return invalid(format!(
                    "layer {layer}: hidden width {} ≠ {h}",
                    cell.d_hidden()
                ));
            }
            if layer > 0 && cell.d_input() != width {
                return invalid(format!(
                    "layer {layer}: input width {} ≠ {width}",
                    cell.d_input()
                ));
            }
        }
        if bidirectional && backward_cells[0].d_input() != first.d_input() {
            return invalid("both directions of layer 0 need the same input width".into());
        }
        Ok(Self {
            forward_cells,
            backward_cells,
            dropout: DropoutConfig::new(dropout).init(),
            d_hidden: h,
        })
    }

    /// Number of directions `D` (1 or 2).
    pub fn directions(&self) -> usize {
        if self.backward_cells.is_empty() { 1 } else { 2 }
    }

    /// Runs the stack.
    ///
    /// # Shapes
    /// - x: `[B, T, d_input]`
    /// - state: initial states `[L·D, B, H]` (zeros if `None`)
    /// - padding: `[B, T]`, `true` = padded step (see [`crate::attention::padding_mask`])
    /// - output: `[B, T, D·H]` (last layer, both directions concatenated; zero at padded steps)
    ///   and the final states `[L·D, B, H]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<StackedState>,
        padding: Option<Tensor<2, Bool>>,
    ) -> (Tensor<3>, StackedState) {
        let directions = self.directions();
        let initial = |index: usize| {
            let pick = |t: &Tensor<3>| t.clone().slice(s![index, .., ..]).squeeze_dim::<2>(0);
            match &state {
                Some(s) => (Some(pick(&s.hidden)), s.cell.as_ref().map(pick)),
                None => (None, None),
            }
        };
        let layers = self.forward_cells.len();
        let mut hiddens = Vec::with_capacity(layers * directions);
        let mut cells = Vec::with_capacity(layers * directions);
        let mut input = x;
        for layer in 0..layers {
            let mut passes: Vec<Pass> = Vec::with_capacity(directions);
            let (h0, c0) = initial(layer * directions);
            passes.push(self.forward_cells[layer].run(
                input.clone(),
                h0,
                c0,
                padding.clone(),
                Direction::Forward,
            ));
            if let Some(cell) = self.backward_cells.get(layer) {
                let (h0, c0) = initial(layer * directions + 1);
                passes.push(cell.run(input.clone(), h0, c0, padding.clone(), Direction::Backward));
            }
            let mut outputs = Vec::with_capacity(directions);
            for (out, h, c) in passes {
                outputs.push(out);
                hiddens.push(h);
                cells.extend(c);
            }
            let output = Tensor::cat(outputs, 2); // [B, T, D·H]
            input = if layer + 1 < layers {
                self.dropout.forward(output)
            } else {
                output
            };
        }
        let cell = (!cells.is_empty()).then(|| Tensor::stack(cells, 0));
        (
            input,
            StackedState {
                hidden: Tensor::stack(hiddens, 0),
                cell,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::padding_mask;
    use crate::test_util::*;
    use burn::nn::{BiGruConfig, BiLstmConfig, BiRnnConfig, GruConfig, LstmConfig};

    #[test]
    fn shapes_of_a_two_layer_bidirectional_lstm() {
        let stack = StackedRnnConfig::new(RecurrentKind::Lstm, 3, 4)
            .with_num_layers(2)
            .with_bidirectional(true)
            .init(&device());
        let (out, s) = stack.forward(Tensor::zeros([5, 6, 3], &device()), None, None);
        assert_eq!(out.dims(), [5, 6, 8]);
        assert_eq!(s.hidden.dims(), [4, 5, 4]);
        assert_eq!(s.cell.unwrap().dims(), [4, 5, 4]);
        // Layer 0: 2 × 4·(3·4 + 4·4 + 8); layer 1 sees 8 inputs: 2 × 4·(8·4 + 4·4 + 8).
        assert_eq!(
            stack.num_params(),
            2 * 4 * (12 + 16 + 8) + 2 * 4 * (32 + 16 + 8)
        );
    }

    #[test]
    fn bidirectional_equals_burn_bilstm_bigru_birnn() {
        let dev = device();
        dev.seed(30);
        let mut r = rng(31);
        let x = uniform3(&mut r, [3, 5, 4], -1.0, 1.0);
        let h0 = uniform3(&mut r, [2, 3, 6], -0.5, 0.5);
        let c0 = uniform3(&mut r, [2, 3, 6], -0.5, 0.5);

        let bilstm = BiLstmConfig::new(4, 6, true).init(&dev);
        let stack = StackedRnn::from_cells(
            vec![RecurrentCell::Lstm(
                LstmCell::from_burn(&bilstm.forward).unwrap(),
            )],
            vec![RecurrentCell::Lstm(
                LstmCell::from_burn(&bilstm.reverse).unwrap(),
            )],
            0.0,
        )
        .unwrap();
        let state = StackedState {
            hidden: h0.clone(),
            cell: Some(c0.clone()),
        };
        let (ours, s) = stack.forward(x.clone(), Some(state), None);
        let (theirs, t) = bilstm.forward(x.clone(), Some(burn::nn::LstmState::new(c0, h0.clone())));
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(&s.hidden, &t.hidden, 0.0, 1e-5);
        assert_close(s.cell.as_ref().unwrap(), &t.cell, 0.0, 1e-5);

        let bigru = BiGruConfig::new(4, 6, true).init(&dev);
        let stack = StackedRnn::from_cells(
            vec![RecurrentCell::Gru(
                GruCell::from_burn(&bigru.forward).unwrap(),
            )],
            vec![RecurrentCell::Gru(
                GruCell::from_burn(&bigru.reverse).unwrap(),
            )],
            0.0,
        )
        .unwrap();
        let state = StackedState {
            hidden: h0.clone(),
            cell: None,
        };
        let (ours, s) = stack.forward(x.clone(), Some(state), None);
        let (theirs, t) = bigru.forward(x.clone(), Some(h0.clone()));
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(&s.hidden, &t, 0.0, 1e-5);

        let birnn = BiRnnConfig::new(4, 6, true).init(&dev);
        let stack = StackedRnn::from_cells(
            vec![RecurrentCell::Rnn(RnnCell::from_burn(&birnn.forward))],
            vec![RecurrentCell::Rnn(RnnCell::from_burn(&birnn.reverse))],
            0.0,
        )
        .unwrap();
        let (ours, s) = stack.forward(
            x.clone(),
            Some(StackedState {
                hidden: h0.clone(),
                cell: None,
            }),
            None,
        );
        let (theirs, t) = birnn.forward(x, Some(burn::nn::RnnState::new(h0)));
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(&s.hidden, &t.hidden, 0.0, 1e-5);
    }

    #[test]
    fn two_layers_equal_two_chained_burn_layers() {
        let dev = device();
        dev.seed(32);
        let mut r = rng(33);
        let x = uniform3(&mut r, [3, 5, 4], -1.0, 1.0);

        let (l1, l2) = (
            LstmConfig::new(4, 6, true).init(&dev),
            LstmConfig::new(6, 6, true).init(&dev),
        );
        let stack = StackedRnn::from_cells(
            vec![
                RecurrentCell::Lstm(LstmCell::from_burn(&l1).unwrap()),
                RecurrentCell::Lstm(LstmCell::from_burn(&l2).unwrap()),
            ],
            vec![],
            0.0,
        )
        .unwrap();
        let (ours, s) = stack.forward(x.clone(), None, None);
        let (mid, s1) = l1.forward(x.clone(), None);
        let (theirs, s2) = l2.forward(mid, None);
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(
            &s.hidden,
            &Tensor::stack(vec![s1.hidden, s2.hidden], 0),
            0.0,
            1e-5,
        );
        assert_close(
            &s.cell.unwrap(),
            &Tensor::stack(vec![s1.cell, s2.cell], 0),
            0.0,
            1e-5,
        );

        let (g1, g2) = (
            BiGruConfig::new(4, 6, true).init(&dev),
            BiGruConfig::new(12, 6, true).init(&dev),
        );
        let cells = |g: &burn::nn::BiGru| {
            (
                RecurrentCell::Gru(GruCell::from_burn(&g.forward).unwrap()),
                RecurrentCell::Gru(GruCell::from_burn(&g.reverse).unwrap()),
            )
        };
        let ((f1, b1), (f2, b2)) = (cells(&g1), cells(&g2));
        let stack = StackedRnn::from_cells(vec![f1, f2], vec![b1, b2], 0.0).unwrap();
        let (ours, s) = stack.forward(x.clone(), None, None);
        let (mid, t1) = g1.forward(x, None);
        let (theirs, t2) = g2.forward(mid, None);
        assert_close(&ours, &theirs, 0.0, 1e-5);
        assert_close(&s.hidden, &Tensor::cat(vec![t1, t2], 0), 0.0, 1e-5);
        // A GRU with a different input width cannot sit on top.
        let wrong = GruConfig::new(5, 6, true).init(&dev);
        let (f, b) = cells(&g1);
        let bad = RecurrentCell::Gru(GruCell::from_burn(&wrong).unwrap());
        assert!(StackedRnn::from_cells(vec![f, bad], vec![b], 0.0).is_err());
    }

    fn padded_batch_equals_unpadded_runs(kind: RecurrentKind) {
        let dev = device();
        dev.seed(34);
        let stack = StackedRnnConfig::new(kind, 3, 4)
            .with_num_layers(2)
            .with_bidirectional(true)
            .init(&dev);
        let lengths = [5, 2, 4];
        let mut r = rng(35);
        let x = uniform3(&mut r, [3, 5, 3], -1.0, 1.0);
        let padding = padding_mask(&lengths, 5, &dev).unwrap();
        let (out, state) = stack.forward(x.clone(), None, Some(padding.clone()));

        for (b, &len) in lengths.iter().enumerate() {
            // The same sequence alone, cut to its true length, no mask.
            let alone = x.clone().slice(s![b..b + 1, 0..len, ..]);
            let (out_alone, state_alone) = stack.forward(alone, None, None);
            let valid = out.clone().slice(s![b..b + 1, 0..len, ..]);
            assert_close(&valid, &out_alone, 0.0, 1e-5);
            if len < 5 {
                let padded = out.clone().slice(s![b..b + 1, len.., ..]);
                assert_eq!(
                    max_abs_diff(&padded, &padded.zeros_like()),
                    0.0,
                    "padded outputs are zero"
                );
            }
            assert_close(
                &state.hidden.clone().slice(s![.., b..b + 1, ..]),
                &state_alone.hidden,
                0.0,
                1e-5,
            );
            if let (Some(c), Some(c_alone)) = (&state.cell, &state_alone.cell) {
                assert_close(&c.clone().slice(s![.., b..b + 1, ..]), c_alone, 0.0, 1e-5);
            }
        }

        // Nothing reaches the padded inputs: their gradient is exactly zero.
        let leaf = x.autodiff().require_grad();
        let (out, state) = stack.forward(leaf.clone(), None, Some(padding.clone()));
        let mut loss = out.sum() + state.hidden.sum();
        if let Some(c) = state.cell {
            loss = loss + c.sum();
        }
        let grad = leaf.grad(&loss.backward()).unwrap();
        let pad3 = padding.unsqueeze_dim::<3>(2).expand([3, 5, 3]);
        let grad_host = host(&grad);
        let pad_host: Vec<bool> = pad3.to_data().try_to_vec().unwrap();
        for (g, p) in grad_host.iter().zip(&pad_host) {
            if *p {
                assert_eq!(*g, 0.0, "a padded input received gradient");
            }
        }
        assert!(
            grad_host
                .iter()
                .zip(&pad_host)
                .any(|(g, p)| !p && *g != 0.0)
        );
    }

    #[test]
    fn padded_batch_equals_unpadded_runs_rnn() {
        padded_batch_equals_unpadded_runs(RecurrentKind::Rnn);
    }

    #[test]
    fn padded_batch_equals_unpadded_runs_lstm() {
        padded_batch_equals_unpadded_runs(RecurrentKind::Lstm);
    }

    #[test]
    fn padded_batch_equals_unpadded_runs_gru() {
        padded_batch_equals_unpadded_runs(RecurrentKind::Gru);
    }
}
