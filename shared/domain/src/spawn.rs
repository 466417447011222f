//! Spawning a case from a stream entry (issue 16, item 4): a message in one thread that is
//! really another problem becomes a case of its own, a child of the case it came from.
//!
//! The new case copies what ties it to the same customer (contacts, account, category, type,
//! mailbox, teams, priority) and quotes the entry in its description. One visibility rule holds
//! across the two: an internal entry must not reach customers through the copy, so a case
//! spawned from an internal entry (or from an internal case) is internal itself.

use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::cases::{CaseFields, Cases, Created};
use crate::error::{DomainError, DomainResult};
use crate::model::{Case, Source};
use crate::stream::{Author, StreamEntry};
use crate::validate;

/// What a caller may set on a spawned case; the rest comes from the case and the entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnFields {
    /// The new case's subject; the original case's by default.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub subject: Option<String>,
}

/// The description of a case spawned from `entry` of `case`: where it comes from, then the
/// entry's text quoted, cut to fit a description.
pub fn spawned_description(case_number: &str, entry: &StreamEntry) -> String {
    let when = entry.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let mut text = format!("From case {case_number}, entry of {when}:\n\n");
    let budget = validate::MAX_LONG_TEXT.saturating_sub(text.chars().count() + 1);
    let mut used = 0;
    for line in entry.body.lines() {
        let quoted = if line.is_empty() { ">".to_owned() } else { format!("> {line}") };
        let length = quoted.chars().count() + 1;
        if used + length > budget {
            text.push('…');
            break;
        }
        text.push_str(&quoted);
        text.push('\n');
        used += length;
    }
    text
}

impl Cases<'_> {
    /// Opens a case from an entry of a case the caller (staff) may see: a child of it, for the
    /// same customer, quoting the entry. Refused for system entries, which record a change
    /// rather than say something.
    pub async fn spawn(
        &self,
        principal: &Principal,
        reference: &str,
        entry_id: &str,
        fields: SpawnFields,
        idempotency_key: Option<&str>,
    ) -> DomainResult<Created> {
        if !matches!(principal, Principal::Staff(_)) {
            return Err(DomainError::Forbidden("only staff open cases from entries".into()));
        }
        let case = self.get(principal, reference).await?;
        let entry = match validate::id("entry_id", entry_id) {
            Ok(_) => self.entry(&case.id, entry_id).await?,
            Err(_) => None,
        };
        let Some(entry) = entry else { return Err(DomainError::not_found(format!("entry {entry_id} of case {reference}"))) };
        if entry.system.is_some() {
            return Err(DomainError::invalid("entry_id", "a system entry records a change: open a case from a post or a mail"));
        }
        let number = self.mask().await?.format(case.number);
        let subject = fields.subject.unwrap_or_else(|| case.subject.clone());
        let fields = spawned_fields(&case, &entry, subject, spawned_description(&number, &entry));
        self.open(&Author::of(principal), fields, idempotency_key).await
    }
}

/// The fields of a case spawned from `entry` of `case` (validated when the case is built).
fn spawned_fields(case: &Case, entry: &StreamEntry, subject: String, description: String) -> CaseFields {
    CaseFields {
        subject,
        description,
        status: None,
        priority: case.priority,
        case_type: case.case_type.clone(),
        category: case.category.clone(),
        source: Some(Source::Api),
        account_id: case.account_id.clone(),
        contact_ids: case.contact_ids.clone(),
        lead_id: None,
        assignee_id: None,
        collaborator_ids: Vec::new(),
        team_ids: case.team_ids.clone(),
        // What was internal stays away from customers, in the new case as in the old one.
        internal: case.internal || entry.is_internal(),
        parent_id: Some(case.id.clone()),
        mailbox_id: case.mailbox_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;
    use crate::stream::{EntryKind, Visibility};
    use time::macros::datetime;

    fn entry(body: &str, visibility: Visibility) -> StreamEntry {
        StreamEntry {
            id: "e1".into(),
            case_id: CaseId::from_trusted("c1".into()),
            kind: EntryKind::Post,
            visibility,
            author: Author::system(),
            body: body.into(),
            system: None,
            attachments: Vec::new(),
            email_customer: false,
            email: None,
            created_at: datetime!(2026-12-07 09:30 UTC),
        }
    }

    #[test]
    fn the_entry_is_quoted_line_by_line_under_where_it_comes_from() {
        let text = spawned_description("[#7]", &entry("The printer is fine.\n\nBut the scanner is not.", Visibility::Public));
        assert_eq!(text, "From case [#7], entry of 2026-12-07T09:30:00Z:\n\n> The printer is fine.\n>\n> But the scanner is not.\n");
    }

    #[test]
    fn a_long_entry_is_cut_to_fit_a_description() {
        let long = "word ".repeat(20).trim_end().to_owned() + "\n";
        let text = spawned_description("[#7]", &entry(&long.repeat(2_000), Visibility::Public));
        assert!(text.chars().count() <= validate::MAX_LONG_TEXT, "{}", text.chars().count());
        assert!(text.ends_with('…'));
    }

    #[test]
    fn a_case_from_an_internal_entry_is_internal() {
        let audit = crate::model::Audit::created("u1", datetime!(2026-12-07 09:00 UTC));
        let fields = CaseFields { subject: "Printer".into(), ..CaseFields::default() };
        let case = crate::cases::build(CaseId::from_trusted("c1".into()), 7, crate::model::CaseStatus::New, Source::Email, fields, audit).expect("a case");
        let note = entry("Between us: the customer is difficult", Visibility::Internal);
        assert!(spawned_fields(&case, &note, "S".into(), "D".into()).internal);
        let public = entry("Thanks", Visibility::Public);
        let spawned = spawned_fields(&case, &public, "S".into(), "D".into());
        assert!(!spawned.internal);
        assert_eq!(spawned.parent_id, Some(case.id.clone()));
    }
}
