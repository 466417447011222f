//! Inbound mail: raw RFC 5322 bytes (an SES object in S3, a message received over local SMTP, an
//! `.eml` file) turned into an [`InboundMessage`] the inbound pipeline can thread, classify and
//! store (F20, F24, F26).
//!
//! Everything here treats the message as hostile: [`parse`] refuses input beyond its [`Limits`]
//! before parsing, runs `mail-parser` and all extraction under `catch_unwind` (a panic becomes
//! [`ParseError::Malformed`]), makes every header value it returns single-line with
//! [`header_safe`], sanitises the HTML with `ammonia`, and cleans attachment file names. A message
//! [`parse`] refuses can still be logged with its headers through [`parse_headers_only`].
//!
//! No AWS types: the envelope (SES's recipients, the SMTP `RCPT TO`) is not in the headers and
//! is passed to the pipeline separately.

mod classify;
mod html;
mod quote;
mod signals;
mod subject;

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use time::OffsetDateTime;

pub use classify::{Bounce, Classification, SesVerdicts, Verdict};
pub use html::sanitize_html;
pub use quote::split_quoted;
pub use signals::{find_numbers, plus_token};
pub use subject::clean_subject;

use crate::compose::{Address, header_safe};

/// Longest message id accepted from a message; longer ones are dropped (they would make poor
/// store keys and no real mail system writes them).
const MAX_MESSAGE_ID_LEN: usize = 512;
/// Longest attachment file name kept, in characters.
const MAX_FILE_NAME_CHARS: usize = 200;
/// File name given to an attachment that has none (or none left after cleaning).
pub const DEFAULT_FILE_NAME: &str = "attachment";

/// Resource limits for one message. Everything beyond them is refused with a [`ParseError`]
/// rather than half-processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Size of the raw message (default 40 MiB, the largest message SES accepts).
    pub max_bytes: usize,
    /// MIME parts, counting those of attached messages (default 200). Before parsing, the
    /// message is also refused ([`ParseError::TooComplex`]) when it has more than
    /// `max(250 × max_parts, 10 000)` possible MIME delimiters (`--`) or more than
    /// `max(1000 × max_parts, 50 000)` lines in possible part headers: the parser would build a
    /// structure many times the size of the message from them.
    pub max_parts: usize,
    /// Size of the top-level header section (default 512 KiB).
    pub max_header_bytes: usize,
    /// Attachments and inline images (default 100).
    pub max_attachments: usize,
}

impl Limits {
    /// The largest message SES receives, 40 MiB.
    pub const SES_MAX_BYTES: usize = 40 * 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: Self::SES_MAX_BYTES, max_parts: 200, max_header_bytes: 512 * 1024, max_attachments: 100 }
    }
}

/// Why a message was not parsed. Each variant is a final verdict on the bytes (retrying gives
/// the same answer), so the pipeline logs it (F28) rather than retrying; [`parse_headers_only`]
/// still reads the headers of a message refused for its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message of {size} bytes is over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("header section of {size} bytes is over the limit of {max} bytes")]
    HeadersTooLarge { size: usize, max: usize },
    #[error("message has {count} MIME parts, over the limit of {max}")]
    TooManyParts { count: usize, max: usize },
    #[error("message has {count} attachments, over the limit of {max}")]
    TooManyAttachments { count: usize, max: usize },
    /// Refused before parsing: more possible MIME delimiters or part header lines than any
    /// real message has, which would make the parser build a huge structure (F20).
    #[error("message structure is too complex to parse safely: {reason}")]
    TooComplex { reason: String },
    #[error("malformed message: {reason}")]
    Malformed { reason: String },
}

