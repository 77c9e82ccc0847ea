//! A long-dependency toy task: remember the first token's class across a stretch of noise
//! (seed 4.1.2 "RNNs struggle with long-range dependencies", 4.2.2 "LSTMs keep them").
//!
//! Every sequence is `T` one-hot tokens. Token 0 is one of `K` class symbols; tokens
//! `1 … T−1` are drawn uniformly from `N` distractor symbols. The model reads the whole
//! sequence and must name the class from its final hidden state. Chance level is `1/K`.
//!
//! Solving it needs the gradient of the loss at step `T−1` to reach the input at step 0.
//! In a tanh RNN that gradient is a product of `T−1` Jacobians `diag(1 − h²) W_hhᵀ`, which
//! shrinks geometrically; an LSTM carries it along `∂c_t/∂c_{t−1} = f_t` and a GRU along
//! `∂h_t/∂h_{t−1} ∋ z_t`, both of which can stay near 1. [`train_memory_task`] trains a small
//! model of each kind for the same fixed budget; the `examples/memory_task.rs` binary prints the
//! table and `memory_task::tests` asserts the gap.
//!
//! Measured (`cargo run --release -p deepzero-sequence --example memory_task -- 100 300 1 2 3 4 5`,
//! the defaults: `T = 100`, 4 classes, 4 distractors, `H = 32`, 300 Adam steps of batch 32,
//! gate bias 4; 10–30 s per model on the shared 2-core machine):
//!
//! | seed | RNN acc / loss | LSTM acc / loss | GRU acc / loss | gradient ratio at init RNN / LSTM / GRU |
//! |---|---|---|---|---|
//! | 1 | 0.254 / 1.391 | 1.000 / 0.004 | 1.000 / 0.009 | 0 (f32 underflow) / 4.6e-2 / 1.6e-1 |
//! | 2 | 0.252 / 1.390 | 1.000 / 0.003 | 1.000 / 0.002 | 0 / 6.0e-2 / 2.0e-1 |
//! | 3 | 0.250 / 1.389 | 1.000 / 0.001 | 1.000 / 0.001 | 0 / 4.7e-2 / 1.8e-1 |
//! | 4 | 0.760 / 1.178 | 1.000 / 0.003 | 1.000 / 0.001 | 0 / 6.4e-2 / 2.1e-1 |
//! | 5 | 0.516 / 0.933 | 1.000 / 0.004 | 1.000 / 0.001 | 1.7e-20 / 5.4e-2 / 2.1e-1 |
//!
//! The RNN sometimes finds a partial solution (seeds 4, 5) but never the task; on this budget
//! the gated cells always do. The initialisation matters as much as the gates: with gate bias
//! 0 (PyTorch's initialisation) or 1, at `T = 40` and 300 steps (seed 1), LSTM and GRU stay at
//! 0.229 (gradient ratio at init 1e-8 / 3e-9 for bias 0, 1e-4 / 6e-5 for bias 1) while the RNN
//! reaches 0.473.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{RecurrentKind, StackedRnn, StackedRnnConfig};

/// The task and the training budget.
#[derive(Config, Debug)]
pub struct MemoryTaskConfig {
    /// Number of classes `K` (chance accuracy is `1/K`).
    #[config(default = 4)]
    pub classes: usize,
    /// Number of distractor symbols `N`.
    #[config(default = 4)]
    pub distractors: usize,
    /// Standard deviation of Gaussian noise added to every channel of steps `1 … T−1`.
    #[config(default = 0.0)]
    pub noise_std: f64,
    /// Sequence length `T` (the class is `T − 1` steps before the answer).
    #[config(default = 100)]
    pub steps: usize,
    /// Hidden width of the recurrent cell.
    #[config(default = 32)]
    pub d_hidden: usize,
    /// Sequences per training batch.
    #[config(default = 32)]
    pub batch: usize,
    /// Training iterations (the fixed budget).
    #[config(default = 300)]
    pub iterations: usize,
    /// Adam learning rate.
    #[config(default = 1e-2)]
    pub learning_rate: f64,
    /// Held-out sequences for the final accuracy.
    #[config(default = 512)]
    pub eval_size: usize,
    /// Initial bias `b` of the "remember" gates: the LSTM forget gate gets `+b` and its input
    /// gate `−b` (Tallec & Ollivier's "chrono" initialisation, `b ≈ ln T`), the GRU update
    /// gate `+b`. The vanilla RNN has no gate.
    #[config(default = 4.0)]
    pub gate_bias: f64,
    /// Seed of the data and of the parameter initialisation.
    #[config(default = 1)]
    pub seed: u64,
}

/// A batch of the task.
#[derive(Debug, Clone)]
pub struct MemoryBatch {
    /// One-hot tokens `[B, T, K + N]`.
    pub inputs: Tensor<3>,
    /// Classes `[B]`.
    pub targets: Tensor<1, Int>,
}

