//! The HTTP server: routes, request decoding, limits, timeouts and graceful shutdown.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /health` | `{"status": "ok", "models": [{"name", "batches", "inputs", "largest_batch"}]}` |
//! | `GET /v1/models` | the served models ([`ModelInfo`]) |
//! | `POST /v1/models/NAME/predict` | predictions, one per input, in order |
//!
//! `predict` reads, by `Content-Type`:
//! - `image/png`, `image/jpeg`, `application/octet-stream`: one image (image models);
//! - `multipart/form-data`: every part is an image (image models) or a text (text models);
//! - `application/json`: `{"image": BASE64}` / `{"images": [BASE64, …]}` or
//!   `{"text": "…"}` / `{"texts": ["…", …]}`;
//! - `text/plain`: one text (text models).
//!
//! Query parameters: `top_k=N` (image models, default 5) and `invert=auto|always|never` (gray
//! images with a light background are inverted by default, as `deepzero predict` does).
//! Image answers are `{"model": NAME, "predictions": [{"top": [{"class", "label",
//! "probability"}, …]}, …]}`, text answers `{"model": NAME, "predictions": [{"class", "label",
//! "probability"}, …]}`. Every failure is a 4xx/5xx status with `{"error": "<one line>"}`.

use std::collections::HashSet;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use burn::prelude::Device;
use deepzero_vision::tasks::classify::InvertMode;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::ServeError;
use crate::batch::BatchConfig;
use crate::error::json_response;
use crate::model::{ModelInfo, ModelKind, ServedModel, decode_image};

/// How the server batches, what it accepts and how long it waits.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Dynamic batching of each model ([`BatchConfig`]).
    pub batch: BatchConfig,
    /// The largest request body, in bytes (default 16 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// The widest or tallest image accepted, in pixels (default 4096); larger ones get 413
    /// before their pixels are decoded.
    pub max_image_side: u32,
    /// The most inputs (images or texts) in one request (default 64).
    pub max_inputs: usize,
    /// How long one request may take, reading its body included (default 30 s); then 504.
    pub request_timeout: Duration,
    /// How long a shutdown waits for requests in flight before it stops anyway (default 10 s).
    pub shutdown_grace: Duration,
    /// Threads of the async runtime (default 2: the HTTP work is light, the model has its own
    /// thread and burn's thread pool).
    pub workers: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            batch: BatchConfig::default(),
            max_body_bytes: 16 << 20,
            max_image_side: 4096,
            max_inputs: 64,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            workers: 2,
        }
    }
}

