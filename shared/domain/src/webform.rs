//! Web forms (SPEC F12): admins configure forms; anyone may submit one, without signing in.
//!
//! A form is a directory entity (`FORM#<id>` / `FORM`, admin-only to read and write). A
//! submission is untrusted from end to end, so it is held by several independent guards: a
//! honeypot field that people never fill (a filled one is answered as accepted and dropped),
//! strict field parsing with size limits, rate limits per form, per client IP and per sender,
//! and allowed origins (checked by the HTTP edge, which sees the `Origin` header). An accepted
//! submission opens a case with source `web_form` and no contact: the address it names is only a
//! claim until its owner confirms it (see [`crate::confirm`]), so until then nothing of the case
//! reaches that address, its contact or its account. The answer never tells the sender anything
//! about the case.

use crate::directory::entity_accessors;
use crate::ids::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

use crate::cases::{CaseFields, Cases};
use crate::directory::{Directory, Entity, Reference, WritePolicy};
use crate::error::{DomainError, DomainResult};
use crate::model::{Audit, Mailbox, PendingSender, Source, Team};
use crate::ratelimit::FixedWindow;
use crate::schema::{COUNTERS, form_stats};
use crate::stream::Author;
use crate::validate::{self, MAX_NAME, MAX_SUBJECT};

/// Name of the honeypot field: hidden from people by CSS, attractive to bots.
pub const HONEYPOT_FIELD: &str = "website";
/// Longest message a submission may carry, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Most origins one form may allow.
pub const MAX_ORIGINS: usize = 20;
/// Subjects derived from the message are cut to this many characters.
const DERIVED_SUBJECT_CHARS: usize = 80;
const SENDER_WINDOW_SECS: i64 = 3600;
const IP_WINDOW_SECS: i64 = 3600;
const FORM_WINDOW_SECS: i64 = 60;

/// Whether a form asks for a field or merely offers it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    #[default]
    Required,
    Optional,
}

/// Which fields a form asks for. The email address is always required: the sender's contact is
/// found or created by it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRules {
    #[serde(default)]
    pub name: Requirement,
    #[serde(default)]
    pub subject: Requirement,
    #[serde(default)]
    pub message: Requirement,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Submissions one email address may send per hour (over all forms).
    #[serde(default = "default_per_sender_per_hour")]
    pub per_sender_per_hour: u32,
    /// Submissions the form takes per minute from everyone together.
    #[serde(default = "default_per_form_per_minute")]
    pub per_form_per_minute: u32,
    /// Submissions one client IP address (an IPv6 /64 network) may send per hour (over all forms).
    #[serde(default = "default_per_ip_per_hour")]
    pub per_ip_per_hour: u32,
}

fn default_per_sender_per_hour() -> u32 {
    5
}

fn default_per_form_per_minute() -> u32 {
    60
}

