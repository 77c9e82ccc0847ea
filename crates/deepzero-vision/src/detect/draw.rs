//! Pictures of detections: boxes drawn onto a copy of the image, one colour per class, each
//! with a label ("class score") in a filled box of its colour above it ([`draw_labelled`]),
//! written in DejaVu Sans by `plotters` (the font deepzero's curves use, embedded: no system
//! fonts needed).

use std::path::Path;

use image::{Rgb, RgbImage};
use plotters::prelude::{BitMapBackend, IntoDrawingArea, IntoFont, RGBColor};

use super::boxes::Bbox;

/// Ten well-separated colours (Tableau 10), cycled by class.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The colour of class `class` in [`draw_boxes`].
pub fn class_colour(class: usize) -> [u8; 3] {
    PALETTE[class % PALETTE.len()]
}

/// Draws each `(class, box)` as a rectangle outline `thickness` pixels wide (inside the box),
/// clipped to the image. Boxes wholly outside are skipped.
pub fn draw_boxes(image: &mut RgbImage, boxes: &[(usize, Bbox)], thickness: u32) {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    for &(class, b) in boxes {
        let colour = Rgb(class_colour(class));
        let x0 = b[0].max(0.0).floor() as i64;
        let y0 = b[1].max(0.0).floor() as i64;
        let x1 = (b[2].min(w as f32).ceil() as i64 - 1).min(w as i64 - 1);
        let y1 = (b[3].min(h as f32).ceil() as i64 - 1).min(h as i64 - 1);
        if x1 < x0 || y1 < y0 {
            continue;
        }
        let t = thickness as i64;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let edge = x - x0 < t || x1 - x < t || y - y0 < t || y1 - y < t;
                if edge {
                    image.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
}

/// Reads `input`, draws `boxes` on it (thickness ≈ 1/150 of the longer side, at least 1) and
/// writes the picture to `output` as PNG.
pub fn draw_boxes_file(
    input: &Path,
    boxes: &[(usize, Bbox)],
    output: &Path,
) -> Result<(), image::ImageError> {
    let mut picture = image::open(input)?.to_rgb8();
    let thickness = (picture.width().max(picture.height()) / 150).max(1);
    draw_boxes(&mut picture, boxes, thickness);
    picture.save_with_format(output, image::ImageFormat::Png)
}

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    /// The image could not be read or written.
    #[error(transparent)]
    Image(#[from] image::ImageError),
    /// The picture could not be written.
    #[error("{0}")]
    Write(String),
    /// The labels could not be drawn.
    #[error("cannot draw the labels: {0}")]
    Text(String),
}

/// A detection as [`draw_labelled`] draws it: a box of its class's colour and a label.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledBox {
    /// Class index (chooses the colour, [`class_colour`]).
    pub class: usize,
    /// `[x0, y0, x1, y1]` in the image's pixels.
    pub bbox: Bbox,
    /// The text, e.g. `"7 0.98"` ([`label_text`]).
    pub label: String,
}

/// The label of a detection: its class name and its score to two decimals, `"dog 0.87"`.
pub fn label_text(name: &str, score: f32) -> String {
    format!("{name} {score:.2}")
}

/// Where [`draw_labelled`] puts a label `size` = (width, height) pixels for a box whose
/// outline starts at `(x0, y0)`, in an image `image` = (width, height): its top-left corner just
/// above the box, or inside the box's top edge when there is no room above, moved left when it
/// would leave the image on the right.
pub fn label_position(x0: i64, y0: i64, size: (u32, u32), image: (u32, u32)) -> (i64, i64) {
    let (lw, lh) = (size.0 as i64, size.1 as i64);
    let y = if y0 >= lh { y0 - lh } else { y0.max(0) };
    let x = x0.min(image.0 as i64 - lw).max(0);
    (x, y)
}

/// Draws the boxes as [`draw_boxes`] does, then each label over a filled rectangle of the
/// box's colour ([`label_position`]), in white, or black on light colours; text `font_px`
/// pixels high, with `font_px / 5` (at least 1) pixels of margin around it.
///
/// # Errors
/// [`DrawError::Text`] if the font cannot lay the text out.
pub fn draw_labelled(
    image: &mut RgbImage,
    boxes: &[LabelledBox],
    thickness: u32,
    font_px: u32,
) -> Result<(), DrawError> {
    let outlines: Vec<(usize, Bbox)> = boxes.iter().map(|b| (b.class, b.bbox)).collect();
    draw_boxes(image, &outlines, thickness);
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Ok(());
    }
    deepzero_train::plot::register_font();
    let margin = (font_px / 5).max(1);
    let text_err = |e: String| DrawError::Text(e);
    // The text sizes first (plotters borrows the pixels while it draws).
    let mut sizes = Vec::with_capacity(boxes.len());
    {
        let area = BitMapBackend::with_buffer(image.as_mut(), (w, h)).into_drawing_area();
        let font = ("sans-serif", font_px as f64)
            .into_font()
            .color(&RGBColor(0, 0, 0));
        for b in boxes {
            let size = area
                .estimate_text_size(&b.label, &font)
                .map_err(|e| text_err(e.to_string()))?;
            sizes.push(size);
        }
    }
    let mut texts = Vec::with_capacity(boxes.len());
    for (b, &(tw, _)) in boxes.iter().zip(&sizes) {
        let colour = class_colour(b.class);
        let size = (tw + 2 * margin, font_px + 2 * margin);
        let x0 = b.bbox[0].max(0.0).floor() as i64;
        let y0 = b.bbox[1].max(0.0).floor() as i64;
        if x0 >= w as i64 || y0 >= h as i64 || b.bbox[2] <= 0.0 || b.bbox[3] <= 0.0 {
            continue;
        }
        let (x, y) = label_position(x0, y0, size, (w, h));
        for py in y.max(0)..(y + size.1 as i64).min(h as i64) {
            for px in x.max(0)..(x + size.0 as i64).min(w as i64) {
                image.put_pixel(px as u32, py as u32, Rgb(colour));
            }
        }
        let light =
            0.299 * colour[0] as f32 + 0.587 * colour[1] as f32 + 0.114 * colour[2] as f32 > 150.0;
        let ink = if light { [0, 0, 0] } else { [255, 255, 255] };
        texts.push((&b.label, ink, (x + margin as i64, y + margin as i64)));
    }
    let area = BitMapBackend::with_buffer(image.as_mut(), (w, h)).into_drawing_area();
    for (text, [r, g, b], (x, y)) in texts {
        let style = ("sans-serif", font_px as f64)
            .into_font()
            .color(&RGBColor(r, g, b));
        area.draw_text(text, &style, (x as i32, y as i32))
            .map_err(|e| text_err(e.to_string()))?;
    }
    area.present().map_err(|e| text_err(e.to_string()))?;
    Ok(())
}

