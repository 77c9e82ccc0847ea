//! A health check of an image-folder dataset before training (seed chapter 7: prepare and
//! clean the data): class counts and imbalance, files that are corrupt or not images, empty
//! class folders, exact duplicates (same bytes) and near duplicates (perceptual hash) within a
//! split and across the train/test splits (leakage), and image size and channel statistics.
//!
//! ```no_run
//! use std::path::Path;
//! use deepzero_data::check::{CheckOptions, check_folder, quarantine, write_report};
//!
//! let report = check_folder(Path::new("data/cats-dogs"), &CheckOptions::default())?;
//! println!("{} images, {} problems", report.images.len(), report.problem_count());
//! write_report(&report, Path::new("data-check"))?; // report.md + report.png
//! // Moves corrupt files and all but one copy of each duplicate aside (never deletes).
//! let moved = quarantine(&report, Path::new("data/quarantine"))?;
//! # Ok::<(), deepzero_data::DataError>(())
//! ```
//!
//! The layout is the one [`ImageFolder`](crate::ImageFolder) reads, `root/<class>/<image>`, or
//! one such tree per split, `root/{train,valid,test}/<class>/<image>`. Every regular,
//! non-hidden file inside a class folder is opened; its format is sniffed from the content.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageError, ImageReader};
use sha2::{Digest, Sha256};

use crate::DataError;
use crate::folder::sorted_entries;

/// Split folder names recognised under the root.
const SPLIT_NAMES: [&str; 4] = ["train", "valid", "val", "test"];

/// How [`check_folder`] decides.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Two images whose 64-bit difference hashes differ in at most this many bits are near
    /// duplicates (default 4; 0 finds only images that hash alike).
    pub near_distance: u32,
    /// Images wider or taller than this are reported as too large and not decoded (default
    /// 16384).
    pub max_side: u32,
    /// Files larger than this are reported as too large without being read (default 256 MiB).
    pub max_file_bytes: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            near_distance: 4,
            max_side: 16384,
            max_file_bytes: 256 << 20,
        }
    }
}

/// One readable image.
#[derive(Clone, Debug)]
pub struct ImageRecord {
    /// The file.
    pub path: PathBuf,
    /// Its split (`train`, `test`, …) or `""` in a tree without splits.
    pub split: String,
    /// Its class folder.
    pub class: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Channels in the file: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// Difference hashes of the picture, along rows and along columns ([`dhash`]).
    pub dhash: [u64; 2],
}

/// A file that is not a usable image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// An image file (`.png`, `.jpg`, `.jpeg`, or content of a known format) that cannot be
    /// decoded.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// A file that is no image at all (a `.txt`, a `.DS_Store`-like file without a dot …).
    NotAnImage {
        /// The file.
        path: PathBuf,
    },
    /// An image over [`CheckOptions::max_side`] or a file over [`CheckOptions::max_file_bytes`].
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large.
        reason: String,
    },
}

impl FileProblem {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            FileProblem::Corrupt { path, .. }
            | FileProblem::NotAnImage { path }
            | FileProblem::TooLarge { path, .. } => path,
        }
    }
}

/// Images that are copies of each other.
#[derive(Clone, Debug)]
pub struct DuplicateGroup {
    /// Indices into [`CheckReport::images`], sorted by path.
    pub images: Vec<usize>,
    /// All files have the same bytes.
    pub exact: bool,
    /// The largest hash distance within the group (0 for exact copies).
    pub max_distance: u32,
    /// The group spans more than one split (train/test leakage).
    pub leak: bool,
    /// The copy that [`quarantine`] keeps (an index into [`CheckReport::images`]): one in the
    /// test split when the group leaks (the test split stays as it is), else the first by path.
    pub keep: usize,
}

/// Class counts of one split.
#[derive(Clone, Debug)]
pub struct SplitCounts {
    /// The split (`""` without splits).
    pub split: String,
    /// Readable images per class, every class of the dataset listed (0 where absent).
    pub counts: BTreeMap<String, usize>,
}

impl SplitCounts {
    /// The largest class count over the smallest (∞ with an empty class; 1 for one class).
    pub fn imbalance(&self) -> f64 {
        let max = self.counts.values().copied().max().unwrap_or(0);
        let min = self.counts.values().copied().min().unwrap_or(0);
        if min == 0 {
            f64::INFINITY
        } else {
            max as f64 / min as f64
        }
    }
}

