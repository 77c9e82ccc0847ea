//! The mail reader of the BBC / SpamAssassin text corpora: byte decoding, MIME parsing
//! (headers, multipart, quoted-printable, base64, HTML stripping). Never panics.
#![no_main]

use deepzero_data::text::{
    decode_base64, decode_quoted_printable, decode_utf8, decode_utf8_or_latin1, mail_text,
    parse_mail, strip_html,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (raw, _) = decode_utf8_or_latin1(data);
    let _ = decode_utf8(data, std::path::Path::new("fuzz-input"));
    let mail = parse_mail(&raw);
    let _ = mail.header("content-type");
    let _ = mail_text(&raw, true);
    let _ = mail_text(&raw, false);
    let _ = decode_quoted_printable(&raw);
    let _ = decode_base64(&raw);
    let _ = strip_html(&raw);
});
