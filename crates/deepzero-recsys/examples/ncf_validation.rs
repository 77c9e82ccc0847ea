//! How the NCF recipes got their settings: everything is chosen on a validation split — the
//! leave-one-out training part with each user's latest remaining interaction held out again,
//! ranked among 99 sampled negatives — so the test items are never looked at.
//!
//! 1. GMF and MLP (the `ml100k-gmf` / `ml100k-mlp` settings, with the overrides below) are
//!    trained for `--epochs` epochs each; validation HR@10 / NDCG@10 after every epoch, and
//!    the best epoch of each (early stopping) is kept.
//! 2. The two best networks are fused with output layer `[α h_GMF ; (1 − α) h_MLP]` for each
//!    `--alphas` (NCF §3.4.1 calls α the trade-off between the pre-trained models and uses
//!    0.5); the best α is kept.
//! 3. That network is fine-tuned for `--finetune-epochs` epochs with the recipe's fine-tuning
//!    optimiser (`--finetune-lr` overrides its rate), scored after every epoch (epoch 0: no
//!    fine-tuning).
//!
//! The last line gives the settings a recipe would take: branch epochs, α, fine-tuning epochs.
//!
//! With `--seeds 0,1,2` it instead fits the `ml100k-neumf` recipe as it stands (with the
//! overrides `--gmf-epochs`, `--mlp-epochs`, `--alpha` and those above) on the validation split
//! once per seed (model, training negatives and the 99 validation negatives all follow the
//! seed) and prints validation HR@10 / NDCG@10 of NeuMF and of its two pre-trained branches,
//! with the mean over the seeds: how two candidate recipes are compared without the noise of
//! a single draw.
//!
//! ```text
//! cargo run --release -p deepzero-recsys --example ncf_validation -- DATA_DIR \
//!     [--epochs 40] [--negatives 4] [--l2 0.03] [--mlp-l2 0.03] [--alphas 0.5,0.7,0.9] \
//!     [--finetune-epochs 10] [--finetune-lr 0.001] [--seed 0]
//! cargo run --release -p deepzero-recsys --example ncf_validation -- DATA_DIR --seeds 0,1,2 \
//!     [--gmf-epochs 20] [--mlp-epochs 20] [--alpha 0.9] [--mlp-l2 0.03] [--finetune-epochs 3]
//! ```
//!
//! Both forms also take `--mlp-dropout P` (dropout on the input of every MLP tower layer),
//! `--lr-decay G` (epoch `e` trains at `lr · G^(e−1)`, every stage) and
//! `--finetune-output-epochs K` (K fine-tuning epochs of the output layer alone first); the
//! second also `--finetune-lr`, `--factors F` (GMF width) and `--mlp-layers 256,128,64,32`.
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use deepzero_recsys::data::{Interactions, RatingsDataset, leave_one_out};
use deepzero_recsys::eval::{Candidates, evaluate_sampled, sampled_candidates};
use deepzero_recsys::metrics::RankMetrics;
use deepzero_recsys::models::neumf::{NcfNet, fuse_pretrained};
use deepzero_recsys::models::{NcfStage, NeuMf, NeuMfConfig};
use deepzero_recsys::tasks::{ModelSpec, TaskSpec};

type Error = Box<dyn std::error::Error>;

/// The value after `--name`, parsed, or `default`.
fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, Error>
where
    T::Err: std::fmt::Display,
{
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(k) => {
            let v = args.get(k + 1).ok_or(format!("{name} needs a value"))?;
            v.parse().map_err(|e| format!("{name} {v}: {e}").into())
        }
    }
}

fn ncf(recipe: &str) -> Result<NeuMfConfig, Error> {
    match TaskSpec::recipe(recipe)?.model {
        ModelSpec::Ncf(c) => Ok(c),
        _ => Err(format!("{recipe} is not an NCF recipe").into()),
    }
}

/// Better on validation: higher HR@10, then higher NDCG@10.
fn better(a: &RankMetrics, b: &RankMetrics) -> bool {
    (a.hr, a.ndcg) > (b.hr, b.ndcg)
}

/// The best epoch of a curve, its figures and a copy of its network.
struct Best {
    epoch: usize,
    metrics: RankMetrics,
    net: Option<NcfNet>,
}

