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
//!
//! # Watching
//!
//! Lists by due time and breach detection do need instants in an index. Those are a filing
//! derived from the facts (the `SLA#WATCH` item, see [`Cases::watch_sla`]), never read back
//! as a fact: the worker files a case again after each of its changes, the sweep when its
//! alarm comes, and every running case when an agreement or a calendar is edited. Which alerts
//! fall when is the pure [`sla_watch::watch`].

use std::collections::{BTreeSet, HashMap};

use docket_store::{Condition, Query, SortKeyRange, WriteOp};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::access::Principal;
use crate::agreements::{self, CaseParties, ServiceAgreement};
use crate::calendar::{Calendar, Schedule};
use crate::cases::Cases;
use crate::directory::{Directory, from_item};
use crate::error::DomainError;
use crate::error::DomainResult;
use crate::events::Trigger;
use crate::ids::{AgreementId, CalendarId};
use crate::model::Case;
use crate::outbox::Effects;
use crate::schema::{self, CASES, case_keys, keyed_item};
use crate::sla::{self, CaseTimeline, Change, ClockKind, ClockView, Event, SlaView};
use crate::sla_watch::{self, Alert, AlertKind, Watch};
use crate::txn::{Label, Txn};

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

    /// The case's agreement, its compiled calendar and its clocks at `now`; `None` for cases
    /// without an agreement, and when the agreement or its calendar has gone. Three reads: the
    /// agreement, its calendar and the reply turns.
    async fn governed(&self, case: &Case, now: OffsetDateTime) -> DomainResult<Option<(ServiceAgreement, Schedule, sla::Clocks)>> {
        let Some(timeline) = &case.sla_timeline else { return Ok(None) };
        let Some(agreement_id) = &timeline.agreement_id else { return Ok(None) };
        let directory = Directory::new(self.store);
        let Some(agreement) = directory.get::<ServiceAgreement>(agreement_id).await? else { return Ok(None) };
        let Some(calendar) = directory.get::<Calendar>(&agreement.calendar_id).await? else { return Ok(None) };
        // A calendar whose zone a newer build no longer knows hides the clocks rather than
        // failing the read of the case.
        let Ok(schedule) = calendar.schedule() else {
            tracing::warn!(case = case.number, calendar = %calendar.id, "calendar does not compile: no SLA clocks");
            return Ok(None);
        };
        let mut facts = timeline.timeline(case.audit.created_at);
        facts.events.extend(self.reply_turns(&case.id).await?.map(|t| t.events).unwrap_or_default());
        // `clocks` orders by the minute and keeps the given order within one; merging the two
        // lists by their full instants first keeps a reply and a status change of the same
        // minute in the order they happened (stable: the same instant keeps the case's first).
        facts.events.sort_by_key(|e| e.at);
        let clocks = sla::clocks(&schedule, &agreement.targets, &facts, now);
        Ok(Some((agreement, schedule, clocks)))
    }

    /// The case's clocks now, as staff see them; `None` for portal users (the clocks are the
    /// staff's business, not a promise shown to customers), for cases without an agreement, and
    /// when the agreement or its calendar has gone.
    pub async fn sla(&self, principal: &Principal, case: &Case) -> DomainResult<Option<SlaView>> {
        if !matches!(principal, Principal::Staff(_)) {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some((agreement, _, clocks)) = self.governed(case, now).await? else { return Ok(None) };
        Ok(Some(SlaView {
            agreement_id: agreement.id.clone(),
            agreement_name: agreement.name.clone(),
            computed_at: now,
            first_response: clocks.first_response.as_ref().map(|c| ClockView::of(c, agreement.warning_percent)),
            next_response: clocks.next_response.as_ref().map(|c| ClockView::of(c, agreement.warning_percent)),
            resolution: clocks.resolution.as_ref().map(|c| ClockView::of(c, agreement.warning_percent)),
        }))
    }

    async fn watch_state(&self, case_id: &str) -> DomainResult<Option<WatchState>> {
        self.store.get(CASES, &case_keys::sla_watch(case_id)).await?.map(from_item).transpose()
    }

    /// Looks at a case's clocks now: announces the warnings and breaches that fell due and were
    /// not announced yet (`sla_warning` / `sla_breached` events, in the transaction that records
    /// them as announced), and files the case in the SLA indexes by its next due time, its
    /// breach and when to look again. Called by the worker after every change of a case and by
    /// the sweep for the cases whose alarm has come. Idempotent: a second look at the same
    /// state writes nothing, and two looks at once are ordered by the watch item's revision
    /// (the loser reads again), so no alert is announced twice.
    pub async fn watch_sla(&self, case_id: &str) -> DomainResult<Vec<Alert>> {
        for _ in 0..5 {
            let Some(case) = self.by_id(case_id).await? else { return Ok(Vec::new()) };
            let stored = self.watch_state(case_id).await?;
            let now = self.clock.now();
            let previous = stored.clone().unwrap_or_default();
            let watch = match self.governed(&case, now).await? {
                Some((agreement, schedule, clocks)) => sla_watch::watch(&schedule, &clocks, agreement.warning_percent, &previous.announced, now),
                // No agreement (any more): nothing is owed, and what was announced stays so.
                None => Watch { announced: previous.announced.clone(), ..Watch::default() },
            };
            let next = WatchState {
                case_id: case.id.to_string(),
                revision: previous.revision + 1,
                announced: watch.announced.clone(),
                next_due_at: watch.next_due.map(|(_, at)| at),
                next_due_clock: watch.next_due.map(|(clock, _)| clock),
                breached_since: watch.breached_since,
                alarm_at: watch.alarm_at,
            };
            let unchanged = match &stored {
                Some(stored) => WatchState { revision: stored.revision, ..next.clone() } == *stored,
                None => next.is_idle(),
            };
            if unchanged && watch.announce.is_empty() {
                return Ok(Vec::new());
            }
            let condition = match &stored {
                Some(stored) => Condition::equals("revision", stored.revision),
                None => Condition::NotExists,
            };
            let mut txn = Txn::new();
            txn.push(WriteOp::put_if(CASES, next.item()?, condition), Label::Watch);
            let mut effects = Effects::default();
            for alert in &watch.announce {
                let trigger = match alert.kind {
                    AlertKind::Warning => Trigger::SlaWarning,
                    AlertKind::Breach => Trigger::SlaBreached,
                };
                self.announce_effect(&mut effects, trigger, &case.id, None, vec![alert.clock.as_str().to_owned()]);
            }
            match self.transact_with(txn, &effects).await {
                Ok(()) => {
                    for alert in &watch.announce {
                        tracing::info!(case = case.number, clock = alert.clock.as_str(), alert = alert.kind.as_str(), due_at = %alert.due_at, "SLA alert");
                    }
                    self.deliver(effects).await;
                    return Ok(watch.announce);
                }
                // Another look landed first: look again at what it wrote.
                Err(e) if e.is(&Label::Watch) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Transient(format!("the SLA watch of case {case_id} keeps changing")))
    }

    /// Watches every case whose alarm has come (a read of the alarm index up to now, so its
    /// cost grows with the cases that owe something now, not with the open ones), a few at a
    /// time. A case that fails is counted and left for the next sweep: its alarm stays.
    pub async fn sweep_sla(&self) -> DomainResult<Sweep> {
        let now = self.clock.now();
        let mut sweep = Sweep::default();
        let mut after = None;
        for _ in 0..SWEEP_PAGES {
            let query = Query::index(CASES, schema::CASES_BY_SLA_ALARM, case_keys::SLA_ALARM_PARTITION)
                .range(SortKeyRange::AtMost(case_keys::sla_sort_through(now)))
                .limit(SWEEP_PAGE)
                .after(after.take());
            let page = self.store.query(query).await?;
            let watched = self.watch_page(&page.items, &mut sweep).await;
            sweep.watched += watched;
            match page.next {
                Some(next) => after = Some(next),
                None => {
                    self.refile(&mut sweep).await?;
                    return Ok(sweep);
                }
            }
        }
        // The rest waits for the next sweep, which starts at the oldest alarm again.
        sweep.more = true;
        Ok(sweep)
    }

    /// Watches the cases an SLA index page points at, a few at a time, counting what they
    /// announced and which failed (a failed one is left for the next sweep) into `sweep`;
    /// returns how many were watched.
    async fn watch_page(&self, items: &[docket_store::Item], sweep: &mut Sweep) -> usize {
        let ids: Vec<String> = items.iter().filter_map(|item| item.get("case_id").and_then(serde_json::Value::as_str).map(str::to_owned)).collect();
        let results: Vec<(String, DomainResult<Vec<Alert>>)> =
            stream::iter(ids).map(|id| async move { (id.clone(), self.watch_sla(&id).await) }).buffer_unordered(SWEEP_CONCURRENCY).collect().await;
        let watched = results.len();
        for (case_id, result) in results {
            match result {
                Ok(alerts) => sweep.announced += alerts.len(),
                Err(error) => {
                    tracing::warn!(%case_id, %error, "SLA watch failed; the next sweep tries again");
                    sweep.failed += 1;
                }
            }
        }
        watched
    }

    /// When an agreement or a calendar changed, files every case of the due index again (its
    /// due times may have moved either way: a shortened target must not wait for the alarm of
    /// the old one), as many pages as one sweep reads; the request keeps where it stopped, and
    /// a newer request starts over. Paused cases are in no index and are filed when they resume.
    async fn refile(&self, sweep: &mut Sweep) -> DomainResult<()> {
        let Some(item) = self.store.get(CASES, &case_keys::sla_refile()).await? else { return Ok(()) };
        let request: RefileRequest = from_item(item)?;
        let mut after = request.after.clone().map(docket_store::Cursor);
        for _ in 0..SWEEP_PAGES {
            let query = Query::index(CASES, schema::CASES_BY_SLA_DUE, case_keys::SLA_DUE_PARTITION).limit(SWEEP_PAGE).after(after.take());
            let page = self.store.query(query).await?;
            let refiled = self.watch_page(&page.items, sweep).await;
            sweep.refiled += refiled;
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        // Conditional on the request read: one made meanwhile starts over at the next sweep.
        let condition = Condition::equals("requested_at", request.requested_at.clone());
        let write = match after {
            None => WriteOp::Delete { table: CASES.to_owned(), key: case_keys::sla_refile(), condition: Some(condition) },
            Some(cursor) => {
                sweep.more = true;
                let next = RefileRequest { after: Some(cursor.0), ..request };
                WriteOp::put_if(CASES, keyed_item(case_keys::sla_refile(), &next)?, condition)
            }
        };
        match self.store.write(write).await {
            Err(e) if e.is_condition_failure() => Ok(()),
            other => Ok(other?),
        }
    }

    /// What the watcher last filed about each of these cases (one batch read), in their order;
    /// `None` for a case with nothing owed or never watched.
    pub async fn sla_summaries(&self, cases: &[Case]) -> DomainResult<Vec<Option<SlaSummary>>> {
        let keys: Vec<_> = cases.iter().map(|c| case_keys::sla_watch(&c.id)).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.store.get_many(CASES, &keys).await?;
        items
            .into_iter()
            .map(|item| {
                let Some(item) = item else { return Ok(None) };
                let state: WatchState = from_item(item)?;
                Ok((state.next_due_at.is_some() || state.breached_since.is_some()).then_some(SlaSummary {
                    next_due_at: state.next_due_at,
                    next_due_clock: state.next_due_clock,
                    breached_since: state.breached_since,
                }))
            })
            .collect()
    }
}

/// Alarms read per page of a sweep, pages per sweep, and cases watched at once.
const SWEEP_PAGE: usize = 100;
const SWEEP_PAGES: usize = 50;
const SWEEP_CONCURRENCY: usize = 8;

/// A request to file the cases of the due index again (the `SLA#REFILE` item).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefileRequest {
    /// When it was made (RFC 3339): the condition of its update and removal.
    requested_at: String,
    /// Where the sweeps stopped reading the due index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// Asks the next SLA sweep to file the running cases again (see `Cases::refile`).
pub(crate) async fn request_sla_refile(store: &dyn docket_store::ItemStore, now: OffsetDateTime) -> DomainResult<()> {
    let requested_at = now.format(&time::format_description::well_known::Rfc3339).map_err(|e| DomainError::Internal(e.to_string()))?;
    store.write(WriteOp::put(CASES, keyed_item(case_keys::sla_refile(), RefileRequest { requested_at, after: None })?)).await?;
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Cases whose alarm had come.
    pub watched: usize,
    /// Warnings and breaches announced.
    pub announced: usize,
    /// Cases filed again because an agreement or a calendar changed.
    pub refiled: usize,
    /// Cases whose watch failed (left for the next sweep).
    pub failed: usize,
    /// More alarms had come than one sweep reads.
    pub more: bool,
}

/// What the SLA watcher last filed about a case (the `SLA#WATCH` item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct WatchState {
    /// The case, for the lists that read cases through the SLA indexes.
    case_id: String,
    /// Counts the writes; the condition of the next one.
    revision: u64,
    /// Keys of the alerts announced (see [`sla_watch::Alert::key`]).
    announced: BTreeSet<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    next_due_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_due_clock: Option<ClockKind>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    breached_since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    alarm_at: Option<OffsetDateTime>,
}

impl WatchState {
    /// Nothing owed, nothing announced: no item needed.
    fn is_idle(&self) -> bool {
        self.announced.is_empty() && self.next_due_at.is_none() && self.breached_since.is_none() && self.alarm_at.is_none()
    }

    /// The stored item, with the attributes of the SLA indexes it belongs in (sparse: an index
    /// holds only the cases that have its instant).
    fn item(&self) -> DomainResult<docket_store::Item> {
        let mut item = keyed_item(case_keys::sla_watch(&self.case_id), self)?;
        let entries = [
            (schema::SLA_DUE_ATTRIBUTES, case_keys::SLA_DUE_PARTITION, self.next_due_at),
            (schema::SLA_BREACHED_ATTRIBUTES, case_keys::SLA_BREACHED_PARTITION, self.breached_since),
            (schema::SLA_ALARM_ATTRIBUTES, case_keys::SLA_ALARM_PARTITION, self.alarm_at),
        ];
        for ((partition_attribute, sort_attribute), partition, at) in entries {
            if let Some(at) = at {
                item.insert(partition_attribute.into(), partition.into());
                item.insert(sort_attribute.into(), case_keys::sla_sort(at, &self.case_id).into());
            }
        }
        Ok(item)
    }
}

/// A case's SLA standing as the case lists show it: what the watcher filed at the case's last
/// change or alarm (so `breached_since` can be up to a sweep late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SlaSummary {
    /// The earliest due time of a running clock (past, when overdue).
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub next_due_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due_clock: Option<ClockKind>,
    /// When a clock still owed (running or paused) breached.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub breached_since: Option<OffsetDateTime>,
}
