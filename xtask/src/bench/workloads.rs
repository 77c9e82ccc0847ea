//! The model side of every benchmark workload: what one step is, for each implementation.
//!
//! Every step starts from data on the host (a `Vec`), sends it to the device like a real
//! loader would, and ends by reading a value back (the loss, or the logits for inference), so
//! that the work of a step has finished when the next one starts.

use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use deepzero_core::OptimizerKind;
use deepzero_data::ImageBatch;
use deepzero_graph::gat::{Gat, GatConfig};
use deepzero_graph::sparse::{MessageEdges, NodeInput, SparseMatrix};
use deepzero_recsys::models::neumf::{NeuMfConfig, bce_with_logits};
use deepzero_sequence::rnn::{RecurrentKind, StackedRnn, StackedRnnConfig};
use deepzero_sequence::transformer::{
    FfnActivation, NormPosition, TransformerEncoderLayer, TransformerLayerConfig,
};
use deepzero_train::Supervised;
use deepzero_vision::detect::yolo3::{Yolo3Config, anchors_from_sizes};
use deepzero_vision::segment::SegmentBatch;
use deepzero_vision::segment::task::SegmentArch;
use deepzero_vision::{Architecture, ImageModel};

use super::{Implementation, Plan};

/// What a workload measured: throughput per repeat and the model's parameter count.
pub struct Measured {
    /// Samples (or images) per second, one per repeat.
    pub rates: Vec<f64>,
    /// Trainable parameters (BatchNorm running statistics not counted, as in PyTorch).
    pub params: usize,
}

// Shapes shared with `xtask/peers/torch_bench.py`.
const LSTM: [usize; 4] = [32, 64, 128, 256]; // batch, steps, input, hidden
const TRANSFORMER: [usize; 5] = [32, 128, 256, 4, 1024]; // batch, seq, d_model, heads, d_ff
const CLASSES: usize = 10;
/// Cora's shape: nodes, feature dimension, nonzeros per row, undirected edges, classes,
/// labelled nodes.
const CORA: [usize; 6] = [2708, 1433, 18, 5278, 7, 140];
/// MovieLens-100k's users and items; NeuMF's GMF factors.
const NEUMF: [usize; 3] = [943, 1682, 16];
/// The `digits-unet` recipe's model (`deepzero_vision::segment::task::recipes`; a test checks
/// that the recipe still builds this one, since the PyTorch peer copies it).
pub(super) const UNET_ARCH: SegmentArch = SegmentArch::UNet {
    width: 12,
    depth: 4,
    bilinear: false,
};
/// The `digits-unet` recipe's data and optimiser: input channels, classes (background + 10
/// digits), canvas side; Adam's learning rate.
pub(super) const UNET: [usize; 3] = [1, 11, 64];
pub(super) const UNET_LR: f64 = 2e-3;
/// The `digits-yolo` recipe's detector (deepzero_vision::tasks::detect): input channels,
/// classes, stem width, canvas side.
pub(super) const YOLO: [usize; 4] = [1, 10, 8, 64];

/// Runs `workload` with `implementation` on `device` (a device without autodiff; training
/// workloads add it).
pub fn measure(
    workload: &str,
    implementation: Implementation,
    batch_size: usize,
    device: &Device,
    plan: Plan,
) -> Result<Measured, String> {
    let train_device = device.clone().autodiff();
    let adam = || OptimizerKind::Adam.build(0.0);
    Ok(match (workload, implementation) {
        ("mnist-mlp", Implementation::Deepzero) => image_training(
            Architecture::Mlp.build([1, 28, 28], CLASSES, &train_device),
            &train_device,
            [1, 28, 28],
            batch_size,
            plan,
            adam(),
            1e-3,
        ),
        ("mnist-lenet", Implementation::Deepzero) => image_training(
            Architecture::LeNet5.build([1, 28, 28], CLASSES, &train_device),
            &train_device,
            [1, 28, 28],
            batch_size,
            plan,
            adam(),
            1e-3,
        ),
        // The `fashion-resnet20` and `fashion-googlenet` recipes' models and optimiser: 1×28×28,
        // SGD momentum 0.9 (dampening 0), weight decay 5e-4, batch 128. lr 0.1 for both (the
        // GoogLeNet recipe's is 0.05; a step's work does not depend on it, and the peer uses
        // 0.1 for every SGD workload).
        (name @ ("resnet20-train" | "googlenet-train"), Implementation::Deepzero) => {
            let arch = if name == "resnet20-train" {
                Architecture::ResNet20
            } else {
                Architecture::GoogLeNetSmall
            };
            image_training(
                arch.build([1, 28, 28], CLASSES, &train_device),
                &train_device,
                [1, 28, 28],
                batch_size,
                plan,
                OptimizerKind::Momentum.build(5e-4),
                0.1,
            )
        }
        ("resnet18-infer", Implementation::Deepzero) => {
            resnet18_inference(device, batch_size, plan)
        }
        ("lstm-train", imp) => lstm_training(imp, &train_device, plan),
        ("gru-train", imp) => gru_training(imp, &train_device, plan),
        ("transformer-layer-train", imp) => transformer_training(imp, &train_device, plan)?,
        ("gat-cora-train", Implementation::Deepzero) => gat_training(&train_device, plan),
        ("neumf-train", Implementation::Deepzero) => {
            neumf_training(&train_device, batch_size, plan)
        }
        ("unet-training", Implementation::Deepzero) => {
            unet_training(&train_device, batch_size, plan)
        }
        ("yolo-inference", Implementation::Deepzero) => yolo_inference(device, batch_size, plan),
        (name, imp) => return Err(format!("{name}: no {} implementation", imp.name())),
    })
}

