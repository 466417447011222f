//! Service agreements (SPEC F51): what a customer is owed, as SLA targets per case priority
//! counted on a business-hours [`Calendar`], applied by contact, by account, by mailbox or as the
//! default.
//!
//! An agreement is a directory entity (`SERVICE_AGREEMENT#<id>` / `SERVICE_AGREEMENT`, admins only
//! to read and write). What it refers to (its calendar, the accounts, contacts or mailboxes it
//! applies to) is checked to exist in the transaction that writes it. [`choose`] picks the one
//! agreement that governs a case.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::calendar::{Calendar, Schedule, parse_date};
use crate::directory::{Entity, IdFor, Reference, WritePolicy, entity_accessors};
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::model::{Account, Audit, Contact, Mailbox};
use crate::sla::PriorityTargets;
use crate::validate::{self, MAX_NAME};

/// Most accounts, contacts or mailboxes one agreement names. Each is checked to exist in the
/// writing transaction, and DynamoDB takes at most 100 operations in one.
pub const MAX_APPLIES_TO: usize = 50;

/// The cases an agreement governs. The most specific applicable agreement wins: one naming a
/// contact of the case, else its account, else its mailbox, else the default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AppliesTo {
    /// Every case no more specific agreement governs.
    Default,
    /// Cases of these accounts.
    Accounts { account_ids: Vec<AccountId> },
    /// Cases one of these contacts is on.
    Contacts { contact_ids: Vec<ContactId> },
    /// Cases of these group mailboxes.
    Mailboxes { mailbox_ids: Vec<MailboxId> },
}

impl AppliesTo {
    /// How specific it is: a higher rank wins.
    fn rank(&self) -> u8 {
        match self {
            AppliesTo::Contacts { .. } => 3,
            AppliesTo::Accounts { .. } => 2,
            AppliesTo::Mailboxes { .. } => 1,
            AppliesTo::Default => 0,
        }
    }

    /// Ids checked, without repeats, 1 to [`MAX_APPLIES_TO`] of them.
    fn validated(self) -> DomainResult<AppliesTo> {
        fn ids<T: Id>(field: &str, ids: Vec<T>) -> DomainResult<Vec<T>> {
            if ids.is_empty() || ids.len() > MAX_APPLIES_TO {
                return Err(DomainError::invalid(field, format!("names 1 to {MAX_APPLIES_TO} records")));
            }
            let mut checked: Vec<T> = Vec::with_capacity(ids.len());
            for id in ids {
                let id = T::parse(field, id.as_ref())?;
                if !checked.contains(&id) {
                    checked.push(id);
                }
            }
            Ok(checked)
        }
        Ok(match self {
            AppliesTo::Default => AppliesTo::Default,
            AppliesTo::Accounts { account_ids } => AppliesTo::Accounts { account_ids: ids("applies_to.account_ids", account_ids)? },
            AppliesTo::Contacts { contact_ids } => AppliesTo::Contacts { contact_ids: ids("applies_to.contact_ids", contact_ids)? },
            AppliesTo::Mailboxes { mailbox_ids } => AppliesTo::Mailboxes { mailbox_ids: ids("applies_to.mailbox_ids", mailbox_ids)? },
        })
    }

    pub(crate) fn covers(&self, case: &CaseParties<'_>) -> bool {
        match self {
            AppliesTo::Default => true,
            AppliesTo::Accounts { account_ids } => case.account_id.is_some_and(|a| account_ids.contains(a)),
            AppliesTo::Contacts { contact_ids } => case.contact_ids.iter().any(|c| contact_ids.contains(c)),
            AppliesTo::Mailboxes { mailbox_ids } => case.mailbox_id.is_some_and(|m| mailbox_ids.contains(m)),
        }
    }
}

/// The default share of a target after which a clock warns.
pub const DEFAULT_WARNING_PERCENT: u8 = 80;

