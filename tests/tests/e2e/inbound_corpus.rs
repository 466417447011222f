//! Every message of the corpus (`tests/corpus/*.eml`, real-world shapes written for this
//! project) through the whole email-to-case pipeline, with its asserted outcome.

use docket_domain::directory::MailboxFields;
use std::sync::Arc;

use docket_domain::inbound::{Inbound, InboundMail, InboundOutcome};
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, TEST_MAIL_FROM};
use docket_mail::compose::Address;

const MAILBOX: &str = "support@acme.test";

/// The outcome each corpus message must get, in file order, delivered to a mailbox that
/// acknowledges, and whether it was acknowledged. Automatic mail (auto-replies, list mail, DSNs,
/// read receipts) opens nothing; SES's spam verdict drops, its virus verdict quarantines; a
/// forged verdict below the receipt or without one is not trusted; broken MIME still opens a
/// case; bytes that are no mail are rejected; the ticket trick (a stranger quoting `[#1]`,
/// which exists by then) opens a case of its own.
const EXPECTED: &[(&str, InboundOutcome, bool)] = &[
    ("apple-mail-inline-image.eml", InboundOutcome::Created, true),
    ("auto-generated-monitoring-alert.eml", InboundOutcome::Suppressed, false),
    ("dsn-bounce-failed.eml", InboundOutcome::Suppressed, false),
    ("dsn-delayed-rfc822-headers.eml", InboundOutcome::Suppressed, false),
    ("encoded-subject-b-and-q.eml", InboundOutcome::Created, true),
    ("forged-verdicts-no-receipt.eml", InboundOutcome::Created, true),
    ("forward-as-attachment.eml", InboundOutcome::Created, true),
    ("forward-gmail-fwd.eml", InboundOutcome::Created, true),
    ("forward-outlook-french-tr.eml", InboundOutcome::Created, true),
    ("forward-outlook-fw-wg-tr.eml", InboundOutcome::Created, true),
    ("gb2312-reply.eml", InboundOutcome::Created, true),
    ("gmail-reply.eml", InboundOutcome::Created, true),
    ("header-injection-encoded-b.eml", InboundOutcome::Created, true),
    ("header-injection-q-nul.eml", InboundOutcome::Created, true),
    ("html-only-hostile-markup.eml", InboundOutcome::Created, true),
    ("iphone-reply.eml", InboundOutcome::Created, true),
    ("iso-2022-jp.eml", InboundOutcome::Created, true),
    ("mailing-list.eml", InboundOutcome::Suppressed, false),
    ("malformed-8bit-headers.eml", InboundOutcome::Created, true),
    ("malformed-broken-base64.eml", InboundOutcome::Created, true),
    ("malformed-missing-boundary.eml", InboundOutcome::Created, true),
    ("malformed-unterminated-multipart.eml", InboundOutcome::Created, true),
    ("mdn-read-receipt.eml", InboundOutcome::Suppressed, false),
    ("not-mail-binary.eml", InboundOutcome::Rejected, false),
    ("out-of-office.eml", InboundOutcome::Suppressed, false),
    ("outlook-original-message-winmail.eml", InboundOutcome::Created, true),
    ("outlook-reply-windows-1252.eml", InboundOutcome::Created, true),
    ("ses-received-clean.eml", InboundOutcome::Created, true),
    ("ses-spam-fail-forged-pass-below.eml", InboundOutcome::Junk, false),
    ("ses-virus-fail.eml", InboundOutcome::Quarantined, false),
    ("thunderbird-iso-8859-1.eml", InboundOutcome::Created, true),
    ("ticket-trick-stranger.eml", InboundOutcome::Created, true),
];

#[tokio::test]
async fn every_corpus_message_gets_its_expected_outcome() {
    // GIVEN a mailbox that acknowledges new cases
    let blobs = docket_e2e::blobs(Engine::Sqlite).await;
    let docket = docket_e2e::docket(Engine::Sqlite).await.with_blobs(blobs);
    let admin = docket.create_user_unchecked("A", "a@acme.test", docket_domain::model::Role::Admin).await.unwrap();
    let principal = docket_domain::Principal::Staff(admin);
    docket
        .directory_service()
        .create::<docket_domain::model::Mailbox>(
            &principal,
            MailboxFields { name: "Support".into(), addresses: vec![MAILBOX.into()], auto_ack: true, ..Default::default() },
        )
        .await
        .unwrap();
    let (mailer, _) = docket_e2e::mailer(Engine::Sqlite).await;
    let settings = MailSettings {
        from: Address { name: None, email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    };
    let pipeline = Inbound { docket: &docket, mailer: Some(Arc::as_ref(&mailer)), settings: &settings };
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<String> =
        std::fs::read_dir(&corpus).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.ends_with(".eml")).collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();
    assert_eq!(files, listed, "every corpus file needs an expected outcome here");
    for (file, outcome, acknowledged) in EXPECTED {
        // WHEN it arrives
        let raw = std::fs::read(corpus.join(file)).unwrap();
        let entry = pipeline
            .receive(InboundMail { source_id: format!("corpus:{file}"), envelope_to: vec![MAILBOX.into()], raw, received_by_ses: true, trusted_sender: false })
            .await
            .unwrap();
        // THEN it gets its outcome, with a reason, and an acknowledgement only when expected
        assert_eq!((entry.outcome, entry.acknowledged), (*outcome, *acknowledged), "{file}: {}", entry.reason);
        assert!(!entry.reason.is_empty());
        assert_eq!(entry.case_number.is_some(), *outcome == InboundOutcome::Created, "{file}");
    }
    // AND every stored case subject is one clean line, whatever the headers tried
    let (cases, _) = docket.cases().list(&principal, Default::default(), Default::default(), 100, None).await.unwrap();
    assert_eq!(cases.len(), EXPECTED.iter().filter(|(_, o, _)| *o == InboundOutcome::Created).count());
    assert!(cases.iter().all(|c| !c.subject.chars().any(char::is_control)), "{:?}", cases.iter().map(|c| &c.subject).collect::<Vec<_>>());
}
