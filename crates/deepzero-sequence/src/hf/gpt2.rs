//! GPT-2 (`GPT2LMHeadModel`, Radford et al. 2019) from a Hugging Face checkpoint folder into
//! this crate's [`Gpt`].
//!
//! GPT-2 *is* the [`Gpt`] architecture — learned positions, pre-norm causal blocks, a final
//! layer norm, a linear head — with three details that the import sets:
//!
//! | GPT-2 (`transformers`) | here |
//! |---|---|
//! | `Conv1D` weights `[d_in, d_out]` | burn `Linear` weights are `[d_in, d_out]` too: copied as they are |
//! | `attn.c_attn` `[d, 3d]`: query, key, value side by side | split into `query`, `key`, `value` column blocks |
//! | `gelu_new` (tanh approximation) | [`FfnActivation::GeluTanh`] |
//! | `lm_head` tied to `wte` | `head.weight = wteᵀ` (a copy: fine-tuning unties them) |
//! | `ln_1`, `ln_2`, `ln_f`, `layer_norm_epsilon` | `norm_attn`, `norm_ff`, the stack's final norm, `ε` |
//!
//! The golden test (`gpt2_logits_and_greedy_generation_equal_transformers`) loads the
//! fixture written by `tests/fixtures/hf/make_hf_fixtures.py` — a seeded random
//! `GPT2LMHeadModel` saved by `save_pretrained` — and compares the logits with `transformers`'
//! to 1e-4 and the greedy continuation token for token.

use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::HfError;
use super::checkpoint::{Checkpoint, read_config, set_layer_norm, set_linear};
use crate::lm::{FfnActivation, Gpt, GptConfig};

/// The fields of a GPT-2 `config.json` the import reads (names as in `transformers`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// `model_type`; must be `gpt2` when present.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Vocabulary size (50257 for the released models).
    pub vocab_size: usize,
    /// Context length (1024).
    pub n_positions: usize,
    /// Width `d` (768 for `gpt2`).
    pub n_embd: usize,
    /// Blocks (12).
    pub n_layer: usize,
    /// Heads (12).
    pub n_head: usize,
    /// Feed-forward width (`null`: `4 d`).
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// `gelu_new` (the released models), `gelu_pytorch_tanh` or `gelu`.
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    /// Layer-norm `ε`.
    #[serde(default = "layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    /// Whether `lm_head` is `wte` (true for every released GPT-2).
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Attention scores divided by `√d_k` (must be true).
    #[serde(default = "yes")]
    pub scale_attn_weights: bool,
    /// Scores also divided by the layer index (must be false).
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// End-of-text token (50256).
    #[serde(default)]
    pub eos_token_id: Option<usize>,
}

fn gelu_new() -> String {
    "gelu_new".into()
}
fn layer_norm_epsilon() -> f64 {
    1e-5
}
fn yes() -> bool {
    true
}