/// What [`check_folder`] found.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The dataset folder.
    pub root: PathBuf,
    /// Class names, sorted, over all splits.
    pub classes: Vec<String>,
    /// Counts per split.
    pub splits: Vec<SplitCounts>,
    /// Every readable image.
    pub images: Vec<ImageRecord>,
    /// Files that are not usable images.
    pub problems: Vec<FileProblem>,
    /// Class folders without a readable image.
    pub empty_classes: Vec<PathBuf>,
    /// Exact and near duplicates.
    pub duplicates: Vec<DuplicateGroup>,
    /// Files and folders outside the class folders that were not looked at.
    pub ignored: Vec<PathBuf>,
    /// Findings that are not about one file (one class only, strong imbalance, mixed channels,
    /// a class missing from a split).
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// Problem files, empty classes, and extra copies of duplicates.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.empty_classes.len() + self.extra_copies().len()
    }

    /// The copies of duplicates that [`quarantine`] moves (all but the kept one per group).
    pub fn extra_copies(&self) -> Vec<&ImageRecord> {
        self.duplicates
            .iter()
            .flat_map(|g| g.images.iter().filter(move |&&i| i != g.keep))
            .map(|&i| &self.images[i])
            .collect()
    }

    /// One line of counts (images, classes, unusable files, empty classes, duplicate groups
    /// and those across splits), as a front end prints it after a check.
    pub fn summary(&self) -> String {
        let leaks = self.duplicates.iter().filter(|g| g.leak).count();
        format!(
            "{}: {} images, {} classes; {} unusable files, {} empty classes, {} duplicate groups ({leaks} across splits)",
            self.root.display(),
            self.images.len(),
            self.classes.len(),
            self.problems.len(),
            self.empty_classes.len(),
            self.duplicates.len()
        )
    }

    /// The report as Markdown (what `report.md` holds).
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let push = |md: &mut String, line: String| {
            md.push_str(&line);
            md.push('\n');
        };
        push(&mut md, format!("# Data check: {}\n", self.root.display()));
        push(
            &mut md,
            format!(
                "{} readable images in {} classes{}; {} unusable files, {} empty class folders, \
                 {} duplicate groups ({} leaking across splits).\n",
                self.images.len(),
                self.classes.len(),
                if self.splits.len() > 1 {
                    format!(
                        ", splits {}",
                        self.splits
                            .iter()
                            .map(|s| s.split.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    String::new()
                },
                self.problems.len(),
                self.empty_classes.len(),
                self.duplicates.len(),
                self.duplicates.iter().filter(|g| g.leak).count()
            ),
        );
        push(&mut md, "![classes and samples](report.png)\n".into());
        if !self.warnings.is_empty() {
            push(&mut md, "## Warnings\n".into());
            for w in &self.warnings {
                push(&mut md, format!("- {w}"));
            }
            push(&mut md, String::new());
        }
        push(&mut md, "## Classes\n".into());
        let names: Vec<String> = self
            .splits
            .iter()
            .map(|s| {
                if s.split.is_empty() {
                    "images".into()
                } else {
                    s.split.clone()
                }
            })
            .collect();
        push(&mut md, format!("| class | {} |", names.join(" | ")));
        push(&mut md, format!("| --- |{}", " ---: |".repeat(names.len())));
        for class in &self.classes {
            let cells: Vec<String> = self
                .splits
                .iter()
                .map(|s| s.counts.get(class).copied().unwrap_or(0).to_string())
                .collect();
            push(&mut md, format!("| {class} | {} |", cells.join(" | ")));
        }
        let ratios: Vec<String> = self
            .splits
            .iter()
            .map(|s| format!("{:.2}", s.imbalance()))
            .collect();
        push(
            &mut md,
            format!("| *largest / smallest* | {} |\n", ratios.join(" | ")),
        );
        push(&mut md, "## Unusable files\n".into());
        if self.problems.is_empty() && self.empty_classes.is_empty() {
            push(&mut md, "None.\n".into());
        } else {
            for p in &self.problems {
                let line = match p {
                    FileProblem::Corrupt { path, reason } => {
                        format!("- corrupt: `{}` ({reason})", path.display())
                    }
                    FileProblem::NotAnImage { path } => {
                        format!("- not an image: `{}`", path.display())
                    }
                    FileProblem::TooLarge { path, reason } => {
                        format!("- too large: `{}` ({reason})", path.display())
                    }
                };
                push(&mut md, line);
            }
            for dir in &self.empty_classes {
                push(
                    &mut md,
                    format!("- empty class folder: `{}`", dir.display()),
                );
            }
            push(&mut md, String::new());
        }
        push(&mut md, "## Duplicates\n".into());
        if self.duplicates.is_empty() {
            push(&mut md, "None.\n".into());
        } else {
            for g in &self.duplicates {
                let files: Vec<String> = g
                    .images
                    .iter()
                    .map(|&i| format!("`{}`", self.images[i].path.display()))
                    .collect();
                push(
                    &mut md,
                    format!(
                        "- {}{}: {} (keeps `{}`)",
                        if g.exact {
                            "exact".to_string()
                        } else {
                            format!("near, hash distance ≤ {}", g.max_distance)
                        },
                        if g.leak { ", **across splits**" } else { "" },
                        files.join(", "),
                        self.images[g.keep].path.display()
                    ),
                );
            }
            push(&mut md, String::new());
        }
        push(&mut md, "## Sizes and channels\n".into());
        if let Some(stats) = self.size_stats() {
            push(
                &mut md,
                format!(
                    "width {}–{} (median {}), height {}–{} (median {}) pixels",
                    stats.width[0],
                    stats.width[2],
                    stats.width[1],
                    stats.height[0],
                    stats.height[2],
                    stats.height[1]
                ),
            );
        }
        let channels = self.channel_counts();
        let list: Vec<String> = channels
            .iter()
            .map(|(c, n)| format!("{n} with {c} channel{}", if *c == 1 { "" } else { "s" }))
            .collect();
        push(&mut md, format!("\n{}\n", list.join(", ")));
        if !self.ignored.is_empty() {
            push(&mut md, "## Not looked at\n".into());
            for p in &self.ignored {
                push(&mut md, format!("- `{}`", p.display()));
            }
        }
        md
    }

    /// Images per channel count.
    pub fn channel_counts(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for image in &self.images {
            *counts.entry(image.channels).or_insert(0) += 1;
        }
        counts
    }

    /// `[min, median, max]` of the widths and heights, or `None` without images.
    pub fn size_stats(&self) -> Option<SizeStats> {
        if self.images.is_empty() {
            return None;
        }
        let summary = |mut v: Vec<u32>| {
            v.sort_unstable();
            [v[0], v[v.len() / 2], v[v.len() - 1]]
        };
        Some(SizeStats {
            width: summary(self.images.iter().map(|i| i.width).collect()),
            height: summary(self.images.iter().map(|i| i.height).collect()),
        })
    }
}

