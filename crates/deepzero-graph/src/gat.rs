//! Graph attention network: Veličković et al., *Graph Attention Networks*, ICLR 2018
//! (reference code: PetarV-/GAT; layer as in PyTorch Geometric's `GATConv`).
//!
//! One head `k` of a layer computes, for each node `i` and its neighbours `j ∈ N(i) ∪ {i}`,
//!
//! ```text
//! h_j      = W_k x_j
//! e_ij     = LeakyReLU_0.2( a_kᵀ [h_i ‖ h_j] ) = LeakyReLU_0.2( a_dst·h_i + a_src·h_j )
//! α_ij     = softmax_j(e_ij)          (over i's incoming edges only)
//! h'_i     = Σ_j α_ij h_j
//! ```
//!
//! and the heads are concatenated (hidden layer, followed by ELU) or averaged (output layer).
//! Splitting `a = [a_dst ‖ a_src]` lets the scores be computed per node (`[N, H]`) and then
//! gathered per edge, so nothing is `N × N`: scores, softmax and the weighted sum all run over
//! the edge list ([`crate::sparse::edge_softmax`], [`crate::sparse::scatter_sum`]).
//!
//! The paper's Cora/CiteSeer model: dropout 0.6 → GAT(8 heads × 8, concat) → ELU → dropout 0.6
//! → GAT(1 head, classes), attention dropout 0.6 in both layers, L2 `5e-4` on all weights
//! (biases excluded), Adam with learning rate 0.005, early stopping with patience 100.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{elu, leaky_relu};

use crate::sparse::{MessageEdges, NodeInput, edge_softmax, scatter_sum};

/// Configuration of one [`GatLayer`].
#[derive(Config, Debug)]
pub struct GatLayerConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output features per head.
    pub d_head: usize,
    /// Number of attention heads.
    #[config(default = 1)]
    pub n_heads: usize,
    /// Concatenate the heads (`[N, H·F]`) or average them (`[N, F]`).
    #[config(default = true)]
    pub concat: bool,
    /// Dropout on the attention coefficients `α_ij` (GAT: 0.6).
    #[config(default = 0.6)]
    pub attention_dropout: f64,
    /// Slope of the LeakyReLU on the scores (GAT: 0.2).
    #[config(default = 0.2)]
    pub negative_slope: f64,
}

impl GatLayerConfig {
    /// Builds the layer: Glorot-uniform `W` and attention vectors, zero bias.
    pub fn init(&self, device: &Device) -> GatLayer {
        let (h, f) = (self.n_heads, self.d_head);
        let glorot = |fan_in: usize, fan_out: usize, shape: [usize; 2]| {
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            Initializer::Uniform {
                min: -bound,
                max: bound,
            }
            .init(shape, device)
        };
        let d_out = if self.concat { h * f } else { f };
        GatLayer {
            linear: LinearConfig::new(self.d_input, h * f)
                .with_bias(false)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
            // PyG initialises each [1, H, F] attention vector with Glorot on (H, F).
            att_src: glorot(h, f, [h, f]),
            att_dst: glorot(h, f, [h, f]),
            bias: Param::from_tensor(Tensor::zeros([d_out], device)),
            attention_dropout: DropoutConfig::new(self.attention_dropout).init(),
            n_heads: h,
            d_head: f,
            concat: self.concat,
            negative_slope: self.negative_slope,
        }
    }
}

/// Multi-head graph attention over the edges of [`MessageEdges::with_self_loops`].
#[derive(Module, Debug)]
pub struct GatLayer {
    /// `W` for all heads at once, `[d_input, H·F]` (no bias).
    pub linear: Linear,
    /// `a_src` per head, `[H, F]`: scores the sending node `j`.
    pub att_src: Param<Tensor<2>>,
    /// `a_dst` per head, `[H, F]`: scores the receiving node `i`.
    pub att_dst: Param<Tensor<2>>,
    /// Bias added to the output, `[H·F]` (concat) or `[F]` (mean).
    pub bias: Param<Tensor<1>>,
    /// Dropout on `α`.
    pub attention_dropout: Dropout,
    /// Number of heads `H`.
    #[module(skip)]
    pub n_heads: usize,
    /// Features per head `F`.
    #[module(skip)]
    pub d_head: usize,
    /// Concatenate (true) or average (false) the heads.
    #[module(skip)]
    pub concat: bool,
    /// LeakyReLU slope.
    #[module(skip)]
    pub negative_slope: f64,
}

