//! `SqsQueue`: the queue port (`docket_ports::Queue`) on an Amazon SQS standard queue, with its
//! dead-letter queue attached through a redrive policy.
//!
//! SQS does the work itself: visibility timeouts, receive counts and moving a message to the
//! dead-letter queue once `maxReceiveCount` deliveries went unacknowledged. This adapter checks
//! requests against SQS's limits before sending them, with the port's checks that the SQLite
//! engine makes too (so both answer alike), translates the answers into `Delivery`s, and
//! classifies failures.
//!
//! Receipts: SQS accepts a receipt from an earlier delivery of a message that is still queued
//! (`ack` and `release` then act on that message) and a repeated `DeleteMessage` of a deleted
//! message; `ReceiptHandleIsInvalid` (never issued, or the message was dead-lettered) becomes
//! [`PortError::NotFound`]. The SQLite engine reproduces exactly this.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use docket_ports::{
    Delivery, MAX_RECEIVE_BATCH, PortError, Queue, validate_max_receives, validate_queue_body, validate_receive,
};

use crate::errors::{self, Service};

/// How long `dead_letters` hides the dead letters it has already seen, so that the next round of
/// receives returns others; they are made visible again as soon as the listing is complete.
const DEAD_LETTER_BROWSE_VISIBILITY_SECONDS: i32 = 30;
/// Rounds of receives `dead_letters` makes at most (up to ten messages each).
const DEAD_LETTER_BROWSE_ROUNDS: usize = 10;

/// Dead letters are kept for SQS's longest retention: it counts from the original send, so a
/// shorter one could expire a message soon after it failed.
const DEAD_LETTER_RETENTION_SECONDS: &str = "1209600";

/// Error codes of the service worth retrying: the SDK has already retried them, but a caller
/// (a queue consumer, a client) may still try later.
const TRANSIENT_ERROR_CODES: [&str; 9] = [
    "RequestThrottled",
    "ThrottlingException",
    "Throttling",
    "KMS.ThrottlingException",
    "OverLimit",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "AWS.SimpleQueueService.PurgeQueueInProgress",
];

/// Error codes for a queue or message that is not there (the JSON protocol spells them with the
/// `AWS.SimpleQueueService.` prefix, the query protocol without).
const NOT_FOUND_ERROR_CODES: [&str; 3] =
    ["ReceiptHandleIsInvalid", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"];

/// Error codes for a request SQS refuses as malformed.
const INVALID_REQUEST_CODES: [&str; 10] = [
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "MissingParameter",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidMessageContents",
    "InvalidIdFormat",
    "InvalidAddress",
    "QueueAlreadyExists",
    "QueueNameExists",
];

const SQS: Service = Service { name: "SQS", transient_codes: &TRANSIENT_ERROR_CODES };

/// The code SQS answers when `ChangeMessageVisibility` names a message that is not in flight.
const MESSAGE_NOT_IN_FLIGHT: &str = "AWS.SimpleQueueService.MessageNotInflight";

/// A queue on SQS. Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: Option<String>,
}

impl SqsQueue {
    /// The queue at `queue_url`. `dead_letter_url` is where its redrive policy sends exhausted
    /// messages; without it, `dead_letters` has nothing to read and answers an empty list.
    pub fn new(client: Client, queue_url: String, dead_letter_url: Option<String>) -> Self {
        Self { client, queue_url, dead_letter_url }
    }

    /// Creates the queue `name` and its dead-letter queue `{name}-dlq`, which receives a message
    /// once it has been delivered `max_receives` times (1..=1000) without an acknowledgement.
    /// Creating queues that already exist with the same settings is harmless.
    pub async fn create_with_dead_letter(client: Client, name: &str, max_receives: u32) -> Result<Self, PortError> {
        validate_max_receives(max_receives)?;
        let dead_letter_url = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .attributes(QueueAttributeName::MessageRetentionPeriod, DEAD_LETTER_RETENTION_SECONDS)
            .send()
            .await
            .map_err(|e| classify("CreateQueue (dead letters)", e))?
            .queue_url
            .ok_or_else(|| PortError::Backend("CreateQueue answered without a queue URL".into()))?;
        let dead_letter_arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| classify("GetQueueAttributes", e))?
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| PortError::Backend("GetQueueAttributes answered without the queue ARN".into()))?;
        let redrive_policy =
            serde_json::json!({ "deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receives }).to_string();
        let queue_url = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive_policy)
            .send()
            .await
            .map_err(|e| classify("CreateQueue", e))?
            .queue_url
            .ok_or_else(|| PortError::Backend("CreateQueue answered without a queue URL".into()))?;
        Ok(Self::new(client, queue_url, Some(dead_letter_url)))
    }

    async fn receive_from(&self, queue_url: &str, max: usize, visibility_seconds: i32) -> Result<Vec<Delivery>, PortError> {
        let max = i32::try_from(max).map_err(|_| PortError::Invalid(format!("max {max} is out of range")))?;
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .visibility_timeout(visibility_seconds)
            // Short polling: the port's receive answers at once, like the SQLite engine; a
            // consumer loop decides itself how long to wait between empty receives.
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| classify("ReceiveMessage", e))?;
        output.messages.unwrap_or_default().into_iter().map(delivery_of).collect()
    }

    async fn change_visibility(&self, queue_url: &str, receipt: &str, seconds: i32) -> Result<(), PortError> {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Releasing a message that is already visible has nothing left to do.
            Err(SdkError::ServiceError(context)) if seconds == 0 && context.err().code() == Some(MESSAGE_NOT_IN_FLIGHT) => {
                Ok(())
            }
            Err(error) => Err(classify("ChangeMessageVisibility", error)),
        }
    }
}

