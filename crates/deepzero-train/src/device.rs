//! Run-time backend selection: a name (a program's `--backend` option, say), else the
//! `BURN_DEVICE` environment variable, else Flex.
//!
//! Cargo features of this crate decide which backends are compiled in (Flex always; `ndarray`,
//! `wgpu`, `cuda` on request); this module turns a name into a burn [`Device`]. Models never name
//! a backend: they take the device this returns.
//!
//! ```
//! use deepzero_train::device::Backend;
//!
//! let backend = Backend::resolve(None)?; // BURN_DEVICE, else Flex
//! let device = backend.device()?;
//! # Ok::<(), deepzero_train::device::BackendError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;

/// A backend that is unknown or not compiled into this program.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(String);

/// A backend the user can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// burn-flex: pure-Rust CPU, SIMD + threads (the default).
    Flex,
    /// burn-ndarray (deprecated upstream; CPU).
    Ndarray,
    /// CubeCL on wgpu: Vulkan/Metal/DX12, or Mesa's lavapipe in software.
    Wgpu,
    /// CubeCL CUDA, device 0.
    Cuda,
}

impl Backend {
    /// Every backend name, compiled in or not.
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
    ];

    /// The name accepted by [`Backend::resolve`] and written to `metrics.json`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this program was built with the backend (this crate's Cargo features).
    pub fn compiled(self) -> bool {
        match self {
            Backend::Flex => true,
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The compiled-in backends.
    pub fn compiled_backends() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.compiled()).collect()
    }

    /// `name` if given, else the `BURN_DEVICE` environment variable, else Flex.
    pub fn resolve(name: Option<&str>) -> Result<Backend, BackendError> {
        match name {
            Some(name) => name.parse(),
            None => match std::env::var("BURN_DEVICE") {
                Ok(name) if !name.is_empty() => name
                    .parse()
                    .map_err(|BackendError(m)| BackendError(format!("BURN_DEVICE: {m}"))),
                _ => Ok(Backend::Flex),
            },
        }
    }

    /// The (non-autodiff) device of this backend. A GPU backend is first tried with one tiny
    /// operation, so that a machine without the GPU or its driver gives an error, not a panic.
    pub fn device(self) -> Result<Device, BackendError> {
        if !self.compiled() {
            return Err(BackendError(format!(
                "backend `{}` is not compiled into this program; rebuild it with the Cargo feature `{}` (e.g. `cargo build --release -p deepzero-cli --features {}`)",
                self.name(),
                self.name(),
                self.name()
            )));
        }
        let device = match self {
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            // burn deprecates ndarray in favour of Flex; we keep it selectable
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by compiled()"),
        };
        match self {
            Backend::Flex | Backend::Ndarray => Ok(device),
            Backend::Wgpu | Backend::Cuda => self.probe(device),
        }
    }

    /// Runs one tiny sum on a GPU device, so that a missing driver, GPU or run-time compiler is
    /// a one-line error here instead of a panic deep inside the first training step (burn's
    /// GPU runtimes start lazily and panic when they cannot).
    fn probe(self, device: Device) -> Result<Device, BackendError> {
        self.try_start(|| {
            burn::Tensor::<1>::from_floats([1.0, 2.0, 4.0], &device)
                .sum()
                .into_scalar::<f32>()
        })?;
        Ok(device)
    }

    /// Runs `sum_one_two_four` (which must return 7) with panics caught and the panic message
    /// kept off stderr, and turns a panic or a wrong sum into a one-line [`BackendError`] that
    /// names this backend and what it needs.
    fn try_start(self, sum_one_two_four: impl FnOnce() -> f32) -> Result<(), BackendError> {
        let previous_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(sum_one_two_four));
        std::panic::set_hook(previous_hook);
        let hint = match self {
            Backend::Cuda => {
                "it needs an NVIDIA GPU, its driver (libcuda) and the CUDA toolkit's NVRTC (libnvrtc; set CUDA_PATH if it is not under /usr/local/cuda)"
            }
            _ => {
                "it needs a Vulkan, Metal or DX12 driver (on Linux without a GPU: Mesa's lavapipe, `apt-get install mesa-vulkan-drivers libvulkan1`)"
            }
        };
        match result {
            Ok(7.0) => Ok(()),
            Ok(sum) => Err(BackendError(format!(
                "backend `{}` started but summed 1 + 2 + 4 to {sum}",
                self.name()
            ))),
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown error");
                let reason = reason.lines().next().unwrap_or_default();
                Err(BackendError(format!(
                    "backend `{}` could not start: {reason}; {hint}",
                    self.name()
                )))
            }
        }
    }
}

/// The device named by `BURN_DEVICE`, else Flex's: what a program without a `--backend`
/// option uses.
pub fn from_env() -> Result<Device, BackendError> {
    Backend::resolve(None)?.device()
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, BackendError> {
        Self::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                BackendError(format!(
                    "unknown backend `{s}` (expected one of: flex, ndarray, wgpu, cuda)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        let err = "tpu".parse::<Backend>().unwrap_err().to_string();
        assert!(err.contains("unknown backend `tpu`"), "{err}");
        assert!(Backend::Flex.compiled());
        assert!(Backend::Flex.device().is_ok());
    }

    /// A GPU runtime that panics while starting (no driver, no GPU) becomes one line naming
    /// the backend, the cause and what to install; a wrong answer is an error too; a right one
    /// passes.
    #[test]
    fn a_backend_that_fails_to_start_is_a_one_line_error() {
        let err = Backend::Wgpu
            .try_start(|| panic!("No adapter found\nmore detail"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("backend `wgpu` could not start: No adapter found; it needs a Vulkan"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        let err = Backend::Cuda
            .try_start(|| panic!("{}", String::from("CUDA_ERROR_NO_DEVICE")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CUDA_ERROR_NO_DEVICE; it needs an NVIDIA GPU"),
            "{err}"
        );
        let err = Backend::Cuda.try_start(|| 6.0).unwrap_err().to_string();
        assert!(err.contains("summed 1 + 2 + 4 to 6"), "{err}");
        assert!(Backend::Wgpu.try_start(|| 7.0).is_ok());
    }

    #[test]
    fn missing_backend_says_how_to_build_it() {
        if !Backend::Cuda.compiled() {
            let err = Backend::Cuda.device().unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
        }
    }
}
