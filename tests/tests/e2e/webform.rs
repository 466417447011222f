//! Web forms on both engines (SPEC F12, issue 6): admin configuration, the public submission
//! endpoint (JSON and urlencoded), its abuse guards (honeypot, sizes, rate limits per form,
//! client IP and sender, origins, malformed bodies), CORS, the embeddable page, the confirmation
//! of the sender's address before anything of the case reaches it (the open issue's attack 5),
//! and the issue's "done when" walk from a web-form submission to the portal.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{Method, header};
use docket_domain::clock::ManualClock;
use docket_domain::notify::MailSettings;
use docket_e2e::{Engine, Reply, SentMail, TEST_MAIL_FROM, TestApi, id_of, on_both_engines};
use docket_mail::compose::Address;
use docket_notify::{NotifyHandler, Outcome};
use docket_ports::Queue;
use mail_parser::MessageParser;
use serde_json::{Value, json};
use time::macros::datetime;

on_both_engines!(
    a_web_form_case_reaches_its_new_contact_in_the_portal_and_nobody_else,
    submissions_open_unverified_cases_and_never_echo_the_case,
    a_submission_naming_an_existing_customer_reaches_them_only_as_a_confirmation_request,
    a_new_address_of_an_accounts_domain_is_linked_to_the_account_only_once_confirmed,
    confirmation_links_are_unguessable_single_use_and_expire,
    abusive_and_malformed_submissions_create_nothing,
    rate_limits_answer_429_until_the_window_passes,
    limits_count_per_client_ip_never_per_forwarded_header,
    cors_answers_only_allowed_origins,
    admins_configure_forms_and_the_embed_page_is_escaped,
);

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const OPTIONS: Method = Method::OPTIONS;
/// Where links in mail point in these tests.
const PUBLIC_URL: &str = "https://help.docket.test";

/// The body every accepted (or silently discarded) submission gets.
fn received() -> Value {
    json!({"status": "received", "detail": "Thank you. Your message has been received."})
}

/// The API on a clock that stands still (30 s into a minute), so rate windows never roll over
/// in the middle of a test.
async fn api_at_fixed_time(engine: Engine) -> (TestApi, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 09:00:30 UTC)));
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await;
    (TestApi::with_docket(docket).await, clock)
}

/// The API at a fixed time with its notify queue, and the notify worker on a real mailer (the
/// outbox folder, or SES on the emulator) to work it.
struct Mailroom {
    api: TestApi,
    clock: Arc<ManualClock>,
    queue: Arc<dyn Queue>,
    handler: NotifyHandler,
    sent: SentMail,
}

/// One sent mail, decoded.
#[derive(Debug)]
struct Mail {
    raw: String,
    subject: String,
    text: String,
}

async fn mailroom(engine: Engine) -> Mailroom {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 09:00:30 UTC)));
    let queue = docket_e2e::queue(engine, 5).await;
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await.with_notify_queue(queue.clone());
    let (mailer, sent) = docket_e2e::mailer(engine).await;
    let settings = MailSettings {
        from: Address { name: Some("Docket Support".into()), email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: Some(PUBLIC_URL.into()),
    };
    let handler = NotifyHandler { docket: docket.clone(), mailer, settings };
    Mailroom { api: TestApi::with_docket(docket).await, clock, queue, handler, sent }
}

impl Mailroom {
    /// Works the notify queue until it is empty, as the notify function would; every message
    /// must succeed. Returns the bodies of the messages worked.
    async fn work_queue(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let deliveries = self.queue.receive(10, std::time::Duration::from_secs(60)).await.expect("receive");
            if deliveries.is_empty() {
                return bodies;
            }
            for d in deliveries {
                assert_eq!(self.handler.handle_message(&d.message_id, &d.body).await, Outcome::Done, "{}", d.body);
                self.queue.ack(&d.receipt).await.expect("ack");
                bodies.push(d.body);
            }
        }
    }

    /// Every mail sent so far (on SES: by every test on the emulator), decoded.
    async fn all_mail(&self) -> Vec<Mail> {
        self.sent
            .raw_messages()
            .await
            .into_iter()
            .map(|raw| {
                let parsed = MessageParser::default().parse(&raw);
                let subject = parsed.as_ref().and_then(|p| p.subject()).unwrap_or_default().to_owned();
                let text = parsed.as_ref().and_then(|p| p.body_text(0)).map(|t| t.into_owned()).unwrap_or_default();
                Mail { raw: String::from_utf8_lossy(&raw).into_owned(), subject, text }
            })
            .collect()
    }

    /// The mail sent to an address.
    async fn mail_to(&self, address: &str) -> Vec<Mail> {
        let to = format!("<{address}>");
        self.all_mail()
            .await
            .into_iter()
            .filter(|m| m.raw.lines().any(|l| l.starts_with("To:") && (l.contains(&to) || l.trim_end().ends_with(address))))
            .collect()
    }

    /// The token of the one confirmation mail sent to an address.
    async fn confirmation_token(&self, address: &str) -> String {
        let mail = self.mail_to(address).await;
        assert_eq!(mail.len(), 1, "one mail to {address}: {mail:?}");
        token_in(&mail[0].text)
    }

    /// Confirms the one confirmation mail sent to an address, as its owner's browser would.
    async fn confirm(&self, address: &str) -> Reply {
        let token = self.confirmation_token(address).await;
        self.api.send(POST, &format!("/web-forms/confirm/{token}"), None, &[], None).await
    }
}