impl GatLayer {
    /// Attention-weighted neighbourhood sums; also returns `α` (`[E, H]`, before dropout).
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, H·F]` (concat) or `[N, F]` (mean); attention `[E, H]`
    pub fn forward_with_attention(
        &self,
        x: &NodeInput,
        edges: &MessageEdges,
    ) -> (Tensor<2>, Tensor<2>) {
        let n = x.num_rows();
        let (h, f) = (self.n_heads, self.d_head);
        let e = edges.num_edges();
        let wx = x.matmul(self.linear.weight.val()).reshape([n, h, f]); // [N, H, F]
        // Per-node halves of a·[h_i ‖ h_j], then one gather per edge.
        let score_src = (wx.clone() * self.att_src.val().unsqueeze_dim::<3>(0)).sum_dim(2); // [N, H, 1]
        let score_dst = (wx.clone() * self.att_dst.val().unsqueeze_dim::<3>(0)).sum_dim(2); // [N, H, 1]
        let scores = score_src.reshape([n, h]).select(0, edges.src.clone())
            + score_dst.reshape([n, h]).select(0, edges.dst.clone()); // [E, H]
        let scores = leaky_relu(scores, self.negative_slope);
        let alpha = edge_softmax(scores, edges.dst.clone(), n); // [E, H]
        let dropped = self.attention_dropout.forward(alpha.clone());
        let messages = wx.select(0, edges.src.clone()) * dropped.reshape([e, h, 1]); // [E, H, F]
        let out = scatter_sum(messages.reshape([e, h * f]), edges.dst.clone(), n, h * f); // [N, H·F]
        let out = if self.concat {
            out
        } else {
            out.reshape([n, h, f]).mean_dim(1).reshape([n, f]) // [N, F]
        };
        (out + self.bias.val().unsqueeze_dim(0), alpha)
    }

    /// Attention-weighted neighbourhood sums.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`
    /// - output: `[N, H·F]` (concat) or `[N, F]` (mean)
    pub fn forward(&self, x: Tensor<2>, edges: &MessageEdges) -> Tensor<2> {
        self.forward_with_attention(&NodeInput::Dense(x), edges).0
    }
}

/// Configuration of a two-layer [`Gat`].
#[derive(Config, Debug)]
pub struct GatConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Features per hidden head.
    #[config(default = 8)]
    pub d_hidden: usize,
    /// Hidden heads (concatenated).
    #[config(default = 8)]
    pub n_heads: usize,
    /// Output heads (averaged); GAT uses 1 on Cora and CiteSeer, 8 on PubMed.
    #[config(default = 1)]
    pub n_output_heads: usize,
    /// Dropout on each layer's input.
    #[config(default = 0.6)]
    pub dropout: f64,
    /// Dropout on the attention coefficients.
    #[config(default = 0.6)]
    pub attention_dropout: f64,
}