impl ServeConfig {
    /// Refuses zero limits.
    pub fn validate(&self) -> Result<(), ServeError> {
        self.batch.validate()?;
        if self.max_body_bytes == 0
            || self.max_image_side == 0
            || self.max_inputs == 0
            || self.workers == 0
            || self.request_timeout.is_zero()
        {
            return Err(ServeError::Config(
                "the body, image, input and thread limits and the timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Loaded models and the settings to serve them with.
pub struct Server {
    models: Vec<Arc<ServedModel>>,
    config: ServeConfig,
}

struct AppState {
    models: Vec<Arc<ServedModel>>,
    config: ServeConfig,
    stopping: AtomicBool,
}

impl AppState {
    fn model(&self, name: &str) -> Result<&Arc<ServedModel>, ServeError> {
        self.models
            .iter()
            .find(|m| m.info().name == name)
            .ok_or_else(|| ServeError::NotFound(format!("no model named `{name}` is served")))
    }
}

impl Server {
    /// Loads every run folder (named after the folder: `runs/lenet` is served as `lenet`).
    ///
    /// # Errors
    /// A run that cannot be served ([`ServedModel::load`]), two runs of one name, bad `config`.
    pub fn load(
        runs: &[PathBuf],
        config: ServeConfig,
        device: &Device,
    ) -> Result<Self, ServeError> {
        config.validate()?;
        if runs.is_empty() {
            return Err(ServeError::Config(
                "give at least one run folder to serve".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut models = Vec::with_capacity(runs.len());
        for run in runs {
            let name = run
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| run.display().to_string());
            if !names.insert(name.clone()) {
                return Err(ServeError::Config(format!(
                    "two runs are named `{name}`; serve folders of different names"
                )));
            }
            models.push(ServedModel::load(run, &name, config.batch, device)?);
        }
        Ok(Self::with_models(models, config))
    }

    /// Serves models loaded already.
    pub fn with_models(models: Vec<ServedModel>, config: ServeConfig) -> Self {
        Self {
            models: models.into_iter().map(Arc::new).collect(),
            config,
        }
    }

    /// What is served.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models.iter().map(|m| m.info().clone()).collect()
    }

    /// Serves on `listener` until `shutdown` completes; then takes no new requests, answers
    /// those in flight (for at most [`ServeConfig::shutdown_grace`]) and stops the batch threads.
    ///
    /// # Errors
    /// A socket error of the listener.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let state = Arc::new(AppState {
            models: self.models,
            config: self.config,
            stopping: AtomicBool::new(false),
        });
        let grace = state.config.shutdown_grace;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let signal_state = Arc::clone(&state);
        let signal = async move {
            shutdown.await;
            signal_state.stopping.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        };
        let server = axum::serve(listener, router(Arc::clone(&state)))
            .with_graceful_shutdown(signal)
            .into_future();
        let out_of_grace = async move {
            let _ = stop_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            served = server => served.map_err(ServeError::io("serving")),
            () = out_of_grace => {
                log::warn!("requests still open after the {grace:?} shutdown grace; stopping anyway");
                Ok(())
            }
        };
        // Joining the batch threads blocks: off the async workers.
        let models = state.models.clone();
        let _ = tokio::task::spawn_blocking(move || models.iter().for_each(|m| m.shutdown())).await;
        result
    }

    /// Binds `addr` and serves on a thread of its own until [`RunningServer::shutdown`] (or
    /// drop). Port 0 picks a free port ([`RunningServer::addr`]).
    ///
    /// # Errors
    /// The runtime cannot start or the address cannot be bound.
    pub fn spawn(self, addr: SocketAddr) -> Result<RunningServer, ServeError> {
        let runtime = runtime(self.config.workers)?;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(ServeError::io(format!("cannot listen on {addr}")))?;
        let addr = listener
            .local_addr()
            .map_err(ServeError::io("listening socket"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("deepzero-serve".into())
            .spawn(move || {
                runtime.block_on(self.serve(listener, async {
                    let _ = stopped.await;
                }))
            })
            .map_err(ServeError::io("cannot start the server thread"))?;
        Ok(RunningServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Binds `addr`, calls `on_ready` with the bound address, and serves until Ctrl-C or
    /// SIGTERM, then shuts down gracefully (what `deepzero serve` runs).
    ///
    /// # Errors
    /// The runtime cannot start, the address cannot be bound, or a socket error.
    pub fn run_until_signal(
        self,
        addr: SocketAddr,
        on_ready: impl FnOnce(SocketAddr),
    ) -> Result<(), ServeError> {
        let runtime = runtime(self.config.workers)?;
        runtime.block_on(async move {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(ServeError::io(format!("cannot listen on {addr}")))?;
            let bound = listener
                .local_addr()
                .map_err(ServeError::io("listening socket"))?;
            on_ready(bound);
            self.serve(listener, shutdown_signal()).await
        })
    }
}

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("deepzero-http")
        .enable_all()
        .build()
        .map_err(ServeError::io("cannot start the async runtime"))
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A server serving on its own thread ([`Server::spawn`]).
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts down gracefully and waits until the server and its batch threads have stopped.
    ///
    /// # Errors
    /// What ended the server, if it failed.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Model("the server thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}/predict", post(predict))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let stopping = state.stopping.load(Ordering::SeqCst);
    let models: Vec<_> = state
        .models
        .iter()
        .map(|m| {
            let (batches, inputs, largest) = m.batch_stats();
            json!({"name": m.info().name, "batches": batches, "inputs": inputs, "largest_batch": largest})
        })
        .collect();
    let (status, word) = if stopping {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting-down")
    } else {
        (StatusCode::OK, "ok")
    };
    json_response(status, &json!({"status": word, "models": models}))
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let models: Vec<_> = state.models.iter().map(|m| m.info().clone()).collect();
    json_response(StatusCode::OK, &json!({ "models": models }))
}

async fn not_found(request: Request) -> Response {
    ServeError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": format!("{} is not allowed on {}", request.method(), request.uri().path())}),
    )
}

async fn predict(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    if state.stopping.load(Ordering::SeqCst) {
        return ServeError::ShuttingDown.into_response();
    }
    let timeout = state.config.request_timeout;
    let answer = tokio::time::timeout(timeout, answer(Arc::clone(&state), name, request)).await;
    match answer {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => e.into_response(),
        Err(_) => ServeError::Timeout(timeout).into_response(),
    }
}

/// The query parameters of `predict`.
struct Options {
    top_k: usize,
    invert: InvertMode,
}

fn parse_query(query: Option<&str>) -> Result<Options, ServeError> {
    let mut options = Options {
        top_k: 5,
        invert: InvertMode::Auto,
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "top_k" => {
                options.top_k = value.parse().ok().filter(|&k| k > 0).ok_or_else(|| {
                    ServeError::BadRequest(format!(
                        "top_k must be a positive integer, not `{value}`"
                    ))
                })?
            }
            "invert" => {
                options.invert = match value {
                    "auto" => InvertMode::Auto,
                    "always" => InvertMode::Always,
                    "never" => InvertMode::Never,
                    other => {
                        return Err(ServeError::BadRequest(format!(
                            "invert must be auto, always or never, not `{other}`"
                        )));
                    }
                }
            }
            other => {
                return Err(ServeError::BadRequest(format!(
                    "unknown query parameter `{other}` (top_k, invert)"
                )));
            }
        }
    }
    Ok(options)
}

/// What a request body holds, before decoding.
enum Inputs {
    Images(Vec<Bytes>),
    Texts(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    image: Option<String>,
    images: Option<Vec<String>>,
    text: Option<String>,
    texts: Option<Vec<String>>,
}

async fn answer(
    state: Arc<AppState>,
    name: String,
    request: Request,
) -> Result<Response, ServeError> {
    let model = Arc::clone(state.model(&name)?);
    let options = parse_query(request.uri().query())?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let limit = state.config.max_body_bytes;
    let inputs = match mime.as_str() {
        "multipart/form-data" => read_multipart(request, &state, model.info().kind).await?,
        "application/json" => {
            let body = read_body(request.into_body(), limit).await?;
            let parsed: JsonBody = serde_json::from_slice(&body)
                .map_err(|e| ServeError::BadRequest(format!("invalid JSON body: {e}")))?;
            json_inputs(parsed)?
        }
        "text/plain" => {
            let body = read_body(request.into_body(), limit).await?;
            let text = String::from_utf8(body.to_vec())
                .map_err(|_| ServeError::BadRequest("the text is not valid UTF-8".into()))?;
            Inputs::Texts(vec![text])
        }
        m if m.starts_with("image/") || m == "application/octet-stream" => {
            Inputs::Images(vec![read_body(request.into_body(), limit).await?])
        }
        "" => {
            return Err(ServeError::UnsupportedMediaType(
                "the request has no Content-Type (image/png, image/jpeg, multipart/form-data, application/json or text/plain)".into(),
            ));
        }
        other => {
            return Err(ServeError::UnsupportedMediaType(format!(
                "Content-Type `{other}` is not read (image/png, image/jpeg, multipart/form-data, application/json or text/plain)"
            )));
        }
    };
    let (count, kind) = match &inputs {
        Inputs::Images(v) => (v.len(), ModelKind::ImageClassifier),
        Inputs::Texts(v) => (v.len(), ModelKind::TextClassifier),
    };
    if kind != model.info().kind {
        let wants = match model.info().kind {
            ModelKind::ImageClassifier => "images",
            ModelKind::TextClassifier => "texts",
        };
        return Err(ServeError::BadRequest(format!(
            "model `{name}` takes {wants}"
        )));
    }
    if count == 0 {
        return Err(ServeError::BadRequest("the request holds no input".into()));
    }
    if count > state.config.max_inputs {
        return Err(ServeError::TooLarge(format!(
            "{count} inputs in one request; the server takes at most {}",
            state.config.max_inputs
        )));
    }
    let predictions = match inputs {
        Inputs::Images(images) => {
            let max_side = state.config.max_image_side;
            let mut items = Vec::with_capacity(images.len());
            for bytes in images {
                let model = Arc::clone(&model);
                let invert = options.invert;
                // Decoding and resizing are CPU work: off the async workers, in parallel with
                // the model's thread.
                let item = tokio::task::spawn_blocking(move || {
                    let image = decode_image(&bytes, max_side)?;
                    model.prepare_image(&image, invert)
                })
                .await
                .map_err(|e| ServeError::Model(format!("image decoding failed: {e}")))??;
                items.push(item);
            }
            let tops = model.classify_images(items, options.top_k).await?;
            tops.into_iter()
                .map(|top| json!({ "top": top }))
                .collect::<Vec<_>>()
        }
        Inputs::Texts(texts) => model
            .classify_texts(texts)
            .await?
            .into_iter()
            .map(|score| json!(score))
            .collect(),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"model": name, "predictions": predictions}),
    ))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ServeError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let message = e.to_string();
        if message.contains("length limit") {
            ServeError::TooLarge(format!(
                "the body is larger than the server's limit of {limit} bytes"
            ))
        } else {
            ServeError::BadRequest(format!("cannot read the body: {message}"))
        }
    })
}

