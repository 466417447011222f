// A case's stream: newest first, refreshed while the case is open; internal entries marked by a
// badge, a distinct background and the word "Internal"; system entries on one compact line.
import { useState } from 'preact/hooks';
import { api, asApiError, attachmentUrl, check, ok, rawFetch, type ApiError } from '../api/client';
import { API_PATHS } from '../api/features';
import type { AttachmentRef, StreamEntry, SystemEvent, User } from '../api/types';
import { articles, contactById, useList, userName, users, useRecord } from '../directory';
import { fileSize, fullTime, relativeTime, statusLabel } from '../format';
import { href, navigate } from '../router';
import { Badge, ErrorAlert } from '../ui/controls';

const HTML_PATH = '/cases/{case_ref}/stream/{entry_id}/html';
const canShowHtml = API_PATHS.includes(HTML_PATH);
const SPAWN_PATH = '/cases/{case_ref}/stream/{entry_id}/cases';
const canSpawn = API_PATHS.includes(SPAWN_PATH);

/** "New case from this": a child case for the same customer, quoting the entry; then opens it. */
function SpawnCase({ entry, caseId }: { entry: StreamEntry; caseId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // One key per entry and page: a double click or a retry opens one case, not two.
  const [key] = useState(() => `spawn-${entry.id}-${Date.now()}`);
  const spawn = async () => {
    setBusy(true);
    setError(null);
    try {
      const created = await ok(
        api.POST(SPAWN_PATH, { params: { path: { case_ref: caseId, entry_id: entry.id }, header: { 'Idempotency-Key': key } }, body: {} }),
      );
      navigate(href(['cases', 'number' in created ? created.number : '']));
    } catch (e) {
      setError(asApiError(e));
      setBusy(false);
    }
  };
  return (
    <div class="entry-foot flush">
      <button
        type="button"
        class="btn btn-sm"
        onClick={spawn}
        disabled={busy}
        data-test="spawn-case"
        title={entry.visibility === 'internal' ? 'Opens an internal case: customers will not see it' : 'Opens a case for the same customer, quoting this entry'}
      >
        {busy ? 'Opening…' : 'New case from this'}
      </button>
      <ErrorAlert error={error} />
    </div>
  );
}

export function Stream({
  caseId,
  entries,
  next,
  onMore,
  loadingMore,
}: {
  caseId: string;
  entries: StreamEntry[];
  next: string | null;
  onMore: () => void;
  loadingMore: boolean;
}) {
  const userList = useList(users);
  if (entries.length === 0) return <p class="empty">Nothing in the stream yet.</p>;
  return (
    <>
      <ol class="stream" aria-label="Stream, newest first" data-test="stream">
        {entries.map((e) =>
          e.kind === 'system' ? (
            <SystemLine key={e.id} entry={e} users={userList} />
          ) : (
            <Entry key={e.id} entry={e} caseId={caseId} users={userList} />
          ),
        )}
      </ol>
      {next ? (
        <div class="more">
          <button type="button" class="btn" onClick={onMore} disabled={loadingMore} data-test="stream-more">
            {loadingMore ? 'Loading…' : 'Show older entries'}
          </button>
        </div>
      ) : null}
    </>
  );
}

function AuthorName({ entry, users: userList }: { entry: StreamEntry; users: User[] | null }) {
  const { author } = entry;
  const contact = useRecord(contactById, author.kind === 'contact' ? author.id : null);
  switch (author.kind) {
    case 'user':
      return <>{author.id ? userName(userList, author.id) : 'Staff'}</>;
    case 'contact':
      return <>{contact ? contact.name : (entry.email?.from ?? 'Customer')}</>;
    case 'workflow':
      return <>Workflow</>;
    default:
      return <>{entry.email?.from ?? 'System'}</>;
  }
}

function kindLabel(e: StreamEntry): string {
  switch (e.kind) {
    case 'email_received':
      return 'Email received';
    case 'email_sent':
      return 'Email sent';
    default:
      return e.author.kind === 'contact' ? 'Customer post' : e.visibility === 'internal' ? 'Internal note' : 'Public reply';
  }
}

function Entry({ entry, caseId, users: userList }: { entry: StreamEntry; caseId: string; users: User[] | null }) {
  const internal = entry.visibility === 'internal';
  const mail = entry.email;
  return (
    <li class={`entry ${internal ? 'entry-internal' : 'entry-public'}`} data-test="stream-entry" data-kind={entry.kind} data-visibility={entry.visibility} data-entry-id={entry.id}>
      <article aria-label={`${kindLabel(entry)}, ${fullTime(entry.created_at)}`}>
        <div class="entry-head">
          <span class="entry-author">
            <AuthorName entry={entry} users={userList} />
          </span>
          <span class="entry-kind">{kindLabel(entry)}</span>
          {internal ? (
            <Badge kind="internal">
              <span data-test="badge-internal">Internal</span>
            </Badge>
          ) : (
            <Badge kind="public">Public</Badge>
          )}
          {entry.email_customer ? <Badge kind="neutral">Emailed to customer</Badge> : null}
          {mail?.unverified ? (
            <Badge kind="danger">
              <span title="The sender address belongs to staff, but the mail was not authenticated.">Unverified sender</span>
            </Badge>
          ) : null}
          <time class="entry-time" dateTime={entry.created_at} title={fullTime(entry.created_at)}>
            {relativeTime(entry.created_at)}
          </time>
        </div>
        {mail ? (
          <div class="entry-mail">
            {mail.from ? <span>From {mail.from}</span> : null}
            {mail.to.length ? <span>To {mail.to.join(', ')}</span> : null}
            {mail.cc.length ? <span>Cc {mail.cc.join(', ')}</span> : null}
            {mail.subject ? <span>Subject “{mail.subject}”</span> : null}
          </div>
        ) : null}
        {mail?.note ? <div class="entry-mail">{mail.note}</div> : null}
        {entry.body ? <div class="entry-body">{entry.body}</div> : null}
        {mail ? <MailExtras entry={entry} caseId={caseId} /> : null}
        {entry.attachments && entry.attachments.length > 0 ? (
          <div class="entry-foot">
            {entry.attachments.map((a) => (
              <AttachmentLink key={a.id} caseId={caseId} attachment={a} />
            ))}
          </div>
        ) : null}
        {canSpawn ? <SpawnCase entry={entry} caseId={caseId} /> : null}
      </article>
    </li>
  );
}

/** The message as received (sanitised HTML in a sandboxed frame) and its quoted history, folded. */
function MailExtras({ entry, caseId }: { entry: StreamEntry; caseId: string }) {
  const mail = entry.email!;
  const [html, setHtml] = useState<string | null>(null);
  const [showHtml, setShowHtml] = useState(false);
  const [showQuoted, setShowQuoted] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const hasHtml = canShowHtml && entry.kind === 'email_received' && !!mail.html_blob_key;
  const toggleHtml = async () => {
    if (showHtml) return setShowHtml(false);
    setShowHtml(true);
    if (html !== null) return undefined;
    try {
      const path = HTML_PATH.replace('{case_ref}', encodeURIComponent(caseId)).replace('{entry_id}', encodeURIComponent(entry.id));
      const r = await check(await rawFetch(path));
      setHtml(await r.text());
    } catch (e) {
      setError(asApiError(e));
    }
    return undefined;
  };
  if (!hasHtml && !mail.quoted_text) return null;
  return (
    <div class="mail-view">
      <div class="entry-foot flush">
        {hasHtml ? (
          <button type="button" class="btn btn-sm" aria-expanded={showHtml} onClick={toggleHtml} data-test="show-html">
            {showHtml ? 'Hide original message' : 'Show original message'}
          </button>
        ) : null}
        {mail.quoted_text ? (
          <button type="button" class="btn btn-sm" aria-expanded={showQuoted} onClick={() => setShowQuoted(!showQuoted)} data-test="show-quoted">
            {showQuoted ? 'Hide quoted history' : 'Show quoted history'}
          </button>
        ) : null}
      </div>
      <ErrorAlert error={error} />
      {showHtml && html !== null ? (
        <iframe class="mail-frame" sandbox="" srcdoc={html} title={`Original message: ${mail.subject || 'email'}`} data-test="mail-frame" referrerpolicy="no-referrer" />
      ) : null}
      {showQuoted && mail.quoted_text ? (
        <pre class="quoted" data-test="quoted">
          {mail.quoted_text}
        </pre>
      ) : null}
    </div>
  );
}

export function AttachmentLink({ caseId, attachment }: { caseId: string; attachment: AttachmentRef }) {
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    setError(null);
    try {
      location.assign(await attachmentUrl(caseId, attachment.id));
    } catch (e) {
      setError(asApiError(e).message);
    }
  };
  return (
    <span>
      <button type="button" class="attachment linklike" onClick={open} data-test="attachment" aria-label={`Download ${attachment.name}, ${fileSize(attachment.size)}`}>
        <span aria-hidden="true">📎</span> {attachment.name} <span class="muted small">{fileSize(attachment.size)}</span>
      </button>
      {error ? <span class="field-error"> {error}</span> : null}
    </span>
  );
}

