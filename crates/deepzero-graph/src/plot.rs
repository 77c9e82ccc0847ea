//! Pictures of embeddings: a 2-D projection drawn as a scatter plot coloured by class.

use std::path::Path;

use plotters::prelude::*;

use crate::error::Result;
use deepzero_train::TrainError;
use deepzero_train::plot::TAB10;

/// Draws `points` into a PNG at `path`, each coloured by its class (`None`: grey, small),
/// with a legend naming the classes.
///
/// # Errors
/// [`crate::GraphError::Train`] (a [`TrainError::Plot`]) if the picture cannot be drawn or
/// written.
pub fn draw_embedding(
    path: &Path,
    title: &str,
    points: &[(f64, f64)],
    labels: &[Option<usize>],
    class_names: &[String],
) -> Result<()> {
    deepzero_train::plot::register_font();
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: format!("cannot draw the embedding: {e}"),
    };
    let root = BitMapBackend::new(path, (900, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let bounds = |f: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(f)
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo > hi {
            (-1.0, 1.0)
        } else {
            let pad = ((hi - lo) * 0.05).max(1e-6);
            (lo - pad, hi + pad)
        }
    };
    let (x0, x1) = bounds(|p| p.0);
    let (y0, y1) = bounds(|p| p.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("PC 1")
        .y_desc("PC 2")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let unlabelled: Vec<(f64, f64)> = points
        .iter()
        .zip(labels)
        .filter(|(_, l)| l.is_none())
        .map(|(p, _)| *p)
        .collect();
    chart
        .draw_series(
            unlabelled
                .into_iter()
                .map(|p| Circle::new(p, 2, RGBColor(190, 190, 190).filled())),
        )
        .map_err(|e| err(e.to_string()))?;
    for (c, name) in class_names.iter().enumerate() {
        let colour = TAB10[c % TAB10.len()];
        let members: Vec<(f64, f64)> = points
            .iter()
            .zip(labels)
            .filter(|(_, l)| **l == Some(c))
            .map(|(p, _)| *p)
            .collect();
        chart
            .draw_series(
                members
                    .into_iter()
                    .map(move |p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(|e| err(e.to_string()))?
            .label(name.clone())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
    }
    if !class_names.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emb.png");
        let points = vec![(0.0, 0.0), (1.0, 2.0), (-1.0, 0.5), (0.3, -0.2)];
        let labels = vec![Some(0), Some(1), None, Some(0)];
        draw_embedding(&path, "test", &points, &labels, &["a".into(), "b".into()]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
