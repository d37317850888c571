//! The extra parts a notification's e-mail may carry besides its plain-text message: alternative
//! renderings of the message (a part without a filename, such as an HTML version or an iMIP
//! `text/calendar; method=REQUEST` invitation) and attachments (a part with a filename). This
//! service gives them no meaning; it checks that they are bounded and fit into a MIME message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invalid::InvalidField;

/// Most parts one notification may carry.
pub const MAX_PARTS: usize = 5;
/// Largest part, in bytes of content (decoded, for base64).
pub const MAX_PART_BYTES: usize = 128 * 1024;
/// Largest sum of all parts' content, in bytes.
pub const MAX_PARTS_BYTES: usize = 256 * 1024;
/// Longest file name, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// The media types a part may have. Text types carry UTF-8 text; the others any bytes.
const TEXT_TYPES: [&str; 3] = ["text/plain", "text/html", "text/calendar"];
const BINARY_TYPES: [&str; 6] = [
    "application/ics",
    "application/pdf",
    "application/octet-stream",
    "image/png",
    "image/jpeg",
    "image/gif",
];
/// iTIP methods (RFC 5546), the values of `text/calendar`'s `method` parameter.
const ITIP_METHODS: [&str; 8] =
    ["PUBLISH", "REQUEST", "REPLY", "ADD", "CANCEL", "REFRESH", "COUNTER", "DECLINECOUNTER"];

/// One part as it arrives in `attachments`: the content as text (`content`) or as base64
/// (`content_base64`), exactly one of them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"content_type": "text/calendar; method=REQUEST", "content": "BEGIN:VCALENDAR\r\n…"}))]
pub struct PartRequest {
    /// `text/plain`, `text/html`, `text/calendar`, `application/ics`, `application/pdf`,
    /// `application/octet-stream`, `image/png`, `image/jpeg` or `image/gif`; text types may say
    /// `charset=utf-8`, and `text/calendar` may name its iTIP `method` (`REQUEST`, `CANCEL`…),
    /// which the message keeps.
    #[schema(max_length = 100)]
    pub content_type: String,
    /// With a filename the part is an attachment; without one it is an alternative rendering of
    /// the message (then it must be a text type).
    #[schema(min_length = 1, max_length = 255)]
    pub filename: Option<String>,
    /// The content as text (text types only).
    pub content: Option<String>,
    /// The content in standard base64.
    pub content_base64: Option<String>,
}

/// A checked part, as stored with its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The canonical content type (lower-case type, `charset=utf-8` on text, the `method`).
    pub content_type: String,
    pub filename: Option<String>,
    pub content: Content,
}

/// A part's content: text (line breaks as `\n`) or bytes (kept as base64 in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    Text(String),
    Base64(String),
}

impl Part {
    /// An alternative rendering of the message (no filename), not an attachment.
    pub fn is_alternative(&self) -> bool {
        self.filename.is_none()
    }

    /// The content's length in bytes (decoded).
    pub fn size(&self) -> usize {
        match &self.content {
            Content::Text(text) => text.len(),
            Content::Base64(data) => STANDARD.decode(data).map_or(0, |bytes| bytes.len()),
        }
    }
}

/// Checks every part of `attachments`; the field names say which part (`attachments[1].content`).
pub fn parse_parts(parts: Vec<PartRequest>) -> Result<Vec<Part>, InvalidField> {
    if parts.len() > MAX_PARTS {
        return Err(InvalidField::new("attachments", format!("give at most {MAX_PARTS} parts")));
    }
    let mut total = 0;
    let mut checked = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        let field = |name: &str| format!("attachments[{i}].{name}");
        let part = parse_part(part, &field)?;
        total += part.size();
        if total > MAX_PARTS_BYTES {
            return Err(InvalidField::new(
                "attachments",
                format!("the parts hold at most {MAX_PARTS_BYTES} bytes together"),
            ));
        }
        checked.push(part);
    }
    Ok(checked)
}

