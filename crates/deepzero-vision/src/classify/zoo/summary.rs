//! Keras-style model summaries: one row per layer (its path, type, output shape and parameter
//! count) and the totals, as `deepzero summary` prints them.
//!
//! Output shapes come from running the model: [`summarize`] walks each model's top-level
//! layers in the order of its `forward`, calling the layers' own `forward`s, and records what
//! each one returns. The walk is written once per architecture below, from the models' public
//! fields; a test checks that it ends in exactly the logits of the model's `forward`. Blocks
//! (a ResNet's residual blocks, GoogLeNet's Inception blocks) are one row each, as in
//! torchinfo's depth-2 view; their rows' parameters sum to the model's total.
//!
//! Parameter counts are torchvision's ([`trainable_params`]): BatchNorm running statistics are
//! buffers, reported apart. [`zeroed`] builds a model's weights as zeros without drawing
//! random numbers, which is all a shape walk needs.

use std::panic::AssertUnwindSafe;

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::activation::relu;
use deepzero_train::TaskError;

use super::cifar_resnet::CifarResNet;
use super::googlenet::{GoogLeNet, Inception};
use super::registry::ZooModel;
use super::resnet::{ResNet, ResidualBlock};
use super::{ClassifierLayer, FeatureLayer, trainable_params};
use crate::classify::{ImageClassifier, ImageModel};

/// One row of a summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// Path of the layer in the model, torchvision's key prefix (`layer2.0`, `features.3`).
    pub path: String,
    /// Its type, with PyTorch's class name (`Conv2d`, `BatchNorm2d`, `BasicBlock`).
    pub kind: String,
    /// Shape of its output.
    pub output_shape: Vec<usize>,
    /// Its trainable parameters (nested layers included).
    pub params: usize,
}

/// A whole model's summary.
#[derive(Clone, Debug)]
pub struct ModelSummary {
    /// `[B, C, H, W]` of the input that was run.
    pub input_shape: [usize; 4],
    /// The layers, in execution order.
    pub layers: Vec<LayerSummary>,
    /// Trainable parameters of the model (torchvision's count).
    pub trainable_params: usize,
    /// BatchNorm running means and variances (buffers, not trained).
    pub running_statistics: usize,
    /// The logits of the input, `[B, classes]`.
    pub logits: Tensor<2>,
}

/// Runs `images` through `model` layer by layer, recording each layer's output shape.
pub fn summarize(model: &ImageModel, images: Tensor<4>) -> ModelSummary {
    let input_shape = images.dims();
    let mut r = Recorder::default();
    let logits = match model {
        ImageModel::ResNet(m) => resnet(m, images, &mut r),
        ImageModel::CifarResNet(m) => cifar_resnet(m, images, &mut r),
        ImageModel::AlexNet(m) => {
            sequential(&m.features, &m.avgpool, &m.classifier, images, &mut r)
        }
        ImageModel::Vgg(m) => sequential(&m.features, &m.avgpool, &m.classifier, images, &mut r),
        ImageModel::GoogLeNet(m) => googlenet(m, images, &mut r),
        // The small classifiers are one row each.
        other => {
            let kind = match other {
                ImageModel::Mlp(_) => "MlpClassifier",
                ImageModel::LeNet5(_) => "LeNet5",
                _ => "SmallCnn",
            };
            r.layer("(model)", kind, other, other.logits(images))
        }
    };
    let trainable = trainable_params(model);
    ModelSummary {
        input_shape,
        layers: r.rows,
        trainable_params: trainable,
        running_statistics: model.num_params() - trainable,
        logits,
    }
}

#[derive(Default)]
struct Recorder {
    rows: Vec<LayerSummary>,
}

impl Recorder {
    /// Records a layer with parameters and passes its output on.
    fn layer<M: Module, const D: usize>(
        &mut self,
        path: impl Into<String>,
        kind: &str,
        module: &M,
        out: Tensor<D>,
    ) -> Tensor<D> {
        self.push(path.into(), kind, trainable_params(module), &out);
        out
    }

    /// Records a parameter-free step (activation, pooling, flatten).
    fn op<const D: usize>(
        &mut self,
        path: impl Into<String>,
        kind: &str,
        out: Tensor<D>,
    ) -> Tensor<D> {
        self.push(path.into(), kind, 0, &out);
        out
    }

    /// Records one inception block of GoogLeNet.
    fn inception(&mut self, path: &str, block: &Inception, x: Tensor<4>) -> Tensor<4> {
        self.layer(path, "Inception", block, block.forward(x))
    }

    fn push<const D: usize>(&mut self, path: String, kind: &str, params: usize, out: &Tensor<D>) {
        self.rows.push(LayerSummary {
            path,
            kind: kind.to_string(),
            output_shape: out.dims().to_vec(),
            params,
        });
    }
}

