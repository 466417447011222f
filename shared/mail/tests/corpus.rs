//! The message corpus (`tests/corpus/*.eml`, described in its README): every file is parsed and
//! checked against an explicit expectation below. A corpus file without an expectation, or an
//! expectation without its file, fails the test. Also: a generated message with a large
//! attachment, and a property test that mutated corpus messages never break the parser.

use std::collections::BTreeSet;
use std::path::PathBuf;

use docket_mail::inbound::{
    EXTRACTION_FAILED, InboundMessage, Limits, PARSER_FAILED, ParseError, Verdict, find_numbers, parse, parse_headers_only, plus_token,
};
use proptest::prelude::*;

/// Our reply token in the corpus's plus-addresses.
const TOKEN: &str = "k7q2m4x5p3r6t2v7w4y5z3a6";
/// Message-IDs of notifications Docket sent, which the corpus's replies answer.
const OURS: &str = "01HR5Y6J0Q8ZK3T7V2M4N6P8R0@docket.example";
const OURS2: &str = "01HR5Y6K2B7C9D1E3F5G7H9J1K@docket.example";

/// SES verdicts in the order spam, virus, spf, dkim, dmarc.
type Verdicts = [Verdict; 5];

#[derive(Debug, Default)]
struct Expect {
    subject: &'static str,
    clean_subject: &'static str,
    message_id: Option<&'static str>,
    in_reply_to: &'static [&'static str],
    references: &'static [&'static str],
    from: Option<&'static str>,
    /// The reason, exactly.
    automatic: Option<&'static str>,
    out_of_office: bool,
    bounce: Option<ExpectBounce>,
    /// `None`: not received by SES, every verdict unknown.
    ses: Option<Verdicts>,
    attachments: Vec<ExpectAttachment>,
    visible_text: &'static str,
    /// How the quoted history starts; `None` when there is none.
    quoted_starts: Option<&'static str>,
    /// `None` when the message has no HTML part; otherwise snippets the sanitised HTML contains.
    html_contains: Option<&'static [&'static str]>,
    /// Case numbers in the subject through the mask `[#n]`.
    subject_case_numbers: &'static [u64],
    /// The reply token found in a `To` address.
    reply_token: Option<&'static str>,
    /// Further checks particular to the message.
    extra: Option<fn(&InboundMessage)>,
}

#[derive(Debug)]
struct ExpectBounce {
    original_message_id: Option<&'static str>,
    recipient: &'static str,
    status: &'static str,
    failure: bool,
}

#[derive(Debug)]
struct ExpectAttachment {
    file_name: &'static str,
    content_type: &'static str,
    inline: bool,
}

const fn attachment(file_name: &'static str, content_type: &'static str) -> ExpectAttachment {
    ExpectAttachment { file_name, content_type, inline: false }
}