fn parse_part(part: PartRequest, field: &impl Fn(&str) -> String) -> Result<Part, InvalidField> {
    let (content_type, is_text) =
        content_type(&part.content_type).map_err(|m| InvalidField::new(field("content_type"), m))?;
    let filename = part.filename.map(|name| parse_filename(name, &field("filename"))).transpose()?;
    if filename.is_none() && !is_text {
        return Err(InvalidField::new(
            field("filename"),
            "a part without a filename is an alternative rendering of the message and must be text/plain, text/html or text/calendar",
        ));
    }
    let content = match (part.content, part.content_base64) {
        (Some(_), Some(_)) => {
            return Err(InvalidField::new(field("content"), "give content or content_base64, not both"));
        }
        (None, None) => {
            return Err(InvalidField::new(field("content"), "content or content_base64 is required"));
        }
        (Some(text), None) if is_text => Content::Text(parse_text(text, &field("content"))?),
        (Some(_), None) => {
            return Err(InvalidField::new(field("content"), "this content type takes content_base64"));
        }
        (None, Some(data)) => {
            let bytes = STANDARD
                .decode(data.trim())
                .map_err(|_| InvalidField::new(field("content_base64"), "not valid base64"))?;
            if bytes.len() > MAX_PART_BYTES {
                return Err(too_large(&field("content_base64")));
            }
            if is_text {
                let text = String::from_utf8(bytes)
                    .map_err(|_| InvalidField::new(field("content_base64"), "a text part must be UTF-8"))?;
                Content::Text(parse_text(text, &field("content_base64"))?)
            } else {
                Content::Base64(STANDARD.encode(bytes))
            }
        }
    };
    Ok(Part { content_type, filename, content })
}

fn too_large(field: &str) -> InvalidField {
    InvalidField::new(field, format!("a part holds at most {MAX_PART_BYTES} bytes"))
}

/// The canonical spelling of a content type, and whether it is a text type.
fn content_type(raw: &str) -> Result<(String, bool), String> {
    let mut pieces = raw.split(';');
    let essence = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_text = TEXT_TYPES.contains(&essence.as_str());
    if !is_text && !BINARY_TYPES.contains(&essence.as_str()) {
        return Err(format!(
            "unknown content type {essence:?}; known: {}, {}",
            TEXT_TYPES.join(", "),
            BINARY_TYPES.join(", ")
        ));
    }
    let mut method = None;
    for parameter in pieces {
        let (name, value) =
            parameter.split_once('=').ok_or_else(|| format!("parameter {parameter:?} has no value"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().trim_matches('"'));
        match name.as_str() {
            "charset" if is_text && value.eq_ignore_ascii_case("utf-8") => {}
            "charset" if is_text => return Err("text parts are UTF-8 (charset=utf-8)".into()),
            "method" if essence == "text/calendar" => {
                let upper = value.to_ascii_uppercase();
                if !ITIP_METHODS.contains(&upper.as_str()) {
                    return Err(format!("method must be one of {}", ITIP_METHODS.join(", ")));
                }
                method = Some(upper);
            }
            _ => return Err(format!("parameter {name:?} is not taken for {essence}")),
        }
    }
    let mut canonical = essence;
    if is_text {
        canonical.push_str("; charset=utf-8");
    }
    if let Some(method) = method {
        canonical.push_str("; method=");
        canonical.push_str(&method);
    }
    Ok((canonical, is_text))
}

fn parse_filename(name: String, field: &str) -> Result<String, InvalidField> {
    if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(InvalidField::new(field, "a filename has no control characters and no / or \\"));
    }
    if name.trim().is_empty() || name.chars().count() > MAX_FILENAME_CHARS {
        return Err(InvalidField::new(field, format!("a filename has 1 to {MAX_FILENAME_CHARS} characters")));
    }
    Ok(name)
}

