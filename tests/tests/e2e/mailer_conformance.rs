//! The conformance suite of the mail port (`docket_ports::Mailer`), run on both adapters: the
//! outbox folder (`sqlite::*`) and SES on the emulator (`dynamo::*`).
//!
//! Each test composes real mail with `docket_mail::compose`, sends it and reads it back where the
//! adapter left it (the `.eml` file named by the returned id, or the emulator's record of the raw
//! message with the returned SES message id), so the suite checks the whole outbound path:
//! what Docket composes is what leaves, and header injection (F32) does not survive it.
//!
//! Each test reads GIVEN / WHEN / THEN.

use docket_e2e::{Engine, SentMail, TEST_MAIL_FROM, mailer};
use docket_mail::{Address, AutoSubmitted, OutgoingMessage, compose, message_id};
use docket_ports::{OutboundMail, PortError};
use mail_parser::MessageParser;
use serde_json::Value;

// -------------------------------------------------------------------------------------------------
// Helpers

/// A recipient no other test uses, so a test's mail is easy to tell apart on the shared emulator.
fn unique_recipient() -> String {
    format!("customer-{}@customer.example", ulid::Ulid::new().to_string().to_lowercase())
}

fn message_to(recipient: &str, subject: &str) -> OutgoingMessage {
    OutgoingMessage {
        from: Address::named("Docket Support", TEST_MAIL_FROM),
        to: vec![Address::named("Ada Lovelace", recipient)],
        reply_to: Some(Address::new("support+reply-token@docket.test")),
        subject: subject.to_owned(),
        text: "Your case was received.\nWe will get back to you.\n".to_owned(),
        html: Some("<p>Your case was received.</p>".to_owned()),
        message_id: message_id(&ulid::Ulid::new().to_string(), "docket.test"),
        in_reply_to: Some("inbound-1@customer.example".to_owned()),
        references: vec!["inbound-1@customer.example".to_owned()],
        auto_submitted: AutoSubmitted::AutoReplied,
        extra_headers: vec![("X-Docket-Case".to_owned(), "42".to_owned())],
    }
}

fn outbound(message: &OutgoingMessage) -> OutboundMail {
    OutboundMail { from: message.from.email.clone(), to: message.to.iter().map(|to| to.email.clone()).collect(), raw: compose(message).expect("composes") }
}

/// The raw message the adapter sent under `id`.
async fn sent_raw(sent: &SentMail, id: &str) -> Vec<u8> {
    match sent {
        SentMail::Outbox(dir) => std::fs::read(dir.join(id)).unwrap_or_else(|e| panic!("outbox file {id}: {e}")),
        SentMail::Ses(endpoint) => {
            // The emulator lists every message sent by every test on the server
            // (scripts/moto_serial.py answers with SES's raw messages alone).
            let messages: Vec<Value> =
                reqwest::get(format!("{endpoint}/docket-test/ses-raw-messages")).await.expect("emulator").json().await.expect("a JSON list of raw messages");
            let message = messages.iter().find(|message| message["id"] == id).unwrap_or_else(|| panic!("the emulator has no message {id}"));
            message["raw_data"].as_str().expect("raw_data").as_bytes().to_vec()
        }
    }
}

/// The header section's lines (before the first empty line), without their CRLF.
fn header_lines(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let section = text.split("\r\n\r\n").next().unwrap_or_default();
    section.split("\r\n").map(str::to_owned).collect()
}

// -------------------------------------------------------------------------------------------------
// Tests

