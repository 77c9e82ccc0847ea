//! Photographs with semantic masks in the layout of `shared/datasets/coco128`: a class table in
//! `semantic.yaml`, images in `images/<split>/`, 8-bit grey masks of the table's ids in
//! `semantic_masks/<split>/<stem>.png`.
//!
//! ```text
//! coco128/
//!   semantic.yaml                   classes:  0: unlabeled  1: person  …  200: rug-merged (130)
//!   images/train2017/000000000009.jpg
//!   semantic_masks/train2017/000000000009.png
//! ```
//!
//! The table's ids need not be contiguous (coco128's run to 200 for 130 entries), so they
//! are renumbered in table order: the id listed first becomes 0, the next 1, and so on. The
//! entry named `unlabeled` (COCO: pixels of no panoptic segment, about 10 % of coco128's) is
//! kept as class 0 but its pixels are marked [`IGNORE_INDEX`]: neither the loss nor the metrics
//! count them, as torchvision's and mmsegmentation's references treat void pixels. Images
//! without a mask are left out; a mask without its image is an error.
//!
//! Every photo is resized to one square `side × side` (bilinear image, half-pixel nearest
//! mask), so a batch has one shape and [`super::task::Predictor`] reads new photos the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use deepzero_data::{DataError, load_image};
use serde::{Deserialize, Serialize};

use super::data::{
    MaskAugmentation, MaskedImage, MaskedImages, read_mask_png, resize_nearest_exact_u8,
};
use super::metrics::IGNORE_INDEX;

/// The name of the class table's void entry.
pub const UNLABELED: &str = "unlabeled";

/// A folder of photographs with masks, as a recipe trains on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoMasks {
    /// The training split's folder name (`images/<train>`, `semantic_masks/<train>`).
    pub train_split: String,
    /// The test split's folder name.
    pub test_split: String,
    /// Side of the square every photo is resized to.
    pub side: usize,
    /// Training-time augmentation.
    pub augment: MaskAugmentation,
}

impl PhotoMasks {
    /// coco128's `train2017` / `val2017` at `side × side`, with a 0.75–1.25 zoom, crop/pad
    /// (padding ignored) and mirroring.
    pub fn coco128(side: usize) -> Self {
        Self {
            train_split: "train2017".into(),
            test_split: "val2017".into(),
            side,
            augment: MaskAugmentation {
                scale: Some((0.75, 1.25)),
                horizontal_flip: true,
                pad_class: IGNORE_INDEX as u8,
            },
        }
    }

    /// The training and test splits of the folder `root`, and a one-line description of them.
    ///
    /// # Errors
    /// A one-line [`DataError`] naming the file or folder at fault.
    pub fn load(&self, root: &Path) -> Result<(MaskedImages, MaskedImages, String), DataError> {
        if self.side == 0 {
            return Err(DataError::Invalid(
                "photos need a side of at least 1".into(),
            ));
        }
        let table = ClassTable::read(&root.join("semantic.yaml"))?;
        let train = self.load_split(root, &self.train_split, &table)?;
        let test = self.load_split(root, &self.test_split, &table)?;
        let label = format!(
            "{} + {} photos with masks ({} classes) from {}, resized to {}²",
            train.len(),
            test.len(),
            table.names.len(),
            root.display(),
            self.side
        );
        Ok((train, test, label))
    }

    fn load_split(
        &self,
        root: &Path,
        split: &str,
        table: &ClassTable,
    ) -> Result<MaskedImages, DataError> {
        let images = root.join("images").join(split);
        let masks = root.join("semantic_masks").join(split);
        let mut items = Vec::new();
        for mask_path in png_files(&masks)? {
            let image_path = image_for(&images, &mask_path)?;
            items.push(self.read_pair(&image_path, &mask_path, table)?);
        }
        if items.is_empty() {
            return Err(DataError::Invalid(format!(
                "{}: no mask files (.png)",
                masks.display()
            )));
        }
        MaskedImages::new(items, table.names.clone())
    }

