// One case: its fields edited in place at the version read (If-Match; a 412 says someone else
// changed it and offers a reload, never overwriting), the stream with the post box, followers,
// linked articles and related cases. The case and its stream refresh while it is open.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, asApiError, ok, tagged, type ApiError } from '../api/client';
import { CASE_LIST_PARAMS } from '../api/features';
import { type Case, type CasePatch, CASE_TYPES, isStaffCase, PRIORITIES, STATUSES, type StreamEntry } from '../api/types';
import { accountById, accounts, contactById, contacts, mailboxes, teams, useList, userName, users, useRecord } from '../directory';
import { fullTime, relativeTime, sourceLabel, statusLabel } from '../format';
import { useInterval, useTitle } from '../hooks';
import { href } from '../router';
import { useSession } from '../session';
import { Crumbs, Badge, CheckField, ErrorAlert, fieldError, Loading, PriorityBadge, SelectField, StatusBadge, TextField } from '../ui/controls';
import { Picker } from '../ui/Picker';
import { CaseTable, fetchCases } from './CaseList';
import { PostBox } from './PostBox';
import { fetchStream, Stream } from './Stream';
import { CaseArticles, Followers, SlaPanel } from './CaseSide';

const POLL_MS = 10_000;

interface Conflict {
  what: string;
}

