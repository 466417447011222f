//! Workflow rules (SPEC F14, F41): what admins configure to happen when cases change.
//!
//! A rule has a trigger (a case created or updated, a stream entry added, email received),
//! conditions that all (or any) must hold on the case, and ordered actions. Rules are directory
//! records managed through the API like other configuration; they run in the assign worker after
//! the change that triggered them is committed (see `automation`).

use crate::ids::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::Principal;
use crate::directory::{Directory, Entity, Reference, WritePolicy, entity_accessors};
use crate::error::{DomainError, DomainResult};
use crate::events::Trigger;
use crate::model::{AssignmentRule, Audit, Case, CaseStatus, Mailbox, Priority, Source, Team, User};
use crate::stream::StreamEntry;
use crate::validate::{self, MAX_NAME, MAX_SUBJECT};

pub const MAX_CONDITIONS: usize = 20;
pub const MAX_ACTIONS: usize = 10;
const MAX_LISTED_IDS: usize = 20;
/// Distinct records one rule may name: each is checked to exist in the rule's own transaction.
pub const MAX_REFERENCES: usize = 50;
const MAX_VALUES: usize = 50;
const MAX_NEEDLE: usize = 200;
const MAX_NOTE: usize = 10_000;

/// Whether every condition must hold, or one is enough.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    All,
    Any,
}

/// What a condition looks at.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConditionField {
    Status,
    Priority,
    Source,
    MailboxId,
    TeamIds,
    AccountId,
    AssigneeId,
    Type,
    Category,
    Internal,
    Subject,
    Description,
    /// The text of the entry or mail that triggered the rule; the description for case events.
    Body,
    /// The SLA clock an `sla_warning` / `sla_breached` event is about (`first_response`,
    /// `next_response`, `resolution`); none for other triggers.
    SlaClock,
}

impl ConditionField {
    fn is_text(self) -> bool {
        matches!(self, ConditionField::Subject | ConditionField::Description | ConditionField::Body)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Is,
    IsNot,
    In,
    NotIn,
    /// Text fields: contains the words, case-insensitively; `team_ids`: holds the id.
    Contains,
    NotContains,
    IsSet,
    IsEmpty,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCondition {
    pub field: ConditionField,
    pub op: Operator,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
}

/// One step of a rule, done in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Gives an unassigned case to a team member by an assignment rule: the named team (else the
    /// case's mailbox or team with a rule) and the named rule (else that team's or mailbox's).
    AssignByRule {
        #[serde(default)]
        team_id: Option<TeamId>,
        #[serde(default)]
        rule: Option<AssignmentRule>,
    },
    /// Gives an unassigned case to this user.
    AssignToUser {
        user_id: UserId,
    },
    /// Adds the team to the case (its assignment rule then assigns the case if it is new).
    AssignToTeam {
        team_id: TeamId,
    },
    /// A merge patch of `priority`, `status`, `type`, `category` and `internal`.
    SetFields {
        fields: Map<String, Value>,
    },
    /// Makes this group mailbox the case's (its address becomes the Reply-To of the case's mail).
    LinkMailbox {
        mailbox_id: MailboxId,
    },
    AddFollowers {
        user_ids: Vec<UserId>,
    },
    /// Emails these users about the case, with the message.
    NotifyUsers {
        user_ids: Vec<UserId>,
        #[serde(default)]
        message: String,
    },
    PostInternalNote {
        body: String,
    },
    /// Opens another case (by default a child of this one, for its account and contacts).
    CreateCase {
        subject: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        priority: Option<Priority>,
        #[serde(default)]
        team_ids: Vec<TeamId>,
        #[serde(default = "yes")]
        as_child: bool,
    },
    /// Gives the case's assignee and teams access to its child cases.
    ShareChildRecords {},
}

fn yes() -> bool {
    true
}

impl RuleAction {
    pub fn name(&self) -> &'static str {
        match self {
            RuleAction::AssignByRule { .. } => "assign_by_rule",
            RuleAction::AssignToUser { .. } => "assign_to_user",
            RuleAction::AssignToTeam { .. } => "assign_to_team",
            RuleAction::SetFields { .. } => "set_fields",
            RuleAction::LinkMailbox { .. } => "link_mailbox",
            RuleAction::AddFollowers { .. } => "add_followers",
            RuleAction::NotifyUsers { .. } => "notify_users",
            RuleAction::PostInternalNote { .. } => "post_internal_note",
            RuleAction::CreateCase { .. } => "create_case",
            RuleAction::ShareChildRecords {} => "share_child_records",
        }
    }
}

