//! Where a trained digit segmenter's wrong pixels are (issue 17's diagnosis of `digits-unet`):
//! digit↔background at stroke edges or digit↔digit confusion, by the pixel's brightness, and
//! what the metric would be if either kind of error were removed. Also checks how the masks are
//! defined: in a rendered scene a pixel is a digit exactly when it is at or above
//! [`INK_THRESHOLD`] (pasted by maximum, ink boxes never overlap), so the test labels carry no
//! ambiguity; a scale augmentation (bilinear image, nearest mask) does move labels off that
//! rule, and the share it moves is printed.
//!
//! `cargo run --release -p deepzero-vision --example segment_errors -- RUN MNIST_DIR [valid|test]
//! [MODEL.bpk]` (the scenes of the `digits-unet` recipe at seed 42, as `deepzero train` drew
//! them; MODEL.bpk, e.g. `RUN/checkpoints/epoch-0003/model.bpk`, instead of `RUN/model.bpk`).

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use deepzero_data::scenes::INK_THRESHOLD;
use deepzero_data::train_valid_split;
use deepzero_vision::segment::data::{
    resize_bilinear_u8, resize_nearest_exact_u8, resize_nearest_u8,
};
use deepzero_vision::segment::task::{self, SegmentRunInfo};
use deepzero_vision::segment::{ConfusionMatrix, SegmentBatcher, Segmenter};
use rand::{Rng, SeedableRng};

/// Brightness bins of the error table: the threshold sits between the second and third.
const BINS: [(u8, u8, &str); 5] = [
    (0, 31, "0-31"),
    (32, 63, "32-63 (below threshold)"),
    (64, 95, "64-95 (just above)"),
    (96, 159, "96-159"),
    (160, 255, "160-255 (stroke core)"),
];

