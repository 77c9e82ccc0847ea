//! Finding the small samples shipped in the repository's `datasets/` folder at run time.
//!
//! A binary must not read data through a path compiled into it (a binary built in one checkout
//! would read another checkout's files, or nothing once moved). The samples are looked up, in
//! this order:
//! 1. `$DEEPZERO_DATASETS/<name>` — the documented way to point a binary at a samples folder;
//! 2. `<dir>/datasets/<name>` for the working directory and each folder above it (running from
//!    anywhere inside a checkout);
//! 3. `<dir>/datasets/<name>` for the executable's folder and each folder above it (a binary
//!    built into `target/release/` of a checkout, or installed next to a `datasets/` folder).

use std::path::{Path, PathBuf};

/// The environment variable naming a folder that holds the samples.
pub const DATASETS_ENV: &str = "DEEPZERO_DATASETS";

/// The first existing `datasets/<name>` (a file or folder) in the search order above.
pub fn find_sample(name: impl AsRef<Path>) -> Option<PathBuf> {
    let name = name.as_ref();
    let from_env = std::env::var_os(DATASETS_ENV).map(|dir| PathBuf::from(dir).join(name));
    let cwd = std::env::current_dir().ok();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let searched = [cwd, exe_dir].into_iter().flatten().flat_map(|start| {
        start
            .ancestors()
            .map(|dir| dir.join("datasets").join(name))
            .collect::<Vec<_>>()
    });
    from_env.into_iter().chain(searched).find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_samples_are_found_from_a_crate_folder() {
        // `cargo test` runs in the crate's folder, two levels below `datasets/`.
        let found = find_sample("mnist-sample").expect("datasets/mnist-sample");
        assert!(found.join("train-images-idx3-ubyte.gz").exists() || found.is_dir());
        assert!(find_sample("no-such-sample-anywhere").is_none());
    }
}
