//! The few-label picture: test accuracy against the fraction of training labels used (log
//! scale), one line per way of training — what pre-training buys when labels are scarce.
//!
//! Written as a self-contained SVG, so that it renders in any browser and in the docs.

use std::fmt::Write as _;
use std::path::Path;

use deepzero_train::TaskError;
use deepzero_train::metrics_file::write_atomic;

/// One line of the picture: a name and its `(label fraction, test accuracy)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// What trained (e.g. "pre-trained + full fine-tuning").
    pub name: String,
    /// `(fraction in (0, 1], accuracy in [0, 1])`, any order.
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

/// The SVG of `series` under `title`: x = label fraction (log scale, 0.5 % … 100 %),
/// y = test accuracy (the range of the points, rounded out to tens of percent).
pub fn few_label_svg(title: &str, series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 420.0, 70.0, 190.0, 40.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let accuracies = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let lo = accuracies.clone().fold(1.0f64, f64::min);
    let y_min = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let x_of = |f: f64| left + (f.max(0.005).log10() - 0.005f64.log10()) / -0.005f64.log10() * pw;
    let y_of = |a: f64| top + (1.0 - (a - y_min) / (1.0 - y_min)) * ph;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        left + pw / 2.0,
        escape(title)
    );
    // Axes and grid.
    for &f in &[0.01, 0.1, 1.0] {
        let x = x_of(f);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}%</text>"##,
            top + ph,
            top + ph + 18.0,
            f * 100.0
        );
    }
    let steps = ((1.0 - y_min) * 10.0).round() as usize;
    for i in 0..=steps {
        let a = y_min + i as f64 / 10.0;
        let y = y_of(a);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.0}%</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            a * 100.0
        );
    }
    let _ = write!(
        svg,
        r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/><text x="{}" y="{}" text-anchor="middle">fraction of the training labels (log scale)</text><text transform="translate(18 {}) rotate(-90)" text-anchor="middle">test accuracy</text>"#,
        left + pw / 2.0,
        h - 15.0,
        top + ph / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = s.points.clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = points
            .iter()
            .map(|&(f, a)| format!("{:.1},{:.1}", x_of(f), y_of(a)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(f, a) in &points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}"/>"#,
                x_of(f),
                y_of(a)
            );
        }
        let ly = top + 14.0 + 20.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            left + pw + 10.0,
            left + pw + 30.0,
            left + pw + 35.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes [`few_label_svg`] to `path` (atomically).
pub fn write_few_label_svg(path: &Path, title: &str, series: &[Series]) -> Result<(), TaskError> {
    Ok(write_atomic(path, few_label_svg(title, series).as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_land_where_their_values_say() {
        let svg = few_label_svg(
            "a <b>",
            &[Series {
                name: "pre-trained".into(),
                points: vec![(1.0, 0.9), (0.1, 0.5)],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt;b&gt;"));
        // x: 100 % at the right edge (70 + 380); y: 90 % at 40 + (1 − 0.4/0.5)·320 = 104.
        assert!(svg.contains(r#"cx="450.0" cy="104.0""#), "{svg}");
        // 10 %: log10(0.1/0.005)/log10(200) of the width; 50 % is the bottom (y_min).
        let x = 70.0 + (20f64).log10() / (200f64).log10() * 380.0;
        assert!(svg.contains(&format!(r#"cx="{x:.1}" cy="360.0""#)), "{svg}");
    }
}
