//! Uploaded files (documents, request attachments): the content-type allowlist, reading an upload
//! (base64, size limit, a magic-bytes check), storing the bytes in KV under a random key, and the
//! download response whose headers keep an uploaded file from ever running on the portal's origin.

use crate::app::kit::ids::new_id;
use crate::app::{ApiError, Ports};
use crate::auth::refresh::sha256_hex;
use crate::store::Kv;
use base64::Engine;
use chrono::{DateTime, Utc};

/// The largest file accepted (API.md: document uploads 10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// The content types a file may have. Anything else (HTML, SVG, scripts, archives, executables)
/// is refused at upload, and a download only ever carries one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Webp,
    Text,
    Csv,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
}

impl FileType {
    pub const ALL: [FileType; 12] = [
        FileType::Pdf,
        FileType::Png,
        FileType::Jpeg,
        FileType::Gif,
        FileType::Webp,
        FileType::Text,
        FileType::Csv,
        FileType::Docx,
        FileType::Xlsx,
        FileType::Pptx,
        FileType::Odt,
        FileType::Ods,
    ];

    /// The canonical media type, as stored in D1 and served.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
            FileType::Gif => "image/gif",
            FileType::Webp => "image/webp",
            FileType::Text => "text/plain",
            FileType::Csv => "text/csv",
            FileType::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileType::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            FileType::Odt => "application/vnd.oasis.opendocument.text",
            FileType::Ods => "application/vnd.oasis.opendocument.spreadsheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Png => "png",
            FileType::Jpeg => "jpg",
            FileType::Gif => "gif",
            FileType::Webp => "webp",
            FileType::Text => "txt",
            FileType::Csv => "csv",
            FileType::Docx => "docx",
            FileType::Xlsx => "xlsx",
            FileType::Pptx => "pptx",
            FileType::Odt => "odt",
            FileType::Ods => "ods",
        }
    }

    /// A media type as a client sends it: case-insensitive, parameters (`; charset=...`) ignored.
    /// None for anything off the allowlist.
    pub fn parse(raw: &str) -> Option<FileType> {
        let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let essence = if essence == "image/jpg" { "image/jpeg".to_owned() } else { essence };
        FileType::ALL.into_iter().find(|t| t.as_str() == essence)
    }

    /// Whether the bytes start the way files of this type do. Text has no signature. This keeps a
    /// label from lying about the bytes (an HTML page sent as image/png); the download headers are
    /// what make a file harmless either way.
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            // Readers accept a PDF header anywhere in the first kilobyte.
            FileType::Pdf => bytes.windows(5).take(1024).any(|w| w == b"%PDF-"),
            FileType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            FileType::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            FileType::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
            FileType::Webp => bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()),
            // Text has no signature, so it must at least be text: UTF-8 (a BOM allowed) without NUL.
            // An executable or a binary blob labelled text/plain is refused.
            FileType::Text | FileType::Csv => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
            // Office Open XML and OpenDocument files are ZIP archives.
            FileType::Docx | FileType::Xlsx | FileType::Pptx | FileType::Odt | FileType::Ods => bytes.starts_with(b"PK\x03\x04"),
        }
    }

    /// The allowlist as a human list, for error messages.
    pub fn allowed_list() -> String {
        FileType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// An allowlisted content type, or 400 naming `field`.
pub fn parse_content_type(field: &str, raw: &str) -> Result<FileType, ApiError> {
    FileType::parse(raw).ok_or_else(|| {
        ApiError::invalid(field, format!("{field} must be one of the allowed file types: {}", FileType::allowed_list()))
    })
}

/// A file read from an upload, checked: allowlisted type, within the size limit, bytes that match
/// the type. Not stored yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub file_type: FileType,
    pub bytes: Vec<u8>,
}

impl Upload {
    /// From a JSON upload: `type_field` holds the media type, `data_field` the base64 content
    /// (standard alphabet, padding optional, line breaks ignored). Errors name the field; a file
    /// over [`MAX_FILE_BYTES`] answers 413.
    pub fn from_base64(type_field: &str, content_type: &str, data_field: &str, content_base64: &str) -> Result<Upload, ApiError> {
        let file_type = parse_content_type(type_field, content_type)?;
        let bytes = decode_base64(data_field, content_base64)?;
        Upload::new(data_field, file_type, bytes)
    }