/// `[min, median, max]` of the image sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeStats {
    /// Widths.
    pub width: [u32; 3],
    /// Heights.
    pub height: [u32; 3],
}

/// The difference hashes of an image: the picture in grey, shrunk to 9×9, one bit per pair of
/// horizontal neighbours (first hash) and per pair of vertical neighbours (second), set where the
/// first of the pair is brighter: 64 bits each. Re-encoding, resizing and small changes of
/// brightness flip few bits; different pictures differ in about half. Both hashes must be close
/// for a near duplicate: on sparse pictures (digits on black) one direction alone leaves most
/// bits 0 and matches unrelated images.
pub fn dhash(image: &DynamicImage) -> [u64; 2] {
    let small = image::imageops::resize(&image.to_luma8(), 9, 9, FilterType::Triangle);
    let (mut rows, mut columns) = (0u64, 0u64);
    for a in 0..8 {
        for b in 0..8 {
            rows = (rows << 1) | u64::from(small.get_pixel(b, a)[0] > small.get_pixel(b + 1, a)[0]);
            columns =
                (columns << 1) | u64::from(small.get_pixel(a, b)[0] > small.get_pixel(a, b + 1)[0]);
        }
    }
    [rows, columns]
}

/// Bits in which two [`dhash`]es differ: the larger of the row and the column distance.
pub fn hash_distance(a: [u64; 2], b: [u64; 2]) -> u32 {
    (a[0] ^ b[0]).count_ones().max((a[1] ^ b[1]).count_ones())
}

/// Whether `path` has an image extension (a file that should decode).
fn image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Reads one file: a record, or why it is not usable.
fn inspect(
    path: &Path,
    split: &str,
    class: &str,
    options: &CheckOptions,
) -> Result<Result<ImageRecord, FileProblem>, DataError> {
    let size = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    if size > options.max_file_bytes {
        return Ok(Err(FileProblem::TooLarge {
            path: path.to_path_buf(),
            reason: format!(
                "{size} bytes, over the {} byte limit",
                options.max_file_bytes
            ),
        }));
    }
    // Bounded as well: the length on disk can lie (a device, a file still growing).
    let bytes = crate::limits::read_file_limited(path, options.max_file_bytes)?;
    let reader = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    if reader.format().is_none() {
        return Ok(Err(if image_extension(path) {
            FileProblem::Corrupt {
                path: path.to_path_buf(),
                reason: "not a PNG or JPEG file".into(),
            }
        } else {
            FileProblem::NotAnImage {
                path: path.to_path_buf(),
            }
        }));
    }
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(options.max_side);
    limits.max_image_height = Some(options.max_side);
    reader.limits(limits);
    let image = match reader.decode() {
        Ok(image) => image,
        Err(ImageError::Limits(_)) => {
            return Ok(Err(FileProblem::TooLarge {
                path: path.to_path_buf(),
                reason: format!("wider or taller than {} pixels", options.max_side),
            }));
        }
        Err(e) => {
            return Ok(Err(FileProblem::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string().lines().next().unwrap_or("").to_string(),
            }));
        }
    };
    Ok(Ok(ImageRecord {
        path: path.to_path_buf(),
        split: split.to_string(),
        class: class.to_string(),
        width: image.width(),
        height: image.height(),
        channels: image.color().channel_count(),
        sha256: Sha256::digest(&bytes).into(),
        dhash: dhash(&image),
    }))
}

