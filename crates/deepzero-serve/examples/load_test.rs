//! Load test of `deepzero-serve` on loopback: starts the server on 127.0.0.1 with batching on
//! (up to 32 inputs, `--max-wait-ms 0` by default) and off (batch size 1), runs 1, 8 and 32 concurrent clients for a
//! bounded time each, and prints throughput and p50/p99 latency.
//!
//! ```text
//! cargo run --release -p deepzero-serve --example load_test               # LeNet, 1 s a level
//! cargo run --release -p deepzero-serve --example load_test -- \
//!     --model resnet18 --seconds 10 --clients 1,8,32
//! cargo run --release -p deepzero-serve --example load_test -- --run runs/lenet
//! ```
//!
//! `--model lenet` (default) serves an untrained `mnist-lenet`-shaped run (1×28×28, 10
//! classes), `--model resnet18` an untrained ImageNet ResNet-18 as `deepzero import` writes it
//! (resize 256, crop 224, 1000 classes); `--run DIR` serves a trained run folder instead.
//! Every request is bounded in time (`--seconds` per level) and count (100 000 per level), and
//! only ever goes to 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::prelude::Device;
use deepzero_serve::batch::BatchConfig;
use deepzero_serve::{ServeConfig, Server, fixtures};
use image::{Rgb, RgbImage};

/// Requests per concurrency level, at most.
const MAX_REQUESTS: usize = 100_000;

