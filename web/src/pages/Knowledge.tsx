// Knowledge base: articles (draft or published, visible in the portal or not), edited here and
// linked to cases.
import { useState } from 'preact/hooks';
import { api, asApiError, ok, tagged } from '../api/client';
import { type Article, isStaffArticle, isStaffCase } from '../api/types';
import { articles } from '../directory';
import { relativeTime } from '../format';
import { useAsync, useDebounced, useSave, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { Crumbs, PagePending, Badge, CheckField, ErrorAlert, fieldError, Notice, PageHeader, TextArea, TextField, Time } from '../ui/controls';
import { ListTable } from '../ui/Table';

export function Knowledge({ id }: { id?: string | undefined; query: URLSearchParams }) {
  if (!id) return <ArticleList />;
  return <ArticleEditor id={id} key={id} />;
}

function ArticleList() {
  useTitle('Knowledge base');
  const [q, setQ] = useState('');
  const debounced = useDebounced(q, 250);
  const list = useAsync(
    () => ok(api.GET('/articles', { params: { query: { limit: 100, q: debounced.trim() || undefined } } })).then((p) => p.items.filter(isStaffArticle)),
    [debounced],
  );
  return (
    <div class="page page-wide">
      <PageHeader title="Knowledge base" sub="Answers to link to cases and to publish in the customer portal.">
        <a class="btn btn-primary" href="#/kb/new" data-test="article-new">
          New article
        </a>
      </PageHeader>
      <form class="filters" role="search" aria-label="Search articles" onSubmit={(e) => e.preventDefault()}>
        <TextField class="f-search" label="Search titles" type="search" value={q} onValue={setQ} test="article-search" />
      </form>
      <ErrorAlert error={list.error} />
      <ListTable
        items={list.data}
        empty={<>No articles{q ? ' match' : ' yet'}.</>}
        test="article-table"
        columns={['Title', 'Status', 'Portal', { label: 'Updated', class: 'c-time' }]}
        row={(a) => (
          <tr key={a.id} data-test="article-row">
            <td>
              <a href={href(['kb', a.id])}>{a.title}</a>
            </td>
            <td>{a.status === 'published' ? <Badge kind="success">Published</Badge> : <Badge kind="warning">Draft</Badge>}</td>
            <td>{a.portal_visible ? 'Visible' : <span class="muted">Hidden</span>}</td>
            <td class="c-time">
              <Time at={a.updated_at} />
            </td>
          </tr>
        )}
      />
    </div>
  );
}

function ArticleEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useAsync(() => (isNew ? Promise.resolve(null) : tagged(api.GET('/articles/{article_id}', { params: { path: { article_id: id } } }))), [id]);
  if (loaded.error || loaded.loading) return <PagePending error={loaded.error} />;
  const data = loaded.data?.data;
  const article = data && isStaffArticle(data) ? data : null;
  return <ArticleForm article={article} etag={loaded.data?.etag ?? null} onSaved={() => loaded.reload()} />;
}

