//! The assign worker's work (SPEC F40, F41): for each case event from the assign queue, run the
//! enabled workflow rules of its trigger whose conditions hold, in order; then, for a new
//! unassigned case whose mailbox or team has an assignment rule, assign it.
//!
//! Rules act through the same domain operations people use, so every change is validated,
//! versioned, written with its system entries and announced in turn — with the event's depth
//! plus one. At [`MAX_RULE_DEPTH`] rules stop (and say so on the case), so rules that trigger
//! each other cannot loop. Every rule run is logged on the case stream as an internal system
//! entry listing what each action did.
//!
//! Queues deliver at least once. Each action of a run is claimed (`RULERUN#<event>`) before it is
//! done, so a redelivered event repeats none; an action cut short by a crash is not redone (at
//! most once), and a transient failure frees its claim so the redelivery does it.

use crate::ids::*;
use serde_json::Value;
use time::Duration;

use docket_store::{Condition, Item, Key, Query, SortKeyRange, WriteOp};

use crate::Docket;
use crate::access::Principal;
use crate::assignment::Assignment;
use crate::cases::{CaseFields, Cases, MAX_COLLABORATORS, MAX_TEAMS};
use crate::clock::new_id;
use crate::error::{DomainError, DomainResult, WorkError};
use crate::events::{CaseEvent, MAX_RULE_DEPTH, Trigger};
use crate::follows::{Follow, FollowerKind};
use crate::model::{AssignmentRule, Case, CaseStatus, Source, Team, User};
use crate::rules::{Facts, RuleAction, WorkflowRule};
use crate::schema::{CASES, case_keys, keyed_item};
use crate::stream::{Author, EntryKind, StreamEntry, SystemEvent, Visibility, entry_put};

/// How long the claims of a run are kept: well beyond the queue's retention.
const CLAIM_RETENTION: Duration = Duration::days(15);

/// What working one event did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Worked {
    /// Ids of the rules that ran.
    pub rules_run: Vec<RuleId>,
    /// The assignee an assignment rule chose.
    pub assigned_to: Option<UserId>,
    /// Rules matched but the event came from rules too many times in a row.
    pub stopped_at_depth: bool,
}

pub struct Automation<'a> {
    pub docket: &'a Docket,
}

