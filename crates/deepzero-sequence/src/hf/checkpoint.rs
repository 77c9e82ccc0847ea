//! A Hugging Face checkpoint folder: `config.json` and `model.safetensors`, read tensor by tensor
//! with the shape the model expects.
//!
//! Keys are looked up under the prefixes a model's weights are stored with: `save_pretrained`
//! of `GPT2LMHeadModel` writes `transformer.h.0.…`, the Hub's `gpt2/model.safetensors` writes
//! `h.0.…`; `BertForMaskedLM` writes `bert.encoder.…`, `BertModel` `encoder.…`. Old BERT
//! checkpoints name layer-norm parameters `gamma`/`beta` instead of `weight`/`bias`; both are
//! found. `float32`, `float16` and `bfloat16` tensors are read (the latter two widened to
//! `f32`); any other dtype, a missing tensor or a shape other than the config implies is an
//! [`HfError`] naming the key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};
use serde::de::DeserializeOwned;

use super::HfError;

/// The weights file of a checkpoint folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The configuration file of a checkpoint folder.
pub const CONFIG_FILE: &str = "config.json";

/// Reads `DIR/config.json` into `T` (the model's Hugging Face configuration).
///
/// # Errors
/// [`HfError::Missing`] without the file, [`HfError::Format`] if it is not valid for `T`.
pub fn read_config<T: DeserializeOwned>(dir: &Path) -> Result<T, HfError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| HfError::reading(&path, e))?;
    serde_json::from_str(&text).map_err(|e| HfError::Format {
        path,
        message: e.to_string(),
    })
}

/// The tensors of `DIR/model.safetensors`, handed out by name.
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
    names: BTreeSet<String>,
    prefixes: Vec<String>,
}

