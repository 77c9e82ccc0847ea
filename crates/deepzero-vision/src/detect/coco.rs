//! COCO-style detection metrics, computed exactly as pycocotools' `COCOeval` (bbox) computes and
//! `summarize()` prints them: AP@[.5:.95], AP50, AP75, AP small/medium/large, AR@1/10/100,
//! AR small/medium/large.
//!
//! What "exactly" takes, in pycocotools' own terms (`cocoeval.py`), all reproduced here:
//! - images and categories are those of the ground truth; detections of other categories are
//!   dropped, detections of images the ground truth lacks are an error (`loadRes` asserts);
//! - a ground-truth box is ignored when `iscrowd` is set (the `ignore` field is overwritten by
//!   `iscrowd`) or its `area` field (not its box area) lies outside the area range; a detection's
//!   area is its box's `w·h`;
//! - detections are ordered by score with a stable sort, cut to the largest `maxDets` per image
//!   and category, and matched greedily at each IoU threshold in `linspace(.5, .95, 10)`;
//!   a crowd box's IoU is `intersection / detection area` and it may absorb many detections;
//!   unmatched detections outside the area range are ignored;
//! - precision is interpolated at the 101 recall points `linspace(0, 1, 101)` after making it
//!   monotone; cells without ground truth are `-1` and left out of the means; a metric with no
//!   cell at all prints `-1`.
//!
//! One quirk kept on purpose: pycocotools marks a matched detection with the ground-truth id, so a
//! ground-truth annotation with id 0 never counts as matched. [`CocoGt::from_json`] reports such
//! ids through [`CocoGt::zero_ids`] so a caller can warn.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Errors reading COCO JSON files or scoring them.
#[derive(Debug, thiserror::Error)]
pub enum CocoError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("{path}: not a COCO {what} file: {message}")]
    Format {
        /// The file.
        path: String,
        /// `"ground-truth"` or `"detections"`.
        what: &'static str,
        /// serde's message (line and column).
        message: String,
    },
    /// A value inside a well-formed file is unusable.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the annotation.
        message: String,
    },
}

/// One ground-truth annotation of a COCO JSON file (the fields detection needs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Annotation id.
    pub id: u64,
    /// Image id.
    pub image_id: u64,
    /// Category id.
    pub category_id: u64,
    /// `[x, y, w, h]`.
    pub bbox: [f64; 4],
    /// The object's area (the segmentation's area in COCO); `w·h` when absent.
    #[serde(default)]
    pub area: Option<f64>,
    /// 1 for a crowd region.
    #[serde(default)]
    pub iscrowd: u8,
}

/// An image entry of a COCO JSON file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    /// Image id.
    pub id: u64,
    /// File name, relative to the image folder.
    #[serde(default)]
    pub file_name: String,
    /// Width in pixels.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels.
    #[serde(default)]
    pub height: u32,
}

/// A category entry of a COCO JSON file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    /// Category id.
    pub id: u64,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// A COCO ground-truth file: images, categories, box annotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoGt {
    /// The images.
    pub images: Vec<CocoImage>,
    /// The categories.
    pub categories: Vec<CocoCategory>,
    /// The annotations.
    pub annotations: Vec<CocoAnnotation>,
}

/// One detection in COCO's result format (`[{"image_id", "category_id", "bbox", "score"}]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoDetection {
    /// Image id.
    pub image_id: u64,
    /// Category id.
    pub category_id: u64,
    /// `[x, y, w, h]`.
    pub bbox: [f64; 4],
    /// Confidence.
    pub score: f64,
}