/// The picture [`draw_labelled_file`] draws on: images whose longer side is under
/// [`MIN_PICTURE_SIDE`] are enlarged by the smallest whole factor that reaches it
/// (nearest-neighbour, so pixels stay sharp), so that labels stay readable on small images
/// (a 64×64 digit scene becomes 320×320); the factor is returned.
pub fn enlarge_for_labels(picture: RgbImage) -> (RgbImage, u32) {
    let side = picture.width().max(picture.height()).max(1);
    if side >= MIN_PICTURE_SIDE {
        return (picture, 1);
    }
    let factor = MIN_PICTURE_SIDE.div_ceil(side);
    let (w, h) = (picture.width() * factor, picture.height() * factor);
    let big = image::imageops::resize(&picture, w, h, image::imageops::FilterType::Nearest);
    (big, factor)
}

/// The longer side under which [`enlarge_for_labels`] enlarges a picture.
pub const MIN_PICTURE_SIDE: u32 = 320;

/// Reads `input`, enlarges it when small ([`enlarge_for_labels`]), draws `boxes` (in the
/// image's own pixels) with their labels ([`draw_labelled`]: outline ≈ 1/150 and text ≈ 1/30
/// of the picture's longer side, at least 2 and 11 pixels) and writes it to `output` as PNG
/// (through a temporary file and a rename).
///
/// # Errors
/// [`DrawError`] when the image cannot be read or written, or the text not drawn.
pub fn draw_labelled_file(
    input: &Path,
    boxes: &[LabelledBox],
    output: &Path,
) -> Result<(), DrawError> {
    let (mut picture, factor) = enlarge_for_labels(image::open(input)?.to_rgb8());
    let side = picture.width().max(picture.height());
    let scaled: Vec<LabelledBox> = boxes
        .iter()
        .map(|b| LabelledBox {
            bbox: b.bbox.map(|v| v * factor as f32),
            ..b.clone()
        })
        .collect();
    let thickness = (side / 150).max(2);
    let font_px = (side / 30).max(11);
    draw_labelled(&mut picture, &scaled, thickness, font_px)?;
    let mut png = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut png, image::ImageFormat::Png)?;
    deepzero_train::metrics_file::write_atomic(output, png.get_ref())
        .map_err(|e| DrawError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_only_inside_the_box_and_clipped() {
        let mut img = RgbImage::new(10, 10);
        draw_boxes(
            &mut img,
            &[
                (1, [2.0, 2.0, 6.0, 5.0]),
                (0, [8.0, 8.0, 20.0, 20.0]),
                (2, [30.0, 30.0, 40.0, 40.0]),
            ],
            1,
        );
        let c1 = Rgb(class_colour(1));
        assert_eq!(*img.get_pixel(2, 2), c1); // corner
        assert_eq!(*img.get_pixel(5, 4), c1); // last pixel inside (max exclusive)
        assert_eq!(*img.get_pixel(3, 3), Rgb([0, 0, 0])); // interior untouched
        assert_eq!(*img.get_pixel(6, 4), Rgb([0, 0, 0])); // outside
        assert_eq!(*img.get_pixel(9, 9), Rgb(class_colour(0))); // clipped box still drawn at the edge
    }

    #[test]
    fn labels_sit_above_their_boxes_in_a_filled_box_of_the_class_colour() {
        let background = Rgb([40, 40, 40]);
        let mut img = RgbImage::from_pixel(200, 120, background);
        let boxes = [
            // room above: the label sits on top of the box
            LabelledBox {
                class: 3,
                bbox: [20.0, 50.0, 90.0, 110.0],
                label: label_text("seven", 0.98),
            },
            // at the top edge: the label goes inside the box
            LabelledBox {
                class: 0,
                bbox: [120.0, 0.0, 190.0, 60.0],
                label: label_text("1", 0.5),
            },
        ];
        draw_labelled(&mut img, &boxes, 2, 14).unwrap();
        let red = Rgb(class_colour(3));
        let blue = Rgb(class_colour(0));
        // label box: 14 px text + 2 × 2 px margin = 18 px high, from y = 50 − 18 = 32
        let label_rows = 32..50;
        let (mut fill, mut ink, mut other) = (0, 0, 0);
        let mut right = 0;
        for y in label_rows.clone() {
            for x in 20..200 {
                let p = *img.get_pixel(x, y);
                if p == red {
                    fill += 1;
                    right = right.max(x);
                } else if p[0] > 200 && p[1] > 200 && p[2] > 200 {
                    ink += 1; // white text on the dark red
                } else if p != background {
                    other += 1; // anti-aliased edges of the letters
                }
            }
        }
        assert!(fill > 300, "fill {fill}");
        assert!(ink > 40, "ink {ink}");
        assert!(other < fill, "other {other}");
        // The filled box starts at the box's left edge, just above it, and is as wide as
        // "seven 0.98" at 14 px (≈ 70 px), not wider than the picture.
        assert_eq!(*img.get_pixel(20, 32), red);
        assert_eq!(*img.get_pixel(20, 49), red);
        assert_eq!(*img.get_pixel(20, 31), background);
        assert!((60..130).contains(&right), "right {right}");
        assert_eq!(*img.get_pixel(right + 1, 40), background);
        // text rows: the ink lies within the label's margins
        for y in (0..32).chain(50..52) {
            for x in 22..right {
                let p = *img.get_pixel(x, y);
                assert!(p == background || p == red, "({x}, {y}) = {p:?}");
            }
        }
        // The second label is inside its box, from its top edge down, in white on blue.
        assert_eq!(*img.get_pixel(120, 0), blue);
        assert_eq!(*img.get_pixel(120, 17), blue);
        let ink_inside = (0..18)
            .flat_map(|y| (120..150).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[0] > 200)
            .count();
        assert!(ink_inside > 10, "{ink_inside}");
        // Interiors stay untouched below the labels.
        assert_eq!(*img.get_pixel(50, 80), background);
        assert_eq!(*img.get_pixel(150, 40), background);
    }

    #[test]
    fn labels_are_kept_inside_the_picture() {
        assert_eq!(label_position(10, 30, (40, 12), (100, 100)), (10, 18));
        assert_eq!(label_position(10, 5, (40, 12), (100, 100)), (10, 5));
        assert_eq!(label_position(90, 30, (40, 12), (100, 100)), (60, 18));
        assert_eq!(label_position(0, 0, (400, 12), (100, 100)), (0, 0));
    }

    #[test]
    fn small_pictures_are_enlarged_for_their_labels() {
        let (big, factor) = enlarge_for_labels(RgbImage::new(64, 48));
        assert_eq!((factor, big.dimensions()), (5, (320, 240)));
        let (same, factor) = enlarge_for_labels(RgbImage::new(640, 10));
        assert_eq!((factor, same.dimensions()), (1, (640, 10)));
    }

    #[test]
    fn a_labelled_file_is_written_enlarged_and_a_bad_file_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("scene.png");
        RgbImage::from_pixel(64, 64, Rgb([0, 0, 0]))
            .save(&input)
            .unwrap();
        let out = dir.path().join("scene.boxes.png");
        let boxes = [LabelledBox {
            class: 2,
            bbox: [10.0, 20.0, 30.0, 44.0],
            label: label_text("4", 0.91),
        }];
        draw_labelled_file(&input, &boxes, &out).unwrap();
        let picture = image::open(&out).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (320, 320));
        // the box's corner, ×5, and the label (11 px text + 2 × 2 margin) above it
        assert_eq!(*picture.get_pixel(50, 100), Rgb(class_colour(2)));
        assert_eq!(*picture.get_pixel(50, 100 - 15), Rgb(class_colour(2)));
        assert_eq!(*picture.get_pixel(50, 100 - 16), Rgb([0, 0, 0]));
        std::fs::write(&input, b"not a png").unwrap();
        let err = draw_labelled_file(&input, &boxes, &out)
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
    }
}
