//! The assign function: takes batches of assign-queue messages (SQS FIFO on AWS, grouped by case;
//! the SQLite queue in the local process), works each case event through the domain's
//! [`Automation`] — workflow rules, then assignment rules — and reports the messages that failed
//! so only those are delivered again (partial batch responses).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use docket_domain::Docket;
use docket_domain::automation::Automation;

pub use docket_aws::lambda::Outcome;

/// Configuration of the function, read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_prefix: String,
    pub aws_endpoint: Option<String>,
    /// Where changes made by rules announce their stream entries for notification.
    pub notify_queue_url: String,
    /// Where changes made by rules announce their own case events (one rule depth further).
    pub assign_queue_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let required = |name: &str| lookup(name).ok_or_else(|| format!("{name} is not set"));
        Ok(Config {
            table_prefix: lookup("DOCKET_TABLE_PREFIX").unwrap_or_else(|| "docket-".into()),
            aws_endpoint: lookup("AWS_ENDPOINT_URL"),
            notify_queue_url: required("DOCKET_NOTIFY_QUEUE_URL")?,
            assign_queue_url: required("DOCKET_ASSIGN_QUEUE_URL")?,
        })
    }
}

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
    /// ids), or the EventBridge schedule that relays the outbox (queue messages refused when
    /// their change committed). Anything else is refused.
    pub async fn handle_event(&self, event: serde_json::Value) -> Result<serde_json::Value, String> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(|e| format!("not an SQS batch: {e}"))?;
            return serde_json::to_value(self.handle_batch(batch).await).map_err(|e| e.to_string());
        }
        if event.get("source").and_then(serde_json::Value::as_str) == Some("aws.events") {
            let relayed = self.docket.relay_outbox(500).await.map_err(|e| format!("outbox relay failed: {e}"))?;
            return Ok(serde_json::json!({ "relayed": relayed.sent, "waiting": relayed.waiting }));
        }
        Err("neither an SQS batch nor the relay schedule".into())
    }

    /// Handles an SQS batch, reporting the failed messages by id.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        docket_aws::lambda::partial_batch(event, |id, body| async move { self.handle_message(&id, &body).await }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_queues_are_required() {
        let lookup = |missing: &'static str| {
            move |name: &str| (name != missing).then(|| format!("https://sqs.example/{name}"))
        };
        assert!(Config::from_lookup(lookup("DOCKET_ASSIGN_QUEUE_URL")).unwrap_err().contains("DOCKET_ASSIGN_QUEUE_URL"));
        assert!(Config::from_lookup(lookup("DOCKET_NOTIFY_QUEUE_URL")).unwrap_err().contains("DOCKET_NOTIFY_QUEUE_URL"));
        let config = Config::from_lookup(lookup("nothing")).expect("complete configuration");
        assert_eq!(config.assign_queue_url, "https://sqs.example/DOCKET_ASSIGN_QUEUE_URL");
    }
}