/// The token of the confirmation link in a mail's text.
fn token_in(text: &str) -> String {
    let prefix = format!("{PUBLIC_URL}/web-forms/confirm/");
    let start = text.find(&prefix).unwrap_or_else(|| panic!("no confirmation link in {text}")) + prefix.len();
    text[start..].chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// An address no other test (on the shared emulator) uses.
fn unique_address(local: &str, domain: &str) -> String {
    format!("{local}-{}@{domain}", ulid::Ulid::new().to_string().to_lowercase())
}

async fn form(api: &TestApi, body: Value) -> String {
    id_of(&api.create(&api.admin_token(), "/forms", body).await)
}

/// Submits a JSON body without a token, with extra headers.
async fn submit(api: &TestApi, form_id: &str, headers: &[(&str, &str)], body: Value) -> Reply {
    api.send(POST, &format!("/forms/{form_id}/submissions"), None, headers, Some(body.to_string())).await
}

async fn submit_urlencoded(api: &TestApi, form_id: &str, body: &str) -> Reply {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    api.send(POST, &format!("/forms/{form_id}/submissions"), None, &headers, Some(body.to_owned())).await
}

async fn all_cases(api: &TestApi) -> Vec<Value> {
    let reply = api.call(GET, "/cases", Some(&api.admin_token()), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().expect("items").clone()
}

async fn stats(api: &TestApi, form_id: &str) -> Value {
    let reply = api.call(GET, &format!("/forms/{form_id}/stats"), Some(&api.admin_token()), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().expect("items").iter().map(id_of).collect()
}

/// The ids of the followers of a case, as an admin reads them.
async fn followers(api: &TestApi, case_id: &str) -> Vec<String> {
    let reply = api.call(GET, &format!("/cases/{case_id}/followers"), Some(&api.admin_token()), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let items = reply.body.as_array().or_else(|| reply.body["items"].as_array()).expect("followers").clone();
    items.iter().map(|f| f["follower_id"].as_str().expect("follower_id").to_owned()).collect()
}

async fn a_web_form_case_reaches_its_new_contact_in_the_portal_and_nobody_else(engine: Engine) {
    // GIVEN a form of the support team allowing two submissions per sender and hour
    let room = mailroom(engine).await;
    let api = &room.api;
    let admin = api.admin_token();
    let team = id_of(&api.create(&admin, "/teams", json!({"name": "Support"})).await);
    let form_id = form(api, json!({"name": "Contact us", "team_id": team, "rate_limits": {"per_sender_per_hour": 2}})).await;
    let nina_address = unique_address("nina", "newco.example");
    // WHEN someone unknown submits it
    let submission = json!({"name": "Nina New", "email": nina_address, "subject": "Order 1234 missing", "message": "Where is my parcel?"});
    let first = submit(api, &form_id, &[], submission.clone()).await;
    // THEN it is received, without a word about the case
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.body, received());
    // AND a web-form case of the form's team waits for the sender, who has no contact yet
    assert!(api.docket.directory().contact_by_email(&nina_address).await.expect("lookup").is_none());
    let cases = all_cases(api).await;
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["source"], "web_form");
    assert_eq!(case["subject"], "Order 1234 missing");
    assert_eq!(case["description"], "Where is my parcel?");
    assert_eq!(case["contact_ids"], json!([]));
    assert_eq!(case["pending_sender"], json!({"name": "Nina New", "email": nina_address, "form_id": form_id}));
    assert_eq!(case["team_ids"], json!([team]));
    // WHEN the sender confirms their address from the mail they got
    room.work_queue().await;
    let confirmed = room.confirm(&nina_address).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    // THEN a contact was created for the address, and the case is theirs
    let contact = api.docket.directory().contact_by_email(&nina_address).await.expect("lookup").expect("contact created");
    assert_eq!(contact.name, "Nina New");
    let case_path = format!("/cases/{}", id_of(case));
    let case = api.call(GET, &case_path, Some(&admin), None).await.body;
    assert_eq!(case["contact_ids"], json!([contact.id]));
    assert_eq!(case.get("pending_sender"), None, "{case}");
    // AND agents answer publicly and note something internally
    let reply = api.create(&admin, &format!("{case_path}/stream"), json!({"body": "It ships tomorrow."})).await;
    let note = api.create(&admin, &format!("{case_path}/stream"), json!({"body": "Warehouse lost it", "internal": true})).await;
    // WHEN an admin gives the contact portal access
    let granted = api.call(PATCH, &format!("/contacts/{}", contact.id), Some(&admin), Some(json!({"portal": {"role": "own_cases"}}))).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let nina = api.token(&contact.id);
    // THEN the contact sees the case and its public reply, but not the internal note
    assert_eq!(ids(&api.call(GET, "/cases", Some(&nina), None).await), vec![id_of(&case)]);
    assert_eq!(api.call(GET, &case_path, Some(&nina), None).await.body["subject"], "Order 1234 missing");
    let stream = ids(&api.call(GET, &format!("{case_path}/stream"), Some(&nina), None).await);
    assert!(stream.contains(&id_of(&reply)), "{stream:?}");
    assert!(!stream.contains(&id_of(&note)), "internal note shown: {stream:?}");
    // AND a portal user of another account sees nothing of it
    let other_account = id_of(&api.create(&admin, "/accounts", json!({"name": "Other Co"})).await);
    let (_, oscar) = api.portal_contact("Oscar", "oscar@other.example", Some(&other_account), json!({"role": "account_cases"})).await;
    assert!(ids(&api.call(GET, "/cases", Some(&oscar), None).await).is_empty());
    api.call(GET, &case_path, Some(&oscar), None).await.assert_problem(404, None);
    api.call(GET, &format!("{case_path}/stream"), Some(&oscar), None).await.assert_problem(404, None);
    // WHEN the same sender submits a second and a third time within the hour
    let second = submit(api, &form_id, &[], json!({"name": "Nina New", "email": nina_address, "subject": "Still waiting", "message": "?"})).await;
    let third = submit(api, &form_id, &[], json!({"name": "Nina New", "email": nina_address, "subject": "Hello??", "message": "!"})).await;
    // THEN the second is received and the third, beyond the limit, is refused with 429
    assert_eq!(second.status, 202, "{}", second.body);
    third.assert_problem(429, None);
    let retry_after: u64 = third.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=3600).contains(&retry_after), "Retry-After {retry_after}");
    // AND exactly two cases exist: the confirmed one, and the second, waiting for its own
    // confirmation and not in the contact's portal meanwhile
    let cases = all_cases(api).await;
    assert_eq!(cases.len(), 2);
    let second_case = cases.iter().find(|c| c["subject"] == "Still waiting").expect("second case");
    assert_eq!(second_case["contact_ids"], json!([]));
    assert_eq!(second_case["pending_sender"]["email"], nina_address.as_str());
    assert_eq!(ids(&api.call(GET, "/cases", Some(&nina), None).await), vec![id_of(&case)]);
}

