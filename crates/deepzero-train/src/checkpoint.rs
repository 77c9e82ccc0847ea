//! Atomic per-epoch checkpoints.
//!
//! Layout under the run folder:
//! ```text
//! checkpoints/
//!   epoch-0003/ model.bpk optim.bpk state.json   (one folder per kept epoch)
//!   latest.json                                  ({"epoch": 3, "dir": "epoch-0003"})
//!   best/model.bpk, best/state.json              (the epoch with the best validation loss)
//! ```
//! An epoch folder is complete before `latest.json` is switched to it (written to a temporary
//! file, then renamed), so killing the process at any moment leaves `latest.json` naming a
//! complete checkpoint: at most the current epoch is lost.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::tensor::Tensor;
use deepzero_core::EarlyStopping;
use serde::{Deserialize, Serialize};

use crate::metrics_file::{read_json, write_json_atomic};
use crate::{EpochRecord, TrainError};

/// Everything besides tensors that a resumed run needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Completed epochs.
    pub epoch: usize,
    /// Optimiser steps taken so far (the schedule's position).
    pub global_step: usize,
    /// The run's seed.
    pub seed: u64,
    /// The metrics of every completed epoch.
    pub history: Vec<EpochRecord>,
    /// Early-stopping bookkeeping, when enabled.
    pub early_stopping: Option<EarlyStopping>,
    /// Free-form description of the run (recipe, model config); a resume checks it matches.
    pub run: serde_json::Value,
    /// The training settings ([`crate::FitConfig`] and the run folder's extras); a resume
    /// refuses a change except of the settings in [`crate::fit::RESUMABLE_CHANGES`]. Null in
    /// checkpoints written before it was recorded.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Allowed setting changes made by resumes, e.g. `"after epoch 3: epochs 10 → 15"`.
    #[serde(default)]
    pub changes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    epoch: usize,
    dir: String,
}

/// A checkpoint on disk.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Its state.
    pub state: CheckpointState,
    /// Set when this is not the checkpoint `latest.json` names, because that one is damaged:
    /// says which was skipped and why.
    pub note: Option<String>,
}

impl Checkpoint {
    /// Path of the model record.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    /// Loads the model weights into `model` (which must have the same structure).
    pub fn load_model<M: Module>(&self, model: M) -> Result<M, TrainError> {
        load_model(model, &self.model_path())
    }

    /// Loads the optimiser state into `optim`.
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer, TrainError> {
        let path = self.dir.join("optim.bpk");
        optim.load(&path).map_err(|e| TrainError::Record {
            path,
            message: e.to_string(),
        })
    }
}

/// Loads a burnpack model record from `path` into `model`, with a typed error. The file is
/// checked against the SHA-256 written beside it (`model.bpk.sha256`, when present), and a
/// model whose weights hold NaN or infinite values is refused: it could only give wrong answers.
pub fn load_model<M: Module>(model: M, path: &Path) -> Result<M, TrainError> {
    if !path.exists() {
        return Err(TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: "no such model file".into(),
        });
    }
    verify_checksum(path)?;
    let model = model.try_load_file(path).map_err(|e| TrainError::Record {
        path: path.to_path_buf(),
        message: format!("cannot load into this model: {e}"),
    })?;
    refuse_non_finite(model, path)
}

/// [`load_model`] from the bytes of a burnpack record already in memory (a `model.bpk`
/// fetched by a browser, say). `name` names the record in errors; `sha256` is the content of
/// the checksum file written beside it (`model.bpk.sha256`), checked when given.
///
/// # Errors
/// [`TrainError::Record`] for a checksum mismatch, bytes that are not a burnpack record or do
/// not fit `model`, and weights that hold NaN or infinite values.
pub fn load_model_bytes<M: Module>(
    model: M,
    bytes: &[u8],
    name: &str,
    sha256: Option<&str>,
) -> Result<M, TrainError> {
    let path = Path::new(name);
    if let Some(text) = sha256 {
        use sha2::{Digest, Sha256};
        let expected = text.split_whitespace().next().unwrap_or_default();
        let found = format!("{:x}", Sha256::digest(bytes));
        if expected != found {
            return Err(checksum_mismatch(path, expected, &found));
        }
    }
    let record =
        burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| TrainError::Record {
                path: path.to_path_buf(),
                message: format!("not a burnpack model record: {e}"),
            })?;
    let model = model
        .try_load_record(record)
        .map_err(|e| TrainError::Record {
            path: path.to_path_buf(),
            message: format!("cannot load into this model: {e}"),
        })?;
    refuse_non_finite(model, path)
}