struct Options {
    model: String,
    run: Option<PathBuf>,
    seconds: f64,
    clients: Vec<usize>,
    /// Batching "on": the largest batch and the longest wait.
    max_batch: usize,
    max_wait_ms: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        model: "lenet".into(),
        run: None,
        seconds: 1.0,
        clients: vec![1, 8, 32],
        max_batch: 32,
        max_wait_ms: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--model" => options.model = value()?,
            "--run" => options.run = Some(value()?.into()),
            "--seconds" => {
                options.seconds = value()?
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s <= 600.0)
                    .ok_or("--seconds takes a number in (0, 600]")?
            }
            "--clients" => {
                options.clients = value()?
                    .split(',')
                    .map(|c| {
                        c.trim()
                            .parse()
                            .ok()
                            .filter(|&c: &usize| (1..=256).contains(&c))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or("--clients takes numbers in 1..=256, comma-separated")?
            }
            "--max-batch" => {
                options.max_batch = value()?
                    .parse()
                    .ok()
                    .filter(|&b: &usize| b >= 1)
                    .ok_or("--max-batch takes a positive number")?
            }
            "--max-wait-ms" => {
                options.max_wait_ms = value()?
                    .parse()
                    .map_err(|_| "--max-wait-ms takes milliseconds")?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// One level's figures.
struct Level {
    clients: usize,
    requests: usize,
    errors: usize,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    mean_batch: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn health_counts(agent: &ureq::Agent, url: &str) -> (f64, f64) {
    let text = agent
        .get(url)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let model = &json["models"][0];
    (
        model["batches"].as_f64().unwrap_or(0.0),
        model["inputs"].as_f64().unwrap_or(0.0),
    )
}

fn run_level(url: &str, health: &str, body: &Arc<Vec<u8>>, clients: usize, seconds: f64) -> Level {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let (batches0, inputs0) = health_counts(&agent, health);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let per_client = MAX_REQUESTS / clients;
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (url, body) = (url.to_string(), Arc::clone(body));
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                let mut latencies = Vec::new();
                let mut errors = 0;
                for _ in 0..per_client {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let ok = agent
                        .post(&url)
                        .header("Content-Type", "image/png")
                        .send(&body[..])
                        .ok()
                        .filter(|r| r.status() == 200)
                        .and_then(|mut r| r.body_mut().read_to_string().ok())
                        .is_some();
                    if ok {
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (l, e) = thread.join().expect("client thread");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let (batches1, inputs1) = health_counts(&agent, health);
    let batches = batches1 - batches0;
    Level {
        clients,
        requests: latencies.len(),
        errors,
        throughput: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        mean_batch: if batches > 0.0 {
            (inputs1 - inputs0) / batches
        } else {
            0.0
        },
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode a PNG in memory");
    bytes
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    let scratch = tempfile::tempdir()?;
    let (run, body) = match (&options.run, options.model.as_str()) {
        (Some(run), _) => {
            let info = deepzero_vision::tasks::classify::ImageRunInfo::load(run, None)?;
            let [_, h, w] = info.input_shape;
            (run.clone(), png(w as u32, h as u32))
        }
        (None, "lenet") => {
            let run = scratch.path().join("lenet");
            fixtures::write_lenet_run(&run)?;
            (run, png(28, 28))
        }
        (None, "resnet18") => {
            let run = scratch.path().join("resnet18");
            fixtures::write_resnet18_run(&run)?;
            (run, png(224, 224))
        }
        (None, other) => return Err(format!("--model is lenet or resnet18, not {other}").into()),
    };
    let body = Arc::new(body);
    println!(
        "load test: {} ({} bytes a request), {} s a level, 127.0.0.1, {} cores",
        run.display(),
        body.len(),
        options.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    forward_only(&run, &body, &options)?;
    println!(
        "{:<14} {:>7} {:>9} {:>7} {:>9} {:>9} {:>10} {:>6}",
        "batching", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms", "batch"
    );
    let mut at_most_clients = Vec::new();
    let on = BatchConfig {
        max_batch: options.max_batch,
        max_wait: Duration::from_millis(options.max_wait_ms),
        ..BatchConfig::default()
    };
    let on_label = format!("on ({}, {} ms)", options.max_batch, options.max_wait_ms);
    for (label, batch) in [
        (on_label.as_str(), on),
        ("off (1)", BatchConfig::unbatched()),
    ] {
        let config = ServeConfig {
            batch,
            ..ServeConfig::default()
        };
        let server = Server::load(std::slice::from_ref(&run), config, &Device::flex())?
            .spawn("127.0.0.1:0".parse()?)?;
        let name = server_model_name(&run);
        let url = format!("http://{}/v1/models/{name}/predict", server.addr());
        let health = format!("http://{}/health", server.addr());
        // Warm-up: the first forward passes allocate.
        run_level(&url, &health, &body, 2, 0.3);
        let mut last = 0.0;
        for &clients in &options.clients {
            let level = run_level(&url, &health, &body, clients, options.seconds);
            println!(
                "{:<14} {:>7} {:>9} {:>7} {:>9.1} {:>9.2} {:>10.2} {:>6.1}",
                label,
                level.clients,
                level.requests,
                level.errors,
                level.throughput,
                level.p50_ms,
                level.p99_ms,
                level.mean_batch
            );
            last = level.throughput;
        }
        at_most_clients.push(last);
        server.shutdown()?;
    }
    if let [on, off] = at_most_clients[..] {
        println!(
            "batching at {} clients: {:.2}× the throughput of batch size 1",
            options.clients.last().copied().unwrap_or(0),
            on / off.max(f64::MIN_POSITIVE)
        );
    }
    Ok(())
}

/// The model alone, without HTTP: images per second of one forward pass at batch sizes 1, 8
/// and 32 (the most batching can gain).
fn forward_only(
    run: &std::path::Path,
    body: &[u8],
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>> {
    use deepzero_vision::tasks::classify::{InvertMode, Predictor};
    let device = Device::flex();
    let predictor = Predictor::load(run, None, &device)?;
    let image = deepzero_serve::decode_image(body, 4096)?;
    let item = predictor.info().prepare_image(&image, InvertMode::Never)?;
    let mut line = String::from("model alone (images/s):");
    for batch in [1, 8, 32] {
        let items = vec![item.clone(); batch];
        let names = vec![PathBuf::new(); batch];
        predictor.predict_items(&names, &items, 5)?; // warm-up
        let start = Instant::now();
        let mut images = 0;
        while start.elapsed().as_secs_f64() < options.seconds.min(5.0) || images == 0 {
            predictor.predict_items(&names, &items, 5)?;
            images += batch;
        }
        line += &format!(
            " batch {batch}: {:.1}",
            images as f64 / start.elapsed().as_secs_f64()
        );
    }
    println!("{line}");
    Ok(())
}

/// The name a run is served under: its folder's name.
fn server_model_name(run: &std::path::Path) -> String {
    run.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into())
}