/// Line breaks as `\n` (`\r\n` and a lone `\r` alike, so no line can be smuggled past a reader
/// that splits on either); tabs are fine; other control characters are refused.
fn parse_text(text: String, field: &str) -> Result<String, InvalidField> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if text.len() > MAX_PART_BYTES {
        return Err(too_large(field));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(InvalidField::new(
            field,
            "text has no control characters other than line breaks and tabs",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(
        content_type: &str,
        filename: Option<&str>,
        content: Option<&str>,
        b64: Option<&str>,
    ) -> PartRequest {
        PartRequest {
            content_type: content_type.into(),
            filename: filename.map(Into::into),
            content: content.map(Into::into),
            content_base64: b64.map(Into::into),
        }
    }

    #[test]
    fn an_imip_part_keeps_its_method_and_is_an_alternative() {
        let parts = parse_parts(vec![part(
            "Text/Calendar; method=request; charset=UTF-8",
            None,
            Some("A\r\nB\rC"),
            None,
        )])
        .unwrap();
        assert_eq!(parts[0].content_type, "text/calendar; charset=utf-8; method=REQUEST");
        assert_eq!(parts[0].content, Content::Text("A\nB\nC".into()));
        assert!(parts[0].is_alternative());
    }

    #[test]
    fn binary_attachments_need_a_filename_and_valid_base64() {
        let pdf = parse_parts(vec![part("application/pdf", Some("a.pdf"), None, Some("JVBERi0="))]).unwrap();
        assert_eq!(pdf[0].size(), 5);
        let field = |p: PartRequest| parse_parts(vec![p]).unwrap_err().field;
        assert_eq!(field(part("application/pdf", None, None, Some("JVBERi0="))), "attachments[0].filename");
        assert_eq!(
            field(part("application/pdf", Some("a"), None, Some("%%%"))),
            "attachments[0].content_base64"
        );
        assert_eq!(field(part("application/pdf", Some("a"), Some("text"), None)), "attachments[0].content");
        assert_eq!(
            field(part("application/x-msdownload", Some("a.exe"), None, Some("AA=="))),
            "attachments[0].content_type"
        );
        assert_eq!(
            field(part("text/plain; charset=latin1", Some("a"), Some("x"), None)),
            "attachments[0].content_type"
        );
        assert_eq!(
            field(part("text/plain; boundary=x", Some("a"), Some("x"), None)),
            "attachments[0].content_type"
        );
        assert_eq!(
            field(part("text/calendar; method=EXPLODE", None, Some("x"), None)),
            "attachments[0].content_type"
        );
        assert_eq!(
            field(part("text/plain", Some("../etc/passwd"), Some("x"), None)),
            "attachments[0].filename"
        );
        assert_eq!(field(part("text/plain", Some("a\r\nX: y"), Some("x"), None)), "attachments[0].filename");
        assert_eq!(field(part("text/plain", Some("a"), Some("x"), Some("eA=="))), "attachments[0].content");
        assert_eq!(field(part("text/plain", Some("a"), None, None)), "attachments[0].content");
        assert_eq!(field(part("text/plain", Some("a"), Some("nul\0"), None)), "attachments[0].content");
        assert_eq!(field(part("text/plain", Some("a"), None, Some("/w=="))), "attachments[0].content_base64");
    }

    #[test]
    fn parts_are_bounded_in_count_and_size() {
        let small = || part("text/plain", Some("a.txt"), Some("x"), None);
        assert!(parse_parts((0..MAX_PARTS).map(|_| small()).collect()).is_ok());
        assert_eq!(parse_parts((0..=MAX_PARTS).map(|_| small()).collect()).unwrap_err().field, "attachments");
        let big = "x".repeat(MAX_PART_BYTES + 1);
        assert_eq!(
            parse_parts(vec![part("text/plain", Some("a"), Some(&big), None)]).unwrap_err().field,
            "attachments[0].content"
        );
        let most = "x".repeat(MAX_PART_BYTES);
        let two = (0..3).map(|_| part("text/plain", Some("a"), Some(&most), None)).collect();
        assert_eq!(parse_parts(two).unwrap_err().field, "attachments");
    }
}
