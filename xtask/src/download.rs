//! Dataset download with resume, progress bar and checksum verification.
//!
//! Files land in `DIR/<dataset>/<file>`. A file already there that matches the manifest is kept.
//! Downloads go to `<file>.part` first, and only a `.part` whose checksum matches the manifest is
//! renamed into place: a bad download never becomes the real file. What happens to a `.part`
//! left by an earlier run:
//!
//! - it already verifies (a run killed between the last byte and the rename): renamed, no request;
//! - otherwise it is resumed with `Range: bytes=LEN-`; a `206` reply is appended only if its
//!   `Content-Range` starts at `LEN`, else the file is fetched again from zero; a `200` reply
//!   (the server ignores ranges) rewrites it from zero; a `416` (the `.part` is as long as the
//!   file or longer, but did not verify) starts again from zero;
//! - a resumed `.part` that then fails verification is fetched once more from zero from the same
//!   URL (its first bytes may have come from another mirror, whose `.gz` differs).
//!
//! HTTPS URLs of the manifest are tried before plain-HTTP ones; redirects are followed by hand
//! (at most [`NetOptions::max_redirects`]) and one from HTTPS to plain HTTP is refused. Connect,
//! response and per-read timeouts bound every request (see [`NetOptions`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use deepzero_data::manifest::{self, DatasetManifest, ManifestFile};
use indicatif::{ProgressBar, ProgressStyle};
use ureq::http::Response;

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
    /// Seconds allowed to resolve the host and open a connection.
    #[arg(long, default_value_t = 30)]
    pub connect_timeout: u64,
    /// Seconds allowed for each read from the server (the reply's headers, each piece of the
    /// body) before the download is abandoned; a `.part` kept so far is resumed next time.
    #[arg(long, default_value_t = 60)]
    pub read_timeout: u64,
}

/// Network limits of a download.
#[derive(Clone, Debug)]
pub struct NetOptions {
    /// Resolving the host and opening the connection (TLS handshake included).
    pub connect_timeout: Duration,
    /// Each read from the server, and the wait for the reply's headers.
    pub read_timeout: Duration,
    /// Redirects followed per request.
    pub max_redirects: u32,
}

impl Default for NetOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            max_redirects: 10,
        }
    }
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
    if args.connect_timeout == 0 || args.read_timeout == 0 {
        return Err("--connect-timeout and --read-timeout must be at least 1 second".into());
    }
    let net = NetOptions {
        connect_timeout: Duration::from_secs(args.connect_timeout),
        read_timeout: Duration::from_secs(args.read_timeout),
        ..NetOptions::default()
    };
    let target = args.dir.join(manifest.name);
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    fetch_all(manifest, &target, args.from.as_deref(), &net)?;
    println!(
        "{}: all {} files verified in {}",
        manifest.name,
        manifest.files.len(),
        target.display()
    );
    println!("licence: {}", manifest.licence);
    Ok(())
}

/// Fetches every file of `manifest` into `target`; each file is verified before it gets its
/// final name.
pub fn fetch_all(
    manifest: &DatasetManifest,
    target: &Path,
    from: Option<&Path>,
    net: &NetOptions,
) -> Result<(), String> {
    for file in manifest.files {
        let dest = target.join(file.name);
        if dest.exists() && manifest::verify(&dest, file).is_ok() {
            println!("{}: present and verified", dest.display());
            continue;
        }
        match from {
            Some(local) => copy_local(local, manifest.name, file, &dest)?,
            None => download(file, &dest, net)?,
        }
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
        .and_then(|_| output.sync_all())
        .map_err(|e| format!("{}: {e}", part.display()))?;
    progress.finish_and_clear();
    drop(output);
    verify_and_finish(&part, dest, file).map_err(|e| format!("{}: {e}", source.display()))
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Checks `part` against the manifest and only then renames it to `dest`; a `.part` that does
/// not verify is removed (so that the next attempt starts from zero).
fn verify_and_finish(part: &Path, dest: &Path, file: &ManifestFile) -> Result<(), String> {
    if let Err(e) = manifest::verify(part, file) {
        let _ = std::fs::remove_file(part);
        return Err(format!("rejected, not renamed into place: {e}"));
    }
    std::fs::rename(part, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    if let Some(dir) = dest.parent()
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all(); // the rename reaches the disk; failure only costs durability
    }
    Ok(())
}

fn copy_with_progress(
    input: &mut impl Read,
    output: &mut impl Write,
    progress: &ProgressBar,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            output.flush()?;
            return Ok(total);
        }
        output.write_all(&buffer[..n])?;
        total += n as u64;
        progress.inc(n as u64);
    }
}

