//! BERT (`BertModel`, `BertForMaskedLM`; Devlin et al. 2019) from a Hugging Face checkpoint
//! folder, on this crate's post-norm [`TransformerEncoder`].
//!
//! ```text
//! ids, segments [B, T] ─► LN(word(ids) + position(0..T) + token_type(segments)) ─► N × post-norm layer ─► hidden [B, T, d]
//! masked-LM head:   hidden ─► LN(GELU(hidden W_t + b_t)) ─► · word_embeddingsᵀ + b ─► logits [B, T, V]
//! ```
//!
//! | `transformers` key (under `bert.`) | here |
//! |---|---|
//! | `embeddings.{word,position,token_type}_embeddings`, `embeddings.LayerNorm` | [`Bert`] fields |
//! | `encoder.layer.i.attention.self.{query,key,value}`, `attention.output.dense` | `self_attn.{query,key,value,output}` (`nn.Linear` `[out, in]` transposed) |
//! | `attention.output.LayerNorm`, `output.LayerNorm` | `norm_attn`, `norm_ff` (post-norm) |
//! | `intermediate.dense`, `output.dense` | `feed_forward.linear_inner`, `linear_outer` |
//! | `cls.predictions.transform.{dense,LayerNorm}`, `cls.predictions.bias`, decoder tied to the word embeddings | [`BertMlmHead`] |
//!
//! Golden test `bert_hidden_states_and_mlm_logits_equal_transformers`: a seeded random
//! `BertForMaskedLM` (fixture by `make_hf_fixtures.py`) on a padded batch of two sentences
//! with two segments; `last_hidden_state` and the MLM logits agree to 1e-4.

use std::path::Path;

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::HfError;
use super::checkpoint::{Checkpoint, read_config, set_layer_norm, set_linear, set_torch_linear};
use crate::attention::key_padding_mask;
use crate::transformer::{
    FfnActivation, NormPosition, TransformerEncoder, TransformerEncoderConfig,
    TransformerLayerConfig,
};

/// The fields of a BERT `config.json` the import reads (names as in `transformers`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size (21128 for `bert-base-chinese`).
    pub vocab_size: usize,
    /// Width `d` (768).
    pub hidden_size: usize,
    /// Layers (12).
    pub num_hidden_layers: usize,
    /// Heads (12).
    pub num_attention_heads: usize,
    /// Feed-forward width (3072).
    pub intermediate_size: usize,
    /// `gelu` (exact) or `gelu_new` / `gelu_pytorch_tanh`.
    #[serde(default = "exact_gelu")]
    pub hidden_act: String,
    /// Positions (512).
    pub max_position_embeddings: usize,
    /// Segments (2).
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    /// Layer-norm `ε` (1e-12).
    #[serde(default = "bert_eps")]
    pub layer_norm_eps: f64,
    /// Must be `absolute` when present.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn exact_gelu() -> String {
    "gelu".into()
}
fn two() -> usize {
    2
}
fn bert_eps() -> f64 {
    1e-12
}

impl BertConfig {
    /// Reads `DIR/config.json`, refusing another `model_type`.
    ///
    /// # Errors
    /// As [`read_config`]; [`HfError::Unsupported`] for another model or relative positions.
    pub fn load(dir: &Path) -> Result<Self, HfError> {
        let raw: serde_json::Value = read_config(dir)?;
        if let Some(kind) = raw.get("model_type").and_then(|v| v.as_str())
            && kind != "bert"
        {
            return Err(HfError::Unsupported(format!(
                "config.json is of a `{kind}` model, not bert"
            )));
        }
        let config: Self = serde_json::from_value(raw).map_err(|e| HfError::Format {
            path: dir.join(super::checkpoint::CONFIG_FILE),
            message: e.to_string(),
        })?;
        if let Some(kind) = &config.position_embedding_type
            && kind != "absolute"
        {
            return Err(HfError::Unsupported(format!(
                "BERT position_embedding_type `{kind}` (only absolute)"
            )));
        }
        config.activation()?;
        Ok(config)
    }

    fn activation(&self) -> Result<FfnActivation, HfError> {
        match self.hidden_act.as_str() {
            "gelu" => Ok(FfnActivation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(FfnActivation::GeluTanh),
            other => Err(HfError::Unsupported(format!("BERT hidden_act `{other}`"))),
        }
    }

    /// Builds a BERT encoder of this shape (random weights; [`load_bert`] fills them).
    ///
    /// # Errors
    /// [`HfError::Config`] for heads that do not divide the width, or an unsupported activation.
    pub fn init(&self, device: &Device) -> Result<Bert, HfError> {
        let d = self.hidden_size;
        let layer =
            TransformerLayerConfig::new(d, self.num_attention_heads, self.intermediate_size)
                .with_dropout(0.0)
                .with_norm(NormPosition::Post)
                .with_activation(self.activation()?)
                .with_layer_norm_eps(self.layer_norm_eps);
        Ok(Bert {
            word_embeddings: EmbeddingConfig::new(self.vocab_size, d).init(device),
            position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, d).init(device),
            token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, d).init(device),
            embeddings_norm: self.layer_norm(device),
            encoder: TransformerEncoderConfig::new(layer, self.num_hidden_layers)
                .init(device)
                .map_err(HfError::Config)?,
        })
    }

    fn layer_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.hidden_size)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }
}

