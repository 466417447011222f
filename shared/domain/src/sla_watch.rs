//! Watching a case's SLA clocks (SPEC F51): which warnings and breaches are owed an
//! announcement now, when the next one falls, and what the case lists' SLA indexes say about it.
//!
//! [`watch`] is a pure function of the case's [`Clocks`] at an instant, the agreement's warning
//! share, the calendar and the alerts already announced. The watcher
//! (`Cases::watch_sla`) stores its answer beside the case: the alerts announced (so a
//! redelivered event or two watchers at once announce nothing twice) and the instants the
//! indexes sort by.
//!
//! # Once per clock run
//!
//! An alert is named by its clock, its kind and the instant the clock's run started
//! ([`Alert::key`]): first response and resolution have one run per case, next response one per
//! unanswered customer reply. Naming it by its due time instead would announce a warning again
//! after every pause (a pause moves the due time) and after every priority change. So each run
//! warns at most once and breaches at most once, however its due time moves.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::calendar::Schedule;
use crate::sla::{Clock, ClockKind, ClockState, Clocks};

/// How many of next response's newest runs keep their announced keys.
const NEXT_RESPONSE_RUNS_KEPT: usize = 8;

/// What an alert says about a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The clock used its agreement's warning share of the target.
    Warning,
    /// The clock's target ran out before it was met.
    Breach,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Warning => "warning",
            AlertKind::Breach => "breach",
        }
    }
}

/// One announcement a clock run owes, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub clock: ClockKind,
    pub kind: AlertKind,
    /// When the run it belongs to started.
    pub run_started_at: OffsetDateTime,
    /// When it falls: the warning share reached, or the first minute past the due time.
    pub at: OffsetDateTime,
    /// The due time it is about.
    pub due_at: OffsetDateTime,
}

impl Alert {
    /// Names it once and for all (see the module's comment).
    pub fn key(&self) -> String {
        alert_key(self.clock, self.kind, self.run_started_at)
    }
}

fn alert_key(clock: ClockKind, kind: AlertKind, run_started_at: OffsetDateTime) -> String {
    format!("{}:{}:{}", clock.as_str(), kind.as_str(), run_started_at.unix_timestamp())
}

/// The run start (epoch seconds) an [`alert_key`] of next response names; `None` for other keys.
fn next_response_run(key: &str) -> Option<i64> {
    key.strip_prefix("next_response:")?.rsplit(':').next()?.parse().ok()
}

/// What the watcher does about a case at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watch {
    /// Alerts to announce now, in the order they fell.
    pub announce: Vec<Alert>,
    /// The keys to keep as announced: those announced now and before (of next response, only
    /// its newest runs').
    pub announced: BTreeSet<String>,
    /// The next instant something will be owed: when the watcher must look again.
    pub alarm_at: Option<OffsetDateTime>,
    /// The earliest due time of a running clock not yet met (past, when overdue).
    pub next_due: Option<(ClockKind, OffsetDateTime)>,
    /// When the earliest breach of a clock still owed (running or paused) happened.
    pub breached_since: Option<OffsetDateTime>,
}

/// The alerts the clocks owe, announced or not: for each clock still owed (running, or paused
/// after it breached), its breach; for each running one not yet breached, also its warning
/// at `warning_percent` of the target, unless it is already at its due time.
pub fn alerts(schedule: &Schedule, clocks: &Clocks, warning_percent: u8, now: OffsetDateTime) -> Vec<Alert> {
    let now = whole_minute(now);
    let mut alerts = Vec::new();
    for kind in ClockKind::ALL {
        let Some(clock) = clocks.get(kind) else { continue };
        let alert =
            |alert: AlertKind, at: OffsetDateTime, due_at: OffsetDateTime| Alert { clock: kind, kind: alert, run_started_at: clock.started_at, at, due_at };
        match (clock.state, clock.breached_at, clock.due_at) {
            (ClockState::Met | ClockState::Stopped, _, _) => {}
            (_, Some(breached), _) => alerts.push(alert(AlertKind::Breach, breached, clock.due_at.unwrap_or(breached))),
            (ClockState::Running, None, Some(due)) => {
                if let Some(at) = warning_at(schedule, clock, warning_percent, now) {
                    alerts.push(alert(AlertKind::Warning, at, due));
                }
                // A clock breaches once its due instant has passed: the next minute.
                alerts.push(alert(AlertKind::Breach, due + Duration::MINUTE, due));
            }
            (ClockState::Running | ClockState::Paused, None, _) => {}
        }
    }
    alerts.sort_by_key(|a| a.at);
    alerts
}

