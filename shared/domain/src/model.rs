//! The records Docket keeps: cases with their lifecycle, and the directory (users, teams,
//! accounts, contacts, leads). Stored as JSON items; the API shows the same shapes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::ids::{AccountId, CaseId, ContactId, EmailAddress, FormId, LeadId, MailboxId, TeamId, UserId};

/// Who made a record and when; versions drive optimistic concurrency (ETag / If-Match).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Audit {
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
    pub version: u64,
}

impl Audit {
    /// The audit of a record `by` creates at `at` (version 1).
    pub fn created(by: &str, at: OffsetDateTime) -> Self {
        Audit { created_at: at, created_by: by.to_owned(), updated_at: at, updated_by: by.to_owned(), version: 1 }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
pub enum CaseStatus {
    New,
    Assigned,
    InProgress,
    Reopened,
    Pending,
    Resolved,
    Closed,
    Rejected,
    Duplicate,
    Cancelled,
}

/// The three phases of the lifecycle (SPEC F2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Open,
    Waiting,
    Final,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 10] = [
        CaseStatus::New,
        CaseStatus::Assigned,
        CaseStatus::InProgress,
        CaseStatus::Reopened,
        CaseStatus::Pending,
        CaseStatus::Resolved,
        CaseStatus::Closed,
        CaseStatus::Rejected,
        CaseStatus::Duplicate,
        CaseStatus::Cancelled,
    ];

    pub fn phase(self) -> Phase {
        match self {
            CaseStatus::New | CaseStatus::Assigned | CaseStatus::InProgress | CaseStatus::Reopened => Phase::Open,
            CaseStatus::Pending | CaseStatus::Resolved => Phase::Waiting,
            CaseStatus::Closed | CaseStatus::Rejected | CaseStatus::Duplicate | CaseStatus::Cancelled => Phase::Final,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::New => "New",
            CaseStatus::Assigned => "Assigned",
            CaseStatus::InProgress => "InProgress",
            CaseStatus::Reopened => "Reopened",
            CaseStatus::Pending => "Pending",
            CaseStatus::Resolved => "Resolved",
            CaseStatus::Closed => "Closed",
            CaseStatus::Rejected => "Rejected",
            CaseStatus::Duplicate => "Duplicate",
            CaseStatus::Cancelled => "Cancelled",
        }
    }

    /// Whether a case in this status counts towards its assignee's load (Least-Busy): every
    /// status that is not final, waiting ones included.
    pub fn counts_as_open(self) -> bool {
        self.phase() != Phase::Final
    }

