//! The routes of the API. [`route_table`] is the single list the router is built from, and the
//! OpenAPI test compares `/openapi.json` against it, so the document cannot drift from the code.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post};
use docket_domain::Principal;
use docket_domain::cases::CaseFilter;
use docket_domain::directory::Entity;
use docket_domain::model::{Account, Case, CaseStatus, Contact, Lead, Team, User};
use docket_store::Cursor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams, page_limit};
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
    ];
    directory_routes::<User>(&mut table, "/users", "/users/{id}");
    directory_routes::<Team>(&mut table, "/teams", "/teams/{id}");
    directory_routes::<Account>(&mut table, "/accounts", "/accounts/{id}");
    directory_routes::<Contact>(&mut table, "/contacts", "/contacts/{id}");
    directory_routes::<Lead>(&mut table, "/leads", "/leads/{id}");
    table
}

fn directory_routes<E: Entity>(
    table: &mut Vec<(&'static str, &'static str, MethodRouter<AppState>)>,
    collection: &'static str,
    member: &'static str,
) {
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

async fn list_cases(
    State(state): State<AppState>,
    Caller(principal): Caller,
    QueryParams(query): QueryParams<CaseListQuery>,
) -> ApiResult<Response> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            CaseStatus::parse(s).ok_or_else(|| {
                Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", format!("unknown status {s:?}"))
                    .with_field("status")
            })
        })
        .transpose()?;
    let filter = CaseFilter {
        status,
        assignee_id: query.assignee_id,
        team_id: query.team_id,
        account_id: query.account_id,
        contact_id: query.contact_id,
    };
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

async fn list_entities<E: Entity>(
    State(state): State<AppState>,
    Caller(principal): Caller,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Response> {
    let (items, next) =
        state.docket.directory_service().list::<E>(&principal, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
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