/// When a running clock reaches `percent` of its target: now if it has, `None` when it is at
/// its due time already (its breach says more) or the calendar has no business time left.
fn warning_at(schedule: &Schedule, clock: &Clock, percent: u8, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if clock.remaining_minutes <= 0 {
        return None;
    }
    let left_at_warning = left_at_warning(clock.target_minutes, percent);
    if clock.remaining_minutes <= left_at_warning {
        return Some(now);
    }
    schedule.add_business_minutes(now, u32::try_from(clock.remaining_minutes - left_at_warning).ok()?)
}

/// The business minutes a clock has left when it has used `percent` of its target (rounded up,
/// so a warning never comes early).
fn left_at_warning(target_minutes: u32, percent: u8) -> i64 {
    let target = i64::from(target_minutes);
    target - (target * i64::from(percent.clamp(1, 99)) + 99) / 100
}

/// Whether a clock is at risk: still owed, not breached, past `percent` of its target.
pub fn at_warning(clock: &Clock, percent: u8) -> bool {
    matches!(clock.state, ClockState::Running | ClockState::Paused)
        && clock.breached_at.is_none()
        && clock.remaining_minutes <= left_at_warning(clock.target_minutes, percent)
}

/// What to do about a case whose clocks are `clocks` at `now`, given the alerts already
/// announced (by key).
pub fn watch(schedule: &Schedule, clocks: &Clocks, warning_percent: u8, announced: &BTreeSet<String>, now: OffsetDateTime) -> Watch {
    let now = whole_minute(now);
    let owed = alerts(schedule, clocks, warning_percent, now);
    let mut watch = Watch::default();
    for alert in owed.iter().filter(|alert| !announced.contains(&alert.key())) {
        if alert.at <= now {
            watch.announced.insert(alert.key());
            watch.announce.push(alert.clone());
        } else {
            watch.alarm_at = Some(watch.alarm_at.map_or(alert.at, |a| a.min(alert.at)));
        }
    }
    // Announced keys stay: a clock that is gone for a while (its case moved to a priority
    // without a target) and comes back must not announce again, nor a met run that reopens.
    // Only next response has more than one run (one per unanswered customer reply); the keys
    // of its newest runs are enough, so the item cannot grow with a long conversation.
    watch.announced.extend(announced.iter().cloned());
    let next_runs: BTreeSet<i64> = watch.announced.iter().filter_map(|k| next_response_run(k)).collect();
    if let Some(&oldest_kept) = next_runs.iter().rev().nth(NEXT_RESPONSE_RUNS_KEPT - 1) {
        watch.announced.retain(|k| next_response_run(k).is_none_or(|run| run >= oldest_kept));
    }
    for kind in ClockKind::ALL {
        let Some(clock) = clocks.get(kind) else { continue };
        if clock.state == ClockState::Running
            && let Some(due) = clock.due_at
            && watch.next_due.is_none_or(|(_, d)| due < d)
        {
            watch.next_due = Some((kind, due));
        }
        if matches!(clock.state, ClockState::Running | ClockState::Paused)
            && let Some(breached) = clock.breached_at
        {
            watch.breached_since = Some(watch.breached_since.map_or(breached, |b| b.min(breached)));
        }
    }
    watch
}