/// serde's message on one line (it quotes unknown enum variants as they are, newlines
/// included).
fn one_line(e: &serde_json::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a JSON file within the read limit of [`deepzero_data::limits`].
fn read(path: &Path) -> Result<String, CocoError> {
    deepzero_data::read_text_file(path).map_err(|e| match e {
        deepzero_data::DataError::Io { source, .. } => CocoError::Io {
            path: path.display().to_string(),
            source,
        },
        // A limit or bad UTF-8: the message already names the file.
        e => CocoError::Invalid {
            path: path.display().to_string(),
            message: e
                .to_string()
                .replacen(&format!("{}: ", path.display()), "", 1),
        },
    })
}

impl CocoGt {
    /// Reads a COCO ground-truth JSON file (other fields, e.g. segmentations, are skipped).
    pub fn from_json(path: &Path) -> Result<Self, CocoError> {
        Self::from_json_str(path, &read(path)?)
    }

    /// [`CocoGt::from_json`] on JSON text already in memory; `path` names its source in errors.
    pub fn from_json_str(path: &Path, text: &str) -> Result<Self, CocoError> {
        let gt: CocoGt = serde_json::from_str(text).map_err(|e| CocoError::Format {
            path: path.display().to_string(),
            what: "ground-truth",
            message: one_line(&e),
        })?;
        gt.validate(&path.display().to_string())?;
        Ok(gt)
    }

    fn validate(&self, path: &str) -> Result<(), CocoError> {
        let images: BTreeSet<u64> = self.images.iter().map(|i| i.id).collect();
        let cats: BTreeSet<u64> = self.categories.iter().map(|c| c.id).collect();
        for a in &self.annotations {
            let bad = |message: String| CocoError::Invalid {
                path: path.into(),
                message,
            };
            if !images.contains(&a.image_id) {
                return Err(bad(format!(
                    "annotation {} names image {}, which is not in \"images\"",
                    a.id, a.image_id
                )));
            }
            if !cats.contains(&a.category_id) {
                return Err(bad(format!(
                    "annotation {} names category {}, which is not in \"categories\"",
                    a.id, a.category_id
                )));
            }
            if a.bbox.iter().any(|v| !v.is_finite()) || a.bbox[2] < 0.0 || a.bbox[3] < 0.0 {
                return Err(bad(format!(
                    "annotation {} has bbox {:?}: not finite or negative size",
                    a.id, a.bbox
                )));
            }
        }
        Ok(())
    }

    /// Ids of annotations whose id is 0: pycocotools can never count them as matched.
    pub fn zero_ids(&self) -> usize {
        self.annotations.iter().filter(|a| a.id == 0).count()
    }
}

/// Reads a COCO results JSON file (a list of detections), checking every image id is one of `gt`'s.
pub fn read_detections(path: &Path, gt: &CocoGt) -> Result<Vec<CocoDetection>, CocoError> {
    let dets: Vec<CocoDetection> =
        serde_json::from_str(&read(path)?).map_err(|e| CocoError::Format {
            path: path.display().to_string(),
            what: "detections",
            message: one_line(&e),
        })?;
    let images: BTreeSet<u64> = gt.images.iter().map(|i| i.id).collect();
    for (i, d) in dets.iter().enumerate() {
        let bad = |message: String| CocoError::Invalid {
            path: path.display().to_string(),
            message,
        };
        if !images.contains(&d.image_id) {
            return Err(bad(format!(
                "detection {i} is on image {}, which the ground truth does not have",
                d.image_id
            )));
        }
        if d.bbox.iter().any(|v| !v.is_finite()) || !d.score.is_finite() {
            return Err(bad(format!("detection {i} has a non-finite bbox or score")));
        }
    }
    Ok(dets)
}

/// The parameters of `COCOeval` (bbox), pycocotools' defaults by [`Default`].
#[derive(Clone, Debug, PartialEq)]
pub struct CocoParams {
    /// IoU thresholds (`linspace(.5, .95, 10)`).
    pub iou_thresholds: Vec<f64>,
    /// Recall points (`linspace(0, 1, 101)`).
    pub recall_thresholds: Vec<f64>,
    /// Detections kept per image and category, ascending (`[1, 10, 100]`).
    pub max_dets: Vec<usize>,
    /// Area ranges `all, small, medium, large`: `[0, 1e10], [0, 32²], [32², 96²], [96², 1e10]`.
    pub area_ranges: Vec<[f64; 2]>,
}

/// `numpy.linspace(start, stop, num)` bit for bit: `start + i·step`, the last point exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

impl Default for CocoParams {
    fn default() -> Self {
        Self {
            iou_thresholds: linspace(0.5, 0.95, 10),
            recall_thresholds: linspace(0.0, 1.0, 101),
            max_dets: vec![1, 10, 100],
            area_ranges: vec![
                [0.0, 1e10],
                [0.0, 32.0 * 32.0],
                [32.0 * 32.0, 96.0 * 96.0],
                [96.0 * 96.0, 1e10],
            ],
        }
    }
}

/// The twelve numbers of `COCOeval.summarize()`, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoSummary {
    /// AP @[IoU=0.50:0.95, area=all, maxDets=100].
    pub ap: f64,
    /// AP @[IoU=0.50].
    pub ap50: f64,
    /// AP @[IoU=0.75].
    pub ap75: f64,
    /// AP, small objects (area < 32²).
    pub ap_small: f64,
    /// AP, medium objects.
    pub ap_medium: f64,
    /// AP, large objects (area > 96²).
    pub ap_large: f64,
    /// AR @[maxDets=1].
    pub ar1: f64,
    /// AR @[maxDets=10].
    pub ar10: f64,
    /// AR @[maxDets=100].
    pub ar100: f64,
    /// AR small.
    pub ar_small: f64,
    /// AR medium.
    pub ar_medium: f64,
    /// AR large.
    pub ar_large: f64,
}

