//! The routes of the API. [`route_table`] is the single list the router and the OpenAPI
//! document are built from: each route names the Rust types of its bodies, so `/openapi.json`
//! cannot drift from the code.

mod forms;
mod knowledge;

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, options, patch, post, put};
use docket_domain::Principal;
use docket_domain::agreements::{ServiceAgreement, ServiceAgreementFields};
use docket_domain::calendar::{Calendar, CalendarFields};
use docket_domain::cases::{AssigneeFilter, CaseCounts, CaseFilter, CaseSearch, CaseSort, SlaFilter};
use docket_domain::directory::{Entity, SearchText, Searchable};
use docket_domain::ids::Id;
use docket_domain::ids::{AccountId, CaseId, ContactId, TeamId, UserId};
use docket_domain::model::{Account, Case, CaseStatus, Contact, Lead, Mailbox, Team, User};
use docket_domain::rules::WorkflowRule;
use docket_domain::webform::WebForm;
use docket_store::Cursor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Body, IdempotencyKey, IfMatch, JsonBody, Path, QueryParams, page_limit};
use crate::openapi::Route;
use crate::problem::{ApiResult, Problem};
use crate::views::*;
use docket_domain::cases::{CaseFields, NewCase};
use docket_domain::directory::DirectoryService;
use docket_domain::directory::{AccountFields, ContactFields, LeadFields, MailboxFields, TeamFields, UserFields};
use docket_domain::fields::MergePatch;
use docket_domain::follows::Follow;
use docket_domain::inbound::{InboundLogEntry, InboundLogFilter, InboundOutcome, MAX_LOG_LINES_SCANNED};
use docket_domain::knowledge::{Article, ArticleFields, ArticleLink};
use docket_domain::model::Settings;
use docket_domain::rules::WorkflowRuleFields;
use docket_domain::stream::{AttachmentRef, PostFields, StreamEntry, UploadFields};
use docket_domain::webform::{FormStats, WebFormFields};

/// The OpenAPI document of [`route_table`], built once.
pub fn openapi_document() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| crate::openapi::document(&route_table()))
}

