//! The JavaScript interface (wasm-bindgen): the class `Classifier`.
//!
//! ```js
//! import init, { Classifier } from "./pkg/deepzero_web.js";
//! await init();
//! const c = new Classifier(runJsonBytes, modelBytes, sha256TextOrUndefined);
//! const answer = JSON.parse(c.predictFile("digit.png", fileBytes, 5)); // {top, input_shape}
//! const preview = c.lastInput(); // Uint8Array, H×W RGBA of what the model saw
//! ```
//! Errors are thrown as `Error`s with the one-line message.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// Installs a panic hook that writes the message to the console: a panic in WebAssembly ends
/// in an opaque `RuntimeError: unreachable`, and this says why.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("deepzero-web: {info}"))
    }));
}

/// A trained image classifier (see the crate's [`crate::Classifier`]).
#[wasm_bindgen(js_name = Classifier)]
pub struct WebClassifier {
    inner: crate::Classifier,
    last_input: Vec<u8>,
}

#[wasm_bindgen(js_class = Classifier)]
impl WebClassifier {
    /// Loads a run from the bytes of `run.json` and `model.bpk` (and the text of
    /// `model.bpk.sha256`, checked when given).
    #[wasm_bindgen(constructor)]
    pub fn new(
        run_json: &[u8],
        model: &[u8],
        sha256: Option<String>,
    ) -> Result<WebClassifier, JsError> {
        let inner = crate::Classifier::load(run_json, model, sha256.as_deref())
            .map_err(|e| JsError::new(&e))?;
        Ok(Self {
            inner,
            last_input: Vec::new(),
        })
    }

    /// The run: `{"recipe","arch","input_shape","class_names","data"}` as JSON.
    pub fn summary(&self) -> String {
        serde_json::to_string(&self.inner.summary()).unwrap_or_else(|_| "{}".into())
    }

    /// The top `top_k` classes of an encoded image file (PNG or JPEG), as JSON
    /// `{"top":[{"class","label","probability"}…],"input_shape":[C,H,W]}`.
    #[wasm_bindgen(js_name = predictFile)]
    pub fn predict_file(
        &mut self,
        name: &str,
        bytes: &[u8],
        top_k: usize,
    ) -> Result<String, JsError> {
        let answer = self
            .inner
            .predict_file(name, bytes, top_k)
            .map_err(|e| JsError::new(&e))?;
        Ok(self.keep(answer))
    }

    /// The top `top_k` classes of `width × height` RGBA pixels (a canvas's `ImageData.data`),
    /// as [`WebClassifier::predict_file`]'s JSON.
    #[wasm_bindgen(js_name = predictRgba)]
    pub fn predict_rgba(
        &mut self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        top_k: usize,
    ) -> Result<String, JsError> {
        let answer = self
            .inner
            .predict_rgba(rgba, width, height, top_k)
            .map_err(|e| JsError::new(&e))?;
        Ok(self.keep(answer))
    }

    /// The last image as the model saw it: `H × W` RGBA bytes (`input_shape` gives H and W).
    #[wasm_bindgen(js_name = lastInput)]
    pub fn last_input(&self) -> Vec<u8> {
        self.last_input.clone()
    }

    fn keep(&mut self, mut answer: crate::Answer) -> String {
        self.last_input = std::mem::take(&mut answer.input_rgba);
        answer.to_json()
    }
}
