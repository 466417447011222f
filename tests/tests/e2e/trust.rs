//! The trust boundaries of email, on both engines, each attack driven through the real pipeline:
//! raw messages into the inbound pipeline, the notify queue worked by the notify handler, real
//! sent mail read back (outbox folder / SES on the emulator), and the API as each caller sees it.

use std::sync::Arc;

use axum::http::Method;
use docket_domain::clock::ManualClock;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail, InboundOutcome, ThreadRule};
use docket_e2e::{Engine, RecordingMailer, TestApi, header, id_of, on_both_engines, raw_message as message};
use docket_notify::NotifyHandler;
use docket_ports::Queue;
use serde_json::{Value, json};

on_both_engines!(
    a_staff_reply_to_an_internal_note_stays_internal_and_portal_users_see_a_projection,
    reply_tokens_thread_only_mail_from_their_addressee,
    plus_addresses_with_unknown_tokens_reach_the_mailbox,
    forged_staff_senders_land_internal_and_unverified,
    acknowledgements_are_capped_per_mailbox_and_refused_to_forged_senders,
    only_admins_change_what_customers_see,
);

struct World {
    api: TestApi,
    queue: Arc<dyn Queue>,
    handler: NotifyHandler,
    mailer: Arc<RecordingMailer>,
    admin: String,
    address: String,
    domain: String,
    clock: Arc<ManualClock>,
}

async fn world(engine: Engine) -> World {
    let queue = docket_e2e::queue(engine, 5).await;
    let blobs = docket_e2e::blobs(engine).await;
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await.with_notify_queue(queue.clone()).with_blobs(blobs);
    let mailer = docket_e2e::recording_mailer(engine).await;
    let handler = NotifyHandler { docket: docket.clone(), mailer: mailer.clone(), settings: docket_e2e::test_mail_settings() };
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    // Every world gets its own addresses, so mail read back from a shared emulator stays apart.
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let domain = format!("c{tag}.test");
    let address = format!("support-{tag}@acme.test");
    let mailbox = api.call(Method::POST, "/mailboxes", Some(&admin), Some(json!({"name": "Support", "addresses": [address], "auto_ack": true}))).await;
    assert_eq!(mailbox.status, 201, "{}", mailbox.body);
    World { api, queue, handler, mailer, admin, address, domain, clock }
}

/// How a message reached us.
#[derive(Clone, Copy)]
enum Via {
    /// The local SMTP port as shipped: nothing vouches for From.
    Plain,
    /// A listener configured to vouch for its senders.
    TrustedListener,
    /// SES, with these verdict headers above its receipt.
    Ses(&'static str),
}

impl World {
    fn customer(&self, name: &str) -> String {
        format!("{name}@{}", self.domain)
    }

    async fn receive_via(&self, to: &str, raw: String, via: Via) -> InboundLogEntry {
        let pipeline = Inbound { docket: &self.api.docket, mailer: Some(self.mailer.as_ref() as &dyn docket_ports::Mailer), settings: &self.handler.settings };
        let (raw, received_by_ses, trusted_sender) = match via {
            Via::Plain => (raw, false, false),
            Via::TrustedListener => (raw, false, true),
            Via::Ses(verdicts) => (format!("{verdicts}X-SES-RECEIPT: AEFBQUFBQUFB\r\n{raw}"), true, false),
        };
        let mail = InboundMail {
            source_id: format!("test:{}", ulid::Ulid::new()),
            envelope_to: vec![to.to_owned()],
            raw: raw.into_bytes(),
            received_by_ses,
            trusted_sender,
        };
        pipeline.receive(mail).await.expect("pipeline")
    }

    async fn receive(&self, raw: String) -> InboundLogEntry {
        self.receive_via(&self.address.clone(), raw, Via::Plain).await
    }

    /// Works the notify queue until it is empty, as the notify function would.
    async fn drain(&self) {
        docket_e2e::work_notify_queue(self.queue.as_ref(), &self.handler).await;
    }