async fn submissions_open_unverified_cases_and_never_echo_the_case(engine: Engine) {
    // GIVEN an account owning a domain, a known contact, and a form whose subject is optional
    let (api, _) = api_at_fixed_time(engine).await;
    let admin = api.admin_token();
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme", "email_domains": ["acme.example"]})).await);
    let known = api.create(&admin, "/contacts", json!({"name": "Known Customer", "emails": ["known@customer.example"], "account_id": acme})).await;
    let team = id_of(&api.create(&admin, "/teams", json!({"name": "Sales"})).await);
    let mailbox = id_of(&api.create(&admin, "/mailboxes", json!({"name": "Sales", "addresses": ["sales@docket.example"], "team_id": team})).await);
    let form_id = form(&api, json!({"name": "Quick question", "mailbox_id": mailbox, "fields": {"subject": "optional", "name": "optional"}})).await;
    // WHEN someone submits under the known contact's address and another name, as an HTML form
    // would (urlencoded)
    let known_reply =
        submit_urlencoded(&api, &form_id, "name=Someone+Else&email=KNOWN%40customer.example&subject=Refund&message=Please+refund+order+%2399").await;
    // THEN it is received and the case waits for the address's owner: no contact, no account
    assert_eq!(known_reply.status, 202, "{}", known_reply.body);
    assert_eq!(known_reply.body, received());
    let cases = all_cases(&api).await;
    assert_eq!(cases[0]["contact_ids"], json!([]));
    assert_eq!(cases[0]["account_id"], Value::Null);
    assert_eq!(cases[0]["pending_sender"], json!({"name": "Someone Else", "email": "known@customer.example", "form_id": form_id}));
    assert_eq!(cases[0]["description"], "Please refund order #99");
    // AND the known contact is unchanged and follows nothing
    let stored = api.call(GET, &format!("/contacts/{}", id_of(&known)), Some(&admin), None).await;
    assert_eq!(stored.body["name"], "Known Customer");
    assert_eq!(stored.body["version"], 1);
    assert!(followers(&api, &id_of(&cases[0])).await.is_empty());
    // WHEN a new sender of the account's domain submits without subject or name, from a browser
    let browser = api
        .send(
            POST,
            &format!("/forms/{form_id}/submissions"),
            None,
            &[("content-type", "application/x-www-form-urlencoded"), ("accept", "text/html,application/xhtml+xml")],
            Some("email=wile%40acme.example&message=The+anvil+arrived+broken%0Aplease+send+another".into()),
        )
        .await;
    // THEN the browser gets a thank-you page naming nothing of the case
    assert_eq!(browser.status, 202);
    assert!(browser.content_type().starts_with("text/html"), "{}", browser.content_type());
    let page = browser.body.as_str().expect("html");
    assert!(page.contains("Thank you") && !page.contains("anvil"), "{page}");
    // AND no contact is created and nothing is linked to the account by the domain yet
    assert!(api.docket.directory().contact_by_email("wile@acme.example").await.expect("lookup").is_none());
    let cases = all_cases(&api).await;
    let case = cases.iter().find(|c| c["pending_sender"]["email"] == "wile@acme.example").expect("case of the new sender");
    assert_eq!(case["pending_sender"]["name"], "wile", "named after the address");
    assert_eq!(case["account_id"], Value::Null);
    assert_eq!(case["contact_ids"], json!([]));
    // AND the case's subject is the message's first line
    assert_eq!(case["subject"], "The anvil arrived broken");
    assert_eq!(case["source"], "web_form");
    assert_eq!(case["status"], "New");
    // AND it belongs to the form's mailbox and, the form naming no team, to the mailbox's team
    assert_eq!(case["mailbox_id"], mailbox);
    assert_eq!(case["team_ids"], json!([team]));
    // AND the outcome counts say two were accepted
    assert_eq!(stats(&api, &form_id).await, json!({"accepted": 2, "honeypot": 0, "rate_limited": 0}));
}

