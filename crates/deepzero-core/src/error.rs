//! The one error type of this crate.

use burn::tensor::TensorReadError;

/// Everything that can go wrong in `deepzero-core` without being a programming error.
///
/// Shape mistakes inside tensor maths panic inside burn (as burn's own ops do); this type covers
/// what a caller can reasonably recover from: reading a tensor back to the host, mismatched
/// lengths or out-of-range labels given to a metric, and invalid hyper-parameters.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A tensor could not be read back from its device.
    #[error("could not read tensor data: {0}")]
    TensorRead(#[from] TensorReadError),
    /// Two inputs that must have the same length or shape do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A class label is not below the number of classes.
    #[error("label {label} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: usize,
        /// The number of classes it was checked against.
        num_classes: usize,
    },
    /// An argument (hyper-parameter, k, class count) is outside its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The backward pass produced no gradient for the input that was asked about.
    #[error("no gradient was recorded for the input (is autodiff compiled in?)")]
    NoGradient,
}

/// Shorthand for `Result<T, CoreError>`.
pub type Result<T> = core::result::Result<T, CoreError>;
