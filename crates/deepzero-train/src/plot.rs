//! Loss and accuracy curves drawn with `plotters` (font: DejaVu Sans, embedded).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::{EpochRecord, TrainError};

static FONT: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (no system fonts needed).
pub fn register_font() {
    FONT.call_once(|| {
        // Registration only fails for a malformed font; the embedded one is valid.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Draws train/valid loss (left) and accuracy (right) per epoch into a PNG at `path`.
pub fn draw_curves(path: &Path, title: &str, records: &[EpochRecord]) -> Result<(), TrainError> {
    register_font();
    let err = |e: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot draw curves: {e}"),
    };
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(500);
    let epochs = records.len().max(1) as f64;
    let x_range = if records.len() <= 1 { 0.5..1.5 } else { 1.0..epochs };

    let series = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let panels: [(&DrawingArea<BitMapBackend, _>, &str, Vec<(f64, f64)>, Vec<(f64, f64)>); 2] = [
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
                .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
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

#[cfg(test)]
mod tests {
    use super::*;

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
            })
            .collect();
        draw_curves(&path, "test run", &records).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (1000, 420));
    }
}
