//! The routes of the API. [`route_table`] is the single list the router is built from, and the
//! OpenAPI test compares `/openapi.json` against it, so the document cannot drift from the code.

mod forms;
mod knowledge;

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, options, patch, post, put};
use docket_domain::Principal;
use docket_domain::cases::CaseFilter;
use docket_domain::directory::Entity;
use docket_domain::model::{Account, Case, CaseStatus, Contact, Lead, Mailbox, Team, User};
use docket_domain::rules::WorkflowRule;
use docket_domain::webform::WebForm;
use docket_store::Cursor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, Path, QueryParams, page_limit};
use crate::problem::{ApiResult, Problem};

pub const OPENAPI_DOCUMENT: &str = include_str!("../openapi.json");

/// Every route: method, path (OpenAPI syntax) and handler.
pub fn route_table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    let mut table: Vec<(&'static str, &'static str, MethodRouter<AppState>)> = vec![
        ("GET", "/health", get(health)),
        ("GET", "/openapi.json", get(openapi)),
        ("GET", "/me", get(me)),
        ("GET", "/settings", get(get_settings)),
        ("PATCH", "/settings", patch(update_settings)),
        ("POST", "/cases", post(create_case)),
        ("GET", "/cases", get(list_cases)),
        ("GET", "/cases/{case_ref}", get(get_case)),
        ("PATCH", "/cases/{case_ref}", patch(update_case)),
        ("GET", "/cases/{case_ref}/stream", get(list_stream)),
        ("POST", "/cases/{case_ref}/stream", post(post_entry)),
        ("POST", "/cases/{case_ref}/attachments", post(upload_attachment).layer(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES))),
        ("GET", "/cases/{case_ref}/attachments/{attachment_id}", get(download_attachment)),
        // Files of any size (up to 100 MiB) go around the API, straight to the blob store.
        ("POST", "/cases/{case_ref}/attachments/uploads", post(begin_upload)),
        ("POST", "/cases/{case_ref}/attachments/uploads/{attachment_id}/complete", post(complete_upload)),
        ("GET", "/cases/{case_ref}/attachments/{attachment_id}/url", get(attachment_url)),
        ("GET", "/cases/{case_ref}/followers", get(list_followers)),
        ("PUT", "/cases/{case_ref}/followers/{follower_id}", put(add_follower)),
        ("DELETE", "/cases/{case_ref}/followers/{follower_id}", delete(remove_follower)),
        ("GET", "/me/follows", get(my_follows)),
        ("GET", "/inbound-log", get(inbound_log)),
        ("GET", "/cases/{case_ref}/articles", get(knowledge::list_case_articles)),
        ("PUT", "/cases/{case_ref}/articles/{article_id}", put(knowledge::link_article)),
        ("DELETE", "/cases/{case_ref}/articles/{article_id}", delete(knowledge::unlink_article)),
        ("POST", "/articles", post(knowledge::create_article)),
        ("GET", "/articles", get(knowledge::list_articles)),
        ("GET", "/articles/{article_id}", get(knowledge::get_article)),
        ("PATCH", "/articles/{article_id}", patch(knowledge::update_article)),
        ("DELETE", "/articles/{article_id}", delete(knowledge::delete_article)),
        ("GET", "/forms/{form_id}/stats", get(forms::form_stats)),
        // Public: no token (their handlers take no Caller), their own body limit and CORS.
        ("POST", "/forms/{form_id}/submissions", post(forms::submit).layer(DefaultBodyLimit::max(forms::MAX_SUBMISSION_BYTES))),
        ("OPTIONS", "/forms/{form_id}/submissions", options(forms::preflight)),
        ("GET", "/forms/{form_id}/embed.html", get(forms::embed)),
        ("GET", "/web-forms/confirm/{token}", get(forms::confirmation_page)),
        ("POST", "/web-forms/confirm/{token}", post(forms::confirm)),
    ];
    directory_routes::<User>(&mut table, "/users", "/users/{id}");
    directory_routes::<Team>(&mut table, "/teams", "/teams/{id}");
    directory_routes::<Account>(&mut table, "/accounts", "/accounts/{id}");
    directory_routes::<Contact>(&mut table, "/contacts", "/contacts/{id}");
    directory_routes::<Lead>(&mut table, "/leads", "/leads/{id}");
    directory_routes::<Mailbox>(&mut table, "/mailboxes", "/mailboxes/{id}");
    directory_routes::<WebForm>(&mut table, "/forms", "/forms/{form_id}");
    directory_routes::<WorkflowRule>(&mut table, "/workflow-rules", "/workflow-rules/{id}");
    table.push(("DELETE", "/workflow-rules/{id}", delete(delete_workflow_rule)));
    table
}