export function CaseView({ caseRef }: { caseRef: string }) {
  const [kase, setKase] = useState<Case | null>(null);
  // The ETag of the version shown. Edits go one after another, each with the ETag the previous
  // one returned, so two quick changes are not mistaken for someone else's.
  const etag = useRef<string | null>(null);
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [stale, setStale] = useState(false);
  const [entries, setEntries] = useState<StreamEntry[] | null>(null);
  const [streamNext, setStreamNext] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [streamError, setStreamError] = useState<ApiError | null>(null);
  const [, forceRender] = useState(0);
  useTitle(kase ? `${kase.display_number} ${kase.subject}` : `Case ${caseRef}`);

  const load = useCallback(async () => {
    try {
      const { data, etag: tag } = await tagged(api.GET('/cases/{case_ref}', { params: { path: { case_ref: caseRef } } }));
      if (!isStaffCase(data)) throw new Error('This case is not available in the agent console.');
      setKase(data);
      etag.current = tag ?? `"${data.version}"`;
      setConflict(null);
      setStale(false);
      setSaveError(null);
      setLoadError(null);
      return data;
    } catch (e) {
      setLoadError(asApiError(e));
      return null;
    }
  }, [caseRef]);

  const loadStream = useCallback(async (id: string) => {
    try {
      const page = await fetchStream(id);
      setEntries((old) => {
        if (!old) return page.items;
        const known = new Set(page.items.map((e) => e.id));
        // Keep the older entries already paged in below the refreshed first page.
        return [...page.items, ...old.filter((e) => !known.has(e.id) && e.created_at < (page.items[page.items.length - 1]?.created_at ?? ''))];
      });
      setStreamError(null);
    } catch (e) {
      setStreamError(asApiError(e));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // A layout effect: the requests leave as the view mounts, not a frame later after its first paint.
  useLayoutEffect(() => {
    // The case and its stream together: the stream takes the same reference (number or id), so
    // it need not wait for the case to name its id. A stream of a case that is not shown (not
    // found, not for the console) is dropped with it.
    const stream = fetchStream(caseRef);
    void load().then((c) => {
      if (!c) return;
      stream.then(
        (p) => {
          setEntries(p.items);
          setStreamNext(p.next);
        },
        (e) => setStreamError(asApiError(e)),
      );
    });
    stream.catch(() => undefined);
  }, [load, caseRef]);

  // Refresh while open: new stream entries appear; a newer version of the case is announced.
  useInterval(
    () => {
      if (!kase) return;
      void loadStream(kase.id);
      api.GET('/cases/{case_ref}', { params: { path: { case_ref: kase.id } } }).then(({ data }) => {
        if (!data || !isStaffCase(data)) return;
        if (data.version !== kase.version) {
          if (!saving) setStale(true);
        } else {
          // The same version: only the SLA clocks can differ (they are computed at each read and
          // move with time), so they are taken in place; nothing the agent is editing changes.
          setKase((old) => (old && old.version === data.version ? { ...old, sla: data.sla ?? null } : old));
        }
      }, () => undefined);
    },
    kase ? POLL_MS : null,
  );

  const send = async (caseId: string, patch: CasePatch, what: string): Promise<boolean> => {
    if (!etag.current) return false;
    setSaving(what);
    setSaveError(null);
    try {
      const { data, etag: tag } = await tagged(
        api.PATCH('/cases/{case_ref}', { params: { path: { case_ref: caseId }, header: { 'If-Match': etag.current } }, body: patch }),
      );
      if (isStaffCase(data)) {
        setKase(data);
        etag.current = tag ?? `"${data.version}"`;
      }
      // The change made system entries (status, assignee…): show them now.
      void loadStream(caseId);
      return true;
    } catch (e) {
      const err = asApiError(e);
      if (err.status === 412 || err.status === 409) setConflict({ what });
      else setSaveError(err);
      forceRender((n) => n + 1);
      return false;
    } finally {
      setSaving(null);
    }
  };
  const save = (patch: CasePatch, what: string): Promise<boolean> => {
    if (!kase) return Promise.resolve(false);
    const run = queue.current.then(() => send(kase.id, patch, what));
    queue.current = run.catch(() => undefined);
    return run;
  };

  if (loadError && !kase) {
    return (
      <div class="page">
        <p class="crumbs">
          <a href="#/cases">Cases</a>
        </p>
        <h1>Case {caseRef}</h1>
        <ErrorAlert error={loadError} />
      </div>
    );
  }
  if (!kase) return <div class="page"><Loading label="Loading case…" /></div>;

  return (
    <div class="page page-wide" data-test="case-view" data-case-number={kase.number}>
      <Crumbs list="Cases" listHref="#/cases" here={<span class="mono">{kase.display_number}</span>} />
      {conflict ? (
        <div class="alert alert-warning alert-row" role="alert" data-test="conflict">
          <span>
            <strong>This case was changed by someone else</strong> since you opened it, so your change ({conflict.what}) was not saved. Reload to see
            the current version, then make your change again.
          </span>
          <button type="button" class="btn btn-sm" onClick={() => void load()} data-test="conflict-reload">
            Reload
          </button>
        </div>
      ) : stale ? (
        <div class="alert alert-info alert-row" role="status" data-test="stale">
          <span>This case has been updated by someone else.</span>
          <button type="button" class="btn btn-sm" onClick={() => void load()} data-test="stale-reload">
            Reload
          </button>
        </div>
      ) : null}
      <CaseHeader kase={kase} save={save} saving={saving} error={saveError} />
      <div class="case-layout">
        <section aria-label="Conversation" class="case-main">
          {kase.description && !entries?.some((e) => e.kind === 'email_received' && e.body?.trim() === kase.description.trim()) ? (
            <div class="description" data-test="description" aria-label="Description">
              {kase.description}
            </div>
          ) : null}
          <PostBox
            caseId={kase.id}
            onPosted={(entry) => {
              setEntries((old) => [entry, ...(old ?? []).filter((e) => e.id !== entry.id)]);
            }}
          />
          <div class="stream-head">
            <h2>Stream</h2>
            <span class="muted small" aria-live="polite">
              {entries ? `${entries.length}${streamNext ? '+' : ''} ${entries.length === 1 && !streamNext ? 'entry' : 'entries'} · updates every ${POLL_MS / 1000} s` : ''}
            </span>
          </div>
          <ErrorAlert error={streamError} />
          {entries === null ? (
            <Loading label="Loading stream…" />
          ) : (
            <Stream
              caseId={kase.id}
              entries={entries}
              next={streamNext}
              loadingMore={loadingMore}
              onMore={async () => {
                if (!streamNext) return;
                setLoadingMore(true);
                try {
                  const p = await fetchStream(kase.id, streamNext);
                  setEntries((old) => [...(old ?? []), ...p.items.filter((e) => !(old ?? []).some((o) => o.id === e.id))]);
                  setStreamNext(p.next);
                } catch (e) {
                  setStreamError(asApiError(e));
                } finally {
                  setLoadingMore(false);
                }
              }}
            />
          )}
        </section>
        <aside class="side" aria-label="Case details">
          {/* First: what is due when is what an agent opening a case looks for. */}
          {kase.sla ? <SlaPanel sla={kase.sla} /> : null}
          <CaseFieldsCard kase={kase} save={save} saving={saving} error={saveError} />
          <Followers caseId={kase.id} version={kase.version} />
          <CaseArticles caseId={kase.id} onChange={() => void loadStream(kase.id)} />
          <RelatedCases kase={kase} save={save} error={saveError} />
        </aside>
      </div>
    </div>
  );
}

type Save = (patch: CasePatch, what: string) => Promise<boolean>;

function CaseHeader({ kase, save, saving, error }: { kase: Case; save: Save; saving: string | null; error: ApiError | null }) {
  const [editing, setEditing] = useState(false);
  const [subject, setSubject] = useState(kase.subject);
  const userList = useList(users);
  const editButton = useRef<HTMLButtonElement>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (subject.trim() === kase.subject) return setEditing(false);
    if (await save({ subject: subject.trim() }, `subject → “${subject.trim()}”`)) setEditing(false);
    return undefined;
  };
  return (
    <header class="case-head">
      <div class="case-title-row">
        {editing ? (
          <form class="subject-edit" onSubmit={submit}>
            <TextField
              label="Subject"
              value={subject}
              onValue={setSubject}
              test="subject-input"
              autoFocus
              required
              error={fieldError(error, 'subject')}
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  setEditing(false);
                  setSubject(kase.subject);
                }
              }}
            />
            <button type="submit" class="btn btn-primary" disabled={saving !== null} data-test="subject-save">
              Save
            </button>
            <button
              type="button"
              class="btn"
              onClick={() => {
                setEditing(false);
                setSubject(kase.subject);
                window.setTimeout(() => editButton.current?.focus(), 0);
              }}
            >
              Cancel
            </button>
          </form>
        ) : (
          <>
            <h1 class="case-title" data-test="case-subject">
              <span class="case-number">{kase.display_number}</span> {kase.subject || '(no subject)'}
            </h1>
            <button
              ref={editButton}
              type="button"
              class="btn btn-sm"
              onClick={() => {
                setSubject(kase.subject);
                setEditing(true);
              }}
              data-test="edit-subject"
            >
              Edit subject
            </button>
          </>
        )}
      </div>
      <div class="case-meta">
        <StatusBadge status={kase.status} />
        <PriorityBadge priority={kase.priority} />
        {kase.internal ? <Badge kind="internal">Internal case</Badge> : null}
        <span>Source: {sourceLabel(kase.source)}</span>
        <span title={fullTime(kase.created_at)}>
          Opened {relativeTime(kase.created_at)} by {kase.created_by === 'system' ? 'the system' : userName(userList, kase.created_by) || kase.created_by}
        </span>
        <span title={fullTime(kase.updated_at)}>Updated {relativeTime(kase.updated_at)}</span>
        {kase.pending_sender ? (
          <Badge kind="warning">
            <span data-test="pending-sender">Waiting for {kase.pending_sender.email} to confirm their address</span>
          </Badge>
        ) : null}
      </div>
    </header>
  );
}

