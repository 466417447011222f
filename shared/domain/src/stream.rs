//! The case stream (SPEC F4, F30): per-case entries, newest first — agent posts (public or
//! internal), customer posts (always public), emails received and sent, and system entries the
//! domain writes whenever a case is created or its status, assignee, priority or links change.
//!
//! Entries live in the case's own partition (`CASE#<id>` / `ENTRY#<ulid>`), so one query reads a
//! stream in order, and system entries are written in the same transaction as the change they
//! describe. Internal entries are never shown to, nor sent to, portal users and customers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use docket_ports::{BlobStore, DownloadGrant, PresignedRequest, UploadGrant, validate_content_type};
use docket_store::{Cursor, Key, Query, SortKeyRange, WriteOp};

use crate::access::Principal;
use crate::cases::Cases;
use crate::clock::new_id;
use crate::directory::from_item;
use crate::error::{DomainError, DomainResult};
use crate::fields;
use crate::ids::*;
use crate::model::{Case, CaseStatus, Phase, Priority};
use crate::schema::{CASES, case_keys, keyed_item};
use crate::validate::{self, MAX_LONG_TEXT};

pub const MAX_ATTACHMENTS_PER_POST: usize = 10;
const MAX_PAGES_PER_READ: usize = 10;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Post,
    EmailReceived,
    EmailSent,
    System,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Internal,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    User,
    Contact,
    System,
    /// A workflow rule (its id is the rule's).
    Workflow,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Author {
    pub kind: AuthorKind,
    pub id: Option<String>,
}

impl Author {
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Staff(u) => Author { kind: AuthorKind::User, id: Some(u.id.to_string()) },
            Principal::Portal(c) => Author { kind: AuthorKind::Contact, id: Some(c.id.to_string()) },
        }
    }
    pub fn system() -> Self {
        Author { kind: AuthorKind::System, id: None }
    }
    pub fn workflow(rule_id: &str) -> Self {
        Author { kind: AuthorKind::Workflow, id: Some(rule_id.to_owned()) }
    }
    /// The actor recorded in a case's audit for a change by this author.
    pub fn audit_name(&self) -> String {
        match (self.kind, &self.id) {
            (AuthorKind::Workflow, Some(id)) => format!("workflow:{id}"),
            (_, Some(id)) => id.clone(),
            (_, None) => "system".into(),
        }
    }
    /// A user or contact id given as actor of a change (`system` when none).
    pub fn actor(id: &str, kind: AuthorKind) -> Self {
        if id == "system" { Author::system() } else { Author { kind, id: Some(id.to_owned()) } }
    }
}

/// What a system entry records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    Created,
    StatusChanged {
        from: CaseStatus,
        to: CaseStatus,
    },
    Assigned {
        from: Option<UserId>,
        to: Option<UserId>,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    LinksChanged {
        fields: Vec<String>,
    },
    MadeInternal,
    ArticleLinked {
        article_id: ArticleId,
    },
    ArticleUnlinked {
        article_id: ArticleId,
    },
    /// A workflow rule ran on the case: what each of its actions did, in order.
    RuleRan {
        rule_id: RuleId,
        rule_name: String,
        trigger: String,
        depth: u8,
        steps: Vec<String>,
    },
    /// Rules matched a change that rules themselves made too many times in a row.
    RulesStopped {
        depth: u8,
        rule_ids: Vec<RuleId>,
    },
    /// A workflow rule asked for these users to be told about the case.
    RuleNotice {
        rule_id: RuleId,
        rule_name: String,
        user_ids: Vec<UserId>,
        message: String,
    },
    /// The web-form sender confirmed their address: the case now has its contact.
    SenderConfirmed {
        email: String,
    },
}

impl SystemEvent {
    /// Customers may see a case being opened and its status moving; the rest is staff business.
    pub fn visibility(&self) -> Visibility {
        match self {
            SystemEvent::Created | SystemEvent::StatusChanged { .. } => Visibility::Public,
            _ => Visibility::Internal,
        }
    }
}

