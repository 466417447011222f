import { useEffect, useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { api, asApiError, check, ok, rawFetch, type ApiError } from '../api/client';
import type { paths } from '../api/schema';
import { API_PATHS, CASE_LIST_PARAMS } from '../api/features';
import { type Case, isStaffCase, STATUSES, type Team, type User } from '../api/types';
import { accounts, teams, useList, userName, users, useRecord, accountById } from '../directory';
import { statusLabel } from '../format';
import { useDebounced, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { Empty, ErrorAlert, Loading, PageHeader, PriorityBadge, SelectField, StatusBadge, TextField, Time } from '../ui/controls';
import { LoadMore, Table } from '../ui/Table';
import { Picker } from '../ui/Picker';
import { DueCell, listHasSlaFilter, showDueColumn, SlaFilterSelect, slaQuery } from './CaseListSla';

const PAGE = 50;
const supports = (p: string) => CASE_LIST_PARAMS.includes(p);
const COUNTS_PATH = '/cases/counts';

/** The list's filters, as kept in the address (`#/cases?status=New&assignee=me`). */
interface Filters {
  status: string;
  /** "", "me", "none" or a user id. */
  assignee: string;
  team: string;
  account: string;
  contact: string;
  q: string;
  sort: string;
  /** SLA filter (`due`, `breached`; see CaseListSla.tsx). */
  sla: string;
}

function readFilters(q: URLSearchParams): Filters {
  return {
    status: q.get('status') ?? '',
    assignee: q.get('assignee') ?? '',
    team: q.get('team') ?? '',
    account: q.get('account') ?? '',
    contact: q.get('contact') ?? '',
    q: q.get('q') ?? '',
    sort: q.get('sort') ?? '',
    sla: listHasSlaFilter ? (q.get('sla') ?? '') : '',
  };
}

/** The API query for these filters: only parameters the API describes. */
export function caseQuery(f: Partial<Filters>, meId: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.status) out.status = f.status;
  if (f.assignee === 'me') out.assignee_id = meId;
  else if (f.assignee === 'none' && supports('unassigned')) out.unassigned = 'true';
  else if (f.assignee && f.assignee !== 'none') out.assignee_id = f.assignee;
  if (f.team) out.team_id = f.team;
  if (f.account) out.account_id = f.account;
  if (f.contact) out.contact_id = f.contact;
  if (f.q && supports('q')) out.q = f.q;
  if (f.sort && supports('sort')) out.sort = f.sort;
  Object.assign(out, slaQuery(f.sla ?? ''));
  return out;
}

type ListQuery = NonNullable<paths['/cases']['get']['parameters']['query']>;

export async function fetchCases(query: Record<string, string>, cursor?: string, limit = PAGE): Promise<{ items: Case[]; next: string | null }> {
  const q = { ...query, limit, cursor } as unknown as ListQuery;
  const page = await ok(api.GET('/cases', { params: { query: q } }));
  return { items: page.items.filter(isStaffCase), next: page.next_cursor ?? null };
}

export function CaseList({ query }: { query: URLSearchParams }) {
  useTitle('Cases');
  const { me } = useSession();
  const filters = readFilters(query);
  const [search, setSearch] = useState(filters.q);
  const debounced = useDebounced(search, 300);
  const userList = useList(users);
  const teamList = useList(teams);

  const set = (patch: Partial<Filters>) => {
    const next = { ...filters, ...patch };
    navigate(href(['cases'], next as unknown as Record<string, string>), true);
  };
  useEffect(() => {
    if (debounced !== filters.q) set({ q: debounced });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const apiQuery = useMemo(() => caseQuery(filters, me.id), [query.toString(), me.id]);
  const key = JSON.stringify(apiQuery);
  const [items, setItems] = useState<Case[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [counts, setCounts] = useState<Record<string, number> | null>(null);

  // A layout effect: the request leaves as the list mounts, not a frame later after its first paint.
  useLayoutEffect(() => {
    let live = true;
    setItems(null);
    setError(null);
    // The cases first, the counts after them: counting reads many more cases than a page, and on
    // a busy server it must not hold up the rows the agent came for.
    const loadCounts = () => {
      if (!live || !API_PATHS.includes(COUNTS_PATH)) return;
      const { status: _status, ...rest } = apiQuery;
      rawFetch(`${COUNTS_PATH}?${new URLSearchParams(rest).toString()}`)
        .then(check)
        .then((r) => r.json())
        .then((c: unknown) => live && setCounts(flattenCounts(c)))
        .catch(() => live && setCounts(null));
    };
    fetchCases(apiQuery).then(
      (p) => {
        if (!live) return;
        setItems(p.items);
        setNext(p.next);
        // After the rows have painted (the frame after this render), not during it.
        requestAnimationFrame(() => setTimeout(loadCounts, 0));
      },
      (e) => {
        if (live) setError(asApiError(e));
        loadCounts();
      },
    );
    return () => {
      live = false;
    };
  }, [key]);

  const more = () =>
    fetchCases(apiQuery, next ?? undefined).then(
      (p) => {
        setItems((old) => [...(old ?? []), ...p.items]);
        setNext(p.next);
      },
      (e) => setError(asApiError(e)),
    );

  const active = Object.entries(filters).some(([, v]) => v);
  const total = counts?.total;
  const statusOptions = [
    { value: '', label: `Any status${counts?.total !== undefined ? ` (${counts.total})` : ''}` },
    ...STATUSES.map((s) => ({ value: s, label: `${statusLabel(s)}${counts?.[s] !== undefined ? ` (${counts[s]})` : ''}` })),
  ];
  const assigneeOptions = [
    { value: '', label: 'Anyone' },
    { value: 'me', label: 'Me' },
    ...(supports('unassigned') ? [{ value: 'none', label: 'Unassigned' }] : []),
    ...(userList ?? []).filter((u) => u.id !== me.id).map((u) => ({ value: u.id, label: u.name })),
  ];

  return (
    <div class="page page-wide">
      <PageHeader
        title="Cases"
        sub={
          items
            ? `${total !== undefined ? total : items.length}${next && total === undefined ? '+' : ''} ${((total ?? items.length) === 1 ? 'case' : 'cases')}${active ? ' match these filters' : ''}`
            : undefined
        }
      />
      <div class="views" role="group" aria-label="Quick views">
        <QuickView label="My cases" current={filters.assignee === 'me' && !filters.status} to={{ assignee: 'me' }} test="view-mine" />
        {supports('unassigned') ? <QuickView label="Unassigned" current={filters.assignee === 'none' && !filters.status} to={{ assignee: 'none' }} test="view-unassigned" /> : null}
        <QuickView label="New" current={filters.status === 'New' && !filters.assignee} to={{ status: 'New' }} test="view-new" />
        <QuickView label="Pending" current={filters.status === 'Pending' && !filters.assignee} to={{ status: 'Pending' }} test="view-pending" />
        <QuickView label="All cases" current={!active} to={{}} test="view-all" />
      </div>
      <form class="filters" role="search" aria-label="Filter cases" onSubmit={(e) => e.preventDefault()}>
        {supports('q') ? (
          <TextField class="f-search" label="Search" type="search" placeholder="Number or subject" value={search} onValue={setSearch} test="filter-q" />
        ) : (
          <GoToCase />
        )}
        <SelectField label="Status" value={filters.status} onValue={(v) => set({ status: v })} options={statusOptions} test="filter-status" />
        <SelectField label="Assignee" value={filters.assignee} onValue={(v) => set({ assignee: v })} options={assigneeOptions} test="filter-assignee" />
        <SelectField
          label="Team"
          value={filters.team}
          onValue={(v) => set({ team: v })}
          options={[{ value: '', label: 'Any team' }, ...(teamList ?? []).map((t) => ({ value: t.id, label: t.name }))]}
          test="filter-team"
        />
        <div class="f-account">
          <Picker
            label="Account"
            cache={accounts}
            value={filters.account ? [filters.account] : []}
            onChange={(ids) => set({ account: ids[0] ?? '' })}
            name={(a) => a.name}
            detail={(a) => a.email_domains.join(', ')}
            placeholder="Any account"
            test="filter-account"
          />
        </div>
        <SlaFilterSelect value={filters.sla} onValue={(v) => set({ sla: v })} />
        {supports('sort') ? (
          <SelectField
            label="Sort by"
            value={filters.sort}
            onValue={(v) => set({ sort: v })}
            options={[
              { value: '', label: 'Default' },
              { value: 'updated', label: 'Last updated' },
              { value: 'created', label: 'Newest' },
              { value: 'priority', label: 'Priority' },
            ]}
            test="filter-sort"
          />
        ) : null}
        {active ? (
          <button type="button" class="btn btn-quiet f-clear" onClick={() => { setSearch(''); navigate('#/cases', true); }} data-test="filter-clear">
            Clear filters
          </button>
        ) : null}
      </form>
      {filters.contact ? <ContactFilterNote id={filters.contact} onClear={() => set({ contact: '' })} /> : null}
      <ErrorAlert error={error} />
      {items === null && !error ? <Loading label="Loading cases…" /> : null}
      {items && items.length === 0 ? <Empty>No cases{active ? ' match these filters' : ' yet'}.</Empty> : null}
      {items && items.length > 0 ? (
        <CaseTable items={items} users={userList} teams={teamList} />
      ) : null}
      {next ? <LoadMore load={more} test="load-more" /> : null}
    </div>
  );
}

/** Until the API can search, a case number (42, [#42], SR-42) opens that case. */
function GoToCase() {
  const [ref, setRef] = useState('');
  const [error, setError] = useState<string | null>(null);
  const go = async () => {
    const r = ref.trim();
    if (!r) return;
    setError(null);
    try {
      const c = await ok(api.GET('/cases/{case_ref}', { params: { path: { case_ref: r } } }));
      navigate(href(['cases', 'number' in c ? c.number : r]));
    } catch (e) {
      const a = asApiError(e);
      setError(a.status === 404 || a.status === 400 ? `No case ${r}` : a.message);
    }
  };
  return (
    <TextField
      class="f-search"
      label="Go to case"
      type="search"
      placeholder="Case number, then Enter"
      value={ref}
      onValue={setRef}
      error={error}
      test="goto-case"
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          void go();
        }
      }}
    />
  );
}

function QuickView({ label, current, to, test }: { label: string; current: boolean; to: Record<string, string>; test: string }) {
  return (
    <a class={`view ${current ? 'current' : ''}`} href={href(['cases'], to)} aria-current={current ? 'true' : undefined} data-test={test}>
      {label}
    </a>
  );
}

function ContactFilterNote({ id, onClear }: { id: string; onClear: () => void }) {
  return (
    <p class="filter-note">
      Showing cases of one contact.{' '}
      <button type="button" class="linklike" onClick={onClear}>
        Show all
      </button>
      <span class="sr-only">{id}</span>
    </p>
  );
}

/** Accepts `{total, by_status: {...}}`, `{counts: {...}}` or a flat object of numbers. */
function flattenCounts(c: unknown): Record<string, number> | null {
  if (!c || typeof c !== 'object') return null;
  const out: Record<string, number> = {};
  const take = (o: unknown) => {
    if (!o || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') out[k] = v;
      else if (v && typeof v === 'object') take(v);
    }
  };
  take(c);
  return Object.keys(out).length ? out : null;
}

export function CaseTable({ items, users: userList, teams: teamList, compact }: { items: Case[]; users: User[] | null; teams: Team[] | null; compact?: boolean }) {
  const due = !compact && showDueColumn(items);
  return (
    <Table
      test="case-table"
      class="cases"
      columns={[
        { label: 'Number', class: 'c-num' },
        'Subject',
        { label: 'Status', class: 'c-status' },
        { label: 'Priority', class: 'c-prio' },
        { label: 'Assignee', class: 'c-user' },
        compact ? null : { label: 'Team', class: 'c-team' },
        compact ? null : { label: 'Account', class: 'c-account' },
        due ? { label: 'Due', class: 'c-time' } : null,
        { label: 'Updated', class: 'c-time' },
      ]}
    >
      {items.map((c) => (
        <tr
          key={c.id}
          data-test="case-row"
          data-case-number={c.number}
          class={`row-${c.status}`}
          onClick={(e) => {
            if ((e.target as HTMLElement).closest('a, button')) return;
            navigate(href(['cases', c.number]));
          }}
        >
          <td class="c-num mono">{c.display_number}</td>
          <td class="c-subject">
            <a href={href(['cases', c.number])} data-test="case-link">
              {c.subject || '(no subject)'}
            </a>
            {c.internal ? <span class="badge badge-internal small">Internal</span> : null}
          </td>
          <td class="c-status">
            <StatusBadge status={c.status} />
          </td>
          <td class="c-prio">
            <PriorityBadge priority={c.priority} />
          </td>
          <td class="c-user">{c.assignee_id ? userName(userList, c.assignee_id) : <span class="muted">Unassigned</span>}</td>
          {!compact ? <td class="c-team">{c.team_ids.map((t) => teamList?.find((x) => x.id === t)?.name ?? '…').join(', ')}</td> : null}
          {!compact ? (
            <td class="c-account">
              <AccountName id={c.account_id ?? null} />
            </td>
          ) : null}
          {due ? (
            <td class="c-time">
              <DueCell kase={c} />
            </td>
          ) : null}
          <td class="c-time">
            <Time at={c.updated_at} />
          </td>
        </tr>
      ))}
    </Table>
  );
}

function AccountName({ id }: { id: string | null }) {
  const account = useRecord(accountById, id);
  if (!id) return null;
  return <>{account ? account.name : account === null ? 'Unknown' : '…'}</>;
}
