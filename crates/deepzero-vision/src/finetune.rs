//! Fine-tuning (seed chapter 3.1, 微调): reuse a trained classifier's features for a new task.
//!
//! Every classifier here is a **backbone** (everything that turns pixels into a feature vector)
//! followed by a **head** (the last linear layer, features → class logits). Fine-tuning keeps
//! the backbone's trained weights and gives the model a fresh head for the new classes
//! ([`replace_head`]); then one of:
//!
//! | strategy | what trains | helper |
//! |---|---|---|
//! | full fine-tuning | everything | (nothing to do) |
//! | linear probe | the head only; the backbone is frozen and runs in inference mode (batch norm uses its running statistics, dropout is off) | [`freeze_backbone`] |
//! | LoRA (Hu et al. 2021) | the head and low-rank adapters `W + (α/r)·A·B` on the backbone's **linear** layers | [`apply_lora`] |
//! | gradual unfreezing | the head first, then everything | [`freeze_backbone`], later [`unfreeze_backbone`] |
//!
//! ## Where the head is
//! | model | head | backbone linear layers LoRA can adapt |
//! |---|---|---|
//! | [`MlpClassifier`](crate::MlpClassifier) | `output` | every `hidden.i` |
//! | [`LeNet5`](crate::LeNet5) | `fc3` | `fc1`, `fc2` |
//! | [`SmallCnn`](crate::SmallCnn) | `fc2` | `fc1` |
//! | [`AlexNet`], [`Vgg`] | the last `classifier` linear | the other two `classifier` linears |
//! | [`ResNet`](crate::ResNet), [`CifarResNet`](crate::CifarResNet) | `fc` | none (all convolutions) |
//! | [`GoogLeNet`] | `fc` (and `aux1.fc2`, `aux2.fc2` when built) | the auxiliary heads' `fc1` |
//!
//! ## LoRA in burn 0.22.1
//! `Module::apply_lora(Lora::new(rank, alpha))` attaches adapters to **rank-2 parameters only**
//! (`burn-core/src/module/lora.rs`: `if D != 2 { return (param.set_require_grad(false), None) }`),
//! that is to `Linear` weights (and embeddings). Convolution weights are rank 4: burn freezes
//! them and gives them no adapter. So on the CNNs LoRA adapts only the fully connected part of
//! the backbone, and on the ResNets, whose backbones have no linear layer, there is nothing to
//! adapt: [`apply_lora`] says so rather than silently running a linear probe.
//! After training, `model.valid().materialize()` ([`merge_lora`]) folds the adapters into the
//! weights, giving back the plain architecture (same parameters and record keys as before).
//!
//! Parameter groups are built from **paths** (`SmallCnn.fc2.weight`), not ids: loading a
//! checkpoint restores the ids stored in it, so an id-based group made before the load would
//! miss.

use burn::module::{Lora, Module, ModuleVisitor, Param, ParamGroup};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use deepzero_core::params::float_params;

use crate::classify::zoo::ClassifierLayer;
use crate::{AlexNet, GoogLeNet, ImageModel, Vgg};

/// What can go wrong when preparing a model for fine-tuning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinetuneError {
    /// A head for zero classes.
    #[error("the new head needs at least one class")]
    NoClasses,
    /// LoRA of rank 0.
    #[error("the LoRA rank must be at least 1")]
    ZeroRank,
    /// The backbone has no layer LoRA can adapt.
    #[error(
        "LoRA has nothing to adapt in {model}: burn 0.22.1 adapts only linear (rank-2) weights and this backbone has none; use a linear probe (frozen backbone) or full fine-tuning"
    )]
    NoLoraTarget {
        /// The model kind.
        model: &'static str,
    },
}

/// The name of the model kind (the `ImageModel` variant), which is also the first part of every
/// parameter path.
pub fn model_kind(model: &ImageModel) -> &'static str {
    match model {
        ImageModel::Mlp(_) => "Mlp",
        ImageModel::LeNet5(_) => "LeNet5",
        ImageModel::SmallCnn(_) => "SmallCnn",
        ImageModel::AlexNet(_) => "AlexNet",
        ImageModel::Vgg(_) => "Vgg",
        ImageModel::ResNet(_) => "ResNet",
        ImageModel::GoogLeNet(_) => "GoogLeNet",
        ImageModel::CifarResNet(_) => "CifarResNet",
    }
}