/// The case fields a `set_fields` action may change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to validate the patch
struct SettableFields {
    priority: Option<Priority>,
    status: Option<CaseStatus>,
    #[serde(rename = "type")]
    case_type: Option<Option<String>>,
    category: Option<Option<String>>,
    internal: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WorkflowRule {
    pub id: RuleId,
    pub name: String,
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(rename = "match")]
    pub match_mode: MatchMode,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<RuleAction>,
    /// Rules with the same trigger run in ascending position, then by name.
    pub position: u32,
    #[serde(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRuleFields {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<RuleAction>,
    #[serde(default)]
    pub position: u32,
}

impl Entity for WorkflowRule {
    const KIND: &'static str = "workflow_rule";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    const ADMIN_ONLY_READS: bool = true;
    type Fields = WorkflowRuleFields;

    entity_accessors!();
    fn fields(&self) -> WorkflowRuleFields {
        WorkflowRuleFields {
            name: self.name.clone(),
            enabled: self.enabled,
            trigger: self.trigger,
            match_mode: self.match_mode,
            conditions: self.conditions.clone(),
            actions: self.actions.clone(),
            position: self.position,
        }
    }
    fn build(id: String, f: WorkflowRuleFields, audit: Audit) -> DomainResult<Self> {
        if f.conditions.len() > MAX_CONDITIONS {
            return Err(DomainError::invalid("conditions", format!("holds at most {MAX_CONDITIONS} conditions")));
        }
        if f.actions.is_empty() || f.actions.len() > MAX_ACTIONS {
            return Err(DomainError::invalid("actions", format!("needs 1 to {MAX_ACTIONS} actions")));
        }
        let conditions = f.conditions.into_iter().enumerate().map(|(i, c)| checked_condition(i, c)).collect::<DomainResult<_>>()?;
        let actions = f.actions.into_iter().enumerate().map(|(i, a)| checked_action(i, a)).collect::<DomainResult<_>>()?;
        let rule = WorkflowRule {
            id: RuleId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            enabled: f.enabled,
            trigger: f.trigger,
            match_mode: f.match_mode,
            conditions,
            actions,
            position: f.position,
            audit,
        };
        if rule.references().len() > MAX_REFERENCES {
            return Err(DomainError::invalid("actions", format!("a rule names at most {MAX_REFERENCES} different users, teams and mailboxes")));
        }
        Ok(rule)
    }
    fn references(&self) -> Vec<Reference> {
        fn reference(kind: &'static str, id: &str) -> Reference {
            Reference { field: "actions", kind, id: id.to_owned() }
        }
        let mut references = Vec::new();
        for action in &self.actions {
            match action {
                RuleAction::AssignByRule { team_id: Some(team), .. } | RuleAction::AssignToTeam { team_id: team } => {
                    references.push(reference(Team::KIND, team))
                }
                RuleAction::AssignToUser { user_id } => references.push(reference(User::KIND, user_id)),
                RuleAction::LinkMailbox { mailbox_id } => references.push(reference(Mailbox::KIND, mailbox_id)),
                RuleAction::AddFollowers { user_ids } | RuleAction::NotifyUsers { user_ids, .. } => {
                    references.extend(user_ids.iter().map(|u| reference(User::KIND, u)))
                }
                RuleAction::CreateCase { team_ids, .. } => references.extend(team_ids.iter().map(|t| reference(Team::KIND, t))),
                _ => {}
            }
        }
        // One check per record, however often the rule names it.
        references.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        references.dedup_by(|a, b| a.kind == b.kind && a.id == b.id);
        references
    }
}