/// Deterministic values in `[−offset, 1 − offset]`, the same formula as the peer's.
fn host_data(len: usize, offset: f32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 256) as f32 / 255.0 - offset)
        .collect()
}

fn host_labels(len: usize) -> Vec<i32> {
    (0..len).map(|i| (i % CLASSES) as i32).collect()
}

/// `warmup` untimed steps, then `repeats` × `steps` timed ones; samples/s per repeat.
fn time_loop<M>(
    mut model: M,
    device: &Device,
    samples_per_step: usize,
    plan: Plan,
    mut step: impl FnMut(M) -> M,
) -> Vec<f64> {
    for _ in 0..plan.warmup {
        model = step(model);
    }
    let steps = plan.steps.max(1);
    let mut rates = Vec::new();
    for _ in 0..plan.repeats.max(1) {
        let start = Instant::now();
        for _ in 0..steps {
            model = step(model);
        }
        let _ = device.sync();
        rates.push((steps * samples_per_step) as f64 / start.elapsed().as_secs_f64());
    }
    rates
}

/// Training steps: `loss(model)` (which builds its batch from host data), loss read back,
/// backward, optimiser step.
fn train<M: Module>(
    model: M,
    device: &Device,
    batch_size: usize,
    plan: Plan,
    mut optim: ModuleOptimizer,
    lr: f64,
    loss: impl Fn(&M) -> Tensor<1>,
) -> Measured {
    let params = deepzero_vision::trainable_params(&model);
    let rates = time_loop(model, device, batch_size, plan, |model| {
        let loss = loss(&model);
        let _loss: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(lr, model, grads)
    });
    Measured { rates, params }
}

fn image_training(
    model: ImageModel,
    device: &Device,
    [channels, height, width]: [usize; 3],
    batch_size: usize,
    plan: Plan,
    optim: ModuleOptimizer,
    lr: f64,
) -> Measured {
    let pixels = host_data(batch_size * channels * height * width, 0.0);
    let labels = host_labels(batch_size);
    train(model, device, batch_size, plan, optim, lr, |model| {
        let images = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch_size, channels, height, width]),
            device,
        );
        let targets =
            Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch_size]), device);
        model.step(ImageBatch { images, targets }).loss
    })
}

/// torchvision's ResNet-18 (224×224, 1000 classes), forward only, on a device without
/// autodiff (batch norm uses its running statistics), logits read back every step.
fn resnet18_inference(device: &Device, batch_size: usize, plan: Plan) -> Measured {
    let model = deepzero_vision::resnet18(1000, device).valid();
    let params = deepzero_vision::trainable_params(&model);
    let pixels = host_data(batch_size * 3 * 224 * 224, 0.5);
    let rates = time_loop(model, device, batch_size, plan, |model| {
        let images = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch_size, 3, 224, 224]),
            device,
        );
        let _logits = model.forward(images).into_data();
        model
    });
    Measured { rates, params }
}

