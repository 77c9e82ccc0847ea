//! Retrieval with joint embeddings: Recall@K over a similarity matrix, zero-shot
//! classification from class descriptions, and an [`EmbeddingIndex`] with cosine top-K search
//! that refuses queries from another model.

use std::path::Path;

use deepzero_train::metrics_file::{read_json, write_json_atomic};
use serde::{Deserialize, Serialize};

use crate::MultimodalError;

/// Recall@K of each `k` in `ks`: the fraction of queries whose correct candidate ranks among the
/// `k` most similar ones.
///
/// `similarity` is row-major `[queries, candidates]`; `truth[q]` is query `q`'s correct
/// candidate. A candidate tied with the correct one counts as ranked above it (the pessimistic
/// convention, so duplicates never inflate the figure).
///
/// # Errors
/// [`MultimodalError::Invalid`] when the sizes disagree or a truth index is out of range.
pub fn recall_at_k(
    similarity: &[f32],
    candidates: usize,
    truth: &[usize],
    ks: &[usize],
) -> Result<Vec<f64>, MultimodalError> {
    let queries = truth.len();
    if candidates == 0 || similarity.len() != queries * candidates {
        return Err(MultimodalError::Invalid(format!(
            "a similarity matrix of {} values is not {queries} queries × {candidates} candidates",
            similarity.len()
        )));
    }
    let mut hits = vec![0usize; ks.len()];
    for (q, &t) in truth.iter().enumerate() {
        if t >= candidates {
            return Err(MultimodalError::Invalid(format!(
                "query {q}'s correct candidate {t} is not below {candidates}"
            )));
        }
        let row = &similarity[q * candidates..(q + 1) * candidates];
        let score = row[t];
        // Rank 0 = best. Ties with other candidates count against the query.
        let rank = row
            .iter()
            .enumerate()
            .filter(|&(c, &s)| c != t && (s >= score || s.is_nan()))
            .count();
        for (h, &k) in hits.iter_mut().zip(ks) {
            if rank < k {
                *h += 1;
            }
        }
    }
    Ok(hits
        .iter()
        .map(|&h| h as f64 / queries.max(1) as f64)
        .collect())
}

/// Row-major `[a_rows, b_rows]` dot products of row-major `[*, dim]` matrices `a` and `b`
/// (cosine similarities when both are L2-normalised).
pub fn similarity(a: &[f32], b: &[f32], dim: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity((a.len() / dim.max(1)) * (b.len() / dim.max(1)));
    for x in a.chunks_exact(dim) {
        for y in b.chunks_exact(dim) {
            out.push(x.iter().zip(y).map(|(u, v)| u * v).sum());
        }
    }
    out
}

/// Zero-shot classification: for each row of `items` (`[N, dim]`, normalised), the index of the
/// most similar row of `classes` (`[C, dim]`, the embedded class descriptions).
pub fn zero_shot(items: &[f32], classes: &[f32], dim: usize) -> Vec<usize> {
    let c = classes.len() / dim.max(1);
    similarity(items, classes, dim)
        .chunks(c.max(1))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &s)| {
                    if s > best.1 { (i, s) } else { best }
                })
                .0
        })
        .collect()
}

/// One result of [`EmbeddingIndex::search`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// Position of the item in the index.
    pub index: usize,
    /// The item's label (a caption, a file name).
    pub label: String,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// L2-normalised vectors with labels, searched by cosine similarity; it remembers which model
/// made the vectors (`model`, a hash of its weights) and refuses queries from another one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingIndex {
    /// Identity of the model that embedded the items.
    pub model: String,
    /// Width of the vectors.
    pub dim: usize,
    /// Row-major `[len, dim]`, each row of unit length (or zero).
    pub vectors: Vec<f32>,
    /// One label per row.
    pub labels: Vec<String>,
}

