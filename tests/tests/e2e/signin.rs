//! Signing in to the local console and portal with one-time links, on both engines: a link is
//! worth one session, dies at its expiry, reaches only active staff (console) or contacts with
//! portal access (portal), and a session cookie authenticates API calls only until it is ended —
//! and never a write without the CSRF header.

use std::sync::Arc;

use axum::http::Method;
use docket_domain::clock::ManualClock;
use docket_domain::notify::MailSettings;
use docket_domain::signin::{Audience, LINK_VALIDITY, SESSION_VALIDITY};
use docket_e2e::{Engine, RecordingMailer, TestApi, id_of, on_both_engines};
use serde_json::json;

on_both_engines!(
    a_mailed_link_signs_in_once_and_the_session_ends_on_sign_out,
    links_and_sessions_die_at_their_expiry_and_with_the_user,
    nobody_but_active_staff_gets_a_link_and_asks_are_limited,
    a_session_cookie_never_writes_without_the_csrf_header,
    a_portal_contact_signs_in_to_the_portal_at_any_of_their_addresses,
    portal_links_reach_only_contacts_with_portal_access,
);

struct World {
    api: TestApi,
    mailer: Arc<RecordingMailer>,
    settings: MailSettings,
    clock: Arc<ManualClock>,
    admin: String,
}

async fn world(engine: Engine) -> World {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await;
    let mailer = docket_e2e::recording_mailer(engine).await;
    let settings = MailSettings { public_url: Some("https://help.example.test".into()), ..docket_e2e::test_mail_settings() };
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    World { api, mailer, settings, clock, admin }
}

impl World {
    async fn agent(&self, email: &str) -> String {
        let user = self.api.create(&self.admin, "/users", json!({"name": "Grace Hopper", "email": email, "role": "agent"})).await;
        id_of(&user)
    }

    /// Asks for a console link as the sign-in page does and returns the token of the one mailed.
    async fn mailed_token(&self, email: &str) -> Option<String> {
        self.mailed_token_for(Audience::Staff, email).await
    }

    /// Asks for a link to the console or the portal and returns the token of the one mailed.
    async fn mailed_token_for(&self, audience: Audience, email: &str) -> Option<String> {
        let signin = self.api.docket.signin();
        let address = signin.accept_ask(email).await.expect("ask accepted");
        signin.send_link(audience, &address, self.mailer.as_ref(), &self.settings).await.expect("link sent or skipped");
        let subject = match audience {
            Audience::Staff => "Your Docket sign-in link",
            Audience::Portal => "Your sign-in link for",
        };
        let marker = format!("https://help.example.test{}", audience.signin_path());
        let sent = self.mailer.messages_with(subject);
        // The body is quoted-printable: undo its soft line breaks before reading the link.
        let raw = sent.iter().find(|raw| raw.contains(email))?.replace("=\r\n", "");
        let start = raw.find(&marker)? + marker.len();
        Some(raw[start..].chars().take_while(char::is_ascii_alphanumeric).collect())
    }

    async fn me_with_cookie(&self, session: &str) -> u16 {
        let cookie = format!("theme=dark; docket_session={session}");
        self.api.send(Method::GET, "/me", None, &[("cookie", &cookie)], None).await.status.as_u16()
    }
}

