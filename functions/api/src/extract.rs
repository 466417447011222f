//! Request extractors whose every rejection is a problem document naming what is wrong.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::Problem;

/// Largest request body accepted (a case description is at most 64 Ki characters).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The media type of a request body, lower-cased, without parameters.
fn media_type(request: &Request) -> String {
    request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

fn unsupported_media_type(what: &str) -> Problem {
    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type", format!("send the body as {what}"))
        .with_field("Content-Type")
}

/// The whole body, within the route's size limit.
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Body too large", "the request body is larger than this route accepts")
        } else {
            Problem::bad_request(format!("could not read the body: {rejection}"))
        }
    })
}

fn json_object(bytes: &[u8]) -> Result<Value, Problem> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", "the body must be a JSON object"));
    }
    Ok(value)
}

/// A JSON object body (`application/json` or `application/merge-patch+json`).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&media_type(&request)) {
            return Err(unsupported_media_type("application/json"));
        }
        let bytes = body_bytes(request, state).await?;
        json_object(&bytes).map(JsonBody)
    }
}

/// A JSON object body parsed into `T` at the edge; a field that does not fit is named in the
/// problem document (400), as the domain names it.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBody(value) = JsonBody::from_request(request, state).await?;
        docket_domain::fields::parse(value).map(Body).map_err(Problem::from)
    }
}

/// A body sent by a web page: a JSON object, or an HTML form's
/// `application/x-www-form-urlencoded` fields as a JSON object of strings.
pub struct FormOrJsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for FormOrJsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = media_type(&request);
        if is_json(&media_type) {
            let bytes = body_bytes(request, state).await?;
            return json_object(&bytes).map(FormOrJsonBody);
        }
        if media_type != "application/x-www-form-urlencoded" {
            return Err(unsupported_media_type("application/json or application/x-www-form-urlencoded"));
        }
        let bytes = body_bytes(request, state).await?;
        url_encoded_fields(&bytes).map(FormOrJsonBody)
    }
}

fn malformed_form(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "malformed-form", "Malformed form data", detail)
}

/// Decodes `name=value&…` strictly: bad percent escapes, text that is not UTF-8 and fields
/// sent twice are refused rather than guessed at.
fn url_encoded_fields(bytes: &[u8]) -> Result<Value, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|_| malformed_form("the body is not UTF-8 text"))?;
    let mut fields = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name)?;
        if fields.insert(name.clone(), Value::String(percent_decode(value)?)).is_some() {
            return Err(malformed_form(format!("the field {name:?} is sent twice")).with_field(name));
        }
    }
    Ok(Value::Object(fields))
}

fn percent_decode(encoded: &str) -> Result<String, Problem> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let byte = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed_form("a % is not followed by two hex digits"))?;
                decoded.push(byte);
                i += 2;
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    String::from_utf8(decoded).map_err(|_| malformed_form("a field does not decode to UTF-8 text"))
}

/// Path parameters (`Path<String>`, `Path<(String, String)>`), whose rejection is a problem
/// document: a segment that is not UTF-8 text once percent-decoded (`/cases/%FF`) names no
/// record, so it is answered 404 naming the parameter, like any id that names nothing. Used
/// instead of axum's `Path`, whose rejections are plain text.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_problem(&rejection)),
        }
    }
}

fn path_problem(rejection: &PathRejection) -> Problem {
    let kind = match rejection {
        PathRejection::FailedToDeserializePathParams(error) => Some(error.kind()),
        _ => None,
    };
    match kind {
        Some(ErrorKind::InvalidUtf8InPathParam { key }) => Problem::not_found(format!("the path parameter {key} is not UTF-8 text")).with_field(key.as_str()),
        Some(ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. }) => {
            Problem::not_found(format!("the path parameter {key} names nothing")).with_field(key.as_str())
        }
        _ if rejection.status().is_client_error() => Problem::not_found(format!("no such route: {}", rejection.body_text())),
        // A route whose handler asks for parameters its path does not have: a programming error.
        _ => {
            tracing::error!(rejection = %rejection.body_text(), "path parameters do not fit the handler");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "the request could not be completed")
        }
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
        let version = value.to_str().ok().map(|v| v.trim().trim_start_matches("W/").trim_matches('"')).and_then(|v| v.parse::<u64>().ok());
        match version {
            Some(v) => Ok(IfMatch(Some(v))),
            // An ETag we never issued cannot match the current version.
            None => Err(Problem::new(StatusCode::PRECONDITION_FAILED, "stale-version", "Stale version", "If-Match does not name a version of this resource")
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

/// The network address of the client: on AWS the source IP API Gateway saw (its request
/// context), locally the TCP peer. Never a header such as `X-Forwarded-For`, which the client
/// writes itself. `None` when the request came by neither way (in-process calls).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>() {
            return Ok(ClientIp(context.http.source_ip.as_deref().and_then(|ip| ip.trim().parse().ok())));
        }
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip())))
    }
}

/// The common paging parameters of list routes.
pub fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit.unwrap_or(25) {
        n @ 1..=100 => Ok(n),
        _ => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", "limit must be between 1 and 100").with_field("limit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_encoded_fields_decode_strictly() {
        let fields = url_encoded_fields(b"name=Ada+L%C3%B6velace&email=ada%40example.com&empty=&flag").expect("valid");
        assert_eq!(fields, json!({"name": "Ada Lövelace", "email": "ada@example.com", "empty": "", "flag": ""}));
        for bad in [&b"name=%zz"[..], b"name=%4", b"name=%+1", b"name=%C3", b"a=1&a=2", b"name=\xff"] {
            assert!(url_encoded_fields(bad).is_err(), "{:?} accepted", String::from_utf8_lossy(bad));
        }
    }
}
