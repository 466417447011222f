//! The inbound-email function. SES's receipt rule first stores each message in the inbound
//! bucket (its S3 action, key `<prefix><SES message id>`), then invokes this function
//! asynchronously (its Lambda action, `InvocationType: Event`) with the SES event. The event's
//! `receipt.recipients` are the SMTP envelope recipients the rule accepted, so mail whose headers
//! do not name the mailbox (Bcc, list expansion, forwarding) still reaches it. The object is read
//! and taken through the domain's email-to-case pipeline with those recipients, all of them (the
//! pipeline takes the first that belongs to a group mailbox).
//!
//! S3 `ObjectCreated` events are still handled, as a fallback: the stack no longer sends them, but
//! an event from before the change may be replayed from the on-failure queue. S3 keeps no
//! envelope, so their recipients are the To and Cc headers ([`header_recipients`]) and Bcc'd mail
//! is rejected ("no group mailbox receives at …").
//!
//! Either way the message is named by its object, `s3://<bucket>/<key>`, so a redelivered event,
//! or the same message arriving once by SES and once by S3, finds its source already logged and
//! changes nothing. Transient failures fail the invocation so Lambda retries it (and then hands it
//! to the on-failure destination); a poison message is logged as rejected, never retried forever.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::ses::{SimpleEmailEvent, SimpleEmailRecord};
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail};
use docket_domain::notify::MailSettings;
use docket_domain::{Docket, DomainError};
pub use docket_mail::inbound::header_recipients;
use docket_ports::{BlobStore, Mailer, PortError};
use serde_json::Value;

/// Why an invocation failed: Lambda retries it, then hands it to the on-failure destination.
#[derive(Debug, thiserror::Error)]
#[error("retry: {0}")]
pub struct Retry(pub String);

pub struct InboundHandler {
    pub docket: Docket,
    /// The bucket SES writes raw messages to.
    pub raw_messages: Arc<dyn BlobStore>,
    /// That bucket's name: the source of a message is `s3://<raw_bucket>/<key>`.
    pub raw_bucket: String,
    /// The receipt rule's `ObjectKeyPrefix`: SES stores a message at `<raw_prefix><message id>`.
    pub raw_prefix: String,
    pub mailer: Arc<dyn Mailer>,
    pub settings: MailSettings,
}

/// What invokes the function.
#[derive(Debug, Clone)]
pub enum InboundEvent {
    /// The receipt rule's Lambda action: the envelope recipients, the message in the bucket.
    Ses(SimpleEmailEvent),
    /// An S3 `ObjectCreated` notification (the fallback: no envelope).
    S3(S3Event),
}

impl InboundEvent {
    /// Tells the two apart by the records' `eventSource` (`aws:ses` or `aws:s3`). An event with
    /// no record is an S3 event with nothing to do; anything else is refused.
    pub fn from_json(value: Value) -> Result<Self, String> {
        let records = value.get("Records").and_then(Value::as_array).ok_or("not an SES or S3 event: no Records")?;
        let sources: Vec<&str> = records.iter().map(|r| r.get("eventSource").and_then(Value::as_str).unwrap_or("")).collect();
        if !sources.is_empty() && sources.iter().all(|s| *s == "aws:ses") {
            serde_json::from_value(value).map(Self::Ses).map_err(|e| format!("malformed SES event: {e}"))
        } else if sources.iter().all(|s| *s == "aws:s3") {
            serde_json::from_value(value).map(Self::S3).map_err(|e| format!("malformed S3 event: {e}"))
        } else {
            Err(format!("not an SES or S3 event: event sources {sources:?}"))
        }
    }
}

/// S3 event keys are URL-encoded, with `+` for spaces (so a `+` of the key is `%2B`). A `%` not
/// followed by two hex digits is kept as it is, and bytes that are no UTF-8 become U+FFFD.
pub fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Where the receipt rule stored the message of an SES record: `<prefix><message id>` in
/// `bucket`, or the object the action names when it is an S3 action (an SES notification relayed
/// from one), which must then be in `bucket`.
pub fn ses_object_key(record: &SimpleEmailRecord, bucket: &str, prefix: &str) -> Result<String, String> {
    let action = &record.ses.receipt.action;
    if let Some(key) = action.object_key.as_deref().filter(|k| !k.is_empty()) {
        return match action.bucket_name.as_deref() {
            Some(other) if other != bucket => Err(format!("the message is in bucket {other}, not in {bucket}")),
            _ => Ok(key.to_owned()),
        };
    }
    match record.ses.mail.message_id.as_deref() {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => Ok(format!("{prefix}{id}")),
        other => Err(format!("SES event without a usable message id: {other:?}")),
    }
}

