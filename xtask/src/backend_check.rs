//! `cargo xtask backend-check --backend wgpu|cuda`: every model of the zoo and every sequence
//! model, run forward on Flex and on another backend with the same weights and the same input.
//!
//! A model is built once on Flex, copied to the other device with `Module::to_device` (so both
//! hold bit-identical parameters), and given the same input on both; we compare the outputs by
//! the largest absolute difference over the largest absolute reference value,
//! `max|out − ref| / max|ref|`. Float32 on both sides lands near 1e-6; a GPU that runs float32
//! matrix products on TF32 tensor cores lands near 1e-3. The tolerance is `--tolerance`
//! (default [`DEFAULT_TOLERANCE`]); the run fails when any model exceeds it.
//!
//! Devices without autodiff: batch norm uses its running statistics and dropout is off, so the
//! forward pass is deterministic on both backends. Two training checks go further: five Adam
//! steps of LeNet-5 and of an LSTM classifier from the same weights, whose losses (each depending
//! on every earlier backward pass and update) must agree as well.

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use deepzero_core::OptimizerKind;
use deepzero_data::ImageBatch;
use deepzero_sequence::attention::padding_mask;
use deepzero_sequence::lm::gpt::GptConfig;
use deepzero_sequence::rnn::{RecurrentKind, StackedRnn, StackedRnnConfig};
use deepzero_sequence::transformer::{
    NormPosition, TransformerConfig, TransformerEncoderConfig, TransformerLayerConfig,
};
use deepzero_train::Supervised;
use deepzero_train::device::Backend;
use deepzero_vision::ZooModel;
use deepzero_vision::{Architecture, ImageClassifier, ImageModel};

/// `max|out − ref| / max|ref|` allowed by default: room for TF32 matrix products on a GPU.
pub const DEFAULT_TOLERANCE: f64 = 5e-3;

/// Options of `cargo xtask backend-check`.
#[derive(Debug, clap::Args)]
pub struct BackendCheckArgs {
    /// The backend compared with Flex (`wgpu`, `cuda` or `ndarray`).
    #[arg(long)]
    pub backend: String,
    /// Largest `max|out − ref| / max|ref|` accepted.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    /// Run the ImageNet models at 64×64 instead of 224×224 (their global pools accept it):
    /// the same layers at a twelfth of the work, for software renderers such as lavapipe.
    #[arg(long)]
    pub small_images: bool,
    /// Only the models whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Skip the image models with a parameter tensor larger than this many MiB, and say so:
    /// lavapipe allocates no buffer over 128 MiB, and AlexNet's and VGG's first classifier
    /// layers are 144 MiB and 392 MiB.
    #[arg(long)]
    pub max_tensor_mib: Option<usize>,
}

/// One model's comparison: its relative error, or why it could not be computed.
struct Checked {
    name: String,
    outcome: Result<f64, String>,
    seconds: f64,
}

impl Checked {
    fn passed(&self, tolerance: f64) -> bool {
        self.outcome.as_ref().is_ok_and(|&e| e <= tolerance)
    }
}

/// Compares every model on Flex and on `args.backend`.
pub fn run(args: &BackendCheckArgs) -> Result<(), String> {
    let backend: Backend = args.backend.parse().map_err(|e| format!("{e}"))?;
    if backend == Backend::Flex {
        return Err("--backend flex compares Flex with itself; name another backend".into());
    }
    let reference = Backend::Flex.device().map_err(|e| e.to_string())?;
    let other = backend.device().map_err(|e| e.to_string())?;
    let mut checked = Vec::new();
    let wanted =
        |name: &str| args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()));
    let mut skipped = Vec::new();
    for (name, arch, shape) in image_models(args.small_images) {
        if !wanted(&name) {
            continue;
        }
        let start = Instant::now();
        reference.seed(0);
        let model = arch.build(shape, 10, &reference);
        if let Some(limit) = args.max_tensor_mib {
            let largest = largest_parameter_mib(&model);
            if largest > limit as f64 {
                println!(
                    "{name:<36} skipped: a {largest:.0} MiB parameter (--max-tensor-mib {limit})"
                );
                skipped.push(name);
                continue;
            }
        }
        let outcome = check_image_model(arch, model, shape, &reference, &other);
        checked.push(Checked {
            name,
            outcome,
            seconds: start.elapsed().as_secs_f64(),
        });
        report(checked.last().unwrap(), args.tolerance);
    }
    for (name, model) in sequence_models() {
        if wanted(name) {
            let start = Instant::now();
            reference.seed(0);
            checked.push(Checked {
                name: name.into(),
                outcome: model(&reference, &other),
                seconds: start.elapsed().as_secs_f64(),
            });
            report(checked.last().unwrap(), args.tolerance);
        }
    }
    let failed: Vec<&Checked> = checked
        .iter()
        .filter(|c| !c.passed(args.tolerance))
        .collect();
    let worst = checked
        .iter()
        .filter_map(|c| c.outcome.as_ref().ok().copied())
        .fold(0.0, f64::max);
    println!(
        "{} models on flex and {}: worst max|out − ref| / max|ref| = {worst:.2e} (tolerance {:.0e}){}",
        checked.len(),
        backend.name(),
        args.tolerance,
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {}", skipped.join(", "))
        }
    );
    if checked.is_empty() {
        return Err(format!("no model matches --only {}", args.only.join(",")));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
        Err(format!(
            "{} differs from flex beyond {:.0e} on: {}",
            backend.name(),
            args.tolerance,
            names.join(", ")
        ))
    }
}

