//! SGD with momentum and Nesterov momentum (seed 2.2.2), in PyTorch's convention.
//!
//! ```text
//! g ← g + λw
//! v ← g                        on the first step
//! v ← μv + (1 − τ)g            afterwards                (τ = dampening, default 0)
//! d ← v            (heavy ball)   or   d ← g + μv  (Nesterov)
//! w ← w − η d
//! ```
//!
//! The seed (line 482) uses the other common convention, `v ← μv − ηg; w ← w + v`. With a
//! constant learning rate the two produce identical iterates (its `v` is `−η` times ours); when
//! the learning rate changes during training they differ, because the seed's velocity keeps the
//! old learning rates baked in while ours rescales the whole velocity by the current `η`.
//! The seed's function also re-creates `velocity = 0` on every call, which turns it into plain
//! SGD.

use burn::config::Config;
use burn::optim::{RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::{Step, l2, push_tensor, take_tensor};

/// Configuration of [`Momentum`].
#[derive(Config, Debug)]
pub struct MomentumConfig {
    /// Momentum factor `μ` (PyTorch has no default; 0.9 is the usual choice).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Dampening `τ` of the gradient in the velocity update (PyTorch default 0; burn's is 0.1).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// Use Nesterov's look-ahead `d = g + μv` (PyTorch requires `dampening = 0` for it).
    #[config(default = false)]
    pub nesterov: bool,
    /// L2 penalty `λ` added to the gradient (PyTorch `weight_decay`, default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl MomentumConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> Momentum {
        Momentum {
            momentum: self.momentum,
            dampening: self.dampening,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
        }
    }
}

/// SGD with heavy-ball or Nesterov momentum; see the module docs for the update.
#[derive(Debug, Clone)]
pub struct Momentum {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
}

/// Per-parameter state of [`Momentum`]: the velocity (PyTorch's `momentum_buffer`).
#[derive(Debug, Clone)]
pub struct MomentumState<const D: usize> {
    /// Velocity `v`, the same shape as the parameter.
    pub velocity: Tensor<D>,
}

impl<const D: usize> RecordState for MomentumState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        push_tensor(out, prefix, "velocity", &self.velocity);
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            velocity: take_tensor(src, prefix, "velocity", device)?,
        })
    }
}

impl<const D: usize> MomentumState<D> {
    fn moved_to(self, device: &Device) -> Self {
        MomentumState {
            velocity: self.velocity.to_device(device),
        }
    }
}

impl Momentum {
    fn update<const D: usize>(
        &self,
        s: Step<D, MomentumState<D>>,
    ) -> (Tensor<D>, MomentumState<D>) {
        let g = l2(s.g, &s.w, self.weight_decay);
        let velocity = match s.state {
            // PyTorch initialises the buffer with the raw gradient (no dampening) on step 1.
            None => g.clone(),
            Some(state) => {
                state.velocity.mul_scalar(self.momentum)
                    + g.clone().mul_scalar(1.0 - self.dampening)
            }
        };
        let direction = if self.nesterov {
            g + velocity.clone().mul_scalar(self.momentum)
        } else {
            velocity.clone()
        };
        (s.w - direction.mul_scalar(s.lr), MomentumState { velocity })
    }
}

