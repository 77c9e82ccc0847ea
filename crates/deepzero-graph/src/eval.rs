//! Evaluating node embeddings: node classification by logistic regression (Micro/Macro-F1),
//! link prediction on held-out edges (AUC), and a 2-D PCA projection.
//!
//! These run on the host in `f64`: the problems are tiny (a few thousand vectors of width
//! 128) and exact, deterministic numbers matter more here than a device.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use deepzero_core::metrics::ConfusionMatrix;

use crate::data::{Graph, Split};
use crate::error::{GraphError, Result};
use crate::skipgram::Embeddings;

/// A multinomial logistic regression `softmax(W x + b)` on standardised features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Per-feature mean of the training rows.
    pub mean: Vec<f64>,
    /// Per-feature standard deviation of the training rows (1 where it is 0).
    pub scale: Vec<f64>,
    /// Weights, row-major `[classes, dim]`.
    pub weights: Vec<f64>,
    /// Biases `[classes]`.
    pub bias: Vec<f64>,
}

impl LogisticRegression {
    /// Fits on `rows` (each `dim` wide) with labels in `0..classes`, minimising the mean
    /// cross-entropy plus `l2/2 · ‖W‖²` by full-batch Adam (500 steps, rate 0.05).
    /// scikit-learn's default `C = 1` corresponds to `l2 = 1 / n`.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] when there are no rows, rows and labels differ in number, or a
    /// label is `≥ classes`.
    pub fn fit(rows: &[&[f32]], labels: &[usize], classes: usize, l2: f64) -> Result<Self> {
        let n = rows.len();
        if n == 0 || n != labels.len() {
            return Err(GraphError::invalid(format!(
                "logistic regression needs matching rows and labels, got {n} and {}",
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l >= classes) {
            return Err(GraphError::invalid(format!(
                "label {bad} is not one of 0..{classes}"
            )));
        }
        let dim = rows[0].len();
        let mut mean = vec![0.0; dim];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(*r) {
                *m += f64::from(*v) / n as f64;
            }
        }
        let mut scale = vec![0.0; dim];
        for r in rows {
            for ((s, v), m) in scale.iter_mut().zip(*r).zip(&mean) {
                *s += (f64::from(*v) - m).powi(2) / n as f64;
            }
        }
        scale
            .iter_mut()
            .for_each(|s| *s = if *s > 1e-12 { s.sqrt() } else { 1.0 });
        let mut model = Self {
            mean,
            scale,
            weights: vec![0.0; classes * dim],
            bias: vec![0.0; classes],
        };
        let x: Vec<Vec<f64>> = rows.iter().map(|r| model.standardize(r)).collect();
        let params = classes * dim + classes;
        let (mut m1, mut m2) = (vec![0.0; params], vec![0.0; params]);
        let (lr, b1, b2) = (0.05, 0.9, 0.999);
        for step in 1..=500 {
            let mut grad = vec![0.0; params];
            for (xi, &yi) in x.iter().zip(labels) {
                let p = model.probabilities_std(xi);
                for c in 0..classes {
                    let g = (p[c] - f64::from(u8::from(c == yi))) / n as f64;
                    for (j, xv) in xi.iter().enumerate() {
                        grad[c * dim + j] += g * xv;
                    }
                    grad[classes * dim + c] += g;
                }
            }
            for (g, w) in grad.iter_mut().zip(&model.weights) {
                *g += l2 * w;
            }
            for k in 0..params {
                m1[k] = b1 * m1[k] + (1.0 - b1) * grad[k];
                m2[k] = b2 * m2[k] + (1.0 - b2) * grad[k] * grad[k];
                let update = lr * (m1[k] / (1.0 - b1.powi(step)))
                    / ((m2[k] / (1.0 - b2.powi(step))).sqrt() + 1e-8);
                if k < classes * dim {
                    model.weights[k] -= update;
                } else {
                    model.bias[k - classes * dim] -= update;
                }
            }
        }
        Ok(model)
    }

    fn standardize(&self, row: &[f32]) -> Vec<f64> {
        row.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (f64::from(*v) - m) / s)
            .collect()
    }

    fn probabilities_std(&self, x: &[f64]) -> Vec<f64> {
        let classes = self.bias.len();
        let dim = self.mean.len();
        let logits: Vec<f64> = (0..classes)
            .map(|c| {
                self.bias[c]
                    + self.weights[c * dim..(c + 1) * dim]
                        .iter()
                        .zip(x)
                        .map(|(w, v)| w * v)
                        .sum::<f64>()
            })
            .collect();
        let max = logits.iter().cloned().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let z: f64 = exp.iter().sum();
        exp.into_iter().map(|e| e / z).collect()
    }

    /// Class probabilities of one row.
    pub fn probabilities(&self, row: &[f32]) -> Vec<f64> {
        self.probabilities_std(&self.standardize(row))
    }

    /// The most probable class of one row.
    pub fn predict(&self, row: &[f32]) -> usize {
        let p = self.probabilities(row);
        (0..p.len()).fold(0, |best, c| if p[c] > p[best] { c } else { best })
    }
}

/// Node-classification scores.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationScores {
    /// Accuracy (equals Micro-F1 for single-label classification).
    pub accuracy: f64,
    /// Micro-averaged F1.
    pub micro_f1: f64,
    /// Macro-averaged F1 (mean over classes).
    pub macro_f1: f64,
    /// Test nodes scored.
    pub support: usize,
}