/// [`ResNet::forward`], layer by layer.
fn resnet(m: &ResNet, images: Tensor<4>, r: &mut Recorder) -> Tensor<2> {
    let x = r.layer("conv1", "Conv2d", &m.conv1, m.conv1.forward(images));
    let x = r.layer("bn1", "BatchNorm2d", &m.bn1, m.bn1.forward(x));
    let mut x = r.op("relu", "ReLU", relu(x));
    if let Some(pool) = &m.maxpool {
        x = r.op("maxpool", "MaxPool2d", pool.forward(x));
    }
    for (s, stage) in [&m.layer1, &m.layer2, &m.layer3, &m.layer4]
        .into_iter()
        .enumerate()
    {
        for (i, block) in stage.iter().enumerate() {
            let kind = match block {
                ResidualBlock::Basic(_) => "BasicBlock",
                ResidualBlock::Bottleneck(_) => "Bottleneck",
            };
            x = r.layer(format!("layer{}.{i}", s + 1), kind, block, block.forward(x));
        }
    }
    let x = r.op("avgpool", "AdaptiveAvgPool2d", m.avgpool.forward(x));
    let x = r.op("flatten", "Flatten", x.flatten(1, 3));
    r.layer("fc", "Linear", &m.fc, m.fc.forward(x))
}

/// [`CifarResNet::forward`], layer by layer.
fn cifar_resnet(m: &CifarResNet, images: Tensor<4>, r: &mut Recorder) -> Tensor<2> {
    let x = r.layer("conv1", "Conv2d", &m.conv1, m.conv1.forward(images));
    let x = r.layer("bn1", "BatchNorm2d", &m.bn1, m.bn1.forward(x));
    let mut x = r.op("relu", "ReLU", relu(x));
    for (s, stage) in [&m.layer1, &m.layer2, &m.layer3].into_iter().enumerate() {
        for (i, block) in stage.iter().enumerate() {
            x = r.layer(
                format!("layer{}.{i}", s + 1),
                "BasicBlock",
                block,
                block.forward(x),
            );
        }
    }
    let x = r.op("avgpool", "GlobalAvgPool2d", x.mean_dim(3).mean_dim(2));
    let x = r.op("flatten", "Flatten", x.flatten(1, 3));
    r.layer("fc", "Linear", &m.fc, m.fc.forward(x))
}

/// [`AlexNet::forward`](super::alexnet::AlexNet::forward) and
/// [`Vgg::forward`](super::vgg::Vgg::forward): `features`, pool, flatten, `classifier`.
fn sequential(
    features: &[FeatureLayer],
    avgpool: &burn::nn::pool::AdaptiveAvgPool2d,
    classifier: &[ClassifierLayer],
    images: Tensor<4>,
    r: &mut Recorder,
) -> Tensor<2> {
    let mut x = images;
    for (i, layer) in features.iter().enumerate() {
        let kind = match layer {
            FeatureLayer::Conv(_) => "Conv2d",
            FeatureLayer::BatchNorm(_) => "BatchNorm2d",
            FeatureLayer::Relu(_) => "ReLU",
            FeatureLayer::MaxPool(_) => "MaxPool2d",
        };
        x = r.layer(format!("features.{i}"), kind, layer, layer.forward(x));
    }
    let x = r.op("avgpool", "AdaptiveAvgPool2d", avgpool.forward(x));
    let mut x = r.op("flatten", "Flatten", x.flatten(1, 3));
    for (i, layer) in classifier.iter().enumerate() {
        let kind = match layer {
            ClassifierLayer::Linear(_) => "Linear",
            ClassifierLayer::Relu(_) => "ReLU",
            ClassifierLayer::Dropout(_) => "Dropout",
        };
        x = r.layer(format!("classifier.{i}"), kind, layer, layer.forward(x));
    }
    x
}

