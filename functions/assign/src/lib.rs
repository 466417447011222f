//! The assign function: takes batches of assign-queue messages (SQS FIFO on AWS, grouped by case;
//! the SQLite queue in the local process), works each case event through the domain's
//! [`Automation`] — workflow rules, then assignment rules — and reports the messages that failed
//! so only those are delivered again (partial batch responses).
//!
//! On AWS it is also the outbox relay: the cases table's DynamoDB stream hands it every new
//! `OUTBOX` item a moment after its change committed ([`AssignHandler::handle_stream`]), and an
//! EventBridge schedule relays whatever the stream could not deliver.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use docket_domain::Docket;
use docket_domain::automation::Automation;
use docket_domain::outbox::OutboxItem;
use docket_domain::schema::OUTBOX_PARTITION;
use docket_store::Item;
use serde_json::{Value, json};

pub use docket_lambda::Outcome;

/// The variables the function does not start without: rules notify users, and the changes they
/// make are case events of their own (one rule depth further), so both queues must be there.
pub const REQUIRED_CONFIG: [&str; 2] = [docket_lambda::config::NOTIFY_QUEUE_URL, docket_lambda::config::ASSIGN_QUEUE_URL];

/// The handler, built once per cold start.
pub struct AssignHandler {
    pub docket: Docket,
}

impl AssignHandler {
    pub async fn handle_message(&self, message_id: &str, body: &str) -> Outcome {
        match (Automation { docket: &self.docket }).handle(body).await {
            Ok(worked) => {
                tracing::debug!(message_id, rules = worked.rules_run.len(), assigned_to = ?worked.assigned_to, "case event worked");
                Outcome::Done
            }
            Err(error) => {
                error.log("assign", message_id);
                Outcome::Failed
            }
        }
    }

    /// Handles one invocation: a batch of the assign queue (answered with the failed message
    /// ids), a batch of the cases table's stream (answered with the records not relayed), or the
    /// EventBridge schedule that relays what is left in the outbox, or the EventBridge Scheduler
    /// schedule that sweeps the SLA alarms (`{"docket_job": "sla_sweep"}`). Anything else is
    /// refused.
    pub async fn handle_event(&self, event: Value) -> Result<Value, String> {
        if let Some(records) = event.get("Records").and_then(Value::as_array) {
            // Both batches are {"Records": [...]}: only the records' source tells them apart.
            return match batch_source(records)? {
                SQS_SOURCE => {
                    let batch: SqsEvent = serde_json::from_value(event).map_err(|e| format!("not an SQS batch: {e}"))?;
                    serde_json::to_value(self.handle_batch(batch).await).map_err(|e| e.to_string())
                }
                _ => self.handle_stream(records).await,
            };
        }
        if event.get("docket_job").and_then(Value::as_str) == Some(SLA_SWEEP_JOB) {
            let sweep = self.docket.cases().sweep_sla().await.map_err(|e| format!("SLA sweep failed: {e}"))?;
            if sweep.watched > 0 {
                tracing::info!(?sweep, "SLA sweep");
            }
            return serde_json::to_value(sweep).map_err(|e| e.to_string());
        }
        if event.get("source").and_then(Value::as_str) == Some("aws.events") {
            let relayed = self.docket.relay_outbox(500).await.map_err(|e| format!("outbox relay failed: {e}"))?;
            return Ok(json!({ "relayed": relayed.sent, "waiting": relayed.waiting }));
        }
        Err("neither an SQS batch, a DynamoDB stream batch, the relay schedule nor the SLA sweep".into())
    }