impl InboundHandler {
    /// Handles one stored message with its envelope recipients (`None`: none known, the To/Cc
    /// headers stand in). The outcome of the message (`None` when the object is gone for good),
    /// or a failure worth retrying.
    pub async fn handle_object(&self, bucket: &str, key: &str, envelope: Option<Vec<String>>) -> Result<Option<InboundLogEntry>, Retry> {
        let raw = match self.raw_messages.get(key).await {
            Ok((_, bytes)) => bytes,
            Err(PortError::Transient(m) | PortError::Backend(m)) => return Err(Retry(m)),
            // Gone, or a key that can never be read: retrying cannot help; logged and dropped.
            Err(e) => {
                tracing::error!(bucket, key, error = %e, "inbound object cannot be read; event dropped");
                return Ok(None);
            }
        };
        let envelope_to = match envelope {
            Some(recipients) if !recipients.is_empty() => recipients,
            _ => header_recipients(&raw),
        };
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

    /// The receipt rule's Lambda action: each record's message, with its envelope recipients.
    pub async fn handle_ses_event(&self, event: SimpleEmailEvent) -> Result<Vec<InboundLogEntry>, Retry> {
        let mut outcomes = Vec::new();
        for record in event.records {
            // A malformed event cannot become mail: fail it, so it waits in the on-failure queue.
            let key = ses_object_key(&record, &self.raw_bucket, &self.raw_prefix).map_err(|e| {
                tracing::error!(error = %e, "SES event names no stored message");
                Retry(e)
            })?;
            let recipients = record.ses.receipt.recipients;
            outcomes.extend(self.handle_object(&self.raw_bucket, &key, Some(recipients)).await?);
        }
        Ok(outcomes)
    }

    /// An S3 `ObjectCreated` notification: no envelope, the To/Cc headers stand in.
    pub async fn handle_s3_event(&self, event: S3Event) -> Result<Vec<InboundLogEntry>, Retry> {
        let mut outcomes = Vec::new();
        for record in event.records {
            let bucket = record.s3.bucket.name.unwrap_or_default();
            let Some(key) = record.s3.object.key.map(|k| decode_key(&k)) else { continue };
            outcomes.extend(self.handle_object(&bucket, &key, None).await?);
        }
        Ok(outcomes)
    }

    pub async fn handle_event(&self, event: InboundEvent) -> Result<Vec<InboundLogEntry>, Retry> {
        match event {
            InboundEvent::Ses(event) => self.handle_ses_event(event).await,
            InboundEvent::S3(event) => self.handle_s3_event(event).await,
        }
    }

    /// The function's payload as Lambda hands it over.
    pub async fn handle_json(&self, payload: Value) -> Result<Vec<InboundLogEntry>, Retry> {
        let event = InboundEvent::from_json(payload).map_err(|e| {
            tracing::error!(error = %e, "unexpected event");
            Retry(e)
        })?;
        self.handle_event(event).await
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::ses::SimpleEmailRecord;
    use serde_json::json;

    use super::{InboundEvent, decode_key, ses_object_key};

    #[test]
    fn s3_keys_are_url_decoded() {
        assert_eq!(decode_key("inbound/a+b%2Bc%3D"), "inbound/a b+c=");
        assert_eq!(decode_key("plain/key"), "plain/key");
        assert_eq!(decode_key("bad%zz"), "bad%zz");
        assert_eq!(decode_key("cut%4"), "cut%4");
        assert_eq!(decode_key("inbound/%E2%82%AC"), "inbound/€");
        assert_eq!(decode_key("not%FFutf8"), "not\u{FFFD}utf8");
    }

    #[test]
    fn events_are_told_apart_by_their_source() {
        let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        for (file, ses) in [
            ("ses-inbound-new-message.json", true),
            ("ses-inbound-bcc.json", true),
            ("s3-inbound-new-message.json", false),
            ("s3-inbound-two-messages.json", false),
        ] {
            let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(events.join(file)).unwrap()).unwrap();
            let event = InboundEvent::from_json(value).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(matches!(event, InboundEvent::Ses(_)), ses, "{file}");
        }
        assert!(matches!(InboundEvent::from_json(json!({"Records": []})), Ok(InboundEvent::S3(e)) if e.records.is_empty()));
        assert!(InboundEvent::from_json(json!({"Records": [{"eventSource": "aws:sqs"}]})).is_err());
        assert!(InboundEvent::from_json(json!({"Records": [{"eventSource": "aws:ses"}, {"eventSource": "aws:s3"}]})).is_err());
        assert!(InboundEvent::from_json(json!({"Records": [{"eventSource": "aws:ses", "ses": {}}]})).is_err());
        assert!(InboundEvent::from_json(json!({"hello": "world"})).is_err());
    }

    #[test]
    fn ses_records_name_their_object() {
        let record = |action: serde_json::Value, message_id: &str| -> SimpleEmailRecord {
            serde_json::from_value(json!({
                "eventSource": "aws:ses",
                "ses": {
                    "mail": {"commonHeaders": {"from": []}, "timestamp": "2025-03-16T16:00:00Z", "destination": [], "headers": [], "headersTruncated": false, "messageId": message_id},
                    "receipt": {"recipients": ["support@acme.test"], "timestamp": "2025-03-16T16:00:00Z", "spamVerdict": {}, "dkimVerdict": {}, "dmarcVerdict": {}, "spfVerdict": {}, "virusVerdict": {}, "action": action, "processingTimeMillis": 1}
                }
            }))
            .unwrap()
        };
        let lambda = json!({"type": "Lambda", "invocationType": "Event", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"});
        // The Lambda action: the prefix and SES's message id
        assert_eq!(ses_object_key(&record(lambda.clone(), "o3vrnil0e2ic28tr"), "b", "inbound/").unwrap(), "inbound/o3vrnil0e2ic28tr");
        // An S3 action names its object, in our bucket only
        let s3 = json!({"type": "S3", "bucketName": "b", "objectKey": "inbound/o3vrnil0e2ic28tr"});
        assert_eq!(ses_object_key(&record(s3, "ignored"), "b", "other/").unwrap(), "inbound/o3vrnil0e2ic28tr");
        let elsewhere = json!({"type": "S3", "bucketName": "not-ours", "objectKey": "inbound/x"});
        assert!(ses_object_key(&record(elsewhere, "x"), "b", "inbound/").is_err());
        // A message id that is no plain name is refused
        for bad in ["", "../secret", "a/b", "a b"] {
            assert!(ses_object_key(&record(lambda.clone(), bad), "b", "inbound/").is_err(), "{bad:?}");
        }
    }
}
