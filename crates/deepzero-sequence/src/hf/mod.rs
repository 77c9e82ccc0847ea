//! Hugging Face interoperability (seed chapter 4.3, large models): the checkpoints and
//! tokenizer files people already have, read into this crate's modules.
//!
//! | piece | file | what it does |
//! |---|---|---|
//! | [`Checkpoint`], [`read_config`] | `checkpoint.rs` | `config.json` + `model.safetensors` (F32/F16/BF16), tensors by name with shape checks |
//! | [`load_gpt2`], [`Gpt2Config`] | `gpt2.rs` | `GPT2LMHeadModel` → [`crate::lm::Gpt`] (logits equal `transformers` to 1e-4) |
//! | [`load_bert`], [`load_bert_mlm`], [`Bert`], [`BertForMaskedLm`] | `bert.rs` | `BertModel` / `BertForMaskedLM` → post-norm [`crate::transformer::TransformerEncoder`] (hidden states and MLM logits equal `transformers` to 1e-4) |
//! | [`HfTokenizer`] | `tokenizer.rs` | `tokenizer.json`: byte-level BPE (GPT-2) and WordPiece (BERT), load, encode, decode, save |
//! | [`import_gpt2`], [`HfGenerator`] | `run.rs` | a GPT-2 folder → a run folder; prompts → continuations |
//!
//! ```no_run
//! use burn::prelude::*;
//! use deepzero_sequence::hf::{HfGenerator, import_gpt2};
//! use deepzero_sequence::tasks::generate::SampleOptions;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = Device::flex();
//! // A folder as `huggingface-cli download gpt2` or `save_pretrained` leaves it:
//! // config.json, model.safetensors, tokenizer.json.
//! import_gpt2("gpt2".as_ref(), "runs/gpt2".as_ref(), &device)?;
//! let generator = HfGenerator::load("runs/gpt2".as_ref(), &device)?;
//! let options = SampleOptions { max_new_tokens: 40, ..SampleOptions::default() };
//! println!("{}", generator.generate(&["Hello, I'm a language model,".into()], &options)?[0]);
//! # Ok(()) }
//! ```
//!
//! Every golden fixture (`tests/fixtures/hf/`) is written by the committed script
//! `tests/fixtures/hf/make_hf_fixtures.py` with `transformers` and `tokenizers`.

use std::path::PathBuf;

pub mod bert;
pub mod checkpoint;
pub mod gpt2;
pub mod run;
mod strip_accents_table;
pub mod tokenizer;

pub use bert::{Bert, BertConfig, BertForMaskedLm, BertMlmHead, load_bert, load_bert_mlm};
pub use checkpoint::{Checkpoint, read_config};
pub use gpt2::{Gpt2Config, load_gpt2};
pub use run::{HfGenerator, HfRunInfo, import_gpt2};
pub use tokenizer::HfTokenizer;

/// What can go wrong reading Hugging Face files. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum HfError {
    /// A file the folder must have.
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    /// A file that cannot be read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// A file that is not what its name says.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor the model needs that the weights file lacks.
    #[error("{}: no tensor `{key}`", path.display())]
    MissingTensor {
        /// The weights file.
        path: PathBuf,
        /// The key (without prefix).
        key: String,
    },
    /// A tensor whose shape does not match the configuration.
    #[error("tensor `{key}` has shape {found:?}, but config.json implies {expected:?}")]
    Shape {
        /// The key.
        key: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// The shape the config implies.
        expected: Vec<usize>,
    },
    /// A model, tokenizer or option this module does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A configuration the model cannot be built with.
    #[error("config.json: {0}")]
    Config(crate::SequenceError),
    /// Input the tokenizer or model cannot take.
    #[error("{0}")]
    Invalid(String),
}

impl HfError {
    /// The error of reading `path`: [`HfError::Missing`] when it does not exist, else
    /// [`HfError::Io`].
    pub fn reading(path: &std::path::Path, e: std::io::Error) -> HfError {
        if e.kind() == std::io::ErrorKind::NotFound {
            HfError::Missing(path.to_path_buf())
        } else {
            HfError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        }
    }
}

impl From<HfError> for deepzero_train::TaskError {
    fn from(e: HfError) -> Self {
        deepzero_train::TaskError::invalid(e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod test_fixtures {
    use std::path::{Path, PathBuf};

    /// `tests/fixtures/hf/NAME`.
    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hf")
            .join(name)
    }

    /// `DIR/golden.json`.
    pub fn golden(dir: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap()
    }
}