async fn a_submission_naming_an_existing_customer_reaches_them_only_as_a_confirmation_request(engine: Engine) {
    // GIVEN a customer account with a portal customer (own cases) and a colleague of theirs who
    // sees all the account's cases, and a public form
    let room = mailroom(engine).await;
    let api = &room.api;
    let admin = api.admin_token();
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme", "email_domains": ["acme.example"]})).await);
    let pat_address = unique_address("pat", "acme.example");
    let (pat, pat_token) = api.portal_contact("Pat Customer", &pat_address, Some(&acme), json!({"role": "own_cases"})).await;
    let (_, boss_token) = api.portal_contact("Bo Boss", &unique_address("bo", "acme.example"), Some(&acme), json!({"role": "account_cases"})).await;
    let form_id = form(api, json!({"name": "Contact us"})).await;
    // WHEN an attacker submits the form in the customer's name, with a phishing text
    let marker = ulid::Ulid::new().to_string();
    let subject = format!("Your refund {marker} is ready");
    let message = format!("Log in at http://evil.example/{marker} to claim it");
    let name = format!("Billing Department {marker}");
    let reply = submit(api, &form_id, &[], json!({"name": name, "email": pat_address.to_uppercase(), "subject": subject, "message": message})).await;
    // THEN it is received like any submission
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body, received());
    // AND agents see the case, flagged as waiting for the sender, without contact or account
    let cases = all_cases(api).await;
    assert_eq!(cases.len(), 1);
    let case_id = id_of(&cases[0]);
    assert_eq!(cases[0]["subject"], subject.as_str());
    assert_eq!(cases[0]["contact_ids"], json!([]));
    assert_eq!(cases[0]["account_id"], Value::Null);
    assert_eq!(cases[0]["pending_sender"], json!({"name": name, "email": pat_address, "form_id": form_id}));
    // AND the customer does not follow it and neither they nor their colleague see it
    assert!(followers(api, &case_id).await.is_empty());
    assert!(ids(&api.call(GET, "/me/follows", Some(&pat_token), None).await).is_empty());
    assert!(ids(&api.call(GET, "/cases", Some(&pat_token), None).await).is_empty());
    assert!(ids(&api.call(GET, "/cases", Some(&boss_token), None).await).is_empty());
    api.call(GET, &format!("/cases/{case_id}"), Some(&pat_token), None).await.assert_problem(404, None);
    // WHEN the notify worker works its queue
    let messages = room.work_queue().await;
    // THEN no queued message carried the submitted text, and one asked for a confirmation
    assert!(messages.iter().all(|m| !m.contains(&marker)), "{messages:?}");
    let confirm_requests: Vec<Value> =
        messages.iter().map(|m| serde_json::from_str::<Value>(m).expect("json")).filter(|m| m.get("confirm").is_some()).collect();
    assert_eq!(confirm_requests.len(), 1, "{messages:?}");
    assert_eq!(confirm_requests[0]["confirm"], json!({"email": pat_address}));
    assert_eq!(confirm_requests[0]["case_id"], case_id.as_str());
    // AND no mail anywhere carries the submitted subject, text or name
    assert!(room.all_mail().await.iter().all(|m| !m.raw.contains(&marker) && !m.subject.contains(&marker) && !m.text.contains(&marker)));
    // AND the only mail to the address is a confirmation naming the form, with a link
    let mail = room.mail_to(&pat_address).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].subject, "Please confirm your request to Contact us");
    assert!(mail[0].text.contains("\"Contact us\"") && mail[0].text.contains(&format!("{PUBLIC_URL}/web-forms/confirm/")), "{}", mail[0].text);
    let token = token_in(&mail[0].text);
    assert!(token.len() >= 24, "120 bits at least: {token}");
    // WHEN the confirmation message is delivered once more
    let again = serde_json::to_string(&confirm_requests[0]).expect("json");
    assert_eq!(room.handler.handle_message("redelivered", &again).await, Outcome::Done);
    // THEN no second mail goes out
    assert_eq!(room.mail_to(&pat_address).await.len(), 1);
    // WHEN a mail scanner (or the customer) opens the link
    let page = api.send(GET, &format!("/web-forms/confirm/{token}"), None, &[], None).await;
    // THEN it gets a page with a button, and nothing is confirmed yet
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.content_type().starts_with("text/html"));
    let html = page.body.as_str().expect("html");
    assert!(html.contains(r#"<form method="post">"#) && !html.contains(&marker), "{html}");
    assert_eq!(page.headers.get(header::REFERRER_POLICY).and_then(|v| v.to_str().ok()), Some("no-referrer"));
    assert_eq!(api.call(GET, &format!("/cases/{case_id}"), Some(&admin), None).await.body["contact_ids"], json!([]));
    // WHEN the customer presses the button
    let confirmed = api.send(POST, &format!("/web-forms/confirm/{token}"), None, &[], None).await;
    // THEN the address is confirmed: the case is theirs, in their account, and they follow it
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "confirmed");
    let case = api.call(GET, &format!("/cases/{case_id}"), Some(&admin), None).await.body;
    assert_eq!(case["contact_ids"], json!([id_of(&pat)]));
    assert_eq!(case["account_id"], acme);
    assert_eq!(case.get("pending_sender"), None, "{case}");
    assert_eq!(followers(api, &case_id).await, vec![id_of(&pat)]);
    assert_eq!(ids(&api.call(GET, "/cases", Some(&pat_token), None).await), vec![case_id.clone()]);
    assert_eq!(ids(&api.call(GET, "/me/follows", Some(&pat_token), None).await), vec![case_id.clone()]);
    assert_eq!(ids(&api.call(GET, "/cases", Some(&boss_token), None).await), vec![case_id.clone()]);
    // AND the stream tells the staff, and the customer's record was not touched
    let stream = api.call(GET, &format!("/cases/{case_id}/stream"), Some(&admin), None).await.body;
    let confirmed_entry =
        stream["items"].as_array().expect("items").iter().find(|e| e["system"]["event"] == "sender_confirmed").expect("sender_confirmed entry");
    assert_eq!(confirmed_entry["system"]["email"], pat_address.as_str());
    assert_eq!(confirmed_entry["visibility"], "internal");
    let stored = api.call(GET, &format!("/contacts/{}", id_of(&pat)), Some(&admin), None).await.body;
    assert_eq!((stored["name"].as_str(), stored["version"].as_u64()), (Some("Pat Customer"), Some(1)));
    // AND the link is spent: a second press changes nothing and says so
    api.send(POST, &format!("/web-forms/confirm/{token}"), None, &[], None).await.assert_problem(410, None);
    api.send(GET, &format!("/web-forms/confirm/{token}"), None, &[], None).await.assert_problem(410, None);
    assert_eq!(api.call(GET, &format!("/cases/{case_id}"), Some(&admin), None).await.body["version"], case["version"]);
    // AND from now on the customer hears about the case like any other
    let answer = api.create(&admin, &format!("/cases/{case_id}/stream"), json!({"body": "We are on it."})).await;
    room.work_queue().await;
    let answered = room.mail_to(&pat_address).await;
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert!(answered.iter().any(|m| m.raw.contains(&id_of(&answer).to_lowercase())), "{answered:?}");
}

