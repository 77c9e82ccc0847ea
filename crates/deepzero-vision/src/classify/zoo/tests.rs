//! The sweep over every model of the zoo: torchvision's parameter counts for the reference
//! configurations (built lazily: counting allocates nothing), and the output shape of each
//! small-input variant on one 32×32 image (with zeroed weights: see [`zeroed`]).

use std::time::Instant;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

use super::alexnet::{AlexNetConfig, alexnet};
use super::cifar_resnet::{CifarResNetConfig, resnet20, resnet32, resnet44, resnet56, resnet110};
use super::googlenet::{GoogLeNetConfig, googlenet};
use super::resnet::{ResNetConfig, resnet18, resnet34, resnet50, resnet101, resnet152};
use super::summary::zeroed;
use super::vgg::{
    VggCfg, VggConfig, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
};
use super::{conv2d, trainable_params};
use crate::classify::ImageClassifier;

/// The parameter keys of a module as torchvision names them: burn's path with enum variants left
/// out (as burn-store's `PytorchStore` does) and BatchNorm `gamma`/`beta` called `weight`/`bias`.
pub(crate) fn param_keys<M: Module>(module: &M) -> Vec<String> {
    #[derive(Default)]
    struct Keys {
        path: Vec<String>,
        pushed: Vec<bool>,
        keys: Vec<String>,
    }
    impl ModuleVisitor for Keys {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            let keep = !container_type.starts_with("Enum:");
            if keep {
                self.path.push(name.to_string());
            }
            self.pushed.push(keep);
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            if self.pushed.pop() == Some(true) {
                self.path.pop();
            }
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            let mut key = self.path.join(".");
            for (burn, torch) in [(".gamma", ".weight"), (".beta", ".bias")] {
                if let Some(stem) = key.strip_suffix(burn) {
                    key = format!("{stem}{torch}");
                }
            }
            self.keys.push(key);
        }
    }
    let mut keys = Keys::default();
    module.visit(&mut keys);
    keys.keys
}