/// Every route: method, path (OpenAPI syntax), handler, and what the document says of it —
/// the request and response bodies by Rust type, the statuses it fails with.
pub fn route_table() -> Vec<Route> {
    vec![
        Route::new("GET", "/health", get(health))
            .op("health", "Liveness")
            .public()
            .reply::<Health>(200, "Up"),
        Route::new("GET", "/openapi.json", get(openapi))
            .op("openapi", "This document")
            .public()
            .reply::<OpenApiDocument>(200, "OpenAPI document"),
        Route::new("GET", "/branding", get(branding))
            .op("getBranding", "Public: the company's name, logo and colour for the customer portal's pages")
            .public()
            .reply::<docket_domain::model::Brand>(200, "Brand"),
        Route::new("GET", "/me", get(me))
            .op("me", "The caller: a user or a portal contact")
            .reply::<Me>(200, "Caller")
            .errors(&[401]),
        Route::new("GET", "/settings", get(get_settings))
            .op("getSettings", "System settings (staff)")
            .reply::<Settings>(200, "Settings")
            .errors(&[401, 403]),
        Route::new("PATCH", "/settings", patch(update_settings))
            .op("updateSettings", "Change settings (admin), JSON merge patch")
            .body::<Settings>(true)
            .reply::<Settings>(200, "Settings")
            .errors(&[400, 401, 403, 415, 422]),
        Route::new("POST", "/cases", post(create_case))
            .op("createCase", "Open a case. Staff send CaseFields; portal users send PortalCaseFields (contact, account and source are theirs).")
            .header("Idempotency-Key", false, "Repeating a create with the same key returns the first result (24 h)")
            .body::<NewCase>(false)
            .reply::<CaseView>(201, "Created")
            .etag(201)
            .reply::<CaseView>(200, "Replayed by Idempotency-Key")
            .etag(200)
            .errors(&[400, 401, 403, 413, 415, 422]),
        case_filters(Route::new("GET", "/cases", get(list_cases)))
            .op("listCases", "Cases the caller may see, newest first (or most recently changed, or highest priority, first). With q, a case whose number it names comes first on the first page, then the cases whose subject holds it. Cases of a team or contact sorted by updated or priority are sorted from that team's or contact's newest 1000 cases")
            .query("sort", json!({"type": "string", "enum": ["created", "updated", "priority"], "default": "created"}), "created: newest first; updated: most recently changed first; priority: Urgent first, then newest first. A cursor pages only the list (filters, q and sort) that gave it")
            .paged()
            .reply_page::<CaseView>(200, "A page of cases (may hold fewer than limit; follow next_cursor)")
            .errors(&[400, 401, 422]),
        // A static segment: axum's router prefers it to `/cases/{case_ref}` (no case reference
        // can be `counts`: ids are ULIDs, numbers are digits, masked numbers hold digits).
        case_filters(Route::new("GET", "/cases/counts", get(count_cases)))
            .op("countCases", "How many cases the caller may see under the filters, in all and by status (by_status leaves the status filter out, for tabs). Counts read at most 5000 cases; complete says whether they read them all")
            .reply::<CaseCounts>(200, "Counts")
            .errors(&[400, 401]),
        Route::new("GET", "/cases/{case_ref}", get(get_case))
            .op("getCase", "One case")
            .path_param("case_ref", "Case id, number (42) or masked number ([#42])")
            .reply::<CaseView>(200, "The case")
            .etag(200)
            .errors(&[401, 404]),
        Route::new("PATCH", "/cases/{case_ref}", patch(update_case))
            .op("updateCase", "Change a case (JSON merge patch over CaseFields) at the version read")
            .path_param("case_ref", "Case id, number (42) or masked number ([#42])")
            .header("If-Match", true, "ETag of the version read")
            .body::<CaseFields>(true)
            .reply::<CaseView>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 412, 415, 422, 428]),
        Route::new("POST", "/cases/{case_ref}/close", post(close_case))
            .op("closeCase", "Close the case: a customer closes their own case in the portal (staff may too). Closing a closed case changes nothing")
            .path_param("case_ref", "Case id, number (42) or masked number ([#42])")
            .reply::<CaseView>(200, "Closed")
            .etag(200)
            .errors(&[401, 403, 404, 409, 422]),
        Route::new("POST", "/users", post(create_entity::<User>))
            .op("createUser", "Create a user (admins)")
            .body::<UserFields>(false)
            .reply::<User>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/users", get(list_entities::<User>))
            .op("listUsers", "Users sorted by name (staff)")
            .paged()
            .reply_page::<User>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/users/{id}", get(get_entity::<User>))
            .op("getUser", "One user (staff)")
            .path_param("id", "")
            .reply::<User>(200, "User")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/users/{id}", patch(update_entity::<User>))
            .op("updateUser", "Change a user (admins), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<UserFields>(true)
            .reply::<User>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("POST", "/teams", post(create_entity::<Team>))
            .op("createTeam", "Create a team (admins)")
            .body::<TeamFields>(false)
            .reply::<Team>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/teams", get(list_entities::<Team>))
            .op("listTeams", "Teams sorted by name (staff)")
            .paged()
            .reply_page::<Team>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/teams/{id}", get(get_entity::<Team>))
            .op("getTeam", "One team (staff)")
            .path_param("id", "")
            .reply::<Team>(200, "Team")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/teams/{id}", patch(update_entity::<Team>))
            .op("updateTeam", "Change a team (admins), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<TeamFields>(true)
            .reply::<Team>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("POST", "/accounts", post(create_entity::<Account>))
            .op("createAccount", "Create a account (staff)")
            .body::<AccountFields>(false)
            .reply::<Account>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/accounts", get(list_searchable::<Account>))
            .op("listAccounts", "Accounts sorted by name (staff); with q, a search by name prefix or whole email domain")
            .query("q", json!({"type": "string", "minLength": 1, "maxLength": 100}), SEARCH_Q_ACCOUNT)
            .paged()
            .reply_page::<Account>(200, "A page (with q it may hold fewer than limit; follow next_cursor)")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/accounts/{id}", get(get_entity::<Account>))
            .op("getAccount", "One account (staff)")
            .path_param("id", "")
            .reply::<Account>(200, "Account")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/accounts/{id}", patch(update_entity::<Account>))
            .op("updateAccount", "Change a account (staff), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<AccountFields>(true)
            .reply::<Account>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("POST", "/contacts", post(create_entity::<Contact>))
            .op("createContact", "Create a contact (staff)")
            .body::<ContactFields>(false)
            .reply::<Contact>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/contacts", get(list_searchable::<Contact>))
            .op("listContacts", "Contacts sorted by name (staff); with q, a search by name prefix or whole email address")
            .query("q", json!({"type": "string", "minLength": 1, "maxLength": 100}), SEARCH_Q_CONTACT)
            .paged()
            .reply_page::<Contact>(200, "A page (with q it may hold fewer than limit; follow next_cursor)")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/contacts/{id}", get(get_entity::<Contact>))
            .op("getContact", "One contact (staff)")
            .path_param("id", "")
            .reply::<Contact>(200, "Contact")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/contacts/{id}", patch(update_entity::<Contact>))
            .op("updateContact", "Change a contact (staff), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<ContactFields>(true)
            .reply::<Contact>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("POST", "/leads", post(create_entity::<Lead>))
            .op("createLead", "Create a lead (staff)")
            .body::<LeadFields>(false)
            .reply::<Lead>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/leads", get(list_entities::<Lead>))
            .op("listLeads", "Leads sorted by name (staff)")
            .paged()
            .reply_page::<Lead>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/leads/{id}", get(get_entity::<Lead>))
            .op("getLead", "One lead (staff)")
            .path_param("id", "")
            .reply::<Lead>(200, "Lead")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/leads/{id}", patch(update_entity::<Lead>))
            .op("updateLead", "Change a lead (staff), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<LeadFields>(true)
            .reply::<Lead>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("GET", "/cases/{case_ref}/stream", get(list_stream))
            .op("listStream", "The case's stream, newest first; portal users never see internal entries")
            .path_param("case_ref", "Case id, number or masked number")
            .paged()
            .reply_page::<StreamEntry>(200, "A page of entries")
            .errors(&[400, 401, 404]),
        Route::new("GET", "/cases/{case_ref}/stream/{entry_id}/html", get(entry_html))
            .op("getEntryHtml", "The HTML body of a received mail's entry (staff; portal users get 404), sanitised, to show in a sandboxed frame: it cannot run scripts, load anything but inline images, or be sniffed as another type")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("entry_id", "Stream entry id")
            .reply_as::<Html>(200, "The sanitised HTML", "text/html; charset=utf-8")
            .reply_header(200, "Content-Security-Policy", ENTRY_HTML_CSP)
            .reply_header(200, "X-Content-Type-Options", "nosniff")
            .reply_header(200, "Cache-Control", "private, max-age=300")
            .errors(&[401, 404]),
        Route::new("POST", "/cases/{case_ref}/stream", post(post_entry))
            .op("postEntry", "Post to the case (portal users: body and attachment_ids only, always public); followers are notified")
            .path_param("case_ref", "Case id, number or masked number")
            .body::<PostFields>(false)
            .reply::<StreamEntry>(201, "The entry")
            .errors(&[400, 401, 404, 409, 415, 422]),
        Route::new("POST", "/cases/{case_ref}/stream/{entry_id}/cases", post(spawn_case))
            .op("spawnCase", "Staff: opens a case from a post or a mail of this case, as its child, for the same contacts, account, category, type, mailbox and teams, quoting the entry; a case from an internal entry is internal. With an Idempotency-Key a retry gets the case first opened (200)")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("entry_id", "Stream entry id (a post or a mail, not a system entry)")
            .header("Idempotency-Key", false, "Repeating it with the same key returns the case first opened (24 h)")
            .body::<docket_domain::spawn::SpawnFields>(false)
            .reply::<CaseView>(201, "Opened (`{}` for the defaults)")
            .etag(201)
            .reply::<CaseView>(200, "Replayed by Idempotency-Key")
            .etag(200)
            .errors(&[400, 401, 403, 404, 415, 422]),
        Route::new("POST", "/cases/{case_ref}/attachments", post(upload_attachment).layer(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)))
            .op("uploadAttachment", "Upload a file (raw body, its Content-Type) to post with an entry; at most 10 MiB (on AWS about 6 MB, the Lambda payload limit: larger files go through /attachments/uploads)")
            .path_param("case_ref", "Case id, number or masked number")
            .query("name", json!({"type": "string", "maxLength": 200}), "")
            .raw_body::<Binary>(&["*/*"])
            .reply::<AttachmentRef>(201, "Uploaded")
            .errors(&[400, 401, 404, 413, 422]),
        Route::new("GET", "/cases/{case_ref}/attachments/{attachment_id}", get(download_attachment))
            .op("downloadAttachment", "Download an attachment (as a download, never inline); attachments of internal entries are hidden from portal users (on AWS only up to about 6 MB, the Lambda payload limit: larger ones through /url)")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("attachment_id", "")
            .reply_as::<Binary>(200, "The bytes", "*/*")
            .reply_empty(303, "Attachments larger than 4 MiB (more than a Lambda response can carry): a short-lived presigned download URL in Location, with the same access rule")
            .reply_header(303, "Location", "")
            .errors(&[401, 404]),
        Route::new("POST", "/cases/{case_ref}/attachments/uploads", post(begin_upload))
            .op("beginUpload", "Announce a file of up to 100 MiB and get a presigned request that uploads it straight to the blob store (S3 on AWS, the local server's /blobs routes locally), valid 15 minutes")
            .path_param("case_ref", "Case id, number or masked number")
            .body::<UploadFields>(false)
            .reply::<UploadTicket>(201, "Announced; upload the bytes with this request")
            .errors(&[400, 401, 404, 422]),
        Route::new("POST", "/cases/{case_ref}/attachments/uploads/{attachment_id}/complete", post(complete_upload))
            .op("completeUpload", "Complete an upload announced by the caller: the uploaded file must be there, no larger than announced and of the announced content type; it becomes an unposted attachment of the caller, as a direct upload does")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("attachment_id", "")
            .reply::<AttachmentRef>(200, "Completed before (a retry)")
            .reply::<AttachmentRef>(201, "Completed")
            .errors(&[401, 404, 409, 422]),
        Route::new("GET", "/cases/{case_ref}/attachments/{attachment_id}/url", get(attachment_url))
            .op("attachmentUrl", "A presigned URL that downloads an attachment straight from the blob store, valid 15 minutes; the store answers it with the attachment's content type and Content-Disposition: attachment with its file name (RFC 5987). Who may read what is as for the download")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("attachment_id", "")
            .reply::<PresignedDownload>(200, "The request to make")
            .errors(&[401, 404]),
        Route::new("GET", "/cases/{case_ref}/followers", get(list_followers))
            .op("listFollowers", "Who follows the case (staff)")
            .path_param("case_ref", "Case id, number or masked number")
            .reply_page::<Follow>(200, "Followers")
            .errors(&[401, 403, 404]),
        Route::new("PUT", "/cases/{case_ref}/followers/{follower_id}", put(add_follower))
            .op("follow", "Follow the case (`me`), or make a user or portal contact who can see it follow (staff)")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("follower_id", "A user or portal contact id, or `me`")
            .reply::<Follow>(200, "Following")
            .errors(&[401, 403, 404, 422]),
        Route::new("DELETE", "/cases/{case_ref}/followers/{follower_id}", delete(remove_follower))
            .op("unfollow", "Stop following (`me`), or remove a follower (staff)")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("follower_id", "A user or portal contact id, or `me`")
            .reply_empty(204, "Not following")
            .errors(&[401, 403, 404]),
        Route::new("GET", "/me/follows", get(my_follows))
            .op("myFollows", "Cases the caller follows and may still see")
            .paged()
            .reply_page::<CaseView>(200, "A page of cases")
            .errors(&[400, 401]),
        Route::new("GET", "/articles", get(knowledge::list_articles))
            .op("listArticles", "Articles sorted by title, or with q those whose title holds every word, newest first. Staff see all; portal users published portal-visible ones")
            .query("q", json!({"type": "string"}), "Title words (at most 8; words of 2+ letters or digits)")
            .paged()
            .reply_page::<ArticleView>(200, "A page of articles (Article for staff, PortalArticle for portal users)")
            .errors(&[400, 401, 422]),
        Route::new("POST", "/articles", post(knowledge::create_article))
            .op("createArticle", "Write an article (staff)")
            .body::<ArticleFields>(false)
            .reply::<Article>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 413, 415, 422]),
        Route::new("GET", "/articles/{article_id}", get(knowledge::get_article))
            .op("getArticle", "One article; portal users only published portal-visible ones (404 otherwise)")
            .path_param("article_id", "Article id")
            .reply::<ArticleView>(200, "The article")
            .etag(200)
            .errors(&[401, 404]),
        Route::new("PATCH", "/articles/{article_id}", patch(knowledge::update_article))
            .op("updateArticle", "Change an article (staff), JSON merge patch over ArticleFields; If-Match optional")
            .path_param("article_id", "Article id")
            .header("If-Match", false, "ETag of the version read (optional)")
            .body::<ArticleFields>(true)
            .reply::<Article>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 412, 415, 422]),
        Route::new("DELETE", "/articles/{article_id}", delete(knowledge::delete_article))
            .op("deleteArticle", "Delete an article, its title index and its case links (staff); If-Match optional")
            .path_param("article_id", "Article id")
            .header("If-Match", false, "ETag of the version read (optional)")
            .reply_empty(204, "Deleted")
            .errors(&[401, 403, 404, 412]),
        Route::new("GET", "/cases/{case_ref}/articles", get(knowledge::list_case_articles))
            .op("listCaseArticles", "Articles linked to the case that the caller may read")
            .path_param("case_ref", "Case id, number or masked number")
            .paged()
            .reply_page::<ArticleView>(200, "A page of articles")
            .errors(&[400, 401, 404, 422]),
        Route::new("PUT", "/cases/{case_ref}/articles/{article_id}", put(knowledge::link_article))
            .op("linkArticle", "Link an article to the case (staff); adds an internal article_linked stream entry")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("article_id", "Article id")
            .reply::<ArticleLink>(201, "Linked")
            .reply::<ArticleLink>(200, "Already linked")
            .errors(&[401, 403, 404]),
        Route::new("DELETE", "/cases/{case_ref}/articles/{article_id}", delete(knowledge::unlink_article))
            .op("unlinkArticle", "Remove the link (staff); adds an internal article_unlinked stream entry")
            .path_param("case_ref", "Case id, number or masked number")
            .path_param("article_id", "Article id")
            .reply_empty(204, "Unlinked")
            .errors(&[401, 403, 404]),
        Route::new("POST", "/forms", post(create_entity::<WebForm>))
            .op("createForm", "Configure a web form (admins)")
            .body::<WebFormFields>(false)
            .reply::<WebForm>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 415, 422]),
        Route::new("GET", "/forms", get(list_entities::<WebForm>))
            .op("listForms", "Web forms sorted by name (admins)")
            .paged()
            .reply_page::<WebForm>(200, "A page")
            .errors(&[400, 401, 403, 422]),
        Route::new("GET", "/forms/{form_id}", get(get_entity::<WebForm>))
            .op("getForm", "One web form (admins)")
            .path_param("form_id", "Form id")
            .reply::<WebForm>(200, "The form")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/forms/{form_id}", patch(update_entity::<WebForm>))
            .op("updateForm", "Change a web form (admins), JSON merge patch; If-Match optional")
            .path_param("form_id", "Form id")
            .header("If-Match", false, "ETag of the version read (optional)")
            .body::<WebFormFields>(true)
            .reply::<WebForm>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 412, 415, 422]),
        Route::new("GET", "/forms/{form_id}/stats", get(forms::form_stats))
            .op("getFormStats", "What became of the form's submissions (admins)")
            .path_param("form_id", "Form id")
            .reply::<FormStats>(200, "Counts")
            .errors(&[401, 403, 404]),
        Route::new("POST", "/forms/{form_id}/submissions", post(forms::submit).layer(DefaultBodyLimit::max(forms::MAX_SUBMISSION_BYTES)))
            .op("submitForm", "Public: submit a web form (JSON or an HTML form's urlencoded fields). Opens a case with source web_form and no contact; the submitted address gets a mail (without any of the submitted text) asking its owner to confirm, and only then becomes the case's contact. Limits per form, per client IP and per sender address. Browsers may post only from the form's allowed origins (or the embed page); those get Access-Control-Allow-Origin")
            .public()
            .path_param("form_id", "Form id")
            .header("Origin", false, "Must be one of the form's allowed origins or this API's own origin when sent")
            .raw_body::<Submission>(&["application/json", "application/x-www-form-urlencoded"])
            .reply::<FormAnswer>(202, "Received (also when the honeypot was filled and nothing was created); an HTML page when the request accepts text/html")
            .errors(&[400, 403, 404, 413, 415, 422, 429, 503]),
        Route::new("OPTIONS", "/forms/{form_id}/submissions", options(forms::preflight))
            .op("preflightFormSubmission", "Public: CORS preflight; answered only for the form's allowed origins")
            .public()
            .path_param("form_id", "Form id")
            .header("Origin", true, "")
            .reply_empty(204, "Allowed")
            .reply_header(204, "Access-Control-Allow-Origin", "")
            .reply_header(204, "Access-Control-Allow-Methods", "")
            .reply_header(204, "Access-Control-Allow-Headers", "")
            .errors(&[403, 404]),
        Route::new("GET", "/forms/{form_id}/embed.html", get(forms::embed))
            .op("embedForm", "Public: a self-contained HTML form (no scripts) to put in an iframe; only the form's allowed origins may frame it")
            .public()
            .path_param("form_id", "Form id")
            .reply_as::<Html>(200, "The form page", "text/html")
            .errors(&[403, 404]),
        Route::new("POST", "/mailboxes", post(create_entity::<Mailbox>))
            .op("createMailbox", "Create a mailbox (admins)")
            .body::<MailboxFields>(false)
            .reply::<Mailbox>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/mailboxes", get(list_entities::<Mailbox>))
            .op("listMailboxs", "Mailboxs sorted by name (staff)")
            .paged()
            .reply_page::<Mailbox>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/mailboxes/{id}", get(get_entity::<Mailbox>))
            .op("getMailbox", "One mailbox (staff)")
            .path_param("id", "")
            .reply::<Mailbox>(200, "Mailbox")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/mailboxes/{id}", patch(update_entity::<Mailbox>))
            .op("updateMailbox", "Change a mailbox (admins), JSON merge patch; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<MailboxFields>(true)
            .reply::<Mailbox>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("GET", "/inbound-log", get(inbound_log))
            .op("inboundLog", "Every inbound message's outcome with its reason, newest first (admins); with outcome, only the lines of that outcome")
            .query(
                "outcome",
                json!({"$ref": "#/components/schemas/InboundOutcome"}),
                &format!(
                    "Only lines of this outcome. A filtered page examines at most {MAX_LOG_LINES_SCANNED} lines of the log: it may hold fewer than limit, even none, and still have a next_cursor"
                ),
            )
            .paged()
            .reply_page::<InboundLogEntry>(200, "A page of log entries")
            .errors(&[400, 401, 403]),
        Route::new("POST", "/workflow-rules", post(create_entity::<WorkflowRule>))
            .op("createWorkflowRule", "Create a workflow rule (admins)")
            .body::<WorkflowRuleFields>(false)
            .reply::<WorkflowRule>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 409, 415, 422]),
        Route::new("GET", "/workflow-rules", get(list_entities::<WorkflowRule>))
            .op("listWorkflowRules", "Workflow rules sorted by name (admins)")
            .paged()
            .reply_page::<WorkflowRule>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/workflow-rules/{id}", get(get_entity::<WorkflowRule>))
            .op("getWorkflowRule", "One workflow rule (admins)")
            .path_param("id", "")
            .reply::<WorkflowRule>(200, "WorkflowRule")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/workflow-rules/{id}", patch(update_entity::<WorkflowRule>))
            .op("updateWorkflowRule", "Change a workflow rule (admins), JSON merge patch; enable or disable it with {\"enabled\": false}; If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<WorkflowRuleFields>(true)
            .reply::<WorkflowRule>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 409, 412, 415, 422]),
        Route::new("DELETE", "/workflow-rules/{id}", delete(delete_workflow_rule))
            .op("deleteWorkflowRule", "Delete a workflow rule (admins)")
            .path_param("id", "")
            .reply_empty(204, "Deleted")
            .errors(&[401, 403, 404]),
        Route::new("POST", "/calendars", post(create_entity::<Calendar>))
            .op("createCalendar", "Create a business-hours calendar for service agreements (admins): weekly hours in an IANA time zone, holidays")
            .body::<CalendarFields>(false)
            .reply::<Calendar>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 415, 422]),
        Route::new("GET", "/calendars", get(list_entities::<Calendar>))
            .op("listCalendars", "Business-hours calendars sorted by name (admins)")
            .paged()
            .reply_page::<Calendar>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/calendars/{id}", get(get_entity::<Calendar>))
            .op("getCalendar", "One business-hours calendar (admins)")
            .path_param("id", "")
            .reply::<Calendar>(200, "Calendar")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/calendars/{id}", patch(update_entity::<Calendar>))
            .op("updateCalendar", "Change a business-hours calendar (admins), JSON merge patch; If-Match optional. A calendar is not deleted: agreements count on it")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<CalendarFields>(true)
            .reply::<Calendar>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 412, 415, 422]),
        Route::new("POST", "/service-agreements", post(create_entity::<ServiceAgreement>))
            .op("createServiceAgreement", "Create a service agreement (admins): SLA targets per priority in business minutes of a calendar, applied by contact, account, mailbox or as the default (the most specific wins)")
            .body::<ServiceAgreementFields>(false)
            .reply::<ServiceAgreement>(201, "Created")
            .etag(201)
            .errors(&[400, 401, 403, 415, 422]),
        Route::new("GET", "/service-agreements", get(list_entities::<ServiceAgreement>))
            .op("listServiceAgreements", "Service agreements sorted by name (admins)")
            .paged()
            .reply_page::<ServiceAgreement>(200, "A page")
            .errors(&[400, 401, 403]),
        Route::new("GET", "/service-agreements/{id}", get(get_entity::<ServiceAgreement>))
            .op("getServiceAgreement", "One service agreement (admins)")
            .path_param("id", "")
            .reply::<ServiceAgreement>(200, "ServiceAgreement")
            .etag(200)
            .errors(&[401, 403, 404]),
        Route::new("PATCH", "/service-agreements/{id}", patch(update_entity::<ServiceAgreement>))
            .op("updateServiceAgreement", "Change a service agreement (admins), JSON merge patch; switch it off with {\"enabled\": false}. A merge patch merges applies_to: to switch its kind, clear the old list ({\"applies_to\": {\"kind\": \"contacts\", \"account_ids\": null, \"contact_ids\": [...]}}). If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .body::<ServiceAgreementFields>(true)
            .reply::<ServiceAgreement>(200, "Updated")
            .etag(200)
            .errors(&[400, 401, 403, 404, 412, 415, 422]),
        Route::new("DELETE", "/service-agreements/{id}", delete(delete_entity::<ServiceAgreement>))
            .op("deleteServiceAgreement", "Delete a service agreement (admins); If-Match optional")
            .path_param("id", "")
            .header("If-Match", false, "ETag of the version read")
            .reply_empty(204, "Deleted")
            .errors(&[401, 403, 404, 412]),
        Route::new("GET", "/web-forms/confirm/{token}", get(forms::confirmation_page))
            .op("confirmationPage", "Public: the page behind the link of a confirmation mail, with a button that confirms (looking changes nothing)")
            .public()
            .path_param("token", "The token of the confirmation mail")
            .reply_as::<Html>(200, "The page", "text/html")
            .errors(&[404, 410, 503]),
        Route::new("POST", "/web-forms/confirm/{token}", post(forms::confirm))
            .op("confirmSender", "Public: confirms a web-form sender's address. The contact of the address (found, or created and linked to the account of its domain) becomes the case's primary contact and, with portal access, follows it. The token works once, for 7 days")
            .public()
            .path_param("token", "The token of the confirmation mail")
            .reply::<FormAnswer>(200, "Confirmed; an HTML page when the request accepts text/html")
            .errors(&[404, 409, 410, 503]),
    ]
}