/// [`GoogLeNet::forward`] (in inference: its dropout is the identity), layer by layer; the
/// auxiliary heads, when built, get a row each with the logits they give.
fn googlenet(m: &GoogLeNet, images: Tensor<4>, r: &mut Recorder) -> Tensor<2> {
    let mut x = r.layer("conv1", "BasicConv2d", &m.conv1, m.conv1.forward(images));
    if let Some(pool) = &m.maxpool1 {
        x = r.op("maxpool1", "MaxPool2d", pool.forward(x));
    }
    let x = r.layer("conv2", "BasicConv2d", &m.conv2, m.conv2.forward(x));
    let x = r.layer("conv3", "BasicConv2d", &m.conv3, m.conv3.forward(x));
    let x = r.op("maxpool2", "MaxPool2d", m.maxpool2.forward(x));
    let x = r.inception("inception3a", &m.inception3a, x);
    let x = r.inception("inception3b", &m.inception3b, x);
    let x = r.op("maxpool3", "MaxPool2d", m.maxpool3.forward(x));
    let x = r.inception("inception4a", &m.inception4a, x);
    if let Some(aux) = &m.aux1 {
        r.layer("aux1", "InceptionAux", aux, aux.forward(x.clone()));
    }
    let x = r.inception("inception4b", &m.inception4b, x);
    let x = r.inception("inception4c", &m.inception4c, x);
    let x = r.inception("inception4d", &m.inception4d, x);
    if let Some(aux) = &m.aux2 {
        r.layer("aux2", "InceptionAux", aux, aux.forward(x.clone()));
    }
    let x = r.inception("inception4e", &m.inception4e, x);
    let x = r.op("maxpool4", "MaxPool2d", m.maxpool4.forward(x));
    let x = r.inception("inception5a", &m.inception5a, x);
    let x = r.inception("inception5b", &m.inception5b, x);
    let x = r.op("avgpool", "AdaptiveAvgPool2d", m.avgpool.forward(x));
    let x = r.op("flatten", "Flatten", x.flatten(1, 3));
    let x = r.op("dropout", "Dropout", x);
    r.layer("fc", "Linear", &m.fc, m.fc.forward(x))
}

impl ModelSummary {
    /// The Keras-style table: header, one line per layer, totals.
    pub fn table(&self) -> String {
        let shape = |s: &[usize]| {
            let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
            format!("[{}]", dims.join(", "))
        };
        let mut rows: Vec<[String; 4]> = vec![[
            "input".into(),
            "".into(),
            shape(&self.input_shape),
            "0".into(),
        ]];
        rows.extend(self.layers.iter().map(|l| {
            [
                l.path.clone(),
                l.kind.clone(),
                shape(&l.output_shape),
                thousands(l.params),
            ]
        }));
        let header = [
            "Layer (path)".to_string(),
            "Type".into(),
            "Output shape".into(),
            "Param #".into(),
        ];
        let mut widths = [0usize; 4];
        for row in rows.iter().chain(std::iter::once(&header)) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |row: &[String; 4]| {
            format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        let rule = "=".repeat(widths.iter().sum::<usize>() + 6) + "\n";
        let mut text = line(&header);
        text.push_str(&rule);
        for row in &rows {
            text.push_str(&line(row));
        }
        text.push_str(&rule);
        text.push_str(&format!(
            "Total params: {} (trainable; torchvision's count)\n",
            thousands(self.trainable_params)
        ));
        text.push_str(&format!(
            "Non-trainable buffers: {} (BatchNorm running means and variances)\n",
            thousands(self.running_statistics)
        ));
        text
    }
}

/// `11689512` → `"11,689,512"`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `f`, turning a panic (a layer given an input too small for it) into a usage error
/// without the panic hook's message.
fn quietly<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> Result<T, TaskError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|_| TaskError::invalid(what()))
}

/// Which zoo model [`zoo_summary`] runs, on what input (with the `clap` feature, the options
/// of `deepzero summary`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SummaryOptions {
    /// Model name: alexnet, vgg11 … vgg19, vgg11-bn … vgg19-bn, resnet18 … resnet152,
    /// googlenet, or the CIFAR resnet20 … resnet110.
    pub model: String,
    /// Side of the square input (default: 224, or 32 with --small and for the CIFAR ResNets).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub input_size: Option<usize>,
    /// Number of classes (default: 1000, or 10 with --small and for the CIFAR ResNets).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub classes: Option<usize>,
    /// Input channels.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3, value_name = "N"))]
    pub channels: usize,
    /// The small-input variant of an ImageNet model (for 28–32 px images).
    #[cfg_attr(feature = "clap", arg(long))]
    pub small: bool,
}

impl SummaryOptions {
    /// The model named `model` in its reference configuration, with three input channels.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            input_size: None,
            classes: None,
            channels: 3,
            small: false,
        }
    }
}

