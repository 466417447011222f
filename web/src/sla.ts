// SLA wording shared by the admin screens (calendars, service agreements) and the case view's SLA
// panel: business durations in words, the target fields' reading, a calendar's week in one line.
// Pure functions with no DOM, so the unit tests (test/sla.test.ts) run them in node.

/** `135` → "2 h 15 min", `40` → "40 min", `120` → "2 h". Business minutes, so no days: a
 *  "day" of a calendar is however long its hours are, and saying "1 d" would mislead. */
export function businessDuration(minutes: number): string {
  const m = Math.abs(Math.round(minutes));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest === 0 ? `${h} h` : `${h} h ${rest} min`;
}

/** What is left of a clock: "2 h 15 min left", "due now", or "overdue by 40 min". */
export function remainingText(minutes: number): string {
  if (minutes > 0) return `${businessDuration(minutes)} left`;
  if (minutes === 0) return 'due now';
  return `overdue by ${businessDuration(-minutes)}`;
}

/**
 * A target as an admin types it, in business minutes: `90`, `90m`, `90 min`, `4h`, `1h 30m`,
 * `1 h 30 min`, `1:30`, `1.5h`. Empty is `null` (no target); anything else unreadable is
 * `undefined`, so the form can say so before the API is asked.
 */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === '') return null;
  const colon = /^(\d+):([0-5]\d)$/.exec(t);
  if (colon) return Number(colon[1]) * 60 + Number(colon[2]);
  if (/^\d+$/.test(t)) return Number(t);
  const parts = /^(?:(\d+(?:[.,]\d+)?)\s*(?:h|hr|hrs|hour|hours))?\s*(?:(\d+)\s*(?:m|min|mins|minute|minutes))?$/.exec(t);
  if (!parts || (parts[1] === undefined && parts[2] === undefined)) return undefined;
  const hours = parts[1] === undefined ? 0 : Number(parts[1].replace(',', '.'));
  const minutes = parts[2] === undefined ? 0 : Number(parts[2]);
  const total = hours * 60 + minutes;
  // 1.25 h is 75 min; 1.3 h is 78 min. Fractions of a minute cannot be a target.
  return Number.isInteger(total) ? total : undefined;
}

/** The text a stored target is edited as: `90` → "1h 30m", `45` → "45m", none → "". */
export function durationInput(minutes: number | null | undefined): string {
  if (minutes === null || minutes === undefined) return '';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${h}h` : `${h}h ${m}m`;
}

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const WEEKDAY_LABELS: Record<Weekday, string> = {
  monday: 'Monday',
  tuesday: 'Tuesday',
  wednesday: 'Wednesday',
  thursday: 'Thursday',
  friday: 'Friday',
  saturday: 'Saturday',
  sunday: 'Sunday',
};

interface Span {
  start: string;
  end: string;
}

/**
 * A week in one line, consecutive days with the same hours joined: "Mon–Fri 09:00–17:00",
 * "Mon–Thu 09:00–12:00, 13:00–17:00 · Fri 09:00–15:00". Closed days are left out; a week with
 * no hours at all is "closed all week".
 */
export function weekSummary(hours: Partial<Record<Weekday, Span[] | undefined>>): string {
  const text = (d: Weekday) => (hours[d] ?? []).map((i) => `${i.start}–${i.end}`).join(', ');
  const groups: { from: Weekday; to: Weekday; text: string }[] = [];
  for (const day of WEEKDAYS) {
    const t = text(day);
    const last = groups[groups.length - 1];
    const previous = WEEKDAYS[WEEKDAYS.indexOf(day) - 1];
    if (last && t === last.text && last.to === previous) last.to = day;
    else groups.push({ from: day, to: day, text: t });
  }
  const short = (d: Weekday) => WEEKDAY_LABELS[d].slice(0, 3);
  const open = groups.filter((g) => g.text !== '');
  if (open.length === 0) return 'closed all week';
  return open.map((g) => `${g.from === g.to ? short(g.from) : `${short(g.from)}–${short(g.to)}`} ${g.text}`).join(' · ');
}

export type ClockName = 'first_response' | 'next_response' | 'resolution';
export const CLOCKS: { key: ClockName; label: string }[] = [
  { key: 'first_response', label: 'First response' },
  { key: 'next_response', label: 'Next response' },
  { key: 'resolution', label: 'Resolution' },
];
