//! # deepzero-graph: network embedding and graph neural networks, on burn
//!
//! Chapter 1.3.4 of the seed textbook (*从零开始大模型开发与微调*, "network embedding") as
//! tested Rust: DeepWalk and node2vec (random walks + skip-gram with negative sampling), and the
//! two graph neural networks the chapter's family leads to, GCN (Kipf & Welling 2017) and GAT
//! (Veličković et al. 2018), with sparse message passing over the edge list — gather
//! (`select`) and scatter-add (`select_assign`), never a dense `N × N` matrix. Where the seed's
//! description is wrong (DeepWalk does not train a graph convolutional network; node2vec has no
//! restart probability) the code follows the papers and `docs/errata.md` says so.
//!
//! | topic | module |
//! |---|---|
//! | readers (TSV, GML, Planetoid), cleaned undirected graph, CSR, `D̃^{-1/2}(A+I)D̃^{-1/2}`, splits | [`data`] |
//! | sparse propagation, edge softmax, sparse features | [`sparse`] |
//! | GCN layer and model | [`gcn`] |
//! | GAT layer and model | [`gat`] |
//! | full-batch masked training, the papers' stopping rules | [`node_train`] |
//! | GraphSAGE: neighbour sampling into blocks, mini-batch training | [`sage`] |
//! | DeepWalk / node2vec walks, alias sampling | [`walk`] |
//! | skip-gram with negative sampling | [`skipgram`] |
//! | logistic regression (Micro/Macro-F1), link-prediction AUC, PCA | [`eval`] |
//! | embedding scatter plots | [`plot`] |
//! | whole tasks: spec → run folder → predictor | [`tasks`] |
//!
//! Models take a burn `Device` and never name a backend.
//!
//! ## Quick start
//! Train node2vec on Zachary's karate club shipped in `datasets/karate/`, then load the run:
//!
//! ```no_run
//! use burn::prelude::Device;
//! use deepzero_graph::data::shipped_karate_dir;
//! use deepzero_graph::tasks::{GraphTaskSpec, Predictor, train};
//!
//! let device = Device::flex();
//! let spec = GraphTaskSpec::recipe("karate-node2vec")?.with_seed(0);
//! let report = train(&spec, &shipped_karate_dir(), "runs/karate".as_ref(), &device)?;
//! println!("{report}"); // test accuracy, F1, link-prediction AUC
//!
//! let predictor = Predictor::load("runs/karate".as_ref(), None, &device)?;
//! let labels = predictor.predict()?; // one class per node
//! predictor.write_embeddings("karate.vec".as_ref())?; // `node v_1 … v_d` lines
//! # let _ = labels;
//! # Ok::<(), deepzero_graph::GraphError>(())
//! ```
//!
//! GCN on Cora with the layers directly:
//!
//! ```no_run
//! use burn::prelude::Device;
//! use deepzero_graph::data::{DatasetName, load_dataset};
//! use deepzero_graph::gcn::GcnConfig;
//! use deepzero_graph::node_train::{EdgeKind, NodeTensors, NodeTrainConfig, train_node_classifier};
//!
//! let device = Device::flex();
//! let cora = load_dataset(DatasetName::Cora, "../shared/datasets/graphs".as_ref())?;
//! let features = cora.features_or_identity().row_normalized();
//! let split = cora.split.clone().unwrap(); // the standard 140/500/1000
//! let data = NodeTensors::new(&cora, &features, &split, EdgeKind::GcnNormalized, &device)?;
//! let model = GcnConfig::new(features.dim, cora.num_classes()).init(&device.clone().autodiff());
//! let out = train_node_classifier(model, &data, &NodeTrainConfig::gcn(), |_| {})?;
//! println!("{}", out.summary()); // test ≈ 81.6 %
//! # Ok::<(), deepzero_graph::GraphError>(())
//! ```

#![warn(missing_docs)]

pub mod data;
mod error;
pub mod eval;
pub mod gat;
pub mod gcn;
pub mod node_train;
pub mod plot;
pub mod sage;
pub mod skipgram;
pub mod sparse;
pub mod tasks;
pub mod walk;

pub use error::{GraphError, Result};