fn delivery_of(message: Message) -> Result<Delivery, PortError> {
    let missing = |what: &str| PortError::Backend(format!("ReceiveMessage answered a message without {what}"));
    let receive_count = message
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .ok_or_else(|| missing("ApproximateReceiveCount"))?;
    let receive_count = receive_count
        .parse::<u32>()
        .map_err(|_| PortError::Backend(format!("ApproximateReceiveCount {receive_count:?} is not a count")))?;
    Ok(Delivery {
        message_id: message.message_id.ok_or_else(|| missing("a message id"))?,
        receipt: message.receipt_handle.ok_or_else(|| missing("a receipt handle"))?,
        body: message.body.ok_or_else(|| missing("a body"))?,
        receive_count,
    })
}

/// SQS counts visibility in whole seconds; rounding up keeps a message hidden at least as long
/// as asked (and within the port's limit, which is a whole number of seconds, once
/// [`validate_receive`] has passed).
fn visibility_seconds(visibility: Duration) -> Result<i32, PortError> {
    let seconds = visibility.as_secs() + u64::from(visibility.subsec_nanos() > 0);
    i32::try_from(seconds).map_err(|_| PortError::Invalid(format!("visibility of {seconds} s is out of range")))
}

/// Classifies an SDK failure so callers know whether a retry may help: network failures,
/// timeouts, throttling and 5xx answers are transient; a missing queue or message is not found,
/// a request SQS refuses as malformed is invalid.
fn classify<E>(action: &str, error: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    errors::classify(&SQS, Some(action), error, |answer| {
        if NOT_FOUND_ERROR_CODES.contains(&answer.code) {
            Some(PortError::NotFound(answer.summary()))
        } else if INVALID_REQUEST_CODES.contains(&answer.code) {
            Some(PortError::Invalid(answer.summary()))
        } else {
            None
        }
    })
    .into()
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str) -> Result<String, PortError> {
        validate_queue_body(body)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| classify("SendMessage", e))?
            .message_id
            .ok_or_else(|| PortError::Backend("SendMessage answered without a message id".into()))
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError> {
        validate_receive(max, visibility)?;
        let visibility = visibility_seconds(visibility)?;
        self.receive_from(&self.queue_url, max, visibility).await
    }

    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| classify("DeleteMessage", e))?;
        Ok(())
    }

    async fn release(&self, receipt: &str) -> Result<(), PortError> {
        self.change_visibility(&self.queue_url, receipt, 0).await
    }

    /// Lists the dead-letter queue without consuming it: each round receives up to ten messages
    /// and hides them briefly so the next round sees others, then all are made visible again.
    /// A listing running at the same time as another one may therefore miss messages.
    async fn dead_letters(&self) -> Result<Vec<String>, PortError> {
        let Some(dead_letter_url) = &self.dead_letter_url else {
            return Ok(Vec::new());
        };
        let mut seen = HashSet::new();
        let mut bodies = Vec::new();
        let mut receipts = Vec::new();
        for _ in 0..DEAD_LETTER_BROWSE_ROUNDS {
            let round = self.receive_from(dead_letter_url, MAX_RECEIVE_BATCH, DEAD_LETTER_BROWSE_VISIBILITY_SECONDS).await?;
            if round.is_empty() {
                break;
            }
            for delivery in round {
                receipts.push(delivery.receipt);
                if seen.insert(delivery.message_id) {
                    bodies.push(delivery.body);
                }
            }
        }
        // A message not made visible here reappears by itself once the browse visibility ends.
        for receipt in receipts {
            self.change_visibility(dead_letter_url, &receipt, 0).await?;
        }
        Ok(bodies)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::error::ErrorMetadata;
    use aws_sdk_sqs::operation::delete_message::DeleteMessageError;

    use super::*;

    #[test]
    fn missing_and_malformed_are_told_apart_from_other_refusals() {
        // GIVEN answers of SQS with a not-found code, an invalid-request code and another code
        let answer = |code: &str| {
            let error = DeleteMessageError::generic(ErrorMetadata::builder().code(code).message("m").build());
            SdkError::service_error(error, HttpResponse::new(400.try_into().expect("valid status"), "".into()))
        };

        // WHEN classified THEN each gets its own kind
        let not_found = classify("DeleteMessage", answer("ReceiptHandleIsInvalid"));
        assert!(matches!(&not_found, PortError::NotFound(m) if m == "DeleteMessage: ReceiptHandleIsInvalid: m"), "{not_found:?}");
        let invalid = classify("DeleteMessage", answer("InvalidParameterValue"));
        assert!(matches!(invalid, PortError::Invalid(_)), "{invalid:?}");
        let throttled = classify("DeleteMessage", answer("RequestThrottled"));
        assert!(matches!(throttled, PortError::Transient(_)), "{throttled:?}");
        let other = classify("DeleteMessage", answer("AccessDenied"));
        assert!(matches!(other, PortError::Backend(_)), "{other:?}");
    }

    #[test]
    fn visibility_is_rounded_up_to_whole_seconds() {
        // GIVEN visibilities of zero, a fraction, whole seconds and the SQS maximum
        // WHEN each is converted
        // THEN a fraction counts as a whole second (the limit itself is the port's check)
        assert_eq!(visibility_seconds(Duration::ZERO).expect("zero"), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(1)).expect("1 ms"), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(1500)).expect("1.5 s"), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(2)).expect("2 s"), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(43_200)).expect("12 h"), 43_200);
    }
}