fn default_warning_percent() -> u8 {
    DEFAULT_WARNING_PERCENT
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServiceAgreement {
    pub id: AgreementId,
    pub name: String,
    pub calendar_id: CalendarId,
    pub targets: PriorityTargets,
    pub applies_to: AppliesTo,
    /// First day it applies (`YYYY-MM-DD`, in its calendar's zone), inclusive.
    #[schema(example = "2026-01-01")]
    pub valid_from: Option<String>,
    /// Last day it applies (`YYYY-MM-DD`, in its calendar's zone), inclusive.
    #[schema(example = "2026-12-31")]
    pub valid_until: Option<String>,
    /// The share of a target (percent) after which a clock warns.
    pub warning_percent: u8,
    pub enabled: bool,
    #[serde(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAgreementFields {
    pub name: String,
    /// The business-hours calendar its targets count on.
    pub calendar_id: CalendarId,
    /// Business minutes per clock and case priority (`{"High": {"first_response_minutes": 60}}`);
    /// each 1 to 525600, at least one in all.
    pub targets: PriorityTargets,
    pub applies_to: AppliesTo,
    #[serde(default)]
    #[schema(example = "2026-01-01")]
    pub valid_from: Option<String>,
    #[serde(default)]
    #[schema(example = "2026-12-31")]
    pub valid_until: Option<String>,
    /// 1 to 99; 80 by default.
    #[serde(default = "default_warning_percent")]
    #[schema(minimum = 1, maximum = 99, default = 80)]
    pub warning_percent: u8,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

/// A validity date: `YYYY-MM-DD`, normalised (an empty one is none).
fn date(field: &str, value: Option<String>) -> DomainResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => Ok(Some(parse_date(field, value)?.to_string())),
    }
}

impl Entity for ServiceAgreement {
    const KIND: &'static str = "service_agreement";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    const ADMIN_ONLY_READS: bool = true;
    const MOVES_SLA_DUE_TIMES: bool = true;
    type Fields = ServiceAgreementFields;

    entity_accessors!();
    fn fields(&self) -> ServiceAgreementFields {
        ServiceAgreementFields {
            name: self.name.clone(),
            calendar_id: self.calendar_id.clone(),
            targets: self.targets,
            applies_to: self.applies_to.clone(),
            valid_from: self.valid_from.clone(),
            valid_until: self.valid_until.clone(),
            warning_percent: self.warning_percent,
            enabled: self.enabled,
        }
    }
    fn build(id: String, f: ServiceAgreementFields, audit: Audit) -> DomainResult<Self> {
        let valid_from = date("valid_from", f.valid_from)?;
        let valid_until = date("valid_until", f.valid_until)?;
        // Both are YYYY-MM-DD, so string order is date order.
        if let (Some(from), Some(until)) = (&valid_from, &valid_until)
            && until < from
        {
            return Err(DomainError::invalid("valid_until", "must not be before valid_from"));
        }
        if !(1..=99).contains(&f.warning_percent) {
            return Err(DomainError::invalid("warning_percent", "a share of the target from 1 to 99 percent"));
        }
        Ok(ServiceAgreement {
            id: AgreementId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            calendar_id: CalendarId::parse("calendar_id", &f.calendar_id)?,
            targets: f.targets.validated("targets")?,
            applies_to: f.applies_to.validated()?,
            valid_from,
            valid_until,
            warning_percent: f.warning_percent,
            enabled: f.enabled,
            audit,
        })
    }
    fn references(&self) -> Vec<Reference> {
        let calendar = Reference { field: "calendar_id", kind: Calendar::KIND, id: self.calendar_id.to_string() };
        let (field, kind, ids): (&'static str, &'static str, Vec<String>) = match &self.applies_to {
            AppliesTo::Default => return vec![calendar],
            AppliesTo::Accounts { account_ids } => ("applies_to.account_ids", Account::KIND, account_ids.iter().map(ToString::to_string).collect()),
            AppliesTo::Contacts { contact_ids } => ("applies_to.contact_ids", Contact::KIND, contact_ids.iter().map(ToString::to_string).collect()),
            AppliesTo::Mailboxes { mailbox_ids } => ("applies_to.mailbox_ids", Mailbox::KIND, mailbox_ids.iter().map(ToString::to_string).collect()),
        };
        std::iter::once(calendar).chain(ids.into_iter().map(|id| Reference { field, kind, id })).collect()
    }
}

impl IdFor<ServiceAgreement> for AgreementId {
    fn id_str(&self) -> &str {
        self.as_str()
    }
}

impl ServiceAgreement {
    /// Whether it governs cases on `date` (a local date of its calendar).
    fn valid_on(&self, date: jiff::civil::Date) -> bool {
        let bound = |value: &Option<String>| value.as_deref().and_then(|v| v.parse::<jiff::civil::Date>().ok());
        bound(&self.valid_from).is_none_or(|from| from <= date) && bound(&self.valid_until).is_none_or(|until| date <= until)
    }
}

