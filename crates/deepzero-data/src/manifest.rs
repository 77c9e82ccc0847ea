//! Download manifests: where each dataset's files live and how to check them.
//!
//! Nothing here downloads (that is `cargo xtask download`'s job); this module only knows the
//! URLs and the digests. Digests are of the **uncompressed** files, because the `.gz` bytes
//! differ between mirrors and repackagings (gzip headers carry names and times) while the
//! payload does not. Every digest below was computed from the files staged with this project
//! and matches the digests published with the repackagings they came from.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::DataError;
use crate::idx::open_maybe_gz;

/// One file of a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestFile {
    /// File name as served, e.g. `"train-images-idx3-ubyte.gz"`.
    pub name: &'static str,
    /// Where to fetch it: the canonical location first, then mirrors.
    pub urls: &'static [&'static str],
    /// Lower-case hex SHA-256 of the uncompressed contents.
    pub sha256_uncompressed: &'static str,
    /// Length of the uncompressed contents.
    pub uncompressed_bytes: u64,
}

/// A downloadable dataset.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetManifest {
    /// Name used on the command line and as the directory name, e.g. `"mnist"`.
    pub name: &'static str,
    /// Its files.
    pub files: &'static [ManifestFile],
    /// Terms of use, in one line.
    pub licence: &'static str,
    /// What to cite.
    pub citation: &'static str,
}

impl DatasetManifest {
    /// The file called `name`, if the dataset has one.
    pub fn file(&self, name: &str) -> Option<&'static ManifestFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// `&[canonical, mirrors...]` for an MNIST file.
macro_rules! mnist_urls {
    ($file:literal) => {
        &[
            concat!("https://storage.googleapis.com/cvdf-datasets/mnist/", $file),
            concat!("https://ossci-datasets.s3.amazonaws.com/mnist/", $file),
            concat!("http://yann.lecun.com/exdb/mnist/", $file),
        ]
    };
}

/// `&[canonical, mirrors...]` for a Fashion-MNIST file.
macro_rules! fashion_urls {
    ($file:literal) => {
        &[
            concat!("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", $file),
            concat!(
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                $file
            ),
        ]
    };
}

/// The four files of an IDX dataset in MNIST's layout (Fashion-MNIST keeps MNIST's names and
/// sizes), fetched from `$urls!(file)`, with the SHA-256 of each file's uncompressed contents.
macro_rules! idx_files {
    (
        $urls:ident,
        train_images: $train_images:literal,
        train_labels: $train_labels:literal,
        test_images: $test_images:literal,
        test_labels: $test_labels:literal $(,)?
    ) => {
        &[
            ManifestFile {
                name: "train-images-idx3-ubyte.gz",
                urls: $urls!("train-images-idx3-ubyte.gz"),
                sha256_uncompressed: $train_images,
                uncompressed_bytes: 47_040_016,
            },
            ManifestFile {
                name: "train-labels-idx1-ubyte.gz",
                urls: $urls!("train-labels-idx1-ubyte.gz"),
                sha256_uncompressed: $train_labels,
                uncompressed_bytes: 60_008,
            },
            ManifestFile {
                name: "t10k-images-idx3-ubyte.gz",
                urls: $urls!("t10k-images-idx3-ubyte.gz"),
                sha256_uncompressed: $test_images,
                uncompressed_bytes: 7_840_016,
            },
            ManifestFile {
                name: "t10k-labels-idx1-ubyte.gz",
                urls: $urls!("t10k-labels-idx1-ubyte.gz"),
                sha256_uncompressed: $test_labels,
                uncompressed_bytes: 10_008,
            },
        ]
    };
}

/// Every dataset this crate knows how to fetch.
pub const MANIFESTS: &[DatasetManifest] = &[
    DatasetManifest {
        name: "mnist",
        files: idx_files!(
            mnist_urls,
            train_images: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            train_labels: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            test_images: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            test_labels: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
        licence: "© Yann LeCun and Corinna Cortes; commonly redistributed under CC BY-SA 3.0 with attribution",
        citation: "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to \
                   document recognition. Proceedings of the IEEE 86(11):2278–2324, 1998.",
    },
    DatasetManifest {
        name: "fashion-mnist",
        files: idx_files!(
            fashion_urls,
            train_images: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            train_labels: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            test_images: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            test_labels: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
        licence: "MIT, © 2017 Zalando SE",
        citation: "H. Xiao, K. Rasul and R. Vollgraf. Fashion-MNIST: a novel image dataset for \
                   benchmarking machine learning algorithms. arXiv:1708.07747, 2017.",
    },
];

/// The manifest of dataset `name` (`"mnist"` or `"fashion-mnist"`; case and `_` for `-` are
/// forgiven).
pub fn manifest(name: &str) -> Option<&'static DatasetManifest> {
    let wanted = name.to_ascii_lowercase().replace('_', "-");
    MANIFESTS.iter().find(|m| m.name == wanted)
}

/// The SHA-256 (lower-case hex) and length of a file's contents, gunzipped first if the file
/// starts with the gzip magic.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read or is a broken gzip stream.
pub fn sha256_uncompressed(path: &Path) -> Result<(String, u64), DataError> {
    let mut reader = open_maybe_gz(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::io(path, e)),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}"); // writing to a String cannot fail
            s
        })
}