    /// From raw bytes (a multipart part, say): checks size, emptiness and the type's signature.
    pub fn new(data_field: &str, file_type: FileType, bytes: Vec<u8>) -> Result<Upload, ApiError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ApiError::TooLarge { limit: MAX_FILE_BYTES });
        }
        if bytes.is_empty() {
            return Err(ApiError::invalid(data_field, format!("{data_field} is empty: send the file's content")));
        }
        if !file_type.matches(&bytes) {
            return Err(ApiError::invalid(data_field, format!("{data_field} is not a {} file", file_type.as_str())));
        }
        Ok(Upload { file_type, bytes })
    }
}

/// Decodes base64 text, refusing before decoding anything that would exceed the size limit.
pub fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    // Every 4 characters carry 3 bytes: refuse an oversize file without allocating it.
    if compact.len() / 4 * 3 > MAX_FILE_BYTES + 3 {
        return Err(ApiError::TooLarge { limit: MAX_FILE_BYTES });
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(compact.as_bytes()).map_err(|_| ApiError::invalid(field, format!("{field} is not valid base64")))
}

/// Where a file went and what it was: the KV key, the SHA-256 (hex) of its bytes and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub kv_key: String,
    pub sha256: String,
    pub size: i64,
}

/// Stores the bytes in KV under `<prefix>:<uuid>` (a fresh random key: a key is never rewritten,
/// so KV's eventual consistency cannot serve another file's bytes). Call it before the D1 batch
/// that records the file, and [`discard`] the key if that batch does not write the row.
pub async fn store<P: Ports>(ports: &P, prefix: &str, bytes: Vec<u8>, now: DateTime<Utc>) -> Result<StoredFile, ApiError> {
    let kv_key = format!("{prefix}:{}", new_id(ports, now)?);
    let sha256 = sha256_hex(&bytes);
    let size = i64::try_from(bytes.len()).map_err(|_| ApiError::TooLarge { limit: MAX_FILE_BYTES })?;
    ports.kv().put(&kv_key, bytes, None).await.map_err(|e| ApiError::internal(format!("file put {kv_key}: {e}")))?;
    Ok(StoredFile { kv_key, sha256, size })
}

/// Removes a file whose row was never written. Best effort: an orphan key harms nothing.
pub async fn discard<P: Ports>(ports: &P, kv_key: &str) {
    if let Err(e) = ports.kv().delete(kv_key).await {
        ports.log(&serde_json::json!({"level": "warn", "what": "file discard", "key": kv_key, "error": e.to_string()}).to_string());
    }
}

/// The bytes of a stored file. A key KV does not (yet) return answers 503: KV is eventually
/// consistent, so a file written moments ago elsewhere may not have arrived.
pub async fn load<P: Ports>(ports: &P, kv_key: &str) -> Result<Vec<u8>, ApiError> {
    match ports.kv().get(kv_key).await {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => {
            ports.log(&serde_json::json!({"level": "error", "what": "file missing in KV", "key": kv_key}).to_string());
            Err(ApiError::Unavailable { what: "The file".into() })
        }
        Err(e) => Err(ApiError::internal(format!("file get {kv_key}: {e}"))),
    }
}

/// Why a file is read: to be downloaded (audited), or for a `HEAD` that only asks what the
/// download would be (no body leaves, so no "downloaded" row is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrieval {
    Download,
    HeadOnly,
}

impl Retrieval {
    pub fn audited(self) -> bool {
        self == Retrieval::Download
    }
}

/// A download: the bytes, their allowlisted type and the name to save them under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub bytes: Vec<u8>,
    pub file_type: FileType,
    pub filename: String,
}

impl Download {
    /// `name` is a title or file name as uploaded; it is sanitised, and given the type's
    /// extension when it lacks it.
    pub fn new(bytes: Vec<u8>, file_type: FileType, name: &str) -> Download {
        Download { bytes, file_type, filename: safe_filename(name, file_type) }
    }