#[derive(Debug)]
enum Outcome {
    Parsed(Box<Expect>),
    /// Refused with this `ParseError::kind`.
    Rejected(&'static str),
}

const PASS: Verdict = Verdict::Pass;
const FAIL: Verdict = Verdict::Fail;

fn expectations() -> Vec<(&'static str, Outcome)> {
    use Outcome::*;
    vec![
        (
            "outlook-reply-windows-1252.eml",
            Parsed(Box::new(Expect {
                subject: "RE: [#42] Drucker druckt nicht",
                clean_subject: "[#42] Drucker druckt nicht",
                message_id: Some("AM7PR03MB6462C0A7B3E1F0D3C4E5A9B1D2@AM7PR03MB6462.eurprd03.prod.outlook.example"),
                in_reply_to: &[OURS],
                references: &[OURS],
                from: Some("hans.mueller@contoso.example"),
                visible_text: "Hallo,\n\nder Drucker zeigt jetzt „Papierstau“ an. Die Reparatur kostet 120 €.\n\nGrüße\nHans Müller",
                quoted_starts: Some("________________________________\nVon: Docket Support"),
                html_contains: Some(&["„Papierstau“", "120 €", "<b>Von:</b>"]),
                subject_case_numbers: &[42],
                reply_token: Some(TOKEN),
                extra: Some(|m| {
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("Müller, Hans"));
                    assert_eq!(m.header("Thread-Index"), Some("AQHab3Kx0Yl2kM6pQ0e4WZs8m1Jb7rA2Q8Bw"));
                    assert_eq!(m.date.map(|d| d.unix_timestamp()), Some(1_709_634_667));
                }),
                ..Expect::default()
            })),
        ),
        (
            "outlook-original-message-winmail.eml",
            Parsed(Box::new(Expect {
                subject: "RE: Invoice 2024-117 question",
                clean_subject: "Invoice 2024-117 question",
                message_id: Some("001201da6e3f$5b2c1a40$11844ec0$@fabrikam.example"),
                in_reply_to: &[OURS2],
                references: &[OURS2],
                from: Some("bob@fabrikam.example"),
                attachments: vec![attachment("winmail.dat", "application/ms-tnef")],
                visible_text: "Hi,\n\nThanks - I'll check with accounting and come back to you.\n\nRegards,\nBob",
                quoted_starts: Some("-----Original Message-----\nFrom: Docket Support"),
                extra: Some(|m| {
                    assert_eq!(m.attachments[0].bytes.len(), 304);
                    assert!(m.header("X-MS-TNEF-Correlator").is_some());
                }),
                ..Expect::default()
            })),
        ),
        (
            "gmail-reply.eml",
            Parsed(Box::new(Expect {
                subject: "Re: Login broken 😕",
                clean_subject: "Login broken 😕",
                message_id: Some("CAJ8vHo=xP2kz4QwE7RtY9uIo0pA1sD3fG5hJ6kL8zX9cV@mail.gmail.example"),
                in_reply_to: &[OURS],
                references: &[OURS2, OURS],
                from: Some("ada.lovelace@gmail.example"),
                visible_text: "Still broken, see the error below.\n\nAda",
                quoted_starts: Some("On Tue, 5 Mar 2024 at 09:12, Docket Support <\nsupport+"),
                html_contains: Some(&["Still broken, see the error below.", r#"rel="noopener noreferrer""#, "<blockquote>Please try logging in again."]),
                reply_token: Some(TOKEN),
                extra: Some(|m| {
                    assert!(m.header("X-Gm-Message-State").is_some());
                    assert!(!m.html_sanitized.as_deref().unwrap_or_default().contains("style="));
                }),
                ..Expect::default()
            })),
        ),
        (
            "apple-mail-inline-image.eml",
            Parsed(Box::new(Expect {
                subject: "Re: Fehlermeldung beim Export",
                clean_subject: "Fehlermeldung beim Export",
                message_id: Some("8E2A7C41-5B3D-4F69-A1C2-D3E4F5A6B7C8@tailspin.example"),
                in_reply_to: &[OURS],
                references: &[OURS],
                from: Some("jana.schmidt@tailspin.example"),
                attachments: vec![ExpectAttachment { file_name: "Fehler.png", content_type: "image/png", inline: true }],
                visible_text: "Hallo,\n\nanbei ein Screenshot der Fehlermeldung.\n\nViele Grüße\nJana",
                quoted_starts: Some("> Am 05.03.2024 um 09:12 schrieb Docket Support"),
                html_contains: Some(&[r#"<img src="cid:4F1C2B8E-9A3D-4C55-8E21-3B7F0D6A9C11" alt="Fehler.png">"#]),
                extra: Some(|m| {
                    let image = m.inline_attachment("cid:4F1C2B8E-9A3D-4C55-8E21-3B7F0D6A9C11").expect("the cid: reference names the inline image");
                    assert!(image.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
                    assert_eq!(image.content_id.as_deref(), Some("4F1C2B8E-9A3D-4C55-8E21-3B7F0D6A9C11"));
                }),
                ..Expect::default()
            })),
        ),
        (
            "thunderbird-iso-8859-1.eml",
            Parsed(Box::new(Expect {
                subject: "Réf: Facture de mars à corriger",
                clean_subject: "Facture de mars à corriger",
                message_id: Some("6f2d1c9a-4b7e-4e0f-9c3a-2d5e8b1f7a60@example.fr"),
                in_reply_to: &[OURS2],
                references: &[OURS2],
                from: Some("elodie.durand@example.fr"),
                attachments: vec![attachment("facture-2024-03.pdf", "application/pdf")],
                // format=flowed: the soft break after "450 EUR " is joined.
                visible_text: "Bonjour,\n\nLa facture jointe contient une erreur : le montant doit être 450 EUR et non 540 EUR.\n\nCordialement,\nÉlodie Durand",
                quoted_starts: Some("Le 04/03/2024 à 16:55, Docket Support a écrit\u{a0}:\n> Voici"),
                extra: Some(|m| {
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("Élodie Durand"));
                    assert!(m.attachments[0].bytes.starts_with(b"%PDF-1.4"));
                }),
                ..Expect::default()
            })),
        ),
        (
            "iphone-reply.eml",
            Parsed(Box::new(Expect {
                subject: "Re: [#57] App crashes on start",
                clean_subject: "[#57] App crashes on start",
                message_id: Some("3C9F7B2E-1D4A-4E6B-8C5F-A7D9E1B3C5F0@navy.example"),
                in_reply_to: &[OURS2],
                references: &[OURS2],
                from: Some("grace@navy.example"),
                visible_text: "Yes, it works now. Thanks!\n\nSent from my iPhone",
                quoted_starts: Some("> On 5 Mar 2024, at 09:12, Docket Support"),
                subject_case_numbers: &[57],
                reply_token: Some(TOKEN),
                ..Expect::default()
            })),
        ),
        (
            "iso-2022-jp.eml",
            Parsed(Box::new(Expect {
                subject: "Re: 請求書について",
                clean_subject: "請求書について",
                message_id: Some("20240305201500.A1B2C3@example.jp"),
                from: Some("yamada@example.jp"),
                visible_text: "お世話になっております。\n請求書の金額を確認してください。\n\n山田",
                extra: Some(|m| {
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("山田 太郎"));
                    assert_eq!(m.date.map(|d| d.offset().whole_hours()), Some(9));
                }),
                ..Expect::default()
            })),
        ),
        (
            "encoded-subject-b-and-q.eml",
            Parsed(Box::new(Expect {
                subject: "Frage zur Lieferung – Preis 120 € – dringend",
                clean_subject: "Frage zur Lieferung – Preis 120 € – dringend",
                message_id: Some("enc-words-1@koehler.example"),
                from: Some("juergen@koehler.example"),
                visible_text: "Wann kommt die Lieferung?",
                extra: Some(|m| {
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("Jürgen Köhler"));
                }),
                ..Expect::default()
            })),
        ),
        (
            "gb2312-reply.eml",
            Parsed(Box::new(Expect {
                subject: "回复：打印机故障",
                clean_subject: "打印机故障",
                message_id: Some("202403052100001234567@example.cn"),
                in_reply_to: &[OURS],
                from: Some("li.ming@example.cn"),
                visible_text: "你好，\n\n打印机还是不能用。\n\n李明",
                ..Expect::default()
            })),
        ),
        (
            "html-only-hostile-markup.eml",
            Parsed(Box::new(Expect {
                subject: "Question about my order #5531",
                clean_subject: "Question about my order #5531",
                message_id: Some("html-only-1@northwind.example"),
                from: Some("carol@northwind.example"),
                // No text part: the HTML converted to text, without script or style contents.
                visible_text: "Hello, I was charged twice for order #5531.\nDetails: my order and click.\nLog in Thanks, Carol",
                html_contains: Some(&[
                    "<p>Hello, I was <b>charged twice</b> for order #5531.</p>",
                    r#"<a href="https://shop.example/orders/5531" rel="noopener noreferrer">my order</a>"#,
                    r#"<a rel="noopener noreferrer">click</a>"#,
                ]),
                extra: Some(|m| {
                    let html = m.html_sanitized.as_deref().unwrap_or_default();
                    for gone in ["document.cookie", "steal()", "password", "internal note", "tracker.example/bg.gif", "<title"] {
                        assert!(!html.contains(gone), "{gone:?} in {html}");
                    }
                    assert!(!m.text.contains("document.cookie") && !m.text.contains("color: red"));
                    // "#5531" is no case number under the mask.
                    assert!(find_numbers(&m.text, "[#", "]").is_empty());
                }),
                ..Expect::default()
            })),
        ),
        (
            "out-of-office.eml",
            Parsed(Box::new(Expect {
                subject: "Automatic reply: [#42] Drucker druckt nicht",
                clean_subject: "Automatic reply: [#42] Drucker druckt nicht",
                message_id: Some("d0a1b2c3e4f5a6b7c8d9e0f1a2b3c4d5@fabrikam.example"),
                in_reply_to: &[OURS],
                references: &[OURS],
                from: Some("dave@fabrikam.example"),
                automatic: Some("Auto-Submitted: auto-replied"),
                out_of_office: true,
                visible_text: "I am out of the office until 12 March with limited access to email.\nFor urgent matters please contact helpdesk@fabrikam.example.",
                subject_case_numbers: &[42],
                reply_token: Some(TOKEN),
                ..Expect::default()
            })),
        ),
        (
            "dsn-bounce-failed.eml",
            Parsed(Box::new(Expect {
                subject: "Undelivered Mail Returned to Sender",
                clean_subject: "Undelivered Mail Returned to Sender",
                message_id: Some("20240305093203.4Tq5Xy1Z2bz9sKM@mx1.customer.example"),
                from: Some("MAILER-DAEMON@mx1.customer.example"),
                automatic: Some("Auto-Submitted: auto-replied"),
                bounce: Some(ExpectBounce { original_message_id: Some(OURS), recipient: "gone@customer.example", status: "5.1.1", failure: true }),
                attachments: vec![attachment("attachment", "message/delivery-status"), attachment("attachment", "message/rfc822")],
                visible_text: "This is the mail system at host mx1.customer.example.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n                   The mail system\n\n<gone@customer.example>: host mailstore.customer.example[192.0.2.25] said: 550\n    5.1.1 <gone@customer.example>: Recipient address rejected: User unknown in\n    local recipient table (in reply to RCPT TO command)",
                extra: Some(|m| {
                    let bounce = m.auto.bounce.as_ref().expect("bounce");
                    assert_eq!(
                        bounce.diagnostic.as_deref(),
                        Some("smtp; 550 5.1.1 <gone@customer.example>: Recipient address rejected: User unknown in local recipient table")
                    );
                }),
                ..Expect::default()
            })),
        ),
        (
            "dsn-delayed-rfc822-headers.eml",
            Parsed(Box::new(Expect {
                subject: "Delivery Status Notification (Delay)",
                clean_subject: "Delivery Status Notification (Delay)",
                message_id: Some("dsn-delay-7@mail.wingtip.example"),
                from: Some("postmaster@wingtip.example"),
                automatic: Some("null Return-Path"),
                bounce: Some(ExpectBounce {
                    // The Message-ID SES gave our mail when sending it.
                    original_message_id: Some("0100018e0e8a3c5f-3b1d2a9e-7c4f-4a61-9e2b-5d8c7f6a1b3e-000000@email.amazonses.example"),
                    recipient: "franz@wingtip.example",
                    status: "4.4.7",
                    failure: false,
                }),
                attachments: vec![attachment("attachment", "message/delivery-status"), attachment("attachment", "text/rfc822-headers")],
                visible_text: "This is an automatically generated Delivery Status Notification.\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipients has been delayed.\n\n       franz@wingtip.example",
                extra: Some(|m| {
                    assert_eq!(m.auto.bounce.as_ref().and_then(|b| b.action.as_deref()), Some("delayed"));
                }),
                ..Expect::default()
            })),
        ),
        (
            "mdn-read-receipt.eml",
            Parsed(Box::new(Expect {
                subject: "Read: Invoice 2024-117 question",
                clean_subject: "Read: Invoice 2024-117 question",
                message_id: Some("mdn-1@fabrikam.example"),
                from: Some("bob@fabrikam.example"),
                automatic: Some("multipart/report; report-type=disposition-notification"),
                attachments: vec![attachment("attachment", "message/disposition-notification")],
                visible_text: "Your message was read on Tuesday, March 5, 2024 3:00:00 PM.",
                ..Expect::default()
            })),
        ),
        (
            "mailing-list.eml",
            Parsed(Box::new(Expect {
                subject: "[users] Re: Release 2.0 planning",
                clean_subject: "Release 2.0 planning",
                message_id: Some("list-post-991@example.net"),
                in_reply_to: &["list-post-990@example.org"],
                references: &["list-post-990@example.org"],
                from: Some("heidi@example.net"),
                automatic: Some("Precedence: list"),
                visible_text: "I agree with the plan.\n\n_______________________________________________\nusers mailing list\nusers@lists.example.org\nhttps://lists.example.org/mailman/listinfo/users",
                extra: Some(|m| {
                    assert!(m.header("List-Id").is_some() && m.header("List-Unsubscribe").is_some());
                }),
                ..Expect::default()
            })),
        ),
        (
            "forward-outlook-fw-wg-tr.eml",
            Parsed(Box::new(Expect {
                subject: "FW: WG: TR: Rechnung 2024-03",
                clean_subject: "Rechnung 2024-03",
                message_id: Some("DB9PR03MB7289F1E2D3C4B5A69788@DB9PR03MB7289.eurprd03.prod.outlook.example"),
                from: Some("eve@contoso.example"),
                attachments: vec![attachment("Rechnung_2024-03.pdf", "application/pdf")],
                visible_text: "Please see below, can you help?\n\nThanks,\nEve",
                quoted_starts: Some("From: Franz Weber <franz@wingtip.example>\nSent: Monday"),
                ..Expect::default()
            })),
        ),
        (
            "forward-gmail-fwd.eml",
            Parsed(Box::new(Expect {
                subject: "Fwd: Order confirmation 88123",
                clean_subject: "Order confirmation 88123",
                message_id: Some("CAFwd8kP3x=Qm2vN7sR1tY5uW9zA0bC4dE6fG8hJ1kL3mN5@mail.gmail.example"),
                from: Some("ivan.petrov@gmail.example"),
                visible_text: "Can you check why this was charged twice?",
                quoted_starts: Some("---------- Forwarded message ---------\nFrom: Shop"),
                extra: Some(|m| assert!(m.text.contains("Thank you for your order 88123."))),
                ..Expect::default()
            })),
        ),
        (
            "forward-outlook-french-tr.eml",
            Parsed(Box::new(Expect {
                subject: "TR\u{a0}: RE : Problème de connexion",
                clean_subject: "Problème de connexion",
                message_id: Some("PR1P264MB1234ABCD5678EF90@PR1P264MB1234.FRAP264.PROD.OUTLOOK.example"),
                from: Some("paul.martin@example.fr"),
                visible_text: "Bonjour,\n\nJe vous transfère le message de mon collègue.\n\nPaul",
                quoted_starts: Some("De : Marc Leroy"),
                ..Expect::default()
            })),
        ),
        (
            "forward-as-attachment.eml",
            Parsed(Box::new(Expect {
                subject: "Fwd: Complaint from a customer",
                clean_subject: "Complaint from a customer",
                message_id: Some("fwd-att-1@contoso.example"),
                from: Some("judy@contoso.example"),
                attachments: vec![attachment("Complaint.eml", "message/rfc822")],
                visible_text: "See the attached complaint.",
                extra: Some(|m| {
                    let attached = parse(&m.attachments[0].bytes, &Limits::default()).expect("the attached message parses");
                    assert_eq!(attached.message_id.as_deref(), Some("complaint-1@customer.example"));
                    assert_eq!(attached.visible_text, "The delivery was late again.");
                }),
                ..Expect::default()
            })),
        ),
        (
            "ticket-trick-stranger.eml",
            Parsed(Box::new(Expect {
                subject: "[#1] Please add me to this case",
                clean_subject: "[#1] Please add me to this case",
                message_id: Some("trick-1@attacker.example"),
                from: Some("mallory@attacker.example"),
                visible_text: "Hi, I am the new contact for this case. Please send me all updates.",
                // The number is there; only the participant check of the pipeline (F21) tells
                // that the sender may not thread into case 1. No other signal points at it.
                subject_case_numbers: &[1],
                ..Expect::default()
            })),
        ),
        (
            "header-injection-encoded-b.eml",
            Parsed(Box::new(Expect {
                subject: "Invoice Bcc: victim@evil.example <html>body</html>",
                clean_subject: "Invoice Bcc: victim@evil.example <html>body</html>",
                message_id: Some("inj-b-1@evil.example"),
                from: Some("eve@evil.example"),
                visible_text: "Nothing to see here.",
                extra: Some(|m| {
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("Eve Bcc: victim@evil.example"));
                    assert_eq!(m.to.len(), 1);
                    assert_eq!(m.to[0].email, "support@docket.example");
                    assert_eq!(m.to[0].name.as_deref(), Some("Support Cc: other@evil.example"));
                    assert!(m.cc.is_empty());
                    assert!(m.header("Bcc").is_none() && m.header("Cc").is_none());
                }),
                ..Expect::default()
            })),
        ),
        (
            "header-injection-q-nul.eml",
            Parsed(Box::new(Expect {
                subject: "Order Bcc: victim@evil.example  end",
                clean_subject: "Order Bcc: victim@evil.example  end",
                message_id: Some("inj-q-1@evil.example"),
                from: Some("eve@evil.example"),
                attachments: vec![attachment("evil.exe", "application/octet-stream"), attachment("invoicefdp.exe", "application/octet-stream")],
                visible_text: "See files.",
                extra: Some(|m| {
                    assert_eq!(m.header("X-Note"), Some("null byte"));
                    assert!(m.header("Bcc").is_none());
                    assert!(m.attachments.iter().all(|a| a.bytes.starts_with(b"MZ")));
                }),
                ..Expect::default()
            })),
        ),
        (
            "malformed-missing-boundary.eml",
            Parsed(Box::new(Expect {
                subject: "Missing boundary",
                clean_subject: "Missing boundary",
                message_id: Some("malformed-1@broken.example"),
                from: Some("oscar@broken.example"),
                // Unreadable as multipart: the body is kept as text, nothing is lost.
                visible_text: "--foo\nContent-Type: text/plain\n\nThe text part nobody can find.\n--foo--",
                ..Expect::default()
            })),
        ),
        (
            "malformed-unterminated-multipart.eml",
            Parsed(Box::new(Expect {
                subject: "Truncated upload",
                clean_subject: "Truncated upload",
                message_id: Some("malformed-2@broken.example"),
                from: Some("oscar@broken.example"),
                attachments: vec![attachment("server.log", "text/plain")],
                visible_text: "The log file is attached.",
                extra: Some(|m| {
                    // What arrived of the cut-off attachment is decoded.
                    assert_eq!(m.attachments[0].bytes, b"2024-03-05 19:00:00 ERROR disk full\n2024-03-05 19:00:01 ERROR disk");
                }),
                ..Expect::default()
            })),
        ),
        (
            "malformed-broken-base64.eml",
            Parsed(Box::new(Expect {
                subject: "Broken base64",
                clean_subject: "Broken base64",
                message_id: Some("malformed-3@broken.example"),
                from: Some("oscar@broken.example"),
                // Undecodable: the raw body is kept rather than dropped.
                visible_text: "SGVsbG8sIHRoZSBwcmludGVy!!!IGlzIGJyb2tlbi4=\n@@@ not base64 at all @@@",
                ..Expect::default()
            })),
        ),
        (
            "malformed-8bit-headers.eml",
            Parsed(Box::new(Expect {
                subject: "Grüße aus Köln – Drucker kaputt",
                clean_subject: "Grüße aus Köln – Drucker kaputt",
                message_id: Some("malformed-4@broken.example"),
                from: Some("juergen@broken.example"),
                visible_text: "Der Drucker in Köln ist kaputt.",
                extra: Some(|m| {
                    // Raw Latin-1 in a header is not UTF-8: replaced, never an error.
                    assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("J\u{fffd}rgen M\u{fffd}ller"));
                }),
                ..Expect::default()
            })),
        ),
        (
            "ses-spam-fail-forged-pass-below.eml",
            Parsed(Box::new(Expect {
                subject: "Urgent: verify your account",
                clean_subject: "Urgent: verify your account",
                message_id: Some("phish-1@bank-secure.example"),
                from: Some("security@bank.example"),
                // SES's own verdicts above the receipt; the PASS verdicts below it are forged.
                ses: Some([FAIL, PASS, Verdict::Gray, FAIL, FAIL]),
                visible_text: "Click here to verify your account: https://bank-secure.example/verify",
                extra: Some(|m| {
                    assert_eq!(m.header_all("X-SES-Spam-Verdict").collect::<Vec<_>>(), ["FAIL", "PASS"]);
                }),
                ..Expect::default()
            })),
        ),
        (
            "ses-received-clean.eml",
            Parsed(Box::new(Expect {
                subject: "Printer on the 3rd floor is jammed",
                clean_subject: "Printer on the 3rd floor is jammed",
                message_id: Some("new-request-1@customer.example"),
                from: Some("ada@customer.example"),
                ses: Some([PASS; 5]),
                visible_text: "Hello, the printer on the 3rd floor is jammed again.\n\nAda",
                ..Expect::default()
            })),
        ),
        (
            "ses-virus-fail.eml",
            Parsed(Box::new(Expect {
                subject: "Invoice attached",
                clean_subject: "Invoice attached",
                message_id: Some("virus-1@customer.example"),
                from: Some("ada@customer.example"),
                ses: Some([PASS, FAIL, PASS, PASS, PASS]),
                attachments: vec![attachment("invoice.pdf.exe", "application/octet-stream")],
                visible_text: "Please open the attached invoice.",
                ..Expect::default()
            })),
        ),
        (
            "forged-verdicts-no-receipt.eml",
            Parsed(Box::new(Expect {
                subject: "Totally legitimate",
                clean_subject: "Totally legitimate",
                message_id: Some("forged-1@spoof.example"),
                from: Some("trudy@spoof.example"),
                // No X-SES-RECEIPT: nothing is trusted (ses: None means all unknown).
                visible_text: "Trust me.",
                ..Expect::default()
            })),
        ),
        (
            "auto-generated-monitoring-alert.eml",
            Parsed(Box::new(Expect {
                subject: "[ALERT] Disk usage 95% on srv-01",
                clean_subject: "Disk usage 95% on srv-01",
                message_id: Some("alert-20240305220000-srv-01@ops.example"),
                from: Some("monitoring@ops.example"),
                automatic: Some("Auto-Submitted: auto-generated"),
                visible_text: "Disk / on srv-01 is 95% full.",
                ..Expect::default()
            })),
        ),
        ("not-mail-binary.eml", Rejected("malformed")),
    ]
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .map(|path| {
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).expect("readable corpus file");
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_has_an_expectation_and_every_expectation_a_file() {
    let files: BTreeSet<String> = corpus_files().into_iter().map(|(name, _)| name).collect();
    let expected: BTreeSet<String> = expectations().into_iter().map(|(name, _)| name.to_owned()).collect();
    let without_expectation: Vec<_> = files.difference(&expected).collect();
    let without_file: Vec<_> = expected.difference(&files).collect();
    assert!(without_expectation.is_empty(), "corpus files without an expectation: {without_expectation:?}");
    assert!(without_file.is_empty(), "expectations without a corpus file: {without_file:?}");
    assert_eq!(expectations().len(), expected.len(), "one expectation per file");
}

#[test]
fn every_corpus_message_gives_its_expected_outcome() {
    let files: std::collections::BTreeMap<String, Vec<u8>> = corpus_files().into_iter().collect();
    let mut failures = Vec::new();
    for (name, outcome) in expectations() {
        let Some(raw) = files.get(name) else { continue };
        let result = std::panic::catch_unwind(|| check(raw, &outcome));
        if let Err(panic) = result {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default();
            failures.push(format!("{name}: {message}"));
        }
    }
    assert!(failures.is_empty(), "{} corpus message(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

fn check(raw: &[u8], outcome: &Outcome) {
    let expect = match outcome {
        Outcome::Rejected(kind) => {
            let error = parse(raw, &Limits::default()).expect_err("refused");
            assert_eq!(error.kind(), *kind, "{error}");
            return;
        }
        Outcome::Parsed(expect) => expect,
    };
    let message = parse(raw, &Limits::default()).unwrap_or_else(|error| panic!("parse failed: {error}"));
    assert_invariants(&message);

    assert_eq!(message.subject, expect.subject, "subject");
    assert_eq!(message.clean_subject, expect.clean_subject, "clean subject");
    assert_eq!(message.message_id.as_deref(), expect.message_id, "message id");
    assert_eq!(message.in_reply_to, expect.in_reply_to, "in-reply-to");
    assert_eq!(message.references, expect.references, "references");
    assert_eq!(message.from.as_ref().map(|a| a.email.as_str()), expect.from, "from");
    assert_eq!(message.auto.automatic.as_deref(), expect.automatic, "automatic");
    assert_eq!(message.auto.out_of_office, expect.out_of_office, "out of office");
    match (&message.auto.bounce, &expect.bounce) {
        (None, None) => {}
        (Some(bounce), Some(expected)) => {
            assert_eq!(bounce.original_message_id.as_deref(), expected.original_message_id, "bounce: original id");
            assert_eq!(bounce.recipient.as_deref(), Some(expected.recipient), "bounce: recipient");
            assert_eq!(bounce.status.as_deref(), Some(expected.status), "bounce: status");
            assert_eq!(bounce.is_failure(), expected.failure, "bounce: failure");
        }
        (bounce, expected) => panic!("bounce {bounce:?}, expected {expected:?}"),
    }
    let ses = message.auto.ses;
    match expect.ses {
        None => {
            assert!(!ses.received_by_ses, "not received by SES");
            assert_eq!([ses.spam, ses.virus, ses.spf, ses.dkim, ses.dmarc], [Verdict::Unknown; 5], "SES verdicts");
        }
        Some(verdicts) => {
            assert!(ses.received_by_ses, "received by SES");
            assert_eq!([ses.spam, ses.virus, ses.spf, ses.dkim, ses.dmarc], verdicts, "SES verdicts (spam, virus, spf, dkim, dmarc)");
        }
    }
    let attachments: Vec<_> = message.attachments.iter().map(|a| (a.file_name.as_str(), a.content_type.as_str(), a.inline)).collect();
    let expected_attachments: Vec<_> = expect.attachments.iter().map(|a| (a.file_name, a.content_type, a.inline)).collect();
    assert_eq!(attachments, expected_attachments, "attachments");
    assert_eq!(message.visible_text, expect.visible_text, "visible text");
    match (message.quoted_text.as_deref(), expect.quoted_starts) {
        (None, None) => {}
        (Some(quoted), Some(start)) => assert!(quoted.starts_with(start), "quoted text {quoted:?} should start with {start:?}"),
        (quoted, start) => panic!("quoted text {quoted:?}, expected to start with {start:?}"),
    }
    if message.quoted_text.is_some() {
        assert!(message.text.starts_with(&message.visible_text), "the full text keeps what is visible");
    }
    match (message.html_sanitized.as_deref(), expect.html_contains) {
        (None, None) => {}
        (Some(html), Some(snippets)) => {
            for snippet in snippets {
                assert!(html.contains(snippet), "sanitised HTML lacks {snippet:?}: {html}");
            }
        }
        (html, snippets) => panic!("HTML {html:?}, expected {snippets:?}"),
    }
    assert_eq!(find_numbers(&message.subject, "[#", "]"), expect.subject_case_numbers, "case numbers in the subject");
    let token = message.to.iter().find_map(|address| plus_token(&address.email)).map(|(_, token)| token);
    assert_eq!(token.as_deref(), expect.reply_token, "reply token");
    if let Some(extra) = expect.extra {
        extra(&message);
    }
}

/// What holds for every parsed message, whatever its content.
fn assert_invariants(message: &InboundMessage) {
    let single_line = |value: &str| !value.contains(['\r', '\n', '\0']);
    assert!(single_line(&message.subject) && single_line(&message.clean_subject));
    for address in message.from.iter().chain(&message.to).chain(&message.cc).chain(&message.reply_to) {
        assert!(single_line(&address.email) && address.name.as_deref().is_none_or(single_line));
    }
    for header in &message.raw_headers {
        assert!(single_line(&header.name) && single_line(&header.value), "{header:?}");
    }
    for id in message.message_id.iter().chain(&message.in_reply_to).chain(&message.references) {
        assert!(!id.contains(['<', '>', ' ']), "{id:?}");
    }
    if let Some(html) = &message.html_sanitized {
        // Text never holds a raw `<` after sanitising, so these are real tags.
        for forbidden in ["<script", "<style", "<form", "<iframe", "<object", "<embed"] {
            assert!(!html.contains(forbidden), "{forbidden:?} in sanitised HTML");
        }
        // Inside tags (text may well say "javascript:"): no script URLs, no event handlers.
        for tag in html.split('<').skip(1).filter_map(|rest| rest.split_once('>')).map(|(tag, _)| tag) {
            let tag = tag.to_ascii_lowercase();
            assert!(!tag.contains("javascript:"), "script URL in <{tag}>");
            assert!(
                !tag.split_whitespace().skip(1).filter_map(|attribute| attribute.split_once('=').map(|(name, _)| name)).any(|name| name.starts_with("on")),
                "event handler in <{tag}>"
            );
        }
    }
    for attachment in &message.attachments {
        assert!(!attachment.file_name.is_empty() && !attachment.file_name.contains(['/', '\\']));
    }
    assert!(!message.text.contains('\r') && !message.text.contains('\0'));
}

// ---------------------------------------------------------------- large attachment

/// A deterministic pseudo-random byte stream (xorshift), so the message is the same every run.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_lines(bytes: &[u8]) -> String {
    let mut encoded = Vec::with_capacity(bytes.len() / 3 * 4 + 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            encoded.push(if i <= chunk.len() { BASE64[((n >> shift) & 63) as usize] } else { b'=' });
        }
    }
    let mut text = String::with_capacity(encoded.len() + encoded.len() / 76 * 2);
    for line in encoded.chunks(76) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push_str("\r\n");
    }
    text
}

/// A message with a 6 MiB attachment (about 8 MiB encoded).
fn large_message(attachment: &[u8]) -> Vec<u8> {
    format!(
        "From: Ada Customer <ada@customer.example>\r\nTo: support@docket.example\r\nSubject: Crash dump\r\n\
         Message-ID: <large-1@customer.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"large\"\r\n\r\n\
         --large\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe dump is attached.\r\n\
         --large\r\nContent-Type: application/octet-stream; name=\"core.dump\"\r\n\
         Content-Disposition: attachment; filename=\"core.dump\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}--large--\r\n",
        base64_lines(attachment)
    )
    .into_bytes()
}

#[test]
fn a_large_attachment_is_read_whole_and_an_oversize_message_still_has_its_headers() {
    // GIVEN a message with a 6 MiB attachment
    let attachment = pseudo_random_bytes(6 * 1024 * 1024);
    let raw = large_message(&attachment);
    assert!(raw.len() > 8 * 1024 * 1024);

    // WHEN parsed within the default limits
    let message = parse(&raw, &Limits::default()).expect("parses");
    // THEN the attachment comes out byte for byte
    assert_eq!(message.visible_text, "The dump is attached.");
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].file_name, "core.dump");
    assert!(message.attachments[0].bytes == attachment, "attachment bytes differ");

    // WHEN the limit is lower than the message
    let limits = Limits { max_bytes: 5 * 1024 * 1024, ..Limits::default() };
    // THEN it is refused as too large, and its headers can still be logged (F26)
    assert_eq!(parse(&raw, &limits).map(|_| ()), Err(ParseError::TooLarge { size: raw.len(), max: limits.max_bytes }));
    let headers = parse_headers_only(&raw, &limits).expect("headers");
    assert_eq!(headers.subject, "Crash dump");
    assert_eq!(headers.message_id.as_deref(), Some("large-1@customer.example"));
    assert_eq!(headers.size, raw.len());
}

