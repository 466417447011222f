// Workflow rules built in a form: a trigger, conditions (all or any) and ordered actions.
import { useState } from 'preact/hooks';
import { api, asApiError, ok, tagged, type Schemas } from '../api/client';
import { PRIORITIES, type RuleAction, type RuleCondition, SOURCES, STATUSES, type WorkflowRule, type WorkflowRuleFields } from '../api/types';
import { accounts, mailboxes, teams, useList, userName, users } from '../directory';
import { humanize, sourceLabel, statusLabel } from '../format';
import { useAsync, useId, useSave } from '../hooks';
import { href, navigate } from '../router';
import { Crumbs, Badge, CheckField, ErrorAlert, FormActions, fieldError, Loading, type Option, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { ListTable } from '../ui/Table';
import { Picker } from '../ui/Picker';
import { RULE_OPTIONS } from './People';

type Trigger = Schemas['Trigger'];
type Field = Schemas['ConditionField'];
type Op = Schemas['Operator'];
type ActionKind = RuleAction['action'];

const TRIGGERS: Option[] = [
  { value: 'case_created', label: 'A case is created' },
  { value: 'case_updated', label: 'A case is updated' },
  { value: 'entry_added', label: 'A stream entry is added' },
  { value: 'email_received', label: 'Email is received' },
  { value: 'sla_warning', label: 'An SLA clock reaches its warning share' },
  { value: 'sla_breached', label: 'An SLA clock is breached' },
];
const FIELDS: Option[] = [
  { value: 'status', label: 'Status' },
  { value: 'priority', label: 'Priority' },
  { value: 'source', label: 'Source' },
  { value: 'mailbox_id', label: 'Group mailbox' },
  { value: 'team_ids', label: 'Teams' },
  { value: 'account_id', label: 'Account' },
  { value: 'assignee_id', label: 'Assignee' },
  { value: 'type', label: 'Type' },
  { value: 'category', label: 'Category' },
  { value: 'internal', label: 'Internal' },
  { value: 'subject', label: 'Subject' },
  { value: 'description', label: 'Description' },
  { value: 'body', label: 'Text of the entry or mail' },
  { value: 'sla_clock', label: 'SLA clock (SLA triggers)' },
];
const OP_LABELS: Record<Op, string> = {
  is: 'is',
  is_not: 'is not',
  in: 'is one of',
  not_in: 'is none of',
  contains: 'contains',
  not_contains: 'does not contain',
  is_set: 'is set',
  is_empty: 'is empty',
};
const TEXT_FIELDS: Field[] = ['subject', 'description', 'body'];
const ENUMS: Partial<Record<Field, Option[]>> = {
  status: STATUSES.map((s) => ({ value: s, label: statusLabel(s) })),
  priority: PRIORITIES.map((p) => ({ value: p, label: p })),
  source: SOURCES.map((s) => ({ value: s, label: sourceLabel(s) })),
  sla_clock: [
    { value: 'first_response', label: 'First response' },
    { value: 'next_response', label: 'Next response' },
    { value: 'resolution', label: 'Resolution' },
  ],
};

function opsFor(field: Field): Op[] {
  if (field === 'internal') return ['is', 'is_not'];
  if (TEXT_FIELDS.includes(field)) return ['contains', 'not_contains', 'is', 'is_not', 'is_set', 'is_empty'];
  if (field === 'team_ids') return ['contains', 'not_contains', 'is_set', 'is_empty'];
  return ['is', 'is_not', 'in', 'not_in', 'is_set', 'is_empty'];
}

const ACTIONS: Option[] = [
  { value: 'assign_by_rule', label: 'Assign by rule (round-robin / least busy)' },
  { value: 'assign_to_user', label: 'Assign to a user' },
  { value: 'assign_to_team', label: 'Add a team' },
  { value: 'set_fields', label: 'Set fields' },
  { value: 'link_mailbox', label: 'Link a group mailbox' },
  { value: 'add_followers', label: 'Add followers' },
  { value: 'notify_users', label: 'Notify users' },
  { value: 'post_internal_note', label: 'Post an internal note' },
  { value: 'create_case', label: 'Create a case' },
  { value: 'share_child_records', label: "Share child cases with the case's assignee and teams" },
];

function blankAction(kind: ActionKind): RuleAction {
  switch (kind) {
    case 'assign_by_rule':
      return { action: kind, team_id: null, rule: null };
    case 'assign_to_user':
      return { action: kind, user_id: '' };
    case 'assign_to_team':
      return { action: kind, team_id: '' };
    case 'set_fields':
      return { action: kind, fields: {} };
    case 'link_mailbox':
      return { action: kind, mailbox_id: '' };
    case 'add_followers':
      return { action: kind, user_ids: [] };
    case 'notify_users':
      return { action: kind, user_ids: [], message: '' };
    case 'post_internal_note':
      return { action: kind, body: '' };
    case 'create_case':
      return { action: kind, subject: '', description: '', priority: null, team_ids: [], as_child: true };
    default:
      return { action: 'share_child_records' };
  }
}

export function Rules({ id }: { id?: string | undefined }) {
  if (id) return <RuleEditor id={id} />;
  return <RuleList />;
}

function RuleList() {
  const rules = useAsync(() => ok(api.GET('/workflow-rules', { params: { query: { limit: 100 } } })).then((p) => p.items), []);
  const sorted = [...(rules.data ?? [])].sort((a, b) => a.trigger.localeCompare(b.trigger) || a.position - b.position || a.name.localeCompare(b.name));
  return (
    <>
      <PageHeader title="Workflow rules" sub="Run in order after each change: rules with the same trigger by position, then name.">
        <a class="btn btn-primary" href="#/admin/rules/new" data-test="rule-new">
          New rule
        </a>
      </PageHeader>
      <ErrorAlert error={rules.error} />
      <ListTable
        items={rules.data === undefined ? undefined : sorted}
        empty="No workflow rules yet."
        test="rule-table"
        columns={['Name', 'When', 'Position', 'Conditions', 'Actions', 'State']}
        row={(r) => (
          <tr key={r.id} data-test="rule-row">
            <td>
              <a href={href(['admin', 'rules', r.id])}>{r.name}</a>
            </td>
            <td>{TRIGGERS.find((t) => t.value === r.trigger)?.label}</td>
            <td>{r.position}</td>
            <td>{r.conditions.length === 0 ? 'Always' : `${r.conditions.length} (${r.match === 'all' ? 'all' : 'any'})`}</td>
            <td>{r.actions.map((a) => humanize(a.action)).join(' → ')}</td>
            <td>{r.enabled ? <Badge kind="success">Enabled</Badge> : <Badge kind="neutral">Disabled</Badge>}</td>
          </tr>
        )}
      />
    </>
  );
}

function RuleEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useAsync(
    () => (isNew ? Promise.resolve(null) : tagged(api.GET('/workflow-rules/{id}', { params: { path: { id } } }))),
    [id],
  );
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (loaded.loading) return <Loading />;
  return <RuleForm rule={loaded.data?.data ?? null} etag={loaded.data?.etag ?? null} />;
}

