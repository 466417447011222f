//! `SqsQueue`: the queue port (`docket_ports::Queue`) on an Amazon SQS queue, standard or FIFO,
//! with its dead-letter queue attached through a redrive policy.
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
//!
//! FIFO queues (their URL ends in `.fifo`): `send_grouped` sends with the group as
//! `MessageGroupId`, so the messages of one group are delivered in order and none of a group
//! while another of it is in flight; `send` uses the group `"default"`. Every send carries
//! a `MessageDeduplicationId` of its own: two messages with the same body are two messages (the
//! queues are created without content-based deduplication), while the SDK's own retries of one
//! send repeat its id, so SQS keeps a single copy of it.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use docket_ports::{Delivery, MAX_RECEIVE_BATCH, PortError, Queue, validate_max_receives, validate_queue_body, validate_receive};

use crate::errors::{self, Service};

/// How long `dead_letters` hides the dead letters it has already seen, so that the next round of
/// receives returns others; they are made visible again as soon as the listing is complete.
const DEAD_LETTER_BROWSE_VISIBILITY_SECONDS: i32 = 30;
/// Rounds of receives `dead_letters` makes at most (up to ten messages each).
const DEAD_LETTER_BROWSE_ROUNDS: usize = 10;

/// Dead letters are kept for SQS's longest retention: it counts from the original send, so a
/// shorter one could expire a message soon after it failed.
const DEAD_LETTER_RETENTION_SECONDS: &str = "1209600";

/// The message group of messages sent to a FIFO queue without one (`Queue::send`).
const DEFAULT_GROUP: &str = "default";
/// SQS's limit on the length of a message group id.
const MAX_GROUP_ID_CHARS: usize = 128;
/// The suffix SQS requires of the name (and so of the URL) of a FIFO queue.
const FIFO_SUFFIX: &str = ".fifo";

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
const NOT_FOUND_ERROR_CODES: [&str; 3] = ["ReceiptHandleIsInvalid", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"];

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
    fifo: bool,
}

impl SqsQueue {
    /// The queue at `queue_url`, a FIFO queue when the URL ends in `.fifo`. `dead_letter_url` is
    /// where its redrive policy sends exhausted messages; without it, `dead_letters` has nothing
    /// to read and answers an empty list.
    pub fn new(client: Client, queue_url: String, dead_letter_url: Option<String>) -> Self {
        let fifo = queue_url.ends_with(FIFO_SUFFIX);
        Self { client, queue_url, dead_letter_url, fifo }
    }

    /// Whether this is a FIFO queue (its URL ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Creates the standard queue `name` and its dead-letter queue `{name}-dlq`, which receives
    /// a message once it has been delivered `max_receives` times (1..=1000) without an
    /// acknowledgement. Creating queues that already exist with the same settings is harmless.
    pub async fn create_with_dead_letter(client: Client, name: &str, max_receives: u32) -> Result<Self, PortError> {
        Self::create_pair(client, name, max_receives, false).await
    }

    /// Creates the FIFO queue `{name}.fifo` and its dead-letter queue `{name}-dlq.fifo` (SQS
    /// requires the dead-letter queue of a FIFO queue to be FIFO too), as
    /// [`create_with_dead_letter`](Self::create_with_dead_letter) does for standard queues.
    /// `name` is given without the `.fifo` suffix. Deduplication is left to the explicit ids
    /// `send` and `send_grouped` give every message (no content-based deduplication).
    pub async fn create_fifo_with_dead_letter(client: Client, name: &str, max_receives: u32) -> Result<Self, PortError> {
        if name.ends_with(FIFO_SUFFIX) {
            return Err(PortError::Invalid(format!("queue name {name:?} must be given without the {FIFO_SUFFIX} suffix, which is added to it")));
        }
        Self::create_pair(client, name, max_receives, true).await
    }

