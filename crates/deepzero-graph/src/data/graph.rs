//! An undirected graph, its compressed sparse row (CSR) adjacency and the GCN normalisation.
//!
//! # How edges are cleaned (documented behaviour, not errors)
//! Every reader hands its raw edge list to [`Graph::from_edges`], which:
//! - treats each edge as **undirected**: `(u, v)` and `(v, u)` are the same edge (polblogs is
//!   directed in its file; DeepWalk, node2vec and GCN all read it as undirected);
//! - drops **duplicate** edges (repeated lines, or both directions listed), counting them in
//!   [`EdgeStats::duplicates`];
//! - drops **self-loops** `(u, u)` from the stored edge list, counting them in
//!   [`EdgeStats::self_loops`]. The models add exactly one self-loop per node themselves
//!   ([`Graph::gcn_normalized`], [`Graph::message_edges`]), so an input self-loop would otherwise
//!   count twice (CiteSeer's 124 self-loops would weigh those nodes double);
//! - keeps **isolated nodes** (CiteSeer has 48): they have no neighbours, so a GCN or GAT
//!   layer sees only the node itself (through its self-loop) and a random walk from them stays
//!   put (a walk of one node, see [`crate::walk`]);
//! - accepts **disconnected** graphs as they are.
//!
//! An edge naming a node outside `0..num_nodes` is an error of the reader that produced it
//! (with file and line); [`Graph::from_edges`] checks it again and reports the edge.

use crate::error::{GraphError, Result};

/// What [`Graph::from_edges`] dropped while cleaning an edge list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeStats {
    /// Edges in the input, as given.
    pub input: usize,
    /// Input self-loops `(u, u)`, dropped.
    pub self_loops: usize,
    /// Repeated undirected edges, dropped.
    pub duplicates: usize,
}

/// A simple undirected graph on nodes `0..num_nodes`: no self-loops, no repeated edges.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    num_nodes: usize,
    /// Each undirected edge once, as `(u, v)` with `u < v`, sorted.
    edges: Vec<(u32, u32)>,
    /// CSR of the symmetric adjacency (both directions), neighbours sorted.
    indptr: Vec<usize>,
    indices: Vec<u32>,
    stats: EdgeStats,
}