    /// One photo and its mask at `side × side`, the mask's ids renumbered by `table`.
    fn read_pair(
        &self,
        image_path: &Path,
        mask_path: &Path,
        table: &ClassTable,
    ) -> Result<MaskedImage, DataError> {
        let (w, h) = image::image_dimensions(image_path).map_err(|source| DataError::Decode {
            path: image_path.to_path_buf(),
            source,
        })?;
        let size = [h as usize, w as usize];
        let raw = read_mask_png(mask_path, Some(size), IGNORE_INDEX + 1)?;
        let mask = table.renumber(&raw).map_err(|id| {
            DataError::Invalid(format!(
                "{}: id {id} is not in semantic.yaml's class table",
                mask_path.display()
            ))
        })?;
        let side = [self.side, self.side];
        let image = load_image(image_path, 3, side)?;
        MaskedImage::new(image, resize_nearest_exact_u8(&mask, size, side))
    }
}

/// A dataset's class table: names in table order, and the file id → class id map.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassTable {
    /// Class names, index = class id.
    pub names: Vec<String>,
    /// For every file id, its class id, [`IGNORE_INDEX`] for the `unlabeled` entry and for 255,
    /// `None` for ids the table does not list.
    map: Vec<Option<u8>>,
}

impl ClassTable {
    /// Reads the `classes:` (or `names:`) block of a YAML file: one `ID: name` line per class,
    /// indented under the key. Only this block is read; the rest of the file is not parsed.
    ///
    /// # Errors
    /// A one-line [`DataError`] naming the file: unreadable, no block, a malformed line, a
    /// repeated id or name, an id above 254, or more than 255 classes.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let text = deepzero_data::read_text_file(path)?;
        Self::parse(&text).map_err(|e| DataError::Invalid(format!("{}: {e}", path.display())))
    }

    /// [`ClassTable::read`] on the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().map(|l| l.split('#').next().unwrap_or(""));
        lines
            .by_ref()
            .find(|l| matches!(l.trim_end(), "classes:" | "names:"))
            .ok_or("no `classes:` block")?;
        let mut entries: BTreeMap<u8, String> = BTreeMap::new();
        let mut order = Vec::new();
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            if !line.starts_with([' ', '\t']) {
                break; // the next top-level key
            }
            let (id, name) = line
                .split_once(':')
                .ok_or_else(|| format!("`{}` is not `ID: name`", line.trim()))?;
            let id: u8 = id
                .trim()
                .parse()
                .ok()
                .filter(|&id| usize::from(id) != IGNORE_INDEX)
                .ok_or_else(|| format!("`{}`: a class id is 0 to 254", id.trim()))?;
            let name = name.trim().trim_matches(['"', '\'']).to_string();
            if name.is_empty() || entries.values().any(|n| *n == name) {
                return Err(format!("class {id}: an empty or repeated name `{name}`"));
            }
            if entries.insert(id, name).is_some() {
                return Err(format!("class id {id} is listed twice"));
            }
            order.push(id);
        }
        if order.len() < 2 {
            return Err("a class table needs at least two classes".into());
        }
        let mut map = vec![None; 256];
        map[IGNORE_INDEX] = Some(IGNORE_INDEX as u8);
        let mut names = Vec::with_capacity(order.len());
        for (class, id) in order.iter().enumerate() {
            let name = entries[id].clone();
            map[usize::from(*id)] = Some(if name == UNLABELED {
                IGNORE_INDEX as u8
            } else {
                class as u8
            });
            names.push(name);
        }
        Ok(Self { names, map })
    }

    /// The mask with its file ids replaced by class ids; `Err(id)` for the first id the table
    /// does not list.
    pub fn renumber(&self, mask: &[u8]) -> Result<Vec<u8>, u8> {
        mask.iter()
            .map(|&id| self.map[usize::from(id)].ok_or(id))
            .collect()
    }
}

/// The `.png` files of `dir`, sorted.
fn png_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    Ok(files)
}

/// The image of `mask` in `images`: the same stem with a `.jpg`, `.jpeg` or `.png` extension.
fn image_for(images: &Path, mask: &Path) -> Result<PathBuf, DataError> {
    let stem = mask.file_stem().unwrap_or_default().to_string_lossy();
    let tried = ["jpg", "jpeg", "png", "JPG", "JPEG", "PNG"].map(|e| format!("{stem}.{e}"));
    tried
        .iter()
        .map(|name| images.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: images.to_path_buf(),
            what: format!("image for the mask {}", mask.display()),
            tried: tried.to_vec(),
        })
}

