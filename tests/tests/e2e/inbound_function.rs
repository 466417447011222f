//! The inbound-email function on every `events/ses-*.json` and `events/s3-*.json`: the raw
//! message is an object in the inbound bucket (S3 on the emulator / a folder), the event names it
//! (SES: by its message id, with the envelope recipients; S3: by its key), the case lands in the
//! store, and a second delivery of the same event, or of the same message by the other path,
//! changes nothing.

use std::sync::Arc;

use axum::http::Method;
use docket_domain::inbound::{InboundLogEntry, InboundOutcome};
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, TEST_MAIL_FROM, TestApi, on_both_engines};
use docket_inbound_email::{InboundEvent, InboundHandler};
use docket_mail::compose::Address;
use docket_ports::BlobStore;
use serde_json::{Value, json};

on_both_engines!(the_function_handles_every_sample_event_once, bcc_mail_reaches_the_mailbox_through_the_envelope);

const MAILBOX: &str = "support@acme.test";
/// The inbound bucket's name, as the function is configured with it and S3 events name it.
const BUCKET: &str = "inbound-bucket";
const PREFIX: &str = "inbound/";

/// A message whose To header names the mailbox (what S3 events, without envelope, rely on).
fn raw_message(n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}@customer.test>\r\nTo: {MAILBOX}\r\nSubject: From S3 {n}\r\nMessage-ID: <s3-{n}-{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nStored by SES.\r\n",
        ulid::Ulid::new()
    )
    .into_bytes()
}

/// A message whose headers name no group mailbox: the mailbox was a Bcc recipient (SES, like any
/// MTA, keeps Bcc out of the stored message), only the envelope names it.
fn bcc_message(n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}@customer.test>\r\nTo: Bob Colleague <bob@customer.test>\r\nSubject: Bcc {n}\r\nMessage-ID: <bcc-{n}-{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe help desk is in Bcc.\r\n",
        ulid::Ulid::new()
    )
    .into_bytes()
}

struct Fixture {
    api: TestApi,
    admin: String,
    mailbox_id: String,
    inbound_bucket: Arc<dyn BlobStore>,
    handler: InboundHandler,
}

impl Fixture {
    /// The function over a store with a group mailbox, and an inbound bucket.
    async fn new(engine: Engine) -> Self {
        let docket = docket_e2e::docket(engine).await.with_blobs(docket_e2e::blobs(engine).await);
        let inbound_bucket = docket_e2e::blobs(engine).await;
        let (mailer, _) = docket_e2e::mailer(engine).await;
        let api = TestApi::with_docket(docket.clone()).await;
        let admin = api.admin_token();
        let mailbox = api.call(Method::POST, "/mailboxes", Some(&admin), Some(json!({"name": "Support", "addresses": [MAILBOX], "auto_ack": true}))).await;
        assert_eq!(mailbox.status, 201, "{}", mailbox.body);
        let handler = InboundHandler {
            docket,
            raw_messages: inbound_bucket.clone(),
            raw_bucket: BUCKET.into(),
            raw_prefix: PREFIX.into(),
            mailer: Arc::clone(&mailer),
            settings: MailSettings {
                from: Address { name: None, email: TEST_MAIL_FROM.into() },
                reply_to: TEST_MAIL_FROM.into(),
                message_id_domain: "docket.test".into(),
                provider_message_id_domain: None,
                public_url: None,
            },
        };
        Self { mailbox_id: mailbox.body["id"].as_str().unwrap().to_owned(), api, admin, inbound_bucket, handler }
    }

    /// Stores `raw` as SES would and returns the SES message id (the key after the prefix).
    async fn store(&self, raw: Vec<u8>) -> String {
        let id = ulid::Ulid::new().to_string().to_lowercase();
        self.inbound_bucket.put(&format!("{PREFIX}{id}"), "message/rfc822", raw).await.unwrap();
        id
    }

    async fn count(&self, path: &str) -> usize {
        self.api.call(Method::GET, path, Some(&self.admin), None).await.body["items"].as_array().unwrap().len()
    }