async fn a_new_address_of_an_accounts_domain_is_linked_to_the_account_only_once_confirmed(engine: Engine) {
    // GIVEN an account owning a domain, a colleague seeing all its cases in the portal, a form
    let room = mailroom(engine).await;
    let api = &room.api;
    let admin = api.admin_token();
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme", "email_domains": ["acme.example"]})).await);
    let (_, boss_token) = api.portal_contact("Bo Boss", &unique_address("bo", "acme.example"), Some(&acme), json!({"role": "account_cases"})).await;
    let form_id = form(api, json!({"name": "Support"})).await;
    // AND a service agreement for the account's cases
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
    let calendar = id_of(&api.create(&admin, "/calendars", json!({"name": "Office", "time_zone": "UTC", "hours": hours})).await);
    let agreement = json!({
        "name": "Acme Gold",
        "calendar_id": calendar,
        "targets": {"Normal": {"first_response_minutes": 60}},
        "applies_to": {"kind": "accounts", "account_ids": [acme]},
    });
    api.create(&admin, "/service-agreements", agreement).await;
    // WHEN someone submits with a new address of that domain
    let wile_address = unique_address("wile", "acme.example");
    let reply = submit(api, &form_id, &[], json!({"name": "Wile E.", "email": wile_address, "subject": "Anvil", "message": "Broken again"})).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    // THEN no contact exists for it, the case is in no account and the colleague sees nothing
    assert!(api.docket.directory().contact_by_email(&wile_address).await.expect("lookup").is_none());
    let case_id = id_of(&all_cases(api).await[0]);
    let case = api.call(GET, &format!("/cases/{case_id}"), Some(&admin), None).await.body;
    assert_eq!((case["account_id"].clone(), case["contact_ids"].clone()), (Value::Null, json!([])));
    assert!(ids(&api.call(GET, "/cases", Some(&boss_token), None).await).is_empty());
    // AND no agreement governs it yet: nothing says it is the account's
    assert!(case.get("sla").is_none(), "{case}");
    // WHEN the owner of the address confirms it
    room.work_queue().await;
    let confirmed = room.confirm(&wile_address).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    // THEN the contact is created, under the submitted name, in the account of its domain
    let wile = api.docket.directory().contact_by_email(&wile_address).await.expect("lookup").expect("contact created");
    assert_eq!(wile.name, "Wile E.");
    assert_eq!(wile.account_id.as_deref(), Some(acme.as_str()));
    assert_eq!(wile.portal, None);
    // AND the case is theirs and the account's, which the colleague now sees
    let case = api.call(GET, &format!("/cases/{case_id}"), Some(&admin), None).await.body;
    assert_eq!(case["contact_ids"], json!([wile.id]));
    assert_eq!(case["account_id"], acme);
    assert_eq!(ids(&api.call(GET, "/cases", Some(&boss_token), None).await), vec![case_id]);
    // AND the account's agreement governs it from its creation (09:00 plus one business hour)
    assert_eq!(case["sla"]["agreement_name"], "Acme Gold", "{case}");
    assert_eq!(case["sla"]["first_response"]["due_at"], "2030-01-01T10:00:00Z", "{}", case["sla"]);
}

async fn confirmation_links_are_unguessable_single_use_and_expire(engine: Engine) {
    // GIVEN two submissions from two new addresses, their confirmation mails sent
    let room = mailroom(engine).await;
    let api = &room.api;
    let form_id = form(api, json!({"name": "Support"})).await;
    let (late, other) = (unique_address("late", "late.example"), unique_address("other", "late.example"));
    for address in [&late, &other] {
        let reply = submit(api, &form_id, &[], json!({"name": "L", "email": address, "subject": "S", "message": "M"})).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    room.work_queue().await;
    let (late_token, other_token) = (room.confirmation_token(&late).await, room.confirmation_token(&other).await);
    // THEN every mail got its own token
    assert_ne!(late_token, other_token);
    // AND unknown and malformed tokens are not found, whatever the method
    for token in ["aaaaaaaaaaaaaaaaaaaaaaaa", "01PLACEHOLDER", "..%2F..%2Fcases"] {
        api.send(GET, &format!("/web-forms/confirm/{token}"), None, &[], None).await.assert_problem(404, None);
        api.send(POST, &format!("/web-forms/confirm/{token}"), None, &[], None).await.assert_problem(404, None);
    }
    // WHEN the first sender confirms within the week and the second after it
    room.clock.advance(time::Duration::days(6));
    assert_eq!(api.send(POST, &format!("/web-forms/confirm/{other_token}"), None, &[], None).await.status, 200);
    room.clock.advance(time::Duration::days(1));
    // THEN the late link is refused as expired, and its case still waits without a contact
    let expired = api.send(POST, &format!("/web-forms/confirm/{late_token}"), None, &[], None).await;
    expired.assert_problem(410, None);
    assert_eq!(expired.body["type"], "urn:docket:problem:confirmation-expired");
    api.send(GET, &format!("/web-forms/confirm/{late_token}"), None, &[], None).await.assert_problem(410, None);
    assert!(api.docket.directory().contact_by_email(&late).await.expect("lookup").is_none());
    let waiting: Vec<Value> = all_cases(api).await.into_iter().filter(|c| c["pending_sender"]["email"] == late.as_str()).collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["contact_ids"], json!([]));
}