impl MemoryTaskConfig {
    /// Vocabulary size `K + N`.
    pub fn vocab(&self) -> usize {
        self.classes + self.distractors
    }

    /// Draws `batch` sequences.
    pub fn sample(&self, rng: &mut StdRng, batch: usize, device: &Device) -> MemoryBatch {
        let (t, v) = (self.steps, self.vocab());
        let mut inputs = vec![0.0f32; batch * t * v];
        let mut targets = Vec::with_capacity(batch);
        for b in 0..batch {
            let class = rng.random_range(0..self.classes);
            targets.push(class as i32);
            inputs[b * t * v + class] = 1.0;
            for step in 1..t {
                let row = (b * t + step) * v;
                if self.noise_std > 0.0 {
                    for x in &mut inputs[row..row + v] {
                        *x = (self.noise_std * standard_normal(rng)) as f32;
                    }
                }
                let symbol = self.classes + rng.random_range(0..self.distractors);
                inputs[row + symbol] += 1.0;
            }
        }
        MemoryBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [batch, t, v]), device),
            targets: Tensor::from_data(TensorData::new(targets, [batch]), device),
        }
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A recurrent layer and a linear read-out of its final hidden state.
#[derive(Module, Debug)]
pub struct MemoryClassifier {
    /// One recurrent layer.
    pub rnn: StackedRnn,
    /// `[H, K]` read-out.
    pub head: Linear,
}

impl MemoryClassifier {
    /// # Shapes
    /// - inputs: `[B, T, K + N]`
    /// - output: logits `[B, K]`
    pub fn forward(&self, inputs: Tensor<3>) -> Tensor<2> {
        let (_, state) = self.rnn.forward(inputs, None, None);
        let last: Tensor<2> = state.hidden.slice(s![-1, .., ..]).squeeze_dim(0); // [B, H]
        self.head.forward(last)
    }
}

impl MemoryClassifier {
    /// A freshly initialised one-layer `kind` model for `cfg` (with `cfg.gate_bias`).
    pub fn new(kind: RecurrentKind, cfg: &MemoryTaskConfig, device: &Device) -> Self {
        Self {
            rnn: StackedRnnConfig::new(kind, cfg.vocab(), cfg.d_hidden)
                .with_forget_bias(cfg.gate_bias)
                .with_input_bias(-cfg.gate_bias)
                .with_update_bias(cfg.gate_bias)
                .init(device),
            head: LinearConfig::new(cfg.d_hidden, cfg.classes).init(device),
        }
    }
}

/// How much gradient survives the trip from the answer back to the first token, at
/// initialisation: `‖∂L/∂x_0‖ / ‖∂L/∂x_{T−1}‖` for the cross-entropy `L` of one batch.
///
/// This is the quantity the task depends on, measured without training: a tanh RNN multiplies
/// it by `‖diag(1 − h²) W_hhᵀ‖ < 1` at every step, the gated cells by a gate close to 1.
pub fn first_token_gradient_ratio(
    kind: RecurrentKind,
    cfg: &MemoryTaskConfig,
    device: &Device,
) -> f64 {
    let device = device.clone().autodiff();
    device.seed(cfg.seed);
    let model = MemoryClassifier::new(kind, cfg, &device);
    let batch = cfg.sample(&mut StdRng::seed_from_u64(cfg.seed), cfg.batch, &device);
    let inputs = batch.inputs.require_grad();
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(model.forward(inputs.clone()), batch.targets);
    let grad = inputs
        .grad(&loss.backward())
        .expect("the inputs require a gradient");
    let norm = |t: usize| -> f64 {
        let g = grad.clone().slice(s![.., t, ..]);
        g.square().sum().into_scalar::<f64>().sqrt()
    };
    norm(0) / norm(cfg.steps - 1)
}

/// What one training run reached.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryReport {
    /// Cell type.
    pub kind: RecurrentKind,
    /// Accuracy on `eval_size` fresh sequences.
    pub accuracy: f64,
    /// Mean training loss over the last 10 % of iterations.
    pub final_loss: f64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

