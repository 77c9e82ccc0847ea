//! Pictures of detections: boxes drawn onto a copy of the image, one colour per class.

use std::path::Path;

use image::{Rgb, RgbImage};

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
}
