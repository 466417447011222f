//! The inbound-email function on every `events/s3-*.json`: the raw message is an object in the
//! inbound bucket (S3 on the emulator / a folder), the event names it, the case lands in the
//! store, and a second delivery of the same event changes nothing.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use axum::http::Method;
use docket_domain::inbound::InboundOutcome;
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, TEST_MAIL_FROM, TestApi, on_both_engines};
use docket_inbound_email::InboundHandler;
use docket_mail::compose::Address;
use serde_json::json;

on_both_engines!(the_function_handles_every_sample_event_once);

const MAILBOX: &str = "support@acme.test";

fn raw_message(n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}@customer.test>\r\nTo: {MAILBOX}\r\nSubject: From S3 {n}\r\nMessage-ID: <s3-{n}-{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nStored by SES.\r\n",
        ulid::Ulid::new()
    )
    .into_bytes()
}

async fn the_function_handles_every_sample_event_once(engine: Engine) {
    // GIVEN the function over a store with a group mailbox, and an inbound bucket
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
        mailer: Arc::clone(&mailer),
        settings: MailSettings { from: Address { name: None, email: TEST_MAIL_FROM.into() }, reply_to: TEST_MAIL_FROM.into(), message_id_domain: "docket.test".into(), provider_message_id_domain: None, public_url: None },
    };
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&events).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with("s3-") && n.ends_with(".json")).collect();
    files.sort();
    assert!(!files.is_empty(), "no events/s3-*.json samples");
    let mut created = 0;
    for (i, file) in files.iter().enumerate() {
        // AND the objects the sample names are in the bucket
        let mut raw = std::fs::read_to_string(events.join(file)).unwrap().replace("BUCKET_NAME", "inbound-bucket");
        for (j, placeholder) in ["KEY_NAME", "KEY_ONE", "KEY_TWO"].iter().enumerate() {
            let key = format!("msg-{i}-{j}-{}", ulid::Ulid::new().to_string().to_lowercase());
            if raw.contains(placeholder) {
                inbound_bucket.put(&format!("inbound/{key}"), "message/rfc822", raw_message(i * 10 + j)).await.unwrap();
                raw = raw.replace(placeholder, &key);
            }
        }
        let event: S3Event = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
        let records = event.records.len();
        // WHEN the function takes the event, twice (S3 delivers at least once)
        let first = handler.handle_event(event.clone()).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        let cases_before = api.call(Method::GET, "/cases", Some(&admin), None).await.body["items"].as_array().unwrap().len();
        let log_before = api.call(Method::GET, "/inbound-log", Some(&admin), None).await.body["items"].as_array().unwrap().len();
        let second = handler.handle_event(event).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        // THEN each record opened a case, and the second delivery changed nothing
        assert_eq!(first.len(), records, "{file}");
        assert!(first.iter().all(|e| e.outcome == InboundOutcome::Created && e.acknowledged), "{file}: {first:?}");
        assert_eq!(first, second, "{file}");
        assert_eq!(api.call(Method::GET, "/cases", Some(&admin), None).await.body["items"].as_array().unwrap().len(), cases_before);
        assert_eq!(api.call(Method::GET, "/inbound-log", Some(&admin), None).await.body["items"].as_array().unwrap().len(), log_before);
        created += records;
    }
    assert_eq!(api.call(Method::GET, "/cases", Some(&admin), None).await.body["items"].as_array().unwrap().len(), created);
}