    /// Raw mail sent to `address`.
    async fn mail_to(&self, address: &str) -> Vec<String> {
        self.mailer.messages_with(address).into_iter().filter(|raw| header(raw, "To").is_some_and(|to| to.contains(address))).collect()
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let reply = self.api.call(Method::GET, path, Some(token), None).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    async fn stream(&self, token: &str, number: u64) -> Vec<Value> {
        self.get(token, &format!("/cases/{number}/stream")).await["items"].as_array().cloned().unwrap_or_default()
    }

    async fn user(&self, name: &str, role: &str, scope: &str) -> (Value, String) {
        let email = format!("{name}-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
        let user = self.api.create(&self.admin, "/users", json!({"name": name, "email": email, "role": role, "scope": scope})).await;
        let token = self.api.token(&id_of(&user));
        (user, token)
    }
}

/// The address in a Reply-To header.
fn reply_to(raw: &str) -> String {
    header(raw, "Reply-To").and_then(|v| v.split(['<', '>']).nth(1).map(str::to_owned)).expect("Reply-To address")
}

const SES_PASS: &str = "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com;\r\n spf=pass client-ip=192.0.2.10;\r\n dkim=pass header.i=@acme.test;\r\n dmarc=pass header.from=acme.test;\r\n";
const SES_UNAUTHENTICATED: &str = "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com;\r\n spf=softfail client-ip=203.0.113.9;\r\n dkim=none;\r\n dmarc=none header.from=acme.test;\r\n";
const SES_FORGED: &str = "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com;\r\n spf=fail client-ip=203.0.113.9;\r\n dkim=fail header.i=@x.test;\r\n dmarc=fail header.from=x.test;\r\n";

async fn a_staff_reply_to_an_internal_note_stays_internal_and_portal_users_see_a_projection(engine: Engine) {
    // GIVEN a portal customer's case opened by mail (with someone else in Cc), which the admin follows
    let world = world(engine).await;
    let ada = world.customer("ada");
    let (contact, portal) = world.api.portal_contact("Ada", &ada, None, json!({"role": "own_cases"})).await;
    let opened = world
        .receive(message(
            &format!("Ada <{ada}>"),
            &world.address,
            "Printer on fire",
            "p1@c.test",
            &format!("Cc: someone-else@{}\r\n", world.domain),
            "Smoke.\r\n\r\n> older quoted text\r\n",
        ))
        .await;
    let number = opened.case_number.expect("a case");
    let admin_id = world.api.admin.id.clone();
    let follow = world.api.call(Method::PUT, &format!("/cases/{number}/followers/{admin_id}"), Some(&world.admin), None).await;
    assert!(follow.status.is_success(), "{}", follow.body);
    world.drain().await;
    // WHEN Bob posts an internal note and the admin answers its notification from a mail
    // client, quoting the note, through an authenticated path
    let (_, bob) = world.user("bob", "agent", "all").await;
    let note = world.api.create(&bob, &format!("/cases/{number}/stream"), json!({"body": "SECRET-NOTE: the customer owes us money", "internal": true})).await;
    world.drain().await;
    let admin_email = world.api.admin.email.clone();
    let notification =
        world.mail_to(&admin_email).await.into_iter().find(|raw| raw.contains(&id_of(&note).to_lowercase())).expect("the admin is told of the note");
    let token_address = reply_to(&notification);
    let answer = world
        .receive_via(
            &token_address,
            message(
                &admin_email,
                &token_address,
                &format!("Re: [#{number}] Printer on fire"),
                "a1@acme.test",
                "",
                "Agreed, chase them.\r\n\r\n> SECRET-NOTE: the customer owes us money\r\n",
            ),
            Via::TrustedListener,
        )
        .await;
    // THEN the answer lands on the case as an internal entry by the admin
    assert_eq!((answer.outcome, answer.rule, answer.case_number), (InboundOutcome::Appended, Some(ThreadRule::ReplyToken), Some(number)), "{answer:?}");
    let staff_view = world.stream(&world.admin, number).await;
    let stored = staff_view.iter().find(|e| e["body"].as_str().is_some_and(|b| b.contains("Agreed, chase them"))).expect("the answer is on the case");
    assert_eq!(stored["visibility"], "internal", "{stored}");
    assert_eq!(stored["author"]["id"], json!(admin_id));
    // AND a staff mail of unknown context (only the number in the subject) is internal too
    let by_number = world
        .receive_via(
            &world.address,
            message(&admin_email, &world.address, &format!("Re: [#{number}]"), "a2@acme.test", "", "Number-only staff mail"),
            Via::TrustedListener,
        )
        .await;
    assert_eq!((by_number.outcome, by_number.rule), (InboundOutcome::Appended, Some(ThreadRule::SubjectNumber)), "{by_number:?}");
    world.drain().await;
    // AND the customer's portal shows neither, nor the note, and the stream entries they get are
    // a projection: no quoted history, no raw-message keys, no staff ids, no one else's Cc
    let reply = world.api.call(Method::GET, &format!("/cases/{number}/stream"), Some(&portal), None).await;
    let text = reply.body.to_string();
    for secret in
        ["SECRET-NOTE", "Agreed, chase them", "Number-only staff mail", "older quoted text", "raw_blob_key", "quoted_text", "someone-else@", &admin_id]
    {
        assert!(!text.contains(secret), "the portal shows {secret:?}: {text}");
    }
    assert!(text.contains("Smoke."), "the customer sees their own mail: {text}");
    // AND no mail to the customer carries any of it
    for raw in world.mail_to(&ada).await {
        for secret in ["SECRET-NOTE", "Agreed, chase them", "Number-only staff mail"] {
            assert!(!raw.contains(secret), "mail to the customer carries {secret:?}: {raw}");
        }
    }
    // AND an authenticated staff answer to the notification of a public entry is public, and
    // reaches the customer
    let public = world.api.create(&bob, &format!("/cases/{number}/stream"), json!({"body": "We are looking into it."})).await;
    world.drain().await;
    let notification =
        world.mail_to(&admin_email).await.into_iter().find(|raw| raw.contains(&id_of(&public).to_lowercase())).expect("the admin is told of the reply");
    let token_address = reply_to(&notification);
    let answer = world
        .receive_via(
            &token_address,
            message(&admin_email, &token_address, "Re: whatever", "a3@acme.test", "", "PUBLIC-ANSWER: fixed tomorrow"),
            Via::TrustedListener,
        )
        .await;
    assert_eq!((answer.rule, answer.case_number), (Some(ThreadRule::ReplyToken), Some(number)), "{answer:?}");
    world.drain().await;
    let text = world.api.call(Method::GET, &format!("/cases/{number}/stream"), Some(&portal), None).await.body.to_string();
    assert!(text.contains("PUBLIC-ANSWER"), "{text}");
    assert!(world.mail_to(&ada).await.iter().any(|raw| raw.contains("PUBLIC-ANSWER")), "the customer is mailed the public answer");
    assert_eq!(contact["emails"], json!([ada]));
}

async fn reply_tokens_thread_only_mail_from_their_addressee(engine: Engine) {
    // GIVEN reply tokens that live one day, Ada's case and the acknowledgement's reply token
    let world = world(engine).await;
    let settings = world.api.call(Method::PATCH, "/settings", Some(&world.admin), Some(json!({"reply_token_days": 1}))).await;
    assert_eq!((settings.status.as_u16(), &settings.body["reply_token_days"]), (200, &json!(1)), "{}", settings.body);
    let ada = world.customer("ada");
    let (_, portal) = world.api.portal_contact("Ada", &ada, None, json!({"role": "own_cases"})).await;
    let opened = world.receive(message(&ada, &world.address, "Refund", "r1@c.test", "", "Please refund order 7.")).await;
    let number = opened.case_number.unwrap();
    let ack = world.mail_to(&ada).await.into_iter().find(|raw| raw.contains("Refund")).expect("an acknowledgement");
    let token_address = reply_to(&ack);
    // WHEN a third party's mail (a sign-up code from some website) is sent to that address
    let spam = world
        .receive_via(
            &token_address,
            message("noreply-codes@website.test", &token_address, "Your sign-up code", "s1@website.test", "", "CODE-123456"),
            Via::Plain,
        )
        .await;
    // THEN it does not thread into Ada's case: it is handled as if no token were there, and the log says why
    assert_ne!(spam.case_number, Some(number), "{spam:?}");
    assert_eq!(spam.rule, Some(ThreadRule::NewCase), "{spam:?}");
    assert!(spam.reason.contains("issued to another address"), "{}", spam.reason);
    let text = world.api.call(Method::GET, &format!("/cases/{number}/stream"), Some(&portal), None).await.body.to_string();
    assert!(!text.contains("CODE-123456"), "{text}");
    // AND Ada's own reply by the token threads
    let hers = world.receive_via(&token_address, message(&ada, &token_address, "Re: Refund", "r2@c.test", "", "Any news?"), Via::Plain).await;
    assert_eq!((hers.rule, hers.case_number), (Some(ThreadRule::ReplyToken), Some(number)), "{hers:?}");
    // AND a customer's own Message-ID quoted by a stranger does not thread (only ours do)
    let quoting = world.receive(message("mallory@evil.test", &world.address, "hello", "m1@evil.test", "In-Reply-To: <r1@c.test>\r\n", "let me in")).await;
    assert_ne!(quoting.case_number, Some(number), "{quoting:?}");
    assert!(quoting.reason.contains("not ours"), "{}", quoting.reason);
    // AND two days later the token threads nothing, and the log says why
    world.clock.advance(time::Duration::days(2));
    let late = world.receive_via(&token_address, message(&ada, &token_address, "Re: Refund", "r3@c.test", "", "Still here"), Via::Plain).await;
    assert_eq!(late.rule, Some(ThreadRule::NewCase), "{late:?}");
    assert!(late.reason.contains("expired"), "{}", late.reason);
}

async fn plus_addresses_with_unknown_tokens_reach_the_mailbox(engine: Engine) {
    // GIVEN a mailbox at support-…@acme.test
    let world = world(engine).await;
    let (local, domain) = world.address.split_once('@').unwrap();
    // WHEN mail comes to a tag, to a forged token and to a token-shaped unknown plus part
    for plus in ["orders", "abcdefghijklmnopqrstuvwx", "x"] {
        let to = format!("{local}+{plus}@{domain}");
        let entry =
            world.receive_via(&to, message(&world.customer(plus), &to, &format!("About {plus}"), &format!("{plus}@c.test"), "", "Hello"), Via::Plain).await;
        // THEN it belongs to the mailbox: a new case, acknowledged
        assert_eq!((entry.outcome, entry.rule), (InboundOutcome::Created, Some(ThreadRule::NewCase)), "{plus}: {entry:?}");
        assert!(entry.acknowledged, "{entry:?}");
        assert!(entry.mailbox_id.is_some());
    }
}

async fn forged_staff_senders_land_internal_and_unverified(engine: Engine) {
    // GIVEN a customer's case and an agent
    let world = world(engine).await;
    let ada = world.customer("ada");
    world.api.portal_contact("Ada", &ada, None, json!({"role": "own_cases"})).await;
    let opened = world.receive(message(&ada, &world.address, "Login broken", "l1@c.test", "", "Cannot log in")).await;
    let number = opened.case_number.unwrap();
    world.drain().await;
    let (agent, _) = world.user("eve", "agent", "all").await;
    let agent_email = agent["email"].as_str().unwrap().to_owned();
    let sent_before = world.mail_to(&ada).await.len();
    // WHEN mail forged with the agent's address names the case, over a plain listener and through SES without a pass
    let forged = world
        .receive(message(
            &agent_email,
            &world.address,
            &format!("Re: [#{number}] Login broken"),
            "f1@evil.test",
            "",
            "PHISH: reset your password at http://evil.test",
        ))
        .await;
    let forged_ses = world
        .receive_via(
            &world.address,
            message(&agent_email, &world.address, &format!("Re: [#{number}]"), "f2@evil.test", "", "PHISH-2"),
            Via::Ses(SES_UNAUTHENTICATED),
        )
        .await;
    world.drain().await;
    // THEN each lands on the case as an internal entry flagged unverified, by no staff member
    for entry in [&forged, &forged_ses] {
        assert_eq!((entry.outcome, entry.case_number), (InboundOutcome::Appended, Some(number)), "{entry:?}");
        assert!(entry.reason.contains("unverified"), "{}", entry.reason);
    }
    let stream = world.stream(&world.admin, number).await;
    for marker in ["PHISH:", "PHISH-2"] {
        let e = stream.iter().find(|e| e["body"].as_str().is_some_and(|b| b.contains(marker))).expect("on the case");
        assert_eq!(e["visibility"], "internal", "{e}");
        assert_eq!(e["email"]["unverified"], true, "{e}");
        assert_ne!(e["author"]["id"], agent["id"], "{e}");
    }
    // AND nothing of it is mailed to the customer
    let after = world.mail_to(&ada).await;
    assert_eq!(after.len(), sent_before, "the customer got mail");
    assert!(after.iter().all(|raw| !raw.contains("PHISH")));
    // AND naming no case, forged staff mail opens nothing as staff
    let fresh = world.receive(message(&agent_email, &world.address, "Urgent: wire money", "f3@evil.test", "", "PHISH-3")).await;
    assert_eq!(fresh.outcome, InboundOutcome::Created, "{fresh:?}");
    let case = world.get(&world.admin, &format!("/cases/{}", fresh.case_number.unwrap())).await;
    assert_ne!(case["audit"]["created_by"], agent["id"], "{case}");
    assert!(fresh.reason.contains("not authenticated"), "{}", fresh.reason);
    // AND the same agent, authenticated by SES, answering by number, is believed (internal: unknown context)
    let real = world
        .receive_via(&world.address, message(&agent_email, &world.address, &format!("Re: [#{number}]"), "g1@acme.test", "", "Genuine note"), Via::Ses(SES_PASS))
        .await;
    assert_eq!((real.outcome, real.case_number), (InboundOutcome::Appended, Some(number)), "{real:?}");
    let stream = world.stream(&world.admin, number).await;
    let genuine = stream.iter().find(|e| e["body"].as_str().is_some_and(|b| b.contains("Genuine note"))).expect("on the case");
    assert_eq!(genuine["author"]["id"], agent["id"], "{genuine}");
    assert!(genuine["email"].get("unverified").is_none_or(|v| v == false), "{genuine}");
}

async fn acknowledgements_are_capped_per_mailbox_and_refused_to_forged_senders(engine: Engine) {
    // GIVEN a mailbox allowed two acknowledgements an hour
    let world = world(engine).await;
    let settings = world.api.call(Method::PATCH, "/settings", Some(&world.admin), Some(json!({"ack_limit_per_mailbox_per_hour": 2}))).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    // WHEN three different senders write
    let mut entries = Vec::new();
    for n in 0..3 {
        let from = world.customer(&format!("s{n}"));
        entries.push(world.receive(message(&from, &world.address, &format!("Question {n}"), &format!("q{n}@c.test"), "", "?")).await);
    }
    // THEN every message opens a case but only two are acknowledged, and the log says why
    assert!(entries.iter().all(|e| e.outcome == InboundOutcome::Created), "{entries:?}");
    assert_eq!(entries.iter().filter(|e| e.acknowledged).count(), 2, "{entries:?}");
    assert!(entries[2].reason.contains("rate limit"), "{}", entries[2].reason);
    assert!(world.mail_to(&world.customer("s2")).await.is_empty());
    // WHEN SES says the sender is forged (another world, under the cap)
    let world = self::world(engine).await;
    let victim = world.customer("victim");
    let forged = world
        .receive_via(&world.address, message(&victim, &world.address, "Click here: http://evil.test", "v1@c.test", "", "spam"), Via::Ses(SES_FORGED))
        .await;
    // THEN a case may open, but no acknowledgement carries the attacker's subject to the victim
    assert!(!forged.acknowledged, "{forged:?}");
    assert!(forged.reason.contains("forged"), "{}", forged.reason);
    assert!(world.mail_to(&victim).await.is_empty());
}

async fn only_admins_change_what_customers_see(engine: Engine) {
    // GIVEN two customer accounts, an account-portal contact of the first, and an agent of scope own
    let world = world(engine).await;
    let first = world.api.create(&world.admin, "/accounts", json!({"name": "First", "email_domains": [world.domain]})).await;
    let second = world.api.create(&world.admin, "/accounts", json!({"name": "Second"})).await;
    let (contact, _) = world.api.portal_contact("Ada", &world.customer("ada"), Some(&id_of(&first)), json!({"role": "account_cases"})).await;
    let (_, agent) = world.user("olga", "agent", "own").await;
    let path = format!("/contacts/{}", id_of(&contact));
    // WHEN the agent moves the contact to the other account, changes its addresses or grants portal access
    for patch in [json!({"account_id": id_of(&second)}), json!({"emails": ["mallory@evil.test"]}), json!({"portal": null})] {
        let reply = world.api.call(Method::PATCH, &path, Some(&agent), Some(patch.clone())).await;
        // THEN each is refused
        reply.assert_problem(403, None);
    }
    // AND an account's email domains are the admins' too
    let reply = world.api.call(Method::PATCH, &format!("/accounts/{}", id_of(&second)), Some(&agent), Some(json!({"email_domains": ["evil.test"]}))).await;
    reply.assert_problem(403, None);
    let reply = world.api.call(Method::POST, "/accounts", Some(&agent), Some(json!({"name": "Grab", "email_domains": ["victim.test"]}))).await;
    reply.assert_problem(403, None);
    // AND nothing changed; the agent may still edit what decides nothing (the phone), and admins may move the contact
    let stored = world.get(&world.admin, &path).await;
    assert_eq!(stored["account_id"], first["id"]);
    let phone = world.api.call(Method::PATCH, &path, Some(&agent), Some(json!({"phone": "+44 20 7946 0000"}))).await;
    assert_eq!(phone.status, 200, "{}", phone.body);
    let moved = world.api.call(Method::PATCH, &path, Some(&world.admin), Some(json!({"account_id": id_of(&second)}))).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
}
