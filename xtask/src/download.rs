//! Dataset download with resume, progress bar and checksum verification.
//!
//! Files land in `DIR/<dataset>/<file>`. A file already there that matches the manifest is kept.
//! Downloads go to `<file>.part` first; an interrupted download resumes from the `.part` with an
//! HTTP range request, and only a verified file is renamed into place.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use deepzero_data::manifest::{self, DatasetManifest, ManifestFile};
use indicatif::{ProgressBar, ProgressStyle};

/// Options of `cargo xtask download`.
#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    /// Dataset name: mnist or fashion-mnist.
    pub dataset: String,
    /// Where to put it (the files go into `DIR/<dataset>/`).
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Copy from this local folder instead of the network (it holds the files, or a `<dataset>/`
    /// sub-folder with them).
    #[arg(long)]
    pub from: Option<PathBuf>,
}

pub fn run(args: &DownloadArgs) -> Result<(), String> {
    let manifest = manifest::manifest(&args.dataset).ok_or_else(|| {
        let known: Vec<&str> = manifest::MANIFESTS.iter().map(|m| m.name).collect();
        format!(
            "unknown dataset `{}` (known: {})",
            args.dataset,
            known.join(", ")
        )
    })?;
    let target = args.dir.join(manifest.name);
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    fetch_all(manifest, &target, args.from.as_deref())?;
    println!(
        "{}: all {} files verified in {}",
        manifest.name,
        manifest.files.len(),
        target.display()
    );
    println!("licence: {}", manifest.licence);
    Ok(())
}

/// Fetches every file of `manifest` into `target`.
pub fn fetch_all(
    manifest: &DatasetManifest,
    target: &Path,
    from: Option<&Path>,
) -> Result<(), String> {
    for file in manifest.files {
        let dest = target.join(file.name);
        if dest.exists() && manifest::verify(&dest, file).is_ok() {
            println!("{}: present and verified", dest.display());
            continue;
        }
        match from {
            Some(local) => copy_local(local, manifest.name, file, &dest)?,
            None => download(file, &dest)?,
        }
        manifest::verify(&dest, file).map_err(|e| {
            let _ = std::fs::remove_file(&dest);
            e.to_string()
        })?;
        println!("{}: verified", dest.display());
    }
    Ok(())
}

fn bar(len: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar
}

fn copy_local(local: &Path, dataset: &str, file: &ManifestFile, dest: &Path) -> Result<(), String> {
    let candidates = [local.join(file.name), local.join(dataset).join(file.name)];
    let source = candidates
        .iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{} not found in {}", file.name, local.display()))?;
    let mut input = File::open(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let len = input.metadata().map(|m| m.len()).unwrap_or(0);
    let part = part_path(dest);
    let mut output = File::create(&part).map_err(|e| format!("{}: {e}", part.display()))?;
    let progress = bar(len, file.name);
    copy_with_progress(&mut input, &mut output, &progress)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    progress.finish_and_clear();
    finish(&part, dest)
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn finish(part: &Path, dest: &Path) -> Result<(), String> {
    std::fs::rename(part, dest).map_err(|e| format!("{}: {e}", dest.display()))
}

fn copy_with_progress(
    input: &mut impl Read,
    output: &mut impl Write,
    progress: &ProgressBar,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            output.flush()?;
            return Ok(total);
        }
        output.write_all(&buffer[..n])?;
        total += n as u64;
        progress.inc(n as u64);
    }
}

/// Tries each URL in turn, resuming a `.part` file where the server allows.
fn download(file: &ManifestFile, dest: &Path) -> Result<(), String> {
    let part = part_path(dest);
    let mut errors = Vec::new();
    for url in file.urls {
        match download_one(url, &part, file.name) {
            Ok(()) => return finish(&part, dest),
            Err(e) => {
                eprintln!("{url}: {e}");
                errors.push(format!("{url}: {e}"));
            }
        }
    }
    Err(format!(
        "could not download {}:\n  {}",
        file.name,
        errors.join("\n  ")
    ))
}

fn download_one(url: &str, part: &Path, name: &str) -> Result<(), String> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent = ureq::Agent::new_with_defaults();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", &format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| e.to_string())?;
    let resumed = response.status() == 206;
    let remaining: u64 = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut output = if resumed {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    }
    .map_err(|e| format!("{}: {e}", part.display()))?;
    let start = if resumed { have } else { 0 };
    let progress = bar(start + remaining, name);
    progress.set_position(start);
    let mut body = response.into_body();
    let mut reader = body.as_reader();
    copy_with_progress(&mut reader, &mut output, &progress).map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copies the staged dataset (when this machine has it) and verifies every file; a corrupt
    /// copy is rejected and removed.
    #[test]
    fn local_copy_verifies_and_rejects_corruption() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
        let Some(manifest) = manifest::manifest("mnist") else {
            panic!("mnist manifest")
        };
        if !shared.join("mnist").is_dir() {
            eprintln!("skipped: {} not present", shared.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        fetch_all(manifest, dir.path(), Some(&shared)).unwrap();
        for f in manifest.files {
            assert!(dir.path().join(f.name).is_file());
        }
        // Second run: everything is already present.
        fetch_all(manifest, dir.path(), Some(&shared)).unwrap();

        // A corrupted source is refused and leaves no file behind.
        let bad = tempfile::tempdir().unwrap();
        for f in manifest.files {
            std::fs::write(bad.path().join(f.name), b"not mnist").unwrap();
        }
        let target = tempfile::tempdir().unwrap();
        assert!(fetch_all(manifest, target.path(), Some(bad.path())).is_err());
        assert!(!target.path().join(manifest.files[0].name).exists());
    }

    #[test]
    fn missing_local_file_is_a_clear_error() {
        let manifest = manifest::manifest("fashion-mnist").unwrap();
        let empty = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let err = fetch_all(manifest, target.path(), Some(empty.path())).unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }
}
