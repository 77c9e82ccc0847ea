//! The serialisable description of a graph task: what becomes `run.json`.

use serde::{Deserialize, Serialize};

use crate::data::DatasetName;
use crate::error::{GraphError, Result};
use crate::node_train::NodeTrainConfig;
use crate::sage::SageTrainConfig;
use crate::skipgram::{SkipGramConfig, SkipGramOptimizer};
use crate::walk::WalkConfig;

/// Version of [`GraphTaskSpec`] and of the run folder's layout. A run folder written with
/// another version is refused with a one-line error naming both.
pub const SPEC_VERSION: u32 = 1;

/// The recipes [`GraphTaskSpec::recipe`] knows.
pub const RECIPES: [&str; 10] = [
    "cora-gcn",
    "cora-gat",
    "cora-sage",
    "citeseer-gcn",
    "citeseer-gat",
    "cora-deepwalk",
    "cora-node2vec",
    "karate-node2vec",
    "karate-gcn",
    "polblogs-node2vec",
];

/// One line about a recipe of [`RECIPES`] (for a command line's list), `None` for others.
pub fn recipe_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "cora-gcn" => "GCN (Kipf & Welling) on Planetoid Cora, split 140/500/1000",
        "cora-gat" => "GAT (8 heads x 8) on Planetoid Cora, split 140/500/1000",
        "cora-sage" => {
            "GraphSAGE-mean, sampled mini-batches (fan-outs 25, 10), on Planetoid Cora 140/500/1000"
        }
        "citeseer-gcn" => "GCN on Planetoid CiteSeer, split 120/500/1000",
        "citeseer-gat" => "GAT on Planetoid CiteSeer, split 120/500/1000",
        "cora-deepwalk" => {
            "DeepWalk embeddings of Cora + logistic regression on the standard split"
        }
        "cora-node2vec" => "node2vec (p = 1, q = 0.5) embeddings of Cora + logistic regression",
        "karate-node2vec" => {
            "node2vec on Zachary's karate club: the two clubs, link-prediction AUC"
        }
        "karate-gcn" => "GCN on Zachary's karate club (one-hot ids, stratified 20/20/60 split)",
        "polblogs-node2vec" => "node2vec on political blogs: the two leanings, link-prediction AUC",
        _ => return None,
    })
}

/// The recipes as a front end lists them (seed chapter 1.3.4), each spec being the recipe's
/// name ([`GraphTaskSpec::recipe`]). Their training settings are their own, so the
/// [`FitConfig`](deepzero_train::FitConfig) of each is empty (no epochs, no batches).
pub fn recipes() -> Vec<deepzero_train::Recipe<&'static str>> {
    deepzero_train::Recipe::with_own_settings(&RECIPES, "1.3.4", |name| {
        recipe_description(name).unwrap_or("graph recipe")
    })
}

/// GCN architecture (the input width and class count come from the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GcnSpec {
    /// Hidden units (16).
    pub d_hidden: usize,
    /// Dropout (0.5).
    pub dropout: f64,
    /// Layer biases (tkipf/gcn: no).
    pub bias: bool,
}

/// GAT architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatSpec {
    /// Features per hidden head (8).
    pub d_hidden: usize,
    /// Hidden heads (8).
    pub n_heads: usize,
    /// Output heads, averaged (1 on Cora and CiteSeer).
    pub n_output_heads: usize,
    /// Input dropout of both layers (0.6).
    pub dropout: f64,
    /// Attention dropout (0.6).
    pub attention_dropout: f64,
}

/// GraphSAGE-mean architecture (the number of layers is the number of fan-outs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SageSpec {
    /// Hidden units (64).
    pub d_hidden: usize,
    /// Dropout on each layer's input (0.5).
    pub dropout: f64,
    /// L2-normalise hidden rows (no).
    pub normalize: bool,
}

/// How embeddings are judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingEval {
    /// Fraction of each class used to train the logistic regression when the dataset has no
    /// published split (karate, polblogs); the rest is the test set.
    pub train_fraction: f64,
    /// Fraction of the edges held out for link prediction (a second embedding is trained on
    /// the remaining graph); `None` skips link prediction.
    pub link_fraction: Option<f64>,
}

/// The method of a task and its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Method {
    /// Kipf & Welling's GCN, semi-supervised node classification.
    Gcn {
        /// Architecture.
        model: GcnSpec,
        /// Training.
        train: NodeTrainConfig,
    },
    /// Veličković et al.'s GAT, semi-supervised node classification.
    Gat {
        /// Architecture.
        model: GatSpec,
        /// Training.
        train: NodeTrainConfig,
    },
    /// Hamilton et al.'s GraphSAGE-mean trained on sampled mini-batches.
    Sage {
        /// Architecture.
        model: SageSpec,
        /// Training (its `seed` is replaced by the task's).
        train: SageTrainConfig,
    },
    /// DeepWalk (`p = q = 1`) or node2vec: walks, then skip-gram, then evaluation.
    Embedding {
        /// The walks.
        walks: WalkConfig,
        /// Skip-gram.
        skipgram: SkipGramConfig,
        /// Evaluation.
        eval: EmbeddingEval,
    },
}