/// `model`, unless a weight tensor holds NaN or an infinity: such a model could only give
/// wrong answers.
fn refuse_non_finite<M: Module>(model: M, path: &Path) -> Result<M, TrainError> {
    let non_finite = count_non_finite(&model);
    if non_finite > 0 {
        return Err(TrainError::Record {
            path: path.to_path_buf(),
            message: format!(
                "{non_finite} weight tensors hold NaN or infinite values; the model is damaged \
                 (retrain, or resume from an earlier checkpoint)"
            ),
        });
    }
    Ok(model)
}

/// Saves `model` as a burnpack record at `path` (burn writes through a temporary file), with
/// its SHA-256 in `path.sha256` (`sha256sum -c` format).
pub fn save_model<M: Module>(model: &M, path: &Path) -> Result<(), TrainError> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| TrainError::Record {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let digest = file_sha256(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    crate::metrics_file::write_atomic(
        &checksum_path(path),
        format!("{digest}  {name}\n").as_bytes(),
    )
}

fn checksum_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn file_sha256(path: &Path) -> Result<String, TrainError> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).map_err(TrainError::io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(TrainError::io(path))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Checks `path` against `path.sha256` when that file exists (older runs have none).
pub fn verify_checksum(path: &Path) -> Result<(), TrainError> {
    let sidecar = checksum_path(path);
    if !sidecar.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&sidecar).map_err(TrainError::io(&sidecar))?;
    let expected = text.split_whitespace().next().unwrap_or_default();
    let found = file_sha256(path)?;
    if expected != found {
        return Err(checksum_mismatch(path, expected, &found));
    }
    Ok(())
}

fn checksum_mismatch(path: &Path, expected: &str, found: &str) -> TrainError {
    TrainError::Record {
        path: path.to_path_buf(),
        message: format!(
            "checksum mismatch: the file is damaged or was replaced (expected {expected}, \
             found {found})"
        ),
    }
}

/// The number of float parameter tensors of `model` holding a NaN or an infinity.
pub fn count_non_finite<M: Module>(model: &M) -> usize {
    struct NonFinite(usize);
    impl ModuleVisitor for NonFinite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !param.val().is_finite().all().into_scalar::<bool>() {
                self.0 += 1;
            }
        }
    }
    let mut visitor = NonFinite(0);
    model.visit(&mut visitor);
    visitor.0
}

/// The checkpoint folder of one run.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    root: PathBuf,
    keep: usize,
}

impl Checkpoints {
    /// Checkpoints under `run_dir/checkpoints`, keeping the last `keep` epochs (at least 1).
    pub fn new(run_dir: &Path, keep: usize) -> Self {
        Self {
            root: run_dir.join("checkpoints"),
            keep: keep.max(1),
        }
    }

