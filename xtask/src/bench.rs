//! Throughput benchmarks beside PyTorch.
//!
//! A training workload is one training step (batch to device → forward → loss → loss read back →
//! backward → optimiser step) repeated on fixed data; an inference workload is one forward pass
//! (batch to device → forward → logits, or a detector's raw head maps, read back) on a device
//! without autodiff. We time `steps` steps after `warmup` steps, `repeats` times, and report the
//! median samples/s (each workload has its own default plan, sized for ≈10–30 s of measurement
//! on 2 cores). When
//! `python3 -c "import torch"` works, `xtask/peers/torch_bench.py` runs the identical workload
//! in PyTorch (CPU) in the same run, with the same plan; the table shows ours / PyTorch, and the
//! run fails if the two models' parameter counts differ.
//!
//! GPU backends: `--backend wgpu` (or `cuda`), in a build with that Cargo feature
//! (`cargo run --release -p xtask --features wgpu -- bench --backend wgpu`), times ours on the
//! GPU and runs the peer on PyTorch's CUDA device, where `torch.cuda.is_available()`. Every step
//! still reads the loss (or logits) back, so the GPU's work is finished when a step's time ends;
//! both sides get at least [`GPU_MIN_WARMUP`] warm-up steps there.
//!
//! Threads: ours uses rayon's pool (`RAYON_NUM_THREADS`, default all cores); the peer uses
//! `--peer-threads`, else `RAYON_NUM_THREADS`, else all cores.
//!
//! `results.json` holds the rows and the conditions of the run ([`machine::Machine`]: commit,
//! CPU, threads, allocator, load average and a calibration loop before and after); the run warns
//! when the machine was not idle, since its figures are then low.

mod machine;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::prelude::Device;
use deepzero_train::device::Backend;
use serde::Serialize;

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Timed steps per repeat (default: each workload's own, see `--list`).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Untimed steps before timing (default: each workload's own).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Repeats; the median is reported (default: each workload's own).
    #[arg(long)]
    pub repeats: Option<usize>,
    /// Only these workloads (comma-separated; default all).
    #[arg(long, visible_alias = "only", value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Only these implementations of ours (`deepzero`, `burn-nn`; default all).
    #[arg(long, value_delimiter = ',')]
    pub implementations: Vec<String>,
    /// Backends of ours to time, comma-separated: `flex`, `ndarray`, `cuda`, `wgpu` (default:
    /// the CPU backends compiled in). GPU rows are compared with PyTorch on CUDA.
    #[arg(long = "backend", value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Skip the PyTorch peer.
    #[arg(long)]
    pub no_peer: bool,
    /// Threads of the PyTorch peer (default: `RAYON_NUM_THREADS` if set, else all cores).
    #[arg(long)]
    pub peer_threads: Option<usize>,
    /// List the workloads and their default plans, then exit.
    #[arg(long)]
    pub list: bool,
    /// Where to write results.json and results.md.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
    /// Also put results.md into docs/benchmarks.md, between its `<!-- bench:results -->` and
    /// `<!-- /bench:results -->` lines (the section "Latest generated run").
    #[arg(long)]
    pub update_docs: bool,
}

/// How many steps to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    warmup: usize,
    steps: usize,
    repeats: usize,
}

/// Warm-up steps at least, on a GPU: its first steps compile and autotune kernels (wgpu, CUDA)
/// or pick convolution algorithms (cuDNN), work that belongs to neither side's steady state.
const GPU_MIN_WARMUP: usize = 10;

impl Plan {
    /// This plan for a run on `device`.
    fn on(self, device: PeerDevice) -> Plan {
        match device {
            PeerDevice::Cpu => self,
            PeerDevice::Cuda => Plan {
                warmup: self.warmup.max(GPU_MIN_WARMUP),
                ..self
            },
        }
    }
}

/// Who wrote the model being timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// deepzero's own layers (from the equations where burn has them too).
    Deepzero,
    /// burn-nn's built-in layer, for comparison.
    BurnNn,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Self::Deepzero => "deepzero",
            Self::BurnNn => "burn-nn",
        }
    }
}