impl ParseError {
    /// A short stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::HeadersTooLarge { .. } => "headers_too_large",
            ParseError::TooManyParts { .. } => "too_many_parts",
            ParseError::TooManyAttachments { .. } => "too_many_attachments",
            ParseError::TooComplex { .. } => "too_complex",
            ParseError::Malformed { .. } => "malformed",
        }
    }

    /// Whether the message was refused for its size or shape (as opposed to being unreadable),
    /// so that its headers are worth logging through [`parse_headers_only`] (F26).
    pub fn is_limit(&self) -> bool {
        !matches!(self, ParseError::Malformed { .. })
    }
}

/// One top-level header field as written: the name as spelled in the message and the value
/// unfolded and made single-line with [`header_safe`] (still not decoded, and untrusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    pub name: String,
    pub value: String,
}

/// What the header section alone tells: enough to log or thread a message whose body was not
/// imported (F26).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundHeaders {
    /// Without angle brackets; see [`normalize_message_id`].
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as written.
    pub references: Vec<String>,
    pub from: Option<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Decoded and header-safe; empty when the message has none.
    pub subject: String,
    /// [`clean_subject`] of the subject.
    pub clean_subject: String,
    pub date: Option<OffsetDateTime>,
    /// From the headers only: no bounce details (those are in the body).
    pub auto: Classification,
    /// Every top-level header field in order (of a header section cut to the limit).
    pub raw_headers: Vec<RawHeader>,
    /// Size of the whole raw message in bytes.
    pub size: usize,
}

/// A parsed inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Without angle brackets; see [`normalize_message_id`].
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as written.
    pub references: Vec<String>,
    pub from: Option<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Decoded and header-safe; empty when the message has none.
    pub subject: String,
    /// [`clean_subject`] of the subject.
    pub clean_subject: String,
    pub date: Option<OffsetDateTime>,
    /// The text body: the text/plain parts, or the HTML converted to text when there is no
    /// plain part. Lines end in `\n`; NUL characters are removed.
    pub text: String,
    /// `text` without the quoted history, for the stream view.
    pub visible_text: String,
    /// The quoted history split off `text`, if any.
    pub quoted_text: Option<String>,
    /// The HTML body sanitised by [`sanitize_html`]; `None` when the message has no HTML part
    /// (or one nested too deeply to sanitise; the text body still has its content).
    pub html_sanitized: Option<String>,
    /// Attachments and inline images (and attached messages), in message order.
    pub attachments: Vec<Attachment>,
    pub auto: Classification,
    /// Every top-level header field in order.
    pub raw_headers: Vec<RawHeader>,
    /// Size of the raw message in bytes.
    pub size: usize,
}

/// An attachment or inline image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Cleaned by [`sanitize_file_name`]: never empty, no path, no control characters.
    pub file_name: String,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Without angle brackets, as `cid:` references in the HTML name it.
    pub content_id: Option<String>,
    /// Shown in the body (an inline image) rather than offered as a download.
    pub inline: bool,
    /// The decoded content.
    pub bytes: Vec<u8>,
}

/// Looks up raw header values by name, case-insensitively.
fn raw_header_values<'a, 'n>(headers: &'a [RawHeader], name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    headers.iter().filter(move |header| header.name.eq_ignore_ascii_case(name)).map(|header| header.value.as_str())
}

impl InboundHeaders {
    /// The first value of a top-level header field (see [`RawHeader`]).
    pub fn header(&self, name: &str) -> Option<&str> {
        raw_header_values(&self.raw_headers, name).next()
    }

    /// Every value of a top-level header field, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        raw_header_values(&self.raw_headers, name)
    }
}

impl InboundMessage {
    /// The first value of a top-level header field (see [`RawHeader`]).
    pub fn header(&self, name: &str) -> Option<&str> {
        raw_header_values(&self.raw_headers, name).next()
    }