fn default_per_ip_per_hour() -> u32 {
    20
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_sender_per_hour: default_per_sender_per_hour(),
            per_form_per_minute: default_per_form_per_minute(),
            per_ip_per_hour: default_per_ip_per_hour(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WebForm {
    pub id: FormId,
    pub name: String,
    /// Origins (`https://www.example.com`) whose pages may post this form from a browser.
    pub allowed_origins: Vec<String>,
    /// The team new cases go to (else the mailbox's team).
    pub team_id: Option<TeamId>,
    /// The group mailbox new cases belong to: mail about them goes out with its Reply-To.
    pub mailbox_id: Option<MailboxId>,
    pub fields: FieldRules,
    pub rate_limits: RateLimits,
    pub enabled: bool,
    #[serde(flatten)]
    pub audit: Audit,
}

impl WebForm {
    /// Whether a browser page of `origin` may post this form.
    pub fn allows_origin(&self, origin: &str) -> bool {
        validate::origin("Origin", origin).is_ok_and(|o| self.allowed_origins.contains(&o))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebFormFields {
    pub name: String,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub team_id: Option<TeamId>,
    pub mailbox_id: Option<MailboxId>,
    #[serde(default)]
    pub fields: FieldRules,
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

fn limit(field: &str, value: u32) -> DomainResult<u32> {
    if (1..=10_000).contains(&value) { Ok(value) } else { Err(DomainError::invalid(field, "must be between 1 and 10000")) }
}

impl Entity for WebForm {
    const KIND: &'static str = "form";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    const ADMIN_ONLY_READS: bool = true;
    type Fields = WebFormFields;

    entity_accessors!();
    fn fields(&self) -> WebFormFields {
        WebFormFields {
            name: self.name.clone(),
            allowed_origins: self.allowed_origins.clone(),
            team_id: self.team_id.clone(),
            mailbox_id: self.mailbox_id.clone(),
            fields: self.fields.clone(),
            rate_limits: self.rate_limits.clone(),
            enabled: self.enabled,
        }
    }
    fn build(id: String, f: WebFormFields, audit: Audit) -> DomainResult<Self> {
        Ok(WebForm {
            id: FormId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            allowed_origins: validate::list("allowed_origins", &f.allowed_origins, MAX_ORIGINS, validate::origin)?,
            team_id: checked("team_id", f.team_id)?,
            mailbox_id: checked("mailbox_id", f.mailbox_id)?,
            fields: f.fields,
            rate_limits: RateLimits {
                per_sender_per_hour: limit("rate_limits.per_sender_per_hour", f.rate_limits.per_sender_per_hour)?,
                per_form_per_minute: limit("rate_limits.per_form_per_minute", f.rate_limits.per_form_per_minute)?,
                per_ip_per_hour: limit("rate_limits.per_ip_per_hour", f.rate_limits.per_ip_per_hour)?,
            },
            enabled: f.enabled,
            audit,
        })
    }
    fn references(&self) -> Vec<Reference> {
        let team = self.team_id.iter().map(|id| Reference { field: "team_id", kind: Team::KIND, id: id.to_string() });
        let mailbox = self.mailbox_id.iter().map(|id| Reference { field: "mailbox_id", kind: Mailbox::KIND, id: id.to_string() });
        team.chain(mailbox).collect()
    }
}

/// A submission as sent: every field a string, nothing else accepted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub name: Option<String>,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    /// [`HONEYPOT_FIELD`].
    pub website: Option<String>,
}

/// The validated content of a submission.
struct Accepted {
    name: String,
    email: EmailAddress,
    subject: String,
    message: String,
}

/// What became of a submission. The sender is told the same either way.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A case was opened; it waits for the sender to confirm their address.
    Accepted { case_id: CaseId, case_number: u64 },
    /// The honeypot was filled: nothing was created.
    Discarded,
}

/// Counts of what happened to a form's submissions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
pub struct FormStats {
    #[serde(default)]
    pub accepted: u64,
    #[serde(default)]
    pub honeypot: u64,
    #[serde(default)]
    pub rate_limited: u64,
}

pub struct WebForms<'a> {
    pub(crate) cases: Cases<'a>,
}

impl<'a> WebForms<'a> {
    fn directory(&self) -> Directory<'a> {
        Directory::new(self.cases.store)
    }

    /// The form a public request names: 404 when there is none, 403 when it is switched off.
    pub async fn public_form(&self, id: &str) -> DomainResult<WebForm> {
        let form: WebForm = self.directory().get(id).await?.ok_or_else(|| DomainError::not_found(format!("form {id}")))?;
        if !form.enabled {
            return Err(DomainError::Forbidden(format!("form {id} does not take submissions")));
        }
        Ok(form)
    }

    /// Takes one submission of an enabled form (the edge has checked its origin) from the client
    /// at `client_ip` (`None` when the edge cannot tell: such clients share one window).
    pub async fn submit(&self, form: &WebForm, submission: Submission, client_ip: Option<IpAddr>) -> DomainResult<Outcome> {
        if submission.website.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            tracing::info!(form = %form.id, outcome = "honeypot", "web form submission discarded");
            self.count(form, "honeypot").await;
            return Ok(Outcome::Discarded);
        }
        // The form's and the client's windows come before validation, so a flood of junk is
        // held too; the sender's address is only known once it is valid.
        let everyone = FixedWindow { name: format!("form#{}", form.id), limit: form.rate_limits.per_form_per_minute, window_secs: FORM_WINDOW_SECS };
        self.within_limit(form, everyone, "submissions to this form").await?;
        let client = FixedWindow { name: format!("ip#{}", client_key(client_ip)), limit: form.rate_limits.per_ip_per_hour, window_secs: IP_WINDOW_SECS };
        self.within_limit(form, client, "submissions from this network address").await?;
        let accepted = validate_submission(form, submission)?;
        let sender = FixedWindow { name: format!("sender#{}", accepted.email), limit: form.rate_limits.per_sender_per_hour, window_secs: SENDER_WINDOW_SECS };
        self.within_limit(form, sender, "submissions from this address").await?;

        let team_id = match (&form.team_id, &form.mailbox_id) {
            (Some(team), _) => Some(team.clone()),
            (None, Some(mailbox)) => self.directory().get::<Mailbox>(mailbox).await?.and_then(|m| m.team_id),
            (None, None) => None,
        };
        // No contact and no account: the address is a claim until its owner confirms it.
        let fields = CaseFields {
            subject: accepted.subject,
            description: accepted.message,
            status: None,
            priority: Default::default(),
            case_type: None,
            category: None,
            source: Some(Source::WebForm),
            account_id: None,
            contact_ids: Vec::new(),
            lead_id: None,
            assignee_id: None,
            collaborator_ids: Vec::new(),
            team_ids: team_id.into_iter().collect(),
            internal: false,
            parent_id: None,
            mailbox_id: form.mailbox_id.clone(),
        };
        let sender = PendingSender { name: accepted.name, email: accepted.email, form_id: form.id.clone() };
        let created = self.cases.open_unverified(&Author::system(), fields, sender).await?;
        tracing::info!(form = %form.id, case = created.case.number, case_id = %created.case.id, outcome = "accepted", "web form submission accepted");
        self.count(form, "accepted").await;
        Ok(Outcome::Accepted { case_id: created.case.id, case_number: created.case.number })
    }

    /// Counts a hit on `window`; a refusal is logged and counted for the admins.
    async fn within_limit(&self, form: &WebForm, window: FixedWindow, what: &str) -> DomainResult<()> {
        let result = window.hit(self.cases.store, self.cases.clock, what).await;
        if let Err(DomainError::RateLimited { .. }) = &result {
            tracing::info!(form = %form.id, outcome = "rate_limited", "web form submission refused");
            self.count(form, "rate_limited").await;
        }
        result
    }

    /// Counts an outcome. The counts are for admins' eyes: a failure is logged, never answered.
    async fn count(&self, form: &WebForm, outcome: &str) {
        if let Err(error) = self.cases.store.increment(COUNTERS, &form_stats(&form.id), outcome, 1).await {
            tracing::warn!(form = %form.id, outcome, %error, "could not count a web form outcome");
        }
    }

    /// What happened to a form's submissions (admins).
    pub async fn stats(&self, principal: &crate::Principal, id: &str) -> DomainResult<FormStats> {
        principal.require_admin()?;
        let form: WebForm = self.directory().require(id).await?;
        match self.cases.store.get(COUNTERS, &form_stats(&form.id)).await? {
            Some(item) => crate::directory::from_item(item),
            None => Ok(FormStats::default()),
        }
    }
}