/// Checks the dataset under `root` (see the [module documentation](self)).
///
/// # Errors
/// [`DataError::MissingDir`] when `root` is not a folder, [`DataError::EmptyFolder`] when it
/// holds no class folder, [`DataError::Io`] when a folder cannot be listed or a file read.
pub fn check_folder(root: &Path, options: &CheckOptions) -> Result<CheckReport, DataError> {
    if !root.is_dir() {
        return Err(DataError::MissingDir {
            path: root.to_path_buf(),
        });
    }
    let top = sorted_entries(root, |_| true)?;
    let is_split = |p: &PathBuf| {
        p.is_dir()
            && p.file_name()
                .is_some_and(|n| SPLIT_NAMES.contains(&n.to_string_lossy().as_ref()))
    };
    let mut ignored = Vec::new();
    let split_dirs: Vec<(String, PathBuf)> = if top.iter().any(is_split) {
        top.iter()
            .filter(|p| {
                let keep = is_split(p);
                if !keep {
                    ignored.push((*p).clone());
                }
                keep
            })
            .map(|p| (file_name(p), p.clone()))
            .collect()
    } else {
        vec![(String::new(), root.to_path_buf())]
    };

    let mut images = Vec::new();
    let mut problems = Vec::new();
    let mut empty_classes = Vec::new();
    let mut per_split: Vec<(String, BTreeMap<String, usize>)> = Vec::new();
    let mut classes = BTreeSet::new();
    for (split, dir) in &split_dirs {
        let mut counts = BTreeMap::new();
        for entry in sorted_entries(dir, |_| true)? {
            if !entry.is_dir() {
                ignored.push(entry);
                continue;
            }
            let class = file_name(&entry);
            classes.insert(class.clone());
            let mut found = 0;
            for file in sorted_entries(&entry, |_| true)? {
                if !file.is_file() {
                    ignored.push(file);
                    continue;
                }
                match inspect(&file, split, &class, options)? {
                    Ok(record) => {
                        images.push(record);
                        found += 1;
                    }
                    Err(problem) => problems.push(problem),
                }
            }
            if found == 0 {
                empty_classes.push(entry);
            }
            counts.insert(class, found);
        }
        per_split.push((split.clone(), counts));
    }
    if classes.is_empty() {
        return Err(DataError::EmptyFolder {
            path: root.to_path_buf(),
        });
    }
    let classes: Vec<String> = classes.into_iter().collect();
    let splits: Vec<SplitCounts> = per_split
        .into_iter()
        .map(|(split, mut counts)| {
            for class in &classes {
                counts.entry(class.clone()).or_insert(0);
            }
            SplitCounts { split, counts }
        })
        .collect();
    let duplicates = find_duplicates(&images, options.near_distance);

    let mut warnings = Vec::new();
    if classes.len() == 1 {
        warnings.push(format!(
            "only one class (`{}`): a classifier needs at least two",
            classes[0]
        ));
    }
    for split in &splits {
        let name = if split.split.is_empty() {
            "the data".to_string()
        } else {
            format!("split `{}`", split.split)
        };
        let missing: Vec<&str> = split
            .counts
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(c, _)| c.as_str())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "{name} has no readable image of class {}",
                missing.join(", ")
            ));
        } else if split.imbalance() >= 3.0 {
            warnings.push(format!(
                "{name} is imbalanced: the largest class has {:.1}× the images of the smallest",
                split.imbalance()
            ));
        }
    }
    let channels: BTreeSet<u8> = images.iter().map(|i| i.channels).collect();
    if channels.len() > 1 {
        warnings.push(format!(
            "images of mixed channel counts ({}): the loader converts them all to one",
            channels
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(CheckReport {
        root: root.to_path_buf(),
        classes,
        splits,
        images,
        problems,
        empty_classes,
        duplicates,
        ignored,
        warnings,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Groups exact copies (equal bytes) and near copies: an image joins the group of the first
/// earlier image (by path) whose hash is at most `near` bits away ([`hash_distance`]), so a
/// group never chains through a series of slightly different pictures. All pairs are compared
/// (XOR and popcount: ~1 s for 20 000 images).
fn find_duplicates(images: &[ImageRecord], near: u32) -> Vec<DuplicateGroup> {
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.sort_by(|&a, &b| images[a].path.cmp(&images[b].path));
    let mut heads: Vec<usize> = Vec::new();
    let mut by_sha: HashMap<[u8; 32], usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        let exact = by_sha.get(&images[i].sha256).copied();
        let group = exact.or_else(|| {
            heads
                .iter()
                .position(|&h| hash_distance(images[h].dhash, images[i].dhash) <= near)
        });
        match group {
            Some(g) => {
                members[g].push(i);
                by_sha.entry(images[i].sha256).or_insert(g);
            }
            None => {
                let g = members.len();
                members.push(vec![i]);
                heads.push(i);
                by_sha.insert(images[i].sha256, g);
            }
        }
    }
    members
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|members| {
            let exact = members
                .iter()
                .all(|&i| images[i].sha256 == images[members[0]].sha256);
            let max_distance = members
                .iter()
                .flat_map(|&a| members.iter().map(move |&b| (a, b)))
                .map(|(a, b)| hash_distance(images[a].dhash, images[b].dhash))
                .max()
                .unwrap_or(0);
            let splits: BTreeSet<&str> =
                members.iter().map(|&i| images[i].split.as_str()).collect();
            let keep = members
                .iter()
                .copied()
                .find(|&i| splits.len() > 1 && images[i].split == "test")
                .unwrap_or(members[0]);
            DuplicateGroup {
                leak: splits.len() > 1,
                images: members,
                exact,
                max_distance: if exact { 0 } else { max_distance },
                keep,
            }
        })
        .collect()
}

/// The quarantine folder of the dataset folder `root` when none is chosen: `ROOT-quarantine`
/// beside it.
pub fn default_quarantine(root: &Path) -> PathBuf {
    let name = root
        .file_name()
        .map_or("data".into(), |n| n.to_string_lossy());
    root.with_file_name(format!("{name}-quarantine"))
}

/// Moves the corrupt, non-image and too-large files and every extra copy of a duplicate
/// ([`CheckReport::extra_copies`]) into `to`, keeping their path below the dataset root (a
/// name taken already gets a `.N` suffix). Nothing is deleted. Returns `(from, to)` per file.
///
/// # Errors
/// [`DataError::Invalid`] when `to` lies inside the dataset folder,
/// [`DataError::Io`] when a file cannot be moved (another file system: move it by hand).
pub fn quarantine(report: &CheckReport, to: &Path) -> Result<Vec<(PathBuf, PathBuf)>, DataError> {
    let mut files: Vec<PathBuf> = report
        .problems
        .iter()
        .map(|p| p.path().to_path_buf())
        .collect();
    files.extend(report.extra_copies().into_iter().map(|r| r.path.clone()));
    files.sort();
    files.dedup();
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| DataError::io(p, e));
    let root_abs = report
        .root
        .canonicalize()
        .unwrap_or(absolute(&report.root)?);
    let to_abs = to.canonicalize().unwrap_or(absolute(to)?);
    if to_abs.starts_with(&root_abs) || to_abs.starts_with(absolute(&report.root)?) {
        return Err(DataError::Invalid(format!(
            "the quarantine folder {} lies inside the dataset {} (choose one beside it)",
            to.display(),
            report.root.display()
        )));
    }
    std::fs::create_dir_all(to).map_err(|e| DataError::io(to, e))?;
    let mut moved = Vec::with_capacity(files.len());
    for from in files {
        let relative = from
            .strip_prefix(&report.root)
            .unwrap_or(&from)
            .to_path_buf();
        let mut target = to.join(&relative);
        let mut n = 1;
        while target.exists() {
            target = to.join(format!("{}.{n}", relative.display()));
            n += 1;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        }
        std::fs::rename(&from, &target).map_err(|e| DataError::io(&from, e))?;
        moved.push((from, target));
    }
    Ok(moved)
}

/// A whole check as a person asks for it: the folder, where the report goes, the thresholds,
/// and whether to quarantine what is found. With the `clap` feature it is the option group of
/// `deepzero data check`.
///
/// ```no_run
/// use deepzero_data::check::CheckRequest;
///
/// let request = CheckRequest { fix: true, ..CheckRequest::new("data/cats-dogs") };
/// let report = request.check()?; // writes data-check/report.md and report.png
/// println!("{}", request.describe(&report));
/// if let Some(moved) = request.fix(&report)? {
///     println!("{moved}"); // "moved N files to data/cats-dogs-quarantine"
/// }
/// # Ok::<(), deepzero_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CheckRequest {
    /// The dataset folder.
    pub dir: PathBuf,
    /// Folder for report.md and report.png.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value = "data-check", value_name = "DIR")
    )]
    pub out: PathBuf,
    /// Move corrupt and non-image files and all but one copy of each duplicate into the
    /// quarantine folder.
    #[cfg_attr(feature = "clap", arg(long))]
    pub fix: bool,
    /// The quarantine folder (default: DIR-quarantine beside DIR).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub quarantine: Option<PathBuf>,
    /// Near duplicates: difference hashes at most this many bits apart (0–64).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 4, value_name = "BITS"))]
    pub near: u32,
    /// Images wider or taller than this are reported as too large.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 16384, value_name = "PX")
    )]
    pub max_side: u32,
}