impl EmbeddingIndex {
    /// An index of `vectors` (`[labels.len(), dim]`, normalised here) made by `model`.
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] if the number of vectors and labels disagree or a vector is
    /// not finite.
    pub fn new(
        model: impl Into<String>,
        dim: usize,
        mut vectors: Vec<f32>,
        labels: Vec<String>,
    ) -> Result<Self, MultimodalError> {
        if dim == 0 || vectors.len() != labels.len() * dim {
            return Err(MultimodalError::Invalid(format!(
                "{} vector values do not make {} vectors of width {dim}",
                vectors.len(),
                labels.len()
            )));
        }
        if vectors.iter().any(|v| !v.is_finite()) {
            return Err(MultimodalError::Invalid(
                "an index vector is not a finite number".into(),
            ));
        }
        for row in vectors.chunks_exact_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok(Self {
            model: model.into(),
            dim,
            vectors,
            labels,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for an empty index.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The `k` items most similar to `query` (a vector of `model`), best first.
    ///
    /// # Errors
    /// [`MultimodalError::Invalid`] if `model` is not the model that built the index, or the
    /// query has the wrong width or is not finite.
    pub fn search(
        &self,
        model: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, MultimodalError> {
        if model != self.model {
            return Err(MultimodalError::Invalid(format!(
                "the index was built by model {} and cannot answer queries of model {model}",
                self.model
            )));
        }
        if query.len() != self.dim || query.iter().any(|v| !v.is_finite()) {
            return Err(MultimodalError::Invalid(format!(
                "a query must be {} finite numbers (got {})",
                self.dim,
                query.len()
            )));
        }
        let norm = query.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        let q: Vec<f32> = query.iter().map(|v| v / norm).collect();
        let scores = similarity(&q, &self.vectors, self.dim);
        let mut order: Vec<usize> = (0..self.len()).collect();
        // Best first; equal scores keep index order.
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        Ok(order
            .into_iter()
            .take(k)
            .map(|i| Hit {
                index: i,
                label: self.labels[i].clone(),
                score: scores[i],
            })
            .collect())
    }

    /// Writes the index as JSON, atomically.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), MultimodalError> {
        Ok(write_json_atomic(path, self)?)
    }

    /// Reads an index written by [`EmbeddingIndex::save`], checking its shape.
    ///
    /// # Errors
    /// The file is missing, not an index, or inconsistent.
    pub fn load(path: &Path) -> Result<Self, MultimodalError> {
        let index: Self = read_json(path)?;
        if index.dim == 0
            || index.vectors.len() != index.labels.len() * index.dim
            || index.vectors.iter().any(|v| !v.is_finite())
        {
            return Err(MultimodalError::Invalid(format!(
                "{}: not a consistent index ({} values for {} labels of width {})",
                path.display(),
                index.vectors.len(),
                index.labels.len(),
                index.dim
            )));
        }
        Ok(index)
    }
}

/// A 64-bit FNV-1a hash of `bytes` in hex: the identity of a model's weights file.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_by_hand() {
        // 3 queries × 4 candidates.
        let sim = [
            0.9, 0.1, 0.2, 0.3, // truth 0: rank 0
            0.5, 0.4, 0.6, 0.1, // truth 1: two above → rank 2
            0.7, 0.7, 0.7, 0.7, // truth 3: three ties → rank 3 (pessimistic)
        ];
        let r = recall_at_k(&sim, 4, &[0, 1, 3], &[1, 2, 3, 4]).unwrap();
        assert_eq!(r, vec![1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
        assert!(recall_at_k(&sim, 4, &[0, 1], &[1]).is_err());
        assert!(recall_at_k(&sim, 4, &[0, 1, 4], &[1]).is_err());
    }

    #[test]
    fn zero_shot_picks_the_nearest_description() {
        let items = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let classes = [0.0, 1.0, 1.0, 0.0];
        assert_eq!(zero_shot(&items, &classes, 2), vec![1, 0, 0]);
    }

    #[test]
    fn index_searches_by_cosine_and_refuses_another_model() {
        let labels = vec!["east".to_string(), "north".into(), "north-east".into()];
        let index =
            EmbeddingIndex::new("m1", 2, vec![2.0, 0.0, 0.0, 3.0, 1.0, 1.0], labels).unwrap();
        let hits = index.search("m1", &[1.0, 0.2], 2).unwrap();
        assert_eq!(hits[0].label, "east");
        assert_eq!(hits[1].label, "north-east");
        assert!((hits[0].score - 1.0 / 1.04f32.sqrt()).abs() < 1e-6);
        let err = index.search("m2", &[1.0, 0.0], 1).unwrap_err().to_string();
        assert!(err.contains("built by model m1"), "{err}");
        assert!(index.search("m1", &[1.0], 1).is_err());
        assert!(index.search("m1", &[f32::NAN, 0.0], 1).is_err());
        assert!(EmbeddingIndex::new("m", 2, vec![1.0], vec!["a".into()]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        index.save(&path).unwrap();
        assert_eq!(EmbeddingIndex::load(&path).unwrap(), index);
        std::fs::write(&path, "{\"model\":1}").unwrap();
        assert!(EmbeddingIndex::load(&path).is_err());
    }

    #[test]
    fn fingerprint_is_fnv1a() {
        // FNV-1a 64 of "a" is af63dc4c8601ec8c (the published test vector).
        assert_eq!(fingerprint(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fingerprint(b""), "cbf29ce484222325");
    }
}
