//! Assignment rules (SPEC F40): unassigned new cases of a mailbox or team with a rule go to one
//! of the team's active members, by Round-Robin or Least-Busy.
//!
//! Members are taken in a stable order (by user id). **Round-Robin** keeps a pointer per team in
//! the counters table; the pointer moves in the same transaction as the assignment, conditional
//! on the value that was read, so concurrent workers never hand out the same turn and a failed
//! attempt hands out none. **Least-Busy** reads each member's open-case count — kept by every
//! transaction that changes a case's assignee or status, never by scanning — and picks the
//! lowest (ties to the first in order); the count it read is a condition of the assignment, so
//! two workers cannot both give "the least busy" member a case on the same reading.
//!
//! Every assignment is conditional on the case's version and the case still being unassigned:
//! an assignee set by hand meanwhile is kept.

use crate::ids::*;
use serde_json::Value;

use docket_store::{Condition, WriteOp};

use crate::cases::{Cases, change_ops, changed_fields, next_audit, next_status};
use crate::directory::Directory;
use crate::error::{DomainError, DomainResult};
use crate::events::Trigger;
use crate::follows::{Follow, FollowerKind, follow_ops};
use crate::model::{AssignmentRule, Case, Mailbox, Phase, Team, User};
use crate::schema::{self, COUNTERS};
use crate::stream::Author;
use crate::txn::Txn;

/// Attempts of one assignment before it gives up (each lost race re-reads and retries).
const MAX_ATTEMPTS: usize = 50;

/// What became of an assignment attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    Assigned(Box<Case>),
    /// The case has an assignee already (perhaps set by hand meanwhile): it is kept.
    AlreadyAssigned,
    /// The case is waiting or final: nobody is given it.
    NotOpen,
    /// The team has no active member.
    NoActiveMember,
}

