//! A Hugging Face GPT-2 folder as a run folder, and generation from it.
//!
//! [`import_gpt2`] reads `SRC/{config.json, model.safetensors, tokenizer.json}` and writes
//! `OUT/model.bpk` (the weights as this crate's [`Gpt`]), `OUT/tokenizer.json` (the tokenizer,
//! as read) and `OUT/run.json` ([`HfRunInfo`]: recipe `gpt2`, the Hugging Face config). The
//! tokenizer must be a byte-level BPE whose ids fit the model's vocabulary; a tokenizer of
//! another model (BERT's WordPiece, a larger vocabulary) is refused.
//!
//! [`HfGenerator`] loads such a run folder and continues prompts with [`Gpt::generate`]
//! (key/value-cached). **Context:** a prompt plus continuation longer than `n_positions`
//! (1024 for GPT-2) is cropped to its last `n_positions` tokens at every step, as
//! [`Gpt::generate`] documents; an empty prompt starts from `<|endoftext|>` (GPT-2's
//! beginning of text); a continuation ends at the first `<|endoftext|>` it generates.

use std::path::Path;

use burn::prelude::*;
use deepzero_train::checkpoint::{load_model, save_model};
use deepzero_train::metrics_file::write_json_atomic;
use deepzero_train::{TaskError, load_run_info, model_file};
use serde::{Deserialize, Serialize};

use super::tokenizer::TokenizerKind;
use super::{Gpt2Config, HfError, HfTokenizer, load_gpt2};
use crate::lm::Gpt;
use crate::lm::sampling::rng;
use crate::tasks::generate::SampleOptions;

/// The recipe name of an imported GPT-2 run.
pub const GPT2_RECIPE: &str = "gpt2";

/// `OUT/run.json` of an imported Hugging Face model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HfRunInfo {
    /// Format version.
    pub version: u32,
    /// Recipe name ([`GPT2_RECIPE`]).
    pub recipe: String,
    /// The Hugging Face configuration.
    pub config: Gpt2Config,
    /// The tokenizer file, relative to the run folder.
    pub tokenizer_file: String,
    /// The folder the model was imported from.
    pub source: String,
}

deepzero_train::impl_run_info!(HfRunInfo, 1);

/// What [`import_gpt2`] did.
#[derive(Clone, Debug)]
pub struct ImportSummary {
    /// The model's configuration.
    pub config: Gpt2Config,
    /// Parameters imported.
    pub parameters: usize,
    /// Tokens of the tokenizer.
    pub tokenizer_size: usize,
}

impl std::fmt::Display for ImportSummary {
    /// `N parameters (L blocks, width W, H heads, context C, vocabulary V), tokenizer of T
    /// tokens`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        write!(
            f,
            "{} parameters ({} blocks, width {}, {} heads, context {}, vocabulary {}), tokenizer of {} tokens",
            self.parameters,
            c.n_layer,
            c.n_embd,
            c.n_head,
            c.n_positions,
            c.vocab_size,
            self.tokenizer_size
        )
    }
}

/// Imports the GPT-2 of a Hugging Face folder into the run folder `out` (see the
/// [module docs](self)).
///
/// # Errors
/// [`HfError`] for a missing file or tensor, shapes that do not match the config, a tokenizer
/// of another model, or a run folder that cannot be written.
pub fn import_gpt2(src: &Path, out: &Path, device: &Device) -> Result<ImportSummary, HfError> {
    let (model, config) = load_gpt2(src, device)?;
    let tokenizer = HfTokenizer::load(&src.join("tokenizer.json"))?;
    check_tokenizer(&tokenizer, &config)?;
    let io = |e: &dyn std::fmt::Display| HfError::Io {
        path: out.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(out).map_err(|e| io(&e))?;
    save_model(&model, &out.join("model.bpk")).map_err(|e| io(&e))?;
    tokenizer.save(&out.join("tokenizer.json"))?;
    let info = HfRunInfo {
        version: 1,
        recipe: GPT2_RECIPE.into(),
        config: config.clone(),
        tokenizer_file: "tokenizer.json".into(),
        source: src.display().to_string(),
    };
    write_json_atomic(&out.join("run.json"), &info).map_err(|e| io(&e))?;
    Ok(ImportSummary {
        config,
        parameters: model.num_params(),
        tokenizer_size: tokenizer.vocab_size(),
    })
}

fn check_tokenizer(tokenizer: &HfTokenizer, config: &Gpt2Config) -> Result<(), HfError> {
    if tokenizer.kind() != TokenizerKind::ByteLevelBpe {
        return Err(HfError::Invalid(
            "tokenizer.json is a WordPiece (BERT-style) tokenizer; GPT-2 needs its byte-level BPE tokenizer".into(),
        ));
    }
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(HfError::Invalid(format!(
            "tokenizer.json has {} tokens but the model's vocabulary is {}: a tokenizer of another model?",
            tokenizer.vocab_size(),
            config.vocab_size
        )));
    }
    Ok(())
}

