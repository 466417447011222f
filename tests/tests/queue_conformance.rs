//! The conformance suite of the queue port (`docket_ports::Queue`).
//!
//! Every test below is one set of assertions, run identically on the SQLite queue and on SQS
//! (through the emulator that also serves the DynamoDB engine): `on_both_engines!` turns each
//! `async fn name(engine)` into the tests `sqlite::name` and `dynamo::name`. Every test works on
//! queues of its own, so the tests may run in parallel against one emulator.
//!
//! SQS standard queues promise neither order nor exactly-once delivery, so the suite compares
//! sets of messages, never sequences. Visibility timeouts are one second, to keep the suite fast.
//!
//! Each test reads GIVEN / WHEN / THEN.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use docket_aws::SqsQueue;
use docket_aws::config::{emulator_sdk_config, sqs_client};
use docket_e2e::{Engine, aws_endpoint};
use docket_embedded::SqliteQueue;
use docket_ports::{Delivery, PortError, Queue};

/// Long enough that nothing a test received reappears while the test runs.
const HOLD: Duration = Duration::from_secs(30);
/// The visibility timeout of tests that wait for a message to reappear.
const SHORT: Duration = Duration::from_secs(1);
/// Longer than [`SHORT`] by a margin for the emulator's clock granularity.
const SHORT_ELAPSED: Duration = Duration::from_millis(1300);
/// How many deliveries without acknowledgement the suite's queues tolerate.
const MAX_RECEIVES: u32 = 2;

// -------------------------------------------------------------------------------------------------
// Helpers

/// A fresh, empty queue of the engine, with its own dead-letter store.
async fn fresh(engine: Engine) -> Arc<dyn Queue> {
    let name = format!("q{}", ulid::Ulid::new().to_string().to_lowercase());
    match engine {
        Engine::Sqlite => Arc::new(SqliteQueue::in_memory(&name, MAX_RECEIVES).expect("open in-memory queue")),
        Engine::Dynamo => {
            let sdk = emulator_sdk_config(&aws_endpoint()).await;
            let queue = SqsQueue::create_with_dead_letter(sqs_client(&sdk), &name, MAX_RECEIVES)
                .await
                .expect("create queues on the emulator");
            Arc::new(queue)
        }
    }
}

/// Sends each body and returns the message ids.
async fn send_all(queue: &dyn Queue, bodies: &[String]) -> Vec<String> {
    let mut ids = Vec::with_capacity(bodies.len());
    for body in bodies {
        ids.push(queue.send(body).await.expect("send"));
    }
    ids
}

/// Receives in batches of ten until `expected` deliveries arrived (SQS may answer a receive with
/// fewer messages than are visible), checking every batch stays within its maximum.
async fn receive_exactly(queue: &dyn Queue, expected: usize, visibility: Duration) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for _ in 0..20 {
        if deliveries.len() >= expected {
            break;
        }
        let batch = queue.receive(10, visibility).await.expect("receive");
        assert!(batch.len() <= 10, "a batch of {} exceeds the maximum of 10", batch.len());
        deliveries.extend(batch);
    }
    assert_eq!(deliveries.len(), expected, "deliveries: {deliveries:?}");
    deliveries
}

/// Asserts no message is visible right now, without hiding any that would be.
async fn assert_nothing_visible(queue: &dyn Queue) {
    let visible = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert!(visible.is_empty(), "expected no visible message, got {visible:?}");
}

fn bodies_of(deliveries: &[Delivery]) -> HashSet<String> {
    deliveries.iter().map(|d| d.body.clone()).collect()
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, PortError>, what: &str) {
    assert!(matches!(result, Err(PortError::Invalid(_))), "{what}: expected Invalid, got {result:?}");
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, PortError>, what: &str) {
    assert!(matches!(result, Err(PortError::NotFound(_))), "{what}: expected NotFound, got {result:?}");
}

// -------------------------------------------------------------------------------------------------
// Tests

docket_e2e::on_both_engines!(
    sent_messages_are_received_once_and_acknowledged_away,
    an_unacknowledged_message_returns_after_its_visibility_timeout_with_a_new_receipt,
    release_makes_a_message_visible_at_once,
    a_message_delivered_max_receives_times_moves_to_the_dead_letters,
    listing_dead_letters_covers_more_than_one_batch_and_consumes_none,
    receive_honours_its_maximum_and_refuses_batches_outside_1_to_10,
    unicode_and_large_bodies_survive_intact,
    malformed_requests_and_unknown_receipts_are_refused,
);

