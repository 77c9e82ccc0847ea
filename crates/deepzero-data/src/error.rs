//! The crate's one error type.
//!
//! Every variant that comes from a file or directory carries its path, and every message is
//! one line that starts with that path, so a user reading a log knows which file to look at
//! and what is wrong with it.

use std::path::PathBuf;

/// An error while reading, writing, decoding or checking data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The operating system refused an operation on a file (open, read, write, create).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A data directory that was asked for is not there.
    #[error("data directory {} does not exist", path.display())]
    MissingDir {
        /// The directory.
        path: PathBuf,
    },

    /// None of the accepted spellings of a required file exists in a directory.
    #[error("{}: no {what} file (looked for {})", dir.display(), tried.join(", "))]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// What the file holds, e.g. `"train images"`.
        what: String,
        /// The file names that were tried.
        tried: Vec<String>,
    },

    /// A file ends before the data its header announces.
    #[error("{}: truncated: expected {expected} bytes of {what}, found {found}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is short: `"header"`, `"pixel data"`, `"label data"`.
        what: &'static str,
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        found: u64,
    },

    /// A file holds more bytes than its header announces.
    #[error(
        "{}: {extra} trailing bytes after the {expected} bytes the header describes",
        path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes beyond that.
        extra: u64,
    },

    /// The first four bytes are not the magic number of the expected IDX kind.
    #[error("{}: bad magic {found:#010x}, expected {expected:#010x} ({kind})", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// What the expected magic stands for, e.g. `"IDX images"`.
        kind: &'static str,
    },

    /// A header is well formed but describes impossible data (a zero or overflowing size).
    #[error("{}: bad header: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A label is not a valid class index.
    #[error("{}: label {label} at index {index} out of range 0..{num_classes}", path.display())]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// The offending label.
        label: usize,
        /// Its position in the file.
        index: usize,
        /// The number of classes (labels must be below it).
        num_classes: usize,
    },

    /// An images file and its labels file disagree on the number of examples.
    #[error(
        "{}: {images} images but {} has {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },

    /// The `image` crate could not decode a file.
    // The decoders' messages may end in a newline (the JPEG decoder's do): kept to one line.
    #[error("{}: cannot decode image: {}", path.display(), one_line(source))]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },

    /// A file's (uncompressed) SHA-256 differs from the one expected.
    #[error("{}: checksum mismatch: expected {expected}, got {got}", path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Expected hex digest.
        expected: String,
        /// Digest computed.
        got: String,
    },

    /// A file's (uncompressed) length differs from the one expected.
    #[error("{}: size mismatch: expected {expected} bytes uncompressed, got {got}", path.display())]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Expected length.
        expected: u64,
        /// Length found.
        got: u64,
    },

    /// An image-folder root holds no class sub-folder with images.
    #[error("no class sub-folders with images in {}", path.display())]
    EmptyFolder {
        /// The root directory.
        path: PathBuf,
    },

    /// A class sub-folder of an image folder holds no image.
    #[error("{}: class folder has no .png, .jpg or .jpeg images", path.display())]
    EmptyClass {
        /// The class directory.
        path: PathBuf,
    },

    /// A corpus file or folder that is not what its reader expects; the message names the file
    /// (and the line, where there is one).
    #[error("{0}")]
    Corpus(String),

    /// A file, or what decompressing it produces, is larger than the configured limit (see
    /// [`crate::limits`]).
    #[error("{}: {what} exceeds the limit of {limit} bytes (set {env} to raise it)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// `"file"` or `"decompressed data"`.
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
        /// The environment variable that sets the limit.
        env: &'static str,
    },

    /// A train, validation or test split too small for its use (see [`crate::check_split`]).
    #[error("{split} split of {size} items: {reason}")]
    SplitTooSmall {
        /// `"test"`, `"validation"`, `"training"`.
        split: String,
        /// Items in the split.
        size: usize,
        /// What it lacks.
        reason: String,
    },

    /// Arguments or in-memory data that do not fit together (no file involved).
    #[error("invalid data: {0}")]
    Invalid(String),

    /// A request option out of its range; the message names the option (e.g. `--near`).
    #[error("{0}")]
    BadOption(String),
}

/// `error`'s message with every run of whitespace (newlines included) made one space.
fn one_line(error: &impl std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
