//! SLA clocks on cases (SPEC F51): which agreement governs a case, the timeline facts its
//! clocks need, recorded by the changes that already write the case, and the clocks as staff
//! see them, computed at read time with [`sla::clocks`].
//!
//! # Where the facts live
//!
//! Status and priority changes, and the agreement, are on the case (`Case::sla_timeline`),
//! written by the transaction that changes the case. Public replies are not case changes: a post
//! or a mail appends a stream entry and leaves the case (and its version, which clients send
//! back as If-Match) alone. Writing the case on every reply would make an agent's open edit
//! stale whenever anyone answered, and a put of the case cannot preserve an attribute it did
//! not read. So the replies the clocks need are in an item of their own next to the case
//! ([`case_keys::sla_replies`]), written in the reply's own transaction, conditional on the
//! count read (two replies at once: one retries). Only turns are kept (a staff reply after a
//! customer reply or the other way round), so most replies read the item and write nothing.
//! The view merges both lists by time.
//!
//! Why compute at read time rather than store due times: a due time depends on the calendar
//! (holidays are edited), on the agreement (targets are edited) and, for paused clocks, on the
//! instant asked about. Stored due times would go stale with each of those; the facts do not.

use std::collections::HashMap;

use docket_store::{Condition, WriteOp};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::access::Principal;
use crate::agreements::{self, CaseParties, ServiceAgreement};
use crate::calendar::{Calendar, Schedule};
use crate::cases::Cases;
use crate::directory::{Directory, from_item};
use crate::error::DomainResult;
use crate::ids::{AgreementId, CalendarId};
use crate::model::Case;
use crate::schema::{CASES, case_keys, keyed_item};
use crate::sla::{self, CaseTimeline, Change, ClockView, Event, SlaView};

/// Agreements read per page when choosing; agreements are admin-made and few, so one page is
/// the usual cost (one query of the directory's `service_agreement` kind).
const AGREEMENT_PAGE: usize = 200;

/// The stored reply turns of a case (the `SLA#REPLIES` item).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ReplyTurns {
    /// How many turns; the condition of the next write.
    count: u64,
    events: Vec<Event>,
}

