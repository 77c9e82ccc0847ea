//! Reading and writing IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header followed by raw data. The header starts with a magic
//! number `0x0000TTNN` (`TT` the element type, `0x08` for unsigned bytes; `NN` the number of
//! dimensions), then one `u32` per dimension:
//!
//! | file   | magic        | dimensions            | data                        |
//! |--------|--------------|-----------------------|-----------------------------|
//! | images | `0x00000803` | count, rows, columns  | `count × rows × cols` bytes |
//! | labels | `0x00000801` | count                 | `count` bytes               |
//!
//! Files may be gzip-compressed; that is detected from the gzip magic `1f 8b`, never from the
//! extension. The readers check the magic, the dimensions and the exact length, so a truncated
//! download or a file with trailing garbage is an error, not a silently wrong dataset.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::DataError;
use crate::limits::{ReadLimits, read_decompressed, read_file_limited};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The contents of an IDX images file: `count` greyscale images of `rows × cols` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image.
    pub rows: usize,
    /// Width of each image.
    pub cols: usize,
    /// `count × rows × cols` bytes, image after image, each row-major.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Bytes in one image (`rows × cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let n = self.image_len();
        let start = index.checked_mul(n)?;
        self.pixels.get(start..start.checked_add(n)?)
    }
}

// A manual Debug: deriving it would print every pixel (47 MB for MNIST's training set).
impl std::fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxImages")
            .field("count", &self.count)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("pixels", &format_args!("[u8; {}]", self.pixels.len()))
            .finish()
    }
}

/// Opens a file for reading, transparently gunzipping it when it starts with the gzip magic.
pub(crate) fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| DataError::io(path, e))?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads a whole file, gunzipped if it is gzip, within the [`ReadLimits`] of the environment.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let limits = ReadLimits::from_env()?;
    gunzip_if_gz(path, read_file_limited(path, limits.max_read)?, &limits)
}

/// `raw` itself, or what it inflates to when it starts with the gzip magic (at most
/// `limits.max_decompressed` bytes).
fn gunzip_if_gz(path: &Path, raw: Vec<u8>, limits: &ReadLimits) -> Result<Vec<u8>, DataError> {
    if raw.starts_with(&GZIP_MAGIC) {
        read_decompressed(
            MultiGzDecoder::new(raw.as_slice()),
            path,
            limits.max_decompressed,
        )
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

/// Checks the magic and the header length, and returns the `ndims` dimensions.
fn parse_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    kind: &'static str,
) -> Result<Vec<usize>, DataError> {
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 * (1 + ndims);
    let truncated_header = || DataError::Truncated {
        path: path.to_path_buf(),
        what: "header",
        expected: header_len as u64,
        found: bytes.len() as u64,
    };
    if bytes.len() < 4 {
        return Err(truncated_header());
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
            kind,
        });
    }
    if bytes.len() < header_len {
        return Err(truncated_header());
    }
    Ok((0..ndims)
        .map(|d| be_u32(bytes, 4 + 4 * d) as usize)
        .collect())
}

/// Checks that the payload after the header is exactly `expected` bytes long.
fn check_payload_len(
    path: &Path,
    bytes: &[u8],
    header_len: usize,
    expected: usize,
    what: &'static str,
) -> Result<(), DataError> {
    let found = bytes.len() - header_len;
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            what,
            expected: expected as u64,
            found: found as u64,
        });
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: (header_len + expected) as u64,
            extra: (found - expected) as u64,
        });
    }
    Ok(())
}

/// Reads an IDX images file (magic `0x00000803`), raw or gzip.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read or gunzipped, [`DataError::BadMagic`],
/// [`DataError::BadHeader`] for zero-sized images, [`DataError::Truncated`] if the file is
/// shorter than its header says and [`DataError::TrailingBytes`] if it is longer.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images_unpacked(path, read_maybe_gz(path)?)
}

/// [`read_idx_images`] on the bytes of a file already in memory (raw or gzip, inflated within
/// `limits`); `path` only names the source in errors.
///
/// # Errors
/// As [`read_idx_images`].
pub fn parse_idx_images(
    path: &Path,
    bytes: Vec<u8>,
    limits: &ReadLimits,
) -> Result<IdxImages, DataError> {
    parse_idx_images_unpacked(path, gunzip_if_gz(path, bytes, limits)?)
}