function CaseFieldsCard({ kase, save, saving, error }: { kase: Case; save: Save; saving: string | null; error: ApiError | null }) {
  const { me } = useSession();
  const userList = useList(users);
  const mailboxList = useList(mailboxes);
  const primaryContact = useRecord(contactById, kase.contact_ids[0]);
  const account = useRecord(accountById, kase.account_id);
  const types = CASE_TYPES.includes(kase.type ?? '') || !kase.type ? CASE_TYPES : [kase.type, ...CASE_TYPES];
  const assignees = (userList ?? []).filter((u) => u.active || u.id === kase.assignee_id);
  const shown = ['status', 'priority', 'type', 'assignee_id', 'team_ids', 'account_id', 'contact_ids', 'mailbox_id', 'internal'];
  return (
    <section class="card" aria-labelledby="fields-h">
      <div class="card-head">
        <h2 id="fields-h">Details</h2>
        <span class="saving" role="status" aria-live="polite">
          {saving ? 'Saving…' : ''}
        </span>
      </div>
      <ErrorAlert error={error} shown={[...shown, 'subject', 'parent_id']} />
      <SelectField
        label="Status"
        value={kase.status}
        options={STATUSES.map((s) => ({ value: s, label: statusLabel(s) }))}
        onValue={(v) => void save({ status: v as Case['status'] }, `status → ${statusLabel(v as Case['status'])}`)}
        test="status"
        error={fieldError(error, 'status')}
      />
      <SelectField
        label="Priority"
        value={kase.priority}
        options={PRIORITIES.map((p) => ({ value: p, label: p }))}
        onValue={(v) => void save({ priority: v as Case['priority'] }, `priority → ${v}`)}
        test="priority"
        error={fieldError(error, 'priority')}
      />
      <SelectField
        label="Type"
        value={kase.type ?? ''}
        options={[{ value: '', label: '—' }, ...types.map((t) => ({ value: t, label: t }))]}
        onValue={(v) => void save({ type: v || null }, `type → ${v || 'none'}`)}
        test="type"
        error={fieldError(error, 'type')}
      />
      <SelectField
        label="Assignee"
        value={kase.assignee_id ?? ''}
        options={[
          { value: '', label: 'Unassigned' },
          ...assignees.map((u) => ({ value: u.id, label: u.id === me.id ? `${u.name} (me)` : u.name })),
        ]}
        onValue={(v) => void save({ assignee_id: v || null }, `assignee → ${v ? userName(userList, v) : 'nobody'}`)}
        test="assignee"
        error={fieldError(error, 'assignee_id')}
        hint={
          kase.assignee_id !== me.id ? (
            <button type="button" class="linklike" onClick={() => void save({ assignee_id: me.id }, 'assignee → me')} data-test="assign-me">
              Assign to me
            </button>
          ) : undefined
        }
      />
      <Picker
        label="Teams"
        cache={teams}
        multiple
        value={kase.team_ids}
        onChange={(ids) => void save({ team_ids: ids }, 'teams')}
        name={(t) => t.name}
        placeholder="Add a team…"
        test="teams"
        error={fieldError(error, 'team_ids')}
      />
      <Picker
        label="Account"
        cache={accounts}
        value={kase.account_id ? [kase.account_id] : []}
        onChange={(ids) => void save({ account_id: ids[0] ?? null }, 'account')}
        name={(a) => a.name}
        detail={(a) => a.email_domains.join(', ')}
        fallback={() => account?.name ?? '…'}
        placeholder="Find an account…"
        test="account"
        error={fieldError(error, 'account_id')}
      />
      <Picker
        label="Contacts (first is primary)"
        cache={contacts}
        multiple
        value={kase.contact_ids}
        onChange={(ids) => void save({ contact_ids: ids }, 'contacts')}
        name={(c) => c.name}
        detail={(c) => c.emails.join(', ')}
        fallback={(id) => (id === kase.contact_ids[0] && primaryContact ? primaryContact.name : (contactById.peek(id)?.name ?? '…'))}
        placeholder="Add a contact…"
        test="contacts"
        error={fieldError(error, 'contact_ids')}
      />
      <SelectField
        label="Group mailbox"
        value={kase.mailbox_id ?? ''}
        options={[{ value: '', label: 'None' }, ...(mailboxList ?? []).map((m) => ({ value: m.id, label: `${m.name} (${m.addresses[0] ?? ''})` }))]}
        onValue={(v) => void save({ mailbox_id: v || null }, 'mailbox')}
        test="mailbox"
        error={fieldError(error, 'mailbox_id')}
      />
      <CheckField
        label="Internal case (hidden from the portal)"
        checked={kase.internal}
        onChecked={(v) => void save({ internal: v }, v ? 'made internal' : 'made visible to the portal')}
        test="internal"
        error={fieldError(error, 'internal')}
      />
      {kase.contact_ids.length > 0 ? (
        <p class="small">
          <a href={href(['contacts', kase.contact_ids[0]!])}>Open primary contact</a>
          {kase.account_id ? (
            <>
              {' · '}
              <a href={href(['accounts', kase.account_id])}>Open account</a>
            </>
          ) : null}
        </p>
      ) : null}
    </section>
  );
}

