//! In-memory image datasets and index-based subsets of any image dataset.

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use crate::{DataError, ImageItem};

/// The error a dataset returns for an index past its end.
///
/// burn's `Dataset` contract allows a panic there; returning an error instead keeps a bad
/// index from taking a data-loader worker thread down.
pub(crate) fn index_error(index: usize, len: usize) -> DatasetError {
    DatasetError::new(DataError::Invalid(format!(
        "index {index} out of range for a dataset of {len} items"
    )))
}

/// A labelled image dataset held in memory as one contiguous `u8` buffer (MNIST's 60 000
/// training images take 47 MB).
#[derive(Clone, PartialEq, Eq)]
pub struct InMemoryImages {
    pixels: Vec<u8>,
    labels: Vec<usize>,
    shape: [usize; 3],
    class_names: Vec<String>,
}

impl InMemoryImages {
    /// Builds a dataset from `labels.len()` images of `shape = [C, H, W]` stored one after the
    /// other in `pixels`. Labels may be given as `u8` (as read from IDX) or `usize`.
    ///
    /// # Errors
    /// [`DataError::Invalid`] if a dimension of `shape` is zero, there are no class names,
    /// `pixels.len() != labels × C × H × W`, or a label is not below the number of classes.
    pub fn new<L: Into<usize>, S: Into<String>>(
        pixels: Vec<u8>,
        labels: impl IntoIterator<Item = L>,
        shape: [usize; 3],
        class_names: impl IntoIterator<Item = S>,
    ) -> Result<Self, DataError> {
        let labels: Vec<usize> = labels.into_iter().map(Into::into).collect();
        let class_names: Vec<String> = class_names.into_iter().map(Into::into).collect();
        if shape.contains(&0) {
            return Err(DataError::Invalid(format!(
                "image shape {shape:?} has a zero dimension"
            )));
        }
        if class_names.is_empty() {
            return Err(DataError::Invalid("no class names".into()));
        }
        let per_image = shape.iter().product::<usize>();
        if labels.len().checked_mul(per_image) != Some(pixels.len()) {
            return Err(DataError::Invalid(format!(
                "{} pixels do not make {} images of shape {shape:?}",
                pixels.len(),
                labels.len()
            )));
        }
        if let Some((index, label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l >= class_names.len())
        {
            return Err(DataError::Invalid(format!(
                "label {label} at index {index} out of range 0..{}",
                class_names.len()
            )));
        }
        Ok(Self {
            pixels,
            labels,
            shape,
            class_names,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Class names; label `k` is `class_names()[k]`.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The label of every image, in order.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Number of bytes in one image (`C × H × W`).
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let n = self.image_len();
        (index < self.labels.len()).then(|| &self.pixels[index * n..(index + 1) * n])
    }

    /// A copy holding only the images at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is out of range, as slice indexing does: indices normally come from
    /// [`crate::train_valid_split`] or [`crate::stratified_split`] over `0..len`.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let n = self.image_len();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            assert!(
                i < self.labels.len(),
                "subset index {i} out of range for {} images",
                self.labels.len()
            );
            pixels.extend_from_slice(&self.pixels[i * n..(i + 1) * n]);
            labels.push(self.labels[i]);
        }
        Self {
            pixels,
            labels,
            shape: self.shape,
            class_names: self.class_names.clone(),
        }
    }
}

// A manual Debug: deriving it would print every pixel.
impl std::fmt::Debug for InMemoryImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryImages")
            .field("len", &self.labels.len())
            .field("shape", &self.shape)
            .field("class_names", &self.class_names)
            .finish()
    }
}

impl Dataset<ImageItem> for InMemoryImages {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let pixels = self
            .image(index)
            .ok_or_else(|| index_error(index, self.len()))?;
        Ok(ImageItem {
            pixels: pixels.to_vec(),
            shape: self.shape,
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// A view of another dataset through a list of indices (a train or validation split), sharing
/// the inner dataset through an [`Arc`] instead of copying it.
#[derive(Debug)]
pub struct Subset<D> {
    inner: Arc<D>,
    indices: Vec<usize>,
}

// Not derived: a derive would require `D: Clone`, but only the `Arc` is cloned.
impl<D> Clone for Subset<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            indices: self.indices.clone(),
        }
    }
}