fn bin(v: u8) -> usize {
    BINS.iter().position(|b| v >= b.0 && v <= b.1).unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(run), Some(mnist)) = (args.first(), args.get(1)) else {
        return Err("usage: segment_errors RUN MNIST_DIR [valid|test] [MODEL.bpk]".into());
    };
    let split = args.get(2).map_or("test", String::as_str);
    let recipe = task::recipes()
        .into_iter()
        .find(|r| r.name == "digits-unet")
        .ok_or("no digits-unet recipe")?;
    let seed = 42;
    let (all_train, test, _) = recipe.spec.data.load(Some(mnist.as_ref()), seed)?;
    let (train_idx, valid_idx) = train_valid_split(all_train.len(), 0.1, seed);
    let set = match split {
        "valid" => all_train.select(&valid_idx),
        "test" => test,
        other => return Err(format!("split {other}: valid or test").into()),
    };
    let device = Device::flex();
    let info = SegmentRunInfo::load(run.as_ref(), Some("digits-unet"))?;
    let model = match args.get(3) {
        Some(file) => deepzero_train::checkpoint::load_model(
            info.arch
                .build(info.input_shape[0], info.class_names.len(), &device),
            file.as_ref(),
        )?,
        None => info.load_model(run.as_ref(), &device)?,
    };
    let batcher = SegmentBatcher::new(info.mean.clone(), info.std.clone());
    let k = info.class_names.len();

    // The label rule on the scenes as rendered.
    let off_rule: usize = set
        .items
        .iter()
        .map(|i| {
            i.image
                .pixels
                .iter()
                .zip(&i.mask)
                .filter(|(p, m)| (**p >= INK_THRESHOLD) != (**m > 0))
                .count()
        })
        .sum();
    println!(
        "{split}: {} scenes; pixels whose mask disagrees with 'ink >= {INK_THRESHOLD}': {off_rule}",
        set.len()
    );

    // A 0.8–1.2 zoom of the training scenes (the recipe's augmentation until 2026-12-06):
    // bilinear image, mask by PyTorch's plain nearest or by nearest with half-pixel centres.
    let train = all_train.select(&train_idx);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut plain, mut exact, mut ink) = (0usize, 0usize, 0usize);
    for item in train.items.iter().take(2000) {
        let [c, h, w] = item.image.shape;
        let side = ((h as f32 * rng.random_range(0.8f32..1.2)).round() as usize).max(1);
        let image = resize_bilinear_u8(&item.image.pixels, [c, h, w], [side, side]);
        let disagree = |mask: &[u8]| {
            image
                .iter()
                .zip(mask)
                .filter(|(p, m)| (**p >= INK_THRESHOLD) != (**m > 0))
                .count()
        };
        let nearest = resize_nearest_exact_u8(&item.mask, [h, w], [side, side]);
        plain += disagree(&resize_nearest_u8(&item.mask, [h, w], [side, side]));
        exact += disagree(&nearest);
        ink += nearest.iter().filter(|&&m| m > 0).count();
    }
    println!(
        "2000 training scenes zoomed 0.8-1.2: pixels off the rule, per digit pixel: {:.2} % (plain nearest mask), {:.2} % (half-pixel nearest)",
        100.0 * plain as f64 / ink as f64,
        100.0 * exact as f64 / ink as f64
    );

    let mut matrix = ConfusionMatrix::new(k);
    // Oracle A: true digit/background split, the model's best digit class on digit pixels.
    let mut oracle_fg = ConfusionMatrix::new(k);
    // Oracle B: the model's digit/background split, each predicted digit pixel given the true
    // class (of the digit it belongs to, else left as predicted).
    let mut oracle_cls = ConfusionMatrix::new(k);
    // Oracle C: the threshold rule for the split, the model's best digit class on ink.
    let mut threshold_rule = ConfusionMatrix::new(k);
    let mut by_bin = [[0usize; 4]; BINS.len()]; // pixels, fg->bg, bg->fg, digit->digit
    let (mut edge_err, mut inner_err) = (0usize, 0usize);
    for chunk in set.items.chunks(64) {
        let batch = batcher.batch(chunk.to_vec(), &device);
        let logits = model.segment(batch.images);
        let [_, _, h, w] = logits.dims();
        let logits: Vec<f32> = logits.into_data().try_to_vec::<f32>()?;
        for (n, item) in chunk.iter().enumerate() {
            let (mut t, mut p, mut pa, mut pb, mut pc) = (vec![], vec![], vec![], vec![], vec![]);
            for y in 0..h {
                for x in 0..w {
                    let at = y * w + x;
                    let l = |c: usize| logits[((n * k + c) * h + y) * w + x];
                    let arg = |from: usize| {
                        (from..k)
                            .max_by(|&a, &b| l(a).total_cmp(&l(b)))
                            .unwrap_or(0)
                    };
                    let (truth, pred, best_digit) = (usize::from(item.mask[at]), arg(0), arg(1));
                    t.push(truth);
                    p.push(pred);
                    pa.push(if truth > 0 { best_digit } else { 0 });
                    pb.push(if pred > 0 && truth > 0 { truth } else { pred });
                    let v = item.image.pixels[at];
                    pc.push(if v >= INK_THRESHOLD { best_digit } else { 0 });
                    let bi = bin(v);
                    by_bin[bi][0] += 1;
                    match (truth > 0, pred > 0) {
                        (true, false) => by_bin[bi][1] += 1,
                        (false, true) => by_bin[bi][2] += 1,
                        (true, true) if truth != pred => by_bin[bi][3] += 1,
                        _ => {}
                    }
                    if truth != pred {
                        // On the boundary: a 4-neighbour has another label.
                        let edge = [(0, 1), (2, 1), (1, 0), (1, 2)].iter().any(|&(dy, dx)| {
                            let (yy, xx) = (y + dy, x + dx);
                            (1..=h).contains(&yy)
                                && (1..=w).contains(&xx)
                                && item.mask[(yy - 1) * w + xx - 1] != item.mask[at]
                        });
                        if edge { edge_err += 1 } else { inner_err += 1 }
                    }
                }
            }
            matrix.update(&t, &p)?;
            oracle_fg.update(&t, &pa)?;
            oracle_cls.update(&t, &pb)?;
            threshold_rule.update(&t, &pc)?;
        }
    }

    let rows = matrix.rows();
    let (mut fg_bg, mut bg_fg, mut dd) = (0u64, 0u64, 0u64);
    for (t, row) in rows.iter().enumerate() {
        for (p, &c) in row.iter().enumerate() {
            match (t > 0, p > 0) {
                (true, false) => fg_bg += c,
                (false, true) => bg_fg += c,
                (true, true) if t != p => dd += c,
                _ => {}
            }
        }
    }
    let wrong = fg_bg + bg_fg + dd;
    println!(
        "model: mIoU {:.4}, pixel accuracy {:.2} %, {wrong} wrong pixels",
        matrix.mean_iou(),
        matrix.pixel_accuracy() * 100.0
    );
    let pct = |x: u64| 100.0 * x as f64 / wrong.max(1) as f64;
    println!(
        "  digit->background {fg_bg} ({:.1} %), background->digit {bg_fg} ({:.1} %), digit->other digit {dd} ({:.1} %)",
        pct(fg_bg),
        pct(bg_fg),
        pct(dd)
    );
    println!("  on a label boundary (4-neighbour differs) {edge_err}, inside a region {inner_err}");
    println!("  by brightness: pixels, digit->bg, bg->digit, digit->digit");
    for (b, c) in BINS.iter().zip(by_bin) {
        println!(
            "    {:24} {:>8} {:>7} {:>7} {:>7}",
            b.2, c[0], c[1], c[2], c[3]
        );
    }
    println!("  per class IoU / recall; where the digit's missed pixels went (top 3):");
    let ious = matrix.class_iou();
    for t in 0..k {
        let total: u64 = rows[t].iter().sum();
        let mut others: Vec<(usize, u64)> = rows[t]
            .iter()
            .enumerate()
            .filter(|&(p, &c)| p != t && c > 0)
            .map(|(p, &c)| (p, c))
            .collect();
        others.sort_by_key(|o| std::cmp::Reverse(o.1));
        let shown: Vec<String> = others
            .iter()
            .take(3)
            .map(|(p, c)| {
                format!(
                    "{} {:.1}%",
                    info.class_names[*p],
                    100.0 * *c as f64 / total as f64
                )
            })
            .collect();
        println!(
            "    {:10} IoU {:.3} recall {:.3}  -> {}",
            info.class_names[t],
            ious[t].unwrap_or(f64::NAN),
            rows[t][t] as f64 / total.max(1) as f64,
            shown.join(", ")
        );
    }
    for (name, m) in [
        (
            "oracle split (true digit/background, model's digit class)",
            &oracle_fg,
        ),
        (
            "oracle class (model's split, true digit class)",
            &oracle_cls,
        ),
        (
            "threshold split (ink >= 64, model's digit class)",
            &threshold_rule,
        ),
    ] {
        println!(
            "{name}: mIoU {:.4}, pixel accuracy {:.2} %",
            m.mean_iou(),
            m.pixel_accuracy() * 100.0
        );
    }
    Ok(())
}