function RelatedCases({ kase, save, error }: { kase: Case; save: Save; error: ApiError | null }) {
  const [parent, setParent] = useState<Case | null>(null);
  const [changing, setChanging] = useState(false);
  const [number, setNumber] = useState('');
  const [lookupError, setLookupError] = useState<string | null>(null);
  const [children, setChildren] = useState<Case[] | null>(null);
  const userList = useList(users);
  const teamList = useList(teams);
  const canListChildren = CASE_LIST_PARAMS.includes('parent_id');

  useEffect(() => {
    setParent(null);
    if (!kase.parent_id) return;
    api.GET('/cases/{case_ref}', { params: { path: { case_ref: kase.parent_id } } }).then(({ data }) => {
      if (data && isStaffCase(data)) setParent(data);
    }, () => undefined);
  }, [kase.parent_id]);

  useEffect(() => {
    if (!canListChildren) return;
    fetchCases({ parent_id: kase.id }, undefined, 20).then((p) => setChildren(p.items), () => setChildren([]));
  }, [kase.id, canListChildren]);

  const setTo = async (e: Event) => {
    e.preventDefault();
    setLookupError(null);
    const ref = number.trim();
    if (!ref) return;
    try {
      const found = await ok(api.GET('/cases/{case_ref}', { params: { path: { case_ref: ref } } }));
      if (!isStaffCase(found)) throw new Error('not found');
      if (found.id === kase.id) return setLookupError('A case cannot be its own parent.');
      if (await save({ parent_id: found.id }, `parent → ${found.display_number}`)) {
        setChanging(false);
        setNumber('');
      }
    } catch (err) {
      const a = asApiError(err);
      setLookupError(a.status === 404 ? `There is no case ${ref}.` : a.message);
    }
    return undefined;
  };

  return (
    <section class="card" aria-labelledby="related-h" data-test="related">
      <div class="card-head">
        <h2 id="related-h">Related cases</h2>
        <a class="btn btn-sm" href={href(['cases', 'new'], { parent: kase.id })} data-test="new-child">
          New child case
        </a>
      </div>
      <div class="field-label">Parent case</div>
      {kase.parent_id ? (
        <p data-test="parent">
          {parent ? (
            <a href={href(['cases', parent.number])}>
              <span class="mono">{parent.display_number}</span> {parent.subject}
            </a>
          ) : (
            '…'
          )}{' '}
          <button type="button" class="linklike small" onClick={() => void save({ parent_id: null }, 'parent removed')} data-test="parent-remove">
            Remove
          </button>
        </p>
      ) : !changing ? (
        <p class="muted">None</p>
      ) : null}
      {changing ? (
        <form onSubmit={setTo} class="subject-edit">
          <TextField label="Parent case number" value={number} onValue={setNumber} test="parent-input" error={lookupError ?? fieldError(error, 'parent_id')} />
          <button type="submit" class="btn btn-sm" data-test="parent-save">
            Set
          </button>
          <button type="button" class="btn btn-sm btn-quiet" onClick={() => setChanging(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button type="button" class="linklike small" onClick={() => setChanging(true)} data-test="parent-change">
          {kase.parent_id ? 'Change parent' : 'Set a parent case'}
        </button>
      )}
      {canListChildren ? (
        <>
          <div class="field-label">
            Child cases
          </div>
          {children === null ? <Loading /> : children.length === 0 ? <p class="muted">None</p> : <CaseTable items={children} users={userList} teams={teamList} compact />}
        </>
      ) : null}
    </section>
  );
}