impl CheckRequest {
    /// A check of `dir` with the command's defaults: the report into `data-check`, near
    /// duplicates within 4 bits, no quarantine.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let defaults = CheckOptions::default();
        Self {
            dir: dir.into(),
            out: PathBuf::from("data-check"),
            fix: false,
            quarantine: None,
            near: defaults.near_distance,
            max_side: defaults.max_side,
        }
    }

    /// Checks the folder ([`check_folder`]) and writes the report into `out`
    /// ([`write_report`]).
    ///
    /// # Errors
    /// [`DataError::BadOption`] for `near` above 64, else those of [`check_folder`] and
    /// [`write_report`].
    pub fn check(&self) -> Result<CheckReport, DataError> {
        if self.near > 64 {
            return Err(DataError::BadOption("--near takes 0 to 64 bits".into()));
        }
        let options = CheckOptions {
            near_distance: self.near,
            max_side: self.max_side,
            ..CheckOptions::default()
        };
        let report = check_folder(&self.dir, &options)?;
        write_report(&report, &self.out)?;
        Ok(report)
    }

    /// The lines a front end prints after [`check`](Self::check): the summary, each warning,
    /// and where the report is.
    pub fn describe(&self, report: &CheckReport) -> String {
        let mut lines = vec![report.summary()];
        lines.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
        lines.push(format!("report: {}", self.out.join("report.md").display()));
        lines.join("\n")
    }

    /// With `fix`, moves what `report` found into the quarantine folder ([`quarantine`]) and
    /// says how many files went where; without it, does nothing.
    ///
    /// # Errors
    /// Those of [`quarantine`].
    pub fn fix(&self, report: &CheckReport) -> Result<Option<String>, DataError> {
        if !self.fix {
            return Ok(None);
        }
        let to = self.quarantine.clone();
        let to = to.unwrap_or_else(|| default_quarantine(&self.dir));
        let moved = quarantine(report, &to)?;
        Ok(Some(format!(
            "moved {} files to {}",
            moved.len(),
            to.display()
        )))
    }
}