async fn composed_mail_arrives_byte_for_byte_under_the_returned_id(engine: Engine) {
    // GIVEN a composed acknowledgement with a non-ASCII subject
    let (mailer, sent) = mailer(engine).await;
    let recipient = unique_recipient();
    let message = message_to(&recipient, "[#42] Grüße — we received your message");
    let mail = outbound(&message);
    let raw = mail.raw.clone();

    // WHEN it is sent
    let id = mailer.send(mail).await.expect("sent");

    // THEN the provider id is returned and the message left exactly as composed
    assert!(!id.trim().is_empty(), "empty provider id");
    let arrived = sent_raw(&sent, &id).await;
    assert_eq!(String::from_utf8_lossy(&arrived), String::from_utf8_lossy(&raw));
    assert_eq!(arrived, raw, "byte for byte");
    let parsed = MessageParser::default().parse(&arrived).expect("parses");
    assert_eq!(parsed.subject(), Some("[#42] Grüße — we received your message"));
    let to: Vec<_> = parsed.to().expect("To").iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, [recipient.as_str()]);
    assert_eq!(parsed.message_id(), Some(message.message_id.as_str()));
    assert_eq!(parsed.in_reply_to().as_text(), Some("inbound-1@customer.example"));
    assert_eq!(parsed.header("Auto-Submitted").and_then(|v| v.as_text()), Some("auto-replied"));
}

async fn hostile_subject_arrives_as_one_line_without_a_bcc(engine: Engine) {
    // GIVEN a message whose subject tries to add a Bcc recipient
    let (mailer, sent) = mailer(engine).await;
    let recipient = unique_recipient();
    let message = message_to(&recipient, "Hi\r\nBcc: attacker@evil.example");

    // WHEN it is composed and sent
    let id = mailer.send(outbound(&message)).await.expect("sent");

    // THEN it arrives with no Bcc header and one single-line subject
    let arrived = sent_raw(&sent, &id).await;
    let lines = header_lines(&arrived);
    assert!(!lines.iter().any(|line| line.to_ascii_lowercase().starts_with("bcc:")), "a Bcc header arrived: {lines:?}");
    let subject_at: Vec<usize> =
        lines.iter().enumerate().filter(|(_, line)| line.to_ascii_lowercase().starts_with("subject:")).map(|(index, _)| index).collect();
    assert_eq!(subject_at.len(), 1, "one Subject header: {lines:?}");
    assert_eq!(lines[subject_at[0]], "Subject: Hi Bcc: attacker@evil.example");
    assert!(lines.get(subject_at[0] + 1).is_none_or(|next| !next.starts_with([' ', '\t'])), "the subject is not folded onto a second line: {lines:?}");
    let parsed = MessageParser::default().parse(&arrived).expect("parses");
    assert!(parsed.bcc().is_none());
    assert_eq!(parsed.subject(), Some("Hi Bcc: attacker@evil.example"));
    let to: Vec<_> = parsed.to().expect("To").iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, [recipient.as_str()]);
}

async fn each_send_gets_an_id_of_its_own(engine: Engine) {
    // GIVEN two different messages
    let (mailer, sent) = mailer(engine).await;
    let first = outbound(&message_to(&unique_recipient(), "first"));
    let second = outbound(&message_to(&unique_recipient(), "second"));

    // WHEN both are sent
    let first_id = mailer.send(first.clone()).await.expect("first sent");
    let second_id = mailer.send(second.clone()).await.expect("second sent");

    // THEN each id finds its own message
    assert_ne!(first_id, second_id);
    assert_eq!(sent_raw(&sent, &first_id).await, first.raw);
    assert_eq!(sent_raw(&sent, &second_id).await, second.raw);
}

async fn mail_without_recipients_is_refused_as_invalid(engine: Engine) {
    // GIVEN a composed message and an envelope without recipients
    let (mailer, _) = mailer(engine).await;
    let mail = OutboundMail { to: vec![], ..outbound(&message_to(&unique_recipient(), "nobody")) };

    // WHEN it is sent
    let result = mailer.send(mail).await;

    // THEN it is refused as invalid (SES would otherwise take the recipients from the headers)
    assert!(matches!(result, Err(PortError::Invalid(_))), "{result:?}");
}

docket_e2e::on_both_engines!(
    composed_mail_arrives_byte_for_byte_under_the_returned_id,
    hostile_subject_arrives_as_one_line_without_a_bcc,
    each_send_gets_an_id_of_its_own,
    mail_without_recipients_is_refused_as_invalid,
);