fn report(c: &Checked, tolerance: f64) {
    match &c.outcome {
        Ok(error) => {
            let verdict = if c.passed(tolerance) { "ok" } else { "FAIL" };
            println!(
                "{:<36} {error:>10.2e}  {:>6.1} s  {verdict}",
                c.name, c.seconds
            );
        }
        Err(why) => println!("{:<36} FAIL: {why}", c.name),
    }
}

/// The size of the model's largest parameter tensor, in MiB (float32).
fn largest_parameter_mib<M: Module>(model: &M) -> f64 {
    struct Largest(usize);
    impl ModuleVisitor for Largest {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 = self.0.max(param.shape().num_elements());
        }
    }
    let mut largest = Largest(0);
    model.visit(&mut largest);
    (largest.0 * 4) as f64 / (1024.0 * 1024.0)
}

/// Every classifier: the recipes' architectures at 1×28×28 (3×32×32 for the small-input zoo
/// variants), and every zoo model at its reference input (or 64 px with `small_images`).
fn image_models(small_images: bool) -> Vec<(String, Architecture, [usize; 3])> {
    let mut models: Vec<(String, Architecture, [usize; 3])> = [
        Architecture::Mlp,
        Architecture::LeNet5,
        Architecture::SmallCnn,
        Architecture::ResNet20,
        Architecture::ResNet56,
    ]
    .into_iter()
    .map(|a| (a.name().to_string(), a, [1, 28, 28]))
    .collect();
    for a in [
        Architecture::AlexNetSmall,
        Architecture::Vgg11BnSmall,
        Architecture::ResNet18Small,
        Architecture::GoogLeNetSmall,
    ] {
        models.push((a.name().to_string(), a, [3, 32, 32]));
    }
    for zoo in ZooModel::ALL {
        let size = match zoo.reference_input_size() {
            224 if small_images => 64,
            size => size,
        };
        models.push((
            format!("zoo {}", zoo.name()),
            Architecture::Zoo(zoo),
            [3, size, size],
        ));
    }
    models
}

/// Compares `model` (`arch` built on `reference`) with its copy on `other`; the GoogLeNets are
/// rebuilt for training mode instead (see [`googlenet_in_training_mode`]).
fn check_image_model(
    arch: Architecture,
    model: ImageModel,
    shape: [usize; 3],
    reference: &Device,
    other: &Device,
) -> Result<f64, String> {
    let input = |device: &Device| {
        let [c, h, w] = shape;
        Tensor::<4>::from_data(TensorData::new(wave(2 * c * h * w), [2, c, h, w]), device)
    };
    let (expected, actual) = match googlenet_in_training_mode(arch, shape[0]) {
        Some(config) => {
            let (reference, other) = (reference.clone().autodiff(), other.clone().autodiff());
            reference.seed(0);
            let model = config.init(&reference);
            let expected = model.clone().forward(input(&reference));
            (expected, model.to_device(&other).forward(input(&other)))
        }
        None => {
            let expected = model.clone().logits(input(reference));
            (expected, model.to_device(other).logits(input(other)))
        }
    };
    if !sensitive(expected.clone())? {
        return Err("the reference output is the same for both images: nothing to compare".into());
    }
    relative_error(actual, expected)
}