fn checked_condition(index: usize, condition: RuleCondition) -> DomainResult<RuleCondition> {
    let field = format!("conditions[{index}].value");
    let invalid = |reason: String| Err(DomainError::invalid(&field, reason));
    let RuleCondition { field: on, op, value } = &condition;
    let check_one = |v: &Value| -> DomainResult<()> {
        let text = v.as_str().ok_or_else(|| DomainError::invalid(&field, "must be a string"))?;
        let known = match on {
            ConditionField::Status => CaseStatus::parse(text).is_some(),
            ConditionField::Priority => serde_json::from_value::<Priority>(v.clone()).is_ok(),
            ConditionField::Source => serde_json::from_value::<Source>(v.clone()).is_ok(),
            ConditionField::SlaClock => serde_json::from_value::<crate::sla::ClockKind>(v.clone()).is_ok(),
            ConditionField::MailboxId | ConditionField::TeamIds | ConditionField::AccountId | ConditionField::AssigneeId => validate::id(&field, text).is_ok(),
            _ => validate::line(&field, text, MAX_NEEDLE).is_ok(),
        };
        if known { Ok(()) } else { Err(DomainError::invalid(&field, format!("{text:?} is not a possible {on:?} value").to_lowercase())) }
    };
    match op {
        Operator::IsSet | Operator::IsEmpty if !value.is_null() => return invalid(format!("{op:?} takes no value").to_lowercase()),
        Operator::IsSet | Operator::IsEmpty => {}
        _ if *on == ConditionField::Internal => {
            if !matches!(op, Operator::Is | Operator::IsNot) || !value.is_boolean() {
                return invalid("internal is compared with is / is_not and true or false".into());
            }
        }
        Operator::Is | Operator::IsNot => check_one(value)?,
        Operator::In | Operator::NotIn => {
            let Some(values) = value.as_array().filter(|v| !v.is_empty() && v.len() <= MAX_VALUES) else {
                return invalid(format!("must be a list of 1 to {MAX_VALUES} values"));
            };
            values.iter().try_for_each(check_one)?;
        }
        Operator::Contains | Operator::NotContains => {
            if !on.is_text() && *on != ConditionField::TeamIds {
                return invalid("contains applies to subject, description, body and team_ids".into());
            }
            check_one(value)?;
        }
    }
    Ok(condition)
}

fn checked_action(index: usize, action: RuleAction) -> DomainResult<RuleAction> {
    let field = |name: &str| format!("actions[{index}].{name}");
    let ids = |name: &str, ids: &[UserId]| -> DomainResult<Vec<UserId>> {
        if ids.is_empty() {
            return Err(DomainError::invalid(&field(name), "must name at least one"));
        }
        validate::list(&field(name), ids, MAX_LISTED_IDS, UserId::parse)
    };
    Ok(match action {
        RuleAction::AssignByRule { team_id, rule } => RuleAction::AssignByRule { team_id: checked(&field("team_id"), team_id)?, rule },
        RuleAction::AssignToUser { user_id } => RuleAction::AssignToUser { user_id: UserId::parse(&field("user_id"), &user_id)? },
        RuleAction::AssignToTeam { team_id } => RuleAction::AssignToTeam { team_id: TeamId::parse(&field("team_id"), &team_id)? },
        RuleAction::SetFields { fields } => {
            if fields.is_empty() {
                return Err(DomainError::invalid(&field("fields"), "names no field to set"));
            }
            serde_json::from_value::<SettableFields>(Value::Object(fields.clone()))
                .map_err(|e| DomainError::invalid(&field("fields"), format!("{e} (a rule may set priority, status, type, category and internal)")))?;
            RuleAction::SetFields { fields }
        }
        RuleAction::LinkMailbox { mailbox_id } => RuleAction::LinkMailbox { mailbox_id: MailboxId::parse(&field("mailbox_id"), &mailbox_id)? },
        RuleAction::AddFollowers { user_ids } => RuleAction::AddFollowers { user_ids: ids("user_ids", &user_ids)? },
        RuleAction::NotifyUsers { user_ids, message } => {
            RuleAction::NotifyUsers { user_ids: ids("user_ids", &user_ids)?, message: validate::long_text(&field("message"), &message, MAX_NOTE)? }
        }
        RuleAction::PostInternalNote { body } => {
            if body.trim().is_empty() {
                return Err(DomainError::invalid(&field("body"), "must not be empty"));
            }
            RuleAction::PostInternalNote { body: validate::long_text(&field("body"), &body, MAX_NOTE)? }
        }
        RuleAction::CreateCase { subject, description, priority, team_ids, as_child } => RuleAction::CreateCase {
            subject: validate::line(&field("subject"), &subject, MAX_SUBJECT)?,
            description: validate::long_text(&field("description"), &description, MAX_NOTE)?,
            priority,
            team_ids: validate::list(&field("team_ids"), &team_ids, crate::cases::MAX_TEAMS, TeamId::parse)?,
            as_child,
        },
        RuleAction::ShareChildRecords {} => RuleAction::ShareChildRecords {},
    })
}

impl WorkflowRule {
    /// Whether the rule's conditions hold for the case (and the entry that triggered it).
    pub fn matches(&self, case: &Case, entry: Option<&StreamEntry>) -> bool {
        self.matches_event(&Facts { case, entry, sla_clock: None })
    }