/// What one client is counted as: its IPv4 address, or the /64 network of its IPv6 address
/// (one subscriber commonly holds a whole /64).
fn client_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".into(),
    }
}

fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn required(field: &str, rule: Requirement, value: Option<String>) -> DomainResult<Option<String>> {
    match (present(value), rule) {
        (None, Requirement::Required) => Err(DomainError::invalid(field, "is required")),
        (value, _) => Ok(value),
    }
}

fn validate_submission(form: &WebForm, s: Submission) -> DomainResult<Accepted> {
    let email = present(s.email).ok_or_else(|| DomainError::invalid("email", "is required"))?;
    let email = EmailAddress::parse("email", &email)?;
    let message = match required("message", form.fields.message, s.message)? {
        Some(m) => validate::long_text("message", m.trim(), MAX_MESSAGE_CHARS)?,
        None => String::new(),
    };
    let name = match required("name", form.fields.name, s.name)? {
        Some(n) => validate::line("name", &n, MAX_NAME)?,
        // The part before the @ is the best name an address offers.
        None => email.local_part().to_owned(),
    };
    let subject = match required("subject", form.fields.subject, s.subject)? {
        Some(subject) => validate::line("subject", &subject, MAX_SUBJECT)?,
        None => derived_subject(&message, &form.name),
    };
    Ok(Accepted { name, email, subject, message })
}

/// A subject for a form without one: the message's first line, shortened, or the form's name.
fn derived_subject(message: &str, form_name: &str) -> String {
    let first_line: String =
        message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut subject: String = first_line.chars().take(DERIVED_SUBJECT_CHARS).collect();
    if first_line.chars().count() > DERIVED_SUBJECT_CHARS {
        subject.push('…');
    }
    if subject.trim().is_empty() { format!("Message from web form {form_name}") } else { subject }
}

impl crate::directory::IdFor<WebForm> for FormId {
    fn id_str(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_honeypot_field_is_part_of_a_submission() {
        let parsed: Submission = crate::fields::parse(serde_json::json!({ HONEYPOT_FIELD: "http://spam.example" })).expect("parses");
        assert_eq!(parsed.website.as_deref(), Some("http://spam.example"));
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_network() {
        let key = |s: &str| client_key(Some(s.parse().expect("an IP address")));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), key("2001:db8:1:2::9"));
        assert_eq!(client_key(None), "unknown");
    }

    #[test]
    fn subjects_are_derived_from_the_first_line() {
        assert_eq!(derived_subject("\n  Printer\tjams  \nmore", "Contact"), "Printer jams");
        assert_eq!(derived_subject("", "Contact"), "Message from web form Contact");
        assert_eq!(derived_subject(&"x".repeat(100), "C").chars().count(), DERIVED_SUBJECT_CHARS + 1);
    }
}