/// GoogLeNet's `N(0, 0.01)` initialisation (torchvision's) leaves a fresh model's activations,
/// under batch norm's initial running statistics, so far below the classifier's bias that its
/// logits are the bias on any backend, and comparing them would prove nothing. The GoogLeNets
/// are therefore compared in training mode (batch norm on the batch's statistics), with
/// dropout 0 so that both sides compute the same function.
fn googlenet_in_training_mode(
    arch: Architecture,
    channels: usize,
) -> Option<deepzero_vision::GoogLeNetConfig> {
    let config = deepzero_vision::GoogLeNetConfig::new(10)
        .with_in_channels(channels)
        .with_dropout(0.0)
        .with_aux_dropout(0.0);
    match arch {
        Architecture::GoogLeNetSmall => Some(config.small_input()),
        Architecture::Zoo(ZooModel::GoogLeNet) => Some(config),
        _ => None,
    }
}

/// Whether the reference outputs of the two input images differ (by more than 1e-4 of their
/// scale): a model whose output ignores its input would pass any comparison.
fn sensitive(reference: Tensor<2>) -> Result<bool, String> {
    let [batch, _] = reference.dims();
    let first = reference.clone().slice(s![0..1, ..]);
    let second = reference.slice(s![1..batch, ..]);
    Ok(relative_error(second, first)? > 1e-4)
}

/// A model of the sequence crate, or a training check: builds itself on the first device, runs
/// there and (moved) on the second, and returns the relative error.
type ModelCheck = fn(&Device, &Device) -> Result<f64, String>;

fn sequence_models() -> Vec<(&'static str, ModelCheck)> {
    vec![
        ("lstm 2-layer bidirectional", |a, b| {
            rnn(RecurrentKind::Lstm, a, b)
        }),
        ("gru 2-layer bidirectional", |a, b| {
            rnn(RecurrentKind::Gru, a, b)
        }),
        ("rnn 2-layer bidirectional", |a, b| {
            rnn(RecurrentKind::Rnn, a, b)
        }),
        ("transformer encoder post-norm", |a, b| {
            encoder(NormPosition::Post, a, b)
        }),
        ("transformer encoder pre-norm", |a, b| {
            encoder(NormPosition::Pre, a, b)
        }),
        ("transformer seq2seq", seq2seq),
        ("gpt", gpt),
        ("train: lenet5, 5 adam steps", train_lenet),
        ("train: lstm classifier, 5 adam steps", train_lstm),
    ]
}

/// Adam steps compared: the losses of [`TRAIN_STEPS`] steps from the same weights on both
/// backends (the last of them already depends on every earlier backward pass and update).
const TRAIN_STEPS: usize = 5;

