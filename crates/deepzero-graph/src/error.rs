//! The crate's error type: one line of text, naming the file and line where input was bad.

use std::path::{Path, PathBuf};

/// Errors of deepzero-graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A data file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A data file is malformed at a given line (1-based).
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An argument or a combination of inputs makes no sense (a walk length of 0, a split
    /// that does not match the node count, …).
    #[error("{0}")]
    Invalid(String),
    /// A tensor could not be read back from the device.
    #[error("cannot read a tensor back: {0}")]
    Tensor(String),
    /// Writing a run folder, a record or a picture failed.
    #[error(transparent)]
    Train(#[from] deepzero_train::TrainError),
}

impl GraphError {
    /// Maps an I/O error on `path` (`.map_err(GraphError::io(&path))`).
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GraphError + '_ {
        move |source| GraphError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A parse error at `path:line`.
    pub fn parse(path: &Path, line: usize, message: impl Into<String>) -> GraphError {
        GraphError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// [`GraphError::Invalid`] from anything printable.
    pub fn invalid(message: impl Into<String>) -> GraphError {
        GraphError::Invalid(message.into())
    }
}

/// `Result` with [`GraphError`].
pub type Result<T> = std::result::Result<T, GraphError>;

deepzero_train::impl_task_error_from!(GraphError);
