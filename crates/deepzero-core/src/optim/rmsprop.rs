//! RMSProp (Hinton, lecture 6e; seed 2.2.4), in PyTorch's form.
//!
//! ```text
//! g ← g + λw
//! v ← αv + (1 − α)g²                                    (v₀ = 0)
//! centred:  ḡ ← αḡ + (1 − α)g;  s = √(v − ḡ²) + ε       otherwise  s = √v + ε
//! with momentum μ > 0:  b ← μb + g/s;  w ← w − ηb       otherwise  w ← w − η g/s
//! ```
//!
//! The seed's update `w − η / (√v + ε)` (line 562) drops the factor `g`, like its AdaGrad.

use burn::config::Config;
use burn::optim::{RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::{Step, l2, push_tensor, take_tensor};

/// Configuration of [`RmsProp`].
#[derive(Config, Debug)]
pub struct RmsPropConfig {
    /// Smoothing constant `α` of the squared-gradient average (PyTorch default 0.99).
    #[config(default = 0.99)]
    pub alpha: f64,
    /// `ε` added to the root (PyTorch default 1e-8; burn's is 1e-5).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty `λ` added to the gradient (PyTorch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Momentum `μ` on the normalised step (PyTorch default 0; burn's is 0.9).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Divide by the estimated variance `v − ḡ²` instead of the raw second moment.
    #[config(default = false)]
    pub centered: bool,
}

impl RmsPropConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> RmsProp {
        RmsProp {
            alpha: self.alpha,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered: self.centered,
        }
    }
}

/// RMSProp; see the module docs for the update.
#[derive(Debug, Clone)]
pub struct RmsProp {
    alpha: f64,
    epsilon: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
}

/// Per-parameter state of [`RmsProp`].
#[derive(Debug, Clone)]
pub struct RmsPropState<const D: usize> {
    /// Running average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Running average of gradients `ḡ` (centred variant only).
    pub grad_avg: Option<Tensor<D>>,
    /// Momentum buffer `b` (only when `momentum > 0`).
    pub momentum_buffer: Option<Tensor<D>>,
}

impl<const D: usize> RecordState for RmsPropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        push_tensor(out, prefix, "square_avg", &self.square_avg);
        if let Some(t) = &self.grad_avg {
            push_tensor(out, prefix, "grad_avg", t);
        }
        if let Some(t) = &self.momentum_buffer {
            push_tensor(out, prefix, "momentum_buffer", t);
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            square_avg: take_tensor(src, prefix, "square_avg", device)?,
            grad_avg: take_tensor(src, prefix, "grad_avg", device),
            momentum_buffer: take_tensor(src, prefix, "momentum_buffer", device),
        })
    }
}

impl RmsProp {
    fn update<const D: usize>(&self, s: Step<D, RmsPropState<D>>) -> (Tensor<D>, RmsPropState<D>) {
        let (tensor, lr) = (s.w, s.lr);
        let grad = l2(s.g, &tensor, self.weight_decay);
        let (square_avg, grad_avg, buffer) = match s.state {
            Some(state) => (state.square_avg, state.grad_avg, state.momentum_buffer),
            None => (tensor.zeros_like(), None, None),
        };
        let a = self.alpha;
        let square_avg = square_avg.mul_scalar(a) + grad.clone().square().mul_scalar(1.0 - a);

        let (variance, grad_avg) = if self.centered {
            let prev = grad_avg.unwrap_or_else(|| tensor.zeros_like());
            let avg = prev.mul_scalar(a) + grad.clone().mul_scalar(1.0 - a);
            (square_avg.clone() - avg.clone().square(), Some(avg))
        } else {
            (square_avg.clone(), None)
        };
        let normalised = grad / variance.sqrt().add_scalar(self.epsilon);

        let (direction, momentum_buffer) = if self.momentum > 0.0 {
            let b = match buffer {
                Some(b) => b.mul_scalar(self.momentum) + normalised,
                None => normalised,
            };
            (b.clone(), Some(b))
        } else {
            (normalised, None)
        };
        (
            tensor - direction.mul_scalar(lr),
            RmsPropState {
                square_avg,
                grad_avg,
                momentum_buffer,
            },
        )
    }
}