async fn abusive_and_malformed_submissions_create_nothing(engine: Engine) {
    // GIVEN a form, a disabled form and a valid submission
    let (api, _) = api_at_fixed_time(engine).await;
    let form_id = form(&api, json!({"name": "Support"})).await;
    let disabled = form(&api, json!({"name": "Old form", "enabled": false})).await;
    let valid = json!({"name": "Bot", "email": "bot@spam.example", "subject": "Buy now", "message": "Cheap pills"});
    // WHEN a bot fills the honeypot THEN it is told "received", exactly as a person would be
    let mut trapped = valid.clone();
    trapped["website"] = json!("http://spam.example");
    let honeypot = submit(&api, &form_id, &[], trapped).await;
    assert_eq!(honeypot.status, 202, "{}", honeypot.body);
    assert_eq!(honeypot.body, received());
    let trapped_form = submit_urlencoded(&api, &form_id, "name=Bot&email=bot%40spam.example&subject=x&message=y&website=spam").await;
    assert_eq!(trapped_form.status, 202);
    // AND malformed, oversize, incomplete and unknown submissions get problem documents
    let raw = |content_type: &'static str, body: String| {
        let (api, path) = (&api, format!("/forms/{form_id}/submissions"));
        async move { api.send(POST, &path, None, &[("content-type", content_type)], Some(body)).await }
    };
    raw("application/json", r#"{"email": "#.into()).await.assert_problem(400, None);
    raw("application/json", "[1, 2]".into()).await.assert_problem(400, None);
    raw("application/x-www-form-urlencoded", "email=a%ZZ".into()).await.assert_problem(400, None);
    raw("application/x-www-form-urlencoded", "email=a%40b.example&email=c%40d.example".into()).await.assert_problem(400, Some("email"));
    raw("application/x-www-form-urlencoded", "message=%C3%28".into()).await.assert_problem(400, None);
    raw("text/plain", "hello".into()).await.assert_problem(415, Some("Content-Type"));
    raw("application/json", json!({"email": "a@b.example", "message": "x".repeat(200_000)}).to_string()).await.assert_problem(413, None);
    let long_message = json!({"name": "A", "email": "a@b.example", "subject": "s", "message": "x".repeat(10_001)});
    submit(&api, &form_id, &[], long_message).await.assert_problem(422, Some("message"));
    submit(&api, &form_id, &[], json!({"name": "A", "subject": "s", "message": "m"})).await.assert_problem(422, Some("email"));
    submit(&api, &form_id, &[], json!({"name": "A", "email": "not-an-address", "subject": "s", "message": "m"})).await.assert_problem(422, Some("email"));
    submit(&api, &form_id, &[], json!({"email": "a@b.example", "subject": "s", "message": "m"})).await.assert_problem(422, Some("name"));
    // AND a browser posting the embedded form gets the form back: the reason by its field, in
    // words, with what was typed kept and escaped
    let browser = api
        .send(
            POST,
            &format!("/forms/{form_id}/submissions"),
            None,
            &[("content-type", "application/x-www-form-urlencoded"), ("accept", "text/html")],
            Some("name=%3Cb%3EAl%3C%2Fb%3E&email=not-an-address&subject=Hi&message=Help".into()),
        )
        .await;
    assert_eq!(browser.status, 422);
    let page = browser.body.as_str().expect("html");
    assert!(page.contains(r#"value="not-an-address" required aria-invalid="true""#), "{page}");
    assert!(page.contains(">Please check Email: ") && page.contains(r#"value="&lt;b&gt;Al&lt;/b&gt;""#), "{page}");
    assert!(browser.headers.get(header::CONTENT_SECURITY_POLICY).is_some_and(|p| p.to_str().is_ok_and(|p| p.contains("frame-ancestors"))));
    submit(&api, &form_id, &[], json!({"name": "A", "email": "a@b.example", "subject": "two\r\nlines", "message": "m"}))
        .await
        .assert_problem(422, Some("subject"));
    submit(&api, &form_id, &[], json!({"name": "A", "email": "a@b.example", "subject": "s", "message": "m", "phone": "1"}))
        .await
        .assert_problem(422, Some("phone"));
    submit(&api, &form_id, &[], json!({"name": "A", "email": ["a@b.example"], "subject": "s", "message": "m"})).await.assert_problem(422, Some("email"));
    // AND unknown and disabled forms are refused, and a page of a foreign origin too
    submit(&api, "01NOSUCHFORM", &[], valid.clone()).await.assert_problem(404, None);
    submit(&api, &disabled, &[], valid.clone()).await.assert_problem(403, None);
    submit(&api, &form_id, &[("origin", "https://evil.example")], valid.clone()).await.assert_problem(403, Some("Origin"));
    // THEN nothing was created: no case, no contact
    assert!(all_cases(&api).await.is_empty());
    assert!(api.docket.directory().contact_by_email("bot@spam.example").await.expect("lookup").is_none());
    assert!(api.docket.directory().contact_by_email("a@b.example").await.expect("lookup").is_none());
    // AND the honeypot catches were counted for the admins
    assert_eq!(stats(&api, &form_id).await["honeypot"], 2);
}

async fn rate_limits_answer_429_until_the_window_passes(engine: Engine) {
    // GIVEN a form taking three submissions a minute in all, one per sender and hour
    let (api, clock) = api_at_fixed_time(engine).await;
    let form_id = form(&api, json!({"name": "Busy", "rate_limits": {"per_form_per_minute": 3, "per_sender_per_hour": 1}})).await;
    let from = |who: &str| json!({"name": who, "email": format!("{who}@senders.example"), "subject": "Hi", "message": "Hello"});
    // WHEN one sender submits twice THEN the second is refused for that sender only
    assert_eq!(submit(&api, &form_id, &[], from("ann")).await.status, 202);
    let again = submit(&api, &form_id, &[], from("ann")).await;
    again.assert_problem(429, None);
    assert_eq!(again.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("3570"), "the hour window ends 59:30 from now");
    assert_eq!(submit(&api, &form_id, &[], from("bob")).await.status, 202);
    // WHEN the form's minute is used up THEN everyone is refused until it ends
    let crowd = submit(&api, &form_id, &[], from("cat")).await;
    crowd.assert_problem(429, None);
    assert_eq!(crowd.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("30"));
    // AND refused submissions created nothing
    assert_eq!(all_cases(&api).await.len(), 2);
    // WHEN the minute has passed THEN the form takes submissions again, but not from Ann
    clock.advance(time::Duration::seconds(31));
    assert_eq!(submit(&api, &form_id, &[], from("cat")).await.status, 202);
    submit(&api, &form_id, &[], from("ann")).await.assert_problem(429, None);
    // WHEN the hour has passed THEN Ann may write again
    clock.advance(time::Duration::hours(1));
    assert_eq!(submit(&api, &form_id, &[], from("ann")).await.status, 202);
    assert_eq!(all_cases(&api).await.len(), 4);
    assert_eq!(stats(&api, &form_id).await, json!({"accepted": 4, "honeypot": 0, "rate_limited": 3}));
}

/// A form submission as API Gateway hands it to the function (the sample event), from
/// `source_ip`, with an `X-Forwarded-For` header the client wrote.
fn gateway_submission(form_id: &str, source_ip: &str, forwarded_for: &str, email: &str) -> axum::http::Request<axum::body::Body> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/api-11-form-submission.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("json");
    event["rawPath"] = json!(format!("/forms/{form_id}/submissions"));
    event["requestContext"]["http"]["path"] = event["rawPath"].clone();
    event["pathParameters"]["form_id"] = json!(form_id);
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    event["headers"]["x-forwarded-for"] = json!(forwarded_for);
    event["headers"].as_object_mut().expect("headers").remove("origin");
    event["headers"].as_object_mut().expect("headers").remove("content-length");
    event["body"] = json!(format!("name=Ev&email={}&subject=Hi&message=Hello", email.replace('@', "%40")));
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    let (parts, body) = request.into_parts();
    axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()))
}

async fn limits_count_per_client_ip_never_per_forwarded_header(engine: Engine) {
    // GIVEN a form taking two submissions per client IP and hour
    let (api, clock) = api_at_fixed_time(engine).await;
    let form_id = form(&api, json!({"name": "Busy", "rate_limits": {"per_ip_per_hour": 2}})).await;
    let path = format!("/forms/{form_id}/submissions");
    let body = |who: &str| Some(json!({"name": who, "email": format!("{who}@senders.example"), "subject": "Hi", "message": "Hello"}).to_string());
    let peer = |ip: &str| SocketAddr::new(ip.parse().expect("ip"), 40_000);
    // WHEN one client (a TCP peer of the local server) submits as three different senders
    assert_eq!(api.send_from(peer("203.0.113.7"), POST, &path, &[], body("ann")).await.status, 202);
    assert_eq!(api.send_from(peer("203.0.113.7"), POST, &path, &[("x-forwarded-for", "192.0.2.1")], body("bob")).await.status, 202);
    let third = api.send_from(peer("203.0.113.7"), POST, &path, &[("x-forwarded-for", "192.0.2.2")], body("cat")).await;
    // THEN the third is refused with 429, whatever the client says it forwards for
    third.assert_problem(429, None);
    assert_eq!(third.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("3570"));
    // AND another client is not held by it
    assert_eq!(api.send_from(peer("198.51.100.9"), POST, &path, &[], body("dan")).await.status, 202);
    // AND the addresses of one IPv6 /64 network count as one client
    assert_eq!(api.send_from(peer("2001:db8:5:6::1"), POST, &path, &[], body("eve")).await.status, 202);
    assert_eq!(api.send_from(peer("2001:db8:5:6::2"), POST, &path, &[], body("fay")).await.status, 202);
    api.send_from(peer("2001:db8:5:6:ffff::3"), POST, &path, &[], body("gus")).await.assert_problem(429, None);
    // WHEN submissions come through API Gateway THEN its source IP is the client, not the header
    assert_eq!(api.send_request(gateway_submission(&form_id, "192.0.2.44", "10.0.0.1", "hal@senders.example")).await.status, 202);
    assert_eq!(api.send_request(gateway_submission(&form_id, "192.0.2.44", "10.0.0.2", "ida@senders.example")).await.status, 202);
    // (the sample event is a browser's post of the embedded form: it gets the form back, saying why)
    let limited = api.send_request(gateway_submission(&form_id, "192.0.2.44", "10.0.0.3", "jo@senders.example")).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let page = limited.body.as_str().expect("the embedded form's page");
    assert!(page.contains(r#"role="alert" id="docket-error">Too many messages were sent just now"#), "{page}");
    assert!(page.contains(r#"value="jo@senders.example""#), "what was typed is kept: {page}");
    assert!(limited.headers.get(header::RETRY_AFTER).is_some());
    assert_eq!(api.send_request(gateway_submission(&form_id, "192.0.2.45", "10.0.0.3", "jo@senders.example")).await.status, 202);
    // AND refused submissions created nothing, and were counted
    assert_eq!(all_cases(&api).await.len(), 8);
    assert_eq!(stats(&api, &form_id).await["rate_limited"], 3);
    // WHEN the hour has passed THEN the first client may submit again
    clock.advance(time::Duration::hours(1));
    assert_eq!(api.send_from(peer("203.0.113.7"), POST, &path, &[], body("kim")).await.status, 202);
}

async fn cors_answers_only_allowed_origins(engine: Engine) {
    // GIVEN a form allowing one site
    let (api, _) = api_at_fixed_time(engine).await;
    let form_id = form(&api, json!({"name": "Site form", "allowed_origins": ["https://www.customer.example"]})).await;
    let path = format!("/forms/{form_id}/submissions");
    let valid = json!({"name": "Vic", "email": "vic@visitors.example", "subject": "Hi", "message": "Hello"});
    // WHEN that site's page sends a preflight THEN it is allowed, for POST with a JSON body
    let preflight = api.send(OPTIONS, &path, None, &[("origin", "https://www.customer.example"), ("access-control-request-method", "POST")], None).await;
    assert_eq!(preflight.status, 204, "{}", preflight.body);
    let header_of = |reply: &Reply, name: header::HeaderName| reply.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header_of(&preflight, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(), Some("https://www.customer.example"));
    assert_eq!(header_of(&preflight, header::ACCESS_CONTROL_ALLOW_METHODS).as_deref(), Some("POST"));
    assert_eq!(header_of(&preflight, header::ACCESS_CONTROL_ALLOW_HEADERS).as_deref(), Some("content-type"));
    // AND its submission is accepted and readable by the page; so are its failures
    let accepted = submit(&api, &form_id, &[("origin", "https://www.customer.example")], valid.clone()).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert_eq!(header_of(&accepted, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(), Some("https://www.customer.example"));
    let invalid = submit(&api, &form_id, &[("origin", "https://www.customer.example")], json!({"email": "x"})).await;
    invalid.assert_problem(422, None);
    assert_eq!(header_of(&invalid, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(), Some("https://www.customer.example"));
    // WHEN another site tries THEN the preflight and the submission are refused without CORS headers
    for origin in ["https://evil.example", "https://www.customer.example.evil.example", "null"] {
        let refused = api.send(OPTIONS, &path, None, &[("origin", origin)], None).await;
        refused.assert_problem(403, Some("Origin"));
        assert_eq!(header_of(&refused, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
        let posted = submit(&api, &form_id, &[("origin", origin)], valid.clone()).await;
        posted.assert_problem(403, Some("Origin"));
        assert_eq!(header_of(&posted, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
    }
    // AND the embed page served by this API posts as its own origin, which is accepted
    let same_origin = submit(&api, &form_id, &[("origin", "https://api.docket.example"), ("host", "api.docket.example")], valid.clone()).await;
    assert_eq!(same_origin.status, 202, "{}", same_origin.body);
    assert_eq!(header_of(&same_origin, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
    // AND a request without Origin (not a browser's cross-site request) is judged on its content
    assert_eq!(submit(&api, &form_id, &[], valid).await.status, 202);
    assert_eq!(all_cases(&api).await.len(), 3);
    // AND a preflight for an unknown form is 404
    api.send(OPTIONS, "/forms/01NOSUCHFORM/submissions", None, &[("origin", "https://www.customer.example")], None).await.assert_problem(404, None);
}

async fn admins_configure_forms_and_the_embed_page_is_escaped(engine: Engine) {
    // GIVEN an admin and an agent
    let (api, _) = api_at_fixed_time(engine).await;
    let admin = api.admin_token();
    let agent = api.create(&admin, "/users", json!({"name": "Ag", "email": "ag@agents.example", "role": "agent"})).await;
    let agent = api.token(&id_of(&agent));
    // WHEN the admin configures a form whose name holds markup
    let created = api
        .call(
            POST,
            "/forms",
            Some(&admin),
            Some(json!({"name": "Help <script>alert(1)</script> & \"more\"", "allowed_origins": ["HTTPS://Shop.Example/"], "fields": {"subject": "optional"}})),
        )
        .await;
    // THEN it is stored with normalised origins, defaults filled in
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["allowed_origins"], json!(["https://shop.example"]));
    assert_eq!(created.body["enabled"], true);
    assert_eq!(created.body["rate_limits"], json!({"per_sender_per_hour": 5, "per_form_per_minute": 60, "per_ip_per_hour": 20}));
    assert_eq!(created.body["fields"], json!({"name": "required", "subject": "optional", "message": "required"}));
    let form_id = id_of(&created.body);
    // AND the embed page escapes the name, hides the honeypot, and only the site may frame it
    let embed = api.call(GET, &format!("/forms/{form_id}/embed.html"), None, None).await;
    assert_eq!(embed.status, 200);
    assert!(embed.content_type().starts_with("text/html"), "{}", embed.content_type());
    let html = embed.body.as_str().expect("html");
    assert!(html.contains("Help &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains(r#"name="website" tabindex="-1""#) && html.contains(".docket-hp {"), "{html}");
    assert!(html.contains(r#"action="submissions""#), "{html}");
    assert!(html.contains(r#"<input type="text" name="subject" maxlength="300" value="">"#), "the optional subject is not required: {html}");
    let policy = embed.headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(policy.contains("frame-ancestors 'self' https://shop.example") && policy.contains("default-src 'none'"), "{policy}");
    // AND agents may neither read nor change forms or their counts
    api.call(GET, "/forms", Some(&agent), None).await.assert_problem(403, None);
    api.call(GET, &format!("/forms/{form_id}"), Some(&agent), None).await.assert_problem(403, None);
    api.call(GET, &format!("/forms/{form_id}/stats"), Some(&agent), None).await.assert_problem(403, None);
    api.call(POST, "/forms", Some(&agent), Some(json!({"name": "Mine"}))).await.assert_problem(403, None);
    // AND admin routes need a token, unlike the public ones
    api.call(GET, "/forms", None, None).await.assert_problem(401, None);
    // AND bad configurations are refused naming the field
    for (body, field) in [
        (json!({"name": "x", "allowed_origins": ["https://shop.example/path"]}), "allowed_origins"),
        (json!({"name": "x", "allowed_origins": ["*"]}), "allowed_origins"),
        (json!({"name": "x", "team_id": "ghost"}), "team_id"),
        (json!({"name": "x", "rate_limits": {"per_sender_per_hour": 0}}), "rate_limits.per_sender_per_hour"),
        (json!({"name": "x", "rate_limits": {"per_ip_per_hour": 0}}), "rate_limits.per_ip_per_hour"),
        (json!({"name": "x", "fields": {"email": "optional"}}), "fields.email"),
        (json!({"name": "x", "mailbox_id": "ghost"}), "mailbox_id"),
    ] {
        api.call(POST, "/forms", Some(&admin), Some(body)).await.assert_problem(422, Some(field));
    }
    // WHEN the admin disables the form THEN the page and the endpoint are closed
    let disabled = api.send(PATCH, &format!("/forms/{form_id}"), Some(&admin), &[("if-match", "\"1\"")], Some(json!({"enabled": false}).to_string())).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    api.call(GET, &format!("/forms/{form_id}/embed.html"), None, None).await.assert_problem(403, None);
    api.call(GET, "/forms/01NOSUCHFORM/embed.html", None, None).await.assert_problem(404, None);
    // AND the admin lists it
    assert_eq!(ids(&api.call(GET, "/forms", Some(&admin), None).await), vec![form_id]);
}