function SystemLine({ entry, users: userList }: { entry: StreamEntry; users: User[] | null }) {
  return (
    <li class="entry-system" data-test="stream-entry" data-kind="system" data-visibility={entry.visibility} data-entry-id={entry.id}>
      <span>
        <strong>
          <AuthorName entry={entry} users={userList} />
        </strong>{' '}
        <SystemText event={entry.system ?? null} users={userList} />
      </span>
      {entry.visibility === 'internal' ? <Badge kind="internal">Internal</Badge> : null}
      <time class="entry-time" dateTime={entry.created_at} title={fullTime(entry.created_at)}>
        {relativeTime(entry.created_at)}
      </time>
    </li>
  );
}

function SystemText({ event, users: userList }: { event: SystemEvent | null; users: User[] | null }) {
  const articleList = useList(articles);
  if (!event) return <>recorded an event</>;
  const who = (id: string | null | undefined) => (id ? userName(userList, id) : 'nobody');
  switch (event.event) {
    case 'created':
      return <>created the case</>;
    case 'status_changed':
      return (
        <>
          changed the status from <strong>{statusLabel(event.from)}</strong> to <strong>{statusLabel(event.to)}</strong>
        </>
      );
    case 'assigned':
      return (
        <>
          {event.to ? (
            <>
              assigned the case to <strong>{who(event.to)}</strong>
            </>
          ) : (
            <>unassigned the case</>
          )}
          {event.from ? <> (was {who(event.from)})</> : null}
        </>
      );
    case 'priority_changed':
      return (
        <>
          changed the priority from <strong>{event.from}</strong> to <strong>{event.to}</strong>
        </>
      );
    case 'links_changed':
      return <>changed {event.fields.map((f) => f.replace(/_ids?$/, '').replace(/_/g, ' ')).join(', ')}</>;
    case 'made_internal':
      return <>made the case internal</>;
    case 'article_linked':
    case 'article_unlinked': {
      const title = articleList?.find((a) => a.id === event.article_id)?.title ?? 'an article';
      return (
        <>
          {event.event === 'article_linked' ? 'linked' : 'unlinked'} the article <strong>{title}</strong>
        </>
      );
    }
    case 'rule_ran':
      return (
        <>
          ran the rule <strong>{event.rule_name}</strong>
          {event.steps.length ? `: ${event.steps.join('; ')}` : ''}
        </>
      );
    case 'rules_stopped':
      return <>stopped rules that kept triggering each other</>;
    case 'rule_notice':
      return (
        <>
          notified {event.user_ids.map(who).join(', ')} (rule <strong>{event.rule_name}</strong>): {event.message}
        </>
      );
    case 'sender_confirmed':
      return <>confirmed the sender address {event.email}</>;
    default:
      return <>recorded an event</>;
  }
}

/** The first page of a case's stream. */
export async function fetchStream(caseId: string, cursor?: string): Promise<{ items: StreamEntry[]; next: string | null }> {
  const page = await ok(api.GET('/cases/{case_ref}/stream', { params: { path: { case_ref: caseId }, query: { limit: 50, cursor } } }));
  return { items: page.items, next: page.next_cursor ?? null };
}
