//! Email-to-case end to end on both engines: raw messages through the pipeline, real
//! acknowledgements read back from the outbox / SES, replies threading by token, number and
//! status policy, loops and duplicates, and the inbound log.

use std::sync::Arc;

use axum::http::Method;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail, InboundOutcome, ThreadRule};
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, SentMail, TEST_MAIL_FROM, TestApi, header, on_both_engines, raw_message as message};
use docket_mail::compose::Address;
use docket_ports::Mailer;
use serde_json::{Value, json};

on_both_engines!(
    a_new_message_opens_a_case_and_a_reply_to_the_acknowledgement_appends,
    replies_reopen_waiting_cases_and_follow_the_closed_case_policy,
    a_stranger_quoting_a_case_number_gets_a_new_case,
    automatic_mail_opens_nothing_and_gets_no_acknowledgement,
    the_same_message_twice_gives_one_entry,
    mail_to_no_mailbox_and_junk_are_logged_not_lost,
);

struct World {
    api: TestApi,
    mailer: Arc<dyn Mailer>,
    sent: SentMail,
    settings: MailSettings,
    admin: String,
    mailbox: Value,
    address: String,
}

async fn world(engine: Engine, closed_case_policy: Value) -> World {
    let blobs = docket_e2e::blobs(engine).await;
    let docket = docket_e2e::docket(engine).await.with_blobs(blobs);
    let (mailer, sent) = docket_e2e::mailer(engine).await;
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    // Every world gets its own address, so mail read back from a shared emulator stays apart.
    let address = format!("support-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    let mailbox = api
        .call(
            Method::POST,
            "/mailboxes",
            Some(&admin),
            Some(json!({"name": "Support", "addresses": [address], "auto_ack": true, "closed_case_policy": closed_case_policy})),
        )
        .await;
    assert_eq!(mailbox.status, 201, "{}", mailbox.body);
    let settings = MailSettings {
        from: Address { name: Some("Acme Support".into()), email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    };
    World { api, mailer, sent, settings, admin, mailbox: mailbox.body, address }
}

impl World {
    async fn receive_to(&self, to: &str, raw: String) -> InboundLogEntry {
        let pipeline = Inbound { docket: &self.api.docket, mailer: Some(self.mailer.as_ref()), settings: &self.settings };
        pipeline.receive(docket_e2e::plain_delivery(to, raw)).await.expect("pipeline")
    }

    async fn receive(&self, raw: String) -> InboundLogEntry {
        self.receive_to(&self.address.clone(), raw).await
    }

    async fn case(&self, number: u64) -> Value {
        self.api.call(Method::GET, &format!("/cases/{number}"), Some(&self.admin), None).await.body
    }

    async fn set_status(&self, number: u64, status: &str) {
        let case = self.api.call(Method::GET, &format!("/cases/{number}"), Some(&self.admin), None).await;
        let etag = case.etag();
        let reply = self
            .api
            .send(Method::PATCH, &format!("/cases/{number}"), Some(&self.admin), &[("if-match", &etag)], Some(json!({"status": status}).to_string()))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    async fn stream_len(&self, number: u64) -> usize {
        let stream = self.api.call(Method::GET, &format!("/cases/{number}/stream"), Some(&self.admin), None).await;
        stream.body["items"].as_array().map(Vec::len).unwrap_or(0)
    }

    /// Acknowledgements sent for a case (matched by its id in our Message-ID).
    async fn acks_of(&self, case_id: &str) -> Vec<String> {
        self.sent.messages_with(&format!("<ack.{}@", case_id.to_lowercase())).await
    }
}

async fn a_new_message_opens_a_case_and_a_reply_to_the_acknowledgement_appends(engine: Engine) {
    // GIVEN a mailbox that acknowledges new cases
    let world = world(engine, json!({"mode": "reopen"})).await;
    // WHEN a customer writes to it
    let first = world
        .receive(message("Ada Lovelace <ada@customer.test>", &world.address, "Printer on fire", "m1@customer.test", "", "Smoke from tray 2.\r\n\r\nAda"))
        .await;
    // THEN a case is opened for a new contact, and the acknowledgement carries its number
    assert_eq!((first.outcome, first.rule), (InboundOutcome::Created, Some(ThreadRule::NewCase)), "{first:?}");
    assert!(first.acknowledged);
    let number = first.case_number.expect("case number");
    let case = world.case(number).await;
    assert_eq!(case["source"], "email");
    assert_eq!(case["subject"], "Printer on fire");
    assert_eq!(case["mailbox_id"], world.mailbox["id"]);
    let acks = world.acks_of(first.case_id.as_deref().unwrap()).await;
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert!(header(ack, "Subject").is_some_and(|s| s.starts_with(&format!("[#{number}]"))), "{ack}");
    assert_eq!(header(ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert_eq!(header(ack, "X-Auto-Response-Suppress").as_deref(), Some("All"));
    assert_eq!(header(ack, "In-Reply-To").as_deref(), Some("<m1@customer.test>"));
    // WHEN the customer replies to the acknowledgement, to its Reply-To address
    let reply_to = header(ack, "Reply-To").and_then(|v| v.split(['<', '>']).nth(1).map(str::to_owned)).expect("Reply-To address");
    assert!(reply_to.contains('+'), "{reply_to}");
    let ack_id = header(ack, "Message-ID").expect("ack Message-ID");
    let reply = world
        .receive_to(
            &reply_to,
            message(
                "Ada Lovelace <ada@customer.test>",
                &reply_to,
                "Re: whatever the client wrote",
                "m2@customer.test",
                &format!("In-Reply-To: {ack_id}\r\n"),
                "Still smoking.",
            ),
        )
        .await;
    // THEN it lands on the same case by its reply token, without a second acknowledgement
    assert_eq!((reply.outcome, reply.rule), (InboundOutcome::Appended, Some(ThreadRule::ReplyToken)), "{reply:?}");
    assert_eq!(reply.case_number, Some(number));
    assert!(!reply.acknowledged);
    assert_eq!(world.acks_of(first.case_id.as_deref().unwrap()).await.len(), 1);
    // AND both messages are on the case's stream (created, first mail, reply)
    let stream = world.api.call(Method::GET, &format!("/cases/{number}/stream"), Some(&world.admin), None).await;
    let bodies: Vec<&str> =
        stream.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "email_received").filter_map(|e| e["body"].as_str()).collect();
    assert_eq!(bodies.len(), 2, "{}", stream.body);
    assert!(bodies[0].contains("Still smoking."));
    // AND a reply quoting only our Message-ID threads too
    let by_id = world
        .receive(message(
            "Ada Lovelace <ada@customer.test>",
            &world.address,
            "no number here",
            "m3@customer.test",
            &format!("References: <x@y.test> {ack_id}\r\n"),
            "Thanks",
        ))
        .await;
    assert_eq!((by_id.outcome, by_id.rule, by_id.case_number), (InboundOutcome::Appended, Some(ThreadRule::MessageId), Some(number)));
}

async fn replies_reopen_waiting_cases_and_follow_the_closed_case_policy(engine: Engine) {
    // GIVEN a case opened by mail in a mailbox that opens a linked case for replies to closed ones
    let world = world(engine, json!({"mode": "new_linked"})).await;
    let first = world.receive(message("bob@customer.test", &world.address, "VPN down", "v1@customer.test", "", "Cannot connect")).await;
    let number = first.case_number.unwrap();
    // WHEN the case is Resolved and Bob answers with the number in the subject
    world.set_status(number, "Resolved").await;
    let again = world.receive(message("bob@customer.test", &world.address, &format!("Re: [#{number}] VPN down"), "v2@customer.test", "", "Down again")).await;
    // THEN it is reopened
    assert_eq!((again.outcome, again.rule), (InboundOutcome::Reopened, Some(ThreadRule::SubjectNumber)), "{again:?}");
    assert_eq!(world.case(number).await["status"], "Reopened");
    // WHEN it is Closed and Bob writes again
    world.set_status(number, "Closed").await;
    let late = world.receive(message("bob@customer.test", &world.address, &format!("Re: [#{number}] VPN down"), "v3@customer.test", "", "And again")).await;
    // THEN the mailbox policy opens a new case linked to the closed one, which stays closed
    assert_eq!(late.outcome, InboundOutcome::NewLinked, "{late:?}");
    let new_number = late.case_number.unwrap();
    assert_ne!(new_number, number);
    assert_eq!(world.case(new_number).await["parent_id"], world.case(number).await["id"]);
    assert_eq!(world.case(number).await["status"], "Closed");
}

async fn a_stranger_quoting_a_case_number_gets_a_new_case(engine: Engine) {
    // GIVEN Carol's case
    let world = world(engine, json!({"mode": "reopen"})).await;
    let carol = world.receive(message("carol@customer.test", &world.address, "Invoice question", "c1@customer.test", "", "Hi")).await;
    let number = carol.case_number.unwrap();
    let before = world.stream_len(number).await;
    // WHEN a stranger writes with Carol's case number in the subject (the "ticket trick")
    let stranger =
        world.receive(message("mallory@evil.test", &world.address, &format!("Re: [#{number}] Invoice question"), "x1@evil.test", "", "Add me please")).await;
    // THEN the stranger gets a case of their own and Carol's case is untouched
    assert_eq!((stranger.outcome, stranger.rule), (InboundOutcome::Created, Some(ThreadRule::NewCase)), "{stranger:?}");
    assert_ne!(stranger.case_number, Some(number));
    assert_eq!(world.stream_len(number).await, before);
}

async fn automatic_mail_opens_nothing_and_gets_no_acknowledgement(engine: Engine) {
    // GIVEN a mailbox, WHEN an out-of-office reply and a mailing-list message arrive
    let world = world(engine, json!({"mode": "reopen"})).await;
    let ooo = world
        .receive(message(
            "dan@customer.test",
            &world.address,
            "Out of office",
            "o1@customer.test",
            "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n",
            "I am away",
        ))
        .await;
    let list = world
        .receive(message("news@list.test", &world.address, "Weekly digest", "l1@list.test", "List-Id: <news.list.test>\r\nPrecedence: list\r\n", "News"))
        .await;
    // THEN neither opens a case nor gets an acknowledgement, and both are logged with a reason
    for entry in [&ooo, &list] {
        assert_eq!(entry.outcome, InboundOutcome::Suppressed, "{entry:?}");
        assert_eq!(entry.case_number, None);
        assert!(!entry.acknowledged);
        assert!(entry.reason.contains("automatic"), "{}", entry.reason);
    }
    let cases = world.api.call(Method::GET, "/cases", Some(&world.admin), None).await;
    assert_eq!(cases.body["items"], json!([]));
}

async fn the_same_message_twice_gives_one_entry(engine: Engine) {
    // GIVEN a message received once
    let world = world(engine, json!({"mode": "reopen"})).await;
    let raw = message("erin@customer.test", &world.address, "Twice", "twice@customer.test", "", "Once only");
    let first = world.receive(raw.clone()).await;
    let number = first.case_number.unwrap();
    let entries = world.stream_len(number).await;
    // WHEN the same message arrives again (another delivery)
    let second = world.receive(raw.clone()).await;
    // THEN it is a logged duplicate and the case has no new entry
    assert_eq!(second.outcome, InboundOutcome::Duplicate, "{second:?}");
    assert_eq!(world.stream_len(number).await, entries);
    // AND the very same delivery again changes nothing at all, not even the log
    let pipeline = Inbound { docket: &world.api.docket, mailer: Some(world.mailer.as_ref()), settings: &world.settings };
    let source = InboundMail {
        source_id: "test:same-source".into(),
        envelope_to: vec![world.address.clone()],
        raw: raw.into_bytes(),
        received_by_ses: false,
        trusted_sender: false,
    };
    let a = pipeline.receive(source.clone()).await.unwrap();
    let b = pipeline.receive(source).await.unwrap();
    assert_eq!(a, b);
    // AND the inbound log shows every outcome once
    let log = world.api.call(Method::GET, "/inbound-log", Some(&world.admin), None).await;
    let outcomes: Vec<&str> = log.body["items"].as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes, vec!["duplicate", "duplicate", "created"]);
}

async fn mail_to_no_mailbox_and_junk_are_logged_not_lost(engine: Engine) {
    // GIVEN a mailbox, WHEN mail arrives for an unknown address, from a blacklisted sender, and
    // with a header-injection attempt in its subject
    let world = world(engine, json!({"mode": "reopen"})).await;
    let nowhere = world.receive_to("sales@acme.test", message("fred@customer.test", "sales@acme.test", "Hello", "n1@customer.test", "", "?")).await;
    let daemon = world.receive(message("MAILER-DAEMON@relay.test", &world.address, "Undeliverable", "d1@relay.test", "", "gone")).await;
    let hostile =
        world.receive(message("gina@customer.test", &world.address, "=?utf-8?Q?Hi=0D=0ABcc:_victim@evil.test?=", "h1@customer.test", "", "body")).await;
    // THEN each is logged with its reason; the hostile one is a case whose subject is one line
    assert_eq!(nowhere.outcome, InboundOutcome::Rejected);
    assert!(nowhere.reason.contains("no group mailbox"), "{}", nowhere.reason);
    assert_eq!(daemon.outcome, InboundOutcome::Dropped, "{daemon:?}");
    assert!(!daemon.acknowledged);
    assert_eq!(hostile.outcome, InboundOutcome::Created, "{hostile:?}");
    let subject = world.case(hostile.case_number.unwrap()).await["subject"].as_str().unwrap().to_owned();
    assert!(!subject.contains('\r') && !subject.contains('\n'), "{subject:?}");
    let log = world.api.call(Method::GET, "/inbound-log", Some(&world.admin), None).await;
    assert_eq!(log.body["items"].as_array().map(Vec::len), Some(3));
    // AND the log is for admins only
    let agent = world.api.call(Method::POST, "/users", Some(&world.admin), Some(json!({"name": "Ann", "email": "ann@acme.test", "role": "agent"}))).await;
    let token = world.api.token(agent.body["id"].as_str().unwrap());
    world.api.call(Method::GET, "/inbound-log", Some(&token), None).await.assert_problem(403, None);
}
