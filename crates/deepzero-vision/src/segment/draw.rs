//! Pictures of masks: the PASCAL VOC colour map and masks blended onto their images.

use std::path::Path;

use deepzero_data::{DataError, ImageItem};
use image::{Rgb, RgbImage};

use super::IGNORE_INDEX;

/// The colour of class `k` in PASCAL VOC's colour map (`VOCdevkit`'s `labelcolormap`: the bits
/// of `k` spread over the high bits of red, green and blue), so that class 0 is black, 1 dark
/// red, 2 green, 3 olive, 4 navy …; the ignore index 255 is drawn white-ish (224, 224, 192),
/// as VOC's void border.
pub fn class_colour(k: usize) -> [u8; 3] {
    if k == IGNORE_INDEX {
        return [224, 224, 192];
    }
    let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
    let mut c = k;
    for j in 0..8 {
        r |= ((c & 1) as u8) << (7 - j);
        g |= (((c >> 1) & 1) as u8) << (7 - j);
        b |= (((c >> 2) & 1) as u8) << (7 - j);
        c >>= 3;
    }
    [r, g, b]
}

/// The mask in colours ([`class_colour`]), `h × w`.
pub fn mask_to_rgb(mask: &[u8], [h, w]: [usize; 2]) -> RgbImage {
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let k = mask.get(y as usize * w + x as usize).copied().unwrap_or(0);
        Rgb(class_colour(usize::from(k)))
    })
}

/// `image` (grey or RGB) with every non-background pixel blended with its class colour
/// (`alpha` of colour, `1 − alpha` of image); background (0) and ignored (255) pixels are left
/// as they are.
pub fn overlay(image: &ImageItem, mask: &[u8], alpha: f32) -> RgbImage {
    let [c, h, w] = image.shape;
    let alpha = alpha.clamp(0.0, 1.0);
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let px: [u8; 3] =
            std::array::from_fn(|ch| image.pixel(if c == 1 { 0 } else { ch }, y, x).unwrap_or(0));
        let k = usize::from(mask.get(y * w + x).copied().unwrap_or(0));
        if k == 0 || k == IGNORE_INDEX {
            return Rgb(px);
        }
        let colour = class_colour(k);
        Rgb(std::array::from_fn(|ch| {
            (f32::from(colour[ch]) * alpha + f32::from(px[ch]) * (1.0 - alpha)).round() as u8
        }))
    })
}

/// Saves an RGB picture as PNG (or any format its extension names).
pub fn save_rgb(path: &Path, picture: &RgbImage) -> Result<(), DataError> {
    picture.save(path).map_err(|source| DataError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voc_colours() {
        // VOC's colour map: background, aeroplane, bicycle, bird, boat, …, tvmonitor (20).
        assert_eq!(class_colour(0), [0, 0, 0]);
        assert_eq!(class_colour(1), [128, 0, 0]);
        assert_eq!(class_colour(2), [0, 128, 0]);
        assert_eq!(class_colour(3), [128, 128, 0]);
        assert_eq!(class_colour(4), [0, 0, 128]);
        assert_eq!(class_colour(15), [192, 128, 128]);
        assert_eq!(class_colour(20), [0, 64, 128]);
    }

    #[test]
    fn overlay_colours_only_the_classes() {
        let image = ImageItem {
            pixels: vec![100, 100, 100, 100],
            shape: [1, 2, 2],
            label: 0,
        };
        let picture = overlay(&image, &[0, 1, 255, 2], 0.5);
        assert_eq!(picture.get_pixel(0, 0).0, [100, 100, 100]);
        assert_eq!(picture.get_pixel(1, 0).0, [114, 50, 50]);
        assert_eq!(picture.get_pixel(0, 1).0, [100, 100, 100]);
        assert_eq!(picture.get_pixel(1, 1).0, [50, 114, 50]);
        assert_eq!(
            mask_to_rgb(&[0, 1, 2, 3], [2, 2]).get_pixel(1, 1).0,
            [128, 128, 0]
        );
    }
}
