//! Docket's ports besides the item store: blobs (attachments, raw mail), durable message queues
//! (notify, assign) and the outbound mail sender. Each has an embedded adapter (docket-embedded:
//! a folder, an SQLite table, an outbox folder of `.eml` files) and an AWS adapter (docket-aws:
//! S3, SQS, SES), and one conformance suite asserting both behave alike.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// Failures of any port adapter, classified so callers know whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Throttling, timeouts, connection failures: worth retrying.
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("failure: {0}")]
    Backend(String),
}

/// A stored blob's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: String,
    pub content_type: String,
    pub size: u64,
}

/// Content-addressed or caller-named binary objects (attachments, raw messages).
///
/// Keys are relative paths of `[A-Za-z0-9._-]` segments separated by `/` (no `..`, no leading
/// `/`); adapters refuse anything else with [`PortError::Invalid`].
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores the bytes under `key`, replacing any previous blob.
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<BlobInfo, PortError>;
    /// The bytes and metadata; [`PortError::NotFound`] when absent.
    async fn get(&self, key: &str) -> Result<(BlobInfo, Vec<u8>), PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// The metadata of a blob without its bytes; [`PortError::NotFound`] when absent. Used to
    /// check what a client uploaded through a presigned request before believing it.
    async fn head(&self, key: &str) -> Result<BlobInfo, PortError>;
    /// A request with which a client uploads one blob straight to the store, without passing
    /// its bytes through the API: a `PUT` of `grant.key`, valid for `valid_for`. The request
    /// carries the content type and creates the blob only if none is there yet (S3's
    /// `If-None-Match: *`), so it cannot replace an upload once the API has checked it. Not
    /// every store can hold a client to `grant.max_size` (S3 cannot): check with
    /// [`BlobStore::head`] after the upload.
    async fn presign_upload(&self, grant: &UploadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError>;
    /// A request with which a client downloads a blob straight from the store: a `GET` valid
    /// for `valid_for`, answered with `grant.content_type` and
    /// [`attachment_disposition`]`(grant.file_name)` whatever the blob's own metadata says.
    async fn presign_download(&self, grant: &DownloadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError>;
}

/// What a presigned upload allows: one blob at `key`, of content type `content_type`, at most
/// `max_size` bytes (see [`BlobStore::presign_upload`] for who enforces what).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub key: String,
    pub content_type: String,
    pub max_size: u64,
}

/// What a presigned download allows: the blob at `key`, served with `content_type`, as a file
/// to save named `file_name` (never rendered inline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadGrant {
    pub key: String,
    pub content_type: String,
    pub file_name: String,
}

/// An HTTP request a client may make once, straight to the blob store, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// `PUT` or `GET`.
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given (lower-case names), or the store refuses.
    pub headers: Vec<(String, String)>,
    pub expires_at: SystemTime,
}

/// Longest validity of a presigned request (S3's limit: seven days).
pub const MAX_PRESIGNED_VALIDITY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Checks what every adapter must check before presigning: a valid key and content type, a
/// validity of 1 s to [`MAX_PRESIGNED_VALIDITY`].
pub fn validate_presigning(key: &str, content_type: &str, valid_for: Duration) -> Result<(), PortError> {
    validate_blob_key(key)?;
    validate_content_type(content_type)?;
    if valid_for < Duration::from_secs(1) || valid_for > MAX_PRESIGNED_VALIDITY {
        return Err(PortError::Invalid(format!("a presigned request is valid for 1 s to {} s", MAX_PRESIGNED_VALIDITY.as_secs())));
    }
    Ok(())
}

/// Path of the local server's route for uploads through signed URLs (`PUT {path}/{token}`).
pub const SIGNED_UPLOAD_PATH: &str = "/blobs/upload";
/// Path of the local server's route for downloads through signed URLs (`GET {path}/{token}`).
pub const SIGNED_DOWNLOAD_PATH: &str = "/blobs/download";

