//! The case stream, follows and notifications end to end on both engines: posts through the
//! API, the notify queue (SQLite table / SQS), the notify handler, and real sent mail read back
//! (outbox folder / SES on the emulator).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::Method;
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, SentMail, TEST_MAIL_FROM, TestApi, on_both_engines};
use docket_mail::compose::Address;
use docket_notify::NotifyHandler;
use docket_ports::Queue;
use serde_json::{Value, json};

on_both_engines!(
    visibility_matrix_holds_for_reads_and_sent_mail,
    a_redelivered_message_sends_each_email_once,
    a_copy_that_fails_is_retried_alone,
    a_batch_reports_only_its_poison_message,
    the_notify_handler_answers_the_sample_events,
    making_a_case_internal_unfollows_its_portal_users,
    attachments_follow_the_visibility_of_their_entry,
);

struct World {
    api: TestApi,
    queue: Arc<dyn Queue>,
    handler: NotifyHandler,
    sent: SentMail,
}

fn settings() -> MailSettings {
    MailSettings {
        from: Address { name: Some("Docket Support".into()), email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    }
}

async fn world(engine: Engine, max_receives: u32) -> World {
    let queue = docket_e2e::queue(engine, max_receives).await;
    let blobs = docket_e2e::blobs(engine).await;
    let docket = docket_e2e::docket(engine).await.with_notify_queue(queue.clone()).with_blobs(blobs);
    let (mailer, sent) = docket_e2e::mailer(engine).await;
    let handler = NotifyHandler { docket: docket.clone(), mailer, settings: settings() };
    World { api: TestApi::with_docket(docket).await, queue, handler, sent }
}

impl World {
    /// Works the queue until it is empty, as the notify function would; returns the deliveries.
    async fn drain(&self) -> usize {
        docket_e2e::work_notify_queue(self.queue.as_ref(), &self.handler).await
    }

    /// Addresses that received mail about one entry.
    async fn recipients_of(&self, entry_id: &str) -> Vec<String> {
        let marker = format!("<{}.", entry_id.to_lowercase());
        let mut to: Vec<String> = self
            .sent
            .messages_with(&marker)
            .await
            .iter()
            .filter_map(|raw| raw.lines().find(|l| l.starts_with("To:")).map(str::to_owned))
            .filter_map(|line| line.split(['<', '>']).nth(1).map(str::to_owned))
            .collect();
        to.sort();
        to
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn create(api: &TestApi, token: &str, path: &str, body: Value) -> Value {
    let reply = api.call(Method::POST, path, Some(token), Some(body)).await;
    assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.body);
    reply.body
}

/// A case for a portal customer (P) and a mail-only customer (C), followed by an agent (B).
struct Cast {
    admin: String,
    agent_token: String,
    portal_token: String,
    case_path: String,
    case_id: String,
    agent_email: String,
    portal_email: String,
    customer_email: String,
}

async fn cast(world: &World) -> Cast {
    let api = &world.api;
    let admin = api.admin_token();
    let agent = create(api, &admin, "/users", json!({"name": "Bea Agent", "email": "bea@agents.test", "role": "agent"})).await;
    let portal = create(api, &admin, "/contacts", json!({"name": "Pat Portal", "emails": ["pat@customer.test"], "portal": {"role": "own_cases"}})).await;
    let customer = create(api, &admin, "/contacts", json!({"name": "Cy Mailonly", "emails": ["cy@customer.test"]})).await;
    let case = create(api, &admin, "/cases", json!({"subject": "Matrix", "contact_ids": [id(&portal), id(&customer)]})).await;
    let case_path = format!("/cases/{}", id(&case));
    let followed = api.call(Method::PUT, &format!("{case_path}/followers/{}", id(&agent)), Some(&admin), None).await;
    assert_eq!(followed.status, 200, "{}", followed.body);
    Cast {
        agent_token: api.token(&id(&agent)),
        portal_token: api.token(&id(&portal)),
        admin,
        case_path,
        case_id: id(&case),
        agent_email: "bea@agents.test".into(),
        portal_email: "pat@customer.test".into(),
        customer_email: "cy@customer.test".into(),
    }
}

async fn visibility_matrix_holds_for_reads_and_sent_mail(engine: Engine) {
    // GIVEN an admin's case for a portal customer and a mail-only customer, followed by an agent
    let world = world(engine, 5).await;
    let api = &world.api;
    let cast = cast(&world).await;
    let stream = format!("{}/stream", cast.case_path);
    // WHEN the admin posts internally, publicly, publicly with "email the customer", the
    // customer answers in the portal and the agent posts internally
    let internal = create(api, &cast.admin, &stream, json!({"body": "internal: check fraud", "internal": true})).await;
    let public = create(api, &cast.admin, &stream, json!({"body": "We are on it"})).await;
    let emailed = create(api, &cast.admin, &stream, json!({"body": "Fixed, please confirm", "email_customer": true})).await;
    let customer = create(api, &cast.portal_token, &stream, json!({"body": "Confirmed, thanks"})).await;
    let agent_note = create(api, &cast.agent_token, &stream, json!({"body": "closing soon", "internal": true})).await;
    world.drain().await;
    // THEN each entry reached exactly those who may see it, never its author
    let admin_email = api.admin.email.to_string();
    assert_eq!(world.recipients_of(&id(&internal)).await, vec![cast.agent_email.clone()]);
    let mut expected = vec![cast.agent_email.clone(), cast.portal_email.clone()];
    expected.sort();
    assert_eq!(world.recipients_of(&id(&public)).await, expected);
    let mut expected = vec![cast.agent_email.clone(), cast.customer_email.clone(), cast.portal_email.clone()];
    expected.sort();
    assert_eq!(world.recipients_of(&id(&emailed)).await, expected);
    let mut expected = vec![admin_email.clone(), cast.agent_email.clone()];
    expected.sort();
    assert_eq!(world.recipients_of(&id(&customer)).await, expected);
    assert_eq!(world.recipients_of(&id(&agent_note)).await, vec![admin_email]);
    // AND the mail threads: case number in the subject, reply token in Reply-To, references
    let mail = world.sent.messages_with(&format!("<{}.", id(&public).to_lowercase())).await;
    let first = &mail[0];
    assert!(first.contains("Subject: [#1] Matrix"), "{first}");
    assert!(first.contains("Auto-Submitted: auto-generated"), "{first}");
    assert!(first.lines().any(|l| l.starts_with("Reply-To:") && l.contains("support+")), "{first}");
    assert!(first.contains(&format!("<case-{}@docket.test>", cast.case_id.to_lowercase())), "{first}");
    // AND the portal customer's stream view has no internal entries, the agent's has all
    let portal_view = api.call(Method::GET, &stream, Some(&cast.portal_token), None).await;
    let bodies: Vec<&str> = portal_view.body["items"].as_array().unwrap().iter().filter_map(|e| e["body"].as_str()).filter(|b| !b.is_empty()).collect();
    assert_eq!(bodies, vec!["Confirmed, thanks", "Fixed, please confirm", "We are on it"]);
    let agent_view = api.call(Method::GET, &stream, Some(&cast.agent_token), None).await;
    let bodies: Vec<&str> = agent_view.body["items"].as_array().unwrap().iter().filter_map(|e| e["body"].as_str()).filter(|b| !b.is_empty()).collect();
    assert_eq!(bodies, vec!["closing soon", "Confirmed, thanks", "Fixed, please confirm", "We are on it", "internal: check fraud"]);
    // AND portal users cannot post internally nor ask for customer mail
    api.call(Method::POST, &stream, Some(&cast.portal_token), Some(json!({"body": "x", "internal": true}))).await.assert_problem(422, Some("internal"));
}

async fn a_redelivered_message_sends_each_email_once(engine: Engine) {
    // GIVEN a public post announced on the queue
    let world = world(engine, 5).await;
    let cast = cast(&world).await;
    world.drain().await;
    let post = create(&world.api, &cast.admin, &format!("{}/stream", cast.case_path), json!({"body": "once only"})).await;
    let delivery = world.queue.receive(10, std::time::Duration::from_secs(30)).await.expect("receive").pop().expect("a message");
    // WHEN the same message is handled twice (a redelivery)
    let notifier = docket_domain::notify::Notifier { docket: &world.handler.docket, mailer: world.handler.mailer.as_ref(), settings: &world.handler.settings };
    let first = notifier.handle(&delivery.body).await.expect("first");
    let second = notifier.handle(&delivery.body).await.expect("second");
    // THEN the second sends nothing and each recipient got one email
    assert_eq!(first.sent, 2);
    assert_eq!((second.sent, second.already_sent), (0, 2));
    assert_eq!(world.recipients_of(&id(&post)).await.len(), 2);
}

/// A mailer that cannot reach one address (transiently) until it is healed.
struct DownFor {
    inner: Arc<dyn docket_ports::Mailer>,
    address: String,
    healed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl docket_ports::Mailer for DownFor {
    async fn send(&self, mail: docket_ports::OutboundMail) -> Result<String, docket_ports::PortError> {
        if !self.healed.load(std::sync::atomic::Ordering::SeqCst) && mail.to.iter().any(|to| to == &self.address) {
            return Err(docket_ports::PortError::Transient(format!("{} is unreachable", self.address)));
        }
        self.inner.send(mail).await
    }
}

async fn a_copy_that_fails_is_retried_alone(engine: Engine) {
    // GIVEN a public post to two followers, announced on the queue, and a mailer that cannot
    // reach one of them yet
    let world = world(engine, 5).await;
    let cast = cast(&world).await;
    world.drain().await;
    let post = create(&world.api, &cast.admin, &format!("{}/stream", cast.case_path), json!({"body": "to both"})).await;
    let delivery = world.queue.receive(10, std::time::Duration::from_secs(30)).await.expect("receive").pop().expect("a message");
    let mailer = DownFor { inner: world.handler.mailer.clone(), address: cast.agent_email.clone(), healed: false.into() };
    let notifier = docket_domain::notify::Notifier { docket: &world.handler.docket, mailer: &mailer, settings: &world.handler.settings };
    // WHEN the message is handled: one copy fails, the other goes out
    let failed = notifier.handle(&delivery.body).await;
    assert!(matches!(failed, Err(docket_domain::notify::NotifyError::Retry(_))), "{failed:?}");
    assert_eq!(world.recipients_of(&id(&post)).await, vec![cast.portal_email.clone()]);
    // THEN the redelivery sends only the failed copy
    mailer.healed.store(true, std::sync::atomic::Ordering::SeqCst);
    let retried = notifier.handle(&delivery.body).await.expect("retried");
    assert_eq!((retried.sent, retried.already_sent), (1, 1));
    assert_eq!(world.recipients_of(&id(&post)).await, vec![cast.agent_email.clone(), cast.portal_email.clone()]);
}

fn sqs_message(message_id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.to_owned());
    message.body = Some(body.to_owned());
    message
}

async fn a_batch_reports_only_its_poison_message(engine: Engine) {
    // GIVEN two real announcements and one poison message on the engine's queue
    let world = world(engine, 2).await;
    let cast = cast(&world).await;
    world.drain().await;
    let stream = format!("{}/stream", cast.case_path);
    create(&world.api, &cast.admin, &stream, json!({"body": "one"})).await;
    create(&world.api, &cast.admin, &stream, json!({"body": "two"})).await;
    let poison_id = world.queue.send(r#"{"not":"a notify message"}"#).await.expect("send poison");
    let mut deliveries = Vec::new();
    for _ in 0..5 {
        deliveries.extend(world.queue.receive(10, std::time::Duration::from_secs(1)).await.expect("receive"));
        if deliveries.len() == 3 {
            break;
        }
    }
    assert_eq!(deliveries.len(), 3);
    // WHEN they are handled as one SQS batch
    let mut event = SqsEvent::default();
    event.records = deliveries.iter().map(|d| sqs_message(&d.message_id, &d.body)).collect();
    let response = world.handler.handle_batch(event).await;
    // THEN only the poison message is reported as failed
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec![poison_id.as_str()]);
    for d in deliveries.iter().filter(|d| d.message_id != poison_id) {
        world.queue.ack(&d.receipt).await.expect("ack");
    }
    // AND after its last allowed delivery fails too, it is a dead letter, not retried forever
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let again = world.queue.receive(10, std::time::Duration::from_secs(1)).await.expect("receive");
    assert_eq!(again.iter().map(|d| d.message_id.as_str()).collect::<Vec<_>>(), vec![poison_id.as_str()]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(world.queue.receive(10, std::time::Duration::from_secs(1)).await.expect("receive").is_empty());
    let dead = world.queue.dead_letters().await.expect("dead letters");
    assert_eq!(dead, vec![r#"{"not":"a notify message"}"#.to_owned()]);
}

async fn the_notify_handler_answers_the_sample_events(engine: Engine) {
    // GIVEN a stored entry and the SQS samples of events/ pointing at it
    let world = world(engine, 5).await;
    let cast = cast(&world).await;
    world.drain().await;
    let post = create(&world.api, &cast.admin, &format!("{}/stream", cast.case_path), json!({"body": "sampled"})).await;
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    for (file, poison) in [("sqs-notify-single.json", 0), ("sqs-notify-batch.json", 1)] {
        let raw = std::fs::read_to_string(events.join(file)).expect("sample").replace("CASE_ID", &cast.case_id).replace("ENTRY_ID", &id(&post));
        let event: SqsEvent = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
        // WHEN the handler takes it THEN only the poison records fail
        let response = world.handler.handle_batch(event).await;
        assert_eq!(response.batch_item_failures.len(), poison, "{file}");
    }
    // AND however often the entry was delivered, each follower got it once
    assert_eq!(world.recipients_of(&id(&post)).await.len(), 2);
}

async fn making_a_case_internal_unfollows_its_portal_users(engine: Engine) {
    // GIVEN a case its portal customer follows automatically
    let world = world(engine, 5).await;
    let cast = cast(&world).await;
    let followers = world.api.call(Method::GET, &format!("{}/followers", cast.case_path), Some(&cast.admin), None).await;
    let kinds: Vec<&str> = followers.body["items"].as_array().unwrap().iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"contact"), "{}", followers.body);
    // WHEN the case is made internal
    let updated =
        world.api.send(Method::PATCH, &cast.case_path, Some(&cast.admin), &[("if-match", "\"1\"")], Some(json!({"internal": true}).to_string())).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    // THEN no contact follows it any more, and the portal user's follow list is empty
    let followers = world.api.call(Method::GET, &format!("{}/followers", cast.case_path), Some(&cast.admin), None).await;
    assert!(followers.body["items"].as_array().unwrap().iter().all(|f| f["kind"] == "user"), "{}", followers.body);
    let mine = world.api.call(Method::GET, "/me/follows", Some(&cast.portal_token), None).await;
    assert_eq!(mine.body["items"], json!([]));
    // AND the agent can follow and unfollow by themselves
    let me = world.api.call(Method::DELETE, &format!("{}/followers/me", cast.case_path), Some(&cast.agent_token), None).await;
    assert_eq!(me.status, 204);
    let mine = world.api.call(Method::GET, "/me/follows", Some(&cast.agent_token), None).await;
    assert_eq!(mine.body["items"], json!([]));
}

async fn attachments_follow_the_visibility_of_their_entry(engine: Engine) {
    // GIVEN an agent upload posted internally and one posted publicly
    let world = world(engine, 5).await;
    let api = &world.api;
    let cast = cast(&world).await;
    let admin = cast.admin.clone();
    let upload = |name: &'static str, bytes: &'static str| {
        let path = format!("{}/attachments?name={name}", cast.case_path);
        let admin = admin.clone();
        async move { api.send(Method::POST, &path, Some(&admin), &[("content-type", "text/plain")], Some(bytes.into())).await }
    };
    let secret = upload("secret.txt", "internal bytes").await;
    assert_eq!(secret.status, 201, "{}", secret.body);
    let open = upload("open.txt", "public bytes").await;
    let stream = format!("{}/stream", cast.case_path);
    create(api, &cast.admin, &stream, json!({"body": "see file", "internal": true, "attachment_ids": [id(&secret.body)]})).await;
    create(api, &cast.admin, &stream, json!({"body": "see file", "attachment_ids": [id(&open.body)]})).await;
    // THEN staff read both, the portal user only the public one
    let path = |a: &Value| format!("{}/attachments/{}", cast.case_path, id(a));
    let read = api.call(Method::GET, &path(&secret.body), Some(&cast.agent_token), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, Value::String("internal bytes".into()));
    assert_eq!(read.headers["x-content-type-options"], "nosniff");
    api.call(Method::GET, &path(&secret.body), Some(&cast.portal_token), None).await.assert_problem(404, None);
    let public = api.call(Method::GET, &path(&open.body), Some(&cast.portal_token), None).await;
    assert_eq!(public.status, 200);
    // AND an attachment cannot be posted twice
    api.call(Method::POST, &stream, Some(&cast.admin), Some(json!({"body": "again", "attachment_ids": [id(&open.body)]})))
        .await
        .assert_problem(422, Some("attachment_ids"));
}