/// Fits one branch alone for `cfg.epochs`, printing the validation curve; returns the best
/// epoch.
fn branch_curve(
    name: &str,
    cfg: NeuMfConfig,
    train: &Interactions,
    cands: &[Candidates],
    device: &Device,
) -> Result<Best, Error> {
    let mut best = Best {
        epoch: 0,
        metrics: RankMetrics::default(),
        net: None,
    };
    let t = Instant::now();
    let mut m = NeuMf::new(cfg, device.clone());
    m.fit_observed(train, &mut |_: NcfStage, epoch, model: &NeuMf| {
        let r = evaluate_sampled(model, cands, 10);
        println!("| {name} | {epoch} | {:.4} | {:.4} |", r.hr, r.ndcg);
        if best.net.is_none() || better(&r, &best.metrics) {
            best = Best {
                epoch,
                metrics: r,
                net: model.net().cloned(),
            };
        }
    })?;
    println!(
        "{name}: best epoch {} (HR@10 {:.4}, NDCG@10 {:.4}), {:.0} s",
        best.epoch,
        best.metrics.hr,
        best.metrics.ndcg,
        t.elapsed().as_secs_f64()
    );
    Ok(best)
}

/// `--seeds`: the recipe (with overrides) fitted and scored on validation once per seed.
fn recipe_over_seeds(
    args: &[String],
    seeds: &str,
    train: &Interactions,
    all: &Interactions,
    test: &[deepzero_recsys::data::Interaction],
) -> Result<(), Error> {
    let base = ncf("ml100k-neumf")?;
    let finetune_epochs = base.finetune_epochs.unwrap_or(base.epochs);
    let cfg = NeuMfConfig {
        gmf_epochs: Some(flag(
            args,
            "--gmf-epochs",
            base.gmf_epochs.unwrap_or(base.epochs),
        )?),
        mlp_epochs: Some(flag(
            args,
            "--mlp-epochs",
            base.mlp_epochs.unwrap_or(base.epochs),
        )?),
        alpha: flag(args, "--alpha", base.alpha)?,
        negatives: flag(args, "--negatives", base.negatives)?,
        l2: flag(args, "--l2", base.l2)?,
        mlp_l2: Some(flag(args, "--mlp-l2", base.mlp_l2.unwrap_or(base.l2))?),
        finetune_epochs: Some(flag(args, "--finetune-epochs", finetune_epochs)?),
        finetune_lr: flag(args, "--finetune-lr", base.finetune_lr)?,
        finetune_output_epochs: flag(
            args,
            "--finetune-output-epochs",
            base.finetune_output_epochs,
        )?,
        mlp_dropout: flag(args, "--mlp-dropout", base.mlp_dropout)?,
        lr_decay: flag(args, "--lr-decay", base.lr_decay)?,
        factors: flag(args, "--factors", base.factors)?,
        mlp_layers: match args.iter().position(|a| a == "--mlp-layers") {
            None => base.mlp_layers.clone(),
            Some(k) => args
                .get(k + 1)
                .ok_or("--mlp-layers needs a value")?
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--mlp-layers: {e}"))?,
        },
        ..base
    };
    println!(
        "factors {}, mlp_layers {:?}, gmf_epochs {:?}, mlp_epochs {:?}, alpha {}, l2 {} / {:?}, negatives {}, finetune_epochs {:?} (lr {}, {} output-only first), mlp_dropout {}, lr_decay {}",
        cfg.factors,
        cfg.mlp_layers,
        cfg.gmf_epochs,
        cfg.mlp_epochs,
        cfg.alpha,
        cfg.l2,
        cfg.mlp_l2,
        cfg.negatives,
        cfg.finetune_epochs,
        cfg.finetune_lr,
        cfg.finetune_output_epochs,
        cfg.mlp_dropout,
        cfg.lr_decay
    );
    println!("| seed | GMF HR@10 | MLP HR@10 | NeuMF HR@10 | NeuMF NDCG@10 |");
    let seeds: Vec<u64> = seeds.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let mut means = [0.0; 4];
    for &seed in &seeds {
        let cands = sampled_candidates(test, all, 99, seed)?;
        let last = |stage| match stage {
            NcfStage::Gmf => cfg.gmf_epochs,
            NcfStage::Mlp => cfg.mlp_epochs,
            NcfStage::NeuMf => None,
        };
        let mut branch = [0.0; 2];
        let mut m = NeuMf::new(
            NeuMfConfig {
                seed,
                ..cfg.clone()
            },
            Device::flex(),
        );
        m.fit_observed(train, &mut |stage, epoch, model: &NeuMf| {
            if last(stage) == Some(epoch) {
                branch[usize::from(stage == NcfStage::Mlp)] =
                    evaluate_sampled(model, &cands, 10).hr;
            }
        })?;
        let r = evaluate_sampled(&m, &cands, 10);
        let row = [branch[0], branch[1], r.hr, r.ndcg];
        println!(
            "| {seed} | {:.4} | {:.4} | {:.4} | {:.4} |",
            row[0], row[1], row[2], row[3]
        );
        for (mean, v) in means.iter_mut().zip(row) {
            *mean += v / seeds.len() as f64;
        }
    }
    println!(
        "| mean | {:.4} | {:.4} | {:.4} | {:.4} |",
        means[0], means[1], means[2], means[3]
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: ncf_validation DATA_DIR [options]")?,
    );
    let epochs: usize = flag(&args, "--epochs", 40)?;
    let seed: u64 = flag(&args, "--seed", 0)?;
    let alphas: String = flag(&args, "--alphas", "0.5,0.6,0.7,0.8,0.9".to_string())?;
    let alphas: Vec<f32> = alphas
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let neumf = ncf("ml100k-neumf")?;
    let tuned = |base: NeuMfConfig| -> Result<NeuMfConfig, Error> {
        Ok(NeuMfConfig {
            epochs,
            negatives: flag(&args, "--negatives", base.negatives)?,
            l2: flag(&args, "--l2", base.l2)?,
            mlp_l2: Some(flag(&args, "--mlp-l2", base.mlp_l2.unwrap_or(base.l2))?),
            finetune_epochs: Some(flag(&args, "--finetune-epochs", 10)?),
            finetune_lr: flag(&args, "--finetune-lr", base.finetune_lr)?,
            finetune_output_epochs: flag(
                &args,
                "--finetune-output-epochs",
                base.finetune_output_epochs,
            )?,
            mlp_dropout: flag(&args, "--mlp-dropout", base.mlp_dropout)?,
            lr_decay: flag(&args, "--lr-decay", base.lr_decay)?,
            seed,
            ..base
        })
    };
    let data = RatingsDataset::read_dir(&dir)?;
    let outer = leave_one_out(&data.ratings)?;
    let inner = leave_one_out(&outer.train)?;
    let seeds: String = flag(&args, "--seeds", String::new())?;
    if !seeds.is_empty() {
        return recipe_over_seeds(&args, &seeds, &inner.train, &data.ratings, &inner.test);
    }
    // Negatives avoid every known interaction, the test items included.
    let cands = sampled_candidates(&inner.test, &data.ratings, 99, seed)?;
    let device = Device::flex();
    println!("| stage | epoch / α | valid HR@10 | valid NDCG@10 |");
    let gmf = branch_curve(
        "gmf",
        tuned(ncf("ml100k-gmf")?)?,
        &inner.train,
        &cands,
        &device,
    )?;
    let mlp = branch_curve(
        "mlp",
        tuned(ncf("ml100k-mlp")?)?,
        &inner.train,
        &cands,
        &device,
    )?;
    let (Some(g), Some(p)) = (&gmf.net, &mlp.net) else {
        return Err("a branch trained no epoch".into());
    };
    let seen = inner.train.user_item();
    let mut best_alpha = (alphas[0], RankMetrics::default());
    for &alpha in &alphas {
        let fused = fuse_pretrained(g.clone(), p.clone(), alpha);
        let m = NeuMf::from_net(neumf.clone(), fused, seen.clone(), device.clone());
        let r = evaluate_sampled(&m, &cands, 10);
        println!("| fused | α {alpha} | {:.4} | {:.4} |", r.hr, r.ndcg);
        if better(&r, &best_alpha.1) {
            best_alpha = (alpha, r);
        }
    }
    let alpha = best_alpha.0;
    let cfg = NeuMfConfig {
        alpha,
        ..tuned(neumf)?
    };
    let mut finetune = Best {
        epoch: 0,
        metrics: RankMetrics::default(),
        net: None,
    };
    let t = Instant::now();
    let mut m = NeuMf::new(cfg, device.clone());
    m.fine_tune(
        fuse_pretrained(g.clone(), p.clone(), alpha),
        &inner.train,
        Some(&mut |_: NcfStage, epoch, model: &NeuMf| {
            let r = evaluate_sampled(model, &cands, 10);
            println!(
                "| neumf fine-tuning | {epoch} | {:.4} | {:.4} |",
                r.hr, r.ndcg
            );
            if epoch == 0 || better(&r, &finetune.metrics) {
                finetune = Best {
                    epoch,
                    metrics: r,
                    net: None,
                };
            }
        }),
    )?;
    println!(
        "chosen: gmf_epochs {}, mlp_epochs {}, alpha {alpha}, finetune_epochs {} → valid HR@10 {:.4}, NDCG@10 {:.4} (fine-tuning {:.0} s)",
        gmf.epoch,
        mlp.epoch,
        finetune.epoch,
        finetune.metrics.hr,
        finetune.metrics.ndcg,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
