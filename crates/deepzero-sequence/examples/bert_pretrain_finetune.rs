//! Pre-train a small BERT-style encoder by masked language modelling, then fine-tune it with
//! LoRA on a topic-classification task, and compare with the same model trained from scratch.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example bert_pretrain_finetune -- [DIR]
//! ```
//! DIR holds the staged datasets (`shakespeare-gutenberg/`, `bbc-news/`); without it, generated
//! text: unlabelled "plays" and 40 labelled articles per topic over topic-specific words.
use std::path::{Path, PathBuf};

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::text::TextCorpus;
use deepzero_sequence::pretrain::finetune::{self, FinetuneMode, FinetuneSpec, Predictor};
use deepzero_sequence::pretrain::{self, PretrainSource, PretrainSpec, recipes};
use deepzero_train::{FitConfig, RunSettings};
use rand::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = std::env::temp_dir();
    let data = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => write_sample(&tmp.join("deepzero-example-bert-data"))?,
    };
    // 1. Pre-training: a tiny encoder, 3 epochs of 20 steps.
    let spec = PretrainSpec {
        sources: vec![
            PretrainSource::ShakespeareGutenberg,
            PretrainSource::BbcNews,
        ],
        max_len: 32,
        d_model: 32,
        n_heads: 2,
        d_ff: 64,
        n_layers: 1,
        steps_per_epoch: 20,
        grad_accumulation: 2,
        valid_windows: 32,
        ..PretrainSpec::english()
    };
    let warmup = LrSchedule::WarmupCosine {
        warmup_steps: 10,
        min_lr_factor: 0.1,
    };
    let fit = FitConfig::recipe(3, 16, 3e-3, OptimizerKind::AdamW, warmup).with_weight_decay(0.01);
    let pre = tmp.join("deepzero-example-bert-pretrain");
    let mut settings = RunSettings::new("en-bert-pretrain", &pre)
        .with_fit(fit)
        .with_data_dir(&data);
    settings.quiet = true;
    settings.overwrite = true; // each run of the example replaces the previous one
    let report = pretrain::train(&spec, &settings)?;
    println!(
        "pre-trained: valid MLM loss {:.3}",
        report.valid["mlm_loss"].as_f64().unwrap_or(f64::NAN)
    );

    // 2. Fine-tuning with LoRA (rank 4) on 30 % of the labels, and the same from scratch.
    let base = recipes::finetune()
        .into_iter()
        .find(|r| r.name == "bbc-bert")
        .ok_or("no bbc-bert recipe")?;
    let fit = FitConfig {
        epochs: 10,
        batch_size: 8,
        learning_rate: 1e-2,
        schedule: LrSchedule::WarmupCosine {
            warmup_steps: 5,
            min_lr_factor: 0.1,
        },
        ..base.fit.clone()
    };
    let few = FinetuneSpec {
        label_fraction: 0.3,
        max_len: 32,
        ..FinetuneSpec::new(TextCorpus::BbcNews)
    };
    let mut accuracy = Vec::new();
    for (name, spec) in [
        (
            "lora",
            FinetuneSpec {
                from: Some(pre.clone()),
                mode: FinetuneMode::Lora {
                    rank: 4,
                    alpha: 8.0,
                },
                ..few.clone()
            },
        ),
        (
            "scratch",
            FinetuneSpec {
                scratch: pretrain::BertConfig::new(0)
                    .with_d_model(32)
                    .with_n_heads(2)
                    .with_d_ff(64)
                    .with_n_layers(1),
                ..few.clone()
            },
        ),
    ] {
        let out = tmp.join(format!("deepzero-example-bert-{name}"));
        let mut s = RunSettings::new("bbc-bert", &out)
            .with_fit(fit.clone())
            .with_data_dir(&data);
        s.quiet = true;
        s.overwrite = true;
        let r = finetune::train(&spec, &s)?;
        let acc = r.test["accuracy"].as_f64().unwrap_or(f64::NAN);
        println!("{name}: test accuracy {:.1}%", acc * 100.0);
        if let Some(diff) = r.extra["lora_merge_max_abs_diff"].as_f64() {
            println!("{name}: merging LoRA changed the logits by at most {diff:.1e}");
        }
        accuracy.push(acc);
    }
    let predictor = Predictor::load(
        &tmp.join("deepzero-example-bert-lora"),
        Some("bbc-bert"),
        &settings.device()?,
    )?;
    let p = &predictor.predict(&["shares bank profit market".to_string()])?[0];
    println!(
        "pre-trained + LoRA {:.1}% vs from scratch {:.1}%; 'shares bank profit market' -> {} ({:.2})",
        accuracy[0] * 100.0,
        accuracy[1] * 100.0,
        p.label,
        p.probability
    );
    Ok(())
}

/// Unlabelled "plays" and labelled articles over one shared vocabulary: each topic draws most
/// of its words from its own 30, the rest from 60 common ones.
fn write_sample(dir: &Path) -> std::io::Result<PathBuf> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let topics = [
        ("business", "shares bank profit market economy"),
        ("sport", "match goal team coach season"),
    ];
    let sentence = |rng: &mut rand::rngs::StdRng, topic: usize, n: usize| {
        (0..n)
            .map(|_| {
                if rng.random_bool(0.5) {
                    let words: Vec<&str> = topics[topic].1.split(' ').collect();
                    let w = words[rng.random_range(0..words.len())];
                    format!("{w}{}", rng.random_range(0..6))
                } else {
                    format!("common{}", rng.random_range(0..60))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let plays = dir.join("shakespeare-gutenberg");
    std::fs::create_dir_all(&plays)?;
    for f in 0..4 {
        let text: Vec<String> = (0..60).map(|i| sentence(&mut rng, i % 2, 30)).collect();
        std::fs::write(plays.join(format!("play{f}.txt")), text.join("\n"))?;
    }
    for (t, (topic, _)) in topics.iter().enumerate() {
        let folder = dir.join("bbc-news/bbc").join(topic);
        std::fs::create_dir_all(&folder)?;
        for i in 0..40 {
            std::fs::write(
                folder.join(format!("{i:03}.txt")),
                sentence(&mut rng, t, 25),
            )?;
        }
    }
    Ok(dir.to_path_buf())
}
