//! `deepzero serve RUN…`: serve trained image and text classifiers over HTTP with
//! [`deepzero_serve`] (dynamic batching, health, limits, graceful shutdown on Ctrl-C/SIGTERM).
//!
//! ```text
//! deepzero train mnist-lenet --epochs 1 --out runs/lenet
//! deepzero serve runs/lenet --port 8080
//! curl -s --data-binary @digit.png -H 'Content-Type: image/png' \
//!     http://127.0.0.1:8080/v1/models/lenet/predict
//! ```

use std::path::PathBuf;

use deepzero_serve::options::ServeOptions;
use deepzero_train::device::Backend;

use crate::error::CliError;

/// The options of `deepzero serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Run folders to serve (image or text classifiers); each is served as
    /// /v1/models/FOLDER-NAME/predict.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: ServeOptions,
    /// Compute backend: flex (default), ndarray, wgpu, cuda; or set BURN_DEVICE.
    #[arg(long)]
    pub backend: Option<String>,
}

/// `deepzero serve RUN…`: loads the runs, prints the routes and serves until Ctrl-C.
pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let device = Backend::resolve(args.backend.as_deref())?.device()?;
    let ready = |message: String| println!("{message}");
    let usage = |e: deepzero_serve::ServeError| CliError::Usage(e.to_string());
    args.options
        .serve(&args.runs, &device, ready)
        .map_err(usage)?;
    println!("stopped");
    Ok(())
}
