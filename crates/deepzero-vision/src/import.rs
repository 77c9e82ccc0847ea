//! Importing torchvision-format weights (seed chapter 3.1): a PyTorch `.pth`/`.pt` checkpoint
//! or a `.safetensors` file, read through burn-store, into any model of the zoo.
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_vision::{load_torchvision, resnet18};
//!
//! let device = Device::flex();
//! // torchvision's own file: https://download.pytorch.org/models/resnet18-f37072fd.pth
//! let model = load_torchvision(resnet18(1000, &device), "resnet18-f37072fd.pth".as_ref())?;
//! # Ok::<(), deepzero_vision::ImportError>(())
//! ```
//!
//! # How a torchvision key finds its parameter
//! The zoo's fields are named after torchvision's attributes (see [`crate::classify::zoo`]), so
//! a key such as `layer2.0.downsample.1.running_var` is the path of the parameter it fills.
//! Three things bridge the remaining differences, all done by burn-store:
//!
//! 1. **Enum variants** are left out of burn's paths (`ImageModel::ResNet` → no segment,
//!    `FeatureLayer::Conv` → no segment), as in PyTorch.
//! 2. [`PyTorchToBurnAdapter`] transposes every `Linear` weight (PyTorch `[out, in]`, burn
//!    `[in, out]`) and finds BatchNorm's `gamma`/`beta` under PyTorch's `weight`/`bias`.
//! 3. The key remaps of [`KEY_REMAPS`], applied in order to every key of the file:
//!
//! | pattern | becomes | why |
//! |---|---|---|
//! | `^(state_dict\|model_state_dict\|model)\.` | (nothing) | training checkpoints that wrap the weights in a dict (`torch.save({"epoch": …, "state_dict": …})`) |
//! | `^module\.` | (nothing) | models saved from inside `nn.DataParallel` / `DistributedDataParallel` |
//! | `^linear\.` | `fc.` | the CIFAR ResNets of akamaster/pytorch_resnet_cifar10 name their classifier `linear` |
//!
//! Contiguous index mapping, which burn-store's `PytorchStore` turns on by default, is turned
//! **off**: the zoo keeps torchvision's `nn.Sequential` indices (`features.0`, `features.3`, …)
//! with a slot for every parameter-free layer, and renumbering them `0, 1, 2` would break that.
//!
//! # What is ignored, what is an error
//! Keys the model does not need are ignored when they are
//! - BatchNorm's `num_batches_tracked` counters (PyTorch buffers that burn does not keep);
//! - GoogLeNet's auxiliary classifiers (`aux1.*`, `aux2.*`) when the model was built without
//!   them: torchvision's ImageNet checkpoint holds them, its `googlenet(weights=…)` drops them.
//!
//! Anything else that does not fit — a parameter of the model that the file lacks, a key of the
//! file that the model lacks, a tensor of the wrong shape or kind — makes the import fail with
//! one [`ImportError::Mismatch`] that lists all of them. Nothing is half-loaded: the model is
//! consumed and only returned on success. With [`ImportOptions::allow_partial`] the import
//! succeeds anyway, keeping the model's own initial values wherever the file did not fit
//! (the usual way to reuse ImageNet weights under a new classifier), and the [`ImportReport`]
//! says which those were.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyError, ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

/// The key remaps applied to every file, in order: `(regex, replacement, reason)`.
/// See the [module docs](self).
pub const KEY_REMAPS: [(&str, &str, &str); 3] = [
    (
        r"^(state_dict|model_state_dict|model)\.",
        "",
        "weights wrapped in a training checkpoint",
    ),
    (r"^module\.", "", "nn.DataParallel prefix"),
    (
        r"^linear\.",
        "fc.",
        "akamaster CIFAR ResNets name the classifier `linear`",
    ),
];

/// Keys of the file that are never an error: PyTorch's BatchNorm step counters.
const IGNORED_SUFFIX: &str = ".num_batches_tracked";

/// Optional sub-modules whose weights may be in a file the model was built without.
const OPTIONAL_PREFIXES: [&str; 2] = ["aux1.", "aux2."];

/// The container of the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// A PyTorch checkpoint written by `torch.save` (zip, or the legacy pickle format).
    Pytorch,
    /// A SafeTensors file.
    Safetensors,
}

