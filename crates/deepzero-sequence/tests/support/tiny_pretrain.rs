//! A tiny pre-training setup shared by the unit tests of `pretrain` (mounted there with
//! `#[path]`) and the `pretrain_resume` test binary: a generated corpus, a one-layer spec and
//! settings that train it in seconds. `PretrainSource` and `PretrainSpec` come from the
//! module this file is mounted in (`super`), which imports them from the crate as it sees it.

use std::path::Path;

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{FitConfig, RunSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{PretrainSource, PretrainSpec};

/// A generated corpus: sentences over 40 words, in a `shakespeare-gutenberg` folder.
pub fn tiny_corpus(dir: &Path) {
    let folder = dir.join("shakespeare-gutenberg");
    std::fs::create_dir_all(&folder).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    for f in 0..3 {
        let words: Vec<String> = (0..400)
            .map(|_| format!("w{}", rng.random_range(0..40)))
            .collect();
        std::fs::write(folder.join(format!("play{f}.txt")), words.join(" ")).unwrap();
    }
}

/// A one-layer encoder of width 16 over 16-token windows, two steps per epoch.
pub fn tiny_spec() -> PretrainSpec {
    PretrainSpec {
        sources: vec![PretrainSource::ShakespeareGutenberg],
        max_len: 16,
        d_model: 16,
        n_heads: 2,
        d_ff: 32,
        n_layers: 1,
        dropout: 0.0,
        steps_per_epoch: 2,
        valid_windows: 8,
        ..PretrainSpec::english()
    }
}

/// `en-bert-pretrain` settings for `epochs` epochs of batches of 4 (AdamW, warm-up then
/// cosine), reading `data` and writing `out`, quietly.
pub fn tiny_settings(data: &Path, out: &Path, epochs: usize) -> RunSettings {
    let fit = FitConfig::recipe(
        epochs,
        4,
        1e-3,
        OptimizerKind::AdamW,
        LrSchedule::WarmupCosine {
            warmup_steps: 2,
            min_lr_factor: 0.1,
        },
    )
    .with_weight_decay(0.01);
    let mut s = RunSettings::new("en-bert-pretrain", out).with_fit(fit);
    s.data_dir = Some(data.to_path_buf());
    s.quiet = true;
    s
}