fn directory_routes<E: Entity>(table: &mut Vec<(&'static str, &'static str, MethodRouter<AppState>)>, collection: &'static str, member: &'static str) {
    table.push(("POST", collection, post(create_entity::<E>)));
    table.push(("GET", collection, get(list_entities::<E>)));
    table.push(("GET", member, get(get_entity::<E>)));
    table.push(("PATCH", member, patch(update_entity::<E>)));
}

/// A JSON response carrying the record's version as its ETag.
fn versioned(status: StatusCode, body: impl Serialize, version: u64) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

#[derive(Serialize)]
struct Listing<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

fn listing<T>(items: Vec<T>, next: Option<Cursor>) -> Json<Listing<T>> {
    Json(Listing { items, next_cursor: next.map(|c| c.0) })
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_DOCUMENT).into_response()
}

async fn me(Caller(principal): Caller) -> Json<Value> {
    Json(match principal {
        Principal::Staff(user) => json!({ "kind": "user", "user": user }),
        Principal::Portal(contact) => json!({ "kind": "portal", "contact": contact }),
    })
}

async fn get_settings(State(state): State<AppState>, Caller(principal): Caller) -> ApiResult<Response> {
    Ok(Json(state.docket.settings(&principal).await?).into_response())
}

async fn update_settings(State(state): State<AppState>, Caller(principal): Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    Ok(Json(state.docket.update_settings(&principal, body).await?).into_response())
}

/// A case as staff see it: every field plus the number shown through the mask.
#[derive(Serialize)]
struct StaffCaseView<'a> {
    #[serde(flatten)]
    case: &'a Case,
    display_number: String,
}

/// A case as its customer sees it in the portal: no internal assignment details.
#[derive(Serialize)]
struct PortalCaseView<'a> {
    id: &'a str,
    number: u64,
    display_number: String,
    subject: &'a str,
    description: &'a str,
    status: CaseStatus,
    priority: docket_domain::model::Priority,
    #[serde(rename = "type")]
    case_type: &'a Option<String>,
    category: &'a Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
    version: u64,
}

fn case_view(principal: &Principal, case: &Case, mask: &docket_domain::mask::CaseNumberMask) -> Value {
    let display_number = mask.format(case.number);
    let view = match principal {
        Principal::Staff(_) => serde_json::to_value(StaffCaseView { case, display_number }),
        Principal::Portal(_) => serde_json::to_value(PortalCaseView {
            id: &case.id,
            number: case.number,
            display_number,
            subject: &case.subject,
            description: &case.description,
            status: case.status,
            priority: case.priority,
            case_type: &case.case_type,
            category: &case.category,
            created_at: case.audit.created_at,
            updated_at: case.audit.updated_at,
            version: case.audit.version,
        }),
    };
    view.unwrap_or(Value::Null)
}

