//! `deepzero serve RUN…`: serve trained image and text classifiers over HTTP with
//! [`deepzero_serve`] (dynamic batching, health, limits, graceful shutdown on Ctrl-C/SIGTERM).
//!
//! ```text
//! deepzero train mnist-lenet --epochs 1 --out runs/lenet
//! deepzero serve runs/lenet --port 8080
//! curl -s --data-binary @digit.png -H 'Content-Type: image/png' \
//!     http://127.0.0.1:8080/v1/models/lenet/predict
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use deepzero_serve::{BatchConfig, ServeConfig, Server};
use deepzero_train::device::Backend;

use crate::error::CliError;

/// The options of `deepzero serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Run folders to serve (image or text classifiers); each is served as
    /// /v1/models/FOLDER-NAME/predict.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The most requests in one forward pass (1: no batching).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_batch: usize,
    /// How long the first request of a batch waits for others, in milliseconds (0: a batch
    /// is what queued up while the previous one ran).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub max_wait_ms: u64,
    /// The largest request body, in MiB.
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub max_body_mib: usize,
    /// The widest or tallest image accepted, in pixels.
    #[arg(long, default_value_t = 4096, value_name = "PX")]
    pub max_image_side: u32,
    /// How long one request may take, in seconds.
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub timeout_s: u64,
    /// Threads answering HTTP (the models have their own).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub workers: usize,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[arg(long)]
    pub backend: Option<String>,
}

impl ServeArgs {
    /// The library's settings from the options.
    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            batch: BatchConfig {
                max_batch: self.max_batch,
                max_wait: Duration::from_millis(self.max_wait_ms),
                ..BatchConfig::default()
            },
            max_body_bytes: self.max_body_mib.saturating_mul(1 << 20),
            max_image_side: self.max_image_side,
            request_timeout: Duration::from_secs(self.timeout_s),
            workers: self.workers,
            ..ServeConfig::default()
        }
    }
}

/// `deepzero serve RUN…`: loads the runs, prints the routes and serves until Ctrl-C.
pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let device = Backend::resolve(args.backend.as_deref())?.device()?;
    let server = Server::load(&args.runs, args.config(), &device)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let models = server.models();
    server
        .run_until_signal(SocketAddr::new(args.host, args.port), |addr| {
            for model in &models {
                println!(
                    "serving {} ({}, {} classes): POST http://{addr}/v1/models/{}/predict",
                    model.run.display(),
                    model.recipe,
                    model.classes.len(),
                    model.name
                );
            }
            println!("health: GET http://{addr}/health; Ctrl-C stops");
        })
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("stopped");
    Ok(())
}