/// The index of the last linear layer in a torchvision-style `classifier`.
fn last_linear(layers: &[ClassifierLayer]) -> Option<usize> {
    layers
        .iter()
        .rposition(|l| matches!(l, ClassifierLayer::Linear(_)))
}

fn classifier_head(layers: &[ClassifierLayer]) -> Vec<&Linear> {
    match last_linear(layers).map(|i| &layers[i]) {
        Some(ClassifierLayer::Linear(head)) => vec![head],
        _ => Vec::new(),
    }
}

fn googlenet_heads(m: &GoogLeNet) -> Vec<&Linear> {
    let mut heads = vec![&m.fc];
    heads.extend(m.aux1.iter().map(|a| &a.fc2));
    heads.extend(m.aux2.iter().map(|a| &a.fc2));
    heads
}

/// The linear layers that map features to class logits (one, or three for a GoogLeNet built
/// with its auxiliary classifiers).
pub fn heads(model: &ImageModel) -> Vec<&Linear> {
    match model {
        ImageModel::Mlp(m) => vec![&m.output],
        ImageModel::LeNet5(m) => vec![&m.fc3],
        ImageModel::SmallCnn(m) => vec![&m.fc2],
        ImageModel::AlexNet(AlexNet { classifier, .. })
        | ImageModel::Vgg(Vgg { classifier, .. }) => classifier_head(classifier),
        ImageModel::ResNet(m) => vec![&m.fc],
        ImageModel::GoogLeNet(m) => googlenet_heads(m),
        ImageModel::CifarResNet(m) => vec![&m.fc],
    }
}

/// Number of classes the model predicts (the width of its head).
pub fn num_classes(model: &ImageModel) -> usize {
    heads(model)
        .first()
        .map_or(0, |head| head.weight.lazy_shape().dims::<2>()[1])
}

/// The full paths of the head's parameters (`SmallCnn.fc2.weight`, `SmallCnn.fc2.bias`), the
/// keys burn uses in records, parameter groups and the optimiser.
pub fn head_paths(model: &ImageModel) -> Vec<String> {
    let ids: Vec<_> = heads(model)
        .into_iter()
        .flat_map(|h| float_params(h).into_iter().map(|p| p.id))
        .collect();
    float_params(model)
        .into_iter()
        .filter(|p| ids.contains(&p.id))
        .map(|p| p.path)
        .collect()
}

/// The head's parameters, by path.
pub fn head_group(model: &ImageModel) -> ParamGroup {
    ParamGroup::from_paths(head_paths(model))
}

/// Everything but the head (parameters, batch-norm statistics and training flags), by path.
pub fn backbone_group(model: &ImageModel) -> ParamGroup {
    ParamGroup::all().exclude(head_group(model))
}

/// The backbone weights LoRA can adapt: its rank-2 (linear) weights.
pub fn lora_targets(model: &ImageModel) -> Vec<String> {
    let head = head_paths(model);
    float_params(model)
        .into_iter()
        .filter(|p| p.rank == 2 && !head.contains(&p.path) && !p.path.contains(".lora."))
        .map(|p| p.path)
        .collect()
}

/// A new, randomly initialised linear layer with `old`'s input width (and bias or not) and
/// `classes` outputs.
fn fresh_head(old: &Linear, classes: usize, device: &Device) -> Linear {
    let [d_in, _] = old.weight.lazy_shape().dims::<2>();
    LinearConfig::new(d_in, classes)
        .with_bias(old.bias.is_some())
        .init(device)
}

fn replace_classifier_head(layers: &mut [ClassifierLayer], classes: usize, device: &Device) {
    if let Some(i) = last_linear(layers)
        && let ClassifierLayer::Linear(old) = &layers[i]
    {
        let head = fresh_head(old, classes, device);
        layers[i] = ClassifierLayer::Linear(head);
    }
}

