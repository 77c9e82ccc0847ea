//! A classifier dataset over a directory tree `root/<class>/<image>.{png,jpg,jpeg}`, the layout
//! of the cats-vs-dogs example (chapter 7.2) and of torchvision's `ImageFolder`.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::dataset::index_error;
use crate::image::check_image_params;
use crate::{DataError, ImageItem, InMemoryImages, load_image};

const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Images wider or taller than this are listed in [`FolderStats::oversized`] (the default
/// limit of `deepzero data check` as well).
pub const MAX_IMAGE_SIDE: u32 = 16384;

/// Decoded pixels, their labels, and the files that failed with their errors.
type Part = (Vec<u8>, Vec<usize>, Vec<(PathBuf, DataError)>);

/// Images in class sub-folders. Class `k` is the `k`-th sub-folder in sorted order; files are
/// listed in sorted order within each class. Images are decoded on demand by
/// [`Dataset::get`], or all at once by [`ImageFolder::load_all`].
#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    class_names: Vec<String>,
    files: Vec<(PathBuf, usize)>,
    channels: usize,
    size: [usize; 2],
}

impl ImageFolder {
    /// Scans `root`. Every non-hidden sub-folder is a class and must hold at least one `.png`,
    /// `.jpg` or `.jpeg` file (any case); other files and hidden entries are ignored. Images
    /// will be decoded to `channels` (1 or 3) channels and resized to `size = [H, W]`.
    ///
    /// # Errors
    /// [`DataError::Invalid`] for bad `channels` or `size`, [`DataError::MissingDir`] if `root`
    /// does not exist, [`DataError::Io`] if a directory cannot be listed,
    /// [`DataError::EmptyClass`] for a class folder without images and
    /// [`DataError::EmptyFolder`] if there is no class folder at all.
    pub fn open(root: &Path, channels: usize, size: [usize; 2]) -> Result<Self, DataError> {
        check_image_params(channels, size)?;
        if !root.is_dir() {
            return Err(DataError::MissingDir {
                path: root.to_path_buf(),
            });
        }
        let class_dirs = sorted_entries(root, |p| p.is_dir())?;
        let mut class_names = Vec::with_capacity(class_dirs.len());
        let mut files = Vec::new();
        for (label, dir) in class_dirs.into_iter().enumerate() {
            let images = sorted_entries(&dir, |p| p.is_file() && has_image_extension(p))?;
            if images.is_empty() {
                return Err(DataError::EmptyClass { path: dir });
            }
            class_names.push(file_name(&dir));
            files.extend(images.into_iter().map(|p| (p, label)));
        }
        if class_names.is_empty() {
            return Err(DataError::EmptyFolder {
                path: root.to_path_buf(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            class_names,
            files,
            channels,
            size,
        })
    }

    /// The same files decoded to `channels` channels at `size = [H, W]` instead.
    ///
    /// # Errors
    /// [`DataError::Invalid`] for bad `channels` or `size`.
    pub fn with_shape(mut self, channels: usize, size: [usize; 2]) -> Result<Self, DataError> {
        check_image_params(channels, size)?;
        self.channels = channels;
        self.size = size;
        Ok(self)
    }

    /// The same folder without the files in `paths` (files found unusable before decoding).
    pub fn without(mut self, paths: &[PathBuf]) -> Self {
        self.files.retain(|(path, _)| !paths.contains(path));
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class names (the sub-folder names), sorted; label `k` is `class_names()[k]`.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no images (never true for a folder that [`ImageFolder::open`] accepted).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The label of every image, in order, without decoding anything (for
    /// [`crate::stratified_split`]).
    pub fn labels(&self) -> Vec<usize> {
        self.files.iter().map(|&(_, label)| label).collect()
    }

    /// Every image file with its label, in order.
    pub fn files(&self) -> &[(PathBuf, usize)] {
        &self.files
    }

    /// `[C, H, W]` of the decoded images.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.size[0], self.size[1]]
    }

    fn load(&self, path: &Path, label: usize) -> Result<ImageItem, DataError> {
        let mut item = load_image(path, self.channels, self.size)?;
        item.label = label;
        Ok(item)
    }

    /// What the images' headers say (sizes and colour types), read without decoding pixels:
    /// the statistics the `image-folder` recipe chooses its input size and channels from.
    /// A file whose header cannot be read is counted in [`FolderStats::unreadable`] (decoding
    /// it later names the fault).
    pub fn probe(&self) -> FolderStats {
        let mut stats = FolderStats {
            class_counts: vec![0; self.class_names.len()],
            ..FolderStats::default()
        };
        for (path, label) in &self.files {
            stats.class_counts[*label] += 1;
            match header(path) {
                Some((width, height, _)) if width.max(height) > MAX_IMAGE_SIDE => {
                    stats.oversized.push((path.clone(), width, height));
                }
                Some((width, height, grey)) => {
                    stats.short_sides.push(width.min(height));
                    stats.grey += usize::from(grey);
                    let area = u64::from(width) * u64::from(height);
                    if stats
                        .largest
                        .as_ref()
                        .is_none_or(|(_, w, h)| area > u64::from(*w) * u64::from(*h))
                    {
                        stats.largest = Some((path.clone(), width, height));
                    }
                }
                None => stats.unreadable += 1,
            }
        }
        stats.short_sides.sort_unstable();
        stats
    }

    /// Decodes every image (on all cores) into memory.
    ///
    /// # Errors
    /// The error of the first file, in dataset order, that cannot be read or decoded.
    pub fn load_all(&self) -> Result<InMemoryImages, DataError> {
        let (pixels, labels, mut failed) = self.decode_all(false);
        match failed.pop() {
            Some((_, first)) => Err(first),
            None => self.images(pixels, labels),
        }
    }

    /// [`ImageFolder::load_all`], but a file that cannot be read or decoded (corrupt,
    /// truncated, over the read limit) is left out instead of ending the load. Returns the
    /// images kept and every file skipped with its error, in dataset order, for the caller to
    /// count and report (`--skip-bad-images`).
    ///
    /// # Errors
    /// [`DataError::EmptyFolder`] when no image at all could be decoded.
    pub fn load_all_skipping_bad(
        &self,
    ) -> Result<(InMemoryImages, Vec<(PathBuf, DataError)>), DataError> {
        let (pixels, labels, skipped) = self.decode_all(true);
        if labels.is_empty() {
            return Err(DataError::EmptyFolder {
                path: self.root.clone(),
            });
        }
        Ok((self.images(pixels, labels)?, skipped))
    }

    fn images(&self, pixels: Vec<u8>, labels: Vec<usize>) -> Result<InMemoryImages, DataError> {
        InMemoryImages::new(
            pixels,
            labels,
            self.shape(),
            self.class_names.iter().cloned(),
        )
    }

    /// Decodes every file on all cores. With `skip`, failures are collected and their files
    /// left out; without it decoding stops at the first failure of each worker, and only the
    /// first failure in dataset order comes back (as the one element of the list).
    fn decode_all(&self, skip: bool) -> Part {
        let image_len = self.shape().iter().product::<usize>();
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(self.files.len())
            .max(1);
        let chunk = self.files.len().div_ceil(threads);
        let parts: Vec<Part> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .files
                .chunks(chunk)
                .map(|files| {
                    scope.spawn(move || -> Part {
                        let mut pixels = Vec::with_capacity(files.len() * image_len);
                        let (mut labels, mut failed) = (Vec::new(), Vec::new());
                        for (path, label) in files {
                            match self.load(path, *label) {
                                Ok(item) => {
                                    pixels.extend_from_slice(&item.pixels);
                                    labels.push(*label);
                                }
                                Err(e) => {
                                    failed.push((path.clone(), e));
                                    if !skip {
                                        break;
                                    }
                                }
                            }
                        }
                        (pixels, labels, failed)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut pixels = Vec::with_capacity(self.files.len() * image_len);
        let (mut labels, mut failed) = (Vec::new(), Vec::new());
        for (part_pixels, part_labels, part_failed) in parts {
            if !skip && !part_failed.is_empty() {
                // Chunks are in dataset order: this worker's failure is the first one.
                return (Vec::new(), Vec::new(), part_failed);
            }
            pixels.extend_from_slice(&part_pixels);
            labels.extend(part_labels);
            failed.extend(part_failed);
        }
        (pixels, labels, failed)
    }
}

impl Dataset<ImageItem> for ImageFolder {
    /// Decodes image `index`; a decoding failure is a [`DatasetError`] wrapping the
    /// [`DataError`] that names the file.
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let (path, label) = self
            .files
            .get(index)
            .ok_or_else(|| index_error(index, self.files.len()))?;
        self.load(path, *label).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.files.len()
    }
}

/// Sizes and colour types of a folder's images ([`ImageFolder::probe`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderStats {
    /// Images per class, in class order.
    pub class_counts: Vec<usize>,
    /// The shorter side of every readable image, sorted.
    pub short_sides: Vec<u32>,
    /// Readable images stored as grey (with or without alpha).
    pub grey: usize,
    /// Files whose header could not be read.
    pub unreadable: usize,
    /// The image with the most pixels: its file, width and height.
    pub largest: Option<(PathBuf, u32, u32)>,
    /// Images over [`MAX_IMAGE_SIDE`] on a side, with their width and height (not counted
    /// elsewhere).
    pub oversized: Vec<(PathBuf, u32, u32)>,
}

impl FolderStats {
    /// The median shorter side, or `None` without a readable image.
    pub fn median_short_side(&self) -> Option<u32> {
        self.short_sides.get(self.short_sides.len() / 2).copied()
    }

    /// Whether every readable image is grey (and there is one).
    pub fn all_grey(&self) -> bool {
        !self.short_sides.is_empty() && self.grey == self.short_sides.len()
    }

    /// The largest class count over the smallest (∞ with an empty class).
    pub fn imbalance(&self) -> f64 {
        let max = self.class_counts.iter().copied().max().unwrap_or(0);
        let min = self.class_counts.iter().copied().min().unwrap_or(0);
        if min == 0 {
            f64::INFINITY
        } else {
            max as f64 / min as f64
        }
    }
}

/// Width, height and greyness from an image file's header, or `None` when it cannot be read.
fn header(path: &Path) -> Option<(u32, u32, bool)> {
    use image::ImageDecoder;
    let decoder = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (width, height) = decoder.dimensions();
    let grey = decoder.color_type().channel_count() <= 2;
    Some((width, height, grey))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The non-hidden entries of `dir` that pass `keep`, sorted by name.
pub(crate) fn sorted_entries(
    dir: &Path,
    keep: impl Fn(&Path) -> bool,
) -> Result<Vec<PathBuf>, DataError> {
    let io = |e| DataError::io(dir, e);
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageEncoder, Luma};

    /// root/cat/{a,b}.png (grey 10, 20), root/dog/c.png (grey 30), plus noise to be ignored.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (class, name, value) in [
            ("dog", "c.png", 30u8),
            ("cat", "b.PNG", 20),
            ("cat", "a.png", 10),
        ] {
            std::fs::create_dir_all(root.join(class)).unwrap();
            GrayImage::from_pixel(4, 3, Luma([value]))
                .save_with_format(root.join(class).join(name), image::ImageFormat::Png)
                .unwrap();
        }
        std::fs::write(root.join("cat/notes.txt"), "not an image").unwrap();
        std::fs::write(root.join("README"), "top-level file").unwrap();
        std::fs::create_dir_all(root.join(".cache")).unwrap();
        dir
    }

    #[test]
    fn scans_sorted_classes_and_files() {
        let dir = tree();
        let folder = ImageFolder::open(dir.path(), 1, [3, 4]).unwrap();
        assert_eq!(folder.class_names(), &["cat", "dog"]);
        assert_eq!(folder.len(), 3);
        assert_eq!(folder.labels(), vec![0, 0, 1]);
        assert!(folder.files()[0].0.ends_with("cat/a.png"));
        let item = folder.get(1).unwrap();
        assert_eq!(item.label, 0);
        assert_eq!(item.shape, [1, 3, 4]);
        assert_eq!(item.pixels, vec![20; 12]);
        assert!(folder.get(3).is_err());

        let all = folder.load_all().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all.labels(), &[0, 0, 1]);
        assert_eq!(all.class_names(), folder.class_names());
        assert_eq!(all.get(2).unwrap(), folder.get(2).unwrap());

        let rgb = folder.clone().with_shape(3, [6, 8]).unwrap();
        assert!(folder.with_shape(2, [6, 8]).is_err());
        let item = rgb.get(2).unwrap();
        assert_eq!(item.shape, [3, 6, 8]);
        assert!(item.pixels.iter().all(|&p| p == 30));
    }

    #[test]
    fn probe_reads_sizes_and_colour_from_headers() {
        let dir = tree();
        image::RgbImage::from_pixel(10, 7, image::Rgb([1, 2, 3]))
            .save(dir.path().join("dog/e.png"))
            .unwrap();
        std::fs::write(dir.path().join("dog/f.png"), b"not a png").unwrap();
        let stats = ImageFolder::open(dir.path(), 1, [3, 4]).unwrap().probe();
        assert_eq!(stats.class_counts, vec![2, 3]);
        assert_eq!(stats.short_sides, vec![3, 3, 3, 7]);
        assert_eq!(stats.grey, 3);
        assert_eq!(stats.unreadable, 1);
        assert!(!stats.all_grey());
        assert_eq!(stats.median_short_side(), Some(3));
        assert_eq!(stats.imbalance(), 1.5);
        let (path, w, h) = stats.largest.unwrap();
        assert!(path.ends_with("dog/e.png"));
        assert_eq!((w, h), (10, 7));
        assert!(stats.oversized.is_empty());

        // A PNG header announcing 20000×1 pixels is listed, not decoded.
        let mut huge = Vec::new();
        image::codecs::png::PngEncoder::new(&mut huge)
            .write_image(&[0u8; 20000], 20000, 1, image::ExtendedColorType::L8)
            .unwrap();
        std::fs::write(dir.path().join("cat/huge.png"), huge).unwrap();
        let folder = ImageFolder::open(dir.path(), 1, [3, 4]).unwrap();
        let stats = folder.probe();
        assert_eq!(stats.oversized.len(), 1);
        assert_eq!(stats.short_sides.len(), 4);
        let huge = stats.oversized[0].0.clone();
        let folder = folder.without(&[huge]);
        assert_eq!(folder.len(), 5);
        assert_eq!(folder.probe().oversized, vec![]);
    }

    #[test]
    fn corrupt_jpeg_is_named() {
        let dir = tree();
        let bad = dir.path().join("dog/d.jpg");
        std::fs::write(&bad, b"\xff\xd8 definitely not a whole jpeg").unwrap();
        let folder = ImageFolder::open(dir.path(), 1, [3, 4]).unwrap();
        assert_eq!(folder.len(), 4);
        let err = folder.load_all().unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err:?}");
        assert!(err.to_string().contains("d.jpg"), "{err}");
        let err = folder.get(3).unwrap_err();
        assert!(
            err.to_string().contains("d.jpg: cannot decode image"),
            "{err}"
        );

        // Skipping bad images keeps the three good ones, in order, and names the bad one.
        let (images, skipped) = folder.load_all_skipping_bad().unwrap();
        assert_eq!(images.labels(), &[0, 0, 1]);
        assert_eq!(images.get(2).unwrap().pixels, vec![30; 12]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0, bad);
        assert!(matches!(skipped[0].1, DataError::Decode { .. }));

        // A folder where nothing decodes is still an error.
        let all_bad = tempfile::tempdir().unwrap();
        std::fs::create_dir(all_bad.path().join("x")).unwrap();
        std::fs::write(all_bad.path().join("x/1.png"), b"nope").unwrap();
        let folder = ImageFolder::open(all_bad.path(), 1, [3, 4]).unwrap();
        let err = folder.load_all_skipping_bad().unwrap_err();
        assert!(matches!(err, DataError::EmptyFolder { .. }), "{err:?}");
    }

    #[test]
    fn empty_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), 3, [8, 8]).unwrap_err();
        assert!(matches!(err, DataError::EmptyFolder { .. }));
        assert!(
            err.to_string()
                .starts_with("no class sub-folders with images in")
        );

        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let err = ImageFolder::open(dir.path(), 3, [8, 8]).unwrap_err();
        assert!(matches!(err, DataError::EmptyClass { .. }), "{err:?}");

        let gone = dir.path().join("gone");
        assert!(matches!(
            ImageFolder::open(&gone, 3, [8, 8]).unwrap_err(),
            DataError::MissingDir { .. }
        ));
        assert!(matches!(
            ImageFolder::open(dir.path(), 4, [8, 8]).unwrap_err(),
            DataError::Invalid(_)
        ));
    }
}