async fn sent_messages_are_received_once_and_acknowledged_away(engine: Engine) {
    // GIVEN a queue with three messages
    let queue = fresh(engine).await;
    let bodies: Vec<String> = ["assign case 1", "notify agent 2", "reindex 3"].map(String::from).into();
    let ids = send_all(&*queue, &bodies).await;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "message ids must be distinct: {ids:?}");

    // WHEN they are received
    let deliveries = receive_exactly(&*queue, 3, HOLD).await;

    // THEN each arrives once, on its first delivery, under the id `send` returned
    assert_eq!(bodies_of(&deliveries), bodies.iter().cloned().collect());
    assert_eq!(deliveries.iter().map(|d| d.message_id.clone()).collect::<HashSet<_>>(), ids.into_iter().collect());
    assert!(deliveries.iter().all(|d| d.receive_count == 1), "deliveries: {deliveries:?}");
    // AND while they are in flight, nothing else is visible
    assert_nothing_visible(&*queue).await;

    // WHEN every delivery is acknowledged
    for delivery in &deliveries {
        queue.ack(&delivery.receipt).await.expect("ack");
    }

    // THEN nothing is left to receive, and nothing was dead-lettered
    let after = queue.receive(10, HOLD).await.expect("receive after ack");
    assert!(after.is_empty(), "acknowledged messages came back: {after:?}");
    assert!(queue.dead_letters().await.expect("dead letters").is_empty());
}

async fn an_unacknowledged_message_returns_after_its_visibility_timeout_with_a_new_receipt(engine: Engine) {
    // GIVEN a message received with a short visibility timeout and not acknowledged
    let queue = fresh(engine).await;
    let id = queue.send("retry me").await.expect("send");
    let first = queue.receive(1, SHORT).await.expect("first receive");
    assert_eq!(first.len(), 1, "first: {first:?}");
    assert_eq!((first[0].message_id.as_str(), first[0].receive_count), (id.as_str(), 1));

    // WHEN another receive comes before the timeout
    // THEN the message is invisible to it
    assert_nothing_visible(&*queue).await;

    // WHEN the timeout has passed
    tokio::time::sleep(SHORT_ELAPSED).await;
    let second = queue.receive(10, HOLD).await.expect("second receive");

    // THEN the same message is delivered again, counted twice, under a new receipt
    assert_eq!(second.len(), 1, "second: {second:?}");
    assert_eq!(second[0].message_id, id);
    assert_eq!(second[0].body, "retry me");
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(second[0].receipt, first[0].receipt, "each delivery must have its own receipt");

    // WHEN the first, outdated receipt releases it
    // THEN that is accepted, as SQS accepts an earlier receipt of a message still queued
    queue.release(&first[0].receipt).await.expect("release with the outdated receipt");

    // WHEN the outdated receipt acknowledges it, and then the current one does too
    // THEN both are accepted (SQS also accepts a repeated delete, so a consumer may retry an
    // acknowledgement)
    queue.ack(&first[0].receipt).await.expect("ack with the outdated receipt");
    queue.ack(&second[0].receipt).await.expect("ack with the current receipt");
    // AND the message is gone
    assert_nothing_visible(&*queue).await;
}

async fn release_makes_a_message_visible_at_once(engine: Engine) {
    // GIVEN a message received with a long visibility timeout
    let queue = fresh(engine).await;
    let id = queue.send("try again").await.expect("send");
    let first = queue.receive(1, HOLD).await.expect("receive");
    assert_eq!(first.len(), 1, "first: {first:?}");
    assert_nothing_visible(&*queue).await;

    // WHEN the delivery is released
    queue.release(&first[0].receipt).await.expect("release");

    // THEN the message is delivered again at once, counted twice, under a new receipt
    let second = queue.receive(10, HOLD).await.expect("receive after release");
    assert_eq!(second.len(), 1, "second: {second:?}");
    assert_eq!((second[0].message_id.as_str(), second[0].receive_count), (id.as_str(), 2));
    assert_ne!(second[0].receipt, first[0].receipt);

    // WHEN it is acknowledged and then released
    queue.ack(&second[0].receipt).await.expect("ack");
    let released_after_ack = queue.release(&second[0].receipt).await;

    // THEN the release finds nothing to make visible, and nothing comes back
    assert_not_found(released_after_ack, "release after ack");
    assert_nothing_visible(&*queue).await;
}

async fn a_message_delivered_max_receives_times_moves_to_the_dead_letters(engine: Engine) {
    // GIVEN a message delivered MAX_RECEIVES times, released each time
    let queue = fresh(engine).await;
    queue.send("poison").await.expect("send poison");
    let mut last = None;
    for attempt in 1..=MAX_RECEIVES {
        let delivery = queue.receive(10, HOLD).await.expect("receive poison");
        assert_eq!(delivery.len(), 1, "attempt {attempt}: {delivery:?}");
        assert_eq!(delivery[0].receive_count, attempt);
        queue.release(&delivery[0].receipt).await.expect("release poison");
        last = delivery.into_iter().next();
    }
    let last = last.expect("at least one delivery");
    // AND a healthy message sent after it
    queue.send("healthy").await.expect("send healthy");

    // WHEN the queue is received from again
    let next = queue.receive(10, HOLD).await.expect("receive after exhaustion");

    // THEN only the healthy message is delivered, and the exhausted one is a dead letter
    assert_eq!(bodies_of(&next), HashSet::from(["healthy".to_owned()]));
    queue.ack(&next[0].receipt).await.expect("ack healthy");
    assert_eq!(queue.dead_letters().await.expect("dead letters"), ["poison"]);
    // AND it is never delivered again, nor can its last receipt acknowledge it
    assert_nothing_visible(&*queue).await;
    assert_not_found(queue.ack(&last.receipt).await, "ack of a dead-lettered message");
    // AND listing the dead letters does not consume them
    assert_eq!(queue.dead_letters().await.expect("dead letters again"), ["poison"]);
}

