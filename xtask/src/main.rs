//! `cargo xtask`: project chores that are not part of the `deepzero` program.
//!
//! - `cargo xtask download mnist|fashion-mnist [--dir DIR] [--from LOCAL_DIR]`
//! - `cargo xtask bench [--steps N] [--repeats N] [--no-peer]`

mod bench;
mod download;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Measure training throughput of the benchmark workloads on every compiled CPU backend,
    /// beside PyTorch when `python3 -c "import torch"` works.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Download(args) => download::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
