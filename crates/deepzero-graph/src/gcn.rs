//! Graph convolutional network: Kipf & Welling, *Semi-Supervised Classification with Graph
//! Convolutional Networks*, ICLR 2017 (reference code: tkipf/gcn).
//!
//! One layer is `H' = Â H W (+ b)` with the renormalised adjacency
//! `Â = D̃^{-1/2}(A + I)D̃^{-1/2}` ([`crate::data::Graph::gcn_normalized`]), computed as a
//! sparse product over the edge list ([`crate::sparse::propagate`]), never as a dense `N × N`
//! matrix. `H W` is formed first: it shrinks the features (1 433 → 16 on Cora) before they
//! travel along the edges.
//!
//! The paper's model: dropout → GCN(16) → ReLU → dropout → GCN(classes) → softmax, dropout 0.5,
//! Glorot-initialised weights and no bias (tkipf/gcn's default), L2 weight decay `5e-4` on the
//! first layer only (added to the loss as `λ/2 ‖W₁‖²`, see [`Gcn::l2_penalty`]), Adam with
//! learning rate 0.01, 200 epochs.

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::sparse::{MessageEdges, NodeInput, propagate};

/// Configuration of one [`GcnLayer`].
#[derive(Config, Debug)]
pub struct GcnLayerConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output features per node.
    pub d_output: usize,
    /// Add a bias after propagation (tkipf/gcn: no).
    #[config(default = false)]
    pub bias: bool,
}

impl GcnLayerConfig {
    /// Builds the layer with Glorot-uniform weights (and a zero bias), as tkipf/gcn.
    pub fn init(&self, device: &Device) -> GcnLayer {
        GcnLayer {
            linear: LinearConfig::new(self.d_input, self.d_output)
                .with_bias(self.bias)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
        }
    }
}

/// `Â X W (+ b)`.
#[derive(Module, Debug)]
pub struct GcnLayer {
    /// The weight `W` `[d_input, d_output]` and, if configured, the bias `[d_output]`
    /// (added after propagation, not by `Linear::forward`).
    pub linear: Linear,
}

impl GcnLayer {
    /// One graph convolution.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, d_output]`
    pub fn forward(&self, x: Tensor<2>, edges: &MessageEdges) -> Tensor<2> {
        self.forward_input(&NodeInput::Dense(x), edges)
    }

    /// One graph convolution of dense or sparse input.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, d_output]`
    pub fn forward_input(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        let xw = x.matmul(self.linear.weight.val()); // [N, d_output]
        let out = propagate(edges, xw); // [N, d_output]
        match &self.linear.bias {
            // The bias goes after propagation (`Â(XW) + b`), as in the paper's code.
            Some(b) => out + b.val().unsqueeze_dim(0),
            None => out,
        }
    }
}

/// Configuration of a two-layer [`Gcn`].
#[derive(Config, Debug)]
pub struct GcnConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Hidden units.
    #[config(default = 16)]
    pub d_hidden: usize,
    /// Dropout on the input features and on the hidden layer.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Biases in the layers (tkipf/gcn: no).
    #[config(default = false)]
    pub bias: bool,
}