/// A benchmark workload.
struct Workload {
    name: &'static str,
    batch_size: usize,
    description: &'static str,
    /// What one sample is (`samples/s`, `images/s`, or `graphs/s` where a step is one whole graph).
    unit: &'static str,
    implementations: &'static [Implementation],
    plan: Plan,
}

const OURS: &[Implementation] = &[Implementation::Deepzero];
const OURS_AND_BURN: &[Implementation] = &[Implementation::Deepzero, Implementation::BurnNn];

const WORKLOADS: [Workload; 12] = [
    Workload {
        name: "mnist-mlp",
        batch_size: 128,
        description: "MLP 784-512-256-10 (dropout 0.2), Adam, batch 128, train step",
        unit: "samples/s",
        implementations: OURS,
        plan: Plan {
            warmup: 10,
            steps: 100,
            repeats: 5,
        },
    },
    Workload {
        name: "mnist-lenet",
        batch_size: 64,
        description: "LeNet-5 (6-16 conv 5x5, 120-84-10), Adam, batch 64, train step",
        unit: "samples/s",
        implementations: OURS,
        plan: Plan {
            warmup: 10,
            steps: 100,
            repeats: 5,
        },
    },
    Workload {
        name: "resnet18-infer",
        batch_size: 8,
        description: "torchvision ResNet-18 (3x224x224, 1000 classes), eval mode, no autodiff, batch 8, forward",
        unit: "images/s",
        implementations: OURS,
        plan: Plan {
            warmup: 2,
            steps: 8,
            repeats: 5,
        },
    },
    Workload {
        name: "resnet20-train",
        batch_size: 128,
        description: "CIFAR ResNet-20, option-A shortcuts, 1x28x28 input as the fashion-resnet20 recipe, SGD momentum 0.9 + weight decay 5e-4, batch 128, train step",
        unit: "samples/s",
        implementations: OURS,
        plan: Plan {
            warmup: 2,
            steps: 8,
            repeats: 5,
        },
    },
    Workload {
        name: "googlenet-train",
        batch_size: 128,
        description: "GoogLeNet, small-input variant (3x3 stride-1 conv1, no maxpool1), 1x28x28 as the fashion-googlenet recipe, SGD momentum 0.9 + weight decay 5e-4, batch 128, train step",
        unit: "samples/s",
        implementations: OURS,
        plan: Plan {
            warmup: 1,
            steps: 2,
            repeats: 3,
        },
    },
    Workload {
        name: "gru-train",
        batch_size: 32,
        description: "GRU 128->256 (reset after), one layer, batch 32 x 64 steps, linear head 256->10 on the last hidden state, cross-entropy, Adam, train step",
        unit: "samples/s",
        implementations: OURS_AND_BURN,
        plan: Plan {
            warmup: 3,
            steps: 15,
            repeats: 3,
        },
    },
    Workload {
        name: "lstm-train",
        batch_size: 32,
        description: "LSTM 128->256, one layer, batch 32 x 64 steps, linear head 256->10 on the last hidden state, cross-entropy, Adam, train step",
        unit: "samples/s",
        implementations: OURS_AND_BURN,
        plan: Plan {
            warmup: 3,
            steps: 15,
            repeats: 3,
        },
    },
    Workload {
        name: "transformer-layer-train",
        batch_size: 32,
        description: "one post-norm Transformer encoder layer (d_model 256, 4 heads, FFN 1024 ReLU, dropout 0), batch 32 x 128 tokens, MSE to a fixed target, Adam, train step",
        unit: "samples/s",
        implementations: OURS_AND_BURN,
        plan: Plan {
            warmup: 2,
            steps: 8,
            repeats: 5,
        },
    },
    Workload {
        name: "gat-cora-train",
        batch_size: 1,
        description: "GAT (8 heads x 8 hidden, ELU, 1 output head, dropout 0.6) on a synthetic Cora-shaped graph (2708 nodes, 1433-dim sparse features 1.26 % dense, 10556 edges + self-loops, 7 classes), cross-entropy on 140 nodes + L2 5e-4, Adam lr 0.005, one full-batch train step per graph",
        unit: "graphs/s",
        implementations: OURS,
        plan: Plan {
            warmup: 5,
            steps: 50,
            repeats: 5,
        },
    },
    Workload {
        name: "neumf-train",
        batch_size: 256,
        description: "NeuMF (GMF 16 factors + MLP 128-64-32-16, ReLU) on 943 users x 1682 items, binary cross-entropy on logits, Adam lr 0.001, batch 256 (user, item, label), train step",
        unit: "samples/s",
        implementations: OURS,
        plan: Plan {
            warmup: 20,
            steps: 300,
            repeats: 3,
        },
    },
    Workload {
        name: "unet-training",
        batch_size: 8,
        description: "U-Net of the digits-unet recipe (width 12, depth 4, (3x3 conv-BN-ReLU) x 2 per level, transposed-conv up-sampling), 1x64x64 scenes, 11 classes per pixel, per-pixel cross-entropy, Adam lr 2e-3, batch 8, train step",
        unit: "images/s",
        implementations: OURS,
        plan: Plan {
            warmup: 3,
            steps: 20,
            repeats: 5,
        },
    },
    Workload {
        name: "yolo-inference",
        batch_size: 32,
        description: "YOLOv3-style detector of the digits-yolo recipe (width 8, 10 classes, 3 anchors at strides 4, 8, 16), 1x64x64, eval mode, no autodiff, batch 32, forward to the raw head outputs read back (decoding and NMS not timed on either side)",
        unit: "images/s",
        implementations: OURS,
        plan: Plan {
            warmup: 10,
            steps: 120,
            repeats: 5,
        },
    },
];

