//! What every picture of the workspace draws text with: the embedded DejaVu Sans as plotters'
//! `sans-serif` (no system fonts needed), and black labels in it. The data check's report
//! (`check.rs`) and `deepzero-train`'s plots use it.

use plotters::prelude::*;

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process). In
/// WebAssembly plotters draws text with the browser's fonts, and there is nothing to register.
pub fn register_font() {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static FONT: std::sync::Once = std::sync::Once::new();
        FONT.call_once(|| {
            // Registration only fails for a malformed font; the embedded one is valid.
            let _ = plotters::style::register_font(
                "sans-serif",
                plotters::style::FontStyle::Normal,
                dejavu::sans::regular(),
            );
        });
    }
}

/// `text` in black `size`-pixel sans-serif with its top-left corner at `at` (pixels), to
/// `draw` on a drawing area.
pub fn black_label<'a>(text: String, at: (i32, i32), size: u32) -> Text<'a, (i32, i32), String> {
    Text::new(text, at, ("sans-serif", size).into_font().color(&BLACK))
}