    /// Relays the outbox items a batch of the cases table's stream inserted, in stream order,
    /// and answers with the records to deliver again: the first one not relayed and every
    /// record after it, by sequence number (`{"batchItemFailures": [{"itemIdentifier": ..}]}`).
    /// Lambda resumes the shard at the lowest of them, so a queue outage holds back the later
    /// messages instead of letting them overtake the one refused (one case's events stay in
    /// order). Records that are not outbox inserts (the event filter lets none through, but
    /// the handler does not rely on it) count as done. An error (the store failing) fails the
    /// whole batch, which Lambda retries and bisects; items sent before it are sent again, which
    /// the consumers absorb.
    pub async fn handle_stream(&self, records: &[Value]) -> Result<Value, String> {
        let mut outbox: Vec<(usize, Item)> = Vec::new();
        // Where reading stopped: a record that cannot be relayed holds back the ones after it.
        let mut unreadable = None;
        for (index, record) in records.iter().enumerate() {
            match outbox_insert(record) {
                Ok(Some(item)) => outbox.push((index, item)),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(sequence_number = ?sequence_number(record), %error, "a stream record cannot be relayed: it and the records after it are retried, and the item stays in the outbox");
                    unreadable = Some(index);
                    break;
                }
            }
        }
        let (indexes, items): (Vec<usize>, Vec<Item>) = outbox.into_iter().unzip();
        let relayed =
            if items.is_empty() { Default::default() } else { self.docket.relay_items(items).await.map_err(|e| format!("outbox relay failed: {e}"))? };
        // relay_items sends in order and stops at the first refusal: what it sent is a prefix.
        let first_failed = indexes.get(relayed.sent).copied().or(unreadable);
        let mut failures = Vec::new();
        for record in first_failed.map_or(&[][..], |first| &records[first..]) {
            // Lambda takes an empty or missing identifier as the failure of the whole batch;
            // failing it outright says so in the log instead.
            let sequence_number = sequence_number(record).ok_or("a stream record to retry has no SequenceNumber")?;
            failures.push(json!({ "itemIdentifier": sequence_number }));
        }
        if !failures.is_empty() {
            tracing::warn!(sent = relayed.sent, retried = failures.len(), "outbox items wait: the stream delivers them again from the first one not relayed");
        }
        Ok(json!({ "batchItemFailures": failures }))
    }

    /// Handles an SQS batch, reporting the failed messages by id.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        docket_lambda::partial_batch(event, |id, body| async move { self.handle_message(&id, &body).await }).await
    }
}

/// The `docket_job` of the SLA sweep schedule's input (template.yaml, `SlaSweep`).
pub const SLA_SWEEP_JOB: &str = "sla_sweep";
const SQS_SOURCE: &str = "aws:sqs";
const DYNAMODB_SOURCE: &str = "aws:dynamodb";

/// The one event source of a batch's records: `aws:sqs` or `aws:dynamodb`.
fn batch_source(records: &[Value]) -> Result<&'static str, String> {
    let mut source = None;
    for record in records {
        let this = match record.get("eventSource").and_then(Value::as_str) {
            Some(SQS_SOURCE) => SQS_SOURCE,
            Some(DYNAMODB_SOURCE) => DYNAMODB_SOURCE,
            other => return Err(format!("records from {other:?}: neither an SQS batch nor a DynamoDB stream batch")),
        };
        if source.is_some_and(|s| s != this) {
            return Err("a batch mixing SQS and DynamoDB stream records".into());
        }
        source = Some(this);
    }
    source.ok_or_else(|| "an empty batch of records".into())
}