/// One row of `results.json`.
#[derive(Debug, Serialize)]
pub struct BenchRow {
    workload: String,
    implementation: String,
    backend: String,
    batch_size: usize,
    /// What `samples_per_second` counts (`samples/s` or `images/s`).
    unit: String,
    samples_per_second: f64,
    params: usize,
    threads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_samples_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_params: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
}

/// `results.json`: the conditions of the run, its warnings and one row per measurement.
#[derive(Debug, Serialize)]
struct Results<'a> {
    machine: &'a machine::Machine,
    warnings: &'a [String],
    rows: &'a [BenchRow],
}

/// What the PyTorch peer reported.
struct PeerResult {
    name: String,
    rate: f64,
    params: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Threads of our side: rayon's `RAYON_NUM_THREADS`, else all cores.
fn our_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(cores)
}

impl BenchArgs {
    fn plan(&self, workload: &Workload) -> Plan {
        Plan {
            warmup: self.warmup.unwrap_or(workload.plan.warmup),
            steps: self.steps.unwrap_or(workload.plan.steps),
            repeats: self.repeats.unwrap_or(workload.plan.repeats),
        }
    }

    fn peer_threads(&self) -> usize {
        self.peer_threads.unwrap_or_else(our_threads)
    }
}

/// Where a row's PyTorch peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PeerDevice {
    Cpu,
    Cuda,
}

impl PeerDevice {
    /// The peer of `backend`: the CPU for the CPU backends, CUDA for the GPU ones (PyTorch has
    /// no wgpu; its CUDA path is what a GPU user would otherwise run).
    fn of(backend: Backend) -> Self {
        match backend {
            Backend::Flex | Backend::Ndarray => Self::Cpu,
            Backend::Wgpu | Backend::Cuda => Self::Cuda,
        }
    }

    /// `torch_bench.py --device`'s name.
    fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }
}

