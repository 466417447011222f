// Users and teams.
import { useState } from 'preact/hooks';
import { api, asApiError, ok, tagged, type ApiError } from '../api/client';
import type { AssignmentRule, Team, User } from '../api/types';
import { teams, useList, users } from '../directory';
import { useSave } from '../hooks';
import { Badge, CheckField, EditCard, ErrorAlert, fieldError, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';
import { ACTIONS_COLUMN, ListTable } from '../ui/Table';
import { Picker } from '../ui/Picker';
import { useSession } from '../session';

export const RULE_OPTIONS = [
  { value: '', label: 'None (assign by hand)' },
  { value: 'round_robin', label: 'Round-robin' },
  { value: 'least_busy', label: 'Least busy' },
];

export function Users() {
  const list = useList(users);
  const teamList = useList(teams);
  const { me } = useSession();
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const toggle = async (u: User) => {
    setError(null);
    try {
      const { etag } = await tagged(api.GET('/users/{id}', { params: { path: { id: u.id } } }));
      const updated = await ok(api.PATCH('/users/{id}', { params: { path: { id: u.id }, header: { 'If-Match': etag ?? undefined } }, body: { active: !u.active } }));
      users.put(updated);
    } catch (e) {
      setError(asApiError(e));
    }
  };
  return (
    <>
      <PageHeader title="Users" sub="Agents and admins who sign in to this console.">
        <button type="button" class="btn btn-primary" onClick={() => setEditing('new')} data-test="user-new">
          New user
        </button>
      </PageHeader>
      {editing ? <UserForm user={editing === 'new' ? null : editing} onDone={() => setEditing(null)} /> : null}
      <ErrorAlert error={error} />
      <ListTable
        items={list}
        test="user-table"
        columns={['Name', 'Email', 'Role', 'Sees', 'Teams', 'Status', ACTIONS_COLUMN]}
        row={(u) => (
          <tr key={u.id} class={u.active ? '' : 'inactive'} data-test="user-row">
            <td>{u.name}{u.id === me.id ? ' (me)' : ''}</td>
            <td>{u.email}</td>
            <td>{u.role === 'admin' ? 'Admin' : 'Agent'}</td>
            <td>{u.scope === 'all' ? 'All cases' : u.scope === 'team' ? 'Team cases' : 'Own cases'}</td>
            <td>{u.team_ids.map((t) => teamList?.find((x) => x.id === t)?.name ?? '…').join(', ')}</td>
            <td>{u.active ? <Badge kind="success">Active</Badge> : <Badge kind="neutral">Inactive</Badge>}</td>
            <td class="c-actions">
              <button type="button" class="btn btn-sm" onClick={() => setEditing(u)} aria-label={`Edit ${u.name}`}>
                Edit
              </button>{' '}
              {u.id !== me.id ? (
                <button type="button" class="btn btn-sm" onClick={() => void toggle(u)} aria-label={`${u.active ? 'Deactivate' : 'Activate'} ${u.name}`} data-test="user-toggle">
                  {u.active ? 'Deactivate' : 'Activate'}
                </button>
              ) : null}
            </td>
          </tr>
        )}
      />
    </>
  );
}

function UserForm({ user, onDone }: { user: User | null; onDone: () => void }) {
  const [name, setName] = useState(user?.name ?? '');
  const [email, setEmail] = useState(user?.email ?? '');
  const [role, setRole] = useState<User['role']>(user?.role ?? 'agent');
  const [scope, setScope] = useState<User['scope']>(user?.scope ?? 'all');
  const [teamIds, setTeamIds] = useState<string[]>(user?.team_ids ?? []);
  const [active, setActive] = useState(user?.active ?? true);
  const [autoFollow, setAutoFollow] = useState(user?.preferences.auto_follow ?? false);
  const { busy, error, onSubmit } = useSave({ leaves: true });
  const submit = onSubmit(async () => {
    const body = { name: name.trim(), email: email.trim(), role, scope, team_ids: teamIds, active, preferences: { auto_follow: autoFollow } };
    let saved: User;
    if (user) {
      const { etag } = await tagged(api.GET('/users/{id}', { params: { path: { id: user.id } } }));
      saved = await ok(api.PATCH('/users/{id}', { params: { path: { id: user.id }, header: { 'If-Match': etag ?? undefined } }, body }));
    } else {
      saved = await ok(api.POST('/users', { body }));
    }
    users.put(saved);
    onDone();
  });
  return (
    <EditCard
      label={user ? `Edit ${user.name}` : 'New user'}
      title={user ? `Edit ${user.name}` : 'New user'}
      test="user-form"
      onSubmit={submit}
      error={error}
      shown={['name', 'email', 'role', 'scope', 'team_ids']}
      busy={busy}
      save={user ? 'Save' : 'Create user'}
      saveTest="user-save"
      onCancel={onDone}
    >
      <TextField label="Name" value={name} onValue={setName} required test="user-name" error={fieldError(error, 'name')} />
      <TextField label="Email" type="email" value={email} onValue={setEmail} required test="user-email" error={fieldError(error, 'email')} />
      <SelectField
        label="Role"
        value={role}
        onValue={(v) => setRole(v as User['role'])}
        options={[
          { value: 'agent', label: 'Agent' },
          { value: 'admin', label: 'Admin' },
        ]}
        test="user-role"
        error={fieldError(error, 'role')}
      />
      <SelectField
        label="Cases this user sees"
        value={scope}
        onValue={(v) => setScope(v as User['scope'])}
        options={[
          { value: 'all', label: 'All cases' },
          { value: 'team', label: "Their teams' cases" },
          { value: 'own', label: 'Only their own cases' },
        ]}
        test="user-scope"
        error={fieldError(error, 'scope')}
      />
      <Picker label="Teams" cache={teams} multiple value={teamIds} onChange={setTeamIds} name={(t) => t.name} placeholder="Add a team…" test="user-teams" error={fieldError(error, 'team_ids')} />
      <div>
        <CheckField label="Active (can sign in and be assigned)" checked={active} onChecked={setActive} test="user-active" />
        <CheckField label="Follow every new case" checked={autoFollow} onChecked={setAutoFollow} test="user-autofollow" />
      </div>
    </EditCard>
  );
}

export function Teams() {
  const list = useList(teams);
  const userList = useList(users);
  const [editing, setEditing] = useState<Team | 'new' | null>(null);
  return (
    <>
      <PageHeader title="Teams" sub="Members are the users whose teams include it.">
        <button type="button" class="btn btn-primary" onClick={() => setEditing('new')} data-test="team-new">
          New team
        </button>
      </PageHeader>
      {editing ? <TeamForm team={editing === 'new' ? null : editing} onDone={() => setEditing(null)} /> : null}
      <ListTable
        items={list}
        empty="No teams yet."
        test="team-table"
        columns={['Name', 'Description', 'Assignment', 'Members', ACTIONS_COLUMN]}
        row={(t) => (
          <tr key={t.id} data-test="team-row">
            <td>{t.name}</td>
            <td>{t.description}</td>
            <td>{RULE_OPTIONS.find((o) => o.value === (t.assignment_rule ?? ''))?.label}</td>
            <td>{(userList ?? []).filter((u) => u.team_ids.includes(t.id)).map((u) => u.name).join(', ') || <span class="muted">None</span>}</td>
            <td class="c-actions">
              <button type="button" class="btn btn-sm" onClick={() => setEditing(t)} aria-label={`Edit ${t.name}`}>
                Edit
              </button>
            </td>
          </tr>
        )}
      />
    </>
  );
}

function TeamForm({ team, onDone }: { team: Team | null; onDone: () => void }) {
  const [name, setName] = useState(team?.name ?? '');
  const [description, setDescription] = useState(team?.description ?? '');
  const [rule, setRule] = useState<string>(team?.assignment_rule ?? '');
  const { busy, error, onSubmit } = useSave({ leaves: true });
  const submit = onSubmit(async () => {
    const body = { name: name.trim(), description: description || null, assignment_rule: (rule || null) as AssignmentRule | null };
    let saved: Team;
    if (team) {
      const { etag } = await tagged(api.GET('/teams/{id}', { params: { path: { id: team.id } } }));
      saved = await ok(api.PATCH('/teams/{id}', { params: { path: { id: team.id }, header: { 'If-Match': etag ?? undefined } }, body }));
    } else {
      saved = await ok(api.POST('/teams', { body }));
    }
    teams.put(saved);
    onDone();
  });
  return (
    <EditCard
      label={team ? `Edit ${team.name}` : 'New team'}
      title={team ? `Edit ${team.name}` : 'New team'}
      test="team-form"
      onSubmit={submit}
      error={error}
      shown={['name', 'description', 'assignment_rule']}
      busy={busy}
      save={team ? 'Save' : 'Create team'}
      saveTest="team-save"
      onCancel={onDone}
    >
      <TextField label="Name" value={name} onValue={setName} required test="team-name" error={fieldError(error, 'name')} />
      <SelectField
        label="Assign new cases"
        value={rule}
        onValue={setRule}
        options={RULE_OPTIONS}
        test="team-rule"
        hint="Unassigned new cases of the team go to its active members."
        error={fieldError(error, 'assignment_rule')}
      />
      <TextArea class="span-2" label="Description" value={description} onValue={setDescription} rows={2} error={fieldError(error, 'description')} />
    </EditCard>
  );
}