    pub fn parse(value: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(value))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// Its place from lowest (1) to highest (4), for ordering.
    pub fn rank(self) -> u8 {
        match self {
            Priority::Low => 1,
            Priority::Normal => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Email,
    WebForm,
    Portal,
    #[default]
    Api,
    Phone,
    Workflow,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Case {
    pub id: CaseId,
    pub number: u64,
    pub subject: String,
    pub description: String,
    pub status: CaseStatus,
    pub priority: Priority,
    #[serde(rename = "type")]
    pub case_type: Option<String>,
    pub category: Option<String>,
    pub source: Source,
    pub account_id: Option<AccountId>,
    /// The first contact is the primary one; the others collaborate.
    pub contact_ids: Vec<ContactId>,
    pub lead_id: Option<LeadId>,
    pub assignee_id: Option<UserId>,
    /// Users who may see and work the case besides its assignee (a workflow shares a parent
    /// case's child cases with the parent's assignee this way).
    #[serde(default)]
    pub collaborator_ids: Vec<UserId>,
    pub team_ids: Vec<TeamId>,
    pub mailbox_id: Option<MailboxId>,
    /// Internal cases are never shown to portal users.
    pub internal: bool,
    pub parent_id: Option<CaseId>,
    /// Set while the case waits for its web-form sender to confirm their address: until then
    /// the case has no contact, nobody outside the staff follows it and no mail about it goes
    /// to the address (SPEC F12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_sender: Option<PendingSender>,
    /// The facts its SLA clocks are computed from (SPEC F51), kept on the case so that the
    /// changes that move the clocks record them in the transaction that makes them. Never shown
    /// as such: staff see the computed clocks, portal users nothing. `None` on cases created
    /// before clocks existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub sla_timeline: Option<crate::sla::CaseTimeline>,
    #[serde(flatten)]
    pub audit: Audit,
}

/// Who a web-form submission says it is from, not yet confirmed by the owner of the address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PendingSender {
    /// The name as submitted (used for a contact made on confirmation).
    pub name: String,
    /// The address as submitted, lower-cased; the confirmation mail goes there.
    pub email: EmailAddress,
    /// The form it was submitted on.
    pub form_id: FormId,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
}

/// Which cases an agent may see and work (SPEC §4).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    All,
    Team,
    Own,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Follow every new case (SPEC F5).
    #[serde(default)]
    pub auto_follow: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: EmailAddress,
    pub role: Role,
    pub scope: Scope,
    pub team_ids: Vec<TeamId>,
    pub active: bool,
    pub preferences: Preferences,
    #[serde(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub description: Option<String>,
    /// How unassigned new cases of the team are given to its active members (F40).
    #[serde(default)]
    pub assignment_rule: Option<AssignmentRule>,
    #[serde(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// Mail from these domains belongs to this account (SPEC F23); unique across accounts.
    pub email_domains: Vec<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
    #[serde(flatten)]
    pub audit: Audit,
}

/// What a contact may do in the customer portal (SPEC F11).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortalRole {
    /// Only cases the contact is on.
    OwnCases,
    /// Every non-internal case of the contact's account.
    AccountCases,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalAccess {
    pub role: PortalRole,
    #[serde(default = "yes")]
    pub can_create_cases: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    /// Unique across contacts; the first is the preferred address.
    pub emails: Vec<EmailAddress>,
    pub phone: Option<String>,
    pub account_id: Option<AccountId>,
    pub portal: Option<PortalAccess>,
    #[serde(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    #[default]
    New,
    Assigned,
    InProcess,
    Converted,
    Recycled,
    Dead,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Lead {
    pub id: LeadId,
    pub name: String,
    pub email: Option<EmailAddress>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub status: LeadStatus,
    #[serde(flatten)]
    pub audit: Audit,
}

/// System-wide settings kept in the directory table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How case numbers are shown, e.g. `[#{n}]` or `SR-{n}`.
    pub case_number_mask: String,
    /// Also look for a case number in the body of inbound mail (F21 rule 3).
    #[serde(default)]
    pub number_in_body: bool,
    /// Sender addresses (`noreply@x.com`) or local parts (`mailer-daemon`) or domains
    /// (`@spam.example`) whose mail never opens cases (F24).
    #[serde(default = "default_blacklist")]
    pub blacklist: Vec<String>,
    /// What happens to blacklisted and spam mail.
    #[serde(default)]
    pub junk_policy: JunkPolicy,
    /// Larger inbound mail is logged with its headers only (F26).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Acknowledgements per recipient within the window (F27).
    #[serde(default = "default_ack_limit")]
    pub ack_limit_count: u32,
    #[serde(default = "default_ack_window")]
    pub ack_limit_window_minutes: u32,
    /// Acknowledgements one group mailbox sends per hour at most, whoever they go to: forged
    /// senders cannot turn the mailbox into a relay (F27).
    #[serde(default = "default_ack_limit_per_mailbox")]
    pub ack_limit_per_mailbox_per_hour: u32,
    /// How long a reply token threads mail back into its case (F21).
    #[serde(default = "default_reply_token_days")]
    pub reply_token_days: u32,
    /// How the customer portal presents the company (public: anyone may read it).
    #[serde(default)]
    pub brand: Brand,
}

/// The company's name, logo and colour in the customer portal and its sign-in page (SPEC F11).
/// Public, so it never holds anything but presentation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Brand {
    /// Shown in the portal's header and title.
    #[serde(default = "default_company_name")]
    pub company_name: String,
    /// An `https:` URL of the logo image, or a `data:image/…` URL of at most 64 KiB.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// The accent colour as `#rrggbb`.
    #[serde(default)]
    pub accent_colour: Option<String>,
}

fn default_company_name() -> String {
    "Support".to_owned()
}

impl Default for Brand {
    fn default() -> Self {
        Brand { company_name: default_company_name(), logo_url: None, accent_colour: None }
    }
}

/// Longest `data:` logo, in bytes of the URL.
pub const MAX_LOGO_DATA_URL: usize = 64 * 1024;

impl Brand {
    /// The brand as it may be stored and shown: a name of one line, a logo the portal's page
    /// policy loads (`https:` or an inline raster/SVG image; an image never runs script), and a
    /// colour CSS cannot be tricked by.
    pub fn validated(mut self) -> crate::error::DomainResult<Brand> {
        use crate::error::DomainError;
        self.company_name = self.company_name.trim().to_owned();
        if self.company_name.is_empty() || self.company_name.chars().count() > 100 || self.company_name.chars().any(char::is_control) {
            return Err(DomainError::invalid("brand.company_name", "a name of 1 to 100 characters on one line"));
        }
        self.logo_url = self.logo_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(url) = &self.logo_url {
            let lower = url.to_ascii_lowercase();
            let inline =
                ["data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;", "data:image/svg+xml;"].iter().any(|p| lower.starts_with(p));
            let remote = lower.starts_with("https://") && url.len() <= 2048;
            let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '<' | '>'));
            if !(clean && (remote || (inline && url.len() <= MAX_LOGO_DATA_URL))) {
                return Err(DomainError::invalid(
                    "brand.logo_url",
                    format!("an https: URL (at most 2048 characters) or a data:image URL of at most {} KiB", MAX_LOGO_DATA_URL / 1024),
                ));
            }
        }
        self.accent_colour = self.accent_colour.map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty());
        if let Some(colour) = &self.accent_colour
            && !(colour.len() == 7 && colour.starts_with('#') && colour[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(DomainError::invalid("brand.accent_colour", "a colour as #rrggbb"));
        }
        Ok(self)
    }
}

