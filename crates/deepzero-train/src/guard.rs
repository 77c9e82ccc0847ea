//! Guards that keep a run folder whole: one writer at a time, no silent overwrite of a finished
//! run, and nothing changed by a `--resume` that is going to be refused.
//!
//! - [`lock_run_folder`] takes an exclusive lock on `OUT/.lock` (an OS file lock, released when
//!   the process ends, even by `kill -9`), so two processes never write one run folder.
//! - [`holds_run`] tells whether a folder already holds a run; [`clear_run`] empties it for
//!   `--overwrite`.
//! - [`check_unchanged`] compares a file a resumed run would rewrite (`run.json`, the
//!   vocabulary) with what is on disk, and names the first field that differs.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::TrainError;

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Files or folders whose presence means "this folder holds a run".
const RUN_MARKERS: [&str; 4] = ["run.json", "model.bpk", "checkpoints", "metrics.json"];

/// Run folders this process has locked, with their lock files (kept open until exit).
static LOCKED: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

/// Locks `dir` (which must exist) for this process: a second process asking for the same folder
/// gets an error naming it, while this process may ask again (a no-op).
///
/// # Errors
/// [`TrainError::Config`] if another process holds the lock, [`TrainError::Io`] if the lock
/// file cannot be created.
pub fn lock_run_folder(dir: &Path) -> Result<(), TrainError> {
    let key = dir.canonicalize().map_err(TrainError::io(dir))?;
    let mut locked = LOCKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if locked.iter().any(|(path, _)| *path == key) {
        return Ok(());
    }
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(TrainError::io(&path))?;
    match file.try_lock() {
        Ok(()) => {
            locked.push((key, file));
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(TrainError::Config(format!(
            "{}: another deepzero process is writing this run folder; wait for it to finish or \
             choose another --out",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => Err(TrainError::Io { path, source }),
    }
}

/// Whether `dir` already holds (part of) a run: a `run.json`, `model.bpk`, `metrics.json` or
/// `checkpoints/`.
pub fn holds_run(dir: &Path) -> bool {
    RUN_MARKERS.iter().any(|name| dir.join(name).exists())
}

/// Removes everything in `dir` except its lock file (for `--overwrite`).
///
/// # Errors
/// [`TrainError::Io`] if an entry cannot be removed.
pub fn clear_run(dir: &Path) -> Result<(), TrainError> {
    let entries = std::fs::read_dir(dir).map_err(TrainError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(TrainError::io(dir))?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().map_err(TrainError::io(&path))?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(TrainError::io(&path))?;
    }
    Ok(())
}

/// Checks that `new` equals the file at `path` (when it exists), for a resume that must not
/// change what the run was trained with. JSON files are compared as JSON, and the message names
/// the first field that differs.
///
/// # Errors
/// [`TrainError::Config`] naming the file (and field) when they differ, [`TrainError::Io`] if
/// the file cannot be read.
pub fn check_unchanged(path: &Path, new: &[u8]) -> Result<(), TrainError> {
    if !path.exists() {
        return Ok(());
    }
    let old = std::fs::read(path).map_err(TrainError::io(path))?;
    if old == new {
        return Ok(());
    }
    let parsed = (
        serde_json::from_slice::<serde_json::Value>(&old),
        serde_json::from_slice::<serde_json::Value>(new),
    );
    let what = match parsed {
        (Ok(old), Ok(new)) if old == new => return Ok(()),
        (Ok(old), Ok(new)) => first_difference(&old, &new, String::new())
            .map(|(field, was, now)| format!("`{field}` was {was}, now {now}"))
            .unwrap_or_else(|| "its content differs".into()),
        _ => "its content differs".into(),
    };
    Err(TrainError::Config(format!(
        "{}: --resume refused, this command would change the run: {what} (same data and \
         settings continue a run; a new run needs another --out or --overwrite)",
        path.display()
    )))
}

/// The first field (as a dotted path) whose value differs, with both values shortened.
fn first_difference(
    old: &serde_json::Value,
    new: &serde_json::Value,
    at: String,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    if old == new {
        return None;
    }
    if let (Value::Object(a), Value::Object(b)) = (old, new) {
        let keys: HashSet<&String> = a.keys().chain(b.keys()).collect();
        let mut keys: Vec<&String> = keys.into_iter().collect();
        keys.sort();
        for key in keys {
            let field = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            let (x, y) = (
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            );
            if let Some(found) = first_difference(x, y, field) {
                return Some(found);
            }
        }
        return None;
    }
    let short = |v: &Value| {
        let text = v.to_string();
        if text.chars().count() > 60 {
            format!("{}…", text.chars().take(60).collect::<String>())
        } else {
            text
        }
    };
    let field = if at.is_empty() {
        "(whole file)".into()
    } else {
        at
    };
    Some((field, short(old), short(new)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_process_cannot_take_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        lock_run_folder(dir.path()).unwrap();
        lock_run_folder(dir.path()).unwrap(); // the same process may ask again
        // Another open file description stands for another process (flock semantics).
        let other = File::options()
            .write(true)
            .open(dir.path().join(LOCK_FILE))
            .unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
    }

    #[test]
    fn clear_keeps_only_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "").unwrap();
        std::fs::write(dir.path().join("run.json"), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join("checkpoints/epoch-0001")).unwrap();
        assert!(holds_run(dir.path()));
        clear_run(dir.path()).unwrap();
        assert!(!holds_run(dir.path()));
        assert!(dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn a_changed_json_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(
            &path,
            r#"{"recipe":"a","model":{"d_hidden":64,"layers":2}}"#,
        )
        .unwrap();
        // Same JSON, other formatting: accepted.
        check_unchanged(
            &path,
            br#"{ "model": {"layers":2, "d_hidden":64}, "recipe": "a" }"#,
        )
        .unwrap();
        let err = check_unchanged(
            &path,
            br#"{"recipe":"a","model":{"d_hidden":128,"layers":2}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`model.d_hidden` was 64, now 128"), "{err}");
        assert!(check_unchanged(&dir.path().join("absent.json"), b"{}").is_ok());
        std::fs::write(dir.path().join("merges.txt"), "a b\n").unwrap();
        assert!(check_unchanged(&dir.path().join("merges.txt"), b"a c\n").is_err());
    }
}