impl<D> Subset<D> {
    /// Item `i` of the subset is item `indices[i]` of `inner`; several subsets (train and
    /// valid) can share one `inner`. Indices past the end of `inner` are reported as errors by
    /// `get`.
    pub fn new(inner: Arc<D>, indices: Vec<usize>) -> Self {
        Self { inner, indices }
    }

    /// The indices into the inner dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The inner dataset.
    pub fn inner(&self) -> &Arc<D> {
        &self.inner
    }
}

impl<D: Dataset<ImageItem>> Dataset<ImageItem> for Subset<D> {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let &inner_index = self
            .indices
            .get(index)
            .ok_or_else(|| index_error(index, self.indices.len()))?;
        if inner_index >= self.inner.len() {
            return Err(index_error(inner_index, self.inner.len()));
        }
        self.inner.get(inner_index)
    }

    fn len(&self) -> usize {
        self.indices.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four 1×2×2 images whose pixels are `4i..4i+4`, labels 0 1 2 0.
    fn tiny() -> InMemoryImages {
        InMemoryImages::new(
            (0..16).collect(),
            [0u8, 1, 2, 0],
            [1, 2, 2],
            ["a", "b", "c"],
        )
        .unwrap()
    }

    #[test]
    fn get_and_accessors() {
        let ds = tiny();
        assert_eq!(ds.len(), 4);
        assert_eq!(ds.num_classes(), 3);
        assert_eq!(ds.labels(), &[0, 1, 2, 0]);
        assert_eq!(ds.class_names()[2], "c");
        let item = ds.get(2).unwrap();
        assert_eq!(item.pixels, vec![8, 9, 10, 11]);
        assert_eq!(item.shape, [1, 2, 2]);
        assert_eq!(item.label, 2);
        assert!(ds.get(4).is_err());
        assert!(format!("{ds:?}").contains("len: 4"));
    }

    #[test]
    fn new_validates() {
        let labels = vec![0usize, 1];
        assert!(InMemoryImages::new(vec![0; 7], labels.clone(), [1, 2, 2], ["a", "b"]).is_err());
        assert!(InMemoryImages::new(vec![0; 8], labels.clone(), [1, 2, 2], ["a"]).is_err());
        assert!(InMemoryImages::new(vec![0; 8], labels.clone(), [0, 2, 2], ["a", "b"]).is_err());
        assert!(InMemoryImages::new(vec![0; 8], labels, [1, 2, 2], Vec::<String>::new()).is_err());
    }

    #[test]
    fn subset_copies_in_order() {
        let ds = tiny().subset(&[3, 1, 1]);
        assert_eq!(ds.labels(), &[0, 1, 1]);
        assert_eq!(ds.get(0).unwrap().pixels, vec![12, 13, 14, 15]);
        assert_eq!(ds.get(2).unwrap().pixels, vec![4, 5, 6, 7]);
    }

    #[test]
    fn subset_view_indexes_through() {
        let sub = Subset::new(Arc::new(tiny()), vec![2, 0, 9]);
        assert_eq!(sub.len(), 3);
        assert_eq!(sub.get(0).unwrap(), tiny().get(2).unwrap());
        assert_eq!(sub.get(1).unwrap().label, 0);
        assert!(sub.get(2).is_err(), "inner index 9 is past the end");
        assert!(sub.get(3).is_err());
        let shared = Arc::new(tiny());
        let a = Subset::new(Arc::clone(&shared), vec![1]);
        let b = a.clone();
        assert_eq!(b.get(0).unwrap().label, 1);
        assert_eq!(Arc::strong_count(&shared), 3);
    }
}