    /// The response headers: the allowlisted type, attachment disposition, nosniff and a sandbox
    /// CSP, so neither the browser's sniffing nor opening the URL can run an uploaded page on
    /// the portal's origin.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", self.file_type.as_str().to_owned()),
            ("content-disposition", content_disposition(&self.filename)),
            ("x-content-type-options", "nosniff".to_owned()),
            ("content-security-policy", "sandbox; default-src 'none'".to_owned()),
            ("cache-control", "private, no-store".to_owned()),
        ]
    }
}

/// A file name safe in any file system, header and download attribute, for documents and
/// attachments alike: printable characters only (control and format characters such as the
/// right-to-left override U+202E or zero-width ones are dropped, so a name cannot disguise its
/// extension), no path separators, quotes or leading dots, at most 120 characters, and the
/// extension forced from the checked type: a foreign last extension (`Invoice.pdf.exe` sent as
/// text) is replaced, so the name never says more than the bytes are.
pub fn safe_filename(name: &str, file_type: FileType) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !is_format_char(*c))
        .map(|c| {
            if c.is_control() {
                ' '
            } else if matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|' | ';' | '%') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut base: String = cleaned.trim_start_matches(['.', ' ']).chars().take(120).collect();
    base = base.trim_end_matches(['.', ' ']).to_owned();
    let ext = file_type.extension();
    let own_ext = |e: &str| e.eq_ignore_ascii_case(ext) || (file_type == FileType::Jpeg && e.eq_ignore_ascii_case("jpeg"));
    if let Some((stem, e)) = base.rsplit_once('.') {
        if own_ext(e) {
            return base;
        }
        // A last extension of another type goes; words with a dot in them stay.
        if !stem.is_empty() && (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()) {
            base = stem.trim_end_matches(['.', ' ']).to_owned();
        }
    }
    if base.is_empty() {
        base = "document".to_owned();
    }
    format!("{base}.{ext}")
}

/// Unicode format characters (category Cf) that reorder or hide text: bidirectional controls and
/// isolates, zero-width characters, the byte order mark, soft hyphen, and the Arabic letter mark.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266):
/// browsers that know `filename*` keep non-ASCII names, the rest get the fallback.
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// One part of a `multipart/form-data` body, borrowing its bytes from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

impl Part<'_> {
    /// The part as text (a form field), or 400 naming it.
    pub fn text(&self) -> Result<String, ApiError> {
        String::from_utf8(self.data.to_vec()).map_err(|_| ApiError::invalid(self.name.as_str(), format!("{} must be UTF-8 text", self.name)))
    }
}

const MAX_PARTS: usize = 20;
const MAX_PART_HEADERS: usize = 8 * 1024;

