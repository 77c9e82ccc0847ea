//! The GAT and GCN layers against PyTorch (PyTorch Geometric's GATConv / GCNConv formulas):
//! golden values written by `python3 scripts/graph_golden.py > tests/golden/layers.json`.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Tolerance;
use deepzero_graph::data::Graph;
use deepzero_graph::gat::GatLayerConfig;
use deepzero_graph::gcn::GcnLayerConfig;
use deepzero_graph::sparse::MessageEdges;

fn matrix(v: &serde_json::Value, device: &Device) -> Tensor<2> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Tensor::from_data(TensorData::new(rows.concat(), [r, c]), device)
}

#[test]
fn gat_and_gcn_layers_match_pytorch() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/layers.json")).unwrap();
    let device = Device::flex();
    let n = golden["num_nodes"].as_u64().unwrap() as usize;
    let edges: Vec<(usize, usize)> = serde_json::from_value(golden["edges"].clone()).unwrap();
    let graph = Graph::from_edges(n, &edges).unwrap();
    let heads = golden["heads"].as_u64().unwrap() as usize;
    let d_head = golden["d_head"].as_u64().unwrap() as usize;
    let x = matrix(&golden["x"], &device);
    let w = matrix(&golden["weight"], &device);
    let tolerance = Tolerance::rel_abs(1e-4, 1e-5);

    let mut gat = GatLayerConfig::new(x.dims()[1], d_head)
        .with_n_heads(heads)
        .init(&device);
    gat.linear.weight = Param::from_tensor(w.clone());
    gat.att_src = Param::from_tensor(matrix(&golden["att_src"], &device));
    gat.att_dst = Param::from_tensor(matrix(&golden["att_dst"], &device));
    let bias: Vec<f32> = serde_json::from_value(golden["bias"].clone()).unwrap();
    gat.bias = Param::from_tensor(Tensor::from_data(
        TensorData::new(bias, [heads * d_head]),
        &device,
    ));
    let out = gat.forward(x.clone(), &MessageEdges::with_self_loops(&graph, &device));
    out.to_data()
        .assert_approx_eq::<f32>(&matrix(&golden["gat"], &device).to_data(), tolerance);

    let mut gcn = GcnLayerConfig::new(x.dims()[1], heads * d_head).init(&device);
    gcn.linear.weight = Param::from_tensor(w);
    let out = gcn.forward(x, &MessageEdges::gcn(&graph, &device));
    out.to_data()
        .assert_approx_eq::<f32>(&matrix(&golden["gcn"], &device).to_data(), tolerance);
}