    /// The `checkpoints` folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes epoch `state.epoch`'s checkpoint and then points `latest.json` at it.
    pub fn save<M: Module>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &CheckpointState,
    ) -> Result<Checkpoint, TrainError> {
        let name = format!("epoch-{:04}", state.epoch);
        let dir = self.root.join(&name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(TrainError::io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        save_model(model, &dir.join("model.bpk"))?;
        let optim_path = dir.join("optim.bpk");
        optim.save(&optim_path).map_err(|e| TrainError::Record {
            path: optim_path,
            message: e.to_string(),
        })?;
        write_json_atomic(&dir.join("state.json"), state)?;
        // Only now does the checkpoint become visible.
        write_json_atomic(
            &self.root.join("latest.json"),
            &Pointer {
                epoch: state.epoch,
                dir: name,
            },
        )?;
        self.prune(state.epoch)?;
        Ok(Checkpoint {
            dir,
            state: state.clone(),
            note: None,
        })
    }

    /// Saves `model` as the best so far (with the state that describes it). The pair is written
    /// to a staging folder and swapped in, so `best/` always holds a model and the state that
    /// describes it (after a crash mid-swap, `best.old/` does, and [`Checkpoints::best`] uses it).
    pub fn save_best<M: Module>(
        &self,
        model: &M,
        state: &CheckpointState,
    ) -> Result<(), TrainError> {
        let (dir, staging, old) = (
            self.best_dir(),
            self.root.join("best.new"),
            self.root.join("best.old"),
        );
        for stale in [&staging, &old] {
            if stale.exists() {
                std::fs::remove_dir_all(stale).map_err(TrainError::io(stale))?;
            }
        }
        std::fs::create_dir_all(&staging).map_err(TrainError::io(&staging))?;
        save_model(model, &staging.join("model.bpk"))?;
        write_json_atomic(&staging.join("state.json"), state)?;
        if dir.exists() {
            std::fs::rename(&dir, &old).map_err(TrainError::io(&dir))?;
        }
        std::fs::rename(&staging, &dir).map_err(TrainError::io(&staging))?;
        crate::metrics_file::sync_parent(&dir)?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(TrainError::io(&old))?;
        }
        Ok(())
    }

    /// The folder holding the best model.
    pub fn best_dir(&self) -> PathBuf {
        self.root.join("best")
    }

    /// The best checkpoint, if one was saved.
    pub fn best(&self) -> Result<Option<Checkpoint>, TrainError> {
        for dir in [self.best_dir(), self.root.join("best.old")] {
            let state_path = dir.join("state.json");
            if state_path.exists() {
                return Ok(Some(Checkpoint {
                    state: read_json(&state_path)?,
                    dir,
                    note: None,
                }));
            }
        }
        Ok(None)
    }

    /// The checkpoint `latest.json` names — or, if that one is damaged (a missing or unreadable
    /// file, a checksum mismatch), the newest intact epoch folder, with a [`Checkpoint::note`]
    /// saying so. `None` when there is no checkpoint at all.
    ///
    /// # Errors
    /// The damage of the named checkpoint when no epoch folder is intact.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        let pointer_path = self.root.join("latest.json");
        if !pointer_path.exists() {
            return Ok(None);
        }
        let named = read_json::<Pointer>(&pointer_path).and_then(|pointer| {
            let dir =
                crate::run_folder::confined_path(&self.root, &pointer.dir).map_err(|why| {
                    TrainError::Checkpoint {
                        path: pointer_path.clone(),
                        message: format!("names `{}`, {why}", pointer.dir),
                    }
                })?;
            let checkpoint = self.intact(&dir)?;
            if checkpoint.state.epoch != pointer.epoch {
                return Err(TrainError::Checkpoint {
                    path: checkpoint.dir,
                    message: format!(
                        "latest.json says epoch {} but the folder holds epoch {}",
                        pointer.epoch, checkpoint.state.epoch
                    ),
                });
            }
            Ok(checkpoint)
        });
        let damage = match named {
            Ok(checkpoint) => return Ok(Some(checkpoint)),
            Err(damage) => damage,
        };
        let mut epochs: Vec<(usize, PathBuf)> = std::fs::read_dir(&self.root)
            .map_err(TrainError::io(&self.root))?
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let epoch = name.strip_prefix("epoch-")?.parse::<usize>().ok()?;
                Some((epoch, entry.path()))
            })
            .collect();
        epochs.sort_by_key(|(epoch, _)| std::cmp::Reverse(*epoch));
        for (_, dir) in epochs {
            if let Ok(mut checkpoint) = self.intact(&dir) {
                checkpoint.note = Some(format!(
                    "the latest checkpoint is damaged ({damage}); using epoch {} instead",
                    checkpoint.state.epoch
                ));
                return Ok(Some(checkpoint));
            }
        }
        Err(damage)
    }

    /// The checkpoint in `dir` if its state parses and its model and optimiser files are there
    /// (the model matching its checksum).
    fn intact(&self, dir: &Path) -> Result<Checkpoint, TrainError> {
        let state: CheckpointState = read_json(&dir.join("state.json"))?;
        for file in ["model.bpk", "optim.bpk"] {
            if !dir.join(file).is_file() {
                return Err(TrainError::Checkpoint {
                    path: dir.to_path_buf(),
                    message: format!("{file} is missing"),
                });
            }
        }
        verify_checksum(&dir.join("model.bpk"))?;
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            state,
            note: None,
        })
    }

    /// Removes epoch folders older than the last `keep` (and any left by an interrupted write).
    fn prune(&self, latest_epoch: usize) -> Result<(), TrainError> {
        let entries = std::fs::read_dir(&self.root).map_err(TrainError::io(&self.root))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(epoch) = name
                .strip_prefix("epoch-")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if epoch + self.keep <= latest_epoch || epoch > latest_epoch {
                std::fs::remove_dir_all(entry.path()).map_err(TrainError::io(entry.path()))?;
            }
        }
        Ok(())
    }
}
