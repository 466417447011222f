//! The local server's side of presigned blob requests. On AWS a client uploads and downloads
//! large attachments straight from S3 with the URLs the API presigned; a blob folder has no
//! server of its own, so the local process serves these two routes, and the folder adapter signs
//! URLs to them (`docket_ports::SignedUrlBlobs`). They answer as S3 does for the same requests:
//!
//! - `PUT /blobs/upload/{token}`: 403 for a token that is forged, altered, expired or for
//!   downloads, or without the signed `Content-Type` and `If-None-Match: *` headers; 413 beyond
//!   the size the URL allows; 412 when the blob exists already (an upload cannot replace one the
//!   API has checked); else 200.
//! - `GET /blobs/download/{token}`: 403 as above, 404 for a missing blob; else the bytes with the
//!   signed `Content-Type` and `Content-Disposition: attachment; …`, and `nosniff`.
//!
//! They take no bearer token: the signed URL is the authorisation, as on S3.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use docket_ports::{SIGNED_DOWNLOAD_PATH, SIGNED_UPLOAD_PATH, SignedUrlBlobs, attachment_disposition};
use http_body_util::BodyExt;

use crate::extract::Path;
use crate::problem::{ApiResult, Problem};
use crate::routes::port_problem;

/// The two routes of presigned requests to `store`.
pub fn signed_blob_router<S: SignedUrlBlobs + 'static>(store: Arc<S>) -> Router {
    Router::new()
        .route(&format!("{SIGNED_UPLOAD_PATH}/{{token}}"), put(upload::<S>))
        .route(&format!("{SIGNED_DOWNLOAD_PATH}/{{token}}"), get(download::<S>))
        .method_not_allowed_fallback(crate::method_not_allowed)
        .with_state(store)
}

fn refused(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "signed-url-refused", "Forbidden", detail)
}

fn too_large(max_size: u64) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Body too large", format!("this URL takes at most {max_size} bytes"))
}

async fn upload<S: SignedUrlBlobs>(State(store): State<Arc<S>>, Path(token): Path<String>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let grant = store.upload_grant(&token).map_err(|e| refused(e.to_string()))?;
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    // The signed headers, as S3 checks them: the exact content type, and create-only.
    if header(header::CONTENT_TYPE) != Some(grant.content_type.as_str()) {
        return Err(refused(format!("this URL uploads only with Content-Type: {}", grant.content_type)));
    }
    if header(header::IF_NONE_MATCH) != Some("*") {
        return Err(refused("this URL uploads only with If-None-Match: *"));
    }
    let declared = header(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > grant.max_size) {
        return Err(too_large(grant.max_size));
    }
    // Read frame by frame, so that a body without Content-Length stops at the limit too.
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Problem::bad_request(format!("could not read the upload: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > grant.max_size {
                return Err(too_large(grant.max_size));
            }
            bytes.extend_from_slice(&data);
        }
    }
    match store.put_new(&grant.key, &grant.content_type, bytes).await.map_err(port_problem)? {
        Some(_) => Ok(StatusCode::OK.into_response()),
        None => Err(Problem::new(StatusCode::PRECONDITION_FAILED, "already-uploaded", "Already uploaded", "a file was uploaded with this URL already")
            .with_field("If-None-Match")),
    }
}

async fn download<S: SignedUrlBlobs>(State(store): State<Arc<S>>, Path(token): Path<String>) -> ApiResult<Response> {
    let grant = store.download_grant(&token).map_err(|e| refused(e.to_string()))?;
    let (_, bytes) = store.get(&grant.key).await.map_err(port_problem)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&grant.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    // attachment_disposition is printable ASCII by construction.
    let disposition = HeaderValue::from_str(&attachment_disposition(&grant.file_name)).unwrap_or(HeaderValue::from_static("attachment"));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
