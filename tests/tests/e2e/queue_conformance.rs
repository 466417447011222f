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
//! The tests of `sqs_fifo` run on SQS FIFO queues only (`SqsQueue::create_fifo_with_dead_letter`;
//! the SQLite queue ignores groups): the messages of one group come in send order, and none of a
//! group while another of it is in flight. They do compare sequences.
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
            let queue = SqsQueue::create_with_dead_letter(sqs_client(&sdk), &name, MAX_RECEIVES).await.expect("create queues on the emulator");
            Arc::new(queue)
        }
    }
}

/// A fresh, empty SQS FIFO queue on the emulator, with its FIFO dead-letter queue.
async fn fresh_fifo() -> Arc<SqsQueue> {
    let name = format!("q{}", ulid::Ulid::new().to_string().to_lowercase());
    let sdk = emulator_sdk_config(&aws_endpoint()).await;
    let queue = SqsQueue::create_fifo_with_dead_letter(sqs_client(&sdk), &name, MAX_RECEIVES).await.expect("create FIFO queues on the emulator");
    assert!(queue.is_fifo(), "{name}.fifo is not taken for a FIFO queue");
    Arc::new(queue)
}

/// Sends each `(group, body)` and returns the message ids.
async fn send_all_grouped(queue: &dyn Queue, messages: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::with_capacity(messages.len());
    for (group, body) in messages {
        ids.push(queue.send_grouped(body, group).await.expect("send_grouped"));
    }
    ids
}

/// Receives from a FIFO queue until `expected` deliveries arrived, acknowledging each batch
/// before the next receive (nothing more of a group is delivered while one of its messages is in
/// flight), and returns them in the order they came.
async fn receive_in_turn(queue: &dyn Queue, expected: usize) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for _ in 0..20 {
        if deliveries.len() >= expected {
            break;
        }
        let batch = queue.receive(10, HOLD).await.expect("receive");
        for delivery in &batch {
            queue.ack(&delivery.receipt).await.expect("ack");
        }
        deliveries.extend(batch);
    }
    assert_eq!(deliveries.len(), expected, "deliveries: {deliveries:?}");
    deliveries
}

