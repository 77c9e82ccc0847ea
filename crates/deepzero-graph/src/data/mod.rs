//! Graph data: readers for the staged formats, the cleaned undirected [`Graph`] with its CSR
//! adjacency and GCN normalisation, node features, labels and splits.
//!
//! | format | reader |
//! |---|---|
//! | TSV edge list `source<TAB>target[<TAB>weight]` | [`read_edge_list`] |
//! | TSV node table `id<TAB>label<TAB>value` | [`read_node_table`] |
//! | GML (Newman style) | [`read_gml`] |
//! | Planetoid text conversion (Cora, CiteSeer) with the standard split | [`read_planetoid`] |
//! | the raw Planetoid pickles (`ind.cora.x`, …), same result | [`read_planetoid_raw`] |
//! | the small labelled graphs (karate, polblogs, football, …) | [`read_labelled`] |
//! | any of these by name | [`load_dataset`] with a [`DatasetName`] |

mod dataset;
mod graph;
mod pickle;
mod read;

pub use dataset::{
    DatasetName, Features, NodeDataset, Split, load_dataset, read_labelled, read_planetoid,
    shipped_karate_dir,
};
pub use graph::{Csr, EdgeStats, Graph};
pub use pickle::read_planetoid_raw;
pub use read::{GmlGraph, read_edge_list, read_gml, read_node_table};
