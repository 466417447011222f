//! Request extractors whose every rejection is a problem document naming what is wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::Problem;

/// Largest request body accepted (a case description is at most 64 Ki characters).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON object body (`application/json` or `application/merge-patch+json`).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if content_type != "application/json" && !content_type.ends_with("+json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            )
            .with_field("Content-Type"));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "Body too large",
                    format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
                )
            } else {
                Problem::bad_request(format!("could not read the body: {rejection}"))
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", format!("the body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", "the body must be a JSON object"));
        }
        Ok(JsonBody(value))
    }
}

/// Query-string parameters parsed strictly: unknown parameters are refused by name.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query).map(QueryParams).map_err(|e| {
            let message = e.to_string();
            let field = message.split('`').nth(1).unwrap_or("query").to_owned();
            Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", message).with_field(field)
        })
    }
}

/// The version named by `If-Match` (`"3"`, `W/"3"`), when the header is present.
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let version = value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|v| v.parse::<u64>().ok());
        match version {
            Some(v) => Ok(IfMatch(Some(v))),
            // An ETag we never issued cannot match the current version.
            None => Err(Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                "Stale version",
                "If-Match does not name a version of this resource",
            )
            .with_field("If-Match")),
        }
    }
}

/// The optional `Idempotency-Key` of a create.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyKey(None)),
            Some(v) => v
                .to_str()
                .map(|s| IdempotencyKey(Some(s.to_owned())))
                .map_err(|_| Problem::bad_request("Idempotency-Key must be visible ASCII").with_field("Idempotency-Key")),
        }
    }
}

/// The common paging parameters of list routes.
pub fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit.unwrap_or(25) {
        n @ 1..=100 => Ok(n),
        _ => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", "limit must be between 1 and 100")
            .with_field("limit")),
    }
}