impl WeightFormat {
    /// Tells the format from the file's first bytes (a zip or pickle header for PyTorch; a
    /// little-endian header length then `{` for SafeTensors), falling back on the extension
    /// (`.pth`, `.pt`, `.bin`, `.safetensors`).
    ///
    /// # Errors
    /// [`ImportError::Io`] if the file cannot be read, [`ImportError::UnknownFormat`] if
    /// neither the content nor the extension names a format.
    pub fn detect(path: &Path) -> Result<Self, ImportError> {
        let io = |e: std::io::Error| ImportError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut head = Vec::with_capacity(9);
        std::fs::File::open(path)
            .map_err(io)?
            .take(9)
            .read_to_end(&mut head)
            .map_err(io)?;
        if let Some(len) = head.first_chunk::<8>().map(|b| u64::from_le_bytes(*b))
            && len <= 100_000_000
            && head.get(8) == Some(&b'{')
        {
            return Ok(WeightFormat::Safetensors);
        }
        if head.starts_with(b"PK\x03\x04") || head.first() == Some(&0x80) {
            return Ok(WeightFormat::Pytorch);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("pth" | "pt" | "bin") => Ok(WeightFormat::Pytorch),
            Some("safetensors") => Ok(WeightFormat::Safetensors),
            _ => Err(ImportError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// `"pytorch"` or `"safetensors"`.
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::Pytorch => "pytorch",
            WeightFormat::Safetensors => "safetensors",
        }
    }
}

/// Options of [`load_torchvision_with`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Succeed even when keys are missing, unused or of the wrong shape, keeping the model's
    /// initial values there (the [`ImportReport`] lists them). Off by default.
    pub allow_partial: bool,
}

/// A parameter whose tensor in the file has another shape than in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The parameter's key.
    pub key: String,
    /// Its shape in the model (burn's layout: `Linear` weights are `[in, out]`).
    pub model: Vec<usize>,
    /// The file's shape, after the adapter (a `Linear` weight already transposed).
    pub file: Vec<usize>,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (model {:?}, file {:?})",
            self.key, self.model, self.file
        )
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The file's format.
    pub format: Option<WeightFormat>,
    /// Parameters loaded from the file.
    pub applied: usize,
    /// Keys ignored on purpose (`num_batches_tracked`, unused auxiliary heads).
    pub ignored: usize,
    /// Parameters of the model that the file lacks (they keep their initial values).
    pub missing: Vec<String>,
    /// Keys of the file (after the remaps) that the model has no parameter for.
    pub unused: Vec<String>,
    /// Parameters whose shape differs (they keep their initial values).
    pub mismatched: Vec<ShapeMismatch>,
    /// Other per-tensor failures (a float tensor for an integer parameter, unreadable data).
    pub errors: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    /// `N tensors imported (FORMAT; M num_batches_tracked / auxiliary-head keys ignored)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let format = self.format.map_or("?", |format| format.name());
        write!(
            f,
            "{} tensors imported ({format}; {} num_batches_tracked / auxiliary-head keys ignored)",
            self.applied, self.ignored
        )
    }
}

impl ImportReport {
    /// Whether every parameter of the model was loaded and every key of the file used.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
            && self.unused.is_empty()
            && self.mismatched.is_empty()
            && self.errors.is_empty()
    }

    /// One line naming every problem, at most `per_kind` keys of each kind.
    pub fn problems(&self, per_kind: usize) -> String {
        fn list(out: &mut Vec<String>, what: &str, items: &[String], per_kind: usize) {
            if items.is_empty() {
                return;
            }
            let mut shown: Vec<String> = items.iter().take(per_kind).cloned().collect();
            if items.len() > per_kind {
                shown.push(format!("… {} more", items.len() - per_kind));
            }
            out.push(format!("{} {what} ({})", items.len(), shown.join(", ")));
        }
        let mut parts = Vec::new();
        list(&mut parts, "missing in the file", &self.missing, per_kind);
        list(
            &mut parts,
            "unused keys of the file",
            &self.unused,
            per_kind,
        );
        let mismatched: Vec<String> = self.mismatched.iter().map(|m| m.to_string()).collect();
        list(&mut parts, "with the wrong shape", &mismatched, per_kind);
        list(&mut parts, "other errors", &self.errors, per_kind);
        parts.join("; ")
    }
}

/// Why weights could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The weight file.
        path: PathBuf,
        /// The operating system's or the reader's message.
        message: String,
    },
    /// Neither a PyTorch checkpoint nor a SafeTensors file.
    #[error(
        "{}: not a PyTorch checkpoint (.pth/.pt) or a .safetensors file",
        path.display()
    )]
    UnknownFormat {
        /// The weight file.
        path: PathBuf,
    },
    /// The file was read but does not fit the model; lists every missing, unused and
    /// mismatched key (the full lists are in `report`).
    #[error("{} does not fit the model: {}", path.display(), report.problems(8))]
    Mismatch {
        /// The weight file.
        path: PathBuf,
        /// Everything the import found.
        report: Box<ImportReport>,
    },
}