    /// Every value of a top-level header field, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        raw_header_values(&self.raw_headers, name)
    }

    /// The header part of the message.
    pub fn headers(&self) -> InboundHeaders {
        InboundHeaders {
            message_id: self.message_id.clone(),
            in_reply_to: self.in_reply_to.clone(),
            references: self.references.clone(),
            from: self.from.clone(),
            reply_to: self.reply_to.clone(),
            to: self.to.clone(),
            cc: self.cc.clone(),
            subject: self.subject.clone(),
            clean_subject: self.clean_subject.clone(),
            date: self.date,
            auto: self.auto.clone(),
            raw_headers: self.raw_headers.clone(),
            size: self.size,
        }
    }

    /// A message of these headers whose body was not read (kept for oversize mail, F26).
    pub fn without_body(h: InboundHeaders) -> InboundMessage {
        InboundMessage {
            message_id: h.message_id,
            in_reply_to: h.in_reply_to,
            references: h.references,
            from: h.from,
            reply_to: h.reply_to,
            to: h.to,
            cc: h.cc,
            subject: h.subject,
            clean_subject: h.clean_subject,
            date: h.date,
            text: String::new(),
            visible_text: String::new(),
            quoted_text: None,
            html_sanitized: None,
            attachments: Vec::new(),
            auto: h.auto,
            raw_headers: h.raw_headers,
            size: h.size,
        }
    }

    /// The inline attachment a `cid:` reference (with or without the scheme and brackets) names.
    pub fn inline_attachment(&self, content_id: &str) -> Option<&Attachment> {
        let wanted = content_id.trim();
        let wanted = wanted.get(..4).filter(|scheme| scheme.eq_ignore_ascii_case("cid:")).map_or(wanted, |_| &wanted[4..]);
        let wanted = normalize_message_id(wanted)?;
        self.attachments.iter().find(|attachment| attachment.content_id.as_deref() == Some(wanted.as_str()))
    }
}

/// Parses a raw message within `limits`.
///
/// Refuses, before parsing, a message over `max_bytes` ([`ParseError::TooLarge`]), with a header
/// section over `max_header_bytes` ([`ParseError::HeadersTooLarge`]) or with a structure that
/// would make the parser build far more than the message's size ([`ParseError::TooComplex`]);
/// after parsing, one with more parts or attachments than allowed. For all of these
/// [`ParseError::is_limit`] holds and [`parse_headers_only`] still reads the headers. Input
/// without any header field, and any panic while parsing, is [`ParseError::Malformed`]. Never
/// panics.
pub fn parse(raw: &[u8], limits: &Limits) -> Result<InboundMessage, ParseError> {
    if raw.len() > limits.max_bytes {
        return Err(ParseError::TooLarge { size: raw.len(), max: limits.max_bytes });
    }
    let header_len = header_section_len(raw);
    if header_len > limits.max_header_bytes {
        return Err(ParseError::HeadersTooLarge { size: header_len, max: limits.max_header_bytes });
    }
    check_structure(raw, limits)?;
    guarded(EXTRACTION_FAILED, || parse_within_limits(raw, limits))
}

/// One cheap pass over the raw message bounding what mail-parser would build: every MIME part
/// starts at a `--` delimiter (mail-parser also accepts one in the middle of a line), and every
/// header field it stores takes a line of a header block (the top one, or one after a line with
/// a delimiter, up to the next blank line). Both counts overestimate (HTML comments hold `--`),
/// so the thresholds leave ample room for real mail.
fn check_structure(raw: &[u8], limits: &Limits) -> Result<(), ParseError> {
    let max_delimiters = limits.max_parts.saturating_mul(250).max(10_000);
    let max_header_lines = limits.max_parts.saturating_mul(1_000).max(50_000);
    let mut delimiters = 0usize;
    let mut header_lines = 0usize;
    let mut in_header_block = true;
    for line in raw.split(|&byte| byte == b'\n') {
        if in_header_block {
            if line.iter().all(u8::is_ascii_whitespace) {
                in_header_block = false;
            } else {
                header_lines += 1;
            }
        }
        let dashes = count_dash_pairs(line);
        if dashes > 0 {
            delimiters += dashes;
            in_header_block = true;
        }
        if delimiters > max_delimiters {
            return Err(ParseError::TooComplex { reason: format!("more than {max_delimiters} possible MIME delimiters") });
        }
        if header_lines > max_header_lines {
            return Err(ParseError::TooComplex { reason: format!("more than {max_header_lines} lines of MIME part headers") });
        }
    }
    Ok(())
}