fn default_ack_limit_per_mailbox() -> u32 {
    200
}

fn default_reply_token_days() -> u32 {
    180
}

fn default_blacklist() -> Vec<String> {
    ["postmaster", "mailer-daemon", "noreply", "no-reply"].map(String::from).to_vec()
}

pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 40 * 1024 * 1024;

fn default_max_message_bytes() -> u64 {
    DEFAULT_MAX_MESSAGE_BYTES
}

fn default_ack_limit() -> u32 {
    5
}

fn default_ack_window() -> u32 {
    120
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JunkPolicy {
    /// Keep the raw message and log it; open nothing.
    #[default]
    Drop,
    /// Open a Cancelled case so agents can look at it.
    JunkCase,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            case_number_mask: crate::mask::DEFAULT_MASK.to_owned(),
            number_in_body: false,
            blacklist: default_blacklist(),
            junk_policy: JunkPolicy::Drop,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            ack_limit_count: default_ack_limit(),
            ack_limit_window_minutes: default_ack_window(),
            ack_limit_per_mailbox_per_hour: default_ack_limit_per_mailbox(),
            reply_token_days: default_reply_token_days(),
            brand: Brand::default(),
        }
    }
}

/// What a reply to a final (Closed, Rejected, …) case does (F22).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClosedCasePolicy {
    /// The case is reopened.
    #[default]
    Reopen,
    /// A new case is opened, linked to the old one as its parent.
    NewLinked,
    /// Reopened within `days` of its last change, otherwise a new linked case.
    NewAfterDays { days: u32 },
}

/// How a team's unassigned new cases are given to its members (F40).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentRule {
    /// Each active member in turn, in a stable order (by user id).
    RoundRobin,
    /// The active member with the fewest open cases (ties go to the first in the stable order).
    LeastBusy,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSenders {
    /// Create a contact (linked to the account owning the sender's domain).
    #[default]
    CreateContact,
    /// Log the mail as rejected.
    Reject,
}

/// A group mailbox (F6): inbound addresses, the team its cases go to, and its mail policies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Mailbox {
    pub id: MailboxId,
    pub name: String,
    /// Inbound addresses, unique across mailboxes; the first is the Reply-To of its mail.
    pub addresses: Vec<String>,
    pub team_id: Option<TeamId>,
    pub assignment_rule: Option<AssignmentRule>,
    pub closed_case_policy: ClosedCasePolicy,
    pub auto_ack: bool,
    /// The acknowledgement's text; `{number}` and `{subject}` are replaced.
    pub ack_text: Option<String>,
    pub unknown_senders: UnknownSenders,
    #[serde(flatten)]
    pub audit: Audit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(name: &str, logo: Option<&str>, colour: Option<&str>) -> Brand {
        Brand { company_name: name.into(), logo_url: logo.map(Into::into), accent_colour: colour.map(Into::into) }
    }

    #[test]
    fn a_brand_is_trimmed_and_its_colour_lower_cased() {
        let ok = brand("  Acme Support ", Some(" https://acme.example/logo.png "), Some("#A0B1C2")).validated().unwrap();
        assert_eq!(ok, brand("Acme Support", Some("https://acme.example/logo.png"), Some("#a0b1c2")));
        let empty = brand("Acme", Some(""), Some("")).validated().unwrap();
        assert_eq!((empty.logo_url, empty.accent_colour), (None, None));
        assert!(brand("Acme", Some("data:image/png;base64,iVBORw0KGgo="), None).validated().is_ok());
    }

    #[test]
    fn a_brand_cannot_smuggle_script_or_css() {
        for logo in ["javascript:alert(1)", "http://plain.example/logo.png", "data:text/html;base64,PHNjcmlwdD4=", "https://x.example/\"onerror=\"x"] {
            assert!(brand("Acme", Some(logo), None).validated().is_err(), "{logo} is refused");
        }
        let huge = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_DATA_URL));
        assert!(brand("Acme", Some(&huge), None).validated().is_err());
        for colour in ["red", "#abc", "#12345g", "#123456;background:url(x)"] {
            assert!(brand("Acme", None, Some(colour)).validated().is_err(), "{colour} is refused");
        }
        assert!(brand("   ", None, None).validated().is_err());
        assert!(brand("Acme\nInc", None, None).validated().is_err());
    }
}
