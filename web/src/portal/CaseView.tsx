// One of the customer's cases: its subject, status and description, the conversation (the API
// gives portal users public entries only; bodies are shown as text, never as HTML), a reply form
// with attachments, and "Close this case".
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiUrl, asApiError, attachmentUrl, ok, type ApiError } from '../api/client';
import type { AttachmentRef, StreamEntry } from '../api/types';
import { fileSize, fullTime, statusGroup, statusLabel } from '../format';
import { FileField } from './parts';
import { useId } from '../hooks';
import { ErrorAlert, Loading, Notice, Time } from '../ui/controls';
import { useUploads } from '../uploads';
import { authMode } from './auth';
import { StatusWord, type PortalCaseView as Case } from './Cases';
import { usePortalSession, type PortalSession } from './session';

const STREAM_PAGE = 30;

async function fetchStream(caseRef: string, cursor?: string): Promise<{ items: StreamEntry[]; next: string | null }> {
  const page = await ok(api.GET('/cases/{case_ref}/stream', { params: { path: { case_ref: caseRef }, query: { limit: STREAM_PAGE, cursor } } }));
  return { items: page.items, next: page.next_cursor ?? null };
}

export function PortalCaseView({ caseRef, notice }: { caseRef: string; notice: 'attach-failed' | null }) {
  const session = usePortalSession();
  const [kase, setKase] = useState<Case | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [entries, setEntries] = useState<StreamEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [streamError, setStreamError] = useState<ApiError | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [closing, setClosing] = useState(false);
  const [closeError, setCloseError] = useState<ApiError | null>(null);
  const [closedNow, setClosedNow] = useState(false);

  const refreshStream = async (ref: string) => {
    try {
      const page = await fetchStream(ref);
      setEntries((old) => {
        if (!old) return page.items;
        const known = new Set(page.items.map((e) => e.id));
        const oldest = page.items[page.items.length - 1]?.created_at ?? '';
        return [...page.items, ...old.filter((e) => !known.has(e.id) && e.created_at < oldest)];
      });
      setStreamError(null);
    } catch (e) {
      setStreamError(asApiError(e));
    }
  };

  useEffect(() => {
    // The case and its stream together; the stream of a case not shown is dropped with it.
    const stream = fetchStream(caseRef);
    stream.catch(() => undefined);
    ok(api.GET('/cases/{case_ref}', { params: { path: { case_ref: caseRef } } })).then(
      (c) => {
        setKase(c);
        stream.then(
          (p) => {
            setEntries(p.items);
            setNext(p.next);
          },
          (e) => setStreamError(asApiError(e)),
        );
      },
      (e) => {
        const err = asApiError(e);
        // Another customer's case is "not found" as much as a case that does not exist.
        if (err.status === 404 || err.status === 403) setNotFound(true);
        else setLoadError(err);
      },
    );
  }, [caseRef]);

  const reloadCase = async (id: string) => {
    try {
      setKase(await ok(api.GET('/cases/{case_ref}', { params: { path: { case_ref: id } } })));
    } catch {
      // The case shown stays; the next visit reads it again.
    }
  };

  // One wrapper whose first children are the same in every state, so the heading that takes the
  // focus on arrival stays the same element when the case has loaded.
  if (notFound || !kase) {
    return (
      <div class="p-case" data-test={notFound ? 'portal-not-found' : undefined}>
        <p class="p-crumbs">
          <a href="#/">My cases</a>
        </p>
        <h1 tabIndex={-1}>{notFound ? 'Case not found' : `Case ${caseRef}`}</h1>
        {notFound ? (
          <p>There is no case {caseRef} that you can see. Check the number, or go back to your cases.</p>
        ) : loadError ? (
          <ErrorAlert error={loadError} />
        ) : (
          <Loading label="Loading the case…" />
        )}
      </div>
    );
  }

  const final = statusGroup(kase.status) === 'final';
  const close = async () => {
    setClosing(true);
    setCloseError(null);
    try {
      const closed = await ok(api.POST('/cases/{case_ref}/close', { params: { path: { case_ref: kase.id } } }));
      setKase(closed);
      setClosedNow(true);
      void refreshStream(kase.id);
    } catch (e) {
      setCloseError(asApiError(e));
    } finally {
      setClosing(false);
    }
  };
  const more = async () => {
    if (!next) return;
    setLoadingMore(true);
    try {
      const page = await fetchStream(kase.id, next);
      setEntries((old) => [...(old ?? []), ...page.items.filter((e) => !old?.some((o) => o.id === e.id))]);
      setNext(page.next);
    } catch (e) {
      setStreamError(asApiError(e));
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div class="p-case">
      <p class="p-crumbs">
        <a href="#/">My cases</a>
      </p>
      <h1 tabIndex={-1} data-test="portal-case-title">
        <span class="p-case-num">{kase.display_number}</span> {kase.subject || '(no subject)'}
      </h1>
      <dl class="p-facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusWord status={kase.status} />
          </dd>
        </div>
        <div>
          <dt>Opened</dt>
          <dd>{fullTime(kase.created_at)}</dd>
        </div>
        <div>
          <dt>Last activity</dt>
          <dd>
            <Time at={kase.updated_at} />
          </dd>
        </div>
      </dl>
      {notice === 'attach-failed' ? (
        <Notice kind="warning">Your case was opened, but the files could not be attached. Please add them with a reply below.</Notice>
      ) : null}
      {closedNow ? <Notice kind="success">This case is now {statusLabel(kase.status).toLowerCase()}. Thank you!</Notice> : null}
      <section aria-labelledby="desc-h" class="p-card">
        <h2 id="desc-h">Description</h2>
        {kase.description ? <div class="p-text">{kase.description}</div> : <p class="p-muted">No description.</p>}
      </section>
      {!final ? (
        <div class="p-close">
          <ErrorAlert error={closeError} />
          <button type="button" class="btn" disabled={closing} onClick={() => void close()} data-test="portal-close-case">
            {closing ? 'Closing…' : 'Close this case'}
          </button>
          <span class="p-muted"> If your question is answered, you can close the case yourself.</span>
        </div>
      ) : null}
      {final ? (
        <p class="p-muted p-closed-note">
          This case is {statusLabel(kase.status).toLowerCase()}. If it is not solved after all, write a reply below and it is reopened
          {session.canCreate ? (
            <>
              ; for something new, <a href="#/new">open a new case</a>
            </>
          ) : null}
          .
        </p>
      ) : null}
      <Reply
        caseId={kase.id}
        onPosted={(entry) => {
          setEntries((old) => [entry, ...(old ?? []).filter((e) => e.id !== entry.id)]);
          void reloadCase(kase.id);
          void refreshStream(kase.id);
        }}
      />
      <section aria-labelledby="conv-h">
        <h2 id="conv-h">Conversation</h2>
        <ErrorAlert error={streamError} />
        {entries === null ? (
          streamError ? null : <Loading label="Loading the conversation…" />
        ) : entries.length === 0 ? (
          <p class="p-muted">No messages yet.</p>
        ) : (
          <ol class="p-stream" aria-label="Messages, newest first">
            {entries.map((e) => (
              <Entry key={e.id} entry={e} caseId={kase.id} session={session} />
            ))}
          </ol>
        )}
        {next ? (
          <div class="p-more">
            <button type="button" class="btn" disabled={loadingMore} onClick={() => void more()}>
              {loadingMore ? 'Loading…' : 'Show older messages'}
            </button>
          </div>
        ) : null}
      </section>
    </div>
  );
}

/** "You" for the customer's own entries, "Support" for staff and automatic ones. */
function authorWord(entry: StreamEntry, session: PortalSession): string {
  const { author } = entry;
  if (author.kind === 'contact') return !author.id || author.id === session.contact.id ? 'You' : 'Your colleague';
  return 'Support';
}

function systemText(entry: StreamEntry): string {
  const ev = entry.system;
  if (!ev) return 'The case was updated.';
  switch (ev.event) {
    case 'created':
      return 'The case was opened.';
    case 'status_changed':
      return `The status changed to ${statusLabel(ev.to)}.`;
    default:
      return 'The case was updated.';
  }
}

function Entry({ entry, caseId, session }: { entry: StreamEntry; caseId: string; session: PortalSession }) {
  const who = authorWord(entry, session);
  const system = entry.kind === 'system';
  const mine = who === 'You';
  return (
    <li class={`p-entry ${system ? 'p-entry-system' : mine ? 'p-entry-mine' : 'p-entry-support'}`} data-test="portal-entry" data-entry-id={entry.id}>
      <div class="p-entry-head">
        <strong class="p-entry-author">{system ? 'Update' : who}</strong>
        {entry.kind === 'email_received' || entry.kind === 'email_sent' ? <span class="p-muted"> by email</span> : null}
        <time class="p-entry-time" dateTime={entry.created_at}>
          {fullTime(entry.created_at)}
        </time>
      </div>
      <div class="p-text p-entry-body" data-test="portal-entry-body">
        {system ? systemText(entry) : entry.body || ''}
      </div>
      {entry.attachments && entry.attachments.length > 0 ? (
        <ul class="p-attachments" aria-label="Attachments">
          {entry.attachments.map((a) => (
            <li key={a.id}>
              <AttachmentLink caseId={caseId} attachment={a} />
            </li>
          ))}
        </ul>
      ) : null}
    </li>
  );
}

/**
 * A download link. Locally the session cookie authorises the plain link; on AWS the bearer token
 * cannot ride on a navigation, so a click asks for a short-lived presigned URL instead.
 */
function AttachmentLink({ caseId, attachment }: { caseId: string; attachment: AttachmentRef }) {
  const [error, setError] = useState<string | null>(null);
  const path = `/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(attachment.id)}`;
  return (
    <>
      <a
        class="p-attachment"
        href={apiUrl(path)}
        download={attachment.name}
        data-test="portal-attachment"
        onClick={async (e) => {
          if (authMode() !== 'cognito') return;
          e.preventDefault();
          setError(null);
          try {
            location.assign(await attachmentUrl(caseId, attachment.id));
          } catch (err) {
            setError(asApiError(err).message);
          }
        }}
      >
        {attachment.name} <span class="p-muted">({fileSize(attachment.size)})</span>
      </a>
      {error ? <span class="field-error"> {error}</span> : null}
    </>
  );
}

function Reply({ caseId, onPosted }: { caseId: string; onPosted: (entry: StreamEntry) => void }) {
  const { uploads, add, remove, clear, uploading, readyIds } = useUploads(caseId);
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [sent, setSent] = useState(false);
  const id = useId('reply');
  const area = useRef<HTMLTextAreaElement>(null);
  const canSend = !busy && !uploading && (body.trim().length > 0 || readyIds.length > 0);
  const bodyError = error?.field === 'body' ? error.message : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!canSend) return;
    setBusy(true);
    setError(null);
    setSent(false);
    try {
      const entry = await ok(api.POST('/cases/{case_ref}/stream', { params: { path: { case_ref: caseId } }, body: { body, attachment_ids: readyIds } }));
      setBody('');
      clear();
      setSent(true);
      onPosted(entry);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="p-card p-reply" onSubmit={submit} aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Reply</h2>
      {sent ? <Notice kind="success">Your reply was sent.</Notice> : null}
      <div class="field">
        <label for={`${id}-body`}>Your message</label>
        <textarea
          id={`${id}-body`}
          ref={area}
          rows={5}
          value={body}
          data-test="portal-reply-body"
          aria-invalid={bodyError ? 'true' : undefined}
          aria-describedby={bodyError ? `${id}-body-err` : undefined}
          onInput={(e) => {
            setBody(e.currentTarget.value);
            setSent(false);
          }}
        />
        {bodyError ? (
          <div class="field-error" id={`${id}-body-err`}>
            {bodyError}
          </div>
        ) : null}
      </div>
      <FileField
        id={`${id}-files`}
        test="portal-reply-file"
        label="Files to send"
        files={uploads.map((u) => ({
          key: u.key,
          name: u.name,
          size: u.size,
          note: u.state === 'uploading' ? 'uploading…' : u.state === 'failed' ? `failed: ${u.error}` : undefined,
        }))}
        onFiles={add}
        onRemove={remove}
      />
      <ErrorAlert error={error} shown={['body']} />
      <button type="submit" class="btn btn-primary" disabled={!canSend} data-test="portal-reply-submit">
        {busy ? 'Sending…' : uploading ? 'Uploading…' : 'Send reply'}
      </button>
    </form>
  );
}
