//! deepzero's image classifiers in the browser (seed chapter 7.3, deployment).
//!
//! A [`Classifier`] is a trained run (`run.json` + `model.bpk`, the files `deepzero train`
//! writes) loaded from bytes, predicting on the CPU with burn's Flex backend from an encoded
//! image file (a dropped photo) or from RGBA pixels (a canvas): the same preprocessing as
//! `deepzero predict` on a file ([`Predictor::predict_image`]), so the same image gets the
//! same top-5. Every failure — damaged model bytes, a `run.json` of another kind of run, a
//! file that is no image, an image over [`MAX_SIDE`] — is a one-line error, never a panic.
//!
//! Built for `wasm32-unknown-unknown`, the crate exports the JavaScript class `Classifier`
//! (wasm-bindgen; see `www/` for the page and `docs/serve.md`, "In the browser"). On the host
//! it is an ordinary library, tested like the others.
//!
//! ```no_run
//! let run = std::path::Path::new("runs/mnist-lenet");
//! let classifier = deepzero_web::Classifier::load(
//!     &std::fs::read(run.join("run.json")).unwrap(),
//!     &std::fs::read(run.join("model.bpk")).unwrap(),
//!     None,
//! )?;
//! let answer = classifier.predict_file("digit.png", &std::fs::read("digit.png").unwrap(), 5)?;
//! println!("{}", answer.to_json());
//! # Ok::<(), String>(())
//! ```

use burn::prelude::Device;
use deepzero_data::ImageItem;
use deepzero_vision::tasks::classify::{ImageRunInfo, InvertMode, PredictOptions, Predictor};
use serde::Serialize;

#[cfg(target_arch = "wasm32")]
mod wasm;

/// The largest image file read (bytes).
pub const MAX_FILE_BYTES: usize = 32 << 20;
/// The largest image width or height decoded (pixels).
pub const MAX_SIDE: u32 = 8192;
/// The largest `model.bpk` loaded (bytes): above the ImageNet ResNet-50 (98 MB).
pub const MAX_MODEL_BYTES: usize = 256 << 20;

/// A trained image classifier loaded from the bytes of its run folder's files.
pub struct Classifier {
    predictor: Predictor,
}

/// One class of a prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    /// Class id.
    pub class: usize,
    /// Class name (`run.json`'s `class_names`).
    pub label: String,
    /// Probability (softmax).
    pub probability: f32,
}

/// What [`Classifier`] answers for one image.
#[derive(Clone, Debug, Serialize)]
pub struct Answer {
    /// The most probable classes, best first.
    pub top: Vec<Score>,
    /// The image as the model saw it (resized, grey or RGB, inverted where needed), for a
    /// preview: `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// That image as `H × W` RGBA bytes, row-major (not in the JSON).
    #[serde(skip)]
    pub input_rgba: Vec<u8>,
}

impl Answer {
    /// The answer as JSON: `{"top":[{"class":7,"label":"7","probability":0.98},…],"input_shape":[1,28,28]}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// What the page shows about the loaded run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The recipe that trained it.
    pub recipe: String,
    /// The architecture's name.
    pub arch: String,
    /// Input `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Class names.
    pub class_names: Vec<String>,
    /// Where its training data came from.
    pub data: String,
}

impl Classifier {
    /// Loads a run from the bytes of its `run.json` and `model.bpk`; `sha256`, the content of
    /// `model.bpk.sha256`, is checked when given.
    ///
    /// # Errors
    /// A one-line message for a `run.json` that is not an image classifier's, a model too large
    /// or damaged, or one that does not fit the run.
    pub fn load(run_json: &[u8], model: &[u8], sha256: Option<&str>) -> Result<Self, String> {
        if model.len() > MAX_MODEL_BYTES {
            return Err(format!(
                "model.bpk is {} MiB, over the limit of {} MiB",
                model.len() >> 20,
                MAX_MODEL_BYTES >> 20
            ));
        }
        let predictor = Predictor::from_bytes(run_json, model, sha256, &Device::flex())
            .map_err(|e| one_line(&e.to_string()))?;
        Ok(Self { predictor })
    }

    /// What `run.json` says about the model.
    pub fn info(&self) -> &ImageRunInfo {
        self.predictor.info()
    }

    /// [`Classifier::info`] in short, for the page.
    pub fn summary(&self) -> RunSummary {
        let info = self.info();
        RunSummary {
            recipe: info.recipe.clone(),
            arch: info.arch.name().to_string(),
            input_shape: info.input_shape,
            class_names: info.class_names.clone(),
            data: info.data.clone(),
        }
    }