/// A file attached to an entry; the bytes are in the blob store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AttachmentRef {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StreamEntry {
    pub id: String,
    pub case_id: CaseId,
    pub kind: EntryKind,
    pub visibility: Visibility,
    pub author: Author,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemEvent>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
    /// An agent's public reply that is also emailed to the case's contacts (F31).
    #[serde(default)]
    pub email_customer: bool,
    /// For entries made from mail: its headers and where the full message is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailMeta>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl StreamEntry {
    pub fn system(case_id: &str, event: SystemEvent, author: Author, at: OffsetDateTime) -> Self {
        StreamEntry {
            id: new_id(),
            case_id: CaseId::from_trusted(case_id.to_owned()),
            kind: EntryKind::System,
            visibility: event.visibility(),
            author,
            body: String::new(),
            system: Some(event),
            attachments: Vec::new(),
            email_customer: false,
            email: None,
            created_at: at,
        }
    }

    pub fn key(&self) -> Key {
        case_keys::entry(&self.case_id, &self.id)
    }

    pub fn is_internal(&self) -> bool {
        self.visibility == Visibility::Internal
    }

    /// Whether the principal may see this entry of a case they may see.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        match principal {
            Principal::Staff(_) => true,
            Principal::Portal(_) => !self.is_internal(),
        }
    }

    pub fn is_by(&self, id: &str) -> bool {
        self.author.id.as_deref() == Some(id)
    }

    /// What `principal` is shown of this entry, or `None` when they may not see it. Staff see
    /// it whole. Portal users (and customers reading it in mail) get a projection: no staff
    /// ids, no keys of stored raw messages, no quoted history, and no addresses but their own —
    /// other people's Cc addresses are not theirs to know. The API and the notifier both ask here.
    pub fn projected_for(&self, principal: &Principal) -> Option<StreamEntry> {
        if !self.visible_to(principal) {
            return None;
        }
        let Principal::Portal(contact) = principal else { return Some(self.clone()) };
        let own = |address: &String| contact.emails.iter().any(|e| e.eq_ignore_ascii_case(address));
        let by_staff = self.author.kind == AuthorKind::User;
        let mut entry = self.clone();
        if by_staff {
            entry.author.id = None;
        }
        entry.email = self.email.as_ref().map(|email| EmailMeta {
            message_id: None,
            from: email.from.clone().filter(|_| !by_staff),
            to: email.to.iter().filter(|a| own(a)).cloned().collect(),
            cc: email.cc.iter().filter(|a| own(a)).cloned().collect(),
            subject: email.subject.clone(),
            raw_blob_key: None,
            html_blob_key: None,
            quoted_text: None,
            note: None,
            unverified: false,
        });
        Some(entry)
    }
}

pub(crate) fn entry_put(entry: &StreamEntry) -> DomainResult<WriteOp> {
    Ok(WriteOp::put_if(CASES, keyed_item(entry.key(), entry)?, docket_store::Condition::NotExists))
}

/// The system entries describing the difference between two versions of a case.
pub(crate) fn change_entries(old: &Case, new: &Case, author: &Author, at: OffsetDateTime) -> Vec<StreamEntry> {
    let mut events = Vec::new();
    if old.status != new.status {
        events.push(SystemEvent::StatusChanged { from: old.status, to: new.status });
    }
    if old.assignee_id != new.assignee_id {
        events.push(SystemEvent::Assigned { from: old.assignee_id.clone(), to: new.assignee_id.clone() });
    }
    if old.priority != new.priority {
        events.push(SystemEvent::PriorityChanged { from: old.priority, to: new.priority });
    }
    let mut links = Vec::new();
    for (field, changed) in [
        ("account_id", old.account_id != new.account_id),
        ("contact_ids", old.contact_ids != new.contact_ids),
        ("lead_id", old.lead_id != new.lead_id),
        ("team_ids", old.team_ids != new.team_ids),
        ("collaborator_ids", old.collaborator_ids != new.collaborator_ids),
        ("mailbox_id", old.mailbox_id != new.mailbox_id),
        ("parent_id", old.parent_id != new.parent_id),
    ] {
        if changed {
            links.push(field.to_owned());
        }
    }
    if !links.is_empty() {
        events.push(SystemEvent::LinksChanged { fields: links });
    }
    if new.internal && !old.internal {
        events.push(SystemEvent::MadeInternal);
    }
    if let (Some(sender), None) = (&old.pending_sender, &new.pending_sender) {
        events.push(SystemEvent::SenderConfirmed { email: sender.email.to_string() });
    }
    events.into_iter().map(|e| StreamEntry::system(&new.id, e, author.clone(), at)).collect()
}