impl Automation<'_> {
    /// Works one assign-queue message body.
    pub async fn handle(&self, body: &str) -> Result<Worked, WorkError> {
        let event: CaseEvent = serde_json::from_str(body).map_err(|e| WorkError::Poison(format!("not a case event: {e}")))?;
        let cases = self.docket.cases();
        let Some(case) = cases.by_id(&event.case_id).await? else {
            return Err(WorkError::Poison(format!("case {} does not exist", event.case_id)));
        };
        let entry = match &event.entry_id {
            Some(id) => cases.entry(&case.id, id).await?,
            None => None,
        };
        // Every change of a case may move its SLA clocks: file it again before rules run (an
        // alert is itself no change of the clocks).
        if !matches!(event.trigger, Trigger::SlaWarning | Trigger::SlaBreached) {
            self.docket.cases_at_depth(event.depth).watch_sla(&case.id).await?;
        }
        let mut worked = Worked::default();
        // An SLA event names its clock in `changed`.
        let sla_clock = match event.trigger {
            Trigger::SlaWarning | Trigger::SlaBreached => event.changed.first().and_then(|c| serde_json::from_value(Value::String(c.clone())).ok()),
            _ => None,
        };
        let rules = self.docket.rules_for(event.trigger).await?;
        if event.depth >= MAX_RULE_DEPTH {
            let matching: Vec<RuleId> =
                rules.iter().filter(|r| r.matches_event(&Facts { case: &case, entry: entry.as_ref(), sla_clock })).map(|r| r.id.clone()).collect();
            if !matching.is_empty() {
                tracing::warn!(case = case.number, depth = event.depth, rules = ?matching, "workflow rules stopped at the depth limit");
                let stopped = StreamEntry::system(
                    &case.id,
                    SystemEvent::RulesStopped { depth: event.depth, rule_ids: matching },
                    Author::system(),
                    self.docket.clock().now(),
                );
                self.log_once(&event, "LIMIT", stopped).await?;
                worked.stopped_at_depth = true;
            }
        } else {
            for rule in &rules {
                // Earlier rules may have changed the case: each sees it as it is now.
                let Some(case) = cases.by_id(&event.case_id).await? else { break };
                if rule.matches_event(&Facts { case: &case, entry: entry.as_ref(), sla_clock }) {
                    self.run(rule, &case, &event).await?;
                    worked.rules_run.push(rule.id.clone());
                }
            }
        }
        if may_start_assignment(&event)
            && let Some(case) = cases.by_id(&event.case_id).await?
            && case.assignee_id.is_none()
            && case.status == CaseStatus::New
            && let Some((team, rule)) = cases.assignment_rule_for(&case).await?
        {
            let cases = self.docket.cases_at_depth(event.depth);
            if let Assignment::Assigned(assigned) = cases.assign_by_rule(&case.id, &team, rule, &Author::system()).await? {
                worked.assigned_to = assigned.assignee_id;
            }
        }
        Ok(worked)
    }

    /// Does a rule's actions in order and logs the run on the case.
    async fn run(&self, rule: &WorkflowRule, case: &Case, event: &CaseEvent) -> Result<(), WorkError> {
        let cases = self.docket.cases_at_depth(event.depth + 1);
        let author = Author::workflow(&rule.id);
        let mut steps = Vec::new();
        for (index, action) in rule.actions.iter().enumerate() {
            let claim = case_keys::rule_step(&event.event_id, &rule.id, &index.to_string());
            if !self.claim(&claim).await? {
                steps.push(format!("{}: done by an earlier delivery", action.name()));
                continue;
            }
            // Names this step for actions that must not be repeated by a retry (create_case).
            let step = format!("{}#{index}", event.event_id);
            match self.act(&cases, &author, rule, action, &case.id, &step).await {
                Ok(outcome) => steps.push(format!("{}: {outcome}", action.name())),
                Err(e @ (DomainError::Transient(_) | DomainError::Internal(_))) => {
                    // Free the claim: the redelivered event does this action again.
                    let _ = self.docket.store().write(WriteOp::delete(CASES, claim)).await;
                    return Err(WorkError::Retry(format!("rule {}: {}: {e}", rule.id, action.name())));
                }
                Err(e) => steps.push(format!("{}: not done: {e}", action.name())),
            }
        }
        tracing::info!(case_id = %case.id, rule = %rule.id, depth = event.depth, ?steps, "workflow rule ran");
        let ran = SystemEvent::RuleRan {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            trigger: event.trigger.as_str().to_owned(),
            depth: event.depth,
            steps,
        };
        let entry = StreamEntry::system(&case.id, ran, author, self.docket.clock().now());
        self.log_once(event, &rule.id, entry).await
    }

    /// Claims a step; false when an earlier delivery of the event claimed it.
    async fn claim(&self, key: &Key) -> Result<bool, WorkError> {
        match self.docket.store().write(WriteOp::put_if(CASES, self.claim_item(key.clone())?, Condition::NotExists)).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_condition_failure() => Ok(false),
            Err(e) => Err(WorkError::Retry(e.to_string())),
        }
    }

    fn claim_item(&self, key: Key) -> DomainResult<Item> {
        keyed_item(key, crate::schema::Expiring { expires_at: (self.docket.clock().now() + CLAIM_RETENTION).unix_timestamp() })
    }

    /// Writes a log entry of the event once, however often the event is delivered.
    async fn log_once(&self, event: &CaseEvent, step_owner: &str, entry: StreamEntry) -> Result<(), WorkError> {
        let claim = self.claim_item(case_keys::rule_step(&event.event_id, step_owner, "RUN"))?;
        let ops = vec![WriteOp::put_if(CASES, claim, Condition::NotExists), entry_put(&entry)?];
        match self.docket.store().transact(ops).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_condition_failure() => Ok(()),
            Err(e) => Err(WorkError::Retry(e.to_string())),
        }
    }

    /// Does one action; answers what it did, in words for the run's log.
    async fn act(&self, cases: &Cases<'_>, author: &Author, rule: &WorkflowRule, action: &RuleAction, case_id: &str, step: &str) -> DomainResult<String> {
        let case = cases.by_id(case_id).await?.ok_or_else(|| DomainError::not_found(format!("case {case_id}")))?;
        let directory = self.docket.directory();
        Ok(match action {
            RuleAction::AssignByRule { team_id, rule: assignment } => {
                let (team, chosen) = self.assignment_of(cases, &case, team_id.as_ref(), *assignment).await?;
                match cases.assign_by_rule(&case.id, &team, chosen, author).await? {
                    Assignment::Assigned(new) => format!("assigned to {} by {}", new.assignee_id.unwrap_or_default(), rule_name(chosen)),
                    Assignment::AlreadyAssigned => "kept the assignee the case has".into(),
                    Assignment::NotOpen => "not assigned: the case is not open".into(),
                    Assignment::NoActiveMember => format!("not assigned: team {team} has no active member"),
                }
            }
            RuleAction::AssignToUser { user_id } => {
                let new = cases
                    .change_by(&case, author, |c, fields| {
                        fields.assignee_id = Some(user_id.clone());
                        Ok(c.assignee_id.is_none())
                    })
                    .await?;
                if new.audit.version > case.audit.version && new.assignee_id.as_ref() == Some(user_id) {
                    format!("assigned to {user_id}")
                } else {
                    "kept the assignee the case has".into()
                }
            }
            RuleAction::AssignToTeam { team_id } => {
                if case.team_ids.contains(team_id) {
                    format!("the case is already in team {team_id}")
                } else {
                    let new = cases
                        .change_by(&case, author, |c, fields| {
                            fields.team_ids = with(&c.team_ids, std::slice::from_ref(team_id), MAX_TEAMS);
                            Ok(!c.team_ids.contains(team_id))
                        })
                        .await?;
                    if new.team_ids.contains(team_id) {
                        format!("team {team_id} added")
                    } else {
                        format!("team {team_id} not added: the case has {MAX_TEAMS} teams")
                    }
                }
            }
            RuleAction::SetFields { fields } => {
                // The rule's configured fields are a merge patch, validated like a person's.
                cases
                    .change_by(&case, author, |_, current| {
                        *current = crate::fields::MergePatch::new(fields.clone()).apply(current)?;
                        Ok(true)
                    })
                    .await?;
                format!("set {}", fields.keys().cloned().collect::<Vec<_>>().join(", "))
            }
            RuleAction::LinkMailbox { mailbox_id } => {
                if case.mailbox_id.as_ref() == Some(mailbox_id) {
                    format!("the case already has mailbox {mailbox_id}")
                } else {
                    cases
                        .change_by(&case, author, |c, fields| {
                            fields.mailbox_id = Some(mailbox_id.clone());
                            Ok(c.mailbox_id.as_ref() != Some(mailbox_id))
                        })
                        .await?;
                    format!("mailbox {mailbox_id} linked")
                }
            }
            RuleAction::AddFollowers { user_ids } => {
                // As through the API: only active users who may see the case can follow it.
                let mut follows = Vec::new();
                let mut skipped = Vec::new();
                for id in user_ids {
                    match directory.get::<User>(id).await? {
                        Some(user) if user.active && Principal::Staff(user.clone()).can_see(&case) => {
                            follows.push(Follow { case_id: case.id.clone(), follower_id: id.to_string(), kind: FollowerKind::User })
                        }
                        _ => skipped.push(id.clone()),
                    }
                }
                cases.add_follows(&follows).await?;
                if skipped.is_empty() {
                    format!("{} followers added", follows.len())
                } else {
                    format!("{} followers added; not {} (inactive, missing or unable to see the case)", follows.len(), skipped.join(", "))
                }
            }
            RuleAction::NotifyUsers { user_ids, message } => {
                let notice =
                    SystemEvent::RuleNotice { rule_id: rule.id.clone(), rule_name: rule.name.clone(), user_ids: user_ids.clone(), message: message.clone() };
                let entry = StreamEntry::system(&case.id, notice, author.clone(), self.docket.clock().now());
                let mut effects = crate::outbox::Effects::default();
                cases.notify_to_effect(&mut effects, &entry, user_ids);
                let mut txn = crate::txn::Txn::new();
                txn.plain(entry_put(&entry)?);
                cases.transact_with(txn, &effects).await?;
                cases.deliver(effects).await;
                format!("notice queued for {} users", user_ids.len())
            }
            RuleAction::PostInternalNote { body } => {
                let entry = StreamEntry {
                    id: new_id(),
                    case_id: case.id.clone(),
                    kind: EntryKind::Post,
                    visibility: Visibility::Internal,
                    author: author.clone(),
                    body: body.clone(),
                    system: None,
                    attachments: Vec::new(),
                    email_customer: false,
                    email: None,
                    created_at: self.docket.clock().now(),
                };
                cases.append_entry(&entry, crate::txn::Txn::new()).await?;
                "internal note posted".into()
            }
            RuleAction::CreateCase { subject, description, priority, team_ids, as_child } => {
                let fields = CaseFields {
                    subject: subject.clone(),
                    description: description.clone(),
                    status: None,
                    priority: priority.unwrap_or(case.priority),
                    case_type: None,
                    category: None,
                    source: Some(Source::Workflow),
                    account_id: case.account_id.clone(),
                    contact_ids: case.contact_ids.clone(),
                    lead_id: None,
                    assignee_id: None,
                    collaborator_ids: Vec::new(),
                    team_ids: team_ids.clone(),
                    internal: case.internal,
                    parent_id: as_child.then(|| case.id.clone()),
                    mailbox_id: case.mailbox_id.clone(),
                };
                // Keyed by the step, so a redelivery that repeats this action finds the case it opened.
                let created = cases.open(author, fields, Some(step)).await?.case;
                format!("opened case {} ({})", created.number, created.id)
            }
            RuleAction::ShareChildRecords {} => {
                let children = self.children(&case.id).await?;
                let assignee: Vec<UserId> = case.assignee_id.iter().cloned().collect();
                for child in &children {
                    let shared = cases
                        .change_by(child, author, |c, fields| {
                            fields.team_ids = with(&c.team_ids, &case.team_ids, MAX_TEAMS);
                            fields.collaborator_ids = with(&c.collaborator_ids, &assignee, MAX_COLLABORATORS);
                            Ok(true)
                        })
                        .await?;
                    if let Some(user) = case.assignee_id.as_ref().filter(|u| shared.assignee_id.as_ref() != Some(*u)) {
                        cases.add_follows(&[Follow { case_id: shared.id.clone(), follower_id: user.to_string(), kind: FollowerKind::User }]).await?;
                    }
                }
                format!("{} child cases shared with the case's assignee and teams", children.len())
            }
        })
    }

    /// The team and rule an `assign_by_rule` action uses.
    async fn assignment_of(
        &self,
        cases: &Cases<'_>,
        case: &Case,
        team_id: Option<&TeamId>,
        rule: Option<AssignmentRule>,
    ) -> DomainResult<(TeamId, AssignmentRule)> {
        let missing = || DomainError::invalid("actions", "no team with an assignment rule applies to the case");
        match (team_id, rule) {
            (Some(team), Some(rule)) => Ok((team.clone(), rule)),
            (Some(team), None) => {
                let rule = self.docket.directory().require::<Team>(team).await?.assignment_rule.ok_or_else(missing)?;
                Ok((team.clone(), rule))
            }
            (None, wanted) => match cases.assignment_rule_for(case).await? {
                Some((team, rule)) => Ok((team, wanted.unwrap_or(rule))),
                None => match (case.team_ids.first(), wanted) {
                    (Some(team), Some(rule)) => Ok((team.clone(), rule)),
                    _ => Err(missing()),
                },
            },
        }
    }

    /// The cases whose parent is this case.
    async fn children(&self, case_id: &str) -> DomainResult<Vec<Case>> {
        let cases = self.docket.cases();
        let mut children = Vec::new();
        let mut after = None;
        loop {
            let query = Query::table(CASES, case_keys::case(case_id).pk).range(SortKeyRange::BeginsWith("CHILD#".into())).limit(100).after(after);
            let page = self.docket.store().query(query).await?;
            for item in page.items {
                if let Some(id) = item.get("case_id").and_then(Value::as_str)
                    && let Some(child) = cases.by_id(id).await?
                    && child.parent_id.as_deref() == Some(case_id)
                {
                    children.push(child);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(children),
            }
        }
    }
}

/// New cases are assigned when created, and when a change gives them a mailbox or team.
fn may_start_assignment(event: &CaseEvent) -> bool {
    match event.trigger {
        Trigger::CaseCreated => true,
        Trigger::CaseUpdated => event.changed.iter().any(|f| f == "team_ids" || f == "mailbox_id"),
        Trigger::EntryAdded | Trigger::EmailReceived | Trigger::SlaWarning | Trigger::SlaBreached => false,
    }
}

fn rule_name(rule: AssignmentRule) -> &'static str {
    match rule {
        AssignmentRule::RoundRobin => "round-robin",
        AssignmentRule::LeastBusy => "least-busy",
    }
}

/// `list` with `extra` ids added (no duplicates), at most `max` of them.
fn with<T: Clone + PartialEq>(list: &[T], extra: &[T], max: usize) -> Vec<T> {
    let mut all = list.to_vec();
    for id in extra {
        if !all.contains(id) && all.len() < max {
            all.push(id.clone());
        }
    }
    all
}