impl Checkpoint {
    /// Opens `DIR/model.safetensors`. Keys are tried under each of `prefixes` in order (give
    /// `""` for none).
    ///
    /// # Errors
    /// [`HfError::Missing`] without the file (a sharded checkpoint,
    /// `model.safetensors.index.json`, is named as unsupported), [`HfError::Format`] if it is
    /// not a safetensors file.
    pub fn open(dir: &Path, prefixes: &[&str]) -> Result<Self, HfError> {
        let path = dir.join(WEIGHTS_FILE);
        if !path.exists() && dir.join("model.safetensors.index.json").exists() {
            return Err(HfError::Unsupported(format!(
                "{}: sharded checkpoints (model.safetensors.index.json) are not supported; merge the shards into one model.safetensors",
                dir.display()
            )));
        }
        if !path.exists() && dir.join("pytorch_model.bin").exists() {
            return Err(HfError::Unsupported(format!(
                "{}: only model.safetensors is read, not pytorch_model.bin (save_pretrained(..., safe_serialization=True) writes one)",
                dir.display()
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| HfError::reading(&path, e))?;
        let names = SafeTensors::deserialize(&bytes)
            .map_err(|e| HfError::Format {
                path: path.clone(),
                message: e.to_string(),
            })?
            .names()
            .into_iter()
            .map(str::to_string)
            .collect();
        Ok(Self {
            path,
            bytes,
            names,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// The file's keys.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The full key of `name` under the first prefix that has it; layer-norm `weight`/`bias`
    /// are also found as `gamma`/`beta`.
    fn resolve(&self, name: &str) -> Option<String> {
        let alias = name
            .strip_suffix("LayerNorm.weight")
            .map(|s| format!("{s}LayerNorm.gamma"))
            .or_else(|| {
                name.strip_suffix("LayerNorm.bias")
                    .map(|s| format!("{s}LayerNorm.beta"))
            });
        self.prefixes.iter().find_map(|prefix| {
            std::iter::once(name.to_string())
                .chain(alias.clone())
                .map(|n| format!("{prefix}{n}"))
                .find(|key| self.names.contains(key))
        })
    }

    /// Whether the file holds `name` (under one of the prefixes).
    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// The tensor `name` as `f32`, checked to have `shape`.
    ///
    /// # Errors
    /// [`HfError::MissingTensor`], [`HfError::Shape`], or [`HfError::Unsupported`] for a dtype
    /// other than F32/F16/BF16.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>, HfError> {
        let values = self.values(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// The 0-dimensional tensor `name` (a scalar parameter such as CLIP's `logit_scale`).
    ///
    /// # Errors
    /// As [`tensor`](Self::tensor).
    pub fn scalar(&self, name: &str) -> Result<f32, HfError> {
        Ok(self.values(name, &[])?[0])
    }

    /// The values of tensor `name`, widened to `f32`, checked to have `shape`.
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, HfError> {
        let key = self.resolve(name).ok_or_else(|| HfError::MissingTensor {
            path: self.path.clone(),
            key: name.to_string(),
        })?;
        let file = SafeTensors::deserialize(&self.bytes).map_err(|e| HfError::Format {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let view = file.tensor(&key).map_err(|e| HfError::Format {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        if view.shape() != shape {
            return Err(HfError::Shape {
                key,
                found: view.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
        to_f32(view.dtype(), view.data()).ok_or_else(|| {
            HfError::Unsupported(format!(
                "tensor {key} has dtype {:?}; F32, F16 and BF16 are read",
                view.dtype()
            ))
        })
    }
}

/// Sets a burn `Linear` from a `[d_in, d_out]` weight and its bias.
pub fn set_linear(linear: &mut Linear, weight: Tensor<2>, bias: Tensor<1>) {
    linear.weight = Param::from_tensor(weight);
    linear.bias = Some(Param::from_tensor(bias));
}

/// Sets a layer norm from `PREFIX.weight` and `PREFIX.bias`.
///
/// # Errors
/// [`HfError::MissingTensor`] or [`HfError::Shape`] naming the key.
pub fn set_layer_norm(
    norm: &mut LayerNorm,
    ckpt: &Checkpoint,
    prefix: &str,
    d: usize,
    device: &Device,
) -> Result<(), HfError> {
    norm.gamma = Param::from_tensor(ckpt.tensor(&format!("{prefix}.weight"), [d], device)?);
    norm.beta = Some(Param::from_tensor(ckpt.tensor(
        &format!("{prefix}.bias"),
        [d],
        device,
    )?));
    Ok(())
}

/// Copies a PyTorch `nn.Linear` (`PREFIX.weight` of shape `[d_out, d_in]`, and `PREFIX.bias`
/// when `linear` has a bias) into a burn `Linear` (weight `[d_in, d_out]`). A `Linear` built
/// without a bias (`bias=False` in PyTorch) reads only the weight.
///
/// # Errors
/// [`HfError::MissingTensor`] or [`HfError::Shape`] naming the key.
pub fn set_torch_linear(
    linear: &mut Linear,
    ckpt: &Checkpoint,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    device: &Device,
) -> Result<(), HfError> {
    let weight = ckpt.tensor(&format!("{prefix}.weight"), [d_out, d_in], device)?;
    linear.weight = Param::from_tensor(weight.transpose());
    if linear.bias.is_some() {
        let bias = ckpt.tensor(&format!("{prefix}.bias"), [d_out], device)?;
        linear.bias = Some(Param::from_tensor(bias));
    }
    Ok(())
}

/// Little-endian `F32`/`F16`/`BF16` bytes as `f32` (`None` for another dtype).
fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::BF16 => Some(
            bytes
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                .collect(),
        ),
        Dtype::F16 => Some(
            bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        _ => None,
    }
}

/// IEEE 754 half precision to single precision (exact: every `f16` is an `f32`).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exponent = ((h >> 10) & 0x1f) as u32;
    let mantissa = (h & 0x3ff) as u32;
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        // Subnormal: value = mantissa · 2⁻²⁴.
        (0, m) => return sign_of(h) * m as f32 * 2f32.powi(-24),
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

fn sign_of(h: u16) -> f32 {
    if h >> 15 == 1 { -1.0 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        // bfloat16 is the top half of an f32.
        let bf = to_f32(Dtype::BF16, &0x3fc0u16.to_le_bytes()).unwrap();
        assert_eq!(bf, vec![1.5]);
    }
}