impl std::fmt::Display for ClassificationScores {
    /// `test accuracy A% (macro-F1 F) on N nodes`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "test accuracy {:.2}% (macro-F1 {:.4}) on {} nodes",
            self.accuracy * 100.0,
            self.macro_f1,
            self.support
        )
    }
}

/// Trains logistic regression on the embeddings of `split.train` and scores it on
/// `split.test` (the DeepWalk/node2vec protocol; `C = 1`).
///
/// # Errors
/// [`GraphError::Invalid`] if the split has no training or test node, names a node without
/// a label or outside the embeddings.
pub fn classify_embeddings(
    embeddings: &Embeddings,
    labels: &[Option<usize>],
    classes: usize,
    split: &Split,
) -> Result<ClassificationScores> {
    if labels.len() != embeddings.num_nodes {
        return Err(GraphError::invalid(format!(
            "{} labels for {} embeddings",
            labels.len(),
            embeddings.num_nodes
        )));
    }
    split.check(labels)?;
    if split.train.is_empty() || split.test.is_empty() {
        return Err(GraphError::invalid(
            "node classification needs training and test nodes",
        ));
    }
    let label = |i: usize| labels[i].unwrap_or(0);
    let rows: Vec<&[f32]> = split.train.iter().map(|&i| embeddings.row(i)).collect();
    let y: Vec<usize> = split.train.iter().map(|&i| label(i)).collect();
    let model = LogisticRegression::fit(&rows, &y, classes, 1.0 / rows.len() as f64)?;
    let mut cm = ConfusionMatrix::new(classes);
    for &i in &split.test {
        cm.add(model.predict(embeddings.row(i)), label(i))
            .map_err(|e| GraphError::invalid(e.to_string()))?;
    }
    Ok(ClassificationScores {
        accuracy: cm.accuracy(),
        micro_f1: cm.micro_f1(),
        macro_f1: cm.macro_f1(),
        support: split.test.len(),
    })
}

/// A link-prediction split: the graph with some edges removed, those edges as positives, and
/// as many node pairs that are not edges as negatives.
#[derive(Clone, Debug)]
pub struct LinkSplit {
    /// The graph to embed (the held-out edges removed).
    pub train_graph: Graph,
    /// Held-out edges.
    pub positives: Vec<(u32, u32)>,
    /// Sampled non-edges of the full graph, as many as the positives.
    pub negatives: Vec<(u32, u32)>,
}

