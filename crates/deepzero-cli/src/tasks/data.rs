//! `deepzero data check DIR`: a dataset folder's health report with
//! [`deepzero_data::check::CheckRequest`] — class counts and imbalance, corrupt and non-image
//! files, empty classes, exact and near duplicates within and across train/test, sizes and
//! channels — written as `OUT/report.md` and `OUT/report.png`; `--fix` moves what it found
//! into a quarantine folder (never deletes).
//!
//! ```text
//! deepzero data check data/cats-dogs --out data-check
//! deepzero data check data/cats-dogs --fix          # moves files to data/cats-dogs-quarantine
//! ```

use deepzero_data::check::CheckRequest;

use crate::error::CliError;

/// `deepzero data …`.
#[derive(Clone, Debug, clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `data` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Check an image folder (DIR/CLASS/IMAGE or DIR/{train,test}/CLASS/IMAGE): class balance,
    /// corrupt files, duplicates and train/test leakage, sizes; writes report.md and report.png.
    Check(CheckRequest),
}

/// Runs a `data` subcommand.
pub fn data(args: &DataArgs) -> Result<(), CliError> {
    let DataCommand::Check(request) = &args.command;
    let report = request.check()?;
    println!("{}", request.describe(&report));
    if let Some(moved) = request.fix(&report)? {
        println!("{moved}");
    }
    Ok(())
}