async fn a_mailed_link_signs_in_once_and_the_session_ends_on_sign_out(engine: Engine) {
    // GIVEN an agent who asks for a sign-in link
    let world = world(engine).await;
    let email = format!("grace-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    let agent = world.agent(&email).await;
    let token = world.mailed_token(&email).await.expect("a link was mailed to the agent");

    // WHEN the link is redeemed
    let session = world.api.docket.signin().redeem(&token).await.expect("the link opens a session");

    // THEN the session is the agent's and authenticates API calls by cookie
    assert_eq!(session.principal.id(), agent);
    assert!(matches!(session.principal, docket_domain::Principal::Staff(_)));
    assert_eq!(session.expires_in, SESSION_VALIDITY);
    assert_eq!(world.me_with_cookie(&session.token).await, 200);
    // AND the link is spent: a second redemption (another tab, a replayed mail) fails
    let again = world.api.docket.signin().redeem(&token).await;
    assert!(again.is_err(), "a link works once");

    // WHEN the session ends
    world.api.docket.signin().end(&session.token).await.unwrap();
    // THEN the cookie signs nobody in
    assert_eq!(world.me_with_cookie(&session.token).await, 401);
}

async fn links_and_sessions_die_at_their_expiry_and_with_the_user(engine: Engine) {
    let world = world(engine).await;
    let email = format!("ada-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    let agent = world.agent(&email).await;
    let signin = world.api.docket.signin();

    // GIVEN a link left unused past its validity
    let stale = signin.issue_link(&agent).await.unwrap();
    world.clock.advance(LINK_VALIDITY + time::Duration::seconds(1));
    // THEN it opens nothing
    assert!(signin.redeem(&stale).await.is_err(), "an expired link is refused");

    // GIVEN a session opened now
    let token = world.mailed_token(&email).await.expect("link mailed");
    let session = signin.redeem(&token).await.unwrap();
    assert_eq!(world.me_with_cookie(&session.token).await, 200);
    // WHEN the agent is deactivated
    let reply = world.api.call(Method::PATCH, &format!("/users/{agent}"), Some(&world.admin), Some(json!({"active": false}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // THEN the session no longer works, nor does a new link reach them
    assert_eq!(world.me_with_cookie(&session.token).await, 401);
    let reactivated = world.api.call(Method::PATCH, &format!("/users/{agent}"), Some(&world.admin), Some(json!({"active": true}))).await;
    assert_eq!(reactivated.status, 200);
    // AND after its validity a session is dead even for an active user
    assert_eq!(world.me_with_cookie(&session.token).await, 200);
    world.clock.advance(SESSION_VALIDITY);
    assert_eq!(world.me_with_cookie(&session.token).await, 401);
}

async fn nobody_but_active_staff_gets_a_link_and_asks_are_limited(engine: Engine) {
    let world = world(engine).await;
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    // GIVEN a portal contact, an address nobody has, and a deactivated agent
    let contact = format!("customer-{tag}@client.test");
    world.api.portal_contact("Customer", &contact, None, json!({"role": "own_cases"})).await;
    let stranger = format!("stranger-{tag}@evil.test");
    let former = format!("former-{tag}@acme.test");
    let former_id = world.agent(&former).await;
    let reply = world.api.call(Method::PATCH, &format!("/users/{former_id}"), Some(&world.admin), Some(json!({"active": false}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // WHEN each asks for a link
    // THEN the ask is accepted alike and no mail goes out
    for email in [&contact, &stranger, &former] {
        assert_eq!(world.mailed_token(email).await, None, "no link for {email}");
    }

    // AND a malformed address is refused by name
    let error = world.api.docket.signin().accept_ask("not an address").await.expect_err("refused");
    assert!(error.to_string().contains("email"), "{error}");
    // AND a sixth ask within the hour is rate-limited
    for _ in 0..4 {
        world.api.docket.signin().accept_ask(&stranger).await.expect("within the limit");
    }
    let limited = world.api.docket.signin().accept_ask(&stranger).await;
    assert!(matches!(limited, Err(docket_domain::DomainError::RateLimited { .. })), "{limited:?}");
    // AND forged tokens are refused unread
    for forged in ["", "short", &"a".repeat(50), &"A".repeat(50)] {
        assert!(world.api.docket.signin().redeem(forged).await.is_err());
    }
}

async fn a_session_cookie_never_writes_without_the_csrf_header(engine: Engine) {
    let world = world(engine).await;
    let email = format!("linus-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    world.agent(&email).await;
    let token = world.mailed_token(&email).await.expect("link mailed");
    let session = world.api.docket.signin().redeem(&token).await.unwrap();
    let cookie = format!("docket_session={}", session.token);
    let body = Some(json!({"subject": "Printer on fire"}).to_string());
    let json_type = ("content-type", "application/json");

    // WHEN a page posts with the cookie but without the header (a cross-site form could)
    let forged = world.api.send(Method::POST, "/cases", None, &[("cookie", &cookie), json_type], body.clone()).await;
    // THEN it is refused and nothing is created
    forged.assert_problem(403, None);
    assert!(forged.body.to_string().contains("x-docket-csrf"), "{}", forged.body);
    let list = world.api.send(Method::GET, "/cases", None, &[("cookie", &cookie)], None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0), "{}", list.body);

    // WHEN the console posts with the header
    let made = world.api.send(Method::POST, "/cases", None, &[("cookie", &cookie), json_type, ("x-docket-csrf", "1")], body).await;
    // THEN the case is created as the agent
    assert_eq!(made.status, 201, "{}", made.body);
    // AND a session cookie never stands in for a bearer token that is present and bad
    let bad_bearer = world.api.send(Method::GET, "/me", None, &[("cookie", &cookie), ("authorization", "Bearer nonsense")], None).await;
    assert_eq!(bad_bearer.status, 401);
}

async fn a_portal_contact_signs_in_to_the_portal_at_any_of_their_addresses(engine: Engine) {
    // GIVEN a contact with portal access and two addresses
    let world = world(engine).await;
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let (first, second) = (format!("mia-{tag}@client.test"), format!("mia.private-{tag}@mail.test"));
    let (contact, _) = world.api.portal_contact("Mia Wong", &first, None, json!({"role": "own_cases"})).await;
    let contact_id = id_of(&contact);
    let reply = world.api.call(Method::PATCH, &format!("/contacts/{contact_id}"), Some(&world.admin), Some(json!({"emails": [first, second]}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // WHEN she asks for a portal link with her second address
    let token = world.mailed_token_for(Audience::Portal, &second).await.expect("a portal link went to the address asked for");
    // THEN it was sent to that address only, and the console's link was not
    let sent = world.mailer.messages_with("Your sign-in link for");
    assert!(sent.iter().all(|raw| !raw.contains(&format!("To: {first}")) && !raw.contains(&format!("<{first}>"))), "only the address asked for gets it");
    // AND redeeming it opens a session that is hers, in which the API knows her as a portal user
    let session = world.api.docket.signin().redeem(&token).await.expect("the link opens a session");
    assert_eq!(session.principal.id(), contact_id);
    assert!(matches!(session.principal, docket_domain::Principal::Portal(_)));
    let cookie = format!("docket_session={}", session.token);
    let me = world.api.send(Method::GET, "/me", None, &[("cookie", &cookie)], None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["kind"], "portal");
    assert_eq!(me.body["contact"]["id"], contact_id.as_str());
    // AND staff routes stay closed to her session
    let settings = world.api.send(Method::GET, "/settings", None, &[("cookie", &cookie)], None).await;
    settings.assert_problem(403, None);

    // WHEN her portal access is withdrawn
    let reply = world.api.call(Method::PATCH, &format!("/contacts/{contact_id}"), Some(&world.admin), Some(json!({"portal": null}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // THEN the session signs nobody in
    assert_eq!(world.me_with_cookie(&session.token).await, 401);
}

async fn portal_links_reach_only_contacts_with_portal_access(engine: Engine) {
    let world = world(engine).await;
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    // GIVEN an agent, a contact without portal access and an address nobody has
    let agent = format!("agent-{tag}@acme.test");
    world.agent(&agent).await;
    let plain = format!("plain-{tag}@client.test");
    let reply = world.api.call(Method::POST, "/contacts", Some(&world.admin), Some(json!({"name": "Plain", "emails": [plain]}))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let stranger = format!("nobody-{tag}@evil.test");

    // WHEN each asks for a portal link, THEN the ask is accepted alike and no mail goes out
    for email in [&agent, &plain, &stranger] {
        assert_eq!(world.mailed_token_for(Audience::Portal, email).await, None, "no portal link for {email}");
    }
    // AND a link issued for someone who lost access since opens nothing
    let portal = format!("gone-{tag}@client.test");
    let contact = id_of(&world.api.portal_contact("Gone", &portal, None, json!({"role": "own_cases"})).await.0);
    let token = world.mailed_token_for(Audience::Portal, &portal).await.expect("link mailed");
    let reply = world.api.call(Method::PATCH, &format!("/contacts/{contact}"), Some(&world.admin), Some(json!({"portal": null}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(world.api.docket.signin().redeem(&token).await.is_err(), "no session for a contact without portal access");
}
