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
//! forward pass is deterministic on both backends.

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use deepzero_sequence::attention::padding_mask;
use deepzero_sequence::lm::gpt::GptConfig;
use deepzero_sequence::rnn::{RecurrentKind, StackedRnnConfig};
use deepzero_sequence::transformer::{
    NormPosition, TransformerConfig, TransformerEncoderConfig, TransformerLayerConfig,
};
use deepzero_train::device::Backend;
use deepzero_vision::ZooModel;
use deepzero_vision::{Architecture, ImageClassifier};

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
}

/// One model's comparison.
struct Checked {
    name: String,
    relative_error: f64,
    seconds: f64,
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
    for (name, arch, shape) in image_models(args.small_images) {
        if wanted(&name) {
            checked.push(check_image_model(&name, arch, shape, &reference, &other));
            report(checked.last().unwrap(), args.tolerance);
        }
    }
    for (name, model) in sequence_models() {
        if wanted(name) {
            let start = Instant::now();
            reference.seed(0);
            let relative_error = model(&reference, &other)?;
            checked.push(Checked {
                name: name.into(),
                relative_error,
                seconds: start.elapsed().as_secs_f64(),
            });
            report(checked.last().unwrap(), args.tolerance);
        }
    }
    let failed: Vec<&Checked> = checked
        .iter()
        .filter(|c| !(c.relative_error <= args.tolerance))
        .collect();
    let worst = checked.iter().map(|c| c.relative_error).fold(0.0, f64::max);
    println!(
        "{} models on flex and {}: worst max|out − ref| / max|ref| = {worst:.2e} (tolerance {:.0e})",
        checked.len(),
        backend.name(),
        args.tolerance
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
    let verdict = if c.relative_error <= tolerance {
        "ok"
    } else if c.relative_error.is_nan() {
        "FAIL (NaN, or an output that ignores the input)"
    } else {
        "FAIL"
    };
    println!(
        "{:<28} {:>10.2e}  {:>6.1} s  {verdict}",
        c.name, c.relative_error, c.seconds
    );
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

fn check_image_model(
    name: &str,
    arch: Architecture,
    shape: [usize; 3],
    reference: &Device,
    other: &Device,
) -> Checked {
    let start = Instant::now();
    reference.seed(0);
    let input = |device: &Device| {
        let [c, h, w] = shape;
        Tensor::<4>::from_data(TensorData::new(wave(2 * c * h * w), [2, c, h, w]), device)
    };
    let (expected, actual) = match googlenet_in_training_mode(arch, shape[0]) {
        Some(config) => {
            let (reference, other) = (reference.clone().autodiff(), other.clone().autodiff());
            let model = config.init(&reference);
            let expected = model.clone().forward(input(&reference));
            (expected, model.to_device(&other).forward(input(&other)))
        }
        None => {
            let model = arch.build(shape, 10, reference);
            let expected = model.clone().logits(input(reference));
            (expected, model.to_device(other).logits(input(other)))
        }
    };
    Checked {
        name: name.into(),
        relative_error: sensitive(expected.clone())
            .map_or(f64::NAN, |()| relative_error(actual, expected)),
        seconds: start.elapsed().as_secs_f64(),
    }
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

/// `Some(())` when the reference outputs of the two input images differ (by more than 1e-4 of
/// their scale): a model whose output ignores its input would pass any comparison.
fn sensitive(reference: Tensor<2>) -> Option<()> {
    let [batch, _] = reference.dims();
    let first = reference.clone().slice(s![0..1, ..]);
    let second = reference.slice(s![1..batch, ..]);
    let spread = relative_error(second, first);
    (spread > 1e-4).then_some(())
}

/// A model of the sequence crate: builds itself on the first device, runs there and (moved) on
/// the second, and returns the relative error.
type SequenceCheck = fn(&Device, &Device) -> Result<f64, String>;

fn sequence_models() -> Vec<(&'static str, SequenceCheck)> {
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
    ]
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
    Ok(relative_error(actual, expected))
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
    Ok(relative_error(actual, expected))
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
    Ok(relative_error(actual, expected))
}

fn gpt(a: &Device, b: &Device) -> Result<f64, String> {
    let model = GptConfig::new(60, 32)
        .with_d_model(32)
        .with_n_layers(2)
        .init(a)
        .map_err(|e| e.to_string())?;
    let expected = model.forward(tokens(60, a));
    let actual = model.clone().to_device(b).forward(tokens(60, b));
    Ok(relative_error(actual, expected))
}

/// Deterministic inputs in `[−1, 1]` (no random generator: the same on every backend).
fn wave(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// `max|actual − expected| / max|expected|`, both read back to the host; NaN anywhere gives NaN
/// (which fails every tolerance).
fn relative_error<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> f64 {
    let actual = actual.into_data().try_to_vec::<f32>().unwrap_or_default();
    let expected = expected.into_data().try_to_vec::<f32>().unwrap_or_default();
    if actual.len() != expected.len() || expected.is_empty() {
        return f64::NAN;
    }
    let mut diff = 0.0f64;
    let mut scale = 0.0f64;
    for (a, e) in actual.iter().zip(&expected) {
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
        assert!((relative_error(a, e.clone()) - 0.125).abs() < 1e-12);
        let nan = Tensor::<1>::from_floats([f32::NAN, -4.0, 2.0], &device);
        assert!(relative_error(nan, e).is_nan());
    }

    /// Flex against ndarray where ndarray is compiled in; else Flex's own GPT against a copy
    /// of itself (`to_device` on the same backend), which must agree exactly.
    #[test]
    fn a_copied_model_gives_the_same_output() {
        let device = Device::flex();
        let error = gpt(&device, &device).unwrap();
        assert_eq!(error, 0.0);
        let error = rnn(RecurrentKind::Gru, &device, &device).unwrap();
        assert_eq!(error, 0.0);
    }

    #[test]
    fn flex_against_itself_is_refused() {
        let args = BackendCheckArgs {
            backend: "flex".into(),
            tolerance: DEFAULT_TOLERANCE,
            small_images: false,
            only: vec![],
        };
        assert!(run(&args).unwrap_err().contains("itself"));
    }
}