    /// The `top_k` most probable classes of an encoded image file (PNG or JPEG, sniffed from
    /// the content; `name` is only for messages), decoded and prepared as `deepzero predict`
    /// does.
    ///
    /// # Errors
    /// A one-line message for a file over [`MAX_FILE_BYTES`], bytes that are not an image, an
    /// image over [`MAX_SIDE`].
    pub fn predict_file(&self, name: &str, bytes: &[u8], top_k: usize) -> Result<Answer, String> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{name} is {} MiB, over the limit of {} MiB",
                bytes.len() >> 20,
                MAX_FILE_BYTES >> 20
            ));
        }
        let image = deepzero_data::decode_image_within(name.as_ref(), bytes, MAX_SIDE)
            .map_err(|e| one_line(&e.to_string()))?;
        self.predict_decoded(name, &image, top_k)
    }

    /// The `top_k` most probable classes of `width × height` RGBA pixels, row-major (a
    /// canvas's `ImageData`), prepared as an RGBA image file of those pixels would be.
    ///
    /// # Errors
    /// A one-line message for a size of zero or over [`MAX_SIDE`], or pixels that do not
    /// match it.
    pub fn predict_rgba(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        top_k: usize,
    ) -> Result<Answer, String> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(format!(
                "the picture is {width}×{height} pixels; it must be 1 to {MAX_SIDE} a side"
            ));
        }
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected {
            return Err(format!(
                "{} bytes of pixels for a {width}×{height} RGBA picture, which takes {expected}",
                rgba.len()
            ));
        }
        let image = image::RgbaImage::from_raw(width, height, rgba)
            .ok_or_else(|| "the pixels do not fill the picture".to_string())?;
        self.predict_decoded("canvas", &image::DynamicImage::ImageRgba8(image), top_k)
    }

    fn predict_decoded(
        &self,
        name: &str,
        image: &image::DynamicImage,
        top_k: usize,
    ) -> Result<Answer, String> {
        let options = PredictOptions {
            top_k,
            invert: InvertMode::Auto,
        };
        // What Predictor::predict_image does, keeping the prepared image for the preview.
        let item = self
            .info()
            .prepare_image(image, options.invert)
            .map_err(|e| one_line(&e.to_string()))?;
        let prediction = self
            .predictor
            .predict_items(&[name.into()], std::slice::from_ref(&item), options.top_k)
            .map_err(|e| one_line(&e.to_string()))?
            .remove(0);
        Ok(Answer {
            top: prediction
                .top
                .into_iter()
                .map(|(class, label, probability)| Score {
                    class,
                    label,
                    probability,
                })
                .collect(),
            input_shape: item.shape,
            input_rgba: to_rgba(&item),
        })
    }
}

/// A channel-first grey or RGB item as row-major RGBA bytes (opaque).
fn to_rgba(item: &ImageItem) -> Vec<u8> {
    let [c, h, w] = item.shape;
    let hw = h * w;
    let mut out = Vec::with_capacity(hw * 4);
    for i in 0..hw {
        let px = |ch: usize| item.pixels[(if c == 3 { ch } else { 0 }) * hw + i];
        out.extend_from_slice(&[px(0), px(1), px(2), 255]);
    }
    out
}

