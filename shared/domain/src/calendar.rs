//! Business-hours calendars for SLA clocks: opening hours per weekday in a time zone, minus
//! holidays, and the arithmetic on them (a due time `n` business minutes after an instant, the
//! business minutes between two instants).
//!
//! [`CalendarFields`] are what an admin writes (strings as typed); [`CalendarFields::validated`]
//! checks and normalises them. A [`Calendar`] is the stored directory entity (`CALENDAR#<id>`,
//! admins only) holding those fields with an id and the audit. The arithmetic lives on
//! [`Schedule`], the compiled form ([`CalendarFields::schedule`], [`Calendar::schedule`]): zone
//! resolved, times parsed, holidays in sets, so that computing many due times parses nothing again
//! and needs no error handling per call.
//!
//! # Wall-clock bounds and daylight saving time
//!
//! Hours are local wall-clock times; each bound is turned into an instant with jiff and the zone's
//! rules, and business time is real elapsed time between those instants. So an interval 01:00–04:00
//! holds 120 minutes on a spring-forward night in Europe/Berlin and 240 on a fall-back night, and a
//! 09:00–17:00 day is always 480 minutes at the right local times.
//!
//! A bound that falls in a gap (a wall time that does not exist, e.g. 02:30 when clocks jump from
//! 02:00 to 03:00) is the moment of the jump: the first instant at which the clock shows that time
//! or later. A bound that falls in a fold (a wall time that occurs twice) is its first occurrence.
//! Why not jiff's `compatible` strategy: it maps a gap time *forward* by the gap's length (02:30 to
//! 03:30), which is later than 03:00 itself, so two intervals 01:00–02:30 and 03:00–05:00 would
//! overlap and count the same minutes twice. The rule used here never moves a later wall time to an
//! earlier instant, so intervals stay ordered and disjoint on the time line.

use std::collections::HashSet;
use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::directory::{Entity, IdFor, WritePolicy, entity_accessors};
use crate::error::{DomainError, DomainResult};
use crate::ids::{CalendarId, Id};
use crate::model::Audit;
use crate::validate;

/// Most intervals in one day.
pub const MAX_INTERVALS_PER_DAY: usize = 8;
/// Most holidays in one calendar.
pub const MAX_HOLIDAYS: usize = 1000;
/// Longest calendar name, in characters.
pub const MAX_CALENDAR_NAME: usize = 100;
/// How many consecutive days without any business time a search walks before it gives up (ten
/// years): holidays could close every open day, and a search must end.
pub const MAX_CLOSED_DAYS: u32 = 3660;

const NANOS_PER_MINUTE: i128 = 60_000_000_000;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// The IANA time zone database compiled into the binary. Read explicitly (not through
/// `jiff::tz::db()`) so that another crate turning on jiff's system-database features cannot make
/// answers depend on the machine's `/usr/share/zoneinfo`.
static ZONES: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// Business hours in a time zone, with holidays, as an admin writes them: the fields of a
/// [`Calendar`], and the clock SLA targets count on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarFields {
    /// Shown to admins, e.g. "Gold support (Berlin)".
    pub name: String,
    /// The IANA name of the zone the hours and holidays are local to, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// The opening hours of each weekday.
    pub hours: WeeklyHours,
    /// Days closed all day (local midnight to midnight).
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// The opening intervals of each weekday; a day without intervals is closed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub monday: Vec<Interval>,
    #[serde(default)]
    pub tuesday: Vec<Interval>,
    #[serde(default)]
    pub wednesday: Vec<Interval>,
    #[serde(default)]
    pub thursday: Vec<Interval>,
    #[serde(default)]
    pub friday: Vec<Interval>,
    #[serde(default)]
    pub saturday: Vec<Interval>,
    #[serde(default)]
    pub sunday: Vec<Interval>,
}

/// Open from `start` until `end`, local wall-clock times as `HH:MM`; `end` may be `24:00`
/// (midnight at the end of the day).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    #[schema(example = "09:00")]
    pub start: String,
    #[schema(example = "17:00")]
    pub end: String,
}

/// A local day closed all day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    #[schema(example = "2026-12-25")]
    pub date: String,
    /// Closed on this month and day every year (a yearly 29 February closes leap years only).
    #[serde(default)]
    pub yearly: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Interval {
    pub fn new(start: &str, end: &str) -> Self {
        Interval { start: start.to_owned(), end: end.to_owned() }
    }
}

impl WeeklyHours {
    /// The days Monday to Sunday with their names (the names are the JSON fields).
    fn days(&self) -> [(&'static str, &Vec<Interval>); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    fn days_mut(&mut self) -> [(&'static str, &mut Vec<Interval>); 7] {
        [
            ("monday", &mut self.monday),
            ("tuesday", &mut self.tuesday),
            ("wednesday", &mut self.wednesday),
            ("thursday", &mut self.thursday),
            ("friday", &mut self.friday),
            ("saturday", &mut self.saturday),
            ("sunday", &mut self.sunday),
        ]
    }
}