/// The losses of [`TRAIN_STEPS`] Adam steps (lr 1e-2) of `model`, each step's loss from `loss`.
/// Each side gets its own `fork` of the model (its parameters as fresh leaves on that device):
/// with `to_device` the second side's backward pass would run back into the first side's
/// already consumed graph.
fn training_losses<M: Module>(
    mut model: M,
    loss: impl Fn(&M) -> Tensor<1>,
) -> Result<Vec<f32>, String> {
    let mut optim = OptimizerKind::Adam.build(0.0);
    let mut losses = Vec::with_capacity(TRAIN_STEPS);
    for _ in 0..TRAIN_STEPS {
        let loss = loss(&model);
        losses.extend(read(loss.clone())?);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    Ok(losses)
}

/// The check proves something only if training moved the loss: a backend whose gradients were
/// all zero would otherwise repeat the first loss and pass. Requires a change of at least 5 %
/// between the first and the last loss of the reference.
fn moved(losses: &[f32]) -> Result<(), String> {
    let (first, last) = (losses[0] as f64, losses[losses.len() - 1] as f64);
    let change = (last - first).abs() / first.abs().max(f64::MIN_POSITIVE);
    if change >= 0.05 {
        Ok(())
    } else {
        Err(format!(
            "the reference loss moved {:.2} % in {TRAIN_STEPS} steps: nothing to compare",
            change * 100.0
        ))
    }
}

/// LeNet-5 on two 1×28×28 images of classes 3 and 7, cross-entropy.
fn train_lenet(a: &Device, b: &Device) -> Result<f64, String> {
    let (a, b) = (a.clone().autodiff(), b.clone().autodiff());
    let model = Architecture::LeNet5.build([1, 28, 28], 10, &a);
    let losses = |model: ImageModel, device: &Device| {
        training_losses(model, |model| {
            let images =
                Tensor::<4>::from_data(TensorData::new(wave(2 * 28 * 28), [2, 1, 28, 28]), device);
            let targets = Tensor::<1, Int>::from_data([3, 7], device);
            model.step(ImageBatch { images, targets }).loss
        })
    };
    let expected = losses(model.clone().fork(&a), &a)?;
    moved(&expected)?;
    let actual = losses(model.fork(&b), &b)?;
    Ok(relative_difference(&actual, &expected))
}

/// A one-layer LSTM over padded sequences, a linear head on its final state, cross-entropy.
#[derive(Module, Debug)]
struct RnnClassifier {
    rnn: StackedRnn,
    head: Linear,
}

fn train_lstm(a: &Device, b: &Device) -> Result<f64, String> {
    let (a, b) = (a.clone().autodiff(), b.clone().autodiff());
    let model = RnnClassifier {
        rnn: StackedRnnConfig::new(RecurrentKind::Lstm, 16, 24).init(&a),
        head: LinearConfig::new(24, 5).init(&a),
    };
    let losses = |model: RnnClassifier, device: &Device| {
        training_losses(model, |model| {
            let x = Tensor::<3>::from_data(
                TensorData::new(wave(BATCH * STEPS * 16), [BATCH, STEPS, 16]),
                device,
            );
            let padding = padding_mask(&LENGTHS, STEPS, device).expect("lengths fit");
            let (_, state) = model.rnn.forward(x, None, Some(padding));
            let logits = model.head.forward(state.hidden.squeeze_dim::<2>(0));
            let targets = Tensor::<1, Int>::from_data([0, 3, 4], device);
            CrossEntropyLossConfig::new()
                .init(device)
                .forward(logits, targets)
        })
    };
    let expected = losses(model.clone().fork(&a), &a)?;
    moved(&expected)?;
    let actual = losses(model.fork(&b), &b)?;
    Ok(relative_difference(&actual, &expected))
}

const BATCH: usize = 3;
const STEPS: usize = 12;
/// Sequence lengths of the batch: one full, two padded.
const LENGTHS: [usize; BATCH] = [STEPS, 7, 3];

fn rnn(kind: RecurrentKind, a: &Device, b: &Device) -> Result<f64, String> {
    let model = StackedRnnConfig::new(kind, 16, 24)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init(a);
    let run = |model: &deepzero_sequence::rnn::StackedRnn, device: &Device| {
        let x = Tensor::<3>::from_data(
            TensorData::new(wave(BATCH * STEPS * 16), [BATCH, STEPS, 16]),
            device,
        );
        let padding = padding_mask(&LENGTHS, STEPS, device).map_err(|e| e.to_string())?;
        Ok::<_, String>(model.forward(x, None, Some(padding)).0)
    };
    let expected = run(&model, a)?;
    let actual = run(&model.clone().to_device(b), b)?;
    relative_error(actual, expected)
}

fn layer_config(norm: NormPosition) -> TransformerLayerConfig {
    TransformerLayerConfig::new(32, 4, 64)
        .with_dropout(0.0)
        .with_norm(norm)
}

fn encoder(norm: NormPosition, a: &Device, b: &Device) -> Result<f64, String> {
    let model = TransformerEncoderConfig::new(layer_config(norm), 2)
        .init(a)
        .map_err(|e| e.to_string())?;
    let run = |model: &deepzero_sequence::transformer::TransformerEncoder, device: &Device| {
        let x = Tensor::<3>::from_data(
            TensorData::new(wave(BATCH * STEPS * 32), [BATCH, STEPS, 32]),
            device,
        );
        let padding = padding_mask(&LENGTHS, STEPS, device).map_err(|e| e.to_string())?;
        let mask = deepzero_sequence::attention::key_padding_mask(padding, STEPS);
        Ok::<_, String>(model.forward(x, Some(mask)))
    };
    let expected = run(&model, a)?;
    let actual = run(&model.clone().to_device(b), b)?;
    relative_error(actual, expected)
}

/// Token ids `(7 i + 3) mod vocab`, `[BATCH, STEPS]`.
fn tokens(vocab: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..BATCH * STEPS)
        .map(|i| ((7 * i + 3) % vocab) as i64)
        .collect();
    Tensor::from_data(TensorData::new(ids, [BATCH, STEPS]), device)
}

