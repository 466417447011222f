// Opening a case: contact and account found by type-ahead; the account follows the primary
// contact's unless chosen. One Idempotency-Key per form, so a double submit opens one case.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from '../api/client';
import { type CaseFields, CASE_TYPES, isStaffCase, type Priority, PRIORITIES, type Source } from '../api/types';
import { accounts, contactById, contacts, mailboxes, teams, useList, users } from '../directory';
import { sourceLabel } from '../format';
import { useTitle } from '../hooks';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { Crumbs, CheckField, ErrorAlert, fieldError, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { Picker } from '../ui/Picker';

const AGENT_SOURCES: Source[] = ['phone', 'email', 'api', 'portal', 'web_form'];

export function NewCase({ query }: { query: URLSearchParams }) {
  useTitle('New case');
  const { me } = useSession();
  const userList = useList(users);
  const mailboxList = useList(mailboxes);
  const idempotencyKey = useMemo(() => crypto.randomUUID(), []);
  const parentId = query.get('parent');
  const [parentLabel, setParentLabel] = useState<string | null>(null);
  const [subject, setSubject] = useState('');
  const [description, setDescription] = useState('');
  const [priority, setPriority] = useState<Priority>('Normal');
  const [type, setType] = useState('');
  const [source, setSource] = useState<Source>('phone');
  const [contactIds, setContactIds] = useState<string[]>(query.get('contact') ? [query.get('contact')!] : []);
  const [accountId, setAccountId] = useState<string | null>(query.get('account'));
  const [accountTouched, setAccountTouched] = useState(!!query.get('account'));
  const [teamIds, setTeamIds] = useState<string[]>([]);
  const [assignee, setAssignee] = useState('');
  const [mailbox, setMailbox] = useState('');
  const [internal, setInternal] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    if (!parentId) return;
    api.GET('/cases/{case_ref}', { params: { path: { case_ref: parentId } } }).then(({ data }) => {
      if (data && isStaffCase(data)) {
        setParentLabel(`${data.display_number} ${data.subject}`);
        if (!contactIds.length) setContactIds(data.contact_ids);
        if (!accountId && data.account_id) setAccountId(data.account_id);
      }
    }, () => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [parentId]);

  // The account follows the primary contact's until someone picks one.
  useEffect(() => {
    const primary = contactIds[0];
    if (accountTouched || !primary) return;
    void contactById.get(primary).then((c) => {
      if (c?.account_id) setAccountId(c.account_id);
    });
  }, [contactIds[0], accountTouched]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: CaseFields = {
      subject: subject.trim(),
      description,
      priority,
      type: type || null,
      source,
      contact_ids: contactIds,
      account_id: accountId,
      team_ids: teamIds,
      assignee_id: assignee || null,
      mailbox_id: mailbox || null,
      internal,
      parent_id: parentId,
    };
    try {
      const created = await ok(api.POST('/cases', { params: { header: { 'Idempotency-Key': idempotencyKey } }, body }));
      navigate(href(['cases', 'number' in created ? created.number : '']));
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  };

  const shown = ['subject', 'description', 'priority', 'type', 'source', 'contact_ids', 'account_id', 'team_ids', 'assignee_id', 'mailbox_id', 'internal'];
  return (
    <div class="page">
      <Crumbs list="Cases" listHref="#/cases" here="New case" />
      <PageHeader title="New case" />
      <form class="card" onSubmit={submit} data-test="new-case-form" aria-label="New case">
        {parentLabel ? <p class="alert alert-info">This case will be a child of {parentLabel}.</p> : null}
        <ErrorAlert error={error} shown={shown} />
        <div class="form-grid">
          <TextField class="span-2" label="Subject" value={subject} onValue={setSubject} required autoFocus test="new-subject" error={fieldError(error, 'subject')} maxLength={300} />
          <TextArea class="span-2" label="Description" value={description} onValue={setDescription} rows={6} test="new-description" error={fieldError(error, 'description')} />
          <Picker
            label="Contacts (first is primary)"
            cache={contacts}
            multiple
            value={contactIds}
            onChange={setContactIds}
            name={(c) => c.name}
            detail={(c) => c.emails.join(', ')}
            fallback={(id) => contactById.peek(id)?.name ?? '…'}
            placeholder="Search by name or address…"
            test="new-contact"
            error={fieldError(error, 'contact_ids')}
          />
          <Picker
            label="Account"
            cache={accounts}
            value={accountId ? [accountId] : []}
            onChange={(ids) => {
              setAccountTouched(true);
              setAccountId(ids[0] ?? null);
            }}
            name={(a) => a.name}
            detail={(a) => a.email_domains.join(', ')}
            placeholder="Search by name or domain…"
            test="new-account"
            error={fieldError(error, 'account_id')}
          />
          <SelectField
            label="Priority"
            value={priority}
            onValue={(v) => setPriority(v as Priority)}
            options={PRIORITIES.map((p) => ({ value: p, label: p }))}
            test="new-priority"
            error={fieldError(error, 'priority')}
          />
          <SelectField
            label="Type"
            value={type}
            onValue={setType}
            options={[{ value: '', label: '—' }, ...CASE_TYPES.map((t) => ({ value: t, label: t }))]}
            test="new-type"
            error={fieldError(error, 'type')}
          />
          <SelectField
            label="Assignee"
            value={assignee}
            onValue={setAssignee}
            options={[
              { value: '', label: 'Unassigned' },
              ...(userList ?? []).filter((u) => u.active).map((u) => ({ value: u.id, label: u.id === me.id ? `${u.name} (me)` : u.name })),
            ]}
            test="new-assignee"
            error={fieldError(error, 'assignee_id')}
          />
          <Picker label="Teams" cache={teams} multiple value={teamIds} onChange={setTeamIds} name={(t) => t.name} placeholder="Add a team…" test="new-teams" error={fieldError(error, 'team_ids')} />
          <SelectField
            label="Source"
            value={source}
            onValue={(v) => setSource(v as Source)}
            options={AGENT_SOURCES.map((s) => ({ value: s, label: sourceLabel(s) }))}
            test="new-source"
            error={fieldError(error, 'source')}
          />
          <SelectField
            label="Group mailbox"
            value={mailbox}
            onValue={setMailbox}
            options={[{ value: '', label: 'None' }, ...(mailboxList ?? []).map((m) => ({ value: m.id, label: m.name }))]}
            hint="Mail about the case is sent with this mailbox's address as Reply-To."
            test="new-mailbox"
            error={fieldError(error, 'mailbox_id')}
          />
          <CheckField class="span-2" label="Internal case (hidden from the customer portal)" checked={internal} onChecked={setInternal} test="new-internal" />
        </div>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !subject.trim()} data-test="new-submit">
            {busy ? 'Creating…' : 'Create case'}
          </button>
          <a class="btn btn-quiet" href="#/cases">
            Cancel
          </a>
        </div>
      </form>
    </div>
  );
}