fn sequence_number(record: &Value) -> Option<&str> {
    record.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The stored outbox item a stream record inserted, or `None` for any other record (another
/// item, a change, a removal: relaying deletes the items, which the stream reports too).
fn outbox_insert(record: &Value) -> Result<Option<Item>, String> {
    let insert = record.get("eventName").and_then(Value::as_str) == Some("INSERT");
    let partition = record.pointer("/dynamodb/Keys/pk/S").and_then(Value::as_str);
    if !insert || partition != Some(OUTBOX_PARTITION) {
        return Ok(None);
    }
    let image = record.pointer("/dynamodb/NewImage").cloned().ok_or("an outbox insert without NewImage (is the stream's view type NEW_IMAGE?)")?;
    let item = docket_lambda::item_from_stream_image(image).map_err(|e| e.to_string())?;
    // relay_items refuses the whole list for one item it cannot read; checking each here lets
    // the items before a bad one go.
    serde_json::from_value::<OutboxItem>(Value::Object(item.clone())).map_err(|e| format!("not an outbox item: {e}"))?;
    Ok(Some(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_queues_are_required() {
        let env = |missing: &'static str| docket_lambda::Env(move |name: &str| (name != missing).then(|| format!("https://sqs.example/{name}")));
        let read = |missing| docket_lambda::Config::read(&env(missing), &REQUIRED_CONFIG);
        assert!(read("DOCKET_ASSIGN_QUEUE_URL").unwrap_err().contains("DOCKET_ASSIGN_QUEUE_URL"));
        assert!(read("DOCKET_NOTIFY_QUEUE_URL").unwrap_err().contains("DOCKET_NOTIFY_QUEUE_URL"));
        let config = read("nothing").expect("complete configuration");
        assert_eq!(config.assign_queue_url.as_deref(), Some("https://sqs.example/DOCKET_ASSIGN_QUEUE_URL"));
    }

    fn stream_record(event_name: &str, pk: &str, image: Option<Value>) -> Value {
        let mut change = json!({"Keys": {"pk": {"S": pk}, "sk": {"S": "01KBX2Z4Q7V9W3H5J8M6N0P2R4"}}, "SequenceNumber": "100", "StreamViewType": "NEW_IMAGE"});
        if let Some(image) = image {
            change["NewImage"] = image;
        }
        json!({"eventSource": "aws:dynamodb", "eventName": event_name, "dynamodb": change})
    }

    fn outbox_image() -> Value {
        json!({
            "pk": {"S": "OUTBOX"}, "sk": {"S": "01KBX2Z4Q7V9W3H5J8M6N0P2R4"}, "id": {"S": "01KBX2Z4Q7V9W3H5J8M6N0P2R4"},
            "queue": {"S": "assign"}, "body": {"S": "{\"case_id\":\"c1\"}"}, "group": {"S": "c1"}
        })
    }

    #[test]
    fn batches_are_told_apart_by_their_records_source() {
        let sqs = json!({"eventSource": "aws:sqs", "messageId": "m1", "body": "{}"});
        let stream = stream_record("INSERT", "OUTBOX", Some(outbox_image()));
        assert_eq!(batch_source(&[sqs.clone(), sqs.clone()]), Ok(SQS_SOURCE));
        assert_eq!(batch_source(std::slice::from_ref(&stream)), Ok(DYNAMODB_SOURCE));
        // Anything else — another source, none, a mix, nothing — is refused rather than guessed.
        assert!(batch_source(&[json!({"eventSource": "aws:s3"})]).unwrap_err().contains("aws:s3"));
        assert!(batch_source(&[json!({"body": "{}"})]).is_err());
        assert!(batch_source(&[sqs, stream]).unwrap_err().contains("mixing"));
        assert!(batch_source(&[]).is_err());
    }

    #[test]
    fn only_inserts_of_outbox_items_are_relayed() {
        // An outbox insert gives the stored item
        let item = outbox_insert(&stream_record("INSERT", "OUTBOX", Some(outbox_image()))).expect("readable").expect("an outbox item");
        assert_eq!(item["queue"], "assign");
        assert_eq!(item["group"], "c1");
        // The removal of a relayed item, a change, and other items' inserts are not
        assert_eq!(outbox_insert(&stream_record("REMOVE", "OUTBOX", None)), Ok(None));
        assert_eq!(outbox_insert(&stream_record("MODIFY", "OUTBOX", Some(outbox_image()))), Ok(None));
        assert_eq!(outbox_insert(&stream_record("INSERT", "CASE#c1", Some(json!({"pk": {"S": "CASE#c1"}})))), Ok(None));
        // An outbox insert that cannot be relayed is an error, not a skip: its message must not be lost
        assert!(outbox_insert(&stream_record("INSERT", "OUTBOX", None)).unwrap_err().contains("NewImage"));
        let mut no_body = outbox_image();
        no_body.as_object_mut().unwrap().remove("body");
        assert!(outbox_insert(&stream_record("INSERT", "OUTBOX", Some(no_body))).unwrap_err().contains("not an outbox item"));
        let mut binary = outbox_image();
        binary["body"] = json!({"B": "AQI="});
        assert!(outbox_insert(&stream_record("INSERT", "OUTBOX", Some(binary))).is_err());
    }
}