fn seq2seq(a: &Device, b: &Device) -> Result<f64, String> {
    let model = TransformerConfig::new(50, 40, layer_config(NormPosition::Post))
        .with_n_encoder_layers(2)
        .with_n_decoder_layers(2)
        .init(a)
        .map_err(|e| e.to_string())?;
    let run = |model: &deepzero_sequence::Transformer, device: &Device| {
        let padding = padding_mask(&LENGTHS, STEPS, device).map_err(|e| e.to_string())?;
        Ok::<_, String>(model.forward(
            tokens(50, device),
            tokens(40, device),
            Some(padding.clone()),
            Some(padding),
        ))
    };
    let expected = run(&model, a)?;
    let actual = run(&model.clone().to_device(b), b)?;
    relative_error(actual, expected)
}

fn gpt(a: &Device, b: &Device) -> Result<f64, String> {
    let model = GptConfig::new(60, 32)
        .with_d_model(32)
        .with_n_layers(2)
        .init(a)
        .map_err(|e| e.to_string())?;
    let expected = model.forward(tokens(60, a));
    let actual = model.clone().to_device(b).forward(tokens(60, b));
    relative_error(actual, expected)
}

/// Deterministic inputs in `[−1, 1]` (no random generator: the same on every backend).
fn wave(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// `max|actual − expected| / max|expected|`, both read back to the host (see
/// [`relative_difference`]). A backend that fails to compute or to read back (an allocation it
/// cannot make, say) is an error, with the first line of its message.
fn relative_error<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> Result<f64, String> {
    Ok(relative_difference(&read(actual)?, &read(expected)?))
}

/// A tensor's values on the host, or the first line of the backend's error.
fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    tensor
        .try_into_data()
        .map_err(|e| format!("{e:?}"))
        .and_then(|d| d.try_to_vec::<f32>().map_err(|e| format!("{e:?}")))
        .map_err(|e| e.lines().next().unwrap_or_default().to_string())
}

/// `max|actual − expected| / max|expected|`; NaN anywhere, or lengths that differ, give NaN
/// (which fails every tolerance).
fn relative_difference(actual: &[f32], expected: &[f32]) -> f64 {
    if actual.len() != expected.len() || expected.is_empty() {
        return f64::NAN;
    }
    let mut diff = 0.0f64;
    let mut scale = 0.0f64;
    for (a, e) in actual.iter().zip(expected) {
        let d = (*a as f64 - *e as f64).abs();
        if d.is_nan() {
            return f64::NAN;
        }
        diff = diff.max(d);
        scale = scale.max((*e as f64).abs());
    }
    diff / scale.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_the_largest_difference_over_the_largest_value() {
        let device = Device::flex();
        let e = Tensor::<1>::from_floats([1.0, -4.0, 2.0], &device);
        let a = Tensor::<1>::from_floats([1.5, -4.0, 2.0], &device);
        assert!((relative_error(a, e.clone()).unwrap() - 0.125).abs() < 1e-12);
        let nan = Tensor::<1>::from_floats([f32::NAN, -4.0, 2.0], &device);
        assert!(relative_error(nan, e).unwrap().is_nan());
    }

    /// A model copied with `to_device` onto the same backend computes exactly the same outputs
    /// and training losses: the check's own plumbing adds no difference.
    #[test]
    fn a_copied_model_gives_the_same_output() {
        let device = Device::flex();
        let error = gpt(&device, &device).unwrap();
        assert_eq!(error, 0.0);
        let error = rnn(RecurrentKind::Gru, &device, &device).unwrap();
        assert_eq!(error, 0.0);
        let error = train_lstm(&device, &device).unwrap();
        assert_eq!(error, 0.0);
    }

    /// LeNet-5's largest parameter is its 400 × 120 first dense layer.
    #[test]
    fn the_largest_parameter_is_measured() {
        let model = Architecture::LeNet5.build([1, 28, 28], 10, &Device::flex());
        let mib = largest_parameter_mib(&model);
        assert!(
            (mib - 400.0 * 120.0 * 4.0 / 1048576.0).abs() < 1e-9,
            "{mib}"
        );
    }

    #[test]
    fn flex_against_itself_is_refused() {
        let args = BackendCheckArgs {
            backend: "flex".into(),
            tolerance: DEFAULT_TOLERANCE,
            small_images: false,
            only: vec![],
            max_tensor_mib: None,
        };
        assert!(run(&args).unwrap_err().contains("itself"));
    }
}