/// The manifest's URLs, HTTPS ones first (otherwise in the manifest's order).
fn https_first<'a>(urls: &[&'a str]) -> Vec<&'a str> {
    let mut sorted = urls.to_vec();
    sorted.sort_by_key(|u| !u.starts_with("https://"));
    sorted
}

fn agent(net: &NetOptions) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_resolve(Some(net.connect_timeout))
        .timeout_connect(Some(net.connect_timeout))
        .timeout_send_request(Some(net.connect_timeout))
        .timeout_recv_response(Some(net.read_timeout))
        .timeout_per_read(Some(net.read_timeout))
        // Redirects are followed by hand, so that each hop's scheme can be checked.
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Downloads `file` to `dest` through `dest.part`, trying each URL in turn (HTTPS first).
fn download(file: &ManifestFile, dest: &Path, net: &NetOptions) -> Result<(), String> {
    let part = part_path(dest);
    if part.is_file() && manifest::verify(&part, file).is_ok() {
        println!(
            "{}: complete and verified, no download needed",
            part.display()
        );
        return verify_and_finish(&part, dest, file);
    }
    let agent = agent(net);
    let mut errors = Vec::new();
    for url in https_first(file.urls) {
        let resumed = std::fs::metadata(&part).is_ok_and(|m| m.len() > 0);
        let mut result = download_one(&agent, net, url, &part, file.name);
        if result.is_ok() {
            result = verify_and_finish(&part, dest, file);
            if let (Err(e), true) = (&result, resumed) {
                // The kept bytes may be another mirror's (or damaged); verification removed
                // them: once more from zero.
                eprintln!("{url}: {e}; downloading again from the start");
                result = download_one(&agent, net, url, &part, file.name)
                    .and_then(|()| verify_and_finish(&part, dest, file));
            }
        }
        match result {
            Ok(()) => return Ok(()),
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

/// What one request did with the `.part`.
enum Fetched {
    /// The body was written.
    Done,
    /// The reply cannot continue the `.part` (why): start again from zero.
    Restart(String),
}

/// Fetches `url` into `part`, resuming it when it is not empty.
fn download_one(
    agent: &ureq::Agent,
    net: &NetOptions,
    url: &str,
    part: &Path,
    name: &str,
) -> Result<(), String> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if have > 0 {
        match fetch(agent, net, url, part, name, have)? {
            Fetched::Done => return Ok(()),
            Fetched::Restart(why) => eprintln!("{url}: {why}; downloading again from the start"),
        }
    }
    match fetch(agent, net, url, part, name, 0)? {
        Fetched::Done => Ok(()),
        Fetched::Restart(why) => Err(why),
    }
}

/// One GET of `url` from byte `from` (a range request when `from > 0`), written into `part` at
/// the offset the reply says it starts at.
fn fetch(
    agent: &ureq::Agent,
    net: &NetOptions,
    url: &str,
    part: &Path,
    name: &str,
    from: u64,
) -> Result<Fetched, String> {
    let response = get(agent, net, url, from)?;
    let status = response.status().as_u16();
    let start = match status {
        200 => 0,
        206 => {
            let range = header(&response, "content-range").unwrap_or_default();
            match content_range_start(&range) {
                Some(start) if start == from => start,
                _ => {
                    return Ok(Fetched::Restart(format!(
                        "206 reply with Content-Range `{range}` does not continue the {from} bytes kept"
                    )));
                }
            }
        }
        416 if from > 0 => {
            return Ok(Fetched::Restart(format!(
                "the {from} bytes kept are as long as the file or longer (416) but do not verify"
            )));
        }
        _ => return Err(format!("HTTP status {status}")),
    };
    let remaining: u64 = header(&response, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(part)
        .and_then(|mut f| {
            f.set_len(start)?;
            f.seek(SeekFrom::Start(start))?;
            Ok(f)
        })
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let progress = bar(start + remaining, name);
    progress.set_position(start);
    let mut body = response.into_body();
    let mut reader = body.as_reader();
    let copied = copy_with_progress(&mut reader, &mut output, &progress);
    progress.finish_and_clear();
    copied.map_err(|e| {
        let timeout = e.kind() == std::io::ErrorKind::TimedOut
            || e.get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)));
        let what = if timeout {
            format!("timed out reading the body ({e})")
        } else {
            e.to_string()
        };
        format!("{what} (the bytes received so far are kept for a resume)")
    })?;
    output
        .sync_all()
        .map_err(|e| format!("{}: {e}", part.display()))?;
    Ok(Fetched::Done)
}

