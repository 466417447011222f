//! Docket's ports besides the item store: blobs (attachments, raw mail), durable message queues
//! (notify, assign) and the outbound mail sender. Each has an embedded adapter (docket-embedded:
//! a folder, an SQLite table, an outbox folder of `.eml` files) and an AWS adapter (docket-aws:
//! S3, SQS, SES), and one conformance suite asserting both behave alike.

use std::time::Duration;

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
}

/// Checks a blob key as every adapter must.
pub fn validate_blob_key(key: &str) -> Result<(), PortError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok { Ok(()) } else { Err(PortError::Invalid(format!("invalid blob key {key:?}"))) }
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
    /// Up to `max` visible messages (1..=10), hidden for `visibility` once received.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError>;
    /// Acknowledges (deletes) a delivered message.
    async fn ack(&self, receipt: &str) -> Result<(), PortError>;
    /// Makes a delivered message visible again at once (a failed attempt).
    async fn release(&self, receipt: &str) -> Result<(), PortError>;
    /// Messages currently in the dead-letter store.
    async fn dead_letters(&self) -> Result<Vec<String>, PortError>;
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