// ---------------------------------------------------------------- mutations of the corpus

#[test]
fn a_mutation_that_trips_a_mail_parser_assertion_still_has_an_outcome() {
    // GIVEN the bounce with its returned message's part header repeated (found by the property
    // test below): mail-parser 0.11 trips a `debug_assert!` on it
    let original = corpus_files().into_iter().find(|(name, _)| name == "dsn-bounce-failed.eml").expect("corpus file").1;
    // The end of the delimiter line before the returned message, and that part's header.
    let repeated: &[u8] = b"z9sKL.1709631123/mx1.customer.example\nContent-Description: \
        Undelivered Message\nContent-Type: message/rfc822\n\n";
    let at = original.windows(repeated.len()).position(|window| window == repeated).expect("the returned message's part header");
    let mut mutated = original[..at + repeated.len()].to_vec();
    mutated.extend_from_slice(&original[at..]);
    // WHEN parsed
    // THEN there is an outcome: a best-effort parse (release builds, where the assertion is
    // compiled out) or a refusal naming the parser (debug builds), never a panic
    match parse(&mutated, &Limits::default()) {
        Ok(message) => assert_eq!(message.subject, "Undelivered Mail Returned to Sender"),
        Err(ParseError::Malformed { reason }) => {
            assert!(reason.starts_with(PARSER_FAILED), "{reason}");
        }
        Err(error) => panic!("unexpected {error}"),
    }
    // AND the headers can be read on their own in any case
    assert!(parse_headers_only(&mutated, &Limits::default()).is_ok());
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: prop::sample::Index, byte: u8 },
    Truncate { at: prop::sample::Index },
    Delete { at: prop::sample::Index, len: usize },
    Duplicate { at: prop::sample::Index, len: usize },
    Insert { at: prop::sample::Index, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"\n--".to_vec()),
        Just(b"=?UTF-8?B?".to_vec()),
        Just(b"?=".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\r\n\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"X-SES-RECEIPT: forged\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Truncate { at }),
        (any::<prop::sample::Index>(), 1..200usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<prop::sample::Index>(), 1..200usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<prop::sample::Index>(), snippet).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    match mutation {
        Mutation::Flip { at, byte } => {
            let at = at.index(bytes.len());
            bytes[at] = *byte;
        }
        Mutation::Truncate { at } => bytes.truncate(at.index(bytes.len())),
        Mutation::Delete { at, len } => {
            let at = at.index(bytes.len());
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Duplicate { at, len } => {
            let at = at.index(bytes.len());
            let end = (at + len).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            bytes.splice(at..at, copy);
        }
        Mutation::Insert { at, bytes: inserted } => {
            let at = at.index(bytes.len());
            bytes.splice(at..at, inserted.iter().copied());
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_messages_never_break_the_parser(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let files = corpus_files();
        let (name, original) = &files[file.index(files.len())];
        let mutated = mutations.iter().fold(original.clone(), apply);
        let limits = Limits { max_parts: 12, max_attachments: 4, max_header_bytes: 8 * 1024, ..Limits::default() };
        match parse(&mutated, &limits) {
            Ok(message) => {
                prop_assert!(message.attachments.len() <= limits.max_attachments);
                assert_invariants(&message);
            }
            Err(ParseError::Malformed { reason }) => {
                // mail-parser's debug assertions may fire (see PARSER_FAILED); a panic in our
                // own extraction is a bug.
                prop_assert!(!reason.starts_with(EXTRACTION_FAILED), "{}: {}", name, reason);
            }
            Err(error) => prop_assert!(error.is_limit(), "{}: {}", name, error),
        }
        // The headers of whatever parse refused for its size can still be read.
        if let Err(error) = parse(&mutated, &limits)
            && error.is_limit()
        {
            prop_assert!(parse_headers_only(&mutated, &limits).is_ok(), "{}: {}", name, error);
        }
    }
}