/// Loads torchvision-format weights from `path` (`.pth`/`.pt` or `.safetensors`, told apart
/// by content) into `model`, strictly: every parameter must be in the file with its shape, and
/// every key of the file must be used (see the [module docs](self) for what is ignored).
///
/// # Errors
/// [`ImportError::Mismatch`] listing every missing, unused and wrong-shape key; the other
/// variants when the file cannot be read.
pub fn load_torchvision<M: Module>(model: M, path: &Path) -> Result<M, ImportError> {
    load_torchvision_with(model, path, &ImportOptions::default()).map(|(model, _)| model)
}

/// [`load_torchvision`] with options; also returns what was loaded and what was not.
///
/// # Errors
/// As [`load_torchvision`]; with `allow_partial`, only for unreadable files and for tensors
/// of the wrong kind or with unreadable data.
pub fn load_torchvision_with<M: Module>(
    model: M,
    path: &Path,
    options: &ImportOptions,
) -> Result<(M, ImportReport), ImportError> {
    load_torchvision_remapped(model, path, options, &[])
}

/// [`load_torchvision_with`] with further key remaps `(regex, replacement)`, applied after
/// [`KEY_REMAPS`] (a model whose layout differs from the file's in known places, as the Faster
/// R-CNN import's `inner_blocks.<i>.0.` → `inner_blocks.<i>.`).
///
/// # Errors
/// As [`load_torchvision_with`].
///
/// # Panics
/// If a pattern of `extra_remaps` is not a valid regex (they are the caller's constants).
pub fn load_torchvision_remapped<M: Module>(
    mut model: M,
    path: &Path,
    options: &ImportOptions,
    extra_remaps: &[(&str, &str)],
) -> Result<(M, ImportReport), ImportError> {
    let format = WeightFormat::detect(path)?;
    let remapper = remapper(extra_remaps);
    let read_error = |message: String| ImportError::Io {
        path: path.to_path_buf(),
        message,
    };
    // Both stores are asked for the full `ApplyResult` (no validation, partial allowed); the
    // decision is taken below on all of it at once.
    let result = match format {
        WeightFormat::Pytorch => {
            let mut store = PytorchStore::from_file(path)
                .remap(remapper)
                .map_indices_contiguous(false)
                .validate(false)
                .allow_partial(true);
            apply(&mut model, &mut store).map_err(read_error)?
        }
        WeightFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(path)
                .remap(remapper)
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .validate(false)
                .allow_partial(true);
            apply(&mut model, &mut store).map_err(read_error)?
        }
    };
    let report = report(format, result);
    let fatal = !report.errors.is_empty() || (!options.allow_partial && !report.is_complete());
    if fatal {
        return Err(ImportError::Mismatch {
            path: path.to_path_buf(),
            report: Box::new(report),
        });
    }
    Ok((model, report))
}

/// [`KEY_REMAPS`], then `extra_remaps`.
fn remapper(extra_remaps: &[(&str, &str)]) -> KeyRemapper {
    KeyRemapper::from_patterns(
        KEY_REMAPS
            .iter()
            .map(|&(from, to, _)| (from, to))
            .chain(extra_remaps.iter().copied())
            .collect(),
    )
    .expect("the remap patterns are valid regexes")
}

/// The blocks in each of a ResNet's four stages, counted from the keys of a state dict whose
/// ResNet sits under `prefix` (`"backbone."`, `"backbone.body."`): one more than the highest
/// index `i` of the keys `{prefix}layer{s}.{i}.…`, 0 for a stage with no key.
pub fn resnet_blocks_per_stage(
    shapes: &std::collections::BTreeMap<String, Vec<usize>>,
    prefix: &str,
) -> [usize; 4] {
    std::array::from_fn(|stage| {
        let layer = format!("{prefix}layer{}.", stage + 1);
        shapes
            .keys()
            .filter_map(|k| {
                k.strip_prefix(&layer)?
                    .split('.')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |last| last + 1)
    })
}

/// The shape of every tensor of a weight file (`.pth` or `.safetensors`), by key after
/// [`KEY_REMAPS`] and `extra_remaps`, in PyTorch's layout (a `Linear` weight is `[out, in]`),
/// without reading the tensors' data: what an import reads an architecture's widths from
/// before it builds the model (the Faster R-CNN import's
/// [`faster_rcnn_config_of`](crate::tasks::rcnn::faster_rcnn_config_of)).
///
/// # Errors
/// [`ImportError::Io`] if the file cannot be read as its format,
/// [`ImportError::UnknownFormat`] if it is of neither format.
///
/// # Panics
/// If a pattern of `extra_remaps` is not a valid regex (they are the caller's constants).
pub fn tensor_shapes(
    path: &Path,
    extra_remaps: &[(&str, &str)],
) -> Result<std::collections::BTreeMap<String, Vec<usize>>, ImportError> {
    let read_error = |message: String| ImportError::Io {
        path: path.to_path_buf(),
        message,
    };
    let shapes = |all: &std::collections::BTreeMap<String, burn::store::burn_pack::Tensor>| {
        all.iter()
            .map(|(k, t)| (k.clone(), t.shape.to_vec()))
            .collect()
    };
    match WeightFormat::detect(path)? {
        WeightFormat::Pytorch => {
            let mut store = PytorchStore::from_file(path)
                .remap(remapper(extra_remaps))
                .map_indices_contiguous(false);
            let all = store
                .get_all_tensors()
                .map_err(|e| read_error(e.to_string()))?;
            Ok(shapes(all))
        }
        WeightFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(path).remap(remapper(extra_remaps));
            let all = store
                .get_all_tensors()
                .map_err(|e| read_error(e.to_string()))?;
            Ok(shapes(all))
        }
    }
}

