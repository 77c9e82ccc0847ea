//! Plain stochastic gradient descent (seed 2.1.3 / 2.2.1): `w ← w − η (g + λw)`.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

use super::l2;

/// Configuration of [`Sgd`].
#[derive(Config, Debug)]
pub struct SgdConfig {
    /// L2 penalty `λ` added to the gradient, `g ← g + λw` (PyTorch `weight_decay`, default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl SgdConfig {
    /// The bare per-tensor optimiser.
    pub fn build(&self) -> Sgd {
        Sgd {
            weight_decay: self.weight_decay,
        }
    }

    /// The optimiser wrapped for whole modules.
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// Stateless SGD: `w ← w − η (g + λw)`.
#[derive(Debug, Clone, Default)]
pub struct Sgd {
    weight_decay: f64,
}

impl Optimizer for Sgd {
    // SGD keeps no state; returning `None` stores nothing in the record.
    type State<const D: usize> = ();

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        _state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let grad = l2(grad, &tensor, self.weight_decay);
        (tensor - grad.mul_scalar(lr), None)
    }

    fn to_device<const D: usize>(state: Self::State<D>, _device: &Device) -> Self::State<D> {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;

    #[test]
    fn matches_burn_sgd() {
        assert_matches_burn(
            SgdConfig::new().init(),
            burn::optim::SgdConfig::new().init(),
            5,
        );
        assert_matches_burn(
            SgdConfig::new().with_weight_decay(0.1).init(),
            burn::optim::SgdConfig::new()
                .with_weight_decay(Some(WeightDecayConfig::new(0.1)))
                .init(),
            5,
        );
    }

    #[test]
    fn hand_computed_two_parameter_steps() {
        // w = [1, −2], η = 0.1, g₁ = [0.5, −1], g₂ = [0.2, 0.4].
        // Step 1: w = [1 − 0.05, −2 + 0.1] = [0.95, −1.9].
        // Step 2: w = [0.95 − 0.02, −1.9 − 0.04] = [0.93, −1.94].
        let w = two_param_steps(&SgdConfig::new().build());
        assert_vec(&w, &[0.93, -1.94], 1e-6);
        // With λ = 0.1: g₁ + λw = [0.6, −1.2] → w = [0.94, −1.88];
        // g₂ + λw = [0.294, 0.212] → w = [0.9106, −1.9012].
        let w = two_param_steps(&SgdConfig::new().with_weight_decay(0.1).build());
        assert_vec(&w, &[0.9106, -1.9012], 1e-6);
    }
}
