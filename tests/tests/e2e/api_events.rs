//! The `api` Lambda handler answers every API Gateway sample in `events/api-*.json`: the events
//! are parsed by `lambda_http` exactly as the runtime would, and served by the router with the
//! API Gateway authenticator (claims from the request context), on both engines.

use std::path::PathBuf;

use axum::body::Body;
use docket_api::{AppState, Authenticator, router};
use docket_domain::directory::Directory;
use docket_domain::ids::{ContactId, EmailAddress, FormId, Id, UserId};
use docket_domain::model::{Audit, Contact, PortalAccess, PortalRole, Role, Scope, User};
use docket_domain::webform::WebForm;
use docket_e2e::{Engine, on_both_engines};
use http_body_util::BodyExt;
use tower::ServiceExt;

on_both_engines!(api_handler_answers_every_sample_event);

/// The status each sample must get, in the order the files run.
const EXPECTED: &[(&str, u16)] = &[
    ("api-01-health.json", 200),
    ("api-02-openapi.json", 200),
    ("api-03-create-contact.json", 201),
    ("api-04-create-case.json", 201),
    ("api-05-get-case-by-number.json", 200),
    ("api-06-list-cases.json", 200),
    ("api-07-update-case-stale.json", 412),
    ("api-08-portal-list-cases.json", 200),
    ("api-09-bad-json.json", 400),
    ("api-10-no-token.json", 401),
    ("api-11-form-submission.json", 202),
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn audit() -> Audit {
    let now = time::OffsetDateTime::now_utc();
    Audit { created_at: now, created_by: "test".into(), updated_at: now, updated_by: "test".into(), version: 1 }
}

/// The principals the sample events' claims name, and the web form one of them posts.
async fn seed_principals(directory: &Directory<'_>) {
    let admin = User {
        id: UserId::from_trusted("user-events-admin".into()),
        name: "Events Admin".into(),
        email: EmailAddress::parse("email", "events-admin@example.com").expect("an address"),
        role: Role::Admin,
        scope: Scope::All,
        team_ids: vec![],
        active: true,
        preferences: Default::default(),
        audit: audit(),
    };
    directory.insert(&admin).await.expect("admin");
    let portal = Contact {
        id: ContactId::from_trusted("contact-events-portal".into()),
        name: "Events Portal".into(),
        emails: vec![EmailAddress::parse("email", "portal@example.com").expect("an address")],
        phone: None,
        account_id: None,
        portal: Some(PortalAccess { role: PortalRole::OwnCases, can_create_cases: true }),
        audit: audit(),
    };
    directory.insert(&portal).await.expect("portal contact");
    // The public web form of the submission sample (no authorizer on its route).
    let form = WebForm {
        id: FormId::from_trusted("form-events-contact".into()),
        name: "Events contact form".into(),
        allowed_origins: vec!["https://www.events.example.com".into()],
        team_id: None,
        mailbox_id: None,
        fields: Default::default(),
        rate_limits: Default::default(),
        enabled: true,
        audit: audit(),
    };
    directory.insert(&form).await.expect("web form");
}

async fn api_handler_answers_every_sample_event(engine: Engine) {
    // GIVEN the handler on an empty store with the principals of the samples
    let docket = docket_e2e::docket(engine).await;
    seed_principals(&docket.directory()).await;
    let app = router(AppState { docket, authenticator: Authenticator::ApiGateway });
    // AND every sample file is listed with its expected status
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("api-") && n.ends_with(".json"))
        .collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, listed, "every events/api-*.json needs an expected status here");
    for (file, expected) in EXPECTED {
        // WHEN the event is handled as the Lambda runtime would hand it over
        let raw = std::fs::read_to_string(events_dir().join(file)).expect("read event");
        let request = lambda_http::request::from_str(&raw).unwrap_or_else(|e| panic!("{file} is not an API Gateway event: {e}"));
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
        let response = app.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        // THEN it gets the expected status, and failures are problem documents
        assert_eq!(status, *expected, "{file}: {}", String::from_utf8_lossy(&bytes));
        if status >= 400 {
            assert_eq!(content_type, "application/problem+json", "{file}");
        }
    }
}