impl LinkSplit {
    /// Holds out `fraction` of the edges at random, never removing a node's last edge (so that
    /// every node keeps a walk), and samples as many non-edges.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if `fraction` is not in `(0, 1)` or the graph is too small or
    /// too dense to hold out one edge and find one non-edge.
    pub fn new(graph: &Graph, fraction: f64, seed: u64) -> Result<Self> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(GraphError::invalid(format!(
                "held-out edge fraction must lie in (0, 1), got {fraction}"
            )));
        }
        let n = graph.num_nodes();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut edges = graph.edges().to_vec();
        edges.shuffle(&mut rng);
        let want = ((edges.len() as f64) * fraction).round() as usize;
        let mut degree: Vec<usize> = (0..n).map(|i| graph.degree(i)).collect();
        let (mut positives, mut kept) = (Vec::new(), Vec::new());
        for (u, v) in edges {
            if positives.len() < want && degree[u as usize] > 1 && degree[v as usize] > 1 {
                degree[u as usize] -= 1;
                degree[v as usize] -= 1;
                positives.push((u, v));
            } else {
                kept.push((u as usize, v as usize));
            }
        }
        let max_pairs = n * n.saturating_sub(1) / 2;
        if positives.is_empty() || graph.num_edges() + positives.len() > max_pairs {
            return Err(GraphError::invalid(format!(
                "cannot hold out edges of a graph with {n} nodes and {} edges",
                graph.num_edges()
            )));
        }
        let mut negatives = Vec::with_capacity(positives.len());
        let mut seen = std::collections::HashSet::new();
        while negatives.len() < positives.len() {
            let (u, v) = (rng.random_range(0..n), rng.random_range(0..n));
            let key = (u.min(v) as u32, u.max(v) as u32);
            if u != v && !graph.has_edge(u, v) && seen.insert(key) {
                negatives.push(key);
            }
        }
        Ok(Self {
            train_graph: Graph::from_edges(n, &kept)?,
            positives,
            negatives,
        })
    }

    /// AUC of scoring pairs by the dot product of their embeddings.
    pub fn auc(&self, embeddings: &Embeddings) -> f64 {
        let score = |&(u, v): &(u32, u32)| -> f64 {
            embeddings
                .row(u as usize)
                .iter()
                .zip(embeddings.row(v as usize))
                .map(|(a, b)| f64::from(a * b))
                .sum()
        };
        let pos: Vec<f64> = self.positives.iter().map(score).collect();
        let neg: Vec<f64> = self.negatives.iter().map(score).collect();
        auc(&pos, &neg)
    }
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative (ties count one half), from the ranks of all scores.
pub fn auc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Average ranks over ties (1-based).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += rank * all[i..=j].iter().filter(|p| p.1).count() as f64;
        i = j + 1;
    }
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

