//! Who is calling. On AWS the HTTP API's JWT authorizer has already verified the token and
//! hands over its claims in the request context; locally the process verifies its own HS256
//! tokens. Either way the claim names a Docket user or portal contact, which is then resolved
//! from the directory on every request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use docket_domain::Principal;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::problem::Problem;

/// The claim holding the Docket id in Cognito tokens (a custom user attribute).
pub const DOCKET_ID_CLAIM: &str = "custom:docket_id";

#[derive(Clone)]
pub enum Authenticator {
    /// Trust the claims API Gateway's JWT authorizer put in the Lambda request context.
    ApiGateway,
    /// Verify `Authorization: Bearer` tokens signed with this process's secret.
    LocalTokens(TokenKeys),
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    iss: String,
}

const ISSUER: &str = "docket-local";

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    /// Mints a token naming a user or portal contact, valid for `ttl`.
    pub fn mint(&self, subject: &str, ttl: Duration) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims { sub: subject.to_owned(), iat: now, exp: now + ttl.as_secs(), iss: ISSUER.into() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    pub fn verify(&self, token: &str) -> Result<String, Problem> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims.sub)
            .map_err(|e| Problem::unauthenticated(format!("invalid token: {e}")))
    }
}

/// The cookie holding a console session of the local installation (see `docket_domain::signin`).
pub const SESSION_COOKIE: &str = "docket_session";
/// The header a console sends with every write. A cross-site form or image cannot set it and a
/// cross-site script may not without a CORS preflight this server never grants, so a write that
/// rides on the session cookie without it is a forgery (the cookie is also `SameSite=Strict`).
pub const CSRF_HEADER: &str = "x-docket-csrf";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// Whether a request may change something (and so needs the CSRF header when a cookie carries it).
fn is_write(method: &axum::http::Method) -> bool {
    !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS)
}

impl Authenticator {
    /// The Docket id the request is authenticated as.
    async fn subject(&self, parts: &Parts, state: &AppState) -> Result<String, Problem> {
        match self {
            Authenticator::ApiGateway => {
                let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>() else {
                    return Err(Problem::unauthenticated("no authorizer context"));
                };
                let claims = context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims);
                claims
                    .and_then(|c| c.get(DOCKET_ID_CLAIM).or_else(|| c.get("sub")))
                    .filter(|id| !id.is_empty())
                    .cloned()
                    .ok_or_else(|| Problem::unauthenticated("the token carries no subject"))
            }
            Authenticator::LocalTokens(keys) => {
                if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
                    let token = header
                        .to_str()
                        .ok()
                        .and_then(|h| h.strip_prefix("Bearer "))
                        .ok_or_else(|| Problem::unauthenticated("the Authorization header must be `Bearer <token>`"))?;
                    return keys.verify(token.trim());
                }
                let Some(session) = cookie(parts, SESSION_COOKIE) else {
                    return Err(Problem::unauthenticated("sign in, or send Authorization: Bearer <token> (docket token mints one)"));
                };
                if is_write(&parts.method) && !parts.headers.contains_key(CSRF_HEADER) {
                    return Err(Problem::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "csrf",
                        "Forbidden",
                        format!("a write with the session cookie must carry the {CSRF_HEADER} header"),
                    ));
                }
                let subject = state.docket.signin().session_subject(session).await.map_err(Problem::from)?;
                subject.ok_or_else(|| Problem::unauthenticated("the session has ended: sign in again"))
            }
        }
    }
}

/// The authenticated caller of a route; every route that touches data takes one.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let subject = state.authenticator.subject(parts, state).await?;
        let principal = state.docket.principal(&subject).await.map_err(Problem::from)?;
        Ok(Caller(principal))
    }
}
