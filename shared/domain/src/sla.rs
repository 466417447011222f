//! SLA clocks (SPEC F51): how much business time a case has used of its service agreement's
//! targets, when each target falls due, and whether it was met or breached.
//!
//! [`clocks`] is a pure function of a [`Schedule`] (the agreement's calendar), the agreement's
//! [`PriorityTargets`] and the case's [`Timeline`] (its creation and the events since that matter
//! to the clocks), evaluated at an instant. Nothing is stored: whoever keeps due times on cases
//! recomputes them from the timeline when one of its inputs changes, and a property test can
//! throw any timeline at it.
//!
//! # The rules
//!
//! - **First response** starts when the case is created and is met by the first public reply of
//!   staff (a post or a mail to the customer; internal notes are not events at all).
//! - **Next response** is owed once staff have answered: a customer's reply starts it and the
//!   next public staff reply meets it; the customer's following reply starts a new one. Further
//!   customer replies while one is running do not restart it: the customer has been waiting since
//!   their first unanswered message.
//! - **Resolution** starts when the case is created; Resolved or Closed meets it, and reopening
//!   the case takes the verdict back and lets it run on with the time it had left.
//! - Clocks run only while the case is open (New, Assigned, InProgress, Reopened). Pending
//!   (waiting on the customer) and Resolved pause them; a final status (Closed, Rejected,
//!   Duplicate, Cancelled) stops them, and a reopening resumes them. A pause moves the due time
//!   later by the business minutes it lasted: a Pending weekend moves nothing.
//! - A priority change gives every clock the new priority's target, counted over the business
//!   time already used. A breach is a fact about the past: a target that ran out stays breached
//!   even if a later change would have allowed more time; lowering a target below the time already
//!   used breaches the clock at that moment.
//! - A due time exactly met is on time: a clock breaches only once its due instant has passed.
//!
//! # Whole minutes
//!
//! Every instant is first truncated to the whole minute, as [`Schedule::business_minutes_between`]
//! counts. That makes the arithmetic exact: splitting a running period in two (a pause of no
//! length) changes no due time, and every due time is a whole minute inside business hours (or
//! the closing minute of an interval).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::calendar::Schedule;
use crate::error::{DomainError, DomainResult};
use crate::model::{CaseStatus, Phase, Priority};

/// The longest target, in business minutes: a year's worth of minutes, far beyond any real
/// agreement, and small enough that no arithmetic on it can overflow.
pub const MAX_TARGET_MINUTES: u32 = 525_600;

/// The business minutes each clock may take, for one priority; a clock without a target does
/// not run.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// From the case's creation to the first public staff reply.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 525600)]
    pub first_response_minutes: Option<u32>,
    /// From a customer's reply to the next public staff reply.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 525600)]
    pub next_response_minutes: Option<u32>,
    /// From the case's creation to Resolved (or Closed).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 525600)]
    pub resolution_minutes: Option<u32>,
}

impl Targets {
    fn of(&self, kind: ClockKind) -> Option<u32> {
        match kind {
            ClockKind::FirstResponse => self.first_response_minutes,
            ClockKind::NextResponse => self.next_response_minutes,
            ClockKind::Resolution => self.resolution_minutes,
        }
    }

    fn is_empty(&self) -> bool {
        self.first_response_minutes.is_none() && self.next_response_minutes.is_none() && self.resolution_minutes.is_none()
    }

    /// Each target within 1..=[`MAX_TARGET_MINUTES`], named `<prefix>.<field>` when not.
    fn validated(self, prefix: &str) -> DomainResult<Targets> {
        let check = |name: &str, value: Option<u32>| match value {
            Some(minutes) if !(1..=MAX_TARGET_MINUTES).contains(&minutes) => {
                Err(DomainError::invalid(&format!("{prefix}.{name}"), format!("business minutes from 1 to {MAX_TARGET_MINUTES}")))
            }
            _ => Ok(value),
        };
        Ok(Targets {
            first_response_minutes: check("first_response_minutes", self.first_response_minutes)?,
            next_response_minutes: check("next_response_minutes", self.next_response_minutes)?,
            resolution_minutes: check("resolution_minutes", self.resolution_minutes)?,
        })
    }
}

/// Targets for each case priority. The JSON keys are the priorities as cases spell them
/// (`"High"`), so a client finds a case's targets with `targets[case.priority]`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityTargets {
    #[serde(rename = "Low", default)]
    pub low: Targets,
    #[serde(rename = "Normal", default)]
    pub normal: Targets,
    #[serde(rename = "High", default)]
    pub high: Targets,
    #[serde(rename = "Urgent", default)]
    pub urgent: Targets,
}

impl PriorityTargets {
    /// The targets of cases of this priority.
    pub fn of(&self, priority: Priority) -> &Targets {
        match priority {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Urgent => &self.urgent,
        }
    }

