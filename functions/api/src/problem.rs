//! RFC 9457 problem details: every failure of the API is answered as `application/problem+json`
//! with a stable `type`, the HTTP status, a human reason and, where there is one, the field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use docket_domain::DomainError;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { kind: format!("urn:docket:problem:{slug}"), title, status: status.as_u16(), detail: detail.into(), field: None, retry_after_secs: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail)
    }

    /// Seconds a client should wait before trying again, sent as `Retry-After`: the limit's own
    /// window, or a second when the service is briefly unavailable.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after_secs.or((self.status == StatusCode::SERVICE_UNAVAILABLE.as_u16()).then_some(1))
    }
}

impl From<DomainError> for Problem {
    fn from(error: DomainError) -> Self {
        let detail = error.to_string();
        match error {
            DomainError::NotFound { .. } => Problem::not_found(detail),
            DomainError::Validation { field, .. } => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid field", detail).with_field(field),
            DomainError::Conflict { field, .. } => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail).with_field(field),
            DomainError::StaleVersion { .. } => Problem::new(StatusCode::PRECONDITION_FAILED, "stale-version", "Stale version", detail).with_field("If-Match"),
            DomainError::VersionRequired => {
                Problem::new(StatusCode::PRECONDITION_REQUIRED, "version-required", "If-Match required", detail).with_field("If-Match")
            }
            DomainError::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
            DomainError::Unauthenticated(_) => Problem::unauthenticated(detail),
            DomainError::RateLimited { retry_after_secs, .. } => {
                let mut problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", detail);
                problem.retry_after_secs = Some(retry_after_secs.max(1));
                problem
            }
            DomainError::Transient(_) => {
                tracing::warn!(error = %detail, "transient failure");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Temporarily unavailable", "please retry shortly")
            }
            DomainError::Internal(_) => {
                // The detail may name storage internals: log it, do not show it.
                tracing::error!(error = %detail, "internal error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "the request could not be completed")
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, Problem>;
