//! The agent console of the local installation: the web app's files (built from `web/` and
//! embedded by `build.rs`), its runtime configuration, and signing in with one-time links sent
//! through the mailer (the outbox) — on AWS, CloudFront serves the files and Cognito signs in.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE, VARY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use docket_api::auth::{CSRF_HEADER, SESSION_COOKIE, cookie};
use docket_api::extract::Body;
use docket_api::problem::Problem;
use docket_domain::Docket;
use docket_domain::notify::MailSettings;
use docket_domain::signin::Audience;
use docket_ports::Mailer;
use serde::Deserialize;

/// A file of the built console.
pub struct Asset {
    /// Path under the site root, e.g. `assets/app-XXXX.js`.
    pub path: &'static str,
    pub bytes: &'static [u8],
    /// The same bytes gzip-compressed, for text files.
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// The policy of the console's pages: only its own scripts and styles, its own API, no framing.
/// Mail HTML is shown in a sandboxed frame of the page, which inherits this policy.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

#[derive(Clone)]
pub struct ConsoleState {
    pub docket: Docket,
    pub mailer: Arc<dyn Mailer>,
    /// Where the sign-in mail comes from and what the link's base URL is.
    pub mail: MailSettings,
}

impl ConsoleState {
    /// Cookies are `Secure` when people reach the console over HTTPS.
    fn secure(&self) -> bool {
        self.mail.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }

    fn session_cookie(&self, value: &str, max_age_secs: i64) -> HeaderValue {
        let secure = if self.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"))
            .unwrap_or_else(|_| HeaderValue::from_static("docket_session=; Path=/; Max-Age=0"))
    }
}

/// The console's routes, to merge beside the API's (none of its paths is an API path).
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/portal", get(|| async { axum::response::Redirect::permanent("/portal/") }))
        .route("/portal/", get(portal))
        .route("/portal/index.html", get(portal))
        .route("/assets/{file}", get(asset))
        .route("/config.json", get(config))
        .route("/auth/link", post(request_staff_link))
        .route("/auth/portal/link", post(request_portal_link))
        .route("/auth/session", post(open_session))
        .route("/auth/signout", post(sign_out))
        .with_state(state)
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The customer portal's pages: the console's policy, but the company's logo may come from any
/// `https:` address (an image never runs script; the settings accept nothing else).
pub const PORTAL_CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; connect-src 'self'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// One file with the headers every console response carries; gzip when the client takes it.
fn serve(asset: &'static Asset, request: &HeaderMap, cache: &'static str) -> Response {
    serve_with_policy(asset, request, cache, CONTENT_SECURITY_POLICY_VALUE)
}

fn serve_with_policy(asset: &'static Asset, request: &HeaderMap, cache: &'static str, policy: &'static str) -> Response {
    let gzip = asset.gzip.filter(|_| request.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip")));
    let mut response = match gzip {
        Some(bytes) => ([(CONTENT_ENCODING, "gzip")], bytes).into_response(),
        None => asset.bytes.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(asset.path)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        // Revalidated every time: it names the hashed files of the current build.
        Some(asset) => serve(asset, &headers, "no-cache"),
        None => Problem::not_found("the console is not built into this binary").into_response(),
    }
}

async fn portal(headers: HeaderMap) -> Response {
    match find("portal.html") {
        Some(asset) => serve_with_policy(asset, &headers, "no-cache", PORTAL_CONTENT_SECURITY_POLICY_VALUE),
        None => Problem::not_found("the customer portal is not built into this binary").into_response(),
    }
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match find(&format!("assets/{file}")) {
        // Content-hashed names: a file never changes under its name.
        Some(asset) => serve(asset, &headers, "public, max-age=31536000, immutable"),
        None => Problem::not_found("no such console file").into_response(),
    }
}

async fn config() -> Response {
    ([(CACHE_CONTROL, "no-cache")], Json(serde_json::json!({ "auth": "local", "api": "" }))).into_response()
}

/// The CSRF header on the sign-in routes too: a cross-site page must not sign someone in to
/// an account of the attacker's choosing, nor make this server mail links at will.
fn require_csrf_header(parts: &Parts) -> Result<(), Problem> {
    if parts.headers.contains_key(CSRF_HEADER) {
        Ok(())
    } else {
        Err(Problem::new(StatusCode::FORBIDDEN, "csrf", "Forbidden", format!("send the {CSRF_HEADER} header")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    email: String,
}

async fn request_staff_link(state: State<ConsoleState>, parts: Parts, body: Body<LinkRequest>) -> Result<StatusCode, Problem> {
    request_link(Audience::Staff, state, parts, body).await
}

async fn request_portal_link(state: State<ConsoleState>, parts: Parts, body: Body<LinkRequest>) -> Result<StatusCode, Problem> {
    request_link(Audience::Portal, state, parts, body).await
}

async fn request_link(audience: Audience, State(state): State<ConsoleState>, parts: Parts, Body(request): Body<LinkRequest>) -> Result<StatusCode, Problem> {
    require_csrf_header(&parts)?;
    let address = state.docket.signin().accept_ask(&request.email).await.map_err(Problem::from)?;
    // The same answer, as fast, whether or not the address may sign in: the lookup and the
    // mail happen after it.
    tokio::spawn(async move {
        if let Err(error) = state.docket.signin().send_link(audience, &address, state.mailer.as_ref(), &state.mail).await {
            tracing::error!(%error, "cannot send a sign-in link");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRequest {
    token: String,
}

async fn open_session(State(state): State<ConsoleState>, parts: Parts, Body(request): Body<SessionRequest>) -> Result<Response, Problem> {
    require_csrf_header(&parts)?;
    let session = state.docket.signin().redeem(request.token.trim()).await.map_err(Problem::from)?;
    let cookie = state.session_cookie(&session.token, session.expires_in.whole_seconds());
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie), (CACHE_CONTROL, HeaderValue::from_static("no-store"))]).into_response())
}

async fn sign_out(State(state): State<ConsoleState>, parts: Parts) -> Result<Response, Problem> {
    require_csrf_header(&parts)?;
    if let Some(token) = cookie(&parts, SESSION_COOKIE) {
        state.docket.signin().end(token).await.map_err(Problem::from)?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, state.session_cookie("", 0))]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_console_and_portal_are_embedded_with_their_hashed_assets() {
        for page in ["index.html", "portal.html"] {
            page_and_its_scripts_are_embedded(page);
        }
    }

    fn page_and_its_scripts_are_embedded(page: &str) {
        let index = find(page).unwrap_or_else(|| panic!("{page} is embedded"));
        let html = std::str::from_utf8(index.bytes).expect("utf-8");
        let scripts: Vec<&str> = html.split("src=\"/assets/").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        assert!(!scripts.is_empty(), "{page} loads a script from /assets/");
        for script in scripts {
            assert!(find(&format!("assets/{script}")).is_some(), "{script} is embedded");
        }
        assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style: the CSP forbids them");
        assert!(index.gzip.is_some_and(|gz| gz.len() < index.bytes.len() + 32));
    }

    #[test]
    fn text_is_typed_and_unknown_files_are_not_sniffed() {
        assert_eq!(content_type("assets/app-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/x.bin"), "application/octet-stream");
    }
}
