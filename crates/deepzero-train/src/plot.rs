//! Loss and accuracy curves drawn with `plotters` (font: DejaVu Sans, embedded).

use plotters::prelude::*;
use std::path::Path;

use deepzero_data::ImageItem;
use deepzero_data::draw::black_label;

use crate::{EpochRecord, TrainError};

/// Ten well-separated colours (matplotlib's `tab10`), for classes or series; further ones
/// cycle.
pub const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (see
/// [`deepzero_data::draw::register_font`]).
pub use deepzero_data::draw::register_font;

/// plotters' drawing area on a PNG file at `path` (`width × height`), written by `present`.
/// WebAssembly has no files to write: there it is a [`TrainError::Plot`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn png_area(
    path: &Path,
    size: (u32, u32),
) -> Result<DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, TrainError> {
    Ok(BitMapBackend::new(path, size).into_drawing_area())
}

/// plotters' drawing area on a PNG file (see the native version): never in WebAssembly.
#[cfg(target_arch = "wasm32")]
pub(crate) fn png_area(
    path: &Path,
    _size: (u32, u32),
) -> Result<DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, TrainError> {
    Err(TrainError::Plot {
        path: path.to_path_buf(),
        message: "pictures are drawn to files, which WebAssembly does not have".into(),
    })
}

/// Draws train/valid loss (left) and accuracy (right) per epoch into a PNG at `path`.
pub fn draw_curves(path: &Path, title: &str, records: &[EpochRecord]) -> Result<(), TrainError> {
    register_font();
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: format!("cannot draw curves: {e}"),
    };
    let root = png_area(path, (1000, 420))?;
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(500);
    let epochs = records.len().max(1) as f64;
    let x_range = if records.len() <= 1 {
        0.5..1.5
    } else {
        1.0..epochs
    };

    let series = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let panels = [
        (
            &left,
            "loss",
            series(&|r| Some(r.train_loss)),
            series(&|r| r.valid_loss),
        ),
        (
            &right,
            "accuracy",
            series(&|r| Some(r.train_accuracy)),
            series(&|r| r.valid_accuracy),
        ),
    ];
    for (area, name, train, valid) in panels {
        let all = train.iter().chain(valid.iter()).map(|p| p.1);
        let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
        let pad = ((hi - lo) * 0.1).max(1e-3);
        let mut chart = ChartBuilder::on(area)
            .caption(name, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range.clone(), (lo - pad)..(hi + pad))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(name)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (points, label, color) in [(train, "train", BLUE), (valid, "valid", RED)] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| err(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// Draws `images` in a grid (five per row, like the seed's 5×5 figure) with `captions` under
/// them, into a PNG at `path`.
pub fn draw_image_grid(
    path: &Path,
    images: &[ImageItem],
    captions: &[String],
) -> Result<(), TrainError> {
    register_font();
    const CELL: u32 = 112;
    const CAPTION: u32 = 26;
    let columns = images.len().clamp(1, 5) as u32;
    let rows = images.len().div_ceil(5).max(1) as u32;
    let (width, height) = (columns * CELL, rows * (CELL + CAPTION));
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (i, item) in images.iter().enumerate() {
        let [c, h, w] = item.shape;
        let (x0, y0) = ((i as u32 % 5) * CELL, (i as u32 / 5) * (CELL + CAPTION));
        for y in 0..CELL {
            for x in 0..CELL {
                // Nearest-neighbour upscaling keeps the pixels honest.
                let (sy, sx) = (
                    (y as usize * h) / CELL as usize,
                    (x as usize * w) / CELL as usize,
                );
                let at = |ch: usize| item.pixels[ch * h * w + sy * w + sx];
                let rgb = if c >= 3 {
                    [at(0), at(1), at(2)]
                } else {
                    [at(0); 3]
                };
                canvas.put_pixel(x0 + x, y0 + y, image::Rgb(rgb));
            }
        }
    }
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: format!("cannot draw predictions: {e}"),
    };
    {
        let buffer: &mut [u8] = &mut canvas;
        let area = BitMapBackend::with_buffer(buffer, (width, height)).into_drawing_area();
        for (i, caption) in captions.iter().enumerate().take(images.len()) {
            let (x0, y0) = (
                (i as u32 % 5) * CELL,
                (i as u32 / 5) * (CELL + CAPTION) + CELL,
            );
            let at = (x0 as i32 + 4, y0 as i32 + 4);
            area.draw(&black_label(caption.clone(), at, 15))
                .map_err(|e| err(e.to_string()))?;
        }
        area.present().map_err(|e| err(e.to_string()))?;
    }
    canvas.save(path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_grid_of_images_with_captions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let items: Vec<ImageItem> = (0..7)
            .map(|i| ImageItem {
                pixels: vec![(i * 30) as u8; 4 * 4],
                shape: [1, 4, 4],
                label: i,
            })
            .collect();
        let captions: Vec<String> = (0..7).map(|i| format!("class {i}")).collect();
        draw_image_grid(&path, &items, &captions).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (5 * 112, 2 * (112 + 26)));
        // The second image is uniformly 30: its centre pixel too.
        assert_eq!(img.get_pixel(112 + 56, 56).0, [30, 30, 30]);
    }

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let records: Vec<EpochRecord> = (1..=3)
            .map(|e| EpochRecord {
                epoch: e,
                lr: 0.1,
                train_loss: 1.0 / e as f64,
                train_accuracy: 0.5 + 0.1 * e as f64,
                valid_loss: Some(1.1 / e as f64),
                valid_accuracy: Some(0.45 + 0.1 * e as f64),
                train_seconds: 1.0,
                samples_per_second: 10.0,
                valid_metrics: Vec::new(),
            })
            .collect();
        draw_curves(&path, "test run", &records).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (1000, 420));
    }
}
