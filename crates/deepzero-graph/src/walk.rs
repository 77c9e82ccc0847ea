//! Random walks: DeepWalk's uniform walks (Perozzi et al., KDD 2014) and node2vec's
//! second-order biased walks (Grover & Leskovec, KDD 2016), with Walker's alias method for
//! O(1) draws from the biased distributions.
//!
//! node2vec walks from `t` to `v` and then picks `v`'s neighbour `x` with weight
//!
//! ```text
//! 1/p  if x = t          (return to where we came from)
//! 1    if x ~ t          (stay at distance 1 from t: breadth-first-like)
//! 1/q  otherwise         (move away from t: depth-first-like)
//! ```
//!
//! so `p` and `q` are the *return* and *in–out* parameters; `p = q = 1` is DeepWalk. (There
//! is no "restart probability" and no step length to tune, whatever the seed chapter says:
//! see docs/errata.md.) The first step of every walk is uniform. A walk from an isolated node
//! is that node alone.
//!
//! Walks are seeded and parallel: walk `r` from node `v` draws from its own generator seeded by
//! `(seed, r, v)`, so the result does not depend on the number of threads. Each round visits the
//! nodes in a freshly shuffled order, as DeepWalk does.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Graph;
use crate::error::{GraphError, Result};

/// How to walk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkConfig {
    /// Nodes per walk, the start included (DeepWalk: 40, node2vec: 80).
    pub walk_length: usize,
    /// Walks started from every node (DeepWalk: 80, node2vec: 10).
    pub walks_per_node: usize,
    /// node2vec's return parameter `p` (1 with `q = 1` gives DeepWalk).
    pub p: f64,
    /// node2vec's in–out parameter `q`.
    pub q: f64,
    /// Seed of the walks.
    pub seed: u64,
}