impl Cases<'_> {
    async fn reply_turns(&self, case_id: &str) -> DomainResult<Option<ReplyTurns>> {
        self.store.get(CASES, &case_keys::sla_replies(case_id)).await?.map(from_item).transpose()
    }

    /// The write that records a public reply (`Change::StaffReply` or `Change::CustomerReply`)
    /// on `case` at `at`, for the reply's own transaction; `None` when it changes no clock (the
    /// previous turn was of the same side, or the case has no clock facts: it predates them).
    /// Conditional on the turns read: a refusal means another reply landed; read and try again.
    pub(crate) async fn reply_op(&self, case: &Case, at: OffsetDateTime, change: Change) -> DomainResult<Option<WriteOp>> {
        debug_assert!(matches!(change, Change::StaffReply | Change::CustomerReply));
        if case.sla_timeline.is_none() {
            return Ok(None);
        }
        let stored = self.reply_turns(&case.id).await?;
        let condition = match &stored {
            Some(turns) => Condition::equals("count", turns.count),
            None => Condition::NotExists,
        };
        let mut turns = stored.unwrap_or_default();
        if turns.events.last().is_some_and(|last| last.change == change) {
            return Ok(None);
        }
        turns.events.push(Event { at, change });
        turns.count += 1;
        Ok(Some(WriteOp::put_if(CASES, keyed_item(case_keys::sla_replies(&case.id), &turns)?, condition)))
    }

    /// The agreement that governs `case` at `at` (see [`agreements::choose`]): one query of the
    /// agreements, and one read per distinct calendar of the enabled ones that apply to it.
    pub(crate) async fn choose_agreement(&self, case: &Case, at: OffsetDateTime) -> DomainResult<Option<AgreementId>> {
        let directory = Directory::new(self.store);
        let parties = CaseParties { contact_ids: &case.contact_ids, account_id: case.account_id.as_ref(), mailbox_id: case.mailbox_id.as_ref() };
        let mut candidates: Vec<ServiceAgreement> = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = directory.list::<ServiceAgreement>(AGREEMENT_PAGE, after).await?;
            candidates.extend(page.into_iter().filter(|a| a.enabled && a.applies_to.covers(&parties)));
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut calendars: HashMap<CalendarId, Schedule> = HashMap::new();
        for agreement in &candidates {
            if calendars.contains_key(&agreement.calendar_id) {
                continue;
            }
            // A calendar that is gone or no longer compiles leaves its agreements out (`choose`
            // passes over them) rather than failing the case's change.
            if let Some(calendar) = directory.get::<Calendar>(&agreement.calendar_id).await?
                && let Ok(schedule) = calendar.schedule()
            {
                calendars.insert(agreement.calendar_id.clone(), schedule);
            }
        }
        Ok(agreements::choose(&candidates, &parties, at, &calendars).map(|a| a.id.clone()))
    }

    /// The timeline a new case starts with, its agreement chosen.
    pub(crate) async fn initial_timeline(&self, case: &Case) -> DomainResult<CaseTimeline> {
        Ok(CaseTimeline::new(self.choose_agreement(case, case.audit.created_at).await?, case.priority, case.status))
    }

    /// The timeline of `new`, the next version of `old`: its status and priority changes
    /// recorded at `new`'s update time, and its agreement chosen again when what decides it
    /// (contacts, account, mailbox) changed. A case from before clocks existed keeps none.
    pub(crate) async fn next_timeline(&self, old: &Case, new: &Case) -> DomainResult<Option<CaseTimeline>> {
        let Some(mut timeline) = old.sla_timeline.clone() else { return Ok(None) };
        let at = new.audit.updated_at;
        if new.priority != old.priority {
            timeline.record(at, Change::Priority(new.priority));
        }
        if new.status != old.status {
            timeline.record(at, Change::Status(new.status));
        }
        // Priority does not take part in choosing (agreements set targets per priority), so
        // only the parties send us back to the agreements.
        if new.contact_ids != old.contact_ids || new.account_id != old.account_id || new.mailbox_id != old.mailbox_id {
            timeline.agreement_id = self.choose_agreement(new, at).await?;
        }
        Ok(Some(timeline))
    }

    /// The case's clocks now, as staff see them; `None` for portal users (the clocks are the
    /// staff's business, not a promise shown to customers), for cases without an agreement, and
    /// when the agreement or its calendar has gone. Three reads: the agreement, its calendar and the reply turns.
    pub async fn sla(&self, principal: &Principal, case: &Case) -> DomainResult<Option<SlaView>> {
        if !matches!(principal, Principal::Staff(_)) {
            return Ok(None);
        }
        let Some(timeline) = &case.sla_timeline else { return Ok(None) };
        let Some(agreement_id) = &timeline.agreement_id else { return Ok(None) };
        let directory = Directory::new(self.store);
        let Some(agreement) = directory.get::<ServiceAgreement>(agreement_id).await? else { return Ok(None) };
        let Some(calendar) = directory.get::<Calendar>(&agreement.calendar_id).await? else { return Ok(None) };
        // A calendar whose zone a newer build no longer knows hides the clocks rather than
        // failing the read of the case.
        let Ok(schedule) = calendar.schedule() else {
            tracing::warn!(case = case.number, calendar = %calendar.id, "calendar does not compile: no SLA clocks shown");
            return Ok(None);
        };
        let now = self.clock.now();
        let mut facts = timeline.timeline(case.audit.created_at);
        facts.events.extend(self.reply_turns(&case.id).await?.map(|t| t.events).unwrap_or_default());
        // `clocks` orders by the minute and keeps the given order within one; merging the two
        // lists by their full instants first keeps a reply and a status change of the same
        // minute in the order they happened (stable: the same instant keeps the case's first).
        facts.events.sort_by_key(|e| e.at);
        let clocks = sla::clocks(&schedule, &agreement.targets, &facts, now);
        Ok(Some(SlaView {
            agreement_id: agreement.id.clone(),
            agreement_name: agreement.name.clone(),
            computed_at: now,
            first_response: clocks.first_response.as_ref().map(ClockView::from),
            next_response: clocks.next_response.as_ref().map(ClockView::from),
            resolution: clocks.resolution.as_ref().map(ClockView::from),
        }))
    }
}
