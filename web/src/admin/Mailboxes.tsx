// Group mailboxes: inbound addresses, their team, assignment and mail policies.
import { useState } from 'preact/hooks';
import { api, ok, tagged, type Schemas } from '../api/client';
import type { AssignmentRule, Mailbox } from '../api/types';
import { mailboxes, teams, useList } from '../directory';
import { splitList } from '../format';
import { useSave } from '../hooks';
import { Badge, CheckField, EditCard, fieldError, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { ACTIONS_COLUMN, ListTable } from '../ui/Table';
import { RULE_OPTIONS } from './People';

type Policy = Schemas['ClosedCasePolicy'];

function policyLabel(p: Policy): string {
  if (p.mode === 'reopen') return 'Reopen the case';
  if (p.mode === 'new_linked') return 'Open a new linked case';
  return `Reopen within ${p.days} days, else a new linked case`;
}

export function Mailboxes() {
  const list = useList(mailboxes);
  const teamList = useList(teams);
  const [editing, setEditing] = useState<Mailbox | 'new' | null>(null);
  return (
    <>
      <PageHeader title="Group mailboxes" sub="Mail to these addresses opens and updates cases.">
        <button type="button" class="btn btn-primary" onClick={() => setEditing('new')} data-test="mailbox-new">
          New mailbox
        </button>
      </PageHeader>
      {editing ? <MailboxForm mailbox={editing === 'new' ? null : editing} onDone={() => setEditing(null)} /> : null}
      <ListTable
        items={list}
        empty="No group mailboxes yet."
        test="mailbox-table"
        columns={['Name', 'Addresses', 'Team', 'Assignment', 'Replies to closed cases', 'Acknowledge', 'Unknown senders', ACTIONS_COLUMN]}
        row={(m) => (
          <tr key={m.id} data-test="mailbox-row">
            <td>{m.name}</td>
            <td>{m.addresses.join(', ')}</td>
            <td>{teamList?.find((t) => t.id === m.team_id)?.name ?? <span class="muted">None</span>}</td>
            <td>{RULE_OPTIONS.find((o) => o.value === (m.assignment_rule ?? ''))?.label}</td>
            <td>{policyLabel(m.closed_case_policy)}</td>
            <td>{m.auto_ack ? <Badge kind="success">On</Badge> : <Badge kind="neutral">Off</Badge>}</td>
            <td>{m.unknown_senders === 'reject' ? 'Reject' : 'Create contact'}</td>
            <td class="c-actions">
              <button type="button" class="btn btn-sm" onClick={() => setEditing(m)} aria-label={`Edit ${m.name}`}>
                Edit
              </button>
            </td>
          </tr>
        )}
      />
    </>
  );
}

function MailboxForm({ mailbox, onDone }: { mailbox: Mailbox | null; onDone: () => void }) {
  const teamList = useList(teams);
  const [name, setName] = useState(mailbox?.name ?? '');
  const [addresses, setAddresses] = useState((mailbox?.addresses ?? []).join('\n'));
  const [teamId, setTeamId] = useState(mailbox?.team_id ?? '');
  const [rule, setRule] = useState<string>(mailbox?.assignment_rule ?? '');
  const [autoAck, setAutoAck] = useState(mailbox?.auto_ack ?? false);
  const [ackText, setAckText] = useState(mailbox?.ack_text ?? '');
  const [mode, setMode] = useState<Policy['mode']>(mailbox?.closed_case_policy.mode ?? 'reopen');
  const [days, setDays] = useState(String(mailbox?.closed_case_policy.mode === 'new_after_days' ? mailbox.closed_case_policy.days : 14));
  const [unknown, setUnknown] = useState<Mailbox['unknown_senders']>(mailbox?.unknown_senders ?? 'create_contact');
  const { busy, error, onSubmit } = useSave({ leaves: true });
  const submit = onSubmit(async () => {
    const policy: Policy = mode === 'new_after_days' ? { mode, days: Number(days) || 0 } : { mode };
    const body = {
      name: name.trim(),
      addresses: splitList(addresses),
      team_id: teamId || null,
      assignment_rule: (rule || null) as AssignmentRule | null,
      auto_ack: autoAck,
      ack_text: ackText.trim() ? ackText : null,
      closed_case_policy: policy,
      unknown_senders: unknown,
    };
    let saved: Mailbox;
    if (mailbox) {
      const { etag } = await tagged(api.GET('/mailboxes/{id}', { params: { path: { id: mailbox.id } } }));
      saved = await ok(api.PATCH('/mailboxes/{id}', { params: { path: { id: mailbox.id }, header: { 'If-Match': etag ?? undefined } }, body }));
    } else {
      saved = await ok(api.POST('/mailboxes', { body }));
    }
    mailboxes.put(saved);
    onDone();
  });
  const shown = ['name', 'addresses', 'team_id', 'assignment_rule', 'ack_text', 'closed_case_policy', 'unknown_senders'];
  return (
    <EditCard
      label={mailbox ? `Edit ${mailbox.name}` : 'New mailbox'}
      title={mailbox ? `Edit ${mailbox.name}` : 'New group mailbox'}
      test="mailbox-form"
      onSubmit={submit}
      error={error}
      shown={shown}
      busy={busy}
      save={mailbox ? 'Save' : 'Create mailbox'}
      saveTest="mailbox-save"
      onCancel={onDone}
    >
      <TextField label="Name" value={name} onValue={setName} required test="mailbox-name" error={fieldError(error, 'name')} />
      <TextArea
        label="Addresses"
        value={addresses}
        onValue={setAddresses}
        rows={2}
        hint="One per line. The first is the Reply-To of the mailbox's mail."
        test="mailbox-addresses"
        error={fieldError(error, 'addresses')}
      />
      <SelectField
        label="Team"
        value={teamId}
        onValue={setTeamId}
        options={[{ value: '', label: 'None' }, ...(teamList ?? []).map((t) => ({ value: t.id, label: t.name }))]}
        test="mailbox-team"
        error={fieldError(error, 'team_id')}
      />
      <SelectField label="Assign new cases" value={rule} onValue={setRule} options={RULE_OPTIONS} test="mailbox-rule" error={fieldError(error, 'assignment_rule')} />
      <SelectField
        label="A reply to a closed case"
        value={mode}
        onValue={(v) => setMode(v as Policy['mode'])}
        options={[
          { value: 'reopen', label: 'Reopens the case' },
          { value: 'new_linked', label: 'Opens a new linked case' },
          { value: 'new_after_days', label: 'Reopens within some days, else a new case' },
        ]}
        test="mailbox-policy"
        error={fieldError(error, 'closed_case_policy')}
      />
      {mode === 'new_after_days' ? <TextField label="Days" type="number" min={0} value={days} onValue={setDays} test="mailbox-days" /> : <div />}
      <SelectField
        label="Mail from unknown senders"
        value={unknown}
        onValue={(v) => setUnknown(v as Mailbox['unknown_senders'])}
        options={[
          { value: 'create_contact', label: 'Creates a contact and a case' },
          { value: 'reject', label: 'Is rejected' },
        ]}
        test="mailbox-unknown"
        error={fieldError(error, 'unknown_senders')}
      />
      <CheckField label="Acknowledge new cases by email" checked={autoAck} onChecked={setAutoAck} test="mailbox-ack" />
      {autoAck ? (
        <TextArea
          class="span-2"
          label="Acknowledgement text"
          value={ackText}
          onValue={setAckText}
          rows={3}
          hint="{number} and {subject} are replaced. Leave empty for the default text."
          test="mailbox-ack-text"
          error={fieldError(error, 'ack_text')}
        />
      ) : null}
    </EditCard>
  );
}
