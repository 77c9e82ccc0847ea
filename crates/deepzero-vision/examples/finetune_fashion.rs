//! Pre-train a small CNN on five Fashion-MNIST classes, then learn the other five from ten
//! images per class — from scratch, by a linear probe and with LoRA — on the sample shipped in
//! `datasets/`, through the library alone (the settings of docs/finetuning.md, shorter).
//!
//! `cargo run --release -p deepzero-vision --example finetune_fashion`

use deepzero_data::IdxCorpus;
use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::Architecture;
use deepzero_vision::tasks::classify::{self, ImageSpec};
use deepzero_vision::tasks::finetune::{self, FinetuneSpec, Strategy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = std::env::temp_dir().join("deepzero-finetune-example");
    let settings = |name: &str, epochs, batch_size, learning_rate| RunSettings {
        quiet: true,
        overwrite: true, // each run of the example replaces the previous one
        valid_fraction: 0.0,
        ..RunSettings::new(name, runs.join(name)).with_fit(FitConfig {
            epochs,
            batch_size,
            learning_rate,
            ..FitConfig::default()
        })
    };
    let subset = |classes: &[usize], per_class| ImageSpec {
        classes_subset: Some(classes.to_vec()),
        per_class,
        ..ImageSpec::idx(IdxCorpus::FashionMnist, Architecture::SmallCnn)
    };
    // 1. Pre-train on T-shirt, trouser, pullover, dress, coat.
    classify::train(
        &subset(&[0, 1, 2, 3, 4], None),
        &settings("pretrain", 2, 64, 2e-3),
    )?;
    // 2. Ten images per class of sandal, shirt, sneaker, bag, boot: scratch vs transfer.
    let few_shot = subset(&[5, 6, 7, 8, 9], Some(10));
    let scratch = classify::train(&few_shot, &settings("scratch", 20, 16, 2e-3))?;
    println!(
        "from scratch: test accuracy {:.3}",
        scratch.test["accuracy"]
    );
    for (name, strategy) in [
        ("probe", Strategy::LinearProbe),
        (
            "lora",
            Strategy::Lora {
                rank: 8,
                alpha: 16.0,
            },
        ),
    ] {
        let spec = FinetuneSpec::new(few_shot.clone(), runs.join("pretrain"), strategy);
        let report = finetune::finetune(&spec, &settings(name, 20, 16, 1e-2))?;
        println!("{name}: test accuracy {:.3}", report.test["accuracy"]);
    }
    Ok(())
}
