//! Serving deepzero run folders over HTTP (seed chapter 7: deploying a trained model).
//!
//! [`Server::load`] reads run folders written by `deepzero train` (or `deepzero import`) — the
//! image classifiers of `deepzero-vision` and the text classifiers of `deepzero-sequence` —
//! and serves each under `POST /v1/models/NAME/predict` with JSON, multipart and raw-image
//! bodies, a `GET /health` endpoint, body and image-size limits, a per-request timeout and a
//! graceful shutdown ([`server`] lists the routes). Concurrent requests to one model are
//! collected by a [`BatchQueue`] into one forward pass of up to [`BatchConfig::max_batch`]
//! inputs (dynamic batching).
//!
//! ```no_run
//! use deepzero_serve::{ServeConfig, Server};
//!
//! # fn main() -> Result<(), deepzero_serve::ServeError> {
//! let device = burn::prelude::Device::flex();
//! let server = Server::load(&["runs/lenet".into()], ServeConfig::default(), &device)?;
//! // Serves on a thread of its own; port 0 picks a free port.
//! let running = server.spawn("127.0.0.1:0".parse().unwrap())?;
//! println!("POST http://{}/v1/models/lenet/predict", running.addr());
//! running.shutdown()?; // answers the requests in flight, then stops
//! # Ok(()) }
//! ```
//!
//! ```text
//! curl -s --data-binary @digit.png -H 'Content-Type: image/png' \
//!     'http://127.0.0.1:8080/v1/models/lenet/predict?top_k=3'
//! {"model":"lenet","predictions":[{"top":[{"class":7,"label":"7","probability":0.98},…]}]}
//! ```
//!
//! `examples/load_test.rs` measures throughput and p50/p99 latency at 1, 8 and 32 concurrent
//! clients with batching on and off (docs/serve.md has the figures).

pub mod batch;
mod error;
pub mod fixtures;
pub mod model;
pub mod options;
pub mod server;

pub use batch::{BatchConfig, BatchQueue};
pub use error::ServeError;
pub use model::{ClassScore, ModelInfo, ModelKind, ServedModel, decode_image};
pub use server::{RunningServer, ServeConfig, Server};