/// Samples drawn per class in the report picture, and classes drawn at most.
const SAMPLES: usize = 8;
const MAX_CLASS_ROWS: usize = 16;

/// Writes `out/report.md` ([`CheckReport::markdown`]) and `out/report.png`: class counts per
/// split as bars, then a row of sample images per class.
///
/// # Errors
/// [`DataError::Io`] when `out` or a file in it cannot be written.
pub fn write_report(report: &CheckReport, out: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let md = out.join("report.md");
    std::fs::write(&md, report.markdown()).map_err(|e| DataError::io(&md, e))?;
    draw_report(report, &out.join("report.png"))
}

fn draw_report(report: &CheckReport, path: &Path) -> Result<(), DataError> {
    use crate::draw::{black_label, register_font};
    use plotters::prelude::*;
    register_font();
    const CELL: u32 = 72;
    const LABEL: u32 = 160;
    const CHART: u32 = 320;
    let rows = report.classes.len().min(MAX_CLASS_ROWS) as u32;
    let width = (LABEL + SAMPLES as u32 * CELL).max(720);
    let height = CHART + 30 + rows * CELL;
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    // Sample thumbnails, pasted before plotters draws the text on top.
    for (row, class) in report.classes.iter().take(MAX_CLASS_ROWS).enumerate() {
        let samples = report
            .images
            .iter()
            .filter(|i| &i.class == class)
            .take(SAMPLES);
        for (col, record) in samples.enumerate() {
            let Ok(image) = image::open(&record.path) else {
                continue;
            };
            let thumb = image.thumbnail(CELL - 4, CELL - 4).to_rgb8();
            let (x0, y0) = (
                LABEL + col as u32 * CELL + 2,
                CHART + 30 + row as u32 * CELL + 2,
            );
            image::imageops::overlay(&mut canvas, &thumb, i64::from(x0), i64::from(y0));
        }
    }
    let err =
        |e: String| DataError::Invalid(format!("{}: cannot draw the report: {e}", path.display()));
    {
        let buffer: &mut [u8] = &mut canvas;
        let root = BitMapBackend::with_buffer(buffer, (width, height)).into_drawing_area();
        let (chart_area, samples_area) = root.split_vertically(CHART + 30);
        let max = report
            .splits
            .iter()
            .flat_map(|s| s.counts.values().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        let n = report.classes.len().max(1);
        let mut chart = ChartBuilder::on(&chart_area)
            .caption("images per class", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..n as f64, 0f64..max as f64 * 1.1)
            .map_err(|e| err(e.to_string()))?;
        // Class names go under the bars by hand: the mesh would label round numbers.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let shown = n.min(40);
        for (c, class) in report.classes.iter().enumerate().take(shown) {
            let (x, y) = chart.backend_coord(&(c as f64 + 0.5, 0.0));
            let name: String = class.chars().take(12).collect();
            let at = (x - 4 * class.chars().count().min(12) as i32, y + 6);
            root.draw(&black_label(name, at, 13))
                .map_err(|e| err(e.to_string()))?;
        }
        let palette = [BLUE, RED, GREEN, MAGENTA];
        let k = report.splits.len().max(1) as f64;
        for (s, split) in report.splits.iter().enumerate() {
            let color = palette[s % palette.len()];
            let name = if split.split.is_empty() {
                "images".to_string()
            } else {
                split.split.clone()
            };
            chart
                .draw_series(report.classes.iter().enumerate().map(|(c, class)| {
                    let count = split.counts.get(class).copied().unwrap_or(0) as f64;
                    let x0 = c as f64 + 0.1 + 0.8 * s as f64 / k;
                    Rectangle::new([(x0, 0.0), (x0 + 0.8 / k, count)], color.mix(0.7).filled())
                }))
                .map_err(|e| err(e.to_string()))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        samples_area
            .draw(&black_label("samples per class".into(), (10, 6), 16))
            .map_err(|e| err(e.to_string()))?;
        for (row, class) in report.classes.iter().take(MAX_CLASS_ROWS).enumerate() {
            let y = row as i32 * CELL as i32 + CELL as i32 / 2 - 8;
            samples_area
                .draw(&black_label(class.clone(), (10, y), 15))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    canvas.save(path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// A 32×32 image of 8×8 random blocks, different for each seed.
    fn picture(seed: u64) -> RgbImage {
        let mut rng = StdRng::seed_from_u64(seed);
        let coarse: Vec<[u8; 3]> = (0..64)
            .map(|_| [rng.random(), rng.random(), rng.random()])
            .collect();
        RgbImage::from_fn(32, 32, |x, y| Rgb(coarse[((y / 4) * 8 + x / 4) as usize]))
    }

    fn save(image: &RgbImage, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image.save(path).unwrap();
    }

    /// train/{cat,dog,bird}, test/{cat,dog,bird,fish}: distinct pictures plus planted faults.
    fn planted() -> (
        tempfile::TempDir,
        Vec<&'static str>,
        Vec<(&'static str, &'static str)>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let mut seed = 0;
        for (split, n) in [("train", 6), ("test", 2)] {
            for class in ["cat", "dog", "bird"] {
                for i in 0..n {
                    seed += 1;
                    save(
                        &picture(seed),
                        &root.join(format!("{split}/{class}/{i}.png")),
                    );
                }
            }
        }
        // Corrupt: a truncated PNG, text named .jpg, an empty .png.
        let png = std::fs::read(root.join("train/cat/0.png")).unwrap();
        std::fs::write(root.join("train/cat/truncated.png"), &png[..png.len() / 2]).unwrap();
        std::fs::write(root.join("train/dog/fake.jpg"), "not a jpeg").unwrap();
        std::fs::write(root.join("test/dog/empty.png"), "").unwrap();
        // Not an image at all.
        std::fs::write(root.join("train/bird/notes.txt"), "label noise?").unwrap();
        // Too large: a 20000×1 grey PNG (small on disk).
        GrayImage::from_pixel(20000, 1, Luma([9]))
            .save(root.join("train/bird/wide.png"))
            .unwrap();
        // Exact duplicate within train, and across train/test (leakage).
        std::fs::copy(
            root.join("train/cat/1.png"),
            root.join("train/dog/copy-of-cat1.png"),
        )
        .unwrap();
        std::fs::copy(
            root.join("train/dog/2.png"),
            root.join("test/dog/leaked.png"),
        )
        .unwrap();
        // Near duplicates: a JPEG re-encoding, and a brighter, larger copy in test.
        let cat3 = image::open(root.join("train/cat/3.png")).unwrap();
        cat3.save(root.join("train/cat/3-again.jpg")).unwrap();
        let mut brighter = picture(seed_of("train", "bird", 4)).clone();
        brighter
            .pixels_mut()
            .for_each(|p| p.0.iter_mut().for_each(|v| *v = v.saturating_add(6)));
        let brighter = image::imageops::resize(&brighter, 48, 48, FilterType::Triangle);
        save(&brighter, &root.join("test/bird/bigger-bird4.png"));
        // An empty class folder, and a grey image among RGB ones.
        std::fs::create_dir_all(root.join("test/fish")).unwrap();
        picture(999).save(root.join("test/cat/extra.png")).unwrap();
        DynamicImage::ImageRgb8(picture(1000))
            .to_luma8()
            .save(root.join("train/cat/grey.png"))
            .unwrap();
        let problems = vec![
            "train/cat/truncated.png",
            "train/dog/fake.jpg",
            "test/dog/empty.png",
            "train/bird/notes.txt",
            "train/bird/wide.png",
        ];
        let duplicates = vec![
            ("train/cat/1.png", "train/dog/copy-of-cat1.png"),
            ("train/dog/2.png", "test/dog/leaked.png"),
            ("train/cat/3.png", "train/cat/3-again.jpg"),
            ("train/bird/4.png", "test/bird/bigger-bird4.png"),
        ];
        (dir, problems, duplicates)
    }

    /// The seed `planted` gave `split/class/i.png`.
    fn seed_of(split: &str, class: &str, i: u64) -> u64 {
        let class_index = ["cat", "dog", "bird"]
            .iter()
            .position(|c| *c == class)
            .unwrap() as u64;
        match split {
            "train" => class_index * 6 + i + 1,
            _ => 18 + class_index * 2 + i + 1,
        }
    }

    fn rel(report: &CheckReport, path: &Path) -> String {
        path.strip_prefix(&report.root)
            .unwrap()
            .display()
            .to_string()
    }

    #[test]
    fn every_planted_fault_is_found_and_nothing_else() {
        let (dir, problems, duplicates) = planted();
        let root = dir.path().join("data");
        let report = check_folder(&root, &CheckOptions::default()).unwrap();
        let summary = report.summary();
        let counts = format!(
            "{} images, {} classes; {} unusable files",
            report.images.len(),
            report.classes.len(),
            problems.len()
        );
        assert!(summary.contains(&counts), "{summary}");
        assert_eq!(
            default_quarantine(&root),
            dir.path().join("data-quarantine")
        );

        let mut found: Vec<String> = report
            .problems
            .iter()
            .map(|p| rel(&report, p.path()))
            .collect();
        found.sort();
        let mut expected: Vec<String> = problems.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected);
        let kind = |name: &str| {
            report
                .problems
                .iter()
                .find(|p| p.path().ends_with(name))
                .unwrap()
                .clone()
        };
        assert!(matches!(kind("notes.txt"), FileProblem::NotAnImage { .. }));
        assert!(matches!(kind("wide.png"), FileProblem::TooLarge { .. }));
        assert!(matches!(kind("fake.jpg"), FileProblem::Corrupt { .. }));

        let groups: Vec<(Vec<String>, bool, bool)> = report
            .duplicates
            .iter()
            .map(|g| {
                let files = g
                    .images
                    .iter()
                    .map(|&i| rel(&report, &report.images[i].path))
                    .collect();
                (files, g.exact, g.leak)
            })
            .collect();
        assert_eq!(groups.len(), duplicates.len(), "{groups:?}");
        for (a, b) in &duplicates {
            let group = groups
                .iter()
                .find(|(files, _, _)| files.contains(&a.to_string()))
                .unwrap_or_else(|| panic!("{a} not in a duplicate group: {groups:?}"));
            let mut want = vec![a.to_string(), b.to_string()];
            want.sort();
            assert_eq!(group.0, want);
            assert_eq!(
                group.1,
                !(a.contains("3.png") || a.contains("bird/4")),
                "exact? {a}"
            );
            assert_eq!(group.2, b.starts_with("test"), "leak? {a}");
        }
        assert_eq!(report.empty_classes.len(), 1);
        assert!(report.empty_classes[0].ends_with("test/fish"));
        assert_eq!(report.classes, ["bird", "cat", "dog", "fish"]);
        let train = &report.splits.iter().find(|s| s.split == "train").unwrap();
        // 6 pictures each, plus cat: 3-again.jpg and grey.png, dog: copy-of-cat1.png.
        assert_eq!(train.counts["cat"], 8);
        assert_eq!(train.counts["dog"], 7);
        assert_eq!(train.counts["bird"], 6);
        assert_eq!(train.counts["fish"], 0);
        assert_eq!(report.channel_counts()[&1], 1);
        assert!(
            report.warnings.iter().any(|w| w.contains("mixed channel")),
            "{:?}",
            report.warnings
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("no readable image of class fish"))
        );

        // The report files.
        let out = dir.path().join("report");
        write_report(&report, &out).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(
            md.contains("across splits") && md.contains("truncated.png"),
            "{md}"
        );
        let png = image::open(out.join("report.png")).unwrap();
        assert!(png.width() >= 720 && png.height() > 320);

        // The fix moves every planted file (and one copy per duplicate), and a second check is
        // clean apart from the empty class.
        let quarantine_dir = dir.path().join("quarantine");
        let moved = quarantine(&report, &quarantine_dir).unwrap();
        assert_eq!(moved.len(), problems.len() + duplicates.len());
        // The test copy of a leak stays; the train copy goes.
        assert!(root.join("test/dog/leaked.png").exists());
        assert!(quarantine_dir.join("train/dog/2.png").exists());
        let again = check_folder(&root, &CheckOptions::default()).unwrap();
        assert!(
            again.problems.is_empty() && again.duplicates.is_empty(),
            "{}",
            again.markdown()
        );
        assert_eq!(again.images.len(), report.images.len() - duplicates.len());
    }

    #[test]
    fn single_class_flat_trees_and_bad_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        save(&picture(1), &root.join("only/a.png"));
        save(&picture(2), &root.join("only/b.png"));
        std::fs::write(root.join("README.md"), "hello").unwrap();
        let report = check_folder(root, &CheckOptions::default()).unwrap();
        assert_eq!(report.splits.len(), 1);
        assert_eq!(report.images.len(), 2);
        assert!(report.warnings.iter().any(|w| w.contains("only one class")));
        assert_eq!(report.ignored.len(), 1);
        // The quarantine may not lie inside the data.
        let err = quarantine(&report, &root.join("q"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the dataset"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        let err = check_folder(empty.path(), &CheckOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::EmptyFolder { .. }), "{err}");
        let err = check_folder(&empty.path().join("nope"), &CheckOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::MissingDir { .. }), "{err}");
    }

    #[test]
    fn a_request_checks_reports_and_quarantines() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        save(&picture(1), &root.join("a/1.png"));
        save(&picture(2), &root.join("b/2.png"));
        std::fs::copy(root.join("a/1.png"), root.join("b/copy.png")).unwrap();
        let request = CheckRequest {
            out: dir.path().join("report"),
            fix: true,
            ..CheckRequest::new(&root)
        };
        let too_far = CheckRequest {
            near: 65,
            ..request.clone()
        };
        assert_eq!(
            too_far.check().unwrap_err().to_string(),
            "--near takes 0 to 64 bits"
        );
        let report = request.check().unwrap();
        assert!(dir.path().join("report/report.md").is_file());
        let text = request.describe(&report);
        assert!(text.starts_with(&report.summary()), "{text}");
        assert!(text.ends_with("report.md"), "{text}");
        let moved = request.fix(&report).unwrap().unwrap();
        let to = dir.path().join("data-quarantine");
        assert_eq!(moved, format!("moved 1 files to {}", to.display()));
        // One of the two copies stays, the other went to the quarantine.
        let left = [root.join("a/1.png"), root.join("b/copy.png")];
        assert_eq!(left.iter().filter(|p| p.exists()).count(), 1);
        assert!(root.join("b/2.png").exists());
        let no_fix = CheckRequest {
            fix: false,
            ..request
        };
        assert_eq!(no_fix.fix(&report).unwrap(), None);
    }

    #[test]
    fn dhash_is_stable_under_reencoding_and_far_between_pictures() {
        let a = DynamicImage::ImageRgb8(picture(1));
        let b = DynamicImage::ImageRgb8(picture(2));
        let resized = a.resize_exact(64, 64, FilterType::Triangle);
        assert!(hash_distance(dhash(&a), dhash(&resized)) <= 4);
        assert!(hash_distance(dhash(&a), dhash(&b)) > 10);
        // A left-to-right ramp that gets darker: every row bit set, no column bit.
        let ramp =
            DynamicImage::ImageLuma8(GrayImage::from_fn(90, 90, |x, _| Luma([255 - x as u8 * 2])));
        assert_eq!(dhash(&ramp), [u64::MAX, 0]);
    }
}