stateful_optimizer!(Momentum, MomentumConfig, MomentumState);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig as BurnMomentum;
    use burn::optim::{ModuleOptimizer, Optimizer};

    fn burn_sgd(momentum: f64, dampening: f64, nesterov: bool, wd: Option<f32>) -> ModuleOptimizer {
        burn::optim::SgdConfig::new()
            .with_momentum(Some(
                BurnMomentum::new()
                    .with_momentum(momentum)
                    .with_dampening(dampening)
                    .with_nesterov(nesterov),
            ))
            .with_weight_decay(wd.map(WeightDecayConfig::new))
            .init()
    }

    #[test]
    fn matches_burn_momentum_with_pytorch_dampening() {
        // burn's default dampening is 0.1; PyTorch's (and ours) is 0.
        assert_matches_burn(
            MomentumConfig::new().init(),
            burn_sgd(0.9, 0.0, false, None),
            6,
        );
        assert_matches_burn(
            MomentumConfig::new().with_weight_decay(0.05).init(),
            burn_sgd(0.9, 0.0, false, Some(0.05)),
            6,
        );
        // Non-zero dampening agrees too once both are set to the same value.
        assert_matches_burn(
            MomentumConfig::new().with_dampening(0.1).init(),
            burn_sgd(0.9, 0.1, false, None),
            6,
        );
    }

    #[test]
    fn matches_burn_nesterov() {
        assert_matches_burn(
            MomentumConfig::new().with_nesterov(true).init(),
            burn_sgd(0.9, 0.0, true, None),
            6,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // μ = 0.9, η = 0.1, w = [1, −2], g₁ = [0.5, −1], g₂ = [0.2, 0.4].
        // Step 1: v = g₁ = [0.5, −1];  w = [1 − 0.05, −2 + 0.1] = [0.95, −1.9].
        // Step 2: v = 0.9·[0.5, −1] + [0.2, 0.4] = [0.65, −0.5];
        //         w = [0.95 − 0.065, −1.9 + 0.05] = [0.885, −1.85].
        assert_vec(
            &two_param_steps(&MomentumConfig::new().build()),
            &[0.885, -1.85],
            1e-6,
        );
        // Nesterov step 1: d = g₁ + 0.9·g₁ = [0.95, −1.9]; w = [0.905, −1.81].
        // Step 2: v = [0.65, −0.5]; d = [0.2 + 0.585, 0.4 − 0.45] = [0.785, −0.05];
        //         w = [0.905 − 0.0785, −1.81 + 0.005] = [0.8265, −1.805].
        let nesterov = MomentumConfig::new().with_nesterov(true).build();
        assert_vec(&two_param_steps(&nesterov), &[0.8265, -1.805], 1e-6);
    }

    /// The seed's convention `v ← μv − ηg; w ← w + v`, with its velocity kept between calls.
    fn seed_convention(lrs: &[f64], grads: &[[f64; 2]]) -> [f64; 2] {
        let (mut w, mut v) = ([1.0f64, -2.0], [0.0f64; 2]);
        for (lr, g) in lrs.iter().zip(grads) {
            for i in 0..2 {
                v[i] = 0.9 * v[i] - lr * g[i];
                w[i] += v[i];
            }
        }
        w
    }

    #[test]
    fn seed_convention_agrees_only_for_a_constant_learning_rate() {
        let grads = [[0.5, -1.0], [0.2, 0.4]];
        // Constant η = 0.1: identical to ours ([0.885, −1.85] above).
        let w = seed_convention(&[0.1, 0.1], &grads);
        assert!((w[0] - 0.885).abs() < 1e-12 && (w[1] + 1.85).abs() < 1e-12);
        // η drops from 0.1 to 0.01: ours moves by 0.01·v₂ in step 2, the seed by
        // 0.9·(0.1 g₁) + 0.01 g₂, which still carries the old rate.
        let ours = {
            let dev = crate::test_util::device();
            let m = MomentumConfig::new().build();
            let w = Tensor::<1>::from_floats([1.0, -2.0], &dev);
            let (w, s) = m.step(0.1, w, Tensor::from_floats([0.5, -1.0], &dev), None);
            let (w, _) = m.step(0.01, w, Tensor::from_floats([0.2, 0.4], &dev), s);
            crate::test_util::host(&w)
        };
        // Ours: [0.95 − 0.01·0.65, −1.9 + 0.01·0.5] = [0.9435, −1.895].
        assert_vec(&ours, &[0.9435, -1.895], 1e-6);
        let seed = seed_convention(&[0.1, 0.01], &grads);
        // Seed: v₂ = 0.9·[−0.05, 0.1] − 0.01·[0.2, 0.4] = [−0.047, 0.086] → [0.903, −1.814].
        assert!((seed[0] - 0.903).abs() < 1e-12 && (seed[1] + 1.814).abs() < 1e-12);
    }

    #[test]
    fn seed_momentum_without_persistent_velocity_is_plain_sgd() {
        // Seed line 478 sets velocity = 0 at the top of every call, so each call computes
        // v = −ηg and w ← w − ηg: two steps land exactly on plain SGD's [0.93, −1.94].
        let (mut w, grads) = ([1.0f64, -2.0], [[0.5, -1.0], [0.2, 0.4]]);
        for g in grads {
            let velocity = [0.0f64; 2];
            for i in 0..2 {
                w[i] += 0.9 * velocity[i] - 0.1 * g[i];
            }
        }
        assert!((w[0] - 0.93).abs() < 1e-12 && (w[1] + 1.94).abs() < 1e-12);
        let ours = two_param_steps(&MomentumConfig::new().build());
        assert!(
            (f64::from(ours[0]) - w[0]).abs() > 0.04,
            "momentum must differ from SGD"
        );
    }
}
