//! Per-epoch records, `metrics.csv` and atomic JSON files.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate at the last step of the epoch.
    pub lr: f64,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy over the epoch (with dropout/augmentation active).
    pub train_accuracy: f64,
    /// Validation loss, when there is a validation set.
    pub valid_loss: Option<f64>,
    /// Validation accuracy, when there is a validation set.
    pub valid_accuracy: Option<f64>,
    /// Wall-clock seconds of the training part of the epoch.
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
    /// Further validation figures, by name (e.g. a segmenter's `mean_iou`), from
    /// [`FitHooks::valid_metrics`](crate::FitHooks::valid_metrics); empty without that hook
    /// (and in checkpoints written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_metrics: Vec<(String, f64)>,
}

/// Writes all records as `metrics.csv` (header + one row per epoch), atomically. Each name of
/// [`EpochRecord::valid_metrics`] (in the order first seen) adds a column `valid_<name>` after
/// the fixed ones, empty in the epochs that lack it.
pub fn write_metrics_csv(path: &Path, records: &[EpochRecord]) -> Result<(), TrainError> {
    let mut extra: Vec<&str> = Vec::new();
    for (name, _) in records.iter().flat_map(|r| &r.valid_metrics) {
        if !extra.contains(&name.as_str()) {
            extra.push(name);
        }
    }
    let mut text = String::from(
        "epoch,lr,train_loss,train_accuracy,valid_loss,valid_accuracy,train_seconds,samples_per_second",
    );
    for name in &extra {
        text.push_str(&format!(",valid_{name}"));
    }
    text.push('\n');
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    for r in records {
        text.push_str(&format!(
            "{},{:.6e},{:.6},{:.6},{},{},{:.3},{:.1}",
            r.epoch,
            r.lr,
            r.train_loss,
            r.train_accuracy,
            opt(r.valid_loss),
            opt(r.valid_accuracy),
            r.train_seconds,
            r.samples_per_second
        ));
        for name in &extra {
            let value = r.valid_metrics.iter().find(|(n, _)| n == name);
            text.push(',');
            text.push_str(&opt(value.map(|(_, v)| *v)));
        }
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// Serialises `value` as pretty JSON to `path` through a temporary file and a rename, so that a
/// crash never leaves a half-written file behind.
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot serialise: {e}"),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` so that a crash or a concurrent reader never sees a partial file:
/// a temporary file named after the process and a counter (so two writers never share one)
/// is written and fsynced, renamed over `path`, and the folder is fsynced so that the rename
/// itself survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(TrainError::Io { path: tmp, source });
    }
    if let Err(source) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    sync_parent(path)
}

/// Fsyncs the folder holding `path` (a no-op where folders cannot be opened, as on Windows).
pub fn sync_parent(path: &Path) -> Result<(), TrainError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(TrainError::io(parent))?;
    #[cfg(not(unix))]
    let _ = parent;
    Ok(())
}

/// The largest run-metadata JSON file [`read_json`] reads (256 MiB).
pub const MAX_JSON_BYTES: u64 = 256 << 20;

/// Reads a JSON file written by [`write_json_atomic`]: a regular file of at most
/// [`MAX_JSON_BYTES`].
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    // Run metadata is small: refuse a device, a pipe or a huge file before reading it, so
    // that a `latest.json` pointing at `/dev/zero` cannot eat the machine's memory.
    let meta = std::fs::metadata(path).map_err(TrainError::io(path))?;
    if !meta.is_file() || meta.len() > MAX_JSON_BYTES {
        return Err(TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "not a regular JSON file of at most {} MiB",
                MAX_JSON_BYTES >> 20
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(TrainError::io(path))?;
    parse_json(path, &bytes)
}

/// [`read_json`] on a file's bytes already in memory (fetched by a browser, say); `name` names
/// it in errors.
///
/// # Errors
/// [`TrainError::Checkpoint`] for more than [`MAX_JSON_BYTES`], bytes that are not UTF-8 or
/// JSON that does not parse as `T`.
pub fn parse_json<T: for<'de> Deserialize<'de>>(
    name: &Path,
    bytes: &[u8],
) -> Result<T, TrainError> {
    let refuse = |message: String| TrainError::Checkpoint {
        path: name.to_path_buf(),
        message,
    };
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(refuse(format!(
            "not a regular JSON file of at most {} MiB",
            MAX_JSON_BYTES >> 20
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| refuse(format!("not UTF-8 text: {e}")))?;
    // serde quotes the input it could not match (an unknown enum variant), newlines included:
    // keep the error on one line.
    serde_json::from_str(text)
        .map_err(|e| refuse(format!("cannot parse: {e}").replace(['\n', '\r'], " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            lr: 1e-3,
            train_loss: 0.5,
            train_accuracy: 0.8,
            valid_loss: Some(0.4),
            valid_accuracy: None,
            train_seconds: 1.5,
            samples_per_second: 1000.0,
            valid_metrics: Vec::new(),
        }
    }

    #[test]
    fn csv_has_header_and_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        write_metrics_csv(&path, &[record(1), record(2)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("epoch,lr,train_loss"));
        assert!(lines[2].starts_with("2,1.000000e-3,0.500000,0.800000,0.400000,,1.500,1000.0"));
        assert!(!dir.path().join("metrics.csv.tmp").exists());
    }

    /// Named validation figures become `valid_<name>` columns, empty where an epoch lacks one;
    /// records written before the field existed still read.
    #[test]
    fn valid_metrics_become_columns_and_old_records_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut first = record(1);
        first.valid_metrics = vec![("mean_iou".into(), 0.5)];
        let mut second = record(2);
        second.valid_metrics = vec![("dice".into(), 0.75), ("mean_iou".into(), 0.625)];
        write_metrics_csv(&path, &[first, second]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(",samples_per_second,valid_mean_iou,valid_dice"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(",1000.0,0.500000,"), "{}", lines[1]);
        assert!(
            lines[2].ends_with(",1000.0,0.625000,0.750000"),
            "{}",
            lines[2]
        );

        let mut json = serde_json::to_value(record(3)).unwrap();
        assert!(json.get("valid_metrics").is_none(), "{json}");
        json.as_object_mut().unwrap().remove("valid_metrics");
        let back: EpochRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record(3));
    }

    #[test]
    fn a_parse_error_stays_on_one_line() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            A,
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "\"line one\\nline two\"").unwrap();
        let err = read_json::<Kind>(&path).unwrap_err().to_string();
        assert!(err.contains("unknown variant"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_json_atomic(&path, &vec![record(3)]).unwrap();
        let back: Vec<EpochRecord> = read_json(&path).unwrap();
        assert_eq!(back, vec![record(3)]);
    }
}
