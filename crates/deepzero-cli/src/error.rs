//! The CLI's error type: every failure becomes one line on stderr and a non-zero exit.

use deepzero_train::TaskError;

/// Anything that ends a `deepzero` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wrong arguments or an impossible combination of them.
    #[error("{0}")]
    Usage(String),
    /// A task failed (bad data, a run folder it cannot use, training stopped …).
    #[error(transparent)]
    Task(#[from] TaskError),
}

macro_rules! through_task_error {
    ($($from:ty),*) => {$(
        impl From<$from> for CliError {
            fn from(e: $from) -> Self {
                CliError::Task(e.into())
            }
        }
    )*};
}

through_task_error!(
    deepzero_data::DataError,
    deepzero_train::TrainError,
    deepzero_train::device::BackendError,
    deepzero_vision::ImportError,
    deepzero_recsys::RecsysError,
    deepzero_graph::GraphError,
    deepzero_multimodal::MultimodalError
);