/// An imported GPT-2 run folder, ready to continue prompts.
pub struct HfGenerator {
    model: Gpt,
    tokenizer: HfTokenizer,
    info: HfRunInfo,
    device: Device,
}

impl HfGenerator {
    /// Loads a run folder written by [`import_gpt2`].
    ///
    /// # Errors
    /// [`TaskError`] for a folder of another recipe or missing/corrupt files.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, TaskError> {
        let info: HfRunInfo = load_run_info(dir, Some(GPT2_RECIPE))?;
        let tokenizer = HfTokenizer::load(&deepzero_train::run_file(dir, &info.tokenizer_file)?)?;
        check_tokenizer(&tokenizer, &info.config)?;
        let model = info
            .config
            .gpt_config()?
            .init(device)
            .map_err(HfError::Config)?;
        let model = load_model(model, &model_file(dir)?)?.valid();
        Ok(Self {
            model,
            tokenizer,
            info,
            device: device.clone(),
        })
    }

    /// The model's context length.
    pub fn context(&self) -> usize {
        self.info.config.n_positions
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &HfTokenizer {
        &self.tokenizer
    }

    /// The model.
    pub fn model(&self) -> &Gpt {
        &self.model
    }

    /// The continuation of each prompt (without the prompt); prompt `i` is sampled with seed
    /// `options.seed + i`. See the [module docs](self) for empty and long prompts.
    ///
    /// # Errors
    /// [`TaskError`] for invalid sampling options or a prompt the tokenizer cannot encode.
    pub fn generate(
        &self,
        prompts: &[String],
        options: &SampleOptions,
    ) -> Result<Vec<String>, TaskError> {
        let sampling = options.sampling()?;
        let eos = self.info.config.eos_token_id.or_else(|| {
            self.tokenizer
                .token_to_id("<|endoftext|>")
                .map(|i| i as usize)
        });
        let mut out = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let mut ids: Vec<usize> = self
                .tokenizer
                .encode(prompt, false)
                .map_err(|e| TaskError::invalid(format!("prompt {}: {e}", i + 1)))?
                .into_iter()
                .map(|id| id as usize)
                .collect();
            if ids.is_empty() {
                ids.push(eos.ok_or_else(|| {
                    TaskError::invalid("an empty prompt needs an <|endoftext|> token")
                })?);
            }
            let mut new = self
                .model
                .generate(
                    &ids,
                    options.max_new_tokens,
                    &sampling,
                    &mut rng(options.seed.wrapping_add(i as u64)),
                    &self.device,
                )
                .map_err(|e| TaskError::invalid(e.to_string()))?;
            if let Some(end) = eos.and_then(|e| new.iter().position(|&t| t == e)) {
                new.truncate(end);
            }
            let new: Vec<u32> = new.into_iter().map(|t| t as u32).collect();
            out.push(self.tokenizer.decode(&new)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::test_fixtures::{fixture, golden};
    use crate::test_util::device;

    #[test]
    fn imported_run_generates_what_transformers_generates() {
        let dev = device();
        let out = tempfile::tempdir().unwrap();
        let summary = import_gpt2(&fixture("gpt2-tiny"), out.path(), &dev).unwrap();
        assert_eq!(summary.tokenizer_size, 400);
        let shown = summary.to_string();
        let parameters = format!("{} parameters (", summary.parameters);
        assert!(shown.starts_with(&parameters), "{shown}");
        assert!(shown.ends_with("tokenizer of 400 tokens"), "{shown}");
        let generator = HfGenerator::load(out.path(), &dev).unwrap();
        let golden = golden(&fixture("gpt2-tiny"));
        let want: Vec<u32> = serde_json::from_value(golden["greedy_new_ids"].clone()).unwrap();
        let options = SampleOptions {
            max_new_tokens: want.len(),
            temperature: 0.0,
            ..SampleOptions::default()
        };
        let text = generator
            .generate(&["First Citizen:\nBefore we proceed".into()], &options)
            .unwrap();
        // Token 0 is <|endoftext|> (eos): the text stops there, as it would in transformers.
        let stop = want.iter().position(|&t| t == 0).unwrap_or(want.len());
        assert_eq!(
            text[0],
            generator.tokenizer().decode(&want[..stop]).unwrap()
        );
        // Seeded sampling with top-p is reproducible.
        let sampled = SampleOptions {
            max_new_tokens: 8,
            temperature: 1.0,
            top_p: Some(0.9),
            ..SampleOptions::default()
        };
        let a = generator.generate(&["ROMEO:".into()], &sampled).unwrap();
        assert_eq!(a, generator.generate(&["ROMEO:".into()], &sampled).unwrap());
    }

    #[test]
    fn bad_checkpoint_folders_are_one_line_errors() {
        let dev = device();
        let src = fixture("gpt2-tiny");
        let tmp = tempfile::tempdir().unwrap();
        let copy = |names: &[&str]| {
            let dir = tempfile::tempdir_in(tmp.path()).unwrap();
            for n in names {
                std::fs::copy(src.join(n), dir.path().join(n)).unwrap();
            }
            dir
        };
        let out = tmp.path().join("out");
        let err = |dir: &Path| import_gpt2(dir, &out, &dev).unwrap_err().to_string();

        // No config.json.
        let d = copy(&["model.safetensors", "tokenizer.json"]);
        let e = err(d.path());
        assert!(e.contains("config.json: no such file"), "{e}");
        // A config whose width does not match the tensors.
        let d = copy(&["model.safetensors", "tokenizer.json"]);
        let config = std::fs::read_to_string(src.join("config.json"))
            .unwrap()
            .replace("\"n_embd\": 32", "\"n_embd\": 64");
        std::fs::write(d.path().join("config.json"), config).unwrap();
        let e = err(d.path());
        assert!(
            e.contains("has shape") && e.contains("config.json implies"),
            "{e}"
        );
        // BERT's WordPiece tokenizer in a GPT-2 folder.
        let d = copy(&["config.json", "model.safetensors"]);
        std::fs::copy(
            fixture("bert-tiny/tokenizer.json"),
            d.path().join("tokenizer.json"),
        )
        .unwrap();
        let e = err(d.path());
        assert!(e.contains("WordPiece"), "{e}");
        // A BERT checkpoint given as GPT-2.
        let e = err(&fixture("bert-tiny"));
        assert!(
            e.contains("`bert` model, not gpt2") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn missing_tensor_is_named() {
        use safetensors::tensor::{TensorView, serialize};
        let dev = device();
        let src = fixture("gpt2-tiny");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
        // The fixture's weights without the final layer norm's bias.
        let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let kept: Vec<(String, TensorView)> = file
            .tensors()
            .into_iter()
            .filter(|(k, _)| k != "transformer.ln_f.bias")
            .collect();
        let data = serialize(kept, None).unwrap();
        std::fs::write(dir.path().join("model.safetensors"), data).unwrap();
        let e = load_gpt2(dir.path(), &dev).unwrap_err().to_string();
        assert!(e.ends_with("no tensor `ln_f.bias`"), "{e}");
    }
}