    /// Whether the rule's conditions hold for what an event brings.
    pub fn matches_event(&self, facts: &Facts<'_>) -> bool {
        let mut results = self.conditions.iter().map(|c| holds(c, facts));
        match self.match_mode {
            MatchMode::All => results.all(|r| r),
            MatchMode::Any => self.conditions.is_empty() || results.any(|r| r),
        }
    }
}

/// The values a field has on a case (none when unset; several for `team_ids`).
/// What a rule's conditions look at: the case as it is now, the entry or mail of the event, and
/// the clock of an SLA event.
pub struct Facts<'a> {
    pub case: &'a Case,
    pub entry: Option<&'a StreamEntry>,
    pub sla_clock: Option<crate::sla::ClockKind>,
}

fn values_of(field: ConditionField, facts: &Facts<'_>) -> Vec<String> {
    let Facts { case, entry, sla_clock } = *facts;
    let name = |v: Value| v.as_str().map(str::to_owned).into_iter().collect::<Vec<_>>();
    let text = |s: &str| if s.is_empty() { Vec::new() } else { vec![s.to_owned()] };
    match field {
        ConditionField::Status => vec![case.status.as_str().to_owned()],
        ConditionField::Priority => name(serde_json::to_value(case.priority).unwrap_or_default()),
        ConditionField::Source => name(serde_json::to_value(case.source).unwrap_or_default()),
        ConditionField::MailboxId => case.mailbox_id.iter().map(ToString::to_string).collect(),
        ConditionField::TeamIds => case.team_ids.iter().map(ToString::to_string).collect(),
        ConditionField::AccountId => case.account_id.iter().map(ToString::to_string).collect(),
        ConditionField::AssigneeId => case.assignee_id.iter().map(ToString::to_string).collect(),
        ConditionField::Type => case.case_type.iter().cloned().collect(),
        ConditionField::Category => case.category.iter().cloned().collect(),
        ConditionField::Internal => vec![case.internal.to_string()],
        ConditionField::Subject => text(&case.subject),
        ConditionField::Description => text(&case.description),
        ConditionField::Body => text(entry.map_or(case.description.as_str(), |e| e.body.as_str())),
        ConditionField::SlaClock => sla_clock.iter().map(|c| c.as_str().to_owned()).collect(),
    }
}

fn holds(condition: &RuleCondition, facts: &Facts<'_>) -> bool {
    let values = values_of(condition.field, facts);
    let wanted: Vec<String> = match &condition.value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    let equal = |a: &String, b: &String| a.eq_ignore_ascii_case(b);
    let any_equal = || values.iter().any(|v| wanted.iter().any(|w| equal(v, w)));
    let contains = || {
        wanted.iter().any(|needle| {
            if condition.field == ConditionField::TeamIds {
                values.contains(needle)
            } else {
                let needle = needle.to_lowercase();
                values.iter().any(|v| v.to_lowercase().contains(&needle))
            }
        })
    };
    match condition.op {
        Operator::Is | Operator::In => any_equal(),
        Operator::IsNot | Operator::NotIn => !any_equal(),
        Operator::Contains => contains(),
        Operator::NotContains => !contains(),
        Operator::IsSet => !values.is_empty(),
        Operator::IsEmpty => values.is_empty(),
    }
}

impl crate::Docket {
    /// Removes a workflow rule (admins only).
    pub async fn delete_workflow_rule(&self, principal: &Principal, id: &str) -> DomainResult<()> {
        principal.require_admin()?;
        let directory = self.directory();
        let rule: WorkflowRule = directory.require(id).await?;
        directory.remove(&rule).await
    }

    /// The enabled rules of a trigger, in the order they run.
    pub async fn rules_for(&self, trigger: Trigger) -> DomainResult<Vec<WorkflowRule>> {
        let directory = Directory::new(self.store());
        let mut rules = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = directory.list::<WorkflowRule>(200, after).await?;
            rules.extend(page.into_iter().filter(|r| r.enabled && r.trigger == trigger));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        rules.sort_by(|a, b| (a.position, &a.name, &a.id).cmp(&(b.position, &b.name, &b.id)));
        Ok(rules)
    }
}

