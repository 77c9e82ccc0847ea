//! What can go wrong while serving, and the HTTP answer each failure becomes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use deepzero_train::TaskError;

/// A failure of the server or of one request. Every request failure is answered with its
/// [`status`](ServeError::status) and a JSON body `{"error": "<one line>"}`; nothing a client
/// sends ends the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The server's settings make no sense (a zero batch size, two runs of one name).
    #[error("{0}")]
    Config(String),
    /// A run folder cannot be served (missing, of another task, unreadable weights).
    #[error(transparent)]
    Load(#[from] TaskError),
    /// The address cannot be bound, or another socket error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The request is malformed: wrong JSON, not an image, a missing field (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such model or path (404).
    #[error("{0}")]
    NotFound(String),
    /// The body or an image in it exceeds the server's limits (413).
    #[error("{0}")]
    TooLarge(String),
    /// A content type the endpoint does not read (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests are waiting for the model (503).
    #[error("the server is busy: too many requests are waiting; retry later")]
    Busy,
    /// The server is stopping and takes no new work (503).
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The request was not answered in time (504).
    #[error("the request was not answered within {0:?}")]
    Timeout(std::time::Duration),
    /// The model failed on the batch holding this request (500).
    #[error("{0}")]
    Model(String),
}

impl ServeError {
    /// The HTTP status a request that failed this way is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::NotFound(_) => StatusCode::NOT_FOUND,
            ServeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServeError::Busy | ServeError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ServeError::Config(_)
            | ServeError::Load(_)
            | ServeError::Io { .. }
            | ServeError::Model(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
        let context = context.into();
        move |source| ServeError::Io { context, source }
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        let line = message.lines().next().unwrap_or("").to_string();
        json_response(status, &serde_json::json!({ "error": line }))
    }
}