/// The BERT encoder (`BertModel` without its pooler).
#[derive(Module, Debug)]
pub struct Bert {
    /// Token embeddings `[V, d]`.
    pub word_embeddings: Embedding,
    /// Learned positions `[max_positions, d]`.
    pub position_embeddings: Embedding,
    /// Segment embeddings `[type_vocab, d]`.
    pub token_type_embeddings: Embedding,
    /// Layer norm of the summed embeddings.
    pub embeddings_norm: LayerNorm,
    /// The post-norm layers.
    pub encoder: TransformerEncoder,
}

impl Bert {
    /// # Shapes
    /// - ids, token types: `[B, T]` (`T ≤ max_position_embeddings`); padding: `[B, T]`,
    ///   `true` = padded (its keys are masked; `transformers`' `attention_mask == 0`)
    /// - output: `[B, T, d]` (`last_hidden_state`)
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        token_types: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let [batch, steps] = ids.dims();
        let positions = Tensor::<1, Int>::arange(0..steps as i64, &ids.device())
            .unsqueeze_dim::<2>(0)
            .expand([batch, steps]);
        let x = self.word_embeddings.forward(ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_types);
        let x = self.embeddings_norm.forward(x);
        self.encoder
            .forward(x, padding.map(|p| key_padding_mask(p, steps)))
    }
}

/// The masked-language-model head of `BertForMaskedLM` (`cls.predictions`).
#[derive(Module, Debug)]
pub struct BertMlmHead {
    /// `transform.dense`, `[d, d]`.
    pub transform: Linear,
    /// `transform.LayerNorm`.
    pub transform_norm: LayerNorm,
    /// The decoder `[d, V]` (tied to the word embeddings in the released models) and its bias.
    pub decoder: Linear,
    /// The transform's activation.
    #[module(skip)]
    pub activation: FfnActivation,
}

impl BertMlmHead {
    /// # Shapes
    /// - hidden: `[B, T, d]` → logits `[B, T, V]`
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        let h = self.activation.forward(self.transform.forward(hidden));
        self.decoder.forward(self.transform_norm.forward(h))
    }
}

/// `BertForMaskedLM`: the encoder and the masked-LM head.
#[derive(Module, Debug)]
pub struct BertForMaskedLm {
    /// The encoder.
    pub bert: Bert,
    /// The head.
    pub head: BertMlmHead,
}

impl BertForMaskedLm {
    /// # Shapes
    /// As [`Bert::forward`]; output logits `[B, T, V]`.
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        token_types: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        self.head
            .forward(self.bert.forward(ids, token_types, padding))
    }
}

/// Loads the encoder of a Hugging Face BERT folder (`BertModel` or `BertForMaskedLM`
/// weights; the pooler, if any, is not used).
///
/// # Errors
/// [`HfError`] for a missing file or tensor, or a shape that does not match the config.
pub fn load_bert(dir: &Path, device: &Device) -> Result<(Bert, BertConfig), HfError> {
    let config = BertConfig::load(dir)?;
    let ckpt = Checkpoint::open(dir, &["bert.", ""])?;
    let bert = fill_bert(config.init(device)?, &config, &ckpt, device)?;
    Ok((bert, config))
}

/// Loads a Hugging Face `BertForMaskedLM` folder.
///
/// # Errors
/// As [`load_bert`], and for missing `cls.predictions` tensors.
pub fn load_bert_mlm(
    dir: &Path,
    device: &Device,
) -> Result<(BertForMaskedLm, BertConfig), HfError> {
    let (bert, config) = load_bert(dir, device)?;
    let ckpt = Checkpoint::open(dir, &[""])?;
    let (d, v) = (config.hidden_size, config.vocab_size);
    let mut transform = LinearConfig::new(d, d).init(device);
    set_torch_linear(
        &mut transform,
        &ckpt,
        "cls.predictions.transform.dense",
        d,
        d,
        device,
    )?;
    let mut transform_norm = config.layer_norm(device);
    set_layer_norm(
        &mut transform_norm,
        &ckpt,
        "cls.predictions.transform.LayerNorm",
        d,
        device,
    )?;
    let decoder_weight = if ckpt.contains("cls.predictions.decoder.weight") {
        ckpt.tensor("cls.predictions.decoder.weight", [v, d], device)?
            .transpose()
    } else {
        bert.word_embeddings.weight.val().transpose() // tied
    };
    let bias_key = if ckpt.contains("cls.predictions.bias") {
        "cls.predictions.bias"
    } else {
        "cls.predictions.decoder.bias"
    };
    let mut decoder = LinearConfig::new(d, v).init(device);
    set_linear(
        &mut decoder,
        decoder_weight,
        ckpt.tensor(bias_key, [v], device)?,
    );
    let head = BertMlmHead {
        transform,
        transform_norm,
        decoder,
        activation: config.activation()?,
    };
    Ok((BertForMaskedLm { bert, head }, config))
}