/// Checks a local file (compressed or not) against its manifest entry.
///
/// # Errors
/// [`DataError::Io`] if it cannot be read, [`DataError::SizeMismatch`] if its uncompressed
/// length is wrong, [`DataError::ChecksumMismatch`] if its digest is.
pub fn verify(path: &Path, file: &ManifestFile) -> Result<(), DataError> {
    let (digest, len) = sha256_uncompressed(path)?;
    if len != file.uncompressed_bytes {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            expected: file.uncompressed_bytes,
            got: len,
        });
    }
    if !digest.eq_ignore_ascii_case(file.sha256_uncompressed) {
        return Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: file.sha256_uncompressed.to_string(),
            got: digest,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_of_known_bytes_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("abc");
        std::fs::write(&raw, b"abc").unwrap();
        assert_eq!(
            sha256_uncompressed(&raw).unwrap(),
            (ABC_SHA256.to_string(), 3)
        );

        let gz = dir.path().join("abc.bin"); // no .gz: detection is by magic
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"abc").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(
            sha256_uncompressed(&gz).unwrap(),
            (ABC_SHA256.to_string(), 3)
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            sha256_uncompressed(&empty).unwrap().0,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn verify_reports_size_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let good = ManifestFile {
            name: "abc",
            urls: &[],
            sha256_uncompressed: ABC_SHA256,
            uncompressed_bytes: 3,
        };
        verify(&path, &good).unwrap();
        let wrong_size = ManifestFile {
            uncompressed_bytes: 4,
            ..good.clone()
        };
        assert!(matches!(
            verify(&path, &wrong_size).unwrap_err(),
            DataError::SizeMismatch {
                expected: 4,
                got: 3,
                ..
            }
        ));
        std::fs::write(&path, b"abd").unwrap();
        let err = verify(&path, &good).unwrap_err();
        assert!(matches!(err, DataError::ChecksumMismatch { .. }));
        assert!(err.to_string().contains(&format!(
            "abc: checksum mismatch: expected {ABC_SHA256}, got "
        )));
    }

    #[test]
    fn manifests_are_well_formed() {
        assert_eq!(MANIFESTS.len(), 2);
        assert_eq!(manifest("mnist").unwrap().files.len(), 4);
        assert_eq!(manifest("Fashion_MNIST").unwrap().name, "fashion-mnist");
        assert!(manifest("cifar10").is_none());
        for m in MANIFESTS {
            for f in m.files {
                assert_eq!(f.sha256_uncompressed.len(), 64);
                assert!(f.sha256_uncompressed.bytes().all(|b| b.is_ascii_hexdigit()));
                assert!(f.urls.iter().all(|u| u.ends_with(f.name)), "{:?}", f.urls);
                assert!(m.file(f.name).is_some());
            }
        }
        assert!(
            manifest("mnist").unwrap().files[0].urls[0]
                .starts_with("https://storage.googleapis.com/")
        );
        let json = serde_json::to_string(manifest("mnist").unwrap()).unwrap();
        assert!(json.contains("\"uncompressed_bytes\":47040016"));
    }

    /// Checks every manifest entry against the staged copies, when this machine has them.
    #[test]
    fn manifests_match_staged_files() {
        let Some(root) = crate::mnist::shared_datasets_dir() else {
            eprintln!("skipped: no shared datasets directory");
            return;
        };
        for m in MANIFESTS {
            for f in m.files {
                let path = root.join(m.name).join(f.name);
                if path.is_file() {
                    verify(&path, f).unwrap();
                } else {
                    eprintln!("skipped: {} absent", path.display());
                }
            }
        }
    }
}