fn parse_idx_images_unpacked(path: &Path, mut bytes: Vec<u8>) -> Result<IdxImages, DataError> {
    let dims = parse_header(path, &bytes, IDX_IMAGES_MAGIC, "IDX images")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("images of {rows}×{cols} pixels"),
        });
    }
    let expected = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("{count} images of {rows}×{cols} overflow the address space"),
        })?;
    let header_len = 16;
    check_payload_len(path, &bytes, header_len, expected, "pixel data")?;
    bytes.drain(..header_len);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes,
    })
}

/// Reads an IDX labels file (magic `0x00000801`), raw or gzip, and checks that every label is
/// below `num_classes`.
///
/// # Errors
/// As [`read_idx_images`], plus [`DataError::LabelOutOfRange`] for the first label
/// `>= num_classes`.
pub fn read_idx_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>, DataError> {
    parse_idx_labels_unpacked(path, read_maybe_gz(path)?, num_classes)
}

/// [`read_idx_labels`] on the bytes of a file already in memory (raw or gzip, inflated within
/// `limits`); `path` only names the source in errors.
///
/// # Errors
/// As [`read_idx_labels`].
pub fn parse_idx_labels(
    path: &Path,
    bytes: Vec<u8>,
    num_classes: usize,
    limits: &ReadLimits,
) -> Result<Vec<u8>, DataError> {
    parse_idx_labels_unpacked(path, gunzip_if_gz(path, bytes, limits)?, num_classes)
}

fn parse_idx_labels_unpacked(
    path: &Path,
    mut bytes: Vec<u8>,
    num_classes: usize,
) -> Result<Vec<u8>, DataError> {
    let dims = parse_header(path, &bytes, IDX_LABELS_MAGIC, "IDX labels")?;
    let count = dims[0];
    let header_len = 8;
    check_payload_len(path, &bytes, header_len, count, "label data")?;
    bytes.drain(..header_len);
    if let Some((index, &label)) = bytes
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= num_classes)
    {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            label: label.into(),
            index,
            num_classes,
        });
    }
    Ok(bytes)
}

fn dim_u32(path: &Path, name: &str, value: usize) -> Result<u32, DataError> {
    u32::try_from(value).map_err(|_| {
        DataError::Invalid(format!(
            "{}: {name} {value} does not fit an IDX header (u32)",
            path.display()
        ))
    })
}

/// Writes `header` then `payload` to `path`, gzip-compressed (deterministically: no file name,
/// mtime 0) when `gzip` is set.
fn write_idx(path: &Path, header: &[u8], payload: &[u8], gzip: bool) -> Result<(), DataError> {
    let io = |e| DataError::io(path, e);
    let file = BufWriter::new(File::create(path).map_err(io)?);
    if gzip {
        let mut enc = GzEncoder::new(file, Compression::best());
        enc.write_all(header).map_err(io)?;
        enc.write_all(payload).map_err(io)?;
        enc.finish().map_err(io)?.flush().map_err(io)
    } else {
        let mut file = file;
        file.write_all(header).map_err(io)?;
        file.write_all(payload).map_err(io)?;
        file.flush().map_err(io)
    }
}

/// Writes an IDX images file, gzip-compressed if `gzip`. Used to make fixtures and samples.
///
/// # Errors
/// [`DataError::Invalid`] if `pixels.len() != count × rows × cols` or a dimension exceeds
/// `u32`; [`DataError::Io`] if the file cannot be written.
pub fn write_idx_images(path: &Path, images: &IdxImages, gzip: bool) -> Result<(), DataError> {
    let expected = images
        .count
        .checked_mul(images.rows)
        .and_then(|n| n.checked_mul(images.cols));
    if expected != Some(images.pixels.len()) {
        return Err(DataError::Invalid(format!(
            "{}: {} pixels do not make {} images of {}×{}",
            path.display(),
            images.pixels.len(),
            images.count,
            images.rows,
            images.cols
        )));
    }
    let mut header = Vec::with_capacity(16);
    header.extend_from_slice(&IDX_IMAGES_MAGIC.to_be_bytes());
    for (name, value) in [
        ("count", images.count),
        ("rows", images.rows),
        ("cols", images.cols),
    ] {
        header.extend_from_slice(&dim_u32(path, name, value)?.to_be_bytes());
    }
    write_idx(path, &header, &images.pixels, gzip)
}

