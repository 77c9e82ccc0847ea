//! The optimiser pieces of pre-training: AdamW whose weight decay spares norms and biases
//! (nanoGPT's `configure_optimizers`, BERT's `exclude_from_weight_decay`), and clipping of the
//! gradients' global norm (PyTorch's `clip_grad_norm_`).
//!
//! **Decay groups.** Every parameter of rank ≥ 2 (weight matrices, embedding tables) decays;
//! every parameter of rank 1 (biases, LayerNorm's `γ` and `β`) does not: shrinking a norm's
//! gain or a bias towards 0 is no regularisation, only a bias of its own. burn's
//! [`ModuleOptimizer`] takes one optimiser per [`ParamGroup`]; the groups are matched by
//! *path*, so they survive saving and reloading a model (parameter ids do not).
//!
//! **Clipping.** `g ← g · min(1, c / ‖g‖)` with `‖g‖ = √(Σ_params Σ g²)` over *all* parameters
//! at once: the direction of the step is kept, only its length is capped (burn's own
//! `GradientClipping::Norm` clips each tensor separately, which changes the direction).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamGroup};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use deepzero_core::optim::AdamWConfig;
pub use deepzero_core::params::{ParamInfo, float_params};

/// The parameters that must not decay: rank 1 (biases, LayerNorm gains and offsets).
pub fn no_decay_group<M: Module>(module: &M) -> ParamGroup {
    ParamGroup::from_paths(
        float_params(module)
            .into_iter()
            .filter(|p| p.rank < 2)
            .map(|p| p.path)
            .collect::<Vec<_>>(),
    )
}

/// AdamW (β = 0.9, 0.999, ε = 1e-8) with decoupled decay `weight_decay` on the weight matrices
/// and embeddings of `module` and none on its biases and norms.
pub fn adamw_excluding_norms_and_biases<M: Module>(
    module: &M,
    weight_decay: f64,
    betas: (f64, f64),
) -> ModuleOptimizer {
    let adamw = |decay| {
        AdamWConfig::new()
            .with_beta_1(betas.0)
            .with_beta_2(betas.1)
            .with_weight_decay(decay)
            .build()
    };
    ModuleOptimizer::from(adamw(weight_decay)).with_group(no_decay_group(module), adamw(0.0), None)
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleMapper for Scale<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads
                .register::<D>(param.id, g.mul_scalar(self.factor));
        }
        param
    }
}

/// The global L2 norm of the gradients of `module`'s parameters.
pub fn grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut visitor = SquaredNorm { grads, sum: None };
    module.visit(&mut visitor);
    visitor
        .sum
        .map_or(0.0, |s| (s.into_scalar::<f32>() as f64).sqrt())
}

/// Scales every gradient by `max_norm / ‖g‖` when the global norm `‖g‖` exceeds `max_norm`
/// (PyTorch's `clip_grad_norm_`, with its `1e-6` in the denominator); returns the gradients and
/// the norm *before* clipping.
pub fn clip_grad_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    let norm = grad_norm(module, &grads);
    if norm > max_norm {
        let mut scale = Scale {
            grads: &mut grads,
            factor: max_norm / (norm + 1e-6),
        };
        // The mapper only rewrites the gradients; the module it walks is thrown away.
        let _ = module.clone().map(&mut scale);
    }
    (grads, norm)
}

#[cfg(test)]
mod tests {
    use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
    use burn::tensor::Tolerance;

    use super::*;

    #[derive(Module, Debug)]
    struct Tiny {
        linear: Linear,
        norm: LayerNorm,
    }

    fn tiny(device: &Device) -> Tiny {
        Tiny {
            linear: LinearConfig::new(3, 2).init(device),
            norm: LayerNormConfig::new(2).init(device),
        }
    }

    #[test]
    fn paths_and_ranks_name_every_parameter() {
        let model = tiny(&Device::flex());
        let params = float_params(&model);
        let names: Vec<(&str, usize)> = params.iter().map(|p| (p.path.as_str(), p.rank)).collect();
        assert_eq!(
            names,
            [
                ("linear.weight", 2),
                ("linear.bias", 1),
                ("norm.gamma", 1),
                ("norm.beta", 1)
            ]
        );
    }

    /// With zero gradients AdamW's step is pure decay: `w ← w (1 − ηλ)` for the weight matrix,
    /// nothing for the bias and the norm.
    #[test]
    fn decay_shrinks_matrices_and_spares_biases_and_norms() {
        let device = Device::flex().autodiff();
        let model = tiny(&device);
        let before = (
            model.linear.weight.val().into_data(),
            model.linear.bias.as_ref().unwrap().val().into_data(),
            model.norm.gamma.val().into_data(),
        );
        let x = Tensor::<2>::ones([1, 3], &device);
        let loss = model.norm.forward(model.linear.forward(x)).sum() * 0.0;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut optim = adamw_excluding_norms_and_biases(&model, 0.5, (0.9, 0.999));
        let (lr, decay) = (0.1, 0.5);
        let model = optim.step(lr, model, grads);
        let expected = Tensor::<2>::from_data(before.0, &Device::flex()) * (1.0 - lr * decay);
        model
            .linear
            .weight
            .val()
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::default());
        assert_eq!(
            model.linear.bias.as_ref().unwrap().val().into_data(),
            before.1
        );
        assert_eq!(model.norm.gamma.val().into_data(), before.2);
    }

    /// Gradients of global norm 13 (a 3-4-12 triangle over two tensors) clipped to 6.5 are
    /// halved; clipped to 20 they are left alone.
    #[test]
    fn clipping_scales_the_global_norm() {
        let device = Device::flex();
        let model = tiny(&device);
        let grads_of = || {
            let mut grads = GradientsParams::new();
            let w = Tensor::<2>::from_data([[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]], &device);
            let b = Tensor::<1>::from_data([12.0, 0.0], &device);
            grads.register(model.linear.weight.id, w);
            grads.register(model.linear.bias.as_ref().unwrap().id, b);
            grads
        };
        let (clipped, norm) = clip_grad_norm(&model, grads_of(), 6.5);
        assert!((norm - 13.0).abs() < 1e-5, "{norm}");
        let w = clipped.get::<2>(model.linear.weight.id).unwrap();
        w.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.5, 0.0], [0.0, 2.0], [0.0, 0.0]]),
            Tolerance::default(),
        );
        assert!((grad_norm(&model, &clipped) - 6.5).abs() < 1e-4);
        let (kept, _) = clip_grad_norm(&model, grads_of(), 20.0);
        let b = kept
            .get::<1>(model.linear.bias.as_ref().unwrap().id)
            .unwrap();
        assert_eq!(b.into_data(), TensorData::from([12.0f32, 0.0]));
    }
}