impl crate::directory::IdFor<WorkflowRule> for RuleId {
    fn id_str(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn case() -> Case {
        let audit = Audit::created("u1", OffsetDateTime::UNIX_EPOCH);
        Case {
            id: CaseId::from_trusted("c1".into()),
            number: 7,
            subject: "Printer ON FIRE".into(),
            description: "Smoke from tray 2".into(),
            status: CaseStatus::New,
            priority: Priority::Urgent,
            case_type: None,
            category: Some("hardware".into()),
            source: Source::WebForm,
            account_id: None,
            contact_ids: vec![],
            lead_id: None,
            assignee_id: None,
            collaborator_ids: vec![],
            team_ids: vec![TeamId::from_trusted("t1".into()), TeamId::from_trusted("t2".into())],
            mailbox_id: Some(MailboxId::from_trusted("m1".into())),
            internal: false,
            parent_id: None,
            pending_sender: None,
            sla_timeline: None,
            audit,
        }
    }

    fn rule(match_mode: &str, conditions: serde_json::Value) -> DomainResult<WorkflowRule> {
        let fields: WorkflowRuleFields = serde_json::from_value(json!({
            "name": "r", "trigger": "case_created", "match": match_mode, "conditions": conditions,
            "actions": [{"action": "post_internal_note", "body": "hi"}],
        }))
        .map_err(|e| DomainError::invalid("body", e.to_string()))?;
        WorkflowRule::build("r1".into(), fields, Audit::created("admin", OffsetDateTime::UNIX_EPOCH))
    }

    #[test]
    fn conditions_compare_case_fields_as_the_api_spells_them() {
        // GIVEN an urgent web-form case of mailbox m1 in teams t1 and t2
        let case = case();
        let holds = |conditions| rule("all", conditions).expect("valid rule").matches(&case, None);
        // THEN each operator reads the field as the API shows it
        assert!(holds(json!([{"field": "priority", "op": "is", "value": "Urgent"}])));
        assert!(holds(json!([{"field": "source", "op": "in", "value": ["email", "web_form"]}])));
        assert!(holds(json!([{"field": "status", "op": "is", "value": "new"}])), "statuses compare case-insensitively");
        assert!(holds(json!([{"field": "subject", "op": "contains", "value": "on fire"}])));
        assert!(holds(json!([{"field": "team_ids", "op": "contains", "value": "t2"}])));
        assert!(holds(json!([{"field": "assignee_id", "op": "is_empty"}])));
        assert!(holds(json!([{"field": "internal", "op": "is", "value": false}])));
        assert!(!holds(json!([{"field": "mailbox_id", "op": "is_not", "value": "m1"}])));
        assert!(!holds(json!([{"field": "category", "op": "not_in", "value": ["hardware"]}])));
        assert!(!holds(json!([{"field": "body", "op": "contains", "value": "tray 3"}])), "body is the description on case events");
    }

    #[test]
    fn all_needs_every_condition_and_any_needs_one() {
        let case = case();
        let conditions = json!([
            {"field": "priority", "op": "is", "value": "Low"},
            {"field": "category", "op": "is", "value": "hardware"},
        ]);
        assert!(!rule("all", conditions.clone()).unwrap().matches(&case, None));
        assert!(rule("any", conditions).unwrap().matches(&case, None));
        assert!(rule("any", json!([])).unwrap().matches(&case, None), "no condition always holds");
    }

    #[test]
    fn a_rule_naming_more_records_than_one_transaction_checks_is_refused() {
        // GIVEN three actions naming twenty different users each (sixty records)
        let users = |from: usize| (from..from + 20).map(|i| format!("u{i}")).collect::<Vec<_>>();
        let fields: WorkflowRuleFields = serde_json::from_value(json!({
            "name": "big", "trigger": "case_created",
            "actions": [
                {"action": "add_followers", "user_ids": users(0)},
                {"action": "notify_users", "user_ids": users(20)},
                {"action": "add_followers", "user_ids": users(40)},
            ],
        }))
        .expect("well-formed");
        // WHEN it is built THEN it is refused on `actions`, not failed in the store later
        match WorkflowRule::build("r".into(), fields, Audit::created("a", OffsetDateTime::UNIX_EPOCH)) {
            Err(DomainError::Validation { field, .. }) => assert_eq!(field, "actions"),
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn impossible_conditions_are_refused_by_field() {
        let refused = |conditions| match rule("all", conditions) {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(refused(json!([{"field": "priority", "op": "is", "value": "Apocalyptic"}])), "conditions[0].value");
        assert_eq!(refused(json!([{"field": "status", "op": "in", "value": "New"}])), "conditions[0].value");
        assert_eq!(refused(json!([{"field": "priority", "op": "contains", "value": "Urg"}])), "conditions[0].value");
        assert_eq!(refused(json!([{"field": "subject", "op": "is_set", "value": "x"}])), "conditions[0].value");
        assert_eq!(refused(json!([{"field": "internal", "op": "is", "value": "yes"}])), "conditions[0].value");
    }
}
