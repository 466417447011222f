//! Knowledge-base routes (SPEC F7, F50): articles for staff, published portal-visible articles
//! for portal users, search by title words, and links between articles and cases.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docket_domain::Principal;
use docket_domain::directory::DirectoryService;
use docket_domain::fields::MergePatch;
use docket_domain::knowledge::{Article, ArticleFields};
use docket_store::Cursor;
use serde::Deserialize;

use super::{PageQuery, listing, versioned};
use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Body, IfMatch, JsonBody, Path, QueryParams, page_limit};
use crate::problem::ApiResult;
use crate::views::{ArticleView, PortalArticle};

fn article_view(principal: &Principal, article: &Article) -> ArticleView {
    match principal {
        Principal::Staff(_) => ArticleView::Staff(article.clone()),
        Principal::Portal(_) => ArticleView::Portal(PortalArticle {
            id: article.id.clone(),
            title: article.title.clone(),
            body: article.body.clone(),
            updated_at: article.audit.updated_at,
        }),
    }
}

fn article_views(principal: &Principal, articles: &[Article]) -> Vec<ArticleView> {
    articles.iter().map(|a| article_view(principal, a)).collect()
}

pub(super) async fn create_article(State(state): State<AppState>, Caller(principal): Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    DirectoryService::authorize_write::<Article>(&principal)?;
    let fields: ArticleFields = docket_domain::fields::parse(body)?;
    let article = state.docket.knowledge().create(&principal, fields).await?;
    Ok(versioned(StatusCode::CREATED, article_view(&principal, &article), article.audit.version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ArticleListQuery {
    /// Title words; every one must be in the title.
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(super) async fn list_articles(
    State(state): State<AppState>,
    Caller(principal): Caller,
    QueryParams(query): QueryParams<ArticleListQuery>,
) -> ApiResult<Response> {
    let knowledge = state.docket.knowledge();
    let limit = page_limit(query.limit)?;
    let cursor = query.cursor.map(Cursor);
    let (items, next) = match query.q.as_deref() {
        Some(text) => knowledge.search(&principal, text, limit, cursor).await?,
        None => knowledge.list(&principal, limit, cursor).await?,
    };
    Ok(listing(article_views(&principal, &items), next).into_response())
}

pub(super) async fn get_article(State(state): State<AppState>, Caller(principal): Caller, Path(article_id): Path<String>) -> ApiResult<Response> {
    let article = state.docket.knowledge().get(&principal, &article_id).await?;
    Ok(versioned(StatusCode::OK, article_view(&principal, &article), article.audit.version))
}

pub(super) async fn update_article(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(article_id): Path<String>,
    IfMatch(version): IfMatch,
    Body(patch): Body<MergePatch<ArticleFields>>,
) -> ApiResult<Response> {
    let article = state.docket.knowledge().update(&principal, &article_id, patch, version).await?;
    Ok(versioned(StatusCode::OK, article_view(&principal, &article), article.audit.version))
}

pub(super) async fn delete_article(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(article_id): Path<String>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    state.docket.knowledge().delete(&principal, &article_id, version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_case_articles(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Response> {
    let (items, next) = state.docket.cases().articles(&principal, &case_ref, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(article_views(&principal, &items), next).into_response())
}

pub(super) async fn link_article(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, article_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (link, created) = state.docket.cases().link_article(&principal, &case_ref, &article_id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(link)).into_response())
}

pub(super) async fn unlink_article(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, article_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    state.docket.cases().unlink_article(&principal, &case_ref, &article_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
