//! The inbound-email function: SES's receipt rule stores each message in S3, and the S3
//! `ObjectCreated` event brings its key here. The object is read and taken through the domain's
//! email-to-case pipeline. A redelivered event finds its source already logged and changes
//! nothing; transient failures fail the invocation so Lambda retries it (and then hands it to
//! the on-failure destination); a poison message is logged as rejected, never retried forever.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail};
use docket_domain::notify::MailSettings;
use docket_domain::{Docket, DomainError};
use docket_ports::{BlobStore, Mailer, PortError};

/// Why an invocation failed: Lambda retries it, then hands it to the on-failure destination.
#[derive(Debug, thiserror::Error)]
#[error("retry: {0}")]
pub struct Retry(pub String);

pub struct InboundHandler {
    pub docket: Docket,
    /// The bucket SES writes raw messages to.
    pub raw_messages: Arc<dyn BlobStore>,
    pub mailer: Arc<dyn Mailer>,
    pub settings: MailSettings,
}

/// S3 event keys are URL-encoded, with `+` for spaces.
pub fn decode_key(key: &str) -> String {
    let bytes = key.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(value) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SES keeps no envelope in the stored object: the recipients are the To and Cc addresses (the
/// pipeline picks the first that belongs to a group mailbox).
pub fn header_recipients(raw: &[u8]) -> Vec<String> {
    let limits = docket_mail::inbound::Limits { max_bytes: usize::MAX, ..Default::default() };
    match docket_mail::inbound::parse_headers_only(raw, &limits) {
        Ok(headers) => headers.to.iter().chain(headers.cc.iter()).map(|a| a.email.clone()).collect(),
        Err(_) => Vec::new(),
    }
}

impl InboundHandler {
    /// Handles one S3 object: the outcome of the message (`None` when the object is gone for
    /// good), or a failure worth retrying.
    pub async fn handle_object(&self, bucket: &str, key: &str) -> Result<Option<InboundLogEntry>, Retry> {
        let raw = match self.raw_messages.get(key).await {
            Ok((_, bytes)) => bytes,
            Err(PortError::Transient(m) | PortError::Backend(m)) => return Err(Retry(m)),
            // Gone, or a key that can never be read: retrying cannot help; logged and dropped.
            Err(e) => {
                tracing::error!(bucket, key, error = %e, "inbound object cannot be read; event dropped");
                return Ok(None);
            }
        };
        let envelope_to = header_recipients(&raw);
        let pipeline = Inbound { docket: &self.docket, mailer: Some(self.mailer.as_ref()), settings: &self.settings };
        let mail = InboundMail { source_id: format!("s3://{bucket}/{key}"), envelope_to, raw, received_by_ses: true, trusted_sender: false };
        match pipeline.receive(mail).await {
            Ok(entry) => Ok(Some(entry)),
            Err(DomainError::Transient(m)) => Err(Retry(m)),
            Err(e) => {
                tracing::error!(bucket, key, error = %e, "inbound message failed");
                Err(Retry(e.to_string()))
            }
        }
    }

    pub async fn handle_event(&self, event: S3Event) -> Result<Vec<InboundLogEntry>, Retry> {
        let mut outcomes = Vec::new();
        for record in event.records {
            let bucket = record.s3.bucket.name.unwrap_or_default();
            let Some(key) = record.s3.object.key.map(|k| decode_key(&k)) else { continue };
            outcomes.extend(self.handle_object(&bucket, &key).await?);
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::decode_key;

    #[test]
    fn s3_keys_are_url_decoded() {
        assert_eq!(decode_key("inbound/a+b%2Bc%3D"), "inbound/a b+c=");
        assert_eq!(decode_key("plain/key"), "plain/key");
        assert_eq!(decode_key("bad%zz"), "bad%zz");
    }
}