impl CalendarFields {
    /// The calendar as it may be stored: a name of one line, a zone the bundled database knows
    /// (spelt as the database spells it), every day's intervals as valid `HH:MM` times with start
    /// before end, at most [`MAX_INTERVALS_PER_DAY`], sorted and not overlapping (touching is
    /// fine), some business hours in the week, and holidays as valid dates. Errors name the field,
    /// e.g. `hours.monday[1].start`.
    pub fn validated(mut self) -> DomainResult<CalendarFields> {
        self.name = validate::line("name", &self.name, MAX_CALENDAR_NAME)?;
        let zone = zone(&self.time_zone)?;
        if let Some(name) = zone.iana_name() {
            self.time_zone = name.to_owned();
        }
        let mut any = false;
        for (day, intervals) in self.hours.days_mut() {
            let parsed = day_intervals(day, intervals)?;
            any |= !parsed.is_empty();
            *intervals = parsed.iter().map(|&(s, e)| Interval { start: format_minute(s), end: format_minute(e) }).collect();
        }
        if !any {
            return Err(DomainError::invalid("hours", "the week needs some business hours"));
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return Err(DomainError::invalid("holidays", format!("at most {MAX_HOLIDAYS} holidays")));
        }
        for (i, holiday) in self.holidays.iter_mut().enumerate() {
            holiday.date = parse_date(&format!("holidays[{i}].date"), &holiday.date)?.to_string();
            holiday.name = validate::optional_line(&format!("holidays[{i}].name"), holiday.name.as_deref(), MAX_CALENDAR_NAME)?;
        }
        Ok(self)
    }

    /// The compiled form to compute with; fails as [`CalendarFields::validated`] does.
    pub fn schedule(&self) -> DomainResult<Schedule> {
        let calendar = self.clone().validated()?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (slot, (day, intervals)) in week.iter_mut().zip(calendar.hours.days()) {
            *slot = day_intervals(day, intervals)?;
        }
        let mut fixed = HashSet::new();
        let mut yearly = HashSet::new();
        for (i, holiday) in calendar.holidays.iter().enumerate() {
            let date = parse_date(&format!("holidays[{i}].date"), &holiday.date)?;
            if holiday.yearly {
                yearly.insert((date.month(), date.day()));
            } else {
                fixed.insert(date);
            }
        }
        Ok(Schedule { zone: zone(&calendar.time_zone)?, week, fixed, yearly })
    }
}

/// A stored business-hours calendar: what service agreements count their targets on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Calendar {
    pub id: CalendarId,
    pub name: String,
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    pub hours: WeeklyHours,
    pub holidays: Vec<Holiday>,
    #[serde(flatten)]
    pub audit: Audit,
}

impl Calendar {
    /// The compiled form. A stored calendar was validated when written, so this fails only if
    /// the bundled zone database of a newer build no longer knows its zone.
    pub fn schedule(&self) -> DomainResult<Schedule> {
        self.fields().schedule()
    }
}

impl Entity for Calendar {
    const KIND: &'static str = "calendar";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    // Business hours are an admin's configuration; agents will see the due times computed on
    // them, not the calendars.
    const ADMIN_ONLY_READS: bool = true;
    const MOVES_SLA_DUE_TIMES: bool = true;
    type Fields = CalendarFields;

    entity_accessors!();
    fn fields(&self) -> CalendarFields {
        CalendarFields { name: self.name.clone(), time_zone: self.time_zone.clone(), hours: self.hours.clone(), holidays: self.holidays.clone() }
    }
    fn build(id: String, fields: CalendarFields, audit: Audit) -> DomainResult<Self> {
        // The same validation as for a calendar computed with, so a stored one always compiles.
        let CalendarFields { name, time_zone, hours, holidays } = fields.validated()?;
        Ok(Calendar { id: CalendarId::from_trusted(id), name, time_zone, hours, holidays, audit })
    }
}

impl IdFor<Calendar> for CalendarId {
    fn id_str(&self) -> &str {
        self.as_str()
    }
}

/// A validated calendar ready to compute with (see [`CalendarFields::schedule`]).
///
/// Instants are taken and returned as `OffsetDateTime` (returned ones in UTC); internally they are
/// Unix nanoseconds, so seconds and fractions of the inputs are kept.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: TimeZone,
    /// Monday to Sunday: sorted, disjoint (start, end) minutes of the local day, end up to 1440.
    week: [Vec<(u16, u16)>; 7],
    fixed: HashSet<Date>,
    yearly: HashSet<(i8, i8)>,
}

impl Schedule {
    /// The instant at which `minutes` minutes of business time after `start` have elapsed. If
    /// `start` is outside business hours the count begins at the next opening; a count that ends
    /// exactly at a closing time gives that closing time (not the next opening). Zero minutes
    /// give `start` itself.
    ///
    /// `None` when the search finds no business time for [`MAX_CLOSED_DAYS`] days in a row (only
    /// possible when holidays close every open day) or runs past the year 9999.
    pub fn add_business_minutes(&self, start: OffsetDateTime, minutes: u32) -> Option<OffsetDateTime> {
        let from = start.unix_timestamp_nanos();
        let mut need = i128::from(minutes) * NANOS_PER_MINUTE;
        if need == 0 {
            return Some(start);
        }
        let mut result = None;
        self.walk(from, |open, close| {
            let begin = open.max(from);
            if close <= begin {
                return true;
            }
            if close - begin >= need {
                result = Some(begin + need);
                return false;
            }
            need -= close - begin;
            true
        });
        to_offset(result?)
    }

