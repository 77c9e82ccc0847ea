//! Progress display: an `indicatif` bar on a terminal, a few plain lines per epoch otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports training progress (loss, accuracy, samples/s, ETA).
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    quiet: bool,
    lines_per_epoch: usize,
    steps: usize,
    last_plain: Instant,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines on stdout otherwise.
    pub fn auto() -> Self {
        Self::new(!std::io::stderr().is_terminal(), false)
    }

    /// Plain lines (`plain`), or nothing but epoch summaries (`quiet`).
    pub fn new(plain: bool, quiet: bool) -> Self {
        Self {
            bar: None,
            plain,
            quiet,
            lines_per_epoch: 4,
            steps: 1,
            last_plain: Instant::now(),
        }
    }

    /// Silent apart from explicit messages (tests, benchmarks).
    pub fn quiet() -> Self {
        Self::new(true, true)
    }

    /// Starts an epoch of `steps` steps.
    pub fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.steps = steps.max(1);
        self.last_plain = Instant::now();
        if self.quiet || self.plain {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    /// Reports step `step` (1-based) of the current epoch.
    pub fn step(
        &mut self,
        epoch: usize,
        step: usize,
        loss: f64,
        accuracy: f64,
        samples_per_s: f64,
        eta: Duration,
    ) {
        if self.quiet {
            return;
        }
        let msg = format!(
            "loss {loss:.4} acc {:.2}% {samples_per_s:.0} samples/s",
            accuracy * 100.0
        );
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(msg);
            return;
        }
        let every = (self.steps / self.lines_per_epoch).max(1);
        let slow = self.last_plain.elapsed() > Duration::from_secs(30);
        if (step.is_multiple_of(every) && step < self.steps) || slow {
            self.last_plain = Instant::now();
            println!(
                "  epoch {epoch} step {step}/{} {msg} ETA {}",
                self.steps,
                format_duration(eta)
            );
        }
    }

    /// Ends the epoch and prints its summary line.
    pub fn end_epoch(&mut self, summary: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!("{summary}");
    }

    /// Prints a line (above the bar, if any).
    pub fn message(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

/// `1h02m03s`, `4m05s` or `7s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// The ` | ETA 4m05s` an epoch line ends with after `epoch` of `epochs`: the epochs left at the
/// mean pace of those this process ran since `run_start` (`first_epoch..=epoch`; a resumed
/// run's earlier epochs took their time in another process). Empty after the last epoch.
pub fn eta_text(run_start: Instant, first_epoch: usize, epoch: usize, epochs: usize) -> String {
    let left = epochs.saturating_sub(epoch);
    if left == 0 {
        return String::new();
    }
    let per_epoch = run_start.elapsed().as_secs_f64() / (epoch + 1 - first_epoch) as f64;
    format!(
        " | ETA {}",
        format_duration(Duration::from_secs_f64(per_epoch * left as f64))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(7)), "7s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }
}