#[test]
fn torchvision_parameter_counts() {
    let device = Device::flex();
    macro_rules! counts {
        ($($ctor:ident($classes:literal) = $expected:literal,)*) => {
            [$((stringify!($ctor), trainable_params(&$ctor($classes, &device)), $expected)),*]
        };
    }
    // torchvision.models.<name>().parameters(), summed (the `num_params` of its weights enums).
    let counts = counts![
        alexnet(1000) = 61_100_840,
        vgg11(1000) = 132_863_336,
        vgg11_bn(1000) = 132_868_840,
        vgg13(1000) = 133_047_848,
        vgg13_bn(1000) = 133_053_736,
        vgg16(1000) = 138_357_544,
        vgg16_bn(1000) = 138_365_992,
        vgg19(1000) = 143_667_240,
        vgg19_bn(1000) = 143_678_248,
        resnet18(1000) = 11_689_512,
        resnet34(1000) = 21_797_672,
        resnet50(1000) = 25_557_032,
        resnet101(1000) = 44_549_160,
        resnet152(1000) = 60_192_808,
        googlenet(1000) = 6_624_904,
        // He et al. 2016, §4.2, option A shortcuts, 10 classes (akamaster/pytorch_resnet_cifar10).
        resnet20(10) = 269_722,
        resnet32(10) = 464_154,
        resnet44(10) = 658_586,
        resnet56(10) = 853_018,
        resnet110(10) = 1_727_962,
    ];
    for (name, got, expected) in counts {
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn num_params_also_counts_batch_norm_running_statistics() {
    let device = Device::flex();
    let model = resnet18(1000, &device);
    // ResNet-18 normalises 4 800 channels (20 BNs): burn adds a running mean and variance each.
    let bn_channels = 64 + 4 * 64 + (4 * 128 + 128) + (4 * 256 + 256) + (4 * 512 + 512);
    assert_eq!(bn_channels, 4_800);
    assert_eq!(model.num_params(), 11_689_512 + 2 * bn_channels);
    // No BN, no difference.
    let model = alexnet(1000, &device);
    assert_eq!(model.num_params(), trainable_params(&model));
}

#[test]
fn every_small_input_variant_classifies_32_pixel_images() {
    let device = Device::flex();
    let classes = 10;
    let shape = |model: &dyn Fn(Tensor<4>) -> Tensor<2>| {
        model(Tensor::ones([1, 3, 32, 32], &device)).dims()
    };
    let start = Instant::now();
    let mut checked = Vec::new();
    let mut check = |name: &str, dims: [usize; 2]| {
        assert_eq!(dims, [1, classes], "{name}");
        checked.push(name.to_string());
    };

    let m = zeroed(AlexNetConfig::new(classes).small_input().init(&device));
    check("alexnet", shape(&|x| m.logits(x)));
    for cfg in [VggCfg::A, VggCfg::B, VggCfg::D, VggCfg::E] {
        for bn in [false, true] {
            let m = VggConfig::new(cfg, classes)
                .with_batch_norm(bn)
                .small_input()
                .init(&device);
            let m = zeroed(m);
            check(&format!("vgg {cfg:?} bn={bn}"), shape(&|x| m.logits(x)));
        }
    }
    for config in [
        ResNetConfig::resnet18(classes),
        ResNetConfig::resnet34(classes),
        ResNetConfig::resnet50(classes),
        ResNetConfig::resnet101(classes),
        ResNetConfig::resnet152(classes),
    ] {
        let name = format!("resnet {:?} {:?}", config.block, config.layers);
        let m = zeroed(config.small_input().init(&device));
        check(&name, shape(&|x| m.logits(x)));
    }
    let m = zeroed(GoogLeNetConfig::new(classes).small_input().init(&device));
    check("googlenet", shape(&|x| m.logits(x)));
    for depth in [20, 32, 44, 56, 110] {
        let m = zeroed(CifarResNetConfig::with_depth(depth, classes).init(&device));
        check(&format!("resnet{depth}"), shape(&|x| m.logits(x)));
    }
    assert_eq!(checked.len(), 1 + 8 + 5 + 1 + 5);
    eprintln!("small-input sweep: {:?}", start.elapsed());
}

#[test]
fn resnet18_at_224_pixels() {
    let device = Device::flex();
    let model = resnet18(1000, &device);
    let y = model.forward(Tensor::zeros([1, 3, 224, 224], &device));
    assert_eq!(y.dims(), [1, 1000]);
}

#[test]
fn conv2d_as_matrix_products_equals_burn_conv2d_in_values_and_gradients() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Distribution, Tolerance};

    let device = Device::flex().autodiff();
    // Both 1×1 forms (4² and 12² pixels around the crossover), with and without bias, and two
    // convolutions that must take burn's own path (3×3; a padded 1×1).
    let cases = [
        (Conv2dConfig::new([6, 5], [1, 1]), 4),
        (Conv2dConfig::new([6, 5], [1, 1]).with_bias(false), 12),
        (Conv2dConfig::new([6, 5], [3, 3]), 5),
        (
            Conv2dConfig::new([6, 5], [1, 1]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            4,
        ),
    ];
    for (config, side) in cases {
        let conv = config.init(&device);
        let x = Tensor::<4>::random([3, 6, side, side], Distribution::Normal(0.0, 1.0), &device);
        let target = Tensor::<4>::random_like(&conv.forward(x.clone()), Distribution::Default);
        let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x.clone().require_grad();
            let y = f(x.clone());
            let grads = (y.clone() * target.clone()).sum().backward();
            let weight_grad = conv.weight.val().grad(&grads).unwrap();
            let bias_grad = conv.bias.as_ref().map(|b| b.val().grad(&grads).unwrap());
            (y.inner(), x.grad(&grads).unwrap(), weight_grad, bias_grad)
        };
        let ours = run(&|x| conv2d(&conv, x));
        let burns = run(&|x| conv.forward(x));
        let tol = Tolerance::<f32>::rel_abs(1e-5, 1e-5);
        // The weight and bias gradients sum 3 · side² products each (432 at 12²), in another
        // order than burn's kernel: f32 rounding reaches ≈ 1.4e-5 there (a CI run), so they
        // get 1e-4.
        let sum_tol = Tolerance::<f32>::rel_abs(1e-4, 1e-4);
        let label = format!("{:?} on {side}²", conv.kernel_size);
        assert_eq!(ours.0.dims(), burns.0.dims(), "{label}");
        ours.0
            .into_data()
            .assert_approx_eq(&burns.0.into_data(), tol);
        ours.1
            .into_data()
            .assert_approx_eq(&burns.1.into_data(), tol);
        ours.2
            .into_data()
            .assert_approx_eq(&burns.2.into_data(), sum_tol);
        assert_eq!(ours.3.is_some(), burns.3.is_some(), "{label}");
        if let (Some(a), Some(b)) = (ours.3, burns.3) {
            a.into_data().assert_approx_eq(&b.into_data(), sum_tol);
        }
    }
}
