// Opening a case from the portal: subject, description, what kind of request and how urgent,
// optional files. While the subject is typed, help articles whose titles match are suggested.
import { useEffect, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError, type Schemas } from '../api/client';
import { CASE_TYPES, PRIORITIES, type Priority } from '../api/types';
import { FileField } from './parts';
import { useDebounced, useId } from '../hooks';
import { href, navigate } from '../router';
import { ErrorAlert, fieldError, SelectField, TextArea, TextField } from '../ui/controls';
import { uploadFile } from '../uploads';
import { suggestionQueries } from './text';

type PortalArticle = Schemas['ArticleView'];

/** What was typed, kept while the customer reads a suggested article (within this page load). */
export const draft = { subject: '', description: '', type: '', priority: 'Normal' as Priority };

const TYPE_LABELS: Record<string, string> = {
  Question: 'A question',
  Incident: 'Something is not working',
  Problem: 'A recurring problem',
  Request: 'A request',
};

export function NewPortalCase() {
  const [subject, setSubject] = useState(draft.subject);
  const [description, setDescription] = useState(draft.description);
  const [type, setType] = useState(draft.type);
  const [priority, setPriority] = useState<Priority>(draft.priority);
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [subjectMissing, setSubjectMissing] = useState(false);
  const id = useId('new');
  useEffect(() => {
    Object.assign(draft, { subject, description, type, priority });
  }, [subject, description, type, priority]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!subject.trim()) {
      setSubjectMissing(true);
      return;
    }
    setBusy(true);
    setError(null);
    let created: Schemas['CaseView'];
    try {
      created = await ok(
        api.POST('/cases', {
          body: { subject: subject.trim(), description, priority, ...(type ? { type } : {}) },
        }),
      );
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
      return;
    }
    Object.assign(draft, { subject: '', description: '', type: '', priority: 'Normal' });
    let attachFailed = false;
    if (files.length) {
      try {
        const refs = await Promise.all(files.map((f) => uploadFile(created.id, f)));
        await ok(api.POST('/cases/{case_ref}/stream', { params: { path: { case_ref: created.id } }, body: { body: '', attachment_ids: refs.map((r) => r.id) } }));
      } catch {
        attachFailed = true;
      }
    }
    navigate(href(['cases', created.number], { attach: attachFailed ? 'failed' : null }));
  };

  const subjectError = subjectMissing && !subject.trim() ? 'Enter a subject: a few words about what you need.' : fieldError(error, 'subject');
  return (
    <div class="p-new">
      <h1 tabIndex={-1}>New case</h1>
      <form class="p-card" onSubmit={submit} aria-label="New case" noValidate>
        <ErrorAlert error={error} shown={['subject', 'description', 'type', 'priority']} />
        <TextField
          label="Subject"
          hint="A few words about what you need."
          value={subject}
          onValue={(v) => {
            setSubject(v);
            setSubjectMissing(false);
          }}
          required
          maxLength={300}
          test="portal-new-subject"
          error={subjectError}
        />
        <Suggestions subject={subject} />
        <TextArea
          label="Description"
          hint="What happened, what you expected, and anything that helps us reproduce it."
          rows={8}
          value={description}
          onValue={setDescription}
          test="portal-new-description"
          error={fieldError(error, 'description')}
        />
        <div class="p-row">
          <SelectField
            label="What is it?"
            value={type}
            onValue={setType}
            options={[{ value: '', label: 'Not sure' }, ...CASE_TYPES.map((t) => ({ value: t, label: TYPE_LABELS[t] ?? t }))]}
            error={fieldError(error, 'type')}
          />
          <SelectField
            label="How urgent is it?"
            value={priority}
            onValue={(v) => setPriority(v as Priority)}
            options={PRIORITIES.map((p) => ({ value: p, label: p }))}
            error={fieldError(error, 'priority')}
          />
        </div>
        <FileField
          id={`${id}-files`}
          test="portal-new-files"
          label="Files to attach"
          files={files.map((f, i) => ({ key: String(i), name: f.name, size: f.size }))}
          onFiles={(chosen) => setFiles((old) => [...old, ...Array.from(chosen)])}
          onRemove={(key) => setFiles((l) => l.filter((_, j) => String(j) !== key))}
        />
        <div class="p-actions">
          <button type="submit" class="btn btn-primary" disabled={busy} data-test="portal-new-submit">
            {busy ? 'Sending…' : 'Open case'}
          </button>
          <a class="btn btn-quiet" href="#/">
            Cancel
          </a>
        </div>
      </form>
    </div>
  );
}

/** Articles whose titles match the subject, once it has stopped changing for 300 ms. */
function Suggestions({ subject }: { subject: string }) {
  const settled = useDebounced(subject.trim(), 300);
  const [articles, setArticles] = useState<PortalArticle[]>([]);
  useEffect(() => {
    const queries = settled.length >= 3 ? suggestionQueries(settled) : [];
    if (queries.length === 0) {
      setArticles([]);
      return undefined;
    }
    let live = true;
    (async () => {
      for (const q of queries) {
        const page = await ok(api.GET('/articles', { params: { query: { q, limit: 5 } } }));
        if (!live) return;
        if (page.items.length) return setArticles(page.items);
      }
      return setArticles([]);
    })().catch(() => live && setArticles([]));
    return () => {
      live = false;
    };
  }, [settled]);
  return (
    <div aria-live="polite">
      {articles.length ? (
        <section class="p-suggest" aria-labelledby="suggest-h">
          <h2 id="suggest-h">Did this answer your question?</h2>
          <ul>
            {articles.map((a) => (
              <li key={a.id}>
                <a href={href(['kb', a.id])} data-test="portal-suggestion">
                  {a.title}
                </a>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