    /// Creates the queue `name` and its dead-letter queue `{name}-dlq` (each with the `.fifo`
    /// suffix when `fifo`), the queue's redrive policy naming the dead-letter queue.
    async fn create_pair(client: Client, name: &str, max_receives: u32, fifo: bool) -> Result<Self, PortError> {
        validate_max_receives(max_receives)?;
        let suffix = if fifo { FIFO_SUFFIX } else { "" };
        let create_queue = |queue_name: String| {
            let request = client.create_queue().queue_name(queue_name);
            if fifo { request.attributes(QueueAttributeName::FifoQueue, "true") } else { request }
        };
        let dead_letter_url = create_queue(format!("{name}-dlq{suffix}"))
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
        let redrive_policy = serde_json::json!({ "deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receives }).to_string();
        let queue_url = create_queue(format!("{name}{suffix}"))
            .attributes(QueueAttributeName::RedrivePolicy, redrive_policy)
            .send()
            .await
            .map_err(|e| classify("CreateQueue", e))?
            .queue_url
            .ok_or_else(|| PortError::Backend("CreateQueue answered without a queue URL".into()))?;
        Ok(Self::new(client, queue_url, Some(dead_letter_url)))
    }

    /// Sends `body`; on a FIFO queue in `group`, with a deduplication id of its own.
    async fn send_message(&self, body: &str, group: &str) -> Result<String, PortError> {
        validate_queue_body(body)?;
        let mut request = self.client.send_message().queue_url(&self.queue_url).message_body(body);
        if self.fifo {
            request = request.message_group_id(group).message_deduplication_id(deduplication_id());
        }
        request
            .send()
            .await
            .map_err(|e| classify("SendMessage", e))?
            .message_id
            .ok_or_else(|| PortError::Backend("SendMessage answered without a message id".into()))
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
        let result = self.client.change_message_visibility().queue_url(queue_url).receipt_handle(receipt).visibility_timeout(seconds).send().await;
        match result {
            Ok(_) => Ok(()),
            // Releasing a message that is already visible has nothing left to do.
            Err(SdkError::ServiceError(context)) if seconds == 0 && context.err().code() == Some(MESSAGE_NOT_IN_FLIGHT) => Ok(()),
            Err(error) => Err(classify("ChangeMessageVisibility", error)),
        }
    }
}

/// Checks a message group id against SQS's rules: 1 to 128 characters, each an ASCII letter,
/// digit or punctuation mark (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``); no spaces, no other
/// characters.
fn validate_group_id(group: &str) -> Result<(), PortError> {
    if group.is_empty() {
        return Err(PortError::Invalid("message group id is empty (SQS requires 1 to 128 characters)".into()));
    }
    let chars = group.chars().count();
    if chars > MAX_GROUP_ID_CHARS {
        return Err(PortError::Invalid(format!("message group id is {chars} characters long, over SQS's limit of {MAX_GROUP_ID_CHARS}")));
    }
    if let Some(refused) = group.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(PortError::Invalid(format!(
            "message group id contains {refused:?}, which SQS does not allow \
             (only ASCII letters, digits and punctuation)"
        )));
    }
    Ok(())
}

/// A `MessageDeduplicationId` no other send uses: a fresh ULID (a millisecond timestamp and 80
/// random bits) as 32 hex digits.
fn deduplication_id() -> String {
    format!("{:032x}", u128::from(ulid::Ulid::new()))
}

fn delivery_of(message: Message) -> Result<Delivery, PortError> {
    let missing = |what: &str| PortError::Backend(format!("ReceiveMessage answered a message without {what}"));
    let receive_count = message
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .ok_or_else(|| missing("ApproximateReceiveCount"))?;
    let receive_count = receive_count.parse::<u32>().map_err(|_| PortError::Backend(format!("ApproximateReceiveCount {receive_count:?} is not a count")))?;
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
    /// Sends `body`; on a FIFO queue in the group `"default"`.
    async fn send(&self, body: &str) -> Result<String, PortError> {
        self.send_message(body, DEFAULT_GROUP).await
    }

    /// Sends `body` in `group`, checked against SQS's rules for group ids on every queue (so a
    /// group that a FIFO queue would refuse is refused on a standard queue too), then ignored
    /// by a standard queue.
    async fn send_grouped(&self, body: &str, group: &str) -> Result<String, PortError> {
        validate_group_id(group)?;
        self.send_message(body, group).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError> {
        validate_receive(max, visibility)?;
        let visibility = visibility_seconds(visibility)?;
        self.receive_from(&self.queue_url, max, visibility).await
    }

    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        self.client.delete_message().queue_url(&self.queue_url).receipt_handle(receipt).send().await.map_err(|e| classify("DeleteMessage", e))?;
        Ok(())
    }

    async fn release(&self, receipt: &str) -> Result<(), PortError> {
        self.change_visibility(&self.queue_url, receipt, 0).await
    }

    /// Lists the dead-letter queue without consuming it: each round receives up to ten messages
    /// and hides them briefly so the next round sees others, then all are made visible again.
    /// A listing running at the same time as another one may therefore miss messages.
    ///
    /// On a FIFO dead-letter queue, SQS delivers nothing more of a group while some of its
    /// messages are in flight, so the rounds after the first see other groups only, and the
    /// listing holds of each group the messages of the receive that first reached it (SQS
    /// returns as many of one group as it can, up to ten); the rest of a group is listed once
    /// those are gone. Releasing the listed messages at the end unblocks their groups.
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
    fn group_ids_follow_the_rules_of_sqs() {
        // GIVEN group ids of one and of 128 characters, and one with every punctuation mark SQS allows
        // WHEN they are checked THEN they pass
        for group in ["a", "case-01JB6Z", &"x".repeat(128), r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##, "Az09"] {
            validate_group_id(group).unwrap_or_else(|e| panic!("{group:?} refused: {e:?}"));
        }

        // GIVEN an empty id, one over 128 characters, and ids with a space, a tab, a letter
        // outside ASCII and an emoji
        // WHEN they are checked THEN each is refused as invalid, with its reason
        let refused = |group: &str| match validate_group_id(group) {
            Err(PortError::Invalid(reason)) => reason,
            other => panic!("{group:?}: expected Invalid, got {other:?}"),
        };
        assert!(refused("").contains("empty"));
        assert!(refused(&"x".repeat(129)).contains("129 characters"));
        assert!(refused("case 1").contains("' '"));
        assert!(refused("case\t1").contains("'\\t'"));
        assert!(refused("café").contains("'é'"));
        assert!(refused("🎫").contains("'🎫'"));
    }

    #[test]
    fn deduplication_ids_are_fresh_and_within_the_rules_of_sqs() {
        // GIVEN a thousand ids made one after the other
        let ids: Vec<String> = (0..1000).map(|_| deduplication_id()).collect();

        // THEN no two are the same, and each is 32 hex digits (128 bits, within SQS's 128 characters)
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())), "{:?}", &ids[..3]);
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