fn json_inputs(body: JsonBody) -> Result<Inputs, ServeError> {
    let images: Vec<String> = body
        .image
        .into_iter()
        .chain(body.images.into_iter().flatten())
        .collect();
    let texts: Vec<String> = body
        .text
        .into_iter()
        .chain(body.texts.into_iter().flatten())
        .collect();
    match (images.is_empty(), texts.is_empty()) {
        (false, true) => {
            let engine = base64::engine::general_purpose::STANDARD;
            let decoded = images
                .iter()
                .enumerate()
                .map(|(i, b64)| {
                    engine.decode(b64.trim()).map(Bytes::from).map_err(|e| {
                        ServeError::BadRequest(format!("image {i} is not valid base64: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Inputs::Images(decoded))
        }
        (true, false) => Ok(Inputs::Texts(texts)),
        (false, false) => Err(ServeError::BadRequest(
            "give images or texts in one request, not both".into(),
        )),
        (true, true) => Err(ServeError::BadRequest(
            "the JSON body needs `image`, `images`, `text` or `texts`".into(),
        )),
    }
}

/// The parts of a multipart body: images for an image model, UTF-8 texts for a text model.
async fn read_multipart(
    request: Request,
    state: &Arc<AppState>,
    kind: ModelKind,
) -> Result<Inputs, ServeError> {
    let multipart_error = |status: StatusCode, text: String| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ServeError::TooLarge(text)
        } else {
            ServeError::BadRequest(text)
        }
    };
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| multipart_error(e.status(), e.body_text()))?;
    let mut parts = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| multipart_error(e.status(), e.body_text()))?;
                parts.push(bytes);
                if parts.len() > state.config.max_inputs {
                    return Err(ServeError::TooLarge(format!(
                        "more than {} inputs in one request",
                        state.config.max_inputs
                    )));
                }
            }
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e.status(), e.body_text())),
        }
    }
    match kind {
        ModelKind::ImageClassifier => Ok(Inputs::Images(parts)),
        ModelKind::TextClassifier => parts
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ServeError::BadRequest(format!("part {i} is not valid UTF-8 text"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Inputs::Texts),
    }
}
