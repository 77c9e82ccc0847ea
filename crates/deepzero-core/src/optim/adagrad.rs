//! AdaGrad (Duchi et al. 2011; seed 2.2.3), in PyTorch's form.
//!
//! ```text
//! g ← g + λw
//! G ← G + g²                                  (G₀ = initial_accumulator_value)
//! η_t = η / (1 + (t − 1)·lr_decay)
//! w ← w − η_t · g / (√G + ε)
//! ```
//!
//! Each coordinate's step is divided by the square root of the **sum** of its squared gradients
//! so far (the seed's text says "average", line 503). The seed's update
//! `w − η / (√G + ε)` (line 526) drops the factor `g`: it would move every parameter in the same
//! direction by a step independent of the gradient's sign.

use burn::config::Config;
use burn::optim::{RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::{Step, l2, push_step, push_tensor, take_step, take_tensor};

/// Configuration of [`AdaGrad`].
#[derive(Config, Debug)]
pub struct AdaGradConfig {
    /// Learning-rate decay per step (PyTorch `lr_decay`, default 0).
    #[config(default = 0.0)]
    pub lr_decay: f64,
    /// L2 penalty `λ` added to the gradient (PyTorch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Starting value of the accumulator `G` (PyTorch default 0).
    #[config(default = 0.0)]
    pub initial_accumulator_value: f64,
    /// `ε` added to `√G` (PyTorch default 1e-10; burn's is 1e-5).
    #[config(default = 1e-10)]
    pub epsilon: f64,
}

impl AdaGradConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> AdaGrad {
        AdaGrad {
            lr_decay: self.lr_decay,
            weight_decay: self.weight_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            epsilon: self.epsilon,
        }
    }
}

/// AdaGrad; see the module docs for the update.
#[derive(Debug, Clone)]
pub struct AdaGrad {
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    epsilon: f64,
}

/// Per-parameter state of [`AdaGrad`].
#[derive(Debug, Clone)]
pub struct AdaGradState<const D: usize> {
    /// Number of steps taken, `t`.
    pub step: usize,
    /// Running sum of squared gradients `G`.
    pub sum: Tensor<D>,
}

impl<const D: usize> RecordState for AdaGradState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        push_step(out, prefix, self.step);
        push_tensor(out, prefix, "sum", &self.sum);
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            step: take_step(src, prefix)?,
            sum: take_tensor(src, prefix, "sum", device)?,
        })
    }
}

impl<const D: usize> AdaGradState<D> {
    fn moved_to(self, device: &Device) -> Self {
        AdaGradState {
            step: self.step,
            sum: self.sum.to_device(device),
        }
    }
}

impl AdaGrad {
    fn update<const D: usize>(&self, s: Step<D, AdaGradState<D>>) -> (Tensor<D>, AdaGradState<D>) {
        let g = l2(s.g, &s.w, self.weight_decay);
        let (step, sum) = match s.state {
            Some(state) => (state.step + 1, state.sum),
            None => (
                1,
                s.w.zeros_like().add_scalar(self.initial_accumulator_value),
            ),
        };
        let sum = sum + g.clone().square();
        let lr_t = s.lr / (1.0 + (step - 1) as f64 * self.lr_decay);
        let update = g / sum.clone().sqrt().add_scalar(self.epsilon);
        (s.w - update.mul_scalar(lr_t), AdaGradState { step, sum })
    }
}

stateful_optimizer!(AdaGrad, AdaGradConfig, AdaGradState);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;

    #[test]
    fn matches_burn_adagrad() {
        // Same formula as burn's, including where ε sits (√G + ε) and the lr_decay schedule;
        // only the default ε differs (burn 1e-5, PyTorch 1e-10).
        assert_matches_burn(
            AdaGradConfig::new().init(),
            burn::optim::AdaGradConfig::new().with_epsilon(1e-10).init(),
            6,
        );
        assert_matches_burn(
            AdaGradConfig::new()
                .with_lr_decay(0.3)
                .with_weight_decay(0.05)
                .init(),
            burn::optim::AdaGradConfig::new()
                .with_epsilon(1e-10)
                .with_lr_decay(0.3)
                .with_weight_decay(Some(WeightDecayConfig::new(0.05)))
                .init(),
            6,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // η = 0.1, w = [1, −2], g₁ = [0.5, −1], g₂ = [0.2, 0.4], ε negligible.
        // Step 1: G = [0.25, 1];   w = [1 − 0.1·0.5/0.5, −2 + 0.1·1/1] = [0.9, −1.9].
        // Step 2: G = [0.29, 1.16]; w = [0.9 − 0.02/√0.29, −1.9 − 0.04/√1.16]
        //                            = [0.9 − 0.0371391, −1.9 − 0.0371391]
        //                            = [0.8628609, −1.9371391].
        let w = two_param_steps(&AdaGradConfig::new().build());
        assert_vec(&w, &[0.862_860_93, -1.937_139_07], 1e-6);
    }

    #[test]
    fn seed_adagrad_ignores_the_gradient() {
        // Seed line 526: w ← w − η / (√G + ε). For g = −1 the parameter should *increase*
        // (w − η·g/√G = w + η), but the seed's update decreases it by the same amount.
        let ours = first_step(&AdaGradConfig::new().build(), 0.1, &[0.0], &[-1.0]);
        assert_vec(&ours, &[0.1], 1e-6);
        let (g_sum, lr) = (1.0f64, 0.1f64);
        let seed = 0.0 - lr / (g_sum.sqrt() + 1e-10);
        assert!(
            (seed + 0.1).abs() < 1e-9,
            "the seed moves the wrong way: {seed}"
        );
    }
}