/// Gives `model` a new, randomly initialised head for `classes` classes on `device`; every
/// backbone parameter keeps its value (bit for bit) and its id.
///
/// The result has exactly the structure that `Architecture::build(.., classes, ..)` gives, so
/// its record loads into a freshly built model of the new class count.
///
/// # Errors
/// [`FinetuneError::NoClasses`] for `classes == 0`.
pub fn replace_head(
    model: ImageModel,
    classes: usize,
    device: &Device,
) -> Result<ImageModel, FinetuneError> {
    if classes == 0 {
        return Err(FinetuneError::NoClasses);
    }
    Ok(match model {
        ImageModel::Mlp(mut m) => {
            m.output = fresh_head(&m.output, classes, device);
            ImageModel::Mlp(m)
        }
        ImageModel::LeNet5(mut m) => {
            m.fc3 = fresh_head(&m.fc3, classes, device);
            ImageModel::LeNet5(m)
        }
        ImageModel::SmallCnn(mut m) => {
            m.fc2 = fresh_head(&m.fc2, classes, device);
            ImageModel::SmallCnn(m)
        }
        ImageModel::AlexNet(mut m) => {
            replace_classifier_head(&mut m.classifier, classes, device);
            ImageModel::AlexNet(m)
        }
        ImageModel::Vgg(mut m) => {
            replace_classifier_head(&mut m.classifier, classes, device);
            ImageModel::Vgg(m)
        }
        ImageModel::ResNet(mut m) => {
            m.fc = fresh_head(&m.fc, classes, device);
            ImageModel::ResNet(m)
        }
        ImageModel::GoogLeNet(mut m) => {
            m.fc = fresh_head(&m.fc, classes, device);
            for aux in [&mut m.aux1, &mut m.aux2].into_iter().flatten() {
                aux.fc2 = fresh_head(&aux.fc2, classes, device);
            }
            ImageModel::GoogLeNet(m)
        }
        ImageModel::CifarResNet(mut m) => {
            m.fc = fresh_head(&m.fc, classes, device);
            ImageModel::CifarResNet(m)
        }
    })
}

/// Freezes everything but the head: no gradients, and batch norm and dropout in the backbone
/// behave as at inference (running statistics used, not updated). Only the head trains.
pub fn freeze_backbone(model: ImageModel) -> ImageModel {
    let group = backbone_group(&model);
    model.freeze_group(group)
}

/// Undoes [`freeze_backbone`]: every backbone parameter trains again and its batch norms and
/// dropout return to training behaviour.
pub fn unfreeze_backbone(model: ImageModel) -> ImageModel {
    let group = backbone_group(&model);
    model.unfreeze_group(group)
}

/// Attaches LoRA adapters of `rank` and scale `alpha / rank` to the backbone's linear weights
/// ([`lora_targets`]) and freezes the rest of the backbone (in inference mode, as
/// [`freeze_backbone`]); the adapters and the head train. The adapters start at `B = 0`, so the
/// model computes exactly what it did before.
///
/// # Errors
/// [`FinetuneError::ZeroRank`], or [`FinetuneError::NoLoraTarget`] when the backbone has no
/// linear layer (the ResNets).
pub fn apply_lora(model: ImageModel, rank: usize, alpha: f64) -> Result<ImageModel, FinetuneError> {
    if rank == 0 {
        return Err(FinetuneError::ZeroRank);
    }
    let targets = lora_targets(&model);
    if targets.is_empty() {
        return Err(FinetuneError::NoLoraTarget {
            model: model_kind(&model),
        });
    }
    let head = head_group(&model);
    // apply_lora freezes every float parameter (the head too) and leaves training flags alone:
    // freeze the backbone's flags first, and give the head its gradients back afterwards.
    let model = freeze_backbone(model)
        .apply_lora(Lora::new(rank, alpha).set_param_group(ParamGroup::from_paths(targets)));
    Ok(model.unfreeze_group(head))
}

/// Folds LoRA adapters into their weights (`W ← W + (α/r)·A·B`) and removes them: the model is
/// the plain architecture again. Call it on an inference copy: `merge_lora(model.valid())`.
pub fn merge_lora(model: ImageModel) -> ImageModel {
    model.materialize()
}