async fn listing_dead_letters_covers_more_than_one_batch_and_consumes_none(engine: Engine) {
    // GIVEN eleven messages (more than one receive batch) each delivered MAX_RECEIVES times
    let queue = fresh(engine).await;
    let bodies: Vec<String> = (1..=11).map(|n| format!("poison {n}")).collect();
    send_all(&*queue, &bodies).await;
    for attempt in 1..=MAX_RECEIVES {
        let round = receive_exactly(&*queue, bodies.len(), HOLD).await;
        assert!(round.iter().all(|d| d.receive_count == attempt), "attempt {attempt}: {round:?}");
        for delivery in &round {
            queue.release(&delivery.receipt).await.expect("release");
        }
    }
    // AND a receive that finds them all exhausted
    assert_nothing_visible(&*queue).await;

    // WHEN the dead letters are listed twice in a row
    let first = queue.dead_letters().await.expect("dead letters");
    let second = queue.dead_letters().await.expect("dead letters again");

    // THEN both listings hold every message exactly once
    let expected: HashSet<String> = bodies.into_iter().collect();
    for listing in [first, second] {
        assert_eq!(listing.len(), expected.len(), "listing: {listing:?}");
        assert_eq!(listing.into_iter().collect::<HashSet<_>>(), expected);
    }
}

async fn receive_honours_its_maximum_and_refuses_batches_outside_1_to_10(engine: Engine) {
    // GIVEN a queue with twelve messages
    let queue = fresh(engine).await;
    let bodies: Vec<String> = (1..=12).map(|n| format!("job {n}")).collect();
    let ids = send_all(&*queue, &bodies).await;

    // WHEN a receive asks for 0 or 11 messages
    // THEN it is refused as invalid, and nothing was received
    assert_invalid(queue.receive(0, HOLD).await, "receive(0)");
    assert_invalid(queue.receive(11, HOLD).await, "receive(11)");

    // WHEN a receive asks for one message
    let one = queue.receive(1, HOLD).await.expect("receive(1)");

    // THEN it gets exactly one
    assert_eq!(one.len(), 1, "receive(1): {one:?}");

    // WHEN the rest is received ten at a time
    let rest = receive_exactly(&*queue, 11, HOLD).await;

    // THEN every message arrived exactly once, none of them twice
    let received: Vec<String> = one.iter().chain(&rest).map(|d| d.message_id.clone()).collect();
    let distinct: HashSet<String> = received.iter().cloned().collect();
    assert_eq!(distinct.len(), received.len(), "a message was delivered twice: {received:?}");
    assert_eq!(distinct, ids.into_iter().collect());
    let all: Vec<Delivery> = one.into_iter().chain(rest).collect();
    assert_eq!(bodies_of(&all), bodies.into_iter().collect());
}

async fn unicode_and_large_bodies_survive_intact(engine: Engine) {
    // GIVEN bodies with non-ASCII text, control characters SQS allows, and 200 KB of multibyte text
    let queue = fresh(engine).await;
    let large = "Größe 🎫 ".repeat(200 * 1024 / "Größe 🎫 ".len());
    assert!(large.len() > 200_000 && large.len() <= 256 * 1024, "large body is {} bytes", large.len());
    let bodies = vec![
        "Ünïcødé ✓ — 日本語のチケット — Ελληνικά — 🎫🧾".to_owned(),
        "tab\there\r\nnew line\n{\"json\": [1, 2, \"trois\"]}".to_owned(),
        large,
    ];
    send_all(&*queue, &bodies).await;

    // WHEN they are received
    let deliveries = receive_exactly(&*queue, bodies.len(), HOLD).await;

    // THEN each body comes back byte for byte
    assert_eq!(bodies_of(&deliveries), bodies.into_iter().collect());
}

async fn malformed_requests_and_unknown_receipts_are_refused(engine: Engine) {
    // GIVEN an empty queue
    let queue = fresh(engine).await;

    // WHEN bodies SQS cannot carry are sent
    // THEN each is refused as invalid
    assert_invalid(queue.send("").await, "empty body");
    assert_invalid(queue.send(&"x".repeat(256 * 1024 + 1)).await, "body over 256 KiB");
    assert_invalid(queue.send("nul \u{0} inside").await, "body with NUL");
    // AND a visibility beyond SQS's twelve hours is refused
    assert_invalid(queue.receive(1, Duration::from_secs(12 * 60 * 60 + 1)).await, "visibility over 12 h");

    // WHEN receipts that were never issued are acknowledged or released
    // THEN they are not found
    assert_not_found(queue.ack("not-a-receipt").await, "ack of a garbage receipt");
    assert_not_found(queue.release("not-a-receipt").await, "release of a garbage receipt");

    // AND none of this left a message or a dead letter behind
    assert_nothing_visible(&*queue).await;
    assert!(queue.dead_letters().await.expect("dead letters").is_empty());
}
