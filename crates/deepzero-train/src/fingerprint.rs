//! A cheap fingerprint of the data a run was trained on, so that `--resume` can refuse a
//! different data set ("the run was trained with data = {…}, this command asks for {…}").
//!
//! Hashing every byte of a corpus would make each resume as slow as reading the data twice, so
//! the fingerprint covers, for every file under the given paths (sorted, hidden files skipped):
//! its path relative to the root it was found under, its size, and its first and last 64 KiB.
//! A different download, another split file, an edited or truncated file, an added or removed
//! image all change it; moving the whole data folder elsewhere does not.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::TrainError;

/// Bytes hashed at each end of a file.
const EDGE_BYTES: u64 = 64 * 1024;

/// Files a fingerprint visits at most; a larger tree is refused rather than walked for minutes.
const MAX_FILES: usize = 2_000_000;

/// What [`data_fingerprint`] records in a run's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// Files seen.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex, first 16 digits) over the names, sizes and edges of the files.
    pub digest: String,
}

/// The fingerprint of the files at `paths` (files, or folders walked recursively).
///
/// # Errors
/// [`TrainError::Io`] naming a path that cannot be read; [`TrainError::Config`] for a tree of
/// more than two million files.
pub fn data_fingerprint(paths: &[&Path]) -> Result<DataFingerprint, TrainError> {
    let mut hasher = Sha256::new();
    let (mut files, mut bytes) = (0usize, 0u64);
    for root in paths {
        let mut found = Vec::new();
        collect_files(root, root, &mut found)?;
        found.sort();
        for (relative, path) in found {
            files += 1;
            if files > MAX_FILES {
                return Err(TrainError::Config(format!(
                    "{}: more than {MAX_FILES} files to fingerprint",
                    root.display()
                )));
            }
            let size = hash_file(&path, &relative, &mut hasher)?;
            bytes += size;
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(DataFingerprint {
        files,
        bytes,
        digest: hex,
    })
}

/// Every non-hidden file under `path`, as (name relative to `root`, full path).
fn collect_files(
    root: &Path,
    path: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), TrainError> {
    let meta = std::fs::metadata(path).map_err(TrainError::io(path))?;
    if meta.is_file() {
        let relative = match path.strip_prefix(root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
            _ => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        out.push((relative, path.to_path_buf()));
        return Ok(());
    }
    if !meta.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(TrainError::io(path))? {
        let entry = entry.map_err(TrainError::io(path))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        collect_files(root, &entry.path(), out)?;
        if out.len() > MAX_FILES {
            return Err(TrainError::Config(format!(
                "{}: more than {MAX_FILES} files to fingerprint",
                root.display()
            )));
        }
    }
    Ok(())
}

/// Feeds `relative`, the size and both edges of the file at `path` to `hasher`; returns the size.
fn hash_file(path: &Path, relative: &str, hasher: &mut Sha256) -> Result<u64, TrainError> {
    let mut file = std::fs::File::open(path).map_err(TrainError::io(path))?;
    let size = file.metadata().map_err(TrainError::io(path))?.len();
    hasher.update(relative.as_bytes());
    hasher.update([0u8]);
    hasher.update(size.to_le_bytes());
    let mut buffer = Vec::with_capacity(EDGE_BYTES.min(size) as usize);
    (&mut file)
        .take(EDGE_BYTES)
        .read_to_end(&mut buffer)
        .map_err(TrainError::io(path))?;
    hasher.update(&buffer);
    if size > EDGE_BYTES {
        let tail_start = size.saturating_sub(EDGE_BYTES).max(EDGE_BYTES);
        file.seek(SeekFrom::Start(tail_start))
            .map_err(TrainError::io(path))?;
        buffer.clear();
        file.take(EDGE_BYTES)
            .read_to_end(&mut buffer)
            .map_err(TrainError::io(path))?;
        hasher.update(&buffer);
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn same_data_elsewhere_has_the_same_fingerprint() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [a.path(), b.path()] {
            write(dir, "train/cat/1.png", b"cat one");
            write(dir, "train/dog/2.png", b"dog two");
            write(dir, ".lock", b"ignored");
        }
        std::fs::write(b.path().join(".DS_Store"), b"hidden").unwrap();
        let (fa, fb) = (
            data_fingerprint(&[a.path()]).unwrap(),
            data_fingerprint(&[b.path()]).unwrap(),
        );
        assert_eq!(fa, fb);
        assert_eq!((fa.files, fa.bytes), (2, 14));
    }

    #[test]
    fn an_edit_an_extra_file_or_a_rename_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        write(dir.path(), "a.txt", b"alpha");
        write(dir.path(), "big.bin", &big);
        let base = data_fingerprint(&[dir.path()]).unwrap();

        // A change in the last bytes of a large file (its tail is hashed).
        let mut edited = big.clone();
        *edited.last_mut().unwrap() ^= 1;
        write(dir.path(), "big.bin", &edited);
        let tail = data_fingerprint(&[dir.path()]).unwrap();
        assert_ne!(base.digest, tail.digest);
        write(dir.path(), "big.bin", &big);
        assert_eq!(data_fingerprint(&[dir.path()]).unwrap(), base);

        write(dir.path(), "b.txt", b"beta");
        let extra = data_fingerprint(&[dir.path()]).unwrap();
        assert_ne!(base.digest, extra.digest);
        assert_eq!(extra.files, 3);
        std::fs::remove_file(dir.path().join("b.txt")).unwrap();

        std::fs::rename(dir.path().join("a.txt"), dir.path().join("c.txt")).unwrap();
        assert_ne!(base.digest, data_fingerprint(&[dir.path()]).unwrap().digest);
    }

    #[test]
    fn a_single_file_is_named_by_its_file_name() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(a.path(), "corpus.txt", b"some text");
        write(b.path(), "nested/corpus.txt", b"some text");
        assert_eq!(
            data_fingerprint(&[&a.path().join("corpus.txt")]).unwrap(),
            data_fingerprint(&[&b.path().join("nested/corpus.txt")]).unwrap()
        );
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = data_fingerprint(&[Path::new("/no/such/data")]).unwrap_err();
        assert!(err.to_string().contains("/no/such/data"), "{err}");
    }
}
