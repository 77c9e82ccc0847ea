//! Reading detection datasets from disk: YOLO txt labels (Ultralytics layout), COCO JSON and
//! Pascal VOC XML, into one [`DetectionSample`] per image with pixel `xyxy` boxes.
//!
//! Bad input, and what happens to it (the same in every reader):
//! - a box partly outside the image is clipped to it; a box with zero area after clipping is
//!   dropped and counted in [`LabelStats::dropped`] (never a NaN later on);
//! - a class id at or above the number of classes, a malformed line or element, a label file with
//!   no image beside it, an unreadable or corrupt image: an error naming the file (and line);
//! - an image without a label file, or with an empty one, is an image with no objects (Ultralytics'
//!   convention for background images).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::boxes::{Bbox, area, clip};
use super::coco::CocoGt;

/// Errors reading detection labels.
#[derive(Debug, thiserror::Error)]
pub enum DetectDataError {
    /// The operating system refused to read a file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A label line or element that does not parse.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The label file.
        path: PathBuf,
        /// 1-based line (0 when the format has no lines, as COCO JSON).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A label file whose image is missing.
    #[error("{}: no image with this name in {}", label.display(), images.display())]
    MissingImage {
        /// The label file.
        label: PathBuf,
        /// The image folder searched.
        images: PathBuf,
    },
    /// An image that cannot be decoded.
    #[error("{}: not a readable image: {message}", path.display())]
    Image {
        /// The image.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// Wrong arguments (e.g. a COCO file from another dataset).
    #[error(transparent)]
    Coco(#[from] super::coco::CocoError),
    /// A label file refused by the read limits ([`deepzero_data::limits`]) or not UTF-8.
    #[error(transparent)]
    Data(deepzero_data::DataError),
}

/// One labelled object.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionObject {
    /// Class index, `0..num_classes`.
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]` in pixels, inside the image.
    pub bbox: Bbox,
    /// VOC's `difficult` flag or COCO's `iscrowd`: evaluation ignores these.
    pub difficult: bool,
}

/// An image and its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionSample {
    /// The image file.
    pub image: PathBuf,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its objects (possibly none).
    pub objects: Vec<DetectionObject>,
}

/// Counts of what a reader did with the boxes it found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelStats {
    /// Boxes read.
    pub boxes: usize,
    /// Boxes clipped to their image.
    pub clipped: usize,
    /// Boxes dropped because their area was 0 after clipping.
    pub dropped: usize,
    /// Label files without an image, skipped ([`OrphanLabels::Skip`]).
    pub orphan_labels: usize,
}

/// What [`read_yolo_split`] does with a label file whose image is not there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanLabels {
    /// Refuse the folder, naming the file ([`DetectDataError::MissingImage`]).
    Refuse,
    /// Skip it and count it in [`LabelStats::orphan_labels`] (coco128 as shipped has two:
    /// `000000000656.txt` and `000000000659.txt` of train2017).
    Skip,
}

impl LabelStats {
    /// Clips `b` to the image and records it; `None` when nothing of it is left.
    fn admit(&mut self, b: Bbox, width: u32, height: u32) -> Option<Bbox> {
        self.boxes += 1;
        let c = clip(&b, width as f32, height as f32);
        if c != b {
            self.clipped += 1;
        }
        if area(&c) <= 0.0 {
            self.dropped += 1;
            return None;
        }
        Some(c)
    }
}

const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "JPG", "PNG"];

fn image_size(path: &Path) -> Result<(u32, u32), DetectDataError> {
    image::image_dimensions(path).map_err(|e| DetectDataError::Image {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DetectDataError> {
    let io = |source| DetectDataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    Ok(files)
}

/// Parses one YOLO label file's text: lines `class cx cy w h`, the last four relative to the
/// image size. Blank lines are skipped; extra columns (segment points) are an error.
pub fn parse_yolo_labels(
    text: &str,
    path: &Path,
    width: u32,
    height: u32,
    num_classes: usize,
    stats: &mut LabelStats,
) -> Result<Vec<DetectionObject>, DetectDataError> {
    let mut objects = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let err = |message: String| DetectDataError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        if fields.len() != 5 {
            return Err(err(format!(
                "expected `class cx cy w h`, found {} fields",
                fields.len()
            )));
        }
        let class: usize = fields[0].parse().map_err(|_| {
            err(format!(
                "class id `{}` is not a non-negative integer",
                fields[0]
            ))
        })?;
        if class >= num_classes {
            return Err(err(format!(
                "class id {class} out of range (the dataset has {num_classes} classes)"
            )));
        }
        let mut v = [0f32; 4];
        for (slot, f) in v.iter_mut().zip(&fields[1..]) {
            *slot = f
                .parse()
                .ok()
                .filter(|x: &f32| x.is_finite())
                .ok_or_else(|| err(format!("`{f}` is not a finite number")))?;
        }
        let (w, h) = (width as f32, height as f32);
        let b = [
            (v[0] - v[2] / 2.0) * w,
            (v[1] - v[3] / 2.0) * h,
            (v[0] + v[2] / 2.0) * w,
            (v[1] + v[3] / 2.0) * h,
        ];
        if let Some(bbox) = stats.admit(b, width, height) {
            objects.push(DetectionObject {
                class,
                bbox,
                difficult: false,
            });
        }
    }
    Ok(objects)
}

/// Reads an Ultralytics-layout split: every image in `images` with its label file
/// `labels/<stem>.txt`. Returns the samples in file-name order and what was clipped or dropped.
pub fn read_yolo_dir(
    images: &Path,
    labels: &Path,
    num_classes: usize,
) -> Result<(Vec<DetectionSample>, LabelStats), DetectDataError> {
    read_yolo_split(images, labels, num_classes, OrphanLabels::Refuse)
}

/// [`read_yolo_dir`], with a choice of what to do with label files that have no image.
pub fn read_yolo_split(
    images: &Path,
    labels: &Path,
    num_classes: usize,
    orphans: OrphanLabels,
) -> Result<(Vec<DetectionSample>, LabelStats), DetectDataError> {
    let mut stats = LabelStats::default();
    let image_files: Vec<PathBuf> = list_dir(images)?
        .into_iter()
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e))
        })
        .collect();
    let stems: BTreeMap<String, &PathBuf> = image_files
        .iter()
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
        .collect();
    if labels.is_dir() {
        for label in list_dir(labels)? {
            if label.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            let stem = label
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if !stems.contains_key(stem) && orphans == OrphanLabels::Skip {
                stats.orphan_labels += 1;
            } else if !stems.contains_key(stem) {
                return Err(DetectDataError::MissingImage {
                    label,
                    images: images.to_path_buf(),
                });
            }
        }
    }
    let mut samples = Vec::with_capacity(image_files.len());
    for (stem, image) in stems {
        let (width, height) = image_size(image)?;
        let label = labels.join(format!("{stem}.txt"));
        let objects = match deepzero_data::read_text_file(&label) {
            Ok(text) => parse_yolo_labels(&text, &label, width, height, num_classes, &mut stats)?,
            Err(deepzero_data::DataError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Vec::new()
            }
            Err(deepzero_data::DataError::Io { source, .. }) => {
                return Err(DetectDataError::Io {
                    path: label,
                    source,
                });
            }
            Err(e) => return Err(DetectDataError::Data(e)),
        };
        samples.push(DetectionSample {
            image: image.clone(),
            width,
            height,
            objects,
        });
    }
    Ok((samples, stats))
}

/// Turns a COCO ground-truth file into samples (images under `image_dir`), classes numbered by
/// ascending category id. Returns the samples in image-id order, the category names in class
/// order, and the clipping counts. Crowd boxes come back with `difficult` set.
pub fn read_coco(gt: &CocoGt, image_dir: &Path) -> (Vec<DetectionSample>, Vec<String>, LabelStats) {
    let mut cats: Vec<(u64, String)> = gt
        .categories
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    cats.sort();
    let class_of: BTreeMap<u64, usize> = cats
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut stats = LabelStats::default();
    let mut images: Vec<_> = gt.images.iter().collect();
    images.sort_by_key(|i| i.id);
    let mut by_image: BTreeMap<u64, Vec<DetectionObject>> = BTreeMap::new();
    let size: BTreeMap<u64, (u32, u32)> = gt
        .images
        .iter()
        .map(|i| (i.id, (i.width, i.height)))
        .collect();
    for a in &gt.annotations {
        // CocoGt::from_json has checked that image and category exist
        let (Some(&class), Some(&(w, h))) = (class_of.get(&a.category_id), size.get(&a.image_id))
        else {
            continue;
        };
        let b = [
            a.bbox[0] as f32,
            a.bbox[1] as f32,
            (a.bbox[0] + a.bbox[2]) as f32,
            (a.bbox[1] + a.bbox[3]) as f32,
        ];
        if let Some(bbox) = stats.admit(b, w, h) {
            by_image
                .entry(a.image_id)
                .or_default()
                .push(DetectionObject {
                    class,
                    bbox,
                    difficult: a.iscrowd != 0,
                });
        }
    }
    let samples = images
        .into_iter()
        .map(|i| DetectionSample {
            image: image_dir.join(&i.file_name),
            width: i.width,
            height: i.height,
            objects: by_image.remove(&i.id).unwrap_or_default(),
        })
        .collect();
    (samples, cats.into_iter().map(|(_, n)| n).collect(), stats)
}

/// The text of the first `<tag>…</tag>` inside `xml`, and what follows it.
fn element<'a>(xml: &'a str, tag: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some((xml[start..end].trim(), &xml[end + close.len()..]))
}

/// Parses a Pascal VOC annotation (`<annotation>` with `<size>` and `<object>`s), classes named
/// by `class_names`. VOC's pixel coordinates are 1-based inclusive: `xmin − 1 … xmax` becomes the
/// half-open pixel box.
pub fn parse_voc_xml(
    xml: &str,
    path: &Path,
    class_names: &[&str],
    stats: &mut LabelStats,
) -> Result<(u32, u32, Vec<DetectionObject>), DetectDataError> {
    let err = |message: String| DetectDataError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    let number = |xml: &str, tag: &str| -> Result<f32, DetectDataError> {
        let (text, _) = element(xml, tag).ok_or_else(|| err(format!("missing <{tag}>")))?;
        text.parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| err(format!("<{tag}> {text:?} is not a number")))
    };
    let (size, _) = element(xml, "size").ok_or_else(|| err("missing <size>".into()))?;
    let (width, height) = (
        number(size, "width")? as u32,
        number(size, "height")? as u32,
    );
    let mut objects = Vec::new();
    let mut rest = xml;
    while let Some((obj, after)) = element(rest, "object") {
        rest = after;
        let (name, _) =
            element(obj, "name").ok_or_else(|| err("an <object> without <name>".into()))?;
        let class = class_names.iter().position(|c| *c == name).ok_or_else(|| {
            err(format!(
                "class {name:?} is not one of the {} known classes",
                class_names.len()
            ))
        })?;
        let difficult = element(obj, "difficult").is_some_and(|(d, _)| d == "1");
        let (bb, _) = element(obj, "bndbox")
            .ok_or_else(|| err(format!("object {name:?} without <bndbox>")))?;
        let b = [
            number(bb, "xmin")? - 1.0,
            number(bb, "ymin")? - 1.0,
            number(bb, "xmax")?,
            number(bb, "ymax")?,
        ];
        if let Some(bbox) = stats.admit(b, width, height) {
            objects.push(DetectionObject {
                class,
                bbox,
                difficult,
            });
        }
    }
    Ok((width, height, objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yolo_lines_become_pixel_boxes_with_clipping_and_errors() {
        let p = Path::new("a.txt");
        let mut stats = LabelStats::default();
        let text = "1 0.5 0.5 0.5 0.25\n\n0 0.0 0.5 0.2 0.2\n0 1.2 0.5 0.2 0.2\n";
        let objs = parse_yolo_labels(text, p, 200, 100, 2, &mut stats).unwrap();
        assert_eq!(
            objs[0],
            DetectionObject {
                class: 1,
                bbox: [50.0, 37.5, 150.0, 62.5],
                difficult: false
            }
        );
        let want = [0.0, 40.0, 20.0, 60.0]; // clipped on the left
        assert!(
            objs[1]
                .bbox
                .iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() < 1e-4),
            "{:?}",
            objs[1].bbox
        );
        assert_eq!(objs.len(), 2); // the third lies wholly outside: dropped
        assert_eq!(
            stats,
            LabelStats {
                boxes: 3,
                clipped: 2,
                dropped: 1,
                orphan_labels: 0
            }
        );
        let e = parse_yolo_labels("2 0.5 0.5 0.1 0.1", p, 10, 10, 2, &mut stats).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.txt:1: class id 2 out of range (the dataset has 2 classes)"
        );
        let e = parse_yolo_labels("0 0.5 nan 0.1 0.1", p, 10, 10, 2, &mut stats).unwrap_err();
        assert!(e.to_string().starts_with("a.txt:1: `nan`"), "{e}");
        assert!(
            parse_yolo_labels("", p, 10, 10, 2, &mut stats)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_label_without_its_image_is_refused_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = (dir.path().join("images"), dir.path().join("labels"));
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&labels).unwrap();
        image::RgbImage::new(10, 10)
            .save(images.join("a.jpg"))
            .unwrap();
        std::fs::write(labels.join("a.txt"), "0 0.5 0.5 0.2 0.2\n").unwrap();
        std::fs::write(labels.join("lost.txt"), "0 0.5 0.5 0.2 0.2\n").unwrap();
        let err = read_yolo_dir(&images, &labels, 1).unwrap_err().to_string();
        assert!(err.contains("lost.txt: no image with this name"), "{err}");
        let (samples, stats) = read_yolo_split(&images, &labels, 1, OrphanLabels::Skip).unwrap();
        assert_eq!((samples.len(), samples[0].objects.len()), (1, 1));
        assert_eq!((stats.boxes, stats.orphan_labels), (1, 1));
    }

    #[test]
    fn voc_xml_objects() {
        let xml = "<annotation><size><width>100</width><height>80</height><depth>3</depth></size>\
            <object><name>dog</name><difficult>0</difficult><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>50</xmax><ymax>60</ymax></bndbox></object>\
            <object><name>cat</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>120</xmax><ymax>80</ymax></bndbox></object>\
            </annotation>";
        let mut stats = LabelStats::default();
        let (w, h, objs) =
            parse_voc_xml(xml, Path::new("x.xml"), &["cat", "dog"], &mut stats).unwrap();
        assert_eq!((w, h), (100, 80));
        assert_eq!(
            objs[0],
            DetectionObject {
                class: 1,
                bbox: [10.0, 20.0, 50.0, 60.0],
                difficult: false
            }
        );
        assert_eq!(
            objs[1],
            DetectionObject {
                class: 0,
                bbox: [0.0, 0.0, 100.0, 80.0],
                difficult: true
            }
        );
        let e = parse_voc_xml(
            &xml.replace("dog", "cow"),
            Path::new("x.xml"),
            &["cat", "dog"],
            &mut stats,
        )
        .unwrap_err();
        assert!(e.to_string().contains("class \"cow\""), "{e}");
    }
}