/// One training step of the `digits-unet` recipe's U-Net as the segmentation task takes it
/// (`SegmentModel::step`: per-pixel cross-entropy over the unignored pixels), Adam at the
/// recipe's learning rate. Pixel `i` of the batch is `host_data`'s, its mask `i mod 11`: the
/// values do not change the work, only the shapes do.
fn unet_training(device: &Device, batch_size: usize, plan: Plan) -> Measured {
    let [channels, classes, side] = UNET;
    let model = UNET_ARCH.build(channels, classes, device);
    let pixels = host_data(batch_size * channels * side * side, 0.0);
    let masks: Vec<i32> = (0..batch_size * side * side)
        .map(|i| (i % classes) as i32)
        .collect();
    let adam = OptimizerKind::Adam.build(0.0);
    train(model, device, batch_size, plan, adam, UNET_LR, |model| {
        let images = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch_size, channels, side, side]),
            device,
        );
        let masks = Tensor::<3, Int>::from_data(
            TensorData::new(masks.clone(), [batch_size, side, side]),
            device,
        );
        model.step(SegmentBatch { images, masks }).loss
    })
}

/// The `digits-yolo` recipe's detector (`Yolo3Config` as `tasks::detect::train` builds it; the
/// anchors are the digit defaults, which change no shape), forward only on a device without
/// autodiff (batch norm on its running statistics). A step ends with the three scales' raw head
/// outputs read back: decoding and NMS are not timed, here or in the peer, so the figure is the
/// network's alone.
fn yolo_inference(device: &Device, batch_size: usize, plan: Plan) -> Measured {
    let [channels, classes, width, side] = YOLO;
    let model = Yolo3Config::new(classes, anchors_from_sizes(&[]))
        .with_in_channels(channels)
        .with_width(width)
        .init(device)
        .valid();
    let params = deepzero_vision::trainable_params(&model);
    let pixels = host_data(batch_size * channels * side * side, 0.0);
    let rates = time_loop(model, device, batch_size, plan, |model| {
        let images = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch_size, channels, side, side]),
            device,
        );
        for map in model.forward(images) {
            let _outputs = map.into_data();
        }
        model
    });
    Measured { rates, params }
}

/// deepzero's LSTM (from the gate equations) with a linear head on the last hidden state.
#[derive(Module, Debug)]
struct DeepzeroLstm {
    lstm: StackedRnn,
    head: Linear,
}

/// burn-nn's `Lstm` with the same head.
#[derive(Module, Debug)]
struct BurnLstm {
    lstm: burn::nn::Lstm,
    head: Linear,
}

/// One-layer LSTM (batch 32, 64 steps, 128 → 256), linear head 256 → 10 on the final hidden
/// state, cross-entropy, Adam.
fn lstm_training(implementation: Implementation, device: &Device, plan: Plan) -> Measured {
    let [batch, steps, d_input, d_hidden] = LSTM;
    let inputs = host_data(batch * steps * d_input, 0.5);
    let labels = host_labels(batch);
    let ce: CrossEntropyLoss = CrossEntropyLossConfig::new().init(device);
    let head = || LinearConfig::new(d_hidden, CLASSES).init(device);
    let batch_of = || {
        (
            Tensor::<3>::from_data(
                TensorData::new(inputs.clone(), [batch, steps, d_input]),
                device,
            ),
            Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), device),
        )
    };
    let adam = OptimizerKind::Adam.build(0.0);
    match implementation {
        Implementation::Deepzero => {
            let model = DeepzeroLstm {
                lstm: StackedRnnConfig::new(RecurrentKind::Lstm, d_input, d_hidden).init(device),
                head: head(),
            };
            train(model, device, batch, plan, adam, 1e-3, |m| {
                let (x, y) = batch_of();
                let (_, state) = m.lstm.forward(x, None, None);
                let last = state.hidden.squeeze_dim::<2>(0); // [1, B, H] → [B, H]
                ce.forward(m.head.forward(last), y)
            })
        }
        Implementation::BurnNn => {
            let model = BurnLstm {
                lstm: burn::nn::LstmConfig::new(d_input, d_hidden, true).init(device),
                head: head(),
            };
            train(model, device, batch, plan, adam, 1e-3, |m| {
                let (x, y) = batch_of();
                let (_, state) = m.lstm.forward(x, None);
                ce.forward(m.head.forward(state.hidden), y)
            })
        }
    }
}

/// deepzero's GRU (reset after, from the gate equations) with a linear head.
#[derive(Module, Debug)]
struct DeepzeroGru {
    gru: StackedRnn,
    head: Linear,
}

/// burn-nn's `Gru` (reset after) with the same head.
#[derive(Module, Debug)]
struct BurnGru {
    gru: burn::nn::Gru,
    head: Linear,
}

