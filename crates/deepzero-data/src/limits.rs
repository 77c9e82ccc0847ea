//! Size limits on reading and decompressing corpus files.
//!
//! Every reader that loads a whole file, or inflates gzip / bzip2 data, goes through these
//! helpers, so a huge or hostile input (`/dev/zero` named as a corpus, a 2 MB gzip that
//! inflates to 2 GB) ends in a one-line error naming the file and the limit instead of
//! exhausting memory. The reads stop one byte past the limit: memory stays bounded by it.
//!
//! | limit | default | environment variable |
//! |---|---|---|
//! | bytes read from one file | 2 GiB | `DEEPZERO_MAX_READ_BYTES` |
//! | bytes after decompressing one file (or one archive member) | 4 GiB | `DEEPZERO_MAX_DECOMPRESSED_BYTES` |
//!
//! The variables take a byte count with an optional binary suffix (`K`, `M`, `G`, `T`:
//! `DEEPZERO_MAX_READ_BYTES=8G`). Library users may also pass a [`ReadLimits`] of their own.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::DataError;

/// Environment variable overriding [`ReadLimits::max_read`].
pub const MAX_READ_ENV: &str = "DEEPZERO_MAX_READ_BYTES";
/// Environment variable overriding [`ReadLimits::max_decompressed`].
pub const MAX_DECOMPRESSED_ENV: &str = "DEEPZERO_MAX_DECOMPRESSED_BYTES";

const GIB: u64 = 1 << 30;

/// How much one reader may read from a file and inflate from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most bytes read from one file (compressed size for a compressed file).
    pub max_read: u64,
    /// Most bytes produced by decompressing one file or one archive member.
    pub max_decompressed: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ReadLimits {
    /// 2 GiB read, 4 GiB decompressed: above every corpus the recipes use (the largest,
    /// MNIST's training images, is 47 MB inflated), far below what would exhaust memory.
    pub const DEFAULT: Self = Self {
        max_read: 2 * GIB,
        max_decompressed: 4 * GIB,
    };

    /// The defaults, overridden by `DEEPZERO_MAX_READ_BYTES` and
    /// `DEEPZERO_MAX_DECOMPRESSED_BYTES` where they are set.
    ///
    /// # Errors
    /// [`DataError::Invalid`] naming the variable when one is set to something other than a
    /// byte count (with an optional `K`/`M`/`G`/`T` suffix).
    pub fn from_env() -> Result<Self, DataError> {
        let mut limits = Self::DEFAULT;
        if let Some(v) = env_bytes(MAX_READ_ENV)? {
            limits.max_read = v;
        }
        if let Some(v) = env_bytes(MAX_DECOMPRESSED_ENV)? {
            limits.max_decompressed = v;
        }
        Ok(limits)
    }
}

fn env_bytes(name: &str) -> Result<Option<u64>, DataError> {
    match std::env::var(name) {
        Ok(value) => parse_bytes(&value).map(Some).ok_or_else(|| {
            DataError::Invalid(format!(
                "{name}={value:?} is not a byte count (e.g. 2147483648 or 2G)"
            ))
        }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(DataError::Invalid(format!("{name} is not valid UTF-8")))
        }
    }
}

/// `"123"`, `"64K"`, `"2G"`, `"1t"` → bytes (binary multiples); `None` for anything else or an
/// overflow.
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 10),
        (i, 'm' | 'M') => (&text[..i], 20),
        (i, 'g' | 'G') => (&text[..i], 30),
        (i, 't' | 'T') => (&text[..i], 40),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// Reads a whole file, refusing it when it holds more than `limit` bytes.
///
/// # Errors
/// [`DataError::Io`] if it cannot be read, [`DataError::TooLarge`] past the limit.
pub fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>, DataError> {
    let io = |e| DataError::io(path, e);
    let file = File::open(path).map_err(io)?;
    // The length on disk refuses a big regular file before reading any of it; `take` bounds
    // what a device or a growing file can feed (`/dev/zero` reports a length of 0).
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(too_large(path, "file", limit, MAX_READ_ENV));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, "file", limit, MAX_READ_ENV));
    }
    Ok(bytes)
}

/// [`read_file_limited`] with the limits of [`ReadLimits::from_env`].
///
/// # Errors
/// As [`read_file_limited`], and [`DataError::Invalid`] for a malformed environment variable.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file_limited(path, ReadLimits::from_env()?.max_read)
}