function RuleForm({ rule, etag }: { rule: WorkflowRule | null; etag: string | null }) {
  const [name, setName] = useState(rule?.name ?? '');
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const [trigger, setTrigger] = useState<Trigger>(rule?.trigger ?? 'case_created');
  const [match, setMatch] = useState<WorkflowRule['match']>(rule?.match ?? 'all');
  const [position, setPosition] = useState(String(rule?.position ?? 0));
  const [conditions, setConditions] = useState<RuleCondition[]>(rule?.conditions ?? []);
  const [actions, setActions] = useState<RuleAction[]>(rule?.actions ?? [blankAction('assign_by_rule')]);
  const { busy, error, setError, onSubmit } = useSave({ leaves: true });

  const submit = onSubmit(async () => {
    const body: WorkflowRuleFields = { name: name.trim(), enabled, trigger, match, position: Number(position) || 0, conditions, actions };
    if (rule) {
      await ok(api.PATCH('/workflow-rules/{id}', { params: { path: { id: rule.id }, header: { 'If-Match': etag ?? `"${rule.version}"` } }, body }));
    } else {
      await ok(api.POST('/workflow-rules', { body }));
    }
    navigate('#/admin/rules');
  });
  const remove = async () => {
    if (!rule || !window.confirm(`Delete the rule “${rule.name}”?`)) return;
    try {
      await ok(api.DELETE('/workflow-rules/{id}', { params: { path: { id: rule.id } } }));
      navigate('#/admin/rules');
    } catch (err) {
      setError(asApiError(err));
    }
  };
  const moveAction = (i: number, d: number) =>
    setActions((list) => {
      const next = [...list];
      const [a] = next.splice(i, 1);
      next.splice(i + d, 0, a!);
      return next;
    });

  return (
    <>
      <Crumbs list="Workflow rules" listHref="#/admin/rules" here={rule ? rule.name : 'New rule'} />
      <PageHeader title={rule ? `Edit rule: ${rule.name}` : 'New workflow rule'} />
      <form onSubmit={submit} data-test="rule-form" aria-label="Workflow rule">
        <ErrorAlert error={error} shown={['name', 'trigger', 'position', 'conditions', 'actions']} />
        <div class="card">
          <div class="form-grid">
            <TextField label="Name" value={name} onValue={setName} required test="rule-name" error={fieldError(error, 'name')} />
            <SelectField label="When" value={trigger} onValue={(v) => setTrigger(v as Trigger)} options={TRIGGERS} test="rule-trigger" error={fieldError(error, 'trigger')} />
            <TextField label="Position" type="number" min={0} value={position} onValue={setPosition} hint="Lower runs first among rules with the same trigger." error={fieldError(error, 'position')} />
            <CheckField label="Enabled" checked={enabled} onChecked={setEnabled} test="rule-enabled" />
          </div>
        </div>
        <fieldset class="card" data-test="rule-conditions">
          <legend>Conditions</legend>
          {conditions.length > 1 ? (
            <SelectField
              label="Run when"
              value={match}
              onValue={(v) => setMatch(v as WorkflowRule['match'])}
              options={[
                { value: 'all', label: 'all conditions hold' },
                { value: 'any', label: 'any condition holds' },
              ]}
              test="rule-match"
            />
          ) : null}
          {conditions.length === 0 ? <p class="muted">No conditions: the rule runs every time {TRIGGERS.find((t) => t.value === trigger)?.label.toLowerCase()}.</p> : null}
          {conditions.map((c, i) => (
            <ConditionRow
              key={i}
              index={i}
              condition={c}
              error={fieldError(error, `conditions[${i}]`)}
              onChange={(next) => setConditions((l) => l.map((x, j) => (j === i ? next : x)))}
              onRemove={() => setConditions((l) => l.filter((_, j) => j !== i))}
            />
          ))}
          <button type="button" class="btn btn-sm" onClick={() => setConditions((l) => [...l, { field: 'priority', op: 'is', value: 'Urgent' }])} data-test="rule-add-condition">
            Add condition
          </button>
        </fieldset>
        <fieldset class="card" data-test="rule-actions">
          <legend>Actions, in order</legend>
          {fieldError(error, 'actions') && !/actions\[/.test(error?.field ?? '') ? <p class="field-error">{error!.message}</p> : null}
          {actions.map((a, i) => (
            <ActionRow
              key={`${i}-${a.action}`}
              index={i}
              count={actions.length}
              action={a}
              error={fieldError(error, `actions[${i}]`)}
              onChange={(next) => setActions((l) => l.map((x, j) => (j === i ? next : x)))}
              onRemove={() => setActions((l) => l.filter((_, j) => j !== i))}
              onMove={(d) => moveAction(i, d)}
            />
          ))}
          <button type="button" class="btn btn-sm" onClick={() => setActions((l) => [...l, blankAction('post_internal_note')])} data-test="rule-add-action">
            Add action
          </button>
        </fieldset>
        <FormActions busy={busy} save={rule ? 'Save rule' : 'Create rule'} test="rule-save" cancelHref="#/admin/rules">
          {rule ? (
            <button type="button" class="btn btn-danger" onClick={remove} data-test="rule-delete">
              Delete rule
            </button>
          ) : null}
        </FormActions>
      </form>
    </>
  );
}

function idOptions(field: Field, lists: { teams: Option[]; mailboxes: Option[]; users: Option[] }): Option[] | null {
  if (field === 'team_ids') return lists.teams;
  if (field === 'mailbox_id') return lists.mailboxes;
  if (field === 'assignee_id') return lists.users;
  return ENUMS[field] ?? null;
}

function ConditionRow({ index, condition, onChange, onRemove, error }: { index: number; condition: RuleCondition; onChange: (c: RuleCondition) => void; onRemove: () => void; error: string | null }) {
  const teamList = useList(teams);
  const mailboxList = useList(mailboxes);
  const userList = useList(users);
  const groupId = useId('cond');
  const { field, op } = condition;
  const ops = opsFor(field);
  const options = idOptions(field, {
    teams: (teamList ?? []).map((t) => ({ value: t.id, label: t.name })),
    mailboxes: (mailboxList ?? []).map((m) => ({ value: m.id, label: m.name })),
    users: (userList ?? []).map((u) => ({ value: u.id, label: u.name })),
  });
  const multi = op === 'in' || op === 'not_in';
  const noValue = op === 'is_set' || op === 'is_empty';
  const setField = (f: Field) => {
    const nextOp = opsFor(f).includes(op) ? op : opsFor(f)[0]!;
    onChange({ field: f, op: nextOp, value: defaultValue(f, nextOp) });
  };
  const setOp = (o: Op) => onChange({ field, op: o, value: o === 'is_set' || o === 'is_empty' ? undefined : sameShape(condition.value, o, field) });
  const values: string[] = Array.isArray(condition.value) ? (condition.value as string[]) : [];
  return (
    <div class="rule-row" data-test="rule-condition" role="group" aria-label={`Condition ${index + 1}`}>
      <SelectField label="Field" value={field} onValue={(v) => setField(v as Field)} options={FIELDS} />
      <SelectField label="Comparison" value={op} onValue={(v) => setOp(v as Op)} options={ops.map((o) => ({ value: o, label: OP_LABELS[o] }))} />
      {noValue ? null : field === 'internal' ? (
        <SelectField
          label="Value"
          value={String(condition.value === true)}
          onValue={(v) => onChange({ ...condition, value: v === 'true' })}
          options={[
            { value: 'true', label: 'Yes' },
            { value: 'false', label: 'No' },
          ]}
        />
      ) : field === 'account_id' ? (
        <div class="grow">
          <Picker
            label={multi ? 'Accounts' : 'Account'}
            cache={accounts}
            multiple={multi}
            value={multi ? values : typeof condition.value === 'string' && condition.value ? [condition.value] : []}
            onChange={(ids) => onChange({ ...condition, value: multi ? ids : (ids[0] ?? '') })}
            name={(a) => a.name}
          />
        </div>
      ) : options && multi ? (
        <fieldset class="grow" aria-labelledby={`${groupId}-l`}>
          <span class="field-label" id={`${groupId}-l`}>
            Values
          </span>
          <div class="checks">
            {options.map((o) => (
              <CheckField
                key={o.value}
                label={o.label}
                checked={values.includes(o.value)}
                onChecked={(on) => onChange({ ...condition, value: on ? [...values, o.value] : values.filter((v) => v !== o.value) })}
              />
            ))}
          </div>
        </fieldset>
      ) : options ? (
        <SelectField
          class="grow"
          label="Value"
          value={typeof condition.value === 'string' ? condition.value : ''}
          onValue={(v) => onChange({ ...condition, value: v })}
          options={[{ value: '', label: 'Choose…' }, ...options]}
        />
      ) : (
        <TextField
          class="grow"
          label={multi ? 'Values (comma-separated)' : 'Value'}
          value={multi ? values.join(', ') : typeof condition.value === 'string' ? condition.value : ''}
          onValue={(v) => onChange({ ...condition, value: multi ? v.split(',').map((s) => s.trim()).filter(Boolean) : v })}
        />
      )}
      <div class="row-actions">
        <button type="button" class="btn btn-sm btn-quiet" onClick={onRemove} aria-label={`Remove condition ${index + 1}`}>
          Remove
        </button>
      </div>
      {error ? <p class="field-error span-all">{error}</p> : null}
    </div>
  );
}

function defaultValue(field: Field, op: Op): unknown {
  if (op === 'is_set' || op === 'is_empty') return undefined;
  if (field === 'internal') return true;
  if (op === 'in' || op === 'not_in') return [];
  return ENUMS[field]?.[0]?.value ?? '';
}

function sameShape(value: unknown, op: Op, field: Field): unknown {
  const multi = op === 'in' || op === 'not_in';
  if (multi) return Array.isArray(value) ? value : typeof value === 'string' && value ? [value] : [];
  if (Array.isArray(value)) return value[0] ?? '';
  return value ?? defaultValue(field, op);
}

function ActionRow({
  index,
  count,
  action,
  onChange,
  onRemove,
  onMove,
  error,
}: {
  index: number;
  count: number;
  action: RuleAction;
  onChange: (a: RuleAction) => void;
  onRemove: () => void;
  onMove: (d: number) => void;
  error: string | null;
}) {
  const teamList = useList(teams);
  const mailboxList = useList(mailboxes);
  const userList = useList(users);
  const teamOptions = (teamList ?? []).map((t) => ({ value: t.id, label: t.name }));
  const userOptions = (userList ?? []).filter((u) => u.active).map((u) => ({ value: u.id, label: u.name }));
  return (
    <div class="rule-row" data-test="rule-action" role="group" aria-label={`Action ${index + 1}`}>
      <span class="step-no" aria-hidden="true">
        {index + 1}.
      </span>
      <SelectField label="Action" value={action.action} onValue={(v) => onChange(blankAction(v as ActionKind))} options={ACTIONS} test="rule-action-kind" />
      <ActionFields action={action} onChange={onChange} teamOptions={teamOptions} userOptions={userOptions} mailboxOptions={(mailboxList ?? []).map((m) => ({ value: m.id, label: m.name }))} />
      <div class="row-actions">
        <button type="button" class="icon-btn" disabled={index === 0} onClick={() => onMove(-1)} aria-label={`Move action ${index + 1} up`}>
          ↑
        </button>
        <button type="button" class="icon-btn" disabled={index === count - 1} onClick={() => onMove(1)} aria-label={`Move action ${index + 1} down`}>
          ↓
        </button>
        <button type="button" class="btn btn-sm btn-quiet" onClick={onRemove} disabled={count === 1} aria-label={`Remove action ${index + 1}`}>
          Remove
        </button>
      </div>
      {error ? <p class="field-error span-all">{error}</p> : null}
    </div>
  );
}

function ActionFields({
  action,
  onChange,
  teamOptions,
  userOptions,
  mailboxOptions,
}: {
  action: RuleAction;
  onChange: (a: RuleAction) => void;
  teamOptions: Option[];
  userOptions: Option[];
  mailboxOptions: Option[];
}) {
  const userList = useList(users);
  switch (action.action) {
    case 'assign_by_rule':
      return (
        <>
          <SelectField
            label="Team"
            value={action.team_id ?? ''}
            onValue={(v) => onChange({ ...action, team_id: v || null })}
            options={[{ value: '', label: "The case's mailbox or team" }, ...teamOptions]}
          />
          <SelectField
            label="Rule"
            value={action.rule ?? ''}
            onValue={(v) => onChange({ ...action, rule: (v || null) as typeof action.rule })}
            options={[{ value: '', label: "The team's or mailbox's" }, ...RULE_OPTIONS.slice(1)]}
          />
        </>
      );
    case 'assign_to_user':
      return <SelectField class="grow" label="User" value={action.user_id} onValue={(v) => onChange({ ...action, user_id: v })} options={[{ value: '', label: 'Choose…' }, ...userOptions]} />;
    case 'assign_to_team':
      return <SelectField class="grow" label="Team" value={action.team_id} onValue={(v) => onChange({ ...action, team_id: v })} options={[{ value: '', label: 'Choose…' }, ...teamOptions]} />;
    case 'link_mailbox':
      return <SelectField class="grow" label="Group mailbox" value={action.mailbox_id} onValue={(v) => onChange({ ...action, mailbox_id: v })} options={[{ value: '', label: 'Choose…' }, ...mailboxOptions]} />;
    case 'set_fields': {
      const f = action.fields as Record<string, unknown>;
      const set = (key: string, v: unknown) => {
        const next = { ...f };
        if (v === '' || v === undefined) delete next[key];
        else next[key] = v;
        onChange({ ...action, fields: next });
      };
      const keep = { value: '', label: 'Leave as is' };
      return (
        <>
          <SelectField label="Status" value={(f.status as string) ?? ''} onValue={(v) => set('status', v)} options={[keep, ...ENUMS.status!]} />
          <SelectField label="Priority" value={(f.priority as string) ?? ''} onValue={(v) => set('priority', v)} options={[keep, ...ENUMS.priority!]} />
          <TextField label="Type" value={(f.type as string) ?? ''} onValue={(v) => set('type', v)} placeholder="Leave as is" />
          <TextField label="Category" value={(f.category as string) ?? ''} onValue={(v) => set('category', v)} placeholder="Leave as is" />
          <SelectField
            label="Internal"
            value={f.internal === undefined ? '' : String(f.internal)}
            onValue={(v) => set('internal', v === '' ? undefined : v === 'true')}
            options={[keep, { value: 'true', label: 'Yes' }, { value: 'false', label: 'No' }]}
          />
        </>
      );
    }
    case 'add_followers':
    case 'notify_users':
      return (
        <>
          <div class="grow">
            <Picker
              label="Users"
              cache={users}
              multiple
              value={action.user_ids}
              onChange={(ids) => onChange({ ...action, user_ids: ids })}
              name={(u) => u.name}
              detail={(u) => u.email}
              fallback={(id) => userName(userList, id)}
            />
          </div>
          {action.action === 'notify_users' ? (
            <TextField class="grow" label="Message" value={action.message ?? ''} onValue={(v) => onChange({ ...action, message: v })} />
          ) : null}
        </>
      );
    case 'post_internal_note':
      return <TextArea class="grow" label="Note" rows={2} value={action.body} onValue={(v) => onChange({ ...action, body: v })} />;
    case 'create_case':
      return (
        <>
          <TextField class="grow" label="Subject" value={action.subject} onValue={(v) => onChange({ ...action, subject: v })} />
          <SelectField
            label="Priority"
            value={action.priority ?? ''}
            onValue={(v) => onChange({ ...action, priority: (v || null) as typeof action.priority })}
            options={[{ value: '', label: 'Default' }, ...ENUMS.priority!]}
          />
          <div class="grow">
            <Picker label="Teams" cache={teams} multiple value={action.team_ids ?? []} onChange={(ids) => onChange({ ...action, team_ids: ids })} name={(t) => t.name} />
          </div>
          <CheckField label="As a child of this case" checked={action.as_child ?? true} onChecked={(v) => onChange({ ...action, as_child: v })} />
          <TextArea class="span-all" label="Description" rows={2} value={action.description ?? ''} onValue={(v) => onChange({ ...action, description: v })} />
        </>
      );
    default:
      return <span class="muted grow">No settings.</span>;
  }
}