impl Cases<'_> {
    /// The team and rule that assign a case: its mailbox's rule (with the mailbox's team, else
    /// the case's first team), else the rule of the first of its teams that has one.
    pub async fn assignment_rule_for(&self, case: &Case) -> DomainResult<Option<(TeamId, AssignmentRule)>> {
        let directory = Directory::new(self.store);
        if let Some(mailbox_id) = &case.mailbox_id
            && let Some(mailbox) = directory.get::<Mailbox>(mailbox_id).await?
            && let Some(rule) = mailbox.assignment_rule
            && let Some(team) = mailbox.team_id.or_else(|| case.team_ids.first().cloned())
        {
            return Ok(Some((team, rule)));
        }
        for team_id in &case.team_ids {
            if let Some(team) = directory.get::<Team>(team_id).await?
                && let Some(rule) = team.assignment_rule
            {
                return Ok(Some((team.id, rule)));
            }
        }
        Ok(None)
    }

    /// The team's active members in the stable order of assignment (by user id).
    pub async fn active_members(&self, team_id: &str) -> DomainResult<Vec<User>> {
        let directory = Directory::new(self.store);
        let mut members = Vec::new();
        for id in directory.team_member_ids(team_id).await? {
            if let Some(user) = directory.get::<User>(&id).await?
                && user.active
            {
                members.push(user);
            }
        }
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    /// How many open cases a user is the assignee of.
    pub async fn open_case_count(&self, user_id: &str) -> DomainResult<i64> {
        Ok(self.store.get(COUNTERS, &schema::open_cases_counter(user_id)).await?.and_then(|item| item.get("value").and_then(Value::as_i64)).unwrap_or(0))
    }

    /// Gives an unassigned open case to a member of `team_id` chosen by `rule`.
    pub async fn assign_by_rule(&self, case_id: &str, team_id: &str, rule: AssignmentRule, author: &Author) -> DomainResult<Assignment> {
        for _ in 0..MAX_ATTEMPTS {
            let case = self.by_id(case_id).await?.ok_or_else(|| DomainError::not_found(format!("case {case_id}")))?;
            if case.assignee_id.is_some() {
                return Ok(Assignment::AlreadyAssigned);
            }
            if case.status.phase() != Phase::Open {
                return Ok(Assignment::NotOpen);
            }
            let members = self.active_members(team_id).await?;
            if members.is_empty() {
                tracing::warn!(case = case.number, team_id, "no active member to assign the case to");
                return Ok(Assignment::NoActiveMember);
            }
            // What makes the choice stale when another assignment moved first.
            let (chosen, guard) = match rule {
                AssignmentRule::RoundRobin => {
                    let pointer = schema::round_robin_pointer(team_id);
                    let turn = self.store.get(COUNTERS, &pointer).await?.and_then(|i| i.get("value").and_then(Value::as_i64));
                    let taken = turn.unwrap_or(0);
                    let index = usize::try_from(taken.rem_euclid(members.len() as i64)).unwrap_or(0);
                    let item = schema::keyed_item(pointer, schema::Counter { value: taken + 1 })?;
                    let condition = match turn {
                        Some(value) => Condition::equals("value", value),
                        None => Condition::NotExists,
                    };
                    (members[index].clone(), Guard::Pointer(WriteOp::put_if(COUNTERS, item, condition)))
                }
                AssignmentRule::LeastBusy => {
                    let mut best: Option<(i64, &User)> = None;
                    for member in &members {
                        let count = self.open_case_count(&member.id).await?;
                        if best.is_none_or(|(lowest, _)| count < lowest) {
                            best = Some((count, member));
                        }
                    }
                    let Some((count, user)) = best else { return Ok(Assignment::NoActiveMember) };
                    (user.clone(), Guard::CountStill(count))
                }
            };
            let mut new = Case { assignee_id: Some(chosen.id.clone()), audit: next_audit(&case, author, self.clock.now()), ..case.clone() };
            new.status = next_status(&case, &new, case.status)?;
            // Written past `with_fields`, so the clock facts are brought along here.
            new.sla_timeline = self.next_timeline(&case, &new).await?;
            let (mut txn, entries) = change_ops(&case, &new, author)?;
            guard.apply(&chosen.id, &mut txn);
            // The assignee follows in the same transaction: a failure after the commit cannot
            // leave them assigned but not following (and so not notified of the case).
            let follow = Follow { case_id: case.id.clone(), follower_id: chosen.id.to_string(), kind: FollowerKind::User };
            txn.plain_all(follow_ops(&follow));
            let mut effects = crate::outbox::Effects::default();
            self.notify_effect(&mut effects, &entries);
            self.announce_effect(&mut effects, Trigger::CaseUpdated, &new.id, None, changed_fields(&case, &new));
            match self.transact_with(txn, &effects).await {
                Ok(()) => {}
                Err(e) if e.is_condition_failure() => {
                    // Lost a race (the case, the pointer or the count moved), unless this was a
                    // retried attempt whose first try had committed.
                    if self.by_id(case_id).await?.is_some_and(|stored| stored == new) {
                        self.deliver(effects).await;
                        return Ok(Assignment::Assigned(Box::new(new)));
                    }
                    if e.is_reference() {
                        return Err(e.into());
                    }
                    continue;
                }
                Err(e) => return Err(e.error.into()),
            }
            self.deliver(effects).await;
            tracing::info!(case = new.number, assignee = %chosen.id, team_id, ?rule, "case assigned by rule");
            return Ok(Assignment::Assigned(Box::new(new)));
        }
        Err(DomainError::Transient(format!("case {case_id}: too many concurrent assignments, try again")))
    }
}

/// The condition that keeps an assignment from acting on a stale choice.
enum Guard {
    /// Round-Robin: the team's pointer still holds the turn that was read (and moves on).
    Pointer(WriteOp),
    /// Least-Busy: the chosen member's open-case count is still the one that was read.
    CountStill(i64),
}

impl Guard {
    fn apply(self, chosen: &str, txn: &mut Txn) {
        match self {
            Guard::Pointer(op) => txn.plain(op),
            Guard::CountStill(count) => {
                let read = if count == 0 {
                    Condition::Or(vec![Condition::AttributeNotExists("value".into()), Condition::equals("value", 0)])
                } else {
                    Condition::equals("value", count)
                };
                // The assignment's own +1 on that count carries the condition (one operation per
                // item in a transaction).
                let counter = schema::open_cases_counter(chosen);
                for op in txn.ops_mut() {
                    if let WriteOp::Update { key, condition, .. } = op
                        && *key == counter
                    {
                        *condition = Some(read.clone());
                    }
                }
            }
        }
    }
}
