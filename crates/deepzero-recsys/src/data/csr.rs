//! A compressed sparse row (CSR) matrix: users × items with ratings as values.

use serde::{Deserialize, Serialize};

/// Rows × columns with the non-zeros of row `r` at `indptr[r]..indptr[r + 1]`, column indices
/// sorted and unique within a row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row offsets, `n_rows + 1` long.
    pub indptr: Vec<usize>,
    /// Column of each stored value.
    pub indices: Vec<u32>,
    /// The stored values.
    pub values: Vec<f32>,
}

impl Csr {
    /// Builds the matrix from `(row, col, value)` triplets. A repeated `(row, col)` keeps the
    /// value that comes last (a re-rating replaces the old rating).
    ///
    /// Rows and columns must be below `n_rows` / `n_cols` (callers build them from id maps).
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        triplets: impl IntoIterator<Item = (u32, u32, f32)>,
    ) -> Csr {
        let mut entries: Vec<(u32, u32, f32, usize)> = triplets
            .into_iter()
            .enumerate()
            .map(|(pos, (r, c, v))| (r, c, v, pos))
            .collect();
        // Sort by (row, col, position) so that the last duplicate is the one kept.
        entries.sort_unstable_by_key(|&(r, c, _, pos)| (r, c, pos));
        let mut indptr = vec![0usize; n_rows + 1];
        let mut indices = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (k, &(r, c, v, _)) in entries.iter().enumerate() {
            if let Some(next) = entries.get(k + 1)
                && next.0 == r
                && next.1 == c
            {
                continue;
            }
            indices.push(c);
            values.push(v);
            indptr[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            indptr[r + 1] += indptr[r];
        }
        Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// Number of stored values.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `r` (empty for a row out of range).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r >= self.n_rows {
            return (&[], &[]);
        }
        let span = self.indptr[r]..self.indptr[r + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// Number of values in row `r`.
    pub fn row_len(&self, r: usize) -> usize {
        self.row(r).0.len()
    }

    /// The value at `(r, c)`, if stored.
    pub fn get(&self, r: usize, c: usize) -> Option<f32> {
        let (cols, vals) = self.row(r);
        cols.binary_search(&(c as u32)).ok().map(|k| vals[k])
    }

    /// Whether `(r, c)` is stored.
    pub fn contains(&self, r: usize, c: usize) -> bool {
        self.get(r, c).is_some()
    }

    /// Adds (or overwrites) values in row `r`, growing the row count if `r` is past the end:
    /// one copy of the arrays, no sort of the whole matrix (for real-time updates).
    pub fn merge_row(&mut self, r: usize, entries: &[(u32, f32)]) {
        if r >= self.n_rows {
            let last = *self.indptr.last().unwrap_or(&0);
            self.indptr.resize(r + 2, last);
            self.n_rows = r + 1;
        }
        let mut row: std::collections::BTreeMap<u32, f32> = {
            let (c, v) = self.row(r);
            c.iter().copied().zip(v.iter().copied()).collect()
        };
        for &(c, v) in entries {
            row.insert(c, v);
            self.n_cols = self.n_cols.max(c as usize + 1);
        }
        let (start, end) = (self.indptr[r], self.indptr[r + 1]);
        let grow = row.len() as isize - (end - start) as isize;
        self.indices.splice(start..end, row.keys().copied());
        self.values.splice(start..end, row.values().copied());
        for p in &mut self.indptr[r + 1..] {
            *p = (*p as isize + grow) as usize;
        }
    }

    /// The transpose (items × users from users × items).
    pub fn transpose(&self) -> Csr {
        Csr::from_triplets(
            self.n_cols,
            self.n_rows,
            (0..self.n_rows).flat_map(|r| {
                let (cols, vals) = self.row(r);
                cols.iter().zip(vals).map(move |(&c, &v)| (c, r as u32, v))
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_rows_sorted_and_keeps_last_duplicate() {
        let m = Csr::from_triplets(3, 4, [(2, 3, 1.0), (0, 2, 5.0), (0, 1, 4.0), (0, 2, 3.0)]);
        assert_eq!(m.indptr, vec![0, 2, 2, 3]);
        assert_eq!(m.row(0), (&[1u32, 2][..], &[4.0f32, 3.0][..]));
        assert_eq!(m.row_len(1), 0);
        assert_eq!(m.get(2, 3), Some(1.0));
        assert!(!m.contains(2, 2));
        assert_eq!(m.row(7).0.len(), 0);
    }

    #[test]
    fn merge_row_adds_and_overwrites() {
        let mut m = Csr::from_triplets(3, 4, [(2, 3, 1.0), (0, 2, 5.0), (1, 0, 4.0)]);
        m.merge_row(1, &[(3, 2.0), (0, 1.0)]);
        m.merge_row(4, &[(5, 3.0)]);
        let want = Csr::from_triplets(
            5,
            6,
            [
                (2, 3, 1.0),
                (0, 2, 5.0),
                (1, 0, 1.0),
                (1, 3, 2.0),
                (4, 5, 3.0),
            ],
        );
        assert_eq!(m, want);
    }

    #[test]
    fn transpose_twice_is_identity() {
        let m = Csr::from_triplets(3, 4, [(2, 3, 1.0), (0, 2, 5.0), (1, 0, 4.0)]);
        let t = m.transpose();
        assert_eq!((t.n_rows, t.n_cols), (4, 3));
        assert_eq!(t.get(3, 2), Some(1.0));
        assert_eq!(t.transpose(), m);
    }
}
