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

impl Authenticator {
    /// The Docket id the request is authenticated as.
    fn subject(&self, parts: &Parts) -> Result<String, Problem> {
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
                let header = parts
                    .headers
                    .get(axum::http::header::AUTHORIZATION)
                    .ok_or_else(|| Problem::unauthenticated("send Authorization: Bearer <token> (docket token mints one)"))?;
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .ok_or_else(|| Problem::unauthenticated("the Authorization header must be `Bearer <token>`"))?;
                keys.verify(token.trim())
            }
        }
    }
}

/// The authenticated caller of a route; every route that touches data takes one.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let subject = state.authenticator.subject(parts)?;
        let principal = state.docket.principal(&subject).await.map_err(Problem::from)?;
        Ok(Caller(principal))
    }
}
