//! One labelled image in memory, and decoding image files into it.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader};

use crate::DataError;

/// One labelled image: `u8` pixels, channel-first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageItem {
    /// `C × H × W` bytes, channel-first, each channel row-major.
    pub pixels: Vec<u8>,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Class index.
    pub label: usize,
}

impl ImageItem {
    /// The pixel of channel `c`, row `y`, column `x`, or `None` outside the image.
    pub fn pixel(&self, c: usize, y: usize, x: usize) -> Option<u8> {
        let [ch, h, w] = self.shape;
        (c < ch && y < h && x < w).then(|| self.pixels[(c * h + y) * w + x])
    }
}

/// Checks a channel count (1 or 3) and a non-zero size, as taken by [`load_image`].
pub(crate) fn check_image_params(channels: usize, size: [usize; 2]) -> Result<(), DataError> {
    if channels != 1 && channels != 3 {
        return Err(DataError::Invalid(format!(
            "{channels} channels requested; only 1 (grey) or 3 (RGB) are supported"
        )));
    }
    if size.contains(&0) || size.iter().any(|&s| u32::try_from(s).is_err()) {
        return Err(DataError::Invalid(format!(
            "image size {}×{} must be non-zero and fit u32",
            size[0], size[1]
        )));
    }
    Ok(())
}

/// Decodes a PNG or JPEG file (the format is sniffed from the content, the extension is only a
/// fallback), converts it to grey (`channels == 1`) or RGB (`channels == 3`), and resizes it to
/// `size = [H, W]` with a triangle (bilinear) filter. The label of the result is 0.
///
/// # Errors
/// [`DataError::Invalid`] for a channel count other than 1 or 3 or a zero size,
/// [`DataError::Io`] if the file cannot be read, [`DataError::Decode`] if it is not a valid image.
pub fn load_image(path: &Path, channels: usize, size: [usize; 2]) -> Result<ImageItem, DataError> {
    check_image_params(channels, size)?;
    Ok(from_dynamic(&read_image(path)?, channels, size))
}