/// One-layer GRU, the LSTM workload's shapes (batch 32, 64 steps, 128 → 256), linear head
/// 256 → 10 on the final hidden state, cross-entropy, Adam.
fn gru_training(implementation: Implementation, device: &Device, plan: Plan) -> Measured {
    let [batch, steps, d_input, d_hidden] = LSTM;
    let inputs = host_data(batch * steps * d_input, 0.5);
    let labels = host_labels(batch);
    let ce: CrossEntropyLoss = CrossEntropyLossConfig::new().init(device);
    let head = || LinearConfig::new(d_hidden, CLASSES).init(device);
    let batch_of = || {
        (
            Tensor::<3>::from_data(
                TensorData::new(inputs.clone(), [batch, steps, d_input]),
                device,
            ),
            Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), device),
        )
    };
    let adam = OptimizerKind::Adam.build(0.0);
    match implementation {
        Implementation::Deepzero => {
            let model = DeepzeroGru {
                gru: StackedRnnConfig::new(RecurrentKind::Gru, d_input, d_hidden).init(device),
                head: head(),
            };
            train(model, device, batch, plan, adam, 1e-3, |m| {
                let (x, y) = batch_of();
                let (_, state) = m.gru.forward(x, None, None);
                let last = state.hidden.squeeze_dim::<2>(0); // [1, B, H] → [B, H]
                ce.forward(m.head.forward(last), y)
            })
        }
        Implementation::BurnNn => {
            let model = BurnGru {
                gru: burn::nn::GruConfig::new(d_input, d_hidden, true).init(device),
                head: head(),
            };
            train(model, device, batch, plan, adam, 1e-3, |m| {
                let (x, y) = batch_of();
                let out = m.gru.forward(x, None); // [B, T, H]
                let last = out.narrow(1, steps - 1, 1).squeeze_dim::<2>(1);
                ce.forward(m.head.forward(last), y)
            })
        }
    }
}

/// One post-norm Transformer encoder layer (d_model 256, 4 heads, FFN 1024 with ReLU, dropout
/// 0; PyTorch's `TransformerEncoderLayer` defaults otherwise), batch 32 × 128 tokens, MSE of the
/// layer's output against a fixed target, Adam.
fn transformer_training(
    implementation: Implementation,
    device: &Device,
    plan: Plan,
) -> Result<Measured, String> {
    let [batch, seq, d_model, heads, d_ff] = TRANSFORMER;
    let inputs = host_data(batch * seq * d_model, 0.5);
    let targets = host_data(batch * seq * d_model, 0.25);
    let batch_of = || {
        (
            Tensor::<3>::from_data(
                TensorData::new(inputs.clone(), [batch, seq, d_model]),
                device,
            ),
            Tensor::<3>::from_data(
                TensorData::new(targets.clone(), [batch, seq, d_model]),
                device,
            ),
        )
    };
    let mse = MseLoss::new();
    let adam = OptimizerKind::Adam.build(0.0);
    Ok(match implementation {
        Implementation::Deepzero => {
            let layer: TransformerEncoderLayer = TransformerLayerConfig::new(d_model, heads, d_ff)
                .with_dropout(0.0)
                .with_norm(NormPosition::Post)
                .with_activation(FfnActivation::Relu)
                .init_encoder_layer(device)
                .map_err(|e| e.to_string())?;
            train(layer, device, batch, plan, adam, 1e-3, |layer| {
                let (x, target) = batch_of();
                mse.forward(layer.forward(x, None), target, Reduction::Mean)
            })
        }
        Implementation::BurnNn => {
            let encoder =
                burn::nn::transformer::TransformerEncoderConfig::new(d_model, d_ff, heads, 1)
                    .with_dropout(0.0)
                    .with_norm_first(false)
                    .with_activation(burn::nn::activation::ActivationConfig::Relu)
                    .init(device);
            train(encoder, device, batch, plan, adam, 1e-3, |encoder| {
                let (x, target) = batch_of();
                let y = encoder.forward(burn::nn::transformer::TransformerEncoderInput::new(x));
                mse.forward(y, target, Reduction::Mean)
            })
        }
    })
}

/// A Cora-shaped graph from closed formulas (the same in the peer): node `i`'s features are
/// columns `(131·i + 79·k) mod 1433` for `k < 18` (distinct, 1433 being prime), each `1/18`
/// (binary, row-normalised; 1.26 % dense); undirected edge `k < 5278` joins `a = k mod 2708`
/// and `b = (a + 1 + (7919·k mod 2707)) mod 2708 ≠ a`, sent both ways, then one self-loop per
/// node; node `i` has class `i mod 7`, and nodes `0..140` are labelled.
struct SyntheticCora {
    /// Feature nonzeros: row, column, value.
    features: (Vec<i64>, Vec<i64>, Vec<f32>),
    src: Vec<i64>,
    dst: Vec<i64>,
}