    /// Every target within range (errors name e.g. `targets.High.resolution_minutes`), and at
    /// least one target at all: an agreement without one would promise nothing.
    pub fn validated(self, field: &str) -> DomainResult<PriorityTargets> {
        let targets = PriorityTargets {
            low: self.low.validated(&format!("{field}.Low"))?,
            normal: self.normal.validated(&format!("{field}.Normal"))?,
            high: self.high.validated(&format!("{field}.High"))?,
            urgent: self.urgent.validated(&format!("{field}.Urgent"))?,
        };
        if [targets.low, targets.normal, targets.high, targets.urgent].iter().all(Targets::is_empty) {
            return Err(DomainError::invalid(field, "an agreement needs at least one target"));
        }
        Ok(targets)
    }
}

/// The three clocks of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl ClockKind {
    pub const ALL: [ClockKind; 3] = [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextResponse => "next_response",
            ClockKind::Resolution => "resolution",
        }
    }
}

impl Clocks {
    /// The clock of this kind, if the case has one.
    pub fn get(&self, kind: ClockKind) -> Option<&Clock> {
        match kind {
            ClockKind::FirstResponse => self.first_response.as_ref(),
            ClockKind::NextResponse => self.next_response.as_ref(),
            ClockKind::Resolution => self.resolution.as_ref(),
        }
    }
}

/// What a case went through, as far as its clocks care. Events need not be sorted (they are
/// taken in time order, events of the same instant in the order given); events before the
/// creation count as at the creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub created_at: OffsetDateTime,
    /// The priority and status the case was created with.
    pub priority: Priority,
    pub status: CaseStatus,
    pub events: Vec<Event>,
}

// Serialisable because a case stores its events (see [`CaseTimeline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub change: Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum Change {
    Priority(Priority),
    Status(CaseStatus),
    /// A public reply by staff: a post the customer sees or a mail to them.
    StaffReply,
    /// A public message from the customer: a mail or a portal post.
    CustomerReply,
}

/// What a case keeps for its clocks: the agreement chosen for it and the facts of its
/// [`Timeline`] that its own fields do not hold (the priority and status it was created with, and
/// the changes since). The clocks themselves are never stored: [`CaseTimeline::clocks`] computes
/// them at read time, so a calendar or agreement edit, or simply the passing of time, needs no
/// rewrite of any case.
///
/// The timeline is kept even while no agreement applies, so an agreement chosen later (the
/// account changed) counts from the case's creation like one chosen then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTimeline {
    /// The agreement governing the case; `None` when none applied when it was last chosen.
    #[serde(default)]
    pub agreement_id: Option<crate::ids::AgreementId>,
    pub priority: Priority,
    pub status: CaseStatus,
    /// In the order they happened. Only changes the clocks care about are kept, and a reply
    /// that cannot change a clock (a staff reply right after a staff reply, a customer reply
    /// right after a customer reply) is not kept: it keeps the list as short as the
    /// conversation's turns.
    #[serde(default)]
    pub events: Vec<Event>,
}

impl CaseTimeline {
    pub fn new(agreement_id: Option<crate::ids::AgreementId>, priority: Priority, status: CaseStatus) -> Self {
        CaseTimeline { agreement_id, priority, status, events: Vec::new() }
    }

    /// Records a change; replies that repeat the previous reply's side are dropped (see
    /// `events`).
    pub fn record(&mut self, at: OffsetDateTime, change: Change) {
        if matches!(change, Change::StaffReply | Change::CustomerReply) {
            let last_reply = self.events.iter().rev().map(|e| e.change).find(|c| matches!(c, Change::StaffReply | Change::CustomerReply));
            if last_reply == Some(change) {
                return;
            }
        }
        self.events.push(Event { at, change });
    }

    /// The timeline of a case created at `created_at`, for [`clocks`].
    pub fn timeline(&self, created_at: OffsetDateTime) -> Timeline {
        Timeline { created_at, priority: self.priority, status: self.status, events: self.events.clone() }
    }
}

/// A case's clocks as staff see them (portal users never do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SlaView {
    pub agreement_id: crate::ids::AgreementId,
    pub agreement_name: String,
    /// When these were computed (the clocks move with time).
    #[serde(with = "time::serde::rfc3339")]
    pub computed_at: OffsetDateTime,
    /// Absent when the agreement sets no first-response target at the case's priority.
    pub first_response: Option<ClockView>,
    /// Absent while no next response is owed (no customer reply since staff last answered).
    pub next_response: Option<ClockView>,
    pub resolution: Option<ClockView>,
}

/// One clock as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClockView {
    pub state: ClockStateView,
    pub target_minutes: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub met_at: Option<OffsetDateTime>,
    pub breached: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub breached_at: Option<OffsetDateTime>,
    /// Business minutes left now (at the meeting, for a met clock); negative once overdue.
    pub remaining_business_minutes: i64,
    /// Still owed (running or paused), not breached, and past the agreement's warning share of
    /// its target: at risk.
    pub warning: bool,
}

impl ClockView {
    /// The view of a clock under an agreement warning at `warning_percent` of a target.
    pub fn of(clock: &Clock, warning_percent: u8) -> Self {
        ClockView { warning: crate::sla_watch::at_warning(clock, warning_percent), ..ClockView::from(clock) }
    }
}

/// [`ClockState`] as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockStateView {
    Running,
    Paused,
    Stopped,
    Met,
}

