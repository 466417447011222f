//! Exactly-once inbound mail under faults, on both engines: at-least-once delivery (a failed
//! attempt is delivered again, by the same source or as a new one), one effect. A mailer that
//! fails transiently or refuses for good, a store that fails between the case and its log line
//! (a crash between steps), and a queue that is down: one case and one log line per message,
//! every acknowledgement and notification sent exactly once after recovery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::Method;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail, InboundOutcome};
use docket_e2e::{Engine, QueueOutage, RecordingMailer, TestApi, on_both_engines};
use docket_notify::NotifyHandler;
use docket_ports::{Mailer, OutboundMail, PortError};
use docket_store::{ItemStore, Key, Page, Query, StoreError, WriteOp};
use serde_json::{Value, json};

on_both_engines!(
    a_transient_mail_failure_is_retried_into_one_case_and_one_acknowledgement,
    a_permanent_refusal_is_logged_and_never_repeats_the_case,
    a_crash_before_the_log_line_resumes_into_one_case,
    a_crash_after_the_commit_sends_everything_once_from_the_outbox,
    concurrent_messages_from_a_new_sender_share_one_contact_and_never_a_number,
    sixteen_messages_at_once_each_open_a_case_without_racing,
    a_queue_outage_loses_no_notification,
);

/// What the mailer does with its next sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MailFault {
    Works,
    /// The next send fails as a timeout would; later ones work.
    TransientOnce,
    /// Every send is refused for good (SES MessageRejected).
    Refuses,
}

struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    fault: Mutex<MailFault>,
    attempts: AtomicUsize,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, mail: OutboundMail) -> Result<String, PortError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let mut fault = self.fault.lock().unwrap();
            let now = *fault;
            if now == MailFault::TransientOnce {
                *fault = MailFault::Works;
            }
            now
        };
        match fault {
            MailFault::Works => self.inner.send(mail).await,
            MailFault::TransientOnce => Err(PortError::Transient("connection reset".into())),
            MailFault::Refuses => Err(PortError::Invalid("MessageRejected: address blacklisted".into())),
        }
    }
}

/// A store that fails the next transaction writing an inbound-log line, as a process killed
/// after the case was stored and before the message was logged would.
struct CrashingStore {
    inner: Arc<dyn ItemStore>,
    crash_before_log: AtomicBool,
}

#[async_trait]
impl ItemStore for CrashingStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<docket_store::Item>, StoreError> {
        self.inner.get(table, key).await
    }
    async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        self.inner.write(op).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let logs = ops.iter().any(|op| op.key().is_some_and(|k| k.pk == "INBOUNDLOG"));
        if logs && self.crash_before_log.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Transient("the process died".into()));
        }
        self.inner.transact(ops).await
    }
    async fn increment(&self, table: &str, key: &Key, attribute: &str, by: i64) -> Result<i64, StoreError> {
        self.inner.increment(table, key, attribute, by).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
}

struct World {
    api: TestApi,
    admin: String,
    address: String,
    domain: String,
    mailer: Arc<FaultyMailer>,
    sent: Arc<RecordingMailer>,
    store: Arc<CrashingStore>,
    queue: Arc<QueueOutage>,
    handler: NotifyHandler,
}

async fn world(engine: Engine) -> World {
    let store = Arc::new(CrashingStore { inner: docket_e2e::store(engine).await, crash_before_log: AtomicBool::new(false) });
    let queue = Arc::new(QueueOutage::new(docket_e2e::queue(engine, 5).await));
    let blobs = docket_e2e::blobs(engine).await;
    let docket = docket_domain::Docket::new(store.clone(), Arc::new(docket_domain::clock::SystemClock)).with_notify_queue(queue.clone()).with_blobs(blobs);
    let sent = docket_e2e::recording_mailer(engine).await;
    let mailer = Arc::new(FaultyMailer { inner: sent.clone(), fault: Mutex::new(MailFault::Works), attempts: AtomicUsize::new(0) });
    let handler = NotifyHandler { docket: docket.clone(), mailer: sent.clone(), settings: docket_e2e::test_mail_settings() };
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let address = format!("support-{tag}@acme.test");
    let mailbox = api.call(Method::POST, "/mailboxes", Some(&admin), Some(json!({"name": "Support", "addresses": [address], "auto_ack": true}))).await;
    assert_eq!(mailbox.status, 201, "{}", mailbox.body);
    World { api, admin, address, domain: format!("c{tag}.test"), mailer, sent, store, queue, handler }
}

