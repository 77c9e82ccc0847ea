//! Benchmark: a DeepWalk/node2vec recipe over several seeds, with overrides of the walk and
//! skip-gram settings from the environment (`WALK_LENGTH`, `WALKS`, `WINDOW`, `DIM`, `EPOCHS`,
//! `LR`, `OPTIM=sgd|adam`, `BATCH`, `P`, `Q`).
//!
//! ```sh
//! cargo run --release -p deepzero-graph --example embedding_bench -- cora-deepwalk ../shared/datasets/graphs 3
//! ```

use burn::prelude::Device;
use deepzero_graph::skipgram::SkipGramOptimizer;
use deepzero_graph::tasks::{GraphTaskSpec, Method, train_with_log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let recipe = args.first().map_or("karate-node2vec", String::as_str);
    let data = std::path::PathBuf::from(args.get(1).map_or("datasets/karate", String::as_str));
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let env = |k: &str| std::env::var(k).ok();
    let mut base = GraphTaskSpec::recipe(recipe)?;
    if let Method::Embedding {
        walks, skipgram, ..
    } = &mut base.method
    {
        let num = |k: &str, v: &mut usize| env(k).and_then(|s| s.parse().ok()).map(|x| *v = x);
        let real = |k: &str, v: &mut f64| env(k).and_then(|s| s.parse().ok()).map(|x| *v = x);
        num("WALK_LENGTH", &mut walks.walk_length);
        num("WALKS", &mut walks.walks_per_node);
        num("WINDOW", &mut skipgram.window);
        num("DIM", &mut skipgram.dim);
        num("EPOCHS", &mut skipgram.epochs);
        num("BATCH", &mut skipgram.batch_size);
        real("LR", &mut skipgram.learning_rate);
        real("P", &mut walks.p);
        real("Q", &mut walks.q);
        if env("OPTIM").as_deref() == Some("adam") {
            skipgram.optimizer = SkipGramOptimizer::Adam;
        }
    }
    println!("{}", serde_json::to_string(&base.method)?);
    let device = Device::flex();
    let (mut acc, mut macro_f1, mut auc) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..seeds {
        let run = std::env::temp_dir().join(format!(
            "deepzero-bench-{recipe}-{}-{seed}",
            std::process::id()
        ));
        let report = train_with_log(
            &base.clone().with_seed(seed),
            &data,
            &run,
            &device,
            &mut |_| {},
        )?;
        println!("{report}");
        acc.push(report.test.accuracy);
        macro_f1.push(report.test.macro_f1);
        auc.extend(report.link_auc);
        let _ = std::fs::remove_dir_all(&run);
    }
    let stat = |v: &[f64]| {
        if v.is_empty() {
            return "n/a".to_string();
        }
        let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt();
        format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * s)
    };
    println!(
        "{recipe}: accuracy (micro-F1) {} %, macro-F1 {} %, link AUC {} % over {seeds} seeds",
        stat(&acc),
        stat(&macro_f1),
        stat(&auc)
    );
    Ok(())
}
