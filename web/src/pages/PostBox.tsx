// Posting to a case: an internal note by default, or a public reply that can also be emailed to
// the customer; files by picker or drag-and-drop, uploaded first and posted by id.
import { useRef, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from '../api/client';
import type { StreamEntry } from '../api/types';
import { fileSize } from '../format';
import { useId } from '../hooks';
import { ErrorAlert, fieldError } from '../ui/controls';
import { useUploads } from '../uploads';

export function PostBox({ caseId, onPosted }: { caseId: string; onPosted: (entry: StreamEntry) => void }) {
  const [internal, setInternal] = useState(true);
  const [emailCustomer, setEmailCustomer] = useState(true);
  const [body, setBody] = useState('');
  const { uploads, add: addFiles, remove, clear, uploading, readyIds } = useUploads(caseId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [over, setOver] = useState(false);
  const id = useId('post');
  const fileInput = useRef<HTMLInputElement>(null);

  const canPost = !busy && !uploading && (body.trim().length > 0 || readyIds.length > 0);

  const submit = async (e?: Event) => {
    e?.preventDefault();
    if (!canPost) return;
    setBusy(true);
    setError(null);
    try {
      const entry = await ok(
        api.POST('/cases/{case_ref}/stream', {
          params: { path: { case_ref: caseId } },
          body: {
            body,
            internal,
            email_customer: !internal && emailCustomer,
            attachment_ids: readyIds,
          },
        }),
      );
      setBody('');
      clear();
      onPosted(entry);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class={`postbox ${internal ? 'is-internal' : 'is-public'}`}
      onSubmit={submit}
      aria-label="Post to the case"
      data-test="postbox"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (e.dataTransfer?.files.length) addFiles(e.dataTransfer.files);
      }}
    >
      <fieldset class="postbox-tabs" data-test="post-visibility">
        <legend class="sr-only">Visibility</legend>
        <label class={internal ? 'on' : ''}>
          <input type="radio" name={`${id}-vis`} checked={internal} onChange={() => setInternal(true)} data-test="post-internal" />
          Internal note
        </label>
        <label class={!internal ? 'on' : ''}>
          <input type="radio" name={`${id}-vis`} checked={!internal} onChange={() => setInternal(false)} data-test="post-public" />
          Public reply
        </label>
      </fieldset>
      <div class="postbox-body">
        <label for={`${id}-body`} class="sr-only">
          {internal ? 'Internal note' : 'Public reply'}
        </label>
        <textarea
          id={`${id}-body`}
          value={body}
          placeholder={internal ? 'Write an internal note (staff only)…' : 'Write a reply the customer can see…'}
          data-test="post-body"
          aria-invalid={fieldError(error, 'body') ? 'true' : undefined}
          aria-describedby={`${id}-hint`}
          onInput={(e) => setBody(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit();
          }}
        />
        <div class={`dropzone ${over ? 'over' : ''}`}>
          <label class="file-label">
            <input
              ref={fileInput}
              class="file-input"
              type="file"
              multiple
              data-test="post-files"
              onChange={(e) => {
                const files = e.currentTarget.files;
                if (files?.length) addFiles(files);
                e.currentTarget.value = '';
              }}
            />
            Attach files
          </label>
          <span>or drop them here</span>
          {uploads.length ? (
            <ul class="uploads" aria-label="Attachments" aria-live="polite">
              {uploads.map((u) => (
                <li key={u.key} class="chip" data-test="post-upload" data-state={u.state}>
                  <span>
                    {u.name} <span class="muted small">{fileSize(u.size)}</span>
                    {u.state === 'uploading' ? ' · uploading…' : u.state === 'failed' ? ` · failed: ${u.error}` : ''}
                  </span>
                  <button type="button" class="chip-remove" aria-label={`Remove ${u.name}`} onClick={() => remove(u.key)}>
                    ×
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      </div>
      <ErrorAlert error={error} />
      <div class="postbox-foot">
        <span class="post-hint" id={`${id}-hint`}>
          {internal ? 'Internal: only staff see this note; it is never sent to customers.' : 'Public: the customer can see this reply in the portal.'}
        </span>
        <span class="spacer" />
        {!internal ? (
          <div class="field check">
            <input id={`${id}-mail`} type="checkbox" checked={emailCustomer} onChange={(e) => setEmailCustomer(e.currentTarget.checked)} data-test="post-email-customer" />
            <label for={`${id}-mail`}>Email the customer</label>
          </div>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={!canPost} data-test="post-submit">
          {busy ? 'Posting…' : internal ? 'Add internal note' : emailCustomer ? 'Send reply' : 'Post reply'}
        </button>
      </div>
    </form>
  );
}