fn synthetic_cora() -> SyntheticCora {
    let [nodes, dim, per_row, undirected, _, _] = CORA;
    let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..nodes {
        for k in 0..per_row {
            rows.push(i as i64);
            cols.push(((131 * i + 79 * k) % dim) as i64);
            values.push(1.0 / per_row as f32);
        }
    }
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    for k in 0..undirected {
        let a = k % nodes;
        let b = (a + 1 + (7919 * k) % (nodes - 1)) % nodes;
        src.extend([a as i64, b as i64]);
        dst.extend([b as i64, a as i64]);
    }
    src.extend(0..nodes as i64);
    dst.extend(0..nodes as i64);
    SyntheticCora {
        features: (rows, cols, values),
        src,
        dst,
    }
}

/// One full-batch GAT step on [`synthetic_cora`] (`deepzero_graph::node_train`'s step): sparse
/// input, 8 heads × 8 hidden, ELU, one output head, dropout 0.6 on inputs and attention,
/// cross-entropy on the 140 labelled nodes plus 5e-4 · ½‖θ‖² (weights and attention vectors),
/// Adam lr 0.005. The graph stays on the device, as in full-batch training; one step is one
/// "graph" of throughput.
fn gat_training(device: &Device, plan: Plan) -> Measured {
    let [nodes, dim, _, _, classes, labelled] = CORA;
    let cora = synthetic_cora();
    let ints =
        |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
    let (rows, cols, values) = &cora.features;
    let x = NodeInput::Sparse(SparseMatrix {
        rows: ints(rows),
        cols: ints(cols),
        values: Tensor::from_data(TensorData::new(values.clone(), [values.len(), 1]), device),
        num_rows: nodes,
        num_cols: dim,
    });
    let e = cora.src.len();
    let edges = MessageEdges {
        src: ints(&cora.src),
        dst: ints(&cora.dst),
        weight: Tensor::ones([e, 1], device),
        num_nodes: nodes,
    };
    let train_index = ints(&(0..labelled as i64).collect::<Vec<_>>());
    let labels = ints(
        &(0..labelled as i64)
            .map(|i| i % classes as i64)
            .collect::<Vec<_>>(),
    );
    let ce: CrossEntropyLoss = CrossEntropyLossConfig::new().init(device);
    let model: Gat = GatConfig::new(dim, classes).init(device);
    // deepzero's Adam: ε = 1e-8 as PyTorch's (and `node_train`'s).
    let adam = OptimizerKind::Adam.build(0.0);
    train(model, device, 1, plan, adam, 0.005, |model| {
        let logits = model.forward(&x, &edges).select(0, train_index.clone());
        ce.forward(logits, labels.clone()) + model.l2_penalty() * 5e-4
    })
}

/// One NeuMF step (`deepzero_recsys::models::neumf`'s): GMF 16 factors + MLP 128-64-32-16
/// (ReLU) fused into one logit, 943 users × 1682 items, binary cross-entropy on logits, Adam
/// lr 0.001. Example `i` of the batch is user `7919·i mod 943`, item `104729·i mod 1682`,
/// label 1 when `i mod 5 = 0` (one positive per four negatives, as NCF samples them).
fn neumf_training(device: &Device, batch_size: usize, plan: Plan) -> Measured {
    let [users, items, factors] = NEUMF;
    let user_ids: Vec<i64> = (0..batch_size)
        .map(|i| ((7919 * i) % users) as i64)
        .collect();
    let item_ids: Vec<i64> = (0..batch_size)
        .map(|i| ((104_729 * i) % items) as i64)
        .collect();
    let labels: Vec<f32> = (0..batch_size)
        .map(|i| if i % 5 == 0 { 1.0 } else { 0.0 })
        .collect();
    let config = NeuMfConfig {
        factors,
        mlp_layers: vec![128, 64, 32, 16],
        ..NeuMfConfig::default()
    };
    let net = config.init(users, items, device);
    let ints =
        |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
    train(
        net,
        device,
        batch_size,
        plan,
        OptimizerKind::Adam.build(0.0),
        1e-3,
        |net| {
            let y = Tensor::<1>::from_data(TensorData::new(labels.clone(), [batch_size]), device);
            bce_with_logits(net.forward(ints(&user_ids), ints(&item_ids)), y)
        },
    )
}
