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

use burn::module::Module;
use burn::optim::ModuleOptimizer;
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

/// Loads a burnpack model record from `path` into `model`, with a typed error.
pub fn load_model<M: Module>(model: M, path: &Path) -> Result<M, TrainError> {
    if !path.exists() {
        return Err(TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: "no such model file".into(),
        });
    }
    model.try_load_file(path).map_err(|e| TrainError::Record {
        path: path.to_path_buf(),
        message: format!("cannot load into this model: {e}"),
    })
}

/// Saves `model` as a burnpack record at `path` (burn writes through a temporary file).
pub fn save_model<M: Module>(model: &M, path: &Path) -> Result<(), TrainError> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| TrainError::Record {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
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
        })
    }

    /// Saves `model` as the best so far (with the state that describes it).
    pub fn save_best<M: Module>(
        &self,
        model: &M,
        state: &CheckpointState,
    ) -> Result<(), TrainError> {
        let dir = self.best_dir();
        std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        save_model(model, &dir.join("model.bpk"))?;
        write_json_atomic(&dir.join("state.json"), state)
    }

    /// The folder holding the best model.
    pub fn best_dir(&self) -> PathBuf {
        self.root.join("best")
    }

    /// The best checkpoint, if one was saved.
    pub fn best(&self) -> Result<Option<Checkpoint>, TrainError> {
        let dir = self.best_dir();
        let state_path = dir.join("state.json");
        if !state_path.exists() {
            return Ok(None);
        }
        Ok(Some(Checkpoint {
            state: read_json(&state_path)?,
            dir,
        }))
    }

    /// The checkpoint `latest.json` names, if any.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        let pointer_path = self.root.join("latest.json");
        if !pointer_path.exists() {
            return Ok(None);
        }
        let pointer: Pointer = read_json(&pointer_path)?;
        let dir = self.root.join(&pointer.dir);
        let state: CheckpointState = read_json(&dir.join("state.json"))?;
        if state.epoch != pointer.epoch {
            return Err(TrainError::Checkpoint {
                path: dir,
                message: format!(
                    "latest.json says epoch {} but the folder holds epoch {}",
                    pointer.epoch, state.epoch
                ),
            });
        }
        Ok(Some(Checkpoint { dir, state }))
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
