//! The crate's error type.
//!
//! Every message is one line; those that come from a file start with the file (and the line
//! number where there is one), so a user knows where to look.

use std::path::PathBuf;

/// Errors of deepzero-recsys.
#[derive(Debug, thiserror::Error)]
pub enum RecsysError {
    /// The operating system refused an operation on a file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a data file could not be understood.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A data folder has none of the layouts this crate reads.
    #[error("{}: {message}", path.display())]
    Layout {
        /// The folder.
        path: PathBuf,
        /// What was looked for.
        message: String,
    },
    /// An argument out of its valid range (folds, k, sizes, empty data).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A user id the model never saw (and no cold-start path applies).
    #[error("unknown user id {0}")]
    UnknownUser(u64),
    /// An item id the model never saw.
    #[error("unknown item id {0}")]
    UnknownItem(u64),
    /// A run folder that is missing a piece, comes from another task or another version.
    #[error("{}: {message}", path.display())]
    Run {
        /// The run folder or the file in it.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The training glue failed (writing files, records).
    #[error(transparent)]
    Train(#[from] deepzero_train::TrainError),
}

impl RecsysError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RecsysError {
        let path = path.into();
        move |source| RecsysError::Io { path, source }
    }
}

/// `Result` with [`RecsysError`].
pub type Result<T> = std::result::Result<T, RecsysError>;

deepzero_train::impl_task_error_from!(RecsysError);