/// Writes a two-split folder (`a`, `b`) in coco128's layout for tests: `n` 12×8 photos per
/// split, each mask's left half id 7 (class 2), right half id 200 (class 3), pixel (0, 0)
/// unlabeled.
#[cfg(test)]
pub(crate) fn write_test_folder(root: &Path, n: usize) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("semantic.yaml"), tests::YAML).unwrap();
    for split in ["a", "b"] {
        let images = root.join("images").join(split);
        let masks = root.join("semantic_masks").join(split);
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&masks).unwrap();
        for i in 0..n {
            // Bright on the left, dark on the right: the classes can be told apart.
            let img = image::RgbImage::from_fn(12, 8, |x, _| {
                let v = if x < 6 { 220 } else { 30 };
                image::Rgb([v, v / 2, 255 - v])
            });
            img.save(images.join(format!("{i:03}.png"))).unwrap();
            let mut mask: Vec<u8> = (0..8 * 12)
                .map(|p| if p % 12 < 6 { 7 } else { 200 })
                .collect();
            mask[0] = 0;
            super::data::write_mask_png(&masks.join(format!("{i:03}.png")), &mask, [8, 12])
                .unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::data::write_mask_png;

    pub(crate) const YAML: &str = "# a comment\ntrain:\n  images: x\nclasses:\n  0: unlabeled\n  1: person\n  7: 'train'\n  200: rug-merged\nother: 1\n";

    #[test]
    fn the_table_renumbers_in_order_and_ignores_unlabeled() {
        let table = ClassTable::parse(YAML).unwrap();
        assert_eq!(table.names, ["unlabeled", "person", "train", "rug-merged"]);
        assert_eq!(
            table.renumber(&[0, 1, 7, 200, 255]),
            Ok(vec![255, 1, 2, 3, 255])
        );
        assert_eq!(table.renumber(&[1, 3]), Err(3));
    }

    #[test]
    fn bad_tables_are_refused_with_a_reason() {
        for (text, reason) in [
            ("names_missing: 1\n", "no `classes:`"),
            ("classes:\n  1: a\n  1: b\n", "listed twice"),
            ("classes:\n  1: a\n  2: a\n", "repeated name"),
            ("classes:\n  255: a\n  2: b\n", "0 to 254"),
            ("classes:\n  x: a\n  2: b\n", "0 to 254"),
            ("classes:\n  just words\n", "not `ID: name`"),
            ("classes:\n  1: a\n", "at least two"),
        ] {
            let err = ClassTable::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text:?}: {err}");
        }
    }

    fn spec(side: usize) -> PhotoMasks {
        PhotoMasks {
            train_split: "a".into(),
            test_split: "b".into(),
            ..PhotoMasks::coco128(side)
        }
    }

    #[test]
    fn a_folder_loads_resized_and_renumbered() {
        let dir = tempfile::tempdir().unwrap();
        super::write_test_folder(dir.path(), 3);
        // An image without a mask is left out.
        image::RgbImage::new(4, 4)
            .save(dir.path().join("images/a/999.jpg"))
            .unwrap();
        let (train, test, label) = spec(4).load(dir.path()).unwrap();
        assert_eq!((train.len(), test.len()), (3, 3));
        assert_eq!(train.shape(), [3, 4, 4]);
        assert_eq!(train.class_names.len(), 4);
        // 12×8 → 4×4, half-pixel nearest: output column x reads source column ⌊(x + ½)·3⌋
        // (1, 4, 7, 10), row y source row 2y + 1, so the unlabeled pixel (0, 0) is not read.
        assert_eq!(train.items[0].mask, [2, 2, 3, 3].repeat(4));
        assert!(label.contains("3 + 3 photos"), "{label}");
    }

    #[test]
    fn a_mask_without_image_or_with_an_unknown_id_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        super::write_test_folder(dir.path(), 2);
        std::fs::remove_file(dir.path().join("images/b/001.png")).unwrap();
        let err = spec(4).load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("001.png"), "{err}");

        super::write_test_folder(dir.path(), 2);
        write_mask_png(
            &dir.path().join("semantic_masks/a/000.png"),
            &[3; 96],
            [8, 12],
        )
        .unwrap();
        let err = spec(4).load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("000.png") && err.contains("id 3"), "{err}");

        super::write_test_folder(dir.path(), 2);
        write_mask_png(
            &dir.path().join("semantic_masks/a/000.png"),
            &[7; 4],
            [2, 2],
        )
        .unwrap();
        let err = spec(4).load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("000.png"), "{err}");
    }
}
