//! The crate's error type.

/// Errors of deepzero-sequence.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    /// A configuration or a burn layer this crate does not model.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An argument out of its valid range (lengths, shapes, sizes).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// `Result` with [`SequenceError`].
pub type Result<T> = std::result::Result<T, SequenceError>;
