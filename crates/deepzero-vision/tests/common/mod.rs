//! What the golden tests against PyTorch share: the fixture folder, the fixture scripts' fixed
//! input, and the largest difference between a tensor and the numbers PyTorch wrote.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde_json::Value;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The JSON fixture `tests/fixtures/<file>`.
pub fn read_json(file: &str) -> Value {
    let text = std::fs::read_to_string(fixture(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The entry `name` of the JSON fixture `file`.
pub fn golden_entry(file: &str, name: &str) -> Value {
    read_json(file)[name].clone()
}

/// The scripts' input: `x.flatten()[i] = float32(sin(0.37 i))`.
pub fn fixed_input(shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|i| (0.37 * i as f64).sin() as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// The entry's `input_shape`, `[B, C, H, W]`.
pub fn input_shape(entry: &Value) -> [usize; 4] {
    let dims: Vec<usize> = entry["input_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    dims.try_into().unwrap()
}

/// Every number of a JSON list, nested lists flattened in order, as f32.
pub fn json_floats(value: &Value) -> Vec<f32> {
    match value {
        Value::Array(items) => items.iter().flat_map(json_floats).collect(),
        number => vec![number.as_f64().expect("a list of numbers") as f32],
    }
}

/// Largest |ours − theirs| between a tensor and a (nested) JSON list of as many numbers.
pub fn max_difference<const D: usize>(ours: Tensor<D>, theirs: &Value) -> f32 {
    assert!(theirs.is_array(), "not a list of numbers: {theirs}");
    let ours: Vec<f32> = ours.to_data().try_to_vec::<f32>().unwrap();
    let theirs = json_floats(theirs);
    assert_eq!(ours.len(), theirs.len());
    deepzero_core::gradcheck::max_abs_difference(&ours, &theirs)
}