/// Whether python3 imports torch and, for CUDA, sees a GPU.
fn torch_available(device: PeerDevice) -> bool {
    let check = match device {
        PeerDevice::Cuda => "import torch; assert torch.cuda.is_available()",
        PeerDevice::Cpu => "import torch",
    };
    Command::new("python3")
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `peers/torch_bench.py`: beside this crate's sources, else under the current directory
/// (a binary carried to another machine, run from the workspace root there).
fn peer_script() -> PathBuf {
    let built_here = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/torch_bench.py");
    if built_here.exists() {
        built_here
    } else {
        PathBuf::from("xtask/peers/torch_bench.py")
    }
}

/// The backends to time: `--backend`'s, each checked to be compiled in and to start, else the
/// CPU backends compiled in.
fn backends(args: &BenchArgs) -> Result<Vec<(Backend, Device)>, String> {
    let chosen: Vec<Backend> = if args.backends.is_empty() {
        Backend::compiled_backends()
            .into_iter()
            .filter(|&b| PeerDevice::of(b) == PeerDevice::Cpu)
            .collect()
    } else {
        args.backends
            .iter()
            .map(|name| name.parse::<Backend>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?
    };
    chosen
        .into_iter()
        .map(|b| Ok((b, b.device().map_err(|e| e.to_string())?)))
        .collect()
}

fn peer(
    workload: &Workload,
    plan: Plan,
    threads: usize,
    device: PeerDevice,
) -> Result<PeerResult, String> {
    let output = Command::new("python3")
        .arg(peer_script())
        .args(["--workload", workload.name])
        .args(["--device", device.name()])
        .args(["--steps", &plan.steps.to_string()])
        .args(["--warmup", &plan.warmup.to_string()])
        .args(["--repeats", &plan.repeats.to_string()])
        .args(["--threads", &threads.to_string()])
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
    let params = v["params"].as_u64().ok_or("peer output lacks params")? as usize;
    let name = match v["device"].as_str() {
        Some(gpu) if device == PeerDevice::Cuda => {
            format!("pytorch {} ({gpu})", v["torch"].as_str().unwrap_or("?"))
        }
        _ => format!(
            "pytorch {} ({} threads)",
            v["torch"].as_str().unwrap_or("?"),
            v["threads"]
        ),
    };
    Ok(PeerResult { name, rate, params })
}

fn list() {
    println!(
        "{:<24} {:>5} {:>7} {:>6} {:>8}  implementations",
        "workload", "batch", "warmup", "steps", "repeats"
    );
    for w in &WORKLOADS {
        let names: Vec<&str> = w.implementations.iter().map(|i| i.name()).collect();
        println!(
            "{:<24} {:>5} {:>7} {:>6} {:>8}  {}",
            w.name,
            w.batch_size,
            w.plan.warmup,
            w.plan.steps,
            w.plan.repeats,
            names.join(", ")
        );
        println!("    {}", w.description);
    }
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    if args.list {
        list();
        return Ok(());
    }
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
    if let Some(unknown) = args.workloads.iter().find(|n| !names.contains(&n.as_str())) {
        return Err(format!(
            "no workload {unknown} (known: {})",
            names.join(", ")
        ));
    }
    if let Some(unknown) = args
        .implementations
        .iter()
        .find(|n| !["deepzero", "burn-nn"].contains(&n.as_str()))
    {
        return Err(format!(
            "no implementation {unknown} (known: deepzero, burn-nn)"
        ));
    }
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.workloads.is_empty() || args.workloads.iter().any(|n| n == w.name))
        .collect();
    let backends = backends(args)?;
    let mut machine = machine::Machine::read(our_threads(), args.peer_threads());
    for warning in machine.warnings() {
        eprintln!("warning: {warning}");
    }
    let mut peer_devices: Vec<PeerDevice> =
        backends.iter().map(|&(b, _)| PeerDevice::of(b)).collect();
    // One peer run per device, whatever the order of `--backend` (flex,cuda,ndarray: two).
    peer_devices.sort_unstable();
    peer_devices.dedup();
    if !args.no_peer {
        peer_devices.retain(|&device| {
            let available = torch_available(device);
            if !available {
                println!(
                    "PyTorch ({}) not usable by python3: those rows run without the peer \
                     (pip install torch{})",
                    device.name(),
                    if device == PeerDevice::Cuda {
                        ", on a machine with a CUDA GPU"
                    } else {
                        ""
                    }
                );
            }
            available
        });
    } else {
        peer_devices.clear();
    }
    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    for workload in &selected {
        let plan = args.plan(workload);
        let peer_results: Vec<(PeerDevice, Option<PeerResult>)> = peer_devices
            .iter()
            .map(|&device| {
                let result = peer(workload, plan.on(device), args.peer_threads(), device)
                    .inspect_err(|e| {
                        eprintln!(
                            "{} ({}): PyTorch peer failed: {e}",
                            workload.name,
                            device.name()
                        )
                    })
                    .ok();
                (device, result)
            })
            .collect();
        let implementations = workload.implementations.iter().filter(|i| {
            args.implementations.is_empty() || args.implementations.iter().any(|n| n == i.name())
        });
        for &implementation in implementations {
            for (backend, device) in &backends {
                let backend = *backend;
                device.seed(0);
                let measured = workloads::measure(
                    workload.name,
                    implementation,
                    workload.batch_size,
                    device,
                    plan.on(PeerDevice::of(backend)),
                )?;
                let peer_result = peer_results
                    .iter()
                    .find(|(d, _)| *d == PeerDevice::of(backend))
                    .and_then(|(_, r)| r.as_ref());
                let rate = median(measured.rates);
                let row = BenchRow {
                    workload: workload.name.into(),
                    implementation: implementation.name().into(),
                    backend: backend.name().into(),
                    batch_size: workload.batch_size,
                    unit: workload.unit.into(),
                    samples_per_second: rate,
                    params: measured.params,
                    threads: our_threads(),
                    peer: peer_result.map(|p| p.name.clone()),
                    peer_samples_per_second: peer_result.map(|p| p.rate),
                    peer_params: peer_result.map(|p| p.params),
                    ratio: peer_result.map(|p| rate / p.rate),
                };
                println!(
                    "{:<24} {:<9} {:<8} {:>9.1} {:<9} params {:>10}{}",
                    row.workload,
                    row.implementation,
                    row.backend,
                    row.samples_per_second,
                    row.unit,
                    row.params,
                    match (peer_result, row.ratio) {
                        (Some(p), Some(r)) => format!(
                            "   pytorch {:>9.1} {}  params {:>10}   ratio {r:.2}",
                            p.rate, row.unit, p.params
                        ),
                        _ => String::new(),
                    }
                );
                if let Some(p) = peer_result
                    && p.params != row.params
                {
                    mismatches.push(format!(
                        "{} ({}): {} parameters, PyTorch's model {}",
                        row.workload, row.implementation, row.params, p.params
                    ));
                }
                rows.push(row);
            }
        }
    }
    machine.finish();
    let warnings = machine.warnings();
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let json_path = args.out.join("results.json");
    let results = Results {
        machine: &machine,
        warnings: &warnings,
        rows: &rows,
    };
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md_path = args.out.join("results.md");
    let md = markdown(&results, &selected, args);
    std::fs::write(&md_path, &md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("wrote {} and {}", json_path.display(), md_path.display());
    if args.update_docs {
        update_docs(&md)?;
    }
    if !mismatches.is_empty() {
        return Err(format!(
            "the PyTorch peer built a different model: {}",
            mismatches.join("; ")
        ));
    }
    Ok(())
}

fn markdown(results: &Results, workloads: &[&Workload], args: &BenchArgs) -> String {
    let m = results.machine;
    let load = |l: Option<f64>| l.map_or_else(|| "?".into(), |l| format!("{l:.2}"));
    let mut text = format!(
        "# cargo xtask bench\n\nCommit `{}`, {} ({} cores); ours on {} threads, PyTorch on {}; allocator: {}. \
         Load average {} at the start, {} at the end; calibration loop {:.1} ms at the start, {} ms at the end. \
         Median of the repeats (plans below).\n\n",
        m.commit,
        m.cpu,
        m.cores,
        m.threads,
        m.peer_threads,
        m.allocator,
        load(m.load_before),
        load(m.load_after),
        m.calibration_ms_before,
        m.calibration_ms_after
            .map_or_else(|| "?".into(), |c| format!("{c:.1}")),
    );
    if let Some(gpu) = &m.gpu {
        text.push_str(&format!(
            "GPU: {gpu}; rows on `cuda` or `wgpu` are compared with PyTorch on CUDA.\n\n"
        ));
    }
    for warning in results.warnings {
        text.push_str(&format!("**Warning: {warning}.**\n\n"));
    }
    let rows = results.rows;
    for w in workloads {
        let p = args.plan(w);
        text.push_str(&format!(
            "- `{}`: {} ({} warm-up steps, {} repeats of {} steps)\n",
            w.name, w.description, p.warmup, p.repeats, p.steps
        ));
    }
    text.push_str(
        "\n| workload | implementation | backend | ours | PyTorch | ours / PyTorch | parameters |\n\
         |---|---|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        text.push_str(&format!(
            "| {} | {} | {} | {:.1} {} | {} | {} | {} |\n",
            r.workload,
            r.implementation,
            r.backend,
            r.samples_per_second,
            r.unit,
            r.peer_samples_per_second
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "—".into()),
            r.ratio
                .map(|p| format!("{p:.2}"))
                .unwrap_or_else(|| "—".into()),
            r.params,
        ));
    }
    text
}