    /// The business minutes in `[from, to)`, 0 when `to <= from`. Both instants are first
    /// truncated to the whole minute (as a clock without a second hand shows them), so the count
    /// is of whole clock minutes and is additive: `between(a, b) + between(b, c) == between(a, c)`
    /// for `a <= b <= c`. It also inverts [`Schedule::add_business_minutes`]:
    /// `between(s, add(s, m)) == m`. (Both hold exactly where the zone's UTC offset is a whole
    /// number of minutes, which is every zone since 1972.)
    pub fn business_minutes_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> u64 {
        let from = floor_minute(from.unix_timestamp_nanos());
        let to = floor_minute(to.unix_timestamp_nanos());
        if to <= from {
            return 0;
        }
        let mut total: i128 = 0;
        self.walk(from, |open, close| {
            if open >= to {
                return false;
            }
            let overlap = close.min(to) - open.max(from);
            if overlap > 0 {
                total += overlap;
            }
            true
        });
        u64::try_from(total / NANOS_PER_MINUTE).unwrap_or(u64::MAX)
    }

    /// Whether `at` is within business hours (an interval holds its start, not its end).
    pub fn is_open(&self, at: OffsetDateTime) -> bool {
        let at = at.unix_timestamp_nanos();
        let Some(date) = self.local_date(at) else { return false };
        // The neighbouring days too: in a fold across midnight, the next day's first interval can
        // begin before an instant whose wall clock still shows the day before.
        [date.yesterday().ok(), Some(date), date.tomorrow().ok()]
            .into_iter()
            .flatten()
            .flat_map(|d| self.intervals_on(d))
            .any(|(open, close)| open <= at && at < close)
    }

    /// The first instant at or after `at` at which the calendar is open (`at` itself when it is
    /// open); `None` as for [`Schedule::add_business_minutes`].
    pub fn next_opening(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let at = at.unix_timestamp_nanos();
        let mut result = None;
        self.walk(at, |open, close| {
            if close <= at {
                return true;
            }
            result = Some(open.max(at));
            false
        });
        to_offset(result?)
    }

    /// Calls `visit` with the business intervals (Unix nanoseconds, `[open, close)`) in time order,
    /// from the local day of `from` on, until `visit` returns false, a run of [`MAX_CLOSED_DAYS`]
    /// days without business time, or the end of the representable dates. Intervals ending before
    /// `from` may be visited; callers clip.
    fn walk(&self, from: i128, mut visit: impl FnMut(i128, i128) -> bool) {
        // Earlier days cannot reach `from`: the day's midnight is at or before `from`.
        let Some(mut date) = self.local_date(from) else { return };
        let mut closed_days = 0;
        loop {
            let intervals = self.intervals_on(date);
            if intervals.is_empty() {
                closed_days += 1;
                if closed_days > MAX_CLOSED_DAYS {
                    return;
                }
            } else {
                closed_days = 0;
            }
            for (open, close) in intervals {
                if !visit(open, close) {
                    return;
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => return,
            }
        }
    }

    /// The business intervals of one local day as instants, without empty ones (an interval
    /// entirely inside a gap).
    fn intervals_on(&self, date: Date) -> Vec<(i128, i128)> {
        if self.fixed.contains(&date) || self.yearly.contains(&(date.month(), date.day())) {
            return Vec::new();
        }
        let day = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        self.week[day]
            .iter()
            .filter_map(|&(start, end)| {
                let open = self.instant(date, start)?;
                let close = self.instant(date, end)?;
                (open < close).then_some((open, close))
            })
            .collect()
    }

    /// The instant of a local wall-clock time (minute of `date`, 1440 being the next midnight):
    /// in a gap the moment of the jump, in a fold the first occurrence (see the module's comment).
    fn instant(&self, date: Date, minute: u16) -> Option<i128> {
        let wall: DateTime = if minute >= MINUTES_PER_DAY {
            date.tomorrow().ok()?.at(0, 0, 0, 0)
        } else {
            date.at(i8::try_from(minute / 60).ok()?, i8::try_from(minute % 60).ok()?, 0, 0)
        };
        let ambiguous = self.zone.to_ambiguous_timestamp(wall);
        let timestamp = match ambiguous.offset() {
            AmbiguousOffset::Gap { .. } => {
                // `earlier` reads the wall time with the offset after the jump, which lands before
                // the jump; the zone's next transition from there is the jump itself.
                let before_jump = ambiguous.earlier().ok()?;
                self.zone.following(before_jump).next()?.timestamp()
            }
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => ambiguous.earlier().ok()?,
        };
        Some(timestamp.as_nanosecond())
    }

    /// The local date of an instant in the calendar's zone (what a date-bounded rule, such as an
    /// agreement's validity, compares with).
    pub fn date_at(&self, at: OffsetDateTime) -> Option<Date> {
        self.local_date(at.unix_timestamp_nanos())
    }

    fn local_date(&self, at: i128) -> Option<Date> {
        Some(self.zone.to_datetime(Timestamp::from_nanosecond(at).ok()?).date())
    }
}

fn zone(name: &str) -> DomainResult<TimeZone> {
    let name = name.trim();
    // jiff's database also answers to names like "UTC"; an empty name or a path is never a zone.
    if name.is_empty() || name.len() > 64 {
        return Err(DomainError::invalid("time_zone", "an IANA time zone such as Europe/Berlin"));
    }
    ZONES.get(name).map_err(|_| DomainError::invalid("time_zone", format!("{name:?} is not an IANA time zone such as Europe/Berlin")))
}

/// One day's intervals parsed, checked and sorted, as minutes of the day.
fn day_intervals(day: &str, intervals: &[Interval]) -> DomainResult<Vec<(u16, u16)>> {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        return Err(DomainError::invalid(&format!("hours.{day}"), format!("at most {MAX_INTERVALS_PER_DAY} intervals a day")));
    }
    let mut parsed = Vec::with_capacity(intervals.len());
    for (i, interval) in intervals.iter().enumerate() {
        let start = parse_minute(&format!("hours.{day}[{i}].start"), &interval.start, false)?;
        let end = parse_minute(&format!("hours.{day}[{i}].end"), &interval.end, true)?;
        if start >= end {
            return Err(DomainError::invalid(&format!("hours.{day}[{i}]"), "the start must be before the end"));
        }
        parsed.push((start, end));
    }
    parsed.sort_unstable();
    if let Some(pair) = parsed.windows(2).find(|pair| pair[1].0 < pair[0].1) {
        return Err(DomainError::invalid(
            &format!("hours.{day}"),
            format!("{}–{} overlaps {}–{}", format_minute(pair[0].0), format_minute(pair[0].1), format_minute(pair[1].0), format_minute(pair[1].1)),
        ));
    }
    Ok(parsed)
}