/// The stores whose presigned URLs point back at our own server rather than at a storage
/// service (the folder adapter of the local process): the server's blob routes ask the store
/// what the token of such a URL grants. A token that was not signed by this store, was
/// altered, was made for the other direction or has expired is [`PortError::Invalid`].
#[async_trait]
pub trait SignedUrlBlobs: BlobStore {
    fn upload_grant(&self, token: &str) -> Result<UploadGrant, PortError>;
    fn download_grant(&self, token: &str) -> Result<DownloadGrant, PortError>;
    /// Stores the bytes as [`BlobStore::put`] does, but only if no blob is at `key` yet:
    /// `Ok(None)` when there is one (as S3 refuses a `PUT` with `If-None-Match: *`).
    async fn put_new(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<Option<BlobInfo>, PortError>;
}

/// The `Content-Disposition` of a download: always `attachment` (a browser saves the file
/// rather than rendering it as our origin), with the file name as an RFC 6266 / RFC 5987
/// `filename*=UTF-8''…` parameter whose every byte outside the RFC 5987 `attr-char` set is
/// percent-encoded, preceded by a plain `filename="…"` for old clients in which anything but
/// printable ASCII other than `"`, `\`, `%` and `;` becomes `_`. The name is the uploader's to
/// choose, so the value can hold neither a line break nor a quote nor a parameter of its own.
pub fn attachment_disposition(file_name: &str) -> String {
    /// Every byte but the RFC 5987 `attr-char`s: ALPHA, DIGIT and `!#$&+-.^_`|~`.
    const NOT_ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let name = file_name.trim();
    if name.is_empty() {
        return "attachment".to_owned();
    }
    let fallback: String = name.chars().map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(name, NOT_ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Checks a blob key as every adapter must.
pub fn validate_blob_key(key: &str) -> Result<(), PortError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|segment| {
            !segment.is_empty() && segment != "." && segment != ".." && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok { Ok(()) } else { Err(PortError::Invalid(format!("invalid blob key {key:?}"))) }
}

/// Longest content type a blob may have, far above any real media type.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

/// Checks a blob's content type as every adapter must: 1 to [`MAX_CONTENT_TYPE_LEN`] printable
/// ASCII characters without surrounding spaces, so that it travels unchanged as an HTTP header
/// (S3 would trim it, and the SDK would fail late and obscurely on anything else).
pub fn validate_content_type(content_type: &str) -> Result<(), PortError> {
    let ok = !content_type.is_empty()
        && content_type.len() <= MAX_CONTENT_TYPE_LEN
        && content_type.trim() == content_type
        && content_type.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok { Ok(()) } else { Err(PortError::Invalid(format!("invalid content type {content_type:?}"))) }
}

/// One delivery of a queued message. The same message may be delivered again (at least once)
/// until it is acknowledged; `receive_count` counts deliveries, starting at 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    /// Handle to acknowledge or release this delivery (changes with each delivery).
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// A durable at-least-once queue (SQS semantics).
///
/// A received message is invisible to other receivers for the visibility timeout; if it is not
/// acknowledged by then it becomes visible again. After `max_receives` deliveries without an
/// acknowledgement it moves to the dead-letter store instead of being delivered again.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, body: &str) -> Result<String, PortError>;
    /// Sends a message that belongs to `group`: a FIFO queue (SQS FIFO) delivers the messages of
    /// one group in order, one at a time; other queues ignore the group.
    async fn send_grouped(&self, body: &str, group: &str) -> Result<String, PortError> {
        let _ = group;
        self.send(body).await
    }
    /// Up to `max` visible messages (1..=10), hidden for `visibility` once received.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError>;
    /// Acknowledges (deletes) a delivered message.
    async fn ack(&self, receipt: &str) -> Result<(), PortError>;
    /// Makes a delivered message visible again at once (a failed attempt).
    async fn release(&self, receipt: &str) -> Result<(), PortError>;
    /// Messages currently in the dead-letter store.
    async fn dead_letters(&self) -> Result<Vec<String>, PortError>;
}

/// Most messages one [`Queue::receive`] may ask for (SQS's limit).
pub const MAX_RECEIVE_BATCH: usize = 10;
/// Longest visibility timeout a receive may ask for (SQS's limit: twelve hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// Largest message body in bytes (SQS's limit: 256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Largest number of deliveries a queue may allow before dead-lettering (SQS's `maxReceiveCount`).
pub const MAX_RECEIVES_LIMIT: u32 = 1000;

/// Checks a message body as every queue adapter must, by SQS's rules: 1 byte to
/// [`MAX_BODY_BYTES`] of the characters XML 1.0 allows.
pub fn validate_queue_body(body: &str) -> Result<(), PortError> {
    if body.is_empty() || body.len() > MAX_BODY_BYTES {
        return Err(PortError::Invalid(format!("message body must be 1 to {MAX_BODY_BYTES} bytes, got {}", body.len())));
    }
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'));
    match body.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(PortError::Invalid(format!("message body contains the disallowed character {c:?}"))),
        None => Ok(()),
    }
}

/// Checks the arguments of [`Queue::receive`] as every queue adapter must: 1 to
/// [`MAX_RECEIVE_BATCH`] messages, hidden for at most [`MAX_VISIBILITY`].
pub fn validate_receive(max: usize, visibility: Duration) -> Result<(), PortError> {
    if !(1..=MAX_RECEIVE_BATCH).contains(&max) {
        return Err(PortError::Invalid(format!("max must be between 1 and {MAX_RECEIVE_BATCH}, got {max}")));
    }
    if visibility > MAX_VISIBILITY {
        return Err(PortError::Invalid(format!("visibility must be at most {} s", MAX_VISIBILITY.as_secs())));
    }
    Ok(())
}

/// Checks a queue's dead-letter setting as every queue adapter must: a message is dead-lettered
/// after 1 to [`MAX_RECEIVES_LIMIT`] unacknowledged deliveries.
pub fn validate_max_receives(max_receives: u32) -> Result<(), PortError> {
    if (1..=MAX_RECEIVES_LIMIT).contains(&max_receives) {
        Ok(())
    } else {
        Err(PortError::Invalid(format!("max_receives must be between 1 and {MAX_RECEIVES_LIMIT}")))
    }
}

/// One outbound message, already composed as raw MIME.
#[derive(Debug, Clone)]
pub struct OutboundMail {
    pub from: String,
    pub to: Vec<String>,
    /// The full RFC 5322 message, headers included.
    pub raw: Vec<u8>,
}

/// Sends composed mail. Returns the provider's id of the sent message (SES message id, or the
/// outbox file name locally), which the caller records for threading replies.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: OutboundMail) -> Result<String, PortError>;
}