fn fill_bert(
    mut bert: Bert,
    config: &BertConfig,
    ckpt: &Checkpoint,
    device: &Device,
) -> Result<Bert, HfError> {
    let (d, ff) = (config.hidden_size, config.intermediate_size);
    let table = |name: &str, rows: usize| {
        ckpt.tensor(&format!("embeddings.{name}.weight"), [rows, d], device)
            .map(Param::from_tensor)
    };
    bert.word_embeddings.weight = table("word_embeddings", config.vocab_size)?;
    bert.position_embeddings.weight = table("position_embeddings", config.max_position_embeddings)?;
    bert.token_type_embeddings.weight = table("token_type_embeddings", config.type_vocab_size)?;
    set_layer_norm(
        &mut bert.embeddings_norm,
        ckpt,
        "embeddings.LayerNorm",
        d,
        device,
    )?;
    for (i, layer) in bert.encoder.layers.iter_mut().enumerate() {
        let key = |name: &str| format!("encoder.layer.{i}.{name}");
        let attn = &mut layer.self_attn;
        set_torch_linear(
            &mut attn.query,
            ckpt,
            &key("attention.self.query"),
            d,
            d,
            device,
        )?;
        set_torch_linear(
            &mut attn.key,
            ckpt,
            &key("attention.self.key"),
            d,
            d,
            device,
        )?;
        set_torch_linear(
            &mut attn.value,
            ckpt,
            &key("attention.self.value"),
            d,
            d,
            device,
        )?;
        set_torch_linear(
            &mut attn.output,
            ckpt,
            &key("attention.output.dense"),
            d,
            d,
            device,
        )?;
        set_layer_norm(
            &mut layer.norm_attn,
            ckpt,
            &key("attention.output.LayerNorm"),
            d,
            device,
        )?;
        let f = &mut layer.feed_forward;
        set_torch_linear(
            &mut f.linear_inner,
            ckpt,
            &key("intermediate.dense"),
            d,
            ff,
            device,
        )?;
        set_torch_linear(
            &mut f.linear_outer,
            ckpt,
            &key("output.dense"),
            ff,
            d,
            device,
        )?;
        set_layer_norm(
            &mut layer.norm_ff,
            ckpt,
            &key("output.LayerNorm"),
            d,
            device,
        )?;
    }
    Ok(bert)
}

#[cfg(test)]
mod tests {
    use deepzero_core::gradcheck::max_abs_difference;

    use super::*;
    use crate::hf::test_fixtures::{fixture, golden};
    use crate::test_util::{device, host};

    fn int2(value: &serde_json::Value, dev: &Device) -> Tensor<2, Int> {
        let rows: Vec<Vec<i64>> = serde_json::from_value(value.clone()).unwrap();
        let (b, t) = (rows.len(), rows[0].len());
        Tensor::from_data(TensorData::new(rows.concat(), [b, t]), dev)
    }

    #[test]
    fn bert_hidden_states_and_mlm_logits_equal_transformers() {
        let dev = device();
        let dir = fixture("bert-tiny");
        let g = golden(&dir);
        let (model, config) = load_bert_mlm(&dir, &dev).unwrap();
        assert_eq!(config.vocab_size, 500);
        let ids = int2(&g["input_ids"], &dev);
        let types = int2(&g["token_type_ids"], &dev);
        let padding = int2(&g["attention_mask"], &dev).equal_elem(0);
        let hidden = model
            .bert
            .forward(ids.clone(), types.clone(), Some(padding.clone()));
        let want: Vec<f32> = serde_json::from_value(g["last_hidden_state"].clone()).unwrap();
        let h = max_abs_difference(&host(&hidden), &want);
        assert!(h < 1e-4, "max |Δhidden| = {h}");
        let logits = model.forward(ids, types, Some(padding));
        let want: Vec<f32> = serde_json::from_value(g["logits"].clone()).unwrap();
        let l = max_abs_difference(&host(&logits), &want);
        assert!(l < 1e-4, "max |Δlogit| = {l}");
        eprintln!("bert-tiny: max |Δhidden| = {h:e}, max |Δlogit| = {l:e} vs transformers");
    }

    #[test]
    fn a_gpt2_folder_is_not_bert() {
        let e = load_bert(&fixture("gpt2-tiny"), &device()).unwrap_err();
        assert!(e.to_string().contains("`gpt2` model, not bert"), "{e}");
    }
}
