//! Web-form routes (SPEC F12). Admins configure forms through the directory routes of
//! [`super::route_table`] and read what became of submissions here; the public side takes
//! submissions, answers CORS preflights, serves the embeddable form and the page where a sender
//! confirms their address.
//!
//! The public handlers take no [`crate::auth::Caller`]: they work without a token, locally and
//! behind API Gateway (where `template.yaml` routes them without the JWT authorizer and throttles
//! them per route). CORS is decided per form: only its allowed origins get
//! `Access-Control-Allow-Origin`, and a browser request from any other site is refused.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use docket_domain::confirm::{ConfirmOutcome, TokenState};
use docket_domain::webform::{HONEYPOT_FIELD, Requirement, WebForm};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{ClientIp, FormOrJsonBody, Path};
use crate::problem::{ApiResult, Problem};

/// Largest submission body accepted (a message is at most 10,000 characters, which percent
/// encoding of non-Latin text can triple twice over).
pub const MAX_SUBMISSION_BYTES: usize = 128 * 1024;
/// How long browsers may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";
/// The one answer every sender gets: it says nothing about the case (SPEC F12).
const RECEIVED: &str = "Thank you. Your message has been received.";
/// The page behind a confirmation link: it confirms only when its button is pressed (a POST),
/// since mail scanners fetch the links of a mail.
const CONFIRM_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Confirm your request</title></head>\
<body><h1>Confirm your request</h1>\
<p>Someone submitted a request on our contact form giving your email address. If it was you, confirm it to have the request handled.</p>\
<form method=\"post\"><button type=\"submit\">Confirm my address</button></form></body></html>\n";
const CONFIRMED: &str = "Thank you. Your address is confirmed and your request will be handled.";
const CONFIRMED_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Confirmed</title></head>\
<body><p>Thank you. Your address is confirmed and your request will be handled.</p></body></html>\n";

pub(super) async fn form_stats(State(state): State<AppState>, Caller(principal): Caller, Path(form_id): Path<String>) -> ApiResult<Response> {
    Ok(Json(state.docket.web_forms().stats(&principal, &form_id).await?).into_response())
}

/// The origin a response may be shared with, if any.
struct Cors(Option<HeaderValue>);

impl Cors {
    fn apply(self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        // Answers differ by Origin, so caches must keep them apart.
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = self.0 {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        response
    }
}

fn origin_refused() -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "origin-not-allowed", "Origin not allowed", "this form does not take submissions from pages of that origin")
        .with_field("Origin")
}

/// Whether a page of the request's `Origin` may post this form: one of the form's allowed
/// origins (answered with CORS headers), this API's own origin (the embedded form), or no
/// `Origin` at all (not a browser's cross-site request; honeypot and rate limits still apply).
fn check_origin(form: &WebForm, headers: &HeaderMap) -> Result<Cors, Problem> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(Cors(None)) };
    let text = origin.to_str().map_err(|_| origin_refused())?;
    if form.allows_origin(text) {
        return Ok(Cors(Some(origin.clone())));
    }
    if is_same_origin(text, headers) {
        return Ok(Cors(None));
    }
    Err(origin_refused())
}

fn is_same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// `POST /forms/{form_id}/submissions`: public.
pub(super) async fn submit(
    State(state): State<AppState>,
    Path(form_id): Path<String>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Result<FormOrJsonBody, Problem>,
) -> Response {
    let forms = state.docket.web_forms();
    let form = match forms.public_form(&form_id).await {
        Ok(form) => form,
        Err(error) => return Problem::from(error).into_response(),
    };
    let cors = match check_origin(&form, &headers) {
        Ok(cors) => cors,
        Err(problem) => return problem.into_response(),
    };
    let mut typed = Typed::default();
    let outcome = match body {
        Ok(FormOrJsonBody(body)) => {
            typed = Typed::from_body(&body);
            match docket_domain::fields::parse(body) {
                Ok(submission) => forms.submit(&form, submission, client_ip).await.map_err(Problem::from),
                Err(error) => Err(Problem::from(error)),
            }
        }
        Err(problem) => Err(problem),
    };
    // Failures go back to allowed origins too, so the page can tell its visitor what to fix; the
    // embedded form (a browser's navigation) gets itself back with the reason and what was typed.
    cors.apply(match outcome {
        Ok(_) if wants_html(&headers) => embed_page(&form, StatusCode::ACCEPTED, thank_you_html(&form)),
        Ok(_) => received(),
        Err(problem) if wants_html(&headers) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut page = embed_page(&form, status, embed_html(&form, &typed, Some(&problem)));
            if let Some(seconds) = problem.retry_after() {
                page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            page
        }
        Err(problem) => problem.into_response(),
    })
}

