//! Character-level LSTM language model (Karpathy's char-rnn; seed chapter 4.2):
//!
//! ```text
//! ids [B, T] ─► embedding [B, T, e] ─► L-layer LSTM [B, T, H] ─► dropout ─► linear ─► logits [B, T, V]
//! ```
//!
//! The LSTM is this crate's [`StackedRnn`] of [`crate::LstmCell`]s, written from the gate
//! equations. It is causal by construction (left to right only). Generation is stateful: the
//! prompt runs through once, then each new character is fed alone with the carried
//! `(h, c)` state, so a step costs the same whatever the length of the context (there is no
//! context limit).

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};
use rand::rngs::StdRng;

use super::{LmBatch, Sampling, ids_tensor, last_logits, lm_step};
use crate::error::SequenceError;
use crate::rnn::{RecurrentKind, StackedRnn, StackedRnnConfig, StackedState};

/// Configuration of a [`CharLstmLm`].
#[derive(Config, Debug)]
pub struct CharLstmLmConfig {
    /// Vocabulary size `V`.
    pub vocab_size: usize,
    /// Embedding width `e`.
    #[config(default = 64)]
    pub d_embed: usize,
    /// LSTM hidden width `H`.
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Stacked LSTM layers `L`.
    #[config(default = 2)]
    pub n_layers: usize,
    /// Dropout between LSTM layers and before the head.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl CharLstmLmConfig {
    /// Builds the model (forget-gate bias 1, as is usual for LSTM language models).
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] for a zero size.
    pub fn init(&self, device: &Device) -> crate::Result<CharLstmLm> {
        if self.vocab_size == 0 || self.d_hidden == 0 || self.n_layers == 0 || self.d_embed == 0 {
            return Err(SequenceError::InvalidArgument(
                "vocabulary, embedding, hidden sizes and layers must be at least 1".into(),
            ));
        }
        Ok(CharLstmLm {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_embed).init(device),
            lstm: StackedRnnConfig::new(RecurrentKind::Lstm, self.d_embed, self.d_hidden)
                .with_num_layers(self.n_layers)
                .with_dropout(self.dropout)
                .with_forget_bias(1.0)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(self.d_hidden, self.vocab_size).init(device),
        })
    }
}

/// Embedding → stacked LSTM → linear head.
#[derive(Module, Debug)]
pub struct CharLstmLm {
    /// Character embeddings `[V, e]`.
    pub embedding: Embedding,
    /// The LSTM stack (unidirectional).
    pub lstm: StackedRnn,
    /// Dropout before the head.
    pub dropout: Dropout,
    /// `[H, V]`.
    pub head: Linear,
}

impl CharLstmLm {
    /// # Shapes
    /// - tokens: `[B, T]`; state: `[L, B, H]` hidden and cell states (zeros if `None`)
    /// - output: logits `[B, T, V]` and the state after the last step
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<StackedState>,
    ) -> (Tensor<3>, StackedState) {
        let x = self.embedding.forward(tokens); // [B, T, e]
        let (h, state) = self.lstm.forward(x, state, None); // [B, T, H]
        (self.head.forward(self.dropout.forward(h)), state)
    }

    /// Continues `prompt` by `max_new` characters and returns the new ids: the prompt runs
    /// through once, then one character at a time with the carried state. Call on
    /// `model.valid()` (no dropout).
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] for an empty prompt.
    pub fn generate(
        &self,
        prompt: &[usize],
        max_new: usize,
        sampling: &Sampling,
        rng: &mut StdRng,
        device: &Device,
    ) -> crate::Result<Vec<usize>> {
        if prompt.is_empty() {
            return Err(SequenceError::InvalidArgument(
                "generation needs a prompt of at least one token".into(),
            ));
        }
        let mut out = Vec::with_capacity(max_new);
        if max_new == 0 {
            return Ok(out);
        }
        let (mut logits, mut state) = self.forward(ids_tensor(prompt, device), None);
        loop {
            let next = sampling.sample(&last_logits(logits), rng);
            out.push(next);
            if out.len() == max_new {
                return Ok(out);
            }
            (logits, state) = self.forward(ids_tensor(&[next], device), Some(state));
        }
    }
}

impl Supervised for CharLstmLm {
    type Batch = LmBatch;

    fn step(&self, batch: LmBatch) -> ClassificationStep {
        lm_step(self.forward(batch.inputs, None).0, batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::sampling;
    use crate::lm::test_support::{greedy_continuation, overfit, repeated_text};
    use crate::test_util::{device, max_abs_diff};

    fn tiny(device: &Device) -> CharLstmLm {
        CharLstmLmConfig::new(7)
            .with_d_embed(8)
            .with_d_hidden(12)
            .init(device)
            .unwrap()
    }

    #[test]
    fn shapes_state_and_parameter_count() {
        let dev = device();
        let model = tiny(&dev);
        let x = Tensor::<2, Int>::from_data([[1, 2, 3, 4], [4, 3, 2, 1], [0, 0, 6, 6]], &dev);
        let (logits, state) = model.forward(x, None);
        assert_eq!(logits.dims(), [3, 4, 7]);
        assert_eq!(state.hidden.dims(), [2, 3, 12]);
        assert_eq!(state.cell.unwrap().dims(), [2, 3, 12]);
        // embedding 7·8; layer 1: 4·12·(8 + 12) + 2·48 biases; layer 2: 4·12·(12 + 12) + 96;
        // head 12·7 + 7.
        let expected = 56 + (48 * 20 + 96) + (48 * 24 + 96) + 84 + 7;
        assert_eq!(model.num_params(), expected);
    }

    #[test]
    fn step_by_step_equals_the_whole_sequence() {
        let dev = device();
        let model = tiny(&dev);
        let ids = [1usize, 5, 2, 6, 0, 3];
        let (whole, _) = model.forward(ids_tensor(&ids, &dev), None);
        let (mut state, mut steps) = (None, Vec::new());
        for &i in &ids {
            let (l, s) = model.forward(ids_tensor(&[i], &dev), state);
            steps.push(l);
            state = Some(s);
        }
        assert!(max_abs_diff(&whole, &Tensor::cat(steps, 1)) < 1e-5);
        // Causal: changing the last token leaves the earlier logits alone.
        let (other, _) = model.forward(ids_tensor(&[1, 5, 2, 6, 0, 4], &dev), None);
        let head = |x: Tensor<3>| x.slice(s![.., 0..5, ..]);
        assert!(max_abs_diff(&head(whole), &head(other)) < 1e-6);
    }

    #[test]
    fn overfits_a_tiny_text_and_generates_it() {
        let dev = device().autodiff();
        dev.seed(5);
        let (corpus, windows) = repeated_text("abcdefg\n", 50, 12, 120, 2);
        let v = corpus.vocab.len();
        let model = CharLstmLmConfig::new(v)
            .with_d_embed(16)
            .with_d_hidden(32)
            .with_n_layers(1)
            .init(&dev)
            .unwrap();
        let model = overfit(model, &windows, v, (120, 1e-2), &dev);
        let model = model.valid();
        let inner = dev.clone().without_autodiff();
        let text = greedy_continuation(&corpus, "abc", 9, |p, n, s, r| {
            model.generate(p, n, s, r, &inner)
        });
        assert_eq!(text, "defg\nabcd");
        assert!(
            model
                .generate(&[], 3, &Sampling::greedy(), &mut sampling::rng(0), &inner)
                .is_err()
        );
    }
}