/// Checks a mail's envelope as every mailer must, before sending anything: a sender, at least one
/// recipient and no blank one (SES would otherwise take the recipients from the message's own
/// headers), and a message that is not empty.
pub fn validate_outbound_mail(mail: &OutboundMail) -> Result<(), PortError> {
    if mail.from.trim().is_empty() {
        return Err(PortError::Invalid("mail without sender".to_owned()));
    }
    if mail.to.is_empty() || mail.to.iter().any(|to| to.trim().is_empty()) {
        return Err(PortError::Invalid("mail without recipients".to_owned()));
    }
    if mail.raw.is_empty() {
        return Err(PortError::Invalid("empty message".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_that_would_not_survive_a_header_are_refused() {
        // GIVEN content types that are empty, padded, multi-line, non-ASCII or absurdly long
        let long = format!("text/{}", "x".repeat(MAX_CONTENT_TYPE_LEN));
        let refused = ["", " text/plain", "text/plain ", "text/plain\r\nX-Injected: 1", "text/plän", "a\tb", long.as_str()];

        for content_type in refused {
            // WHEN each is checked
            let checked = validate_content_type(content_type);

            // THEN it is invalid
            assert!(matches!(checked, Err(PortError::Invalid(_))), "{content_type:?} gave {checked:?}");
        }
        // (while ordinary media types with parameters pass)
        validate_content_type("text/plain; charset=utf-8").expect("plain text with charset");
        validate_content_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document").expect("docx");
    }

    #[test]
    fn a_hostile_file_name_cannot_escape_the_disposition() {
        // GIVEN file names with quotes, line breaks, parameters, percent signs and non-ASCII
        let names = ["report.pdf", "a\"; filename=evil.html", "line\r\nSet-Cookie: x=1.txt", "100% ça.txt", "..\\..\\boot.ini", "日本語 ファイル.docx"];
        for name in names {
            // WHEN each becomes a Content-Disposition
            let value = attachment_disposition(name);

            // THEN it is an attachment with exactly two parameters, on one line of printable
            // ASCII, and the encoded name decodes back to the name
            assert!(value.starts_with("attachment; filename=\""), "{value}");
            assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{value}");
            assert_eq!(value.matches(';').count(), 2, "{value}");
            assert_eq!(value.matches('"').count(), 2, "{value}");
            let encoded = value.rsplit_once("filename*=UTF-8''").expect("extended parameter").1;
            assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~%".contains(&b)), "{value}");
            assert_eq!(percent_decode(encoded), name.trim(), "{value}");
        }
        // AND an empty name gives a bare attachment
        assert_eq!(attachment_disposition("  "), "attachment");
        assert_eq!(attachment_disposition("100% ça.txt"), "attachment; filename=\"100_ _a.txt\"; filename*=UTF-8''100%25%20%C3%A7a.txt");
    }

    fn percent_decode(encoded: &str) -> String {
        percent_encoding::percent_decode_str(encoded).decode_utf8().expect("UTF-8").into_owned()
    }

    #[test]
    fn bodies_sqs_would_refuse_are_invalid() {
        // GIVEN an empty body, one too large, and ones with characters outside XML 1.0
        let too_large = "x".repeat(MAX_BODY_BYTES + 1);
        let refused = ["", too_large.as_str(), "nul\u{0}byte", "bell\u{7}", "non-character\u{FFFE}"];

        for body in refused {
            // WHEN each is checked
            let checked = validate_queue_body(body);

            // THEN it is refused as invalid
            assert!(matches!(checked, Err(PortError::Invalid(_))), "{body:?} gave {checked:?}");
        }
        // AND the largest body of allowed characters passes
        assert!(validate_queue_body(&"é".repeat(MAX_BODY_BYTES / 2)).is_ok());
        assert!(validate_queue_body("tab\tnewline\ncarriage\rémoji 🎫").is_ok());
    }

    #[test]
    fn receives_beyond_the_sqs_limits_are_invalid() {
        // GIVEN / WHEN receives asking for no message, too many, or a visibility beyond twelve hours
        let refused = [
            validate_receive(0, Duration::ZERO),
            validate_receive(MAX_RECEIVE_BATCH + 1, Duration::ZERO),
            validate_receive(1, Duration::from_millis(43_200_001)),
        ];

        // THEN each is refused as invalid
        for checked in refused {
            assert!(matches!(checked, Err(PortError::Invalid(_))), "got {checked:?}");
        }
        // AND the widest allowed receive passes
        validate_receive(MAX_RECEIVE_BATCH, Duration::from_secs(43_200)).expect("ten for twelve hours");
    }
}