impl From<&Clock> for ClockView {
    fn from(clock: &Clock) -> Self {
        ClockView {
            state: match clock.state {
                ClockState::Running => ClockStateView::Running,
                ClockState::Paused => ClockStateView::Paused,
                ClockState::Stopped => ClockStateView::Stopped,
                ClockState::Met => ClockStateView::Met,
            },
            target_minutes: clock.target_minutes,
            due_at: clock.due_at,
            met_at: clock.met_at,
            breached: clock.is_breached(),
            breached_at: clock.breached_at,
            remaining_business_minutes: clock.remaining_minutes,
            warning: false,
        }
    }
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Counting business time now.
    Running,
    /// Not counting while the case waits (Pending, Resolved); reopening resumes it.
    Paused,
    /// Stopped by a final status without being met; reopening resumes it.
    Stopped,
    /// Its target was met (perhaps late: see `breached_at`).
    Met,
}

/// One clock at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// The target in business minutes: of the priority the case has, or had when it was met.
    pub target_minutes: u32,
    pub started_at: OffsetDateTime,
    pub state: ClockState,
    /// When the target falls (or fell) due. A paused or stopped clock's due time is where it
    /// would fall if the clock resumed at the instant asked about; a met clock's, the one it
    /// was racing against. `None` only when the calendar has no business time for years.
    pub due_at: Option<OffsetDateTime>,
    pub met_at: Option<OffsetDateTime>,
    /// When the target ran out before being met.
    pub breached_at: Option<OffsetDateTime>,
    /// Business minutes left at the instant asked about (at the meeting, for a met clock);
    /// negative once overdue.
    pub remaining_minutes: i64,
}

impl Clock {
    pub fn is_paused(&self) -> bool {
        matches!(self.state, ClockState::Paused | ClockState::Stopped)
    }

    pub fn is_breached(&self) -> bool {
        self.breached_at.is_some()
    }
}

/// A case's clocks; `None` for a clock without a target at the case's priority, and for next
/// response while none is owed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clocks {
    pub first_response: Option<Clock>,
    pub next_response: Option<Clock>,
    pub resolution: Option<Clock>,
}

/// The clocks of a case with this timeline, under these targets and this calendar, at `at`
/// (events after `at` are not taken into account). See the module's comment for the rules.
pub fn clocks(schedule: &Schedule, targets: &PriorityTargets, timeline: &Timeline, at: OffsetDateTime) -> Clocks {
    let at = whole_minute(at);
    let created = whole_minute(timeline.created_at);
    if at < created {
        return Clocks::default();
    }
    let mut events: Vec<Event> =
        timeline.events.iter().map(|e| Event { at: whole_minute(e.at).max(created), change: e.change }).filter(|e| e.at <= at).collect();
    // Stable: events of one instant keep the order they were given in.
    events.sort_by_key(|e| e.at);

    let mut priority = timeline.priority;
    let mut status = timeline.status;
    let target = |priority: Priority, kind: ClockKind| targets.of(priority).of(kind);
    let mut first = Track::new(created, target(priority, ClockKind::FirstResponse), runs(status));
    let mut resolution = Track::new(created, target(priority, ClockKind::Resolution), runs(status));
    let mut next: Option<Track> = None;
    if meets_resolution(status) {
        resolution.meet(created);
    }
    for Event { at: t, change } in events {
        match change {
            Change::Priority(p) => {
                priority = p;
                first.retarget(t, target(p, ClockKind::FirstResponse));
                resolution.retarget(t, target(p, ClockKind::Resolution));
                if let Some(next) = &mut next {
                    next.retarget(t, target(p, ClockKind::NextResponse));
                }
            }
            Change::Status(s) => {
                status = s;
                if meets_resolution(s) {
                    resolution.meet(t);
                } else if runs(s) {
                    resolution.reopen();
                }
                for track in [Some(&mut first), Some(&mut resolution), next.as_mut()].into_iter().flatten() {
                    track.run(t, runs(s));
                }
            }
            Change::StaffReply => {
                first.meet(t);
                if let Some(next) = &mut next {
                    next.meet(t);
                }
            }
            Change::CustomerReply => {
                let answered = first.met_at.is_some();
                if answered && next.as_ref().is_none_or(|n| n.met_at.is_some()) {
                    next = Some(Track::new(t, target(priority, ClockKind::NextResponse), runs(status)));
                }
            }
        }
    }
    Clocks {
        first_response: first.report(schedule, status, at),
        next_response: next.and_then(|n| n.report(schedule, status, at)),
        resolution: resolution.report(schedule, status, at),
    }
}

/// Whether clocks count in this status: only while the case is open.
fn runs(status: CaseStatus) -> bool {
    status.phase() == Phase::Open
}

fn meets_resolution(status: CaseStatus) -> bool {
    matches!(status, CaseStatus::Resolved | CaseStatus::Closed)
}

fn whole_minute(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp().div_euclid(60) * 60).unwrap_or(t)
}