async fn create_case(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let created = cases.create(&principal, body, key.as_deref()).await?;
    let mask = cases.mask().await?;
    let status = if created.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let mut response = versioned(status, case_view(&principal, &created.case, &mask), created.case.audit.version);
    if let Ok(location) = HeaderValue::from_str(&format!("/cases/{}", created.case.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseListQuery {
    status: Option<String>,
    assignee_id: Option<String>,
    team_id: Option<String>,
    account_id: Option<String>,
    contact_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_cases(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<CaseListQuery>) -> ApiResult<Response> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            CaseStatus::parse(s).ok_or_else(|| {
                Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", format!("unknown status {s:?}")).with_field("status")
            })
        })
        .transpose()?;
    let filter = CaseFilter { status, assignee_id: query.assignee_id, team_id: query.team_id, account_id: query.account_id, contact_id: query.contact_id };
    let cases = state.docket.cases();
    let (items, next) = cases.list(&principal, filter, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    let mask = cases.mask().await?;
    let views = items.iter().map(|c| case_view(&principal, c, &mask)).collect();
    Ok(listing::<Value>(views, next).into_response())
}

async fn get_case(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let case = cases.get(&principal, &case_ref).await?;
    let mask = cases.mask().await?;
    Ok(versioned(StatusCode::OK, case_view(&principal, &case, &mask), case.audit.version))
}

async fn update_case(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    IfMatch(version): IfMatch,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let case = cases.update(&principal, &case_ref, body, version).await?;
    let mask = cases.mask().await?;
    Ok(versioned(StatusCode::OK, case_view(&principal, &case, &mask), case.audit.version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn create_entity<E: Entity>(State(state): State<AppState>, Caller(principal): Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let entity: E = state.docket.directory_service().create(&principal, body).await?;
    Ok(versioned(StatusCode::CREATED, &entity, entity.audit().version))
}

async fn list_entities<E: Entity>(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<PageQuery>) -> ApiResult<Response> {
    let (items, next) = state.docket.directory_service().list::<E>(&principal, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(items, next).into_response())
}

async fn get_entity<E: Entity>(State(state): State<AppState>, Caller(principal): Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let entity: E = state.docket.directory_service().get(&principal, &id).await?;
    Ok(versioned(StatusCode::OK, &entity, entity.audit().version))
}

async fn update_entity<E: Entity>(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    IfMatch(version): IfMatch,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let entity: E = state.docket.directory_service().update(&principal, &id, body, version).await?;
    Ok(versioned(StatusCode::OK, &entity, entity.audit().version))
}

async fn delete_workflow_rule(State(state): State<AppState>, Caller(principal): Caller, Path(id): Path<String>) -> ApiResult<Response> {
    state.docket.delete_workflow_rule(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Largest attachment accepted in one upload.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

async fn list_stream(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Response> {
    let (items, next) = state.docket.cases().stream(&principal, &case_ref, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(items, next).into_response())
}

async fn post_entry(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (_, entry) = state.docket.cases().post(&principal, &case_ref, body).await?;
    // The author sees what they would see in the stream: a portal user gets the projection.
    Ok((StatusCode::CREATED, Json(entry.projected_for(&principal))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    name: String,
}

async fn upload_attachment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    QueryParams(query): QueryParams<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Body too large", format!("attachments are limited to {MAX_ATTACHMENT_BYTES} bytes"))
        } else {
            Problem::bad_request(format!("could not read the upload: {rejection}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(Problem::bad_request("the upload is empty").with_field("body"));
    }
    let name = docket_domain::validate::file_name("name", &query.name)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .unwrap_or("application/octet-stream")
        .to_owned();
    let cases = state.docket.cases();
    let case = cases.get(&principal, &case_ref).await?;
    let id = docket_domain::clock::new_id();
    let blob_key = docket_domain::stream::attachment_blob_key(&case.id, &id);
    let size = bytes.len() as u64;
    state.docket.blobs()?.put(&blob_key, &content_type, bytes.to_vec()).await.map_err(port_problem)?;
    let attachment = docket_domain::stream::Attachment {
        id,
        case_id: case.id.clone(),
        name,
        content_type,
        size,
        blob_key,
        uploaded_by: principal.id().to_owned(),
        entry_id: None,
        visibility: None,
    };
    let attachment = cases.record_attachment(&principal, &case, attachment).await?;
    Ok((StatusCode::CREATED, Json(attachment_view(&attachment))).into_response())
}

/// An uploaded attachment as its uploader is shown it (by either way of uploading).
fn attachment_view(attachment: &docket_domain::stream::Attachment) -> Value {
    json!({ "id": attachment.id, "name": attachment.name, "content_type": attachment.content_type, "size": attachment.size })
}

/// When a presigned request expires, as RFC 3339.
fn expiry(request: &docket_ports::PresignedRequest) -> String {
    time::OffsetDateTime::from(request.expires_at).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The answer to an announced upload: the request the client sends straight to the blob store
/// (S3, or the local server's `/blobs` routes), with the headers it must send as given.
async fn begin_upload(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let start = state.docket.cases().begin_upload(&principal, &case_ref, body, state.docket.blobs()?).await?;
    let headers: serde_json::Map<String, Value> = start.request.headers.iter().map(|(name, value)| (name.clone(), Value::from(value.as_str()))).collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "attachment_id": start.upload.id,
            "upload_url": start.request.url,
            "method": start.request.method,
            "headers": headers,
            "expires_at": expiry(&start.request),
            "max_size": start.upload.size,
        })),
    )
        .into_response())
}

async fn complete_upload(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (attachment, replayed) = state.docket.cases().complete_upload(&principal, &case_ref, &attachment_id, state.docket.blobs()?).await?;
    let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(attachment_view(&attachment))).into_response())
}

async fn attachment_url(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, request) = state.docket.cases().attachment_url(&principal, &case_ref, &attachment_id, state.docket.blobs()?).await?;
    Ok(Json(json!({ "url": request.url, "method": request.method, "expires_at": expiry(&request) })).into_response())
}

/// Largest attachment served through the API itself; larger ones redirect to a download URL.
pub const MAX_INLINE_DOWNLOAD_BYTES: u64 = 4 * 1024 * 1024;

async fn download_attachment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, attachment) = state.docket.cases().attachment(&principal, &case_ref, &attachment_id).await?;
    if attachment.size > MAX_INLINE_DOWNLOAD_BYTES {
        // More than a Lambda response carries (6 MB, base64 on the way): the client fetches the
        // bytes from the blob store itself, under the same access rule.
        let (_, request) = state.docket.cases().attachment_url(&principal, &case_ref, &attachment_id, state.docket.blobs()?).await?;
        let location = HeaderValue::from_str(&request.url).map_err(|e| docket_domain::DomainError::Internal(e.to_string()))?;
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response());
    }
    let (_, bytes) = state.docket.blobs()?.get(&attachment.blob_key).await.map_err(port_problem)?;
    // Served as a download, never rendered inline: an uploaded HTML file must not run as our origin.
    let disposition = docket_ports::attachment_disposition(&attachment.name);
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&attachment.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

pub(crate) fn port_problem(error: docket_ports::PortError) -> Problem {
    match error {
        docket_ports::PortError::NotFound(m) => Problem::not_found(m),
        docket_ports::PortError::Invalid(m) => Problem::bad_request(m),
        docket_ports::PortError::Transient(m) => docket_domain::DomainError::Transient(m).into(),
        docket_ports::PortError::Backend(m) => docket_domain::DomainError::Internal(m).into(),
    }
}

async fn list_followers(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>) -> ApiResult<Response> {
    let follows = state.docket.cases().followers(&principal, &case_ref).await?;
    Ok(listing(follows, None).into_response())
}

/// `me` names the caller.
fn follower(principal: &Principal, follower_id: &str) -> Option<String> {
    (follower_id != "me" && follower_id != principal.id()).then(|| follower_id.to_owned())
}

async fn add_follower(State(state): State<AppState>, Caller(principal): Caller, Path((case_ref, follower_id)): Path<(String, String)>) -> ApiResult<Response> {
    let who = follower(&principal, &follower_id);
    let follow = state.docket.cases().follow(&principal, &case_ref, who.as_deref()).await?;
    Ok(Json(follow).into_response())
}

async fn remove_follower(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, follower_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who = follower(&principal, &follower_id);
    state.docket.cases().unfollow(&principal, &case_ref, who.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn my_follows(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<PageQuery>) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let (items, next) = cases.followed(&principal, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    let mask = cases.mask().await?;
    let views = items.iter().map(|c| case_view(&principal, c, &mask)).collect();
    Ok(listing::<Value>(views, next).into_response())
}

async fn inbound_log(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<PageQuery>) -> ApiResult<Response> {
    let (items, next) = state.docket.inbound_log(&principal, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(items, next).into_response())
}
