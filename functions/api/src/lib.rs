//! Docket's HTTP API: one axum router, served by the `api` Lambda function (through
//! `lambda_http`, API Gateway HTTP API events) and by the local `docket serve` process.

pub mod auth;
pub mod extract;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod signed_blobs;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use docket_domain::Docket;
use docket_ports::SignedUrlBlobs;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{Authenticator, TokenKeys};
use problem::Problem;
pub use signed_blobs::signed_blob_router;

#[derive(Clone)]
pub struct AppState {
    pub docket: Docket,
    pub authenticator: Authenticator,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Default)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        ulid::Ulid::new().to_string().parse().ok().map(RequestId::new)
    }
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    with_layers(api_routes(state))
}

/// The API, the routes of the presigned requests of a blob store that signs URLs to this server
/// (the local process; on AWS the URLs go to S3) and `beside`: routes of the same server that are
/// not the API's (the local console), under the same layers.
pub fn router_serving_blobs<S: SignedUrlBlobs + 'static>(state: AppState, blobs: Arc<S>, beside: Router) -> Router {
    with_layers(api_routes(state).merge(signed_blob_router(blobs)).merge(beside))
}

fn api_routes(state: AppState) -> Router {
    let mut router = Router::new();
    for route in openapi::routes_only(routes::route_table) {
        router = router.route(route.path, route.handler);
    }
    router.fallback(|| async { Problem::not_found("no such route") }).method_not_allowed_fallback(method_not_allowed).with_state(state)
}

/// The answer to a method a route does not take (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed() -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", "this route does not take that method")
}

fn with_layers(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            tracing::error!("request handler panicked");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "the request could not be completed").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UlidRequestId))
}

/// Default lifetime of locally minted tokens.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);
