//! `cargo xtask`: project chores that are not part of the `deepzero` program.
//!
//! - `cargo xtask download mnist|fashion-mnist [--dir DIR] [--from LOCAL_DIR]`
//! - `cargo xtask bench [--only W1,W2] [--backend flex,cuda] [--steps N] [--repeats N] [--no-peer] [--list]`
//! - `cargo xtask backend-check --backend wgpu|cuda [--small-images] [--only NAMES]`

mod backend_check;
mod bench;
mod download;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: training allocates and frees many tensor-sized buffers per
/// step, and glibc returns each large one to the kernel (mmap/munmap), so every new tensor
/// page-faults its memory in again. mimalloc keeps and reuses them, and `main` tells it never to
/// give them back ([`deepzero_train::allocator`]; docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator above, as `cargo xtask bench` records it in results.json.
pub const ALLOCATOR: &str = "mimalloc, freed memory kept (deepzero_train::allocator)";

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "deepzero project tasks: dataset download and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download a dataset from its canonical URLs (or copy it from a local folder), verifying
    /// every file against the manifest's sha256.
    Download(download::DownloadArgs),
    /// Measure training and inference throughput of the benchmark workloads on every compiled
    /// CPU backend (or `--backend`'s), beside PyTorch when `python3 -c "import torch"` works.
    Bench(bench::BenchArgs),
    /// Run every zoo and sequence model forward on Flex and on another backend with the same
    /// weights and input, and fail when the outputs differ beyond a tolerance.
    BackendCheck(backend_check::BackendCheckArgs),
}

fn main() -> ExitCode {
    deepzero_train::allocator::keep_freed_memory();
    let result = match Cli::parse().command {
        Command::Download(args) => download::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::BackendCheck(args) => backend_check::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
