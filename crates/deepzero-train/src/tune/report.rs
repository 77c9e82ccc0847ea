//! The results of a tuning: `results.json`, `results.csv`, `results.md` and `tune.png`.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{BEST_DIR, TrialRecord, TrialStatus, TuneReport};
use crate::TrainError;
use crate::metrics_file::{write_atomic, write_json_atomic};
use crate::plot::TAB10;

/// Writes the report's files into its folder (each atomically).
pub(super) fn write_results(report: &TuneReport) -> Result<(), TrainError> {
    let out = report.out.as_path();
    write_json_atomic(&out.join("results.json"), report)?;
    write_atomic(&out.join("results.csv"), csv(report).as_bytes())?;
    write_atomic(&out.join("results.md"), markdown(report).as_bytes())?;
    // A drawing failure must not lose the results: the tables are written already.
    draw_tuning(&out.join("tune.png"), report)
}

/// The hyper-parameter names of the trials, in the order of the search.
fn keys(report: &TuneReport) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for t in &report.trials {
        for (k, _) in &t.params.0 {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

fn cells(record: &TrialRecord, keys: &[String]) -> Vec<String> {
    let mut row = vec![record.trial.to_string()];
    row.extend(keys.iter().map(|k| {
        record
            .params
            .get(k)
            .map_or(String::new(), |v| v.to_string())
    }));
    match &record.status {
        TrialStatus::Finished(o) => row.extend([
            "finished".into(),
            format!("{:.6}", o.valid),
            o.epochs.to_string(),
            o.model_epoch.to_string(),
            o.stopped_early.to_string(),
        ]),
        TrialStatus::Diverged { .. } => row.extend([
            "diverged".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]),
    }
    row.push(format!("{:.1}", record.seconds));
    row
}

fn header(report: &TuneReport) -> Vec<String> {
    let mut header = vec!["trial".to_string()];
    header.extend(keys(report));
    header.extend([
        "status".into(),
        format!("valid_{}", report.objective.metric),
        "epochs".into(),
        "model_epoch".into(),
        "stopped_early".into(),
        "seconds".into(),
    ]);
    header
}

/// One row per trial (values as the search wrote them; empty figures for diverged trials).
fn csv(report: &TuneReport) -> String {
    let keys = keys(report);
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let line = |row: Vec<String>| row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
    let mut text = line(header(report));
    text.push('\n');
    for t in &report.trials {
        text.push_str(&line(cells(t, &keys)));
        text.push('\n');
    }
    text
}

/// The table, the best trial in bold, and the re-training's validation and test figures.
fn markdown(report: &TuneReport) -> String {
    let keys = keys(report);
    let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let header = header(report);
    let mut text = format!(
        "# Tuning {}\n\nSearch: {}; {} trials, compared on {} (the test split plays no part).\n\n",
        report.recipe,
        report.search,
        report.trials.len(),
        report.objective
    );
    text.push_str(&row(header.clone()));
    text.push_str(&row(vec!["---".into(); header.len()]));
    for t in &report.trials {
        let mut cells = cells(t, &keys);
        if t.trial == report.best_trial {
            cells = cells.into_iter().map(|c| format!("**{c}**")).collect();
        }
        text.push_str(&row(cells));
    }
    if report.best_trial > 0 {
        text.push('\n');
        text.push_str(&report.summary().replace('\n', "\n\n"));
        text.push('\n');
    }
    if report.best.is_some() {
        text.push_str(&format!(
            "\nThe re-trained model is the run folder `{BEST_DIR}/`.\n"
        ));
    }
    text
}

/// Draws the tuning into a PNG at `path`: left, each trial's validation figure as a bar (the
/// best in green, diverged trials marked); right, each trial's validation figure per epoch
/// (the best drawn thick).
///
/// # Errors
/// [`TrainError::Plot`] if the picture cannot be drawn or written.
pub fn draw_tuning(path: &Path, report: &TuneReport) -> Result<(), TrainError> {
    crate::plot::register_font();
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: format!("cannot draw the tuning: {e}"),
    };
    let n = report.trials.len().max(1);
    let height = (120 + 28 * n as u32).clamp(420, 1400);
    let root = crate::plot::png_area(path, (1200, height))?;
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let title = format!(
        "tuning {}: {} ({} trials)",
        report.recipe,
        report.objective,
        report.trials.len()
    );
    let root = root
        .titled(&title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(640);
    let metric = &report.objective.metric;

    // Left: one bar per trial, labelled with its values.
    let values: Vec<f64> = report.trials.iter().filter_map(|t| t.valid()).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.15).max(1e-3);
    let (x0, x1) = (lo - pad, hi + pad);
    let labels: Vec<String> = report
        .trials
        .iter()
        .map(|t| {
            let label = format!("#{} {}", t.trial, t.params);
            if label.chars().count() > 44 {
                format!("{}…", label.chars().take(43).collect::<String>())
            } else {
                label
            }
        })
        .collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32 * 7 + 16;
    let mut chart = ChartBuilder::on(&left)
        .caption(format!("validation {metric} per trial"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_width.min(330))
        .build_cartesian_2d(x0..x1, (0..n as i32 - 1).into_segmented())
        .map_err(|e| err(e.to_string()))?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            labels.get(*i as usize).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label_of)
        .x_desc(format!("validation {metric}"))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, t) in report.trials.iter().enumerate() {
        let i = i as i32;
        match t.valid() {
            Some(v) => {
                let color = trial_color(t, report.best_trial);
                let mut bar = Rectangle::new(
                    [
                        (x0, SegmentValue::Exact(i)),
                        (v, SegmentValue::Exact(i + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                chart
                    .draw_series(std::iter::once(bar))
                    .map_err(|e| err(e.to_string()))?;
            }
            None => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "diverged",
                        (x0 + pad * 0.1, SegmentValue::CenterOf(i)),
                        ("sans-serif", 14).into_font().color(&RED),
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
    }

    // Right: the validation figure per epoch of every finished trial.
    let curves: Vec<(&TrialRecord, Vec<(f64, f64)>)> = report
        .trials
        .iter()
        .filter_map(|t| {
            let o = t.outcome()?;
            let points: Vec<(f64, f64)> = o
                .curve
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(e, &v)| ((e + 1) as f64, v))
                .collect();
            (!points.is_empty()).then_some((t, points))
        })
        .collect();
    let all = curves.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let epochs = curves
        .iter()
        .map(|(_, p)| p.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let mut chart = ChartBuilder::on(&right)
        .caption(format!("validation {metric} per epoch"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1.0..epochs as f64, (lo - pad)..(hi + pad))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_labels(epochs.min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("epoch")
        .y_desc(metric.as_str())
        .draw()
        .map_err(|e| err(e.to_string()))?;
    // A legend entry per trial while that stays readable, else the best one's only.
    let legend_all = report.trials.len() <= 10;
    for (t, points) in curves {
        let best = t.trial == report.best_trial;
        let color = trial_color(t, report.best_trial);
        let series = chart
            .draw_series(LineSeries::new(
                points,
                color.stroke_width(if best { 3 } else { 1 }),
            ))
            .map_err(|e| err(e.to_string()))?;
        if best || legend_all {
            let label = if best {
                format!("#{} (best)", t.trial)
            } else {
                format!("#{}", t.trial)
            };
            series
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// The best trial in [`TAB10`]'s green (index 2), the others in its nine other colours (the
/// same in both panels).
fn trial_color(trial: &TrialRecord, best_trial: usize) -> RGBAColor {
    const GREEN: usize = 2;
    if trial.trial == best_trial {
        TAB10[GREEN].to_rgba()
    } else {
        let k = trial.trial % (TAB10.len() - 1);
        TAB10[if k < GREEN { k } else { k + 1 }].mix(0.7)
    }
}
