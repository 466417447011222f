// Service agreements: what a customer is owed, as SLA targets per case priority counted in the
// business hours of a calendar, applied by contact, account, group mailbox or as the default.
import { useState } from 'preact/hooks';
import { api, ApiError, asApiError, ok, tagged } from '../api/client';
import { type AppliesTo, PRIORITIES, type Priority, type PriorityTargets, type ServiceAgreement, type ServiceAgreementFields, type Targets } from '../api/types';
import { accounts, calendars, contacts, fetchAll, mailboxes, useList } from '../directory';
import { useAsync, useSave } from '../hooks';
import { href, navigate } from '../router';
import { businessDuration, CLOCKS, type ClockName, durationInput, parseDuration, weekSummary } from '../sla';
import { Badge, CheckField, Crumbs, ErrorAlert, FormActions, fieldError, Loading, PageHeader, SelectField, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';
import { Picker } from '../ui/Picker';

type Kind = AppliesTo['kind'];
const KINDS: { value: Kind; label: string }[] = [
  { value: 'default', label: 'Every case (the default agreement)' },
  { value: 'accounts', label: 'Cases of some accounts' },
  { value: 'contacts', label: 'Cases of some contacts' },
  { value: 'mailboxes', label: 'Cases of some group mailboxes' },
];
/** The field of each clock's target, as the API names it. */
const FIELD: Record<ClockName, keyof Targets> = {
  first_response: 'first_response_minutes',
  next_response: 'next_response_minutes',
  resolution: 'resolution_minutes',
};
const MAX_TARGET = 525_600;

/** The typed text of every target cell, by priority and clock. */
type TargetTexts = Record<Priority, Record<ClockName, string>>;

export function Agreements({ id }: { id?: string | undefined }) {
  if (id) return <AgreementEditor id={id} />;
  return <AgreementList />;
}

function appliesLabel(a: AppliesTo): string {
  switch (a.kind) {
    case 'default':
      return 'Default (every case)';
    case 'accounts':
      return `${a.account_ids.length} ${a.account_ids.length === 1 ? 'account' : 'accounts'}`;
    case 'contacts':
      return `${a.contact_ids.length} ${a.contact_ids.length === 1 ? 'contact' : 'contacts'}`;
    default:
      return `${a.mailbox_ids.length} ${a.mailbox_ids.length === 1 ? 'group mailbox' : 'group mailboxes'}`;
  }
}

function validity(a: ServiceAgreement): string {
  if (a.valid_from && a.valid_until) return `${a.valid_from} to ${a.valid_until}`;
  if (a.valid_from) return `from ${a.valid_from}`;
  if (a.valid_until) return `until ${a.valid_until}`;
  return 'Always';
}

function AgreementList() {
  const list = useAsync(() => fetchAll((cursor) => ok(api.GET('/service-agreements', { params: { query: { limit: 100, cursor } } }))), []);
  const calendarList = useList(calendars);
  const sorted = list.data ? [...list.data].sort((a, b) => a.name.localeCompare(b.name)) : undefined;
  return (
    <>
      <PageHeader title="Service agreements" sub="SLA targets per priority. A case gets the most specific agreement: its contact's, else its account's, else its mailbox's, else the default.">
        <a class="btn btn-primary" href="#/admin/agreements/new" data-test="agreement-new">
          New agreement
        </a>
      </PageHeader>
      <ErrorAlert error={list.error} />
      <ListTable
        items={sorted}
        empty="No service agreements yet: cases have no SLA clocks."
        test="agreement-table"
        columns={['Name', 'Calendar', 'Applies to', 'Valid', 'State']}
        row={(a) => (
          <tr key={a.id} data-test="agreement-row">
            <td>
              <a href={href(['admin', 'agreements', a.id])}>{a.name}</a>
            </td>
            <td>{calendarList?.find((c) => c.id === a.calendar_id)?.name ?? <span class="muted">…</span>}</td>
            <td>{appliesLabel(a.applies_to)}</td>
            <td>{validity(a)}</td>
            <td>{a.enabled ? <Badge kind="success">Enabled</Badge> : <Badge kind="neutral">Disabled</Badge>}</td>
          </tr>
        )}
      />
    </>
  );
}

function AgreementEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useAsync(() => (isNew ? Promise.resolve(null) : tagged(api.GET('/service-agreements/{id}', { params: { path: { id } } }))), [id]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (loaded.loading) return <Loading />;
  return <AgreementForm agreement={loaded.data?.data ?? null} etag={loaded.data?.etag ?? null} />;
}

function textsOf(targets: PriorityTargets | undefined): TargetTexts {
  const texts = {} as TargetTexts;
  for (const p of PRIORITIES) {
    const t = targets?.[p];
    texts[p] = { first_response: durationInput(t?.first_response_minutes), next_response: durationInput(t?.next_response_minutes), resolution: durationInput(t?.resolution_minutes) };
  }
  return texts;
}

/** The ids an agreement applies to, by kind (kept while the admin switches kinds). */
function idsOf(a: AppliesTo | undefined): Record<Exclude<Kind, 'default'>, string[]> {
  return {
    accounts: a?.kind === 'accounts' ? a.account_ids : [],
    contacts: a?.kind === 'contacts' ? a.contact_ids : [],
    mailboxes: a?.kind === 'mailboxes' ? a.mailbox_ids : [],
  };
}

function AgreementForm({ agreement, etag }: { agreement: ServiceAgreement | null; etag: string | null }) {
  const calendarList = useList(calendars);
  const [name, setName] = useState(agreement?.name ?? '');
  const [calendarId, setCalendarId] = useState(agreement?.calendar_id ?? '');
  const [texts, setTexts] = useState<TargetTexts>(() => textsOf(agreement?.targets));
  const [kind, setKind] = useState<Kind>(agreement?.applies_to.kind ?? 'default');
  const [ids, setIds] = useState(() => idsOf(agreement?.applies_to));
  const [validFrom, setValidFrom] = useState(agreement?.valid_from ?? '');
  const [validUntil, setValidUntil] = useState(agreement?.valid_until ?? '');
  const [warning, setWarning] = useState(String(agreement?.warning_percent ?? 80));
  const [enabled, setEnabled] = useState(agreement?.enabled ?? true);
  const { busy, error, setError, onSubmit } = useSave({
    leaves: true,
    conflict: 'Someone else changed this agreement since you opened it, so nothing was saved. Open it again to see their change.',
  });
  // A new agreement counts on the only calendar there is, if there is just one.
  const chosenCalendar = calendarId || (calendarList?.length === 1 ? calendarList[0]!.id : '');
  const calendar = calendarList?.find((c) => c.id === chosenCalendar);

  // Each cell read as typed; a cell that is no duration is refused here, naming the cell, before
  // the API is asked.
  const parsed = PRIORITIES.map((p) => CLOCKS.map((c) => ({ p, c: c.key, minutes: parseDuration(texts[p][c.key]) }))).flat();
  const unreadable = parsed.find((x) => x.minutes === undefined || (typeof x.minutes === 'number' && (x.minutes < 1 || x.minutes > MAX_TARGET)));

  const submit = onSubmit(async () => {
    if (unreadable) {
      throw new ApiError(422, {
        type: 'about:blank',
        title: 'Invalid field',
        status: 422,
        detail: `${unreadable.p} ${CLOCKS.find((c) => c.key === unreadable.c)!.label.toLowerCase()}: a duration from 1 min to ${businessDuration(MAX_TARGET)}, such as 4h, 1h 30m or 90 (minutes)`,
        field: `targets.${unreadable.p}.${FIELD[unreadable.c]}`,
      });
    }
    // Every cell is sent, an empty one as null: the update is a JSON merge patch, in which a
    // target left out would keep its old value rather than be removed.
    const targets = {} as PriorityTargets;
    for (const { p, c, minutes } of parsed) targets[p] = { ...targets[p], [FIELD[c]]: minutes ?? null };
    const applies_to: AppliesTo =
      kind === 'default'
        ? { kind }
        : kind === 'accounts'
          ? { kind, account_ids: ids.accounts }
          : kind === 'contacts'
            ? { kind, contact_ids: ids.contacts }
            : { kind, mailbox_ids: ids.mailboxes };
    const body: ServiceAgreementFields = {
      name: name.trim(),
      calendar_id: chosenCalendar,
      targets,
      applies_to,
      valid_from: validFrom || null,
      valid_until: validUntil || null,
      warning_percent: Number(warning),
      enabled,
    };
    if (agreement) {
      // The update is a JSON merge patch, which merges `applies_to` into the stored one: turning
      // an agreement for accounts into one for contacts would keep `account_ids` beside
      // `contact_ids`, and the API refuses that mix. Nulls remove the other kinds' lists.
      const cleared = { account_ids: null, contact_ids: null, mailbox_ids: null };
      const patch = { ...body, applies_to: { ...cleared, ...applies_to } as unknown as AppliesTo };
      await ok(api.PATCH('/service-agreements/{id}', { params: { path: { id: agreement.id }, header: { 'If-Match': etag ?? `"${agreement.version}"` } }, body: patch }));
    } else {
      await ok(api.POST('/service-agreements', { body }));
    }
    navigate('#/admin/agreements');
  });
  const remove = async () => {
    if (!agreement || !window.confirm(`Delete the service agreement “${agreement.name}”? Cases it governs lose their SLA clocks unless another agreement applies.`)) return;
    try {
      await ok(api.DELETE('/service-agreements/{id}', { params: { path: { id: agreement.id }, header: { 'If-Match': etag ?? undefined } } }));
      navigate('#/admin/agreements');
    } catch (err) {
      setError(asApiError(err));
    }
  };
  const setCell = (p: Priority, c: ClockName, v: string) => setTexts((t) => ({ ...t, [p]: { ...t[p], [c]: v } }));
  const targetsError = error?.field === 'targets' ? error.message : null;

  return (
    <>
      <Crumbs list="Service agreements" listHref="#/admin/agreements" here={agreement ? agreement.name : 'New agreement'} />
      <PageHeader title={agreement ? `Edit agreement: ${agreement.name}` : 'New service agreement'} />
      <form onSubmit={submit} data-test="agreement-form" aria-label="Service agreement">
        <ErrorAlert error={error} shown={['name', 'calendar_id', 'targets', 'applies_to', 'valid_from', 'valid_until', 'warning_percent']} />
        <div class="card">
          <div class="form-grid">
            <TextField label="Name" value={name} onValue={setName} required test="agreement-name" error={fieldError(error, 'name')} placeholder="Gold support" />
            <SelectField
              label="Business-hours calendar"
              value={chosenCalendar}
              onValue={setCalendarId}
              required
              options={[{ value: '', label: calendarList === null ? 'Loading…' : 'Choose…' }, ...(calendarList ?? []).map((c) => ({ value: c.id, label: `${c.name} (${c.time_zone})` }))]}
              test="agreement-calendar"
              hint={
                calendar ? (
                  <>
                    Targets count only these hours: {weekSummary(calendar.hours)}, {calendar.time_zone}
                    {calendar.holidays.length ? `, except ${calendar.holidays.length} ${calendar.holidays.length === 1 ? 'holiday' : 'holidays'}` : ''}.
                  </>
                ) : calendarList?.length === 0 ? (
                  <>
                    There is no calendar yet: <a href="#/admin/calendars/new">create one</a> first.
                  </>
                ) : (
                  'The business hours the targets count in.'
                )
              }
              error={fieldError(error, 'calendar_id')}
            />
          </div>
        </div>
        <fieldset class="card" data-test="agreement-targets" aria-describedby="targets-hint">
          <legend>Targets in business time</legend>
          <p class="hint" id="targets-hint">
            Business hours and minutes of the calendar{calendar ? ` (${weekSummary(calendar.hours)})` : ''}, not clock time: 4h, 1h 30m, 1:30 or 90 (minutes). Leave a cell
            empty for no target; at least one is needed.
          </p>
          {targetsError ? <p class="field-error">{targetsError}</p> : null}
          <div class="table-wrap">
            <table class="grid targets">
              <thead>
                <tr>
                  <th scope="col">Priority</th>
                  {CLOCKS.map((c) => (
                    <th scope="col" key={c.key}>
                      {c.label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {PRIORITIES.map((p) => (
                  <tr key={p}>
                    <th scope="row">{p}</th>
                    {CLOCKS.map((c) => (
                      <TargetCell key={c.key} priority={p} clock={c.key} label={c.label} text={texts[p][c.key]} onText={(v) => setCell(p, c.key, v)} error={error?.field === `targets.${p}.${FIELD[c.key]}` ? error.message : null} />
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </fieldset>
        <div class="card">
          <div class="form-grid">
            <SelectField label="Applies to" value={kind} onValue={(v) => setKind(v as Kind)} options={KINDS} test="agreement-applies" error={error?.field === 'applies_to' ? error.message : null} />
            {/* Keyed: one Picker reused across kinds would render the old kind's records with
                the new kind's name and detail functions until its list reloads. */}
            {kind === 'accounts' ? (
              <Picker key="accounts" label="Accounts" cache={accounts} multiple value={ids.accounts} onChange={(v) => setIds((x) => ({ ...x, accounts: v }))} name={(a) => a.name} detail={(a) => a.email_domains.join(', ')} test="agreement-accounts" error={fieldError(error, 'applies_to.account_ids')} />
            ) : kind === 'contacts' ? (
              <Picker key="contacts" label="Contacts" cache={contacts} multiple value={ids.contacts} onChange={(v) => setIds((x) => ({ ...x, contacts: v }))} name={(c) => c.name} detail={(c) => c.emails[0] ?? ''} test="agreement-contacts" error={fieldError(error, 'applies_to.contact_ids')} />
            ) : kind === 'mailboxes' ? (
              <Picker key="mailboxes" label="Group mailboxes" cache={mailboxes} multiple value={ids.mailboxes} onChange={(v) => setIds((x) => ({ ...x, mailboxes: v }))} name={(m) => m.name} detail={(m) => m.addresses[0] ?? ''} test="agreement-mailboxes" error={fieldError(error, 'applies_to.mailbox_ids')} />
            ) : (
              <p class="hint field">Governs every case no more specific agreement (by contact, account or mailbox) governs.</p>
            )}
            <TextField label="Valid from" type="date" value={validFrom} onValue={setValidFrom} test="agreement-valid-from" hint="First day, in the calendar's zone. Empty: from now on." error={fieldError(error, 'valid_from')} />
            <TextField label="Valid until" type="date" value={validUntil} onValue={setValidUntil} test="agreement-valid-until" hint="Last day, inclusive. Empty: no end." error={fieldError(error, 'valid_until')} />
            <TextField
              label="Warn at (percent of a target)"
              type="number"
              min={1}
              max={99}
              value={warning}
              onValue={setWarning}
              required
              test="agreement-warning"
              hint="A clock warns once this share of its target is used."
              error={fieldError(error, 'warning_percent')}
            />
            <CheckField label="Enabled" checked={enabled} onChecked={setEnabled} test="agreement-enabled" hint="A disabled agreement governs no case." />
          </div>
        </div>
        <FormActions busy={busy} save={agreement ? 'Save agreement' : 'Create agreement'} test="agreement-save" cancelHref="#/admin/agreements">
          {agreement ? (
            <button type="button" class="btn btn-danger" onClick={() => void remove()} data-test="agreement-delete">
              Delete agreement
            </button>
          ) : null}
        </FormActions>
      </form>
    </>
  );
}

/** One target: a text box read as a business duration, its reading (or its problem) under it. */
function TargetCell({ priority, clock, label, text, onText, error }: { priority: Priority; clock: ClockName; label: string; text: string; onText: (v: string) => void; error: string | null }) {
  const minutes = parseDuration(text);
  const id = `target-${priority}-${clock}`;
  const note = error ?? (minutes === undefined ? 'Not a duration' : null);
  return (
    <td>
      <input
        id={id}
        type="text"
        value={text}
        onInput={(e) => onText(e.currentTarget.value)}
        aria-label={`${priority}: ${label.toLowerCase()} target`}
        aria-invalid={note ? 'true' : undefined}
        aria-describedby={`${id}-note`}
        placeholder="none"
        autocomplete="off"
        data-test="agreement-target"
        data-priority={priority}
        data-clock={clock}
      />
      <div id={`${id}-note`} class={note ? 'field-error' : 'hint'}>
        {note ?? (typeof minutes === 'number' ? `${businessDuration(minutes)} business time` : 'No target')}
      </div>
    </td>
  );
}