/// The mail behind an `email_received` / `email_sent` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EmailMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// The raw message as received, in the blob store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_blob_key: Option<String>,
    /// The sanitised HTML body, in the blob store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_blob_key: Option<String>,
    /// The quoted history split off the visible body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_text: Option<String>,
    /// Set when the body was not imported (over the size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The From address is a staff member's but the mail was not authenticated: the entry is
    /// internal and must not be taken as that person's word.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// What staff send to post on a case; portal users send only `body` and `attachment_ids`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostFields {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub email_customer: bool,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
}

/// A post as its author sends it: staff send [`PostFields`], portal users [`PortalPostFields`]
/// (always public, never an email decision of theirs).
#[derive(Debug, Clone)]
pub enum NewPost {
    Staff(PostFields),
    Portal(PortalPostFields),
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalPostFields {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
}

/// Stored metadata of an uploaded attachment (bytes in the blob store).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Attachment {
    pub id: String,
    pub case_id: CaseId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub blob_key: String,
    pub uploaded_by: String,
    /// The entry it was posted with; until then only its uploader and staff may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// Where the bytes of an attachment are kept in the blob store.
pub fn attachment_blob_key(case_id: &str, attachment_id: &str) -> String {
    format!("cases/{case_id}/attachments/{attachment_id}")
}

/// Largest attachment accepted through an upload URL (`POST …/attachments/uploads`).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// How long a presigned upload or download URL is valid.
pub const TRANSFER_URL_VALIDITY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long an announced upload can be completed; then its record expires (DynamoDB's TTL
/// removes it; a completion after that is 404).
pub const PENDING_UPLOAD_LIFETIME: time::Duration = time::Duration::hours(24);

/// An upload announced by `uploaded_by` and not completed yet: the client sends the bytes
/// straight to the blob store (a presigned `PUT` of `blob_key`), then completes it, which checks
/// what arrived against what was announced and turns it into an [`Attachment`] of the same id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PendingUpload {
    pub id: String,
    pub case_id: CaseId,
    pub name: String,
    pub content_type: String,
    /// The size announced: the most the upload may be.
    pub size: u64,
    pub blob_key: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Epoch seconds after which it can no longer be completed (the TTL attribute).
    pub expires_at: i64,
}

/// What a client announces before uploading a file through a URL.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFields {
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// An announced upload and the request that uploads its bytes.
#[derive(Debug, Clone)]
pub struct UploadStart {
    pub upload: PendingUpload,
    pub request: PresignedRequest,
}

impl Cases<'_> {
    /// Parses a post's body as its author sends it (the HTTP edge calls it, so the domain takes
    /// typed input).
    pub fn parse_post(principal: &Principal, body: Value) -> DomainResult<NewPost> {
        Ok(match principal {
            Principal::Staff(_) => NewPost::Staff(fields::parse(body)?),
            Principal::Portal(_) => NewPost::Portal(fields::parse(body)?),
        })
    }