impl CocoSummary {
    /// The twelve numbers in `COCOeval.stats` order.
    pub fn stats(&self) -> [f64; 12] {
        [
            self.ap,
            self.ap50,
            self.ap75,
            self.ap_small,
            self.ap_medium,
            self.ap_large,
            self.ar1,
            self.ar10,
            self.ar100,
            self.ar_small,
            self.ar_medium,
            self.ar_large,
        ]
    }

    /// The twelve lines `COCOeval.summarize()` prints.
    pub fn lines(&self) -> Vec<String> {
        let rows = [
            (true, "0.50:0.95", "   all", 100),
            (true, "0.50     ", "   all", 100),
            (true, "0.75     ", "   all", 100),
            (true, "0.50:0.95", " small", 100),
            (true, "0.50:0.95", "medium", 100),
            (true, "0.50:0.95", " large", 100),
            (false, "0.50:0.95", "   all", 1),
            (false, "0.50:0.95", "   all", 10),
            (false, "0.50:0.95", "   all", 100),
            (false, "0.50:0.95", " small", 100),
            (false, "0.50:0.95", "medium", 100),
            (false, "0.50:0.95", " large", 100),
        ];
        rows.iter()
            .zip(self.stats())
            .map(|(&(ap, iou, area, md), v)| {
                let (title, short) = if ap {
                    ("Average Precision", "(AP)")
                } else {
                    ("Average Recall   ", "(AR)")
                };
                format!(" {title}  {short} @[ IoU={iou} | area={area} | maxDets={md:>3} ] = {v:.3}")
            })
            .collect()
    }
}

/// The result of `evaluateImg` for one (category, area range, image).
struct ImageEval {
    /// Per IoU threshold, per detection (score order): matched ground-truth id, 0 if none.
    dt_matches: Vec<Vec<u64>>,
    /// Per IoU threshold, per detection: ignored.
    dt_ignore: Vec<Vec<bool>>,
    dt_scores: Vec<f64>,
    gt_ignore: Vec<bool>,
}

