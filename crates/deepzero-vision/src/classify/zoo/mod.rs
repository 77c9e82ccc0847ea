//! The classic image classifiers, as torchvision builds them (`torchvision.models`), plus the
//! CIFAR ResNets of He et al. (2016, §4.2):
//!
//! | model | file | constructors | paper |
//! |---|---|---|---|
//! | [`AlexNet`](alexnet::AlexNet) | `alexnet.rs` | [`alexnet`](alexnet::alexnet) | Krizhevsky 2014 ("one weird trick") |
//! | [`Vgg`](vgg::Vgg) | `vgg.rs` | [`vgg11`](vgg::vgg11) … [`vgg19_bn`](vgg::vgg19_bn) | Simonyan & Zisserman 2015 |
//! | [`ResNet`](resnet::ResNet) | `resnet.rs` | [`resnet18`](resnet::resnet18) … [`resnet152`](resnet::resnet152) | He et al. 2016 (v1.5) |
//! | [`GoogLeNet`](googlenet::GoogLeNet) | `googlenet.rs` | [`googlenet`](googlenet::googlenet) | Szegedy et al. 2015 |
//! | [`CifarResNet`](cifar_resnet::CifarResNet) | `cifar_resnet.rs` | [`resnet20`](cifar_resnet::resnet20) … [`resnet110`](cifar_resnet::resnet110) | He et al. 2016, §4.2 |
//!
//! Every ImageNet model has a **small-input variant** for 28–32 px images (MNIST, CIFAR), set by
//! its config's `small_input()`; each file's docs list what it changes.
//!
//! # Weight import: field names mirror torchvision's `state_dict` keys
//!
//! Fields are named like torchvision's attributes (`features`, `classifier`, `conv1`, `bn1`,
//! `layer1`, `downsample`, `fc`, `inception3a`, `branch2`, …), and torchvision's `nn.Sequential`
//! containers become either a `Vec` of the layer enums below (`features`, `classifier`) or a tuple
//! (`downsample`, `branch2`), which burn visits under the same numeric indices (`features.0`,
//! `downsample.1`, `branch4.1`). Parameter-free layers (ReLU, pooling, dropout) keep their slot,
//! so the indices are torchvision's exactly. burn-store's `PytorchStore` skips enum variant names
//! by default and its `PyTorchToBurnAdapter` renames BatchNorm `weight`/`bias` to
//! `gamma`/`beta` and transposes `Linear` weights, so importing a torchvision checkpoint needs
//! no key map for AlexNet, VGG, ResNet and GoogLeNet.
//!
//! The import itself is [`crate::import`]; [`registry::ZooModel`] names every model
//! (`"resnet18"`, `"vgg16-bn"`, …) and [`summary`] prints Keras-style layer tables.
//!
//! # Parameter counts
//!
//! [`trainable_params`] counts what PyTorch's `sum(p.numel() for p in model.parameters())` counts.
//! burn's `Module::num_params()` also counts each BatchNorm's running mean and variance (they are
//! `RunningState`s, which burn visits like parameters), i.e. two extra values per normalised
//! channel: 9 600 more than torchvision for ResNet-18.

pub mod alexnet;
pub mod cifar_resnet;
pub mod googlenet;
pub mod registry;
pub mod resnet;
pub mod summary;
pub mod vgg;

use burn::module::{ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2d;
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, Initializer, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::prelude::*;

/// One layer of a torchvision `nn.Sequential` over feature maps (`features` of AlexNet and VGG).
///
/// Stored in a `Vec`, the variants keep torchvision's numeric indices: `features.3` is the fourth
/// layer whatever its kind.
#[derive(Module, Debug)]
pub enum FeatureLayer {
    /// A convolution (`nn.Conv2d`): `weight` `[out, in, k, k]`, `bias` `[out]`.
    Conv(Conv2d),
    /// Batch normalisation (`nn.BatchNorm2d`).
    BatchNorm(BatchNorm),
    /// ReLU (no parameters).
    Relu(Relu),
    /// Max-pooling (no parameters).
    MaxPool(MaxPool2d),
}

impl FeatureLayer {
    /// `[B, C, H, W] → [B, C', H', W']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            FeatureLayer::Conv(m) => m.forward(x),
            FeatureLayer::BatchNorm(m) => m.forward(x),
            FeatureLayer::Relu(m) => m.forward(x),
            FeatureLayer::MaxPool(m) => m.forward(x),
        }
    }
}

/// One layer of a torchvision `nn.Sequential` over feature vectors (`classifier` of AlexNet and
/// VGG); indices as in [`FeatureLayer`].
#[derive(Module, Debug)]
pub enum ClassifierLayer {
    /// A fully connected layer: burn stores `weight` as `[in, out]` (PyTorch `[out, in]`).
    Linear(Linear),
    /// ReLU (no parameters).
    Relu(Relu),
    /// Dropout (no parameters).
    Dropout(Dropout),
}

impl ClassifierLayer {
    /// `[B, D] → [B, D']`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            ClassifierLayer::Linear(m) => m.forward(x),
            ClassifierLayer::Relu(m) => m.forward(x),
            ClassifierLayer::Dropout(m) => m.forward(x),
        }
    }
}

/// Runs a `Vec` of layers in order.
pub(crate) fn run_features(layers: &[FeatureLayer], mut x: Tensor<4>) -> Tensor<4> {
    for layer in layers {
        x = layer.forward(x);
    }
    x
}