/// One run of one clock: the periods it ran in and the targets it had over time.
#[derive(Debug, Clone)]
struct Track {
    started_at: OffsetDateTime,
    /// Periods it ran in, `[from, to)`, in time order.
    periods: Vec<(OffsetDateTime, OffsetDateTime)>,
    /// The start of the period it is running in now.
    running_since: Option<OffsetDateTime>,
    /// Its target from each instant on (the creation, then each priority change).
    targets: Vec<(OffsetDateTime, Option<u32>)>,
    met_at: Option<OffsetDateTime>,
}

impl Track {
    fn new(at: OffsetDateTime, target: Option<u32>, running: bool) -> Self {
        Track { started_at: at, periods: Vec::new(), running_since: running.then_some(at), targets: vec![(at, target)], met_at: None }
    }

    /// Starts or stops counting at `t` (nothing once met).
    fn run(&mut self, t: OffsetDateTime, running: bool) {
        if self.met_at.is_some() {
            return;
        }
        match (self.running_since, running) {
            (None, true) => self.running_since = Some(t),
            (Some(since), false) => {
                if since < t {
                    self.periods.push((since, t));
                }
                self.running_since = None;
            }
            _ => {}
        }
    }

    fn retarget(&mut self, t: OffsetDateTime, target: Option<u32>) {
        self.targets.push((t, target));
    }

    fn meet(&mut self, t: OffsetDateTime) {
        if self.met_at.is_none() {
            self.run(t, false);
            self.met_at = Some(t);
        }
    }

    /// Takes the verdict back; the caller resumes counting.
    fn reopen(&mut self) {
        self.met_at = None;
    }

    fn target_at(&self, t: OffsetDateTime) -> Option<u32> {
        self.targets.iter().rev().find(|(from, _)| *from <= t).and_then(|&(_, target)| target)
    }

    /// The business minutes it counted before `until`.
    fn elapsed(&self, schedule: &Schedule, until: OffsetDateTime) -> u64 {
        let open = self.running_since.map(|since| (since, until));
        self.periods.iter().copied().chain(open).map(|(from, to)| schedule.business_minutes_between(from, to.min(until))).sum()
    }

    /// The instant its count reaches `target` minutes: within its periods, else going on from
    /// the period it runs in, else (when `resume` is given) as if it ran again from `resume`.
    fn reach(&self, schedule: &Schedule, target: u32, resume: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
        let mut left = u64::from(target);
        for &(from, to) in &self.periods {
            let minutes = schedule.business_minutes_between(from, to);
            if minutes >= left {
                return schedule.add_business_minutes(from, u32::try_from(left).ok()?);
            }
            left -= minutes;
        }
        schedule.add_business_minutes(self.running_since.or(resume)?, u32::try_from(left).ok()?)
    }

    /// When a target ran out before the clock was met (or before `at`, when it is not): the
    /// first target, in the order they applied, whose count was reached while it applied.
    fn breached_at(&self, schedule: &Schedule, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let end = self.met_at.unwrap_or(at);
        for (i, &(from, target)) in self.targets.iter().enumerate() {
            if from >= end {
                break;
            }
            let Some(target) = target else { continue };
            let Some(reached) = self.reach(schedule, target, None) else { continue };
            // A target set below the count already used runs out the moment it is set.
            let due = reached.max(from);
            let until = self.targets.get(i + 1).map(|&(next, _)| next);
            if until.is_none_or(|until| due < until) && due < end {
                return Some(due);
            }
        }
        None
    }