/// A whole graph task: which data, which method, which seed. Serialised as `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphTaskSpec {
    /// [`SPEC_VERSION`] when written.
    pub version: u32,
    /// What the run is called (a recipe name such as `cora-gcn`).
    pub name: String,
    /// The dataset.
    pub dataset: DatasetName,
    /// Seed of the weights, dropout, walks, skip-gram and splits (it overrides the `seed`
    /// fields of the walk and skip-gram settings).
    pub seed: u64,
    /// Method and hyper-parameters.
    pub method: Method,
}

impl GraphTaskSpec {
    /// GCN with the paper's hyper-parameters on `dataset`.
    pub fn gcn(dataset: DatasetName) -> Self {
        Self::new(
            format!("{dataset}-gcn"),
            dataset,
            Method::Gcn {
                model: GcnSpec {
                    d_hidden: 16,
                    dropout: 0.5,
                    bias: false,
                },
                train: NodeTrainConfig::gcn(),
            },
        )
    }

    /// GAT with the paper's Cora/CiteSeer hyper-parameters on `dataset`.
    pub fn gat(dataset: DatasetName) -> Self {
        Self::new(
            format!("{dataset}-gat"),
            dataset,
            Method::Gat {
                model: GatSpec {
                    d_hidden: 8,
                    n_heads: 8,
                    n_output_heads: 1,
                    dropout: 0.6,
                    attention_dropout: 0.6,
                },
                train: NodeTrainConfig::gat(),
            },
        )
    }

    /// GraphSAGE-mean (2 layers, 64 hidden, dropout 0.5) with fan-outs 25, 10, batches of 32,
    /// Adam lr 0.01, `λ = 5e-4`, 50 epochs, on `dataset`.
    pub fn sage(dataset: DatasetName) -> Self {
        Self::new(
            format!("{dataset}-sage"),
            dataset,
            Method::Sage {
                model: SageSpec {
                    d_hidden: 64,
                    dropout: 0.5,
                    normalize: false,
                },
                train: SageTrainConfig::default(),
            },
        )
    }

    /// DeepWalk (Perozzi et al.: 80 walks of 40 nodes per node, window 10, d = 128; here 10
    /// walks of 80, node2vec's setting, which gives as many pairs in an eighth of the walks).
    pub fn deepwalk(dataset: DatasetName) -> Self {
        let mut spec = Self::node2vec(dataset, 1.0, 1.0);
        spec.name = format!("{dataset}-deepwalk");
        spec
    }

    /// node2vec with return parameter `p` and in–out parameter `q` (Grover & Leskovec: 10
    /// walks of 80 per node, window 10, d = 128).
    pub fn node2vec(dataset: DatasetName, p: f64, q: f64) -> Self {
        Self::new(
            format!("{dataset}-node2vec"),
            dataset,
            Method::Embedding {
                walks: WalkConfig {
                    walk_length: 80,
                    walks_per_node: 10,
                    p,
                    q,
                    seed: 0,
                },
                skipgram: SkipGramConfig::default(),
                eval: EmbeddingEval {
                    train_fraction: 0.5,
                    link_fraction: Some(0.1),
                },
            },
        )
    }

    fn new(name: String, dataset: DatasetName, method: Method) -> Self {
        Self {
            version: SPEC_VERSION,
            name,
            dataset,
            seed: 0,
            method,
        }
    }

    /// The spec of a named recipe (see [`RECIPES`]).
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for an unknown name, listing the known ones.
    pub fn recipe(name: &str) -> Result<Self> {
        use DatasetName::*;
        let mut spec = match name {
            "cora-gcn" => Self::gcn(Cora),
            "citeseer-gcn" => Self::gcn(Citeseer),
            "karate-gcn" => Self::gcn(Karate),
            "cora-gat" => Self::gat(Cora),
            "cora-sage" => Self::sage(Cora),
            "citeseer-gat" => Self::gat(Citeseer),
            "cora-deepwalk" => {
                // Link prediction would train a second embedding; Cora's figure is the F1.
                let mut s = Self::deepwalk(Cora);
                if let Method::Embedding { eval, .. } = &mut s.method {
                    eval.link_fraction = None;
                }
                s
            }
            // q < 1 pushes walks outward (DFS-like), which node2vec's paper found to capture
            // homophily, i.e. communities (Les Misérables with p = 1, q = 0.5).
            "cora-node2vec" => Self::node2vec(Cora, 1.0, 0.5),
            "karate-node2vec" => {
                // 34 nodes: a batch of 1 024 pairs holds each node dozens of times, and SGD's
                // summed step diverges (loss = inf); Adam on the batch mean is stable here.
                let mut s = Self::node2vec(Karate, 1.0, 0.5);
                if let Method::Embedding { skipgram, .. } = &mut s.method {
                    skipgram.optimizer = SkipGramOptimizer::Adam;
                    skipgram.learning_rate = 0.01;
                }
                s
            }
            "polblogs-node2vec" => Self::node2vec(Polblogs, 1.0, 0.5),
            other => {
                return Err(GraphError::invalid(format!(
                    "unknown graph recipe {other:?} (known: {})",
                    RECIPES.join(", ")
                )));
            }
        };
        spec.name = name.to_string();
        Ok(spec)
    }