impl WalkConfig {
    /// Uniform walks (DeepWalk).
    pub fn deepwalk(walk_length: usize, walks_per_node: usize, seed: u64) -> Self {
        Self {
            walk_length,
            walks_per_node,
            p: 1.0,
            q: 1.0,
            seed,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for a walk length or walk count of 0, or `p`, `q` not positive
    /// and finite.
    pub fn check(&self) -> Result<()> {
        if self.walk_length == 0 {
            return Err(GraphError::invalid("walk length must be at least 1, got 0"));
        }
        if self.walks_per_node == 0 {
            return Err(GraphError::invalid(
                "walks per node must be at least 1, got 0",
            ));
        }
        for (name, v) in [("p", self.p), ("q", self.q)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(GraphError::invalid(format!(
                    "node2vec's {name} must be positive, got {v}"
                )));
            }
        }
        Ok(())
    }

    fn is_uniform(&self) -> bool {
        self.p == 1.0 && self.q == 1.0
    }
}

/// Walker's alias table: draws index `i` with probability `w_i / Σ w` in O(1).
#[derive(Clone, Debug, PartialEq)]
pub struct AliasTable {
    prob: Vec<f32>,
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds the table for non-negative weights (Vose's method). All-zero or empty weights
    /// give a table that draws uniformly.
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        if n == 0 || total <= 0.0 {
            return Self {
                prob: vec![1.0; n],
                alias: (0..n as u32).collect(),
            };
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut prob = vec![1.0f32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = scaled[s] as f32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What remains is 1 up to rounding.
        for i in small.into_iter().chain(large) {
            prob[i] = 1.0;
        }
        Self { prob, alias }
    }

    /// Draws an index.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let i = rng.random_range(0..self.prob.len());
        if rng.random::<f32>() < self.prob[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.prob.len()
    }

    /// True when there is no outcome.
    pub fn is_empty(&self) -> bool {
        self.prob.is_empty()
    }
}

/// node2vec's alias tables, one per directed edge `t → v`, over `v`'s neighbours.
struct SecondOrder {
    /// One table per directed edge `t → v`, in CSR order (`row_start[t] + ` position of `v`).
    tables: Vec<AliasTable>,
    /// CSR row offsets of the graph (directed edge `k` of node `t` is `row_start[t] + j`).
    row_start: Vec<usize>,
}

impl SecondOrder {
    fn new(graph: &Graph, p: f64, q: f64) -> Self {
        let n = graph.num_nodes();
        let mut row_start = Vec::with_capacity(n + 1);
        row_start.push(0);
        for t in 0..n {
            row_start.push(row_start[t] + graph.degree(t));
        }
        let tables = (0..n)
            .into_par_iter()
            .flat_map_iter(|t| {
                graph.neighbors(t).iter().map(move |&v| {
                    let weights: Vec<f64> = graph
                        .neighbors(v as usize)
                        .iter()
                        .map(|&x| {
                            if x as usize == t {
                                1.0 / p
                            } else if graph.has_edge(x as usize, t) {
                                1.0
                            } else {
                                1.0 / q
                            }
                        })
                        .collect();
                    AliasTable::new(&weights)
                })
            })
            .collect();
        Self { tables, row_start }
    }

    /// The table for the step after `t → v`.
    fn table(&self, graph: &Graph, t: usize, v: usize) -> &AliasTable {
        let j = graph.neighbors(t).binary_search(&(v as u32)).unwrap_or(0);
        &self.tables[self.row_start[t] + j]
    }
}

/// Mixes `(seed, round, node)` into one 64-bit seed (SplitMix64 finaliser).
fn mix(seed: u64, round: u64, node: u64) -> u64 {
    let mut z = seed
        .wrapping_add(round.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(node.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// All walks: `walks_per_node` rounds, each starting once from every node (in a shuffled
/// order), `walk_length` nodes each (shorter only from isolated nodes).
///
/// # Errors
/// As [`WalkConfig::check`].
pub fn random_walks(graph: &Graph, cfg: &WalkConfig) -> Result<Vec<Vec<u32>>> {
    cfg.check()?;
    let n = graph.num_nodes();
    let second = (!cfg.is_uniform()).then(|| SecondOrder::new(graph, cfg.p, cfg.q));
    let mut walks = Vec::with_capacity(n * cfg.walks_per_node);
    for round in 0..cfg.walks_per_node {
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix(
            cfg.seed,
            round as u64,
            u64::MAX,
        )));
        let batch: Vec<Vec<u32>> = order
            .par_iter()
            .map(|&start| {
                let mut rng = StdRng::seed_from_u64(mix(cfg.seed, round as u64, start as u64));
                walk_from(graph, second.as_ref(), start, cfg.walk_length, &mut rng)
            })
            .collect();
        walks.extend(batch);
    }
    Ok(walks)
}

fn walk_from(
    graph: &Graph,
    second: Option<&SecondOrder>,
    start: u32,
    length: usize,
    rng: &mut StdRng,
) -> Vec<u32> {
    let mut walk = Vec::with_capacity(length);
    walk.push(start);
    while walk.len() < length {
        let v = *walk.last().unwrap_or(&start) as usize;
        let neighbors = graph.neighbors(v);
        if neighbors.is_empty() {
            break;
        }
        let next = match (second, walk.len()) {
            (Some(s), len) if len >= 2 => {
                let t = walk[len - 2] as usize;
                neighbors[s.table(graph, t, v).sample(rng)]
            }
            _ => neighbors[rng.random_range(0..neighbors.len())],
        };
        walk.push(next);
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_matches_its_weights() {
        let table = AliasTable::new(&[1.0, 2.0, 0.0, 5.0]);
        let mut rng = StdRng::seed_from_u64(0);
        let mut counts = [0usize; 4];
        for _ in 0..80_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[2], 0);
        for (c, w) in counts.iter().zip([1.0, 2.0, 0.0, 5.0]) {
            assert!((*c as f64 / 80_000.0 - w / 8.0).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn walks_follow_edges_and_are_seeded() {
        let g = Graph::from_edges(6, &[(0, 1), (1, 2), (2, 3), (3, 0), (1, 3)]).unwrap(); // 4, 5 isolated
        let cfg = WalkConfig::deepwalk(7, 3, 11);
        let a = random_walks(&g, &cfg).unwrap();
        assert_eq!(a, random_walks(&g, &cfg).unwrap());
        assert_ne!(
            a,
            random_walks(
                &g,
                &WalkConfig {
                    seed: 12,
                    ..cfg.clone()
                }
            )
            .unwrap()
        );
        assert_eq!(a.len(), 18);
        for w in &a {
            if g.degree(w[0] as usize) == 0 {
                assert_eq!(w.len(), 1);
            } else {
                assert_eq!(w.len(), 7);
                assert!(
                    w.windows(2)
                        .all(|p| g.has_edge(p[0] as usize, p[1] as usize))
                );
            }
        }
    }

    #[test]
    fn low_p_returns_and_low_q_explores() {
        // A path 0-1-2-…-9: after a step away from the start, return (p) or go on (q).
        let edges: Vec<(usize, usize)> = (0..9).map(|i| (i, i + 1)).collect();
        let g = Graph::from_edges(10, &edges).unwrap();
        let returns = |p: f64, q: f64| {
            let cfg = WalkConfig {
                walk_length: 20,
                walks_per_node: 20,
                p,
                q,
                seed: 1,
            };
            let walks = random_walks(&g, &cfg).unwrap();
            let (mut back, mut total) = (0usize, 0usize);
            for w in walks {
                for t in w.windows(3) {
                    if g.degree(t[1] as usize) == 2 {
                        total += 1;
                        back += usize::from(t[0] == t[2]);
                    }
                }
            }
            back as f64 / total as f64
        };
        // Uniform: half the steps from a middle node go back.
        assert!((returns(1.0, 1.0) - 0.5).abs() < 0.05);
        // p = 0.25, q = 4: weights 4 vs 1/4, so back ≈ 16/17.
        assert!(returns(0.25, 4.0) > 0.9);
        assert!(returns(4.0, 0.25) < 0.1);
    }

    #[test]
    fn zero_length_or_count_is_an_error() {
        let g = Graph::from_edges(2, &[(0, 1)]).unwrap();
        let err = random_walks(&g, &WalkConfig::deepwalk(0, 1, 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("walk length"), "{err}");
        assert!(random_walks(&g, &WalkConfig::deepwalk(3, 0, 0)).is_err());
        let bad = WalkConfig {
            p: 0.0,
            ..WalkConfig::deepwalk(3, 1, 0)
        };
        assert!(
            random_walks(&g, &bad)
                .unwrap_err()
                .to_string()
                .contains("p must be positive")
        );
    }
}
