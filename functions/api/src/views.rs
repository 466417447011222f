//! Bodies the API shapes itself — views of domain records, answers of its own — as Rust types,
//! so the document's schemas come from what the handlers send.

use std::collections::BTreeMap;

use docket_domain::ids::{ArticleId, CaseId};
use docket_domain::knowledge::Article;
use docket_domain::model::{Case, CaseStatus, Contact, Priority, User};
use serde::Serialize;
use utoipa::ToSchema;

/// The liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Who is calling: a staff user or a portal contact.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    User { user: User },
    Portal { contact: Contact },
}

/// A case as staff see it: every field plus the number shown through the mask.
#[derive(Serialize, ToSchema)]
pub struct StaffCase {
    #[serde(flatten)]
    pub case: Case,
    pub display_number: String,
    /// The case's SLA clocks now (SPEC F51), on the single-case answers (read, create, update);
    /// absent in lists, where computing them would cost reads per case, and when no service
    /// agreement governs the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<docket_domain::sla::SlaView>,
    /// In lists: the case's next SLA due time and breach as the SLA watcher filed them at its
    /// last change or alarm (a breach can show up to a sweep late); absent when nothing is owed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_summary: Option<docket_domain::SlaSummary>,
}

/// A case as its customer sees it in the portal: no assignment or internal details.
#[derive(Serialize, ToSchema)]
pub struct PortalCase {
    pub id: CaseId,
    pub number: u64,
    pub display_number: String,
    pub subject: String,
    pub description: String,
    pub status: CaseStatus,
    pub priority: Priority,
    #[serde(rename = "type")]
    pub case_type: Option<String>,
    pub category: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
    pub version: u64,
}

/// A case as the caller may see it: staff get [`StaffCase`], portal users [`PortalCase`].
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CaseView {
    Staff(Box<StaffCase>),
    Portal(PortalCase),
}

/// Where to send the bytes of an announced upload, straight to the blob store.
#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    /// Id of the upload, and of the attachment it becomes.
    pub attachment_id: String,
    /// Where to send the bytes (opaque; a presigned S3 URL on AWS).
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers to send exactly as given (content-type, if-none-match).
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
    /// Largest number of bytes the upload may hold.
    pub max_size: u64,
}

/// A download URL: fetch it without the API token (the URL is the authorisation).
#[derive(Serialize, ToSchema)]
pub struct PresignedDownload {
    pub url: String,
    /// Always `GET`.
    pub method: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// What a public form answers: the same for every accepted submission (it never names the
/// case), or the confirmation of a sender's address.
#[derive(Serialize, ToSchema)]
pub struct FormAnswer {
    /// `received` or `confirmed`.
    pub status: &'static str,
    pub detail: &'static str,
}

/// A web-form submission: every value a string; which of name, subject and message are
/// required is the form's choice.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Submission {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 300)]
    pub subject: Option<String>,
    #[schema(max_length = 10000)]
    pub message: Option<String>,
    /// Honeypot: leave empty (hidden from people).
    pub website: Option<String>,
}

/// The bytes of a file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

/// An HTML page.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Html(String);

/// The OpenAPI document itself.
#[derive(ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct OpenApiDocument(serde_json::Value);

/// An article as portal users see it (published and portal-visible only): no workflow state,
/// no staff names.
#[derive(Serialize, ToSchema)]
pub struct PortalArticle {
    pub id: ArticleId,
    pub title: String,
    /// Sanitised HTML.
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// An article as the caller may see it: staff get [`Article`], portal users [`PortalArticle`].
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ArticleView {
    Staff(Article),
    Portal(PortalArticle),
}