    fn report(&self, schedule: &Schedule, status: CaseStatus, at: OffsetDateTime) -> Option<Clock> {
        let end = self.met_at.unwrap_or(at);
        let target = self.target_at(end)?;
        let state = match (self.met_at, self.running_since) {
            (Some(_), _) => ClockState::Met,
            (None, Some(_)) => ClockState::Running,
            (None, None) if status.phase() == Phase::Final => ClockState::Stopped,
            (None, None) => ClockState::Paused,
        };
        let used = i64::try_from(self.elapsed(schedule, end)).unwrap_or(i64::MAX);
        Some(Clock {
            target_minutes: target,
            started_at: self.started_at,
            state,
            due_at: self.reach(schedule, target, Some(self.met_at.unwrap_or(at))),
            met_at: self.met_at,
            breached_at: self.breached_at(schedule, at),
            remaining_minutes: i64::from(target) - used,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::{CalendarFields, Interval, WeeklyHours};
    use proptest::prelude::*;
    use std::sync::LazyLock;
    use time::macros::datetime;

    /// Mon–Fri 09:00–17:00 in Europe/Berlin.
    pub(crate) static GOLD_HOURS: LazyLock<Schedule> = LazyLock::new(|| {
        let day = vec![Interval::new("09:00", "17:00")];
        let hours = WeeklyHours { monday: day.clone(), tuesday: day.clone(), wednesday: day.clone(), thursday: day.clone(), friday: day, ..Default::default() };
        CalendarFields { name: "Gold".into(), time_zone: "Europe/Berlin".into(), hours, holidays: vec![] }.schedule().expect("a valid calendar")
    });

    /// Gold: first response 1 business hour, resolution 8, next response 2 (Normal priority);
    /// Urgent: 15 minutes, 30 minutes and 4 hours.
    pub(crate) fn gold() -> PriorityTargets {
        let normal = Targets { first_response_minutes: Some(60), next_response_minutes: Some(120), resolution_minutes: Some(480) };
        let urgent = Targets { first_response_minutes: Some(15), next_response_minutes: Some(30), resolution_minutes: Some(240) };
        PriorityTargets { normal, urgent, ..Default::default() }
    }

    // January 2026 in Berlin is UTC+1 (no clock change near it); 9 January is a Friday.
    const FRIDAY_1630: OffsetDateTime = datetime!(2026-01-09 16:30 +1);

    fn timeline(events: &[(OffsetDateTime, Change)]) -> Timeline {
        Timeline {
            created_at: FRIDAY_1630,
            priority: Priority::Normal,
            status: CaseStatus::New,
            events: events.iter().map(|&(at, change)| Event { at, change }).collect(),
        }
    }

    /// The Gold clocks of a case created Friday 16:30 with these events, at `now`.
    fn at(now: OffsetDateTime, events: &[(OffsetDateTime, Change)]) -> Clocks {
        clocks(&GOLD_HOURS, &gold(), &timeline(events), now)
    }

    const PENDING: Change = Change::Status(CaseStatus::Pending);
    const REOPENED: Change = Change::Status(CaseStatus::Reopened);

    #[test]
    fn gold_case_created_friday_afternoon_is_due_monday_morning() {
        let c = at(datetime!(2026-01-09 16:45 +1), &[]);
        let first = c.first_response.expect("a first-response clock");
        assert_eq!(first.due_at, Some(datetime!(2026-01-12 09:30 +1)));
        assert_eq!((first.state, first.remaining_minutes, first.breached_at), (ClockState::Running, 45, None));
        assert_eq!(c.resolution.expect("a resolution clock").due_at, Some(datetime!(2026-01-12 16:30 +1)));
        assert_eq!(c.next_response, None, "nothing is owed before staff answered");
    }

    #[test]
    fn a_pending_weekend_does_not_count() {
        // Pending from Friday's closing to Monday's opening: no business minute paused.
        let events = [(datetime!(2026-01-09 17:00 +1), PENDING), (datetime!(2026-01-12 09:00 +1), REOPENED)];
        let paused = at(datetime!(2026-01-10 12:00 +1), &events[..1]).first_response.unwrap();
        assert_eq!(paused.state, ClockState::Paused);
        assert!(paused.is_paused());
        assert_eq!(paused.remaining_minutes, 30);
        // While paused, the due time is where it falls if the case reopened now.
        assert_eq!(paused.due_at, Some(datetime!(2026-01-12 09:30 +1)));
        let c = at(datetime!(2026-01-12 09:05 +1), &events);
        assert_eq!(c.first_response.unwrap().due_at, Some(datetime!(2026-01-12 09:30 +1)));
        assert_eq!(c.resolution.unwrap().due_at, Some(datetime!(2026-01-12 16:30 +1)));
    }

    #[test]
    fn a_pause_in_business_hours_moves_the_due_time_by_its_business_minutes() {
        // Pending Friday 16:45 until Monday 10:00: 15 + 60 business minutes paused.
        let events = [(datetime!(2026-01-09 16:45 +1), PENDING), (datetime!(2026-01-12 10:00 +1), REOPENED)];
        let c = at(datetime!(2026-01-12 10:00 +1), &events);
        let first = c.first_response.unwrap();
        assert_eq!(first.due_at, Some(datetime!(2026-01-12 10:45 +1)));
        assert_eq!(first.remaining_minutes, 45);
        assert_eq!(c.resolution.unwrap().due_at, Some(datetime!(2026-01-13 09:45 +1)));
    }

    #[test]
    fn a_pause_across_a_weekend_counts_only_its_business_minutes() {
        // Resolution: 20 minutes used on Friday; Pending Friday 16:50 until Tuesday 10:00 pauses
        // 10 + 480 + 60 business minutes: the rest (460) runs from Tuesday 10:00.
        let events = [(datetime!(2026-01-09 16:50 +1), PENDING), (datetime!(2026-01-13 10:00 +1), REOPENED)];
        let resolution = at(datetime!(2026-01-13 10:00 +1), &events).resolution.unwrap();
        assert_eq!(resolution.remaining_minutes, 460);
        assert_eq!(resolution.due_at, Some(datetime!(2026-01-14 09:40 +1)));
        assert_eq!(resolution.breached_at, None);
    }

    #[test]
    fn the_first_public_staff_reply_meets_first_response_on_time_or_late() {
        let on_time = at(datetime!(2026-01-12 12:00 +1), &[(datetime!(2026-01-12 09:30 +1), Change::StaffReply)]).first_response.unwrap();
        assert_eq!((on_time.state, on_time.met_at), (ClockState::Met, Some(datetime!(2026-01-12 09:30 +1))));
        assert_eq!((on_time.breached_at, on_time.remaining_minutes), (None, 0), "exactly at the due time is on time");

        let late = at(datetime!(2026-01-12 12:00 +1), &[(datetime!(2026-01-12 09:45 +1), Change::StaffReply)]).first_response.unwrap();
        assert_eq!(late.state, ClockState::Met);
        assert_eq!(late.breached_at, Some(datetime!(2026-01-12 09:30 +1)));
        assert_eq!(late.remaining_minutes, -15);
        assert!(late.is_breached());

        // A second reply changes nothing.
        let twice = [(datetime!(2026-01-12 09:10 +1), Change::StaffReply), (datetime!(2026-01-12 11:00 +1), Change::StaffReply)];
        assert_eq!(at(datetime!(2026-01-12 12:00 +1), &twice).first_response.unwrap().met_at, Some(datetime!(2026-01-12 09:10 +1)));
    }

    #[test]
    fn an_unanswered_case_is_breached_once_its_due_time_has_passed() {
        let due = at(datetime!(2026-01-12 09:30 +1), &[]).first_response.unwrap();
        assert_eq!((due.breached_at, due.remaining_minutes), (None, 0));
        let overdue = at(datetime!(2026-01-12 10:00:59 +1), &[]).first_response.unwrap();
        assert_eq!(overdue.state, ClockState::Running);
        assert_eq!(overdue.breached_at, Some(datetime!(2026-01-12 09:30 +1)));
        assert_eq!(overdue.remaining_minutes, -30);
    }

    #[test]
    fn a_customer_reply_after_an_answer_starts_next_response_and_the_next_answer_meets_it() {
        let events = [
            (datetime!(2026-01-12 09:10 +1), Change::StaffReply),
            (datetime!(2026-01-12 11:00 +1), Change::CustomerReply),
            (datetime!(2026-01-12 11:30 +1), Change::CustomerReply),
        ];
        let next = at(datetime!(2026-01-12 12:00 +1), &events).next_response.expect("owed");
        // Started by the first unanswered reply, not restarted by the second.
        assert_eq!((next.started_at, next.state), (datetime!(2026-01-12 11:00 +1), ClockState::Running));
        assert_eq!(next.due_at, Some(datetime!(2026-01-12 13:00 +1)));

        let mut answered = events.to_vec();
        answered.push((datetime!(2026-01-12 12:30 +1), Change::StaffReply));
        let met = at(datetime!(2026-01-12 14:00 +1), &answered).next_response.unwrap();
        assert_eq!((met.state, met.met_at, met.breached_at), (ClockState::Met, Some(datetime!(2026-01-12 12:30 +1)), None));

        // The customer's next reply restarts it: 60 minutes on Monday, 60 on Tuesday.
        answered.push((datetime!(2026-01-12 16:00 +1), Change::CustomerReply));
        let again = at(datetime!(2026-01-12 16:30 +1), &answered).next_response.unwrap();
        assert_eq!((again.started_at, again.met_at), (datetime!(2026-01-12 16:00 +1), None));
        assert_eq!(again.due_at, Some(datetime!(2026-01-13 10:00 +1)));
    }

    #[test]
    fn a_customer_reply_before_any_answer_is_covered_by_first_response() {
        let c = at(datetime!(2026-01-12 12:00 +1), &[(datetime!(2026-01-12 09:05 +1), Change::CustomerReply)]);
        assert_eq!(c.next_response, None);
        assert!(c.first_response.unwrap().is_breached());
    }

    #[test]
    fn resolved_meets_resolution_and_reopening_resumes_it_with_the_time_left() {
        let resolved = [(datetime!(2026-01-12 10:00 +1), Change::Status(CaseStatus::Resolved))];
        let c = at(datetime!(2026-01-13 12:00 +1), &resolved);
        let resolution = c.resolution.unwrap();
        assert_eq!((resolution.state, resolution.met_at, resolution.remaining_minutes), (ClockState::Met, Some(datetime!(2026-01-12 10:00 +1)), 390));
        // The response clock is paused while resolved.
        assert_eq!(c.first_response.unwrap().state, ClockState::Paused);

        let mut reopened = resolved.to_vec();
        reopened.push((datetime!(2026-01-14 09:00 +1), REOPENED));
        let resumed = at(datetime!(2026-01-14 09:00 +1), &reopened).resolution.unwrap();
        assert_eq!((resumed.state, resumed.met_at, resumed.remaining_minutes), (ClockState::Running, None, 390));
        assert_eq!(resumed.due_at, Some(datetime!(2026-01-14 15:30 +1)));
    }

    #[test]
    fn a_final_status_stops_the_clocks_without_a_verdict() {
        let c = at(datetime!(2026-01-14 12:00 +1), &[(datetime!(2026-01-12 09:15 +1), Change::Status(CaseStatus::Cancelled))]);
        let first = c.first_response.unwrap();
        assert_eq!((first.state, first.met_at, first.breached_at, first.remaining_minutes), (ClockState::Stopped, None, None, 15));
        assert_eq!(c.resolution.unwrap().state, ClockState::Stopped);
        // Closed is a resolution, though.
        let closed = at(datetime!(2026-01-14 12:00 +1), &[(datetime!(2026-01-12 09:15 +1), Change::Status(CaseStatus::Closed))]);
        assert_eq!(closed.resolution.unwrap().state, ClockState::Met);
    }

    #[test]
    fn a_priority_change_retargets_the_running_clocks() {
        // Monday 09:00: 30 minutes used of first response; Urgent allows 15 in all.
        let urgent = [(datetime!(2026-01-12 09:00 +1), Change::Priority(Priority::Urgent))];
        let first = at(datetime!(2026-01-12 09:01 +1), &urgent).first_response.unwrap();
        assert_eq!(first.target_minutes, 15);
        // Lowered below the time used: breached the moment it was set.
        assert_eq!(first.breached_at, Some(datetime!(2026-01-12 09:00 +1)));
        assert_eq!(first.remaining_minutes, -16);
        // Resolution: 240 minutes, 30 used.
        let resolution = at(datetime!(2026-01-12 09:01 +1), &urgent).resolution.unwrap();
        assert_eq!(resolution.due_at, Some(datetime!(2026-01-12 12:30 +1)));

        // Low has no targets: no clocks; back to Normal, they count on from what was used.
        let low = [(datetime!(2026-01-09 16:40 +1), Change::Priority(Priority::Low))];
        assert_eq!(at(datetime!(2026-01-12 12:00 +1), &low), Clocks::default());
        let back = [low[0], (datetime!(2026-01-12 09:00 +1), Change::Priority(Priority::Normal))];
        let first = at(datetime!(2026-01-12 09:10 +1), &back).first_response.unwrap();
        assert_eq!((first.remaining_minutes, first.breached_at), (20, None));
    }

    #[test]
    fn a_breach_stays_a_breach_when_the_target_is_raised() {
        let events =
            [(datetime!(2026-01-12 09:00 +1), Change::Priority(Priority::Urgent)), (datetime!(2026-01-12 09:05 +1), Change::Priority(Priority::Normal))];
        let first = at(datetime!(2026-01-12 09:10 +1), &events).first_response.unwrap();
        assert_eq!(first.breached_at, Some(datetime!(2026-01-12 09:00 +1)));
        assert_eq!(first.remaining_minutes, 20);
    }

    #[test]
    fn events_before_the_creation_or_after_the_instant_are_clamped_or_ignored() {
        let c = at(datetime!(2026-01-12 09:10 +1), &[(datetime!(2026-01-12 10:00 +1), Change::StaffReply)]);
        assert_eq!(c.first_response.unwrap().state, ClockState::Running);
        let early = at(datetime!(2026-01-12 09:10 +1), &[(datetime!(2026-01-01 10:00 +1), PENDING)]);
        assert_eq!(early.first_response.unwrap().remaining_minutes, 60);
        assert_eq!(at(datetime!(2026-01-09 16:00 +1), &[]), Clocks::default());
    }

    // Properties on random timelines of a case created in 2026.

    fn change() -> impl Strategy<Value = Change> {
        let status = proptest::sample::select(CaseStatus::ALL.to_vec()).prop_map(Change::Status);
        let priority = proptest::sample::select(vec![Priority::Low, Priority::Normal, Priority::High, Priority::Urgent]).prop_map(Change::Priority);
        prop_oneof![3 => status, 1 => priority, 2 => Just(Change::StaffReply), 2 => Just(Change::CustomerReply)]
    }

    /// A timeline over up to three weeks, at times to the second, and an instant after it.
    pub(crate) fn case() -> impl Strategy<Value = (Timeline, OffsetDateTime)> {
        let start = 1_767_225_600i64; // 2026-01-01T00:00Z
        (0i64..31_536_000, prop::collection::vec((0i64..1_814_400, change()), 0..12), 0i64..2_419_200).prop_map(move |(created, events, after)| {
            let created_at = OffsetDateTime::from_unix_timestamp(start + created).unwrap();
            let events = events.into_iter().map(|(offset, change)| Event { at: created_at + time::Duration::seconds(offset), change }).collect();
            (Timeline { created_at, priority: Priority::Normal, status: CaseStatus::New, events }, created_at + time::Duration::seconds(after))
        })
    }

    pub(crate) fn targets() -> PriorityTargets {
        let high = Targets { first_response_minutes: Some(30), next_response_minutes: None, resolution_minutes: Some(960) };
        PriorityTargets { high, ..gold() }
    }

    /// The status in force at `t` (after every event at `t`).
    fn status_at(timeline: &Timeline, t: OffsetDateTime) -> CaseStatus {
        let mut events = timeline.events.clone();
        events.sort_by_key(|e| whole_minute(e.at));
        events
            .iter()
            .filter(|e| whole_minute(e.at) <= whole_minute(t))
            .filter_map(|e| match e.change {
                Change::Status(s) => Some(s),
                _ => None,
            })
            .next_back()
            .unwrap_or(timeline.status)
    }

    proptest! {
        #[test]
        fn pausing_for_no_time_changes_nothing((timeline, now) in case(), offset in 0i64..1_814_400) {
            let t = timeline.created_at + time::Duration::seconds(offset);
            let before = clocks(&GOLD_HOURS, &targets(), &timeline, now);
            let mut paused = timeline.clone();
            let back = status_at(&timeline, t);
            paused.events.push(Event { at: t, change: PENDING });
            paused.events.push(Event { at: t, change: Change::Status(back) });
            prop_assert_eq!(clocks(&GOLD_HOURS, &targets(), &paused, now), before);
        }

        #[test]
        fn due_times_are_whole_minutes_in_business_hours((timeline, now) in case()) {
            let c = clocks(&GOLD_HOURS, &targets(), &timeline, now);
            for clock in [c.first_response, c.next_response, c.resolution].into_iter().flatten() {
                let due = clock.due_at.expect("the calendar has business time every week");
                prop_assert_eq!(due, whole_minute(due));
                prop_assert!(GOLD_HOURS.is_open(due - time::Duration::MINUTE), "{due} is outside business hours");
                if let Some(breached) = clock.breached_at {
                    prop_assert!(clock.met_at.is_none_or(|met| breached < met));
                    prop_assert!(breached <= now);
                }
            }
        }

        #[test]
        fn a_pause_moves_the_due_time_by_its_business_minutes(created in 0i64..525_600, pause in 0i64..3_400, length in 0i64..7_000) {
            let created_at = OffsetDateTime::from_unix_timestamp(1_767_225_600 + created * 60).unwrap();
            let from = created_at + time::Duration::minutes(pause);
            let to = from + time::Duration::minutes(length);
            let plain = Timeline { created_at, priority: Priority::Normal, status: CaseStatus::New, events: vec![] };
            let with_pause = Timeline { events: vec![Event { at: from, change: PENDING }, Event { at: to, change: REOPENED }], ..plain.clone() };
            let due = clocks(&GOLD_HOURS, &gold(), &plain, to).resolution.unwrap().due_at.unwrap();
            prop_assume!(from < due);
            let moved = clocks(&GOLD_HOURS, &gold(), &with_pause, to).resolution.unwrap().due_at.unwrap();
            prop_assert_eq!(GOLD_HOURS.business_minutes_between(created_at, moved), 480 + GOLD_HOURS.business_minutes_between(from, to));
        }
    }

    #[test]
    fn targets_are_validated_naming_the_field() {
        let field = |t: PriorityTargets| match t.validated("targets") {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(PriorityTargets::default()), "targets");
        let mut t = gold();
        t.high.resolution_minutes = Some(0);
        assert_eq!(field(t), "targets.High.resolution_minutes");
        t.high.resolution_minutes = Some(MAX_TARGET_MINUTES + 1);
        assert_eq!(field(t), "targets.High.resolution_minutes");
        t.high.resolution_minutes = Some(MAX_TARGET_MINUTES);
        assert!(t.validated("targets").is_ok());
        let json: PriorityTargets = serde_json::from_value(serde_json::json!({"Urgent": {"first_response_minutes": 15}})).unwrap();
        assert_eq!(json.urgent.first_response_minutes, Some(15));
        assert!(serde_json::from_value::<PriorityTargets>(serde_json::json!({"urgent": {}})).is_err());
    }

    fn any_change() -> impl Strategy<Value = Change> {
        prop_oneof![
            Just(Change::StaffReply),
            Just(Change::CustomerReply),
            Just(Change::Status(CaseStatus::Pending)),
            Just(Change::Status(CaseStatus::Reopened)),
            Just(Change::Status(CaseStatus::Resolved)),
            Just(Change::Priority(Priority::Urgent)),
            Just(Change::Priority(Priority::Normal)),
        ]
    }

    proptest! {
        /// What a case stores drops a reply of the same side as the previous reply: that must
        /// never change a clock, whatever happens in between.
        #[test]
        fn the_stored_timeline_drops_only_replies_that_change_no_clock(steps in prop::collection::vec((0i64..600, any_change()), 0..25)) {
            let mut at = FRIDAY_1630;
            let mut stored = CaseTimeline::new(None, Priority::Normal, CaseStatus::New);
            let mut full = Vec::new();
            for (minutes, change) in steps {
                at += time::Duration::minutes(minutes);
                stored.record(at, change);
                full.push((at, change));
            }
            let end = at + time::Duration::days(3);
            prop_assert_eq!(clocks(&GOLD_HOURS, &gold(), &stored.timeline(FRIDAY_1630), end), clocks(&GOLD_HOURS, &gold(), &timeline(&full), end));
        }
    }

    #[test]
    fn a_stored_timeline_reads_back_as_written() {
        let mut stored = CaseTimeline::new(None, Priority::High, CaseStatus::Assigned);
        stored.record(FRIDAY_1630, Change::Status(CaseStatus::Pending));
        stored.record(FRIDAY_1630, Change::Priority(Priority::Urgent));
        stored.record(FRIDAY_1630, Change::StaffReply);
        stored.record(FRIDAY_1630, Change::StaffReply);
        assert_eq!(stored.events.len(), 3, "the second staff reply in a row is dropped");
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["events"][1], serde_json::json!({"at": "2026-01-09T16:30:00+01:00", "change": {"kind": "priority", "to": "Urgent"}}));
        assert_eq!(serde_json::from_value::<CaseTimeline>(json).unwrap(), stored);
    }
}