function ArticleForm({ article, etag, onSaved }: { article: Article | null; etag: string | null; onSaved: () => void }) {
  useTitle(article ? article.title : 'New article');
  const [title, setTitle] = useState(article?.title ?? '');
  const [body, setBody] = useState(article?.body ?? '');
  const [portal, setPortal] = useState(article?.portal_visible ?? false);
  const { busy, error, setError, save: run } = useSave({ conflict: 'This article was changed by someone else. Reload the page to see it before saving.' });
  const [saved, setSaved] = useState<string | null>(null);
  const [preview, setPreview] = useState(false);

  const save = (status?: Article['status']) =>
    run(async () => {
      setSaved(null);
      const fields = { title: title.trim(), body, portal_visible: portal, ...(status ? { status } : {}) };
      if (article) {
        await ok(api.PATCH('/articles/{article_id}', { params: { path: { article_id: article.id }, header: { 'If-Match': etag ?? `"${article.version}"` } }, body: fields }));
        articles.invalidate();
        setSaved(status === 'published' ? 'Published.' : status === 'draft' ? 'Moved back to draft.' : 'Saved.');
        onSaved();
      } else {
        const created = await ok(api.POST('/articles', { body: { ...fields, status: status ?? 'draft' } }));
        articles.invalidate();
        if (isStaffArticle(created)) navigate(href(['kb', created.id]), true);
      }
    });
  const remove = async () => {
    if (!article || !window.confirm(`Delete “${article.title}”?`)) return;
    try {
      await ok(api.DELETE('/articles/{article_id}', { params: { path: { article_id: article.id }, header: { 'If-Match': etag ?? `"${article.version}"` } } }));
      articles.invalidate();
      navigate('#/kb');
    } catch (err) {
      setError(asApiError(err));
    }
  };

  return (
    <div class="page" data-test="article-editor">
      <Crumbs list="Knowledge base" listHref="#/kb" here={article ? article.title : 'New article'} />
      <PageHeader
        title={article ? article.title : 'New article'}
        sub={article ? <>{article.status === 'published' ? <Badge kind="success">Published</Badge> : <Badge kind="warning">Draft</Badge>} Updated {relativeTime(article.updated_at)}</> : undefined}
      />
      <form
        class="card"
        aria-label="Article"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {saved ? <Notice kind="success" test="article-saved">{saved}</Notice> : null}
        <ErrorAlert error={error} shown={['title', 'body']} />
        <TextField label="Title" value={title} onValue={setTitle} required test="article-title" error={fieldError(error, 'title')} />
        <div class="card-head">
          <span class="field-label">Body</span>
          <button type="button" class="btn btn-sm btn-quiet" aria-pressed={preview ? 'true' : 'false'} onClick={() => setPreview(!preview)}>
            {preview ? 'Edit' : 'Preview'}
          </button>
        </div>
        {preview ? (
          // Article bodies are sanitised by the API when written.
          <div class="article-body description" dangerouslySetInnerHTML={{ __html: body }} />
        ) : (
          <TextArea label="Body (HTML)" rows={14} value={body} onValue={setBody} hint="Paragraphs, lists, links and emphasis; the server removes anything unsafe." test="article-body" error={fieldError(error, 'body')} />
        )}
        <CheckField label="Visible in the customer portal once published" checked={portal} onChecked={setPortal} test="article-portal" />
        <div class="form-actions">
          <button type="submit" class="btn" disabled={busy} data-test="article-save">
            {article ? 'Save' : 'Save draft'}
          </button>
          {article?.status !== 'published' ? (
            <button type="button" class="btn btn-primary" disabled={busy} onClick={() => void save('published')} data-test="article-publish">
              Publish
            </button>
          ) : (
            <button type="button" class="btn" disabled={busy} onClick={() => void save('draft')} data-test="article-unpublish">
              Unpublish
            </button>
          )}
          {article ? (
            <button type="button" class="btn btn-danger" onClick={remove} data-test="article-delete">
              Delete
            </button>
          ) : null}
        </div>
      </form>
      {article ? <LinkToCase article={article} /> : null}
    </div>
  );
}

function LinkToCase({ article }: { article: Article }) {
  const [ref, setRef] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ number: number; label: string } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const c = await ok(api.GET('/cases/{case_ref}', { params: { path: { case_ref: ref.trim() } } }));
      if (!isStaffCase(c)) throw new Error('not found');
      await ok(api.PUT('/cases/{case_ref}/articles/{article_id}', { params: { path: { case_ref: c.id, article_id: article.id } } }));
      setDone({ number: c.number, label: `${c.display_number} ${c.subject}` });
      setRef('');
    } catch (err) {
      const a = asApiError(err);
      setError(a.status === 404 ? `There is no case ${ref.trim()}.` : a.message);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="link-case-h" data-test="article-link-case">
      <h2 id="link-case-h">Link to a case</h2>
      {done ? (
        <Notice kind="success">
          Linked to <a href={href(['cases', done.number])}>{done.label}</a>.
        </Notice>
      ) : null}
      <div class="subject-edit">
        <TextField label="Case number" value={ref} onValue={setRef} required test="article-case-input" error={error} />
        <button type="submit" class="btn" data-test="article-case-link">
          Link
        </button>
      </div>
    </form>
  );
}
