//! Training-throughput benchmarks beside PyTorch.
//!
//! Each workload is one training step (batch to device → forward → cross-entropy → backward →
//! optimiser step → loss read back) repeated on fixed random data. We time `steps` steps after
//! `warmup` steps, `repeats` times, and report the median samples/s. When `python3 -c "import
//! torch"` works, `xtask/peers/torch_bench.py` runs the identical workload in PyTorch (CPU, all
//! cores) in the same run, and the table shows ours / PyTorch.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use deepzero_cli::Backend;
use deepzero_core::OptimizerKind;
use deepzero_data::ImageBatch;
use deepzero_train::Supervised;
use deepzero_vision::{Architecture, ImageModel};
use serde::Serialize;

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Repeats; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Only these workloads (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Skip the PyTorch peer.
    #[arg(long)]
    pub no_peer: bool,
    /// Where to write results.json and results.md.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
}

/// A benchmark workload.
struct Workload {
    name: &'static str,
    batch_size: usize,
    description: &'static str,
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "mnist-mlp",
        batch_size: 128,
        description: "MLP 784-512-256-10 (dropout 0.2), Adam, batch 128, train step",
    },
    Workload {
        name: "mnist-lenet",
        batch_size: 64,
        description: "LeNet-5 (6-16 conv 5x5, 120-84-10), Adam, batch 64, train step",
    },
];

/// One row of `results.json`.
#[derive(Debug, Serialize)]
pub struct BenchRow {
    workload: String,
    backend: String,
    batch_size: usize,
    samples_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_samples_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `steps` training steps of `model`, returning samples/s per repeat.
fn time_training(
    mut model: ImageModel,
    device: &Device,
    batch_size: usize,
    args: &BenchArgs,
) -> Vec<f64> {
    // Fixed random data built on the host, sent to the device every step like a real loader.
    let pixels: Vec<f32> = (0..batch_size * 784)
        .map(|i| ((i * 7919) % 256) as f32 / 255.0)
        .collect();
    let labels: Vec<i32> = (0..batch_size).map(|i| (i % 10) as i32).collect();
    let mut optim = OptimizerKind::Adam.build(0.0);
    let mut step = |model: ImageModel| -> ImageModel {
        let x = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch_size, 1, 28, 28]),
            device,
        );
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch_size]), device);
        let out = model.step(ImageBatch {
            images: x,
            targets: y,
        });
        let _loss: f32 = out.loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        optim.step(1e-3, model, grads)
    };
    for _ in 0..args.warmup {
        model = step(model);
    }
    let mut rates = Vec::new();
    for _ in 0..args.repeats.max(1) {
        let start = Instant::now();
        for _ in 0..args.steps {
            model = step(model);
        }
        let _ = device.sync();
        rates.push((args.steps * batch_size) as f64 / start.elapsed().as_secs_f64());
    }
    rates
}

fn ours(workload: &Workload, backend: Backend, args: &BenchArgs) -> Result<f64, String> {
    let device = backend.device().map_err(|e| e.to_string())?.autodiff();
    device.seed(0);
    let rates = match workload.name {
        "mnist-mlp" => time_training(
            Architecture::Mlp.build([1, 28, 28], 10, &device),
            &device,
            workload.batch_size,
            args,
        ),
        "mnist-lenet" => time_training(
            Architecture::LeNet5.build([1, 28, 28], 10, &device),
            &device,
            workload.batch_size,
            args,
        ),
        other => return Err(format!("unknown workload {other}")),
    };
    Ok(median(rates))
}

fn torch_available() -> bool {
    Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn peer(workload: &Workload, args: &BenchArgs) -> Result<(String, f64), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/torch_bench.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--workload", workload.name])
        .args(["--steps", &args.steps.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--repeats", &args.repeats.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("peer output: {e}"))?;
    let rate = v["samples_per_second"]
        .as_f64()
        .ok_or("peer output lacks samples_per_second")?;
    let name = format!(
        "pytorch {} ({} threads)",
        v["torch"].as_str().unwrap_or("?"),
        v["threads"]
    );
    Ok((name, rate))
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.workloads.is_empty() || args.workloads.iter().any(|n| n == w.name))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        return Err(format!("no such workload (known: {})", names.join(", ")));
    }
    let backends: Vec<Backend> = Backend::compiled_backends()
        .into_iter()
        .filter(|b| matches!(b, Backend::Flex | Backend::Ndarray))
        .collect();
    let with_peer = !args.no_peer && torch_available();
    if !args.no_peer && !with_peer {
        println!(
            "PyTorch not importable by python3: running without the peer (pip install torch to compare)"
        );
    }
    let mut rows = Vec::new();
    for workload in &selected {
        let peer_result = if with_peer {
            match peer(workload, args) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("{}: PyTorch peer failed: {e}", workload.name);
                    None
                }
            }
        } else {
            None
        };
        for &backend in &backends {
            let rate = ours(workload, backend, args)?;
            let row = BenchRow {
                workload: workload.name.into(),
                backend: backend.name().into(),
                batch_size: workload.batch_size,
                samples_per_second: rate,
                peer: peer_result.as_ref().map(|p| p.0.clone()),
                peer_samples_per_second: peer_result.as_ref().map(|p| p.1),
                ratio: peer_result.as_ref().map(|p| rate / p.1),
            };
            println!(
                "{:<12} {:<8} {:>10.0} samples/s{}",
                row.workload,
                row.backend,
                row.samples_per_second,
                match (row.peer_samples_per_second, row.ratio) {
                    (Some(p), Some(r)) => format!("   pytorch {p:>10.0} samples/s   ratio {r:.2}"),
                    _ => String::new(),
                }
            );
            rows.push(row);
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let json_path = args.out.join("results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&rows).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md_path = args.out.join("results.md");
    std::fs::write(&md_path, markdown(&rows, &selected, args))
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

fn markdown(rows: &[BenchRow], workloads: &[&Workload], args: &BenchArgs) -> String {
    let mut text = format!(
        "# cargo xtask bench\n\n{} cores; median of {} repeats of {} steps after {} warm-up steps.\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        args.repeats,
        args.steps,
        args.warmup
    );
    for w in workloads {
        text.push_str(&format!("- `{}`: {}\n", w.name, w.description));
    }
    text.push_str("\n| workload | backend | samples/s | PyTorch samples/s | ours / PyTorch |\n|---|---|---:|---:|---:|\n");
    for r in rows {
        text.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} |\n",
            r.workload,
            r.backend,
            r.samples_per_second,
            r.peer_samples_per_second
                .map(|p| format!("{p:.0}"))
                .unwrap_or_else(|| "—".into()),
            r.ratio
                .map(|p| format!("{p:.2}"))
                .unwrap_or_else(|| "—".into()),
        ));
    }
    text
}
