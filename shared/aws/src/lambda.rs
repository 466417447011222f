//! What the queue-driven Lambda functions (notify, assign) share: working an SQS batch message by
//! message and answering with the failed ones only (partial batch responses), so Lambda deletes
//! the others and only the failed ones are delivered again — until the queue's redrive policy
//! moves a message that keeps failing to its dead-letter queue.

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
/// failed ones by message id.
pub async fn partial_batch<F, Fut>(event: SqsEvent, work: F) -> SqsBatchResponse
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.unwrap_or_default();
        let body = record.body.unwrap_or_default();
        if work(message_id.clone(), body).await == Outcome::Failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