/// The lines around the generated part of docs/benchmarks.md.
const DOCS_BEGIN: &str = "<!-- bench:results -->";
const DOCS_END: &str = "<!-- /bench:results -->";

/// Replaces the generated part of docs/benchmarks.md with `results_md` (its title dropped: the
/// section has its own), written to a temporary file and renamed over the old one.
fn update_docs(results_md: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = results_md
        .strip_prefix("# cargo xtask bench\n\n")
        .unwrap_or(results_md);
    let updated = splice_generated(&doc, body).map_err(|e| format!("{}: {e}", path.display()))?;
    deepzero_train::metrics_file::write_atomic(&path, updated.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("updated {}", path.display());
    Ok(())
}

/// `doc` with the lines between its [`DOCS_BEGIN`] and [`DOCS_END`] lines replaced by
/// `generated` (the markers count only as whole lines, so prose may quote them).
fn splice_generated(doc: &str, generated: &str) -> Result<String, String> {
    let missing = || format!("needs a `{DOCS_BEGIN}` line followed by a `{DOCS_END}` line");
    let line_at = |from: usize, marker: &str| {
        doc[from..]
            .match_indices(marker)
            .map(|(i, _)| from + i)
            .find(|&i| {
                (i == 0 || doc[..i].ends_with('\n'))
                    && doc[i + marker.len()..].starts_with(['\n', '\r'])
            })
    };
    let begin = line_at(0, DOCS_BEGIN).ok_or_else(missing)? + DOCS_BEGIN.len();
    let end = line_at(begin, DOCS_END).ok_or_else(missing)?;
    Ok(format!(
        "{}\n{}\n{}",
        &doc[..begin],
        generated.trim_end(),
        &doc[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated part is replaced, the rest of the page is kept, and a page without the
    /// markers is refused rather than appended to.
    #[test]
    fn the_generated_part_of_the_docs_is_replaced() {
        let doc = format!("# Benchmarks\n\n{DOCS_BEGIN}\nold table\n{DOCS_END}\n\n## After\n");
        let once = splice_generated(&doc, "new table\n").unwrap();
        assert_eq!(
            once,
            format!("# Benchmarks\n\n{DOCS_BEGIN}\nnew table\n{DOCS_END}\n\n## After\n")
        );
        assert_eq!(splice_generated(&once, "new table").unwrap(), once);
        assert!(splice_generated("# Benchmarks\n", "x").is_err());
        let quoted = format!("Prose quoting `{DOCS_BEGIN}` and `{DOCS_END}`.\n{doc}");
        assert_eq!(
            splice_generated(&quoted, "new table").unwrap(),
            format!("Prose quoting `{DOCS_BEGIN}` and `{DOCS_END}`.\n{once}")
        );
        assert!(splice_generated(&format!("{DOCS_END}\n{DOCS_BEGIN}\n"), "x").is_err());
    }

    /// The page in the repository has the markers `--update-docs` needs.
    #[test]
    fn the_benchmarks_page_has_a_generated_section() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
        let doc = std::fs::read_to_string(path).unwrap();
        assert!(splice_generated(&doc, "x").is_ok());
    }

    /// Every workload has a PyTorch peer of the same name and a plan that measures something.
    #[test]
    fn every_workload_has_a_peer_and_a_plan() {
        let script = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/torch_bench.py"),
        )
        .unwrap();
        for w in &WORKLOADS {
            assert!(
                script.contains(&format!("\"{}\": (", w.name)),
                "{} missing from torch_bench.py",
                w.name
            );
            assert!(w.plan.steps > 0 && w.plan.repeats > 0, "{}", w.name);
            assert!(!w.implementations.is_empty(), "{}", w.name);
        }
    }

    /// The U-Net and YOLO workloads copy the `digits-unet` and `digits-yolo` recipes (and the
    /// PyTorch peer copies them): a change to either recipe must show up here first.
    #[test]
    fn the_unet_and_yolo_workloads_are_the_recipes_models() {
        use deepzero_core::OptimizerKind;
        use workloads::{UNET, UNET_ARCH, UNET_LR, YOLO};
        let unet = deepzero_vision::segment::task::recipes()
            .into_iter()
            .find(|r| r.name == "digits-unet")
            .expect("the digits-unet recipe");
        assert_eq!(unet.spec.arch, UNET_ARCH);
        match &unet.spec.data {
            deepzero_vision::segment::task::SegmentData::Digits(scenes) => {
                assert_eq!(scenes.canvas, UNET[2])
            }
            other => panic!("digits-unet trains on digit scenes, not {other:?}"),
        }
        let unet_workload = WORKLOADS
            .iter()
            .find(|w| w.name == "unet-training")
            .unwrap();
        assert_eq!(unet.fit.batch_size, unet_workload.batch_size);
        assert_eq!(unet.fit.learning_rate, UNET_LR);
        assert_eq!(unet.fit.optimizer, OptimizerKind::Adam);
        assert_eq!(unet.fit.weight_decay, 0.0);
        let yolo = deepzero_vision::tasks::detect::recipes()
            .into_iter()
            .find(|r| r.name == "digits-yolo")
            .expect("the digits-yolo recipe");
        assert_eq!(yolo.spec.width, YOLO[2]);
        assert_eq!(yolo.spec.scenes.canvas, YOLO[3]);
        assert_eq!(yolo.spec.corpus.class_names().len(), YOLO[1]);
    }

    /// One step of each cheap workload runs on Flex and counts PyTorch's parameters
    /// (the figures `torch_bench.py` reports for the same models).
    #[test]
    fn small_workloads_run_and_match_pytorch_parameter_counts() {
        let device = Device::flex();
        let plan = Plan {
            warmup: 0,
            steps: 1,
            repeats: 1,
        };
        for (name, implementation, batch, params) in [
            ("mnist-mlp", Implementation::Deepzero, 128, 535_818),
            ("mnist-lenet", Implementation::Deepzero, 64, 61_706),
            ("lstm-train", Implementation::Deepzero, 32, 397_834),
            ("lstm-train", Implementation::BurnNn, 32, 397_834),
            ("gru-train", Implementation::Deepzero, 32, 299_018),
            ("gru-train", Implementation::BurnNn, 32, 299_018),
            ("gat-cora-train", Implementation::Deepzero, 1, 92_373),
            ("neumf-train", Implementation::Deepzero, 256, 220_897),
            // GoogLeNet's step at the workload's batch of 128 takes seconds; 2 images will do.
            ("googlenet-train", Implementation::Deepzero, 2, 5_601_322),
            // Likewise the U-Net's step at batch 8; the detector's forward at 32.
            ("unet-training", Implementation::Deepzero, 2, 1_093_295),
            ("yolo-inference", Implementation::Deepzero, 2, 394_223),
        ] {
            let m = workloads::measure(name, implementation, batch, &device, plan).unwrap();
            assert_eq!(m.params, params, "{name} {}", implementation.name());
            assert!(m.rates.len() == 1 && m.rates[0] > 0.0);
        }
    }
}