/// The filters `GET /cases` and `GET /cases/counts` share.
fn case_filters(route: Route) -> Route {
    route
        .query("status", json!({"$ref": "#/components/schemas/CaseStatus"}), "")
        .query("assignee_id", json!({"type": "string"}), "A user id, or `me` for the caller (staff)")
        .query("unassigned", json!({"type": "boolean", "enum": [true]}), "Only cases without an assignee; not with assignee_id")
        .query("team_id", json!({"type": "string"}), "")
        .query("account_id", json!({"type": "string"}), "")
        .query("contact_id", json!({"type": "string"}), "")
        .query("parent_id", json!({"type": "string"}), "The children of this case (its id)")
        .query(
            "q",
            json!({"type": "string", "maxLength": CaseSearch::MAX_CHARS}),
            "A case number (42, or masked: [#42]) or a part of the subject, whatever its case; trimmed",
        )
        .query(
            "sla",
            json!({"type": "string", "enum": ["due", "breached"]}),
            "Staff: `due` lists the cases with a running SLA clock, soonest due first (overdue first of all); `breached` those with a breached clock still owed, longest breached first. Read through SLA indexes; the other filters narrow them; not with q",
        )
        .query(
            "due_within",
            json!({"type": "integer", "minimum": 0, "maximum": SlaFilter::MAX_WITHIN_MINUTES}),
            "With sla=due: only cases due within this many minutes from now (overdue ones included)",
        )
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

async fn branding(State(state): State<AppState>) -> ApiResult<Response> {
    let mut response = Json(state.docket.brand().await?).into_response();
    // Shown on every portal page load; a minute's staleness after an admin's change is fine.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}

async fn close_case(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let case = cases.close(&principal, &case_ref).await?;
    let mask = cases.mask().await?;
    Ok(versioned(StatusCode::OK, case_view(&principal, &case, &mask), case.audit.version))
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn openapi() -> Json<&'static Value> {
    Json(openapi_document())
}

async fn me(Caller(principal): Caller) -> Json<Me> {
    Json(match principal {
        Principal::Staff(user) => Me::User { user },
        Principal::Portal(contact) => Me::Portal { contact },
    })
}

async fn get_settings(State(state): State<AppState>, Caller(principal): Caller) -> ApiResult<Response> {
    Ok(Json(state.docket.settings(&principal).await?).into_response())
}

async fn update_settings(State(state): State<AppState>, Caller(principal): Caller, Body(patch): Body<MergePatch<Settings>>) -> ApiResult<Response> {
    Ok(Json(state.docket.update_settings(&principal, patch).await?).into_response())
}

fn case_view(principal: &Principal, case: &Case, mask: &docket_domain::mask::CaseNumberMask) -> CaseView {
    let display_number = mask.format(case.number);
    match principal {
        Principal::Staff(_) => {
            // The stored clock facts are the domain's; staff see the clocks computed from them.
            let case = Case { sla_timeline: None, ..case.clone() };
            CaseView::Staff(Box::new(StaffCase { case, display_number, sla: None, sla_summary: None }))
        }
        Principal::Portal(_) => CaseView::Portal(PortalCase {
            id: case.id.clone(),
            number: case.number,
            display_number,
            subject: case.subject.clone(),
            description: case.description.clone(),
            status: case.status,
            priority: case.priority,
            case_type: case.case_type.clone(),
            category: case.category.clone(),
            created_at: case.audit.created_at,
            updated_at: case.audit.updated_at,
            version: case.audit.version,
        }),
    }
}

/// [`case_view`] with the case's SLA clocks, which the domain gives staff only.
async fn single_case_view(
    cases: &docket_domain::cases::Cases<'_>,
    principal: &Principal,
    case: &Case,
    mask: &docket_domain::mask::CaseNumberMask,
) -> ApiResult<CaseView> {
    let mut view = case_view(principal, case, mask);
    if let CaseView::Staff(staff) = &mut view {
        staff.sla = cases.sla(principal, case).await?;
    }
    Ok(view)
}

async fn create_case(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let new = docket_domain::cases::Cases::parse_new(&principal, body)?;
    let created = cases.create(&principal, new, key.as_deref()).await?;
    created_response(&cases, &principal, &created).await
}

/// The answer to a case creation: 201 with the case and its Location, or 200 for a replay.
async fn created_response(cases: &docket_domain::cases::Cases<'_>, principal: &Principal, created: &docket_domain::cases::Created) -> ApiResult<Response> {
    let mask = cases.mask().await?;
    let status = if created.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let view = single_case_view(cases, principal, &created.case, &mask).await?;
    let mut response = versioned(status, view, created.case.audit.version);
    if let Ok(location) = HeaderValue::from_str(&format!("/cases/{}", created.case.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The filters of `GET /cases` and `GET /cases/counts`, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFilterQuery {
    status: Option<String>,
    /// A user id, or `me` (staff).
    assignee_id: Option<String>,
    /// Only `true`: cases without an assignee.
    unassigned: Option<String>,
    team_id: Option<TeamId>,
    account_id: Option<AccountId>,
    contact_id: Option<ContactId>,
    /// The children of this case (its id).
    parent_id: Option<String>,
    q: Option<String>,
    sla: Option<String>,
    due_within: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseListQuery {
    status: Option<String>,
    assignee_id: Option<String>,
    unassigned: Option<String>,
    team_id: Option<TeamId>,
    account_id: Option<AccountId>,
    contact_id: Option<ContactId>,
    parent_id: Option<String>,
    q: Option<String>,
    sla: Option<String>,
    due_within: Option<String>,
    sort: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A query parameter the domain refused: a malformed request (400) naming the parameter.
fn bad_query(error: docket_domain::DomainError) -> Problem {
    match error {
        docket_domain::DomainError::Validation { field, reason } => {
            Problem::new(StatusCode::BAD_REQUEST, "bad-query", "Invalid query parameter", reason).with_field(field)
        }
        other => other.into(),
    }
}

impl CaseFilterQuery {
    /// The typed filter; `me` names the caller, who must be staff.
    fn filter(self, principal: &Principal) -> ApiResult<CaseFilter> {
        let invalid = |field: &str, reason: String| bad_query(docket_domain::DomainError::invalid(field, reason));
        let status = self.status.as_deref().map(|s| CaseStatus::parse(s).ok_or_else(|| invalid("status", format!("unknown status {s:?}")))).transpose()?;
        let unassigned = match self.unassigned.as_deref() {
            None => false,
            Some("true") => true,
            Some(other) => return Err(invalid("unassigned", format!("unassigned takes only true, not {other:?}"))),
        };
        let assignee = match (self.assignee_id, unassigned) {
            (Some(_), true) => return Err(invalid("unassigned", "unassigned=true and assignee_id exclude each other".into())),
            (None, true) => Some(AssigneeFilter::Unassigned),
            (None, false) => None,
            (Some(me), false) if me == "me" => match principal {
                Principal::Staff(user) => Some(AssigneeFilter::User(user.id.clone())),
                Principal::Portal(_) => return Err(invalid("assignee_id", "me names a staff user; portal users have no cases assigned".into())),
            },
            (Some(id), false) => Some(AssigneeFilter::User(UserId::parse("assignee_id", &id).map_err(bad_query)?)),
        };
        let search = self.q.as_deref().map(CaseSearch::parse).transpose().map_err(bad_query)?.flatten();
        let parent_id = self.parent_id.as_deref().map(|id| CaseId::parse("parent_id", id)).transpose().map_err(bad_query)?;
        let sla = match (self.sla.as_deref(), self.due_within.as_deref()) {
            (None, None) => None,
            (None, Some(_)) => return Err(invalid("due_within", "due_within goes with sla=due".into())),
            (Some("breached"), Some(_)) => return Err(invalid("due_within", "due_within goes with sla=due, not sla=breached".into())),
            (Some("breached"), None) => Some(SlaFilter::Breached),
            (Some("due"), within) => {
                let within_minutes = within
                    .map(|m| m.parse::<u32>().ok().filter(|m| *m <= SlaFilter::MAX_WITHIN_MINUTES))
                    .map(|m| m.ok_or_else(|| invalid("due_within", format!("due_within is a number of minutes from 0 to {}", SlaFilter::MAX_WITHIN_MINUTES))))
                    .transpose()?;
                Some(SlaFilter::Due { within_minutes })
            }
            (Some(other), _) => return Err(invalid("sla", format!("sla is due or breached, not {other:?}"))),
        };
        if sla.is_some() && matches!(principal, Principal::Portal(_)) {
            return Err(invalid("sla", "SLA lists are for staff".into()));
        }
        if sla.is_some() && search.is_some() {
            return Err(invalid("q", "a search reads every case; it does not go with sla".into()));
        }
        Ok(CaseFilter { status, assignee, team_id: self.team_id, account_id: self.account_id, contact_id: self.contact_id, parent_id, search, sla })
    }
}

async fn list_cases(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<CaseListQuery>) -> ApiResult<Response> {
    let CaseListQuery { status, assignee_id, unassigned, team_id, account_id, contact_id, parent_id, q, sla, due_within, sort, limit, cursor } = query;
    let filter = CaseFilterQuery { status, assignee_id, unassigned, team_id, account_id, contact_id, parent_id, q, sla, due_within }.filter(&principal)?;
    let sort = match sort.as_deref() {
        None => CaseSort::default(),
        Some(s) => CaseSort::parse(s)
            .ok_or_else(|| bad_query(docket_domain::DomainError::invalid("sort", format!("sort is created, updated or priority, not {s:?}"))))?,
    };
    let cases = state.docket.cases();
    let (items, next) = cases.list(&principal, filter, sort, page_limit(limit)?, cursor.map(Cursor)).await?;
    let mask = cases.mask().await?;
    let mut views: Vec<CaseView> = items.iter().map(|c| case_view(&principal, c, &mask)).collect();
    if matches!(principal, Principal::Staff(_)) {
        // One batch read for the page: what the SLA watcher filed about each case.
        for (view, summary) in views.iter_mut().zip(cases.sla_summaries(&items).await?) {
            if let CaseView::Staff(staff) = view {
                staff.sla_summary = summary;
            }
        }
    }
    Ok(listing(views, next).into_response())
}

async fn count_cases(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<CaseFilterQuery>) -> ApiResult<Response> {
    let filter = query.filter(&principal)?;
    Ok(Json(state.docket.cases().counts(&principal, filter).await?).into_response())
}

async fn get_case(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let case = cases.get(&principal, &case_ref).await?;
    let mask = cases.mask().await?;
    let view = single_case_view(&cases, &principal, &case, &mask).await?;
    Ok(versioned(StatusCode::OK, view, case.audit.version))
}

async fn update_case(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    IfMatch(version): IfMatch,
    Body(patch): Body<MergePatch<CaseFields>>,
) -> ApiResult<Response> {
    let cases = state.docket.cases();
    let case = cases.update(&principal, &case_ref, patch, version).await?;
    let mask = cases.mask().await?;
    let view = single_case_view(&cases, &principal, &case, &mask).await?;
    Ok(versioned(StatusCode::OK, view, case.audit.version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn create_entity<E: Entity>(State(state): State<AppState>, Caller(principal): Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    // Who may write is answered before what was sent: a caller without the right learns nothing
    // about the fields.
    DirectoryService::authorize_write::<E>(&principal)?;
    let fields: E::Fields = docket_domain::fields::parse(body)?;
    let entity: E = state.docket.directory_service().create(&principal, fields).await?;
    Ok(versioned(StatusCode::CREATED, &entity, entity.audit().version))
}

async fn list_entities<E: Entity>(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<PageQuery>) -> ApiResult<Response> {
    let (items, next) = state.docket.directory_service().list::<E>(&principal, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(items, next).into_response())
}

/// What `q` finds in the contacts (see `Searchable`).
const SEARCH_Q_CONTACT: &str = "Search text, trimmed, 1 to 100 characters, case-insensitive: contacts whose name starts with it, and first the contact owning it when it is a whole email address. Not a word inside the name nor part of an address";
/// What `q` finds in the accounts (see `Searchable`).
const SEARCH_Q_ACCOUNT: &str = "Search text, trimmed, 1 to 100 characters, case-insensitive: accounts whose name starts with it, and first the account owning it when it is a whole email domain (or an address at one). Not a word inside the name nor part of a domain";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectorySearchQuery {
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The plain list of a searchable kind, or with `q` its search; the same callers may use both.
async fn list_searchable<E: Searchable>(
    State(state): State<AppState>,
    Caller(principal): Caller,
    QueryParams(query): QueryParams<DirectorySearchQuery>,
) -> ApiResult<Response> {
    let limit = page_limit(query.limit)?;
    let cursor = query.cursor.map(Cursor);
    let directory = state.docket.directory_service();
    let (items, next) = match query.q.as_deref() {
        Some(q) => directory.search::<E>(&principal, &SearchText::parse("q", q).map_err(bad_query)?, limit, cursor).await?,
        None => directory.list::<E>(&principal, limit, cursor).await?,
    };
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
    Body(patch): Body<MergePatch<E::Fields>>,
) -> ApiResult<Response> {
    let entity: E = state.docket.directory_service().update(&principal, &id, patch, version).await?;
    Ok(versioned(StatusCode::OK, &entity, entity.audit().version))
}

async fn delete_entity<E: Entity>(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    state.docket.directory_service().delete::<E>(&principal, &id, version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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

/// What a browser may do with a mail's HTML: nothing but show it. `sandbox` gives the document a
/// unique origin without scripts, forms or popups (whatever survived sanitising cannot act as
/// us); only inline (`data:`) images load, so remote images cannot track who read the mail.
const ENTRY_HTML_CSP: &str = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'";

async fn entry_html(State(state): State<AppState>, Caller(principal): Caller, Path((case_ref, entry_id)): Path<(String, String)>) -> ApiResult<Response> {
    let html = state.docket.cases().entry_html(&principal, &case_ref, &entry_id, state.docket.blobs()?).await?;
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(ENTRY_HTML_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Private: the HTML is one case's mail, for the signed-in staff member only.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(response)
}

async fn spawn_case(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((case_ref, entry_id)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let fields: docket_domain::spawn::SpawnFields = docket_domain::fields::parse(body)?;
    let cases = state.docket.cases();
    let created = cases.spawn(&principal, &case_ref, &entry_id, fields, key.as_deref()).await?;
    created_response(&cases, &principal, &created).await
}

async fn post_entry(State(state): State<AppState>, Caller(principal): Caller, Path(case_ref): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let post = docket_domain::cases::Cases::parse_post(&principal, body)?;
    let (_, entry) = state.docket.cases().post(&principal, &case_ref, post).await?;
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
fn attachment_view(attachment: &docket_domain::stream::Attachment) -> AttachmentRef {
    AttachmentRef { id: attachment.id.clone(), name: attachment.name.clone(), content_type: attachment.content_type.clone(), size: attachment.size }
}

/// When a presigned request expires.
fn expiry(request: &docket_ports::PresignedRequest) -> time::OffsetDateTime {
    time::OffsetDateTime::from(request.expires_at)
}

/// The answer to an announced upload: the request the client sends straight to the blob store
/// (S3, or the local server's `/blobs` routes), with the headers it must send as given.
async fn begin_upload(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(case_ref): Path<String>,
    Body(fields): Body<UploadFields>,
) -> ApiResult<Response> {
    let start = state.docket.cases().begin_upload(&principal, &case_ref, fields, state.docket.blobs()?).await?;
    let ticket = UploadTicket {
        attachment_id: start.upload.id.clone(),
        upload_url: start.request.url.clone(),
        method: start.request.method.to_string(),
        headers: start.request.headers.iter().map(|(name, value)| (name.clone(), value.clone())).collect(),
        expires_at: expiry(&start.request),
        max_size: start.upload.size,
    };
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
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
    let expires_at = expiry(&request);
    Ok(Json(PresignedDownload { url: request.url, method: request.method.to_string(), expires_at }).into_response())
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
    Ok(listing(views, next).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundLogQuery {
    /// Read as text so that an unknown outcome is refused naming `outcome`.
    outcome: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn inbound_log(State(state): State<AppState>, Caller(principal): Caller, QueryParams(query): QueryParams<InboundLogQuery>) -> ApiResult<Response> {
    let outcome = query
        .outcome
        .as_deref()
        .map(|name| InboundOutcome::parse(name).ok_or_else(|| bad_query(docket_domain::DomainError::invalid("outcome", format!("unknown outcome {name:?}")))))
        .transpose()?;
    let filter = InboundLogFilter { outcome };
    let (items, next) = state.docket.inbound_log(&principal, filter, page_limit(query.limit)?, query.cursor.map(Cursor)).await?;
    Ok(listing(items, next).into_response())
}
