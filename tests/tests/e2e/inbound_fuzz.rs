//! Hostile email is normal input: arbitrary bytes and mangled messages go through the whole
//! email-to-case pipeline without a panic, and every one of them gets an outcome in the log.

use docket_domain::directory::MailboxFields;
use std::sync::Arc;

use docket_domain::inbound::{Inbound, InboundMail};
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, TEST_MAIL_FROM};
use docket_mail::compose::Address;
use proptest::prelude::*;

const MAILBOX: &str = "support@fuzz.test";

fn mangled_messages() -> impl Strategy<Value = Vec<u8>> {
    let seed = format!(
        "From: Fuzz <fuzz@customer.test>\r\nTo: {MAILBOX}\r\nSubject: =?utf-8?B?SGVsbG8=?= [#1]\r\nMessage-ID: <seed@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n"
    )
    .into_bytes();
    let len = seed.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        (proptest::collection::vec((0..len, any::<u8>()), 1..40)).prop_map(move |edits| {
            let mut bytes = seed.clone();
            for (at, byte) in edits {
                bytes[at] = byte;
            }
            bytes
        }),
        (0..len).prop_map({
            let seed = format!("From: a@customer.test\r\nTo: {MAILBOX}\r\nSubject: cut\r\n\r\nbody").into_bytes();
            move |cut| seed[..cut.min(seed.len())].to_vec()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_get_an_outcome_and_nothing_panics(raw in mangled_messages()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            // GIVEN a mailbox on a fresh store
            let blobs = docket_e2e::blobs(Engine::Sqlite).await;
            let docket = docket_e2e::docket(Engine::Sqlite).await.with_blobs(blobs);
            let admin = docket.create_user_unchecked("A", "a@fuzz.test", docket_domain::model::Role::Admin).await.unwrap();
            let principal = docket_domain::Principal::Staff(admin);
            docket.directory_service().create::<docket_domain::model::Mailbox>(&principal, MailboxFields { name: "Fuzz".into(), addresses: vec![MAILBOX.into()], auto_ack: true, ..Default::default() }).await.unwrap();
            let (mailer, _) = docket_e2e::mailer(Engine::Sqlite).await;
            let settings = MailSettings { from: Address { name: None, email: TEST_MAIL_FROM.into() }, reply_to: TEST_MAIL_FROM.into(), message_id_domain: "docket.test".into(), provider_message_id_domain: None, public_url: None };
            let pipeline = Inbound { docket: &docket, mailer: Some(Arc::as_ref(&mailer)), settings: &settings };
            // WHEN the bytes arrive as a message
            let entry = pipeline.receive(InboundMail { source_id: "fuzz".into(), envelope_to: vec![MAILBOX.into()], raw, received_by_ses: true, trusted_sender: false }).await.expect("an outcome, not an error");
            // THEN the outcome is in the inbound log
            let (log, _) = docket.inbound_log(&principal, Default::default(), 10, None).await.unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(log[0], entry);
            assert!(!entry.reason.is_empty());
        });
    }
}