impl Graph {
    /// Builds the graph from raw `(u, v)` pairs, cleaning them as the module docs describe.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if an edge names a node `≥ num_nodes`, or if there are more than
    /// `u32::MAX` nodes.
    pub fn from_edges(num_nodes: usize, raw: &[(usize, usize)]) -> Result<Self> {
        if num_nodes > u32::MAX as usize {
            return Err(GraphError::invalid(format!(
                "{num_nodes} nodes: at most {} are supported",
                u32::MAX
            )));
        }
        let mut stats = EdgeStats {
            input: raw.len(),
            ..EdgeStats::default()
        };
        let mut edges = Vec::with_capacity(raw.len());
        for &(u, v) in raw {
            if u >= num_nodes || v >= num_nodes {
                return Err(GraphError::invalid(format!(
                    "edge ({u}, {v}) names a node outside 0..{num_nodes}"
                )));
            }
            if u == v {
                stats.self_loops += 1;
                continue;
            }
            edges.push((u.min(v) as u32, u.max(v) as u32));
        }
        edges.sort_unstable();
        let before = edges.len();
        edges.dedup();
        stats.duplicates = before - edges.len();

        let mut degree = vec![0usize; num_nodes];
        for &(u, v) in &edges {
            degree[u as usize] += 1;
            degree[v as usize] += 1;
        }
        let mut indptr = Vec::with_capacity(num_nodes + 1);
        indptr.push(0);
        for d in &degree {
            indptr.push(indptr.last().copied().unwrap_or(0) + d);
        }
        let mut fill = indptr[..num_nodes].to_vec();
        let mut indices = vec![0u32; 2 * edges.len()];
        for &(u, v) in &edges {
            indices[fill[u as usize]] = v;
            fill[u as usize] += 1;
            indices[fill[v as usize]] = u;
            fill[v as usize] += 1;
        }
        for i in 0..num_nodes {
            indices[indptr[i]..indptr[i + 1]].sort_unstable();
        }
        Ok(Self {
            num_nodes,
            edges,
            indptr,
            indices,
            stats,
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Number of undirected edges (without self-loops).
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// Each undirected edge once, `(u, v)` with `u < v`, sorted.
    pub fn edges(&self) -> &[(u32, u32)] {
        &self.edges
    }

    /// What cleaning dropped.
    pub fn stats(&self) -> EdgeStats {
        self.stats
    }

    /// The sorted neighbours of `node`.
    ///
    /// # Panics
    /// If `node ≥ num_nodes` (a programming error, not a data error).
    pub fn neighbors(&self, node: usize) -> &[u32] {
        &self.indices[self.indptr[node]..self.indptr[node + 1]]
    }

    /// Degree of `node` (without a self-loop).
    pub fn degree(&self, node: usize) -> usize {
        self.indptr[node + 1] - self.indptr[node]
    }

    /// True when `u` and `v` are adjacent (binary search in `u`'s row).
    pub fn has_edge(&self, u: usize, v: usize) -> bool {
        u < self.num_nodes && self.neighbors(u).binary_search(&(v as u32)).is_ok()
    }

    /// Nodes without any neighbour.
    pub fn isolated_nodes(&self) -> Vec<usize> {
        (0..self.num_nodes)
            .filter(|&i| self.degree(i) == 0)
            .collect()
    }

    /// The number of connected components (union–find).
    pub fn num_components(&self) -> usize {
        let mut parent: Vec<usize> = (0..self.num_nodes).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut components = self.num_nodes;
        for &(u, v) in &self.edges {
            let (a, b) = (find(&mut parent, u as usize), find(&mut parent, v as usize));
            if a != b {
                parent[a] = b;
                components -= 1;
            }
        }
        components
    }

    /// The symmetric adjacency with one self-loop per node, as CSR (both directions).
    pub fn with_self_loops(&self) -> Csr {
        let mut indptr = Vec::with_capacity(self.num_nodes + 1);
        let mut indices = Vec::with_capacity(self.indices.len() + self.num_nodes);
        indptr.push(0);
        for i in 0..self.num_nodes {
            let row = self.neighbors(i);
            // Keep the row sorted with the self-loop in its place.
            let at = row.partition_point(|&j| (j as usize) < i);
            indices.extend_from_slice(&row[..at]);
            indices.push(i as u32);
            indices.extend_from_slice(&row[at..]);
            indptr.push(indices.len());
        }
        let values = vec![1.0; indices.len()];
        Csr {
            num_rows: self.num_nodes,
            indptr,
            indices,
            values,
        }
    }

    /// Kipf & Welling's renormalised adjacency `Â = D̃^{-1/2} (A + I) D̃^{-1/2}`, with
    /// `D̃_ii = 1 + deg(i)`, as CSR. Every node has `D̃_ii ≥ 1`, so isolated nodes need no
    /// special case: their row is the single entry `Â_ii = 1`.
    pub fn gcn_normalized(&self) -> Csr {
        let mut csr = self.with_self_loops();
        let inv_sqrt: Vec<f32> = (0..self.num_nodes)
            .map(|i| 1.0 / ((self.degree(i) + 1) as f32).sqrt())
            .collect();
        for i in 0..self.num_nodes {
            for k in csr.indptr[i]..csr.indptr[i + 1] {
                csr.values[k] = inv_sqrt[i] * inv_sqrt[csr.indices[k] as usize];
            }
        }
        csr
    }
}

/// A sparse matrix in compressed sparse row form: row `i` holds `values[k]` at column
/// `indices[k]` for `k` in `indptr[i]..indptr[i + 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    /// Number of rows (= columns, for an adjacency).
    pub num_rows: usize,
    /// Row offsets, `num_rows + 1` long.
    pub indptr: Vec<usize>,
    /// Column of each stored entry.
    pub indices: Vec<u32>,
    /// Value of each stored entry.
    pub values: Vec<f32>,
}

impl Csr {
    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The entries as three parallel lists `(rows, cols, values)` (COO form), in row order.
    pub fn to_coo(&self) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        let mut rows = Vec::with_capacity(self.nnz());
        for i in 0..self.num_rows {
            rows.extend(std::iter::repeat_n(
                i as u32,
                self.indptr[i + 1] - self.indptr[i],
            ));
        }
        (rows, self.indices.clone(), self.values.clone())
    }

    /// The matrix as a dense row-major `num_rows × num_rows` array (tests and tiny graphs only).
    pub fn to_dense(&self) -> Vec<f32> {
        let n = self.num_rows;
        let mut dense = vec![0.0; n * n];
        for i in 0..n {
            for k in self.indptr[i]..self.indptr[i + 1] {
                dense[i * n + self.indices[k] as usize] += self.values[k];
            }
        }
        dense
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_drops_duplicates_and_self_loops_and_keeps_isolated_nodes() {
        // 0-1 three times (both directions), a self-loop on 2, node 3 isolated.
        let g = Graph::from_edges(4, &[(0, 1), (1, 0), (0, 1), (2, 2), (1, 2)]).unwrap();
        assert_eq!(g.edges(), &[(0, 1), (1, 2)]);
        assert_eq!(
            g.stats(),
            EdgeStats {
                input: 5,
                self_loops: 1,
                duplicates: 2
            }
        );
        assert_eq!(g.neighbors(1), &[0, 2]);
        assert_eq!(g.isolated_nodes(), vec![3]);
        assert_eq!(g.num_components(), 2);
        assert!(g.has_edge(2, 1) && !g.has_edge(0, 2));
    }

    #[test]
    fn unknown_node_is_an_error() {
        let err = Graph::from_edges(3, &[(0, 3)]).unwrap_err().to_string();
        assert!(err.contains("(0, 3)") && err.contains("0..3"), "{err}");
    }

    #[test]
    fn gcn_normalisation_matches_the_dense_formula() {
        // Path 0-1-2 plus isolated 3: D̃ = diag(2, 3, 2, 1).
        let g = Graph::from_edges(4, &[(0, 1), (1, 2)]).unwrap();
        let a = g.gcn_normalized().to_dense();
        let d = [2.0f32, 3.0, 2.0, 1.0];
        let adj = [
            [1.0, 1.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        for i in 0..4 {
            for j in 0..4 {
                let want = adj[i][j] / (d[i] * d[j]).sqrt();
                assert!((a[i * 4 + j] - want).abs() < 1e-6, "({i},{j})");
            }
        }
        // The isolated node keeps itself with weight 1.
        assert_eq!(a[15], 1.0);
    }

    #[test]
    fn coo_lists_rows_in_order_with_self_loops() {
        let g = Graph::from_edges(3, &[(0, 2)]).unwrap();
        let (rows, cols, _) = g.with_self_loops().to_coo();
        assert_eq!(rows, vec![0, 0, 1, 2, 2]);
        assert_eq!(cols, vec![0, 2, 1, 0, 2]);
    }
}