/// Reads and decodes a PNG or JPEG file as it is (no conversion), within the size limit of
/// [`read_file`](crate::limits::read_file); see [`decode_image`].
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::TooLarge`] past the size limit,
/// [`DataError::Decode`] if it is not a valid image.
pub fn read_image(path: &Path) -> Result<DynamicImage, DataError> {
    decode_image(path, &crate::limits::read_file(path)?)
}

/// Decodes the bytes of a PNG or JPEG file (the format is sniffed from the content; `path`'s
/// extension is only a fallback, and `path` names the file in errors). The `image` crate's
/// default limits apply (at most 512 MiB allocated for one image), so a header announcing a
/// huge image is an error, not an allocation.
///
/// # Errors
/// [`DataError::Decode`] if the bytes are not a valid image of a supported format.
pub fn decode_image(path: &Path, bytes: &[u8]) -> Result<DynamicImage, DataError> {
    decode_with(path, bytes, None)
}

/// [`decode_image`], refusing an image wider or taller than `max_side` pixels before its
/// pixels are allocated (an upload from someone else, say): an image within the limit decodes
/// exactly as [`decode_image`] decodes it.
///
/// # Errors
/// As [`decode_image`]; [`DataError::Invalid`] naming the limit for an image over it.
pub fn decode_image_within(
    path: &Path,
    bytes: &[u8],
    max_side: u32,
) -> Result<DynamicImage, DataError> {
    decode_with(path, bytes, Some(max_side))
}

fn decode_with(
    path: &Path,
    bytes: &[u8],
    max_side: Option<u32>,
) -> Result<DynamicImage, DataError> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    if let Ok(format) = ImageFormat::from_path(path) {
        reader.set_format(format);
    }
    let mut reader = reader
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    if let Some(max_side) = max_side {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(max_side);
        limits.max_image_height = Some(max_side);
        reader.limits(limits);
    }
    reader.decode().map_err(|source| match (source, max_side) {
        (image::ImageError::Limits(_), Some(max)) => DataError::Invalid(format!(
            "{}: the image is larger than the limit of {max}×{max} pixels",
            path.display()
        )),
        (source, _) => DataError::Decode {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// [`load_image`] on an image already decoded (from memory, say): converts it to grey or RGB
/// and resizes it to `size = [H, W]` in the same way. The label of the result is 0.
///
/// # Errors
/// [`DataError::Invalid`] for a channel count other than 1 or 3 or a zero size.
pub fn image_item(
    image: &DynamicImage,
    channels: usize,
    size: [usize; 2],
) -> Result<ImageItem, DataError> {
    check_image_params(channels, size)?;
    Ok(from_dynamic(image, channels, size))
}

/// Converts and resizes a decoded image into a channel-first [`ImageItem`] (label 0).
/// `channels` must be 1 or 3 and `size` non-zero (checked by the callers).
fn from_dynamic(img: &DynamicImage, channels: usize, [h, w]: [usize; 2]) -> ImageItem {
    // `check_image_params` guarantees these fit.
    let (h32, w32) = (h as u32, w as u32);
    let pixels = if channels == 1 {
        let grey = img.to_luma8();
        if grey.dimensions() == (w32, h32) {
            grey.into_raw()
        } else {
            image::imageops::resize(&grey, w32, h32, FilterType::Triangle).into_raw()
        }
    } else {
        let rgb = img.to_rgb8();
        let rgb = if rgb.dimensions() == (w32, h32) {
            rgb
        } else {
            image::imageops::resize(&rgb, w32, h32, FilterType::Triangle)
        };
        // Interleaved H×W×3 → planar 3×H×W.
        let hw = h * w;
        let mut planar = vec![0u8; 3 * hw];
        for (i, px) in rgb.pixels().enumerate() {
            for c in 0..3 {
                planar[c * hw + i] = px.0[c];
            }
        }
        planar
    };
    ImageItem {
        pixels,
        shape: [channels, h, w],
        label: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};
    use std::path::PathBuf;

    /// A temporary `x.png`, 2×3 (H=2, W=3): red, green, blue / white, black, grey.
    fn rgb_png() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        img.put_pixel(1, 0, Rgb([0, 255, 0]));
        img.put_pixel(2, 0, Rgb([0, 0, 255]));
        img.put_pixel(0, 1, Rgb([255, 255, 255]));
        img.put_pixel(1, 1, Rgb([0, 0, 0]));
        img.put_pixel(2, 1, Rgb([128, 128, 128]));
        img.save(&path).unwrap();
        (dir, path)
    }

    #[test]
    fn rgb_png_is_channel_first() {
        let (_dir, path) = rgb_png();
        let item = load_image(&path, 3, [2, 3]).unwrap();
        assert_eq!(item.shape, [3, 2, 3]);
        assert_eq!(item.label, 0);
        // Red plane, then green, then blue.
        assert_eq!(&item.pixels[0..6], &[255, 0, 0, 255, 0, 128]);
        assert_eq!(&item.pixels[6..12], &[0, 255, 0, 255, 0, 128]);
        assert_eq!(&item.pixels[12..18], &[0, 0, 255, 255, 0, 128]);
        assert_eq!(item.pixel(2, 0, 2), Some(255));
        assert_eq!(item.pixel(3, 0, 0), None);
    }

    #[test]
    fn grey_and_resize() {
        let (_dir, path) = rgb_png();
        let grey = load_image(&path, 1, [2, 3]).unwrap();
        assert_eq!(grey.shape, [1, 2, 3]);
        assert_eq!(grey.pixels[3], 255); // white stays white
        assert_eq!(grey.pixels[4], 0); // black stays black
        let big = load_image(&path, 1, [8, 5]).unwrap();
        assert_eq!(big.shape, [1, 8, 5]);
        assert_eq!(big.pixels.len(), 40);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("broken.jpg");
        std::fs::write(&bad, b"not a jpeg at all").unwrap();
        let err = load_image(&bad, 3, [4, 4]).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err:?}");
        assert!(
            err.to_string().contains("broken.jpg: cannot decode image"),
            "{err}"
        );
        let missing = dir.path().join("missing.png");
        assert!(matches!(
            load_image(&missing, 3, [4, 4]).unwrap_err(),
            DataError::Io { .. }
        ));
        assert!(matches!(
            load_image(&bad, 2, [4, 4]).unwrap_err(),
            DataError::Invalid(_)
        ));
        assert!(matches!(
            load_image(&bad, 1, [0, 4]).unwrap_err(),
            DataError::Invalid(_)
        ));
    }

    #[test]
    fn the_side_limit_refuses_only_larger_images() {
        let (_dir, path) = rgb_png();
        let bytes = std::fs::read(&path).unwrap();
        let within = decode_image_within(&path, &bytes, 3).unwrap();
        assert_eq!(
            within.to_rgb8().into_raw(),
            decode_image(&path, &bytes).unwrap().to_rgb8().into_raw()
        );
        // 3 pixels wide: over a limit of 2, refused with the limit named; not a decode error.
        let err = decode_image_within(&path, &bytes, 2).unwrap_err();
        assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("x.png: the image is larger than the limit of 2×2 pixels"),
            "{err}"
        );
        // Bytes that are no image stay a decode error under a limit.
        assert!(matches!(
            decode_image_within(&path, b"not a png", 2).unwrap_err(),
            DataError::Decode { .. }
        ));
    }
}