/// What the visitor typed, to show again beside the reason it was refused (never stored).
#[derive(Default)]
struct Typed {
    name: String,
    email: String,
    subject: String,
    message: String,
}

impl Typed {
    fn from_body(body: &serde_json::Value) -> Self {
        let text = |field: &str| body.get(field).and_then(|v| v.as_str()).unwrap_or_default().chars().take(MAX_ECHOED_CHARS).collect();
        Typed { name: text("name"), email: text("email"), subject: text("subject"), message: text("message") }
    }
}

/// The most of one field shown back (a message is at most 10,000 characters anyway).
const MAX_ECHOED_CHARS: usize = 10_000;

/// Whether the request is a browser's navigation (it wants a page, not JSON).
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// The same answer whether a case was opened or the honeypot caught a bot.
fn received() -> Response {
    (StatusCode::ACCEPTED, Json(crate::views::FormAnswer { status: "received", detail: RECEIVED })).into_response()
}

/// `OPTIONS /forms/{form_id}/submissions`: the CORS preflight, public.
pub(super) async fn preflight(State(state): State<AppState>, Path(form_id): Path<String>, headers: HeaderMap) -> Response {
    let form = match state.docket.web_forms().public_form(&form_id).await {
        Ok(form) => form,
        Err(error) => return Problem::from(error).into_response(),
    };
    let allowed = headers.get(header::ORIGIN).filter(|origin| origin.to_str().is_ok_and(|o| form.allows_origin(o)));
    let Some(origin) = allowed.cloned() else { return origin_refused().into_response() };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let answer = response.headers_mut();
    answer.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    answer.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
    answer.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
    Cors(Some(origin)).apply(response)
}

