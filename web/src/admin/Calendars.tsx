// Business-hours calendars: the clock service agreements count their targets on. Opening hours
// per weekday (several intervals a day) in an IANA time zone, and holidays closed all day. The
// API has no DELETE for calendars (agreements refer to them), so neither has this screen.
import { useMemo, useState } from 'preact/hooks';
import type { ApiError } from '../api/client';
import { api, ok, tagged } from '../api/client';
import type { Calendar, CalendarFields, Interval } from '../api/types';
import { calendars, useList } from '../directory';
import { useAsync, useId, useSave } from '../hooks';
import { href, navigate } from '../router';
import { WEEKDAY_LABELS, WEEKDAYS, type Weekday, weekSummary } from '../sla';
import { CheckField, Crumbs, ErrorAlert, FormActions, fieldError, Loading, PageHeader, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';

type Week = Record<Weekday, Interval[]>;
interface HolidayRow {
  date: string;
  name: string;
  yearly: boolean;
}

const OFFICE_HOURS: Interval[] = [{ start: '09:00', end: '17:00' }];

/** Zones to suggest: the browser's own list where it has one, else the common ones. */
function zoneNames(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  try {
    if (supported) return ['UTC', ...supported('timeZone').filter((z) => z !== 'UTC')];
  } catch {
    // An engine without the list: the fallback below.
  }
  return ['UTC', 'Europe/London', 'Europe/Berlin', 'Europe/Paris', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Singapore', 'Asia/Kolkata', 'Australia/Sydney'];
}

function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function Calendars({ id }: { id?: string | undefined }) {
  if (id) return <CalendarEditor id={id} />;
  return <CalendarList />;
}

function CalendarList() {
  const list = useList(calendars);
  return (
    <>
      <PageHeader title="Business-hours calendars" sub="Service agreements count their targets in the business hours of a calendar.">
        <a class="btn btn-primary" href="#/admin/calendars/new" data-test="calendar-new">
          New calendar
        </a>
      </PageHeader>
      <ListTable
        items={list}
        empty="No calendars yet. Create one before the first service agreement."
        test="calendar-table"
        columns={['Name', 'Time zone', 'Business hours', 'Holidays']}
        row={(c) => (
          <tr key={c.id} data-test="calendar-row">
            <td>
              <a href={href(['admin', 'calendars', c.id])}>{c.name}</a>
            </td>
            <td>{c.time_zone}</td>
            <td>{weekSummary(c.hours)}</td>
            <td>{c.holidays.length === 0 ? <span class="muted">None</span> : c.holidays.length}</td>
          </tr>
        )}
      />
    </>
  );
}

function CalendarEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  // Read here (not from the list) for the ETag the save sends as If-Match.
  const loaded = useAsync(() => (isNew ? Promise.resolve(null) : tagged(api.GET('/calendars/{id}', { params: { path: { id } } }))), [id]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (loaded.loading) return <Loading />;
  return <CalendarForm calendar={loaded.data?.data ?? null} etag={loaded.data?.etag ?? null} />;
}

function weekOf(calendar: Calendar | null): Week {
  const week = {} as Week;
  for (const d of WEEKDAYS) {
    week[d] = calendar ? [...(calendar.hours[d] ?? [])] : d === 'saturday' || d === 'sunday' ? [] : [...OFFICE_HOURS];
  }
  return week;
}

function CalendarForm({ calendar, etag }: { calendar: Calendar | null; etag: string | null }) {
  const [name, setName] = useState(calendar?.name ?? '');
  const [zone, setZone] = useState(calendar?.time_zone ?? browserZone());
  const [week, setWeek] = useState<Week>(() => weekOf(calendar));
  const [holidays, setHolidays] = useState<HolidayRow[]>(() => (calendar?.holidays ?? []).map((h) => ({ date: h.date, name: h.name ?? '', yearly: h.yearly ?? false })));
  const { busy, error, onSubmit } = useSave({
    leaves: true,
    conflict: 'Someone else changed this calendar since you opened it, so nothing was saved. Open it again to see their change.',
  });
  const zones = useMemo(zoneNames, []);
  const zoneList = useId('zones');

  const submit = onSubmit(async () => {
    const body: CalendarFields = {
      name: name.trim(),
      time_zone: zone.trim(),
      hours: week,
      holidays: holidays.map((h) => ({ date: h.date, yearly: h.yearly, name: h.name.trim() || null })),
    };
    let saved: Calendar;
    if (calendar) {
      saved = await ok(api.PATCH('/calendars/{id}', { params: { path: { id: calendar.id }, header: { 'If-Match': etag ?? `"${calendar.version}"` } }, body }));
    } else {
      saved = await ok(api.POST('/calendars', { body }));
    }
    calendars.put(saved);
    navigate('#/admin/calendars');
  });
  const setDay = (day: Weekday, intervals: Interval[]) => setWeek((w) => ({ ...w, [day]: intervals }));
  const copyMonday = () => setWeek((w) => ({ ...w, tuesday: [...w.monday], wednesday: [...w.monday], thursday: [...w.monday], friday: [...w.monday] }));
  const hoursError = error?.field === 'hours' ? error.message : null;
  const holidaysError = error?.field === 'holidays' ? error.message : null;

  return (
    <>
      <Crumbs list="Calendars" listHref="#/admin/calendars" here={calendar ? calendar.name : 'New calendar'} />
      <PageHeader title={calendar ? `Edit calendar: ${calendar.name}` : 'New business-hours calendar'} />
      <form onSubmit={submit} data-test="calendar-form" aria-label="Business-hours calendar">
        <ErrorAlert error={error} shown={['name', 'time_zone', 'hours', 'holidays']} />
        <div class="card">
          <div class="form-grid">
            <TextField label="Name" value={name} onValue={setName} required test="calendar-name" error={fieldError(error, 'name')} placeholder="Gold support (Berlin)" />
            <TextField
              label="Time zone"
              value={zone}
              onValue={setZone}
              required
              list={zoneList}
              autocomplete="off"
              test="calendar-zone"
              hint="An IANA zone such as Europe/Berlin. Hours and holidays are local to it, daylight saving time included."
              error={fieldError(error, 'time_zone')}
            />
            <datalist id={zoneList}>
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </div>
        </div>
        <fieldset class="card" data-test="calendar-hours" aria-describedby="hours-hint">
          <legend>Business hours</legend>
          <p class="hint" id="hours-hint">
            Local times as HH:MM; 24:00 ends a day at midnight. A day without hours is closed. Targets count only the minutes inside these hours.
          </p>
          {hoursError ? <p class="field-error">{hoursError}</p> : null}
          {WEEKDAYS.map((day) => (
            <DayRow key={day} day={day} intervals={week[day]} onChange={(list) => setDay(day, list)} error={error} />
          ))}
          <button type="button" class="btn btn-sm" onClick={copyMonday} data-test="calendar-copy-monday">
            Copy Monday's hours to Tuesday–Friday
          </button>
        </fieldset>
        <fieldset class="card" data-test="calendar-holidays">
          <legend>Holidays</legend>
          <p class="hint">Closed all day, local midnight to midnight. A yearly holiday closes that month and day every year.</p>
          {holidaysError ? <p class="field-error">{holidaysError}</p> : null}
          {holidays.length === 0 ? <p class="muted">No holidays.</p> : null}
          {holidays.map((h, i) => (
            <div class="rule-row" role="group" aria-label={`Holiday ${i + 1}`} data-test="calendar-holiday" key={i}>
              <TextField
                label="Date"
                type="date"
                value={h.date}
                required
                onValue={(v) => setHolidays((l) => l.map((x, j) => (j === i ? { ...x, date: v } : x)))}
                test="holiday-date"
                error={fieldError(error, `holidays[${i}].date`)}
              />
              <TextField
                class="grow"
                label="Name"
                value={h.name}
                placeholder="Christmas Day"
                onValue={(v) => setHolidays((l) => l.map((x, j) => (j === i ? { ...x, name: v } : x)))}
                test="holiday-name"
                error={fieldError(error, `holidays[${i}].name`)}
              />
              <CheckField label="Every year" checked={h.yearly} onChecked={(v) => setHolidays((l) => l.map((x, j) => (j === i ? { ...x, yearly: v } : x)))} test="holiday-yearly" />
              <div class="row-actions">
                <button type="button" class="btn btn-sm btn-quiet" onClick={() => setHolidays((l) => l.filter((_, j) => j !== i))} aria-label={`Remove holiday ${i + 1}${h.date ? ` (${h.date})` : ''}`}>
                  Remove
                </button>
              </div>
            </div>
          ))}
          <button type="button" class="btn btn-sm" onClick={() => setHolidays((l) => [...l, { date: '', name: '', yearly: false }])} data-test="calendar-add-holiday">
            Add holiday
          </button>
        </fieldset>
        <FormActions busy={busy} save={calendar ? 'Save calendar' : 'Create calendar'} test="calendar-save" cancelHref="#/admin/calendars" />
      </form>
    </>
  );
}

/** One weekday: its intervals (each a start and an end), or "Closed". */
function DayRow({ day, intervals, onChange, error }: { day: Weekday; intervals: Interval[]; onChange: (list: Interval[]) => void; error: ApiError | null }) {
  const label = WEEKDAY_LABELS[day];
  const labelId = useId('day');
  const prefix = `hours.${day}`;
  // An error naming one bound goes under that bound; any other about this day (overlapping or
  // unsorted intervals, too many) under the day.
  const exact = (i: number, bound: 'start' | 'end') => (error?.field === `${prefix}[${i}].${bound}` ? error.message : null);
  const dayError = fieldError(error, prefix) && !/\]\.(start|end)$/.test(error?.field ?? '') ? error!.message : null;
  const set = (i: number, patch: Partial<Interval>) => onChange(intervals.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const last = intervals[intervals.length - 1];
  return (
    <div class="hours-day" role="group" aria-labelledby={labelId} data-test="calendar-day" data-day={day}>
      <span class="hours-day-name" id={labelId}>
        {label}
      </span>
      <div class="hours-intervals">
        {intervals.length === 0 ? <span class="muted hours-closed">Closed</span> : null}
        {intervals.map((iv, i) => (
          <div class="hours-interval" role="group" aria-label={`${label}, hours ${i + 1}`} data-test="calendar-interval" key={i}>
            <TextField label="Opens" value={iv.start} onValue={(v) => set(i, { start: v })} placeholder="09:00" required test="calendar-start" error={exact(i, 'start')} />
            <TextField label="Closes" value={iv.end} onValue={(v) => set(i, { end: v })} placeholder="17:00" required test="calendar-end" error={exact(i, 'end')} />
            <button type="button" class="icon-btn" onClick={() => onChange(intervals.filter((_, j) => j !== i))} aria-label={`Remove ${label} ${iv.start}–${iv.end}`} data-test="calendar-remove-interval">
              ×
            </button>
          </div>
        ))}
        {dayError ? <p class="field-error">{dayError}</p> : null}
      </div>
      <button
        type="button"
        class="btn btn-sm"
        // A further interval starts where the last one ended (a lunch break is then one edit).
        onClick={() => onChange([...intervals, last ? { start: last.end, end: last.end === '24:00' ? '24:00' : '18:00' } : { ...OFFICE_HOURS[0]! }])}
        aria-label={`Add hours on ${label}`}
        data-test="calendar-add-interval"
      >
        Add hours
      </button>
    </div>
  );
}