/// Non-overlapping `--` in a line.
fn count_dash_pairs(line: &[u8]) -> usize {
    let mut count = 0;
    let mut index = 0;
    while index + 1 < line.len() {
        if line[index] == b'-' && line[index + 1] == b'-' {
            count += 1;
            index += 2;
        } else {
            index += 1;
        }
    }
    count
}

/// Reads only the header section (cut to `max_header_bytes` at a line end), whatever the size of
/// the message: the way to log a message [`parse`] refused (F26). Fails only when no header field
/// can be read at all.
pub fn parse_headers_only(raw: &[u8], limits: &Limits) -> Result<InboundHeaders, ParseError> {
    let header_len = header_section_len(raw);
    let mut section = &raw[..header_len.min(raw.len())];
    if section.len() > limits.max_header_bytes {
        section = &section[..limits.max_header_bytes];
        // Cut at the last complete line, so no field is read half.
        if let Some(last_newline) = section.iter().rposition(|&byte| byte == b'\n') {
            section = &section[..=last_newline];
        }
    }
    guarded(EXTRACTION_FAILED, || {
        let message = guarded(PARSER_FAILED, || Ok(MessageParser::new().parse_headers(section)))?.filter(has_header_fields).ok_or_else(no_headers)?;
        Ok(read_headers(&message, raw.len()))
    })
}

/// The To and Cc addresses of a message, in order: what stands in for the envelope when the
/// receiving system kept none (an SES object read without its SES event, a stored message
/// imported from a file). Bcc'd recipients are not among them. Empty when no header can be read.
pub fn header_recipients(raw: &[u8]) -> Vec<String> {
    let limits = Limits { max_bytes: usize::MAX, ..Limits::default() };
    match parse_headers_only(raw, &limits) {
        Ok(headers) => headers.to.iter().chain(headers.cc.iter()).map(|a| a.email.clone()).collect(),
        Err(_) => Vec::new(),
    }
}

/// How [`ParseError::Malformed`] starts when mail-parser panicked. mail-parser 0.11 has
/// `debug_assert!`s that some broken MIME trips in debug builds (release builds carry on with a
/// best-effort parse), so this is a possible outcome of hostile input in tests.
pub const PARSER_FAILED: &str = "mail-parser failed";
/// How [`ParseError::Malformed`] starts when our own extraction panicked: a bug, never an
/// expected outcome.
pub const EXTRACTION_FAILED: &str = "reading the parsed message failed";

/// Runs `work` so that a panic anywhere in it (mail-parser, ammonia, our own code) becomes
/// [`ParseError::Malformed`] with a reason starting with `stage`.
fn guarded<T>(stage: &str, work: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(ParseError::Malformed { reason: format!("{stage}: {}", header_safe(&detail)) })
    })
}

/// Whether mail-parser found at least one header field with a valid name (printable ASCII
/// without colon, RFC 5322 §2.2): it reads a line of text or a few bytes of binary junk as a
/// field too.
fn has_header_fields(message: &Message<'_>) -> bool {
    !message.parts.is_empty()
        && message.headers().iter().any(|header| {
            let name = header.name.as_str();
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        })
}

fn no_headers() -> ParseError {
    ParseError::Malformed { reason: "no header field could be read".to_owned() }
}