/// Projects the rows on their first two principal components (power iteration with deflation
/// on the covariance matrix); returns one `(x, y)` per row.
pub fn pca_2d(embeddings: &Embeddings) -> Vec<(f64, f64)> {
    let (n, d) = (embeddings.num_nodes, embeddings.dim);
    if n == 0 || d == 0 {
        return Vec::new();
    }
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, v) in mean.iter_mut().zip(embeddings.row(i)) {
            *m += f64::from(*v) / n as f64;
        }
    }
    let centred: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            embeddings
                .row(i)
                .iter()
                .zip(&mean)
                .map(|(v, m)| f64::from(*v) - m)
                .collect()
        })
        .collect();
    let mut cov = vec![0.0; d * d];
    for row in &centred {
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] += row[a] * row[b];
            }
        }
    }
    let mut components: Vec<Vec<f64>> = Vec::new();
    for k in 0..2.min(d) {
        // A fixed, non-degenerate start vector keeps the projection deterministic.
        let mut v: Vec<f64> = (0..d)
            .map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 11.0)
            .collect();
        for _ in 0..300 {
            let mut w: Vec<f64> = (0..d)
                .map(|a| (0..d).map(|b| cov[a * d + b] * v[b]).sum())
                .collect();
            for c in &components {
                let dot: f64 = w.iter().zip(c).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(c).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-300 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        components.push(v);
    }
    centred
        .iter()
        .map(|row| {
            let p = |c: &Vec<f64>| row.iter().zip(c).map(|(x, y)| x * y).sum::<f64>();
            (p(&components[0]), components.get(1).map_or(0.0, p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_ties() {
        assert_eq!(auc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(auc(&[1.0], &[2.0]), 0.0);
        assert_eq!(auc(&[1.0], &[1.0]), 0.5);
        // 5 of the 6 (positive, negative) pairs are ordered; one tie counts 1/2 → 5.5/6.
        assert!((auc(&[0.5, 0.9, 0.3], &[0.3, 0.1]) - 5.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn logistic_regression_separates_blobs_and_f1_is_reported() {
        // Two Gaussian-ish blobs in 2-D, 3 classes via the sign pattern.
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut rng = StdRng::seed_from_u64(4);
        for i in 0..90 {
            let c = i % 3;
            let centre = [(0.0, 3.0), (3.0, -2.0), (-3.0, -2.0)][c];
            values.push(centre.0 + rng.random_range(-1.0..1.0f32));
            values.push(centre.1 + rng.random_range(-1.0..1.0f32));
            labels.push(Some(c));
        }
        let emb = Embeddings {
            num_nodes: 90,
            dim: 2,
            values,
        };
        let split = Split {
            train: (0..45).collect(),
            valid: vec![],
            test: (45..90).collect(),
        };
        let s = classify_embeddings(&emb, &labels, 3, &split).unwrap();
        assert_eq!(s.accuracy, 1.0);
        assert_eq!((s.micro_f1, s.macro_f1, s.support), (1.0, 1.0, 45));
        assert!(LogisticRegression::fit(&[], &[], 2, 0.0).is_err());
        assert!(classify_embeddings(&emb, &labels[..10], 3, &split).is_err());
    }

    #[test]
    fn link_split_keeps_every_node_and_samples_non_edges() {
        let edges: Vec<(usize, usize)> = (0..20)
            .flat_map(|i| [(i, (i + 1) % 20), (i, (i + 5) % 20)])
            .collect();
        let g = Graph::from_edges(20, &edges).unwrap();
        let s = LinkSplit::new(&g, 0.2, 1).unwrap();
        assert_eq!(s.positives.len(), 8);
        assert_eq!(s.negatives.len(), 8);
        assert_eq!(s.train_graph.num_edges(), 32);
        assert!(s.train_graph.isolated_nodes().is_empty());
        assert!(
            s.positives
                .iter()
                .all(|&(u, v)| g.has_edge(u as usize, v as usize))
        );
        assert!(
            s.negatives
                .iter()
                .all(|&(u, v)| !g.has_edge(u as usize, v as usize) && u != v)
        );
        assert!(LinkSplit::new(&g, 0.0, 1).is_err());
    }

    #[test]
    fn pca_finds_the_main_axis() {
        // Points on the line y = 2x (plus a tiny z): the first component explains it all.
        let values: Vec<f32> = (0..10)
            .flat_map(|i| [i as f32, 2.0 * i as f32, 0.01 * (i % 2) as f32])
            .collect();
        let p = pca_2d(&Embeddings {
            num_nodes: 10,
            dim: 3,
            values,
        });
        let spread = |f: fn(&(f64, f64)) -> f64| {
            let v: Vec<f64> = p.iter().map(f).collect();
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        assert!((spread(|q| q.0) - 9.0 * 5f64.sqrt()).abs() < 1e-3);
        assert!(spread(|q| q.1) < 0.02);
    }
}
