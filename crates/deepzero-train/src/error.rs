//! Errors of the training loop.

use std::path::PathBuf;

/// Everything that can end a training or evaluation run early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A model or optimiser record could not be saved or loaded.
    #[error("{}: {message}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// What burn reported.
        message: String,
    },
    /// A checkpoint folder is missing a piece or holds something unexpected.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A picture (curves, predictions) could not be drawn or written.
    #[error("{}: {message}", path.display())]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The loss became NaN or infinite; the weights before this step are kept in the last checkpoint.
    #[error(
        "loss is {loss} at epoch {epoch}, step {step}: training stopped (try a lower learning rate; the last good checkpoint is kept)"
    )]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The value seen.
        loss: f64,
    },
    /// A dataset item could not be read or batched.
    #[error("{0}")]
    Data(String),
    /// The run's settings make no sense (for example a batch size of zero).
    #[error("{0}")]
    Config(String),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}
