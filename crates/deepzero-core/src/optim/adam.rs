//! Adam (Kingma & Ba 2015; seed 2.2.5), with PyTorch's L2-style `weight_decay`.
//!
//! ```text
//! g ← g + λw
//! m ← β₁m + (1 − β₁)g          v ← β₂v + (1 − β₂)g²          (m₀ = v₀ = 0)
//! m̂ = m / (1 − β₁ᵗ)             v̂ = v / (1 − β₂ᵗ)
//! w ← w − η m̂ / (√v̂ + ε)
//! ```
//!
//! Why the bias correction: with `m₀ = 0`, `E[m_t] = (1 − β₁ᵗ) E[g]`, so `m` underestimates the
//! gradient early on (at `t = 1`, `m = 0.1 g`). Dividing by `1 − β₁ᵗ` removes that bias, and the
//! first step is then about `η` in every coordinate (`m̂/√v̂ = g/|g|`). `t` counts **update
//! steps** of this parameter; the seed calls it the number of epochs (line 618), and its
//! function re-creates `m = v = 0` and never returns them, so none of it would work across calls.

use burn::config::Config;
use burn::optim::{RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::{Step, l2, push_step, push_tensor, take_step, take_tensor};

/// Configuration of [`Adam`].
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Decay of the first moment `β₁` (PyTorch default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay of the second moment `β₂` (PyTorch default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `ε` added to `√v̂` (PyTorch default 1e-8; burn's is 1e-5).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty `λ` added to the gradient before the moments (PyTorch default 0). For
    /// decoupled decay use [`AdamW`](super::AdamW).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl AdamConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> Adam {
        Adam {
            moments: Moments {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                epsilon: self.epsilon,
            },
            weight_decay: self.weight_decay,
        }
    }
}

/// Per-parameter state of [`Adam`] and [`AdamW`](super::AdamW).
#[derive(Debug, Clone)]
pub struct AdamState<const D: usize> {
    /// Number of steps taken, `t`.
    pub step: usize,
    /// First moment `m` (not bias-corrected).
    pub moment_1: Tensor<D>,
    /// Second moment `v` (not bias-corrected).
    pub moment_2: Tensor<D>,
}

impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        push_step(out, prefix, self.step);
        push_tensor(out, prefix, "moment_1", &self.moment_1);
        push_tensor(out, prefix, "moment_2", &self.moment_2);
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            step: take_step(src, prefix)?,
            moment_1: take_tensor(src, prefix, "moment_1", device)?,
            moment_2: take_tensor(src, prefix, "moment_2", device)?,
        })
    }
}

impl<const D: usize> AdamState<D> {
    pub(super) fn moved_to(self, device: &Device) -> Self {
        Self {
            step: self.step,
            moment_1: self.moment_1.to_device(device),
            moment_2: self.moment_2.to_device(device),
        }
    }
}

/// The moment estimates shared by Adam and AdamW.
#[derive(Debug, Clone)]
pub(super) struct Moments {
    pub(super) beta_1: f64,
    pub(super) beta_2: f64,
    pub(super) epsilon: f64,
}

impl Moments {
    /// Updates `m`, `v` and `t`, and returns the step `η · m̂ / (√v̂ + ε)`.
    pub(super) fn update<const D: usize>(
        &self,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
        lr: f64,
    ) -> (Tensor<D>, AdamState<D>) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (step, m, v) = match state {
            Some(s) => (s.step + 1, s.moment_1, s.moment_2),
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let m = m.mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1);
        let v = v.mul_scalar(b2) + grad.square().mul_scalar(1.0 - b2);
        // Powers in f64: β₂ᵗ for t in the thousands is where f32 would start to lose digits.
        let t = i32::try_from(step).unwrap_or(i32::MAX);
        let (bias_1, bias_2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        // η·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), rewritten as
        // (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε): the same value, but the bias corrections and the
        // learning rate become scalars, which saves two tensor-sized temporaries per parameter
        // tensor and step (measurable on the CPU, see docs/benchmarks.md).
        let denominator = v
            .clone()
            .sqrt()
            .mul_scalar(1.0 / bias_2.sqrt())
            .add_scalar(self.epsilon);
        let update = (m.clone() / denominator).mul_scalar(lr / bias_1);
        (
            update,
            AdamState {
                step,
                moment_1: m,
                moment_2: v,
            },
        )
    }
}

