//! The crate's error type.

use deepzero_data::DataError;
use deepzero_train::TrainError;

/// What can go wrong in this crate, as one line.
#[derive(Debug, thiserror::Error)]
pub enum MultimodalError {
    /// An argument or input makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// Scene data could not be made or read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file of a run could not be read or written.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A Hugging Face checkpoint folder could not be read.
    #[error(transparent)]
    Hf(#[from] deepzero_sequence::hf::HfError),
}

impl From<MultimodalError> for deepzero_train::TaskError {
    fn from(e: MultimodalError) -> Self {
        match e {
            MultimodalError::Invalid(m) => Self::Invalid(m),
            MultimodalError::Data(d) => Self::Data(d),
            MultimodalError::Train(t) => Self::Train(t),
            MultimodalError::Hf(h) => Self::invalid(h.to_string()),
        }
    }
}