/// Length of the top-level header section including the empty line that ends it; the whole input
/// when there is no empty line.
fn header_section_len(raw: &[u8]) -> usize {
    let mut position = 0;
    // A header section that starts with the empty line is empty.
    if raw.starts_with(b"\n") {
        return 1;
    }
    if raw.starts_with(b"\r\n") {
        return 2;
    }
    while let Some(offset) = raw[position..].iter().position(|&byte| byte == b'\n') {
        let line_end = position + offset + 1;
        match raw.get(line_end..) {
            Some([b'\n', ..]) => return line_end + 1,
            Some([b'\r', b'\n', ..]) => return line_end + 2,
            _ => position = line_end,
        }
    }
    raw.len()
}

fn parse_within_limits(raw: &[u8], limits: &Limits) -> Result<InboundMessage, ParseError> {
    let mut message = guarded(PARSER_FAILED, || Ok(MessageParser::new().parse(raw)))?.filter(has_header_fields).ok_or_else(no_headers)?;

    let parts = count_parts(&message);
    if parts > limits.max_parts {
        return Err(ParseError::TooManyParts { count: parts, max: limits.max_parts });
    }
    if message.attachments.len() > limits.max_attachments {
        return Err(ParseError::TooManyAttachments { count: message.attachments.len(), max: limits.max_attachments });
    }

    let headers = read_headers(&message, raw.len());
    let (text, root_is_text) = match body_text(&message) {
        Some(text) => (text, false),
        None => (root_text(&message).unwrap_or_default(), true),
    };
    let (visible_text, quoted_text) = split_quoted(&text);
    let html_sanitized = body_html(&message).and_then(|html| sanitize_html(&html));
    let auto = classify::classify(&headers.raw_headers, &headers.subject, Some(&message));
    // Last, because it moves the decoded attachments out of the parsed message.
    let attachment_ids: Vec<usize> = message
        .attachments
        .iter()
        .map(|&id| id as usize)
        // The root part read as text above is the body, not an attachment.
        .filter(|&id| !(root_is_text && id == 0))
        .collect();
    let attachments = attachment_ids.into_iter().filter_map(|id| message.parts.get_mut(id).map(|part| attachment(raw, part))).collect();

    let InboundHeaders { message_id, in_reply_to, references, from, reply_to, to, cc, subject, clean_subject, date, auto: _, raw_headers, size } = headers;
    Ok(InboundMessage {
        message_id,
        in_reply_to,
        references,
        from,
        reply_to,
        to,
        cc,
        subject,
        clean_subject,
        date,
        text,
        visible_text,
        quoted_text,
        html_sanitized,
        attachments,
        auto,
        raw_headers,
        size,
    })
}

/// MIME parts of the message and of the messages attached to it, at any depth.
fn count_parts(message: &Message<'_>) -> usize {
    message
        .parts
        .iter()
        .map(|part| match &part.body {
            PartType::Message(nested) => 1 + count_parts(nested),
            _ => 1,
        })
        .sum()
}

fn read_headers(message: &Message<'_>, size: usize) -> InboundHeaders {
    let raw_headers = raw_headers(message);
    let subject = message.subject().map(header_safe).unwrap_or_default();
    let auto = classify::classify(&raw_headers, &subject, None);
    InboundHeaders {
        message_id: message.header(HeaderName::MessageId).and_then(|value| ids_of(value).into_iter().next()),
        in_reply_to: message.header(HeaderName::InReplyTo).map(ids_of).unwrap_or_default(),
        references: message.header(HeaderName::References).map(ids_of).unwrap_or_default(),
        from: message.from().and_then(|from| from.iter().find_map(address)),
        reply_to: addresses(message.header_values(HeaderName::ReplyTo).take(1)),
        to: addresses(message.header_values(HeaderName::To)),
        cc: addresses(message.header_values(HeaderName::Cc)),
        clean_subject: clean_subject(&subject),
        subject,
        date: message.date().and_then(date),
        auto,
        raw_headers,
        size,
    }
}

