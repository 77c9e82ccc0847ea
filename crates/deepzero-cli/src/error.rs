//! The CLI's error type: every failure becomes one line on stderr and a non-zero exit.

/// Anything that ends a `deepzero` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wrong arguments or an impossible combination of them.
    #[error("{0}")]
    Usage(String),
    /// A dataset could not be read.
    #[error(transparent)]
    Data(#[from] deepzero_data::DataError),
    /// Training or evaluation failed.
    #[error(transparent)]
    Train(#[from] deepzero_train::TrainError),
    /// Weights could not be imported (`deepzero import`).
    #[error(transparent)]
    Import(#[from] deepzero_vision::ImportError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
}

impl CliError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