/// Adam with coupled (L2) weight decay; see the module docs for the update.
#[derive(Debug, Clone)]
pub struct Adam {
    moments: Moments,
    weight_decay: f64,
}

impl Adam {
    fn update<const D: usize>(&self, s: Step<D, AdamState<D>>) -> (Tensor<D>, AdamState<D>) {
        let g = l2(s.g, &s.w, self.weight_decay);
        let (update, state) = self.moments.update(g, s.state, s.lr);
        (s.w - update, state)
    }
}

stateful_optimizer!(Adam, AdamConfig, AdamState);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;

    #[test]
    fn matches_burn_adam() {
        // burn's ε default is 1e-5; PyTorch's (ours) 1e-8. burn folds the bias corrections into
        // one factor, m·√(1−β₂ᵗ)/(1−β₁ᵗ) / (√v + ε√(1−β₂ᵗ)), which is algebraically identical.
        assert_matches_burn(
            AdamConfig::new().init(),
            burn::optim::AdamConfig::new().with_epsilon(1e-8).init(),
            8,
        );
        assert_matches_burn(
            AdamConfig::new().with_weight_decay(0.05).init(),
            burn::optim::AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(Some(WeightDecayConfig::new(0.05)))
                .init(),
            8,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // β = (0.9, 0.999), η = 0.1, w = [1, −2], g₁ = [0.5, −1], g₂ = [0.2, 0.4].
        // Step 1: m = [0.05, −0.1], v = [0.00025, 0.001]; m̂ = [0.5, −1], v̂ = [0.25, 1];
        //         m̂/√v̂ = [1, −1] → w = [0.9, −1.9].
        // Step 2: m = 0.9·[0.05, −0.1] + 0.1·[0.2, 0.4] = [0.065, −0.05];
        //         v = 0.999·[0.00025, 0.001] + 0.001·[0.04, 0.16] = [0.00028975, 0.001159];
        //         m̂ = m/0.19 = [0.3421053, −0.2631579]; v̂ = v/0.001999 = [0.1449475, 0.5797899];
        //         w = [0.9 − 0.1·0.3421053/0.3807197, −1.9 + 0.1·0.2631579/0.7614393]
        //           = [0.8101425, −1.8654394].
        let w = two_param_steps(&AdamConfig::new().build());
        assert_vec(&w, &[0.810_142_48, -1.865_439_42], 2e-6);
    }

    #[test]
    fn bias_correction_makes_the_first_step_the_learning_rate() {
        // m̂₁ = g and v̂₁ = g², so the first step is η·g/|g| whatever the gradient's scale (as long
        // as |g| ≫ ε). Without correction it would be η·(1−β₁)/√(1−β₂) ≈ 3.16·η.
        let w = first_step(&Adam::default(), 0.01, &[0.0; 3], &[0.3, -50.0, 7.0]);
        assert_vec(&w, &[-0.01, 0.01, -0.01], 1e-7);
        let uncorrected = 0.01 * (1.0 - 0.9) / (1.0f64 - 0.999).sqrt();
        assert!((uncorrected - 0.0316).abs() < 1e-3);
    }

    #[test]
    fn step_count_is_per_update_not_per_epoch() {
        // Seed line 618 says t is the epoch. Two updates within "epoch 1" with t = 1 both times
        // give a different second step from the correct t = 1, 2.
        let (b1, b2, lr) = (0.9f64, 0.999f64, 0.1f64);
        let (g1, g2) = (0.5f64, 0.2f64);
        let m1 = (1.0 - b1) * g1;
        let v1 = (1.0 - b2) * g1 * g1;
        let m2 = b1 * m1 + (1.0 - b1) * g2;
        let v2 = b2 * v1 + (1.0 - b2) * g2 * g2;
        let step = |t: i32| lr * (m2 / (1.0 - b1.powi(t))) / (v2 / (1.0 - b2.powi(t))).sqrt();
        let correct = step(2);
        let seed = step(1);
        // Ours after two steps: 0.9 − correct (see the hand computation above).
        assert!((0.9 - correct - 0.810_142_48).abs() < 1e-6);
        assert!((seed - correct).abs() > 0.01, "{seed} vs {correct}");
    }
}
