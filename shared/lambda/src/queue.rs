//! Working an SQS batch message by message and answering with the failed ones only (partial
//! batch responses), so Lambda deletes the others and only the failed ones are delivered again —
//! until the queue's redrive policy moves a message that keeps failing to its dead-letter queue.
//! The notify and assign functions share it; the local process's workers use [`Outcome`] alone.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// What became of one message of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Delivered again later (a transient failure, or a poison message until the queue's
    /// maximum receive count moves it to the dead-letter queue).
    Failed,
}

/// Works each record of the batch with `work(message_id, body)`, in order, and reports the
/// failed ones by message id. On a FIFO queue a failure also holds back the later messages of its
/// group (one case's events): they are reported failed without being worked, so they come back
/// after the failed one and the group keeps its order.
pub async fn partial_batch<F, Fut>(event: SqsEvent, work: F) -> SqsBatchResponse
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut response = SqsBatchResponse::default();
    let mut held_groups: Vec<String> = Vec::new();
    for record in event.records {
        let message_id = record.message_id.unwrap_or_default();
        let group = record.attributes.get("MessageGroupId").cloned();
        let held = group.as_ref().is_some_and(|g| held_groups.contains(g));
        let outcome = if held { Outcome::Failed } else { work(message_id.clone(), record.body.unwrap_or_default()).await };
        if outcome == Outcome::Failed {
            held_groups.extend(group);
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;

    fn record(id: &str, group: Option<&str>) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message.body = Some(id.into());
        if let Some(group) = group {
            message.attributes.insert("MessageGroupId".into(), group.into());
        }
        message
    }

    fn failed(response: &SqsBatchResponse) -> Vec<String> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
    }

    #[tokio::test]
    async fn a_failure_holds_back_the_rest_of_its_group_only() {
        // GIVEN a FIFO batch of two cases' events, where the first event of case A fails
        let mut event = SqsEvent::default();
        event.records = vec![record("a1", Some("A")), record("b1", Some("B")), record("a2", Some("A")), record("b2", Some("B"))];
        let worked = std::sync::Mutex::new(Vec::new());
        // WHEN the batch is worked
        let response = partial_batch(event, |id, _| {
            worked.lock().unwrap().push(id.clone());
            async move { if id == "a1" { Outcome::Failed } else { Outcome::Done } }
        })
        .await;
        // THEN a2 is not worked but reported with a1; case B is worked in full
        assert_eq!(failed(&response), vec!["a1", "a2"]);
        assert_eq!(*worked.lock().unwrap(), vec!["a1", "b1", "b2"]);
    }

    #[tokio::test]
    async fn without_groups_every_message_is_worked() {
        // GIVEN a standard-queue batch whose first message fails
        let mut event = SqsEvent::default();
        event.records = vec![record("m1", None), record("m2", None)];
        // WHEN it is worked
        let response = partial_batch(event, |id, _| async move { if id == "m1" { Outcome::Failed } else { Outcome::Done } }).await;
        // THEN only the failed message is reported
        assert_eq!(failed(&response), vec!["m1"]);
    }
}