/// `HH:MM` (two digits each) as the minute of the day; `24:00` only as an end.
fn parse_minute(field: &str, value: &str, end: bool) -> DomainResult<u16> {
    let bytes = value.trim().as_bytes();
    let digit = |i: usize| bytes.get(i).filter(|b| b.is_ascii_digit()).map(|b| u16::from(b - b'0'));
    let parsed = match (bytes.len(), bytes.get(2)) {
        (5, Some(b':')) => digit(0).zip(digit(1)).zip(digit(3).zip(digit(4))).map(|((h1, h2), (m1, m2))| (h1 * 10 + h2, m1 * 10 + m2)),
        _ => None,
    };
    match parsed {
        Some((hour, minute)) if hour < 24 && minute < 60 => Ok(hour * 60 + minute),
        Some((24, 0)) if end => Ok(MINUTES_PER_DAY),
        _ => Err(DomainError::invalid(field, if end { "a time as HH:MM from 00:01 to 24:00" } else { "a time as HH:MM from 00:00 to 23:59" })),
    }
}

fn format_minute(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A date as `YYYY-MM-DD` exactly (jiff alone would also take other ISO 8601 spellings).
pub(crate) fn parse_date(field: &str, value: &str) -> DomainResult<Date> {
    let value = value.trim();
    let shaped = value.len() == 10 && value.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped.then(|| value.parse::<Date>().ok()).flatten().ok_or_else(|| DomainError::invalid(field, "a date as YYYY-MM-DD"))
}

fn floor_minute(nanos: i128) -> i128 {
    nanos.div_euclid(NANOS_PER_MINUTE) * NANOS_PER_MINUTE
}

fn to_offset(nanos: i128) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn iv(spans: &[(&str, &str)]) -> Vec<Interval> {
        spans.iter().map(|(s, e)| Interval::new(s, e)).collect()
    }

    fn weekdays(spans: &[(&str, &str)]) -> WeeklyHours {
        let day = iv(spans);
        WeeklyHours { monday: day.clone(), tuesday: day.clone(), wednesday: day.clone(), thursday: day.clone(), friday: day, ..Default::default() }
    }

    fn every_day(spans: &[(&str, &str)]) -> WeeklyHours {
        WeeklyHours { saturday: iv(spans), sunday: iv(spans), ..weekdays(spans) }
    }

    fn calendar(zone: &str, hours: WeeklyHours, holidays: Vec<Holiday>) -> CalendarFields {
        CalendarFields { name: "Test".into(), time_zone: zone.into(), hours, holidays }
    }

    fn schedule(zone: &str, hours: WeeklyHours) -> Schedule {
        calendar(zone, hours, vec![]).schedule().unwrap()
    }

    fn holiday(date: &str, yearly: bool) -> Holiday {
        Holiday { date: date.into(), yearly, name: None }
    }

    /// Mon–Fri 09:00–17:00 in Berlin.
    fn gold() -> Schedule {
        schedule("Europe/Berlin", weekdays(&[("09:00", "17:00")]))
    }

    /// A local wall-clock time (`2026-01-09T16:30`) that exists exactly once in `zone`.
    fn at(zone: &str, local: &str) -> OffsetDateTime {
        let dt: DateTime = local.parse().unwrap();
        let ts = ZONES.get(zone).unwrap().to_ambiguous_timestamp(dt).unambiguous().unwrap();
        OffsetDateTime::from_unix_timestamp_nanos(ts.as_nanosecond()).unwrap()
    }

    /// The local wall-clock time of an instant, `2026-01-09T16:30`.
    fn local(zone: &str, t: OffsetDateTime) -> String {
        let ts = Timestamp::from_nanosecond(t.unix_timestamp_nanos()).unwrap();
        ZONES.get(zone).unwrap().to_datetime(ts).strftime("%Y-%m-%dT%H:%M").to_string()
    }

    fn add(s: &Schedule, zone: &str, start: &str, minutes: u32) -> String {
        local(zone, s.add_business_minutes(at(zone, start), minutes).unwrap())
    }

    const BERLIN: &str = "Europe/Berlin";
    const NEW_YORK: &str = "America/New_York";

    // 2026-01-09 is a Friday; no clock change near it.
    #[test]
    fn gold_first_response_and_resolution_over_a_weekend() {
        let s = gold();
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:30", 60), "2026-01-12T09:30");
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:30", 480), "2026-01-12T16:30");
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:30", 510), "2026-01-12T17:00");
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:30", 511), "2026-01-13T09:01");
    }

    #[test]
    fn a_count_ending_at_closing_time_gives_the_closing_time() {
        let s = gold();
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:00", 60), "2026-01-09T17:00");
        assert_eq!(add(&s, BERLIN, "2026-01-09T16:00", 61), "2026-01-12T09:01");
    }

    #[test]
    fn zero_minutes_give_the_start() {
        let start = at(BERLIN, "2026-01-10T12:00");
        assert_eq!(gold().add_business_minutes(start, 0), Some(start));
    }

    #[test]
    fn lunch_break_splits_the_day() {
        let s = schedule(BERLIN, weekdays(&[("13:00", "17:00"), ("09:00", "12:00")]));
        assert_eq!(add(&s, BERLIN, "2026-01-13T11:30", 30), "2026-01-13T12:00");
        assert_eq!(add(&s, BERLIN, "2026-01-13T11:30", 60), "2026-01-13T13:30");
        assert_eq!(add(&s, BERLIN, "2026-01-13T12:15", 15), "2026-01-13T13:15");
        assert_eq!(add(&s, BERLIN, "2026-01-13T09:00", 420), "2026-01-13T17:00");
        assert_eq!(add(&s, BERLIN, "2026-01-13T09:00", 421), "2026-01-14T09:01");
        assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-13T00:00"), at(BERLIN, "2026-01-14T00:00")), 420);
        assert!(!s.is_open(at(BERLIN, "2026-01-13T12:30")));
        assert_eq!(s.next_opening(at(BERLIN, "2026-01-13T12:30")), Some(at(BERLIN, "2026-01-13T13:00")));
    }

    #[test]
    fn a_start_before_opening_or_on_sunday_counts_from_the_next_opening() {
        let s = gold();
        assert_eq!(add(&s, BERLIN, "2026-01-12T07:00", 30), "2026-01-12T09:30");
        assert_eq!(add(&s, BERLIN, "2026-01-11T10:00", 60), "2026-01-12T10:00");
        assert_eq!(add(&s, BERLIN, "2026-01-12T17:00", 1), "2026-01-13T09:01");
    }

    #[test]
    fn holidays_close_the_whole_day_fixed_and_yearly() {
        // Monday 2026-01-12 closed: a fixed date, or a yearly one given in another year.
        for day in [holiday("2026-01-12", false), holiday("2019-01-12", true)] {
            let s = calendar(BERLIN, weekdays(&[("09:00", "17:00")]), vec![day]).schedule().unwrap();
            assert_eq!(add(&s, BERLIN, "2026-01-09T16:30", 60), "2026-01-13T09:30");
            assert!(!s.is_open(at(BERLIN, "2026-01-12T10:00")));
            assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-12T00:00"), at(BERLIN, "2026-01-13T00:00")), 0);
        }
        // A fixed holiday is that one day; a yearly one recurs.
        let fixed = calendar(BERLIN, weekdays(&[("09:00", "17:00")]), vec![holiday("2026-01-12", false)]).schedule().unwrap();
        assert!(fixed.is_open(at(BERLIN, "2027-01-12T10:00")));
        let yearly = calendar(BERLIN, weekdays(&[("09:00", "17:00")]), vec![holiday("2026-01-12", true)]).schedule().unwrap();
        assert!(!yearly.is_open(at(BERLIN, "2027-01-12T10:00")));
    }

    #[test]
    fn a_pause_over_a_weekend_counts_business_minutes_only() {
        let s = gold();
        assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-09T16:00"), at(BERLIN, "2026-01-12T10:00")), 120);
        assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-12T10:00"), at(BERLIN, "2026-01-09T16:00")), 0);
        // Seconds: both ends are truncated to the minute.
        assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-12T10:00:59"), at(BERLIN, "2026-01-12T10:01:00")), 1);
        assert_eq!(s.business_minutes_between(at(BERLIN, "2026-01-12T10:00:01"), at(BERLIN, "2026-01-12T10:00:59")), 0);
    }

    #[test]
    fn open_and_next_opening() {
        let s = gold();
        assert!(s.is_open(at(BERLIN, "2026-01-12T09:00")));
        assert!(s.is_open(at(BERLIN, "2026-01-12T16:59:59")));
        assert!(!s.is_open(at(BERLIN, "2026-01-12T17:00")));
        let open = at(BERLIN, "2026-01-12T10:00");
        assert_eq!(s.next_opening(open), Some(open));
        assert_eq!(s.next_opening(at(BERLIN, "2026-01-09T17:00")), Some(at(BERLIN, "2026-01-12T09:00")));
    }

    #[test]
    fn a_hundred_thousand_minutes_are_counted_day_by_day() {
        let s = gold();
        let start = at(BERLIN, "2026-01-09T16:30");
        let due = s.add_business_minutes(start, 100_000).unwrap();
        assert_eq!(s.business_minutes_between(start, due), 100_000);
        // 100,000 = 30 on the first Friday + 208 days of 480 + 130.
        // The 209th business day after that Friday is Thursday 29 October.
        assert_eq!(local(BERLIN, due), "2026-10-29T11:10");
        assert!(s.is_open(due - time::Duration::MINUTE));
    }

    #[test]
    fn holidays_closing_every_open_day_end_the_search() {
        let s = calendar(BERLIN, WeeklyHours { monday: iv(&[("09:00", "17:00")]), ..Default::default() }, vec![]).schedule().unwrap();
        assert!(s.add_business_minutes(at(BERLIN, "2026-01-09T16:30"), 60).is_some());
        // Open on Mondays only, and every Monday of the next 11 years is a holiday: the search
        // gives up after ten years without business time instead of walking on for ever.
        let mondays: Vec<Holiday> = (0..600)
            .map(|week| {
                let date = Date::new(2026, 1, 12).unwrap().checked_add(jiff::Span::new().weeks(week)).unwrap();
                holiday(&date.to_string(), false)
            })
            .collect();
        let closed = calendar(BERLIN, WeeklyHours { monday: iv(&[("09:00", "17:00")]), ..Default::default() }, mondays).schedule().unwrap();
        assert_eq!(closed.add_business_minutes(at(BERLIN, "2026-01-09T16:30"), 60), None);
        assert_eq!(closed.next_opening(at(BERLIN, "2026-01-09T16:30")), None);
        assert_eq!(closed.business_minutes_between(at(BERLIN, "2026-01-09T16:30"), at(BERLIN, "2030-01-09T16:30")), 0);
    }

    // Clock changes in 2026: Berlin 29 March (02:00 → 03:00) and 25 October (03:00 → 02:00);
    // New York 8 March (02:00 → 03:00) and 1 November (02:00 → 01:00).
    #[test]
    fn a_whole_day_lasts_23_or_25_hours_on_transition_days() {
        for (zone, spring, fall) in [(BERLIN, "2026-03-29", "2026-10-25"), (NEW_YORK, "2026-03-08", "2026-11-01")] {
            let s = schedule(zone, every_day(&[("00:00", "24:00")]));
            let day = |date: &str| {
                let d: Date = date.parse().unwrap();
                s.business_minutes_between(at(zone, &format!("{d}T00:00")), at(zone, &format!("{}T00:00", d.tomorrow().unwrap())))
            };
            assert_eq!(day(spring), 23 * 60, "{zone}");
            assert_eq!(day(fall), 25 * 60, "{zone}");
            assert_eq!(day("2026-06-01"), 24 * 60, "{zone}");
        }
    }

    #[test]
    fn a_night_interval_holds_elapsed_minutes_across_a_clock_change() {
        for (zone, spring, fall) in [(BERLIN, "2026-03-29", "2026-10-25"), (NEW_YORK, "2026-03-08", "2026-11-01")] {
            let s = schedule(zone, every_day(&[("01:00", "04:00")]));
            let night = |date: &str| s.business_minutes_between(at(zone, &format!("{date}T00:00")), at(zone, &format!("{date}T12:00")));
            assert_eq!(night(spring), 120, "{zone}");
            assert_eq!(night(fall), 240, "{zone}");
            assert_eq!(night("2026-06-01"), 180, "{zone}");
            // Due times follow the elapsed minutes: 90 minutes after 01:00 is 03:30 in spring.
            assert_eq!(add(&s, zone, &format!("{spring}T01:00"), 90), format!("{spring}T03:30"), "{zone}");
            assert_eq!(add(&s, zone, &format!("{spring}T01:00"), 120), format!("{spring}T04:00"), "{zone}");
        }
    }

    #[test]
    fn office_hours_keep_their_local_times_across_the_transition_weekend() {
        let cases = [
            (BERLIN, "2026-03-27", "2026-03-30"),
            (BERLIN, "2026-10-23", "2026-10-26"),
            (NEW_YORK, "2026-03-06", "2026-03-09"),
            (NEW_YORK, "2026-10-30", "2026-11-02"),
        ];
        for (zone, friday, monday) in cases {
            let s = schedule(zone, weekdays(&[("09:00", "17:00")]));
            assert_eq!(add(&s, zone, &format!("{friday}T16:30"), 60), format!("{monday}T09:30"), "{zone}");
            assert_eq!(add(&s, zone, &format!("{friday}T16:00"), 480), format!("{monday}T16:00"), "{zone}");
            let monday_minutes = s.business_minutes_between(at(zone, &format!("{monday}T00:00")), at(zone, &format!("{monday}T23:00")));
            assert_eq!(monday_minutes, 480, "{zone}");
            assert_eq!(s.business_minutes_between(at(zone, &format!("{friday}T16:00")), at(zone, &format!("{monday}T10:00"))), 120, "{zone}");
        }
    }

    #[test]
    fn bounds_in_a_gap_are_the_jump_and_in_a_fold_the_first_occurrence() {
        // 02:30 does not exist on 29 March and occurs twice on 25 October in Berlin.
        let s = schedule(BERLIN, every_day(&[("01:00", "02:30"), ("03:00", "05:00")]));
        // Spring: 01:00–02:00 CET (then the jump), 03:00–05:00 CEST: 60 + 120, nothing twice.
        let spring = s.business_minutes_between(datetime!(2026-03-28 23:00 UTC), datetime!(2026-03-29 12:00 UTC));
        assert_eq!(spring, 180);
        // The first interval closes at the jump (01:00 UTC, 03:00 CEST), when the second opens.
        assert!(s.is_open(datetime!(2026-03-29 00:59 UTC)));
        assert!(s.is_open(datetime!(2026-03-29 01:00 UTC)));
        // Fall: 01:00 CEST to the first 02:30 (00:30 UTC), then 03:00–05:00 CET: 90 + 120; the
        // second pass through 02:00–02:30 is closed.
        let fall = s.business_minutes_between(datetime!(2026-10-24 22:00 UTC), datetime!(2026-10-25 12:00 UTC));
        assert_eq!(fall, 210);
        assert!(s.is_open(datetime!(2026-10-25 00:15 UTC)));
        assert!(!s.is_open(datetime!(2026-10-25 01:15 UTC)));
        // An interval inside the gap holds nothing.
        let gap = schedule(BERLIN, every_day(&[("02:10", "02:50")]));
        assert_eq!(gap.business_minutes_between(datetime!(2026-03-28 23:00 UTC), datetime!(2026-03-29 12:00 UTC)), 0);
        assert_eq!(gap.next_opening(datetime!(2026-03-28 23:00 UTC)), Some(datetime!(2026-03-30 00:10 UTC)));
    }

    #[test]
    fn validation_normalises_and_names_the_field() {
        let mut c = calendar(" europe/berlin ", weekdays(&[("13:00", "17:00"), ("09:00", "12:00")]), vec![holiday("2026-12-25", true)]);
        c.name = "  Gold  ".into();
        let c = c.validated().unwrap();
        assert_eq!(c.name, "Gold");
        assert_eq!(c.time_zone, "Europe/Berlin");
        assert_eq!(c.hours.monday, iv(&[("09:00", "12:00"), ("13:00", "17:00")]));

        let field = |c: CalendarFields| match c.validated() {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        let ok = || calendar(BERLIN, weekdays(&[("09:00", "17:00")]), vec![]);
        assert_eq!(field(CalendarFields { name: " ".into(), ..ok() }), "name");
        assert_eq!(field(CalendarFields { name: "x".repeat(101), ..ok() }), "name");
        assert_eq!(field(CalendarFields { time_zone: "Europe/Atlantis".into(), ..ok() }), "time_zone");
        assert_eq!(field(CalendarFields { time_zone: "".into(), ..ok() }), "time_zone");
        for bad in ["9:00", "09:60", "24:00", "25:00", "09.00", "0900", "09:0a", "-9:00"] {
            assert_eq!(field(CalendarFields { hours: weekdays(&[(bad, "17:00")]), ..ok() }), "hours.monday[0].start", "{bad}");
        }
        assert_eq!(field(CalendarFields { hours: weekdays(&[("09:00", "24:01")]), ..ok() }), "hours.monday[0].end");
        assert_eq!(field(CalendarFields { hours: weekdays(&[("17:00", "09:00")]), ..ok() }), "hours.monday[0]");
        assert_eq!(field(CalendarFields { hours: weekdays(&[("09:00", "09:00")]), ..ok() }), "hours.monday[0]");
        assert_eq!(field(CalendarFields { hours: weekdays(&[("09:00", "13:00"), ("12:00", "17:00")]), ..ok() }), "hours.monday");
        let many: Vec<(String, String)> = (0..9).map(|h| (format!("{h:02}:00"), format!("{h:02}:30"))).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(s, e)| (s.as_str(), e.as_str())).collect();
        assert_eq!(field(CalendarFields { hours: weekdays(&many), ..ok() }), "hours.monday");
        assert!(CalendarFields { hours: weekdays(&many[..8]), ..ok() }.validated().is_ok());
        assert_eq!(field(CalendarFields { hours: WeeklyHours::default(), ..ok() }), "hours");
        assert_eq!(field(CalendarFields { holidays: vec![holiday("2026-02-30", false)], ..ok() }), "holidays[0].date");
        assert_eq!(field(CalendarFields { holidays: vec![holiday("20261225", false)], ..ok() }), "holidays[0].date");
        assert!(CalendarFields { hours: weekdays(&[("09:00", "12:00"), ("12:00", "24:00")]), ..ok() }.validated().is_ok());
        assert!(CalendarFields { holidays: vec![holiday("2024-02-29", true)], ..ok() }.validated().is_ok());
    }

    #[test]
    fn json_is_readable_snake_case() {
        let json = serde_json::json!({
            "name": "Gold",
            "time_zone": "Europe/Berlin",
            "hours": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}], "friday": [{"start": "09:00", "end": "17:00"}]},
            "holidays": [{"date": "2026-12-25", "yearly": true, "name": "Christmas"}, {"date": "2026-04-03"}]
        });
        let c: CalendarFields = serde_json::from_value(json).unwrap();
        assert_eq!(c.hours.monday.len(), 2);
        assert!(c.hours.tuesday.is_empty());
        assert!(!c.holidays[1].yearly);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["hours"]["monday"][1]["end"], "17:00");
        assert_eq!(back["holidays"][0]["name"], "Christmas");
        assert!(serde_json::from_value::<CalendarFields>(serde_json::json!({"name": "x", "time_zone": "UTC", "hours": {"mon": []}})).is_err());
    }

    /// Calendars for the properties: plain office hours with holidays, split days with a Saturday
    /// in New York, round the clock in Berlin, intervals with bounds in New York's gap and fold,
    /// and Lord Howe Island's half-hour clock changes.
    static CALENDARS: LazyLock<Vec<(&'static str, Schedule)>> = LazyLock::new(|| {
        let holidays = vec![holiday("2026-12-24", false), holiday("2000-12-25", true), holiday("2000-01-01", true), holiday("2027-04-02", false)];
        vec![
            (BERLIN, calendar(BERLIN, weekdays(&[("09:00", "17:00")]), holidays).schedule().unwrap()),
            (
                NEW_YORK,
                calendar(
                    NEW_YORK,
                    WeeklyHours { saturday: iv(&[("10:00", "14:00")]), ..weekdays(&[("08:00", "12:00"), ("13:00", "17:30")]) },
                    vec![holiday("1990-07-04", true)],
                )
                .schedule()
                .unwrap(),
            ),
            (BERLIN, schedule(BERLIN, every_day(&[("00:00", "24:00")]))),
            (NEW_YORK, schedule(NEW_YORK, every_day(&[("00:30", "01:30"), ("01:45", "02:30"), ("03:00", "04:00"), ("23:00", "24:00")]))),
            ("Australia/Lord_Howe", schedule("Australia/Lord_Howe", every_day(&[("01:00", "02:15"), ("02:20", "03:00"), ("09:00", "17:00")]))),
        ]
    });

    /// An instant in 2024–2028, to the second.
    fn instant() -> impl Strategy<Value = OffsetDateTime> {
        (1_704_067_200i64..1_861_920_000).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap())
    }

    fn which() -> impl Strategy<Value = usize> {
        0..CALENDARS.len()
    }

    proptest! {
        #[test]
        fn adding_is_associative(c in which(), s in instant(), a in 0u32..10_000, b in 0u32..10_000) {
            let cal = &CALENDARS[c].1;
            let whole = cal.add_business_minutes(s, a + b).unwrap();
            let stepwise = cal.add_business_minutes(cal.add_business_minutes(s, a).unwrap(), b).unwrap();
            prop_assert_eq!(whole, stepwise);
        }

        #[test]
        fn between_inverts_add(c in which(), s in instant(), m in 0u32..20_000) {
            let cal = &CALENDARS[c].1;
            let due = cal.add_business_minutes(s, m).unwrap();
            prop_assert!(due >= s);
            prop_assert_eq!(cal.business_minutes_between(s, due), u64::from(m));
        }

        #[test]
        fn a_due_time_is_in_business_hours_or_at_a_closing(c in which(), s in instant(), m in 1u32..20_000) {
            let cal = &CALENDARS[c].1;
            let due = cal.add_business_minutes(s, m).unwrap();
            prop_assert!(cal.is_open(due - time::Duration::SECOND));
            if due.second() == 0 && due.nanosecond() == 0 {
                prop_assert!(cal.is_open(due - time::Duration::MINUTE));
            }
            let opening = cal.next_opening(s).unwrap();
            prop_assert!(opening >= s && cal.is_open(opening));
            prop_assert!(due > opening);
        }

        #[test]
        fn between_is_additive(c in which(), a in instant(), d1 in 0i64..2_000_000, d2 in 0i64..2_000_000) {
            let cal = &CALENDARS[c].1;
            let b = a + time::Duration::seconds(d1);
            let c2 = b + time::Duration::seconds(d2);
            prop_assert_eq!(cal.business_minutes_between(a, c2), cal.business_minutes_between(a, b) + cal.business_minutes_between(b, c2));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Minute by minute, slowly: a minute counts exactly when the calendar is open in it, so
        /// closed hours, weekends and holidays never count.
        #[test]
        fn only_open_minutes_count(c in which(), from in instant(), span in 0i64..2_000) {
            let cal = &CALENDARS[c].1;
            let to = from + time::Duration::minutes(span);
            let first = OffsetDateTime::from_unix_timestamp(from.unix_timestamp().div_euclid(60) * 60).unwrap();
            let open = (0..span).filter(|&k| cal.is_open(first + time::Duration::minutes(k))).count();
            prop_assert_eq!(cal.business_minutes_between(from, to), open as u64);
        }
    }

    #[test]
    fn holidays_in_the_property_calendar_count_nothing() {
        let (zone, cal) = &CALENDARS[0];
        // Thursday 24 (fixed) and Friday 25 (yearly) December, then the weekend.
        assert_eq!(cal.business_minutes_between(at(zone, "2026-12-24T00:00"), at(zone, "2026-12-28T00:00")), 0);
        assert_eq!(add(cal, zone, "2026-12-23T16:00", 120), "2026-12-28T10:00");
    }
}