impl<const D: usize> RmsPropState<D> {
    fn moved_to(self, device: &Device) -> Self {
        RmsPropState {
            square_avg: self.square_avg.to_device(device),
            grad_avg: self.grad_avg.map(|t| t.to_device(device)),
            momentum_buffer: self.momentum_buffer.map(|t| t.to_device(device)),
        }
    }
}

stateful_optimizer!(RmsProp, RmsPropConfig, RmsPropState);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;

    fn burn_rmsprop(momentum: f32, centered: bool) -> burn::optim::RmsPropConfig {
        // burn defaults: momentum 0.9 and ε 1e-5; set PyTorch's explicitly.
        burn::optim::RmsPropConfig::new()
            .with_alpha(0.99)
            .with_epsilon(1e-8)
            .with_momentum(momentum)
            .with_centered(centered)
    }

    #[test]
    fn matches_burn_rmsprop() {
        assert_matches_burn(
            RmsPropConfig::new().init(),
            burn_rmsprop(0.0, false).init(),
            6,
        );
        assert_matches_burn(
            RmsPropConfig::new().with_weight_decay(0.05).init(),
            burn_rmsprop(0.0, false)
                .with_weight_decay(Some(WeightDecayConfig::new(0.05)))
                .init(),
            6,
        );
    }

    #[test]
    fn matches_burn_rmsprop_with_momentum_and_centering() {
        assert_matches_burn(
            RmsPropConfig::new().with_momentum(0.9).init(),
            burn_rmsprop(0.9, false).init(),
            6,
        );
        assert_matches_burn(
            RmsPropConfig::new()
                .with_centered(true)
                .with_momentum(0.5)
                .init(),
            burn_rmsprop(0.5, true).init(),
            6,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // α = 0.99, η = 0.1, w = [1, −2], g₁ = [0.5, −1], g₂ = [0.2, 0.4].
        // Step 1: v = 0.01·[0.25, 1] = [0.0025, 0.01]; √v = [0.05, 0.1] = 0.1·|g₁|, so each
        //         coordinate moves by η·sign(g) / 0.1 = 1:  w = [0, −1].
        // Step 2: v = 0.99·[0.0025, 0.01] + 0.01·[0.04, 0.16] = [0.002875, 0.0115];
        //         w = [0 − 0.02/√0.002875, −1 − 0.04/√0.0115]
        //           = [−0.3730017, −1.3730020].
        let w = two_param_steps(&RmsPropConfig::new().build());
        assert_vec(&w, &[-0.373_001_65, -1.373_001_99], 2e-6);
    }

    #[test]
    fn seed_rmsprop_ignores_the_gradient() {
        // Seed line 562: w ← w − η / (√v + ε). Two coordinates with opposite gradients must move
        // in opposite directions; the seed's update moves both the same way.
        let ours = first_step(&RmsPropConfig::new().build(), 0.01, &[0.0; 2], &[2.0, -2.0]);
        // √v = √(0.01·4) = 0.2, so each moves by η·2/0.2 = 0.1 against its gradient.
        assert_vec(&ours, &[-0.1, 0.1], 1e-6);
        let seed: Vec<f64> = [2.0f64, -2.0]
            .iter()
            .map(|g| 0.0 - 0.01 / ((0.01 * g * g).sqrt() + 1e-8))
            .collect();
        assert!(seed[0] < 0.0 && seed[1] < 0.0, "{seed:?}");
    }

    #[test]
    fn state_is_recorded_only_when_used() {
        let plain = RmsPropState::<1> {
            square_avg: Tensor::zeros([2], &crate::test_util::device()),
            grad_avg: None,
            momentum_buffer: None,
        };
        let mut sink = StateSink::default();
        plain.state_flatten("7", &mut sink);
        let names: Vec<_> = sink.tensors.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, vec!["7.square_avg".to_string()]);
    }
}