fn raw_headers(message: &Message<'_>) -> Vec<RawHeader> {
    let raw = message.raw_message.as_ref();
    message
        .headers()
        .iter()
        .filter(|header| !header_safe(header.name.as_str()).is_empty())
        .map(|header| {
            let value = raw.get(header.offset_start as usize..header.offset_end as usize).map(String::from_utf8_lossy).unwrap_or_default();
            RawHeader { name: header_safe(header.name.as_str()), value: header_safe(&unfold(&value)) }
        })
        .collect()
}

/// Removes the line breaks of folded header lines (RFC 5322 §2.2.3).
fn unfold(value: &str) -> String {
    let mut unfolded = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(position) = rest.find('\n') {
        let (line, tail) = rest.split_at(position);
        unfolded.push_str(line.strip_suffix('\r').unwrap_or(line));
        rest = &tail[1..];
        if !rest.starts_with([' ', '\t']) && !rest.is_empty() {
            // A bare line break not followed by whitespace: keep it visible as a space.
            unfolded.push(' ');
        }
    }
    unfolded.push_str(rest);
    unfolded
}

/// The normalised ids of an id header as mail-parser read it.
fn ids_of(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(text) => parse_message_ids(text),
        HeaderValue::TextList(list) => list.iter().flat_map(|id| parse_message_ids(id)).collect(),
        _ => Vec::new(),
    }
}

/// Normalises one message id, as found in `Message-ID`, `In-Reply-To` or `References`, with or
/// without angle brackets (mail-parser returns them without, SES event headers keep them): the
/// content of the first `<…>` if there is one, trimmed. `None` when nothing usable is left: empty,
/// longer than 512 bytes, or holding whitespace, control characters or angle brackets.
pub fn normalize_message_id(value: &str) -> Option<String> {
    let value = value.trim();
    let inner = match value.find('<') {
        Some(open) => {
            let after = &value[open + 1..];
            after.find('>').map_or(after, |close| &after[..close])
        }
        None => value.strip_suffix('>').unwrap_or(value),
    };
    let inner = inner.trim();
    let valid = !inner.is_empty() && inner.len() <= MAX_MESSAGE_ID_LEN && !inner.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'));
    valid.then(|| inner.to_owned())
}

/// Every message id in a header value such as `<a@x> <b@y>` or `a@x, b@y`, normalised, in order.
pub fn parse_message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let end = if rest.starts_with('<') {
            rest.find('>').map_or(rest.len(), |close| close + 1)
        } else {
            rest.find(|c: char| c.is_whitespace() || c == ',' || c == '<').unwrap_or(rest.len())
        };
        let (token, tail) = rest.split_at(end);
        if let Some(id) = normalize_message_id(token) {
            ids.push(id);
        }
        rest = tail;
    }
    ids
}

/// The addresses of the given address headers, in order; entries without a usable address are
/// left out.
fn addresses<'a>(values: impl Iterator<Item = &'a HeaderValue<'a>>) -> Vec<Address> {
    values.filter_map(HeaderValue::as_address).flat_map(|list| list.iter().filter_map(address).collect::<Vec<_>>()).collect()
}

fn address(addr: &mail_parser::Addr<'_>) -> Option<Address> {
    let email = normalize_address(addr.address()?)?;
    let name = addr.name().map(header_safe).filter(|name| !name.is_empty() && *name != email);
    Some(Address { name, email })
}

/// An address as read from a header, or `None` when it is not `local@domain` without whitespace,
/// controls or brackets. The domain is lower-cased (it is case-insensitive); the local part is
/// kept as written.
pub fn normalize_address(value: &str) -> Option<String> {
    let value = value.trim();
    let value = value.strip_prefix('<').and_then(|inner| inner.strip_suffix('>')).unwrap_or(value);
    let (local, domain) = value.rsplit_once('@')?;
    let valid = !local.is_empty()
        && !domain.is_empty()
        && value.len() <= 320
        && !value.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    valid.then(|| format!("{local}@{}", domain.to_lowercase()))
}