    async fn handle(&self, event: &Value) -> Vec<InboundLogEntry> {
        let event = InboundEvent::from_json(event.clone()).unwrap_or_else(|e| panic!("{e}: {event}"));
        self.handler.handle_event(event).await.unwrap_or_else(|e| panic!("{e}"))
    }
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The S3 event of `s3-inbound-new-message.json` for the object of SES message `id`.
fn s3_event(id: &str) -> Value {
    serde_json::from_str(&sample("s3-inbound-new-message.json").replace("BUCKET_NAME", BUCKET).replace("KEY_NAME", id)).unwrap()
}

async fn the_function_handles_every_sample_event_once(engine: Engine) {
    // GIVEN the function over a store with a group mailbox, and an inbound bucket
    let f = Fixture::new(engine).await;
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&events)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| (n.starts_with("s3-") || n.starts_with("ses-")) && n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.iter().any(|n| n.starts_with("s3-")), "no events/s3-*.json samples");
    assert!(files.iter().any(|n| n.starts_with("ses-")), "no events/ses-*.json samples");
    let mut created = 0;
    for (i, file) in files.iter().enumerate() {
        // AND the objects the sample names are in the bucket: for an SES event, a message whose
        // headers name no mailbox (its envelope recipients do); for an S3 event, one whose To does
        let mut raw = sample(file).replace("BUCKET_NAME", BUCKET).replace("RECIPIENT", MAILBOX);
        for (j, placeholder) in ["MESSAGE_ID", "KEY_NAME", "KEY_ONE", "KEY_TWO"].iter().enumerate() {
            if raw.contains(placeholder) {
                let message = if file.starts_with("ses-") { bcc_message(i * 10 + j) } else { raw_message(i * 10 + j) };
                raw = raw.replace(placeholder, &f.store(message).await);
            }
        }
        let event: Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
        let records = event["Records"].as_array().unwrap().len();
        // WHEN the function takes the event, twice (SES and S3 invoke asynchronously: at least once)
        let first = f.handle(&event).await;
        let cases_before = f.count("/cases").await;
        let log_before = f.count("/inbound-log").await;
        let second = f.handle(&event).await;
        // THEN each record opened a case in the mailbox, and the second delivery changed nothing
        assert_eq!(first.len(), records, "{file}");
        assert!(first.iter().all(|e| e.outcome == InboundOutcome::Created && e.acknowledged), "{file}: {first:?}");
        assert!(first.iter().all(|e| e.mailbox_id.as_deref() == Some(f.mailbox_id.as_str())), "{file}: {first:?}");
        assert_eq!(first, second, "{file}");
        assert_eq!(f.count("/cases").await, cases_before);
        assert_eq!(f.count("/inbound-log").await, log_before);
        created += records;
    }
    assert_eq!(f.count("/cases").await, created);
}

async fn bcc_mail_reaches_the_mailbox_through_the_envelope(engine: Engine) {
    // GIVEN the function over a store with a group mailbox
    let f = Fixture::new(engine).await;

    // AND a message that names the mailbox nowhere in its headers, stored by SES
    let id = f.store(bcc_message(1)).await;
    // WHEN SES invokes the function with the envelope recipients: an address of another domain
    // first (no group mailbox there), then the mailbox
    let mut event: Value = serde_json::from_str(&sample("ses-inbound-bcc.json").replace("MESSAGE_ID", &id).replace("RECIPIENT", MAILBOX)).unwrap();
    event["Records"][0]["ses"]["receipt"]["recipients"] = json!(["partner@elsewhere.test", MAILBOX]);
    let first = f.handle(&event).await;
    // THEN the message opened a case in that mailbox, named by its object
    assert_eq!(first.len(), 1);
    let entry = &first[0];
    assert_eq!(entry.outcome, InboundOutcome::Created, "{entry:?}");
    assert_eq!(entry.mailbox_id.as_deref(), Some(f.mailbox_id.as_str()));
    assert_eq!(entry.source_id, format!("s3://{BUCKET}/{PREFIX}{id}"));
    let case = f.api.call(Method::GET, &format!("/cases/{}", entry.case_number.unwrap()), Some(&f.admin), None).await;
    assert_eq!(case.status, 200, "{}", case.body);
    assert_eq!(case.body["subject"], "Bcc 1");
    assert_eq!(case.body["mailbox_id"], f.mailbox_id.as_str());
    let (cases, log) = (f.count("/cases").await, f.count("/inbound-log").await);

    // WHEN SES delivers the same event again, and S3 announces the same object (no envelope)
    let again = f.handle(&event).await;
    let by_s3 = f.handle(&s3_event(&id)).await;
    // THEN both answer with the first outcome and change nothing
    assert_eq!(again, first);
    assert_eq!(by_s3, first);
    assert_eq!(f.count("/cases").await, cases);
    assert_eq!(f.count("/inbound-log").await, log);

    // AND without the envelope (an S3 event only) such a message finds no mailbox in its headers
    let other = f.store(bcc_message(2)).await;
    let headers_only = f.handle(&s3_event(&other)).await;
    assert_eq!(headers_only.len(), 1);
    assert_eq!(headers_only[0].outcome, InboundOutcome::Rejected, "{headers_only:?}");
    assert!(headers_only[0].reason.contains("no group mailbox"), "{}", headers_only[0].reason);
    assert_eq!(f.count("/cases").await, cases);
}