impl World {
    fn mail(&self, from: &str, subject: &str, message_id: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n",
            self.address
        )
        .into_bytes()
    }

    async fn deliver(&self, source_id: &str, raw: &[u8]) -> Result<InboundLogEntry, docket_domain::DomainError> {
        let pipeline = Inbound { docket: &self.api.docket, mailer: Some(self.mailer.as_ref() as &dyn Mailer), settings: &self.handler.settings };
        pipeline
            .receive(InboundMail { source_id: source_id.into(), envelope_to: vec![self.address.clone()], raw: raw.to_vec(), ..InboundMail::default() })
            .await
    }

    async fn list(&self, path: &str) -> Vec<Value> {
        let reply = self.api.call(Method::GET, path, Some(&self.admin), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }

    async fn cases_with(&self, subject: &str) -> usize {
        self.list("/cases?limit=100").await.iter().filter(|c| c["subject"] == subject).count()
    }

    async fn log_lines_of(&self, message_id: &str) -> Vec<Value> {
        self.list("/inbound-log?limit=100").await.into_iter().filter(|l| l["message_id"] == message_id).collect()
    }

    async fn acks_to(&self, address: &str) -> usize {
        self.sent.messages_with(address).iter().filter(|raw| raw.contains("Auto-Submitted: auto-replied")).count()
    }

    async fn email_entries(&self, number: u64) -> usize {
        self.list(&format!("/cases/{number}/stream")).await.iter().filter(|e| e["kind"] == "email_received").count()
    }

    /// Works the notify queue until it is empty, as the notify function would.
    async fn drain(&self) {
        docket_e2e::work_notify_queue(self.queue.as_ref(), &self.handler).await;
    }

    /// How often each notification (by our Message-ID) was sent about an entry.
    async fn notifications_of(&self, entry_id: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for raw in self.sent.messages_with(&format!("<{}.", entry_id.to_lowercase())) {
            if let Some(id) = raw.lines().find_map(|l| l.strip_prefix("Message-ID:").or_else(|| l.strip_prefix("Message-Id:"))) {
                *counts.entry(id.trim().to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }
}

async fn a_transient_mail_failure_is_retried_into_one_case_and_one_acknowledgement(engine: Engine) {
    let world = world(engine).await;
    for (n, retry_source) in [(1, "same"), (2, "new")] {
        // GIVEN a mailer that times out once
        *world.mailer.fault.lock().unwrap() = MailFault::TransientOnce;
        let from = format!("ada{n}@{}", world.domain);
        let subject = format!("Printer {n}");
        let raw = world.mail(&from, &subject, &format!("t{n}@c.test"));
        // WHEN the acknowledgement fails right after the message committed
        let first = world.deliver(&format!("src-{n}"), &raw).await.expect("the message is taken");
        // THEN the case stands and its acknowledgement waits in the outbox
        assert_eq!((first.outcome, first.acknowledged), (InboundOutcome::Created, true), "{first:?}");
        assert_eq!(world.acks_to(&from).await, 0);
        // AND a second delivery (by the same source, or as a new one: an SMTP client retrying)
        // changes nothing
        let source = if retry_source == "same" { format!("src-{n}") } else { format!("src-{n}-again") };
        let second = world.deliver(&source, &raw).await.expect("the retry succeeds");
        if retry_source == "same" {
            assert_eq!(second, first);
        } else {
            assert_eq!(second.outcome, InboundOutcome::Duplicate, "{second:?}");
        }
        // WHEN the relay runs (twice) and the notify worker works the queue
        let relayed = world.api.docket.relay_outbox(100).await.expect("relay");
        assert_eq!(relayed.sent, 1, "the acknowledgement: {relayed:?}");
        world.api.docket.relay_outbox(100).await.expect("relay again");
        world.drain().await;
        // THEN one case, one created line, one mail entry, one acknowledgement
        assert_eq!(world.cases_with(&subject).await, 1, "retry by {retry_source} source");
        let lines = world.log_lines_of(&format!("t{n}@c.test")).await;
        assert_eq!(lines.iter().filter(|l| l["outcome"] == "created").count(), 1, "{lines:?}");
        assert_eq!(world.acks_to(&from).await, 1);
        assert_eq!(world.email_entries(first.case_number.unwrap()).await, 1);
        // AND a third delivery changes nothing but a duplicate line
        let third = world.deliver(&format!("src-{n}-third"), &raw).await.expect("a duplicate");
        assert_eq!(third.outcome, InboundOutcome::Duplicate);
        world.drain().await;
        assert_eq!((world.cases_with(&subject).await, world.acks_to(&from).await), (1, 1));
    }
}

async fn a_permanent_refusal_is_logged_and_never_repeats_the_case(engine: Engine) {
    // GIVEN a mail provider that refuses the acknowledgement for good
    let world = world(engine).await;
    *world.mailer.fault.lock().unwrap() = MailFault::Refuses;
    let from = format!("bob@{}", world.domain);
    let raw = world.mail(&from, "Refused", "p1@c.test");
    // WHEN a message arrives, and is delivered again and again
    let first = world.deliver("p-src", &raw).await.expect("the case is kept");
    let again = world.deliver("p-src", &raw).await.expect("redelivery");
    let other = world.deliver("p-src-2", &raw).await.expect("another delivery");
    // THEN the case stands, the refusal is in its log line and on the case, and nothing is tried twice
    assert_eq!((first.outcome, first.acknowledged), (InboundOutcome::Created, false), "{first:?}");
    assert!(first.reason.contains("refused"), "{}", first.reason);
    assert_eq!(again, first);
    assert_eq!(other.outcome, InboundOutcome::Duplicate);
    assert_eq!(world.cases_with("Refused").await, 1);
    assert_eq!(world.log_lines_of("p1@c.test").await.len(), 2, "the created line and the duplicate's");
    let stream = world.list(&format!("/cases/{}/stream", first.case_number.unwrap())).await;
    let notes: Vec<&Value> =
        stream.iter().filter(|e| e["visibility"] == "internal" && e["body"].as_str().is_some_and(|b| b.contains("was not sent"))).collect();
    assert_eq!(notes.len(), 1, "{stream:?}");
    assert_eq!(world.api.docket.relay_outbox(100).await.expect("relay").sent, 0, "nothing of the acknowledgement is left to send");
    world.drain().await;
    assert_eq!(world.mailer.attempts.load(Ordering::SeqCst), 1, "one attempt at the acknowledgement");
    assert_eq!(world.acks_to(&from).await, 0);
}

async fn a_crash_after_the_commit_sends_everything_once_from_the_outbox(engine: Engine) {
    // GIVEN an agent who follows every new case, and a process that dies right after a
    // message committed, before it handed anything to a queue or the mailer (a deferred
    // delivery whose relay never ran stands for it)
    let world = world(engine).await;
    world
        .api
        .create(&world.admin, "/users", json!({"name": "Eve", "email": format!("eve@{}", world.domain), "role": "agent", "preferences": {"auto_follow": true}}))
        .await;
    let dying = world.api.docket.clone().with_outbox_delivery(docket_domain::outbox::OutboxDelivery::Deferred(None));
    let from = format!("dora@{}", world.domain);
    let raw = world.mail(&from, "Died after commit", "d1@c.test");
    let pipeline = Inbound { docket: &dying, mailer: Some(world.mailer.as_ref() as &dyn Mailer), settings: &world.handler.settings };
    let line = pipeline
        .receive(InboundMail { source_id: "d-src".into(), envelope_to: vec![world.address.clone()], raw: raw.clone(), ..InboundMail::default() })
        .await
        .expect("committed");
    assert_eq!((line.outcome, line.acknowledged), (InboundOutcome::Created, true), "{line:?}");
    world.drain().await;
    assert_eq!(world.acks_to(&from).await, 0, "nothing went out before the crash");
    // WHEN a relay runs after the restart, twice, and the worker works the queue twice
    let relayed = world.api.docket.relay_outbox(100).await.expect("relay");
    assert!(relayed.sent >= 3, "the created and mail notifications and the acknowledgement: {relayed:?}");
    world.drain().await;
    world.api.docket.relay_outbox(100).await.expect("relay again");
    world.drain().await;
    // THEN the acknowledgement and each notification of the mail went out exactly once
    assert_eq!(world.acks_to(&from).await, 1);
    let number = line.case_number.unwrap();
    let stream = world.list(&format!("/cases/{number}/stream")).await;
    let entry = stream.iter().find(|e| e["kind"] == "email_received").unwrap();
    let counts = world.notifications_of(entry["id"].as_str().unwrap()).await;
    assert_eq!(counts.len(), 1, "Eve is told of the mail: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    // AND the message delivered again is a duplicate
    assert_eq!(world.deliver("d-src-2", &raw).await.expect("duplicate").outcome, InboundOutcome::Duplicate);
}

async fn a_crash_before_the_log_line_resumes_into_one_case(engine: Engine) {
    // GIVEN a customer who follows their cases (a portal user), and a process that dies after
    // storing the case and before logging the message
    let world = world(engine).await;
    let from = format!("carol@{}", world.domain);
    world.api.portal_contact("Carol", &from, None, json!({"role": "own_cases"})).await;
    // AND an agent who follows every new case, and so is told of the mail
    world
        .api
        .create(&world.admin, "/users", json!({"name": "Dan", "email": format!("dan@{}", world.domain), "role": "agent", "preferences": {"auto_follow": true}}))
        .await;
    world.store.crash_before_log.store(true, Ordering::SeqCst);
    let raw = world.mail(&from, "Crash", "k1@c.test");
    let first = world.deliver("k-src", &raw).await;
    assert!(first.is_err(), "{first:?}");
    // WHEN the delivery is retried
    let second = world.deliver("k-src", &raw).await.expect("the retry succeeds");
    world.drain().await;
    // THEN one case with one mail entry, one log line, one acknowledgement, and each
    // notification of the mail sent once
    assert_eq!(second.outcome, InboundOutcome::Created, "{second:?}");
    assert_eq!(world.cases_with("Crash").await, 1);
    assert_eq!(world.log_lines_of("k1@c.test").await.len(), 1);
    assert_eq!(world.acks_to(&from).await, 1);
    let number = second.case_number.unwrap();
    assert_eq!(world.email_entries(number).await, 1);
    let stream = world.list(&format!("/cases/{number}/stream")).await;
    let entry = stream.iter().find(|e| e["kind"] == "email_received").unwrap();
    let counts = world.notifications_of(entry["id"].as_str().unwrap()).await;
    assert_eq!(counts.len(), 1, "Dan is told of the mail: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

async fn a_queue_outage_loses_no_notification(engine: Engine) {
    // GIVEN a case the admin follows
    let world = world(engine).await;
    let case = world.api.create(&world.admin, "/cases", json!({"subject": "Outage"})).await;
    let number = case["number"].as_u64().unwrap();
    world.drain().await;
    let (agent, agent_token) = {
        let agent = world.api.create(&world.admin, "/users", json!({"name": "Bob", "email": format!("bob@{}", world.domain), "role": "agent"})).await;
        let token = world.api.token(agent["id"].as_str().unwrap());
        (agent, token)
    };
    // WHEN the queue goes down mid-way through three posts
    let first = world.api.create(&agent_token, &format!("/cases/{number}/stream"), json!({"body": "before the outage"})).await;
    world.queue.accept(0);
    let during: Vec<Value> = post_all(&world, &agent_token, number, &["during the outage 1", "during the outage 2"]).await;
    // THEN the posts succeed and nothing is lost: once the queue is back and the relay runs,
    // every notification goes out exactly once, even if the relay runs twice
    world.queue.accept(usize::MAX);
    let relayed = world.api.docket.relay_outbox(100).await.expect("relay");
    assert_eq!(relayed.sent, 2, "{relayed:?}");
    assert_eq!(world.api.docket.relay_outbox(100).await.expect("relay again").sent, 0);
    world.drain().await;
    let admin_email = world.api.admin.email.clone();
    for post in std::iter::once(&first).chain(during.iter()) {
        let counts = world.notifications_of(post["id"].as_str().unwrap()).await;
        assert_eq!(counts.len(), 1, "the admin is told of {}: {counts:?}", post["body"]);
        assert!(counts.values().all(|n| *n == 1), "{counts:?}");
        assert!(world.sent.messages_with(&admin_email).iter().any(|raw| raw.contains(post["body"].as_str().unwrap())));
    }
    let _ = agent;
}

async fn concurrent_messages_from_a_new_sender_share_one_contact_and_never_a_number(engine: Engine) {
    // GIVEN four messages from one unknown sender, delivered at the same time (each message
    // commits its contact, case number and case in one transaction, so they race)
    let world = world(engine).await;
    let from = format!("fay@{}", world.domain);
    let raws: Vec<Vec<u8>> = (0..4).map(|i| world.mail(&from, &format!("Race {i}"), &format!("race{i}@c.test"))).collect();
    let (a, b, c, d) = tokio::join!(
        world.deliver("race-0", &raws[0]),
        world.deliver("race-1", &raws[1]),
        world.deliver("race-2", &raws[2]),
        world.deliver("race-3", &raws[3]),
    );
    // THEN each opened its own case under its own number, all for one new contact
    let lines = [a, b, c, d].map(|line| line.expect("each message is taken"));
    assert!(lines.iter().all(|l| l.outcome == InboundOutcome::Created), "{lines:?}");
    let mut numbers: Vec<u64> = lines.iter().map(|l| l.case_number.unwrap()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 4, "{numbers:?}");
    let contacts = world.list("/contacts?limit=100").await;
    let fays: Vec<&Value> = contacts.iter().filter(|c| c["emails"].as_array().is_some_and(|e| e.iter().any(|e| e == &json!(from)))).collect();
    assert_eq!(fays.len(), 1, "{contacts:?}");
    for number in numbers {
        let case = world.api.call(Method::GET, &format!("/cases/{number}"), Some(&world.admin), None).await;
        assert_eq!(case.body["contact_ids"], json!([fays[0]["id"]]), "{}", case.body);
    }
}

async fn sixteen_messages_at_once_each_open_a_case_without_racing(engine: Engine) {
    // GIVEN sixteen messages from sixteen new senders, delivered at the same time (as from that
    // many SMTP sessions, or SES invoking the function that often at once)
    let world = world(engine).await;
    let raws: Vec<(String, Vec<u8>)> = (0..16)
        .map(|i| (format!("crowd-{i}"), world.mail(&format!("sender{i}@{}", world.domain), &format!("Crowd {i}"), &format!("crowd{i}@c.test"))))
        .collect();
    let lines = futures_util::future::join_all(raws.iter().map(|(source, raw)| world.deliver(source, raw))).await;
    // THEN every one opened its own case (none gave up racing the others over the case number)
    let lines: Vec<InboundLogEntry> = lines.into_iter().map(|line| line.expect("each message is taken")).collect();
    assert!(lines.iter().all(|l| l.outcome == InboundOutcome::Created), "{lines:?}");
    let mut numbers: Vec<u64> = lines.iter().map(|l| l.case_number.expect("numbered")).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 16, "{numbers:?}");
}

async fn post_all(world: &World, token: &str, number: u64, bodies: &[&str]) -> Vec<Value> {
    let mut posts = Vec::new();
    for body in bodies {
        posts.push(world.api.create(token, &format!("/cases/{number}/stream"), json!({"body": body})).await);
    }
    posts
}