impl GcnConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Gcn {
        Gcn {
            layer1: GcnLayerConfig::new(self.d_input, self.d_hidden)
                .with_bias(self.bias)
                .init(device),
            layer2: GcnLayerConfig::new(self.d_hidden, self.num_classes)
                .with_bias(self.bias)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// dropout → GCN → ReLU → dropout → GCN: class logits per node.
#[derive(Module, Debug)]
pub struct Gcn {
    /// Input → hidden.
    pub layer1: GcnLayer,
    /// Hidden → class logits.
    pub layer2: GcnLayer,
    /// Dropout (active only on an autodiff device in training mode).
    pub dropout: Dropout,
}

impl Gcn {
    /// Class logits for every node.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, num_classes]`
    pub fn forward(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        let h = relu(self.layer1.forward_input(&x.dropout(&self.dropout), edges)); // [N, d_hidden]
        self.layer2.forward(self.dropout.forward(h), edges) // [N, classes]
    }

    /// The hidden representation (after ReLU, without dropout): the model's node embedding.
    ///
    /// # Shapes
    /// - output: `[N, d_hidden]`
    pub fn hidden(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        relu(self.layer1.forward_input(x, edges))
    }

    /// tkipf/gcn's weight decay: `½ ‖W₁‖²` (the first layer's weights only); the trainer
    /// multiplies it by the decay rate and adds it to the loss.
    pub fn l2_penalty(&self) -> Tensor<1> {
        self.layer1.linear.weight.val().powi_scalar(2).sum() * 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Graph;
    use burn::tensor::Tolerance;

    /// The dense reference: `Â X W` with `Â` as an `N × N` matrix.
    fn dense_layer(graph: &Graph, x: &[f32], d_in: usize, w: &[f32], d_out: usize) -> Vec<f32> {
        let n = graph.num_nodes();
        let a = graph.gcn_normalized().to_dense();
        let mut ax = vec![0.0f32; n * d_in];
        for i in 0..n {
            for k in 0..n {
                for j in 0..d_in {
                    ax[i * d_in + j] += a[i * n + k] * x[k * d_in + j];
                }
            }
        }
        let mut out = vec![0.0f32; n * d_out];
        for i in 0..n {
            for k in 0..d_in {
                for j in 0..d_out {
                    out[i * d_out + j] += ax[i * d_in + k] * w[k * d_out + j];
                }
            }
        }
        out
    }

    #[test]
    fn layer_equals_the_dense_formula() {
        let device = Device::flex();
        let graph = Graph::from_edges(6, &[(0, 1), (1, 2), (2, 3), (0, 3), (4, 4)]).unwrap();
        let layer = GcnLayerConfig::new(4, 3).init(&device);
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
        let w: Vec<f32> = layer
            .linear
            .weight
            .val()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let got = layer.forward(
            Tensor::from_data(TensorData::new(x.clone(), [6, 4]), &device),
            &MessageEdges::gcn(&graph, &device),
        );
        let want = dense_layer(&graph, &x, 4, &w, 3);
        got.to_data().assert_approx_eq::<f32>(
            &TensorData::new(want, [6, 3]),
            Tolerance::rel_abs(1e-4, 1e-6),
        );
    }

    #[test]
    fn gradient_of_the_layer_matches_finite_differences() {
        use deepzero_core::gradcheck::{GradCheck, autodiff_gradient, compare, numerical_gradient};
        let device = Device::flex();
        let graph = Graph::from_edges(5, &[(0, 1), (1, 2), (2, 3), (3, 4)]).unwrap();
        device.seed(7);
        let layer = GcnLayerConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..15).map(|i| (i as f32 * 0.3).cos()).collect::<Vec<_>>(),
                [5, 3],
            ),
            &device,
        );
        let target = Tensor::<2>::from_data(
            TensorData::new((0..10).map(|i| i as f32 * 0.1).collect::<Vec<_>>(), [5, 2]),
            &device,
        );
        // A smooth loss of the layer's output, as a function of the input features.
        let loss = |layer: &GcnLayer, x: Tensor<2>| {
            let dev = x.device();
            let edges = MessageEdges::gcn(&graph, &dev);
            let t = target.clone().to_device(&dev);
            let layer = layer.clone().to_device(&dev);
            (layer.forward(x, &edges) - t).powi_scalar(2).sum()
        };
        let auto = autodiff_gradient(|x| loss(&layer, x), &x).unwrap();
        let numeric = numerical_gradient(|x| loss(&layer, x), &x, 1e-2).unwrap();
        let report = compare(&auto, &numeric, &GradCheck::default()).unwrap();
        assert!(report.passed, "{report:?}");
    }

    #[test]
    fn forward_shapes_and_eval_is_deterministic() {
        let device = Device::flex();
        let graph = Graph::from_edges(4, &[(0, 1), (2, 3)]).unwrap();
        let model = GcnConfig::new(5, 3).init(&device);
        let edges = MessageEdges::gcn(&graph, &device);
        let x = NodeInput::Dense(Tensor::<2>::ones([4, 5], &device));
        let a = model.forward(&x, &edges);
        let b = model.forward(&x, &edges);
        assert_eq!(a.dims(), [4, 3]);
        // No dropout off the autodiff device.
        a.to_data().assert_eq(&b.to_data(), true);
        assert_eq!(model.hidden(&x, &edges).dims(), [4, 16]);
    }
}