impl GatConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Gat {
        Gat {
            layer1: GatLayerConfig::new(self.d_input, self.d_hidden)
                .with_n_heads(self.n_heads)
                .with_concat(true)
                .with_attention_dropout(self.attention_dropout)
                .init(device),
            layer2: GatLayerConfig::new(self.d_hidden * self.n_heads, self.num_classes)
                .with_n_heads(self.n_output_heads)
                .with_concat(false)
                .with_attention_dropout(self.attention_dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// dropout → GAT(heads, concat) → ELU → dropout → GAT(output heads, mean): class logits.
#[derive(Module, Debug)]
pub struct Gat {
    /// Input → hidden heads.
    pub layer1: GatLayer,
    /// Hidden → class logits.
    pub layer2: GatLayer,
    /// Input dropout of both layers.
    pub dropout: Dropout,
}

impl Gat {
    /// Class logits for every node.
    ///
    /// # Shapes
    /// - x: `[N, d_input]`; edges with self-loops
    /// - output: `[N, num_classes]`
    pub fn forward(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        let h = elu(
            self.layer1
                .forward_with_attention(&x.dropout(&self.dropout), edges)
                .0,
            1.0,
        ); // [N, H·F]
        self.layer2.forward(self.dropout.forward(h), edges) // [N, classes]
    }

    /// The hidden representation (after ELU, without dropout).
    ///
    /// # Shapes
    /// - output: `[N, H·F]`
    pub fn hidden(&self, x: &NodeInput, edges: &MessageEdges) -> Tensor<2> {
        elu(self.layer1.forward_with_attention(x, edges).0, 1.0)
    }

    /// PetarV-/GAT's weight decay: `½ Σ ‖θ‖²` over every weight and attention vector (biases
    /// excluded); the trainer multiplies it by the decay rate and adds it to the loss.
    pub fn l2_penalty(&self) -> Tensor<1> {
        let sq2 = |t: Tensor<2>| t.powi_scalar(2).sum();
        (sq2(self.layer1.linear.weight.val())
            + sq2(self.layer1.att_src.val())
            + sq2(self.layer1.att_dst.val())
            + sq2(self.layer2.linear.weight.val())
            + sq2(self.layer2.att_src.val())
            + sq2(self.layer2.att_dst.val()))
            * 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Graph;
    use burn::tensor::Tolerance;

    /// The dense reference of one head-concatenating layer: an `N × N` score matrix, masked
    /// to the edges, row-softmaxed.
    fn dense_layer(layer: &GatLayer, graph: &Graph, x: &[f32], d_in: usize) -> Vec<f32> {
        let n = graph.num_nodes();
        let (h, f) = (layer.n_heads, layer.d_head);
        let w: Vec<f32> = layer.linear.weight.val().to_data().try_to_vec().unwrap();
        let a_src: Vec<f32> = layer.att_src.val().to_data().try_to_vec().unwrap();
        let a_dst: Vec<f32> = layer.att_dst.val().to_data().try_to_vec().unwrap();
        let bias: Vec<f32> = layer.bias.val().to_data().try_to_vec().unwrap();
        let mut wx = vec![0.0f32; n * h * f];
        for i in 0..n {
            for k in 0..d_in {
                for c in 0..h * f {
                    wx[i * h * f + c] += x[i * d_in + k] * w[k * h * f + c];
                }
            }
        }
        let mut out = vec![0.0f32; n * h * f];
        for head in 0..h {
            for i in 0..n {
                let mut scores = vec![f32::NEG_INFINITY; n];
                for (j, score) in scores.iter_mut().enumerate() {
                    if i == j || graph.has_edge(i, j) {
                        let mut s = 0.0;
                        for c in 0..f {
                            s += a_dst[head * f + c] * wx[i * h * f + head * f + c]
                                + a_src[head * f + c] * wx[j * h * f + head * f + c];
                        }
                        *score = if s > 0.0 { s } else { 0.2 * s };
                    }
                }
                let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let z: f32 = scores.iter().map(|s| (s - max).exp()).sum();
                for j in 0..n {
                    let alpha = (scores[j] - max).exp() / z;
                    for c in 0..f {
                        out[i * h * f + head * f + c] += alpha * wx[j * h * f + head * f + c];
                    }
                }
            }
        }
        out.iter()
            .enumerate()
            .map(|(k, v)| v + bias[k % (h * f)])
            .collect()
    }

    #[test]
    fn layer_equals_the_dense_masked_softmax() {
        let device = Device::flex();
        let graph = Graph::from_edges(6, &[(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)]).unwrap(); // node 4, 5 isolated
        let layer = GatLayerConfig::new(4, 3).with_n_heads(2).init(&device);
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32) / 5.0 - 1.0).collect();
        let got = layer.forward(
            Tensor::from_data(TensorData::new(x.clone(), [6, 4]), &device),
            &MessageEdges::with_self_loops(&graph, &device),
        );
        let want = dense_layer(&layer, &graph, &x, 4);
        got.to_data().assert_approx_eq::<f32>(
            &TensorData::new(want, [6, 6]),
            Tolerance::rel_abs(1e-4, 1e-5),
        );
    }

    #[test]
    fn gradient_of_the_layer_matches_finite_differences() {
        use deepzero_core::gradcheck::{GradCheck, autodiff_gradient, compare, numerical_gradient};
        let device = Device::flex();
        let graph = Graph::from_edges(5, &[(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]).unwrap();
        // Seeded: with unlucky weights a LeakyReLU kink can fall within the finite-difference
        // step of some score, where the central difference is wrong by design.
        device.seed(7);
        let layer = GatLayerConfig::new(3, 2)
            .with_n_heads(2)
            .with_concat(false)
            .with_attention_dropout(0.0) // dropout would be live on the autodiff device
            .init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..15).map(|i| (i as f32 * 0.7).sin()).collect::<Vec<_>>(),
                [5, 3],
            ),
            &device,
        );
        let loss = |x: Tensor<2>| {
            let dev = x.device();
            let edges = MessageEdges::with_self_loops(&graph, &dev);
            let layer = layer.clone().to_device(&dev);
            layer.forward(x, &edges).powi_scalar(2).sum()
        };
        let auto = autodiff_gradient(loss, &x).unwrap();
        let numeric = numerical_gradient(loss, &x, 1e-2).unwrap();
        let report = compare(&auto, &numeric, &GradCheck::default()).unwrap();
        assert!(report.passed, "{report:?}");
    }

    #[test]
    fn attention_sums_to_one_and_output_heads_average() {
        let device = Device::flex();
        let graph = Graph::from_edges(4, &[(0, 1), (1, 2)]).unwrap();
        let edges = MessageEdges::with_self_loops(&graph, &device);
        let model = GatConfig::new(5, 3).init(&device);
        let x = NodeInput::Dense(Tensor::<2>::random(
            [4, 5],
            burn::tensor::Distribution::Default,
            &device,
        ));
        assert_eq!(model.forward(&x, &edges).dims(), [4, 3]);
        assert_eq!(model.hidden(&x, &edges).dims(), [4, 64]);
        let (_, alpha) = model.layer1.forward_with_attention(&x, &edges);
        let sums = scatter_sum(alpha, edges.dst.clone(), 4, 8);
        sums.to_data().assert_approx_eq::<f32>(
            &TensorData::new(vec![1.0f32; 32], [4, 8]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
    }
}
