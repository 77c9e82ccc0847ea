//! The server's settings as a person types them ([`ServeOptions`]: milliseconds, MiB, an
//! address and a port), turned into a [`ServeConfig`]; and what the server says when it is
//! ready ([`ready_message`]); [`ServeOptions::serve`] runs a server with them.
//!
//! With the `clap` feature [`ServeOptions`] is the option group of `deepzero serve`.
//!
//! ```
//! use deepzero_serve::options::ServeOptions;
//!
//! let options = ServeOptions { max_batch: 8, ..ServeOptions::default() };
//! assert_eq!(options.config().batch.max_batch, 8);
//! assert_eq!(options.addr().port(), 8080);
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use burn::prelude::Device;

use crate::{BatchConfig, ModelInfo, ServeConfig, ServeError, Server};

/// Where to listen and how to batch and limit requests, in a person's units.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ServeOptions {
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[cfg_attr(feature = "clap", arg(long, default_value = "127.0.0.1"))]
    pub host: IpAddr,
    /// Port to listen on (0: any free port, printed at start).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8080))]
    pub port: u16,
    /// The most requests in one forward pass (1: no batching).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 32, value_name = "N"))]
    pub max_batch: usize,
    /// How long the first request of a batch waits for others, in milliseconds (0: a batch
    /// is what queued up while the previous one ran).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0, value_name = "MS"))]
    pub max_wait_ms: u64,
    /// The largest request body, in MiB.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 16, value_name = "MIB"))]
    pub max_body_mib: usize,
    /// The widest or tallest image accepted, in pixels.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 4096, value_name = "PX"))]
    pub max_image_side: u32,
    /// How long one request may take, in seconds.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 30, value_name = "S"))]
    pub timeout_s: u64,
    /// Threads answering HTTP (the models have their own).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2, value_name = "N"))]
    pub workers: usize,
}

impl Default for ServeOptions {
    /// 127.0.0.1:8080 and [`ServeConfig::default`]'s batching and limits.
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            max_batch: 32,
            max_wait_ms: 0,
            max_body_mib: 16,
            max_image_side: 4096,
            timeout_s: 30,
            workers: 2,
        }
    }
}

impl ServeOptions {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The server's settings (the rest as [`ServeConfig::default`]).
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

impl ServeOptions {
    /// Loads the runs in `runs` onto `device` and serves them as these options say until
    /// Ctrl-C or SIGTERM ([`Server::run_until_signal`]), handing [`ready_message`] to
    /// `on_ready` once it listens.
    ///
    /// # Errors
    /// As [`Server::load`] and [`Server::run_until_signal`].
    pub fn serve(
        &self,
        runs: &[PathBuf],
        device: &Device,
        on_ready: impl FnOnce(String),
    ) -> Result<(), ServeError> {
        let server = Server::load(runs, self.config(), device)?;
        let models = server.models();
        server.run_until_signal(self.addr(), |addr| on_ready(ready_message(&models, addr)))
    }
}

/// What a server listening on `addr` serves: one line per model with its route, then the
/// health route.
pub fn ready_message(models: &[ModelInfo], addr: SocketAddr) -> String {
    let mut text = String::new();
    for model in models {
        text.push_str(&format!(
            "serving {} ({}, {} classes): POST http://{addr}/v1/models/{}/predict\n",
            model.run.display(),
            model.recipe,
            model.classes.len(),
            model.name
        ));
    }
    text.push_str(&format!("health: GET http://{addr}/health; Ctrl-C stops"));
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ModelKind;

    #[test]
    fn the_defaults_are_the_servers_and_units_convert() {
        let config = ServeOptions::default().config();
        let default = ServeConfig::default();
        assert_eq!(config.batch.max_batch, default.batch.max_batch);
        assert_eq!(config.batch.max_wait, default.batch.max_wait);
        assert_eq!(config.max_body_bytes, default.max_body_bytes);
        assert_eq!(config.max_image_side, default.max_image_side);
        assert_eq!(config.request_timeout, default.request_timeout);
        assert_eq!(config.workers, default.workers);
        let options = ServeOptions {
            max_wait_ms: 5,
            max_body_mib: 2,
            timeout_s: 3,
            port: 0,
            ..ServeOptions::default()
        };
        let config = options.config();
        assert_eq!(config.batch.max_wait, Duration::from_millis(5));
        assert_eq!(config.max_body_bytes, 2 << 20);
        assert_eq!(config.request_timeout, Duration::from_secs(3));
        assert_eq!(options.addr().to_string(), "127.0.0.1:0");
    }

    #[test]
    fn the_ready_message_names_every_route() {
        let model = ModelInfo {
            name: "lenet".into(),
            kind: ModelKind::ImageClassifier,
            recipe: "mnist-lenet".into(),
            classes: vec!["0".into(), "1".into()],
            input_shape: Some([1, 28, 28]),
            run: PathBuf::from("runs/lenet"),
        };
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            ready_message(&[model], addr),
            "serving runs/lenet (mnist-lenet, 2 classes): POST http://127.0.0.1:9000/v1/models/lenet/predict\n\
             health: GET http://127.0.0.1:9000/health; Ctrl-C stops"
        );
    }
}
