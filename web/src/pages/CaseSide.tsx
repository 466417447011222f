// The case view's side cards: SLA clocks, followers and linked knowledge-base articles.
import { useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from '../api/client';
import { type ClockView, isStaffArticle, type SlaView } from '../api/types';
import { articles, contactById, useList, userName, users, useRecord } from '../directory';
import { fullTime } from '../format';
import { useAsync } from '../hooks';
import { href } from '../router';
import { useSession } from '../session';
import { businessDuration, CLOCKS, remainingText } from '../sla';
import { Badge, ErrorAlert, Loading, Time } from '../ui/controls';
import { Picker } from '../ui/Picker';

export function Followers({ caseId, version }: { caseId: string; version: number }) {
  const { me } = useSession();
  const userList = useList(users);
  // Reloaded when the case changes: assigning it makes the assignee follow.
  const followers = useAsync(() => ok(api.GET('/cases/{case_ref}/followers', { params: { path: { case_ref: caseId } } })).then((p) => p.items), [caseId, version]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const following = followers.data?.some((f) => f.kind === 'user' && f.follower_id === me.id) ?? false;

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      followers.reload();
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const follow = (who: string) => run(() => ok(api.PUT('/cases/{case_ref}/followers/{follower_id}', { params: { path: { case_ref: caseId, follower_id: who } } })));
  const unfollow = (who: string) => run(() => ok(api.DELETE('/cases/{case_ref}/followers/{follower_id}', { params: { path: { case_ref: caseId, follower_id: who } } })));

  return (
    <section class="card" aria-labelledby="followers-h" data-test="followers">
      <div class="card-head">
        <h2 id="followers-h">Followers</h2>
        <button
          type="button"
          class={`btn btn-sm ${following ? '' : 'btn-primary'}`}
          aria-pressed={following ? 'true' : 'false'}
          disabled={busy || followers.data === undefined}
          onClick={() => void (following ? unfollow('me') : follow('me'))}
          data-test="follow"
          data-following={following ? 'true' : 'false'}
        >
          {following ? 'Unfollow' : 'Follow'}
        </button>
      </div>
      <ErrorAlert error={error ?? followers.error} />
      {followers.data === undefined ? (
        <Loading />
      ) : followers.data.length === 0 ? (
        <p class="muted">Nobody follows this case.</p>
      ) : (
        <ul class="plain-list" data-test="follower-list">
          {followers.data.map((f) => (
            <li key={`${f.kind}-${f.follower_id}`} data-test="follower">
              <span class="grow">
                {f.kind === 'user' ? userName(userList, f.follower_id) : <ContactName id={f.follower_id} />}
                {f.follower_id === me.id ? ' (me)' : ''}
              </span>
              {f.kind === 'contact' ? <Badge kind="neutral">Customer</Badge> : null}
              {f.follower_id !== me.id ? (
                <button type="button" class="icon-btn" onClick={() => void unfollow(f.follower_id)} aria-label={`Remove follower ${f.kind === 'user' ? userName(userList, f.follower_id) : 'contact'}`}>
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <Picker
        label="Add a follower"
        cache={users}
        value={[]}
        exclude={(followers.data ?? []).map((f) => f.follower_id)}
        onChange={(ids) => ids[0] && void follow(ids[0])}
        name={(u) => u.name}
        detail={(u) => u.email}
        placeholder="Add a colleague…"
        test="add-follower"
        hideLabel
      />
    </section>
  );
}

function ContactName({ id }: { id: string }) {
  const c = useRecord(contactById, id);
  return <>{c ? c.name : c === null ? 'Contact' : '…'}</>;
}

export function CaseArticles({ caseId, onChange }: { caseId: string; onChange: () => void }) {
  const linked = useAsync(
    () => ok(api.GET('/cases/{case_ref}/articles', { params: { path: { case_ref: caseId }, query: { limit: 100 } } })).then((p) => p.items.filter(isStaffArticle)),
    [caseId],
  );
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      linked.reload();
      onChange();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  const link = (id: string) => run(() => ok(api.PUT('/cases/{case_ref}/articles/{article_id}', { params: { path: { case_ref: caseId, article_id: id } } })));
  const unlink = (id: string) => run(() => ok(api.DELETE('/cases/{case_ref}/articles/{article_id}', { params: { path: { case_ref: caseId, article_id: id } } })));
  return (
    <section class="card" aria-labelledby="articles-h" data-test="case-articles">
      <h2 id="articles-h">Knowledge base</h2>
      <ErrorAlert error={error ?? linked.error} />
      {linked.data === undefined ? (
        <Loading />
      ) : linked.data.length === 0 ? (
        <p class="muted">No linked articles.</p>
      ) : (
        <ul class="plain-list">
          {linked.data.map((a) => (
            <li key={a.id} data-test="linked-article">
              <a class="grow" href={href(['kb', a.id])}>
                {a.title}
              </a>
              {a.status === 'draft' ? <Badge kind="warning">Draft</Badge> : null}
              <button type="button" class="icon-btn" onClick={() => void unlink(a.id)} aria-label={`Unlink ${a.title}`} data-test="unlink-article">
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <Picker
        label="Link an article"
        cache={articles}
        value={[]}
        exclude={(linked.data ?? []).map((a) => a.id)}
        onChange={(ids) => ids[0] && void link(ids[0])}
        name={(a) => a.title}
        detail={(a) => (a.status === 'draft' ? 'Draft' : 'Published')}
        placeholder="Search articles…"
        test="link-article"
        hideLabel
      />
    </section>
  );
}

/**
 * The case's SLA clocks as the API computed them (`sla` on the staff case): the agreement and,
 * per clock, its state, its due time in the viewer's time zone and the business time left or
 * overdue. A clock the API leaves out has no target at the case's priority (or, for the next
 * response, is not owed now), so it is not shown either.
 */
export function SlaPanel({ sla }: { sla: SlaView }) {
  const clocks = CLOCKS.flatMap((c) => {
    const clock = sla[c.key];
    return clock ? [{ ...c, clock }] : [];
  });
  return (
    <section class="card" aria-labelledby="sla-h" data-test="sla">
      <div class="card-head">
        <h2 id="sla-h">SLA</h2>
        <span class="muted small" data-test="sla-agreement">
          {sla.agreement_name}
        </span>
      </div>
      {clocks.length === 0 ? (
        <p class="muted">No targets at this priority.</p>
      ) : (
        <ul class="sla-clocks">
          {clocks.map(({ key, label, clock }) => (
            <Clock key={key} name={key} label={label} clock={clock} />
          ))}
        </ul>
      )}
    </section>
  );
}

const STATE_BADGES: Record<ClockView['state'], { text: string; kind: string }> = {
  running: { text: 'Running', kind: 'public' },
  paused: { text: 'Paused', kind: 'warning' },
  stopped: { text: 'Stopped', kind: 'neutral' },
  met: { text: 'Met', kind: 'success' },
};

function Clock({ name, label, clock }: { name: string; label: string; clock: ClockView }) {
  const state = STATE_BADGES[clock.state];
  const left = clock.remaining_business_minutes;
  return (
    <li class="sla-clock" data-test="sla-clock" data-clock={name} data-state={clock.state} data-breached={clock.breached ? 'true' : 'false'} data-warning={clock.warning ? 'true' : 'false'}>
      <div class="sla-clock-head">
        <span class="sla-clock-name">{label}</span>
        <Badge kind={state.kind}>{state.text}</Badge>
        {clock.breached ? <Badge kind="danger">Breached</Badge> : null}
        {clock.warning ? (
          <span data-test="sla-at-risk">
            <Badge kind="warning">At risk</Badge>
          </span>
        ) : null}
      </div>
      <div class="small">
        {clock.state === 'met' ? (
          <>
            Met {clock.met_at ? <Time at={clock.met_at} show={fullTime} /> : null}
            {left > 0 ? <span class="muted"> with {businessDuration(left)} to spare</span> : null}
          </>
        ) : (
          <>
            {clock.due_at ? (
              <>
                Due{' '}
                <span data-test="sla-due" data-due-at={clock.due_at}>
                  <Time at={clock.due_at} show={fullTime} />
                </span>
                {' · '}
              </>
            ) : null}
            <span class={`sla-left${left < 0 ? ' overdue' : ''}`} data-test="sla-left">
              {remainingText(left)}
            </span>
          </>
        )}
      </div>
      {clock.breached && clock.breached_at ? (
        <div class="small">
          Breached <Time at={clock.breached_at} show={fullTime} />
        </div>
      ) : null}
      <div class="small muted">
        {clock.state === 'paused' ? 'Paused while the case waits (Pending or Resolved); it runs on when the case is open again. ' : null}
        {clock.state === 'stopped' ? 'Stopped: the case is closed. ' : null}
        Target {businessDuration(clock.target_minutes)} of business time.
      </div>
    </li>
  );
}
