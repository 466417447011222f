// The case list's SLA parts: each staff row's `sla_summary` (the clock due soonest, or since
// when one is breached, as the SLA watcher filed them) and the `sla=due` / `sla=breached`
// filters of `GET /cases`, read through the SLA indexes.
import type { Schemas } from '../api/client';
import { CASE_LIST_PARAMS } from '../api/features';
import type { Case } from '../api/types';
import { fullTime, relativeTime } from '../format';
import { CLOCKS } from '../sla';
import { SelectField, Time } from '../ui/controls';

type SlaSummary = Schemas['SlaSummary'];

/** The API describes the list's SLA filters. */
export const listHasSlaFilter = CASE_LIST_PARAMS.includes('sla');

/** The row's summary, when the API sent one. */
export function slaSummary(c: Case): SlaSummary | null {
  return c.sla_summary ?? null;
}

/** Show the Due column: the API filters by SLA, or some row carries a summary. */
export function showDueColumn(items: Case[]): boolean {
  return listHasSlaFilter || items.some((c) => slaSummary(c) !== null);
}

/** "Breached 2 h ago", else the clock due soonest and when ("First response 14:30"); else nothing. */
export function DueCell({ kase }: { kase: Case }) {
  const s = slaSummary(kase);
  if (!s) return null;
  if (s.breached_since) {
    return (
      <span class="badge badge-danger" data-test="case-due" data-breached="true" title={`Breached ${fullTime(s.breached_since)}`}>
        Breached <Time at={s.breached_since} />
      </span>
    );
  }
  if (!s.next_due_at) return null;
  const clock = CLOCKS.find((c) => c.key === s.next_due_clock)?.label;
  const overdue = Date.parse(s.next_due_at) < Date.now();
  return (
    <span data-test="case-due" data-breached="false" class={overdue ? 'sla-left overdue' : undefined}>
      {clock ? <span class="muted small">{clock} </span> : null}
      <Time at={s.next_due_at} show={overdue ? relativeTime : dueShort} />
    </span>
  );
}

/** A due time as a short local time or date ("14:30", "Dec 9, 14:30"). */
const dueFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const dueToday = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
function dueShort(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toDateString() === new Date().toDateString() ? dueToday.format(d) : dueFormat.format(d);
}

/** The select's values as kept in the address (`#/cases?sla=due`). */
export type SlaFilter = '' | 'due' | 'breached';
/** "Due within 1 h": the list's short view of what is about to breach. */
const DUE_WITHIN_MINUTES = 60;

/** The API query for the filter (`sla=due&due_within=60`, `sla=breached`), once the API has it. */
export function slaQuery(filter: string): Record<string, string> {
  if (!listHasSlaFilter) return {};
  if (filter === 'due') return { sla: 'due', due_within: String(DUE_WITHIN_MINUTES) };
  if (filter === 'breached') return { sla: 'breached' };
  return {};
}

export function SlaFilterSelect({ value, onValue }: { value: string; onValue: (v: string) => void }) {
  if (!listHasSlaFilter) return null;
  return (
    <SelectField
      label="SLA"
      value={value}
      onValue={onValue}
      options={[
        { value: '', label: 'Any' },
        { value: 'due', label: 'Due within 1 h' },
        { value: 'breached', label: 'Breached' },
      ]}
      test="filter-sla"
    />
  );
}