fn date(value: &mail_parser::DateTime) -> Option<OffsetDateTime> {
    let month = time::Month::try_from(value.month).ok()?;
    let day = time::Date::from_calendar_date(i32::from(value.year), month, value.day).ok()?;
    // A leap second is read as the second before it.
    let clock = time::Time::from_hms(value.hour, value.minute, value.second.min(59)).ok()?;
    let offset_seconds = (i32::from(value.tz_hour) * 3600 + i32::from(value.tz_minute) * 60) * if value.tz_before_gmt { -1 } else { 1 };
    let offset = time::UtcOffset::from_whole_seconds(offset_seconds).ok()?;
    Some(day.with_time(clock).assume_offset(offset))
}

/// The text body: every text/plain body part (HTML converted to text when there is no plain
/// alternative), joined by a line break, with `\n` line ends, `format=flowed` lines joined, and
/// without NUL characters. `None` when the message has no text or HTML body part at all.
fn body_text(message: &Message<'_>) -> Option<String> {
    let mut text: Option<String> = None;
    for (position, &id) in message.text_body.iter().enumerate() {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
            continue;
        }
        if let Some(part_text) = message.body_text(position) {
            let mut part_text = normalize_text(&part_text);
            if let Some(content_type) = part.content_type()
                && matches!(part.body, PartType::Text(_))
                && content_type.attribute("format").is_some_and(|format| format.eq_ignore_ascii_case("flowed"))
            {
                let delete_space = content_type.attribute("delsp").is_some_and(|delsp| delsp.eq_ignore_ascii_case("yes"));
                part_text = unflow(&part_text, delete_space);
            }
            let text = text.get_or_insert_with(String::new);
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&part_text);
        }
    }
    text
}

/// The text of a message whose body mail-parser could not place (a multipart without boundary,
/// say): its root part, when that was read as text.
fn root_text(message: &Message<'_>) -> Option<String> {
    if !message.html_body.is_empty() {
        return None;
    }
    let root = message.parts.first()?;
    match &root.body {
        PartType::Text(text) => Some(normalize_text(text)),
        PartType::Binary(bytes)
            if root.content_type().is_some_and(|content_type| matches!(content_type.ctype().to_ascii_lowercase().as_str(), "multipart" | "text")) =>
        {
            Some(normalize_text(&String::from_utf8_lossy(bytes)))
        }
        _ => None,
    }
}

/// Joins the soft line breaks of `format=flowed` text (RFC 3676): a line ending in a space
/// continues on the next line of the same quote depth; the signature separator `-- ` never
/// continues. Space-stuffing is removed.
fn unflow(text: &str, delete_space: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut continuing: Option<usize> = None;
    for line in text.split('\n') {
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        let joins_previous = continuing == Some(depth);
        if !joins_previous {
            if continuing.is_some() {
                // A soft break followed by a different quote depth is a hard break after all.
                out.push('\n');
            }
            out.push_str(&line[..depth]);
            if depth > 0 && !content.is_empty() {
                out.push(' ');
            }
        }
        let soft_break = content.ends_with(' ') && content != "-- ";
        if soft_break {
            out.push_str(if delete_space { &content[..content.len() - 1] } else { content });
            continuing = Some(depth);
        } else {
            out.push_str(content);
            out.push('\n');
            continuing = None;
        }
    }
    // `split` yields one line after the final line break: drop the break added for it.
    if continuing.is_none() && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The HTML body parts, concatenated; `None` when the message has no text/html body part.
fn body_html(message: &Message<'_>) -> Option<String> {
    let mut html: Option<String> = None;
    for &id in &message.html_body {
        if let Some(PartType::Html(part_html)) = message.parts.get(id as usize).map(|p| &p.body) {
            html.get_or_insert_with(String::new).push_str(part_html);
        }
    }
    html
}

fn normalize_text(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r'], "\n").replace('\0', "")
}

/// The attachment of a part; its decoded content is moved out of the part.
fn attachment(raw: &[u8], part: &mut MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|content_type| {
            let subtype = content_type.subtype().unwrap_or("octet-stream");
            format!("{}/{}", content_type.ctype(), subtype).to_ascii_lowercase()
        })
        .unwrap_or_else(|| match part.body {
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            PartType::Message(_) => "message/rfc822".to_owned(),
            _ => "application/octet-stream".to_owned(),
        });
    let content_type = header_safe(&content_type);
    let content_id = part.content_id().and_then(normalize_message_id);
    let inline = match part.content_disposition() {
        Some(disposition) if disposition.is_attachment() => false,
        Some(disposition) if disposition.is_inline() => true,
        _ => content_id.is_some() || matches!(part.body, PartType::InlineBinary(_)),
    };
    let file_name = sanitize_file_name(part.attachment_name().unwrap_or_default());
    let bytes = match &part.body {
        // A part cut off before its end: mail-parser keeps it undecoded.
        _ if part.is_encoding_problem => recover_base64(part).unwrap_or_else(|| part.contents().to_vec()),
        // mail-parser converts text parts to UTF-8; an attachment keeps its own bytes.
        PartType::Text(_) | PartType::Html(_) => original_bytes(raw, part).unwrap_or_else(|| part.contents().to_vec()),
        // Moved rather than copied: attachments can be tens of megabytes.
        PartType::Binary(_) | PartType::InlineBinary(_) => match std::mem::take(&mut part.body) {
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
            _ => Vec::new(),
        },
        _ => part.contents().to_vec(),
    };
    Attachment { file_name, content_type, content_id, inline, bytes }
}