/// Trains a one-layer `kind` model on the task for the configured budget and evaluates it.
///
/// All cells use PyTorch's initialisation plus `cfg.gate_bias` on their gates (see
/// [`MemoryTaskConfig::gate_bias`]). Adam, with every gradient tensor clipped to norm 1.
pub fn train_memory_task(
    kind: RecurrentKind,
    cfg: &MemoryTaskConfig,
    device: &Device,
) -> MemoryReport {
    let start = Instant::now();
    let train_device = device.clone().autodiff();
    train_device.seed(cfg.seed);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut model = MemoryClassifier::new(kind, cfg, &train_device);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let tail = (cfg.iterations / 10).max(1);
    let mut tail_loss = 0.0;
    for iteration in 0..cfg.iterations {
        let batch = cfg.sample(&mut rng, cfg.batch, &train_device);
        let loss = loss_fn.forward(model.forward(batch.inputs), batch.targets);
        if iteration + tail >= cfg.iterations {
            tail_loss += loss.clone().into_scalar::<f64>() / tail as f64;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
    }

    let model = model.valid();
    let eval = cfg.sample(&mut rng, cfg.eval_size, device);
    let predicted = model.forward(eval.inputs).argmax(1).squeeze_dim::<1>(1);
    let correct: i64 = predicted
        .equal(eval.targets)
        .int()
        .sum()
        .into_scalar::<i64>();
    MemoryReport {
        kind,
        accuracy: correct as f64 / cfg.eval_size as f64,
        final_loss: tail_loss,
        seconds: start.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn task_batches_are_well_formed() {
        let cfg = MemoryTaskConfig::new().with_steps(6).with_noise_std(0.0);
        let b = cfg.sample(&mut rng(70), 3, &device());
        assert_eq!(b.inputs.dims(), [3, 6, 8]);
        // One-hot everywhere; the class sits at step 0 and nowhere else.
        let x = host(&b.inputs);
        let targets: Vec<i64> = b.targets.try_into_vec_as::<i64>().unwrap();
        for (n, &class) in targets.iter().enumerate() {
            for t in 0..6 {
                let row = &x[(n * 6 + t) * 8..(n * 6 + t + 1) * 8];
                assert_eq!(row.iter().sum::<f32>(), 1.0);
                let hot = row.iter().position(|&v| v == 1.0).unwrap();
                if t == 0 {
                    assert_eq!(hot as i64, class);
                } else {
                    assert!(hot >= cfg.classes);
                }
            }
        }
    }

    /// The fast, deterministic stand-in for the training comparison below: at initialisation,
    /// after 99 steps the vanilla RNN has lost the gradient to the first token (a product of
    /// 99 contracting Jacobians), while the LSTM and the GRU keep a usable fraction of it.
    #[test]
    fn gated_cells_keep_the_gradient_a_vanilla_rnn_loses() {
        let cfg = MemoryTaskConfig::new();
        let dev = device();
        let rnn = first_token_gradient_ratio(RecurrentKind::Rnn, &cfg, &dev);
        let lstm = first_token_gradient_ratio(RecurrentKind::Lstm, &cfg, &dev);
        let gru = first_token_gradient_ratio(RecurrentKind::Gru, &cfg, &dev);
        eprintln!(
            "‖∂L/∂x_0‖ / ‖∂L/∂x_T−1‖ over {} steps: rnn {rnn:.3e}, lstm {lstm:.3e}, gru {gru:.3e}",
            cfg.steps
        );
        assert!(rnn < 1e-8, "rnn {rnn:e}");
        // The RNN's gradient is connected, it decays geometrically with the distance.
        let short: Vec<f64> = [5, 10, 20]
            .iter()
            .map(|&t| {
                first_token_gradient_ratio(RecurrentKind::Rnn, &cfg.clone().with_steps(t), &dev)
            })
            .collect();
        eprintln!("rnn over 5, 10, 20 steps: {short:?}");
        assert!(short[0] > 1e-3 && short[0] > 10.0 * short[1] && short[1] > 10.0 * short[2]);
        assert!(lstm > 1e-2, "lstm {lstm:e}");
        assert!(gru > 1e-2, "gru {gru:e}");
    }

    /// The training comparison (about 25 s of CPU in release on this project's 2-core machine,
    /// hence `#[ignore]`; run it with `cargo test --release -p deepzero-sequence -- --ignored`).
    /// Measured over seeds 1–5 with the defaults (T = 100, 300 iterations of batch 32): LSTM
    /// and GRU reach accuracy 1.000 in every run, final loss ≤ 0.01; the vanilla RNN ends at
    /// 0.25, 0.25, 0.25, 0.76, 0.52 (chance 0.25), final loss ≥ 0.93.
    #[test]
    #[ignore = "trains three models for ~25 s; run with --ignored"]
    fn lstm_and_gru_learn_the_long_dependency_a_vanilla_rnn_does_not() {
        let cfg = MemoryTaskConfig::new();
        let dev = device();
        let rnn = train_memory_task(RecurrentKind::Rnn, &cfg, &dev);
        let lstm = train_memory_task(RecurrentKind::Lstm, &cfg, &dev);
        let gru = train_memory_task(RecurrentKind::Gru, &cfg, &dev);
        eprintln!("{rnn:?}\n{lstm:?}\n{gru:?}");
        assert!(lstm.accuracy >= 0.95 && gru.accuracy >= 0.95);
        assert!(rnn.accuracy <= 0.6, "rnn accuracy {}", rnn.accuracy);
        assert!(rnn.final_loss > 0.5 && lstm.final_loss < 0.1 && gru.final_loss < 0.1);
    }
}
