//! Optimisers written from their update equations (seed chapter 2.2) as burn
//! [`Optimizer`](burn::optim::Optimizer)s.
//!
//! Each optimiser is a per-tensor `burn::optim::Optimizer`: burn's
//! [`ModuleOptimizer`] walks a module's parameters, hands each one with its gradient and its
//! previous state to `step`, and stores the new state keyed by parameter id. So every type here
//! converts into a `ModuleOptimizer` (`let o: ModuleOptimizer = Adam::default().into()`, or
//! `AdamConfig::new().init()`), and its state is saved and restored with
//! `ModuleOptimizer::to_record` / `load_record` (or `save` / `load`) like burn's own.
//!
//! Notation: `w` parameter, `g` gradient, `η` learning rate, `λ` weight decay, `t` the step
//! count of *this parameter* starting at 1 (not the epoch: see `docs/errata.md`).
//!
//! | optimiser | update (PyTorch conventions) |
//! |---|---|
//! | [`Sgd`] | `g ← g + λw; w ← w − ηg` |
//! | [`Momentum`] | `g ← g + λw; v ← μv + (1 − τ)g` (`v₁ = g`)`; w ← w − ηv` |
//! | Nesterov ([`Momentum`] with `nesterov`) | as above, then `w ← w − η(g + μv)` |
//! | [`AdaGrad`] | `G ← G + g²; w ← w − η_t g / (√G + ε)`, `η_t = η / (1 + (t − 1)·decay)` |
//! | [`RmsProp`] | `v ← αv + (1 − α)g²; w ← w − ηg / (√v + ε)` |
//! | [`Adam`] | `m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; w ← w − η m̂ / (√v̂ + ε)`, `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)` |
//! | [`AdamW`] | `w ← w(1 − ηλ)`, then the Adam step without `λ` in `g` |
//!
//! The seed's AdaGrad and RMSProp pseudo-code subtracts `η / (√G + ε)`, forgetting the factor
//! `g`; its momentum, AdaGrad, RMSProp and Adam functions re-initialise their state on every call.
//!
//! # Defaults
//! The config structs use **PyTorch's** defaults (documented per field), not burn's: burn's Adam,
//! AdaGrad and RMSProp use `ε = 1e-5`, its SGD momentum has dampening 0.1, its RMSProp momentum
//! 0.9 and its AdamW weight decay 1e-4.

use core::fmt;
use core::str::FromStr;