/// Splits a `multipart/form-data` body (RFC 7578) into its parts. `content_type` is the
/// request's header, which carries the boundary. A malformed body answers 400 naming `body`.
pub fn parse_multipart<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, ApiError> {
    let bad = |why: &str| ApiError::invalid("body", format!("The multipart body is malformed: {why}."));
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| bad("no boundary in the content type"))?;
    let opening = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let mut at = find(body, opening.as_bytes(), 0).ok_or_else(|| bad("no opening boundary"))? + opening.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(at..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(bad("a boundary is not followed by a line break"));
        }
        if parts.len() == MAX_PARTS {
            return Err(bad("too many parts"));
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start).filter(|e| e - head_start <= MAX_PART_HEADERS).ok_or_else(|| bad("a part has no header end"))?;
        let head = std::str::from_utf8(body.get(head_start..head_end).unwrap_or_default()).map_err(|_| bad("part headers are not text"))?;
        let data_start = head_end + 4;
        let data_end = find(body, delimiter.as_bytes(), data_start).ok_or_else(|| bad("a part is not closed"))?;
        let mut part = Part { name: String::new(), filename: None, content_type: None, data: body.get(data_start..data_end).unwrap_or_default() };
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    if let Some((k, v)) = param.split_once('=') {
                        let v = v.trim().trim_matches('"').to_owned();
                        match k.trim().to_ascii_lowercase().as_str() {
                            "name" => part.name = v,
                            "filename" => part.filename = Some(v),
                            _ => {}
                        }
                    }
                }
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            }
        }
        if part.name.is_empty() {
            return Err(bad("a part has no name"));
        }
        parts.push(part);
        at = data_end + delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_refuses_pages_and_scripts() {
        for t in ["text/html", "image/svg+xml", "application/xhtml+xml", "application/javascript", "text/xml", "application/octet-stream", ""] {
            assert_eq!(FileType::parse(t), None, "{t}");
        }
        assert_eq!(FileType::parse("Application/PDF; charset=binary"), Some(FileType::Pdf));
        assert_eq!(FileType::parse("image/jpg"), Some(FileType::Jpeg));
    }

    #[test]
    fn a_label_must_match_the_bytes() {
        assert!(Upload::new("f", FileType::Png, b"<html><script>alert(1)</script>".to_vec()).is_err());
        assert!(Upload::new("f", FileType::Pdf, b"%PDF-1.7\n...".to_vec()).is_ok());
        assert!(Upload::new("f", FileType::Docx, b"PK\x03\x04rest".to_vec()).is_ok());
        assert!(Upload::new("f", FileType::Text, b"<html>shown as text</html>".to_vec()).is_ok());
        assert!(matches!(Upload::new("f", FileType::Text, Vec::new()), Err(ApiError::InvalidInput { .. })));
    }

    #[test]
    fn oversize_files_answer_413_before_decoding() {
        let big = "A".repeat((MAX_FILE_BYTES / 3 + 10) * 4);
        assert!(matches!(decode_base64("content_base64", &big), Err(ApiError::TooLarge { .. })));
        assert!(matches!(Upload::new("f", FileType::Text, vec![b'a'; MAX_FILE_BYTES + 1]), Err(ApiError::TooLarge { .. })));
        assert!(Upload::new("f", FileType::Text, vec![b'a'; MAX_FILE_BYTES]).is_ok());
    }

    #[test]
    fn base64_with_or_without_padding_and_line_breaks() {
        assert_eq!(decode_base64("x", "aGk=").ok(), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("x", "aGk").ok(), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("x", "aG\r\nk=").ok(), Some(b"hi".to_vec()));
        assert!(matches!(decode_base64("x", "not base64!"), Err(ApiError::InvalidInput { field, .. }) if field == "x"));
    }

    #[test]
    fn file_names_lose_paths_quotes_and_controls() {
        assert_eq!(safe_filename("../../etc/passwd", FileType::Text), "_.._etc_passwd.txt");
        assert_eq!(safe_filename("Invoice.pdf.exe", FileType::Text), "Invoice.pdf.txt", "the type's extension, not the name's");
        assert_eq!(safe_filename("Invoice\u{202E}fdp.exe", FileType::Text), "Invoicefdp.txt", "no right-to-left override");
        assert_eq!(safe_filename("a\u{200B}b\u{2066}.pdf", FileType::Pdf), "ab.pdf");
        assert_eq!(safe_filename("version 1.2 notes", FileType::Text), "version 1.2 notes.txt", "a dot inside a word stays");
        assert_eq!(safe_filename("Contract \"final\"\r\n2026", FileType::Pdf), "Contract _final_ 2026.pdf");
        assert_eq!(safe_filename("photo.JPEG", FileType::Jpeg), "photo.JPEG");
        assert_eq!(safe_filename("...", FileType::Pdf), "document.pdf");
        assert_eq!(safe_filename("report.pdf", FileType::Pdf), "report.pdf");
        assert!(safe_filename(&"x".repeat(500), FileType::Csv).len() <= 124);
    }

    #[test]
    fn disposition_is_an_attachment_with_an_ascii_fallback() {
        let d = content_disposition("Vertrag Müller.pdf");
        assert_eq!(d, "attachment; filename=\"Vertrag M_ller.pdf\"; filename*=UTF-8''Vertrag%20M%C3%BCller.pdf");
    }

    #[test]
    fn multipart_parts_keep_their_bytes() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nOffer\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1\r\n\x00\xff\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=\"XyZ\"", body).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "title");
        assert_eq!(parts[0].data, b"Offer");
        assert_eq!(parts[1].filename.as_deref(), Some("a.pdf"));
        assert_eq!(parts[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(parts[1].data, b"%PDF-1\r\n\x00\xff");
        assert!(parse_multipart("multipart/form-data", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunclosed").is_err());
    }
}