fn apply<M: Module, S: ModuleStore>(model: &mut M, store: &mut S) -> Result<ApplyResult, String> {
    model.load_from(store).map_err(|e| e.to_string())
}

/// Sorts burn-store's result into the report: drops the ignored keys, splits the errors.
fn report(format: WeightFormat, result: ApplyResult) -> ImportReport {
    let model_paths: Vec<&str> = result
        .applied
        .iter()
        .map(String::as_str)
        .chain(result.missing.iter().map(|(p, _)| p.as_str()))
        .collect();
    let optional_absent = |key: &str| {
        OPTIONAL_PREFIXES.iter().any(|prefix| {
            key.starts_with(prefix) && !model_paths.iter().any(|p| p.starts_with(prefix))
        })
    };
    let (ignored, unused): (Vec<String>, Vec<String>) = result
        .unused
        .into_iter()
        .partition(|k| k.ends_with(IGNORED_SUFFIX) || optional_absent(k));
    let mut mismatched = Vec::new();
    let mut errors = Vec::new();
    for error in result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => mismatched.push(ShapeMismatch {
                key: path,
                model: expected.to_vec(),
                file: found.to_vec(),
            }),
            other => errors.push(other.to_string()),
        }
    }
    ImportReport {
        format: Some(format),
        applied: result.applied.len(),
        ignored: ignored.len(),
        missing: result.missing.into_iter().map(|(p, _)| p).collect(),
        unused,
        mismatched,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_say_what_was_imported() {
        let report = ImportReport {
            format: Some(WeightFormat::Safetensors),
            applied: 102,
            ignored: 20,
            ..ImportReport::default()
        };
        assert_eq!(
            report.to_string(),
            "102 tensors imported (safetensors; 20 num_batches_tracked / auxiliary-head keys ignored)"
        );
        assert!(ImportReport::default().to_string().contains("(?;"));
    }

    #[test]
    fn detects_formats_by_content_then_extension() {
        let dir = std::env::temp_dir().join(format!("deepzero-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        // Content wins over a misleading extension.
        assert_eq!(
            WeightFormat::detect(&write("a.pth", &st)).unwrap(),
            WeightFormat::Safetensors
        );
        assert_eq!(
            WeightFormat::detect(&write("b.bin", b"PK\x03\x04rest")).unwrap(),
            WeightFormat::Pytorch
        );
        assert_eq!(
            WeightFormat::detect(&write("c.pt", b"\x80\x02}q")).unwrap(),
            WeightFormat::Pytorch
        );
        assert!(matches!(
            WeightFormat::detect(&write("d.txt", b"hello")),
            Err(ImportError::UnknownFormat { .. })
        ));
        assert!(matches!(
            WeightFormat::detect(&dir.join("absent.pth")),
            Err(ImportError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn problems_line_lists_every_kind_and_truncates() {
        let report = ImportReport {
            missing: vec!["fc.bias".into()],
            unused: (0..10).map(|i| format!("extra{i}.weight")).collect(),
            mismatched: vec![ShapeMismatch {
                key: "conv1.weight".into(),
                model: vec![4, 3, 7, 7],
                file: vec![4, 3, 5, 5],
            }],
            ..ImportReport::default()
        };
        let line = report.problems(2);
        assert_eq!(
            line,
            "1 missing in the file (fc.bias); 10 unused keys of the file (extra0.weight, \
             extra1.weight, … 8 more); 1 with the wrong shape (conv1.weight (model [4, 3, 7, 7], \
             file [4, 3, 5, 5]))"
        );
        assert!(!report.is_complete());
        assert!(ImportReport::default().is_complete());
    }
}