/// Runs a `Vec` of classifier layers in order.
pub(crate) fn run_classifier(layers: &[ClassifierLayer], mut x: Tensor<2>) -> Tensor<2> {
    for layer in layers {
        x = layer.forward(x);
    }
    x
}

/// Number of trainable parameters: every float `Param` except BatchNorm running statistics.
///
/// This is the figure torchvision reports (`sum(p.numel() for p in m.parameters())`).
/// burn's [`Module::num_params`] is larger by two values per BatchNorm channel because it also
/// counts the running mean and variance: burn visits a `RunningState` through
/// `ModuleVisitor::visit_float` like a parameter, so this visitor recognises them by where they
/// sit (the `running_mean` / `running_var` fields of a `BatchNorm`). Parameters are counted from
/// their lazy shapes, so nothing is allocated.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut counter = TrainableCounter::default();
    module.visit(&mut counter);
    counter.count
}

#[derive(Default)]
struct TrainableCounter {
    /// `(field name, container type)` of the modules entered so far.
    path: Vec<(String, String)>,
    count: usize,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let running_state = matches!(
            self.path.last(),
            Some((name, container)) if container == "Struct:BatchNorm"
                && (name == "running_mean" || name == "running_var")
        );
        if !running_state {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// `nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")`, torchvision's convolution
/// initialisation for VGG and ResNet: `N(0, 2 / (out · k · k))`.
pub(crate) fn kaiming_normal_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// A square `k×k` convolution config with symmetric `padding`.
pub(crate) fn conv_config(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Conv2dConfig {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
}

/// `conv.forward(x)`, except that a 1×1 stride-1 unpadded convolution (most of GoogLeNet's,
/// the reductions of the bottleneck ResNets) runs as matrix products: same result, less time.
///
/// Flex lifts every 2-D convolution to its 3-D path and computes both gradients as further
/// convolutions; on the 1×1 shapes of the small-input GoogLeNet that is 1.5–4.8× slower,
/// forward + backward, than the products below (`examples/conv1x1_speed.rs`).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // "Same" padding of a 1×1 stride-1 kernel is none.
    let unpadded = matches!(
        conv.padding,
        PaddingConfig2d::Same | PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    let pointwise =
        conv.kernel_size == [1, 1] && conv.stride == [1, 1] && conv.groups == 1 && unpadded;
    if !pointwise {
        return conv.forward(x);
    }
    pointwise_conv(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()))
}

/// Below this many pixels per image a 1×1 convolution is one `[B·H·W, C] × [C, O]` product over
/// the whole batch; from it on, one `[O, C] × [C, H·W]` product per image. The per-image form
/// needs no transposes, but its weight gradient is a `[B, O, C]` tensor summed over the batch,
/// which costs more than the products themselves on small feature maps (measured crossover
/// between 7² and 14²).
const PER_IMAGE_PRODUCT_MIN_PIXELS: usize = 100;

/// A 1×1 convolution as matrix products. weight: `[O, C, 1, 1]`, bias: `[O]`;
/// `[B, C, H, W] → [B, O, H, W]`.
fn pointwise_conv(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let out = weight.dims()[0];
    let pixels = height * width;
    let weight = weight.reshape([out, channels]);
    if pixels >= PER_IMAGE_PRODUCT_MIN_PIXELS {
        let y = weight
            .unsqueeze_dim::<3>(0)
            .matmul(x.reshape([batch, channels, pixels])); // [B, O, H·W]
        let y = match bias {
            Some(b) => y + b.reshape([1, out, 1]),
            None => y,
        };
        y.reshape([batch, out, height, width])
    } else {
        let rows = x.permute([0, 2, 3, 1]).reshape([batch * pixels, channels]); // [B·H·W, C]
        let y = rows.matmul(weight.transpose()); // [B·H·W, O]
        let y = match bias {
            Some(b) => y + b.unsqueeze_dim(0),
            None => y,
        };
        y.reshape([batch, height, width, out]).permute([0, 3, 1, 2])
    }
}

/// `conv (no bias) → BN`, the shortcut projection torchvision calls `downsample`
/// (`downsample.0` conv 1×1, `downsample.1` BN).
pub(crate) fn projection(
    channels: [usize; 2],
    stride: usize,
    init: Initializer,
    device: &Device,
) -> (Conv2d, BatchNorm) {
    (
        conv_config(channels, 1, stride, 0)
            .with_bias(false)
            .with_initializer(init)
            .init(device),
        BatchNormConfig::new(channels[1]).init(device),
    )
}

/// Replaces a layer's bias initialisation (burn draws the bias from the weight's initialiser;
/// torchvision often zeroes it). Stays lazy: nothing is allocated until first use.
pub(crate) fn init_bias(
    bias: Option<Param<Tensor<1>>>,
    init: Initializer,
    device: &Device,
) -> Option<Param<Tensor<1>>> {
    bias.map(|b| init.init_with([b.lazy_shape().num_elements()], None, None, device))
}

/// A fully connected layer with separate weight and bias initialisers.
pub(crate) fn linear(
    d_in: usize,
    d_out: usize,
    weight: Initializer,
    bias: Initializer,
    device: &Device,
) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_initializer(weight)
        .init(device);
    layer.bias = init_bias(layer.bias, bias, device);
    layer
}

/// PyTorch's default `nn.Linear` / `nn.Conv2d` bias: `U(-1/√fan_in, 1/√fan_in)`.
pub(crate) fn torch_default_bias(fan_in: usize) -> Initializer {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
}

#[cfg(test)]
mod tests;