/// Writes an IDX labels file, gzip-compressed if `gzip`.
///
/// # Errors
/// [`DataError::Invalid`] if there are more than `u32::MAX` labels; [`DataError::Io`] if the
/// file cannot be written.
pub fn write_idx_labels(path: &Path, labels: &[u8], gzip: bool) -> Result<(), DataError> {
    let mut header = Vec::with_capacity(8);
    header.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    header.extend_from_slice(&dim_u32(path, "count", labels.len())?.to_be_bytes());
    write_idx(path, &header, labels, gzip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IdxImages {
        IdxImages {
            count: 3,
            rows: 2,
            cols: 4,
            pixels: (0..24).map(|i| (i * 10) as u8).collect(),
        }
    }

    #[test]
    fn images_round_trip_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let path = dir.path().join(format!("img-{gzip}"));
            write_idx_images(&path, &sample(), gzip).unwrap();
            let raw = std::fs::read(&path).unwrap();
            assert_eq!(raw.starts_with(&GZIP_MAGIC), gzip);
            assert_eq!(read_idx_images(&path).unwrap(), sample());
        }
    }

    #[test]
    fn labels_round_trip_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let labels = [3u8, 0, 9, 1, 1];
        for gzip in [false, true] {
            let path = dir.path().join(format!("lab-{gzip}.gz"));
            write_idx_labels(&path, &labels, gzip).unwrap();
            assert_eq!(read_idx_labels(&path, 10).unwrap(), labels);
        }
    }

    #[test]
    fn image_accessor() {
        let s = sample();
        assert_eq!(s.image(1).unwrap(), &s.pixels[8..16]);
        assert!(s.image(3).is_none());
        assert!(format!("{s:?}").contains("[u8; 24]"));
    }

    #[test]
    fn truncated_pixels_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte");
        write_idx_images(&path, &sample(), false).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    what: "pixel data",
                    expected: 24,
                    found: 19,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("train-images-idx3-ubyte: truncated"), "{msg}");
        assert!(
            msg.contains("expected 24 bytes of pixel data, found 19"),
            "{msg}"
        );
    }

    #[test]
    fn truncated_gzip_header_and_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        std::fs::write(&path, [0, 0, 8]).unwrap();
        assert!(matches!(
            read_idx_images(&path).unwrap_err(),
            DataError::Truncated { what: "header", .. }
        ));
        std::fs::write(&path, [0, 0, 8, 3, 0, 0]).unwrap();
        assert!(matches!(
            read_idx_images(&path).unwrap_err(),
            DataError::Truncated { what: "header", .. }
        ));
        // A gzip stream cut in half is an I/O error naming the file.
        let gz = dir.path().join("cut.gz");
        write_idx_images(&gz, &sample(), true).unwrap();
        let bytes = std::fs::read(&gz).unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_idx_images(&gz).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("cut.gz"));
    }

    #[test]
    fn bad_magic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels-as-images");
        write_idx_labels(&path, &[1, 2], false).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { found: 0x801, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: bad magic 0x00000801, expected 0x00000803 (IDX images)",
                path.display()
            )
        );
        std::fs::write(&path, [0u8; 16]).unwrap();
        let err = read_idx_labels(&path, 10).unwrap_err();
        assert!(
            err.to_string()
                .contains("bad magic 0x00000000, expected 0x00000801")
        );
    }

    #[test]
    fn label_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels");
        write_idx_labels(&path, &[1, 2, 0, 12, 11], true).unwrap();
        let err = read_idx_labels(&path, 10).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::LabelOutOfRange {
                    label: 12,
                    index: 3,
                    num_classes: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .ends_with("labels: label 12 at index 3 out of range 0..10")
        );
    }

    #[test]
    fn trailing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images");
        write_idx_images(&path, &sample(), false).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"junk");
        std::fs::write(&path, &bytes).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TrailingBytes {
                    expected: 40,
                    extra: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("images: 4 trailing bytes"));

        let labels = dir.path().join("labels");
        write_idx_labels(&labels, &[1], false).unwrap();
        let mut bytes = std::fs::read(&labels).unwrap();
        bytes.push(0);
        std::fs::write(&labels, &bytes).unwrap();
        assert!(matches!(
            read_idx_labels(&labels, 10).unwrap_err(),
            DataError::TrailingBytes { extra: 1, .. }
        ));
    }

    #[test]
    fn zero_sized_images_and_bad_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zero");
        let mut bytes = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [5u32, 0, 28] {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read_idx_images(&path).unwrap_err(),
            DataError::BadHeader { .. }
        ));
        let mut bad = sample();
        bad.pixels.pop();
        assert!(matches!(
            write_idx_images(&path, &bad, false).unwrap_err(),
            DataError::Invalid(_)
        ));
        let missing = dir.path().join("nope/x");
        let err = read_idx_images(&missing).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("nope"));
    }
}
