//! What a benchmark figure depends on besides the code: the machine, how busy it was, the
//! threads and the allocator. Recorded beside the rows in `results.json`, so that a figure can
//! be compared with another run's only where the two were taken alike.
//!
//! Busy machines: the load average when the run starts, and a fixed calibration loop timed
//! before and after. A load average above a tenth of a core per core at the start, or a loop that
//! ran slower at the end than at the start, means other work shared the CPU and the figures are
//! low. (The load average at the end is recorded but not judged: it counts the bench itself.)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

/// The load average (1 min) per core above which the machine counts as busy.
const BUSY_LOAD_PER_CORE: f64 = 0.1;
/// How much slower the calibration loop may run at the end than at the start before the run
/// is flagged.
const CALIBRATION_DRIFT: f64 = 0.10;

/// The conditions of one `cargo xtask bench` run.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `git rev-parse HEAD` of the workspace, with `-dirty` when the tree had changes.
    pub commit: String,
    /// The CPU's model name (`/proc/cpuinfo`).
    pub cpu: String,
    pub cores: usize,
    /// Threads of our side (rayon's pool).
    pub threads: usize,
    /// Threads of the PyTorch peer.
    pub peer_threads: usize,
    pub allocator: String,
    /// The GPU and its driver (`nvidia-smi`), where one is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// 1-minute load average when the run started and when it ended.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    /// Milliseconds of the calibration loop at the start and at the end.
    pub calibration_ms_before: f64,
    pub calibration_ms_after: Option<f64>,
}

impl Machine {
    /// Reads the machine and times the calibration loop once.
    pub fn read(threads: usize, peer_threads: usize) -> Self {
        Self {
            commit: commit(Path::new(env!("CARGO_MANIFEST_DIR"))),
            cpu: cpu_model().unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads,
            peer_threads,
            allocator: crate::ALLOCATOR.into(),
            gpu: nvidia_gpu(),
            load_before: load_average(),
            load_after: None,
            calibration_ms_before: calibration_ms(),
            calibration_ms_after: None,
        }
    }

    /// Records the end of the run: load average and the calibration loop again.
    pub fn finish(&mut self) {
        self.load_after = load_average();
        self.calibration_ms_after = Some(calibration_ms());
    }

    /// Why the figures of this run may be low, one line each (empty on a quiet machine).
    pub fn warnings(&self) -> Vec<String> {
        let busy = BUSY_LOAD_PER_CORE * self.cores as f64;
        // Only the load at the start is judged: at the end the 1-minute average still counts
        // the bench's own threads. Sharing during the run shows in the calibration loop instead.
        let mut warnings: Vec<String> = self
            .load_before
            .filter(|&load| load > busy)
            .map(|load| {
                format!(
                    "machine not idle at the start: load average {load:.2} on {} cores",
                    self.cores
                )
            })
            .into_iter()
            .collect();
        if let Some(after) = self.calibration_ms_after
            && after > self.calibration_ms_before * (1.0 + CALIBRATION_DRIFT)
        {
            warnings.push(format!(
                "the calibration loop took {after:.1} ms at the end against {:.1} ms at the start: \
                 the CPU was shared or throttled during the run",
                self.calibration_ms_before
            ));
        }
        warnings
    }
}

/// The 1-minute load average, where `/proc/loadavg` exists.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

/// `name, driver version` of each NVIDIA GPU, where `nvidia-smi` answers.
fn nvidia_gpu() -> Option<String> {
    let output = Command::new("nvidia-smi")
        .args(["--query-gpu=name,driver_version", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let gpus: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    (!gpus.is_empty()).then(|| gpus.join("; "))
}

/// The workspace's commit; `DEEPZERO_BENCH_COMMIT` names it where the tree is a copy without
/// its git history (a GPU machine's, say).
fn commit(dir: &Path) -> String {
    if let Ok(commit) = std::env::var("DEEPZERO_BENCH_COMMIT")
        && !commit.is_empty()
    {
        return commit;
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(head) if git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()) => {
            format!("{head}-dirty")
        }
        Some(head) => head,
        None => "unknown".into(),
    }
}

/// A fixed single-threaded integer loop (≈50–100 ms on a current core), best of three, so that
/// the same machine gives the same time when nothing else runs.
fn calibration_ms() -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for i in 0..50_000_000u64 {
                x = x.rotate_left(7) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            }
            std::hint::black_box(x);
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Machine {
        Machine {
            commit: "abc".into(),
            cpu: "test cpu".into(),
            cores: 2,
            threads: 2,
            peer_threads: 2,
            allocator: "mimalloc".into(),
            gpu: None,
            load_before: Some(0.05),
            load_after: Some(0.1),
            calibration_ms_before: 60.0,
            calibration_ms_after: Some(62.0),
        }
    }

    #[test]
    fn a_quiet_run_has_no_warnings() {
        assert!(quiet().warnings().is_empty());
    }

    #[test]
    fn load_and_calibration_drift_are_flagged() {
        let busy = Machine {
            load_before: Some(3.5),
            calibration_ms_after: Some(90.0),
            ..quiet()
        };
        let warnings = busy.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("load average 3.50 on 2 cores"));
        assert!(warnings[1].contains("90.0 ms at the end against 60.0 ms"));
    }

    #[test]
    fn the_machine_reads_itself() {
        let m = Machine::read(2, 2);
        assert!(m.calibration_ms_before > 0.0);
        assert!(m.cores >= 1);
        assert!(!m.commit.is_empty());
    }
}