use burn::optim::{ModuleOptimizer, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// What one call of an optimiser's `update` gets: the learning rate `η`, the parameter `w`,
/// its gradient `g`, and the parameter's state from its previous step (`None` on the first).
pub(crate) struct Step<const D: usize, S> {
    pub lr: f64,
    pub w: Tensor<D>,
    pub g: Tensor<D>,
    pub state: Option<S>,
}

/// The glue every stateful optimiser here has in the same form, so that each file holds only
/// its equations and its state: `$config::init` (the optimiser wrapped for whole modules),
/// `Default` (the config's defaults, PyTorch's), and burn's per-tensor `Optimizer`, whose
/// `step` calls the type's `update(Step) -> (w, state)` and whose `to_device` calls the
/// state's `moved_to`.
macro_rules! stateful_optimizer {
    ($optim:ident, $config:ident, $state:ident) => {
        impl $config {
            /// The optimiser wrapped for whole modules.
            pub fn init(&self) -> burn::optim::ModuleOptimizer {
                self.build().into()
            }
        }

        impl Default for $optim {
            fn default() -> Self {
                $config::new().build()
            }
        }

        impl burn::optim::Optimizer for $optim {
            type State<const D: usize> = $state<D>;

            fn step<const D: usize>(
                &self,
                lr: burn::optim::LearningRate,
                w: burn::tensor::Tensor<D>,
                g: burn::tensor::Tensor<D>,
                state: Option<$state<D>>,
            ) -> (burn::tensor::Tensor<D>, Option<$state<D>>) {
                let (w, state) = self.update($crate::optim::Step { lr, w, g, state });
                (w, Some(state))
            }

            fn to_device<const D: usize>(
                state: $state<D>,
                device: &burn::tensor::Device,
            ) -> $state<D> {
                state.moved_to(device)
            }
        }
    };
}

mod adagrad;
mod adam;
mod adamw;
mod momentum;
mod rmsprop;
mod sgd;

pub use adagrad::{AdaGrad, AdaGradConfig, AdaGradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamw::{AdamW, AdamWConfig};
pub use momentum::{Momentum, MomentumConfig, MomentumState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use sgd::{Sgd, SgdConfig};

/// Records a state tensor under `{prefix}.{leaf}`.
pub(crate) fn push_tensor<const D: usize>(
    out: &mut StateSink,
    prefix: &str,
    leaf: &str,
    t: &Tensor<D>,
) {
    out.push_tensor(prefix, leaf, t.to_data());
}

/// Takes the state tensor `{prefix}.{leaf}`, if present.
pub(crate) fn take_tensor<const D: usize>(
    src: &mut StateSource,
    prefix: &str,
    leaf: &str,
    device: &Device,
) -> Option<Tensor<D>> {
    Some(Tensor::from_data(src.take_tensor(prefix, leaf)?, device))
}

/// Records the per-parameter step counter `t` as a burnpack scalar.
pub(crate) fn push_step(out: &mut StateSink, prefix: &str, step: usize) {
    out.push_scalar(prefix, "step", step.into());
}

/// Reads the step counter back; `None` if it is absent or not an unsigned integer.
pub(crate) fn take_step(src: &mut StateSource, prefix: &str) -> Option<usize> {
    usize::try_from(src.take_scalar(prefix, "step")?).ok()
}

/// `g + λw`: the coupled (L2) weight decay of PyTorch's `weight_decay` argument.
pub(crate) fn l2<const D: usize>(grad: Tensor<D>, weight: &Tensor<D>, decay: f64) -> Tensor<D> {
    if decay == 0.0 {
        grad
    } else {
        grad + weight.clone().mul_scalar(decay)
    }
}

/// The optimisers a training run can choose by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with heavy-ball momentum 0.9 (PyTorch convention, dampening 0).
    Momentum,
    /// SGD with Nesterov momentum 0.9.
    Nesterov,
    /// AdaGrad (ε = 1e-10).
    AdaGrad,
    /// RMSProp (α = 0.99, ε = 1e-8, no momentum, not centred).
    RmsProp,
    /// Adam (β = 0.9, 0.999, ε = 1e-8), weight decay as L2 on the gradient.
    Adam,
    /// AdamW (β = 0.9, 0.999, ε = 1e-8), decoupled weight decay.
    AdamW,
}

impl OptimizerKind {
    /// Every kind, in the order of the seed's chapter 2.2.
    pub const ALL: [OptimizerKind; 7] = [
        Self::Sgd,
        Self::Momentum,
        Self::Nesterov,
        Self::AdaGrad,
        Self::RmsProp,
        Self::Adam,
        Self::AdamW,
    ];

    /// The command-line name (`sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop`, `adam`,
    /// `adamw`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Momentum => "momentum",
            Self::Nesterov => "nesterov",
            Self::AdaGrad => "adagrad",
            Self::RmsProp => "rmsprop",
            Self::Adam => "adam",
            Self::AdamW => "adamw",
        }
    }

    /// PyTorch's default learning rate for this optimiser (`torch.optim`, 2.x): 1e-3 for SGD
    /// (all three variants), Adam and AdamW; 1e-2 for AdaGrad and RMSProp.
    pub const fn pytorch_default_lr(self) -> f64 {
        match self {
            Self::AdaGrad | Self::RmsProp => 1e-2,
            _ => 1e-3,
        }
    }

    /// Builds **our** implementation with PyTorch's default hyper-parameters.
    ///
    /// `weight_decay` is PyTorch's argument of the same name: an L2 term `λw` added to the
    /// gradient for every kind except [`AdamW`](Self::AdamW), where it is the decoupled decay
    /// `w ← w(1 − ηλ)` (pass PyTorch's AdamW default, 0.01, if unsure).
    pub fn build(self, weight_decay: f64) -> ModuleOptimizer {
        match self {
            Self::Sgd => SgdConfig::new().with_weight_decay(weight_decay).init(),
            Self::Momentum => MomentumConfig::new().with_weight_decay(weight_decay).init(),
            Self::Nesterov => MomentumConfig::new()
                .with_nesterov(true)
                .with_weight_decay(weight_decay)
                .init(),
            Self::AdaGrad => AdaGradConfig::new().with_weight_decay(weight_decay).init(),
            Self::RmsProp => RmsPropConfig::new().with_weight_decay(weight_decay).init(),
            Self::Adam => AdamConfig::new().with_weight_decay(weight_decay).init(),
            Self::AdamW => AdamWConfig::new().with_weight_decay(weight_decay).init(),
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An optimiser name that is not one of [`OptimizerKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown optimizer `{given}`; valid names: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw"
)]
pub struct ParseOptimizerError {
    /// What was given.
    pub given: String,
}

impl FromStr for OptimizerKind {
    type Err = ParseOptimizerError;

    /// Parses a name case-insensitively (`"AdamW"` and `"adamw"` both work).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| ParseOptimizerError {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared fixtures: a small `Linear` layer, a loss, and a stepping loop, so that each
    //! optimiser can be run side by side with burn's.

    use burn::module::Param;
    use burn::nn::Linear;
    use burn::optim::{GradientsParams, ModuleOptimizer, Optimizer};
    use burn::tensor::{Device, Tensor, TensorData};

    use crate::test_util::{assert_close, device};

    /// The autodiff device the module comparisons run on.
    pub fn ad_device() -> Device {
        device().autodiff()
    }

    /// A fixed 3 → 2 linear layer.
    pub fn layer(device: &Device) -> Linear {
        Linear {
            weight: Param::from_data(
                TensorData::from([[0.3f32, -0.5], [0.8, 0.1], [-0.4, 0.6]]),
                device,
            ),
            bias: Some(Param::from_data(TensorData::from([0.05f32, -0.2]), device)),
        }
    }

    /// Gradients of `Σ (layer(x_k) − target)²` for a batch that changes with `k`, so
    /// successive steps see different gradients.
    pub fn grads(layer: &Linear, k: usize, device: &Device) -> GradientsParams {
        let s = k as f32 * 0.37;
        let x = Tensor::<2>::from_floats(
            [
                [1.0 + s, -0.5, 0.25],
                [0.3, 0.9 - s, -1.2],
                [-0.7, 0.4, 0.6 + s],
            ],
            device,
        );
        let target = Tensor::<2>::from_floats([[0.5, -1.0], [0.0, 0.7], [1.2, -0.3]], device);
        let loss = (layer.forward(x) - target).square().sum();
        GradientsParams::from_grads(loss.backward(), layer)
    }

    /// Runs `steps` optimiser steps with a learning rate that varies by step (so learning-rate
    /// handling is exercised too).
    pub fn run(mut optim: ModuleOptimizer, steps: usize) -> Linear {
        let dev = ad_device();
        let mut model = layer(&dev);
        for k in 0..steps {
            let g = grads(&model, k, &dev);
            let lr = 0.05 * (1.0 - 0.1 * k as f64);
            model = optim.step(lr, model, g);
        }
        model
    }

    /// Asserts two layers have the same parameters to `tol`.
    #[track_caller]
    pub fn assert_same(a: &Linear, b: &Linear, tol: f32) {
        assert_close(&a.weight.val(), &b.weight.val(), tol, tol);
        let (ba, bb) = (a.bias.as_ref().unwrap(), b.bias.as_ref().unwrap());
        assert_close(&ba.val(), &bb.val(), tol, tol);
    }

    /// Runs ours and burn's for `steps` steps and compares the parameters.
    #[track_caller]
    pub fn assert_matches_burn(ours: ModuleOptimizer, theirs: ModuleOptimizer, steps: usize) {
        let a = run(ours, steps);
        let b = run(theirs, steps);
        assert_same(&a, &b, 1e-5);
        // And something actually moved.
        let start = layer(&device());
        let moved = (a.weight.val().without_autodiff() - start.weight.val())
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(moved > 1e-3, "parameters barely moved: {moved}");
    }

    /// Two parameters `w = [1, −2]`, two steps with gradients `[0.5, −1]` then `[0.2, 0.4]`,
    /// `η = 0.1`: the fixture of the hand-computed tests.
    pub fn two_param_steps<O: Optimizer>(optim: &O) -> Vec<f32> {
        let dev = device();
        let mut w = Tensor::<1>::from_floats([1.0, -2.0], &dev);
        let mut state = None;
        for g in [[0.5f32, -1.0], [0.2, 0.4]] {
            let (nw, ns) = optim.step(0.1, w, Tensor::from_floats(g, &dev), state);
            w = nw;
            state = ns;
        }
        crate::test_util::host(&w)
    }

    /// One step from `w` with gradient `g` and no state, on the host.
    pub fn first_step<O: Optimizer>(optim: &O, lr: f64, w: &[f32], g: &[f32]) -> Vec<f32> {
        let dev = device();
        let (w, _) = optim.step(
            lr,
            Tensor::<1>::from_floats(w, &dev),
            Tensor::from_floats(g, &dev),
            None,
        );
        crate::test_util::host(&w)
    }

    /// Asserts a host vector equals the expected hand computation.
    #[track_caller]
    pub fn assert_vec(actual: &[f32], expected: &[f64], tol: f64) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (f64::from(*a) - e).abs() <= tol,
                "{actual:?} vs {expected:?}"
            );
        }
    }

    /// Saves the optimiser state after two steps, reloads it into a fresh optimiser and checks
    /// that a third step is identical.
    #[track_caller]
    pub fn assert_state_round_trips(make: impl Fn() -> ModuleOptimizer) {
        let dev = ad_device();
        let mut model = layer(&dev);
        let mut original = make();
        for k in 0..2 {
            let g = grads(&model, k, &dev);
            model = original.step(0.05, model, g);
        }
        let bytes = original.into_bytes().unwrap();
        let mut restored = make().from_bytes(bytes).unwrap();
        let a = original.step(0.05, model.clone(), grads(&model, 2, &dev));
        let b = restored.step(0.05, model.clone(), grads(&model, 2, &dev));
        assert_same(&a, &b, 1e-6);
        // A fresh optimiser (state lost) must differ, or the test proves nothing.
        let c = make().step(0.05, model.clone(), grads(&model, 2, &dev));
        let diff = (a.weight.val() - c.weight.val())
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(diff > 1e-6, "state made no difference");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_parse_display_and_round_trip() {
        assert_eq!(OptimizerKind::ALL.len(), 7);
        for kind in OptimizerKind::ALL {
            assert_eq!(kind.to_string().parse::<OptimizerKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<OptimizerKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            "AdamW".parse::<OptimizerKind>().unwrap(),
            OptimizerKind::AdamW
        );
        assert_eq!(
            " RMSProp ".parse::<OptimizerKind>().unwrap(),
            OptimizerKind::RmsProp
        );
        let err = "lbfgs".parse::<OptimizerKind>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("lbfgs"));
        for kind in OptimizerKind::ALL {
            assert!(msg.contains(kind.name()), "{msg}");
        }
    }

    #[test]
    fn every_kind_builds_trains_and_round_trips_its_state() {
        for kind in OptimizerKind::ALL {
            // A few steps must lower the loss from the fixed start.
            let dev = ad_device();
            let mut model = layer(&dev);
            let mut optim = kind.build(1e-4);
            let loss = |m: &burn::nn::Linear| {
                let x = Tensor::<2>::from_floats(
                    [[1.0, -0.5, 0.25], [0.3, 0.9, -1.2], [-0.7, 0.4, 0.6]],
                    &dev,
                );
                let target = Tensor::<2>::from_floats([[0.5, -1.0], [0.0, 0.7], [1.2, -0.3]], &dev);
                (m.forward(x) - target).square().sum().into_scalar::<f64>()
            };
            let before = loss(&model);
            for _ in 0..5 {
                let g = grads(&model, 0, &dev);
                model = optim.step(0.01, model, g);
            }
            assert!(loss(&model) < before, "{kind} did not reduce the loss");
            if kind != OptimizerKind::Sgd {
                assert_state_round_trips(|| kind.build(1e-4));
            }
        }
    }

    #[test]
    fn state_survives_a_file_round_trip() {
        let dev = ad_device();
        let mut model = layer(&dev);
        let mut optim = OptimizerKind::Adam.build(0.0);
        for k in 0..3 {
            let g = grads(&model, k, &dev);
            model = optim.step(0.05, model, g);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optim");
        optim.save(&path).unwrap();
        let mut loaded = OptimizerKind::Adam.build(0.0).load(&path).unwrap();
        let a = optim.step(0.05, model.clone(), grads(&model, 3, &dev));
        let b = loaded.step(0.05, model.clone(), grads(&model, 3, &dev));
        assert_same(&a, &b, 1e-6);
    }
}