/// The bodies of `deliveries` that start with `prefix`, in delivery order.
fn bodies_starting_with(deliveries: &[Delivery], prefix: &str) -> Vec<String> {
    deliveries.iter().filter(|d| d.body.starts_with(prefix)).map(|d| d.body.clone()).collect()
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
    let bodies = vec!["Ünïcødé ✓ — 日本語のチケット — Ελληνικά — 🎫🧾".to_owned(), "tab\there\r\nnew line\n{\"json\": [1, 2, \"trois\"]}".to_owned(), large];
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

// -------------------------------------------------------------------------------------------------
// FIFO queues (SQS only)

mod sqs_fifo {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_of_a_group_come_back_in_send_order() {
        super::messages_of_a_group_come_back_in_send_order().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_sends_of_the_same_body_are_two_messages() {
        super::two_sends_of_the_same_body_are_two_messages().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unacknowledged_message_is_redelivered_before_the_rest_of_its_group() {
        super::an_unacknowledged_message_is_redelivered_before_the_rest_of_its_group().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_a_batch_the_acknowledged_are_gone_and_the_released_one_returns() {
        super::of_a_batch_the_acknowledged_are_gone_and_the_released_one_returns().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_delivered_max_receives_times_moves_to_the_dead_letters_and_unblocks_its_group() {
        super::a_message_delivered_max_receives_times_moves_to_the_dead_letters_and_unblocks_its_group().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_dead_letters_covers_more_than_one_batch_and_consumes_none() {
        super::fifo_listing_dead_letters_covers_more_than_one_batch_and_consumes_none().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_group_ids_are_refused_and_nothing_is_sent() {
        super::invalid_group_ids_are_refused_and_nothing_is_sent().await
    }
}

async fn messages_of_a_group_come_back_in_send_order() {
    // GIVEN a FIFO queue with the events of two cases sent interleaved, five each
    let queue = fresh_fifo().await;
    let mut messages = Vec::new();
    let bodies: Vec<(String, String)> =
        (1..=5).flat_map(|n| [("case-1", n), ("case-2", n)]).map(|(group, n)| (group.to_owned(), format!("{group} event {n}"))).collect();
    for (group, body) in &bodies {
        messages.push((group.as_str(), body.as_str()));
    }
    let mut ids = send_all_grouped(&*queue, &messages).await;
    // AND three messages sent without a group (they share the queue's default group)
    for n in 1..=3 {
        ids.push(queue.send(&format!("ungrouped {n}")).await.expect("send without a group"));
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 13, "message ids must be distinct: {ids:?}");

    // WHEN they are received, each batch acknowledged before the next
    let deliveries = receive_in_turn(&*queue, 13).await;

    // THEN every message came once, on its first delivery, under the id `send` returned
    assert!(deliveries.iter().all(|d| d.receive_count == 1), "deliveries: {deliveries:?}");
    assert_eq!(deliveries.iter().map(|d| d.message_id.clone()).collect::<HashSet<_>>(), ids.into_iter().collect());
    // AND the messages of each group came in the order they were sent
    let expected = |group: &str| (1..=5).map(|n| format!("{group} event {n}")).collect::<Vec<_>>();
    assert_eq!(bodies_starting_with(&deliveries, "case-1 "), expected("case-1"));
    assert_eq!(bodies_starting_with(&deliveries, "case-2 "), expected("case-2"));
    assert_eq!(bodies_starting_with(&deliveries, "ungrouped "), ["ungrouped 1", "ungrouped 2", "ungrouped 3"]);
    // AND nothing is left
    assert_nothing_visible(&*queue).await;
}

async fn two_sends_of_the_same_body_are_two_messages() {
    // GIVEN a FIFO queue without content-based deduplication
    let queue = fresh_fifo().await;

    // WHEN the same body is sent twice to one group, and once more without a group
    let first = queue.send_grouped("case 7 changed", "case-7").await.expect("first send");
    let second = queue.send_grouped("case 7 changed", "case-7").await.expect("second send");
    let third = queue.send("case 7 changed").await.expect("third send");

    // THEN each send made a message of its own (every send has its own deduplication id), and
    // all three are delivered
    assert_eq!(HashSet::from([&first, &second, &third]).len(), 3, "{first} {second} {third}");
    let deliveries = receive_in_turn(&*queue, 3).await;
    assert!(deliveries.iter().all(|d| d.body == "case 7 changed"), "deliveries: {deliveries:?}");
    assert_eq!(deliveries.iter().map(|d| d.message_id.clone()).collect::<HashSet<_>>(), HashSet::from([first, second, third]));
}

async fn an_unacknowledged_message_is_redelivered_before_the_rest_of_its_group() {
    // GIVEN two events of case 1, and one of case 2
    let queue = fresh_fifo().await;
    let ids = send_all_grouped(&*queue, &[("case-1", "case-1 first"), ("case-1", "case-1 second"), ("case-2", "case-2 only")]).await;

    // WHEN the first event of case 1 is received with a short visibility timeout and not acknowledged
    let first = queue.receive(1, SHORT).await.expect("first receive");
    assert_eq!(first.len(), 1, "first: {first:?}");
    assert_eq!((first[0].body.as_str(), first[0].receive_count), ("case-1 first", 1));

    // THEN while it is in flight, a receive gets the event of case 2 but not the second of case 1
    let meanwhile = queue.receive(10, HOLD).await.expect("receive while in flight");
    assert_eq!(meanwhile.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["case-2 only"]);
    queue.ack(&meanwhile[0].receipt).await.expect("ack case 2");
    assert_nothing_visible(&*queue).await;

    // WHEN its visibility timeout has passed
    tokio::time::sleep(SHORT_ELAPSED).await;
    let again = queue.receive(1, HOLD).await.expect("receive after the timeout");

    // THEN the same message comes again, counted twice, under a new receipt, still before the
    // second event of its case
    assert_eq!(again.len(), 1, "again: {again:?}");
    assert_eq!((again[0].message_id.as_str(), again[0].receive_count), (ids[0].as_str(), 2));
    assert_eq!(again[0].body, "case-1 first");
    assert_ne!(again[0].receipt, first[0].receipt, "each delivery must have its own receipt");

    // WHEN it is acknowledged
    queue.ack(&again[0].receipt).await.expect("ack the first event");

    // THEN the second event of case 1 comes, on its first delivery
    let second = queue.receive(10, HOLD).await.expect("receive the second event");
    assert_eq!(second.len(), 1, "second: {second:?}");
    assert_eq!((second[0].message_id.as_str(), second[0].receive_count), (ids[1].as_str(), 1));

    // WHEN that one is released
    queue.release(&second[0].receipt).await.expect("release");

    // THEN it comes back at once, counted twice
    let released = queue.receive(10, HOLD).await.expect("receive after release");
    assert_eq!(released.len(), 1, "released: {released:?}");
    assert_eq!((released[0].message_id.as_str(), released[0].receive_count), (ids[1].as_str(), 2));
    queue.ack(&released[0].receipt).await.expect("ack the second event");
    // AND nothing is left, nothing was dead-lettered
    assert_nothing_visible(&*queue).await;
    assert!(queue.dead_letters().await.expect("dead letters").is_empty());
}

async fn of_a_batch_the_acknowledged_are_gone_and_the_released_one_returns() {
    // GIVEN a batch received with events of three cases, two of them of case 1
    let queue = fresh_fifo().await;
    let ids =
        send_all_grouped(&*queue, &[("case-1", "case-1 opened"), ("case-2", "case-2 opened"), ("case-1", "case-1 replied"), ("case-3", "case-3 opened")]).await;
    let batch = receive_exactly(&*queue, 4, HOLD).await;
    assert!(batch.iter().all(|d| d.receive_count == 1), "batch: {batch:?}");
    // (in send order within case 1)
    assert_eq!(bodies_starting_with(&batch, "case-1 "), ["case-1 opened", "case-1 replied"]);

    // WHEN all are acknowledged but the last event of case 1, which failed and is released (what
    // a consumer reporting batch item failures does)
    for delivery in &batch {
        if delivery.body == "case-1 replied" {
            queue.release(&delivery.receipt).await.expect("release the failed one");
        } else {
            queue.ack(&delivery.receipt).await.expect("ack");
        }
    }

    // THEN only the released one comes back, counted twice
    let next = queue.receive(10, HOLD).await.expect("receive after the batch");
    assert_eq!(next.len(), 1, "next: {next:?}");
    assert_eq!((next[0].message_id.as_str(), next[0].body.as_str(), next[0].receive_count), (ids[2].as_str(), "case-1 replied", 2));
    // AND once it is acknowledged, nothing is left and nothing was dead-lettered
    queue.ack(&next[0].receipt).await.expect("ack the retried one");
    assert_nothing_visible(&*queue).await;
    assert!(queue.dead_letters().await.expect("dead letters").is_empty());
}

async fn a_message_delivered_max_receives_times_moves_to_the_dead_letters_and_unblocks_its_group() {
    // GIVEN a poison event of case 1 followed by a healthy one of the same case
    let queue = fresh_fifo().await;
    send_all_grouped(&*queue, &[("case-1", "poison"), ("case-1", "healthy")]).await;

    // WHEN the poison is delivered MAX_RECEIVES times and released each time
    let mut last = None;
    for attempt in 1..=MAX_RECEIVES {
        let delivery = queue.receive(1, HOLD).await.expect("receive poison");
        assert_eq!(delivery.len(), 1, "attempt {attempt}: {delivery:?}");
        assert_eq!((delivery[0].body.as_str(), delivery[0].receive_count), ("poison", attempt));
        // THEN meanwhile the healthy event waits behind it
        assert_nothing_visible(&*queue).await;
        queue.release(&delivery[0].receipt).await.expect("release poison");
        last = delivery.into_iter().next();
    }
    let last = last.expect("at least one delivery");

    // WHEN the queue is received from again
    let next = queue.receive(10, HOLD).await.expect("receive after exhaustion");

    // THEN the poison has left for the FIFO dead-letter queue, and the healthy event comes
    assert_eq!(next.iter().map(|d| (d.body.as_str(), d.receive_count)).collect::<Vec<_>>(), [("healthy", 1)]);
    queue.ack(&next[0].receipt).await.expect("ack healthy");
    assert_eq!(queue.dead_letters().await.expect("dead letters"), ["poison"]);
    // AND it is never delivered again, nor can its last receipt acknowledge it
    assert_nothing_visible(&*queue).await;
    assert_not_found(queue.ack(&last.receipt).await, "ack of a dead-lettered message");
    // AND listing the dead letters does not consume them (nor leave their group blocked)
    assert_eq!(queue.dead_letters().await.expect("dead letters again"), ["poison"]);
    assert_eq!(queue.dead_letters().await.expect("dead letters a third time"), ["poison"]);
}

async fn fifo_listing_dead_letters_covers_more_than_one_batch_and_consumes_none() {
    // GIVEN eleven poison events of eleven cases (more than one receive batch), each delivered
    // MAX_RECEIVES times
    let queue = fresh_fifo().await;
    let groups: Vec<String> = (1..=11).map(|n| format!("case-{n}")).collect();
    let bodies: Vec<String> = (1..=11).map(|n| format!("poison {n}")).collect();
    let messages: Vec<(&str, &str)> = groups.iter().map(String::as_str).zip(bodies.iter().map(String::as_str)).collect();
    send_all_grouped(&*queue, &messages).await;
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

async fn invalid_group_ids_are_refused_and_nothing_is_sent() {
    // GIVEN a FIFO queue
    let queue = fresh_fifo().await;

    // WHEN messages are sent with group ids SQS does not allow
    // THEN each is refused as invalid
    let too_long = "x".repeat(129);
    for group in ["", too_long.as_str(), "case 1", "case\t1", "café", "🎫"] {
        assert_invalid(queue.send_grouped("refused", group).await, &format!("group {group:?}"));
    }
    // AND an invalid body is refused with a valid group
    assert_invalid(queue.send_grouped("", "case-1").await, "empty body");

    // WHEN the longest group id and one of every punctuation mark SQS allows are used
    let longest = "y".repeat(128);
    let punctuation = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;
    queue.send_grouped("longest", &longest).await.expect("128-character group");
    queue.send_grouped("punctuation", punctuation).await.expect("punctuation group");

    // THEN only those two messages were sent
    let deliveries = receive_in_turn(&*queue, 2).await;
    assert_eq!(bodies_of(&deliveries), HashSet::from(["longest".to_owned(), "punctuation".to_owned()]));
    assert_nothing_visible(&*queue).await;

    // AND a standard queue refuses the same group ids (a FIFO queue would), though it ignores groups
    let standard = fresh(Engine::Dynamo).await;
    assert_invalid(standard.send_grouped("refused", "case 1").await, "group with a space, standard queue");
    assert_nothing_visible(&*standard).await;
    standard.send_grouped("accepted", "case-1").await.expect("valid group, standard queue");
    assert_eq!(bodies_of(&receive_exactly(&*standard, 1, HOLD).await), HashSet::from(["accepted".to_owned()]));

    // AND a FIFO queue name given with its suffix is refused
    let sdk = emulator_sdk_config(&aws_endpoint()).await;
    assert_invalid(SqsQueue::create_fifo_with_dead_letter(sqs_client(&sdk), "assign.fifo", MAX_RECEIVES).await, "name with .fifo");
}