impl Gpt2Config {
    /// Reads `DIR/config.json`.
    ///
    /// # Errors
    /// [`HfError::Missing`]/[`HfError::Format`] as [`read_config`]; [`HfError::Unsupported`]
    /// for another `model_type` or an option the import does not implement.
    pub fn load(dir: &Path) -> Result<Self, HfError> {
        // The model type first: another model's config.json lacks GPT-2's fields.
        let raw: serde_json::Value = read_config(dir)?;
        if let Some(kind) = raw.get("model_type").and_then(|v| v.as_str())
            && kind != "gpt2"
        {
            return Err(HfError::Unsupported(format!(
                "config.json is of a `{kind}` model, not gpt2"
            )));
        }
        let config: Self = serde_json::from_value(raw).map_err(|e| HfError::Format {
            path: dir.join(super::checkpoint::CONFIG_FILE),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), HfError> {
        if let Some(kind) = &self.model_type
            && kind != "gpt2"
        {
            return Err(HfError::Unsupported(format!(
                "config.json is of a `{kind}` model, not gpt2"
            )));
        }
        if !self.scale_attn_weights || self.scale_attn_by_inverse_layer_idx {
            return Err(HfError::Unsupported(
                "GPT-2 attention without the 1/√d_k scale or with scale_attn_by_inverse_layer_idx"
                    .into(),
            ));
        }
        self.activation()?;
        Ok(())
    }

    /// The feed-forward activation.
    ///
    /// # Errors
    /// [`HfError::Unsupported`] for one other than `gelu_new`, `gelu_pytorch_tanh`, `gelu`.
    pub fn activation(&self) -> Result<FfnActivation, HfError> {
        match self.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(FfnActivation::GeluTanh),
            "gelu" => Ok(FfnActivation::Gelu),
            other => Err(HfError::Unsupported(format!(
                "GPT-2 activation_function `{other}` (gelu_new, gelu_pytorch_tanh or gelu)"
            ))),
        }
    }

    /// The equivalent [`GptConfig`] (no dropout).
    ///
    /// # Errors
    /// As [`activation`](Self::activation).
    pub fn gpt_config(&self) -> Result<GptConfig, HfError> {
        Ok(GptConfig::new(self.vocab_size, self.n_positions)
            .with_d_model(self.n_embd)
            .with_n_layers(self.n_layer)
            .with_n_heads(self.n_head)
            .with_d_ff(self.n_inner)
            .with_activation(self.activation()?)
            .with_layer_norm_eps(self.layer_norm_epsilon))
    }
}

/// Loads the GPT-2 of a Hugging Face folder (`config.json`, `model.safetensors`) as a [`Gpt`].
/// Keys are read with or without the `transformer.` prefix (`save_pretrained` of
/// `GPT2LMHeadModel` vs the Hub's `gpt2` file).
///
/// # Errors
/// [`HfError`] for a missing file or tensor, a tensor whose shape does not match the config,
/// or an unsupported configuration.
pub fn load_gpt2(dir: &Path, device: &Device) -> Result<(Gpt, Gpt2Config), HfError> {
    let config = Gpt2Config::load(dir)?;
    let ckpt = Checkpoint::open(dir, &["transformer.", ""])?;
    let mut model = config.gpt_config()?.init(device).map_err(HfError::Config)?;
    let (d, v) = (config.n_embd, config.vocab_size);
    let d_ff = config.n_inner.unwrap_or(4 * d);

    let wte = ckpt.tensor("wte.weight", [v, d], device)?;
    model.token_embedding.weight = Param::from_tensor(wte.clone());
    model.position_embedding.table =
        Param::from_tensor(ckpt.tensor("wpe.weight", [config.n_positions, d], device)?);
    let head = if config.tie_word_embeddings || !ckpt.contains("lm_head.weight") {
        wte.transpose()
    } else {
        // An untied head is an nn.Linear: [V, d] in PyTorch, [d, V] in burn.
        ckpt.tensor("lm_head.weight", [v, d], device)?.transpose()
    };
    model.head.weight = Param::from_tensor(head);

    for (i, block) in model.blocks.layers.iter_mut().enumerate() {
        let key = |name: &str| format!("h.{i}.{name}");
        let c_attn = ckpt.tensor(&key("attn.c_attn.weight"), [d, 3 * d], device)?;
        let c_attn_bias = ckpt.tensor(&key("attn.c_attn.bias"), [3 * d], device)?;
        let attn = &mut block.self_attn;
        for (j, linear) in [&mut attn.query, &mut attn.key, &mut attn.value]
            .into_iter()
            .enumerate()
        {
            let columns = j * d..(j + 1) * d;
            set_linear(
                linear,
                c_attn.clone().slice(s![.., columns.clone()]),
                c_attn_bias.clone().slice(columns),
            );
        }
        set_linear(
            &mut attn.output,
            ckpt.tensor(&key("attn.c_proj.weight"), [d, d], device)?,
            ckpt.tensor(&key("attn.c_proj.bias"), [d], device)?,
        );
        let ff = &mut block.feed_forward;
        set_linear(
            &mut ff.linear_inner,
            ckpt.tensor(&key("mlp.c_fc.weight"), [d, d_ff], device)?,
            ckpt.tensor(&key("mlp.c_fc.bias"), [d_ff], device)?,
        );
        set_linear(
            &mut ff.linear_outer,
            ckpt.tensor(&key("mlp.c_proj.weight"), [d_ff, d], device)?,
            ckpt.tensor(&key("mlp.c_proj.bias"), [d], device)?,
        );
        set_layer_norm(&mut block.norm_attn, &ckpt, &key("ln_1"), d, device)?;
        set_layer_norm(&mut block.norm_ff, &ckpt, &key("ln_2"), d, device)?;
    }
    let ln_f = model
        .blocks
        .norm
        .as_mut()
        .expect("a pre-norm GPT stack ends with a layer norm");
    set_layer_norm(ln_f, &ckpt, "ln_f", d, device)?;
    Ok((model, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::test_fixtures::{fixture, golden};
    use crate::lm::{Sampling, sampling};
    use crate::test_util::{device, host};

    #[test]
    fn gpt2_logits_and_greedy_generation_equal_transformers() {
        let dev = device();
        let dir = fixture("gpt2-tiny");
        let (model, config) = load_gpt2(&dir, &dev).unwrap();
        assert_eq!(config.vocab_size, 400);
        let golden = golden(&dir);
        let ids: Vec<usize> = serde_json::from_value(golden["input_ids"].clone()).unwrap();
        let expected: Vec<f32> = serde_json::from_value(golden["logits"].clone()).unwrap();
        let logits = model.forward(crate::lm::ids_tensor(&ids, &dev));
        assert_eq!(logits.dims(), [1, ids.len(), 400]);
        let ours = host(&logits);
        let worst = ours
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("gpt2-tiny: max |Δlogit| vs transformers = {worst:e}");
        assert!(worst < 1e-4, "max |Δlogit| = {worst}");
        // Greedy continuation to the end of the 32-token context, with and without the cache.
        let want: Vec<usize> = serde_json::from_value(golden["greedy_new_ids"].clone()).unwrap();
        let n = want.len();
        let g = Sampling::greedy();
        let cached = model
            .generate(&ids, n, &g, &mut sampling::rng(0), &dev)
            .unwrap();
        assert_eq!(cached, want);
        let recomputed = model
            .generate_recompute(&ids, n, &g, &mut sampling::rng(0), &dev)
            .unwrap();
        assert_eq!(recomputed, want);
    }
}