/// The layer table of a zoo model and its title: at 224 px and 1000 classes (ImageNet models)
/// or 32 px and 10 classes (the CIFAR ResNets and `small`, the small-input variants) unless
/// `input_size` and `classes` say otherwise. An unknown model name, or an input too small for
/// the model, is an error, not a panic.
pub fn zoo_summary(options: &SummaryOptions) -> Result<(String, ModelSummary), TaskError> {
    let model: ZooModel = options
        .model
        .parse()
        .map_err(|e: super::registry::UnknownModel| TaskError::invalid(e.to_string()))?;
    let SummaryOptions {
        input_size,
        classes,
        channels,
        small,
        ..
    } = *options;
    if small && !model.is_imagenet() {
        return Err(TaskError::invalid(format!(
            "the small-input variants are of the ImageNet models; {model} is a CIFAR ResNet, made for 32 px images already"
        )));
    }
    let small_sized = small || !model.is_imagenet();
    let side = input_size.unwrap_or(if small_sized { 32 } else { 224 });
    let classes = classes.unwrap_or(if small_sized { 10 } else { 1000 });
    if side == 0 || classes == 0 || !(channels == 1 || channels == 3) {
        return Err(TaskError::invalid(
            "the input size and the classes must be at least 1, the channels 1 or 3",
        ));
    }
    let device = Device::flex();
    let variant = if small {
        "small-input variant"
    } else if model.is_imagenet() {
        "reference configuration (ImageNet)"
    } else {
        "CIFAR configuration"
    };
    let title = format!(
        "{model}: {variant}, input {}×{side}×{side}, {classes} classes",
        channels
    );
    let too_small = || {
        format!("a {side}×{side} input is too small for {model} ({variant}); try a larger input")
    };
    // Zero weights, no random draws: only the shapes matter.
    let summary = quietly(too_small, || {
        let built = zeroed(model.build(classes, channels, small, &device));
        summarize(&built, Tensor::zeros([1, channels, side, side], &device))
    })?;
    // A layer that shrinks the map to nothing (an adaptive pool would then make up a map).
    if let Some(row) = summary.layers.iter().find(|l| l.output_shape.contains(&0)) {
        return Err(TaskError::invalid(format!(
            "{} ({} gives {:?})",
            too_small(),
            row.path,
            row.output_shape
        )));
    }
    Ok((title, summary))
}

/// The module with every float parameter (and running statistic) set to zero without drawing
/// its random initial value: what a shape walk needs, at the cost of one allocation. Drawing is
/// what makes a first forward pass slow (ResNet-152's 60 M normal draws take 1.5 s on two
/// cores, its small-input forward pass 0.14 s).
pub fn zeroed<M: Module>(module: M) -> M {
    struct Zeroed;
    impl ModuleMapper for Zeroed {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let zeros = Tensor::zeros(param.lazy_shape(), &param.lazy_device());
            Param::initialized(param.id, zeros)
        }
    }
    module.map(&mut Zeroed)
}

#[cfg(test)]
mod tests {
    use super::super::registry::ZooModel;
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn walks_end_in_the_forward_logits() {
        let device = Device::flex();
        device.seed(3);
        let images = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &device);
        // Every architecture's walk (small-input variants; GoogLeNet with its auxiliary heads).
        let models = [
            ZooModel::AlexNet.build(5, 3, true, &device),
            ZooModel::Vgg11Bn.build(5, 3, true, &device),
            ZooModel::ResNet18.build(5, 3, true, &device),
            ZooModel::ResNet50.build(5, 3, true, &device),
            ImageModel::GoogLeNet(
                super::super::googlenet::GoogLeNetConfig::new(5)
                    .with_aux_logits(true)
                    .small_input()
                    .init(&device),
            ),
            ZooModel::ResNet20.build(5, 3, false, &device),
        ];
        for model in models {
            let expected = model.logits(images.clone());
            let summary = summarize(&model, images.clone());
            summary
                .logits
                .to_data()
                .assert_approx_eq::<f32>(&expected.to_data(), Tolerance::strict());
            let last = summary.layers.last().unwrap();
            assert_eq!(last.output_shape, [2, 5]);
            let sum: usize = summary.layers.iter().map(|l| l.params).sum();
            assert_eq!(sum, summary.trainable_params, "{}", summary.table());
        }
    }

    #[test]
    fn resnet18_table_at_224_pixels() {
        let device = Device::flex();
        let model = zeroed(ZooModel::ResNet18.build(1000, 3, false, &device));
        let summary = summarize(&model, Tensor::zeros([1, 3, 224, 224], &device));
        let row = |path: &str| {
            summary
                .layers
                .iter()
                .find(|l| l.path == path)
                .unwrap_or_else(|| panic!("{path}"))
                .clone()
        };
        assert_eq!(row("conv1").output_shape, [1, 64, 112, 112]);
        assert_eq!(row("conv1").params, 64 * 3 * 7 * 7);
        assert_eq!(row("maxpool").output_shape, [1, 64, 56, 56]);
        assert_eq!(row("layer2.0").output_shape, [1, 128, 28, 28]);
        assert_eq!(row("layer4.1").output_shape, [1, 512, 7, 7]);
        assert_eq!(row("fc").params, 512 * 1000 + 1000);
        assert_eq!(summary.trainable_params, 11_689_512);
        assert_eq!(summary.running_statistics, 9_600);
        let table = summary.table();
        assert!(table.contains("Total params: 11,689,512"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("layer1.0")
            && l.contains("BasicBlock")
            && l.contains("[1, 64, 56, 56]")
            && l.trim_end().ends_with("73,984")));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(61_100_840), "61,100,840");
    }
}