/// `message` on one line.
fn one_line(message: &str) -> String {
    message.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_train::checkpoint::save_model;
    use deepzero_vision::Architecture;
    use deepzero_vision::tasks::classify::{Preprocess, RUN_VERSION};
    use std::path::Path;

    /// An untrained `mnist-lenet`-shaped run folder in `dir`.
    fn lenet_run(dir: &Path) {
        let model = Architecture::LeNet5.build([1, 28, 28], 10, &Device::flex());
        save_model(&model, &dir.join("model.bpk")).unwrap();
        ImageRunInfo {
            version: RUN_VERSION,
            recipe: "mnist-lenet".into(),
            arch: Architecture::LeNet5,
            input_shape: [1, 28, 28],
            class_names: (0..10).map(|c| c.to_string()).collect(),
            mean: vec![0.1307],
            std: vec![0.3081],
            data: "untrained".into(),
            preprocess: Some(Preprocess::Resize),
        }
        .save(dir)
        .unwrap();
    }

    fn load(dir: &Path) -> Classifier {
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let sha256 = String::from_utf8(read("model.bpk.sha256")).unwrap();
        Classifier::load(&read("run.json"), &read("model.bpk"), Some(&sha256)).unwrap()
    }

    /// A 140×140 canvas: a black stroke on white, with transparent corners.
    fn canvas() -> image::RgbaImage {
        image::RgbaImage::from_fn(140, 140, |x, y| {
            if x.abs_diff(70) < 12 && (25..115).contains(&y) {
                image::Rgba([0, 0, 0, 255])
            } else if x < 10 && y < 10 {
                image::Rgba([0, 0, 0, 0])
            } else {
                image::Rgba([255, 255, 255, 255])
            }
        })
    }

    #[test]
    fn files_and_pixels_predict_as_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        lenet_run(dir.path());
        let png = dir.path().join("digit.png");
        canvas().save(&png).unwrap();
        // What `deepzero predict` does with the file.
        let cli = Predictor::load(dir.path(), None, &Device::flex())
            .unwrap()
            .predict(std::slice::from_ref(&png), &PredictOptions::default())
            .unwrap()
            .remove(0);
        let classifier = load(dir.path());
        let from_file = classifier
            .predict_file("digit.png", &std::fs::read(&png).unwrap(), 5)
            .unwrap();
        let from_pixels = classifier
            .predict_rgba(canvas().into_raw(), 140, 140, 5)
            .unwrap();
        for answer in [&from_file, &from_pixels] {
            let top: Vec<_> = answer
                .top
                .iter()
                .map(|s| (s.class, s.label.clone(), s.probability))
                .collect();
            assert_eq!(top, cli.top);
            assert_eq!(answer.input_shape, [1, 28, 28]);
            assert_eq!(answer.input_rgba.len(), 28 * 28 * 4);
        }
        // The preview is the inverted digit: light stroke in the middle, dark border.
        let px = |x: usize, y: usize| from_file.input_rgba[(y * 28 + x) * 4];
        assert!(
            px(14, 14) > 200 && px(2, 14) < 50,
            "{} {}",
            px(14, 14),
            px(2, 14)
        );
        let json: serde_json::Value = serde_json::from_str(&from_file.to_json()).unwrap();
        assert_eq!(json["top"].as_array().unwrap().len(), 5);
        assert_eq!(json["top"][0]["label"], cli.top[0].1.as_str());
        assert!(json.get("input_rgba").is_none());
        assert_eq!(classifier.summary().arch, "lenet5");
    }

    #[test]
    fn bad_input_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        lenet_run(dir.path());
        let classifier = load(dir.path());
        let check = |result: Result<Answer, String>, expected: &str| {
            let err = result.expect_err(expected);
            assert!(err.contains(expected) && !err.contains('\n'), "{err}");
        };
        check(
            classifier.predict_file("notes.txt", b"not an image at all", 5),
            "notes.txt",
        );
        let mut png = Vec::new();
        image::GrayImage::new(MAX_SIDE + 1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        check(
            classifier.predict_file("wide.png", &png, 5),
            "larger than the limit of 8192×8192",
        );
        check(
            classifier.predict_file("big.png", &vec![0; MAX_FILE_BYTES + 1], 5),
            "over the limit of 32 MiB",
        );
        check(classifier.predict_rgba(vec![0; 10], 2, 2, 5), "takes 16");
        check(classifier.predict_rgba(Vec::new(), 0, 5, 5), "0×5");
        // A truncated PNG.
        let mut good = Vec::new();
        canvas()
            .write_to(
                &mut std::io::Cursor::new(&mut good),
                image::ImageFormat::Png,
            )
            .unwrap();
        check(
            classifier.predict_file("cut.png", &good[..good.len() / 2], 5),
            "cut.png",
        );
        // Top-k beyond the classes gives them all.
        assert_eq!(
            classifier
                .predict_file("ok.png", &good, 50)
                .unwrap()
                .top
                .len(),
            10
        );

        let run_json = std::fs::read(dir.path().join("run.json")).unwrap();
        for (run, model, expected) in [
            (&run_json[..], &b"\x00\x01garbage"[..], "model.bpk"),
            (&b"{}"[..], &b""[..], "run.json: cannot parse"),
            (&b"\x89PNG"[..], &b""[..], "run.json"),
        ] {
            let err = Classifier::load(run, model, None).err().expect(expected);
            assert!(err.contains(expected) && !err.contains('\n'), "{err}");
        }
    }
}