/// `GET /forms/{form_id}/embed.html`: a self-contained form page to put in an iframe, public.
pub(super) async fn embed(State(state): State<AppState>, Path(form_id): Path<String>) -> ApiResult<Response> {
    let form = state.docket.web_forms().public_form(&form_id).await?;
    let mut response = embed_page(&form, StatusCode::OK, embed_html(&form, &Typed::default(), None));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

/// A page of the embedded form (the form, the form with a reason, the thank-you): no scripts
/// at all, and only the form's allowed origins may frame it. Never cached: it may hold what the
/// visitor typed.
fn embed_page(form: &WebForm, status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    let ancestors = std::iter::once("'self'").chain(form.allowed_origins.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
    let policy = format!("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}");
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it browsers send the form's POST with `Origin: null`, which the
    // origin check must refuse (sandboxed frames send it too). `same-origin` gives the POST to
    // this server its true Origin and tells other sites nothing.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn link_used() -> Problem {
    Problem::new(StatusCode::GONE, "confirmation-used", "Link already used", "this confirmation link has been used; the address is confirmed")
}

fn link_expired() -> Problem {
    Problem::new(StatusCode::GONE, "confirmation-expired", "Link expired", "this confirmation link is too old; submit the form again")
}

/// Headers of the confirmation pages: nothing may run, frame them or learn their URL (it holds
/// the token), and nothing keeps a copy.
fn private_page(html: &'static str, status: StatusCode) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /web-forms/confirm/{token}`: the page with the button that confirms, public. Looking
/// changes nothing.
pub(super) async fn confirmation_page(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    match state.docket.web_forms().confirmation(&token).await? {
        TokenState::Open => Ok(private_page(CONFIRM_PAGE, StatusCode::OK)),
        TokenState::Used => Err(link_used()),
        TokenState::Expired => Err(link_expired()),
    }
}

/// `POST /web-forms/confirm/{token}`: confirms the sender's address, public. The token is the
/// proof; a second post changes nothing and answers 410.
pub(super) async fn confirm(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    match state.docket.web_forms().confirm(&token).await? {
        ConfirmOutcome::Confirmed { .. } if wants_html(&headers) => Ok(private_page(CONFIRMED_PAGE, StatusCode::OK)),
        ConfirmOutcome::Confirmed { .. } => Ok(Json(crate::views::FormAnswer { status: "confirmed", detail: CONFIRMED }).into_response()),
        ConfirmOutcome::Used => Err(link_used()),
        ConfirmOutcome::Expired => Err(link_expired()),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn required(rule: Requirement) -> &'static str {
    match rule {
        Requirement::Required => " required",
        Requirement::Optional => "",
    }
}

/// What a visitor is told when their submission is refused: in words, never the raw problem.
fn refusal_text(problem: &Problem) -> String {
    match problem.status {
        429 => {
            let minutes = problem.retry_after_secs.map(|s| s.div_ceil(60).max(1));
            match minutes {
                Some(1) => "Too many messages were sent just now. Please try again in a minute.".to_owned(),
                Some(m) => format!("Too many messages were sent just now. Please try again in {m} minutes."),
                None => "Too many messages were sent just now. Please try again later.".to_owned(),
            }
        }
        422 | 400 => {
            let reason = problem.detail.split_once(": ").map(|(_, r)| r).unwrap_or(&problem.detail);
            match problem.field.as_deref().and_then(field_label) {
                Some(label) => format!("Please check {label}: {reason}."),
                None => format!("Your message could not be sent: {reason}."),
            }
        }
        _ => "Your message could not be sent just now. Please try again later.".to_owned(),
    }
}

fn field_label(field: &str) -> Option<&'static str> {
    match field {
        "name" => Some("Name"),
        "email" => Some("Email"),
        "subject" => Some("Subject"),
        "message" => Some("Message"),
        _ => None,
    }
}

const EMBED_STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 0; padding: 1rem; color: #1a1a1a; background: #fff; }
form { display: grid; gap: .75rem; max-width: 36rem; }
label { display: grid; gap: .25rem; }
input, textarea { font: inherit; padding: .5rem; border: 1px solid #6b6b6b; border-radius: 4px; }
[aria-invalid=true] { border-color: #b00020; }
.docket-error { color: #b00020; border-left: 4px solid #b00020; padding: .5rem .75rem; background: #fdecee; margin: 0; }
button { font: inherit; padding: .5rem 1rem; justify-self: start; }
.docket-hp { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }";

/// The thank-you page in the frame, with the way back to an empty form.
fn thank_you_html(form: &WebForm) -> String {
    let title = escape_html(&form.name);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{EMBED_STYLE}</style></head>\
<body><main><p role=\"status\">{RECEIVED}</p><p><a href=\"embed.html\">Send another message</a></p></main></body></html>\n"
    )
}

/// The form page. It posts to `submissions` relative to its own URL, so it works under any
/// API Gateway stage or custom domain; the honeypot is moved off-screen by CSS. A refused
/// submission comes back as this page with the reason on top, by its field, and what was typed.
fn embed_html(form: &WebForm, typed: &Typed, refused: Option<&Problem>) -> String {
    let title = escape_html(&form.name);
    let invalid_field = refused.and_then(|p| p.field.as_deref());
    let alert =
        refused.map(|p| format!("<p class=\"docket-error\" role=\"alert\" id=\"docket-error\">{}</p>\n", escape_html(&refusal_text(p)))).unwrap_or_default();
    // The field the reason names is marked invalid and points at the reason.
    let mark = |field: &str| if invalid_field == Some(field) { " aria-invalid=\"true\" aria-describedby=\"docket-error\"" } else { "" };
    let name = format!("{}{}", required(form.fields.name), mark("name"));
    let email = format!(" required{}", mark("email"));
    let subject = format!("{}{}", required(form.fields.subject), mark("subject"));
    let message = format!("{}{}", required(form.fields.message), mark("message"));
    let (name_value, email_value, subject_value) = (escape_html(&typed.name), escape_html(&typed.email), escape_html(&typed.subject));
    let message_value = escape_html(&typed.message);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{EMBED_STYLE}
</style>
</head>
<body>
<main>
<form method="post" action="submissions" accept-charset="utf-8">
<h1>{title}</h1>
{alert}<label>Name <input type="text" name="name" maxlength="200" autocomplete="name" value="{name_value}"{name}></label>
<label>Email <input type="email" name="email" maxlength="254" autocomplete="email" value="{email_value}"{email}></label>
<label>Subject <input type="text" name="subject" maxlength="300" value="{subject_value}"{subject}></label>
<label>Message <textarea name="message" rows="8" maxlength="10000"{message}>{message_value}</textarea></label>
<div class="docket-hp" aria-hidden="true"><label>Leave this field empty <input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></label></div>
<button type="submit">Send</button>
</form>
</main>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        assert_eq!(escape_html(r#"<b onload="x">'&'</b>"#), "&lt;b onload=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
    }

    fn problem(status: StatusCode, field: Option<&str>, detail: &str) -> Problem {
        let problem = Problem::new(status, "x", "X", detail);
        match field {
            Some(field) => problem.with_field(field),
            None => problem,
        }
    }

    #[test]
    fn a_refusal_is_told_in_words_by_field_and_never_as_raw_internals() {
        let invalid = problem(StatusCode::UNPROCESSABLE_ENTITY, Some("email"), "email: not an email address");
        assert_eq!(refusal_text(&invalid), "Please check Email: not an email address.");
        let mut limited = problem(StatusCode::TOO_MANY_REQUESTS, None, "too many submissions from this address");
        limited.retry_after_secs = Some(1800);
        assert_eq!(refusal_text(&limited), "Too many messages were sent just now. Please try again in 30 minutes.");
        limited.retry_after_secs = Some(20);
        assert!(refusal_text(&limited).ends_with("in a minute."));
        let internal = problem(StatusCode::INTERNAL_SERVER_ERROR, None, "table cases: throttled");
        assert!(!refusal_text(&internal).contains("table"));
    }

    #[test]
    fn the_refused_form_shows_what_was_typed_escaped_and_marks_the_field() {
        let form = WebForm {
            id: <docket_domain::ids::FormId as docket_domain::ids::Id>::from_trusted("F1".into()),
            name: "Contact <us>".into(),
            allowed_origins: vec!["https://shop.example".into()],
            team_id: None,
            mailbox_id: None,
            fields: Default::default(),
            rate_limits: Default::default(),
            enabled: true,
            audit: docket_domain::model::Audit::created("U1", time::OffsetDateTime::UNIX_EPOCH),
        };
        let typed = Typed { name: "Eve\"><script>x</script>".into(), email: "eve@".into(), subject: String::new(), message: "</textarea><b>hi</b>".into() };
        let html = embed_html(&form, &typed, Some(&problem(StatusCode::UNPROCESSABLE_ENTITY, Some("email"), "email: not an email address")));
        assert!(html.contains("<title>Contact &lt;us&gt;</title>"));
        assert!(html.contains(r#"value="Eve&quot;&gt;&lt;script&gt;x&lt;/script&gt;""#), "{html}");
        assert!(html.contains("&lt;/textarea&gt;&lt;b&gt;hi&lt;/b&gt;</textarea>"), "{html}");
        assert!(html.contains(r#"value="eve@" required aria-invalid="true" aria-describedby="docket-error""#), "{html}");
        assert!(html.contains(r#"role="alert" id="docket-error">Please check Email"#), "{html}");
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn same_origin_means_the_host_the_request_was_sent_to() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("api.example.com"));
        assert!(is_same_origin("https://api.example.com", &headers));
        assert!(!is_same_origin("https://evil.example", &headers));
        assert!(!is_same_origin("null", &headers));
    }
}
