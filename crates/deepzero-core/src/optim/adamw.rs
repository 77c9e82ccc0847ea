//! AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.
//!
//! ```text
//! w ← w (1 − ηλ)                       decay applied to the weight, not to the gradient
//! m, v, m̂, v̂ as in Adam, from the raw gradient g
//! w ← w − η m̂ / (√v̂ + ε)
//! ```
//!
//! With Adam's L2 form the decay term `λw` is divided by `√v̂` like the rest of the gradient,
//! so weights with large gradients are barely regularised; decoupling makes the decay the same
//! relative shrink `ηλ` for every weight.

use burn::config::Config;
use burn::tensor::Tensor;

use super::Step;
use super::adam::{AdamState, Moments};

/// Configuration of [`AdamW`].
#[derive(Config, Debug)]
pub struct AdamWConfig {
    /// Decay of the first moment `β₁` (PyTorch default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay of the second moment `β₂` (PyTorch default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `ε` added to `√v̂` (PyTorch default 1e-8; burn's is 1e-5).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Decoupled weight decay `λ` (PyTorch default 0.01; burn's is 1e-4).
    #[config(default = 0.01)]
    pub weight_decay: f64,
}

impl AdamWConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> AdamW {
        AdamW {
            moments: Moments {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                epsilon: self.epsilon,
            },
            weight_decay: self.weight_decay,
        }
    }
}

/// AdamW; see the module docs for the update.
#[derive(Debug, Clone)]
pub struct AdamW {
    moments: Moments,
    weight_decay: f64,
}

impl AdamW {
    fn update<const D: usize>(&self, s: Step<D, AdamState<D>>) -> (Tensor<D>, AdamState<D>) {
        let (update, state) = self.moments.update(s.g, s.state, s.lr);
        let decay = s.lr * self.weight_decay;
        let decayed = if decay == 0.0 {
            s.w
        } else {
            s.w.mul_scalar(1.0 - decay)
        };
        (decayed - update, state)
    }
}

stateful_optimizer!(AdamW, AdamWConfig, AdamState);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::optim::AdamConfig;

    #[test]
    fn matches_burn_adamw() {
        assert_matches_burn(
            AdamWConfig::new().init(),
            burn::optim::AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(0.01)
                .init(),
            8,
        );
        assert_matches_burn(
            AdamWConfig::new().with_weight_decay(0.3).init(),
            burn::optim::AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(0.3)
                .init(),
            8,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // λ = 0.1, η = 0.1: each step first shrinks w by (1 − 0.01), then takes Adam's step
        // (the moments are those of the Adam test: directions [1, −1] then
        // [0.8985575, −0.3456055]).
        // Step 1: w = [0.99, −1.98] − 0.1·[1, −1] = [0.89, −1.88].
        // Step 2: w = [0.8811, −1.8612] − 0.1·[0.8985575, −0.3456055] = [0.7912425, −1.8266394].
        let w = two_param_steps(&AdamWConfig::new().with_weight_decay(0.1).build());
        assert_vec(&w, &[0.791_242_48, -1.826_639_42], 2e-6);
        // With λ = 0 it is exactly Adam.
        let plain = two_param_steps(&AdamWConfig::new().with_weight_decay(0.0).build());
        let adam = two_param_steps(&AdamConfig::new().build());
        assert_eq!(plain, adam);
    }

    #[test]
    fn decoupled_decay_differs_from_l2() {
        // Same λ, different algorithms: Adam + L2 divides λw by √v̂, AdamW does not.
        let l2 = two_param_steps(&AdamConfig::new().with_weight_decay(0.1).build());
        let decoupled = two_param_steps(&AdamWConfig::new().with_weight_decay(0.1).build());
        assert!(
            (l2[0] - decoupled[0]).abs() > 1e-3,
            "{l2:?} vs {decoupled:?}"
        );
    }
}