fn header(response: &Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// GET `url` (with `Range: bytes=FROM-` when `from > 0`), following redirects by hand and
/// refusing one from HTTPS to anything but HTTPS.
fn get(
    agent: &ureq::Agent,
    net: &NetOptions,
    url: &str,
    from: u64,
) -> Result<Response<ureq::Body>, String> {
    let mut current = url.to_string();
    for _ in 0..=net.max_redirects {
        let mut request = agent
            .get(&current)
            // Ranges count bytes as stored; no transparent decompression on the way.
            .header("Accept-Encoding", "identity");
        if from > 0 {
            request = request.header("Range", &format!("bytes={from}-"));
        }
        let response = request.call().map_err(|e| match e {
            ureq::Error::Timeout(what) => format!("timed out ({what})"),
            e => e.to_string(),
        })?;
        let status = response.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let location = header(&response, "location")
                .ok_or_else(|| format!("redirect {status} without a Location"))?;
            current = redirect_target(&current, &location)?;
            continue;
        }
        return Ok(response);
    }
    Err(format!("more than {} redirects", net.max_redirects))
}

/// The absolute URL a `Location` header sends `current` to; a redirect from HTTPS to plain
/// HTTP (or to any other scheme) is an error.
fn redirect_target(current: &str, location: &str) -> Result<String, String> {
    let (scheme, rest) = current
        .split_once("://")
        .ok_or_else(|| format!("not an absolute URL: {current}"))?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let origin = &current[..scheme.len() + 3 + authority_end];
    let target = if location.contains("://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        // Relative to the current path's folder (query and fragment dropped first).
        let path = rest[authority_end..]
            .split(['?', '#'])
            .next()
            .unwrap_or_default();
        let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let folder = if folder.is_empty() { "/" } else { folder };
        format!("{origin}{folder}{location}")
    };
    let new_scheme = target
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match (scheme.to_ascii_lowercase().as_str(), new_scheme.as_str()) {
        ("https", "https") | ("http", "http" | "https") => Ok(target),
        ("https", "http") => Err(format!(
            "refused a redirect from HTTPS to plain HTTP ({current} -> {target})"
        )),
        _ => Err(format!("refused a redirect to {target}")),
    }
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` header.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

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
        let net = NetOptions::default();
        let dir = tempfile::tempdir().unwrap();
        fetch_all(manifest, dir.path(), Some(&shared), &net).unwrap();
        for f in manifest.files {
            assert!(dir.path().join(f.name).is_file());
        }
        // Second run: everything is already present.
        fetch_all(manifest, dir.path(), Some(&shared), &net).unwrap();

        // A corrupted source is refused and leaves no file behind.
        let bad = tempfile::tempdir().unwrap();
        for f in manifest.files {
            std::fs::write(bad.path().join(f.name), b"not mnist").unwrap();
        }
        let target = tempfile::tempdir().unwrap();
        assert!(fetch_all(manifest, target.path(), Some(bad.path()), &net).is_err());
        assert!(!target.path().join(manifest.files[0].name).exists());
        assert!(!part_path(&target.path().join(manifest.files[0].name)).exists());
    }

    #[test]
    fn missing_local_file_is_a_clear_error() {
        let manifest = manifest::manifest("fashion-mnist").unwrap();
        let empty = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let err = fetch_all(
            manifest,
            target.path(),
            Some(empty.path()),
            &NetOptions::default(),
        )
        .unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }

    // ---- a local HTTP server -------------------------------------------------------------

    /// What the test server answers.
    struct Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        /// Send only this many body bytes (Content-Length still says all), then close.
        cut_at: Option<usize>,
        /// Send the headers and then nothing for this long.
        stall: Option<Duration>,
    }

    impl Reply {
        fn new(status: u16, body: &[u8]) -> Self {
            Self {
                status,
                headers: Vec::new(),
                body: body.to_vec(),
                cut_at: None,
                stall: None,
            }
        }

        fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
            self.headers.push((name, value.into()));
            self
        }

        /// A well-behaved server's answer for `data` to a request from byte `range`.
        fn honouring(data: &[u8], range: Option<u64>) -> Self {
            match range {
                None => Self::new(200, data),
                Some(s) if s as usize >= data.len() => {
                    Self::new(416, b"").header("Content-Range", format!("bytes */{}", data.len()))
                }
                Some(s) => Self::new(206, &data[s as usize..]).header(
                    "Content-Range",
                    format!("bytes {s}-{}/{}", data.len() - 1, data.len()),
                ),
            }
        }
    }

    /// One request the server saw: its path and the start of its `Range`, if any.
    type Seen = Arc<Mutex<Vec<(String, Option<u64>)>>>;

    /// Serves `handler(path, range_start, request_index)` on 127.0.0.1; returns the base URL
    /// (`http://127.0.0.1:PORT`) and the log of requests.
    fn serve(
        handler: impl Fn(&str, Option<u64>, usize) -> Reply + Send + Sync + 'static,
    ) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let log = Arc::clone(&seen);
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                    let mut first = String::new();
                    let _ = reader.read_line(&mut first);
                    let path = first.split(' ').nth(1).unwrap_or("/").to_string();
                    let mut range = None;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("range: bytes=") {
                            range = v.trim().trim_end_matches('-').parse().ok();
                        }
                    }
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push((path.clone(), range));
                        log.len() - 1
                    };
                    let reply = handler(&path, range, index);
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes());
                    if let Some(pause) = reply.stall {
                        std::thread::sleep(pause);
                    }
                    let n = reply.cut_at.unwrap_or(reply.body.len());
                    let _ = stream.write_all(&reply.body[..n]);
                    let _ = stream.flush();
                });
            }
        });
        (base, seen)
    }

    /// 300 kB of reproducible bytes (several reads and progress steps).
    fn payload(seed: u8) -> Vec<u8> {
        (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
            .collect()
    }

    fn hex_sha256(data: &[u8]) -> String {
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A manifest entry for `data` served at each of `urls`.
    fn entry(data: &[u8], urls: Vec<String>) -> ManifestFile {
        let urls: Vec<&'static str> = urls
            .into_iter()
            .map(|u| &*Box::leak(u.into_boxed_str()))
            .collect();
        ManifestFile {
            name: "data.bin",
            urls: Box::leak(urls.into_boxed_slice()),
            sha256_uncompressed: Box::leak(hex_sha256(data).into_boxed_str()),
            uncompressed_bytes: data.len() as u64,
        }
    }

    fn quick() -> NetOptions {
        NetOptions {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_millis(500),
            max_redirects: 5,
        }
    }

    /// A temporary folder, and the destination `data.bin` in it.
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("data.bin");
        (dir, dest)
    }

    /// Serves `data` as a well-behaved server would (ranges honoured).
    fn serve_honouring(data: &[u8]) -> (String, Seen) {
        let served = data.to_vec();
        serve(move |_, range, _| Reply::honouring(&served, range))
    }

    /// Downloads `{base}/data.bin`, listed with the checksum of `data`, to `dest`.
    fn download_from(base: &str, data: &[u8], dest: &Path) -> Result<(), String> {
        download(
            &entry(data, vec![format!("{base}/data.bin")]),
            dest,
            &quick(),
        )
    }

    fn ranges(seen: &Seen) -> Vec<Option<u64>> {
        seen.lock().unwrap().iter().map(|(_, r)| *r).collect()
    }

    #[test]
    fn a_fresh_download_is_verified_and_renamed() {
        let data = payload(0);
        let (base, seen) = serve_honouring(&data);
        let (_dir, dest) = scratch();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(!part_path(&dest).exists());
        assert_eq!(ranges(&seen), [None]);
    }

    #[test]
    fn a_bad_download_never_becomes_the_file() {
        let data = payload(0);
        let (base, _) = serve(move |_, _, _| Reply::new(200, &payload(7)));
        let (_dir, dest) = scratch();
        let err = download_from(&base, &data, &dest).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
        assert!(err.contains("not renamed into place"), "{err}");
        assert!(!dest.exists());
        assert!(!part_path(&dest).exists(), "a rejected .part is removed");
    }

    #[test]
    fn a_part_is_resumed_when_content_range_continues_it() {
        let data = payload(0);
        let (base, seen) = serve_honouring(&data);
        let (_dir, dest) = scratch();
        std::fs::write(part_path(&dest), &data[..123_456]).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [Some(123_456)]);
    }

    #[test]
    fn a_206_that_does_not_continue_the_part_restarts_from_zero() {
        let data = payload(0);
        let served = data.clone();
        // A broken server: to a range request it answers 206 with the whole file.
        let (base, seen) = serve(move |_, range, _| match range {
            Some(_) => Reply::new(206, &served).header(
                "Content-Range",
                format!("bytes 0-{}/{}", served.len() - 1, served.len()),
            ),
            None => Reply::new(200, &served),
        });
        let (_dir, dest) = scratch();
        std::fs::write(part_path(&dest), &data[..1000]).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [Some(1000), None]);
    }

    #[test]
    fn a_200_to_a_range_request_rewrites_from_zero() {
        let data = payload(0);
        let served = data.clone();
        let (base, seen) = serve(move |_, _, _| Reply::new(200, &served));
        let (_dir, dest) = scratch();
        std::fs::write(part_path(&dest), &data[..5000]).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [Some(5000)]);
    }

    #[test]
    fn a_complete_part_is_verified_and_renamed_without_a_request() {
        let data = payload(0);
        let (base, seen) = serve(move |_, _, _| Reply::new(500, b""));
        let (_dir, dest) = scratch();
        std::fs::write(part_path(&dest), &data).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(ranges(&seen).is_empty());
    }

    #[test]
    fn a_stale_part_answered_416_restarts_from_zero() {
        let data = payload(0);
        let (base, seen) = serve_honouring(&data);
        let (dir, dest) = scratch();
        // Longer than the file, and wrong: the server says 416.
        std::fs::write(part_path(&dest), payload(3).repeat(2)).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [Some(600_000), None]);

        // As long as the file but damaged: 416 too, and the same recovery.
        let dest2 = dir.path().join("again").join("data.bin");
        std::fs::create_dir_all(dest2.parent().unwrap()).unwrap();
        let mut damaged = data.clone();
        damaged[10] ^= 1;
        std::fs::write(part_path(&dest2), &damaged).unwrap();
        download_from(&base, &data, &dest2).unwrap();
        assert_eq!(std::fs::read(&dest2).unwrap(), data);
    }

    #[test]
    fn a_resumed_part_from_another_mirror_is_fetched_again_from_zero() {
        let data = payload(0);
        let (base, seen) = serve_honouring(&data);
        let (_dir, dest) = scratch();
        // The first half came from a mirror whose bytes differ: the resumed file does not verify.
        std::fs::write(part_path(&dest), &payload(9)[..150_000]).unwrap();
        download_from(&base, &data, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [Some(150_000), None]);
    }

    #[test]
    fn an_interrupted_body_is_kept_and_resumed_next_time() {
        let data = payload(0);
        let served = data.clone();
        let (base, seen) = serve(move |_, range, index| {
            let reply = Reply::honouring(&served, range);
            if index == 0 {
                Reply {
                    cut_at: Some(100_000),
                    ..reply
                }
            } else {
                reply
            }
        });
        let (_dir, dest) = scratch();
        let file = entry(&data, vec![format!("{base}/data.bin")]);
        let err = download(&file, &dest, &quick()).unwrap_err();
        assert!(err.contains("kept for a resume"), "{err}");
        assert!(!dest.exists());
        assert_eq!(std::fs::read(part_path(&dest)).unwrap(), &data[..100_000]);
        download(&file, &dest, &quick()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(ranges(&seen), [None, Some(100_000)]);
    }

    #[test]
    fn a_stalled_server_times_out() {
        let data = payload(0);
        let served = data.clone();
        let (base, _) = serve(move |_, _, _| Reply {
            stall: Some(Duration::from_secs(30)),
            ..Reply::new(200, &served)
        });
        let (_dir, dest) = scratch();
        let start = Instant::now();
        let err = download_from(&base, &data, &dest).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "{err}");
        assert!(err.to_lowercase().contains("timed out"), "{err}");
        assert!(!dest.exists());
    }

    #[test]
    fn a_silent_server_times_out_before_the_headers() {
        // Accepts the connection and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data.bin", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(4).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let data = payload(0);
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let err = download(&entry(&data, vec![url]), &dir.path().join("d"), &quick()).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "{err}");
        assert!(err.to_lowercase().contains("timed out"), "{err}");
    }

    #[test]
    fn redirects_are_followed_and_mirrors_tried_in_turn() {
        let data = payload(0);
        let served = data.clone();
        let (base, seen) = serve(move |path, range, _| match path {
            "/missing.bin" => Reply::new(404, b"no"),
            "/old/data.bin" => Reply::new(302, b"").header("Location", "moved.bin"),
            "/old/moved.bin" => Reply::new(301, b"").header("Location", "/final/data.bin"),
            "/final/data.bin" => Reply::honouring(&served, range),
            _ => Reply::new(500, b""),
        });
        let (_dir, dest) = scratch();
        let urls = vec![
            format!("{base}/missing.bin"),
            format!("{base}/old/data.bin"),
        ];
        download(&entry(&data, urls), &dest, &quick()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        let paths: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(
            paths,
            [
                "/missing.bin",
                "/old/data.bin",
                "/old/moved.bin",
                "/final/data.bin"
            ]
        );
    }

    #[test]
    fn a_redirect_loop_ends() {
        let data = payload(0);
        let (base, seen) = serve(move |_, _, _| Reply::new(302, b"").header("Location", "/again"));
        let dir = tempfile::tempdir().unwrap();
        let err = download(
            &entry(&data, vec![format!("{base}/start")]),
            &dir.path().join("d"),
            &quick(),
        )
        .unwrap_err();
        assert!(err.contains("more than 5 redirects"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 6);
    }

    #[test]
    fn redirect_targets_and_the_https_rule() {
        let ok = |c: &str, l: &str| redirect_target(c, l).unwrap();
        assert_eq!(
            ok("https://a.org/x/y.gz", "https://b.org/z.gz"),
            "https://b.org/z.gz"
        );
        assert_eq!(ok("https://a.org/x/y.gz", "/z.gz"), "https://a.org/z.gz");
        assert_eq!(
            ok("https://a.org/x/y.gz?q=1", "z.gz"),
            "https://a.org/x/z.gz"
        );
        assert_eq!(ok("https://a.org", "z.gz"), "https://a.org/z.gz");
        assert_eq!(ok("https://a.org/x", "//c.org/w"), "https://c.org/w");
        assert_eq!(ok("http://a.org/x", "https://a.org/x"), "https://a.org/x");
        assert_eq!(ok("http://a.org/x", "http://b.org/x"), "http://b.org/x");
        let err = redirect_target("https://a.org/x", "http://a.org/x").unwrap_err();
        assert!(err.contains("from HTTPS to plain HTTP"), "{err}");
        assert!(redirect_target("HTTPS://a.org/x", "HTTP://a.org/x").is_err());
        assert!(redirect_target("http://a.org/x", "ftp://a.org/x").is_err());
        assert!(redirect_target("http://a.org/x", "file:///etc/passwd").is_err());
    }

    #[test]
    fn https_urls_are_tried_first() {
        let urls = [
            "http://a.org/f",
            "https://b.org/f",
            "http://c.org/f",
            "https://d.org/f",
        ];
        assert_eq!(
            https_first(&urls),
            [
                "https://b.org/f",
                "https://d.org/f",
                "http://a.org/f",
                "http://c.org/f"
            ]
        );
        // Fashion-MNIST's manifest lists a plain-HTTP location first; HTTPS is tried before it.
        let fashion = manifest::manifest("fashion-mnist").unwrap();
        assert!(https_first(fashion.files[0].urls)[0].starts_with("https://"));
    }

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes  0-9/*"), Some(0));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start(""), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
