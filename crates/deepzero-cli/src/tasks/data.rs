//! `deepzero data check DIR`: a dataset folder's health report with
//! [`deepzero_data::check`] — class counts and imbalance, corrupt and non-image files, empty
//! classes, exact and near duplicates within and across train/test, sizes and channels —
//! written as `OUT/report.md` and `OUT/report.png`; `--fix` moves what it found into a
//! quarantine folder (never deletes).
//!
//! ```text
//! deepzero data check data/cats-dogs --out data-check
//! deepzero data check data/cats-dogs --fix          # moves files to data/cats-dogs-quarantine
//! ```

use std::path::PathBuf;

use deepzero_data::check::{
    CheckOptions, check_folder, default_quarantine, quarantine, write_report,
};

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
    Check(CheckArgs),
}

/// The options of `deepzero data check`.
#[derive(Clone, Debug, clap::Args)]
pub struct CheckArgs {
    /// The dataset folder.
    pub dir: PathBuf,
    /// Folder for report.md and report.png.
    #[arg(long, default_value = "data-check", value_name = "DIR")]
    pub out: PathBuf,
    /// Move corrupt and non-image files and all but one copy of each duplicate into the
    /// quarantine folder.
    #[arg(long)]
    pub fix: bool,
    /// The quarantine folder (default: DIR-quarantine beside DIR).
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,
    /// Near duplicates: difference hashes at most this many bits apart (0–64).
    #[arg(long, default_value_t = 4, value_name = "BITS")]
    pub near: u32,
    /// Images wider or taller than this are reported as too large.
    #[arg(long, default_value_t = 16384, value_name = "PX")]
    pub max_side: u32,
}

/// Runs a `data` subcommand.
pub fn data(args: &DataArgs) -> Result<(), CliError> {
    match &args.command {
        DataCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> Result<(), CliError> {
    if args.near > 64 {
        return Err(CliError::Usage("--near takes 0 to 64 bits".into()));
    }
    let options = CheckOptions {
        near_distance: args.near,
        max_side: args.max_side,
        ..CheckOptions::default()
    };
    let report = check_folder(&args.dir, &options)?;
    write_report(&report, &args.out)?;
    println!("{}", report.summary());
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    println!("report: {}", args.out.join("report.md").display());
    if args.fix {
        let to = args.quarantine.clone();
        let to = to.unwrap_or_else(|| default_quarantine(&args.dir));
        let moved = quarantine(&report, &to)?;
        println!("moved {} files to {}", moved.len(), to.display());
    }
    Ok(())
}
