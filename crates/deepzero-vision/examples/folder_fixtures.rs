//! Writes the held-out class-per-folder data sets the `image-folder` recipe is measured on
//! (docs/image-folder.md): seeded, each under 2 000 images, as `OUT/<set>/{train,test}/<class>/`.
//!
//! - `shapes`: small grey drawings of six classes — circle, square, triangle, cross and arrows
//!   pointing left or right (mirror images of each other) — of random size, position, rotation
//!   (±15°), brightness and fill, on noisy backgrounds, 24–40 px (mixed sizes), 250 a class
//!   (200 train / 50 test);
//! - `coco-crops` (when the COCO128 folder is given): colour photographs, the labelled boxes of
//!   four frequent COCO classes (person, car, chair, cup) cut out of COCO128 with a 10 % margin,
//!   at least 20 px on the shorter side, scaled to at most 128 px; train2017 images for training,
//!   val2017 for the test split (no picture in both). Imbalanced, as the data are.
//!
//! ```text
//! cargo run --release -p deepzero-vision --example folder_fixtures -- OUT [COCO128_DIR]
//! ```
//! e.g. `-- target/folders shared/datasets/coco128`. The COCO images stay where they are (only
//! crops are written, under OUT).

use std::path::{Path, PathBuf};

use image::{GrayImage, Luma, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SHAPES: [&str; 6] = [
    "arrow-left",
    "arrow-right",
    "circle",
    "cross",
    "square",
    "triangle",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: folder_fixtures OUT [COCO128_DIR]")?,
    );
    let shapes = write_shapes(&out.join("shapes"), 200, 50, 7)?;
    println!("{}: {shapes} images", out.join("shapes").display());
    if let Some(coco) = args.next() {
        let crops = write_coco_crops(Path::new(&coco), &out.join("coco-crops"))?;
        println!("{}: {crops} images", out.join("coco-crops").display());
    }
    Ok(())
}

/// Whether the point `(u, v)` (shape coordinates: centred, radius 1, before rotation) is inside
/// shape `kind`, filled or as an outline of width `stroke`.
fn inside(kind: &str, u: f32, v: f32, filled: bool, stroke: f32) -> bool {
    // Signed distance-like value: ≤ 0 inside, > 0 outside (in radius units).
    let d = match kind {
        "circle" => (u * u + v * v).sqrt() - 1.0,
        "square" => u.abs().max(v.abs()) - 0.8,
        // Pointing up: apex at v = -0.9, base at v = 0.7, 1.8 wide.
        "triangle" => (v - 0.7).max(u.abs() - 0.5625 * (v + 0.9)),
        "cross" => (u.abs() - 0.25)
            .max(v.abs() - 0.95)
            .min((v.abs() - 0.25).max(u.abs() - 0.95)),
        // An arrow pointing right: a shaft on the left and a head on the right.
        "arrow-right" | "arrow-left" => {
            let u = if kind == "arrow-left" { -u } else { u };
            let shaft = (v.abs() - 0.2).max(-0.95 - u).max(u - 0.15);
            let head = (v.abs() + u - 0.95).max(0.1 - u);
            shaft.min(head)
        }
        _ => 1.0,
    };
    if filled {
        d <= 0.0
    } else {
        d <= 0.0 && d > -stroke
    }
}

fn draw_shape(kind: &str, rng: &mut StdRng) -> GrayImage {
    let side = rng.random_range(24..=40u32);
    let s = side as f32;
    let radius = s * rng.random_range(0.22..0.42);
    let (cx, cy) = (
        rng.random_range(radius..s - radius),
        rng.random_range(radius..s - radius),
    );
    let angle = rng.random_range(-15f32..15.0).to_radians();
    let (sin, cos) = angle.sin_cos();
    let filled = rng.random_bool(0.6);
    let stroke = rng.random_range(0.25..0.45);
    let background = rng.random_range(0.0..90.0f32);
    let foreground = rng.random_range(150.0..255.0f32);
    let noise = rng.random_range(4.0..22.0f32);
    GrayImage::from_fn(side, side, |x, y| {
        // 2×2 supersampling for smooth edges.
        let mut cover = 0.0;
        for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
            let (dx, dy) = ((x as f32 + ox - cx) / radius, (y as f32 + oy - cy) / radius);
            let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
            cover += f32::from(u8::from(inside(kind, u, v, filled, stroke))) / 4.0;
        }
        // Roughly normal noise: the sum of three uniforms.
        let n: f32 = (0..3).map(|_| rng.random_range(-1.0..1.0f32)).sum::<f32>() * noise / 1.7;
        let value = background + (foreground - background) * cover + n;
        Luma([value.round().clamp(0.0, 255.0) as u8])
    })
}

fn write_shapes(root: &Path, train: usize, test: usize, seed: u64) -> std::io::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut written = 0;
    for kind in SHAPES {
        for (split, count) in [("train", train), ("test", test)] {
            let dir = root.join(split).join(kind);
            std::fs::create_dir_all(&dir)?;
            for i in 0..count {
                draw_shape(kind, &mut rng)
                    .save(dir.join(format!("{i:04}.png")))
                    .map_err(std::io::Error::other)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// COCO class ids kept, with their folder names.
const COCO_CLASSES: [(usize, &str); 4] = [(0, "person"), (2, "car"), (41, "cup"), (56, "chair")];

fn write_coco_crops(coco: &Path, root: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let mut written = 0;
    for (source, split) in [("train2017", "train"), ("val2017", "test")] {
        let labels = coco.join("labels").join(source);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&labels)
            .map_err(|e| format!("{}: {e}", labels.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for label_file in files {
            let stem = label_file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let image_path = coco.join("images").join(source).join(format!("{stem}.jpg"));
            let Ok(picture) = image::open(&image_path) else {
                continue;
            };
            let picture = picture.to_rgb8();
            let (w, h) = (picture.width() as f32, picture.height() as f32);
            for (k, line) in std::fs::read_to_string(&label_file)?.lines().enumerate() {
                let v: Vec<f32> = line
                    .split_whitespace()
                    .filter_map(|t| t.parse().ok())
                    .collect();
                let [class, x, y, bw, bh] = v[..] else {
                    continue;
                };
                let Some((_, name)) = COCO_CLASSES.iter().find(|(id, _)| *id == class as usize)
                else {
                    continue;
                };
                let (bw, bh) = (bw * w * 1.2, bh * h * 1.2);
                if bw.min(bh) < 20.0 {
                    continue;
                }
                let x0 = (x * w - bw / 2.0).max(0.0) as u32;
                let y0 = (y * h - bh / 2.0).max(0.0) as u32;
                let x1 = ((x * w + bw / 2.0) as u32).min(picture.width());
                let y1 = ((y * h + bh / 2.0) as u32).min(picture.height());
                let crop: RgbImage =
                    image::imageops::crop_imm(&picture, x0, y0, x1 - x0, y1 - y0).to_image();
                let longer = crop.width().max(crop.height());
                let crop = if longer > 128 {
                    let f = 128.0 / longer as f32;
                    image::imageops::resize(
                        &crop,
                        ((crop.width() as f32 * f).round() as u32).max(1),
                        ((crop.height() as f32 * f).round() as u32).max(1),
                        image::imageops::FilterType::Triangle,
                    )
                } else {
                    crop
                };
                let dir = root.join(split).join(name);
                std::fs::create_dir_all(&dir)?;
                crop.save(dir.join(format!("{stem}-{k}.jpg")))?;
                written += 1;
            }
        }
    }
    Ok(written)
}