    /// Posts to a case the caller may see. Returns the stored entry.
    pub async fn post(&self, principal: &Principal, reference: &str, post: NewPost) -> DomainResult<(Case, StreamEntry)> {
        let case = self.get(principal, reference).await?;
        let fields = match (principal, post) {
            (Principal::Staff(_), NewPost::Staff(fields)) => fields,
            (Principal::Portal(_), NewPost::Portal(p)) => PostFields { body: p.body, internal: false, email_customer: false, attachment_ids: p.attachment_ids },
            (Principal::Staff(_), NewPost::Portal(_)) => return Err(DomainError::invalid("body", "staff post with the full post fields")),
            (Principal::Portal(_), NewPost::Staff(_)) => return Err(DomainError::Forbidden("portal users post with the portal fields".into())),
        };
        if fields.internal && fields.email_customer {
            return Err(DomainError::invalid("email_customer", "an internal post is never emailed to customers"));
        }
        let text = validate::long_text("body", &fields.body, MAX_LONG_TEXT)?;
        let ids = validate::list("attachment_ids", &fields.attachment_ids, MAX_ATTACHMENTS_PER_POST, validate::id)?;
        if text.trim().is_empty() && ids.is_empty() {
            return Err(DomainError::invalid("body", "a post needs text or an attachment"));
        }
        let visibility = if fields.internal { Visibility::Internal } else { Visibility::Public };
        let entry_id = new_id();
        let mut attachments = Vec::new();
        let mut claims = Vec::new();
        for id in &ids {
            let stored = self
                .store
                .get(CASES, &case_keys::attachment(&case.id, id))
                .await?
                .map(from_item::<Attachment>)
                .transpose()?
                .filter(|a| a.entry_id.is_none() && a.uploaded_by == principal.id())
                .ok_or_else(|| DomainError::invalid("attachment_ids", format!("attachment {id} is not an unposted upload of yours on this case")))?;
            attachments.push(AttachmentRef { id: stored.id.clone(), name: stored.name.clone(), content_type: stored.content_type.clone(), size: stored.size });
            let mut posted = stored.clone();
            posted.entry_id = Some(entry_id.clone());
            posted.visibility = Some(visibility);
            // Conditional on still being unposted, so one upload cannot end up on two entries.
            claims.push(WriteOp::put_if(
                CASES,
                keyed_item(case_keys::attachment(&case.id, id), &posted)?,
                docket_store::Condition::AttributeNotExists("entry_id".into()),
            ));
        }
        let entry = StreamEntry {
            id: entry_id,
            case_id: case.id.clone(),
            kind: EntryKind::Post,
            visibility,
            author: Author::of(principal),
            body: text,
            system: None,
            attachments,
            email_customer: fields.email_customer,
            email: None,
            created_at: self.clock.now(),
        };
        // A public post is a reply for the SLA clocks: staff's meets the response clocks, the
        // customer's starts next response. Internal notes are not replies at all.
        let turn = match (visibility, principal) {
            (Visibility::Internal, _) => None,
            (Visibility::Public, Principal::Staff(_)) => Some(crate::sla::Change::StaffReply),
            (Visibility::Public, Principal::Portal(_)) => Some(crate::sla::Change::CustomerReply),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut txn = crate::txn::Txn::new();
            for claim in &claims {
                txn.push(claim.clone(), crate::txn::Label::Claim);
            }
            if let Some(change) = turn
                && let Some(op) = self.reply_op(&case, entry.created_at, change).await?
            {
                txn.push(op, crate::txn::Label::Turn);
            }
            match self.append_entry(&entry, txn).await {
                Ok(()) => break,
                // Another reply's turn landed between our read and write: read it and redo.
                Err(e) if e.is(&crate::txn::Label::Turn) && attempts < 5 => continue,
                Err(e) if e.is(&crate::txn::Label::Claim) => {
                    return Err(DomainError::Conflict { field: "attachment_ids".into(), reason: "an attachment was posted meanwhile".into() });
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(case = case.number, entry = %entry.id, internal = entry.is_internal(), "posted to case");
        // A customer writing on a waiting or final case wants it looked at again, as their
        // mailed reply would (F22); the portal has no mailbox whose policy could say otherwise.
        // The post stands even if this fails: it is the customer's words, and a retry of the
        // request would post them twice.
        let case = match principal {
            Principal::Portal(_) if case.status.phase() != Phase::Open => match self.reopen(&case, &entry.author).await {
                Ok(reopened) => reopened,
                Err(error) => {
                    tracing::warn!(case = case.number, %error, "a customer's post did not reopen the case");
                    case
                }
            },
            _ => case,
        };
        Ok((case, entry))
    }

    /// Records an upload (bytes already stored under `blob_key`) on a case the caller may see.
    pub async fn record_attachment(&self, principal: &Principal, case: &Case, attachment: Attachment) -> DomainResult<Attachment> {
        if !principal.can_see(case) {
            return Err(DomainError::not_found(format!("case {}", case.id)));
        }
        let item = keyed_item(case_keys::attachment(&case.id, &attachment.id), &attachment)?;
        self.store.write(WriteOp::put_if(CASES, item, docket_store::Condition::NotExists)).await?;
        Ok(attachment)
    }

    /// Announces an upload to a case the caller may see (staff or portal) and presigns the
    /// request that sends its bytes straight to the blob store: a `PUT` with the announced
    /// content type, valid for [`TRANSFER_URL_VALIDITY`], of at most the announced size
    /// (at most [`MAX_UPLOAD_BYTES`]).
    pub async fn begin_upload(&self, principal: &Principal, reference: &str, fields: UploadFields, blobs: &dyn BlobStore) -> DomainResult<UploadStart> {
        let case = self.get(principal, reference).await?;
        let name = validate::file_name("name", &fields.name)?;
        if validate_content_type(&fields.content_type).is_err() {
            return Err(DomainError::invalid("content_type", "must be a media type of 1 to 255 printable ASCII characters"));
        }
        if fields.size == 0 || fields.size > MAX_UPLOAD_BYTES {
            return Err(DomainError::invalid("size", format!("a file uploaded by URL has 1 to {MAX_UPLOAD_BYTES} bytes")));
        }
        let id = new_id();
        let now = self.clock.now();
        let upload = PendingUpload {
            blob_key: attachment_blob_key(&case.id, &id),
            id,
            case_id: case.id.clone(),
            name,
            content_type: fields.content_type,
            size: fields.size,
            uploaded_by: principal.id().to_owned(),
            created_at: now,
            expires_at: (now + PENDING_UPLOAD_LIFETIME).unix_timestamp(),
        };
        let item = keyed_item(case_keys::upload(&case.id, &upload.id), &upload)?;
        self.store.write(WriteOp::put_if(CASES, item, docket_store::Condition::NotExists)).await?;
        let grant = UploadGrant { key: upload.blob_key.clone(), content_type: upload.content_type.clone(), max_size: upload.size };
        let request = blobs.presign_upload(&grant, TRANSFER_URL_VALIDITY).await?;
        tracing::info!(case = case.number, upload = %upload.id, size = upload.size, "upload announced");
        Ok(UploadStart { upload, request })
    }

    /// Completes an upload the caller announced on this case: the blob must be there, no larger
    /// than announced and of the announced content type (S3 cannot hold a presigned `PUT` to a
    /// size, so this is where the size is enforced). A blob that fails the check is deleted (the
    /// URL, while valid, can then take the right file) and the upload stays open. On success the
    /// upload becomes an unposted [`Attachment`] of the same id with the blob's real size, as a
    /// direct upload would; `true` with it when it had been completed before (a retry).
    /// Another user's upload, or none, is 404.
    pub async fn complete_upload(&self, principal: &Principal, reference: &str, upload_id: &str, blobs: &dyn BlobStore) -> DomainResult<(Attachment, bool)> {
        let case = self.get(principal, reference).await?;
        let not_found = || DomainError::not_found(format!("upload {upload_id}"));
        if validate::id("upload_id", upload_id).is_err() {
            return Err(not_found());
        }
        let upload_key = case_keys::upload(&case.id, upload_id);
        let pending: Option<PendingUpload> = self.store.get(CASES, &upload_key).await?.map(from_item).transpose()?;
        let Some(upload) = pending.filter(|u| u.uploaded_by == principal.id()) else {
            return self.completed_upload(principal, &case, upload_id).await?.map(|a| (a, true)).ok_or_else(not_found);
        };
        if upload.expires_at <= self.clock.now().unix_timestamp() {
            // Left to expire (DynamoDB's TTL is lazy, SQLite has none): gone for good.
            blobs.delete(&upload.blob_key).await?;
            self.store.write(WriteOp::delete(CASES, upload_key)).await?;
            return Err(not_found());
        }
        let stored = match blobs.head(&upload.blob_key).await {
            Ok(stored) => stored,
            Err(docket_ports::PortError::NotFound(_)) => {
                return Err(DomainError::Conflict { field: "upload".into(), reason: "no file has been uploaded to the upload URL yet".into() });
            }
            Err(e) => return Err(e.into()),
        };
        let refusal = if stored.size > upload.size {
            Some(("size", format!("the uploaded file has {} bytes, more than the {} announced", stored.size, upload.size)))
        } else if stored.size == 0 {
            Some(("size", "the uploaded file is empty".to_owned()))
        } else if stored.content_type != upload.content_type {
            Some(("content_type", format!("the uploaded file is {:?}, not the {:?} announced", stored.content_type, upload.content_type)))
        } else {
            None
        };
        if let Some((field, reason)) = refusal {
            tracing::warn!(case = case.number, upload = %upload.id, field, %reason, "uploaded file refused");
            blobs.delete(&upload.blob_key).await?;
            return Err(DomainError::invalid(field, reason));
        }
        let attachment = Attachment {
            id: upload.id.clone(),
            case_id: case.id.clone(),
            name: upload.name,
            content_type: upload.content_type,
            size: stored.size,
            blob_key: upload.blob_key,
            uploaded_by: upload.uploaded_by,
            entry_id: None,
            visibility: None,
        };
        // One transaction: the upload becomes the attachment exactly once, however many
        // completions race.
        let ops = vec![
            WriteOp::put_if(CASES, keyed_item(case_keys::attachment(&case.id, &attachment.id), &attachment)?, docket_store::Condition::NotExists),
            WriteOp::Delete { table: CASES.into(), key: upload_key, condition: Some(docket_store::Condition::Exists) },
        ];
        match self.store.transact(ops).await {
            Ok(()) => {
                tracing::info!(case = case.number, attachment = %attachment.id, size = attachment.size, "upload completed");
                Ok((attachment, false))
            }
            Err(e) if e.is_condition_failure() => self.completed_upload(principal, &case, upload_id).await?.map(|a| (a, true)).ok_or_else(not_found),
            Err(e) => Err(e.into()),
        }
    }

    /// The attachment an upload of the caller's became, if it did.
    async fn completed_upload(&self, principal: &Principal, case: &Case, upload_id: &str) -> DomainResult<Option<Attachment>> {
        let found: Option<Attachment> = self.store.get(CASES, &case_keys::attachment(&case.id, upload_id)).await?.map(from_item).transpose()?;
        Ok(found.filter(|a| a.uploaded_by == principal.id()))
    }

    /// A presigned download of an attachment the caller may read (the same rule as
    /// [`Cases::attachment`]: else 404), valid for [`TRANSFER_URL_VALIDITY`]. The store answers
    /// it with the attachment's content type, as a file to save under its name.
    pub async fn attachment_url(
        &self,
        principal: &Principal,
        reference: &str,
        attachment_id: &str,
        blobs: &dyn BlobStore,
    ) -> DomainResult<(Attachment, PresignedRequest)> {
        let (_, attachment) = self.attachment(principal, reference, attachment_id).await?;
        // Content types of mail attachments are the sender's; one that would not survive as a
        // header is served as bytes.
        let content_type =
            if validate_content_type(&attachment.content_type).is_ok() { attachment.content_type.clone() } else { "application/octet-stream".to_owned() };
        let grant = DownloadGrant { key: attachment.blob_key.clone(), content_type, file_name: attachment.name.clone() };
        let request = blobs.presign_download(&grant, TRANSFER_URL_VALIDITY).await?;
        Ok((attachment, request))
    }

    /// An attachment's metadata, if the caller may read it.
    pub async fn attachment(&self, principal: &Principal, reference: &str, attachment_id: &str) -> DomainResult<(Case, Attachment)> {
        let case = self.get(principal, reference).await?;
        let not_found = || DomainError::not_found(format!("attachment {attachment_id}"));
        if validate::id("attachment_id", attachment_id).is_err() {
            return Err(not_found());
        }
        let attachment: Attachment =
            self.store.get(CASES, &case_keys::attachment(&case.id, attachment_id)).await?.map(from_item).transpose()?.ok_or_else(not_found)?;
        let readable = match principal {
            Principal::Staff(_) => true,
            Principal::Portal(c) => match attachment.visibility {
                Some(Visibility::Public) => true,
                Some(Visibility::Internal) => false,
                None => attachment.uploaded_by == c.id,
            },
        };
        if readable { Ok((case, attachment)) } else { Err(not_found()) }
    }

    /// The stream of a case newest first, with only the entries the caller may see.
    pub async fn stream(
        &self,
        principal: &Principal,
        reference: &str,
        limit: usize,
        mut after: Option<Cursor>,
    ) -> DomainResult<(Vec<StreamEntry>, Option<Cursor>)> {
        let case = self.get(principal, reference).await?;
        let query = Query::table(CASES, case_keys::case(&case.id).pk).range(SortKeyRange::BeginsWith("ENTRY#".into())).descending();
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES_PER_READ {
            let page = self.store.query(query.clone().limit(limit - found.len()).after(after.take())).await?;
            for item in page.items {
                let entry: StreamEntry = from_item(item)?;
                found.extend(entry.projected_for(principal));
            }
            after = page.next;
            if found.len() == limit || after.is_none() {
                break;
            }
        }
        Ok((found, after))
    }

    /// The HTML body of a received mail's entry, for staff who may see its case. Portal users
    /// get "not found": the HTML is the message as received, quoted history and all, which their
    /// projection of the entry leaves out. The HTML was sanitised when the mail came in; it is
    /// sanitised again here, since a blob is only as trustworthy as everyone who can write the
    /// store, and served only from the key Docket gives it (never from whatever key an entry names).
    pub async fn entry_html(&self, principal: &Principal, reference: &str, entry_id: &str, blobs: &dyn BlobStore) -> DomainResult<String> {
        let not_found = || DomainError::not_found(format!("HTML of entry {entry_id}"));
        if !matches!(principal, Principal::Staff(_)) {
            return Err(not_found());
        }
        let case = self.get(principal, reference).await?;
        if validate::id("entry_id", entry_id).is_err() {
            return Err(not_found());
        }
        let entry = self.entry(&case.id, entry_id).await?.ok_or_else(not_found)?;
        let key = entry.email.and_then(|email| email.html_blob_key).ok_or_else(not_found)?;
        if key != crate::schema::blob_keys::entry_html(&case.id, &entry.id) {
            tracing::warn!(case = case.number, entry = %entry.id, "an entry names an HTML blob Docket did not write; not served");
            return Err(not_found());
        }
        let (_, bytes) = blobs.get(&key).await?;
        docket_mail::inbound::sanitize_html(&String::from_utf8_lossy(&bytes)).ok_or_else(not_found)
    }

    pub async fn entry(&self, case_id: &str, entry_id: &str) -> DomainResult<Option<StreamEntry>> {
        self.store.get(CASES, &case_keys::entry(case_id, entry_id)).await?.map(from_item).transpose()
    }
}