/// What of a case decides its agreement.
#[derive(Debug, Clone, Copy)]
pub struct CaseParties<'a> {
    pub contact_ids: &'a [ContactId],
    pub account_id: Option<&'a AccountId>,
    pub mailbox_id: Option<&'a MailboxId>,
}

/// The agreement governing a case at `at`: among the enabled agreements valid on that day (in
/// each one's calendar's zone) that apply to the case, the most specific (contact, then account,
/// then mailbox, then default); between equally specific ones the oldest (by creation, then id),
/// so the answer does not depend on the order they were listed in. An agreement whose calendar
/// is not in `calendars` is passed over: its clocks could not be computed.
pub fn choose<'a>(
    agreements: &'a [ServiceAgreement],
    case: &CaseParties<'_>,
    at: OffsetDateTime,
    calendars: &HashMap<CalendarId, Schedule>,
) -> Option<&'a ServiceAgreement> {
    agreements
        .iter()
        .filter(|a| a.enabled && a.applies_to.covers(case))
        .filter(|a| calendars.get(&a.calendar_id).and_then(|s| s.date_at(at)).is_some_and(|date| a.valid_on(date)))
        .min_by(|a, b| b.applies_to.rank().cmp(&a.applies_to.rank()).then(a.audit.created_at.cmp(&b.audit.created_at)).then(a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarFields, Interval, WeeklyHours};
    use crate::model::{CaseStatus, Priority};
    use crate::sla::{Change, Event, Targets, Timeline};
    use time::macros::datetime;

    fn calendars() -> HashMap<CalendarId, Schedule> {
        let hours = WeeklyHours { monday: vec![Interval::new("09:00", "17:00")], ..Default::default() };
        let berlin = CalendarFields { name: "Berlin".into(), time_zone: "Europe/Berlin".into(), hours, holidays: vec![] };
        HashMap::from([(CalendarId::from_trusted("berlin".into()), berlin.schedule().unwrap())])
    }

    fn agreement(id: &str, applies_to: AppliesTo, created_minute: u8) -> ServiceAgreement {
        let fields = ServiceAgreementFields {
            name: id.to_uppercase(),
            calendar_id: CalendarId::from_trusted("berlin".into()),
            targets: PriorityTargets { normal: Targets { first_response_minutes: Some(60), ..Default::default() }, ..Default::default() },
            applies_to,
            valid_from: None,
            valid_until: None,
            warning_percent: DEFAULT_WARNING_PERCENT,
            enabled: true,
        };
        let created = datetime!(2026-01-01 00:00 UTC) + time::Duration::minutes(created_minute.into());
        ServiceAgreement::build(id.to_owned(), fields, Audit::created("admin", created)).unwrap()
    }

    fn accounts(ids: &[&str]) -> AppliesTo {
        AppliesTo::Accounts { account_ids: ids.iter().map(|id| AccountId::from_trusted((*id).into())).collect() }
    }

    fn contacts(ids: &[&str]) -> AppliesTo {
        AppliesTo::Contacts { contact_ids: ids.iter().map(|id| ContactId::from_trusted((*id).into())).collect() }
    }

    fn mailboxes(ids: &[&str]) -> AppliesTo {
        AppliesTo::Mailboxes { mailbox_ids: ids.iter().map(|id| MailboxId::from_trusted((*id).into())).collect() }
    }

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn chosen(agreements: &[ServiceAgreement], contacts: &[&str], account: Option<&str>, mailbox: Option<&str>, at: OffsetDateTime) -> Option<String> {
        let contact_ids: Vec<ContactId> = contacts.iter().map(|c| ContactId::from_trusted((*c).into())).collect();
        let account_id = account.map(|a| AccountId::from_trusted(a.into()));
        let mailbox_id = mailbox.map(|m| MailboxId::from_trusted(m.into()));
        let case = CaseParties { contact_ids: &contact_ids, account_id: account_id.as_ref(), mailbox_id: mailbox_id.as_ref() };
        choose(agreements, &case, at, &calendars()).map(|a| a.id.to_string())
    }

    #[test]
    fn the_most_specific_agreement_wins() {
        let all = vec![
            agreement("default", AppliesTo::Default, 0),
            agreement("mailbox", mailboxes(&["support"]), 1),
            agreement("account", accounts(&["acme"]), 2),
            agreement("contact", contacts(&["ada", "bob"]), 3),
        ];
        assert_eq!(chosen(&all, &["carol", "bob"], Some("acme"), Some("support"), NOW).as_deref(), Some("contact"));
        assert_eq!(chosen(&all, &["carol"], Some("acme"), Some("support"), NOW).as_deref(), Some("account"));
        assert_eq!(chosen(&all, &["carol"], Some("initech"), Some("support"), NOW).as_deref(), Some("mailbox"));
        assert_eq!(chosen(&all, &[], None, None, NOW).as_deref(), Some("default"));
        // The order they are listed in does not matter.
        let reversed: Vec<_> = all.iter().rev().cloned().collect();
        assert_eq!(chosen(&reversed, &["bob"], Some("acme"), None, NOW).as_deref(), Some("contact"));
        assert_eq!(chosen(&all[1..], &[], None, None, NOW), None);
    }

    #[test]
    fn equally_specific_agreements_go_to_the_oldest() {
        let all =
            vec![agreement("b-newer", accounts(&["acme"]), 5), agreement("z-older", accounts(&["acme", "x"]), 1), agreement("a-newer", accounts(&["acme"]), 5)];
        assert_eq!(chosen(&all, &[], Some("acme"), None, NOW).as_deref(), Some("z-older"));
        // Created the same minute: the lower id.
        let same_minute = vec![all[0].clone(), all[2].clone()];
        assert_eq!(chosen(&same_minute, &[], Some("acme"), None, NOW).as_deref(), Some("a-newer"));
    }

    #[test]
    fn disabled_and_out_of_date_agreements_do_not_apply() {
        let mut disabled = agreement("disabled", accounts(&["acme"]), 0);
        disabled.enabled = false;
        let mut expired = agreement("expired", accounts(&["acme"]), 1);
        expired.valid_until = Some("2026-05-31".into());
        let mut future = agreement("future", accounts(&["acme"]), 2);
        future.valid_from = Some("2026-06-02".into());
        let all = vec![disabled, expired, future, agreement("default", AppliesTo::Default, 3)];
        assert_eq!(chosen(&all, &[], Some("acme"), None, NOW).as_deref(), Some("default"));
        // Validity days are inclusive and local to the calendar's zone (Berlin is UTC+2 in
        // summer): 31 May 21:59 UTC is still 31 May there, 22:00 UTC already 1 June.
        assert_eq!(chosen(&all, &[], Some("acme"), None, datetime!(2026-05-31 21:59 UTC)).as_deref(), Some("expired"));
        assert_eq!(chosen(&all, &[], Some("acme"), None, datetime!(2026-05-31 22:00 UTC)).as_deref(), Some("default"));
        assert_eq!(chosen(&all, &[], Some("acme"), None, datetime!(2026-06-01 22:00 UTC)).as_deref(), Some("future"));
        // An agreement whose calendar is unknown is passed over.
        let mut orphan = agreement("orphan", contacts(&["ada"]), 0);
        orphan.calendar_id = CalendarId::from_trusted("gone".into());
        assert_eq!(chosen(&[orphan, agreement("default", AppliesTo::Default, 3)], &["ada"], None, None, NOW).as_deref(), Some("default"));
    }

    /// The example: Gold (first response 1 business hour, resolution 8, Mon–Fri 9–17
    /// Berlin) on an account governs that account's case created Friday 16:30 Berlin time, and
    /// its first response falls due Monday 09:30, a Pending weekend notwithstanding.
    #[test]
    fn gold_on_an_account_gives_its_friday_afternoon_case_monday_morning() {
        let day = vec![Interval::new("09:00", "17:00")];
        let hours = WeeklyHours { monday: day.clone(), tuesday: day.clone(), wednesday: day.clone(), thursday: day.clone(), friday: day, ..Default::default() };
        let berlin = CalendarFields { name: "Berlin".into(), time_zone: "Europe/Berlin".into(), hours, holidays: vec![] };
        let calendars = HashMap::from([(CalendarId::from_trusted("berlin".into()), berlin.schedule().unwrap())]);
        let mut gold = agreement("gold", accounts(&["acme"]), 1);
        gold.targets = PriorityTargets {
            normal: Targets { first_response_minutes: Some(60), next_response_minutes: None, resolution_minutes: Some(480) },
            ..Default::default()
        };
        let agreements = vec![agreement("basic", AppliesTo::Default, 0), gold];
        let created_at = datetime!(2026-01-09 16:30 +1);
        let acme = AccountId::from_trusted("acme".into());
        let case = CaseParties { contact_ids: &[], account_id: Some(&acme), mailbox_id: None };
        let chosen = choose(&agreements, &case, created_at, &calendars).expect("an agreement");
        assert_eq!(chosen.name, "GOLD");

        let pending_weekend = vec![
            Event { at: datetime!(2026-01-09 17:00 +1), change: Change::Status(CaseStatus::Pending) },
            Event { at: datetime!(2026-01-12 09:00 +1), change: Change::Status(CaseStatus::InProgress) },
        ];
        let timeline = Timeline { created_at, priority: Priority::Normal, status: CaseStatus::New, events: pending_weekend };
        let clocks = crate::sla::clocks(&calendars[&chosen.calendar_id], &chosen.targets, &timeline, datetime!(2026-01-12 09:00 +1));
        assert_eq!(clocks.first_response.expect("first response").due_at, Some(datetime!(2026-01-12 09:30 +1)));
        assert_eq!(clocks.resolution.expect("resolution").due_at, Some(datetime!(2026-01-12 16:30 +1)));
    }

    #[test]
    fn fields_are_validated_naming_the_field() {
        let field = |change: &dyn Fn(&mut ServiceAgreementFields)| {
            let mut fields = agreement("x", AppliesTo::Default, 0).fields();
            change(&mut fields);
            match ServiceAgreement::build("x".into(), fields, Audit::created("admin", NOW)) {
                Err(DomainError::Validation { field, .. }) => field,
                other => panic!("expected a validation error, got {other:?}"),
            }
        };
        assert_eq!(field(&|f| f.name = " ".into()), "name");
        assert_eq!(field(&|f| f.calendar_id = CalendarId::from_trusted("a b".into())), "calendar_id");
        assert_eq!(field(&|f| f.targets = PriorityTargets::default()), "targets");
        assert_eq!(field(&|f| f.targets.urgent.next_response_minutes = Some(525_601)), "targets.Urgent.next_response_minutes");
        assert_eq!(field(&|f| f.warning_percent = 0), "warning_percent");
        assert_eq!(field(&|f| f.warning_percent = 100), "warning_percent");
        assert_eq!(field(&|f| f.valid_from = Some("2026-02-30".into())), "valid_from");
        assert_eq!(field(&|f| f.valid_until = Some("1.1.2027".into())), "valid_until");
        assert_eq!(
            field(&|f| {
                f.valid_from = Some("2026-02-01".into());
                f.valid_until = Some("2026-01-31".into());
            }),
            "valid_until"
        );
        assert_eq!(field(&|f| f.applies_to = accounts(&[])), "applies_to.account_ids");
        assert_eq!(field(&|f| f.applies_to = contacts(&["ok", "not ok"])), "applies_to.contact_ids");
        let many: Vec<String> = (0..=MAX_APPLIES_TO).map(|i| format!("m{i}")).collect();
        assert_eq!(field(&|f| f.applies_to = mailboxes(&many.iter().map(String::as_str).collect::<Vec<_>>())), "applies_to.mailbox_ids");
        // Repeats are dropped; a one-day validity is fine.
        let mut fields = agreement("x", AppliesTo::Default, 0).fields();
        fields.applies_to = accounts(&["acme", "acme"]);
        fields.valid_from = Some(" 2026-03-01 ".into());
        fields.valid_until = Some("2026-03-01".into());
        let built = ServiceAgreement::build("x".into(), fields, Audit::created("admin", NOW)).unwrap();
        assert_eq!(built.applies_to, accounts(&["acme"]));
        assert_eq!(built.valid_from.as_deref(), Some("2026-03-01"));
    }

    #[test]
    fn json_names_the_scope_by_kind() {
        let parsed: ServiceAgreementFields = crate::fields::parse(serde_json::json!({
            "name": "Gold",
            "calendar_id": "01CAL",
            "targets": {"Normal": {"first_response_minutes": 60, "resolution_minutes": 480}},
            "applies_to": {"kind": "accounts", "account_ids": ["01ACME"]}
        }))
        .unwrap();
        assert_eq!(parsed.warning_percent, 80);
        assert!(parsed.enabled);
        assert_eq!(parsed.applies_to, accounts(&["01ACME"]));
        let default: AppliesTo = serde_json::from_value(serde_json::json!({"kind": "default"})).unwrap();
        assert_eq!(default, AppliesTo::Default);
        assert!(serde_json::from_value::<AppliesTo>(serde_json::json!({"kind": "accounts", "contact_ids": []})).is_err());
        assert!(serde_json::from_value::<AppliesTo>(serde_json::json!({"kind": "teams"})).is_err());
    }
}