/// The body of a part decoded from its transfer encoding but not from its charset.
fn original_bytes(raw: &[u8], part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::Base64 => base64_decode(body),
        Encoding::QuotedPrintable => quoted_printable_decode(body),
        Encoding::None => Some(body.to_vec()),
    }
}

/// What can be decoded of a base64 part mail-parser left undecoded (a truncated message): the
/// complete groups of four up to the first byte that is not base64.
fn recover_base64(part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let declared_base64 = part.content_transfer_encoding().is_some_and(|encoding| encoding.trim().eq_ignore_ascii_case("base64"));
    if !declared_base64 {
        return None;
    }
    let mut clean: Vec<u8> = part
        .contents()
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    clean.truncate(clean.len() / 4 * 4);
    if clean.is_empty() {
        return None;
    }
    base64_decode(&clean)
}

/// A file name safe to store and offer for download: only the last path component, without
/// control characters or the Unicode formatting characters that can disguise an extension
/// (right-to-left override and friends), without leading/trailing dots and spaces, at most 200
/// characters with the extension kept, and `attachment` when nothing is left.
pub fn sanitize_file_name(name: &str) -> String {
    let last_component = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last_component
        .chars()
        .filter(|&c| !c.is_control() && !is_format_char(c))
        .map(|c| if matches!(c, ':' | '"' | '<' | '>' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    if trimmed.is_empty() {
        return DEFAULT_FILE_NAME.to_owned();
    }
    if trimmed.chars().count() <= MAX_FILE_NAME_CHARS {
        return trimmed.to_owned();
    }
    // Keep a short extension and cut the stem.
    let extension = trimmed.rsplit_once('.').map(|(_, extension)| extension).filter(|extension| !extension.is_empty() && extension.chars().count() <= 16);
    match extension {
        Some(extension) => {
            let room = MAX_FILE_NAME_CHARS - extension.chars().count() - 1;
            let stem: String = trimmed.chars().take(room).collect();
            format!("{}.{extension}", stem.trim_end())
        }
        None => trimmed.chars().take(MAX_FILE_NAME_CHARS).collect::<String>().trim_end().to_owned(),
    }
}

/// Invisible formatting characters: bidirectional controls, zero-width characters, the BOM.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{2028}'
        | '\u{2029}')
}

#[cfg(test)]
mod tests;