/// [`read_file`] decoded as UTF-8.
///
/// # Errors
/// As [`read_file`], and [`DataError::Corpus`] naming the byte offset of invalid UTF-8.
pub fn read_text_file(path: &Path) -> Result<String, DataError> {
    String::from_utf8(read_file(path)?).map_err(|e| {
        DataError::Corpus(format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads everything `decoder` produces (a gzip or bzip2 decoder, say), refusing more than
/// `limit` bytes. `path` names the file in errors.
///
/// # Errors
/// [`DataError::Io`] if decoding fails, [`DataError::TooLarge`] past the limit.
pub fn read_decompressed(
    decoder: impl Read,
    path: &Path,
    limit: u64,
) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::new();
    LimitedReader::new(decoder, path, limit)
        .read_to_end(&mut bytes)
        .map_err(|e| into_data_error(path, e))?;
    Ok(bytes)
}

/// A reader that fails once its inner reader has produced more than `limit` bytes. For
/// streaming consumers (a tar archive read through a bzip2 decoder) where
/// [`read_decompressed`] does not fit; turn its errors back with [`into_data_error`].
pub struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    path: PathBuf,
}

impl<R: Read> LimitedReader<R> {
    /// Wraps `inner`; `path` names the file in the error.
    pub fn new(inner: R, path: &Path, limit: u64) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            path: path.to_path_buf(),
        }
    }
}

/// The payload of the I/O error a [`LimitedReader`] returns past its limit.
#[derive(Debug)]
struct LimitExceeded {
    path: PathBuf,
    limit: u64,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            &too_large(
                &self.path,
                "decompressed data",
                self.limit,
                MAX_DECOMPRESSED_ENV,
            )
            .to_string(),
        )
    }
}

impl std::error::Error for LimitExceeded {}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Read at most one byte past the limit: enough to know it is exceeded.
        let cap = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let n = buf.len().min(cap);
        let read = self.inner.read(&mut buf[..n])?;
        if read as u64 > self.remaining {
            return Err(std::io::Error::other(LimitExceeded {
                path: self.path.clone(),
                limit: self.limit,
            }));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// Turns an I/O error met while reading `path` into a [`DataError`]: a [`LimitedReader`]'s
/// refusal becomes [`DataError::TooLarge`], anything else [`DataError::Io`].
pub fn into_data_error(path: &Path, error: std::io::Error) -> DataError {
    if let Some(exceeded) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<LimitExceeded>())
    {
        return too_large(
            &exceeded.path,
            "decompressed data",
            exceeded.limit,
            MAX_DECOMPRESSED_ENV,
        );
    }
    DataError::io(path, error)
}

fn too_large(path: &Path, what: &'static str, limit: u64, env: &'static str) -> DataError {
    DataError::TooLarge {
        path: path.to_path_buf(),
        what,
        limit,
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn byte_counts_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes(" 64K "), Some(64 << 10));
        assert_eq!(parse_bytes("2g"), Some(2 << 30));
        assert_eq!(parse_bytes("1T"), Some(1 << 40));
        assert_eq!(parse_bytes("G"), None);
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(parse_bytes("1.5G"), None);
        assert_eq!(parse_bytes("99999999999999T"), None);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        std::fs::write(&path, vec![b'a'; 100]).unwrap();
        assert_eq!(read_file_limited(&path, 100).unwrap().len(), 100);
        let err = read_file_limited(&path, 99).unwrap_err().to_string();
        assert!(err.contains("big.txt") && err.contains("99 bytes"), "{err}");
        assert!(err.contains(MAX_READ_ENV) && !err.contains('\n'), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_is_cut_at_the_limit() {
        // `/dev/zero` reports a length of 0: only the bounded read stops it.
        let err = read_file_limited(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(
            matches!(err, DataError::TooLarge { limit: 4096, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_gzip_bomb_is_refused_after_limit_plus_one_bytes() {
        // 64 KiB of zeros compress to ~100 bytes; with a 1 KiB limit the decoder must stop
        // after 1 KiB + 1 of output instead of inflating all of it.
        let bomb = gzip(&vec![0u8; 64 << 10]);
        assert!(bomb.len() < 1024);
        let path = Path::new("bomb.gz");
        let err =
            read_decompressed(flate2::read::GzDecoder::new(&bomb[..]), path, 1024).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, DataError::TooLarge { limit: 1024, .. }),
            "{msg}"
        );
        assert!(
            msg.starts_with("bomb.gz: decompressed data") && !msg.contains('\n'),
            "{msg}"
        );
        assert!(msg.contains(MAX_DECOMPRESSED_ENV), "{msg}");

        // Memory stays bounded: the wrapper never hands out more than limit + 1 bytes.
        let mut reader = LimitedReader::new(flate2::read::GzDecoder::new(&bomb[..]), path, 1024);
        let mut total = 0usize;
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("the bomb ended under the limit"),
                Ok(n) => total += n,
                Err(_) => break,
            }
        }
        assert!(total <= 1024, "{total} bytes handed out");

        // Exactly at the limit is fine.
        let exact = gzip(&[7u8; 1024]);
        let out = read_decompressed(flate2::read::GzDecoder::new(&exact[..]), path, 1024).unwrap();
        assert_eq!(out, vec![7u8; 1024]);
    }
}
