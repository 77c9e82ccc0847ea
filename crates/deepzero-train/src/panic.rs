//! One-line panic messages for programs (the `deepzero` binary): a panic anywhere, a backend's
//! included, ends with `error: internal error: MESSAGE (FILE:LINE)` on standard error instead
//! of a multi-line report, as every other failure of a command is one line. A library never
//! installs it; a program calls [`one_line_panics`] first thing in `main`.

use std::panic::PanicHookInfo;

/// The line a panic is reported as: its message's first line and where it happened.
pub fn panic_line(info: &PanicHookInfo<'_>) -> String {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let location = info
        .location()
        .map(|l| format!(" ({}:{})", l.file(), l.line()))
        .unwrap_or_default();
    let first = message.lines().next().unwrap_or("");
    format!("error: internal error: {first}{location}")
}

/// Reports every panic of this process as [`panic_line`] on standard error.
pub fn one_line_panics() {
    std::panic::set_hook(Box::new(|info| eprintln!("{}", panic_line(info))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_line_with_its_place() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let into = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *into.lock().unwrap() = panic_line(info);
        }));
        let _ = std::panic::catch_unwind(|| panic!("first line\nsecond line"));
        std::panic::set_hook(previous);
        let line = seen.lock().unwrap().clone();
        assert!(
            line.starts_with("error: internal error: first line (") && line.contains("panic.rs:"),
            "{line}"
        );
        assert!(!line.contains("second line"), "{line}");
    }
}