/// pycocotools' `maskUtils.iou` for boxes: `xywh`, crowd boxes use the detection's area as union.
fn coco_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[0] + d[2]).min(g[0] + g[2]) - d[0].max(g[0]);
    let h = (d[1] + d[3]).min(g[1] + g[3]) - d[1].max(g[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = if crowd {
        d[2] * d[3]
    } else {
        d[2] * d[3] + g[2] * g[3] - inter
    };
    inter / union
}

/// Stable descending order by score, as `np.argsort(-scores, kind='mergesort')`.
fn score_order(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        (-scores[a])
            .partial_cmp(&-scores[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Scores the COCO results file `dt` against the COCO ground-truth file `gt` with pycocotools'
/// default parameters ([`evaluate`]); with a warning to show when the ground truth holds
/// annotations with id 0, which pycocotools never counts as matched ([`CocoGt::zero_ids`]).
///
/// # Errors
/// As [`CocoGt::from_json`] and [`read_detections`].
pub fn evaluate_files(gt: &Path, dt: &Path) -> Result<(CocoSummary, Option<String>), CocoError> {
    let truth = CocoGt::from_json(gt)?;
    let found = read_detections(dt, &truth)?;
    let warning = (truth.zero_ids() > 0).then(|| {
        format!(
            "{}: {} annotation(s) have id 0, which pycocotools (and so this command) never counts as matched",
            gt.display(),
            truth.zero_ids()
        )
    });
    Ok((evaluate(&truth, &found, &CocoParams::default()), warning))
}

/// Scores `detections` against `gt` as pycocotools' `COCOeval(gt, dt, "bbox")` with `params`,
/// and summarises as `summarize()` does. `params.max_dets` must hold 1, 10 and 100 and
/// `params.area_ranges` four ranges for the summary rows to mean what they say.
pub fn evaluate(gt: &CocoGt, detections: &[CocoDetection], params: &CocoParams) -> CocoSummary {
    let img_ids: Vec<u64> = gt
        .images
        .iter()
        .map(|i| i.id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cat_ids: Vec<u64> = gt
        .categories
        .iter()
        .map(|c| c.id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cat_set: BTreeSet<u64> = cat_ids.iter().copied().collect();
    // _prepare: group by (image, category) in file order
    let mut gts: HashMap<(u64, u64), Vec<&CocoAnnotation>> = HashMap::new();
    for a in &gt.annotations {
        gts.entry((a.image_id, a.category_id)).or_default().push(a);
    }
    let mut dts: HashMap<(u64, u64), Vec<&CocoDetection>> = HashMap::new();
    for d in detections {
        if cat_set.contains(&d.category_id) {
            dts.entry((d.image_id, d.category_id)).or_default().push(d);
        }
    }
    let max_det = *params.max_dets.last().unwrap_or(&100);
    let t_count = params.iou_thresholds.len();
    // evaluateImg for every (category, area, image), category-major as evalImgs is laid out
    let mut evals: Vec<Option<ImageEval>> =
        Vec::with_capacity(cat_ids.len() * params.area_ranges.len() * img_ids.len());
    for &cat in &cat_ids {
        for range in &params.area_ranges {
            for &img in &img_ids {
                let g = gts.get(&(img, cat)).map(Vec::as_slice).unwrap_or(&[]);
                let d = dts.get(&(img, cat)).map(Vec::as_slice).unwrap_or(&[]);
                evals.push(evaluate_image(g, d, range, max_det, &params.iou_thresholds));
            }
        }
    }
    // accumulate
    let (k_count, a_count, m_count, i_count) = (
        cat_ids.len(),
        params.area_ranges.len(),
        params.max_dets.len(),
        img_ids.len(),
    );
    let r_count = params.recall_thresholds.len();
    // precision[t][r][k][a][m], recall[t][k][a][m], flattened
    let mut precision = vec![-1.0f64; t_count * r_count * k_count * a_count * m_count];
    let mut recall = vec![-1.0f64; t_count * k_count * a_count * m_count];
    let p_idx = |t: usize, r: usize, k: usize, a: usize, m: usize| {
        (((t * r_count + r) * k_count + k) * a_count + a) * m_count + m
    };
    let r_idx =
        |t: usize, k: usize, a: usize, m: usize| ((t * k_count + k) * a_count + a) * m_count + m;
    for k in 0..k_count {
        for a in 0..a_count {
            for (m, &md) in params.max_dets.iter().enumerate() {
                let e: Vec<&ImageEval> = (0..i_count)
                    .filter_map(|i| evals[(k * a_count + a) * i_count + i].as_ref())
                    .collect();
                if e.is_empty() {
                    continue;
                }
                let scores: Vec<f64> = e
                    .iter()
                    .flat_map(|x| x.dt_scores.iter().take(md).copied())
                    .collect();
                let order = score_order(&scores);
                let npig = e
                    .iter()
                    .flat_map(|x| x.gt_ignore.iter())
                    .filter(|&&ig| !ig)
                    .count();
                if npig == 0 {
                    continue;
                }
                for t in 0..t_count {
                    let matches: Vec<u64> = e
                        .iter()
                        .flat_map(|x| x.dt_matches[t].iter().take(md).copied())
                        .collect();
                    let ignore: Vec<bool> = e
                        .iter()
                        .flat_map(|x| x.dt_ignore[t].iter().take(md).copied())
                        .collect();
                    let (mut tp, mut fp) = (0.0f64, 0.0f64);
                    let mut rc = Vec::with_capacity(order.len());
                    let mut pr = Vec::with_capacity(order.len());
                    for &i in &order {
                        if ignore[i] {
                            // neither a TP nor an FP: the cumulative sums repeat
                        } else if matches[i] != 0 {
                            tp += 1.0;
                        } else {
                            fp += 1.0;
                        }
                        rc.push(tp / npig as f64);
                        pr.push(tp / (fp + tp + f64::EPSILON));
                    }
                    recall[r_idx(t, k, a, m)] = rc.last().copied().unwrap_or(0.0);
                    for i in (1..pr.len()).rev() {
                        if pr[i] > pr[i - 1] {
                            pr[i - 1] = pr[i];
                        }
                    }
                    for (ri, &thr) in params.recall_thresholds.iter().enumerate() {
                        // np.searchsorted(rc, thr, side='left'): first index with rc[i] >= thr
                        let pi = rc.partition_point(|&v| v < thr);
                        // past the end of the curve pycocotools leaves its zeros (an IndexError it swallows)
                        precision[p_idx(t, ri, k, a, m)] = if pi < pr.len() { pr[pi] } else { 0.0 };
                    }
                }
            }
        }
    }
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        let (mut sum, mut n) = (0.0, 0usize);
        for v in values.filter(|&v| v > -1.0) {
            sum += v;
            n += 1;
        }
        if n == 0 { -1.0 } else { sum / n as f64 }
    };
    let m_of = |md: usize| params.max_dets.iter().position(|&x| x == md);
    let t_of = |thr: f64| params.iou_thresholds.iter().position(|&x| x == thr);
    let ap = |t: Option<usize>, a: usize, md: usize| -> f64 {
        let Some(m) = m_of(md) else { return -1.0 };
        if a >= a_count {
            return -1.0;
        }
        let ts: Vec<usize> = match t {
            Some(t) => vec![t],
            None => (0..t_count).collect(),
        };
        mean(
            &mut ts
                .iter()
                .flat_map(|&t| (0..r_count).flat_map(move |r| (0..k_count).map(move |k| (t, r, k))))
                .map(|(t, r, k)| precision[p_idx(t, r, k, a, m)]),
        )
    };
    let ar = |a: usize, md: usize| -> f64 {
        let Some(m) = m_of(md) else { return -1.0 };
        if a >= a_count {
            return -1.0;
        }
        mean(
            &mut (0..t_count)
                .flat_map(|t| (0..k_count).map(move |k| (t, k)))
                .map(|(t, k)| recall[r_idx(t, k, a, m)]),
        )
    };
    // summarize() picks the threshold by exact float equality, as here
    let ap_at = |thr: f64| t_of(thr).map_or(-1.0, |t| ap(Some(t), 0, 100));
    CocoSummary {
        ap: ap(None, 0, 100),
        ap50: ap_at(0.5),
        ap75: ap_at(0.75),
        ap_small: ap(None, 1, 100),
        ap_medium: ap(None, 2, 100),
        ap_large: ap(None, 3, 100),
        ar1: ar(0, 1),
        ar10: ar(0, 10),
        ar100: ar(0, 100),
        ar_small: ar(1, 100),
        ar_medium: ar(2, 100),
        ar_large: ar(3, 100),
    }
}

/// pycocotools' `evaluateImg` for one image, category and area range.
fn evaluate_image(
    gts: &[&CocoAnnotation],
    dts: &[&CocoDetection],
    range: &[f64; 2],
    max_det: usize,
    iou_thresholds: &[f64],
) -> Option<ImageEval> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    let area_of = |a: &CocoAnnotation| a.area.unwrap_or(a.bbox[2] * a.bbox[3]);
    let outside = |area: f64| area < range[0] || area > range[1];
    let g_ignore_raw: Vec<bool> = gts
        .iter()
        .map(|g| g.iscrowd != 0 || outside(area_of(g)))
        .collect();
    // ground truth: not-ignored first (stable)
    let mut g_order: Vec<usize> = (0..gts.len()).collect();
    g_order.sort_by_key(|&i| g_ignore_raw[i]);
    let g: Vec<&CocoAnnotation> = g_order.iter().map(|&i| gts[i]).collect();
    let g_ignore: Vec<bool> = g_order.iter().map(|&i| g_ignore_raw[i]).collect();
    let scores: Vec<f64> = dts.iter().map(|d| d.score).collect();
    let d: Vec<&CocoDetection> = score_order(&scores)
        .into_iter()
        .take(max_det)
        .map(|i| dts[i])
        .collect();
    let ious: Vec<Vec<f64>> = d
        .iter()
        .map(|d| {
            g.iter()
                .map(|g| coco_iou(&d.bbox, &g.bbox, g.iscrowd != 0))
                .collect()
        })
        .collect();
    let t_count = iou_thresholds.len();
    let mut gt_matched = vec![vec![0u64; g.len()]; t_count];
    let mut dt_matches = vec![vec![0u64; d.len()]; t_count];
    let mut dt_ignore = vec![vec![false; d.len()]; t_count];
    for (t, &thr) in iou_thresholds.iter().enumerate() {
        for di in 0..d.len() {
            let mut best_iou = thr.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for gi in 0..g.len() {
                // a matched non-crowd box cannot take another detection
                if gt_matched[t][gi] > 0 && g[gi].iscrowd == 0 {
                    continue;
                }
                // once matched to a regular box, stop at the ignored ones (sorted last)
                if let Some(mi) = m
                    && !g_ignore[mi]
                    && g_ignore[gi]
                {
                    break;
                }
                if ious[di][gi] < best_iou {
                    continue;
                }
                best_iou = ious[di][gi];
                m = Some(gi);
            }
            if let Some(mi) = m {
                dt_ignore[t][di] = g_ignore[mi];
                dt_matches[t][di] = g[mi].id;
                // pycocotools stores the detection's id (1-based in loadRes): never 0
                gt_matched[t][mi] = 1;
            }
        }
    }
    // unmatched detections outside the area range are ignored
    for t in 0..t_count {
        for (di, det) in d.iter().enumerate() {
            if dt_matches[t][di] == 0 && outside(det.bbox[2] * det.bbox[3]) {
                dt_ignore[t][di] = true;
            }
        }
    }
    Some(ImageEval {
        dt_matches,
        dt_ignore,
        dt_scores: d.iter().map(|d| d.score).collect(),
        gt_ignore: g_ignore,
    })
}

/// VOC-style AP of one class at one IoU threshold with all-point interpolation (the area under the
/// monotone precision envelope; VOC 2010+, `voc_eval(..., use_07_metric=False)`).
///
/// `gts` maps an image key to its boxes `(xyxy, difficult)`; `detections` are
/// `(image key, score, xyxy)`. As the devkit, boxes are inclusive pixel ranges (`+1` in widths and
/// heights), difficult objects neither count nor penalise, a detection is a true positive when its
/// IoU with the best-overlapping box is strictly above `iou_threshold` and that box is not yet
/// taken. Returns 0 when there is no non-difficult ground truth.
pub fn voc_ap<K: Ord + Clone>(
    gts: &BTreeMap<K, Vec<([f64; 4], bool)>>,
    detections: &[(K, f64, [f64; 4])],
    iou_threshold: f64,
) -> f64 {
    let npos = gts
        .values()
        .flatten()
        .filter(|(_, difficult)| !difficult)
        .count();
    if npos == 0 {
        return 0.0;
    }
    let mut taken: BTreeMap<K, Vec<bool>> = gts
        .iter()
        .map(|(k, v)| (k.clone(), vec![false; v.len()]))
        .collect();
    let scores: Vec<f64> = detections.iter().map(|d| d.1).collect();
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    let (mut rec, mut prec) = (Vec::new(), Vec::new());
    for i in score_order(&scores) {
        let (img, _, bb) = &detections[i];
        let mut best = (f64::NEG_INFINITY, usize::MAX);
        for (j, (g, _)) in gts
            .get(img)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let iw = (g[2].min(bb[2]) - g[0].max(bb[0]) + 1.0).max(0.0);
            let ih = (g[3].min(bb[3]) - g[1].max(bb[1]) + 1.0).max(0.0);
            let inter = iw * ih;
            let union = (bb[2] - bb[0] + 1.0) * (bb[3] - bb[1] + 1.0)
                + (g[2] - g[0] + 1.0) * (g[3] - g[1] + 1.0)
                - inter;
            let ov = inter / union;
            if ov > best.0 {
                best = (ov, j);
            }
        }
        if best.0 > iou_threshold {
            let difficult = gts[img][best.1].1;
            if !difficult {
                let flags = taken.get_mut(img).expect("image present: it had a match");
                if flags[best.1] {
                    fp += 1.0;
                } else {
                    tp += 1.0;
                    flags[best.1] = true;
                }
            }
        } else {
            fp += 1.0;
        }
        rec.push(tp / npos as f64);
        prec.push(tp / (tp + fp).max(f64::EPSILON));
    }
    // all-point interpolation
    let mut mrec = vec![0.0];
    mrec.extend(&rec);
    mrec.push(1.0);
    let mut mpre = vec![0.0];
    mpre.extend(&prec);
    mpre.push(0.0);
    for i in (1..mpre.len()).rev() {
        mpre[i - 1] = mpre[i - 1].max(mpre[i]);
    }
    (0..mrec.len() - 1)
        .filter(|&i| mrec[i + 1] != mrec[i])
        .map(|i| (mrec[i + 1] - mrec[i]) * mpre[i + 1])
        .sum()
}