fn whole_minute(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp().div_euclid(60) * 60).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarFields, Interval, WeeklyHours};
    use crate::model::{CaseStatus, Priority};
    use crate::sla::{Change, Event, PriorityTargets, Targets, Timeline, clocks};
    use time::macros::datetime;

    /// Mon–Fri 09:00–17:00 in Europe/Berlin.
    fn gold_hours() -> Schedule {
        let day = vec![Interval::new("09:00", "17:00")];
        let hours = WeeklyHours { monday: day.clone(), tuesday: day.clone(), wednesday: day.clone(), thursday: day.clone(), friday: day, ..Default::default() };
        CalendarFields { name: "Gold".into(), time_zone: "Europe/Berlin".into(), hours, holidays: vec![] }.schedule().expect("a valid calendar")
    }

    /// First response 60, resolution 480 business minutes, next response 120.
    fn gold() -> PriorityTargets {
        let normal = Targets { first_response_minutes: Some(60), next_response_minutes: Some(120), resolution_minutes: Some(480) };
        PriorityTargets { normal, ..Default::default() }
    }

    // 9 January 2026 is a Friday; Berlin is UTC+1 then.
    const CREATED: OffsetDateTime = datetime!(2026-01-09 16:30 +1);

    fn clocks_at(now: OffsetDateTime, events: &[(OffsetDateTime, Change)]) -> Clocks {
        let timeline = Timeline {
            created_at: CREATED,
            priority: Priority::Normal,
            status: CaseStatus::New,
            events: events.iter().map(|&(at, change)| Event { at, change }).collect(),
        };
        clocks(&gold_hours(), &gold(), &timeline, now)
    }

    fn watch_at(now: OffsetDateTime, events: &[(OffsetDateTime, Change)], announced: &BTreeSet<String>) -> Watch {
        watch(&gold_hours(), &clocks_at(now, events), 80, announced, now)
    }

    #[test]
    fn a_new_case_owes_its_warnings_and_breaches_at_the_business_instants() {
        let w = watch_at(CREATED, &[], &BTreeSet::new());
        assert!(w.announce.is_empty());
        // 48 of the first response's 60 minutes: 30 on Friday, 18 on Monday.
        assert_eq!(w.alarm_at, Some(datetime!(2026-01-12 09:18 +1)));
        assert_eq!(w.next_due, Some((ClockKind::FirstResponse, datetime!(2026-01-12 09:30 +1))));
        assert_eq!(w.breached_since, None);
        let owed = alerts(&gold_hours(), &clocks_at(CREATED, &[]), 80, CREATED);
        let summary: Vec<(ClockKind, AlertKind, OffsetDateTime)> = owed.iter().map(|a| (a.clock, a.kind, a.at)).collect();
        assert_eq!(
            summary,
            vec![
                (ClockKind::FirstResponse, AlertKind::Warning, datetime!(2026-01-12 09:18 +1)),
                (ClockKind::FirstResponse, AlertKind::Breach, datetime!(2026-01-12 09:31 +1)),
                // 384 of 480: 30 on Friday, 354 on Monday (09:00 + 5 h 54); due Monday 16:30.
                (ClockKind::Resolution, AlertKind::Warning, datetime!(2026-01-12 14:54 +1)),
                (ClockKind::Resolution, AlertKind::Breach, datetime!(2026-01-12 16:31 +1)),
            ]
        );
    }

    #[test]
    fn each_alert_is_announced_once_however_often_it_is_watched() {
        let mut announced = BTreeSet::new();
        let mut seen = Vec::new();
        let mut now = CREATED;
        while now < datetime!(2026-01-13 12:00 +1) {
            let w = watch_at(now, &[], &announced);
            seen.extend(w.announce.iter().map(|a| (a.clock, a.kind)));
            announced = w.announced;
            now += Duration::minutes(7);
        }
        assert_eq!(
            seen,
            vec![
                (ClockKind::FirstResponse, AlertKind::Warning),
                (ClockKind::FirstResponse, AlertKind::Breach),
                (ClockKind::Resolution, AlertKind::Warning),
                (ClockKind::Resolution, AlertKind::Breach),
            ]
        );
    }

    #[test]
    fn a_watcher_that_was_away_announces_the_breach_not_the_stale_warning() {
        let w = watch_at(datetime!(2026-01-12 10:00 +1), &[], &BTreeSet::new());
        let announced: Vec<(ClockKind, AlertKind)> = w.announce.iter().map(|a| (a.clock, a.kind)).collect();
        assert_eq!(announced, vec![(ClockKind::FirstResponse, AlertKind::Breach)]);
        assert_eq!(w.breached_since, Some(datetime!(2026-01-12 09:30 +1)));
        // Resolution's warning is the next thing owed.
        assert_eq!(w.alarm_at, Some(datetime!(2026-01-12 14:54 +1)));
    }

    #[test]
    fn a_pause_after_the_warning_does_not_warn_again_when_the_clock_resumes() {
        let warned = watch_at(datetime!(2026-01-12 09:20 +1), &[], &BTreeSet::new());
        assert_eq!(warned.announce.len(), 1);
        let events =
            [(datetime!(2026-01-12 09:21 +1), Change::Status(CaseStatus::Pending)), (datetime!(2026-01-14 09:00 +1), Change::Status(CaseStatus::Reopened))];
        let paused = watch_at(datetime!(2026-01-13 09:00 +1), &events[..1], &warned.announced);
        assert!(paused.announce.is_empty());
        assert_eq!(paused.next_due, None, "a paused clock is due nowhere");
        assert_eq!(paused.alarm_at, None);
        let resumed = watch_at(datetime!(2026-01-14 09:01 +1), &events, &paused.announced);
        assert!(resumed.announce.is_empty(), "the run warned already: {:?}", resumed.announce);
        // 9 minutes were left at the pause.
        assert_eq!(resumed.next_due, Some((ClockKind::FirstResponse, datetime!(2026-01-14 09:09 +1))));
        assert_eq!(resumed.alarm_at, Some(datetime!(2026-01-14 09:10 +1)));
    }

    #[test]
    fn a_met_clock_owes_nothing_and_a_new_next_response_run_warns_afresh() {
        let events = [(datetime!(2026-01-12 09:10 +1), Change::StaffReply), (datetime!(2026-01-12 10:00 +1), Change::CustomerReply)];
        let first = watch_at(datetime!(2026-01-12 11:40 +1), &events, &BTreeSet::new());
        let announced: Vec<(ClockKind, AlertKind)> = first.announce.iter().map(|a| (a.clock, a.kind)).collect();
        // 96 of next response's 120 minutes went by at 11:36.
        assert_eq!(announced, vec![(ClockKind::NextResponse, AlertKind::Warning)]);
        let more = [events[0], events[1], (datetime!(2026-01-12 11:45 +1), Change::StaffReply), (datetime!(2026-01-12 12:00 +1), Change::CustomerReply)];
        let second = watch_at(datetime!(2026-01-12 13:40 +1), &more, &first.announced);
        let announced: Vec<(ClockKind, AlertKind)> = second.announce.iter().map(|a| (a.clock, a.kind)).collect();
        assert_eq!(announced, vec![(ClockKind::NextResponse, AlertKind::Warning)]);
        // Both runs' warnings are kept as announced.
        assert_eq!(second.announced.iter().filter(|k| k.starts_with("next_response")).count(), 2);
        assert!(second.announced.iter().all(|k| !k.starts_with("first_response")), "first response was met before it warned");
    }

    #[test]
    fn a_breached_clock_paused_stays_breached_and_leaves_the_due_list() {
        let events = [(datetime!(2026-01-12 10:00 +1), Change::Status(CaseStatus::Pending))];
        let w = watch_at(datetime!(2026-01-12 11:00 +1), &events, &BTreeSet::new());
        assert_eq!(w.next_due, None);
        assert_eq!(w.breached_since, Some(datetime!(2026-01-12 09:30 +1)));
        let announced: Vec<(ClockKind, AlertKind)> = w.announce.iter().map(|a| (a.clock, a.kind)).collect();
        assert_eq!(announced, vec![(ClockKind::FirstResponse, AlertKind::Breach)]);
    }

    #[test]
    fn a_clock_that_is_gone_for_a_while_does_not_announce_again() {
        // Warned at 09:20, then Low (no target: no clock), then Normal again.
        let warned = watch_at(datetime!(2026-01-12 09:20 +1), &[], &BTreeSet::new());
        assert_eq!(warned.announce.len(), 1);
        let events = [(datetime!(2026-01-12 09:21 +1), Change::Priority(Priority::Low)), (datetime!(2026-01-12 09:25 +1), Change::Priority(Priority::Normal))];
        let low = watch_at(datetime!(2026-01-12 09:22 +1), &events[..1], &warned.announced);
        assert!(low.announce.is_empty() && low.next_due.is_none());
        let back = watch_at(datetime!(2026-01-12 09:26 +1), &events, &low.announced);
        assert!(back.announce.is_empty(), "{:?}", back.announce);
    }

    #[test]
    fn only_the_newest_next_response_runs_keep_their_keys() {
        let announced: BTreeSet<String> = (0..20)
            .map(|n| alert_key(ClockKind::NextResponse, AlertKind::Warning, CREATED + Duration::hours(n)))
            .chain([alert_key(ClockKind::FirstResponse, AlertKind::Warning, CREATED)])
            .collect();
        let w = watch(&gold_hours(), &Clocks::default(), 80, &announced, CREATED + Duration::days(2));
        assert_eq!(w.announced.len(), NEXT_RESPONSE_RUNS_KEPT + 1);
        assert!(w.announced.contains(&alert_key(ClockKind::NextResponse, AlertKind::Warning, CREATED + Duration::hours(19))));
        assert!(!w.announced.contains(&alert_key(ClockKind::NextResponse, AlertKind::Warning, CREATED + Duration::hours(11))));
        assert!(w.announced.contains(&alert_key(ClockKind::FirstResponse, AlertKind::Warning, CREATED)));
    }

    mod properties {
        use super::super::*;
        use crate::sla::clocks;
        use crate::sla::tests::{GOLD_HOURS, case, targets};
        use proptest::prelude::*;

        proptest! {
            /// Looked at any instants in order, a case announces each alert at most once, a
            /// breach only once its clock has breached, nothing before it falls, and the next
            /// alarm always after the look; a last look leaves no breach of a clock still owed
            /// unannounced.
            #[test]
            fn alerts_are_announced_once_and_only_when_due((timeline, end) in case(), looks in prop::collection::vec(0i64..2_419_200, 1..16)) {
                let mut looks: Vec<OffsetDateTime> = looks.into_iter().map(|s| timeline.created_at + Duration::seconds(s)).filter(|t| *t <= end).collect();
                looks.sort();
                looks.push(end);
                let mut announced = BTreeSet::new();
                let mut seen = BTreeSet::new();
                for now in looks {
                    let clocks = clocks(&GOLD_HOURS, &targets(), &timeline, now);
                    let w = watch(&GOLD_HOURS, &clocks, 80, &announced, now);
                    for alert in &w.announce {
                        prop_assert!(seen.insert(alert.key()), "{} announced twice", alert.key());
                        prop_assert!(alert.at <= now, "{alert:?} before it fell at {now}");
                        let clock = clocks.get(alert.clock).expect("an alert of a clock the case has");
                        if alert.kind == AlertKind::Breach {
                            prop_assert!(clock.breached_at.is_some(), "{alert:?} of a clock not breached: {clock:?}");
                        }
                    }
                    prop_assert!(w.alarm_at.is_none_or(|alarm| alarm > now), "alarm {:?} not after {now}", w.alarm_at);
                    announced = w.announced;
                }
                let last = clocks(&GOLD_HOURS, &targets(), &timeline, end);
                for kind in ClockKind::ALL {
                    if let Some(clock) = last.get(kind)
                        && matches!(clock.state, ClockState::Running | ClockState::Paused)
                        && clock.breached_at.is_some()
                    {
                        prop_assert!(announced.contains(&alert_key(kind, AlertKind::Breach, clock.started_at)), "{kind:?} breached but not announced");
                    }
                }
            }
        }
    }
}
