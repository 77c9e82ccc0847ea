//! Character-level language models and text generation (seed chapters 4.2–4.3: a character
//! LSTM and a small GPT trained on tiny-shakespeare, sampled with temperature and top-k).
//!
//! | piece | file | what it does |
//! |---|---|---|
//! | [`CharVocab`], [`CharCorpus`], [`RandomWindows`], [`ContiguousWindows`] | `data.rs` | sorted character set, contiguous 90/10 split, seeded random training windows, validation windows |
//! | [`CharLstmLm`] | `char_lstm.rs` | embedding → stacked LSTM ([`crate::StackedRnn`]) → linear head; stateful sampling |
//! | [`Gpt`], [`GptCache`] | `gpt.rs` | decoder-only Transformer (nanoGPT's `model.py`): token + learned positions, pre-norm causal blocks, final norm, head; key/value-cached generation |
//! | [`Sampling`] | `sampling.rs` | greedy, temperature, top-k and top-p sampling from a seeded RNG |
//!
//! The loss is the mean cross-entropy of the next character, in **nats per character**
//! ([`lm_loss`]; `/ ln 2` gives bits per character). A model that knows nothing (uniform
//! logits) scores `ln V` (test `uniform_logits_give_ln_v`).

pub mod char_lstm;
pub mod data;
pub mod gpt;
pub mod sampling;

use burn::prelude::*;
use deepzero_train::ClassificationStep;

pub use crate::transformer::FfnActivation;

pub use char_lstm::{CharLstmLm, CharLstmLmConfig};
pub use data::{CharCorpus, CharVocab, ContiguousWindows, LmBatch, RandomWindows};
pub use gpt::{Gpt, GptCache, GptConfig};
pub use sampling::Sampling;

/// Flattens `[B, T, V]` logits and `[B, T]` targets to the `[B·T, V]` / `[B·T]` of a
/// [`ClassificationStep`] (whose loss is then the mean over all `B·T` predicted characters).
pub fn lm_step(logits: Tensor<3>, targets: Tensor<2, Int>) -> ClassificationStep {
    let [batch, steps, vocab] = logits.dims();
    ClassificationStep::from_logits(
        logits.reshape([batch * steps, vocab]),
        targets.reshape([batch * steps]),
    )
}

/// Mean next-character cross-entropy in nats per character, `[1]`.
///
/// # Shapes
/// - logits: `[B, T, V]`, targets: `[B, T]`
pub fn lm_loss(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    lm_step(logits, targets).loss
}

/// Host copy of the logits of the last position of the first sequence, `[B, T, V] → V`.
pub(crate) fn last_logits(logits: Tensor<3>) -> Vec<f32> {
    let [_, steps, vocab] = logits.dims();
    logits
        .slice(s![0..1, steps - 1..steps, ..])
        .reshape([vocab])
        .try_into_vec_as::<f32>()
        .expect("float logits")
}

/// A `[1, T]` batch of one id sequence.
pub(crate) fn ids_tensor(ids: &[usize], device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(data, [1, ids.len()]), device)
}

/// What the models' overfitting tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;
    use deepzero_train::{BatchSource, Supervised};

    use rand::rngs::StdRng;

    use super::sampling::{self, Sampling};
    use super::{CharCorpus, LmBatch, RandomWindows};

    /// `text` repeated `times` as a corpus with no validation part, and seeded random
    /// training windows of `block` characters over it (`batches` batches of 8).
    pub fn repeated_text(
        text: &str,
        times: usize,
        block: usize,
        batches: usize,
        seed: u64,
    ) -> (CharCorpus, RandomWindows) {
        let corpus = CharCorpus::new(&text.repeat(times), 0.0).unwrap();
        let windows = RandomWindows::new(corpus.train.clone(), block, batches, 8, seed).unwrap();
        (corpus, windows)
    }

    /// Trains `model` by Adam at `lr` on the first `steps` batches of 8 windows and checks that
    /// the last loss is under 0.3 · ln V (a model that learnt nothing scores ln V).
    pub fn overfit<M: Supervised<Batch = LmBatch>>(
        mut model: M,
        windows: &RandomWindows,
        vocab_size: usize,
        (steps, lr): (usize, f64),
        device: &Device,
    ) -> M {
        let mut optim = AdamConfig::new().init();
        let mut last = f32::INFINITY;
        for step in 0..steps {
            let idx: Vec<usize> = (step * 8..step * 8 + 8).collect();
            let loss = model.step(windows.batch(&idx, device).unwrap()).loss;
            last = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let chance = (vocab_size as f32).ln();
        assert!(last < 0.3 * chance, "loss {last} vs ln V {chance}");
        model
    }

    /// The greedy continuation of `prompt` by `max_new` characters, decoded; `generate` is a
    /// model's `generate` on its device.
    pub fn greedy_continuation(
        corpus: &CharCorpus,
        prompt: &str,
        max_new: usize,
        generate: impl FnOnce(&[usize], usize, &Sampling, &mut StdRng) -> crate::Result<Vec<usize>>,
    ) -> String {
        let prompt = corpus.vocab.encode(prompt).unwrap();
        let out = generate(&prompt, max_new, &Sampling::greedy(), &mut sampling::rng(0));
        corpus.vocab.decode(&out.unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    #[test]
    fn uniform_logits_give_ln_v() {
        let dev = device();
        for v in [2usize, 65, 100] {
            let logits = Tensor::<3>::zeros([3, 5, v], &dev);
            let targets = Tensor::<2, Int>::from_data(
                TensorData::new((0..15).map(|i| (i % v) as i64).collect::<Vec<_>>(), [3, 5]),
                &dev,
            );
            let loss = lm_loss(logits, targets).into_scalar::<f32>();
            assert!((loss as f64 - (v as f64).ln()).abs() < 1e-5, "{v}: {loss}");
        }
    }

    #[test]
    fn known_value_of_a_two_position_loss() {
        // Position 0: logits [0, ln 3] → p(target 1) = 3/4; position 1: [ln 4, 0] → p(0) = 4/5.
        let dev = device();
        let logits = Tensor::<3>::from_data([[[0.0, 3f32.ln()], [4f32.ln(), 0.0]]], &dev);
        let targets = Tensor::<2, Int>::from_data([[1, 0]], &dev);
        let loss = lm_loss(logits, targets).into_scalar::<f32>() as f64;
        let expected = -((0.75f64).ln() + (0.8f64).ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}
