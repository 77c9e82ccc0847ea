//! MNIST and Fashion-MNIST from their four IDX files.
//!
//! Both corpora have the same layout: 60 000 training and 10 000 test greyscale images of
//! 28×28 pixels, ten classes, in `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, usually gzip-compressed.
//! Nothing here downloads; see [`crate::manifest`](mod@crate::manifest) for where the files come from.

use std::path::{Path, PathBuf};

use crate::idx::{read_idx_images, read_idx_labels};
use crate::{DataError, InMemoryImages};

/// Which half of a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set (`train-*` files).
    Train,
    /// The test set (`t10k-*` files).
    Test,
}

impl Split {
    /// The file-name prefix of this split: `"train"` or `"t10k"`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "t10k",
        }
    }
}

/// A corpus stored as IDX files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxCorpus {
    /// LeCun, Cortes & Burges' handwritten digits.
    Mnist,
    /// Zalando's clothing images (Xiao, Rasul & Vollgraf, 2017), a drop-in replacement.
    FashionMnist,
}

impl IdxCorpus {
    /// The name used for its directory and its download manifest: `"mnist"` or `"fashion-mnist"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
        }
    }

    /// The ten class names, in label order.
    pub fn class_names(&self) -> [&'static str; 10] {
        match self {
            Self::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Self::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// The image and label files of `split` in `dir` (what [`IdxCorpus::load`] reads).
    ///
    /// # Errors
    /// [`DataError::MissingFile`] if a file is in none of its spellings.
    pub fn files(&self, dir: &Path, split: Split) -> Result<[PathBuf; 2], DataError> {
        let prefix = split.file_prefix();
        Ok([
            find_idx_file(dir, prefix, "images", 3)?,
            find_idx_file(dir, prefix, "labels", 1)?,
        ])
    }

    /// Loads one split from `dir`, which holds the IDX files with or without `.gz`, named
    /// `train-images-idx3-ubyte` or `train-images.idx3-ubyte` (both spellings circulate).
    ///
    /// # Errors
    /// [`DataError::MissingDir`] if `dir` does not exist, [`DataError::MissingFile`] if a file
    /// is in none of its spellings, any error of [`read_idx_images`] / [`read_idx_labels`], and
    /// [`DataError::CountMismatch`] if the two files hold different numbers of examples.
    pub fn load(&self, dir: &Path, split: Split) -> Result<InMemoryImages, DataError> {
        if !dir.is_dir() {
            return Err(DataError::MissingDir {
                path: dir.to_path_buf(),
            });
        }
        let prefix = split.file_prefix();
        let images_path = find_idx_file(dir, prefix, "images", 3)?;
        let labels_path = find_idx_file(dir, prefix, "labels", 1)?;
        let images = read_idx_images(&images_path)?;
        let class_names = self.class_names();
        let labels = read_idx_labels(&labels_path, class_names.len())?;
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images_path,
                images: images.count,
                labels_path,
                labels: labels.len(),
            });
        }
        InMemoryImages::new(
            images.pixels,
            labels,
            [1, images.rows, images.cols],
            class_names,
        )
    }
}

/// Finds `<prefix>-<kind>-idx<ndims>-ubyte` (or `<prefix>-<kind>.idx<ndims>-ubyte`), with or
/// without `.gz`, in `dir`.
fn find_idx_file(dir: &Path, prefix: &str, kind: &str, ndims: u8) -> Result<PathBuf, DataError> {
    let tried: Vec<String> = [
        format!("{prefix}-{kind}-idx{ndims}-ubyte"),
        format!("{prefix}-{kind}.idx{ndims}-ubyte"),
    ]
    .into_iter()
    .flat_map(|stem| [format!("{stem}.gz"), stem])
    .collect();
    tried
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            what: format!("{prefix} {kind}"),
            tried,
        })
}

/// The staged copy of the shared datasets, if this machine has one (tests only).
#[cfg(test)]
pub(crate) fn shared_datasets_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DEEPZERO_SHARED_DATASETS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"),
    };
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{IdxImages, write_idx_images, write_idx_labels};
    use burn::data::dataset::Dataset;

    fn write_split(dir: &Path, images: usize, labels: usize, gz: bool, dotted: bool) {
        let sep = if dotted { '.' } else { '-' };
        let ext = if gz { ".gz" } else { "" };
        let idx = IdxImages {
            count: images,
            rows: 3,
            cols: 2,
            pixels: (0..images * 6).map(|i| i as u8).collect(),
        };
        let img = dir.join(format!("t10k-images{sep}idx3-ubyte{ext}"));
        write_idx_images(&img, &idx, gz).unwrap();
        let lab: Vec<u8> = (0..labels).map(|i| (i % 10) as u8).collect();
        let lab_path = dir.join(format!("t10k-labels{sep}idx1-ubyte{ext}"));
        write_idx_labels(&lab_path, &lab, gz).unwrap();
    }

    #[test]
    fn loads_every_spelling() {
        for (gz, dotted) in [(false, false), (true, false), (false, true), (true, true)] {
            let dir = tempfile::tempdir().unwrap();
            write_split(dir.path(), 12, 12, gz, dotted);
            let ds = IdxCorpus::FashionMnist
                .load(dir.path(), Split::Test)
                .unwrap();
            assert_eq!(ds.len(), 12);
            assert_eq!(ds.shape(), [1, 3, 2]);
            assert_eq!(ds.class_names()[9], "Ankle boot");
            let item = ds.get(11).unwrap();
            assert_eq!(item.label, 1);
            assert_eq!(item.pixels, (66..72).collect::<Vec<u8>>());
        }
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), 6, 5, true, false);
        let err = IdxCorpus::Mnist.load(dir.path(), Split::Test).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::CountMismatch {
                    images: 6,
                    labels: 5,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("t10k-images-idx3-ubyte.gz: 6 images but"),
            "{msg}"
        );
        assert!(
            msg.contains("t10k-labels-idx1-ubyte.gz has 5 labels"),
            "{msg}"
        );
    }

    #[test]
    fn missing_dir_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let err = IdxCorpus::Mnist.load(&gone, Split::Train).unwrap_err();
        assert!(matches!(err, DataError::MissingDir { .. }));
        assert_eq!(
            err.to_string(),
            format!("data directory {} does not exist", gone.display())
        );
        write_split(dir.path(), 2, 2, false, false);
        let err = IdxCorpus::Mnist.load(dir.path(), Split::Train).unwrap_err();
        assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
        assert!(err.to_string().contains("train-images-idx3-ubyte.gz"));
    }

    #[test]
    fn names() {
        assert_eq!(IdxCorpus::Mnist.name(), "mnist");
        assert_eq!(IdxCorpus::FashionMnist.name(), "fashion-mnist");
        assert_eq!(IdxCorpus::Mnist.class_names()[7], "7");
        assert_eq!(IdxCorpus::FashionMnist.class_names()[0], "T-shirt/top");
    }

    #[test]
    fn real_mnist_test_split() {
        let Some(root) = shared_datasets_dir() else {
            eprintln!("skipped: no shared datasets directory");
            return;
        };
        let dir = root.join("mnist");
        if !dir.is_dir() {
            eprintln!("skipped: {} absent", dir.display());
            return;
        }
        let ds = IdxCorpus::Mnist.load(&dir, Split::Test).unwrap();
        assert_eq!(ds.len(), 10_000);
        assert_eq!(ds.shape(), [1, 28, 28]);
        assert_eq!(&ds.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    }
}