    /// The same spec with another seed (weights, dropout, walks, skip-gram, splits).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same spec with another number of epochs (GCN/GAT: the maximum number of
    /// optimiser steps; embeddings: passes of skip-gram over all pairs).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        match &mut self.method {
            Method::Gcn { train, .. } | Method::Gat { train, .. } => train.epochs = epochs,
            Method::Sage { train, .. } => train.epochs = epochs,
            Method::Embedding { skipgram, .. } => skipgram.epochs = epochs,
        }
        self
    }

    /// Short name of the method (`gcn`, `gat`, `sage`, `deepwalk`, `node2vec`).
    pub fn method_name(&self) -> &'static str {
        match &self.method {
            Method::Gcn { .. } => "gcn",
            Method::Gat { .. } => "gat",
            Method::Sage { .. } => "sage",
            Method::Embedding { walks, .. } if walks.p == 1.0 && walks.q == 1.0 => "deepwalk",
            Method::Embedding { .. } => "node2vec",
        }
    }

    /// Checks the spec's version and settings.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for another version, zero epochs, or bad walk/skip-gram settings.
    pub fn check(&self) -> Result<()> {
        if self.version != SPEC_VERSION {
            return Err(GraphError::invalid(format!(
                "task spec version {} is not supported (this build reads version {SPEC_VERSION})",
                self.version
            )));
        }
        match &self.method {
            Method::Gcn { train, .. } | Method::Gat { train, .. } => {
                if train.epochs == 0 {
                    return Err(GraphError::invalid("epochs must be at least 1, got 0"));
                }
            }
            Method::Sage { train, .. } => {
                if train.epochs == 0 || train.batch_size == 0 || train.eval_batch_size == 0 {
                    return Err(GraphError::invalid(
                        "epochs, batch size and evaluation batch size must be at least 1",
                    ));
                }
                if train.fanouts.is_empty() || train.fanouts.contains(&0) {
                    return Err(GraphError::invalid(format!(
                        "fan-outs must be one positive number per layer, got {:?}",
                        train.fanouts
                    )));
                }
            }
            Method::Embedding {
                walks,
                skipgram,
                eval,
            } => {
                walks.check()?;
                skipgram.check()?;
                if !(eval.train_fraction > 0.0 && eval.train_fraction < 1.0) {
                    return Err(GraphError::invalid(format!(
                        "train fraction must lie in (0, 1), got {}",
                        eval.train_fraction
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_builds_checks_and_round_trips() {
        for name in RECIPES {
            let spec = GraphTaskSpec::recipe(name)
                .unwrap()
                .with_seed(3)
                .with_epochs(5);
            spec.check().unwrap();
            assert_eq!(spec.name, name);
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<GraphTaskSpec>(&json).unwrap(), spec);
        }
        let err = GraphTaskSpec::recipe("cora-mlp").unwrap_err().to_string();
        assert!(err.contains("cora-gcn"), "{err}");
        assert_eq!(
            GraphTaskSpec::recipe("cora-deepwalk")
                .unwrap()
                .method_name(),
            "deepwalk"
        );
    }

    #[test]
    fn bad_settings_and_versions_are_refused() {
        let mut spec = GraphTaskSpec::gcn(DatasetName::Cora).with_epochs(0);
        assert!(spec.check().unwrap_err().to_string().contains("epochs"));
        spec = GraphTaskSpec::gcn(DatasetName::Cora);
        spec.version = 99;
        assert!(spec.check().unwrap_err().to_string().contains("version 99"));
        let mut spec = GraphTaskSpec::deepwalk(DatasetName::Karate);
        if let Method::Embedding { walks, .. } = &mut spec.method {
            walks.walk_length = 0;
        }
        assert!(
            spec.check()
                .unwrap_err()
                .to_string()
                .contains("walk length")
        );
        let mut spec = GraphTaskSpec::deepwalk(DatasetName::Karate);
        if let Method::Embedding { skipgram, .. } = &mut spec.method {
            skipgram.window = 0;
        }
        assert!(spec.check().unwrap_err().to_string().contains("window"));
    }
}