/// Number of parameter values that will receive gradients (on an autodiff device): what an
/// optimiser actually trains.
pub fn trainable_values(model: &ImageModel) -> usize {
    #[derive(Default)]
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.lazy_shape().num_elements();
            }
        }
    }
    let mut count = Count::default();
    model.visit(&mut count);
    count.0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use deepzero_data::ImageBatch;
    use deepzero_train::Supervised;

    use super::*;
    use crate::{Architecture, ImageClassifier, SmallCnnConfig};

    /// Every float parameter (weights, batch-norm statistics, LoRA factors) by path.
    fn snapshot(model: &ImageModel) -> BTreeMap<String, TensorData> {
        #[derive(Default)]
        struct Values {
            path: Vec<String>,
            values: BTreeMap<String, TensorData>,
        }
        impl ModuleVisitor for Values {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                // The stored value: the base weight for a LoRA-adapted parameter.
                self.values
                    .insert(self.path.join("."), param.base().into_data());
            }
        }
        let mut v = Values::default();
        model.visit(&mut v);
        v.values
    }

    fn tiny_cnn(classes: usize, device: &Device) -> ImageModel {
        ImageModel::SmallCnn(
            SmallCnnConfig::new(classes)
                .with_width(4)
                .with_hidden(8)
                .init(device),
        )
    }

    fn batch(n: usize, classes: usize, device: &Device) -> ImageBatch {
        let targets: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
        ImageBatch {
            images: Tensor::random([n, 1, 28, 28], Distribution::Normal(0.0, 1.0), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
        }
    }

    /// One Adam step on a random batch.
    fn train_step(model: ImageModel, device: &Device) -> ImageModel {
        let classes = num_classes(&model);
        let out = model.step(batch(8, classes, device));
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        AdamConfig::new().init().step(1e-2, model, grads)
    }

    fn changed(
        before: &BTreeMap<String, TensorData>,
        after: &BTreeMap<String, TensorData>,
    ) -> Vec<String> {
        after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    #[test]
    fn replace_head_changes_the_classes_and_keeps_the_backbone_bit_identical() {
        let device = Device::flex();
        device.seed(1);
        for arch in [
            Architecture::Mlp,
            Architecture::LeNet5,
            Architecture::SmallCnn,
            Architecture::ResNet20,
            Architecture::ResNet18Small,
        ] {
            let model = arch.build([1, 28, 28], 10, &device);
            let head = head_paths(&model);
            let kind = model_kind(&model);
            assert_eq!(head.len(), 2, "{arch:?}: weight and bias, got {head:?}");
            assert!(head.iter().all(|p| p.starts_with(kind)), "{head:?}");
            let before = snapshot(&model);

            let model = replace_head(model, 3, &device).unwrap();
            assert_eq!(num_classes(&model), 3);
            let logits = model.logits(Tensor::zeros([2, 1, 28, 28], &device));
            assert_eq!(logits.dims(), [2, 3], "{arch:?}");
            let after = snapshot(&model);
            assert_eq!(before.len(), after.len());
            for (path, value) in &after {
                if head.contains(path) {
                    assert_ne!(before[path].shape(), value.shape(), "{path}");
                } else {
                    assert_eq!(&before[path], value, "{arch:?}: {path} changed");
                }
            }
            // The same structure as a model built for 3 classes: its record loads there.
            let fresh = arch.build([1, 28, 28], 3, &device);
            let loaded = fresh.load_record(model.clone().into_record());
            assert_eq!(snapshot(&loaded), after, "{arch:?}");
        }
        assert_eq!(
            replace_head(tiny_cnn(2, &device), 0, &device).unwrap_err(),
            FinetuneError::NoClasses
        );
    }

    #[test]
    fn every_model_kind_has_a_head() {
        let device = Device::flex();
        for arch in [
            Architecture::AlexNetSmall,
            Architecture::Vgg11BnSmall,
            Architecture::GoogLeNetSmall,
        ] {
            let model = arch.build([1, 28, 28], 10, &device);
            assert_eq!(num_classes(&model), 10, "{arch:?}");
            assert_eq!(head_paths(&model).len(), 2, "{arch:?}");
            let model = replace_head(model, 4, &device).unwrap();
            assert_eq!(num_classes(&model), 4, "{arch:?}");
        }
    }

    #[test]
    fn a_frozen_backbone_stays_unchanged_while_the_head_trains() {
        let device = Device::flex().autodiff();
        device.seed(2);
        let model = freeze_backbone(replace_head(tiny_cnn(10, &device), 3, &device).unwrap());
        let mut head = head_paths(&model);
        head.sort();
        assert_eq!(trainable_values(&model), 8 * 3 + 3, "only the head trains");
        let before = snapshot(&model);
        let model = train_step(model, &device);
        let after = snapshot(&model);
        // Batch-norm running statistics included: the frozen backbone runs in inference mode.
        assert_eq!(changed(&before, &after), head);

        // Unfreezing brings the backbone back into training.
        let model = unfreeze_backbone(model);
        assert_eq!(trainable_values(&model), {
            let all = tiny_cnn(3, &device);
            crate::trainable_params(&all)
        });
        let before = snapshot(&model);
        let after = snapshot(&train_step(model, &device));
        assert!(changed(&before, &after).len() > head.len());
    }

    #[test]
    fn lora_adds_adapters_trains_only_them_and_the_head_and_merges_back() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let plain = replace_head(tiny_cnn(10, &device), 3, &device).unwrap();
        assert_eq!(lora_targets(&plain), ["SmallCnn.fc1.weight"]);
        let fc1_in = 8 * 7 * 7;
        let x = Tensor::random([2, 1, 28, 28], Distribution::Default, &device);
        let reference = plain.valid().logits(x.clone().inner());

        let rank = 2;
        let model = apply_lora(plain.clone(), rank, 4.0).unwrap();
        assert_eq!(
            model.num_params(),
            plain.num_params() + fc1_in * rank + rank * 8,
            "A [in, r] and B [r, out] on fc1"
        );
        assert_eq!(
            trainable_values(&model),
            fc1_in * rank + rank * 8 + 8 * 3 + 3
        );
        // B starts at zero: the adapted model computes what the plain one did.
        model
            .valid()
            .logits(x.clone().inner())
            .into_data()
            .assert_approx_eq::<f32>(&reference.into_data(), Tolerance::default());

        let before = snapshot(&model);
        // Two steps: with B = 0 the first gradient of A is zero (dL/dA = dL/dW · Bᵀ).
        let model = train_step(model, &device);
        assert!(
            !changed(&before, &snapshot(&model))
                .contains(&"SmallCnn.fc1.weight.lora.a".to_string())
        );
        let model = train_step(model, &device);
        let after = snapshot(&model);
        let mut moved = changed(&before, &after);
        moved.sort();
        assert_eq!(
            moved,
            [
                "SmallCnn.fc1.weight.lora.a",
                "SmallCnn.fc1.weight.lora.b",
                "SmallCnn.fc2.bias",
                "SmallCnn.fc2.weight",
            ]
        );

        let adapted = model.valid().logits(x.clone().inner());
        let merged = merge_lora(model.valid());
        assert_eq!(merged.num_params(), plain.num_params());
        assert!(!snapshot(&merged).keys().any(|k| k.contains("lora")));
        merged
            .logits(x.inner())
            .into_data()
            .assert_approx_eq::<f32>(&adapted.into_data(), Tolerance::rel_abs(1e-4, 1e-5));
        // The merged record is the plain architecture's.
        let reloaded = tiny_cnn(3, &device).load_record(merged.clone().into_record());
        assert_eq!(snapshot(&reloaded), snapshot(&merged));
    }

    #[test]
    fn lora_refuses_a_backbone_without_linear_layers_and_rank_zero() {
        let device = Device::flex();
        let resnet = Architecture::ResNet20.build([1, 28, 28], 10, &device);
        assert!(lora_targets(&resnet).is_empty());
        let err = apply_lora(resnet, 2, 4.0).unwrap_err();
        assert_eq!(
            err,
            FinetuneError::NoLoraTarget {
                model: "CifarResNet"
            }
        );
        assert!(err.to_string().contains("only linear"), "{err}");
        assert_eq!(
            apply_lora(tiny_cnn(2, &device), 0, 1.0).unwrap_err(),
            FinetuneError::ZeroRank
        );
        let lenet = Architecture::LeNet5.build([1, 28, 28], 10, &device);
        assert_eq!(
            lora_targets(&lenet),
            ["LeNet5.fc1.weight", "LeNet5.fc2.weight"]
        );
    }
}
